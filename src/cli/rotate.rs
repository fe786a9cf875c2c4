//! `enseal rotate` (and legacy `-r`): a new data key, every value
//! re-encrypted, optionally with keys added (`--add-*`, to the first group)
//! or removed (`--rm-*`, from every group).

use clap::Args;

use super::decrypt::key_context;
use super::decrypt::load_encrypted;
use super::io::{
    check_output_flags, kinds, read_input, store_options, write_output, ConfigContext,
};
use super::IoArgs;
use crate::document::{self, EncryptSettings};
use crate::error::{Error, Result};
use crate::keys::age::parse_recipient_list;
use crate::keys::changes;
use crate::keys::MasterKey;

/// Keys to add to or remove from a file (`rotate`, legacy `-r`).
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct ChangeKeyArgs {
    /// Comma-separated age recipients to add (to the first key group).
    #[arg(long, value_name = "RECIPIENTS")]
    pub add_age: Option<String>,
    /// Comma-separated age recipients to remove (from every key group).
    #[arg(long, value_name = "RECIPIENTS")]
    pub rm_age: Option<String>,
    /// AWS KMS ARNs to add (not supported yet).
    #[arg(long, value_name = "ARNS")]
    pub add_kms: Option<String>,
    /// AWS KMS ARNs to remove.
    #[arg(long, value_name = "ARNS")]
    pub rm_kms: Option<String>,
    /// GCP KMS resource ids to add (not supported yet).
    #[arg(long, value_name = "IDS")]
    pub add_gcp_kms: Option<String>,
    /// GCP KMS resource ids to remove.
    #[arg(long, value_name = "IDS")]
    pub rm_gcp_kms: Option<String>,
    /// HuaweiCloud KMS key ids to add (not supported yet).
    #[arg(long, value_name = "IDS")]
    pub add_hckms: Option<String>,
    /// HuaweiCloud KMS key ids to remove.
    #[arg(long, value_name = "IDS")]
    pub rm_hckms: Option<String>,
    /// Azure Key Vault key URLs to add (not supported yet).
    #[arg(long, value_name = "URLS")]
    pub add_azure_kv: Option<String>,
    /// Azure Key Vault key URLs to remove.
    #[arg(long, value_name = "URLS")]
    pub rm_azure_kv: Option<String>,
    /// Vault transit key URIs to add (not supported yet).
    #[arg(long, value_name = "URIS")]
    pub add_hc_vault_transit: Option<String>,
    /// Vault transit key URIs to remove.
    #[arg(long, value_name = "URIS")]
    pub rm_hc_vault_transit: Option<String>,
    /// PGP fingerprints to add (not supported yet).
    #[arg(long, value_name = "FPS")]
    pub add_pgp: Option<String>,
    /// PGP fingerprints to remove.
    #[arg(long, value_name = "FPS")]
    pub rm_pgp: Option<String>,
}

impl ChangeKeyArgs {
    fn unsupported(&self) -> [(&'static str, &Option<String>); 12] {
        [
            ("--add-kms", &self.add_kms),
            ("--rm-kms", &self.rm_kms),
            ("--add-gcp-kms", &self.add_gcp_kms),
            ("--rm-gcp-kms", &self.rm_gcp_kms),
            ("--add-hckms", &self.add_hckms),
            ("--rm-hckms", &self.rm_hckms),
            ("--add-azure-kv", &self.add_azure_kv),
            ("--rm-azure-kv", &self.rm_azure_kv),
            ("--add-hc-vault-transit", &self.add_hc_vault_transit),
            ("--rm-hc-vault-transit", &self.rm_hc_vault_transit),
            ("--add-pgp", &self.add_pgp),
            ("--rm-pgp", &self.rm_pgp),
        ]
    }

    /// True when any add/remove flag is given with a non-empty value.
    pub fn any(&self) -> bool {
        let given = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        given(&self.add_age)
            || given(&self.rm_age)
            || self.unsupported().iter().any(|(_, v)| given(v))
    }

    /// The age keys to add and the key strings to remove. Keys of other
    /// types can be removed (matched by their string form: ARN,
    /// fingerprint, resource id, key URL, key id) but not added.
    fn parse(&self) -> Result<(Vec<MasterKey>, Vec<String>)> {
        let mut remove_other = Vec::new();
        for (name, value) in self.unsupported() {
            let Some(value) = value.as_deref().filter(|v| !v.trim().is_empty()) else {
                continue;
            };
            if name.starts_with("--add-") {
                return Err(Error::Key(format!(
                    "{name}: this key type is not supported by enseal yet (only age)"
                )));
            }
            // sops removes all spaces from KMS, PGP and GCP lists, and
            // trims the others.
            let spaceless = matches!(name, "--rm-kms" | "--rm-pgp" | "--rm-gcp-kms");
            remove_other.extend(
                value
                    .split(',')
                    .map(|k| {
                        if spaceless {
                            k.chars().filter(|c| !c.is_whitespace()).collect()
                        } else {
                            k.trim().to_string()
                        }
                    })
                    .filter(|k: &String| !k.is_empty()),
            );
        }
        let add = parse_recipient_list(self.add_age.as_deref().unwrap_or(""))
            .map_err(Error::Key)?
            .into_iter()
            .map(MasterKey::Age)
            .collect();
        let remove = parse_recipient_list(self.rm_age.as_deref().unwrap_or(""))
            .map_err(Error::Key)?
            .into_iter()
            .map(|k| k.recipient)
            .chain(remove_other)
            .collect();
        Ok((add, remove))
    }
}

/// Runs `rotate` on `file`, writing to stdout, `--output` or in place.
pub(crate) fn run(
    file: Option<&str>,
    io: &IoArgs,
    change: &ChangeKeyArgs,
    decryption_order: Option<&str>,
    config_path: Option<&str>,
) -> Result<()> {
    run_preserving(file, io, change, decryption_order, config_path, false)
}

/// `rotate`, keeping the file's layout when `preserve_flag`
/// (`--preserve-format`) or the config asks for it.
pub(crate) fn run_preserving(
    file: Option<&str>,
    io: &IoArgs,
    change: &ChangeKeyArgs,
    decryption_order: Option<&str>,
    config_path: Option<&str>,
    preserve_flag: bool,
) -> Result<()> {
    check_output_flags(io)?;
    let Some(file) = file.filter(|f| !f.is_empty()) else {
        return Err(Error::NoFileSpecified);
    };
    if !std::path::Path::new(file).exists() && !matches!(file, "-" | "/dev/stdin") {
        let abs = std::path::absolute(file).unwrap_or_else(|_| file.into());
        if change.any() {
            return Err(Error::CannotChangeKeysOfMissingFile(abs));
        }
        return Err(Error::ReadInput {
            path: file.to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
        });
    }
    let (add, remove) = change.parse()?;
    let mut keys = key_context(decryption_order)?;
    let context = ConfigContext::load(config_path)?;
    let stores = context.stores();
    let input = read_input(Some(file), io)?;
    let (in_kind, out_kind) = kinds(io, &input.type_path);
    let preserve = super::encrypt::preserve_mode(preserve_flag, &context, in_kind, out_kind)?;
    let options = store_options(io, out_kind, stores, true)?;
    let in_store = in_kind.store(&options);
    let out_store = out_kind.store(&options);
    let encrypted = load_encrypted(in_store.as_ref(), &input.bytes, &input.name)?;
    let old = encrypted.metadata.clone();
    let old_documents = if preserve {
        encrypted.documents.clone()
    } else {
        Vec::new()
    };

    let mut groups = old.key_groups.clone();
    changes::add_to_first_group(&mut groups, add);
    changes::remove_keys(&mut groups, &remove);
    check_groups(&groups, old.shamir_threshold).map_err(|e| e.in_file(&input.name))?;

    let decrypted = encrypted.decrypt(&mut keys, false).map_err(|e| match e {
        Error::RetrieveKey(_) => e,
        other => other.in_file(&input.name),
    })?;
    for warning in &decrypted.warnings {
        eprintln!("warning: {}: {warning}", input.name);
    }
    let settings = EncryptSettings {
        key_groups: groups,
        shamir_threshold: old.shamir_threshold,
        rule: Some(old.effective_rule()),
        mac_only_encrypted: old.mac_only_encrypted,
        binary: false,
    };
    let plain = if preserve {
        decrypted.documents.clone()
    } else {
        Vec::new()
    };
    let mut rotated =
        document::encrypt(decrypted.documents, settings).map_err(|e| e.in_file(&input.name))?;
    // What the file records stays as it was, except keys, MAC and date.
    rotated.metadata.rule = old.rule.clone();
    rotated.metadata.version = old.version.clone();
    rotated.metadata.shamir_threshold =
        changes::recorded_threshold(rotated.metadata.key_groups.len(), old.shamir_threshold);
    let bytes = if preserve {
        super::encrypt::preserve_rewrite(
            in_kind,
            &input.bytes,
            &input.name,
            &old_documents,
            &plain,
            &rotated,
        )?
    } else {
        out_store
            .emit_encrypted(&rotated.documents, &rotated.metadata.to_map())
            .map_err(|e| Error::Dump(e.to_string()))?
    };
    write_output(io, &input, &bytes)
}

/// The new key groups must all be usable for wrapping a data key.
fn check_groups(groups: &[crate::keys::KeyGroup], threshold: usize) -> Result<()> {
    if let Some(i) = groups.iter().position(Vec::is_empty) {
        return Err(Error::Key(format!(
            "key group {i} would have no keys left: a group needs at least one key"
        )));
    }
    changes::check_wrappable(groups).map_err(|e| {
        Error::Key(format!(
            "cannot rotate the data key: {e}; only files whose keys are all age keys can be rotated"
        ))
    })?;
    changes::check_threshold(groups.len(), threshold).map_err(Error::Key)
}

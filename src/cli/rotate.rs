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
use crate::keys::{self, changes, MasterKey};

/// Keys to add to or remove from a file (`rotate`, legacy `-r`).
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct ChangeKeyArgs {
    /// Comma-separated age recipients to add (to the first key group).
    #[arg(long, value_name = "RECIPIENTS")]
    pub add_age: Option<String>,
    /// Comma-separated age recipients to remove (from every key group).
    #[arg(long, value_name = "RECIPIENTS")]
    pub rm_age: Option<String>,
    /// AWS KMS ARNs to add (to the first key group).
    #[arg(long, value_name = "ARNS")]
    pub add_kms: Option<String>,
    /// AWS KMS ARNs to remove.
    #[arg(long, value_name = "ARNS")]
    pub rm_kms: Option<String>,
    /// GCP KMS resource ids to add (to the first key group).
    #[arg(long, value_name = "IDS")]
    pub add_gcp_kms: Option<String>,
    /// GCP KMS resource ids to remove.
    #[arg(long, value_name = "IDS")]
    pub rm_gcp_kms: Option<String>,
    /// HuaweiCloud KMS key ids to add (refused: not supported by enseal).
    #[arg(long, value_name = "IDS")]
    pub add_hckms: Option<String>,
    /// HuaweiCloud KMS key ids to remove.
    #[arg(long, value_name = "IDS")]
    pub rm_hckms: Option<String>,
    /// Azure Key Vault key URLs to add (to the first key group).
    #[arg(long, value_name = "URLS")]
    pub add_azure_kv: Option<String>,
    /// Azure Key Vault key URLs to remove.
    #[arg(long, value_name = "URLS")]
    pub rm_azure_kv: Option<String>,
    /// Vault transit key URIs to add (to the first key group).
    #[arg(long, value_name = "URIS")]
    pub add_hc_vault_transit: Option<String>,
    /// Vault transit key URIs to remove.
    #[arg(long, value_name = "URIS")]
    pub rm_hc_vault_transit: Option<String>,
    /// PGP fingerprints to add (to the first key group).
    #[arg(long, value_name = "FPS")]
    pub add_pgp: Option<String>,
    /// PGP fingerprints to remove.
    #[arg(long, value_name = "FPS")]
    pub rm_pgp: Option<String>,
}

/// The KMS settings of `--add-kms` keys.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct KmsOptions<'a> {
    /// `--encryption-context`.
    pub context: Option<&'a str>,
    /// `--aws-profile` (legacy mode only).
    pub aws_profile: Option<&'a str>,
}

impl ChangeKeyArgs {
    fn lists(&self) -> [&Option<String>; 14] {
        [
            &self.add_age,
            &self.rm_age,
            &self.add_kms,
            &self.rm_kms,
            &self.add_gcp_kms,
            &self.rm_gcp_kms,
            &self.add_hckms,
            &self.rm_hckms,
            &self.add_azure_kv,
            &self.rm_azure_kv,
            &self.add_hc_vault_transit,
            &self.rm_hc_vault_transit,
            &self.add_pgp,
            &self.rm_pgp,
        ]
    }

    /// True when any add/remove flag is given with a non-empty value.
    pub fn any(&self) -> bool {
        self.lists()
            .iter()
            .any(|v| v.as_deref().is_some_and(|s| !s.trim().is_empty()))
    }

    /// The keys to add (in sops' order: kms, gcp_kms, azure_kv, hc_vault,
    /// age, pgp) and the string forms of the keys to remove (ARN,
    /// fingerprint, resource id, key URL, recipient, key id).
    fn parse(&self, kms: &KmsOptions) -> Result<(Vec<MasterKey>, Vec<String>)> {
        let list = |v: &Option<String>| v.clone().unwrap_or_default();
        let context = super::encrypt::kms_context(kms.context)?;
        let profile = kms.aws_profile.unwrap_or("");
        let keys_of = |add: bool| -> Result<Vec<MasterKey>> {
            let pick = |a: &Option<String>, r: &Option<String>| list(if add { a } else { r });
            let mut out = keys::kms_keys(&pick(&self.add_kms, &self.rm_kms), &context, profile);
            out.extend(keys::gcp_kms_keys(&pick(
                &self.add_gcp_kms,
                &self.rm_gcp_kms,
            )));
            out.extend(
                keys::azure_kv_keys(&pick(&self.add_azure_kv, &self.rm_azure_kv))
                    .map_err(Error::Key)?,
            );
            out.extend(
                keys::vault_keys(&pick(&self.add_hc_vault_transit, &self.rm_hc_vault_transit))
                    .map_err(Error::Key)?,
            );
            out.extend(
                parse_recipient_list(&pick(&self.add_age, &self.rm_age))
                    .map_err(Error::Key)?
                    .into_iter()
                    .map(MasterKey::Age),
            );
            out.extend(keys::pgp_keys(&pick(&self.add_pgp, &self.rm_pgp)));
            Ok(out)
        };
        keys::hckms_keys(&list(&self.add_hckms)).map_err(Error::Key)?;
        let add = keys_of(true)?;
        let mut remove: Vec<String> = keys_of(false)?.iter().map(changes::key_string).collect();
        // HuaweiCloud keys can be removed (by key id), not added.
        remove.extend(
            list(&self.rm_hckms)
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(String::from),
        );
        Ok((add, remove))
    }
}

/// Runs `rotate` on `file`, writing to stdout, `--output` or in place.
pub(crate) fn run(
    file: Option<&str>,
    io: &IoArgs,
    change: &ChangeKeyArgs,
    kms: &KmsOptions,
    decryption_order: Option<&str>,
    config_path: Option<&str>,
) -> Result<()> {
    run_preserving(file, io, change, kms, decryption_order, config_path, false)
}

/// `rotate`, keeping the file's layout when `preserve_flag`
/// (`--preserve-format`) or the config asks for it.
pub(crate) fn run_preserving(
    file: Option<&str>,
    io: &IoArgs,
    change: &ChangeKeyArgs,
    kms: &KmsOptions,
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
    let (add, remove) = change.parse(kms)?;
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

    let mut decrypted = encrypted.decrypt(&mut keys, false).map_err(|e| match e {
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
    let mut rotated = document::encrypt(std::mem::take(&mut decrypted.documents), settings)
        .map_err(|e| e.in_file(&input.name))?;
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
    changes::check_wrappable(groups)
        .map_err(|e| Error::Key(format!("cannot rotate the data key: {e}")))?;
    changes::check_threshold(groups.len(), threshold).map_err(Error::Key)
}

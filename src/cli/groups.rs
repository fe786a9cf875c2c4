//! `enseal groups add` / `enseal groups delete`: add or remove a key group.
//! Adding keeps the data key (re-split and re-wrapped for the new groups),
//! so values, `mac` and `lastmodified` do not change. Deleting a group makes
//! a new data key and encrypts every value again: the deleted group's
//! holders have the old one (sops keeps it).

use clap::{Args, Subcommand};

use super::decrypt::key_context;
use super::decrypt::load_encrypted;
use super::io::{read_input, store_options, write_output, ConfigContext};
use super::IoArgs;
use crate::error::{Error, Result};
use crate::format::FormatKind;
use crate::keys::age::parse_recipient_list;
use crate::keys::{self, changes, KeyGroup, MasterKey};

/// `groups add` / `groups delete`.
#[derive(Debug, Subcommand)]
pub(crate) enum GroupsCmd {
    /// Add a key group made of the given keys.
    Add(Box<AddArgs>),
    /// Delete the key group at INDEX (0-based); the file gets a new data key.
    Delete(DeleteArgs),
}

/// Flags of `groups add`.
#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// The encrypted file.
    #[arg(short = 'f', long, value_name = "FILE")]
    file: Option<String>,
    /// Write the result back to the file instead of standard output.
    #[arg(short = 'i', long)]
    in_place: bool,
    /// The Shamir threshold to record (0: keep the file's).
    #[arg(long, value_name = "N")]
    shamir_secret_sharing_threshold: Option<usize>,
    /// age recipients of the new group (repeatable, each may be a comma list).
    #[arg(long, value_name = "RECIPIENTS")]
    age: Vec<String>,
    /// PGP fingerprints (repeatable, each may be a comma list).
    #[arg(long)]
    pgp: Vec<String>,
    /// AWS KMS ARNs, each optionally `ARN+ROLE_ARN` (repeatable).
    #[arg(long)]
    kms: Vec<String>,
    /// AWS profile for the --kms keys.
    #[arg(long)]
    aws_profile: Option<String>,
    /// GCP KMS resource ids (repeatable).
    #[arg(long)]
    gcp_kms: Vec<String>,
    /// HuaweiCloud KMS key ids (refused: not supported by enseal).
    #[arg(long)]
    hckms: Vec<String>,
    /// Azure Key Vault key URLs (repeatable).
    #[arg(long)]
    azure_kv: Vec<String>,
    /// Vault transit key URIs (repeatable).
    #[arg(long)]
    hc_vault_transit: Vec<String>,
    /// AWS KMS encryption context for the --kms keys: `k1:v1,k2:v2`.
    #[arg(long)]
    encryption_context: Option<String>,
    /// Refused: `groups add` takes no positional arguments.
    #[arg(hide = true)]
    extra: Vec<String>,
}

/// Flags of `groups delete`.
#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    /// The encrypted file.
    #[arg(short = 'f', long, value_name = "FILE")]
    file: Option<String>,
    /// Write the result back to the file instead of standard output.
    #[arg(short = 'i', long)]
    in_place: bool,
    /// The Shamir threshold to record (0: keep the file's).
    #[arg(long, value_name = "N")]
    shamir_secret_sharing_threshold: Option<usize>,
    /// The 0-based index of the group to delete.
    #[arg(value_name = "INDEX")]
    index: Vec<String>,
}

/// Runs `groups add` or `groups delete`.
pub(crate) fn run(cmd: &GroupsCmd, config_path: Option<&str>) -> Result<()> {
    match cmd {
        GroupsCmd::Add(args) => {
            if !args.extra.is_empty() {
                return Err(Error::Usage(
                    "error: no positional arguments allowed".into(),
                ));
            }
            let group = new_group(args)?;
            change(
                args.file.as_deref(),
                args.in_place,
                args.shamir_secret_sharing_threshold,
                config_path,
                |groups, _| {
                    groups.push(group);
                    Ok(())
                },
            )
        }
        GroupsCmd::Delete(args) => {
            if args.index.len() != 1 {
                return Err(Error::Usage(
                    "error: exactly one positional argument (index) required".into(),
                ));
            }
            let index: usize = args.index[0]
                .parse()
                .map_err(|e| Error::Usage(format!("failed to parse [index] argument: {e}")))?;
            change(
                args.file.as_deref(),
                args.in_place,
                args.shamir_secret_sharing_threshold,
                config_path,
                |groups, threshold| {
                    if index >= groups.len() {
                        return Err(Error::Usage(format!(
                            "there is no key group {index}: the file has {} key group(s), numbered from 0",
                            groups.len()
                        )));
                    }
                    groups.remove(index);
                    if groups.len() < threshold {
                        return Err(Error::Usage(format!(
                            "removing this key group will make the Shamir threshold impossible to satisfy: Shamir threshold is {threshold}, but we only have {} key groups",
                            groups.len()
                        )));
                    }
                    Ok(())
                },
            )
        }
    }
}

/// The keys of the group to add (each flag repeatable, each value a comma
/// list), in sops' order: pgp, kms, gcp_kms, azure_kv, hc_vault, age.
fn new_group(args: &AddArgs) -> Result<KeyGroup> {
    let failed = |e: String| Error::Key(format!("Failed to add key: {e}"));
    let context = super::encrypt::kms_context(args.encryption_context.as_deref())?;
    let profile = args.aws_profile.as_deref().unwrap_or("");
    let mut group = Vec::new();
    for list in &args.hckms {
        keys::hckms_keys(list).map_err(failed)?;
    }
    for list in &args.pgp {
        group.extend(keys::pgp_keys(list));
    }
    for list in &args.kms {
        group.extend(keys::kms_keys(list, &context, profile));
    }
    for list in &args.gcp_kms {
        group.extend(keys::gcp_kms_keys(list));
    }
    for list in &args.azure_kv {
        group.extend(keys::azure_kv_keys(list).map_err(failed)?);
    }
    for list in &args.hc_vault_transit {
        group.extend(keys::vault_keys(list).map_err(failed)?);
    }
    for list in &args.age {
        group.extend(
            parse_recipient_list(list)
                .map_err(failed)?
                .into_iter()
                .map(MasterKey::Age),
        );
    }
    if group.is_empty() {
        return Err(Error::Usage(
            "no keys given for the new group: use --age, --pgp, --kms, --gcp-kms, --azure-kv or --hc-vault-transit".into(),
        ));
    }
    Ok(group)
}

/// Loads `file`, recovers its data key, applies `edit` to its key groups
/// (given the threshold in effect), re-wraps the data key (or, when a key
/// was removed, encrypts every value with a new one) and writes the result
/// to stdout or in place.
fn change(
    file: Option<&str>,
    in_place: bool,
    threshold_flag: Option<usize>,
    config_path: Option<&str>,
    edit: impl FnOnce(&mut Vec<KeyGroup>, usize) -> Result<()>,
) -> Result<()> {
    let Some(file) = file.filter(|f| !f.is_empty()) else {
        return Err(Error::NoFileSpecified);
    };
    let io = IoArgs {
        in_place,
        ..Default::default()
    };
    let stores = ConfigContext::load(config_path)?.stores();
    let input = read_input(Some(file), &io)?;
    let kind = FormatKind::from_path(&input.type_path);
    let options = store_options(&io, kind, stores, true)?;
    let store = kind.store(&options);
    let mut encrypted = load_encrypted(store.as_ref(), &input.bytes, &input.name)?;
    let metadata = &mut encrypted.metadata;
    let threshold = match threshold_flag {
        Some(n) if n != 0 => n,
        _ => metadata.shamir_threshold,
    };
    let mut groups = metadata.key_groups.clone();
    edit(&mut groups, threshold)?;
    changes::check_threshold(groups.len(), threshold)
        .map_err(|e| Error::Key(e).in_file(&input.name))?;
    changes::check_wrappable(&groups).map_err(|e| Error::Key(e).in_file(&input.name))?;
    let mut keys = key_context(None)?;
    let bytes = if changes::removes_a_key(&metadata.key_groups, &groups) {
        // A deleted group's holders have the data key: a new one, and
        // every value encrypted again (sops keeps the data key here).
        let rekeyed = encrypted
            .rekey(&mut keys, groups, threshold)
            .map_err(|e| match e {
                Error::RetrieveKey(_) => e,
                other => other.in_file(&input.name),
            })?;
        store
            .emit_encrypted(&rekeyed.documents, &rekeyed.metadata.to_map())
            .map_err(|e| Error::Dump(e.to_string()))?
    } else {
        let data_key = changes::recover(&metadata.key_groups, metadata.shamir_threshold, &mut keys)
            .map_err(Error::RetrieveKey)?;
        changes::rewrap(&mut groups, threshold, &data_key)
            .map_err(|e| Error::GenerateDataKey(e).in_file(&input.name))?;
        metadata.shamir_threshold = changes::recorded_threshold(groups.len(), threshold);
        metadata.key_groups = groups;
        store
            .emit_encrypted(&encrypted.documents, &encrypted.metadata.to_map())
            .map_err(|e| Error::Dump(e.to_string()))?
    };
    write_output(&io, &input, &bytes)
}

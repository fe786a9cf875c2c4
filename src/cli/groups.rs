//! `enseal groups add` / `enseal groups delete`: add or remove a key group.
//! Adding keeps the data key (re-split and re-wrapped for the new groups),
//! so values, `mac` and `lastmodified` do not change. Deleting a group makes
//! a new data key and encrypts every value again: the deleted group's
//! holders have the old one (sops keeps it).

use super::args::{AddArgs, GroupsCmd, IoArgs};
use super::io::ConfigContext;
use super::pipeline::{self, Source};
use super::settings::kms_context;
use crate::error::{Error, Result};
use crate::keys::age::parse_recipient_list;
use crate::keys::{self, changes, KeyGroup, MasterKey};

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
                args.preserve_format,
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
                args.preserve_format,
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
/// list), in sops' order: pgp, kms, gcp_kms, hckms, azure_kv, hc_vault,
/// age. (sops 3.13 accepts `--hckms` here but leaves those keys out of the
/// group; enseal adds them.)
fn new_group(args: &AddArgs) -> Result<KeyGroup> {
    let failed = |e: String| Error::Key(format!("Failed to add key: {e}"));
    let context = kms_context(args.encryption_context.as_deref())?;
    let profile = args.aws_profile.as_deref().unwrap_or("");
    let mut group = Vec::new();
    for list in &args.pgp {
        group.extend(keys::pgp_keys(list));
    }
    for list in &args.kms {
        group.extend(keys::kms_keys(list, &context, profile));
    }
    for list in &args.gcp_kms {
        group.extend(keys::gcp_kms_keys(list));
    }
    for list in &args.hckms {
        group.extend(keys::hckms_keys(list).map_err(failed)?);
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
    preserve_flag: bool,
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
    let context = ConfigContext::load(config_path)?;
    let source = Source::read(&context, Some(file), &io, preserve_flag, true)?;
    let name = source.name();
    let encrypted = source.load_encrypted()?;
    let metadata = &encrypted.metadata;
    let threshold = match threshold_flag {
        Some(n) if n != 0 => n,
        _ => metadata.shamir_threshold,
    };
    let mut groups = metadata.key_groups.clone();
    edit(&mut groups, threshold)?;
    changes::check_threshold(groups.len(), threshold).map_err(|e| Error::Key(e).in_file(name))?;
    changes::check_wrappable(&groups).map_err(|e| Error::Key(e).in_file(name))?;
    let mut keys = pipeline::key_context(None)?;
    let bytes = pipeline::apply_key_groups(
        encrypted,
        groups,
        threshold,
        &mut keys,
        source.out_store.as_ref(),
        name,
        source
            .preserve
            .then_some((source.in_kind, &source.input.bytes[..])),
    )?;
    source.write(&io, &bytes)
}

//! `publish` to a destination that stores the encrypted file (S3 and Google
//! Cloud Storage): what is uploaded, and the GCS upload itself.
//!
//! What is uploaded, as sops 3.13 `publish` decides it: when the rule's
//! `recreation_rule` names no key, the file's bytes as they are on disk
//! (after checking that it is an encrypted file; nothing is decrypted).
//! Otherwise the file is decrypted (MAC verified) and encrypted again with
//! a new data key for the recreation rule's key groups, Shamir threshold,
//! encryption rule and MAC mode, as `encrypt` with that creation rule would;
//! the key group changes are printed. Plaintext never leaves.

use super::args::resolve::Publish;
use super::args::IoArgs;
use super::io::ConfigContext;
use super::pipeline::{self, Source};
use crate::config::DestinationRule;
use crate::document::{self, EncryptSettings};
use crate::error::{Error, Result};
use crate::format::FormatKind;
use crate::keys::{self, changes};

/// The bytes to upload for `shown` (the file as given): the file itself,
/// or the file re-encrypted for the rule's `recreation_rule`.
pub(super) fn encrypted_contents(
    args: &Publish,
    context: &ConfigContext,
    rule: &DestinationRule,
    shown: &str,
) -> Result<Vec<u8>> {
    let config = context.config.as_ref().expect("checked by run");
    let in_rule = |e: String| {
        Error::Key(format!(
            "{e} (config file {}, destination_rules[{}].recreation_rule)",
            config.path.display(),
            rule.index
        ))
    };
    let recreation = rule
        .recreation_rule()
        .map_err(|e| Error::Usage(e.to_string()))?;
    let source = Source::read(context, Some(shown), &IoArgs::default(), false, false)?;
    // sops checks that it is an encrypted file even when it sends it as is.
    let encrypted = source.load_encrypted()?;
    if recreation.key_groups.iter().all(|g| g.is_empty()) {
        return Ok(source.input.bytes.to_vec());
    }
    let groups = keys::from_specs(&recreation.key_groups, &[]).map_err(in_rule)?;
    changes::check_threshold(groups.len(), recreation.shamir_threshold).map_err(in_rule)?;
    changes::check_wrappable(&groups).map_err(in_rule)?;
    if let Some(i) = groups.iter().position(Vec::is_empty) {
        return Err(in_rule(format!(
            "key group {i} has no keys: a group needs at least one key"
        )));
    }

    let diffs = changes::diff_groups(&encrypted.metadata.key_groups, &groups);
    let mut keys = pipeline::key_context(args.decryption_order.as_deref())?;
    let mut decrypted = pipeline::decrypt(encrypted, &mut keys, false, source.name())?;
    if diffs
        .iter()
        .any(|d| !d.added.is_empty() || !d.removed.is_empty())
    {
        let listing = changes::render_changes(0, 0, &diffs);
        let groups_part = listing.split_once('\n').map_or("", |(_, rest)| rest);
        print!("The following changes will be made to the file's key groups:\n{groups_part}");
    }
    let settings = EncryptSettings {
        key_groups: groups,
        shamir_threshold: recreation.shamir_threshold,
        rule: recreation.rule.clone(),
        mac_only_encrypted: recreation.mac_only_encrypted,
        binary: source.in_kind == FormatKind::Binary,
    };
    let reencrypted = document::encrypt(std::mem::take(&mut decrypted.documents), settings)
        .map_err(|e| e.in_file(shown))?;
    drop(decrypted);
    pipeline::emit_encrypted(source.out_store.as_ref(), &reencrypted).map_err(|e| e.in_file(shown))
}

/// Uploads `shown` to the GCS bucket of `rule` as `<gcs_prefix><name>`,
/// asking first unless `--yes` (the bucket, object name and endpoint are
/// checked before anything is decrypted or asked).
#[cfg(feature = "gcp")]
#[allow(clippy::too_many_arguments)]
pub(super) fn publish_gcs(
    args: &Publish,
    context: &ConfigContext,
    rule: &DestinationRule,
    shown: &str,
    absolute_shown: &str,
    destination_path: &str,
    name: &str,
) -> Result<()> {
    let destination = crate::publish::gcs::GcsDestination::new(&rule.gcs_bucket, &rule.gcs_prefix);
    let upload = destination.prepare(name).map_err(|e| {
        let hint = if e.starts_with("ENSEAL_GCS_ENDPOINT") || e.starts_with("STORAGE_EMULATOR_HOST")
        {
            "set the variable to https://host[:port] (plain http only to 127.0.0.1 or localhost), or unset it"
        } else {
            "fix gcs_bucket / gcs_prefix of the destination rule in .sops.yaml"
        };
        Error::Advice {
            code: 1,
            message: format!("{shown}: {e}"),
            hint: hint.into(),
        }
    })?;
    let contents = encrypted_contents(args, context, rule, shown)?;
    if !args.yes && !super::publish::confirm(absolute_shown, destination_path)? {
        let message = format!("Publication of {absolute_shown} canceled");
        if args.recursive {
            println!("{message}");
            return Ok(());
        }
        return Err(Error::Usage(message));
    }
    upload.send(&contents).map_err(|e| {
        let message = format!("{shown}: {e}");
        if e.denied {
            Error::Advice {
                code: 1,
                message,
                hint: "the credentials need storage.objects.create on the bucket, and \
                       storage.objects.delete to replace an object (roles/storage.objectUser)"
                    .into(),
            }
        } else {
            Error::Usage(message)
        }
    })
}

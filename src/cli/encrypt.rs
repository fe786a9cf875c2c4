//! `enseal encrypt`.

use std::path::Path;

use super::args::resolve::Encrypt;
use super::io::{check_exists, check_output_flags, is_stdin, ConfigContext};
use super::pipeline::{self, Source};
use super::settings::new_file_settings;
use crate::document::{self, EncryptSettings};
use crate::error::{Error, Result};
use crate::format::{FormatError, FormatKind};
use crate::keys;

/// `encrypt`, in format-preserving mode when `--preserve-format` or the
/// config asks for it.
pub(crate) fn run(args: &Encrypt, config_path: Option<&str>) -> Result<()> {
    let (file, io) = (args.file.as_deref(), &args.io);
    check_output_flags(io)?;
    if is_stdin(file) && io.filename_override.is_none() && io.types.input_type().is_none() {
        return Err(Error::ConflictingParameters(
            "must specify --filename-override (or --input-type) when reading from stdin".into(),
        ));
    }
    check_exists(file)?;
    let context = ConfigContext::load(config_path)?;
    let settings = new_file_settings(file, io, &args.keys, &args.rules, &context)?;
    let source = Source::read(&context, file, io, args.preserve_format, true)?;
    let (input, preserve) = (&source.input, source.preserve);
    let mut documents = source
        .in_store
        .parse_plain(&input.bytes)
        .map_err(|e| match e {
            FormatError::NoDocument => Error::NoDocument,
            // sops reads such a file and fails walking it: exit 23.
            FormatError::Unwalkable(message) => Error::EncryptTree(message).in_file(&input.name),
            other => Error::ParsePlain {
                path: input.name.clone(),
                message: other.to_string(),
            },
        })?;
    source.type_for_output(&mut documents);
    let out_store = &source.out_store;
    if documents
        .first()
        .is_some_and(|d| out_store.has_metadata_key(d))
    {
        return Err(Error::AlreadyEncrypted(input.name.clone()));
    }
    let settings = EncryptSettings {
        binary: source.in_kind == FormatKind::Binary,
        ..settings
    };
    // Onto an existing encrypted `--output` file (or, with `--in-place`,
    // the version of the file committed in git) whose data key we have:
    // keep its data key and metadata, and the ciphertext of every unchanged
    // value; nothing changed → the previous encrypted bytes are kept.
    let previous = if io.in_place {
        input
            .file
            .as_deref()
            .and_then(|p| pipeline::open_committed(p, out_store.as_ref()))
    } else {
        io.output
            .as_deref()
            .and_then(|p| pipeline::open_existing(Path::new(p), out_store.as_ref()))
    };
    // Only when the file would get the same master keys (with their
    // settings), Shamir threshold, rule and MAC mode: flags or a creation
    // rule asking for others mean a new file with a new data key.
    let previous = previous.filter(|(opened, _)| same_settings(&opened.metadata, &settings));
    let plain = if preserve {
        documents.clone()
    } else {
        Vec::new()
    };
    let encrypted = match previous {
        // The layout may have changed even when the values did not.
        Some((mut opened, _)) if preserve => opened
            .reencrypt_always(documents)
            .map_err(|e| e.in_file(&input.name))?,
        Some((mut opened, bytes)) => match opened
            .reencrypt(documents)
            .map_err(|e| e.in_file(&input.name))?
        {
            Some(encrypted) => encrypted,
            None if io.in_place => return source.write(io, &bytes),
            None => return Ok(()),
        },
        None => document::encrypt(documents, settings).map_err(|e| e.in_file(&input.name))?,
    };
    let chunks = if preserve {
        vec![crate::preserve::encrypt(
            source.in_kind,
            &input.bytes,
            &plain,
            &encrypted.documents,
            &encrypted.metadata.to_map(),
        )
        .map_err(source.preserve_error(crate::error::exit::COULD_NOT_READ_INPUT))?]
    } else {
        out_store
            .emit_encrypted_chunks(&encrypted.documents, &encrypted.metadata.to_map())
            .map_err(|e| Error::Dump(e.to_string()))?
    };
    let written = source.write_chunks(io, &chunks);
    // The process ends right after this command: freeing the encrypted tree
    // value by value costs about a tenth of a large encrypt, and it holds
    // only ciphertext (and values the rules left in clear), so let the exit
    // reclaim it.
    std::mem::forget(encrypted);
    std::mem::forget(chunks);
    written
}

/// True when a file made with `settings` would have the master keys (per
/// group, with every setting: KMS role, encryption context, profile…),
/// Shamir threshold, encryption rule and MAC mode `metadata` records: only
/// then may its data key be kept. Otherwise the file is made anew, with a
/// new data key and the settings asked for now.
fn same_settings(metadata: &crate::metadata::Metadata, settings: &EncryptSettings) -> bool {
    let rule = if settings.binary {
        None
    } else {
        Some(settings.rule.clone().unwrap_or_default())
    };
    keys::changes::recipient_set(&metadata.key_groups, metadata.shamir_threshold)
        == keys::changes::recipient_set(&settings.key_groups, settings.shamir_threshold)
        && metadata.rule == rule
        && metadata.mac_only_encrypted == (settings.mac_only_encrypted && !settings.binary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyGroup, MasterKey};

    #[test]
    fn data_key_kept_only_under_the_same_keys_and_settings() {
        let age = |n: usize| -> Vec<MasterKey> {
            (0..n)
                .map(|_| {
                    let r = ::age::x25519::Identity::generate().to_public().to_string();
                    MasterKey::Age(keys::age::AgeKey::new(&r).unwrap())
                })
                .collect()
        };
        let groups: Vec<KeyGroup> = age(3).into_iter().map(|k| vec![k]).collect();
        let settings = EncryptSettings {
            key_groups: groups.clone(),
            shamir_threshold: 2,
            ..Default::default()
        };
        let mut doc = crate::tree::Map::new();
        doc.push("a", crate::tree::Value::Str("x".into()));
        let file = document::encrypt(vec![doc], settings.clone()).unwrap();
        assert!(same_settings(&file.metadata, &settings));
        // Another threshold.
        let three = EncryptSettings {
            shamir_threshold: 3,
            ..settings.clone()
        };
        assert!(!same_settings(&file.metadata, &three));
        // A KMS key with a role or another context than the file's.
        let arn = "arn:aws:kms:us-east-1:111122223333:key/k";
        let kms = |role: &str, ctx: &[(String, String)]| -> MasterKey {
            keys::ServiceKey::kms(arn, role, ctx, "").into()
        };
        let mut with_kms = groups.clone();
        with_kms[0].push(kms("", &[("team".into(), "a".into())]));
        let mut file_kms = file.metadata.clone();
        file_kms.key_groups = with_kms.clone();
        let same = EncryptSettings {
            key_groups: with_kms.clone(),
            ..settings.clone()
        };
        assert!(same_settings(&file_kms, &same));
        for other in [
            kms("arn:aws:iam::1:role/r", &[("team".into(), "a".into())]),
            kms("", &[("team".into(), "b".into())]),
            kms("", &[]),
        ] {
            let mut groups = groups.clone();
            groups[0].push(other);
            let asked = EncryptSettings {
                key_groups: groups,
                ..settings.clone()
            };
            assert!(!same_settings(&file_kms, &asked));
        }
    }
}

//! `enseal encrypt`.

use std::path::Path;

use super::args::resolve::Encrypt;
use super::args::IoArgs;
use super::io::{check_exists, check_output_flags, is_stdin, ConfigContext};
use super::pipeline::{self, Source};
use super::settings::new_file_settings;
use crate::document::{self, EncryptSettings, EncryptedDocument, Opened};
use crate::error::{Error, Result};
use crate::format::FormatKind;
use crate::keys;
use crate::tree::Map;

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
    let documents = source.parse_plain()?;
    // Layout the data model cannot hold travels in an encrypted comment.
    let documents = if source.preserve {
        crate::preserve::carry(source.in_kind, &source.input.bytes, documents)
            .map_err(source.preserve_error(crate::error::exit::COULD_NOT_READ_INPUT))?
    } else {
        documents
    };
    let settings = EncryptSettings {
        binary: source.in_kind == FormatKind::Binary,
        ..settings
    };
    let plain = if source.preserve {
        documents.clone()
    } else {
        Vec::new()
    };
    let in_file = |e: Error| e.in_file(source.name());
    let encrypted = match previous_version(io, &source, &settings) {
        // The layout may have changed even when the values did not.
        Some((mut opened, _)) if source.preserve => {
            opened.reencrypt_always(documents).map_err(in_file)?
        }
        Some((mut opened, bytes)) => match opened.reencrypt(documents).map_err(in_file)? {
            Some(encrypted) => encrypted,
            None if io.in_place => return source.write(io, &bytes),
            None => return Ok(()),
        },
        None => document::encrypt(documents, settings).map_err(in_file)?,
    };
    let chunks = encrypted_output(&source, &plain, &encrypted)?;
    let written = source.write_chunks(io, &chunks);
    // The process ends right after this command: freeing the encrypted tree
    // value by value costs about a tenth of a large encrypt, and it holds
    // only ciphertext (and values the rules left in clear), so let the exit
    // reclaim it.
    std::mem::forget(encrypted);
    std::mem::forget(chunks);
    written
}

/// The encrypted file this one replaces, decrypted, with its bytes: an
/// existing encrypted `--output` file (or, with `--in-place`, the version
/// of the file committed in git) whose data key we have. Its data key and
/// metadata, and the ciphertext of every unchanged value, are kept; nothing
/// changed → its encrypted bytes are kept. Only when the file would get the
/// same master keys (with their settings), Shamir threshold, rule and MAC
/// mode: flags or a creation rule asking for others mean a new file with a
/// new data key.
fn previous_version(
    io: &IoArgs,
    source: &Source,
    settings: &EncryptSettings,
) -> Option<(Opened, Vec<u8>)> {
    let store = source.out_store.as_ref();
    let previous = if io.in_place {
        let file = source.input.file.as_deref()?;
        pipeline::open_committed(file, store)
    } else {
        pipeline::open_existing(Path::new(io.output.as_deref()?), store)
    };
    previous.filter(|(opened, _)| same_settings(&opened.metadata, settings))
}

/// The bytes of the encrypted file: in the input's own layout in
/// format-preserving mode (`plain` is then the plaintext it was made of),
/// else as the output store writes it.
fn encrypted_output(
    source: &Source,
    plain: &[Map],
    encrypted: &EncryptedDocument,
) -> Result<Vec<Vec<u8>>> {
    if !source.preserve {
        return source
            .out_store
            .emit_encrypted_chunks(&encrypted.documents, &encrypted.metadata.to_map())
            .map_err(|e| Error::Dump(e.to_string()));
    }
    let bytes = crate::preserve::encrypt(
        source.in_kind,
        &source.input.bytes,
        plain,
        &encrypted.documents,
        &encrypted.metadata.to_map(),
    )
    .map_err(source.preserve_error(crate::error::exit::COULD_NOT_READ_INPUT))?;
    Ok(vec![bytes])
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

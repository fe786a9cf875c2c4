//! `enseal rotate` (and legacy `-r`): a new data key, every value
//! re-encrypted, optionally with keys added (`--add-*`, to the first group)
//! or removed (`--rm-*`, from every group).

use super::args::resolve::Rotate;
use super::io::{check_output_flags, is_stdin, ConfigContext};
use super::pipeline::{self, Source};
use super::settings::KmsOptions;
use crate::document::{self, EncryptSettings, EncryptedDocument};
use crate::error::{Error, Result};
use crate::keys::changes;

/// `rotate FILE`, writing to stdout, `--output` or in place, keeping the
/// file's layout when `--preserve-format` or the config asks for it.
pub(crate) fn run(args: &Rotate, config_path: Option<&str>) -> Result<()> {
    let io = &args.io;
    check_output_flags(io)?;
    let file = existing_file(args)?;
    let (add, remove) = args.change.parse(&KmsOptions {
        context: args.encryption_context.as_deref(),
        aws_profile: args.aws_profile.as_deref(),
    })?;
    let mut keys = pipeline::key_context(args.decryption_order.as_deref())?;
    let context = ConfigContext::load(config_path)?;
    let source = Source::read(&context, Some(file), io, args.preserve_format, true)?;
    let name = source.name();
    let encrypted = source.load_encrypted()?;
    let old = encrypted.metadata.clone();
    let old_documents = if source.preserve {
        encrypted.documents.clone()
    } else {
        Vec::new()
    };

    let mut groups = old.key_groups.clone();
    changes::add_to_first_group(&mut groups, add);
    changes::remove_keys(&mut groups, &remove);
    check_groups(&groups, old.shamir_threshold).map_err(|e| e.in_file(name))?;

    let mut decrypted = pipeline::decrypt(encrypted, &mut keys, false, name)?;
    let plain = if source.preserve {
        decrypted.documents.clone()
    } else {
        Vec::new()
    };
    let rotated = encrypt_like(std::mem::take(&mut decrypted.documents), groups, &old)
        .map_err(|e| e.in_file(name))?;
    let bytes = if source.preserve {
        pipeline::preserve_rewrite(&source, &old_documents, &plain, &rotated)?
    } else {
        pipeline::emit_encrypted(source.out_store.as_ref(), &rotated)?
    };
    source.write(io, &bytes)
}

/// The file to rotate, which must exist (or be stdin).
fn existing_file(args: &Rotate) -> Result<&str> {
    let Some(file) = args.file.as_deref().filter(|f| !f.is_empty()) else {
        return Err(Error::NoFileSpecified);
    };
    if !std::path::Path::new(file).exists() && !is_stdin(Some(file)) {
        let abs = std::path::absolute(file).unwrap_or_else(|_| file.into());
        if args.change.any() {
            return Err(Error::CannotChangeKeysOfMissingFile(abs));
        }
        return Err(Error::ReadInput {
            path: file.to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
        });
    }
    Ok(file)
}

/// `documents` encrypted with a new data key for `groups`; what the file
/// records (`old`) stays as it was, except keys, MAC and date.
fn encrypt_like(
    documents: Vec<crate::tree::Map>,
    groups: Vec<crate::keys::KeyGroup>,
    old: &crate::metadata::Metadata,
) -> Result<EncryptedDocument> {
    let settings = EncryptSettings {
        key_groups: groups,
        shamir_threshold: old.shamir_threshold,
        rule: Some(old.effective_rule()),
        mac_only_encrypted: old.mac_only_encrypted,
        binary: false,
    };
    let mut rotated = document::encrypt(documents, settings)?;
    rotated.metadata.rule = old.rule.clone();
    rotated.metadata.version = old.version.clone();
    rotated.metadata.shamir_threshold =
        changes::recorded_threshold(rotated.metadata.key_groups.len(), old.shamir_threshold);
    Ok(rotated)
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

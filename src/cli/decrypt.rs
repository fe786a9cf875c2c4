//! `enseal decrypt`.

use super::io::{
    check_exists, check_output_flags, chunk_refs, kinds, read_input, store_options, write_output,
    write_output_chunks, ConfigContext,
};
use super::{IoArgs, ReadArgs};
use crate::document::EncryptedDocument;
use crate::error::{Error, Result};
use crate::format::{FormatKind, Store};
use crate::keys::KeyContext;
use crate::metadata::Metadata;
use crate::tree::Value;
use crate::tree_path;

pub(crate) fn run(
    file: Option<&str>,
    io: &IoArgs,
    reading: &ReadArgs,
    config_path: Option<&str>,
) -> Result<()> {
    run_preserving(file, io, reading, config_path, false)
}

/// `decrypt`, in format-preserving mode when `preserve_flag`
/// (`--preserve-format`) or the config asks for it (not with `--extract`).
pub(crate) fn run_preserving(
    file: Option<&str>,
    io: &IoArgs,
    reading: &ReadArgs,
    config_path: Option<&str>,
    preserve_flag: bool,
) -> Result<()> {
    check_output_flags(io)?;
    let extract = match reading.extract.as_deref() {
        Some(path) => tree_path::parse(path).map_err(Error::TreePathFormat)?,
        None => Vec::new(),
    };
    let keys = key_context(reading.decryption_order.as_deref())?;
    check_exists(file)?;
    let context = ConfigContext::load(config_path)?;
    let stores = context.stores();
    let input = read_input(file, io)?;
    let (in_kind, out_kind) = kinds(io, &input.type_path);
    let options = store_options(io, out_kind, stores, false)?;
    let in_store = in_kind.store(&options);
    let out_store = out_kind.store(&options);
    if preserve_flag && !extract.is_empty() {
        return Err(Error::Usage(
            "--preserve-format cannot be combined with --extract".into(),
        ));
    }
    let preserve = extract.is_empty()
        && super::encrypt::preserve_mode(preserve_flag, &context, in_kind, out_kind)?;
    let encrypted = load_encrypted(in_store.as_ref(), &input.bytes, &input.name)?;
    let encrypted_documents = if preserve {
        encrypted.documents.clone()
    } else {
        Vec::new()
    };
    let mut keys = keys;
    let decrypted = encrypted
        .decrypt(&mut keys, reading.ignore_mac)
        .map_err(|e| match e {
            Error::RetrieveKey(_) => e,
            other => other.in_file(&input.name),
        })?;
    for warning in &decrypted.warnings {
        eprintln!("warning: {}: {warning}", input.name);
    }
    let mut decrypted = decrypted;
    if in_kind == FormatKind::Toml && out_kind != FormatKind::Toml {
        // TOML values kept as source text get their type for other formats.
        crate::format::toml::type_raw_values(&mut decrypted.documents);
    }
    if preserve {
        let bytes = crate::preserve::decrypt(
            in_kind,
            &input.bytes,
            &encrypted_documents,
            &decrypted.documents,
        )
        .map_err(|e| Error::Preserve {
            path: input.name.clone(),
            message: e.to_string(),
            code: crate::error::exit::ERROR_DUMPING_TREE,
        })?;
        return write_output(io, &input, &bytes);
    }
    let chunks = zeroize::Zeroizing::new(if extract.is_empty() {
        out_store
            .emit_plain_chunks(&decrypted.documents)
            .map_err(|e| Error::Dump(e.to_string()))?
    } else {
        extract_value(out_store.as_ref(), &decrypted.documents, &extract)
            .map_err(|e| e.in_file(&input.name))?
    });
    let written = write_output_chunks(io, &input, &chunk_refs(&chunks));
    decrypted.wipe_and_leak();
    written
}

/// `--extract`: the value at `path` in the first document, as sops prints
/// it: a string as its raw bytes (also the `data` of a binary file), a
/// mapping as a document of the output format, anything else as the output
/// format writes a single value. Paths that sops answers with something that
/// is not the file's data are refused (see [`tree_path::lookup`]).
fn extract_value(
    out_store: &dyn Store,
    documents: &[crate::tree::Map],
    path: &[tree_path::Component],
) -> Result<Vec<Vec<u8>>> {
    let empty = crate::tree::Map::new();
    let first = documents.first().unwrap_or(&empty);
    match tree_path::lookup(first, path).map_err(Error::TreePath)? {
        Value::Map(m) => out_store
            .emit_plain_chunks(std::slice::from_ref(m))
            .map_err(|e| Error::Dump(e.to_string())),
        Value::Str(s) => Ok(vec![s.as_bytes().to_vec()]),
        Value::Bytes(b) => Ok(vec![b.clone()]),
        other => out_store
            .emit_value(other)
            .map(|bytes| vec![bytes])
            .map_err(|e| {
                Error::Coded(
                    crate::error::exit::ERROR_DUMPING_TREE,
                    format!("Error dumping tree: {e}"),
                )
            }),
    }
}

/// A key context with `--decryption-order` / `SOPS_DECRYPTION_ORDER` applied
/// (a type listed twice is refused, exit 112).
pub(crate) fn key_context(order: Option<&str>) -> Result<KeyContext> {
    let mut keys = KeyContext::new();
    if let Some(order) = order.filter(|o| !o.is_empty()) {
        let mut seen: Vec<String> = Vec::new();
        for name in order.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if seen.iter().any(|s| s == name) {
                return Err(Error::DuplicateDecryptionKeyType(name.to_string()));
            }
            seen.push(name.to_string());
        }
        keys.decryption_order = seen;
    }
    Ok(keys)
}

/// Parses an encrypted file and its metadata.
pub(crate) fn load_encrypted(
    store: &dyn Store,
    bytes: &[u8],
    name: &str,
) -> Result<EncryptedDocument> {
    let file = store
        .parse_encrypted(bytes)
        .map_err(|e| Error::ParseEncrypted {
            path: name.to_string(),
            message: e.to_string(),
        })?;
    let raw = file
        .metadata
        .ok_or_else(|| Error::MetadataNotFound(name.to_string()))?;
    let metadata = Metadata::from_map(&raw).map_err(|message| Error::InvalidMetadata {
        path: name.to_string(),
        message,
    })?;
    Ok(EncryptedDocument::new(file.documents, metadata))
}

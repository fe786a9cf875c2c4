//! `enseal decrypt`.

use super::args::resolve::Decrypt;
use super::io::{check_exists, check_output_flags, ConfigContext};
use super::pipeline::{self, Source};
use crate::error::{Error, Result};
use crate::format::Store;
use crate::tree::Value;
use crate::tree_path;

/// `decrypt`, in format-preserving mode when `--preserve-format` or the
/// config asks for it (not with `--extract`).
pub(crate) fn run(args: &Decrypt, config_path: Option<&str>) -> Result<()> {
    let io = &args.io;
    check_output_flags(io)?;
    let extract = match args.reading.extract.as_deref() {
        Some(path) => tree_path::parse(path).map_err(Error::TreePathFormat)?,
        None => Vec::new(),
    };
    let mut keys = pipeline::key_context(args.reading.order.decryption_order.as_deref())?;
    let file = args.file.as_deref();
    check_exists(file)?;
    let context = ConfigContext::load(config_path)?;
    if args.preserve_format && !extract.is_empty() {
        return Err(Error::Usage(
            "--preserve-format cannot be combined with --extract".into(),
        ));
    }
    let mut source = Source::read(&context, file, io, args.preserve_format, false)?;
    source.preserve &= extract.is_empty();
    let encrypted = source.load_encrypted()?;
    let encrypted_documents = if source.preserve {
        encrypted.documents.clone()
    } else {
        Vec::new()
    };
    let mut decrypted =
        pipeline::decrypt(encrypted, &mut keys, args.reading.ignore_mac, source.name())?;
    source.type_for_output(&mut decrypted.documents);
    if source.preserve {
        let bytes = crate::preserve::decrypt(
            source.in_kind,
            &source.input.bytes,
            &encrypted_documents,
            &decrypted.documents,
        )
        .map_err(source.preserve_error(crate::error::exit::ERROR_DUMPING_TREE))?;
        return source.write(io, &bytes);
    }
    let out_store = source.out_store.as_ref();
    let chunks = zeroize::Zeroizing::new(if extract.is_empty() {
        out_store
            .emit_plain_chunks(&decrypted.documents)
            .map_err(|e| Error::Dump(e.to_string()))?
    } else {
        extract_value(out_store, &decrypted.documents, &extract)
            .map_err(|e| e.in_file(source.name()))?
    });
    let written = source.write_chunks(io, &chunks);
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

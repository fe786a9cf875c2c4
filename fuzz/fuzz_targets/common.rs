//! Helpers shared by the fuzz targets (included with `#[path]`).
#![allow(dead_code)]

use enseal::format::{FormatKind, StoreOptions};
use enseal::metadata::Metadata;

/// Parses `data` with the store of `kind` as plaintext and as an encrypted
/// file, then writes back whatever parsed. Nothing may panic; the emitted
/// plaintext must parse again.
pub fn exercise_store(kind: FormatKind, data: &[u8]) {
    let store = kind.store(&StoreOptions::default());
    if let Ok(docs) = store.parse_plain(data) {
        if let Ok(bytes) = store.emit_plain(&docs) {
            // What we wrote we must be able to read back.
            if kind != FormatKind::Binary {
                store
                    .parse_plain(&bytes)
                    .unwrap_or_else(|e| panic!("re-parse of emitted {kind:?} failed: {e}"));
            }
        }
    }
    if let Ok(file) = store.parse_encrypted(data) {
        if let Some(meta) = &file.metadata {
            let _ = store.emit_encrypted(&file.documents, meta);
            if let Ok(m) = Metadata::from_map(meta) {
                let _ = Metadata::from_map(&m.to_map());
            }
        }
    }
}

#![no_main]
//! The metadata reader on trees from the YAML and JSON parsers.

use enseal::format::{FormatKind, StoreOptions};
use enseal::metadata::Metadata;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for kind in [FormatKind::Yaml, FormatKind::Json] {
        let store = kind.store(&StoreOptions::default());
        // The whole document as a metadata tree, and the `sops` key of an
        // encrypted file.
        if let Ok(docs) = store.parse_plain(data) {
            for doc in &docs {
                if let Ok(m) = Metadata::from_map(doc) {
                    let _ = Metadata::from_map(&m.to_map());
                }
            }
        }
        if let Ok(file) = store.parse_encrypted(data) {
            if let Some(meta) = file.metadata {
                if let Ok(m) = Metadata::from_map(&meta) {
                    let _ = m.effective_rule();
                    let _ = Metadata::from_map(&m.to_map());
                }
            }
        }
    }
});

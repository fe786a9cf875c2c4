//! The bodies of the fuzz targets. Shared with the regression test
//! `tests/fuzz_regressions.rs` (included there with `#[path]`), which runs
//! every saved input of `testdata/fuzz-regressions/<target>/` through the
//! same function. Each body panics only on a real bug.
#![allow(dead_code)]

use std::path::Path;

use enseal::crypto::enc::EncValue;
use enseal::crypto::walk::{Direction, Walk};
use enseal::crypto::{Cipher, DataKey, EncryptionRule, Selector};
use enseal::format::{FormatKind, StoreOptions};
use enseal::metadata::Metadata;
use enseal::tree::{Map, Value};

/// The body of one fuzz target.
pub type Body = fn(&[u8]);

/// The fuzz targets by name (the directory names of the regression inputs).
pub const TARGETS: &[(&str, Body)] = &[
    ("format_yaml", format_yaml),
    ("format_json", format_json),
    ("format_dotenv", format_dotenv),
    ("format_ini", format_ini),
    ("format_binary", format_binary),
    ("enc_value", enc_value),
    ("metadata", metadata),
    ("sops_config", sops_config),
    ("tree_path", tree_path),
    ("decrypt", decrypt),
];

pub fn format_yaml(data: &[u8]) {
    exercise_store(FormatKind::Yaml, data);
}
pub fn format_json(data: &[u8]) {
    exercise_store(FormatKind::Json, data);
}
pub fn format_dotenv(data: &[u8]) {
    exercise_store(FormatKind::Dotenv, data);
}
pub fn format_ini(data: &[u8]) {
    exercise_store(FormatKind::Ini, data);
}
pub fn format_binary(data: &[u8]) {
    exercise_store(FormatKind::Binary, data);
}

/// Parses `data` with the store of `kind` as plaintext and as an encrypted
/// file, then writes back whatever parsed. Nothing may panic; emitted
/// YAML, JSON and dotenv must parse again.
pub fn exercise_store(kind: FormatKind, data: &[u8]) {
    let store = kind.store(&StoreOptions::default());
    if let Ok(docs) = store.parse_plain(data) {
        if let Ok(bytes) = store.emit_plain(&docs) {
            // What we wrote we must be able to read back. Not for INI: like
            // go-ini, the store writes some values (`"""`, backquotes) that do
            // not read back, exactly as sops does.
            if matches!(
                kind,
                FormatKind::Yaml | FormatKind::Json | FormatKind::Dotenv
            ) {
                if let Err(e) = store.parse_plain(&bytes) {
                    panic!("re-parse of emitted {kind:?} failed: {e}");
                }
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

/// The `ENC[…]` parser: never panics; what parses prints back to a string
/// that parses to the same value.
pub fn enc_value(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(value) = text.parse::<EncValue>() {
        let printed = value.to_string();
        match printed.parse::<EncValue>() {
            Ok(again) => assert_eq!(again, value, "ENC value changed in a round trip"),
            Err(e) => panic!("printed value does not parse: {e}"),
        }
    }
}

/// The metadata reader on trees from the YAML and JSON parsers: the whole
/// document, and the `sops` key of an encrypted file.
pub fn metadata(data: &[u8]) {
    for kind in [FormatKind::Yaml, FormatKind::Json] {
        let store = kind.store(&StoreOptions::default());
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
}

/// `.sops.yaml` decoding and rule lookup.
pub fn sops_config(data: &[u8]) {
    let path = Path::new("/fuzz/.sops.yaml");
    if let Ok(config) = enseal::config::parse(path, data) {
        let dir = Path::new("/fuzz");
        for file in ["/fuzz/a.yaml", "/fuzz/dev/secrets.env", "/elsewhere/x.json"] {
            let _ = config.rule_for(Path::new(file), dir);
            let _ = config.destination_for(file);
        }
        let _ = config.store_options();
        let _ = config.has_creation_rules();
    }
}

/// `--extract` / `set` index paths, and the lookup of what parsed.
pub fn tree_path(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(path) = enseal::tree_path::parse(text) {
        let mut inner = Map::new();
        inner.push(
            "b",
            Value::List(vec![Value::Str("x".into()), Value::Int(1)]),
        );
        let mut doc = Map::new();
        doc.push("a", Value::Map(inner));
        doc.push("", Value::Null);
        let _ = enseal::tree_path::lookup(&doc, &path);
        for c in &path {
            let _ = c.to_string();
        }
    }
}

/// The fixed data key of the decrypt target.
pub const DATA_KEY: [u8; 32] = *b"enseal-fuzz-fixed-data-key-32byt";

/// Decryption of arbitrary documents with a fixed data key: the input is
/// parsed as YAML (or JSON when it starts with `{`), every leaf is
/// decrypted; then the plaintext is encrypted and decrypted again, which
/// must succeed with the same MAC.
pub fn decrypt(data: &[u8]) {
    let kind = if data.first() == Some(&b'{') {
        FormatKind::Json
    } else {
        FormatKind::Yaml
    };
    let store = kind.store(&StoreOptions::default());
    let Ok(file) = store.parse_encrypted(data) else {
        return;
    };
    let Some(key) = DataKey::from_slice(&DATA_KEY) else {
        return;
    };
    let selector = Selector::new(&EncryptionRule::default());
    let mut cipher = Cipher::new(&key);
    let walk = |direction, mac_only_encrypted| Walk {
        direction,
        selector: &selector,
        mac_only_encrypted,
    };
    let mut documents = file.documents;
    let _ = walk(Direction::Decrypt, data.len() % 2 == 0).run(&mut documents, &mut cipher);

    // Round trip of whatever parsed as plaintext.
    let Ok(mut docs) = store.parse_plain(data) else {
        return;
    };
    let Ok(encrypted) = walk(Direction::Encrypt, false).run(&mut docs, &mut cipher) else {
        return;
    };
    match walk(Direction::Decrypt, false).run(&mut docs, &mut cipher) {
        Ok(decrypted) => assert_eq!(
            encrypted.mac, decrypted.mac,
            "MAC differs after a round trip"
        ),
        Err(e) => panic!("decrypt of what we encrypted failed: {e}"),
    }
}

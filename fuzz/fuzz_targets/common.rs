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
    ("format_toml", format_toml),
    ("preserve", preserve),
    ("merge", merge),
    ("check_scan", check_scan),
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
    let _ = walk(Direction::Decrypt, data.len().is_multiple_of(2)).run(&mut documents, &mut cipher);

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

/// The TOML store: whatever parses as plaintext emits and parses again to
/// the same tree; whatever parses as an encrypted file with metadata emits
/// and parses again to the same documents and metadata.
pub fn format_toml(data: &[u8]) {
    use enseal::format::toml::TomlStore;
    use enseal::format::Store;
    // A store remembers the layouts it read: a fresh store for each part.
    let store = TomlStore::new(&StoreOptions::default());
    if let Ok(docs) = store.parse_plain(data) {
        if let Ok(bytes) = store.emit_plain(&docs) {
            match store.parse_plain(&bytes) {
                Ok(again) => assert_eq!(
                    format!("{again:?}"),
                    format!("{docs:?}"),
                    "TOML tree changed in an emit/parse round trip; emitted:\n{}",
                    String::from_utf8_lossy(&bytes)
                ),
                Err(e) => panic!(
                    "re-parse of emitted TOML failed: {e}; emitted:\n{}",
                    String::from_utf8_lossy(&bytes)
                ),
            }
        }
    }
    let store = TomlStore::new(&StoreOptions::default());
    if let Ok(file) = store.parse_encrypted(data) {
        if let Some(meta) = &file.metadata {
            if let Ok(bytes) = store.emit_encrypted(&file.documents, meta) {
                match store.parse_encrypted(&bytes) {
                    Ok(again) => {
                        assert_eq!(
                            format!("{:?}", again.documents),
                            format!("{:?}", file.documents),
                            "encrypted TOML documents changed in a round trip; emitted:\n{}",
                            String::from_utf8_lossy(&bytes)
                        );
                        assert_eq!(
                            format!("{:?}", again.metadata),
                            format!("{:?}", file.metadata),
                            "TOML metadata changed in a round trip; emitted:\n{}",
                            String::from_utf8_lossy(&bytes)
                        );
                    }
                    Err(e) => panic!(
                        "re-parse of emitted encrypted TOML failed: {e}; emitted:\n{}",
                        String::from_utf8_lossy(&bytes)
                    ),
                }
            }
        }
    }
}

/// The public test age key of `testdata/keys/test-age-key.txt`.
pub const TEST_AGE_RECIPIENT: &str =
    "age1q7j5zfxmr9rdaq0vt8nwdmpa2708vs5a6vhrxx3yy44u0m9rad2qvdvhzj";
/// Its identity (a plainly marked test key, never used for real secrets).
pub const TEST_AGE_IDENTITY: &str =
    "AGE-SECRET-KEY-1FHCJ8ZZVFC9GQ4A6LR727T4YWU4JKT6C0M5GUL4PTAQS3RLPNW4QJX2SP8";

/// Format-preserving mode. The first byte picks the format (YAML, JSON,
/// dotenv, INI) and the encryption rule (all values, or only keys matching
/// `^[a-m]`); the rest is the file. It is encrypted for the test age key
/// with the normal mode and spliced in place; when that succeeds, the
/// output must decrypt (normal mode) and decrypt in place back to the
/// input byte for byte. Refusals are fine.
pub fn preserve(data: &[u8]) {
    use enseal::document::{self, EncryptSettings, EncryptedDocument};
    use enseal::keys::age::{AgeKey, Identities};
    use enseal::keys::{KeyContext, MasterKey};

    let Some((&selector, text)) = data.split_first() else {
        return;
    };
    let kind = match selector & 3 {
        0 => FormatKind::Yaml,
        1 => FormatKind::Json,
        2 => FormatKind::Dotenv,
        _ => FormatKind::Ini,
    };
    let rule = (selector & 4 != 0).then(|| EncryptionRule::EncryptedRegex("^[a-m]".into()));
    let store = kind.store(&StoreOptions::default());
    let Ok(plain) = store.parse_plain(text) else {
        return;
    };
    let Ok(recipient) = AgeKey::new(TEST_AGE_RECIPIENT) else {
        panic!("test recipient does not parse");
    };
    let settings = EncryptSettings {
        key_groups: vec![vec![MasterKey::Age(recipient)]],
        rule,
        ..Default::default()
    };
    let Ok(enc) = document::encrypt(plain.clone(), settings) else {
        return;
    };
    let Ok(out) =
        enseal::preserve::encrypt(kind, text, &plain, &enc.documents, &enc.metadata.to_map())
    else {
        return;
    };
    let read = match store.parse_encrypted(&out) {
        Ok(read) => read,
        Err(e) => panic!("preserve output does not parse: {e}"),
    };
    let meta = match read.metadata.as_ref().map(Metadata::from_map) {
        Some(Ok(m)) => m,
        other => panic!("preserve output has no readable metadata: {other:?}"),
    };
    let mut ids = Identities::empty();
    if let Err(e) = ids.add_text(TEST_AGE_IDENTITY, "test") {
        panic!("test identity: {e}");
    }
    let mut keys = KeyContext::with_age_identities(ids);
    let dec = match EncryptedDocument::new(read.documents.clone(), meta).decrypt(&mut keys, false) {
        Ok(dec) => dec,
        Err(e) => panic!("preserve output does not decrypt: {e}"),
    };
    match enseal::preserve::decrypt(kind, &out, &read.documents, &dec.documents) {
        Ok(back) => assert!(
            back == text,
            "in-place decryption differs from the input:\n{}\n---\n{}",
            String::from_utf8_lossy(&back),
            String::from_utf8_lossy(text)
        ),
        Err(e) => panic!("in-place decryption of what we wrote failed: {e}"),
    }
}

/// Three-way merge of three small documents: the input is split on 0xFF
/// bytes (never part of UTF-8 text) into base, ours and theirs, each parsed
/// as YAML (JSON when it starts with `{`). The merge never panics; merging a
/// side with itself or with the base gives the other side without
/// conflicts; and without conflicts every key that one side left as in the
/// base holds the other side's value.
pub fn merge(data: &[u8]) {
    use enseal::merge::merge_documents;

    let parts: Vec<&[u8]> = data.splitn(3, |&b| b == 0xff).collect();
    let [base, ours, theirs] = parts[..] else {
        return;
    };
    let parse = |bytes: &[u8]| {
        let kind = if bytes.first() == Some(&b'{') {
            FormatKind::Json
        } else {
            FormatKind::Yaml
        };
        kind.store(&StoreOptions::default()).parse_plain(bytes).ok()
    };
    let (Some(base), Some(ours), Some(theirs)) = (parse(base), parse(ours), parse(theirs)) else {
        return;
    };
    let yaml = FormatKind::Yaml.store(&StoreOptions::default());
    let render = |v: &Value| {
        yaml.emit_value(v)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    let merged = merge_documents(Some(&base), &ours, &theirs, &render);
    let _ = merge_documents(None, &ours, &theirs, &render);
    let _ = merge_documents(Some(&base), &theirs, &ours, &render);

    // NaN is not equal to itself: the equality rules do not apply.
    let has_nan = |docs: &[Map]| format!("{docs:?}").contains("NaN");
    if has_nan(&base) || has_nan(&ours) || has_nan(&theirs) {
        return;
    }
    let same = merge_documents(Some(&base), &base, &theirs, &render);
    assert!(same.conflicts.is_empty(), "conflict with ours == base");
    assert_eq!(same.documents, theirs, "ours == base must give theirs");
    let same = merge_documents(Some(&base), &ours, &base, &render);
    assert!(same.conflicts.is_empty(), "conflict with theirs == base");
    assert_eq!(same.documents, ours, "theirs == base must give ours");

    // Inside the merger: document 0 unchanged on ours, document 1 changed
    // differently on both sides (a conflict), so no shortcut applies.
    if let (Some(b), Some(t)) = (base.first(), theirs.first()) {
        let doc = |n: i64| {
            let mut m = Map::new();
            m.push("k", Value::Int(n));
            m
        };
        let m = merge_documents(
            Some(&[b.clone(), doc(0)]),
            &[b.clone(), doc(1)],
            &[t.clone(), doc(2)],
            &render,
        );
        assert_eq!(
            m.documents[0], *t,
            "document unchanged on ours must be theirs"
        );
        assert_eq!(m.conflicts, vec!["(document 1)[\"k\"]".to_string()]);
    }

    if merged.conflicts.is_empty() && base.len() == ours.len() && ours.len() == theirs.len() {
        for (((b, o), t), m) in base.iter().zip(&ours).zip(&theirs).zip(&merged.documents) {
            check_merged_map(b, o, t, m);
        }
    }
}

fn unique_keys(map: &Map) -> bool {
    let mut keys: Vec<&str> = map.entries().map(|(k, _)| k).collect();
    let n = keys.len();
    keys.sort_unstable();
    keys.dedup();
    keys.len() == n
}

/// Key by key: a key one side left as in the base holds the other side's
/// value (recursing into mappings merged key by key).
fn check_merged_map(base: &Map, ours: &Map, theirs: &Map, merged: &Map) {
    if !(unique_keys(base) && unique_keys(ours) && unique_keys(theirs)) {
        return;
    }
    let keys: Vec<&str> = ours
        .entries()
        .chain(theirs.entries())
        .map(|(k, _)| k)
        .collect();
    for k in keys {
        let (b, o, t, m) = (base.get(k), ours.get(k), theirs.get(k), merged.get(k));
        if b == o {
            assert_eq!(m, t, "key {k:?} unchanged on ours must be theirs");
        } else if b == t {
            assert_eq!(m, o, "key {k:?} unchanged on theirs must be ours");
        } else if let (Some(Value::Map(o)), Some(Value::Map(t)), Some(Value::Map(m))) = (o, t, m) {
            let empty = Map::new();
            let b = match b {
                Some(Value::Map(b)) => b,
                _ => &empty,
            };
            check_merged_map(b, o, t, m);
        }
    }
}

/// The secret scanner on arbitrary text: never panics; every hit names a
/// line of the text.
pub fn check_scan(data: &[u8]) {
    let hits = enseal::check::scan::scan(data);
    let lines = String::from_utf8_lossy(data).lines().count();
    for hit in &hits {
        assert!(
            hit.line >= 1 && hit.line <= lines,
            "hit on line {} of {lines}",
            hit.line
        );
    }
    if let Ok(text) = std::str::from_utf8(data) {
        for line in text.lines().take(64) {
            let _ = enseal::check::scan::looks_random(line);
        }
    }
}

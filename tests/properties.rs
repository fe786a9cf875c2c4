//! Property tests (proptest) in the normal test suite: the cipher, the
//! `ENC[…]` syntax, Shamir secret sharing, and whole-document encryption
//! round trips through the YAML and JSON stores.

use enseal::crypto::enc::EncValue;
use enseal::crypto::{Cipher, DataKey, EncryptionRule};
use enseal::document::{self, EncryptSettings, EncryptedDocument};
use enseal::format::{FormatKind, StoreOptions};
use enseal::keys::age::{AgeKey, Identities};
use enseal::keys::shamir;
use enseal::keys::{KeyContext, MasterKey};
use enseal::metadata::Metadata;
use enseal::tree::{Map, Value};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 64,
        ..ProptestConfig::default()
    }
}

/// sops' pattern needs at least one character of data (`data:(.+)`).
#[test]
fn empty_data_does_not_parse() {
    let key = DataKey::generate().unwrap();
    let text = Cipher::new(&key).encrypt(b"", b"a:", "str").unwrap();
    assert!(text.starts_with("ENC[AES256_GCM,data:,iv:"), "{text}");
    assert!(text.parse::<EncValue>().is_err());
}

proptest! {
    #![proptest_config(config())]

    /// Any plaintext, AAD and type name: encrypt, parse the `ENC[…]` text,
    /// decrypt → the same plaintext; the text parses back to what it says.
    /// (Empty values are never encrypted, by sops or enseal: an `ENC[…]`
    /// with empty data does not parse, see `empty_data_does_not_parse`.)
    #[test]
    fn cipher_round_trip(
        plain in proptest::collection::vec(any::<u8>(), 1..300),
        aad in "[a-z0-9:_]{0,40}",
        type_name in prop::sample::select(vec!["str", "int", "float", "bool", "bytes", "comment"]),
    ) {
        let key = DataKey::generate().unwrap();
        let mut cipher = Cipher::new(&key);
        let text = cipher.encrypt(&plain, aad.as_bytes(), type_name).unwrap();
        let value: EncValue = text.parse().unwrap();
        prop_assert_eq!(&value.type_name, type_name);
        prop_assert_eq!(value.iv.len(), 32);
        prop_assert_eq!(value.tag.len(), 16);
        let back = cipher.decrypt(&value, aad.as_bytes()).unwrap();
        prop_assert_eq!(&back[..], &plain[..]);
        prop_assert_eq!(EncValue::format(&value.data, &value.iv, &value.tag, type_name), text);
    }

    /// A different AAD, or any flipped ciphertext bit, fails authentication.
    #[test]
    fn cipher_detects_tampering(
        plain in proptest::collection::vec(any::<u8>(), 1..100),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let key = DataKey::generate().unwrap();
        let mut cipher = Cipher::new(&key);
        let text = cipher.encrypt(&plain, b"a:", "str").unwrap();
        let mut value: EncValue = text.parse().unwrap();
        prop_assert!(cipher.decrypt(&value, b"b:").is_err());
        let i = flip.index(value.data.len());
        value.data[i] ^= 1 << bit;
        prop_assert!(cipher.decrypt(&value, b"a:").is_err());
    }

    /// Any threshold-sized subset of the shares gives the secret back; one
    /// share fewer does not.
    #[test]
    fn shamir_threshold_subsets(
        secret in proptest::collection::vec(any::<u8>(), 1..64),
        parts in 2usize..7,
        threshold_seed in any::<prop::sample::Index>(),
        pick in any::<prop::sample::Index>(),
    ) {
        let threshold = 2 + threshold_seed.index(parts - 1);
        let shares = shamir::split(&secret, parts, threshold).unwrap();
        prop_assert_eq!(shares.len(), parts);
        // A rotating window of `threshold` shares starting at `start`.
        let start = pick.index(parts);
        let chosen: Vec<&[u8]> = (0..threshold).map(|k| &shares[(start + k) % parts][..]).collect();
        prop_assert_eq!(&shamir::combine(&chosen).unwrap()[..], &secret[..]);
        if threshold > 2 {
            let fewer = &chosen[..threshold - 1];
            let got = shamir::combine(fewer).map(|s| s.to_vec()).unwrap_or_default();
            prop_assert_ne!(got, secret);
        }
    }
}

/// Scalars every store represents the same way on a round trip.
fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[ -~]{0,20}".prop_map(Value::Str),
        "[a-zA-Z0-9 éß€日本]{1,12}".prop_map(Value::Str),
        any::<i32>().prop_map(|i| Value::Int(i64::from(i))),
        any::<bool>().prop_map(Value::Bool),
        // Never integral: yaml.v3 writes 2.0 as `2`, which reads back as an int.
        (-1_000_000i32..1_000_000, 1u8..8)
            .prop_map(|(i, e)| Value::Float(f64::from(i) + f64::from(e) / 8.0)),
    ]
}

fn tree() -> impl Strategy<Value = Map> {
    let leaf = scalar();
    let value = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 1..4).prop_map(Value::List),
            proptest::collection::btree_map("[a-z][a-z0-9_]{0,8}", inner, 1..4).prop_map(|m| {
                let mut map = Map::new();
                for (k, v) in m {
                    map.push(k, v);
                }
                Value::Map(map)
            }),
        ]
    });
    proptest::collection::btree_map("[a-z][a-z0-9_]{0,8}", value, 1..6).prop_map(|m| {
        let mut map = Map::new();
        for (k, v) in m {
            map.push(k, v);
        }
        map
    })
}

/// The public test key `testdata/keys/test-age-key.txt`.
fn test_identity() -> (String, Identities) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/keys/test-age-key.txt"
    ))
    .unwrap();
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .trim()
        .to_string();
    let mut ids = Identities::empty();
    ids.add_text(&text, "test key").unwrap();
    (recipient, ids)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// encrypt → emit → parse → decrypt gives the same tree, for YAML and
    /// JSON, and every scalar leaf was stored as an `ENC[…]` value.
    #[test]
    fn document_round_trip(doc in tree(), json in any::<bool>()) {
        let (recipient, ids) = test_identity();
        let kind = if json { FormatKind::Json } else { FormatKind::Yaml };
        let store = kind.store(&StoreOptions::default());
        // Through the store first: what the user would have on disk.
        let plain = store.emit_plain(std::slice::from_ref(&doc)).unwrap();
        let parsed = store.parse_plain(&plain).unwrap();
        prop_assert_eq!(&parsed, &vec![doc.clone()]);
        let settings = EncryptSettings {
            key_groups: vec![vec![MasterKey::Age(AgeKey::new(&recipient).unwrap())]],
            shamir_threshold: 0,
            rule: Some(EncryptionRule::default()),
            mac_only_encrypted: false,
            binary: false,
        };
        let encrypted = document::encrypt(parsed, settings).unwrap();
        let bytes = store
            .emit_encrypted(&encrypted.documents, &encrypted.metadata.to_map())
            .unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        prop_assert!(text.contains("ENC[AES256_GCM,"));
        let file = store.parse_encrypted(&bytes).unwrap();
        let metadata = Metadata::from_map(&file.metadata.unwrap()).unwrap();
        let back = EncryptedDocument::new(file.documents, metadata);
        let mut keys = KeyContext::with_age_identities(ids);
        let decrypted = back.decrypt(&mut keys, false).unwrap();
        prop_assert_eq!(&decrypted.documents, &vec![doc]);
    }
}

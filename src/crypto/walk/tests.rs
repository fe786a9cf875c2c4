//! Tests of the walk: the batch against the walk one leaf at a time.

use super::batch::{
    hashing_thread_share, walk_split, HASH_COST_PER_100_DECRYPTIONS, HASH_COST_PER_100_ENCRYPTIONS,
    PARALLEL_MIN_JOBS,
};
use super::*;
use crate::crypto::{DataKey, EncryptionRule};

/// The document of the spec's MAC example (docs/spec/format.md §11): a
/// comment, then `db` with a password and a port.
fn spec_example() -> Map {
    let mut db = Map::new();
    db.push("password", Value::Str("hunter2".into()));
    db.push("port", Value::Int(5432));
    let mut doc = Map::new();
    doc.0.push(Item::Comment(Comment::new(" db settings")));
    doc.push("db", Value::Map(db));
    doc
}

/// The spec example with a list (a comment, a null), an empty string and
/// an unencrypted value.
fn sample() -> Map {
    let mut doc = spec_example();
    doc.push(
        "list",
        Value::List(vec![
            Value::Str("a".into()),
            Value::Comment(Comment::new(" c")),
            Value::Null,
        ]),
    );
    doc.push("empty", Value::Str(String::new()));
    doc.push("plain_unencrypted", Value::Bool(true));
    doc
}

fn walk(direction: Direction, selector: &Selector, mac_only: bool) -> Walk<'_> {
    Walk {
        direction,
        selector,
        mac_only_encrypted: mac_only,
    }
}

#[test]
fn mac_matches_spec_example() {
    // docs/spec/format.md §11: SHA512("hunter2" ‖ "5432").
    let doc = spec_example();
    let key = DataKey::generate().unwrap();
    let mut cipher = Cipher::new(&key);
    let selector = Selector::new(&EncryptionRule::default());
    let out = walk(Direction::Encrypt, &selector, false)
        .run(&mut [doc], &mut cipher)
        .unwrap();
    assert!(out.mac.starts_with("9615C10A899BAE3C"), "{}", out.mac);
}

#[test]
fn encrypt_then_decrypt_restores_tree_and_mac() {
    let key = DataKey::generate().unwrap();
    let mut cipher = Cipher::new(&key);
    let selector = Selector::new(&EncryptionRule::default());
    let mut docs = vec![sample()];
    let enc = walk(Direction::Encrypt, &selector, false)
        .run(&mut docs, &mut cipher)
        .unwrap();
    let Some(Value::List(list)) = docs[0].get("list") else {
        panic!()
    };
    assert!(matches!(&list[1], Value::Str(s) if s.ends_with("type:comment]")));
    assert_eq!(docs[0].get("empty"), Some(&Value::Str(String::new())));
    assert_eq!(docs[0].get("plain_unencrypted"), Some(&Value::Bool(true)));
    let dec = walk(Direction::Decrypt, &selector, false)
        .run(&mut docs, &mut cipher)
        .unwrap();
    assert_eq!(enc.mac, dec.mac);
    assert_eq!(docs[0], sample());
}

#[test]
fn mac_only_encrypted_differs_and_skips_clear_values() {
    let key = DataKey::generate().unwrap();
    let mut cipher = Cipher::new(&key);
    let selector = Selector::new(&EncryptionRule::default());
    let full = walk(Direction::Encrypt, &selector, false)
        .run(&mut [sample()], &mut cipher)
        .unwrap();
    let only = walk(Direction::Encrypt, &selector, true)
        .run(&mut [sample()], &mut cipher)
        .unwrap();
    assert_ne!(full.mac, only.mac);
    let mut changed = sample();
    *changed.get_mut("plain_unencrypted").unwrap() = Value::Bool(false);
    let only_changed = walk(Direction::Encrypt, &selector, true)
        .run(&mut [changed], &mut cipher)
        .unwrap();
    assert_eq!(only.mac, only_changed.mac);
}

#[test]
fn swapped_values_fail_authentication_with_path_not_value() {
    let key = DataKey::generate().unwrap();
    let mut cipher = Cipher::new(&key);
    let selector = Selector::new(&EncryptionRule::default());
    let mut docs = vec![sample()];
    walk(Direction::Encrypt, &selector, false)
        .run(&mut docs, &mut cipher)
        .unwrap();
    let Some(Value::Map(db)) = docs[0].get_mut("db") else {
        panic!()
    };
    let pw = db.get("password").cloned().unwrap();
    *db.get_mut("port").unwrap() = pw;
    let err = walk(Direction::Decrypt, &selector, false)
        .run(&mut docs, &mut cipher)
        .unwrap_err();
    assert!(err.to_string().contains("[\"db\"][\"port\"]"), "{err}");
    assert!(!err.to_string().contains("hunter2"));
}

#[test]
fn comment_regex_rules_decrypt_as_they_encrypted_without_warnings() {
    for rule in [
        EncryptionRule::UnencryptedCommentRegex("keep".into()),
        EncryptionRule::EncryptedCommentRegex("enc".into()),
    ] {
        let mut doc = Map::new();
        doc.0.push(Item::Comment(Comment::new(" keep me")));
        doc.push("a", Value::Str("1".into()));
        doc.0.push(Item::Comment(Comment::new(" enc")));
        doc.0.push(Item::Comment(Comment::new(" secret note")));
        doc.push("b", Value::Str("2".into()));
        let original = doc.clone();
        let key = DataKey::generate().unwrap();
        let mut cipher = Cipher::new(&key);
        let selector = Selector::new(&rule);
        let mut docs = vec![doc];
        let enc = walk(Direction::Encrypt, &selector, false)
            .run(&mut docs, &mut cipher)
            .unwrap();
        let dec = walk(Direction::Decrypt, &selector, false)
            .run(&mut docs, &mut cipher)
            .unwrap();
        assert_eq!(enc.mac, dec.mac);
        assert!(dec.warnings.is_empty(), "{rule:?}: {:?}", dec.warnings);
        assert_eq!(docs[0], original, "{rule:?}");
    }
}

/// A document with enough leaves for the two-thread batch: every value
/// type, lists in lists, comments, empty strings, unencrypted keys.
fn large() -> Map {
    let mut doc = Map::new();
    for i in 0..(PARALLEL_MIN_JOBS / 4 + 10) {
        let mut m = Map::new();
        m.0.push(Item::Comment(Comment::new(format!(" note {i}"))));
        m.push("s", Value::Str(format!("secret-{i}")));
        m.push("n", Value::Int(i as i64 - 500));
        m.push("f", Value::Float(i as f64 / 8.0));
        m.push("empty", Value::Str(String::new()));
        m.push("b_unencrypted", Value::Bool(i % 2 == 0));
        m.push(
            "l",
            Value::List(vec![
                Value::Str("x".into()),
                Value::Comment(Comment::new(" in list")),
                Value::List(vec![Value::Bool(true), Value::Null]),
            ]),
        );
        doc.push(format!("k{i}"), Value::Map(m));
    }
    doc
}

/// A walk run two ways on copies of the same documents: in a batch (a
/// cipher that remembers nothing) and one leaf at a time (a remembering
/// cipher).
struct BothWays<'a> {
    selector: &'a Selector,
    key: &'a DataKey,
    mac_only: bool,
}

impl BothWays<'_> {
    /// Walks `batched` in a batch and `single` one leaf at a time: the
    /// outcomes in that order.
    fn run(
        &self,
        direction: Direction,
        batched: &mut [Map],
        single: &mut [Map],
    ) -> (
        Result<WalkOutcome, WalkError>,
        Result<WalkOutcome, WalkError>,
    ) {
        let walk = walk(direction, self.selector, self.mac_only);
        let mut cipher = Cipher::new(self.key);
        assert!(!cipher.is_remembering());
        let by_batch = walk.run(batched, &mut cipher);
        let by_leaf = walk.run(single, &mut Cipher::remembering(self.key));
        (by_batch, by_leaf)
    }

    /// [`BothWays::run`], where both walks succeed.
    fn ok(
        &self,
        direction: Direction,
        batched: &mut [Map],
        single: &mut [Map],
    ) -> (WalkOutcome, WalkOutcome) {
        let (by_batch, by_leaf) = self.run(direction, batched, single);
        (by_batch.unwrap(), by_leaf.unwrap())
    }
}

#[test]
fn two_thread_batch_matches_one_by_one_walk() {
    for mac_only in [false, true] {
        let key = DataKey::generate().unwrap();
        let selector = Selector::new(&EncryptionRule::UnencryptedSuffix("_unencrypted".into()));
        let original = large();
        // Batched (two threads) and one by one (a remembering cipher).
        let mut batched = vec![original.clone()];
        let mut single = vec![original.clone()];
        let both = BothWays {
            selector: &selector,
            key: &key,
            mac_only,
        };
        let (enc_batched, enc_single) = both.ok(Direction::Encrypt, &mut batched, &mut single);
        assert_eq!(enc_batched.mac, enc_single.mac);
        assert_ne!(batched, single, "fresh nonces differ");
        // Each decrypts the other's output.
        let (dec_batched, dec_single) = both.ok(Direction::Decrypt, &mut single, &mut batched);
        assert_eq!(dec_batched.mac, enc_single.mac);
        assert_eq!(dec_single.mac, enc_single.mac);
        assert_eq!(single[0], original);
        assert_eq!(batched[0], original);
    }
}

#[test]
fn split_walk_matches_one_by_one_with_top_level_comments_and_warnings() {
    let key = DataKey::generate().unwrap();
    let selector = Selector::new(&EncryptionRule::default());
    let mut original = large();
    // Comments between top-level entries, all through the document.
    for at in (0..original.0.len()).step_by(97).rev() {
        let comment = Comment::new(format!(" top {at}"));
        original.0.insert(at, Item::Comment(comment));
    }
    let k = walk_split(&original.0).expect("large enough to split");
    assert!(matches!(original.0[k - 1], Item::Entry(..)));
    let mut batched = vec![original.clone()];
    let mut single = vec![original.clone()];
    let both = BothWays {
        selector: &selector,
        key: &key,
        mac_only: false,
    };
    let (enc_batched, enc_single) = both.ok(Direction::Encrypt, &mut batched, &mut single);
    assert_eq!(enc_batched.mac, enc_single.mac);
    // Plain comments in both halves of an encrypted file: the same
    // warnings either way.
    for doc in [&mut batched[0], &mut single[0]] {
        let n = doc.0.len();
        for at in [1, n / 2 + 3, n - 2] {
            doc.0.insert(at, Item::Comment(Comment::new(" plain")));
        }
    }
    let (dec_batched, dec_single) = both.ok(Direction::Decrypt, &mut batched, &mut single);
    assert_eq!(dec_batched.warnings, dec_single.warnings);
    assert_eq!(dec_batched.warnings, [POSSIBLY_UNENCRYPTED_COMMENT]);
    assert_eq!(dec_batched.mac, enc_single.mac);
    assert_eq!(batched, single);
}

#[test]
fn replaced_values_are_wiped_and_held_until_dropped() {
    let key = DataKey::generate().unwrap();
    let selector = Selector::new(&EncryptionRule::default());
    let mut docs = vec![large()];
    let outcome = walk(Direction::Encrypt, &selector, false)
        .run(&mut docs, &mut Cipher::new(&key))
        .unwrap();
    let held: Vec<&Value> = outcome.retired.0.iter().flatten().collect();
    assert!(held.len() > PARALLEL_MIN_JOBS, "{}", held.len());
    for value in held {
        assert!(!format!("{value:?}").contains("secret-"), "{value:?}");
    }
}

#[test]
fn small_or_single_entry_documents_are_walked_whole() {
    let mut doc = Map::new();
    doc.push("a", Value::Str("x".into()));
    doc.push("b", Value::Str("y".into()));
    assert_eq!(walk_split(&doc.0), None);
    let mut one = Map::new();
    one.push("all", Value::Map(large()));
    assert_eq!(walk_split(&one.0), None);
}

#[test]
fn two_thread_batch_reports_the_first_bad_value_with_its_path() {
    let key = DataKey::generate().unwrap();
    let selector = Selector::new(&EncryptionRule::default());
    let mut encrypted = vec![large()];
    walk(Direction::Encrypt, &selector, false)
        .run(&mut encrypted, &mut Cipher::new(&key))
        .unwrap();
    let swap = |docs: &mut Vec<Map>, a: &str, b: &str| {
        let get = |docs: &mut Vec<Map>, k: &str| match docs[0].get_mut(k) {
            Some(Value::Map(m)) => m.get("s").cloned().unwrap(),
            _ => panic!(),
        };
        let (va, vb) = (get(docs, a), get(docs, b));
        let Some(Value::Map(m)) = docs[0].get_mut(a) else {
            panic!()
        };
        *m.get_mut("s").unwrap() = vb;
        let Some(Value::Map(m)) = docs[0].get_mut(b) else {
            panic!()
        };
        *m.get_mut("s").unwrap() = va;
    };
    let last = format!("k{}", PARALLEL_MIN_JOBS / 4 + 9);
    // Values swapped in the second thread's part, then in the first's:
    // the message names the first one in file order.
    for (a, b) in [("k1000", last.as_str()), ("k5", "k1000")] {
        let mut docs = encrypted.clone();
        swap(&mut docs, a, b);
        let err = walk(Direction::Decrypt, &selector, false)
            .run(&mut docs, &mut Cipher::new(&key))
            .unwrap_err();
        let want = format!("[\"{a}\"][\"s\"]");
        assert!(err.to_string().contains(&want), "{err}");
        assert!(!err.to_string().contains("secret-"), "{err}");
        // Named without walking again one leaf at a time, which would have
        // decrypted the values before the bad one in place.
        let Some(Value::Map(first)) = docs[0].get("k0") else {
            panic!()
        };
        assert!(
            matches!(first.get("s"), Some(Value::Str(s)) if s.starts_with("ENC[")),
            "{:?}",
            first.get("s")
        );
        let single = walk(Direction::Decrypt, &selector, false)
            .run(&mut docs, &mut Cipher::remembering(&key))
            .unwrap_err();
        assert_eq!(err, single);
    }
}

/// Every way a selected leaf can fail to open gives the same error in the
/// batch as in the walk one leaf at a time, naming the leaf's key path;
/// the batch leaves the tree as it was.
#[test]
fn batch_errors_match_the_one_by_one_walk() {
    let key = DataKey::generate().unwrap();
    let cipher = Cipher::new(&key);
    let iv = [7u8; 32];
    let sealed = |plain: &str, aad: &str, type_name: &str| {
        cipher.encrypt_with_iv(plain.as_bytes(), aad.as_bytes(), type_name, iv)
    };
    let good = sealed("hunter2", "db:x:", "str");
    let fields = crate::crypto::enc::EncFields::split(&good).unwrap();
    let with = |data: &str, iv: &str, tag: &str| {
        Value::Str(format!(
            "ENC[AES256_GCM,data:{data},iv:{iv},tag:{tag},type:str]"
        ))
    };
    let long = "QUFB".repeat(20);
    let cases = [
        Value::Int(5),
        Value::Str("hunter2".into()),
        with(fields.data, fields.iv, "bad!"),
        with(fields.data, fields.iv, &long),
        with("bad!", fields.iv, fields.tag),
        with(fields.data, "bad!", fields.tag),
        with(fields.data, &long, fields.tag),
        with(fields.data, "QUFBQUFBQUFBQUFBQUFBQUFB", fields.tag),
        Value::Str(sealed("hunter2", "db:y:", "str")),
        Value::Str(sealed("hunter2", "db:x:", "weird")),
        Value::Str(sealed("abc", "db:x:", "int")),
        Value::Str(sealed(" note", "db:x:", "comment")),
    ];
    let selector = Selector::new(&EncryptionRule::default());
    let both = BothWays {
        selector: &selector,
        key: &key,
        mac_only: false,
    };
    for (i, bad) in cases.into_iter().enumerate() {
        let mut db = Map::new();
        db.push("ok", Value::Str(sealed("fine", "db:ok:", "str")));
        db.push("x", bad);
        db.push("after", Value::Str("not even encrypted".into()));
        let mut doc = Map::new();
        doc.push("first", Value::Str(sealed("1", "first:", "int")));
        doc.push("db", Value::Map(db));
        let original = vec![doc];
        let mut batched = original.clone();
        let (batch_err, single_err) =
            both.run(Direction::Decrypt, &mut batched, &mut original.clone());
        let (batch_err, single_err) = (batch_err.unwrap_err(), single_err.unwrap_err());
        assert_eq!(batch_err, single_err, "case {i}");
        let message = batch_err.to_string();
        assert!(
            message.starts_with("at [\"db\"][\"x\"]: "),
            "case {i}: {message}"
        );
        assert!(!message.contains("hunter2"), "case {i}: {message}");
        assert_eq!(batched, original, "case {i}");
    }
}

/// With the cost model of the batch (a value costs 100, hashing one the
/// constant), the hashing thread's share makes both threads' work equal
/// within a value's cost.
#[test]
fn hashing_thread_share_balances_the_threads() {
    for total in [PARALLEL_MIN_JOBS, 10_007, 100_000] {
        let f = hashing_thread_share(Direction::Encrypt, total);
        // It hashes everything and seals f; the other seals the rest.
        let hashing = total * HASH_COST_PER_100_ENCRYPTIONS + f * 100;
        let other = (total - f) * 100;
        assert!(hashing.abs_diff(other) <= 200, "{total}: {hashing} {other}");
        let f = hashing_thread_share(Direction::Decrypt, total);
        // It opens and hashes f; the other opens the rest.
        let hashing = f * (100 + HASH_COST_PER_100_DECRYPTIONS);
        let other = (total - f) * 100;
        assert!(hashing.abs_diff(other) <= 300, "{total}: {hashing} {other}");
    }
}

#[test]
fn aad_paths() {
    assert_eq!(aad(&[]), ":");
    assert_eq!(aad(&["db", "password"]), "db:password:");
}

//! Tests of the TOML store.

use super::*;

fn round_trip(src: &str) -> String {
    let store = TomlStore::default();
    let docs = store.parse_plain(src.as_bytes()).unwrap();
    String::from_utf8(store.emit_plain(&docs).unwrap()).unwrap()
}

#[test]
fn comments_are_found_outside_strings() {
    let src = "a = \"# no\" # yes\nb = '''\n# no\n''' #c\r\n#d";
    let spans: Vec<_> = comment_spans(src).into_iter().map(|r| &src[r]).collect();
    assert_eq!(spans, ["# yes", "#c", "#d"]);
}

#[test]
fn classification_of_every_kind() {
    let src = r#"
s = "basic"
l = 'lit'
m = """
multi"""
ml = '''
multi lit'''
odd = "\u0041"
i = 42
h = 0xff
f = 1.5
e = 1e6
inf = inf
b = true
odt = 1979-05-27T07:32:00-08:00
odt2 = 1979-05-27 07:32:00Z
ldt = 1979-05-27T07:32:00
ld = 1979-05-27
lt = 07:32:00.5
"#;
    let doc = toml_edit::Document::parse(src).unwrap();
    let root = doc.as_item().as_table().unwrap();
    let kinds: Vec<(String, Kind)> = root
        .iter()
        .map(|(k, v)| {
            let v = v.as_value().unwrap();
            (k.to_string(), classify(&src[v.span().unwrap()], v).0)
        })
        .collect();
    let expect = [
        Kind::Str,
        Kind::StrLiteral,
        Kind::StrMultiline,
        Kind::StrMultilineLiteral,
        Kind::Raw,
        Kind::Int,
        Kind::Raw,
        Kind::Float,
        Kind::Raw,
        Kind::Float,
        Kind::Bool,
        Kind::Time,
        Kind::Raw,
        Kind::DatetimeLocal,
        Kind::DateLocal,
        Kind::TimeLocal,
    ];
    for ((k, got), want) in kinds.iter().zip(expect) {
        assert_eq!(*got, want, "{k}");
    }
    assert_eq!(round_trip(src), src);
}

#[test]
fn plain_round_trip_keeps_layout() {
    let src = "# top\n[package]\nname = \"x\" # trailing\n  version = '1'\n\n[[bin]]\nname = \"a\"\n[a.b]\nc.d = [1, # one\n 2]\nt = { x = 1, y = [true] }\n";
    assert_eq!(round_trip(src), src);
}

#[test]
fn comments_sit_before_their_entry() {
    let store = TomlStore::default();
    let docs = store
        .parse_plain(b"# c1\na = 1\n[t]\n# c2\nb = 2\n# end\n")
        .unwrap();
    let d = &docs[0];
    assert!(matches!(&d.0[0], Item::Comment(c) if c.text == " c1"));
    let Some(Value::Map(t)) = d.get("t") else {
        panic!()
    };
    assert!(matches!(&t.0[0], Item::Comment(c) if c.text == " c2"));
    assert!(matches!(d.0.last(), Some(Item::Comment(c)) if c.text == " end"));
}

#[test]
fn canonical_emission_keeps_order_when_read_back() {
    let mut inner = Map::new();
    inner.push("k", Value::Int(1));
    let mut m = Map::new();
    m.push("t", Value::Map(inner.clone()));
    m.push("x", Value::Str("a\"b".into()));
    m.push("u", Value::Map(inner.clone()));
    m.push(
        "list",
        Value::List(vec![Value::Map(inner.clone()), Value::Map(inner)]),
    );
    let mut out = String::new();
    write_table(
        &Fresh::default(),
        &m,
        &mut Vec::new(),
        &mut Vec::new(),
        &mut out,
    )
    .unwrap();
    let back = TomlStore::default().parse_plain(out.as_bytes()).unwrap();
    assert_eq!(back[0], m, "{out}");
}

#[test]
fn null_cannot_be_written() {
    let mut inner = Map::new();
    inner.push("n", Value::Null);
    let mut m = Map::new();
    m.push("a", Value::Map(inner));
    let err = TomlStore::default().emit_plain(&[m]).unwrap_err();
    assert!(err.to_string().contains("a:n"), "{err}");
}

#[test]
fn metadata_reads_back() {
    let key = |r: &str| {
        let mut k = Map::new();
        k.push("recipient", Value::Str(r.into()));
        k.push(
            "enc",
            Value::Str(
                "-----BEGIN AGE ENCRYPTED FILE-----\nabc\n-----END AGE ENCRYPTED FILE-----\n"
                    .into(),
            ),
        );
        Value::Map(k)
    };
    let group = |r: &str| {
        let mut g = Map::new();
        g.push("age", Value::List(vec![key(r), key("second")]));
        Value::Map(g)
    };
    let mut meta = Map::new();
    meta.push("shamir_threshold", Value::Int(2));
    meta.push("key_groups", Value::List(vec![group("a"), group("b")]));
    meta.push("lastmodified", Value::Str("2026-11-28T04:00:00Z".into()));
    meta.push(
        "mac",
        Value::Str("ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]".into()),
    );
    meta.push("mac_only_encrypted", Value::Bool(true));
    meta.push("unencrypted_regex", Value::Str("^a'\"\\b$".into()));
    meta.push("version", Value::Str("3.11.0".into()));
    let mut doc = Map::new();
    doc.push(
        "a",
        Value::Str("ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]".into()),
    );
    let store = TomlStore::default();
    let bytes = store.emit_encrypted(&[doc.clone()], &meta).unwrap();
    let back = store.parse_encrypted(&bytes).unwrap();
    assert_eq!(back.documents, vec![doc]);
    let got = back.metadata.unwrap();
    assert_eq!(got.0.len(), meta.0.len());
    for (k, v) in meta.entries() {
        assert_eq!(got.get(k), Some(v), "{k}");
    }
}

#[test]
fn sops_table_must_come_last() {
    let store = TomlStore::default();
    let err = store
        .parse_encrypted(b"[sops]\nversion = \"3\"\n[other]\na = 1\n")
        .unwrap_err();
    assert!(err.to_string().contains("last"), "{err}");
    let err = store.parse_encrypted(b"sops = 1\n").unwrap_err();
    assert!(err.to_string().contains("table"), "{err}");
    let none = store.parse_encrypted(b"a = 1\n").unwrap();
    assert!(none.metadata.is_none());
}

#[test]
fn mutated_inputs_never_panic_and_valid_ones_round_trip() {
    let seeds: [&[u8]; 3] = [
        b"# c\n[a]\nb = \"x\" # t\nc = [1, 'two', \"\"\"\nthree\"\"\"]\n[[d]]\ne = { f = 1979-05-27 }\n",
        b"x.y.z = 0x1F # hex\n'q k' = '''\nml'''\n[t]\nn = nan\n",
        b"[sops]\nversion = \"3.11.0\"\n",
    ];
    let store = TomlStore::default();
    for seed in seeds {
        for i in 0..seed.len() {
            for byte in [b'#', b'"', b'\'', b'[', b'\n', b'=', 0xff, b'x'] {
                let mut input = seed.to_vec();
                input[i] = byte;
                for cut in [input.len(), i] {
                    let input = &input[..cut];
                    if let Ok(docs) = store.parse_plain(input) {
                        let out = store.emit_plain(&docs).unwrap();
                        assert_eq!(out, input, "{}", String::from_utf8_lossy(input));
                    }
                    let _ = store.parse_encrypted(input);
                }
            }
        }
    }
}

#[test]
fn decrypted_text_cannot_inject_toml() {
    for bad in [
        "1 # x",
        "1\nb = 2",
        "\"a\" ",
        " 1",
        "[1]",
        "{ a = 1 }",
        "1979-05-27\nx = 1",
        "",
    ] {
        assert!(!is_scalar_source(bad, None), "{bad:?}");
        let text = render_str(Kind::Raw, bad);
        let doc = format!("k = {text}\n");
        let parsed: toml_edit::DocumentMut = doc.parse().unwrap();
        assert_eq!(parsed["k"].as_str(), Some(bad), "{doc}");
    }
    assert!(is_scalar_source("0x1F", None));
    assert!(is_scalar_source("1979-05-27", Some(Kind::DateLocal)));
    assert!(!is_scalar_source("1979-05-27", Some(Kind::TimeLocal)));
    for (kind, s) in [
        (Kind::StrLiteral, "it's"),
        (Kind::StrMultilineLiteral, "a'''b"),
        (Kind::StrMultilineLiteral, "ends'"),
        (Kind::StrMultiline, "q\"\"\"q\\"),
        (Kind::DateLocal, "not a date"),
    ] {
        let doc = format!("k = {}\n", render_str(kind, s));
        let parsed: toml_edit::DocumentMut = doc.parse().unwrap();
        assert_eq!(parsed["k"].as_str(), Some(s), "{doc}");
    }
}

#[test]
fn parse_errors_have_line_and_column() {
    let err = TomlStore::default()
        .parse_plain(b"a = 1\nb = \n")
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("line 2: column"), "{msg}");
    assert!(!msg.contains('\n'));
}

/// A file in a layout enseal would not write by itself: the canonical
/// writer would move the comment, requote the string and drop the spaces.
const ODD_A: &str = "a   =   1 # note\n[t]\n  x = 'lit'\n";
const ODD_B: &str = "[[list]]\nname    = \"b\"\n\n[other]\ny = true   # b's\n";

#[test]
fn interleaved_files_keep_their_own_layouts() {
    // Two files read and written interleaved on one thread: each store
    // writes its own file back, whatever the other one read last. With the
    // former per-thread registry, writing A after reading B picked B's
    // layout (the newest) and wrote A canonically.
    let a = TomlStore::default();
    let b = TomlStore::default();
    let docs_a = a.parse_plain(ODD_A.as_bytes()).unwrap();
    let docs_b = b.parse_plain(ODD_B.as_bytes()).unwrap();
    assert_eq!(
        String::from_utf8(a.emit_plain(&docs_a).unwrap()).unwrap(),
        ODD_A
    );
    assert_eq!(
        String::from_utf8(b.emit_plain(&docs_b).unwrap()).unwrap(),
        ODD_B
    );
    // Again in the other order, after each store wrote once.
    let docs_b = b.parse_plain(ODD_B.as_bytes()).unwrap();
    let docs_a = a.parse_plain(ODD_A.as_bytes()).unwrap();
    assert_eq!(
        String::from_utf8(b.emit_plain(&docs_b).unwrap()).unwrap(),
        ODD_B
    );
    assert_eq!(
        String::from_utf8(a.emit_plain(&docs_a).unwrap()).unwrap(),
        ODD_A
    );
}

#[test]
fn layout_travels_only_through_a_shared_handle() {
    let options = StoreOptions::default();
    let layouts = Layouts::default();
    let reader = TomlStore::sharing(&options, &layouts);
    let writer = TomlStore::sharing(&options, &layouts);
    let docs = reader.parse_plain(ODD_A.as_bytes()).unwrap();
    // The writer knows the layout because it was given the reader's handle.
    assert_eq!(
        String::from_utf8(writer.emit_plain(&docs).unwrap()).unwrap(),
        ODD_A
    );
    // A store with a handle of its own writes the same tree canonically.
    let stranger = TomlStore::new(&options);
    let canonical = String::from_utf8(stranger.emit_plain(&docs).unwrap()).unwrap();
    assert_ne!(canonical, ODD_A);
    assert_eq!(stranger.parse_plain(canonical.as_bytes()).unwrap(), docs);
}

#[test]
fn binary_envelope_of_one_store_does_not_make_another_binary() {
    // A `.toml` file that sops encrypted as binary makes its own store read
    // the edited plaintext as one blob; another store still reads TOML.
    let options = StoreOptions::default();
    let envelope = BinaryStore::new(&options)
        .emit_encrypted(&[Map::new()], &Map::new())
        .unwrap();
    let enveloped = TomlStore::new(&options);
    enveloped.parse_encrypted(&envelope).unwrap();
    let plain = TomlStore::new(&options);
    let docs = plain.parse_plain(b"k = 1\n").unwrap();
    assert_eq!(docs[0].get("k"), Some(&Value::Int(1)));
    let blob = enveloped.parse_plain(b"k = 1\n").unwrap();
    assert_eq!(
        blob,
        BinaryStore::new(&options).parse_plain(b"k = 1\n").unwrap()
    );
}

#[test]
fn envelope_test_agrees_with_the_crypto_layer() {
    // The store recognizes ENC values by syntax alone; the crypto layer is
    // the authority on the envelope (imported here by the test only).
    for s in [
        "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]",
        "ENC[AES256_GCM,",
        "ENC[x]",
        "ENC[aes256_gcm,data:x]",
        " ENC[AES256_GCM,data:x]",
        "",
        "plain",
    ] {
        assert_eq!(
            is_enc_envelope(s),
            crate::crypto::enc::is_encrypted(s),
            "{s:?}"
        );
    }
}

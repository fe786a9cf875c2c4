//! Tests of the INI store.

use super::write::*;
use super::*;
use crate::tree::{Comment, Item, Timestamp};

fn round_trip(input: &str) -> String {
    let docs = IniStore.parse_plain(input.as_bytes()).unwrap();
    String::from_utf8(IniStore.emit_plain(&docs).unwrap()).unwrap()
}

/// Every `testdata/ini/NAME.ini` must come out as `NAME.expected.ini`,
/// which is what the reference sops 3.11.0 printed for
/// `sops decrypt (sops encrypt NAME.ini)`.
#[test]
fn golden_files_match_reference() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/ini");
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".ini") || name.ends_with(".expected.ini") {
            continue;
        }
        let expected_path = path.with_file_name(name.replace(".ini", ".expected.ini"));
        let Ok(expected) = std::fs::read(&expected_path) else {
            continue;
        };
        let input = std::fs::read(&path).unwrap();
        let docs = IniStore
            .parse_plain(&input)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let out = IniStore.emit_plain(&docs).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&expected),
            "{name}"
        );
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} golden files");
}

/// `text` with the lines of its `[sops]` section sorted (sops 3.11
/// writes them in random order; enseal sorts them).
fn sort_metadata_lines(text: &str) -> String {
    let (body, meta) = text.split_once("[sops]\n").unwrap();
    let mut lines: Vec<&str> = meta.lines().collect();
    lines.sort_unstable();
    format!("{body}[sops]\n{}\n", lines.join("\n"))
}

/// Files written by the reference sops 3.11.0 (`encrypted/*.enc.ini`)
/// read and write back byte for byte, up to the `[sops]` key order.
#[test]
fn encrypted_files_round_trip() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/ini/encrypted");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let file = IniStore.parse_encrypted(text.as_bytes()).unwrap();
        let metadata = file.metadata.expect("metadata");
        assert!(!IniStore.has_metadata_key(&file.documents[0]));
        let out = IniStore.emit_encrypted(&file.documents, &metadata).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            sort_metadata_lines(&text),
            "{}",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 3);
}

#[test]
fn metadata_is_typed_and_unescaped() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/ini/encrypted");
    let text = std::fs::read(dir.join("groups.enc.ini")).unwrap();
    let meta = IniStore.parse_encrypted(&text).unwrap().metadata.unwrap();
    assert_eq!(meta.get("mac_only_encrypted"), Some(&Value::Bool(true)));
    assert_eq!(meta.get("shamir_threshold"), Some(&Value::Int(2)));
    let Some(Value::List(groups)) = meta.get("key_groups") else {
        panic!("key_groups: {meta:?}")
    };
    assert_eq!(groups.len(), 2);
    let Value::Map(group) = &groups[0] else {
        panic!()
    };
    let Some(Value::List(age)) = group.get("age") else {
        panic!()
    };
    let Value::Map(key) = &age[0] else { panic!() };
    let enc = key.get("enc").and_then(Value::as_str).unwrap();
    assert!(enc.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\nYWdl"));
    assert!(enc.ends_with("\n-----END AGE ENCRYPTED FILE-----\n"));
}

fn section(items: Vec<Item>) -> Value {
    Value::Map(Map(items))
}

fn entry(k: &str, v: Value) -> Item {
    Item::Entry(k.into(), v)
}

fn comment(text: &str) -> Item {
    Item::Comment(Comment::new(text))
}

fn emit(doc: Map) -> String {
    String::from_utf8(IniStore.emit_plain(&[doc]).unwrap()).unwrap()
}

#[test]
fn tree_layout_of_sections_keys_and_comments() {
    let input = "g = 1\n;c1\n#c2\n[s] ; after\nk=v;semi\n# above\nk2 : x # hash\n";
    let docs = IniStore.parse_plain(input.as_bytes()).unwrap();
    let mut expected = Map::new();
    expected.push("DEFAULT", section(vec![entry("g", Value::Str("1".into()))]));
    expected.push(
        "s",
        section(vec![
            comment("c1\n#c2\n; after"),
            entry("k", Value::Str("v".into())),
            comment("semi"),
            entry("k2", Value::Str("x".into())),
            comment("above\n# hash"),
        ]),
    );
    assert_eq!(docs, vec![expected]);
    assert_eq!(
        round_trip(input),
        "g = 1\n\n; c1\n# c2\n; after\n[s]\n; semi\nk  = v\n; above\n# hash\nk2 = x\n"
    );
}

#[test]
fn default_section_always_first_and_empty_one_omitted() {
    let docs = IniStore.parse_plain(b"[a]\nx = 1\n").unwrap();
    assert_eq!(docs[0].0.len(), 2);
    assert_eq!(docs[0].get("DEFAULT"), Some(&Value::Map(Map::new())));
    assert_eq!(round_trip("[a]\nx = 1\n"), "[a]\nx = 1\n");
    assert_eq!(
        round_trip("k=v\n[DEFAULT]\nk2=v2\n"),
        "k = v\n\n[DEFAULT]\nk2 = v2\n"
    );
    assert_eq!(round_trip(""), "");
}

#[test]
fn quoting_on_write() {
    let mut doc = Map::new();
    doc.push(
        "s",
        section(vec![
            entry("nl", Value::Str("a\nb".into())),
            entry("bq", Value::Str("a`b".into())),
            entry("semi", Value::Str("a;b".into())),
            entry("hash", Value::Str("a#b".into())),
            entry("lead", Value::Str(" a".into())),
            entry("empty", Value::Str(String::new())),
            entry("k=1", Value::Str("v".into())),
            entry("k\"q", Value::Str("v".into())),
            entry("k`b", Value::Str("v".into())),
        ]),
    );
    assert_eq!(
        emit(doc),
        "[s]\nnl        = \"\"\"a\nb\"\"\"\nbq        = \"\"\"a`b\"\"\"\n\
         semi      = `a;b`\nhash      = `a#b`\nlead      = \" a\"\n\
         empty     = \n`k=1`     = v\n`k\"q`     = v\n\"\"\"k`b\"\"\" = v\n"
    );
}

#[test]
fn comment_markers_on_write() {
    let mut doc = Map::new();
    doc.push(
        "s",
        section(vec![
            comment("plain  \n;semi  \n#hash"),
            entry("k", Value::Str("v".into())),
            comment("ENC[AES256_GCM,data:x,type:comment]\n  two  "),
            entry("k2", Value::Str("v".into())),
        ]),
    );
    doc.0.push(comment("top-level comments are dropped"));
    assert_eq!(
        emit(doc),
        "; plain  \n; semi\n# hash\n[s]\n\
         ; ENC[AES256_GCM,data:x,type:comment]\n; two\nk  = v\nk2 = v\n"
    );
}

#[test]
fn duplicate_keys_keep_first_position() {
    let mut doc = Map::new();
    doc.push(
        "s",
        section(vec![
            entry("a", Value::Str("1".into())),
            comment("ca"),
            entry("b", Value::Str("2".into())),
            entry("a", Value::Str("3".into())),
        ]),
    );
    assert_eq!(emit(doc), "[s]\n; ca\na = 3\nb = 2\n");
    assert_eq!(
        round_trip("[s]\n;x\na=1\nb=2\na=3\n"),
        "[s]\na = 3\nb = 2\n"
    );
}

#[test]
fn non_string_values_as_text() {
    // The reference's output for `sops decrypt --output-type ini` of a
    // YAML file with these values.
    let mut nested = Map::new();
    nested.push("e", Value::Int(1));
    let mut inner = Map::new();
    inner.push("g", Value::Str("h".into()));
    nested.push("f", Value::Map(inner));
    let mut doc = Map::new();
    doc.push(
        "b",
        section(vec![
            entry(
                "c",
                Value::List(vec![
                    Value::Int(1),
                    Value::Float(2.5),
                    Value::Bool(true),
                    Value::Null,
                    Value::Str("x<y".into()),
                ]),
            ),
            entry("d", Value::Map(nested)),
            entry(
                "t",
                Value::Time(Timestamp::parse_rfc3339("2001-12-14t21:59:43.10-05:00").unwrap()),
            ),
            entry("f", Value::Float(1000.0)),
            entry("g", Value::Float(1e21)),
            entry("n", Value::Null),
            entry("i", Value::Int(-5)),
            entry("l", Value::List(vec![Value::Float(2.5e30)])),
        ]),
    );
    assert_eq!(
        emit(doc),
        "[b]\nc = [1 2.5 true <nil> x<y]\nd = [{e 1} {f [{g h}]}]\n\
         t = 2001-12-14T21:59:43-05:00\nf = 1000.0\ng = 1E+21\nn = <nil>\n\
         i = -5\nl = [2.5e+30]\n"
    );
}

/// Values of several lines that go-ini writes but cannot read back are
/// written in the quotes it reads back (sops 3.11 writes `"""` and,
/// reading it, ends the value early).
#[test]
fn values_are_quoted_so_that_go_ini_reads_them_back() {
    let cases: &[(&str, &str)] = &[
        // go-ini's own choice where it reads back.
        ("a\nb", "\"\"\"a\nb\"\"\""),
        ("a\nb\"\"\"c", "\"\"\"a\nb\"\"\"c\"\"\""),
        ("a\nb`c", "\"\"\"a\nb`c\"\"\""),
        ("a\n", "\"\"\"a\n\"\"\""),
        ("x`", "\"\"\"x`\"\"\""),
        ("\"\"\"x`", "\"\"\"\"\"\"x`\"\"\""),
        // `"""` on a line before the last: backquotes.
        (
            "x\n[b]\nk1 = \"\"\"token x\"\"\"\nk1 = 9",
            "`x\n[b]\nk1 = \"\"\"token x\"\"\"\nk1 = 9`",
        ),
        ("\"\"\"\nx", "`\"\"\"\nx`"),
    ];
    for &(value, written) in cases {
        assert_eq!(
            quote_value(value, Quoting::AsGoIni).as_deref(),
            Some(written),
            "{value:?}"
        );
        let text = format!("[s]\nk = {written}\nnext = 1\n");
        let docs = IniStore.parse_plain(text.as_bytes()).unwrap();
        let Some(Value::Map(s)) = docs[0].get("s") else {
            panic!("no section in {text:?}");
        };
        assert_eq!(s.get("k"), Some(&Value::Str(value.into())), "{text:?}");
        assert_eq!(s.get("next"), Some(&Value::Str("1".into())), "{text:?}");
    }
    // No quoting reads back both quotes before the last line.
    assert_eq!(quote_value("a`\nb\"\"\"\nc", Quoting::AsGoIni), None);
}

/// Values of several lines read as sops 3.11 reads them (each case
/// measured with the reference): a line that ends in a backslash does not
/// close the value, whatever quote it holds.
#[test]
fn a_line_ending_in_a_backslash_does_not_close_a_quoted_value() {
    let cases: &[(&str, Option<&str>)] = &[
        ("[s]\nk = `a\nb\\\nc`\n", Some("a\nb\\\nc")),
        ("[s]\nk = `a\nb`c\\\n`\n", Some("a\nb`c\\\n")),
        ("[s]\nk = `a\nb`c \\\nd`e\nn = 1\n", Some("a\nb`c \\\nd")),
        (
            "[s]\nk = \"\"\"a\nb\"\"\"c\\\nd\"\"\"e\nn = 1\n",
            Some("a\nb\"\"\"c\\\nd"),
        ),
        // No later quote: the value is never closed.
        ("[s]\nk = `a\nb`c\\\nn = 1\n", None),
        ("[s]\nk = `a\nb`c\\   \nn = 1\n", None),
    ];
    for &(text, want) in cases {
        let read = IniStore.parse_plain(text.as_bytes());
        match want {
            Some(want) => {
                let docs = read.unwrap();
                let Some(Value::Map(s)) = docs[0].get("s") else {
                    panic!("no section in {text:?}");
                };
                assert_eq!(s.get("k"), Some(&Value::Str(want.into())), "{text:?}");
            }
            None => assert!(read.is_err(), "{text:?}"),
        }
    }
}

/// In an encrypted file every clear-text value must read back as it
/// is (the MAC covers it): values of one line that go-ini reads otherwise
/// are quoted there, and left as go-ini writes them in decrypted output.
#[test]
fn encrypted_files_quote_values_go_ini_would_misread() {
    let cases: &[(&str, &str)] = &[
        // A final backslash continues the line (DIFF_SEED=0x18ef03354fc502b2).
        ("\u{e9}_\\", "`\u{e9}_\\`"),
        ("a \\", "`a \\`"),
        // Surrounding quotes are taken off.
        ("\"x\"", "`\"x\"`"),
        ("'x'", "`'x'`"),
        // A backquote: go-ini's own `"""` reads back.
        ("`x\\", "\"\"\"`x\\\"\"\""),
        // Read back as written: unchanged.
        ("a\\b", "a\\b"),
        ("it's", "it's"),
        (
            "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]",
            "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]",
        ),
    ];
    for &(value, written) in cases {
        assert_eq!(
            quote_value(value, Quoting::ReadsBack).as_deref(),
            Some(written),
            "{value:?}"
        );
        assert!(reads_back(written, value), "{written:?}");
        if written != go_ini_quoted(value) {
            assert!(!reads_back(&go_ini_quoted(value), value), "{value:?}");
        }
        // Decrypted output stays as the reference writes it, but for a
        // final backslash, which would take in the next line.
        let as_go_ini = if value.trim_end().ends_with('\\') {
            written.to_string()
        } else {
            go_ini_quoted(value)
        };
        assert_eq!(
            quote_value(value, Quoting::AsGoIni),
            Some(as_go_ini),
            "{value:?}"
        );
    }
}

/// The case the differential harness found: a clear-text value read
/// from an unclosed backquote holds a line with `"""` (sops 3.11
/// cannot decrypt its own file there).
#[test]
fn unclosed_backtick_value_round_trips() {
    let input = "[a]\nk_unencrypted = `x\n[b]\nk1 = \"\"\"t\"\"\"\nk1 = 9\nk2 = y`\n";
    let docs = IniStore.parse_plain(input.as_bytes()).unwrap();
    let written = IniStore.emit_plain(&docs).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&written),
        "[a]\nk_unencrypted = `x\n[b]\nk1 = \"\"\"t\"\"\"\nk1 = 9\nk2 = y`\n"
    );
    assert_eq!(IniStore.parse_plain(&written).unwrap(), docs);
}

#[test]
fn emit_errors() {
    let mut doc = Map::new();
    doc.push("a", Value::Int(1));
    assert_eq!(
        IniStore.emit_plain(&[doc]).unwrap_err().to_string(),
        "Error marshaling to ini: Error encoding section: Section values should always be TreeBranches"
    );
    let mut doc = Map::new();
    doc.push("s", section(vec![entry("", Value::Str("x".into()))]));
    assert_eq!(
        IniStore.emit_plain(&[doc]).unwrap_err().to_string(),
        "Error marshaling to ini: Error encoding key: error creating new key: empty key name"
    );
    let mut doc = Map::new();
    doc.push(
        "s",
        section(vec![entry("k", Value::Str("a`\nb\"\"\"\nc".into()))]),
    );
    assert_eq!(
        IniStore.emit_plain(&[doc]).unwrap_err().to_string(),
        "Error marshaling to ini: Error encoding key: the value of \"k\" in section [s] has \
         lines before its last holding both `\"\"\"` and a backquote: go-ini cannot read it \
         back in any quoting (the value is not shown)"
    );
}

/// go-ini's messages, without the line it quotes (it may hold a
/// secret): the line number is given instead.
#[test]
fn parse_errors_match_go_ini() {
    let err = |input: &str| {
        IniStore
            .parse_plain(input.as_bytes())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err("[s]\nfoo\n"),
        "Could not unmarshal input data: key-value delimiter not found (line 2)"
    );
    assert_eq!(
        err("[]\n"),
        "Could not unmarshal input data: empty section name (line 1)"
    );
    assert_eq!(
        err("=1\n"),
        "Could not unmarshal input data: empty key name (line 1)"
    );
    assert_eq!(
        err("[s\n"),
        "Could not unmarshal input data: unclosed section: no `]` on the line (line 1)"
    );
    assert_eq!(
        err("a=\"\"\"x\n"),
        "Could not unmarshal input data: missing closing \"\\\"\\\"\\\"\" of the value opened on line 1 (the value is not shown) (line 1)"
    );
    // Encrypted files: go-ini's message alone, as sops 3.11 prints it.
    assert_eq!(
        IniStore.parse_encrypted(b"foo").unwrap_err().to_string(),
        "key-value delimiter not found (line 1)"
    );
    assert_eq!(
        err("[s]\na = 1\nk = `x\ny\nz\n"),
        "Could not unmarshal input data: missing closing \"`\" of the value opened on line 3 (the value is not shown) (line 5)"
    );
    assert_eq!(
        err("[s]\n\"key value\n"),
        "Could not unmarshal input data: missing closing key quote \"\\\"\" (line 2)"
    );
}

#[test]
fn values_quotes_and_inline_comments() {
    let input = "a = \"x y\"\nb = 'z'\nc = \"a;b\"\nd = `p;q` r\ne = \"\"\"m\nn\"\"\" ;c\n\
                 f = one \\\n  two\ng = v#c\n- = auto\n";
    let docs = IniStore.parse_plain(input.as_bytes()).unwrap();
    let values: Vec<(String, String)> = match docs[0].get("DEFAULT") {
        Some(Value::Map(m)) => m
            .entries()
            .map(|(k, v)| (k.to_string(), v.as_str().unwrap().to_string()))
            .collect(),
        other => panic!("{other:?}"),
    };
    let pairs: Vec<(&str, &str)> = values
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("a", "x y"),
            ("b", "z"),
            ("c", "\"a"),
            ("d", "p;q"),
            ("e", "m\nn"),
            ("f", "one two"),
            ("g", "v"),
            ("#1", "auto")
        ]
    );
}

#[test]
fn encrypted_metadata_section() {
    let mut age = Map::new();
    age.push("recipient", Value::Str("age1x".into()));
    age.push(
        "enc",
        Value::Str("-----BEGIN-----\nabc\n-----END-----\n".into()),
    );
    let mut meta = Map::new();
    meta.push("version", Value::Str("3.11.0".into()));
    meta.push("age", Value::List(vec![Value::Map(age)]));
    meta.push("mac_only_encrypted", Value::Bool(false));
    meta.push("shamir_threshold", Value::Int(2));
    meta.push("kms", Value::List(vec![]));
    let mut doc = Map::new();
    doc.push("DEFAULT", section(vec![]));
    doc.push("s", section(vec![entry("k", Value::Str("ENC[x]".into()))]));
    let out = IniStore.emit_encrypted(&[doc.clone()], &meta).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text,
        "[s]\nk = ENC[x]\n\n[sops]\n\
         age__list_0__map_enc       = -----BEGIN-----\\nabc\\n-----END-----\\n\n\
         age__list_0__map_recipient = age1x\n\
         mac_only_encrypted         = false\n\
         shamir_threshold           = 2\n\
         version                    = 3.11.0\n"
    );
    let back = IniStore.parse_encrypted(text.as_bytes()).unwrap();
    assert_eq!(back.documents, vec![doc]);
    let meta_back = back.metadata.unwrap();
    assert_eq!(meta_back.get("shamir_threshold"), Some(&Value::Int(2)));
    assert_eq!(
        meta_back.get("mac_only_encrypted"),
        Some(&Value::Bool(false))
    );
    let Some(Value::List(ages)) = meta_back.get("age") else {
        panic!()
    };
    let Value::Map(age) = &ages[0] else { panic!() };
    assert_eq!(
        age.get("enc"),
        Some(&Value::Str("-----BEGIN-----\nabc\n-----END-----\n".into()))
    );
}

#[test]
fn reads_313_armor_with_real_newlines() {
    let text = "[foo]\nbar = x\n\n[sops]\nenc = \"\"\"-----BEGIN-----\n\nabc\n-----END-----\"\"\"\nversion = 3.13.1\n";
    let file = IniStore.parse_encrypted(text.as_bytes()).unwrap();
    let meta = file.metadata.unwrap();
    assert_eq!(
        meta.get("enc"),
        Some(&Value::Str("-----BEGIN-----\n\nabc\n-----END-----".into()))
    );
    assert_eq!(file.documents[0].0.len(), 2);
    assert!(IniStore
        .parse_encrypted(b"[a]\nb=c\n")
        .unwrap()
        .metadata
        .is_none());
}

#[test]
fn metadata_key_is_a_sops_section() {
    let docs = IniStore.parse_plain(b"a=1\n[sops]\nb=2\n").unwrap();
    assert!(IniStore.has_metadata_key(&docs[0]));
    let docs = IniStore.parse_plain(b"sops=1\n").unwrap();
    assert!(!IniStore.has_metadata_key(&docs[0]));
}

#[test]
fn emit_value_is_go_json() {
    let v = Value::List(vec![
        Value::Int(1),
        Value::Float(2.5),
        Value::Bool(true),
        Value::Null,
        Value::Str("x<y".into()),
    ]);
    assert_eq!(
        IniStore.emit_value(&v).unwrap(),
        b"[1,2.5,true,null,\"x\\u003cy\"]"
    );
    let t = Timestamp::parse_rfc3339("2001-12-14t21:59:43.10-05:00").unwrap();
    assert_eq!(
        IniStore.emit_value(&Value::Time(t)).unwrap(),
        b"\"2001-12-14T21:59:43.1-05:00\""
    );
    assert_eq!(IniStore.emit_value(&Value::Float(1e21)).unwrap(), b"1e+21");
    assert!(IniStore.emit_value(&Value::Float(f64::NAN)).is_err());
}

#[test]
fn comment_texts_from_other_formats() {
    // The reference's output for `sops decrypt --output-type ini` of a
    // YAML file with comments `#;foo  `, `##bar`, `#   spaced` and
    // `# lead space` (section comments keep their spacing, key
    // comments are trimmed).
    let mut doc = Map::new();
    doc.push(
        "s",
        section(vec![
            comment(";foo  "),
            entry("a", Value::Int(1)),
            comment("#bar"),
            entry("b", Value::Int(2)),
            comment("   spaced"),
            entry("c", Value::Int(3)),
        ]),
    );
    doc.push(
        "t",
        section(vec![comment(" lead space"), entry("d", Value::Int(4))]),
    );
    assert_eq!(
        emit(doc),
        "; foo\n[s]\n# bar\na = 1\n; spaced\nb = 2\nc = 3\n\n;  lead space\n[t]\nd = 4\n"
    );
}

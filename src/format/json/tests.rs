//! Tests of the JSON store.

use super::write::*;
use super::*;
use crate::tree::Timestamp;
use crate::tree::{Comment, Item};

fn store() -> JsonStore {
    JsonStore::new(&StoreOptions::default())
}

/// The escaping of `write_escaped` one byte at a time, for comparison
/// with its word-at-a-time fast path.
fn escaped_slowly(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\u{2028}' => out.extend_from_slice(b"\\u2028"),
            '\u{2029}' => out.extend_from_slice(b"\\u2029"),
            c if (c as u32) < 0x20 || matches!(c, '<' | '>' | '&') => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
            }
            c => out.extend_from_slice(c.to_string().as_bytes()),
        }
    }
    out
}

#[test]
fn word_at_a_time_escaping_matches_the_byte_loop() {
    let pieces = [
        "a",
        "bcdefgh",
        "\"",
        "\\",
        "\n",
        "\u{1}",
        "\u{1f}",
        " ",
        "<",
        ">",
        "&",
        "\u{2028}",
        "\u{2029}",
        "\u{2027}",
        "é",
        "€",
        "\u{7f}",
        "\t",
        "\r",
        "\u{8}",
        "\u{c}",
        "xxxxxxxxxxxxxxx",
    ];
    // Every piece at every offset 0..16 in a run of plain bytes.
    for piece in pieces {
        for pad in 0..17 {
            for tail in [0, 3, 9] {
                let s = format!("{}{piece}{}", "p".repeat(pad), "q".repeat(tail));
                let mut out = Vec::new();
                write_escaped(&mut out, &s);
                assert_eq!(out, escaped_slowly(&s), "{s:?}");
                // And the reader gives the string back.
                let quoted = format!("{{\"k\": \"{}\"}}", String::from_utf8(out).unwrap());
                let map = parse(&quoted);
                assert_eq!(map.0.len(), 1);
                match &map.0[0] {
                    Item::Entry(_, Value::Str(back)) => assert_eq!(back, &s),
                    other => panic!("{other:?}"),
                }
            }
        }
    }
    // Control characters inside a literal are rejected wherever they sit.
    for pad in 0..17 {
        let bad = format!("{{\"k\": \"{}\u{1}x\"}}", "p".repeat(pad));
        assert!(store().parse_plain(bad.as_bytes()).is_err());
    }
}

fn parse(input: &str) -> Map {
    let mut docs = store().parse_plain(input.as_bytes()).unwrap();
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

fn round_trip(input: &str) -> String {
    String::from_utf8(store().emit_plain(&[parse(input)]).unwrap()).unwrap()
}

fn error(input: &[u8]) -> String {
    store().parse_plain(input).unwrap_err().to_string()
}

/// The message without the position suffix.
fn message(input: &[u8]) -> String {
    let e = error(input);
    match e.rfind(" at line ") {
        Some(p) => e[..p].to_string(),
        None => e,
    }
}

#[test]
fn reads_values_in_order_with_duplicates() {
    let m = parse(r#"{"b":1,"a":[true,null,"x",{"k":-0}],"b":1.5}"#);
    let mut inner = Map::new();
    inner.push("k", Value::Float(-0.0));
    let mut want = Map::new();
    want.push("b", Value::Int(1));
    want.push(
        "a",
        Value::List(vec![
            Value::Bool(true),
            Value::Null,
            Value::Str("x".into()),
            Value::Map(inner),
        ]),
    );
    want.push("b", Value::Float(1.5));
    assert_eq!(m, want);
}

#[test]
fn number_kinds() {
    let m = parse(
        r#"{"a":9007199254740992,"b":9007199254740993,"c":-9007199254740992,"d":1e2,"e":1.0,"f":0,"g":9223372036854775807,"h":9223372036854775808}"#,
    );
    let values: Vec<_> = m.entries().map(|(_, v)| v.clone()).collect();
    assert_eq!(
        values,
        vec![
            Value::Int(9007199254740992),
            // Beyond 2^53 but within int64: exact, as in sops 3.13.2.
            Value::Int(9007199254740993),
            Value::Int(-9007199254740992),
            Value::Float(100.0),
            Value::Float(1.0),
            Value::Int(0),
            Value::Int(i64::MAX),
            Value::Float(9223372036854775808.0),
        ]
    );
}

#[test]
fn writes_tab_indented_with_final_newline() {
    assert_eq!(
        round_trip(r#"{"a":{"b":[1,{}],"c":[]},"d":"x"}"#),
        "{\n\t\"a\": {\n\t\t\"b\": [\n\t\t\t1,\n\t\t\t{}\n\t\t],\n\t\t\"c\": []\n\t},\n\t\"d\": \"x\"\n}\n"
    );
    assert_eq!(round_trip("{}"), "{}\n");
}

#[test]
fn indent_settings() {
    let doc = parse(r#"{"a":[1]}"#);
    let with = |n| {
        String::from_utf8(
            JsonStore::with_indent(Some(n))
                .emit_plain(std::slice::from_ref(&doc))
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(with(-1), "{\n\t\"a\": [\n\t\t1\n\t]\n}\n");
    assert_eq!(with(0), "{\n\"a\": [\n1\n]\n}\n");
    assert_eq!(with(2), "{\n  \"a\": [\n    1\n  ]\n}\n");
    assert_eq!(
        JsonStore::with_indent(Some(-2))
            .emit_plain(&[doc])
            .unwrap_err()
            .to_string(),
        "Error marshaling to json: JSON Indentation parameter smaller than -1 is not accepted"
    );
}

#[test]
fn go_string_escaping() {
    assert_eq!(
        round_trip("{\"<k>\":\"a&b \\u2028\\u2029 \\u0001\\u001f\\b\\f\\n\\r\\t \\\" \\\\ \\/ \u{7f} é 😀\"}"),
        "{\n\t\"\\u003ck\\u003e\": \"a\\u0026b \\u2028\\u2029 \\u0001\\u001f\\b\\f\\n\\r\\t \\\" \\\\ / \u{7f} é 😀\"\n}\n"
    );
}

#[test]
fn invalid_utf8_and_surrogates_become_replacement_characters() {
    let m = store()
        .parse_plain(b"{\"a\":\"x\xffy\xe2\x82z\",\"b\":\"\\ud800\\u0041\\udc00\\ud83d\\ude00\"}")
        .unwrap();
    assert_eq!(
        m[0].get("a"),
        Some(&Value::Str("x\u{FFFD}y\u{FFFD}\u{FFFD}z".into()))
    );
    assert_eq!(
        m[0].get("b"),
        Some(&Value::Str("\u{FFFD}A\u{FFFD}😀".into()))
    );
}

#[test]
fn writes_other_value_types() {
    let mut m = Map::new();
    m.push("bytes", Value::Bytes(b"a\xffb<".to_vec()));
    m.push(
        "time",
        Value::Time(Timestamp::parse_rfc3339("2024-01-01T10:00:00.5+01:00").unwrap()),
    );
    m.0.push(Item::Comment(Comment::new(" skipped")));
    m.push(
        "list",
        Value::List(vec![Value::Comment(Comment::new("x")), Value::Int(-3)]),
    );
    m.push(
        "only_comment",
        Value::List(vec![Value::Comment(Comment::new("x"))]),
    );
    m.push(
        "floats",
        Value::List(vec![
            Value::Float(1e21),
            Value::Float(1e-7),
            Value::Float(0.5),
        ]),
    );
    assert_eq!(
        String::from_utf8(store().emit_plain(&[m]).unwrap()).unwrap(),
        "{\n\t\"bytes\": \"a\\ufffdb\\u003c\",\n\t\"time\": \"2024-01-01T10:00:00.5+01:00\",\n\t\"list\": [\n\t\t-3\n\t],\n\t\"only_comment\": [],\n\t\"floats\": [\n\t\t1e+21,\n\t\t1e-7,\n\t\t0.5\n\t]\n}\n"
    );
}

#[test]
fn non_finite_floats_cannot_be_written() {
    let mut m = Map::new();
    m.push("a", Value::Float(f64::INFINITY));
    assert_eq!(
        store().emit_plain(&[m.clone()]).unwrap_err().to_string(),
        "Error marshaling to json: Error encoding value : json: unsupported value: +Inf"
    );
    let mut outer = Map::new();
    outer.push("o", Value::Map(m));
    outer.push("n", Value::List(vec![Value::Float(f64::NAN)]));
    assert_eq!(
        store().emit_plain(&[outer]).unwrap_err().to_string(),
        "Error marshaling to json: Error encoding value : Error encoding value : json: unsupported value: +Inf"
    );
}

#[test]
fn emit_value_is_indented_without_newline() {
    let s = store();
    assert_eq!(s.emit_value(&Value::Float(1.5)).unwrap(), b"1.5");
    assert_eq!(s.emit_value(&Value::Int(7)).unwrap(), b"7");
    assert_eq!(s.emit_value(&Value::Bool(false)).unwrap(), b"false");
    assert_eq!(s.emit_value(&Value::Null).unwrap(), b"null");
    assert_eq!(
        s.emit_value(&Value::Str("<".into())).unwrap(),
        b"\"\\u003c\""
    );
    assert_eq!(
        s.emit_value(&Value::List(vec![Value::Int(1), Value::List(vec![])]))
            .unwrap(),
        b"[\n\t1,\n\t[]\n]"
    );
}

#[test]
fn reference_quirks_at_end_of_input() {
    // Input ending where a member value should start: members so far.
    assert_eq!(round_trip(r#"{"a":1,"b":"#), "{\n\t\"a\": 1\n}\n");
    assert_eq!(round_trip(r#"{"a""#), "{}\n");
    assert_eq!(round_trip(r#"{"a":[1,2"#), "{}\n");
    assert_eq!(round_trip(r#"{"a":[{"b":"#), "{}\n");
    // Only the first value is read.
    assert_eq!(round_trip("{\"x\":1}\n{"), "{\n\t\"x\": 1\n}\n");
    assert_eq!(round_trip("{\"x\":1} garbage"), "{\n\t\"x\": 1\n}\n");
}

#[test]
fn error_messages_match_the_reference() {
    let key_eof = "Could not unmarshal input data: Expected JSON object key, got %!s(<nil>) of type <nil> instead";
    let cases: &[(&[u8], &str)] = &[
        (b"", "Could not unmarshal input data: EOF"),
        (b" \n ", "Could not unmarshal input data: EOF"),
        (b"[1]", "Could not unmarshal input data: Expected JSON object start, got delimiter [ instead"),
        // sops shows the value here; enseal names its type only.
        (b"1", "Could not unmarshal input data: Expected JSON object start, got a value of type float64 instead"),
        (b"1.5e300", "Could not unmarshal input data: Expected JSON object start, got a value of type float64 instead"),
        (b"\"<\\u0001\xc3\xa9\\u00a0\\u2028\"", "Could not unmarshal input data: Expected JSON object start, got a value of type string instead"),
        (b"true", "Could not unmarshal input data: Expected JSON object start, got a value of type bool instead"),
        (b"null", "Could not unmarshal input data: Expected JSON object start, got <nil> of type <nil> instead"),
        (b"\"a\\u00e9\\n\"", "Could not unmarshal input data: Expected JSON object start, got a value of type string instead"),
        (b"{", key_eof),
        (b"{\"a\":1", key_eof),
        (b"{\"a\":1,", key_eof),
        (b"{\"x\":{\"a\":", key_eof),
        (b"{\"a\":[{\"b\":1", key_eof),
        (b"{\"a\":}", "Could not unmarshal input data: invalid character '}' looking for beginning of value"),
        (b"{\"a\" 1}", "Could not unmarshal input data: invalid character (not shown) after object key"),
        (b"{1:2}", "Could not unmarshal input data: invalid character (not shown)"),
        (b"{]", "Could not unmarshal input data: invalid character ']'"),
        (b"{,}", "Could not unmarshal input data: invalid character ','"),
        (b"{\"a\":1e400}", "Could not unmarshal input data: json: cannot unmarshal number into Go value of type float64"),
        (b"{\"a\":\"\x01\"}", "Could not unmarshal input data: invalid character '\\x01' in string literal"),
        (b"{\"a\":01}", "Could not unmarshal input data: invalid character (not shown) after object key:value pair"),
        (b"{\"a\":[1,]}", "Could not unmarshal input data: invalid character ']' looking for beginning of value"),
        (b"{\"a\":1,}", "Could not unmarshal input data: invalid character '}' looking for beginning of object key string"),
        (b"{\"a\":tru}", "Could not unmarshal input data: invalid character '}' in literal true (expecting 'e')"),
        (b"{\"a\":\"\\x\"}", "Could not unmarshal input data: invalid character (not shown) in string escape code"),
        (b"\xef\xbb\xbf{}", "Could not unmarshal input data: invalid character (not shown) looking for beginning of value"),
        (b"{\"a", "Could not unmarshal input data: unexpected EOF"),
        (b"{\"a\":\"abc", "Could not unmarshal input data: unexpected EOF"),
        (b"{\"a\":-", "Could not unmarshal input data: unexpected EOF"),
        (b"{\"a\":tr", "Could not unmarshal input data: unexpected EOF"),
        (b"{\"a\":1.}", "Could not unmarshal input data: invalid character '}' after decimal point in numeric literal"),
        (b"{\"a\":1e}", "Could not unmarshal input data: invalid character '}' in exponent of numeric literal"),
        (b"{\"a\":-x}", "Could not unmarshal input data: invalid character (not shown) in numeric literal"),
        (b"{\"a\":\"\\u12g4\"}", "Could not unmarshal input data: invalid character (not shown) in \\u hexadecimal character escape"),
        (b"{\"a\":1 \"b\":2}", "Could not unmarshal input data: invalid character '\"' after object key:value pair"),
        (b"{\"a\":[1 2]}", "Could not unmarshal input data: invalid character (not shown) after array element"),
        (b"{\"a\":truex}", "Could not unmarshal input data: invalid character (not shown) after object key:value pair"),
        (b"{\"a\"::1}", "Could not unmarshal input data: invalid character ':' looking for beginning of value"),
        (b"]", "Could not unmarshal input data: invalid character ']' looking for beginning of value"),
        (b"x", "Could not unmarshal input data: invalid character (not shown) looking for beginning of value"),
        (b"{\"a\":\x01}", "Could not unmarshal input data: invalid character '\\x01' looking for beginning of value"),
        (b"{\"a\":\xc3\xa9}", "Could not unmarshal input data: invalid character (not shown) looking for beginning of value"),
        (b"{\"a\":'x'}", "Could not unmarshal input data: invalid character '\\'' looking for beginning of value"),
        (b"{\"a\":{\"b\":[}}", "Could not unmarshal input data: invalid character '}' looking for beginning of value"),
    ];
    for (input, want) in cases {
        assert_eq!(message(input), *want, "{}", String::from_utf8_lossy(input));
    }
}

#[test]
fn errors_name_line_and_column() {
    assert_eq!(
        error(b" \n  {\"a\": \n  x}"),
        "Could not unmarshal input data: invalid character (not shown) looking for beginning of value at line 3, column 3"
    );
    assert_eq!(
        error("{\"é\":\"a\",\n\"b\" 1}".as_bytes()),
        "Could not unmarshal input data: invalid character (not shown) after object key at line 2, column 5"
    );
}

#[test]
fn encrypted_files_are_read_strictly() {
    let s = store();
    let f = s
        .parse_encrypted(br#"{"a":"ENC[x]","sops":{"version":"3.11.0","shamir_threshold":2}}"#)
        .unwrap();
    let mut md = Map::new();
    md.push("version", Value::Str("3.11.0".into()));
    md.push("shamir_threshold", Value::Int(2));
    assert_eq!(f.metadata, Some(md.clone()));
    let mut doc = Map::new();
    doc.push("a", Value::Str("ENC[x]".into()));
    assert_eq!(f.documents, vec![doc.clone()]);
    assert_eq!(
        String::from_utf8(s.emit_encrypted(&[doc], &md).unwrap()).unwrap(),
        "{\n\t\"a\": \"ENC[x]\",\n\t\"sops\": {\n\t\t\"version\": \"3.11.0\",\n\t\t\"shamir_threshold\": 2\n\t}\n}\n"
    );
    assert_eq!(s.parse_encrypted(br#"{"a":1}"#).unwrap().metadata, None);
    let err = |input: &[u8]| s.parse_encrypted(input).unwrap_err().to_string();
    assert_eq!(
        err(br#"{"a":1} x"#),
        "Error unmarshalling input json: invalid character (not shown) after top-level value at line 1, column 9"
    );
    assert_eq!(
        err(br#"{"a":[1"#),
        "Error unmarshalling input json: unexpected end of JSON input at line 1, column 8"
    );
    assert_eq!(
        err(br#"{"sops":"x"}"#),
        "Error unmarshalling input json: json: cannot unmarshal string into Go struct field SopsFile.sops of type stores.Metadata"
    );
    assert!(s.parse_encrypted(b"{\"a\":1}\n\n").is_ok());
    assert_eq!(
        err(br#"{1:2}"#),
        "Error unmarshalling input json: invalid character (not shown) looking for beginning of object key string at line 1, column 2"
    );
    assert_eq!(
        err(b"[1]"),
        "Error unmarshalling input json: json: cannot unmarshal array into Go value of type stores.SopsFile"
    );
    assert_eq!(s.parse_encrypted(b"null").unwrap().metadata, None);
}

#[test]
fn deep_nesting_is_limited_not_a_crash() {
    let depth = 990;
    let input = format!("{{\"a\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
    let docs = store().parse_plain(input.as_bytes()).unwrap();
    let out = store().emit_plain(&docs).unwrap();
    assert_eq!(store().parse_plain(&out).unwrap(), docs);
    let too_deep = format!("{{\"a\":{}", "[".repeat(MAX_DEPTH + 1));
    assert!(message(too_deep.as_bytes()).ends_with("exceeded max depth"));
}

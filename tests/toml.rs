//! The TOML store through the CLI (docs/toml.md): byte-for-byte round trips
//! of a corpus, tampering, `--extract`, `set`/`unset`, partial encryption,
//! conversions, bad input, `edit`, a `.toml` file the reference encrypted as
//! binary, and a property test over generated documents.

mod common;

use common::*;
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn enseal_k(sb: &Sandbox) -> Command {
    let mut cmd = sb.enseal();
    cmd.env("SOPS_AGE_KEY_FILE", key_file(1));
    cmd
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = testdata("toml");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("testdata/toml")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    // Generated variants: no final newline, odd spacing, only comments.
    files.push(("no_newline.toml".into(), b"a = 1\nb = \"x\"".to_vec()));
    files.push((
        "spacing.toml".into(),
        b"\n\n  key   =    \"v\"\t# tab before\n[ t . u ]\n\tx=1\n".to_vec(),
    ));
    files.push(("comments_only.toml".into(), b"# one\n\n# two\n".to_vec()));
    files.push(("empty.toml".into(), Vec::new()));
    files
}

fn encrypt(sb: &Sandbox, name: &str, plain: &[u8], extra: &[&str]) -> (PathBuf, Vec<u8>) {
    let path = sb.write(name, plain);
    let out = run(enseal_k(sb)
        .args(["encrypt", "--age", &recipient(1)])
        .args(extra)
        .arg(&path))
    .ok();
    let enc = sb.write(&format!("enc-{name}"), &out.stdout);
    (enc, out.stdout)
}

fn decrypt(sb: &Sandbox, file: &Path) -> Vec<u8> {
    run(enseal_k(sb).arg("decrypt").arg(file)).ok().stdout
}

#[test]
fn corpus_round_trips_byte_for_byte() {
    let sb = Sandbox::new();
    for (name, plain) in corpus() {
        let (enc, text) = encrypt(&sb, &name, &plain, &[]);
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.contains("\n[sops]\n"),
            "{name}: no [sops] table\n{text}"
        );
        for secret in ["Hammer", "Roses", "about two", "crate name", "jane@"] {
            assert!(!text.contains(secret), "{name}: {secret} in clear");
        }
        assert_eq!(
            String::from_utf8_lossy(&decrypt(&sb, &enc)),
            String::from_utf8_lossy(&plain),
            "{name}"
        );
    }
}

#[test]
fn types_use_sops_names_and_toml_extensions() {
    let sb = Sandbox::new();
    let plain = b"s = \"x\"\nl = 'y'\ni = 1\nh = 0x1F\nf = 0.5\nb = true\nt = 1979-05-27T07:32:00Z\nd = 1979-05-27\nlt = 07:32:00\nldt = 1979-05-27T07:32:00\n# c\n";
    let (_, text) = encrypt(&sb, "t.toml", plain, &[]);
    let text = String::from_utf8(text).unwrap();
    for (key, ty) in [
        ("s", "str"),
        ("l", "str_literal"),
        ("i", "int"),
        ("h", "toml"),
        ("f", "float"),
        ("b", "bool"),
        ("t", "time"),
        ("d", "date_local"),
        ("lt", "time_local"),
        ("ldt", "datetime_local"),
    ] {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("{key} missing\n{text}"));
        assert!(line.ends_with(&format!(",type:{ty}]\"")), "{line}");
    }
    assert!(text.contains("\n#ENC[AES256_GCM,"), "{text}");
    assert!(text.contains(",type:comment]\n"), "{text}");
}

#[test]
fn tampering_is_a_mac_error() {
    let sb = Sandbox::new();
    let (enc, text) = encrypt(
        &sb,
        "m.toml",
        b"secret = \"s\"\nport_unencrypted = 8080\n",
        &[],
    );
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("port_unencrypted = 8080\n"));
    std::fs::write(&enc, text.replace("= 8080", "= 8081")).unwrap();
    let out = run(enseal_k(&sb).arg("decrypt").arg(&enc)).code_in(&[51]);
    assert!(out.err().contains("MAC mismatch"), "{}", out.err());
}

#[test]
fn extract_values_and_tables() {
    let sb = Sandbox::new();
    let plain = std::fs::read(testdata("toml/cargo.toml")).unwrap();
    let (enc, _) = encrypt(&sb, "cargo.toml", &plain, &[]);
    let get = |path: &str| {
        run(enseal_k(&sb).args(["decrypt", "--extract", path]).arg(&enc))
            .ok()
            .out()
    };
    assert_eq!(get(r#"["package"]["name"]"#), "demo");
    assert_eq!(get(r#"["profile"]["release"]["opt-level"]"#), "3\n");
    assert_eq!(get(r#"["bin"][1]["name"]"#), "tool");
    let table = get(r#"["profile"]["release"]"#);
    assert_eq!(table, "lto = \"thin\"\ncodegen-units = 4\nopt-level = 3\n");
}

#[test]
fn set_and_unset_keep_the_layout() {
    let sb = Sandbox::new();
    let plain = std::fs::read_to_string(testdata("toml/cargo.toml")).unwrap();
    let (enc, before) = encrypt(&sb, "cargo.toml", plain.as_bytes(), &[]);
    run(enseal_k(&sb)
        .args(["set"])
        .arg(&enc)
        .args([r#"["package"]["version"]"#, r#""0.2.0""#]))
    .ok();
    let after = std::fs::read(&enc).unwrap();
    // Only the value, lastmodified (unless within the same second) and the
    // MAC change.
    let changed: Vec<String> = String::from_utf8_lossy(&before)
        .lines()
        .zip(String::from_utf8_lossy(&after).lines())
        .filter(|(a, b)| a != b)
        .map(|(_, b)| b.to_string())
        .collect();
    assert!((2..=3).contains(&changed.len()), "{changed:?}");
    assert!(changed[0].starts_with("version = \"ENC["), "{changed:?}");
    assert_eq!(
        String::from_utf8(decrypt(&sb, &enc)).unwrap(),
        plain.replace("version = \"0.1.0\"", "version = \"0.2.0\"")
    );
    // A new key in an existing table goes at its end.
    run(enseal_k(&sb)
        .args(["set"])
        .arg(&enc)
        .args([r#"["profile"]["release"]["debug"]"#, "true"]))
    .ok();
    let expected = plain
        .replace("version = \"0.1.0\"", "version = \"0.2.0\"")
        .replace("opt-level = 3\n", "opt-level = 3\ndebug = true\n");
    assert_eq!(String::from_utf8(decrypt(&sb, &enc)).unwrap(), expected);
    run(enseal_k(&sb).args(["unset"]).arg(&enc).arg(r#"["target"]"#)).ok();
    let expected = expected.replace("[target.'cfg(unix)'.dependencies]\nlibc = \"0.2\"\n\n", "");
    assert_eq!(String::from_utf8(decrypt(&sb, &enc)).unwrap(), expected);
    // Removing an element of an array of tables keeps the rest as written.
    run(enseal_k(&sb).args(["unset"]).arg(&enc).arg(r#"["bin"][0]"#)).ok();
    let expected = expected.replace("[[bin]]\nname = \"demo\"\npath = \"src/main.rs\"\n\n", "");
    assert_eq!(String::from_utf8(decrypt(&sb, &enc)).unwrap(), expected);
    // An element of an inline array too.
    run(enseal_k(&sb)
        .args(["unset"])
        .arg(&enc)
        .arg(r#"["package"]["authors"][0]"#))
    .ok();
    let expected = expected.replace("[\"Jane <jane@example.org>\", 'Bob']", "['Bob']");
    assert_eq!(String::from_utf8(decrypt(&sb, &enc)).unwrap(), expected);
    // A new top-level value after the tables: still a valid file with the
    // same values (written canonically), and the MAC verifies.
    run(enseal_k(&sb)
        .args(["set"])
        .arg(&enc)
        .args([r#"["zzz"]"#, r#""last""#]))
    .ok();
    let json = run(enseal_k(&sb)
        .args(["decrypt", "--output-type", "json"])
        .arg(&enc))
    .ok()
    .out();
    assert!(json.contains("\"zzz\": \"last\""), "{json}");
    assert!(json.contains("\"opt-level\": 3"), "{json}");
}

#[test]
fn partial_encryption_and_mac_only_encrypted() {
    let sb = Sandbox::new();
    let plain =
        b"password = \"hunter2\"\nuser = \"bob\" # who\n[db]\npassword_old = 'x'\nport = 0x1F90\n";
    for extra in [
        vec!["--encrypted-regex", "^password"],
        vec!["--encrypted-regex", "^password", "--mac-only-encrypted"],
        vec!["--unencrypted-suffix", "port"],
    ] {
        let (enc, text) = encrypt(&sb, "p.toml", plain, &extra);
        let text = String::from_utf8(text).unwrap();
        if extra[0] == "--encrypted-regex" {
            assert!(text.contains("user = \"bob\""), "{text}");
            assert!(!text.contains("hunter2"), "{text}");
        }
        assert!(text.contains("port = 0x1F90"), "{text}");
        assert_eq!(decrypt(&sb, &enc), plain, "{extra:?}");
    }
}

#[test]
fn comment_regexes_decide_what_is_encrypted() {
    let sb = Sandbox::new();
    let plain = b"# sops:enc\nsecret = \"a\"\nplain = \"b\"\n";
    let (enc, text) = encrypt(
        &sb,
        "c.toml",
        plain,
        &["--encrypted-comment-regex", "sops:enc"],
    );
    let text = String::from_utf8(text).unwrap();
    assert!(text.starts_with("# sops:enc\nsecret = \"ENC["), "{text}");
    assert!(text.contains("plain = \"b\""), "{text}");
    assert_eq!(decrypt(&sb, &enc), plain);
}

#[test]
fn conversions_to_and_from_other_formats() {
    let sb = Sandbox::new();
    let plain = b"port = 0x1F90\nbig = 1e6\nday = 1979-05-27\n[t]\nx = [1, 'a']\n";
    let (enc, _) = encrypt(&sb, "v.toml", plain, &[]);
    let json = run(enseal_k(&sb)
        .args(["decrypt", "--output-type", "json"])
        .arg(&enc))
    .ok()
    .out();
    for want in [
        "\"port\": 8080",
        "\"big\": 1000000",
        "\"day\": \"1979-05-27\"",
    ] {
        assert!(json.contains(want), "{want}\n{json}");
    }
    // TOML → YAML when encrypting.
    let path = sb.write("v2.toml", plain);
    let yaml = run(enseal_k(&sb)
        .args(["encrypt", "--age", &recipient(1), "--output-type", "yaml"])
        .arg(&path))
    .ok()
    .stdout;
    let yenc = sb.write("v2.enc.yaml", yaml);
    let back = run(enseal_k(&sb).arg("decrypt").arg(&yenc)).ok().out();
    assert!(back.contains("port: 8080"), "{back}");
    // YAML → TOML, and back.
    let y = sb.write(
        "y.yaml",
        "a: 1\nb:\n    c: [1, x]\n# note\nn: 2.5\nt: 2001-12-14T21:59:43Z\n",
    );
    let toml = run(enseal_k(&sb)
        .args(["encrypt", "--age", &recipient(1), "--output-type", "toml"])
        .arg(&y))
    .ok()
    .stdout;
    let tenc = sb.write("y.enc.toml", toml);
    let back = run(enseal_k(&sb).arg("decrypt").arg(&tenc)).ok().out();
    assert_eq!(
        back,
        "a = 1\nb = { c = [1, \"x\"] }\n# note\nn = 2.5\nt = 2001-12-14T21:59:43Z\n"
    );
    // null has no TOML form: the error names the key.
    let n = sb.write("n.yaml", "a:\n    b: null\n");
    let out = run(enseal_k(&sb)
        .args(["encrypt", "--age", &recipient(1), "--output-type", "toml"])
        .arg(&n));
    assert_ne!(out.code, Some(0));
    assert!(out.err().contains("a:b"), "{}", out.err());
}

#[test]
fn input_and_output_type_flags() {
    let sb = Sandbox::new();
    let path = sb.write("conf.txt", "k = \"v\"\n");
    let out = run(enseal_k(&sb)
        .args([
            "encrypt",
            "--age",
            &recipient(1),
            "--input-type",
            "toml",
            "--output-type",
            "toml",
        ])
        .arg(&path))
    .ok();
    let enc = sb.write("conf.enc", out.stdout);
    let plain = run(enseal_k(&sb)
        .args(["decrypt", "--input-type", "toml", "--output-type", "toml"])
        .arg(&enc))
    .ok();
    assert_eq!(plain.out(), "k = \"v\"\n");
}

#[test]
fn malformed_toml_is_one_line_with_position() {
    let sb = Sandbox::new();
    let bad_yaml = sb.write("bad.yaml", "a: [\n");
    let yaml_code = run(enseal_k(&sb)
        .args(["encrypt", "--age", &recipient(1)])
        .arg(&bad_yaml))
    .code;
    for (name, text) in [
        ("bad1.toml", "a = \n"),
        ("bad2.toml", "a = 1\na = 2\n"),
        ("bad3.toml", "[t\nx = 1\n"),
        ("bad4.toml", "s = \"unterminated\n"),
    ] {
        let path = sb.write(name, text);
        let out = run(enseal_k(&sb)
            .args(["encrypt", "--age", &recipient(1)])
            .arg(&path));
        assert_eq!(out.code, yaml_code, "{name}: {}", out.err());
        let err = out.err();
        assert!(err.contains("line "), "{name}: {err}");
        assert!(err.contains("column "), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        let out = run(enseal_k(&sb).arg("decrypt").arg(&path));
        assert!(out.code.is_some_and(|c| c != 0 && c < 100), "{name}");
        assert!(!out.err().contains("panicked"), "{name}");
    }
    // Invalid UTF-8.
    let path = sb.write("bin.toml", b"a = \"\xff\"\n");
    let out = run(enseal_k(&sb)
        .args(["encrypt", "--age", &recipient(1)])
        .arg(&path));
    assert_eq!(out.code, yaml_code);
}

#[test]
fn edit_keeps_the_layout() {
    let sb = Sandbox::new();
    let plain = std::fs::read_to_string(testdata("toml/pyproject.toml")).unwrap();
    let (enc, _) = encrypt(&sb, "pyproject.toml", plain.as_bytes(), &[]);
    let editor = sb.write(
        "editor.sh",
        "#!/bin/sh\nsed -i 's/line-length = 100/line-length = 120/' \"$1\"\n",
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    run(enseal_k(&sb).env("EDITOR", &editor).arg("edit").arg(&enc)).ok();
    assert_eq!(
        String::from_utf8(decrypt(&sb, &enc)).unwrap(),
        plain.replace("line-length = 100", "line-length = 120")
    );
}

#[test]
fn rotate_keeps_the_layout() {
    let sb = Sandbox::new();
    let plain = std::fs::read(testdata("toml/types.toml")).unwrap();
    let (enc, before) = encrypt(&sb, "types.toml", &plain, &[]);
    run(enseal_k(&sb).args(["rotate", "-i"]).arg(&enc)).ok();
    assert_ne!(std::fs::read(&enc).unwrap(), before);
    assert_eq!(decrypt(&sb, &enc), plain);
}

#[test]
fn reference_binary_encrypted_toml_decrypts() {
    let Some(sops) = require_sops() else { return };
    let sb = Sandbox::new();
    let plain = std::fs::read(testdata("toml/cargo.toml")).unwrap();
    let path = sb.write("ref.toml", &plain);
    let out = run(sb
        .sops(&sops)
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .args(["encrypt", "--age", &recipient(1)])
        .arg(&path))
    .ok();
    assert!(
        out.out().trim_start().starts_with('{'),
        "sops wrote binary JSON"
    );
    let enc = sb.write("ref.enc.toml", out.stdout);
    assert_eq!(decrypt(&sb, &enc), plain);
    // Edited and rotated by enseal, it stays a binary envelope the
    // reference reads.
    let editor = sb.write(
        "editor.sh",
        "#!/bin/sh\nsed -i 's/opt-level = 3/opt-level = 2/' \"$1\"\n",
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    run(enseal_k(&sb).env("EDITOR", &editor).arg("edit").arg(&enc)).ok();
    let plain = String::from_utf8(plain)
        .unwrap()
        .replace("opt-level = 3", "opt-level = 2")
        .into_bytes();
    run(enseal_k(&sb).args(["rotate", "-i"]).arg(&enc)).ok();
    assert!(std::fs::read_to_string(&enc).unwrap().starts_with('{'));
    let theirs = run(sb
        .sops(&sops)
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .arg("decrypt")
        .arg(&enc))
    .ok();
    assert_eq!(theirs.stdout, plain);
    // The other way: enseal's binary mode for a `.toml` file is what sops
    // reads.
    let path = sb.write("mine.toml", &plain);
    let out = run(enseal_k(&sb)
        .args(["encrypt", "--age", &recipient(1), "--input-type", "binary"])
        .args(["--output-type", "binary"])
        .arg(&path))
    .ok();
    let mine = sb.write("mine.enc.toml", out.stdout);
    let theirs = run(sb
        .sops(&sops)
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .arg("decrypt")
        .arg(&mine))
    .ok();
    assert_eq!(theirs.stdout, plain);
}

// ------------------------------------------------------------ property test

/// One generated scalar: its TOML source text.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 _.-]{0,12}".prop_map(|s| format!("\"{s}\"")),
        "[a-zA-Z0-9 ]{0,8}".prop_map(|s| format!("\"{s}\\t\\\"\\\\\\u00e9\"")),
        "[a-zA-Z0-9 \\\\\"#]{0,12}".prop_map(|s| format!("'{s}'")),
        "[a-z \n]{0,16}".prop_map(|s| format!("\"\"\"\n{s}\"\"\"")),
        "[a-z \n#]{0,16}".prop_map(|s| format!("'''{s}'''")),
        any::<i64>().prop_map(|i| i.to_string()),
        (0u32..0xffff).prop_map(|i| format!("0x{i:X}")),
        (0u32..0o777).prop_map(|i| format!("0o{i:o}")),
        (1u32..1000).prop_map(|i| format!("{i}_000")),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:?}")),
        (-1000i32..1000, 0u32..100).prop_map(|(a, b)| format!("{a}.{b}e3")),
        prop_oneof![Just("inf"), Just("-inf"), Just("nan"), Just("+nan")].prop_map(str::to_string),
        any::<bool>().prop_map(|b| b.to_string()),
        (1900u32..2100, 1u32..13, 1u32..29, 0u32..24, 0u32..60)
            .prop_map(|(y, m, d, h, mi)| format!("{y}-{m:02}-{d:02}T{h:02}:{mi:02}:00Z")),
        (1900u32..2100, 1u32..13, 1u32..29, -12i32..13)
            .prop_map(|(y, m, d, o)| format!("{y}-{m:02}-{d:02} 10:20:30.5{o:+03}:00")),
        (1900u32..2100, 1u32..13, 1u32..29).prop_map(|(y, m, d)| format!("{y}-{m:02}-{d:02}")),
        (0u32..24, 0u32..60).prop_map(|(h, m)| format!("{h:02}:{m:02}:59.123")),
        (1900u32..2100, 0u32..24).prop_map(|(y, h)| format!("{y}-01-02T{h:02}:00:00")),
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => scalar(),
        1 => prop::collection::vec(scalar(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
        1 => prop::collection::vec(scalar(), 0..3).prop_map(|v| {
            let parts: Vec<String> =
                v.iter().enumerate().map(|(i, s)| format!("k{i} = {s}")).collect();
            format!("{{ {} }}", parts.join(", "))
        }),
    ]
}

fn line(i: usize) -> impl Strategy<Value = String> {
    (
        value(),
        prop_oneof![Just(" = "), Just("="), Just("   =  ")],
        prop::option::of("[ a-z#]{0,10}"),
        prop_oneof![
            Just(format!("k{i}")),
            Just(format!("\"q {i}\"")),
            Just(format!("d{i}.x"))
        ],
        prop::option::of("[ a-z]{0,10}"),
    )
        .prop_map(|(v, eq, trailing, key, before)| {
            let mut s = String::new();
            if let Some(b) = before {
                s.push_str(&format!("#{b}\n"));
            }
            s.push_str(&format!("{key}{eq}{v}"));
            if let Some(t) = trailing {
                s.push_str(&format!(" #{t}"));
            }
            s.push('\n');
            s
        })
}

fn body() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..4), 1..4).prop_flat_map(|tables| {
        let mut parts: Vec<BoxedStrategy<String>> = Vec::new();
        for (t, lines) in tables.iter().enumerate() {
            let header = match t {
                0 => String::new(),
                _ if t % 2 == 0 => "[[arr]]\n".to_string(),
                _ => format!("\n[table{t}]\n"),
            };
            let ls: Vec<_> = (0..lines.len()).map(line).collect();
            parts.push(
                ls.prop_map(move |l| format!("{header}{}", l.concat()))
                    .boxed(),
            );
        }
        parts.prop_map(|p| p.concat())
    })
}

fn library_round_trip(text: &str) -> Result<Vec<u8>, String> {
    use enseal::document::{encrypt, EncryptSettings, EncryptedDocument};
    use enseal::format::{toml::TomlStore, Layouts, Store, StoreOptions};
    use enseal::keys::age::{AgeKey, Identities};
    use enseal::keys::{KeyContext, MasterKey};
    use enseal::metadata::Metadata;
    // Every store of the round trip shares one layout handle, as the CLI's
    // reading and writing stores do: the layout travels through it.
    let layouts = Layouts::default();
    let options = StoreOptions::default();
    let store = TomlStore::sharing(&options, &layouts);
    let docs = store
        .parse_plain(text.as_bytes())
        .map_err(|e| e.to_string())?;
    let settings = EncryptSettings {
        key_groups: vec![vec![MasterKey::Age(AgeKey::new(&recipient(1))?)]],
        ..Default::default()
    };
    let enc = encrypt(docs, settings).map_err(|e| e.to_string())?;
    let bytes = store
        .emit_encrypted(&enc.documents, &enc.metadata.to_map())
        .map_err(|e| e.to_string())?;
    let file = TomlStore::sharing(&options, &layouts)
        .parse_encrypted(&bytes)
        .map_err(|e| format!("{e}\n{}", String::from_utf8_lossy(&bytes)))?;
    let metadata = Metadata::from_map(&file.metadata.ok_or("no metadata")?)?;
    let mut identities = Identities::empty();
    identities.add_text(&secret_key(1), "test")?;
    let mut keys = KeyContext::with_age_identities(identities);
    let dec = EncryptedDocument::new(file.documents, metadata)
        .decrypt(&mut keys, false)
        .map_err(|e| format!("{e}\n{}", String::from_utf8_lossy(&bytes)))?;
    TomlStore::sharing(&options, &layouts)
        .emit_plain(&dec.documents)
        .map_err(|e| e.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn decrypt_of_encrypt_is_identity(text in body()) {
        prop_assume!(::toml_edit::Document::parse(text.as_str()).is_ok());
        let out = library_round_trip(&text).map_err(TestCaseError::fail)?;
        prop_assert_eq!(String::from_utf8_lossy(&out), text);
    }
}

/// The AAD and MAC rules are sops' own: the values of an encrypted TOML
/// file, moved unchanged into a JSON file with the same structure and
/// metadata, are decrypted and MAC-verified by the reference.
#[test]
fn reference_verifies_values_moved_to_json() {
    use enseal::format::{json::JsonStore, toml::TomlStore, Store, StoreOptions};
    use enseal::tree::{Item, Map, Value};
    let Some(sops) = require_sops() else { return };
    let sb = Sandbox::new();
    let plain = b"s = 'lit'\nh = 0x1F\nd = 1979-05-27\nt = 1979-05-27T07:32:00Z\nf = 1.5\n\n[tab.sub]\nlist = [1, [true, \"x\"], { k = \"v\" }]\nkeep_unencrypted = 7\n\n[[aot]]\nname = \"a\"\n[[aot]]\nname = \"b\"\n";
    for flags in [&[][..], &["--mac-only-encrypted"][..]] {
        let (_, text) = encrypt(&sb, "aad.toml", plain, flags);
        let file = TomlStore::default().parse_encrypted(&text).unwrap();
        fn strip(map: &mut Map) {
            map.0.retain(|i| matches!(i, Item::Entry(..)));
            for item in map.0.iter_mut() {
                if let Item::Entry(_, v) = item {
                    strip_value(v);
                }
            }
        }
        fn strip_value(v: &mut Value) {
            match v {
                Value::Map(m) => strip(m),
                Value::List(l) => l.iter_mut().for_each(strip_value),
                _ => {}
            }
        }
        let mut docs = file.documents;
        docs.iter_mut().for_each(strip);
        let json = JsonStore::new(&StoreOptions::default())
            .emit_encrypted(&docs, &file.metadata.unwrap())
            .unwrap();
        let path = sb.write("aad.json", &json);
        let theirs = run(sb
            .sops(&sops)
            .env("SOPS_AGE_KEY_FILE", key_file(1))
            .arg("decrypt")
            .arg(&path))
        .ok()
        .out();
        for want in [
            "\"s\": \"lit\"",
            "\"h\": \"0x1F\"",
            "\"d\": \"1979-05-27\"",
            "\"t\": \"1979-05-27T07:32:00Z\"",
            "\"f\": 1.5",
            "\"keep_unencrypted\": 7",
            "\"name\": \"b\"",
        ] {
            assert!(theirs.contains(want), "{want}\n{theirs}");
        }
    }
}

/// Entries of every map, depth first: (path of map indices, item index).
fn strip_comments(map: &mut enseal::tree::Map) {
    use enseal::tree::{Item, Value};
    fn value(v: &mut Value) {
        match v {
            Value::Map(m) => strip_comments(m),
            Value::List(l) => {
                l.retain(|e| !matches!(e, Value::Comment(_)));
                l.iter_mut().for_each(value);
            }
            _ => {}
        }
    }
    map.0.retain(|i| matches!(i, Item::Entry(..)));
    for item in map.0.iter_mut() {
        if let Item::Entry(_, v) = item {
            value(v);
        }
    }
}

/// Applies change number `n` (modulo the number of possible changes) to the
/// tree: remove an entry, add an entry at the end of a map, or remove a list
/// element. Returns false when the tree offers no change.
fn change_tree(map: &mut enseal::tree::Map, n: usize) -> bool {
    use enseal::tree::{Item, Value};
    fn count(map: &enseal::tree::Map) -> usize {
        let mut c = 1; // append to this map
        for item in &map.0 {
            if let Item::Entry(_, v) = item {
                c += 1 + count_value(v); // remove this entry
            }
        }
        c
    }
    fn count_value(v: &Value) -> usize {
        match v {
            Value::Map(m) => count(m),
            Value::List(l) => l.iter().map(|e| 1 + count_value(e)).sum(),
            _ => 0,
        }
    }
    fn apply(map: &mut enseal::tree::Map, n: &mut usize) -> bool {
        if *n == 0 {
            map.push("added_key", Value::Str("added".into()));
            return true;
        }
        *n -= 1;
        let mut i = 0;
        while i < map.0.len() {
            if let Item::Entry(_, v) = &mut map.0[i] {
                if *n == 0 {
                    map.0.remove(i);
                    return true;
                }
                *n -= 1;
                if apply_value(v, n) {
                    return true;
                }
            }
            i += 1;
        }
        false
    }
    fn apply_value(v: &mut Value, n: &mut usize) -> bool {
        match v {
            Value::Map(m) => apply(m, n),
            Value::List(l) => {
                let mut i = 0;
                while i < l.len() {
                    if *n == 0 {
                        l.remove(i);
                        return true;
                    }
                    *n -= 1;
                    if apply_value(&mut l[i], n) {
                        return true;
                    }
                    i += 1;
                }
                false
            }
            _ => false,
        }
    }
    let total = count(map);
    let mut n = n % total;
    apply(map, &mut n)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// A changed tree (as `set`/`unset` make) is written so that reading it
    /// back gives the same entries in the same order: the MAC depends on it.
    #[test]
    fn changed_trees_read_back_in_order(text in body(), n in any::<usize>()) {
        use enseal::format::{toml::TomlStore, Store};
        prop_assume!(::toml_edit::Document::parse(text.as_str()).is_ok());
        let store = TomlStore::default();
        let mut tree = store.parse_plain(text.as_bytes()).unwrap().remove(0);
        prop_assume!(change_tree(&mut tree, n));
        let out = match store.emit_plain(std::slice::from_ref(&tree)) {
            Ok(out) => out,
            Err(e) => return Err(TestCaseError::fail(e.to_string())),
        };
        let out_text = String::from_utf8(out.clone()).unwrap();
        let mut back = TomlStore::default()
            .parse_plain(&out)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{out_text}")))?
            .remove(0);
        strip_comments(&mut tree);
        strip_comments(&mut back);
        // Debug text: NaN equals itself there.
        prop_assert_eq!(format!("{back:?}"), format!("{tree:?}"), "{}", out_text);
    }
}

/// `exec-file` and many-file decryption (`--output-dir`) read with one store
/// and write with another: the plaintext keeps the file's layout there too.
#[test]
fn exec_file_and_output_dir_keep_the_layout() {
    let sb = Sandbox::new();
    let plain = b"a   =   1 # note\n[t]\n  x = 'lit'\n";
    let (enc, _) = encrypt(&sb, "odd.toml", plain, &[]);
    let out = run(enseal_k(&sb)
        .arg("exec-file")
        .arg(&enc)
        .args(["--", "/bin/cat", "{}"]))
    .ok();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(plain)
    );
    let dir = sb.root().join("out");
    run(enseal_k(&sb)
        .current_dir(sb.work())
        .args(["decrypt", "--output-dir"])
        .arg(&dir)
        .arg("enc-odd.toml"))
    .ok();
    let got = std::fs::read(dir.join("enc-odd.toml")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(plain)
    );
}

use super::*;
use crate::document::{self, EncryptSettings};
use crate::keys::age::{AgeKey, Identities};
use crate::keys::{KeyContext, MasterKey};

fn key() -> (EncryptSettings, KeyContext) {
    let identity = ::age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let settings = EncryptSettings {
        key_groups: vec![vec![MasterKey::Age(AgeKey::new(&recipient).unwrap())]],
        ..Default::default()
    };
    use ::age::secrecy::ExposeSecret;
    let mut ids = Identities::empty();
    ids.add_text(identity.to_string().expose_secret(), "test").unwrap();
    (settings, KeyContext::with_age_identities(ids))
}

/// Encrypts in preserve mode and decrypts back; returns the encrypted text.
pub(crate) fn round_trip(kind: FormatKind, input: &str) -> Result<String, PreserveError> {
    let (settings, mut keys) = key();
    let store = kind.store(&StoreOptions::default());
    let plain = store.parse_plain(input.as_bytes()).expect("parses");
    let enc = document::encrypt(plain.clone(), settings).unwrap();
    let out = encrypt(kind, input.as_bytes(), &plain, &enc.documents, &enc.metadata.to_map())?;
    let read = store.parse_encrypted(&out).unwrap();
    let meta = crate::metadata::Metadata::from_map(read.metadata.as_ref().unwrap()).unwrap();
    let dec = crate::document::EncryptedDocument {
        documents: read.documents.clone(),
        metadata: meta,
    }
    .decrypt(&mut keys, false)
    .unwrap();
    assert_eq!(dec.documents, plain);
    let back = decrypt(kind, &out, &read.documents, &dec.documents)?;
    assert_eq!(String::from_utf8(back).unwrap(), input);
    Ok(String::from_utf8(out).unwrap())
}

fn refusal(kind: FormatKind, input: &str) -> String {
    round_trip(kind, input).unwrap_err().to_string()
}

#[test]
fn yaml_keeps_layout() {
    let input = "# head\n\"a\":   'x'   # inline\nb:\n  - plain\n  - \"dq\\n\"\n  # between\n  - 3\nc: {d: 1, e: [x, 'y', \"z\"]}\nlit: |\n  line 1\n  line 2\n\nstrip: |-\n    one\nn: ~\nempty: ''\n---\n# second\nk: v\n";
    let out = round_trip(FormatKind::Yaml, input).unwrap();
    assert!(out.contains("\"a\":   'ENC[AES256_GCM,"), "{out}");
    assert!(out.contains("#ENC[AES256_GCM,"), "{out}");
    assert!(out.contains("\"\\x45NC[AES256_GCM,"), "{out}");
    assert!(out.contains("lit: |-\n  ENC["), "{out}");
    assert!(out.contains("n: ~\n"), "{out}");
    assert_eq!(out.matches("\nsops:\n").count(), 2, "{out}");
    assert!(!out.contains("line 1"));
}

#[test]
fn yaml_without_final_newline() {
    round_trip(FormatKind::Yaml, "a: 1").unwrap();
    round_trip(FormatKind::Yaml, "a: 1\n...\n").unwrap();
}

#[test]
fn yaml_refusals_name_the_position() {
    let e = refusal(FormatKind::Yaml, "a: &x 1\nb: *x\n");
    assert!(e.starts_with("line 1, column 7: anchors"), "{e}");
    assert!(refusal(FormatKind::Yaml, "a: !!str 1\n").contains("tags"));
    let e = refusal(FormatKind::Yaml, "a: one\n  two\n");
    assert!(e.starts_with("line 1, column 4: this value would not decrypt back"), "{e}");
    let e = refusal(FormatKind::Yaml, "a: 0x10\n");
    assert!(e.starts_with("line 1, column 4"), "{e}");
    let e = refusal(FormatKind::Yaml, "{a: 1}\n");
    assert!(e.contains("block mapping"), "{e}");
}

#[test]
fn json_keeps_layout() {
    let input = "{ \"a\" :\"x\",\n   \"n\": 12, \"f\": 1.5, \"b\": true, \"z\": null,\n \"l\": [ 1,2 ,{\"q\":\"\\\"\"} ] }\n";
    let out = round_trip(FormatKind::Json, input).unwrap();
    assert!(out.starts_with("{ \"a\" :\"ENC["), "{out}");
    assert!(out.contains("\"z\": null"));
    round_trip(FormatKind::Json, "{}").unwrap();
    round_trip(FormatKind::Json, "{\"a\": {}}\n").unwrap();
    let e = refusal(FormatKind::Json, "{\"a\": \"\\u0041\"}");
    assert!(e.starts_with("line 1, column 7"), "{e}");
}

#[test]
fn dotenv_keeps_layout() {
    let input = "# comment\nexport A=\"quoted value\"\nB='x'\n\nC=a\\nb\nEMPTY=\n#\n";
    let out = round_trip(FormatKind::Dotenv, input).unwrap();
    assert!(out.starts_with("#ENC["), "{out}");
    assert!(out.contains("export A=ENC["), "{out}");
    assert!(out.contains("\nEMPTY=\n"), "{out}");
    round_trip(FormatKind::Dotenv, "A=1").unwrap();
}

#[test]
fn ini_keeps_layout() {
    let input = "; top\nglobal = 1\n\n[db]\n  host   =  \"example.org\"  ; inline\nport: 5432\nempty =\n\n[other]\nk='v'\n";
    let out = round_trip(FormatKind::Ini, input).unwrap();
    assert!(out.contains("host   =  \"ENC["), "{out}");
    assert!(out.contains("; ENC["), "{out}");
    assert!(out.ends_with('\n'));
    let e = refusal(FormatKind::Ini, "; one\n; two\na = 1\n");
    assert!(e.starts_with("line 1, column 3: this comment cannot"), "{e}");
    let e = refusal(FormatKind::Ini, "[s] ; c\na = 1\n");
    assert!(e.contains("section header"), "{e}");
    let e = refusal(FormatKind::Ini, "a = \"\"\"x\ny\"\"\"\n");
    assert!(e.contains("multi-line"), "{e}");
}

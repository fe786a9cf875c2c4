//! YAML store: reads and writes YAML the way sops 3.11 does (Go YAML v3
//! semantics), so that a decrypted file is byte-identical to sops's output.
//!
//! * Reading ([`parse`]): granit-parser events; scalars resolved with the
//!   yaml.v3 rules ([`resolve`]); aliases expanded; the merge key `<<` kept
//!   as a literal key; comments turned into comment items.
//! * Writing ([`emit`]): yaml.v3's block layout, with the configured
//!   indentation (default 4); every comment on its own line (as 3.11 does).
//!
//! An empty input has no document: `parse_plain` returns `Ok(vec![])` and
//! the caller raises [`FormatError::NoDocument`] when it needs a document.

mod emit;
mod parse;
mod resolve;
mod scan;
mod split;

use super::{EncryptedFile, FormatError, Store, StoreOptions};
use crate::tree::{Item, Map, Value};

/// The YAML store.
pub struct YamlStore {
    indent: usize,
}

impl YamlStore {
    /// A YAML store with these options (`yaml_indent`: `None`/0 → 4).
    pub fn new(options: &StoreOptions) -> Self {
        let indent = match options.yaml_indent {
            Some(n) if n > 0 => n as usize,
            _ => 4,
        };
        YamlStore { indent }
    }
}

/// Every `.yaml`/`.yml` file under `root` with its text, in path order
/// (for tests that compare readers and writers on real files).
#[cfg(test)]
pub(crate) fn yaml_files(root: &std::path::Path) -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for path in entries.flatten().map(|e| e.path()) {
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    out.push((path, text));
                }
            }
        }
    }
    out.sort();
    out
}

fn to_str(input: &[u8]) -> Result<&str, FormatError> {
    std::str::from_utf8(input)
        .map_err(|e| FormatError::Parse(format!("yaml: invalid UTF-8 at byte {}", e.valid_up_to())))
}

impl Store for YamlStore {
    fn parse_plain(&self, input: &[u8]) -> Result<Vec<Map>, FormatError> {
        let text = to_str(input)?;
        split::parse_stream(text, true)
    }

    fn parse_encrypted(&self, input: &[u8]) -> Result<EncryptedFile, FormatError> {
        let text = to_str(input)?;
        let mut documents = split::parse_stream(text, false)?;
        let mut metadata = None;
        for (i, doc) in documents.iter_mut().enumerate() {
            let mut found: Vec<Value> = Vec::new();
            doc.0.retain_mut(|item| match item {
                Item::Entry(k, v) if k == "sops" => {
                    found.push(std::mem::replace(v, Value::Null));
                    false
                }
                _ => true,
            });
            if i == 0 {
                if found.len() > 1 {
                    return Err(FormatError::Parse("Found duplicate sops entry".into()));
                }
                match found.pop() {
                    Some(Value::Map(m)) => metadata = Some(m),
                    Some(Value::Null) | None => {}
                    Some(_) => {
                        return Err(FormatError::Parse(
                            "Found sops entry that is not a mapping".into(),
                        ))
                    }
                }
            }
        }
        Ok(EncryptedFile {
            documents,
            metadata,
        })
    }

    fn emit_plain(&self, documents: &[Map]) -> Result<Vec<u8>, FormatError> {
        self.emit_plain_chunks(documents).map(split::join_chunks)
    }

    fn emit_encrypted(&self, documents: &[Map], metadata: &Map) -> Result<Vec<u8>, FormatError> {
        self.emit_encrypted_chunks(documents, metadata)
            .map(split::join_chunks)
    }

    fn emit_plain_chunks(&self, documents: &[Map]) -> Result<Vec<Vec<u8>>, FormatError> {
        Ok(split::emit_documents(documents, None, self.indent))
    }

    fn emit_encrypted_chunks(
        &self,
        documents: &[Map],
        metadata: &Map,
    ) -> Result<Vec<Vec<u8>>, FormatError> {
        Ok(split::emit_documents(
            documents,
            Some(metadata),
            self.indent,
        ))
    }

    fn emit_value(&self, value: &Value) -> Result<Vec<u8>, FormatError> {
        Ok(emit::emit_single_value(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::Comment;

    fn store() -> YamlStore {
        YamlStore::new(&StoreOptions::default())
    }

    fn parse_err(input: &str) -> String {
        store()
            .parse_plain(input.as_bytes())
            .unwrap_err()
            .to_string()
    }

    fn round_trip(input: &str) -> String {
        let s = store();
        let docs = s.parse_plain(input.as_bytes()).unwrap();
        String::from_utf8(s.emit_plain(&docs).unwrap()).unwrap()
    }

    #[test]
    fn empty_and_comment_only_inputs() {
        assert_eq!(store().parse_plain(b"").unwrap(), Vec::<Map>::new());
        assert_eq!(parse_err("# only\n"), "EOF");
        assert_eq!(parse_err("\n\n"), "EOF");
        assert_eq!(round_trip("---\n"), "{}\n");
    }

    #[test]
    fn duplicate_keys_found_in_small_and_large_mappings() {
        for n in [3, 16, 17, 40] {
            let mut text: String = (0..n).map(|i| format!("k{i}: {i}\n")).collect();
            assert!(store().parse_plain(text.as_bytes()).is_ok(), "{n} keys");
            text.push_str("k1: again\n");
            assert_eq!(
                parse_err(&text),
                format!(
                    "yaml: unmarshal errors:\n  line {}: mapping key \"k1\" already defined at line 2",
                    n + 1
                ),
                "{n} keys"
            );
        }
    }

    #[test]
    fn structural_errors() {
        // Comments, a nested flow mapping and a quoted key between the two
        // (the reference reports the same).
        assert_eq!(
            parse_err("a: 1\n# c\nb:\n  x: 1\n  x2: {p: 1, q: 2}\n\"a\": 3\n"),
            "yaml: unmarshal errors:\n  line 6: mapping key \"a\" already defined at line 1"
        );
        assert_eq!(
            parse_err("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n"),
            "yaml: unmarshal errors:\n  line 5: mapping key \"a\" already defined at line 1"
        );
        assert_eq!(
            parse_err("a: 1\nb:\n  c: 1\n  c: 2\n"),
            "yaml: unmarshal errors:\n  line 4: mapping key \"c\" already defined at line 3"
        );
        assert_eq!(
            parse_err("- a\n- b\n"),
            "yaml: unmarshal errors:\n  line 1: cannot unmarshal !!seq into map[string]interface {}"
        );
        // yaml.v3 quotes the scalar (`abc`); it may be a secret.
        assert_eq!(
            parse_err("abc\n"),
            "yaml: unmarshal errors:\n  line 1: cannot unmarshal !!str into map[string]interface {}"
        );
        // The same for a tag that does not fit the value, and an integer
        // too large: the value is never shown.
        assert_eq!(
            parse_err("a: !!int pin-1234\n"),
            "yaml: cannot decode !!str as a !!int (line 1, column 10)"
        );
        assert_eq!(
            parse_err("a: 18446744073709551615\n"),
            "integer does not fit in a signed 64-bit integer (sops: Cannot walk value, unknown type: uint64) (line 1, column 4)"
        );
        assert_eq!(
            parse_err("a: 1\n---\n- x\n"),
            "Error unmarshaling input YAML: YAML documents that are sequences are not supported"
        );
        assert_eq!(
            parse_err("a: 1\n---\nx\n"),
            "Error unmarshaling input YAML: YAML documents that are values are not supported"
        );
        assert!(parse_err("1: one\n").contains("non-string key (type int)"));
        assert!(parse_err("a: [\n").starts_with("yaml: line "));
        assert!(parse_err("a: 18446744073709551615\n").contains("uint64"));
        assert_eq!(
            parse_err("a: &x 1\nm:\n  <<: *x\n"),
            "yaml: map merge requires map or sequence of maps as the value"
        );
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let prev = i - 1;
            src.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        assert!(parse_err(&src).contains("excessive aliasing"));
        let docs = store().parse_plain(b"a: &x {k: v}\nb: *x\n").unwrap();
        assert_eq!(docs[0].get("a"), docs[0].get("b"));
    }

    #[test]
    fn duplicates_only_checked_in_first_document() {
        assert!(store().parse_plain(b"a: 1\n---\nb: 1\nb: 2\n").is_ok());
    }

    #[test]
    fn comments_become_items() {
        let docs = store()
            .parse_plain(b"# head\na: 1 # line\nl:\n  - x\n  # foot\n")
            .unwrap();
        let m = &docs[0];
        assert_eq!(m.0[0], Item::Comment(Comment::new(" head")));
        assert!(matches!(&m.0[1], Item::Comment(c) if c.text == " line" && c.inline));
        assert_eq!(m.0[2], Item::Entry("a".into(), Value::Int(1)));
        match m.get("l") {
            Some(Value::List(l)) => {
                assert_eq!(l[0], Value::Str("x".into()));
                assert_eq!(l[1], Value::Comment(Comment::new(" foot")));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parse_encrypted_extracts_metadata() {
        let input =
            b"a: ENC[x]\nsops:\n    version: 3.11.0\n---\nb: 1\nsops:\n    version: 3.11.0\n";
        let f = store().parse_encrypted(input).unwrap();
        assert_eq!(f.documents.len(), 2);
        assert!(f.documents.iter().all(|d| d.get("sops").is_none()));
        let meta = f.metadata.unwrap();
        assert_eq!(meta.get("version"), Some(&Value::Str("3.11.0".into())));
        let out = store().emit_encrypted(&f.documents, &meta).unwrap();
        assert_eq!(out, input.to_vec());
        assert!(store()
            .parse_encrypted(b"a: 1\n")
            .unwrap()
            .metadata
            .is_none());
        assert_eq!(
            store()
                .parse_encrypted(b"sops: 1\n")
                .unwrap_err()
                .to_string(),
            "Found sops entry that is not a mapping"
        );
        assert_eq!(
            store()
                .parse_encrypted(b"sops: {}\nx: 1\nsops: {}\n")
                .unwrap_err()
                .to_string(),
            "Found duplicate sops entry"
        );
    }

    #[test]
    fn encrypted_comments_in_sequences_and_mappings() {
        let mut m = Map::new();
        m.0.push(Item::Comment(Comment::new(
            "ENC[AES256_GCM,data:x,type:comment]",
        )));
        m.push(
            "l",
            Value::List(vec![
                Value::Str("ENC[AES256_GCM,data:a,type:str]".into()),
                Value::Str("ENC[AES256_GCM,data:b,type:comment]".into()),
            ]),
        );
        let out = String::from_utf8(store().emit_plain(&[m]).unwrap()).unwrap();
        assert_eq!(
            out,
            "#ENC[AES256_GCM,data:x,type:comment]\nl:\n    - ENC[AES256_GCM,data:a,type:str]\n    - ENC[AES256_GCM,data:b,type:comment]\n"
        );
    }

    #[test]
    fn indentation_option_and_values() {
        let s = YamlStore::new(&StoreOptions {
            yaml_indent: Some(2),
            ..StoreOptions::default()
        });
        let docs = s.parse_plain(b"a:\n    b: [1]\n").unwrap();
        assert_eq!(s.emit_plain(&docs).unwrap(), b"a:\n  b:\n    - 1\n");
        assert_eq!(store().emit_value(&Value::Float(2.5)).unwrap(), b"2.5\n");
        assert_eq!(
            store()
                .emit_value(&Value::List(vec![Value::Str("appended".into())]))
                .unwrap(),
            b"- appended\n"
        );
    }

    #[test]
    fn metadata_layout() {
        let mut age = Map::new();
        age.push("recipient", Value::Str("age1xyz".into()));
        age.push(
            "enc",
            Value::Str(
                "-----BEGIN AGE ENCRYPTED FILE-----\nabc\n-----END AGE ENCRYPTED FILE-----\n"
                    .into(),
            ),
        );
        let mut meta = Map::new();
        meta.push("age", Value::List(vec![Value::Map(age)]));
        meta.push("lastmodified", Value::Str("2026-11-27T23:39:06Z".into()));
        meta.push(
            "pgp_enc",
            Value::Str("-----BEGIN PGP MESSAGE-----\n\nx\n-----END PGP MESSAGE-----".into()),
        );
        meta.push("version", Value::Str("3.11.0".into()));
        let mut doc = Map::new();
        doc.push("k", Value::Str("ENC[x]".into()));
        let out = String::from_utf8(store().emit_encrypted(&[doc], &meta).unwrap()).unwrap();
        assert_eq!(
            out,
            "k: ENC[x]\nsops:\n    age:\n        - recipient: age1xyz\n          enc: |\n            -----BEGIN AGE ENCRYPTED FILE-----\n            abc\n            -----END AGE ENCRYPTED FILE-----\n    lastmodified: \"2026-11-27T23:39:06Z\"\n    pgp_enc: |-\n        -----BEGIN PGP MESSAGE-----\n\n        x\n        -----END PGP MESSAGE-----\n    version: 3.11.0\n"
        );
    }
}

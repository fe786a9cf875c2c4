//! The dotenv store (docs/spec/format.md §10.3).
//!
//! Reading: the input is split on `\n` only; empty lines are skipped; a line
//! starting with `#` is a comment; every other line is split at its first
//! `=` into key and value, neither trimmed nor unquoted; `\n` (backslash,
//! `n`) in values becomes a newline. A value that is not valid UTF-8 is kept
//! as [`Value::Bytes`] (the reference keeps the raw bytes); keys and
//! comments are made valid with U+FFFD.
//!
//! Metadata: every top-level key starting with `sops_`, prefix stripped and
//! unflattened (§9); on writing, the flattened pairs sorted by key are
//! appended after the data lines.

use super::flatten::{flatten, unflatten};
use super::json::go_lossy_utf8;
use super::{EncryptedFile, FormatError, Store};
use crate::gofmt::format_flat_float;
use crate::tree::{Comment, Item, Map, Value};

/// The prefix of metadata keys.
const SOPS_PREFIX: &str = "sops_";

/// The dotenv store.
#[derive(Debug, Clone, Copy, Default)]
pub struct DotenvStore;

impl Store for DotenvStore {
    fn parse_plain(&self, input: &[u8]) -> Result<Vec<Map>, FormatError> {
        let mut map = Map::new();
        for (index, line) in input.split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            if line[0] == b'#' {
                map.0
                    .push(Item::Comment(Comment::new(go_lossy_utf8(&line[1..]))));
                continue;
            }
            let Some(pos) = line.iter().position(|&b| b == b'=') else {
                // sops echoes the line; it may hold a secret.
                return Err(FormatError::Parse(format!(
                    "invalid dotenv input line {}: expected KEY=VALUE (the line is not shown)",
                    index + 1
                )));
            };
            let key = go_lossy_utf8(&line[..pos]);
            let raw = replace_escaped_newlines(&line[pos + 1..]);
            let value = match String::from_utf8(raw) {
                Ok(s) => Value::Str(s),
                Err(e) => Value::Bytes(e.into_bytes()),
            };
            map.push(key, value);
        }
        Ok(vec![map])
    }

    fn parse_encrypted(&self, input: &[u8]) -> Result<EncryptedFile, FormatError> {
        let mut documents = self.parse_plain(input)?;
        let mut pairs: Vec<(String, Value)> = Vec::new();
        if let Some(doc) = documents.first_mut() {
            doc.0.retain_mut(|item| match item {
                Item::Entry(key, value) if key.starts_with(SOPS_PREFIX) => {
                    let name = key[SOPS_PREFIX.len()..].to_string();
                    let value = match std::mem::replace(value, Value::Null) {
                        Value::Bytes(b) => Value::Str(go_lossy_utf8(&b)),
                        other => other,
                    };
                    // The reference collects them in a map: the last one wins.
                    pairs.retain(|(k, _)| *k != name);
                    pairs.push((name, value));
                    false
                }
                _ => true,
            });
        }
        if pairs.is_empty() {
            return Ok(EncryptedFile {
                documents,
                metadata: None,
            });
        }
        decode_non_strings(&mut pairs)?;
        let metadata = unflatten(&pairs)?;
        Ok(EncryptedFile {
            documents,
            metadata: Some(metadata),
        })
    }

    fn emit_plain(&self, documents: &[Map]) -> Result<Vec<u8>, FormatError> {
        let mut out = Vec::new();
        if let Some(doc) = documents.first() {
            write_items(&mut out, doc)?;
        }
        Ok(out)
    }

    fn emit_encrypted(&self, documents: &[Map], metadata: &Map) -> Result<Vec<u8>, FormatError> {
        let mut out = self.emit_plain(documents)?;
        for (key, value) in flatten(metadata, SOPS_PREFIX) {
            let text = match value {
                Value::Null => continue,
                Value::Float(x) if key == "sops_shamir_threshold" => format!("{x:.0}"),
                other => match scalar_text(&other) {
                    Some(text) => text,
                    None => continue,
                },
            };
            out.extend_from_slice(key.as_bytes());
            out.push(b'=');
            out.extend_from_slice(text.replace('\n', "\\n").as_bytes());
            out.push(b'\n');
        }
        Ok(out)
    }

    fn emit_value(&self, value: &Value) -> Result<Vec<u8>, FormatError> {
        match value {
            Value::Str(s) => Ok(s.as_bytes().to_vec()),
            Value::Bytes(b) => Ok(b.clone()),
            other => Err(FormatError::Emit(format!(
                "the dotenv store only supports emitting strings, got {}",
                go_type_name(other)
            ))),
        }
    }

    fn has_metadata_key(&self, document: &Map) -> bool {
        document.entries().any(|(k, _)| k.starts_with(SOPS_PREFIX))
    }
}

/// Replaces every backslash-`n` pair with a newline.
fn replace_escaped_newlines(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        if value[i] == b'\\' && value.get(i + 1) == Some(&b'n') {
            out.push(b'\n');
            i += 2;
        } else {
            out.push(value[i]);
            i += 1;
        }
    }
    out
}

/// Writes the items of a document as lines.
fn write_items(out: &mut Vec<u8>, doc: &Map) -> Result<(), FormatError> {
    for item in &doc.0 {
        match item {
            Item::Comment(c) => {
                out.push(b'#');
                out.extend_from_slice(c.text.as_bytes());
                out.push(b'\n');
            }
            Item::Entry(key, value) => {
                out.extend_from_slice(key.as_bytes());
                out.push(b'=');
                match value {
                    Value::Str(s) => out.extend_from_slice(s.replace('\n', "\\n").as_bytes()),
                    Value::Bytes(b) => {
                        for &byte in b {
                            if byte == b'\n' {
                                out.extend_from_slice(b"\\n");
                            } else {
                                out.push(byte);
                            }
                        }
                    }
                    other => match scalar_text(other) {
                        Some(text) => out.extend_from_slice(text.as_bytes()),
                        None => {
                            return Err(FormatError::Emit(format!(
                                "cannot use complex value in dotenv file; offending key {key}"
                            )))
                        }
                    },
                }
                out.push(b'\n');
            }
        }
    }
    Ok(())
}

/// A scalar as text in flat formats (docs/spec/format.md §10.6); `None` for mappings
/// and lists.
pub(crate) fn scalar_text(value: &Value) -> Option<String> {
    Some(match value {
        Value::Map(_) | Value::List(_) => return None,
        Value::Str(s) => s.clone(),
        Value::Bytes(b) => go_lossy_utf8(b),
        Value::Int(n) => n.to_string(),
        Value::Float(x) => format_flat_float(*x),
        Value::Bool(b) => b.to_string(),
        Value::Time(t) => t.to_rfc3339(),
        Value::Null => "<nil>".to_string(),
        Value::Comment(c) => format!("{{{}}}", c.text),
    })
}

/// The Go type name the reference prints with `%T`.
fn go_type_name(value: &Value) -> &'static str {
    match value {
        Value::Map(_) => "sops.TreeBranch",
        Value::List(_) => "[]interface {}",
        Value::Str(_) | Value::Bytes(_) => "string",
        Value::Int(_) => "int",
        Value::Float(_) => "float64",
        Value::Bool(_) => "bool",
        Value::Time(_) => "time.Time",
        Value::Null => "<nil>",
        Value::Comment(_) => "sops.Comment",
    }
}

/// The reference's `DecodeNonStrings`: `mac_only_encrypted` is true only
/// for the text `true`; `shamir_threshold` must be an integer (or a float
/// with an integral value, as old versions wrote it).
fn decode_non_strings(pairs: &mut [(String, Value)]) -> Result<(), FormatError> {
    for (key, value) in pairs.iter_mut() {
        match key.as_str() {
            "mac_only_encrypted" => {
                *value = Value::Bool(value.as_str() == Some("true"));
            }
            "shamir_threshold" => {
                let text = value.as_str().unwrap_or("");
                let n = match text.parse::<i64>() {
                    Ok(n) => n,
                    Err(_) => match text.parse::<f64>() {
                        Ok(x) if x.fract() == 0.0 && x.abs() < 9.2e18 => x as i64,
                        _ => {
                            return Err(FormatError::Parse(format!(
                                "shamir_threshold is not an integer: strconv.Atoi: parsing {text:?}: invalid syntax"
                            )))
                        }
                    },
                };
                *value = Value::Int(n);
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &[u8]) -> Map {
        let mut docs = DotenvStore.parse_plain(input).unwrap();
        assert_eq!(docs.len(), 1);
        docs.remove(0)
    }

    #[test]
    fn reads_lines_verbatim() {
        let m = parse(b"# c\n\nexport A=\"x y\"\r\n SP = v \nE=\nEQ=a=b\n=k\nML=a\\nb\\\\nc\n#\n");
        let mut want = Map::new();
        want.0.push(Item::Comment(Comment::new(" c")));
        want.push("export A", Value::Str("\"x y\"\r".into()));
        want.push(" SP ", Value::Str(" v ".into()));
        want.push("E", Value::Str(String::new()));
        want.push("EQ", Value::Str("a=b".into()));
        want.push("", Value::Str("k".into()));
        want.push("ML", Value::Str("a\nb\\\nc".into()));
        want.0.push(Item::Comment(Comment::new("")));
        assert_eq!(m, want);
    }

    #[test]
    fn round_trip_bytes() {
        let input = b"# c\nA=1\r\nB=line1\\nline2\nC=\n";
        let out = DotenvStore.emit_plain(&[parse(input)]).unwrap();
        assert_eq!(out, input);
        // Blank lines are dropped, a final newline is added.
        let out = DotenvStore.emit_plain(&[parse(b"\n\nA=1\n\nB=2")]).unwrap();
        assert_eq!(out, b"A=1\nB=2\n");
    }

    #[test]
    fn invalid_utf8_values_are_kept_as_bytes() {
        let m = parse(b"A=x\xffy\\n\n");
        assert_eq!(m.get("A"), Some(&Value::Bytes(b"x\xffy\n".to_vec())));
        assert_eq!(DotenvStore.emit_plain(&[m]).unwrap(), b"A=x\xffy\\n\n");
    }

    #[test]
    fn line_without_equals_is_an_error() {
        assert_eq!(
            DotenvStore
                .parse_plain(b"A=1\n   \n")
                .unwrap_err()
                .to_string(),
            "invalid dotenv input line 2: expected KEY=VALUE (the line is not shown)"
        );
        assert_eq!(
            DotenvStore.parse_plain(b"NOVALUE").unwrap_err().to_string(),
            "invalid dotenv input line 1: expected KEY=VALUE (the line is not shown)"
        );
    }

    #[test]
    fn non_strings_are_written_as_text() {
        let mut m = Map::new();
        m.push("f", Value::Float(1000.0));
        m.push("g", Value::Float(1e21));
        m.push("h", Value::Float(1e-6));
        m.push("i", Value::Int(-3));
        m.push("b", Value::Bool(false));
        m.push("n", Value::Null);
        m.push(
            "t",
            Value::Time(crate::tree::Timestamp::parse_rfc3339("2024-01-01T10:00:00.5Z").unwrap()),
        );
        assert_eq!(
            String::from_utf8(DotenvStore.emit_plain(&[m]).unwrap()).unwrap(),
            "f=1000.0\ng=1E+21\nh=1E-06\ni=-3\nb=false\nn=<nil>\nt=2024-01-01T10:00:00Z\n"
        );
    }

    #[test]
    fn complex_values_are_refused() {
        let mut m = Map::new();
        m.push("ok", Value::Str("x".into()));
        m.push("nested", Value::Map(Map::new()));
        assert_eq!(
            DotenvStore.emit_plain(&[m]).unwrap_err().to_string(),
            "cannot use complex value in dotenv file; offending key nested"
        );
        let mut l = Map::new();
        l.push("list", Value::List(vec![]));
        assert!(DotenvStore.emit_plain(&[l]).is_err());
    }

    #[test]
    fn emit_value_only_strings() {
        assert_eq!(
            DotenvStore.emit_value(&Value::Str("a\nb".into())).unwrap(),
            b"a\nb"
        );
        assert_eq!(
            DotenvStore
                .emit_value(&Value::Int(1))
                .unwrap_err()
                .to_string(),
            "the dotenv store only supports emitting strings, got int"
        );
        assert_eq!(
            DotenvStore
                .emit_value(&Value::Float(1.0))
                .unwrap_err()
                .to_string(),
            "the dotenv store only supports emitting strings, got float64"
        );
        assert_eq!(
            DotenvStore
                .emit_value(&Value::List(vec![]))
                .unwrap_err()
                .to_string(),
            "the dotenv store only supports emitting strings, got []interface {}"
        );
    }

    fn sample_metadata() -> Map {
        let mut entry = Map::new();
        entry.push("recipient", Value::Str("age1xyz".into()));
        entry.push(
            "enc",
            Value::Str("-----BEGIN-----\nabc\n-----END-----\n".into()),
        );
        let mut md = Map::new();
        md.push("shamir_threshold", Value::Int(2));
        md.push("age", Value::List(vec![Value::Map(entry)]));
        md.push("lastmodified", Value::Str("2026-11-27T23:37:57Z".into()));
        md.push("mac_only_encrypted", Value::Bool(true));
        md.push("version", Value::Str("3.11.0".into()));
        md
    }

    #[test]
    fn metadata_is_flattened_sorted_and_escaped() {
        let mut doc = Map::new();
        doc.0.push(Item::Comment(Comment::new("ENC[c]")));
        doc.push("A", Value::Str("ENC[a]".into()));
        let out = DotenvStore
            .emit_encrypted(&[doc.clone()], &sample_metadata())
            .unwrap();
        let text = "#ENC[c]\nA=ENC[a]\n\
            sops_age__list_0__map_enc=-----BEGIN-----\\nabc\\n-----END-----\\n\n\
            sops_age__list_0__map_recipient=age1xyz\n\
            sops_lastmodified=2026-11-27T23:37:57Z\n\
            sops_mac_only_encrypted=true\n\
            sops_shamir_threshold=2\n\
            sops_version=3.11.0\n";
        assert_eq!(String::from_utf8(out.clone()).unwrap(), text);

        let back = DotenvStore.parse_encrypted(&out).unwrap();
        assert_eq!(back.documents, vec![doc]);
        let md = back.metadata.unwrap();
        assert_eq!(md.get("shamir_threshold"), Some(&Value::Int(2)));
        assert_eq!(md.get("mac_only_encrypted"), Some(&Value::Bool(true)));
        let Some(Value::List(age)) = md.get("age") else {
            panic!("age list")
        };
        let Value::Map(entry) = &age[0] else {
            panic!("entry")
        };
        assert_eq!(
            entry.get("enc"),
            Some(&Value::Str("-----BEGIN-----\nabc\n-----END-----\n".into()))
        );
    }

    #[test]
    fn metadata_keys_anywhere_last_one_wins() {
        let f = DotenvStore
            .parse_encrypted(
                b"sops_version=1\nA=x\nsops_version=3.11.0\nsops_mac_only_encrypted=1\n",
            )
            .unwrap();
        let md = f.metadata.unwrap();
        assert_eq!(md.get("version"), Some(&Value::Str("3.11.0".into())));
        assert_eq!(md.get("mac_only_encrypted"), Some(&Value::Bool(false)));
        assert_eq!(f.documents[0].entries().count(), 1);
        assert_eq!(
            DotenvStore.parse_encrypted(b"A=1\n").unwrap().metadata,
            None
        );
        assert_eq!(
            DotenvStore
                .parse_encrypted(b"sops_shamir_threshold=x\n")
                .unwrap_err()
                .to_string(),
            "shamir_threshold is not an integer: strconv.Atoi: parsing \"x\": invalid syntax"
        );
        let f = DotenvStore
            .parse_encrypted(b"sops_shamir_threshold=2.0\n")
            .unwrap();
        assert_eq!(
            f.metadata.unwrap().get("shamir_threshold"),
            Some(&Value::Int(2))
        );
    }

    #[test]
    fn detects_sops_prefixed_keys() {
        assert!(DotenvStore.has_metadata_key(&parse(b"A=1\nsops_x=2\n")));
        assert!(!DotenvStore.has_metadata_key(&parse(b"A=1\nsops=2\n#sops_x=1\n")));
    }
}

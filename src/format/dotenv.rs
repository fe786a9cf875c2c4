//! The dotenv store (format.md §10.3).
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
                return Err(FormatError::Parse(format!(
                    "invalid dotenv input line: {} (line {})",
                    String::from_utf8_lossy(line),
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

/// A scalar as text in flat formats (format.md §10.6); `None` for mappings
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

//! Writing: Go's `encoding/json` encoding, indented like `json.Indent`.

use super::super::swar::{has_byte, has_less_than_0x20, skip_plain};
use super::super::FormatError;
use crate::gofmt::format_json_float;
use crate::tree::{Comment, Map, Value};

/// The indentation unit for an `indent` setting.
pub(super) fn indent_unit(indent: Option<i64>) -> Result<String, FormatError> {
    match indent {
        None | Some(-1) => Ok("\t".to_string()),
        Some(n) if n < -1 => Err(FormatError::Emit(
            "Error marshaling to json: JSON Indentation parameter smaller than -1 is not accepted"
                .into(),
        )),
        Some(n) => Ok(" ".repeat(n as usize)),
    }
}

/// Writes one document (and the metadata as its last member `sops`) with a
/// final newline.
pub(crate) fn emit_document(
    doc: &Map,
    metadata: Option<&Map>,
    indent: Option<i64>,
) -> Result<Vec<u8>, FormatError> {
    let unit = indent_unit(indent)?;
    let mut out = Vec::with_capacity(4096);
    let mut enc = Encoder {
        out: &mut out,
        unit: &unit,
    };
    let sops_member = metadata.map(|m| ("sops", m));
    enc.object(doc, sops_member, 0)
        .map_err(|e| FormatError::Emit(format!("Error marshaling to json: {e}")))?;
    out.push(b'\n');
    Ok(out)
}

/// Writes values the way sops's `encodeValue` + `json.Indent` do.
pub(super) struct Encoder<'o> {
    pub(super) out: &'o mut Vec<u8>,
    pub(super) unit: &'o str,
}

impl Encoder<'_> {
    pub(super) fn newline(&mut self, depth: usize) {
        self.out.push(b'\n');
        for _ in 0..depth {
            self.out.extend_from_slice(self.unit.as_bytes());
        }
    }

    pub(super) fn object(
        &mut self,
        map: &Map,
        extra: Option<(&str, &Map)>,
        depth: usize,
    ) -> Result<(), String> {
        let mut first = true;
        self.out.push(b'{');
        let entries = map
            .entries()
            .map(|(k, v)| (k, MemberValue::Value(v)))
            .chain(extra.map(|(k, m)| (k, MemberValue::Map(m))));
        for (key, value) in entries {
            if !first {
                self.out.push(b',');
            }
            first = false;
            self.newline(depth + 1);
            write_string(self.out, key);
            self.out.extend_from_slice(b": ");
            let result = match value {
                MemberValue::Value(v) => self.value(v, depth + 1),
                MemberValue::Map(m) => self.object(m, None, depth + 1),
            };
            result.map_err(|e| format!("Error encoding value : {e}"))?;
        }
        if !first {
            self.newline(depth);
        }
        self.out.push(b'}');
        Ok(())
    }

    pub(super) fn value(&mut self, value: &Value, depth: usize) -> Result<(), String> {
        match value {
            Value::Map(m) => self.object(m, None, depth)?,
            Value::List(items) => {
                let mut first = true;
                self.out.push(b'[');
                for item in items {
                    if matches!(item, Value::Comment(_)) {
                        continue;
                    }
                    if !first {
                        self.out.push(b',');
                    }
                    first = false;
                    self.newline(depth + 1);
                    self.value(item, depth + 1)?;
                }
                if !first {
                    self.newline(depth);
                }
                self.out.push(b']');
            }
            Value::Str(s) => write_string(self.out, s),
            Value::Bytes(b) => write_bytes_string(self.out, b),
            Value::Int(n) => self.out.extend_from_slice(n.to_string().as_bytes()),
            Value::Float(x) => match format_json_float(*x) {
                Some(text) => self.out.extend_from_slice(text.as_bytes()),
                None => {
                    return Err(format!(
                        "json: unsupported value: {}",
                        crate::gofmt::format_g(*x, false)
                    ))
                }
            },
            Value::Bool(b) => self
                .out
                .extend_from_slice(if *b { b"true" } else { b"false" }),
            Value::Null => self.out.extend_from_slice(b"null"),
            Value::Time(t) => {
                if !(0..=9999).contains(&t.year) {
                    return Err("json: error calling MarshalJSON for type time.Time: Time.MarshalJSON: year outside of range [0,9999]".into());
                }
                write_string(self.out, &t.to_rfc3339_nano());
            }
            Value::Comment(Comment { text, .. }) => {
                // Go marshals the comment struct itself.
                let mut m = Map::new();
                m.push("Value", Value::Str(text.clone()));
                self.object(&m, None, depth)?;
            }
        }
        Ok(())
    }
}

/// A member to write: a tree value or the metadata mapping.
pub(super) enum MemberValue<'a> {
    Value(&'a Value),
    Map(&'a Map),
}

pub(super) const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes a JSON string like Go's `encoding/json` (HTML-safe escaping).
pub(super) fn write_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    write_escaped(out, s);
    out.push(b'"');
}

/// The escaped content of a JSON string, without the quotes.
pub(super) fn write_escaped(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        i = skip_plain(bytes, i, |w| {
            has_byte(w, b'"')
                | has_byte(w, b'\\')
                | has_less_than_0x20(w)
                | has_byte(w, b'<')
                | has_byte(w, b'>')
                | has_byte(w, b'&')
                | has_byte(w, 0xE2)
        });
        let Some(&b) = bytes.get(i) else {
            break;
        };
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0x08 => Some(b"\\b"),
            0x0C => Some(b"\\f"),
            0..=0x1F | b'<' | b'>' | b'&' => Some(b""),
            // U+2028 and U+2029 (E2 80 A8 / E2 80 A9).
            0xE2 if bytes.get(i + 1) == Some(&0x80)
                && matches!(bytes.get(i + 2), Some(0xA8 | 0xA9)) =>
            {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(if bytes[i + 2] == 0xA8 {
                    b"\\u2028"
                } else {
                    b"\\u2029"
                });
                i += 3;
                start = i;
                continue;
            }
            _ => None,
        };
        match escape {
            None => i += 1,
            Some(text) => {
                out.extend_from_slice(&bytes[start..i]);
                if text.is_empty() {
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[(b >> 4) as usize]);
                    out.push(HEX[(b & 0xF) as usize]);
                } else {
                    out.extend_from_slice(text);
                }
                i += 1;
                start = i;
            }
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Writes a Go string that may hold invalid UTF-8: each invalid byte is
/// written as the escape `\ufffd`, as Go's encoder does.
pub(super) fn write_bytes_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                write_escaped(out, s);
                break;
            }
            Err(e) => {
                let valid = e.valid_up_to();
                write_escaped(out, std::str::from_utf8(&rest[..valid]).unwrap_or(""));
                out.extend_from_slice(b"\\ufffd");
                rest = &rest[valid + 1..];
            }
        }
    }
    out.push(b'"');
}

//! The bytes a value is encrypted (and hashed) as, and back (docs/spec/format.md §3.3).

use crate::gofmt;
use crate::stack_text::StackText;
use crate::tree::{Comment, Timestamp, Value};
use zeroize::Zeroizing;

/// The type name and plaintext bytes of a leaf, or `None` for values that
/// are never encrypted (null, containers): an owned copy of what
/// [`with_plaintext`] lends.
pub fn serialize(value: &Value) -> Option<(&'static str, Zeroizing<Vec<u8>>)> {
    with_plaintext(value, |type_name, bytes| {
        (type_name, Zeroizing::new(bytes.to_vec()))
    })
}

/// Calls `f` with the type name and plaintext bytes of a leaf, without
/// copying strings or allocating for numbers; `None` for values that are
/// never encrypted (null, containers).
pub fn with_plaintext<R>(value: &Value, f: impl FnOnce(&'static str, &[u8]) -> R) -> Option<R> {
    match value {
        Value::Str(s) => Some(f("str", s.as_bytes())),
        Value::Bytes(b) => Some(f("str", b)),
        Value::Bool(b) => Some(f("bool", if *b { b"True" } else { b"False" })),
        Value::Comment(c) => Some(f("comment", c.text.as_bytes())),
        Value::Int(i) => Some(with_text("int", |out| write!(out, "{i}"), f)),
        Value::Float(x) => Some(with_text("float", |out| gofmt::write_f(*x, out), f)),
        Value::Time(t) => {
            let text = Zeroizing::new(t.to_rfc3339_nano());
            Some(f("time", text.as_bytes()))
        }
        Value::Null | Value::Map(_) | Value::List(_) => None,
    }
}

/// Calls `f` with the text `write` makes: on the stack when short.
fn with_text<R>(
    type_name: &'static str,
    write: impl Fn(&mut dyn std::fmt::Write) -> std::fmt::Result + Copy,
    f: impl FnOnce(&'static str, &[u8]) -> R,
) -> R {
    match StackText::<40>::new(write) {
        Some(text) => f(type_name, text.as_str().as_bytes()),
        None => {
            let mut text = Zeroizing::new(String::new());
            let _ = write(&mut *text);
            f(type_name, text.as_bytes())
        }
    }
}

/// Why decrypted bytes do not parse as their declared type. Never contains
/// the bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaintextError {
    /// A type name sops does not know.
    #[error("Unknown datatype: {0}")]
    UnknownType(String),
    /// The bytes do not parse as the declared type.
    #[error("the decrypted value is not a valid {0}")]
    Invalid(&'static str),
}

/// Rebuilds a typed value from decrypted bytes, reusing the buffer for strings.
pub fn parse_owned(
    type_name: &str,
    mut bytes: Zeroizing<Vec<u8>>,
) -> Result<Value, PlaintextError> {
    if type_name == "str" {
        return Ok(match String::from_utf8(std::mem::take(&mut *bytes)) {
            Ok(s) => Value::Str(s),
            Err(e) => Value::Bytes(e.into_bytes()),
        });
    }
    parse(type_name, &bytes)
}

/// Rebuilds a typed value from decrypted bytes.
pub fn parse(type_name: &str, bytes: &[u8]) -> Result<Value, PlaintextError> {
    let text = || std::str::from_utf8(bytes).ok();
    match type_name {
        "str" | "bytes" => Ok(match std::str::from_utf8(bytes) {
            Ok(s) => Value::Str(s.to_string()),
            Err(_) => Value::Bytes(bytes.to_vec()),
        }),
        "int" => text()
            .and_then(parse_go_int)
            .map(Value::Int)
            .ok_or(PlaintextError::Invalid("int")),
        "float" => text()
            .and_then(gofmt::parse_float)
            .map(Value::Float)
            .ok_or(PlaintextError::Invalid("float")),
        "bool" => match text() {
            Some("1" | "t" | "T" | "TRUE" | "true" | "True") => Ok(Value::Bool(true)),
            Some("0" | "f" | "F" | "FALSE" | "false" | "False") => Ok(Value::Bool(false)),
            _ => Err(PlaintextError::Invalid("bool")),
        },
        "time" => text()
            .and_then(Timestamp::parse_rfc3339)
            .map(Value::Time)
            .ok_or(PlaintextError::Invalid("time")),
        "comment" => Ok(Value::Comment(Comment::new(
            String::from_utf8_lossy(bytes).into_owned(),
        ))),
        other => Err(PlaintextError::UnknownType(other.to_string())),
    }
}

/// Go's `strconv.Atoi`: optional sign, decimal digits only.
fn parse_go_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.strip_prefix('+').unwrap_or(s).parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrowed_plaintext_equals_serialized_plaintext() {
        let time = Timestamp::parse_rfc3339("2026-11-28T10:00:00.5+01:00").unwrap();
        let values = [
            Value::Str("hunter2".into()),
            Value::Bytes(vec![0xff, 0x00]),
            Value::Int(i64::MIN),
            Value::Int(42),
            Value::Float(1e300),
            Value::Float(-0.0),
            Value::Float(f64::NAN),
            Value::Float(f64::NEG_INFINITY),
            Value::Float(1040.31195),
            Value::Bool(true),
            Value::Bool(false),
            Value::Time(time),
            Value::Comment(Comment::new(" note")),
            Value::Null,
            Value::List(Vec::new()),
        ];
        for value in &values {
            let borrowed = with_plaintext(value, |t, b| (t, b.to_vec()));
            let serialized = serialize(value).map(|(t, b)| (t, b.to_vec()));
            assert_eq!(borrowed, serialized, "{value:?}");
        }
    }

    #[test]
    fn serializes_like_go() {
        let cases = [
            (Value::Int(-7), "int", "-7"),
            (Value::Float(1.0), "float", "1"),
            (Value::Float(f64::INFINITY), "float", "+Inf"),
            (Value::Bool(true), "bool", "True"),
            (Value::Bool(false), "bool", "False"),
            (Value::Str("héllo".into()), "str", "héllo"),
        ];
        for (value, ty, text) in cases {
            let (t, bytes) = serialize(&value).unwrap();
            assert_eq!(t, ty);
            assert_eq!(&**bytes, text.as_bytes());
        }
        assert!(serialize(&Value::Null).is_none());
    }

    #[test]
    fn parses_back() {
        assert_eq!(parse("int", b"+42"), Ok(Value::Int(42)));
        assert_eq!(parse("int", b"4_2"), Err(PlaintextError::Invalid("int")));
        assert_eq!(parse("bool", b"T"), Ok(Value::Bool(true)));
        assert_eq!(parse("float", b"0.5"), Ok(Value::Float(0.5)));
        assert_eq!(parse("str", b"\xff"), Ok(Value::Bytes(vec![0xff])));
        assert_eq!(
            parse("weird", b""),
            Err(PlaintextError::UnknownType("weird".into()))
        );
        let t = parse("time", b"2001-12-14T21:59:43.1-05:00").unwrap();
        assert!(
            matches!(t, Value::Time(ts) if ts.to_rfc3339_nano() == "2001-12-14T21:59:43.1-05:00")
        );
    }
}

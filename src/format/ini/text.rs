//! Values as INI text: sops's `ValToString`, Go's `%v` of nested values,
//! and Go's `encoding/json` for `--extract`.

use super::super::FormatError;
use crate::gofmt::{format_flat_float, format_g, format_json_float};
use crate::tree::{Item, Timestamp, Value};

/// sops's `ValToString` (docs/spec/format.md §10.6).
pub(super) fn value_to_text(value: &Value) -> String {
    match value {
        Value::Str(s) => s.clone(),
        Value::Float(f) => format_flat_float(*f),
        Value::Time(t) => t.to_rfc3339(),
        other => go_value(other),
    }
}

/// Go's `fmt.Sprintf("%v", v)` of a sops value (used for values nested in
/// a section value: `[1 2.5 true <nil> x]`, `[{a 1} {b [{c d}]}]`).
pub(super) fn go_value(value: &Value) -> String {
    match value {
        Value::Map(map) => {
            let items: Vec<String> = map
                .0
                .iter()
                .map(|item| match item {
                    Item::Entry(k, v) => format!("{{{k} {}}}", go_value(v)),
                    Item::Comment(c) => format!("{{{{{}}} <nil>}}", c.text),
                })
                .collect();
            format!("[{}]", items.join(" "))
        }
        Value::List(list) => {
            let items: Vec<String> = list.iter().map(go_value).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Str(s) => s.clone(),
        Value::Bytes(b) => {
            let items: Vec<String> = b.iter().map(u8::to_string).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Int(n) => n.to_string(),
        Value::Float(f) => format_g(*f, false),
        Value::Bool(b) => b.to_string(),
        Value::Time(t) => go_time_string(t),
        Value::Null => "<nil>".to_string(),
        Value::Comment(c) => format!("{{{}}}", c.text),
    }
}

/// Go's `time.Time.String()`: `2006-01-02 15:04:05.999999999 -0700 MST`.
pub(super) fn go_time_string(t: &Timestamp) -> String {
    let mut out = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    );
    if t.nanos != 0 {
        let frac = format!("{:09}", t.nanos);
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    let sign = if t.offset_seconds < 0 { '-' } else { '+' };
    let abs = t.offset_seconds.unsigned_abs();
    let zone = format!("{sign}{:02}{:02}", abs / 3600, (abs % 3600) / 60);
    if t.offset_seconds == 0 {
        out.push_str(" +0000 UTC");
    } else {
        out.push(' ');
        out.push_str(&zone);
        out.push(' ');
        out.push_str(&zone);
    }
    out
}

/// Go's `%q` of a string, for names in messages.
pub(super) use crate::gofmt::quote as go_quote;

/// Go's `json.Marshal` of a sops value: HTML-safe string escaping, a
/// mapping as a list of `{"Key":…,"Value":…}` items (a `TreeBranch`).
pub(super) fn go_json(value: &Value, out: &mut String) -> Result<(), FormatError> {
    match value {
        Value::Map(map) => {
            out.push('[');
            for (i, item) in map.0.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match item {
                    Item::Entry(k, v) => {
                        out.push_str("{\"Key\":");
                        go_json_string(k, out);
                        out.push_str(",\"Value\":");
                        go_json(v, out)?;
                        out.push('}');
                    }
                    Item::Comment(c) => {
                        out.push_str("{\"Key\":{\"Value\":");
                        go_json_string(&c.text, out);
                        out.push_str("},\"Value\":null}");
                    }
                }
            }
            out.push(']');
        }
        Value::List(list) => {
            out.push('[');
            for (i, v) in list.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(v, out)?;
            }
            out.push(']');
        }
        Value::Str(s) => go_json_string(s, out),
        Value::Bytes(b) => {
            use base64::Engine;
            out.push('"');
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
            out.push('"');
        }
        Value::Int(n) => out.push_str(&n.to_string()),
        Value::Float(f) => match format_json_float(*f) {
            Some(text) => out.push_str(&text),
            None => {
                return Err(FormatError::Emit(format!(
                    "json: unsupported value: {}",
                    format_g(*f, false)
                )))
            }
        },
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Time(t) => {
            out.push('"');
            out.push_str(&t.to_rfc3339_nano());
            out.push('"');
        }
        Value::Null => out.push_str("null"),
        Value::Comment(c) => {
            out.push_str("{\"Value\":");
            go_json_string(&c.text, out);
            out.push('}');
        }
    }
    Ok(())
}

/// A JSON string as Go's `encoding/json` writes it (`<`, `>`, `&`,
/// U+2028 and U+2029 escaped).
pub(super) fn go_json_string(s: &str, out: &mut String) {
    crate::quoted::push_double_quoted(out, s, |c| match c {
        '\u{8}' => Some("\\b".into()),
        '\u{c}' => Some("\\f".into()),
        '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => Some(format!("\\u{:04x}", c as u32).into()),
        c if (c as u32) < 0x20 => Some(format!("\\u{:04x}", c as u32).into()),
        _ => None,
    });
}

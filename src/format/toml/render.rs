//! Rendering single TOML values.

use super::*;

/// A basic string with enseal's canonical escapes.
pub(super) fn basic(s: &str) -> String {
    crate::quoted::double_quoted(s, |c| match c {
        '\u{8}' => Some("\\b".into()),
        '\u{c}' => Some("\\f".into()),
        c if crate::quoted::is_control(c) => Some(format!("\\u{:04X}", c as u32).into()),
        _ => None,
    })
}

pub(super) fn literal_ok(s: &str, multiline: bool) -> bool {
    let chars_ok = s.chars().all(|c| {
        c == '\t'
            || (multiline && (c == '\n' || c == '\''))
            || (c != '\'' && !((c as u32) < 0x20 || c == '\u{7f}'))
    });
    chars_ok && (!multiline || (!s.contains("'''") && !s.ends_with('\'')))
}

pub(super) fn render_str(kind: Kind, s: &str) -> String {
    match kind {
        Kind::StrLiteral if literal_ok(s, false) => format!("'{s}'"),
        Kind::StrMultilineLiteral if literal_ok(s, true) => format!("'''\n{s}'''"),
        Kind::StrMultiline => {
            let mut out = String::from("\"\"\"\n");
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' | '\t' => out.push(c),
                    c if (c as u32) < 0x20 || c == '\u{7f}' => {
                        out.push_str(&format!("\\u{:04X}", c as u32));
                    }
                    c => out.push(c),
                }
            }
            out.push_str("\"\"\"");
            out
        }
        Kind::Raw if is_scalar_source(s, None) => s.to_string(),
        Kind::DatetimeLocal | Kind::DateLocal | Kind::TimeLocal
            if is_scalar_source(s, Some(kind)) =>
        {
            s.to_string()
        }
        _ => basic(s),
    }
}

/// True when `s` is exactly one TOML scalar value (of a local date/time
/// kind when `kind` says so).
pub(super) fn is_scalar_source(s: &str, kind: Option<Kind>) -> bool {
    let Ok(v) = s.parse::<toml_edit::Value>() else {
        return false;
    };
    if v.span().is_some_and(|r| r != (0..s.len())) {
        return false;
    }
    if v.to_string() != s {
        return false;
    }
    match (&v, kind) {
        (toml_edit::Value::Array(_) | toml_edit::Value::InlineTable(_), _) => false,
        (_, None) => true,
        (toml_edit::Value::Datetime(d), Some(k)) => datetime_kind(d.value()) == Some(k),
        _ => false,
    }
}

pub(super) fn datetime_kind(d: &toml_edit::Datetime) -> Option<Kind> {
    match (d.date.is_some(), d.time.is_some(), d.offset.is_some()) {
        (true, true, false) => Some(Kind::DatetimeLocal),
        (true, false, false) => Some(Kind::DateLocal),
        (false, true, false) => Some(Kind::TimeLocal),
        _ => None,
    }
}

/// Canonical float text.
pub(super) fn render_float(f: f64) -> String {
    if f.is_nan() {
        "nan".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        format!("{f:?}")
    }
}

/// TOML text of a scalar tree value, written as `kind` when it fits.
pub(super) fn render(kind: Kind, value: &Value, path: &[String]) -> Result<String, FormatError> {
    Ok(match value {
        Value::Str(s) => render_str(kind, s),
        Value::Bytes(b) => basic(&String::from_utf8_lossy(b)),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => render_float(*f),
        Value::Bool(b) => b.to_string(),
        Value::Time(t) => t.to_rfc3339_nano(),
        Value::Comment(c) => basic(&c.text),
        Value::Null => {
            return Err(FormatError::Emit(format!(
                "TOML has no null value (at {})",
                display_path(path)
            )))
        }
        Value::Map(_) | Value::List(_) => {
            return Err(FormatError::Emit(format!(
                "unexpected container at {}",
                display_path(path)
            )))
        }
    })
}

pub(super) fn display_path(path: &[String]) -> String {
    if path.is_empty() {
        "the top level".to_string()
    } else {
        path.join(":")
    }
}

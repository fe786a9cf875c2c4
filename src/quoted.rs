//! Double-quoted strings, the one loop behind the string dialects enseal
//! writes: Go's `strconv.Quote` (`gofmt::quote`), Go's
//! `encoding/json` (INI values), YAML and TOML. All escape `"`, `\`, line
//! feed, carriage return and tab alike; each brings the rest of its escape
//! table as a function.

use std::borrow::Cow;

/// `s` between double quotes: `"`, `\`, line feed, carriage return and tab
/// as `\"`, `\\`, `\n`, `\r` and `\t`; any other character as `escape`
/// writes it, or as it is where `escape` gives `None`.
pub(crate) fn double_quoted(s: &str, escape: impl Fn(char) -> Option<Cow<'static, str>>) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_double_quoted(&mut out, s, escape);
    out
}

/// [`double_quoted`], appended to `out`.
pub(crate) fn push_double_quoted(
    out: &mut String,
    s: &str,
    escape: impl Fn(char) -> Option<Cow<'static, str>>,
) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => match escape(c) {
                Some(escaped) => out.push_str(&escaped),
                None => out.push(c),
            },
        }
    }
    out.push('"');
}

/// A C0 control character or DEL.
pub(crate) fn is_control(c: char) -> bool {
    (c as u32) < 0x20 || c == '\u{7f}'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_escapes_then_the_dialects_table() {
        let table = |c: char| match c {
            '\u{1}' => Some("<1>".into()),
            '\u{2}' => Some(format!("<{}>", 2).into()),
            _ => None,
        };
        assert_eq!(
            double_quoted("a\"b\\c\nd\re\tf\u{1}\u{2}\u{3}é", table),
            "\"a\\\"b\\\\c\\nd\\re\\tf<1><2>\u{3}é\""
        );
        let mut out = String::from("x=");
        push_double_quoted(&mut out, "", table);
        assert_eq!(out, "x=\"\"");
    }
}

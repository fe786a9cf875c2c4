//! Scalar resolution as the Go YAML v3 library does it (the rules sops
//! inherits): a plain scalar may become null, bool, int, float, timestamp or
//! string; explicit `!!` tags force a type; other tags are ignored.

use crate::tree::{Timestamp, Value};

/// The type a scalar resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Null,
    Bool,
    Int,
    /// An unsigned integer at or above 2^63 (sops cannot encrypt these).
    Uint,
    Float,
    Timestamp,
    Str,
}

/// A resolved plain scalar.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Time(Timestamp),
    Str,
}

impl Resolved {
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Resolved::Null => Kind::Null,
            Resolved::Bool(_) => Kind::Bool,
            Resolved::Int(_) => Kind::Int,
            Resolved::Uint(_) => Kind::Uint,
            Resolved::Float(_) => Kind::Float,
            Resolved::Time(_) => Kind::Timestamp,
            Resolved::Str => Kind::Str,
        }
    }
}

/// Resolves an untagged plain scalar (yaml.v3 `resolve("", s)`).
pub(crate) fn resolve_plain(s: &str) -> Resolved {
    resolve_with(s, true)
}

/// `allow_time`: whether the timestamp forms are tried (untagged or `!!timestamp`).
fn resolve_with(s: &str, allow_time: bool) -> Resolved {
    let hint = match s.as_bytes().first() {
        None => b'N',
        Some(b'+' | b'-') => b'S',
        Some(b'0'..=b'9') => b'D',
        Some(b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~') => b'M',
        Some(b'.') => b'.',
        Some(_) => return Resolved::Str,
    };
    match s {
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        _ => {}
    }
    match hint {
        b'.' => {
            if let Some(f) = parse_decimal_float(s) {
                return Resolved::Float(f);
            }
        }
        b'D' | b'S' => {
            if allow_time {
                if let Some(t) = parse_timestamp(s) {
                    return Resolved::Time(t);
                }
            }
            let stripped;
            let plain: &str = if s.contains('_') {
                stripped = s.replace('_', "");
                &stripped
            } else {
                s
            };
            match parse_go_int(plain) {
                Some(GoInt::Signed(i)) => return Resolved::Int(i),
                Some(GoInt::Unsigned(u)) => return Resolved::Uint(u),
                None => {}
            }
            if is_yaml_style_float(plain) {
                if let Some(f) = parse_decimal_float(plain) {
                    return Resolved::Float(f);
                }
            }
            // "-0b…"/"-0o…" are already covered by the base-0 parse above.
        }
        _ => {}
    }
    Resolved::Str
}

enum GoInt {
    Signed(i64),
    Unsigned(u64),
}

/// Go's `strconv.ParseInt(s, 0, 64)`, falling back to `ParseUint`.
fn parse_go_int(s: &str) -> Option<GoInt> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.as_bytes();
    let (radix, digits) = if lower.len() >= 2 && lower[0] == b'0' {
        match lower[1] {
            b'x' | b'X' => (16, &body[2..]),
            b'o' | b'O' => (8, &body[2..]),
            b'b' | b'B' => (2, &body[2..]),
            _ => (8, &body[1..]),
        }
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let mag = u64::from_str_radix(digits, radix).ok()?;
    if neg {
        if mag <= 1u64 << 63 {
            Some(GoInt::Signed((mag as i128).wrapping_neg() as i64))
        } else {
            None
        }
    } else if mag <= i64::MAX as u64 {
        Some(GoInt::Signed(mag as i64))
    } else if s.starts_with('+') {
        // ParseUint rejects a sign.
        None
    } else {
        Some(GoInt::Unsigned(mag))
    }
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseFloat(s, 64)` restricted to decimal notation; out of
/// range values fail as they do in Go.
fn parse_decimal_float(s: &str) -> Option<f64> {
    if !is_yaml_style_float(s) {
        return None;
    }
    let f: f64 = s.parse().ok()?;
    if f.is_infinite() {
        return None;
    }
    Some(f)
}

/// yaml.v3 `parseTimestamp`: the four accepted layouts.
pub(crate) fn parse_timestamp(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    let mut p = Cursor { b, i: 5 };
    let year: i32 = s[..4].parse().ok()?;
    let month = p.num12()?;
    p.expect(b'-')?;
    let day = p.num12()?;
    let mut t = Timestamp {
        year,
        month: month as u8,
        day: day as u8,
        hour: 0,
        minute: 0,
        second: 0,
        nanos: 0,
        offset_seconds: 0,
    };
    if p.i == b.len() {
        return t.is_valid().then_some(t);
    }
    let sep = *b.get(p.i)?;
    if !matches!(sep, b'T' | b't' | b' ') {
        return None;
    }
    p.i += 1;
    let hour = p.num12()?;
    p.expect(b':')?;
    let minute = p.num12()?;
    p.expect(b':')?;
    let second = p.num12()?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    t.hour = hour as u8;
    t.minute = minute as u8;
    t.second = second as u8;
    if matches!(b.get(p.i), Some(b'.' | b',')) && b.get(p.i + 1).is_some_and(u8::is_ascii_digit) {
        p.i += 1;
        let start = p.i;
        while p.i < b.len() && b[p.i].is_ascii_digit() && p.i - start < 9 {
            p.i += 1;
        }
        let digits = &s[start..p.i];
        t.nanos = digits.parse::<u32>().ok()? * 10u32.pow(9 - digits.len() as u32);
    }
    if sep != b' ' {
        match b.get(p.i)? {
            b'Z' => p.i += 1,
            sign @ (b'+' | b'-') => {
                let sign = *sign;
                if b.len() < p.i + 6 || b[p.i + 3] != b':' {
                    return None;
                }
                let hh: i32 = two_digits(&b[p.i + 1..p.i + 3])?;
                let mm: i32 = two_digits(&b[p.i + 4..p.i + 6])?;
                if hh > 24 || mm > 60 {
                    return None;
                }
                let off = hh * 3600 + mm * 60;
                t.offset_seconds = if sign == b'-' { -off } else { off };
                p.i += 6;
            }
            _ => return None,
        }
    }
    if p.i != b.len() {
        return None;
    }
    t.is_valid().then_some(t)
}

fn two_digits(b: &[u8]) -> Option<i32> {
    if b.len() == 2 && b.iter().all(u8::is_ascii_digit) {
        Some(i32::from(b[0] - b'0') * 10 + i32::from(b[1] - b'0'))
    } else {
        None
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    /// One or two digits (Go's `getnum(value, false)`).
    fn num12(&mut self) -> Option<u32> {
        let d0 = *self.b.get(self.i)?;
        if !d0.is_ascii_digit() {
            return None;
        }
        self.i += 1;
        let mut n = u32::from(d0 - b'0');
        if let Some(d1) = self.b.get(self.i).filter(|c| c.is_ascii_digit()) {
            n = n * 10 + u32::from(d1 - b'0');
            self.i += 1;
        }
        Some(n)
    }

    fn expect(&mut self, c: u8) -> Option<()> {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            Some(())
        } else {
            None
        }
    }
}

/// yaml.v3 `isBase60Float`: strings like `1:20` that YAML 1.1 read as numbers.
pub(crate) fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let Some(&c) = b.first() else { return false };
    if !(c == b'+' || c == b'-' || c.is_ascii_digit()) || !s.contains(':') {
        return false;
    }
    // ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
    let mut i = usize::from(c == b'+' || c == b'-');
    if !b.get(i).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    i += 1;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while b.get(i) == Some(&b':') {
        i += 1;
        // [0-5]?[0-9]
        let d1 = b.get(i).copied();
        let d2 = b.get(i + 1).copied();
        match (d1, d2) {
            (Some(x @ b'0'..=b'5'), Some(y)) if y.is_ascii_digit() => {
                let _ = x;
                i += 2;
            }
            (Some(x), _) if x.is_ascii_digit() => i += 1,
            _ => return false,
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// yaml.v3 `isOldBool`: YAML 1.1 booleans that stay strings but are quoted on output.
pub(crate) fn is_old_bool(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "on"
            | "On"
            | "ON"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "off"
            | "Off"
            | "OFF"
    )
}

/// True when a string can be written as a plain scalar without changing its
/// type (yaml.v3 `stringv`'s `canUsePlain`, before style analysis).
pub(crate) fn string_can_be_plain(s: &str) -> bool {
    resolve_plain(s) == Resolved::Str && !is_base60_float(s) && !is_old_bool(s)
}

/// The tag of an explicitly tagged scalar, as yaml.v3 sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScalarTag {
    /// No tag, or the non-specific `!`.
    None,
    /// A `!!name` tag (`tag:yaml.org,2002:name`).
    Core(String),
    /// Any other tag: the value stays a string.
    Other,
}

/// The prefix of the YAML core schema tags (`!!name`).
const CORE_TAG_PREFIX: &str = "tag:yaml.org,2002:";

impl ScalarTag {
    /// The tag written with `handle` (already expanded by any `%TAG`
    /// directive) and `suffix`, as yaml.v3's `shortTag` sees it: the
    /// non-specific `!` (the parser's handle `""` with suffix `!`, or
    /// handle `!` with no suffix) is no tag; `!!name`, the verbatim
    /// `!<tag:yaml.org,2002:name>` and any handle a directive maps to the
    /// core prefix are `Core(name)`; anything else is another tag.
    pub(crate) fn from_parts(handle: &str, suffix: &str) -> ScalarTag {
        match (handle, suffix) {
            ("", "!") | ("!", "") => ScalarTag::None,
            ("!!", name) => ScalarTag::Core(name.to_string()),
            (CORE_TAG_PREFIX, name) => ScalarTag::Core(name.to_string()),
            ("", verbatim) => match verbatim.strip_prefix(CORE_TAG_PREFIX) {
                Some(name) => ScalarTag::Core(name.to_string()),
                None => ScalarTag::Other,
            },
            _ => ScalarTag::Other,
        }
    }
}

/// What a scalar that cannot be decoded as its tag says (`!!int x`,
/// `!!null 1`, `!!binary` that is not base64) does to the file.
///
/// sops 3.11 decodes a plaintext file's first document into a map before
/// reading it as nodes, so a failure there refuses the file (exit 2), as
/// one in the `sops` metadata of an encrypted file does. Every other
/// scalar is decoded on its own with the error ignored: the value is null
/// (later documents of a plaintext file, everything but the metadata of
/// an encrypted one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnDecodeError {
    /// The error refuses the file.
    Refuse,
    /// The scalar is null.
    Null,
}

/// Resolves a scalar as sops reads it (yaml.v3 decoding it into
/// `interface{}`); a value that cannot be decoded as its tag is refused or
/// null as `on_error` says (see [`OnDecodeError`]).
///
/// `quoted`: any style other than plain. Errors are yaml.v3's messages,
/// without the value (it may be a secret).
pub(crate) fn resolve_scalar(
    value: &str,
    quoted: bool,
    tag: &ScalarTag,
    on_error: OnDecodeError,
) -> Result<Value, String> {
    match decode_scalar(value, quoted, tag) {
        Err(Undecodable(_)) if on_error == OnDecodeError::Null => Ok(Value::Null),
        Err(Undecodable(message)) => Err(message),
        Ok(resolved) => resolved,
    }
}

/// A scalar yaml.v3 cannot decode as its tag (its message).
struct Undecodable(String);

/// yaml.v3's decoding of a scalar: `Err` where it fails (sops ignores that
/// failure outside the first document), `Ok(Err)` where it decodes to a
/// value sops cannot use (an integer beyond int64).
fn decode_scalar(
    value: &str,
    quoted: bool,
    tag: &ScalarTag,
) -> Result<Result<Value, String>, Undecodable> {
    let core = match tag {
        ScalarTag::None if quoted => return Ok(Ok(Value::Str(value.to_string()))),
        ScalarTag::None => return Ok(resolved_to_value(resolve_plain(value), value)),
        ScalarTag::Other => return Ok(Ok(Value::Str(value.to_string()))),
        ScalarTag::Core(name) => name.as_str(),
    };
    match core {
        "str" => Ok(Ok(Value::Str(value.to_string()))),
        "binary" => {
            let data = decode_go_base64(value).ok_or_else(|| {
                Undecodable("yaml: !!binary value contains invalid base64 data".to_string())
            })?;
            Ok(Ok(match String::from_utf8(data) {
                Ok(s) => Value::Str(s),
                Err(e) => Value::Bytes(e.into_bytes()),
            }))
        }
        "null" | "bool" | "int" | "float" | "timestamp" => {
            let r = resolve_with(value, core == "timestamp");
            let got = r.kind();
            let ok = matches!(
                (core, got),
                ("null", Kind::Null)
                    | ("bool", Kind::Bool)
                    | ("int", Kind::Int | Kind::Uint)
                    | ("float", Kind::Float | Kind::Int)
                    | ("timestamp", Kind::Timestamp)
            );
            if !ok {
                // yaml.v3 quotes the value here; it may be a secret.
                return Err(Undecodable(format!(
                    "yaml: cannot decode !!{} as a !!{}",
                    kind_name(got),
                    core
                )));
            }
            if core == "float" {
                if let Resolved::Int(i) = r {
                    return Ok(Ok(Value::Float(i as f64)));
                }
            }
            Ok(resolved_to_value(r, value))
        }
        // Unknown `!!` tags (and `!!merge`, `!!seq`, `!!map`, …) are not
        // resolvable: the value stays a string.
        _ => Ok(Ok(Value::Str(value.to_string()))),
    }
}

/// Go's `base64.StdEncoding.DecodeString`, as yaml.v3 decodes `!!binary`:
/// padding required, line breaks (`\r`, `\n`) skipped anywhere, any other
/// character outside the alphabet (a space, a tab) refused, and the unused
/// bits of the last character not checked.
fn decode_go_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine;
    const GO_STD: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
    );
    let cleaned: String = text.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
    GO_STD.decode(cleaned.as_bytes()).ok()
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Null => "null",
        Kind::Bool => "bool",
        Kind::Int | Kind::Uint => "int",
        Kind::Float => "float",
        Kind::Timestamp => "timestamp",
        Kind::Str => "str",
    }
}

/// The error for an integer beyond int64 (yaml.v3 makes it a uint64, which
/// sops' tree walk refuses).
pub(crate) const UINT64_UNWALKABLE: &str =
    "integer does not fit in a signed 64-bit integer (sops: Cannot walk value, unknown type: uint64)";

fn resolved_to_value(r: Resolved, text: &str) -> Result<Value, String> {
    Ok(match r {
        Resolved::Null => Value::Null,
        Resolved::Bool(b) => Value::Bool(b),
        Resolved::Int(i) => Value::Int(i),
        // sops cannot handle these (its tree walker fails on uint64).
        Resolved::Uint(_) => return Err(UINT64_UNWALKABLE.to_string()),
        Resolved::Float(f) => Value::Float(f),
        Resolved::Time(t) => Value::Time(t),
        Resolved::Str => Value::Str(text.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(s: &str) -> Value {
        resolve_scalar(s, false, &ScalarTag::None, OnDecodeError::Refuse).unwrap()
    }

    #[test]
    fn plain_scalars_resolve_like_yaml_v3() {
        assert_eq!(plain("~"), Value::Null);
        assert_eq!(plain(""), Value::Null);
        assert_eq!(plain("TRUE"), Value::Bool(true));
        assert_eq!(plain("yes"), Value::Str("yes".into()));
        assert_eq!(plain("0x1F"), Value::Int(31));
        assert_eq!(plain("0o17"), Value::Int(15));
        assert_eq!(plain("017"), Value::Int(15));
        assert_eq!(plain("0b101"), Value::Int(5));
        assert_eq!(plain("-0b101"), Value::Int(-5));
        assert_eq!(plain("1_000"), Value::Int(1000));
        assert_eq!(plain("+1"), Value::Int(1));
        assert_eq!(plain("08"), Value::Float(8.0));
        assert_eq!(plain(".5"), Value::Float(0.5));
        assert_eq!(plain("1e3"), Value::Float(1000.0));
        assert_eq!(plain("1e400"), Value::Str("1e400".into()));
        assert_eq!(plain("-.inf"), Value::Float(f64::NEG_INFINITY));
        assert_eq!(plain("<<"), Value::Str("<<".into()));
        assert_eq!(plain("1:20"), Value::Str("1:20".into()));
        assert!(matches!(plain("2001-12-14"), Value::Time(_)));
        assert!(matches!(plain("2001-12-14 21:59:43.10"), Value::Time(_)));
        assert!(matches!(
            plain("2001-12-14t21:59:43.10-05:00"),
            Value::Time(_)
        ));
        assert_eq!(
            plain("2001-12-14 21:59:43.10 -5"),
            Value::Str("2001-12-14 21:59:43.10 -5".into())
        );
        assert_eq!(plain("9223372036854775807"), Value::Int(i64::MAX));
        assert_eq!(plain("-9223372036854775808"), Value::Int(i64::MIN));
    }

    fn core(name: &str) -> ScalarTag {
        ScalarTag::Core(name.into())
    }

    /// The value of a scalar in a plaintext file's first document.
    fn tagged(value: &str, quoted: bool, tag: &ScalarTag) -> Result<Value, String> {
        resolve_scalar(value, quoted, tag, OnDecodeError::Refuse)
    }

    #[test]
    fn tags() {
        assert_eq!(
            tagged("123", false, &core("str")).unwrap(),
            Value::Str("123".into())
        );
        assert_eq!(tagged("7", true, &core("int")).unwrap(), Value::Int(7));
        assert_eq!(
            tagged("1", false, &core("float")).unwrap(),
            Value::Float(1.0)
        );
        assert_eq!(
            tagged("aGVsbG8=", false, &core("binary")).unwrap(),
            Value::Str("hello".into())
        );
        assert_eq!(
            tagged("123", false, &ScalarTag::Other).unwrap(),
            Value::Str("123".into())
        );
        assert!(tagged("abc", false, &core("int")).is_err());
    }

    /// A standard tag whose value does not resolve to it: yaml.v3 fails;
    /// sops refuses the file where it decodes the document whole and reads
    /// null elsewhere (reference: `a: 1\n---\nk: !!int x` decrypts to
    /// `k: null`).
    #[test]
    fn undecodable_tagged_values_refuse_or_read_null() {
        let cases: &[(&str, &str, bool, &str)] = &[
            ("int", "x", true, "yaml: cannot decode !!str as a !!int"),
            ("int", "x", false, "yaml: cannot decode !!str as a !!int"),
            (
                "int",
                "1.5",
                false,
                "yaml: cannot decode !!float as a !!int",
            ),
            ("int", "", true, "yaml: cannot decode !!null as a !!int"),
            ("null", "1", false, "yaml: cannot decode !!int as a !!null"),
            (
                "bool",
                "aGVsbG8=",
                false,
                "yaml: cannot decode !!str as a !!bool",
            ),
            (
                "bool",
                "yes",
                false,
                "yaml: cannot decode !!str as a !!bool",
            ),
            (
                "float",
                "true",
                true,
                "yaml: cannot decode !!bool as a !!float",
            ),
            (
                "float",
                "1e400",
                false,
                "yaml: cannot decode !!str as a !!float",
            ),
            (
                "float",
                "18446744073709551615",
                false,
                "yaml: cannot decode !!int as a !!float",
            ),
            (
                "timestamp",
                "1",
                false,
                "yaml: cannot decode !!int as a !!timestamp",
            ),
            (
                "timestamp",
                "x",
                true,
                "yaml: cannot decode !!str as a !!timestamp",
            ),
            (
                "binary",
                "1",
                false,
                "yaml: !!binary value contains invalid base64 data",
            ),
        ];
        for &(tag, value, quoted, message) in cases {
            assert_eq!(
                tagged(value, quoted, &core(tag)),
                Err(message.to_string()),
                "!!{tag} {value:?}"
            );
            assert_eq!(
                resolve_scalar(value, quoted, &core(tag), OnDecodeError::Null),
                Ok(Value::Null),
                "!!{tag} {value:?} outside the first document"
            );
        }
        // Decodable values are the same everywhere; an integer beyond
        // int64 is still the tree walk's error, not a decode error.
        for on_error in [OnDecodeError::Refuse, OnDecodeError::Null] {
            assert_eq!(
                resolve_scalar("0x10", true, &core("int"), on_error),
                Ok(Value::Int(16))
            );
            assert_eq!(
                resolve_scalar("9223372036854775808", false, &core("int"), on_error),
                Err(UINT64_UNWALKABLE.to_string())
            );
        }
    }

    #[test]
    fn tags_that_resolve_like_yaml_v3() {
        // A quoted value with a resolvable tag is resolved.
        assert_eq!(
            tagged("1", true, &core("float")).unwrap(),
            Value::Float(1.0)
        );
        assert_eq!(tagged("~", true, &core("null")).unwrap(), Value::Null);
        assert_eq!(tagged("", false, &core("null")).unwrap(), Value::Null);
        assert_eq!(
            tagged("TRUE", true, &core("bool")).unwrap(),
            Value::Bool(true)
        );
        assert!(matches!(
            tagged("2001-12-14", true, &core("timestamp")).unwrap(),
            Value::Time(_)
        ));
        // A quoted timestamp without the tag stays a string.
        assert_eq!(
            tagged("2001-12-14", true, &ScalarTag::None).unwrap(),
            Value::Str("2001-12-14".into())
        );
        // Tags yaml.v3 does not resolve keep the text.
        for name in ["seq", "map", "merge", "foo", ""] {
            assert_eq!(
                tagged("1", false, &core(name)).unwrap(),
                Value::Str("1".into()),
                "!!{name}"
            );
        }
        assert_eq!(
            tagged("", false, &core("str")).unwrap(),
            Value::Str("".into())
        );
        assert_eq!(
            tagged("", false, &core("binary")).unwrap(),
            Value::Str("".into())
        );
    }

    #[test]
    fn binary_is_go_base64() {
        let bin = |s: &str| tagged(s, true, &core("binary"));
        let hello = Ok(Value::Str("hello".into()));
        // Line breaks are skipped, the unused bits of the last character
        // are not checked (`9` leaves bits set).
        assert_eq!(bin("aGVs\nbG8="), hello);
        assert_eq!(bin("aGVs\r\nbG8=\n"), hello);
        assert_eq!(bin("aGVsbG9="), hello);
        // Other blanks, missing or extra padding and data after the
        // padding are refused.
        for bad in [
            "aGVs bG8=",
            "aGVs\tbG8=",
            "aGVsbG8",
            "aGVsbG8==",
            "aGVsbA=",
            "aGVsbG8=aGVs",
            "aGVs-G8=",
        ] {
            assert!(bin(bad).is_err(), "{bad:?}");
        }
        assert_eq!(bin("/w=="), Ok(Value::Bytes(vec![0xFF])));
    }

    #[test]
    fn tag_spellings_as_yaml_v3_shortens_them() {
        assert_eq!(ScalarTag::from_parts("", "!"), ScalarTag::None);
        assert_eq!(ScalarTag::from_parts("!", ""), ScalarTag::None);
        assert_eq!(ScalarTag::from_parts("!!", "int"), core("int"));
        assert_eq!(
            ScalarTag::from_parts("tag:yaml.org,2002:", "int"),
            core("int")
        );
        assert_eq!(
            ScalarTag::from_parts("", "tag:yaml.org,2002:bool"),
            core("bool")
        );
        assert_eq!(ScalarTag::from_parts("!", "int"), ScalarTag::Other);
        assert_eq!(
            ScalarTag::from_parts("", "tag:example.com,2000:int"),
            ScalarTag::Other
        );
        assert_eq!(
            ScalarTag::from_parts("tag:example.com,2000:", "int"),
            ScalarTag::Other
        );
    }

    #[test]
    fn quoting_predicates() {
        assert!(!string_can_be_plain("123"));
        assert!(!string_can_be_plain("y"));
        assert!(!string_can_be_plain("1:20"));
        assert!(!string_can_be_plain("2026-11-27T23:39:06Z"));
        assert!(string_can_be_plain("hello"));
        assert!(string_can_be_plain("<<"));
    }
}

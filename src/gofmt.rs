//! Go's `strconv.FormatFloat` layouts, which sops uses for floats in
//! plaintexts (`'f'`), YAML output (`'g'`), JSON output and flat formats
//! (`'G'`). All use the shortest digits that round-trip.

use std::fmt::{self, Write};

use crate::stack_text::StackText;

/// The shortest round-trip decimal digits of a finite, non-zero `|x|` and
/// its decimal exponent `e`, such that `x = 0.d1d2…dn × 10^(e+1)`,
/// i.e. `d1.d2…dn × 10^e`. No allocation.
fn shortest_digits(x: f64) -> Option<(StackText<32>, i32)> {
    // Rust's `{:e}` prints the shortest round-trip digits in scientific form
    // (at most 17 digits and a 4-character exponent).
    let sci = StackText::<32>::new(|out| write!(out, "{:e}", x.abs()))?;
    let (mantissa, exp) = sci.as_str().split_once('e')?;
    let digits = StackText::new(|out| mantissa.split('.').try_for_each(|p| out.write_str(p)))?;
    Some((digits, exp.parse().ok()?))
}

/// `strconv.FormatFloat(x, 'f', -1, 64)`: positional, no exponent, no `.0`;
/// `+Inf`, `-Inf`, `NaN`, `-0`.
pub fn format_f(x: f64) -> String {
    let mut out = String::new();
    let _ = write_f(x, &mut out);
    out
}

/// [`format_f`] written into `out`.
pub fn write_f(x: f64, out: &mut dyn Write) -> fmt::Result {
    if x.is_nan() {
        return out.write_str("NaN");
    }
    if x.is_infinite() {
        return out.write_str(if x > 0.0 { "+Inf" } else { "-Inf" });
    }
    // Rust's Display is shortest round-trip, positional, and prints `-0`.
    write!(out, "{x}")
}

/// `strconv.FormatFloat(x, 'g' or 'G', -1, 64)`: exponent form when the
/// exponent is < -4 or >= 21 (shortest-digits rule: exponent >= number of
/// digits … Go uses `eprec = digits; if eprec > digs.nd && digs.nd >= digs.dp { eprec = digs.nd }; if shortest { eprec = 6 }`).
pub fn format_g(x: f64, upper: bool) -> String {
    let mut out = String::with_capacity(24);
    let _ = write_g(x, upper, &mut out);
    out
}

/// [`format_g`] written into `out`, without an allocation of its own.
pub fn write_g(x: f64, upper: bool, out: &mut dyn Write) -> fmt::Result {
    if x.is_nan() {
        return out.write_str("NaN");
    }
    if x.is_infinite() {
        return out.write_str(if x > 0.0 { "+Inf" } else { "-Inf" });
    }
    if x == 0.0 {
        return out.write_str(if x.is_sign_negative() { "-0" } else { "0" });
    }
    let (digits, exp) = shortest_digits(x).ok_or(fmt::Error)?;
    let digits = digits.as_str();
    if x < 0.0 {
        out.write_char('-')?;
    }
    // With shortest formatting Go uses eprec = 6: %e when exp < -4 || exp >= 6.
    if !(-4..6).contains(&exp) {
        out.write_str(&digits[..1])?;
        if digits.len() > 1 {
            out.write_char('.')?;
            out.write_str(&digits[1..])?;
        }
        out.write_char(if upper { 'E' } else { 'e' })?;
        out.write_char(if exp < 0 { '-' } else { '+' })?;
        let abs = exp.unsigned_abs();
        if abs < 10 {
            out.write_char('0')?;
        }
        write!(out, "{abs}")
    } else if exp >= 0 {
        // Positional, as `'f'` with the shortest digits.
        let whole = exp as usize + 1;
        if digits.len() <= whole {
            out.write_str(digits)?;
            (digits.len()..whole).try_for_each(|_| out.write_char('0'))
        } else {
            out.write_str(&digits[..whole])?;
            out.write_char('.')?;
            out.write_str(&digits[whole..])
        }
    } else {
        out.write_str("0.")?;
        (1..-exp).try_for_each(|_| out.write_char('0'))?;
        out.write_str(digits)
    }
}

/// Go `encoding/json`'s float encoding: positional unless
/// `|x| < 1e-6 || |x| >= 1e21`, then exponent form with `e-7` / `e+21`
/// (no zero padding of the exponent). `None` for NaN and infinities,
/// which JSON cannot represent.
pub fn format_json_float(x: f64) -> Option<String> {
    if !x.is_finite() {
        return None;
    }
    let abs = x.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let (digits, exp) = shortest_digits(x)?;
        let digits = digits.as_str();
        let mut out = String::new();
        if x < 0.0 {
            out.push('-');
        }
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&exp.unsigned_abs().to_string());
        Some(out)
    } else {
        Some(format_f(x))
    }
}

/// How sops writes a float into a flat format (dotenv, INI, exec-env):
/// `'G'` shortest, and a value with neither `.` nor `E` gets `.0`.
pub fn format_flat_float(x: f64) -> String {
    let s = format_g(x, true);
    if s.contains('.') || s.contains('E') || s.contains("Inf") || s == "NaN" {
        s
    } else {
        format!("{s}.0")
    }
}

/// Parses a float the way Go's `strconv.ParseFloat` accepts sops plaintexts
/// (`+Inf`, `-Inf`, `NaN`, `Inf`, decimal and exponent forms).
pub fn parse_float(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" | "+Infinity" | "Infinity" => Some(f64::INFINITY),
        "-Inf" | "-inf" | "-Infinity" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => {
            let cleaned: String;
            let s = if s.contains('_') {
                cleaned = s.replace('_', "");
                &cleaned
            } else {
                s
            };
            if s.chars()
                .any(|c| c.is_ascii_alphabetic() && !matches!(c, 'e' | 'E'))
            {
                return None;
            }
            s.parse().ok()
        }
    }
}

/// Go's `strconv.Quote` (`%q`, and `%#v` of a string): double quotes,
/// `\a \b \f \n \r \t \v`, `\"` and `\\`, other control characters as
/// `\xNN`, printable text kept. Used for names in messages, as sops prints
/// them.
pub fn quote(s: &str) -> String {
    crate::quoted::double_quoted(s, |c| match c {
        '\u{7}' => Some("\\a".into()),
        '\u{8}' => Some("\\b".into()),
        '\u{c}' => Some("\\f".into()),
        '\u{b}' => Some("\\v".into()),
        c if crate::quoted::is_control(c) => Some(format!("\\x{:02x}", c as u32).into()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_is_gos_strconv_quote() {
        assert_eq!(quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(quote("\n\t\u{7}\u{1}\u{7f}é"), r#""\n\t\a\x01\x7fé""#);
    }

    #[test]
    fn f_format_matches_go() {
        assert_eq!(format_f(0.1), "0.1");
        assert_eq!(format_f(1.0), "1");
        assert_eq!(format_f(1e21), "1000000000000000000000");
        assert_eq!(format_f(1.5e-7), "0.00000015");
        assert_eq!(format_f(-0.0), "-0");
        assert_eq!(format_f(f64::INFINITY), "+Inf");
        assert_eq!(format_f(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_f(f64::NAN), "NaN");
        assert_eq!(format_f(123456789012345678.0), "123456789012345680");
    }

    #[test]
    fn g_format_equals_positional_display_and_exponent_forms() {
        // The positional range is Rust's shortest Display of |x|; the rest
        // the `{:e}` digits with Go's exponent: check against both on
        // pseudo-random doubles of every magnitude.
        let reference = |x: f64| -> String {
            let sci = format!("{:e}", x.abs());
            let (mantissa, exp) = sci.split_once('e').unwrap();
            let exp: i32 = exp.parse().unwrap();
            let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
            let sign = if x < 0.0 { "-" } else { "" };
            if (-4..6).contains(&exp) {
                format!("{sign}{}", x.abs())
            } else {
                let rest = if digits.len() > 1 {
                    format!(".{}", &digits[1..])
                } else {
                    String::new()
                };
                let e = if exp < 0 { '-' } else { '+' };
                format!("{sign}{}{rest}e{e}{:02}", &digits[..1], exp.unsigned_abs())
            }
        };
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut checked = 0;
        for i in 0..200_000u64 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let x = if i % 2 == 0 {
                f64::from_bits(state)
            } else {
                // Short decimals around the positional range's edges.
                ((state % 2_000_000) as f64 - 1_000_000.0) / 10f64.powi((state >> 40) as i32 % 12)
            };
            if !x.is_finite() || x == 0.0 {
                continue;
            }
            assert_eq!(format_g(x, false), reference(x), "{x:e}");
            checked += 1;
        }
        assert!(checked > 150_000);
    }

    #[test]
    fn g_format_matches_go() {
        let cases = [
            (123456.0, "123456"),
            (999999.0, "999999"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (1234567.5, "1.2345675e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (0.1, "0.1"),
            (1.5e-7, "1.5e-07"),
            (1e21, "1e+21"),
            (123456789.0, "1.23456789e+08"),
            (1234.56789, "1234.56789"),
            (-0.0, "-0"),
            (1e100, "1e+100"),
        ];
        for (x, want) in cases {
            assert_eq!(format_g(x, false), want, "{x}");
        }
    }

    #[test]
    fn json_float_matches_go() {
        assert_eq!(format_json_float(1e-7).unwrap(), "1e-7");
        assert_eq!(format_json_float(1e21).unwrap(), "1e+21");
        assert_eq!(format_json_float(1.5e300).unwrap(), "1.5e+300");
        assert_eq!(format_json_float(-0.000001).unwrap(), "-0.000001");
        assert_eq!(format_json_float(1.0).unwrap(), "1");
        assert!(format_json_float(f64::NAN).is_none());
    }

    #[test]
    fn flat_float_matches_sops() {
        assert_eq!(format_flat_float(1000.0), "1000.0");
        assert_eq!(format_flat_float(1e21), "1E+21");
        assert_eq!(format_flat_float(1e-6), "1E-06");
        assert_eq!(format_flat_float(1e6), "1E+06");
        assert_eq!(format_flat_float(0.5), "0.5");
        assert_eq!(format_flat_float(-0.0), "-0.0");
        assert_eq!(format_flat_float(1234567.0), "1.234567E+06");
    }

    #[test]
    fn parse_float_accepts_go_forms() {
        assert_eq!(parse_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_float("0.00000015"), Some(1.5e-7));
        assert!(parse_float("NaN").unwrap().is_nan());
        assert_eq!(parse_float("abc"), None);
    }
}

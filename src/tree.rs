//! The value tree every format reads into and writes from.
//!
//! A file is a list of documents; a document is an ordered [`Map`]. Order is
//! significant (it drives output order and the MAC), duplicate keys are
//! representable, and comments are first-class items so that they can be
//! encrypted where sops encrypts them.

use std::fmt;

/// One value of the tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An ordered mapping.
    Map(Map),
    /// A sequence. Comments inside a sequence are [`Value::Comment`] elements.
    List(Vec<Value>),
    /// A UTF-8 string.
    Str(String),
    /// A string that is not valid UTF-8 (only the binary store makes these).
    Bytes(Vec<u8>),
    /// A signed 64-bit integer.
    Int(i64),
    /// An IEEE-754 double.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A timestamp (YAML only).
    Time(Timestamp),
    /// Null: never encrypted, never hashed.
    Null,
    /// A comment that is an element of a sequence.
    Comment(Comment),
}

/// An ordered mapping: a list of entries and comments.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Map(pub Vec<Item>);

/// One item of a [`Map`].
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// `key: value`.
    Entry(String, Value),
    /// A comment line (or an inline comment) inside the mapping.
    Comment(Comment),
}

/// A comment: its text without the leading marker (`#`), leading space kept.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Comment {
    /// The text after the comment marker.
    pub text: String,
    /// True when the comment stood on the same line as a value (YAML only;
    /// affects output placement, nothing else).
    pub inline: bool,
}

impl Comment {
    /// A comment on its own line.
    pub fn new(text: impl Into<String>) -> Self {
        Comment {
            text: text.into(),
            inline: false,
        }
    }
}

impl Map {
    /// An empty mapping.
    pub fn new() -> Self {
        Map(Vec::new())
    }

    /// Appends `key: value`.
    pub fn push(&mut self, key: impl Into<String>, value: Value) {
        self.0.push(Item::Entry(key.into(), value));
    }

    /// The value of the first entry named `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find_map(|item| match item {
            Item::Entry(k, v) if k == key => Some(v),
            _ => None,
        })
    }

    /// Mutable access to the value of the first entry named `key`.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.0.iter_mut().find_map(|item| match item {
            Item::Entry(k, v) if k == key => Some(v),
            _ => None,
        })
    }

    /// Removes every entry named `key`, returning the first one's value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let mut found = None;
        self.0.retain_mut(|item| match item {
            Item::Entry(k, v) if k == key => {
                if found.is_none() {
                    found = Some(std::mem::replace(v, Value::Null));
                }
                false
            }
            _ => true,
        });
        found
    }

    /// Iterates over the entries (comments skipped).
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().filter_map(|item| match item {
            Item::Entry(k, v) => Some((k.as_str(), v)),
            Item::Comment(_) => None,
        })
    }

    /// True when the mapping has no items at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Value {
    /// A short name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Map(_) => "map",
            Value::List(_) => "list",
            Value::Str(_) | Value::Bytes(_) => "string",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Bool(_) => "bool",
            Value::Time(_) => "time",
            Value::Null => "null",
            Value::Comment(_) => "comment",
        }
    }

    /// The string content, if this is a UTF-8 string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// A point in time with the UTC offset it was written with, as Go's
/// `time.Time` keeps it. The fields are the local (wall clock) values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    /// Year (may be negative or above 9999 in theory; RFC 3339 only allows 0000–9999).
    pub year: i32,
    /// Month 1–12.
    pub month: u8,
    /// Day 1–31.
    pub day: u8,
    /// Hour 0–23.
    pub hour: u8,
    /// Minute 0–59.
    pub minute: u8,
    /// Second 0–59 (60 accepted on input for leap seconds).
    pub second: u8,
    /// Nanoseconds 0–999 999 999.
    pub nanos: u32,
    /// Offset from UTC in seconds (0 is written `Z`).
    pub offset_seconds: i32,
}

impl Timestamp {
    /// Parses RFC 3339 (`2006-01-02T15:04:05.999999999Z07:00`), as Go's
    /// `time.Parse(time.RFC3339, …)` accepts it: fractional seconds optional,
    /// `T`/`t` separator, `Z`/`z` or `±hh:mm`.
    pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
        let b = s.as_bytes();
        if b.len() < 20 {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = b.get(r)?;
            if !part.iter().all(u8::is_ascii_digit) {
                return None;
            }
            std::str::from_utf8(part).ok()?.parse().ok()
        };
        if b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't')
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        let year = num(0..4)? as i32;
        let month = num(5..7)? as u8;
        let day = num(8..10)? as u8;
        let hour = num(11..13)? as u8;
        let minute = num(14..16)? as u8;
        let second = num(17..19)? as u8;
        let mut i = 19;
        let mut nanos = 0u32;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let digits = &s[start..i];
            if digits.is_empty() || digits.len() > 9 {
                return None;
            }
            nanos = digits.parse::<u32>().ok()? * 10u32.pow(9 - digits.len() as u32);
        }
        let offset_seconds = match b.get(i)? {
            b'Z' | b'z' if i + 1 == b.len() => 0,
            sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
                let h = num(i + 1..i + 3)? as i32;
                let m = num(i + 4..i + 6)? as i32;
                if h > 23 || m > 59 {
                    return None;
                }
                let off = h * 3600 + m * 60;
                if *sign == b'-' {
                    -off
                } else {
                    off
                }
            }
            _ => return None,
        };
        let t = Timestamp {
            year,
            month,
            day,
            hour,
            minute,
            second,
            nanos,
            offset_seconds,
        };
        t.is_valid().then_some(t)
    }

    /// True when the date and time fields are in range.
    pub fn is_valid(&self) -> bool {
        let leap = (self.year % 4 == 0 && self.year % 100 != 0) || self.year % 400 == 0;
        let days = match self.month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return false,
        };
        self.day >= 1 && self.day <= days && self.hour < 24 && self.minute < 60 && self.second < 61
    }

    /// Go's `RFC3339Nano` layout: fraction only when non-zero, trailing zeros removed.
    pub fn to_rfc3339_nano(&self) -> String {
        let mut out = self.date_time();
        if self.nanos != 0 {
            let frac = format!("{:09}", self.nanos);
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
        out.push_str(&self.offset_text());
        out
    }

    /// Go's `RFC3339` layout: second precision.
    pub fn to_rfc3339(&self) -> String {
        let mut out = self.date_time();
        out.push_str(&self.offset_text());
        out
    }

    fn date_time(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    fn offset_text(&self) -> String {
        if self.offset_seconds == 0 {
            return "Z".to_string();
        }
        let sign = if self.offset_seconds < 0 { '-' } else { '+' };
        let abs = self.offset_seconds.unsigned_abs();
        format!("{sign}{:02}:{:02}", abs / 3600, (abs % 3600) / 60)
    }

    /// The current time in UTC, whole seconds.
    pub fn now_utc() -> Timestamp {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Timestamp::from_unix(secs)
    }

    /// The UTC timestamp `secs` seconds after the Unix epoch.
    pub fn from_unix(secs: i64) -> Timestamp {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Timestamp {
            year,
            month,
            day,
            hour: (rem / 3600) as u8,
            minute: ((rem % 3600) / 60) as u8,
            second: (rem % 60) as u8,
            nanos: 0,
            offset_seconds: 0,
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339_nano())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip_keeps_offset_and_trims_fraction() {
        let t = Timestamp::parse_rfc3339("2001-12-14t21:59:43.10-05:00").unwrap();
        assert_eq!(t.to_rfc3339_nano(), "2001-12-14T21:59:43.1-05:00");
        assert_eq!(t.to_rfc3339(), "2001-12-14T21:59:43-05:00");
        let z = Timestamp::parse_rfc3339("2026-11-27T23:39:06Z").unwrap();
        assert_eq!(z.to_rfc3339_nano(), "2026-11-27T23:39:06Z");
        let plus_zero = Timestamp::parse_rfc3339("2026-11-27T23:39:06+00:00").unwrap();
        assert_eq!(plus_zero.to_rfc3339(), "2026-11-27T23:39:06Z");
    }

    #[test]
    fn rfc3339_rejects_malformed() {
        for bad in [
            "",
            "2026-11-27",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-11-27T23:39:06",
            "2026-11-27T23:39:06+0100",
        ] {
            assert!(Timestamp::parse_rfc3339(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn unix_epoch_conversion() {
        assert_eq!(Timestamp::from_unix(0).to_rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Timestamp::from_unix(1_709_251_199).to_rfc3339(),
            "2024-02-29T23:59:59Z"
        );
    }

    #[test]
    fn map_remove_takes_all_duplicates() {
        let mut m = Map::new();
        m.push("a", Value::Int(1));
        m.push("b", Value::Int(2));
        m.push("a", Value::Int(3));
        assert_eq!(m.remove("a"), Some(Value::Int(1)));
        assert_eq!(m.entries().count(), 1);
    }
}

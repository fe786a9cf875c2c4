//! The rotation policy of `.sops.yaml` (an enseal extension that sops
//! ignores): how old each secret may get before `enseal check` reports it.
//!
//! ```yaml
//! rotation:
//!   default: 365d                 # every other encrypted value
//!   '["db"]["password"]': 30d     # an index path: this value (and below)
//!   '.*api_key.*': 90d            # a regex, searched in the index path
//!   '["public"]': never           # never reported
//! ```
//!
//! A key that parses as an index path (`["a"]["b"]`, `["l"][0]`) matches
//! that value and everything below it; any other key is a regular
//! expression searched (unanchored, as sops' `path_regex`) in the value's
//! index path as enseal prints it (`["db"]["password"]`). Ages are whole
//! days, weeks or years: `30d`, `12w`, `1y` (365 days), or `never`. When
//! several patterns match a value the shortest limit applies; `default`
//! applies only when none matches; without `default` a value no pattern
//! matches is not checked.

use std::path::Path;

use super::{find_line, Finding, Kind};
use crate::crypto::enc;
use crate::format::StoreOptions;
use crate::history::{self, display_path, path_strings};
use crate::tree::{Map, Value};
use crate::tree_path::{self, Component};

/// A maximum age.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// Whole days; `None` for `never`.
    pub days: Option<u64>,
    /// As written in `.sops.yaml` (`30d`).
    pub text: String,
}

#[derive(Debug, Clone)]
enum Pattern {
    Path(Vec<Component>),
    Regex(regex::Regex),
}

impl Pattern {
    fn matches(&self, path: &[Component], shown: &str) -> bool {
        match self {
            Pattern::Path(prefix) => path.starts_with(prefix),
            Pattern::Regex(re) => re.is_match(shown),
        }
    }
}

/// The parsed `rotation:` block.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    default: Option<Limit>,
    rules: Vec<(Pattern, Limit)>,
}

impl Policy {
    /// Parses the value of `rotation:`. The error names the key at fault
    /// (`rotation["x"]: …`).
    pub fn parse(value: &Value) -> Result<Policy, String> {
        let map: &Map =
            match value {
                Value::Map(m) => m,
                Value::Null => return Ok(Policy::default()),
                _ => return Err(
                    "rotation: must be a mapping of key path patterns to ages (e.g. default: 365d)"
                        .into(),
                ),
            };
        let mut policy = Policy::default();
        for (key, value) in map.entries() {
            let at = || format!("rotation[{key:?}]");
            let limit = match value {
                Value::Str(s) => parse_age(s).map_err(|m| format!("{}: {m}", at()))?,
                _ => {
                    return Err(format!(
                        "{}: the age must be a string such as 30d, 12w, 1y or never",
                        at()
                    ))
                }
            };
            if key == "default" {
                policy.default = Some(limit);
                continue;
            }
            let pattern = match tree_path::parse(key) {
                Ok(path) if key.starts_with('[') && !path.is_empty() => Pattern::Path(path),
                _ => Pattern::Regex(
                    regex::Regex::new(key)
                        .map_err(|e| format!("{}: invalid regular expression: {e}", at()))?,
                ),
            };
            policy.rules.push((pattern, limit));
        }
        Ok(policy)
    }

    /// True when the policy holds no rule and no default.
    pub fn is_empty(&self) -> bool {
        self.default.is_none() && self.rules.is_empty()
    }

    /// The limit of the value at `path` (`None`: not checked).
    pub fn limit_for(&self, path: &[Component]) -> Option<&Limit> {
        let shown: String = path.iter().map(ToString::to_string).collect();
        let matching = self
            .rules
            .iter()
            .filter(|(p, _)| p.matches(path, &shown))
            .map(|(_, l)| l);
        let shortest = matching.min_by_key(|l| l.days.unwrap_or(u64::MAX));
        shortest
            .or(self.default.as_ref())
            .filter(|l| l.days.is_some())
    }
}

/// The rotation findings of one encrypted file: each encrypted value
/// (`ENC[…]`) that `policy` gives a limit, older than it at `now` (Unix
/// seconds) by the git history of `file`. `name` is the file as shown,
/// `text` its contents (for line numbers). The history is read once, and
/// only when some value has a limit. A value whose current text no commit
/// holds (changed, not committed yet) is not reported; values whose history
/// cannot be known make one `rotation-unknown` finding.
pub fn findings(
    file: &Path,
    name: &str,
    text: &str,
    documents: &[Map],
    stores: &StoreOptions,
    policy: &Policy,
    now: i64,
) -> Vec<Finding> {
    let limited: Vec<(Vec<Component>, String, &Limit)> = history::leaves(documents)
        .into_iter()
        .filter(|(_, value)| enc::is_encrypted(value))
        .filter_map(|(path, value)| policy.limit_for(&path).map(|l| (path, value, l)))
        .collect();
    if limited.is_empty() {
        return Vec::new();
    }
    let history = match history::read(file, stores) {
        Ok(h) => h,
        Err(unknown) => {
            let n = limited.len();
            let values = if n == 1 { "value" } else { "values" };
            return vec![Finding {
                path: name.to_string(),
                line: None,
                kind: Kind::RotationUnknown,
                rule: None,
                message: format!(
                    "the age of {n} {values} with a rotation limit cannot be known: {unknown}"
                ),
                details: Some(serde_json::json!({ "values": n, "reason": unknown.0 })),
            }];
        }
    };
    let mut out = Vec::new();
    for (path, value, limit) in limited {
        let (Some(commit), Some(max)) = (history.first_seen(&path, &value), limit.days) else {
            continue;
        };
        // Whole UTC days between the commit's date and today's.
        let age = now.div_euclid(86_400) - commit.time.div_euclid(86_400);
        if age <= max as i64 {
            continue;
        }
        let shown = display_path(&path);
        let days = if age == 1 { "day" } else { "days" };
        out.push(Finding {
            path: name.to_string(),
            line: find_line(text, &path_strings(&path)),
            kind: Kind::Rotation,
            rule: Some(shown.clone()),
            message: format!(
                "{shown} last changed {} by {} ({age} {days}, limit {})",
                commit.date(),
                commit.author,
                limit.text
            ),
            details: Some(serde_json::json!({
                "key": shown,
                "last_changed": {
                    "commit": commit.hash,
                    "date": commit.date(),
                    "time": commit.time,
                    "author": commit.author,
                    "email": commit.email,
                },
                "age_days": age,
                "limit": limit.text,
                "limit_days": max,
            })),
        });
    }
    out
}

/// Unix seconds of `YYYY-MM-DD` (midnight UTC) or of a number of seconds.
pub fn parse_now(text: &str) -> Option<i64> {
    if let Ok(secs) = text.parse::<i64>() {
        return Some(secs);
    }
    let mut parts = text.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400)
}

/// `30d`, `12w`, `1y` (365 days) or `never`.
pub fn parse_age(text: &str) -> Result<Limit, String> {
    let t = text.trim();
    if t == "never" {
        return Ok(Limit {
            days: None,
            text: t.into(),
        });
    }
    let bad = || format!("{text:?} is not an age: write 30d, 12w, 1y or never");
    let (number, unit) = t.split_at(t.len().saturating_sub(1));
    let n: u64 = number.parse().map_err(|_| bad())?;
    let per = match unit {
        "d" => 1,
        "w" => 7,
        "y" => 365,
        _ => return Err(bad()),
    };
    let days = n.checked_mul(per).filter(|d| *d > 0).ok_or_else(bad)?;
    Ok(Limit {
        days: Some(days),
        text: t.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{yaml::YamlStore, Store, StoreOptions};

    fn policy(yaml: &str) -> Result<Policy, String> {
        let docs = YamlStore::new(&StoreOptions::default())
            .parse_plain(yaml.as_bytes())
            .unwrap();
        Policy::parse(docs[0].get("rotation").unwrap())
    }

    fn path(keys: &[&str]) -> Vec<Component> {
        keys.iter().map(|k| Component::Key(k.to_string())).collect()
    }

    fn days(p: &Policy, keys: &[&str]) -> Option<u64> {
        p.limit_for(&path(keys)).and_then(|l| l.days)
    }

    #[test]
    fn index_paths_regexes_and_default() {
        let p = policy(
            "rotation:\n  default: 1y\n  '[\"db\"][\"password\"]': 30d\n  '.*api_key.*': 12w\n  '[\"public\"]': never\n  'token': 7d\n",
        )
        .unwrap();
        assert_eq!(days(&p, &["db", "password"]), Some(30));
        assert_eq!(days(&p, &["db", "password", "x"]), Some(30));
        assert_eq!(days(&p, &["db", "passwords"]), Some(365));
        assert_eq!(days(&p, &["stripe_api_key"]), Some(84));
        assert_eq!(days(&p, &["public", "id"]), None);
        // The shortest of several matching limits.
        assert_eq!(days(&p, &["api_key_token"]), Some(7));
    }

    #[test]
    fn now_parses_days_and_seconds() {
        assert_eq!(parse_now("1970-01-01"), Some(0));
        assert_eq!(parse_now("2026-07-01"), Some(1_782_864_000));
        assert_eq!(parse_now("42"), Some(42));
        assert_eq!(parse_now("2026-13-01"), None);
        assert_eq!(parse_now("soon"), None);
    }

    #[test]
    fn without_default_unmatched_values_are_not_checked() {
        let p = policy("rotation:\n  password: 30d\n").unwrap();
        assert_eq!(days(&p, &["x"]), None);
        assert_eq!(days(&p, &["db", "password"]), Some(30));
    }

    #[test]
    fn bad_ages_and_regexes_name_the_key() {
        let e = policy("rotation:\n  default: 30 days\n").unwrap_err();
        assert!(
            e.contains("rotation[\"default\"]") && e.contains("30d"),
            "{e}"
        );
        let e = policy("rotation:\n  x: 30\n").unwrap_err();
        assert!(e.contains("rotation[\"x\"]"), "{e}");
        let e = policy("rotation:\n  '(': 30d\n").unwrap_err();
        assert!(e.contains("invalid regular expression"), "{e}");
        assert!(policy("rotation: [1]\n").is_err());
        assert!(parse_age("0d").is_err());
        assert_eq!(parse_age("2w").unwrap().days, Some(14));
    }
}

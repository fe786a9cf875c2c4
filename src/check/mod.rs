//! `enseal check`: problems a repository of encrypted files can have, found
//! without any private key: plaintext values the file's rule says must be
//! encrypted, master keys that drifted from `.sops.yaml`, missing or broken
//! metadata, and (with [`scan`]) likely secrets in plaintext files.

pub mod history;
pub mod rotation;
pub mod scan;

use crate::config::KeyGroupSpec;
use crate::crypto::{enc, EncryptionRule, Selector};
use crate::keys::{changes, KeyGroup};
use crate::metadata::Metadata;
use crate::tree::{Item, Map, Value};

/// The kind of a finding (its stable name is [`Kind::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A file a creation rule covers that is not encrypted.
    Unencrypted,
    /// A value of an encrypted file left in plaintext although the file's
    /// rule says it must be encrypted.
    PlaintextValue,
    /// The master keys of a file differ from its creation rule.
    KeyDrift,
    /// The sops metadata is invalid, or the MAC is missing.
    Metadata,
    /// A likely secret in a file no rule says to encrypt (`--scan`).
    Secret,
    /// The file could not be read.
    Unreadable,
    /// `.sops.yaml` holds a key sops ignores (a misspelling, mostly).
    Config,
    /// A value older than its `rotation:` limit (from git history).
    Rotation,
    /// Values a `rotation:` limit applies to whose history cannot be known
    /// (no git, a shallow clone, a file never committed).
    RotationUnknown,
}

impl Kind {
    /// The stable name used in output: `unencrypted`, `plaintext-value`,
    /// `key-drift`, `metadata`, `secret`, `unreadable`, `config`,
    /// `rotation`, `rotation-unknown`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Unencrypted => "unencrypted",
            Kind::PlaintextValue => "plaintext-value",
            Kind::KeyDrift => "key-drift",
            Kind::Metadata => "metadata",
            Kind::Secret => "secret",
            Kind::Unreadable => "unreadable",
            Kind::Config => "config",
            Kind::Rotation => "rotation",
            Kind::RotationUnknown => "rotation-unknown",
        }
    }
}

/// One problem in one file. Messages never contain a secret value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file, as it was given or found.
    pub path: String,
    /// The 1-based line, when known.
    pub line: Option<usize>,
    /// What kind of problem.
    pub kind: Kind,
    /// The scanner rule id (`secret`), or the key path (`plaintext-value`).
    pub rule: Option<String>,
    /// The explanation.
    pub message: String,
    /// More fields for `--format json` (an object merged into the
    /// finding's; `rotation` findings: `key`, `last_changed`, `age_days`,
    /// `limit`, `limit_days`).
    pub details: Option<serde_json::Value>,
}

impl Finding {
    /// `path:line: kind: message` (`path: kind: message` without a line).
    pub fn human(&self) -> String {
        self.human_painted(&|kind| kind.to_string())
    }

    /// [`Finding::human`] with the kind passed through `paint` (colour on a
    /// terminal).
    pub fn human_painted(&self, paint: &dyn Fn(&str) -> String) -> String {
        let kind = paint(self.kind.name());
        match self.line {
            Some(line) => format!("{}:{line}: {kind}: {}", self.path, self.message),
            None => format!("{}: {kind}: {}", self.path, self.message),
        }
    }

    /// The finding as a JSON object (see [`json_report`]).
    pub fn to_json(&self) -> serde_json::Value {
        let mut out = serde_json::json!({
            "path": self.path,
            "line": self.line,
            "kind": self.kind.name(),
            "rule": self.rule,
            "message": self.message,
        });
        if let (Some(serde_json::Value::Object(extra)), Some(object)) =
            (&self.details, out.as_object_mut())
        {
            for (k, v) in extra {
                object.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        out
    }
}

/// The `--format json` document: `{"version":1,"files_checked":N,
/// "findings":[{"path","line","kind","rule","message"}…],
/// "counts":{"<kind>":n…}}` (`line` and `rule` may be null).
pub fn json_report(findings: &[Finding], files_checked: usize) -> String {
    let mut counts = serde_json::Map::new();
    for f in findings {
        let n = counts
            .entry(f.kind.name())
            .or_insert(serde_json::Value::from(0u64));
        *n = serde_json::Value::from(n.as_u64().unwrap_or(0) + 1);
    }
    let report = serde_json::json!({
        "version": 1,
        "files_checked": files_checked,
        "findings": findings.iter().map(Finding::to_json).collect::<Vec<_>>(),
        "counts": counts,
    });
    report.to_string()
}

/// The summary line of a run: `12 files checked, no findings`, or
/// `12 files checked, 3 findings (2 key-drift, 1 unencrypted)` (kinds by
/// count, then name).
pub fn summary(findings: &[Finding], files_checked: usize) -> String {
    let files = match files_checked {
        1 => "1 file checked".to_string(),
        n => format!("{n} files checked"),
    };
    if findings.is_empty() {
        return format!("{files}, no findings");
    }
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for f in findings {
        match counts.iter_mut().find(|(name, _)| *name == f.kind.name()) {
            Some((_, n)) => *n += 1,
            None => counts.push((f.kind.name(), 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let detail: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let word = if findings.len() == 1 {
        "finding"
    } else {
        "findings"
    };
    format!("{files}, {} {word} ({})", findings.len(), detail.join(", "))
}

/// Problems of the raw metadata: invalid fields, a missing MAC.
pub fn metadata_problems(raw: &Map) -> Vec<String> {
    let mut out = Vec::new();
    if let Err(message) = Metadata::from_map(raw) {
        out.push(format!("invalid sops metadata: {message}"));
    }
    let mac = match raw.get("mac") {
        Some(Value::Str(s)) => s.as_str(),
        _ => "",
    };
    if mac.is_empty() {
        out.push(
            "no MAC in the sops metadata: the file cannot be verified (sops refuses to decrypt it)"
                .to_string(),
        );
    } else if !enc::is_encrypted(mac) {
        out.push("the MAC is not an encrypted value".to_string());
    }
    out
}

/// The key paths of leaves that `rule` says are encrypted but that hold
/// plaintext, each with its display path (`["db"]["password"]`) and the
/// path components. Empty strings and nulls are never encrypted by sops
/// and do not count.
pub fn plaintext_values(documents: &[Map], rule: &EncryptionRule) -> Vec<Vec<String>> {
    let selector = Selector::new(rule);
    let mut out = Vec::new();
    for document in documents {
        let mut walker = PlainWalk {
            selector: &selector,
            path: Vec::new(),
            comments: vec![Vec::new()],
            out: &mut out,
        };
        walker.map(document);
    }
    out
}

struct PlainWalk<'a> {
    selector: &'a Selector,
    path: Vec<String>,
    comments: Vec<Vec<String>>,
    out: &'a mut Vec<Vec<String>>,
}

impl PlainWalk<'_> {
    fn map(&mut self, map: &Map) {
        for item in &map.0 {
            match item {
                Item::Comment(c) => self.push_comment(&c.text),
                Item::Entry(key, value) => {
                    self.path.push(key.clone());
                    self.value(value);
                    self.path.pop();
                    self.clear_innermost();
                }
            }
        }
    }

    fn list(&mut self, items: &[Value]) {
        for item in items {
            if let Value::Comment(c) = item {
                self.push_comment(&c.text);
                continue;
            }
            self.value(item);
            self.clear_innermost();
        }
    }

    fn value(&mut self, value: &Value) {
        match value {
            Value::Map(m) => {
                self.comments.push(Vec::new());
                self.map(m);
                self.comments.pop();
            }
            Value::List(items) => {
                self.comments.push(Vec::new());
                self.list(items);
                self.comments.pop();
            }
            Value::Null | Value::Comment(_) => {}
            leaf => {
                let path: Vec<&str> = self.path.iter().map(String::as_str).collect();
                if !self.selector.should_encrypt(&path, &self.comments, false) {
                    return;
                }
                let plain = match leaf {
                    Value::Str(s) => !s.is_empty() && !enc::is_encrypted(s),
                    _ => true,
                };
                if plain {
                    self.out.push(self.path.clone());
                }
            }
        }
    }

    fn push_comment(&mut self, text: &str) {
        if let Some(level) = self.comments.last_mut() {
            level.push(text.to_string());
        }
    }

    fn clear_innermost(&mut self) {
        if let Some(level) = self.comments.last_mut() {
            level.clear();
        }
    }
}

/// `["a"]["b"]` for messages.
pub fn display_path(path: &[String]) -> String {
    let parts: Vec<&str> = path.iter().map(String::as_str).collect();
    crate::crypto::walk::display_path(&parts)
}

/// The 1-based line where the key path most likely is in `text`: each key
/// is searched (as `key:`, `"key"`, `key=` or `[key]`) from the line where
/// the previous one was found. `None` when a key is not found.
pub fn find_line(text: &str, path: &[String]) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut from = 0;
    let mut found = None;
    for key in path {
        if key.parse::<usize>().is_ok() && found.is_some() {
            // A list index: stay at the list's key.
            continue;
        }
        let hit = (from..lines.len()).find(|&i| line_has_key(lines[i], key))?;
        found = Some(hit);
        from = hit;
    }
    found.map(|i| i + 1)
}

fn line_has_key(line: &str, key: &str) -> bool {
    let t = line.trim_start().trim_start_matches("- ").trim_start();
    let t = t.strip_prefix("export ").unwrap_or(t);
    let after = |rest: &str| {
        let rest = rest.trim_start();
        rest.starts_with(':') || rest.starts_with('=')
    };
    if let Some(rest) = t.strip_prefix(key) {
        if after(rest) {
            return true;
        }
    }
    for q in ['"', '\''] {
        if let Some(rest) = t
            .strip_prefix(q)
            .and_then(|r| r.strip_prefix(key))
            .and_then(|r| r.strip_prefix(q))
        {
            if after(rest) {
                return true;
            }
        }
    }
    t.strip_prefix('[')
        .and_then(|r| r.strip_prefix(key))
        .is_some_and(|r| r.starts_with(']'))
}

/// The key strings of one config key group, as sops prints and compares
/// them ([`changes::key_string`]).
pub fn spec_key_strings(spec: &KeyGroupSpec) -> Vec<String> {
    let mut out = Vec::new();
    for r in &spec.age {
        out.push(
            crate::keys::age::AgeKey::new(r)
                .map(|k| k.recipient)
                .unwrap_or_else(|_| r.trim().to_string()),
        );
    }
    out.extend(spec.pgp.iter().cloned());
    out.extend(spec.kms.iter().map(|k| k.arn.clone()));
    out.extend(spec.gcp_kms.iter().cloned());
    out.extend(
        spec.azure_kv
            .iter()
            .map(|k| format!("{}/keys/{}/{}", k.vault_url, k.name, k.version)),
    );
    out.extend(spec.hc_vault.iter().cloned());
    out.extend(spec.hckms.iter().cloned());
    out
}

/// How a file's key groups differ from its rule's (one message per group
/// that differs; empty when they match). Keys are compared as strings, in
/// any order within a group; an Azure key without a version in the rule
/// matches any version of that key.
pub fn key_drift(file: &[KeyGroup], rule: &[KeyGroupSpec]) -> Vec<String> {
    let mut out = Vec::new();
    let rule: Vec<&KeyGroupSpec> = rule.iter().filter(|g| !g.is_empty()).collect();
    if file.len() != rule.len() {
        out.push(format!(
            "the file has {} key group(s), its creation rule {}",
            file.len(),
            rule.len()
        ));
    }
    for i in 0..file.len().max(rule.len()) {
        let have: Vec<String> = file
            .get(i)
            .map(|g| g.iter().map(changes::key_string).collect())
            .unwrap_or_default();
        let want: Vec<String> = rule.get(i).map(|g| spec_key_strings(g)).unwrap_or_default();
        let same = |a: &str, b: &str| {
            a == b || (b.ends_with('/') && b.contains("/keys/") && a.starts_with(b))
        };
        let missing: Vec<&String> = want
            .iter()
            .filter(|w| !have.iter().any(|h| same(h, w)))
            .collect();
        let extra: Vec<&String> = have
            .iter()
            .filter(|h| !want.iter().any(|w| same(h, w)))
            .collect();
        if missing.is_empty() && extra.is_empty() {
            continue;
        }
        let mut parts = Vec::new();
        if !missing.is_empty() {
            parts.push(format!(
                "missing {}",
                missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !extra.is_empty() {
            parts.push(format!(
                "not in the rule {}",
                extra
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out.push(format!("key group {}: {}", i + 1, parts.join("; ")));
    }
    out
}

#[cfg(test)]
mod summary_tests {
    use super::*;

    fn finding(kind: Kind) -> Finding {
        Finding {
            path: "f".into(),
            line: None,
            kind,
            rule: None,
            message: String::new(),
            details: None,
        }
    }

    #[test]
    fn summary_counts_findings_by_kind() {
        assert_eq!(summary(&[], 12), "12 files checked, no findings");
        assert_eq!(summary(&[], 1), "1 file checked, no findings");
        let found = [
            finding(Kind::Unencrypted),
            finding(Kind::KeyDrift),
            finding(Kind::KeyDrift),
        ];
        assert_eq!(
            summary(&found, 5),
            "5 files checked, 3 findings (2 key-drift, 1 unencrypted)"
        );
        assert_eq!(
            summary(&found[..1], 5),
            "5 files checked, 1 finding (1 unencrypted)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{yaml::YamlStore, Store, StoreOptions};

    fn docs(yaml: &str) -> Vec<Map> {
        YamlStore::new(&StoreOptions::default())
            .parse_plain(yaml.as_bytes())
            .unwrap()
    }

    const ENC: &str = "ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]";

    #[test]
    fn plaintext_leaves_under_the_default_rule() {
        let d = docs(&format!(
            "a: {ENC}\nb: plain\nc_unencrypted: fine\nn: null\ne: ''\nl:\n  - {ENC}\n  - 3\n"
        ));
        let found = plaintext_values(&d, &EncryptionRule::default());
        assert_eq!(found, vec![vec!["b".to_string()], vec!["l".to_string()]]);
    }

    #[test]
    fn plaintext_leaves_under_an_encrypted_regex() {
        let d = docs(&format!(
            "user: bob\npassword: hunter2\ndb:\n  password: {ENC}\n"
        ));
        let rule = EncryptionRule::EncryptedRegex("^password$".into());
        let found = plaintext_values(&d, &rule);
        assert_eq!(found, vec![vec!["password".to_string()]]);
        assert_eq!(display_path(&found[0]), "[\"password\"]");
    }

    #[test]
    fn lines_are_found_by_key_path() {
        let text = "a:\n  password: x\nb:\n  password: y\n";
        let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(find_line(text, &path(&["b", "password"])), Some(4));
        assert_eq!(find_line("{\n \"k\": 1\n}", &path(&["k"])), Some(2));
        assert_eq!(find_line("A=1\nB=2\n", &path(&["B"])), Some(2));
        assert_eq!(find_line("x: 1\n", &path(&["nope"])), None);
    }

    #[test]
    fn metadata_without_mac_is_reported() {
        let raw = docs("lastmodified: '2024-01-01T00:00:00Z'\nversion: 3.11.0\nage:\n  - recipient: x\n    enc: y\n")
            .remove(0);
        let problems = metadata_problems(&raw);
        assert!(
            problems.iter().any(|p| p.contains("no MAC")),
            "{problems:?}"
        );
    }

    #[test]
    fn drift_names_missing_and_extra_keys() {
        use crate::keys::{age::AgeKey, MasterKey};
        let a = ::age::x25519::Identity::generate().to_public().to_string();
        let b = ::age::x25519::Identity::generate().to_public().to_string();
        let file = vec![vec![MasterKey::Age(AgeKey::new(&a).unwrap())]];
        let same = vec![KeyGroupSpec {
            age: vec![a.clone()],
            ..Default::default()
        }];
        assert!(key_drift(&file, &same).is_empty());
        let other = vec![KeyGroupSpec {
            age: vec![b.clone()],
            ..Default::default()
        }];
        let drift = key_drift(&file, &other);
        assert_eq!(drift.len(), 1);
        assert!(drift[0].contains(&format!("missing {b}")), "{drift:?}");
        assert!(
            drift[0].contains(&format!("not in the rule {a}")),
            "{drift:?}"
        );
    }

    #[test]
    fn json_report_is_stable() {
        let f = Finding {
            path: "a.yaml".into(),
            line: Some(2),
            kind: Kind::PlaintextValue,
            rule: Some("[\"b\"]".into()),
            message: "m".into(),
            details: None,
        };
        let v: serde_json::Value = serde_json::from_str(&json_report(&[f], 3)).unwrap();
        assert_eq!(v["version"], 1);
        assert_eq!(v["files_checked"], 3);
        assert_eq!(v["findings"][0]["kind"], "plaintext-value");
        assert_eq!(v["findings"][0]["line"], 2);
        assert_eq!(v["counts"]["plaintext-value"], 1);
    }
}

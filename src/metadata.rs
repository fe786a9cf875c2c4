//! The sops metadata section: reading it from the raw tree a store hands
//! over (weakly typed, as sops reads it) and writing it back (docs/spec/format.md §8).

use crate::crypto::EncryptionRule;
use crate::keys::{KeyGroup, MasterKey, KEY_TYPES};
use crate::tree::{Item, Map, Timestamp, Value};

/// The version written into files enseal creates: the sops file format it
/// follows (a semantic version ≥ 3.3.0, as every sops reader requires).
pub const FORMAT_VERSION: &str = "3.11.0";

/// The metadata of an encrypted file.
#[derive(Debug, Clone, PartialEq)]
pub struct Metadata {
    /// The key groups (one group in the common case).
    pub key_groups: Vec<KeyGroup>,
    /// The Shamir threshold (0 when unset).
    pub shamir_threshold: usize,
    /// `lastmodified` as written.
    pub last_modified: String,
    /// The encrypted MAC (may be empty in damaged files).
    pub mac: String,
    /// The encryption rule; `None` for binary files, which record none.
    pub rule: Option<EncryptionRule>,
    /// MAC over encrypted values only.
    pub mac_only_encrypted: bool,
    /// The sops version that wrote the file.
    pub version: String,
}

impl Metadata {
    /// Reads the raw metadata tree.
    pub fn from_map(map: &Map) -> Result<Metadata, String> {
        let mut rules = Vec::new();
        for field in EncryptionRule::FIELDS {
            if let Some(text) = text_field(map, field)? {
                if !text.is_empty() {
                    rules.extend(EncryptionRule::from_field(field, text));
                }
            }
        }
        if rules.len() > 1 {
            return Err("Cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex in the same file".into());
        }
        let last_modified = text_field(map, "lastmodified")?.unwrap_or_default();
        if Timestamp::parse_rfc3339(&last_modified).is_none() {
            return Err(format!(
                "lastmodified {last_modified:?} is not an RFC 3339 timestamp"
            ));
        }
        let version = text_field(map, "version")?.unwrap_or_default();
        check_version(&version)?;
        Ok(Metadata {
            key_groups: read_key_groups(map)?,
            shamir_threshold: int_field(map, "shamir_threshold")?,
            last_modified,
            mac: text_field(map, "mac")?.unwrap_or_default(),
            rule: rules.pop(),
            mac_only_encrypted: bool_field(map, "mac_only_encrypted")?,
            version,
        })
    }

    /// The rule in effect (sops assumes `_unencrypted` when none is recorded).
    pub fn effective_rule(&self) -> EncryptionRule {
        self.rule.clone().unwrap_or_default()
    }

    /// The metadata tree to store, in the field order sops 3.11 writes.
    pub fn to_map(&self) -> Map {
        let mut map = Map::new();
        if self.shamir_threshold != 0 {
            map.push("shamir_threshold", Value::Int(self.shamir_threshold as i64));
        }
        let mut by_type: Vec<(&str, Vec<Value>)> = Vec::new();
        if self.key_groups.len() > 1 {
            let groups = self
                .key_groups
                .iter()
                .map(|g| Value::Map(group_map(g, true)))
                .collect();
            map.push("key_groups", Value::List(groups));
        } else if let Some(group) = self.key_groups.first() {
            by_type = lists_by_type(group);
        }
        let mut push_keys = |map: &mut Map, type_id: &str| {
            if let Some((_, list)) = by_type
                .iter_mut()
                .find(|(t, l)| *t == type_id && !l.is_empty())
            {
                map.push(type_id, Value::List(std::mem::take(list)));
            }
        };
        for type_id in ["kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "age"] {
            push_keys(&mut map, type_id);
        }
        map.push("lastmodified", Value::Str(self.last_modified.clone()));
        map.push("mac", Value::Str(self.mac.clone()));
        push_keys(&mut map, "pgp");
        if let Some(rule) = &self.rule {
            let (field, value) = rule.field();
            map.push(field, Value::Str(value.to_string()));
        }
        if self.mac_only_encrypted {
            map.push("mac_only_encrypted", Value::Bool(true));
        }
        map.push("version", Value::Str(self.version.clone()));
        map
    }
}

/// The key lists of a group, by type, in the order sops 3.11 writes them.
fn lists_by_type(group: &KeyGroup) -> Vec<(&'static str, Vec<Value>)> {
    let mut lists: Vec<(&'static str, Vec<Value>)> =
        KEY_TYPES.iter().map(|t| (*t, Vec::new())).collect();
    for key in group {
        if let Some((_, list)) = lists.iter_mut().find(|(t, _)| *t == key.type_id()) {
            list.push(Value::Map(key.to_map()));
        }
    }
    lists
}

fn group_map(group: &KeyGroup, always_age_and_vault: bool) -> Map {
    let mut lists = lists_by_type(group);
    let mut map = Map::new();
    for type_id in [
        "pgp", "kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "age",
    ] {
        if let Some((_, list)) = lists.iter_mut().find(|(t, _)| *t == type_id) {
            let always = always_age_and_vault && matches!(type_id, "age" | "hc_vault");
            if !list.is_empty() || always {
                map.push(type_id, Value::List(std::mem::take(list)));
            }
        }
    }
    map
}

fn read_group(map: &Map) -> Result<KeyGroup, String> {
    let mut group = Vec::new();
    // sops regroups keys by type in this order whatever the file order.
    for type_id in [
        "kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "pgp", "age",
    ] {
        match map.get(type_id) {
            None | Some(Value::Null) => {}
            Some(Value::List(entries)) => {
                for entry in entries {
                    match entry {
                        Value::Map(m) => {
                            check_created_at(type_id, m)?;
                            group.push(MasterKey::from_map(type_id, m)?)
                        }
                        Value::Comment(_) => {}
                        other => {
                            return Err(format!(
                                "{type_id} key entry is a {}, expected a mapping",
                                other.type_name()
                            ))
                        }
                    }
                }
            }
            Some(other) => {
                return Err(format!(
                    "{type_id} is a {}, expected a list",
                    other.type_name()
                ))
            }
        }
    }
    Ok(group)
}

fn read_key_groups(map: &Map) -> Result<Vec<KeyGroup>, String> {
    // sops decodes `key_groups` into a typed structure even when the flat
    // key lists are used: a mistyped `key_groups` is an error either way.
    let groups = read_nested_groups(map)?;
    let flat = read_group(map)?;
    if !flat.is_empty() {
        return Ok(vec![flat]);
    }
    if groups.iter().all(Vec::is_empty) {
        return Err("No keys found in file".into());
    }
    Ok(groups)
}

fn read_nested_groups(map: &Map) -> Result<Vec<KeyGroup>, String> {
    Ok(match map.get("key_groups") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::List(groups)) => groups
            .iter()
            .filter(|g| !matches!(g, Value::Comment(_)))
            .map(|g| match g {
                Value::Map(m) => read_group(m),
                other => Err(format!(
                    "key group is a {}, expected a mapping",
                    other.type_name()
                )),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => {
            return Err(format!(
                "key_groups is a {}, expected a list",
                other.type_name()
            ))
        }
    })
}

/// sops parses `created_at` of every key type but age as an RFC 3339 time
/// and refuses the file when it is not one.
fn check_created_at(type_id: &str, map: &Map) -> Result<(), String> {
    if type_id == "age" {
        return Ok(());
    }
    match map.get("created_at") {
        Some(Value::Time(_)) => Ok(()),
        Some(Value::Str(s)) if Timestamp::parse_rfc3339(s).is_some() => Ok(()),
        Some(Value::Str(_)) | None | Some(Value::Null) => Err(format!(
            "{type_id} key: created_at is not an RFC 3339 timestamp"
        )),
        Some(other) => Err(format!(
            "{type_id} key: created_at is a {}, expected a string",
            other.type_name()
        )),
    }
}

/// A string field, accepting numbers, booleans and timestamps as text (weak typing).
fn text_field(map: &Map, name: &str) -> Result<Option<String>, String> {
    Ok(match map.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::Str(s)) => Some(s.clone()),
        Some(Value::Int(i)) => Some(i.to_string()),
        Some(Value::Float(f)) => Some(crate::gofmt::format_g(*f, false)),
        Some(Value::Bool(b)) => Some(b.to_string()),
        Some(Value::Time(t)) => Some(t.to_rfc3339_nano()),
        Some(other) => {
            return Err(format!(
                "{name} is a {}, expected a string",
                other.type_name()
            ))
        }
    })
}

fn int_field(map: &Map, name: &str) -> Result<usize, String> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Int(i)) if *i >= 0 => Ok(*i as usize),
        // sops reads a negative threshold without complaint; it means "unset".
        Some(Value::Int(_)) => Ok(0),
        // Only integral floats that an int holds exactly (2^53).
        Some(Value::Float(f)) if *f >= 0.0 && f.fract() == 0.0 && *f <= 9_007_199_254_740_992.0 => {
            Ok(*f as usize)
        }
        Some(Value::Str(s)) if s.is_empty() => Ok(0),
        Some(Value::Str(s)) => s
            .trim()
            .parse()
            .map_err(|_| format!("{name} {s:?} is not a number")),
        Some(other) => Err(format!(
            "{name} is a {}, expected a number",
            other.type_name()
        )),
    }
}

fn bool_field(map: &Map, name: &str) -> Result<bool, String> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::Str(s)) => match s.as_str() {
            "" => Ok(false),
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
            _ => Err(format!("{name} {s:?} is not a boolean")),
        },
        Some(other) => Err(format!(
            "{name} is a {}, expected a boolean",
            other.type_name()
        )),
    }
}

/// sops refuses files whose version is not a semantic version.
fn check_version(version: &str) -> Result<(), String> {
    if version.is_empty() {
        return Err("Version string empty".into());
    }
    if version.starts_with("1.") {
        return Ok(());
    }
    let core = version.strip_prefix('v').unwrap_or(version);
    let core = core.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        // Each element must fit a 64-bit unsigned number (ParseUint).
        if parts.iter().any(|p| p.parse::<u64>().is_err()) {
            return Err(format!("version {version:?}: a number is out of range"));
        }
        Ok(())
    } else {
        Err(format!(
            "version {version:?}: No Major.Minor.Patch elements found"
        ))
    }
}

/// Removes nothing, but lists the item keys (for tests and diagnostics).
pub fn field_names(map: &Map) -> Vec<&str> {
    map.0
        .iter()
        .filter_map(|i| match i {
            Item::Entry(k, _) => Some(k.as_str()),
            Item::Comment(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::age::AgeKey;

    fn sample() -> Metadata {
        let recipient = ::age::x25519::Identity::generate().to_public().to_string();
        let mut key = AgeKey::new(&recipient).unwrap();
        key.enc =
            "-----BEGIN AGE ENCRYPTED FILE-----\nx\n-----END AGE ENCRYPTED FILE-----\n".into();
        Metadata {
            key_groups: vec![vec![MasterKey::Age(key)]],
            shamir_threshold: 0,
            last_modified: "2026-11-27T23:39:06Z".into(),
            mac: "ENC[...]".into(),
            rule: Some(EncryptionRule::default()),
            mac_only_encrypted: false,
            version: FORMAT_VERSION.into(),
        }
    }

    #[test]
    fn writes_fields_in_sops_order_and_reads_back() {
        let m = sample();
        let map = m.to_map();
        assert_eq!(
            field_names(&map),
            [
                "age",
                "lastmodified",
                "mac",
                "unencrypted_suffix",
                "version"
            ]
        );
        assert_eq!(Metadata::from_map(&map).unwrap(), m);
    }

    #[test]
    fn multi_group_files_always_list_age_and_hc_vault() {
        let mut m = sample();
        m.key_groups.push(m.key_groups[0].clone());
        m.shamir_threshold = 2;
        let map = m.to_map();
        assert_eq!(field_names(&map)[..2], ["shamir_threshold", "key_groups"]);
        let Some(Value::List(groups)) = map.get("key_groups") else {
            panic!()
        };
        let Value::Map(g) = &groups[0] else { panic!() };
        assert_eq!(field_names(g), ["hc_vault", "age"]);
        assert_eq!(Metadata::from_map(&map).unwrap(), m);
    }

    #[test]
    fn weak_typing_and_validation() {
        let mut map = sample().to_map();
        map.push("shamir_threshold", Value::Str("2".into()));
        map.push("mac_only_encrypted", Value::Str("true".into()));
        let m = Metadata::from_map(&map).unwrap();
        assert_eq!(m.shamir_threshold, 2);
        assert!(m.mac_only_encrypted);
        for bad in ["3.5", "foo", ""] {
            let mut map = sample().to_map();
            *map.get_mut("version").unwrap() = Value::Str(bad.into());
            assert!(Metadata::from_map(&map).is_err(), "{bad}");
        }
        let mut two_rules = sample().to_map();
        two_rules.push("encrypted_regex", Value::Str("x".into()));
        assert!(Metadata::from_map(&two_rules)
            .unwrap_err()
            .contains("more than one"));
        for (field, value) in [
            ("key_groups", Value::Int(5)),
            ("key_groups", Value::List(vec![Value::Str("a".into())])),
            ("shamir_threshold", Value::Float(1e23)),
        ] {
            let mut map = sample().to_map();
            map.push(field, value);
            assert!(Metadata::from_map(&map).is_err(), "{field}");
        }
        let mut huge = sample().to_map();
        *huge.get_mut("version").unwrap() = Value::Str("99999999999999999999999.0.0".into());
        assert!(Metadata::from_map(&huge)
            .unwrap_err()
            .contains("out of range"));
        let mut pgp = Map::new();
        pgp.push("fp", Value::Str("00".into()));
        pgp.push("created_at", Value::Str("x".into()));
        let mut bad_time = sample().to_map();
        bad_time.push("pgp", Value::List(vec![Value::Map(pgp.clone())]));
        assert!(Metadata::from_map(&bad_time)
            .unwrap_err()
            .contains("created_at"));
        *pgp.get_mut("created_at").unwrap() = Value::Str("2024-01-02T03:04:05Z".into());
        let mut good_time = sample().to_map();
        good_time.push("pgp", Value::List(vec![Value::Map(pgp)]));
        assert!(Metadata::from_map(&good_time).is_ok());
        let mut no_keys = sample().to_map();
        no_keys.remove("age");
        assert_eq!(
            Metadata::from_map(&no_keys).unwrap_err(),
            "No keys found in file"
        );
    }
}

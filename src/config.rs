//! The `.sops.yaml` configuration file (config.md).
//!
//! This module finds the file ([`find_config`], [`lookup_config`]), decodes
//! it ([`load`], [`Config::from_document`]) and answers the questions the
//! commands ask of it: which creation rule applies to a file
//! ([`Config::rule_for`]), which destination rule applies for `publish`
//! ([`Config::destination_for`]) and which store options to use
//! ([`Config::store_options`]). It knows nothing of the terminal and does not
//! build master keys: a rule's keys are returned as raw descriptions
//! ([`KeyGroupSpec`]) that `crate::keys` turns into master keys.
//!
//! Decoding follows the reference's two-stage behaviour: a value of the wrong
//! YAML type for a typed field (a string where `hckms` wants a list, a
//! string `shamir_threshold`, …) fails the whole file as soon as it is
//! loaded ([`ConfigError::Unmarshal`]), while semantic problems of a creation
//! rule (an invalid `path_regex`, two encryption rules, a key field of the
//! wrong type, an unparsable Azure key URL) only fail when matching reaches
//! that rule, exactly as in sops.

use std::path::{Component, Path, PathBuf, MAIN_SEPARATOR};

use regex::Regex;

use crate::crypto::EncryptionRule;
use crate::format::yaml::YamlStore;
use crate::format::{FormatError, Store, StoreOptions};
use crate::tree::{Map, Value};

/// The only file name the search accepts.
pub const CONFIG_FILE_NAME: &str = ".sops.yaml";

/// A name that is noticed (and warned about) but never used.
pub const ALTERNATE_CONFIG_NAME: &str = ".sops.yml";

/// How many directories the search visits (the start directory included).
const MAX_DEPTH: usize = 100;

/// The text of the "two encryption rules in one creation rule" error.
const MULTIPLE_RULES: &str = "cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex for the same rule";

/// Why the configuration could not be read or used.
///
/// Every message starts with the reference's text and ends with the config
/// file (and, where relevant, the place in it, e.g.
/// `creation_rules[1].path_regex`) in parentheses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("could not read config file: {message} (config file {})", .path.display())]
    Read {
        /// The config file.
        path: PathBuf,
        /// The operating system's error.
        message: String,
    },
    /// The file is not valid YAML or a field has the wrong YAML type.
    #[error("error loading config: Could not unmarshal config file: {message} (config file {}{})", .path.display(), at_suffix(.at))]
    Unmarshal {
        /// The config file.
        path: PathBuf,
        /// Where in the file (`creation_rules[0].hckms`), empty for the whole file.
        at: String,
        /// What is wrong.
        message: String,
    },
    /// The file has creation rules but none matches the file.
    #[error("error loading config: no matching creation rules found (config file {})", .path.display())]
    NoMatchingRule {
        /// The config file.
        path: PathBuf,
    },
    /// A `path_regex` the matching reached is not a valid regular expression.
    #[error("can not compile regexp: {message} (config file {}, {at})", .path.display())]
    BadPathRegex {
        /// The config file.
        path: PathBuf,
        /// `creation_rules[N].path_regex`.
        at: String,
        /// The regex parser's message.
        message: String,
    },
    /// The selected creation rule sets more than one of the six encryption rules.
    #[error("error loading config: {MULTIPLE_RULES} (config file {}, {at})", .path.display())]
    MultipleEncryptionRules {
        /// The config file.
        path: PathBuf,
        /// `creation_rules[N]`.
        at: String,
    },
    /// A key field of the selected creation rule cannot be used.
    #[error("{message} (config file {}, {at})", .path.display())]
    InvalidKey {
        /// The config file.
        path: PathBuf,
        /// `creation_rules[N].age`, …
        at: String,
        /// What is wrong, in the reference's words.
        message: String,
    },
    /// `publish`: no destination rule matches.
    #[error("error loading config: no matching destination found in config (config file {})", .path.display())]
    NoMatchingDestination {
        /// The config file.
        path: PathBuf,
    },
    /// `publish`: the matching destination rule names two destinations.
    #[error("error loading config: more than one destinations were found in a single destination rule, you can only use one per rule (config file {}, {at})", .path.display())]
    MultipleDestinations {
        /// The config file.
        path: PathBuf,
        /// `destination_rules[N]`.
        at: String,
    },
}

fn at_suffix(at: &str) -> String {
    if at.is_empty() {
        String::new()
    } else {
        format!(", {at}")
    }
}

// ---------------------------------------------------------------------------
// Discovery
// ---------------------------------------------------------------------------

/// The result of searching for a config file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigLookup {
    /// The `.sops.yaml` found, if any.
    pub path: Option<PathBuf>,
    /// The warning to log (once) when a `.sops.yml` was seen on the way.
    pub warning: Option<String>,
}

/// Searches for `.sops.yaml` in `start_dir` (normally the working directory)
/// and its ancestors, 100 directories at most; the first hit wins. A
/// `.sops.yml` is never used, but the first one seen produces a warning.
///
/// An absolute `start_dir` yields absolute paths; a relative one yields
/// paths like `../../.sops.yaml`, as in the reference.
pub fn lookup_config(start_dir: &Path) -> ConfigLookup {
    let mut dir = if start_dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        start_dir.to_path_buf()
    };
    let mut alternate: Option<PathBuf> = None;
    for _ in 0..MAX_DEPTH {
        let candidate = join_clean(&dir, CONFIG_FILE_NAME);
        if std::fs::metadata(&candidate).is_ok() {
            let warning = alternate.map(|alt| {
                format!(
                    "ignoring {:?} when searching for config file; the config file must be called {:?}; using {:?} instead",
                    alt.display().to_string(),
                    CONFIG_FILE_NAME,
                    candidate.display().to_string()
                )
            });
            return ConfigLookup {
                path: Some(candidate),
                warning,
            };
        }
        if alternate.is_none() {
            let alt = join_clean(&dir, ALTERNATE_CONFIG_NAME);
            if std::fs::metadata(&alt).is_ok() {
                alternate = Some(alt);
            }
        }
        if dir.is_absolute() {
            match dir.parent() {
                Some(parent) => dir = parent.to_path_buf(),
                None => break, // the root has been checked
            }
        } else {
            dir = dir.join("..");
        }
    }
    ConfigLookup {
        path: None,
        warning: alternate.map(|alt| {
            format!(
                "ignoring {:?} when searching for config file; the config file must be called {:?}",
                alt.display().to_string(),
                CONFIG_FILE_NAME
            )
        }),
    }
}

/// The config file to use: `explicit` (from `--config` or `SOPS_CONFIG`,
/// returned as is, without checking that it exists) or the result of
/// [`lookup_config`] from `start_dir`. Callers that want the `.sops.yml`
/// warning use [`lookup_config`] directly.
pub fn find_config(explicit: Option<&Path>, start_dir: &Path) -> Option<PathBuf> {
    match explicit {
        Some(path) => Some(path.to_path_buf()),
        None => lookup_config(start_dir).path,
    }
}

fn join_clean(dir: &Path, name: &str) -> PathBuf {
    clean_path(&dir.join(name))
}

/// Lexical path cleaning like Go's `filepath.Clean`: drops `.` components,
/// resolves `..` against the preceding component (`/..` is `/`), and gives
/// `.` for an empty result. Symbolic links are not resolved.
pub fn clean_path(path: &Path) -> PathBuf {
    let mut parts: Vec<Component> = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match parts.last() {
                Some(Component::Normal(_)) => {
                    parts.pop();
                }
                Some(Component::RootDir) | Some(Component::Prefix(_)) => {}
                _ => parts.push(component),
            },
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        return PathBuf::from(".");
    }
    parts.iter().collect()
}

/// `path` made absolute against `cwd` (when relative) and cleaned.
pub fn absolute_path(path: &Path, cwd: &Path) -> PathBuf {
    if path.is_absolute() {
        clean_path(path)
    } else {
        clean_path(&cwd.join(path))
    }
}

// ---------------------------------------------------------------------------
// Output types
// ---------------------------------------------------------------------------

/// An AWS KMS key as described in the config.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KmsSpec {
    /// The key ARN.
    pub arn: String,
    /// The role ARN to assume, empty for none.
    pub role: String,
    /// The encryption context: `None` for keys of the per-rule `kms` field
    /// (their context comes from `--encryption-context`), `Some` (possibly
    /// empty) for `key_groups` entries, in file order.
    pub context: Option<Vec<(String, String)>>,
    /// The AWS profile, empty for the default.
    pub aws_profile: String,
}

/// An Azure Key Vault key as described in the config.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AzureKvSpec {
    /// `https://<vault host>` (no trailing slash when it came from a URL).
    pub vault_url: String,
    /// The key name.
    pub name: String,
    /// The key version; empty means "the latest, looked up at creation".
    pub version: String,
}

/// The raw keys of one key group, per type, each list in config order,
/// already split and normalised the way sops does it (spaces removed from
/// PGP fingerprints, KMS ARNs and GCP resource ids; age recipients trimmed).
///
/// An age entry may be empty (e.g. `age: [key, ""]`): sops rejects it when
/// parsing the recipient, and so should the caller.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyGroupSpec {
    /// age recipients.
    pub age: Vec<String>,
    /// PGP fingerprints.
    pub pgp: Vec<String>,
    /// AWS KMS keys.
    pub kms: Vec<KmsSpec>,
    /// GCP KMS resource ids.
    pub gcp_kms: Vec<String>,
    /// Azure Key Vault keys.
    pub azure_kv: Vec<AzureKvSpec>,
    /// HashiCorp Vault transit URIs (not validated here).
    pub hc_vault: Vec<String>,
    /// HuaweiCloud KMS `region:key-uuid` ids (not validated here).
    pub hckms: Vec<String>,
}

impl KeyGroupSpec {
    /// True when the group holds no key at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of keys in the group.
    pub fn len(&self) -> usize {
        self.age.len()
            + self.pgp.len()
            + self.kms.len()
            + self.gcp_kms.len()
            + self.azure_kv.len()
            + self.hc_vault.len()
            + self.hckms.len()
    }

    fn append(&mut self, other: KeyGroupSpec) {
        self.age.extend(other.age);
        self.pgp.extend(other.pgp);
        self.kms.extend(other.kms);
        self.gcp_kms.extend(other.gcp_kms);
        self.azure_kv.extend(other.azure_kv);
        self.hc_vault.extend(other.hc_vault);
        self.hckms.extend(other.hckms);
    }

    /// Drops later duplicates of the same type (config.md §3.3).
    fn dedup(&mut self) {
        fn keep_first<T: PartialEq + Clone>(list: &mut Vec<T>) {
            let mut seen: Vec<T> = Vec::with_capacity(list.len());
            list.retain(|item| {
                if seen.contains(item) {
                    false
                } else {
                    seen.push(item.clone());
                    true
                }
            });
        }
        keep_first(&mut self.age);
        keep_first(&mut self.pgp);
        keep_first(&mut self.kms);
        keep_first(&mut self.gcp_kms);
        keep_first(&mut self.azure_kv);
        keep_first(&mut self.hc_vault);
        keep_first(&mut self.hckms);
    }
}

/// A usable creation rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreationRule {
    /// Position in `creation_rules` (0-based).
    pub index: usize,
    /// The `path_regex` as written (empty: matches everything).
    pub path_regex: String,
    /// The key groups: the `key_groups` entries when that list is non-empty,
    /// else exactly one group made of the per-type fields (possibly empty).
    pub key_groups: Vec<KeyGroupSpec>,
    /// True when [`CreationRule::key_groups`] came from `key_groups`.
    pub uses_key_groups: bool,
    /// `shamir_threshold`; 0 means "number of groups".
    pub shamir_threshold: usize,
    /// The one encryption rule set, if any (empty strings count as unset).
    pub rule: Option<EncryptionRule>,
    /// `mac_only_encrypted`.
    pub mac_only_encrypted: bool,
}

/// A `destination_rules` entry (for `publish`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationRule {
    /// Position in `destination_rules` (0-based).
    pub index: usize,
    /// Unanchored RE2 expression matched against the path as given; empty
    /// matches everything, an invalid one never matches.
    pub path_regex: String,
    /// `s3_bucket`.
    pub s3_bucket: String,
    /// `s3_prefix`.
    pub s3_prefix: String,
    /// `gcs_bucket`.
    pub gcs_bucket: String,
    /// `gcs_prefix`.
    pub gcs_prefix: String,
    /// `vault_path`.
    pub vault_path: String,
    /// `vault_address` (empty: the Vault client default).
    pub vault_address: String,
    /// `vault_kv_mount_name` (empty: `secret/`).
    pub vault_kv_mount_name: String,
    /// `vault_kv_version` (0 when absent).
    pub vault_kv_version: i64,
    /// `omit_extensions`.
    pub omit_extensions: bool,
    recreation_rule: Result<CreationRule, ConfigError>,
}

impl DestinationRule {
    /// The `recreation_rule`, or the error that makes it unusable.
    pub fn recreation_rule(&self) -> Result<&CreationRule, ConfigError> {
        self.recreation_rule.as_ref().map_err(Clone::clone)
    }
}

/// A creation rule as stored: its compiled path and the rule or the error
/// that only matters if matching selects it.
#[derive(Debug, Clone)]
struct RuleSlot {
    regex: Result<Option<Regex>, ConfigError>,
    rule: Result<CreationRule, ConfigError>,
}

/// A decoded `.sops.yaml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file, as it was given or found.
    pub path: PathBuf,
    creation_rules: Option<Vec<RuleSlot>>,
    /// `destination_rules`, in order.
    pub destination_rules: Vec<DestinationRule>,
    /// `stores`: the indentation options (absent values are `None`).
    pub stores: StoreOptions,
}

/// Reads and decodes a config file (the first YAML document; an empty file
/// is an empty config).
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let bytes = std::fs::read(path).map_err(|e| ConfigError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    parse(path, &bytes)
}

/// Decodes config file contents; `path` is only used for messages and for
/// [`Config::config_dir`].
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Config, ConfigError> {
    let documents = match YamlStore::new(&StoreOptions::default()).parse_plain(bytes) {
        Ok(documents) => documents,
        Err(FormatError::NoDocument) => Vec::new(),
        Err(e) => {
            return Err(ConfigError::Unmarshal {
                path: path.to_path_buf(),
                at: String::new(),
                message: e.to_string(),
            })
        }
    };
    let empty = Map::new();
    Config::from_document(path, documents.first().unwrap_or(&empty))
}

impl Config {
    /// Decodes the top-level mapping of a config file.
    pub fn from_document(path: &Path, map: &Map) -> Result<Config, ConfigError> {
        let d = Decoder { path };
        d.check_keys(map, "")?;
        let creation_rules = match map.get("creation_rules") {
            None | Some(Value::Null) => None,
            Some(Value::List(items)) => {
                let mut slots = Vec::new();
                for (index, item) in list_items(items).enumerate() {
                    let at = format!("creation_rules[{index}]");
                    slots.push(d.creation_rule(item, index, &at)?);
                }
                Some(slots)
            }
            Some(other) => return Err(d.type_error("creation_rules", other, "[]config.creationRule")),
        };
        let mut destination_rules = Vec::new();
        match map.get("destination_rules") {
            None | Some(Value::Null) => {}
            Some(Value::List(items)) => {
                for (index, item) in list_items(items).enumerate() {
                    destination_rules.push(d.destination_rule(item, index)?);
                }
            }
            Some(other) => {
                return Err(d.type_error(
                    "destination_rules",
                    other,
                    "[]config.destinationRule",
                ))
            }
        }
        let stores = d.stores(map.get("stores"))?;
        Ok(Config {
            path: path.to_path_buf(),
            creation_rules,
            destination_rules,
            stores,
        })
    }

    /// True when the file has a `creation_rules` list (possibly empty). A
    /// config without one behaves, for creating files, like no config.
    pub fn has_creation_rules(&self) -> bool {
        self.creation_rules.is_some()
    }

    /// The absolute directory of the config file, given the working directory.
    pub fn config_dir(&self, cwd: &Path) -> PathBuf {
        let dir = self.path.parent().unwrap_or(Path::new(""));
        absolute_path(dir, cwd)
    }

    /// The creation rule for a file. Both paths should be absolute (they are
    /// cleaned lexically): `file_path` is the target file (or
    /// `--filename-override`), `config_dir` the directory of the config
    /// file ([`Config::config_dir`]). The matched path is `file_path`
    /// relative to `config_dir` when it lies below it, else `file_path`
    /// itself; rules are tried in order and the first match wins.
    ///
    /// `Ok(None)`: the file has no `creation_rules` (treat as no config).
    pub fn rule_for(
        &self,
        file_path: &Path,
        config_dir: &Path,
    ) -> Result<Option<&CreationRule>, ConfigError> {
        let Some(slots) = &self.creation_rules else {
            return Ok(None);
        };
        let file = clean_path(file_path).to_string_lossy().into_owned();
        let prefix = format!(
            "{}{}",
            clean_path(config_dir).to_string_lossy(),
            MAIN_SEPARATOR
        );
        let matched = file.strip_prefix(&prefix).unwrap_or(&file);
        for slot in slots {
            let hit = match &slot.regex {
                Err(e) => return Err(e.clone()),
                Ok(None) => true,
                Ok(Some(re)) => re.is_match(matched),
            };
            if hit {
                return slot.rule.as_ref().map(Some).map_err(Clone::clone);
            }
        }
        Err(ConfigError::NoMatchingRule {
            path: self.path.clone(),
        })
    }

    /// [`Config::rule_for`] with both paths made absolute against `cwd`.
    pub fn rule_for_file(
        &self,
        file_path: &Path,
        cwd: &Path,
    ) -> Result<Option<&CreationRule>, ConfigError> {
        self.rule_for(&absolute_path(file_path, cwd), &self.config_dir(cwd))
    }

    /// The destination rule for `publish`: the first whose `path_regex`
    /// matches `file_path` as given (empty matches everything, invalid never
    /// matches).
    pub fn destination_for(&self, file_path: &str) -> Result<&DestinationRule, ConfigError> {
        let rule = self
            .destination_rules
            .iter()
            .find(|r| {
                r.path_regex.is_empty()
                    || Regex::new(&r.path_regex).is_ok_and(|re| re.is_match(file_path))
            })
            .ok_or_else(|| ConfigError::NoMatchingDestination {
                path: self.path.clone(),
            })?;
        let kinds = [&rule.s3_bucket, &rule.gcs_bucket, &rule.vault_path]
            .iter()
            .filter(|s| !s.is_empty())
            .count();
        if kinds > 1 {
            return Err(ConfigError::MultipleDestinations {
                path: self.path.clone(),
                at: format!("destination_rules[{}]", rule.index),
            });
        }
        Ok(rule)
    }

    /// The store options of `stores:`; the caller applies `--indent` on top.
    pub fn store_options(&self) -> StoreOptions {
        self.stores
    }
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

/// List elements without the comments the YAML store keeps in sequences.
fn list_items(items: &[Value]) -> impl Iterator<Item = &Value> {
    items.iter().filter(|v| !matches!(v, Value::Comment(_)))
}

/// The YAML tag of a value, for unmarshal messages.
fn yaml_tag(value: &Value) -> &'static str {
    match value {
        Value::Map(_) => "!!map",
        Value::List(_) => "!!seq",
        Value::Str(_) | Value::Bytes(_) | Value::Comment(_) => "!!str",
        Value::Int(_) => "!!int",
        Value::Float(_) => "!!float",
        Value::Bool(_) => "!!bool",
        Value::Time(_) => "!!timestamp",
        Value::Null => "!!null",
    }
}

/// Go's `%T` of the value yaml.v3 decodes into an `interface{}`.
fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Map(_) => "map[string]interface {}",
        Value::List(_) => "[]interface {}",
        Value::Str(_) | Value::Bytes(_) | Value::Comment(_) => "string",
        Value::Int(_) => "int",
        Value::Float(_) => "float64",
        Value::Bool(_) => "bool",
        Value::Time(_) => "time.Time",
        Value::Null => "<nil>",
    }
}

/// The text of a scalar decoded into a Go string field.
fn scalar_text(value: &Value) -> Option<String> {
    Some(match value {
        Value::Str(s) => s.clone(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => crate::gofmt::format_g(*f, false),
        Value::Bool(b) => b.to_string(),
        Value::Time(t) => t.to_string(),
        Value::Null => String::new(),
        Value::Map(_) | Value::List(_) | Value::Comment(_) => return None,
    })
}

fn join(at: &str, field: &str) -> String {
    if at.is_empty() {
        field.to_string()
    } else {
        format!("{at}.{field}")
    }
}

struct Decoder<'a> {
    path: &'a Path,
}

impl Decoder<'_> {
    fn unmarshal(&self, at: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Unmarshal {
            path: self.path.to_path_buf(),
            at: at.to_string(),
            message: message.into(),
        }
    }

    fn type_error(&self, at: &str, value: &Value, go_target: &str) -> ConfigError {
        self.unmarshal(
            at,
            format!("cannot unmarshal {} into {go_target}", yaml_tag(value)),
        )
    }

    fn invalid_key(&self, at: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::InvalidKey {
            path: self.path.to_path_buf(),
            at: at.to_string(),
            message: message.into(),
        }
    }

    /// yaml.v3 rejects duplicate mapping keys.
    fn check_keys(&self, map: &Map, at: &str) -> Result<(), ConfigError> {
        let mut seen: Vec<&str> = Vec::new();
        for (key, _) in map.entries() {
            if seen.contains(&key) {
                return Err(self.unmarshal(at, format!("mapping key {key:?} already defined")));
            }
            seen.push(key);
        }
        Ok(())
    }

    /// A mapping (or null = empty) decoded into a Go struct.
    fn object<'v>(
        &self,
        value: &'v Value,
        at: &str,
        go_target: &str,
    ) -> Result<Option<&'v Map>, ConfigError> {
        match value {
            Value::Null => Ok(None),
            Value::Map(m) => {
                self.check_keys(m, at)?;
                Ok(Some(m))
            }
            other => Err(self.type_error(at, other, go_target)),
        }
    }

    fn string(&self, map: Option<&Map>, field: &str, at: &str) -> Result<String, ConfigError> {
        match map.and_then(|m| m.get(field)) {
            None => Ok(String::new()),
            Some(v) => scalar_text(v).ok_or_else(|| self.type_error(&join(at, field), v, "string")),
        }
    }

    fn int(&self, map: Option<&Map>, field: &str, at: &str) -> Result<Option<i64>, ConfigError> {
        match map.and_then(|m| m.get(field)) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Int(i)) => Ok(Some(*i)),
            Some(Value::Float(f)) if f.fract() == 0.0 && f.abs() < 9.0e18 => Ok(Some(*f as i64)),
            Some(v) => Err(self.type_error(&join(at, field), v, "int")),
        }
    }

    fn bool(&self, map: Option<&Map>, field: &str, at: &str) -> Result<bool, ConfigError> {
        match map.and_then(|m| m.get(field)) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(self.type_error(&join(at, field), v, "bool")),
        }
    }

    /// A Go `[]string` field.
    fn string_list(
        &self,
        map: Option<&Map>,
        field: &str,
        at: &str,
    ) -> Result<Vec<String>, ConfigError> {
        let at = join(at, field);
        match map.and_then(|m| m.get(field)) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::List(items)) => list_items(items)
                .map(|v| scalar_text(v).ok_or_else(|| self.type_error(&at, v, "string")))
                .collect(),
            Some(v) => Err(self.type_error(&at, v, "[]string")),
        }
    }

    /// A Go `[]struct` field: the mappings of the list (null items are empty).
    fn object_list<'v>(
        &self,
        map: Option<&'v Map>,
        field: &str,
        at: &str,
        go_target: &str,
    ) -> Result<Vec<(String, Option<&'v Map>)>, ConfigError> {
        let at = join(at, field);
        match map.and_then(|m| m.get(field)) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::List(items)) => list_items(items)
                .enumerate()
                .map(|(i, v)| {
                    let at = format!("{at}[{i}]");
                    let m = self.object(v, &at, go_target)?;
                    Ok((at, m))
                })
                .collect(),
            Some(v) => Err(self.type_error(&at, v, &format!("[]{go_target}"))),
        }
    }

    /// A per-rule key field (`interface{}` in sops): a comma-separated
    /// string (entries trimmed, empty ones dropped) or a list of strings
    /// (kept as they are). A wrong type is an error of the rule, not of the
    /// file, so it is returned as the inner `Err`.
    fn key_field(
        &self,
        map: Option<&Map>,
        field: &str,
        at: &str,
    ) -> Result<Vec<String>, ConfigError> {
        let at = join(at, field);
        match map.and_then(|m| m.get(field)) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Str(s)) => Ok(s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()),
            Some(Value::List(items)) => list_items(items)
                .map(|v| match v {
                    Value::Str(s) => Ok(s.clone()),
                    other => Err(self.invalid_key(
                        &at,
                        format!(
                            "invalid {field} key configuration: expected string in list, got {}",
                            go_type(other)
                        ),
                    )),
                })
                .collect(),
            Some(other) => Err(self.invalid_key(
                &at,
                format!(
                    "invalid {field} key configuration: expected string, []string, or nil, got {}",
                    go_type(other)
                ),
            )),
        }
    }

    fn creation_rule(
        &self,
        value: &Value,
        index: usize,
        at: &str,
    ) -> Result<RuleSlot, ConfigError> {
        let map = self.object(value, at, "config.creationRule")?;
        let path_regex = self.string(map, "path_regex", at)?;
        let rule = self.creation_rule_body(map, index, at)?;
        let regex = if path_regex.is_empty() {
            Ok(None)
        } else {
            Regex::new(&path_regex)
                .map(Some)
                .map_err(|e| ConfigError::BadPathRegex {
                    path: self.path.to_path_buf(),
                    at: join(at, "path_regex"),
                    message: regex_message(&e),
                })
        };
        let rule = rule.map(|mut r| {
            r.path_regex = path_regex;
            r
        });
        Ok(RuleSlot { regex, rule })
    }

    /// Decodes everything of a creation rule but `path_regex`. The outer
    /// `Err` fails the whole file; the inner one only the rule.
    fn creation_rule_body(
        &self,
        map: Option<&Map>,
        index: usize,
        at: &str,
    ) -> Result<Result<CreationRule, ConfigError>, ConfigError> {
        // Typed fields first: their errors fail the whole file.
        let aws_profile = self.string(map, "aws_profile", at)?;
        let hckms = self.string_list(map, "hckms", at)?;
        let groups = self.object_list(map, "key_groups", at, "config.keyGroup")?;
        let mut key_groups = Vec::new();
        for (group_at, group) in &groups {
            key_groups.push(self.key_group(*group, group_at, 0)?);
        }
        let threshold = self.int(map, "shamir_threshold", at)?.unwrap_or(0);
        let shamir_threshold = usize::try_from(threshold).map_err(|_| {
            self.unmarshal(
                &join(at, "shamir_threshold"),
                format!("shamir_threshold must not be negative, got {threshold}"),
            )
        })?;
        let mut rules = Vec::new();
        for field in EncryptionRule::FIELDS {
            let value = self.string(map, field, at)?;
            if !value.is_empty() {
                rules.extend(EncryptionRule::from_field(field, value));
            }
        }
        let mac_only_encrypted = self.bool(map, "mac_only_encrypted", at)?;
        // Key fields whose errors only matter when the rule is selected.
        let inner = (|| {
            if rules.len() > 1 {
                return Err(ConfigError::MultipleEncryptionRules {
                    path: self.path.to_path_buf(),
                    at: at.to_string(),
                });
            }
            let uses_key_groups = !key_groups.is_empty();
            if !uses_key_groups {
                key_groups = vec![self.flat_group(map, at, &aws_profile, &hckms)?];
            }
            Ok(CreationRule {
                index,
                path_regex: String::new(),
                key_groups,
                uses_key_groups,
                shamir_threshold,
                rule: rules.into_iter().next(),
                mac_only_encrypted,
            })
        })();
        Ok(inner)
    }

    /// The one group of a rule without `key_groups`, in the way sops builds
    /// it: each field's entries are joined with commas and split again by
    /// the key type's parser.
    fn flat_group(
        &self,
        map: Option<&Map>,
        at: &str,
        aws_profile: &str,
        hckms: &[String],
    ) -> Result<KeyGroupSpec, ConfigError> {
        fn resplit(items: &[String]) -> Vec<String> {
            let joined = items.join(",");
            if joined.is_empty() {
                Vec::new()
            } else {
                joined.split(',').map(String::from).collect()
            }
        }
        let no_spaces = |s: String| s.replace(' ', "");
        let mut group = KeyGroupSpec {
            age: resplit(&self.key_field(map, "age", at)?)
                .into_iter()
                .map(|s| s.trim().to_string())
                .collect(),
            pgp: resplit(&self.key_field(map, "pgp", at)?)
                .into_iter()
                .map(no_spaces)
                .collect(),
            ..KeyGroupSpec::default()
        };
        group.kms = resplit(&self.key_field(map, "kms", at)?)
            .into_iter()
            .map(|s| kms_from_arn(&s, aws_profile))
            .collect();
        group.gcp_kms = resplit(&self.key_field(map, "gcp_kms", at)?)
            .into_iter()
            .map(no_spaces)
            .collect();
        group.hckms = resplit(hckms)
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        let azure_at = join(at, "azure_keyvault");
        for url in resplit(&self.key_field(map, "azure_keyvault", at)?) {
            let spec = azure_from_url(&url).ok_or_else(|| {
                self.invalid_key(
                    &azure_at,
                    format!(
                        "could not parse {:?} into a valid Azure Key Vault MasterKey []",
                        url.trim()
                    ),
                )
            })?;
            group.azure_kv.push(spec);
        }
        group.hc_vault = resplit(&self.key_field(map, "hc_vault_transit_uri", at)?)
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        Ok(group)
    }

    /// A `key_groups` entry (and, recursively, its `merge` entries).
    fn key_group(
        &self,
        map: Option<&Map>,
        at: &str,
        depth: usize,
    ) -> Result<KeyGroupSpec, ConfigError> {
        if depth > 64 {
            return Err(self.unmarshal(at, "key group merge nesting is too deep"));
        }
        let mut group = KeyGroupSpec::default();
        for (merge_at, merged) in self.object_list(map, "merge", at, "config.keyGroup")? {
            group.append(self.key_group(merged, &merge_at, depth + 1)?);
        }
        for item in self.string_list(map, "age", at)? {
            if !item.is_empty() {
                group
                    .age
                    .extend(item.split(',').map(|s| s.trim().to_string()));
            }
        }
        group.pgp.extend(
            self.string_list(map, "pgp", at)?
                .into_iter()
                .map(|s| s.replace(' ', "")),
        );
        for (kms_at, kms) in self.object_list(map, "kms", at, "config.kmsKey")? {
            let context = match kms.and_then(|m| m.get("context")) {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Map(ctx)) => {
                    let ctx_at = join(&kms_at, "context");
                    self.check_keys(ctx, &ctx_at)?;
                    ctx.entries()
                        .map(|(k, v)| {
                            scalar_text(v)
                                .map(|text| (k.to_string(), text))
                                .ok_or_else(|| self.type_error(&ctx_at, v, "string"))
                        })
                        .collect::<Result<_, _>>()?
                }
                Some(other) => {
                    return Err(self.type_error(
                        &join(&kms_at, "context"),
                        other,
                        "map[string]*string",
                    ))
                }
            };
            group.kms.push(KmsSpec {
                arn: self.string(kms, "arn", &kms_at)?,
                role: self.string(kms, "role", &kms_at)?,
                context: Some(context),
                aws_profile: self.string(kms, "aws_profile", &kms_at)?,
            });
        }
        for (gcp_at, gcp) in self.object_list(map, "gcp_kms", at, "config.gcpKmsKey")? {
            group
                .gcp_kms
                .push(self.string(gcp, "resource_id", &gcp_at)?.replace(' ', ""));
        }
        for (hk_at, hk) in self.object_list(map, "hckms", at, "config.hckmsKey")? {
            group.hckms.push(self.string(hk, "key_id", &hk_at)?);
        }
        for (az_at, az) in self.object_list(map, "azure_keyvault", at, "config.azureKVKey")? {
            group.azure_kv.push(AzureKvSpec {
                vault_url: self.string(az, "vaultUrl", &az_at)?,
                name: self.string(az, "key", &az_at)?,
                version: self.string(az, "version", &az_at)?,
            });
        }
        group.hc_vault.extend(
            self.string_list(map, "hc_vault", at)?
                .into_iter()
                .filter(|s| !s.is_empty()),
        );
        group.dedup();
        Ok(group)
    }

    fn destination_rule(&self, value: &Value, index: usize) -> Result<DestinationRule, ConfigError> {
        let at = format!("destination_rules[{index}]");
        let map = self.object(value, &at, "config.destinationRule")?;
        let recreation_at = join(&at, "recreation_rule");
        let recreation = match map.and_then(|m| m.get("recreation_rule")) {
            Some(v) => {
                let m = self.object(v, &recreation_at, "config.creationRule")?;
                self.creation_rule_body(m, 0, &recreation_at)?
            }
            None => self.creation_rule_body(None, 0, &recreation_at)?,
        };
        Ok(DestinationRule {
            index,
            path_regex: self.string(map, "path_regex", &at)?,
            s3_bucket: self.string(map, "s3_bucket", &at)?,
            s3_prefix: self.string(map, "s3_prefix", &at)?,
            gcs_bucket: self.string(map, "gcs_bucket", &at)?,
            gcs_prefix: self.string(map, "gcs_prefix", &at)?,
            vault_path: self.string(map, "vault_path", &at)?,
            vault_address: self.string(map, "vault_address", &at)?,
            vault_kv_mount_name: self.string(map, "vault_kv_mount_name", &at)?,
            vault_kv_version: self.int(map, "vault_kv_version", &at)?.unwrap_or(0),
            omit_extensions: self.bool(map, "omit_extensions", &at)?,
            recreation_rule: recreation,
        })
    }

    fn stores(&self, value: Option<&Value>) -> Result<StoreOptions, ConfigError> {
        let mut options = StoreOptions::default();
        let Some(value) = value else {
            return Ok(options);
        };
        let Some(stores) = self.object(value, "stores", "config.StoresConfig")? else {
            return Ok(options);
        };
        let store = |name: &str, go_target: &str| -> Result<Option<&Map>, ConfigError> {
            match stores.get(name) {
                None => Ok(None),
                Some(v) => self.object(v, &join("stores", name), go_target),
            }
        };
        let yaml = store("yaml", "config.YAMLStoreConfig")?;
        options.yaml_indent = self.int(yaml, "indent", "stores.yaml")?;
        let json = store("json", "config.JSONStoreConfig")?;
        options.json_indent = self.int(json, "indent", "stores.json")?;
        let json_binary = store("json_binary", "config.JSONBinaryStoreConfig")?;
        options.json_binary_indent = self.int(json_binary, "indent", "stores.json_binary")?;
        store("dotenv", "config.DotenvStoreConfig")?;
        store("ini", "config.INIStoreConfig")?;
        Ok(options)
    }
}

/// A KMS key from a per-rule `kms` entry: spaces removed, `ARN+roleARN`
/// split at the first `+arn:`.
fn kms_from_arn(entry: &str, aws_profile: &str) -> KmsSpec {
    let arn = entry.replace(' ', "");
    let (arn, role) = match arn.find("+arn:") {
        Some(i) if i > 0 => (arn[..i].to_string(), arn[i + 1..].to_string()),
        _ => (arn, String::new()),
    };
    KmsSpec {
        arn,
        role,
        context: None,
        aws_profile: aws_profile.to_string(),
    }
}

/// Parses `https://<vault>/keys/<name>[/<version>]` (trimmed).
fn azure_from_url(url: &str) -> Option<AzureKvSpec> {
    let rest = url.trim().strip_prefix("https://")?;
    let (host, rest) = rest.split_once('/')?;
    if host.is_empty() {
        return None;
    }
    let rest = rest.strip_prefix("keys/")?;
    let (name, version) = match rest.split_once('/') {
        Some((name, version)) => (name, version),
        None => (rest, ""),
    };
    if name.is_empty() || version.contains('/') {
        return None;
    }
    Some(AzureKvSpec {
        vault_url: format!("https://{host}"),
        name: name.to_string(),
        version: version.to_string(),
    })
}

/// The regex crate's error without its multi-line decoration.
fn regex_message(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(s) => {
            let last = s
                .lines()
                .rev()
                .find(|l| l.starts_with("error:"))
                .unwrap_or(s.as_str());
            format!("error parsing regexp: {}", last.trim_start_matches("error:").trim())
        }
        other => other.to_string(),
    }
}

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
    #[error("could not read config file: {} (config file {})", one_line(.message), .path.display())]
    Read {
        /// The config file.
        path: PathBuf,
        /// The operating system's error.
        message: String,
    },
    /// The file is not valid YAML or a field has the wrong YAML type.
    #[error("error loading config: Could not unmarshal config file: {} (config file {}{})", one_line(.message), .path.display(), at_suffix(.at))]
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
    /// A regular expression the matching reached (`path_regex`, or one of
    /// the `*_regex` encryption rules of the selected rule) does not
    /// compile. One line, with its hint.
    #[error("can not compile regexp: {} (config file {}, {at}); hint: {REGEX_HINT}", one_line(.message), .path.display())]
    BadRegex {
        /// The config file.
        path: PathBuf,
        /// `creation_rules[N].path_regex`, `creation_rules[N].encrypted_regex`, …
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
    #[error("{} (config file {}, {at})", one_line(.message), .path.display())]
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

/// The hint of a regular expression that does not compile.
const REGEX_HINT: &str =
    "write a valid regular expression (RE2 syntax, as in Go), or remove the field";

/// `message` on one line: a parser's multi-line message (yaml.v3's list of
/// unmarshal errors, a regex error with its caret diagram) has its lines
/// trimmed and joined, so that every config error is one line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
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
    } else if start_dir.is_absolute() {
        clean_path(start_dir)
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

/// The working directory the way Go's `os.Getwd` reports it: `$PWD` when it
/// is absolute and names the same directory as `.` (so a path through a
/// symbolic link is kept, as in sops), else the resolved directory.
pub fn working_dir() -> std::io::Result<PathBuf> {
    let resolved = std::env::current_dir()?;
    if let Some(pwd) = std::env::var_os("PWD").map(PathBuf::from) {
        if pwd.is_absolute() && same_dir(&pwd, &resolved) {
            return Ok(pwd);
        }
    }
    Ok(resolved)
}

#[cfg(unix)]
fn same_dir(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_dir(a: &Path, b: &Path) -> bool {
    a == b
}

/// Store options with the global `--indent` flag applied: when given, it
/// replaces all three indents (cli.md §4.4).
pub fn apply_indent(options: StoreOptions, indent: Option<i64>) -> StoreOptions {
    match indent {
        Some(n) => StoreOptions {
            yaml_indent: Some(n),
            json_indent: Some(n),
            json_binary_indent: Some(n),
        },
        None => options,
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
    /// `stores.<name>.preserve_format: true` (an enseal extension): the
    /// names of the stores whose files are written in format-preserving mode.
    pub preserve_format: Vec<String>,
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
        // yaml.Unmarshal accepts a stream without documents (blank lines or
        // comments only), which the store reports as "EOF".
        Err(FormatError::NoDocument) => Vec::new(),
        Err(FormatError::Parse(m)) if m == "EOF" => Vec::new(),
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
        let resolved = d.resolve_map(map, "", 0)?;
        let map = &resolved;
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
            Some(other) => {
                return Err(d.type_error("creation_rules", other, "[]config.creationRule"))
            }
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
                return Err(d.type_error("destination_rules", other, "[]config.destinationRule"))
            }
        }
        let stores = d.stores(map.get("stores"))?;
        let preserve_format = d.preserve_format(map.get("stores"))?;
        Ok(Config {
            path: path.to_path_buf(),
            creation_rules,
            destination_rules,
            stores,
            preserve_format,
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
            Value::Map(m) => Ok(Some(m)),
            other => Err(self.type_error(at, other, go_target)),
        }
    }

    /// The tree with every mapping's merge key (`<<`) applied the way
    /// yaml.v3 applies it when decoding, and duplicate keys rejected.
    fn resolve(&self, value: &Value, at: &str, depth: usize) -> Result<Value, ConfigError> {
        if depth > 200 {
            return Err(self.unmarshal(at, "document nesting is too deep"));
        }
        Ok(match value {
            Value::Map(m) => Value::Map(self.resolve_map(m, at, depth)?),
            Value::List(items) => Value::List(
                list_items(items)
                    .enumerate()
                    .map(|(i, v)| self.resolve(v, &format!("{at}[{i}]"), depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            other => other.clone(),
        })
    }

    fn resolve_map(&self, map: &Map, at: &str, depth: usize) -> Result<Map, ConfigError> {
        self.check_keys(map, at)?;
        let mut out = Map::new();
        let mut merges: Vec<&Value> = Vec::new();
        for (key, value) in map.entries() {
            if key == "<<" {
                merges.push(value);
            } else {
                out.push(key, self.resolve(value, &join(at, key), depth + 1)?);
            }
        }
        for merge in merges {
            let sources: Vec<&Value> = match merge {
                Value::Map(_) => vec![merge],
                Value::List(items) => list_items(items).collect(),
                _ => Vec::new(),
            };
            if sources.is_empty() && !matches!(merge, Value::List(_)) {
                return Err(self.unmarshal(
                    at,
                    "map merge requires map or sequence of maps as the value",
                ));
            }
            // Explicit keys win, then earlier sources over later ones.
            for source in sources {
                let Value::Map(source) = source else {
                    return Err(self.unmarshal(
                        at,
                        "map merge requires map or sequence of maps as the value",
                    ));
                };
                for (key, value) in self.resolve_map(source, at, depth + 1)?.entries() {
                    if out.get(key).is_none() {
                        out.push(key, value.clone());
                    }
                }
            }
        }
        Ok(out)
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
                .map_err(|e| ConfigError::BadRegex {
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
        let mut bad_regex = None;
        for field in EncryptionRule::FIELDS {
            let value = self.string(map, field, at)?;
            if !value.is_empty() {
                if field.ends_with("_regex") && bad_regex.is_none() {
                    if let Err(e) = Regex::new(&value) {
                        bad_regex = Some(ConfigError::BadRegex {
                            path: self.path.to_path_buf(),
                            at: join(at, field),
                            message: regex_message(&e),
                        });
                    }
                }
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
            if let Some(e) = bad_regex {
                return Err(e);
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

    fn destination_rule(
        &self,
        value: &Value,
        index: usize,
    ) -> Result<DestinationRule, ConfigError> {
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

    /// The stores with `preserve_format: true` (enseal extension).
    fn preserve_format(&self, value: Option<&Value>) -> Result<Vec<String>, ConfigError> {
        let mut names = Vec::new();
        let Some(stores) = value
            .map(|v| self.object(v, "stores", "config.StoresConfig"))
            .transpose()?
            .flatten()
        else {
            return Ok(names);
        };
        for name in ["yaml", "json", "dotenv", "ini"] {
            if let Some(v) = stores.get(name) {
                let store = self.object(v, &join("stores", name), "config.StoreConfig")?;
                if self.bool(store, "preserve_format", &join("stores", name))? {
                    names.push(name.to_string());
                }
            }
        }
        Ok(names)
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
/// split as [`crate::keys::split_kms_role`] does.
fn kms_from_arn(entry: &str, aws_profile: &str) -> KmsSpec {
    let (arn, role) = crate::keys::split_kms_role(&entry.replace(' ', ""));
    KmsSpec {
        arn,
        role,
        context: None,
        aws_profile: aws_profile.to_string(),
    }
}

/// Parses `https://<vault>/keys/<name>[/<version>]` (trimmed).
pub(crate) fn azure_from_url(url: &str) -> Option<AzureKvSpec> {
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

/// The regex crate's error without its multi-line decoration (its caret
/// diagram): one line, `error parsing regexp: unclosed character class`.
pub fn regex_message(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(s) => {
            let last = s
                .lines()
                .rev()
                .find(|l| l.starts_with("error:"))
                .unwrap_or(s.as_str());
            format!(
                "error parsing regexp: {}",
                last.trim_start_matches("error:").trim()
            )
        }
        other => one_line(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::json::JsonStore;
    use crate::tree::Item;

    const R1: &str = "age1lzd99uklcjnc0e7d860axevet2cz99ce9pq6tzuzd05l5nr28ams36nvun";
    const R2: &str = "age1afnrdrkyvy0sl5e08t9ffs4c7g5e5npc8luf7hjc77syewg5gajsls4r90";
    const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000";
    const ROLE: &str = "arn:aws:iam::111122223333:role/sops";

    /// A config document written as JSON (same tree as the YAML would give).
    fn doc(json: &str) -> Map {
        let mut docs = JsonStore::new(&StoreOptions::default())
            .parse_plain(json.as_bytes())
            .expect("test JSON");
        docs.remove(0)
    }

    fn config(json: &str) -> Config {
        Config::from_document(Path::new("/proj/.sops.yaml"), &doc(json)).expect("config")
    }

    fn config_err(json: &str) -> ConfigError {
        Config::from_document(Path::new("/proj/.sops.yaml"), &doc(json)).expect_err("error")
    }

    /// The rule for `/proj/<rel>` (config in /proj).
    fn rule<'c>(c: &'c Config, rel: &str) -> Result<&'c CreationRule, ConfigError> {
        c.rule_for(&Path::new("/proj").join(rel), Path::new("/proj"))
            .map(|r| r.expect("has creation rules"))
    }

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    // --- discovery --------------------------------------------------------

    #[test]
    fn explicit_config_is_used_without_search() {
        let dir = tempfile::tempdir().unwrap();
        let explicit = Path::new("/nonexistent/custom.yaml");
        assert_eq!(
            find_config(Some(explicit), dir.path()),
            Some(explicit.to_path_buf())
        );
    }

    #[test]
    fn search_goes_up_and_first_hit_wins() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let deeper = root.join("sub/deeper");
        std::fs::create_dir_all(&deeper).unwrap();
        std::fs::write(root.join(".sops.yaml"), "").unwrap();
        assert_eq!(find_config(None, &deeper), Some(root.join(".sops.yaml")));
        std::fs::write(root.join("sub/.sops.yaml"), "").unwrap();
        assert_eq!(
            find_config(None, &deeper),
            Some(root.join("sub/.sops.yaml"))
        );
        assert_eq!(
            find_config(None, &root.join("sub")),
            Some(root.join("sub/.sops.yaml"))
        );
    }

    #[test]
    fn sops_yml_is_ignored_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let sub = root.join("sub");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(".sops.yml"), "").unwrap();
        let alone = lookup_config(&sub);
        // Nothing above the temp dir is expected to have a .sops.yaml.
        if alone.path.is_none() {
            assert_eq!(
                alone.warning.unwrap(),
                format!(
                    "ignoring {:?} when searching for config file; the config file must be called \".sops.yaml\"",
                    sub.join(".sops.yml").display().to_string()
                )
            );
        }
        std::fs::write(root.join(".sops.yaml"), "").unwrap();
        let found = lookup_config(&sub);
        assert_eq!(found.path, Some(root.join(".sops.yaml")));
        assert_eq!(
            found.warning.unwrap(),
            format!(
                "ignoring {:?} when searching for config file; the config file must be called \".sops.yaml\"; using {:?} instead",
                sub.join(".sops.yml").display().to_string(),
                root.join(".sops.yaml").display().to_string()
            )
        );
    }

    #[test]
    fn start_dir_with_dot_dot_is_cleaned_first() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b/c")).unwrap();
        std::fs::write(root.join("a/.sops.yaml"), "").unwrap();
        // Lexically `a/b/c/..` is `a/b`, whose parent holds the config.
        let start = root.join("a/b/c/..");
        assert_eq!(find_config(None, &start), Some(root.join("a/.sops.yaml")));
        let start = root.join("a/b/c/../.");
        assert_eq!(find_config(None, &start), Some(root.join("a/.sops.yaml")));
    }

    #[test]
    fn clean_path_is_lexical() {
        assert_eq!(clean_path(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(clean_path(Path::new("/../x")), PathBuf::from("/x"));
        assert_eq!(clean_path(Path::new("../x/..")), PathBuf::from(".."));
        assert_eq!(clean_path(Path::new("a/..")), PathBuf::from("."));
        assert_eq!(
            absolute_path(Path::new("../s.yaml"), Path::new("/p/q")),
            PathBuf::from("/p/s.yaml")
        );
    }

    // --- key fields ---------------------------------------------------------

    #[test]
    fn comma_string_with_spaces_and_empty_entries() {
        let c = config(&format!(
            r#"{{"creation_rules": [{{"age": " {R1} ,\n {R2}, ,", "pgp": "AB CD, EF01,"}}]}}"#
        ));
        let r = rule(&c, "x.yaml").unwrap();
        assert!(!r.uses_key_groups);
        assert_eq!(r.key_groups.len(), 1);
        assert_eq!(r.key_groups[0].age, strings(&[R1, R2]));
        assert_eq!(r.key_groups[0].pgp, strings(&["ABCD", "EF01"]));
    }

    #[test]
    fn list_items_may_hold_commas_and_empty_items_are_kept() {
        let c = config(&format!(
            r#"{{"creation_rules": [
                {{"path_regex": "a", "age": ["{R1}, {R2}", "{R1}"]}},
                {{"path_regex": "b", "age": ["{R1}", ""]}},
                {{"path_regex": "c", "age": [""]}},
                {{"path_regex": "d", "age": ""}}
            ]}}"#
        ));
        // No de-duplication outside key_groups (the reference keeps both).
        assert_eq!(
            rule(&c, "a").unwrap().key_groups[0].age,
            strings(&[R1, R2, R1])
        );
        // An empty item after a non-empty one reaches the recipient parser.
        assert_eq!(rule(&c, "b").unwrap().key_groups[0].age, strings(&[R1, ""]));
        assert!(rule(&c, "c").unwrap().key_groups[0].is_empty());
        assert!(rule(&c, "d").unwrap().key_groups[0].is_empty());
    }

    #[test]
    fn rule_without_keys_has_one_empty_group() {
        let c = config(r#"{"creation_rules": [{}]}"#);
        let r = rule(&c, "x").unwrap();
        assert_eq!(r.key_groups, vec![KeyGroupSpec::default()]);
        assert_eq!(r.shamir_threshold, 0);
        assert_eq!(r.rule, None);
        assert!(!r.mac_only_encrypted);
        let c = config(r#"{"creation_rules": [null]}"#);
        assert_eq!(
            rule(&c, "x").unwrap().key_groups,
            vec![KeyGroupSpec::default()]
        );
    }

    #[test]
    fn flat_kms_with_role_and_profile_and_other_types() {
        let c = config(&format!(
            r#"{{"creation_rules": [{{
                "kms": "{ARN}+{ROLE}, {ARN}",
                "aws_profile": "prod",
                "gcp_kms": ["projects/p/locations/l/keyRings/r/cryptoKeys/k", " projects/q "],
                "azure_keyvault": "https://v.vault.azure.net/keys/k/ver1, https://w.vault.azure.net/keys/n",
                "hc_vault_transit_uri": ["https://vault:8200/v1/transit/keys/k", ""],
                "hckms": ["eu-west-0:1234, ", " ap-1:5678"]
            }}]}}"#
        ));
        let g = &rule(&c, "x").unwrap().key_groups[0];
        assert_eq!(
            g.kms,
            vec![
                KmsSpec {
                    arn: ARN.into(),
                    role: ROLE.into(),
                    context: None,
                    aws_profile: "prod".into()
                },
                KmsSpec {
                    arn: ARN.into(),
                    role: String::new(),
                    context: None,
                    aws_profile: "prod".into()
                },
            ]
        );
        assert_eq!(
            g.gcp_kms,
            strings(&[
                "projects/p/locations/l/keyRings/r/cryptoKeys/k",
                "projects/q"
            ])
        );
        assert_eq!(
            g.azure_kv,
            vec![
                AzureKvSpec {
                    vault_url: "https://v.vault.azure.net".into(),
                    name: "k".into(),
                    version: "ver1".into()
                },
                AzureKvSpec {
                    vault_url: "https://w.vault.azure.net".into(),
                    name: "n".into(),
                    version: String::new()
                },
            ]
        );
        assert_eq!(
            g.hc_vault,
            strings(&["https://vault:8200/v1/transit/keys/k"])
        );
        assert_eq!(g.hckms, strings(&["eu-west-0:1234", "ap-1:5678"]));
        assert!(g.age.is_empty() && g.pgp.is_empty());
        assert_eq!(g.len(), 9);
    }

    #[test]
    fn bad_azure_url_fails_only_the_selected_rule() {
        let c = config(
            r#"{"creation_rules": [
                {"path_regex": "bad", "azure_keyvault": "http://v/keys/k"},
                {"age": "x"}
            ]}"#,
        );
        assert!(rule(&c, "ok").is_ok());
        let e = rule(&c, "bad").unwrap_err();
        assert_eq!(
            e.to_string(),
            "could not parse \"http://v/keys/k\" into a valid Azure Key Vault MasterKey [] (config file /proj/.sops.yaml, creation_rules[0].azure_keyvault)"
        );
    }

    #[test]
    fn key_field_of_wrong_type_fails_only_the_selected_rule() {
        let c = config(
            r#"{"creation_rules": [
                {"path_regex": "int", "age": 5},
                {"path_regex": "list", "pgp": ["A", 7]},
                {"path_regex": "map", "kms": {"a": "b"}},
                {"path_regex": "grouped", "age": 5, "key_groups": [{"pgp": ["A"]}]},
                {"age": "x"}
            ]}"#,
        );
        assert!(rule(&c, "other").is_ok());
        assert_eq!(
            rule(&c, "int").unwrap_err(),
            ConfigError::InvalidKey {
                path: "/proj/.sops.yaml".into(),
                at: "creation_rules[0].age".into(),
                message:
                    "invalid age key configuration: expected string, []string, or nil, got int"
                        .into(),
            }
        );
        assert_eq!(
            rule(&c, "list").unwrap_err().to_string(),
            "invalid pgp key configuration: expected string in list, got int (config file /proj/.sops.yaml, creation_rules[1].pgp)"
        );
        assert!(rule(&c, "map")
            .unwrap_err()
            .to_string()
            .starts_with("invalid kms key configuration: expected string, []string, or nil, got map[string]interface {}"));
        // With key_groups the per-type fields are not even looked at.
        assert_eq!(
            rule(&c, "grouped").unwrap().key_groups[0].pgp,
            strings(&["A"])
        );
    }

    // --- key groups -----------------------------------------------------------

    #[test]
    fn key_groups_with_shamir_threshold() {
        let c = config(&format!(
            r#"{{"creation_rules": [{{
                "path_regex": "^secrets/shared/",
                "shamir_threshold": 2,
                "age": "{R2}",
                "key_groups": [
                    {{"age": ["{R1}"]}},
                    {{"age": ["{R2}, {R1}", ""], "pgp": ["FBC7 B9E2"]}},
                    {{"kms": [{{"arn": "{ARN}", "role": "{ROLE}", "context": {{"Environment": "production", "n": 1}}, "aws_profile": "prod"}}, {{"arn": "{ARN}"}}]}},
                    {{"gcp_kms": [{{"resource_id": "projects/p"}}], "azure_keyvault": [{{"vaultUrl": "https://v", "key": "k", "version": ""}}],
                      "hc_vault": ["https://vault/v1/t/keys/k"], "hckms": [{{"key_id": "r:u"}}]}}
                ]
            }}]}}"#
        ));
        let r = rule(&c, "secrets/shared/a.yaml").unwrap();
        assert!(r.uses_key_groups);
        assert_eq!(r.shamir_threshold, 2);
        assert_eq!(r.key_groups.len(), 4);
        // The flat `age` is ignored when key_groups is non-empty.
        assert_eq!(r.key_groups[0].age, strings(&[R1]));
        assert_eq!(r.key_groups[0].len(), 1);
        assert_eq!(r.key_groups[1].age, strings(&[R2, R1]));
        assert_eq!(r.key_groups[1].pgp, strings(&["FBC7B9E2"]));
        assert_eq!(
            r.key_groups[2].kms,
            vec![
                KmsSpec {
                    arn: ARN.into(),
                    role: ROLE.into(),
                    context: Some(vec![
                        ("Environment".into(), "production".into()),
                        ("n".into(), "1".into())
                    ]),
                    aws_profile: "prod".into(),
                },
                KmsSpec {
                    arn: ARN.into(),
                    context: Some(vec![]),
                    ..KmsSpec::default()
                },
            ]
        );
        let g = &r.key_groups[3];
        assert_eq!(g.gcp_kms, strings(&["projects/p"]));
        assert_eq!(
            g.azure_kv,
            vec![AzureKvSpec {
                vault_url: "https://v".into(),
                name: "k".into(),
                version: String::new()
            }]
        );
        assert_eq!(g.hc_vault, strings(&["https://vault/v1/t/keys/k"]));
        assert_eq!(g.hckms, strings(&["r:u"]));
    }

    #[test]
    fn empty_key_groups_list_falls_back_to_flat_keys() {
        let c = config(&format!(
            r#"{{"creation_rules": [{{"age": "{R1}", "key_groups": []}}]}}"#
        ));
        let r = rule(&c, "x").unwrap();
        assert!(!r.uses_key_groups);
        assert_eq!(r.key_groups[0].age, strings(&[R1]));
        let c = config(&format!(
            r#"{{"creation_rules": [{{"age": "{R1}", "key_groups": [{{}}]}}]}}"#
        ));
        assert_eq!(
            rule(&c, "x").unwrap().key_groups,
            vec![KeyGroupSpec::default()]
        );
    }

    #[test]
    fn merge_comes_first_and_duplicates_are_removed() {
        let c = config(&format!(
            r#"{{"creation_rules": [{{"key_groups": [{{
                "age": ["{R2}", "{R1}"],
                "pgp": ["AA", "A A", "BB"],
                "merge": [
                    {{"age": ["{R1}"], "merge": [{{"pgp": ["BB"]}}]}},
                    {{"kms": [{{"arn": "{ARN}"}}], "age": ["{R1}"]}}
                ],
                "kms": [{{"arn": "{ARN}"}}, {{"arn": "{ARN}", "role": "{ROLE}"}}]
            }}]}}]}}"#
        ));
        let g = &rule(&c, "x").unwrap().key_groups[0];
        assert_eq!(g.age, strings(&[R1, R2]));
        assert_eq!(g.pgp, strings(&["BB", "AA"]));
        assert_eq!(g.kms.len(), 2);
        assert_eq!(g.kms[1].role, ROLE);
    }

    // --- matching --------------------------------------------------------------

    #[test]
    fn path_regex_is_unanchored_and_matched_relative_to_the_config_dir() {
        let c = config(
            r#"{"creation_rules": [
                {"path_regex": "^sub/", "pgp": "SUB"},
                {"path_regex": "\\.dev\\.yaml$", "pgp": "DEV"},
                {"path_regex": "prod", "pgp": "PROD"},
                {"path_regex": "", "pgp": "ALL"}
            ]}"#,
        );
        let fp = |r: Result<&CreationRule, ConfigError>| r.unwrap().key_groups[0].pgp[0].clone();
        assert_eq!(fp(rule(&c, "sub/deeper/c.yaml")), "SUB");
        assert_eq!(fp(rule(&c, "sub/x.dev.yaml")), "SUB"); // first match wins
        assert_eq!(fp(rule(&c, "a.dev.yaml")), "DEV");
        assert_eq!(fp(rule(&c, "a.dev.yaml.bak")), "ALL");
        assert_eq!(fp(rule(&c, "x/production/s.yaml")), "PROD");
        assert_eq!(fp(rule(&c, "other.yaml")), "ALL");
        // Outside the config dir the absolute path is matched: `^sub/` fails.
        let outside = c
            .rule_for(Path::new("/elsewhere/sub/a.yaml"), Path::new("/proj"))
            .unwrap()
            .unwrap();
        assert_eq!(outside.key_groups[0].pgp[0], "ALL");
        // A sibling directory sharing the prefix is not "below" the config dir.
        let sibling = c
            .rule_for(Path::new("/project/sub/a.yaml"), Path::new("/proj"))
            .unwrap()
            .unwrap();
        assert_eq!(sibling.index, 3);
        // Paths are cleaned before matching.
        let cleaned = c
            .rule_for(Path::new("/proj/x/../sub/./a.yaml"), Path::new("/proj/."))
            .unwrap()
            .unwrap();
        assert_eq!(cleaned.index, 0);
    }

    #[test]
    fn rule_for_file_resolves_relative_paths() {
        let c = Config::from_document(
            Path::new("../.sops.yaml"),
            &doc(r#"{"creation_rules": [{"path_regex": "^sub/deeper/c\\.yaml$", "pgp": "X"}]}"#),
        )
        .unwrap();
        let cwd = Path::new("/proj/sub");
        assert_eq!(c.config_dir(cwd), PathBuf::from("/proj"));
        assert_eq!(
            c.rule_for_file(Path::new("deeper/c.yaml"), cwd)
                .unwrap()
                .unwrap()
                .index,
            0
        );
        assert!(c.rule_for_file(Path::new("c.yaml"), cwd).is_err());
        let bare = Config::from_document(
            Path::new(".sops.yaml"),
            &doc(r#"{"creation_rules": [{"path_regex": "^a$"}]}"#),
        )
        .unwrap();
        assert_eq!(bare.config_dir(Path::new("/w")), PathBuf::from("/w"));
        assert!(bare.rule_for_file(Path::new("a"), Path::new("/w")).is_ok());
    }

    #[test]
    fn no_matching_rule_and_no_rules() {
        let c = config(r#"{"creation_rules": [{"path_regex": "^x$"}]}"#);
        let e = rule(&c, "y").unwrap_err();
        assert_eq!(
            e,
            ConfigError::NoMatchingRule {
                path: "/proj/.sops.yaml".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "error loading config: no matching creation rules found (config file /proj/.sops.yaml)"
        );
        let c = config(r#"{"creation_rules": []}"#);
        assert!(c.has_creation_rules());
        assert!(matches!(
            rule(&c, "y"),
            Err(ConfigError::NoMatchingRule { .. })
        ));
        for json in [
            r#"{}"#,
            r#"{"creation_rules": null}"#,
            r#"{"destination_rules": []}"#,
        ] {
            let c = config(json);
            assert!(!c.has_creation_rules());
            assert_eq!(
                c.rule_for(Path::new("/proj/a"), Path::new("/proj")),
                Ok(None)
            );
        }
    }

    /// Every config error is one line naming the file (and the field when
    /// there is one): bad YAML, duplicate keys (yaml.v3 lists them on
    /// several lines), wrong types, bad regular expressions of every
    /// field (the regex crate draws a multi-line caret diagram) and keys.
    #[test]
    fn every_config_error_is_one_line() {
        let age = format!("age: {R1}");
        let cases: Vec<(String, &str)> = vec![
            (
                format!("creation_rules:\n  - path_regex: \"([\"\n    {age}\n"),
                "creation_rules[0].path_regex",
            ),
            (
                format!("creation_rules:\n  - path_regex: \"a{{99999999}}\"\n    {age}\n"),
                "creation_rules[0].path_regex",
            ),
            (
                format!("creation_rules:\n  - path_regex: \"\\\\p{{Nope}}\"\n    {age}\n"),
                "creation_rules[0].path_regex",
            ),
            (
                format!("creation_rules:\n  - encrypted_regex: \"([\"\n    {age}\n"),
                "creation_rules[0].encrypted_regex",
            ),
            (
                format!("creation_rules:\n  - unencrypted_regex: \"(?P<\"\n    {age}\n"),
                "creation_rules[0].unencrypted_regex",
            ),
            (
                format!("creation_rules:\n  - encrypted_comment_regex: \"x{{2,1}}\"\n    {age}\n"),
                "creation_rules[0].encrypted_comment_regex",
            ),
            (
                format!("creation_rules:\n  - unencrypted_comment_regex: \")\"\n    {age}\n"),
                "creation_rules[0].unencrypted_comment_regex",
            ),
            (format!("creation_rules:\n  - {age}\n    {age}\n"), ""),
            (
                format!("creation_rules:\n  - {age}\n    mac_only_encrypted: maybe\n"),
                "creation_rules[0].mac_only_encrypted",
            ),
            (
                format!("creation_rules:\n  - {age}\n    shamir_threshold: -1\n"),
                "creation_rules[0].shamir_threshold",
            ),
            ("creation_rules:\n  - age: [\n".to_string(), ""),
            (
                "creation_rules:\n  - azure_keyvault: \"not a url\"\n".to_string(),
                "creation_rules[0].azure_keyvault",
            ),
            (
                "stores:\n  yaml:\n    indent: abc\n".to_string(),
                "stores.yaml.indent",
            ),
        ];
        let path = Path::new("/proj/.sops.yaml");
        for (text, at) in cases {
            let error = match parse(path, text.as_bytes()) {
                Err(e) => e,
                Ok(c) => rule(&c, "a.yaml").expect_err(&text).clone(),
            };
            let shown = error.to_string();
            assert!(!shown.contains('\n'), "{text:?}: several lines:\n{shown}");
            assert!(
                shown.contains("config file /proj/.sops.yaml"),
                "{text:?}: {shown}"
            );
            assert!(shown.contains(at), "{text:?}: {at} not named: {shown}");
            if at.ends_with("_regex") {
                assert!(shown.contains("; hint: "), "{text:?}: no hint: {shown}");
            }
        }
    }

    #[test]
    fn invalid_regex_fails_only_when_reached() {
        let c = config(
            r#"{"creation_rules": [{"path_regex": "^a"}, {"path_regex": "["}, {"path_regex": ""}]}"#,
        );
        assert_eq!(rule(&c, "a.yaml").unwrap().index, 0);
        let e = rule(&c, "b.yaml").unwrap_err();
        assert!(matches!(e, ConfigError::BadRegex { .. }));
        let text = e.to_string();
        assert_eq!(
            text,
            format!("can not compile regexp: error parsing regexp: unclosed character class (config file /proj/.sops.yaml, creation_rules[1].path_regex); hint: {REGEX_HINT}")
        );
    }

    // --- encryption rules --------------------------------------------------------

    #[test]
    fn encryption_rule_fields() {
        let c = config(
            r#"{"creation_rules": [
                {"path_regex": "^two", "encrypted_regex": "^data$", "unencrypted_suffix": "_u"},
                {"path_regex": "^empty", "encrypted_regex": "", "unencrypted_suffix": "", "encrypted_comment_regex": "sops"},
                {"path_regex": "^num", "unencrypted_suffix": 123, "mac_only_encrypted": true},
                {"path_regex": "^none"}
            ]}"#,
        );
        let e = rule(&c, "two").unwrap_err();
        assert_eq!(
            e.to_string(),
            "error loading config: cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex for the same rule (config file /proj/.sops.yaml, creation_rules[0])"
        );
        assert_eq!(
            rule(&c, "empty").unwrap().rule,
            Some(EncryptionRule::EncryptedCommentRegex("sops".into()))
        );
        let num = rule(&c, "num").unwrap();
        assert_eq!(
            num.rule,
            Some(EncryptionRule::UnencryptedSuffix("123".into()))
        );
        assert!(num.mac_only_encrypted);
        assert_eq!(rule(&c, "none").unwrap().rule, None);
    }

    // --- whole-file (unmarshal) errors ----------------------------------------------

    #[test]
    fn typed_fields_of_the_wrong_type_fail_the_whole_file() {
        let cases = [
            (
                r#"{"creation_rules": [{"path_regex": "^z", "hckms": "x"}]}"#,
                "creation_rules[0].hckms",
                "cannot unmarshal !!str into []string",
            ),
            (
                r#"{"creation_rules": [{"shamir_threshold": "2"}]}"#,
                "creation_rules[0].shamir_threshold",
                "cannot unmarshal !!str into int",
            ),
            (
                r#"{"creation_rules": [{"mac_only_encrypted": "true"}]}"#,
                "creation_rules[0].mac_only_encrypted",
                "cannot unmarshal !!str into bool",
            ),
            (
                r#"{"creation_rules": [{"key_groups": [{"age": "x"}]}]}"#,
                "creation_rules[0].key_groups[0].age",
                "cannot unmarshal !!str into []string",
            ),
            (
                r#"{"creation_rules": [{"key_groups": [{"kms": ["arn"]}]}]}"#,
                "creation_rules[0].key_groups[0].kms[0]",
                "cannot unmarshal !!str into config.kmsKey",
            ),
            (
                r#"{"creation_rules": [{"path_regex": ["a"]}]}"#,
                "creation_rules[0].path_regex",
                "cannot unmarshal !!seq into string",
            ),
            (
                r#"{"creation_rules": {"a": 1}}"#,
                "creation_rules",
                "cannot unmarshal !!map into []config.creationRule",
            ),
            (
                r#"{"creation_rules": ["x"]}"#,
                "creation_rules[0]",
                "cannot unmarshal !!str into config.creationRule",
            ),
            (
                r#"{"stores": {"dotenv": 5}}"#,
                "stores.dotenv",
                "cannot unmarshal !!int into config.DotenvStoreConfig",
            ),
            (
                r#"{"stores": {"yaml": {"indent": "2"}}}"#,
                "stores.yaml.indent",
                "cannot unmarshal !!str into int",
            ),
            (
                r#"{"creation_rules": [{"shamir_threshold": -1}]}"#,
                "creation_rules[0].shamir_threshold",
                "shamir_threshold must not be negative, got -1",
            ),
        ];
        for (json, at, message) in cases {
            let e = config_err(json);
            assert_eq!(
                e,
                ConfigError::Unmarshal {
                    path: "/proj/.sops.yaml".into(),
                    at: at.into(),
                    message: message.into()
                },
                "{json}"
            );
        }
        assert_eq!(
            config_err(r#"{"stores": {"json": {"indent": true}}}"#).to_string(),
            "error loading config: Could not unmarshal config file: cannot unmarshal !!bool into int (config file /proj/.sops.yaml, stores.json.indent)"
        );
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        let mut m = Map::new();
        m.push("creation_rules", Value::Null);
        m.push("creation_rules", Value::Null);
        let e = Config::from_document(Path::new("c.yaml"), &m).unwrap_err();
        assert_eq!(
            e.to_string(),
            "error loading config: Could not unmarshal config file: mapping key \"creation_rules\" already defined (config file c.yaml)"
        );
    }

    #[test]
    fn comments_in_the_tree_are_ignored() {
        let mut rule_map = Map::new();
        rule_map
            .0
            .push(Item::Comment(crate::tree::Comment::new(" note")));
        rule_map.push(
            "age",
            Value::List(vec![
                Value::Comment(crate::tree::Comment::new(" first")),
                Value::Str(R1.into()),
            ]),
        );
        let mut m = Map::new();
        m.push("creation_rules", Value::List(vec![Value::Map(rule_map)]));
        let c = Config::from_document(Path::new("/proj/.sops.yaml"), &m).unwrap();
        assert_eq!(rule(&c, "x").unwrap().key_groups[0].age, strings(&[R1]));
    }

    // --- stores ----------------------------------------------------------------

    #[test]
    fn store_options() {
        let c = config(
            r#"{"stores": {"yaml": {"indent": 2}, "json": {"indent": 0}, "json_binary": {"indent": 3}, "dotenv": {}, "ini": null}}"#,
        );
        assert_eq!(
            c.store_options(),
            StoreOptions {
                yaml_indent: Some(2),
                json_indent: Some(0),
                json_binary_indent: Some(3)
            }
        );
        assert_eq!(config(r#"{}"#).store_options(), StoreOptions::default());
        assert_eq!(
            config(r#"{"stores": {"json": {}}}"#).store_options(),
            StoreOptions::default()
        );
        assert_eq!(
            config(r#"{"stores": null}"#).store_options(),
            StoreOptions::default()
        );
    }

    #[test]
    fn indent_flag_overrides_all_three() {
        let c = config(r#"{"stores": {"yaml": {"indent": 2}, "json": {"indent": 3}}}"#);
        assert_eq!(apply_indent(c.store_options(), None), c.store_options());
        assert_eq!(
            apply_indent(c.store_options(), Some(6)),
            StoreOptions {
                yaml_indent: Some(6),
                json_indent: Some(6),
                json_binary_indent: Some(6)
            }
        );
    }

    #[test]
    fn working_dir_is_a_directory() {
        let wd = working_dir().unwrap();
        assert!(wd.is_absolute());
        assert!(same_dir(&wd, &std::env::current_dir().unwrap()));
    }

    // --- destination rules -------------------------------------------------------

    #[test]
    fn destination_rules() {
        let c = config(&format!(
            r#"{{"destination_rules": [
                {{"path_regex": "[", "s3_bucket": "never"}},
                {{"path_regex": "^both/", "s3_bucket": "b", "vault_path": "p"}},
                {{"path_regex": "^s3/", "s3_bucket": "bucket", "s3_prefix": "pre/", "omit_extensions": true,
                  "recreation_rule": {{"age": "{R1}", "encrypted_regex": "^data$"}}}},
                {{"path_regex": "", "vault_path": "kv", "vault_kv_version": 1, "vault_address": "https://v"}}
            ]}}"#
        ));
        let s3 = c.destination_for("s3/a.yaml").unwrap();
        assert_eq!(
            (s3.index, s3.s3_bucket.as_str(), s3.s3_prefix.as_str()),
            (2, "bucket", "pre/")
        );
        assert!(s3.omit_extensions);
        let re = s3.recreation_rule().unwrap();
        assert_eq!(re.key_groups[0].age, strings(&[R1]));
        assert_eq!(
            re.rule,
            Some(EncryptionRule::EncryptedRegex("^data$".into()))
        );
        let vault = c.destination_for("other").unwrap();
        assert_eq!((vault.index, vault.vault_kv_version), (3, 1));
        assert_eq!(
            c.destination_for("both/x").unwrap_err().to_string(),
            "error loading config: more than one destinations were found in a single destination rule, you can only use one per rule (config file /proj/.sops.yaml, destination_rules[1])"
        );
        let none = config(r#"{"destination_rules": [{"path_regex": "^x"}]}"#);
        assert_eq!(
            none.destination_for("y").unwrap_err().to_string(),
            "error loading config: no matching destination found in config (config file /proj/.sops.yaml)"
        );
    }

    // --- loading -------------------------------------------------------------------

    #[test]
    fn load_reports_unreadable_files() {
        let e = load(Path::new("/nonexistent/.sops.yaml")).unwrap_err();
        assert!(matches!(e, ConfigError::Read { .. }));
        assert!(e.to_string().starts_with("could not read config file: "));
        assert!(e
            .to_string()
            .ends_with("(config file /nonexistent/.sops.yaml)"));
    }

    // --- YAML input ------------------------------------------------------------------

    fn yaml(text: &str) -> Result<Config, ConfigError> {
        parse(Path::new("/proj/.sops.yaml"), text.as_bytes())
    }

    #[test]
    fn spec_example_from_yaml() {
        let text = format!(
            r#"creation_rules:
  # first match wins
  - path_regex: \.dev\.yaml$
    age: >-
      {R1},
      {R2}
    encrypted_regex: ^(data|stringData)$
  - path_regex: ^secrets/shared/
    shamir_threshold: 2
    key_groups:
      - age: [{R1}]
      - age: [{R2}]
        pgp: [FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4]
      - kms:
          - arn: {ARN}
            role: {ROLE}
            context: {{Environment: production}}
            aws_profile: prod
  - pgp: FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4   # catch-all
stores:
  yaml: {{indent: 2}}
  json: {{indent: 4}}
"#
        );
        let c = yaml(&text).unwrap();
        let dev = rule(&c, "app/x.dev.yaml").unwrap();
        assert_eq!(dev.key_groups[0].age, strings(&[R1, R2]));
        assert_eq!(
            dev.rule,
            Some(EncryptionRule::EncryptedRegex("^(data|stringData)$".into()))
        );
        let shared = rule(&c, "secrets/shared/db.yaml").unwrap();
        assert_eq!((shared.index, shared.shamir_threshold), (1, 2));
        assert_eq!(shared.key_groups.len(), 3);
        assert_eq!(
            shared.key_groups[2].kms[0].context,
            Some(vec![("Environment".into(), "production".into())])
        );
        let other = rule(&c, "secrets/other.yaml").unwrap();
        assert_eq!(
            other.key_groups[0].pgp,
            strings(&["FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"])
        );
        assert_eq!(
            c.store_options(),
            StoreOptions {
                yaml_indent: Some(2),
                json_indent: Some(4),
                json_binary_indent: None
            }
        );
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let text = format!(
            r#"x-base: &base
  age: {R1}
  encrypted_regex: ^data$
x-group: &group
  pgp: [AA]
creation_rules:
  - <<: *base
    path_regex: ^one/
    encrypted_regex: ^spec$
  - path_regex: ^two/
    key_groups:
      - merge: [*group]
        age: [{R2}]
      - *group
  - <<: [*base, {{age: {R2}, mac_only_encrypted: true}}]
"#
        );
        let c = yaml(&text).unwrap();
        let one = rule(&c, "one/a").unwrap();
        assert_eq!(one.key_groups[0].age, strings(&[R1]));
        // Explicit keys win over merged ones.
        assert_eq!(
            one.rule,
            Some(EncryptionRule::EncryptedRegex("^spec$".into()))
        );
        let two = rule(&c, "two/a").unwrap();
        assert_eq!(two.key_groups[0].pgp, strings(&["AA"]));
        assert_eq!(two.key_groups[0].age, strings(&[R2]));
        assert_eq!(two.key_groups[1].pgp, strings(&["AA"]));
        // Earlier merge sources win over later ones.
        let three = rule(&c, "three").unwrap();
        assert_eq!(three.key_groups[0].age, strings(&[R1]));
        assert!(three.mac_only_encrypted);
        // The store itself rejects a bad merge value in YAML input …
        let bad = yaml("creation_rules:\n  - <<: 5\n").unwrap_err();
        assert!(bad
            .to_string()
            .contains("map merge requires map or sequence of maps as the value"));
        // … and so does the decoder for trees from elsewhere.
        let mut rule_map = Map::new();
        rule_map.push("<<", Value::Int(5));
        let mut m = Map::new();
        m.push("creation_rules", Value::List(vec![Value::Map(rule_map)]));
        assert_eq!(
            Config::from_document(Path::new("/proj/.sops.yaml"), &m)
                .unwrap_err()
                .to_string(),
            "error loading config: Could not unmarshal config file: map merge requires map or sequence of maps as the value (config file /proj/.sops.yaml, creation_rules[0])"
        );
    }

    #[test]
    fn empty_and_odd_yaml_files() {
        for text in ["", "\n", "# nothing here\n", "---\n"] {
            let c = yaml(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert!(!c.has_creation_rules(), "{text:?}");
            assert_eq!(c.store_options(), StoreOptions::default());
        }
        // Only the first document counts.
        let c = yaml("creation_rules: []\n---\nstores: {yaml: {indent: 2}}\n").unwrap();
        assert!(c.has_creation_rules());
        assert_eq!(c.store_options(), StoreOptions::default());
        // Unknown keys are ignored.
        let c = yaml("hc_vault_uris: x\ncreation_rules:\n  - foo: bar\n").unwrap();
        assert!(rule(&c, "a").is_ok());
        for text in ["[1, 2]\n", "creation_rules: [\n", "a: b: c\n"] {
            let e = yaml(text).unwrap_err();
            assert!(
                matches!(e, ConfigError::Unmarshal { .. }),
                "{text:?}: {e:?}"
            );
            assert!(
                e.to_string()
                    .starts_with("error loading config: Could not unmarshal config file: "),
                "{e}"
            );
        }
    }

    #[test]
    fn load_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".sops.yaml");
        std::fs::write(
            &path,
            format!("creation_rules:\n  - path_regex: ^sub/\n    age: {R1}\n"),
        )
        .unwrap();
        let c = load(&path).unwrap();
        assert_eq!(c.path, path);
        let sub = dir.path().join("sub");
        let found = c
            .rule_for_file(Path::new("deeper/c.yaml"), &sub)
            .unwrap()
            .unwrap();
        assert_eq!(found.key_groups[0].age, strings(&[R1]));
        assert!(matches!(
            c.rule_for_file(Path::new("c.yaml"), dir.path()),
            Err(ConfigError::NoMatchingRule { .. })
        ));
    }
}

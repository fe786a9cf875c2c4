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

mod decode;
mod discover;
mod schema;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf, MAIN_SEPARATOR};

use regex::Regex;

use crate::crypto::EncryptionRule;
use crate::format::yaml::YamlStore;
use crate::format::{FormatError, Store, StoreOptions};
use crate::tree::{Map, Value};

pub use crate::keys::spec::{AzureKvSpec, KeyGroupSpec, KmsSpec};
pub use discover::{
    absolute_path, clean_path, find_config, lookup_config, working_dir, ConfigLookup,
};
pub use schema::UnknownKey;
/// The only file name the search accepts.
pub const CONFIG_FILE_NAME: &str = ".sops.yaml";

/// A name that is noticed (and warned about) but never used.
pub const ALTERNATE_CONFIG_NAME: &str = ".sops.yml";

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

/// Store options with the global `--indent` flag applied: when given, it
/// replaces all three indents (docs/spec/cli.md §4.4).
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
    /// `secretsmanager_prefix` (enseal extension): present, even empty or
    /// null, selects the AWS Secrets Manager destination.
    pub secretsmanager_prefix: Option<String>,
    /// `aws_region` (enseal extension, for Secrets Manager; empty: the AWS
    /// environment's region).
    pub aws_region: String,
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
    /// Keys sops ignores (misspellings, mostly): commands warn about them,
    /// `enseal check` fails on them.
    pub unknown_keys: Vec<UnknownKey>,
    /// `rotation:` (an enseal extension sops ignores), undecoded: `enseal
    /// check` parses it (`check::rotation::Policy`).
    pub rotation: Option<crate::tree::Value>,
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
            .count()
            + usize::from(rule.secretsmanager_prefix.is_some());
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

//! `publish`: where a decrypted (or re-encrypted) file goes according to the
//! `destination_rules` of `.sops.yaml`, and the destination name of a file.
//! No terminal I/O: the command (`cli::publish`) asks and prints.
//!
//! Implemented: Vault / OpenBao KV (v1 and v2), S3 ([`s3`]), AWS Secrets
//! Manager ([`secretsmanager`], an enseal extension) and Google Cloud
//! Storage ([`gcs`], cargo feature `gcp`).

pub mod aws;
#[cfg(feature = "gcp")]
pub mod gcs;
pub mod s3;
pub mod secretsmanager;
pub mod vault;

use std::path::{Path, PathBuf};

use crate::config::DestinationRule;
use crate::tree::{Item, Map, Value};

/// Where a destination rule publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A Vault KV secret.
    Vault(vault::VaultDestination),
    /// An S3 bucket: `s3_bucket`, `s3_prefix`.
    S3(s3::S3Destination),
    /// An AWS Secrets Manager secret: `secretsmanager_prefix`, `aws_region`.
    SecretsManager(secretsmanager::SecretsManagerDestination),
    /// A Google Cloud Storage bucket ([`gcs`]; not supported without the
    /// cargo feature `gcp`).
    Gcs {
        /// `gcs_bucket`.
        bucket: String,
        /// `gcs_prefix`.
        prefix: String,
    },
}

impl Destination {
    /// The destination of `rule`, `None` when it names none. A rule with two
    /// destinations is refused earlier, by `Config::destination_for`.
    pub fn of_rule(rule: &DestinationRule) -> Option<Destination> {
        if !rule.s3_bucket.is_empty() {
            return Some(Destination::S3(s3::S3Destination::new(
                &rule.s3_bucket,
                &rule.s3_prefix,
            )));
        }
        if let Some(prefix) = &rule.secretsmanager_prefix {
            return Some(Destination::SecretsManager(
                secretsmanager::SecretsManagerDestination::new(prefix, &rule.aws_region),
            ));
        }
        if !rule.gcs_bucket.is_empty() {
            return Some(Destination::Gcs {
                bucket: rule.gcs_bucket.clone(),
                prefix: rule.gcs_prefix.clone(),
            });
        }
        if !rule.vault_path.is_empty() {
            return Some(Destination::Vault(vault::VaultDestination::new(
                &rule.vault_address,
                &rule.vault_path,
                &rule.vault_kv_mount_name,
                rule.vault_kv_version,
            )));
        }
        None
    }

    /// The name of a destination this build cannot publish to (`GCS`
    /// without the cargo feature `gcp`), `None` for a supported one.
    pub fn unsupported(&self) -> Option<&'static str> {
        match self {
            Destination::Vault(_) | Destination::S3(_) | Destination::SecretsManager(_) => None,
            Destination::Gcs { .. } if cfg!(feature = "gcp") => None,
            Destination::Gcs { .. } => Some("GCS"),
        }
    }

    /// Where `name` would be published, for the confirmation question.
    pub fn path(&self, name: &str) -> String {
        match self {
            Destination::Vault(v) => v.display_url(name),
            Destination::S3(d) => d.path(name),
            Destination::SecretsManager(d) => d.path(name),
            Destination::Gcs { bucket, prefix } => format!("gcs://{bucket}/{prefix}{name}"),
        }
    }
}

/// The name a file is published under: its path relative to `root` when
/// walking a directory (`--recursive`), else its base name; without its
/// extension (Go's `filepath.Ext` of the path: from the last `.` of the last
/// element) when `omit_extension`.
pub fn destination_name(file: &Path, root: Option<&Path>, omit_extension: bool) -> String {
    let root = root.map(crate::config::clean_path);
    let name = match root.and_then(|r| file.strip_prefix(r).ok().map(Path::to_path_buf)) {
        Some(relative) if !relative.as_os_str().is_empty() => relative,
        _ => PathBuf::from(file.file_name().unwrap_or(file.as_os_str())),
    };
    let name = name.to_string_lossy().into_owned();
    if !omit_extension {
        return name;
    }
    let file_text = file.to_string_lossy();
    let last = file_text.rsplit('/').next().unwrap_or(&file_text);
    match last.rfind('.') {
        Some(dot) => name
            .strip_suffix(&last[dot..])
            .map(str::to_string)
            .unwrap_or(name),
        None => name,
    }
}

/// The files `root` holds, as sops' `filepath.Walk` visits them: `root`
/// itself when it is not a directory, else every non-directory entry below
/// it in lexical order, each path cleaned as Go's `filepath.Join` does
/// (`./tree/` gives `tree/a.yaml`); symbolic links are not followed.
pub fn walk(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    if std::fs::metadata(root)?.is_dir() {
        walk_into(&crate::config::clean_path(root), &mut files)?;
    } else {
        files.push(root.to_path_buf());
    }
    Ok(files)
}

fn walk_into(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = dir.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            walk_into(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

/// The decrypted documents as one JSON object, as sops' `EmitAsMap` makes
/// it: the top-level keys of every document (a later document's key wins),
/// mappings nested as objects, comments left out, timestamps as RFC 3339
/// text. A float that JSON cannot hold (NaN, infinity) is an error naming
/// its key.
pub fn to_json(documents: &[Map]) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let mut out = serde_json::Map::new();
    for document in documents {
        for item in &document.0 {
            if let Item::Entry(key, value) = item {
                out.insert(key.clone(), value_to_json(value, key)?);
            }
        }
    }
    Ok(out)
}

fn value_to_json(value: &Value, at: &str) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    Ok(match value {
        Value::Map(m) => J::Object(to_json(std::slice::from_ref(m)).map_err(|e| {
            if e.starts_with("the value at ") {
                e
            } else {
                format!("the value at {at}: {e}")
            }
        })?),
        Value::List(items) => J::Array(
            items
                .iter()
                .filter(|v| !matches!(v, Value::Comment(_)))
                .map(|v| value_to_json(v, at))
                .collect::<Result<_, _>>()?,
        ),
        Value::Str(s) => J::String(s.clone()),
        Value::Bytes(b) => J::String(String::from_utf8_lossy(b).into_owned()),
        Value::Int(i) => J::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(J::Number)
            .ok_or_else(|| format!("the value at {at} is {f}, which JSON cannot hold"))?,
        Value::Bool(b) => J::Bool(*b),
        Value::Time(t) => J::String(t.to_rfc3339_nano()),
        Value::Null | Value::Comment(_) => J::Null,
    })
}

/// Overwrites the text of every string in `value` (the plaintext of a
/// published secret) before it is dropped.
pub fn wipe(value: &mut serde_json::Value) {
    use zeroize::Zeroize;
    match value {
        serde_json::Value::String(s) => s.zeroize(),
        serde_json::Value::Array(items) => items.iter_mut().for_each(wipe),
        serde_json::Value::Object(map) => map.values_mut().for_each(wipe),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_base_names_or_relative_paths_without_extension_on_request() {
        let file = Path::new("secrets/app/db.enc.json");
        assert_eq!(destination_name(file, None, false), "db.enc.json");
        assert_eq!(destination_name(file, None, true), "db.enc");
        assert_eq!(
            destination_name(file, Some(Path::new("secrets")), true),
            "app/db.enc"
        );
        assert_eq!(
            destination_name(file, Some(Path::new("./secrets/")), false),
            "app/db.enc.json"
        );
        assert_eq!(
            destination_name(Path::new("dir.d/plain"), None, true),
            "plain"
        );
        assert_eq!(destination_name(Path::new(".env"), None, true), "");
    }

    #[test]
    fn documents_become_one_object_with_nested_maps_and_no_comments() {
        let mut inner = Map::new();
        inner.push("port", Value::Int(5432));
        inner.0.push(Item::Comment(crate::tree::Comment::new("c")));
        let mut first = Map::new();
        first.push("db", Value::Map(inner));
        let mut in_list = Map::new();
        in_list.push("x", Value::Int(1));
        first.push(
            "list",
            Value::List(vec![Value::Bool(true), Value::Null, Value::Map(in_list)]),
        );
        first.push("k", Value::Str("one".into()));
        let mut second = Map::new();
        second.push("k", Value::Str("two".into()));
        let json = serde_json::Value::Object(to_json(&[first, second]).unwrap());
        assert_eq!(
            json,
            serde_json::json!({"db": {"port": 5432}, "list": [true, null, {"x": 1}], "k": "two"})
        );
        let mut nan = Map::new();
        nan.push("x", Value::Float(f64::NAN));
        assert!(to_json(&[nan]).unwrap_err().contains("the value at x"));
    }

    #[test]
    fn rules_name_their_destination() {
        let config = crate::config::parse(
            Path::new(".sops.yaml"),
            b"destination_rules:\n- s3_bucket: b\n  s3_prefix: p/\n- vault_path: x\n- secretsmanager_prefix: ''\n- gcs_bucket: g\n",
        )
        .unwrap();
        let s3 = Destination::of_rule(&config.destination_rules[0]).unwrap();
        assert_eq!(s3.unsupported(), None);
        assert_eq!(s3.path("f.json"), "s3://b/p/f.json");
        let vault = Destination::of_rule(&config.destination_rules[1]).unwrap();
        assert_eq!(vault.unsupported(), None);
        let sm = Destination::of_rule(&config.destination_rules[2]).unwrap();
        assert_eq!(sm.unsupported(), None);
        assert_eq!(sm.path("f"), "AWS Secrets Manager secret f");
        let gcs = Destination::of_rule(&config.destination_rules[3]).unwrap();
        assert_eq!(gcs.path("f"), "gcs://g/f");
    }

    #[test]
    fn gcs_rules_name_their_bucket_and_prefix() {
        let config = crate::config::parse(
            Path::new(".sops.yaml"),
            b"destination_rules:\n- gcs_bucket: b\n  gcs_prefix: p/\n",
        )
        .unwrap();
        let gcs = Destination::of_rule(&config.destination_rules[0]).unwrap();
        assert_eq!(
            gcs.unsupported(),
            if cfg!(feature = "gcp") {
                None
            } else {
                Some("GCS")
            }
        );
        assert_eq!(gcs.path("f.json"), "gcs://b/p/f.json");
    }
}

//! Decoding a parsed `.sops.yaml` into [`Config`](super::Config): the
//! YAML types the reference's struct tags accept, its unmarshal messages,
//! and the two-stage errors (see the module documentation of `config`).

use std::path::Path;

use super::*;
use crate::keys::spec::{azure_from_url, kms_from_arn};

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
            unknown_keys: super::schema::unknown_keys(map),
            rotation: map.get("rotation").cloned(),
        })
    }
}

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

    /// A Go slice field: absent or null, it is empty (the zero value);
    /// else `decode` gets its value and its path.
    fn slice<'v, T>(
        map: Option<&'v Map>,
        field: &str,
        at: &str,
        decode: impl FnOnce(&'v Value, &str) -> Result<Vec<T>, ConfigError>,
    ) -> Result<Vec<T>, ConfigError> {
        let at = join(at, field);
        match map.and_then(|m| m.get(field)) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(value) => decode(value, &at),
        }
    }

    /// A Go `[]string` field.
    fn string_list(
        &self,
        map: Option<&Map>,
        field: &str,
        at: &str,
    ) -> Result<Vec<String>, ConfigError> {
        Self::slice(map, field, at, |value, at| match value {
            Value::List(items) => list_items(items)
                .map(|v| scalar_text(v).ok_or_else(|| self.type_error(at, v, "string")))
                .collect(),
            v => Err(self.type_error(at, v, "[]string")),
        })
    }

    /// A Go `[]struct` field: the mappings of the list (null items are empty).
    fn object_list<'v>(
        &self,
        map: Option<&'v Map>,
        field: &str,
        at: &str,
        go_target: &str,
    ) -> Result<Vec<(String, Option<&'v Map>)>, ConfigError> {
        Self::slice(map, field, at, |value, at| match value {
            Value::List(items) => list_items(items)
                .enumerate()
                .map(|(i, v)| {
                    let at = format!("{at}[{i}]");
                    let m = self.object(v, &at, go_target)?;
                    Ok((at, m))
                })
                .collect(),
            v => Err(self.type_error(at, v, &format!("[]{go_target}"))),
        })
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
        Self::slice(map, field, at, |value, at| match value {
            Value::Str(s) => Ok(s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()),
            Value::List(items) => list_items(items)
                .map(|v| match v {
                    Value::Str(s) => Ok(s.clone()),
                    other => Err(self.invalid_key(
                        at,
                        format!(
                            "invalid {field} key configuration: expected string in list, got {}",
                            go_type(other)
                        ),
                    )),
                })
                .collect(),
            other => Err(self.invalid_key(
                at,
                format!(
                    "invalid {field} key configuration: expected string, []string, or nil, got {}",
                    go_type(other)
                ),
            )),
        })
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
            secretsmanager_prefix: match map.and_then(|m| m.get("secretsmanager_prefix")) {
                Some(_) => Some(self.string(map, "secretsmanager_prefix", &at)?),
                None => None,
            },
            aws_region: self.string(map, "aws_region", &at)?,
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

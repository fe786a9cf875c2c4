//! The fields `.sops.yaml` may hold, for finding the ones it should not.
//!
//! sops decodes the file with yaml.v3 into Go structs, which ignores any key
//! it does not know: a misspelled `creation_rule:` or `path_regx:` is
//! silently dropped, and the rule then matches every file. enseal decodes
//! the same way (so files behave as in sops) but also lists such keys, so
//! that commands can warn and `enseal check` can fail on them.
//!
//! At the top level only keys that look like a misspelling of a known one
//! are reported: a top-level key such as `keys:` is the usual place to
//! define YAML anchors (`- &alice age1…`) that rules refer to, which sops
//! users rely on. Below it (rules, key groups, key entries, stores) every
//! unknown key is reported.

use crate::tree::{Map, Value};

/// A key of `.sops.yaml` that sops ignores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKey {
    /// Where it is, e.g. `creation_rules[0].path_regx` or `creation_rule`.
    pub at: String,
    /// The known key it most likely means, if one is close.
    pub suggestion: Option<&'static str>,
}

impl UnknownKey {
    /// `unknown key creation_rules[0].path_regx (sops ignores it); did you
    /// mean path_regex?`
    pub fn message(&self) -> String {
        match self.suggestion {
            Some(s) => format!(
                "unknown key {} (sops ignores it); did you mean {s}?",
                self.at
            ),
            None => format!("unknown key {} (sops ignores it)", self.at),
        }
    }
}

/// One kind of mapping and its fields: a field's sub-schema says what its
/// value holds (a mapping, or a list of mappings), if anything to check.
struct Object {
    fields: &'static [(&'static str, Shape)],
}

#[derive(Clone, Copy)]
enum Shape {
    /// A scalar or a list of scalars: nothing below to check.
    Leaf,
    /// A mapping of this kind.
    Map(&'static Object),
    /// A list of mappings of this kind.
    List(&'static Object),
}

static TOP: Object = Object {
    fields: &[
        ("creation_rules", Shape::List(&CREATION_RULE)),
        ("destination_rules", Shape::List(&DESTINATION_RULE)),
        ("stores", Shape::Map(&STORES)),
        // enseal's extension (sops ignores it): checked by `enseal check`
        // when it parses the policy (src/check/rotation.rs).
        ("rotation", Shape::Leaf),
    ],
};

static CREATION_RULE: Object = Object {
    fields: &[
        ("path_regex", Shape::Leaf),
        ("kms", Shape::Leaf),
        ("aws_profile", Shape::Leaf),
        ("age", Shape::Leaf),
        ("pgp", Shape::Leaf),
        ("gcp_kms", Shape::Leaf),
        ("hckms", Shape::Leaf),
        ("azure_keyvault", Shape::Leaf),
        ("hc_vault_transit_uri", Shape::Leaf),
        ("key_groups", Shape::List(&KEY_GROUP)),
        ("shamir_threshold", Shape::Leaf),
        ("unencrypted_suffix", Shape::Leaf),
        ("encrypted_suffix", Shape::Leaf),
        ("unencrypted_regex", Shape::Leaf),
        ("encrypted_regex", Shape::Leaf),
        ("unencrypted_comment_regex", Shape::Leaf),
        ("encrypted_comment_regex", Shape::Leaf),
        ("mac_only_encrypted", Shape::Leaf),
    ],
};

static KEY_GROUP: Object = Object {
    fields: &[
        ("merge", Shape::List(&KEY_GROUP)),
        ("kms", Shape::List(&KMS_KEY)),
        ("gcp_kms", Shape::List(&GCP_KMS_KEY)),
        ("hckms", Shape::List(&HCKMS_KEY)),
        ("azure_keyvault", Shape::List(&AZURE_KEY)),
        ("hc_vault", Shape::Leaf),
        ("age", Shape::Leaf),
        ("pgp", Shape::Leaf),
    ],
};

static KMS_KEY: Object = Object {
    fields: &[
        ("arn", Shape::Leaf),
        ("role", Shape::Leaf),
        ("context", Shape::Leaf),
        ("aws_profile", Shape::Leaf),
    ],
};

static GCP_KMS_KEY: Object = Object {
    fields: &[("resource_id", Shape::Leaf)],
};

static HCKMS_KEY: Object = Object {
    fields: &[("key_id", Shape::Leaf)],
};

static AZURE_KEY: Object = Object {
    fields: &[
        ("vaultUrl", Shape::Leaf),
        ("key", Shape::Leaf),
        ("version", Shape::Leaf),
    ],
};

static DESTINATION_RULE: Object = Object {
    fields: &[
        ("path_regex", Shape::Leaf),
        ("s3_bucket", Shape::Leaf),
        ("s3_prefix", Shape::Leaf),
        ("gcs_bucket", Shape::Leaf),
        ("gcs_prefix", Shape::Leaf),
        ("vault_path", Shape::Leaf),
        ("secretsmanager_prefix", Shape::Leaf),
        ("aws_region", Shape::Leaf),
        ("vault_address", Shape::Leaf),
        ("vault_kv_mount_name", Shape::Leaf),
        ("vault_kv_version", Shape::Leaf),
        ("recreation_rule", Shape::Map(&CREATION_RULE)),
        ("omit_extensions", Shape::Leaf),
    ],
};

static STORES: Object = Object {
    fields: &[
        ("yaml", Shape::Map(&STORE)),
        ("json", Shape::Map(&STORE)),
        ("json_binary", Shape::Map(&STORE)),
        ("dotenv", Shape::Map(&STORE)),
        ("ini", Shape::Map(&STORE)),
    ],
};

/// `indent` is sops' (yaml, json, json_binary); `preserve_format` is
/// enseal's extension (yaml, json, dotenv, ini). Both are accepted on every
/// store: the decoder reads them where they apply.
static STORE: Object = Object {
    fields: &[("indent", Shape::Leaf), ("preserve_format", Shape::Leaf)],
};

/// The keys of a decoded (merge keys applied) `.sops.yaml` that sops ignores.
pub fn unknown_keys(top: &Map) -> Vec<UnknownKey> {
    let mut found = Vec::new();
    for (key, _) in top.entries() {
        if !TOP.fields.iter().any(|(name, _)| *name == key) {
            if let Some(suggestion) = closest(key, &TOP) {
                found.push(UnknownKey {
                    at: key.to_string(),
                    suggestion: Some(suggestion),
                });
            }
        }
    }
    for (name, shape) in TOP.fields {
        if let Some(value) = top.get(name) {
            visit_shape(value, *shape, name, &mut found);
        }
    }
    found
}

fn visit_shape(value: &Value, shape: Shape, at: &str, found: &mut Vec<UnknownKey>) {
    match (shape, value) {
        (Shape::Map(object), Value::Map(map)) => visit(map, object, at, found),
        (Shape::List(object), Value::List(items)) => {
            let maps = items.iter().filter(|v| !matches!(v, Value::Comment(_)));
            for (index, item) in maps.enumerate() {
                if let Value::Map(map) = item {
                    visit(map, object, &format!("{at}[{index}]"), found);
                }
            }
        }
        _ => {}
    }
}

fn visit(map: &Map, object: &Object, at: &str, found: &mut Vec<UnknownKey>) {
    for (key, value) in map.entries() {
        let here = format!("{at}.{key}");
        match object.fields.iter().find(|(name, _)| *name == key) {
            Some((_, shape)) => visit_shape(value, *shape, &here, found),
            None => found.push(UnknownKey {
                at: here,
                suggestion: closest(key, object),
            }),
        }
    }
}

/// The known field closest to `key`, when it is close enough to be a
/// misspelling: the same letters once case, `-` and `_` are ignored, or at
/// most a third of them edited (two at least).
fn closest(key: &str, object: &Object) -> Option<&'static str> {
    let norm = |s: &str| {
        s.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    let key_norm = norm(key);
    let limit = (key_norm.chars().count() / 3).max(2);
    object
        .fields
        .iter()
        .map(|(name, _)| (*name, strsim::levenshtein(&key_norm, &norm(name))))
        .filter(|(_, d)| *d <= limit)
        .min_by_key(|(_, d)| *d)
        .map(|(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::yaml::YamlStore;
    use crate::format::{Store, StoreOptions};

    fn unknown(yaml: &str) -> Vec<String> {
        let docs = YamlStore::new(&StoreOptions::default())
            .parse_plain(yaml.as_bytes())
            .unwrap();
        unknown_keys(&docs[0])
            .iter()
            .map(UnknownKey::message)
            .collect()
    }

    #[test]
    fn misspelled_top_level_keys_are_found_with_the_key_they_mean() {
        assert_eq!(
            unknown("creation_rule:\n  - age: age1x\n"),
            ["unknown key creation_rule (sops ignores it); did you mean creation_rules?"]
        );
        assert_eq!(
            unknown("creationRules: []\nStores: {}\n"),
            [
                "unknown key creationRules (sops ignores it); did you mean creation_rules?",
                "unknown key Stores (sops ignores it); did you mean stores?"
            ]
        );
    }

    #[test]
    fn the_rotation_extension_is_known() {
        let yaml = "rotation:\n  default: 365d\n  '[\"db\"]': 30d\ncreation_rules: []\n";
        assert!(unknown(yaml).is_empty(), "{:?}", unknown(yaml));
        assert_eq!(
            unknown("rotatoin: {}\n"),
            ["unknown key rotatoin (sops ignores it); did you mean rotation?"]
        );
    }

    #[test]
    fn a_top_level_anchor_holder_is_not_reported() {
        let yaml = "keys:\n  - &alice age1alice\ncreation_rules:\n  - age: *alice\n";
        assert!(unknown(yaml).is_empty(), "{:?}", unknown(yaml));
    }

    #[test]
    fn every_unknown_key_below_the_top_is_reported() {
        let yaml = "creation_rules:\n  - path_regx: x\n    age: a\n    note: hi\n  - key_groups:\n      - age: [a]\n        kms:\n          - arn: x\n            rol: r\nstores:\n  yaml:\n    indnet: 2\n";
        assert_eq!(
            unknown(yaml),
            [
                "unknown key creation_rules[0].path_regx (sops ignores it); did you mean path_regex?",
                "unknown key creation_rules[0].note (sops ignores it)",
                "unknown key creation_rules[1].key_groups[0].kms[0].rol (sops ignores it); did you mean role?",
                "unknown key stores.yaml.indnet (sops ignores it); did you mean indent?",
            ]
        );
    }

    #[test]
    fn known_keys_of_every_kind_pass() {
        let yaml = "creation_rules:\n  - path_regex: x\n    kms: a\n    aws_profile: p\n    age: a\n    pgp: p\n    gcp_kms: g\n    hckms: [h]\n    azure_keyvault: z\n    hc_vault_transit_uri: v\n    shamir_threshold: 2\n    encrypted_regex: r\n    mac_only_encrypted: true\n    key_groups:\n      - merge:\n          - age: [a]\n        kms: [{arn: a, role: r, context: {a: b}, aws_profile: p}]\n        gcp_kms: [{resource_id: r}]\n        hckms: [{key_id: k}]\n        azure_keyvault: [{vaultUrl: u, key: k, version: v}]\n        hc_vault: [v]\n        pgp: [p]\ndestination_rules:\n  - path_regex: x\n    s3_bucket: b\n    s3_prefix: p\n    vault_path: v\n    vault_address: a\n    vault_kv_mount_name: m\n    vault_kv_version: 2\n    omit_extensions: true\n    recreation_rule: {age: a}\n  - secretsmanager_prefix: p/\n    aws_region: eu-west-1\nstores:\n  yaml: {indent: 2, preserve_format: true}\n  json: {indent: 2}\n  json_binary: {indent: 2}\n  dotenv: {preserve_format: true}\n  ini: {}\n";
        assert!(unknown(yaml).is_empty(), "{:?}", unknown(yaml));
    }
}

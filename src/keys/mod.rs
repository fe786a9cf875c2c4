//! Master keys: what wraps the data key for each recipient, key groups and
//! Shamir secret sharing, and the recovery of the data key from them.

pub mod age;
pub mod azkv;
pub mod changes;
pub mod gcpkms;
pub mod groups;
pub mod kms;
pub mod pgp;
pub mod shamir;
pub mod vault;

use crate::config::KeyGroupSpec;
use crate::tree::{Item, Map, Value};
use zeroize::Zeroizing;

pub use groups::{recover_data_key, wrap_data_key, KeyGroup};

/// One master key as stored in the metadata.
#[derive(Debug, Clone, PartialEq)]
pub enum MasterKey {
    /// An age recipient.
    Age(age::AgeKey),
    /// A key held by a key service (AWS KMS, PGP through gpg, Vault transit,
    /// GCP KMS, Azure Key Vault, or a type enseal cannot use such as
    /// HuaweiCloud KMS): its metadata fields, kept verbatim so that rewriting
    /// a file never loses them. The backend modules read and fill the fields.
    Service(ServiceKey),
}

/// A key-service master key: its metadata list and fields, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceKey {
    /// The metadata list it came from (`kms`, `pgp`, `gcp_kms`, …).
    pub type_id: String,
    /// Its fields, in file order.
    pub fields: Map,
}

/// The metadata key-list names, in the order sops 3.11 writes them.
pub const KEY_TYPES: [&str; 7] = [
    "kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "age", "pgp",
];

impl MasterKey {
    /// The key type id (`age`, `pgp`, `kms`, …).
    pub fn type_id(&self) -> &str {
        match self {
            MasterKey::Age(_) => "age",
            MasterKey::Service(o) => &o.type_id,
        }
    }

    /// The key as shown to users (a recipient, ARN, fingerprint, …).
    pub fn describe(&self) -> String {
        match self {
            MasterKey::Age(k) => k.recipient.clone(),
            MasterKey::Service(o) => {
                for field in ["arn", "fp", "resource_id", "key_id", "key_name", "name"] {
                    if let Some(Value::Str(s)) = o.fields.get(field) {
                        return format!("{} {s}", o.type_id);
                    }
                }
                o.type_id.clone()
            }
        }
    }

    /// Reads a key entry of the metadata list `type_id`.
    pub fn from_map(type_id: &str, map: &Map) -> Result<MasterKey, String> {
        match type_id {
            "age" => age::AgeKey::from_map(map).map(MasterKey::Age),
            other => Ok(MasterKey::Service(ServiceKey {
                type_id: other.to_string(),
                fields: map.clone(),
            })),
        }
    }

    /// The key entry as written in the metadata.
    pub fn to_map(&self) -> Map {
        match self {
            MasterKey::Age(k) => k.to_map(),
            MasterKey::Service(o) => o.fields.clone(),
        }
    }

    /// Wraps (encrypts) the data key or share for this master key.
    pub fn wrap(&mut self, secret: &[u8]) -> Result<(), String> {
        match self {
            MasterKey::Age(k) => k.wrap(secret),
            MasterKey::Service(o) => match o.type_id.as_str() {
                "kms" => kms::wrap(&mut o.fields, secret),
                "pgp" => pgp::wrap(&mut o.fields, secret),
                "hc_vault" => vault::wrap(&mut o.fields, secret),
                "gcp_kms" => gcpkms::wrap(&mut o.fields, secret),
                "azure_kv" => azkv::wrap(&mut o.fields, secret),
                other => Err(unsupported(other)),
            },
        }
    }

    /// Unwraps the data key or share with what `context` can provide.
    pub fn unwrap(&self, context: &mut KeyContext) -> Result<Zeroizing<Vec<u8>>, String> {
        match self {
            MasterKey::Age(k) => k.unwrap(context.age_identities()?),
            MasterKey::Service(o) => match o.type_id.as_str() {
                "kms" => kms::unwrap(&o.fields),
                "pgp" => pgp::unwrap(&o.fields),
                "hc_vault" => vault::unwrap(&o.fields),
                "gcp_kms" => gcpkms::unwrap(&o.fields),
                "azure_kv" => azkv::unwrap(&o.fields),
                other => Err(unsupported(other)),
            },
        }
    }
}

/// The error for a key type enseal has no backend for.
fn unsupported(type_id: &str) -> String {
    format!("key type {type_id:?} is not supported by enseal")
}

/// The current time as sops writes `created_at` (RFC 3339, UTC, seconds).
#[allow(dead_code)] // used by the key-service backends as they land
pub(crate) fn created_at_now() -> String {
    crate::tree::Timestamp::now_utc().to_rfc3339()
}

/// What decryption may use, loaded on first need only (so that commands
/// that need no key do no work for them).
#[derive(Default)]
pub struct KeyContext {
    age: Option<Result<age::Identities, String>>,
    /// Key types in the order they are tried (`--decryption-order`).
    pub decryption_order: Vec<String>,
}

impl KeyContext {
    /// A context with the default decryption order (`age`, `pgp`).
    pub fn new() -> KeyContext {
        KeyContext {
            age: None,
            decryption_order: vec!["age".into(), "pgp".into()],
        }
    }

    /// A context with these age identities (instead of the environment's).
    pub fn with_age_identities(identities: age::Identities) -> KeyContext {
        KeyContext {
            age: Some(Ok(identities)),
            ..KeyContext::new()
        }
    }

    fn age_identities(&mut self) -> Result<&age::Identities, String> {
        self.age
            .get_or_insert_with(age::Identities::from_environment)
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// Builds the key groups of a creation rule (`.sops.yaml`) from their raw
/// descriptions: every age recipient becomes a [`MasterKey::Age`], in
/// config order, one [`KeyGroup`] per spec.
///
/// All age recipients are checked first (as sops does when it loads the
/// rule), so an invalid or empty one is reported even in a group that also
/// holds keys of another type; an empty entry gives sops' message
/// `failed to parse input, unknown recipient type: ""`. Then any key of a
/// type enseal cannot use yet (pgp, kms, gcp_kms, azure_keyvault,
/// hc_vault_transit_uri, hckms) is refused with an error naming the type.
pub fn from_specs(groups: &[KeyGroupSpec]) -> Result<Vec<KeyGroup>, String> {
    let age_groups = check_age_specs(groups)?;
    for spec in groups {
        if let Some(type_name) = unsupported_type(spec) {
            return Err(format!(
                "{type_name} keys are not supported by enseal yet (only age)"
            ));
        }
    }
    Ok(age_groups
        .into_iter()
        .map(|keys| keys.into_iter().map(MasterKey::Age).collect())
        .collect())
}

/// Parses the age recipients of every group (one list per group), failing
/// on the first invalid one. Used on its own when a creation rule's keys are
/// overridden by flags: sops still parses (and rejects) them.
pub fn check_age_specs(groups: &[KeyGroupSpec]) -> Result<Vec<Vec<age::AgeKey>>, String> {
    groups
        .iter()
        .map(|spec| {
            spec.age
                .iter()
                .map(|r| age::AgeKey::new(r))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect()
}

/// The config name of the first key type of `spec` that enseal cannot use.
fn unsupported_type(spec: &KeyGroupSpec) -> Option<&'static str> {
    [
        ("kms", spec.kms.is_empty()),
        ("gcp_kms", spec.gcp_kms.is_empty()),
        ("hckms", spec.hckms.is_empty()),
        ("azure_keyvault", spec.azure_kv.is_empty()),
        ("pgp", spec.pgp.is_empty()),
        ("hc_vault_transit_uri", spec.hc_vault.is_empty()),
    ]
    .into_iter()
    .find(|(_, empty)| !empty)
    .map(|(name, _)| name)
}

/// Builds a mapping from `(key, value)` pairs, keeping their order.
pub(crate) fn map_of(pairs: Vec<(&str, Value)>) -> Map {
    Map(pairs
        .into_iter()
        .map(|(k, v)| Item::Entry(k.to_string(), v))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipient() -> String {
        ::age::x25519::Identity::generate().to_public().to_string()
    }

    #[test]
    fn specs_become_one_group_each() {
        let (a, b, c) = (recipient(), recipient(), recipient());
        let specs = vec![
            KeyGroupSpec {
                age: vec![a.clone(), b.clone()],
                ..Default::default()
            },
            KeyGroupSpec {
                age: vec![c.clone()],
                ..Default::default()
            },
        ];
        let groups = from_specs(&specs).unwrap();
        let described: Vec<Vec<String>> = groups
            .iter()
            .map(|g| g.iter().map(MasterKey::describe).collect())
            .collect();
        assert_eq!(described, vec![vec![a, b], vec![c]]);
        assert!(groups.iter().flatten().all(|k| k.type_id() == "age"));
    }

    #[test]
    fn empty_age_entry_is_refused_like_sops() {
        let specs = vec![KeyGroupSpec {
            age: vec![recipient(), String::new()],
            ..Default::default()
        }];
        assert_eq!(
            from_specs(&specs).unwrap_err(),
            "failed to parse input, unknown recipient type: \"\""
        );
    }

    #[test]
    fn other_key_types_are_named() {
        let specs = vec![KeyGroupSpec {
            age: vec![recipient()],
            pgp: vec!["ABCDEF".into()],
            ..Default::default()
        }];
        let err = from_specs(&specs).unwrap_err();
        assert!(err.starts_with("pgp keys"), "{err}");
        assert!(err.contains("not supported by enseal yet"), "{err}");
    }

    #[test]
    fn bad_age_recipient_wins_over_unsupported_type() {
        let specs = vec![
            KeyGroupSpec {
                kms: vec![Default::default()],
                ..Default::default()
            },
            KeyGroupSpec {
                age: vec!["bogus".into()],
                ..Default::default()
            },
        ];
        assert_eq!(
            from_specs(&specs).unwrap_err(),
            "failed to parse input, unknown recipient type: \"bogus\""
        );
    }
}

//! Master keys: what wraps the data key for each recipient, key groups and
//! Shamir secret sharing, and the recovery of the data key from them.

pub mod age;
pub mod groups;
pub mod shamir;

use crate::tree::{Item, Map, Value};
use zeroize::Zeroizing;

pub use groups::{recover_data_key, wrap_data_key, KeyGroup};

/// One master key as stored in the metadata.
#[derive(Debug, Clone, PartialEq)]
pub enum MasterKey {
    /// An age recipient.
    Age(age::AgeKey),
    /// A key type enseal does not handle yet (kms, pgp, …): kept verbatim so
    /// that rewriting a file does not lose it.
    Other(OtherKey),
}

/// A master key of a type enseal cannot use (yet), kept as read.
#[derive(Debug, Clone, PartialEq)]
pub struct OtherKey {
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
            MasterKey::Other(o) => &o.type_id,
        }
    }

    /// The key as shown to users (a recipient, ARN, fingerprint, …).
    pub fn describe(&self) -> String {
        match self {
            MasterKey::Age(k) => k.recipient.clone(),
            MasterKey::Other(o) => {
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
            other => Ok(MasterKey::Other(OtherKey {
                type_id: other.to_string(),
                fields: map.clone(),
            })),
        }
    }

    /// The key entry as written in the metadata.
    pub fn to_map(&self) -> Map {
        match self {
            MasterKey::Age(k) => k.to_map(),
            MasterKey::Other(o) => o.fields.clone(),
        }
    }

    /// Wraps (encrypts) the data key or share for this master key.
    pub fn wrap(&mut self, secret: &[u8]) -> Result<(), String> {
        match self {
            MasterKey::Age(k) => k.wrap(secret),
            MasterKey::Other(o) => Err(format!(
                "key type {:?} is not supported by enseal yet",
                o.type_id
            )),
        }
    }

    /// Unwraps the data key or share with what `context` can provide.
    pub fn unwrap(&self, context: &mut KeyContext) -> Result<Zeroizing<Vec<u8>>, String> {
        match self {
            MasterKey::Age(k) => k.unwrap(context.age_identities()?),
            MasterKey::Other(o) => Err(format!(
                "key type {:?} is not supported by enseal yet",
                o.type_id
            )),
        }
    }
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

    fn age_identities(&mut self) -> Result<&age::Identities, String> {
        self.age
            .get_or_insert_with(age::Identities::from_environment)
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// Builds a mapping from `(key, value)` pairs, keeping their order.
pub(crate) fn map_of(pairs: Vec<(&str, Value)>) -> Map {
    Map(pairs
        .into_iter()
        .map(|(k, v)| Item::Entry(k.to_string(), v))
        .collect())
}

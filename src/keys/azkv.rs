//! Azure Key Vault master keys (`azure_kv` in the metadata): the data key
//! is wrapped with the Key Vault `encrypt` call (RSA-OAEP-256) and stored as
//! unpadded base64url in `enc`.

use crate::tree::Map;
use zeroize::Zeroizing;

/// Wraps `secret` (a data key or Shamir share) for the key described by
/// `fields`, filling its `enc` and `created_at` fields.
pub fn wrap(fields: &mut Map, secret: &[u8]) -> Result<(), String> {
    let _ = (fields, secret);
    Err("Azure Key Vault keys are not supported by enseal yet".to_string())
}

/// Unwraps the data key or share stored in `fields`.
pub fn unwrap(fields: &Map) -> Result<Zeroizing<Vec<u8>>, String> {
    let _ = fields;
    Err("Azure Key Vault keys are not supported by enseal yet".to_string())
}

//! HashiCorp Vault / OpenBao transit master keys (`hc_vault` in the
//! metadata): the data key is wrapped with `POST /v1/<engine>/encrypt/<key>`
//! and stored as the `vault:v1:…` ciphertext in `enc`.

use crate::tree::Map;
use zeroize::Zeroizing;

/// Wraps `secret` (a data key or Shamir share) for the key described by
/// `fields`, filling its `enc` and `created_at` fields.
pub fn wrap(fields: &mut Map, secret: &[u8]) -> Result<(), String> {
    let _ = (fields, secret);
    Err("Vault transit keys are not supported by enseal yet".to_string())
}

/// Unwraps the data key or share stored in `fields`.
pub fn unwrap(fields: &Map) -> Result<Zeroizing<Vec<u8>>, String> {
    let _ = fields;
    Err("Vault transit keys are not supported by enseal yet".to_string())
}

//! PGP master keys (`pgp` in the metadata): the data key is wrapped by the
//! `gpg` binary (`SOPS_GPG_EXEC`), as sops does, and stored ASCII-armored in
//! `enc`.

use crate::tree::Map;
use zeroize::Zeroizing;

/// Wraps `secret` (a data key or Shamir share) for the key described by
/// `fields`, filling its `enc` and `created_at` fields.
pub fn wrap(fields: &mut Map, secret: &[u8]) -> Result<(), String> {
    let _ = (fields, secret);
    Err("PGP keys are not supported by enseal yet".to_string())
}

/// Unwraps the data key or share stored in `fields`.
pub fn unwrap(fields: &Map) -> Result<Zeroizing<Vec<u8>>, String> {
    let _ = fields;
    Err("PGP keys are not supported by enseal yet".to_string())
}

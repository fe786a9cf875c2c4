//! GCP Cloud KMS master keys (`gcp_kms` in the metadata): the data key is
//! wrapped with the KMS REST `encrypt` call and stored base64 in `enc`.
//!
//! Wire calls: `POST {endpoint}/v1/{resource_id}:encrypt` with
//! `{"plaintext": base64}` → `{"ciphertext": base64}`, and `:decrypt` with
//! `{"ciphertext": base64}` → `{"plaintext": base64}`. The endpoint is
//! `https://cloudkms.googleapis.com`, or `SOPS_GCP_KMS_ENDPOINT`, or
//! `https://cloudkms.{SOPS_GCP_KMS_UNIVERSE_DOMAIN}`.
//!
//! Credentials, in sops' order: `GOOGLE_CREDENTIALS` (a file path or the JSON
//! itself), `GOOGLE_OAUTH_ACCESS_TOKEN` (a bearer token), then application
//! default credentials: `GOOGLE_APPLICATION_CREDENTIALS`, gcloud's
//! `application_default_credentials.json`, and the GCE metadata server only
//! when `GCE_METADATA_HOST` or `ENSEAL_GCP_METADATA=1` asks for it.
//! Credential files of type `service_account` (an RS256-signed JWT exchanged
//! at `token_uri`) and `authorized_user` (a refresh token) are understood.
//!
//! Trust boundary: the endpoint and the credentials come from the user's
//! environment; the only thing an encrypted file contributes to a request
//! is the key's `resource_id`, which goes into the URL path. It must be
//! `projects/P/locations/L/keyRings/R/cryptoKeys/K` with Cloud KMS name
//! characters in each part, so a file cannot change the host, the path
//! prefix, the operation or the query the token is sent with.

use crate::tree::Map;
use zeroize::Zeroizing;

/// Wraps `secret` (a data key or Shamir share) for the key described by
/// `fields`, filling its `enc` and `created_at` fields.
pub fn wrap(fields: &mut Map, secret: &[u8]) -> Result<(), String> {
    #[cfg(feature = "gcp")]
    return imp::wrap(&super::cloud_http::ProcessEnv, fields, secret);
    #[cfg(not(feature = "gcp"))]
    {
        let _ = (fields, secret);
        Err(not_built())
    }
}

/// Unwraps the data key or share stored in `fields`.
pub fn unwrap(fields: &Map) -> Result<Zeroizing<Vec<u8>>, String> {
    #[cfg(feature = "gcp")]
    return imp::unwrap(&super::cloud_http::ProcessEnv, fields);
    #[cfg(not(feature = "gcp"))]
    {
        let _ = fields;
        Err(not_built())
    }
}

#[cfg(not(feature = "gcp"))]
fn not_built() -> String {
    "GCP KMS keys are not supported by this build of enseal (cargo feature \"gcp\" is off)"
        .to_string()
}

#[cfg(feature = "gcp")]
pub(crate) mod credentials;
#[cfg(feature = "gcp")]
pub(crate) mod imp;
#[cfg(all(test, feature = "gcp"))]
mod tests;

//! Azure Key Vault master keys (`azure_kv` in the metadata): the data key
//! is wrapped with the Key Vault `encrypt` call (RSA-OAEP-256) and stored as
//! unpadded base64url in `enc`.
//!
//! Wire calls: `POST {vault_url}/keys/{name}/{version}/encrypt?api-version=7.4`
//! with `{"alg":"RSA-OAEP-256","value": base64url}` → `{"kid":…,"value":
//! base64url}`, and `…/decrypt` likewise. A key without a version is resolved
//! to its latest version (`GET {vault_url}/keys/{name}`) when it is first
//! used, as sops does, and the version is stored.
//!
//! Credentials, following Azure's default credential chain as far as enseal
//! implements it: a client secret (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`,
//! `AZURE_CLIENT_SECRET`), workload identity (`AZURE_FEDERATED_TOKEN_FILE`
//! with the tenant and client ids), managed identity through IMDS only when
//! `ENSEAL_AZURE_MANAGED_IDENTITY=1`, then the Azure CLI (`az account
//! get-access-token`) when `az` is on the PATH. Token requests go to
//! `AZURE_AUTHORITY_HOST` (default `https://login.microsoftonline.com`).
//!
//! Trust boundary: an encrypted file names its vault, and the file is not
//! trusted. A Key Vault token is therefore sent only over https to a vault
//! under the Key Vault or Managed HSM domain of an Azure cloud (public,
//! China, US Government, Germany), with that cloud's audience. Any other
//! host must be listed by the user in `ENSEAL_AZURE_KV_ALLOWED_HOSTS`
//! (comma-separated `host`, `host:port` or `*.domain`; plain http only to a
//! listed loopback host). The check is made before any token is asked for
//! or any request is sent; the key name and version must be Key Vault
//! object names, so that they cannot change the request's path.

use crate::tree::Map;
use zeroize::Zeroizing;

/// Wraps `secret` (a data key or Shamir share) for the key described by
/// `fields`, filling its `enc` and `created_at` fields (and `version` when
/// it is empty: the key's latest version).
pub fn wrap(fields: &mut Map, secret: &[u8]) -> Result<(), String> {
    #[cfg(feature = "azure")]
    return imp::wrap(&super::cloud_http::ProcessEnv, fields, secret);
    #[cfg(not(feature = "azure"))]
    {
        let _ = (fields, secret);
        Err(not_built())
    }
}

/// Unwraps the data key or share stored in `fields`.
pub fn unwrap(fields: &Map) -> Result<Zeroizing<Vec<u8>>, String> {
    #[cfg(feature = "azure")]
    return imp::unwrap(&super::cloud_http::ProcessEnv, fields);
    #[cfg(not(feature = "azure"))]
    {
        let _ = fields;
        Err(not_built())
    }
}

/// The latest version of key `name` in the vault at `vault_url` (what sops
/// stores when a key URL has no version).
pub fn latest_version(vault_url: &str, name: &str) -> Result<String, String> {
    #[cfg(feature = "azure")]
    return imp::latest_version(&super::cloud_http::ProcessEnv, vault_url, name);
    #[cfg(not(feature = "azure"))]
    {
        let _ = (vault_url, name);
        Err(not_built())
    }
}

#[cfg(not(feature = "azure"))]
fn not_built() -> String {
    "Azure Key Vault keys are not supported by this build of enseal (cargo feature \"azure\" is off)"
        .to_string()
}

#[cfg(feature = "azure")]
mod credentials;
#[cfg(feature = "azure")]
pub(crate) mod imp;
#[cfg(all(test, feature = "azure"))]
mod tests;

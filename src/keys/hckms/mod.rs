//! HuaweiCloud KMS master keys (`hckms` in the metadata): the data key is
//! wrapped with the KMS REST `encrypt-data` call and the service's
//! `cipher_text` is stored as it comes in `enc`, as sops 3.12+ does.
//!
//! Key ids are `region:key-uuid` (`tr-west-1:0d0466b0-…`). Wire calls:
//! `POST {endpoint}/v1.0/{project_id}/kms/encrypt-data` with
//! `{"key_id", "plain_text": base64(data key), "encryption_algorithm":
//! "SYMMETRIC_DEFAULT"}` → `{"cipher_text"}`, and `…/kms/decrypt-data` with
//! `{"cipher_text", "encryption_algorithm", "key_id"}` → `{"plain_text"}`,
//! which is base64-decoded. Requests are signed with the access key pair
//! (`SDK-HMAC-SHA256`, see `credentials::authorization`).
//!
//! Endpoint: `https://kms.{region}.myhuaweicloud.com` (`.eu` for
//! `eu-west-101`, as the Go SDK has it), or the SDK's own per-region
//! override `HUAWEICLOUD_SDK_REGION_KMS_{REGION}` (`TR_WEST_1`), or
//! `ENSEAL_HCKMS_ENDPOINT` for every region (tests, private endpoints).
//!
//! Credentials come from the environment, as the Go SDK's environment
//! provider reads them: `HUAWEICLOUD_SDK_AK`, `HUAWEICLOUD_SDK_SK`,
//! `HUAWEICLOUD_SDK_PROJECT_ID` and, for temporary credentials,
//! `HUAWEICLOUD_SDK_SECURITY_TOKEN`. Without a project id, the project
//! named after the key's region is asked of IAM (signed `GET
//! /v3/projects?name={region}` at `https://iam.{region}.myhuaweicloud.com`
//! or `HUAWEICLOUD_SDK_IAM_ENDPOINT`), as the Go SDK does.
//!
//! Trust boundary: the endpoint and the credentials come from the user's
//! environment; a file contributes the region and the key uuid. The region
//! must look like a HuaweiCloud region id (`xx-name-1`: lower-case letters
//! and a number, see [`check_region`]) before it is put in a host name or
//! a query, so a crafted key id cannot send a signed request to another
//! host; the uuid only goes into the JSON body. A project id (from the
//! environment or IAM) must be letters and digits before it goes into the
//! path.

use crate::tree::Map;
use zeroize::Zeroizing;

/// Wraps `secret` (a data key or Shamir share) for the key described by
/// `fields`, filling its `enc` and `created_at` fields.
pub fn wrap(fields: &mut Map, secret: &[u8]) -> Result<(), String> {
    #[cfg(feature = "huawei")]
    return imp::wrap(&super::cloud_http::ProcessEnv, fields, secret);
    #[cfg(not(feature = "huawei"))]
    {
        let _ = (fields, secret);
        Err(not_built())
    }
}

/// Unwraps the data key or share stored in `fields`.
pub fn unwrap(fields: &Map) -> Result<Zeroizing<Vec<u8>>, String> {
    #[cfg(feature = "huawei")]
    return imp::unwrap(&super::cloud_http::ProcessEnv, fields);
    #[cfg(not(feature = "huawei"))]
    {
        let _ = fields;
        Err(not_built())
    }
}

/// Checks a `region:key-uuid` id as a new key is made from it (command
/// line, `.sops.yaml`, a key-service request): sops' shape, and a region
/// enseal will put in a host name.
pub fn check_key_id(key_id: &str) -> Result<(), String> {
    let (region, uuid) = split_key_id(key_id)?;
    check_region(region).map_err(|e| format!("HuaweiCloud KMS key {key_id:?}: {e}"))?;
    let _ = uuid;
    Ok(())
}

/// Splits `region:key-uuid` at the first `:` (both parts trimmed and not
/// empty), as sops does.
pub fn split_key_id(key_id: &str) -> Result<(&str, &str), String> {
    let trimmed = key_id.trim();
    let Some((region, uuid)) = trimmed.split_once(':') else {
        return Err(format!(
            "invalid HuaweiCloud KMS key ID {key_id:?}: expected 'region:key-uuid'"
        ));
    };
    let (region, uuid) = (region.trim(), uuid.trim());
    if region.is_empty() {
        return Err(format!(
            "invalid HuaweiCloud KMS key ID {key_id:?}: the region is empty"
        ));
    }
    if uuid.is_empty() {
        return Err(format!(
            "invalid HuaweiCloud KMS key ID {key_id:?}: the key UUID is empty"
        ));
    }
    Ok((region, uuid))
}

/// A HuaweiCloud region id: two lower-case letters, one or more `-name`
/// parts of lower-case letters, and `-` with a number of at most three
/// digits (`tr-west-1`, `ap-southeast-3`, `my-kualalumpur-1`,
/// `eu-west-101`). Nothing else reaches a host name.
pub fn check_region(region: &str) -> Result<(), String> {
    let parts: Vec<&str> = region.split('-').collect();
    let lower = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    let ok = region.len() <= 40
        && parts.len() >= 3
        && parts[0].len() == 2
        && lower(parts[0])
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| lower(p) && p.len() <= 20)
        && {
            let n = parts[parts.len() - 1];
            (1..=3).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit())
        };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{region:?} is not a HuaweiCloud region id (like tr-west-1 or ap-southeast-3)"
        ))
    }
}

#[cfg(not(feature = "huawei"))]
fn not_built() -> String {
    "HuaweiCloud KMS keys are not supported by this build of enseal (cargo feature \"huawei\" is off)"
        .to_string()
}

#[cfg(feature = "huawei")]
mod credentials;
#[cfg(feature = "huawei")]
pub(crate) mod imp;
#[cfg(all(test, feature = "huawei"))]
mod tests;

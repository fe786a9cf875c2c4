//! The KMS calls (`encrypt-data`, `decrypt-data`), the key id and the
//! endpoint.

use super::super::cloud_http::{self, field, Env, Origin};
use super::credentials::{self, Credentials};
use crate::tree::Map;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value as Json;
use zeroize::Zeroizing;

/// Metadata field order of an `hckms` entry as sops writes it.
const FIELD_ORDER: [&str; 3] = ["key_id", "created_at", "enc"];

/// The only algorithm sops asks for (symmetric keys).
const ALGORITHM: &str = "SYMMETRIC_DEFAULT";

/// The key's region and uuid, the region checked (see
/// [`super::check_region`]).
pub(crate) fn region_and_uuid(fields: &Map) -> Result<(String, String), String> {
    let id = field(fields, "key_id").unwrap_or_default();
    let (region, uuid) = super::split_key_id(&id)?;
    super::check_region(region).map_err(|e| format!("key {id:?}: {e}"))?;
    Ok((region.to_string(), uuid.to_string()))
}

pub(crate) fn wrap(env: &dyn Env, fields: &mut Map, secret: &[u8]) -> Result<(), String> {
    let fail = |e: String| format!("failed to encrypt sops data key with HuaweiCloud KMS: {e}");
    let (region, uuid) = region_and_uuid(fields).map_err(fail)?;
    let base = endpoint(env, &region).map_err(fail)?;
    let creds = credentials::from_env(env).map_err(fail)?;
    let plain = Zeroizing::new(STANDARD.encode(secret));
    let body = Zeroizing::new(format!(
        "{{\"key_id\":{},\"plain_text\":\"{}\",\"encryption_algorithm\":\"{ALGORITHM}\"}}",
        Json::String(uuid),
        plain.as_str()
    ));
    let json = call(env, &base, &creds, &region, "encrypt-data", &body).map_err(fail)?;
    let cipher = json
        .get("cipher_text")
        .and_then(Json::as_str)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| fail("the response has no \"cipher_text\"".into()))?;
    // sops stores the service's cipher_text as it comes.
    cloud_http::set_field(fields, "enc", cipher.to_string());
    cloud_http::set_field(fields, "created_at", crate::keys::created_at_now());
    cloud_http::order_fields(fields, &FIELD_ORDER);
    Ok(())
}

pub(crate) fn unwrap(env: &dyn Env, fields: &Map) -> Result<Zeroizing<Vec<u8>>, String> {
    let fail = |e: String| format!("failed to decrypt sops data key with HuaweiCloud KMS: {e}");
    let (region, uuid) = region_and_uuid(fields).map_err(fail)?;
    let enc = field(fields, "enc").unwrap_or_default();
    if enc.is_empty() {
        return Err(fail("the key has no encrypted data key (enc)".into()));
    }
    let base = endpoint(env, &region).map_err(fail)?;
    let creds = credentials::from_env(env).map_err(fail)?;
    let body = serde_json::json!({
        "cipher_text": enc,
        "encryption_algorithm": ALGORITHM,
        "key_id": uuid,
    })
    .to_string();
    let mut json = call(env, &base, &creds, &region, "decrypt-data", &body).map_err(fail)?;
    let plain = match json.get_mut("plain_text") {
        Some(Json::String(s)) => Zeroizing::new(std::mem::take(s)),
        _ => return Err(fail("the response has no \"plain_text\"".into())),
    };
    STANDARD
        .decode(plain.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| fail("the response's \"plain_text\" is not base64".into()))
}

/// The KMS endpoint of `region` (already checked): `ENSEAL_HCKMS_ENDPOINT`,
/// else the Go SDK's `HUAWEICLOUD_SDK_REGION_KMS_{REGION}` (its first
/// entry), else `https://kms.{region}.myhuaweicloud.com` (`.eu` for
/// `eu-west-101`). An override must be `https://host[:port]`, or
/// `http://` to a loopback host.
pub(crate) fn endpoint(env: &dyn Env, region: &str) -> Result<Origin, String> {
    let region_var = format!(
        "HUAWEICLOUD_SDK_REGION_KMS_{}",
        region.to_ascii_uppercase().replace('-', "_")
    );
    let (name, raw) = if let Some(e) = env.var("ENSEAL_HCKMS_ENDPOINT") {
        ("ENSEAL_HCKMS_ENDPOINT", e)
    } else if let Some(e) = env.var(&region_var) {
        let first = e.split(',').next().unwrap_or("").to_string();
        (region_var.as_str(), first)
    } else {
        return Ok(Origin {
            https: true,
            host: format!("kms.{region}.{}", domain(region)),
            port: None,
        });
    };
    let raw = raw.trim();
    let origin = Origin::parse(raw).map_err(|e| format!("{name} {raw:?}: {e}"))?;
    if !origin.https && !origin.is_loopback() {
        return Err(format!(
            "{name}: refusing plain http to {:?}: only https, or http to 127.0.0.1/localhost, is allowed",
            origin.host
        ));
    }
    Ok(origin)
}

/// The domain of HuaweiCloud's service endpoints in `region`: the Go SDK
/// has `myhuaweicloud.eu` for `eu-west-101`, `myhuaweicloud.com` elsewhere.
pub(crate) fn domain(region: &str) -> &'static str {
    if region == "eu-west-101" {
        "myhuaweicloud.eu"
    } else {
        "myhuaweicloud.com"
    }
}

/// `POST {endpoint}/v1.0/{project_id}/kms/{op}`, signed.
fn call(
    env: &dyn Env,
    base: &Origin,
    creds: &Credentials,
    region: &str,
    op: &str,
    body: &str,
) -> Result<Json, String> {
    let agent = cloud_http::agent(env);
    let project = credentials::project_id(env, &agent, creds, region)?;
    let path = format!("/v1.0/{project}/kms/{op}");
    credentials::signed_send(
        &agent,
        creds,
        base,
        "POST",
        &path,
        &[],
        Some(&project),
        body,
    )
}

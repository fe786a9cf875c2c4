//! The Cloud KMS calls (`encrypt`, `decrypt`), the key resource id and the
//! endpoint.

use super::super::cloud_http::{self, check_url, field, Body, Env};
use super::credentials::{access_token, Token, CLOUD_PLATFORM_SCOPE};
use crate::tree::Map;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value as Json;
use zeroize::Zeroizing;

/// The Cloud KMS endpoint unless configured otherwise.
const DEFAULT_ENDPOINT: &str = "https://cloudkms.googleapis.com";

/// Metadata field order of a `gcp_kms` entry as sops 3.11 writes it.
const FIELD_ORDER: [&str; 3] = ["resource_id", "created_at", "enc"];

pub(crate) fn wrap(env: &dyn Env, fields: &mut Map, secret: &[u8]) -> Result<(), String> {
    let id = resource_id(fields)?;
    let fail = |e: String| format!("failed to encrypt sops data key with GCP KMS key: {e}");
    let agent = cloud_http::agent(env);
    let token = access_token(env, &agent, CLOUD_PLATFORM_SCOPE).map_err(fail)?;
    let body = Zeroizing::new(format!(
        "{{\"plaintext\":\"{}\"}}",
        Zeroizing::new(STANDARD.encode(secret)).as_str()
    ));
    let json = call(env, &agent, &id, "encrypt", &token, &body).map_err(fail)?;
    let ciphertext = json
        .get("ciphertext")
        .and_then(Json::as_str)
        .and_then(|c| STANDARD.decode(c).ok())
        .filter(|c| !c.is_empty())
        .ok_or_else(|| fail("the response has no base64 \"ciphertext\"".into()))?;
    // sops stores the raw ciphertext in standard base64.
    cloud_http::set_field(fields, "enc", STANDARD.encode(ciphertext));
    cloud_http::set_field(fields, "created_at", crate::keys::created_at_now());
    cloud_http::order_fields(fields, &FIELD_ORDER);
    Ok(())
}

pub(crate) fn unwrap(env: &dyn Env, fields: &Map) -> Result<Zeroizing<Vec<u8>>, String> {
    let id = resource_id(fields)?;
    let fail = |e: String| format!("failed to decrypt sops data key with GCP KMS key: {e}");
    let enc = field(fields, "enc").unwrap_or_default();
    // sops ≤ 3.8 and later all store standard base64.
    let ciphertext = STANDARD
        .decode(enc.trim())
        .map_err(|e| fail(format!("enc is not base64: {e}")))?;
    let agent = cloud_http::agent(env);
    let token = access_token(env, &agent, CLOUD_PLATFORM_SCOPE).map_err(fail)?;
    let body = format!("{{\"ciphertext\":\"{}\"}}", STANDARD.encode(ciphertext));
    let mut json = call(env, &agent, &id, "decrypt", &token, &body).map_err(fail)?;
    let plaintext = match json.get_mut("plaintext") {
        Some(Json::String(s)) => Zeroizing::new(std::mem::take(s)),
        _ => return Err(fail("the response has no \"plaintext\"".into())),
    };
    STANDARD
        .decode(plaintext.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| fail("the response's \"plaintext\" is not base64".into()))
}

/// The key's resource id: `projects/P/locations/L/keyRings/R/cryptoKeys/K`
/// (sops' shape), each name made of the characters Cloud KMS allows
/// (letters, digits, `-` and `_`; a project id may also hold `.` and
/// `:`, as domain-scoped ids do, but not `..`), so that the id cannot
/// add path segments, dot segments, an operation, a query or a fragment
/// to the URL it is put in.
pub(crate) fn resource_id(fields: &Map) -> Result<String, String> {
    let id = field(fields, "resource_id").unwrap_or_default();
    let parts: Vec<&str> = id.split('/').collect();
    let shaped = parts.len() == 8
        && parts[0] == "projects"
        && parts[2] == "locations"
        && parts[4] == "keyRings"
        && parts[6] == "cryptoKeys"
        && [1, 3, 5, 7].iter().all(|&i| !parts[i].is_empty());
    if !shaped {
        return Err(format!("no valid resource ID found in {id:?}"));
    }
    let name_char = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    let project = parts[1];
    let project_ok = project.len() <= 100
        && project.as_bytes()[0].is_ascii_alphanumeric()
        && !project.contains("..")
        && project
            .bytes()
            .all(|b| name_char(b) || b == b'.' || b == b':');
    let names_ok = [3, 5, 7]
        .iter()
        .all(|&i| parts[i].len() <= 63 && parts[i].bytes().all(name_char));
    if project_ok && names_ok {
        Ok(id)
    } else {
        Err(format!(
            "no valid resource ID found in {id:?}: names may hold only letters, digits, \
             '-' and '_' (and '.' or ':' in the project id)"
        ))
    }
}

/// The service's base URL.
pub(crate) fn endpoint(env: &dyn Env) -> Result<String, String> {
    let raw = if let Some(e) = env.var("SOPS_GCP_KMS_ENDPOINT") {
        let e = e.trim().trim_end_matches('/').to_string();
        // The Go client also takes a bare `host:port`.
        if e.contains("://") {
            e
        } else {
            format!("https://{e}")
        }
    } else if let Some(domain) = env.var("SOPS_GCP_KMS_UNIVERSE_DOMAIN") {
        format!("https://cloudkms.{}", domain.trim())
    } else {
        DEFAULT_ENDPOINT.to_string()
    };
    check_url(&raw).map_err(|e| format!("SOPS_GCP_KMS_ENDPOINT: {e}"))?;
    Ok(raw)
}

/// `POST {endpoint}/v1/{id}:{op}` with a bearer token.
fn call(
    env: &dyn Env,
    agent: &cloud_http::Agent,
    id: &str,
    op: &str,
    token: &Token,
    body: &str,
) -> Result<Json, String> {
    let path: Vec<String> = id.split('/').map(cloud_http::path_segment).collect();
    let url = format!("{}/v1/{}:{op}", endpoint(env)?, path.join("/"));
    let auth = Zeroizing::new(format!("Bearer {}", token.access_token.as_str()));
    let mut headers = vec![("Authorization", auth.as_str())];
    if let Some(project) = &token.quota_project {
        headers.push(("x-goog-user-project", project));
    }
    cloud_http::send(agent, "POST", &url, &headers, Body::Json(body))?.json()
}

//! Where HuaweiCloud credentials come from (the environment, as the Go
//! SDK's environment provider reads it) and how a request is signed with
//! them: the `SDK-HMAC-SHA256` scheme of Huawei's API gateway.

use super::super::cloud_http::{self, Env, Origin};
use ring::hmac;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The signing algorithm's name, first word of `Authorization`.
pub(crate) const ALGORITHM: &str = "SDK-HMAC-SHA256";

/// An access key pair, the optional security token of temporary
/// credentials, and the project the KMS calls are made in when the
/// environment names it.
pub(crate) struct Credentials {
    pub access_key: String,
    pub secret_key: Zeroizing<String>,
    pub security_token: Option<Zeroizing<String>>,
    pub project_id: Option<String>,
}

/// Reads `HUAWEICLOUD_SDK_AK`, `HUAWEICLOUD_SDK_SK`,
/// `HUAWEICLOUD_SDK_PROJECT_ID` and `HUAWEICLOUD_SDK_SECURITY_TOKEN`.
pub(crate) fn from_env(env: &dyn Env) -> Result<Credentials, String> {
    let (ak, sk) = match (env.var("HUAWEICLOUD_SDK_AK"), env.var("HUAWEICLOUD_SDK_SK")) {
        (Some(ak), Some(sk)) => (ak.trim().to_string(), Zeroizing::new(sk.trim().to_string())),
        _ => {
            return Err(
                "no HuaweiCloud credentials found: set HUAWEICLOUD_SDK_AK and \
                 HUAWEICLOUD_SDK_SK (and HUAWEICLOUD_SDK_PROJECT_ID)"
                    .to_string(),
            )
        }
    };
    // The access key id goes into a header: letters and digits only
    // (never echoed, it is half of a credential).
    if ak.is_empty() || !ak.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err("HUAWEICLOUD_SDK_AK is not an access key id (letters and digits)".into());
    }
    if sk.is_empty() || sk.bytes().any(|b| b.is_ascii_control()) {
        return Err("HUAWEICLOUD_SDK_SK is empty or holds control characters".into());
    }
    let project_id = env
        .var("HUAWEICLOUD_SDK_PROJECT_ID")
        .map(|p| p.trim().to_string());
    if let Some(id) = &project_id {
        check_project_id(id).map_err(|e| format!("HUAWEICLOUD_SDK_PROJECT_ID {e}"))?;
    }
    let security_token = match env.var("HUAWEICLOUD_SDK_SECURITY_TOKEN") {
        Some(t) if t.bytes().any(|b| b.is_ascii_control() || b == b' ') => {
            return Err("HUAWEICLOUD_SDK_SECURITY_TOKEN holds spaces or control characters".into())
        }
        Some(t) => Some(Zeroizing::new(t.trim().to_string())),
        None => None,
    };
    Ok(Credentials {
        access_key: ak,
        secret_key: sk,
        security_token,
        project_id,
    })
}

/// A project id goes into the URL path: 1 to 64 letters and digits.
fn check_project_id(id: &str) -> Result<(), String> {
    if !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(format!("{id:?} is not a project id (letters and digits)"))
    }
}

/// Projects found for (access key, region) in this process.
static PROJECTS: std::sync::Mutex<Vec<(String, String, String)>> =
    std::sync::Mutex::new(Vec::new());

/// The project the KMS calls for `region` are made in:
/// `HUAWEICLOUD_SDK_PROJECT_ID`, else the one project named `region` that
/// IAM lists for these credentials (`GET {iam}/v3/projects?name={region}`,
/// signed), as the Go SDK finds it. IAM is `HUAWEICLOUD_SDK_IAM_ENDPOINT`
/// (the SDK's variable; https, or http to loopback), else
/// `https://iam.{region}.myhuaweicloud.com` (`.eu` for `eu-west-101`);
/// `region` is already checked.
pub(crate) fn project_id(
    env: &dyn Env,
    agent: &cloud_http::Agent,
    creds: &Credentials,
    region: &str,
) -> Result<String, String> {
    if let Some(id) = &creds.project_id {
        return Ok(id.clone());
    }
    let cached = PROJECTS.lock().ok().and_then(|p| {
        p.iter()
            .find(|(ak, r, _)| *ak == creds.access_key && r == region)
            .map(|(_, _, id)| id.clone())
    });
    if let Some(id) = cached {
        return Ok(id);
    }
    let iam = match env.var("HUAWEICLOUD_SDK_IAM_ENDPOINT") {
        Some(raw) => {
            let raw = raw.trim();
            // The SDK takes a bare host name and adds https://.
            let url = if raw.contains("://") {
                raw.to_string()
            } else {
                format!("https://{raw}")
            };
            let origin = Origin::parse(&url)
                .map_err(|e| format!("HUAWEICLOUD_SDK_IAM_ENDPOINT {raw:?}: {e}"))?;
            if !origin.https && !origin.is_loopback() {
                return Err(format!(
                    "HUAWEICLOUD_SDK_IAM_ENDPOINT: refusing plain http to {:?}: only https, \
                     or http to 127.0.0.1/localhost, is allowed",
                    origin.host
                ));
            }
            origin
        }
        None => Origin {
            https: true,
            host: format!("iam.{region}.{}", super::imp::domain(region)),
            port: None,
        },
    };
    let hint = "set HUAWEICLOUD_SDK_PROJECT_ID to the project id of the key's region";
    let path = "/v3/projects";
    let query = [("name", region)];
    let json = signed_send(agent, creds, &iam, "GET", path, &query, None, "").map_err(|e| {
        format!("looking up the project of region {region} in IAM failed: {e}; {hint}")
    })?;
    let ids: Vec<&str> = json
        .get("projects")
        .and_then(|p| p.as_array())
        .map(|list| {
            list.iter()
                .filter_map(|p| p.get("id").and_then(|i| i.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let id = match ids.as_slice() {
        [id] => id.to_string(),
        [] => {
            return Err(format!(
                "IAM lists no project named {region} for these credentials; {hint}"
            ))
        }
        many => {
            return Err(format!(
                "IAM lists several projects named {region} ({}); {hint}",
                many.join(", ")
            ))
        }
    };
    check_project_id(&id).map_err(|e| format!("IAM answered a project id that {e}"))?;
    if let Ok(mut p) = PROJECTS.lock() {
        p.push((creds.access_key.clone(), region.to_string(), id.clone()));
    }
    Ok(id)
}

/// Sends one request signed with `creds`: the headers signed are `host`,
/// `x-sdk-date`, `x-project-id` when `project` is given and
/// `x-security-token` with temporary credentials. `query` values must need
/// no escaping in the URL (region names, here).
#[allow(clippy::too_many_arguments)]
pub(crate) fn signed_send(
    agent: &cloud_http::Agent,
    creds: &Credentials,
    base: &Origin,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    project: Option<&str>,
    body: &str,
) -> Result<serde_json::Value, String> {
    let scheme = if base.https { "https" } else { "http" };
    let authority = base.authority();
    let mut url = format!("{scheme}://{authority}{path}");
    for (i, (k, v)) in query.iter().enumerate() {
        url.push(if i == 0 { '?' } else { '&' });
        url.push_str(&format!("{}={}", escape(k), escape(v)));
    }
    let date = sdk_date(cloud_http::unix_now());
    let mut signed: Vec<(&str, &str)> = vec![("host", &authority), ("x-sdk-date", &date)];
    if let Some(project) = project {
        signed.push(("x-project-id", project));
    }
    if let Some(token) = &creds.security_token {
        signed.push(("x-security-token", token));
    }
    let auth = authorization(
        &creds.access_key,
        &creds.secret_key,
        &date,
        &Request {
            method,
            path,
            query,
            headers: &signed,
            body: body.as_bytes(),
        },
    );
    // ureq writes the Host header itself, from the same authority.
    let mut headers: Vec<(&str, &str)> = vec![("X-Sdk-Date", &date), ("Authorization", &auth)];
    if let Some(project) = project {
        headers.push(("X-Project-Id", project));
    }
    if let Some(token) = &creds.security_token {
        headers.push(("X-Security-Token", token));
    }
    let body = if method == "GET" {
        cloud_http::Body::None
    } else {
        cloud_http::Body::Json(body)
    };
    cloud_http::send(agent, method, &url, &headers, body)?.json()
}

/// The time as `X-Sdk-Date` carries it: `YYYYMMDDTHHMMSSZ`, UTC.
pub(crate) fn sdk_date(unix: u64) -> String {
    let t = crate::tree::Timestamp::from_unix(unix as i64).to_rfc3339();
    // `YYYY-MM-DDTHH:MM:SSZ` without its separators.
    t.chars().filter(|c| *c != '-' && *c != ':').collect()
}

/// One request to sign. `path` is the URL path as sent (its segments
/// hold only unreserved characters, so it needs no escaping here);
/// `headers` are the headers to sign, the `host` and `x-sdk-date` ones
/// included.
pub(crate) struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a [(&'a str, &'a str)],
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// The `Authorization` header value for `request` at `date` (the value of
/// its `x-sdk-date` header):
///
/// ```text
/// canonical request = METHOD \n URI/ \n QUERY \n name:value\n… \n names;… \n hex(sha256(body))
/// string to sign    = SDK-HMAC-SHA256 \n DATE \n hex(sha256(canonical request))
/// signature         = hex(hmac-sha256(secret key, string to sign))
/// ```
///
/// The URI's segments are percent-escaped (all but `A-Za-z0-9_-~.`) and it
/// ends with `/`; the query is sorted by name, then value; headers are
/// lower-cased, sorted, their values trimmed; `content-type` and names
/// holding `_` are not signed (as the Go SDK's signer does).
pub(crate) fn authorization(access_key: &str, secret_key: &str, date: &str, r: &Request) -> String {
    let mut signed: Vec<(String, &str)> = r
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim()))
        .filter(|(k, _)| !k.starts_with("content-type") && !k.contains('_'))
        .collect();
    signed.sort();
    let names: Vec<&str> = signed.iter().map(|(k, _)| k.as_str()).collect();
    let names = names.join(";");
    let mut canonical_headers = String::new();
    for (k, v) in &signed {
        canonical_headers.push_str(k);
        canonical_headers.push(':');
        canonical_headers.push_str(v);
        canonical_headers.push('\n');
    }
    let mut uri: String = r.path.split('/').map(escape).collect::<Vec<_>>().join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    let mut query: Vec<(String, String)> = r
        .query
        .iter()
        .map(|(k, v)| (escape(k), escape(v)))
        .collect();
    query.sort();
    let query: Vec<String> = query.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    let canonical = format!(
        "{}\n{uri}\n{}\n{canonical_headers}\n{names}\n{}",
        r.method,
        query.join("&"),
        hex(&Sha256::digest(r.body))
    );
    let to_sign = format!(
        "{ALGORITHM}\n{date}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret_key.as_bytes());
    let signature = hex(hmac::sign(&key, to_sign.as_bytes()).as_ref());
    format!("{ALGORITHM} Access={access_key}, SignedHeaders={names}, Signature={signature}")
}

/// Percent-escapes all but `A-Za-z0-9_-~.` (upper-case hex).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'~' | b'.') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

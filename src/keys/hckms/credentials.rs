//! Where HuaweiCloud credentials come from (the environment, as the Go
//! SDK's environment provider reads it) and how a request is signed with
//! them: the `SDK-HMAC-SHA256` scheme of Huawei's API gateway.

use super::super::cloud_http::Env;
use ring::hmac;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The signing algorithm's name, first word of `Authorization`.
pub(crate) const ALGORITHM: &str = "SDK-HMAC-SHA256";

/// An access key pair, the optional security token of temporary
/// credentials, and the project the KMS calls are made in.
pub(crate) struct Credentials {
    pub access_key: String,
    pub secret_key: Zeroizing<String>,
    pub security_token: Option<Zeroizing<String>>,
    pub project_id: String,
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
        .map(|p| p.trim().to_string())
        .ok_or_else(|| {
            "HUAWEICLOUD_SDK_PROJECT_ID is not set: enseal needs the id of the project \
             of the key's region (IAM console, My Credentials > Projects); it does not \
             look it up"
                .to_string()
        })?;
    // It goes into the URL path: letters and digits only.
    if project_id.len() > 64 || !project_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!(
            "HUAWEICLOUD_SDK_PROJECT_ID {project_id:?} is not a project id (letters and digits)"
        ));
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

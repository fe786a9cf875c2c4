//! Small blocking HTTPS client shared by the GCP KMS, Azure Key Vault and
//! HuaweiCloud KMS backends: bounded timeouts, no redirects, one-line errors that carry the
//! HTTP status and the service's own message, and an environment lookup that
//! tests can replace.

use serde_json::Value as Json;
use std::collections::HashMap;
use std::time::Duration;
use zeroize::Zeroizing;

/// Default bound on one whole HTTP exchange (connect, send, receive).
const DEFAULT_TIMEOUT_SECS: u64 = 30;
/// Bound on establishing a connection.
const CONNECT_TIMEOUT_SECS: u64 = 10;
/// Largest response body read (token and key-operation answers are small).
const BODY_LIMIT: u64 = 1 << 20;

/// Where the backends read their settings and credentials from.
pub(crate) trait Env {
    /// The value of `name`, `None` when unset or empty.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub(crate) struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// A fixed set of variables (tests).
#[allow(dead_code)]
#[derive(Default, Clone)]
pub(crate) struct MapEnv(pub HashMap<String, String>);

#[allow(dead_code)]
impl MapEnv {
    /// The variables `pairs` (tests).
    pub fn of(pairs: &[(&str, &str)]) -> MapEnv {
        MapEnv(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }
}

impl Env for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).filter(|v| !v.is_empty()).cloned()
    }
}

/// The HTTP client: `ENSEAL_CLOUD_TIMEOUT` (seconds, default 30) bounds each
/// exchange; status codes are returned, not turned into errors; redirects
/// are not followed (so a bearer token never travels to another host). The
/// usual proxy variables (`HTTPS_PROXY`, `NO_PROXY`, …) apply, except to
/// loopback addresses, which are always reached directly.
pub(crate) struct Agent {
    proxied: ureq::Agent,
    direct: ureq::Agent,
}

/// Builds the [`Agent`] (no network traffic).
pub(crate) fn agent(env: &dyn Env) -> Agent {
    let secs = env
        .var("ENSEAL_CLOUD_TIMEOUT")
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 86_400.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(DEFAULT_TIMEOUT_SECS));
    let config = |proxy: Option<ureq::Proxy>| {
        ureq::Agent::config_builder()
            .timeout_global(Some(secs))
            .timeout_connect(Some(secs.min(Duration::from_secs(CONNECT_TIMEOUT_SECS))))
            .http_status_as_error(false)
            .max_redirects(0)
            .proxy(proxy)
            .user_agent(concat!("enseal/", env!("CARGO_PKG_VERSION")))
            .build()
            .into()
    };
    Agent {
        proxied: config(ureq::Proxy::try_from_env()),
        direct: config(None),
    }
}

impl Agent {
    fn for_url(&self, url: &str) -> &ureq::Agent {
        match url.strip_prefix("http://") {
            Some(rest) if is_loopback(rest) => &self.direct,
            _ => &self.proxied,
        }
    }
}

/// True when the authority at the start of `rest` (after `scheme://`) is a
/// loopback host.
fn is_loopback(rest: &str) -> bool {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    matches!(host, "127.0.0.1" | "localhost" | "::1")
}

/// A response: its status and body (zeroized on drop, since key-operation
/// answers carry key material and token answers carry credentials).
pub(crate) struct Response {
    pub status: u16,
    pub body: Zeroizing<String>,
}

impl Response {
    /// The body as JSON when the status is 2xx, else the service's error.
    pub fn json(&self) -> Result<Json, String> {
        if !(200..300).contains(&self.status) {
            return Err(service_error(self.status, &self.body));
        }
        serde_json::from_str(&self.body).map_err(|e| {
            format!(
                "HTTP {}: the response is not the expected JSON ({e})",
                self.status
            )
        })
    }
}

/// One request to send.
pub(crate) enum Body<'a> {
    /// No body (GET).
    None,
    /// A JSON document, already serialised.
    Json(&'a str),
    /// An `application/x-www-form-urlencoded` form.
    Form(&'a [(&'a str, &'a str)]),
    /// Raw bytes of the given content type (an uploaded file).
    #[cfg_attr(not(feature = "gcp"), allow(dead_code))]
    Bytes {
        /// The `Content-Type` header.
        content_type: &'a str,
        /// The body.
        bytes: &'a [u8],
    },
}

/// Sends one request and reads the whole response.
pub(crate) fn send(
    agent: &Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Body,
) -> Result<Response, String> {
    let agent = agent.for_url(url);
    let result = match (method, body) {
        ("GET", _) => {
            let mut req = agent.get(url);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            req.call()
        }
        (_, body) => {
            let mut req = agent.post(url);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            match body {
                Body::Json(text) => req.content_type("application/json").send(text),
                Body::Form(pairs) => req.send_form(pairs.iter().copied()),
                Body::Bytes {
                    content_type,
                    bytes,
                } => req.content_type(content_type).send(bytes),
                Body::None => req.send_empty(),
            }
        }
    };
    let mut response = result.map_err(transport_error)?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(BODY_LIMIT)
        .read_to_string()
        .map_err(transport_error)?;
    Ok(Response {
        status,
        body: Zeroizing::new(body),
    })
}

/// A transport failure in a few words.
fn transport_error(err: ureq::Error) -> String {
    match err {
        ureq::Error::Timeout(_) => "request timed out".to_string(),
        ureq::Error::ConnectionFailed => "connection failed".to_string(),
        ureq::Error::HostNotFound => "host not found".to_string(),
        ureq::Error::Io(e) => match e.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                "request timed out".to_string()
            }
            _ => format!("connection error: {e}"),
        },
        other => one_line(&other.to_string()),
    }
}

/// `HTTP <status>: <message>`, the message taken from the usual error
/// shapes (Google `{"error":{"message"}}`, Azure `{"error":{"code","message"}}`,
/// OAuth `{"error","error_description"}`, HuaweiCloud `{"error_code",
/// "error_msg"}` and `{"error":{"error_code","error_msg"}}`), else the start
/// of the body.
pub(crate) fn service_error(status: u16, body: &str) -> String {
    let message = serde_json::from_str::<Json>(body)
        .ok()
        .and_then(|json| json_error_message(&json))
        .unwrap_or_else(|| {
            let text: String = body.trim().chars().take(200).collect();
            text
        });
    let message = one_line(&message);
    if message.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {message}")
    }
}

fn json_error_message(json: &Json) -> Option<String> {
    let error = match json.get("error") {
        Some(error) => error,
        // HuaweiCloud's API gateway.
        None if json.get("error_msg").is_some() => json,
        None => return None,
    };
    match error {
        Json::Object(o) => {
            let message = o
                .get("message")
                .or_else(|| o.get("error_msg"))
                .and_then(Json::as_str);
            let code = o
                .get("status")
                .or_else(|| o.get("code"))
                .or_else(|| o.get("error_code"))
                .and_then(|c| c.as_str().map(str::to_string));
            match (code, message) {
                (Some(c), Some(m)) => Some(format!("{c}: {m}")),
                (None, Some(m)) => Some(m.to_string()),
                (Some(c), None) => Some(c),
                (None, None) => None,
            }
        }
        Json::String(code) => {
            let description = json
                .get("error_description")
                .and_then(Json::as_str)
                // Azure AD appends trace and correlation ids on new lines.
                .map(|d| d.lines().next().unwrap_or("").to_string());
            Some(match description {
                Some(d) if !d.is_empty() => format!("{code}: {d}"),
                _ => code.clone(),
            })
        }
        _ => None,
    }
}

/// Collapses whitespace runs (newlines included) into single spaces.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Refuses URLs that would send credentials in clear: `https://` is
/// required, except `http://` to a loopback host (local test servers).
pub(crate) fn check_url(url: &str) -> Result<(), String> {
    if url.starts_with("https://") {
        return Ok(());
    }
    if let Some(rest) = url.strip_prefix("http://") {
        if is_loopback(rest) {
            return Ok(());
        }
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        return Err(format!(
            "refusing plain http to {host:?}: only https, or http to 127.0.0.1/localhost, is allowed"
        ));
    }
    Err(format!("{url:?} is not an https:// URL"))
}

/// The origin of a service URL, `scheme://host[:port]` and nothing else,
/// checked strictly: a URL that comes from a file must not smuggle in
/// userinfo (`user@`), a path, a query, a fragment, escapes or whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    /// `https` (else `http`).
    pub https: bool,
    /// The host, lower-cased; an IPv6 address keeps its brackets.
    pub host: String,
    /// The port when the URL names one.
    pub port: Option<u16>,
}

impl Origin {
    /// Parses `https://host[:port]` or `http://host[:port]` (one trailing
    /// `/` is tolerated).
    pub(crate) fn parse(url: &str) -> Result<Origin, String> {
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err("it is not an https:// URL".into());
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains('@') {
            return Err("it holds a user name ('@')".into());
        }
        if authority.contains(['/', '?', '#', '\\']) {
            return Err("it must be scheme://host[:port], with no path, query or fragment".into());
        }
        let (host, port) = host_and_port(authority)?;
        Ok(Origin { https, host, port })
    }

    /// The port connected to: the explicit one, else 443 or 80.
    pub(crate) fn effective_port(&self) -> u16 {
        self.port.unwrap_or(if self.https { 443 } else { 80 })
    }

    /// True for 127.0.0.1, `localhost` and `[::1]`.
    pub(crate) fn is_loopback(&self) -> bool {
        matches!(self.host.as_str(), "127.0.0.1" | "localhost" | "[::1]")
    }

    /// `host` or `host:port`, as the URL wrote it (host lower-cased).
    pub(crate) fn authority(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }
}

/// Splits and checks `host[:port]`: a DNS name (letters, digits and `-` in
/// dot-separated labels), an IPv4 address or a bracketed IPv6 address, and
/// a decimal port from 1 to 65535. The host comes back lower-cased.
pub(crate) fn host_and_port(text: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(v6) = text.strip_prefix('[') {
        let (addr, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("{text:?} has an unclosed '['"))?;
        addr.parse::<std::net::Ipv6Addr>()
            .map_err(|_| format!("{addr:?} is not an IPv6 address"))?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| format!("{text:?} is not host[:port]"))?,
            ),
        };
        (format!("[{}]", addr.to_ascii_lowercase()), port)
    } else {
        let (host, port) = match text.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        };
        if !is_dns_name(host) {
            return Err(format!("{host:?} is not a host name"));
        }
        (host.to_ascii_lowercase(), port)
    };
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|n| *n != 0 && p.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| format!("{p:?} is not a port number"))?,
        ),
    };
    Ok((host, port))
}

/// A DNS name or IPv4 address: dot-separated labels of 1 to 63 letters,
/// digits and inner `-`, at most 253 characters; an all-numeric name must
/// be an IPv4 address.
pub(crate) fn is_dns_name(host: &str) -> bool {
    let labels_ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    let numeric = host.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    labels_ok && (!numeric || host.parse::<std::net::Ipv4Addr>().is_ok())
}

/// Percent-encodes one path segment (RFC 3986 unreserved characters and
/// `:`/`@` stay as they are).
pub(crate) fn path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':' | b'@') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The string value of a key-entry field; numbers are accepted as text
/// (a YAML file may hold an all-digit version unquoted).
pub(crate) fn field(fields: &crate::tree::Map, name: &str) -> Option<String> {
    use crate::tree::Value;
    match fields.get(name)? {
        Value::Str(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

pub(crate) use crate::keys::set_field;

/// Rebuilds `fields` with `order` first (those present), in that order,
/// followed by anything else, as sops writes a new key entry.
pub(crate) fn order_fields(fields: &mut crate::tree::Map, order: &[&str]) {
    use crate::tree::Item;
    let mut rest = std::mem::take(&mut fields.0);
    for name in order {
        if let Some(i) = rest
            .iter()
            .position(|item| matches!(item, Item::Entry(k, _) if k == name))
        {
            fields.0.push(rest.remove(i));
        }
    }
    fields.0.extend(rest);
}

/// Posts an OAuth form and reads `access_token` and `expires_in`.
pub(crate) fn token_request(
    agent: &Agent,
    url: &str,
    form: &[(&str, &str)],
) -> Result<(Zeroizing<String>, u64), String> {
    let response = send(agent, "POST", url, &[], Body::Form(form))?;
    read_token(&response)
}

/// Reads an OAuth token answer: `access_token` and `expires_in` (a number,
/// or a string as Azure's managed identity endpoint sends it).
pub(crate) fn read_token(response: &Response) -> Result<(Zeroizing<String>, u64), String> {
    let mut json = response.json()?;
    let expires_in = json
        .get("expires_in")
        .and_then(|e| e.as_u64().or_else(|| e.as_str()?.parse().ok()))
        .unwrap_or(3600);
    match json.get_mut("access_token") {
        Some(Json::String(t)) if !t.is_empty() => {
            Ok((Zeroizing::new(std::mem::take(t)), expires_in))
        }
        _ => Err("the token response has no access_token".into()),
    }
}

/// Tokens obtained in this process, by a digest of their credentials:
/// (digest, token, expiry in Unix seconds).
type CacheEntry = ([u8; 32], Zeroizing<String>, u64);
static CACHE: std::sync::Mutex<Vec<CacheEntry>> = std::sync::Mutex::new(Vec::new());

/// A SHA-256 digest of credential material (the token cache key).
pub(crate) fn digest(parts: &[&[u8]]) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for part in parts {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// A cached token for these credentials with at least a minute left.
pub(crate) fn cached(digest: &[u8; 32]) -> Option<Zeroizing<String>> {
    let now = unix_now();
    let cache = CACHE.lock().ok()?;
    cache
        .iter()
        .find(|(d, _, expiry)| d == digest && *expiry > now + 60)
        .map(|(_, t, _)| t.clone())
}

/// Remembers a token for the rest of the process.
pub(crate) fn store(digest: [u8; 32], token: &Zeroizing<String>, expires_in: u64) {
    if let Ok(mut cache) = CACHE.lock() {
        cache.retain(|(d, _, _)| *d != digest);
        cache.push((digest, token.clone(), unix_now() + expires_in));
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Reads a credential file named by an environment variable.
pub(crate) fn read_credential_file(var: &str, path: &str) -> Result<Zeroizing<String>, String> {
    std::fs::read_to_string(path)
        .map(Zeroizing::new)
        .map_err(|e| format!("cannot read {var} file {path:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_of_each_service_shape() {
        let google = r#"{"error":{"code":403,"message":"Permission 'cloudkms.cryptoKeyVersions.useToEncrypt' denied","status":"PERMISSION_DENIED"}}"#;
        assert_eq!(
            service_error(403, google),
            "HTTP 403: PERMISSION_DENIED: Permission 'cloudkms.cryptoKeyVersions.useToEncrypt' denied"
        );
        let azure = r#"{"error":{"code":"Forbidden","message":"The user does not have keys encrypt permission"}}"#;
        assert_eq!(
            service_error(403, azure),
            "HTTP 403: Forbidden: The user does not have keys encrypt permission"
        );
        let oauth = "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: Invalid client secret.\\r\\nTrace ID: x\"}";
        assert_eq!(
            service_error(401, oauth),
            "HTTP 401: invalid_client: AADSTS7000215: Invalid client secret."
        );
        let huawei = r#"{"error_msg":"Incorrect IAM authentication information: verify aksk signature fail","error_code":"APIGW.0301","request_id":"r"}"#;
        assert_eq!(
            service_error(401, huawei),
            "HTTP 401: APIGW.0301: Incorrect IAM authentication information: verify aksk signature fail"
        );
        let kms = r#"{"error":{"error_code":"KMS.0205","error_msg":"The key does not exist."}}"#;
        assert_eq!(
            service_error(400, kms),
            "HTTP 400: KMS.0205: The key does not exist."
        );
        assert_eq!(service_error(500, "oops\nbad"), "HTTP 500: oops bad");
        assert_eq!(service_error(502, ""), "HTTP 502");
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(check_url("https://example.vault.azure.net").is_ok());
        assert!(check_url("http://127.0.0.1:8080/x").is_ok());
        assert!(check_url("http://localhost/x").is_ok());
        assert!(check_url("http://[::1]:9/x").is_ok());
        assert!(check_url("http://example.com/x").is_err());
        assert!(check_url("http://127.0.0.1.evil.com/x").is_err());
        assert!(check_url("ftp://x").is_err());
    }

    #[test]
    fn origins_are_parsed_strictly() {
        let o = Origin::parse("https://My-Vault.vault.azure.net/").unwrap();
        assert_eq!(
            (o.https, o.host.as_str(), o.port),
            (true, "my-vault.vault.azure.net", None)
        );
        assert_eq!(o.effective_port(), 443);
        let o = Origin::parse("http://127.0.0.1:8200").unwrap();
        assert!(o.is_loopback() && !o.https);
        assert_eq!(o.authority(), "127.0.0.1:8200");
        assert!(Origin::parse("http://[::1]:9").unwrap().is_loopback());
        for bad in [
            "https://v.vault.azure.net@evil.example",
            "https://user:pw@v.vault.azure.net",
            "https://evil.example/v.vault.azure.net",
            "https://evil.example?.vault.azure.net",
            "https://evil.example#.vault.azure.net",
            "https://evil.example\\.vault.azure.net",
            "https://v.vault.azure.net//",
            "https://v.vault.azure.net:0",
            "https://v.vault.azure.net:99999",
            "https://v.vault.azure.net:+443",
            "https://v.vault.azure.net:",
            "https://v%2evault.azure.net",
            "https://v vault.azure.net",
            "https://v.vault.azure.net.",
            "https://-v.vault.azure.net",
            "https://999.1.1.1",
            "https://[::1",
            "https://[nope]",
            "https://",
            "ftp://v.vault.azure.net",
            "HTTPS://v.vault.azure.net",
        ] {
            assert!(Origin::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn segments_are_escaped() {
        assert_eq!(path_segment("key-1_a.b"), "key-1_a.b");
        assert_eq!(path_segment("a/b?c#d e"), "a%2Fb%3Fc%23d%20e");
    }

    #[test]
    fn fields_are_put_in_order() {
        use crate::tree::{Map, Value};
        let mut m = Map::new();
        m.push("enc", Value::Str("e".into()));
        m.push("extra", Value::Str("x".into()));
        m.push("resource_id", Value::Str("r".into()));
        order_fields(&mut m, &["resource_id", "created_at", "enc"]);
        let keys: Vec<&str> = m.entries().map(|(k, _)| k).collect();
        assert_eq!(keys, ["resource_id", "enc", "extra"]);
    }
}

/// The request side of the loopback lookalikes (one request read from a
/// connection, and what tests ask of it): the integration tests' own file,
/// `tests/common/http_mock.rs`, so that unit and integration tests read
/// requests alike.
#[cfg(test)]
#[path = "../../tests/common/http_mock.rs"]
pub(crate) mod http_request;

/// A loopback HTTP server for tests: answers with a handler, records every
/// request.
#[cfg(test)]
pub(crate) mod mock {
    use std::io::Write;
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    use super::http_request::read_request;
    pub(crate) use super::http_request::Request;

    type Handler = dyn Fn(&Request) -> (u16, String) + Send + Sync;

    /// A running mock server.
    pub(crate) struct Mock {
        /// `http://127.0.0.1:<port>`.
        pub url: String,
        pub requests: Arc<Mutex<Vec<Request>>>,
    }

    impl Mock {
        pub fn start(handler: impl Fn(&Request) -> (u16, String) + Send + Sync + 'static) -> Mock {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let requests = Arc::new(Mutex::new(Vec::new()));
            let seen = requests.clone();
            let handler: Arc<Handler> = Arc::new(handler);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(mut stream) = stream else { continue };
                    let seen = seen.clone();
                    let handler = handler.clone();
                    std::thread::spawn(move || {
                        let Some(request) = read_request(&mut stream) else {
                            return;
                        };
                        seen.lock().unwrap().push(request.clone());
                        let (status, body) = handler(&request);
                        let _ = write!(
                            stream,
                            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n\
                             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                    });
                }
            });
            Mock { url, requests }
        }

        pub fn requests(&self) -> Vec<Request> {
            self.requests.lock().unwrap().clone()
        }
    }

    /// A port nothing listens on.
    pub(crate) fn closed_port_url() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        url
    }

    /// The mock "KMS" cipher: a reversible transform tagged with the key
    /// name, so that decrypting with another key fails.
    pub(crate) fn seal(key: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut out = format!("mock:{key}:").into_bytes();
        out.extend(
            plaintext
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ 0x5a ^ i as u8),
        );
        out
    }

    /// Inverse of [`seal`]; `None` for another key's ciphertext.
    pub(crate) fn open(key: &str, ciphertext: &[u8]) -> Option<Vec<u8>> {
        let prefix = format!("mock:{key}:");
        let body = ciphertext.strip_prefix(prefix.as_bytes())?;
        Some(
            body.iter()
                .enumerate()
                .map(|(i, b)| b ^ 0x5a ^ i as u8)
                .collect(),
        )
    }

    /// A test RSA key (PKCS#8 PEM) generated now with `openssl`, or `None`
    /// (with a note) when openssl is missing outside CI.
    pub(crate) fn test_rsa_key() -> Option<String> {
        let out = std::process::Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ])
            .output();
        match out {
            Ok(o) if o.status.success() => Some(String::from_utf8(o.stdout).unwrap()),
            _ if std::env::var_os("CI").is_some() => panic!("openssl is needed in CI"),
            _ => {
                eprintln!("skipped: openssl not available to generate a test RSA key");
                None
            }
        }
    }
}

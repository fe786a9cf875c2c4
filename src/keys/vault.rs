//! HashiCorp Vault / OpenBao transit master keys (`hc_vault` in the
//! metadata): the data key is wrapped with `POST /v1/<engine>/encrypt/<key>`
//! and stored as the `vault:v1:…` ciphertext in `enc`.
//!
//! As in sops, the address comes from the key itself (`vault_address`), not
//! from `VAULT_ADDR`. The token is `VAULT_TOKEN`, else the contents of
//! `~/.vault-token` (what `vault login` writes); `VAULT_NAMESPACE` is sent
//! as the `X-Vault-Namespace` header. Requests time out after
//! [`CONNECT_TIMEOUT`] (connection) and [`REQUEST_TIMEOUT`] (whole request).
//! Plaintext request and response bodies live in zeroized buffers and never
//! appear in errors.
//!
//! The address, engine path and key name are written in the file, which is
//! not trusted (a pull request, another branch, a cloned repository). Before
//! any request, [`check_destination`] applies `SOPS_HC_VAULT_ALLOWLIST` as
//! sops 3.13 does ([`Allowlist`]) and, stricter than sops, refuses to send
//! the token over plain `http://` to anything but a loopback address, to an
//! address with user info, or to a path that leaves the transit operation
//! (`..`, `?`, `#`, `%`). Redirects are never followed.

use std::time::Duration;

use base64::Engine;
use zeroize::Zeroizing;

use super::{created_at_now, field, set_field};
use crate::tree::Map;

/// How long connecting to Vault may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one request to Vault may take in all, unless
/// `ENSEAL_VAULT_TIMEOUT` gives another number of seconds (1–600).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The request timeout in effect.
pub(crate) fn request_timeout() -> Duration {
    std::env::var("ENSEAL_VAULT_TIMEOUT")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|n| (1..=600).contains(n))
        .map(Duration::from_secs)
        .unwrap_or(REQUEST_TIMEOUT)
}

/// The variable listing the Vault addresses a token may be sent to.
pub const ALLOWLIST_VAR: &str = "SOPS_HC_VAULT_ALLOWLIST";

/// `SOPS_HC_VAULT_ALLOWLIST`, parsed as sops 3.13 parses it: `all` (the
/// default, also when the variable is empty), `none`, or comma-separated
/// address prefixes (trimmed of spaces, `/` appended when missing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowlist {
    /// Every address is allowed.
    pub all: bool,
    /// Allowed prefixes, each ending with `/` (empty with `none`).
    pub prefixes: Vec<String>,
    /// Made by [`Allowlist::trusted_by_default`], not from the variable.
    pub by_default: bool,
}

impl Allowlist {
    /// Parses a non-empty allowlist value; an empty entry is an error in
    /// sops' words (`SOPS_HC_VAULT_ALLOWLIST's entry 2 is empty`).
    pub fn parse(text: &str) -> Result<Allowlist, String> {
        match text {
            "all" => {
                return Ok(Allowlist {
                    all: true,
                    prefixes: Vec::new(),
                    by_default: false,
                })
            }
            "none" => {
                return Ok(Allowlist {
                    all: false,
                    prefixes: Vec::new(),
                    by_default: false,
                })
            }
            _ => {}
        }
        let mut prefixes = Vec::new();
        for (index, entry) in text.split(',').enumerate() {
            let entry = entry.trim_matches(' ');
            if entry.is_empty() {
                return Err(format!("{ALLOWLIST_VAR}'s entry {} is empty", index + 1));
            }
            let mut prefix = entry.to_string();
            if !prefix.ends_with('/') {
                prefix.push('/');
            }
            prefixes.push(prefix);
        }
        Ok(Allowlist {
            all: false,
            prefixes,
            by_default: false,
        })
    }

    /// The allowlist in effect: the variable when set and not empty, else
    /// [`Allowlist::trusted_by_default`] (stricter than sops, whose default
    /// is `all`).
    pub fn from_environment() -> Result<Allowlist, String> {
        match std::env::var_os(ALLOWLIST_VAR) {
            Some(value) if !value.is_empty() => match value.to_str() {
                Some(text) => Allowlist::parse(text),
                None => Err(format!("{ALLOWLIST_VAR} is not valid UTF-8")),
            },
            _ => Ok(Allowlist::trusted_by_default(
                std::env::var("VAULT_ADDR").ok().as_deref(),
                &named_by_user(),
            )),
        }
    }

    /// The default without `SOPS_HC_VAULT_ALLOWLIST`: the addresses the
    /// user gave, never one that only a file names — `VAULT_ADDR` and the
    /// Vault keys of this run's command line and `.sops.yaml`
    /// ([`trust_address`]).
    pub fn trusted_by_default(vault_addr: Option<&str>, named: &[String]) -> Allowlist {
        let mut prefixes: Vec<String> = vault_addr
            .into_iter()
            .chain(named.iter().map(String::as_str))
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(|a| format!("{}/", a.trim_end_matches('/')))
            .collect();
        prefixes.dedup();
        Allowlist {
            all: false,
            prefixes,
            by_default: true,
        }
    }

    /// Whether `address` may be used: with a `/` appended when missing, it
    /// starts with one of the prefixes (plain text, as sops compares).
    pub fn allows(&self, address: &str) -> bool {
        if self.all {
            return true;
        }
        let address = if address.ends_with('/') {
            address.to_string()
        } else {
            format!("{address}/")
        };
        self.prefixes
            .iter()
            .any(|p| address.starts_with(p.as_str()))
    }
}

/// Vault addresses that the user named in this run (command line,
/// `.sops.yaml`): trusted like `VAULT_ADDR` when `SOPS_HC_VAULT_ALLOWLIST` is
/// not set.
static NAMED_BY_USER: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Records `address` as named by the user (a Vault key from the command line
/// or `.sops.yaml`, never one read from a file's metadata).
pub fn trust_address(address: &str) {
    let mut named = NAMED_BY_USER.lock().unwrap_or_else(|e| e.into_inner());
    if !named.iter().any(|a| a == address) {
        named.push(address.to_string());
    }
}

fn named_by_user() -> Vec<String> {
    NAMED_BY_USER
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

/// Whether `host` (as a URL gives it, IPv6 in brackets) is a loopback
/// address: `localhost`, 127.0.0.0/8 or `::1`.
fn is_loopback_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// Whether a path segment from the file may go into the request URL:
/// letters, digits and `_ . @ -`, and not `.` or `..`.
fn is_plain_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment != "."
        && segment != ".."
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'@' | b'-'))
}

/// Checks, before anything is sent, that the token may go to `key`:
/// `SOPS_HC_VAULT_ALLOWLIST` allows its address (sops' rule and message),
/// the address is `https://`, or `http://` to a loopback address, without
/// user info, and the engine path and key name are plain path segments.
/// Every refusal is one line naming the address and what to do.
fn check_destination(key: &Key) -> Result<(), String> {
    check_destination_with(key, &Allowlist::from_environment()?)
}

/// Checks that the token may be sent to `address`: the allowlist allows
/// it, and it is `https://`, or `http://` to a loopback address, with plain
/// path segments and no user info (also used by `publish`).
pub(crate) fn check_address_with(address: &str, allowlist: &Allowlist) -> Result<(), String> {
    if !allowlist.allows(address) {
        let why = if !allowlist.by_default {
            ""
        } else {
            "; without it only VAULT_ADDR and the Vault keys of the command line and .sops.yaml are trusted, never an address that only a file names"
        };
        return Err(format!(
            "Allowlist does not allow {} (add it to {ALLOWLIST_VAR} if this Vault is yours{why})",
            address.escape_debug()
        ));
    }
    let malformed = || {
        format!(
            "refusing Vault address {:?}: expected https://<host>[:<port>] (letters, digits and '.', ':', '-', '_', '[', ']', '/' only)",
            address
        )
    };
    let address_chars_ok = address.bytes().all(|b| {
        b.is_ascii_alphanumeric() || matches!(b, b'.' | b':' | b'-' | b'_' | b'[' | b']' | b'/')
    });
    if !address_chars_ok {
        return Err(malformed());
    }
    let uri: ureq::http::Uri = address.parse().map_err(|_| malformed())?;
    let host = uri.host().unwrap_or_default();
    let path_ok = uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .all(is_plain_segment);
    if host.is_empty() || !path_ok {
        return Err(malformed());
    }
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if is_loopback_host(host) => {}
        Some("http") => {
            return Err(format!(
                "refusing to send the Vault token over plain http to {}: use https:// (plain http is allowed only to 127.0.0.1, ::1 or localhost)",
                address
            ))
        }
        _ => return Err(malformed()),
    }
    Ok(())
}

/// [`check_destination`] with a given allowlist.
fn check_destination_with(key: &Key, allowlist: &Allowlist) -> Result<(), String> {
    check_address_with(key.address, allowlist)?;
    let engine = key.engine.trim_matches('/');
    if !engine.split('/').all(is_plain_segment) || !is_plain_segment(key.name) {
        return Err(format!(
            "refusing Vault transit key {}: the engine path and key name may hold only letters, digits and '_', '.', '@', '-' (no '..', '?', '#', '%')",
            key.uri().escape_debug()
        ));
    }
    Ok(())
}

/// The parts of a Vault transit key entry.
struct Key<'m> {
    address: &'m str,
    engine: &'m str,
    name: &'m str,
}

impl<'m> Key<'m> {
    fn of(fields: &'m Map) -> Result<Key<'m>, String> {
        let key = Key {
            address: field(fields, "vault_address"),
            engine: field(fields, "engine_path"),
            name: field(fields, "key_name"),
        };
        if key.address.is_empty() || key.engine.is_empty() || key.name.is_empty() {
            return Err(format!(
                "Vault transit key {}: vault_address, engine_path and key_name must all be set",
                key.uri()
            ));
        }
        Ok(key)
    }

    /// The key as sops names it: `<address>/v1/<engine>/keys/<name>`.
    fn uri(&self) -> String {
        format!("{}/v1/{}/keys/{}", self.address, self.engine, self.name)
    }

    /// The API URL of `operation` (`encrypt` / `decrypt`) for this key.
    fn url(&self, operation: &str) -> String {
        format!(
            "{}/v1/{}/{operation}/{}",
            self.address.trim_end_matches('/'),
            self.engine.trim_matches('/'),
            self.name
        )
    }
}

/// Wraps `secret` (a data key or Shamir share) for the key described by
/// `fields`, filling its `enc` and `created_at` fields.
pub fn wrap(fields: &mut Map, secret: &[u8]) -> Result<(), String> {
    let ciphertext = {
        let key = Key::of(fields)?;
        let encoded = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(secret));
        let body = Zeroizing::new(format!("{{\"plaintext\":\"{}\"}}", encoded.as_str()));
        let response = call(&key, "encrypt", &body).map_err(|e| {
            format!(
                "failed to encrypt sops data key to Vault transit backend '{}/encrypt/{}': {e}",
                key.engine, key.name
            )
        })?;
        let ciphertext = json_string_field(&response, "ciphertext").ok_or_else(|| {
            format!(
                "Vault transit key {}: the encrypt response has no ciphertext",
                key.uri()
            )
        })?;
        if !ciphertext.starts_with("vault:") {
            return Err(format!(
                "Vault transit key {}: unexpected ciphertext format from Vault",
                key.uri()
            ));
        }
        ciphertext.to_string()
    };
    set_field(fields, "enc", ciphertext);
    set_field(fields, "created_at", created_at_now());
    Ok(())
}

/// Unwraps the data key or share stored in `fields`.
pub fn unwrap(fields: &Map) -> Result<Zeroizing<Vec<u8>>, String> {
    let key = Key::of(fields)?;
    let enc = field(fields, "enc");
    if enc.is_empty() {
        return Err(format!(
            "Vault transit key {}: no encrypted data key (enc) stored",
            key.uri()
        ));
    }
    if enc.contains(['"', '\\']) || enc.chars().any(char::is_control) {
        return Err(format!(
            "Vault transit key {}: the stored ciphertext is malformed",
            key.uri()
        ));
    }
    let body = format!("{{\"ciphertext\":\"{enc}\"}}");
    let response = call(&key, "decrypt", &body).map_err(|e| {
        format!(
            "failed to decrypt sops data key from Vault transit key {}: {e}",
            key.uri()
        )
    })?;
    let encoded = json_string_field(&response, "plaintext").ok_or_else(|| {
        format!(
            "Vault transit key {}: the decrypt response has no plaintext",
            key.uri()
        )
    })?;
    let mut out = Zeroizing::new(Vec::new());
    base64::engine::general_purpose::STANDARD
        .decode_vec(encoded, &mut out)
        .map_err(|_| {
            format!(
                "Vault transit key {}: the decrypted data key is not valid base64",
                key.uri()
            )
        })?;
    Ok(out)
}

/// The token: `VAULT_TOKEN`, else `~/.vault-token`.
pub(crate) fn token() -> Result<Zeroizing<String>, String> {
    if let Some(token) = std::env::var("VAULT_TOKEN").ok().filter(|t| !t.is_empty()) {
        return Ok(Zeroizing::new(token));
    }
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty());
    if let Some(path) = home.map(|h| std::path::Path::new(&h).join(".vault-token")) {
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let text = Zeroizing::new(text);
                let token = text.trim();
                if !token.is_empty() {
                    return Ok(Zeroizing::new(token.to_string()));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        }
    }
    Err("no Vault token: set VAULT_TOKEN or log in with `vault login` (~/.vault-token)".into())
}

/// POSTs `body` to the `operation` endpoint of `key`; returns the response
/// body (zeroized on drop) of a 2xx answer, else a one-line error with the
/// HTTP status and Vault's messages, or the connection failure.
fn call(key: &Key, operation: &str, body: &str) -> Result<Zeroizing<String>, String> {
    check_destination(key)?;
    let token = token()?;
    let agent = agent()?;
    let mut request = agent
        .post(key.url(operation))
        .header("X-Vault-Token", token.as_str())
        .header("X-Vault-Request", "true")
        .header("Content-Type", "application/json");
    if let Some(ns) = std::env::var("VAULT_NAMESPACE")
        .ok()
        .filter(|n| !n.is_empty())
    {
        request = request.header("X-Vault-Namespace", ns);
    }
    let mut response = request.send(body).map_err(transport_error)?;
    let status = response.status();
    let text = Zeroizing::new(
        response
            .body_mut()
            .with_config()
            .limit(1024 * 1024)
            .read_to_string()
            .map_err(transport_error)?,
    );
    if status.is_success() {
        return Ok(text);
    }
    Err(error_answer(status.as_u16(), &text))
}

/// A Vault error answer as one line: the status and Vault's `errors`
/// messages (whitespace folded), e.g. `Vault answered HTTP 403: permission
/// denied`.
pub(crate) fn error_answer(status: u16, text: &str) -> String {
    let messages: Vec<String> = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| {
            v.get("errors").and_then(|e| e.as_array()).map(|list| {
                list.iter()
                    .filter_map(|m| m.as_str())
                    .map(|m| m.split_whitespace().collect::<Vec<_>>().join(" "))
                    .collect()
            })
        })
        .unwrap_or_default();
    if messages.is_empty() {
        format!("Vault answered HTTP {status}")
    } else {
        format!("Vault answered HTTP {status}: {}", messages.join("; "))
    }
}

/// TLS settings from the Vault client's variables, which sops honours too:
/// `VAULT_CACERT` (a PEM file of CA certificates to trust instead of the
/// bundled Mozilla roots) and `VAULT_SKIP_VERIFY` (true: no verification).
/// The HTTP client of every Vault request (transit keys, `publish`):
/// Vault's TLS settings, bounded timeouts, statuses returned rather than
/// turned into errors, no redirects (the token never follows one).
pub(crate) fn agent() -> Result<ureq::Agent, String> {
    Ok(ureq::Agent::config_builder()
        .tls_config(tls_config()?)
        .timeout_connect(Some(CONNECT_TIMEOUT.min(request_timeout())))
        .timeout_global(Some(request_timeout()))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into())
}

pub(crate) fn tls_config() -> Result<ureq::tls::TlsConfig, String> {
    use ureq::tls::{PemItem, RootCerts, TlsConfig};
    let mut builder = TlsConfig::builder();
    if let Some(path) = std::env::var_os("VAULT_CACERT").filter(|p| !p.is_empty()) {
        let shown = std::path::Path::new(&path).display().to_string();
        let pem =
            std::fs::read(&path).map_err(|e| format!("cannot read VAULT_CACERT {shown}: {e}"))?;
        let certs: Vec<_> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if certs.is_empty() {
            return Err(format!("VAULT_CACERT {shown} holds no PEM certificate"));
        }
        builder = builder.root_certs(RootCerts::new_with_certs(&certs));
    }
    let skip = std::env::var("VAULT_SKIP_VERIFY")
        .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "t" | "true"))
        .unwrap_or(false);
    if skip {
        builder = builder.disable_verification(true);
    }
    Ok(builder.build())
}

/// A ureq failure as a short cause.
pub(crate) fn transport_error(e: ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => format!(
            "no answer from Vault within {} seconds (timeout)",
            request_timeout().as_secs()
        ),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused (is Vault running at this address?)".into()
        }
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => format!(
            "could not connect to Vault within {} seconds (timeout)",
            CONNECT_TIMEOUT.min(request_timeout()).as_secs()
        ),
        ureq::Error::HostNotFound => "host not found".into(),
        other => other.to_string(),
    }
}

/// The string value of the first `"name": "…"` in `json` (Vault puts it
/// under `data`). Read by hand so that the plaintext is never copied into
/// buffers that are not zeroized. Values with escapes are not expected
/// (base64 and `vault:v1:…` text) and yield `None`.
fn json_string_field<'j>(json: &'j str, name: &str) -> Option<&'j str> {
    let needle = format!("\"{name}\"");
    let mut rest = json;
    while let Some(at) = rest.find(&needle) {
        let after = rest[at + needle.len()..].trim_start();
        if let Some(value) = after.strip_prefix(':') {
            let value = value.trim_start().strip_prefix('"')?;
            let end = value.find('"')?;
            let text = &value[..end];
            return (!text.contains('\\')).then_some(text);
        }
        rest = &rest[at + needle.len()..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefixes(list: &[&str]) -> Allowlist {
        Allowlist {
            all: false,
            prefixes: list.iter().map(|p| p.to_string()).collect(),
            by_default: false,
        }
    }

    #[test]
    fn allowlists_parse_like_sops() {
        let all = Allowlist {
            all: true,
            prefixes: vec![],
            by_default: false,
        };
        assert_eq!(Allowlist::parse("all"), Ok(all));
        assert_eq!(Allowlist::parse("none"), Ok(prefixes(&[])));
        assert_eq!(Allowlist::parse("non"), Ok(prefixes(&["non/"])));
        assert_eq!(
            Allowlist::parse("foo,bar/,baz"),
            Ok(prefixes(&["foo/", "bar/", "baz/"]))
        );
        assert_eq!(
            Allowlist::parse(" foo/ ,  bar,   baz    "),
            Ok(prefixes(&["foo/", "bar/", "baz/"]))
        );
        for (text, entry) in [("", 1), (",", 1), (",a", 1), ("a,", 2), ("a, ,b", 2)] {
            assert_eq!(
                Allowlist::parse(text),
                Err(format!("SOPS_HC_VAULT_ALLOWLIST's entry {entry} is empty")),
                "{text:?}"
            );
        }
    }

    #[test]
    fn allowlists_match_like_sops() {
        let all = Allowlist::parse("all").unwrap();
        let none = Allowlist::parse("none").unwrap();
        for address in ["", "foo", "http://example.com", "https://example.com/foo"] {
            assert!(all.allows(address), "{address}");
            assert!(!none.allows(address), "{address}");
        }
        let list =
            Allowlist::parse("http://example.com, https://example.org/bar/,http://foo:80").unwrap();
        for (address, allowed) in [
            ("http://example.com", true),
            ("http://example.com/", true),
            ("http://example.com/foo", true),
            ("http://example.co", false),
            ("http://example.comm", false),
            ("http://example.com:80", false),
            ("http://fiz@example.com/", false),
            ("http://example.com:123/", false),
            ("https://example.com", false),
            ("http://example.com.evil.example", false),
            ("http://example.com@evil.example", false),
            ("https://example.org", false),
            ("https://example.org/bar", true),
            ("https://example.org/barr", false),
            ("https://example.org/bar/baz", true),
            ("http://foo", false),
            ("http://foo:80", true),
            ("http://foo:8080/", false),
            ("", false),
        ] {
            assert_eq!(list.allows(address), allowed, "{address}");
        }
    }

    /// The destination check of a key at `address` (engine `transit`, key
    /// `sops` unless given in `address` as `…|engine|name`).
    fn destination(address: &str, allowlist: &str) -> Result<(), String> {
        let mut parts = address.split('|');
        let key = Key {
            address: parts.next().unwrap(),
            engine: parts.next().unwrap_or("transit"),
            name: parts.next().unwrap_or("sops"),
        };
        check_destination_with(&key, &Allowlist::parse(allowlist).unwrap())
    }

    #[test]
    fn tokens_go_over_https_or_to_loopback_only() {
        for ok in [
            "https://vault.example.com",
            "https://vault.example.com:8200/",
            "https://vault.example.com/prefix",
            "http://127.0.0.1:8200",
            "http://127.3.4.5:8200",
            "http://localhost:8200",
            "http://LOCALHOST",
            "http://[::1]:8200",
        ] {
            assert_eq!(destination(ok, "all"), Ok(()), "{ok}");
        }
        for plain in [
            "http://vault.example.com:8200",
            "http://10.0.0.1",
            "http://[::ffff:127.0.0.1]",
            "http://127.1",
            "http://localhost.evil.example",
        ] {
            let err = destination(plain, "all").unwrap_err();
            assert_eq!(
                err,
                format!("refusing to send the Vault token over plain http to {plain}: use https:// (plain http is allowed only to 127.0.0.1, ::1 or localhost)")
            );
        }
        // Even an allowlist naming it does not allow plain http elsewhere.
        assert!(
            destination("http://vault.example.com", "http://vault.example.com")
                .unwrap_err()
                .starts_with("refusing to send the Vault token over plain http")
        );
        for malformed in [
            "https://vault.example.com@evil.example",
            "https://user:pw@vault.example.com",
            "https://vault.example.com#@evil.example",
            "https://vault.example.com?x=@evil.example",
            "https://vault.example.com\\@evil.example",
            "https://vault.example.com/%2e%2e/",
            "https://vault.example.com/../sys",
            "https://vault example.com",
            "https://vault.example.com\n",
            "ftp://vault.example.com",
            "vault.example.com",
            "https://",
        ] {
            let err = destination(malformed, "all").unwrap_err();
            assert!(
                err.starts_with("refusing Vault address"),
                "{malformed}: {err}"
            );
            assert!(!err.contains('\n'), "{err}");
        }
        for (engine, name) in [
            ("transit/../../sys", "seal"),
            ("transit", ".."),
            ("transit", "k?x=1"),
            ("transit", "k#x"),
            ("transit", "k%2F..%2Fsys"),
            ("sys/seal?", "k"),
            ("transit", "a/../../sys/seal"),
        ] {
            let err =
                destination(&format!("https://v.example|{engine}|{name}"), "all").unwrap_err();
            assert!(
                err.starts_with("refusing Vault transit key"),
                "{engine} {name}: {err}"
            );
        }
        assert_eq!(
            destination("https://v.example|team/a/transit|my_key-1.x", "all"),
            Ok(())
        );
    }

    #[test]
    fn by_default_only_addresses_the_user_named_are_trusted() {
        let named = vec!["https://from-sops-yaml.example:8200".to_string()];
        let list = Allowlist::trusted_by_default(Some("https://vault.example.com/"), &named);
        assert!(list.allows("https://vault.example.com"));
        assert!(list.allows("https://from-sops-yaml.example:8200"));
        assert!(!list.allows("https://vault.example.com.evil.example"));
        assert!(!list.allows("https://evil.example"));
        let nothing = Allowlist::trusted_by_default(None, &[]);
        assert!(!nothing.allows("https://vault.example.com"));
        assert!(!nothing.allows("http://127.0.0.1:8200"));
        let key = Key {
            address: "https://evil.example",
            engine: "transit",
            name: "k",
        };
        let err = check_destination_with(&key, &nothing).unwrap_err();
        assert!(
            err.starts_with(
                "Allowlist does not allow https://evil.example (add it to SOPS_HC_VAULT_ALLOWLIST"
            ) && err.contains("never an address that only a file names")
                && !err.contains('\n'),
            "{err}"
        );
    }

    #[test]
    fn the_allowlist_refuses_with_sops_words_and_a_way_out() {
        let err =
            destination("https://evil.example:8200", "https://vault.example.com").unwrap_err();
        assert_eq!(
            err,
            "Allowlist does not allow https://evil.example:8200 (add it to SOPS_HC_VAULT_ALLOWLIST if this Vault is yours)"
        );
        assert!(destination("https://evil.example", "none").is_err());
        assert_eq!(
            destination("https://vault.example.com", "https://vault.example.com"),
            Ok(())
        );
        // Prefix matching is on the text; the trailing `/` keeps the host whole.
        assert!(destination(
            "https://vault.example.com.evil.example",
            "https://vault.example.com"
        )
        .is_err());
    }

    #[test]
    fn json_fields_are_found_under_data() {
        let body = r#"{"request_id":"x","data":{"key_version":1, "plaintext" : "c2VjcmV0"},"plaintext_x":1}"#;
        assert_eq!(json_string_field(body, "plaintext"), Some("c2VjcmV0"));
        assert_eq!(json_string_field(body, "ciphertext"), None);
        assert_eq!(
            json_string_field(r#"{"plaintext":"a\"b"}"#, "plaintext"),
            None
        );
        assert_eq!(
            json_string_field(r#"{"x":"plaintext","plaintext":"ok"}"#, "plaintext"),
            Some("ok")
        );
    }

    #[test]
    fn urls_and_uris_of_nested_mounts() {
        let key = crate::keys::ServiceKey::hc_vault(
            "http://127.0.0.1:8200/v1/team/a/transit/keys/nested",
        )
        .unwrap();
        let k = Key::of(&key.fields).unwrap();
        assert_eq!(
            k.url("encrypt"),
            "http://127.0.0.1:8200/v1/team/a/transit/encrypt/nested"
        );
        assert_eq!(
            k.uri(),
            "http://127.0.0.1:8200/v1/team/a/transit/keys/nested"
        );
    }

    #[test]
    fn a_closed_port_fails_fast_naming_the_key() {
        // Bind then drop a listener: the port is very likely closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let uri = format!("http://127.0.0.1:{port}/v1/transit/keys/k");
        let mut key = crate::keys::ServiceKey::hc_vault(&uri).unwrap();
        set_field(&mut key.fields, "enc", "vault:v1:abc".into());
        std::env::set_var("VAULT_TOKEN", "test-token");
        let start = std::time::Instant::now();
        let err = unwrap(&key.fields).unwrap_err();
        assert!(err.contains(&uri), "{err}");
        assert!(err.contains("connection refused"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
        let err = wrap(&mut key.fields, b"secret").unwrap_err();
        assert!(err.contains("transit/encrypt/k"), "{err}");
        assert!(!err.contains("c2VjcmV0"), "{err}");
        // A VAULT_CACERT without certificates is named.
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not a certificate").unwrap();
        std::env::set_var("VAULT_CACERT", &ca);
        let err = unwrap(&key.fields).unwrap_err();
        std::env::remove_var("VAULT_CACERT");
        assert!(
            err.contains("VAULT_CACERT") && err.contains("ca.pem"),
            "{err}"
        );
    }
}

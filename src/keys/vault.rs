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
fn request_timeout() -> Duration {
    std::env::var("ENSEAL_VAULT_TIMEOUT")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|n| (1..=600).contains(n))
        .map(Duration::from_secs)
        .unwrap_or(REQUEST_TIMEOUT)
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
fn token() -> Result<Zeroizing<String>, String> {
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
    let token = token()?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(CONNECT_TIMEOUT.min(request_timeout())))
        .timeout_global(Some(request_timeout()))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
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
    let messages: Vec<String> = serde_json::from_str::<serde_json::Value>(&text)
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
    Err(if messages.is_empty() {
        format!("Vault answered HTTP {status}")
    } else {
        format!("Vault answered HTTP {status}: {}", messages.join("; "))
    })
}

/// A ureq failure as a short cause.
fn transport_error(e: ureq::Error) -> String {
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
    }
}

//! Publishing to a Vault / OpenBao KV secrets engine (v1 or v2), as sops'
//! `publish/vault.go` does: the decrypted document's top-level keys become
//! the secret's data (nested mappings as JSON objects), written with
//! `PUT /v1/<mount><vault_path><name>` (v2: `<mount>data/<vault_path><name>`
//! with the data under `"data"`). When the secret already holds exactly this
//! data, nothing is written (no new KV v2 version).
//!
//! Trust: the address comes from the user's `.sops.yaml` (`vault_address`)
//! or `VAULT_ADDR`, never from the file being published. It goes through the
//! same checks as Vault transit keys ([`crate::keys::vault`]):
//! `SOPS_HC_VAULT_ALLOWLIST` when set, https (plain http only to loopback),
//! no user info, no redirects, `VAULT_CACERT` / `VAULT_SKIP_VERIFY`, the same
//! timeouts. The token is `VAULT_TOKEN`, else `~/.vault-token`.

use zeroize::Zeroizing;

use crate::keys::vault::{check_address_with, token, transport_error, Allowlist};

/// The Vault client's address when neither the rule nor `VAULT_ADDR` gives
/// one.
pub const DEFAULT_ADDRESS: &str = "https://127.0.0.1:8200";

/// A Vault KV destination, with sops' defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultDestination {
    /// `vault_address`; empty: `VAULT_ADDR`, else [`DEFAULT_ADDRESS`].
    address: String,
    /// `vault_path`, ending with `/`.
    path: String,
    /// `vault_kv_mount_name` (default `secret/`), ending with `/`.
    mount: String,
    /// 1 or 2 (any other value of `vault_kv_version` means 2).
    version: u8,
}

/// What a publication did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The secret path written (or found up to date), without the address.
    pub secret_path: String,
    /// The secret already held this data; nothing was written.
    pub up_to_date: bool,
    /// Messages for the user (the existing secret could not be read).
    pub warnings: Vec<String>,
}

impl VaultDestination {
    /// A destination from the rule's fields, as sops' `NewVaultDestination`.
    pub fn new(address: &str, path: &str, mount: &str, version: i64) -> VaultDestination {
        let with_slash = |s: &str| {
            if s.ends_with('/') {
                s.to_string()
            } else {
                format!("{s}/")
            }
        };
        VaultDestination {
            address: address.to_string(),
            path: with_slash(path),
            mount: with_slash(if mount.is_empty() { "secret/" } else { mount }),
            version: if version == 1 { 1 } else { 2 },
        }
    }

    /// The KV version, 1 or 2.
    pub fn version(&self) -> u8 {
        self.version
    }

    /// The Vault address in effect: the rule's, else `VAULT_ADDR`, else
    /// [`DEFAULT_ADDRESS`].
    pub fn address(&self) -> String {
        if !self.address.is_empty() {
            return self.address.clone();
        }
        std::env::var("VAULT_ADDR")
            .ok()
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| DEFAULT_ADDRESS.to_string())
    }

    /// The API path of the secret `name` (`secret/data/app/name`).
    pub fn secret_path(&self, name: &str) -> String {
        if self.version == 1 {
            format!("{}{}{name}", self.mount, self.path)
        } else {
            format!("{}data/{}{name}", self.mount, self.path)
        }
    }

    /// Where `name` goes, as sops shows it: `<address>/v1/<secret path>`.
    pub fn display_url(&self, name: &str) -> String {
        format!("{}/v1/{}", self.address(), self.secret_path(name))
    }

    /// The request URL of `name`: the secret path's segments
    /// percent-encoded; `.` and `..` segments are refused so that a file
    /// name cannot leave the mount.
    fn url(&self, address: &str, name: &str) -> Result<String, String> {
        let mut url = format!("{}/v1", address.trim_end_matches('/'));
        let path = self.secret_path(name);
        for segment in path.split('/').filter(|s| !s.is_empty()) {
            if segment == "." || segment == ".." {
                return Err(format!(
                    "refusing Vault secret path {path:?}: it has a '{segment}' segment"
                ));
            }
            url.push('/');
            url.push_str(&percent_encode(segment));
        }
        Ok(url)
    }

    /// Writes `data` as the secret `name` unless it already holds exactly
    /// this data. Errors are one line (never the data).
    pub fn publish(
        &self,
        data: &serde_json::Map<String, serde_json::Value>,
        name: &str,
    ) -> Result<Published, String> {
        let address = self.address();
        crate::keys::vault::trust_address(&address);
        let allowlist = Allowlist::from_environment()?;
        check_address_with(&address, &allowlist)?;
        let url = self.url(&address, name)?;
        let secret_path = self.secret_path(name);
        let token = token()?;
        let client = Client::new(&token)?;
        let mut warnings = Vec::new();
        match client.read(&url) {
            Ok(Some(existing)) => {
                let mut existing = existing;
                let current = existing
                    .get_mut("data")
                    .map(|d| {
                        if self.version == 2 {
                            d.get_mut("data").map(std::mem::take)
                        } else {
                            Some(std::mem::take(d))
                        }
                    })
                    .unwrap_or(None);
                let same = current
                    .as_ref()
                    .and_then(|c| c.as_object())
                    .is_some_and(|c| c == data);
                if let Some(mut c) = current {
                    super::wipe(&mut c);
                }
                super::wipe(&mut existing);
                if same {
                    return Ok(Published {
                        secret_path,
                        up_to_date: true,
                        warnings,
                    });
                }
            }
            Ok(None) => {}
            Err(_) => warnings.push(format!(
                "Cannot check if destination secret already exists in {secret_path}. New version will be created even if the data has not been changed."
            )),
        }
        let body = if self.version == 1 {
            serde_json::to_vec(data)
        } else {
            serde_json::to_vec(&serde_json::json!({ "data": data }))
        }
        .map(Zeroizing::new)
        .map_err(|e| format!("cannot encode the secret as JSON: {e}"))?;
        client.write(&url, &body)?;
        Ok(Published {
            secret_path,
            up_to_date: false,
            warnings,
        })
    }
}

/// `segment` with every byte but letters, digits and `-._~` as `%XX`.
fn percent_encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An HTTP client holding the token, configured as for transit keys.
struct Client<'t> {
    agent: ureq::Agent,
    token: &'t str,
}

impl<'t> Client<'t> {
    fn new(token: &'t str) -> Result<Client<'t>, String> {
        Ok(Client {
            agent: crate::keys::vault::agent()?,
            token,
        })
    }

    fn headers<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        let request = request
            .header("X-Vault-Token", self.token)
            .header("X-Vault-Request", "true");
        match std::env::var("VAULT_NAMESPACE")
            .ok()
            .filter(|n| !n.is_empty())
        {
            Some(ns) => request.header("X-Vault-Namespace", ns),
            None => request,
        }
    }

    /// The JSON answer of `GET url`, `None` on 404.
    fn read(&self, url: &str) -> Result<Option<serde_json::Value>, String> {
        let response = self
            .headers(self.agent.get(url))
            .call()
            .map_err(transport_error)?;
        let (status, text) = body_of(response)?;
        if status == 404 {
            return Ok(None);
        }
        if !(200..300).contains(&status) {
            return Err(vault_error(status, &text));
        }
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|_| "Vault answered with something that is not JSON".to_string())
    }

    /// `PUT url` with the JSON `body`.
    fn write(&self, url: &str, body: &[u8]) -> Result<(), String> {
        let response = self
            .headers(self.agent.put(url))
            .header("Content-Type", "application/json")
            .send(body)
            .map_err(transport_error)?;
        let (status, text) = body_of(response)?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(vault_error(status, &text))
        }
    }
}

/// The status and body (at most 1 MiB, zeroized on drop) of a response.
fn body_of(
    mut response: ureq::http::Response<ureq::Body>,
) -> Result<(u16, Zeroizing<String>), String> {
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(1024 * 1024)
        .read_to_string()
        .map_err(transport_error)?;
    Ok((status, Zeroizing::new(text)))
}

/// An error answer as one line (the transit keys' wording).
fn vault_error(status: u16, text: &str) -> String {
    crate::keys::vault::error_answer(status, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_paths_follow_sops() {
        let v2 = VaultDestination::new("https://v:8200", "app", "", 0);
        assert_eq!(v2.version(), 2);
        assert_eq!(v2.secret_path("db.json"), "secret/data/app/db.json");
        assert_eq!(
            v2.display_url("db.json"),
            "https://v:8200/v1/secret/data/app/db.json"
        );
        let v1 = VaultDestination::new("https://v:8200", "app/", "kv", 1);
        assert_eq!(v1.secret_path("db.json"), "kv/app/db.json");
        assert_eq!(VaultDestination::new("", "a", "m", 7).version(), 2);
    }

    #[test]
    fn names_cannot_leave_the_mount_and_are_encoded() {
        let v = VaultDestination::new("http://127.0.0.1:8200/", "app", "kv", 1);
        assert_eq!(
            v.url("http://127.0.0.1:8200/", "a b?.json").unwrap(),
            "http://127.0.0.1:8200/v1/kv/app/a%20b%3F.json"
        );
        assert!(v.url("http://127.0.0.1:8200", "../x").is_err());
    }

    #[test]
    fn plain_http_to_another_host_is_refused_before_any_request() {
        let v = VaultDestination::new("http://vault.example:8200", "app", "", 2);
        let err = v.publish(&serde_json::Map::new(), "x").unwrap_err();
        assert!(err.contains("plain http"), "{err}");
    }
}

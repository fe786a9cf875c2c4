//! The Key Vault calls (`encrypt`, `decrypt`, the latest key version) and
//! the trust boundary of the vault URL a file names.

use super::super::cloud_http::{self, field, send, Body, Env, Origin};
use super::credentials::access_token;
use crate::tree::Map;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value as Json;
use zeroize::Zeroizing;

/// The Key Vault REST API version used.
const API_VERSION: &str = "7.4";
/// Metadata field order of an `azure_kv` entry as sops 3.11 writes it.
const FIELD_ORDER: [&str; 5] = ["vault_url", "name", "version", "created_at", "enc"];

/// The variable that lists the hosts, besides Azure's Key Vault domains,
/// a Key Vault token may be sent to.
pub(crate) const ALLOWED_HOSTS_VAR: &str = "ENSEAL_AZURE_KV_ALLOWED_HOSTS";

/// The data-plane DNS suffixes of Key Vault and Managed HSM in each Azure
/// cloud, with the token audience (resource) of each: a vault is
/// `https://<name>.<suffix>`.
const KEY_VAULT_DOMAINS: [(&str, &str); 7] = [
    ("vault.azure.net", "https://vault.azure.net"),
    ("vault.azure.cn", "https://vault.azure.cn"),
    ("vault.usgovcloudapi.net", "https://vault.usgovcloudapi.net"),
    ("vault.microsoftazure.de", "https://vault.microsoftazure.de"),
    ("managedhsm.azure.net", "https://managedhsm.azure.net"),
    ("managedhsm.azure.cn", "https://managedhsm.azure.cn"),
    (
        "managedhsm.usgovcloudapi.net",
        "https://managedhsm.usgovcloudapi.net",
    ),
];

/// The audience asked for a host the user listed that is not under a
/// Key Vault domain (a test server, a proxy in front of a public vault).
const PUBLIC_CLOUD_RESOURCE: &str = "https://vault.azure.net";

/// The key an entry names.
struct Key {
    vault_url: String,
    name: String,
    version: String,
    /// The audience of the token this vault may receive.
    scope: Scope,
}

impl Key {
    /// The key of a metadata entry, refused (before anything is sent)
    /// when its vault is not one a token may go to or its name or
    /// version is not a Key Vault object name.
    fn from_fields(env: &dyn Env, fields: &Map) -> Result<Key, String> {
        let vault_url = field(fields, "vault_url")
            .unwrap_or_default()
            .trim()
            .trim_end_matches('/')
            .to_string();
        let name = field(fields, "name").unwrap_or_default();
        let version = field(fields, "version").unwrap_or_default();
        if vault_url.is_empty() || name.is_empty() {
            return Err(format!(
                "invalid Azure Key Vault key: vault_url {vault_url:?}, name {name:?}"
            ));
        }
        let scope = vault_scope(env, &vault_url)?;
        check_object_name("key name", &name)?;
        if !version.is_empty() {
            check_object_name("key version", &version)?;
        }
        Ok(Key {
            vault_url,
            name,
            version,
            scope,
        })
    }

    /// The key URL as sops prints it.
    fn url(&self) -> String {
        format!("{}/keys/{}/{}", self.vault_url, self.name, self.version)
    }

    fn op_url(&self, op: &str) -> String {
        format!(
            "{}/keys/{}/{}/{op}?api-version={API_VERSION}",
            self.vault_url,
            cloud_http::path_segment(&self.name),
            cloud_http::path_segment(&self.version)
        )
    }
}

pub(crate) fn wrap(env: &dyn Env, fields: &mut Map, secret: &[u8]) -> Result<(), String> {
    let mut key = Key::from_fields(env, fields)?;
    let agent = cloud_http::agent(env);
    let token = access_token(env, &agent, &key.scope)
        .map_err(|e| format!("failed to get Azure token credential to encrypt data: {e}"))?;
    if key.version.is_empty() {
        key.version = fetch_version(&agent, &key.vault_url, &key.name, &token)?;
    }
    let fail = |e: String| {
        format!(
            "failed to encrypt sops data key with Azure Key Vault key '{}': {e}",
            key.url()
        )
    };
    let body = Zeroizing::new(format!(
        "{{\"alg\":\"RSA-OAEP-256\",\"value\":\"{}\"}}",
        Zeroizing::new(URL_SAFE_NO_PAD.encode(secret)).as_str()
    ));
    let json = call(&agent, &key.op_url("encrypt"), &token, &body).map_err(fail)?;
    let result = json
        .get("value")
        .and_then(Json::as_str)
        .and_then(decode_url64)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| fail("the response has no base64url \"value\"".into()))?;
    cloud_http::set_field(fields, "vault_url", key.vault_url.clone());
    cloud_http::set_field(fields, "version", key.version.clone());
    cloud_http::set_field(fields, "enc", URL_SAFE_NO_PAD.encode(result));
    cloud_http::set_field(fields, "created_at", crate::keys::created_at_now());
    cloud_http::order_fields(fields, &FIELD_ORDER);
    Ok(())
}

pub(crate) fn unwrap(env: &dyn Env, fields: &Map) -> Result<Zeroizing<Vec<u8>>, String> {
    let key = Key::from_fields(env, fields)?;
    let enc = field(fields, "enc").unwrap_or_default();
    let ciphertext = decode_url64(enc.trim())
        .ok_or_else(|| "failed to base64 decode Azure Key Vault encrypted key".to_string())?;
    let agent = cloud_http::agent(env);
    let token = access_token(env, &agent, &key.scope)
        .map_err(|e| format!("failed to get Azure token credential to decrypt: {e}"))?;
    let fail = |e: String| {
        format!(
            "failed to decrypt sops data key with Azure Key Vault key '{}': {e}",
            key.url()
        )
    };
    let body = format!(
        "{{\"alg\":\"RSA-OAEP-256\",\"value\":\"{}\"}}",
        URL_SAFE_NO_PAD.encode(ciphertext)
    );
    let mut json = call(&agent, &key.op_url("decrypt"), &token, &body).map_err(fail)?;
    let value = match json.get_mut("value") {
        Some(Json::String(s)) => Zeroizing::new(std::mem::take(s)),
        _ => return Err(fail("the response has no \"value\"".into())),
    };
    decode_url64(&value)
        .map(Zeroizing::new)
        .ok_or_else(|| fail("the response's \"value\" is not base64url".into()))
}

pub(crate) fn latest_version(env: &dyn Env, vault_url: &str, name: &str) -> Result<String, String> {
    let vault_url = vault_url.trim().trim_end_matches('/');
    let scope = vault_scope(env, vault_url)?;
    check_object_name("key name", name)?;
    let agent = cloud_http::agent(env);
    let token = access_token(env, &agent, &scope).map_err(|e| {
        format!("failed to get Azure token credential to retrieve key version: {e}")
    })?;
    fetch_version(&agent, vault_url, name, &token)
}

fn fetch_version(
    agent: &cloud_http::Agent,
    vault_url: &str,
    name: &str,
    token: &str,
) -> Result<String, String> {
    let fail = |e: String| {
        format!("failed to fetch Azure Key {vault_url}/keys/{name} to retrieve key version: {e}")
    };
    let url = format!(
        "{vault_url}/keys/{}?api-version={API_VERSION}",
        cloud_http::path_segment(name)
    );
    let auth = Zeroizing::new(format!("Bearer {token}"));
    let json = send(
        agent,
        "GET",
        &url,
        &[("Authorization", auth.as_str())],
        Body::None,
    )
    .and_then(|r| r.json())
    .map_err(fail)?;
    json.pointer("/key/kid")
        .and_then(Json::as_str)
        .and_then(|kid| kid.trim_end_matches('/').rsplit('/').next())
        .filter(|v| check_object_name("key version", v).is_ok())
        .map(str::to_string)
        .ok_or_else(|| fail("the response has no key.kid with a version".into()))
}

/// Decodes base64url with or without padding.
fn decode_url64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

fn call(agent: &cloud_http::Agent, url: &str, token: &str, body: &str) -> Result<Json, String> {
    let auth = Zeroizing::new(format!("Bearer {token}"));
    send(
        agent,
        "POST",
        url,
        &[("Authorization", auth.as_str())],
        Body::Json(body),
    )?
    .json()
}

/// The token audience for a vault: its cloud's Key Vault resource.
pub(crate) struct Scope {
    /// The resource URI (managed identity, Azure CLI).
    pub(crate) resource: &'static str,
}

/// The audience of the token `vault_url` may receive, or the one-line
/// refusal (naming the host and [`ALLOWED_HOSTS_VAR`]) when no token
/// may go there: the URL must be `https://<vault>.<Key Vault domain>`,
/// or its host must be listed in the variable (plain http only to a
/// listed loopback host).
pub(crate) fn vault_scope(env: &dyn Env, vault_url: &str) -> Result<Scope, String> {
    let origin = Origin::parse(vault_url)
        .map_err(|e| format!("invalid Azure Key Vault URL {vault_url:?}: {e}"))?;
    if !origin.https && !origin.is_loopback() {
        return Err(format!(
            "refusing plain http to Azure Key Vault host {:?}: a token is sent over https only",
            origin.authority()
        ));
    }
    let domain_resource = key_vault_resource(&origin.host);
    if origin.https {
        if let Some(resource) = domain_resource {
            return Ok(Scope { resource });
        }
    }
    if allowed_hosts(env)?
        .iter()
        .any(|entry| entry.matches(&origin))
    {
        return Ok(Scope {
            resource: domain_resource.unwrap_or(PUBLIC_CLOUD_RESOURCE),
        });
    }
    Err(format!(
        "refusing to send an Azure token to {:?}: it is not a Key Vault host \
         (<vault>.vault.azure.net or another Azure cloud's Key Vault or Managed HSM \
         domain, over https); to trust it, list it in {ALLOWED_HOSTS_VAR}",
        origin.authority()
    ))
}

/// The audience of a host `<vault>.<suffix>` under a Key Vault domain.
fn key_vault_resource(host: &str) -> Option<&'static str> {
    KEY_VAULT_DOMAINS.iter().find_map(|(suffix, resource)| {
        let vault = host.strip_suffix(suffix)?.strip_suffix('.')?;
        (!vault.is_empty() && !vault.contains('.')).then_some(*resource)
    })
}

/// One entry of [`ALLOWED_HOSTS_VAR`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AllowedHost {
    /// `host` (any port) or `host:port`.
    Exact(String, Option<u16>),
    /// `*.domain` (any host strictly under the domain, any port) or
    /// `*.domain:port`.
    Under(String, Option<u16>),
}

impl AllowedHost {
    fn matches(&self, origin: &Origin) -> bool {
        let (fits, port) = match self {
            AllowedHost::Exact(host, port) => (*host == origin.host, port),
            AllowedHost::Under(domain, port) => (
                origin
                    .host
                    .strip_suffix(domain.as_str())
                    .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
                port,
            ),
        };
        fits && port.is_none_or(|p| p == origin.effective_port())
    }
}

/// The entries of [`ALLOWED_HOSTS_VAR`] (empty when unset); a malformed
/// entry is an error naming the variable.
pub(crate) fn allowed_hosts(env: &dyn Env) -> Result<Vec<AllowedHost>, String> {
    let Some(list) = env.var(ALLOWED_HOSTS_VAR) else {
        return Ok(Vec::new());
    };
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let bad = |e: String| {
                format!(
                    "{ALLOWED_HOSTS_VAR}: {entry:?} is not host[:port] or *.domain[:port] ({e})"
                )
            };
            match entry.strip_prefix("*.") {
                Some(domain) => {
                    let (domain, port) = cloud_http::host_and_port(domain).map_err(bad)?;
                    if domain.starts_with('[') {
                        return Err(bad("a wildcard needs a domain name".into()));
                    }
                    Ok(AllowedHost::Under(domain, port))
                }
                None => {
                    let (host, port) = cloud_http::host_and_port(entry).map_err(bad)?;
                    Ok(AllowedHost::Exact(host, port))
                }
            }
        })
        .collect()
}

/// Refuses a key name or version that is not a Key Vault object name
/// (1 to 127 letters, digits and `-`), so that it cannot add path
/// segments, a query or dot segments to the request URL.
fn check_object_name(what: &str, text: &str) -> Result<(), String> {
    let valid = !text.is_empty()
        && text.len() <= 127
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid Azure Key Vault {what} {text:?}: only letters, digits and '-' (1 to 127)"
        ))
    }
}

impl Scope {
    /// The OAuth v2 scope.
    pub(super) fn scope(&self) -> String {
        format!("{}/.default", self.resource)
    }
}

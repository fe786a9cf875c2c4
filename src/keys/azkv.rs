//! Azure Key Vault master keys (`azure_kv` in the metadata): the data key
//! is wrapped with the Key Vault `encrypt` call (RSA-OAEP-256) and stored as
//! unpadded base64url in `enc`.
//!
//! Wire calls: `POST {vault_url}/keys/{name}/{version}/encrypt?api-version=7.4`
//! with `{"alg":"RSA-OAEP-256","value": base64url}` → `{"kid":…,"value":
//! base64url}`, and `…/decrypt` likewise. A key without a version is resolved
//! to its latest version (`GET {vault_url}/keys/{name}`) when it is first
//! used, as sops does, and the version is stored.
//!
//! Credentials, following Azure's default credential chain as far as enseal
//! implements it: a client secret (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`,
//! `AZURE_CLIENT_SECRET`), workload identity (`AZURE_FEDERATED_TOKEN_FILE`
//! with the tenant and client ids), managed identity through IMDS only when
//! `ENSEAL_AZURE_MANAGED_IDENTITY=1`, then the Azure CLI (`az account
//! get-access-token`) when `az` is on the PATH. Token requests go to
//! `AZURE_AUTHORITY_HOST` (default `https://login.microsoftonline.com`).
//!
//! Trust boundary: an encrypted file names its vault, and the file is not
//! trusted. A Key Vault token is therefore sent only over https to a vault
//! under the Key Vault or Managed HSM domain of an Azure cloud (public,
//! China, US Government, Germany), with that cloud's audience. Any other
//! host must be listed by the user in `ENSEAL_AZURE_KV_ALLOWED_HOSTS`
//! (comma-separated `host`, `host:port` or `*.domain`; plain http only to a
//! listed loopback host). The check is made before any token is asked for
//! or any request is sent; the key name and version must be Key Vault
//! object names, so that they cannot change the request's path.

use crate::tree::Map;
use zeroize::Zeroizing;

/// Wraps `secret` (a data key or Shamir share) for the key described by
/// `fields`, filling its `enc` and `created_at` fields (and `version` when
/// it is empty: the key's latest version).
pub fn wrap(fields: &mut Map, secret: &[u8]) -> Result<(), String> {
    #[cfg(feature = "azure")]
    return imp::wrap(&super::cloud_http::ProcessEnv, fields, secret);
    #[cfg(not(feature = "azure"))]
    {
        let _ = (fields, secret);
        Err(not_built())
    }
}

/// Unwraps the data key or share stored in `fields`.
pub fn unwrap(fields: &Map) -> Result<Zeroizing<Vec<u8>>, String> {
    #[cfg(feature = "azure")]
    return imp::unwrap(&super::cloud_http::ProcessEnv, fields);
    #[cfg(not(feature = "azure"))]
    {
        let _ = fields;
        Err(not_built())
    }
}

/// The latest version of key `name` in the vault at `vault_url` (what sops
/// stores when a key URL has no version).
pub fn latest_version(vault_url: &str, name: &str) -> Result<String, String> {
    #[cfg(feature = "azure")]
    return imp::latest_version(&super::cloud_http::ProcessEnv, vault_url, name);
    #[cfg(not(feature = "azure"))]
    {
        let _ = (vault_url, name);
        Err(not_built())
    }
}

#[cfg(not(feature = "azure"))]
fn not_built() -> String {
    "Azure Key Vault keys are not supported by this build of enseal (cargo feature \"azure\" is off)"
        .to_string()
}

#[cfg(feature = "azure")]
pub(crate) mod imp {
    use super::super::cloud_http::{self, check_url, field, send, Body, Env, Origin};
    use crate::tree::Map;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use serde_json::Value as Json;
    use zeroize::Zeroizing;

    /// The Key Vault REST API version used.
    const API_VERSION: &str = "7.4";
    /// The Azure AD authority unless `AZURE_AUTHORITY_HOST` says otherwise.
    const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
    /// The instance metadata service (managed identity).
    const IMDS_HOST: &str = "http://169.254.169.254";
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

    pub(crate) fn latest_version(
        env: &dyn Env,
        vault_url: &str,
        name: &str,
    ) -> Result<String, String> {
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
            format!(
                "failed to fetch Azure Key {vault_url}/keys/{name} to retrieve key version: {e}"
            )
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
                    format!("{ALLOWED_HOSTS_VAR}: {entry:?} is not host[:port] or *.domain[:port] ({e})")
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
        fn scope(&self) -> String {
            format!("{}/.default", self.resource)
        }
    }

    /// An access token from the first credential source that is configured.
    pub(crate) fn access_token(
        env: &dyn Env,
        agent: &cloud_http::Agent,
        scope: &Scope,
    ) -> Result<Zeroizing<String>, String> {
        let tenant = env.var("AZURE_TENANT_ID");
        let client = env.var("AZURE_CLIENT_ID");
        if let (Some(tenant), Some(client)) = (&tenant, &client) {
            if let Some(secret) = env.var("AZURE_CLIENT_SECRET") {
                let secret = Zeroizing::new(secret);
                return token_grant(
                    env,
                    agent,
                    tenant,
                    client,
                    scope,
                    &[("client_secret", secret.as_str())],
                );
            }
            if let Some(path) = env.var("AZURE_FEDERATED_TOKEN_FILE") {
                let assertion =
                    cloud_http::read_credential_file("AZURE_FEDERATED_TOKEN_FILE", &path)?;
                return token_grant(
                    env,
                    agent,
                    tenant,
                    client,
                    scope,
                    &[
                        (
                            "client_assertion_type",
                            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                        ),
                        ("client_assertion", assertion.trim()),
                    ],
                );
            }
            if env.var("AZURE_CLIENT_CERTIFICATE_PATH").is_some() {
                return Err(
                    "AZURE_CLIENT_CERTIFICATE_PATH (certificate credentials) is not \
                            supported by enseal: use AZURE_CLIENT_SECRET, workload identity, \
                            managed identity or the Azure CLI"
                        .into(),
                );
            }
        }
        if env
            .var("ENSEAL_AZURE_MANAGED_IDENTITY")
            .is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes"))
        {
            return managed_identity(env, agent, scope, client.as_deref());
        }
        if let Some(token) = azure_cli(env, scope, tenant.as_deref())? {
            return Ok(token);
        }
        Err(
            "no Azure credentials found: set AZURE_TENANT_ID, AZURE_CLIENT_ID and \
             AZURE_CLIENT_SECRET (or AZURE_FEDERATED_TOKEN_FILE), set \
             ENSEAL_AZURE_MANAGED_IDENTITY=1 on Azure, or log in with `az login`"
                .into(),
        )
    }

    /// The client-credentials grant at `{authority}/{tenant}/oauth2/v2.0/token`.
    fn token_grant(
        env: &dyn Env,
        agent: &cloud_http::Agent,
        tenant: &str,
        client: &str,
        scope: &Scope,
        proof: &[(&str, &str)],
    ) -> Result<Zeroizing<String>, String> {
        let authority = env
            .var("AZURE_AUTHORITY_HOST")
            .unwrap_or_else(|| DEFAULT_AUTHORITY.to_string());
        let authority = authority.trim().trim_end_matches('/');
        check_url(authority).map_err(|e| format!("AZURE_AUTHORITY_HOST: {e}"))?;
        let url = format!(
            "{authority}/{}/oauth2/v2.0/token",
            cloud_http::path_segment(tenant)
        );
        let scope_text = scope.scope();
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client),
            ("scope", scope_text.as_str()),
        ];
        form.extend_from_slice(proof);
        let mut parts: Vec<&[u8]> = vec![url.as_bytes()];
        parts.extend(form.iter().flat_map(|(k, v)| [k.as_bytes(), v.as_bytes()]));
        let digest = cloud_http::digest(&parts);
        if let Some(token) = cloud_http::cached(&digest) {
            return Ok(token);
        }
        let (token, expires_in) = cloud_http::token_request(agent, &url, &form)
            .map_err(|e| format!("token request to {url} failed: {e}"))?;
        cloud_http::store(digest, &token, expires_in);
        Ok(token)
    }

    /// A managed-identity token from the instance metadata service
    /// (`AZURE_POD_IDENTITY_AUTHORITY_HOST` overrides its address).
    fn managed_identity(
        env: &dyn Env,
        agent: &cloud_http::Agent,
        scope: &Scope,
        client: Option<&str>,
    ) -> Result<Zeroizing<String>, String> {
        let host = env
            .var("AZURE_POD_IDENTITY_AUTHORITY_HOST")
            .unwrap_or_else(|| IMDS_HOST.to_string());
        let mut url = format!(
            "{}/metadata/identity/oauth2/token?api-version=2018-02-01&resource={}",
            host.trim().trim_end_matches('/'),
            query_escape(scope.resource)
        );
        if let Some(id) = client {
            url.push_str(&format!("&client_id={}", query_escape(id)));
        }
        let response = send(agent, "GET", &url, &[("Metadata", "true")], Body::None)
            .map_err(|e| format!("managed identity endpoint: {e}"))?;
        cloud_http::read_token(&response)
            .map(|(t, _)| t)
            .map_err(|e| format!("managed identity endpoint: {e}"))
    }

    fn query_escape(text: &str) -> String {
        text.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }

    /// A token from `az account get-access-token`, if `az` is installed.
    fn azure_cli(
        env: &dyn Env,
        scope: &Scope,
        tenant: Option<&str>,
    ) -> Result<Option<Zeroizing<String>>, String> {
        use std::process::{Command, Stdio};
        let Some(path) = env.var("PATH") else {
            return Ok(None);
        };
        let az = std::env::split_paths(&path)
            .map(|dir| dir.join(if cfg!(windows) { "az.cmd" } else { "az" }))
            .find(|p| p.is_file());
        let Some(az) = az else {
            return Ok(None);
        };
        let mut command = Command::new(az);
        command.args([
            "account",
            "get-access-token",
            "--output",
            "json",
            "--resource",
            scope.resource,
        ]);
        if let Some(t) = tenant {
            command.args(["--tenant", t]);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run the Azure CLI: {e}"))?;
        // Bounded like an HTTP call.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err("the Azure CLI did not answer within 60 seconds".into());
                }
            }
        }
        let output = child
            .wait_with_output()
            .map_err(|e| format!("cannot run the Azure CLI: {e}"))?;
        let stdout = Zeroizing::new(String::from_utf8_lossy(&output.stdout).into_owned());
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(format!(
                "az account get-access-token failed: {}",
                cloud_http::one_line(&stderr)
            ));
        }
        let mut json: Json = serde_json::from_str(&stdout)
            .map_err(|_| "az account get-access-token printed no JSON".to_string())?;
        match json.get_mut("accessToken") {
            Some(Json::String(t)) if !t.is_empty() => Ok(Some(Zeroizing::new(std::mem::take(t)))),
            _ => Err("az account get-access-token printed no accessToken".into()),
        }
    }
}

#[cfg(all(test, feature = "azure"))]
mod tests {
    use super::super::cloud_http::mock::{self, Mock, Request};
    use super::super::cloud_http::MapEnv;
    use super::imp;
    use crate::tree::{Map, Value};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use serde_json::json;

    fn env(pairs: &[(&str, &str)]) -> MapEnv {
        MapEnv(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn key_fields(vault: &str, name: &str, version: &str) -> Map {
        let mut m = Map::new();
        m.push("vault_url", Value::Str(vault.into()));
        m.push("name", Value::Str(name.into()));
        m.push("version", Value::Str(version.into()));
        m
    }

    /// Azure AD and Key Vault lookalike on one server. The token endpoint
    /// hands out `vault-token`; key operations need it.
    fn azure_answer(r: &Request) -> (u16, String) {
        if r.target == "/tenant-1/oauth2/v2.0/token" {
            return (
                200,
                json!({"token_type": "Bearer", "expires_in": 3599, "access_token": "vault-token"})
                    .to_string(),
            );
        }
        vault_answer(r, "vault-token")
    }

    fn vault_answer(r: &Request, token: &str) -> (u16, String) {
        if r.header("authorization") != Some(&format!("Bearer {token}")) {
            return (
                401,
                json!({"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}}).to_string(),
            );
        }
        let (path, query) = r.target.split_once('?').unwrap();
        assert_eq!(query, "api-version=7.4");
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (r.method.as_str(), parts.as_slice()) {
            ("GET", ["keys", name]) => (
                200,
                json!({"key": {"kid": format!("https://v.vault.azure.net/keys/{name}/0123abcd"), "kty": "RSA"}})
                    .to_string(),
            ),
            ("POST", ["keys", name, version, op]) => {
                let body = r.json();
                assert_eq!(body["alg"], "RSA-OAEP-256");
                let value = URL_SAFE_NO_PAD.decode(body["value"].as_str().unwrap()).unwrap();
                let key = format!("{name}/{version}");
                let kid = format!("https://v.vault.azure.net/keys/{key}");
                match *op {
                    "encrypt" => (
                        200,
                        json!({"kid": kid, "value": URL_SAFE_NO_PAD.encode(mock::seal(&key, &value))})
                            .to_string(),
                    ),
                    "decrypt" => match mock::open(&key, &value) {
                        Some(pt) => (200, json!({"kid": kid, "value": URL_SAFE_NO_PAD.encode(pt)}).to_string()),
                        None => (400, json!({"error": {"code": "BadParameter", "message": "The parameter is incorrect."}}).to_string()),
                    },
                    _ => (404, "{}".into()),
                }
            }
            _ => (404, "{}".into()),
        }
    }

    /// `host:port` of a loopback URL, as listed in the allowed hosts.
    fn authority(url: &str) -> &str {
        url.trim_start_matches("http://")
    }

    fn secret_env(server: &Mock) -> MapEnv {
        env(&[
            ("AZURE_TENANT_ID", "tenant-1"),
            ("AZURE_CLIENT_ID", "client-1"),
            ("AZURE_CLIENT_SECRET", "s3cret+/="),
            ("AZURE_AUTHORITY_HOST", &server.url),
            (imp::ALLOWED_HOSTS_VAR, authority(&server.url)),
        ])
    }

    #[test]
    fn client_secret_round_trip_and_request_shapes() {
        let server = Mock::start(azure_answer);
        let env = secret_env(&server);
        let secret = [0x42u8; 32];
        let mut fields = key_fields(&server.url, "sops-key", "v1");
        imp::wrap(&env, &mut fields, &secret).unwrap();
        let keys: Vec<&str> = fields.entries().map(|(k, _)| k).collect();
        assert_eq!(keys, ["vault_url", "name", "version", "created_at", "enc"]);
        let enc = fields.get("enc").unwrap().as_str().unwrap().to_string();
        assert!(!enc.contains('=') && !enc.contains('+') && !enc.contains('/'));
        assert_eq!(
            URL_SAFE_NO_PAD.decode(&enc).unwrap(),
            mock::seal("sops-key/v1", &secret)
        );
        assert_eq!(*imp::unwrap(&env, &fields).unwrap(), secret);

        let reqs = server.requests();
        let token = &reqs[0];
        assert_eq!(token.method, "POST");
        assert_eq!(token.target, "/tenant-1/oauth2/v2.0/token");
        assert_eq!(
            token.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(
            token.form(),
            [
                ("grant_type".to_string(), "client_credentials".to_string()),
                ("client_id".into(), "client-1".into()),
                ("scope".into(), "https://vault.azure.net/.default".into()),
                ("client_secret".into(), "s3cret+/=".into()),
            ]
        );
        assert_eq!(reqs[1].target, "/keys/sops-key/v1/encrypt?api-version=7.4");
        assert_eq!(reqs[1].header("content-type"), Some("application/json"));
        assert_eq!(
            reqs[1].json(),
            json!({"alg": "RSA-OAEP-256", "value": URL_SAFE_NO_PAD.encode(secret)})
        );
        // The token is cached for the decrypt call.
        assert_eq!(reqs[2].target, "/keys/sops-key/v1/decrypt?api-version=7.4");
        assert_eq!(reqs[2].json(), json!({"alg": "RSA-OAEP-256", "value": enc}));
        assert_eq!(reqs.len(), 3);
    }

    #[test]
    fn missing_version_is_resolved_and_stored() {
        let server = Mock::start(azure_answer);
        let env = secret_env(&server);
        let mut fields = key_fields(&format!("{}/", server.url), "k2", "");
        imp::wrap(&env, &mut fields, &[1, 2, 3]).unwrap();
        assert_eq!(fields.get("version"), Some(&Value::Str("0123abcd".into())));
        assert_eq!(
            fields.get("vault_url"),
            Some(&Value::Str(server.url.clone()))
        );
        assert_eq!(*imp::unwrap(&env, &fields).unwrap(), [1, 2, 3]);
        assert_eq!(
            imp::latest_version(&env, &server.url, "k2").unwrap(),
            "0123abcd"
        );
        let targets: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
        assert!(
            targets.contains(&"/keys/k2?api-version=7.4".to_string()),
            "{targets:?}"
        );
    }

    #[test]
    fn workload_identity_sends_the_federated_token() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "eyJfederated.token.sig\n").unwrap();
        let server = Mock::start(|r| {
            if r.target.ends_with("/oauth2/v2.0/token") {
                assert_eq!(
                    r.form(),
                    [
                        ("grant_type".to_string(), "client_credentials".to_string()),
                        ("client_id".into(), "client-2".into()),
                        ("scope".into(), "https://vault.azure.net/.default".into()),
                        (
                            "client_assertion_type".into(),
                            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into()
                        ),
                        ("client_assertion".into(), "eyJfederated.token.sig".into()),
                    ]
                );
                return (
                    200,
                    json!({"access_token": "wi-token", "expires_in": 3599}).to_string(),
                );
            }
            vault_answer(r, "wi-token")
        });
        let env = env(&[
            ("AZURE_TENANT_ID", "tenant-2"),
            ("AZURE_CLIENT_ID", "client-2"),
            ("AZURE_FEDERATED_TOKEN_FILE", file.to_str().unwrap()),
            ("AZURE_AUTHORITY_HOST", &server.url),
            (imp::ALLOWED_HOSTS_VAR, authority(&server.url)),
        ]);
        let mut fields = key_fields(&server.url, "k", "v");
        imp::wrap(&env, &mut fields, &[8; 16]).unwrap();
        assert_eq!(*imp::unwrap(&env, &fields).unwrap(), [8; 16]);
    }

    #[test]
    fn managed_identity_only_when_enabled() {
        let server = Mock::start(|r| {
            if r.target.starts_with("/metadata/identity/oauth2/token") {
                assert_eq!(r.method, "GET");
                assert_eq!(r.header("metadata"), Some("true"));
                assert_eq!(
                    r.target,
                    "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net"
                );
                return (
                    200,
                    json!({"access_token": "mi-token", "expires_in": "3599"}).to_string(),
                );
            }
            vault_answer(r, "mi-token")
        });
        let base = [
            ("AZURE_POD_IDENTITY_AUTHORITY_HOST", server.url.as_str()),
            (imp::ALLOWED_HOSTS_VAR, authority(&server.url)),
        ];
        let mut fields = key_fields(&server.url, "k", "v");
        let err = imp::wrap(&env(&base), &mut fields, &[1]).unwrap_err();
        assert!(err.contains("no Azure credentials found"), "{err}");
        assert!(server.requests().is_empty(), "nothing was probed");
        let mut on = base.to_vec();
        on.push(("ENSEAL_AZURE_MANAGED_IDENTITY", "1"));
        imp::wrap(&env(&on), &mut fields, &[1]).unwrap();
        assert_eq!(*imp::unwrap(&env(&on), &fields).unwrap(), [1]);
    }

    #[test]
    fn errors_name_the_key_url_and_the_cause() {
        // Token endpoint refuses the secret.
        let server = Mock::start(|_| {
            (401, json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1\r\nCorrelation ID: 2"}).to_string())
        });
        let err = imp::wrap(
            &secret_env(&server),
            &mut key_fields(&server.url, "k", "v"),
            &[1],
        )
        .unwrap_err();
        assert_eq!(
            err,
            format!("failed to get Azure token credential to encrypt data: token request to {}/tenant-1/oauth2/v2.0/token failed: HTTP 401: invalid_client: AADSTS7000215: Invalid client secret provided.", server.url)
        );
        // The vault refuses the operation.
        let server = Mock::start(|r| {
            if r.target.contains("oauth2") {
                return azure_answer(r);
            }
            (403, json!({"error": {"code": "Forbidden", "message": "The user, group or application does not have keys encrypt permission on key vault 'v'."}}).to_string())
        });
        let secret = [0x77u8; 32];
        let err = imp::wrap(
            &secret_env(&server),
            &mut key_fields(&server.url, "k", "v"),
            &secret,
        )
        .unwrap_err();
        assert_eq!(
            err,
            format!("failed to encrypt sops data key with Azure Key Vault key '{}/keys/k/v': HTTP 403: Forbidden: The user, group or application does not have keys encrypt permission on key vault 'v'.", server.url)
        );
        assert!(!err.contains(&URL_SAFE_NO_PAD.encode(secret)));
        // Server error, timeout, refused connection.
        let server = Mock::start(|r| {
            if r.target.contains("oauth2") {
                return azure_answer(r);
            }
            if r.target.contains("/slow/") {
                std::thread::sleep(std::time::Duration::from_secs(3));
            }
            (500, "upstream failure".into())
        });
        let mut env = secret_env(&server);
        env.0.insert("ENSEAL_CLOUD_TIMEOUT".into(), "0.5".into());
        let err = imp::wrap(&env, &mut key_fields(&server.url, "k", "v"), &[1]).unwrap_err();
        assert!(
            err.ends_with("/keys/k/v': HTTP 500: upstream failure"),
            "{err}"
        );
        let err = imp::wrap(&env, &mut key_fields(&server.url, "slow", "v"), &[1]).unwrap_err();

        assert!(err.ends_with("/keys/slow/v': request timed out"), "{err}");
        let closed = mock::closed_port_url();
        env.0
            .insert(imp::ALLOWED_HOSTS_VAR.into(), authority(&closed).into());
        let err = imp::unwrap(&env, &{
            let mut f = key_fields(&closed, "k", "v");
            f.push("enc", Value::Str("AAAA".into()));
            f
        })
        .unwrap_err();
        assert!(
            err.starts_with(&format!("failed to decrypt sops data key with Azure Key Vault key '{closed}/keys/k/v': connection")),
            "{err}"
        );
    }

    #[test]
    fn plain_http_vault_is_refused_off_loopback() {
        let err = imp::wrap(
            &env(&[]),
            &mut key_fields("http://v.vault.azure.net", "k", "v"),
            &[1],
        )
        .unwrap_err();
        assert!(err.contains("refusing plain http"), "{err}");
        let err = imp::unwrap(
            &env(&[]),
            &key_fields("https://v.vault.azure.net", "k", "v"),
        )
        .unwrap_err();
        // Empty enc: nothing to decrypt, but credentials come first.
        assert!(err.contains("no Azure credentials found"), "{err}");
    }

    #[test]
    fn scopes_follow_the_cloud() {
        for (url, scope) in [
            ("https://v.vault.azure.net", "https://vault.azure.net"),
            ("https://V.Vault.Azure.Net:443", "https://vault.azure.net"),
            ("https://v.vault.azure.cn", "https://vault.azure.cn"),
            (
                "https://v.vault.usgovcloudapi.net",
                "https://vault.usgovcloudapi.net",
            ),
            (
                "https://v.vault.microsoftazure.de",
                "https://vault.microsoftazure.de",
            ),
            (
                "https://h.managedhsm.azure.net",
                "https://managedhsm.azure.net",
            ),
            (
                "https://h.managedhsm.azure.cn",
                "https://managedhsm.azure.cn",
            ),
            (
                "https://h.managedhsm.usgovcloudapi.net",
                "https://managedhsm.usgovcloudapi.net",
            ),
        ] {
            let got = imp::vault_scope(&env(&[]), url).unwrap();
            assert_eq!(got.resource, scope, "{url}");
        }
    }

    /// Hosts outside the Key Vault domains, lookalikes and tricks are
    /// refused in one line naming the host and the variable; nothing is
    /// asked of the token endpoint.
    #[test]
    fn vaults_outside_key_vault_domains_are_refused() {
        for (url, host) in [
            ("https://evil.example", "evil.example"),
            ("https://vault.azure.net", "vault.azure.net"),
            ("https://a.b.vault.azure.net", "a.b.vault.azure.net"),
            (
                "https://v.vault.azure.net.evil.example",
                "v.vault.azure.net.evil.example",
            ),
            ("https://vvault.azure.net", "vvault.azure.net"),
            ("https://v.vault.azure.com", "v.vault.azure.com"),
            ("https://127.0.0.1:8443", "127.0.0.1:8443"),
            ("http://127.0.0.1:8200", "127.0.0.1:8200"),
            ("http://localhost", "localhost"),
        ] {
            let err = imp::vault_scope(&env(&[]), url).err().unwrap();
            assert_eq!(
                err,
                format!("refusing to send an Azure token to {host:?}: it is not a Key Vault host (<vault>.vault.azure.net or another Azure cloud's Key Vault or Managed HSM domain, over https); to trust it, list it in ENSEAL_AZURE_KV_ALLOWED_HOSTS"),
                "{url}"
            );
        }
        for url in [
            "https://v.vault.azure.net@127.0.0.1:9",
            "https://v.vault.azure.net/extra",
            "https://v.vault.azure.net?x=1",
            "https://v.vault.azure.net#frag",
            "https://v.vault.azure.net%2f@evil.example",
            "https://v.vault.azure.net:abc",
            " https://v.vault.azure.net",
            "v.vault.azure.net",
        ] {
            let err = imp::vault_scope(&env(&[]), url).err().unwrap();
            assert!(
                err.starts_with(&format!("invalid Azure Key Vault URL {url:?}: ")),
                "{err}"
            );
        }
        // Plain http off loopback is refused even when listed.
        let listed = env(&[(imp::ALLOWED_HOSTS_VAR, "v.vault.azure.net,kv.corp.example")]);
        for url in ["http://v.vault.azure.net", "http://kv.corp.example"] {
            let err = imp::vault_scope(&listed, url).err().unwrap();
            assert!(err.starts_with("refusing plain http"), "{err}");
        }
        // A refused entry costs no token request: the token endpoint is a
        // recording mock that must see nothing.
        let server = Mock::start(azure_answer);
        let mut no_list = secret_env(&server);
        no_list.0.remove(imp::ALLOWED_HOSTS_VAR);
        let mut fields = key_fields(&server.url, "k", "v");
        fields.push("enc", Value::Str("AAAA".into()));
        let err = imp::unwrap(&no_list, &fields).unwrap_err();
        assert!(
            err.contains(&format!("{:?}", authority(&server.url)))
                && err.contains(imp::ALLOWED_HOSTS_VAR),
            "{err}"
        );
        assert!(!err.contains('\n'));
        let err = imp::wrap(&no_list, &mut fields, &[1]).unwrap_err();
        assert!(err.contains(imp::ALLOWED_HOSTS_VAR), "{err}");
        let err = imp::latest_version(&no_list, &server.url, "k").unwrap_err();
        assert!(err.contains(imp::ALLOWED_HOSTS_VAR), "{err}");
        assert!(server.requests().is_empty(), "{:?}", server.requests());
    }

    #[test]
    fn allowed_hosts_opt_in() {
        let list = env(&[(
            imp::ALLOWED_HOSTS_VAR,
            " kv.corp.example , 127.0.0.1:8200,*.vault.local.azurestack.external,[::1]:9 ,",
        )]);
        for url in [
            "https://kv.corp.example",
            "https://KV.corp.example:8443",
            "http://127.0.0.1:8200",
            "https://127.0.0.1:8200",
            "https://v1.vault.local.azurestack.external",
            "http://[::1]:9",
        ] {
            let scope = imp::vault_scope(&list, url).unwrap();
            // Listed hosts outside the Azure domains get the public audience.
            assert_eq!(scope.resource, "https://vault.azure.net", "{url}");
        }
        for url in [
            "http://127.0.0.1:8201",
            "https://x.kv.corp.example",
            "https://vault.local.azurestack.external",
            "https://evil-vault.local.azurestack.external.example",
            "http://[::1]:10",
            "http://localhost:8200",
        ] {
            let err = imp::vault_scope(&list, url).err().unwrap();
            assert!(err.contains(imp::ALLOWED_HOSTS_VAR), "{url}: {err}");
        }
        // A listed Key Vault host keeps its cloud's audience.
        let cn = env(&[(imp::ALLOWED_HOSTS_VAR, "127.0.0.1")]);
        assert_eq!(
            imp::vault_scope(&cn, "https://v.vault.azure.cn")
                .unwrap()
                .resource,
            "https://vault.azure.cn"
        );
        for bad in [
            "https://kv.example",
            "kv.example/x",
            "user@kv",
            "*.[::1]",
            "kv:0",
            "*",
        ] {
            let err = imp::allowed_hosts(&env(&[(imp::ALLOWED_HOSTS_VAR, bad)]))
                .err()
                .unwrap();
            assert!(
                err.starts_with(&format!(
                    "ENSEAL_AZURE_KV_ALLOWED_HOSTS: {bad:?} is not host[:port]"
                )),
                "{err}"
            );
        }
    }

    /// Key names and versions from the file cannot reshape the request path.
    #[test]
    fn key_names_and_versions_are_object_names() {
        let server = Mock::start(azure_answer);
        let env = secret_env(&server);
        for (name, version) in [
            ("..", "v"),
            ("k", ".."),
            ("k/../../other", "v"),
            ("k", "v?api-version=1"),
            ("k", "v#x"),
            ("k%2F..", "v"),
            ("k:", "v"),
            ("k@evil", "v"),
            ("k k", "v"),
            ("k", "v/decrypt"),
        ] {
            let mut fields = key_fields(&server.url, name, version);
            fields.push("enc", Value::Str("AAAA".into()));
            let err = imp::unwrap(&env, &fields).unwrap_err();
            assert!(err.starts_with("invalid Azure Key Vault key "), "{err}");
        }
        assert!(server.requests().is_empty(), "{:?}", server.requests());
        // A version the vault reports is checked the same way.
        let odd = Mock::start(|r| {
            if r.target.contains("oauth2") {
                return azure_answer(r);
            }
            (
                200,
                json!({"key": {"kid": "https://v.vault.azure.net/keys/k/..%2F..%2Fx"}}).to_string(),
            )
        });
        let err = imp::latest_version(&secret_env(&odd), &odd.url, "k").unwrap_err();
        assert!(
            err.ends_with("the response has no key.kid with a version"),
            "{err}"
        );
    }
}

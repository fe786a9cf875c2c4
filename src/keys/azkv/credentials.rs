//! Where a Key Vault token comes from: a client secret, workload identity,
//! managed identity (only when enabled) or the Azure CLI, in that order.

use super::super::cloud_http::{self, check_url, send, Body, Env};
use super::imp::Scope;
use serde_json::Value as Json;
use zeroize::Zeroizing;

/// The Azure AD authority unless `AZURE_AUTHORITY_HOST` says otherwise.
const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// The instance metadata service (managed identity).
const IMDS_HOST: &str = "http://169.254.169.254";

/// An access token from the first credential source that is configured.
pub(crate) fn access_token(
    env: &dyn Env,
    agent: &cloud_http::Agent,
    scope: &Scope,
) -> Result<Zeroizing<String>, String> {
    let tenant = env.var("AZURE_TENANT_ID");
    let client = env.var("AZURE_CLIENT_ID");
    if let (Some(tenant), Some(client)) = (&tenant, &client) {
        // The application's own token grant, with its proof in `proof`.
        let grant = |proof: &[(&str, &str)]| token_grant(env, agent, tenant, client, scope, proof);
        if let Some(secret) = env.var("AZURE_CLIENT_SECRET") {
            let secret = Zeroizing::new(secret);
            return grant(&[("client_secret", secret.as_str())]);
        }
        if let Some(path) = env.var("AZURE_FEDERATED_TOKEN_FILE") {
            let assertion = cloud_http::read_credential_file("AZURE_FEDERATED_TOKEN_FILE", &path)?;
            return grant(&[
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion.trim()),
            ]);
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

//! Where a Google access token comes from, as sops finds credentials for
//! Cloud KMS: a token in the environment, a credentials file (service
//! account or user), or the metadata server when asked for. Shared by the
//! `gcp_kms` keys and the GCS destination of `publish`, each asking for
//! its own OAuth scope.

use super::super::cloud_http::{self, check_url, send, Body, Env};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::Value as Json;
use zeroize::Zeroizing;

/// Google's OAuth 2.0 token endpoint.
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// The scope requested for KMS calls (what the Go client asks for).
pub(crate) const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// The metadata-flavor host when only `ENSEAL_GCP_METADATA` is set.
const METADATA_HOST: &str = "169.254.169.254";

/// An access token and the project to bill, if the credentials name one.
pub(crate) struct Token {
    pub access_token: Zeroizing<String>,
    pub quota_project: Option<String>,
}

/// Finds credentials as sops does and turns them into an access token for
/// `scope` (the scope only matters to a service account's signed request;
/// a refresh token or the metadata server gives the scopes it was granted).
pub(crate) fn access_token(
    env: &dyn Env,
    agent: &cloud_http::Agent,
    scope: &str,
) -> Result<Token, String> {
    if let Some(value) = env.var("GOOGLE_CREDENTIALS") {
        let json = if std::path::Path::new(&value).is_file() {
            cloud_http::read_credential_file("GOOGLE_CREDENTIALS", &value)?
        } else {
            Zeroizing::new(value)
        };
        return token_from_json(agent, &json, "GOOGLE_CREDENTIALS", scope);
    }
    if let Some(token) = env.var("GOOGLE_OAUTH_ACCESS_TOKEN") {
        return Ok(Token {
            access_token: Zeroizing::new(token.trim().to_string()),
            quota_project: None,
        });
    }
    if let Some(path) = env.var("GOOGLE_APPLICATION_CREDENTIALS") {
        let json = cloud_http::read_credential_file("GOOGLE_APPLICATION_CREDENTIALS", &path)?;
        return token_from_json(agent, &json, "GOOGLE_APPLICATION_CREDENTIALS", scope);
    }
    if let Some(path) = well_known_file(env) {
        if path.is_file() {
            let shown = path.display().to_string();
            let json = cloud_http::read_credential_file("gcloud", &shown)?;
            return token_from_json(agent, &json, &shown, scope);
        }
    }
    let metadata_host = env.var("GCE_METADATA_HOST").or_else(|| {
        env.var("ENSEAL_GCP_METADATA")
            .filter(|v| matches!(v.as_str(), "1" | "true" | "yes"))
            .map(|_| METADATA_HOST.to_string())
    });
    if let Some(host) = metadata_host {
        return metadata_token(agent, host.trim());
    }
    Err(
        "no Google credentials found: set GOOGLE_CREDENTIALS, GOOGLE_OAUTH_ACCESS_TOKEN \
         or GOOGLE_APPLICATION_CREDENTIALS, run `gcloud auth application-default login`, \
         or set ENSEAL_GCP_METADATA=1 on GCE"
            .to_string(),
    )
}

/// gcloud's application-default credentials file.
fn well_known_file(env: &dyn Env) -> Option<std::path::PathBuf> {
    if let Some(dir) = env.var("CLOUDSDK_CONFIG") {
        return Some(std::path::Path::new(&dir).join("application_default_credentials.json"));
    }
    let base = if cfg!(windows) {
        std::path::PathBuf::from(env.var("APPDATA")?)
    } else {
        std::path::Path::new(&env.var("HOME")?).join(".config")
    };
    Some(
        base.join("gcloud")
            .join("application_default_credentials.json"),
    )
}

/// A token for `scope` from a credentials JSON document (`source` names
/// where it came from, for errors). Tokens are cached by credentials and
/// scope: a narrow token is never handed to a caller asking for another.
pub(crate) fn token_from_json(
    agent: &cloud_http::Agent,
    json: &str,
    source: &str,
    scope: &str,
) -> Result<Token, String> {
    let creds: Json = serde_json::from_str(json)
        .map_err(|_| format!("{source}: not a readable file and not credentials JSON"))?;
    let text = |name: &str| creds.get(name).and_then(Json::as_str).map(str::to_string);
    let quota_project = text("quota_project_id").filter(|p| !p.is_empty());
    let kind = text("type").unwrap_or_default();
    let token_uri = text("token_uri").unwrap_or_else(|| DEFAULT_TOKEN_URI.to_string());
    check_url(&token_uri).map_err(|e| format!("{source}: token_uri: {e}"))?;
    let digest = cloud_http::digest(&[json.as_bytes(), scope.as_bytes()]);
    if let Some(cached) = cloud_http::cached(&digest) {
        return Ok(Token {
            access_token: cached,
            quota_project,
        });
    }
    let (token, expires_in) = match kind.as_str() {
        "service_account" => {
            let email = text("client_email")
                .ok_or_else(|| format!("{source}: service account without client_email"))?;
            let key = Zeroizing::new(
                text("private_key")
                    .ok_or_else(|| format!("{source}: service account without private_key"))?,
            );
            let jwt = signed_assertion(
                &email,
                &key,
                text("private_key_id").as_deref(),
                &token_uri,
                scope,
                cloud_http::unix_now(),
            )
            .map_err(|e| format!("{source}: {e}"))?;
            let form = [
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", jwt.as_str()),
            ];
            cloud_http::token_request(agent, &token_uri, &form)
        }
        "authorized_user" => {
            let get = |name: &str| {
                text(name).ok_or_else(|| format!("{source}: authorized_user without {name}"))
            };
            let (id, secret, refresh) = (
                get("client_id")?,
                Zeroizing::new(get("client_secret")?),
                Zeroizing::new(get("refresh_token")?),
            );
            let form = [
                ("grant_type", "refresh_token"),
                ("client_id", id.as_str()),
                ("client_secret", secret.as_str()),
                ("refresh_token", refresh.as_str()),
            ];
            cloud_http::token_request(agent, &token_uri, &form)
        }
        "" => return Err(format!("{source}: credentials JSON without \"type\"")),
        other => {
            return Err(format!(
                "{source}: credentials of type {other:?} are not supported by enseal \
                 (only service_account and authorized_user; or set GOOGLE_OAUTH_ACCESS_TOKEN)"
            ))
        }
    }
    .map_err(|e| format!("{source}: token request to {token_uri} failed: {e}"))?;
    cloud_http::store(digest, &token, expires_in);
    Ok(Token {
        access_token: token,
        quota_project,
    })
}

/// A token from the GCE metadata server.
fn metadata_token(agent: &cloud_http::Agent, host: &str) -> Result<Token, String> {
    let url = format!("http://{host}/computeMetadata/v1/instance/service-accounts/default/token");
    let response = send(
        agent,
        "GET",
        &url,
        &[("Metadata-Flavor", "Google")],
        Body::None,
    )
    .map_err(|e| format!("GCE metadata server {host}: {e}"))?;
    let (token, _) = cloud_http::read_token(&response)
        .map_err(|e| format!("GCE metadata server {host}: {e}"))?;
    Ok(Token {
        access_token: token,
        quota_project: None,
    })
}

/// The RS256-signed JWT a service account presents at `token_uri`
/// (RFC 7523) for `scope`, valid for one hour from `now`.
pub(crate) fn signed_assertion(
    email: &str,
    private_key_pem: &str,
    key_id: Option<&str>,
    token_uri: &str,
    scope: &str,
    now: u64,
) -> Result<Zeroizing<String>, String> {
    let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
    if let Some(kid) = key_id.filter(|k| !k.is_empty()) {
        header["kid"] = Json::String(kid.to_string());
    }
    let claims = serde_json::json!({
        "iss": email,
        "scope": scope,
        "aud": token_uri,
        "iat": now,
        "exp": now + 3600,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let der = pem_body(private_key_pem)?;
    let key = if private_key_pem.contains("BEGIN RSA PRIVATE KEY") {
        ring::signature::RsaKeyPair::from_der(&der)
    } else {
        ring::signature::RsaKeyPair::from_pkcs8(&der)
    }
    .map_err(|e| format!("the service account's private_key is not a usable RSA key ({e})"))?;
    let mut signature = vec![0u8; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|_| "signing the token request failed".to_string())?;
    Ok(Zeroizing::new(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    )))
}

/// The DER bytes inside a PEM block.
fn pem_body(pem: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    let body: Zeroizing<String> = Zeroizing::new(
        pem.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("-----"))
            .collect(),
    );
    STANDARD
        .decode(body.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| "the service account's private_key is not PEM".to_string())
}

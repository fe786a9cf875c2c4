//! GCP Cloud KMS master keys (`gcp_kms` in the metadata): the data key is
//! wrapped with the KMS REST `encrypt` call and stored base64 in `enc`.
//!
//! Wire calls: `POST {endpoint}/v1/{resource_id}:encrypt` with
//! `{"plaintext": base64}` → `{"ciphertext": base64}`, and `:decrypt` with
//! `{"ciphertext": base64}` → `{"plaintext": base64}`. The endpoint is
//! `https://cloudkms.googleapis.com`, or `SOPS_GCP_KMS_ENDPOINT`, or
//! `https://cloudkms.{SOPS_GCP_KMS_UNIVERSE_DOMAIN}`.
//!
//! Credentials, in sops' order: `GOOGLE_CREDENTIALS` (a file path or the JSON
//! itself), `GOOGLE_OAUTH_ACCESS_TOKEN` (a bearer token), then application
//! default credentials: `GOOGLE_APPLICATION_CREDENTIALS`, gcloud's
//! `application_default_credentials.json`, and the GCE metadata server only
//! when `GCE_METADATA_HOST` or `ENSEAL_GCP_METADATA=1` asks for it.
//! Credential files of type `service_account` (an RS256-signed JWT exchanged
//! at `token_uri`) and `authorized_user` (a refresh token) are understood.
//!
//! Trust boundary: the endpoint and the credentials come from the user's
//! environment; the only thing an encrypted file contributes to a request
//! is the key's `resource_id`, which goes into the URL path. It must be
//! `projects/P/locations/L/keyRings/R/cryptoKeys/K` with Cloud KMS name
//! characters in each part, so a file cannot change the host, the path
//! prefix, the operation or the query the token is sent with.

use crate::tree::Map;
use zeroize::Zeroizing;

/// Wraps `secret` (a data key or Shamir share) for the key described by
/// `fields`, filling its `enc` and `created_at` fields.
pub fn wrap(fields: &mut Map, secret: &[u8]) -> Result<(), String> {
    #[cfg(feature = "gcp")]
    return imp::wrap(&super::cloud_http::ProcessEnv, fields, secret);
    #[cfg(not(feature = "gcp"))]
    {
        let _ = (fields, secret);
        Err(not_built())
    }
}

/// Unwraps the data key or share stored in `fields`.
pub fn unwrap(fields: &Map) -> Result<Zeroizing<Vec<u8>>, String> {
    #[cfg(feature = "gcp")]
    return imp::unwrap(&super::cloud_http::ProcessEnv, fields);
    #[cfg(not(feature = "gcp"))]
    {
        let _ = fields;
        Err(not_built())
    }
}

#[cfg(not(feature = "gcp"))]
fn not_built() -> String {
    "GCP KMS keys are not supported by this build of enseal (cargo feature \"gcp\" is off)"
        .to_string()
}

#[cfg(feature = "gcp")]
pub(crate) mod imp {
    use super::super::cloud_http::{self, check_url, field, send, Body, Env};
    use crate::tree::Map;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use base64::Engine;
    use serde_json::Value as Json;
    use zeroize::Zeroizing;

    /// The Cloud KMS endpoint unless configured otherwise.
    const DEFAULT_ENDPOINT: &str = "https://cloudkms.googleapis.com";
    /// Google's OAuth 2.0 token endpoint.
    const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
    /// The scope requested for KMS calls (what the Go client asks for).
    const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
    /// The metadata-flavor host when only `ENSEAL_GCP_METADATA` is set.
    const METADATA_HOST: &str = "169.254.169.254";

    /// Metadata field order of a `gcp_kms` entry as sops 3.11 writes it.
    const FIELD_ORDER: [&str; 3] = ["resource_id", "created_at", "enc"];

    pub(crate) fn wrap(env: &dyn Env, fields: &mut Map, secret: &[u8]) -> Result<(), String> {
        let id = resource_id(fields)?;
        let fail = |e: String| format!("failed to encrypt sops data key with GCP KMS key: {e}");
        let agent = cloud_http::agent(env);
        let token = access_token(env, &agent).map_err(fail)?;
        let body = Zeroizing::new(format!(
            "{{\"plaintext\":\"{}\"}}",
            Zeroizing::new(STANDARD.encode(secret)).as_str()
        ));
        let json = call(env, &agent, &id, "encrypt", &token, &body).map_err(fail)?;
        let ciphertext = json
            .get("ciphertext")
            .and_then(Json::as_str)
            .and_then(|c| STANDARD.decode(c).ok())
            .filter(|c| !c.is_empty())
            .ok_or_else(|| fail("the response has no base64 \"ciphertext\"".into()))?;
        // sops stores the raw ciphertext in standard base64.
        cloud_http::set_field(fields, "enc", STANDARD.encode(ciphertext));
        cloud_http::set_field(fields, "created_at", crate::keys::created_at_now());
        cloud_http::order_fields(fields, &FIELD_ORDER);
        Ok(())
    }

    pub(crate) fn unwrap(env: &dyn Env, fields: &Map) -> Result<Zeroizing<Vec<u8>>, String> {
        let id = resource_id(fields)?;
        let fail = |e: String| format!("failed to decrypt sops data key with GCP KMS key: {e}");
        let enc = field(fields, "enc").unwrap_or_default();
        // sops ≤ 3.8 and later all store standard base64.
        let ciphertext = STANDARD
            .decode(enc.trim())
            .map_err(|e| fail(format!("enc is not base64: {e}")))?;
        let agent = cloud_http::agent(env);
        let token = access_token(env, &agent).map_err(fail)?;
        let body = format!("{{\"ciphertext\":\"{}\"}}", STANDARD.encode(ciphertext));
        let mut json = call(env, &agent, &id, "decrypt", &token, &body).map_err(fail)?;
        let plaintext = match json.get_mut("plaintext") {
            Some(Json::String(s)) => Zeroizing::new(std::mem::take(s)),
            _ => return Err(fail("the response has no \"plaintext\"".into())),
        };
        STANDARD
            .decode(plaintext.as_bytes())
            .map(Zeroizing::new)
            .map_err(|_| fail("the response's \"plaintext\" is not base64".into()))
    }

    /// The key's resource id: `projects/P/locations/L/keyRings/R/cryptoKeys/K`
    /// (sops' shape), each name made of the characters Cloud KMS allows
    /// (letters, digits, `-` and `_`; a project id may also hold `.` and
    /// `:`, as domain-scoped ids do, but not `..`), so that the id cannot
    /// add path segments, dot segments, an operation, a query or a fragment
    /// to the URL it is put in.
    pub(crate) fn resource_id(fields: &Map) -> Result<String, String> {
        let id = field(fields, "resource_id").unwrap_or_default();
        let parts: Vec<&str> = id.split('/').collect();
        let shaped = parts.len() == 8
            && parts[0] == "projects"
            && parts[2] == "locations"
            && parts[4] == "keyRings"
            && parts[6] == "cryptoKeys"
            && [1, 3, 5, 7].iter().all(|&i| !parts[i].is_empty());
        if !shaped {
            return Err(format!("no valid resource ID found in {id:?}"));
        }
        let name_char = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        let project = parts[1];
        let project_ok = project.len() <= 100
            && project.as_bytes()[0].is_ascii_alphanumeric()
            && !project.contains("..")
            && project
                .bytes()
                .all(|b| name_char(b) || b == b'.' || b == b':');
        let names_ok = [3, 5, 7]
            .iter()
            .all(|&i| parts[i].len() <= 63 && parts[i].bytes().all(name_char));
        if project_ok && names_ok {
            Ok(id)
        } else {
            Err(format!(
                "no valid resource ID found in {id:?}: names may hold only letters, digits, \
                 '-' and '_' (and '.' or ':' in the project id)"
            ))
        }
    }

    /// The service's base URL.
    pub(crate) fn endpoint(env: &dyn Env) -> Result<String, String> {
        let raw = if let Some(e) = env.var("SOPS_GCP_KMS_ENDPOINT") {
            let e = e.trim().trim_end_matches('/').to_string();
            // The Go client also takes a bare `host:port`.
            if e.contains("://") {
                e
            } else {
                format!("https://{e}")
            }
        } else if let Some(domain) = env.var("SOPS_GCP_KMS_UNIVERSE_DOMAIN") {
            format!("https://cloudkms.{}", domain.trim())
        } else {
            DEFAULT_ENDPOINT.to_string()
        };
        check_url(&raw).map_err(|e| format!("SOPS_GCP_KMS_ENDPOINT: {e}"))?;
        Ok(raw)
    }

    /// `POST {endpoint}/v1/{id}:{op}` with a bearer token.
    fn call(
        env: &dyn Env,
        agent: &cloud_http::Agent,
        id: &str,
        op: &str,
        token: &Token,
        body: &str,
    ) -> Result<Json, String> {
        let path: Vec<String> = id.split('/').map(cloud_http::path_segment).collect();
        let url = format!("{}/v1/{}:{op}", endpoint(env)?, path.join("/"));
        let auth = Zeroizing::new(format!("Bearer {}", token.access_token.as_str()));
        let mut headers = vec![("Authorization", auth.as_str())];
        if let Some(project) = &token.quota_project {
            headers.push(("x-goog-user-project", project));
        }
        cloud_http::send(agent, "POST", &url, &headers, Body::Json(body))?.json()
    }

    /// An access token and the project to bill, if the credentials name one.
    pub(crate) struct Token {
        pub access_token: Zeroizing<String>,
        pub quota_project: Option<String>,
    }

    /// Finds credentials as sops does and turns them into an access token.
    pub(crate) fn access_token(env: &dyn Env, agent: &cloud_http::Agent) -> Result<Token, String> {
        if let Some(value) = env.var("GOOGLE_CREDENTIALS") {
            let json = if std::path::Path::new(&value).is_file() {
                cloud_http::read_credential_file("GOOGLE_CREDENTIALS", &value)?
            } else {
                Zeroizing::new(value)
            };
            return token_from_json(agent, &json, "GOOGLE_CREDENTIALS");
        }
        if let Some(token) = env.var("GOOGLE_OAUTH_ACCESS_TOKEN") {
            return Ok(Token {
                access_token: Zeroizing::new(token.trim().to_string()),
                quota_project: None,
            });
        }
        if let Some(path) = env.var("GOOGLE_APPLICATION_CREDENTIALS") {
            let json = cloud_http::read_credential_file("GOOGLE_APPLICATION_CREDENTIALS", &path)?;
            return token_from_json(agent, &json, "GOOGLE_APPLICATION_CREDENTIALS");
        }
        if let Some(path) = well_known_file(env) {
            if path.is_file() {
                let shown = path.display().to_string();
                let json = cloud_http::read_credential_file("gcloud", &shown)?;
                return token_from_json(agent, &json, &shown);
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

    /// A token from a credentials JSON document (`source` names where it
    /// came from, for errors).
    pub(crate) fn token_from_json(
        agent: &cloud_http::Agent,
        json: &str,
        source: &str,
    ) -> Result<Token, String> {
        let creds: Json = serde_json::from_str(json)
            .map_err(|_| format!("{source}: not a readable file and not credentials JSON"))?;
        let text = |name: &str| creds.get(name).and_then(Json::as_str).map(str::to_string);
        let quota_project = text("quota_project_id").filter(|p| !p.is_empty());
        let kind = text("type").unwrap_or_default();
        let token_uri = text("token_uri").unwrap_or_else(|| DEFAULT_TOKEN_URI.to_string());
        check_url(&token_uri).map_err(|e| format!("{source}: token_uri: {e}"))?;
        let digest = cloud_http::digest(&[json.as_bytes()]);
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
        let url =
            format!("http://{host}/computeMetadata/v1/instance/service-accounts/default/token");
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
    /// (RFC 7523), valid for one hour from `now`.
    pub(crate) fn signed_assertion(
        email: &str,
        private_key_pem: &str,
        key_id: Option<&str>,
        token_uri: &str,
        now: u64,
    ) -> Result<Zeroizing<String>, String> {
        let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
        if let Some(kid) = key_id.filter(|k| !k.is_empty()) {
            header["kid"] = Json::String(kid.to_string());
        }
        let claims = serde_json::json!({
            "iss": email,
            "scope": SCOPE,
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
}

#[cfg(all(test, feature = "gcp"))]
mod tests {
    use super::super::cloud_http::mock::{self, Mock, Request};
    use super::super::cloud_http::MapEnv;
    use super::imp;
    use crate::tree::{Map, Value};
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use base64::Engine;
    use serde_json::json;

    const ID: &str = "projects/p1/locations/global/keyRings/ring/cryptoKeys/key1";

    fn env(pairs: &[(&str, &str)]) -> MapEnv {
        MapEnv(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn key_fields(id: &str) -> Map {
        let mut m = Map::new();
        m.push("resource_id", Value::Str(id.into()));
        m
    }

    /// A Cloud KMS lookalike: `:encrypt`/`:decrypt` on any key with the
    /// mock cipher; requires `Bearer <token>`.
    fn kms_answer(req: &Request, token: &str) -> (u16, String) {
        if req.header("authorization") != Some(&format!("Bearer {token}")) {
            return (
                401,
                json!({"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}}).to_string(),
            );
        }
        let (path, op) = req.target.rsplit_once(':').unwrap();
        let key = path.strip_prefix("/v1/").unwrap().to_string();
        let body = req.json();
        match op {
            "encrypt" => {
                let pt = STANDARD
                    .decode(body["plaintext"].as_str().unwrap())
                    .unwrap();
                (
                    200,
                    json!({"name": key, "ciphertext": STANDARD.encode(mock::seal(&key, &pt))})
                        .to_string(),
                )
            }
            "decrypt" => {
                let ct = STANDARD
                    .decode(body["ciphertext"].as_str().unwrap())
                    .unwrap();
                match mock::open(&key, &ct) {
                    Some(pt) => (200, json!({"plaintext": STANDARD.encode(pt)}).to_string()),
                    None => (400, json!({"error": {"code": 400, "message": "Decryption failed: the ciphertext is invalid.", "status": "INVALID_ARGUMENT"}}).to_string()),
                }
            }
            _ => (404, "{}".into()),
        }
    }

    #[test]
    fn static_token_round_trip_and_request_shape() {
        let server = Mock::start(|r| kms_answer(r, "static-tok"));
        let env = env(&[
            ("GOOGLE_OAUTH_ACCESS_TOKEN", "static-tok"),
            ("SOPS_GCP_KMS_ENDPOINT", &server.url),
        ]);
        let secret = [7u8; 32];
        let mut fields = key_fields(ID);
        imp::wrap(&env, &mut fields, &secret).unwrap();
        let keys: Vec<&str> = fields.entries().map(|(k, _)| k).collect();
        assert_eq!(keys, ["resource_id", "created_at", "enc"]);
        let enc = fields.get("enc").unwrap().as_str().unwrap().to_string();
        assert_eq!(STANDARD.decode(&enc).unwrap(), mock::seal(ID, &secret));
        assert_eq!(*imp::unwrap(&env, &fields).unwrap(), secret);

        let reqs = server.requests();
        assert_eq!(reqs.len(), 2);
        assert_eq!(reqs[0].method, "POST");
        assert_eq!(reqs[0].target, format!("/v1/{ID}:encrypt"));
        assert_eq!(reqs[0].header("content-type"), Some("application/json"));
        assert_eq!(
            reqs[0].json(),
            json!({"plaintext": STANDARD.encode(secret)})
        );
        assert_eq!(reqs[1].target, format!("/v1/{ID}:decrypt"));
        assert_eq!(reqs[1].json(), json!({"ciphertext": enc}));
    }

    #[test]
    fn service_account_jwt_is_signed_and_exchanged() {
        let Some(pem) = mock::test_rsa_key() else {
            return;
        };
        let der = STANDARD
            .decode(
                pem.lines()
                    .filter(|l| !l.starts_with("-----"))
                    .collect::<String>(),
            )
            .unwrap();
        let public = ring::signature::RsaKeyPair::from_pkcs8(&der)
            .unwrap()
            .public()
            .as_ref()
            .to_vec();
        let server = Mock::start(move |r| {
            if r.target == "/token" {
                assert_eq!(r.method, "POST");
                assert_eq!(
                    r.header("content-type"),
                    Some("application/x-www-form-urlencoded")
                );
                assert_eq!(
                    r.form_value("grant_type").as_deref(),
                    Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
                );
                let jwt = r.form_value("assertion").unwrap();
                let (input, sig) = jwt.rsplit_once('.').unwrap();
                ring::signature::UnparsedPublicKey::new(
                    &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                    &public,
                )
                .verify(input.as_bytes(), &URL_SAFE_NO_PAD.decode(sig).unwrap())
                .expect("JWT signature verifies with the test key");
                let (h, c) = input.split_once('.').unwrap();
                let header: serde_json::Value =
                    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap();
                let claims: serde_json::Value =
                    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(c).unwrap()).unwrap();
                assert_eq!(
                    header,
                    json!({"alg": "RS256", "typ": "JWT", "kid": "kid-1"})
                );
                assert_eq!(claims["iss"], "sa@p1.iam.gserviceaccount.com");
                assert_eq!(
                    claims["scope"],
                    "https://www.googleapis.com/auth/cloud-platform"
                );
                assert!(claims["aud"].as_str().unwrap().ends_with("/token"));
                let (iat, exp) = (
                    claims["iat"].as_u64().unwrap(),
                    claims["exp"].as_u64().unwrap(),
                );
                assert_eq!(exp - iat, 3600);
                assert!(iat.abs_diff(super::super::cloud_http::unix_now()) < 120);
                return (
                    200,
                    json!({"access_token": "sa-token", "expires_in": 3599, "token_type": "Bearer"})
                        .to_string(),
                );
            }
            kms_answer(r, "sa-token")
        });
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("sa.json");
        // Test material only: a key generated for this test run.
        std::fs::write(
            &creds,
            json!({
                "type": "service_account",
                "project_id": "p1",
                "private_key_id": "kid-1",
                "private_key": pem,
                "client_email": "sa@p1.iam.gserviceaccount.com",
                "token_uri": format!("{}/token", server.url),
            })
            .to_string(),
        )
        .unwrap();
        let env = env(&[
            ("GOOGLE_APPLICATION_CREDENTIALS", creds.to_str().unwrap()),
            ("SOPS_GCP_KMS_ENDPOINT", &server.url),
        ]);
        let mut fields = key_fields(ID);
        imp::wrap(&env, &mut fields, b"0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(
            *imp::unwrap(&env, &fields).unwrap(),
            b"0123456789abcdef0123456789abcdef"
        );
        // The token is exchanged once and reused for the second call.
        let targets: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
        assert_eq!(
            targets.iter().filter(|t| *t == "/token").count(),
            1,
            "{targets:?}"
        );
        assert_eq!(targets.len(), 3);
    }

    #[test]
    fn google_credentials_json_wins_over_static_token() {
        let server = Mock::start(|r| {
            if r.target == "/oauth" {
                let form = r.form();
                assert_eq!(
                    form,
                    [
                        ("grant_type".to_string(), "refresh_token".to_string()),
                        ("client_id".into(), "cid.apps.googleusercontent.com".into()),
                        ("client_secret".into(), "csecret".into()),
                        ("refresh_token".into(), "1//refresh".into()),
                    ]
                );
                return (
                    200,
                    json!({"access_token": "user-token", "expires_in": 3599}).to_string(),
                );
            }
            assert_eq!(r.header("x-goog-user-project"), Some("billing-proj"));
            kms_answer(r, "user-token")
        });
        let creds = json!({
            "type": "authorized_user",
            "client_id": "cid.apps.googleusercontent.com",
            "client_secret": "csecret",
            "refresh_token": "1//refresh",
            "quota_project_id": "billing-proj",
            "token_uri": format!("{}/oauth", server.url),
        })
        .to_string();
        let env = env(&[
            ("GOOGLE_CREDENTIALS", &creds),
            ("GOOGLE_OAUTH_ACCESS_TOKEN", "ignored"),
            ("SOPS_GCP_KMS_ENDPOINT", &server.url),
        ]);
        let mut fields = key_fields(ID);
        imp::wrap(&env, &mut fields, &[1, 2, 3]).unwrap();
        assert_eq!(*imp::unwrap(&env, &fields).unwrap(), [1, 2, 3]);
    }

    #[test]
    fn google_credentials_may_be_a_file_path() {
        let server = Mock::start(|r| {
            if r.target == "/t" {
                assert_eq!(r.form_value("refresh_token").as_deref(), Some("from-file"));
                return (200, json!({"access_token": "file-token"}).to_string());
            }
            kms_answer(r, "file-token")
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("creds.json");
        std::fs::write(
            &path,
            json!({"type": "authorized_user", "client_id": "c", "client_secret": "s",
                   "refresh_token": "from-file", "token_uri": format!("{}/t", server.url)})
            .to_string(),
        )
        .unwrap();
        let env = env(&[
            ("GOOGLE_CREDENTIALS", path.to_str().unwrap()),
            ("SOPS_GCP_KMS_ENDPOINT", &server.url),
        ]);
        imp::wrap(&env, &mut key_fields(ID), &[4; 32]).unwrap();
        let err = imp::wrap(
            &super::super::cloud_http::MapEnv(
                [(
                    "GOOGLE_CREDENTIALS".to_string(),
                    "/no/such/file".to_string(),
                )]
                .into(),
            ),
            &mut key_fields(ID),
            &[4; 32],
        )
        .unwrap_err();
        assert!(
            err.ends_with("GOOGLE_CREDENTIALS: not a readable file and not credentials JSON"),
            "{err}"
        );
    }

    #[test]
    fn metadata_server_only_when_asked() {
        let server = Mock::start(|r| {
            if r.target == "/computeMetadata/v1/instance/service-accounts/default/token" {
                assert_eq!(r.method, "GET");
                assert_eq!(r.header("metadata-flavor"), Some("Google"));
                return (200, json!({"access_token": "gce-token", "expires_in": 3599, "token_type": "Bearer"}).to_string());
            }
            kms_answer(r, "gce-token")
        });
        let home = tempfile::tempdir().unwrap();
        let host = server.url.trim_start_matches("http://").to_string();
        let base = [
            ("HOME", home.path().to_str().unwrap()),
            ("SOPS_GCP_KMS_ENDPOINT", server.url.as_str()),
        ];
        let mut fields = key_fields(ID);
        let err = imp::wrap(&env(&base), &mut fields, &[9; 32]).unwrap_err();
        assert!(err.contains("no Google credentials found"), "{err}");
        assert!(server.requests().is_empty(), "nothing was probed");

        let mut with_host = base.to_vec();
        with_host.push(("GCE_METADATA_HOST", &host));
        imp::wrap(&env(&with_host), &mut fields, &[9; 32]).unwrap();
        assert_eq!(server.requests().len(), 2);
    }

    #[test]
    fn gcloud_well_known_file_is_read() {
        let server = Mock::start(|r| {
            if r.target == "/t" {
                return (200, json!({"access_token": "adc-token"}).to_string());
            }
            kms_answer(r, "adc-token")
        });
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join(".config/gcloud");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("application_default_credentials.json"),
            json!({"type": "authorized_user", "client_id": "c", "client_secret": "s",
                   "refresh_token": "r", "token_uri": format!("{}/t", server.url)})
            .to_string(),
        )
        .unwrap();
        let env = env(&[
            ("HOME", home.path().to_str().unwrap()),
            ("SOPS_GCP_KMS_ENDPOINT", &server.url),
        ]);
        imp::wrap(&env, &mut key_fields(ID), &[1]).unwrap();
    }

    fn wrap_error(answer: impl Fn(&Request) -> (u16, String) + Send + Sync + 'static) -> String {
        let server = Mock::start(answer);
        let env = env(&[
            ("GOOGLE_OAUTH_ACCESS_TOKEN", "tok"),
            ("SOPS_GCP_KMS_ENDPOINT", &server.url),
            ("ENSEAL_CLOUD_TIMEOUT", "0.5"),
        ]);
        let secret = [0xabu8; 32];
        let err = imp::wrap(&env, &mut key_fields(ID), &secret).unwrap_err();
        assert!(!err.contains(&STANDARD.encode(secret)), "{err}");
        assert!(!err.contains('\n'), "{err}");
        assert!(err.starts_with("failed to encrypt sops data key with GCP KMS key: "));
        err
    }

    #[test]
    fn http_errors_name_the_key_and_the_cause() {
        let err = wrap_error(|_| {
            (403, json!({"error": {"code": 403, "message": "Permission 'cloudkms.cryptoKeyVersions.useToEncrypt' denied on resource", "status": "PERMISSION_DENIED"}}).to_string())
        });
        assert!(err.ends_with("HTTP 403: PERMISSION_DENIED: Permission 'cloudkms.cryptoKeyVersions.useToEncrypt' denied on resource"), "{err}");
        let err = wrap_error(|r| kms_answer(r, "other"));
        assert!(
            err.ends_with(
                "HTTP 401: UNAUTHENTICATED: Request had invalid authentication credentials."
            ),
            "{err}"
        );
        let err = wrap_error(|_| (500, "internal\nerror".into()));
        assert!(err.ends_with("HTTP 500: internal error"), "{err}");
        let err = wrap_error(|_| (200, "{}".into()));
        assert!(
            err.ends_with("the response has no base64 \"ciphertext\""),
            "{err}"
        );
        let err = wrap_error(|_| {
            std::thread::sleep(std::time::Duration::from_secs(3));
            (200, "{}".into())
        });
        assert!(err.ends_with("request timed out"), "{err}");
    }

    #[test]
    fn connection_refused_and_bad_settings() {
        let env1 = env(&[
            ("GOOGLE_OAUTH_ACCESS_TOKEN", "tok"),
            ("SOPS_GCP_KMS_ENDPOINT", &mock::closed_port_url()),
        ]);
        let err = imp::wrap(&env1, &mut key_fields(ID), &[1]).unwrap_err();
        assert!(
            err.ends_with("connection refused") || err.ends_with("connection failed"),
            "{err}"
        );
        let env2 = env(&[
            ("GOOGLE_OAUTH_ACCESS_TOKEN", "tok"),
            ("SOPS_GCP_KMS_ENDPOINT", "http://kms.example.com"),
        ]);
        let err = imp::wrap(&env2, &mut key_fields(ID), &[1]).unwrap_err();
        assert!(err.contains("refusing plain http"), "{err}");
        let err = imp::wrap(&env1, &mut key_fields("projects/p/keyRings/r"), &[1]).unwrap_err();

        assert_eq!(
            err,
            "no valid resource ID found in \"projects/p/keyRings/r\""
        );
        let env3 = env(&[("GOOGLE_CREDENTIALS", "{\"type\":\"external_account\"}")]);
        let err = imp::wrap(&env3, &mut key_fields(ID), &[1]).unwrap_err();
        assert!(
            err.contains("\"external_account\" are not supported"),
            "{err}"
        );
    }

    #[test]
    fn decrypt_with_the_wrong_key_reports_the_service_error() {
        let server = Mock::start(|r| kms_answer(r, "tok"));
        let env = env(&[
            ("GOOGLE_OAUTH_ACCESS_TOKEN", "tok"),
            ("SOPS_GCP_KMS_ENDPOINT", &server.url),
        ]);
        let mut fields = key_fields(ID);
        imp::wrap(&env, &mut fields, &[5; 32]).unwrap();
        let other = ID.replace("key1", "key2");
        let mut moved = fields.clone();
        *moved.get_mut("resource_id").unwrap() = Value::Str(other.clone());
        let err = imp::unwrap(&env, &moved).unwrap_err();
        assert_eq!(
            err,
            "failed to decrypt sops data key with GCP KMS key: HTTP 400: INVALID_ARGUMENT: Decryption failed: the ciphertext is invalid."
        );
        *moved.get_mut("enc").unwrap() = Value::Str("not base64!".into());
        assert!(imp::unwrap(&env, &moved)
            .unwrap_err()
            .contains("enc is not base64"));
    }

    #[test]
    fn endpoint_settings() {
        assert_eq!(
            imp::endpoint(&env(&[])).unwrap(),
            "https://cloudkms.googleapis.com"
        );
        assert_eq!(
            imp::endpoint(&env(&[(
                "SOPS_GCP_KMS_ENDPOINT",
                "cloudkms.s3nsapis.fr:443"
            )]))
            .unwrap(),
            "https://cloudkms.s3nsapis.fr:443"
        );
        assert_eq!(
            imp::endpoint(&env(&[("SOPS_GCP_KMS_UNIVERSE_DOMAIN", "s3nsapis.fr")])).unwrap(),
            "https://cloudkms.s3nsapis.fr"
        );
    }

    /// A resource id from a file cannot reshape the request: no request
    /// (and no token request) is made for one that tries.
    #[test]
    fn crafted_resource_ids_are_refused_before_any_request() {
        let server = Mock::start(|r| {
            if r.target == "/token" {
                return (200, json!({"access_token": "t"}).to_string());
            }
            kms_answer(r, "t")
        });
        let creds = json!({"type": "authorized_user", "client_id": "c", "client_secret": "s",
                           "refresh_token": "r", "token_uri": format!("{}/token", server.url)})
        .to_string();
        let env = env(&[
            ("GOOGLE_CREDENTIALS", &creds),
            ("SOPS_GCP_KMS_ENDPOINT", &server.url),
        ]);
        for id in [
            "projects/../locations/l/keyRings/r/cryptoKeys/k",
            "projects/p/locations/./keyRings/r/cryptoKeys/k",
            "projects/p/locations/l/keyRings/../cryptoKeys/..",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k:decrypt",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k?alt=media",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k#x",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k%2F..%2F..",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k@evil.example",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k k",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k\n",
            "projects/evil.example:443/locations/l/keyRings/r/cryptoKeys/k/",
            "projects/.p/locations/l/keyRings/r/cryptoKeys/k",
            "projects/p..q/locations/l/keyRings/r/cryptoKeys/k",
            "projects/p\\q/locations/l/keyRings/r/cryptoKeys/k",
        ] {
            let mut fields = key_fields(id);
            fields.push("enc", Value::Str("AAAA".into()));
            let err = imp::unwrap(&env, &fields).unwrap_err();
            assert!(
                err.starts_with(&format!("no valid resource ID found in {id:?}")),
                "{err}"
            );
            assert!(!err.contains('\n'), "{err}");
            let err = imp::wrap(&env, &mut key_fields(id), &[1]).unwrap_err();
            assert!(err.starts_with("no valid resource ID found"), "{err}");
        }
        assert!(server.requests().is_empty(), "{:?}", server.requests());
        // Real shapes still pass, domain-scoped projects included.
        for id in [
            ID,
            "projects/example.com:my-proj/locations/global/keyRings/ring_1/cryptoKeys/key-2",
        ] {
            assert_eq!(imp::resource_id(&key_fields(id)).unwrap(), id);
        }
    }
}

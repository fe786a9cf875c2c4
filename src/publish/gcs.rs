//! Publishing to Google Cloud Storage, as sops' `publish/gcs.go` does: the
//! *encrypted* file (re-encrypted for the keys of the rule's
//! `recreation_rule` when it names any, see `cli::publish_encrypted`)
//! becomes the object `<gcs_prefix><name>` of `gcs_bucket`, replacing any
//! object of that name. Plaintext is never sent (sops has no unencrypted
//! upload for GCS either).
//!
//! Wire: one JSON API simple upload,
//! `POST {endpoint}/upload/storage/v1/b/{bucket}/o?uploadType=media&name={object}`
//! with `Authorization: Bearer <token>` and the file as the body.
//!
//! Endpoint, from the user's environment only: `https://storage.googleapis.com`;
//! `ENSEAL_GCS_ENDPOINT` (another endpoint, credentials sent); or
//! `STORAGE_EMULATOR_HOST` (an emulator, as the Go client honours it: no
//! credentials at all, a bare `host:port` meaning `http://`). Either must
//! be `scheme://host[:port]`, https, or plain http only to a loopback host.
//!
//! Credentials: those of the `gcp_kms` keys (`GOOGLE_CREDENTIALS`,
//! `GOOGLE_OAUTH_ACCESS_TOKEN`, `GOOGLE_APPLICATION_CREDENTIALS`, gcloud's
//! application default credentials, the metadata server on request), with
//! the `devstorage.read_write` scope.
//!
//! Trust: the bucket and the prefix come from `.sops.yaml`. The bucket must
//! be a valid GCS bucket name (lower-case letters, digits, `-`, `_`, `.`),
//! so it is one path segment that cannot change the host, the path or the
//! query the token is sent with; the object name only ever travels
//! percent-encoded in the `name` query parameter.

use zeroize::Zeroizing;

use crate::keys::cloud_http::{self, Body, Env, Origin};
use crate::keys::gcpkms::credentials::access_token;

/// The GCS JSON API endpoint unless configured otherwise.
pub const DEFAULT_ENDPOINT: &str = "https://storage.googleapis.com";

/// The OAuth scope asked for: objects read and written, no IAM changes
/// (the Go client asks for `devstorage.full_control`).
pub const SCOPE: &str = "https://www.googleapis.com/auth/devstorage.read_write";

/// The content type of the uploaded object: what the Go client sniffs from
/// an encrypted YAML, JSON, dotenv or INI file.
const CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// The longest object name GCS accepts, in bytes of UTF-8.
const MAX_OBJECT_NAME: usize = 1024;

/// A GCS destination: a bucket and the prefix of its object names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcsDestination {
    bucket: String,
    prefix: String,
}

/// Why an upload failed, in one line, and whether the service refused the
/// credentials (HTTP 401 or 403: a hint about the IAM role helps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcsError {
    /// What went wrong, one line, no secret.
    pub message: String,
    /// The service answered 401 or 403.
    pub denied: bool,
}

impl std::fmt::Display for GcsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<String> for GcsError {
    fn from(message: String) -> GcsError {
        GcsError {
            message,
            denied: false,
        }
    }
}

/// An upload checked and ready to send: where, and with which credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// `gs://bucket/object`, for messages.
    pub target: String,
    /// The request URL.
    url: String,
    /// False for `STORAGE_EMULATOR_HOST`: no credentials are looked up or sent.
    authenticated: bool,
}

impl GcsDestination {
    /// A destination from the rule's `gcs_bucket` and `gcs_prefix`.
    pub fn new(bucket: &str, prefix: &str) -> GcsDestination {
        GcsDestination {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        }
    }

    /// The object `name` is uploaded as: the prefix, then the name.
    pub fn object_name(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Checks the bucket, the object name of `name` and the endpoint of the
    /// environment, before anything is decrypted or sent.
    pub fn prepare(&self, name: &str) -> Result<Upload, String> {
        self.prepare_with(&cloud_http::ProcessEnv, name)
    }

    pub(crate) fn prepare_with(&self, env: &dyn Env, name: &str) -> Result<Upload, String> {
        check_bucket(&self.bucket).map_err(|e| format!("gcs_bucket {:?}: {e}", self.bucket))?;
        let object = self.object_name(name);
        check_object_name(&object).map_err(|e| format!("GCS object name {object:?}: {e}"))?;
        let (base, authenticated) = endpoint(env)?;
        Ok(Upload {
            target: format!("gs://{}/{object}", self.bucket),
            url: format!(
                "{base}/upload/storage/v1/b/{}/o?uploadType=media&name={}",
                cloud_http::path_segment(&self.bucket),
                query_value(&object)
            ),
            authenticated,
        })
    }
}

impl Upload {
    /// Uploads `contents` (an encrypted file), replacing the object.
    pub fn send(&self, contents: &[u8]) -> Result<(), GcsError> {
        self.send_with(&cloud_http::ProcessEnv, contents)
    }

    pub(crate) fn send_with(&self, env: &dyn Env, contents: &[u8]) -> Result<(), GcsError> {
        let fail = |e: String| format!("uploading to {} failed: {e}", self.target);
        let agent = cloud_http::agent(env);
        let token = if self.authenticated {
            Some(access_token(env, &agent, SCOPE).map_err(fail)?)
        } else {
            None
        };
        let auth = token
            .as_ref()
            .map(|t| Zeroizing::new(format!("Bearer {}", t.access_token.as_str())));
        let mut headers = Vec::new();
        if let Some(auth) = &auth {
            headers.push(("Authorization", auth.as_str()));
        }
        if let Some(project) = token.as_ref().and_then(|t| t.quota_project.as_deref()) {
            headers.push(("x-goog-user-project", project));
        }
        let body = Body::Bytes {
            content_type: CONTENT_TYPE,
            bytes: contents,
        };
        let response = cloud_http::send(&agent, "POST", &self.url, &headers, body).map_err(fail)?;
        if (200..300).contains(&response.status) {
            return Ok(());
        }
        Err(GcsError {
            message: fail(cloud_http::service_error(response.status, &response.body)),
            denied: matches!(response.status, 401 | 403),
        })
    }
}

/// The base URL of the JSON API and whether credentials go there.
fn endpoint(env: &dyn Env) -> Result<(String, bool), String> {
    if let Some(host) = env.var("STORAGE_EMULATOR_HOST") {
        let host = host.trim();
        let url = if host.contains("://") {
            host.to_string()
        } else {
            format!("http://{host}")
        };
        return Ok((origin(&url, "STORAGE_EMULATOR_HOST")?, false));
    }
    match env.var("ENSEAL_GCS_ENDPOINT") {
        Some(url) => Ok((origin(url.trim(), "ENSEAL_GCS_ENDPOINT")?, true)),
        None => Ok((DEFAULT_ENDPOINT.to_string(), true)),
    }
}

/// `scheme://host[:port]` of an endpoint variable: https, or http to a
/// loopback host. The value is not repeated in errors (it could hold a
/// password as user info).
fn origin(url: &str, var: &str) -> Result<String, String> {
    let origin = Origin::parse(url).map_err(|e| format!("{var} is refused: {e}"))?;
    if !origin.https && !origin.is_loopback() {
        return Err(format!(
            "{var} is refused: plain http is only allowed to 127.0.0.1, [::1] or localhost \
             (use https://{})",
            origin.authority()
        ));
    }
    let scheme = if origin.https { "https" } else { "http" };
    Ok(format!("{scheme}://{}", origin.authority()))
}

/// GCS bucket naming rules: 3 to 63 characters (up to 222 when dotted,
/// each dot-separated part at most 63), lower-case letters, digits, `-`,
/// `_` and `.`, starting and ending with a letter or digit; not an IPv4
/// address, not starting with `goog`, not containing `google`.
pub fn check_bucket(bucket: &str) -> Result<(), String> {
    let allowed =
        |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.');
    if !bucket.bytes().all(allowed) {
        return Err("a bucket name holds only lower-case letters, digits, '-', '_' and '.'".into());
    }
    let max = if bucket.contains('.') { 222 } else { 63 };
    if bucket.len() < 3 || bucket.len() > max {
        return Err(format!(
            "a bucket name has 3 to 63 characters (222 with dots), not {}",
            bucket.len()
        ));
    }
    let alnum = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    if !alnum(bucket.as_bytes().first()) || !alnum(bucket.as_bytes().last()) {
        return Err("a bucket name starts and ends with a letter or a digit".into());
    }
    if bucket
        .split('.')
        .any(|part| part.is_empty() || part.len() > 63)
    {
        return Err("each dot-separated part of a bucket name has 1 to 63 characters".into());
    }
    if bucket.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err("a bucket name cannot be an IP address".into());
    }
    if bucket.starts_with("goog") || bucket.contains("google") {
        return Err("a bucket name cannot start with \"goog\" or contain \"google\"".into());
    }
    Ok(())
}

/// GCS object naming rules that a file path could break: not empty, at
/// most 1024 bytes, no carriage return or line feed, not `.` or `..`, not
/// below `.well-known/acme-challenge/`.
fn check_object_name(object: &str) -> Result<(), String> {
    if object.is_empty() {
        return Err(
            "an object name cannot be empty (set gcs_prefix, or keep the extension)".into(),
        );
    }
    if object.len() > MAX_OBJECT_NAME {
        return Err(format!(
            "an object name has at most {MAX_OBJECT_NAME} bytes, not {}",
            object.len()
        ));
    }
    if object.contains(['\r', '\n']) {
        return Err("an object name cannot hold a line break".into());
    }
    if object == "." || object == ".." {
        return Err("an object name cannot be \".\" or \"..\"".into());
    }
    if object.starts_with(".well-known/acme-challenge/") {
        return Err("an object name cannot start with \".well-known/acme-challenge/\"".into());
    }
    Ok(())
}

/// Percent-encodes a query parameter value: everything but the RFC 3986
/// unreserved characters.
fn query_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::cloud_http::mock::{self, Mock, Request};
    use crate::keys::cloud_http::MapEnv;
    use serde_json::json;

    /// A GCS lookalike: accepts uploads with `Bearer tok`, else 401.
    fn gcs_answer(req: &Request) -> (u16, String) {
        if req.header("authorization") != Some("Bearer tok") {
            return (
                401,
                json!({"error": {"code": 401, "message": "Anonymous caller does not have storage.objects.create access."}}).to_string(),
            );
        }
        (
            200,
            json!({"kind": "storage#object", "size": req.body.len().to_string()}).to_string(),
        )
    }

    /// The `name` query parameter of a request target, decoded.
    fn object_of(req: &Request) -> String {
        req.query("name").unwrap()
    }

    #[test]
    fn the_file_is_posted_as_the_prefixed_object_with_the_token() {
        let server = Mock::start(gcs_answer);
        let env = MapEnv::of(&[
            ("GOOGLE_OAUTH_ACCESS_TOKEN", "tok"),
            ("ENSEAL_GCS_ENDPOINT", &server.url),
        ]);
        let dest = GcsDestination::new("my-bucket", "team/prod/");
        let upload = dest.prepare_with(&env, "sub dir/db#1?.yaml").unwrap();
        assert_eq!(upload.target, "gs://my-bucket/team/prod/sub dir/db#1?.yaml");
        upload.send_with(&env, b"sops: encrypted\n").unwrap();
        let reqs = server.requests();
        assert_eq!(reqs.len(), 1);
        let req = &reqs[0];
        assert_eq!(req.method, "POST");
        assert_eq!(
            req.target,
            "/upload/storage/v1/b/my-bucket/o?uploadType=media&name=team%2Fprod%2Fsub%20dir%2Fdb%231%3F.yaml"
        );
        assert_eq!(object_of(req), "team/prod/sub dir/db#1?.yaml");
        assert_eq!(req.header("authorization"), Some("Bearer tok"));
        assert_eq!(req.header("content-type"), Some(CONTENT_TYPE));
        assert_eq!(req.text(), "sops: encrypted\n");
    }

    #[test]
    fn the_emulator_gets_no_credentials() {
        let server = Mock::start(|r| {
            assert_eq!(r.header("authorization"), None);
            (200, "{}".into())
        });
        let host = server.url.strip_prefix("http://").unwrap().to_string();
        let env = MapEnv::of(&[
            ("GOOGLE_OAUTH_ACCESS_TOKEN", "tok"),
            ("STORAGE_EMULATOR_HOST", &host),
            ("ENSEAL_GCS_ENDPOINT", "https://storage.example"),
        ]);
        let upload = GcsDestination::new("bkt", "")
            .prepare_with(&env, "a.json")
            .unwrap();
        upload.send_with(&env, b"{}").unwrap();
        let reqs = server.requests();
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].header("authorization"), None);
        assert_eq!(
            reqs[0].target,
            "/upload/storage/v1/b/bkt/o?uploadType=media&name=a.json"
        );
    }

    #[test]
    fn plain_http_off_loopback_is_refused_before_credentials_are_used() {
        // A refresh token whose exchange would reach the mock: nothing may.
        let server = Mock::start(|_| (200, json!({"access_token": "t"}).to_string()));
        let creds = json!({
            "type": "authorized_user", "client_id": "c", "client_secret": "s",
            "refresh_token": "r", "token_uri": format!("{}/token", server.url),
        })
        .to_string();
        let dest = GcsDestination::new("bkt", "");
        for (var, value) in [
            ("ENSEAL_GCS_ENDPOINT", "http://storage.example.com"),
            ("ENSEAL_GCS_ENDPOINT", "http://10.0.0.1:8080"),
            ("ENSEAL_GCS_ENDPOINT", "https://user:pw@storage.example.com"),
            ("ENSEAL_GCS_ENDPOINT", "https://storage.example.com/evil?x="),
            ("ENSEAL_GCS_ENDPOINT", "ftp://storage.example.com"),
            ("STORAGE_EMULATOR_HOST", "gcs.internal:4443"),
        ] {
            let env = MapEnv::of(&[("GOOGLE_CREDENTIALS", &creds), (var, value)]);
            let err = dest.prepare_with(&env, "a.yaml").unwrap_err();
            assert!(
                err.starts_with(&format!("{var} is refused")),
                "{value}: {err}"
            );
            assert!(!err.contains("pw"), "{err}");
        }
        assert!(server.requests().is_empty());
    }

    #[test]
    fn bucket_names_follow_the_gcs_rules() {
        for good in ["abc", "my-bucket_1", "data.example.com", "0bucket9"] {
            assert_eq!(check_bucket(good), Ok(()), "{good}");
        }
        let long_part = format!("{}.example.com", "a".repeat(64));
        for bad in [
            "",
            "ab",
            "My-Bucket",
            "a/b",
            "../x",
            "bkt?x=1",
            "bkt#x",
            "bkt%2Fx",
            "bkt x",
            "bkt\nx",
            "-bucket",
            "bucket_",
            ".bkt",
            "a..b",
            &"a".repeat(64),
            &long_part,
            "192.168.1.1",
            "goog-bucket",
            "my-google-bucket",
            "storage.googleapis.com:443",
            "bücket",
        ] {
            assert!(check_bucket(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn invalid_buckets_and_object_names_are_refused_before_any_request() {
        let server = Mock::start(gcs_answer);
        let env = MapEnv::of(&[
            ("GOOGLE_OAUTH_ACCESS_TOKEN", "tok"),
            ("ENSEAL_GCS_ENDPOINT", &server.url),
        ]);
        let err = GcsDestination::new("evil.com/b/x/o?name=", "")
            .prepare_with(&env, "a.yaml")
            .unwrap_err();
        assert!(
            err.starts_with("gcs_bucket \"evil.com/b/x/o?name=\": "),
            "{err}"
        );
        for (prefix, name) in [("", ""), ("", ".."), ("a\n", "b"), ("", &"x".repeat(1025))] {
            let err = GcsDestination::new("bkt", prefix)
                .prepare_with(&env, name)
                .unwrap_err();
            assert!(err.starts_with("GCS object name"), "{err}");
        }
        assert!(server.requests().is_empty());
    }

    #[test]
    fn service_errors_are_one_line_with_the_status() {
        let server = Mock::start(|r| {
            if r.target.contains("name=denied") {
                (
                    403,
                    json!({"error": {"code": 403, "message": "sa@p.iam.gserviceaccount.com does not have\nstorage.objects.create access to the Google Cloud Storage object.", "errors": []}}).to_string(),
                )
            } else {
                (
                    503,
                    "<html>\n<body>Service Unavailable</body>\n</html>".into(),
                )
            }
        });
        let env = MapEnv::of(&[
            ("GOOGLE_OAUTH_ACCESS_TOKEN", "secret-token"),
            ("ENSEAL_GCS_ENDPOINT", &server.url),
        ]);
        let dest = GcsDestination::new("bkt", "");
        let denied = dest
            .prepare_with(&env, "denied")
            .unwrap()
            .send_with(&env, b"x")
            .unwrap_err();
        assert!(denied.denied);
        assert_eq!(
            denied.message,
            "uploading to gs://bkt/denied failed: HTTP 403: sa@p.iam.gserviceaccount.com does not have storage.objects.create access to the Google Cloud Storage object."
        );
        let down = dest
            .prepare_with(&env, "other")
            .unwrap()
            .send_with(&env, b"x")
            .unwrap_err();
        assert!(!down.denied);
        assert!(
            down.message
                .starts_with("uploading to gs://bkt/other failed: HTTP 503: "),
            "{down}"
        );
        for e in [&denied.message, &down.message] {
            assert!(!e.contains('\n') && !e.contains("secret-token"), "{e}");
        }
        let closed = mock::closed_port_url();
        let env = MapEnv::of(&[
            ("GOOGLE_OAUTH_ACCESS_TOKEN", "tok"),
            ("ENSEAL_GCS_ENDPOINT", &closed),
        ]);
        let refused = dest
            .prepare_with(&env, "a")
            .unwrap()
            .send_with(&env, b"x")
            .unwrap_err();
        assert_eq!(
            refused.message,
            "uploading to gs://bkt/a failed: connection refused"
        );
    }

    #[test]
    fn a_service_account_token_is_asked_for_the_storage_scope() {
        let Some(pem) = mock::test_rsa_key() else {
            return;
        };
        let server = Mock::start(|r| {
            if r.target == "/token" {
                let jwt = r.form_value("assertion").unwrap();
                let claims = jwt.split('.').nth(1).unwrap();
                use base64::Engine;
                let claims: serde_json::Value = serde_json::from_slice(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(claims)
                        .unwrap(),
                )
                .unwrap();
                let token = if claims["scope"] == SCOPE {
                    "tok"
                } else {
                    "wrong-scope"
                };
                return (
                    200,
                    json!({"access_token": token, "expires_in": 3600}).to_string(),
                );
            }
            gcs_answer(r)
        });
        let creds = json!({
            "type": "service_account",
            "client_email": "sa@p.iam.gserviceaccount.com",
            "private_key": pem,
            "token_uri": format!("{}/token", server.url),
        })
        .to_string();
        let env = MapEnv::of(&[
            ("GOOGLE_CREDENTIALS", &creds),
            ("ENSEAL_GCS_ENDPOINT", &server.url),
        ]);
        let upload = GcsDestination::new("bkt", "")
            .prepare_with(&env, "a")
            .unwrap();
        upload.send_with(&env, b"x").unwrap();
        let targets: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
        assert_eq!(targets.len(), 2, "{targets:?}");
        assert_eq!(targets[0], "/token");
    }
}

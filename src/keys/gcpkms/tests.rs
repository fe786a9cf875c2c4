use super::super::cloud_http::mock::{self, Mock, Request};
use super::super::cloud_http::MapEnv;
use super::imp;
use crate::tree::{Map, Value};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::json;

const ID: &str = "projects/p1/locations/global/keyRings/ring/cryptoKeys/key1";

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
    let env = MapEnv::of(&[
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
    let env = MapEnv::of(&[
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
    let env = MapEnv::of(&[
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
    let env = MapEnv::of(&[
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
            return (
                200,
                json!({"access_token": "gce-token", "expires_in": 3599, "token_type": "Bearer"})
                    .to_string(),
            );
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
    let err = imp::wrap(&MapEnv::of(&base), &mut fields, &[9; 32]).unwrap_err();
    assert!(err.contains("no Google credentials found"), "{err}");
    assert!(server.requests().is_empty(), "nothing was probed");

    let mut with_host = base.to_vec();
    with_host.push(("GCE_METADATA_HOST", &host));
    imp::wrap(&MapEnv::of(&with_host), &mut fields, &[9; 32]).unwrap();
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
    let env = MapEnv::of(&[
        ("HOME", home.path().to_str().unwrap()),
        ("SOPS_GCP_KMS_ENDPOINT", &server.url),
    ]);
    imp::wrap(&env, &mut key_fields(ID), &[1]).unwrap();
}

fn wrap_error(answer: impl Fn(&Request) -> (u16, String) + Send + Sync + 'static) -> String {
    let server = Mock::start(answer);
    let env = MapEnv::of(&[
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
        err.ends_with("HTTP 401: UNAUTHENTICATED: Request had invalid authentication credentials."),
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
    let env1 = MapEnv::of(&[
        ("GOOGLE_OAUTH_ACCESS_TOKEN", "tok"),
        ("SOPS_GCP_KMS_ENDPOINT", &mock::closed_port_url()),
    ]);
    let err = imp::wrap(&env1, &mut key_fields(ID), &[1]).unwrap_err();
    assert!(
        err.ends_with("connection refused") || err.ends_with("connection failed"),
        "{err}"
    );
    let env2 = MapEnv::of(&[
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
    let env3 = MapEnv::of(&[("GOOGLE_CREDENTIALS", "{\"type\":\"external_account\"}")]);
    let err = imp::wrap(&env3, &mut key_fields(ID), &[1]).unwrap_err();
    assert!(
        err.contains("\"external_account\" are not supported"),
        "{err}"
    );
}

#[test]
fn decrypt_with_the_wrong_key_reports_the_service_error() {
    let server = Mock::start(|r| kms_answer(r, "tok"));
    let env = MapEnv::of(&[
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
        imp::endpoint(&MapEnv::of(&[])).unwrap(),
        "https://cloudkms.googleapis.com"
    );
    assert_eq!(
        imp::endpoint(&MapEnv::of(&[(
            "SOPS_GCP_KMS_ENDPOINT",
            "cloudkms.s3nsapis.fr:443"
        )]))
        .unwrap(),
        "https://cloudkms.s3nsapis.fr:443"
    );
    assert_eq!(
        imp::endpoint(&MapEnv::of(&[(
            "SOPS_GCP_KMS_UNIVERSE_DOMAIN",
            "s3nsapis.fr"
        )]))
        .unwrap(),
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
    let env = MapEnv::of(&[
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

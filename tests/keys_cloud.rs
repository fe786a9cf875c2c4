//! GCP Cloud KMS and Azure Key Vault keys through the CLI, against loopback
//! mocks of the two REST APIs (no real Google or Azure service is reached):
//! encrypt/decrypt round trips through a mock that really transforms the
//! data key, the requests the mocks received, error reporting, and the
//! `gcp_kms`/`azure_kv` metadata entries compared with what the reference
//! sops writes for the same file (YAML, JSON and dotenv).

#![cfg(all(feature = "gcp", feature = "azure"))]

mod common;

use common::http_mock::{read_request, Request};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use common::*;
use serde_json::json;
use std::io::Write;
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};

const GCP_ID: &str = "projects/p1/locations/europe-west1/keyRings/ring/cryptoKeys/sops";
const PLAIN_YAML: &str = "a: 1\nb: secret\nlist:\n    - x\n    - z\n";
const PLAIN_JSON: &str = "{\n\t\"a\": 1,\n\t\"b\": \"secret\"\n}\n";

// ---------------------------------------------------------------------------
// A loopback mock of Cloud KMS, Azure AD and Key Vault
// ---------------------------------------------------------------------------

/// The mock "KMS" cipher: reversible, bound to the key name.
fn seal(key: &str, plaintext: &[u8]) -> Vec<u8> {
    let mut out = format!("mock:{key}:").into_bytes();
    out.extend(
        plaintext
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ 0x3c ^ i as u8),
    );
    out
}

fn open(key: &str, ciphertext: &[u8]) -> Option<Vec<u8>> {
    let body = ciphertext.strip_prefix(format!("mock:{key}:").as_bytes())?;
    Some(
        body.iter()
            .enumerate()
            .map(|(i, b)| b ^ 0x3c ^ i as u8)
            .collect(),
    )
}

/// One server answering as Cloud KMS (`/v1/…:encrypt|decrypt`, token
/// `gcp-token`), Azure AD (`/<tenant>/oauth2/v2.0/token` → `az-token`) and
/// Key Vault (`/keys/…`, needs `az-token`). `fail` forces one status.
struct Mock {
    url: String,
    requests: Arc<Mutex<Vec<Request>>>,
    fail: Arc<Mutex<Option<(u16, String)>>>,
}

impl Mock {
    fn start() -> Mock {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let fail: Arc<Mutex<Option<(u16, String)>>> = Arc::new(Mutex::new(None));
        let (seen, forced) = (requests.clone(), fail.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(req) = read_request(&mut stream) else {
                    continue;
                };
                seen.lock().unwrap().push(req.clone());
                // A forced failure hits the key operations, not the token endpoint.
                let failure = forced.lock().unwrap().clone();
                let (status, body) = match failure {
                    Some(f) if !req.target.contains("oauth2") => f,
                    _ => answer(&req),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Mock {
            url,
            requests,
            fail,
        }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    fn fail_with(&self, status: u16, body: &str) {
        *self.fail.lock().unwrap() = Some((status, body.to_string()));
    }
}

fn unauthorized() -> (u16, String) {
    (
        401,
        json!({"error": {"code": 401, "message": "invalid credentials", "status": "UNAUTHENTICATED"}})
            .to_string(),
    )
}

fn answer(r: &Request) -> (u16, String) {
    if let Some(rest) = r.target.strip_prefix("/v1/") {
        if r.header("authorization") != Some("Bearer gcp-token") {
            return unauthorized();
        }
        let (key, op) = rest.rsplit_once(':').unwrap();
        let body = r.json();
        return match op {
            "encrypt" => {
                let pt = STANDARD
                    .decode(body["plaintext"].as_str().unwrap())
                    .unwrap();
                (
                    200,
                    json!({"name": key, "ciphertext": STANDARD.encode(seal(key, &pt))}).to_string(),
                )
            }
            _ => {
                let ct = STANDARD
                    .decode(body["ciphertext"].as_str().unwrap())
                    .unwrap();
                match open(key, &ct) {
                    Some(pt) => (200, json!({"plaintext": STANDARD.encode(pt)}).to_string()),
                    None => (400, json!({"error": {"code": 400, "message": "Decryption failed", "status": "INVALID_ARGUMENT"}}).to_string()),
                }
            }
        };
    }
    if r.target.ends_with("/oauth2/v2.0/token") {
        return (
            200,
            json!({"token_type": "Bearer", "expires_in": 3599, "access_token": "az-token"})
                .to_string(),
        );
    }
    if r.target.starts_with("/keys/") {
        if r.header("authorization") != Some("Bearer az-token") {
            return unauthorized();
        }
        let path = r.target.split('?').next().unwrap();
        let parts: Vec<&str> = path.trim_start_matches("/keys/").split('/').collect();
        return match parts.as_slice() {
            [name] => (
                200,
                json!({"key": {"kid": format!("https://v.vault.azure.net/keys/{name}/5e1f")}})
                    .to_string(),
            ),
            [name, version, op] => {
                let key = format!("{name}/{version}");
                let value = URL_SAFE_NO_PAD
                    .decode(r.json()["value"].as_str().unwrap())
                    .unwrap();
                let out = if *op == "encrypt" {
                    Some(seal(&key, &value))
                } else {
                    open(&key, &value)
                };
                match out {
                    Some(v) => (
                        200,
                        json!({"kid": key, "value": URL_SAFE_NO_PAD.encode(v)}).to_string(),
                    ),
                    None => (
                        400,
                        json!({"error": {"code": "BadParameter", "message": "bad ciphertext"}})
                            .to_string(),
                    ),
                }
            }
            _ => (404, "{}".into()),
        };
    }
    (404, "{}".into())
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// `cmd` with the mock's endpoints and credentials for both clouds; the
/// mock's loopback address is listed as a trusted Key Vault host (it is
/// outside Azure's Key Vault domains).
fn cloud_env(mut cmd: Command, mock: &Mock) -> Command {
    cmd.env(
        "ENSEAL_AZURE_KV_ALLOWED_HOSTS",
        mock.url.trim_start_matches("http://"),
    )
    .env("GOOGLE_OAUTH_ACCESS_TOKEN", "gcp-token")
    .env("SOPS_GCP_KMS_ENDPOINT", &mock.url)
    .env("AZURE_TENANT_ID", "tenant-x")
    .env("AZURE_CLIENT_ID", "client-x")
    .env("AZURE_CLIENT_SECRET", "secret-x")
    .env("AZURE_AUTHORITY_HOST", &mock.url)
    .env("ENSEAL_CLOUD_TIMEOUT", "5");
    cmd
}

/// A `.sops.yaml` whose one key group holds an age key, a GCP KMS key and
/// an Azure Key Vault key at the mock (version left for lookup).
fn write_config(sb: &Sandbox, mock: &Mock, age: bool) {
    let age_line = if age {
        format!("              age:\n                  - {}\n", recipient(1))
    } else {
        String::new()
    };
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n    - key_groups:\n            -\n{age_line}\
             \x20             gcp_kms:\n                  - resource_id: {GCP_ID}\n\
             \x20             azure_keyvault:\n                  - vaultUrl: {}\n                    key: sops-key\n                    version: \"\"\n",
            mock.url
        ),
    );
}

/// The lines of the `sops` metadata block (YAML) or object (JSON), without
/// the ones that change on every write.
fn metadata_lines(text: &str) -> Vec<String> {
    let start = text
        .find("sops:")
        .or_else(|| text.find("\"sops\":"))
        .or_else(|| text.find("sops_"))
        .expect("a sops block");
    text[start..]
        .lines()
        .filter(|l| !l.contains("lastmodified") && !l.contains("mac"))
        .map(str::to_string)
        .collect()
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
fn gcp_kms_flag_round_trip_through_the_mock() {
    let mock = Mock::start();
    let sb = Sandbox::new();
    let plain = sb.write("p.yaml", PLAIN_YAML);
    let out = run(cloud_env(sb.enseal(), &mock)
        .args(["encrypt", "--gcp-kms", GCP_ID])
        .arg(&plain))
    .ok();
    let enc = out.out();
    assert!(
        enc.contains(&format!(
            "    gcp_kms:\n        - resource_id: {GCP_ID}\n          created_at: \"20"
        )),
        "{enc}"
    );
    let file = sb.write("f.yaml", &enc);
    let dec = run(cloud_env(sb.enseal(), &mock).arg("decrypt").arg(&file)).ok();
    assert_eq!(dec.out(), PLAIN_YAML);

    let reqs = mock.requests();
    let targets: Vec<&str> = reqs.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(
        targets,
        [
            format!("/v1/{GCP_ID}:encrypt"),
            format!("/v1/{GCP_ID}:decrypt")
        ]
    );
    let data_key = STANDARD
        .decode(reqs[0].json()["plaintext"].as_str().unwrap())
        .unwrap();
    assert_eq!(data_key.len(), 32);
    // What the file stores is what the mock returned for that data key.
    let stored = enc
        .lines()
        .find_map(|l| l.trim().strip_prefix("enc: "))
        .unwrap();
    assert_eq!(STANDARD.decode(stored).unwrap(), seal(GCP_ID, &data_key));
}

#[test]
fn azure_key_from_config_gets_its_version_and_round_trips() {
    let mock = Mock::start();
    let sb = Sandbox::new();
    write_config(&sb, &mock, false);
    let plain = sb.write("p.json", PLAIN_JSON);
    let out = run(cloud_env(sb.enseal(), &mock).arg("encrypt").arg(&plain)).ok();
    let enc = out.out();
    assert!(
        enc.contains(&format!(
            "\t\t\"azure_kv\": [\n\t\t\t{{\n\t\t\t\t\"vault_url\": \"{}\",\n\t\t\t\t\"name\": \"sops-key\",\n\t\t\t\t\"version\": \"5e1f\",\n\t\t\t\t\"created_at\": \"",
            mock.url
        )),
        "{enc}"
    );
    let file = sb.write("f.json", &enc);
    // Only Azure: hide the GCP credentials so that the GCP key fails first.
    let mut cmd = cloud_env(sb.enseal(), &mock);
    cmd.env_remove("GOOGLE_OAUTH_ACCESS_TOKEN");
    let dec = run(cmd.arg("decrypt").arg(&file)).ok();
    assert_eq!(dec.out(), PLAIN_JSON);

    let reqs = mock.requests();
    let token = reqs
        .iter()
        .find(|r| r.target == "/tenant-x/oauth2/v2.0/token")
        .expect("a token request");
    assert!(token.text().contains("grant_type=client_credentials"));
    assert!(token
        .text()
        .contains("scope=https%3A%2F%2Fvault.azure.net%2F.default"));
    let enc_req = reqs
        .iter()
        .find(|r| r.target == "/keys/sops-key/5e1f/encrypt?api-version=7.4")
        .expect("an encrypt call");
    assert_eq!(enc_req.json()["alg"], "RSA-OAEP-256");
    assert!(reqs
        .iter()
        .any(|r| r.target == "/keys/sops-key?api-version=7.4" && r.method == "GET"));
}

#[test]
fn service_errors_are_reported_without_the_data_key() {
    let mock = Mock::start();
    let sb = Sandbox::new();
    let plain = sb.write("p.yaml", PLAIN_YAML);
    mock.fail_with(
        403,
        r#"{"error":{"code":403,"message":"Permission denied on resource","status":"PERMISSION_DENIED"}}"#,
    );
    let out = run(cloud_env(sb.enseal(), &mock)
        .args(["encrypt", "--gcp-kms", GCP_ID])
        .arg(&plain));
    assert_ne!(out.code, Some(0));
    let err = out.err();
    assert!(
        err.contains(&format!("master key \"{GCP_ID}\": failed to encrypt sops data key with GCP KMS key: HTTP 403: PERMISSION_DENIED: Permission denied on resource")),
        "{err}"
    );
    let sent = mock.requests()[0].json()["plaintext"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!err.contains(&sent));
    assert!(out.stdout.is_empty());
}

#[test]
fn decrypt_failure_lists_the_cloud_keys() {
    let mock = Mock::start();
    let sb = Sandbox::new();
    write_config(&sb, &mock, false);
    let plain = sb.write("p.yaml", PLAIN_YAML);
    let enc = run(cloud_env(sb.enseal(), &mock).arg("encrypt").arg(&plain))
        .ok()
        .out();
    let file = sb.write("f.yaml", enc);
    mock.fail_with(500, "backend unavailable");
    let out = run(cloud_env(sb.enseal(), &mock).arg("decrypt").arg(&file));
    assert_eq!(out.code, Some(128), "{}", out.err());
    let err = out.err();
    assert!(
        err.contains(
            "failed to decrypt sops data key with GCP KMS key: HTTP 500: backend unavailable"
        ),
        "{err}"
    );
    assert!(
        err.contains(&format!("failed to decrypt sops data key with Azure Key Vault key '{}/keys/sops-key/5e1f': HTTP 500: backend unavailable", mock.url)),
        "{err}"
    );
}

/// Files with gcp_kms and azure_kv entries written by enseal are read by the
/// reference sops, and sops rewriting them gives the same metadata layout.
#[test]
fn metadata_layout_matches_the_reference() {
    let Some(sops) = require_sops() else {
        return;
    };
    for (name, plain) in [
        ("p.yaml", PLAIN_YAML),
        ("p.json", PLAIN_JSON),
        ("p.env", "a=1\nb=secret\n"),
    ] {
        let mock = Mock::start();
        let sb = Sandbox::new();
        write_config(&sb, &mock, true);
        let plain_path = sb.write(name, plain);
        let ours = run(cloud_env(sb.enseal(), &mock)
            .arg("encrypt")
            .arg(&plain_path))
        .ok()
        .out();
        let ext = name.rsplit('.').next().unwrap();
        let file = sb.write(&format!("ours.{ext}"), &ours);
        // The reference decrypts it with the age key (tried first).
        let dec = run(sb
            .sops(&sops)
            .env("SOPS_AGE_KEY_FILE", key_file(1))
            .arg("decrypt")
            .arg(&file))
        .ok();
        assert_eq!(dec.out(), plain);
        run(sb.sops(&sops).args(["filestatus"]).arg(&file)).ok();
        // The reference rewrites the file (a `set` of an existing value):
        // its metadata block is ours but for lastmodified and mac.
        run(sb
            .sops(&sops)
            .env("SOPS_AGE_KEY_FILE", key_file(1))
            .args(["set"])
            .arg(&file)
            .args(["[\"b\"]", "\"other\""]))
        .ok();
        let theirs = std::fs::read_to_string(&file).unwrap();
        assert_eq!(metadata_lines(&theirs), metadata_lines(&ours), "{name}");
        // And enseal decrypts the reference's file through each cloud mock
        // alone (no age key).
        let mut gcp_only = cloud_env(sb.enseal(), &mock);
        gcp_only.env_remove("AZURE_CLIENT_SECRET");
        let dec = run(gcp_only.arg("decrypt").arg(&file)).ok();
        assert!(dec.out().contains("other"), "{}", dec.out());
        let mut azure_only = cloud_env(sb.enseal(), &mock);
        azure_only.env_remove("GOOGLE_OAUTH_ACCESS_TOKEN");
        run(azure_only.arg("decrypt").arg(&file)).ok();
    }
}

/// No request is made for cloud keys when another key decrypts the file.
#[test]
fn no_cloud_traffic_when_age_decrypts() {
    let mock = Mock::start();
    let sb = Sandbox::new();
    write_config(&sb, &mock, true);
    let plain = sb.write("p.yaml", PLAIN_YAML);
    let enc = run(cloud_env(sb.enseal(), &mock).arg("encrypt").arg(&plain))
        .ok()
        .out();
    let file = sb.write("f.yaml", enc);
    let before = mock.requests().len();
    let dec = run(sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .env("SOPS_GCP_KMS_ENDPOINT", &mock.url)
        .arg("decrypt")
        .arg(&file))
    .ok();
    assert_eq!(dec.out(), PLAIN_YAML);
    assert_eq!(mock.requests().len(), before);
}

/// `rotate` wraps a new data key with the cloud keys (one more encrypt call
/// per key) and the result decrypts through each of them.
#[test]
fn rotate_rewraps_with_both_clouds() {
    let mock = Mock::start();
    let sb = Sandbox::new();
    write_config(&sb, &mock, false);
    let plain = sb.write("p.yaml", PLAIN_YAML);
    let enc = run(cloud_env(sb.enseal(), &mock).arg("encrypt").arg(&plain))
        .ok()
        .out();
    let file = sb.write("f.yaml", &enc);
    run(cloud_env(sb.enseal(), &mock)
        .args(["rotate", "-i"])
        .arg(&file))
    .ok();
    let rotated = std::fs::read_to_string(&file).unwrap();
    assert_ne!(rotated, enc);
    let encrypts = |suffix: &str| {
        mock.requests()
            .iter()
            .filter(|r| r.target.split('?').next().unwrap().ends_with(suffix))
            .count()
    };
    assert_eq!(encrypts(":encrypt"), 2);
    assert_eq!(encrypts("/encrypt"), 2);
    for hide in ["GOOGLE_OAUTH_ACCESS_TOKEN", "AZURE_CLIENT_SECRET"] {
        let mut cmd = cloud_env(sb.enseal(), &mock);
        cmd.env_remove(hide);
        assert_eq!(run(cmd.arg("decrypt").arg(&file)).ok().out(), PLAIN_YAML);
    }
}

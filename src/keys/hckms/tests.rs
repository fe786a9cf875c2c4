use super::super::cloud_http::mock::{Mock, Request};
use super::super::cloud_http::MapEnv;
use super::credentials::{self, authorization};
use super::imp;
use crate::tree::{Map, Value};
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

const UUID: &str = "0d0466b0-e727-4d9c-b35d-f84bb474a37f";
const PROJECT: &str = "0123456789abcdef0123456789abcdef";
const AK: &str = "TESTAK0123";
const SK: &str = "test-secret-key/+=";

fn key_fields(id: &str) -> Map {
    let mut m = Map::new();
    m.push("key_id", Value::Str(id.into()));
    m
}

// ---------------------------------------------------------------------------
// The signer
// ---------------------------------------------------------------------------

/// The two vectors of Huawei's own Go SDK test of this signer
/// (huaweicloud-sdk-go-v3, core/auth/signer/signer_test.go,
/// `TestSigner_Sign`): AK `AccessKey`, SK `SecretKey`, date
/// `20060102T150405Z`; a `TEST_UNDERSCORE` header (not signed: `_`) and a
/// `Content-Type` (not signed) are left out here as the SDK leaves them
/// out; the POST body is Go's JSON encoding of `{Name: "test", Id: 1}`
/// with its trailing newline.
#[test]
fn signer_matches_the_go_sdk_vectors() {
    let date = "20060102T150405Z";
    let get = authorization(
        "AccessKey",
        "SecretKey",
        date,
        &credentials::Request {
            method: "GET",
            path: "/path",
            query: &[("limit", "1")],
            headers: &[("X-Sdk-Date", date), ("TEST_UNDERSCORE", "TEST_VALUE")],
            body: b"",
        },
    );
    assert_eq!(
        get,
        "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, \
         Signature=5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624"
    );
    let post = authorization(
        "AccessKey",
        "SecretKey",
        date,
        &credentials::Request {
            method: "POST",
            path: "/path",
            query: &[("key", "value")],
            headers: &[
                ("X-Sdk-Date", date),
                ("TEST_UNDERSCORE", "TEST_VALUE"),
                ("Content-Type", "application/json"),
            ],
            body: b"{\"Name\":\"test\",\"Id\":1}\n",
        },
    );
    assert_eq!(
        post,
        "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, \
         Signature=cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59"
    );
}

/// A KMS request as enseal signs it (host, project and date headers).
/// The expected value was computed once with this independent Python 3
/// script (hashlib/hmac), not with the code under test:
///
/// ```text
/// import hashlib, hmac
/// def sign(method, path, query, headers, body, sk, date):
///     q = "&".join(f"{k}={v}" for k, v in sorted(query))
///     uri = path if path.endswith("/") else path + "/"
///     names = sorted(headers)
///     ch = "".join(f"{n}:{headers[n].strip()}\n" for n in names)
///     cr = "\n".join([method, uri, q, ch, ";".join(names),
///                     hashlib.sha256(body).hexdigest()])
///     sts = "SDK-HMAC-SHA256\n" + date + "\n" + hashlib.sha256(cr.encode()).hexdigest()
///     return hmac.new(sk.encode(), sts.encode(), hashlib.sha256).hexdigest()
/// body = b'{"key_id":"0d0466b0-e727-4d9c-b35d-f84bb474a37f","plain_text":"AAECAw==","encryption_algorithm":"SYMMETRIC_DEFAULT"}'
/// print(sign("POST", "/v1.0/0123456789abcdef0123456789abcdef/kms/encrypt-data", [],
///     {"host": "kms.tr-west-1.myhuaweicloud.com",
///      "x-project-id": "0123456789abcdef0123456789abcdef",
///      "x-sdk-date": "20261207T141500Z"}, body, "SKEXAMPLE0123456789", "20261207T141500Z"))
/// ```
/// (The same script reproduces the two Go SDK vectors above.)
#[test]
fn signer_matches_an_independent_kms_vector() {
    let date = "20261207T141500Z";
    let body = format!(
        "{{\"key_id\":\"{UUID}\",\"plain_text\":\"AAECAw==\",\"encryption_algorithm\":\"SYMMETRIC_DEFAULT\"}}"
    );
    let auth = authorization(
        "AKEXAMPLE",
        "SKEXAMPLE0123456789",
        date,
        &credentials::Request {
            method: "POST",
            path: &format!("/v1.0/{PROJECT}/kms/encrypt-data"),
            query: &[],
            headers: &[
                ("x-sdk-date", date),
                ("host", "kms.tr-west-1.myhuaweicloud.com"),
                ("X-Project-Id", PROJECT),
            ],
            body: body.as_bytes(),
        },
    );
    assert_eq!(
        auth,
        "SDK-HMAC-SHA256 Access=AKEXAMPLE, SignedHeaders=host;x-project-id;x-sdk-date, \
         Signature=e7ecf00bb7b6bcc6fbf45af40ecf69f1378a139f21cfd8e9395b88d5c9cbdec4"
    );
}

#[test]
fn sdk_date_is_compact_utc() {
    // 2026-12-07T14:15:00Z
    assert_eq!(credentials::sdk_date(1_796_652_900), "20261207T141500Z");
    assert_eq!(credentials::sdk_date(0), "19700101T000000Z");
}

// ---------------------------------------------------------------------------
// Key ids, regions and endpoints
// ---------------------------------------------------------------------------

#[test]
fn regions_are_checked_strictly() {
    for good in [
        "tr-west-1",
        "ap-southeast-3",
        "cn-north-12",
        "my-kualalumpur-1",
        "eu-west-101",
        "ae-ad-1",
        "la-south-2",
    ] {
        assert!(super::check_region(good).is_ok(), "{good}");
    }
    for bad in [
        "",
        "tr",
        "tr-1",
        "TR-WEST-1",
        "tr-west-",
        "tr-west-1a",
        "tr-west-1000",
        "t-west-1",
        "tr--1",
        "tr-west-1.evil.example",
        "evil.example/tr-west-1",
        "tr-west-1@evil.example",
        "tr-west-1:443",
        "tr-west-1#",
        "tr-west-1?x",
        "tr-we st-1",
        "tr-west-1\n",
        "tr-wést-1",
        "127.0.0.1",
        "localhost",
    ] {
        assert!(super::check_region(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn key_ids_split_like_sops() {
    assert_eq!(
        super::split_key_id(" tr-west-1 : abc:def ").unwrap(),
        ("tr-west-1", "abc:def")
    );
    for (bad, why) in [
        ("nocolon", "expected 'region:key-uuid'"),
        (":u", "region is empty"),
        ("tr-west-1:", "key UUID is empty"),
    ] {
        let err = super::split_key_id(bad).unwrap_err();
        assert!(err.contains(why) && err.contains(bad), "{bad}: {err}");
    }
    let err = super::check_key_id("kms.evil.example:u").unwrap_err();
    assert!(err.contains("not a HuaweiCloud region id"), "{err}");
}

#[test]
fn endpoints_come_from_the_region_or_the_environment() {
    let none = MapEnv::of(&[]);
    let e = imp::endpoint(&none, "tr-west-1").unwrap();
    assert_eq!(
        (e.https, e.authority()),
        (true, "kms.tr-west-1.myhuaweicloud.com".to_string())
    );
    let e = imp::endpoint(&none, "eu-west-101").unwrap();
    assert_eq!(e.authority(), "kms.eu-west-101.myhuaweicloud.eu");
    let sdk = MapEnv::of(&[(
        "HUAWEICLOUD_SDK_REGION_KMS_TR_WEST_1",
        "https://kms.private.example:8443,https://other.example",
    )]);
    assert_eq!(
        imp::endpoint(&sdk, "tr-west-1").unwrap().authority(),
        "kms.private.example:8443"
    );
    // The SDK variable is per region.
    assert_eq!(
        imp::endpoint(&sdk, "ap-southeast-3").unwrap().authority(),
        "kms.ap-southeast-3.myhuaweicloud.com"
    );
    let ours = MapEnv::of(&[("ENSEAL_HCKMS_ENDPOINT", "http://127.0.0.1:9")]);
    let e = imp::endpoint(&ours, "ap-southeast-3").unwrap();
    assert_eq!((e.https, e.authority()), (false, "127.0.0.1:9".to_string()));
    for bad in [
        "http://kms.example.com",
        "https://kms.example.com/path",
        "https://user@kms.example.com",
        "kms.example.com",
        "ftp://kms.example.com",
    ] {
        let err =
            imp::endpoint(&MapEnv::of(&[("ENSEAL_HCKMS_ENDPOINT", bad)]), "tr-west-1").unwrap_err();
        assert!(err.contains("ENSEAL_HCKMS_ENDPOINT"), "{bad}: {err}");
    }
}

#[test]
fn credentials_are_required_and_never_echoed() {
    let missing = credentials::from_env(&MapEnv::of(&[("HUAWEICLOUD_SDK_AK", AK)]))
        .err()
        .unwrap();
    assert!(missing.contains("HUAWEICLOUD_SDK_SK"), "{missing}");
    let bad_ak = credentials::from_env(&MapEnv::of(&[
        ("HUAWEICLOUD_SDK_AK", "AK\r\nX-Evil: 1"),
        ("HUAWEICLOUD_SDK_SK", SK),
        ("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT),
    ]))
    .err()
    .unwrap();
    assert!(!bad_ak.contains("X-Evil"), "{bad_ak}");
    let bad_project = credentials::from_env(&MapEnv::of(&[
        ("HUAWEICLOUD_SDK_AK", AK),
        ("HUAWEICLOUD_SDK_SK", SK),
        ("HUAWEICLOUD_SDK_PROJECT_ID", "p/../x"),
    ]))
    .err()
    .unwrap();
    assert!(bad_project.contains("not a project id"), "{bad_project}");
    for err in [&missing, &bad_ak, &bad_project] {
        assert!(!err.contains(SK) && !err.contains(AK), "{err}");
    }
}

// ---------------------------------------------------------------------------
// Against a loopback KMS lookalike
// ---------------------------------------------------------------------------

/// The mock's data-encryption key (AES-256-GCM), fixed.
const MOCK_KEY: [u8; 32] = [0x42; 32];

/// A KMS lookalike: checks the `SDK-HMAC-SHA256` signature of every request
/// with the key pair it knows (recomputed over what arrived on the wire:
/// method, path, the headers named in `SignedHeaders`, body) and the
/// `X-Project-Id`, then encrypts `plain_text` with AES-256-GCM (nonce
/// from a counter) bound to the key uuid, or decrypts `cipher_text`.
fn kms_answer(req: &Request, counter: &AtomicU32, token: Option<&str>) -> (u16, String) {
    let denied = |why: &str| {
        (
            401,
            json!({"error_msg": format!("Incorrect IAM authentication information: {why}"), "error_code": "APIGW.0301", "request_id": "r1"}).to_string(),
        )
    };
    let Some(auth) = req.header("authorization") else {
        return denied("no authorization");
    };
    let Some(rest) = auth.strip_prefix("SDK-HMAC-SHA256 Access=") else {
        return denied("not SDK-HMAC-SHA256");
    };
    let (access, rest) = rest.split_once(", SignedHeaders=").unwrap();
    let (names, _) = rest.split_once(", Signature=").unwrap();
    if access != AK {
        return denied("unknown access key");
    }
    let date = req.header("x-sdk-date").unwrap_or_default();
    let headers: Vec<(&str, &str)> = names
        .split(';')
        .map(|n| (n, req.header(n).unwrap_or("<missing>")))
        .collect();
    let iam = req.target.starts_with("/v3/projects");
    let needed: &[&str] = if iam {
        &["host", "x-sdk-date"]
    } else {
        &["host", "x-project-id", "x-sdk-date"]
    };
    for needed in needed {
        if !names.split(';').any(|n| n == *needed) {
            return denied("a required header is not signed");
        }
    }
    if token.is_some() && req.header("x-security-token") != token {
        return denied("bad security token");
    }
    let (path, query) = req.target.split_once('?').unwrap_or((&req.target, ""));
    let query: Vec<(&str, &str)> = query
        .split('&')
        .filter(|q| !q.is_empty())
        .map(|q| q.split_once('=').unwrap_or((q, "")))
        .collect();
    let expected = authorization(
        AK,
        SK,
        date,
        &credentials::Request {
            method: &req.method,
            path,
            query: &query,
            headers: &headers,
            body: &req.body,
        },
    );
    if expected != auth {
        return denied("verify aksk signature fail");
    }
    if iam {
        // Projects named after regions: one for la-south-2, none for
        // af-south-1, two for cn-north-4.
        let ids: &[&str] = match query.as_slice() {
            [("name", "la-south-2")] => &[PROJECT],
            [("name", "cn-north-4")] => &["p1", "p2"],
            _ => &[],
        };
        let projects: Vec<_> = ids
            .iter()
            .map(|id| json!({"id": id, "name": "x"}))
            .collect();
        return (200, json!({"projects": projects}).to_string());
    }
    if req.header("x-project-id") != Some(PROJECT) {
        return denied("project mismatch");
    }
    let body = req.json();
    let cipher = Aes256Gcm::new_from_slice(&MOCK_KEY).unwrap();
    let key_id = body["key_id"].as_str().unwrap_or_default().to_string();
    if body["encryption_algorithm"] != "SYMMETRIC_DEFAULT" {
        return (
            400,
            json!({"error": {"error_code": "KMS.0203", "error_msg": "bad algorithm"}}).to_string(),
        );
    }
    let op = path.strip_prefix(&format!("/v1.0/{PROJECT}/kms/"));
    match op {
        Some("encrypt-data") => {
            let plain = body["plain_text"].as_str().unwrap().as_bytes().to_vec();
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let mut nonce = [0u8; 12];
            nonce[..4].copy_from_slice(&n.to_be_bytes());
            let ct = cipher
                .encrypt(
                    Nonce::from_slice(&nonce),
                    aes_gcm::aead::Payload {
                        msg: &plain,
                        aad: key_id.as_bytes(),
                    },
                )
                .unwrap();
            let mut out = nonce.to_vec();
            out.extend(ct);
            (
                200,
                json!({"key_id": key_id, "cipher_text": STANDARD.encode(out)}).to_string(),
            )
        }
        Some("decrypt-data") => {
            let raw = STANDARD
                .decode(body["cipher_text"].as_str().unwrap())
                .unwrap_or_default();
            if raw.len() < 12 {
                return (400, json!({"error": {"error_code": "KMS.0205", "error_msg": "Invalid ciphertext."}}).to_string());
            }
            let plain = cipher.decrypt(
                Nonce::from_slice(&raw[..12]),
                aes_gcm::aead::Payload {
                    msg: &raw[12..],
                    aad: key_id.as_bytes(),
                },
            );
            match plain {
                Ok(p) => (
                    200,
                    json!({"key_id": key_id, "plain_text": String::from_utf8(p).unwrap()})
                        .to_string(),
                ),
                Err(_) => (
                    400,
                    json!({"error": {"error_code": "KMS.0205", "error_msg": "Invalid ciphertext."}})
                        .to_string(),
                ),
            }
        }
        _ => (404, "{}".into()),
    }
}

fn start_kms(token: Option<&'static str>) -> Mock {
    let counter = Arc::new(AtomicU32::new(1));
    Mock::start(move |r| kms_answer(r, &counter, token))
}

fn kms_env(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("HUAWEICLOUD_SDK_AK", AK.into()),
        ("HUAWEICLOUD_SDK_SK", SK.into()),
        ("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT.into()),
        ("ENSEAL_HCKMS_ENDPOINT", url.into()),
        ("ENSEAL_CLOUD_TIMEOUT", "5".into()),
    ]
}

fn to_env(pairs: &[(&str, String)]) -> MapEnv {
    MapEnv(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

#[test]
fn signed_round_trip_and_request_shape() {
    let server = start_kms(None);
    let env = to_env(&kms_env(&server.url));
    let secret = [7u8; 32];
    let id = format!("tr-west-1:{UUID}");
    let mut fields = key_fields(&id);
    imp::wrap(&env, &mut fields, &secret).unwrap();
    let keys: Vec<&str> = fields.entries().map(|(k, _)| k).collect();
    assert_eq!(keys, ["key_id", "created_at", "enc"]);
    let enc = fields.get("enc").unwrap().as_str().unwrap().to_string();
    assert_eq!(*imp::unwrap(&env, &fields).unwrap(), secret);

    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].target, format!("/v1.0/{PROJECT}/kms/encrypt-data"));
    assert_eq!(reqs[0].header("content-type"), Some("application/json"));
    assert_eq!(reqs[0].header("x-project-id"), Some(PROJECT));
    assert!(reqs[0]
        .header("authorization")
        .unwrap()
        .contains("SignedHeaders=host;x-project-id;x-sdk-date,"));
    assert_eq!(
        reqs[0].json(),
        json!({"key_id": UUID, "plain_text": STANDARD.encode(secret), "encryption_algorithm": "SYMMETRIC_DEFAULT"})
    );
    assert_eq!(reqs[1].target, format!("/v1.0/{PROJECT}/kms/decrypt-data"));
    assert_eq!(
        reqs[1].json(),
        json!({"cipher_text": enc, "encryption_algorithm": "SYMMETRIC_DEFAULT", "key_id": UUID})
    );
    // No request carries the secret key.
    assert!(reqs
        .iter()
        .all(|r| !r.text().contains(SK) && r.headers.iter().all(|(_, v)| !v.contains(SK))));
}

#[test]
fn security_token_is_sent_and_signed() {
    let server = start_kms(Some("temp-token-1"));
    let mut pairs = kms_env(&server.url);
    pairs.push(("HUAWEICLOUD_SDK_SECURITY_TOKEN", "temp-token-1".into()));
    let env = to_env(&pairs);
    let mut fields = key_fields(&format!("ap-southeast-3:{UUID}"));
    imp::wrap(&env, &mut fields, &[1u8; 32]).unwrap();
    assert_eq!(*imp::unwrap(&env, &fields).unwrap(), [1u8; 32]);
    let auth = server.requests()[0]
        .header("authorization")
        .unwrap()
        .to_string();
    assert!(
        auth.contains("SignedHeaders=host;x-project-id;x-sdk-date;x-security-token,"),
        "{auth}"
    );
}

#[test]
fn wrong_secret_key_is_reported_without_secrets() {
    let server = start_kms(None);
    let mut pairs = kms_env(&server.url);
    pairs[1].1 = "another-secret".into();
    let env = to_env(&pairs);
    let secret = [9u8; 32];
    let mut fields = key_fields(&format!("tr-west-1:{UUID}"));
    let err = imp::wrap(&env, &mut fields, &secret).unwrap_err();
    assert_eq!(
        err,
        "failed to encrypt sops data key with HuaweiCloud KMS: HTTP 401: APIGW.0301: \
         Incorrect IAM authentication information: verify aksk signature fail"
    );
    assert!(!err.contains("another-secret") && !err.contains(&STANDARD.encode(secret)));
}

#[test]
fn another_keys_ciphertext_does_not_decrypt() {
    let server = start_kms(None);
    let env = to_env(&kms_env(&server.url));
    let mut fields = key_fields(&format!("tr-west-1:{UUID}"));
    imp::wrap(&env, &mut fields, &[3u8; 32]).unwrap();
    let mut other = fields.clone();
    crate::keys::set_field(&mut other, "key_id", "tr-west-1:another-uuid".into());
    let err = imp::unwrap(&env, &other).unwrap_err();
    assert_eq!(
        err,
        "failed to decrypt sops data key with HuaweiCloud KMS: HTTP 400: KMS.0205: Invalid ciphertext."
    );
}

/// A crafted key id never causes a request: the region is refused first,
/// even when an endpoint override would not use it.
#[test]
fn region_injection_is_refused_before_any_request() {
    let server = start_kms(None);
    let env = to_env(&kms_env(&server.url));
    for id in [
        "evil.example/x:u",
        "tr-west-1.evil.example:u",
        "127.0.0.1:8080",
        "tr-west-1@evil.example:u",
        "nocolon",
    ] {
        let mut fields = key_fields(id);
        crate::keys::set_field(&mut fields, "enc", "AAAA".into());
        let wrap_err = imp::wrap(&env, &mut fields.clone(), &[1u8; 32]).unwrap_err();
        let unwrap_err = imp::unwrap(&env, &fields).unwrap_err();
        for err in [wrap_err, unwrap_err] {
            assert!(
                err.contains("not a HuaweiCloud region id") || err.contains("invalid"),
                "{id}: {err}"
            );
        }
    }
    assert!(server.requests().is_empty());
    // Without an override, too: nothing is resolved or sent.
    let no_override = env_without_endpoint();
    let err = imp::unwrap(&no_override, &key_fields("evil.example:u")).unwrap_err();
    assert!(err.contains("not a HuaweiCloud region id"), "{err}");
}

fn env_without_endpoint() -> MapEnv {
    MapEnv::of(&[
        ("HUAWEICLOUD_SDK_AK", AK),
        ("HUAWEICLOUD_SDK_SK", SK),
        ("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT),
    ])
}

#[test]
fn missing_response_fields_are_errors() {
    let server = Mock::start(|_| (200, "{}".into()));
    let env = to_env(&kms_env(&server.url));
    let mut fields = key_fields(&format!("tr-west-1:{UUID}"));
    let err = imp::wrap(&env, &mut fields, &[1u8; 32]).unwrap_err();
    assert!(
        err.ends_with("the response has no \"cipher_text\""),
        "{err}"
    );
    crate::keys::set_field(&mut fields, "enc", "AAAA".into());
    let err = imp::unwrap(&env, &fields).unwrap_err();
    assert!(err.ends_with("the response has no \"plain_text\""), "{err}");
    let err = imp::unwrap(&env, &key_fields(&format!("tr-west-1:{UUID}"))).unwrap_err();
    assert!(err.contains("no encrypted data key"), "{err}");
}

/// Without `HUAWEICLOUD_SDK_PROJECT_ID` the project named after the region
/// is asked of IAM (signed, once per process), as the Go SDK does.
#[test]
fn the_project_is_looked_up_in_iam() {
    let server = start_kms(None);
    let mut pairs = kms_env(&server.url);
    pairs.retain(|(k, _)| *k != "HUAWEICLOUD_SDK_PROJECT_ID");
    pairs.push(("HUAWEICLOUD_SDK_IAM_ENDPOINT", server.url.clone()));
    let env = to_env(&pairs);
    let mut fields = key_fields(&format!("la-south-2:{UUID}"));
    imp::wrap(&env, &mut fields, &[5u8; 32]).unwrap();
    assert_eq!(*imp::unwrap(&env, &fields).unwrap(), [5u8; 32]);
    let reqs = server.requests();
    let targets: Vec<&str> = reqs.iter().map(|r| r.target.as_str()).collect();
    let encrypt = format!("/v1.0/{PROJECT}/kms/encrypt-data");
    let decrypt = format!("/v1.0/{PROJECT}/kms/decrypt-data");
    assert_eq!(
        targets,
        [
            "/v3/projects?name=la-south-2",
            encrypt.as_str(),
            decrypt.as_str()
        ]
    );
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].header("x-project-id"), None);
    assert!(reqs[0]
        .header("authorization")
        .unwrap()
        .contains("SignedHeaders=host;x-sdk-date,"));

    for (region, why) in [
        ("af-south-1", "IAM lists no project named af-south-1"),
        (
            "cn-north-4",
            "IAM lists several projects named cn-north-4 (p1, p2)",
        ),
    ] {
        let mut fields = key_fields(&format!("{region}:{UUID}"));
        let err = imp::wrap(&env, &mut fields, &[5u8; 32]).unwrap_err();
        assert!(err.contains(why), "{err}");
        assert!(err.contains("set HUAWEICLOUD_SDK_PROJECT_ID"), "{err}");
    }
    let mut bad = pairs.clone();
    bad.retain(|(k, _)| *k != "HUAWEICLOUD_SDK_IAM_ENDPOINT");
    bad.push((
        "HUAWEICLOUD_SDK_IAM_ENDPOINT",
        "http://iam.example.com".into(),
    ));
    let mut fields = key_fields(&format!("sa-brazil-1:{UUID}"));
    let err = imp::wrap(&to_env(&bad), &mut fields, &[5u8; 32]).unwrap_err();
    assert!(err.contains("refusing plain http"), "{err}");
}

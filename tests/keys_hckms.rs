//! HuaweiCloud KMS (`hckms`) keys through the CLI, against a loopback
//! lookalike of the KMS REST API that checks every request's
//! `SDK-HMAC-SHA256` signature with its own implementation of the scheme
//! (not enseal's) and really encrypts the data key (AES-256-GCM under a
//! fixed test key): encrypt/decrypt, `SOPS_HUAWEICLOUD_KMS_IDS`,
//! `.sops.yaml` rules and key groups, rotate with `--add-hckms` /
//! `--rm-hckms`, updatekeys, groups add, the key service, the metadata
//! layout sops writes, and the reference sops 3.11 (which has no hckms)
//! still decrypting such a file through its age key.

#![cfg(feature = "huawei")]

mod common;

use common::http_mock::{read_request, Request};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::*;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

const UUID: &str = "0d0466b0-e727-4d9c-b35d-f84bb474a37f";
const UUID2: &str = "5a6f0c2e-1b1d-4c5e-9f00-1234567890ab";
const PROJECT: &str = "0123456789abcdef0123456789abcdef";
const AK: &str = "HCTESTAK42";
const SK: &str = "hc-test-secret-key";
const PLAIN_YAML: &str = "a: 1\nb: secret\n";

fn key_id() -> String {
    format!("tr-west-1:{UUID}")
}

fn key_id2() -> String {
    format!("ap-southeast-3:{UUID2}")
}

// ---------------------------------------------------------------------------
// The KMS lookalike
// ---------------------------------------------------------------------------

struct Kms {
    url: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Kms {
    fn start() -> Kms {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let counter = Arc::new(AtomicU32::new(1));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(req) = read_request(&mut stream) else {
                    continue;
                };
                seen.lock().unwrap().push(req.clone());
                let (status, body) = answer(&req, &counter);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Kms { url, requests }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// The key uuids of the encrypt-data calls so far.
    fn encrypted_for(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter(|r| r.target.ends_with("/encrypt-data"))
            .map(|r| r.json()["key_id"].as_str().unwrap().to_string())
            .collect()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The signature the gateway expects, computed from the request as it
/// arrived (this test's own rendering of Huawei's APIG signing scheme:
/// the paths here need no escaping and there is no query).
fn expected_signature(req: &Request, names: &str) -> String {
    let mut uri = req.target.clone();
    if !uri.ends_with('/') {
        uri.push('/');
    }
    let mut canonical_headers = String::new();
    for name in names.split(';') {
        let value = req.header(name).unwrap_or("");
        canonical_headers.push_str(&format!("{name}:{value}\n"));
    }
    let canonical = [
        req.method.as_str(),
        &uri,
        "",
        &canonical_headers,
        names,
        &hex(&Sha256::digest(&req.body)),
    ]
    .join("\n");
    let date = req.header("x-sdk-date").unwrap_or("");
    let to_sign = format!(
        "SDK-HMAC-SHA256\n{date}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SK.as_bytes());
    hex(ring::hmac::sign(&key, to_sign.as_bytes()).as_ref())
}

fn answer(req: &Request, counter: &AtomicU32) -> (u16, String) {
    let denied = |why: &str| {
        (
            401,
            json!({"error_msg": format!("Incorrect IAM authentication information: {why}"), "error_code": "APIGW.0301"}).to_string(),
        )
    };
    let auth = req.header("authorization").unwrap_or("");
    let prefix = format!("SDK-HMAC-SHA256 Access={AK}, SignedHeaders=");
    let Some((names, signature)) = auth
        .strip_prefix(&prefix)
        .and_then(|rest| rest.split_once(", Signature="))
    else {
        return denied("bad authorization header");
    };
    if names != "host;x-project-id;x-sdk-date" {
        return denied("unexpected signed headers");
    }
    if signature != expected_signature(req, names) {
        return denied("verify aksk signature fail");
    }
    if req.header("x-project-id") != Some(PROJECT) {
        return denied("project");
    }
    let body = req.json();
    let key = body["key_id"].as_str().unwrap_or("").to_string();
    let cipher = Aes256Gcm::new_from_slice(&[0x24; 32]).unwrap();
    let aad = key.as_bytes();
    match req
        .target
        .strip_prefix(&format!("/v1.0/{PROJECT}/kms/"))
        .unwrap_or("")
    {
        "encrypt-data" => {
            let mut nonce = [0u8; 12];
            nonce[..4].copy_from_slice(&counter.fetch_add(1, Ordering::SeqCst).to_be_bytes());
            let plain = body["plain_text"].as_str().unwrap().as_bytes();
            let mut out = nonce.to_vec();
            out.extend(
                cipher
                    .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
                    .unwrap(),
            );
            (
                200,
                json!({"key_id": key, "cipher_text": STANDARD.encode(out)}).to_string(),
            )
        }
        "decrypt-data" => {
            let raw = STANDARD
                .decode(body["cipher_text"].as_str().unwrap_or(""))
                .unwrap_or_default();
            let plain = (raw.len() > 12)
                .then(|| {
                    cipher
                        .decrypt(
                            Nonce::from_slice(&raw[..12]),
                            Payload {
                                msg: &raw[12..],
                                aad,
                            },
                        )
                        .ok()
                })
                .flatten();
            match plain {
                Some(p) => (
                    200,
                    json!({"key_id": key, "plain_text": String::from_utf8(p).unwrap()})
                        .to_string(),
                ),
                None => (
                    400,
                    json!({"error": {"error_code": "KMS.0205", "error_msg": "Invalid ciphertext."}}).to_string(),
                ),
            }
        }
        _ => (404, "{}".into()),
    }
}

/// `cmd` with the lookalike's endpoint and the test credentials.
fn hc_env(mut cmd: Command, kms: &Kms) -> Command {
    cmd.env("HUAWEICLOUD_SDK_AK", AK)
        .env("HUAWEICLOUD_SDK_SK", SK)
        .env("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT)
        .env("ENSEAL_HCKMS_ENDPOINT", &kms.url)
        .env("ENSEAL_CLOUD_TIMEOUT", "5");
    cmd
}

fn with_age(mut cmd: Command) -> Command {
    cmd.env("SOPS_AGE_KEY_FILE", key_file(1));
    cmd
}

/// The `hckms` entries of a YAML file's metadata: (key_id, enc).
fn hckms_entries(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(id) = line.trim().strip_prefix("- key_id: ") {
            let created = lines.next().unwrap().trim();
            assert!(created.starts_with("created_at: \"20"), "{text}");
            let enc = lines.next().unwrap().trim().strip_prefix("enc: ").unwrap();
            out.push((id.to_string(), enc.to_string()));
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
fn encrypt_with_the_flag_and_decrypt_with_hckms_only() {
    let kms = Kms::start();
    let sb = Sandbox::new();
    let plain = sb.write("p.yaml", PLAIN_YAML);
    let enc = run(hc_env(sb.enseal(), &kms)
        .args(["encrypt", "--hckms", &key_id(), "--age", &recipient(1)])
        .arg(&plain))
    .ok()
    .out();
    // sops' layout: the hckms list after kms/gcp_kms, before age; its
    // fields key_id, created_at, enc.
    let start = enc.find("sops:\n").unwrap();
    let meta = &enc[start..];
    assert!(
        meta.starts_with(&format!(
            "sops:\n    hckms:\n        - key_id: {}\n          created_at: \"20",
            key_id()
        )),
        "{enc}"
    );
    let after_hckms = meta.find("    age:\n").unwrap();
    assert!(meta[..after_hckms].contains("          enc: "), "{enc}");
    let entries = hckms_entries(&enc);
    assert_eq!(entries.len(), 1);
    let file = sb.write("f.yaml", &enc);
    // No age identity: the data key comes from the KMS lookalike.
    let dec = run(hc_env(sb.enseal(), &kms).arg("decrypt").arg(&file)).ok();
    assert_eq!(dec.out(), PLAIN_YAML);
    let reqs = kms.requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_eq!(reqs[1].json()["cipher_text"], entries[0].1);
    assert_eq!(reqs[1].json()["key_id"], UUID);

    // The same file without credentials: a clear error naming the key.
    let out = run(sb.enseal().arg("decrypt").arg(&file));
    assert_eq!(out.code, Some(128), "{}", out.err());
    assert!(out.err().contains("HUAWEICLOUD_SDK_AK"), "{}", out.err());
}

#[test]
fn json_metadata_has_the_reference_field_order() {
    let kms = Kms::start();
    let sb = Sandbox::new();
    let plain = sb.write("p.json", "{\"a\": \"secret\"}\n");
    let enc = run(hc_env(sb.enseal(), &kms)
        .env(
            "SOPS_HUAWEICLOUD_KMS_IDS",
            format!("{}, {}", key_id(), key_id2()),
        )
        .arg("encrypt")
        .arg(&plain))
    .ok()
    .out();
    let i = enc.find("\"hckms\": [").expect("an hckms list");
    let block = &enc[i..];
    let k = block.find("\"key_id\"").unwrap();
    let c = block.find("\"created_at\"").unwrap();
    let e = block.find("\"enc\"").unwrap();
    assert!(k < c && c < e, "{enc}");
    assert!(block.contains(&key_id2()), "{enc}");
    assert_eq!(kms.encrypted_for(), [UUID, UUID2]);
    let file = sb.write("f.json", &enc);
    let dec = run(hc_env(sb.enseal(), &kms).arg("decrypt").arg(&file)).ok();
    assert_eq!(dec.out(), "{\n\t\"a\": \"secret\"\n}\n");
}

#[test]
fn rules_and_key_groups_in_the_config() {
    let kms = Kms::start();
    let sb = Sandbox::new();
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: flat\\.yaml$\n    hckms: ['{}']\n    age: {}\n  \
             - path_regex: grouped\\.yaml$\n    shamir_threshold: 2\n    key_groups:\n      \
             - hckms:\n          - key_id: {}\n      - age: ['{}']\n",
            key_id(),
            recipient(1),
            key_id2(),
            recipient(1)
        ),
    );
    sb.write("flat.yaml", PLAIN_YAML);
    sb.write("grouped.yaml", PLAIN_YAML);
    let flat = run(hc_env(sb.enseal(), &kms).args(["encrypt", "flat.yaml"]))
        .ok()
        .out();
    assert_eq!(hckms_entries(&flat)[0].0, key_id());
    let grouped = run(hc_env(sb.enseal(), &kms).args(["encrypt", "grouped.yaml"]))
        .ok()
        .out();
    assert!(
        grouped.contains(&format!(
            "    key_groups:\n        - hckms:\n            - key_id: {}\n",
            key_id2()
        )),
        "{grouped}"
    );
    // Both groups are needed (threshold 2): the hckms share and the age one.
    let file = sb.write("g.enc.yaml", &grouped);
    let dec = run(with_age(hc_env(sb.enseal(), &kms))
        .arg("decrypt")
        .arg(&file))
    .ok();
    assert_eq!(dec.out(), PLAIN_YAML);
    let out = run(with_age(sb.enseal()).arg("decrypt").arg(&file));
    assert_ne!(out.code, Some(0));
}

#[test]
fn rotate_adds_removes_and_rewraps() {
    let kms = Kms::start();
    let sb = Sandbox::new();
    let plain = sb.write("p.yaml", PLAIN_YAML);
    let enc = run(with_age(sb.enseal())
        .args(["encrypt", "--age", &recipient(1)])
        .arg(&plain))
    .ok()
    .out();
    let file = sb.write("f.yaml", &enc);
    run(with_age(hc_env(sb.enseal(), &kms))
        .args(["rotate", "-i", "--add-hckms", &key_id()])
        .arg(&file))
    .ok();
    let text = std::fs::read_to_string(&file).unwrap();
    let first = hckms_entries(&text);
    assert_eq!(first.len(), 1);
    assert_eq!(
        run(hc_env(sb.enseal(), &kms).arg("decrypt").arg(&file))
            .ok()
            .out(),
        PLAIN_YAML
    );
    // A plain rotation: a new data key, wrapped again by the KMS.
    run(with_age(hc_env(sb.enseal(), &kms))
        .args(["rotate", "-i"])
        .arg(&file))
    .ok();
    let text = std::fs::read_to_string(&file).unwrap();
    let second = hckms_entries(&text);
    assert_eq!(second[0].0, key_id());
    assert_ne!(second[0].1, first[0].1);
    assert_eq!(
        run(hc_env(sb.enseal(), &kms).arg("decrypt").arg(&file))
            .ok()
            .out(),
        PLAIN_YAML
    );
    run(with_age(hc_env(sb.enseal(), &kms))
        .args(["rotate", "-i", "--rm-hckms", &key_id()])
        .arg(&file))
    .ok();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("hckms"), "{text}");
    assert_eq!(kms.encrypted_for(), [UUID, UUID]);
}

#[test]
fn updatekeys_and_groups_add() {
    let kms = Kms::start();
    let sb = Sandbox::new();
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - age: {}\n    hckms: ['{}']\n",
            recipient(1),
            key_id()
        ),
    );
    let enc = run(with_age(sb.enseal())
        .args(["encrypt", "--age", &recipient(1)])
        .arg(sb.write("app.yaml", PLAIN_YAML)))
    .ok()
    .out();
    let file = sb.write("app.yaml", &enc);
    let out = run(with_age(hc_env(sb.enseal(), &kms))
        .args(["updatekeys", "-y"])
        .arg(&file))
    .ok();
    assert!(
        out.out().contains(&format!("+++ {}", key_id())),
        "{}",
        out.out()
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(hckms_entries(&text)[0].0, key_id());
    assert_eq!(
        run(hc_env(sb.enseal(), &kms).arg("decrypt").arg(&file))
            .ok()
            .out(),
        PLAIN_YAML
    );

    // A second group holding only an hckms key (sops 3.13 would leave the
    // key out of the group; enseal adds it).
    run(with_age(hc_env(sb.enseal(), &kms))
        .args(["groups", "add", "-i", "--file"])
        .arg(&file)
        .args([
            "--hckms",
            &key_id2(),
            "--shamir-secret-sharing-threshold",
            "2",
        ]))
    .ok();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains(&format!(
            "        - hckms:\n            - key_id: {}\n",
            key_id2()
        )),
        "{text}"
    );
    assert_eq!(
        run(with_age(hc_env(sb.enseal(), &kms))
            .arg("decrypt")
            .arg(&file))
        .ok()
        .out(),
        PLAIN_YAML
    );
    assert!(kms.encrypted_for().contains(&UUID2.to_string()));
}

/// A crafted key id in a file never sends a signed request anywhere.
#[test]
fn region_injection_in_a_file_sends_nothing() {
    let kms = Kms::start();
    let sb = Sandbox::new();
    let plain = sb.write("p.yaml", PLAIN_YAML);
    let enc = run(hc_env(sb.enseal(), &kms)
        .args(["encrypt", "--hckms", &key_id()])
        .arg(&plain))
    .ok()
    .out();
    let before = kms.requests().len();
    for bad in [
        "evil.example/x",
        "tr-west-1.evil.example",
        "127.0.0.1",
        "tr-west-1@evil.example",
    ] {
        let crafted = enc.replace(&key_id(), &format!("{bad}:{UUID}"));
        let file = sb.write("crafted.yaml", &crafted);
        // Without the endpoint override too: nothing is resolved or sent.
        let mut cmd = hc_env(sb.enseal(), &kms);
        cmd.env_remove("ENSEAL_HCKMS_ENDPOINT");
        for mut cmd in [hc_env(sb.enseal(), &kms), cmd] {
            let out = run(cmd.arg("decrypt").arg(&file));
            assert_eq!(out.code, Some(128), "{}", out.err());
            assert!(
                out.err().contains("not a HuaweiCloud region id"),
                "{bad}: {}",
                out.err()
            );
            assert!(!out.err().contains(SK));
        }
    }
    assert_eq!(kms.requests().len(), before);
}

/// The reference sops 3.11 has no hckms keys; a file enseal wrote with an
/// hckms and an age key still decrypts with it, through age.
#[test]
fn reference_sops_decrypts_through_age() {
    let Some(sops) = require_sops() else {
        return;
    };
    let kms = Kms::start();
    let sb = Sandbox::new();
    for (name, plain) in [
        ("p.yaml", PLAIN_YAML),
        ("p.json", "{\n\t\"a\": \"secret\"\n}\n"),
        ("p.env", "a=1\nb=secret\n"),
    ] {
        let path = sb.write(name, plain);
        let enc = run(hc_env(sb.enseal(), &kms)
            .args(["encrypt", "--hckms", &key_id(), "--age", &recipient(1)])
            .arg(&path))
        .ok()
        .out();
        assert!(enc.contains("hckms"), "{enc}");
        let ext = name.rsplit('.').next().unwrap();
        let file = sb.write(&format!("ours.{ext}"), &enc);
        let dec = run(sb
            .sops(&sops)
            .env("SOPS_AGE_KEY_FILE", key_file(1))
            .arg("decrypt")
            .arg(&file))
        .ok();
        assert_eq!(dec.out(), plain, "{name}");
    }
}

/// `enseal keyservice` holds the HuaweiCloud credentials; a client without
/// any sends it the HckmsKey and gets the data key wrapped and unwrapped.
#[test]
fn hckms_keys_through_the_key_service() {
    struct Killed(Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM) };
            let _ = self.0.wait();
        }
    }
    let kms = Kms::start();
    let sb = Sandbox::new();
    let socket = sb.path("ks.sock");
    let mut cmd = hc_env(sb.enseal(), &kms);
    cmd.args(["keyservice", "--network", "unix", "--address"])
        .arg(&socket)
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let server = Killed(child);
    loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "server exited");
        if line.starts_with("Listening on") {
            break;
        }
    }
    let uri = format!("unix://{}", socket.display());
    let plain = sb.write("p.yaml", PLAIN_YAML);
    let enc = run(sb
        .enseal()
        .args([
            "encrypt",
            "--keyservice",
            &uri,
            "--enable-local-keyservice=false",
        ])
        .args(["--hckms", &key_id()])
        .arg(&plain))
    .ok()
    .out();
    assert_eq!(hckms_entries(&enc)[0].0, key_id());
    let file = sb.write("f.yaml", &enc);
    let dec = run(sb
        .enseal()
        .args([
            "decrypt",
            "--keyservice",
            &uri,
            "--enable-local-keyservice=false",
        ])
        .arg(&file))
    .ok();
    assert_eq!(dec.out(), PLAIN_YAML);
    // Locally, without credentials, the same file does not decrypt.
    let out = run(sb.enseal().arg("decrypt").arg(&file));
    assert_eq!(out.code, Some(128), "{}", out.err());
    drop(server);
    assert_eq!(kms.encrypted_for(), [UUID]);
    assert_eq!(kms.requests().len(), 2);
}

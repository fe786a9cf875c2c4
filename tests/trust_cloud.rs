//! Trust boundary of the Azure Key Vault and GCP KMS backends, through the
//! CLI: an encrypted file is untrusted, so a value it holds (an `azure_kv`
//! entry's `vault_url`, name and version, a `gcp_kms` entry's
//! `resource_id`) must never decide where the user's token goes.
//!
//! Every test runs real loopback listeners that record each connection
//! they accept (raw bytes, TLS attempts included): a "vault"/"KMS" listener
//! the crafted file points at, and a token endpoint the user's (valid)
//! credentials point at. A refused file must leave both untouched. Each
//! test also runs the same command with the user's opt-in, to show that the
//! listeners do see the traffic when it is allowed (so an empty record
//! really means nothing was sent). Nothing leaves 127.0.0.1.

#![cfg(all(feature = "gcp", feature = "azure"))]

mod common;

use common::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The opt-in variable for Key Vault hosts outside Azure's domains.
const ALLOWED_VAR: &str = "ENSEAL_AZURE_KV_ALLOWED_HOSTS";
const PLAIN_JSON: &str = "{\n\t\"a\": \"secret value\"\n}\n";

/// A loopback listener that records the raw bytes of every connection and
/// answers each with a fixed HTTP response.
struct Recorder {
    /// `127.0.0.1:<port>`.
    authority: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    fn start(status: u16, body: &'static str) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let authority = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let raw = read_raw(&mut stream);
                record.lock().unwrap().push(raw);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Recorder { authority, seen }
    }

    fn url(&self) -> String {
        format!("http://{}", self.authority)
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// What a client sent on one connection: up to the end of an HTTP request
/// (headers and `Content-Length` body), or whatever arrived (a TLS hello)
/// before the client stopped sending.
fn read_raw(stream: &mut std::net::TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
        let text = String::from_utf8_lossy(&data);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                break;
            }
        }
        if data.len() > 1 << 16 {
            break;
        }
    }
    String::from_utf8_lossy(&data).into_owned()
}

/// The Azure AD token endpoint the user's credentials point at.
fn azure_token_endpoint() -> Recorder {
    Recorder::start(
        200,
        r#"{"token_type":"Bearer","expires_in":3599,"access_token":"az-user-token"}"#,
    )
}

/// Valid Azure client-secret credentials whose token endpoint is `token`.
fn azure_user(mut cmd: Command, token: &Recorder) -> Command {
    cmd.env("AZURE_TENANT_ID", "tenant-1")
        .env("AZURE_CLIENT_ID", "client-1")
        .env("AZURE_CLIENT_SECRET", "user-secret")
        .env("AZURE_AUTHORITY_HOST", token.url())
        .env("ENSEAL_CLOUD_TIMEOUT", "3");
    cmd
}

/// Valid Google credentials (a refresh token exchanged at `token`) and the
/// user's KMS endpoint `kms`.
fn gcp_user(mut cmd: Command, token: &Recorder, kms: &Recorder) -> Command {
    let creds = json!({
        "type": "authorized_user",
        "client_id": "cid",
        "client_secret": "csecret",
        "refresh_token": "1//user-refresh",
        "token_uri": format!("{}/token", token.url()),
    });
    cmd.env("GOOGLE_CREDENTIALS", creds.to_string())
        .env("SOPS_GCP_KMS_ENDPOINT", kms.url())
        .env("ENSEAL_CLOUD_TIMEOUT", "3");
    cmd
}

/// An age-encrypted JSON file to which the "attacker" adds `entries` under
/// the metadata key `type_id` (same key group), as a crafted file in a
/// pull request would. Without the age identity, decrypting it tries them.
fn crafted_file(sb: &Sandbox, name: &str, type_id: &str, entries: Value) -> PathBuf {
    let plain = sb.write("plain.json", PLAIN_JSON);
    let out = run(sb
        .enseal()
        .args(["encrypt", "--age", &recipient(1)])
        .arg(&plain))
    .ok();
    let mut doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["sops"][type_id] = entries;
    sb.write(name, serde_json::to_string_pretty(&doc).unwrap())
}

fn azure_entry(vault_url: &str, name: &str, version: &str) -> Value {
    json!([{
        "vault_url": vault_url,
        "name": name,
        "version": version,
        "created_at": "2024-01-01T00:00:00Z",
        "enc": "c29tZS13cmFwcGVkLWtleQ",
    }])
}

fn gcp_entry(resource_id: &str) -> Value {
    json!([{
        "resource_id": resource_id,
        "created_at": "2024-01-01T00:00:00Z",
        "enc": "c29tZS13cmFwcGVkLWtleQ==",
    }])
}

/// Runs `decrypt` and `exec-env` on `file` with `user`'s environment and
/// checks that both fail to get the data key with a stderr line holding
/// every one of `expected`.
fn assert_refused(sb: &Sandbox, file: &Path, user: &dyn Fn(Command) -> Command, expected: &[&str]) {
    let decrypt = run(user(sb.enseal()).arg("decrypt").arg(file));
    let exec_env = run(user(sb.enseal())
        .arg("exec-env")
        .arg(file)
        .arg("echo should-not-run"));
    for out in [decrypt, exec_env] {
        assert_eq!(out.code, Some(128), "{}: {}", out.cmdline, out.err());
        let err = out.err();
        assert!(
            err.lines()
                .any(|line| expected.iter().all(|part| line.contains(part))),
            "no line of stderr holds all of {expected:?}:\n{err}"
        );
        assert!(!out.out().contains("should-not-run"));
        assert!(!err.contains("secret value"));
    }
}

/// The core case: a file whose `azure_kv` entry names a host the user never
/// approved. With valid Azure credentials in the environment, `decrypt` and
/// `exec-env` refuse in one line naming the host and the opt-in variable,
/// before any token is requested: neither the "vault" nor the token
/// endpoint receives a single connection.
#[test]
fn azure_vault_named_by_a_file_gets_nothing_unless_listed() {
    let sb = Sandbox::new();
    let token = azure_token_endpoint();
    let vault = Recorder::start(404, "{}");
    let file = crafted_file(
        &sb,
        "crafted.json",
        "azure_kv",
        azure_entry(&vault.url(), "sops-key", "0123abcd"),
    );
    let user = |cmd: Command| azure_user(cmd, &token);
    assert_refused(
        &sb,
        &file,
        &user,
        &[
            &format!("refusing to send an Azure token to \"{}\"", vault.authority),
            ALLOWED_VAR,
        ],
    );
    assert_eq!(
        vault.seen(),
        Vec::<String>::new(),
        "the vault was contacted"
    );
    assert_eq!(token.seen(), Vec::<String>::new(), "a token was requested");

    // Control: once the user lists the host, the token goes there (so the
    // empty records above mean something).
    let listed = |cmd: Command| {
        let mut cmd = azure_user(cmd, &token);
        cmd.env(ALLOWED_VAR, &vault.authority);
        cmd
    };
    let out = run(listed(sb.enseal()).arg("decrypt").arg(&file));
    assert_eq!(out.code, Some(128), "{}", out.err());
    assert_eq!(token.seen().len(), 1, "{:?}", token.seen());
    let requests = vault.seen();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(requests[0].starts_with("POST /keys/sops-key/0123abcd/decrypt?api-version=7.4 "));
    assert!(
        requests[0].contains("Bearer az-user-token"),
        "{}",
        requests[0]
    );
}

/// URL tricks in `vault_url` (userinfo that makes a Key Vault name the user
/// part, a path, a query) are refused as invalid URLs, even when the real
/// host is listed, and again nothing is sent anywhere.
#[test]
fn azure_vault_url_tricks_are_refused() {
    let sb = Sandbox::new();
    let token = azure_token_endpoint();
    let vault = Recorder::start(404, "{}");
    let listed = |cmd: Command| {
        let mut cmd = azure_user(cmd, &token);
        cmd.env(ALLOWED_VAR, &vault.authority);
        cmd
    };
    for (n, url) in [
        format!("https://myvault.vault.azure.net@{}", vault.authority),
        format!("http://myvault.vault.azure.net@{}", vault.authority),
        format!("{}/tenant-1/oauth2/v2.0/token#", vault.url()),
        format!("{}/evil", vault.url()),
        format!("{}?x=", vault.url()),
    ]
    .iter()
    .enumerate()
    {
        let file = crafted_file(
            &sb,
            &format!("trick{n}.json"),
            "azure_kv",
            azure_entry(url, "k", "v1"),
        );
        assert_refused(
            &sb,
            &file,
            &listed,
            &[&format!("invalid Azure Key Vault URL {url:?}")],
        );
    }
    // Key names and versions that would reshape the path.
    for (n, (name, version)) in [("..", "v1"), ("k", "../../other"), ("k?x=", "v1")]
        .into_iter()
        .enumerate()
    {
        let file = crafted_file(
            &sb,
            &format!("name{n}.json"),
            "azure_kv",
            azure_entry(&vault.url(), name, version),
        );
        assert_refused(&sb, &file, &listed, &["invalid Azure Key Vault key"]);
    }
    assert_eq!(
        vault.seen(),
        Vec::<String>::new(),
        "the vault was contacted"
    );
    assert_eq!(token.seen(), Vec::<String>::new(), "a token was requested");
}

/// A `gcp_kms` resource id crafted to escape its path (dot segments, an
/// operation suffix, a query) is refused before the token exchange; the
/// user's KMS endpoint and token endpoint receive nothing. A valid id at
/// the same endpoint does reach it (control).
#[test]
fn gcp_resource_id_cannot_escape_the_key_path() {
    let sb = Sandbox::new();
    let token = Recorder::start(
        200,
        r#"{"access_token":"gcp-user-token","expires_in":3599}"#,
    );
    let kms = Recorder::start(404, "{}");
    let user = |cmd: Command| gcp_user(cmd, &token, &kms);
    for (n, id) in [
        "projects/../locations/l/keyRings/..%2F/cryptoKeys/k",
        "projects/p/locations/l/keyRings/r/cryptoKeys/k:encrypt",
        "projects/p/locations/l/keyRings/r/cryptoKeys/k?alt=json",
        "projects/p/locations/l/keyRings/../cryptoKeys/..",
        "projects/p/locations/l/keyRings/r/cryptoKeys/k@evil",
    ]
    .into_iter()
    .enumerate()
    {
        let file = crafted_file(&sb, &format!("gcp{n}.json"), "gcp_kms", gcp_entry(id));
        assert_refused(
            &sb,
            &file,
            &user,
            &[&format!("no valid resource ID found in {id:?}")],
        );
    }
    assert_eq!(
        kms.seen(),
        Vec::<String>::new(),
        "the KMS endpoint was contacted"
    );
    assert_eq!(token.seen(), Vec::<String>::new(), "a token was requested");

    let id = "projects/p1/locations/global/keyRings/ring/cryptoKeys/key";
    let file = crafted_file(&sb, "valid.json", "gcp_kms", gcp_entry(id));
    let out = run(user(sb.enseal()).arg("decrypt").arg(&file));
    assert_eq!(out.code, Some(128), "{}", out.err());
    let requests = kms.seen();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(requests[0].starts_with(&format!("POST /v1/{id}:decrypt ")));
    assert!(requests[0].contains("Bearer gcp-user-token"));
}

/// The same rule holds when encrypting: a key named on the command line (or
/// in `.sops.yaml`) outside the Key Vault domains needs the opt-in too, and
/// without it neither the vault nor the token endpoint is contacted.
#[test]
fn azure_encrypt_to_an_unlisted_vault_sends_nothing() {
    let sb = Sandbox::new();
    let token = azure_token_endpoint();
    let vault = Recorder::start(404, "{}");
    let plain = sb.write("plain.json", PLAIN_JSON);
    let key_url = format!("https://{}/keys/sops-key/0123abcd", vault.authority);
    let out = run(azure_user(sb.enseal(), &token)
        .args(["encrypt", "--azure-kv", &key_url])
        .arg(&plain));
    assert_ne!(out.code, Some(0));
    let err = out.err();
    assert!(
        err.lines().any(|line| line.contains(&format!(
            "refusing to send an Azure token to \"{}\"",
            vault.authority
        )) && line.contains(ALLOWED_VAR)),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    assert_eq!(
        vault.seen(),
        Vec::<String>::new(),
        "the vault was contacted"
    );
    assert_eq!(token.seen(), Vec::<String>::new(), "a token was requested");
}

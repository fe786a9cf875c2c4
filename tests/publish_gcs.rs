//! `enseal publish` to Google Cloud Storage destinations, against a small
//! loopback lookalike of the GCS JSON API upload (`ENSEAL_GCS_ENDPOINT`, or
//! `STORAGE_EMULATOR_HOST`): the object is the encrypted file and decrypts
//! to the original; a `recreation_rule` re-encrypts it for its own keys;
//! `--recursive` names objects by relative path below the prefix; the token
//! is sent, never to plain http off loopback; invalid buckets are refused
//! before any request; service errors are one line with the status. When
//! the reference sops is present, it uploads to the same lookalike (as an
//! emulator) and both objects decrypt to the same data.
#![cfg(feature = "gcp")]

mod common;

use common::http_mock::{read_request, Request};

use common::*;
use std::io::Write;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

const PLAIN: &str = "foo: 2\nbar: baz\nnested:\n    x: true\n";
const TOKEN: &str = "ya29.test-token";

/// What a Cloud Storage upload carries.
trait Upload {
    fn media(&self) -> Vec<u8>;
}

impl Upload for Request {
    /// The uploaded file: the body of a media upload, or the media part of
    /// a multipart one (what the Go client sends).
    fn media(&self) -> Vec<u8> {
        let content_type = self.header("content-type").unwrap_or("");
        let Some(boundary) = content_type.split("boundary=").nth(1) else {
            return self.body.clone();
        };
        let delimiter = format!("--{}", boundary.trim_matches('"'));
        let text = String::from_utf8(self.body.clone()).expect("multipart body is text");
        let media_part = text
            .split(&delimiter)
            .nth(2)
            .expect("a metadata part and a media part");
        let (_, content) = media_part.split_once("\r\n\r\n").expect("part headers");
        content
            .strip_suffix("\r\n")
            .unwrap_or(content)
            .as_bytes()
            .to_vec()
    }
}

type Handler = dyn Fn(&Request) -> (u16, String) + Send + Sync;

/// The lookalike: records every request, answers with `handler`.
struct Gcs {
    url: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Gcs {
    /// Accepts uploads that carry `Bearer TOKEN`, else answers 401.
    fn start() -> Gcs {
        Gcs::with(|req| {
            match req.header("authorization") {
            Some(auth) if auth == format!("Bearer {TOKEN}") => ok_answer(req),
            _ => (
                401,
                r#"{"error":{"code":401,"message":"Anonymous caller does not have storage.objects.create access."}}"#.into(),
            ),
        }
        })
    }

    fn with(handler: impl Fn(&Request) -> (u16, String) + Send + Sync + 'static) -> Gcs {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let handler: Arc<Handler> = Arc::new(handler);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (seen, handler) = (seen.clone(), handler.clone());
                std::thread::spawn(move || {
                    let Some(request) = read_request(&mut stream) else {
                        return;
                    };
                    seen.lock().unwrap().push(request.clone());
                    let (status, body) = handler(&request);
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                });
            }
        });
        Gcs { url, requests }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// The uploads received: (object name, content).
    fn objects(&self) -> Vec<(String, Vec<u8>)> {
        self.requests()
            .iter()
            .filter(|r| r.method == "POST" && r.target.starts_with("/upload/storage/v1/b/"))
            .map(|r| (r.query("name").expect("name parameter"), r.media()))
            .collect()
    }
}

/// The object resource GCS answers an upload with.
fn ok_answer(req: &Request) -> (u16, String) {
    let bucket = req.target.split('/').nth(5).unwrap_or("");
    let name = req.query("name").unwrap_or_default();
    let body = serde_json::json!({
        "kind": "storage#object", "bucket": bucket, "name": name,
        "size": req.media().len().to_string(), "generation": "1",
    });
    (200, body.to_string())
}

/// A sandbox with an age creation rule (key 1) and `destination_rules`.
fn sandbox(destination_rules: &str) -> Sandbox {
    let sb = Sandbox::new();
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - age: {}\ndestination_rules:\n{destination_rules}",
            recipient(1)
        ),
    );
    sb
}

/// Writes `PLAIN` as `name` and encrypts it in place.
fn encrypted(sb: &Sandbox, name: &str) -> Vec<u8> {
    let path = sb.write(name, PLAIN);
    run(sb.enseal().arg("encrypt").arg("-i").arg(&path)).ok();
    std::fs::read(path).unwrap()
}

/// `publish ARGS` with age key 1, the token and the lookalike as endpoint.
fn publish(sb: &Sandbox, gcs: &Gcs, args: &[&str]) -> Out {
    run(sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .env("GOOGLE_OAUTH_ACCESS_TOKEN", TOKEN)
        .env("ENSEAL_GCS_ENDPOINT", &gcs.url)
        .arg("publish")
        .args(args))
}

/// `content` saved as `name` and decrypted with age key `key`.
fn decrypt_with(sb: &Sandbox, name: &str, content: &[u8], key: u8) -> Out {
    let path = sb.write(name, content);
    run(sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", key_file(key))
        .arg("decrypt")
        .arg(&path))
}

#[test]
fn the_object_is_the_encrypted_file_and_decrypts_to_the_original() {
    let gcs = Gcs::start();
    let sb = sandbox("  - gcs_bucket: my-bucket\n    gcs_prefix: team/prod/\n");
    let file = encrypted(&sb, "db.yaml");
    let out = publish(&sb, &gcs, &["--yes", "db.yaml"]).ok();
    assert_eq!(out.out(), "", "nothing printed for a file sent as it is");

    let requests = gcs.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let req = &requests[0];
    assert_eq!(req.method, "POST");
    assert_eq!(
        req.target,
        "/upload/storage/v1/b/my-bucket/o?uploadType=media&name=team%2Fprod%2Fdb.yaml"
    );
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    // The file exactly as it is on disk: encrypted, never the plaintext.
    assert_eq!(req.body, file);
    assert!(!String::from_utf8_lossy(&req.body).contains("baz"));
    let decrypted = decrypt_with(&sb, "object.yaml", &req.body, 1).ok();
    assert_eq!(decrypted.out(), PLAIN);
}

#[test]
fn a_recreation_rule_re_encrypts_the_object_for_its_keys() {
    let gcs = Gcs::start();
    let sb = sandbox(&format!(
        "  - gcs_bucket: my-bucket\n    omit_extensions: true\n    recreation_rule:\n      age: {}\n      encrypted_regex: ^(foo|nested)$\n",
        recipient(2)
    ));
    let file = encrypted(&sb, "db.yaml");
    let out = publish(&sb, &gcs, &["--yes", "db.yaml"]).ok();
    assert!(
        out.out().contains(&format!(
            "The following changes will be made to the file's key groups:\nGroup 1\n+++ {}\n--- {}\n",
            recipient(2),
            recipient(1)
        )),
        "{}",
        out.out()
    );

    let objects = gcs.objects();
    assert_eq!(objects.len(), 1);
    let (name, content) = &objects[0];
    assert_eq!(name, "db");
    assert_ne!(content, &file);
    let text = String::from_utf8(content.clone()).unwrap();
    assert!(text.contains(&recipient(2)), "{text}");
    assert!(!text.contains(&recipient(1)), "{text}");
    // The recreation rule's encryption rule applies: only foo and nested.
    assert!(text.contains("bar: baz"), "{text}");
    assert!(
        !text.contains("foo: 2") && !text.contains("x: true"),
        "{text}"
    );
    assert_eq!(decrypt_with(&sb, "new.yaml", content, 2).ok().out(), PLAIN);
    let old_key = decrypt_with(&sb, "new.yaml", content, 1);
    assert_eq!(old_key.code, Some(128), "{}", old_key.err());
}

#[test]
fn recursive_names_objects_by_their_path_below_the_directory() {
    let gcs = Gcs::start();
    let sb = sandbox("  - path_regex: ^tree/\n    gcs_bucket: my-bucket\n    gcs_prefix: p/\n");
    let a = encrypted(&sb, "tree/a.yaml");
    let b = encrypted(&sb, "tree/sub/b.yaml");
    publish(&sb, &gcs, &["--yes", "--recursive", "./tree/"]).ok();
    assert_eq!(
        gcs.objects(),
        vec![("p/a.yaml".to_string(), a), ("p/sub/b.yaml".to_string(), b)]
    );
}

#[test]
fn invalid_buckets_are_refused_before_any_request() {
    let gcs = Gcs::start();
    for bucket in ["'evil.example/o?name='", "My_Bucket", "'a b'", "x"] {
        let sb = sandbox(&format!("  - gcs_bucket: {bucket}\n"));
        encrypted(&sb, "db.yaml");
        let out = publish(&sb, &gcs, &["--yes", "db.yaml"]);
        assert_eq!(out.code, Some(1), "{}", out.err());
        assert!(out.err().contains("db.yaml: gcs_bucket "), "{}", out.err());
        assert!(out.err().contains("hint: fix gcs_bucket"), "{}", out.err());
    }
    assert!(gcs.requests().is_empty());
}

#[test]
fn the_token_never_goes_to_plain_http_off_loopback() {
    // Credentials whose exchange would reach the lookalike: nothing may.
    let gcs = Gcs::with(|_| (200, r#"{"access_token":"t","expires_in":3600}"#.into()));
    let sb = sandbox("  - gcs_bucket: my-bucket\n");
    encrypted(&sb, "db.yaml");
    let creds = sb.write(
        "creds.json",
        serde_json::json!({
            "type": "authorized_user", "client_id": "c", "client_secret": "s",
            "refresh_token": "r", "token_uri": format!("{}/token", gcs.url),
        })
        .to_string(),
    );
    let out = run(sb
        .enseal()
        .env("GOOGLE_APPLICATION_CREDENTIALS", &creds)
        .env("ENSEAL_GCS_ENDPOINT", "http://storage.example.com")
        .args(["publish", "--yes", "db.yaml"]));
    assert_eq!(out.code, Some(1), "{}", out.err());
    assert!(
        out.err()
            .contains("ENSEAL_GCS_ENDPOINT is refused: plain http"),
        "{}",
        out.err()
    );
    assert!(
        out.err().contains("hint: set the variable"),
        "{}",
        out.err()
    );
    assert!(gcs.requests().is_empty());
}

#[test]
fn the_emulator_gets_the_object_without_credentials() {
    let gcs = Gcs::with(ok_answer);
    let sb = sandbox("  - gcs_bucket: my-bucket\n");
    let file = encrypted(&sb, "db.yaml");
    run(sb
        .enseal()
        .env("GOOGLE_OAUTH_ACCESS_TOKEN", TOKEN)
        .env(
            "STORAGE_EMULATOR_HOST",
            gcs.url.trim_start_matches("http://"),
        )
        .args(["publish", "--yes", "db.yaml"]))
    .ok();
    let requests = gcs.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("authorization"), None);
    assert_eq!(requests[0].body, file);
}

#[test]
fn service_errors_are_one_line_with_the_status() {
    let gcs = Gcs::with(|_| {
        (
            403,
            r#"{"error":{"code":403,"message":"sa@p.iam.gserviceaccount.com does not have\nstorage.objects.create access.","errors":[{"reason":"forbidden"}]}}"#.into(),
        )
    });
    let sb = sandbox("  - gcs_bucket: my-bucket\n");
    encrypted(&sb, "db.yaml");
    let out = publish(&sb, &gcs, &["--yes", "db.yaml"]);
    assert_eq!(out.code, Some(1), "{}", out.err());
    let err = out.err();
    assert!(
        err.lines().any(|l| l.contains(
            "db.yaml: uploading to gs://my-bucket/db.yaml failed: HTTP 403: sa@p.iam.gserviceaccount.com does not have storage.objects.create access."
        )),
        "{err}"
    );
    assert!(err.contains("roles/storage.objectUser"), "{err}");
    assert!(!err.contains(TOKEN), "{err}");

    let down = Gcs::with(|_| {
        (
            503,
            "<html>\n<body>Service Unavailable</body>\n</html>".into(),
        )
    });
    let out = publish(&sb, &down, &["--yes", "db.yaml"]);
    assert_eq!(out.code, Some(1), "{}", out.err());
    assert!(
        out.err().lines().any(
            |l| l.contains("failed: HTTP 503: <html> <body>Service Unavailable</body> </html>")
        ),
        "{}",
        out.err()
    );
}

#[test]
fn without_yes_and_without_a_terminal_nothing_is_uploaded() {
    let gcs = Gcs::start();
    let sb = sandbox("  - gcs_bucket: my-bucket\n");
    encrypted(&sb, "db.yaml");
    let out = publish(&sb, &gcs, &["db.yaml"]);
    assert_eq!(out.code, Some(1), "{}", out.err());
    assert!(out.err().contains("hint: pass --yes"), "{}", out.err());
    assert!(gcs.requests().is_empty());
}

#[test]
fn the_reference_uploads_what_decrypts_to_the_same_data() {
    let Some(sops) = require_sops() else { return };
    let gcs = Gcs::with(ok_answer);
    let sb = sandbox(&format!(
        "  - gcs_bucket: my-bucket\n    recreation_rule:\n      age: {}\n",
        recipient(2)
    ));
    encrypted(&sb, "db.yaml");
    let host = gcs.url.trim_start_matches("http://");
    let sops_out = run(sb
        .sops(&sops)
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .env("STORAGE_EMULATOR_HOST", host)
        .args(["publish", "--yes", "db.yaml"]))
    .ok();
    assert!(sops_out.out().contains("+++ "), "{}", sops_out.out());
    run(sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .env("STORAGE_EMULATOR_HOST", host)
        .args(["publish", "--yes", "db.yaml"]))
    .ok();
    let objects = gcs.objects();
    assert_eq!(objects.len(), 2, "{:?}", gcs.requests());
    assert_eq!(objects[0].0, "db.yaml");
    assert_eq!(objects[1].0, "db.yaml");
    for (i, (_, content)) in objects.iter().enumerate() {
        let name = format!("object-{i}.yaml");
        assert_eq!(decrypt_with(&sb, &name, content, 2).ok().out(), PLAIN);
    }
}

#[test]
fn a_file_that_is_not_encrypted_is_not_uploaded() {
    let gcs = Gcs::start();
    let sb = sandbox("  - gcs_bucket: my-bucket\n");
    sb.write("plain.yaml", PLAIN);
    let out = publish(&sb, &gcs, &["--yes", "plain.yaml"]);
    assert_ne!(out.code, Some(0), "{}", out.err());
    assert!(
        out.err().contains("sops metadata not found"),
        "{}",
        out.err()
    );
    assert!(gcs.requests().is_empty());
}

#[test]
fn without_recreation_keys_both_upload_the_file_as_it_is() {
    let Some(sops) = require_sops() else { return };
    let gcs = Gcs::with(ok_answer);
    let sb = sandbox("  - gcs_bucket: my-bucket\n    gcs_prefix: p/\n");
    let file = encrypted(&sb, "db.yaml");
    let host = gcs.url.trim_start_matches("http://");
    for mut cmd in [sb.sops(&sops), sb.enseal()] {
        run(cmd
            .env("STORAGE_EMULATOR_HOST", host)
            .args(["publish", "--yes", "db.yaml"]))
        .ok();
    }
    let object = ("p/db.yaml".to_string(), file);
    assert_eq!(gcs.objects(), vec![object.clone(), object]);
}

#[test]
fn nothing_is_uploaded_when_the_copy_cannot_be_made() {
    let gcs = Gcs::start();
    // A recreation rule with an unusable recipient.
    let sb = sandbox("  - gcs_bucket: my-bucket\n    recreation_rule:\n      age: age1notakey\n");
    encrypted(&sb, "db.yaml");
    let out = publish(&sb, &gcs, &["--yes", "db.yaml"]);
    assert_ne!(out.code, Some(0), "{}", out.err());
    assert!(
        out.err().contains("destination_rules[0].recreation_rule"),
        "{}",
        out.err()
    );
    // A usable one, but the file's key is missing: it cannot be decrypted.
    let sb = sandbox(&format!(
        "  - gcs_bucket: my-bucket\n    recreation_rule:\n      age: {}\n",
        recipient(2)
    ));
    encrypted(&sb, "db.yaml");
    let out = run(sb
        .enseal()
        .env("GOOGLE_OAUTH_ACCESS_TOKEN", TOKEN)
        .env("ENSEAL_GCS_ENDPOINT", &gcs.url)
        .args(["publish", "--yes", "db.yaml"]));
    assert_eq!(out.code, Some(128), "{}", out.err());
    assert!(gcs.requests().is_empty());
}

#[test]
fn a_recreation_rule_with_key_groups_splits_the_data_key() {
    let gcs = Gcs::start();
    let sb = sandbox(&format!(
        "  - gcs_bucket: my-bucket\n    recreation_rule:\n      shamir_threshold: 2\n      key_groups:\n        - age: [{}]\n        - age: [{}]\n",
        recipient(1),
        recipient(2)
    ));
    encrypted(&sb, "db.yaml");
    publish(&sb, &gcs, &["--yes", "db.yaml"]).ok();
    let objects = gcs.objects();
    assert_eq!(objects.len(), 1);
    let text = String::from_utf8(objects[0].1.clone()).unwrap();
    assert!(text.contains("shamir_threshold: 2"), "{text}");
    // Both keys are needed now.
    let one = decrypt_with(&sb, "split.yaml", text.as_bytes(), 1);
    assert_eq!(one.code, Some(128), "{}", one.err());
    let both = sb.write(
        "both.txt",
        format!("{}\n{}\n", secret_key(1), secret_key(2)),
    );
    let out = run(sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", &both)
        .args(["decrypt", "split.yaml"]))
    .ok();
    assert_eq!(out.out(), PLAIN);
}

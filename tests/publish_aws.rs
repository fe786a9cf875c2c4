//! `enseal publish` to S3 and AWS Secrets Manager against the local moto
//! server: the S3 object is the encrypted file (re-encrypted for the
//! `recreation_rule` keys when the rule has some) and decrypts to the
//! original; Secrets Manager secrets are created, get a new version on
//! change and none when unchanged, carry the source tag, and hold binary
//! files as they are; `--recursive` names; names and buckets that could
//! redirect a request are refused before any request; the reference sops
//! writes the same kind of S3 object.
//!
//! Needs `ENSEAL_TEST_AWS_ENDPOINT` (`eval "$(scripts/test-servers env)"`).
//! Missing: a failure in CI, a printed skip locally. Every test uses its own
//! bucket or secret-name prefix. Children get dummy credentials, no IMDS,
//! no shared config files and the endpoint on 127.0.0.1.

mod common;

use base64::Engine as _;
use common::*;
use serde_json::{json, Value};
use std::process::Command;

const PLAIN: &str =
    "foo: 2\nbar: not-in-ciphertext\n# a comment\nnested:\n    x: true\n    list:\n        - 1\n        - a\n";

fn expected() -> Value {
    json!({"foo": 2, "bar": "not-in-ciphertext", "nested": {"x": true, "list": [1, "a"]}})
}

/// A name no other test (or run) uses: lowercase letters, digits and `-`.
fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "enseal-{tag}-{}-{}",
        std::process::id(),
        nanos % 1_000_000_000_000
    )
}

/// The moto server under test.
struct Moto {
    endpoint: String,
}

impl Moto {
    /// The server, or `None` (after [`unavailable`]) without one.
    fn get() -> Option<Moto> {
        match std::env::var("ENSEAL_TEST_AWS_ENDPOINT") {
            Ok(endpoint) if !endpoint.is_empty() => Some(Moto { endpoint }),
            _ => {
                unavailable(
                    "ENSEAL_TEST_AWS_ENDPOINT not set: the local moto is not set up (run `eval \"$(scripts/test-servers env)\"`)",
                );
                None
            }
        }
    }

    /// The AWS settings of a child: dummy credentials, `endpoint`.
    fn apply_endpoint<'c>(cmd: &'c mut Command, endpoint: &str) -> &'c mut Command {
        cmd.env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    }

    fn apply<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        Moto::apply_endpoint(cmd, &self.endpoint)
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(30)))
            .build()
            .into()
    }

    /// A fake SigV4 header: moto reads the service and region from it and
    /// does not check the signature.
    fn auth(service: &str) -> String {
        format!("AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0")
    }

    /// Creates a bucket with a unique name, returns it.
    fn bucket(&self) -> String {
        let bucket = unique("pub");
        let url = format!("{}/{bucket}", self.endpoint);
        let response = Moto::agent()
            .put(&url)
            .header("Authorization", Moto::auth("s3"))
            .send_empty()
            .unwrap_or_else(|e| panic!("PUT {url}: {e}"));
        assert_eq!(response.status().as_u16(), 200, "creating bucket {bucket}");
        bucket
    }

    /// The object `key` of `bucket`, `None` on 404.
    fn object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let url = format!("{}/{bucket}/{key}", self.endpoint);
        let mut response = Moto::agent()
            .get(&url)
            .header("Authorization", Moto::auth("s3"))
            .call()
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = response.status().as_u16();
        if status == 404 {
            return None;
        }
        assert_eq!(status, 200, "GET {url}");
        Some(response.body_mut().read_to_vec().unwrap())
    }

    /// A Secrets Manager API call; the status and the JSON answer.
    fn secrets(&self, action: &str, body: Value) -> (u16, Value) {
        let mut response = Moto::agent()
            .post(format!("{}/", self.endpoint))
            .header("Authorization", Moto::auth("secretsmanager"))
            .header("Content-Type", "application/x-amz-json-1.1")
            .header("X-Amz-Target", format!("secretsmanager.{action}"))
            .send(body.to_string())
            .unwrap_or_else(|e| panic!("{action}: {e}"));
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `GetSecretValue` of `name`, `None` when it does not exist.
    fn secret(&self, name: &str) -> Option<Value> {
        let (status, body) = self.secrets("GetSecretValue", json!({"SecretId": name}));
        if status != 200
            && body["__type"]
                .as_str()
                .unwrap_or("")
                .contains("ResourceNotFound")
        {
            return None;
        }
        assert_eq!(status, 200, "GetSecretValue {name}: {body}");
        Some(body)
    }

    /// The version ids of `name` (the versions with a staging label).
    fn versions(&self, name: &str) -> Vec<String> {
        let (status, body) = self.secrets("ListSecretVersionIds", json!({"SecretId": name}));
        assert_eq!(status, 200, "ListSecretVersionIds {name}: {body}");
        body["Versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["VersionId"].as_str().unwrap().to_string())
            .collect()
    }

    /// The tags of `name`.
    fn tags(&self, name: &str) -> Vec<(String, String)> {
        let (status, body) = self.secrets("DescribeSecret", json!({"SecretId": name}));
        assert_eq!(status, 200, "DescribeSecret {name}: {body}");
        body["Tags"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|t| {
                (
                    t["Key"].as_str().unwrap().to_string(),
                    t["Value"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
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

/// Writes `plain` as `name` in the sandbox and encrypts it in place.
fn encrypted(sb: &Sandbox, name: &str, plain: &[u8]) -> Vec<u8> {
    let path = sb.write(name, plain);
    run(sb.enseal().arg("encrypt").arg("-i").arg(&path)).ok();
    std::fs::read(&path).unwrap()
}

/// `publish ARGS` with age key 1 and the moto settings.
fn publish(sb: &Sandbox, moto: &Moto, args: &[&str]) -> Out {
    let mut cmd = sb.enseal();
    moto.apply(&mut cmd)
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .arg("publish");
    run(cmd.args(args))
}

/// `enseal decrypt` of `bytes` (a YAML file) with age key `key`.
fn decrypt(sb: &Sandbox, bytes: &[u8], key: u8) -> Out {
    let path = sb.write("downloaded.yaml", bytes);
    run(sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", key_file(key))
        .arg("decrypt")
        .arg(&path))
}

// --- S3 -----------------------------------------------------------------------

#[test]
fn s3_object_is_the_encrypted_file_and_decrypts_to_the_original() {
    let Some(moto) = Moto::get() else { return };
    let bucket = moto.bucket();
    let sb = sandbox(&format!("  - s3_bucket: {bucket}\n    s3_prefix: app/\n"));
    let file = encrypted(&sb, "db.yaml", PLAIN.as_bytes());
    let out = publish(&sb, &moto, &["--yes", "db.yaml"]).ok();
    assert!(out.out().is_empty(), "{}", out.out());
    let object = moto
        .object(&bucket, "app/db.yaml")
        .expect("the object exists");
    assert_eq!(object, file, "the object is the file as it is");
    assert!(!String::from_utf8_lossy(&object).contains("not-in-ciphertext"));
    assert_eq!(decrypt(&sb, &object, 1).ok().out(), PLAIN);
}

#[test]
fn s3_with_a_recreation_rule_gets_the_file_for_the_new_recipients() {
    let Some(moto) = Moto::get() else { return };
    let bucket = moto.bucket();
    let sb = sandbox(&format!(
        "  - s3_bucket: {bucket}\n    omit_extensions: true\n    recreation_rule:\n      age: {}\n",
        recipient(2)
    ));
    let file = encrypted(&sb, "db.yaml", PLAIN.as_bytes());
    let out = publish(&sb, &moto, &["--yes", "db.yaml"]).ok();
    assert!(
        out.out()
            .contains("The following changes will be made to the file's key groups:"),
        "{}",
        out.out()
    );
    assert!(out.out().contains(&format!("+++ {}", recipient(2))));
    let object = moto.object(&bucket, "db").expect("the object exists");
    let text = String::from_utf8_lossy(&object).into_owned();
    assert!(text.contains(&recipient(2)), "{text}");
    assert!(!text.contains(&recipient(1)), "{text}");
    assert!(!text.contains("not-in-ciphertext"), "{text}");
    assert_eq!(decrypt(&sb, &object, 2).ok().out(), PLAIN);
    let with_old_key = decrypt(&sb, &object, 1);
    assert_eq!(with_old_key.code, Some(128), "{}", with_old_key.err());
    // The local file is left as it was.
    assert_eq!(std::fs::read(sb.path("db.yaml")).unwrap(), file);
}

#[test]
fn recursive_names_objects_and_secrets_by_their_path_below_the_directory() {
    let Some(moto) = Moto::get() else { return };
    let bucket = moto.bucket();
    let prefix = format!("{}/", unique("rec"));
    let sb = sandbox(&format!(
        "  - path_regex: ^tree/\n    s3_bucket: {bucket}\n    s3_prefix: app/\n  - path_regex: ^smtree/\n    secretsmanager_prefix: {prefix}\n    omit_extensions: true\n"
    ));
    for name in [
        "tree/a.yaml",
        "tree/sub/b.yaml",
        "smtree/a.yaml",
        "smtree/sub/b.yaml",
    ] {
        encrypted(&sb, name, PLAIN.as_bytes());
    }
    publish(&sb, &moto, &["--yes", "--recursive", "./tree/"]).ok();
    assert!(moto.object(&bucket, "app/a.yaml").is_some());
    assert!(moto.object(&bucket, "app/sub/b.yaml").is_some());
    assert!(moto.object(&bucket, "app/tree/a.yaml").is_none());
    publish(&sb, &moto, &["--yes", "--recursive", "smtree"]).ok();
    for name in ["a", "sub/b"] {
        let secret = moto.secret(&format!("{prefix}{name}")).expect(name);
        let value: Value = serde_json::from_str(secret["SecretString"].as_str().unwrap()).unwrap();
        assert_eq!(value, expected());
    }
}

#[test]
fn a_bad_bucket_or_secret_name_is_refused_before_any_request() {
    // An endpoint that records connections: none may arrive.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let sb = sandbox(
        "  - path_regex: ^s3\n    s3_bucket: \"evil.example:80/x\"\n  - path_regex: ^sm\n    secretsmanager_prefix: app/\n  - path_regex: ^region\n    secretsmanager_prefix: app/\n    aws_region: us-east-1.evil.example\n",
    );
    for (file, message) in [
        ("s3.yaml", "refusing s3_bucket 'evil.example:80/x'"),
        (
            "sm file.yaml",
            "cannot publish to AWS Secrets Manager secret 'app/sm file.yaml'",
        ),
        (
            "region.yaml",
            "refusing aws_region 'us-east-1.evil.example'",
        ),
    ] {
        encrypted(&sb, file, PLAIN.as_bytes());
        // No age key: the refusal comes before the file is decrypted.
        let mut cmd = sb.enseal();
        Moto::apply_endpoint(&mut cmd, &endpoint);
        let out = run(cmd.args(["publish", "--yes", file]));
        assert_eq!(out.code, Some(1), "{file}: {}", out.err());
        assert!(out.err().contains(message), "{file}: {}", out.err());
        assert!(out.err().starts_with(file), "{file}: {}", out.err());
        assert!(
            out.err().contains("hint: fix destination_rules["),
            "{file}: {}",
            out.err()
        );
    }
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("a request reached the endpoint: {other:?}"),
    }
}

#[test]
fn an_unreachable_endpoint_fails_with_one_line_naming_the_file() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let sb = sandbox("  - s3_bucket: some-bucket\n");
    encrypted(&sb, "db.yaml", PLAIN.as_bytes());
    let mut cmd = sb.enseal();
    Moto::apply_endpoint(&mut cmd, &format!("http://127.0.0.1:{port}"));
    let started = std::time::Instant::now();
    let out = run(cmd
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .args(["publish", "--yes", "db.yaml"]));
    assert_eq!(out.code, Some(1), "{}", out.err());
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let err = out.err();
    assert!(
        err.starts_with("db.yaml: uploading s3://some-bucket/db.yaml failed: "),
        "{err}"
    );
    let lines: Vec<&str> = err.trim_end().lines().collect();
    assert_eq!(lines.len(), 2, "one error line and one hint: {err}");
    assert!(
        lines[1].contains("hint: check the AWS credentials"),
        "{err}"
    );
}

// --- Secrets Manager -----------------------------------------------------------

#[test]
fn secrets_manager_creates_then_adds_versions_only_on_change() {
    let Some(moto) = Moto::get() else { return };
    let prefix = format!("{}/", unique("sm"));
    let sb = sandbox(&format!(
        "  - secretsmanager_prefix: {prefix}\n    aws_region: us-east-1\n"
    ));
    let name = format!("{prefix}db.yaml");
    encrypted(&sb, "db.yaml", PLAIN.as_bytes());
    assert!(moto.secret(&name).is_none());
    publish(&sb, &moto, &["--yes", "db.yaml"]).ok();
    let first = moto.secret(&name).expect("created");
    let value: Value = serde_json::from_str(first["SecretString"].as_str().unwrap()).unwrap();
    assert_eq!(value, expected());
    assert_eq!(moto.versions(&name).len(), 1);
    assert!(
        moto.tags(&name)
            .contains(&("enseal:source".to_string(), "db.yaml".to_string())),
        "{:?}",
        moto.tags(&name)
    );

    // Unchanged: no new version.
    let again = publish(&sb, &moto, &["--yes", "db.yaml"]).ok();
    assert!(
        again.err().contains(&format!(
            "Secret {name} in AWS Secrets Manager is already up-to-date."
        )),
        "{}",
        again.err()
    );
    assert_eq!(moto.versions(&name).len(), 1);

    // Changed: a new version holding the new data.
    encrypted(&sb, "db.yaml", b"foo: 3\n");
    publish(&sb, &moto, &["--yes", "db.yaml"]).ok();
    let second = moto.secret(&name).unwrap();
    assert_ne!(second["VersionId"], first["VersionId"]);
    let value: Value = serde_json::from_str(second["SecretString"].as_str().unwrap()).unwrap();
    assert_eq!(value, json!({"foo": 3}));
    assert_eq!(moto.versions(&name).len(), 2);
    publish(&sb, &moto, &["--yes", "db.yaml"]).ok();
    assert_eq!(
        moto.secret(&name).unwrap()["VersionId"],
        second["VersionId"]
    );
}

#[test]
fn secrets_manager_holds_binary_files_as_they_are() {
    let Some(moto) = Moto::get() else { return };
    let prefix = format!("{}/", unique("bin"));
    let sb = sandbox(&format!("  - secretsmanager_prefix: {prefix}\n"));
    let text = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    encrypted(&sb, "cert.pem", text.as_bytes());
    let raw: &[u8] = &[0xff, 0x00, 0x80, b'x', 0xfe];
    encrypted(&sb, "blob.bin", raw);
    publish(&sb, &moto, &["--yes", "cert.pem"]).ok();
    publish(&sb, &moto, &["--yes", "blob.bin"]).ok();
    let cert = moto.secret(&format!("{prefix}cert.pem")).unwrap();
    assert_eq!(cert["SecretString"], text);
    let blob = moto.secret(&format!("{prefix}blob.bin")).unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(blob["SecretBinary"].as_str().expect("SecretBinary"))
        .unwrap();
    assert_eq!(bytes, raw);
    let again = publish(&sb, &moto, &["--yes", "blob.bin"]).ok();
    assert!(
        again.err().contains("already up-to-date"),
        "{}",
        again.err()
    );
}

#[test]
fn without_a_region_the_error_says_how_to_set_one() {
    let Some(moto) = Moto::get() else { return };
    let sb = sandbox("  - secretsmanager_prefix: app/\n");
    encrypted(&sb, "db.yaml", PLAIN.as_bytes());
    let mut cmd = sb.enseal();
    moto.apply(&mut cmd)
        .env_remove("AWS_REGION")
        .env("SOPS_AGE_KEY_FILE", key_file(1));
    let out = run(cmd.args(["publish", "--yes", "db.yaml"]));
    assert_eq!(out.code, Some(1), "{}", out.err());
    assert!(out.err().contains("no AWS region"), "{}", out.err());
}

// --- the reference ---------------------------------------------------------------

#[test]
fn the_reference_writes_the_same_kind_of_s3_object() {
    let Some(sops) = require_sops() else { return };
    let Some(moto) = Moto::get() else { return };
    let bucket = moto.bucket();
    let sb = sandbox(&format!(
        "  - path_regex: plain\n    s3_bucket: {bucket}\n    s3_prefix: plain/\n  - s3_bucket: {bucket}\n    s3_prefix: re/\n    recreation_rule:\n      age: {}\n",
        recipient(2)
    ));
    let file = encrypted(&sb, "plain.yaml", PLAIN.as_bytes());
    sb.write("re.yaml", &file);
    let sops_publish = |name: &str| {
        let mut cmd = sb.sops(&sops);
        moto.apply(&mut cmd)
            .env("SOPS_AGE_KEY_FILE", key_file(1))
            .args(["publish", "--yes", name]);
        run(&mut cmd).ok();
    };
    // Without recreation rule both upload the file as it is.
    sops_publish("plain.yaml");
    assert_eq!(moto.object(&bucket, "plain/plain.yaml").unwrap(), file);
    publish(&sb, &moto, &["--yes", "plain.yaml"]).ok();
    assert_eq!(moto.object(&bucket, "plain/plain.yaml").unwrap(), file);

    // With one, both upload a file for the new recipient only, which each
    // tool decrypts.
    sops_publish("re.yaml");
    let theirs = moto.object(&bucket, "re/re.yaml").unwrap();
    publish(&sb, &moto, &["--yes", "re.yaml"]).ok();
    let ours = moto.object(&bucket, "re/re.yaml").unwrap();
    for object in [&theirs, &ours] {
        let text = String::from_utf8_lossy(object).into_owned();
        assert!(
            text.contains(&recipient(2)) && !text.contains(&recipient(1)),
            "{text}"
        );
        assert_eq!(decrypt(&sb, object, 2).ok().out(), PLAIN);
        let path = sb.write("by-sops.yaml", object);
        let by_sops = run(sb
            .sops(&sops)
            .env("SOPS_AGE_KEY_FILE", key_file(2))
            .arg("decrypt")
            .arg(&path))
        .ok();
        assert_eq!(by_sops.out(), PLAIN);
    }
}

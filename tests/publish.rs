//! `enseal publish` against the local OpenBao: KV v1 and v2 secrets written
//! and read back through the HTTP API, the same data as the reference sops
//! writes, the "already up to date" case, the recursive walk, and the
//! errors (no destination, two destinations, no terminal without --yes,
//! GCS, an address the allowlist refuses). S3 and AWS Secrets Manager:
//! tests/publish_aws.rs.
//!
//! Needs `ENSEAL_TEST_VAULT_ADDR` and `ENSEAL_TEST_VAULT_TOKEN`
//! (`eval "$(scripts/test-servers env)"`). Missing: a failure in CI, a
//! printed skip locally. Each test mounts its own KV engine at a unique path
//! and removes it at the end.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const PLAIN: &str = "foo: 2\nbar: baz\n# a comment\nnested:\n    x: true\n    list: [1, a]\n";

fn expected() -> Value {
    json!({"foo": 2, "bar": "baz", "nested": {"x": true, "list": [1, "a"]}})
}

/// The OpenBao under test, with one KV engine mounted for this test.
struct Bao {
    address: String,
    token: String,
    mount: String,
}

impl Bao {
    /// Mounts a KV engine of `version` at a unique path; `None` (after
    /// [`unavailable`]) without a server.
    fn with_kv(version: u8) -> Option<Bao> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let (Some(address), Some(token)) = (
            var("ENSEAL_TEST_VAULT_ADDR"),
            var("ENSEAL_TEST_VAULT_TOKEN"),
        ) else {
            unavailable(
                "the local OpenBao is not set up (run `eval \"$(scripts/test-servers env)\"`)",
            );
            return None;
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let mount = format!("enseal-publish-{}-{nanos}-v{version}", std::process::id());
        let bao = Bao {
            address,
            token,
            mount,
        };
        let (status, body) = bao.call(
            "POST",
            &format!("sys/mounts/{}", bao.mount),
            Some(json!({"type": "kv", "options": {"version": version.to_string()}})),
        );
        assert!(
            (200..300).contains(&status),
            "mounting kv v{version}: {status} {body}"
        );
        Some(bao)
    }

    /// One API request; the status and JSON answer (`Null` when empty).
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(30)))
            .build()
            .into();
        let url = format!("{}/v1/{path}", self.address);
        let response = match (method, body) {
            ("GET", _) => agent.get(&url).header("X-Vault-Token", &self.token).call(),
            ("DELETE", _) => agent
                .delete(&url)
                .header("X-Vault-Token", &self.token)
                .call(),
            (_, body) => agent
                .post(&url)
                .header("X-Vault-Token", &self.token)
                .send_json(body.unwrap_or(json!({}))),
        };
        let mut response = response.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// The `data` of the secret at the API path `path`, `None` on 404.
    fn secret(&self, path: &str) -> Option<Value> {
        let (status, body) = self.call("GET", path, None);
        if status == 404 {
            return None;
        }
        assert_eq!(status, 200, "GET {path}: {body}");
        Some(body["data"].clone())
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = self.call("DELETE", &format!("sys/mounts/{}", self.mount), None);
    }
}

/// A sandbox with an age creation rule and `destination_rules` (YAML text).
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

/// Writes `PLAIN` as `name` in the sandbox and encrypts it in place.
fn encrypted(sb: &Sandbox, name: &str) -> PathBuf {
    let path = sb.write(name, PLAIN);
    run(sb.enseal().arg("encrypt").arg("-i").arg(&path)).ok();
    path
}

/// `publish ARGS` with the age key and the server's token.
fn publish(sb: &Sandbox, bao: Option<&Bao>, args: &[&str]) -> Out {
    let mut cmd = sb.enseal();
    cmd.env("SOPS_AGE_KEY_FILE", key_file(1)).arg("publish");
    if let Some(bao) = bao {
        cmd.env("VAULT_ADDR", &bao.address)
            .env("VAULT_TOKEN", &bao.token);
    }
    run(cmd.args(args))
}

fn vault_rule(bao: &Bao, version: u8, extra: &str) -> String {
    format!(
        "  - vault_path: app/\n    vault_kv_mount_name: {}/\n    vault_kv_version: {version}\n{extra}",
        bao.mount
    )
}

#[test]
fn kv_v2_holds_the_decrypted_top_level_data() {
    let Some(bao) = Bao::with_kv(2) else { return };
    let sb = sandbox(&vault_rule(&bao, 2, ""));
    encrypted(&sb, "db.yaml");
    publish(&sb, Some(&bao), &["--yes", "db.yaml"]).ok();
    let secret = bao
        .secret(&format!("{}/data/app/db.yaml", bao.mount))
        .expect("the secret exists");
    assert_eq!(secret["data"], expected());
    assert_eq!(secret["metadata"]["version"], 1);
}

#[test]
fn kv_v2_is_not_written_again_when_already_up_to_date() {
    let Some(bao) = Bao::with_kv(2) else { return };
    let sb = sandbox(&vault_rule(&bao, 2, ""));
    encrypted(&sb, "db.yaml");
    publish(&sb, Some(&bao), &["--yes", "db.yaml"]).ok();
    let again = publish(&sb, Some(&bao), &["--yes", "db.yaml"]).ok();
    assert!(
        again.err().contains("already up-to-date"),
        "{}",
        again.err()
    );
    let secret = bao
        .secret(&format!("{}/data/app/db.yaml", bao.mount))
        .unwrap();
    assert_eq!(secret["metadata"]["version"], 1, "no second version");
}

#[test]
fn kv_v1_holds_the_data_under_the_name_without_extension() {
    let Some(bao) = Bao::with_kv(1) else { return };
    let sb = sandbox(&vault_rule(&bao, 1, "    omit_extensions: true\n"));
    encrypted(&sb, "db.yaml");
    publish(&sb, Some(&bao), &["--yes", "db.yaml"]).ok();
    let secret = bao.secret(&format!("{}/app/db", bao.mount)).unwrap();
    assert_eq!(secret, expected());
    assert!(bao.secret(&format!("{}/app/db.yaml", bao.mount)).is_none());
}

#[test]
fn the_reference_writes_the_same_secret() {
    let Some(sops) = require_sops() else { return };
    let Some(bao) = Bao::with_kv(2) else { return };
    let sb = sandbox(&format!(
        "  - path_regex: ^ours\n{}  - path_regex: ^theirs\n    vault_path: ref/\n    vault_kv_mount_name: {}/\n",
        vault_rule(&bao, 2, "").replacen("  - ", "    ", 1),
        bao.mount
    ));
    encrypted(&sb, "ours.yaml");
    sb.copy(&sb.path("ours.yaml"), "theirs.yaml");
    publish(&sb, Some(&bao), &["--yes", "ours.yaml"]).ok();
    run(sb
        .sops(&sops)
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .env("VAULT_ADDR", &bao.address)
        .env("VAULT_TOKEN", &bao.token)
        .args(["publish", "--yes", "theirs.yaml"]))
    .ok();
    let ours = bao.secret(&format!("{}/data/app/ours.yaml", bao.mount));
    let theirs = bao.secret(&format!("{}/data/ref/theirs.yaml", bao.mount));
    assert_eq!(ours.unwrap()["data"], theirs.unwrap()["data"]);
}

#[test]
fn recursive_names_files_by_their_path_below_the_directory() {
    let Some(bao) = Bao::with_kv(1) else { return };
    // Files are matched as Go's filepath.Join names them: tree/a.yaml.
    let sb = sandbox(&vault_rule(&bao, 1, "    path_regex: ^tree/\n"));
    encrypted(&sb, "tree/a.yaml");
    encrypted(&sb, "tree/sub/b.yaml");
    let refused = publish(&sb, Some(&bao), &["--yes", "tree"]);
    assert_eq!(refused.code, Some(1));
    assert!(
        refused.err().contains("without --recursive"),
        "{}",
        refused.err()
    );
    publish(&sb, Some(&bao), &["--yes", "--recursive", "./tree/"]).ok();
    assert_eq!(
        bao.secret(&format!("{}/app/a.yaml", bao.mount)).unwrap(),
        expected()
    );
    assert_eq!(
        bao.secret(&format!("{}/app/sub/b.yaml", bao.mount))
            .unwrap(),
        expected()
    );
}

#[test]
fn without_yes_and_without_a_terminal_nothing_is_published() {
    let Some(bao) = Bao::with_kv(1) else { return };
    let sb = sandbox(&vault_rule(&bao, 1, ""));
    encrypted(&sb, "db.yaml");
    let out = publish(&sb, Some(&bao), &["db.yaml"]);
    assert_eq!(out.code, Some(1), "{}", out.err());
    assert!(out.err().contains("not a terminal"), "{}", out.err());
    assert!(out.err().contains("hint: pass --yes"), "{}", out.err());
    assert!(bao.secret(&format!("{}/app/db.yaml", bao.mount)).is_none());
}

#[test]
fn an_address_outside_the_allowlist_gets_no_token() {
    let Some(bao) = Bao::with_kv(1) else { return };
    let sb = sandbox(&vault_rule(&bao, 1, ""));
    encrypted(&sb, "db.yaml");
    let mut cmd = sb.enseal();
    let out = run(cmd
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .env("VAULT_ADDR", &bao.address)
        .env("VAULT_TOKEN", &bao.token)
        .env("SOPS_HC_VAULT_ALLOWLIST", "https://vault.example")
        .args(["publish", "--yes", "db.yaml"]));
    assert_eq!(out.code, Some(1), "{}", out.err());
    assert!(
        out.err().contains("Allowlist does not allow"),
        "{}",
        out.err()
    );
    assert!(bao.secret(&format!("{}/app/db.yaml", bao.mount)).is_none());
}

/// `publish --yes FILE` by enseal and, when present, the reference: both
/// exit 1 with `message` on stderr.
fn both_refuse(sb: &Sandbox, file: &Path, message: &str) {
    let ours = publish(sb, None, &["--yes", &file.to_string_lossy()]);
    assert_eq!(ours.code, Some(1), "{}", ours.err());
    assert!(ours.err().contains(message), "{}", ours.err());
    if let Some(sops) = require_sops() {
        let theirs = run(sb
            .sops(&sops)
            .env("SOPS_AGE_KEY_FILE", key_file(1))
            .args(["publish", "--yes"])
            .arg(file));
        assert_eq!(theirs.code, Some(1), "{}", theirs.err());
        assert!(theirs.err().contains(message), "{}", theirs.err());
    }
}

#[test]
fn a_file_no_rule_matches_is_refused_as_sops_does() {
    let sb = sandbox("  - path_regex: ^elsewhere/\n    vault_path: app/\n");
    let file = encrypted(&sb, "db.yaml");
    both_refuse(
        &sb,
        Path::new(file.file_name().unwrap()),
        "error loading config: no matching destination found in config",
    );
}

#[test]
fn a_rule_with_two_destinations_is_refused_as_sops_does() {
    let sb = sandbox("  - vault_path: app/\n    s3_bucket: b\n");
    let file = encrypted(&sb, "db.yaml");
    both_refuse(
        &sb,
        Path::new(file.file_name().unwrap()),
        "more than one destinations were found in a single destination rule",
    );
}

#[test]
fn a_rule_without_destination_is_refused_as_sops_does() {
    let sb = sandbox("  - path_regex: db\n    omit_extensions: true\n");
    let file = encrypted(&sb, "db.yaml");
    both_refuse(
        &sb,
        Path::new(file.file_name().unwrap()),
        "no destination configured for this file",
    );
}

#[test]
fn secrets_manager_with_another_destination_is_two_destinations() {
    let sb = sandbox("  - vault_path: app/\n    secretsmanager_prefix: \"\"\n");
    encrypted(&sb, "db.yaml");
    let out = publish(&sb, None, &["--yes", "db.yaml"]);
    assert_eq!(out.code, Some(1), "{}", out.err());
    assert!(
        out.err()
            .contains("more than one destinations were found in a single destination rule"),
        "{}",
        out.err()
    );
}

#[test]
fn no_file_is_sops_exit_code_100() {
    let sb = sandbox("  - vault_path: app/\n");
    let out = run(sb.enseal().arg("publish"));
    assert_eq!(out.code, Some(100), "{}", out.err());
}

//! age key interop with the reference sops 3.11.0: SSH recipients and
//! identities in both directions, the default `~/.ssh` keys, and the
//! "nothing found" message. SSH keys are generated at test time.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const PLAIN: &str = "a: 1\nb: two\n";

/// A throw-away SSH key pair in `dir` (test only): (private key, public line).
fn ssh_keygen(dir: &Path, name: &str, kind: &str) -> Option<(PathBuf, String)> {
    let path = dir.join(name);
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(["-q", "-t", kind, "-N", "", "-C", "enseal test", "-f"])
        .arg(&path);
    if kind == "rsa" {
        cmd.args(["-b", "2048"]);
    }
    match cmd.status() {
        Ok(s) if s.success() => {}
        _ => {
            assert!(!in_ci(), "ssh-keygen is needed in CI");
            eprintln!("ssh-keygen not available; skipped");
            return None;
        }
    }
    let public = std::fs::read_to_string(path.with_extension("pub")).ok()?;
    Some((path, public.trim().to_string()))
}

fn stored_recipient(encrypted: &str) -> String {
    encrypted
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("- recipient: "))
        .expect("a recipient line")
        .to_string()
}

#[test]
fn ssh_recipients_both_directions() {
    let Some(sops) = require_sops() else {
        return;
    };
    let sb = Sandbox::new();
    let keys = sb.root().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    for kind in ["ed25519", "rsa"] {
        let Some((private, public)) = ssh_keygen(&keys, kind, kind) else {
            return;
        };
        let input = sb.write("plain.yaml", PLAIN);

        // sops encrypts, enseal decrypts.
        let by_sops = run(sb
            .sops(&sops)
            .args(["encrypt", "--age", &public])
            .arg(&input))
        .ok();
        assert_eq!(stored_recipient(&by_sops.out()), public);
        let file = sb.write("by-sops.yaml", &by_sops.stdout);
        let out = run(sb
            .enseal()
            .env("SOPS_AGE_SSH_PRIVATE_KEY_FILE", &private)
            .arg("decrypt")
            .arg(&file))
        .ok();
        assert_eq!(out.out(), PLAIN, "{kind}: enseal decrypt of sops file");

        // enseal encrypts, sops decrypts.
        let by_enseal = run(sb
            .enseal()
            .args(["encrypt", "--age", &format!(" {public} ")])
            .arg(&input))
        .ok();
        assert_eq!(stored_recipient(&by_enseal.out()), public);
        let file = sb.write("by-enseal.yaml", &by_enseal.stdout);
        let out = run(sb
            .sops(&sops)
            .env("SOPS_AGE_SSH_PRIVATE_KEY_FILE", &private)
            .arg("decrypt")
            .arg(&file))
        .ok();
        assert_eq!(out.out(), PLAIN, "{kind}: sops decrypt of enseal file");
    }
}

#[test]
fn default_ssh_key_in_home() {
    let Some(sops) = require_sops() else {
        return;
    };
    let sb = Sandbox::new();
    let ssh_dir = sb.home().join(".ssh");
    std::fs::create_dir_all(&ssh_dir).unwrap();
    let Some((_, public)) = ssh_keygen(&ssh_dir, "id_ed25519", "ed25519") else {
        return;
    };
    let input = sb.write("plain.yaml", PLAIN);
    let by_sops = run(sb
        .sops(&sops)
        .args(["encrypt", "--age", &public])
        .arg(&input))
    .ok();
    let file = sb.write("by-sops.yaml", &by_sops.stdout);
    let out = run(sb.enseal().arg("decrypt").arg(&file)).ok();
    assert_eq!(out.out(), PLAIN);
}

#[test]
fn missing_identities_are_reported_like_sops() {
    let Some(sops) = require_sops() else {
        return;
    };
    let sb = Sandbox::new();
    let keys = sb.root().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let Some((_, public)) = ssh_keygen(&keys, "ed", "ed25519") else {
        return;
    };
    let input = sb.write("plain.yaml", PLAIN);
    let by_sops = run(sb
        .sops(&sops)
        .args(["encrypt", "--age", &public])
        .arg(&input))
    .ok();
    let file = sb.write("by-sops.yaml", &by_sops.stdout);
    let missing = sb.root().join("no-such-key");
    // Compared after unwrapping (the report's word-wrapping is not checked
    // here); enseal may add its own `hint:` lines after sops's text.
    let flat = |text: String| -> String {
        text.lines()
            .filter(|l| !l.starts_with("hint:"))
            .map(|l| l.trim_start().trim_start_matches(['-', '|']).trim())
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    };
    // Nothing configured; a key file that does not exist; a wrong key.
    ssh_keygen(&keys, "other", "ed25519").unwrap();
    let cases: Vec<Vec<(&str, String)>> = vec![
        vec![],
        vec![("SOPS_AGE_KEY_FILE", missing.display().to_string())],
        vec![
            (
                "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
                keys.join("other").display().to_string(),
            ),
            ("SOPS_AGE_KEY", "garbage".to_string()),
        ],
    ];
    for vars in cases {
        let mut a = sb.sops(&sops);
        let mut b = sb.enseal();
        for (k, v) in &vars {
            a.env(k, v);
            b.env(k, v);
        }
        let want = run(a.arg("decrypt").arg(&file)).code_in(&[128]);
        let got = run(b.arg("decrypt").arg(&file)).code_in(&[128]);
        assert_eq!(flat(got.err()), flat(want.err()), "with {vars:?}");
    }
}

/// A plugin recipient (`age1ensealfake1…`) and identity
/// (`AGE-PLUGIN-ENSEALFAKE-1…`) served by the fake plugin script in
/// `testdata/age-plugin/` (it copies the file key: test only).
const PLUGIN_RECIPIENT: &str = "age1ensealfake1qypqxpqyuvksm";
const PLUGIN_IDENTITY: &str = "AGE-PLUGIN-ENSEALFAKE-1Q5RQWZQC88TYZ";

fn path_with_plugin() -> String {
    let dir = testdata("age-plugin");
    match std::env::var("PATH") {
        Ok(p) => format!("{}:{p}", dir.display()),
        Err(_) => dir.display().to_string(),
    }
}

#[test]
fn plugin_recipients_and_identities() {
    let sb = Sandbox::new();
    let input = sb.write("plain.yaml", PLAIN);
    let path = path_with_plugin();

    let encrypted = run(sb
        .enseal()
        .env("PATH", &path)
        .args(["encrypt", "--age", PLUGIN_RECIPIENT])
        .arg(&input))
    .ok();
    assert_eq!(stored_recipient(&encrypted.out()), PLUGIN_RECIPIENT);
    let file = sb.write("by-enseal.yaml", &encrypted.stdout);
    let out = run(sb
        .enseal()
        .env("PATH", &path)
        .env("SOPS_AGE_KEY", PLUGIN_IDENTITY)
        .arg("decrypt")
        .arg(&file))
    .ok();
    assert_eq!(out.out(), PLAIN);

    // Without the plugin on PATH, both directions say so.
    let out = run(sb
        .enseal()
        .args(["encrypt", "--age", PLUGIN_RECIPIENT])
        .arg(&input));
    assert_ne!(out.code, Some(0));
    assert!(
        out.err()
            .contains("age plugin age-plugin-ensealfake not found on PATH"),
        "{}",
        out.err()
    );
    let out = run(sb
        .enseal()
        .env("SOPS_AGE_KEY", PLUGIN_IDENTITY)
        .arg("decrypt")
        .arg(&file))
    .code_in(&[128]);
    let flat: String = out.err().split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("age plugin age-plugin-ensealfake not found on PATH"),
        "{flat}"
    );

    // The reference sops uses the same plugin, both ways.
    let Some(sops) = require_sops() else {
        return;
    };
    let out = run(sb
        .sops(&sops)
        .env("PATH", &path)
        .env("SOPS_AGE_KEY", PLUGIN_IDENTITY)
        .arg("decrypt")
        .arg(&file))
    .ok();
    assert_eq!(out.out(), PLAIN);
    let by_sops = run(sb
        .sops(&sops)
        .env("PATH", &path)
        .args(["encrypt", "--age", PLUGIN_RECIPIENT])
        .arg(&input))
    .ok();
    let file = sb.write("by-sops.yaml", &by_sops.stdout);
    let out = run(sb
        .enseal()
        .env("PATH", &path)
        .env("SOPS_AGE_KEY", PLUGIN_IDENTITY)
        .arg("decrypt")
        .arg(&file))
    .ok();
    assert_eq!(out.out(), PLAIN);
}

/// Hybrid post-quantum recipients (`age1pq1…`): sops 3.11 handles them
/// too, so files go both ways. The identity is the public test key in
/// `testdata/age-typage/`.
#[test]
fn hybrid_post_quantum_both_directions() {
    let Some(sops) = require_sops() else {
        return;
    };
    let sb = Sandbox::new();
    let input = sb.write("plain.yaml", PLAIN);
    let identity = testdata("age-typage/identity.txt");
    let recipient = std::fs::read_to_string(testdata("age-typage/recipient.txt")).unwrap();
    let recipient = recipient.trim();

    let by_sops = run(sb
        .sops(&sops)
        .args(["encrypt", "--age", recipient])
        .arg(&input))
    .ok();
    let file = sb.write("by-sops.yaml", &by_sops.stdout);
    let out = run(sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", &identity)
        .arg("decrypt")
        .arg(&file))
    .ok();
    assert_eq!(out.out(), PLAIN);

    let by_enseal = run(sb
        .enseal()
        .args(["encrypt", "--age", recipient])
        .arg(&input))
    .ok();
    assert_eq!(stored_recipient(&by_enseal.out()), recipient);
    let file = sb.write("by-enseal.yaml", &by_enseal.stdout);
    let out = run(sb
        .sops(&sops)
        .env("SOPS_AGE_KEY_FILE", &identity)
        .arg("decrypt")
        .arg(&file))
    .ok();
    assert_eq!(out.out(), PLAIN);
}

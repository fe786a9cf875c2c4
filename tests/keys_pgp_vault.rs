//! PGP (through gpg) and Vault transit keys against the real local servers
//! (`scripts/test-servers`): interop with the reference sops both ways,
//! Shamir groups mixing age + PGP + Vault, rotate/updatekeys adding and
//! removing keys, and the errors of a Vault that is down, hangs or refuses
//! the token.
//!
//! Needs `ENSEAL_TEST_VAULT_ADDR`, `ENSEAL_TEST_VAULT_TOKEN`,
//! `ENSEAL_TEST_GNUPGHOME`, `ENSEAL_TEST_PGP_FPR`, `ENSEAL_TEST_PGP_FPR2`
//! (`eval "$(scripts/test-servers env)"`). Missing: a failure in CI, a
//! printed skip locally.

mod common;

use common::*;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const PLAIN_YAML: &str = "a: 1\nb: secret\nlist:\n    - x\n    - 2.5\nc_unencrypted: clear\n";
const PLAIN_JSON: &str =
    "{\n\t\"a\": 1,\n\t\"b\": \"secret\",\n\t\"list\": [\n\t\t\"x\",\n\t\t2.5\n\t]\n}\n";

/// The local servers' coordinates.
struct Servers {
    vault: String,
    token: String,
    gnupghome: PathBuf,
    fpr: String,
    fpr2: String,
}

impl Servers {
    /// `transit/keys/sops` on the local Vault.
    fn vault_uri(&self) -> String {
        format!("{}/v1/transit/keys/sops", self.vault)
    }
    /// The key of the nested mount `team/a/transit`.
    fn nested_uri(&self) -> String {
        format!("{}/v1/team/a/transit/keys/nested", self.vault)
    }
}

/// The servers, or `None` (with a printed note) when they are not set up
/// locally. In CI their absence is a failure.
fn servers() -> Option<Servers> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let all = (
        var("ENSEAL_TEST_VAULT_ADDR"),
        var("ENSEAL_TEST_VAULT_TOKEN"),
        var("ENSEAL_TEST_GNUPGHOME"),
        var("ENSEAL_TEST_PGP_FPR"),
        var("ENSEAL_TEST_PGP_FPR2"),
    );
    match all {
        (Some(vault), Some(token), Some(home), Some(fpr), Some(fpr2)) => Some(Servers {
            vault,
            token,
            gnupghome: PathBuf::from(home),
            fpr,
            fpr2,
        }),
        _ => {
            unavailable(
                "the local key servers are not set up (run `eval \"$(scripts/test-servers env)\"`)",
            );
            None
        }
    }
}

/// Everything a test needs: a sandbox, a private copy of the gpg home, the
/// servers and the reference binary.
struct Env {
    sb: Sandbox,
    gpg: PathBuf,
    s: Servers,
    sops: PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        // Stop the gpg-agent this test's home started (by its home).
        let _ = Command::new("gpgconf")
            .args(["--kill", "gpg-agent"])
            .env("GNUPGHOME", &self.gpg)
            .output();
    }
}

fn setup() -> Option<Env> {
    let s = servers()?;
    let sops = require_sops()?;
    let sb = Sandbox::new();
    let gpg = sb.root().join("gnupg");
    copy_gpg_home(&s.gnupghome, &gpg);
    Some(Env { sb, gpg, s, sops })
}

/// Which credentials a command gets.
#[derive(Clone, Copy)]
struct Creds {
    age: bool,
    pgp: bool,
    vault: bool,
}

const ALL: Creds = Creds {
    age: true,
    pgp: true,
    vault: true,
};

impl Env {
    fn with(&self, mut cmd: Command, creds: Creds) -> Command {
        if creds.age {
            cmd.env("SOPS_AGE_KEY_FILE", key_file(1));
        }
        if creds.pgp {
            cmd.env("GNUPGHOME", &self.gpg);
        } else {
            // An empty home: gpg finds no secret key there.
            let empty = self.sb.root().join("empty-gnupg");
            private_dir(&empty);
            cmd.env("GNUPGHOME", &empty);
        }
        // A Vault user's environment names the Vault: only then does enseal
        // send a token to the address a file names (SECURITY.md).
        cmd.env("VAULT_ADDR", &self.s.vault);
        if creds.vault {
            cmd.env("VAULT_TOKEN", &self.s.token);
        }
        cmd
    }
    fn enseal(&self, creds: Creds) -> Command {
        self.with(self.sb.enseal(), creds)
    }
    fn sops(&self, creds: Creds) -> Command {
        self.with(self.sb.sops(&self.sops), creds)
    }
}

/// Creates `p` with mode 0700 (as gpg wants its home).
fn plain(ext: &str) -> &'static str {
    if ext == "json" {
        PLAIN_JSON
    } else {
        PLAIN_YAML
    }
}

/// The names of the fields of the first `kind` key entry in a YAML file
/// (`- name: …` then `  name: …` lines).
fn yaml_entry_fields(text: &str, kind: &str) -> Vec<String> {
    let mut lines = text
        .lines()
        .skip_while(|l| l.trim() != format!("{kind}:"))
        .skip(1);
    let mut out = Vec::new();
    let Some(first) = lines.next() else {
        return out;
    };
    let indent = first.find('-').unwrap_or(0) + 2;
    out.push(
        first
            .trim_start()
            .trim_start_matches("- ")
            .split(':')
            .next()
            .unwrap()
            .to_string(),
    );
    for line in lines {
        if line.trim().is_empty() {
            continue; // a blank line inside the armored message
        }
        if line.len() <= indent || !line[..indent].trim().is_empty() {
            break;
        }
        let rest = &line[indent..];
        if rest.starts_with(' ') {
            continue; // a continuation (the armored message)
        }
        out.push(rest.split(':').next().unwrap().to_string());
    }
    out
}

#[test]
fn pgp_interop_both_ways_yaml_and_json() {
    let Some(env) = setup() else { return };
    for ext in ["yaml", "json"] {
        let input = env.sb.write(&format!("plain.{ext}"), plain(ext));
        // reference → enseal
        let by_ref = run(env
            .sops(ALL)
            .args(["encrypt", "--pgp", &env.s.fpr])
            .arg(&input))
        .ok();
        let ref_file = env.sb.write(&format!("ref.{ext}"), &by_ref.stdout);
        let out = run(env.enseal(ALL).arg("decrypt").arg(&ref_file)).ok();
        assert_eq!(out.out(), plain(ext), "{ext}");
        // enseal → reference (which checks the MAC)
        let by_us = run(env
            .enseal(ALL)
            .args(["encrypt", "--pgp", &env.s.fpr])
            .arg(&input))
        .ok();
        let our_file = env.sb.write(&format!("ours.{ext}"), &by_us.stdout);
        let out = run(env.sops(ALL).arg("decrypt").arg(&our_file)).ok();
        assert_eq!(out.out(), plain(ext), "{ext}");
        if ext == "yaml" {
            assert_eq!(
                yaml_entry_fields(&by_us.out(), "pgp"),
                ["created_at", "enc", "fp"]
            );
            assert_eq!(
                yaml_entry_fields(&by_us.out(), "pgp"),
                yaml_entry_fields(&by_ref.out(), "pgp")
            );
            assert!(by_us.out().contains("enc: |-\n"), "{}", by_us.out());
        }
    }
    // SOPS_PGP_FP works as --pgp.
    let input = env.sb.write("plain.yaml", PLAIN_YAML);
    let out = run(env
        .enseal(ALL)
        .env("SOPS_PGP_FP", &env.s.fpr2)
        .arg("encrypt")
        .arg(&input))
    .ok();
    assert!(out.out().contains(&env.s.fpr2), "{}", out.out());
}

#[test]
fn pgp_errors_name_the_fingerprint() {
    let Some(env) = setup() else { return };
    let input = env.sb.write("plain.yaml", PLAIN_YAML);
    let out = run(env
        .enseal(ALL)
        .args(["encrypt", "--pgp", "DEADBEEF"])
        .arg(&input))
    .code_in(&[1]);
    assert!(out.err().contains("DEADBEEF"), "{}", out.err());
    assert!(out.err().contains("gpg:"), "{}", out.err());
    assert_eq!(
        out.err()
            .lines()
            .filter(|l| !l.starts_with("hint:"))
            .count(),
        1,
        "{}",
        out.err()
    );
    // A missing gpg program is named.
    let out = run(env
        .enseal(ALL)
        .env("SOPS_GPG_EXEC", "/nonexistent/gpg")
        .args(["encrypt", "--pgp", &env.s.fpr])
        .arg(&input))
    .code_in(&[1]);
    assert!(out.err().contains("/nonexistent/gpg"), "{}", out.err());
    // Without the secret key: exit 128, the key and gpg's reason listed.
    let by_us = run(env
        .enseal(ALL)
        .args(["encrypt", "--pgp", &env.s.fpr])
        .arg(&input))
    .ok();
    let file = env.sb.write("f.yaml", &by_us.stdout);
    let no_pgp = Creds { pgp: false, ..ALL };
    let out = run(env.enseal(no_pgp).arg("decrypt").arg(&file)).code_in(&[128]);
    assert!(
        out.err().contains(&format!("{}: FAILED", env.s.fpr)),
        "{}",
        out.err()
    );
    assert!(out.err().contains("gpg"), "{}", out.err());
}

#[test]
fn vault_interop_both_ways_including_nested_mount() {
    let Some(env) = setup() else { return };
    for uri in [env.s.vault_uri(), env.s.nested_uri()] {
        for ext in ["yaml", "json"] {
            let input = env.sb.write(&format!("plain.{ext}"), plain(ext));
            let by_ref = run(env
                .sops(ALL)
                .args(["encrypt", "--hc-vault-transit", &uri])
                .arg(&input))
            .ok();
            let ref_file = env.sb.write(&format!("ref.{ext}"), &by_ref.stdout);
            let out = run(env.enseal(ALL).arg("decrypt").arg(&ref_file)).ok();
            assert_eq!(out.out(), plain(ext), "{uri} {ext}");
            let by_us = run(env
                .enseal(ALL)
                .env("SOPS_VAULT_URIS", &uri)
                .arg("encrypt")
                .arg(&input))
            .ok();
            assert!(by_us.out().contains("vault:v1:"), "{}", by_us.out());
            let our_file = env.sb.write(&format!("ours.{ext}"), &by_us.stdout);
            let out = run(env.sops(ALL).arg("decrypt").arg(&our_file)).ok();
            assert_eq!(out.out(), plain(ext), "{uri} {ext}");
            if ext == "yaml" {
                assert_eq!(
                    yaml_entry_fields(&by_us.out(), "hc_vault"),
                    [
                        "vault_address",
                        "engine_path",
                        "key_name",
                        "created_at",
                        "enc"
                    ]
                );
                assert_eq!(
                    yaml_entry_fields(&by_us.out(), "hc_vault"),
                    yaml_entry_fields(&by_ref.out(), "hc_vault")
                );
            }
        }
    }
}

/// `.sops.yaml` with three groups (age, PGP, Vault), threshold 2.
fn shamir_config(env: &Env) -> String {
    format!(
        "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: ['{}']\n      - pgp: ['{}']\n      - hc_vault: ['{}']\n",
        recipient(1),
        env.s.fpr,
        env.s.nested_uri()
    )
}

#[test]
fn shamir_groups_of_age_pgp_and_vault_both_ways() {
    let Some(env) = setup() else { return };
    env.sb.write(".sops.yaml", shamir_config(&env));
    let input = env.sb.write("plain.yaml", PLAIN_YAML);
    let pairs = [
        Creds {
            age: true,
            pgp: true,
            vault: false,
        },
        Creds {
            age: true,
            pgp: false,
            vault: true,
        },
        Creds {
            age: false,
            pgp: true,
            vault: true,
        },
    ];
    let by_us = run(env.enseal(ALL).arg("encrypt").arg(&input)).ok();
    let by_ref = run(env.sops(ALL).arg("encrypt").arg(&input)).ok();
    for (who, text) in [("enseal", &by_us), ("sops", &by_ref)] {
        assert!(text.out().contains("shamir_threshold: 2"), "{who}");
        let file = env.sb.write(&format!("{who}.enc.yaml"), &text.stdout);
        for creds in pairs {
            let out = run(env.enseal(creds).arg("decrypt").arg(&file)).ok();
            assert_eq!(out.out(), PLAIN_YAML, "{who} file, enseal");
            let out = run(env.sops(creds).arg("decrypt").arg(&file)).ok();
            assert_eq!(out.out(), PLAIN_YAML, "{who} file, sops");
        }
        // One group only: not enough.
        let only_age = Creds {
            age: true,
            pgp: false,
            vault: false,
        };
        let out = run(env.enseal(only_age).arg("decrypt").arg(&file)).code_in(&[128]);
        assert!(out.err().contains("Shamir threshold of 2"), "{}", out.err());
    }
}

#[test]
fn rotate_and_updatekeys_add_and_remove_pgp_and_vault_keys() {
    let Some(env) = setup() else { return };
    let input = env.sb.write("plain.yaml", PLAIN_YAML);
    let out = run(env
        .enseal(ALL)
        .args(["encrypt", "--age", &recipient(1)])
        .arg(&input))
    .ok();
    let file = env.sb.write("f.yaml", &out.stdout);
    let only = |age, pgp, vault| Creds { age, pgp, vault };
    // Add a PGP key and a Vault key.
    run(env
        .enseal(ALL)
        .args(["rotate", "-i", "--add-pgp", &env.s.fpr])
        .args(["--add-hc-vault-transit", &env.s.vault_uri()])
        .arg(&file))
    .ok();
    for creds in [only(false, true, false), only(false, false, true)] {
        let out = run(env.sops(creds).arg("decrypt").arg(&file)).ok();
        assert_eq!(out.out(), PLAIN_YAML);
    }
    // Remove them again: only age is left.
    run(env
        .enseal(ALL)
        .args(["rotate", "-i", "--rm-pgp", &env.s.fpr])
        .args(["--rm-hc-vault-transit", &env.s.vault_uri()])
        .arg(&file))
    .ok();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains("pgp:") && !text.contains("hc_vault:"),
        "{text}"
    );
    run(env.sops(only(false, true, true)).arg("decrypt").arg(&file)).code_in(&[128]);
    // updatekeys to a rule of PGP (second key) + nested Vault.
    env.sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - pgp: '{}'\n    hc_vault_transit_uri: '{}'\n",
            env.s.fpr2,
            env.s.nested_uri()
        ),
    );
    let out = run(env.enseal(ALL).args(["updatekeys", "-y"]).arg(&file)).ok();
    assert!(
        out.out().contains(&format!("+++ {}", env.s.fpr2)),
        "{}",
        out.out()
    );
    assert!(
        out.out().contains(&format!("--- {}", recipient(1))),
        "{}",
        out.out()
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains(&env.s.fpr2) && text.contains("team/a/transit"),
        "{text}"
    );
    for creds in [only(false, true, false), only(false, false, true)] {
        let out = run(env.sops(creds).arg("decrypt").arg(&file)).ok();
        assert_eq!(out.out(), PLAIN_YAML);
    }
    run(env
        .enseal(only(true, false, false))
        .arg("decrypt")
        .arg(&file))
    .code_in(&[128]);
    // groups add of a PGP group, then the file needs two groups.
    run(env
        .enseal(ALL)
        .args(["groups", "add", "-i", "--pgp", &env.s.fpr, "-f"])
        .arg(&file))
    .ok();
    let out = run(env.sops(only(false, true, true)).arg("decrypt").arg(&file)).ok();
    assert_eq!(out.out(), PLAIN_YAML);
}

/// A file with an age key and a Vault key at `vault_uri` (written by
/// enseal against the real Vault, then pointed elsewhere).
fn age_and_vault_file(env: &Env, vault_uri_in_file: &str) -> PathBuf {
    let input = env.sb.write("plain.yaml", PLAIN_YAML);
    let out = run(env
        .enseal(ALL)
        .args(["encrypt", "--age", &recipient(1)])
        .args(["--hc-vault-transit", &env.s.vault_uri()])
        .arg(&input))
    .ok();
    let text = out.out().replace(&env.s.vault, vault_uri_in_file);
    env.sb.write("av.yaml", text)
}

#[test]
fn vault_down_fails_fast_and_age_still_decrypts() {
    let Some(env) = setup() else { return };
    // An unused loopback port: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = format!("http://127.0.0.1:{port}");
    let file = age_and_vault_file(&env, &down);
    let vault_first = |creds| {
        let mut cmd = env.enseal(creds);
        // The user's Vault is the one that is down.
        cmd.env("SOPS_DECRYPTION_ORDER", "hc_vault,age")
            .env("VAULT_ADDR", &down);
        cmd
    };
    let out = run(vault_first(ALL).arg("decrypt").arg(&file)).ok();
    assert_eq!(out.out(), PLAIN_YAML);
    let start = Instant::now();
    let no_age = Creds { age: false, ..ALL };
    let out = run(vault_first(no_age).arg("decrypt").arg(&file)).code_in(&[128]);
    assert!(start.elapsed() < Duration::from_secs(10));
    let err = out.err();
    assert!(
        err.contains(&format!("{down}/v1/transit/keys/sops: FAILED")),
        "{err}"
    );
    assert!(err.contains("connection refused"), "{err}");
    assert!(err.contains(&format!("{}: FAILED", recipient(1))), "{err}");
    // Encrypting for it fails with one line naming the key.
    let input = env.sb.write("p2.yaml", PLAIN_YAML);
    let out = run(env
        .enseal(ALL)
        .args(["encrypt", "--hc-vault-transit"])
        .arg(format!("{down}/v1/transit/keys/sops"))
        .arg(&input))
    .code_in(&[1]);
    assert!(
        out.err().contains(&format!("{down}/v1/transit/keys/sops")),
        "{}",
        out.err()
    );
    assert!(out.err().contains("connection refused"), "{}", out.err());
}

#[test]
fn vault_that_never_answers_times_out() {
    let Some(env) = setup() else { return };
    // Accepts connections (the kernel's backlog) but never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hang = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let file = age_and_vault_file(&env, &hang);
    let start = Instant::now();
    let no_age = Creds { age: false, ..ALL };
    let out = run(env
        .enseal(no_age)
        .env("VAULT_ADDR", &hang)
        .env("ENSEAL_VAULT_TIMEOUT", "2")
        .arg("decrypt")
        .arg(&file))
    .code_in(&[128]);
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    assert!(out.err().contains("timeout"), "{}", out.err());
    assert!(out.err().contains(&hang), "{}", out.err());
    drop(listener);
}

#[test]
fn wrong_vault_token_is_named() {
    let Some(env) = setup() else { return };
    let file = age_and_vault_file(&env, &env.s.vault.clone());
    let no_age = Creds {
        age: false,
        pgp: true,
        vault: false,
    };
    let out = run(env
        .enseal(no_age)
        .env("VAULT_TOKEN", "wrong-token")
        .arg("decrypt")
        .arg(&file))
    .code_in(&[128]);
    let err = out.err();
    assert!(err.contains(&env.s.vault_uri()), "{err}");
    assert!(
        err.contains("403") && err.contains("permission denied"),
        "{err}"
    );
    assert!(!err.contains("wrong-token"), "{err}");
    // ~/.vault-token is used when VAULT_TOKEN is not set.
    std::fs::write(
        env.sb.home().join(".vault-token"),
        format!("{}\n", env.s.token),
    )
    .unwrap();
    let out = run(env.enseal(no_age).arg("decrypt").arg(&file)).ok();
    assert_eq!(out.out(), PLAIN_YAML);
    // No token at all: said so.
    std::fs::remove_file(env.sb.home().join(".vault-token")).unwrap();
    let out = run(env.enseal(no_age).arg("decrypt").arg(&file)).code_in(&[128]);
    assert!(out.err().contains("no Vault token"), "{}", out.err());
}

#[test]
fn edit_of_a_new_file_and_legacy_encrypt_use_the_key_flags() {
    let Some(env) = setup() else { return };
    use std::os::unix::fs::PermissionsExt;
    let editor = env.sb.root().join("editor.sh");
    std::fs::write(&editor, "#!/bin/sh\nprintf 'k: v\\n' > \"$1\"\n").unwrap();
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = env.sb.path("new.yaml");
    run(env
        .enseal(ALL)
        .env("EDITOR", &editor)
        .args(["edit", "--pgp", &env.s.fpr, "--hc-vault-transit"])
        .arg(env.s.nested_uri())
        .arg(&file))
    .ok();
    let only_vault = Creds {
        age: false,
        pgp: false,
        vault: true,
    };
    let out = run(env.sops(only_vault).arg("decrypt").arg(&file)).ok();
    assert_eq!(out.out(), "k: v\n");
    let only_pgp = Creds {
        age: false,
        pgp: true,
        vault: false,
    };
    let out = run(env
        .sops(only_pgp)
        .env("SOPS_DECRYPTION_ORDER", "pgp")
        .arg("decrypt")
        .arg(&file))
    .ok();
    assert_eq!(out.out(), "k: v\n");
    // Legacy -e with variables only.
    let input = env.sb.write("plain.yaml", PLAIN_YAML);
    let out = run(env
        .enseal(ALL)
        .env("SOPS_PGP_FP", &env.s.fpr2)
        .env("SOPS_VAULT_URIS", env.s.vault_uri())
        .arg("-e")
        .arg(&input))
    .ok();
    let file = env.sb.write("legacy.yaml", &out.stdout);
    let out = run(env
        .enseal(ALL)
        .args(["--decryption-order", "hc_vault,pgp", "-d"])
        .arg(&file))
    .ok();
    assert_eq!(out.out(), PLAIN_YAML);
    let out = run(env.sops(only_pgp).arg("decrypt").arg(&file)).ok();
    assert_eq!(out.out(), PLAIN_YAML);
}

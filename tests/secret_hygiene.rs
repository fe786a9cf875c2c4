//! No secret in any error message: failing runs of every command that
//! handles plaintext are made on purpose, and their stdout and stderr are
//! searched for the planted plaintexts.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// Planted secrets: none may appear in the output of a failing run.
const SECRETS: [&str; 4] = [
    "hunter2-planted",
    "tok_9f8e7d6c5b4a",
    "s3cr3t-in-list",
    "comment-secret",
];

fn plaintext() -> String {
    format!(
        "user: alice\npassword: {}\napi:\n    token: {}\nlist:\n    - {}\n#{}\n",
        SECRETS[0], SECRETS[1], SECRETS[2], SECRETS[3]
    )
}

struct Case {
    sb: Sandbox,
    file: PathBuf,
}

impl Case {
    fn new() -> Case {
        Case::of(&plaintext())
    }

    /// A file without nested values (for `exec-env`).
    fn flat() -> Case {
        Case::of(&format!(
            "USER: alice\nPASSWORD: {}\nTOKEN: {}\n",
            SECRETS[0], SECRETS[1]
        ))
    }

    fn of(text: &str) -> Case {
        let sb = Sandbox::new();
        let plain = sb.write("plain.yaml", text);
        let out = run(sb
            .enseal()
            .args(["encrypt", "--age", &recipient(1)])
            .arg(&plain))
        .ok();
        std::fs::remove_file(&plain).unwrap();
        let file = sb.write("secrets.yaml", &out.stdout);
        Case { sb, file }
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.file).unwrap()
    }

    fn with_key(&self, n: u8) -> std::process::Command {
        let mut cmd = self.sb.enseal();
        cmd.env("SOPS_AGE_KEY_FILE", key_file(n));
        cmd
    }
}

/// Fails when the run succeeded or when any planted secret is in its output.
fn assert_fails_cleanly(what: &str, out: &Out) {
    assert_ne!(out.code, Some(0), "{what}: expected a failure");
    assert!(out.code.is_some(), "{what}: killed by a signal");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for secret in SECRETS {
        assert!(
            !all.contains(secret),
            "{what}: output holds {secret:?}:\n{all}"
        );
    }
    assert!(!all.contains("panicked"), "{what}: panic:\n{all}");
}

#[test]
fn wrong_key_does_not_reveal_anything() {
    let c = Case::new();
    let out = run(c.with_key(2).arg("decrypt").arg(&c.file));
    assert_eq!(out.code, Some(128), "{}", out.err());
    assert_fails_cleanly("decrypt with the wrong key", &out);
}

#[test]
fn mac_mismatch_does_not_print_values() {
    let c = Case::new();
    // A forged value (bad ciphertext) where `user` was.
    let text = c.text();
    let user_enc = text
        .lines()
        .find(|l| l.starts_with("user: "))
        .unwrap()
        .trim_start_matches("user: ")
        .to_string();
    let tampered = text.replacen(
        &user_enc,
        "ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]",
        1,
    );
    std::fs::write(&c.file, tampered).unwrap();
    let out = run(c.with_key(1).arg("decrypt").arg(&c.file));
    assert_fails_cleanly("decrypt of a forged value", &out);

    // A MAC that no longer matches (values intact).
    let text = c.text().replace(
        "ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]",
        &user_enc,
    );
    let mac_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("mac: "))
        .unwrap();
    let forged = text.replace(
        mac_line,
        "    mac: ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]",
    );
    std::fs::write(&c.file, forged).unwrap();
    let out = run(c.with_key(1).arg("decrypt").arg(&c.file));
    assert_fails_cleanly("decrypt with a forged MAC", &out);
}

#[test]
fn wrong_type_tag_does_not_print_the_plaintext() {
    // The type is not authenticated: a str value re-tagged as int decrypts
    // to text that does not parse as an int. The error must not quote it.
    let c = Case::new();
    let text = c.text();
    let line = text
        .lines()
        .find(|l| l.starts_with("password: "))
        .unwrap()
        .to_string();
    for tag in ["int", "float", "bool", "time", "bytes"] {
        let forged = text.replace(&line, &line.replace("type:str", &format!("type:{tag}")));
        std::fs::write(&c.file, forged).unwrap();
        let out = run(c.with_key(1).arg("decrypt").arg(&c.file));
        if tag == "bytes" {
            // bytes accept any content; the MAC still matches: not an error.
            continue;
        }
        assert_fails_cleanly(&format!("value re-tagged as {tag}"), &out);
    }
}

#[test]
fn extract_of_a_missing_path_does_not_print_the_tree() {
    let c = Case::new();
    let out = run(c
        .with_key(1)
        .args(["decrypt", "--extract", "[\"api\"][\"nope\"]"])
        .arg(&c.file));
    assert_fails_cleanly("extract of a missing key", &out);
    let out = run(c
        .with_key(1)
        .args(["decrypt", "--extract", "[\"password\"][0]"])
        .arg(&c.file));
    assert_fails_cleanly("extract below a string", &out);
}

#[test]
fn edit_to_invalid_yaml_does_not_print_the_buffer() {
    let c = Case::new();
    let editor = c.sb.write(
        "editor.sh",
        format!(
            "#!/bin/sh\nprintf 'password: [{}\\n  bad: {{\\n' > \"$1\"\n",
            SECRETS[0]
        ),
    );
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let before = c.text();
    let out = run(c
        .with_key(1)
        .env("EDITOR", &editor)
        .arg("edit")
        .arg(&c.file));
    assert_fails_cleanly("edit that leaves invalid YAML", &out);
    assert_eq!(c.text(), before, "the file must be untouched");
}

#[test]
fn set_with_a_bad_value_does_not_echo_it() {
    let c = Case::new();
    let out = run(c
        .with_key(1)
        .arg("set")
        .arg(&c.file)
        .arg("[\"password\"]")
        .arg(format!("{{\"unterminated\": \"{}", SECRETS[0])));
    assert_fails_cleanly("set with an invalid JSON value", &out);
}

#[test]
fn exec_env_failures_do_not_print_the_environment() {
    let c = Case::flat();
    // A command that does not exist.
    let out = run(c
        .with_key(1)
        .arg("exec-env")
        .arg(&c.file)
        .arg("/nonexistent/command-xyz"));
    assert_fails_cleanly("exec-env of a missing command", &out);
    // A command that fails: its own output is its business, ours stays clean.
    let out = run(c.with_key(1).arg("exec-env").arg(&c.file).arg("exit 3"));
    assert_eq!(out.code, Some(3), "{}", out.err());
    assert_fails_cleanly("exec-env of a failing command", &out);
}

#[test]
fn exec_file_failures_do_not_print_the_file() {
    let c = Case::flat();
    let out = run(c
        .with_key(1)
        .arg("exec-file")
        .arg(&c.file)
        .arg("/nonexistent/command-xyz {}"));
    assert_fails_cleanly("exec-file of a missing command", &out);
}

// ---------------------------------------------------------------------------
// Parser errors (issue #15, item 5): the examples of the issue, in `encrypt`
// and in `edit`'s re-prompt. The generative search over every parser is in
// tests/parse_error_hygiene.rs.
// ---------------------------------------------------------------------------

/// The planted value of the parser cases.
const PLANTED: &str = "hunter2SECRETplanted";

/// Fails when `out` holds the planted value (or a part of it).
fn assert_no_planted(what: &str, out: &Out) {
    let all = format!("{}{}", out.out(), out.err());
    for part in ["hunter2", "SECRETplanted"] {
        assert!(!all.contains(part), "{what}: output holds {part:?}:\n{all}");
    }
    assert!(!all.contains("panicked"), "{what}: panic:\n{all}");
}

/// Invalid plaintexts of each parser with the planted value, the file name
/// to give them, and what the message must name instead (the line).
fn invalid_plaintexts() -> Vec<(&'static str, String, &'static str)> {
    vec![
        (
            "in.env",
            format!("USER=alice\nPASSWORD {PLANTED}\n"),
            "line 2",
        ),
        (
            "in.ini",
            format!("[db]\nuser = alice\nPASSWORD {PLANTED}\n"),
            "line 3",
        ),
        (
            "in.yaml",
            format!("user: alice\npin: !!int {PLANTED}\n"),
            "line 2, column 12",
        ),
        ("in.yaml", format!("{PLANTED}\n"), "line 1"),
        ("in.json", format!("\"{PLANTED}\""), "line 1"),
    ]
}

#[test]
fn encrypt_of_an_invalid_line_does_not_echo_it() {
    let sb = Sandbox::new();
    for (name, text, at) in invalid_plaintexts() {
        let file = sb.write(name, &text);
        let out = run(sb
            .enseal()
            .args(["encrypt", "--age", &recipient(1)])
            .arg(&file));
        assert_eq!(out.code, Some(2), "{name}: {}", out.err());
        assert_no_planted(&format!("encrypt {name}"), &out);
        // Still one useful line: the file and where.
        let err = out.err();
        let first = err.lines().next().unwrap_or_default();
        assert!(first.contains(name), "{name}: file not named: {err}");
        assert!(err.contains(at), "{name}: {at} not named: {err}");
    }
}

#[test]
fn edit_reprompt_does_not_echo_the_invalid_line() {
    for (name, text, at) in invalid_plaintexts() {
        let sb = Sandbox::new();
        let valid = match name {
            "in.env" => "USER=alice\n",
            "in.ini" => "[db]\nuser = alice\n",
            "in.json" => "{\"user\": \"alice\"}",
            _ => "user: alice\n",
        };
        let plain = sb.write(name, valid);
        let enc = run(sb
            .enseal()
            .args(["encrypt", "--age", &recipient(1)])
            .arg(&plain))
        .ok();
        std::fs::write(&plain, &enc.stdout).unwrap();
        // First run: the invalid text; after Enter, the valid one.
        let bad = sb.write("bad.txt", &text);
        let changed = match name {
            "in.json" => "{\"user\": \"bob\"}".to_string(),
            _ => valid.replace("alice", "bob"),
        };
        let good = sb.write("good.txt", changed);
        let marker = sb.path("opened-once");
        let editor = sb.write(
            "editor.sh",
            format!(
                "#!/bin/sh\nif [ -e '{m}' ]; then cp '{g}' \"$1\"; else touch '{m}'; cp '{b}' \"$1\"; fi\n",
                m = marker.display(),
                g = good.display(),
                b = bad.display(),
            ),
        );
        std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = run_stdin(
            sb.enseal()
                .env("SOPS_AGE_KEY_FILE", key_file(1))
                .env("EDITOR", &editor)
                .arg("edit")
                .arg(&plain),
            b"\n",
        );
        assert_eq!(out.code, Some(0), "{name}: {}", out.err());
        assert!(
            out.err().contains("Press enter to return to the editor"),
            "{name}: no re-prompt: {}",
            out.err()
        );
        assert!(
            out.err().contains(at),
            "{name}: {at} not named: {}",
            out.err()
        );
        assert_no_planted(&format!("edit re-prompt of {name}"), &out);
    }
}

/// A MAC mismatch names the file and says so, without either MAC: the MAC
/// is an unsalted SHA-512 over the values, and a short value (a PIN) is
/// found from it by trying every candidate. The exit code stays sops' 51.
#[test]
fn mac_mismatch_shows_neither_mac() {
    let c = Case::of("pin: \"4821\"\nuser: alice\n");
    // Remove a value: the values no longer give the stored MAC.
    let text = c.text();
    let without_user: String = text
        .lines()
        .filter(|l| !l.starts_with("user: "))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&c.file, &without_user).unwrap();
    let out = run(c.with_key(1).arg("decrypt").arg(&c.file));
    assert_eq!(out.code, Some(51), "{}", out.err());
    assert_no_hex_digest("MAC mismatch", &out);
    let err = out.err();
    assert!(err.contains("MAC mismatch"), "{err}");
    assert!(err.contains("secrets.yaml"), "file not named: {err}");
    assert_eq!(
        err.lines().filter(|l| !l.starts_with("hint: ")).count(),
        1,
        "{err}"
    );

    // A file without a MAC.
    let no_mac: String = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("mac: ") {
                "    mac: \"\"\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&c.file, &no_mac).unwrap();
    let out = run(c.with_key(1).arg("decrypt").arg(&c.file));
    assert_eq!(out.code, Some(51), "{}", out.err());
    assert_no_hex_digest("missing MAC", &out);
    assert!(out.err().contains("MAC mismatch"), "{}", out.err());
}

/// No run of 64 or more hex digits (a SHA-512 is 128) in the output.
fn assert_no_hex_digest(what: &str, out: &Out) {
    let all = format!("{}{}", out.out(), out.err());
    let mut run_len = 0;
    for c in all.chars() {
        run_len = if c.is_ascii_hexdigit() {
            run_len + 1
        } else {
            0
        };
        assert!(run_len < 64, "{what}: a digest is shown:\n{all}");
    }
}

//! Trust boundaries of the key backends (issue #15): a value written in an
//! encrypted file (a pull request, another branch, a cloned repository) must
//! never decide where a credential goes or what a command receives.
//!
//! Each test points a crafted file at a real loopback listener that records
//! every byte it receives ([`Recorder`]), and checks that enseal refuses with
//! one line *before* anything is sent. A positive control shows, where it
//! applies, that the same listener does receive a request when the user's
//! settings allow it (so "nothing received" means something).
//!
//! The Vault tests need the local OpenBao (`ENSEAL_TEST_VAULT_ADDR`,
//! `ENSEAL_TEST_VAULT_TOKEN`: `eval "$(scripts/test-servers env)"`); missing
//! in CI is a failure. The AWS, PGP and age tests need no server.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A listener on 127.0.0.1 that records every connection and the bytes
/// received on it, and answers each with an HTTP 500.
struct Recorder {
    port: u16,
    seen: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<TcpListener>>,
}

impl Recorder {
    fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => seen.lock().unwrap().push(record(stream)),
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
                listener
            })
        };
        Recorder {
            port,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>`.
    fn http(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Everything received so far, including connections still queued.
    fn received(&mut self) -> Vec<Vec<u8>> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let listener = thread.join().expect("recorder thread");
            while let Ok((stream, _)) = listener.accept() {
                self.seen.lock().unwrap().push(record(stream));
            }
        }
        self.seen.lock().unwrap().clone()
    }

    /// Asserts that no connection was made at all.
    fn assert_untouched(&mut self, what: &str) {
        let got = self.received();
        let text: Vec<String> = got
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect();
        assert!(
            got.is_empty(),
            "{what}: the listener received {} connection(s): {text:?}",
            got.len()
        );
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Reads what a client sends (until it pauses), then answers HTTP 500.
fn record(mut stream: TcpStream) -> Vec<u8> {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
        if data.windows(4).any(|w| w == b"\r\n\r\n") && data.len() < 65536 {
            // A full HTTP head: answer so the client does not wait.
            let _ = stream.write_all(
                b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            let _ = stream.flush();
            break;
        }
    }
    data
}

/// The line of `stderr` holding `needle` (the cause line of the failure
/// report, or the error line).
fn line_with<'e>(stderr: &'e str, needle: &str) -> &'e str {
    stderr
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{stderr}"))
}

// ---------------------------------------------------------------------------
// Vault
// ---------------------------------------------------------------------------

/// The local OpenBao address and token, or `None` locally (a failure in CI).
fn vault() -> Option<(String, String)> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (
        var("ENSEAL_TEST_VAULT_ADDR"),
        var("ENSEAL_TEST_VAULT_TOKEN"),
    ) {
        (Some(addr), Some(token)) => Some((addr, token)),
        _ => {
            let msg = "ENSEAL_TEST_VAULT_ADDR / ENSEAL_TEST_VAULT_TOKEN not set (run `eval \"$(scripts/test-servers env)\"`)";
            unavailable(msg);
            None
        }
    }
}

/// enseal with the Vault token and no age identity.
fn with_token(sb: &Sandbox, token: &str) -> Command {
    let mut cmd = sb.enseal();
    cmd.env("VAULT_TOKEN", token)
        .env("ENSEAL_VAULT_TIMEOUT", "5");
    cmd
}

/// A file encrypted for the real Vault (and age key 1), whose Vault
/// address is then replaced by `address`: what a crafted pull request
/// would hold.
fn vault_file(sb: &Sandbox, real: &str, token: &str, address: &str) -> PathBuf {
    let input = sb.write("plain.yaml", "password: hunter2\n");
    let out = run(with_token(sb, token)
        .args(["encrypt", "--age", &recipient(1)])
        .arg("--hc-vault-transit")
        .arg(format!("{real}/v1/transit/keys/sops"))
        .arg(&input))
    .ok();
    let text = out.out();
    assert!(text.contains(&format!("vault_address: {real}")), "{text}");
    sb.write(
        "crafted.yaml",
        text.replace(
            &format!("vault_address: {real}"),
            &format!("vault_address: {address}"),
        ),
    )
}

/// Without `SOPS_HC_VAULT_ALLOWLIST` (sops' default is `all`), only the
/// addresses the user named are trusted: `VAULT_ADDR` and the Vault keys of
/// the command line and `.sops.yaml` — never one that only the file names.
#[test]
fn vault_token_goes_by_default_only_to_addresses_the_user_named() {
    let Some((real, token)) = vault() else { return };
    let sb = Sandbox::new();
    let mut recorder = Recorder::start();
    let file = vault_file(&sb, &real, &token, &recorder.http());
    let out = run(with_token(&sb, &token)
        .env("VAULT_ADDR", &real)
        .arg("decrypt")
        .arg(&file))
    .code_in(&[128]);
    recorder.assert_untouched("no allowlist, VAULT_ADDR naming the real Vault");
    let err = out.err();
    let line = line_with(&err, "Allowlist does not allow");
    assert!(
        line.contains(&format!("Allowlist does not allow {}", recorder.http()))
            && line.contains("never an address that only a file names"),
        "{err}"
    );
    // Nor without VAULT_ADDR at all.
    let out = run(with_token(&sb, &token).arg("decrypt").arg(&file)).code_in(&[128]);
    recorder.assert_untouched("no allowlist, no VAULT_ADDR");
    assert!(
        out.err().contains("Allowlist does not allow"),
        "{}",
        out.err()
    );
    // The file as encrypted, for the Vault in VAULT_ADDR: decrypts.
    let good = vault_file(&sb, &real, &token, &real);
    let out = run(with_token(&sb, &token)
        .env("VAULT_ADDR", &real)
        .arg("decrypt")
        .arg(&good))
    .ok();
    assert_eq!(out.out(), "password: hunter2\n");
    // Control: VAULT_ADDR naming a listener sends the token there (so the
    // listener above would have seen it).
    let mut recorder = Recorder::start();
    let file = vault_file(&sb, &real, &token, &recorder.http());
    let out = run(with_token(&sb, &token)
        .env("VAULT_ADDR", recorder.http())
        .arg("decrypt")
        .arg(&file));
    assert_ne!(out.code, Some(0));
    let seen = recorder.received();
    assert!(
        seen.iter()
            .any(|c| String::from_utf8_lossy(c).contains(token.as_str())),
        "the control run should reach the listener with the token"
    );
}

#[test]
fn vault_token_never_goes_to_an_address_the_allowlist_does_not_name() {
    let Some((real, token)) = vault() else { return };
    let sb = Sandbox::new();
    let mut recorder = Recorder::start();
    let file = vault_file(&sb, &real, &token, &recorder.http());
    // The allowlist names only the real OpenBao: refused, nothing sent.
    let out = run(with_token(&sb, &token)
        .env("SOPS_HC_VAULT_ALLOWLIST", &real)
        .arg("decrypt")
        .arg(&file))
    .code_in(&[128]);
    recorder.assert_untouched("allowlist naming only the real Vault");
    let err = out.err();
    let line = line_with(&err, "Allowlist does not allow");
    assert!(
        line.contains(&format!("Allowlist does not allow {}", recorder.http()))
            && line.contains("SOPS_HC_VAULT_ALLOWLIST"),
        "{err}"
    );
    assert!(!err.contains(&token), "{err}");

    // `none`, and an allowlist that does not parse (sops' words): the same.
    let mut recorder = Recorder::start();
    let file = vault_file(&sb, &real, &token, &recorder.http());
    let out = run(with_token(&sb, &token)
        .env("SOPS_HC_VAULT_ALLOWLIST", "none")
        .arg("decrypt")
        .arg(&file))
    .code_in(&[128]);
    let out2 = run(with_token(&sb, &token)
        .env("SOPS_HC_VAULT_ALLOWLIST", format!("{real},"))
        .arg("decrypt")
        .arg(&file))
    .code_in(&[128]);
    recorder.assert_untouched("allowlist `none` / malformed");
    assert!(
        out.err().contains("Allowlist does not allow"),
        "{}",
        out.err()
    );
    assert!(
        out2.err()
            .contains("SOPS_HC_VAULT_ALLOWLIST's entry 2 is empty"),
        "{}",
        out2.err()
    );

    // Control: when the user's allowlist names the listener, the token goes
    // there (so the listener above would have seen it).
    let mut recorder = Recorder::start();
    let file = vault_file(&sb, &real, &token, &recorder.http());
    let out = run(with_token(&sb, &token)
        .env(
            "SOPS_HC_VAULT_ALLOWLIST",
            format!("{real}, {}", recorder.http()),
        )
        .arg("decrypt")
        .arg(&file))
    .code_in(&[128]);
    assert!(out.err().contains("HTTP 500"), "{}", out.err());
    let got = recorder.received();
    assert_eq!(got.len(), 1, "{got:?}");
    let request = String::from_utf8_lossy(&got[0]).to_ascii_lowercase();
    assert!(
        request.contains(&format!("x-vault-token: {}", token.to_ascii_lowercase())),
        "{request}"
    );

    // The real Vault, allowed by name, still works both ways.
    let real_file = vault_file(&sb, &real, &token, &real);
    let out = run(with_token(&sb, &token)
        .env("SOPS_HC_VAULT_ALLOWLIST", format!("{real}/"))
        .arg("decrypt")
        .arg(&real_file))
    .ok();
    assert_eq!(out.out(), "password: hunter2\n");
}

#[test]
fn vault_encrypt_and_rotate_check_the_address_too() {
    let Some((real, token)) = vault() else { return };
    let sb = Sandbox::new();
    let mut recorder = Recorder::start();
    let input = sb.write("p.yaml", "k: v\n");
    let out = run(with_token(&sb, &token)
        .env("SOPS_HC_VAULT_ALLOWLIST", &real)
        .args(["encrypt", "--age", &recipient(1), "--hc-vault-transit"])
        .arg(format!("{}/v1/transit/keys/sops", recorder.http()))
        .arg(&input))
    .code_in(&[1]);
    // rotate re-wraps the file's own keys: the crafted address is refused.
    let file = vault_file(&sb, &real, &token, &recorder.http());
    let out2 = run(with_token(&sb, &token)
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .env("SOPS_HC_VAULT_ALLOWLIST", &real)
        .args(["rotate", "-i"])
        .arg(&file));
    recorder.assert_untouched("encrypt / rotate");
    assert!(
        out.err().contains("Allowlist does not allow"),
        "{}",
        out.err()
    );
    assert_ne!(out2.code, Some(0), "{}", out2.err());
    assert!(
        out2.err().contains("Allowlist does not allow"),
        "{}",
        out2.err()
    );
}

#[test]
fn vault_token_never_goes_over_plain_http_off_loopback() {
    let Some((real, token)) = vault() else { return };
    let sb = Sandbox::new();
    // An IPv4-mapped address of the listener: loopback in effect, but not
    // one of the loopback forms enseal accepts; it is refused before any
    // connection, even with an allowlist that names it.
    let mut recorder = Recorder::start();
    let mapped = format!("http://[::ffff:127.0.0.1]:{}", recorder.port);
    let file = vault_file(&sb, &real, &token, &mapped);
    let out = run(with_token(&sb, &token)
        .env("SOPS_HC_VAULT_ALLOWLIST", format!("{mapped},{real}"))
        .arg("decrypt")
        .arg(&file))
    .code_in(&[128]);
    recorder.assert_untouched("IPv4-mapped http address");
    let err = out.err();
    let line = line_with(&err, "plain http");
    assert!(
        line.contains(&format!(
            "refusing to send the Vault token over plain http to {mapped}: use https://"
        )),
        "{err}"
    );
    // A documentation address (RFC 5737): refused before any network use.
    let far = "http://192.0.2.1:8200";
    let file = vault_file(&sb, &real, &token, far);
    let out = run(with_token(&sb, &token)
        .env("SOPS_HC_VAULT_ALLOWLIST", "all")
        .arg("decrypt")
        .arg(&file))
    .code_in(&[128]);
    assert!(
        out.err().contains(&format!(
            "refusing to send the Vault token over plain http to {far}"
        )),
        "{}",
        out.err()
    );
    // An address with user info (`https://trusted@evil`) is refused too.
    let mut recorder2 = Recorder::start();
    let userinfo = format!("https://vault.example.com@127.0.0.1:{}", recorder2.port);
    let file = vault_file(&sb, &real, &token, &userinfo);
    let out = run(with_token(&sb, &token)
        .env("SOPS_HC_VAULT_ALLOWLIST", "all")
        .arg("decrypt")
        .arg(&file))
    .code_in(&[128]);
    recorder2.assert_untouched("user info");
    assert!(
        out.err().contains("refusing Vault address"),
        "{}",
        out.err()
    );
}

// ---------------------------------------------------------------------------
// AWS KMS
// ---------------------------------------------------------------------------

/// A sops file whose only key is a kms entry with these fields.
fn kms_file(sb: &Sandbox, arn: &str, role: &str, profile: &str) -> PathBuf {
    let mut entry = format!("        - arn: '{arn}'\n");
    if !role.is_empty() {
        entry.push_str(&format!("          role: '{role}'\n"));
    }
    entry.push_str(&format!(
        "          created_at: \"2026-01-01T00:00:00Z\"\n          enc: AQICAHhAAAA=\n          aws_profile: '{profile}'\n"
    ));
    sb.write(
        "kms.yaml",
        format!(
            "a: ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAAAAAAAA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\n\
             sops:\n    kms:\n{entry}    lastmodified: \"2026-01-01T00:00:00Z\"\n\
             \x20   mac: ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAAAAAAAA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\n\
             \x20   version: 3.11.0\n"
        ),
    )
}

/// enseal with dummy AWS credentials, no IMDS, no shared config, and every
/// AWS endpoint set to `endpoint` (the user's trusted environment).
fn aws(sb: &Sandbox, endpoint: &str) -> Command {
    let mut cmd = sb.enseal();
    cmd.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_ENDPOINT_URL", endpoint);
    cmd
}

#[test]
fn kms_arns_from_a_file_cannot_choose_the_endpoint() {
    let sb = Sandbox::new();
    for (arn, why) in [
        (
            "arn:aws:kms:us-east-1.evil.example:123456789012:key/abc",
            "region",
        ),
        (
            "arn:aws:kms:us-east-1.evil.example#:123456789012:key/abc",
            "region",
        ),
        ("arn:aws:kms:x@127.0.0.1:1/#:123456789012:key/abc", "region"),
        ("arn:aws:kms:US-EAST-1:123456789012:key/abc", "region"),
        (
            "arn:aws:kms:us-east-1:123456789012:key/abc:1:key/def",
            "key id",
        ),
        ("arn:aws:kms:us-east-1:123456789012:key/a?b", "key id"),
        ("arn:aws:kms:us-east-1:123456789012:key/a b", "key id"),
        ("arn:aws_x:kms:us-east-1:123456789012:key/abc", "partition"),
        ("arn:aws:kms:us-east-1:12x:key/abc:1:alias/a", "account"),
    ] {
        let mut recorder = Recorder::start();
        let file = kms_file(&sb, arn, "", "");
        let out = run(aws(&sb, &recorder.http()).arg("decrypt").arg(&file)).code_in(&[128]);
        recorder.assert_untouched(arn);
        let err = out.err();
        let line = line_with(&err, "not a valid AWS KMS key ARN");
        assert!(line.contains(why), "{arn}: {err}");
    }
    // Control: a well-formed ARN reaches the user's endpoint.
    let mut recorder = Recorder::start();
    let file = kms_file(
        &sb,
        "arn:aws-us-gov:kms:us-gov-west-1:123456789012:alias/team/sops_key-1",
        "",
        "",
    );
    run(aws(&sb, &recorder.http()).arg("decrypt").arg(&file)).code_in(&[128]);
    let got = recorder.received();
    assert!(!got.is_empty(), "the control request was not received");
    assert!(
        String::from_utf8_lossy(&got[0]).contains("us-gov-west-1/kms/aws4_request"),
        "{:?}",
        String::from_utf8_lossy(&got[0])
    );
}

#[test]
fn kms_roles_and_profiles_from_a_file_are_validated() {
    let sb = Sandbox::new();
    let arn = "arn:aws:kms:us-east-1:123456789012:key/3156c419-c47a-4f3f-a45d-c1565a8d4767";
    for (role, profile, what) in [
        ("arn:aws:iam::123456789012:user/alice", "", "role"),
        ("arn:aws:iam::123456789012:role/x y", "", "role"),
        ("arn:aws:iam::123456789012:role/x#@127.0.0.1", "", "role"),
        ("arn:aws:iam:us-east-1.evil:123456789012:role/x", "", "role"),
        ("", "a profile", "profile"),
        ("", "../../etc/passwd", "profile"),
        ("", "default]\n[evil", "profile"),
    ] {
        let mut recorder = Recorder::start();
        let file = kms_file(&sb, arn, role, &profile.replace('\n', "\\n"));
        let out = run(aws(&sb, &recorder.http()).arg("decrypt").arg(&file)).code_in(&[128]);
        recorder.assert_untouched(&format!("{role} {profile}"));
        let err = out.err();
        assert!(
            err.contains(&format!("refusing the AWS {what}")),
            "{role} {profile}: {err}"
        );
    }
}

// ---------------------------------------------------------------------------
// PGP
// ---------------------------------------------------------------------------

/// A `SOPS_GPG_EXEC` stand-in that logs its arguments to `log`, then fails.
fn logging_gpg(sb: &Sandbox, log: &Path) -> PathBuf {
    let script = sb.root().join("gpg-log.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> '{}'; done\ncat >/dev/null\necho 'gpg: logging stand-in' >&2\nexit 2\n",
            log.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    script
}

/// A file for age key 1 with an extra pgp entry of fingerprint `fp` (what
/// a crafted pull request could add): `rotate` re-wraps the data key for it.
fn age_file_with_pgp(sb: &Sandbox, fp: &str) -> PathBuf {
    let input = sb.write("plain.yaml", "k: v\n");
    let out = run(sb
        .enseal()
        .args(["encrypt", "--age", &recipient(1)])
        .arg(&input))
    .ok();
    let text = out.out();
    let pgp = format!(
        "sops:\n    pgp:\n        - created_at: \"2026-01-01T00:00:00Z\"\n          enc: |-\n            -----BEGIN PGP MESSAGE-----\n\n            AAAA\n            -----END PGP MESSAGE-----\n          fp: '{fp}'\n"
    );
    assert!(text.contains("\nsops:\n"), "{text}");
    sb.write("pgp.yaml", text.replacen("sops:\n", &pgp, 1))
}

#[test]
fn pgp_fingerprints_from_a_file_never_reach_gpg_unchecked() {
    let sb = Sandbox::new();
    let log = sb.root().join("gpg-args.log");
    let gpg = logging_gpg(&sb, &log);
    for fp in [
        "--homedir=/tmp/enseal-evil",
        "-oevil",
        "alice@evil.example",
        "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4 --keyserver=evil",
        "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B\u{301}",
        "../FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4",
    ] {
        let file = age_file_with_pgp(&sb, fp);
        let out = run(sb
            .enseal()
            .env("SOPS_AGE_KEY_FILE", key_file(1))
            .env("SOPS_GPG_EXEC", &gpg)
            .args(["rotate", "-i"])
            .arg(&file));
        assert!(
            !log.exists(),
            "{fp}: gpg ran with {:?}",
            std::fs::read_to_string(&log)
        );
        assert_ne!(out.code, Some(0), "{fp}: {}", out.err());
        let err = out.err();
        assert!(
            err.contains("is not a PGP fingerprint or key id"),
            "{fp}: {err}"
        );
    }
    // Control: a fingerprint does reach gpg, after the options.
    let fp = "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4";
    let file = age_file_with_pgp(&sb, fp);
    let out = run(sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .env("SOPS_GPG_EXEC", &gpg)
        .args(["rotate", "-i"])
        .arg(&file));
    assert_ne!(out.code, Some(0));
    let args = std::fs::read_to_string(&log).expect("gpg ran for a real fingerprint");
    let args: Vec<&str> = args.lines().collect();
    assert_eq!(
        args,
        [
            "--no-default-recipient",
            "--yes",
            "--encrypt",
            "-a",
            "-r",
            fp,
            "--trusted-key",
            "3D16CEE4A27381B4",
            "--no-encrypt-to"
        ]
    );
    // Decryption passes nothing from the file on the command line, and
    // keeps gpg from fetching a signer's key the message might name.
    std::fs::remove_file(&log).unwrap();
    let out = run(sb
        .enseal()
        .env("SOPS_GPG_EXEC", &gpg)
        .env("SOPS_DECRYPTION_ORDER", "pgp")
        .arg("decrypt")
        .arg(&file));
    assert_eq!(out.code, Some(128), "{}", out.err());
    let args = std::fs::read_to_string(&log).expect("gpg ran to decrypt");
    assert_eq!(args, "--no-auto-key-retrieve\n-d\n");
}

// ---------------------------------------------------------------------------
// age
// ---------------------------------------------------------------------------

/// A `SOPS_AGE_KEY_CMD` that logs `$SOPS_AGE_RECIPIENT` and prints key 1.
fn logging_key_cmd(sb: &Sandbox, log: &Path) -> String {
    let script = sb.root().join("key-cmd.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '[%s]\\n' \"$SOPS_AGE_RECIPIENT\" >> '{}'\ncat '{}'\n",
            log.display(),
            key_file(1).display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    script.display().to_string()
}

#[test]
fn age_key_commands_get_only_valid_recipients() {
    let sb = Sandbox::new();
    let log = sb.root().join("recipients.log");
    let cmd = logging_key_cmd(&sb, &log);
    let input = sb.write("plain.yaml", "k: v\n");
    let encrypted = run(sb
        .enseal()
        .args(["encrypt", "--age", &recipient(1)])
        .arg(&input))
    .ok()
    .out();
    // Control: the real recipient reaches the command, which decrypts.
    let file = sb.write("good.yaml", &encrypted);
    let out = run(sb
        .enseal()
        .env("SOPS_AGE_KEY_CMD", &cmd)
        .arg("decrypt")
        .arg(&file))
    .ok();
    assert_eq!(out.out(), "k: v\n");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        format!("[{}]\n", recipient(1))
    );
    std::fs::remove_file(&log).unwrap();
    // A crafted recipient is not passed to the command.
    for crafted in [
        "../../../home/alice/.ssh/id_ed25519",
        "$(touch /tmp/enseal-pwned)",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOJK7hHSzGYxWhVk6K0i7wjR7TiiLTm8DAlbkvfkXU4D ../../x",
    ] {
        let text = encrypted.replace(
            &format!("recipient: {}", recipient(1)),
            &format!("recipient: '{crafted}'"),
        );
        let file = sb.write("crafted.yaml", text);
        let out = run(sb
            .enseal()
            .env("SOPS_AGE_KEY_CMD", &cmd)
            .arg("decrypt")
            .arg(&file));
        assert!(
            !log.exists(),
            "{crafted}: the key command received {:?}",
            std::fs::read_to_string(&log)
        );
        assert_eq!(out.code, Some(128), "{crafted}: {}", out.err());
        assert!(
            out.err().contains("not passed to SOPS_AGE_KEY_CMD"),
            "{crafted}: {}",
            out.err()
        );
    }
}

/// A Bech32 string with human-readable part `hrp` (checksum included).
fn bech32(hrp: &str) -> String {
    bech32::encode::<bech32::Bech32>(bech32::Hrp::parse(hrp).unwrap(), &[1, 2, 3, 4]).unwrap()
}

#[test]
fn age_plugin_names_from_a_file_cannot_name_a_path() {
    let sb = Sandbox::new();
    // A trap the crafted names below would reach if taken as paths.
    let trap_log = sb.root().join("trap.log");
    std::fs::create_dir_all(sb.path("age-plugin-..")).unwrap();
    std::fs::create_dir_all(sb.path("x")).unwrap();
    let trap = sb.path("x/evil");
    std::fs::write(
        &trap,
        format!("#!/bin/sh\necho ran >> '{}'\n", trap_log.display()),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&trap, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let input = sb.write("plain.yaml", "k: v\n");
    let encrypted = run(sb
        .enseal()
        .args(["encrypt", "--age", &recipient(1)])
        .arg(&input))
    .ok()
    .out();
    for hrp in ["age1../x/evil", "age1/tmp/evil", "age1x\\evil"] {
        let crafted = bech32(hrp);
        assert!(encrypted.contains("\n    age:\n"), "{encrypted}");
        let text = encrypted.replacen(
            "\n    age:\n",
            &format!("\n    age:\n        - recipient: {crafted}\n          enc: AAAA\n"),
            1,
        );
        let file = sb.write("plugin.yaml", text);
        let out = run(sb
            .enseal()
            .env("SOPS_AGE_KEY_FILE", key_file(1))
            .args(["rotate", "-i"])
            .arg(&file));
        assert_ne!(out.code, Some(0), "{hrp}");
        assert!(
            out.err().contains("invalid plugin name"),
            "{hrp}: {}",
            out.err()
        );
        assert!(!trap_log.exists(), "{hrp}: the trap ran");
    }
}

#[test]
fn age_plugins_named_by_a_file_never_run_from_the_current_directory() {
    let sb = Sandbox::new();
    // The cloned repository (the working directory) ships a "plugin".
    let trap_log = sb.root().join("trap.log");
    let trap = sb.path("age-plugin-enseal-trap");
    std::fs::write(
        &trap,
        format!("#!/bin/sh\necho ran >> '{}'\nexit 1\n", trap_log.display()),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&trap, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let input = sb.write("plain.yaml", "k: v\n");
    let encrypted = run(sb
        .enseal()
        .args(["encrypt", "--age", &recipient(1)])
        .arg(&input))
    .ok()
    .out();
    let crafted = bech32("age1enseal-trap");
    let text = encrypted.replacen(
        "\n    age:\n",
        &format!("\n    age:\n        - recipient: {crafted}\n          enc: AAAA\n"),
        1,
    );
    let file = sb.write("plugin.yaml", text);
    // A user whose PATH starts with `.` (or has an empty entry).
    let path = format!(".:{}", std::env::var("PATH").unwrap_or_default());
    let out = run(sb
        .enseal()
        .env("PATH", path)
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .args(["rotate", "-i"])
        .arg(&file));
    assert!(
        !trap_log.exists(),
        "the plugin in the current directory ran"
    );
    assert_ne!(out.code, Some(0));
    assert!(
        out.err()
            .contains("refusing to run age plugin age-plugin-enseal-trap"),
        "{}",
        out.err()
    );
}

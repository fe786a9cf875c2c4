//! PGP master keys (`pgp` in the metadata): the data key is wrapped by the
//! `gpg` binary (`SOPS_GPG_EXEC`), as sops does, and stored ASCII-armored in
//! `enc`.
//!
//! The arguments are the reference's own: encryption runs
//! `gpg --no-default-recipient --yes --encrypt -a -r FPR --trusted-key SHORT --no-encrypt-to`
//! and decryption `gpg -d` (plus `--no-auto-key-retrieve`, see below). gpg finds its home (`GNUPGHOME`, else
//! `~/.gnupg`), agent, pinentry and smartcards itself. The secret goes
//! through a stdin pipe, never a file, and the decrypted data key is read
//! from a pipe into zeroized memory. A gpg that does not finish within
//! [`GPG_TIMEOUT`] (a pinentry left unanswered, a smartcard never touched)
//! is killed.
//!
//! The fingerprint comes from the file (untrusted) when its keys are
//! re-wrapped (`rotate`, `updatekeys`, `encrypt -i`). It is checked with
//! [`check_fingerprint`] before gpg runs: hexadecimal only, so gpg can never
//! read it as an option, a file name, or a user id that its
//! `--auto-key-locate` would look up on the network (WKD, keyservers). The
//! command lines hold no positional argument (data goes through stdin), so
//! there is nothing to separate with `--`. Decryption runs
//! `gpg --no-auto-key-retrieve -d` with the message on stdin: the message
//! comes from the file too, and a signed one would otherwise make a gpg
//! configured with `auto-key-retrieve` fetch the signer's key from a
//! keyserver or from the web key directory of the signer's domain.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{created_at_now, field, set_field};
use crate::tree::Map;
use zeroize::Zeroizing;

/// How long one gpg run may take (long enough to type a passphrase into
/// pinentry or touch a smartcard).
pub const GPG_TIMEOUT: Duration = Duration::from_secs(180);

/// The gpg program: `SOPS_GPG_EXEC`, else `gpg` from `PATH`.
fn gpg_program() -> String {
    std::env::var("SOPS_GPG_EXEC")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "gpg".to_string())
}

/// The id passed to `--trusted-key`: the last 16 hex digits of the
/// fingerprint (17 characters when it ends with `!`), as sops does.
pub fn short_id(fingerprint: &str) -> &str {
    let mut take = 16;
    if fingerprint.ends_with('!') {
        take += 1;
    }
    let start = fingerprint.len().saturating_sub(take);
    fingerprint.get(start..).unwrap_or(fingerprint)
}

/// Checks that `fp` is a key id or fingerprint in hexadecimal (8, 16, 32,
/// 40 or 64 digits, optionally `0x` before and `!` after, as gpg takes
/// them), so that it cannot be read by gpg as anything else.
pub fn check_fingerprint(fp: &str) -> Result<(), String> {
    let digits = fp.strip_suffix('!').unwrap_or(fp);
    let digits = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
        .unwrap_or(digits);
    if [8, 16, 32, 40, 64].contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_hexdigit())
    {
        Ok(())
    } else {
        Err(format!(
            "refusing PGP key '{}': it is not a PGP fingerprint or key id (8 to 64 hexadecimal digits); check where this key entry came from",
            fp.escape_debug()
        ))
    }
}

/// Wraps `secret` (a data key or Shamir share) for the key described by
/// `fields`, filling its `enc` and `created_at` fields.
pub fn wrap(fields: &mut Map, secret: &[u8]) -> Result<(), String> {
    let fp = field(fields, "fp").to_string();
    if fp.is_empty() {
        return Err("the PGP key has no fingerprint (fp)".into());
    }
    check_fingerprint(&fp)?;
    let args = [
        "--no-default-recipient",
        "--yes",
        "--encrypt",
        "-a",
        "-r",
        &fp,
        "--trusted-key",
        short_id(&fp),
        "--no-encrypt-to",
    ];
    let out = run_gpg(&args, secret)
        .map_err(|e| format!("could not encrypt data key with PGP key {fp}: {e}"))?;
    let armored = String::from_utf8(out.to_vec()).map_err(|_| {
        format!("could not encrypt data key with PGP key {fp}: gpg wrote a non-UTF-8 message")
    })?;
    let armored = armored.trim();
    if !armored.starts_with("-----BEGIN PGP MESSAGE-----") {
        return Err(format!(
            "could not encrypt data key with PGP key {fp}: gpg did not write an armored message"
        ));
    }
    set_field(fields, "enc", armored.to_string());
    set_field(fields, "created_at", created_at_now());
    Ok(())
}

/// Unwraps the data key or share stored in `fields`.
pub fn unwrap(fields: &Map) -> Result<Zeroizing<Vec<u8>>, String> {
    let fp = field(fields, "fp");
    let enc = field(fields, "enc");
    if enc.is_empty() {
        return Err(format!("PGP key {fp}: no encrypted data key (enc) stored"));
    }
    let out = run_gpg(&["--no-auto-key-retrieve", "-d"], enc.as_bytes())
        .map_err(|e| format!("could not decrypt data key with PGP key {fp}: {e}"))?;
    if out.is_empty() {
        return Err(format!(
            "could not decrypt data key with PGP key {fp}: gpg returned empty output (this might be a result of a newer version of gpg being installed)"
        ));
    }
    Ok(out)
}

/// Runs gpg with `args`, feeding `input` on stdin; returns its stdout, or
/// a one-line error with gpg's messages.
fn run_gpg(args: &[&str], input: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
    run_with_timeout(&gpg_program(), args, input, GPG_TIMEOUT)
}

/// Runs `program` with `args` and `input` on stdin, within `timeout`.
/// Returns stdout (zeroized on drop); on failure a one-line error made of
/// the program's stderr lines.
fn run_with_timeout(
    program: &str,
    args: &[&str],
    input: &[u8],
    timeout: Duration,
) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!("cannot run {program:?}: {e} (set SOPS_GPG_EXEC to the gpg program)")
        })?;
    let mut stdin = child.stdin.take();
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let result = std::thread::scope(|scope| {
        let writer = scope.spawn(move || {
            if let Some(mut pipe) = stdin.take() {
                // gpg may exit early (unknown key): a broken pipe is
                // reported through its status and stderr instead.
                let _ = pipe.write_all(input);
            }
        });
        let out_reader = scope.spawn(move || {
            let mut buf = Zeroizing::new(Vec::new());
            if let Some(pipe) = stdout.as_mut() {
                let _ = pipe.read_to_end(&mut buf);
            }
            buf
        });
        let err_reader = scope.spawn(move || {
            let mut buf = Vec::new();
            if let Some(pipe) = stderr.as_mut() {
                let _ = pipe.take(64 * 1024).read_to_end(&mut buf);
            }
            buf
        });
        let status = wait_with_timeout(&mut child, timeout);
        let _ = writer.join();
        let out = out_reader.join().unwrap_or_default();
        let err = err_reader.join().unwrap_or_default();
        (status, out, err)
    });
    let (status, out, err) = result;
    match status {
        Err(e) => Err(e),
        Ok(status) if status.success() => Ok(out),
        Ok(status) => {
            let messages = one_line(&String::from_utf8_lossy(&err));
            Err(if messages.is_empty() {
                format!("{program} failed ({status})")
            } else {
                messages
            })
        }
    }
}

/// Waits for `child`, killing it after `timeout`.
fn wait_with_timeout(
    child: &mut Child,
    timeout: Duration,
) -> Result<std::process::ExitStatus, String> {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if start.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "gpg did not finish within {} seconds and was stopped",
                    timeout.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("cannot wait for gpg: {e}")),
        }
    }
}

/// gpg's stderr as one line: its non-empty lines joined with `; `, at most
/// 500 characters.
fn one_line(stderr: &str) -> String {
    let mut line = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    if line.chars().count() > 500 {
        line = line.chars().take(500).collect::<String>() + "…";
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_like_sops() {
        assert_eq!(
            short_id("3EF57F4AB00E4942FF077960FCD762C81B6D6F90"),
            "FCD762C81B6D6F90"
        );
        assert_eq!(
            short_id("3EF57F4AB00E4942FF077960FCD762C81B6D6F90!"),
            "FCD762C81B6D6F90!"
        );
        assert_eq!(short_id("ABCDEF"), "ABCDEF");
    }

    #[test]
    fn only_hexadecimal_fingerprints_reach_gpg() {
        for good in [
            "3EF57F4AB00E4942FF077960FCD762C81B6D6F90",
            "3ef57f4ab00e4942ff077960fcd762c81b6d6f90!",
            "FCD762C81B6D6F90",
            "0xFCD762C81B6D6F90",
            "1B6D6F90",
            &"A".repeat(64),
        ] {
            assert_eq!(check_fingerprint(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "--homedir=/tmp/x",
            "-oevil",
            "alice@example.com",
            "<alice@example.com>",
            "3EF57F4AB00E4942FF077960FCD762C81B6D6F9",
            "3EF5 7F4A B00E 4942 FF07 7960 FCD7 62C8 1B6D 6F90",
            "3EF57F4AB00E4942FF077960FCD762C81B6D6F90 --keyserver=x",
            "3EF57F4AB00E4942FF077960FCD762C81B6D6F9G",
            "../3EF57F4AB00E4942FF077960FCD762C81B6D6F90",
            "3EF57F4AB00E4942FF077960FCD762C81B6D6F90\n",
            "!3EF57F4AB00E4942",
        ] {
            let err = check_fingerprint(bad).unwrap_err();
            assert!(
                err.contains("not a PGP fingerprint or key id"),
                "{bad}: {err}"
            );
            assert!(!err.contains('\n'), "{err}");
        }
        // wrap refuses before running anything.
        let mut fields = crate::keys::map_of(vec![(
            "fp",
            crate::tree::Value::Str("--homedir=/tmp/x".into()),
        )]);
        let err = wrap(&mut fields, b"secret").unwrap_err();
        assert!(err.starts_with("refusing PGP key"), "{err}");
    }

    #[test]
    fn stderr_becomes_one_line() {
        assert_eq!(
            one_line("gpg: encrypted with key X\n      \"name\"\ngpg: decryption failed: No secret key\n"),
            "gpg: encrypted with key X; \"name\"; gpg: decryption failed: No secret key"
        );
        assert!(one_line(&"x".repeat(2000)).chars().count() <= 501);
    }

    #[test]
    fn a_program_that_hangs_is_stopped() {
        let start = Instant::now();
        let err = run_with_timeout("sleep", &["30"], b"", Duration::from_millis(300)).unwrap_err();
        assert!(err.contains("did not finish"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn failures_carry_stderr_and_success_stdout() {
        let err = run_with_timeout(
            "sh",
            &["-c", "cat >/dev/null; echo 'gpg: bad' >&2; exit 2"],
            b"x",
            GPG_TIMEOUT,
        )
        .unwrap_err();
        assert_eq!(err, "gpg: bad");
        let out = run_with_timeout("cat", &[], b"secret", GPG_TIMEOUT).unwrap();
        assert_eq!(out.as_slice(), b"secret");
        let err = run_with_timeout("/nonexistent/gpg", &[], b"", GPG_TIMEOUT).unwrap_err();
        assert!(err.contains("SOPS_GPG_EXEC"), "{err}");
    }
}

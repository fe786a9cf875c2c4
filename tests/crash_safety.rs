//! Crash safety: `kill -9` at random moments during every command that
//! rewrites a file (`encrypt -i`, `edit`, `rotate -i`, `updatekeys -y`).
//! After each kill the file must be either the old or the new complete
//! version, with its permissions kept, and no plaintext may be left next
//! to it.
//!
//! Each command runs 100 times; the kill delay is spread over the time an
//! uninterrupted run takes (measured first), so kills land before, during
//! and after the write.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TRIALS: usize = 100;
const MODE: u32 = 0o640;
/// A value that appears in no encrypted file; leftovers must not hold it.
const MARKER: &str = "plaintext-marker-7f3a";

/// A YAML file big enough that encrypting it takes a noticeable time.
fn plaintext() -> String {
    let mut s = String::new();
    for i in 0..400 {
        s.push_str(&format!("key{i:04}: {MARKER}-{i}\n"));
    }
    s.push_str("nested:\n    list:\n        - a\n        - 2\n");
    s
}

/// A tiny deterministic generator (xorshift), so failures can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

struct Bench {
    sb: Sandbox,
    file: PathBuf,
    key: PathBuf,
}

impl Bench {
    fn new() -> Bench {
        let sb = Sandbox::new();
        let key = key_file(1);
        let file = sb.path("secrets.yaml");
        Bench { sb, file, key }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.sb.enseal();
        cmd.env("SOPS_AGE_KEY_FILE", &self.key)
            .env("TMPDIR", self.sb.root())
            .args(args)
            .arg(&self.file);
        cmd
    }

    fn encrypted_fixture(&self) -> Vec<u8> {
        let plain = self.sb.write("plain.yaml", plaintext());
        run(self
            .sb
            .enseal()
            .args(["encrypt", "--age", &recipient(1)])
            .arg(&plain))
        .ok()
        .stdout
    }

    fn reset(&self, bytes: &[u8]) {
        std::fs::write(&self.file, bytes).unwrap();
        std::fs::set_permissions(&self.file, std::fs::Permissions::from_mode(MODE)).unwrap();
    }

    /// The decrypted file, or `None` when it does not decrypt.
    fn decrypt(&self) -> Option<String> {
        let out = run(self
            .sb
            .enseal()
            .env("SOPS_AGE_KEY_FILE", &self.key)
            .arg("decrypt")
            .arg(&self.file));
        (out.code == Some(0)).then(|| out.out())
    }

    /// Runs `cmd` to the end once and returns how long it took.
    fn time(&self, mut cmd: Command) -> Duration {
        let start = Instant::now();
        let status = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "uninterrupted run failed: {cmd:?}");
        start.elapsed()
    }

    /// Files in the sandbox (outside `home/`) other than the target that
    /// contain the plaintext marker.
    fn plaintext_leftovers(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        walk(self.sb.root(), &mut |p| {
            if p == self.file || p.ends_with("plain.yaml") || p.starts_with(self.sb.home()) {
                return;
            }
            if let Ok(bytes) = std::fs::read(p) {
                if String::from_utf8_lossy(&bytes).contains(MARKER) {
                    found.push(p.to_path_buf());
                }
            }
        });
        found
    }
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_dir() {
            walk(&p, f);
        } else {
            f(&p);
        }
    }
}

/// What a trial found after the kill.
#[derive(Debug, Default)]
struct Tally {
    old: usize,
    new: usize,
}

/// Kills `make()` at random moments `TRIALS` times; after each kill the
/// file must be byte-identical to `old` or satisfy `is_new`, keep its mode,
/// and no file may hold plaintext (the edit command's own temporary
/// directory is an exception a SIGKILL cannot avoid: it is counted and
/// removed, and must be private).
fn trials(
    name: &str,
    bench: &Bench,
    old: &[u8],
    make: &dyn Fn() -> Command,
    is_new: &dyn Fn(&Bench, &[u8]) -> bool,
    seed: u64,
) -> Tally {
    bench.reset(old);
    let full = bench.time(make());
    let span = (full.as_micros() as u64 * 12 / 10).max(1000);
    let mut rng = Rng(seed);
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    for trial in 0..TRIALS {
        bench.reset(old);
        let delay = Duration::from_micros(rng.below(span));
        let mut child = make()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // The editor (a child of enseal) may outlive it for a moment.
        std::thread::sleep(Duration::from_millis(5));
        let now = std::fs::read(&bench.file).unwrap_or_default();
        let mode = std::fs::metadata(&bench.file)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0);
        if mode != MODE {
            failures.push(format!("trial {trial} ({delay:?}): mode {mode:o}"));
        }
        if now == old {
            tally.old += 1;
        } else if is_new(bench, &now) {
            tally.new += 1;
        } else {
            failures.push(format!(
                "trial {trial} ({delay:?}): neither old nor new ({} bytes)",
                now.len()
            ));
        }
        for p in bench.plaintext_leftovers() {
            let private = p
                .parent()
                .and_then(|d| std::fs::metadata(d).ok())
                .map(|m| m.permissions().mode() & 0o077 == 0)
                .unwrap_or(false);
            let file_private = std::fs::metadata(&p)
                .map(|m| m.permissions().mode() & 0o077 == 0)
                .unwrap_or(false);
            if !(private && file_private && name == "edit") {
                failures.push(format!("trial {trial}: plaintext left in {}", p.display()));
            }
            if let Some(dir) = p.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
    eprintln!(
        "{name}: {TRIALS} kills over {span} µs: {} old, {} new",
        tally.old, tally.new
    );
    report(name, TRIALS, failures);
    tally
}

#[test]
fn encrypt_in_place_survives_kill_9() {
    let bench = Bench::new();
    let plain = plaintext();
    let r = recipient(1);
    let make = || bench.command(&["encrypt", "-i", "--age", &r]);
    let is_new = |b: &Bench, _: &[u8]| b.decrypt().as_deref() == Some(plain.as_str());
    let tally = trials("encrypt -i", &bench, plain.as_bytes(), &make, &is_new, 1);
    assert!(tally.new > 0, "no kill landed after the write: {tally:?}");
}

#[test]
fn edit_survives_kill_9() {
    let bench = Bench::new();
    let old = bench.encrypted_fixture();
    let editor = bench.sb.write(
        "editor.sh",
        "#!/bin/sh\nsed -i 's/^key0001: .*/key0001: changed/' \"$1\"\n",
    );
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let make = || {
        let mut cmd = bench.command(&["edit"]);
        cmd.env("EDITOR", &editor);
        cmd
    };
    let want = plaintext().replace(&format!("key0001: {MARKER}-1\n"), "key0001: changed\n");
    let is_new = |b: &Bench, _: &[u8]| b.decrypt().as_deref() == Some(want.as_str());
    let tally = trials("edit", &bench, &old, &make, &is_new, 2);
    assert!(tally.new > 0, "no kill landed after the write: {tally:?}");
}

#[test]
fn rotate_in_place_survives_kill_9() {
    let bench = Bench::new();
    let old = bench.encrypted_fixture();
    let plain = plaintext();
    let make = || bench.command(&["rotate", "-i"]);
    let is_new = |b: &Bench, _: &[u8]| b.decrypt().as_deref() == Some(plain.as_str());
    let tally = trials("rotate -i", &bench, &old, &make, &is_new, 3);
    assert!(tally.new > 0, "no kill landed after the write: {tally:?}");
}

#[test]
fn updatekeys_survives_kill_9() {
    let bench = Bench::new();
    let old = bench.encrypted_fixture();
    let r2 = recipient(2);
    bench.sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: secrets\\.yaml$\n    age: {},{}\n",
            recipient(1),
            r2
        ),
    );
    let plain = plaintext();
    let make = || bench.command(&["updatekeys", "-y"]);
    let is_new = |b: &Bench, now: &[u8]| {
        String::from_utf8_lossy(now).contains(&r2) && b.decrypt().as_deref() == Some(plain.as_str())
    };
    let tally = trials("updatekeys -y", &bench, &old, &make, &is_new, 4);
    assert!(tally.new > 0, "no kill landed after the write: {tally:?}");
}

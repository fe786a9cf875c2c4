//! Concurrent writers of one file lose no update: every read-modify-write
//! command locks the file (flock) from its read to its rename, a second
//! writer waits and then works on the new version, and a writer that waits
//! too long (`ENSEAL_LOCK_TIMEOUT`) fails with exit 3 naming the holder's
//! PID, leaving the file unchanged.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn enseal_k(sb: &Sandbox) -> Command {
    let mut cmd = sb.enseal();
    cmd.env("SOPS_AGE_KEY_FILE", key_file(1));
    cmd
}

fn fixture(sb: &Sandbox) -> PathBuf {
    sb.copy(&reference("yaml-basic.enc.yaml"), "basic.enc.yaml")
}

/// Holds an exclusive flock on `path` (as another enseal would) until
/// dropped: in a child process of its own, so that the holder's PID is
/// known and no process this test binary forks meanwhile (other tests run
/// in parallel) shares the lock's descriptor.
struct Held {
    child: Child,
}

impl Held {
    /// The holder's process id.
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        // Closing its standard input ends the holder, which releases the lock.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn hold(path: &Path) -> Held {
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import fcntl, sys\n\
             f = open(sys.argv[1])\n\
             fcntl.flock(f, fcntl.LOCK_EX)\n\
             print('locked', flush=True)\n\
             sys.stdin.read()",
        ])
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 (installed by CI) to hold a lock");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "locked\n", "cannot lock {}", path.display());
    Held { child }
}

fn wait_bounded(child: &mut Child, what: &str) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > CHILD_TIMEOUT {
            let _ = child.kill();
            panic!("{what} did not finish");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn twenty_concurrent_sets_keep_all_twenty_keys() {
    let sb = Sandbox::new();
    let file = fixture(&sb);
    let mut children: Vec<(usize, Child)> = (0..20)
        .map(|i| {
            let child = enseal_k(&sb)
                .env("ENSEAL_LOCK_TIMEOUT", "170")
                .arg("set")
                .arg(&file)
                .arg(format!("[\"concurrent_{i}\"]"))
                .arg(format!("\"value {i}\""))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (i, child)
        })
        .collect();
    for (i, child) in &mut children {
        let status = wait_bounded(child, &format!("set #{i}"));
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        assert!(status.success(), "set #{i}: {status}: {err}");
        for line in err.lines() {
            // "PID N", or "another process" when the holder let go
            // between the attempt and the look-up.
            assert!(line.starts_with("waiting for "), "set #{i}: {line}");
        }
    }
    let plain = run(enseal_k(&sb).arg("decrypt").arg(&file)).ok().out();
    let missing: Vec<usize> = (0..20)
        .filter(|i| !plain.contains(&format!("concurrent_{i}: value {i}\n")))
        .collect();
    assert!(missing.is_empty(), "keys lost: {missing:?}\n{plain}");
    // Everything that was there before is still there.
    let original = run(enseal_k(&sb)
        .arg("decrypt")
        .arg(reference("yaml-basic.enc.yaml")))
    .ok()
    .out();
    assert!(plain.starts_with(original.trim_end()), "{plain}");
    if let Some(sops) = require_sops() {
        let out = run(sb
            .sops(&sops)
            .env("SOPS_AGE_KEY_FILE", key_file(1))
            .arg("decrypt")
            .arg(&file))
        .ok();
        assert_eq!(out.out(), plain, "the reference decrypts the result");
    }
    // No lock or temporary file is left beside the file.
    let names: Vec<String> = std::fs::read_dir(sb.work())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["basic.enc.yaml"]);
}

#[test]
fn a_held_lock_and_a_short_timeout_name_the_holder() {
    let sb = Sandbox::new();
    let file = fixture(&sb);
    let before = std::fs::read(&file).unwrap();
    let held = hold(&file);
    let out = run(enseal_k(&sb)
        .env("ENSEAL_LOCK_TIMEOUT", "0.2")
        .arg("set")
        .arg(&file)
        .arg("[\"k\"]")
        .arg("\"v\""))
    .code_in(&[3]);
    let err = out.err();
    let pid = held.pid();
    assert!(
        err.contains(&format!(
            "waiting for PID {pid}, which is writing {}",
            file.display()
        )),
        "{err}"
    );
    let last = err.lines().last().unwrap_or_default().to_string();
    assert!(
        last.contains(&format!("locked by PID {pid}")) && last.contains("ENSEAL_LOCK_TIMEOUT"),
        "{err}"
    );
    assert!(
        last.contains(&file.display().to_string()),
        "names the file: {err}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), before);
    drop(held);
    run(enseal_k(&sb)
        .env("ENSEAL_LOCK_TIMEOUT", "0")
        .arg("set")
        .arg(&file)
        .arg("[\"k\"]")
        .arg("\"v\""))
    .ok();
    // A value that is not a number of seconds is refused.
    let out = run(enseal_k(&sb)
        .env("ENSEAL_LOCK_TIMEOUT", "soon")
        .arg("set")
        .arg(&file)
        .arg("[\"k\"]")
        .arg("\"w\""))
    .code_in(&[1]);
    assert!(out.err().contains("ENSEAL_LOCK_TIMEOUT"), "{}", out.err());
}

/// A writer that waited works on the version the holder wrote (a new inode
/// renamed over the path), not on the one it found first.
#[test]
fn a_waiting_writer_works_on_the_new_version() {
    let sb = Sandbox::new();
    let file = fixture(&sb);
    // The holder's new version, made aside.
    let aside = sb.copy(&file, "aside.enc.yaml");
    run(enseal_k(&sb)
        .arg("set")
        .arg(&aside)
        .arg("[\"from_holder\"]")
        .arg("\"first\""))
    .ok();
    let held = hold(&file);
    let mut child = enseal_k(&sb)
        .env("ENSEAL_LOCK_TIMEOUT", "170")
        .arg("set")
        .arg(&file)
        .arg("[\"from_waiter\"]")
        .arg("\"second\"")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it says it waits.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.starts_with("waiting for PID"), "{line}");
    // The holder renames its version over the path, then unlocks.
    std::fs::rename(&aside, &file).unwrap();
    drop(held);
    let status = wait_bounded(&mut child, "the waiting set");
    assert!(status.success());
    let plain = run(enseal_k(&sb).arg("decrypt").arg(&file)).ok().out();
    assert!(plain.contains("from_holder: first\n"), "{plain}");
    assert!(plain.contains("from_waiter: second\n"), "{plain}");
}

/// Every command that rewrites a file takes the lock before reading it.
#[test]
fn every_rewriting_command_takes_the_lock() {
    let sb = Sandbox::new();
    sb.write(
        ".sops.yaml",
        format!("creation_rules:\n  - age: {}\n", recipient(2)),
    );
    let encrypted = fixture(&sb);
    let plain = sb.copy(&reference("yaml-basic.dec.yaml"), "plain.yaml");
    let editor = sb.write("editor.sh", "#!/bin/sh\necho 'edited: 1' >> \"$1\"\n");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let base = sb.copy(&encrypted, "base.enc.yaml");
    let theirs = sb.write("theirs.enc.yaml", "changed: true\n");
    let cases: Vec<(&str, Vec<String>, &Path)> = vec![
        (
            "set",
            vec!["set".into(), p(&encrypted), "[\"a\"]".into(), "1".into()],
            &encrypted,
        ),
        (
            "unset",
            vec!["unset".into(), p(&encrypted), "[\"hello\"]".into()],
            &encrypted,
        ),
        ("edit", vec!["edit".into(), p(&encrypted)], &encrypted),
        (
            "rotate -i",
            vec!["rotate".into(), "-i".into(), p(&encrypted)],
            &encrypted,
        ),
        (
            "updatekeys",
            vec!["updatekeys".into(), "-y".into(), p(&encrypted)],
            &encrypted,
        ),
        (
            "groups add -i",
            vec![
                "groups".into(),
                "add".into(),
                "-i".into(),
                "-f".into(),
                p(&encrypted),
                "--age".into(),
                recipient(2),
            ],
            &encrypted,
        ),
        (
            "decrypt -i",
            vec!["decrypt".into(), "-i".into(), p(&encrypted)],
            &encrypted,
        ),
        (
            "encrypt -i",
            vec!["encrypt".into(), "-i".into(), p(&plain)],
            &plain,
        ),
        (
            "git merge",
            vec![
                "git".into(),
                "merge".into(),
                p(&base),
                p(&encrypted),
                p(&theirs),
                "x.enc.yaml".into(),
            ],
            &encrypted,
        ),
    ];
    for (name, args, target) in cases {
        let before = std::fs::read(target).unwrap();
        let held = hold(target);
        let pid = held.pid();
        let out = run(enseal_k(&sb)
            .env("ENSEAL_LOCK_TIMEOUT", "0.1")
            .env("EDITOR", &editor)
            .args(&args))
        .code_in(&[3]);
        drop(held);
        let err = out.err();
        assert!(
            err.contains(&format!("waiting for PID {pid}, which is writing")),
            "{name}: {err}"
        );
        assert!(
            err.contains(&format!("locked by PID {pid}")),
            "{name}: {err}"
        );
        assert_eq!(std::fs::read(target).unwrap(), before, "{name} wrote");
    }
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

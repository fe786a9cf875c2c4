//! `enseal edit` driven by scripted editors: one-value changes give
//! three-line diffs, unchanged files exit 200 untouched, parse errors can be
//! fixed by editing again, new files start from the template, and the
//! plaintext temporary file is gone on every way out (success, editor
//! failure, SIGINT/SIGTERM/SIGHUP). The reference decrypts what edit wrote.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A sandbox with a private runtime dir (the edit temp dir goes there) and
/// a place for editor scripts.
struct EditBox {
    sb: Sandbox,
}

impl EditBox {
    fn new() -> EditBox {
        let sb = Sandbox::new();
        std::fs::create_dir_all(sb.root().join("run")).unwrap();
        std::fs::create_dir_all(sb.root().join("bin")).unwrap();
        EditBox { sb }
    }

    fn runtime(&self) -> PathBuf {
        self.sb.root().join("run")
    }

    /// Writes an executable shell script; `$1` is the file to edit.
    fn script(&self, name: &str, body: &str) -> PathBuf {
        let p = self.sb.root().join("bin").join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        p
    }

    /// `enseal` with key 1, `EDITOR` and the private runtime dir.
    fn enseal(&self, editor: &str) -> Command {
        let mut cmd = self.sb.enseal();
        cmd.env("SOPS_AGE_KEY_FILE", key_file(1))
            .env("EDITOR", editor)
            .env("XDG_RUNTIME_DIR", self.runtime());
        cmd
    }

    /// Panics unless the runtime dir is empty (no plaintext left).
    fn assert_no_temp_left(&self) {
        let left: Vec<_> = std::fs::read_dir(self.runtime())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(left.is_empty(), "temporary files left: {left:?}");
    }
}

fn lines(bytes: &[u8]) -> BTreeSet<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Lines only in `a`, lines only in `b`.
fn line_diff(a: &[u8], b: &[u8]) -> (Vec<String>, Vec<String>) {
    let (la, lb) = (lines(a), lines(b));
    (
        la.difference(&lb).cloned().collect(),
        lb.difference(&la).cloned().collect(),
    )
}

fn assert_three_line_change(before: &[u8], after: &[u8], value_key: &str) {
    let (gone, new) = line_diff(before, after);
    assert_eq!(gone.len(), 3, "removed lines: {gone:#?}");
    assert_eq!(new.len(), 3, "added lines: {new:#?}");
    for set in [&gone, &new] {
        assert!(set.iter().any(|l| l.contains(value_key)), "{set:#?}");
        assert!(set.iter().any(|l| l.contains("lastmodified")), "{set:#?}");
        assert!(set.iter().any(|l| l.contains("mac")), "{set:#?}");
    }
}

fn decrypt_with_reference(sb: &Sandbox, file: &Path) -> Option<String> {
    let sops = require_sops()?;
    let out = run(sb
        .sops(&sops)
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .arg("decrypt")
        .arg(file))
    .ok();
    Some(out.out())
}

#[test]
fn one_value_edit_changes_three_lines_and_reference_verifies() {
    let eb = EditBox::new();
    let file = eb
        .sb
        .copy(&reference("yaml-basic.enc.yaml"), "basic.enc.yaml");
    let before = std::fs::read(&file).unwrap();
    let editor = eb.script(
        "ed",
        "sed -i 's/^  replicas: 3$/  replicas: 4/; s/^    replicas: 3$/    replicas: 4/' \"$1\"",
    );
    run(eb.enseal(editor.to_str().unwrap()).arg("edit").arg(&file)).ok();
    let after = std::fs::read(&file).unwrap();
    assert_three_line_change(&before, &after, "replicas:");
    eb.assert_no_temp_left();
    if let Some(plain) = decrypt_with_reference(&eb.sb, &file) {
        assert!(plain.contains("replicas: 4"), "{plain}");
        let want = String::from_utf8(std::fs::read(reference("yaml-basic.dec.yaml")).unwrap())
            .unwrap()
            .replace("replicas: 3", "replicas: 4");
        assert_eq!(plain, want);
    }
}

#[test]
fn one_value_edit_in_every_format_keeps_the_other_ciphertexts() {
    // (fixture, sed expression on the plaintext, key whose line changes)
    let cases = [
        (
            "json-nested.enc.json",
            "s/\"name\": \"enseal\"/\"name\": \"other\"/",
            "\"name\"",
        ),
        (
            "dotenv-basic.enc.env",
            "s/^DB_PASSWORD=hunter2$/DB_PASSWORD=changed/",
            "DB_PASSWORD=",
        ),
        (
            "ini-sections.enc.ini",
            "s/^password = hunter2$/password = changed/",
            "password",
        ),
    ];
    for (fixture, sed, key) in cases {
        let eb = EditBox::new();
        let file = eb.sb.copy(&reference(fixture), fixture);
        let before = std::fs::read(&file).unwrap();
        let editor = eb.script("ed", &format!("sed -i '{sed}' \"$1\""));
        let out = run(eb.enseal(editor.to_str().unwrap()).arg("edit").arg(&file));
        if out.code == Some(200) {
            panic!("{fixture}: the editor script changed nothing");
        }
        let out = out.ok();
        let _ = out;
        let after = std::fs::read(&file).unwrap();
        let (gone, new) = line_diff(&before, &after);
        // One value, lastmodified, mac (INI/dotenv metadata lines are
        // `sops_lastmodified=…` / `lastmodified = …`).
        assert_eq!(gone.len(), 3, "{fixture}: removed {gone:#?}");
        assert_eq!(new.len(), 3, "{fixture}: added {new:#?}");
        assert!(new.iter().any(|l| l.contains(key)), "{fixture}: {new:#?}");
        eb.assert_no_temp_left();
        if let Some(sops) = require_sops() {
            run(eb
                .sb
                .sops(&sops)
                .env("SOPS_AGE_KEY_FILE", key_file(1))
                .arg("decrypt")
                .arg(&file))
            .ok();
        }
    }
}

#[test]
fn unchanged_exits_200_and_leaves_the_file_alone() {
    let eb = EditBox::new();
    let file = eb
        .sb
        .copy(&reference("yaml-basic.enc.yaml"), "basic.enc.yaml");
    let before = std::fs::read(&file).unwrap();
    let out = run(eb.enseal("true").arg("edit").arg(&file)).code_in(&[200]);
    assert!(out.err().contains("File has not changed, exiting."));
    assert_eq!(std::fs::read(&file).unwrap(), before);
    eb.assert_no_temp_left();
    // Legacy mode: `enseal FILE` is edit.
    run(eb.enseal("true").arg(&file)).code_in(&[200]);
    // A rewrite with the same tree (other formatting) changes nothing either.
    let editor = eb.script("ed", "printf '\\n' >> \"$1\"");
    run(eb.enseal(editor.to_str().unwrap()).arg("edit").arg(&file)).code_in(&[200]);
    assert_eq!(std::fs::read(&file).unwrap(), before);
    eb.assert_no_temp_left();
}

#[test]
fn temp_file_is_private_named_like_the_target_and_removed() {
    let eb = EditBox::new();
    let file = eb
        .sb
        .copy(&reference("yaml-basic.enc.yaml"), "basic.enc.yaml");
    let log = eb.sb.root().join("spy.log");
    let editor = eb.script(
        "spy",
        &format!(
            "echo \"$1\" > '{log}'; stat -c '%a' \"$(dirname \"$1\")\" \"$1\" >> '{log}'; echo 'extra: 1' >> \"$1\"",
            log = log.display()
        ),
    );
    run(eb.enseal(editor.to_str().unwrap()).arg("edit").arg(&file)).ok();
    let text = std::fs::read_to_string(&log).unwrap();
    let mut it = text.lines();
    let temp = PathBuf::from(it.next().unwrap());
    assert_eq!(temp.file_name().unwrap(), "basic.enc.yaml");
    assert!(temp.starts_with(eb.runtime()), "{}", temp.display());
    assert_eq!(it.next(), Some("700"));
    assert_eq!(it.next(), Some("600"));
    assert!(!temp.exists());
    eb.assert_no_temp_left();
}

#[test]
fn editor_failure_exits_201_and_cleans_up() {
    let eb = EditBox::new();
    let file = eb
        .sb
        .copy(&reference("yaml-basic.enc.yaml"), "basic.enc.yaml");
    let before = std::fs::read(&file).unwrap();
    let editor = eb.script("crash", "echo 'a: 1' > \"$1\"; exit 3");
    let out = run(eb.enseal(editor.to_str().unwrap()).arg("edit").arg(&file)).code_in(&[201]);
    assert!(out.err().contains("Could not run editor"), "{}", out.err());
    assert_eq!(std::fs::read(&file).unwrap(), before);
    eb.assert_no_temp_left();
    // A missing editor program.
    run(eb.enseal("/nonexistent/editor").arg("edit").arg(&file)).code_in(&[201]);
    eb.assert_no_temp_left();
    // Unbalanced quotes in $EDITOR.
    let out = run(eb.enseal("vim 'oops").arg("edit").arg(&file)).code_in(&[201]);
    assert!(out.err().contains("invalid $EDITOR"), "{}", out.err());
}

#[test]
fn sops_editor_wins_and_arguments_are_split() {
    let eb = EditBox::new();
    let file = eb
        .sb
        .copy(&reference("yaml-basic.enc.yaml"), "basic.enc.yaml");
    let editor = eb.script("args", "shift; echo \"word: $1\" >> \"$2\"");
    let mut cmd = eb.enseal("false");
    cmd.env(
        "SOPS_EDITOR",
        format!("{} 'x y' 'hello world'", editor.display()),
    );
    run(cmd.arg("edit").arg(&file)).ok();
    let plain = run(eb
        .sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .args(["decrypt", "--extract", "[\"word\"]"])
        .arg(&file))
    .ok();
    assert_eq!(plain.out(), "hello world");
}

#[test]
fn invalid_content_can_be_fixed_by_editing_again() {
    let eb = EditBox::new();
    let file = eb
        .sb
        .copy(&reference("yaml-basic.enc.yaml"), "basic.enc.yaml");
    let before = std::fs::read(&file).unwrap();
    let flag = eb.sb.root().join("once");
    let editor = eb.script(
        "toggle",
        &format!(
            "if [ -e '{f}' ]; then echo 'fixed: ok' > \"$1\"; else touch '{f}'; echo 'a: [' > \"$1\"; fi",
            f = flag.display()
        ),
    );
    // Without input to confirm a retry: fails, file untouched, no temp left.
    let out = run(eb.enseal(editor.to_str().unwrap()).arg("edit").arg(&file));
    assert_ne!(out.code, Some(0));
    assert!(out.err().contains("Could not load tree"), "{}", out.err());
    assert!(out.err().contains("line 1"), "{}", out.err());
    assert_eq!(std::fs::read(&file).unwrap(), before);
    eb.assert_no_temp_left();
    // With Enter on stdin: the editor opens again and the fix is saved.
    std::fs::remove_file(&flag).unwrap();
    run_stdin(
        eb.enseal(editor.to_str().unwrap()).arg("edit").arg(&file),
        b"\n",
    )
    .ok();
    eb.assert_no_temp_left();
    if let Some(plain) = decrypt_with_reference(&eb.sb, &file) {
        assert_eq!(plain, "fixed: ok\n");
    }
}

#[test]
fn new_file_starts_from_the_template() {
    let eb = EditBox::new();
    let file = eb.sb.path("new.yaml");
    let r = recipient(1);
    // Saved unchanged: exit 200, nothing created.
    run(eb.enseal("true").args(["edit", "--age", &r]).arg(&file)).code_in(&[200]);
    assert!(!file.exists());
    let editor = eb.script("append", "echo 'added: 1' >> \"$1\"");
    run(eb
        .enseal(editor.to_str().unwrap())
        .args(["edit", "--age", &r])
        .arg(&file))
    .ok();
    eb.assert_no_temp_left();
    let want = "hello: Welcome to SOPS! Edit this file as you please!\nexample_key: example_value\n# Example comment\nexample_array:\n    - example_value1\n    - example_value2\nexample_number: 1234.56789\nexample_booleans:\n    - true\n    - false\nadded: 1\n";
    let mine = run(eb
        .sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .arg("decrypt")
        .arg(&file))
    .ok();
    assert_eq!(mine.out(), want);
    if let Some(plain) = decrypt_with_reference(&eb.sb, &file) {
        assert_eq!(plain, want);
    }
    // No keys anywhere: the usual error, nothing created.
    let other = eb.sb.path("other.yaml");
    run(eb.enseal(editor.to_str().unwrap()).arg("edit").arg(&other)).code_in(&[1]);
    assert!(!other.exists());
    eb.assert_no_temp_left();
}

fn wait_for(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the editor never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn signals_remove_the_temp_file() {
    for (signal, number) in [("TERM", 15), ("INT", 2), ("HUP", 1)] {
        let eb = EditBox::new();
        let file = eb
            .sb
            .copy(&reference("yaml-basic.enc.yaml"), "basic.enc.yaml");
        let before = std::fs::read(&file).unwrap();
        let started = eb.sb.root().join("started");
        let editor = eb.script(
            "slow",
            &format!(
                "echo \"$1\" > '{s}.tmp'; mv '{s}.tmp' '{s}'; exec sleep 60",
                s = started.display()
            ),
        );
        let mut child = eb
            .enseal(editor.to_str().unwrap())
            .arg("edit")
            .arg(&file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        wait_for(&started);
        let temp = PathBuf::from(std::fs::read_to_string(&started).unwrap().trim());
        assert!(temp.exists());
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        let start = Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "enseal ignored SIG{signal}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(128 + number), "SIG{signal}");
        assert!(!temp.exists(), "SIG{signal}: {} left", temp.display());
        eb.assert_no_temp_left();
        assert_eq!(std::fs::read(&file).unwrap(), before);
    }
}

#[test]
fn show_master_keys_shows_the_metadata() {
    let eb = EditBox::new();
    let file = eb
        .sb
        .copy(&reference("yaml-basic.enc.yaml"), "basic.enc.yaml");
    let log = eb.sb.root().join("seen");
    let editor = eb.script("cat", &format!("cat \"$1\" > '{}'", log.display()));
    run(eb
        .enseal(editor.to_str().unwrap())
        .args(["edit", "-s"])
        .arg(&file))
    .code_in(&[200]);
    let seen = std::fs::read_to_string(&log).unwrap();
    assert!(seen.contains("replicas: 3"), "{seen}");
    assert!(seen.contains("\nsops:\n"), "{seen}");
    assert!(seen.contains("age1"), "{seen}");
    eb.assert_no_temp_left();
}

#[test]
fn no_editor_available_exits_201() {
    let eb = EditBox::new();
    let file = eb
        .sb
        .copy(&reference("yaml-basic.enc.yaml"), "basic.enc.yaml");
    let mut cmd = eb.enseal("");
    cmd.env("PATH", eb.sb.root().join("bin"));
    let out = run(cmd.arg("edit").arg(&file)).code_in(&[201]);
    assert!(out.err().contains("no editor available"), "{}", out.err());
    eb.assert_no_temp_left();
}

#[test]
fn a_top_level_sops_key_is_refused() {
    let eb = EditBox::new();
    let file = eb
        .sb
        .copy(&reference("yaml-basic.enc.yaml"), "basic.enc.yaml");
    let before = std::fs::read(&file).unwrap();
    let editor = eb.script("sops", "echo 'sops: 1' >> \"$1\"");
    let out = run(eb.enseal(editor.to_str().unwrap()).arg("edit").arg(&file));
    assert_ne!(out.code, Some(0));
    assert!(
        out.err().contains("Tree not valid for encryption"),
        "{}",
        out.err()
    );
    assert_eq!(std::fs::read(&file).unwrap(), before);
    eb.assert_no_temp_left();
}

#[test]
fn legacy_show_master_keys_and_set() {
    let eb = EditBox::new();
    let file = eb
        .sb
        .copy(&reference("yaml-basic.enc.yaml"), "basic.enc.yaml");
    let log = eb.sb.root().join("seen");
    let editor = eb.script("cat", &format!("cat \"$1\" > '{}'", log.display()));
    run(eb.enseal(editor.to_str().unwrap()).arg("-s").arg(&file)).code_in(&[200]);
    assert!(std::fs::read_to_string(&log).unwrap().contains("\nsops:\n"));
    eb.assert_no_temp_left();
}

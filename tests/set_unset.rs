//! `enseal set` / `unset` / legacy `--set`, and `encrypt --output` onto an
//! existing encrypted file: only the changed value, `lastmodified` and the
//! MAC change; unchanged → written only without `--idempotent`; errors and exit codes
//! as spec/cli.md §6.5–6.6 (clear errors where sops crashes). The reference
//! decrypts (and verifies the MAC of) every file written.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn lines(bytes: &[u8]) -> BTreeSet<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::to_string)
        .collect()
}

/// (removed lines, added lines)
fn line_diff(a: &[u8], b: &[u8]) -> (Vec<String>, Vec<String>) {
    let (la, lb) = (lines(a), lines(b));
    (
        la.difference(&lb).cloned().collect(),
        lb.difference(&la).cloned().collect(),
    )
}

fn enseal_k(sb: &Sandbox) -> Command {
    let mut cmd = sb.enseal();
    cmd.env("SOPS_AGE_KEY_FILE", key_file(1));
    cmd
}

fn fixture(sb: &Sandbox) -> (PathBuf, Vec<u8>) {
    let file = sb.copy(&reference("yaml-basic.enc.yaml"), "basic.enc.yaml");
    let bytes = std::fs::read(&file).unwrap();
    (file, bytes)
}

fn decrypt(sb: &Sandbox, file: &Path) -> String {
    run(enseal_k(sb).arg("decrypt").arg(file)).ok().out()
}

/// The reference decrypts the file (MAC verified) and agrees with enseal.
fn reference_agrees(sb: &Sandbox, file: &Path) {
    let Some(sops) = require_sops() else { return };
    let theirs = run(sb
        .sops(&sops)
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .arg("decrypt")
        .arg(file))
    .ok();
    assert_eq!(theirs.out(), decrypt(sb, file));
}

fn golden_plain() -> String {
    std::fs::read_to_string(reference("yaml-basic.dec.yaml")).unwrap()
}

#[test]
fn set_changes_one_value_line_plus_mac_and_lastmodified() {
    let sb = Sandbox::new();
    let (file, before) = fixture(&sb);
    run(enseal_k(&sb)
        .arg("set")
        .arg(&file)
        .arg(r#"["app"]["database"]["password"]"#)
        .arg(r#""s3cret""#))
    .ok();
    let after = std::fs::read(&file).unwrap();
    let (gone, new) = line_diff(&before, &after);
    assert_eq!(gone.len(), 3, "{gone:#?}");
    assert_eq!(new.len(), 3, "{new:#?}");
    assert!(new
        .iter()
        .any(|l| l.trim_start().starts_with("password: ENC[")));
    assert!(new.iter().any(|l| l.contains("lastmodified")));
    assert!(new.iter().any(|l| l.trim_start().starts_with("mac: ENC[")));
    let want = golden_plain().replace("password: 'p@ss: w0rd #1'", "password: s3cret");
    assert_ne!(want, golden_plain(), "golden changed: fix the test");
    assert_eq!(decrypt(&sb, &file), want);
    reference_agrees(&sb, &file);
}

/// sops 3.13: `set --idempotent` of the value already there writes nothing;
/// without the flag the file is written anyway (new `lastmodified` and MAC,
/// every value's ciphertext kept), also in another `--output-type`.
#[test]
fn set_of_the_same_value_writes_only_without_idempotent() {
    let sb = Sandbox::new();
    let (file, before) = fixture(&sb);
    let set_same = |extra: &[&str]| {
        run(enseal_k(&sb)
            .arg("set")
            .args(extra)
            .arg(&file)
            .arg(r#"["app"]["name"]"#)
            .arg(r#""enseal-fixture""#))
        .ok();
    };
    set_same(&["--idempotent"]);
    assert_eq!(std::fs::read(&file).unwrap(), before);
    set_same(&[]);
    let after = std::fs::read_to_string(&file).unwrap();
    let before = String::from_utf8(before).unwrap();
    assert_ne!(after, before);
    let changed: Vec<_> = after
        .lines()
        .zip(before.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, _)| a.trim_start().split(':').next().unwrap_or("").to_string())
        .collect();
    assert_eq!(changed, ["lastmodified", "mac"], "{after}");
    reference_agrees(&sb, &file);
    // --output-type: the file is rewritten in that format.
    set_same(&["--output-type", "json"]);
    assert!(std::fs::read_to_string(&file).unwrap().starts_with('{'));
}

#[test]
fn set_numbers_are_floats_and_objects_keep_order() {
    let sb = Sandbox::new();
    let (file, _) = fixture(&sb);
    run(enseal_k(&sb)
        .arg("set")
        .arg(&file)
        .arg(r#"["num"]"#)
        .arg("5"))
    .ok();
    let text = std::fs::read_to_string(&file).unwrap();
    let line = text.lines().find(|l| l.starts_with("num: ")).unwrap();
    assert!(line.ends_with("type:float]"), "{line}");
    run(enseal_k(&sb)
        .arg("set")
        .arg(&file)
        .arg(r#"["c"]["d"][3]"#)
        .arg(r#"{"z": "last", "a": [true, null, "s"]}"#))
    .ok();
    let plain = decrypt(&sb, &file);
    assert!(
        plain.ends_with("num: 5\nc:\n    d:\n        - z: last\n          a:\n            - true\n            - null\n            - s\n"),
        "{plain}"
    );
    reference_agrees(&sb, &file);
}

#[test]
fn set_value_from_file_and_stdin() {
    let sb = Sandbox::new();
    let (file, _) = fixture(&sb);
    let value = sb.write("value.json", "\"from file\"\n");
    run(enseal_k(&sb)
        .args(["set", "--value-file"])
        .arg(&file)
        .arg(r#"["f"]"#)
        .arg(&value))
    .ok();
    run_stdin(
        enseal_k(&sb)
            .args(["set", "--value-stdin"])
            .arg(&file)
            .arg(r#"["s"]"#),
        b"[1, 2]",
    )
    .ok();
    let plain = decrypt(&sb, &file);
    assert!(
        plain.ends_with("f: from file\ns:\n    - 1\n    - 2\n"),
        "{plain}"
    );
    reference_agrees(&sb, &file);
    // Both value flags: exit 1.
    let out = run(enseal_k(&sb)
        .args(["set", "--value-file", "--value-stdin"])
        .arg(&file)
        .arg(r#"["s"]"#))
    .code_in(&[1]);
    assert!(out.err().contains("cannot use both"), "{}", out.err());
}

#[test]
fn set_errors() {
    let sb = Sandbox::new();
    let (file, before) = fixture(&sb);
    let set = |args: &[&str]| run(enseal_k(&sb).arg("set").args(args));
    let f = file.to_str().unwrap();
    // Wrong argument counts.
    set(&[f, r#"["a"]"#]).code_in(&[100]);
    set(&["--value-stdin", f]).code_in(&[100]);
    // Unparsable index: sops' exit 7.
    let out = set(&[f, "abc", "1"]).code_in(&[7]);
    assert!(
        out.err().contains("Invalid set index format"),
        "{}",
        out.err()
    );
    set(&[f, "[x]", "1"]).code_in(&[7]);
    // Value not JSON: 7.
    let out = set(&[f, r#"["a"]"#, "not json"]).code_in(&[7]);
    assert!(out.err().contains("not valid JSON"), "{}", out.err());
    set(&[f, r#"["a"]"#, r#"1, "b": 2"#]).code_in(&[7]);
    // A key applied to a list (sops panics) / an index applied to a
    // mapping (sops silently does nothing): a clear error, exit 91.
    let out = set(&[f, r#"["app"]["flow_list"]["k"]"#, "1"]).code_in(&[91]);
    assert!(out.err().contains("flow_list"), "{}", out.err());
    set(&[f, r#"["app"][0]"#, "1"]).code_in(&[91]);
    // A top-level `sops` key is refused (203).
    set(&[f, r#"["sops"]"#, "1"]).code_in(&[203]);
    // Missing file: exit 2.
    set(&["missing.yaml", r#"["a"]"#, "1"]).code_in(&[2]);
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

#[test]
fn legacy_set_flag() {
    let sb = Sandbox::new();
    let (file, _) = fixture(&sb);
    run(enseal_k(&sb)
        .args(["--set", r#"["app"]["replicas"] 7"#])
        .arg(&file))
    .ok();
    assert!(decrypt(&sb, &file).contains("    replicas: 7\n"));
    reference_agrees(&sb, &file);
    run(enseal_k(&sb).args(["--set", "nobracket 1"]).arg(&file)).code_in(&[7]);
    run(enseal_k(&sb).args(["--set", r#"["a"] nojson"#]).arg(&file)).code_in(&[7]);
}

#[test]
fn unset_keys_and_list_elements() {
    let sb = Sandbox::new();
    let (file, before) = fixture(&sb);
    run(enseal_k(&sb)
        .arg("unset")
        .arg(&file)
        .arg(r#"["app"]["database"]["password"]"#))
    .ok();
    let after = std::fs::read(&file).unwrap();
    let (gone, new) = line_diff(&before, &after);
    assert_eq!(gone.len(), 3, "{gone:#?}");
    assert_eq!(new.len(), 2, "{new:#?}");
    run(enseal_k(&sb)
        .arg("unset")
        .arg(&file)
        .arg(r#"["app"]["flow_list"][1]"#))
    .ok();
    let plain = decrypt(&sb, &file);
    assert!(!plain.contains("password"), "{plain}");
    assert!(
        plain.contains("flow_list:\n        - 1\n        - 3.5\n"),
        "{plain}"
    );
    reference_agrees(&sb, &file);
}

#[test]
fn unset_errors_and_idempotent() {
    let sb = Sandbox::new();
    let (file, before) = fixture(&sb);
    let unset = |args: &[&str]| run(enseal_k(&sb).arg("unset").args(args));
    let f = file.to_str().unwrap();
    let out = unset(&[f, r#"["nope"]"#]).code_in(&[1]);
    assert!(out.err().contains("Key not found: nope"), "{}", out.err());
    let out = unset(&[f, r#"["app"]["flow_list"][9]"#]).code_in(&[1]);
    assert!(out.err().contains("Index 9 out of bounds"), "{}", out.err());
    unset(&["--idempotent", f, r#"["nope"]"#]).ok();
    unset(&["--idempotent", f, r#"["app"]["flow_list"][9]"#]).ok();
    let out = unset(&[f, r#"["app"]["name"]["x"]"#]).code_in(&[1]);
    assert!(out.err().contains("Unsupported type"), "{}", out.err());
    unset(&[f, r#"["app"]["flow_list"]["k"]"#]).code_in(&[91]);
    unset(&[f, "bad"]).code_in(&[7]);
    unset(&[f]).code_in(&[100]);
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

#[test]
fn set_and_unset_on_json_keep_other_ciphertexts() {
    let sb = Sandbox::new();
    let file = sb.copy(&reference("json-nested.enc.json"), "n.enc.json");
    let before = std::fs::read(&file).unwrap();
    run(enseal_k(&sb)
        .arg("set")
        .arg(&file)
        .arg(r#"["name"]"#)
        .arg(r#""renamed""#))
    .ok();
    let (gone, new) = line_diff(&before, &std::fs::read(&file).unwrap());
    assert_eq!((gone.len(), new.len()), (3, 3), "{gone:#?}\n{new:#?}");
    reference_agrees(&sb, &file);
}

#[test]
fn encrypt_onto_an_existing_encrypted_file_keeps_unchanged_ciphertexts() {
    let sb = Sandbox::new();
    for (fixture, from, to) in [
        ("yaml-basic.enc.yaml", "replicas: 3", "replicas: 5"),
        (
            "json-nested.enc.json",
            "\"name\": \"enseal\"",
            "\"name\": \"other\"",
        ),
        (
            "dotenv-basic.enc.env",
            "DB_PASSWORD=hunter2",
            "DB_PASSWORD=changed",
        ),
        (
            "ini-sections.enc.ini",
            "password = hunter2",
            "password = changed",
        ),
    ] {
        let ext = fixture.rsplit('.').next().unwrap();
        let target = sb.copy(&reference(fixture), &format!("t.enc.{ext}"));
        let before = std::fs::read(&target).unwrap();
        let plain = decrypt(&sb, &target);
        let plain_path = sb.write(&format!("plain.{ext}"), &plain);
        let r = recipient(1);
        // Unchanged plaintext: nothing written.
        run(enseal_k(&sb)
            .args(["encrypt", "--age", &r, "--output"])
            .arg(&target)
            .arg(&plain_path))
        .ok();
        assert_eq!(std::fs::read(&target).unwrap(), before, "{fixture}");
        // One value changed: three lines.
        assert!(plain.contains(from), "{fixture}");
        sb.write(&format!("plain.{ext}"), plain.replace(from, to));
        run(enseal_k(&sb)
            .args(["encrypt", "--age", &r, "--output"])
            .arg(&target)
            .arg(&plain_path))
        .ok();
        let (gone, new) = line_diff(&before, &std::fs::read(&target).unwrap());
        assert_eq!(
            (gone.len(), new.len()),
            (3, 3),
            "{fixture}: {gone:#?}\n{new:#?}"
        );
        assert_eq!(decrypt(&sb, &target), plain.replace(from, to), "{fixture}");
        reference_agrees(&sb, &target);
    }
}

fn git(dir: &Path, args: &[&str]) -> bool {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
        .args(args)
        .env("HOME", dir)
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn encrypt_in_place_after_decrypt_in_place_keeps_committed_ciphertexts() {
    let sb = Sandbox::new();
    if !git(&sb.work(), &["init", "-q", "."]) {
        unavailable("git init failed (is git installed?)");
        return;
    }
    let file = sb.copy(&reference("yaml-basic.enc.yaml"), "s.enc.yaml");
    let committed = std::fs::read(&file).unwrap();
    assert!(git(&sb.work(), &["add", "s.enc.yaml"]));
    assert!(git(&sb.work(), &["commit", "-q", "-m", "x"]));
    let r = recipient(1);
    // decrypt -i, encrypt -i without a change: the committed bytes again.
    run(enseal_k(&sb).args(["decrypt", "-i"]).arg(&file)).ok();
    run(enseal_k(&sb)
        .args(["encrypt", "-i", "--age", &r])
        .arg(&file))
    .ok();
    assert_eq!(std::fs::read(&file).unwrap(), committed);
    // With one value changed outside enseal: a three-line diff.
    run(enseal_k(&sb).args(["decrypt", "-i"]).arg(&file)).ok();
    let plain = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, plain.replace("replicas: 3", "replicas: 9")).unwrap();
    run(enseal_k(&sb)
        .args(["encrypt", "-i", "--age", &r])
        .arg(&file))
    .ok();
    let (gone, new) = line_diff(&committed, &std::fs::read(&file).unwrap());
    assert_eq!((gone.len(), new.len()), (3, 3), "{gone:#?}\n{new:#?}");
    reference_agrees(&sb, &file);
}

#[test]
fn encrypt_onto_an_existing_file_with_other_keys_makes_a_new_file() {
    let sb = Sandbox::new();
    let target = sb.copy(&reference("yaml-basic.enc.yaml"), "t.enc.yaml");
    let before = std::fs::read(&target).unwrap();
    let plain = decrypt(&sb, &target);
    let plain_path = sb.write("plain.yaml", &plain);
    let both = format!("{},{}", recipient(1), recipient(2));
    run(enseal_k(&sb)
        .args(["encrypt", "--age", &both, "--output"])
        .arg(&target)
        .arg(&plain_path))
    .ok();
    let after = std::fs::read_to_string(&target).unwrap();
    assert!(after.contains(&recipient(2)));
    let (gone, _) = line_diff(&before, after.as_bytes());
    assert!(gone.len() > 10, "every value re-encrypted: {}", gone.len());
    assert_eq!(decrypt(&sb, &target), plain);
}

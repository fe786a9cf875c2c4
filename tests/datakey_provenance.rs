//! Data-key provenance (issue #15): a data key is reused only when it is the
//! user's own file's key under the same keys and settings. A data key made
//! on another branch is never adopted by the merge driver; removing a master
//! key (`updatekeys`, `groups delete`, `rotate --rm-*`) makes a new one;
//! `encrypt -i` / `--output` keep an existing file's data key only under the
//! same master keys, Shamir threshold and KMS settings.
//!
//! The probe: the values of one file put under the metadata (`sops:`) of
//! another, decrypted with `--ignore-mac`. It opens exactly when both use
//! the same data key; with another one the first value fails (exit 25).
//! Every file written here is also decrypted (MAC verified) by the
//! reference sops.

mod common;
mod keyset;

use common::*;
use keyset::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const FILE: &str = "secrets.enc.yaml";
const PLAIN: &str = "db:\n    user: admin\n    password: base-pass\napi_key: base-key\n";

/// Exit code of a value that does not decrypt (sops' "Error decrypting tree").
const WRONG_DATA_KEY: i32 = 25;

/// Decrypts the values of `values_of` under the metadata of `keys_of` with
/// the identities in `key`, the MAC ignored: the exit code (0 when the two
/// files share a data key).
fn probe(sb: &Sandbox, values_of: &str, keys_of: &str, key: &Path) -> Option<i32> {
    let data = values_of
        .split_once("\nsops:\n")
        .expect("values: an encrypted YAML file")
        .0;
    let metadata = keys_of
        .split_once("\nsops:\n")
        .expect("keys: an encrypted YAML file")
        .1;
    let path = sb.root().join("probe.yaml");
    std::fs::write(&path, format!("{data}\nsops:\n{metadata}")).expect("write probe");
    let out = run(with_keys(sb.enseal(), key)
        .args(["decrypt", "--ignore-mac"])
        .arg(&path));
    std::fs::remove_file(&path).expect("remove probe");
    out.code
}

/// `values_of`'s values open with the data key `keys_of` wraps for `key`.
fn assert_same_data_key(sb: &Sandbox, values_of: &str, keys_of: &str, key: &Path) {
    assert_eq!(
        probe(sb, values_of, keys_of, key),
        Some(0),
        "the data key should be the same"
    );
}

/// `values_of`'s values do not open with the data key of `keys_of`.
fn assert_other_data_key(sb: &Sandbox, values_of: &str, keys_of: &str, key: &Path) {
    assert_eq!(
        probe(sb, values_of, keys_of, key),
        Some(WRONG_DATA_KEY),
        "the data key should be a new one"
    );
}

/// The reference decrypts `file` (MAC verified) with `key`.
fn sops_decrypts(sb: &Sandbox, sops: &Path, key: &Path, file: &Path) -> String {
    run(with_keys(sb.sops(sops), key).arg("decrypt").arg(file))
        .ok()
        .out()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

// ---------------------------------------------------------------------------
// git
// ---------------------------------------------------------------------------

/// `git` in the sandbox's work tree, scrubbed, with the identities in `key`.
fn git(sb: &Sandbox, key: &Path, args: &[&str]) -> Out {
    let mut cmd = scrubbed(Path::new("git"), &sb.home(), &sb.work());
    cmd.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_PAGER", "cat")
        .env("SOPS_AGE_KEY_FILE", key)
        .args(args);
    run(&mut cmd)
}

/// A repository with `sops_yaml` as `.sops.yaml`, the enseal drivers set
/// up, and one commit.
fn repo(sb: &Sandbox, key: &Path, sops_yaml: &str) {
    git(sb, key, &["init", "-q", "-b", "main"]).ok();
    git(sb, key, &["config", "user.name", "Test"]).ok();
    git(sb, key, &["config", "user.email", "test@example.invalid"]).ok();
    git(sb, key, &["config", "commit.gpgsign", "false"]).ok();
    sb.write(".sops.yaml", sops_yaml);
    run(sb
        .enseal()
        .args(["git", "setup", "--program"])
        .arg(enseal_bin()))
    .ok();
    commit_all(sb, key, "init");
}

fn commit_all(sb: &Sandbox, key: &Path, message: &str) {
    git(sb, key, &["add", "-A"]).ok();
    git(sb, key, &["commit", "-q", "-m", message]).ok();
}

fn age_rule(recipients: &[&str]) -> String {
    format!(
        "creation_rules:\n  - path_regex: \\.enc\\.yaml$\n    age: {}\n",
        recipients.join(",")
    )
}

fn set(sb: &Sandbox, key: &Path, index: &str, json: &str) {
    run(with_keys(sb.enseal(), key).args(["set", FILE, index, json])).ok();
}

/// A branch re-creates the file for the same recipient with a data key its
/// author knows (wrapped for the author too, who then removes their own
/// entry with the reference's `updatekeys`, which keeps the data key). Main
/// changes a value; the merge must not adopt that data key: neither the
/// merged values nor a value added on main after the merge open with it.
#[test]
fn merge_never_adopts_a_data_key_made_on_another_branch() {
    let Some(sops) = require_sops() else { return };
    let sb = Sandbox::new();
    let ks = KeySet::new(&sb);
    let (user, attacker) = (&ks.files[0], &ks.files[1]);
    repo(&sb, user, &age_rule(&[ks.r(0)]));
    let path = sb.write(FILE, PLAIN);
    run(with_keys(sb.enseal(), user).args(["encrypt", "-i", FILE])).ok();
    commit_all(&sb, user, "secrets");

    // The branch: the file made again, for the user and the attacker…
    git(&sb, attacker, &["checkout", "-q", "-b", "feature"]).ok();
    sb.write(FILE, format!("{PLAIN}added_on_branch: from-branch\n"));
    let both = format!("{},{}", ks.r(0), ks.r(1));
    run(with_keys(sb.enseal(), attacker).args(["encrypt", "-i", "--age", &both, FILE])).ok();
    let attacker_copy = read(&path);
    // …then only for the user (as the rule asks), same data key.
    run(with_keys(sb.sops(&sops), attacker).args(["updatekeys", "-y", FILE])).ok();
    let theirs = read(&path);
    assert!(!theirs.contains(ks.r(1)), "{theirs}");
    commit_all(&sb, attacker, "re-create");
    // The probe works: the branch's file opens with the attacker's copy.
    assert_same_data_key(&sb, &theirs, &attacker_copy, attacker);

    git(&sb, user, &["checkout", "-q", "main"]).ok();
    set(&sb, user, r#"["api_key"]"#, r#""main-key""#);
    commit_all(&sb, user, "main");
    let merge = git(&sb, user, &["merge", "--no-edit", "feature"]);
    assert_eq!(merge.code, Some(0), "{}\n{}", merge.out(), merge.err());
    let notes: Vec<String> = merge
        .err()
        .lines()
        .filter(|l| l.contains("new data key"))
        .map(str::to_string)
        .collect();
    assert_eq!(notes.len(), 1, "one line on stderr: {}", merge.err());
    assert!(notes[0].contains(FILE), "{}", notes[0]);

    let merged = read(&path);
    assert!(!merged.contains("main-key") && !merged.contains("from-branch"));
    assert_other_data_key(&sb, &merged, &attacker_copy, attacker);
    assert_other_data_key(&sb, &merged, &theirs, user);
    // The user's own earlier data key is not reused either: a new one.
    let ours = String::from_utf8(
        git(&sb, user, &["show", "HEAD^1:./secrets.enc.yaml"])
            .ok()
            .stdout,
    )
    .unwrap();
    assert_other_data_key(&sb, &merged, &ours, user);
    let plain = sops_decrypts(&sb, &sops, user, &path);
    for want in ["main-key", "from-branch", "admin", "base-pass"] {
        assert!(plain.contains(want), "{want} missing in\n{plain}");
    }
    assert_eq!(
        run(with_keys(sb.sops(&sops), attacker)
            .arg("decrypt")
            .arg(&path))
        .code,
        Some(128)
    );

    // A secret added on main after the merge: still not under their key.
    set(&sb, user, r#"["added_later"]"#, r#""later-secret""#);
    let later = read(&path);
    assert_other_data_key(&sb, &later, &attacker_copy, attacker);
    assert!(sops_decrypts(&sb, &sops, user, &path).contains("later-secret"));
}

/// Only ours changed the master keys (a recipient added): ours' data key is
/// the user's own and is kept; the merge says nothing about a new one.
#[test]
fn merge_keeps_ours_data_key_when_only_ours_changed_the_keys() {
    let Some(sops) = require_sops() else { return };
    let sb = Sandbox::new();
    let ks = KeySet::new(&sb);
    let user = &ks.all;
    repo(&sb, user, &age_rule(&[ks.r(0)]));
    let path = sb.write(FILE, PLAIN);
    run(with_keys(sb.enseal(), user).args(["encrypt", "-i", FILE])).ok();
    commit_all(&sb, user, "secrets");
    git(&sb, user, &["checkout", "-q", "-b", "feature"]).ok();
    set(&sb, user, r#"["db"]["password"]"#, r#""feature-pass""#);
    commit_all(&sb, user, "feature");
    git(&sb, user, &["checkout", "-q", "main"]).ok();
    run(with_keys(sb.enseal(), user).args(["rotate", "-i", "--add-age", ks.r(2), FILE])).ok();
    set(&sb, user, r#"["api_key"]"#, r#""main-key""#);
    commit_all(&sb, user, "main keys");
    let ours = read(&path);
    let merge = git(&sb, user, &["merge", "--no-edit", "feature"]);
    assert_eq!(merge.code, Some(0), "{}", merge.err());
    assert!(!merge.err().contains("new data key"), "{}", merge.err());
    let merged = read(&path);
    assert_same_data_key(&sb, &merged, &ours, &ks.files[0]);
    let plain = sops_decrypts(&sb, &sops, &ks.files[2], &path);
    assert!(plain.contains("feature-pass") && plain.contains("main-key"));
}

/// `updatekeys` removes a recipient: the removed recipient (who keeps the
/// old file) cannot open the values of the new file, nor a value added
/// later with `decrypt -i` → edit → `encrypt -i` (which reuses the data key
/// of the version in `HEAD`).
#[test]
fn updatekeys_removing_a_recipient_makes_a_new_data_key() {
    let Some(sops) = require_sops() else { return };
    let sb = Sandbox::new();
    let ks = KeySet::new(&sb);
    let (user, removed) = (&ks.files[0], &ks.files[1]);
    repo(&sb, &ks.all, &age_rule(&[ks.r(0), ks.r(1)]));
    let path = sb.write(FILE, PLAIN);
    run(with_keys(sb.enseal(), &ks.all).args(["encrypt", "-i", FILE])).ok();
    commit_all(&sb, &ks.all, "secrets");
    let old = read(&path);
    assert_same_data_key(&sb, &old, &old, removed);

    sb.write(".sops.yaml", age_rule(&[ks.r(0)]));
    run(with_keys(sb.enseal(), user).args(["updatekeys", "-y", FILE])).ok();
    let updated = read(&path);
    assert!(!updated.contains(ks.r(1)));
    assert_other_data_key(&sb, &updated, &old, removed);
    assert_eq!(sops_decrypts(&sb, &sops, user, &path), PLAIN);
    commit_all(&sb, user, "remove a recipient");

    // decrypt -i, a value added, encrypt -i: HEAD's (new) data key.
    run(with_keys(sb.enseal(), user).args(["decrypt", "-i", FILE])).ok();
    sb.write(FILE, format!("{}added: after-removal\n", read(&path)));
    run(with_keys(sb.enseal(), user).args(["encrypt", "-i", FILE])).ok();
    let edited = read(&path);
    assert_same_data_key(&sb, &edited, &updated, user);
    assert_other_data_key(&sb, &edited, &old, removed);
    assert!(sops_decrypts(&sb, &sops, user, &path).contains("after-removal"));

    // Adding a recipient keeps the data key (as sops).
    sb.write(".sops.yaml", age_rule(&[ks.r(0), ks.r(2)]));
    run(with_keys(sb.enseal(), user).args(["updatekeys", "-y", FILE])).ok();
    assert_same_data_key(&sb, &read(&path), &edited, user);
    assert!(sops_decrypts(&sb, &sops, &ks.files[2], &path).contains("after-removal"));
}

/// `groups delete`: the deleted group's holders had the data key (here with
/// every identity of the old file: the old threshold met).
#[test]
fn groups_delete_makes_a_new_data_key() {
    let Some(sops) = require_sops() else { return };
    let sb = Sandbox::new();
    let ks = KeySet::new(&sb);
    let plain = sb.write("plain.yaml", PLAIN);
    let out = run(sb.enseal().args(["encrypt", "--age", ks.r(0)]).arg(&plain)).ok();
    let file = sb.write("f.yaml", &out.stdout);
    run(with_keys(sb.enseal(), &ks.all)
        .args(["groups", "add", "-i", "--age", ks.r(1), "-f"])
        .arg(&file))
    .ok();
    let two = read(&file);
    assert!(two.contains("shamir_threshold: 2"), "{two}");
    run(with_keys(sb.enseal(), &ks.all)
        .args([
            "groups",
            "delete",
            "-i",
            "--shamir-secret-sharing-threshold",
            "1",
            "-f",
        ])
        .arg(&file)
        .arg("1"))
    .ok();
    let one = read(&file);
    assert!(!one.contains(ks.r(1)));
    assert_other_data_key(&sb, &one, &two, &ks.all);
    assert_eq!(sops_decrypts(&sb, &sops, &ks.files[0], &file), PLAIN);
}

/// `rotate --rm-age` (always a new data key, as sops).
#[test]
fn rotate_removing_a_recipient_makes_a_new_data_key() {
    let Some(sops) = require_sops() else { return };
    let sb = Sandbox::new();
    let ks = KeySet::new(&sb);
    let plain = sb.write("plain.yaml", PLAIN);
    let both = format!("{},{}", ks.r(0), ks.r(1));
    let out = run(sb.enseal().args(["encrypt", "--age", &both]).arg(&plain)).ok();
    let file = sb.write("f.yaml", &out.stdout);
    let old = read(&file);
    run(with_keys(sb.enseal(), &ks.all)
        .args(["rotate", "-i", "--rm-age", ks.r(1)])
        .arg(&file))
    .ok();
    assert_other_data_key(&sb, &read(&file), &old, &ks.files[1]);
    assert_eq!(sops_decrypts(&sb, &sops, &ks.files[0], &file), PLAIN);
}

fn groups_rule(threshold: usize, recipients: &[&str]) -> String {
    let mut text = format!(
        "creation_rules:\n  - path_regex: \\.enc\\.yaml$\n    shamir_threshold: {threshold}\n    key_groups:\n"
    );
    for r in recipients {
        text.push_str(&format!("      - age: [{r}]\n"));
    }
    text
}

/// The rule's Shamir threshold changed: `encrypt -i` (which would reuse the
/// data key of the version in `HEAD`) makes the file anew with the new
/// threshold and a new data key.
#[test]
fn encrypt_in_place_applies_a_changed_threshold_with_a_new_data_key() {
    let Some(sops) = require_sops() else { return };
    let sb = Sandbox::new();
    let ks = KeySet::new(&sb);
    let all: Vec<&str> = (0..3).map(|i| ks.r(i)).collect();
    repo(&sb, &ks.all, &groups_rule(3, &all));
    let path = sb.write(FILE, PLAIN);
    run(with_keys(sb.enseal(), &ks.all).args(["encrypt", "-i", FILE])).ok();
    commit_all(&sb, &ks.all, "secrets");
    let committed = read(&path);
    assert!(committed.contains("shamir_threshold: 3"), "{committed}");

    // Unchanged rule: decrypt -i, encrypt -i gives the committed bytes.
    run(with_keys(sb.enseal(), &ks.all).args(["decrypt", "-i", FILE])).ok();
    run(with_keys(sb.enseal(), &ks.all).args(["encrypt", "-i", FILE])).ok();
    assert_eq!(read(&path), committed);

    run(with_keys(sb.enseal(), &ks.all).args(["decrypt", "-i", FILE])).ok();
    sb.write(".sops.yaml", groups_rule(2, &all));
    run(with_keys(sb.enseal(), &ks.all).args(["encrypt", "-i", FILE])).ok();
    let now = read(&path);
    assert!(now.contains("shamir_threshold: 2"), "{now}");
    assert_other_data_key(&sb, &now, &committed, &ks.all);
    // Two of the three groups are enough now.
    assert_eq!(sops_decrypts(&sb, &sops, &ks.only(&[0, 2]), &path), PLAIN);
}

/// `encrypt --output` onto an existing file whose KMS key has another
/// encryption context: a new data key (same context: the file is kept).
#[test]
fn encrypt_output_with_another_kms_context_makes_a_new_data_key() {
    let Some(sops) = require_sops() else { return };
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (Some(endpoint), Some(arn)) = (var("ENSEAL_TEST_AWS_ENDPOINT"), var("ENSEAL_TEST_KMS_ARN"))
    else {
        let msg = "ENSEAL_TEST_AWS_ENDPOINT / ENSEAL_TEST_KMS_ARN not set (run `eval \"$(scripts/test-servers env)\"`)";
        unavailable(msg);
        return;
    };
    let aws = |mut cmd: Command| -> Command {
        cmd.env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
        cmd
    };
    let sb = Sandbox::new();
    let ks = KeySet::new(&sb);
    let plain = sb.write("plain.yaml", PLAIN);
    let target: PathBuf = sb.path("t.enc.yaml");
    let encrypt = |context: &str| {
        run(aws(with_keys(sb.enseal(), &ks.files[0]))
            .args(["encrypt", "--age", ks.r(0), "--kms", &arn])
            .args(["--encryption-context", context, "--output"])
            .arg(&target)
            .arg(&plain))
        .ok();
        read(&target)
    };
    let first = encrypt("team:a");
    assert_eq!(encrypt("team:a"), first, "same settings: the file is kept");
    let second = encrypt("team:b");
    assert!(second.contains("team: b"), "{second}");
    assert_other_data_key(&sb, &second, &first, &ks.files[0]);
    let out = run(aws(sb.sops(&sops)).arg("decrypt").arg(&target)).ok();
    assert_eq!(out.out(), PLAIN);
}

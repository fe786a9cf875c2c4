//! `enseal check` and `.sops.yaml`'s `rotation:` policy, in real git
//! repositories built here (commits on chosen days by chosen authors). No
//! private key is available to any `check` run. `ENSEAL_NOW` fixes the
//! clock.

mod common;
mod history_repo;

use common::*;
use history_repo::*;

const POLICY: &str =
    "rotation:\n  default: 365d\n  '[\"db\"][\"password\"]': 30d\n  '.*key.*': 12w\n";

fn check(repo: &Repo, now: &str, args: &[&str]) -> Out {
    let mut cmd = repo.enseal_nokey();
    cmd.env("ENSEAL_NOW", now).arg("check").args(args);
    run(&mut cmd)
}

#[test]
fn the_reference_ignores_the_rotation_block() {
    let Some(sops) = require_sops() else { return };
    let repo = Repo::new(POLICY);
    let path = repo.sb.write("s.yaml", "db:\n    password: hunter2\n");
    let out = run(repo
        .sb
        .sops(&sops)
        .args(["encrypt", "--in-place"])
        .arg(&path))
    .ok();
    assert!(
        out.err().is_empty() || !out.err().contains("rotation"),
        "{}",
        out.err()
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("ENC[AES256_GCM"), "{text}");
}

#[test]
fn old_values_are_reported_with_date_author_and_line() {
    let repo = db_history(POLICY);
    let out = check(&repo, "2026-07-01", &[]).code_in(&[10]);
    let stdout = out.out();
    let lines: Vec<&str> = stdout.lines().collect();
    // The password is unchanged since alice set it (181 days > 30d), though
    // the file was re-encrypted twice since; api.key changed 30 days ago
    // (< 12w); db.user is gone.
    assert_eq!(
        lines,
        ["secrets/db.yaml:2: rotation: [\"db\"][\"password\"] last changed 2026-01-01 by alice (181 days, limit 30d)"],
        "{stdout}"
    );
    assert!(
        out.err().contains("1 finding (1 rotation)"),
        "{}",
        out.err()
    );
    // On 2026-09-01 the key set on 2026-06-01 is 92 days old (> 84).
    let later = check(&repo, "2026-09-01", &[]).code_in(&[10]).out();
    assert!(
        later.contains("[\"api\"][\"key\"] last changed 2026-06-01 by carol (92 days, limit 12w)"),
        "{later}"
    );
    // Before the limits, nothing.
    check(&repo, "2026-01-20", &[]).ok();
}

#[test]
fn json_carries_the_commit_and_the_ages() {
    let repo = db_history(POLICY);
    let out = check(&repo, "2026-07-01", &["--format", "json"]).code_in(&[10]);
    let v: serde_json::Value = serde_json::from_str(&out.out()).unwrap();
    let f = &v["findings"][0];
    assert_eq!(f["kind"], "rotation");
    assert_eq!(f["path"], "secrets/db.yaml");
    assert_eq!(f["line"], 2);
    assert_eq!(f["rule"], "[\"db\"][\"password\"]");
    assert_eq!(f["key"], "[\"db\"][\"password\"]");
    assert_eq!(f["age_days"], 181);
    assert_eq!(f["limit"], "30d");
    assert_eq!(f["limit_days"], 30);
    assert_eq!(f["last_changed"]["date"], "2026-01-01");
    assert_eq!(f["last_changed"]["author"], "alice");
    assert_eq!(f["last_changed"]["email"], "alice@example.invalid");
    assert_eq!(f["last_changed"]["commit"].as_str().unwrap().len(), 40);
    assert_eq!(v["counts"]["rotation"], 1);
}

#[test]
fn a_changed_value_gets_the_new_commit_and_uncommitted_changes_are_fresh() {
    let repo = db_history(POLICY);
    repo.set(
        "secrets/db.yaml",
        "[\"db\"][\"password\"]",
        "\"second-password\"",
    );
    // Not committed yet: changing now, so not old.
    check(&repo, "2026-07-01", &[]).ok();
    repo.commit("2026-06-20", "dave");
    check(&repo, "2026-07-01", &[]).ok();
    let out = check(&repo, "2026-08-01", &[]).code_in(&[10]).out();
    assert!(
        out.contains("[\"db\"][\"password\"] last changed 2026-06-20 by dave (42 days, limit 30d)"),
        "{out}"
    );
}

#[test]
fn shallow_clones_and_uncommitted_files_are_unknown_never_fresh() {
    let repo = db_history(POLICY);
    // A file never committed.
    repo.add("secrets/new.yaml", "token: t\n");
    let out = check(&repo, "2026-07-01", &["secrets/new.yaml"])
        .code_in(&[10])
        .out();
    assert!(
        out.contains("secrets/new.yaml: rotation-unknown: the age of 1 value with a rotation limit cannot be known: not committed to git"),
        "{out}"
    );
    // A shallow clone of the repository.
    let clone = repo.sb.root().join("clone");
    let url = format!("file://{}", repo.sb.work().display());
    let mut cmd = repo.git_cmd("2026-07-01", "x");
    cmd.args(["clone", "-q", "--depth", "1", &url]).arg(&clone);
    run(&mut cmd).ok();
    let mut cmd = repo.enseal_nokey();
    cmd.current_dir(&clone)
        .env("ENSEAL_NOW", "2026-07-01")
        .args(["check", "--format", "json"]);
    let out = run(&mut cmd).code_in(&[10]);
    let v: serde_json::Value = serde_json::from_str(&out.out()).unwrap();
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{}", out.out());
    assert_eq!(findings[0]["kind"], "rotation-unknown");
    assert!(
        findings[0]["message"]
            .as_str()
            .unwrap()
            .contains("shallow clone"),
        "{}",
        out.out()
    );
}

#[test]
fn no_rules_no_history_read_and_rotation_flag_needs_rules() {
    let repo = db_history("");
    check(&repo, "2030-01-01", &[]).ok();
    let out = check(&repo, "2030-01-01", &["--rotation"]).code_in(&[1]);
    assert!(
        out.err().contains("has no rotation: rules"),
        "{}",
        out.err()
    );
}

#[test]
fn a_bad_policy_is_a_config_error_naming_the_key() {
    let repo = db_history("rotation:\n  '[\"db\"]': 30 days\n");
    let out = check(&repo, "2026-07-01", &[]).code_in(&[1]);
    assert!(
        out.err().contains("rotation[\"[\\\"db\\\"]\"]") && out.err().contains("30d"),
        "{}",
        out.err()
    );
}

#[test]
fn a_relative_git_dir_from_a_hook_still_finds_the_history() {
    let repo = db_history(POLICY);
    let mut cmd = repo.enseal_nokey();
    cmd.env("ENSEAL_NOW", "2026-07-01")
        .env("GIT_DIR", ".git")
        .args(["check", "secrets/db.yaml"]);
    let out = run(&mut cmd).code_in(&[10]).out();
    assert!(
        out.contains("rotation: [\"db\"][\"password\"] last changed 2026-01-01 by alice"),
        "{out}"
    );
}

#[test]
fn the_pre_commit_hook_runs_check_with_rotation() {
    let text = std::fs::read_to_string(crate_dir().join(".pre-commit-hooks.yaml")).unwrap();
    let hook = text
        .split("- id: ")
        .find(|h| h.starts_with("enseal-rotation"))
        .unwrap_or_else(|| panic!("no enseal-rotation hook in {text}"));
    assert!(hook.contains("entry: enseal check --rotation"), "{hook}");
    assert!(hook.contains("pass_filenames: false"), "{hook}");
}

#[test]
fn a_value_changed_on_a_merged_branch_dates_from_the_branch_commit() {
    let repo = db_history(POLICY);
    repo.git(&["checkout", "-q", "-b", "rotate-db"], "2026-06-05", "gina");
    repo.set(
        "secrets/db.yaml",
        "[\"db\"][\"password\"]",
        "\"branch-password\"",
    );
    repo.commit("2026-06-05", "gina");
    repo.git(&["checkout", "-q", "main"], "2026-06-10", "hal");
    repo.set("secrets/db.yaml", "[\"api\"][\"key\"]", "\"key-four\"");
    repo.commit("2026-06-10", "hal");
    // The merge conflicts on the metadata (no merge driver here): resolved
    // by taking the branch's file and setting main's change again.
    let mut merge = repo.git_cmd("2026-06-12", "hal");
    merge.args(["merge", "-q", "--no-edit", "rotate-db"]);
    run(&mut merge);
    repo.git(
        &["checkout", "--theirs", "secrets/db.yaml"],
        "2026-06-12",
        "hal",
    );
    repo.set("secrets/db.yaml", "[\"api\"][\"key\"]", "\"key-four\"");
    repo.commit("2026-06-12", "hal");
    let out = check(&repo, "2026-07-20", &["--format", "json"]).code_in(&[10]);
    let v: serde_json::Value = serde_json::from_str(&out.out()).unwrap();
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{}", out.out());
    // The password set on the branch on 2026-06-05 (45 days > 30d), though
    // a commit on main after it still held the old one.
    assert_eq!(findings[0]["key"], "[\"db\"][\"password\"]");
    assert_eq!(findings[0]["last_changed"]["author"], "gina");
    assert_eq!(findings[0]["last_changed"]["date"], "2026-06-05");
    assert_eq!(findings[0]["age_days"], 45);
}

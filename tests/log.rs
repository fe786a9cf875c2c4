//! `enseal log`: each value's changes from git history, in real
//! repositories built here (commits on chosen days by chosen authors), with
//! no key available.

mod common;
mod history_repo;

use common::*;
use history_repo::*;

fn log(repo: &Repo, args: &[&str]) -> Out {
    let mut cmd = repo.enseal_nokey();
    cmd.arg("log").args(args);
    run(&mut cmd)
}

fn json(repo: &Repo, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    serde_json::from_str(&log(repo, &all).ok().out()).unwrap()
}

/// `(date, author, change)` of one value in a file of a JSON log.
fn changes(file: &serde_json::Value, key: &str) -> Vec<(String, String, String)> {
    let value = file["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["key"] == key)
        .unwrap_or_else(|| panic!("{key} not in {file}"));
    value["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["date"].as_str().unwrap().to_string(),
                c["author"].as_str().unwrap().to_string(),
                c["change"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn t(date: &str, who: &str, change: &str) -> (String, String, String) {
    (date.into(), who.into(), change.into())
}

#[test]
fn every_value_has_its_changes_newest_first() {
    let repo = db_history("");
    let v = json(&repo, &["secrets/db.yaml"]);
    let file = &v["files"][0];
    assert_eq!(file["path"], "secrets/db.yaml");
    assert!(file["unknown"].is_null());
    // Re-encrypted twice without a change: one entry.
    assert_eq!(
        changes(file, "[\"db\"][\"password\"]"),
        [t("2026-01-01", "alice", "added")]
    );
    assert_eq!(
        changes(file, "[\"api\"][\"key\"]"),
        [
            t("2026-06-01", "carol", "changed"),
            t("2026-03-01", "bob", "changed"),
            t("2026-01-01", "alice", "added"),
        ]
    );
    assert_eq!(
        changes(file, "[\"db\"][\"user\"]"),
        [
            t("2026-06-01", "carol", "removed"),
            t("2026-01-01", "alice", "added"),
        ]
    );
    let keys: Vec<&str> = file["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "[\"api\"][\"key\"]",
            "[\"db\"][\"password\"]",
            "[\"db\"][\"user\"]"
        ]
    );
}

#[test]
fn text_output_and_a_key_path_filter() {
    let repo = db_history("");
    let out = log(&repo, &["secrets/db.yaml", "[\"db\"]"]).ok().out();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "secrets/db.yaml");
    assert_eq!(lines[1], "  [\"db\"][\"password\"]");
    assert!(lines[2].starts_with("    2026-01-01  "), "{out}");
    assert!(
        lines[2].ends_with("added    alice <alice@example.invalid>"),
        "{out}"
    );
    assert_eq!(lines[3], "  [\"db\"][\"user\"]");
    assert!(lines[4].contains("removed  carol"), "{out}");
    assert!(lines[5].contains("added    alice"), "{out}");
    assert_eq!(lines.len(), 6, "{out}");
    assert!(!out.contains("api"), "{out}");
    // Nothing secret or encrypted is shown.
    assert!(
        !out.contains("ENC[") && !out.contains("first-password"),
        "{out}"
    );
}

#[test]
fn renames_are_followed() {
    let repo = db_history("");
    repo.git(
        &["mv", "secrets/db.yaml", "secrets/database.yaml"],
        "2026-06-10",
        "erin",
    );
    repo.commit("2026-06-10", "erin");
    let v = json(&repo, &["secrets/database.yaml"]);
    assert_eq!(
        changes(&v["files"][0], "[\"db\"][\"password\"]"),
        [t("2026-01-01", "alice", "added")]
    );
}

#[test]
fn recursive_lists_every_encrypted_file_and_unknown_ones() {
    let repo = db_history("");
    repo.add("secrets/other.yaml", "token: t1\n");
    repo.commit("2026-02-01", "frank");
    repo.add("secrets/new.yaml", "token: t2\n");
    let v = json(&repo, &["-r"]);
    let files = v["files"].as_array().unwrap();
    let paths: Vec<&str> = files.iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(paths.len(), 3, "{v}");
    let other = files
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("other.yaml"))
        .unwrap();
    assert_eq!(
        changes(other, "[\"token\"]"),
        [t("2026-02-01", "frank", "added")]
    );
    let new = files
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("new.yaml"))
        .unwrap();
    assert_eq!(new["unknown"], "not committed to git");
}

#[test]
fn unknown_history_of_one_file_is_an_error() {
    let repo = db_history("");
    repo.add("secrets/new.yaml", "token: t2\n");
    let out = log(&repo, &["secrets/new.yaml"]).code_in(&[1]);
    assert!(
        out.err()
            .contains("the history of secrets/new.yaml cannot be known: not committed to git"),
        "{}",
        out.err()
    );
    let clone = repo.sb.root().join("clone");
    let url = format!("file://{}", repo.sb.work().display());
    let mut cmd = repo.git_cmd("2026-07-01", "x");
    cmd.args(["clone", "-q", "--depth", "1", &url]).arg(&clone);
    run(&mut cmd).ok();
    let mut cmd = repo.enseal_nokey();
    cmd.current_dir(&clone).args(["log", "secrets/db.yaml"]);
    let out = run(&mut cmd).code_in(&[1]);
    assert!(out.err().contains("shallow clone"), "{}", out.err());
}

#[test]
fn bad_arguments_are_usage_errors() {
    let repo = db_history("");
    let out = log(&repo, &["secrets/db.yaml", "[db]"]).code_in(&[1, 2]);
    assert!(out.err().contains("invalid KEYPATH"), "{}", out.err());
    let out = log(&repo, &["a.yaml", "b.yaml"]).code_in(&[1, 2]);
    assert!(out.err().contains("use -r"), "{}", out.err());
}

#[test]
fn decrypt_shows_old_and_new_values_to_a_key_holder_and_writes_nothing() {
    let repo = db_history("");
    let mut cmd = repo.enseal();
    cmd.args(["log", "--decrypt", "secrets/db.yaml", "[\"api\"]"]);
    let out = run(&mut cmd).ok().out();
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    let expected = [
        "secrets/db.yaml",
        "[\"api\"][\"key\"]",
        "old: key-two",
        "new: key-three",
        "old: key-one",
        "new: key-two",
        "new: key-one",
    ];
    let kept: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.starts_with("2026-"))
        .collect();
    assert_eq!(kept, expected, "{out}");
    // JSON: old and new on each change; a removed value has its old one.
    let mut cmd = repo.enseal();
    cmd.args(["log", "--decrypt", "--format", "json", "secrets/db.yaml"]);
    let v: serde_json::Value = serde_json::from_str(&run(&mut cmd).ok().out()).unwrap();
    let user = v["files"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["key"] == "[\"db\"][\"user\"]")
        .unwrap()
        .clone();
    assert_eq!(user["changes"][0]["change"], "removed");
    assert_eq!(user["changes"][0]["old"], "app");
    assert!(user["changes"][0]["new"].is_null());
    assert_eq!(user["changes"][1]["new"], "app");
    // Nothing was written to the work tree.
    let status = repo
        .git(&["status", "--porcelain"], "2026-07-01", "x")
        .out();
    assert!(status.is_empty(), "{status}");
    // Without a key, each version says why it is not decrypted.
    let mut cmd = repo.enseal_nokey();
    cmd.args([
        "log",
        "--decrypt",
        "secrets/db.yaml",
        "[\"db\"][\"password\"]",
    ]);
    let out = run(&mut cmd).ok().out();
    assert!(out.contains("(not decrypted: "), "{out}");
    assert!(!out.contains("first-password"), "{out}");
}

//! A git repository for the history tests (`tests/rotation.rs`,
//! `tests/log.rs`): encrypted files committed on chosen days by chosen
//! authors. HOME is the sandbox's, the system git config is ignored.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use crate::common::*;

pub struct Repo {
    pub sb: Sandbox,
}

impl Repo {
    /// A repository whose `.sops.yaml` encrypts `*.yaml` to test key 1,
    /// with `extra` appended (a `rotation:` block), committed on
    /// 2025-12-01 by `admin`.
    pub fn new(extra: &str) -> Repo {
        let sb = Sandbox::new();
        let repo = Repo { sb };
        repo.git(&["init", "-q", "-b", "main"], "2025-12-01", "admin");
        repo.git(
            &["config", "commit.gpgsign", "false"],
            "2025-12-01",
            "admin",
        );
        repo.sb.write(
            ".sops.yaml",
            format!(
                "creation_rules:\n  - path_regex: \\.yaml$\n    age: {}\n{extra}",
                recipient(1)
            ),
        );
        repo.commit("2025-12-01", "admin");
        repo
    }

    /// `git` in the work tree, author and committer `who` on `day`.
    pub fn git_cmd(&self, day: &str, who: &str) -> Command {
        let mut cmd = scrubbed(Path::new("git"), &self.sb.home(), &self.sb.work());
        let date = format!("{day}T12:00:00Z");
        cmd.env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .env("GIT_AUTHOR_NAME", who)
            .env("GIT_AUTHOR_EMAIL", format!("{who}@example.invalid"))
            .env("GIT_COMMITTER_NAME", who)
            .env("GIT_COMMITTER_EMAIL", format!("{who}@example.invalid"));
        cmd
    }

    pub fn git(&self, args: &[&str], day: &str, who: &str) -> Out {
        run(self.git_cmd(day, who).args(args)).ok()
    }

    /// Commits everything.
    pub fn commit(&self, day: &str, who: &str) {
        self.git(&["add", "-A"], day, who);
        self.git(
            &["commit", "-q", "-m", &format!("{who} on {day}")],
            day,
            who,
        );
    }

    /// enseal with test key 1.
    pub fn enseal(&self) -> Command {
        let mut cmd = self.sb.enseal();
        cmd.env("SOPS_AGE_KEY_FILE", key_file(1));
        cmd
    }

    /// enseal with no key at all.
    pub fn enseal_nokey(&self) -> Command {
        self.sb.enseal()
    }

    /// Writes `plain` as `name`, encrypts it in place.
    pub fn add(&self, name: &str, plain: &str) {
        self.sb.write(name, plain);
        run(self.enseal().args(["encrypt", "-i", name])).ok();
    }

    /// `enseal set FILE INDEX JSON`.
    pub fn set(&self, name: &str, index: &str, json: &str) {
        run(self.enseal().args(["set", name, index, json])).ok();
    }

    /// `enseal unset FILE INDEX`.
    pub fn unset(&self, name: &str, index: &str) {
        run(self.enseal().args(["unset", name, index])).ok();
    }

    /// The text of the line holding `key` in `name` (its ciphertext).
    pub fn line_of(&self, name: &str, key: &str) -> String {
        std::fs::read_to_string(self.sb.path(name))
            .unwrap()
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{key}:")))
            .unwrap_or_else(|| panic!("{key} not in {name}"))
            .to_string()
    }
}

/// The common history: `secrets/db.yaml` added by alice on 2026-01-01
/// (`db.password`, `db.user`, `api.key`); bob changes `api.key` on
/// 2026-03-01; carol changes it again on 2026-06-01 and removes `db.user`.
pub fn db_history(extra: &str) -> Repo {
    let repo = Repo::new(extra);
    repo.add(
        "secrets/db.yaml",
        "db:\n    password: first-password\n    user: app\napi:\n    key: key-one\n",
    );
    repo.commit("2026-01-01", "alice");
    let password = repo.line_of("secrets/db.yaml", "password");
    repo.set("secrets/db.yaml", "[\"api\"][\"key\"]", "\"key-two\"");
    // The unchanged value kept its ciphertext: git sees no change to it.
    assert_eq!(repo.line_of("secrets/db.yaml", "password"), password);
    repo.commit("2026-03-01", "bob");
    repo.set("secrets/db.yaml", "[\"api\"][\"key\"]", "\"key-three\"");
    repo.unset("secrets/db.yaml", "[\"db\"][\"user\"]");
    assert_eq!(repo.line_of("secrets/db.yaml", "password"), password);
    repo.commit("2026-06-01", "carol");
    repo
}

//! `enseal check --scan --history`: a secret committed and removed in the
//! next commit is still found, named by commit and path; the repository's
//! own configuration runs nothing.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// A secret-shaped string built at run time, so that this file holds none.
fn github_token() -> String {
    format!("{}_{}", "ghp", "Qw7".repeat(12))
}

fn pem_header() -> String {
    format!("-----BEGIN {}PRIVATE KEY-----", "OPENSSH ")
}

fn git_cmd(sb: &Sandbox) -> Command {
    let mut cmd = scrubbed(Path::new("git"), &sb.home(), &sb.work());
    cmd.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_PAGER", "cat");
    cmd
}

fn git(sb: &Sandbox, args: &[&str]) -> String {
    run(git_cmd(sb).args(args)).ok().out().trim().to_string()
}

fn commit_all(sb: &Sandbox, message: &str) -> String {
    git(sb, &["add", "-A"]);
    git(sb, &["commit", "-q", "-m", message]);
    git(sb, &["rev-parse", "HEAD"])
}

/// A repository whose second commit removes the secret the first added,
/// and a branch holding a key that never reached `main`.
fn make_repo() -> (Sandbox, String, String) {
    let sb = Sandbox::new();
    git(&sb, &["init", "-q", "-b", "main"]);
    git(&sb, &["config", "user.name", "Test"]);
    git(&sb, &["config", "user.email", "test@example.invalid"]);
    git(&sb, &["config", "commit.gpgsign", "false"]);
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: ^secrets/\n    age: {}\n",
            recipient(1)
        ),
    );
    sb.write("app/settings.yaml", "debug: true\nname: api\n");
    commit_all(&sb, "init");
    sb.write(
        "app/settings.yaml",
        format!("debug: true\ngithub: {}\nname: api\n", github_token()),
    );
    let leaked = commit_all(&sb, "add the token");
    sb.write("app/settings.yaml", "debug: true\nname: api\n");
    commit_all(&sb, "remove the token");
    git(&sb, &["checkout", "-q", "-b", "feature"]);
    sb.write(
        "deploy/id key",
        format!("{}\nb3BlbnNzaC1rZXktdjEAAAAA\n", pem_header()),
    );
    let branch = commit_all(&sb, "deploy key");
    git(&sb, &["checkout", "-q", "main"]);
    (sb, leaked, branch)
}

#[test]
fn a_removed_secret_is_found_in_the_history() {
    let (sb, leaked, branch) = make_repo();
    // The working tree is clean.
    let out = run(sb.enseal().args(["check", "--scan"]));
    assert_eq!(out.code, Some(0), "{}\n{}", out.out(), out.err());

    let out = run(sb.enseal().args(["check", "--scan", "--history"]));
    assert_eq!(out.code, Some(10), "{}\n{}", out.out(), out.err());
    let text = out.out();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let token_line = format!("{}:app/settings.yaml:2: secret: ", &leaked[..12]);
    assert!(lines.iter().any(|l| l.starts_with(&token_line)), "{text}");
    let key_line = format!("{}:deploy/id key:1: secret: ", &branch[..12]);
    assert!(lines.iter().any(|l| l.starts_with(&key_line)), "{text}");
    assert!(!text.contains(&github_token()), "{text}");

    let out = run(sb
        .enseal()
        .args(["check", "--scan", "--history", "--format", "json"]));
    assert_eq!(out.code, Some(10));
    let v: serde_json::Value = serde_json::from_str(out.out().trim()).unwrap();
    let list = v["findings"].as_array().unwrap();
    let token = list
        .iter()
        .find(|f| f["rule"] == "github-token")
        .expect("github-token finding");
    assert_eq!(
        token["path"],
        format!("{}:app/settings.yaml", &leaked[..12])
    );
    assert_eq!(token["line"], 2);
    assert!(token["message"].as_str().unwrap().contains(&leaked[..12]));
}

#[test]
fn the_repository_configuration_runs_nothing() {
    let (sb, _, _) = make_repo();
    let marker = sb.root().join("ran");
    let script = sb.root().join("evil.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\ntouch '{}'\n", marker.display()),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    // A signed commit, so that verifying signatures would run gpg.program.
    let signer = sb.root().join("sign.sh");
    std::fs::write(
        &signer,
        "#!/bin/sh\ncat >/dev/null\necho '[GNUPG:] SIG_CREATED D 1 8 00 1700000000 ABCDEF' >&2\nprintf -- '-----BEGIN PGP SIGNATURE-----\\n\\niQEzBAABCAAdFiEE\\n-----END PGP SIGNATURE-----\\n'\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&signer, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    sb.write("app/signed.txt", "signed\n");
    git(&sb, &["add", "-A"]);
    let program = format!("gpg.program={}", signer.display());
    git(&sb, &["-c", &program, "commit", "-q", "-S", "-m", "signed"]);
    assert!(git(&sb, &["cat-file", "-p", "HEAD"]).contains("gpgsig"));
    let s = script.display().to_string();
    for (key, value) in [
        ("core.fsmonitor", s.as_str()),
        ("core.pager", s.as_str()),
        ("diff.external", s.as_str()),
        ("core.hooksPath", sb.root().to_str().unwrap()),
        ("gpg.program", s.as_str()),
        ("log.showSignature", "true"),
    ] {
        git(&sb, &["config", key, value]);
    }
    for hook in ["post-checkout", "pre-commit", "reference-transaction"] {
        std::fs::copy(&script, sb.root().join(hook)).unwrap();
    }
    let out = run(sb.enseal().args(["check", "--scan", "--history"]));
    assert_eq!(out.code, Some(10), "{}\n{}", out.out(), out.err());
    assert!(
        !marker.exists(),
        "the repository's configuration ran a program"
    );
}

#[test]
fn history_needs_a_repository_and_scan() {
    let sb = Sandbox::new();
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: ^secrets/\n    age: {}\n",
            recipient(1)
        ),
    );
    let out = run(sb.enseal().env("GIT_CEILING_DIRECTORIES", sb.root()).args([
        "check",
        "--scan",
        "--history",
    ]));
    assert_eq!(out.code, Some(1), "{}\n{}", out.out(), out.err());
    assert!(out.err().contains("git history"), "{}", out.err());
    assert_eq!(out.err().trim().lines().count(), 2, "{}", out.err());

    let out = run(sb.enseal().args(["check", "--history"]));
    assert_ne!(out.code, Some(0));
    assert_ne!(out.code, Some(10));
    assert!(out.err().contains("--scan"), "{}", out.err());
}

#[test]
fn a_secret_in_a_conflict_resolution_is_found() {
    let (sb, _, _) = make_repo();
    sb.write("app/notes.txt", "one\n");
    commit_all(&sb, "notes");
    git(&sb, &["checkout", "-q", "-b", "other"]);
    sb.write("app/notes.txt", "two\n");
    commit_all(&sb, "two");
    git(&sb, &["checkout", "-q", "main"]);
    sb.write("app/notes.txt", "three\n");
    commit_all(&sb, "three");
    // The merge conflicts; its resolution holds a key neither side had.
    let out = run(git_cmd(&sb).args(["merge", "-q", "other"]));
    assert_ne!(out.code, Some(0), "the merge should conflict");
    let key = format!(
        "{}-SECRET-KEY-1{}",
        "AGE",
        "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L".repeat(2)
    );
    sb.write("app/notes.txt", format!("{}\n", &key[..74]));
    let merge = commit_all(&sb, "merge other");
    let out = run(sb.enseal().args(["check", "--scan", "--history"]));
    assert_eq!(out.code, Some(10), "{}\n{}", out.out(), out.err());
    let want = format!("{}:app/notes.txt:1: secret: ", &merge[..12]);
    assert!(
        out.out().lines().any(|l| l.starts_with(&want)),
        "{}",
        out.out()
    );
}

#[test]
fn a_secret_kept_through_later_versions_is_reported_once() {
    let (sb, _, _) = make_repo();
    let token = format!("{}_{}", "ghp", "Rt5".repeat(12));
    sb.write("app/ci.yaml", format!("token: {token}\n"));
    let first = commit_all(&sb, "ci");
    for n in 0..3 {
        sb.write("app/ci.yaml", format!("token: {token}\nstep: {n}\n"));
        commit_all(&sb, "more steps");
    }
    let out = run(sb.enseal().args(["check", "--scan", "--history"]));
    assert_eq!(out.code, Some(10), "{}\n{}", out.out(), out.err());
    let ci: Vec<String> = out
        .out()
        .lines()
        .filter(|l| l.contains(":app/ci.yaml:"))
        .map(str::to_string)
        .collect();
    assert_eq!(ci.len(), 1, "{}", out.out());
    assert!(ci[0].starts_with(&format!("{}:app/ci.yaml:1: ", &first[..12])));
}

/// The `enseal-scan-history` pre-commit hook runs exactly this command,
/// without file names: the removed secret of the repository above fails it.
#[test]
fn the_pre_commit_hook_scans_the_history() {
    let text = std::fs::read_to_string(crate_dir().join(".pre-commit-hooks.yaml")).unwrap();
    let hook = text
        .split("- id: ")
        .find(|h| h.starts_with("enseal-scan-history"))
        .unwrap_or_else(|| panic!("no enseal-scan-history hook in {text}"));
    assert!(hook.contains("pass_filenames: false"), "{hook}");
    let entry = hook
        .lines()
        .find_map(|l| l.trim().strip_prefix("entry: enseal "))
        .unwrap_or_else(|| panic!("no entry in {hook}"));
    let (sb, _, _) = make_repo();
    let out = run(sb.enseal().args(entry.split_whitespace()));
    assert_eq!(out.code, Some(10), "{}\n{}", out.out(), out.err());
    assert_eq!(out.out().lines().count(), 2, "{}", out.out());
}

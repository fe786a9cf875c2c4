//! `enseal init`: a fresh repository with plaintext `.env` files becomes an
//! encrypted, committed one; a second run changes nothing; `--dry-run`
//! changes nothing; an existing identity is used, never replaced.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

fn git(sb: &Sandbox, args: &[&str]) -> Out {
    let mut cmd = Command::new("git");
    cmd.current_dir(sb.work())
        .env("HOME", sb.home())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("PAGER", "cat")
        .args(args);
    run(&mut cmd)
}

/// A repository with a `.env` (ignored by git, as usual), a
/// `.env.production`, a template and ordinary files.
fn repo(sb: &Sandbox) {
    git(sb, &["init", "-q", "-b", "main"]).ok();
    git(sb, &["config", "user.name", "Test"]).ok();
    git(sb, &["config", "user.email", "test@example.invalid"]).ok();
    git(sb, &["config", "commit.gpgsign", "false"]).ok();
    sb.write(".gitignore", ".env\nnode_modules/\n");
    sb.write(".env", "DB_PASSWORD=hunter2\nAPI_TOKEN=abc123\n");
    sb.write(".env.production", "DB_PASSWORD=prod-secret\n");
    sb.write(".env.example", "DB_PASSWORD=\n");
    sb.write("node_modules/x/.env", "IGNORED=1\n");
    sb.write("src/app.py", "print('hi')\n");
    sb.write(".pre-commit-config.yaml", "repos:\n  - repo: https://example.invalid/hooks\n    rev: v1\n    hooks: [{id: trailing-whitespace}]\n");
}

fn init(sb: &Sandbox, args: &[&str]) -> Out {
    run(sb.enseal().arg("init").args(args))
}

fn identity_file(sb: &Sandbox) -> std::path::PathBuf {
    sb.home().join(".config/sops/age/keys.txt")
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    fn walk(dir: &Path, base: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if rel == ".git" {
                let config = std::fs::read(path.join("config")).unwrap();
                out.push((".git/config".into(), config));
            } else if path.is_dir() {
                walk(&path, base, out);
            } else {
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn init_takes_a_repository_from_plaintext_to_encrypted() {
    let sb = Sandbox::new();
    repo(&sb);
    let out = init(&sb, &["--yes"]);
    assert_eq!(out.code, Some(0), "{}", out.err());

    // A new identity, private.
    let identity = identity_file(&sb);
    let text = std::fs::read_to_string(&identity).unwrap();
    assert!(text.contains("AGE-SECRET-KEY-1"), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&identity).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(identity.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
    }
    let recipient = recipient_of(&identity);
    // .sops.yaml names it.
    let config = std::fs::read_to_string(sb.path(".sops.yaml")).unwrap();
    assert!(config.contains(&recipient), "{config}");
    // Both env files encrypted and decryptable with the identity; the
    // template and other files untouched.
    for (name, secret) in [(".env", "hunter2"), (".env.production", "prod-secret")] {
        let text = std::fs::read_to_string(sb.path(name)).unwrap();
        // (.env is dotenv; .env.production is a binary file for sops and enseal.)
        assert!(text.contains("ENC[AES256_GCM,"), "{name}: {text}");
        assert!(!text.contains(secret), "{name}");
        let out = run(sb
            .enseal()
            .env("SOPS_AGE_KEY_FILE", &identity)
            .args(["decrypt", name]));
        assert_eq!(out.code, Some(0), "{}", out.err());
        assert!(out.out().contains(secret));
    }
    assert_eq!(
        std::fs::read_to_string(sb.path(".env.example")).unwrap(),
        "DB_PASSWORD=\n"
    );
    assert_eq!(
        std::fs::read_to_string(sb.path("node_modules/x/.env")).unwrap(),
        "IGNORED=1\n"
    );
    // The ignored .env is pointed out.
    assert!(out.err().contains("git ignores .env"), "{}", out.err());
    // git drivers and the pre-commit hook.
    let attributes = std::fs::read_to_string(sb.path(".gitattributes")).unwrap();
    assert!(attributes.contains("diff=enseal"), "{attributes}");
    let hooks = std::fs::read_to_string(sb.path(".pre-commit-config.yaml")).unwrap();
    assert!(hooks.contains("entry: enseal check"), "{hooks}");
    assert!(hooks.contains("trailing-whitespace"), "{hooks}");
    // Committed, `git diff` shows plaintext through the driver.
    git(&sb, &["add", "-A"]).ok();
    git(&sb, &["add", "-f", ".env"]).ok();
    git(&sb, &["commit", "-q", "-m", "encrypted"]).ok();
    let out = run(sb.enseal().env("SOPS_AGE_KEY_FILE", &identity).args([
        "set",
        ".env",
        r#"["DB_PASSWORD"]"#,
        r#""changed""#,
    ]));
    assert_eq!(out.code, Some(0), "{}", out.err());
    let mut cmd = Command::new("git");
    cmd.current_dir(sb.work())
        .env("HOME", sb.home())
        .env("SOPS_AGE_KEY_FILE", &identity)
        .env("PAGER", "cat")
        .args(["diff", "--", ".env"]);
    let diff = run(&mut cmd);
    assert!(
        diff.out().contains("-DB_PASSWORD=hunter2"),
        "{}",
        diff.out()
    );
    assert!(
        diff.out().contains("+DB_PASSWORD=changed"),
        "{}",
        diff.out()
    );
    // check is clean.
    let out = run(sb.enseal().arg("check"));
    assert_eq!(out.code, Some(0), "{}\n{}", out.out(), out.err());
}

#[test]
fn a_second_run_changes_nothing() {
    let sb = Sandbox::new();
    repo(&sb);
    init(&sb, &["--yes"]).ok();
    let before = snapshot(&sb.work());
    let identity_before = std::fs::read(identity_file(&sb)).unwrap();
    let out = init(&sb, &["--yes"]);
    assert_eq!(out.code, Some(0), "{}", out.err());
    assert!(out.err().contains("Nothing to do"), "{}", out.err());
    assert_eq!(snapshot(&sb.work()), before);
    assert_eq!(std::fs::read(identity_file(&sb)).unwrap(), identity_before);
}

#[test]
fn dry_run_and_no_terminal_change_nothing() {
    let sb = Sandbox::new();
    repo(&sb);
    let before = snapshot(&sb.work());
    let out = init(&sb, &["--dry-run"]);
    assert_eq!(out.code, Some(0), "{}", out.err());
    assert!(
        out.err().contains("encrypt .env.production in place"),
        "{}",
        out.err()
    );
    assert!(
        out.err().contains("create an age identity"),
        "{}",
        out.err()
    );
    assert_eq!(snapshot(&sb.work()), before);
    assert!(!identity_file(&sb).exists());
    // Without --yes and without a terminal: refused, nothing changed.
    let out = init(&sb, &[]);
    assert_eq!(out.code, Some(1), "{}", out.err());
    assert!(out.err().contains("--yes"), "{}", out.err());
    assert_eq!(snapshot(&sb.work()), before);
    assert!(!identity_file(&sb).exists());
}

#[test]
fn an_existing_identity_is_used_and_never_replaced() {
    let sb = Sandbox::new();
    repo(&sb);
    let identity = identity_file(&sb);
    std::fs::create_dir_all(identity.parent().unwrap()).unwrap();
    std::fs::copy(key_file(1), &identity).unwrap();
    let before = std::fs::read(&identity).unwrap();
    let out = init(&sb, &["--yes"]);
    assert_eq!(out.code, Some(0), "{}", out.err());
    assert_eq!(std::fs::read(&identity).unwrap(), before);
    let config = std::fs::read_to_string(sb.path(".sops.yaml")).unwrap();
    assert!(config.contains(&recipient(1)), "{config}");
}

#[test]
fn outside_a_repository_init_says_to_run_git_init() {
    let sb = Sandbox::new();
    let out = init(&sb, &["--yes"]);
    assert_eq!(out.code, Some(1), "{}", out.err());
    assert!(
        out.err().contains("not inside a git repository"),
        "{}",
        out.err()
    );
    assert!(!identity_file(&sb).exists());
}

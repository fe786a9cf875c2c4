//! `enseal check`: a tree with each kind of problem, human and JSON output,
//! exit codes, a clean tree, pre-commit style file lists. No private key is
//! available to any `check` run here.

mod common;
mod keyset;

use common::*;
use keyset::*;

/// Kind names as `check` prints them.
const KINDS: [&str; 6] = [
    "unencrypted",
    "plaintext-value",
    "key-drift",
    "metadata",
    "secret",
    "config",
];

/// A secret-shaped string built at run time, so that this file holds none.
fn github_token() -> String {
    format!("{}_{}", "ghp", "Zx9".repeat(12))
}

fn aws_key_id() -> String {
    format!("{}{}", "AKIA", "Q7W3ERTY5UIOPASD")
}

/// A tree where every file has exactly one kind of problem, except
/// `secrets/clean.yaml`. The encrypted files come from the reference when
/// it is there (else from enseal).
struct Tree {
    sb: Sandbox,
    ks: KeySet,
}

fn encrypt_with(sb: &Sandbox, ks: &KeySet, name: &str, plain: &str, recipients: &str) {
    let path = sb.write(name, plain);
    let mut cmd = match sops_ref() {
        Some(sops) => sb.sops(&sops),
        None => sb.enseal(),
    };
    cmd.args(["encrypt", "-i", "--age", recipients]).arg(&path);
    run(&mut with_keys(cmd, &ks.all)).ok();
}

fn make_tree() -> Tree {
    let sb = Sandbox::new();
    let ks = KeySet::new(&sb);
    let rule_keys = format!("{},{}", ks.r(0), ks.r(1));
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: ^secrets/.*\\.yaml$\n    age: {rule_keys}\n  - path_regex: ^config/creds\\.json$\n    encrypted_regex: ^(password|token)$\n    age: {rule_keys}\n  - age: {}\n",
            ks.r(0)
        ),
    );
    encrypt_with(
        &sb,
        &ks,
        "secrets/clean.yaml",
        "user: u\npassword: p\n",
        &rule_keys,
    );
    // (a) covered by a rule with a path_regex but plaintext.
    sb.write("secrets/forgot.yaml", "password: hunter2\n");
    // (b) a plaintext value pasted into an encrypted file.
    encrypt_with(
        &sb,
        &ks,
        "secrets/pasted.yaml",
        "a: 1\nb: two\n",
        &rule_keys,
    );
    let path = sb.path("secrets/pasted.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("new_password: pasted-by-hand\n{text}")).unwrap();
    // (b) with an encrypted_regex: only `password` and `token` must be encrypted.
    encrypt_with_rule(&sb, &ks, &rule_keys);
    // (c) keys drifted: encrypted for key 0 only.
    encrypt_with(&sb, &ks, "secrets/drift.yaml", "x: 1\n", ks.r(0));
    // (d) the MAC removed.
    encrypt_with(&sb, &ks, "secrets/nomac.yaml", "x: 1\n", &rule_keys);
    let path = sb.path("secrets/nomac.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("mac:"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, text).unwrap();
    // (e) secrets in files no path_regex rule covers (the catch-all rule
    // does not make a file "must be encrypted").
    sb.write(
        "app/settings.yaml",
        format!("debug: true\ngithub: {}\n", github_token()),
    );
    sb.write(
        "deploy.sh",
        format!("export AWS_ACCESS_KEY_ID={}\n", aws_key_id()),
    );
    sb.write(
        "app/allowed.env",
        format!("TOKEN={} # enseal:allow\n", github_token()),
    );
    sb.write("app/ok.yaml", "password: ${DB_PASSWORD}\nname: service\n");
    // Ignored and skipped paths are never looked at.
    sb.write(".gitignore", "local/\n");
    sb.write("local/forgot.yaml", format!("t: {}\n", github_token()));
    sb.write("secrets/local.yaml.bak", "x\n");
    sb.write("target/x.yaml", format!("t: {}\n", github_token()));
    Tree { sb, ks }
}

fn encrypt_with_rule(sb: &Sandbox, ks: &KeySet, recipients: &str) {
    let path = sb.write(
        "config/creds.json",
        "{\n\t\"user\": \"admin\",\n\t\"password\": \"s3cret\"\n}",
    );
    let mut cmd = match sops_ref() {
        Some(sops) => sb.sops(&sops),
        None => sb.enseal(),
    };
    cmd.args([
        "encrypt",
        "-i",
        "--age",
        recipients,
        "--encrypted-regex",
        "^(password|token)$",
    ])
    .arg(&path);
    run(&mut with_keys(cmd, &ks.all)).ok();
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replacen("{\n", "{\n\t\"token\": \"pasted\",\n", 1);
    std::fs::write(&path, text).unwrap();
}

/// `enseal check` with no key anywhere in its environment.
fn check(tree: &Tree, args: &[&str]) -> Out {
    let mut cmd = tree.sb.enseal();
    cmd.arg("check").args(args);
    run(&mut cmd)
}

fn findings(out: &Out) -> Vec<(String, String)> {
    out.out()
        .lines()
        .map(|l| {
            let mut parts = l.splitn(2, ": ");
            let location = parts.next().unwrap().to_string();
            let rest = parts.next().unwrap_or_default();
            let kind = rest.split(':').next().unwrap().to_string();
            let path = location.split(':').next().unwrap().to_string();
            (path, kind)
        })
        .collect()
}

#[test]
fn each_kind_of_problem_is_reported_with_path_and_kind() {
    let tree = make_tree();
    // No private key: decrypting fails in the same environment.
    let nokey = run(tree.sb.enseal().args(["decrypt", "secrets/clean.yaml"]));
    assert_eq!(nokey.code, Some(128), "{}", nokey.err());

    let out = check(&tree, &["--scan"]);
    assert_eq!(out.code, Some(10), "{}\n{}", out.out(), out.err());
    let mut got = findings(&out);
    got.sort();
    let mut want: Vec<(String, String)> = [
        ("app/settings.yaml", "secret"),
        ("config/creds.json", "plaintext-value"),
        ("deploy.sh", "secret"),
        ("secrets/drift.yaml", "key-drift"),
        ("secrets/forgot.yaml", "unencrypted"),
        ("secrets/nomac.yaml", "metadata"),
        ("secrets/pasted.yaml", "plaintext-value"),
    ]
    .iter()
    .map(|(p, k)| (p.to_string(), k.to_string()))
    .collect();
    want.sort();
    assert_eq!(got, want, "output:\n{}", out.out());
    assert!(
        out.err().trim_end().ends_with(
            "files checked, 7 findings (2 plaintext-value, 2 secret, 1 key-drift, 1 metadata, 1 unencrypted)"
        ),
        "{}",
        out.err()
    );

    let text = out.out();
    let line_of = |path: &str| {
        text.lines()
            .find(|l| l.starts_with(path))
            .unwrap()
            .to_string()
    };
    assert!(line_of("secrets/pasted.yaml")
        .starts_with("secrets/pasted.yaml:1: plaintext-value: [\"new_password\"]"));
    assert!(line_of("config/creds.json")
        .starts_with("config/creds.json:2: plaintext-value: [\"token\"]"));
    assert!(line_of("app/settings.yaml").starts_with("app/settings.yaml:2: secret: "));
    assert!(line_of("deploy.sh").starts_with("deploy.sh:1: secret: "));
    let drift = line_of("secrets/drift.yaml");
    assert!(
        drift.contains(&format!("missing {}", tree.ks.r(1))),
        "{drift}"
    );
    assert!(line_of("secrets/nomac.yaml").contains("no MAC"));
    // Secret values never appear in the output.
    assert!(!text.contains(&github_token()) && !text.contains(&aws_key_id()));
    assert!(!text.contains("pasted-by-hand") && !text.contains("hunter2"));

    // Broken key settings change nothing: check never loads a key.
    let broken = run(tree
        .sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", "/nonexistent/keys.txt")
        .env("SOPS_AGE_KEY", "not-a-key")
        .args(["check", "--scan"]));
    assert_eq!(broken.code, Some(10), "{}", broken.err());
    assert_eq!(broken.stdout, out.stdout);

    // Without --scan, plaintext files outside path_regex rules are not read.
    let out = check(&tree, &[]);
    assert_eq!(out.code, Some(10));
    let kinds: Vec<String> = findings(&out).into_iter().map(|(_, k)| k).collect();
    assert!(!kinds.contains(&"secret".to_string()), "{}", out.out());
    assert_eq!(kinds.len(), 5, "{}", out.out());
}

#[test]
fn json_output_has_a_stable_schema() {
    let tree = make_tree();
    let out = check(&tree, &["--scan", "--format", "json"]);
    assert_eq!(out.code, Some(10), "{}", out.err());
    let v: serde_json::Value = serde_json::from_str(out.out().trim()).expect("JSON");
    assert_eq!(v["version"], 1);
    assert!(v["files_checked"].as_u64().unwrap() >= 10);
    let list = v["findings"].as_array().unwrap();
    assert_eq!(list.len(), 7);
    for f in list {
        let obj = f.as_object().unwrap();
        let mut keys: Vec<&String> = obj.keys().collect();
        keys.sort();
        assert_eq!(keys, ["kind", "line", "message", "path", "rule"]);
        assert!(KINDS.contains(&f["kind"].as_str().unwrap()), "{f}");
    }
    let find = |path: &str| list.iter().find(|f| f["path"] == path).unwrap();
    assert_eq!(find("secrets/pasted.yaml")["rule"], "[\"new_password\"]");
    assert_eq!(find("secrets/pasted.yaml")["line"], 1);
    assert_eq!(find("deploy.sh")["rule"], "aws-access-key-id");
    assert_eq!(find("app/settings.yaml")["rule"], "github-token");
    assert_eq!(find("secrets/forgot.yaml")["line"], serde_json::Value::Null);
    assert_eq!(v["counts"]["plaintext-value"], 2);
    assert_eq!(v["counts"]["secret"], 2);
    assert_eq!(v["counts"]["key-drift"], 1);
}

#[test]
fn a_clean_tree_exits_zero() {
    let tree = make_tree();
    for f in [
        "secrets/forgot.yaml",
        "secrets/pasted.yaml",
        "secrets/drift.yaml",
        "secrets/nomac.yaml",
        "config/creds.json",
        "app/settings.yaml",
        "deploy.sh",
    ] {
        std::fs::remove_file(tree.sb.path(f)).unwrap();
    }
    let out = check(&tree, &["--scan"]);
    assert_eq!(out.code, Some(0), "{}\n{}", out.out(), out.err());
    assert!(out.stdout.is_empty());
    let out = check(&tree, &["--scan", "--format", "json"]);
    assert_eq!(out.code, Some(0));
    let v: serde_json::Value = serde_json::from_str(out.out().trim()).unwrap();
    assert_eq!(v["findings"].as_array().unwrap().len(), 0);

    // Fixing drift with updatekeys makes the tree clean again.
    let tree = make_tree();
    let out = check(&tree, &["secrets/drift.yaml"]);
    assert_eq!(out.code, Some(10));
    run(with_keys(tree.sb.enseal(), &tree.ks.all).args(["updatekeys", "-y", "secrets/drift.yaml"]))
        .ok();
    let out = check(&tree, &["secrets/drift.yaml"]);
    assert_eq!(out.code, Some(0), "{}", out.out());
}

#[test]
fn pre_commit_style_file_lists() {
    let tree = make_tree();
    // pre-commit passes the staged files: only those are checked.
    let out = check(
        &tree,
        &["secrets/clean.yaml", ".sops.yaml", "secrets/forgot.yaml"],
    );
    assert_eq!(out.code, Some(10));
    assert_eq!(
        findings(&out),
        [("secrets/forgot.yaml".to_string(), "unencrypted".to_string())]
    );
    let out = check(&tree, &["--scan", "app"]);
    assert_eq!(out.code, Some(10));
    assert_eq!(findings(&out).len(), 1, "{}", out.out());
    // A directory: walked with the same rules as the whole tree.
    let out = check(&tree, &["secrets"]);
    assert_eq!(findings(&out).len(), 4, "{}", out.out());
    // A file given explicitly is checked even where a walk would skip it.
    let out = check(&tree, &["--scan", "local/forgot.yaml"]);
    assert_eq!(out.code, Some(10));
}

#[test]
fn usage_and_config_errors_exit_one() {
    let tree = make_tree();
    let out = check(&tree, &["does-not-exist.yaml"]);
    assert_eq!(out.code, Some(1), "{}", out.err());
    let out = check(&tree, &["--format", "xml"]);
    assert_eq!(out.code, Some(1));
    tree.sb.write(".sops.yaml", "creation_rules: [unclosed\n");
    let out = check(&tree, &[]);
    assert_eq!(out.code, Some(1), "{}", out.err());
    tree.sb.write(
        ".sops.yaml",
        "creation_rules:\n  - path_regex: '('\n    age: x\n",
    );
    let out = check(&tree, &[]);
    assert_eq!(out.code, Some(1), "{}", out.err());
}

#[test]
fn without_a_config_check_fails_and_says_what_to_do() {
    let sb = Sandbox::new();
    sb.write("b.yaml", "x: 1\n");
    let out = run(sb.enseal().args(["check", "--scan"]));
    assert_eq!(out.code, Some(1), "{}", out.err());
    assert!(out.err().contains("no .sops.yaml found"), "{}", out.err());
    assert!(out.out().is_empty(), "{}", out.out());
}

#[test]
fn a_config_without_creation_rules_fails() {
    let sb = Sandbox::new();
    // `creation_rule` (misspelled): sops ignores it, so there are no rules.
    sb.write(".sops.yaml", "creation_rule:\n  - age: age1x\n");
    sb.write("b.yaml", "x: 1\n");
    let out = run(sb.enseal().args(["check"]));
    assert_eq!(out.code, Some(1), "{}", out.err());
    assert!(out.err().contains("has no creation_rules"), "{}", out.err());
}

#[test]
fn keys_sops_ignores_are_findings_and_other_commands_warn() {
    let sb = Sandbox::new();
    let ks = KeySet::new(&sb);
    // `path_regx` (misspelled): sops ignores it and the rule matches every file.
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regx: ^secrets/\n    age: {}\n",
            ks.r(0)
        ),
    );
    sb.write("plain.yaml", "x: 1\n");
    let out = run(sb.enseal().args(["check"]));
    assert_eq!(out.code, Some(10), "{}", out.err());
    assert_eq!(
        findings(&out),
        [(".sops.yaml".to_string(), "config".to_string())]
    );
    assert!(
        out.out().contains("creation_rules[0].path_regx")
            && out.out().contains("did you mean path_regex?"),
        "{}",
        out.out()
    );
    assert!(
        out.err()
            .trim_end()
            .ends_with("2 files checked, 1 finding (1 config)"),
        "{}",
        out.err()
    );
    // encrypt still behaves as sops (the rule matches), with a warning.
    let out = run(sb.enseal().args(["encrypt", "plain.yaml"]));
    assert_eq!(out.code, Some(0), "{}", out.err());
    assert!(
        out.err().contains("warning: ") && out.err().contains("did you mean path_regex?"),
        "{}",
        out.err()
    );
}

#[test]
fn a_clean_run_ends_with_a_summary_line() {
    let sb = Sandbox::new();
    let ks = KeySet::new(&sb);
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: ^secrets/\n    age: {}\n",
            ks.r(0)
        ),
    );
    sb.write("readme.txt", "hello\n");
    let out = run(sb.enseal().args(["check"]));
    assert_eq!(out.code, Some(0), "{}", out.err());
    assert!(out.out().is_empty(), "{}", out.out());
    // readme.txt and .sops.yaml itself.
    assert_eq!(out.err().trim_end(), "2 files checked, no findings");
}

/// In a git work tree the walk skips what git would ignore: nested
/// `.gitignore` rules (with `!`), `.git/info/exclude`, the global excludes
/// file under `$HOME`, and a `.gitignore` above the directory checked.
#[test]
fn files_git_ignores_are_not_checked() {
    let sb = Sandbox::new();
    let ks = KeySet::new(&sb);
    let token = github_token();
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: \\.enc\\.yaml$\n    age: {}\n",
            ks.r(0)
        ),
    );
    sb.write(".git/HEAD", "ref: refs/heads/main\n");
    sb.write(".git/info/exclude", "scratch/\n");
    let global = sb.home().join(".config/git/ignore");
    std::fs::create_dir_all(global.parent().unwrap()).unwrap();
    std::fs::write(&global, "*.local\n").unwrap();
    sb.write(".gitignore", "*.env\n");
    sb.write("app/.gitignore", "!kept.env\n");
    for name in [
        "scratch/x.yaml",
        "creds.local",
        "a.env",
        "app/b.env",
        "app/kept.env",
        "notes.txt",
    ] {
        sb.write(name, format!("token={token}\n"));
    }
    let out = run(sb.enseal().args(["check", "--scan"]));
    assert_eq!(out.code, Some(10), "{}", out.err());
    let mut got: Vec<String> = findings(&out).into_iter().map(|(p, _)| p).collect();
    got.sort();
    assert_eq!(got, ["app/kept.env", "notes.txt"], "{}", out.out());
    // A subdirectory: the .gitignore at the top of the work tree still applies.
    let out = run(sb.enseal().args(["check", "--scan", "app"]));
    let got: Vec<String> = findings(&out).into_iter().map(|(p, _)| p).collect();
    assert_eq!(got, ["app/kept.env"], "{}", out.out());
}

#[test]
fn pre_commit_hook_definition_runs_check() {
    let text = std::fs::read_to_string(crate_dir().join(".pre-commit-hooks.yaml")).unwrap();
    assert!(text.contains("- id: enseal-check"), "{text}");
    assert!(text.contains("entry: enseal check"), "{text}");
}

/// Valid metadata over data that cannot be read (an alias bomb beside a
/// plaintext value): a finding, never a silent pass.
#[test]
fn data_that_cannot_be_parsed_is_a_finding() {
    let sb = Sandbox::new();
    let ks = KeySet::new(&sb);
    sb.write(
        ".sops.yaml",
        format!("creation_rules:\n  - age: {}\n", ks.r(0)),
    );
    encrypt_with(&sb, &ks, "a.yaml", "k: v\n", ks.r(0));
    let path = sb.path("a.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut bomb = String::from("password: hunter2\nl0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let p = i - 1;
        bomb.push_str(&format!(
            "l{i}: &l{i} [*l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}]\n"
        ));
    }
    std::fs::write(&path, format!("{bomb}{text}")).unwrap();
    let out = run(sb.enseal().args(["check", "a.yaml"]));
    assert_eq!(out.code, Some(10), "{}\n{}", out.out(), out.err());
    assert_eq!(
        findings(&out),
        [("a.yaml".to_string(), "unreadable".to_string())],
        "{}",
        out.out()
    );
    assert!(out.out().contains("excessive aliasing"), "{}", out.out());
    assert!(!out.out().contains("hunter2") && !out.err().contains("hunter2"));
}

#[test]
fn finding_kinds_are_coloured_only_on_request() {
    let tree = make_tree();
    let plain = check(&tree, &[]);
    assert!(!plain.out().contains('\u{1b}'), "{}", plain.out());
    let mut cmd = tree.sb.enseal();
    cmd.env("CLICOLOR_FORCE", "1").arg("check");
    let forced = run(&mut cmd);
    assert_eq!(forced.code, plain.code);
    let painted = "secrets/pasted.yaml:1: \u{1b}[1m\u{1b}[31mplaintext-value\u{1b}[0m: ";
    assert!(forced.out().contains(painted), "{:?}", forced.out());
    // Without the escapes, the same report.
    let stripped = forced
        .out()
        .replace("\u{1b}[1m\u{1b}[31m", "")
        .replace("\u{1b}[0m", "");
    assert_eq!(stripped, plain.out());
    let mut cmd = tree.sb.enseal();
    cmd.env("CLICOLOR_FORCE", "1")
        .env("NO_COLOR", "1")
        .arg("check");
    assert_eq!(run(&mut cmd).out(), plain.out());
}

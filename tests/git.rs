//! `enseal git setup|textconv|merge`, `enseal completion` and `enseal man`,
//! in real git repositories made by the tests (HOME is the sandbox's, the
//! system git config is ignored, identity set locally).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// `git` in the sandbox's work tree with a scrubbed environment and the
/// test key (`key` false: no key at all).
fn git_cmd(sb: &Sandbox, key: bool) -> Command {
    let mut cmd = scrubbed(Path::new("git"), &sb.home(), &sb.work());
    cmd.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_PAGER", "cat")
        .env("PAGER", "cat");
    if key {
        cmd.env("SOPS_AGE_KEY_FILE", key_file(1));
    }
    cmd
}

fn git(sb: &Sandbox, args: &[&str]) -> Out {
    run(git_cmd(sb, true).args(args))
}

fn enseal_k(sb: &Sandbox) -> Command {
    let mut cmd = sb.enseal();
    cmd.env("SOPS_AGE_KEY_FILE", key_file(1));
    cmd
}

const SOPS_YAML: &str =
    "creation_rules:\n  - path_regex: \\.enc\\.(yaml|json)$\n    age: RECIPIENT\n";

/// A repository with a `.sops.yaml`, the drivers set up (with the test
/// binary), and one commit.
fn repo(sb: &Sandbox) {
    git(sb, &["init", "-q", "-b", "main"]).ok();
    git(sb, &["config", "user.name", "Test"]).ok();
    git(sb, &["config", "user.email", "test@example.invalid"]).ok();
    git(sb, &["config", "commit.gpgsign", "false"]).ok();
    sb.write(".sops.yaml", SOPS_YAML.replace("RECIPIENT", &recipient(1)));
    let bin = enseal_bin();
    run(sb.enseal().args(["git", "setup", "--program"]).arg(&bin)).ok();
    git(sb, &["add", "-A"]).ok();
    git(sb, &["commit", "-q", "-m", "init"]).ok();
}

/// Writes `plain` as `name` and encrypts it in place (creation rule).
fn add_encrypted(sb: &Sandbox, name: &str, plain: &str) -> PathBuf {
    let path = sb.write(name, plain);
    run(sb.enseal().args(["encrypt", "-i", name])).ok();
    path
}

fn set(sb: &Sandbox, file: &str, index: &str, json: &str) {
    run(enseal_k(sb).args(["set", file, index, json])).ok();
}

fn commit_all(sb: &Sandbox, message: &str) {
    git(sb, &["add", "-A"]).ok();
    git(sb, &["commit", "-q", "-m", message]).ok();
}

fn sops_decrypt(sb: &Sandbox, sops: &Path, file: &str) -> String {
    run(sb
        .sops(sops)
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .args(["decrypt", file]))
    .ok()
    .out()
}

/// Every byte on disk below `dir`, plus every git object decompressed.
fn all_bytes(sb: &Sandbox) -> Vec<u8> {
    fn walk(dir: &Path, out: &mut Vec<u8>) {
        for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.extend_from_slice(&bytes);
            }
        }
    }
    let mut out = Vec::new();
    walk(&sb.work(), &mut out);
    let objects = git(sb, &["cat-file", "--batch-all-objects", "--batch"]).ok();
    out.extend_from_slice(&objects.stdout);
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn setup_is_idempotent_and_dry_run_writes_nothing() {
    let sb = Sandbox::new();
    git(&sb, &["init", "-q", "-b", "main"]).ok();
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: \\.enc\\.(yaml|json)$\n    age: {r}\n  - path_regex: ^legacy/\\d+\\.yaml$\n    age: {r}\n",
            r = recipient(1)
        ),
    );
    // The second rule has no glob: tracked encrypted files are listed.
    sb.write("legacy/1.yaml", "a: secret\n");
    run(sb.enseal().args(["encrypt", "-i", "legacy/1.yaml"])).ok();
    sb.write("legacy/2.yaml", "plain: not encrypted\n");
    git(&sb, &["add", "-A"]).ok();
    let config_before = std::fs::read(sb.path(".git/config")).unwrap();

    let dry = run(sb.enseal().args(["git", "setup", "--dry-run"])).ok();
    assert!(dry.out().contains("would write"), "{}", dry.out());
    assert!(dry
        .out()
        .contains("would run: git config --local merge.enseal.driver"));
    assert!(!sb.path(".gitattributes").exists());
    assert_eq!(
        std::fs::read(sb.path(".git/config")).unwrap(),
        config_before
    );

    // PATH finds an enseal: the drivers run `enseal`.
    let bin_dir = enseal_bin().parent().unwrap().to_path_buf();
    let path = std::env::join_paths(
        std::iter::once(bin_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    run(sb.enseal().env("PATH", &path).args(["git", "setup"])).ok();
    let attributes = std::fs::read_to_string(sb.path(".gitattributes")).unwrap();
    assert!(attributes.contains("*.enc.yaml diff=enseal merge=enseal\n"));
    assert!(attributes.contains("*.enc.json diff=enseal merge=enseal\n"));
    assert!(attributes.contains("/legacy/1.yaml diff=enseal merge=enseal\n"));
    assert!(!attributes.contains("legacy/2.yaml"), "{attributes}");
    let get = |key: &str| git(&sb, &["config", "--local", "--get", key]).ok().out();
    assert_eq!(get("diff.enseal.textconv"), "enseal git textconv\n");
    assert_eq!(get("merge.enseal.driver"), "enseal git merge %O %A %B %P\n");
    assert_eq!(get("diff.enseal.cachetextconv"), "false\n");
    assert!(!get("merge.enseal.name").is_empty());
    let attr = git(
        &sb,
        &["check-attr", "diff", "merge", "--", "deep/dir/x.enc.yaml"],
    )
    .ok()
    .out();
    assert_eq!(
        attr,
        "deep/dir/x.enc.yaml: diff: enseal\ndeep/dir/x.enc.yaml: merge: enseal\n"
    );

    // Second run: nothing changes, not even the file times.
    let config_after = std::fs::read(sb.path(".git/config")).unwrap();
    let mtime = std::fs::metadata(sb.path(".gitattributes"))
        .unwrap()
        .modified()
        .unwrap();
    let again = run(sb.enseal().env("PATH", &path).args(["git", "setup"])).ok();
    assert!(again.out().contains("nothing to change"), "{}", again.out());
    assert_eq!(
        std::fs::read_to_string(sb.path(".gitattributes")).unwrap(),
        attributes
    );
    assert_eq!(std::fs::read(sb.path(".git/config")).unwrap(), config_after);
    assert_eq!(
        std::fs::metadata(sb.path(".gitattributes"))
            .unwrap()
            .modified()
            .unwrap(),
        mtime
    );
    let dry = run(sb
        .enseal()
        .env("PATH", &path)
        .args(["git", "setup", "--dry-run"]))
    .ok();
    assert!(dry.out().contains("nothing to change"));
}

#[test]
fn setup_outside_a_repository_fails() {
    let sb = Sandbox::new();
    sb.write(".sops.yaml", SOPS_YAML.replace("RECIPIENT", &recipient(1)));
    let out = run(sb.enseal().args(["git", "setup"]));
    assert_ne!(out.code, Some(0));
    assert!(
        out.err().contains("not inside a git work tree"),
        "{}",
        out.err()
    );
}

const YAML: &str = "db:\n    user: admin\n    password: base-pass\napi_key: base-key\nlist:\n    - 1\n    - 2\nkeep: same\n";
const JSON: &str = "{\n\t\"db\": {\n\t\t\"user\": \"admin\",\n\t\t\"password\": \"base-pass\"\n\t},\n\t\"api_key\": \"base-key\",\n\t\"list\": [\n\t\t1,\n\t\t2\n\t],\n\t\"keep\": \"same\"\n}";

/// The `ENC[…]` text of the line holding `key` (YAML) or `"key"` (JSON).
fn enc_of(text: &str, key: &str) -> String {
    text.lines()
        .find(|l| {
            let t = l.trim_start();
            t.starts_with(&format!("{key}:")) || t.starts_with(&format!("\"{key}\":"))
        })
        .unwrap_or_else(|| panic!("no {key} in {text}"))
        .to_string()
}

fn clean_merge(file: &str, plain: &str) {
    let Some(sops) = require_sops() else { return };
    let sb = Sandbox::new();
    repo(&sb);
    add_encrypted(&sb, file, plain);
    commit_all(&sb, "secrets");
    git(&sb, &["checkout", "-q", "-b", "feature"]).ok();
    set(&sb, file, r#"["db"]["password"]"#, r#""feature-pass""#);
    set(&sb, file, r#"["added_theirs"]"#, r#""t-value""#);
    run(enseal_k(&sb).args(["unset", file, r#"["list"]"#])).ok();
    commit_all(&sb, "feature");
    git(&sb, &["checkout", "-q", "main"]).ok();
    set(&sb, file, r#"["api_key"]"#, r#""main-key""#);
    set(&sb, file, r#"["added_ours"]"#, "42");
    commit_all(&sb, "main");
    let ours_text = std::fs::read_to_string(sb.path(file)).unwrap();

    let merge = git(&sb, &["merge", "--no-edit", "feature"]);
    assert_eq!(merge.code, Some(0), "{}\n{}", merge.out(), merge.err());
    let merged_text = std::fs::read_to_string(sb.path(file)).unwrap();
    // Unchanged values keep their ciphertexts from ours.
    assert_eq!(enc_of(&merged_text, "user"), enc_of(&ours_text, "user"));
    assert_eq!(enc_of(&merged_text, "keep"), enc_of(&ours_text, "keep"));
    assert!(!merged_text.contains("feature-pass"));

    let plain = sops_decrypt(&sb, &sops, file);
    for want in ["feature-pass", "main-key", "t-value", "42", "admin", "same"] {
        assert!(plain.contains(want), "{want} missing in\n{plain}");
    }
    assert!(!plain.contains("base-pass") && !plain.contains("base-key"));
    assert!(
        !plain.contains("list"),
        "list was removed on feature:\n{plain}"
    );
    // The merge commit exists and the tree is clean.
    let status = git(&sb, &["status", "--porcelain"]).ok().out();
    assert_eq!(status, "");
}

#[test]
fn different_keys_merge_cleanly_yaml() {
    clean_merge("secrets.enc.yaml", YAML);
}

#[test]
fn different_keys_merge_cleanly_json() {
    clean_merge("secrets.enc.json", JSON);
}

#[test]
fn conflicting_merge_writes_no_plaintext_and_shows_both_sides() {
    let sb = Sandbox::new();
    repo(&sb);
    let file = "secrets.enc.yaml";
    add_encrypted(&sb, file, YAML);
    commit_all(&sb, "secrets");
    git(&sb, &["checkout", "-q", "-b", "feature"]).ok();
    set(
        &sb,
        file,
        r#"["db"]["password"]"#,
        r#""feature-secret-BBB""#,
    );
    set(&sb, file, r#"["keep"]"#, r#""feature-only-CCC""#);
    commit_all(&sb, "feature");
    git(&sb, &["checkout", "-q", "main"]).ok();
    set(&sb, file, r#"["db"]["password"]"#, r#""main-secret-AAA""#);
    commit_all(&sb, "main");

    let merge = git(&sb, &["merge", "--no-edit", "feature"]);
    assert_ne!(merge.code, Some(0), "conflict must fail the merge");
    let text = format!("{}{}", merge.out(), merge.err());
    assert!(text.contains("CONFLICT"), "{text}");
    assert!(text.contains(r#"["db"]["password"]"#), "{text}");

    let everything = all_bytes(&sb);
    for secret in [
        "main-secret-AAA",
        "feature-secret-BBB",
        "feature-only-CCC",
        "<<<<<<< ours",
    ] {
        assert!(!contains(&everything, secret), "{secret} found on disk");
    }
    // The conflicted file decrypts and shows both sides.
    let shown = run(enseal_k(&sb).args(["decrypt", file])).ok().out();
    assert!(shown.contains("<<<<<<< ours"), "{shown}");
    assert!(shown.contains("main-secret-AAA"));
    assert!(shown.contains("feature-secret-BBB"));
    assert!(shown.contains(">>>>>>> theirs"));
    // The other change merged.
    assert!(shown.contains("keep: feature-only-CCC"), "{shown}");
    if let Some(sops) = sops_ref() {
        let plain = sops_decrypt(&sb, &sops, file);
        assert!(plain.contains("feature-secret-BBB"));
    }
    // Resolve and commit.
    set(&sb, file, r#"["db"]["password"]"#, r#""resolved""#);
    git(&sb, &["add", file]).ok();
    git(&sb, &["commit", "-q", "--no-edit"]).ok();
    let shown = run(enseal_k(&sb).args(["decrypt", file])).ok().out();
    assert!(shown.contains("password: resolved") && !shown.contains("<<<<<<<"));
}

#[test]
fn a_rotated_side_still_merges() {
    let Some(sops) = require_sops() else { return };
    let sb = Sandbox::new();
    repo(&sb);
    let file = "secrets.enc.yaml";
    add_encrypted(&sb, file, YAML);
    commit_all(&sb, "secrets");
    git(&sb, &["checkout", "-q", "-b", "feature"]).ok();
    // A new data key, and a second recipient.
    run(enseal_k(&sb).args(["rotate", "-i", "--add-age", &recipient(2), file])).ok();
    set(&sb, file, r#"["db"]["password"]"#, r#""rotated-pass""#);
    commit_all(&sb, "rotate");
    git(&sb, &["checkout", "-q", "main"]).ok();
    set(&sb, file, r#"["api_key"]"#, r#""main-key""#);
    commit_all(&sb, "main");
    let merge = git(&sb, &["merge", "--no-edit", "feature"]);
    assert_eq!(merge.code, Some(0), "{}", merge.err());
    let plain = sops_decrypt(&sb, &sops, file);
    assert!(plain.contains("rotated-pass") && plain.contains("main-key"));
    // Theirs' keys were kept: the second recipient can decrypt.
    let out = run(sb
        .sops(&sops)
        .env("SOPS_AGE_KEY_FILE", key_file(2))
        .args(["decrypt", file]))
    .ok();
    assert!(out.out().contains("main-key"));
}

/// Theirs rotated the data key and both changed the same value: the result
/// gets a new data key (never theirs'), says so in one line, and the
/// conflict is written encrypted (no plaintext in the work tree or .git).
#[test]
fn a_rotated_side_with_a_conflict_gets_a_new_data_key_and_no_plaintext() {
    let Some(sops) = require_sops() else { return };
    let sb = Sandbox::new();
    repo(&sb);
    let file = "secrets.enc.yaml";
    add_encrypted(&sb, file, YAML);
    commit_all(&sb, "secrets");
    git(&sb, &["checkout", "-q", "-b", "feature"]).ok();
    run(enseal_k(&sb).args(["rotate", "-i", file])).ok();
    set(
        &sb,
        file,
        r#"["db"]["password"]"#,
        r#""feature-secret-RRR""#,
    );
    commit_all(&sb, "rotate");
    let theirs = std::fs::read_to_string(sb.path(file)).unwrap();
    git(&sb, &["checkout", "-q", "main"]).ok();
    set(&sb, file, r#"["db"]["password"]"#, r#""main-secret-QQQ""#);
    commit_all(&sb, "main");
    let ours = std::fs::read_to_string(sb.path(file)).unwrap();
    let merge = git(&sb, &["merge", "--no-edit", "feature"]);
    assert_ne!(merge.code, Some(0));
    let notes = merge.err().matches("new data key").count();
    assert_eq!(notes, 1, "{}", merge.err());
    let merged = std::fs::read_to_string(sb.path(file)).unwrap();
    // Every ciphertext and wrapped key is new: neither side's data key.
    for side in [&ours, &theirs] {
        for key in ["user", "keep"] {
            assert_ne!(enc_of(&merged, key), enc_of(side, key));
        }
    }
    let everything = all_bytes(&sb);
    for secret in ["main-secret-QQQ", "feature-secret-RRR", "<<<<<<< ours"] {
        assert!(!contains(&everything, secret), "{secret} found on disk");
    }
    let plain = sops_decrypt(&sb, &sops, file);
    assert!(plain.contains("main-secret-QQQ") && plain.contains("feature-secret-RRR"));
    assert!(plain.contains("<<<<<<< ours"), "{plain}");
}

#[test]
fn textconv_diff_with_and_without_key() {
    let sb = Sandbox::new();
    repo(&sb);
    let file = "secrets.enc.yaml";
    add_encrypted(&sb, file, YAML);
    commit_all(&sb, "secrets");
    set(&sb, file, r#"["api_key"]"#, r#""new-key""#);

    let with_key = git(&sb, &["diff"]).ok().out();
    assert!(with_key.contains("-api_key: base-key"), "{with_key}");
    assert!(with_key.contains("+api_key: new-key"), "{with_key}");
    assert!(!with_key.contains("ENC["));

    let start = Instant::now();
    let no_key = run(git_cmd(&sb, false).args(["diff"])).ok();
    assert!(start.elapsed() < Duration::from_secs(60));
    assert!(no_key.out().contains("ENC[AES256_GCM"), "{}", no_key.out());
    assert!(!no_key.out().contains("new-key"));
    assert!(no_key.err().contains("no key"), "{}", no_key.err());

    // A key command that never answers: textconv gives up in time.
    let start = Instant::now();
    let slow = run(git_cmd(&sb, false)
        .env("SOPS_AGE_KEY_CMD", "sleep 120")
        .env("ENSEAL_TEXTCONV_TIMEOUT", "2")
        .args(["diff"]))
    .ok();
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
    assert!(slow.out().contains("ENC[AES256_GCM"));

    // git log -p decrypts history too.
    git(&sb, &["commit", "-q", "-am", "change"]).ok();
    let log = git(&sb, &["log", "-p", "-1"]).ok().out();
    assert!(log.contains("+api_key: new-key"), "{log}");
}

#[test]
fn textconv_prints_other_files_unchanged() {
    let sb = Sandbox::new();
    let plain = sb.write("notes.yaml", "a: 1\n");
    let out = run(sb.enseal().args(["git", "textconv"]).arg(&plain)).ok();
    assert_eq!(out.stdout, b"a: 1\n");
    assert!(out.err().contains("not encrypted"), "{}", out.err());
    let bad = sb.write("bad.json", "{not json");
    let out = run(sb.enseal().args(["git", "textconv"]).arg(&bad)).ok();
    assert_eq!(out.stdout, b"{not json");
    assert_eq!(out.err().lines().count(), 1, "{}", out.err());
}

#[test]
fn completions_name_the_subcommands() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = run(enseal().args(["completion", shell])).ok().out();
        for name in ["decrypt", "encrypt", "git", "textconv"] {
            assert!(out.contains(name), "{shell}: no {name}");
        }
    }
    let bad = run(enseal().args(["completion", "tcsh"]));
    assert_ne!(bad.code, Some(0));
}

#[test]
fn man_page_parses() {
    let out = run(enseal().arg("man")).ok();
    let text = out.out();
    assert!(text.contains(".TH enseal 1"), "{text}");
    assert!(text.contains("decrypt"));
    let sb = Sandbox::new();
    let page = sb.write("enseal.1", &out.stdout);
    if Command::new("man").arg("--version").output().is_ok() {
        let rendered = run(Command::new("man")
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "80")
            .arg("-l")
            .arg(&page));
        // Minimal systems may have a `man` stub that cannot render.
        if rendered.code == Some(0) {
            assert!(rendered.out().contains("NAME"), "{}", rendered.out());
            assert!(rendered.out().contains("enseal"), "{}", rendered.out());
        }
    }
}

#[test]
fn every_page_the_man_pages_name_exists_and_renders() {
    let sb = Sandbox::new();
    let dir = sb.root().join("man1");
    run(enseal().arg("man").arg("--out-dir").arg(&dir)).ok();
    let top = std::fs::read_to_string(dir.join("enseal.1")).unwrap();
    assert_eq!(top, run(enseal().arg("man")).ok().out());
    // Every enseal-*(1) page named anywhere exists.
    let mut named = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for (at, _) in text.match_indices("enseal\\-") {
            let raw: String = text[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '-' || *c == '\\')
                .collect();
            let name = raw.replace("\\-", "-");
            if text[at + raw.len()..].starts_with("(1)") {
                assert!(
                    dir.join(format!("{name}.1")).exists(),
                    "{name}(1) is named but missing"
                );
                named += 1;
            }
        }
    }
    assert!(named >= 15, "only {named} page references");
    // One subcommand's page, rendered by man(1) where it can.
    let page = run(enseal().args(["man", "groups", "add"])).ok();
    assert_eq!(
        page.out(),
        std::fs::read_to_string(dir.join("enseal-groups-add.1")).unwrap()
    );
    if Command::new("man").arg("--version").output().is_ok() {
        let rendered = run(Command::new("man")
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .arg("-l")
            .arg(dir.join("enseal-encrypt.1")));
        if rendered.code == Some(0) {
            let text = rendered.out();
            for section in ["EXAMPLES", "ENVIRONMENT", "EXIT STATUS", "FILES"] {
                assert!(text.contains(section), "{text}");
            }
            assert!(
                text.contains("enseal encrypt -i secrets/app.yaml"),
                "{text}"
            );
        }
    }
    let unknown = run(enseal().args(["man", "nope"]));
    assert_eq!(unknown.code, Some(1), "{}", unknown.err());
}

#[test]
fn master_keys_changed_on_both_sides_conflict() {
    let sb = Sandbox::new();
    repo(&sb);
    let file = "secrets.enc.yaml";
    add_encrypted(&sb, file, YAML);
    commit_all(&sb, "secrets");
    #[allow(deprecated)] // X25519 recipients, as sops files use them
    let other = || age::x25519::Identity::generate().to_public().to_string();
    git(&sb, &["checkout", "-q", "-b", "feature"]).ok();
    run(enseal_k(&sb).args(["rotate", "-i", "--add-age", &other(), file])).ok();
    set(&sb, file, r#"["db"]["password"]"#, r#""feature-pass""#);
    commit_all(&sb, "feature keys");
    git(&sb, &["checkout", "-q", "main"]).ok();
    run(enseal_k(&sb).args(["rotate", "-i", "--add-age", &other(), file])).ok();
    set(&sb, file, r#"["api_key"]"#, r#""main-key""#);
    commit_all(&sb, "main keys");
    let merge = git(&sb, &["merge", "--no-edit", "feature"]);
    assert_ne!(merge.code, Some(0));
    assert!(
        merge.err().contains("CONFLICT (metadata)") || merge.out().contains("CONFLICT (metadata)"),
        "{}{}",
        merge.out(),
        merge.err()
    );
    // The values still merged, encrypted with ours' keys.
    let shown = run(enseal_k(&sb).args(["decrypt", file])).ok().out();
    assert!(
        shown.contains("feature-pass") && shown.contains("main-key"),
        "{shown}"
    );
    assert!(!contains(&all_bytes(&sb), "feature-pass"));
}

#[test]
fn added_on_both_branches_with_different_data_keys_merges() {
    let Some(sops) = require_sops() else { return };
    let sb = Sandbox::new();
    repo(&sb);
    let file = "new.enc.json";
    git(&sb, &["checkout", "-q", "-b", "feature"]).ok();
    add_encrypted(&sb, file, "{\"theirs\": \"t-secret\", \"both\": \"same\"}");
    commit_all(&sb, "feature adds");
    git(&sb, &["checkout", "-q", "main"]).ok();
    add_encrypted(&sb, file, "{\"ours\": \"o-secret\", \"both\": \"same\"}");
    commit_all(&sb, "main adds");
    let merge = git(&sb, &["merge", "--no-edit", "feature"]);
    assert_eq!(merge.code, Some(0), "{}", merge.err());
    let plain = sops_decrypt(&sb, &sops, file);
    for want in ["t-secret", "o-secret", "same"] {
        assert!(plain.contains(want), "{plain}");
    }
}

#[test]
fn files_not_encrypted_on_either_side_merge_as_text() {
    let sb = Sandbox::new();
    repo(&sb);
    let file = "plain.enc.yaml";
    sb.write(file, "a: 1\nb: 2\nc: 3\n");
    commit_all(&sb, "plain");
    git(&sb, &["checkout", "-q", "-b", "feature"]).ok();
    sb.write(file, "a: 1\nb: 2\nc: 30\n");
    commit_all(&sb, "feature");
    git(&sb, &["checkout", "-q", "main"]).ok();
    sb.write(file, "a: 10\nb: 2\nc: 3\n");
    commit_all(&sb, "main");
    let merge = git(&sb, &["merge", "--no-edit", "feature"]);
    assert_eq!(merge.code, Some(0), "{}", merge.err());
    assert_eq!(
        std::fs::read_to_string(sb.path(file)).unwrap(),
        "a: 10\nb: 2\nc: 30\n"
    );
}

#[test]
fn textconv_skips_passphrase_protected_identities() {
    use age::secrecy::SecretString;
    use std::io::Write;
    let sb = Sandbox::new();
    let file = add_encrypted_plain(&sb);
    // The test identity, encrypted with a passphrase (would need a prompt).
    let identity = std::fs::read_to_string(key_file(1)).unwrap();
    let encryptor = age::Encryptor::with_user_passphrase(SecretString::from("pw".to_string()));
    let mut armored = Vec::new();
    {
        let armor =
            age::armor::ArmoredWriter::wrap_output(&mut armored, age::armor::Format::AsciiArmor)
                .unwrap();
        let mut writer = encryptor.wrap_output(armor).unwrap();
        writer.write_all(identity.as_bytes()).unwrap();
        writer.finish().unwrap().finish().unwrap();
    }
    let protected = sb.root().join("protected.txt");
    std::fs::write(&protected, &armored).unwrap();
    let start = Instant::now();
    let out = run(sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", &protected)
        .args(["git", "textconv"])
        .arg(&file))
    .ok();
    assert!(start.elapsed() < Duration::from_secs(60));
    assert_eq!(out.stdout, std::fs::read(&file).unwrap());
    assert_eq!(out.err().lines().count(), 1, "{}", out.err());
    assert!(out.err().contains("no key"), "{}", out.err());
}

fn add_encrypted_plain(sb: &Sandbox) -> PathBuf {
    sb.write(".sops.yaml", SOPS_YAML.replace("RECIPIENT", &recipient(1)));
    add_encrypted(sb, "s.enc.yaml", "k: v\n")
}

#[test]
fn merge_without_a_key_keeps_ours_and_fails() {
    let sb = Sandbox::new();
    repo(&sb);
    let file = "secrets.enc.yaml";
    add_encrypted(&sb, file, YAML);
    commit_all(&sb, "secrets");
    git(&sb, &["checkout", "-q", "-b", "feature"]).ok();
    set(&sb, file, r#"["db"]["password"]"#, r#""feature-pass""#);
    commit_all(&sb, "feature");
    git(&sb, &["checkout", "-q", "main"]).ok();
    set(&sb, file, r#"["api_key"]"#, r#""main-key""#);
    commit_all(&sb, "main");
    let ours = std::fs::read(sb.path(file)).unwrap();
    let merge = run(git_cmd(&sb, false).args(["merge", "--no-edit", "feature"]));
    assert_ne!(merge.code, Some(0));
    assert_eq!(std::fs::read(sb.path(file)).unwrap(), ours);
    assert!(!contains(&all_bytes(&sb), "feature-pass"));
}

/// The globs written by `setup` select exactly the paths the regexes match
/// (checked by git itself with `check-attr`).
#[test]
fn derived_globs_match_what_the_regexes_match() {
    let sb = Sandbox::new();
    git(&sb, &["init", "-q", "-b", "main"]).ok();
    let regexes = [
        r"\.enc\.ya?ml$",
        r"^secrets/.*\.json$",
        r"(dev|prod)/[^/]*\.env$",
        r"^top\.ini$",
        r"conf.*\.txt$",
        r"^keys/.+",
        r"^cls/[\.a-c]x\.(?P<ext>ini)\z",
    ];
    let mut config = String::from("creation_rules:\n");
    for re in regexes {
        config.push_str(&format!(
            "  - path_regex: '{re}'\n    age: {}\n",
            recipient(1)
        ));
    }
    sb.write(".sops.yaml", config);
    run(sb.enseal().args(["git", "setup"])).ok();
    let attributes = std::fs::read_to_string(sb.path(".gitattributes")).unwrap();
    assert!(!attributes.contains("no glob equivalent"), "{attributes}");
    let paths = [
        "a.enc.yaml",
        "x/y/a.enc.yml",
        "a.enc.yaml.bak",
        "a.encxyaml",
        "secrets/a.json",
        "secrets/x/y/b.json",
        "x/secrets/a.json",
        "secrets.json",
        "dev/a.env",
        "x/prod/b.env",
        "mydev/c.env",
        "dev/x/c.env",
        "top.ini",
        "x/top.ini",
        "conf.txt",
        "x/config/a/b.txt",
        "conf/a.txt",
        "other.txt",
        "keys/a",
        "keys/a/b",
        "x/keys/a",
        "cls/.x.ini",
        "cls/bx.ini",
        "cls/dx.ini",
        "cls/bx.ini.bak",
        "x/cls/bx.ini",
    ];
    let compiled: Vec<regex::Regex> = regexes
        .iter()
        .map(|r| regex::Regex::new(r).unwrap())
        .collect();
    let mut args = vec!["check-attr", "diff", "--"];
    args.extend(paths);
    let out = git(&sb, &args).ok().out();
    for (path, line) in paths.iter().zip(out.lines()) {
        let want = compiled.iter().any(|r| r.is_match(path));
        let got = line.ends_with(": diff: enseal");
        assert_eq!(got, want, "{path}: glob {got}, regex {want}\n{attributes}");
    }
}

/// dotenv and INI files merge key by key too (the .sops.yaml of these tests
/// covers `.enc.yaml`/`.enc.json` only, so they are encrypted with `--age`).
#[test]
fn dotenv_and_ini_merge_cleanly() {
    let Some(sops) = require_sops() else { return };
    let sb = Sandbox::new();
    repo(&sb);
    sb.write(
        ".gitattributes",
        "*.env diff=enseal merge=enseal\n*.ini diff=enseal merge=enseal\n",
    );
    let cases = [
        ("s.env", "A=one\nB=two\nC=three\n", r#"["B"]"#, r#"["C"]"#),
        (
            "s.ini",
            "[db]\nuser = admin\npassword = base\n[api]\nkey = k\n",
            r#"["db"]["password"]"#,
            r#"["api"]["key"]"#,
        ),
    ];
    let no_rules = sb.root().join("empty.yaml");
    std::fs::write(&no_rules, "").unwrap();
    for (file, plain, _, _) in cases {
        sb.write(file, plain);
        run(sb.enseal().arg("--config").arg(&no_rules).args([
            "encrypt",
            "-i",
            "--age",
            &recipient(1),
            file,
        ]))
        .ok();
    }
    commit_all(&sb, "flat files");
    git(&sb, &["checkout", "-q", "-b", "feature"]).ok();
    for (file, _, theirs, _) in cases {
        set(&sb, file, theirs, r#""from-feature""#);
    }
    commit_all(&sb, "feature");
    git(&sb, &["checkout", "-q", "main"]).ok();
    for (file, _, _, ours) in cases {
        set(&sb, file, ours, r#""from-main""#);
    }
    commit_all(&sb, "main");
    let merge = git(&sb, &["merge", "--no-edit", "feature"]);
    assert_eq!(merge.code, Some(0), "{}", merge.err());
    for (file, _, _, _) in cases {
        let plain = sops_decrypt(&sb, &sops, file);
        assert!(
            plain.contains("from-feature") && plain.contains("from-main"),
            "{file}:\n{plain}"
        );
    }
}

#[test]
fn setup_names_this_binary_when_path_has_no_enseal() {
    let sb = Sandbox::new();
    git(&sb, &["init", "-q", "-b", "main"]).ok();
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: \\.enc\\.yaml$\n    age: {}\n",
            recipient(1)
        ),
    );
    // A PATH without enseal (git and the system tools only).
    let out = run(sb
        .enseal()
        .env("PATH", "/usr/bin:/bin")
        .args(["git", "setup"]))
    .ok();
    assert!(out.err().contains("enseal is not on PATH"), "{}", out.err());
    let textconv = git(&sb, &["config", "--local", "--get", "diff.enseal.textconv"])
        .ok()
        .out();
    let exe = enseal_bin();
    assert!(
        textconv.starts_with(&exe.display().to_string())
            || textconv.starts_with(&format!("'{}", exe.display())),
        "{textconv}"
    );
    assert!(textconv.trim_end().ends_with(" git textconv"), "{textconv}");
    // An explicit --program wins.
    run(sb
        .enseal()
        .env("PATH", "/usr/bin:/bin")
        .args(["git", "setup", "--program", "my-enseal"]))
    .ok();
    let textconv = git(&sb, &["config", "--local", "--get", "diff.enseal.textconv"])
        .ok()
        .out();
    assert_eq!(textconv, "my-enseal git textconv\n");
}

/// A repository whose `.sops.yaml` keeps the layout of `format` files.
fn preserved_repo(format: &str) -> Sandbox {
    let sb = Sandbox::new();
    repo(&sb);
    sb.write(
        ".sops.yaml",
        SOPS_YAML.replace("RECIPIENT", &recipient(1))
            + &format!("stores:\n  {format}:\n    preserve_format: true\n"),
    );
    sb
}

/// A file kept in its own layout (`stores.yaml.preserve_format`): the
/// merge driver writes the merge in ours' layout.
#[test]
fn merge_keeps_a_preserved_layout() {
    let Some(sops) = require_sops() else { return };
    let sb = preserved_repo("yaml");
    let file = "kept.enc.yaml";
    let base = "# secrets\ndb:\n  user: admin   # login\n  password: 'base-pass'\napi_key:  base-key\n\nkeep: same\n";
    add_encrypted(&sb, file, base);
    commit_all(&sb, "secrets");
    git(&sb, &["checkout", "-q", "-b", "feature"]).ok();
    set(&sb, file, r#"["db"]["password"]"#, r#""feature-pass""#);
    set(&sb, file, r#"["added_theirs"]"#, r#""t-value""#);
    commit_all(&sb, "feature");
    git(&sb, &["checkout", "-q", "main"]).ok();
    set(&sb, file, r#"["api_key"]"#, r#""main-key""#);
    run(enseal_k(&sb).args(["unset", file, r#"["keep"]"#])).ok();
    commit_all(&sb, "main");

    let merge = git(&sb, &["merge", "--no-edit", "feature"]);
    assert_eq!(merge.code, Some(0), "{}\n{}", merge.out(), merge.err());
    assert!(!merge.err().contains("normal layout"), "{}", merge.err());
    let dec = run(enseal_k(&sb).args(["decrypt", "--preserve-format", file])).ok();
    assert_eq!(
        dec.out(),
        // A new key goes right after the entry before it (blank lines stay
        // after it).
        "# secrets\ndb:\n  user: admin   # login\n  password: 'feature-pass'\napi_key:  main-key\nadded_theirs: t-value\n\n"
    );
    let plain = sops_decrypt(&sb, &sops, file);
    assert_eq!(
        plain,
        "# secrets\ndb:\n    # login\n    user: admin\n    password: feature-pass\napi_key: main-key\nadded_theirs: t-value\n"
    );
    assert_eq!(git(&sb, &["status", "--porcelain"]).ok().out(), "");
}

/// A merge that ours' layout cannot take (a JSON member holding an object)
/// is written in the normal layout, with a warning: never lost.
#[test]
fn merge_outside_a_preserved_layout_falls_back_to_the_normal_one() {
    let Some(sops) = require_sops() else { return };
    let sb = preserved_repo("json");
    let file = "kept.enc.json";
    add_encrypted(&sb, file, "{ \"a\" : \"1\",  \"b\": \"2\" }\n");
    commit_all(&sb, "secrets");
    git(&sb, &["checkout", "-q", "-b", "feature"]).ok();
    set(&sb, file, r#"["a"]"#, r#""theirs""#);
    // A member added in the normal layout (a config without the setting).
    sb.write(
        "plain-config.yaml",
        SOPS_YAML.replace("RECIPIENT", &recipient(1)),
    );
    run(enseal_k(&sb).args([
        "--config",
        "plain-config.yaml",
        "set",
        file,
        r#"["c"]"#,
        r#"{"x": "new"}"#,
    ]))
    .ok();
    std::fs::remove_file(sb.path("plain-config.yaml")).unwrap();
    commit_all(&sb, "feature");
    git(&sb, &["checkout", "-q", "main"]).ok();
    set(&sb, file, r#"["b"]"#, r#""ours""#);
    commit_all(&sb, "main");
    let merge = git(&sb, &["merge", "--no-edit", "feature"]);
    assert_eq!(merge.code, Some(0), "{}\n{}", merge.out(), merge.err());
    assert!(
        merge.err().contains("written in the normal layout"),
        "{}",
        merge.err()
    );
    let plain = sops_decrypt(&sb, &sops, file);
    assert_eq!(
        plain,
        "{\n\t\"a\": \"theirs\",\n\t\"b\": \"ours\",\n\t\"c\": {\n\t\t\"x\": \"new\"\n\t}\n}\n"
    );
}

//! Repository-wide commands: `decrypt` of many files in one call (YAML
//! stream and `--output-dir`), `updatekeys -r`, `rotate -r`, `--dry-run`,
//! and a corrupt file among good ones. Trees hold files encrypted by the
//! reference sops and by enseal; the reference decrypts the results.

mod common;
mod keyset;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use keyset::*;

/// The files of a test tree: (path, plaintext). YAML, JSON and dotenv.
fn tree_files(n: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for i in 0..n {
        let (name, text) = match i % 3 {
            0 => (
                format!("secrets/app{i}/values.yaml"),
                format!("user: u{i}\npassword: p{i}\nlist:\n    - {i}\n"),
            ),
            1 => (
                format!("secrets/s{i}.json"),
                format!("{{\n\t\"token\": \"t{i}\",\n\t\"n\": {i}\n}}"),
            ),
            _ => (format!("secrets/e{i}.env"), format!("KEY{i}=v{i}\n")),
        };
        out.push((name, text));
    }
    out
}

/// A tree below `work/`: `.sops.yaml` covering `secrets/` for `recipient`,
/// the files of [`tree_files`] encrypted alternately by the reference and
/// by enseal, plus files a tree walk must skip. Returns the encrypted paths
/// (relative) and their plaintexts.
fn make_tree(
    sb: &Sandbox,
    sops: &Path,
    key: &Path,
    recipient: &str,
    n: usize,
) -> Vec<(String, String)> {
    sb.write(
        ".sops.yaml",
        format!("creation_rules:\n  - path_regex: ^secrets/\n    age: {recipient}\n"),
    );
    let files = tree_files(n);
    for (i, (name, text)) in files.iter().enumerate() {
        let path = sb.write(name, text);
        let cmd = if i % 2 == 0 {
            let mut c = sb.sops(sops);
            c.args(["encrypt", "-i"]);
            c
        } else {
            let mut c = sb.enseal();
            c.args(["encrypt", "-i"]);
            c
        };
        run(with_keys(cmd, key).arg(&path)).ok();
    }
    // Not covered, not encrypted, or in skipped directories.
    sb.write("README.md", "# docs\n");
    sb.write("secrets/notes.txt", "plain notes\n");
    let enc = std::fs::read(sb.path(&files[0].0)).unwrap();
    sb.write(".git/objects/x.yaml", &enc);
    sb.write("target/x.yaml", &enc);
    sb.write("secrets/ignored/x.yaml", &enc);
    sb.write(".gitignore", "secrets/ignored/\n");
    files
}

fn hashes(sb: &Sandbox, files: &[(String, String)]) -> BTreeMap<String, Vec<u8>> {
    use sha2::Digest;
    files
        .iter()
        .map(|(name, _)| {
            let bytes = std::fs::read(sb.path(name)).unwrap();
            (name.clone(), sha2::Sha256::digest(&bytes).to_vec())
        })
        .collect()
}

/// Splits the YAML stream of a bulk decrypt into (file, document text).
fn split_stream(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for part in text.split("---\n# file: ").skip(1) {
        let (name, body) = part.split_once('\n').expect("header line");
        out.insert(name.to_string(), body.to_string());
    }
    out
}

/// Decrypts with the reference and only `key`.
fn reference_decrypt(sb: &Sandbox, sops: &Path, key: &Path, name: &str) -> Out {
    run(with_keys(sb.sops(sops), key)
        .arg("decrypt")
        .arg(sb.path(name)))
}

#[test]
fn one_decrypt_call_outputs_every_file_of_the_tree() {
    let Some(sops) = require_sops() else { return };
    let sb = Sandbox::new();
    let ks = KeySet::new(&sb);
    let files = make_tree(&sb, &sops, &ks.files[0], ks.r(0), 12);

    let out = run(with_keys(sb.enseal(), &ks.files[0]).args(["decrypt", "-r"])).ok();
    let stream = split_stream(&out.out());
    let names: Vec<&String> = stream.keys().collect();
    let mut want: Vec<&String> = files.iter().map(|(n, _)| n).collect();
    want.sort();
    assert_eq!(names, want, "stream:\n{}", out.out());
    assert!(
        out.err().contains("12 files: 12 decrypted, 0 failed"),
        "{}",
        out.err()
    );
    for (name, _) in &files {
        let body = &stream[name];
        let single = run(with_keys(sb.enseal(), &ks.files[0])
            .args(["decrypt", "--output-type", "yaml"])
            .arg(name))
        .ok();
        assert_eq!(body, &single.out(), "{name}");
    }

    // --all is the same walk; explicit files give the same documents.
    let all = run(with_keys(sb.enseal(), &ks.files[0]).args(["decrypt", "--all"])).ok();
    assert_eq!(all.stdout, out.stdout);
    let two = run(with_keys(sb.enseal(), &ks.files[0])
        .arg("decrypt")
        .arg(&files[1].0)
        .arg(&files[0].0))
    .ok();
    let two = split_stream(&two.out());
    assert_eq!(two.len(), 2);
    assert_eq!(two[&files[0].0], stream[&files[0].0]);

    // --output-dir: one file each, byte-identical to the reference's
    // single-file decryption, mode 0600.
    let dir = sb.root().join("out");
    run(with_keys(sb.enseal(), &ks.files[0])
        .args(["decrypt", "-r", "--output-dir"])
        .arg(&dir))
    .ok();
    for (name, _) in &files {
        let got = std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = reference_decrypt(&sb, &sops, &ks.files[0], name).ok();
        assert_eq!(got, want.stdout, "{name}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{name} is readable by others");
        }
    }
    assert!(!dir.join("README.md").exists());
    assert!(!dir.join("target").exists() && !dir.join(".git").exists());
    assert!(!dir.join("secrets/ignored").exists());
}

#[test]
fn single_file_decrypt_is_unchanged() {
    let Some(sops) = require_sops() else { return };
    let sb = Sandbox::new();
    let ks = KeySet::new(&sb);
    let files = make_tree(&sb, &sops, &ks.files[0], ks.r(0), 3);
    for (name, _) in &files {
        let ours = run(with_keys(sb.enseal(), &ks.files[0])
            .arg("decrypt")
            .arg(name))
        .ok();
        let theirs = reference_decrypt(&sb, &sops, &ks.files[0], name).ok();
        assert_eq!(ours.stdout, theirs.stdout, "{name}");
        assert!(ours.stderr.is_empty(), "{}", ours.err());
    }
}

#[test]
fn updatekeys_recursive_follows_the_changed_config() {
    let Some(sops) = require_sops() else { return };
    let sb = Sandbox::new();
    let ks = KeySet::new(&sb);
    let files = make_tree(&sb, &sops, &ks.files[0], ks.r(0), 9);
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: ^secrets/\n    age: {},{}\n",
            ks.r(1),
            ks.r(2)
        ),
    );

    // --dry-run shows every change and writes nothing; without --yes and
    // without a terminal nothing is written either.
    let before = hashes(&sb, &files);
    let dry = run(sb.enseal().args(["updatekeys", "-r", "--dry-run"])).ok();
    for (name, _) in &files {
        assert!(dry.out().contains(&format!("{name}:\n")), "{}", dry.out());
    }
    assert!(dry.out().contains(&format!("+++ {}", ks.r(1))));
    assert!(dry.out().contains(&format!("--- {}", ks.r(0))));
    assert!(
        dry.err()
            .contains("9 files: 9 would be updated, 0 unchanged, 0 failed"),
        "{}",
        dry.err()
    );
    let asked = run(with_keys(sb.enseal(), &ks.all).args(["updatekeys", "-r"]));
    assert_eq!(asked.code, Some(1), "{}", asked.err());
    assert!(asked.err().contains("--yes"), "{}", asked.err());
    assert_eq!(hashes(&sb, &files), before);

    let out = run(with_keys(sb.enseal(), &ks.files[0]).args(["updatekeys", "--all", "-y"])).ok();
    assert!(
        out.err()
            .contains("9 files: 9 updated, 0 unchanged, 0 failed"),
        "{}",
        out.err()
    );
    for (name, plain) in &files {
        let text = std::fs::read_to_string(sb.path(name)).unwrap();
        assert!(!text.contains(ks.r(0)), "{name} still has the old key");
        // The reference decrypts each file with either new key alone.
        for key in [&ks.files[1], &ks.files[2]] {
            let got = reference_decrypt(&sb, &sops, key, name).ok();
            let want = run(with_keys(sb.enseal(), key).arg("decrypt").arg(name)).ok();
            assert_eq!(got.stdout, want.stdout, "{name}");
            if name.ends_with(".yaml") {
                assert_eq!(got.out(), *plain, "{name}");
            }
        }
        assert_eq!(
            reference_decrypt(&sb, &sops, &ks.files[0], name).code,
            Some(128)
        );
    }
    // A second run has nothing to do.
    let again = run(with_keys(sb.enseal(), &ks.files[1]).args(["updatekeys", "-r", "-y"])).ok();
    assert!(
        again
            .err()
            .contains("9 files: 0 updated, 9 unchanged, 0 failed"),
        "{}",
        again.err()
    );
}

#[test]
fn rotate_recursive_and_its_dry_run() {
    let Some(sops) = require_sops() else { return };
    let sb = Sandbox::new();
    let ks = KeySet::new(&sb);
    let files = make_tree(&sb, &sops, &ks.files[0], ks.r(0), 6);
    let before = hashes(&sb, &files);

    let dry = run(with_keys(sb.enseal(), &ks.files[0]).args(["rotate", "-r", "--dry-run"])).ok();
    assert_eq!(hashes(&sb, &files), before);
    let mut names: Vec<&String> = files.iter().map(|(n, _)| n).collect();
    names.sort();
    let listed: String = names
        .iter()
        .map(|n| format!("would rotate {n}\n"))
        .collect();
    assert_eq!(dry.out(), listed);
    // Without the key, the dry run reports every file as failing (128).
    let nokey = run(sb.enseal().args(["rotate", "-r", "--dry-run"]));
    assert_eq!(nokey.code, Some(128), "{}", nokey.err());
    assert!(nokey
        .err()
        .contains("6 files: 0 would be rotated, 6 failed"));

    let out =
        run(with_keys(sb.enseal(), &ks.files[0]).args(["rotate", "-r", "--add-age", ks.r(1)])).ok();
    assert!(
        out.err().contains("6 files: 6 rotated, 0 failed"),
        "{}",
        out.err()
    );
    let after = hashes(&sb, &files);
    for (name, _) in &files {
        assert_ne!(after[name], before[name], "{name} was not rotated");
        let got = reference_decrypt(&sb, &sops, &ks.files[1], name).ok();
        let orig = run(with_keys(sb.enseal(), &ks.files[0])
            .arg("decrypt")
            .arg(name))
        .ok();
        assert_eq!(got.stdout, orig.stdout, "{name}");
    }
}

/// Breaks one value of an encrypted file (the MAC check then fails).
fn corrupt(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let i = text
        .find("ENC[AES256_GCM,data:")
        .expect("an encrypted value")
        + 20;
    let mut bytes = text.into_bytes();
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_corrupt_file_fails_while_the_others_are_done() {
    let Some(sops) = require_sops() else { return };
    let sb = Sandbox::new();
    let ks = KeySet::new(&sb);
    let files = make_tree(&sb, &sops, &ks.files[0], ks.r(0), 6);
    let bad = files[2].0.clone();
    corrupt(&sb.path(&bad));
    let garbage = sb.write("secrets/zz-garbage.yaml", "sops: [not, metadata\n");

    let out = run(with_keys(sb.enseal(), &ks.files[0]).args(["decrypt", "-r"]));
    assert!(out.code.is_some_and(|c| c != 0), "{}", out.err());
    let stream = split_stream(&out.out());
    assert_eq!(stream.len(), 5, "{}", out.out());
    assert!(!stream.contains_key(&bad));
    assert!(out.err().contains(&bad), "{}", out.err());
    assert!(
        out.err().contains("6 files: 5 decrypted, 1 failed"),
        "{}",
        out.err()
    );

    // Given explicitly, the unparseable file fails too, and the exit code is
    // the one of the first failing file in path order.
    let mut cmd = with_keys(sb.enseal(), &ks.files[0]);
    cmd.arg("decrypt").arg(&garbage).arg(&bad).arg(&files[0].0);
    let out = run(&mut cmd);
    let single = run(with_keys(sb.enseal(), &ks.files[0])
        .arg("decrypt")
        .arg(&bad));
    assert_ne!(single.code, Some(0));
    let first = if bad < garbage.display().to_string() {
        single.code
    } else {
        Some(1)
    };
    assert_eq!(out.code, first, "{}", out.err());
    assert!(
        out.err().contains("3 files: 1 decrypted, 2 failed"),
        "{}",
        out.err()
    );

    // This rule removes a key (r0): every value is encrypted again under a
    // new data key, so the corrupt file fails (it cannot be decrypted), as
    // does a file whose data key cannot be recovered; the others are done.
    let locked = files[4].0.clone();
    run(with_keys(sb.enseal(), &ks.files[0])
        .args(["rotate", "-i", "--add-age", ks.r(2), "--rm-age", ks.r(0)])
        .arg(&locked))
    .ok();
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: ^secrets/\n    age: {}\n",
            ks.r(1)
        ),
    );
    let out = run(with_keys(sb.enseal(), &ks.files[0]).args(["updatekeys", "-r", "-y"]));
    // The exit code is the first failing file's (the corrupt one).
    assert_eq!(out.code, single.code, "{}", out.err());
    assert!(out.err().contains(&locked), "{}", out.err());
    assert!(out.err().contains(&bad), "{}", out.err());
    assert!(
        out.err()
            .contains("6 files: 4 updated, 0 unchanged, 2 failed"),
        "{}",
        out.err()
    );
    for (name, _) in files.iter().filter(|(n, _)| *n != locked && *n != bad) {
        reference_decrypt(&sb, &sops, &ks.files[1], name).ok();
    }

    // rotate needs every value: the corrupt file fails (MAC), others rotate.
    let out = run(with_keys(sb.enseal(), &ks.all).args(["rotate", "-r"]));
    assert!(out.code.is_some_and(|c| c != 0));
    assert!(
        out.err().contains("6 files: 5 rotated, 1 failed"),
        "{}",
        out.err()
    );
    // One line per failed file while running, the failed files again at
    // the end, after the summary.
    let err = out.err();
    let per_file: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with(&format!("{bad}: ")))
        .collect();
    assert_eq!(per_file.len(), 1, "{err}");
    let tail = &err[err.find("6 files: 5 rotated").unwrap()..];
    assert!(tail.contains(&format!("\nfailed: {bad}\n")), "{err}");
}

#[test]
fn bulk_flags_that_take_one_file_are_refused() {
    let sb = Sandbox::new();
    let a = sb.write("a.yaml", "x: 1\n");
    let b = sb.write("b.yaml", "x: 1\n");
    for extra in [
        &["--output", "o.yaml"][..],
        &["-i"],
        &["--extract", "[\"x\"]"],
    ] {
        let out = run(sb.enseal().arg("decrypt").args(extra).arg(&a).arg(&b));
        assert_eq!(out.code, Some(8), "{extra:?}: {}", out.err());
    }
    let out = run(sb
        .enseal()
        .args(["decrypt", "--output-type", "json"])
        .arg(&a)
        .arg(&b));
    assert_eq!(out.code, Some(8), "{}", out.err());
    assert!(out.err().contains("--output-dir"), "{}", out.err());
    let out = run(sb
        .enseal()
        .args(["rotate", "--output", "o.yaml"])
        .arg(&a)
        .arg(&b));
    assert_eq!(out.code, Some(8), "{}", out.err());
    // A root that does not exist.
    let out = run(sb.enseal().args(["decrypt", "-r", "nope"]));
    assert_eq!(out.code, Some(100), "{}", out.err());
    // updatekeys -r needs a config.
    let out = run(sb.enseal().args(["updatekeys", "-r", "-y"]));
    assert_eq!(out.code, Some(1));
    assert!(out.err().contains("config file not found"), "{}", out.err());
    let _: PathBuf = a;
}

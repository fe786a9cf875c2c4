//! Command-line behaviour of enseal that needs no reference binary: it works
//! from the committed reference fixtures (`testdata/reference/`) and their
//! goldens. Exit codes follow the reference (spec/cli.md §10).

mod common;

use common::*;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    reference(name)
}

fn golden(name: &str) -> Vec<u8> {
    std::fs::read(reference(name)).unwrap_or_else(|e| panic!("golden {name}: {e}"))
}

fn assert_bytes(label: &str, want: &[u8], got: &[u8]) {
    if let Err(e) = diff_bytes(label, want, got) {
        panic!("{e}");
    }
}

fn with_key(mut cmd: std::process::Command) -> std::process::Command {
    cmd.env("SOPS_AGE_KEY_FILE", key_file(1));
    cmd
}

// ---------------------------------------------------------------------------
// filestatus
// ---------------------------------------------------------------------------

#[test]
fn filestatus_encrypted_files() {
    for f in [
        "yaml-basic.enc.yaml",
        "yaml-multidoc.enc.yaml",
        "json-nested.enc.json",
        "dotenv-basic.enc.env",
        "ini-sections.enc.ini",
        "binary-blob.enc.bin",
    ] {
        let out = run(enseal().arg("filestatus").arg(fixture(f))).ok();
        assert_eq!(out.out(), "{\"encrypted\":true}\n", "filestatus {f}");
    }
}

#[test]
fn filestatus_plain_files() {
    for f in [
        "plain/basic.yaml",
        "plain/nested.json",
        "plain/basic.env",
        "plain/sections.ini",
    ] {
        let out = run(enseal().arg("filestatus").arg(fixture(f))).ok();
        assert_eq!(out.out(), "{\"encrypted\":false}\n", "filestatus {f}");
    }
}

#[test]
fn filestatus_without_mac_is_not_encrypted() {
    let sb = Sandbox::new();
    let text = std::fs::read_to_string(fixture("yaml-basic.enc.yaml")).expect("fixture");
    let no_mac: String = text
        .lines()
        .filter(|l| !l.starts_with("    mac: "))
        .map(|l| format!("{l}\n"))
        .collect();
    let p = sb.write("nomac.yaml", no_mac);
    let out = run(sb.enseal().arg("filestatus").arg(&p)).ok();
    assert_eq!(out.out(), "{\"encrypted\":false}\n");
}

#[test]
fn filestatus_no_file_exit_100() {
    run(enseal().arg("filestatus")).code_in(&[100]);
}

/// A file that does not exist: exit 1, as the reference (not the 100 of
/// the other commands).
#[test]
fn filestatus_of_a_missing_file_exits_like_the_reference() {
    let sb = Sandbox::new();
    let missing = sb.path("nope.yaml");
    let out = run(sb.enseal().arg("filestatus").arg(&missing)).code_in(&[1]);
    assert!(
        out.err().contains("cannot check file status"),
        "{}",
        out.err()
    );
    assert_eq!(out.err().lines().count(), 1, "{}", out.err());
    let Some(sops) = require_sops() else { return };
    let reference = run(sb.sops(&sops).arg("filestatus").arg(&missing));
    assert_eq!(reference.code, out.code, "{}", reference.err());
}

// ---------------------------------------------------------------------------
// Exit codes
// ---------------------------------------------------------------------------

#[test]
fn missing_file_exit_100() {
    let sb = Sandbox::new();
    let missing = sb.path("does-not-exist.yaml");
    let out = run(with_key(sb.enseal()).arg("decrypt").arg(&missing)).code_in(&[100]);
    assert!(
        out.err().contains("non-existent file"),
        "message: {}",
        out.err()
    );
    let out = run(sb
        .enseal()
        .args(["encrypt", "--age"])
        .arg(recipient(1))
        .arg(&missing))
    .code_in(&[100]);
    assert!(
        out.err().contains("non-existent file"),
        "message: {}",
        out.err()
    );
    // legacy modes too
    run(with_key(sb.enseal()).arg("-d").arg(&missing)).code_in(&[100]);
}

#[test]
fn no_file_argument_exit_100_in_legacy_mode() {
    run(with_key(enseal()).arg("-d")).code_in(&[100]);
}

#[test]
fn encrypting_an_encrypted_file_exit_203() {
    for f in [
        "yaml-basic.enc.yaml",
        "json-nested.enc.json",
        "dotenv-basic.enc.env",
        "ini-sections.enc.ini",
    ] {
        let sb = Sandbox::new();
        let name = f.replace(".enc", "");
        let p = sb.copy(&fixture(f), &name);
        let out = run(sb
            .enseal()
            .args(["encrypt", "--age"])
            .arg(recipient(1))
            .arg(&p))
        .code_in(&[203]);
        assert!(
            out.err().contains("top-level entry called 'sops'"),
            "{f}: message: {}",
            out.err()
        );
        assert!(out.stdout.is_empty(), "{f}: no output expected");
    }
}

#[test]
fn no_key_exit_128_lists_tried_locations() {
    let sb = Sandbox::new();
    // --verbose: sops' full report (the default is one line, see
    // tests/error_messages.rs).
    let out = run(sb
        .enseal()
        .args(["--verbose", "decrypt"])
        .arg(fixture("yaml-basic.enc.yaml")))
    .code_in(&[128]);
    let err = out.err();
    assert!(
        err.contains("Failed to get the data key required to decrypt the SOPS file."),
        "message: {err}"
    );
    // The message is word-wrapped, so check the pieces after unwrapping.
    let flat: String = err
        .lines()
        .map(|l| l.trim_start().trim_start_matches(['-', '|']).trim())
        .collect::<Vec<_>>()
        .join(" ");
    for want in [
        "Did not find keys in",
        "'SOPS_AGE_KEY'",
        "'SOPS_AGE_KEY_FILE'",
    ] {
        assert!(flat.contains(want), "message lacks {want:?}: {err}");
    }
    let default_file = sb.home().join(".config/sops/age/keys.txt");
    assert!(
        flat.replace(' ', "")
            .contains(&default_file.display().to_string().replace(' ', "")),
        "message lacks the default key file {}: {err}",
        default_file.display()
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn wrong_key_exit_128() {
    // Test key 2 is not a recipient of the one-key fixture.
    let out = run(enseal()
        .env("SOPS_AGE_KEY_FILE", key_file(2))
        .arg("decrypt")
        .arg(fixture("yaml-basic.enc.yaml")))
    .code_in(&[128]);
    assert!(out.err().contains(&recipient(1)), "message: {}", out.err());
}

#[test]
fn tampered_mac_exit_51() {
    let sb = Sandbox::new();
    let text = std::fs::read_to_string(fixture("yaml-basic.enc.yaml")).expect("fixture");
    let bad = text.replace("inner: also-clear", "inner: also-changed");
    assert_ne!(bad, text);
    let p = sb.write("bad.enc.yaml", bad);
    let out = run(with_key(sb.enseal()).arg("decrypt").arg(&p)).code_in(&[51]);
    assert!(out.err().contains("MAC mismatch"), "message: {}", out.err());
    assert!(
        out.stdout.is_empty(),
        "no plaintext may be printed on MAC failure"
    );
}

#[test]
fn bad_extract_path_exit_91() {
    for path in ["foo", "[\"a\"", "[x]", "[\"app\"]bar"] {
        let out = run(with_key(enseal())
            .args(["decrypt", "--extract", path])
            .arg(fixture("yaml-basic.enc.yaml")))
        .code_in(&[91]);
        assert!(
            out.err().contains("error parsing --extract path"),
            "{path}: message: {}",
            out.err()
        );
    }
}

#[test]
fn extract_missing_key_exit_1() {
    let out = run(with_key(enseal())
        .args(["decrypt", "--extract", "[\"nope\"]"])
        .arg(fixture("yaml-basic.enc.yaml")))
    .code_in(&[1]);
    assert!(out.err().contains("nope"), "message: {}", out.err());
}

#[test]
fn in_place_with_output_exit_8() {
    let sb = Sandbox::new();
    let p = sb.copy(&fixture("yaml-basic.enc.yaml"), "f.enc.yaml");
    let before = std::fs::read(&p).expect("read");
    let out = run(with_key(sb.enseal())
        .args(["decrypt", "-i", "--output"])
        .arg(sb.path("out.yaml"))
        .arg(&p))
    .code_in(&[8]);
    assert!(
        out.err().contains("--output") && out.err().contains("--in-place"),
        "message: {}",
        out.err()
    );
    assert_eq!(
        std::fs::read(&p).expect("read"),
        before,
        "file must be untouched"
    );
    assert!(!sb.path("out.yaml").exists());
}

#[test]
fn stdin_encrypt_without_filename_override_exit_8() {
    let out = run_stdin(
        enseal().args(["encrypt", "--age"]).arg(recipient(1)),
        b"a: 1\n",
    )
    .code_in(&[8]);
    assert!(
        out.err().contains("--filename-override"),
        "message: {}",
        out.err()
    );
}

#[test]
fn decrypting_a_plain_file_exit_1() {
    let out = run(with_key(enseal())
        .arg("decrypt")
        .arg(fixture("plain/basic.yaml")))
    .code_in(&[1]);
    assert!(
        out.err().contains("sops metadata not found"),
        "message: {}",
        out.err()
    );
}

/// Malformed plaintext → exit 2 and a message that says where (line number).
#[test]
fn malformed_input_exit_2_with_line_number() {
    let line_re = regex::Regex::new(r"(?i)line\s*:?\s*\d+|:\d+:\d+").expect("regex");
    let mut failures = Vec::new();
    let inputs = [
        ("bad.yaml", "a: 1\nb: 2\nc: [1, 2\nd: 4\n"),
        ("bad2.yaml", "a: 1\nb:\n  - x\n - y\n"),
        ("bad.json", "{\n  \"a\": 1,\n  \"b\": ,\n}\n"),
        ("bad.ini", "[ok]\na = 1\n[broken\nb = 2\n"),
    ];
    for (name, text) in inputs {
        let sb = Sandbox::new();
        let p = sb.write(name, text);
        let out = run(sb
            .enseal()
            .args(["encrypt", "--age"])
            .arg(recipient(1))
            .arg(&p));
        if out.code != Some(2) {
            failures.push(format!(
                "{name}: want exit 2, got {:?}: {}",
                out.code,
                out.err()
            ));
        } else if !line_re.is_match(&out.err()) {
            failures.push(format!(
                "{name}: error message has no line number: {}",
                out.err()
            ));
        } else if !out.stdout.is_empty() {
            failures.push(format!("{name}: output on error"));
        }
    }
    report("malformed input", inputs.len(), failures);
}

// ---------------------------------------------------------------------------
// Keys from the environment and default locations
// ---------------------------------------------------------------------------

#[test]
fn key_from_sops_age_key() {
    let out = run(enseal()
        .env("SOPS_AGE_KEY", secret_key(1))
        .arg("decrypt")
        .arg(fixture("yaml-basic.enc.yaml")))
    .ok();
    assert_bytes("decrypt", &golden("yaml-basic.dec.yaml"), &out.stdout);
}

#[test]
fn key_from_default_home_location() {
    let sb = Sandbox::new();
    let dir = sb.home().join(".config/sops/age");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::copy(key_file(1), dir.join("keys.txt")).expect("copy key");
    let out = run(sb
        .enseal()
        .arg("decrypt")
        .arg(fixture("yaml-basic.enc.yaml")))
    .ok();
    assert_bytes("decrypt", &golden("yaml-basic.dec.yaml"), &out.stdout);
}

#[test]
fn key_from_xdg_config_home() {
    let sb = Sandbox::new();
    let xdg = sb.root().join("xdg");
    std::fs::create_dir_all(xdg.join("sops/age")).expect("mkdir");
    std::fs::copy(key_file(1), xdg.join("sops/age/keys.txt")).expect("copy key");
    let out = run(sb
        .enseal()
        .env("XDG_CONFIG_HOME", &xdg)
        .arg("decrypt")
        .arg(fixture("yaml-basic.enc.yaml")))
    .ok();
    assert_bytes("decrypt", &golden("yaml-basic.dec.yaml"), &out.stdout);
}

#[test]
fn recipients_from_sops_age_recipients() {
    let sb = Sandbox::new();
    let p = sb.copy(&fixture("plain/basic.yaml"), "basic.yaml");
    let out = run(sb
        .enseal()
        .env("SOPS_AGE_RECIPIENTS", recipient(2))
        .arg("encrypt")
        .arg(&p))
    .ok();
    let enc = out.out();
    assert!(enc.contains(&recipient(2)), "recipient missing:\n{enc}");
    let e = sb.write("basic.enc.yaml", &out.stdout);
    let out = run(sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", key_file(2))
        .arg("decrypt")
        .arg(&e))
    .ok();
    assert_bytes("round trip", &golden("yaml-basic.dec.yaml"), &out.stdout);
}

// ---------------------------------------------------------------------------
// --extract
// ---------------------------------------------------------------------------

/// Every golden of `testdata/reference/extracts.tsv`: strings as raw bytes
/// without newline, maps/lists as documents of the output store.
#[test]
fn extract_goldens() {
    let table = std::fs::read_to_string(reference("extracts.tsv")).expect("extracts.tsv");
    let mut failures = Vec::new();
    let mut total = 0;
    for line in table.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 3, "extracts.tsv: bad line {line:?}");
        let (name, case, path) = (cols[0], cols[1], cols[2]);
        total += 1;
        let case = cases()
            .iter()
            .find(|c| c.name == case)
            .unwrap_or_else(|| panic!("extracts.tsv: unknown case {case}"));
        let want = golden(&format!("extract/{name}.out"));
        let r = catch(name, || {
            let out = run(with_key(enseal())
                .args(["decrypt", "--extract", path])
                .arg(case.enc_fixture()));
            if out.code != Some(0) {
                return Err(format!("exit {:?}: {}", out.code, out.err()));
            }
            diff_bytes(&format!("--extract '{path}'"), &want, &out.stdout)
        });
        if let Err(e) = r {
            failures.push(e);
        }
    }
    report("extract goldens", total, failures);
}

#[test]
fn extract_string_is_raw_without_newline() {
    let out = run(with_key(enseal())
        .args([
            "decrypt",
            "--extract",
            "[\"app\"][\"database\"][\"password\"]",
        ])
        .arg(fixture("yaml-basic.enc.yaml")))
    .ok();
    assert_eq!(out.stdout, b"p@ss: w0rd #1");
}

// ---------------------------------------------------------------------------
// Output destinations: -i, --output, stdin
// ---------------------------------------------------------------------------

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).expect("stat").permissions().mode() & 0o7777
}

fn set_mode(p: &Path, m: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).expect("chmod");
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn decrypt_in_place_keeps_permissions_and_leaves_no_temp_files() {
    let sb = Sandbox::new();
    let p = sb.copy(&fixture("yaml-basic.enc.yaml"), "secrets.yaml");
    set_mode(&p, 0o640);
    let out = run(with_key(sb.enseal()).args(["decrypt", "-i"]).arg(&p)).ok();
    assert!(out.stdout.is_empty(), "-i must not print the result");
    assert_bytes(
        "in-place decrypt",
        &golden("yaml-basic.dec.yaml"),
        &std::fs::read(&p).expect("read"),
    );
    assert_eq!(mode(&p), 0o640, "permissions changed");
    assert_eq!(
        dir_entries(&sb.work()),
        vec!["secrets.yaml"],
        "stray files left"
    );
}

#[test]
fn encrypt_in_place_round_trip() {
    let sb = Sandbox::new();
    let p = sb.copy(&fixture("plain/nested.json"), "nested.json");
    set_mode(&p, 0o600);
    run(sb
        .enseal()
        .args(["encrypt", "-i", "--age"])
        .arg(recipient(1))
        .arg(&p))
    .ok();
    assert_eq!(mode(&p), 0o600, "permissions changed");
    assert_eq!(
        dir_entries(&sb.work()),
        vec!["nested.json"],
        "stray files left"
    );
    let text = std::fs::read_to_string(&p).expect("read");
    assert!(text.contains("ENC[AES256_GCM,"), "not encrypted:\n{text}");
    let out = run(sb.enseal().arg("filestatus").arg(&p)).ok();
    assert_eq!(out.out(), "{\"encrypted\":true}\n");
    let out = run(with_key(sb.enseal()).arg("decrypt").arg(&p)).ok();
    assert_bytes("round trip", &golden("json-nested.dec.json"), &out.stdout);
}

#[test]
fn legacy_encrypt_in_place() {
    let sb = Sandbox::new();
    let p = sb.copy(&fixture("plain/basic.env"), "basic.env");
    run(sb
        .enseal()
        .args(["-e", "-i", "--age"])
        .arg(recipient(1))
        .arg(&p))
    .ok();
    let out = run(with_key(sb.enseal()).arg("-d").arg(&p)).ok();
    assert_bytes("round trip", &golden("dotenv-basic.dec.env"), &out.stdout);
}

#[test]
fn decrypt_to_output_file() {
    let sb = Sandbox::new();
    let dest = sb.path("out.json");
    let out = run(with_key(sb.enseal())
        .args(["decrypt", "--output"])
        .arg(&dest)
        .arg(fixture("json-nested.enc.json")))
    .ok();
    assert!(out.stdout.is_empty(), "--output must not print to stdout");
    assert_bytes(
        "--output",
        &golden("json-nested.dec.json"),
        &std::fs::read(&dest).expect("read"),
    );
}

#[test]
fn encrypt_to_output_file() {
    let sb = Sandbox::new();
    let dest = sb.path("out.enc.ini");
    let out = run(sb
        .enseal()
        .args(["encrypt", "--age"])
        .arg(recipient(1))
        .arg("--output")
        .arg(&dest)
        .arg(fixture("plain/sections.ini")))
    .ok();
    assert!(out.stdout.is_empty());
    let out = run(with_key(sb.enseal()).arg("decrypt").arg(&dest)).ok();
    assert_bytes("round trip", &golden("ini-sections.dec.ini"), &out.stdout);
}

#[test]
fn decrypt_stdin_with_filename_override() {
    let enc = std::fs::read(fixture("yaml-basic.enc.yaml")).expect("fixture");
    let want = golden("yaml-basic.dec.yaml");
    // no file argument
    let out = run_stdin(
        with_key(enseal()).args(["decrypt", "--filename-override", "x.yaml"]),
        &enc,
    )
    .ok();
    assert_bytes("stdin", &want, &out.stdout);
    // explicit "-"
    let out = run_stdin(
        with_key(enseal()).args(["decrypt", "--filename-override", "x.yaml", "-"]),
        &enc,
    )
    .ok();
    assert_bytes("stdin via -", &want, &out.stdout);
    // explicit types instead of a name
    let out = run_stdin(
        with_key(enseal()).args(["decrypt", "--input-type", "yaml", "--output-type", "yaml"]),
        &enc,
    )
    .ok();
    assert_bytes("stdin with types", &want, &out.stdout);
}

#[test]
fn encrypt_stdin_with_filename_override() {
    let sb = Sandbox::new();
    let plain = std::fs::read(fixture("plain/basic.env")).expect("fixture");
    for args in [
        vec!["encrypt", "--filename-override", "x.env", "--age"],
        vec!["encrypt", "--filename-override", "x.env", "--age", "-"],
    ] {
        let mut cmd = sb.enseal();
        cmd.args(&args[..4]).arg(recipient(1));
        if args.len() > 4 {
            cmd.arg("-");
        }
        let out = run_stdin(&mut cmd, &plain).ok();
        assert!(
            out.out().contains("sops_mac=ENC["),
            "not a dotenv sops file:\n{}",
            out.out()
        );
        let e = sb.write("x.enc.env", &out.stdout);
        let out = run(with_key(sb.enseal()).arg("decrypt").arg(&e)).ok();
        assert_bytes("round trip", &golden("dotenv-basic.dec.env"), &out.stdout);
    }
}

#[test]
fn in_place_with_stdin_exit_8() {
    run_stdin(
        with_key(enseal()).args(["decrypt", "-i", "--filename-override", "x.yaml"]),
        b"a: 1\n",
    )
    .code_in(&[8]);
}

#[test]
fn output_type_conversion_yaml_to_json() {
    // decrypt a YAML fixture with --output-type json
    let out = run(with_key(enseal())
        .args(["decrypt", "--output-type", "json"])
        .arg(fixture("yaml-k8s.enc.yaml")))
    .ok();
    let text = out.out();
    assert!(text.starts_with("{\n\t\"apiVersion\": \"v1\","), "{text}");
    assert!(text.contains("\"password\": \"s3cr3t\""), "{text}");
}

#[test]
fn comment_regex_flags_accepted_on_encrypt_subcommand() {
    let sb = Sandbox::new();
    let p = sb.copy(&fixture("plain/commentregex.yaml"), "commentregex.yaml");
    let out = run(sb
        .enseal()
        .args(["encrypt", "--encrypted-comment-regex", "sops:enc", "--age"])
        .arg(recipient(1))
        .arg(&p))
    .ok();
    // Same shape as the reference's legacy-mode fixture.
    let want = normalize_encrypted(
        &std::fs::read_to_string(fixture("yaml-comment-encrypted-regex.enc.yaml"))
            .expect("fixture"),
    );
    assert_bytes(
        "encrypted shape",
        want.as_bytes(),
        normalize_encrypted(&out.out()).as_bytes(),
    );
}

#[test]
fn indent_is_a_global_flag() {
    let out = run(with_key(enseal())
        .args(["--indent", "2", "decrypt"])
        .arg(fixture("json-nested.enc.json")))
    .ok();
    assert!(
        out.out().starts_with("{\n  \"name\": \"enseal\",\n"),
        "{}",
        out.out()
    );
    let out = run(with_key(enseal())
        .args(["--indent", "2", "decrypt"])
        .arg(fixture("yaml-k8s.enc.yaml")))
    .ok();
    assert!(
        out.out().contains("\nmetadata:\n  name: app-secrets\n"),
        "{}",
        out.out()
    );
}

// ---------------------------------------------------------------------------
// decryption order
// ---------------------------------------------------------------------------

#[test]
fn duplicate_decryption_order_exit_112() {
    let out = run(with_key(enseal())
        .args(["decrypt", "--decryption-order", "age,pgp,age"])
        .arg(fixture("yaml-basic.enc.yaml")))
    .code_in(&[112]);
    assert!(
        out.err().contains("Duplicate decryption key type: age"),
        "{}",
        out.err()
    );
    run(with_key(enseal())
        .env("SOPS_DECRYPTION_ORDER", "pgp,pgp")
        .arg("decrypt")
        .arg(fixture("yaml-basic.enc.yaml")))
    .code_in(&[112]);
}

#[test]
fn decryption_order_flag_and_env_are_accepted() {
    let want = golden("yaml-basic.dec.yaml");
    let out = run(with_key(enseal())
        .args(["decrypt", "--decryption-order", "kms,pgp,age"])
        .arg(fixture("yaml-basic.enc.yaml")))
    .ok();
    assert_bytes("flag", &want, out.stdout.as_slice());
    let out = run(with_key(enseal())
        .env("SOPS_DECRYPTION_ORDER", "hc_vault,age")
        .arg("decrypt")
        .arg(fixture("yaml-basic.enc.yaml")))
    .ok();
    assert_bytes("env", &want, out.stdout.as_slice());
}

// ---------------------------------------------------------------------------
// Started as `sops`: sops' own error text
// ---------------------------------------------------------------------------

/// Installed as `sops` (a link named `sops`), errors that sops also reports
/// are printed in sops' words — no file name in front, no hint off a
/// terminal — so scripts and test suites that compare stderr keep working.
/// Started as `enseal`, the same error names the file and gives a hint.
#[test]
fn started_as_sops_errors_are_sops_text() {
    let Some(sops) = require_sops() else { return };
    let sb = Sandbox::new();
    let link = sb.root().join("bin").join("sops");
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(enseal_bin(), &link).unwrap();
    sb.write(
        ".sops.yaml",
        "creation_rules:\n    - path_regex: no_groups.yaml\n    - path_regex: zero_groups.yaml\n      key_groups: []\n    - path_regex: empty_group.yaml\n      key_groups:\n        - {}\n",
    );
    for name in ["no_groups.yaml", "zero_groups.yaml", "empty_group.yaml"] {
        let file = sb.write(name, "a: secret\n");
        let reference = run(sb.sops(&sops).args(["encrypt", "-i"]).arg(&file));
        let ours = run(scrubbed(&link, &sb.home(), &sb.work())
            .args(["encrypt", "-i"])
            .arg(&file));
        assert_eq!(ours.code, reference.code, "{name}: {}", ours.err());
        assert_eq!(ours.err(), reference.err(), "{name}");
        assert_eq!(
            ours.err(),
            "Could not generate data key: [empty key group provided]\n"
        );
        let as_enseal = run(sb.enseal().args(["encrypt", "-i"]).arg(&file));
        assert!(
            as_enseal
                .err()
                .starts_with(&format!("{}: Could not generate", file.display()))
                || as_enseal
                    .err()
                    .starts_with(&format!("{name}: Could not generate")),
            "{}",
            as_enseal.err()
        );
        assert!(as_enseal.err().contains("\nhint: "), "{}", as_enseal.err());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "a: secret\n");
    }
}

// ---------------------------------------------------------------------------
// --extract: the cases where sops' output is not the file's data (issue #16)
// and the keys that exist where a path fails (issue #18)
// ---------------------------------------------------------------------------

/// `decrypt --extract PATH FIXTURE` with test key 1.
fn extract(path: &str, fixture_name: &str) -> Out {
    run(with_key(enseal())
        .args(["decrypt", "--extract", path])
        .arg(fixture(fixture_name)))
}

/// The error line (the file name in front, sops' text after it) and the
/// hint line of a refused `--extract`; nothing on stdout, exit 1 as sops
/// for every `error truncating tree` failure.
fn refused(out: &Out) -> (String, String) {
    assert_eq!(out.code, Some(1), "exit code; stderr:\n{}", out.err());
    assert!(out.stdout.is_empty(), "stdout: {:?}", out.out());
    let err = out.err();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "one error line and one hint line:\n{err}");
    let hint = lines[1]
        .strip_prefix("hint: ")
        .unwrap_or_else(|| panic!("no hint line:\n{err}"));
    (lines[0].to_string(), hint.to_string())
}

/// sops 3.11.0 and 3.13.2 answer an index on a mapping with their internal
/// entry record (`key: x` / `value: 1` in YAML, `{"Key": …, "Value": …}` in
/// JSON, `"Value":null` for a whole INI section, a comment's text as a
/// value, exit 4 for dotenv): not the file's data. enseal refuses, naming
/// the keys to use instead.
#[test]
fn extract_index_on_a_mapping_is_refused_with_its_keys() {
    for (fixture_name, path, at, keys) in [
        (
            "yaml-basic.enc.yaml",
            r#"["app"]["database"][0]"#,
            r#"["app"]["database"]"#,
            r#"["host"], ["port"], ["password"], ["single_quoted"]; use a key, e.g. ["app"]["database"]["host"]"#,
        ),
        (
            "yaml-basic.enc.yaml",
            "[0]",
            "the top level",
            r#"["app"], ["token_unencrypted"], ["nested_unencrypted"]; use a key, e.g. ["app"]"#,
        ),
        (
            "json-nested.enc.json",
            r#"["nested"][1]"#,
            r#"["nested"]"#,
            r#"["deep"], ["empty_object"], ["empty_array"]; use a key, e.g. ["nested"]["deep"]"#,
        ),
        (
            "ini-sections.enc.ini",
            "[0]",
            "the top level",
            "[\"DEFAULT\"]",
        ),
        (
            "dotenv-basic.enc.env",
            "[0]",
            "the top level",
            "[\"DB_HOST\"]",
        ),
    ] {
        let (error, hint) = refused(&extract(path, fixture_name));
        let index = path.rsplit('[').next().unwrap();
        assert!(
            error.ends_with(&format!(
                "error truncating tree: component [{index} is a list index, but the value at {at} is a mapping"
            )),
            "{fixture_name} {path}: {error}"
        );
        assert!(
            hint.starts_with(&format!("the keys at {at} are ")) && hint.contains(keys),
            "{fixture_name} {path}: {hint}"
        );
    }
}

/// Comments count as list items for the index, as in sops (so every other
/// index selects the same value as sops), but an index that lands on a
/// comment is refused: sops prints the comment's text as if it were a value
/// (`value: ' the primary'`; 3.13.2 adds `inline: false`), enseal used to
/// print `null`, which is neither. Nothing of the comment is shown.
#[test]
fn extract_index_on_a_list_comment_is_refused() {
    let ports = r#"the list at ["ports"] has 4 items, [0] to [3]; comments count as items, as in sops: its values are at [0], [2] to [3]"#;
    let servers = r#"the list at ["servers"] has 4 items, [0] to [3]; comments count as items, as in sops: its values are at [1], [3]"#;
    for (path, at, index, want_hint) in [
        (r#"["ports"][1]"#, r#"["ports"]"#, 1, ports),
        (r#"["servers"][0]"#, r#"["servers"]"#, 0, servers),
        (r#"["servers"][2]["name"]"#, r#"["servers"]"#, 2, servers),
    ] {
        let out = extract(path, "yaml-lists.enc.yaml");
        let (error, hint) = refused(&out);
        assert!(
            error.ends_with(&format!(
                "error truncating tree: component [{index}] is a comment in the list at {at}, not a value"
            )),
            "{path}: {error}"
        );
        assert_eq!(hint, want_hint, "{path}");
        for text in ["primary", "secondary", "between scalar"] {
            assert!(!out.err().contains(text), "{path}: comment text shown");
        }
    }
    // Past the end: sops' message, with the same hint.
    let (error, hint) = refused(&extract(r#"["ports"][4]"#, "yaml-lists.enc.yaml"));
    assert!(
        error.ends_with("error truncating tree: component [4] accesses out of bounds"),
        "{error}"
    );
    assert_eq!(hint, ports);
    // The values next to the comments are the reference's (extract goldens).
    let out = extract(r#"["ports"][2]"#, "yaml-lists.enc.yaml").ok();
    assert_eq!(out.stdout, golden("extract/yaml-list-after-comment.out"));
}

/// `--extract '["data"]'` on a binary file prints the file's plaintext, as
/// sops does (it used to be refused); other paths fail as in sops.
#[test]
fn extract_data_of_a_binary_file_is_its_plaintext() {
    for (enc, dec) in [
        ("binary-blob.enc.bin", "binary-blob.dec.bin"),
        ("binary-blob-2keys.enc.bin", "binary-blob-2keys.dec.bin"),
    ] {
        let out = extract(r#"["data"]"#, enc).ok();
        assert_bytes(enc, &golden(dec), &out.stdout);
    }
    let (error, hint) = refused(&extract(r#"["data"][0]"#, "binary-blob.enc.bin"));
    assert!(
        error.ends_with(
            "error truncating tree: component [0] is integer, but tree part is not a slice"
        ),
        "{error}"
    );
    assert_eq!(
        hint,
        r#"the value at ["data"] is a string, so the path must end there"#
    );
    let (error, hint) = refused(&extract(r#"["nope"]"#, "binary-blob.enc.bin"));
    assert!(
        error.ends_with("error truncating tree: component ['nope'] not found"),
        "{error}"
    );
    assert_eq!(
        hint,
        r#"the keys at the top level are ["data"]; use a key, e.g. ["data"]"#
    );
}

/// A missing key keeps sops' message (`component ['nope'] not found`) and
/// the hint names the keys that exist there (never a value).
#[test]
fn extract_missing_key_names_the_keys_that_exist() {
    let out = extract(r#"["app"]["database"]["nope"]"#, "yaml-basic.enc.yaml");
    let (error, hint) = refused(&out);
    assert!(
        error.ends_with("error truncating tree: component ['nope'] not found"),
        "{error}"
    );
    assert_eq!(
        hint,
        r#"the keys at ["app"]["database"] are ["host"], ["port"], ["password"], ["single_quoted"]; use a key, e.g. ["app"]["database"]["host"]"#
    );
    for value in ["db.internal", "5432", "w0rd", "it's"] {
        assert!(
            !out.err().contains(value),
            "a value is shown: {}",
            out.err()
        );
    }
}

/// Where enseal matches the reference, it matches it exactly: exit code and
/// stdout, and for the errors sops also reports, sops' text (started as
/// `sops`, stderr is sops' own; started as `enseal`, the same line follows
/// the file name, and a hint line follows).
#[test]
fn extract_agrees_with_the_reference() {
    let Some(sops) = require_sops() else { return };
    let sb = Sandbox::new();
    let link = sb.root().join("bin").join("sops");
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(enseal_bin(), &link).unwrap();
    let cases: [(&str, &str, &[&str]); 17] = [
        ("binary-blob.enc.bin", r#"["data"]"#, &[]),
        ("binary-blob.enc.bin", r#"["data"][0]"#, &[]),
        ("binary-blob.enc.bin", r#"["nope"]"#, &[]),
        ("yaml-lists.enc.yaml", r#"["ports"][2]"#, &[]),
        ("yaml-lists.enc.yaml", r#"["ports"][4]"#, &[]),
        ("yaml-lists.enc.yaml", r#"["servers"][3]["ip"]"#, &[]),
        ("yaml-lists.enc.yaml", r#"["mixed"][4]"#, &[]),
        ("yaml-lists.enc.yaml", r#"["ports"]"#, &[]),
        ("yaml-basic.enc.yaml", r#"["app"]["database"]["nope"]"#, &[]),
        ("yaml-basic.enc.yaml", r#"["nope"]"#, &[]),
        ("yaml-basic.enc.yaml", r#"["app"]["replicas"][0]"#, &[]),
        ("json-nested.enc.json", r#"["nested"]["nope"]"#, &[]),
        // A value the output format cannot write: sops' `Error dumping
        // tree` (exit 4); a mapping: `Error dumping file`.
        (
            "yaml-basic.enc.yaml",
            r#"["app"]["replicas"]"#,
            &["--output-type", "binary"],
        ),
        (
            "yaml-basic.enc.yaml",
            r#"["app"]["replicas"]"#,
            &["--output-type", "dotenv"],
        ),
        (
            "yaml-basic.enc.yaml",
            r#"["app"]["database"]"#,
            &["--output-type", "binary"],
        ),
        (
            "yaml-basic.enc.yaml",
            r#"["app"]["replicas"]"#,
            &["--output-type", "json"],
        ),
        (
            "yaml-basic.enc.yaml",
            r#"["app"]["flow_list"]"#,
            &["--output-type", "ini"],
        ),
    ];
    let mut failures = Vec::new();
    for (fixture_name, path, extra) in cases {
        let label = format!("{fixture_name} {path} {extra:?}");
        let r = catch(&label, || {
            let file = fixture(fixture_name);
            let reference = run(sb
                .sops(&sops)
                .env("SOPS_AGE_KEY_FILE", key_file(1))
                .args(["decrypt", "--extract", path])
                .args(extra)
                .arg(&file));
            let as_sops = run(scrubbed(&link, &sb.home(), &sb.work())
                .env("SOPS_AGE_KEY_FILE", key_file(1))
                .args(["decrypt", "--extract", path])
                .args(extra)
                .arg(&file));
            let ours = run(with_key(enseal())
                .args(["decrypt", "--extract", path])
                .args(extra)
                .arg(&file));
            for (who, out) in [("enseal", &ours), ("enseal as sops", &as_sops)] {
                if out.code != reference.code {
                    return Err(format!(
                        "{who}: exit {:?}, reference {:?}: {}",
                        out.code,
                        reference.code,
                        out.err()
                    ));
                }
                diff_bytes(&format!("{who} stdout"), &reference.stdout, &out.stdout)?;
            }
            if reference.code != Some(0) {
                if as_sops.err() != reference.err() {
                    return Err(format!(
                        "started as sops, stderr {:?}, reference {:?}",
                        as_sops.err(),
                        reference.err()
                    ));
                }
                let theirs = reference.err();
                let ours_err = ours.err();
                let Some((_file, text)) = ours_err.split_once(": ") else {
                    return Err(format!("enseal: no file name: {ours_err:?}"));
                };
                let text = text.split("\nhint: ").next().unwrap_or_default();
                if text.trim_end() != theirs.trim_end() {
                    return Err(format!("enseal: {ours_err:?}, reference {theirs:?}"));
                }
                if theirs.starts_with("error truncating tree") && !ours_err.contains("\nhint: ") {
                    return Err(format!("enseal: no hint: {}", ours.err()));
                }
            }
            Ok(())
        });
        if let Err(e) = r {
            failures.push(e);
        }
    }
    report("extract against the reference", cases.len(), failures);
}

/// A link named `sops` to the enseal binary, in the sandbox.
fn sops_link(sb: &Sandbox) -> std::path::PathBuf {
    let link = sb.root().join("bin").join("sops");
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(enseal_bin(), &link).unwrap();
    link
}

#[test]
fn version_reads_as_a_sops_version_when_started_as_sops() {
    let sb = Sandbox::new();
    let link = sops_link(&sb);
    for flag in ["--version", "-v"] {
        let out = run(scrubbed(&link, &sb.home(), &sb.work()).arg(flag));
        assert_eq!(out.code, Some(0), "{}", out.err());
        let first = out.out().lines().next().unwrap_or_default().to_string();
        // What scripts do with `sops --version`: the second word is x.y.z.
        let mut words = first.split_whitespace();
        assert_eq!(words.next(), Some("sops"), "{first}");
        let version = words.next().unwrap_or_default();
        assert_eq!(
            version
                .split('.')
                .filter(|p| p.parse::<u32>().is_ok())
                .count(),
            3,
            "{first}"
        );
        assert!(first.contains("(enseal "), "{first}");
    }
    let out = run(sb.enseal().arg("--version"));
    assert_eq!(out.code, Some(0));
    assert!(out.out().starts_with("enseal "), "{}", out.out());
    assert!(out.out().contains("sops 3."), "{}", out.out());
}

#[test]
fn check_for_updates_says_enseal_never_looks() {
    let sb = Sandbox::new();
    let out = run(sb.enseal().args(["--version", "--check-for-updates"]));
    assert_eq!(out.code, Some(0), "{}", out.err());
    assert!(out.out().starts_with("enseal "), "{}", out.out());
    assert!(
        out.err().contains("never checks the network"),
        "{}",
        out.err()
    );
}

#[test]
fn a_misspelled_command_gets_did_you_mean_and_no_new_file() {
    let sb = Sandbox::new();
    // A catch-all rule: sops would open an editor on a new file `decrpyt`.
    sb.write(
        ".sops.yaml",
        format!("creation_rules:\n  - age: {}\n", recipient(1)),
    );
    for (typo, meant) in [
        ("decrpyt", "decrypt"),
        ("keyservise", "keyservice"),
        ("encrpt", "encrypt"),
    ] {
        let out = run(sb.enseal().args([typo, "f.yaml"]));
        assert_eq!(out.code, Some(1), "{typo}: {}", out.err());
        assert!(
            out.err().contains(&format!("did you mean `{meant}`")),
            "{}",
            out.err()
        );
        assert!(!sb.path(typo).exists(), "{typo} was created");
    }
    // An existing file of that name is still edited/decrypted as sops does.
    let out = run(sb.enseal().arg("decrpyt"));
    assert!(out.err().contains("did you mean"), "{}", out.err());
    sb.write("decrpyt", "x");
    let out = run(sb.enseal().args(["-d", "decrpyt"]));
    assert!(!out.err().contains("did you mean"), "{}", out.err());
}

#[test]
fn enseal_alone_prints_short_usage_and_h_prints_help() {
    let sb = Sandbox::new();
    let out = run(&mut sb.enseal());
    assert_eq!(out.code, Some(100));
    assert!(out.err().contains("enseal init"), "{}", out.err());
    assert!(out.err().contains("enseal --help"), "{}", out.err());
    // Started as sops: sops' own message.
    let link = sops_link(&sb);
    let out = run(&mut scrubbed(&link, &sb.home(), &sb.work()));
    assert_eq!(out.code, Some(100));
    assert_eq!(out.err(), "Error: no file specified\n");
    let out = run(sb.enseal().arg("h"));
    assert_eq!(out.code, Some(0));
    assert!(out.out().contains("Usage:"), "{}", out.out());
}

#[test]
fn started_as_sops_warnings_sops_does_not_give_stay_off_stderr() {
    let sb = Sandbox::new();
    let link = sops_link(&sb);
    // `reencryption_rule` is not a sops key (sops' own functional tests
    // config has it): sops ignores it silently.
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - age: {}\ndestination_rules:\n  - vault_path: x/\n    reencryption_rule:\n      age: x\n",
            recipient(1)
        ),
    );
    let file = sb.write("a.yaml", "k: v\n");
    let out = run(scrubbed(&link, &sb.home(), &sb.work())
        .args(["encrypt"])
        .arg(&file));
    assert_eq!(out.code, Some(0), "{}", out.err());
    assert_eq!(out.err(), "", "as sops, stderr must stay sops'");
    let out = run(sb.enseal().args(["encrypt"]).arg(&file));
    assert_eq!(out.code, Some(0), "{}", out.err());
    assert!(
        out.err()
            .contains("unknown key destination_rules[0].reencryption_rule"),
        "{}",
        out.err()
    );
}

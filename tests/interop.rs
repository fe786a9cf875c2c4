//! Interoperability with the reference sops 3.11.0, in both directions, for
//! every format (YAML, JSON, dotenv, INI, binary) and every case of
//! `testdata/reference/cases.tsv` (one and two recipients, every
//! partial-encryption option, `--mac-only-encrypted`, comment regexes in
//! legacy mode).
//!
//! * `fixtures_*`: decrypt the committed reference fixtures and compare with
//!   their `.dec` goldens (no reference binary needed).
//! * `ref_to_enseal_*`: the reference encrypts now, enseal decrypts; output
//!   byte-identical to the reference's own `sops decrypt`.
//! * `enseal_to_ref_*`: enseal encrypts, the reference decrypts (verifying the
//!   MAC); output equal to the reference's own encrypt+decrypt round trip, and
//!   enseal decrypts its own file to the same bytes.
//! * `encrypted_shape_*`: enseal's encrypted file equals the reference's
//!   encrypted file once ciphertexts, age armor, timestamp and version are
//!   normalised (same values encrypted, same layout, same metadata).
//! * tamper tests: flipped ciphertext byte → exit 25 (or 51), missing MAC →
//!   51, edited clear value → 51 (0 with `--ignore-mac`).
//!
//! Tests needing the reference call `require_sops`, which fails in CI when it
//! is missing and prints a SKIPPED note locally.

mod common;

use common::*;
use std::path::Path;

// ---------------------------------------------------------------------------
// Committed fixtures → enseal (no reference needed)
// ---------------------------------------------------------------------------

fn check_fixture(case: &Case) -> Result<(), String> {
    let want = std::fs::read(case.dec_fixture()).map_err(|e| format!("read golden: {e}"))?;
    let sb = Sandbox::new();
    let enc = case.enc_fixture();

    let out = run(sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .arg("decrypt")
        .arg(&enc));
    if out.code != Some(0) {
        return Err(format!(
            "`enseal decrypt` exit {:?}: {}",
            out.code,
            out.err()
        ));
    }
    diff_bytes("enseal decrypt (key 1)", &want, &out.stdout)?;

    // Legacy mode.
    let out = run(sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .arg("-d")
        .arg(&enc));
    if out.code != Some(0) {
        return Err(format!("`enseal -d` exit {:?}: {}", out.code, out.err()));
    }
    diff_bytes("enseal -d (key 1)", &want, &out.stdout)?;

    if case.keys == 2 {
        // Second recipient alone, key given as text in SOPS_AGE_KEY.
        let out = run(sb
            .enseal()
            .env("SOPS_AGE_KEY", secret_key(2))
            .arg("decrypt")
            .arg(&enc));
        if out.code != Some(0) {
            return Err(format!(
                "`enseal decrypt` with key 2 only: exit {:?}: {}",
                out.code,
                out.err()
            ));
        }
        diff_bytes(
            "enseal decrypt (key 2 via SOPS_AGE_KEY)",
            &want,
            &out.stdout,
        )?;
    }
    Ok(())
}

fn fixtures(format: &str) {
    let cases = cases_of(format);
    assert!(!cases.is_empty(), "no {format} cases");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| catch(&c.name, || check_fixture(c)).err())
        .collect();
    report(&format!("fixtures ({format})"), cases.len(), failures);
}

#[test]
fn fixtures_yaml() {
    fixtures("yaml");
}
#[test]
fn fixtures_json() {
    fixtures("json");
}
#[test]
fn fixtures_dotenv() {
    fixtures("dotenv");
}
#[test]
fn fixtures_ini() {
    fixtures("ini");
}
#[test]
fn fixtures_binary() {
    fixtures("binary");
}

/// Every fixture named in cases.tsv exists (a regenerated or hand-edited
/// table that lost files should fail loudly).
#[test]
fn fixtures_complete() {
    for c in cases() {
        assert!(
            c.input_path().is_file(),
            "missing {}",
            c.input_path().display()
        );
        assert!(
            c.enc_fixture().is_file(),
            "missing {}",
            c.enc_fixture().display()
        );
        assert!(
            c.dec_fixture().is_file(),
            "missing {}",
            c.dec_fixture().display()
        );
    }
    for f in ["yaml", "json", "dotenv", "ini", "binary"] {
        assert!(!cases_of(f).is_empty(), "no {f} case in cases.tsv");
    }
}

/// The README demo: the demo key decrypts the demo file.
#[test]
fn demo_file_decrypts() {
    let out = run(enseal()
        .env("SOPS_AGE_KEY_FILE", demo_key_file())
        .arg("decrypt")
        .arg(testdata("demo/secrets.enc.yaml")))
    .ok();
    let text = out.out();
    assert!(
        text.contains("password: correct-horse-battery-staple"),
        "unexpected demo output:\n{text}"
    );
}

// ---------------------------------------------------------------------------
// Live: reference encrypts → enseal decrypts
// ---------------------------------------------------------------------------

/// Encrypt `case`'s input with `bin` (the reference or enseal) in `sb`, with
/// the case's own command line, the input copied under its own file name.
fn encrypt_with(
    sb: &Sandbox,
    mut cmd: std::process::Command,
    case: &Case,
) -> Result<Vec<u8>, String> {
    let name = case.input_file_name();
    let input = sb.copy(&case.input_path(), &name);
    let argv = case.argv(Path::new(&name));
    let out = run(cmd.env("SOPS_AGE_KEY_FILE", key_file(1)).args(&argv));
    let _ = std::fs::remove_file(input);
    if out.code != Some(0) {
        return Err(format!(
            "encrypt failed: {}\nexit {:?}\n{}",
            out.cmdline,
            out.code,
            out.err()
        ));
    }
    Ok(out.stdout)
}

/// Decrypt the bytes `enc` (written to `file_name` in `sb`) with `cmd`.
fn decrypt_with(
    sb: &Sandbox,
    mut cmd: std::process::Command,
    enc: &[u8],
    file_name: &str,
    who: &str,
) -> Result<Vec<u8>, String> {
    let p = sb.write(file_name, enc);
    let out = run(cmd
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .arg("decrypt")
        .arg(&p));
    if out.code != Some(0) {
        return Err(format!(
            "{who} decrypt failed: {}\nexit {:?}\n{}\n--- encrypted input ---\n{}",
            out.cmdline,
            out.code,
            out.err(),
            String::from_utf8_lossy(enc)
        ));
    }
    Ok(out.stdout)
}

fn enc_name(case: &Case) -> String {
    format!("{}.enc.{}", case.name, case.ext())
}

fn ref_to_enseal_case(sops: &Path, case: &Case) -> Result<(), String> {
    let sb = Sandbox::new();
    let enc = encrypt_with(&sb, sb.sops(sops), case)?;
    let want = decrypt_with(&sb, sb.sops(sops), &enc, &enc_name(case), "reference")?;
    let got = decrypt_with(&sb, sb.enseal(), &enc, &enc_name(case), "enseal")?;
    diff_bytes("enseal decrypt of a reference-encrypted file", &want, &got)
}

fn ref_to_enseal(format: &str) {
    let Some(sops) = require_sops() else {
        return;
    };
    let cases = cases_of(format);
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| catch(&c.name, || ref_to_enseal_case(&sops, c)).err())
        .collect();
    report(
        &format!("reference → enseal ({format})"),
        cases.len(),
        failures,
    );
}

#[test]
fn ref_to_enseal_yaml() {
    ref_to_enseal("yaml");
}
#[test]
fn ref_to_enseal_json() {
    ref_to_enseal("json");
}
#[test]
fn ref_to_enseal_dotenv() {
    ref_to_enseal("dotenv");
}
#[test]
fn ref_to_enseal_ini() {
    ref_to_enseal("ini");
}
#[test]
fn ref_to_enseal_binary() {
    ref_to_enseal("binary");
}

// ---------------------------------------------------------------------------
// Live: enseal encrypts → reference decrypts
// ---------------------------------------------------------------------------

fn enseal_to_ref_case(sops: &Path, case: &Case) -> Result<(), String> {
    let sb = Sandbox::new();
    // The reference's own round trip is the expected plaintext.
    let ref_enc = encrypt_with(&sb, sb.sops(sops), case)?;
    let want = decrypt_with(&sb, sb.sops(sops), &ref_enc, &enc_name(case), "reference")?;

    let enc = encrypt_with(&sb, sb.enseal(), case)?;
    let got = decrypt_with(&sb, sb.sops(sops), &enc, &enc_name(case), "reference")?;
    diff_bytes("reference decrypt of an enseal-encrypted file", &want, &got)?;

    if case.keys == 2 {
        // The second recipient alone must also work with the reference.
        let p = sb.write(&enc_name(case), &enc);
        let out = run(sb
            .sops(sops)
            .env("SOPS_AGE_KEY", secret_key(2))
            .arg("decrypt")
            .arg(&p));
        if out.code != Some(0) {
            return Err(format!(
                "reference cannot decrypt enseal's file with key 2: {}",
                out.err()
            ));
        }
        diff_bytes("reference decrypt with key 2", &want, &out.stdout)?;
    }

    let own = decrypt_with(&sb, sb.enseal(), &enc, &enc_name(case), "enseal")?;
    diff_bytes("enseal decrypt of its own file", &want, &own)
}

fn enseal_to_ref(format: &str) {
    let Some(sops) = require_sops() else {
        return;
    };
    let cases = cases_of(format);
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| catch(&c.name, || enseal_to_ref_case(&sops, c)).err())
        .collect();
    report(
        &format!("enseal → reference ({format})"),
        cases.len(),
        failures,
    );
}

#[test]
fn enseal_to_ref_yaml() {
    enseal_to_ref("yaml");
}
#[test]
fn enseal_to_ref_json() {
    enseal_to_ref("json");
}
#[test]
fn enseal_to_ref_dotenv() {
    enseal_to_ref("dotenv");
}
#[test]
fn enseal_to_ref_ini() {
    enseal_to_ref("ini");
}
#[test]
fn enseal_to_ref_binary() {
    enseal_to_ref("binary");
}

/// `--mac-only-encrypted` in the global position before the `encrypt`
/// subcommand (the contract; sops 3.12.2+ behaves so, the 3.11.0 reference
/// only honours it in legacy mode): the flag is recorded and the reference
/// decrypts the file.
#[test]
fn mac_only_encrypted_global_flag_with_subcommand() {
    let Some(sops) = require_sops() else {
        return;
    };
    let sb = Sandbox::new();
    let input = sb.copy(&reference("plain/basic.yaml"), "basic.yaml");
    let out = run(sb
        .enseal()
        .args(["--mac-only-encrypted", "encrypt", "--age"])
        .arg(recipient(1))
        .arg(&input))
    .ok();
    let text = out.out();
    assert!(
        text.contains("mac_only_encrypted: true"),
        "metadata lacks mac_only_encrypted: true:\n{text}"
    );
    let got = decrypt_with(&sb, sb.sops(&sops), &out.stdout, "x.enc.yaml", "reference")
        .unwrap_or_else(|e| panic!("{e}"));
    let want = std::fs::read(reference("yaml-basic-mac-only.dec.yaml")).expect("golden");
    if let Err(e) = diff_bytes("reference decrypt", &want, &got) {
        panic!("{e}");
    }
}

// ---------------------------------------------------------------------------
// Encrypted output shape: enseal's encrypted bytes == reference's, normalised
// ---------------------------------------------------------------------------

fn shape_case(sops: &Path, case: &Case) -> Result<(), String> {
    let sb = Sandbox::new();
    let ref_enc = encrypt_with(&sb, sb.sops(sops), case)?;
    let enc = encrypt_with(&sb, sb.enseal(), case)?;
    let want = normalize_encrypted(&String::from_utf8_lossy(&ref_enc));
    let got = normalize_encrypted(&String::from_utf8_lossy(&enc));
    diff_bytes(
        "encrypted file (normalised: ENC values, age armor, lastmodified, version)",
        want.as_bytes(),
        got.as_bytes(),
    )
}

fn shape(format: &str) {
    let Some(sops) = require_sops() else {
        return;
    };
    let cases = cases_of(format);
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| catch(&c.name, || shape_case(&sops, c)).err())
        .collect();
    report(
        &format!("encrypted shape ({format})"),
        cases.len(),
        failures,
    );
}

#[test]
fn encrypted_shape_yaml() {
    shape("yaml");
}
#[test]
fn encrypted_shape_json() {
    shape("json");
}
#[test]
fn encrypted_shape_dotenv() {
    shape("dotenv");
}
#[test]
fn encrypted_shape_ini() {
    shape("ini");
}
#[test]
fn encrypted_shape_binary() {
    shape("binary");
}

#[test]
fn normalize_makes_two_reference_encryptions_equal() {
    // Self-check of the normaliser on two committed fixtures of the same input.
    let a = std::fs::read_to_string(reference("yaml-k8s.enc.yaml")).expect("fixture");
    let b = std::fs::read_to_string(reference("yaml-lists.enc.yaml")).expect("fixture");
    let na = normalize_encrypted(&a);
    assert!(!na.contains("AES256_GCM"), "{na}");
    assert!(na.contains("lastmodified: \"TIME\""), "{na}");
    assert!(na.contains("version: X.Y.Z"), "{na}");
    assert_ne!(na, normalize_encrypted(&b));
    for (x, y) in [
        ("dotenv-basic.enc.env", "dotenv-basic-2keys.enc.env"),
        ("json-nested.enc.json", "json-nested-2keys.enc.json"),
    ] {
        let x = normalize_encrypted(&std::fs::read_to_string(reference(x)).expect("fixture"));
        let y = normalize_encrypted(&std::fs::read_to_string(reference(y)).expect("fixture"));
        // Same input, different recipients: only the recipient lines differ.
        let dx: Vec<&str> = x.lines().filter(|l| !l.contains("age1")).collect();
        let dy: Vec<&str> = y.lines().filter(|l| !l.contains("age1")).collect();
        assert!(
            dy.len() >= dx.len(),
            "normalised 2-key file shorter than 1-key file"
        );
    }
}

// ---------------------------------------------------------------------------
// Tampering (committed fixtures; the reference, when present, must agree)
// ---------------------------------------------------------------------------

/// Flip the first base64 character of the `data:` field of the first ENC value
/// that follows `anchor`.
fn flip_data(text: &str, anchor: &str) -> String {
    let start = text
        .find(anchor)
        .unwrap_or_else(|| panic!("anchor {anchor:?} not found"));
    let rel = text[start..]
        .find("ENC[AES256_GCM,data:")
        .expect("ENC value after anchor");
    let pos = start + rel + "ENC[AES256_GCM,data:".len();
    let c = text.as_bytes()[pos];
    let replacement = if c == b'A' { "B" } else { "A" };
    let mut s = text.to_string();
    s.replace_range(pos..pos + 1, replacement);
    s
}

/// Decrypt `text` (written as `name`) with enseal and, when available, the
/// reference; returns enseal's result and checks the reference's exit code is
/// in `codes` too.
fn decrypt_both(text: &str, name: &str, extra: &[&str], codes: &[i32]) -> Out {
    let sb = Sandbox::new();
    let p = sb.write(name, text);
    let out = run(sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .arg("decrypt")
        .args(extra)
        .arg(&p));
    if let Some(sops) = sops_ref() {
        let r = run(sb
            .sops(&sops)
            .env("SOPS_AGE_KEY_FILE", key_file(1))
            .arg("decrypt")
            .args(extra)
            .arg(&p));
        assert!(
            r.code.is_some_and(|c| codes.contains(&c)),
            "reference itself: want exit in {codes:?}, got {:?}: {}",
            r.code,
            r.err()
        );
    }
    out
}

#[test]
fn tamper_ciphertext_yaml() {
    let text = std::fs::read_to_string(reference("yaml-basic.enc.yaml")).expect("fixture");
    let bad = flip_data(&text, "    password: ");
    assert_ne!(bad, text);
    decrypt_both(&bad, "t.enc.yaml", &[], &[25, 51]).code_in(&[25, 51]);
}

#[test]
fn tamper_ciphertext_json() {
    let text = std::fs::read_to_string(reference("json-nested.enc.json")).expect("fixture");
    let bad = flip_data(&text, "\"pi\": ");
    decrypt_both(&bad, "t.enc.json", &[], &[25, 51]).code_in(&[25, 51]);
}

#[test]
fn tamper_ciphertext_dotenv() {
    let text = std::fs::read_to_string(reference("dotenv-basic.enc.env")).expect("fixture");
    let bad = flip_data(&text, "DB_PASSWORD=");
    decrypt_both(&bad, "t.enc.env", &[], &[25, 51]).code_in(&[25, 51]);
}

#[test]
fn tamper_ciphertext_ini() {
    let text = std::fs::read_to_string(reference("ini-sections.enc.ini")).expect("fixture");
    let bad = flip_data(&text, "password");
    decrypt_both(&bad, "t.enc.ini", &[], &[25, 51]).code_in(&[25, 51]);
}

#[test]
fn tamper_ciphertext_binary() {
    let text = std::fs::read_to_string(reference("binary-blob.enc.bin")).expect("fixture");
    let bad = flip_data(&text, "\"data\": ");
    decrypt_both(&bad, "t.enc.bin", &[], &[25, 51]).code_in(&[25, 51]);
}

#[test]
fn tamper_remove_mac_yaml() {
    let text = std::fs::read_to_string(reference("yaml-basic.enc.yaml")).expect("fixture");
    let bad: String = text
        .lines()
        .filter(|l| !l.starts_with("    mac: "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(bad, text, "no mac line found");
    let out = decrypt_both(&bad, "t.enc.yaml", &[], &[51]).code_in(&[51]);
    assert!(out.err().contains("MAC"), "message: {}", out.err());
}

#[test]
fn tamper_remove_mac_json() {
    let text = std::fs::read_to_string(reference("json-nested.enc.json")).expect("fixture");
    let bad: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("\"mac\": "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(bad.trim_end(), text.trim_end(), "no mac line found");
    decrypt_both(bad.trim_end(), "t.enc.json", &[], &[51]).code_in(&[51]);
}

#[test]
fn tamper_clear_value_breaks_mac() {
    let text = std::fs::read_to_string(reference("yaml-basic.enc.yaml")).expect("fixture");
    let bad = text.replace(
        "token_unencrypted: visible-in-clear",
        "token_unencrypted: changed-in-clear",
    );
    assert_ne!(bad, text);
    let out = decrypt_both(&bad, "t.enc.yaml", &[], &[51]).code_in(&[51]);
    assert!(out.err().contains("MAC mismatch"), "message: {}", out.err());
    // --ignore-mac skips the check; values are still authenticated by GCM.
    let out = decrypt_both(&bad, "t.enc.yaml", &["--ignore-mac"], &[0]).ok();
    assert!(out.out().contains("changed-in-clear"));
}

#[test]
fn tamper_lastmodified_breaks_mac() {
    let text = std::fs::read_to_string(reference("yaml-basic.enc.yaml")).expect("fixture");
    let re = regex::Regex::new(r#"lastmodified: "(\d{4})-"#).expect("regex");
    let bad = re.replace(&text, "lastmodified: \"1999-").into_owned();
    assert_ne!(bad, text);
    decrypt_both(&bad, "t.enc.yaml", &[], &[51]).code_in(&[51]);
}

#[test]
fn tamper_mac_only_encrypted_allows_clear_edits() {
    // With mac_only_encrypted the MAC covers encrypted values only.
    let text = std::fs::read_to_string(reference("yaml-basic-mac-only.enc.yaml")).expect("fixture");
    let bad = text.replace(
        "token_unencrypted: visible-in-clear",
        "token_unencrypted: changed-in-clear",
    );
    assert_ne!(bad, text);
    let out = decrypt_both(&bad, "t.enc.yaml", &[], &[0]).ok();
    assert!(out.out().contains("changed-in-clear"));
}

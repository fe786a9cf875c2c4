//! Every golden that is said to be the reference's output is re-derived here
//! with the reference sops 3.11.0, and any difference fails the test:
//!
//! * `testdata/{yaml,json,dotenv,ini}/NAME.expected.EXT` must equal the
//!   reference's `sops decrypt (sops encrypt NAME.EXT)`;
//! * `testdata/reference/NAME.enc.EXT` must be files the reference wrote
//!   (`version: 3.11.0`) that it decrypts, MAC verified, to `NAME.dec.EXT`;
//! * `testdata/reference/extract/NAME.out` must equal the reference's
//!   `sops decrypt --extract PATH`.
//!
//! `scripts/regen-goldens` writes all of them. In CI a missing reference is a
//! failure (see `require_sops`).

mod common;

use common::*;
use std::path::{Path, PathBuf};

/// The plaintext inputs of one golden folder, each with its expected output.
fn golden_pairs(dir: &str) -> Vec<(PathBuf, PathBuf)> {
    let dir = testdata(dir);
    let mut pairs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            let (stem, ext) = name.rsplit_once('.')?;
            if stem.ends_with(".expected") || name == "README.md" {
                return None;
            }
            let expected = dir.join(format!("{stem}.expected.{ext}"));
            Some((p, expected))
        })
        .collect();
    pairs.sort();
    pairs
}

/// The reference's `decrypt (encrypt input)`, the input keeping its own name
/// (the reference picks the store from the extension).
fn reference_round_trip(sops: &Path, input: &Path) -> Result<Vec<u8>, String> {
    let sb = Sandbox::new();
    let name = input.file_name().unwrap().to_str().unwrap();
    let local = sb.copy(input, name);
    let enc = run(sb
        .sops(sops)
        .args(["encrypt", "--age", &recipient(1)])
        .arg(&local));
    if enc.code != Some(0) {
        return Err(format!("sops encrypt: exit {:?}: {}", enc.code, enc.err()));
    }
    let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
    let enc_path = sb.write(&format!("enc.{ext}"), &enc.stdout);
    let dec = run(sb
        .sops(sops)
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .arg("decrypt")
        .arg(&enc_path));
    if dec.code != Some(0) {
        return Err(format!("sops decrypt: exit {:?}: {}", dec.code, dec.err()));
    }
    Ok(dec.stdout)
}

#[test]
fn expected_goldens_are_the_references_round_trips() {
    let Some(sops) = require_sops() else { return };
    let mut failures = Vec::new();
    let mut total = 0;
    for dir in ["yaml", "json", "dotenv", "ini"] {
        let pairs = golden_pairs(dir);
        assert!(
            pairs.len() >= 10,
            "testdata/{dir}: only {} pairs",
            pairs.len()
        );
        for (input, expected) in pairs {
            total += 1;
            let label = input
                .strip_prefix(crate_dir())
                .unwrap()
                .display()
                .to_string();
            let r = catch(&label, || {
                let want =
                    std::fs::read(&expected).map_err(|e| format!("{}: {e}", expected.display()))?;
                let got = reference_round_trip(&sops, &input)?;
                diff_bytes("reference decrypt(encrypt(input))", &want, &got)
            });
            if let Err(e) = r {
                failures.push(e);
            }
        }
    }
    assert!(total >= 100, "only {total} golden pairs");
    report(
        "golden pairs re-derived with the reference",
        total,
        failures,
    );
}

#[test]
fn reference_fixtures_decrypt_to_their_goldens_with_the_reference() {
    let Some(sops) = require_sops() else { return };
    let mut failures = Vec::new();
    for case in cases() {
        let r = catch(&case.name, || {
            let enc = std::fs::read_to_string(case.enc_fixture())
                .map_err(|e| format!("{}: {e}", case.enc_fixture().display()))?;
            if !enc.contains("3.11.0") {
                return Err("the fixture does not carry the reference's version 3.11.0".into());
            }
            let want = std::fs::read(case.dec_fixture()).map_err(|e| e.to_string())?;
            let out = run(sops_with_key(&sops).arg("decrypt").arg(case.enc_fixture()));
            if out.code != Some(0) {
                return Err(format!("sops decrypt: exit {:?}: {}", out.code, out.err()));
            }
            diff_bytes("sops decrypt", &want, &out.stdout)
        });
        if let Err(e) = r {
            failures.push(e);
        }
    }
    report("reference fixtures", cases().len(), failures);
}

#[test]
fn extract_goldens_are_the_references_output() {
    let Some(sops) = require_sops() else { return };
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
        let r = catch(name, || {
            let want = std::fs::read(reference(&format!("extract/{name}.out")))
                .map_err(|e| e.to_string())?;
            let out = run(sops_with_key(&sops)
                .args(["decrypt", "--extract", path])
                .arg(case.enc_fixture()));
            if out.code != Some(0) {
                return Err(format!("sops: exit {:?}: {}", out.code, out.err()));
            }
            diff_bytes(&format!("sops --extract '{path}'"), &want, &out.stdout)
        });
        if let Err(e) = r {
            failures.push(e);
        }
    }
    assert!(total > 0, "extracts.tsv is empty");
    report("extract goldens", total, failures);
}

fn sops_with_key(sops: &Path) -> std::process::Command {
    let mut cmd = common::sops(sops);
    cmd.env("SOPS_AGE_KEY_FILE", key_file(1));
    cmd
}

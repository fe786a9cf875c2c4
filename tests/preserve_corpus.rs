//! The `--preserve-format` measurement (`scripts/preserve-corpus`) on the
//! small sample of hand-written, real-world shaped files in
//! `testdata/preserve-corpus`: every file must be accepted, come back byte
//! for byte, and be decrypted by the reference (MAC verified) to the same
//! values as enseal's normal encryption. The full corpus run (real files
//! from the packages of a machine) is the script, not part of CI; see
//! docs/preserve.md.

mod common;

use common::{crate_dir, enseal_bin, require_sops, unavailable};

#[test]
fn the_sample_corpus_is_kept_byte_for_byte_and_the_reference_agrees() {
    let Some(sops) = require_sops() else { return };
    let python = std::process::Command::new("python3")
        .arg("--version")
        .output();
    if !python.is_ok_and(|o| o.status.success()) {
        unavailable("python3 (runs scripts/preserve-corpus)");
        return;
    }
    let out = std::process::Command::new("python3")
        .arg(crate_dir().join("scripts/preserve-corpus"))
        .arg("measure")
        .arg("--corpus")
        .arg(crate_dir().join("testdata/preserve-corpus"))
        .arg("--enseal")
        .arg(enseal_bin())
        .arg("--sops")
        .arg(&sops)
        .args(["--strict", "--failures", "--jobs", "1"])
        .output()
        .expect("runs python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for (format, n) in [("yaml", 4), ("json", 3), ("ini", 3), ("dotenv", 2)] {
        let row = format!("{format:8} {n:6} {n:7} (100.0%) {n:7} (100.0%) {n:7} (100.0%)");
        assert!(stdout.contains(&row), "no `{row}` in\n{stdout}\n{stderr}");
    }
}

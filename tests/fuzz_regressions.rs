//! Inputs the fuzzers found (and hostile seeds kept with them), replayed
//! through the very bodies of the fuzz targets (`fuzz/fuzz_targets/common.rs`).
//!
//! Layout: `testdata/fuzz-regressions/<target>/<name>`, where `<target>` is a
//! fuzz target name (`format_yaml`, `decrypt`, …). A file named
//! `<name>.ignore` next to an input holds the reason it is skipped for now
//! (a known crash in code being worked on); the input is then run only with
//! `--ignored`.

#[path = "../fuzz/fuzz_targets/common.rs"]
mod fuzz_bodies;

use std::path::PathBuf;

fn regressions_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/fuzz-regressions")
}

/// Every saved input: (target, file name, bytes, reason to skip).
fn inputs() -> Vec<(String, String, Vec<u8>, Option<String>)> {
    let mut out = Vec::new();
    for (target, _) in fuzz_bodies::TARGETS {
        let dir = regressions_dir().join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for path in files {
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if name.ends_with(".ignore") || name.ends_with(".md") {
                continue;
            }
            let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let reason =
                std::fs::read_to_string(path.with_file_name(format!("{name}.ignore"))).ok();
            out.push((target.to_string(), name, data, reason));
        }
    }
    out
}

fn replay(ignored: bool) {
    let mut failures = Vec::new();
    let mut ran = 0;
    for (target, name, data, reason) in inputs() {
        if reason.is_some() != ignored {
            continue;
        }
        let body = fuzz_bodies::TARGETS
            .iter()
            .find(|(t, _)| *t == target)
            .map(|(_, f)| *f)
            .expect("known target");
        ran += 1;
        // The fuzz targets recurse as deep as their input nests: give them
        // a stack like the main thread's.
        let result = std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(move || body(&data))
            .expect("spawn")
            .join();
        if result.is_err() {
            failures.push(format!(
                "{target}/{name} panicked{}",
                reason
                    .map(|r| format!(" (known: {})", r.trim()))
                    .unwrap_or_default()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {ran} inputs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{ran} fuzz regression inputs passed");
}

#[test]
fn fuzz_regressions_pass() {
    replay(false);
}

/// Known crashes in code other engineers are changing; run with `--ignored`.
#[test]
#[ignore = "known crashes, see the .ignore files in testdata/fuzz-regressions"]
fn fuzz_regressions_known_crashes() {
    replay(true);
}

#[test]
fn every_target_has_a_regression_directory() {
    for (target, _) in fuzz_bodies::TARGETS {
        assert!(
            regressions_dir().join(target).is_dir(),
            "testdata/fuzz-regressions/{target} missing"
        );
    }
}

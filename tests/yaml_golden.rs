//! Golden tests for the YAML store: for every `testdata/yaml/NAME.yaml`,
//! parse_plain → emit_plain must give exactly `NAME.expected.yaml`, which is
//! what the reference sops 3.11.0 prints for `sops decrypt (sops encrypt NAME.yaml)`.

use enseal::format::{FormatKind, StoreOptions};
use std::path::Path;

#[test]
fn yaml_golden_round_trips() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/yaml");
    let store = FormatKind::Yaml.store(&StoreOptions::default());
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("testdata/yaml")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") && !n.ends_with(".expected.yaml"))
        .collect();
    names.sort();
    assert!(names.len() >= 25, "corpus too small");
    let mut failures = Vec::new();
    for name in &names {
        let input = std::fs::read(dir.join(name)).unwrap();
        let expected_path = dir.join(name.replace(".yaml", ".expected.yaml"));
        let expected = std::fs::read_to_string(&expected_path).unwrap();
        let got = store
            .parse_plain(&input)
            .and_then(|docs| store.emit_plain(&docs))
            .map(|b| String::from_utf8(b).unwrap());
        match got {
            Ok(got) if got == expected => {}
            Ok(got) => failures.push(format!(
                "{name}: output differs\n--- expected\n{expected}--- got\n{got}"
            )),
            Err(e) => failures.push(format!("{name}: error {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        names.len(),
        failures.join("\n")
    );
}

/// Files encrypted by the reference (public test key): reading them and
/// writing them back must reproduce the exact bytes, `sops:` block included.
#[test]
fn yaml_encrypted_layout_round_trips() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/yaml-enc");
    let store = FormatKind::Yaml.store(&StoreOptions::default());
    let mut failures = Vec::new();
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("testdata/yaml-enc") {
        let path = entry.unwrap().path();
        count += 1;
        let input = std::fs::read(&path).unwrap();
        let parsed = store.parse_encrypted(&input).unwrap();
        let meta = parsed.metadata.expect("metadata");
        assert!(meta.get("mac").is_some());
        for doc in &parsed.documents {
            assert!(doc.get("sops").is_none());
        }
        let out = store.emit_encrypted(&parsed.documents, &meta).unwrap();
        if out != input {
            failures.push(format!(
                "{}:\n--- expected\n{}--- got\n{}",
                path.display(),
                String::from_utf8_lossy(&input),
                String::from_utf8_lossy(&out)
            ));
        }
    }
    assert!(count >= 5);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A 100k-leaf document (every section with a comment, inline comments and
/// a list) is written as sops writes it, and writing what was written gives
/// the same bytes. Speed is measured in `scripts/bench`, not here.
#[test]
fn yaml_large_document_round_trips() {
    let mut src = String::new();
    for i in 0..1000 {
        src.push_str(&format!("section{i}:\n    # comment {i}\n"));
        for j in 0..50 {
            src.push_str(&format!("    key{j}: value {i} {j} # inline\n"));
        }
        src.push_str("    list:\n");
        for j in 0..50 {
            src.push_str(&format!("        - {j}.5\n"));
        }
    }
    let store = FormatKind::Yaml.store(&StoreOptions::default());
    let docs = store.parse_plain(src.as_bytes()).unwrap();
    let out = store.emit_plain(&docs).unwrap();
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(text.contains("section999:\n    # comment 999\n"));
    // sops moves a line comment above its entry.
    assert!(text.contains("    # inline\n    key49: value 999 49\n"));
    assert!(text.contains("        - 49.5\n"));
    // Writing is a fixed point (the tree differs only in comments that are
    // no longer inline).
    let again = store.parse_plain(&out).unwrap();
    assert_eq!(store.emit_plain(&again).unwrap(), out);
}

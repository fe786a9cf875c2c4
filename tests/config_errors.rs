//! Regex and config errors are one line (issue #15, item 7): the config
//! file, the rule index and field, a short cause and, for a regular
//! expression, the hint; exit code 1 as sops.

mod common;

use common::*;

/// Runs `encrypt` of a small file under `config`; returns stderr.
fn encrypt_under(config: &str) -> String {
    let sb = Sandbox::new();
    sb.write(".sops.yaml", config);
    let file = sb.write("app.yaml", "user: alice\n");
    let out = run(sb.enseal().arg("encrypt").arg(&file));
    assert_eq!(out.code, Some(1), "{config:?}: {}", out.err());
    out.err()
}

fn assert_one_line(what: &str, err: &str, names: &[&str]) {
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{what}: not one line:\n{err}"
    );
    for name in names {
        assert!(err.contains(name), "{what}: {name:?} not named: {err}");
    }
}

#[test]
fn bad_regexes_in_the_config_are_one_line_with_the_field_and_a_hint() {
    let r = recipient(1);
    for field in [
        "path_regex",
        "encrypted_regex",
        "unencrypted_regex",
        "encrypted_comment_regex",
        "unencrypted_comment_regex",
    ] {
        let config = format!("creation_rules:\n  - {field}: \"([\"\n    age: {r}\n");
        let err = encrypt_under(&config);
        assert_one_line(
            field,
            &err,
            &[
                ".sops.yaml",
                &format!("creation_rules[0].{field}"),
                "unclosed character class",
                "hint: ",
            ],
        );
    }
}

#[test]
fn a_bad_regex_flag_is_one_line() {
    let sb = Sandbox::new();
    let file = sb.write("app.yaml", "user: alice\n");
    let out = run(sb
        .enseal()
        .args(["encrypt", "--age", &recipient(1), "--encrypted-regex", "(["])
        .arg(&file));
    assert_eq!(out.code, Some(1), "{}", out.err());
    assert_one_line(
        "--encrypted-regex",
        &out.err(),
        &["unclosed character class"],
    );
}

#[test]
fn duplicate_keys_in_the_config_are_one_line() {
    let r = recipient(1);
    let err = encrypt_under(&format!(
        "creation_rules:\n  - age: {r}\n    age: {r}\n    path_regex: a\n    path_regex: b\n"
    ));
    assert_one_line(
        "duplicate keys",
        &err,
        &[
            ".sops.yaml",
            "mapping key \"age\" already defined",
            "\"path_regex\"",
        ],
    );
}

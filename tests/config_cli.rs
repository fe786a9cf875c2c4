//! `.sops.yaml` through the command line (config.md, docs/spec/cli.md §4.2, §4.4):
//! discovery and `--config` / `SOPS_CONFIG`, creation-rule selection by
//! path, keys from the config vs. from flags, key groups with a Shamir
//! threshold, encryption rules and `stores:` indents from the config, and
//! interoperability of key-group files with the reference sops.
//!
//! Every test works in its own [`Sandbox`]; the `.sops.yaml` files are
//! written into its `work/` directory (or next to it, for `--config`).

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const PLAIN: &str =
    "password: hunter2\nuser: admin\nnested:\n    password: s3cret\n    port: 5432\n";

/// A third age key, generated with `age-keygen` inside the sandbox.
fn generate_key(sb: &Sandbox, name: &str) -> PathBuf {
    let path = sb.root().join(name);
    let mut cmd = Command::new("age-keygen");
    cmd.arg("-o").arg(&path);
    let out = run(&mut cmd);
    assert_eq!(
        out.code,
        Some(0),
        "age-keygen failed (is it installed?): {}",
        out.err()
    );
    path
}

/// One identity file holding the secret keys of all `keys`.
fn key_bundle(sb: &Sandbox, name: &str, keys: &[&Path]) -> PathBuf {
    let mut text = String::new();
    for key in keys {
        text.push_str(&std::fs::read_to_string(key).expect("read key"));
        text.push('\n');
    }
    let path = sb.root().join(name);
    std::fs::write(&path, text).expect("write key bundle");
    path
}

/// `enseal` in the sandbox with the identities of `key`.
fn enseal_with(sb: &Sandbox, key: &Path) -> Command {
    let mut cmd = sb.enseal();
    cmd.env("SOPS_AGE_KEY_FILE", key);
    cmd
}

/// The age recipients listed in an encrypted YAML file's metadata.
fn recipients_in(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix("- recipient: "))
        .map(str::to_string)
        .collect()
}

/// The three-group, threshold-2 config used by the Shamir tests.
fn shamir_config(r1: &str, r2: &str, r3: &str) -> String {
    format!(
        "creation_rules:\n  - path_regex: \\.yaml$\n    shamir_threshold: 2\n    key_groups:\n      - age:\n          - {r1}\n      - age:\n          - {r2}\n      - age:\n          - {r3}\n"
    )
}

// ---------------------------------------------------------------------------
// Creation rules and keys
// ---------------------------------------------------------------------------

#[test]
fn rule_is_selected_by_path_first_match_wins() {
    let sb = Sandbox::new();
    let (r1, r2) = (recipient(1), recipient(2));
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: ^secrets/.*\\.yaml$\n    age: {r1}\n  - path_regex: \\.yaml$\n    age: {r2}\n"
        ),
    );
    sb.write("secrets/db.yaml", PLAIN);
    sb.write("other.yaml", PLAIN);

    // secrets/db.yaml matches both rules: the first one wins.
    let out = run(sb.enseal().args(["encrypt", "secrets/db.yaml"])).ok();
    assert_eq!(recipients_in(&out.out()), vec![r1.clone()], "{}", out.out());
    // other.yaml only matches the second.
    let out = run(sb.enseal().args(["encrypt", "other.yaml"])).ok();
    assert_eq!(recipients_in(&out.out()), vec![r2.clone()], "{}", out.out());
    // --filename-override decides the rule, not the real path.
    let out = run(sb.enseal().args([
        "encrypt",
        "--filename-override",
        "secrets/x.yaml",
        "other.yaml",
    ]))
    .ok();
    assert_eq!(recipients_in(&out.out()), vec![r1], "{}", out.out());
    // From a subdirectory the rule still matches relative to the config's
    // directory.
    let out = run(sb
        .enseal()
        .current_dir(sb.path("secrets"))
        .args(["encrypt", "db.yaml"]))
    .ok();
    assert_eq!(recipients_in(&out.out()), vec![recipient(1)]);
}

#[test]
fn keys_from_config_round_trip() {
    let sb = Sandbox::new();
    sb.write(
        ".sops.yaml",
        format!("creation_rules:\n  - age: {}\n", recipient(1)),
    );
    sb.write("app.yaml", PLAIN);
    run(sb.enseal().args(["encrypt", "-i", "app.yaml"])).ok();
    let enc = std::fs::read_to_string(sb.path("app.yaml")).unwrap();
    assert_eq!(recipients_in(&enc), vec![recipient(1)]);
    assert!(enc.contains("unencrypted_suffix: _unencrypted"), "{enc}");
    let out = run(enseal_with(&sb, &key_file(1)).args(["decrypt", "app.yaml"])).ok();
    assert_eq!(out.out(), PLAIN);
    // Legacy mode reads the config too.
    sb.write("legacy.yaml", PLAIN);
    let out = run(sb.enseal().args(["-e", "legacy.yaml"])).ok();
    assert_eq!(recipients_in(&out.out()), vec![recipient(1)]);
}

#[test]
fn flags_override_config_keys() {
    let sb = Sandbox::new();
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - key_groups:\n      - age: [{}]\n      - age: [{}]\n",
            recipient(1),
            recipient(2)
        ),
    );
    sb.write("app.yaml", PLAIN);
    let out = run(sb
        .enseal()
        .args(["encrypt", "--age", &recipient(2), "app.yaml"]))
    .ok();
    let text = out.out();
    assert_eq!(recipients_in(&text), vec![recipient(2)], "{text}");
    assert!(
        !text.contains("shamir_threshold"),
        "one group from flags: {text}"
    );
    let out = run(sb
        .enseal()
        .env("SOPS_AGE_RECIPIENTS", recipient(1))
        .args(["encrypt", "app.yaml"]))
    .ok();
    assert_eq!(recipients_in(&out.out()), vec![recipient(1)]);
}

#[test]
fn invalid_config_keys_are_refused_unless_flags_give_keys() {
    let sb = Sandbox::new();
    // An hckms key whose region is no region id (it would become a host
    // name): refused before any request.
    sb.write(
        ".sops.yaml",
        "creation_rules:\n  - hckms: ['evil.example/x:uuid']\n",
    );
    sb.write("app.yaml", PLAIN);
    let out = run(sb.enseal().args(["encrypt", "app.yaml"])).code_in(&[1]);
    assert!(out.err().contains("evil.example/x:uuid"), "{}", out.err());
    assert!(
        out.err().contains("not a HuaweiCloud region id"),
        "{}",
        out.err()
    );
    run(sb
        .enseal()
        .args(["encrypt", "--age", &recipient(1), "app.yaml"]))
    .ok();
}

#[test]
fn invalid_age_recipients_in_the_rule_fail_even_with_flags() {
    let sb = Sandbox::new();
    sb.write(
        ".sops.yaml",
        format!("creation_rules:\n  - age: [\"{}\", \"\"]\n", recipient(1)),
    );
    sb.write("app.yaml", PLAIN);
    for args in [
        vec!["encrypt", "app.yaml"],
        vec!["encrypt", "--age", &recipient(1), "app.yaml"],
    ] {
        let out = run(sb.enseal().args(&args)).code_in(&[1]);
        assert!(
            out.err()
                .contains("failed to parse input, unknown recipient type: \"\""),
            "{}",
            out.err()
        );
    }
}

#[test]
fn no_matching_rule_fails_even_with_flag_keys() {
    let sb = Sandbox::new();
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: ^prod/\n    age: {}\n",
            recipient(1)
        ),
    );
    sb.write("dev.yaml", PLAIN);
    for args in [
        vec!["encrypt", "dev.yaml"],
        vec!["encrypt", "--age", &recipient(1), "dev.yaml"],
        vec!["-e", "--age", &recipient(1), "dev.yaml"],
    ] {
        let out = run(sb.enseal().args(&args)).code_in(&[1]);
        let err = out.err();
        assert!(
            err.contains("error loading config: no matching creation rules found"),
            "{args:?}: {err}"
        );
        assert!(err.contains(".sops.yaml"), "config file named: {err}");
    }
    // Decryption does not use the creation rules.
    sb.write("plain.yaml", PLAIN);
    let enc = run(sb.enseal().args([
        "encrypt",
        "--filename-override",
        "prod/x.yaml",
        "plain.yaml",
    ]))
    .ok();
    sb.write("dev.enc.yaml", enc.stdout);
    let out = run(enseal_with(&sb, &key_file(1)).args(["decrypt", "dev.enc.yaml"])).ok();
    assert_eq!(out.out(), PLAIN);
}

#[test]
fn no_config_and_no_keys() {
    let sb = Sandbox::new();
    sb.write("app.yaml", PLAIN);
    let out = run(sb.enseal().args(["encrypt", "app.yaml"])).code_in(&[1]);
    assert!(
        out.err().contains(
            "config file not found, or has no creation rules, and no keys provided through command line options"
        ),
        "{}",
        out.err()
    );
    // A config without creation_rules counts as none.
    sb.write(".sops.yaml", "stores:\n  yaml:\n    indent: 2\n");
    let out = run(sb.enseal().args(["encrypt", "app.yaml"])).code_in(&[1]);
    assert!(out.err().contains("no keys provided"), "{}", out.err());
}

// ---------------------------------------------------------------------------
// Key groups and Shamir
// ---------------------------------------------------------------------------

#[test]
fn shamir_threshold_two_of_three_groups() {
    let sb = Sandbox::new();
    let k3 = generate_key(&sb, "key3.txt");
    let keys = [key_file(1), key_file(2), k3.clone()];
    let (r1, r2, r3) = (recipient(1), recipient(2), recipient_of(&k3));
    sb.write(".sops.yaml", shamir_config(&r1, &r2, &r3));
    sb.write("app.yaml", PLAIN);
    let out = run(sb.enseal().args(["encrypt", "app.yaml"])).ok();
    let enc = out.out();
    assert!(enc.contains("    shamir_threshold: 2\n"), "{enc}");
    assert_eq!(enc.matches("\n          age:\n").count(), 3, "{enc}");
    assert_eq!(recipients_in(&enc), vec![r1, r2, r3]);
    sb.write("app.enc.yaml", &enc);

    for (i, j) in [(0, 1), (0, 2), (1, 2)] {
        let bundle = key_bundle(&sb, &format!("bundle{i}{j}.txt"), &[&keys[i], &keys[j]]);
        let out = run(enseal_with(&sb, &bundle).args(["decrypt", "app.enc.yaml"])).ok();
        assert_eq!(out.out(), PLAIN, "keys of groups {i} and {j}");
    }
    for (i, key) in keys.iter().enumerate() {
        let out = run(enseal_with(&sb, key).args(["decrypt", "app.enc.yaml"])).code_in(&[128]);
        let err = out.err();
        assert!(err.contains(&format!("Group {i}: SUCCESS")), "{err}");
        for other in (0..3).filter(|&o| o != i) {
            assert!(err.contains(&format!("Group {other}: FAILED")), "{err}");
        }
        assert!(err.contains("Shamir threshold of 2"), "{err}");
    }
}

#[test]
fn shamir_threshold_flag_overrides_the_rule() {
    let sb = Sandbox::new();
    let k3 = generate_key(&sb, "key3.txt");
    sb.write(
        ".sops.yaml",
        shamir_config(&recipient(1), &recipient(2), &recipient_of(&k3)),
    );
    sb.write("app.yaml", PLAIN);
    let out = run(sb.enseal().args([
        "encrypt",
        "--shamir-secret-sharing-threshold",
        "3",
        "app.yaml",
    ]))
    .ok();
    assert!(
        out.out().contains("    shamir_threshold: 3\n"),
        "{}",
        out.out()
    );
    // Threshold above the number of groups.
    let out = run(sb.enseal().args([
        "encrypt",
        "--shamir-secret-sharing-threshold",
        "4",
        "app.yaml",
    ]))
    .code_in(&[1]);
    assert!(
        out.err().contains("Could not generate data key"),
        "{}",
        out.err()
    );
}

// ---------------------------------------------------------------------------
// Encryption rules
// ---------------------------------------------------------------------------

#[test]
fn encryption_rule_and_mac_only_encrypted_from_config() {
    let sb = Sandbox::new();
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - age: {}\n    encrypted_regex: ^pass\n    mac_only_encrypted: true\n",
            recipient(1)
        ),
    );
    sb.write("app.yaml", PLAIN);
    let out = run(sb.enseal().args(["encrypt", "app.yaml"])).ok();
    let enc = out.out();
    assert!(enc.contains("    encrypted_regex: ^pass\n"), "{enc}");
    assert!(enc.contains("    mac_only_encrypted: true\n"), "{enc}");
    assert!(enc.contains("user: admin\n"), "{enc}");
    assert!(enc.contains("    port: 5432\n"), "{enc}");
    assert!(enc.starts_with("password: ENC[AES256_GCM,"), "{enc}");
    sb.write("app.enc.yaml", &enc);
    let out = run(enseal_with(&sb, &key_file(1)).args(["decrypt", "app.enc.yaml"])).ok();
    assert_eq!(out.out(), PLAIN);

    // A flag for the same field replaces the config's value.
    let out = run(sb
        .enseal()
        .args(["encrypt", "--encrypted-regex", "^user$", "app.yaml"]))
    .ok();
    assert!(out.out().contains("    encrypted_regex: ^user$\n"));
    assert!(out.out().contains("password: hunter2\n"));
    // A flag for another field makes two rules: refused.
    let out = run(sb
        .enseal()
        .args(["encrypt", "--unencrypted-suffix", "_clear", "app.yaml"]))
    .code_in(&[8]);
    assert!(
        out.err().contains("cannot use more than one of"),
        "{}",
        out.err()
    );
}

#[test]
fn two_encryption_rules_in_the_selected_rule() {
    let sb = Sandbox::new();
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: bad\n    age: {r}\n    encrypted_regex: a\n    encrypted_suffix: b\n  - age: {r}\n",
            r = recipient(1)
        ),
    );
    sb.write("app.yaml", PLAIN);
    // The broken rule is not selected: fine.
    run(sb.enseal().args(["encrypt", "app.yaml"])).ok();
    sb.write("bad.yaml", PLAIN);
    let out = run(sb.enseal().args(["encrypt", "bad.yaml"])).code_in(&[1]);
    assert!(
        out.err().contains("cannot use more than one of"),
        "{}",
        out.err()
    );
    assert!(out.err().contains("creation_rules[0]"), "{}", out.err());
}

// ---------------------------------------------------------------------------
// stores: indentation
// ---------------------------------------------------------------------------

#[test]
fn store_indents_from_config() {
    let sb = Sandbox::new();
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - age: {}\nstores:\n  yaml:\n    indent: 2\n  json:\n    indent: 3\n",
            recipient(1)
        ),
    );
    sb.write("app.yaml", PLAIN);
    let out = run(sb.enseal().args(["encrypt", "app.yaml"])).ok();
    let enc = out.out();
    assert!(enc.contains("\nnested:\n  password: ENC["), "{enc}");
    assert!(enc.contains("\nsops:\n  age:\n"), "{enc}");
    sb.write("app.enc.yaml", &enc);

    let dec = || enseal_with(&sb, &key_file(1));
    let out = run(dec().args(["decrypt", "app.enc.yaml"])).ok();
    assert_eq!(
        out.out(),
        "password: hunter2\nuser: admin\nnested:\n  password: s3cret\n  port: 5432\n"
    );
    let out = run(dec().args(["decrypt", "--output-type", "json", "app.enc.yaml"])).ok();
    assert_eq!(
        out.out(),
        "{\n   \"password\": \"hunter2\",\n   \"user\": \"admin\",\n   \"nested\": {\n      \"password\": \"s3cret\",\n      \"port\": 5432\n   }\n}\n"
    );
    // --indent replaces every config indent, before or after the subcommand.
    for args in [
        vec!["--indent", "6", "decrypt", "app.enc.yaml"],
        vec!["decrypt", "--indent", "6", "app.enc.yaml"],
    ] {
        let out = run(dec().args(&args)).ok();
        assert!(
            out.out().contains("\nnested:\n      password: s3cret\n"),
            "{args:?}: {}",
            out.out()
        );
    }
    // filestatus uses the config as well (parsing only).
    let out = run(sb.enseal().args(["filestatus", "app.enc.yaml"])).ok();
    assert_eq!(out.out(), "{\"encrypted\":true}\n");
}

#[test]
fn negative_indents_from_config_are_refused_for_the_output_store() {
    let sb = Sandbox::new();
    sb.write(
        ".sops.yaml",
        "stores:\n  yaml:\n    indent: -1\n  json:\n    indent: -2\n",
    );
    let enc = sb.copy(&reference("yaml-basic.enc.yaml"), "app.enc.yaml");
    let dec = || enseal_with(&sb, &key_file(1));
    let out = run(dec().arg("decrypt").arg(&enc)).code_in(&[4]);
    assert!(
        out.err().contains("YAML Negative indentation not accepted"),
        "{}",
        out.err()
    );
    let out = run(dec().args(["decrypt", "--output-type", "json"]).arg(&enc)).code_in(&[4]);
    assert!(
        out.err()
            .contains("JSON Indentation parameter smaller than -1 is not accepted"),
        "{}",
        out.err()
    );
    // Other output stores do not look at those values.
    let env = sb.copy(&reference("dotenv-basic.enc.env"), "app.enc.env");
    run(dec().arg("decrypt").arg(&env)).ok();
    // --indent replaces the bad value.
    run(dec().args(["--indent", "2", "decrypt"]).arg(&enc)).ok();
    // filestatus only parses.
    run(sb.enseal().arg("filestatus").arg(&enc)).ok();
}

// ---------------------------------------------------------------------------
// Finding the config
// ---------------------------------------------------------------------------

#[test]
fn config_flag_and_env() {
    let sb = Sandbox::new();
    let conf_dir = sb.root().join("conf");
    std::fs::create_dir_all(&conf_dir).unwrap();
    let conf = conf_dir.join("my-config.yaml");
    std::fs::write(
        &conf,
        format!(
            "creation_rules:\n  - path_regex: \\.yaml$\n    age: {}\nstores:\n  yaml:\n    indent: 2\n",
            recipient(2)
        ),
    )
    .unwrap();
    // A config in the working directory that must NOT be used.
    sb.write(
        ".sops.yaml",
        format!("creation_rules:\n  - age: {}\n", recipient(1)),
    );
    sb.write("app.yaml", PLAIN);
    let conf_s = conf.to_string_lossy().into_owned();
    let check = |out: Out, label: &str| {
        let text = out.out();
        assert_eq!(recipients_in(&text), vec![recipient(2)], "{label}: {text}");
        assert!(
            text.contains("\nnested:\n  password: ENC["),
            "{label}: {text}"
        );
    };
    check(
        run(sb
            .enseal()
            .args(["--config", &conf_s, "encrypt", "app.yaml"]))
        .ok(),
        "--config before",
    );
    check(
        run(sb
            .enseal()
            .args(["encrypt", "--config", &conf_s, "app.yaml"]))
        .ok(),
        "--config after",
    );
    check(
        run(sb.enseal().args(["--config", &conf_s, "-e", "app.yaml"])).ok(),
        "legacy",
    );
    check(
        run(sb
            .enseal()
            .env("SOPS_CONFIG", &conf)
            .args(["encrypt", "app.yaml"]))
        .ok(),
        "SOPS_CONFIG",
    );
    // Without them, the .sops.yaml of the working directory.
    let out = run(sb.enseal().args(["encrypt", "app.yaml"])).ok();
    assert_eq!(recipients_in(&out.out()), vec![recipient(1)]);

    // A --config that does not exist fails every command, decrypt included.
    let enc = sb.copy(&reference("yaml-basic.enc.yaml"), "x.enc.yaml");
    let out = run(enseal_with(&sb, &key_file(1))
        .args(["--config", "missing.yaml", "decrypt"])
        .arg(&enc))
    .code_in(&[1]);
    assert!(
        out.err().contains("could not read config file"),
        "{}",
        out.err()
    );
}

#[test]
fn config_is_found_in_parent_directories() {
    let sb = Sandbox::new();
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: ^a/b/.*\\.yaml$\n    age: {}\n",
            recipient(2)
        ),
    );
    sb.write("a/b/app.yaml", PLAIN);
    let out = run(sb
        .enseal()
        .current_dir(sb.path("a/b"))
        .args(["encrypt", "app.yaml"]))
    .ok();
    assert_eq!(recipients_in(&out.out()), vec![recipient(2)]);
}

#[test]
fn sops_yml_is_ignored_with_a_warning() {
    let sb = Sandbox::new();
    sb.write(
        ".sops.yml",
        format!("creation_rules:\n  - age: {}\n", recipient(1)),
    );
    sb.write("app.yaml", PLAIN);
    let out = run(sb.enseal().args(["encrypt", "app.yaml"])).code_in(&[1]);
    let err = out.err();
    assert!(
        err.contains(".sops.yml\" when searching for config file"),
        "{err}"
    );
    assert!(err.contains("no keys provided"), "{err}");
}

#[test]
fn invalid_config_breaks_every_command() {
    let sb = Sandbox::new();
    sb.write(".sops.yaml", "creation_rules: [\n");
    let enc = sb.copy(&reference("yaml-basic.enc.yaml"), "x.enc.yaml");
    for args in [
        vec!["decrypt"],
        vec!["-d"],
        vec!["filestatus"],
        vec!["encrypt", "--age", &recipient(1)],
    ] {
        let out = run(enseal_with(&sb, &key_file(1)).args(&args).arg(&enc)).code_in(&[1]);
        assert!(
            out.err()
                .contains("error loading config: Could not unmarshal config file"),
            "{args:?}: {}",
            out.err()
        );
    }
}

// ---------------------------------------------------------------------------
// Interoperability with the reference sops
// ---------------------------------------------------------------------------

#[test]
fn ref_key_groups_to_enseal_and_back() {
    let Some(sops) = require_sops() else { return };
    let sb = Sandbox::new();
    let k3 = generate_key(&sb, "key3.txt");
    let keys = [key_file(1), key_file(2), k3.clone()];
    sb.write(
        ".sops.yaml",
        shamir_config(&recipient(1), &recipient(2), &recipient_of(&k3)),
    );
    sb.write("app.yaml", PLAIN);
    let b13 = key_bundle(&sb, "b13.txt", &[&keys[0], &keys[2]]);
    let b23 = key_bundle(&sb, "b23.txt", &[&keys[1], &keys[2]]);

    // sops encrypts with the config → enseal decrypts with 2 groups' keys.
    let out = run(sb.sops(&sops).args(["encrypt", "app.yaml"])).ok();
    let enc = out.out();
    assert!(enc.contains("shamir_threshold: 2"), "{enc}");
    sb.write("by-sops.enc.yaml", &enc);
    let out = run(enseal_with(&sb, &b13).args(["decrypt", "by-sops.enc.yaml"])).ok();
    assert_eq!(out.out(), PLAIN);
    let out = run(enseal_with(&sb, &keys[1]).args(["decrypt", "by-sops.enc.yaml"])).code_in(&[128]);
    assert!(out.err().contains("Group 1: SUCCESS"), "{}", out.err());

    // enseal encrypts with the config → sops decrypts with 2 groups' keys.
    let out = run(sb.enseal().args(["encrypt", "app.yaml"])).ok();
    sb.write("by-enseal.enc.yaml", out.stdout);
    let mut cmd = sb.sops(&sops);
    cmd.env("SOPS_AGE_KEY_FILE", &b23);
    let out = run(cmd.args(["decrypt", "by-enseal.enc.yaml"])).ok();
    assert_eq!(out.out(), PLAIN);
    let mut cmd = sb.sops(&sops);
    cmd.env("SOPS_AGE_KEY_FILE", &keys[2]);
    run(cmd.args(["decrypt", "by-enseal.enc.yaml"])).code_in(&[128]);

    // Both tools record the same metadata shape for the same config.
    let mine =
        normalize_encrypted(&std::fs::read_to_string(sb.path("by-enseal.enc.yaml")).unwrap());
    let theirs = normalize_encrypted(&enc);
    if let Err(e) = diff_bytes("key-group file shape", theirs.as_bytes(), mine.as_bytes()) {
        panic!("{e}");
    }
}

#[test]
fn ref_and_enseal_agree_on_rules_and_indents_from_config() {
    let Some(sops) = require_sops() else { return };
    let sb = Sandbox::new();
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: \\.yaml$\n    age: {}\n    encrypted_regex: ^pass\n    mac_only_encrypted: true\nstores:\n  yaml:\n    indent: 2\n",
            recipient(1)
        ),
    );
    sb.write("app.yaml", PLAIN);
    let theirs = run(sb.sops(&sops).args(["encrypt", "app.yaml"])).ok().out();
    let mine = run(sb.enseal().args(["encrypt", "app.yaml"])).ok().out();
    if let Err(e) = diff_bytes(
        "rules and indents from config",
        normalize_encrypted(&theirs).as_bytes(),
        normalize_encrypted(&mine).as_bytes(),
    ) {
        panic!("{e}");
    }
}

#[test]
fn missing_file_is_reported_before_the_config() {
    let sb = Sandbox::new();
    sb.write(".sops.yaml", "creation_rules: [\n");
    for args in [vec!["encrypt"], vec!["decrypt"], vec!["-e"], vec!["-d"]] {
        let out = run(sb.enseal().args(&args).arg("nope.yaml")).code_in(&[100]);
        assert!(
            out.err().contains("cannot operate on non-existent file"),
            "{args:?}: {}",
            out.err()
        );
    }
    // filestatus loads the config first, as sops does.
    run(sb.enseal().args(["filestatus", "nope.yaml"])).code_in(&[1]);
}

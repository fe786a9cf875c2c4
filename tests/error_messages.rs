//! Issue #18 part 4: enseal's error messages name one cause and one fix
//! (a `hint:` line), keep sops' exit code, and started as `sops` print
//! sops' own text.

mod common;

use std::path::PathBuf;

use common::{enseal_bin, key_file, recipient, run, scrubbed, Out, Sandbox};

/// A `sops` link to enseal in the sandbox.
fn sops_link(sb: &Sandbox) -> PathBuf {
    let link = sb.root().join("bin").join("sops");
    if !link.exists() {
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(enseal_bin(), &link).unwrap();
    }
    link
}

/// `enseal ARGS` with test key 1 as the age identity.
fn enseal_with_key(sb: &Sandbox, args: &[&str]) -> Out {
    run(sb.enseal().env("SOPS_AGE_KEY_FILE", key_file(1)).args(args))
}

/// The same, started as `sops` (stderr is not a terminal: no hints).
fn as_sops_with_key(sb: &Sandbox, args: &[&str]) -> Out {
    run(scrubbed(&sops_link(sb), &sb.home(), &sb.work())
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .args(args))
}

/// An encrypted `name` (YAML) for test key 1 in the sandbox.
fn encrypted(sb: &Sandbox, name: &str, text: &str) -> PathBuf {
    let file = sb.write(name, text);
    enseal_with_key(sb, &["encrypt", "-i", "--age", &recipient(1), name]).code_in(&[0]);
    file
}

fn hint_of(out: &Out) -> String {
    out.err()
        .lines()
        .find_map(|l| l.strip_prefix("hint: "))
        .unwrap_or_else(|| panic!("no hint line in:\n{}", out.err()))
        .to_string()
}

#[test]
fn set_value_not_json_says_value_and_shows_shell_quoting() {
    let sb = Sandbox::new();
    encrypted(&sb, "f.yaml", "a: 1\n");
    let out = enseal_with_key(&sb, &["set", "f.yaml", r#"["a"]"#, "newpass"]).code_in(&[7]);
    let first = out.err().lines().next().unwrap().to_string();
    assert!(first.contains("VALUE is not valid JSON"), "{}", out.err());
    assert!(!first.contains("--set"), "{}", out.err());
    assert!(hint_of(&out).contains(r#"'"newpass"'"#), "{}", out.err());
    assert_eq!(out.err().lines().count(), 2, "{}", out.err());
    // Started as sops: sops' text, same code.
    let out = as_sops_with_key(&sb, &["set", "f.yaml", r#"["a"]"#, "newpass"]).code_in(&[7]);
    assert_eq!(out.err(), "Value for --set is not valid JSON\n");
}

#[test]
fn encrypt_without_any_key_names_the_flag_to_pass() {
    let sb = Sandbox::new();
    sb.write("x.yaml", "x: 1\n");
    let out = run(sb.enseal().args(["encrypt", "x.yaml"])).code_in(&[1]);
    assert!(
        out.err()
            .contains("no keys provided through command line options"),
        "{}",
        out.err()
    );
    let hint = hint_of(&out);
    assert!(hint.contains("--age <age1"), "{hint}");
    assert!(hint.contains("enseal init"), "{hint}");
    let out = run(scrubbed(&sops_link(&sb), &sb.home(), &sb.work()).args(["encrypt", "x.yaml"]))
        .code_in(&[1]);
    assert_eq!(
        out.err(),
        "config file not found, or has no creation rules, and no keys provided through command line options\n"
    );
}

#[test]
fn encrypt_outside_the_creation_rules_says_how_to_bypass_them() {
    let sb = Sandbox::new();
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: secret\\.yaml$\n    age: {}\n",
            recipient(1)
        ),
    );
    sb.write("other.yaml", "y: 1\n");
    let args = ["encrypt", "--age", &recipient(1), "other.yaml"];
    let out = run(sb.enseal().args(args)).code_in(&[1]);
    assert!(
        out.err().contains("no matching creation rules found"),
        "{}",
        out.err()
    );
    let hint = hint_of(&out);
    assert!(
        hint.contains(".sops.yaml do not cover other.yaml"),
        "{hint}"
    );
    assert!(hint.contains("--config /dev/null"), "{hint}");
    // The bypass the hint names works.
    let bypass = [
        "encrypt",
        "--config",
        "/dev/null",
        "--age",
        &recipient(1),
        "other.yaml",
    ];
    run(sb.enseal().args(bypass)).code_in(&[0]);
    // Started as sops: sops' text.
    let out = run(scrubbed(&sops_link(&sb), &sb.home(), &sb.work()).args(args)).code_in(&[1]);
    assert!(!out.err().contains("hint:"), "{}", out.err());
    assert_eq!(out.err().lines().count(), 1, "{}", out.err());
}

#[test]
fn tampered_value_is_one_line_with_key_path_and_fix() {
    let sb = Sandbox::new();
    let file = encrypted(&sb, "t.yaml", "a: 1\nb: PLANTED-value\n");
    let text = std::fs::read_to_string(&file).unwrap();
    let marker = "b: ENC[AES256_GCM,data:";
    let at = text.find(marker).unwrap() + marker.len();
    let old = &text[at..at + 1];
    let new = if old == "A" { "B" } else { "A" };
    std::fs::write(&file, format!("{}{new}{}", &text[..at], &text[at + 1..])).unwrap();
    let out = enseal_with_key(&sb, &["decrypt", "t.yaml"]).code_in(&[25]);
    let err = out.err();
    assert_eq!(err.lines().count(), 2, "{err}");
    assert_eq!(
        err.lines().next().unwrap(),
        r#"t.yaml: ["b"]: cannot decrypt: the value was changed, or the file was not encrypted with this data key"#
    );
    let hint = hint_of(&out);
    assert!(hint.contains("git checkout -- t.yaml"), "{hint}");
    assert!(
        hint.contains(r#"enseal set t.yaml '["b"]' VALUE"#),
        "{hint}"
    );
    assert!(!err.contains("PLANTED"), "{err}");
    // Started as sops: sops' chain of messages, same code.
    let out = as_sops_with_key(&sb, &["decrypt", "t.yaml"]).code_in(&[25]);
    assert!(
        out.err()
            .starts_with("Error decrypting tree: Error walking tree: Could not decrypt value:")
            && out.err().contains("cipher: message authentication failed"),
        "{}",
        out.err()
    );
}

#[test]
fn wrongly_typed_file_hint_names_the_input_type_its_content_has() {
    let sb = Sandbox::new();
    sb.write("notes.json", "# a comment\na: PLANTED-value\n");
    let out = enseal_with_key(&sb, &["decrypt", "notes.json"]).code_in(&[1]);
    assert!(
        out.err().contains("Error unmarshalling input json"),
        "{}",
        out.err()
    );
    assert_eq!(
        hint_of(&out),
        "the file is read as json but looks like yaml: pass --input-type yaml"
    );
    let out =
        enseal_with_key(&sb, &["encrypt", "--age", &recipient(1), "notes.json"]).code_in(&[2]);
    assert!(
        hint_of(&out).ends_with("--input-type yaml"),
        "{}",
        out.err()
    );
    assert!(!out.err().contains("PLANTED"), "{}", out.err());
    // An INI file named .json.
    sb.write("app.json", "[server]\nhost = x\n");
    let out = enseal_with_key(&sb, &["encrypt", "--age", &recipient(1), "app.json"]).code_in(&[2]);
    assert!(hint_of(&out).ends_with("--input-type ini"), "{}", out.err());
    // Started as sops: no hint off a terminal, sops' text.
    let out = as_sops_with_key(&sb, &["decrypt", "notes.json"]).code_in(&[1]);
    assert!(!out.err().contains("hint:"), "{}", out.err());
    assert!(
        out.err()
            .starts_with("notes.json: Error unmarshalling input json"),
        "{}",
        out.err()
    );
}

/// `enseal ARGS` (or started as sops) with `key` as SOPS_AGE_KEY_FILE.
fn with_key_file(sb: &Sandbox, key: Option<&std::path::Path>, as_sops: bool, args: &[&str]) -> Out {
    let mut cmd = if as_sops {
        scrubbed(&sops_link(sb), &sb.home(), &sb.work())
    } else {
        sb.enseal()
    };
    if let Some(key) = key {
        cmd.env("SOPS_AGE_KEY_FILE", key);
    }
    run(cmd.args(args))
}

#[test]
fn key_errors_name_the_identities_found_the_recipients_and_one_fix() {
    let sb = Sandbox::new();
    encrypted(&sb, "f.yaml", "a: 1\n");
    let ours = |key: Option<&std::path::Path>| {
        with_key_file(&sb, key, false, &["decrypt", "f.yaml"]).code_in(&[128])
    };
    // Another identity: it is named by its public key, with where it is.
    let other = key_file(2);
    let out = ours(Some(&other));
    let err = out.err();
    assert_eq!(err.lines().count(), 2, "{err}");
    assert_eq!(
        err.lines().next().unwrap(),
        format!(
            "f.yaml: cannot decrypt: your age key {} (SOPS_AGE_KEY_FILE={}) is not a recipient of this file; its recipients: {}",
            recipient(2),
            other.display(),
            recipient(1)
        )
    );
    assert!(
        hint_of(&out).starts_with(&format!(
            "someone who can decrypt it runs `enseal rotate -i --add-age {} f.yaml`",
            recipient(2)
        )),
        "{err}"
    );
    assert!(!err.contains("AGE-SECRET-KEY-1"), "{err}");
    // A public key where the secret key belongs.
    let public = sb.write("public.txt", format!("{}\n", recipient(1)));
    let out = ours(Some(&public));
    assert!(
        out.err().contains("holds ")
            && out
                .err()
                .contains("a public key (recipient), not an identity"),
        "{}",
        out.err()
    );
    assert!(
        hint_of(&out).starts_with("this is a public key (recipient); the identity file needs the secret key AGE-SECRET-KEY-1"),
        "{}",
        out.err()
    );
    // No identity at all.
    let out = ours(None);
    assert!(
        out.err()
            .starts_with("f.yaml: cannot decrypt: no age identity found"),
        "{}",
        out.err()
    );
    assert!(out.err().contains(&recipient(1)), "{}", out.err());
    assert!(
        hint_of(&out).starts_with("set SOPS_AGE_KEY_FILE=<your key file> or put your key in "),
        "{}",
        out.err()
    );
    // --verbose: one line per key tried, then sops' report of every key.
    let out = with_key_file(
        &sb,
        Some(&other),
        false,
        &["--verbose", "decrypt", "f.yaml"],
    )
    .code_in(&[128]);
    let err = out.err();
    let (tried, report): (Vec<&str>, Vec<&str>) =
        err.lines().partition(|l| l.starts_with("[keys] "));
    assert_eq!(tried.len(), 1, "{err}");
    assert!(tried[0].starts_with("[keys] unwrap age "), "{err}");
    assert!(tried[0].contains(" at local: failed ("), "{err}");
    assert!(
        report[0].starts_with("Failed to get the data key required"),
        "{err}"
    );
    assert!(out.err().contains("Group 0: FAILED"), "{}", out.err());
    // Started as sops: sops' report, no hint off a terminal.
    let out = with_key_file(&sb, Some(&other), true, &["decrypt", "f.yaml"]).code_in(&[128]);
    assert!(
        out.err().starts_with("Failed to get the data key required"),
        "{}",
        out.err()
    );
    assert!(!out.err().contains("hint:"), "{}", out.err());
}

#[test]
fn hints_are_coloured_only_on_request_and_never_with_no_color() {
    let sb = Sandbox::new();
    sb.write("x.yaml", "x: 1\n");
    let bold_cyan_hint = "\u{1b}[1m\u{1b}[36mhint:\u{1b}[0m ";
    // Piped (the tests' stderr is a pipe): plain text.
    let piped = run(sb.enseal().args(["encrypt", "x.yaml"])).code_in(&[1]);
    assert!(!piped.err().contains('\u{1b}'), "{}", piped.err());
    // CLICOLOR_FORCE stands for a terminal here.
    let forced = run(sb
        .enseal()
        .env("CLICOLOR_FORCE", "1")
        .args(["encrypt", "x.yaml"]))
    .code_in(&[1]);
    assert!(forced.err().contains(bold_cyan_hint), "{:?}", forced.err());
    // The message itself is never painted: only the label.
    assert!(forced
        .err()
        .lines()
        .next()
        .unwrap()
        .find('\u{1b}')
        .is_none());
    let no_color = run(sb
        .enseal()
        .env("CLICOLOR_FORCE", "1")
        .env("NO_COLOR", "1")
        .args(["encrypt", "x.yaml"]))
    .code_in(&[1]);
    assert_eq!(no_color.err(), piped.err());
}

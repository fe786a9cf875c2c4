//! Every command that writes a format-preserved file again keeps its
//! layout: `set`, `unset`, `updatekeys`, `groups add`, `groups delete`
//! (the merge driver: tests/git.rs). Each test encrypts a hand-written
//! file with `--preserve-format`, runs the command, and checks that
//! (a) `decrypt --preserve-format` gives exactly the expected text (the
//! untouched parts byte for byte), and (b) the reference sops decrypts the
//! file, MAC verified, to the values of that text.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{key_file, recipient, require_sops, Sandbox};

/// Comments, odd spacing and a key order sops would not choose.
const YAML: &str = "# service settings\nname:   svc   # the name\nzeta: 1\ndb:\n   user: admin\n   # the password\n   password: \"p@ss\"\n   port:    5432\n\nlist: [a, b]   # two\nalpha: 'last'\n";
const DOTENV: &str = "# app\nexport USER='admin'\nPASS=s3cret\n\nURL=https://x.example/?a=b\n";
const INI: &str =
    "; settings\n[database]\nhost   =  db.internal\npassword = \"p;ss\"\n\n[cache]\nttl=300\n";
const JSON: &str = "{ \"name\" : \"svc\",\n    \"port\":8080,\n  \"db\": {\"user\": \"admin\",   \"password\": \"p\"}\n}\n";

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("runs")
}

fn ok(out: Output, what: &str) -> Output {
    assert!(
        out.status.success(),
        "{what}: exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Keys 1 and 2 (a file with two key groups needs both).
fn both_keys(sb: &Sandbox) -> PathBuf {
    let one = std::fs::read_to_string(key_file(1)).unwrap();
    let two = std::fs::read_to_string(key_file(2)).unwrap();
    sb.write("both-keys.txt", format!("{one}\n{two}"))
}

fn keyed(sb: &Sandbox) -> Command {
    let mut cmd = sb.enseal();
    cmd.env("SOPS_AGE_KEY_FILE", both_keys(sb));
    cmd
}

/// `text` encrypted with `--preserve-format` for key 1 as `name`.
fn preserved(sb: &Sandbox, name: &str, text: &str) -> PathBuf {
    let input = sb.write(&format!("plain-{name}"), text);
    let enc = ok(
        run(sb
            .enseal()
            .args(["encrypt", "--preserve-format", "--age", &recipient(1)])
            .arg(&input)),
        "encrypt",
    );
    sb.write(name, enc.stdout)
}

/// Checks (a) and (b) for `file`, which must hold `expected`.
fn check(sb: &Sandbox, file: &Path, expected: &str) {
    let dec = ok(
        run(keyed(sb).args(["decrypt", "--preserve-format"]).arg(file)),
        "decrypt --preserve-format",
    );
    assert_eq!(String::from_utf8_lossy(&dec.stdout), expected);
    let Some(sops) = require_sops() else { return };
    // The values of `expected`, as the reference reads a normally
    // encrypted file of it.
    let ext = file.extension().unwrap().to_str().unwrap();
    let plain = sb.write(&format!("expected.{ext}"), expected);
    let normal = ok(
        run(sb
            .enseal()
            .args(["encrypt", "--age", &recipient(1)])
            .arg(&plain)),
        "encrypt",
    );
    let normal = sb.write(&format!("normal.{ext}"), normal.stdout);
    let reference = |path: &Path| {
        ok(
            run(sb
                .sops(&sops)
                .env("SOPS_AGE_KEY_FILE", both_keys(sb))
                .arg("decrypt")
                .arg(path)),
            "reference decrypt",
        )
        .stdout
    };
    assert_eq!(
        String::from_utf8_lossy(&reference(file)),
        String::from_utf8_lossy(&reference(&normal)),
        "the reference reads other values"
    );
}

#[test]
fn set_changes_a_value_in_its_own_style() {
    let sb = Sandbox::new();
    let file = preserved(&sb, "s.yaml", YAML);
    let before = std::fs::read_to_string(&file).unwrap();
    ok(
        run(keyed(&sb)
            .args(["set", "--preserve-format"])
            .arg(&file)
            .args([r#"["db"]["password"]"#, r#""n3w: pass""#])),
        "set",
    );
    check(&sb, &file, &YAML.replace("\"p@ss\"", "\"n3w: pass\""));
    // Only the changed value and the MAC/date lines differ (the date has
    // seconds: it may be the same).
    let after = std::fs::read_to_string(&file).unwrap();
    let changed: Vec<_> = before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, _)| a.trim_start().split(':').next().unwrap().to_string())
        .filter(|k| k != "lastmodified")
        .collect();
    assert_eq!(changed, ["password", "mac"], "{after}");
    assert_eq!(before.lines().count(), after.lines().count());
}

#[test]
fn set_of_a_new_key_appends_it_in_the_file_style() {
    let sb = Sandbox::new();
    let file = preserved(&sb, "n.yaml", YAML);
    ok(
        run(keyed(&sb)
            .args(["set", "--preserve-format"])
            .arg(&file)
            .args([r#"["db"]["host"]"#, r#""h1""#])),
        "set nested",
    );
    ok(
        run(keyed(&sb)
            .args(["set", "--preserve-format"])
            .arg(&file)
            .args([r#"["extra"]"#, r#"{"k": "v", "n": [1, 2]}"#])),
        "set top-level",
    );
    let expected = YAML.replace("   port:    5432\n", "   port:    5432\n   host: h1\n")
        + "extra:\n   k: v\n   \"n\":\n      - 1\n      - 2\n";
    check(&sb, &file, &expected);
}

#[test]
fn unset_removes_the_lines_of_the_entry() {
    let sb = Sandbox::new();
    let file = preserved(&sb, "u.yaml", YAML);
    ok(
        run(keyed(&sb)
            .args(["unset", "--preserve-format"])
            .arg(&file)
            .arg(r#"["db"]["port"]"#)),
        "unset",
    );
    // The inline comment of a removed entry stays (the reader puts it
    // before the entry), on a line of its own.
    ok(
        run(keyed(&sb)
            .args(["unset", "--preserve-format"])
            .arg(&file)
            .arg(r#"["name"]"#)),
        "unset commented",
    );
    let expected = YAML
        .replace("   port:    5432\n", "")
        .replace("name:   svc   # the name\n", "# the name\n");
    check(&sb, &file, &expected);
}

#[test]
fn the_config_store_setting_is_enough() {
    let sb = Sandbox::new();
    sb.write(
        ".sops.yaml",
        "stores:\n  dotenv:\n    preserve_format: true\n",
    );
    let file = preserved(&sb, "a.env", DOTENV);
    ok(
        run(keyed(&sb)
            .arg("set")
            .arg(&file)
            .args([r#"["PASS"]"#, r#""n3w""#])),
        "set",
    );
    ok(
        run(keyed(&sb)
            .arg("set")
            .arg(&file)
            .args([r#"["NEW"]"#, r#""x y""#])),
        "set new",
    );
    ok(
        run(keyed(&sb).arg("unset").arg(&file).arg(r#"["URL"]"#)),
        "unset",
    );
    let expected = "# app\nexport USER='admin'\nPASS=n3w\n\nNEW=x y\n";
    check(&sb, &file, expected);
}

#[test]
fn ini_and_json_values_change_in_place() {
    let sb = Sandbox::new();
    let ini = preserved(&sb, "a.ini", INI);
    ok(
        run(keyed(&sb)
            .args(["set", "--preserve-format"])
            .arg(&ini)
            .args([r#"["database"]["host"]"#, r#""db2.internal""#])),
        "set ini",
    );
    check(&sb, &ini, &INI.replace("db.internal", "db2.internal"));
    let json = preserved(&sb, "a.json", JSON);
    ok(
        run(keyed(&sb)
            .args(["set", "--preserve-format"])
            .arg(&json)
            .args([r#"["db"]["password"]"#, r#""q w""#])),
        "set json",
    );
    check(&sb, &json, &JSON.replace("\"p\"}", "\"q w\"}"));
    // A new INI key, in its section's style; a key removed with its line.
    ok(
        run(keyed(&sb)
            .args(["set", "--preserve-format"])
            .arg(&ini)
            .args([r#"["cache"]["size"]"#, r#""64""#])),
        "set new ini key",
    );
    ok(
        run(keyed(&sb)
            .args(["unset", "--preserve-format"])
            .arg(&ini)
            .arg(r#"["database"]["host"]"#)),
        "unset ini key",
    );
    check(
        &sb,
        &ini,
        &INI.replace("host   =  db.internal\n", "")
            .replace("ttl=300\n", "ttl=300\nsize=64\n"),
    );
    // A new JSON member, spaced like the one before it.
    ok(
        run(keyed(&sb)
            .args(["set", "--preserve-format"])
            .arg(&json)
            .args([r#"["db"]["port"]"#, r#""5432""#])),
        "set new json member",
    );
    ok(
        run(keyed(&sb)
            .args(["unset", "--preserve-format"])
            .arg(&json)
            .arg(r#"["port"]"#)),
        "unset json member",
    );
    check(
        &sb,
        &json,
        "{ \"name\" : \"svc\",\n  \"db\": {\"user\": \"admin\",   \"password\": \"q w\",   \"port\": \"5432\"}\n}\n",
    );
    // A new member holding an object cannot be placed yet: refused, the
    // file unchanged.
    let before = std::fs::read(&json).unwrap();
    let out = run(keyed(&sb)
        .args(["set", "--preserve-format"])
        .arg(&json)
        .args([r#"["new"]"#, r#"{"v": 1}"#]));
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("edit --preserve-format"), "{err}");
    assert_eq!(std::fs::read(&json).unwrap(), before);
}

#[test]
fn updatekeys_keeps_the_layout() {
    let sb = Sandbox::new();
    let file = preserved(&sb, "k.yaml", YAML);
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - age: {},{}\n",
            recipient(1),
            recipient(2)
        ),
    );
    ok(
        run(keyed(&sb)
            .args(["updatekeys", "-y", "--preserve-format"])
            .arg(&file)),
        "updatekeys",
    );
    check(&sb, &file, YAML);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(&recipient(2)), "{text}");
    // Key 2 alone decrypts it now.
    let two = ok(
        run(sb
            .enseal()
            .env("SOPS_AGE_KEY_FILE", key_file(2))
            .args(["decrypt", "--preserve-format"])
            .arg(&file)),
        "decrypt with key 2",
    );
    assert_eq!(String::from_utf8_lossy(&two.stdout), YAML);
    // Removing key 2 again: a new data key, the layout still kept.
    sb.write(
        ".sops.yaml",
        format!("creation_rules:\n  - age: {}\n", recipient(1)),
    );
    ok(
        run(keyed(&sb)
            .args(["updatekeys", "-y", "--preserve-format"])
            .arg(&file)),
        "updatekeys remove",
    );
    check(&sb, &file, YAML);
    assert!(!std::fs::read_to_string(&file)
        .unwrap()
        .contains(&recipient(2)));
}

#[test]
fn groups_add_and_delete_keep_the_layout() {
    let sb = Sandbox::new();
    let file = preserved(&sb, "g.ini", INI);
    ok(
        run(keyed(&sb)
            .args([
                "groups",
                "add",
                "-i",
                "--preserve-format",
                "--age",
                &recipient(2),
                "-f",
            ])
            .arg(&file)),
        "groups add",
    );
    check(&sb, &file, INI);
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .contains(&recipient(2)));
    ok(
        run(keyed(&sb)
            .args(["groups", "delete", "-i", "--preserve-format"])
            .args(["--shamir-secret-sharing-threshold", "1", "-f"])
            .arg(&file)
            .arg("1")),
        "groups delete",
    );
    check(&sb, &file, INI);
    assert!(!std::fs::read_to_string(&file)
        .unwrap()
        .contains(&recipient(2)));
}

#[test]
fn without_the_mode_the_normal_layout_is_written() {
    let sb = Sandbox::new();
    let file = preserved(&sb, "d.yaml", YAML);
    ok(
        run(keyed(&sb).arg("set").arg(&file).args([r#"["zeta"]"#, "2"])),
        "set",
    );
    // The reference's layout: 4-space indent, comments on their own lines.
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("db:\n    user: ENC["), "{text}");
    assert!(text.contains("\n#ENC["), "{text}");
    assert!(!text.contains("name:   ENC["), "{text}");
}

#[test]
fn bulk_updatekeys_follows_the_config_setting() {
    let sb = Sandbox::new();
    // `-r`: the bulk path.
    let dir = sb.path("d");
    std::fs::create_dir(&dir).unwrap();
    let a = dir.join("a.yaml");
    let b = dir.join("b.env");
    std::fs::rename(preserved(&sb, "a.yaml", YAML), &a).unwrap();
    std::fs::rename(preserved(&sb, "b.env", DOTENV), &b).unwrap();
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - age: {},{}\nstores:\n  yaml:\n    preserve_format: true\n  dotenv:\n    preserve_format: true\n",
            recipient(1),
            recipient(2)
        ),
    );
    ok(
        run(keyed(&sb).args(["updatekeys", "-y", "-r"]).arg(&dir)),
        "updatekeys -r",
    );
    check(&sb, &a, YAML);
    check(&sb, &b, DOTENV);
    for file in [&a, &b] {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(text.contains(&recipient(2)), "{text}");
    }
}

//! Format-preserving mode through the CLI: byte-for-byte round trips of a
//! corpus of real-world shaped files, and the reference sops decrypting
//! (and verifying the MAC of) every file the mode writes.

mod common;

use common::{key_file, recipient, require_sops, Sandbox};

const K8S: &str = "# Kubernetes secret\napiVersion: v1\nkind: Secret\nmetadata:\n  name: \"db-creds\"   # the name\n  labels: {app: web, tier: 'backend'}\ntype: Opaque\nstringData:\n  password: 'p@ss:w0rd'\n  cert: |\n    -----BEGIN CERT-----\n    abc\n    -----END CERT-----\n---\napiVersion: v1\nkind: ConfigMap\ndata:\n  port: \"8080\"\n  replicas: 3\n";
const HELM: &str = "## Helm values\nreplicaCount: 2\n\nimage:\n  repository: nginx   # upstream\n  tag: \"1.25\"\n  pullPolicy: IfNotPresent\n\nenv:\n  - name: 'DB_URL'\n    value: \"postgres://u:p@h/db?sslmode=require\"\n  # the token\n  - name: TOKEN\n    value: abc-123\nresources: {}\nnodeSelector: {disk: ssd}\n";
const COMPOSE_ENV: &str = "# docker-compose .env\nexport POSTGRES_PASSWORD=\"s3cr3t pass\"\nPOSTGRES_USER='admin'\n\nAPI_URL=https://example.org/?a=b\nEMPTY=\n";
const INI: &str = "; app settings\n[database]\nhost   =  db.internal\nport = 5432\npassword = \"p;ss\"\n\n[cache]\n# ttl in seconds\nttl=300\n";
const JSON: &str = "{ \"name\" : \"svc\",\n    \"port\":8080, \"ratio\": 0.5,\n  \"tags\": [ \"a\" , \"b\" ],\"nested\": {\"on\": true, \"none\": null}\n}\n";
/// Inline comments after flow collections and on sequence items (sops
/// moves them to the collection's start; they read back there).
const WORKFLOW: &str = "name: CI\non: [push, pull_request]   # triggers\njobs:\n  test:\n    runs-on: ubuntu-latest\n    strategy:\n      matrix:\n        rust: [stable, beta]  # channels\n        os:\n          - ubuntu-latest # main\n          - macos-latest\n    steps:\n      - uses: actions/checkout@v4 # pinned\n        with: {fetch-depth: 0}  # full history\n      - run: cargo test\n";

/// Several comment lines before a key or section: one `ENC[…]` for all.
const TOX: &str = "# Licensed under the MIT license\n# see LICENSE\n[tox]\nenvlist = py311\n\n[testenv]\n; the runner\n; and its flags\ncommands = pytest -q\n";

/// Local tags (sops reads through them: the value is a string).
const TAGGED: &str = "arguments:\n  resource:\n    spec: !REF googlecloudsdk.command_lib.resources:location\n    port: !Ref 8080\ncommands:\n  test: !Command\n    run: [cargo, test]\n";

fn corpus() -> Vec<(&'static str, &'static str)> {
    vec![
        ("command.yaml", TAGGED),
        ("tox.ini", TOX),
        ("ci.yaml", WORKFLOW),
        ("secret.yaml", K8S),
        ("values.yaml", HELM),
        ("compose.env", COMPOSE_ENV),
        ("app.ini", INI),
        ("data.json", JSON),
    ]
}

fn run(cmd: &mut std::process::Command) -> std::process::Output {
    cmd.output().expect("runs")
}

#[test]
fn corpus_round_trips_and_the_reference_decrypts_it() {
    let sops = require_sops();
    for (name, text) in corpus() {
        let sb = Sandbox::new();
        let input = sb.write(name, text);
        let enc = run(sb
            .enseal()
            .args(["encrypt", "--preserve-format", "--age", &recipient(1)])
            .arg(&input));
        assert!(
            enc.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&enc.stderr)
        );
        let ext = name.rsplit('.').next().unwrap();
        let enc_path = sb.write(&format!("enc.{ext}"), &enc.stdout);
        let dec = run(sb
            .enseal()
            .env("SOPS_AGE_KEY_FILE", key_file(1))
            .args(["decrypt", "--preserve-format"])
            .arg(&enc_path));
        assert!(
            dec.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&dec.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&dec.stdout), text, "{name}");
        // No plaintext value survives in the encrypted file.
        let enc_text = String::from_utf8_lossy(&enc.stdout);
        for secret in ["p@ss:w0rd", "s3cr3t", "db.internal", "abc-123"] {
            assert!(
                !enc_text.contains(secret),
                "{name}: {secret} in\n{enc_text}"
            );
        }
        let Some(sops) = &sops else { continue };
        let normal = run(sb
            .enseal()
            .args(["encrypt", "--age", &recipient(1)])
            .arg(&input));
        assert!(normal.status.success());
        let normal_path = sb.write(&format!("normal.{ext}"), &normal.stdout);
        let a = run(sb
            .sops(sops)
            .env("SOPS_AGE_KEY_FILE", key_file(1))
            .arg("decrypt")
            .arg(&enc_path));
        assert!(
            a.status.success(),
            "{name}: reference: {}",
            String::from_utf8_lossy(&a.stderr)
        );
        let b = run(sb
            .sops(sops)
            .env("SOPS_AGE_KEY_FILE", key_file(1))
            .arg("decrypt")
            .arg(&normal_path));
        assert!(b.status.success());
        assert_eq!(
            a.stdout, b.stdout,
            "{name}: the reference reads other values"
        );
    }
}

#[test]
fn config_option_turns_the_mode_on() {
    let sb = Sandbox::new();
    sb.write(
        ".sops.yaml",
        "stores:\n  yaml:\n    preserve_format: true\n",
    );
    let input = sb.write("v.yaml", HELM);
    let enc = run(sb
        .enseal()
        .args(["encrypt", "--age", &recipient(1)])
        .arg(&input));
    assert!(
        enc.status.success(),
        "{}",
        String::from_utf8_lossy(&enc.stderr)
    );
    let text = String::from_utf8_lossy(&enc.stdout);
    assert!(text.starts_with("#ENC["), "{text}");
    assert!(text.contains("\nresources: {}\n"), "{text}");
    // JSON is not named: normal layout.
    let json = sb.write("d.json", JSON);
    let enc = run(sb
        .enseal()
        .args(["encrypt", "--age", &recipient(1)])
        .arg(&json));
    assert!(String::from_utf8_lossy(&enc.stdout).starts_with("{\n\t\"name\": "));
}

#[test]
fn refusals_name_the_file_and_position() {
    let sb = Sandbox::new();
    let input = sb.write("a.yaml", "base: &b {x: 1}\nother: *b\n");
    let out = run(sb
        .enseal()
        .args(["encrypt", "--preserve-format", "--age", &recipient(1)])
        .arg(&input));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "a.yaml: cannot keep the layout: line 1, column 14: this value is under a YAML anchor"
        ),
        "{err}"
    );
    assert!(err.contains("\nhint: "), "{err}");
    let bin = sb.write("x.bin", "raw");
    let out = run(sb
        .enseal()
        .args(["encrypt", "--preserve-format", "--age", &recipient(1)])
        .arg(&bin));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--preserve-format needs"));
}

#[test]
fn rotate_keeps_the_layout() {
    let sb = Sandbox::new();
    let input = sb.write("secret.yaml", K8S);
    let enc = run(sb
        .enseal()
        .args(["encrypt", "--preserve-format", "--age", &recipient(1)])
        .arg(&input));
    assert!(enc.status.success());
    let enc_path = sb.write("enc.yaml", &enc.stdout);
    let rotated = run(sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .args(["rotate", "--preserve-format", "--add-age", &recipient(2)])
        .arg(&enc_path));
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    assert_ne!(rotated.stdout, enc.stdout);
    let rot_path = sb.write("rot.yaml", &rotated.stdout);
    let dec = preserve_decrypt(&sb, 2, &rot_path);
    assert_eq!(String::from_utf8_lossy(&dec.stdout), K8S);
    if let Some(sops) = require_sops() {
        let out = run(sb
            .sops(&sops)
            .env("SOPS_AGE_KEY_FILE", key_file(2))
            .arg("decrypt")
            .arg(&rot_path));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn decrypt_flag_with_extract_is_refused() {
    let sb = Sandbox::new();
    let input = sb.write("a.yaml", "a: 1\n");
    let enc = run(sb
        .enseal()
        .args(["encrypt", "--preserve-format", "--age", &recipient(1)])
        .arg(&input));
    let enc_path = sb.write("enc.yaml", &enc.stdout);
    let out = run(sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .args(["decrypt", "--preserve-format", "--extract", "[\"a\"]"])
        .arg(&enc_path));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--extract"));
    // The normal decrypt of a format-preserving file is the reference's layout.
    let out = run(sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .arg("decrypt")
        .arg(&enc_path));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a: 1\n");
}

#[test]
fn edit_keeps_the_layout_and_unchanged_ciphertexts() {
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.root().join("run")).unwrap();
    let input = sb.write("values.yaml", HELM);
    let enc = run(sb
        .enseal()
        .args(["encrypt", "--preserve-format", "--age", &recipient(1)])
        .arg(&input));
    assert!(enc.status.success());
    let enc_path = sb.write("enc.yaml", &enc.stdout);
    let editor = sb.root().join("ed.sh");
    std::fs::write(&editor, "#!/bin/sh\nsed -i 's/abc-123/xyz-789/' \"$1\"\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = run(sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .env("EDITOR", &editor)
        .env("XDG_RUNTIME_DIR", sb.root().join("run"))
        .args(["edit", "--preserve-format"])
        .arg(&enc_path));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let edited = std::fs::read_to_string(&enc_path).unwrap();
    let before = String::from_utf8_lossy(&enc.stdout);
    // Only the edited value's line (and the metadata) changed.
    let data = |t: &str| -> Vec<String> {
        t.lines()
            .take_while(|l| *l != "sops:")
            .map(str::to_string)
            .collect()
    };
    let (after, before) = (data(&edited), data(&before));
    assert_eq!(after.len(), before.len());
    let changed: Vec<_> = after.iter().zip(&before).filter(|(a, b)| a != b).collect();
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert!(changed[0].0.starts_with("    value: ENC["), "{changed:?}");
    let dec = run(sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .args(["decrypt", "--preserve-format"])
        .arg(&enc_path));
    assert_eq!(
        String::from_utf8_lossy(&dec.stdout),
        HELM.replace("abc-123", "xyz-789")
    );
    if let Some(sops) = require_sops() {
        let out = run(sb
            .sops(&sops)
            .env("SOPS_AGE_KEY_FILE", key_file(1))
            .arg("decrypt")
            .arg(&enc_path));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn anchors_on_values_in_clear_are_kept_and_the_reference_agrees() {
    let text = "x-common: &common\n  image: nginx:1.25 # pinned\n  restart: always\nservices:\n  web:\n    <<: *common\n    secret_token: hunter2\n";
    let sb = Sandbox::new();
    let input = sb.write("compose.yaml", text);
    let enc = run(sb
        .enseal()
        .args([
            "encrypt",
            "--preserve-format",
            "--encrypted-regex",
            "^secret",
            "--age",
            &recipient(1),
        ])
        .arg(&input));
    assert!(
        enc.status.success(),
        "{}",
        String::from_utf8_lossy(&enc.stderr)
    );
    let enc_text = String::from_utf8_lossy(&enc.stdout);
    assert!(
        enc_text.starts_with("x-common: &common\n  image: nginx:1.25 # pinned\n"),
        "{enc_text}"
    );
    assert!(
        enc_text.contains("    <<: *common\n    secret_token: ENC["),
        "{enc_text}"
    );
    let enc_path = sb.write("enc.yaml", &enc.stdout);
    let dec = run(sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .args(["decrypt", "--preserve-format"])
        .arg(&enc_path));
    assert_eq!(String::from_utf8_lossy(&dec.stdout), text);
    if let Some(sops) = require_sops() {
        let out = run(sb
            .sops(&sops)
            .env("SOPS_AGE_KEY_FILE", key_file(1))
            .arg("decrypt")
            .arg(&enc_path));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("secret_token: hunter2"));
    }
}

#[test]
fn files_the_reference_wrote_decrypt_in_their_own_layout() {
    let Some(sops) = require_sops() else { return };
    // Not the files with comments in sequences, which the reference stores
    // as `- ENC[…]` items (refused, see docs/preserve.md).
    let corpus = corpus()
        .into_iter()
        .filter(|(n, _)| !matches!(*n, "values.yaml" | "ci.yaml"));
    for (name, text) in corpus {
        let sb = Sandbox::new();
        let input = sb.write(name, text);
        let enc = run(sb
            .sops(&sops)
            .args(["encrypt", "--age", &recipient(1)])
            .arg(&input));
        assert!(
            enc.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&enc.stderr)
        );
        let ext = name.rsplit('.').next().unwrap();
        let enc_path = sb.write(&format!("ref.{ext}"), &enc.stdout);
        let dec = run(sb
            .enseal()
            .env("SOPS_AGE_KEY_FILE", key_file(1))
            .args(["decrypt", "--preserve-format"])
            .arg(&enc_path));
        assert!(
            dec.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&dec.stderr)
        );
        let out = String::from_utf8_lossy(&dec.stdout);
        assert!(
            !out.contains("ENC[") && !out.contains("sops"),
            "{name}: {out}"
        );
        // Same values as the reference's own decryption.
        let plain_path = sb.write(&format!("plain.{ext}"), &dec.stdout);
        let again = run(sb
            .enseal()
            .args(["encrypt", "--age", &recipient(1)])
            .arg(&plain_path));
        let again_path = sb.write(&format!("again.{ext}"), &again.stdout);
        let a = run(sb
            .sops(&sops)
            .env("SOPS_AGE_KEY_FILE", key_file(1))
            .arg("decrypt")
            .arg(&again_path));
        let b = run(sb
            .sops(&sops)
            .env("SOPS_AGE_KEY_FILE", key_file(1))
            .arg("decrypt")
            .arg(&enc_path));
        assert_eq!(a.stdout, b.stdout, "{name}");
    }
}

#[test]
fn encrypting_onto_the_previous_output_keeps_unchanged_ciphertexts() {
    let sb = Sandbox::new();
    let input = sb.write("secret.yaml", K8S);
    let out_path = sb.path("secret.enc.yaml");
    let encrypt = |sb: &Sandbox| {
        run(sb
            .enseal()
            .env("SOPS_AGE_KEY_FILE", key_file(1))
            .args([
                "encrypt",
                "--preserve-format",
                "--age",
                &recipient(1),
                "--output",
            ])
            .arg(&out_path)
            .arg(&input))
    };
    assert!(encrypt(&sb).status.success());
    let first = std::fs::read_to_string(&out_path).unwrap();
    std::fs::write(&input, K8S.replace("replicas: 3", "replicas: 4")).unwrap();
    let second = encrypt(&sb);
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let second = std::fs::read_to_string(&out_path).unwrap();
    let data = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !l.starts_with("    ") && !l.starts_with("sops:"))
            .map(str::to_string)
            .collect()
    };
    let (a, b) = (data(&first), data(&second));
    let changed: Vec<_> = a.iter().zip(&b).filter(|(x, y)| x != y).collect();
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert!(changed[0].1.starts_with("  replicas: ENC["), "{changed:?}");
}

/// A systemd unit with repeated keys and a license header with blank
/// lines between its comment lines: the lines the sops data model cannot
/// hold travel in encrypted comments.
const UNIT: &str = "#  SPDX-License-Identifier: LGPL-2.1-or-later\n#\n\n#  This file is part of systemd.\n[Unit]\nDescription=Network (Pre)\nDocumentation=man:systemd.special(7)\nDocumentation=https://systemd.io/NETWORK_ONLINE\nRefuseManualStart=yes\n\n[Service]\n# credentials\nLoadCredential=passwd.hashed-password.root\nLoadCredential=passwd.shell.root\nExecStart=/usr/bin/true\n";

/// The format-preserving encryption of `text` as the CLI does it once it
/// reads the documents with `preserve::carry` (the library path).
fn preserve_encrypt_with_carry(kind: enseal::format::FormatKind, text: &str) -> Vec<u8> {
    use enseal::document::{self, EncryptSettings};
    use enseal::format::StoreOptions;
    use enseal::keys::{age::AgeKey, MasterKey};
    let settings = EncryptSettings {
        key_groups: vec![vec![MasterKey::Age(AgeKey::new(&recipient(1)).unwrap())]],
        ..Default::default()
    };
    let store = kind.store(&StoreOptions::default());
    let read = store.parse_plain(text.as_bytes()).expect("parses");
    let plain = enseal::preserve::carry(kind, text.as_bytes(), read).expect("carries");
    let enc = document::encrypt(plain.clone(), settings).expect("encrypts");
    enseal::preserve::encrypt(
        kind,
        text.as_bytes(),
        &plain,
        &enc.documents,
        &enc.metadata.to_map(),
    )
    .expect("preserve encrypts")
}

/// `enseal decrypt --preserve-format PATH` with test key `key`; must succeed.
fn preserve_decrypt(sb: &Sandbox, key: u8, path: &std::path::Path) -> std::process::Output {
    let dec = run(sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", key_file(key))
        .args(["decrypt", "--preserve-format"])
        .arg(path));
    assert!(
        dec.status.success(),
        "{}",
        String::from_utf8_lossy(&dec.stderr)
    );
    dec
}

/// Checks a file written with carried layout (`out`, from `plain`):
/// enseal's `decrypt --preserve-format` gives `plain` back, and the
/// reference decrypts it (MAC verified) to the values of a normal
/// encryption of `plain`. Returns the reference's decrypted text of both
/// files, or `None` without a reference (see `require_sops`).
fn carried_through_the_reference(
    sb: &Sandbox,
    sops: Option<&std::path::Path>,
    ext: &str,
    plain: &str,
    out: &[u8],
) -> Option<(String, String)> {
    let enc_path = sb.write(&format!("enc.{ext}"), out);
    let dec = preserve_decrypt(sb, 1, &enc_path);
    assert_eq!(String::from_utf8_lossy(&dec.stdout), plain);
    let sops = sops?;
    let input = sb.write(&format!("plain.{ext}"), plain);
    let normal = run(sb
        .enseal()
        .args(["encrypt", "--age", &recipient(1)])
        .arg(&input));
    assert!(normal.status.success());
    let normal_path = sb.write(&format!("normal.{ext}"), &normal.stdout);
    let decrypt = |path: &std::path::Path, as_json: bool| {
        let mut cmd = sb.sops(sops);
        cmd.env("SOPS_AGE_KEY_FILE", key_file(1)).arg("decrypt");
        if as_json {
            cmd.args(["--output-type", "json"]);
        }
        let o = run(cmd.arg(path));
        assert!(
            o.status.success(),
            "reference: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    };
    // Same values, MAC verified (the reference exits non-zero otherwise).
    assert_eq!(decrypt(&enc_path, true), decrypt(&normal_path, true));
    Some((decrypt(&enc_path, false), decrypt(&normal_path, false)))
}

#[test]
fn carried_ini_lines_round_trip_and_the_reference_decrypts_them() {
    let sops = require_sops();
    let sb = Sandbox::new();
    let out = preserve_encrypt_with_carry(enseal::format::FormatKind::Ini, UNIT);
    let enc_text = String::from_utf8(out.clone()).unwrap();
    for secret in ["man:systemd", "hashed-password", "SPDX", "enseal-preserve"] {
        assert!(!enc_text.contains(secret), "{secret} in\n{enc_text}");
    }
    let Some((shown, normal)) =
        carried_through_the_reference(&sb, sops.as_deref(), "ini", UNIT, &out)
    else {
        return;
    };
    // As INI: the carried lines are comment lines, and the comment above
    // the repeated key (which go-ini drops) is kept.
    assert!(
        shown.contains("; enseal-preserve: Documentation=man:systemd.special(7)\n"),
        "{shown}"
    );
    let no_comments = |t: &str| -> String {
        t.lines()
            .filter(|l| !l.trim_start().starts_with([';', '#']))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    assert_eq!(no_comments(&shown), no_comments(&normal));
}

/// Multi-line scalars in spellings the sops data model does not keep (a
/// plain scalar over two lines, a literal block whose blank line holds
/// spaces, a folded block).
const MULTILINE: &str = "name: CI\njobs:\n  build:\n    steps:\n      - name: Build without std\n        run: cargo check --manifest-path tests/crate/Cargo.toml --target\n          x86_64 --no-default-features\n        if: matrix.target\n      - name: Release\n        run: |\n          echo \"tag: $TAG\"\n          \n          echo done\n    summary: >-\n      one two\n      three\n";

#[test]
fn carried_yaml_scalars_round_trip_and_the_reference_decrypts_them() {
    let sops = require_sops();
    let sb = Sandbox::new();
    let out = preserve_encrypt_with_carry(enseal::format::FormatKind::Yaml, MULTILINE);
    let enc_text = String::from_utf8(out.clone()).unwrap();
    for secret in [
        "--no-default-features",
        "echo done",
        "one two",
        "enseal-preserve",
    ] {
        assert!(!enc_text.contains(secret), "{secret} in\n{enc_text}");
    }
    let Some((shown, normal)) =
        carried_through_the_reference(&sb, sops.as_deref(), "yaml", MULTILINE, &out)
    else {
        return;
    };
    // As YAML: the same text plus one comment per carried scalar.
    let carriers: Vec<&str> = shown
        .lines()
        .filter(|l| l.trim_start().starts_with("# enseal-preserve: "))
        .collect();
    assert_eq!(carriers.len(), 3, "{shown}");
    let without: String = shown
        .lines()
        .filter(|l| !l.trim_start().starts_with("# enseal-preserve: "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(without, normal);
}

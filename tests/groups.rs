//! `enseal groups add` / `groups delete`: key groups added with the data
//! key kept (values, MAC and date unchanged), removed with a new data key
//! (every value encrypted again), Shamir thresholds, error paths, and
//! interop with the reference sops.

mod common;
mod keyset;

use common::*;
use keyset::*;
use std::path::{Path, PathBuf};

const PLAIN: &str = "a: 1\nb: secret\n";

fn encrypt(sb: &Sandbox, recipients: &str) -> PathBuf {
    let plain = sb.write("plain.yaml", PLAIN);
    let out = run(sb
        .enseal()
        .args(["encrypt", "--age", recipients])
        .arg(&plain))
    .ok();
    sb.write("f.yaml", &out.stdout)
}

fn decrypt_with(sb: &Sandbox, key: &Path, file: &Path) -> Out {
    run(with_keys(sb.enseal(), key).arg("decrypt").arg(file))
}

#[test]
fn add_keeps_the_data_key_and_delete_makes_a_new_one() {
    let sb = Sandbox::new();
    let ks = KeySet::new(&sb);
    let file = encrypt(&sb, ks.r(0));
    let before = std::fs::read_to_string(&file).unwrap();

    // To stdout: the file is not changed.
    let out = run(with_keys(sb.enseal(), &ks.all)
        .args(["groups", "add", "--file"])
        .arg(&file)
        .args(["--age", ks.r(1), "--age"])
        .arg(format!("{},{}", ks.r(2), ks.r(0))))
    .ok();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
    let two = out.out();
    assert_eq!(meta_line(&two, "shamir_threshold"), "shamir_threshold: 2");
    assert_eq!(
        recipients_in(&two),
        vec![ks.r(0), ks.r(1), ks.r(2), ks.r(0)]
    );
    assert_eq!(value_encs(&before), value_encs(&two));
    for field in ["mac", "lastmodified", "version"] {
        assert_eq!(meta_line(&before, field), meta_line(&two, field));
    }
    let two_file = sb.write("two.yaml", &two);
    assert_eq!(
        decrypt_with(&sb, &ks.only(&[0]), &two_file).ok().out(),
        PLAIN
    );
    assert_eq!(decrypt_with(&sb, &ks.only(&[1]), &two_file).code, Some(128));

    // In place, with -f and -i; then delete the first group with threshold 2
    // over three groups.
    run(with_keys(sb.enseal(), &ks.all)
        .args(["groups", "add", "-i", "-f"])
        .arg(&two_file)
        .args(["--age", ks.r(2)]))
    .ok();
    let three = std::fs::read_to_string(&two_file).unwrap();
    assert_eq!(meta_line(&three, "shamir_threshold"), "shamir_threshold: 2");
    run(with_keys(sb.enseal(), &ks.all)
        .args(["groups", "delete", "-i", "--file"])
        .arg(&two_file)
        .arg("0"))
    .ok();
    let after = std::fs::read_to_string(&two_file).unwrap();
    assert_eq!(
        recipients_in(&after),
        vec![ks.r(1), ks.r(2), ks.r(0), ks.r(2)]
    );
    // The deleted group's holder had the data key: a new one, every value
    // encrypted again (sops would keep it).
    let (old_encs, new_encs) = (value_encs(&three), value_encs(&after));
    assert_eq!(old_encs.len(), new_encs.len());
    assert!(old_encs.iter().zip(&new_encs).all(|(o, n)| o != n));
    assert_ne!(meta_line(&three, "mac"), meta_line(&after, "mac"));
    assert_eq!(meta_line(&three, "version"), meta_line(&after, "version"));
    assert_eq!(
        decrypt_with(&sb, &ks.only(&[2]), &two_file).ok().out(),
        PLAIN
    );
    assert_eq!(decrypt_with(&sb, &ks.only(&[1]), &two_file).code, Some(128));

    // Delete down to one group, lowering the threshold.
    run(with_keys(sb.enseal(), &ks.all)
        .args([
            "groups",
            "delete",
            "-i",
            "--shamir-secret-sharing-threshold",
            "1",
            "-f",
        ])
        .arg(&two_file)
        .arg("1"))
    .ok();
    let one = std::fs::read_to_string(&two_file).unwrap();
    assert_eq!(recipients_in(&one), vec![ks.r(1), ks.r(2), ks.r(0)]);
    assert!(one.contains("shamir_threshold: 1"));
    assert!(!one.contains("key_groups:"));
    assert_eq!(
        decrypt_with(&sb, &ks.only(&[1]), &two_file).ok().out(),
        PLAIN
    );
}

#[test]
fn error_paths() {
    let sb = Sandbox::new();
    let ks = KeySet::new(&sb);
    let file = encrypt(&sb, ks.r(0));
    let two = run(with_keys(sb.enseal(), &ks.all)
        .args(["groups", "add", "-f"])
        .arg(&file)
        .args(["--age", ks.r(1)]))
    .ok();
    let two = sb.write("two.yaml", &two.stdout);
    let before = std::fs::read(&two).unwrap();
    let e = || with_keys(sb.enseal(), &ks.all);
    let check = |args: &[&str], code: i32, message: &str| {
        let out = run(e().args(args));
        assert_eq!(out.code, Some(code), "{args:?}: {}", out.err());
        assert!(out.err().contains(message), "{args:?}: {}", out.err());
        assert_eq!(
            std::fs::read(&two).unwrap(),
            before,
            "{args:?} changed the file"
        );
    };
    let f = two.to_str().unwrap();
    check(
        &["groups", "delete", "-i", "-f", f, "0"],
        1,
        "removing this key group will make the Shamir threshold impossible to satisfy: Shamir threshold is 2, but we only have 1 key groups",
    );
    check(
        &["groups", "delete", "-i", "-f", f, "7"],
        1,
        "no key group 7",
    );
    check(
        &["groups", "delete", "-i", "-f", f, "x"],
        1,
        "failed to parse [index] argument",
    );
    check(
        &["groups", "delete", "-i", "-f", f],
        1,
        "exactly one positional argument (index) required",
    );
    check(
        &["groups", "add", "-i", "-f", f, "--age", ks.r(2), "extra"],
        1,
        "no positional arguments allowed",
    );
    check(
        &["groups", "add", "-i", "-f", f, "--age", "bogus"],
        1,
        "bogus",
    );
    check(&["groups", "add", "-i", "-f", f], 1, "no keys given");
    check(
        &["groups", "add", "-i", "-f", f, "--hckms", "region:uuid"],
        1,
        "not a HuaweiCloud region id",
    );
    check(
        &[
            "groups",
            "add",
            "-i",
            "-f",
            f,
            "--age",
            ks.r(2),
            "--shamir-secret-sharing-threshold",
            "1",
        ],
        1,
        "at least 2",
    );
    check(
        &[
            "groups",
            "add",
            "-i",
            "-f",
            f,
            "--age",
            ks.r(2),
            "--shamir-secret-sharing-threshold",
            "4",
        ],
        1,
        "Shamir threshold is 4",
    );
    check(
        &["groups", "add", "-i", "--age", ks.r(2)],
        100,
        "no file specified",
    );
    // Without identities for the threshold, the data key cannot be recovered.
    let out = run(with_keys(sb.enseal(), &ks.files[0]).args([
        "groups",
        "add",
        "-i",
        "-f",
        f,
        "--age",
        ks.r(2),
    ]));
    assert_eq!(out.code, Some(128));
    assert_eq!(std::fs::read(&two).unwrap(), before);
}

#[test]
fn interop_with_reference() {
    let Some(sops) = require_sops() else {
        return;
    };
    let sb = Sandbox::new();
    let ks = KeySet::new(&sb);
    for (name, plain) in [
        ("p.yaml", PLAIN),
        ("p.json", "{\"a\": 1, \"b\": \"two\"}\n"),
        ("p.env", "A=1\nB=two\n"),
        ("p.ini", "[s]\nk = v\n"),
    ] {
        let input = sb.write(name, plain);
        let by_sops = run(with_keys(sb.sops(&sops), &ks.all)
            .args(["encrypt", "--age", ks.r(0)])
            .arg(&input))
        .ok();
        let file = sb.write(&format!("enc-{name}"), &by_sops.stdout);
        let expected = run(with_keys(sb.sops(&sops), &ks.all).arg("decrypt").arg(&file))
            .ok()
            .out();
        for args in [
            vec!["add", "--age", ks.r(1)],
            vec!["add", "--age", ks.r(2)],
            vec!["delete", "0"],
        ] {
            let ours = run(with_keys(sb.enseal(), &ks.all)
                .arg("groups")
                .arg(args[0])
                .arg("--file")
                .arg(&file)
                .args(&args[1..]))
            .ok();
            let theirs = run(with_keys(sb.sops(&sops), &ks.all)
                .arg("groups")
                .arg(args[0])
                .arg("--file")
                .arg(&file)
                .args(&args[1..]))
            .ok();
            let b = theirs
                .out()
                .replace("\"hc_vault\": null", "\"hc_vault\": []");
            assert_eq!(
                normalize_encrypted(&ours.out()),
                normalize_encrypted(&b),
                "{name} {args:?}"
            );
            std::fs::write(&file, &ours.stdout).unwrap();
            // The reference decrypts (and verifies) what enseal wrote.
            let out = run(with_keys(sb.sops(&sops), &ks.all).arg("decrypt").arg(&file)).ok();
            assert_eq!(out.out(), expected, "{name} {args:?}");
        }
        // Two groups of three remain, [r1] and [r2], threshold 2.
        let out = run(with_keys(sb.sops(&sops), &ks.only(&[1, 2]))
            .arg("decrypt")
            .arg(&file))
        .ok();
        assert_eq!(out.out(), expected, "{name}");
        let out = run(with_keys(sb.sops(&sops), &ks.only(&[0, 1]))
            .arg("decrypt")
            .arg(&file));
        assert_eq!(out.code, Some(128), "{name}");
    }
}

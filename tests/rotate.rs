//! `enseal rotate` and legacy `-r`: a new data key, all values
//! re-encrypted, `--add-age` / `--rm-age`, error paths, and interop with
//! the reference sops.

mod common;
mod keyset;

use common::*;
use keyset::*;

const PLAIN: &str = "a: 1\nb: secret\nlist:\n    - x\n    - 2.5\n#note\nc_unencrypted: clear\n";

fn encrypt(sb: &Sandbox, recipients: &str) -> std::path::PathBuf {
    let plain = sb.write("plain.yaml", PLAIN);
    let out = run(sb
        .enseal()
        .args(["encrypt", "--age", recipients])
        .arg(&plain))
    .ok();
    sb.write("f.yaml", &out.stdout)
}

fn decrypt_with(sb: &Sandbox, key: &std::path::Path, file: &std::path::Path) -> Out {
    run(with_keys(sb.enseal(), key).arg("decrypt").arg(file))
}

#[test]
fn rotate_changes_the_data_key_and_every_ciphertext() {
    let sb = Sandbox::new();
    let ks = KeySet::new(&sb);
    let file = encrypt(&sb, ks.r(0));
    let before = std::fs::read_to_string(&file).unwrap();
    let out = run(with_keys(sb.enseal(), &ks.all).arg("rotate").arg(&file)).ok();
    let after = out.out();
    // Not written in place without -i.
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
    let (old, new) = (value_encs(&before), value_encs(&after));
    assert_eq!(old.len(), new.len());
    assert!(old.len() >= 4, "{before}");
    for (o, n) in old.iter().zip(&new) {
        assert_ne!(o, n, "a value kept its ciphertext");
        let iv = |s: &str| {
            s.split(",iv:")
                .nth(1)
                .unwrap()
                .split(',')
                .next()
                .unwrap()
                .to_string()
        };
        assert_ne!(iv(o), iv(n), "IVs are fresh");
    }
    assert_ne!(armors(&before), armors(&after));
    assert_ne!(meta_line(&before, "mac"), meta_line(&after, "mac"));
    assert_eq!(recipients_in(&after), vec![ks.r(0).to_string()]);
    assert!(after.contains("c_unencrypted: clear"));
    assert_eq!(
        meta_line(&before, "unencrypted_suffix"),
        meta_line(&after, "unencrypted_suffix")
    );
    let rotated = sb.write("rotated.yaml", &after);
    assert_eq!(decrypt_with(&sb, &ks.all, &rotated).ok().out(), PLAIN);

    // In place.
    run(with_keys(sb.enseal(), &ks.all)
        .args(["rotate", "-i"])
        .arg(&file))
    .ok();
    let in_place = std::fs::read_to_string(&file).unwrap();
    assert_ne!(in_place, before);
    assert_eq!(decrypt_with(&sb, &ks.all, &file).ok().out(), PLAIN);
    // --output.
    let target = sb.path("out.yaml");
    run(with_keys(sb.enseal(), &ks.all)
        .args(["rotate", "--output"])
        .arg(&target)
        .arg(&file))
    .ok();
    assert_eq!(decrypt_with(&sb, &ks.all, &target).ok().out(), PLAIN);
}

#[test]
fn add_and_remove_recipients() {
    let sb = Sandbox::new();
    let ks = KeySet::new(&sb);
    let file = encrypt(&sb, ks.r(0));
    run(with_keys(sb.enseal(), &ks.only(&[0]))
        .args(["rotate", "-i", "--add-age"])
        .arg(format!("{}, {}", ks.r(1), ks.r(2)))
        .args(["--rm-age", ks.r(0)])
        .arg(&file))
    .ok();
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(recipients_in(&text), vec![ks.r(1), ks.r(2)]);
    let out = decrypt_with(&sb, &ks.files[0], &file);
    assert_eq!(out.code, Some(128), "the removed key still decrypts");
    assert_eq!(decrypt_with(&sb, &ks.files[1], &file).ok().out(), PLAIN);
    assert_eq!(decrypt_with(&sb, &ks.files[2], &file).ok().out(), PLAIN);

    // Removing a key that is not there changes nothing but the data key.
    run(with_keys(sb.enseal(), &ks.files[1])
        .args(["rotate", "-i", "--rm-age", ks.r(0)])
        .arg(&file))
    .ok();
    assert_eq!(
        recipients_in(&std::fs::read_to_string(&file).unwrap()),
        vec![ks.r(1), ks.r(2)]
    );

    // Legacy mode: -r with the global flags.
    run(with_keys(sb.enseal(), &ks.files[1])
        .args(["-r", "-i", "--add-age", ks.r(0), "--rm-age", ks.r(2)])
        .arg(&file))
    .ok();
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(recipients_in(&text), vec![ks.r(1), ks.r(0)]);
    assert_eq!(decrypt_with(&sb, &ks.files[0], &file).ok().out(), PLAIN);
    assert_eq!(decrypt_with(&sb, &ks.files[2], &file).code, Some(128));
}

#[test]
fn error_paths() {
    let sb = Sandbox::new();
    let ks = KeySet::new(&sb);
    let file = encrypt(&sb, ks.r(0));
    let before = std::fs::read(&file).unwrap();
    let e = || with_keys(sb.enseal(), &ks.all);

    let out = run(e()
        .args(["rotate", "-i", "--add-hckms", "region:uuid"])
        .arg(&file));
    assert_eq!(out.code, Some(1));
    assert!(out.err().contains("region:uuid"), "{}", out.err());
    assert!(
        out.err().contains("not a HuaweiCloud region id"),
        "{}",
        out.err()
    );

    let out = run(e().args(["rotate", "--add-age", ks.r(1), "missing.yaml"]));
    assert_eq!(out.code, Some(49));
    assert!(out
        .err()
        .contains("cannot add or remove keys on non-existent file"));
    let out = run(e().args(["rotate", "missing.yaml"]));
    assert_eq!(out.code, Some(2));
    let out = run(e().args(["rotate"]));
    assert_eq!(out.code, Some(100));

    let out = run(e().args(["rotate", "-i", "--add-age", "bogus"]).arg(&file));
    assert_eq!(out.code, Some(1));
    assert!(out.err().contains("bogus"), "{}", out.err());

    // Removing the only key leaves an empty group.
    let out = run(e().args(["rotate", "-i", "--rm-age", ks.r(0)]).arg(&file));
    assert_eq!(out.code, Some(1));
    assert!(out.err().contains("no keys left"), "{}", out.err());

    // Without the identity: the data key cannot be recovered.
    let out = run(with_keys(sb.enseal(), &ks.files[1])
        .args(["rotate", "-i"])
        .arg(&file));
    assert_eq!(out.code, Some(128));

    // -i and --output together.
    let out = run(e().args(["rotate", "-i", "--output", "x.yaml"]).arg(&file));
    assert_eq!(out.code, Some(8));
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "file changed by a failed rotate"
    );

    // A file with an hckms key whose region is no region id (it would
    // become a host name): rotating is refused before any request, and
    // the key can still be removed by its key id.
    let text = String::from_utf8(before.clone()).unwrap().replacen(
        "sops:\n",
        "sops:\n    hckms:\n        - key_id: evil.example/x:abc\n          created_at: \"2026-01-01T00:00:00Z\"\n          enc: AQID\n",
        1,
    );
    let hck = sb.write("hck.yaml", &text);
    assert_eq!(decrypt_with(&sb, &ks.all, &hck).ok().out(), PLAIN);
    let out = run(e().args(["rotate", "-i"]).arg(&hck));
    assert_ne!(out.code, Some(0));
    assert!(
        out.err().contains("\"evil.example/x:abc\"")
            && out.err().contains("not a HuaweiCloud region id"),
        "{}",
        out.err()
    );
    assert_eq!(std::fs::read_to_string(&hck).unwrap(), text);
    run(e()
        .args(["rotate", "-i", "--rm-hckms"])
        .arg(" evil.example/x:abc ")
        .arg(&hck))
    .ok();
    let rotated = std::fs::read_to_string(&hck).unwrap();
    assert!(!rotated.contains("hckms"), "{rotated}");
    assert_eq!(decrypt_with(&sb, &ks.all, &hck).ok().out(), PLAIN);
}

#[test]
fn rotate_keeps_shamir_groups() {
    let sb = Sandbox::new();
    let ks = KeySet::new(&sb);
    let file = encrypt(&sb, ks.r(0));
    run(with_keys(sb.enseal(), &ks.all)
        .args(["groups", "add", "-i", "--file"])
        .arg(&file)
        .args(["--age", ks.r(1)]))
    .ok();
    run(with_keys(sb.enseal(), &ks.all)
        .args(["rotate", "-i", "--add-age", ks.r(2)])
        .arg(&file))
    .ok();
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(meta_line(&text, "shamir_threshold"), "shamir_threshold: 2");
    assert_eq!(recipients_in(&text), vec![ks.r(0), ks.r(2), ks.r(1)]);
    // One group is not enough; one key of each group is.
    assert_eq!(decrypt_with(&sb, &ks.only(&[0, 2]), &file).code, Some(128));
    assert_eq!(
        decrypt_with(&sb, &ks.only(&[2, 1]), &file).ok().out(),
        PLAIN
    );
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
        ("p.json", "{\"a\": 1, \"b\": [\"x\", true]}\n"),
        ("p.env", "A=1\nB=two\n"),
        ("p.ini", "[s]\nk = v\n"),
    ] {
        let input = sb.write(name, plain);
        let by_sops = run(with_keys(sb.sops(&sops), &ks.all)
            .args(["encrypt", "--age", ks.r(0)])
            .arg(&input))
        .ok();
        let file = sb.write(&format!("enc-{name}"), &by_sops.stdout);
        run(with_keys(sb.enseal(), &ks.all)
            .args(["rotate", "-i", "--add-age", ks.r(1), "--rm-age", ks.r(0)])
            .arg(&file))
        .ok();
        let rotated = std::fs::read_to_string(&file).unwrap();
        // The reference decrypts it (MAC verified) with the new key only,
        // and so does enseal; the old key no longer works.
        let out = run(with_keys(sb.sops(&sops), &ks.files[1])
            .arg("decrypt")
            .arg(&file))
        .ok();
        let expected = run(with_keys(sb.sops(&sops), &ks.all)
            .args(["decrypt"])
            .arg(sb.write(&format!("orig-{name}"), &by_sops.stdout)))
        .ok();
        assert_eq!(out.out(), expected.out(), "{name}");
        assert_eq!(
            run(with_keys(sb.sops(&sops), &ks.files[0])
                .arg("decrypt")
                .arg(&file))
            .code,
            Some(128),
            "{name}"
        );
        // Same shape as the reference's own rotation.
        let by_ref = run(with_keys(sb.sops(&sops), &ks.all)
            .args(["rotate", "--add-age", ks.r(1), "--rm-age", ks.r(0)])
            .arg(sb.path(&format!("orig-{name}"))))
        .ok();
        assert_eq!(
            normalize_encrypted(&rotated),
            normalize_encrypted(&by_ref.out()),
            "{name}"
        );
    }
}

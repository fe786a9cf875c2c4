//! Large files take the two-thread paths (YAML read and written in two
//! halves, values encrypted and decrypted in a shared batch, the input
//! mapped rather than read): both directions against the reference sops,
//! byte for byte, with the MAC verified by each tool.
//!
//! The generated YAML (~600 KiB, ~12,000 values) is above every threshold:
//! 256 KiB for the halves, 4,096 values for the batch, 1 MiB for mapping
//! once encrypted.

mod common;

use common::*;

/// A document of many top-level keys with nested maps, lists, literals,
/// comments, numbers, booleans, empty and unencrypted values.
fn large_yaml() -> String {
    let mut s = String::from("# generated for the large-file tests\n");
    for i in 0..1500 {
        s.push_str(&format!(
            "service_{i}:\n    host: host-{i}.internal\n    port: {}\n    ratio: {}.25\n    enabled: {}\n    empty: \"\"\n    note_unencrypted: clear {i}\n    tags:\n        - a{i}\n        - b{i} # inline\n    # about the script\n    script: |\n        echo {i}\n        exit 0\n",
            1000 + i,
            i,
            i % 2 == 0
        ));
    }
    s
}

/// The reference's encryption of `plain` for test recipient 1.
fn sops_encrypt(sb: &Sandbox, sops_bin: &std::path::Path, plain: &std::path::Path) -> Vec<u8> {
    let out = run(sb
        .sops(sops_bin)
        .args(["encrypt", "--age", &recipient(1)])
        .arg(plain));
    assert_eq!(out.code, Some(0), "{out:?}");
    out.stdout
}

#[test]
fn enseal_encrypts_large_yaml_and_the_reference_decrypts_it() {
    let Some(sops_bin) = require_sops() else {
        return;
    };
    let sb = Sandbox::new();
    let plain = sb.write("big.yaml", large_yaml());
    assert!(std::fs::metadata(&plain).unwrap().len() > 256 * 1024);
    let out = run(sb
        .enseal()
        .args(["encrypt", "--age", &recipient(1)])
        .arg(&plain));
    assert_eq!(out.code, Some(0), "{out:?}");
    let enc = sb.write("big.enc.yaml", &out.stdout);
    assert!(
        std::fs::metadata(&enc).unwrap().len() > 1 << 20,
        "mapped on decrypt"
    );

    // The reference verifies the MAC and gets the same bytes as from its
    // own round trip of the plaintext.
    let theirs = run(sb
        .sops(&sops_bin)
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .arg("decrypt")
        .arg(&enc));
    assert_eq!(theirs.code, Some(0), "{theirs:?}");
    let sops_enc = sb.write("sops.enc.yaml", sops_encrypt(&sb, &sops_bin, &plain));
    let round = run(sb
        .sops(&sops_bin)
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .arg("decrypt")
        .arg(&sops_enc));
    diff_bytes(
        "reference decrypt of enseal's file",
        &round.stdout,
        &theirs.stdout,
    )
    .unwrap();

    // enseal decrypts the reference's file to the reference's bytes.
    let ours = run(sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .arg("decrypt")
        .arg(&sops_enc));
    assert_eq!(ours.code, Some(0), "{ours:?}");
    diff_bytes(
        "enseal decrypt of the reference's file",
        &round.stdout,
        &ours.stdout,
    )
    .unwrap();
}

#[test]
fn a_tampered_value_deep_in_a_large_file_is_named_by_its_path() {
    let Some(sops_bin) = require_sops() else {
        return;
    };
    let sb = Sandbox::new();
    let plain = sb.write("big.yaml", large_yaml());
    let own = sops_encrypt(&sb, &sops_bin, &plain);
    // Swap the hosts of two services late in the file (the second thread's
    // share of the batch).
    let text = String::from_utf8(own).unwrap();
    let line_of = |key: &str| -> String {
        let at = text.find(&format!("{key}:\n")).unwrap();
        let host = text[at..].find("host: ").unwrap() + at;
        let end = text[host..].find('\n').unwrap() + host;
        text[host..end].to_string()
    };
    let (a, b) = (line_of("service_1400"), line_of("service_1401"));
    let swapped = text
        .replacen(&a, "@@A@@", 1)
        .replacen(&b, &a, 1)
        .replacen("@@A@@", &b, 1);
    let enc = sb.write("tampered.enc.yaml", swapped);
    let out = run(sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .arg("decrypt")
        .arg(&enc));
    assert_ne!(out.code, Some(0), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[\"service_1400\"][\"host\"]"), "{err}");
    assert!(
        !err.contains("host-1400"),
        "no plaintext in the message: {err}"
    );
}

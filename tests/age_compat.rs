//! age master keys across enseal versions (issue #19): the files in
//! `testdata/age-compat/` were written by other builds of enseal (see its
//! README) and must decrypt, with only their own key, to `plain.yaml`.
//! Post-quantum (`age1pq1…`), X25519 and SSH (Ed25519, RSA) recipients.

mod common;

use common::*;

/// How a fixture's key reaches enseal.
enum Key {
    /// An identities file (`SOPS_AGE_KEY_FILE`).
    AgeKeyFile(&'static str),
    /// An SSH private key (`SOPS_AGE_SSH_PRIVATE_KEY_FILE`).
    SshKeyFile(&'static str),
}

/// (fixture name, its key), for the files of one writer (`old` or `new`).
fn fixtures() -> [(&'static str, Key); 4] {
    [
        ("pq", Key::AgeKeyFile("age-typage/identity.txt")),
        ("x25519", Key::AgeKeyFile("keys/test-age-key.txt")),
        (
            "ssh-ed25519",
            Key::SshKeyFile("age-compat/keys/test-ssh-ed25519"),
        ),
        ("ssh-rsa", Key::SshKeyFile("age-compat/keys/test-ssh-rsa")),
    ]
}

/// Decrypts `age-compat/{writer}-{name}.enc.yaml` with only its key.
fn decrypt(writer: &str, name: &str, key: &Key) -> Out {
    let sb = Sandbox::new();
    let file = sb.copy(
        &testdata(&format!("age-compat/{writer}-{name}.enc.yaml")),
        "secrets.enc.yaml",
    );
    let mut cmd = sb.enseal();
    match key {
        Key::AgeKeyFile(path) => cmd.env("SOPS_AGE_KEY_FILE", testdata(path)),
        Key::SshKeyFile(path) => {
            // SSH keys must not be readable by others; git does not keep modes.
            let private = sb.copy(&testdata(path), "id_test");
            set_private(&private);
            cmd.env("SOPS_AGE_SSH_PRIVATE_KEY_FILE", private)
        }
    };
    run(cmd.arg("decrypt").arg(&file))
}

#[cfg(unix)]
fn set_private(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[cfg(not(unix))]
fn set_private(_: &std::path::Path) {}

fn check_writer(writer: &str) {
    let want = std::fs::read_to_string(testdata("age-compat/plain.yaml")).unwrap();
    for (name, key) in fixtures() {
        let out = decrypt(writer, name, &key).ok();
        assert_eq!(out.out(), want, "{writer}-{name}.enc.yaml");
    }
}

/// Files written by enseal with its own post-quantum code (age 0.12).
#[test]
fn files_written_before_the_age_crate_pq_move_decrypt() {
    check_writer("old");
}

/// Files written by enseal with the age crate's `age::pq` (age 0.13); they
/// were checked by hand to decrypt with the build before the move.
#[test]
fn files_written_after_the_age_crate_pq_move_decrypt() {
    check_writer("new");
}

/// A fixture does not decrypt with another fixture's key: the test above
/// really exercises each recipient type's own identity.
#[test]
fn each_fixture_needs_its_own_key() {
    let fixtures = fixtures();
    for writer in ["old", "new"] {
        for (i, (name, _)) in fixtures.iter().enumerate() {
            let (_, other) = &fixtures[(i + 1) % fixtures.len()];
            let out = decrypt(writer, name, other);
            assert_eq!(out.code, Some(128), "{writer}-{name}: {}", out.err());
        }
    }
}

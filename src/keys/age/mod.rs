//! age master keys (docs/spec/format.md §7.4, docs/spec/cli.md §8.1 and §8.5).
//!
//! Recipients: X25519 `age1…`, hybrid post-quantum `age1pq1…`, plugin
//! `age1<name>1…` and SSH `ssh-ed25519 …` / `ssh-rsa …`. Identities: see
//! [`Identities`], loaded lazily, on the first key to decrypt.

mod identities;
mod ssh;
mod ui;

use std::io::{Read, Write};
use std::str::FromStr;

use age::armor::{ArmoredReader, ArmoredWriter, Format};
use age::x25519;
use zeroize::Zeroizing;

use super::map_of;
use crate::tree::{Map, Value};

pub use identities::{default_key_file, AgeEnv, Identities};
pub use ui::{no_terminal_prompter, terminal_prompter, Prompter};

/// An age master key entry: the recipient and the armored wrapped data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgeKey {
    /// The recipient as given (trimmed).
    pub recipient: String,
    /// The armored age file holding the data key (empty until wrapped).
    pub enc: String,
}

impl AgeKey {
    /// A key for a recipient string, checked for validity.
    pub fn new(recipient: &str) -> Result<AgeKey, String> {
        let recipient = recipient.trim();
        parse_recipient(recipient)?;
        Ok(AgeKey {
            recipient: recipient.to_string(),
            enc: String::new(),
        })
    }

    /// Reads a metadata entry (`recipient`, `enc`).
    pub fn from_map(map: &Map) -> Result<AgeKey, String> {
        let field = |name: &str| match map.get(name) {
            Some(Value::Str(s)) => Ok(s.clone()),
            Some(other) => Err(format!(
                "age key field {name:?} is a {}, expected a string",
                other.type_name()
            )),
            None => Err(format!("age key entry without {name:?}")),
        };
        Ok(AgeKey {
            recipient: field("recipient")?,
            enc: field("enc")?,
        })
    }

    /// The metadata entry, in the order sops 3.11 writes it.
    pub fn to_map(&self) -> Map {
        map_of(vec![
            ("recipient", Value::Str(self.recipient.clone())),
            ("enc", Value::Str(self.enc.clone())),
        ])
    }

    /// Encrypts `secret` to the recipient, ASCII-armored.
    pub fn wrap(&mut self, secret: &[u8]) -> Result<(), String> {
        let parsed = parse_recipient(&self.recipient)?;
        let plugin_holder;
        let recipient: &dyn age::Recipient = match &parsed {
            Recipient::X25519(r) => r,
            Recipient::Hybrid(r) => r.as_ref(),
            Recipient::Ssh(r) => r,
            Recipient::Plugin(r) => {
                check_plugin_location(r.plugin(), std::env::var_os("PATH").as_deref())?;
                plugin_holder = age::plugin::RecipientPluginV1::new(
                    r.plugin(),
                    std::slice::from_ref(r),
                    &[],
                    ui::UiCallbacks::new(terminal_prompter()),
                )
                .map_err(|e| ui::resolve_error(&e))?;
                &plugin_holder
            }
        };
        let fail = |e: &dyn std::fmt::Display| {
            format!(
                "failed to encrypt the data key to age recipient {}: {}",
                self.recipient,
                ui::strip_isolates(&e.to_string())
            )
        };
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(recipient)).map_err(|e| fail(&e))?;
        let mut armored = Vec::new();
        let armor =
            ArmoredWriter::wrap_output(&mut armored, Format::AsciiArmor).map_err(|e| fail(&e))?;
        let mut writer = encryptor.wrap_output(armor).map_err(|e| fail(&e))?;
        writer.write_all(secret).map_err(|e| fail(&e))?;
        writer
            .finish()
            .and_then(|armor| armor.finish())
            .map_err(|e| fail(&e))?;
        self.enc = String::from_utf8(armored).map_err(|e| fail(&e))?;
        Ok(())
    }

    /// Decrypts the wrapped secret with any of the identities. The error
    /// says what was tried and why it failed (never key material).
    pub fn unwrap(&self, identities: &Identities) -> Result<Zeroizing<Vec<u8>>, String> {
        identities.decrypt(&self.recipient, self.enc.as_bytes())
    }
}

/// Refuses to start the plugin `name` (taken from a recipient, which may
/// come from the file) when `path` (the `PATH` value) would find
/// `age-plugin-<name>` through a relative or empty entry such as `.`:
/// those resolve against the current directory, which may be the very
/// repository that holds the file. The name itself is checked by the age
/// crate (letters, digits and `+ - . _` only, so never a path).
fn check_plugin_location(name: &str, path: Option<&std::ffi::OsStr>) -> Result<(), String> {
    let binary = format!("age-plugin-{name}");
    let Some(path) = path else { return Ok(()) };
    for dir in std::env::split_paths(path) {
        // `~/…` entries are expanded to the home directory by the lookup.
        if dir.is_absolute() || dir.starts_with("~") {
            if dir.join(&binary).is_file() {
                return Ok(());
            }
            continue;
        }
        if dir.join(&binary).is_file() {
            return Err(format!(
                "refusing to run age plugin {binary}: PATH finds it through the relative entry {:?}, that is in the current directory (put age plugins in a directory PATH names absolutely)",
                dir.display().to_string()
            ));
        }
    }
    Ok(())
}

/// Decrypts an armored (or binary) age file with the given identities.
pub(crate) fn decrypt_with(
    enc: &[u8],
    identities: &[&dyn age::Identity],
) -> Result<Zeroizing<Vec<u8>>, age::DecryptError> {
    let decryptor = age::Decryptor::new(ArmoredReader::new(enc))?;
    let mut reader = decryptor.decrypt(identities.iter().copied())?;
    let mut out = Zeroizing::new(Vec::new());
    reader.read_to_end(&mut out)?;
    Ok(out)
}

/// A parsed recipient of any supported kind.
///
/// The age crate deprecates encryption to X25519 and SSH recipients (not
/// safe against quantum computers); sops files use them, so enseal keeps
/// them (the `legacy` feature).
#[allow(deprecated)]
pub enum Recipient {
    /// `age1…`.
    X25519(x25519::Recipient),
    /// `age1pq1…` (ML-KEM-768 + X25519).
    Hybrid(Box<age::pq::Recipient>),
    /// `age1<plugin>1…`, handled by `age-plugin-<plugin>` on `PATH`.
    Plugin(age::plugin::Recipient),
    /// `ssh-ed25519 …` or `ssh-rsa …`.
    Ssh(age::ssh::Recipient),
}

impl Recipient {
    /// A short name of the recipient kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Recipient::X25519(_) => "X25519",
            Recipient::Hybrid(_) => "hybrid post-quantum",
            Recipient::Plugin(_) => "plugin",
            Recipient::Ssh(_) => "SSH",
        }
    }
}

/// Parses a recipient string (already trimmed). Error texts follow sops.
#[allow(deprecated)] // X25519 and SSH recipients: see [`Recipient`].
pub fn parse_recipient(recipient: &str) -> Result<Recipient, String> {
    if recipient.starts_with("ssh-") {
        return age::ssh::Recipient::from_str(recipient)
            .map(Recipient::Ssh)
            .map_err(|e| {
                let why = match e {
                    age::ssh::ParseRecipientKeyError::Ignore => "not a public key".to_string(),
                    age::ssh::ParseRecipientKeyError::Invalid(why) => why.to_string(),
                    age::ssh::ParseRecipientKeyError::RsaModulusTooLarge => {
                        "RSA modulus too large".to_string()
                    }
                    age::ssh::ParseRecipientKeyError::RsaModulusTooSmall => {
                        "RSA modulus too small".to_string()
                    }
                    age::ssh::ParseRecipientKeyError::Unsupported(kind) => {
                        format!("unsupported SSH key type {kind}")
                    }
                    _ => "invalid SSH public key".to_string(),
                };
                format!("failed to parse input as SSH public key {recipient:?}: {why}")
            });
    }
    if !recipient.starts_with("age1") {
        return Err(format!(
            "failed to parse input, unknown recipient type: {recipient:?}"
        ));
    }
    // The Bech32 human-readable part ends at the last `1`.
    let hrp = recipient
        .rfind('1')
        .map(|i| &recipient[..i])
        .unwrap_or_default()
        .to_ascii_lowercase();
    match hrp.as_str() {
        "age" => x25519::Recipient::from_str(recipient)
            .map(Recipient::X25519)
            .map_err(|e| {
                format!("failed to parse input as Bech32-encoded age public key {recipient:?}: {e}")
            }),
        "age1pq" => age::pq::Recipient::from_str(recipient)
            .map(|r| Recipient::Hybrid(Box::new(r)))
            .map_err(|e| {
                format!("failed to parse input as age1pq recipient {recipient:?}: malformed hybrid recipient: {e}")
            }),
        _ => age::plugin::Recipient::from_str(recipient)
            .map(Recipient::Plugin)
            .map_err(|e| format!("failed to parse input as plugin recipient {recipient:?}: {e}")),
    }
}

/// Parses `--age` / `SOPS_AGE_RECIPIENTS`: comma-separated, trimmed, empty items ignored.
pub fn parse_recipient_list(list: &str) -> Result<Vec<AgeKey>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(AgeKey::new)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret;
    use sha2::Digest;

    #[test]
    fn wrap_unwrap_round_trip() {
        let identity = x25519::Identity::generate();
        let recipient = identity.to_public().to_string();
        let mut key = AgeKey::new(&format!("  {recipient} ")).unwrap();
        assert_eq!(key.recipient, recipient);
        key.wrap(&[7u8; 32]).unwrap();
        assert!(key.enc.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
        assert!(key.enc.ends_with("-----END AGE ENCRYPTED FILE-----\n"));
        let mut ids = Identities::empty();
        ids.add_text(
            &format!("# created: now\n{}\n", identity.to_string().expose_secret()),
            "test",
        )
        .unwrap();
        assert_eq!(&**key.unwrap(&ids).unwrap(), &[7u8; 32]);
        let mut other = Identities::empty();
        other
            .add_text(
                x25519::Identity::generate().to_string().expose_secret(),
                "x",
            )
            .unwrap();
        assert_eq!(
            key.unwrap(&other).unwrap_err(),
            "failed to create reader for decrypting sops data key with age: identity did not match any of the recipients: incorrect identity for recipient block."
        );
        assert_eq!(
            key.unwrap(&Identities::empty()).unwrap_err(),
            "failed to load age identities."
        );
    }

    #[test]
    fn hybrid_recipients_wrap_and_unwrap() {
        let identity = age::pq::Identity::generate();
        let mut key = AgeKey::new(&identity.to_public().to_string()).unwrap();
        key.wrap(&[5u8; 32]).unwrap();
        let mut ids = Identities::empty();
        ids.add_text(identity.to_string().expose_secret(), "t")
            .unwrap();
        assert_eq!(&**key.unwrap(&ids).unwrap(), &[5u8; 32]);
    }

    /// Runs one C2SP CCTV age test vector (testdata/age-cctv, 0BSD licence)
    /// with the identities it names, parsed as identities text.
    fn run_cctv_vector(name: &str) {
        let path = format!("{}/testdata/age-cctv/{name}", env!("CARGO_MANIFEST_DIR"));
        let data = std::fs::read(&path).unwrap();
        let split = data.windows(2).position(|w| w == b"\n\n").unwrap();
        let header = std::str::from_utf8(&data[..split]).unwrap();
        let body = &data[split + 2..];
        let field = |k: &str| {
            header
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{k}: ")))
                .map(str::to_string)
        };
        let mut ids = Identities::empty();
        for line in header.lines() {
            if let Some(text) = line.strip_prefix("identity: ") {
                ids.add_text(text, name).unwrap();
            }
        }
        // Armored (`armored: yes`) and binary files alike.
        let result = ids.decrypt("cctv", body);
        match field("expect").unwrap().as_str() {
            "success" => {
                let out = result.unwrap_or_else(|e| panic!("{name}: {e}"));
                let digest = sha2::Sha256::digest(&out[..]);
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                assert_eq!(hex, field("payload").unwrap(), "{name}");
            }
            expect => assert!(result.is_err(), "{name} should fail ({expect})"),
        }
    }

    #[test]
    fn cctv_hybrid_vectors() {
        let dir = format!("{}/testdata/age-cctv", env!("CARGO_MANIFEST_DIR"));
        let mut count = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.contains("hybrid") {
                run_cctv_vector(&name);
                count += 1;
            }
        }
        assert_eq!(count, 17);
    }

    /// Interop with typage (the TypeScript age implementation): recipient
    /// derivation from the identity, and decryption of its output.
    #[test]
    fn typage_identity_recipient_and_file() {
        let dir = format!("{}/testdata/age-typage", env!("CARGO_MANIFEST_DIR"));
        let read = |name: &str| std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
        let identity: age::pq::Identity = read("identity.txt").trim().parse().unwrap();
        assert_eq!(
            identity.to_public().to_string(),
            read("recipient.txt").trim()
        );
        let mut ids = Identities::empty();
        ids.add_text(&read("identity.txt"), "identity.txt").unwrap();
        let out = ids
            .decrypt("typage", read("bytes-0-to-31.age").as_bytes())
            .unwrap();
        assert_eq!(&out[..], &(0u8..32).collect::<Vec<_>>()[..]);
    }

    #[test]
    fn bad_recipients_and_identities_are_reported() {
        assert!(AgeKey::new("nope")
            .unwrap_err()
            .contains("unknown recipient type"));
        assert!(AgeKey::new("age1qqqq").unwrap_err().contains("Bech32"));
        assert!(AgeKey::new("ssh-ed25519 AAAA")
            .unwrap_err()
            .starts_with("failed to parse input as SSH public key"));
        let mut ids = Identities::empty();
        let err = ids
            .add_text("\nAGE-SECRET-KEY-1BROKEN\n", "keys.txt")
            .unwrap_err();
        assert_eq!(
            err,
            "failed to parse 'keys.txt' age identities: malformed secret key on line 2"
        );
        let err = ids.add_text("SECRETSTUFF", "keys.txt").unwrap_err();
        assert_eq!(
            err,
            "failed to parse 'keys.txt' age identities: unknown identity type"
        );
        // As sops: identities are upper case; a lowercase one is unknown.
        let pq = age::pq::Identity::generate().to_string();
        let x25519 = x25519::Identity::generate().to_string();
        for secret in [pq.expose_secret(), x25519.expose_secret()] {
            let err = ids
                .add_text(&secret.to_lowercase(), "keys.txt")
                .unwrap_err();
            assert_eq!(
                err,
                "failed to parse 'keys.txt' age identities: unknown identity type"
            );
            ids.add_text(secret, "keys.txt").unwrap();
        }
    }

    #[test]
    fn plugin_recipients_need_their_binary() {
        // A syntactically valid plugin recipient for a plugin that is not installed.
        let r = age_core::primitives::bech32_encode(
            bech32::Hrp::parse_unchecked("age1enseal-test-missing"),
            &[1, 2, 3],
        );
        let mut key = AgeKey::new(&r).unwrap();
        assert_eq!(
            key.wrap(&[1u8; 32]).unwrap_err(),
            "age plugin age-plugin-enseal-test-missing not found on PATH"
        );
    }

    #[test]
    fn plugin_names_from_a_recipient_cannot_name_a_path() {
        for hrp in [
            "age1../x",
            "age1/tmp/evil",
            "age1a\\b",
            "age1a:b",
            "age1a b",
        ] {
            let Ok(hrp) = bech32::Hrp::parse(hrp) else {
                continue; // not even Bech32
            };
            let r = age_core::primitives::bech32_encode(hrp, &[1, 2, 3]);
            let err = AgeKey::new(&r).map(|_| ()).unwrap_err();
            assert!(err.contains("invalid plugin name"), "{r}: {err}");
        }
    }

    #[test]
    fn plugins_found_through_relative_path_entries_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::write(bin.join("age-plugin-x"), "").unwrap();
        let path = |entries: &[&std::path::Path]| std::env::join_paths(entries).unwrap();
        let rel = std::path::Path::new("some/relative/bin");
        // Absolute first: fine; a relative entry that does not hold it: fine.
        assert_eq!(
            check_plugin_location("x", Some(&path(&[&bin, std::path::Path::new(".")]))),
            Ok(())
        );
        assert_eq!(
            check_plugin_location("x", Some(&path(&[rel, &bin]))),
            Ok(())
        );
        assert_eq!(check_plugin_location("x", None), Ok(()));
        // Found through a relative entry first: refused.
        let cwd_rel = pathdiff(&bin);
        let err = check_plugin_location("x", Some(&path(&[&cwd_rel, &bin]))).unwrap_err();
        assert!(
            err.starts_with("refusing to run age plugin age-plugin-x"),
            "{err}"
        );
    }

    /// `target` relative to the current directory.
    fn pathdiff(target: &std::path::Path) -> std::path::PathBuf {
        let cwd = std::env::current_dir().unwrap();
        let up = cwd.components().count() - 1;
        let mut rel = std::path::PathBuf::new();
        for _ in 0..up {
            rel.push("..");
        }
        rel.join(target.strip_prefix("/").unwrap())
    }

    #[test]
    fn recipient_lists_split_on_commas() {
        let a = x25519::Identity::generate().to_public().to_string();
        let b = x25519::Identity::generate().to_public().to_string();
        let keys = parse_recipient_list(&format!("{a}, {b},")).unwrap();
        assert_eq!(keys.len(), 2);
    }
}

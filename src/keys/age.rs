//! age master keys: X25519 recipients, identities from `SOPS_AGE_KEY`,
//! `SOPS_AGE_KEY_FILE` and the default `keys.txt` (cli.md §8.5).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::str::FromStr;

use age::armor::{ArmoredReader, ArmoredWriter, Format};
use age::x25519;
use zeroize::Zeroizing;

use super::map_of;
use crate::tree::{Map, Value};

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
        let recipient = parse_recipient(&self.recipient)?;
        let fail = |e: &dyn std::fmt::Display| {
            format!(
                "failed to encrypt the data key to age recipient {}: {e}",
                self.recipient
            )
        };
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .map_err(|e| fail(&e))?;
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

    /// Decrypts the wrapped secret with any of the identities.
    pub fn unwrap(&self, identities: &Identities) -> Result<Zeroizing<Vec<u8>>, String> {
        if identities.keys.is_empty() {
            return Err(format!(
                "no age identity found. {}",
                identities.locations_note()
            ));
        }
        let decryptor = age::Decryptor::new(ArmoredReader::new(self.enc.as_bytes()))
            .map_err(|e| format!("the stored age data key is malformed: {e}"))?;
        let mut reader = decryptor
            .decrypt(identities.keys.iter().map(|i| i as &dyn age::Identity))
            .map_err(|e| format!("{e}. {}", identities.locations_note()))?;
        let mut out = Zeroizing::new(Vec::new());
        reader
            .read_to_end(&mut out)
            .map_err(|e| format!("failed to read the age-encrypted data key: {e}"))?;
        Ok(out)
    }
}

fn parse_recipient(recipient: &str) -> Result<x25519::Recipient, String> {
    if !recipient.starts_with("age1") {
        return Err(format!(
            "failed to parse input, unknown recipient type: {recipient:?}"
        ));
    }
    x25519::Recipient::from_str(recipient).map_err(|e| {
        format!("failed to parse input as Bech32-encoded age public key {recipient:?}: {e}")
    })
}

/// Parses `--age` / `SOPS_AGE_RECIPIENTS`: comma-separated, trimmed, empty items ignored.
pub fn parse_recipient_list(list: &str) -> Result<Vec<AgeKey>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(AgeKey::new)
        .collect()
}

/// The age identities available for decryption, and where they were looked for.
pub struct Identities {
    keys: Vec<x25519::Identity>,
    locations: Vec<String>,
}

impl Identities {
    /// No identities at all.
    pub fn empty() -> Identities {
        Identities {
            keys: Vec::new(),
            locations: Vec::new(),
        }
    }

    /// Gathers identities from `SOPS_AGE_KEY`, `SOPS_AGE_KEY_FILE` and the
    /// default `<config dir>/sops/age/keys.txt`, combined.
    pub fn from_environment() -> Result<Identities, String> {
        let mut ids = Identities {
            keys: Vec::new(),
            locations: Vec::new(),
        };
        ids.locations.push("SOPS_AGE_KEY".into());
        if let Some(text) = std::env::var_os("SOPS_AGE_KEY") {
            let text = Zeroizing::new(text.to_string_lossy().into_owned());
            ids.add_text(&text, "SOPS_AGE_KEY")?;
        }
        ids.locations.push("SOPS_AGE_KEY_FILE".into());
        if let Some(path) = std::env::var_os("SOPS_AGE_KEY_FILE").filter(|p| !p.is_empty()) {
            let path = PathBuf::from(path);
            let text = read_key_file(&path).map_err(|e| {
                format!(
                    "failed to open file {} (SOPS_AGE_KEY_FILE): {e}",
                    path.display()
                )
            })?;
            ids.add_text(&text, &path.display().to_string())?;
        }
        if let Some(path) = default_key_file() {
            ids.locations.push(path.display().to_string());
            if path.is_file() {
                let text = read_key_file(&path)
                    .map_err(|e| format!("failed to open file {}: {e}", path.display()))?;
                ids.add_text(&text, &path.display().to_string())?;
            }
        }
        Ok(ids)
    }

    /// Parses an identities text: one identity per line, blank lines and
    /// `#` comments ignored. Errors name the line, never its content.
    pub fn add_text(&mut self, text: &str, source: &str) -> Result<(), String> {
        for (number, line) in text.lines().enumerate() {
            for word in line.split_whitespace() {
                if word.starts_with('#') {
                    break;
                }
                let identity = x25519::Identity::from_str(word).map_err(|_| {
                    format!(
                        "{source}:{}: unknown identity type (expected AGE-SECRET-KEY-1…; SSH, plugin and passphrase identities are not supported yet)",
                        number + 1
                    )
                })?;
                self.keys.push(identity);
            }
        }
        Ok(())
    }

    fn locations_note(&self) -> String {
        let quoted: Vec<String> = self.locations.iter().map(|l| format!("'{l}'")).collect();
        format!("Did not find keys in locations {}.", quoted.join(", "))
    }
}

fn read_key_file(path: &std::path::Path) -> std::io::Result<Zeroizing<String>> {
    std::fs::read_to_string(path).map(Zeroizing::new)
}

/// `<config dir>/sops/age/keys.txt`: `$XDG_CONFIG_HOME` if set and absolute,
/// else `$HOME/.config` (macOS: `~/Library/Application Support`).
pub fn default_key_file() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    let base = match xdg {
        Some(p) => p,
        None => {
            let home = PathBuf::from(std::env::var_os("HOME")?);
            if cfg!(target_os = "macos") {
                home.join("Library/Application Support")
            } else {
                home.join(".config")
            }
        }
    };
    Some(base.join("sops").join("age").join("keys.txt"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret;

    #[test]
    fn wrap_unwrap_round_trip() {
        let identity = x25519::Identity::generate();
        let recipient = identity.to_public().to_string();
        let mut key = AgeKey::new(&format!("  {recipient} ")).unwrap();
        assert_eq!(key.recipient, recipient);
        key.wrap(&[7u8; 32]).unwrap();
        assert!(key.enc.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
        assert!(key.enc.ends_with("-----END AGE ENCRYPTED FILE-----\n"));
        let mut ids = Identities {
            keys: Vec::new(),
            locations: vec![],
        };
        ids.add_text(
            &format!("# created: now\n{}\n", identity.to_string().expose_secret()),
            "test",
        )
        .unwrap();
        assert_eq!(&**key.unwrap(&ids).unwrap(), &[7u8; 32]);
        let other = Identities {
            keys: vec![x25519::Identity::generate()],
            locations: vec!["SOPS_AGE_KEY".into()],
        };
        assert!(key.unwrap(&other).unwrap_err().contains("SOPS_AGE_KEY"));
    }

    #[test]
    fn bad_recipients_and_identities_are_reported() {
        assert!(AgeKey::new("nope")
            .unwrap_err()
            .contains("unknown recipient type"));
        assert!(AgeKey::new("age1qqqq").unwrap_err().contains("Bech32"));
        let mut ids = Identities {
            keys: Vec::new(),
            locations: vec![],
        };
        let err = ids
            .add_text("\nAGE-SECRET-KEY-1BROKEN\n", "keys.txt")
            .unwrap_err();
        assert!(err.starts_with("keys.txt:2:"), "{err}");
        assert!(!err.contains("BROKEN"));
    }

    #[test]
    fn recipient_lists_split_on_commas() {
        let a = x25519::Identity::generate().to_public().to_string();
        let b = x25519::Identity::generate().to_public().to_string();
        let keys = parse_recipient_list(&format!("{a}, {b},")).unwrap();
        assert_eq!(keys.len(), 2);
    }
}

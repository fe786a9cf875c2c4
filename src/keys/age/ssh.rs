//! SSH private keys as age identities (`ssh-ed25519`, `ssh-rsa`), including
//! passphrase-protected OpenSSH keys: the passphrase is asked only when a
//! stanza is addressed to the key, and the decrypted key is kept for the
//! rest of the run.

use std::cell::RefCell;
use std::rc::Rc;

use age_core::format::{FileKey, Stanza};
use base64::prelude::{Engine, BASE64_STANDARD, BASE64_STANDARD_NO_PAD};
use sha2::{Digest, Sha256};

use super::ui::Prompter;

/// Messages about identities that could not be used, collected while
/// decrypting and reported if decryption fails.
pub(crate) type Notes = Rc<RefCell<Vec<String>>>;

/// An SSH private key usable as an age identity.
pub(crate) struct SshIdentity {
    inner: age::ssh::Identity,
    location: String,
    /// For encrypted keys: the stanza tag (key type) and base64 tag of the
    /// public key, to ask for the passphrase only when needed.
    public: Option<(String, String)>,
    prompter: Prompter,
    notes: Notes,
    decrypted: RefCell<Option<age::ssh::Identity>>,
}

impl SshIdentity {
    /// Parses a private key (OpenSSH or PEM). `location` names it in
    /// prompts and messages; `path` (if a file) is used to find `<path>.pub`.
    pub(crate) fn parse(
        data: &[u8],
        location: &str,
        path: Option<&std::path::Path>,
        prompter: Prompter,
        notes: Notes,
    ) -> Result<SshIdentity, String> {
        let inner = age::ssh::Identity::from_buffer(data, Some(location.to_string()))
            .map_err(|e| format!("failed to parse SSH identity from {location}: {e}"))?;
        let public = match &inner {
            age::ssh::Identity::Unencrypted(_) => None,
            age::ssh::Identity::Unsupported(k) => {
                return Err(format!(
                    "unsupported SSH identity {location}: {}",
                    unsupported_text(k)
                ))
            }
            age::ssh::Identity::Encrypted(_) => {
                let blob = openssh_public_blob(data)
                    .or_else(|| {
                        let pub_path = format!("{}.pub", path?.display());
                        let text = std::fs::read_to_string(pub_path).ok()?;
                        let b64 = text.split_whitespace().nth(1)?;
                        BASE64_STANDARD.decode(b64).ok()
                    })
                    .ok_or_else(|| {
                        format!(
                            "failed to parse SSH identity from {location}: the key is passphrase-protected and its public key is neither embedded nor in a .pub file"
                        )
                    })?;
                let key_type = read_string(&blob, &mut 0)
                    .and_then(|t| std::str::from_utf8(t).ok())
                    .unwrap_or_default()
                    .to_string();
                let tag = BASE64_STANDARD_NO_PAD.encode(&Sha256::digest(&blob)[..4]);
                Some((key_type, tag))
            }
        };
        Ok(SshIdentity {
            inner,
            location: location.to_string(),
            public,
            prompter,
            notes,
            decrypted: RefCell::new(None),
        })
    }
}

impl age::Identity for SshIdentity {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        let encrypted = match &self.inner {
            age::ssh::Identity::Encrypted(key) => key,
            other => return other.unwrap_stanza(stanza),
        };
        let (key_type, tag) = self.public.as_ref()?;
        if &stanza.tag != key_type || stanza.args.first() != Some(tag) {
            return None;
        }
        if let Some(key) = self.decrypted.borrow().as_ref() {
            return key.unwrap_stanza(stanza);
        }
        let prompt = format!("Enter passphrase for {}: ", go_quote(&self.location));
        let passphrase = match (self.prompter)(&prompt) {
            Ok(p) => p,
            Err(why) => {
                self.notes.borrow_mut().push(format!(
                    "failed to obtain passphrase: could not read passphrase for {}: {why}",
                    go_quote(&self.location)
                ));
                return None;
            }
        };
        match encrypted.decrypt(passphrase) {
            Ok(key) => {
                let key = age::ssh::Identity::from(key);
                let result = key.unwrap_stanza(stanza);
                *self.decrypted.borrow_mut() = Some(key);
                result
            }
            Err(_) => {
                self.notes
                    .borrow_mut()
                    .push(format!("wrong passphrase for SSH key {}", self.location));
                None
            }
        }
    }
}

/// Go's `%q` of a string, for names in messages.
pub(crate) use crate::gofmt::quote as go_quote;

fn unsupported_text(key: &age::ssh::UnsupportedKey) -> String {
    match key {
        age::ssh::UnsupportedKey::EncryptedPem => {
            "passphrase-protected PEM keys are not supported (convert the key with `ssh-keygen -o -p`)".into()
        }
        age::ssh::UnsupportedKey::EncryptedSsh(cipher) => {
            format!("the key is encrypted with the unsupported cipher {cipher}")
        }
        age::ssh::UnsupportedKey::Hardware(kind) => {
            format!("hardware key type {kind} is not supported")
        }
        age::ssh::UnsupportedKey::Type(kind) => format!("key type {kind} is not supported"),
    }
}

/// The public key blob embedded in an OpenSSH private key file.
fn openssh_public_blob(data: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(data).ok()?;
    let begin = "-----BEGIN OPENSSH PRIVATE KEY-----";
    let start = text.find(begin)? + begin.len();
    let end = text[start..].find("-----END OPENSSH PRIVATE KEY-----")? + start;
    let b64: String = text[start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let bin = BASE64_STANDARD.decode(b64).ok()?;
    let magic = b"openssh-key-v1\0";
    if !bin.starts_with(magic) {
        return None;
    }
    let mut pos = magic.len();
    for _ in 0..3 {
        read_string(&bin, &mut pos)?; // cipher, kdf, kdf options
    }
    let count = bin.get(pos..pos + 4)?;
    pos += 4;
    if count != [0, 0, 0, 1] {
        return None;
    }
    read_string(&bin, &mut pos).map(<[u8]>::to_vec)
}

fn read_string<'a>(data: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let len = u32::from_be_bytes(data.get(*pos..*pos + 4)?.try_into().ok()?) as usize;
    let s = data.get(*pos + 4..(*pos + 4).checked_add(len)?)?;
    *pos += 4 + len;
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_public_key_is_found() {
        // A public test key pair made for this test only (unencrypted).
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k");
        let ok = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "c", "-f"])
            .arg(&key)
            .status();
        if !matches!(ok, Ok(s) if s.success()) {
            eprintln!("ssh-keygen not available; skipped");
            return;
        }
        let private = std::fs::read(&key).unwrap();
        let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
        let blob = openssh_public_blob(&private).unwrap();
        assert_eq!(
            BASE64_STANDARD.encode(blob),
            public.split_whitespace().nth(1).unwrap()
        );
        assert!(openssh_public_blob(b"garbage").is_none());
    }
}

//! One file in memory: its documents and metadata, and the operations that
//! turn plaintext into an encrypted file and back.

use crate::crypto::enc::EncValue;
use crate::crypto::walk::{Direction, Retired, Walk};
use crate::crypto::{Cipher, DataKey, EncryptionRule, Selector};
use crate::error::Error;
use crate::keys::{recover_data_key, wrap_data_key, KeyContext, KeyGroup};
use crate::metadata::{Metadata, FORMAT_VERSION};
use crate::tree::{Map, Timestamp};
use zeroize::Zeroize;

/// What a new encrypted file is made with.
#[derive(Debug, Clone, Default)]
pub struct EncryptSettings {
    /// The key groups to wrap the data key for.
    pub key_groups: Vec<KeyGroup>,
    /// Shamir threshold (0: all groups).
    pub shamir_threshold: usize,
    /// The encryption rule; `None` records the default `_unencrypted` suffix.
    pub rule: Option<EncryptionRule>,
    /// MAC over encrypted values only.
    pub mac_only_encrypted: bool,
    /// The file is a binary blob: every rule is ignored and none recorded.
    pub binary: bool,
}

/// An encrypted file: documents holding `ENC[…]` values, and the metadata.
#[derive(Debug)]
pub struct EncryptedDocument {
    /// The documents, without the metadata.
    pub documents: Vec<Map>,
    /// The metadata.
    pub metadata: Metadata,
    /// The plaintexts the encryption replaced, wiped: freed with this
    /// document, after it is written ([`Retired`]).
    pub retired: Retired,
}

/// The result of a decryption.
#[derive(Debug)]
pub struct Decrypted {
    /// The plaintext documents.
    pub documents: Vec<Map>,
    /// Warnings for the user.
    pub warnings: Vec<String>,
    /// The `ENC[…]` texts the decryption replaced: freed with this result,
    /// after it is written ([`Retired`]).
    pub retired: Retired,
}

/// Encrypts plaintext documents with a fresh data key.
pub fn encrypt(
    mut documents: Vec<Map>,
    settings: EncryptSettings,
) -> Result<EncryptedDocument, Error> {
    if documents.is_empty() {
        return Err(Error::NoDocument);
    }
    let data_key = DataKey::generate().map_err(|e| Error::GenerateDataKey(e.to_string()))?;
    let mut key_groups = settings.key_groups;
    wrap_data_key(&mut key_groups, &data_key, settings.shamir_threshold)
        .map_err(Error::GenerateDataKey)?;
    let rule = if settings.binary {
        None
    } else {
        Some(settings.rule.unwrap_or_default())
    };
    let mac_only_encrypted = settings.mac_only_encrypted && !settings.binary;
    let selector = Selector::new(&rule.clone().unwrap_or_default());
    let mut cipher = Cipher::new(&data_key);
    let walk = Walk {
        direction: Direction::Encrypt,
        selector: &selector,
        mac_only_encrypted,
    };
    let outcome = walk
        .run(&mut documents, &mut cipher)
        .map_err(|e| Error::EncryptTree(e.to_string()))?;
    let last_modified = Timestamp::now_utc().to_rfc3339();
    let mac = cipher
        .encrypt(outcome.mac.as_bytes(), last_modified.as_bytes(), "str")
        .map_err(|e| Error::EncryptTree(format!("could not encrypt the MAC: {e}")))?;
    let shamir_threshold = if key_groups.len() > 1 {
        crate::keys::groups::effective_threshold(key_groups.len(), settings.shamir_threshold)
    } else {
        0
    };
    Ok(EncryptedDocument {
        documents,
        retired: outcome.retired,
        metadata: Metadata {
            key_groups,
            shamir_threshold,
            last_modified,
            mac,
            rule,
            mac_only_encrypted,
            version: FORMAT_VERSION.to_string(),
        },
    })
}

/// Encrypts `documents` with a fresh data key wrapped for `key_groups`
/// (split with `shamir_threshold`), recording the encryption rule, MAC mode
/// and format version of `like` (the file they come from): what a file gets
/// when its data key may not be kept (a master key was removed, or the key
/// came from someone else's version). The threshold is recorded as
/// [`crate::keys::changes::recorded_threshold`] gives it.
pub fn encrypt_like(
    documents: Vec<Map>,
    key_groups: Vec<KeyGroup>,
    shamir_threshold: usize,
    like: &Metadata,
) -> Result<EncryptedDocument, Error> {
    let groups = key_groups.len();
    let settings = EncryptSettings {
        key_groups,
        shamir_threshold,
        // The rule in effect walks the values; what `like` records is kept
        // below (a file that records none keeps recording none).
        rule: Some(like.effective_rule()),
        mac_only_encrypted: like.mac_only_encrypted,
        binary: false,
    };
    let mut out = encrypt(documents, settings)?;
    out.metadata.rule = like.rule.clone();
    out.metadata.version = like.version.clone();
    out.metadata.shamir_threshold =
        crate::keys::changes::recorded_threshold(groups, shamir_threshold);
    Ok(out)
}

impl EncryptedDocument {
    /// Decrypts (verifying the MAC) and encrypts every value again with a
    /// fresh data key for `key_groups`; rule, MAC mode and version stay.
    pub fn rekey(
        self,
        keys: &mut KeyContext,
        key_groups: Vec<KeyGroup>,
        shamir_threshold: usize,
    ) -> Result<EncryptedDocument, Error> {
        let like = self.metadata.clone();
        let mut decrypted = self.decrypt(keys, false)?;
        let documents = std::mem::take(&mut decrypted.documents);
        encrypt_like(documents, key_groups, shamir_threshold, &like)
    }
}

impl EncryptedDocument {
    /// An encrypted file read from its store.
    pub fn new(documents: Vec<Map>, metadata: Metadata) -> EncryptedDocument {
        EncryptedDocument {
            documents,
            metadata,
            retired: Retired::default(),
        }
    }

    /// Recovers the data key and decrypts every value, verifying the MAC
    /// unless `ignore_mac`.
    pub fn decrypt(self, keys: &mut KeyContext, ignore_mac: bool) -> Result<Decrypted, Error> {
        let metadata = &self.metadata;
        let data_key = recover_data_key(&metadata.key_groups, metadata.shamir_threshold, keys)
            .map_err(Error::RetrieveKey)?;
        let mut cipher = Cipher::new(&data_key);
        let selector = Selector::new(&metadata.effective_rule());
        let walk = Walk {
            direction: Direction::Decrypt,
            selector: &selector,
            mac_only_encrypted: metadata.mac_only_encrypted,
        };
        let mut documents = self.documents;
        let outcome = walk
            .run(&mut documents, &mut cipher)
            .map_err(|e| Error::DecryptTree(e.to_string()))?;
        if !ignore_mac {
            verify_mac(metadata, &cipher, &outcome.mac)?;
        }
        Ok(Decrypted {
            documents,
            warnings: outcome.warnings,
            retired: outcome.retired,
        })
    }
}

/// A decrypted file that can be encrypted again with the same data key and
/// metadata: unchanged values keep their exact `ENC[…]` texts (their nonces
/// are remembered), so a one-value change is a one-value diff.
pub struct Opened {
    /// The plaintext documents as decrypted.
    pub documents: Vec<Map>,
    /// The file's metadata.
    pub metadata: Metadata,
    /// Warnings for the user.
    pub warnings: Vec<String>,
    cipher: Cipher,
    encrypted: Vec<Map>,
}

impl Decrypted {
    /// Wipes the plaintext values and leaves their memory to the process
    /// exit: for a command that ends right after, freeing a large tree
    /// value by value would only cost time.
    pub fn wipe_and_leak(mut self) {
        let mut documents = std::mem::take(&mut self.documents);
        documents.iter_mut().for_each(Zeroize::zeroize);
        std::mem::forget(documents);
        std::mem::take(&mut self.retired).leak();
    }
}

impl Drop for Decrypted {
    /// Wipes the plaintext values.
    fn drop(&mut self) {
        self.documents.iter_mut().for_each(Zeroize::zeroize);
    }
}

impl Drop for Opened {
    /// Wipes the plaintext values.
    fn drop(&mut self) {
        self.documents.iter_mut().for_each(Zeroize::zeroize);
    }
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("metadata", &self.metadata)
            .finish_non_exhaustive()
    }
}

impl Opened {
    /// The encrypted documents as read from the file.
    pub fn encrypted_documents(&self) -> &[Map] {
        &self.encrypted
    }

    /// Encrypts `documents` with this file's data key, keys and rule. Values
    /// whose path, type and plaintext were in the decrypted file keep their
    /// ciphertext; `lastmodified` and the MAC are new. Returns `None` when
    /// nothing changed: `documents` equal the decrypted ones, or encrypt to
    /// exactly the file's documents (nothing to write).
    pub fn reencrypt(&mut self, documents: Vec<Map>) -> Result<Option<EncryptedDocument>, Error> {
        if documents == self.documents {
            return Ok(None);
        }
        let out = self.reencrypt_always(documents)?;
        if out.documents == self.encrypted {
            return Ok(None);
        }
        Ok(Some(out))
    }

    /// As [`Opened::reencrypt`], but always produces a file.
    pub fn reencrypt_always(
        &mut self,
        mut documents: Vec<Map>,
    ) -> Result<EncryptedDocument, Error> {
        if documents.is_empty() {
            return Err(Error::NoDocument);
        }
        let metadata = &self.metadata;
        let selector = Selector::new(&metadata.effective_rule());
        let walk = Walk {
            direction: Direction::Encrypt,
            selector: &selector,
            mac_only_encrypted: metadata.mac_only_encrypted,
        };
        let outcome = walk
            .run(&mut documents, &mut self.cipher)
            .map_err(|e| Error::EncryptTree(e.to_string()))?;
        // The MAC is never remembered: it always gets a fresh nonce.
        let last_modified = Timestamp::now_utc().to_rfc3339();
        let mac = self
            .cipher
            .encrypt(outcome.mac.as_bytes(), last_modified.as_bytes(), "str")
            .map_err(|e| Error::EncryptTree(format!("could not encrypt the MAC: {e}")))?;
        let mut metadata = self.metadata.clone();
        metadata.last_modified = last_modified;
        metadata.mac = mac;
        Ok(EncryptedDocument {
            documents,
            metadata,
            retired: outcome.retired,
        })
    }
}

impl EncryptedDocument {
    /// Recovers the data key and decrypts (as [`EncryptedDocument::decrypt`]),
    /// keeping what is needed to encrypt changed documents again with the
    /// same data key and stable ciphertexts.
    pub fn open(self, keys: &mut KeyContext, ignore_mac: bool) -> Result<Opened, Error> {
        let metadata = self.metadata;
        let data_key = recover_data_key(&metadata.key_groups, metadata.shamir_threshold, keys)
            .map_err(Error::RetrieveKey)?;
        let mut cipher = Cipher::remembering(&data_key);
        let selector = Selector::new(&metadata.effective_rule());
        let walk = Walk {
            direction: Direction::Decrypt,
            selector: &selector,
            mac_only_encrypted: metadata.mac_only_encrypted,
        };
        let encrypted = self.documents;
        let mut documents = encrypted.clone();
        let outcome = walk
            .run(&mut documents, &mut cipher)
            .map_err(|e| Error::DecryptTree(e.to_string()))?;
        if !ignore_mac {
            verify_mac(&metadata, &cipher, &outcome.mac)?;
        }
        Ok(Opened {
            documents,
            metadata,
            warnings: outcome.warnings,
            cipher,
            encrypted,
        })
    }
}

/// Checks the file's MAC against the one computed over its values.
///
/// The messages never show either MAC: sops prints both, but the MAC is an
/// unsalted SHA-512 over the plaintext values, from which a short secret
/// (a PIN) is found by trying every candidate.
fn verify_mac(metadata: &Metadata, cipher: &Cipher, computed: &str) -> Result<(), Error> {
    if metadata.mac.is_empty() {
        return Err(Error::Mac(
            "MAC mismatch: the file has no MAC (neither MAC is shown)".into(),
        ));
    }
    let aad = Timestamp::parse_rfc3339(&metadata.last_modified)
        .map(|t| t.to_rfc3339())
        .unwrap_or_else(|| metadata.last_modified.clone());
    let stored: EncValue = metadata
        .mac
        .parse()
        .map_err(|e| Error::Mac(format!("Cannot decrypt MAC: {e}")))?;
    let plain = cipher
        .decrypt(&stored, aad.as_bytes())
        .map_err(|e| Error::Mac(format!("Cannot decrypt MAC: {e}")))?;
    if plain.as_slice() != computed.as_bytes() {
        return Err(Error::Mac(
            "MAC mismatch: the file's MAC does not match its values (neither MAC is shown)".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::age::AgeKey;
    use crate::keys::MasterKey;
    use crate::tree::Value;

    fn settings() -> (EncryptSettings, String) {
        let identity = ::age::x25519::Identity::generate();
        let recipient = identity.to_public().to_string();
        let settings = EncryptSettings {
            key_groups: vec![vec![MasterKey::Age(AgeKey::new(&recipient).unwrap())]],
            ..Default::default()
        };
        use ::age::secrecy::ExposeSecret;
        (settings, identity.to_string().expose_secret().to_string())
    }

    #[test]
    fn empty_input_is_refused() {
        let (s, _) = settings();
        assert!(matches!(encrypt(vec![], s), Err(Error::NoDocument)));
    }

    #[test]
    fn tampering_is_detected_by_the_mac() {
        let (s, _) = settings();
        let mut doc = Map::new();
        doc.push("a", Value::Str("secret".into()));
        doc.push("b_unencrypted", Value::Str("clear".into()));
        let enc = encrypt(vec![doc], s).unwrap();
        assert_eq!(enc.metadata.rule, Some(EncryptionRule::default()));
        assert!(enc.metadata.mac.starts_with("ENC[AES256_GCM,"));
        let mut keys = KeyContext::new();
        // Without identities the data key cannot be recovered.
        let err = enc.decrypt(&mut keys, false).unwrap_err();
        assert_eq!(err.exit_code(), 128);
    }

    #[test]
    fn reencryption_keeps_unchanged_ciphertexts() {
        let identity = ::age::x25519::Identity::generate();
        let recipient = identity.to_public().to_string();
        let settings = EncryptSettings {
            key_groups: vec![vec![MasterKey::Age(AgeKey::new(&recipient).unwrap())]],
            ..Default::default()
        };
        let mut doc = Map::new();
        doc.push("a", Value::Str("one".into()));
        doc.push("b", Value::Int(2));
        doc.push(
            "l",
            Value::List(vec![Value::Str("x".into()), Value::Str("x".into())]),
        );
        let enc = encrypt(vec![doc], settings).unwrap();
        use ::age::secrecy::ExposeSecret;
        let mut identities = crate::keys::age::Identities::empty();
        identities
            .add_text(identity.to_string().expose_secret(), "test")
            .unwrap();
        let mut keys = KeyContext::with_age_identities(identities);
        let copy = EncryptedDocument::new(enc.documents.clone(), enc.metadata.clone());
        let mut opened = copy.open(&mut keys, false).unwrap();
        let same = opened.documents.clone();
        assert!(opened.reencrypt(same).unwrap().is_none());
        let mut changed = opened.documents.clone();
        *changed[0].get_mut("b").unwrap() = Value::Int(3);
        let out = opened.reencrypt(changed).unwrap().unwrap();
        assert_eq!(out.documents[0].get("a"), enc.documents[0].get("a"));
        assert_eq!(out.documents[0].get("l"), enc.documents[0].get("l"));
        assert_ne!(out.documents[0].get("b"), enc.documents[0].get("b"));
        assert_ne!(out.metadata.mac, enc.metadata.mac);
        assert_eq!(out.metadata.key_groups, enc.metadata.key_groups);
        let dec = out.decrypt(&mut keys, false).unwrap();
        assert_eq!(dec.documents[0].get("b"), Some(&Value::Int(3)));
    }

    #[test]
    fn rekey_makes_a_new_data_key_and_keeps_what_the_file_records() {
        use ::age::secrecy::ExposeSecret;
        let identity = ::age::x25519::Identity::generate();
        let recipient = identity.to_public().to_string();
        let group = || vec![vec![MasterKey::Age(AgeKey::new(&recipient).unwrap())]];
        let mut doc = Map::new();
        doc.push("a", Value::Str("secret".into()));
        doc.push("b_unencrypted", Value::Str("clear".into()));
        let mut enc = encrypt(
            vec![doc.clone()],
            EncryptSettings {
                key_groups: group(),
                ..Default::default()
            },
        )
        .unwrap();
        // A file that records no rule and an older version keeps both.
        enc.metadata.rule = None;
        enc.metadata.version = "3.7.3".into();
        let mut identities = crate::keys::age::Identities::empty();
        identities
            .add_text(identity.to_string().expose_secret(), "test")
            .unwrap();
        let mut keys = KeyContext::with_age_identities(identities);
        let old_key = recover_data_key(&enc.metadata.key_groups, 0, &mut keys).unwrap();
        let copy = EncryptedDocument::new(enc.documents.clone(), enc.metadata.clone());
        let rekeyed = copy.rekey(&mut keys, group(), 0).unwrap();
        let new_key = recover_data_key(&rekeyed.metadata.key_groups, 0, &mut keys).unwrap();
        assert_ne!(old_key.as_bytes(), new_key.as_bytes());
        assert_eq!(rekeyed.metadata.rule, None);
        assert_eq!(rekeyed.metadata.version, "3.7.3");
        assert_ne!(rekeyed.documents[0].get("a"), enc.documents[0].get("a"));
        assert_eq!(
            rekeyed.documents[0].get("b_unencrypted"),
            Some(&Value::Str("clear".into()))
        );
        let back = rekeyed.decrypt(&mut keys, false).unwrap();
        assert_eq!(back.documents[0], doc);
    }
}

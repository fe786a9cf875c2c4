//! The tree walk that encrypts or decrypts every selected leaf and computes
//! the MAC on the way (format.md §4–§6).

use sha2::{Digest, Sha256, Sha512};
use zeroize::Zeroize;

use super::cipher::Cipher;
use super::enc::{self, EncValue};
use super::plaintext;
use super::rules::Selector;
use crate::tree::{Comment, Item, Map, Value};

/// What the walk does to each selected leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Plaintext → `ENC[…]`.
    Encrypt,
    /// `ENC[…]` → plaintext.
    Decrypt,
}

/// Why the walk stopped. Messages name the key path, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalkError {
    /// A value could not be encrypted.
    #[error("{0}")]
    Encrypt(String),
    /// A value could not be decrypted.
    #[error("{0}")]
    Decrypt(String),
}

/// The result of a walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkOutcome {
    /// The MAC over the plaintext values: SHA-512 in uppercase hex.
    pub mac: String,
    /// Warnings to show the user (e.g. comments that were never encrypted).
    pub warnings: Vec<String>,
}

/// Options of one walk.
pub struct Walk<'a> {
    /// Encrypt or decrypt.
    pub direction: Direction,
    /// Which leaves are encrypted.
    pub selector: &'a Selector,
    /// Hash only the selected values (`mac_only_encrypted`).
    pub mac_only_encrypted: bool,
}

struct State<'c> {
    cipher: &'c mut Cipher,
    hasher: Sha512,
    comments: Vec<Vec<String>>,
    warnings: Vec<String>,
    aad: String,
}

impl Walk<'_> {
    /// Walks every document in order, transforming selected leaves in place.
    pub fn run(
        &self,
        documents: &mut [Map],
        cipher: &mut Cipher,
    ) -> Result<WalkOutcome, WalkError> {
        let mut hasher = Sha512::new();
        if self.mac_only_encrypted {
            hasher.update(Sha256::digest(b"sops"));
        }
        let mut state = State {
            cipher,
            hasher,
            comments: Vec::new(),
            warnings: Vec::new(),
            aad: String::new(),
        };
        for document in documents.iter_mut() {
            let mut path = Vec::new();
            state.comments.push(Vec::new());
            self.walk_map(document, &mut path, &mut state)?;
            state.comments.pop();
        }
        let digest = state.hasher.finalize();
        let mac = digest.iter().map(|b| format!("{b:02X}")).collect();
        Ok(WalkOutcome {
            mac,
            warnings: state.warnings,
        })
    }

    fn walk_map<'t>(
        &self,
        map: &'t mut Map,
        path: &mut Vec<&'t str>,
        state: &mut State<'_>,
    ) -> Result<(), WalkError> {
        for item in map.0.iter_mut() {
            match item {
                Item::Comment(comment) => self.visit_comment(comment, path, state)?,
                Item::Entry(key, value) => {
                    let key: &'t String = key;
                    path.push(key.as_str());
                    self.walk_value(value, path, state, false)?;
                    path.pop();
                    clear_innermost(state);
                }
            }
        }
        Ok(())
    }

    fn walk_list<'t>(
        &self,
        items: &'t mut [Value],
        path: &mut Vec<&'t str>,
        state: &mut State<'_>,
    ) -> Result<(), WalkError> {
        for element in items.iter_mut() {
            if let Value::Comment(comment) = element {
                if self.direction == Direction::Encrypt {
                    if let Some(encrypted) = self.encrypt_comment(comment, path, state)? {
                        // In a sequence sops stores an encrypted comment as an element.
                        *element = Value::Str(encrypted);
                    }
                } else {
                    self.visit_comment(comment, path, state)?;
                }
                continue;
            }
            self.walk_value(element, path, state, true)?;
            clear_innermost(state);
        }
        Ok(())
    }

    fn walk_value<'t>(
        &self,
        value: &'t mut Value,
        path: &mut Vec<&'t str>,
        state: &mut State<'_>,
        in_list: bool,
    ) -> Result<(), WalkError> {
        match value {
            Value::Map(map) => {
                state.comments.push(Vec::new());
                self.walk_map(map, path, state)?;
                state.comments.pop();
            }
            Value::List(items) => {
                state.comments.push(Vec::new());
                self.walk_list(items, path, state)?;
                state.comments.pop();
            }
            Value::Null => {}
            Value::Comment(_) => {}
            leaf => {
                let selected = self.selector.should_encrypt(path, &state.comments, false);
                match self.direction {
                    Direction::Encrypt => self.encrypt_leaf(leaf, selected, path, state)?,
                    Direction::Decrypt => {
                        self.decrypt_leaf(leaf, selected, path, state, in_list)?
                    }
                }
            }
        }
        Ok(())
    }

    fn hash(&self, value: &Value, selected: bool, state: &mut State<'_>) {
        if self.mac_only_encrypted && !selected {
            return;
        }
        match value {
            // Strings hash as their bytes: no copy needed.
            Value::Str(s) => state.hasher.update(s.as_bytes()),
            Value::Bytes(b) => state.hasher.update(b),
            other => {
                if let Some((_, bytes)) = plaintext::serialize(other) {
                    state.hasher.update(&bytes[..]);
                }
            }
        }
    }

    fn encrypt_leaf(
        &self,
        leaf: &mut Value,
        selected: bool,
        path: &[&str],
        state: &mut State<'_>,
    ) -> Result<(), WalkError> {
        self.hash(leaf, selected, state);
        if !selected || matches!(leaf, Value::Str(s) if s.is_empty()) {
            return Ok(());
        }
        if let Some((type_name, bytes)) = plaintext::serialize(leaf) {
            fill_aad(&mut state.aad, path);
            let encrypted = state
                .cipher
                .encrypt(&bytes, state.aad.as_bytes(), type_name)
                .map_err(|e| WalkError::Encrypt(e.to_string()))?;
            // Wipe the plaintext it replaces.
            std::mem::replace(leaf, Value::Str(encrypted)).zeroize();
        }
        Ok(())
    }

    fn decrypt_leaf(
        &self,
        leaf: &mut Value,
        selected: bool,
        path: &[&str],
        state: &mut State<'_>,
        in_list: bool,
    ) -> Result<(), WalkError> {
        if !selected {
            self.hash(leaf, false, state);
            return Ok(());
        }
        let text = match leaf {
            Value::Str(s) => s,
            other => {
                return Err(WalkError::Decrypt(format!(
                    "at {}: expected an encrypted value (a string), but got {}",
                    display_path(path),
                    other.type_name()
                )))
            }
        };
        if text.is_empty() {
            return Ok(());
        }
        let at = || display_path(path);
        let parsed: EncValue = text
            .parse()
            .map_err(|e| WalkError::Decrypt(format!("at {}: {e}", at())))?;
        let type_name = parsed.type_name.clone();
        fill_aad(&mut state.aad, path);
        let bytes = state
            .cipher
            .decrypt_owned(parsed, state.aad.as_bytes())
            .map_err(|e| WalkError::Decrypt(format!("at {}: {e}", at())))?;
        let value = plaintext::parse_owned(&type_name, bytes)
            .map_err(|e| WalkError::Decrypt(format!("at {}: {e}", at())))?;
        if let Value::Comment(c) = value {
            if !in_list {
                return Err(WalkError::Decrypt(format!(
                    "at {}: a comment stored as a mapping value",
                    at()
                )));
            }
            *leaf = Value::Comment(c);
            return Ok(());
        }
        self.hash(&value, true, state);
        *leaf = value;
        Ok(())
    }

    /// Encrypts a comment when selected; returns the `ENC[…]` text.
    fn encrypt_comment(
        &self,
        comment: &Comment,
        path: &[&str],
        state: &mut State<'_>,
    ) -> Result<Option<String>, WalkError> {
        if let Some(level) = state.comments.last_mut() {
            level.push(comment.text.clone());
        }
        if comment.text.is_empty() || !self.selector.should_encrypt(path, &state.comments, true) {
            return Ok(None);
        }
        let encrypted = state
            .cipher
            .encrypt(comment.text.as_bytes(), aad(path).as_bytes(), "comment")
            .map_err(|e| WalkError::Encrypt(e.to_string()))?;
        if let Some(re) = self.selector.unencrypted_comment_regex() {
            if re.is_match(&encrypted) {
                return Err(WalkError::Encrypt(format!(
                    "an encrypted comment matches the unencrypted_comment_regex {:?}: make sure that it cannot match an encrypted comment",
                    re.as_str()
                )));
            }
        }
        Ok(Some(encrypted))
    }

    /// A comment item of a mapping (or an unencrypted comment of a list).
    fn visit_comment(
        &self,
        comment: &mut Comment,
        path: &[&str],
        state: &mut State<'_>,
    ) -> Result<(), WalkError> {
        match self.direction {
            Direction::Encrypt => {
                if let Some(encrypted) = self.encrypt_comment(comment, path, state)? {
                    std::mem::replace(&mut comment.text, encrypted).zeroize();
                }
            }
            Direction::Decrypt => {
                // As when encrypting, the comment joins the stack before it is
                // judged; once decrypted, its plaintext replaces the stored text.
                if let Some(level) = state.comments.last_mut() {
                    level.push(comment.text.clone());
                }
                let selected = self.selector.should_encrypt(path, &state.comments, true);
                if selected && enc::is_encrypted(&comment.text) {
                    let decrypted = comment.text.parse::<EncValue>().ok().and_then(|v| {
                        state
                            .cipher
                            .decrypt_remembering(&v, aad(path).as_bytes())
                            .ok()
                    });
                    match decrypted {
                        Some(bytes) => {
                            comment.text = String::from_utf8_lossy(&bytes).into_owned();
                            if let Some(last) = state.comments.last_mut().and_then(|l| l.last_mut())
                            {
                                last.clone_from(&comment.text);
                            }
                        }
                        None => state.warnings.push(format!(
                            "a comment at {} could not be decrypted and is kept as it is",
                            display_path(path)
                        )),
                    }
                } else if selected && !comment.text.is_empty() && state.warnings.is_empty() {
                    state.warnings.push(
                        "Found possibly unencrypted comment in file. This is to be expected if the file being decrypted was created with an older version of SOPS."
                            .to_string(),
                    );
                }
            }
        }
        Ok(())
    }
}

fn clear_innermost(state: &mut State<'_>) {
    if let Some(level) = state.comments.last_mut() {
        level.clear();
    }
}

/// The additional data of a value: its key path joined with `:`, plus `:`.
pub fn aad(path: &[&str]) -> String {
    let mut out = String::new();
    fill_aad(&mut out, path);
    out
}

/// Writes the additional data of `path` into a reused buffer.
fn fill_aad(out: &mut String, path: &[&str]) {
    out.clear();
    for p in path {
        out.push_str(p);
        out.push(':');
    }
    if path.is_empty() {
        out.push(':');
    }
}

/// A key path in sops' index syntax, for messages: `["db"]["password"]`.
pub fn display_path(path: &[&str]) -> String {
    if path.is_empty() {
        return "the top level".to_string();
    }
    path.iter().map(|p| format!("[{p:?}]")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{DataKey, EncryptionRule};

    fn sample() -> Map {
        let mut db = Map::new();
        db.push("password", Value::Str("hunter2".into()));
        db.push("port", Value::Int(5432));
        let mut doc = Map::new();
        doc.0.push(Item::Comment(Comment::new(" db settings")));
        doc.push("db", Value::Map(db));
        doc.push(
            "list",
            Value::List(vec![
                Value::Str("a".into()),
                Value::Comment(Comment::new(" c")),
                Value::Null,
            ]),
        );
        doc.push("empty", Value::Str(String::new()));
        doc.push("plain_unencrypted", Value::Bool(true));
        doc
    }

    fn walk(direction: Direction, selector: &Selector, mac_only: bool) -> Walk<'_> {
        Walk {
            direction,
            selector,
            mac_only_encrypted: mac_only,
        }
    }

    #[test]
    fn mac_matches_spec_example() {
        // format.md §11: SHA512("hunter2" ‖ "5432").
        let mut db = Map::new();
        db.push("password", Value::Str("hunter2".into()));
        db.push("port", Value::Int(5432));
        let mut doc = Map::new();
        doc.0.push(Item::Comment(Comment::new(" db settings")));
        doc.push("db", Value::Map(db));
        let key = DataKey::generate().unwrap();
        let mut cipher = Cipher::new(&key);
        let selector = Selector::new(&EncryptionRule::default());
        let out = walk(Direction::Encrypt, &selector, false)
            .run(&mut [doc], &mut cipher)
            .unwrap();
        assert!(out.mac.starts_with("9615C10A899BAE3C"), "{}", out.mac);
    }

    #[test]
    fn encrypt_then_decrypt_restores_tree_and_mac() {
        let key = DataKey::generate().unwrap();
        let mut cipher = Cipher::new(&key);
        let selector = Selector::new(&EncryptionRule::default());
        let mut docs = vec![sample()];
        let enc = walk(Direction::Encrypt, &selector, false)
            .run(&mut docs, &mut cipher)
            .unwrap();
        let Some(Value::List(list)) = docs[0].get("list") else {
            panic!()
        };
        assert!(matches!(&list[1], Value::Str(s) if s.ends_with("type:comment]")));
        assert_eq!(docs[0].get("empty"), Some(&Value::Str(String::new())));
        assert_eq!(docs[0].get("plain_unencrypted"), Some(&Value::Bool(true)));
        let dec = walk(Direction::Decrypt, &selector, false)
            .run(&mut docs, &mut cipher)
            .unwrap();
        assert_eq!(enc.mac, dec.mac);
        assert_eq!(docs[0], sample());
    }

    #[test]
    fn mac_only_encrypted_differs_and_skips_clear_values() {
        let key = DataKey::generate().unwrap();
        let mut cipher = Cipher::new(&key);
        let selector = Selector::new(&EncryptionRule::default());
        let full = walk(Direction::Encrypt, &selector, false)
            .run(&mut [sample()], &mut cipher)
            .unwrap();
        let only = walk(Direction::Encrypt, &selector, true)
            .run(&mut [sample()], &mut cipher)
            .unwrap();
        assert_ne!(full.mac, only.mac);
        let mut changed = sample();
        *changed.get_mut("plain_unencrypted").unwrap() = Value::Bool(false);
        let only_changed = walk(Direction::Encrypt, &selector, true)
            .run(&mut [changed], &mut cipher)
            .unwrap();
        assert_eq!(only.mac, only_changed.mac);
    }

    #[test]
    fn swapped_values_fail_authentication_with_path_not_value() {
        let key = DataKey::generate().unwrap();
        let mut cipher = Cipher::new(&key);
        let selector = Selector::new(&EncryptionRule::default());
        let mut docs = vec![sample()];
        walk(Direction::Encrypt, &selector, false)
            .run(&mut docs, &mut cipher)
            .unwrap();
        let Some(Value::Map(db)) = docs[0].get_mut("db") else {
            panic!()
        };
        let pw = db.get("password").cloned().unwrap();
        *db.get_mut("port").unwrap() = pw;
        let err = walk(Direction::Decrypt, &selector, false)
            .run(&mut docs, &mut cipher)
            .unwrap_err();
        assert!(err.to_string().contains("[\"db\"][\"port\"]"), "{err}");
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn comment_regex_rules_decrypt_as_they_encrypted_without_warnings() {
        for rule in [
            EncryptionRule::UnencryptedCommentRegex("keep".into()),
            EncryptionRule::EncryptedCommentRegex("enc".into()),
        ] {
            let mut doc = Map::new();
            doc.0.push(Item::Comment(Comment::new(" keep me")));
            doc.push("a", Value::Str("1".into()));
            doc.0.push(Item::Comment(Comment::new(" enc")));
            doc.0.push(Item::Comment(Comment::new(" secret note")));
            doc.push("b", Value::Str("2".into()));
            let original = doc.clone();
            let key = DataKey::generate().unwrap();
            let mut cipher = Cipher::new(&key);
            let selector = Selector::new(&rule);
            let mut docs = vec![doc];
            let enc = walk(Direction::Encrypt, &selector, false)
                .run(&mut docs, &mut cipher)
                .unwrap();
            let dec = walk(Direction::Decrypt, &selector, false)
                .run(&mut docs, &mut cipher)
                .unwrap();
            assert_eq!(enc.mac, dec.mac);
            assert!(dec.warnings.is_empty(), "{rule:?}: {:?}", dec.warnings);
            assert_eq!(docs[0], original, "{rule:?}");
        }
    }

    #[test]
    fn aad_paths() {
        assert_eq!(aad(&[]), ":");
        assert_eq!(aad(&["db", "password"]), "db:password:");
    }
}

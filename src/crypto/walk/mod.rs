//! The tree walk that encrypts or decrypts every selected leaf and computes
//! the MAC on the way (docs/spec/format.md §4–§6).
//!
//! The walk visits documents, mappings, lists and comments in file order,
//! decides which leaves are selected and hashes the plaintexts. Each leaf
//! is sealed or opened by `leaf.rs`, the only value-level code. The simple
//! path does that at once, one leaf after the other (`Walk::one_by_one`);
//! `batch.rs` defers the leaves and does them all at the end, on two
//! threads for large files, with the same results.

mod batch;
mod leaf;
mod retired;
#[cfg(test)]
mod tests;

use sha2::{Digest, Sha256, Sha512};
use zeroize::Zeroize;

use super::cipher::Cipher;
use super::enc::{self, EncValue};
use super::plaintext;
use super::rules::Selector;
use crate::tree::{Comment, Item, Map, Value};
use batch::{Batch, JobKind};
use leaf::LeafCipher;

pub use retired::Retired;

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

impl WalkError {
    /// A leaf at `path` that did not open.
    fn leaf(path: &[&str], error: &leaf::LeafError) -> WalkError {
        WalkError::Decrypt(format!("at {}: {error}", display_path(path)))
    }
}

/// The result of a walk.
#[derive(Debug)]
pub struct WalkOutcome {
    /// The MAC over the plaintext values: SHA-512 in uppercase hex.
    pub mac: String,
    /// Warnings to show the user (e.g. comments that were never encrypted).
    pub warnings: Vec<String>,
    /// The values the walk replaced, wiped.
    pub retired: Retired,
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

struct State<'c, 't> {
    cipher: &'c mut Cipher,
    hasher: Sha512,
    comments: Vec<Vec<String>>,
    warnings: Vec<String>,
    aad: String,
    /// Leaves left for the batch (`None`: each leaf is done at once).
    batch: Option<Batch<'t>>,
}

impl<'c, 't> State<'c, 't> {
    fn new(cipher: &'c mut Cipher, hasher: Sha512, batch: Option<Batch<'t>>) -> State<'c, 't> {
        State {
            cipher,
            hasher,
            comments: Vec::new(),
            warnings: Vec::new(),
            aad: String::new(),
            batch,
        }
    }

    /// Enters a document, mapping or list at `path`: a new level of the
    /// comment stack and, in a batched walk, a new open collection.
    fn enter(&mut self, path: &[&'t str]) {
        self.comments.push(Vec::new());
        if let Some(batch) = self.batch.as_mut() {
            batch.open_container(path);
        }
    }

    /// Leaves what [`State::enter`] entered last.
    fn leave(&mut self) {
        if let Some(batch) = self.batch.as_mut() {
            batch.close_container();
        }
        self.comments.pop();
    }
}

/// The note when a selected comment of an encrypted file is plain.
const POSSIBLY_UNENCRYPTED_COMMENT: &str = "Found possibly unencrypted comment in file. This is to be expected if the file being decrypted was created with an older version of SOPS.";

impl Walk<'_> {
    /// Walks every document in order, transforming selected leaves in place.
    /// On failure the tree may be partly transformed; callers discard it.
    pub fn run(
        &self,
        documents: &mut [Map],
        cipher: &mut Cipher,
    ) -> Result<WalkOutcome, WalkError> {
        let mut hasher = Sha512::new();
        if self.mac_only_encrypted {
            hasher.update(Sha256::digest(b"sops"));
        }
        // Values are encrypted or decrypted after the walk, in a batch that
        // large files share between threads. A cipher that remembers
        // nonces (edit, rotate, set) needs them in order, one by one.
        let remembering = cipher.is_remembering();
        let state = State::new(cipher, hasher, None);
        if remembering {
            return self.one_by_one(documents, state);
        }
        self.batched(documents, state)
    }

    /// The walk that encrypts or decrypts each leaf as it reaches it.
    fn one_by_one<'t>(
        &self,
        documents: &'t mut [Map],
        mut state: State<'_, 't>,
    ) -> Result<WalkOutcome, WalkError> {
        self.walk_documents(documents, &mut state)?;
        Ok(finish(state))
    }

    fn walk_documents<'t>(
        &self,
        documents: &'t mut [Map],
        state: &mut State<'_, 't>,
    ) -> Result<(), WalkError> {
        for document in documents.iter_mut() {
            let mut path = Vec::new();
            state.enter(&path);
            self.walk_items(&mut document.0, &mut path, state)?;
            state.leave();
        }
        Ok(())
    }

    /// The items of a mapping.
    fn walk_items<'t>(
        &self,
        items: &'t mut [Item],
        path: &mut Vec<&'t str>,
        state: &mut State<'_, 't>,
    ) -> Result<(), WalkError> {
        for item in items.iter_mut() {
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
        state: &mut State<'_, 't>,
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
        state: &mut State<'_, 't>,
        in_list: bool,
    ) -> Result<(), WalkError> {
        match value {
            Value::Map(_) | Value::List(_) => {
                state.enter(path);
                match value {
                    Value::Map(map) => self.walk_items(&mut map.0, path, state)?,
                    Value::List(items) => self.walk_list(items, path, state)?,
                    _ => {}
                }
                state.leave();
            }
            Value::Null => {}
            Value::Comment(_) => {}
            leaf => {
                let selected = self.selector.should_encrypt(path, &state.comments, false);
                match self.direction {
                    Direction::Encrypt => {
                        self.encrypt_leaf(leaf, selected, path, state, in_list)?
                    }
                    Direction::Decrypt => {
                        self.decrypt_leaf(leaf, selected, path, state, in_list)?
                    }
                }
            }
        }
        Ok(())
    }

    fn hash(&self, value: &Value, selected: bool, hasher: &mut Sha512) {
        if self.mac_only_encrypted && !selected {
            return;
        }
        // From the value's own bytes (numbers written on the stack).
        plaintext::with_plaintext(value, |_, bytes| hasher.update(bytes));
    }

    fn encrypt_leaf<'t>(
        &self,
        leaf: &'t mut Value,
        selected: bool,
        path: &[&'t str],
        state: &mut State<'_, 't>,
        in_list: bool,
    ) -> Result<(), WalkError> {
        let encrypt = selected && !matches!(leaf, Value::Str(s) if s.is_empty());
        if let Some(batch) = state.batch.as_mut() {
            // The batch hashes the plaintext too, in walk order.
            if encrypt {
                let key = if in_list { None } else { path.last().copied() };
                batch.defer(leaf, key, JobKind::Encrypt);
            } else if selected || !self.mac_only_encrypted {
                batch.defer(leaf, None, JobKind::Hash);
            }
            return Ok(());
        }
        self.hash(leaf, selected, &mut state.hasher);
        if !encrypt {
            return Ok(());
        }
        fill_aad(&mut state.aad, path);
        let sealed = leaf::seal(leaf, &state.aad, &mut LeafCipher::Own(state.cipher))
            .map_err(|e| WalkError::Encrypt(e.to_string()))?;
        if let Some(encrypted) = sealed {
            // Wipe the plaintext it replaces.
            std::mem::replace(leaf, encrypted).zeroize();
        }
        Ok(())
    }

    fn decrypt_leaf<'t>(
        &self,
        leaf: &'t mut Value,
        selected: bool,
        path: &[&'t str],
        state: &mut State<'_, 't>,
        in_list: bool,
    ) -> Result<(), WalkError> {
        if !selected {
            match state.batch.as_mut() {
                // Hashed in order with the decrypted values, after them.
                Some(batch) => batch.defer(leaf, None, JobKind::Hash),
                None => self.hash(leaf, false, &mut state.hasher),
            }
            return Ok(());
        }
        if matches!(leaf, Value::Str(s) if s.is_empty()) {
            return Ok(());
        }
        if let Some(batch) = state.batch.as_mut() {
            let key = if in_list { None } else { path.last().copied() };
            batch.defer(leaf, key, JobKind::Decrypt { in_list });
            return Ok(());
        }
        fill_aad(&mut state.aad, path);
        let value = leaf::open(
            leaf,
            in_list,
            &state.aad,
            &mut LeafCipher::Own(state.cipher),
        )
        .map_err(|e| WalkError::leaf(path, &e))?;
        // Decrypted comments are not hashed.
        if !matches!(value, Value::Comment(_)) {
            self.hash(&value, true, &mut state.hasher);
        }
        *leaf = value;
        Ok(())
    }

    /// Encrypts a comment when selected; returns the `ENC[…]` text.
    fn encrypt_comment<'t>(
        &self,
        comment: &Comment,
        path: &[&str],
        state: &mut State<'_, 't>,
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
    fn visit_comment<'t>(
        &self,
        comment: &mut Comment,
        path: &[&str],
        state: &mut State<'_, 't>,
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
                    state
                        .warnings
                        .push(POSSIBLY_UNENCRYPTED_COMMENT.to_string());
                }
            }
        }
        Ok(())
    }
}

/// The MAC and warnings of a finished walk.
fn finish(state: State<'_, '_>) -> WalkOutcome {
    let digest = state.hasher.finalize();
    let mac = digest.iter().map(|b| format!("{b:02X}")).collect();
    WalkOutcome {
        mac,
        warnings: state.warnings,
        retired: Retired::default(),
    }
}

fn clear_innermost(state: &mut State<'_, '_>) {
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

//! Format-preserving mode (`--preserve-format`, `stores.<format>.preserve_format`).
//!
//! The normal stores rewrite a file in the reference's layout. This mode
//! keeps the user's bytes instead: only the scalar values (and the comments
//! the normal mode encrypts) are replaced by their `ENC[…]` text, and the
//! metadata is added where the reference expects it. The cryptography is
//! the normal mode's, unchanged: the caller encrypts the parsed tree with
//! [`document::encrypt`](crate::document::encrypt) and this module only
//! splices the resulting `ENC[…]` strings into the original text.
//!
//! Every file written is checked twice before it is returned:
//! 1. read back with the normal store, it must be exactly the tree the
//!    normal mode would have written (same `ENC[…]` values at the same
//!    paths, so the reference decrypts it and its MAC verifies);
//! 2. decrypting it in this mode (with the known plaintext) must give the
//!    input back byte for byte.
//!
//! What cannot pass both checks is refused with the line and column of the
//! first construct that cannot be kept, never written approximately.
//!
//! The layout information that decryption needs is kept in the encrypted
//! file in forms the reference reads as the same string: the quoting style
//! around an `ENC[…]` (`'ENC[…]'`, `"ENC[…]"`, a `|-` block), and for a
//! plain scalar inside a flow collection the escape `"\x45NC[…]"` (the
//! string `ENC[…]` for every YAML reader). Nothing derived from a plaintext
//! is stored outside the ciphertext.
//!
//! Layout the data model has no place for at all (a repeated INI key's
//! earlier lines, blank lines inside an INI comment, the lines of a
//! multi-line YAML scalar) travels inside the ciphertext of a comment: the
//! plaintext is read with those lines as comments ([`carry`]), which sops
//! encrypts and leaves out of the MAC, and decryption puts them back.

mod dotenv;
mod edit;
mod ini;
mod json;
mod yaml;

use std::ops::Range;

pub use edit::retext;

use crate::format::{FormatKind, Store, StoreOptions};
use crate::tree::{Item, Map, Value};

/// Why a file cannot be written (or read back) in format-preserving mode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreserveError {
    /// A construct the mode cannot keep: where it is and why.
    #[error("line {line}, column {col}: {message}")]
    Refused {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// What cannot be kept.
        message: String,
    },
    /// The file as a whole cannot be handled (no position to name).
    #[error("{0}")]
    Unsupported(String),
}

/// The layout style of one scalar value, as far as decryption needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// YAML plain scalar in block context.
    YamlPlain,
    /// YAML plain scalar inside a flow collection.
    YamlFlowPlain,
    /// YAML plain scalar in block context with a local tag (`!Ref x`):
    /// always a string, the tag stays in front of the `ENC[…]`.
    YamlTaggedPlain,
    /// YAML `'…'`.
    YamlSingle,
    /// YAML `"…"`.
    YamlDouble,
    /// YAML `|` block with the content at this column.
    YamlLiteral(usize),
    /// YAML `>` block with the content at this column.
    YamlFolded(usize),
    /// A JSON string, number, boolean or null.
    Json,
    /// The raw text of a dotenv value.
    Dotenv,
    /// An INI value, unquoted or the inside of its quotes.
    Ini,
}

/// One scalar value of the text.
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    /// The bytes the value occupies.
    pub span: Range<usize>,
    /// Its style.
    pub style: Style,
    /// The text must stay as it is: the value is under a YAML anchor, is an
    /// alias's copy, or has a tag (only kept while not encrypted).
    pub keep: bool,
}

/// One comment of the text.
#[derive(Debug, Clone)]
pub(crate) struct CommentSlot {
    /// The bytes replaced when the comment is encrypted or decrypted.
    pub span: Range<usize>,
    /// The comment text as the normal store reads it.
    pub text: String,
    /// Text kept in front of the replaced part (INI's `; `).
    pub prefix: String,
    /// Why the comment cannot be replaced in place, if it cannot.
    pub stuck: Option<&'static str>,
}

/// What a scan of a text found.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// The values in document order.
    pub values: Vec<Slot>,
    /// The comments in text order.
    pub comments: Vec<CommentSlot>,
    /// Encrypted scans: the metadata text to remove.
    pub metadata: Vec<Range<usize>>,
    /// Plaintext scans: where the metadata goes (one per YAML document).
    pub inserts: Vec<usize>,
}

/// One format's layout rules.
pub(crate) trait Layout {
    /// Finds the values and comments. `encrypted`: the text holds metadata.
    fn scan(&self, text: &str, encrypted: bool) -> Result<Scan, PreserveError>;
    /// The text standing for `enc` in place of a value of this style.
    fn enc_value(&self, slot: &Slot, enc: &str) -> String;
    /// The text of `value` in this style, `None` when it has none.
    fn plain_value(&self, slot: &Slot, value: &Value) -> Option<String>;
    /// The metadata text inserted at each insertion point.
    fn metadata_text(
        &self,
        text: &str,
        scan: &Scan,
        metadata: &Map,
    ) -> Result<Vec<(usize, String)>, PreserveError>;
}

fn layout(kind: FormatKind) -> Result<Box<dyn Layout>, PreserveError> {
    match kind {
        FormatKind::Yaml => Ok(Box::new(yaml::YamlLayout)),
        FormatKind::Json => Ok(Box::new(json::JsonLayout)),
        FormatKind::Dotenv => Ok(Box::new(dotenv::DotenvLayout)),
        FormatKind::Ini => Ok(Box::new(ini::IniLayout)),
        FormatKind::Binary => Err(PreserveError::Unsupported(
            "binary files have no layout to preserve".into(),
        )),
        FormatKind::Toml => Err(PreserveError::Unsupported(
            "the TOML store keeps the layout by itself".into(),
        )),
    }
}

/// True when the format has a format-preserving mode.
pub fn supports(kind: FormatKind) -> bool {
    !matches!(kind, FormatKind::Binary | FormatKind::Toml)
}

/// 1-based line and column of a byte offset.
pub(crate) fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = &text.as_bytes()[..at];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let col = text
        .get(start..at)
        .map_or(at - start, |s| s.chars().count())
        + 1;
    (line, col)
}

pub(crate) fn refused(text: &str, at: usize, message: impl Into<String>) -> PreserveError {
    let (line, col) = line_col(text, at);
    PreserveError::Refused {
        line,
        col,
        message: message.into(),
    }
}

/// The leaves and comments of two trees of the same shape, in tree order.
struct Pairs<'a> {
    leaves: Vec<(&'a Value, &'a Value)>,
    /// (first tree's text, second tree's text).
    comments: Vec<(&'a str, &'a str)>,
}

fn pair_docs<'a>(a: &'a [Map], b: &'a [Map]) -> Option<Pairs<'a>> {
    let mut pairs = Pairs {
        leaves: Vec::new(),
        comments: Vec::new(),
    };
    if a.len() != b.len() {
        return None;
    }
    for (x, y) in a.iter().zip(b) {
        pair_map(x, y, &mut pairs)?;
    }
    Some(pairs)
}

fn pair_map<'a>(a: &'a Map, b: &'a Map, out: &mut Pairs<'a>) -> Option<()> {
    if a.0.len() != b.0.len() {
        return None;
    }
    for (x, y) in a.0.iter().zip(&b.0) {
        match (x, y) {
            (Item::Entry(_, v), Item::Entry(_, w)) => pair_value(v, w, out)?,
            (Item::Comment(c), Item::Comment(d)) => out.comments.push((&c.text, &d.text)),
            _ => return None,
        }
    }
    Some(())
}

fn pair_value<'a>(a: &'a Value, b: &'a Value, out: &mut Pairs<'a>) -> Option<()> {
    match (a, b) {
        (Value::Map(x), Value::Map(y)) => pair_map(x, y, out),
        (Value::List(x), Value::List(y)) => {
            if x.len() != y.len() {
                return None;
            }
            for (v, w) in x.iter().zip(y) {
                match (v, w) {
                    (Value::Comment(c), Value::Comment(d)) => out.comments.push((&c.text, &d.text)),
                    // A sequence comment the normal mode encrypted becomes a string.
                    (Value::Comment(c), Value::Str(d)) => out.comments.push((&c.text, d)),
                    (Value::Str(c), Value::Comment(d)) => out.comments.push((c, &d.text)),
                    _ => pair_value(v, w, out)?,
                }
            }
            Some(())
        }
        (Value::Map(_) | Value::List(_), _) | (_, Value::Map(_) | Value::List(_)) => None,
        _ => {
            out.leaves.push((a, b));
            Some(())
        }
    }
}

const HINT_KEEP: &str = "this value is under a YAML anchor or tag, or is an alias's copy, and would be encrypted: sops expands aliases and encrypts each copy at its own path, so anchors, aliases and tags are kept only on values that stay in clear (see encrypted_regex / unencrypted_suffix); write the values out";

/// Why a value's text cannot be rebuilt from its value (never showing it).
fn spelling_reason(raw: &str, value: &Value) -> String {
    let tail = "so it would not decrypt back to the same bytes";
    if raw.trim_end().contains('\n') {
        format!("this value spans several lines in a style that cannot be rebuilt from its value (multi-line plain, quoted or folded scalar, `|+` or an indentation indicator), {tail}")
    } else if !matches!(value, Value::Str(_)) {
        format!(
            "this {} is not written the way sops writes it (e.g. `0x10`, `1.0`, `True`, a date without time), {tail}; quote it to keep it a string, or write it in the canonical form",
            value.type_name()
        )
    } else {
        format!("this string uses quoting or escapes that cannot be rebuilt from its value (e.g. `\\u00e9`, `\\/`, trailing spaces), {tail}")
    }
}

fn apply(text: &str, mut edits: Vec<(Range<usize>, String)>) -> Result<String, PreserveError> {
    edits.sort_by_key(|(r, _)| (r.start, r.end));
    let mut out = String::with_capacity(text.len() + 1024);
    let mut at = 0;
    for (range, replacement) in edits {
        if range.start < at {
            return Err(refused(
                text,
                range.start,
                "overlapping constructs cannot be kept",
            ));
        }
        out.push_str(&text[at..range.start]);
        out.push_str(&replacement);
        at = range.end;
    }
    out.push_str(&text[at..]);
    Ok(out)
}

/// The text of a file given to this mode: UTF-8, else refused with the
/// offset of the first byte that is not.
fn utf8_text(text: &[u8]) -> Result<&str, PreserveError> {
    std::str::from_utf8(text).map_err(|e| {
        PreserveError::Unsupported(format!(
            "the file is not valid UTF-8 (byte {})",
            e.valid_up_to()
        ))
    })
}

/// Scans `text` (`encrypted`: it holds metadata) and pairs the leaves and
/// comments of `from` (the trees `text` holds) with those of `to` (the
/// trees to write): one pair per value the scan found, else [`unmatched`].
fn scan_and_pair<'a>(
    layout: &dyn Layout,
    text: &str,
    encrypted: bool,
    from: &'a [Map],
    to: &'a [Map],
) -> Result<(Scan, Pairs<'a>), PreserveError> {
    let scan = layout.scan(text, encrypted)?;
    let pairs = pair_docs(from, to).ok_or_else(unmatched)?;
    if pairs.leaves.len() != scan.values.len() {
        return Err(unmatched());
    }
    Ok((scan, pairs))
}

/// The text `store` writes for `documents` and `metadata`: a layout takes
/// its metadata lines from it.
pub(crate) fn written_by(
    store: &dyn Store,
    documents: &[Map],
    metadata: &Map,
) -> Result<String, PreserveError> {
    let out = store
        .emit_encrypted(documents, metadata)
        .map_err(|e| PreserveError::Unsupported(e.to_string()))?;
    String::from_utf8(out).map_err(|e| PreserveError::Unsupported(e.to_string()))
}

fn unmatched() -> PreserveError {
    PreserveError::Unsupported(
        "the values of the file could not be matched with its layout (a construct the sops data model reads differently, such as duplicate INI keys)".into(),
    )
}

/// Writes the encrypted file: `text` (the plaintext input) with every value
/// and comment that `encrypted` (the normal mode's result for `plain`, the
/// input's parsed documents) encrypted replaced in place, and `metadata`
/// added. Checks that the result reads back as `encrypted` and decrypts
/// back to `text`.
pub fn encrypt(
    kind: FormatKind,
    text: &[u8],
    plain: &[Map],
    encrypted: &[Map],
    metadata: &Map,
) -> Result<Vec<u8>, PreserveError> {
    let layout = layout(kind)?;
    let text = utf8_text(text)?;
    if text.starts_with('\u{feff}') {
        return Err(PreserveError::Unsupported(
            "a byte-order mark at the start of the file cannot be kept; remove it".into(),
        ));
    }
    let original = text;
    // The layout the data model cannot hold travels in encrypted comments
    // when the caller read the text with them ([`carry`]); otherwise the
    // constructs are refused below as they always were.
    let store = kind.store(&StoreOptions::default());
    let augmented = carried_text(kind, text)?
        .filter(|a| store.parse_plain(a.text.as_bytes()).ok().as_deref() == Some(plain));
    if let Some(a) = &augmented {
        // A comment regex rule reads comments: a carrying comment could
        // change which values are encrypted.
        let rule = crate::metadata::Metadata::from_map(metadata)
            .ok()
            .and_then(|m| m.rule);
        if matches!(
            rule,
            Some(
                crate::crypto::EncryptionRule::UnencryptedCommentRegex(_)
                    | crate::crypto::EncryptionRule::EncryptedCommentRegex(_)
            )
        ) {
            return Err(refused(
                text,
                a.first,
                format!("{} (it could travel in an encrypted comment, but not under a comment regex rule, which reads comments)", a.reason),
            ));
        }
    }
    let text = augmented.as_ref().map_or(text, |a| a.text.as_str());
    let (scan, pairs) = scan_and_pair(layout.as_ref(), text, false, plain, encrypted)?;
    let mut edits = Vec::new();
    for (slot, (p, e)) in scan.values.iter().zip(&pairs.leaves) {
        if p == e {
            continue;
        }
        let Value::Str(enc) = e else {
            return Err(unmatched());
        };
        if slot.keep {
            return Err(refused(text, slot.span.start, HINT_KEEP));
        }
        let raw = &text[slot.span.clone()];
        if layout.plain_value(slot, p).as_deref() != Some(raw) {
            return Err(refused(text, slot.span.start, spelling_reason(raw, p)));
        }
        edits.push((slot.span.clone(), layout.enc_value(slot, enc)));
    }
    let mut used = vec![false; pairs.comments.len()];
    for c in &scan.comments {
        let found = pairs
            .comments
            .iter()
            .enumerate()
            .find(|(i, (p, _))| !used[*i] && *p == c.text);
        let Some((i, (p, e))) = found else {
            return Err(refused(
                text,
                c.span.start,
                "this comment has no place in the sops data model (the normal mode drops it), so it cannot be encrypted in place",
            ));
        };
        used[i] = true;
        if p == e {
            // A carried line would stay in clear: only when the value it
            // belongs to (the next one) does too.
            let next_encrypted = || {
                scan.values
                    .iter()
                    .position(|v| v.span.start >= c.span.end)
                    .is_none_or(|i| pairs.leaves[i].0 != pairs.leaves[i].1)
            };
            if augmented.is_some() && p.contains("enseal-preserve:") && next_encrypted() {
                return Err(refused(
                    text,
                    c.span.start,
                    "this comment carries a line the sops data model cannot hold, and the encryption rules leave comments in clear here, so it would be kept in clear",
                ));
            }
            continue;
        }
        if let Some(why) = c.stuck {
            return Err(refused(text, c.span.start, why));
        }
        edits.push((c.span.clone(), format!("{}{e}", c.prefix)));
    }
    if let Some(i) = used.iter().position(|u| !u) {
        if pairs.comments[i].0 != pairs.comments[i].1 {
            return Err(unmatched());
        }
    }
    for (at, block) in layout.metadata_text(text, &scan, metadata)? {
        edits.push((at..at, block));
    }
    let out = apply(text, edits)?;
    // Check 1: the normal store reads exactly the normal mode's tree.
    let store = kind.store(&StoreOptions::default());
    let read = store.parse_encrypted(out.as_bytes()).map_err(|e| {
        PreserveError::Unsupported(format!(
            "the format-preserving output would not read back ({e})"
        ))
    })?;
    let same_metadata = read
        .metadata
        .as_ref()
        .map(crate::metadata::Metadata::from_map)
        == Some(crate::metadata::Metadata::from_map(metadata));
    let expected: Vec<Map> = encrypted.iter().map(comments_as_comments).collect();
    let got: Vec<Map> = read.documents.iter().map(comments_as_comments).collect();
    if got != expected || !same_metadata {
        #[cfg(test)]
        eprintln!(
            "read {:?}\nexpected {:?}\nout {out}",
            read.documents, expected
        );
        return Err(PreserveError::Unsupported(
            "the format-preserving output would not read back as the normally encrypted file (comment or document placement the reference reads differently)".into(),
        ));
    }
    // Check 2: decryption in this mode gives the input back.
    let back = zeroize::Zeroizing::new(decrypt(kind, out.as_bytes(), &read.documents, plain)?);
    let text = original;
    if back.as_slice() != text.as_bytes() {
        let at = back
            .iter()
            .zip(text.as_bytes())
            .position(|(a, b)| a != b)
            .unwrap_or(back.len().min(text.len()));
        return Err(refused(
            text,
            at,
            "the layout here would not come back byte for byte after decryption",
        ));
    }
    Ok(out.into_bytes())
}

/// The text with the lines that the sops data model cannot hold turned
/// into carrier comment lines (INI only), `None` when there are none.
fn carried_text(kind: FormatKind, text: &str) -> Result<Option<ini::Augmented>, PreserveError> {
    match kind {
        FormatKind::Ini => ini::augment(text),
        FormatKind::Yaml => yaml::augment(text),
        _ => Ok(None),
    }
}

/// The documents to encrypt in format-preserving mode for the plaintext
/// `text`, which the normal store read as `documents`: the same, except
/// that the lines the sops data model cannot hold (an INI key's earlier
/// lines when it is repeated, blank lines inside an INI comment) are read
/// as comment lines, so that they are encrypted as a comment and
/// [`encrypt`] can keep them. The reference decrypts such a file to the
/// same values and shows those lines as a comment starting with
/// `enseal-preserve:`; comments are not part of the MAC.
pub fn carry(
    kind: FormatKind,
    text: &[u8],
    documents: Vec<Map>,
) -> Result<Vec<Map>, PreserveError> {
    let text = utf8_text(text)?;
    let Some(augmented) = carried_text(kind, text)? else {
        return Ok(documents);
    };
    let store = kind.store(&StoreOptions::default());
    store
        .parse_plain(augmented.text.as_bytes())
        .map_err(|_| refused(text, augmented.first, augmented.reason))
}

/// `map` with each entry's value replaced by `value(v)`, comments kept.
fn map_entries(map: &Map, value: impl Fn(&Value) -> Value) -> Map {
    Map(map
        .0
        .iter()
        .map(|item| match item {
            Item::Entry(k, v) => Item::Entry(k.clone(), value(v)),
            Item::Comment(c) => Item::Comment(c.clone()),
        })
        .collect())
}

/// The tree with sequence comments the normal mode turned into `ENC[…]`
/// strings written back as comments (as they read from a file), and every
/// comment's `inline` flag cleared (a placement hint, not data: sops moves
/// an inline comment of a sequence item to the sequence's start, where it
/// reads back as a comment of its own line).
fn comments_as_comments(map: &Map) -> Map {
    fn value(v: &Value) -> Value {
        match v {
            Value::Map(m) => Value::Map(comments_as_comments(m)),
            Value::List(items) => Value::List(
                items
                    .iter()
                    .map(|i| match i {
                        Value::Str(s) if s.starts_with("ENC[") && s.ends_with(",type:comment]") => {
                            Value::Comment(crate::tree::Comment::new(s.clone()))
                        }
                        Value::Comment(c) => {
                            Value::Comment(crate::tree::Comment::new(c.text.clone()))
                        }
                        other => value(other),
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    Map(map
        .0
        .iter()
        .map(|item| match item {
            Item::Entry(k, v) => Item::Entry(k.clone(), value(v)),
            Item::Comment(c) => Item::Comment(crate::tree::Comment::new(c.text.clone())),
        })
        .collect())
}

/// Writes the decrypted file: `text` (an encrypted file) with every value
/// and comment that `encrypted` (its parsed documents) holds encrypted and
/// `plain` (their decryption) holds in clear replaced in place, and the
/// metadata removed.
pub fn decrypt(
    kind: FormatKind,
    text: &[u8],
    encrypted: &[Map],
    plain: &[Map],
) -> Result<Vec<u8>, PreserveError> {
    let layout = layout(kind)?;
    let text = utf8_text(text)?;
    let (scan, pairs) = scan_and_pair(layout.as_ref(), text, true, encrypted, plain)?;
    let mut edits = Vec::new();
    for (slot, (e, p)) in scan.values.iter().zip(&pairs.leaves) {
        if p == e {
            continue;
        }
        if slot.keep {
            return Err(refused(text, slot.span.start, HINT_KEEP));
        }
        let Some(rendered) = layout.plain_value(slot, p) else {
            return Err(refused(
                text,
                slot.span.start,
                format!(
                    "the decrypted {} cannot be written in this value's style",
                    p.type_name()
                ),
            ));
        };
        edits.push((slot.span.clone(), rendered));
    }
    for c in &scan.comments {
        if let Some((_, p)) = pairs.comments.iter().find(|(e, _)| *e == c.text) {
            if *p != c.text {
                edits.push((c.span.clone(), format!("{}{p}", c.prefix)));
            }
        }
    }
    for range in &scan.metadata {
        edits.push((range.clone(), String::new()));
    }
    let out = apply(text, edits)?;
    // The text must read back as the decrypted values (a plain scalar of a
    // file this mode did not write could change type, for example).
    let store = kind.store(&StoreOptions::default());
    let read = store.parse_plain(out.as_bytes()).ok();
    let same = match (&read, kind) {
        // The reference 3.11 reads every JSON number as a float: `8080` of
        // its files decrypts to 8080.0 and reads back as an integer.
        (Some(read), FormatKind::Json) => {
            read.iter().map(json_numbers).collect::<Vec<_>>()
                == plain.iter().map(json_numbers).collect::<Vec<_>>()
        }
        (Some(read), _) => read.as_slice() == plain,
        (None, _) => false,
    };
    if !same {
        return Err(PreserveError::Unsupported(
            "the decrypted text in this file's layout would not read back as the decrypted values (a value whose type or text this layout cannot express)".into(),
        ));
    }
    if kind == FormatKind::Ini && out.contains(ini::CARRIER) {
        // Lines carried in encrypted comments go back to their place.
        return Ok(ini::restore(&out).into_bytes());
    }
    if kind == FormatKind::Yaml && out.contains(yaml::CARRIER) {
        return yaml::restore(&out).map(String::into_bytes).ok_or_else(|| {
            PreserveError::Unsupported(
                "a comment starting with `enseal-preserve:` does not carry lines this mode wrote"
                    .into(),
            )
        });
    }
    Ok(out.into_bytes())
}

/// The tree with integral JSON floats as integers.
fn json_numbers(map: &Map) -> Map {
    fn value(v: &Value) -> Value {
        match v {
            Value::Map(m) => Value::Map(json_numbers(m)),
            Value::List(items) => Value::List(items.iter().map(value).collect()),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::Int(*f as i64),
            other => other.clone(),
        }
    }
    map_entries(map, value)
}

/// Removes the newline that the metadata block pushed in front of itself
/// when the original text did not end with one (the block then ends
/// without a newline): the removal range of a block at `start..end`.
pub(crate) fn metadata_range(text: &str, start: usize, end: usize) -> Range<usize> {
    if end == text.len()
        && !text.ends_with('\n')
        && start > 0
        && text.as_bytes()[start - 1] == b'\n'
    {
        start - 1..end
    } else {
        start..end
    }
}

/// The insertion of `block` (which ends with a newline) at the end of
/// `text`: when the text does not end with a newline, one is put before the
/// block and the block's own last newline is dropped, so that decryption
/// can tell.
pub(crate) fn append_at_end(text: &str, at: usize, block: &str) -> String {
    if at == text.len() && !text.is_empty() && !text.ends_with('\n') {
        format!("\n{}", block.strip_suffix('\n').unwrap_or(block))
    } else {
        block.to_string()
    }
}

/// The plaintext text of a non-string scalar, as sops encrypts it.
pub(crate) fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::Str(s) => Some(s.clone()),
        Value::Comment(_) | Value::Map(_) | Value::List(_) | Value::Null | Value::Bytes(_) => None,
        Value::Bool(b) => Some(b.to_string()),
        other => crate::crypto::plaintext::serialize(other)
            .and_then(|(_, bytes)| String::from_utf8(bytes.to_vec()).ok()),
    }
}

#[cfg(test)]
mod tests;

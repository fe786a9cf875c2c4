//! The TOML store (an enseal extension; sops treats `.toml` as binary).
//! See docs/toml.md for the file layout, type mapping and metadata.
//!
//! Parsing builds the common [`tree`](crate::tree) from a `toml_edit`
//! document and remembers a *layout*: the source text, the byte span of every
//! leaf value and comment, and the value's TOML kind. Writing a tree whose
//! shape (keys, containers, leaves, comments, in order) matches a remembered
//! layout replaces exactly those spans, so everything else (whitespace, key
//! order, quoting of keys, table headers, dotted keys, inline tables) stays
//! byte for byte. When keys were added or removed (`set`, `unset`), the
//! layout's text is edited with `toml_edit` and used if it has the tree's
//! shape and order; otherwise (a conversion from YAML or JSON, or an order
//! TOML cannot express with headers) the tree is written in a canonical TOML
//! form whose reading gives back the same order (the MAC depends on it).
//!
//! Layouts travel explicitly: each store remembers the layouts of the files
//! it parsed in a [`Layouts`] handle, and the CLI, which reads and writes
//! with two store objects, builds both with the same handle
//! ([`FormatKind::store_sharing`](super::FormatKind::store_sharing)). No
//! state is kept per thread or process.
//!
//! `render` writes single values, `read` builds the tree and the layout,
//! `write` fills a layout or writes a tree afresh.

mod read;
mod render;
mod write;

use std::cell::RefCell;
use std::ops::Range;
use std::rc::Rc;

use super::{binary::BinaryStore, EncryptedFile, FormatError, Store, StoreOptions};
use crate::tree::{Comment, Item, Map, Timestamp, Value};

/// Type names of values only TOML has, or kept in their exact source form.
/// Their plaintext is always a string; see docs/toml.md §3.
pub const TOML_TYPES: &[&str] = &[
    "str_literal",
    "str_multiline",
    "str_multiline_literal",
    "datetime_local",
    "date_local",
    "time_local",
    "toml",
];

/// How a leaf is written (its ENC type when it is not a sops type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `"basic"` string with enseal's canonical escapes.
    Str,
    /// `'literal'` string.
    StrLiteral,
    /// `"""` multi-line basic string, opening delimiter followed by a newline.
    StrMultiline,
    /// `'''` multi-line literal string, opening delimiter followed by a newline.
    StrMultilineLiteral,
    /// Decimal integer.
    Int,
    /// Float in canonical form.
    Float,
    /// `true` / `false`.
    Bool,
    /// Offset date-time in RFC 3339 form (sops `time`).
    Time,
    /// Local date-time, exact source text.
    DatetimeLocal,
    /// Local date, exact source text.
    DateLocal,
    /// Local time, exact source text.
    TimeLocal,
    /// Any other value: its exact TOML source text.
    Raw,
}

impl Kind {
    fn special_name(self) -> Option<&'static str> {
        Some(match self {
            Kind::StrLiteral => "str_literal",
            Kind::StrMultiline => "str_multiline",
            Kind::StrMultilineLiteral => "str_multiline_literal",
            Kind::DatetimeLocal => "datetime_local",
            Kind::DateLocal => "date_local",
            Kind::TimeLocal => "time_local",
            Kind::Raw => "toml",
            _ => return None,
        })
    }

    fn from_special(name: &str) -> Option<Kind> {
        Some(match name {
            "str_literal" => Kind::StrLiteral,
            "str_multiline" => Kind::StrMultiline,
            "str_multiline_literal" => Kind::StrMultilineLiteral,
            "datetime_local" => Kind::DatetimeLocal,
            "date_local" => Kind::DateLocal,
            "time_local" => Kind::TimeLocal,
            "toml" => Kind::Raw,
            _ => return None,
        })
    }
}

/// A leaf scalar of a layout: where it is, its tree value, its form.
#[derive(Debug, Clone)]
struct Leaf {
    span: Range<usize>,
    value: Value,
    kind: Kind,
}

/// A layout node, parallel to the tree.
#[derive(Debug, Clone)]
enum Node {
    Map(Vec<MapSlot>),
    List(Vec<Node>),
    Leaf(Leaf),
}

/// An item of a layout mapping: an entry (with the text offset comments
/// are placed by, `usize::MAX` for none) or a comment's span (`#` included).
#[derive(Debug, Clone)]
enum MapSlot {
    Entry {
        key: String,
        node: Node,
        anchor: usize,
    },
    Comment(Range<usize>),
}

/// What a parse remembers for writing.
#[derive(Debug)]
enum Layout {
    /// A TOML body with its slots.
    Toml {
        source: String,
        root: Vec<MapSlot>,
        encrypted: bool,
    },
    /// A `.toml` file that sops encrypted as binary (JSON envelope).
    Binary,
}

// Layouts of plaintext files hold secrets: wipe them when dropped.
impl Drop for Layout {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        if let Layout::Toml { source, .. } = self {
            source.zeroize();
        }
    }
}

impl Drop for Leaf {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        if let Value::Str(s) = &mut self.value {
            s.zeroize();
        }
    }
}

/// True for a value in the `ENC[AES256_GCM,…]` envelope of an encrypted
/// leaf. The TOML store rewrites the `type:` field of that envelope to keep
/// TOML-only types (docs/toml.md §3), so recognizing it is part of the file
/// format; this is a syntactic test only and needs nothing of the crypto
/// layer (a unit test checks it agrees with the crypto layer's own test).
fn is_enc_envelope(s: &str) -> bool {
    s.starts_with("ENC[AES256_GCM,")
}

/// The layouts remembered by the TOML stores built with this handle, newest
/// last (at most 8; the oldest is dropped and wiped). Cloning the handle
/// shares it: a reading and a writing store built with clones of one handle
/// write a file back in the layout it was read with. Stores of other
/// formats ignore it.
#[derive(Debug, Clone, Default)]
pub struct Layouts(Rc<RefCell<Vec<Rc<Layout>>>>);

impl Layouts {
    fn remember(&self, layout: Layout) {
        let mut l = self.0.borrow_mut();
        if l.len() >= 8 {
            l.remove(0);
        }
        l.push(Rc::new(layout));
    }

    /// Newest first.
    fn all(&self) -> Vec<Rc<Layout>> {
        self.0.borrow().iter().rev().cloned().collect()
    }

    fn newest_is_binary(&self) -> bool {
        matches!(self.0.borrow().last().map(|l| &**l), Some(Layout::Binary))
    }
}

/// The TOML store.
#[derive(Debug, Clone, Default)]
pub struct TomlStore {
    binary: Option<BinaryStore>,
    layouts: Layouts,
}

impl TomlStore {
    /// A TOML store; `options` are used for the JSON envelope of `.toml`
    /// files that sops encrypted as binary.
    pub fn new(options: &StoreOptions) -> Self {
        TomlStore::sharing(options, &Layouts::default())
    }

    /// A TOML store that remembers and uses the layouts of `layouts`,
    /// shared with every other store built with it.
    pub fn sharing(options: &StoreOptions, layouts: &Layouts) -> Self {
        TomlStore {
            binary: Some(BinaryStore::new(options)),
            layouts: layouts.clone(),
        }
    }

    fn binary(&self) -> BinaryStore {
        self.binary
            .clone()
            .unwrap_or_else(|| BinaryStore::new(&StoreOptions::default()))
    }
}

/// `line L, column C: message` for a parse error.
fn parse_error(source: &str, e: &toml_edit::TomlError) -> FormatError {
    let offset = e.span().map(|s| s.start).unwrap_or(0).min(source.len());
    let (line, column) = line_column(source, offset);
    let message = e.message().trim().replace('\n', " ");
    FormatError::Parse(format!("toml: line {line}: column {column}: {message}"))
}

fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset;
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn to_str(input: &[u8]) -> Result<&str, FormatError> {
    std::str::from_utf8(input)
        .map_err(|e| FormatError::Parse(format!("toml: invalid UTF-8 at byte {}", e.valid_up_to())))
}

/// Spans of the comments (`#` to the end of the line, without the line
/// break) of a valid TOML text.
fn comment_spans(src: &str) -> Vec<Range<usize>> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'#' => {
                let start = i;
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                let mut end = i;
                if end > start && b[end - 1] == b'\r' {
                    end -= 1;
                }
                out.push(start..end);
            }
            q @ (b'"' | b'\'') => {
                let triple = b.get(i + 1) == Some(&q) && b.get(i + 2) == Some(&q);
                if triple {
                    i += 3;
                    loop {
                        if i >= b.len() {
                            break;
                        }
                        if q == b'"' && b[i] == b'\\' {
                            i += 2;
                            continue;
                        }
                        if b[i] == q && b.get(i + 1) == Some(&q) && b.get(i + 2) == Some(&q) {
                            i += 3;
                            // Up to two more quotes belong to the content.
                            let mut extra = 0;
                            while extra < 2 && b.get(i) == Some(&q) {
                                i += 1;
                                extra += 1;
                            }
                            break;
                        }
                        i += 1;
                    }
                    continue;
                }
                i += 1;
                while i < b.len() && b[i] != q && b[i] != b'\n' {
                    if q == b'"' && b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

use read::*;
use render::*;
use write::*;

impl Store for TomlStore {
    fn parse_plain(&self, input: &[u8]) -> Result<Vec<Map>, FormatError> {
        if self.layouts.newest_is_binary() {
            // Editing a `.toml` file that sops encrypted as binary: it stays
            // one blob.
            return self.binary().parse_plain(input);
        }
        let src = to_str(input)?;
        let doc = toml_edit::Document::parse(src).map_err(|e| parse_error(src, &e))?;
        Ok(vec![parse_body(
            &self.layouts,
            src,
            &doc,
            src.len(),
            false,
        )?])
    }

    fn parse_encrypted(&self, input: &[u8]) -> Result<EncryptedFile, FormatError> {
        let src = to_str(input)?;
        if is_json_envelope(src) {
            let file = self.binary().parse_encrypted(input)?;
            self.layouts.remember(Layout::Binary);
            return Ok(file);
        }
        let doc = toml_edit::Document::parse(src).map_err(|e| parse_error(src, &e))?;
        let root = doc
            .as_item()
            .as_table()
            .ok_or_else(|| FormatError::Parse("toml: the document is not a table".into()))?;
        let (end, metadata) = match root.get("sops") {
            None => (src.len(), None),
            Some(toml_edit::Item::Table(t)) => {
                let start = sops_start(t).ok_or_else(|| {
                    FormatError::Parse("toml: the [sops] table has no position".into())
                })?;
                if !src[start..].trim_start().starts_with("[sops") {
                    return Err(FormatError::Parse(
                        "toml: the sops metadata must be a [sops] table".into(),
                    ));
                }
                if root
                    .iter()
                    .any(|(k, item)| k != "sops" && item_end(item).is_some_and(|e| e > start))
                {
                    return Err(FormatError::Parse(
                        "toml: the [sops] table must be the last table of the file".into(),
                    ));
                }
                let mut end = start;
                // The line break enseal writes before `[sops]`.
                if src[..end].ends_with('\n') {
                    end -= 1;
                }
                (end, Some(plain_table(t)))
            }
            Some(_) => {
                return Err(FormatError::Parse(
                    "toml: the sops metadata must be a table".into(),
                ))
            }
        };
        let tree = parse_body(&self.layouts, src, &doc, end, true)?;
        Ok(EncryptedFile {
            documents: vec![tree],
            metadata,
        })
    }

    fn emit_plain(&self, documents: &[Map]) -> Result<Vec<u8>, FormatError> {
        if self.layouts.newest_is_binary() {
            return self.binary().emit_plain(documents);
        }
        let [doc] = documents else {
            return Err(FormatError::Emit(
                "TOML files hold exactly one document".into(),
            ));
        };
        Ok(emit_body(&self.layouts, doc, false)?.into_bytes())
    }

    fn emit_encrypted(&self, documents: &[Map], metadata: &Map) -> Result<Vec<u8>, FormatError> {
        if self.layouts.newest_is_binary() {
            return self.binary().emit_encrypted(documents, metadata);
        }
        let [doc] = documents else {
            return Err(FormatError::Emit(
                "TOML files hold exactly one document".into(),
            ));
        };
        let mut out = emit_body(&self.layouts, doc, true)?;
        out.push('\n');
        out.push_str(&metadata_text(metadata)?);
        Ok(out.into_bytes())
    }

    fn type_for_other_format(&self, documents: &mut [Map]) {
        type_raw_values(&self.layouts, documents);
    }

    fn emit_value(&self, value: &Value) -> Result<Vec<u8>, FormatError> {
        let mut text = inline_value(&Fresh::default(), value, &mut Vec::new())?;
        text.push('\n');
        Ok(text.into_bytes())
    }
}

/// Start offset of the `[sops]` header or of its first sub-table header.
fn sops_start(t: &toml_edit::Table) -> Option<usize> {
    let mut starts = Vec::new();
    collect_starts(&toml_edit::Item::Table(t.clone()), &mut starts);
    starts.into_iter().min()
}

fn collect_starts(item: &toml_edit::Item, out: &mut Vec<usize>) {
    match item {
        toml_edit::Item::Table(t) => {
            if let Some(s) = t.span() {
                out.push(s.start);
            }
            for (_, i) in t.iter() {
                collect_starts(i, out);
            }
        }
        toml_edit::Item::ArrayOfTables(a) => {
            for t in a.iter() {
                collect_starts(&toml_edit::Item::Table(t.clone()), out);
            }
        }
        toml_edit::Item::Value(v) => {
            if let Some(s) = v.span() {
                out.push(s.start);
            }
        }
        toml_edit::Item::None => {}
    }
}

/// The largest offset inside an item (to check nothing follows `[sops]`).
fn item_end(item: &toml_edit::Item) -> Option<usize> {
    let mut starts = Vec::new();
    collect_starts(item, &mut starts);
    starts.into_iter().max()
}

#[cfg(test)]
mod tests;

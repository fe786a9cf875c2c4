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
//! Layouts live in a small per-thread registry because the CLI reads and
//! writes with two separate store objects.

use std::cell::RefCell;
use std::ops::Range;
use std::rc::Rc;

use super::{binary::BinaryStore, EncryptedFile, FormatError, Store, StoreOptions};
use crate::crypto::enc;
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

/// Forgets (and wipes) every remembered layout of this thread.
pub fn forget_layouts() {
    LAYOUTS.with(|l| l.borrow_mut().clear());
}

thread_local! {
    static LAYOUTS: RefCell<Vec<Rc<Layout>>> = const { RefCell::new(Vec::new()) };
}

fn remember(layout: Layout) {
    LAYOUTS.with(|l| {
        let mut l = l.borrow_mut();
        if l.len() >= 8 {
            l.remove(0);
        }
        l.push(Rc::new(layout));
    });
}

fn layouts() -> Vec<Rc<Layout>> {
    LAYOUTS.with(|l| l.borrow().iter().rev().cloned().collect())
}

fn newest_is_binary() -> bool {
    LAYOUTS.with(|l| matches!(l.borrow().last().map(|l| &**l), Some(Layout::Binary)))
}

/// The TOML store.
#[derive(Debug, Clone, Default)]
pub struct TomlStore {
    binary: Option<BinaryStore>,
}

impl TomlStore {
    /// A TOML store; `options` are used for the JSON envelope of `.toml`
    /// files that sops encrypted as binary.
    pub fn new(options: &StoreOptions) -> Self {
        TomlStore {
            binary: Some(BinaryStore::new(options)),
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

// ---------------------------------------------------------------- rendering

/// A basic string with enseal's canonical escapes.
fn basic(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn literal_ok(s: &str, multiline: bool) -> bool {
    let chars_ok = s.chars().all(|c| {
        c == '\t'
            || (multiline && (c == '\n' || c == '\''))
            || (c != '\'' && !((c as u32) < 0x20 || c == '\u{7f}'))
    });
    chars_ok && (!multiline || (!s.contains("'''") && !s.ends_with('\'')))
}

fn render_str(kind: Kind, s: &str) -> String {
    match kind {
        Kind::StrLiteral if literal_ok(s, false) => format!("'{s}'"),
        Kind::StrMultilineLiteral if literal_ok(s, true) => format!("'''\n{s}'''"),
        Kind::StrMultiline => {
            let mut out = String::from("\"\"\"\n");
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' | '\t' => out.push(c),
                    c if (c as u32) < 0x20 || c == '\u{7f}' => {
                        out.push_str(&format!("\\u{:04X}", c as u32));
                    }
                    c => out.push(c),
                }
            }
            out.push_str("\"\"\"");
            out
        }
        Kind::Raw if is_scalar_source(s, None) => s.to_string(),
        Kind::DatetimeLocal | Kind::DateLocal | Kind::TimeLocal
            if is_scalar_source(s, Some(kind)) =>
        {
            s.to_string()
        }
        _ => basic(s),
    }
}

/// True when `s` is exactly one TOML scalar value (of a local date/time
/// kind when `kind` says so).
fn is_scalar_source(s: &str, kind: Option<Kind>) -> bool {
    let Ok(v) = s.parse::<toml_edit::Value>() else {
        return false;
    };
    if v.span().is_some_and(|r| r != (0..s.len())) {
        return false;
    }
    if v.to_string() != s {
        return false;
    }
    match (&v, kind) {
        (toml_edit::Value::Array(_) | toml_edit::Value::InlineTable(_), _) => false,
        (_, None) => true,
        (toml_edit::Value::Datetime(d), Some(k)) => datetime_kind(d.value()) == Some(k),
        _ => false,
    }
}

fn datetime_kind(d: &toml_edit::Datetime) -> Option<Kind> {
    match (d.date.is_some(), d.time.is_some(), d.offset.is_some()) {
        (true, true, false) => Some(Kind::DatetimeLocal),
        (true, false, false) => Some(Kind::DateLocal),
        (false, true, false) => Some(Kind::TimeLocal),
        _ => None,
    }
}

/// Canonical float text.
fn render_float(f: f64) -> String {
    if f.is_nan() {
        "nan".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        format!("{f:?}")
    }
}

/// TOML text of a scalar tree value, written as `kind` when it fits.
fn render(kind: Kind, value: &Value, path: &[String]) -> Result<String, FormatError> {
    Ok(match value {
        Value::Str(s) => render_str(kind, s),
        Value::Bytes(b) => basic(&String::from_utf8_lossy(b)),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => render_float(*f),
        Value::Bool(b) => b.to_string(),
        Value::Time(t) => t.to_rfc3339_nano(),
        Value::Comment(c) => basic(&c.text),
        Value::Null => {
            return Err(FormatError::Emit(format!(
                "TOML has no null value (at {})",
                display_path(path)
            )))
        }
        Value::Map(_) | Value::List(_) => {
            return Err(FormatError::Emit(format!(
                "unexpected container at {}",
                display_path(path)
            )))
        }
    })
}

fn display_path(path: &[String]) -> String {
    if path.is_empty() {
        "the top level".to_string()
    } else {
        path.join(":")
    }
}

// ------------------------------------------------------------------ parsing

/// Classifies a leaf: its kind and tree value.
fn classify(raw: &str, v: &toml_edit::Value) -> (Kind, Value) {
    let raw_leaf = || (Kind::Raw, Value::Str(raw.to_string()));
    match v {
        toml_edit::Value::String(s) => {
            let s = s.value();
            for kind in [
                Kind::Str,
                Kind::StrLiteral,
                Kind::StrMultiline,
                Kind::StrMultilineLiteral,
            ] {
                if render_str(kind, s) == raw {
                    return (kind, Value::Str(s.clone()));
                }
            }
            raw_leaf()
        }
        toml_edit::Value::Integer(i) if i.value().to_string() == raw => {
            (Kind::Int, Value::Int(*i.value()))
        }
        toml_edit::Value::Float(f) if render_float(*f.value()) == raw => {
            (Kind::Float, Value::Float(*f.value()))
        }
        toml_edit::Value::Boolean(b) => (Kind::Bool, Value::Bool(*b.value())),
        toml_edit::Value::Datetime(d) => match datetime_kind(d.value()) {
            Some(kind) => (kind, Value::Str(raw.to_string())),
            None => match Timestamp::parse_rfc3339(raw) {
                Some(t) if t.to_rfc3339_nano() == raw => (Kind::Time, Value::Time(t)),
                _ => raw_leaf(),
            },
        },
        _ => raw_leaf(),
    }
}

struct Builder<'s> {
    src: &'s str,
    encrypted: bool,
}

impl Builder<'_> {
    fn leaf(&self, v: &toml_edit::Value) -> Result<Node, FormatError> {
        let span = v
            .span()
            .ok_or_else(|| FormatError::Parse("toml: a value has no position".into()))?;
        let raw = &self.src[span.clone()];
        let (mut kind, mut value) = classify(raw, v);
        if self.encrypted {
            if let Value::Str(s) = &mut value {
                if enc::is_encrypted(s) {
                    if let Some(special) = s
                        .strip_suffix(']')
                        .and_then(|r| r.rsplit_once(",type:"))
                        .and_then(|(_, t)| Kind::from_special(t))
                    {
                        let cut = s.rfind(",type:").unwrap_or(s.len());
                        s.truncate(cut);
                        s.push_str(",type:str]");
                        kind = special;
                    }
                }
            }
        }
        Ok(Node::Leaf(Leaf { span, value, kind }))
    }

    fn value(&self, v: &toml_edit::Value) -> Result<(Node, usize), FormatError> {
        let anchor = v.span().map_or(usize::MAX, |s| s.start);
        match v {
            toml_edit::Value::Array(a) => {
                let mut items = Vec::new();
                for e in a.iter() {
                    // Elements are no comment anchors: comments never become
                    // list elements, so indices count values only.
                    let (node, _) = self.value(e)?;
                    items.push(node);
                }
                Ok((Node::List(items), anchor))
            }
            toml_edit::Value::InlineTable(t) => {
                let mut slots = Vec::new();
                for (k, v) in t.iter() {
                    let key_anchor = t.key(k).and_then(|k| k.span()).map(|s| s.start);
                    let (node, a) = self.value(v)?;
                    slots.push(MapSlot::Entry {
                        key: k.to_string(),
                        node,
                        anchor: key_anchor.unwrap_or(a),
                    });
                }
                Ok((Node::Map(slots), anchor))
            }
            leaf => Ok((self.leaf(leaf)?, anchor)),
        }
    }

    fn table(&self, t: &toml_edit::Table, skip_sops: bool) -> Result<Vec<MapSlot>, FormatError> {
        let mut slots = Vec::new();
        for (k, item) in t.iter() {
            if skip_sops && k == "sops" {
                continue;
            }
            let key_anchor = t.key(k).and_then(|k| k.span()).map(|s| s.start);
            let (node, anchor) = self.item(item)?;
            let anchor = match item {
                toml_edit::Item::Value(_) => key_anchor.unwrap_or(anchor),
                _ => anchor,
            };
            slots.push(MapSlot::Entry {
                key: k.to_string(),
                node,
                anchor,
            });
        }
        Ok(slots)
    }

    fn item(&self, item: &toml_edit::Item) -> Result<(Node, usize), FormatError> {
        match item {
            toml_edit::Item::Value(v) => self.value(v),
            toml_edit::Item::Table(t) => {
                let slots = self.table(t, false)?;
                let anchor = if t.is_implicit() || t.is_dotted() || t.span().is_none() {
                    min_anchor_map(&slots)
                } else {
                    t.span().map_or(usize::MAX, |s| s.start)
                };
                Ok((Node::Map(slots), anchor))
            }
            toml_edit::Item::ArrayOfTables(a) => {
                let mut items = Vec::new();
                let mut anchor = usize::MAX;
                for t in a.iter() {
                    let slots = self.table(t, false)?;
                    // Neither the `[[…]]` headers nor the elements are
                    // comment anchors: a comment before a header goes to
                    // the element's first key, wherever the element is.
                    anchor = anchor.min(min_anchor_map(&slots));
                    items.push(Node::Map(slots));
                }
                Ok((Node::List(items), anchor))
            }
            toml_edit::Item::None => Ok((Node::Map(Vec::new()), usize::MAX)),
        }
    }
}

fn min_anchor_map(slots: &[MapSlot]) -> usize {
    slots
        .iter()
        .map(|s| match s {
            MapSlot::Entry { anchor, .. } => *anchor,
            MapSlot::Comment(r) => r.start,
        })
        .min()
        .unwrap_or(usize::MAX)
}

enum NodeRef<'a> {
    Map(&'a [MapSlot]),
    List(&'a [Node]),
    Leaf(&'a Range<usize>),
}

impl<'a> NodeRef<'a> {
    fn of(node: &'a Node) -> Self {
        match node {
            Node::Map(m) => NodeRef::Map(m),
            Node::List(l) => NodeRef::List(l),
            Node::Leaf(l) => NodeRef::Leaf(&l.span),
        }
    }
}

fn leaf_spans(node: &NodeRef<'_>, out: &mut Vec<Range<usize>>) {
    match node {
        NodeRef::Map(slots) => {
            for s in slots.iter() {
                if let MapSlot::Entry { node, .. } = s {
                    leaf_spans(&NodeRef::of(node), out);
                }
            }
        }
        NodeRef::List(slots) => {
            for node in slots.iter() {
                leaf_spans(&NodeRef::of(node), out);
            }
        }
        NodeRef::Leaf(span) => out.push((*span).clone()),
    }
}

fn to_tree(src: &str, slots: &[MapSlot], encrypted: bool) -> Map {
    let mut map = Map::new();
    for s in slots {
        match s {
            MapSlot::Entry { key, node, .. } => {
                map.push(key.clone(), node_value(src, node, encrypted))
            }
            MapSlot::Comment(r) => map
                .0
                .push(Item::Comment(Comment::new(&src[r.start + 1..r.end]))),
        }
    }
    map
}

fn node_value(src: &str, node: &Node, encrypted: bool) -> Value {
    match node {
        Node::Map(m) => Value::Map(to_tree(src, m, encrypted)),
        Node::List(l) => Value::List(
            l.iter()
                .map(|node| node_value(src, node, encrypted))
                .collect(),
        ),
        Node::Leaf(l) => l.value.clone(),
    }
}

/// The slots of `src` (up to `end`).
fn build_layout(
    src: &str,
    doc: &toml_edit::Document<&str>,
    end: usize,
    encrypted: bool,
) -> Result<Vec<MapSlot>, FormatError> {
    let builder = Builder { src, encrypted };
    let root_table = doc
        .as_item()
        .as_table()
        .ok_or_else(|| FormatError::Parse("toml: the document is not a table".into()))?;
    let mut root = builder.table(root_table, encrypted)?;
    let mut leaves = Vec::new();
    leaf_spans(&NodeRef::Map(&root), &mut leaves);
    leaves.sort_by_key(|l| l.start);
    // Map entries that are anchors: (offset, depth, entry number in DFS order).
    let mut anchors = Vec::new();
    collect_anchors(&root, 0, &mut 0, &mut anchors);
    anchors.sort_by_key(|&(offset, depth, _)| (offset, std::cmp::Reverse(depth)));
    let mut targets: std::collections::HashMap<usize, Vec<Range<usize>>> = Default::default();
    let mut trailing = Vec::new();
    for span in comment_spans(&src[..end]) {
        // A `#` inside a value is no comment (cannot happen for a text
        // toml_edit accepted, but never trust the lexer with a slice).
        let inside = leaves.partition_point(|l| l.start <= span.start);
        if inside > 0 && leaves[inside - 1].end > span.start {
            continue;
        }
        let next = anchors.partition_point(|&(offset, _, _)| offset <= span.start);
        match anchors.get(next) {
            Some(&(_, _, id)) => targets.entry(id).or_default().push(span),
            None => trailing.push(span),
        }
    }
    place_comments(&mut root, &mut 0, &mut targets);
    root.extend(trailing.into_iter().map(MapSlot::Comment));
    Ok(root)
}

fn collect_anchors(
    slots: &[MapSlot],
    depth: usize,
    counter: &mut usize,
    out: &mut Vec<(usize, usize, usize)>,
) {
    for slot in slots {
        if let MapSlot::Entry { node, anchor, .. } = slot {
            let id = *counter;
            *counter += 1;
            if *anchor != usize::MAX {
                out.push((*anchor, depth, id));
            }
            collect_node_anchors(node, depth + 1, counter, out);
        }
    }
}

fn collect_node_anchors(
    node: &Node,
    depth: usize,
    counter: &mut usize,
    out: &mut Vec<(usize, usize, usize)>,
) {
    match node {
        Node::Map(m) => collect_anchors(m, depth, counter, out),
        Node::List(l) => {
            for node in l {
                collect_node_anchors(node, depth + 1, counter, out);
            }
        }
        Node::Leaf(_) => {}
    }
}

/// Inserts each entry's comments before it (entries numbered as in
/// [`collect_anchors`]).
fn place_comments(
    slots: &mut Vec<MapSlot>,
    counter: &mut usize,
    targets: &mut std::collections::HashMap<usize, Vec<Range<usize>>>,
) {
    let old = std::mem::take(slots);
    for mut slot in old {
        if let MapSlot::Entry { node, .. } = &mut slot {
            let id = *counter;
            *counter += 1;
            if let Some(comments) = targets.remove(&id) {
                slots.extend(comments.into_iter().map(MapSlot::Comment));
            }
            place_node_comments(node, counter, targets);
        }
        slots.push(slot);
    }
}

fn place_node_comments(
    node: &mut Node,
    counter: &mut usize,
    targets: &mut std::collections::HashMap<usize, Vec<Range<usize>>>,
) {
    match node {
        Node::Map(m) => place_comments(m, counter, targets),
        Node::List(l) => {
            for node in l.iter_mut() {
                place_node_comments(node, counter, targets);
            }
        }
        Node::Leaf(_) => {}
    }
}

/// Parses `src` (up to `end`), remembering its layout; returns the tree.
fn parse_body(
    src: &str,
    doc: &toml_edit::Document<&str>,
    end: usize,
    encrypted: bool,
) -> Result<Map, FormatError> {
    let root = build_layout(src, doc, end, encrypted)?;
    let tree = to_tree(src, &root, encrypted);
    remember(Layout::Toml {
        source: src[..end].to_string(),
        root,
        encrypted,
    });
    Ok(tree)
}

/// Plain tree of a TOML item, without layout (the metadata).
fn plain_item(item: &toml_edit::Item) -> Value {
    match item {
        toml_edit::Item::Value(v) => plain_value(v),
        toml_edit::Item::Table(t) => Value::Map(plain_table(t)),
        toml_edit::Item::ArrayOfTables(a) => {
            Value::List(a.iter().map(|t| Value::Map(plain_table(t))).collect())
        }
        toml_edit::Item::None => Value::Null,
    }
}

fn plain_table(t: &toml_edit::Table) -> Map {
    let mut m = Map::new();
    for (k, v) in t.iter() {
        m.push(k, plain_item(v));
    }
    m
}

fn plain_value(v: &toml_edit::Value) -> Value {
    match v {
        toml_edit::Value::String(s) => Value::Str(s.value().clone()),
        toml_edit::Value::Integer(i) => Value::Int(*i.value()),
        toml_edit::Value::Float(f) => Value::Float(*f.value()),
        toml_edit::Value::Boolean(b) => Value::Bool(*b.value()),
        toml_edit::Value::Datetime(d) => {
            let text = d.value().to_string();
            Timestamp::parse_rfc3339(&text).map_or(Value::Str(text), Value::Time)
        }
        toml_edit::Value::Array(a) => Value::List(a.iter().map(plain_value).collect()),
        toml_edit::Value::InlineTable(t) => {
            let mut m = Map::new();
            for (k, v) in t.iter() {
                m.push(k, plain_value(v));
            }
            Value::Map(m)
        }
    }
}

// ------------------------------------------------------------------ writing

/// Fills the layout's slots from `tree`; `None` when the shapes differ.
fn fill(
    src: &str,
    slots: &[MapSlot],
    tree: &Map,
    path: &mut Vec<String>,
    out: &mut Vec<(Range<usize>, String)>,
) -> Option<Result<(), FormatError>> {
    if slots.len() != tree.0.len() {
        return None;
    }
    for (slot, item) in slots.iter().zip(&tree.0) {
        match (slot, item) {
            (MapSlot::Comment(r), Item::Comment(c)) => {
                out.push((r.clone(), comment_text(&c.text)?))
            }
            (MapSlot::Entry { key, node, .. }, Item::Entry(k, v)) if key == k => {
                path.push(k.clone());
                let r = fill_node(src, node, v, path, out);
                path.pop();
                match r {
                    Some(Ok(())) => {}
                    other => return other,
                }
            }
            _ => return None,
        }
    }
    Some(Ok(()))
}

/// `#text`, or `None` when the text cannot stay one comment line.
fn comment_text(text: &str) -> Option<String> {
    (!text.contains(['\n', '\r'])).then(|| format!("#{text}"))
}

fn fill_node(
    src: &str,
    node: &Node,
    value: &Value,
    path: &mut Vec<String>,
    out: &mut Vec<(Range<usize>, String)>,
) -> Option<Result<(), FormatError>> {
    match (node, value) {
        (Node::Map(slots), Value::Map(m)) => fill(src, slots, m, path, out),
        (Node::List(slots), Value::List(items)) => {
            if slots.len() != items.len() {
                return None;
            }
            for (slot, v) in slots.iter().zip(items) {
                if matches!(v, Value::Comment(_)) {
                    return None;
                }
                match fill_node(src, slot, v, path, out) {
                    Some(Ok(())) => {}
                    other => return other,
                }
            }
            Some(Ok(()))
        }
        (Node::Leaf(leaf), v)
            if !matches!(v, Value::Map(_) | Value::List(_) | Value::Comment(_)) =>
        {
            match leaf_text(src, leaf, v, path) {
                Ok(text) => out.push((leaf.span.clone(), text)),
                Err(e) => return Some(Err(e)),
            }
            Some(Ok(()))
        }
        _ => None,
    }
}

fn splice(src: &str, mut repl: Vec<(Range<usize>, String)>) -> String {
    repl.sort_by_key(|(r, _)| r.start);
    let mut out = String::with_capacity(src.len() * 2);
    let mut at = 0;
    for (r, text) in repl {
        if r.start < at || r.end > src.len() {
            // Overlapping spans cannot happen for a parsed layout; never
            // slice out of bounds if they do.
            continue;
        }
        out.push_str(&src[at..r.start]);
        out.push_str(&text);
        at = r.end;
    }
    out.push_str(&src[at..]);
    out
}

/// The layout a tree is written with: the newest one, or for encrypted
/// output the newest plaintext one (the file just read or edited) if any.
fn pick_layout(prefer_plain: bool) -> Option<Rc<Layout>> {
    let all = layouts();
    if prefer_plain {
        if let Some(l) = all.iter().find(|l| {
            matches!(
                &***l,
                Layout::Toml {
                    encrypted: false,
                    ..
                }
            )
        }) {
            return Some(l.clone());
        }
    }
    all.into_iter().next()
}

/// Writes `tree` with the remembered layout when it has the same shape,
/// else edits the layout's text to the tree's keys, else canonically.
fn emit_body(tree: &Map, prefer_plain: bool) -> Result<String, FormatError> {
    let layout = pick_layout(prefer_plain);
    if let Some(Layout::Toml { source, root, .. }) = layout.as_deref() {
        let mut out = Vec::new();
        match fill(source, root, tree, &mut Vec::new(), &mut out) {
            Some(Ok(())) => return Ok(splice(source, out)),
            Some(Err(e)) => return Err(e),
            None => {}
        }
    }
    // Keys were added or removed: edit the layout's text with toml_edit and
    // use it when the result has the tree's shape.
    if let Some(l) = layout.as_deref() {
        if let Some(text) = candidates_synced(l, tree)? {
            return Ok(text);
        }
    }
    let mut out = String::new();
    let ctx = match layout.as_deref() {
        Some(Layout::Toml { source, root, .. }) => Fresh::new(source, root),
        _ => Fresh::default(),
    };
    write_table(&ctx, tree, &mut Vec::new(), &mut Vec::new(), &mut out)?;
    Ok(out)
}

fn candidates_synced(layout: &Layout, tree: &Map) -> Result<Option<String>, FormatError> {
    let Layout::Toml {
        source,
        root,
        encrypted,
    } = layout
    else {
        return Ok(None);
    };
    let Ok(mut doc) = source.parse::<toml_edit::DocumentMut>() else {
        return Ok(None);
    };
    let old = to_tree(source, root, *encrypted);
    sync_table(doc.as_table_mut(), tree, Some(&old), true);
    let text = doc.to_string();
    let Ok(parsed) = toml_edit::Document::parse(text.as_str()) else {
        return Ok(None);
    };
    let Ok(root) = build_layout(&text, &parsed, text.len(), *encrypted) else {
        return Ok(None);
    };
    let mut out = Vec::new();
    match fill(&text, &root, tree, &mut Vec::new(), &mut out) {
        Some(Ok(())) => Ok(Some(splice(&text, out))),
        Some(Err(e)) => Err(e),
        None => Ok(None),
    }
}

/// Makes table `t` have the keys of `tree`; `old` is the tree `t` was
/// read as (to tell which list elements were removed).
fn sync_table(t: &mut dyn toml_edit::TableLike, tree: &Map, old: Option<&Map>, standard: bool) {
    let stale: Vec<String> = t
        .iter()
        .map(|(k, _)| k.to_string())
        .filter(|k| tree.get(k).is_none())
        .collect();
    for k in stale {
        t.remove(&k);
    }
    for (k, v) in tree.entries() {
        match t.get_mut(k) {
            Some(item) => sync_item(item, v, old.and_then(|o| o.get(k)), standard),
            None => {
                t.insert(k, placeholder_item(v, standard));
            }
        }
    }
}

fn sync_item(item: &mut toml_edit::Item, v: &Value, old: Option<&Value>, standard: bool) {
    use toml_edit::Item as I;
    use toml_edit::Value as V;
    let old_map = match old {
        Some(Value::Map(m)) => Some(m),
        _ => None,
    };
    match (item, v) {
        (I::Table(t), Value::Map(m)) => sync_table(t, m, old_map, true),
        (I::Value(V::InlineTable(t)), Value::Map(m)) => sync_table(t, m, old_map, false),
        (I::ArrayOfTables(a), Value::List(items)) => {
            let values: Vec<&Value> = items.iter().filter(|i| !is_comment(i)).collect();
            let (removed, olds) = removed_elements(old, &values, a.len());
            for i in removed.into_iter().rev() {
                a.remove(i);
            }
            for (i, v) in values.iter().enumerate() {
                if i >= a.len() {
                    a.push(toml_edit::Table::new());
                }
                let old = olds.get(i).copied().flatten();
                if let (Some(t), Value::Map(m)) = (a.get_mut(i), v) {
                    let old = match old {
                        Some(Value::Map(o)) => Some(o),
                        _ => None,
                    };
                    sync_table(t, m, old, true);
                }
            }
        }
        (I::Value(V::Array(a)), Value::List(items)) => {
            let values: Vec<&Value> = items.iter().filter(|i| !is_comment(i)).collect();
            let (removed, olds) = removed_elements(old, &values, a.len());
            // The new first element takes the old first one's leading space.
            let first_prefix = a.get(0).and_then(|v| v.decor().prefix().cloned());
            let first_removed = removed.first() == Some(&0);
            for i in removed.into_iter().rev() {
                a.remove(i);
            }
            if let (true, Some(prefix), Some(first)) = (first_removed, first_prefix, a.get_mut(0)) {
                first.decor_mut().set_prefix(prefix);
            }
            for (i, v) in values.iter().enumerate() {
                if i >= a.len() {
                    a.push(placeholder_value(v));
                } else if let Some(slot) = a.get_mut(i) {
                    sync_value(slot, v, olds.get(i).copied().flatten());
                }
            }
        }
        (I::Value(x), v) if !matches!(x, V::Array(_) | V::InlineTable(_)) && !is_container(v) => {}
        (item, v) => *item = placeholder_item(v, standard),
    }
}

/// Which of the `len` elements of a list to remove so that the rest line up
/// with `new` (elements equal to the old ones are kept, in order), and the
/// old value of each kept element. Without an old list that lines up, the
/// last elements are removed.
fn removed_elements<'o>(
    old: Option<&'o Value>,
    new: &[&Value],
    len: usize,
) -> (Vec<usize>, Vec<Option<&'o Value>>) {
    if let Some(Value::List(items)) = old {
        let old: Vec<&Value> = items.iter().filter(|i| !is_comment(i)).collect();
        if old.len() == len && new.len() < len {
            let mut removed = Vec::new();
            let mut kept = Vec::new();
            let mut j = 0;
            for (i, o) in old.iter().enumerate() {
                if j < new.len() && *o == new[j] {
                    kept.push(Some(*o));
                    j += 1;
                } else {
                    removed.push(i);
                }
            }
            if j == new.len() {
                return (removed, kept);
            }
        }
        if old.len() == len {
            return (
                (new.len().min(len)..len).collect(),
                old.iter().map(|o| Some(*o)).collect(),
            );
        }
    }
    ((new.len().min(len)..len).collect(), Vec::new())
}

fn sync_value(slot: &mut toml_edit::Value, v: &Value, old: Option<&Value>) {
    let mut item = toml_edit::Item::Value(slot.clone());
    sync_item(&mut item, v, old, false);
    if let toml_edit::Item::Value(new) = item {
        *slot = new;
    }
}

fn is_container(v: &Value) -> bool {
    matches!(v, Value::Map(_) | Value::List(_))
}

fn is_comment(v: &Value) -> bool {
    match v {
        Value::Comment(_) => true,
        Value::Str(s) => enc::is_encrypted(s) && s.ends_with(",type:comment]"),
        _ => false,
    }
}

fn placeholder_item(v: &Value, standard: bool) -> toml_edit::Item {
    match v {
        Value::Map(m) if standard => {
            let mut t = toml_edit::Table::new();
            sync_table(&mut t, m, None, true);
            toml_edit::Item::Table(t)
        }
        Value::List(items) if standard && is_table_like(v) => {
            let mut a = toml_edit::ArrayOfTables::new();
            for m in items.iter().filter_map(|i| match i {
                Value::Map(m) => Some(m),
                _ => None,
            }) {
                let mut t = toml_edit::Table::new();
                sync_table(&mut t, m, None, true);
                a.push(t);
            }
            toml_edit::Item::ArrayOfTables(a)
        }
        v => toml_edit::Item::Value(placeholder_value(v)),
    }
}

fn placeholder_value(v: &Value) -> toml_edit::Value {
    match v {
        Value::Map(m) => {
            let mut t = toml_edit::InlineTable::new();
            sync_table(&mut t, m, None, false);
            toml_edit::Value::InlineTable(t)
        }
        Value::List(items) => {
            let mut a = toml_edit::Array::new();
            for i in items.iter().filter(|i| !is_comment(i)) {
                a.push(placeholder_value(i));
            }
            toml_edit::Value::Array(a)
        }
        _ => toml_edit::Value::from(""),
    }
}

/// Gives the values kept as TOML source text (type `toml`: hex integers,
/// `1e6`, unusual escapes…) their typed value, for writing the tree in
/// another format. Uses the layout the tree was read with; a tree read from
/// elsewhere is left as it is.
pub fn type_raw_values(documents: &mut [Map]) {
    let [doc] = documents else { return };
    if let Some(Layout::Toml { source, root, .. }) = pick_layout(false).as_deref() {
        if fill(source, root, doc, &mut Vec::new(), &mut Vec::new()).is_some() {
            retype_map(root, doc);
        }
    }
}

fn retype_map(slots: &[MapSlot], map: &mut Map) {
    for (slot, item) in slots.iter().zip(map.0.iter_mut()) {
        if let (MapSlot::Entry { node, .. }, Item::Entry(_, v)) = (slot, item) {
            retype_node(node, v);
        }
    }
}

fn retype_node(node: &Node, value: &mut Value) {
    match (node, value) {
        (Node::Map(slots), Value::Map(m)) => retype_map(slots, m),
        (Node::List(slots), Value::List(items)) => {
            for (node, v) in slots.iter().zip(items.iter_mut()) {
                retype_node(node, v);
            }
        }
        (Node::Leaf(leaf), v) if leaf.kind == Kind::Raw => {
            if let Value::Str(s) = v {
                if is_scalar_source(s, None) {
                    if let Ok(parsed) = s.parse::<toml_edit::Value>() {
                        *v = plain_value(&parsed);
                    }
                }
            }
        }
        _ => {}
    }
}

fn key_text(k: &str) -> String {
    if !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        k.to_string()
    } else {
        basic(k)
    }
}

fn header(path: &[String]) -> String {
    path.iter()
        .map(|k| key_text(k))
        .collect::<Vec<_>>()
        .join(".")
}

fn is_table_like(v: &Value) -> bool {
    match v {
        Value::Map(_) => true,
        Value::List(items) => {
            !items.is_empty()
                && items
                    .iter()
                    .all(|i| matches!(i, Value::Map(_)) || is_comment(i))
                && items.iter().any(|i| matches!(i, Value::Map(_)))
        }
        _ => false,
    }
}

/// Leaves of a remembered layout by path (keys, and `#i` for list
/// elements), so that canonical output keeps their kinds.
#[derive(Default)]
struct Fresh<'a> {
    src: &'a str,
    leaves: std::collections::HashMap<Vec<String>, &'a Leaf>,
}

impl<'a> Fresh<'a> {
    fn new(src: &'a str, root: &'a [MapSlot]) -> Self {
        let mut fresh = Fresh {
            src,
            leaves: Default::default(),
        };
        fresh.index_map(root, &mut Vec::new());
        fresh
    }

    fn index_map(&mut self, slots: &'a [MapSlot], path: &mut Vec<String>) {
        for slot in slots {
            if let MapSlot::Entry { key, node, .. } = slot {
                path.push(key.clone());
                self.index_node(node, path);
                path.pop();
            }
        }
    }

    fn index_node(&mut self, node: &'a Node, path: &mut Vec<String>) {
        match node {
            Node::Map(m) => self.index_map(m, path),
            Node::List(l) => {
                for (i, node) in l.iter().enumerate() {
                    path.push(format!("#{i}"));
                    self.index_node(node, path);
                    path.pop();
                }
            }
            Node::Leaf(leaf) => {
                self.leaves.insert(path.clone(), leaf);
            }
        }
    }

    fn leaf(&self, v: &Value, path: &[String]) -> Result<String, FormatError> {
        match self.leaves.get(path) {
            Some(leaf) => leaf_text(self.src, leaf, v, path),
            None => match v {
                Value::Str(s) if s.contains('\n') && !enc::is_encrypted(s) => {
                    Ok(render(Kind::StrMultiline, v, path)?)
                }
                v => render(Kind::Str, v, path),
            },
        }
    }
}

/// The text of leaf value `v` written where `leaf` was.
fn leaf_text(src: &str, leaf: &Leaf, v: &Value, path: &[String]) -> Result<String, FormatError> {
    if *v == leaf.value {
        return Ok(src[leaf.span.clone()].to_string());
    }
    match v {
        Value::Str(s) if enc::is_encrypted(s) => {
            let mut s = s.clone();
            if let Some(name) = leaf.kind.special_name() {
                if let Some(rest) = s.strip_suffix(",type:str]") {
                    s = format!("{rest},type:{name}]");
                }
            }
            Ok(basic(&s))
        }
        v => render(leaf.kind, v, path),
    }
}

/// Canonical TOML for a map: inline entries first in order; the longest
/// suffix of table-like entries as `[header]` / `[[header]]` sections, so
/// that reading the text back gives the same order.
fn write_table(
    ctx: &Fresh<'_>,
    map: &Map,
    path: &mut Vec<String>,
    full: &mut Vec<String>,
    out: &mut String,
) -> Result<(), FormatError> {
    let items = &map.0;
    let mut split = items.len();
    while split > 0 {
        match &items[split - 1] {
            Item::Entry(_, v) if is_table_like(v) => split -= 1,
            Item::Comment(_) => split -= 1,
            _ => break,
        }
    }
    // Comments right before the first table stay with the inline part.
    while split < items.len() && matches!(items[split], Item::Comment(_)) {
        split += 1;
    }
    let line = |out: &mut String, text: &str| {
        if let Some(t) = comment_text(text) {
            out.push_str(&t);
            out.push('\n');
        }
    };
    for item in &items[..split] {
        match item {
            Item::Comment(c) => line(out, &c.text),
            Item::Entry(k, v) => {
                full.push(k.clone());
                let text = inline_value(ctx, v, full)?;
                full.pop();
                out.push_str(&key_text(k));
                out.push_str(" = ");
                out.push_str(&text);
                out.push('\n');
            }
        }
    }
    let mut pending = Vec::new();
    for item in &items[split..] {
        match item {
            Item::Comment(c) => pending.push(c.text.clone()),
            Item::Entry(k, v) => {
                path.push(k.clone());
                full.push(k.clone());
                let mut lead = String::new();
                for c in pending.drain(..) {
                    line(&mut lead, &c);
                }
                match v {
                    Value::Map(m) => {
                        sep(out);
                        out.push_str(&lead);
                        out.push_str(&format!("[{}]\n", header(path)));
                        write_table(ctx, m, path, full, out)?;
                    }
                    Value::List(elems) => {
                        out.push_str(&lead);
                        let mut index = 0;
                        for e in elems {
                            match e {
                                Value::Map(m) => {
                                    sep(out);
                                    out.push_str(&format!("[[{}]]\n", header(path)));
                                    full.push(format!("#{index}"));
                                    write_table(ctx, m, path, full, out)?;
                                    full.pop();
                                    index += 1;
                                }
                                Value::Comment(c) => line(out, &c.text),
                                Value::Str(c) if is_comment(e) => line(out, c),
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
                full.pop();
                path.pop();
            }
        }
    }
    for c in pending {
        line(out, &c);
    }
    Ok(())
}

fn sep(out: &mut String) {
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
}

fn inline_value(ctx: &Fresh<'_>, v: &Value, full: &mut Vec<String>) -> Result<String, FormatError> {
    Ok(match v {
        Value::Map(m) => {
            let mut parts = Vec::new();
            for (k, v) in m.entries() {
                full.push(k.to_string());
                parts.push(format!("{} = {}", key_text(k), inline_value(ctx, v, full)?));
                full.pop();
            }
            if parts.is_empty() {
                "{}".to_string()
            } else {
                format!("{{ {} }}", parts.join(", "))
            }
        }
        Value::List(items) => {
            let mut parts = Vec::new();
            for v in items.iter().filter(|v| !is_comment(v)) {
                full.push(format!("#{}", parts.len()));
                parts.push(inline_value(ctx, v, full)?);
                full.pop();
            }
            format!("[{}]", parts.join(", "))
        }
        leaf => ctx.leaf(leaf, full)?,
    })
}

/// The metadata as a `[sops]` table: plain values first, then key lists.
fn metadata_text(metadata: &Map) -> Result<String, FormatError> {
    let mut ordered = Map::new();
    for (k, v) in metadata.entries() {
        if !is_table_like(v) {
            ordered.push(k, v.clone());
        }
    }
    for (k, v) in metadata.entries() {
        if is_table_like(v) {
            ordered.push(k, v.clone());
        }
    }
    let mut root = Map::new();
    root.push("sops", Value::Map(ordered));
    let mut out = String::new();
    write_table(
        &Fresh::default(),
        &root,
        &mut Vec::new(),
        &mut Vec::new(),
        &mut out,
    )?;
    Ok(out)
}

/// True when the text looks like sops' JSON envelope of a binary file.
fn is_json_envelope(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

impl Store for TomlStore {
    fn parse_plain(&self, input: &[u8]) -> Result<Vec<Map>, FormatError> {
        if newest_is_binary() {
            // Editing a `.toml` file that sops encrypted as binary: it stays
            // one blob.
            return self.binary().parse_plain(input);
        }
        let src = to_str(input)?;
        let doc = toml_edit::Document::parse(src).map_err(|e| parse_error(src, &e))?;
        Ok(vec![parse_body(src, &doc, src.len(), false)?])
    }

    fn parse_encrypted(&self, input: &[u8]) -> Result<EncryptedFile, FormatError> {
        let src = to_str(input)?;
        if is_json_envelope(src) {
            let file = self.binary().parse_encrypted(input)?;
            remember(Layout::Binary);
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
        let tree = parse_body(src, &doc, end, true)?;
        Ok(EncryptedFile {
            documents: vec![tree],
            metadata,
        })
    }

    fn emit_plain(&self, documents: &[Map]) -> Result<Vec<u8>, FormatError> {
        if newest_is_binary() {
            return self.binary().emit_plain(documents);
        }
        let [doc] = documents else {
            return Err(FormatError::Emit(
                "TOML files hold exactly one document".into(),
            ));
        };
        Ok(emit_body(doc, false)?.into_bytes())
    }

    fn emit_encrypted(&self, documents: &[Map], metadata: &Map) -> Result<Vec<u8>, FormatError> {
        if newest_is_binary() {
            return self.binary().emit_encrypted(documents, metadata);
        }
        let [doc] = documents else {
            return Err(FormatError::Emit(
                "TOML files hold exactly one document".into(),
            ));
        };
        let mut out = emit_body(doc, true)?;
        out.push('\n');
        out.push_str(&metadata_text(metadata)?);
        Ok(out.into_bytes())
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
mod tests {
    use super::*;

    fn round_trip(src: &str) -> String {
        let store = TomlStore::default();
        let docs = store.parse_plain(src.as_bytes()).unwrap();
        String::from_utf8(store.emit_plain(&docs).unwrap()).unwrap()
    }

    #[test]
    fn comments_are_found_outside_strings() {
        let src = "a = \"# no\" # yes\nb = '''\n# no\n''' #c\r\n#d";
        let spans: Vec<_> = comment_spans(src).into_iter().map(|r| &src[r]).collect();
        assert_eq!(spans, ["# yes", "#c", "#d"]);
    }

    #[test]
    fn classification_of_every_kind() {
        let src = r#"
s = "basic"
l = 'lit'
m = """
multi"""
ml = '''
multi lit'''
odd = "\u0041"
i = 42
h = 0xff
f = 1.5
e = 1e6
inf = inf
b = true
odt = 1979-05-27T07:32:00-08:00
odt2 = 1979-05-27 07:32:00Z
ldt = 1979-05-27T07:32:00
ld = 1979-05-27
lt = 07:32:00.5
"#;
        let doc = toml_edit::Document::parse(src).unwrap();
        let root = doc.as_item().as_table().unwrap();
        let kinds: Vec<(String, Kind)> = root
            .iter()
            .map(|(k, v)| {
                let v = v.as_value().unwrap();
                (k.to_string(), classify(&src[v.span().unwrap()], v).0)
            })
            .collect();
        let expect = [
            Kind::Str,
            Kind::StrLiteral,
            Kind::StrMultiline,
            Kind::StrMultilineLiteral,
            Kind::Raw,
            Kind::Int,
            Kind::Raw,
            Kind::Float,
            Kind::Raw,
            Kind::Float,
            Kind::Bool,
            Kind::Time,
            Kind::Raw,
            Kind::DatetimeLocal,
            Kind::DateLocal,
            Kind::TimeLocal,
        ];
        for ((k, got), want) in kinds.iter().zip(expect) {
            assert_eq!(*got, want, "{k}");
        }
        assert_eq!(round_trip(src), src);
    }

    #[test]
    fn plain_round_trip_keeps_layout() {
        let src = "# top\n[package]\nname = \"x\" # trailing\n  version = '1'\n\n[[bin]]\nname = \"a\"\n[a.b]\nc.d = [1, # one\n 2]\nt = { x = 1, y = [true] }\n";
        assert_eq!(round_trip(src), src);
    }

    #[test]
    fn comments_sit_before_their_entry() {
        let store = TomlStore::default();
        let docs = store
            .parse_plain(b"# c1\na = 1\n[t]\n# c2\nb = 2\n# end\n")
            .unwrap();
        let d = &docs[0];
        assert!(matches!(&d.0[0], Item::Comment(c) if c.text == " c1"));
        let Some(Value::Map(t)) = d.get("t") else {
            panic!()
        };
        assert!(matches!(&t.0[0], Item::Comment(c) if c.text == " c2"));
        assert!(matches!(d.0.last(), Some(Item::Comment(c)) if c.text == " end"));
    }

    #[test]
    fn canonical_emission_keeps_order_when_read_back() {
        let mut inner = Map::new();
        inner.push("k", Value::Int(1));
        let mut m = Map::new();
        m.push("t", Value::Map(inner.clone()));
        m.push("x", Value::Str("a\"b".into()));
        m.push("u", Value::Map(inner.clone()));
        m.push(
            "list",
            Value::List(vec![Value::Map(inner.clone()), Value::Map(inner)]),
        );
        let mut out = String::new();
        write_table(
            &Fresh::default(),
            &m,
            &mut Vec::new(),
            &mut Vec::new(),
            &mut out,
        )
        .unwrap();
        let back = TomlStore::default().parse_plain(out.as_bytes()).unwrap();
        assert_eq!(back[0], m, "{out}");
    }

    #[test]
    fn null_cannot_be_written() {
        let mut inner = Map::new();
        inner.push("n", Value::Null);
        let mut m = Map::new();
        m.push("a", Value::Map(inner));
        let err = TomlStore::default().emit_plain(&[m]).unwrap_err();
        assert!(err.to_string().contains("a:n"), "{err}");
    }

    #[test]
    fn metadata_reads_back() {
        let key = |r: &str| {
            let mut k = Map::new();
            k.push("recipient", Value::Str(r.into()));
            k.push(
                "enc",
                Value::Str(
                    "-----BEGIN AGE ENCRYPTED FILE-----\nabc\n-----END AGE ENCRYPTED FILE-----\n"
                        .into(),
                ),
            );
            Value::Map(k)
        };
        let group = |r: &str| {
            let mut g = Map::new();
            g.push("age", Value::List(vec![key(r), key("second")]));
            Value::Map(g)
        };
        let mut meta = Map::new();
        meta.push("shamir_threshold", Value::Int(2));
        meta.push("key_groups", Value::List(vec![group("a"), group("b")]));
        meta.push("lastmodified", Value::Str("2026-11-28T04:00:00Z".into()));
        meta.push(
            "mac",
            Value::Str("ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]".into()),
        );
        meta.push("mac_only_encrypted", Value::Bool(true));
        meta.push("unencrypted_regex", Value::Str("^a'\"\\b$".into()));
        meta.push("version", Value::Str("3.11.0".into()));
        let mut doc = Map::new();
        doc.push(
            "a",
            Value::Str("ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]".into()),
        );
        let store = TomlStore::default();
        let bytes = store.emit_encrypted(&[doc.clone()], &meta).unwrap();
        let back = store.parse_encrypted(&bytes).unwrap();
        assert_eq!(back.documents, vec![doc]);
        let got = back.metadata.unwrap();
        assert_eq!(got.0.len(), meta.0.len());
        for (k, v) in meta.entries() {
            assert_eq!(got.get(k), Some(v), "{k}");
        }
    }

    #[test]
    fn sops_table_must_come_last() {
        let store = TomlStore::default();
        let err = store
            .parse_encrypted(b"[sops]\nversion = \"3\"\n[other]\na = 1\n")
            .unwrap_err();
        assert!(err.to_string().contains("last"), "{err}");
        let err = store.parse_encrypted(b"sops = 1\n").unwrap_err();
        assert!(err.to_string().contains("table"), "{err}");
        let none = store.parse_encrypted(b"a = 1\n").unwrap();
        assert!(none.metadata.is_none());
    }

    #[test]
    fn mutated_inputs_never_panic_and_valid_ones_round_trip() {
        let seeds: [&[u8]; 3] = [
            b"# c\n[a]\nb = \"x\" # t\nc = [1, 'two', \"\"\"\nthree\"\"\"]\n[[d]]\ne = { f = 1979-05-27 }\n",
            b"x.y.z = 0x1F # hex\n'q k' = '''\nml'''\n[t]\nn = nan\n",
            b"[sops]\nversion = \"3.11.0\"\n",
        ];
        let store = TomlStore::default();
        for seed in seeds {
            for i in 0..seed.len() {
                for byte in [b'#', b'"', b'\'', b'[', b'\n', b'=', 0xff, b'x'] {
                    let mut input = seed.to_vec();
                    input[i] = byte;
                    for cut in [input.len(), i] {
                        let input = &input[..cut];
                        if let Ok(docs) = store.parse_plain(input) {
                            let out = store.emit_plain(&docs).unwrap();
                            assert_eq!(out, input, "{}", String::from_utf8_lossy(input));
                        }
                        let _ = store.parse_encrypted(input);
                    }
                }
            }
        }
    }

    #[test]
    fn decrypted_text_cannot_inject_toml() {
        for bad in [
            "1 # x",
            "1\nb = 2",
            "\"a\" ",
            " 1",
            "[1]",
            "{ a = 1 }",
            "1979-05-27\nx = 1",
            "",
        ] {
            assert!(!is_scalar_source(bad, None), "{bad:?}");
            let text = render_str(Kind::Raw, bad);
            let doc = format!("k = {text}\n");
            let parsed: toml_edit::DocumentMut = doc.parse().unwrap();
            assert_eq!(parsed["k"].as_str(), Some(bad), "{doc}");
        }
        assert!(is_scalar_source("0x1F", None));
        assert!(is_scalar_source("1979-05-27", Some(Kind::DateLocal)));
        assert!(!is_scalar_source("1979-05-27", Some(Kind::TimeLocal)));
        for (kind, s) in [
            (Kind::StrLiteral, "it's"),
            (Kind::StrMultilineLiteral, "a'''b"),
            (Kind::StrMultilineLiteral, "ends'"),
            (Kind::StrMultiline, "q\"\"\"q\\"),
            (Kind::DateLocal, "not a date"),
        ] {
            let doc = format!("k = {}\n", render_str(kind, s));
            let parsed: toml_edit::DocumentMut = doc.parse().unwrap();
            assert_eq!(parsed["k"].as_str(), Some(s), "{doc}");
        }
    }

    #[test]
    fn parse_errors_have_line_and_column() {
        let err = TomlStore::default()
            .parse_plain(b"a = 1\nb = \n")
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("line 2: column"), "{msg}");
        assert!(!msg.contains('\n'));
    }
}

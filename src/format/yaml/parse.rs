//! Reading: granit-parser events → documents of the tree, with the scalar
//! resolution, alias expansion and comment placement sops (through the Go
//! YAML v3 library) applies.
//!
//! Comment placement reproduces where sops 3.11 (through yaml.v3's head,
//! line and foot comments) puts comments in its tree; the rules were derived
//! from the reference's output on a corpus (see `testdata/yaml`):
//! * an inline comment goes before its entry or item (for `- k: v # c`,
//!   before the item; after `key: &anchor` / `key: !tag`, into the value;
//!   after a flow collection value, to its start; after `{}` it is lost);
//! * own-line comments are grouped into blocks (split at blank lines and at
//!   dedents); a block between a key and its block value, or directly above
//!   the next token and not right of it, is that node's head;
//! * the first block directly below content stays in the innermost
//!   collection as a foot (at the end of a sequence when dedented left of
//!   its `-`), unless it sits at the next token's column, or is followed by
//!   a blank line, dedented and not inside a continuing sequence;
//! * other blocks go to the innermost mapping not right of them (blank
//!   separated blocks right of the next token: innermost collection), or
//!   become the next node's head; at the end of a document, the last
//!   separate block belongs to the top-level mapping.

use std::collections::HashMap;

use granit_parser::{Event, Parser, Placement, ScalarStyle, Span, Tag};

use super::v3_rules;

use super::resolve::{resolve_scalar, ScalarTag, UINT64_UNWALKABLE};
use crate::format::FormatError;
use crate::tree::{Comment, Item, Map, Value};

/// One open collection.
struct Frame {
    is_map: bool,
    flow: bool,
    /// Column of the first key/item (block collections).
    indent: usize,
    anchor: usize,
    items: Vec<Item>,
    list: Vec<Value>,
    pending_key: Option<PendingKey>,
    /// Comments placed in this frame while a child is still open.
    deferred: Vec<Comment>,
    /// Comments written after the last item when the frame closes.
    end_comments: Vec<Comment>,
    /// Comments placed before this collection in its parent sequence.
    item_pre: Vec<Comment>,
    /// Where this mapping's key lines start in [`Builder::key_lines`].
    key_lines_start: usize,
    line: usize,
    /// Inside the first document's top-level `sops` value.
    metadata: bool,
    /// Holds (at any depth) an alias left unexpanded (metadata-only mode).
    placeholder: bool,
}

struct PendingKey {
    key: String,
    pre: Vec<Comment>,
    merge: bool,
}

impl Frame {
    fn new(is_map: bool, flow: bool, indent: usize, anchor: usize, line: usize) -> Frame {
        Frame {
            is_map,
            flow,
            indent,
            anchor,
            items: Vec::new(),
            list: Vec::new(),
            pending_key: None,
            deferred: Vec::new(),
            end_comments: Vec::new(),
            item_pre: Vec::new(),
            key_lines_start: 0,
            line,
            metadata: false,
            placeholder: false,
        }
    }

    fn push_comment(&mut self, c: Comment) {
        if self.is_map {
            if let Some(pk) = self.pending_key.as_mut() {
                pk.pre.push(c);
            } else {
                self.items.push(Item::Comment(c));
            }
        } else {
            self.list.push(Value::Comment(c));
        }
    }

    fn insert_comment(&mut self, at: usize, c: Comment) {
        if self.is_map {
            self.items.insert(at, Item::Comment(c));
        } else {
            self.list.insert(at, Value::Comment(c));
        }
    }
}

#[derive(Clone, Copy)]
enum Last {
    None,
    /// A key was read; its value has not started.
    Key,
    /// A scalar/alias entry or item was added at this index of the top frame.
    Entry(usize),
    /// A flow collection was added at this index of the top frame.
    Flow(usize),
    /// The next inline comment is lost (as yaml.v3 loses it).
    Drop,
}

struct OwnComment {
    line: usize,
    col: usize,
    text: String,
}

struct Builder<'a> {
    src: &'a str,
    stack: Vec<Frame>,
    /// Anchored values by anchor id.
    anchors: HashMap<usize, Anchored>,
    /// Bytes copied so far by alias expansion and by recording anchored
    /// values (see [`value_bytes`]).
    copied_bytes: usize,
    /// The most [`Builder::copied_bytes`] may reach ([`copy_budget`]).
    copy_budget: usize,
    /// Raw text of anchored scalars (for aliases used as keys).
    anchor_text: HashMap<usize, String>,
    pending_heads: Vec<Comment>,
    /// The lines of the keys of the open mappings, for the duplicate check
    /// (a stack: each mapping's keys follow its parent's).
    key_lines: Vec<usize>,
    own: Vec<OwnComment>,
    last: Last,
    last_line: usize,
    check_keys: bool,
    doc: Option<Map>,
    doc_started: bool,
    doc_scalar: Option<(Value, usize, usize)>,
    doc_seq: Option<usize>,
    /// Mappings of the first document with duplicate keys: start, end, messages.
    dup_errors: Vec<DupError>,
    /// Byte offset of the end of the last key read.
    last_key_end: Option<usize>,
    /// Whether the stream is a plaintext file (checks on its first document).
    first_doc_checks: bool,
    /// Documents read so far.
    docs: Vec<Map>,
    doc_index: usize,
    /// Aliases outside the first document's `sops` value are not expanded
    /// (see [`parse_metadata_only`]).
    metadata_only: bool,
    /// Metadata-only mode met an alias in the metadata whose anchor holds
    /// an unexpanded alias: the stream must be read whole.
    needs_full: bool,
    /// The first construct sops' tree walk refuses (a scalar non-string key,
    /// an integer beyond int64), kept until the whole stream has parsed:
    /// sops reads the whole file first, so any later syntax or decoding
    /// error is what it reports (exit 2), and only then this one (exit 23).
    unwalkable: Option<FormatError>,
    /// A collection read as a mapping key where sops' tree walk refuses it
    /// (exit 23): its nesting depth and start, its events skipped.
    key_collection: Option<(usize, usize)>,
}

/// An anchored value, as an alias copies it.
struct Anchored {
    value: Value,
    /// Its size (see [`value_bytes`]).
    bytes: usize,
    /// Its depth (see [`value_depth`]).
    depth: usize,
    /// It holds an alias left unexpanded (metadata-only mode).
    tainted: bool,
}

struct DupError {
    start: (usize, usize),
    end: (usize, usize),
    messages: Vec<String>,
}

/// [`FormatError::Unwalkable`] at `span`: valid YAML that sops' tree walk
/// refuses (exit 23 on encrypt, as sops).
fn unwalkable_at(span: &Span, msg: impl std::fmt::Display) -> FormatError {
    match err_at(span, msg) {
        FormatError::Parse(text) => FormatError::Unwalkable(text),
        other => other,
    }
}

fn err_at(span: &Span, msg: impl std::fmt::Display) -> FormatError {
    FormatError::Parse(format!(
        "{msg} (line {}, column {})",
        span.start.line(),
        span.start.col() + 1
    ))
}

fn scalar_tag(tag: Option<&Tag>) -> ScalarTag {
    match tag {
        None => ScalarTag::None,
        Some(t) => {
            if t.handle() == "tag:yaml.org,2002:" || t.handle() == "!!" {
                ScalarTag::Core(t.suffix().to_string())
            } else if t.handle() == "!" && t.suffix().is_empty() {
                ScalarTag::None
            } else {
                ScalarTag::Other
            }
        }
    }
}

/// Go's `%#v` of a string (enough for key names in messages).
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Parses a YAML stream into documents. `first_doc_checks` enables the
/// duplicate-key and type checks sops runs on the first document of a
/// plaintext file.
pub(crate) fn parse_stream(src: &str, first_doc_checks: bool) -> Result<Vec<Map>, FormatError> {
    parse_stream_in(src, first_doc_checks, false).map_err(|(e, _)| e)
}

/// Parses an encrypted YAML stream for its metadata only: aliases outside
/// the first document's top-level `sops` value are not expanded (an alias
/// there stands as an empty value of its kind), so the documents returned
/// are exact in that `sops` value only, and reading costs time and memory
/// in proportion to the input. `Ok(None)` when the metadata holds an alias
/// of an anchor that does (the caller then reads the stream whole).
pub(crate) fn parse_metadata_only(src: &str) -> Result<Option<Vec<Map>>, FormatError> {
    match parse_stream_in(src, false, true) {
        Ok(docs) => Ok(Some(docs)),
        Err((_, true)) => Ok(None),
        Err((e, false)) => Err(e),
    }
}

/// [`parse_stream`], in metadata-only mode when `metadata_only`; an error
/// comes with whether it asks for a whole read.
fn parse_stream_in(
    src: &str,
    first_doc_checks: bool,
    metadata_only: bool,
) -> Result<Vec<Map>, (FormatError, bool)> {
    // The fast scanner handles plain block-style YAML and feeds its events
    // straight into the builder; anything it does not handle, and any
    // error, goes to granit-parser from the start (same events, see
    // scan.rs), which also words the error messages.
    if let Some(docs) = parse_fast_in(src, first_doc_checks, metadata_only) {
        return Ok(docs);
    }
    let mut b = Builder::new(src, first_doc_checks);
    b.metadata_only = metadata_only;
    for r in Parser::new_from_str(src) {
        let (ev, span) = r.map_err(|e| {
            (
                FormatError::Parse(format!(
                    "yaml: line {}: column {}: {}",
                    e.marker().line(),
                    e.marker().col() + 1,
                    e.info()
                )),
                false,
            )
        })?;
        b.event(ev, &span).map_err(|e| (e, b.needs_full))?;
    }
    b.finish().map_err(|e| (e, false))
}

/// The documents of `src` read with the fast scanner alone; `None` when
/// the scanner does not handle the input or the builder finds an error
/// (the caller then parses with granit-parser, which words the error).
pub(crate) fn parse_fast(src: &str, first_doc_checks: bool) -> Option<Vec<Map>> {
    parse_fast_in(src, first_doc_checks, false)
}

fn parse_fast_in(src: &str, first_doc_checks: bool, metadata_only: bool) -> Option<Vec<Map>> {
    let mut fast = Builder::new(src, first_doc_checks);
    fast.metadata_only = metadata_only;
    let mut failed = false;
    super::scan::scan_with(src, |ev, span| {
        if !failed && fast.event(ev, &span).is_err() {
            failed = true;
        }
    })?;
    if failed {
        return None;
    }
    fast.finish().ok()
}

impl<'a> Builder<'a> {
    fn new(src: &'a str, first_doc_checks: bool) -> Builder<'a> {
        Builder {
            src,
            stack: Vec::new(),
            anchors: HashMap::new(),
            copied_bytes: 0,
            copy_budget: copy_budget(src.len()),
            anchor_text: HashMap::new(),
            pending_heads: Vec::new(),
            key_lines: Vec::new(),
            own: Vec::new(),
            last: Last::None,
            last_line: 0,
            check_keys: first_doc_checks,
            first_doc_checks,
            doc: None,
            doc_started: false,
            doc_scalar: None,
            doc_seq: None,
            dup_errors: Vec::new(),
            last_key_end: None,
            docs: Vec::new(),
            doc_index: 0,
            metadata_only: false,
            needs_full: false,
            unwalkable: None,
            key_collection: None,
        }
    }

    /// Takes one parser event.
    fn event(&mut self, ev: Event<'_>, span: &Span) -> Result<(), FormatError> {
        if self.key_collection.is_some() {
            self.skip_key_collection(&ev, span);
            return Ok(());
        }
        match ev {
            Event::StreamStart | Event::StreamEnd | Event::Anchor(..) => {}
            Event::Comment(text, placement) => {
                let text = text.into_owned();
                if placement == Placement::Right {
                    self.inline_comment(text, span);
                } else {
                    self.own.push(OwnComment {
                        line: span.start.line(),
                        col: span.start.col(),
                        text,
                    });
                }
            }
            Event::DocumentStart(_, version) => {
                if version.is_some_and(|v| v.major != 1 || v.minor != 1) {
                    return Err(FormatError::Parse(
                        "yaml: found incompatible YAML document".into(),
                    ));
                }
                self.doc_started = true;
                self.doc = None;
                self.doc_scalar = None;
                self.doc_seq = None;
                self.anchors.clear();
                self.anchor_text.clear();
                self.last = Last::None;
            }
            Event::DocumentEnd => {
                self.resolve_own(None, false);
                if !self.dup_errors.is_empty() {
                    // yaml.v3 does not decode the children of a mapping with
                    // duplicate keys: nested reports are dropped.
                    let mut errs = std::mem::take(&mut self.dup_errors);
                    errs.sort_by_key(|e| e.start);
                    let mut lines: Vec<String> = Vec::new();
                    let mut covered_until: Option<(usize, usize)> = None;
                    for e in errs {
                        if covered_until.is_some_and(|end| e.start < end) {
                            continue;
                        }
                        covered_until = Some(e.end);
                        lines.extend(e.messages);
                    }
                    return Err(FormatError::Parse(format!(
                        "yaml: unmarshal errors:\n  {}",
                        lines.join("\n  ")
                    )));
                }
                if self.doc_seq.is_some() {
                    return Err(FormatError::Parse(
                        "Error unmarshaling input YAML: YAML documents that are sequences are not supported".into(),
                    ));
                }
                let mut doc = match self.doc.take() {
                    Some(m) => m,
                    None => match self.doc_scalar.take() {
                        None | Some((Value::Null, _, _)) => Map::new(),
                        Some(_) => {
                            return Err(FormatError::Parse(
                                "Error unmarshaling input YAML: YAML documents that are values are not supported".into(),
                            ))
                        }
                    },
                };
                // Comments left over (a document of comments only).
                if !self.pending_heads.is_empty() {
                    for c in self.pending_heads.drain(..) {
                        doc.0.push(Item::Comment(c));
                    }
                }
                self.docs.push(doc);
                self.doc_index += 1;
                self.check_keys = false;
                self.doc_started = false;
            }
            ev => {
                self.handle_node(&ev, span, self.doc_index)?;
            }
        }
        Ok(())
    }

    /// The documents read, once the stream has ended.
    fn finish(self) -> Result<Vec<Map>, FormatError> {
        if self.docs.is_empty() && self.first_doc_checks && !self.src.is_empty() {
            // yaml.v3 reports a stream without documents (blank lines or
            // comments only) as end of file; an empty input is fine.
            return Err(FormatError::Parse("EOF".into()));
        }
        if let Some(unwalkable) = self.unwalkable {
            return Err(unwalkable);
        }
        Ok(self.docs)
    }
}

impl Builder<'_> {
    fn inline_comment(&mut self, text: String, span: &Span) {
        let c = Comment { text, inline: true };
        match self.last {
            Last::Key if self.value_props_before(span) => {
                // `key: &anchor # c` / `key: !tag # c`: the comment belongs
                // to the (block) value that follows.
                self.pending_heads.push(c);
            }
            Last::Key => {
                if let Some(pk) = self.stack.last_mut().and_then(|f| f.pending_key.as_mut()) {
                    pk.pre.push(c);
                    return;
                }
                self.pending_heads.push(c);
            }
            Last::Entry(pos) => {
                let n = self.stack.len();
                // `- key: value # c`: yaml.v3 gives the comment to the item
                // mapping, so it goes before the item in the sequence.
                let item_map_line = n >= 2
                    && self.stack[n - 1].is_map
                    && !self.stack[n - 1].flow
                    && !self.stack[n - 2].is_map
                    && !self.stack[n - 2].flow
                    && self.stack[n - 1].line == span.start.line();
                if item_map_line {
                    self.stack[n - 1].item_pre.push(c);
                    return;
                }
                if let Some(f) = self.stack.last_mut() {
                    f.insert_comment(pos, c);
                    return;
                }
                self.pending_heads.push(c);
            }
            Last::Flow(pos) => {
                if let Some(f) = self.stack.last_mut() {
                    let target = if f.is_map {
                        match f.items.get_mut(pos) {
                            Some(Item::Entry(_, v)) => Some(v),
                            _ => None,
                        }
                    } else {
                        f.list.get_mut(pos)
                    };
                    match target {
                        Some(Value::List(l)) => {
                            let at = l
                                .iter()
                                .take_while(|v| matches!(v, Value::Comment(_)))
                                .count();
                            l.insert(at, Value::Comment(c));
                        }
                        Some(Value::Map(m)) => {
                            let at =
                                m.0.iter()
                                    .take_while(|v| matches!(v, Item::Comment(_)))
                                    .count();
                            m.0.insert(at, Item::Comment(c));
                        }
                        _ => self.pending_heads.push(c),
                    }
                    return;
                }
                self.pending_heads.push(c);
            }
            Last::Drop => {}
            Last::None => self.pending_heads.push(c),
        }
    }

    /// Column of the `-` indicator before a block sequence item starting
    /// at this span (granit reports the item's content position).
    fn dash_col(&self, span: &Span) -> usize {
        let col = span.start.col();
        let Some(off) = span.start.byte_offset() else {
            return col;
        };
        let before = self.src.get(..off).unwrap_or("");
        if self.src.get(off..).is_some_and(|r| r.starts_with('-')) {
            return col;
        }
        let trimmed = before.trim_end_matches(' ');
        let spaces = before.len() - trimmed.len();
        if trimmed.ends_with('-') && col > spaces {
            col - spaces - 1
        } else {
            col
        }
    }

    /// Position of the token that starts this node: for an item of a block
    /// sequence, its `-` indicator.
    fn token_pos(&self, span: &Span) -> (usize, usize) {
        let in_block_seq = self.stack.last().is_some_and(|f| !f.is_map && !f.flow);
        let col = if in_block_seq {
            self.dash_col(span)
        } else {
            span.start.col()
        };
        (span.start.line(), col)
    }

    /// True when the token at this (collection end) position ends the
    /// document: end of input or a document marker.
    fn end_of_document(&self, span: &Span) -> bool {
        let Some(off) = span.start.byte_offset() else {
            return false;
        };
        match self.src.get(off..) {
            None => true,
            Some(rest) => {
                rest.trim_start_matches(['\n', '\r', ' ', '\t']).is_empty()
                    || (span.start.col() == 0
                        && (rest.starts_with("---") || rest.starts_with("...")))
            }
        }
    }

    /// True when an anchor or tag stands between the last key and this
    /// inline comment.
    fn value_props_before(&self, span: &Span) -> bool {
        let (Some(end), Some(start)) = (self.last_key_end, span.start.byte_offset()) else {
            return false;
        };
        self.src
            .get(end..start)
            .is_some_and(|between| between.contains('&') || between.contains('!'))
    }

    /// Places the buffered own-line comments, now that the next token is known.
    fn resolve_own(&mut self, next: Option<(usize, usize)>, _node: bool) {
        if self.own.is_empty() {
            return;
        }
        let own = std::mem::take(&mut self.own);
        // Split into blocks: consecutive lines, same column.
        let mut blocks: Vec<Vec<OwnComment>> = Vec::new();
        for c in own {
            // A new block starts after a blank line or when a line is
            // dedented relative to the block's first line.
            let new_block = match (
                blocks.last().and_then(|b| b.first()),
                blocks.last().and_then(|b| b.last()),
            ) {
                (Some(f), Some(p)) => c.line != p.line + 1 || c.col < f.col,
                _ => true,
            };
            if new_block {
                blocks.push(vec![c]);
            } else if let Some(b) = blocks.last_mut() {
                b.push(c);
            }
        }
        let nblocks = blocks.len();
        let after_key = matches!(self.last, Last::Key) && next.is_some();
        let starts: Vec<usize> = blocks.iter().map(|b| b[0].line).collect();
        let mut prev_end = self.last_line;
        for (k, block) in blocks.into_iter().enumerate() {
            let col = block[0].col;
            let first_line = block[0].line;
            let last_line = block[block.len() - 1].line;
            // Directly below the previous content or the previous block.
            let adjacent = prev_end > 0 && first_line == prev_end + 1;
            prev_end = last_line;
            let first = k == 0 && adjacent;
            let direct_next = k + 1 == nblocks && next.is_some_and(|(l, _)| last_line + 1 == l);
            // Followed directly by a dedented block.
            let dedent_follows = starts.get(k + 1) == Some(&(last_line + 1));
            let comments: Vec<Comment> = block.into_iter().map(|c| Comment::new(c.text)).collect();
            let deepest = self.stack.last().map(|f| f.indent);
            let blank_after = !dedent_follows && next.is_none_or(|(l, _)| l != last_line + 1);
            let n = self.stack.len();
            // The next token is another item of the sequence holding the
            // innermost collection.
            let continues = |f: &Frame| !f.is_map && next.is_some_and(|(_, ncol)| f.indent == ncol);
            let seq_continues = (n >= 1 && continues(&self.stack[n - 1]))
                || (n >= 2 && continues(&self.stack[n - 2]));
            let to_deepest = match (next, deepest) {
                (_, None) => false,
                (Some(_), Some(_)) if first && dedent_follows => true,
                (Some((_, ncol)), Some(ind)) => {
                    first
                        && (col != ncol || ncol == ind)
                        && !(blank_after && col < ind && !seq_continues)
                }
                // At the end of the document only the last block is the
                // document's foot.
                (None, Some(ind)) => (first && col >= ind) || (!adjacent && k + 1 < nblocks),
            };
            if after_key || (direct_next && next.is_some_and(|(_, ncol)| col <= ncol)) {
                // The head of the next node.
                self.pending_heads.extend(comments);
            } else if self.stack.is_empty() {
                self.pending_heads.extend(comments);
            } else if to_deepest {
                // A foot of the last node: it stays in the innermost
                // collection (yaml.v3 moves a dedented one to the end of a
                // sequence).
                let d = self.stack.len() - 1;
                let f = &mut self.stack[d];
                if !f.is_map && col < f.indent {
                    f.end_comments.extend(comments);
                } else {
                    self.place(d, comments.into_iter());
                }
            } else if !adjacent && next.is_none_or(|(_, ncol)| col <= ncol) {
                // Separated by a blank line: the head of the next node, or
                // the end of the document.
                match next {
                    Some(_) => self.pending_heads.extend(comments),
                    None => self.place(0, comments.into_iter()),
                }
            } else if !adjacent && k == 0 {
                // Separated by blank lines, right of the next token: the
                // innermost collection not right of it.
                let mut target = 0;
                for (d, f) in self.stack.iter().enumerate() {
                    if !f.flow && f.indent <= col {
                        target = d;
                    }
                }
                self.place(target, comments.into_iter());
            } else {
                // By indentation: the innermost mapping not right of it.
                let mut target = 0;
                for (d, f) in self.stack.iter().enumerate() {
                    if f.is_map && !f.flow && f.indent <= col {
                        target = d;
                    }
                }
                self.place(target, comments.into_iter());
            }
        }
    }

    fn place(&mut self, depth: usize, comments: impl Iterator<Item = Comment>) {
        let top = self.stack.len() - 1;
        let f = &mut self.stack[depth];
        if depth == top {
            for c in comments {
                f.push_comment(c);
            }
        } else {
            f.deferred.extend(comments);
        }
    }

    fn content_end_line(&self, span: &Span) -> usize {
        // The last line holding content of this node.
        if span.start.line() == span.end.line() {
            return span.start.line();
        }
        let (Some(s), Some(e)) = (span.start.byte_offset(), span.end.byte_offset()) else {
            return span.end.line();
        };
        let text = self.src.get(s..e).unwrap_or("");
        let trimmed = text.trim_end_matches([' ', '\t', '\n', '\r']);
        span.start.line() + trimmed.matches('\n').count()
    }

    fn handle_node(
        &mut self,
        ev: &Event,
        span: &Span,
        doc_index: usize,
    ) -> Result<(), FormatError> {
        let start = (span.start.line(), span.start.col());
        match ev {
            Event::MappingEnd | Event::SequenceEnd => {
                let next = if self.end_of_document(span) {
                    None
                } else {
                    Some(start)
                };
                self.resolve_own(next, false);
                let Some(frame) = self.stack.pop() else {
                    return Ok(());
                };
                if self.check_keys && frame.is_map {
                    let lines = self.key_lines.get(frame.key_lines_start..).unwrap_or(&[]);
                    // Every key became an entry, in order (keys are the
                    // entries' own text: only string keys are accepted).
                    let keys: Vec<(&str, usize)> = frame
                        .items
                        .iter()
                        .filter_map(|item| match item {
                            Item::Entry(k, _) => Some(k.as_str()),
                            Item::Comment(_) => None,
                        })
                        .zip(lines.iter().copied())
                        .collect();
                    let errs = duplicate_key_errors(&keys);
                    self.key_lines.truncate(frame.key_lines_start);
                    if !errs.is_empty() {
                        self.dup_errors.push(DupError {
                            start: (frame.line, frame.indent),
                            end: start,
                            messages: errs,
                        });
                    }
                }
                let flow = frame.flow;
                let anchor = frame.anchor;
                let line = frame.line;
                let is_empty_map =
                    frame.is_map && frame.items.is_empty() && frame.deferred.is_empty();
                let value = if frame.is_map {
                    if let Some(pk) = frame.pending_key {
                        // A key without a value cannot happen in a valid stream.
                        return Err(err_at(
                            span,
                            format!("yaml: missing value for key {}", go_quote(&pk.key)),
                        ));
                    }
                    let mut items = frame.items;
                    items.extend(frame.deferred.into_iter().map(Item::Comment));
                    items.extend(frame.end_comments.into_iter().map(Item::Comment));
                    Value::Map(Map(items))
                } else {
                    let mut list = frame.list;
                    list.extend(frame.deferred.into_iter().map(Value::Comment));
                    list.extend(frame.end_comments.into_iter().map(Value::Comment));
                    Value::List(list)
                };
                let tainted = frame.placeholder;
                if anchor != 0 {
                    let bytes = value_bytes(&value);
                    self.charge_copy(bytes, span)?;
                    self.anchors.insert(
                        anchor,
                        Anchored {
                            value: value.clone(),
                            bytes,
                            depth: value_depth(&value),
                            tainted,
                        },
                    );
                }
                self.last_line = self.content_end_line(span).max(self.last_line);
                if self.stack.is_empty() {
                    match value {
                        Value::Map(m) => self.doc = Some(m),
                        _ => self.doc_seq = Some(line),
                    }
                    self.last = Last::None;
                } else {
                    let pos = self.add_value(value, frame.item_pre, span, doc_index)?;
                    if let Some(parent) = self.stack.last_mut() {
                        parent.placeholder |= tainted;
                    }
                    let parent_is_seq = self.stack.last().is_some_and(|f| !f.is_map);
                    self.last = if !flow {
                        Last::None
                    } else if parent_is_seq {
                        // An inline comment after a flow item is placed before it.
                        Last::Entry(pos)
                    } else if is_empty_map {
                        // yaml.v3 loses the inline comment of an empty `{}` value.
                        Last::Drop
                    } else {
                        Last::Flow(pos)
                    };
                }
                Ok(())
            }
            Event::MappingStart(style, anchor, _) | Event::SequenceStart(style, anchor, _) => {
                self.resolve_own(Some(self.token_pos(span)), true);
                let is_map = matches!(ev, Event::MappingStart(..));
                let flow = *style == granit_parser::StructureStyle::Flow;
                if let Some(top) = self.stack.last() {
                    if top.is_map && top.pending_key.is_none() && !self.check_keys {
                        // Beyond the first document, yaml.v3 reads it and
                        // sops' tree walk refuses it (exit 23).
                        self.unwalkable.get_or_insert(unwalkable_at(
                            span,
                            format!(
                                "Tree contains a non-string key (type {}). Only string keys are supported",
                                if is_map { "map" } else { "list" }
                            ),
                        ));
                        let start = span.start.byte_offset().unwrap_or(0);
                        self.key_collection = Some((1, start));
                        return Ok(());
                    }
                    if top.is_map && top.pending_key.is_none() {
                        // The first document: yaml.v3 cannot decode it
                        // into a map ("invalid map key", exit 2).
                        return Err(err_at(
                            span,
                            format!(
                                "Tree contains a non-string key (type {}). Only string keys are supported",
                                if is_map { "map" } else { "list" }
                            ),
                        ));
                    }
                }
                if self.stack.is_empty() && !is_map && self.check_keys {
                    return Err(FormatError::Parse(format!(
                        "yaml: unmarshal errors:\n  line {}: cannot unmarshal !!seq into map[string]interface {{}}",
                        span.start.line()
                    )));
                }
                let heads = std::mem::take(&mut self.pending_heads);
                let in_seq = self.stack.last().is_some_and(|f| !f.is_map);
                let indent = if is_map || flow {
                    start.1
                } else {
                    self.dash_col(span)
                };
                let mut frame = Frame::new(is_map, flow, indent, *anchor, start.0);
                frame.key_lines_start = self.key_lines.len();
                frame.metadata = self.at_metadata(doc_index);
                if in_seq {
                    if let Some(parent) = self.stack.last_mut() {
                        for c in heads {
                            parent.list.push(Value::Comment(c));
                        }
                    }
                } else {
                    for c in heads {
                        frame.push_comment(c);
                    }
                }
                self.stack.push(frame);
                self.last = Last::None;
                self.last_line = start.0;
                Ok(())
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.resolve_own(Some(self.token_pos(span)), true);
                let quoted = *style != ScalarStyle::Plain;
                let stag = scalar_tag(tag.as_deref());
                let raw: &str = self.block_scalar_text(text, *style, span);
                if *style == ScalarStyle::DoubleQuoted && self.has_slash_escape(span) {
                    return Err(err_at(span, "yaml: found unknown escape character"));
                }
                if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
                    self.check_block_tabs(span)?;
                }
                let value = match resolve_scalar(raw, quoted, &stag) {
                    Ok(value) => value,
                    Err(m) if m == UINT64_UNWALKABLE => {
                        self.unwalkable.get_or_insert(unwalkable_at(span, m));
                        Value::Str(raw.to_string())
                    }
                    Err(m) => return Err(err_at(span, m)),
                };
                if *anchor != 0 {
                    let bytes = value_bytes(&value) + raw.len();
                    self.charge_copy(bytes, span)?;
                    self.anchors.insert(
                        *anchor,
                        Anchored {
                            value: value.clone(),
                            bytes,
                            depth: 0,
                            tainted: false,
                        },
                    );
                    self.anchor_text.insert(*anchor, raw.to_string());
                }
                let merge = !quoted && raw == "<<" && matches!(stag, ScalarTag::None);
                self.last_line = self.content_end_line(span);
                self.scalar_node(value, raw, merge, span, doc_index)
            }
            Event::Alias(id) => {
                self.resolve_own(Some(self.token_pos(span)), true);
                let Some(&Anchored {
                    bytes,
                    depth,
                    tainted,
                    ..
                }) = self.anchors.get(id)
                else {
                    return Err(err_at(span, "yaml: unknown anchor referenced"));
                };
                let as_key = self
                    .stack
                    .last()
                    .is_some_and(|f| f.is_map && f.pending_key.is_none());
                let Some(Anchored {
                    value: anchored, ..
                }) = self.anchors.get(id)
                else {
                    return Ok(());
                };
                let value = if self.metadata_only && !as_key && !self.at_metadata(doc_index) {
                    // Not needed to find the metadata: an empty value of
                    // the same kind stands for the copy.
                    let placeholder = match anchored {
                        Value::Map(_) => Value::Map(Map::new()),
                        Value::List(_) => Value::List(Vec::new()),
                        _ => Value::Null,
                    };
                    if let Some(top) = self.stack.last_mut() {
                        top.placeholder = true;
                    }
                    placeholder
                } else {
                    if tainted {
                        self.needs_full = true;
                        return Err(err_at(span, "yaml: alias of a partly read anchor"));
                    }
                    // Checked before copying: a refused alias costs nothing.
                    if self.stack.len() + depth > MAX_TREE_DEPTH {
                        return Err(FormatError::Parse(format!(
                            "yaml: document contains excessive aliasing (line {}, column {}): aliases would nest values deeper than {MAX_TREE_DEPTH} levels",
                            span.start.line(),
                            span.start.col() + 1,
                        )));
                    }
                    self.charge_copy(bytes, span)?;
                    let Some(anchored) = self.anchors.get(id) else {
                        return Ok(());
                    };
                    anchored.value.clone()
                };
                let raw = self.anchor_text.get(id).cloned().unwrap_or_default();
                self.last_line = self.content_end_line(span);
                match value {
                    Value::Map(_) | Value::List(_) if !self.stack.is_empty() => {
                        let top = self
                            .stack
                            .last()
                            .map(|f| f.is_map && f.pending_key.is_none());
                        if top == Some(true) {
                            return Err(err_at(
                                span,
                                "Tree contains a non-string key (type map). Only string keys are supported",
                            ));
                        }
                        let heads = std::mem::take(&mut self.pending_heads);
                        let pos = self.add_value(value, heads, span, doc_index)?;
                        self.last = Last::Entry(pos);
                        Ok(())
                    }
                    Value::Map(m) => {
                        self.doc = Some(m);
                        Ok(())
                    }
                    Value::List(_) => {
                        self.doc_seq = Some(start.0);
                        Ok(())
                    }
                    v => self.scalar_node(v, &raw, false, span, doc_index),
                }
            }
            _ => Ok(()),
        }
    }

    /// True when a node starting now is in (or is) the first document's
    /// top-level `sops` value.
    fn at_metadata(&self, doc_index: usize) -> bool {
        match self.stack.as_slice() {
            [] => false,
            [doc] => {
                doc_index == 0
                    && doc.is_map
                    && doc.pending_key.as_ref().is_some_and(|k| k.key == "sops")
            }
            [.., top] => top.metadata,
        }
    }

    /// Counts `bytes` about to be copied (an alias expanded or an anchored
    /// value recorded); refuses the stream, at the alias or anchor in
    /// `span`, once the copies would pass [`copy_budget`].
    fn charge_copy(&mut self, bytes: usize, span: &Span) -> Result<(), FormatError> {
        let total = self.copied_bytes.saturating_add(bytes);
        if total > self.copy_budget {
            return Err(FormatError::Parse(format!(
                "yaml: document contains excessive aliasing (line {}, column {}): anchors and aliases would copy more than {} MiB",
                span.start.line(),
                span.start.col() + 1,
                self.copy_budget >> 20
            )));
        }
        self.copied_bytes = total;
        Ok(())
    }

    /// The text of a scalar. granit-parser ends a `|`/`>` block scalar that
    /// runs to the end of an input without a final line break with a line
    /// break anyway; yaml.v3 (and the YAML spec: the last line has no break
    /// to keep) end it with its last character: `a: |\n  x` is `x`.
    fn block_scalar_text<'t>(&self, text: &'t str, style: ScalarStyle, span: &Span) -> &'t str {
        // The input's last line: only a content line there lacks its break
        // (a blank last line keeps the break of the line before it).
        let last_line = self.src.rsplit(['\n', '\r']).next().unwrap_or("");
        if !matches!(style, ScalarStyle::Literal | ScalarStyle::Folded)
            || last_line.trim_matches([' ', '\t']).is_empty()
        {
            return text;
        }
        let rest = span.end.byte_offset().and_then(|end| self.src.get(end..));
        if rest.is_some_and(|r| r.trim_matches([' ', '\t']).is_empty()) {
            text.strip_suffix('\n').unwrap_or(text)
        } else {
            text
        }
    }

    /// Skips the events of a collection used as a mapping key (see
    /// [`Builder::key_collection`]); at its end, its source text becomes
    /// the key.
    fn skip_key_collection(&mut self, ev: &Event<'_>, span: &Span) {
        let Some((depth, start)) = self.key_collection.as_mut() else {
            return;
        };
        match ev {
            Event::MappingStart(..) | Event::SequenceStart(..) => *depth += 1,
            Event::MappingEnd | Event::SequenceEnd => *depth -= 1,
            _ => {}
        }
        if *depth > 0 {
            return;
        }
        let start = *start;
        self.key_collection = None;
        let end = span.end.byte_offset().unwrap_or(start).max(start);
        let key = self.src.get(start..end).unwrap_or("").trim().to_string();
        let pre = std::mem::take(&mut self.pending_heads);
        if let Some(top) = self.stack.last_mut() {
            top.pending_key = Some(PendingKey {
                key,
                pre,
                merge: false,
            });
        }
        self.last = Last::Key;
    }

    /// Refuses a tab where yaml.v3 expects the indentation spaces of the
    /// block scalar at `span` (see [`v3_rules::block_scalar_tab_error`]).
    fn check_block_tabs(&self, span: &Span) -> Result<(), FormatError> {
        // granit's span starts at the content, after the header.
        let Some(header) = span
            .start
            .byte_offset()
            .and_then(|content| v3_rules::block_header_before(self.src, content))
        else {
            return Ok(());
        };
        let parent = self.stack.last().filter(|f| !f.flow).map(|f| f.indent);
        match v3_rules::block_scalar_tab_error(self.src, header, parent) {
            Some(line) => Err(FormatError::Parse(format!(
                "yaml: line {line}: found a tab character where an indentation space is expected"
            ))),
            None => Ok(()),
        }
    }

    /// True when the double-quoted scalar at `span` holds a `\/` escape:
    /// YAML 1.2 has it, yaml.v3 (sops) refuses it ("found unknown escape
    /// character"), and so does enseal.
    fn has_slash_escape(&self, span: &Span) -> bool {
        let (Some(s), Some(e)) = (span.start.byte_offset(), span.end.byte_offset()) else {
            return false;
        };
        let Some(text) = self.src.as_bytes().get(s..e) else {
            return false;
        };
        let mut i = 0;
        while i < text.len() {
            if text[i] == b'\\' {
                if text.get(i + 1) == Some(&b'/') {
                    return true;
                }
                i += 2;
            } else {
                i += 1;
            }
        }
        false
    }

    fn scalar_node(
        &mut self,
        value: Value,
        raw: &str,
        merge: bool,
        span: &Span,
        doc_index: usize,
    ) -> Result<(), FormatError> {
        let Some(top) = self.stack.last_mut() else {
            // A scalar document.
            if self.check_keys && !matches!(value, Value::Null) {
                // yaml.v3 quotes the scalar here; it may be a secret.
                return Err(FormatError::Parse(format!(
                    "yaml: unmarshal errors:\n  line {}: cannot unmarshal !!{} into map[string]interface {{}}",
                    span.start.line(),
                    scalar_kind(&value),
                )));
            }
            self.doc_scalar = Some((value, span.start.line(), span.start.col()));
            return Ok(());
        };
        if top.is_map && top.pending_key.is_none() {
            let key = match value {
                Value::Str(s) => s,
                other => {
                    self.unwalkable.get_or_insert(unwalkable_at(
                        span,
                        format!(
                            "Tree contains a non-string key (type {}): {}. Only string keys are supported",
                            go_type(&other),
                            raw
                        ),
                    ));
                    raw.to_string()
                }
            };
            if self.check_keys {
                self.key_lines.push(span.start.line());
            }
            let pre = std::mem::take(&mut self.pending_heads);
            top.pending_key = Some(PendingKey { key, pre, merge });
            self.last = Last::Key;
            self.last_key_end = span.end.byte_offset();
            return Ok(());
        }
        let heads = std::mem::take(&mut self.pending_heads);
        let pos = self.add_value(value, heads, span, doc_index)?;
        self.last = Last::Entry(pos);
        Ok(())
    }

    /// Adds a completed value to the top frame; returns its index there.
    fn add_value(
        &mut self,
        value: Value,
        heads: Vec<Comment>,
        span: &Span,
        _doc_index: usize,
    ) -> Result<usize, FormatError> {
        let check = self.check_keys;
        let Some(top) = self.stack.last_mut() else {
            return Ok(0);
        };
        let pos;
        if top.is_map {
            let Some(pk) = top.pending_key.take() else {
                return Ok(top.items.len());
            };
            if check && pk.merge {
                let ok = match &value {
                    Value::Map(_) => true,
                    Value::List(l) => l
                        .iter()
                        .filter(|v| !matches!(v, Value::Comment(_)))
                        .all(|v| matches!(v, Value::Map(_))),
                    _ => false,
                };
                if !ok {
                    return Err(FormatError::Parse(
                        "yaml: map merge requires map or sequence of maps as the value".into(),
                    ));
                }
            }
            top.items.extend(pk.pre.into_iter().map(Item::Comment));
            top.items.extend(heads.into_iter().map(Item::Comment));
            pos = top.items.len();
            top.items.push(Item::Entry(pk.key, value));
            let deferred = std::mem::take(&mut top.deferred);
            top.items.extend(deferred.into_iter().map(Item::Comment));
        } else {
            top.list.extend(heads.into_iter().map(Value::Comment));
            pos = top.list.len();
            top.list.push(value);
            let deferred = std::mem::take(&mut top.deferred);
            top.list.extend(deferred.into_iter().map(Value::Comment));
        }
        let _ = span;
        Ok(pos)
    }
}

/// Bytes counted for every node of a copied value, whatever its content
/// (about what a tree node and its allocation cost in memory), so that
/// copies of empty values are not free.
pub(crate) const NODE_BYTES: usize = 64;

/// Copies allowed to any stream, however small.
pub(crate) const COPY_BUDGET_MIN: usize = 16 << 20;

/// Copies allowed per byte of input, for large streams.
pub(crate) const COPY_BUDGET_PER_INPUT_BYTE: usize = 16;

/// How many bytes (by [`value_bytes`]) alias expansion and anchor
/// recording may copy while reading `input_len` bytes of YAML:
/// max(16 MiB, 16 × input). What aliases add to the tree is then at most
/// proportional to the input, whatever the input (the tree itself is
/// proportional to the input without aliases), and no real file with
/// anchors (`<<: *defaults` in compose or Kubernetes files) comes near it.
pub(crate) fn copy_budget(input_len: usize) -> usize {
    COPY_BUDGET_MIN.max(input_len.saturating_mul(COPY_BUDGET_PER_INPUT_BYTE))
}

/// How deep alias expansion may nest the tree (collections from the root,
/// the document's mapping included). Without aliases the parser's own
/// limits (255 flow and 255 block levels) keep a tree shallower than this;
/// aliases of anchors that hold aliases could otherwise stack depths
/// without bound (a 15 KB file nesting 7,500 levels), which every
/// recursive step after reading (copy, drop, encryption, writing) pays for
/// in stack.
pub(crate) const MAX_TREE_DEPTH: usize = 512;

/// The number of nested collections in a value (0 for a scalar).
pub(crate) fn value_depth(v: &Value) -> usize {
    match v {
        Value::Map(m) => {
            1 + m
                .0
                .iter()
                .map(|i| match i {
                    Item::Entry(_, v) => value_depth(v),
                    Item::Comment(_) => 0,
                })
                .max()
                .unwrap_or(0)
        }
        Value::List(l) => 1 + l.iter().map(value_depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// The size of a value as alias expansion counts it: [`NODE_BYTES`] per
/// node plus the bytes of its keys, strings and comments.
pub(crate) fn value_bytes(v: &Value) -> usize {
    NODE_BYTES
        + match v {
            Value::Map(m) => {
                m.0.iter()
                    .map(|i| match i {
                        Item::Entry(k, v) => k.len() + value_bytes(v),
                        Item::Comment(c) => NODE_BYTES + c.text.len(),
                    })
                    .sum::<usize>()
            }
            Value::List(l) => l.iter().map(value_bytes).sum::<usize>(),
            Value::Str(s) => s.len(),
            Value::Bytes(b) => b.len(),
            Value::Comment(c) => c.text.len(),
            Value::Int(_) | Value::Float(_) | Value::Bool(_) | Value::Time(_) | Value::Null => 0,
        }
}

fn scalar_kind(v: &Value) -> &'static str {
    match v {
        Value::Int(_) => "int",
        Value::Float(_) => "float",
        Value::Bool(_) => "bool",
        Value::Time(_) => "timestamp",
        Value::Null => "null",
        _ => "str",
    }
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Int(_) => "int",
        Value::Float(_) => "float64",
        Value::Bool(_) => "bool",
        Value::Time(_) => "time.Time",
        Value::Null => "<nil>",
        Value::Bytes(_) => "string",
        _ => v.type_name(),
    }
}

/// Runs the duplicate-key check of the first document (yaml.v3 reports every
/// later key equal to an earlier one, in order).
pub(crate) fn duplicate_key_errors(keys: &[(&str, usize)]) -> Vec<String> {
    if keys.len() < 2 {
        return Vec::new();
    }
    let distinct = if keys.len() <= 16 {
        // Small mappings (nearly all): compare pairs, no hashing.
        keys.iter()
            .enumerate()
            .all(|(i, (k, _))| keys[..i].iter().all(|(other, _)| other != k))
    } else {
        let mut seen = std::collections::HashSet::with_capacity(keys.len());
        keys.iter().all(|(k, _)| seen.insert(*k))
    };
    if distinct {
        return Vec::new();
    }
    let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, (k, _)) in keys.iter().enumerate() {
        groups.entry(k).or_default().push(i);
    }
    // yaml.v3 reports every pair: n copies of a key make n(n-1)/2 lines.
    let pairs: usize = groups.values().map(|g| g.len() * (g.len() - 1) / 2).sum();
    let mut errs = Vec::new();
    'keys: for (i, (k, line)) in keys.iter().enumerate() {
        let g = &groups[k];
        if g.len() < 2 {
            continue;
        }
        for &j in g.iter().filter(|&&j| j > i) {
            if errs.len() == MAX_DUPLICATE_REPORTS {
                break 'keys;
            }
            errs.push(format!(
                "line {}: mapping key {} already defined at line {}",
                keys[j].1,
                go_quote(k),
                line
            ));
        }
    }
    if pairs > errs.len() {
        errs.push(format!(
            "and {} more mapping keys already defined",
            pairs - errs.len()
        ));
    }
    errs
}

/// Most duplicate-key lines reported for one mapping (the first ones in
/// yaml.v3's order, then a count): the pairs grow with the square of the
/// copies of a key, and 3,000 lines of `k: 1` would otherwise make 4.5
/// million lines and a gigabyte of messages.
pub(crate) const MAX_DUPLICATE_REPORTS: usize = 20;

/// Moves comments that follow the last entry of a collection whose value is
/// itself a block collection to where a reader of the written file finds
/// them, so that they are encrypted under the path decryption uses.
///
/// yaml.v3 writes such comments as the foot of the last key or item and,
/// reading the file back, gives them to the nested collection: sops
/// encrypts them under the outer path and looks for them under the inner
/// one, so neither tool can decrypt them again (a GitHub workflow's
/// commented-out `#schedule:` after `branches: [- master]`). Here the
/// documents are written (with a `sops` entry, as an encrypted file is) and
/// read back; the comments of the reread documents are adopted when their
/// data is unchanged. Documents without such comments are returned as they
/// are, without writing anything.
pub(crate) fn settle_trailing_comments(docs: Vec<Map>, indent: usize) -> Vec<Map> {
    if !docs.iter().any(map_has_unsettled_comments) {
        return docs;
    }
    let sops = Map(vec![Item::Entry("version".into(), Value::Str("0".into()))]);
    let mut text = super::emit::emit_documents(&docs, Some(&sops), indent);
    let reread = std::str::from_utf8(&text)
        .ok()
        .and_then(|t| parse_stream(t, false).ok());
    zeroize::Zeroize::zeroize(&mut text);
    let Some(mut reread) = reread else {
        return docs;
    };
    for doc in &mut reread {
        let at = doc
            .0
            .iter()
            .rposition(|i| matches!(i, Item::Entry(k, _) if k == "sops"));
        match at {
            Some(at) => {
                doc.0.remove(at);
            }
            None => return docs,
        }
    }
    let same = reread.len() == docs.len()
        && reread
            .iter()
            .zip(&docs)
            .all(|(a, b)| same_map_without_comments(a, b));
    if same {
        reread
    } else {
        docs
    }
}

/// A non-empty block mapping or sequence.
fn is_nested_collection(v: &Value) -> bool {
    match v {
        Value::Map(m) => m.0.iter().any(|i| matches!(i, Item::Entry(..))),
        Value::List(l) => l.iter().any(|v| !matches!(v, Value::Comment(_))),
        _ => false,
    }
}

/// Whether a comment follows the last entry of `map` (or of a collection
/// inside) and that entry's value is a nested collection.
fn map_has_unsettled_comments(map: &Map) -> bool {
    let last = map.0.iter().rposition(|i| matches!(i, Item::Entry(..)));
    if let Some(Item::Entry(_, v)) = last.map(|at| &map.0[at]) {
        if last.is_some_and(|at| at + 1 < map.0.len()) && is_nested_collection(v) {
            return true;
        }
    }
    map.0.iter().any(|i| match i {
        Item::Entry(_, v) => value_has_unsettled_comments(v),
        Item::Comment(_) => false,
    })
}

fn value_has_unsettled_comments(v: &Value) -> bool {
    match v {
        Value::Map(m) => map_has_unsettled_comments(m),
        Value::List(l) => {
            let last = l.iter().rposition(|v| !matches!(v, Value::Comment(_)));
            if let Some(at) = last {
                if at + 1 < l.len() && is_nested_collection(&l[at]) {
                    return true;
                }
            }
            l.iter().any(value_has_unsettled_comments)
        }
        _ => false,
    }
}

/// The entries of `m`, comments left out.
fn entries_of(m: &Map) -> Vec<(&String, &Value)> {
    m.0.iter()
        .filter_map(|i| match i {
            Item::Entry(k, v) => Some((k, v)),
            Item::Comment(_) => None,
        })
        .collect()
}

/// Equality of two mappings with their comments left out.
fn same_map_without_comments(a: &Map, b: &Map) -> bool {
    let (ea, eb) = (entries_of(a), entries_of(b));
    ea.len() == eb.len()
        && ea
            .iter()
            .zip(&eb)
            .all(|((ka, va), (kb, vb))| ka == kb && same_value_without_comments(va, vb))
}

fn same_value_without_comments(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Map(a), Value::Map(b)) => same_map_without_comments(a, b),
        (Value::List(a), Value::List(b)) => {
            let mut ia = a.iter().filter(|v| !matches!(v, Value::Comment(_)));
            let mut ib = b.iter().filter(|v| !matches!(v, Value::Comment(_)));
            loop {
                match (ia.next(), ib.next()) {
                    (None, None) => return true,
                    (Some(x), Some(y)) if same_value_without_comments(x, y) => {}
                    _ => return false,
                }
            }
        }
        (Value::Float(x), Value::Float(y)) => {
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod settle_tests {
    use super::{parse_stream, settle_trailing_comments};
    use crate::tree::{Comment, Item, Map, Value};

    fn settled(src: &str) -> Vec<Map> {
        settle_trailing_comments(parse_stream(src, true).unwrap(), 4)
    }

    #[test]
    fn a_comment_after_a_nested_list_moves_into_the_list_item() {
        let docs = settled("a:\n  b:\n    - c: d\n  # one\n");
        let Some(Value::Map(a)) = docs[0].get("a") else {
            panic!("no mapping a: {docs:?}")
        };
        assert_eq!(a.0.len(), 1, "the comment stayed in a: {a:?}");
        let Some(Value::List(b)) = a.get("b") else {
            panic!("no list b: {a:?}")
        };
        let Value::Map(item) = &b[0] else {
            panic!("no item mapping: {b:?}")
        };
        assert_eq!(item.0.last(), Some(&Item::Comment(Comment::new(" one"))));
    }

    #[test]
    fn a_comment_after_a_scalar_list_moves_into_the_list() {
        let docs = settled("a:\n  b:\n    - c\n  # one\nz: 1\n");
        let Some(Value::Map(a)) = docs[0].get("a") else {
            panic!("no mapping a: {docs:?}")
        };
        assert_eq!(
            a.get("b"),
            Some(&Value::List(vec![
                Value::Str("c".into()),
                Value::Comment(Comment::new(" one"))
            ]))
        );
    }

    #[test]
    fn documents_without_such_comments_are_unchanged() {
        for src in [
            "a:\n  b:\n    - c\n  d: 1\n  # after a scalar\n",
            "a:\n  # head\n  b: [1, 2]\n",
            "a: 1\n# end\n",
        ] {
            let parsed = parse_stream(src, true).unwrap();
            assert_eq!(settle_trailing_comments(parsed.clone(), 4), parsed, "{src}");
        }
    }
}

#[cfg(test)]
mod block_scalar_end_tests {
    use super::parse_stream;
    use crate::tree::Value;

    fn value_of_k(src: &str) -> Value {
        let docs = parse_stream(src, true).unwrap();
        docs[0].get("k").cloned().unwrap()
    }

    #[test]
    fn block_scalar_at_the_end_of_input_without_a_break_has_none() {
        // yaml.v3 (sops) reads these without a final line break.
        for src in ["a: 1\nk: |\n  x\n  y", "k: |+\n  x\n  y", "k: >\n  x\n  y"] {
            let want = if src.contains('>') { "x y" } else { "x\ny" };
            assert_eq!(value_of_k(src), Value::Str(want.into()), "{src:?}");
        }
        // With the break, or with a blank last line, clip keeps one.
        assert_eq!(value_of_k("k: |\n  x\n"), Value::Str("x\n".into()));
        assert_eq!(value_of_k("k: |\n  x\n  "), Value::Str("x\n".into()));
        // A block scalar followed by more content is untouched.
        assert_eq!(value_of_k("k: |\n  x\nb: 1"), Value::Str("x\n".into()));
    }

    #[test]
    fn slash_escape_is_refused_as_yaml_v3_does() {
        let err = parse_stream("k: \"a\\/b\"\n", true).unwrap_err();
        assert!(
            err.to_string().contains("found unknown escape character"),
            "{err}"
        );
        let err = parse_stream("k: [\"\\n\\/\"]\n", true).unwrap_err();
        assert!(
            err.to_string().contains("found unknown escape character"),
            "{err}"
        );
        // An escaped backslash before a slash is fine.
        assert_eq!(value_of_k("k: \"\\\\/\"\n"), Value::Str("\\/".into()));
    }
}

#[cfg(test)]
mod collection_key_tests {
    use super::*;

    /// Checked against sops 3.11.0: a collection as a mapping key in the
    /// first document fails decoding (exit 2); in a later document yaml.v3
    /// reads it and sops' tree walk refuses it (exit 23).
    #[test]
    fn a_collection_key_is_unwalkable_beyond_the_first_document() {
        for src in [
            "a: 1\n---\nk:\n  [a]: v\n",
            "a: 1\n---\nk:\n  ? x: v\n  j: 2\n",
        ] {
            match parse_stream(src, true) {
                Err(FormatError::Unwalkable(m)) => assert!(m.contains("non-string key"), "{m}"),
                other => panic!("{src:?}: {other:?}"),
            }
        }
        assert!(matches!(
            parse_stream("k:\n  [a]: v\n", true),
            Err(FormatError::Parse(_))
        ));
        // A syntax error later in the stream is what yaml.v3 reports.
        assert!(matches!(
            parse_stream("a: 1\n---\nk:\n  [a]: v\n  j: [\n", true),
            Err(FormatError::Parse(_))
        ));
    }
}

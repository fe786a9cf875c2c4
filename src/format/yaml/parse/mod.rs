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
//!
//! Here: the [`Builder`] and its event loop; in [`comments`] the placement
//! of own-line comments, in [`nodes`] collections, scalars and aliases, in
//! [`limits`] the bounds on alias copies and depth and the duplicate-key
//! check, in [`settle`] the comments moved after writing and rereading.

use std::collections::HashMap;

use granit_parser::{Event, Parser, Placement, Span, Tag};

mod comments;
mod limits;
mod nodes;
mod settle;

use super::line_separators;
use super::tab_rules::{self, ScalarAt};
use super::v3_rules;

pub(crate) use limits::copy_budget;
#[cfg(test)]
pub(crate) use limits::{value_bytes, value_depth, MAX_DUPLICATE_REPORTS, MAX_TREE_DEPTH};
pub(crate) use settle::settle_trailing_comments;

use super::resolve::ScalarTag;
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
    /// Comments that follow the next item of this sequence (a CR LF quirk
    /// of yaml.v3, see `Builder::crlf_next_item_foot`).
    after_next: Vec<Comment>,
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
            after_next: Vec::new(),
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
    /// Where `src` holds a stand-in for a raw LS or PS (see
    /// [`line_separators`]); empty for almost every input.
    separators: &'a [(usize, char)],
    /// Where the token after a closing collection starts, while its
    /// comments are placed.
    next_at: Option<usize>,
    /// The scalars read so far, kept only when `src` holds a tab (see
    /// [`tab_rules`]).
    tab_scalars: Option<Vec<ScalarAt>>,
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
    /// While a collection ends at a document marker (`---`, `...`): the
    /// marker's line (see [`Builder::resolve_own`]).
    marker_line: Option<usize>,
    /// The line of a `---` that ends with CR LF and starts a later
    /// document, until the next event (see [`Builder::event`]).
    crlf_marker_line: Option<usize>,
    /// The input's first line ends with CR LF (see [`Builder::resolve_own`]).
    crlf: bool,
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
    tag.map_or(ScalarTag::None, |t| {
        ScalarTag::from_parts(t.handle(), t.suffix())
    })
}

/// Whether `src` ends its first line with CR LF.
fn is_crlf(src: &str) -> bool {
    src.find('\n').is_some_and(|at| src[..at].ends_with('\r'))
}

/// Go's `%q` of a string, for names in messages.
use crate::gofmt::quote as go_quote;

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
    // Raw LS and PS: granit-parser reads a stand-in text (see
    // line_separators.rs); the fast scanner never sees them.
    // A raw NEL is read as CR LF (v3_rules.rs).
    let original = src;
    let with_nel = v3_rules::nel_as_line_break(src);
    let stand_in = line_separators::stand_in(&with_nel);
    if stand_in.is_none() && matches!(with_nel, std::borrow::Cow::Borrowed(_)) {
        if let Some(docs) = parse_fast_in(src, first_doc_checks, metadata_only) {
            return Ok(docs);
        }
    }
    let src = stand_in.as_ref().map_or(&*with_nel, |s| s.text.as_str());
    let mut b = Builder::new(src, first_doc_checks);
    b.metadata_only = metadata_only;
    if let Some(s) = &stand_in {
        b.separators = s.at.as_slice();
    }
    // Line ends are the input's, not those standing for NEL, LS and PS.
    b.crlf = is_crlf(original);
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
            separators: &[],
            next_at: None,
            tab_scalars: memchr::memchr(b'\t', src.as_bytes()).map(|_| Vec::new()),
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
            marker_line: None,
            crlf_marker_line: None,
            crlf: is_crlf(src),
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
        let crlf_marker_line = self.crlf_marker_line.take();
        match ev {
            Event::StreamStart | Event::StreamEnd | Event::Anchor(..) => {}
            Event::Comment(text, placement) => {
                let mut text = text.into_owned();
                // A comment that a raw LS or PS ends: not the stand-in's space.
                if text.ends_with(' ') {
                    if let (Some(s), Some(e)) = (span.start.byte_offset(), span.end.byte_offset()) {
                        if line_separators::StandIn::holds(self.separators, s, e + 2) {
                            text.pop();
                        }
                    }
                }
                if placement == Placement::Right {
                    self.inline_comment(text, span);
                } else if crlf_marker_line.is_some_and(|l| l + 1 == span.start.line()) {
                    // yaml.v3, in a CR LF file, gives the comment on the
                    // line right after a `---` to the end of the previous
                    // document (the lines after it stay in the new one).
                    if let Some(previous) = self.docs.last_mut() {
                        previous.0.push(Item::Comment(Comment::new(text)));
                    }
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
                let at = span.start.byte_offset().unwrap_or(usize::MAX);
                let crlf_marker = span.start.col() == 0
                    && self
                        .src
                        .get(at..)
                        .is_some_and(|rest| rest.starts_with("---\r\n"));
                if crlf_marker && !self.docs.is_empty() {
                    self.crlf_marker_line = Some(span.start.line());
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
        // yaml.v3 refuses these tabs while scanning, before sops walks.
        if let Some(scalars) = &self.tab_scalars {
            if let Some(message) = tab_rules::first_error(self.src, scalars) {
                return Err(FormatError::Parse(message));
            }
        }
        if let Some(unwalkable) = self.unwalkable {
            return Err(unwalkable);
        }
        Ok(self.docs)
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

    /// Messages and lines checked against sops 3.11.0 (exit 2 each; see
    /// tab_rules.rs for the rules, testdata/differential/yaml/tab* for more).
    #[test]
    fn tabs_between_tokens_are_refused_as_yaml_v3_does() {
        use crate::format::FormatError;
        for (src, want) in [
            (
                "a: 1\nb: 2\nk: 1\n\t\nc: 2\n",
                "yaml: line 3: found a tab character that violates indentation",
            ),
            (
                "a: 1\nk:\n  \tv\n",
                "yaml: line 3: found character that cannot start any token",
            ),
            (
                "a:\n  b: x\n  \t\n",
                "yaml: line 2: found a tab character that violates indentation",
            ),
            (
                "k:\n  - \tv\n",
                "yaml: line 2: found character that cannot start any token",
            ),
            (
                "\tk: v\n",
                "yaml: found character that cannot start any token",
            ),
        ] {
            match parse_stream(src, true) {
                Err(FormatError::Parse(m)) => assert_eq!(m, want, "{src:?}"),
                other => panic!("{src:?}: {other:?}"),
            }
        }
        // Where yaml.v3 takes a tab.
        for src in [
            "k:\tv\n",
            "k: v \t# c\n",
            "k: 1\n  \t# c\nb: 2\n",
            "k: [a,\n\tb]\n",
            "k: !!str\tv\n",
            "k: \"v\"\n# c\n\t# d\nb: 1\n",
        ] {
            assert!(parse_stream(src, true).is_ok(), "{src:?}");
        }
    }

    /// Messages and lines checked against sops 3.11.0 (exit 2 each).
    #[test]
    fn a_left_out_key_is_refused_as_yaml_v3_does() {
        use crate::format::FormatError;
        for (src, want) in [
            (": x\n", "yaml: did not find expected key"),
            ("a: 1\n: x\n", "yaml: line 1: did not find expected key"),
            (
                "a:\n  b: 1\n  : x\n",
                "yaml: line 1: did not find expected key",
            ),
            (
                "a: 1\nb:\n  - c: 1\n    : x\n",
                "yaml: line 2: did not find expected key",
            ),
            ("{: x}\n", "yaml: did not find expected node content"),
            (
                "a: 1\nb: [1, : x]\n",
                "yaml: line 1: did not find expected node content",
            ),
            (
                "a: 1\nb:\n  c: {b: 1,\n   : x}\n",
                "yaml: line 3: did not find expected node content",
            ),
        ] {
            match parse_stream(src, true) {
                Err(FormatError::Parse(m)) => assert_eq!(m, want, "{src:?}"),
                other => panic!("{src:?}: {other:?}"),
            }
        }
        // After `?` the key is explicit: yaml.v3 reads a null key, which
        // the walk refuses (exit 23), and an empty value is fine.
        for src in ["? \n: x\n", "a: 1\n?\n: x\n", "{? : x}\n"] {
            assert!(
                matches!(parse_stream(src, true), Err(FormatError::Unwalkable(_))),
                "{src:?}"
            );
        }
        assert!(parse_stream("k: 1\n? a\n:\n", true).is_ok());
        assert!(parse_stream("k: {a, b: }\n", true).is_ok());
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

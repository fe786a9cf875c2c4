//! Writing: the tree is turned into the node layout sops builds (comments as
//! head/foot comments), then into events, which an emitter with the layout
//! rules of the Go YAML v3 library writes out (block style, configurable
//! indentation, no line wrapping).
//!
//! Here: the tree → events walk and the sink feeding the emitter; in
//! [`emitter`] the writer state machine; in [`analysis`] which styles can
//! write a scalar (with its ASCII fast path in [`fast_ascii`]).

mod analysis;
mod emitter;
mod fast_ascii;

use super::resolve::string_can_be_plain;
use crate::gofmt::write_g;
use crate::stack_text::StackText;
use analysis::{analyze_scalar, ScalarAnalysis};

use crate::tree::{Item, Map, Value};

/// Requested scalar style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// Joins comment texts the way sops does: `#` + text, one per line.
fn join_comments(comments: &[&str]) -> String {
    let mut out = String::new();
    for (i, c) in comments.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push('#');
        out.push_str(c);
    }
    out
}

/// `addCommentsHead`: comments of the enclosing sequence come first.
fn prepend(item_head: String, own: String) -> String {
    match (item_head.is_empty(), own.is_empty()) {
        (true, _) => own,
        (false, true) => item_head,
        (false, false) => format!("{item_head}\n{own}"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EvKind {
    StreamStart,
    StreamEnd,
    DocStart,
    DocEnd,
    MapStart,
    MapEnd,
    SeqStart,
    SeqEnd,
    Scalar,
}

#[derive(Default)]
struct EvComments {
    head: String,
    foot: String,
    tail: String,
}

/// The text of a scalar event: borrowed from the tree, made for it, or (a
/// number) written on the stack.
enum Text<'a> {
    Borrowed(&'a str),
    Owned(String),
    Short(StackText<32>),
}

impl<'a> Text<'a> {
    /// The text `write` produces: on the stack when short.
    fn formatted(write: impl Fn(&mut dyn std::fmt::Write) -> std::fmt::Result + Copy) -> Text<'a> {
        match StackText::new(write) {
            Some(short) => Text::Short(short),
            None => {
                let mut s = String::new();
                let _ = write(&mut s);
                Text::Owned(s)
            }
        }
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Text::Borrowed(s) => s,
            Text::Owned(s) => s,
            Text::Short(s) => s.as_str(),
        }
    }
}

struct Event<'a> {
    kind: EvKind,
    value: Text<'a>,
    /// The scalar analysis, when already made with the event.
    analysis: Option<ScalarAnalysis>,
    style: Style,
    tag: Option<&'static str>,
    comments: Option<Box<EvComments>>,
}

impl<'a> Event<'a> {
    fn new(kind: EvKind) -> Event<'a> {
        Event {
            kind,
            value: Text::Borrowed(""),
            analysis: None,
            style: Style::Plain,
            tag: None,
            comments: None,
        }
    }

    fn scalar(value: Text<'a>, style: Style, tag: Option<&'static str>) -> Event<'a> {
        Event {
            kind: EvKind::Scalar,
            value,
            analysis: None,
            style,
            tag,
            comments: None,
        }
    }

    fn comments_mut(&mut self) -> &mut EvComments {
        self.comments.get_or_insert_with(Default::default)
    }

    fn set_head(&mut self, head: String) {
        if !head.is_empty() {
            self.comments_mut().head = head;
        }
    }
}

/// The event of a string scalar (yaml.v3 `stringv` style choice).
fn string_event(s: &str) -> Event<'_> {
    // The emitter's analysis, made here once: ASCII text without breaks
    // has no line feed to look for.
    let analysis = analyze_scalar(s);
    let has_line_feed =
        (analysis.multiline || !analysis.ascii) && memchr::memchr(b'\n', s.as_bytes()).is_some();
    let style = if has_line_feed {
        Style::Literal
    } else if string_can_be_plain(s) {
        Style::Plain
    } else {
        Style::Double
    };
    // A plain `<<` reads back as a merge key, which yaml.v3 then writes
    // with its tag.
    let tag = (style == Style::Plain && s == "<<").then_some("merge");
    let mut event = Event::scalar(Text::Borrowed(s), style, tag);
    event.analysis = Some(analysis);
    event
}

/// A float as the encrypted-file writer spells it: as [`float_text`] but
/// negative zero, which sops 3.11 writes as `-0`, a text yaml.v3 reads back
/// as the int 0 (so its MAC check of its own file fails). `-0.0` reads back
/// as the float negative zero, whose MAC text (`-0`) is the one hashed.
/// Decrypted output keeps sops' `-0`.
fn encrypted_file_float_text(f: f64) -> Text<'static> {
    if f == 0.0 && f.is_sign_negative() {
        Text::Borrowed("-0.0")
    } else {
        float_text(f)
    }
}

fn float_text(f: f64) -> Text<'static> {
    if f.is_nan() {
        Text::Borrowed(".nan")
    } else if f.is_infinite() {
        Text::Borrowed(if f > 0.0 { ".inf" } else { "-.inf" })
    } else {
        Text::formatted(|out| write_g(f, false, out))
    }
}

fn binary_event(bytes: &[u8]) -> Event<'static> {
    use base64::Engine;
    let enc = base64::engine::general_purpose::STANDARD.encode(bytes);
    let lines = enc.len() / 70 + 1;
    let mut value = String::new();
    for chunk in enc.as_bytes().chunks(70) {
        value.push_str(std::str::from_utf8(chunk).unwrap_or(""));
        if lines > 1 {
            value.push('\n');
        }
    }
    let style = if value.contains('\n') {
        Style::Literal
    } else {
        Style::Plain
    };
    Event::scalar(Text::Owned(value), style, Some("binary"))
}

/// Feeds events to the emitter as they are made. The emitter looks one
/// event ahead at most, so no list of the whole tree's events is built.
struct Sink<'a> {
    emitter: Emitter,
    /// The event being written and the one after it.
    window: Vec<Event<'a>>,
    /// Writing an encrypted file (its clear-text values must read back to
    /// the values its MAC hashed, see [`encrypted_file_float_text`]).
    encrypted_file: bool,
}

impl<'a> Sink<'a> {
    /// `capacity`: the expected output size in bytes (0 when unknown).
    fn new(indent: usize, capacity: usize) -> Sink<'a> {
        let mut emitter = Emitter::new(indent);
        emitter.out.reserve(capacity);
        Sink {
            emitter,
            window: Vec::with_capacity(2),
            encrypted_file: false,
        }
    }

    fn push(&mut self, ev: Event<'a>) {
        self.window.push(ev);
        if self.window.len() == 2 {
            self.step();
        }
    }

    /// Writes the first event of the window.
    fn step(&mut self) {
        self.emitter.analyze_event(&mut self.window[0]);
        self.emitter.state_machine(&self.window, 0);
        self.window.remove(0);
    }

    fn finish(mut self) -> Vec<u8> {
        while !self.window.is_empty() {
            self.step();
        }
        self.emitter.out
    }
}

/// The texts of the comments at the start of `items`.
fn leading_comments<'a, T: 'a>(
    items: impl IntoIterator<Item = &'a T>,
    comment: impl Fn(&'a T) -> Option<&'a str>,
) -> Vec<&'a str> {
    items.into_iter().map_while(comment).collect()
}

/// The start event of a mapping or sequence with its head comment.
fn start_event<'a>(kind: EvKind, item_head: String, own_head: &[&str]) -> Event<'a> {
    let mut ev = Event::new(kind);
    ev.set_head(prepend(item_head, join_comments(own_head)));
    ev
}

/// Puts `foot` (when not empty) on the event that ends a node.
fn with_foot(mut ev: Event<'_>, foot: String) -> Event<'_> {
    if !foot.is_empty() {
        ev.comments_mut().foot = foot;
    }
    ev
}

/// Events of one value (sops `treeValueToNode` + yaml.v3 `encoder.node`).
/// `item_head`: comments placed before it in a sequence; `foot`: comments
/// after it as the last item of a sequence.
fn value_events<'a>(v: &'a Value, item_head: String, foot: String, out: &mut Sink<'a>) {
    let mut ev = match v {
        Value::Map(m) => return map_events(&m.0, None, item_head, foot, out),
        Value::List(l) => return seq_events(l, item_head, foot, out),
        Value::Str(s) => string_event(s),
        Value::Bytes(b) => match std::str::from_utf8(b) {
            Ok(s) => string_event(s),
            Err(_) => binary_event(b),
        },
        Value::Int(i) => Event::scalar(
            Text::formatted(|out| write!(out, "{i}")),
            Style::Plain,
            None,
        ),
        Value::Float(f) if out.encrypted_file => {
            Event::scalar(encrypted_file_float_text(*f), Style::Plain, None)
        }
        Value::Float(f) => Event::scalar(float_text(*f), Style::Plain, None),
        Value::Bool(b) => Event::scalar(
            Text::Borrowed(if *b { "true" } else { "false" }),
            Style::Plain,
            None,
        ),
        Value::Time(t) => Event::scalar(Text::Owned(t.to_rfc3339_nano()), Style::Plain, None),
        Value::Null | Value::Comment(_) => {
            Event::scalar(Text::Borrowed("null"), Style::Plain, None)
        }
    };
    ev.set_head(item_head);
    out.push(with_foot(ev, foot));
}

/// A mapping (sops `appendTreeBranch`): comments before the first key are
/// the mapping's head, comments before a key its head, trailing comments the
/// last key's foot, which yaml.v3 writes as the "tail" of the mapping end.
fn map_events<'a>(
    items: &'a [Item],
    extra: Option<(&'a str, &'a Value)>,
    item_head: String,
    foot: String,
    out: &mut Sink<'a>,
) {
    let leading = leading_comments(items, |item| match item {
        Item::Comment(c) => Some(c.text.as_str()),
        Item::Entry(..) => None,
    });
    out.push(start_event(EvKind::MapStart, item_head, &leading));
    let mut pending: Vec<&str> = Vec::new();
    let mut started = false;
    let mut entry = |k: &'a str, v: &'a Value, pending: &mut Vec<&'a str>, out: &mut Sink<'a>| {
        let mut key = string_event(k);
        if started {
            key.set_head(join_comments(pending));
        }
        started = true;
        pending.clear();
        out.push(key);
        value_events(v, String::new(), String::new(), out);
    };
    for item in items {
        match item {
            Item::Comment(c) => pending.push(&c.text),
            Item::Entry(k, v) => entry(k, v, &mut pending, out),
        }
    }
    if let Some((k, v)) = extra {
        entry(k, v, &mut pending, out);
    }
    let mut end = Event::new(EvKind::MapEnd);
    if started && !pending.is_empty() {
        end.comments_mut().tail = join_comments(&pending);
    }
    out.push(with_foot(end, foot));
}

/// A sequence (sops `appendSequence`): comments before the first item are
/// the sequence's head, comments before an item its head, trailing comments
/// the last item's foot.
fn seq_events<'a>(list: &'a [Value], item_head: String, foot: String, out: &mut Sink<'a>) {
    let comment = |v: &'a Value| match v {
        Value::Comment(c) => Some(c.text.as_str()),
        _ => None,
    };
    let leading = leading_comments(list, comment);
    out.push(start_event(EvKind::SeqStart, item_head, &leading));
    let last_item = list.iter().rposition(|v| comment(v).is_none());
    let mut pending: Vec<&str> = Vec::new();
    for (i, v) in list.iter().enumerate() {
        if let Some(text) = comment(v) {
            pending.push(text);
            continue;
        }
        let head = if i == leading.len() {
            String::new()
        } else {
            join_comments(&pending)
        };
        pending.clear();
        let item_foot = if Some(i) == last_item {
            join_comments(&leading_comments(&list[i + 1..], comment))
        } else {
            String::new()
        };
        value_events(v, head, item_foot, out);
    }
    out.push(with_foot(Event::new(EvKind::SeqEnd), foot));
}

/// Writes documents (each a mapping) as a YAML stream; `extra` is appended
/// to every document as a `sops` entry.
pub(crate) fn emit_documents(docs: &[Map], extra: Option<&Map>, indent: usize) -> Vec<u8> {
    let target = Target::of(extra);
    emit_stream(docs.iter().map(|d| &d.0[..]), extra, target, indent, 0)
}

/// What a YAML text is written for: clear-text values of an encrypted file
/// are spelled so that they read back to the values its MAC hashed (see
/// [`encrypted_file_float_text`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// Decrypted output (byte-identical to sops').
    Plain,
    /// An encrypted file.
    EncryptedFile,
}

impl Target {
    /// The target of a write whose `extra` is the `sops` metadata entry.
    pub(crate) fn of(extra: Option<&Map>) -> Target {
        if extra.is_some() {
            Target::EncryptedFile
        } else {
            Target::Plain
        }
    }
}

/// Writes one document made of `items` (and `extra` as a final `sops`
/// entry) for `target`, exactly as [`emit_documents`] writes a
/// single-document stream; `capacity` is the expected size of the output.
pub(crate) fn emit_items(
    items: &[Item],
    extra: Option<&Map>,
    target: Target,
    indent: usize,
    capacity: usize,
) -> Vec<u8> {
    emit_stream(std::iter::once(items), extra, target, indent, capacity)
}

/// Writes documents given as their top-level items.
fn emit_stream<'a>(
    docs: impl Iterator<Item = &'a [Item]>,
    extra: Option<&Map>,
    target: Target,
    indent: usize,
    capacity: usize,
) -> Vec<u8> {
    let sops = extra.map(|m| Value::Map(m.clone()));
    let mut sink = Sink::new(indent, capacity);
    sink.encrypted_file = target == Target::EncryptedFile;
    sink.push(Event::new(EvKind::StreamStart));
    for items in docs {
        sink.push(Event::new(EvKind::DocStart));
        map_events(
            items,
            sops.as_ref().map(|v| ("sops", v)),
            String::new(),
            String::new(),
            &mut sink,
        );
        sink.push(Event::new(EvKind::DocEnd));
    }
    sink.push(Event::new(EvKind::StreamEnd));
    sink.finish()
}

/// Writes one value as a YAML document (`yaml.Marshal` of the node).
pub(crate) fn emit_single_value(v: &Value) -> Vec<u8> {
    let mut sink = Sink::new(4, 0);
    sink.push(Event::new(EvKind::StreamStart));
    sink.push(Event::new(EvKind::DocStart));
    value_events(v, String::new(), String::new(), &mut sink);
    sink.push(Event::new(EvKind::DocEnd));
    sink.push(Event::new(EvKind::StreamEnd));
    sink.finish()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    StreamStart,
    FirstDocStart,
    DocStart,
    DocContent,
    DocEnd,
    FlowSeqFirst,
    FlowSeqItem,
    FlowSeqTrail,
    FlowMapFirst,
    FlowMapKey,
    FlowMapTrail,
    FlowMapSimpleValue,
    FlowMapValue,
    BlockSeqFirst,
    BlockSeqItem,
    BlockMapFirst,
    BlockMapKey,
    BlockMapSimpleValue,
    BlockMapValue,
    End,
}

struct Emitter {
    out: Vec<u8>,
    best_indent: i64,
    state: State,
    states: Vec<State>,
    indent: i64,
    indents: Vec<i64>,
    flow_level: usize,
    root_context: bool,
    simple_key_context: bool,
    column: i64,
    whitespace: bool,
    indention: bool,
    open_ended: bool,
    foot_indent: i64,
    head_comment: String,
    line_comment: String,
    foot_comment: String,
    tail_comment: String,
    key_line_comment: String,
    // Analysis of the current event.
    tag_handle: &'static str,
    tag_suffix: &'static str,
    scalar: ScalarAnalysis,
    scalar_style: Style,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::Comment;

    fn s(x: &str) -> Value {
        Value::Str(x.into())
    }

    fn emit(m: &Map) -> String {
        String::from_utf8(emit_documents(std::slice::from_ref(m), None, 4)).unwrap()
    }

    #[test]
    fn block_layout() {
        let mut inner = Map::new();
        inner.push("nested", Value::Int(1));
        inner.push("other", Value::Int(2));
        let mut m = Map::new();
        m.0.push(Item::Comment(Comment::new(" head")));
        m.push(
            "key2",
            Value::List(vec![
                Value::Comment(Comment::new(" item")),
                s("a"),
                Value::Map(inner),
            ]),
        );
        m.push("block", s("line1\nline2\n"));
        m.push("colon", s("a: b"));
        m.push("tagged", s("123"));
        m.push("y", Value::Float(1e6));
        m.push("e", Value::Map(Map::new()));
        assert_eq!(
            emit(&m),
            "# head\nkey2:\n    # item\n    - a\n    - nested: 1\n      other: 2\nblock: |\n    line1\n    line2\ncolon: 'a: b'\ntagged: \"123\"\n\"y\": 1e+06\ne: {}\n"
        );
    }

    #[test]
    fn texts_sops_would_lose_or_misquote() {
        let mut m = Map::new();
        // yaml.v3 escapes every character of a text that starts with U+FEFF.
        m.push("bom", s("\u{FEFF}bom"));
        m.push("inner", s("a\u{FEFF}b"));
        // A multi-line text that starts with a tab is double-quoted (sops
        // writes `null`; a `|` block would not read back).
        m.push("tab", s("\tindented\nsecond\n"));
        m.push("space", s(" \tx\ny"));
        assert_eq!(
            emit(&m),
            "bom: \"\\uFEFF\\x62\\x6F\\x6D\"\ninner: \"a\\uFEFFb\"\ntab: \"\\tindented\\nsecond\\n\"\nspace: |4-\n     \tx\n    y\n"
        );
    }

    #[test]
    fn indentation_indicator_is_the_real_distance_in_sequences() {
        // yaml.v3 writes `|4` here, which it cannot read back.
        let mut m = Map::new();
        m.push("k", Value::List(vec![s("  x\ny\n")]));
        m.push("m", s("  a\nb"));
        assert_eq!(
            emit(&m),
            "k:\n    - |2\n        x\n      y\nm: |4-\n      a\n    b\n"
        );
    }

    #[test]
    fn empty_document_and_multi() {
        let a = Map::new();
        let mut b = Map::new();
        b.push("k", Value::Null);
        let out = emit_documents(&[a, b], None, 4);
        assert_eq!(String::from_utf8(out).unwrap(), "{}\n---\nk: null\n");
    }

    /// sops 3.11.0 writes a clear-text negative zero `-0`, which reads back
    /// as the int 0 (its MAC check fails on its own file); the encrypted-file
    /// writer spells it `-0.0`; decrypted output stays `-0` as sops'.
    #[test]
    fn negative_zero_is_minus_zero_point_zero_only_in_encrypted_files() {
        let mut doc = Map::new();
        doc.push("k_unencrypted", Value::Float(-0.0));
        doc.push("z", Value::Float(0.0));
        let mut meta = Map::new();
        meta.push("version", Value::Str("3.11.0".into()));
        let enc = String::from_utf8(emit_documents(&[doc.clone()], Some(&meta), 4)).unwrap();
        assert!(enc.starts_with("k_unencrypted: -0.0\nz: 0\n"), "{enc}");
        let items = String::from_utf8(emit_items(&doc.0, Some(&meta), Target::EncryptedFile, 4, 0))
            .unwrap();
        assert_eq!(items, enc);
        let plain = String::from_utf8(emit_documents(&[doc], None, 4)).unwrap();
        assert_eq!(plain, "k_unencrypted: -0\nz: 0\n");
    }

    #[test]
    fn formatted_text_is_short_on_the_stack_and_long_on_the_heap() {
        let short = Text::formatted(|out| write!(out, "{}", i64::MIN));
        assert!(matches!(short, Text::Short(_)));
        assert_eq!(&*short, "-9223372036854775808");
        let long = Text::formatted(|out| write!(out, "{}", "x".repeat(40)));
        assert!(matches!(long, Text::Owned(_)));
        assert_eq!(&*long, "x".repeat(40));
        let float = float_text(-2.2250738585072014e-308);
        assert!(matches!(float, Text::Short(_)));
        assert_eq!(&*float, "-2.2250738585072014e-308");
    }

    #[test]
    fn single_values() {
        assert_eq!(emit_single_value(&Value::Float(2.5)), b"2.5\n");
        assert_eq!(
            emit_single_value(&Value::List(vec![s("appended")])),
            b"- appended\n"
        );
    }
}

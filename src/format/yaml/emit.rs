//! Writing: the tree is turned into the node layout sops builds (comments as
//! head/foot comments), then into events, which an emitter with the layout
//! rules of the Go YAML v3 library writes out (block style, configurable
//! indentation, no line wrapping).

use super::resolve::string_can_be_plain;
use crate::gofmt::write_g;
use crate::stack_text::StackText;

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

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct ScalarAnalysis {
    /// Only ASCII characters (a column per byte).
    ascii: bool,
    multiline: bool,
    flow_plain_allowed: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
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

fn is_break_char(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// yaml.v3 `is_printable` (note: characters outside the BMP are not).
fn is_printable(c: char) -> bool {
    let u = c as u32;
    u == 0x0A
        || (0x20..=0x7E).contains(&u)
        || (0xA0..=0xD7FF).contains(&u)
        || ((0xE000..=0xFFFF).contains(&u) && u != 0xFEFF && u != 0xFFFE && u != 0xFFFF)
}

/// yaml.v3 `yaml_emitter_analyze_scalar`: which styles can write `value`.
fn analyze_scalar(value: &str) -> ScalarAnalysis {
    match analyze_ascii(value.as_bytes()) {
        Some(analysis) => ScalarAnalysis {
            ascii: true,
            ..analysis
        },
        None => analyze_chars(value),
    }
}

/// Bytes that never change the analysis when they are not the first
/// character: printable ASCII that is no space, break, tab or indicator.
const PLAIN_SAFE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0x21;
    while c < 0x7F {
        t[c] = !matches!(
            c as u8,
            b',' | b'?' | b'[' | b']' | b'{' | b'}' | b':' | b'#'
        );
        c += 1;
    }
    t
};

/// Classes of bytes for [`analyze_word`]: bit 0 for printable ASCII other
/// than space, bit 1 for the flow indicators among them.
const WORD_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0x21;
    while c < 0x7F {
        t[c] = if matches!(c as u8, b',' | b'?' | b'[' | b']' | b'{' | b'}' | b':') {
            3
        } else {
            1
        };
        c += 1;
    }
    t
};

/// The analysis of a "word": printable ASCII without spaces that starts
/// with a letter or digit and does not end with `:` (keys, numbers,
/// `ENC[…]` values: nearly every scalar). Such a word has no block
/// indicator (`:` is always followed by a character that is not a space,
/// `#` never follows a space), no break or special character; a flow
/// indicator anywhere only rules out flow plain style. One branch-free
/// pass instead of the general loop, which stops at every indicator.
fn analyze_word(b: &[u8]) -> Option<ScalarAnalysis> {
    let (&first, &last) = (b.first()?, b.last()?);
    if !first.is_ascii_alphanumeric() || last == b':' {
        return None;
    }
    let (mut all, mut any) = (1u8, 0u8);
    for &c in b {
        let class = WORD_CLASS[c as usize];
        all &= class;
        any |= class;
    }
    (all & 1 == 1).then(|| {
        finish_analysis(Flags {
            flow_indicators: any & 2 != 0,
            ..Flags::default()
        })
    })
}

/// [`analyze_chars`] for ASCII text (a character is a byte): a tight loop
/// that skips runs of [`PLAIN_SAFE`] bytes. `None` at the first byte that
/// is not ASCII.
fn analyze_ascii(b: &[u8]) -> Option<ScalarAnalysis> {
    if b.is_empty() {
        return Some(analyze_chars(""));
    }
    if let Some(analysis) = analyze_word(b) {
        return Some(analysis);
    }
    let n = b.len();
    let mut block_indicators = false;
    let mut flow_indicators = false;
    let mut line_breaks = false;
    let mut special_characters = false;
    let mut tab_characters = false;
    let mut leading_space = false;
    let mut leading_break = false;
    let mut trailing_space = false;
    let mut trailing_break = false;
    let mut break_space = false;
    let mut space_break = false;
    let mut previous_space = false;
    let mut previous_break = false;
    if b.starts_with(b"---") || b.starts_with(b"...") {
        block_indicators = true;
        flow_indicators = true;
    }
    let mut preceded_by_whitespace = true;
    let mut i = 0usize;
    while i < n {
        if i > 0 && PLAIN_SAFE[b[i] as usize] {
            i += 1;
            let safe = |i: usize| PLAIN_SAFE[b[i] as usize];
            while i + 4 <= n && safe(i) & safe(i + 1) & safe(i + 2) & safe(i + 3) {
                i += 4;
            }
            while i < n && safe(i) {
                i += 1;
            }
            previous_space = false;
            previous_break = false;
            preceded_by_whitespace = false;
            continue;
        }
        let c = b[i];
        if !c.is_ascii() {
            return None;
        }
        let is_last = i + 1 == n;
        let followed_by_whitespace = is_last || matches!(b[i + 1], b' ' | b'\t');
        if i == 0 {
            match c {
                b'#' | b',' | b'[' | b']' | b'{' | b'}' | b'&' | b'*' | b'!' | b'|' | b'>'
                | b'\'' | b'"' | b'%' | b'@' | b'`' => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                b'?' | b':' => {
                    flow_indicators = true;
                    if followed_by_whitespace {
                        block_indicators = true;
                    }
                }
                b'-' if followed_by_whitespace => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        } else {
            match c {
                b',' | b'?' | b'[' | b']' | b'{' | b'}' => flow_indicators = true,
                b':' => {
                    flow_indicators = true;
                    if followed_by_whitespace {
                        block_indicators = true;
                    }
                }
                b'#' if preceded_by_whitespace => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        }
        let is_break = c == b'\r' || c == b'\n';
        if c == b'\t' {
            tab_characters = true;
        } else if !(c == b'\n' || (0x20..=0x7E).contains(&c)) {
            special_characters = true;
        }
        if c == b' ' {
            if i == 0 {
                leading_space = true;
            }
            if is_last {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break {
            line_breaks = true;
            if i == 0 {
                leading_break = true;
            }
            if is_last {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = matches!(c, b' ' | b'\t' | 0) || is_break;
        i += 1;
    }
    Some(finish_analysis(Flags {
        block_indicators,
        flow_indicators,
        line_breaks,
        special_characters,
        tab_characters,
        leading_space,
        leading_break,
        trailing_space,
        trailing_break,
        break_space,
        space_break,
    }))
}

/// What the character scan of a scalar found.
#[derive(Default)]
struct Flags {
    block_indicators: bool,
    flow_indicators: bool,
    line_breaks: bool,
    special_characters: bool,
    tab_characters: bool,
    leading_space: bool,
    leading_break: bool,
    trailing_space: bool,
    trailing_break: bool,
    break_space: bool,
    space_break: bool,
}

/// The styles allowed by the flags of a (non-empty) scalar.
fn finish_analysis(f: Flags) -> ScalarAnalysis {
    let mut a = ScalarAnalysis {
        ascii: false,
        multiline: f.line_breaks,
        flow_plain_allowed: true,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if f.leading_space || f.leading_break || f.trailing_space || f.trailing_break {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
    }
    if f.trailing_space {
        a.block_allowed = false;
    }
    if f.break_space {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if f.space_break || f.tab_characters || f.special_characters {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if f.space_break || f.special_characters {
        a.block_allowed = false;
    }
    if f.line_breaks {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
    }
    if f.flow_indicators {
        a.flow_plain_allowed = false;
    }
    if f.block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

/// The character-by-character analysis (any text).
fn analyze_chars(value: &str) -> ScalarAnalysis {
    if value.is_empty() {
        return ScalarAnalysis {
            ascii: false,
            multiline: false,
            flow_plain_allowed: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let mut block_indicators = false;
    let mut flow_indicators = false;
    let mut line_breaks = false;
    let mut special_characters = false;
    let mut tab_characters = false;
    let mut leading_space = false;
    let mut leading_break = false;
    let mut trailing_space = false;
    let mut trailing_break = false;
    let mut break_space = false;
    let mut space_break = false;
    let mut previous_space = false;
    let mut previous_break = false;
    if value.starts_with("---") || value.starts_with("...") {
        block_indicators = true;
        flow_indicators = true;
    }
    let mut preceded_by_whitespace = true;
    let mut iter = value.chars().peekable();
    let mut i = 0usize;
    while let Some(c) = iter.next() {
        let next = iter.peek().copied();
        let is_last = next.is_none();
        let followed_by_whitespace = matches!(next, None | Some(' ' | '\t'));
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                '?' | ':' => {
                    flow_indicators = true;
                    if followed_by_whitespace {
                        block_indicators = true;
                    }
                }
                '-' if followed_by_whitespace => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        } else {
            match c {
                ',' | '?' | '[' | ']' | '{' | '}' => flow_indicators = true,
                ':' => {
                    flow_indicators = true;
                    if followed_by_whitespace {
                        block_indicators = true;
                    }
                }
                '#' if preceded_by_whitespace => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        }
        if c == '\t' {
            tab_characters = true;
        } else if !is_printable(c) {
            special_characters = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if is_last {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break_char(c) {
            line_breaks = true;
            if i == 0 {
                leading_break = true;
            }
            if is_last {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = matches!(c, ' ' | '\t' | '\0') || is_break_char(c);
        i += 1;
    }
    let mut a = ScalarAnalysis {
        ascii: false,
        multiline: line_breaks,
        flow_plain_allowed: true,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || tab_characters || special_characters {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special_characters {
        a.block_allowed = false;
    }
    if line_breaks {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
    }
    if flow_indicators {
        a.flow_plain_allowed = false;
    }
    if block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

impl Emitter {
    fn new(indent: usize) -> Emitter {
        let best_indent = if (2..=9).contains(&indent) {
            indent as i64
        } else {
            2
        };
        Emitter {
            out: Vec::new(),
            best_indent,
            state: State::StreamStart,
            states: Vec::new(),
            indent: -1,
            indents: Vec::new(),
            flow_level: 0,
            root_context: false,
            simple_key_context: false,
            column: 0,
            whitespace: true,
            indention: true,
            open_ended: false,
            foot_indent: -1,
            head_comment: String::new(),
            line_comment: String::new(),
            foot_comment: String::new(),
            tail_comment: String::new(),
            key_line_comment: String::new(),
            tag_handle: "",
            tag_suffix: "",
            scalar: ScalarAnalysis::default(),
            scalar_style: Style::Plain,
        }
    }

    // ----- low-level writing -----

    fn put(&mut self, b: u8) {
        self.out.push(b);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push(b'\n');
        self.column = 0;
        self.indention = true;
    }

    fn write_char(&mut self, c: char) {
        let mut buf = [0u8; 4];
        self.out
            .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        self.column += 1;
    }

    fn write_str(&mut self, s: &str) {
        // Columns count characters, not bytes.
        self.out.extend_from_slice(s.as_bytes());
        self.column += if s.is_ascii() {
            s.len()
        } else {
            s.chars().count()
        } as i64;
    }

    fn write_break_char(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.write_char(c);
            self.column = 0;
            self.indention = true;
        }
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        if self.foot_indent == indent {
            self.put_break();
        }
        if self.column < indent {
            let n = (indent - self.column) as usize;
            self.out.resize(self.out.len() + n, b' ');
            self.column = indent;
        }
        self.whitespace = true;
        self.foot_indent = -1;
    }

    fn write_indicator(&mut self, ind: &str, need_ws: bool, is_ws: bool, is_indention: bool) {
        if need_ws && !self.whitespace {
            self.put(b' ');
        }
        self.write_str(ind);
        self.whitespace = is_ws;
        self.indention = self.indention && is_indention;
        self.open_ended = false;
    }

    fn write_comment(&mut self, comment: &str) {
        let mut breaks = false;
        let mut pound = false;
        for c in comment.chars() {
            if is_break_char(c) {
                self.write_break_char(c);
                breaks = true;
                pound = false;
            } else {
                if breaks {
                    self.write_indent();
                }
                if !pound {
                    if c != '#' {
                        self.put(b'#');
                        self.put(b' ');
                    }
                    pound = true;
                }
                self.write_char(c);
                self.indention = false;
                breaks = false;
            }
        }
        if !breaks {
            self.put_break();
        }
        self.whitespace = true;
    }

    // ----- comments -----

    fn process_head_comment(&mut self) {
        if !self.tail_comment.is_empty() {
            self.write_indent();
            let c = std::mem::take(&mut self.tail_comment);
            self.write_comment(&c);
            self.foot_indent = self.indent.max(0);
        }
        if self.head_comment.is_empty() {
            return;
        }
        self.write_indent();
        let c = std::mem::take(&mut self.head_comment);
        self.write_comment(&c);
    }

    fn process_line_comment(&mut self) {
        if self.line_comment.is_empty() {
            return;
        }
        if !self.whitespace {
            self.put(b' ');
        }
        let c = std::mem::take(&mut self.line_comment);
        self.write_comment(&c);
    }

    fn process_foot_comment(&mut self) {
        if self.foot_comment.is_empty() {
            return;
        }
        self.write_indent();
        let c = std::mem::take(&mut self.foot_comment);
        self.write_comment(&c);
        self.foot_indent = self.indent.max(0);
    }

    // ----- state machine -----

    fn analyze_event(&mut self, ev: &mut Event) {
        self.tag_handle = "";
        self.tag_suffix = "";
        if let Some(c) = ev.comments.take() {
            let c = *c;
            if !c.head.is_empty() {
                self.head_comment = c.head;
            }
            if !c.foot.is_empty() {
                self.foot_comment = c.foot;
            }
            if !c.tail.is_empty() {
                self.tail_comment = c.tail;
            }
        }
        if ev.kind == EvKind::Scalar {
            if let Some(tag) = ev.tag {
                self.tag_handle = "!!";
                self.tag_suffix = tag;
            }
            self.scalar = ev.analysis.unwrap_or_else(|| analyze_scalar(&ev.value));
        }
    }

    fn pop_state(&mut self) {
        self.state = self.states.pop().unwrap_or(State::End);
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { self.best_indent } else { 0 };
        } else if !indentless {
            if self.states.last() == Some(&State::BlockSeqItem) {
                self.indent += 2;
            } else {
                self.indent =
                    self.best_indent * ((self.indent + self.best_indent) / self.best_indent);
            }
        }
    }

    fn state_machine(&mut self, events: &[Event], i: usize) {
        let ev = &events[i];
        match self.state {
            State::StreamStart => {
                self.indent = -1;
                self.column = 0;
                self.whitespace = true;
                self.indention = true;
                self.foot_indent = -1;
                self.state = State::FirstDocStart;
            }
            State::FirstDocStart => self.emit_document_start(ev, true),
            State::DocStart => self.emit_document_start(ev, false),
            State::DocContent => {
                self.states.push(State::DocEnd);
                self.process_head_comment();
                self.emit_node(events, i, true, false, false, false);
                self.process_line_comment();
                self.process_foot_comment();
            }
            State::DocEnd => {
                self.foot_indent = 0;
                self.process_foot_comment();
                self.foot_indent = -1;
                self.write_indent();
                self.state = State::DocStart;
            }
            State::FlowSeqFirst => self.emit_flow_sequence_item(events, i, true, false),
            State::FlowSeqItem => self.emit_flow_sequence_item(events, i, false, false),
            State::FlowSeqTrail => self.emit_flow_sequence_item(events, i, false, true),
            State::FlowMapFirst => self.emit_flow_mapping_key(events, i, true, false),
            State::FlowMapKey => self.emit_flow_mapping_key(events, i, false, false),
            State::FlowMapTrail => self.emit_flow_mapping_key(events, i, false, true),
            State::FlowMapSimpleValue => self.emit_flow_mapping_value(events, i, true),
            State::FlowMapValue => self.emit_flow_mapping_value(events, i, false),
            State::BlockSeqFirst => self.emit_block_sequence_item(events, i, true),
            State::BlockSeqItem => self.emit_block_sequence_item(events, i, false),
            State::BlockMapFirst => self.emit_block_mapping_key(events, i, true),
            State::BlockMapKey => self.emit_block_mapping_key(events, i, false),
            State::BlockMapSimpleValue => self.emit_block_mapping_value(events, i, true),
            State::BlockMapValue => self.emit_block_mapping_value(events, i, false),
            State::End => {}
        }
    }

    fn emit_document_start(&mut self, ev: &Event, first: bool) {
        match ev.kind {
            EvKind::DocStart => {
                if !first {
                    self.write_indent();
                    self.write_indicator("---", true, false, false);
                    self.write_indent();
                }
                if !self.head_comment.is_empty() {
                    self.process_head_comment();
                    self.put_break();
                }
                self.state = State::DocContent;
            }
            _ => {
                self.state = State::End;
            }
        }
    }

    fn check_empty(&self, events: &[Event], i: usize, start: EvKind, end: EvKind) -> bool {
        events[i].kind == start && events.get(i + 1).is_some_and(|e| e.kind == end)
    }

    fn check_simple_key(&self, events: &[Event], i: usize) -> bool {
        let ev = &events[i];
        match ev.kind {
            EvKind::Scalar => {
                if self.scalar.multiline {
                    return false;
                }
                let len = self.tag_handle.len() + self.tag_suffix.len() + ev.value.len();
                len <= 128
            }
            EvKind::SeqStart => self.check_empty(events, i, EvKind::SeqStart, EvKind::SeqEnd),
            EvKind::MapStart => self.check_empty(events, i, EvKind::MapStart, EvKind::MapEnd),
            _ => false,
        }
    }

    fn emit_node(
        &mut self,
        events: &[Event],
        i: usize,
        root: bool,
        _seq: bool,
        _map: bool,
        simple_key: bool,
    ) {
        self.root_context = root;
        self.simple_key_context = simple_key;
        let ev = &events[i];
        match ev.kind {
            EvKind::Scalar => self.emit_scalar(ev),
            EvKind::SeqStart => {
                if self.flow_level > 0
                    || self.check_empty(events, i, EvKind::SeqStart, EvKind::SeqEnd)
                {
                    self.state = State::FlowSeqFirst;
                } else {
                    self.state = State::BlockSeqFirst;
                }
            }
            EvKind::MapStart => {
                if self.flow_level > 0
                    || self.check_empty(events, i, EvKind::MapStart, EvKind::MapEnd)
                {
                    self.state = State::FlowMapFirst;
                } else {
                    self.state = State::BlockMapFirst;
                }
            }
            _ => {}
        }
    }

    fn emit_flow_sequence_item(&mut self, events: &[Event], i: usize, first: bool, trail: bool) {
        if first {
            self.write_indicator("[", true, true, false);
            self.increase_indent(true, false);
            self.flow_level += 1;
        }
        if events[i].kind == EvKind::SeqEnd {
            self.flow_level -= 1;
            self.pop_indent();
            if self.column == 0 {
                self.write_indent();
            }
            self.write_indicator("]", false, false, false);
            self.process_line_comment();
            self.process_foot_comment();
            self.pop_state();
            return;
        }
        if !first && !trail {
            self.write_indicator(",", false, false, false);
        }
        self.process_head_comment();
        if self.column == 0 {
            self.write_indent();
        }
        if !self.line_comment.is_empty()
            || !self.foot_comment.is_empty()
            || !self.tail_comment.is_empty()
        {
            self.states.push(State::FlowSeqTrail);
        } else {
            self.states.push(State::FlowSeqItem);
        }
        self.emit_node(events, i, false, true, false, false);
        if !self.line_comment.is_empty()
            || !self.foot_comment.is_empty()
            || !self.tail_comment.is_empty()
        {
            self.write_indicator(",", false, false, false);
        }
        self.process_line_comment();
        self.process_foot_comment();
    }

    fn emit_flow_mapping_key(&mut self, events: &[Event], i: usize, first: bool, trail: bool) {
        if first {
            self.write_indicator("{", true, true, false);
            self.increase_indent(true, false);
            self.flow_level += 1;
        }
        if events[i].kind == EvKind::MapEnd {
            if (!self.head_comment.is_empty()
                || !self.foot_comment.is_empty()
                || !self.tail_comment.is_empty())
                && !first
                && !trail
            {
                self.write_indicator(",", false, false, false);
            }
            self.process_head_comment();
            self.flow_level -= 1;
            self.pop_indent();
            self.write_indicator("}", false, false, false);
            self.process_line_comment();
            self.process_foot_comment();
            self.pop_state();
            return;
        }
        if !first && !trail {
            self.write_indicator(",", false, false, false);
        }
        self.process_head_comment();
        if self.column == 0 {
            self.write_indent();
        }
        if self.check_simple_key(events, i) {
            self.states.push(State::FlowMapSimpleValue);
            self.emit_node(events, i, false, false, true, true);
            return;
        }
        self.write_indicator("?", true, false, false);
        self.states.push(State::FlowMapValue);
        self.emit_node(events, i, false, false, true, false);
    }

    fn emit_flow_mapping_value(&mut self, events: &[Event], i: usize, simple: bool) {
        if simple {
            self.write_indicator(":", false, false, false);
        } else {
            self.write_indicator(":", true, false, false);
        }
        if !self.line_comment.is_empty()
            || !self.foot_comment.is_empty()
            || !self.tail_comment.is_empty()
        {
            self.states.push(State::FlowMapTrail);
        } else {
            self.states.push(State::FlowMapKey);
        }
        self.emit_node(events, i, false, false, true, false);
        if !self.line_comment.is_empty()
            || !self.foot_comment.is_empty()
            || !self.tail_comment.is_empty()
        {
            self.write_indicator(",", false, false, false);
        }
        self.process_line_comment();
        self.process_foot_comment();
    }

    fn emit_block_sequence_item(&mut self, events: &[Event], i: usize, first: bool) {
        if first {
            self.increase_indent(false, false);
        }
        if events[i].kind == EvKind::SeqEnd {
            self.pop_indent();
            self.pop_state();
            return;
        }
        self.process_head_comment();
        self.write_indent();
        self.write_indicator("-", true, false, true);
        self.states.push(State::BlockSeqItem);
        self.emit_node(events, i, false, true, false, false);
        self.process_line_comment();
        self.process_foot_comment();
    }

    fn emit_block_mapping_key(&mut self, events: &[Event], i: usize, first: bool) {
        if first {
            self.increase_indent(false, false);
        }
        self.process_head_comment();
        if events[i].kind == EvKind::MapEnd {
            self.pop_indent();
            self.pop_state();
            return;
        }
        self.write_indent();
        if !self.line_comment.is_empty() {
            self.key_line_comment = std::mem::take(&mut self.line_comment);
        }
        if self.check_simple_key(events, i) {
            self.states.push(State::BlockMapSimpleValue);
            self.emit_node(events, i, false, false, true, true);
            return;
        }
        self.write_indicator("?", true, false, true);
        self.states.push(State::BlockMapValue);
        self.emit_node(events, i, false, false, true, false);
    }

    fn emit_block_mapping_value(&mut self, events: &[Event], i: usize, simple: bool) {
        if simple {
            self.write_indicator(":", false, false, false);
        } else {
            self.write_indent();
            self.write_indicator(":", true, false, true);
        }
        if !self.key_line_comment.is_empty() {
            let kind = events[i].kind;
            if kind == EvKind::Scalar {
                if self.line_comment.is_empty() {
                    self.line_comment = std::mem::take(&mut self.key_line_comment);
                }
            } else if kind == EvKind::MapStart || kind == EvKind::SeqStart {
                std::mem::swap(&mut self.line_comment, &mut self.key_line_comment);
                self.process_line_comment();
                std::mem::swap(&mut self.line_comment, &mut self.key_line_comment);
            }
        }
        self.states.push(State::BlockMapKey);
        self.emit_node(events, i, false, false, true, false);
        self.process_line_comment();
        self.process_foot_comment();
    }

    fn emit_scalar(&mut self, ev: &Event) {
        self.select_scalar_style(ev);
        // Tag.
        if !self.tag_handle.is_empty() || !self.tag_suffix.is_empty() {
            if !self.whitespace {
                self.put(b' ');
            }
            let h = self.tag_handle;
            let s = self.tag_suffix;
            self.write_str(h);
            self.write_str(s);
            self.whitespace = false;
            self.indention = false;
        }
        self.increase_indent(true, false);
        let allow_breaks = !self.simple_key_context;
        match self.scalar_style {
            Style::Plain => self.write_plain(&ev.value),
            Style::Single => self.write_single_quoted(&ev.value, allow_breaks),
            Style::Double => self.write_double_quoted(&ev.value),
            Style::Literal => self.write_literal(&ev.value),
        }
        self.pop_indent();
        self.pop_state();
    }

    fn select_scalar_style(&mut self, ev: &Event) {
        let no_tag = self.tag_handle.is_empty() && self.tag_suffix.is_empty();
        let mut style = ev.style;
        if self.simple_key_context && self.scalar.multiline {
            style = Style::Double;
        }
        if style == Style::Plain {
            if (self.flow_level > 0 && !self.scalar.flow_plain_allowed)
                || (self.flow_level == 0 && !self.scalar.block_plain_allowed)
            {
                style = Style::Single;
            }
            if ev.value.is_empty() && (self.flow_level > 0 || self.simple_key_context) {
                style = Style::Single;
            }
        }
        if style == Style::Single && !self.scalar.single_quoted_allowed {
            style = Style::Double;
        }
        if style == Style::Literal
            && (!self.scalar.block_allowed || self.flow_level > 0 || self.simple_key_context)
        {
            style = Style::Double;
        }
        // A multi-line text that starts with a tab: a `|` block would need
        // an indentation indicator to read back (yaml.v3: "found a tab
        // character where an indentation space is expected"), and sops
        // writes `null` instead, losing the value (in decrypted output and
        // in clear-text values of encrypted files). enseal double-quotes it:
        // both tools read that back to the same text. A deliberate
        // difference from sops.
        if style == Style::Literal && ev.value.starts_with('\t') {
            style = Style::Double;
        }
        // Tagged scalars are written with their tag (not implicit): a
        // non-plain style then needs no extra `!`.
        let _ = no_tag;
        self.scalar_style = style;
    }

    fn write_plain(&mut self, value: &str) {
        if !value.is_empty() && !self.whitespace {
            self.put(b' ');
        }
        // Plain scalars never contain line breaks here (they are not
        // allowed plain) and the width is unlimited.
        self.out.extend_from_slice(value.as_bytes());
        self.column += if self.scalar.ascii {
            value.len()
        } else {
            value.chars().count()
        } as i64;
        if !value.is_empty() {
            self.whitespace = false;
        }
        self.indention = false;
        if self.root_context {
            self.open_ended = true;
        }
    }

    fn write_single_quoted(&mut self, value: &str, _allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        let mut breaks = false;
        for c in value.chars() {
            if c == ' ' {
                self.write_char(c);
            } else if is_break_char(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break_char(c);
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if c == '\'' {
                    self.put(b'\'');
                }
                self.write_char(c);
                self.indention = false;
                breaks = false;
            }
        }
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double_quoted(&mut self, value: &str) {
        self.write_indicator("\"", true, false, false);
        // yaml.v3's BOM test looks at the start of the value, not at the
        // current character: a value that starts with U+FEFF has every
        // character escaped (`"\uFEFF\x62\x6F\x6D"` for U+FEFF + `bom`).
        let escape_all = value.starts_with('\u{FEFF}');
        for c in value.chars() {
            let u = c as u32;
            if escape_all
                || !is_printable(c)
                || u == 0xFEFF
                || is_break_char(c)
                || c == '"'
                || c == '\\'
            {
                self.put(b'\\');
                let esc: Option<u8> = match u {
                    0x00 => Some(b'0'),
                    0x07 => Some(b'a'),
                    0x08 => Some(b'b'),
                    0x09 => Some(b't'),
                    0x0A => Some(b'n'),
                    0x0B => Some(b'v'),
                    0x0C => Some(b'f'),
                    0x0D => Some(b'r'),
                    0x1B => Some(b'e'),
                    0x22 => Some(b'"'),
                    0x5C => Some(b'\\'),
                    0x85 => Some(b'N'),
                    0xA0 => Some(b'_'),
                    0x2028 => Some(b'L'),
                    0x2029 => Some(b'P'),
                    _ => None,
                };
                match esc {
                    Some(e) => self.put(e),
                    None => {
                        let (prefix, width) = if u <= 0xFF {
                            (b'x', 2)
                        } else if u <= 0xFFFF {
                            (b'u', 4)
                        } else {
                            (b'U', 8)
                        };
                        self.put(prefix);
                        let hex = format!("{u:0width$X}");
                        for b in hex.bytes() {
                            self.put(b);
                        }
                    }
                }
            } else {
                self.write_char(c);
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_block_scalar_hints(&mut self, value: &str) {
        let first = value.chars().next();
        if first.is_some_and(|c| c == ' ' || is_break_char(c)) {
            // The indicator is the content's indentation relative to the
            // enclosing block. yaml.v3 writes the preferred indent (4 with
            // sops) even in a sequence item, whose content sits 2 columns
            // right of its `-`, so sops cannot read that file back (`did
            // not find expected '-' indicator`). enseal writes the real
            // distance: a deliberate difference that both tools read.
            let parent = self.indents.last().copied().unwrap_or(-1).max(0);
            let distance = self.indent - parent;
            let hint_value = if (1..=9).contains(&distance) {
                distance
            } else {
                self.best_indent
            };
            let hint = char::from(b'0' + hint_value as u8).to_string();
            self.write_indicator(&hint, false, false, false);
        }
        self.open_ended = false;
        let mut rev = value.chars().rev();
        let chomp = match rev.next() {
            None => Some("-"),
            Some(last) if !is_break_char(last) => Some("-"),
            Some(_) => match rev.next() {
                None => {
                    self.open_ended = true;
                    Some("+")
                }
                Some(prev) if is_break_char(prev) => {
                    self.open_ended = true;
                    Some("+")
                }
                Some(_) => None,
            },
        };
        if let Some(h) = chomp {
            self.write_indicator(h, false, false, false);
        }
    }

    fn write_literal(&mut self, value: &str) {
        self.write_indicator("|", true, false, false);
        self.write_block_scalar_hints(value);
        self.process_line_comment();
        // A leading line break needs its own line after the header (as the
        // yaml.v3 release sops uses writes it).
        if value.chars().next().is_some_and(is_break_char) {
            self.put_break();
        }
        self.whitespace = true;
        let mut breaks = true;
        for c in value.chars() {
            if is_break_char(c) {
                self.write_break_char(c);
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.write_char(c);
                self.indention = false;
                breaks = false;
            }
        }
    }
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
    fn ascii_analysis_matches_char_analysis() {
        let alphabet: &[u8] = b" \t\r\n\0\x01\x7f-.:?#,[]{}&*!|>'\"%@`aZ09_=/+";
        let check = |v: &[u8]| {
            let s = std::str::from_utf8(v).unwrap();
            assert_eq!(analyze_ascii(v), Some(analyze_chars(s)), "{s:?}");
            assert!(analyze_scalar(s).ascii);
        };
        check(b"");
        assert_eq!(analyze_ascii("ab\u{e9}c".as_bytes()), None);
        assert!(!analyze_scalar("ab\u{e9}c").ascii);
        // Every string of up to four characters of the alphabet.
        let mut buf = Vec::new();
        fn rec(buf: &mut Vec<u8>, alphabet: &[u8], depth: usize, check: &dyn Fn(&[u8])) {
            check(buf);
            if depth == 0 {
                return;
            }
            for &c in alphabet {
                buf.push(c);
                rec(buf, alphabet, depth - 1, check);
                buf.pop();
            }
        }
        rec(&mut buf, alphabet, 4, &check);
        // Longer pseudo-random strings, mostly plain-safe.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let len = (x % 40) as usize;
            let v: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    if x % 3 == 0 {
                        alphabet[(x >> 8) as usize % alphabet.len()]
                    } else {
                        b'A' + (x >> 8) as u8 % 26
                    }
                })
                .collect();
            check(&v);
        }
        check(b"ENC[AES256_GCM,data:8yzh/A==,iv:Kq+9=,tag:a/b==,type:str]");
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

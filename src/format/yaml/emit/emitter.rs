//! The emitter: yaml.v3's writer state machine (`yaml_emitter_*`), fed one
//! event at a time by [`super::Sink`] with one event of lookahead.

use super::analysis::{analyze_scalar, is_break_char, is_printable, ScalarAnalysis};
use super::{Emitter, EvKind, Event, State, Style};

impl Emitter {
    pub(super) fn new(indent: usize) -> Emitter {
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

    pub(super) fn analyze_event(&mut self, ev: &mut Event) {
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

    pub(super) fn state_machine(&mut self, events: &[Event], i: usize) {
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
                self.process_line_and_foot_comments();
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
            self.open_flow("[");
        }
        if events[i].kind == EvKind::SeqEnd {
            self.flow_level -= 1;
            self.pop_indent();
            if self.column == 0 {
                self.write_indent();
            }
            self.close_flow("]");
            return;
        }
        self.start_flow_entry(first, trail);
        self.emit_flow_entry(events, i, State::FlowSeqItem, State::FlowSeqTrail);
    }

    /// Opens a flow collection: its `[` or `{`, one more indentation and
    /// flow level.
    fn open_flow(&mut self, indicator: &str) {
        self.write_indicator(indicator, true, true, false);
        self.increase_indent(true, false);
        self.flow_level += 1;
    }

    /// Closes a flow collection (its flow level and indentation already
    /// dropped): its `]` or `}`, the comments after it, and back to the
    /// state that holds it.
    fn close_flow(&mut self, indicator: &str) {
        self.write_indicator(indicator, false, false, false);
        self.process_line_and_foot_comments();
        self.pop_state();
    }

    /// Starts an entry of a flow collection: the `,` after the entry before
    /// (unless a trail state wrote it already), the entry's head comment,
    /// and the indentation when at the start of a line.
    fn start_flow_entry(&mut self, first: bool, trail: bool) {
        if !first && !trail {
            self.write_indicator(",", false, false, false);
        }
        self.process_head_comment();
        if self.column == 0 {
            self.write_indent();
        }
    }

    /// Emits the node of a flow entry (a sequence item or a mapping value),
    /// then the state `next`; with comments waiting after it, the `,` is
    /// written before them and the state is `trail` instead (which then
    /// writes no second `,`).
    fn emit_flow_entry(&mut self, events: &[Event], i: usize, next: State, trail: State) {
        if self.comments_pending() {
            self.states.push(trail);
        } else {
            self.states.push(next);
        }
        let seq = next == State::FlowSeqItem;
        self.emit_node(events, i, false, seq, !seq, false);
        if self.comments_pending() {
            self.write_indicator(",", false, false, false);
        }
        self.process_line_and_foot_comments();
    }

    /// The line comment, then the foot comment, of what was just written.
    fn process_line_and_foot_comments(&mut self) {
        self.process_line_comment();
        self.process_foot_comment();
    }

    /// A line, foot or tail comment is waiting to be written (a flow
    /// collection then gets a trailing `,` and the trail state).
    fn comments_pending(&self) -> bool {
        !self.line_comment.is_empty()
            || !self.foot_comment.is_empty()
            || !self.tail_comment.is_empty()
    }

    fn emit_flow_mapping_key(&mut self, events: &[Event], i: usize, first: bool, trail: bool) {
        if first {
            self.open_flow("{");
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
            self.close_flow("}");
            return;
        }
        self.start_flow_entry(first, trail);
        self.emit_mapping_key(
            events,
            i,
            State::FlowMapSimpleValue,
            State::FlowMapValue,
            false,
        );
    }

    /// Emits a mapping key: as a simple key (`key:`) where it can be one,
    /// then the state `simple`; else as a complex key (`? key`), then the
    /// state `complex`. `block`: the `?` may stand as indentation.
    fn emit_mapping_key(
        &mut self,
        events: &[Event],
        i: usize,
        simple: State,
        complex: State,
        block: bool,
    ) {
        if self.check_simple_key(events, i) {
            self.states.push(simple);
            self.emit_node(events, i, false, false, true, true);
            return;
        }
        self.write_indicator("?", true, false, block);
        self.states.push(complex);
        self.emit_node(events, i, false, false, true, false);
    }

    fn emit_flow_mapping_value(&mut self, events: &[Event], i: usize, simple: bool) {
        if simple {
            self.write_indicator(":", false, false, false);
        } else {
            self.write_indicator(":", true, false, false);
        }
        self.emit_flow_entry(events, i, State::FlowMapKey, State::FlowMapTrail);
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
        self.process_line_and_foot_comments();
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
        self.emit_mapping_key(
            events,
            i,
            State::BlockMapSimpleValue,
            State::BlockMapValue,
            true,
        );
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
        self.process_line_and_foot_comments();
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
            // distance: a deliberate difference that both tools read. A
            // text of line breaks only has no line the indicator places:
            // yaml.v3's indicator reads back, and is written as it is.
            let parent = self.indents.last().copied().unwrap_or(-1).max(0);
            let distance = self.indent - parent;
            let only_breaks = value.chars().all(is_break_char);
            let hint_value = if !only_breaks && (1..=9).contains(&distance) {
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

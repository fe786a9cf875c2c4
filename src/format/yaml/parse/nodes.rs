//! Nodes of the [`Builder`]: collections, scalars and aliases turned into
//! tree values, with the yaml.v3 checks granit-parser does not make.

use granit_parser::{Event, ScalarStyle, Span};

use super::limits::{
    duplicate_key_errors, go_type, scalar_kind, value_bytes, value_depth, MAX_TREE_DEPTH,
};
use super::line_separators::{self, BlockHeader, StandIn};
use super::tab_rules::ScalarAt;
use super::v3_rules;
use super::{
    err_at, go_quote, scalar_tag, unwalkable_at, Anchored, Builder, DupError, Frame, Last,
    PendingKey,
};
use crate::format::yaml::resolve::{resolve_scalar, OnDecodeError, ScalarTag, UINT64_UNWALKABLE};
use crate::format::FormatError;
use crate::tree::{Comment, Item, Map, Value};

impl Builder<'_> {
    pub(super) fn handle_node(
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
                self.marker_line = self.at_document_marker(span).then_some(start.0);
                self.next_at = span.start.byte_offset();
                self.resolve_own(next, false);
                self.next_at = None;
                self.marker_line = None;
                let Some(mut frame) = self.stack.pop() else {
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
                // Comments that follow the sequence's next item.
                let after_next = if frame.is_map {
                    std::mem::take(&mut frame.after_next)
                } else {
                    Vec::new()
                };
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
                    list.extend(frame.after_next.into_iter().map(Value::Comment));
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
                    if let Some(parent) = self.stack.last_mut().filter(|f| !f.is_map) {
                        parent.after_next.extend(after_next);
                    }
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
                // A collection item takes the comments that follow it after
                // its own first entry (yaml.v3's foot of that entry).
                if let Some(parent) = self.stack.last_mut().filter(|f| !f.is_map) {
                    frame.deferred = std::mem::take(&mut parent.after_next);
                }
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
                if let (Some(scalars), Some(start), Some(end)) = (
                    self.tab_scalars.as_mut(),
                    span.start.byte_offset(),
                    span.end.byte_offset(),
                ) {
                    if end > start {
                        let block_indent =
                            self.stack.iter().rev().find(|f| !f.flow).map(|f| f.indent);
                        scalars.push(ScalarAt {
                            start,
                            end,
                            style: *style,
                            block_indent,
                        });
                    }
                }
                self.resolve_own(Some(self.token_pos(span)), true);
                let quoted = *style != ScalarStyle::Plain;
                let stag = scalar_tag(tag.as_deref());
                let separated = self.separated_scalar(*style, span);
                let raw: &str = match &separated {
                    Some(value) => value,
                    None => self.block_scalar_text(text, *style, span),
                };
                if *style == ScalarStyle::DoubleQuoted && self.has_slash_escape(span) {
                    return Err(err_at(span, "yaml: found unknown escape character"));
                }
                if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
                    self.check_block_tabs(span)?;
                }
                // granit reads a left-out node as `~` with an empty span.
                if *style == ScalarStyle::Plain
                    && span.start.byte_offset() == span.end.byte_offset()
                    && *anchor == 0
                    && tag.is_none()
                {
                    self.check_implicit_empty_key(span)?;
                }
                // sops decodes only a plaintext file's first document (and
                // an encrypted file's metadata) whole: see OnDecodeError.
                let on_error =
                    if (self.first_doc_checks && doc_index == 0) || self.at_metadata(doc_index) {
                        OnDecodeError::Refuse
                    } else {
                        OnDecodeError::Null
                    };
                let value = match resolve_scalar(raw, quoted, &stag, on_error) {
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
    pub(super) fn at_metadata(&self, doc_index: usize) -> bool {
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
    pub(super) fn charge_copy(&mut self, bytes: usize, span: &Span) -> Result<(), FormatError> {
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
    pub(super) fn block_scalar_text<'t>(
        &self,
        text: &'t str,
        style: ScalarStyle,
        span: &Span,
    ) -> &'t str {
        // The input's last line: only a content line there lacks its break
        // (a blank last line keeps the break of the line before it).
        // (A tab there is content: one left of the indentation is refused
        // before, by check_block_tabs.)
        let last_line = self.src.rsplit(['\n', '\r']).next().unwrap_or("");
        if !matches!(style, ScalarStyle::Literal | ScalarStyle::Folded)
            || last_line.trim_matches(' ').is_empty()
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

    /// The value of the scalar at `span` as yaml.v3 reads it when its text
    /// holds a raw LS or PS (see [`line_separators`]); `None` otherwise
    /// (granit-parser's value stands).
    pub(super) fn separated_scalar(&self, style: ScalarStyle, span: &Span) -> Option<String> {
        if self.separators.is_empty() {
            return None;
        }
        let start = span.start.byte_offset()?;
        let end = span.end.byte_offset()?;
        if !matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
            if !StandIn::holds(self.separators, start, end) {
                return None;
            }
            let text = StandIn::original(self.src, self.separators, start, end);
            return line_separators::flow_scalar(&text, style);
        }
        // granit's span starts at the header (after `key:`, `-` or `?` on
        // its line) or at the content (which may start with `|` itself).
        let line_start = self.src[..start].rfind(['\n', '\r']).map_or(0, |i| i + 1);
        let after_token = !self.src[line_start..start].trim_matches(' ').is_empty();
        let header_at = if after_token && self.src[start..].starts_with(['|', '>']) {
            start
        } else {
            v3_rules::block_header_before(self.src, start)?
        };
        let header = BlockHeader::parse(&self.src[header_at..])?;
        // The body: from the line after the header to the end of the
        // scalar's last line (and the blank lines after it).
        // Past the line break at or after byte `at` (bytes: `at` may fall
        // inside a character; a break byte never does).
        let bytes = self.src.as_bytes();
        let after = |at: usize| -> usize {
            match memchr::memchr2(b'\n', b'\r', &bytes[at.min(bytes.len())..]) {
                Some(i) if bytes[at + i] == b'\r' && bytes.get(at + i + 1) == Some(&b'\n') => {
                    at + i + 2
                }
                Some(i) => at + i + 1,
                None => bytes.len(),
            }
        };
        let body_start = after(header_at);
        let mut body_end = after(end.saturating_sub(1).max(body_start));
        if end <= body_start {
            body_end = body_start;
        }
        // The blank lines after it (trailing breaks of a `+` block).
        loop {
            let next = after(body_end);
            if next == body_end
                || !self.src[body_end..next]
                    .trim_matches([' ', '\r', '\n'])
                    .is_empty()
            {
                break;
            }
            body_end = next;
        }
        if body_start >= body_end || !StandIn::holds(self.separators, body_start, body_end) {
            return None;
        }
        let body = StandIn::original(self.src, self.separators, body_start, body_end);
        let parent = self.stack.last().filter(|f| !f.flow).map(|f| f.indent);
        Some(line_separators::block_scalar(&body, header, parent))
    }

    /// Skips the events of a collection used as a mapping key (see
    /// [`Builder::key_collection`]); at its end, its source text becomes
    /// the key.
    pub(super) fn skip_key_collection(&mut self, ev: &Event<'_>, span: &Span) {
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
    pub(super) fn check_block_tabs(&self, span: &Span) -> Result<(), FormatError> {
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

    /// Refuses a mapping entry whose key is left out before its `:` (`: x`,
    /// `{: x}`) as yaml.v3 does: YAML 1.2 reads an empty key there, yaml.v3
    /// (YAML 1.1) only after an explicit `?`. The messages and the line are
    /// yaml.v3's (decode.go names the 0-based line of the context mark, else
    /// of the problem mark, and no line when both are on the first).
    pub(super) fn check_implicit_empty_key(&self, span: &Span) -> Result<(), FormatError> {
        let Some(top) = self.stack.last() else {
            return Ok(());
        };
        if !top.is_map || top.pending_key.is_some() {
            return Ok(());
        }
        let at = span.start.byte_offset().unwrap_or(usize::MAX);
        if self.src.as_bytes().get(at) != Some(&b':') {
            return Ok(());
        }
        // `? ` then `:`: an explicit empty key, which yaml.v3 reads.
        let before = self.src[..at].trim_end_matches(|c: char| c.is_whitespace());
        if before.ends_with('?') {
            return Ok(());
        }
        let colon_line = v3_rules::line_of(self.src, at) - 1;
        let (context, problem) = if top.flow {
            (colon_line, "did not find expected node content")
        } else {
            (top.line.saturating_sub(1), "did not find expected key")
        };
        let line = if context != 0 { context } else { colon_line };
        Err(FormatError::Parse(if line == 0 {
            format!("yaml: {problem}")
        } else {
            format!("yaml: line {line}: {problem}")
        }))
    }

    /// True when the double-quoted scalar at `span` holds a `\/` escape:
    /// YAML 1.2 has it, yaml.v3 (sops) refuses it ("found unknown escape
    /// character"), and so does enseal.
    pub(super) fn has_slash_escape(&self, span: &Span) -> bool {
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

    pub(super) fn scalar_node(
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
    pub(super) fn add_value(
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
            let after_next = std::mem::take(&mut top.after_next);
            top.list.extend(after_next.into_iter().map(Value::Comment));
        }
        let _ = span;
        Ok(pos)
    }
}

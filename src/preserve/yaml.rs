//! YAML layout: granit-parser events give every scalar's span and style.
//!
//! Refused: anchors, aliases and tags (the sops data model expands aliases,
//! so an encrypted anchor could not be shared), complex keys, and a root
//! that is not a block mapping at column 0 (the metadata must be a
//! top-level key). Multi-line plain and folded scalars, `|+` blocks,
//! indentation indicators and non-canonical spellings are refused by the
//! round-trip check of the caller.

use granit_parser::{Event, Parser, ScalarStyle, StructureStyle};

use super::{
    append_at_end, metadata_range, refused, scalar_text, written_by, CommentSlot, Layout,
    PreserveError, Scan, Slot, Style,
};
use crate::format::{Store, StoreOptions};
use crate::tree::{Map, Value};

pub(crate) struct YamlLayout;

struct Frame {
    is_map: bool,
    flow: bool,
    expect_key: bool,
}

const HINT_ANCHOR: &str = "anchors, aliases and tags cannot be kept here (on a mapping key, or an alias whose anchor is not before it in the document)";

const HINT_EMPTY_ITEM: &str = "this comment on an empty sequence item (`- # text`) cannot be encrypted in place: the reference reads it after the sequence, at another path, and could not decrypt it there; move it to a line of its own";

const HINT_ROOT: &str = "the document must be a block mapping starting at column 1, for the sops metadata to be added as a top-level key";

#[derive(Clone, Copy)]
struct SopsSkip {
    from: usize,
    max: usize,
    depth: Option<usize>,
}

fn at(span: &granit_parser::Span, text: &str) -> usize {
    span.start.byte_offset().unwrap_or(0).min(text.len())
}

fn end(span: &granit_parser::Span, text: &str) -> usize {
    span.end.byte_offset().unwrap_or(0).min(text.len())
}

fn line_start(text: &str, pos: usize) -> usize {
    text[..pos].rfind('\n').map_or(0, |p| p + 1)
}

/// The end of the line holding `pos - 1` (after its newline).
fn next_line(text: &str, pos: usize) -> usize {
    if pos > 0 && text.as_bytes()[pos - 1] == b'\n' {
        return pos;
    }
    text[pos..].find('\n').map_or(text.len(), |p| pos + p + 1)
}

impl Layout for YamlLayout {
    fn scan(&self, text: &str, encrypted: bool) -> Result<Scan, PreserveError> {
        let mut scan = Scan::default();
        let mut stack: Vec<Frame> = Vec::new();
        // The top-level `sops` entry being skipped (encrypted scans).
        let mut sops: Option<SopsSkip> = None;
        let mut prev_end = 0usize;
        // Open anchored or tagged collections: (anchor id, first slot, depth).
        let mut anchored: Vec<(usize, usize, usize)> = Vec::new();
        // Leaf count of each anchored node.
        let mut anchors: std::collections::HashMap<usize, usize> = Default::default();
        for r in Parser::new_from_str(text) {
            let (ev, span) = r.map_err(|e| PreserveError::Refused {
                line: e.marker().line(),
                col: e.marker().col() + 1,
                message: e.info().to_string(),
            })?;
            let start = at(&span, text);
            let stop = end(&span, text);
            if let Some(s) = sops.as_mut() {
                s.max = s.max.max(stop);
            }
            match ev {
                Event::StreamStart | Event::StreamEnd | Event::DocumentStart(..) => {}
                Event::DocumentEnd if !encrypted => {
                    let p = if start >= text.len() {
                        text.len()
                    } else {
                        line_start(text, start)
                    };
                    scan.inserts.push(p);
                }
                Event::DocumentEnd => {}
                Event::Comment(body, _) if sops.is_none() => {
                    // sops moves an inline comment after a flow collection
                    // (or on a sequence item) to the collection's start; it
                    // reads back there from its place in the text too, so
                    // it is encrypted where it stands.
                    // Except on an empty sequence item (`- # text`): the
                    // reference reads that comment after the sequence, at
                    // another path, and could not decrypt it there.
                    let before = &text[line_start(text, start)..start];
                    let empty_item = before.trim_start().starts_with('-')
                        && before.trim_start()[1..].trim().is_empty();
                    scan.comments.push(CommentSlot {
                        span: start + 1..stop,
                        text: body.into_owned(),
                        prefix: String::new(),
                        stuck: empty_item.then_some(HINT_EMPTY_ITEM),
                    });
                }
                Event::Comment(..) => {}
                Event::Alias(id) => {
                    let Some(top) = stack.last_mut() else {
                        return Err(refused(text, start, HINT_ROOT));
                    };
                    if top.is_map && top.expect_key {
                        return Err(refused(text, start, HINT_ANCHOR));
                    }
                    top.expect_key = true;
                    if sops.is_some() {
                        continue;
                    }
                    let count = *anchors
                        .get(&id)
                        .ok_or_else(|| refused(text, start, HINT_ANCHOR))?;
                    for _ in 0..count {
                        scan.values.push(Slot {
                            span: start..stop,
                            style: Style::YamlPlain,
                            keep: true,
                        });
                    }
                }
                Event::UnresolvedAlias(_) | Event::Anchor(..) => {
                    return Err(refused(text, start, HINT_ANCHOR));
                }
                Event::MappingStart(style, anchor, ref tag)
                | Event::SequenceStart(style, anchor, ref tag) => {
                    let is_map = matches!(ev, Event::MappingStart(..));
                    let flow = style == StructureStyle::Flow;
                    match stack.last_mut() {
                        None => {
                            if !is_map || flow || line_start(text, start) != start {
                                return Err(refused(text, start, HINT_ROOT));
                            }
                        }
                        Some(top) if top.is_map && top.expect_key => {
                            return Err(refused(
                                text,
                                start,
                                "complex mapping keys cannot be kept",
                            ));
                        }
                        Some(top) => top.expect_key = true,
                    }
                    if let Some(s) = sops.as_mut() {
                        if s.depth.is_none() {
                            s.depth = Some(stack.len());
                        }
                    }
                    stack.push(Frame {
                        is_map,
                        flow,
                        expect_key: true,
                    });
                    if anchor != 0 || tag.as_ref().is_some_and(|t| !other_tag(t)) {
                        anchored.push((anchor, scan.values.len(), stack.len()));
                    }
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    if let Some(&(id, first, depth)) = anchored.last() {
                        if depth == stack.len() {
                            anchored.pop();
                            if id != 0 {
                                anchors.insert(id, scan.values.len() - first);
                            }
                        }
                    }
                    stack.pop();
                    if let Some(s) = sops {
                        if s.depth == Some(stack.len()) {
                            scan.metadata.push(metadata_range(
                                text,
                                s.from,
                                next_line(text, s.max),
                            ));
                            sops = None;
                        }
                    }
                }
                Event::Scalar(ref value, style, anchor, ref tag) => {
                    // A local tag (`!Ref x`) is read through by sops: the
                    // value is a string, the tag stays in clear like a key.
                    let local = tag.as_ref().is_some_and(|t| other_tag(t));
                    let keep = anchor != 0 || (tag.is_some() && !local) || !anchored.is_empty();
                    let Some(top) = stack.last_mut() else {
                        if !value.is_empty() || style != ScalarStyle::Plain {
                            return Err(refused(text, start, HINT_ROOT));
                        }
                        continue;
                    };
                    if top.is_map && top.expect_key {
                        if anchor != 0 || tag.is_some() {
                            return Err(refused(text, start, HINT_ANCHOR));
                        }
                        top.expect_key = false;
                        if encrypted && stack.len() == 1 && value == "sops" && sops.is_none() {
                            sops = Some(SopsSkip {
                                from: line_start(text, start),
                                max: stop,
                                depth: None,
                            });
                        }
                        prev_end = stop;
                        continue;
                    }
                    top.expect_key = true;
                    let flow = top.flow;
                    if let Some(s) = sops {
                        if s.depth.is_none() {
                            // `sops: scalar`.
                            scan.metadata.push(metadata_range(
                                text,
                                s.from,
                                next_line(text, s.max),
                            ));
                            sops = None;
                        }
                        prev_end = stop;
                        continue;
                    }
                    let style = match style {
                        ScalarStyle::Plain if flow => Style::YamlFlowPlain,
                        ScalarStyle::Plain if local => Style::YamlTaggedPlain,
                        ScalarStyle::Plain => Style::YamlPlain,
                        ScalarStyle::SingleQuoted => Style::YamlSingle,
                        ScalarStyle::DoubleQuoted => {
                            if flow && text[start..stop].starts_with("\"\\x45") {
                                Style::YamlFlowPlain
                            } else {
                                Style::YamlDouble
                            }
                        }
                        ScalarStyle::Literal | ScalarStyle::Folded => {
                            let indicator = if style == ScalarStyle::Literal {
                                '|'
                            } else {
                                '>'
                            };
                            let from = prev_end.min(start);
                            let header = text[from..start]
                                .find(indicator)
                                .map(|p| from + p)
                                .ok_or_else(|| {
                                    refused(text, start, "block scalar header not found")
                                })?;
                            let content_end = start
                                + text[start..stop]
                                    .trim_end_matches([' ', '\t', '\r', '\n'])
                                    .len();
                            let indent = start - line_start(text, start);
                            scan.values.push(Slot {
                                span: header..content_end.max(header + 1),
                                style: if indicator == '|' {
                                    Style::YamlLiteral(indent)
                                } else {
                                    Style::YamlFolded(indent)
                                },
                                keep,
                            });
                            if anchor != 0 {
                                anchors.insert(anchor, 1);
                            }
                            prev_end = stop;
                            continue;
                        }
                    };
                    scan.values.push(Slot {
                        span: start..stop,
                        style,
                        keep,
                    });
                    if anchor != 0 {
                        anchors.insert(anchor, 1);
                    }
                }
                #[allow(unreachable_patterns)]
                _ => {}
            }
            prev_end = prev_end.max(stop);
        }
        Ok(scan)
    }

    fn enc_value(&self, slot: &Slot, enc: &str) -> String {
        match slot.style {
            Style::YamlFlowPlain => format!("\"\\x45{}\"", &enc[1..]),
            Style::YamlSingle => format!("'{enc}'"),
            Style::YamlDouble => format!("\"{enc}\""),
            Style::YamlLiteral(indent) => format!("|-\n{}{enc}", " ".repeat(indent)),
            Style::YamlFolded(indent) => format!(">-\n{}{enc}", " ".repeat(indent)),
            _ => enc.to_string(),
        }
    }

    fn plain_value(&self, slot: &Slot, value: &Value) -> Option<String> {
        match slot.style {
            Style::YamlPlain | Style::YamlFlowPlain => {
                let s = scalar_text(value)?;
                let flow = slot.style == Style::YamlFlowPlain;
                match value.as_str() {
                    // Only in files this mode did not write (a reference
                    // file's plain `ENC[…]` of a string a plain scalar
                    // cannot hold): quote it.
                    Some(text) if !plain_is_string(text, flow) => Some(double_quoted(text)),
                    _ => Some(s),
                }
            }
            Style::YamlTaggedPlain => {
                let s = value.as_str()?;
                let plain = !s.is_empty()
                    && s.trim() == s
                    && !s.contains(['\n', '\r', '\t'])
                    && !s.contains(": ")
                    && !s.contains(" #")
                    && !s.ends_with(':')
                    && !s.starts_with([
                        '"', '\'', '[', '{', '|', '>', '&', '*', '!', '%', '@', '`', '#', '-', '?',
                        ',',
                    ]);
                Some(if plain {
                    s.to_string()
                } else {
                    double_quoted(s)
                })
            }
            Style::YamlSingle => {
                let s = value.as_str()?;
                (!s.contains('\n')).then(|| format!("'{}'", s.replace('\'', "''")))
            }
            Style::YamlDouble => Some(double_quoted(value.as_str()?)),
            Style::YamlLiteral(indent) | Style::YamlFolded(indent) => {
                let s = value.as_str()?;
                let (body, chomp) = match s.strip_suffix('\n') {
                    Some(b) if !b.ends_with('\n') => (b, ""),
                    Some(_) => return None,
                    None => (s, "-"),
                };
                if body.is_empty() || body.starts_with([' ', '\t']) {
                    return None;
                }
                let literal = matches!(slot.style, Style::YamlLiteral(_));
                if !literal && body.contains('\n') {
                    return None;
                }
                let mut out = format!("{}{chomp}", if literal { '|' } else { '>' });
                for line in body.split('\n') {
                    out.push('\n');
                    if !line.is_empty() {
                        out.push_str(&" ".repeat(indent));
                        out.push_str(line);
                    }
                }
                Some(out)
            }
            _ => None,
        }
    }

    fn metadata_text(
        &self,
        text: &str,
        scan: &Scan,
        metadata: &Map,
    ) -> Result<Vec<(usize, String)>, PreserveError> {
        let store = crate::format::yaml::YamlStore::new(&StoreOptions::default());
        let block = written_by(&store, &[Map::new()], metadata)?;
        Ok(scan
            .inserts
            .iter()
            .map(|&at| (at, append_at_end(text, at, &block)))
            .collect())
    }
}

/// A local or application tag (`!Ref`), which sops reads through.
fn other_tag(tag: &granit_parser::Tag) -> bool {
    crate::format::yaml::is_other_tag(tag.handle(), tag.suffix())
}

/// True when `s` written as a plain scalar reads back as the string `s`.
fn plain_is_string(s: &str, flow: bool) -> bool {
    if s.is_empty() || s.contains(['\n', '\r', '\t']) || s.trim() != s {
        return false;
    }
    if flow && s.contains([',', '[', ']', '{', '}']) {
        return false;
    }
    let first = s.chars().next().unwrap_or(' ');
    let suspicious = first.is_ascii_digit()
        || "-+.~!&*[]{}|>'\"%@`#?:,".contains(first)
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | ".inf" | ".nan"
        );
    if !suspicious {
        return true;
    }
    let doc = format!("k: {s}\n");
    let store = crate::format::yaml::YamlStore::new(&StoreOptions::default());
    matches!(
        store.parse_plain(doc.as_bytes()).as_deref(),
        Ok([m]) if m.get("k") == Some(&Value::Str(s.to_string()))
    )
}

/// A double-quoted YAML scalar with the escapes a writer would choose.
fn double_quoted(s: &str) -> String {
    crate::quoted::double_quoted(s, |c| match c {
        '\0' => Some("\\0".into()),
        c if crate::quoted::is_control(c) => Some(format!("\\x{:02X}", c as u32).into()),
        _ => None,
    })
}

/// The start of a comment that carries, inside its ciphertext, the
/// original lines of a multi-line scalar (see [`augment`]).
pub(crate) const CARRIER: &str = "# enseal-preserve: ";

/// The plaintext text with each string value that spans several lines in
/// a spelling the sops data model does not keep (a multi-line plain,
/// quoted or folded scalar, `|+`, an indentation indicator) spelled on
/// one line, double-quoted, and the original lines, as one JSON string,
/// in a comment line just above the key (`# enseal-preserve: "…"`, at the
/// key's indentation). The comment is encrypted like every comment, so
/// neither the lines nor their number stay in clear; [`restore`] puts
/// them back. Only for a key that is not the first of a sequence item
/// (`- key:`), whose value ends its line. `None`: nothing to carry (or a
/// text this cannot apply to: the mode then refuses as before).
pub(crate) fn augment(text: &str) -> Result<Option<super::ini::Augmented>, PreserveError> {
    let marker = text
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .chain([0])
        .find(|&i| text[i..].trim_start().starts_with(CARRIER.trim_end()));
    if let Some(at) = marker {
        return Err(refused(
            text,
            at,
            "a comment starting with `enseal-preserve:` is how this mode carries layout in encrypted comments, so such a comment cannot be kept; reword it",
        ));
    }
    let store = crate::format::FormatKind::Yaml.store(&StoreOptions::default());
    let Ok(docs) = store.parse_plain(text.as_bytes()) else {
        return Ok(None);
    };
    let Ok(scan) = YamlLayout.scan(text, false) else {
        return Ok(None);
    };
    let Some(pairs) = super::pair_docs(&docs, &docs) else {
        return Ok(None);
    };
    if pairs.leaves.len() != scan.values.len() {
        return Ok(None);
    }
    let mut edits = Vec::new();
    let mut first = None;
    for (slot, (value, _)) in scan.values.iter().zip(&pairs.leaves) {
        let raw = &text[slot.span.clone()];
        if slot.keep
            || !raw.trim_end().contains('\n')
            || slot.style == Style::YamlFlowPlain
            || YamlLayout.plain_value(slot, value).as_deref() == Some(raw)
        {
            continue;
        }
        let Some(s) = value.as_str() else { continue };
        let line_start = text[..slot.span.start].rfind('\n').map_or(0, |p| p + 1);
        let head = &text[line_start..slot.span.start];
        let indent = head.len() - head.trim_start().len();
        if head.trim_start().starts_with('-') || !head.trim_end().ends_with(':') {
            continue;
        }
        // The value's last line must end with it (a comment there would
        // be moved).
        let end = slot.span.end - (raw.len() - raw.trim_end().len());
        let line_end = text[end..].find('\n').map_or(text.len(), |p| end + p);
        if !text[end..line_end].trim().is_empty() {
            continue;
        }
        let original = &text[line_start..line_end];
        let carried = serde_json::to_string(original).unwrap_or_default();
        let replacement = format!(
            "{}{CARRIER}{carried}\n{head}{}",
            &head[..indent],
            double_quoted(s)
        );
        first.get_or_insert(slot.span.start);
        edits.push((line_start..line_end, replacement));
    }
    let Some(first) = first else {
        return Ok(None);
    };
    let out = super::apply(text, edits)?;
    Ok(Some(super::ini::Augmented {
        text: out,
        first,
        reason: "this value spans several lines in a style that cannot be rebuilt from its value (multi-line plain, quoted or folded scalar, `|+` or an indentation indicator), so it would not decrypt back to the same bytes",
    }))
}

/// The inverse of [`augment`]: each carrier comment line and the line
/// after it (the key with its value on one line) replaced by the lines it
/// carries.
pub(crate) fn restore(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut lines = text.split_inclusive('\n');
    while let Some(line) = lines.next() {
        let Some(payload) = line.trim_start().strip_prefix(CARRIER) else {
            out.push_str(line);
            continue;
        };
        let original: String = serde_json::from_str(payload.trim_end()).ok()?;
        let next = lines.next()?;
        out.push_str(&original);
        if next.ends_with('\n') {
            out.push('\n');
        }
    }
    Some(out)
}

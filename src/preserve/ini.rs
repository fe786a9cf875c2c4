//! INI layout, following the reading rules of the INI store (go-ini):
//! comment lines attach to the next section header or key, an inline
//! comment after `]` or an unquoted value is added to them, and a value
//! may be wrapped in `"…"` or `'…'` (the quotes stay outside the
//! `ENC[…]`). A comment is encrypted in place when it is one line (or one
//! inline comment); the marker and spaces the reader strips (`; `) stay in
//! front of the `ENC[…]`. Multi-line values (`"""`, `` ` ``, a trailing
//! `\`) are refused. Lines the data model has no place for (a repeated
//! key's earlier lines, blank lines inside a comment) travel inside the
//! ciphertext of the comment they are joined to ([`augment`]).

use std::ops::Range;

use super::{
    append_at_end, metadata_range, refused, written_by, CommentSlot, Layout, PreserveError, Scan,
    Slot, Style,
};
use crate::tree::{Map, Value};

pub(crate) struct IniLayout;

const HINT_JOINED: &str = "these comment lines cannot be encrypted in place: the INI reader joins them into one comment without the blank or indented lines between them, so the decrypted comment could not put those back; remove the blank lines between the comment lines (or the indentation)";

const HINT_DUPLICATE: &str = "this key is repeated in its section: the INI reader (go-ini) keeps only the last value, at the first key's place, so the sops data model has no place for the earlier value (this command cannot carry it in an encrypted comment); merge the keys (or keep such a file, e.g. a systemd unit, in the normal layout)";

const HINT_SECTION: &str = "a comment after an INI section header cannot be encrypted in place: the reader joins it with the comment lines above the header, and a `]` in its `ENC[…]` would end the section name; move it to a line of its own";

/// The start of a line that carries, inside an encrypted comment, a line
/// of the file that the sops data model cannot hold (see [`augment`]).
pub(crate) const CARRIER: &str = "; enseal-preserve:";

/// The plaintext text with the lines the sops data model cannot hold turned
/// into carrier comment lines, which the INI reader joins into the comment
/// of the next key or section (so they are encrypted with it, and the
/// reference shows them as comment lines):
/// - the earlier lines of a key repeated in its section, when no other key
///   stands between (go-ini keeps the last value at the first key's place:
///   with the earlier lines turned into comments, the key stays at its
///   place in the tree, and the value read is the same);
/// - blank and indented lines between comment lines (the reader joins the
///   comment lines without them).
///
/// A carried line is `CARRIER` followed by a space and the line (just
/// `CARRIER` for an empty line); [`restore`] gives the lines back.
pub(crate) struct Augmented {
    /// The text with carrier lines.
    pub text: String,
    /// Where the first carried line is in the original text.
    pub first: usize,
    /// Why that line has to be carried (the refusal when it cannot be).
    pub reason: &'static str,
}

const HINT_APART: &str = "this key is repeated in its section with another key between: the INI reader (go-ini) keeps only the last value, at the first key's place, so the earlier line cannot travel in an encrypted comment without moving the key in the sops tree; put the repeated lines next to each other or merge them";

const HINT_CARRIER: &str = "a comment line starting with `enseal-preserve:` is how this mode carries layout in encrypted comments, so such a line cannot be kept; reword it";

#[derive(Clone, PartialEq)]
enum LineKind {
    Blank,
    Comment { indented: bool },
    Section,
    Key(String),
}

/// See [`Augmented`]. `None`: nothing to carry.
pub(crate) fn augment(text: &str) -> Result<Option<Augmented>, PreserveError> {
    let mut lines = Vec::new();
    let mut pos = 0;
    while pos < text.len() {
        let end = text[pos..].find('\n').map_or(text.len(), |p| pos + p + 1);
        let raw = &text[pos..end];
        if raw.starts_with(CARRIER) {
            return Err(refused(text, pos, HINT_CARRIER));
        }
        let line = raw.trim_start();
        let kind = if line.trim().is_empty() {
            LineKind::Blank
        } else if line.starts_with(['#', ';']) {
            LineKind::Comment {
                indented: line.len() != raw.len(),
            }
        } else if line.starts_with('[') {
            LineKind::Section
        } else {
            let name = key_offsets(line).map_or(String::new(), |(k, _)| line[k].trim().to_string());
            LineKind::Key(name)
        };
        lines.push((pos..end, kind));
        pos = end;
    }
    let mut carried: Vec<Option<&'static str>> = vec![None; lines.len()];
    // Repeated keys.
    let mut seen = std::collections::HashMap::new();
    let mut last_key = None;
    for (i, (range, kind)) in lines.iter().enumerate() {
        match kind {
            LineKind::Section => {
                seen.clear();
                last_key = None;
            }
            LineKind::Key(name) => {
                if !name.is_empty() && name != "-" {
                    if let Some(&j) = seen.get(name.as_str()) {
                        if last_key != Some(j) {
                            return Err(refused(text, range.start, HINT_APART));
                        }
                        carried[j] = Some(HINT_DUPLICATE);
                    }
                    seen.insert(name.as_str(), i);
                }
                last_key = Some(i);
            }
            _ => {}
        }
    }
    // Blank and indented lines between the comment lines of one comment.
    let mut group: Vec<usize> = Vec::new();
    for i in 0..lines.len() {
        let commentish = carried[i].is_some() || matches!(lines[i].1, LineKind::Comment { .. });
        if commentish || lines[i].1 == LineKind::Blank {
            group.push(i);
            continue;
        }
        let is_comment =
            |j: &usize| carried[*j].is_some() || matches!(lines[*j].1, LineKind::Comment { .. });
        if let (Some(&first), Some(&last)) = (
            group.iter().find(|j| is_comment(j)),
            group.iter().rev().find(|j| is_comment(j)),
        ) {
            for &j in &group {
                if j <= first || j > last || carried[j].is_some() {
                    continue;
                }
                match lines[j].1 {
                    LineKind::Blank | LineKind::Comment { indented: true } => {
                        carried[j] = Some(HINT_JOINED);
                    }
                    _ => {}
                }
            }
        }
        group.clear();
    }
    let Some(first_line) = carried.iter().position(Option::is_some) else {
        return Ok(None);
    };
    let mut out = String::with_capacity(text.len() + 64);
    for ((range, _), carry) in lines.iter().zip(&carried) {
        let raw = &text[range.clone()];
        if carry.is_none() {
            out.push_str(raw);
            continue;
        }
        let (content, newline) = match raw.strip_suffix('\n') {
            Some(c) => (c, "\n"),
            None => (raw, ""),
        };
        out.push_str(CARRIER);
        if !content.is_empty() {
            out.push(' ');
            out.push_str(content);
        }
        out.push_str(newline);
    }
    Ok(Some(Augmented {
        text: out,
        first: lines[first_line].0.start,
        reason: carried[first_line].unwrap_or(HINT_DUPLICATE),
    }))
}

/// The inverse of [`augment`]: every carrier line replaced by the line it
/// carries.
pub(crate) fn restore(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let Some(rest) = line.strip_prefix(CARRIER) else {
            out.push_str(line);
            continue;
        };
        if let Some(carried) = rest.strip_prefix(' ') {
            out.push_str(carried);
        } else {
            // An empty line: only its line break.
            out.push_str(rest);
        }
    }
    out
}

/// sops's `stripCommentChar`: the stripped prefix and the text.
fn split_comment(comment: &str) -> (&str, &str) {
    let rest = if comment.starts_with(';') {
        comment.trim_start_matches([';', ' '])
    } else if comment.starts_with('#') {
        comment.trim_start_matches(['#', ' '])
    } else {
        comment
    };
    (&comment[..comment.len() - rest.len()], rest)
}

/// The pending comment of go-ini's reader: its pieces (text ranges).
#[derive(Default)]
struct Pending {
    pieces: Vec<Range<usize>>,
}

impl Pending {
    fn take(&mut self, text: &str) -> Option<CommentSlot> {
        if self.pieces.is_empty() {
            return None;
        }
        let pieces = std::mem::take(&mut self.pieces);
        let joined: String = pieces.iter().map(|r| &text[r.clone()]).collect();
        let trimmed = joined.trim();
        if trimmed.is_empty() {
            return None;
        }
        let (_, body) = split_comment(trimmed);
        let first = &pieces[0];
        let piece = text[first.clone()].trim();
        let (prefix, _) = split_comment(piece);
        let lead = text[first.clone()].len() - text[first.clone()].trim_start().len();
        let start = first.start + lead + prefix.len();
        if pieces.len() == 1 {
            return Some(CommentSlot {
                span: start..start + piece.len() - prefix.len(),
                text: body.to_string(),
                prefix: String::new(),
                stuck: None,
            });
        }
        // Several lines, which the reader joins into one comment: the
        // `ENC[…]` of the joined text takes the place of all of them (from
        // after the first marker to the end of the last line), and the
        // joined text, markers and newlines included, puts them back. Only
        // when those bytes are exactly the joined text (no blank line or
        // indentation between the lines, which the reader drops).
        let last = &pieces[pieces.len() - 1];
        let end = last.start + text[last.clone()].trim_end().len();
        let span = start..end.max(start);
        let stuck = (text[span.clone()] != *body).then_some(HINT_JOINED);
        Some(CommentSlot {
            span,
            text: body.to_string(),
            prefix: String::new(),
            stuck,
        })
    }
}

impl Layout for IniLayout {
    fn scan(&self, text: &str, encrypted: bool) -> Result<Scan, PreserveError> {
        let mut scan = Scan::default();
        if text.starts_with('\u{feff}') {
            return Err(PreserveError::Unsupported(
                "a byte-order mark cannot be kept".into(),
            ));
        }
        let mut pending = Pending::default();
        let mut pos = 0;
        let mut in_sops = false;
        // The key names of the current section.
        let mut seen = std::collections::HashSet::new();
        while pos < text.len() {
            let line_start = pos;
            let line_end = text[pos..].find('\n').map_or(text.len(), |p| pos + p + 1);
            pos = line_end;
            let raw = &text[line_start..line_end];
            let lead = raw.len() - raw.trim_start().len();
            let line = &raw[lead..];
            let at = line_start + lead;
            if line.is_empty() {
                continue;
            }
            if line.starts_with(['#', ';']) {
                pending.pieces.push(at..line_end);
                continue;
            }
            if line.starts_with('[') {
                let close = line
                    .rfind(']')
                    .ok_or_else(|| refused(text, at, "unclosed section"))?;
                let name = &line[1..close];
                if let Some(i) = line[close + 1..].find(['#', ';']) {
                    let from = at + close + 1 + i;
                    pending.pieces.push(from..line_end);
                }
                let inline = line[close + 1..].contains(['#', ';']);
                let comment = pending.take(text).map(|mut c| {
                    // `]` inside an `ENC[…]` would end the section name.
                    if inline {
                        c.stuck = Some(HINT_SECTION);
                    }
                    c
                });
                if encrypted && name == "sops" {
                    if in_sops {
                        return Err(PreserveError::Unsupported("two [sops] sections".into()));
                    }
                    in_sops = true;
                    scan.metadata
                        .push(metadata_range(text, line_start, text.len()));
                    continue;
                }
                if in_sops {
                    return Err(refused(text, at, "a section after [sops] cannot be kept"));
                }
                scan.comments.extend(comment);
                seen.clear();
                continue;
            }
            // A key line.
            let (key, value_from) = key_offsets(line)
                .ok_or_else(|| refused(text, at, "key-value delimiter not found"))?;
            let name = line[key].trim();
            if !in_sops && name != "-" && !seen.insert(name.to_string()) {
                return Err(refused(text, at, HINT_DUPLICATE));
            }
            let value_text = &line[value_from..];
            let vlead = value_text.len() - value_text.trim_start().len();
            let v = &value_text[vlead..];
            let vstart = at + value_from + vlead;
            let mut slot = None;
            if v.trim().is_empty() {
                slot = Some(vstart..vstart);
            } else if (v.len() > 3 && v.starts_with("\"\"\"")) || v.starts_with('`') {
                return Err(refused(
                    text,
                    vstart,
                    "multi-line INI values (\"\"\" or `) cannot be kept",
                ));
            } else {
                let trimmed = v.trim();
                if trimmed.ends_with('\\') {
                    return Err(refused(
                        text,
                        vstart,
                        "INI continuation lines (a trailing \\) cannot be kept",
                    ));
                }
                let mut value = trimmed;
                if let Some(i) = trimmed.find(['#', ';']) {
                    pending.pieces.push(vstart + i..vstart + trimmed.len());
                    value = trimmed[..i].trim_end();
                }
                let b = value.as_bytes();
                let quoted = |q: u8| {
                    b.len() >= 2
                        && b[0] == q
                        && b[b.len() - 1] == q
                        && b[1..].iter().position(|&c| c == q) == Some(b.len() - 2)
                };
                if quoted(b'"') || quoted(b'\'') {
                    slot = Some(vstart + 1..vstart + value.len() - 1);
                } else if slot.is_none() {
                    slot = Some(vstart..vstart + value.len());
                }
            }
            let comment = pending.take(text);
            if in_sops {
                continue;
            }
            if let Some(span) = slot {
                scan.values.push(Slot {
                    span,
                    style: Style::Ini,
                    keep: false,
                });
            }
            scan.comments.extend(comment);
        }
        // Comments at the end attach to nothing: the reader drops them.
        if let Some(c) = pending.take(text) {
            scan.comments.push(c);
        }
        if !encrypted {
            scan.inserts.push(text.len());
        }
        Ok(scan)
    }

    fn enc_value(&self, _slot: &Slot, enc: &str) -> String {
        enc.to_string()
    }

    fn plain_value(&self, _slot: &Slot, value: &Value) -> Option<String> {
        value.as_str().map(str::to_string)
    }

    fn metadata_text(
        &self,
        text: &str,
        _scan: &Scan,
        metadata: &Map,
    ) -> Result<Vec<(usize, String)>, PreserveError> {
        let out = written_by(&crate::format::ini::IniStore, &[Map::new()], metadata)?;
        let block = out
            .find("[sops]")
            .map(|p| &out[p..])
            .ok_or_else(|| PreserveError::Unsupported("could not write the INI metadata".into()))?;
        let mut block = block.to_string();
        if !block.ends_with('\n') {
            block.push('\n');
        }
        Ok(vec![(text.len(), append_at_end(text, text.len(), &block))])
    }
}

/// go-ini's key name reading: (the key's text, offset of the value).
fn key_offsets(line: &str) -> Option<(Range<usize>, usize)> {
    crate::format::ini::key_offsets(line)
        .ok()
        .map(|(key, _, value_from)| (key, value_from))
}

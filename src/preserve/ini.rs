//! INI layout, following the reading rules of the INI store (go-ini):
//! comment lines attach to the next section header or key, an inline
//! comment after `]` or an unquoted value is added to them, and a value
//! may be wrapped in `"…"` or `'…'` (the quotes stay outside the
//! `ENC[…]`). A comment is encrypted in place when it is one line (or one
//! inline comment); the marker and spaces the reader strips (`; `) stay in
//! front of the `ENC[…]`. Multi-line values (`"""`, `` ` ``, a trailing
//! `\`) are refused.

use std::ops::Range;

use super::{
    append_at_end, metadata_range, refused, written_by, CommentSlot, Layout, PreserveError, Scan,
    Slot, Style,
};
use crate::tree::{Map, Value};

pub(crate) struct IniLayout;

const HINT_JOINED: &str = "these comment lines cannot be encrypted in place: the INI reader joins them into one comment without the blank or indented lines between them, so the decrypted comment could not put those back; remove the blank lines between the comment lines (or the indentation)";

const HINT_DUPLICATE: &str = "this key is repeated in its section: the INI reader (go-ini) keeps only the last value, at the first key's place, so the sops data model has no place for the earlier value, which could neither be encrypted nor kept in clear; merge the keys (or keep such a file, e.g. a systemd unit, in the normal layout)";

const HINT_SECTION: &str = "a comment after an INI section header cannot be encrypted in place: the reader joins it with the comment lines above the header, and a `]` in its `ENC[…]` would end the section name; move it to a line of its own";

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

//! Changing the plaintext text of a format-preserved file so that it holds
//! new values (`set`, `unset`, the merge driver): the layout of everything
//! that did not change stays byte for byte.
//!
//! Two steps:
//! 1. structure (YAML block mappings, dotenv, INI sections, JSON objects):
//!    an entry the new tree no longer has is cut out with its lines (JSON:
//!    with its comma); an entry it gained is written after the entry that
//!    precedes it in the new tree (after the comments that follow that
//!    entry in the tree), in the normal store's spelling, indented and
//!    spaced like its siblings (a nested YAML mapping with the file's own
//!    indent step);
//! 2. values: every scalar that changed is written in place, in the style
//!    of the value it replaces (quotes, block scalar…), as decryption in
//!    this mode writes it.
//!
//! The result must parse (normal store) to exactly the new tree, or the
//! change is refused: nothing is written approximately.

use std::ops::Range;

use super::{apply, layout, scan_and_pair, utf8_text, PreserveError};
use crate::format::{FormatKind, StoreOptions};
use crate::tree::{Item, Map, Value};

/// `text` (the plaintext of a preserved file, which parses to `old`)
/// changed to hold `new`.
pub fn retext(
    kind: FormatKind,
    text: &[u8],
    old: &[Map],
    new: &[Map],
) -> Result<Vec<u8>, PreserveError> {
    let text = utf8_text(text)?;
    if old == new {
        return Ok(text.as_bytes().to_vec());
    }
    let store = kind.store(&StoreOptions::default());
    // The plaintext copies are wiped when dropped.
    let structured = zeroize::Zeroizing::new(if same_shape(old, new) {
        text.to_string()
    } else {
        let shaped = structure(kind, text, old, new)?;
        if shaped == text {
            return Err(cannot());
        }
        shaped
    });
    let between = store
        .parse_plain(structured.as_bytes())
        .map_err(|_| cannot())?;
    let layout = layout(kind)?;
    let (scan, pairs) =
        scan_and_pair(layout.as_ref(), &structured, false, &between, new).map_err(|_| cannot())?;
    let mut edits = Vec::new();
    for (slot, (was, now)) in scan.values.iter().zip(&pairs.leaves) {
        if was == now {
            continue;
        }
        if slot.keep {
            return Err(super::refused(
                &structured,
                slot.span.start,
                "this value is under a YAML anchor or tag, or is an alias's copy: it cannot be changed in place",
            ));
        }
        let Some(rendered) = layout.plain_value(slot, now) else {
            return Err(super::refused(
                &structured,
                slot.span.start,
                format!(
                    "the new {} cannot be written in this value's style; use edit --preserve-format",
                    now.type_name()
                ),
            ));
        };
        edits.push((slot.span.clone(), rendered));
    }
    let out = apply(&structured, edits)?;
    let read = store.parse_plain(out.as_bytes()).map_err(|_| cannot())?;
    // An inline comment may end on a line of its own (the flag is a
    // placement hint, not data).
    let plainly = |docs: &[Map]| {
        docs.iter()
            .map(super::comments_as_comments)
            .collect::<Vec<_>>()
    };
    if plainly(&read) != plainly(new) {
        return Err(cannot());
    }
    Ok(out.into_bytes())
}

fn cannot() -> PreserveError {
    PreserveError::Unsupported(
        "this change cannot be written in the file's own layout (a structure this mode does not edit in place); use edit --preserve-format".into(),
    )
}

/// Same mappings with the same keys in the same order, same list lengths.
fn same_shape(a: &[Map], b: &[Map]) -> bool {
    fn value(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Map(x), Value::Map(y)) => map(x, y),
            (Value::List(x), Value::List(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(v, w)| value(v, w))
            }
            (Value::Map(_) | Value::List(_), _) | (_, Value::Map(_) | Value::List(_)) => false,
            _ => true,
        }
    }
    fn map(a: &Map, b: &Map) -> bool {
        a.0.len() == b.0.len()
            && a.0.iter().zip(&b.0).all(|(x, y)| match (x, y) {
                (Item::Entry(k, v), Item::Entry(l, w)) => k == l && value(v, w),
                (Item::Comment(c), Item::Comment(d)) => c.text == d.text,
                _ => false,
            })
    }
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| map(x, y))
}

/// The text with entries removed and added; values of kept entries are
/// left as they were.
fn structure(
    kind: FormatKind,
    text: &str,
    old: &[Map],
    new: &[Map],
) -> Result<String, PreserveError> {
    if old.len() != new.len() {
        return Err(cannot());
    }
    let mut edits = Vec::new();
    match kind {
        FormatKind::Yaml => {
            let docs = yaml_documents(text);
            if docs.len() != old.len() {
                return Err(cannot());
            }
            let step = yaml_indent_step(text);
            // Where comments start: an inline comment of a removed entry's
            // first line stays (the reader puts it before the entry).
            let comments: Vec<usize> = layout(kind)?
                .scan(text, false)?
                .comments
                .iter()
                .map(|c| c.span.start)
                .collect();
            let shape = Shape {
                step,
                comments: &comments,
            };
            for ((region, o), n) in docs.into_iter().zip(old).zip(new) {
                if o != n {
                    yaml_map(text, region, 0, o, n, &shape, &mut edits)?;
                }
            }
        }
        FormatKind::Dotenv => dotenv_map(text, &old[0], &new[0], &mut edits)?,
        FormatKind::Ini => ini_sections(text, &old[0], &new[0], &mut edits)?,
        FormatKind::Json => {
            let mut at = 0;
            let root = json_value(text.as_bytes(), &mut at)?.ok_or_else(cannot)?;
            json_map(text, &root, &old[0], &new[0], &mut edits)?;
        }
        _ => return Err(cannot()),
    }
    apply(text, edits)
}

/// One line of a region: its byte range (with the newline) and indent.
struct Line {
    range: Range<usize>,
    indent: usize,
    /// Blank or a comment.
    empty: bool,
}

fn lines_of(text: &str, region: Range<usize>) -> Vec<Line> {
    let mut out = Vec::new();
    let mut at = region.start;
    while at < region.end {
        let end = text[at..region.end]
            .find('\n')
            .map_or(region.end, |i| at + i + 1);
        let line = &text[at..end];
        let trimmed = line.trim_start_matches(' ');
        let body = trimmed.trim_end();
        out.push(Line {
            range: at..end,
            indent: line.len() - trimmed.len(),
            empty: body.is_empty() || body.starts_with('#'),
        });
        at = end;
    }
    out
}

/// The byte ranges of the YAML documents (between `---` lines).
fn yaml_documents(text: &str) -> Vec<Range<usize>> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut seen_content = false;
    for line in lines_of(text, 0..text.len()) {
        let body = &text[line.range.clone()];
        if body.starts_with("---") && body[3..].trim().is_empty() {
            if seen_content {
                docs.push(start..line.range.start);
            }
            start = line.range.end;
            seen_content = false;
        } else if !line.empty {
            seen_content = true;
        }
    }
    if seen_content {
        docs.push(start..text.len());
    }
    docs
}

/// The indent step of the file's first nested block line, else 2.
fn yaml_indent_step(text: &str) -> usize {
    let lines = lines_of(text, 0..text.len());
    let mut previous: Option<usize> = None;
    for line in lines.iter().filter(|l| !l.empty) {
        if let Some(p) = previous {
            if line.indent > p {
                return line.indent - p;
            }
        }
        previous = Some(line.indent);
    }
    2
}

/// One entry of a block mapping: its key, its first line and the end of
/// its last content line.
struct Entry {
    key: String,
    start: usize,
    end: usize,
    /// The text after `key:` on its first line, trimmed.
    rest: Range<usize>,
}

/// The entries at `indent` in `region`.
fn yaml_entries(
    text: &str,
    region: Range<usize>,
    indent: usize,
) -> Result<Vec<Entry>, PreserveError> {
    let lines = lines_of(text, region);
    let mut entries: Vec<Entry> = Vec::new();
    for line in &lines {
        if line.empty {
            // A comment indented under the entry belongs to its value.
            let comment = text[line.range.clone()].trim_start().starts_with('#');
            if comment && line.indent > indent {
                if let Some(last) = entries.last_mut() {
                    last.end = line.range.end;
                }
            }
            continue;
        }
        let body = &text[line.range.clone()];
        let content = &body[line.indent..];
        if line.indent < indent {
            return Err(cannot());
        }
        if line.indent == indent && !content.starts_with("- ") && content.trim_end() != "-" {
            let (key, after) = yaml_key(content).ok_or_else(cannot)?;
            let from = line.range.start + line.indent + after;
            let rest_text = &text[from..line.range.end];
            let lead = rest_text.len() - rest_text.trim_start().len();
            let rest = from + lead..from + lead + rest_text.trim().len();
            entries.push(Entry {
                key,
                start: line.range.start,
                end: line.range.end,
                rest,
            });
        } else {
            let last = entries.last_mut().ok_or_else(cannot)?;
            last.end = line.range.end;
        }
    }
    Ok(entries)
}

/// The key of a `key: value` line and the offset after its `:`.
fn yaml_key(content: &str) -> Option<(String, usize)> {
    let quote = content.chars().next()?;
    if quote == '"' || quote == '\'' {
        let close = content[1..].find(quote)? + 1;
        let key = &content[1..close];
        if key.contains('\\') || (quote == '\'' && content[close + 1..].starts_with('\'')) {
            return None;
        }
        let after = &content[close + 1..];
        return after.starts_with(':').then(|| (key.to_string(), close + 2));
    }
    let colon = content.find(": ").or_else(|| {
        let t = content.trim_end();
        t.ends_with(':').then(|| t.len() - 1)
    })?;
    let key = &content[..colon];
    if key.is_empty() || key.contains([' ', '#', '{', '[', '&', '*', '!', '?']) {
        return None;
    }
    Some((key.to_string(), colon + 1))
}

/// Where an entry added after `after` (an entry of `old_map`, `None`: the
/// start of the mapping) goes, skipping the `comments` comment lines that
/// follow it in the new tree.
fn insertion_point(
    text: &str,
    region: Range<usize>,
    entries: &[Entry],
    after: Option<&str>,
    comments: usize,
) -> Result<usize, PreserveError> {
    let mut at = match after {
        Some(key) => {
            entries
                .iter()
                .find(|e| e.key == key)
                .ok_or_else(cannot)?
                .end
        }
        None => region.start,
    };
    let mut left = comments;
    for line in lines_of(text, at..region.end) {
        if left == 0 {
            break;
        }
        let body = text[line.range.clone()].trim();
        if body.is_empty() {
            continue;
        }
        if !body.starts_with('#') {
            return Err(cannot());
        }
        left -= 1;
        at = line.range.end;
    }
    if left > 0 {
        return Err(cannot());
    }
    Ok(at)
}

/// For each entry of `new` that `old` lacks: the key of the entry before
/// it that `old` has (or `None`) and the number of comment items between.
fn additions<'a>(old: &Map, new: &'a Map) -> Vec<(Option<&'a str>, usize, &'a str, &'a Value)> {
    let mut out = Vec::new();
    let mut previous: Option<&str> = None;
    let mut comments = 0;
    for item in &new.0 {
        match item {
            Item::Comment(_) => comments += 1,
            Item::Entry(k, v) => {
                if old.get(k).is_some() {
                    previous = Some(k);
                    comments = 0;
                } else {
                    out.push((previous, comments, k.as_str(), v));
                }
            }
        }
    }
    out
}

/// What the YAML edits need to know of the whole file.
struct Shape<'a> {
    /// The indent step of nested mappings.
    step: usize,
    /// Where the comments start.
    comments: &'a [usize],
}

/// The text an entry removed at `entry` leaves: the inline comment of its
/// first line, on a line of its own.
fn left_over(text: &str, entry: &Entry, indent: usize, comments: &[usize]) -> String {
    let first_end = text[entry.start..entry.end]
        .find('\n')
        .map_or(entry.end, |i| entry.start + i);
    match comments
        .iter()
        .find(|&&c| c > entry.start + indent && c < first_end)
    {
        Some(&c) => {
            // The span starts at or after the `#`.
            let hash = text[..=c.min(first_end - 1)].rfind('#').unwrap_or(c);
            format!(
                "{}{}\n",
                " ".repeat(indent),
                text[hash..first_end].trim_end()
            )
        }
        None => String::new(),
    }
}

fn yaml_map(
    text: &str,
    region: Range<usize>,
    indent: usize,
    old: &Map,
    new: &Map,
    shape: &Shape<'_>,
    edits: &mut Vec<(Range<usize>, String)>,
) -> Result<(), PreserveError> {
    let step = shape.step;
    let entries = yaml_entries(text, region.clone(), indent)?;
    let keys: Vec<&str> = old.entries().map(|(k, _)| k).collect();
    if entries.len() != keys.len() || entries.iter().zip(&keys).any(|(e, k)| e.key != *k) {
        return Err(cannot());
    }
    for entry in &entries {
        let (Some(was), now) = (old.get(&entry.key), new.get(&entry.key)) else {
            return Err(cannot());
        };
        match now {
            None => edits.push((
                entry.start..entry.end,
                left_over(text, entry, indent, shape.comments),
            )),
            Some(Value::Map(n)) => {
                if let Value::Map(o) = was {
                    if o != n && !same_shape_map(o, n) {
                        let rest = &text[entry.rest.clone()];
                        if !(rest.is_empty() || rest.starts_with('#')) {
                            return Err(cannot());
                        }
                        let body = text[entry.start..entry.end]
                            .find('\n')
                            .map_or(entry.end, |i| entry.start + i + 1);
                        let child = lines_of(text, body..entry.end)
                            .iter()
                            .find(|l| !l.empty)
                            .map_or(indent + step, |l| l.indent);
                        yaml_map(text, body..entry.end, child, o, n, shape, edits)?;
                    }
                }
            }
            Some(_) => {}
        }
    }
    for (after, comments, key, value) in additions(old, new) {
        let at = insertion_point(text, region.clone(), &entries, after, comments)?;
        let mut one = Map::new();
        one.push(key, value.clone());
        let store = crate::format::yaml::YamlStore::new(&StoreOptions {
            yaml_indent: Some(step as i64),
            ..Default::default()
        });
        let emitted = crate::format::Store::emit_plain(&store, &[one]).map_err(|_| cannot())?;
        let emitted = String::from_utf8(emitted).map_err(|_| cannot())?;
        let pad = " ".repeat(indent);
        let mut block = String::new();
        if at > 0 && !text[..at].ends_with('\n') {
            block.push('\n');
        }
        for line in emitted.lines() {
            if !line.is_empty() {
                block.push_str(&pad);
            }
            block.push_str(line);
            block.push('\n');
        }
        edits.push((at..at, block));
    }
    Ok(())
}

fn same_shape_map(a: &Map, b: &Map) -> bool {
    same_shape(std::slice::from_ref(a), std::slice::from_ref(b))
}

fn dotenv_map(
    text: &str,
    old: &Map,
    new: &Map,
    edits: &mut Vec<(Range<usize>, String)>,
) -> Result<(), PreserveError> {
    let region = 0..text.len();
    let mut entries = Vec::new();
    for line in lines_of(text, region.clone()) {
        let body = text[line.range.clone()].trim_end_matches(['\n', '\r']);
        if body.trim().is_empty() || body.trim_start().starts_with('#') {
            continue;
        }
        let key = body.split_once('=').ok_or_else(cannot)?.0;
        entries.push(Entry {
            key: key.to_string(),
            start: line.range.start,
            end: line.range.end,
            rest: 0..0,
        });
    }
    for entry in &entries {
        if old.get(&entry.key).is_none() {
            return Err(cannot());
        }
        if new.get(&entry.key).is_none() {
            edits.push((entry.start..entry.end, String::new()));
        }
    }
    for (after, comments, key, value) in additions(old, new) {
        let at = insertion_point(text, region.clone(), &entries, after, comments)?;
        let mut one = Map::new();
        one.push(key, value.clone());
        let store = FormatKind::Dotenv.store(&StoreOptions::default());
        let emitted = store.emit_plain(&[one]).map_err(|_| cannot())?;
        let mut block = String::from_utf8(emitted).map_err(|_| cannot())?;
        if at > 0 && !text[..at].ends_with('\n') {
            block.insert(0, '\n');
        }
        edits.push((at..at, block));
    }
    Ok(())
}

/// One INI section of the text: its name and the bytes after its header
/// line up to the next header.
struct Section {
    name: String,
    body: Range<usize>,
}

/// The sections of an INI text (the lines before the first header, the
/// implicit `DEFAULT` section, are not one).
fn ini_section_list(text: &str) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    for line in lines_of(text, 0..text.len()) {
        let body = text[line.range.clone()].trim();
        if let Some(name) = body.strip_prefix('[').and_then(|b| b.strip_suffix(']')) {
            if let Some(last) = sections.last_mut() {
                last.body.end = line.range.start;
            }
            sections.push(Section {
                name: name.trim().to_string(),
                body: line.range.end..text.len(),
            });
        }
    }
    sections
}

/// The `key = value` lines of an INI section body.
fn ini_entries(text: &str, body: Range<usize>) -> Result<Vec<Entry>, PreserveError> {
    let mut entries = Vec::new();
    for line in lines_of(text, body) {
        let content = text[line.range.clone()].trim();
        if content.is_empty() || content.starts_with([';', '#']) {
            continue;
        }
        let at = content.find(['=', ':']).ok_or_else(cannot)?;
        let start = line.range.start
            + (text[line.range.clone()].len() - text[line.range.clone()].trim_start().len());
        entries.push(Entry {
            key: content[..at].trim().to_string(),
            start: line.range.start,
            end: line.range.end,
            // The separator with its spaces, as the file writes it.
            rest: start + content[..at].trim_end().len()
                ..start + at + 1 + (content[at + 1..].len() - content[at + 1..].trim_start().len()),
        });
    }
    Ok(entries)
}

/// The value text of `value` as the INI store writes it.
fn ini_value(key: &str, value: &Value) -> Result<String, PreserveError> {
    let mut section = Map::new();
    section.push(key, value.clone());
    let mut doc = Map::new();
    doc.push("s", Value::Map(section));
    let store = FormatKind::Ini.store(&StoreOptions::default());
    let emitted = store.emit_plain(&[doc]).map_err(|_| cannot())?;
    let emitted = String::from_utf8(emitted).map_err(|_| cannot())?;
    let line = emitted
        .lines()
        .find(|l| l.starts_with(key))
        .ok_or_else(cannot)?;
    Ok(line[key.len()..]
        .trim_start()
        .strip_prefix('=')
        .ok_or_else(cannot)?
        .trim_start()
        .to_string())
}

fn ini_sections(
    text: &str,
    old: &Map,
    new: &Map,
    edits: &mut Vec<(Range<usize>, String)>,
) -> Result<(), PreserveError> {
    let sections = ini_section_list(text);
    for (name, now) in new.entries() {
        let was = old.get(name);
        if was == Some(now) {
            continue;
        }
        let (Value::Map(n), Some(Value::Map(o))) = (now, was) else {
            if was.is_none() {
                continue; // a new section: below
            }
            return Err(cannot());
        };
        let mut found = sections.iter().filter(|s| s.name == name);
        let (Some(section), None) = (found.next(), found.next()) else {
            return Err(cannot());
        };
        if name == "DEFAULT" {
            return Err(cannot());
        }
        let entries = ini_entries(text, section.body.clone())?;
        let keys: Vec<&str> = o.entries().map(|(k, _)| k).collect();
        if entries.len() != keys.len() || entries.iter().zip(&keys).any(|(e, k)| e.key != *k) {
            return Err(cannot());
        }
        for entry in &entries {
            if n.get(&entry.key).is_none() {
                edits.push((entry.start..entry.end, String::new()));
            }
        }
        // The separator of the entry before, else of the section's last.
        for (after, comments, key, value) in additions(o, n) {
            let at = insertion_point(text, section.body.clone(), &entries, after, comments)?;
            let like = after
                .and_then(|a| entries.iter().find(|e| e.key == a))
                .or(entries.last());
            let separator = like.map_or(" = ", |e| &text[e.rest.clone()]);
            let mut line = format!("{key}{separator}{}\n", ini_value(key, value)?);
            if at > 0 && !text[..at].ends_with('\n') {
                line.insert(0, '\n');
            }
            edits.push((at..at, line));
        }
    }
    for (name, _) in old.entries() {
        if new.get(name).is_none() {
            return Err(cannot());
        }
    }
    // New sections, at the end of the file, after a blank line.
    let mut tail = String::new();
    for (name, now) in new.entries() {
        if old.get(name).is_some() {
            continue;
        }
        let Value::Map(n) = now else {
            return Err(cannot());
        };
        if !text.is_empty() || !tail.is_empty() {
            tail.push('\n');
        }
        tail.push_str(&format!("[{name}]\n"));
        for (key, value) in n.entries() {
            tail.push_str(&format!("{key} = {}\n", ini_value(key, value)?));
        }
    }
    if !tail.is_empty() {
        if !text.is_empty() && !text.ends_with('\n') {
            tail.insert(0, '\n');
        }
        edits.push((text.len()..text.len(), tail));
    }
    Ok(())
}

/// A JSON object of the text: where its braces are and its members.
struct JsonObject {
    open: usize,
    close: usize,
    members: Vec<JsonMember>,
}

/// One member: where its key starts and ends, where its value starts and
/// ends, and the value when it is an object.
struct JsonMember {
    key: String,
    key_start: usize,
    key_end: usize,
    value_start: usize,
    value_end: usize,
    object: Option<JsonObject>,
}

fn json_space(text: &[u8], at: &mut usize) {
    while *at < text.len() && matches!(text[*at], b' ' | b'\t' | b'\n' | b'\r') {
        *at += 1;
    }
}

/// Skips one JSON value at `at`; `Some` with its layout when it is an
/// object.
fn json_value(text: &[u8], at: &mut usize) -> Result<Option<JsonObject>, PreserveError> {
    json_space(text, at);
    match text.get(*at).ok_or_else(cannot)? {
        b'{' => {
            let open = *at;
            *at += 1;
            let mut members = Vec::new();
            loop {
                json_space(text, at);
                match text.get(*at).ok_or_else(cannot)? {
                    b'}' => {
                        let close = *at;
                        *at += 1;
                        return Ok(Some(JsonObject {
                            open,
                            close,
                            members,
                        }));
                    }
                    b',' => *at += 1,
                    b'"' => {
                        let key_start = *at;
                        json_string(text, at)?;
                        let key_end = *at;
                        let key: String = serde_json::from_slice(&text[key_start..key_end])
                            .map_err(|_| cannot())?;
                        json_space(text, at);
                        if text.get(*at) != Some(&b':') {
                            return Err(cannot());
                        }
                        *at += 1;
                        json_space(text, at);
                        let value_start = *at;
                        let object = json_value(text, at)?;
                        members.push(JsonMember {
                            key,
                            key_start,
                            key_end,
                            value_start,
                            value_end: *at,
                            object,
                        });
                    }
                    _ => return Err(cannot()),
                }
            }
        }
        b'[' => {
            *at += 1;
            loop {
                json_space(text, at);
                match text.get(*at).ok_or_else(cannot)? {
                    b']' => {
                        *at += 1;
                        return Ok(None);
                    }
                    b',' => *at += 1,
                    _ => {
                        let from = *at;
                        json_value(text, at)?;
                        if *at == from {
                            return Err(cannot());
                        }
                    }
                }
            }
        }
        b'"' => json_string(text, at).map(|()| None),
        _ => {
            while *at < text.len()
                && !matches!(text[*at], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                *at += 1;
            }
            Ok(None)
        }
    }
}

fn json_string(text: &[u8], at: &mut usize) -> Result<(), PreserveError> {
    *at += 1;
    while *at < text.len() {
        match text[*at] {
            b'\\' => *at += 2,
            b'"' => {
                *at += 1;
                return Ok(());
            }
            _ => *at += 1,
        }
    }
    Err(cannot())
}

fn json_map(
    text: &str,
    object: &JsonObject,
    old: &Map,
    new: &Map,
    edits: &mut Vec<(Range<usize>, String)>,
) -> Result<(), PreserveError> {
    let members = &object.members;
    let keys: Vec<&str> = old.entries().map(|(k, _)| k).collect();
    if members.len() != keys.len() || members.iter().zip(&keys).any(|(m, k)| m.key != *k) {
        return Err(cannot());
    }
    let kept = members.iter().filter(|m| new.get(&m.key).is_some()).count();
    for (i, member) in members.iter().enumerate() {
        match (old.get(&member.key), new.get(&member.key)) {
            // The object becomes empty: `{}` as the file wrote its braces.
            (_, None) if kept == 0 && i == 0 => {
                edits.push((object.open + 1..object.close, String::new()));
            }
            (_, None) if kept == 0 => {}
            (_, None) => {
                // With the separator before it (the members after it keep
                // their own spacing), or after it when it is the first.
                let range = match i {
                    0 => member.key_start..members[1].key_start,
                    _ => members[i - 1].value_end..member.value_end,
                };
                edits.push((range, String::new()));
            }
            (Some(Value::Map(o)), Some(Value::Map(n))) if o != n && !same_shape_map(o, n) => {
                let child = member.object.as_ref().ok_or_else(cannot)?;
                json_map(text, child, o, n, edits)?;
            }
            _ => {}
        }
    }
    let store = FormatKind::Json.store(&StoreOptions::default());
    for (after, _, key, value) in additions(old, new) {
        if matches!(value, Value::Map(_) | Value::List(_)) {
            return Err(cannot());
        }
        let rendered = store.emit_value(value).map_err(|_| cannot())?;
        let rendered = String::from_utf8(rendered).map_err(|_| cannot())?;
        let quoted = serde_json::to_string(key).map_err(|_| cannot())?;
        // The spacing of the member before (or the first one).
        let like = after
            .and_then(|a| members.iter().position(|m| m.key == a))
            .or((!members.is_empty()).then_some(0));
        let (separator, gap) = match like {
            Some(j) => {
                let m = &members[j];
                // The space between two members (after the comma), else
                // after the opening brace.
                let pair = if j > 0 {
                    Some(j - 1)
                } else {
                    (members.len() > 1).then_some(0)
                };
                let gap = match pair {
                    Some(p) => {
                        let between = &text[members[p].value_end..members[p + 1].key_start];
                        between.trim_start().trim_start_matches(',').to_string()
                    }
                    None => text[object.open + 1..m.key_start].to_string(),
                };
                (text[m.key_end..m.value_start].to_string(), gap)
            }
            None => (": ".to_string(), String::new()),
        };
        let member = format!("{quoted}{separator}{rendered}");
        match after.and_then(|a| members.iter().find(|m| m.key == a)) {
            Some(m) => edits.push((m.value_end..m.value_end, format!(",{gap}{member}"))),
            None if members.is_empty() => {
                edits.push((object.open + 1..object.open + 1, member));
            }
            None => {
                let first = &members[0];
                edits.push((first.key_start..first.key_start, format!("{member},{gap}")));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(kind: FormatKind, text: &str) -> Vec<Map> {
        kind.store(&StoreOptions::default())
            .parse_plain(text.as_bytes())
            .unwrap()
    }

    fn change(kind: FormatKind, text: &str, f: impl Fn(&mut Map)) -> Result<String, PreserveError> {
        let old = parse(kind, text);
        let mut new = old.clone();
        f(&mut new[0]);
        retext(kind, text.as_bytes(), &old, &new).map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn unset_keeps_an_inline_comment() {
        let text = "# top\nname:   svc   # the name\ndb:\n  user: admin\n";
        let out = change(FormatKind::Yaml, text, |m| {
            m.remove("name");
        });
        assert_eq!(out.unwrap(), "# top\n# the name\ndb:\n  user: admin\n");
    }

    #[test]
    fn a_new_key_goes_at_the_end_of_its_mapping_in_the_file_style() {
        let text = "a: 1   # one\nsub:\n   x: 'q'\n   # tail\n\nz: [1, 2]\n";
        let out = change(FormatKind::Yaml, text, |m| {
            m.push("new", Value::Str("v".into()));
            let Some(Value::Map(sub)) = m.get_mut("sub") else {
                panic!()
            };
            sub.push(
                "y",
                Value::Map(Map(vec![Item::Entry("k".into(), Value::Int(2))])),
            );
        })
        .unwrap();
        assert_eq!(
            out,
            "a: 1   # one\nsub:\n   x: 'q'\n   # tail\n   \"y\":\n      k: 2\n\nz: [1, 2]\nnew: v\n"
        );
    }

    #[test]
    fn changed_values_keep_their_style() {
        let text = "{ \"a\" : \"x\",\n  \"b\":1 }\n";
        let out = change(FormatKind::Json, text, |m| {
            *m.get_mut("a").unwrap() = Value::Str("y z".into());
        })
        .unwrap();
        assert_eq!(out, "{ \"a\" : \"y z\",\n  \"b\":1 }\n");
        let ini = "; c\n[s]\nk   =  v\n";
        let out = change(FormatKind::Ini, ini, |m| {
            let Some(Value::Map(s)) = m.get_mut("s") else {
                panic!()
            };
            *s.get_mut("k").unwrap() = Value::Str("w".into());
        })
        .unwrap();
        assert_eq!(out, "; c\n[s]\nk   =  w\n");
    }

    #[test]
    fn json_members_are_added_and_removed_in_the_object_style() {
        let json = "{ \"a\" : 1,\n    \"b\":\"x\",\n    \"o\": {\"p\": true,  \"q\": null}\n}\n";
        let out = change(FormatKind::Json, json, |m| {
            m.remove("a");
            m.push("n", Value::Str("w\"".into()));
            let Some(Value::Map(o)) = m.get_mut("o") else {
                panic!()
            };
            o.remove("q");
            o.push("r", Value::Int(2));
        })
        .unwrap();
        assert_eq!(
            out,
            "{ \"b\":\"x\",\n    \"o\": {\"p\": true,  \"r\": 2},\n    \"n\": \"w\\\"\"\n}\n"
        );
        let out = change(FormatKind::Json, "{\"a\": {\"b\": 1}}", |m| {
            let Some(Value::Map(o)) = m.get_mut("a") else {
                panic!()
            };
            o.remove("b");
        })
        .unwrap();
        assert_eq!(out, "{\"a\": {}}");
    }

    #[test]
    fn dotenv_lines_are_added_and_removed() {
        let text = "# db\nexport USER='admin'\nPASS=x\n\nLAST=1";
        let out = change(FormatKind::Dotenv, text, |m| {
            m.remove("PASS");
            m.push("NEW", Value::Str("n".into()));
        })
        .unwrap();
        assert_eq!(out, "# db\nexport USER='admin'\n\nLAST=1\nNEW=n\n");
    }

    #[test]
    fn ini_keys_are_added_and_removed_in_the_section_style() {
        let ini = "[s]\nk   =  v\nx=1\n\n[t]\n; about a\na = b\n";
        let out = change(FormatKind::Ini, ini, |m| {
            let Some(Value::Map(s)) = m.get_mut("s") else {
                panic!()
            };
            s.remove("x");
            s.push("n", Value::Str("w".into()));
            m.push(
                "u",
                Value::Map(Map(vec![Item::Entry("p".into(), Value::Str("q".into()))])),
            );
        })
        .unwrap();
        assert_eq!(
            out,
            "[s]\nk   =  v\nn   =  w\n\n[t]\n; about a\na = b\n\n[u]\np = q\n"
        );
        // The reader puts a key's comment lines after it: a new key in a
        // section with comments is refused rather than misplaced.
        let commented = "[s]\n; about k\nk = v\n";
        let err = change(FormatKind::Ini, commented, |m| {
            let Some(Value::Map(s)) = m.get_mut("s") else {
                panic!()
            };
            s.push("n", Value::Str("w".into()));
        })
        .unwrap_err();
        assert!(err.to_string().contains("edit --preserve-format"), "{err}");
    }

    #[test]
    fn structure_changes_that_cannot_be_kept_are_refused() {
        // A new JSON member that is an object or array.
        let json = "{\"k\": \"v\"}\n";
        let err = change(FormatKind::Json, json, |m| {
            m.push("n", Value::Map(Map::new()));
        })
        .unwrap_err();
        assert!(err.to_string().contains("edit --preserve-format"), "{err}");
        // A scalar that becomes a mapping.
        let err = change(FormatKind::Yaml, "a: 1\n", |m| {
            *m.get_mut("a").unwrap() = Value::Map(Map::new());
        })
        .unwrap_err();
        assert!(err.to_string().contains("own layout"), "{err}");
    }
}

//! The INI store (format.md §10.4).
//!
//! sops reads and writes INI with the Go library `gopkg.in/ini.v1` 1.67
//! (non-unique sections allowed, pretty format). This module reproduces the
//! parts of its parser and writer that sops exercises, byte for byte:
//!
//! * the implicit `DEFAULT` section is always the first section, even when
//!   empty; repeated section headers make repeated sections;
//! * `;`/`#` comment lines attach to the next section header or key, and an
//!   inline comment (after `]` or in an unquoted value) is appended to it;
//! * keys end at the first `=` or `:`; values may be quoted with `"""…"""`
//!   (possibly spanning lines), `` `…` ``, or surrounding `"`/`'`;
//! * writing aligns the `=` of a section, quotes values and keys that need
//!   it, writes comments above their header or key as `; text`, and puts a
//!   blank line between sections.
//!
//! In the tree a section is a top-level entry whose value is a mapping: its
//! comment (if any) is the first item, and each key is followed by its
//! comment item (if any). The metadata of an encrypted file is a last
//! `[sops]` section holding the flattened metadata (§9) with newlines in
//! strings escaped as `\n`.

use super::flatten::{flatten, unflatten};
use super::{EncryptedFile, FormatError, Store};
use crate::gofmt::{format_flat_float, format_g, format_json_float};
use crate::tree::{Comment, Item, Map, Timestamp, Value};
use std::collections::HashMap;

/// The name of the implicit first section.
const DEFAULT_SECTION: &str = "DEFAULT";

/// The name of the metadata section.
const METADATA_SECTION: &str = "sops";

/// go-ini's message for a line without `=` or `:` (go-ini adds the line,
/// which may hold a secret: enseal names its number instead).
const DELIMITER_NOT_FOUND: &str = "key-value delimiter not found";

/// The INI store.
///
/// Error texts are those of sops 3.11 with `gopkg.in/ini.v1`: parse errors
/// of a plaintext file are prefixed `Could not unmarshal input data: `
/// (those of an encrypted file are go-ini's message alone, as sops prints
/// them), write errors `Error marshaling to ini: `. go-ini's messages quote
/// the offending line, which may hold a secret: enseal's name its line
/// number instead (`key-value delimiter not found (line 2)`).
pub struct IniStore;

impl Store for IniStore {
    fn parse_plain(&self, input: &[u8]) -> Result<Vec<Map>, FormatError> {
        let sections = parse_ini(input)
            .map_err(|e| FormatError::Parse(format!("Could not unmarshal input data: {e}")))?;
        Ok(vec![sections_to_tree(sections)])
    }

    fn parse_encrypted(&self, input: &[u8]) -> Result<EncryptedFile, FormatError> {
        let sections = parse_ini(input).map_err(FormatError::Parse)?;
        let mut metadata_section = None;
        let mut kept = Vec::with_capacity(sections.len());
        for section in sections {
            if section.name == METADATA_SECTION {
                if metadata_section.is_none() {
                    metadata_section = Some(section);
                }
            } else {
                kept.push(section);
            }
        }
        let metadata = match metadata_section {
            Some(section) => Some(section_to_metadata(section)?),
            None => None,
        };
        Ok(EncryptedFile {
            documents: vec![sections_to_tree(kept)],
            metadata,
        })
    }

    fn emit_plain(&self, documents: &[Map]) -> Result<Vec<u8>, FormatError> {
        let sections = tree_to_sections(documents).map_err(marshal_error)?;
        Ok(write_ini(&sections).map_err(marshal_error)?.into_bytes())
    }

    fn emit_encrypted(&self, documents: &[Map], metadata: &Map) -> Result<Vec<u8>, FormatError> {
        let mut sections = tree_to_sections(documents).map_err(marshal_error)?;
        let mut meta = OutSection::new(METADATA_SECTION.to_string());
        for (key, value) in flatten(metadata, "") {
            if matches!(value, Value::Null) {
                continue;
            }
            let text = value_to_text(&value);
            let text = match value {
                Value::Str(_) => text.replace('\n', "\\n"),
                _ => text,
            };
            meta.set_key(key, text).map_err(marshal_error)?;
        }
        sections.push(meta);
        Ok(write_ini(&sections).map_err(marshal_error)?.into_bytes())
    }

    fn emit_value(&self, value: &Value) -> Result<Vec<u8>, FormatError> {
        let mut out = String::new();
        go_json(value, &mut out)?;
        Ok(out.into_bytes())
    }

    fn has_metadata_key(&self, document: &Map) -> bool {
        document.get(METADATA_SECTION).is_some()
    }
}

fn marshal_error(message: String) -> FormatError {
    FormatError::Emit(format!("Error marshaling to ini: {message}"))
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/// A key as the parser holds it.
#[derive(Debug)]
struct ParsedKey {
    name: String,
    value: String,
    comment: String,
}

/// A section as the parser holds it.
#[derive(Debug)]
struct ParsedSection {
    name: String,
    comment: String,
    keys: Vec<ParsedKey>,
    /// Position of each key name in `keys`.
    index: HashMap<String, usize>,
}

impl ParsedSection {
    fn new(name: String) -> Self {
        ParsedSection {
            name,
            comment: String::new(),
            keys: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// Adds a key, or (like go-ini without shadows) replaces the value of
    /// an existing key of that name in place. Returns the key.
    fn new_key(&mut self, name: String, value: String) -> Result<&mut ParsedKey, String> {
        if name.is_empty() {
            return Err("error creating new key: empty key name".into());
        }
        let index = match self.index.get(&name) {
            Some(&i) => {
                self.keys[i].value = value;
                i
            }
            None => {
                self.index.insert(name.clone(), self.keys.len());
                self.keys.push(ParsedKey {
                    name,
                    value,
                    comment: String::new(),
                });
                self.keys.len() - 1
            }
        };
        Ok(&mut self.keys[index])
    }
}

/// The line reader and pending-comment state of go-ini's parser.
struct Parser<'a> {
    src: &'a str,
    pos: usize,
    eof: bool,
    comment: String,
}

impl<'a> Parser<'a> {
    /// The next line including its `\n`; at the end of input the rest
    /// (possibly empty) and `eof` set, like `bufio.Reader.ReadBytes('\n')`.
    fn read_line(&mut self) -> &'a str {
        let rest = &self.src[self.pos..];
        match rest.find('\n') {
            Some(i) => {
                self.pos += i + 1;
                &rest[..=i]
            }
            None => {
                self.pos = self.src.len();
                self.eof = true;
                rest
            }
        }
    }

    /// Reads the rest of a value opened by `quote` and not closed on its
    /// first line: everything up to the last `quote` of the first line
    /// that has one. A comment after the closing quote is kept.
    fn read_multilines(&mut self, mut value: String, quote: &str) -> Result<String, String> {
        // The line that opened the value (the parser is past it).
        let opened = self.src[..self.pos]
            .trim_end_matches('\n')
            .matches('\n')
            .count()
            + 1;
        loop {
            let next = self.read_line();
            if let Some(pos) = next.rfind(quote) {
                value.push_str(&next[..pos]);
                if let Some(comment) = clean_comment(&next[pos..]) {
                    self.comment.push_str(comment.trim());
                }
                return Ok(value);
            }
            value.push_str(next);
            if self.eof {
                return Err(format!(
                    "missing closing {} of the value opened on line {opened} (the value is not shown)",
                    go_quote(quote)
                ));
            }
        }
    }

    /// Joins the following lines while the value ends with a backslash.
    fn read_continuation_lines(&mut self, mut value: String) -> String {
        loop {
            let next = self.read_line().trim();
            if next.is_empty() {
                return value;
            }
            value.push_str(next);
            if !value.ends_with('\\') {
                return value;
            }
            value.pop();
        }
    }

    /// go-ini's `readValue`: the value after the delimiter.
    fn read_value(&mut self, input: &str) -> Result<String, String> {
        let line = input.trim_start();
        if line.is_empty() {
            return Ok(String::new());
        }
        let quote = if line.len() > 3 && line.starts_with("\"\"\"") {
            Some("\"\"\"")
        } else if line.starts_with('`') {
            Some("`")
        } else {
            None
        };
        if let Some(quote) = quote {
            let start = quote.len();
            let rest = &line[start..];
            return match rest.rfind(quote) {
                Some(pos) => Ok(rest[..pos].to_string()),
                None => self.read_multilines(rest.to_string(), quote),
            };
        }
        let mut line = line.trim();
        if let Some(without) = line.strip_suffix('\\') {
            return Ok(self.read_continuation_lines(without.to_string()));
        }
        if let Some(i) = line.find(['#', ';']) {
            self.comment.push_str(&line[i..]);
            line = line[..i].trim();
        }
        if has_surrounded_quote(line, b'\'') || has_surrounded_quote(line, b'"') {
            line = &line[1..line.len() - 1];
        }
        Ok(line.to_string())
    }

    /// Takes the pending comment, trimmed.
    fn take_comment(&mut self) -> String {
        let comment = self.comment.trim().to_string();
        self.comment.clear();
        comment
    }
}

/// The text from the first `#` or `;` on.
fn clean_comment(input: &str) -> Option<&str> {
    input.find(['#', ';']).map(|i| &input[i..])
}

/// True when `s` is `q…q` with no other `q` inside.
fn has_surrounded_quote(s: &str, q: u8) -> bool {
    let b = s.as_bytes();
    b.len() >= 2
        && b[0] == q
        && b[b.len() - 1] == q
        && b[1..].iter().position(|&c| c == q) == Some(b.len() - 2)
}

/// go-ini's `readKeyName`: the key and the offset of the value.
fn read_key_name(line: &str) -> Result<(String, usize), String> {
    let quote = if line.starts_with('"') {
        if line.len() > 6 && line.starts_with("\"\"\"") {
            "\"\"\""
        } else {
            "\""
        }
    } else if line.starts_with('`') {
        "`"
    } else {
        ""
    };
    if !quote.is_empty() {
        let start = quote.len();
        let pos = match line[start..].find(quote) {
            Some(p) => p + start,
            None => return Err(format!("missing closing key quote {}", go_quote(quote))),
        };
        let i = match line[pos + start..].find(['=', ':']) {
            Some(i) => i,
            None => return Err(DELIMITER_NOT_FOUND.into()),
        };
        let end = pos + i;
        return Ok((line[start..pos].trim().to_string(), end + start + 1));
    }
    match line.find(['=', ':']) {
        None => Err(DELIMITER_NOT_FOUND.into()),
        Some(0) => Err("empty key name".into()),
        Some(end) => Ok((line[..end].trim().to_string(), end + 1)),
    }
}

/// Parses INI text into its sections, the implicit `DEFAULT` first.
/// Errors are go-ini's messages.
fn parse_ini(input: &[u8]) -> Result<Vec<ParsedSection>, String> {
    let input = strip_bom(input);
    let src = std::str::from_utf8(input).map_err(|e| {
        format!(
            "invalid UTF-8 at byte {} (line {})",
            e.valid_up_to(),
            input[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1
        )
    })?;
    let mut parser = Parser {
        src,
        pos: 0,
        eof: false,
        comment: String::new(),
    };
    parse_sections(&mut parser).map_err(|message| {
        // Name the line: go-ini's messages quote it but not its number.
        let line = src[..parser.pos.min(src.len())]
            .trim_end_matches('\n')
            .matches('\n')
            .count()
            + 1;
        format!("{} (line {line})", message.trim_end_matches(['\n', '\r']))
    })
}

fn parse_sections(parser: &mut Parser<'_>) -> Result<Vec<ParsedSection>, String> {
    let mut sections = vec![ParsedSection::new(DEFAULT_SECTION.to_string())];
    let mut count = 1u64;
    while !parser.eof {
        let line = parser.read_line().trim_start();
        if line.is_empty() {
            continue;
        }
        if line.starts_with(['#', ';']) {
            parser.comment.push_str(line);
            continue;
        }
        if line.starts_with('[') {
            let close = line
                .rfind(']')
                .ok_or_else(|| "unclosed section: no `]` on the line".to_string())?;
            let name = &line[1..close];
            if name.is_empty() {
                return Err("empty section name".into());
            }
            let mut section = ParsedSection::new(name.to_string());
            if let Some(comment) = clean_comment(&line[close + 1..]) {
                parser.comment.push_str(comment);
            }
            section.comment = parser.take_comment();
            count = 1;
            sections.push(section);
            continue;
        }
        let (mut name, offset) = read_key_name(line)?;
        if name == "-" {
            name = format!("#{count}");
            count += 1;
        }
        let value = parser.read_value(&line[offset..])?;
        let comment = parser.take_comment();
        let section = sections
            .last_mut()
            .ok_or_else(|| "no section".to_string())?;
        section.new_key(name, value)?.comment = comment;
    }
    Ok(sections)
}

/// Drops a UTF-8 byte-order mark, or the two bytes of a UTF-16 one.
fn strip_bom(input: &[u8]) -> &[u8] {
    match input {
        [0xFE, 0xFF, rest @ ..] | [0xFF, 0xFE, rest @ ..] => rest,
        [0xEF, 0xBB, 0xBF, rest @ ..] => rest,
        _ => input,
    }
}

/// sops's `stripCommentChar`: removes the leading run of `;`/space (or
/// `#`/space) characters of a comment.
fn strip_comment_char(comment: &str) -> String {
    if comment.starts_with(';') {
        comment.trim_start_matches([';', ' ']).to_string()
    } else if comment.starts_with('#') {
        comment.trim_start_matches(['#', ' ']).to_string()
    } else {
        comment.to_string()
    }
}

/// The tree of one section: its comment, then each key and its comment.
fn section_to_map(section: ParsedSection) -> Map {
    let mut map = Map::new();
    if !section.comment.is_empty() {
        map.0.push(Item::Comment(Comment::new(strip_comment_char(
            &section.comment,
        ))));
    }
    for key in section.keys {
        map.0.push(Item::Entry(key.name, Value::Str(key.value)));
        if !key.comment.is_empty() {
            map.0.push(Item::Comment(Comment::new(strip_comment_char(
                &key.comment,
            ))));
        }
    }
    map
}

/// The document: one entry per section, in file order.
fn sections_to_tree(sections: Vec<ParsedSection>) -> Map {
    let mut document = Map::new();
    for section in sections {
        let name = section.name.clone();
        document.push(name, Value::Map(section_to_map(section)));
    }
    document
}

/// The metadata tree of a `[sops]` section: values with `\n` unescaped,
/// `mac_only_encrypted` as a boolean and `shamir_threshold` as an integer
/// (sops's `DecodeNonStrings`), then unflattened.
fn section_to_metadata(section: ParsedSection) -> Result<Map, FormatError> {
    let mut pairs = Vec::with_capacity(section.keys.len());
    for key in section.keys {
        let text = key.value.replace("\\n", "\n");
        let value = match key.name.as_str() {
            "mac_only_encrypted" => Value::Bool(text == "true"),
            "shamir_threshold" => Value::Int(parse_threshold(&text)?),
            _ => Value::Str(text),
        };
        pairs.push((key.name, value));
    }
    unflatten(&pairs)
}

/// `shamir_threshold`: an integer, or (older sops) an integral float.
fn parse_threshold(text: &str) -> Result<i64, FormatError> {
    if let Ok(n) = text.parse::<i64>() {
        return Ok(n);
    }
    match crate::gofmt::parse_float(text) {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(f as i64),
        _ => Err(FormatError::Parse(format!(
            "shamir_threshold is not an integer: strconv.Atoi: parsing {}: invalid syntax",
            go_quote(text)
        ))),
    }
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/// A key to write.
#[derive(Debug)]
struct OutKey {
    name: String,
    value: String,
    comment: String,
}

/// A section to write.
#[derive(Debug)]
struct OutSection {
    name: String,
    comment: String,
    keys: Vec<OutKey>,
    /// Position of each key name in `keys`.
    index: HashMap<String, usize>,
}

impl OutSection {
    fn new(name: String) -> Self {
        OutSection {
            name,
            comment: String::new(),
            keys: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// go-ini's `NewKey`: a repeated name replaces the earlier value in
    /// place (its comment stays). Returns the key's index.
    fn set_key(&mut self, name: String, value: String) -> Result<usize, String> {
        if name.is_empty() {
            return Err("Error encoding key: error creating new key: empty key name".into());
        }
        if let Some(&i) = self.index.get(&name) {
            self.keys[i].value = value;
            return Ok(i);
        }
        self.index.insert(name.clone(), self.keys.len());
        self.keys.push(OutKey {
            name,
            value,
            comment: String::new(),
        });
        Ok(self.keys.len() - 1)
    }
}

/// sops's `encodeTree`: every top-level entry of every document is a
/// section; top-level comments are dropped.
fn tree_to_sections(documents: &[Map]) -> Result<Vec<OutSection>, String> {
    let mut sections = Vec::new();
    for document in documents {
        for item in &document.0 {
            let (name, value) = match item {
                Item::Entry(name, value) => (name, value),
                Item::Comment(_) => continue,
            };
            if name.is_empty() {
                return Err("Error encoding section : empty section name".into());
            }
            let map = match value {
                Value::Map(map) => map,
                _ => {
                    return Err(
                        "Error encoding section: Section values should always be TreeBranches"
                            .into(),
                    )
                }
            };
            let mut section = OutSection::new(name.clone());
            let mut items = map.0.iter();
            if let Some(Item::Comment(comment)) = map.0.first() {
                section.comment = comment.text.clone();
                items.next();
            }
            let mut last = None;
            for item in items {
                match item {
                    Item::Comment(comment) => {
                        if let Some(i) = last {
                            let key: &mut OutKey = &mut section.keys[i];
                            key.comment = comment.text.clone();
                        }
                    }
                    Item::Entry(key, value) => {
                        last = Some(section.set_key(key.clone(), value_to_text(value))?);
                    }
                }
            }
            sections.push(section);
        }
    }
    Ok(sections)
}

/// Comment lines as go-ini writes them above a header (`trim_plain` false)
/// or a key (`trim_plain` true).
fn write_comment(out: &mut String, comment: &str, trim_plain: bool) {
    for line in comment.split('\n') {
        match line.chars().next() {
            Some(marker @ ('#' | ';')) => {
                out.push(marker);
                out.push(' ');
                out.push_str(line[1..].trim());
            }
            _ => {
                out.push_str("; ");
                out.push_str(if trim_plain { line.trim() } else { line });
            }
        }
        out.push('\n');
    }
}

/// The key as written: `` `k` `` when it holds `"`, `=` or `:`;
/// `"""k"""` when it holds a backquote.
fn quote_key(name: &str) -> String {
    if name.contains(['"', '=', ':']) {
        format!("`{name}`")
    } else if name.contains('`') {
        format!("\"\"\"{name}\"\"\"")
    } else {
        name.to_string()
    }
}

/// The value as written: as go-ini writes it (`"""v"""` with a newline or
/// backquote, `` `v` `` with `#` or `;`, `"v"` with surrounding whitespace),
/// except a value of several lines that go-ini would not read back.
///
/// go-ini reads a quoted value to the last quote of the first line that
/// holds one, so a value of several lines with `"""` on a line before its
/// last ends early there (sops 3.11 writes it anyway and reads the rest of
/// the value as keys: it cannot decrypt its own file). Such a value is
/// written between backquotes, which go-ini reads back unless a line
/// before the last holds one too: then `None` (no quoting reads back; INI
/// input never has such a value, another format may).
///
/// Values of one line are written as go-ini writes them even where it
/// reads them back otherwise (`"x"`, `a\`): the reference's output for
/// those is pinned by the INI goldens.
fn quote_value(value: &str) -> Option<String> {
    let go_ini = go_ini_quoted(value);
    if !value.contains('\n') || reads_back(&go_ini, value) {
        return Some(go_ini);
    }
    let backquoted = format!("`{value}`");
    reads_back(&backquoted, value).then_some(backquoted)
}

/// go-ini's choice of quotes for a value.
fn go_ini_quoted(value: &str) -> String {
    if value.contains(['\n', '`']) {
        format!("{MULTI_LINE_QUOTE}{value}{MULTI_LINE_QUOTE}")
    } else if value.contains(['#', ';']) {
        format!("`{value}`")
    } else if value.trim().len() != value.len() {
        format!("\"{value}\"")
    } else {
        value.to_string()
    }
}

/// Whether go-ini's reader, given `written` after a key's delimiter (and a
/// line break), reads exactly `value`: no comment, nothing read past it.
fn reads_back(written: &str, value: &str) -> bool {
    let text = format!("{written}\n");
    let mut parser = Parser {
        src: &text,
        pos: 0,
        eof: false,
        comment: String::new(),
    };
    let line = parser.read_line();
    let read = parser.read_value(line);
    matches!(read, Ok(read) if read == value)
        && parser.comment.is_empty()
        && parser.pos == text.len()
}

/// go-ini's quote for values with a newline or a backquote.
const MULTI_LINE_QUOTE: &str = "\"\"\"";

/// go-ini's pretty writer (quoting values so that go-ini reads them back,
/// see [`quote_value`]).
fn write_ini(sections: &[OutSection]) -> Result<String, String> {
    let mut out = String::new();
    let last = sections.len().saturating_sub(1);
    for (i, section) in sections.iter().enumerate() {
        if !section.comment.is_empty() {
            write_comment(&mut out, &section.comment, false);
        }
        if i > 0 || section.name.to_uppercase() != DEFAULT_SECTION {
            out.push('[');
            out.push_str(&section.name);
            out.push_str("]\n");
        } else if section.keys.is_empty() {
            continue;
        }
        let names: Vec<String> = section.keys.iter().map(|k| quote_key(&k.name)).collect();
        let align = names.iter().map(String::len).max().unwrap_or(0);
        for (key, name) in section.keys.iter().zip(&names) {
            if !key.comment.is_empty() {
                write_comment(&mut out, &key.comment, true);
            }
            out.push_str(name);
            out.extend(std::iter::repeat_n(' ', align - name.len()));
            out.push_str(" = ");
            let value = quote_value(&key.value).ok_or_else(|| {
                format!(
                    "Error encoding key: the value of {} in section [{}] has lines before its \
                     last holding both `\"\"\"` and a backquote: go-ini cannot read it back in \
                     any quoting (the value is not shown)",
                    go_quote(&key.name),
                    section.name
                )
            })?;
            out.push_str(&value);
            out.push('\n');
        }
        if i != last {
            out.push('\n');
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Values as text
// ---------------------------------------------------------------------------

/// sops's `ValToString` (format.md §10.6).
fn value_to_text(value: &Value) -> String {
    match value {
        Value::Str(s) => s.clone(),
        Value::Float(f) => format_flat_float(*f),
        Value::Time(t) => t.to_rfc3339(),
        other => go_value(other),
    }
}

/// Go's `fmt.Sprintf("%v", v)` of a sops value (used for values nested in
/// a section value: `[1 2.5 true <nil> x]`, `[{a 1} {b [{c d}]}]`).
fn go_value(value: &Value) -> String {
    match value {
        Value::Map(map) => {
            let items: Vec<String> = map
                .0
                .iter()
                .map(|item| match item {
                    Item::Entry(k, v) => format!("{{{k} {}}}", go_value(v)),
                    Item::Comment(c) => format!("{{{{{}}} <nil>}}", c.text),
                })
                .collect();
            format!("[{}]", items.join(" "))
        }
        Value::List(list) => {
            let items: Vec<String> = list.iter().map(go_value).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Str(s) => s.clone(),
        Value::Bytes(b) => {
            let items: Vec<String> = b.iter().map(u8::to_string).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Int(n) => n.to_string(),
        Value::Float(f) => format_g(*f, false),
        Value::Bool(b) => b.to_string(),
        Value::Time(t) => go_time_string(t),
        Value::Null => "<nil>".to_string(),
        Value::Comment(c) => format!("{{{}}}", c.text),
    }
}

/// Go's `time.Time.String()`: `2006-01-02 15:04:05.999999999 -0700 MST`.
fn go_time_string(t: &Timestamp) -> String {
    let mut out = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    );
    if t.nanos != 0 {
        let frac = format!("{:09}", t.nanos);
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    let sign = if t.offset_seconds < 0 { '-' } else { '+' };
    let abs = t.offset_seconds.unsigned_abs();
    let zone = format!("{sign}{:02}{:02}", abs / 3600, (abs % 3600) / 60);
    if t.offset_seconds == 0 {
        out.push_str(" +0000 UTC");
    } else {
        out.push(' ');
        out.push_str(&zone);
        out.push(' ');
        out.push_str(&zone);
    }
    out
}

/// Go's `%q` of a string (close enough for error messages: Rust's debug
/// escaping agrees on ASCII).
fn go_quote(s: &str) -> String {
    format!("{s:?}")
}

/// Go's `json.Marshal` of a sops value: HTML-safe string escaping, a
/// mapping as a list of `{"Key":…,"Value":…}` items (a `TreeBranch`).
fn go_json(value: &Value, out: &mut String) -> Result<(), FormatError> {
    match value {
        Value::Map(map) => {
            out.push('[');
            for (i, item) in map.0.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match item {
                    Item::Entry(k, v) => {
                        out.push_str("{\"Key\":");
                        go_json_string(k, out);
                        out.push_str(",\"Value\":");
                        go_json(v, out)?;
                        out.push('}');
                    }
                    Item::Comment(c) => {
                        out.push_str("{\"Key\":{\"Value\":");
                        go_json_string(&c.text, out);
                        out.push_str("},\"Value\":null}");
                    }
                }
            }
            out.push(']');
        }
        Value::List(list) => {
            out.push('[');
            for (i, v) in list.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(v, out)?;
            }
            out.push(']');
        }
        Value::Str(s) => go_json_string(s, out),
        Value::Bytes(b) => {
            use base64::Engine;
            out.push('"');
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
            out.push('"');
        }
        Value::Int(n) => out.push_str(&n.to_string()),
        Value::Float(f) => match format_json_float(*f) {
            Some(text) => out.push_str(&text),
            None => {
                return Err(FormatError::Emit(format!(
                    "json: unsupported value: {}",
                    format_g(*f, false)
                )))
            }
        },
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Time(t) => {
            out.push('"');
            out.push_str(&t.to_rfc3339_nano());
            out.push('"');
        }
        Value::Null => out.push_str("null"),
        Value::Comment(c) => {
            out.push_str("{\"Value\":");
            go_json_string(&c.text, out);
            out.push('}');
        }
    }
    Ok(())
}

/// A JSON string as Go's `encoding/json` writes it (`<`, `>`, `&`,
/// U+2028 and U+2029 escaped).
fn go_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(input: &str) -> String {
        let docs = IniStore.parse_plain(input.as_bytes()).unwrap();
        String::from_utf8(IniStore.emit_plain(&docs).unwrap()).unwrap()
    }

    /// Every `testdata/ini/NAME.ini` must come out as `NAME.expected.ini`,
    /// which is what the reference sops 3.11.0 printed for
    /// `sops decrypt (sops encrypt NAME.ini)`.
    #[test]
    fn golden_files_match_reference() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/ini");
        let mut checked = 0;
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if !name.ends_with(".ini") || name.ends_with(".expected.ini") {
                continue;
            }
            let expected_path = path.with_file_name(name.replace(".ini", ".expected.ini"));
            let Ok(expected) = std::fs::read(&expected_path) else {
                continue;
            };
            let input = std::fs::read(&path).unwrap();
            let docs = IniStore
                .parse_plain(&input)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let out = IniStore.emit_plain(&docs).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&expected),
                "{name}"
            );
            checked += 1;
        }
        assert!(checked >= 15, "only {checked} golden files");
    }

    /// `text` with the lines of its `[sops]` section sorted (sops 3.11
    /// writes them in random order; enseal sorts them).
    fn sort_metadata_lines(text: &str) -> String {
        let (body, meta) = text.split_once("[sops]\n").unwrap();
        let mut lines: Vec<&str> = meta.lines().collect();
        lines.sort_unstable();
        format!("{body}[sops]\n{}\n", lines.join("\n"))
    }

    /// Files written by the reference sops 3.11.0 (`encrypted/*.enc.ini`)
    /// read and write back byte for byte, up to the `[sops]` key order.
    #[test]
    fn encrypted_files_round_trip() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/ini/encrypted");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let file = IniStore.parse_encrypted(text.as_bytes()).unwrap();
            let metadata = file.metadata.expect("metadata");
            assert!(!IniStore.has_metadata_key(&file.documents[0]));
            let out = IniStore.emit_encrypted(&file.documents, &metadata).unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                sort_metadata_lines(&text),
                "{}",
                path.display()
            );
            checked += 1;
        }
        assert!(checked >= 3);
    }

    #[test]
    fn metadata_is_typed_and_unescaped() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/ini/encrypted");
        let text = std::fs::read(dir.join("groups.enc.ini")).unwrap();
        let meta = IniStore.parse_encrypted(&text).unwrap().metadata.unwrap();
        assert_eq!(meta.get("mac_only_encrypted"), Some(&Value::Bool(true)));
        assert_eq!(meta.get("shamir_threshold"), Some(&Value::Int(2)));
        let Some(Value::List(groups)) = meta.get("key_groups") else {
            panic!("key_groups: {meta:?}")
        };
        assert_eq!(groups.len(), 2);
        let Value::Map(group) = &groups[0] else {
            panic!()
        };
        let Some(Value::List(age)) = group.get("age") else {
            panic!()
        };
        let Value::Map(key) = &age[0] else { panic!() };
        let enc = key.get("enc").and_then(Value::as_str).unwrap();
        assert!(enc.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\nYWdl"));
        assert!(enc.ends_with("\n-----END AGE ENCRYPTED FILE-----\n"));
    }

    fn section(items: Vec<Item>) -> Value {
        Value::Map(Map(items))
    }

    fn entry(k: &str, v: Value) -> Item {
        Item::Entry(k.into(), v)
    }

    fn comment(text: &str) -> Item {
        Item::Comment(Comment::new(text))
    }

    fn emit(doc: Map) -> String {
        String::from_utf8(IniStore.emit_plain(&[doc]).unwrap()).unwrap()
    }

    #[test]
    fn tree_layout_of_sections_keys_and_comments() {
        let input = "g = 1\n;c1\n#c2\n[s] ; after\nk=v;semi\n# above\nk2 : x # hash\n";
        let docs = IniStore.parse_plain(input.as_bytes()).unwrap();
        let mut expected = Map::new();
        expected.push("DEFAULT", section(vec![entry("g", Value::Str("1".into()))]));
        expected.push(
            "s",
            section(vec![
                comment("c1\n#c2\n; after"),
                entry("k", Value::Str("v".into())),
                comment("semi"),
                entry("k2", Value::Str("x".into())),
                comment("above\n# hash"),
            ]),
        );
        assert_eq!(docs, vec![expected]);
        assert_eq!(
            round_trip(input),
            "g = 1\n\n; c1\n# c2\n; after\n[s]\n; semi\nk  = v\n; above\n# hash\nk2 = x\n"
        );
    }

    #[test]
    fn default_section_always_first_and_empty_one_omitted() {
        let docs = IniStore.parse_plain(b"[a]\nx = 1\n").unwrap();
        assert_eq!(docs[0].0.len(), 2);
        assert_eq!(docs[0].get("DEFAULT"), Some(&Value::Map(Map::new())));
        assert_eq!(round_trip("[a]\nx = 1\n"), "[a]\nx = 1\n");
        assert_eq!(
            round_trip("k=v\n[DEFAULT]\nk2=v2\n"),
            "k = v\n\n[DEFAULT]\nk2 = v2\n"
        );
        assert_eq!(round_trip(""), "");
    }

    #[test]
    fn quoting_on_write() {
        let mut doc = Map::new();
        doc.push(
            "s",
            section(vec![
                entry("nl", Value::Str("a\nb".into())),
                entry("bq", Value::Str("a`b".into())),
                entry("semi", Value::Str("a;b".into())),
                entry("hash", Value::Str("a#b".into())),
                entry("lead", Value::Str(" a".into())),
                entry("empty", Value::Str(String::new())),
                entry("k=1", Value::Str("v".into())),
                entry("k\"q", Value::Str("v".into())),
                entry("k`b", Value::Str("v".into())),
            ]),
        );
        assert_eq!(
            emit(doc),
            "[s]\nnl        = \"\"\"a\nb\"\"\"\nbq        = \"\"\"a`b\"\"\"\n\
             semi      = `a;b`\nhash      = `a#b`\nlead      = \" a\"\n\
             empty     = \n`k=1`     = v\n`k\"q`     = v\n\"\"\"k`b\"\"\" = v\n"
        );
    }

    #[test]
    fn comment_markers_on_write() {
        let mut doc = Map::new();
        doc.push(
            "s",
            section(vec![
                comment("plain  \n;semi  \n#hash"),
                entry("k", Value::Str("v".into())),
                comment("ENC[AES256_GCM,data:x,type:comment]\n  two  "),
                entry("k2", Value::Str("v".into())),
            ]),
        );
        doc.0.push(comment("top-level comments are dropped"));
        assert_eq!(
            emit(doc),
            "; plain  \n; semi\n# hash\n[s]\n\
             ; ENC[AES256_GCM,data:x,type:comment]\n; two\nk  = v\nk2 = v\n"
        );
    }

    #[test]
    fn duplicate_keys_keep_first_position() {
        let mut doc = Map::new();
        doc.push(
            "s",
            section(vec![
                entry("a", Value::Str("1".into())),
                comment("ca"),
                entry("b", Value::Str("2".into())),
                entry("a", Value::Str("3".into())),
            ]),
        );
        assert_eq!(emit(doc), "[s]\n; ca\na = 3\nb = 2\n");
        assert_eq!(
            round_trip("[s]\n;x\na=1\nb=2\na=3\n"),
            "[s]\na = 3\nb = 2\n"
        );
    }

    #[test]
    fn non_string_values_as_text() {
        // The reference's output for `sops decrypt --output-type ini` of a
        // YAML file with these values.
        let mut nested = Map::new();
        nested.push("e", Value::Int(1));
        let mut inner = Map::new();
        inner.push("g", Value::Str("h".into()));
        nested.push("f", Value::Map(inner));
        let mut doc = Map::new();
        doc.push(
            "b",
            section(vec![
                entry(
                    "c",
                    Value::List(vec![
                        Value::Int(1),
                        Value::Float(2.5),
                        Value::Bool(true),
                        Value::Null,
                        Value::Str("x<y".into()),
                    ]),
                ),
                entry("d", Value::Map(nested)),
                entry(
                    "t",
                    Value::Time(Timestamp::parse_rfc3339("2001-12-14t21:59:43.10-05:00").unwrap()),
                ),
                entry("f", Value::Float(1000.0)),
                entry("g", Value::Float(1e21)),
                entry("n", Value::Null),
                entry("i", Value::Int(-5)),
                entry("l", Value::List(vec![Value::Float(2.5e30)])),
            ]),
        );
        assert_eq!(
            emit(doc),
            "[b]\nc = [1 2.5 true <nil> x<y]\nd = [{e 1} {f [{g h}]}]\n\
             t = 2001-12-14T21:59:43-05:00\nf = 1000.0\ng = 1E+21\nn = <nil>\n\
             i = -5\nl = [2.5e+30]\n"
        );
    }

    /// Values of several lines that go-ini writes but cannot read back are
    /// written in the quotes it reads back (sops 3.11 writes `"""` and,
    /// reading it, ends the value early).
    #[test]
    fn values_are_quoted_so_that_go_ini_reads_them_back() {
        let cases: &[(&str, &str)] = &[
            // go-ini's own choice where it reads back.
            ("a\nb", "\"\"\"a\nb\"\"\""),
            ("a\nb\"\"\"c", "\"\"\"a\nb\"\"\"c\"\"\""),
            ("a\nb`c", "\"\"\"a\nb`c\"\"\""),
            ("a\n", "\"\"\"a\n\"\"\""),
            ("x`", "\"\"\"x`\"\"\""),
            ("\"\"\"x`", "\"\"\"\"\"\"x`\"\"\""),
            // `"""` on a line before the last: backquotes.
            (
                "x\n[b]\nk1 = \"\"\"token x\"\"\"\nk1 = 9",
                "`x\n[b]\nk1 = \"\"\"token x\"\"\"\nk1 = 9`",
            ),
            ("\"\"\"\nx", "`\"\"\"\nx`"),
        ];
        for &(value, written) in cases {
            assert_eq!(quote_value(value).as_deref(), Some(written), "{value:?}");
            let text = format!("[s]\nk = {written}\nnext = 1\n");
            let docs = IniStore.parse_plain(text.as_bytes()).unwrap();
            let Some(Value::Map(s)) = docs[0].get("s") else {
                panic!("no section in {text:?}");
            };
            assert_eq!(s.get("k"), Some(&Value::Str(value.into())), "{text:?}");
            assert_eq!(s.get("next"), Some(&Value::Str("1".into())), "{text:?}");
        }
        // No quoting reads back both quotes before the last line.
        assert_eq!(quote_value("a`\nb\"\"\"\nc"), None);
    }

    /// The case the differential harness found: a clear-text value read
    /// from an unclosed backquote holds a line with `"""` (sops 3.11
    /// cannot decrypt its own file there).
    #[test]
    fn unclosed_backtick_value_round_trips() {
        let input = "[a]\nk_unencrypted = `x\n[b]\nk1 = \"\"\"t\"\"\"\nk1 = 9\nk2 = y`\n";
        let docs = IniStore.parse_plain(input.as_bytes()).unwrap();
        let written = IniStore.emit_plain(&docs).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&written),
            "[a]\nk_unencrypted = `x\n[b]\nk1 = \"\"\"t\"\"\"\nk1 = 9\nk2 = y`\n"
        );
        assert_eq!(IniStore.parse_plain(&written).unwrap(), docs);
    }

    #[test]
    fn emit_errors() {
        let mut doc = Map::new();
        doc.push("a", Value::Int(1));
        assert_eq!(
            IniStore.emit_plain(&[doc]).unwrap_err().to_string(),
            "Error marshaling to ini: Error encoding section: Section values should always be TreeBranches"
        );
        let mut doc = Map::new();
        doc.push("s", section(vec![entry("", Value::Str("x".into()))]));
        assert_eq!(
            IniStore.emit_plain(&[doc]).unwrap_err().to_string(),
            "Error marshaling to ini: Error encoding key: error creating new key: empty key name"
        );
        let mut doc = Map::new();
        doc.push(
            "s",
            section(vec![entry("k", Value::Str("a`\nb\"\"\"\nc".into()))]),
        );
        assert_eq!(
            IniStore.emit_plain(&[doc]).unwrap_err().to_string(),
            "Error marshaling to ini: Error encoding key: the value of \"k\" in section [s] has \
             lines before its last holding both `\"\"\"` and a backquote: go-ini cannot read it \
             back in any quoting (the value is not shown)"
        );
    }

    /// go-ini's messages, without the line it quotes (it may hold a
    /// secret): the line number is given instead.
    #[test]
    fn parse_errors_match_go_ini() {
        let err = |input: &str| {
            IniStore
                .parse_plain(input.as_bytes())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("[s]\nfoo\n"),
            "Could not unmarshal input data: key-value delimiter not found (line 2)"
        );
        assert_eq!(
            err("[]\n"),
            "Could not unmarshal input data: empty section name (line 1)"
        );
        assert_eq!(
            err("=1\n"),
            "Could not unmarshal input data: empty key name (line 1)"
        );
        assert_eq!(
            err("[s\n"),
            "Could not unmarshal input data: unclosed section: no `]` on the line (line 1)"
        );
        assert_eq!(
            err("a=\"\"\"x\n"),
            "Could not unmarshal input data: missing closing \"\\\"\\\"\\\"\" of the value opened on line 1 (the value is not shown) (line 1)"
        );
        // Encrypted files: go-ini's message alone, as sops 3.11 prints it.
        assert_eq!(
            IniStore.parse_encrypted(b"foo").unwrap_err().to_string(),
            "key-value delimiter not found (line 1)"
        );
        assert_eq!(
            err("[s]\na = 1\nk = `x\ny\nz\n"),
            "Could not unmarshal input data: missing closing \"`\" of the value opened on line 3 (the value is not shown) (line 5)"
        );
        assert_eq!(
            err("[s]\n\"key value\n"),
            "Could not unmarshal input data: missing closing key quote \"\\\"\" (line 2)"
        );
    }

    #[test]
    fn values_quotes_and_inline_comments() {
        let input = "a = \"x y\"\nb = 'z'\nc = \"a;b\"\nd = `p;q` r\ne = \"\"\"m\nn\"\"\" ;c\n\
                     f = one \\\n  two\ng = v#c\n- = auto\n";
        let docs = IniStore.parse_plain(input.as_bytes()).unwrap();
        let values: Vec<(String, String)> = match docs[0].get("DEFAULT") {
            Some(Value::Map(m)) => m
                .entries()
                .map(|(k, v)| (k.to_string(), v.as_str().unwrap().to_string()))
                .collect(),
            other => panic!("{other:?}"),
        };
        let pairs: Vec<(&str, &str)> = values
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("a", "x y"),
                ("b", "z"),
                ("c", "\"a"),
                ("d", "p;q"),
                ("e", "m\nn"),
                ("f", "one two"),
                ("g", "v"),
                ("#1", "auto")
            ]
        );
    }

    #[test]
    fn encrypted_metadata_section() {
        let mut age = Map::new();
        age.push("recipient", Value::Str("age1x".into()));
        age.push(
            "enc",
            Value::Str("-----BEGIN-----\nabc\n-----END-----\n".into()),
        );
        let mut meta = Map::new();
        meta.push("version", Value::Str("3.11.0".into()));
        meta.push("age", Value::List(vec![Value::Map(age)]));
        meta.push("mac_only_encrypted", Value::Bool(false));
        meta.push("shamir_threshold", Value::Int(2));
        meta.push("kms", Value::List(vec![]));
        let mut doc = Map::new();
        doc.push("DEFAULT", section(vec![]));
        doc.push("s", section(vec![entry("k", Value::Str("ENC[x]".into()))]));
        let out = IniStore.emit_encrypted(&[doc.clone()], &meta).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "[s]\nk = ENC[x]\n\n[sops]\n\
             age__list_0__map_enc       = -----BEGIN-----\\nabc\\n-----END-----\\n\n\
             age__list_0__map_recipient = age1x\n\
             mac_only_encrypted         = false\n\
             shamir_threshold           = 2\n\
             version                    = 3.11.0\n"
        );
        let back = IniStore.parse_encrypted(text.as_bytes()).unwrap();
        assert_eq!(back.documents, vec![doc]);
        let meta_back = back.metadata.unwrap();
        assert_eq!(meta_back.get("shamir_threshold"), Some(&Value::Int(2)));
        assert_eq!(
            meta_back.get("mac_only_encrypted"),
            Some(&Value::Bool(false))
        );
        let Some(Value::List(ages)) = meta_back.get("age") else {
            panic!()
        };
        let Value::Map(age) = &ages[0] else { panic!() };
        assert_eq!(
            age.get("enc"),
            Some(&Value::Str("-----BEGIN-----\nabc\n-----END-----\n".into()))
        );
    }

    #[test]
    fn reads_313_armor_with_real_newlines() {
        let text = "[foo]\nbar = x\n\n[sops]\nenc = \"\"\"-----BEGIN-----\n\nabc\n-----END-----\"\"\"\nversion = 3.13.1\n";
        let file = IniStore.parse_encrypted(text.as_bytes()).unwrap();
        let meta = file.metadata.unwrap();
        assert_eq!(
            meta.get("enc"),
            Some(&Value::Str("-----BEGIN-----\n\nabc\n-----END-----".into()))
        );
        assert_eq!(file.documents[0].0.len(), 2);
        assert!(IniStore
            .parse_encrypted(b"[a]\nb=c\n")
            .unwrap()
            .metadata
            .is_none());
    }

    #[test]
    fn metadata_key_is_a_sops_section() {
        let docs = IniStore.parse_plain(b"a=1\n[sops]\nb=2\n").unwrap();
        assert!(IniStore.has_metadata_key(&docs[0]));
        let docs = IniStore.parse_plain(b"sops=1\n").unwrap();
        assert!(!IniStore.has_metadata_key(&docs[0]));
    }

    #[test]
    fn emit_value_is_go_json() {
        let v = Value::List(vec![
            Value::Int(1),
            Value::Float(2.5),
            Value::Bool(true),
            Value::Null,
            Value::Str("x<y".into()),
        ]);
        assert_eq!(
            IniStore.emit_value(&v).unwrap(),
            b"[1,2.5,true,null,\"x\\u003cy\"]"
        );
        let t = Timestamp::parse_rfc3339("2001-12-14t21:59:43.10-05:00").unwrap();
        assert_eq!(
            IniStore.emit_value(&Value::Time(t)).unwrap(),
            b"\"2001-12-14T21:59:43.1-05:00\""
        );
        assert_eq!(IniStore.emit_value(&Value::Float(1e21)).unwrap(), b"1e+21");
        assert!(IniStore.emit_value(&Value::Float(f64::NAN)).is_err());
    }

    #[test]
    fn comment_texts_from_other_formats() {
        // The reference's output for `sops decrypt --output-type ini` of a
        // YAML file with comments `#;foo  `, `##bar`, `#   spaced` and
        // `# lead space` (section comments keep their spacing, key
        // comments are trimmed).
        let mut doc = Map::new();
        doc.push(
            "s",
            section(vec![
                comment(";foo  "),
                entry("a", Value::Int(1)),
                comment("#bar"),
                entry("b", Value::Int(2)),
                comment("   spaced"),
                entry("c", Value::Int(3)),
            ]),
        );
        doc.push(
            "t",
            section(vec![comment(" lead space"), entry("d", Value::Int(4))]),
        );
        assert_eq!(
            emit(doc),
            "; foo\n[s]\n# bar\na = 1\n; spaced\nb = 2\nc = 3\n\n;  lead space\n[t]\nd = 4\n"
        );
    }
}

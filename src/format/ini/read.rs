//! go-ini's parser: INI text → sections → the tree (and the metadata of
//! an encrypted file).

use super::super::flatten::unflatten;
use super::super::FormatError;
use super::text::go_quote;
use super::{DEFAULT_SECTION, DELIMITER_NOT_FOUND};
use crate::tree::{Comment, Item, Map, Value};
use std::collections::HashMap;

/// A key as the parser holds it.
#[derive(Debug)]
pub(super) struct ParsedKey {
    pub(super) name: String,
    pub(super) value: String,
    pub(super) comment: String,
}

/// A section as the parser holds it.
#[derive(Debug)]
pub(super) struct ParsedSection {
    pub(super) name: String,
    pub(super) comment: String,
    pub(super) keys: Vec<ParsedKey>,
    /// Position of each key name in `keys`.
    pub(super) index: HashMap<String, usize>,
}

impl ParsedSection {
    pub(super) fn new(name: String) -> Self {
        ParsedSection {
            name,
            comment: String::new(),
            keys: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// Adds a key, or (like go-ini without shadows) replaces the value of
    /// an existing key of that name in place. Returns the key.
    pub(super) fn new_key(
        &mut self,
        name: String,
        value: String,
    ) -> Result<&mut ParsedKey, String> {
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
pub(super) struct Parser<'a> {
    pub(super) src: &'a str,
    pub(super) pos: usize,
    pub(super) eof: bool,
    pub(super) comment: String,
}

impl<'a> Parser<'a> {
    /// The next line including its `\n`; at the end of input the rest
    /// (possibly empty) and `eof` set, like `bufio.Reader.ReadBytes('\n')`.
    pub(super) fn read_line(&mut self) -> &'a str {
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
    /// that has one and does not end in a backslash. A comment after the
    /// closing quote is kept.
    pub(super) fn read_multilines(
        &mut self,
        mut value: String,
        quote: &str,
    ) -> Result<String, String> {
        // The line that opened the value (the parser is past it).
        let opened = self.src[..self.pos]
            .trim_end_matches('\n')
            .matches('\n')
            .count()
            + 1;
        loop {
            let next = self.read_line();
            // A line that ends in a backslash (before trailing blanks)
            // never closes the value: sops 3.11 reads it whole, quote and
            // all (measured: `k = `a` / `b`c\` / `d`e` reads "a\nb`c\\\nd").
            let continued = next.trim_end().ends_with('\\');
            if let Some(pos) = next.rfind(quote).filter(|_| !continued) {
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
    pub(super) fn read_continuation_lines(&mut self, mut value: String) -> String {
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
    pub(super) fn read_value(&mut self, input: &str) -> Result<String, String> {
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
    pub(super) fn take_comment(&mut self) -> String {
        let comment = self.comment.trim().to_string();
        self.comment.clear();
        comment
    }
}

/// The text from the first `#` or `;` on.
pub(super) fn clean_comment(input: &str) -> Option<&str> {
    input.find(['#', ';']).map(|i| &input[i..])
}

/// True when `s` is `q…q` with no other `q` inside.
pub(super) fn has_surrounded_quote(s: &str, q: u8) -> bool {
    let b = s.as_bytes();
    b.len() >= 2
        && b[0] == q
        && b[b.len() - 1] == q
        && b[1..].iter().position(|&c| c == q) == Some(b.len() - 2)
}

/// go-ini's `readKeyName`: the key and the offset of the value.
pub(super) fn read_key_name(line: &str) -> Result<(String, usize), String> {
    let (key, _, value_from) = key_offsets(line)?;
    Ok((line[key].trim().to_string(), value_from))
}

/// go-ini's `readKeyName` as offsets into `line`: the key's text (inside its
/// quotes, untrimmed), where the key part ends (the delimiter), and where
/// the value starts. Format-preserving mode splices values by these offsets.
pub(crate) fn key_offsets(line: &str) -> Result<(std::ops::Range<usize>, usize, usize), String> {
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
        return Ok((start..pos, end, end + start + 1));
    }
    match line.find(['=', ':']) {
        None => Err(DELIMITER_NOT_FOUND.into()),
        Some(0) => Err("empty key name".into()),
        Some(end) => Ok((0..end, end, end + 1)),
    }
}

/// Parses INI text into its sections, the implicit `DEFAULT` first.
/// Errors are go-ini's messages.
pub(super) fn parse_ini(input: &[u8]) -> Result<Vec<ParsedSection>, String> {
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

pub(super) fn parse_sections(parser: &mut Parser<'_>) -> Result<Vec<ParsedSection>, String> {
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
pub(super) fn strip_bom(input: &[u8]) -> &[u8] {
    match input {
        [0xFE, 0xFF, rest @ ..] | [0xFF, 0xFE, rest @ ..] => rest,
        [0xEF, 0xBB, 0xBF, rest @ ..] => rest,
        _ => input,
    }
}

/// sops's `stripCommentChar`: removes the leading run of `;`/space (or
/// `#`/space) characters of a comment.
pub(super) fn strip_comment_char(comment: &str) -> String {
    if comment.starts_with(';') {
        comment.trim_start_matches([';', ' ']).to_string()
    } else if comment.starts_with('#') {
        comment.trim_start_matches(['#', ' ']).to_string()
    } else {
        comment.to_string()
    }
}

/// The tree of one section: its comment, then each key and its comment.
pub(super) fn section_to_map(section: ParsedSection) -> Map {
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
pub(super) fn sections_to_tree(sections: Vec<ParsedSection>) -> Map {
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
pub(super) fn section_to_metadata(section: ParsedSection) -> Result<Map, FormatError> {
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
pub(super) fn parse_threshold(text: &str) -> Result<i64, FormatError> {
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

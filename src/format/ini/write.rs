//! go-ini's pretty writer: the tree → sections → INI text.

use super::read::Parser;
use super::text::{go_quote, value_to_text};
use super::DEFAULT_SECTION;
use crate::tree::{Item, Map, Value};
use std::collections::HashMap;

/// A key to write.
#[derive(Debug)]
pub(super) struct OutKey {
    pub(super) name: String,
    pub(super) value: String,
    pub(super) comment: String,
}

/// A section to write.
#[derive(Debug)]
pub(super) struct OutSection {
    pub(super) name: String,
    pub(super) comment: String,
    pub(super) keys: Vec<OutKey>,
    /// Position of each key name in `keys`.
    pub(super) index: HashMap<String, usize>,
}

impl OutSection {
    pub(super) fn new(name: String) -> Self {
        OutSection {
            name,
            comment: String::new(),
            keys: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// go-ini's `NewKey`: a repeated name replaces the earlier value in
    /// place (its comment stays). Returns the key's index.
    pub(super) fn set_key(&mut self, name: String, value: String) -> Result<usize, String> {
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
pub(super) fn tree_to_sections(documents: &[Map]) -> Result<Vec<OutSection>, String> {
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
pub(super) fn write_comment(out: &mut String, comment: &str, trim_plain: bool) {
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
pub(super) fn quote_key(name: &str) -> String {
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
/// A value of one line that ends in a backslash is quoted too: go-ini
/// would read the next line into it (sops 3.11 writes `k = a\` and, reading
/// its output back, loses the next key into that value; in an encrypted
/// file it then fails its own MAC check).
///
/// With [`Quoting::AsGoIni`] (decrypted output), other values of one line
/// are written as go-ini writes them even where it reads them back
/// otherwise (`"x"` reads back as `x`: only that value loses its quotes):
/// the reference's output for those is pinned by the INI goldens. With
/// [`Quoting::ReadsBack`] (encrypted files, whose MAC covers every
/// clear-text value) such a value is written between backquotes or `"""`.
pub(super) fn quote_value(value: &str, quoting: Quoting) -> Option<String> {
    let go_ini = go_ini_quoted(value);
    let one_line_as_go_ini = match quoting {
        Quoting::AsGoIni => !value.trim_end().ends_with('\\'),
        // Only these characters make go-ini read a line otherwise.
        Quoting::ReadsBack => !value.contains(['\\', '"', '\'', '`']),
    };
    if (!value.contains('\n') && one_line_as_go_ini) || reads_back(&go_ini, value) {
        return Some(go_ini);
    }
    [
        format!("`{value}`"),
        format!("{MULTI_LINE_QUOTE}{value}{MULTI_LINE_QUOTE}"),
    ]
    .into_iter()
    .find(|quoted| reads_back(quoted, value))
}

/// How [`quote_value`] writes a value of one line that go-ini would not
/// read back as it writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Quoting {
    /// As go-ini writes it: the reference's decrypted output, byte for byte.
    AsGoIni,
    /// Quoted so that go-ini reads it back: encrypted files.
    ReadsBack,
}

/// go-ini's choice of quotes for a value.
pub(super) fn go_ini_quoted(value: &str) -> String {
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
pub(super) fn reads_back(written: &str, value: &str) -> bool {
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
pub(super) const MULTI_LINE_QUOTE: &str = "\"\"\"";

/// go-ini's pretty writer (quoting values so that go-ini reads them back,
/// see [`quote_value`]).
pub(super) fn write_ini(sections: &[OutSection], quoting: Quoting) -> Result<String, String> {
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
            let value = quote_value(&key.value, quoting).ok_or_else(|| {
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

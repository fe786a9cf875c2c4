//! Raw LS and PS (U+2028, U+2029), read as yaml.v3 reads them.
//!
//! yaml.v3 (YAML 1.1, libyaml) treats both as line breaks: they end plain
//! scalars, comments and block lines and count as lines, exactly like LF.
//! Unlike LF (and NEL, see `v3_rules::nel_as_line_break`), a value keeps
//! them as they are: a folded LS stays LS (it never becomes a space), and
//! the blanks around it are dropped as around any line break. YAML 1.2
//! (granit-parser) reads them as content.
//!
//! The structure comes from granit-parser reading a stand-in text in which
//! each separator is [`STAND_IN`] (a space and CR LF, the separator's
//! length in UTF-8, so every byte offset is the same in both texts); the
//! values of the scalars that hold a separator are then read again from the
//! original text by [`flow_scalar`] and [`block_scalar`], which follow
//! yaml.v3's scanner (`yaml_parser_scan_flow_scalar`,
//! `yaml_parser_scan_plain_scalar`, `yaml_parser_scan_block_scalar`).
//! A stream without a separator never comes here.
//!
//! The simple path this replaces for such a scalar is granit-parser's own
//! value (YAML 1.2); `tests/differential.rs` (the `unicode-line-breaks`
//! construct and `testdata/differential/yaml/line_separators_*.yaml`)
//! checks both directions against the reference.

use granit_parser::ScalarStyle;

/// What stands for a separator in the text granit-parser reads: a space,
/// which a flow scalar drops before a break and [`block_scalar`] drops
/// again, and a line break.
pub(crate) const STAND_IN: &str = " \r\n";

/// A YAML text whose separators are replaced by [`STAND_IN`].
pub(crate) struct StandIn {
    /// The text granit-parser reads.
    pub(crate) text: String,
    /// Where each separator was (byte offset) and which it was.
    pub(crate) at: Vec<(usize, char)>,
}

/// The stand-in text of `src`, or `None` when it holds no separator.
pub(crate) fn stand_in(src: &str) -> Option<StandIn> {
    let bytes = src.as_bytes();
    let first = memchr::memmem::find_iter(bytes, b"\xE2\x80")
        .find(|&i| matches!(bytes.get(i + 2), Some(0xA8 | 0xA9)))?;
    let mut text = String::with_capacity(src.len());
    let mut at = Vec::new();
    text.push_str(&src[..first]);
    for (i, c) in src[first..].char_indices() {
        if matches!(c, '\u{2028}' | '\u{2029}') {
            at.push((first + i, c));
            text.push_str(STAND_IN);
        } else {
            text.push(c);
        }
    }
    Some(StandIn { text, at })
}

impl StandIn {
    /// Whether a separator stood in `start..end`.
    pub(crate) fn holds(at: &[(usize, char)], start: usize, end: usize) -> bool {
        let i = at.partition_point(|&(p, _)| p < start);
        at.get(i).is_some_and(|&(p, _)| p < end)
    }

    /// The original text of `text[start..end]` (separators put back).
    pub(crate) fn original(text: &str, at: &[(usize, char)], start: usize, end: usize) -> String {
        let mut out = String::with_capacity(end - start);
        let mut pos = start;
        let first = at.partition_point(|&(p, _)| p < start);
        for &(p, c) in at[first..].iter().take_while(|&&(p, _)| p < end) {
            out.push_str(&text[pos..p]);
            out.push(c);
            pos = (p + STAND_IN.len()).min(end);
        }
        if pos < end {
            out.push_str(&text[pos..end]);
        }
        out
    }
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// Reads the line break at `cs[i]`: what a value keeps of it (LF for CR,
/// LF, CR LF and NEL; LS and PS as they are) and where the next line
/// starts.
fn read_break(cs: &[char], i: usize) -> (char, usize) {
    match cs[i] {
        '\r' if cs.get(i + 1) == Some(&'\n') => ('\n', i + 2),
        '\r' | '\n' | '\u{85}' => ('\n', i + 1),
        c => (c, i + 1),
    }
}

/// The value of a plain, single- or double-quoted scalar whose source text
/// (quotes included) is `src`, as yaml.v3 folds it; `None` for another
/// style or an escape yaml.v3 refuses (granit's value and error stand).
pub(crate) fn flow_scalar(src: &str, style: ScalarStyle) -> Option<String> {
    let body = match style {
        ScalarStyle::SingleQuoted => src.strip_prefix('\'')?.strip_suffix('\'')?,
        ScalarStyle::DoubleQuoted => src.strip_prefix('"')?.strip_suffix('"')?,
        ScalarStyle::Plain => src,
        _ => return None,
    };
    let plain = style == ScalarStyle::Plain;
    let cs: Vec<char> = body.chars().collect();
    let mut out = String::with_capacity(body.len());
    let mut whitespaces = String::new();
    let mut trailing = String::new();
    let mut leading_break: Option<char> = None;
    let mut leading_blanks = false;
    let mut i = 0;
    loop {
        // Content up to the next blank or break.
        while i < cs.len() && !is_blank(cs[i]) && !is_break(cs[i]) {
            match (style, cs[i]) {
                (ScalarStyle::SingleQuoted, '\'') if cs.get(i + 1) == Some(&'\'') => {
                    out.push('\'');
                    i += 2;
                }
                (ScalarStyle::DoubleQuoted, '\\') => match cs.get(i + 1) {
                    // An escaped line break: nothing of it is kept.
                    Some(&c) if is_break(c) => {
                        i = read_break(&cs, i + 1).1;
                        leading_blanks = true;
                        break;
                    }
                    Some(_) => {
                        let (c, len) = escape(&cs[i + 1..])?;
                        out.push(c);
                        i += 1 + len;
                    }
                    None => return None,
                },
                (_, c) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        // Blanks and breaks.
        while i < cs.len() && (is_blank(cs[i]) || is_break(cs[i])) {
            if is_blank(cs[i]) {
                if !leading_blanks {
                    whitespaces.push(cs[i]);
                }
                i += 1;
            } else {
                let (b, next) = read_break(&cs, i);
                i = next;
                if leading_blanks {
                    trailing.push(b);
                } else {
                    whitespaces.clear();
                    leading_break = Some(b);
                    leading_blanks = true;
                }
            }
        }
        // A plain scalar ends at its last content character; a quoted one
        // keeps what precedes its closing quote, folded.
        if i >= cs.len() && plain {
            break;
        }
        if leading_blanks {
            match leading_break.take() {
                Some('\n') if trailing.is_empty() => out.push(' '),
                Some('\n') => {}
                Some(b) => out.push(b),
                None => {}
            }
            out.push_str(&trailing);
            trailing.clear();
            leading_blanks = false;
        } else {
            out.push_str(&whitespaces);
        }
        whitespaces.clear();
        if i >= cs.len() {
            break;
        }
    }
    Some(out)
}

/// The character a double-quoted escape stands for (`rest` follows the
/// backslash) and how many characters it takes; `None` where yaml.v3
/// refuses it.
fn escape(rest: &[char]) -> Option<(char, usize)> {
    let simple = match rest.first()? {
        '0' => '\0',
        'a' => '\x07',
        'b' => '\x08',
        't' | '\t' => '\t',
        'n' => '\n',
        'v' => '\x0b',
        'f' => '\x0c',
        'r' => '\r',
        'e' => '\x1b',
        ' ' => ' ',
        '"' => '"',
        '\'' => '\'',
        '\\' => '\\',
        'N' => '\u{85}',
        '_' => '\u{a0}',
        'L' => '\u{2028}',
        'P' => '\u{2029}',
        'x' => return hex(rest, 2),
        'u' => return hex(rest, 4),
        'U' => return hex(rest, 8),
        _ => return None,
    };
    Some((simple, 1))
}

fn hex(rest: &[char], digits: usize) -> Option<(char, usize)> {
    let text: String = rest.get(1..=digits)?.iter().collect();
    let code = u32::from_str_radix(&text, 16).ok()?;
    Some((char::from_u32(code)?, 1 + digits))
}

/// How a block scalar ends (its chomping indicator).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Chomp {
    /// `-`: no final line break.
    Strip,
    /// No indicator: one final line break.
    Clip,
    /// `+`: every final line break.
    Keep,
}

/// A block scalar's header: `|` or `>` and its indicators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BlockHeader {
    pub(crate) literal: bool,
    pub(crate) chomp: Chomp,
    /// The indentation indicator (1 to 9).
    pub(crate) increment: Option<usize>,
}

impl BlockHeader {
    /// Reads the header at the start of `line` (`|`, `>`, then indicators).
    pub(crate) fn parse(line: &str) -> Option<BlockHeader> {
        let literal = match line.chars().next()? {
            '|' => true,
            '>' => false,
            _ => return None,
        };
        let mut header = BlockHeader {
            literal,
            chomp: Chomp::Clip,
            increment: None,
        };
        for c in line[1..].chars() {
            match c {
                '+' => header.chomp = Chomp::Keep,
                '-' => header.chomp = Chomp::Strip,
                '1'..='9' => header.increment = c.to_digit(10).map(|d| d as usize),
                _ => break,
            }
        }
        Some(header)
    }
}

/// The value of a block scalar as yaml.v3 reads it: `body` is the source
/// from the line after the header to the end of the scalar (its last line
/// break included, when it has one, and the blank lines after it);
/// `parent_indent` is the column of the enclosing block collection.
pub(crate) fn block_scalar(
    body: &str,
    header: BlockHeader,
    parent_indent: Option<usize>,
) -> String {
    let mut lines: Vec<(&str, Option<char>)> = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let cs: Vec<char> = rest.chars().take_while(|&c| !is_break(c)).collect();
        let len: usize = cs.iter().map(|c| c.len_utf8()).sum();
        let tail: Vec<char> = rest[len..].chars().take(2).collect();
        if tail.is_empty() {
            lines.push((&rest[..len], None));
            break;
        }
        let (b, n) = read_break(&tail, 0);
        let consumed: usize = tail[..n].iter().map(|c| c.len_utf8()).sum();
        lines.push((&rest[..len], Some(b)));
        rest = &rest[len + consumed..];
    }
    let min_indent = parent_indent.map_or(1, |p| p + 1);
    let mut indent = header.increment.map(|n| parent_indent.map_or(n, |p| p + n));
    let mut max_indent = 0;
    let mut out = String::new();
    let mut trailing = String::new();
    let mut leading_break: Option<char> = None;
    let mut leading_blank = false;
    for (line, brk) in lines {
        let spaces = line.bytes().take_while(|&b| b == b' ').count();
        let eaten = indent.map_or(spaces, |n| spaces.min(n));
        if line.len() == eaten {
            // An empty line: its break is a trailing break.
            max_indent = max_indent.max(eaten);
            if let Some(b) = brk {
                trailing.push(b);
            }
            continue;
        }
        let n = *indent.get_or_insert_with(|| max_indent.max(spaces).max(min_indent));
        if spaces < n {
            // A less indented line ends the scalar.
            break;
        }
        let content = &line[n..];
        let trailing_blank = content.starts_with([' ', '\t']);
        if !header.literal && leading_break == Some('\n') && !leading_blank && !trailing_blank {
            if trailing.is_empty() {
                out.push(' ');
            }
            leading_break = None;
        }
        if let Some(b) = leading_break.take() {
            out.push(b);
        }
        out.push_str(&trailing);
        trailing.clear();
        leading_blank = trailing_blank;
        out.push_str(content);
        leading_break = brk;
    }
    if header.chomp != Chomp::Strip {
        if let Some(b) = leading_break {
            out.push(b);
        }
    }
    if header.chomp == Chomp::Keep {
        out.push_str(&trailing);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LS: char = '\u{2028}';

    #[test]
    fn stand_in_keeps_offsets_and_gives_the_original_back() {
        let src = "k: \"a\u{2028}b\"\nj: c\u{2029}\n";
        let s = stand_in(src).unwrap();
        assert_eq!(s.text.len(), src.len());
        assert_eq!(s.text, "k: \"a \r\nb\"\nj: c \r\n\n");
        assert_eq!(s.at, vec![(5, '\u{2028}'), (15, '\u{2029}')]);
        assert_eq!(StandIn::original(&s.text, &s.at, 0, s.text.len()), src);
        assert_eq!(StandIn::original(&s.text, &s.at, 3, 10), "\"a\u{2028}b\"");
        assert!(StandIn::holds(&s.at, 3, 10));
        assert!(!StandIn::holds(&s.at, 6, 15));
        assert!(stand_in("k: \"a\u{2027}\u{85}b\"").is_none());
    }

    /// Each value checked against sops 3.11.0 (yaml.v3) reading the same
    /// scalar as the value of a top-level key.
    #[test]
    fn flow_scalars_fold_as_yaml_v3_folds() {
        let cases: &[(&str, ScalarStyle, String)] = &[
            (
                "\"a\u{2028}b\"",
                ScalarStyle::DoubleQuoted,
                format!("a{LS}b"),
            ),
            (
                "\"a  \u{2028}   b\"",
                ScalarStyle::DoubleQuoted,
                format!("a{LS}b"),
            ),
            (
                "'y\u{2028}    z'",
                ScalarStyle::SingleQuoted,
                format!("y{LS}z"),
            ),
            (
                "\"a\u{2028}\n\nb\"",
                ScalarStyle::DoubleQuoted,
                format!("a{LS}\n\nb"),
            ),
            (
                "\"a\n\u{2028}b\"",
                ScalarStyle::DoubleQuoted,
                format!("a{LS}b"),
            ),
            ("\"a\nb\"", ScalarStyle::DoubleQuoted, "a b".into()),
            ("\"a\\\n  b\"", ScalarStyle::DoubleQuoted, "ab".into()),
            (
                "\"x\\L\u{2028} y\"",
                ScalarStyle::DoubleQuoted,
                format!("x{LS}{LS}y"),
            ),
            (
                "'it''s\u{2029}x'",
                ScalarStyle::SingleQuoted,
                "it's\u{2029}x".into(),
            ),
            ("a\u{2028}  b", ScalarStyle::Plain, format!("a{LS}b")),
            ("a \u{2028}\n  b", ScalarStyle::Plain, format!("a{LS}\nb")),
            (
                "\"a \u{2028}\"",
                ScalarStyle::DoubleQuoted,
                format!("a{LS}"),
            ),
        ];
        for (src, style, want) in cases {
            assert_eq!(
                flow_scalar(src, *style).as_deref(),
                Some(want.as_str()),
                "{src:?}"
            );
        }
        assert_eq!(flow_scalar("\"\\q\"", ScalarStyle::DoubleQuoted), None);
    }

    #[test]
    fn block_scalars_keep_separators_as_yaml_v3_does() {
        let lit = |chomp| BlockHeader {
            literal: true,
            chomp,
            increment: None,
        };
        let folded = BlockHeader {
            literal: false,
            chomp: Chomp::Clip,
            increment: None,
        };
        let top = Some(0);
        assert_eq!(
            block_scalar("  a\u{2028}  b\n", lit(Chomp::Clip), top),
            format!("a{LS}b\n")
        );
        assert_eq!(
            block_scalar("  a\u{2028}  b\n", folded, top),
            format!("a{LS}b\n")
        );
        assert_eq!(block_scalar("  a\n  b\n", folded, top), "a b\n");
        assert_eq!(
            block_scalar("  a\n  b\u{2028}", lit(Chomp::Clip), top),
            format!("a\nb{LS}")
        );
        assert_eq!(
            block_scalar("  a\u{2028}\n\n", lit(Chomp::Keep), top),
            format!("a{LS}\n\n")
        );
        assert_eq!(block_scalar("  a\u{2028}\n", lit(Chomp::Strip), top), "a");
        assert_eq!(
            block_scalar("\n    a\u{2028}    b\n", lit(Chomp::Clip), Some(2)),
            format!("\na{LS}b\n")
        );
        let indicated = BlockHeader {
            literal: true,
            chomp: Chomp::Clip,
            increment: Some(1),
        };
        assert_eq!(
            block_scalar("   a\u{2028} b\n", indicated, top),
            format!("  a{LS}b\n")
        );
    }
}

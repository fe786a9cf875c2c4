//! yaml.v3 (YAML 1.1, libyaml) reading rules that granit-parser (YAML 1.2)
//! does not apply, checked on the source text beside the parser:
//!
//! * [`nel_as_line_break`]: a raw NEL (U+0085) is a line break for yaml.v3,
//!   read as LF wherever a break is read (YAML 1.2 reads it as content).
//! * [`block_scalar_tab_error`]: a tab where a block scalar's indentation
//!   spaces are expected is an error for yaml.v3 (YAML 1.2 reads it as
//!   content or as the end of the block).
//!
//! Raw LS and PS (U+2028, U+2029), which yaml.v3 also reads as line breaks
//! but keeps in values, are read in `line_separators.rs`.

use std::borrow::Cow;

/// The text granit-parser reads for `src`: every raw NEL (U+0085, the two
/// bytes C2 85) replaced by CR LF, the same length. yaml.v3 reads NEL as a
/// line break everywhere (it ends plain scalars, comments and block lines,
/// counts as a line, folds in quoted scalars) and stores it as LF wherever a
/// break becomes part of a value, exactly as it reads CR LF; so the parse of
/// the replaced text is yaml.v3's parse of `src`, at the same byte offsets.
pub(crate) fn nel_as_line_break(src: &str) -> Cow<'_, str> {
    if memchr::memmem::find(src.as_bytes(), "\u{85}".as_bytes()).is_none() {
        return Cow::Borrowed(src);
    }
    Cow::Owned(src.replace('\u{85}', "\r\n"))
}

/// Whether `c` ends a line for yaml.v3 (CR, LF; NEL, LS and PS too).
fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// 1-based line number of byte `at` in `src`, counting every yaml.v3
/// line break (a CR LF pair once).
pub(crate) fn line_of(src: &str, at: usize) -> usize {
    let mut line = 1;
    let mut prev_cr = false;
    for c in src[..at.min(src.len())].chars() {
        if is_break(c) && !(c == '\n' && prev_cr) {
            line += 1;
        }
        prev_cr = c == '\r';
    }
    line
}

/// The byte offset of the header (`|`/`>`) of the block scalar whose
/// content granit-parser reports at byte `content` (the header is on the
/// last non-blank line before it, ahead of any comment).
pub(crate) fn block_header_before(src: &str, content: usize) -> Option<usize> {
    let before = src.get(..content)?;
    let line_end = before.trim_end_matches(|c: char| c == ' ' || c == '\t' || is_break(c));
    let line_start = line_end.rfind(is_break).map_or(0, |i| {
        i + line_end[i..].chars().next().map_or(1, char::len_utf8)
    });
    let line = &line_end[line_start..];
    let bytes = line.as_bytes();
    (0..bytes.len())
        .find(|&i| {
            matches!(bytes[i], b'|' | b'>') && (i == 0 || matches!(bytes[i - 1], b' ' | b'\t')) && {
                let rest = line[i + 1..]
                    .trim_start_matches(|c: char| c.is_ascii_digit() || c == '+' || c == '-');
                let rest = rest.trim_start_matches([' ', '\t']);
                rest.is_empty() || (rest.starts_with('#') && rest.len() < line[i + 1..].len())
            }
        })
        .map(|i| line_start + i)
}

/// The line yaml.v3 names for the first tab it refuses in the block scalar whose
/// header (`|`/`>` and its indicators) starts at byte `header` of `src`, or
/// `None` when yaml.v3 reads the block.
///
/// `parent_indent` is the column of the enclosing block collection (`None`
/// for a block scalar that is the document itself). yaml.v3 reads the
/// indentation of each line after the header as spaces up to the content
/// indentation (all of them while that is still being detected, on the
/// leading empty lines and the first content line); a tab met there is
/// "found a tab character where an indentation space is expected". A tab
/// after the content indentation is content (`k: |-\n  a\n  \tb` is
/// `a\n\tb`), and an indentation indicator fixes the indentation from the
/// start (`k: |2-\n  \tx` is `\tx`).
pub(crate) fn block_scalar_tab_error(
    src: &str,
    header: usize,
    parent_indent: Option<usize>,
) -> Option<usize> {
    let head_end = src[header..]
        .find(is_break)
        .map_or(src.len(), |i| header + i);
    let head = &src[header..head_end];
    // The indicators follow `|`/`>` up to a space or a comment.
    let indicators = head.get(1..).unwrap_or("");
    let indicators = &indicators[..indicators
        .find([' ', '\t', '#'])
        .unwrap_or(indicators.len())];
    let increment = indicators
        .chars()
        .find_map(|c| c.to_digit(10))
        .filter(|&d| d > 0)
        .map(|d| d as usize);
    let parent_plus = |n: usize| parent_indent.map_or(n, |p| p + n);
    let mut indent: Option<usize> = increment.map(parent_plus);
    let mut max_indent = 0;
    // Past the header's line break (CR LF counts once).
    let mut pos = head_end;
    let skip_break = |pos: usize| -> usize {
        let rest = &src[pos..];
        if rest.starts_with("\r\n") {
            pos + 2
        } else {
            pos + rest.chars().next().map_or(0, char::len_utf8)
        }
    };
    if pos >= src.len() {
        return None;
    }
    pos = skip_break(pos);
    loop {
        let line = &src[pos..];
        let spaces = line.bytes().take_while(|&b| b == b' ').count();
        let column = indent.map_or(spaces, |n| spaces.min(n));
        let next = line[column..].chars().next();
        let inside_indentation = indent.is_none_or(|n| column < n);
        if inside_indentation && next == Some('\t') {
            // yaml.v3 names the line of the scalar's start (its header)
            // unless that is the first line, then the tab's line.
            let header_line = line_of(src, header);
            return Some(if header_line > 1 {
                header_line
            } else {
                line_of(src, pos)
            });
        }
        match next {
            None => return None,
            Some(c) if is_break(c) => {
                max_indent = max_indent.max(column);
                pos = skip_break(pos + column);
                continue;
            }
            Some(_) => {}
        }
        let n = *indent.get_or_insert_with(|| {
            max_indent
                .max(column)
                .max(parent_indent.map_or(1, |p| p + 1))
        });
        if column != n {
            // A less indented line ends the block.
            return None;
        }
        // A content line: on to the next line.
        let rest = &line[column..];
        match rest.find(is_break) {
            None => return None,
            Some(i) => pos = skip_break(pos + column + i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tab_error(src: &str) -> Option<usize> {
        let header = src.find(['|', '>']).expect("a block header");
        // The test documents are top-level mappings at column 0.
        block_scalar_tab_error(src, header, Some(0))
    }

    /// Each placement checked against sops 3.11.0 (yaml.v3).
    #[test]
    fn tabs_in_block_indentation_are_refused_as_yaml_v3_does() {
        // Refused: a tab while the indentation is being detected.
        assert_eq!(tab_error("k: |-\n  \tx\n"), Some(2));
        assert_eq!(tab_error("k: >-\n  \tx\n"), Some(2));
        assert_eq!(tab_error("k: |-\n \tx\n"), Some(2));
        assert_eq!(tab_error("k: |-\n\tx\n"), Some(2));
        assert_eq!(tab_error("k: |-\n  \n  \tx\n"), Some(3));
        assert_eq!(tab_error("k: |-\r\n  \r\n  \tx\r\n"), Some(3));
        // Refused: a tab inside the detected indentation of a later line.
        assert_eq!(tab_error("k: |-\n    a\n  \tx\n"), Some(3));
        // Read: a tab after the indentation of a later line.
        assert_eq!(tab_error("k: |-\n  a\n  \tx\n"), None);
        assert_eq!(tab_error("k: |-\n  a\n   \tx\n"), None);
        // Read: an indentation indicator fixes the indentation.
        assert_eq!(tab_error("k: |2-\n  \tx\n"), None);
        assert_eq!(tab_error("k: |1-\n  \tx\n"), None);
        assert_eq!(tab_error("k: |-2\n  \tx\n"), None);
        // yaml.v3 names the header's line when it is not the first.
        let nested = "k:\n  - |\n     \tx\n";
        assert_eq!(block_scalar_tab_error(nested, 7, Some(2)), Some(2));
        // Read: no tab, or the block ends before it.
        assert_eq!(tab_error("k: |\n  a\n  b\nj: \"\t\"\n"), None);
        assert_eq!(tab_error("k: |"), None);
        assert_eq!(tab_error("k: |\n  a"), None);
    }

    #[test]
    fn block_headers_are_found_before_their_content() {
        fn at<'s>(src: &'s str, content: &str) -> Option<&'s str> {
            let c = src.rfind(content).unwrap();
            block_header_before(src, c).map(|h| &src[h..h + 2])
        }
        assert_eq!(at("k: |-\n  \tx\n", "\tx"), Some("|-"));
        assert_eq!(at("'a |': >2 # b | c\n\n   x\n", "x"), Some(">2"));
        assert_eq!(at("- |+\r\n  x\r\n", "x"), Some("|+"));
        assert_eq!(at("k: v\n", "v"), None);
    }

    #[test]
    fn nel_reads_as_a_line_break_of_the_same_length() {
        let src = "k: \"a\u{85}b\"\nj: |\n  x\u{85}  y\n";
        let read = nel_as_line_break(src);
        assert_eq!(read, "k: \"a\r\nb\"\nj: |\n  x\r\n  y\n");
        assert_eq!(read.len(), src.len());
        assert!(matches!(nel_as_line_break("k: \u{2028}"), Cow::Borrowed(_)));
    }

    #[test]
    fn lines_count_every_yaml_v3_break() {
        assert_eq!(line_of("a\nb\r\nc\rd\u{85}e\u{2028}f", 17), 6);
        assert_eq!(line_of("a\r\nb", 3), 2);
    }
}

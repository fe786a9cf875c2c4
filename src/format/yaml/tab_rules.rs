//! Tabs between tokens, refused as yaml.v3 refuses them.
//!
//! YAML 1.2 (granit-parser) takes a tab as separation wherever a space may
//! stand outside indentation. yaml.v3 (libyaml's scanner) is stricter in
//! block context, in two places:
//!
//! * Where a token may start a simple key (at the start of a line, after
//!   `-`, `?` and a `:` that follows no key on its line), it skips spaces
//!   only; a tab there is "found character that cannot start any token".
//! * After a line break inside a plain scalar's trailing blanks, a tab left
//!   of the enclosing block's indentation plus one is "found a tab character
//!   that violates indentation" (in flow context too).
//!
//! [`first_error`] replays those two rules over the source, with the
//! scalars granit-parser found (their text is skipped: tabs inside them are
//! content, and block scalars have their own rule in `v3_rules.rs`). It
//! runs only on a stream that holds a tab. Where the replay is unsure of
//! yaml.v3's state it assumes the tab is allowed: a file sops reads must
//! never be refused.

use granit_parser::ScalarStyle;

/// A scalar granit-parser read: where its text is, its style, and for a
/// plain scalar the column of the enclosing block collection (yaml.v3's
/// `parser.indent`; `None` at the top of a document).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScalarAt {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) style: ScalarStyle,
    pub(crate) block_indent: Option<usize>,
}

/// yaml.v3's error for the first tab it refuses in `src`, or `None`.
/// `scalars` are in source order, each with a non-empty span.
pub(crate) fn first_error(src: &str, scalars: &[ScalarAt]) -> Option<String> {
    let b = src.as_bytes();
    // A byte-order mark at the start is skipped, the state kept.
    let mut i = if b.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
    let mut line = 1;
    let mut line_start = 0;
    let mut flow = 0usize;
    let mut simple_key_allowed = true;
    // Where the last token that may be a simple key ended (its line).
    let mut key_candidate_line: Option<usize> = None;
    let mut next = 0;
    // decode.go names the line of the error's context (a scanner error's
    // 0-based line, plus one), else of the problem; none on the first.
    let error = |context: usize, problem_line: usize, problem: &str| {
        let line = if context > 1 { context } else { problem_line };
        Some(if line > 1 {
            format!("yaml: line {line}: {problem}")
        } else {
            format!("yaml: {problem}")
        })
    };
    while i < b.len() {
        // A scalar: its text is not ours.
        while next < scalars.len() && scalars[next].end <= i && scalars[next].start < i {
            next += 1;
        }
        if let Some(s) = scalars.get(next).filter(|s| s.start == i) {
            next += 1;
            let scalar_line = line;
            let end = s.end.max(i + 1).min(b.len());
            line += count_breaks(&b[i..end]);
            if let Some(at) = last_break_end(&b[i..end]) {
                line_start = i + at;
            }
            i = end;
            key_candidate_line = Some(line);
            match s.style {
                ScalarStyle::Plain => {
                    // The scalar's trailing blanks and breaks.
                    let indent = s.block_indent.map_or(0, |n| n + 1);
                    let mut leading_blanks = false;
                    while i < b.len() {
                        match b[i] {
                            b' ' => i += 1,
                            b'\t' => {
                                if leading_blanks && i - line_start < indent {
                                    return error(
                                        scalar_line,
                                        line,
                                        "found a tab character that violates indentation",
                                    );
                                }
                                i += 1;
                            }
                            b'\r' | b'\n' => {
                                i = skip_break(b, i);
                                line += 1;
                                line_start = i;
                                leading_blanks = true;
                            }
                            _ => break,
                        }
                    }
                    simple_key_allowed = leading_blanks || flow > 0;
                }
                ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => simple_key_allowed = false,
                // A block scalar ends at a line break.
                _ => simple_key_allowed = true,
            }
            continue;
        }
        let column = i - line_start;
        match b[i] {
            b' ' => i += 1,
            b'\t' => {
                if flow == 0 && simple_key_allowed {
                    return error(line, line, "found character that cannot start any token");
                }
                i += 1;
            }
            b'\r' | b'\n' => {
                i = skip_break(b, i);
                line += 1;
                line_start = i;
                if flow == 0 {
                    simple_key_allowed = true;
                }
            }
            b'#' => {
                i = line_end(b, i);
                // yaml.v3 reads the comment lines that follow a head
                // comment (one alone on its line, or after a lone `-`)
                // with it, blanks, tabs and empty lines between them
                // included, looking 512 bytes ahead each time.
                let before = &b[line_start..i];
                let head = before
                    .iter()
                    .take_while(|&&c| c == b' ' || c == b'\t')
                    .count();
                let rest = &before[head..];
                let own_line = rest.first() == Some(&b'#')
                    || (rest.first() == Some(&b'-')
                        && rest[1..].iter().find(|&&c| c != b' ' && c != b'\t') == Some(&b'#'));
                if own_line {
                    loop {
                        let window = &b[i..b.len().min(i + 512)];
                        let Some(n) = window
                            .iter()
                            .position(|c| !matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
                        else {
                            break;
                        };
                        if window[n] != b'#' {
                            break;
                        }
                        line += count_breaks(&window[..n]);
                        if let Some(at) = last_break_end(&window[..n]) {
                            line_start = i + at;
                        }
                        i = line_end(b, i + n);
                    }
                }
            }
            b'[' | b'{' => {
                flow += 1;
                simple_key_allowed = true;
                i += 1;
            }
            b']' | b'}' => {
                flow = flow.saturating_sub(1);
                simple_key_allowed = false;
                key_candidate_line = Some(line);
                i += 1;
            }
            b',' => {
                simple_key_allowed = true;
                i += 1;
            }
            b'-' | b'.' if column == 0 && marker_at(b, i) => {
                simple_key_allowed = false;
                i += 3;
            }
            b'-' if flow == 0 && blank_or_end(b, i + 1) => {
                simple_key_allowed = true;
                i += 1;
            }
            b'?' if blank_or_end(b, i + 1) => {
                simple_key_allowed = flow == 0;
                key_candidate_line = None;
                i += 1;
            }
            b':' => {
                // After a key on its line: a simple key's value.
                simple_key_allowed = if key_candidate_line == Some(line) {
                    false
                } else {
                    flow == 0
                };
                key_candidate_line = None;
                i += 1;
            }
            b'|' | b'>' if flow == 0 => {
                // A block scalar's header: its own scanner reads the line.
                i = line_end(b, i);
                simple_key_allowed = true;
            }
            b'&' | b'*' | b'!' => {
                if b[i] == b'*' {
                    key_candidate_line = Some(line);
                }
                i += 1;
                while i < b.len() && !matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
                    if flow > 0 && matches!(b[i], b',' | b'[' | b']' | b'{' | b'}') {
                        break;
                    }
                    i += 1;
                }
                simple_key_allowed = false;
            }
            b'%' if column == 0 => {
                i = line_end(b, i);
                simple_key_allowed = false;
            }
            _ => {
                // Not understood: assume tabs are allowed until the next
                // line break.
                simple_key_allowed = false;
                i += 1;
            }
        }
    }
    None
}

fn skip_break(b: &[u8], i: usize) -> usize {
    if b[i] == b'\r' && b.get(i + 1) == Some(&b'\n') {
        i + 2
    } else {
        i + 1
    }
}

fn line_end(b: &[u8], i: usize) -> usize {
    memchr::memchr2(b'\n', b'\r', &b[i..]).map_or(b.len(), |n| i + n)
}

fn blank_or_end(b: &[u8], i: usize) -> bool {
    b.get(i)
        .is_none_or(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
}

/// `---` or `...` followed by a blank, a break or the end.
fn marker_at(b: &[u8], i: usize) -> bool {
    b.get(i..i + 3).is_some_and(|m| m == b"---" || m == b"...") && blank_or_end(b, i + 3)
}

fn count_breaks(b: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < b.len() {
        if matches!(b[i], b'\r' | b'\n') {
            n += 1;
            i = skip_break(b, i);
        } else {
            i += 1;
        }
    }
    n
}

fn last_break_end(b: &[u8]) -> Option<usize> {
    let at = memchr::memrchr2(b'\n', b'\r', b)?;
    Some(at + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(start: usize, end: usize, block_indent: Option<usize>) -> ScalarAt {
        ScalarAt {
            start,
            end,
            style: ScalarStyle::Plain,
            block_indent,
        }
    }

    #[test]
    fn replays_the_two_rules_on_hand_made_scalars() {
        // `k: 1` then a line holding a tab at column 0.
        let src = "k: 1\n\t\nb: 2\n";
        let scalars = [
            plain(0, 1, None),
            plain(3, 4, Some(0)),
            plain(7, 8, None),
            plain(10, 11, Some(0)),
        ];
        assert_eq!(
            first_error(src, &scalars).as_deref(),
            Some("yaml: line 2: found a tab character that violates indentation")
        );
        // `k:` then `  \tv`.
        let src = "k:\n  \tv\n";
        let scalars = [plain(0, 1, None), plain(6, 7, Some(0))];
        assert_eq!(
            first_error(src, &scalars).as_deref(),
            Some("yaml: line 2: found character that cannot start any token")
        );
        // After a simple key's `:` a tab is fine.
        let src = "k:\tv\n";
        let scalars = [plain(0, 1, None), plain(3, 4, Some(0))];
        assert_eq!(first_error(src, &scalars), None);
    }
}

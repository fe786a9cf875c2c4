//! From a creation rule's `path_regex` to `.gitattributes` globs.
//!
//! Hand-written on purpose: crates convert globs to regular expressions
//! (globset, fnmatch-regex), none the other way. Only a small, common
//! subset of regular expressions has an exact glob form; for anything else
//! the caller lists the tracked encrypted files by name instead.

/// Escapes a literal path for a gitattributes pattern; `None` when it has
/// whitespace (which would end the pattern).
pub(super) fn glob_escape(text: &str) -> Option<String> {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_whitespace() {
            return None;
        }
        if matches!(c, '*' | '?' | '[' | ']' | '\\' | '!' | '#') {
            out.push('\\');
        }
        out.push(c);
    }
    Some(out)
}

/// A piece of a path regex that has a glob form.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// One literal character.
    Lit(char),
    /// `.`: any one character.
    Any,
    /// `.*`: any string, `/` included.
    AnyStar,
    /// `[^/]*`: any string within one path component.
    SegStar,
    /// `[…]`: a character class, in glob syntax.
    Class(String),
}

/// The most alternatives one regex may expand to.
const MAX_GLOBS: usize = 16;

/// Derives gitattributes globs matching what an (unanchored, RE2)
/// `path_regex` matches on paths relative to the config's directory.
/// Handles literals and escapes, `^`, `$`, `.`, `.*`, `.+`, `[…]`, `[^/]*`,
/// `x?` and groups with `|` (also `(…)?`). `None` for anything else
/// (repetition of literals, `\d`, `{n}`, …) and for a regex that matches
/// every path (empty, `.*`): the caller then lists tracked files instead.
pub(super) fn regex_to_globs(regex: &str) -> Option<Vec<String>> {
    let chars: Vec<char> = regex.chars().collect();
    let mut pos = 0;
    let alternatives = parse_alternatives(&chars, &mut pos, 0)?;
    if pos != chars.len() {
        return None;
    }
    let mut globs = Vec::new();
    for seq in alternatives {
        let (mut toks, start, end) = anchors(seq)?;
        if !start {
            toks.insert(0, Tok::AnyStar);
        }
        if !end {
            toks.push(Tok::AnyStar);
        }
        toks.dedup_by(|a, b| *a == Tok::AnyStar && *b == Tok::AnyStar);
        if toks.iter().all(|t| *t == Tok::AnyStar) {
            return None;
        }
        for glob in to_globs(&toks)? {
            if !globs.contains(&glob) {
                globs.push(glob);
            }
        }
        if globs.len() > MAX_GLOBS {
            return None;
        }
    }
    Some(globs)
}

/// One alternative: tokens plus `^` / `$` markers (as `None` entries at
/// their positions, checked by [`anchors`]).
type Seq = Vec<Option<Tok>>;

const START: Option<Tok> = None;

/// Parses `a|b|…` up to a `)` (at depth > 0) or the end.
fn parse_alternatives(chars: &[char], pos: &mut usize, depth: usize) -> Option<Vec<Seq>> {
    if depth > 4 {
        return None;
    }
    let mut alternatives: Vec<Seq> = Vec::new();
    let mut current: Vec<Seq> = vec![Vec::new()];
    while *pos < chars.len() {
        let c = chars[*pos];
        // Each step yields the alternatives of one atom.
        let atom: Vec<Seq> = match c {
            '|' => {
                *pos += 1;
                alternatives.append(&mut current);
                current = vec![Vec::new()];
                continue;
            }
            ')' if depth > 0 => break,
            '(' => {
                *pos += 1;
                if chars.get(*pos) == Some(&'?') {
                    if chars.get(*pos + 1) != Some(&':') {
                        return None;
                    }
                    *pos += 2;
                }
                let inner = parse_alternatives(chars, pos, depth + 1)?;
                if chars.get(*pos) != Some(&')') {
                    return None;
                }
                *pos += 1;
                inner
            }
            '^' | '$' => {
                *pos += 1;
                // `^` is a start marker, `$` an end marker: both `None`,
                // told apart by position in [`anchors`].
                vec![vec![START]]
            }
            '.' => {
                *pos += 1;
                match chars.get(*pos) {
                    Some('*') => {
                        *pos += 1;
                        vec![vec![Some(Tok::AnyStar)]]
                    }
                    Some('+') => {
                        *pos += 1;
                        vec![vec![Some(Tok::Any), Some(Tok::AnyStar)]]
                    }
                    _ => vec![vec![Some(Tok::Any)]],
                }
            }
            '[' => {
                let end = chars[*pos..].iter().position(|&c| c == ']')? + *pos;
                let body: String = chars[*pos + 1..end].iter().collect();
                *pos = end + 1;
                if body == "^/" && chars.get(*pos) == Some(&'*') {
                    *pos += 1;
                    vec![vec![Some(Tok::SegStar)]]
                } else if body.is_empty() || body.contains('\\') || body.contains('[') {
                    return None;
                } else {
                    let body = match body.strip_prefix('^') {
                        Some(rest) => format!("!{rest}"),
                        None => body,
                    };
                    vec![vec![Some(Tok::Class(format!("[{body}]")))]]
                }
            }
            '\\' => {
                let next = *chars.get(*pos + 1)?;
                *pos += 2;
                if next.is_ascii_alphanumeric() {
                    return None; // \d, \w, \b, …
                }
                vec![vec![Some(Tok::Lit(next))]]
            }
            '*' | '+' | '{' | '}' | '?' | ']' | ')' => return None,
            c => {
                *pos += 1;
                vec![vec![Some(Tok::Lit(c))]]
            }
        };
        let atom = if chars.get(*pos) == Some(&'?') {
            *pos += 1;
            let mut with_empty = atom;
            with_empty.push(Vec::new());
            with_empty
        } else {
            atom
        };
        if matches!(chars.get(*pos), Some('*' | '+' | '{' | '?')) {
            return None;
        }
        let mut next = Vec::new();
        for prefix in &current {
            for alt in &atom {
                let mut seq = prefix.clone();
                seq.extend(alt.iter().cloned());
                next.push(seq);
            }
        }
        if next.len() > MAX_GLOBS {
            return None;
        }
        current = next;
    }
    alternatives.append(&mut current);
    Some(alternatives)
}

/// Splits off `^` at the start and `$` at the end; `None` when an anchor
/// stands anywhere else.
fn anchors(seq: Seq) -> Option<(Vec<Tok>, bool, bool)> {
    let mut seq = seq;
    let start = seq.first() == Some(&START);
    if start {
        seq.remove(0);
    }
    let end = seq.last() == Some(&START);
    if end {
        seq.pop();
    }
    let toks: Option<Vec<Tok>> = seq.into_iter().collect();
    toks.map(|t| (t, start, end))
}

/// Globs for a token sequence (several when a `.*` may or may not cross a
/// directory boundary).
fn to_globs(toks: &[Tok]) -> Option<Vec<String>> {
    let mut outs: Vec<String> = vec![String::new()];
    for (i, tok) in toks.iter().enumerate() {
        let after_slash = i == 0 || toks[i - 1] == Tok::Lit('/');
        let last = i + 1 == toks.len();
        let pieces: Vec<String> = match tok {
            Tok::Lit(c) if c.is_whitespace() => return None,
            Tok::Lit(c) => vec![glob_escape(&c.to_string())?],
            Tok::Any => vec!["?".into()],
            Tok::SegStar => vec!["*".into()],
            Tok::Class(c) => vec![c.clone()],
            Tok::AnyStar if after_slash && last => vec!["**".into()],
            Tok::AnyStar if after_slash && toks[i + 1] != Tok::Lit('/') => vec!["**/*".into()],
            Tok::AnyStar if last => vec!["*".into(), "*/**".into()],
            Tok::AnyStar => vec!["*".into(), "*/**/*".into()],
        };
        outs = outs
            .iter()
            .flat_map(|o| pieces.iter().map(move |p| format!("{o}{p}")))
            .collect();
    }
    Some(outs.into_iter().map(|g| simplify(&g)).collect())
}

/// `**/*.yaml` → `*.yaml` (a pattern without `/` matches at any depth);
/// a pattern without `/` that must stay at the top gets a leading `/`.
fn simplify(glob: &str) -> String {
    if let Some(rest) = glob.strip_prefix("**/") {
        if !rest.contains('/') {
            return rest.to_string();
        }
        return glob.to_string();
    }
    if !glob.trim_end_matches('/').contains('/') {
        return format!("/{glob}");
    }
    glob.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn globs(re: &str) -> Option<Vec<String>> {
        regex_to_globs(re)
    }

    #[test]
    fn common_path_regexes_become_globs() {
        assert_eq!(globs(r"\.enc\.yaml$").unwrap(), ["*.enc.yaml"]);
        assert_eq!(globs(r".*\.sops\.json$").unwrap(), ["*.sops.json"]);
        assert_eq!(globs(r"^secrets/.*\.yaml$").unwrap(), ["secrets/**/*.yaml"]);
        assert_eq!(
            globs(r"secrets/.*\.yaml$").unwrap(),
            ["**/*secrets/**/*.yaml"]
        );
        assert_eq!(globs(r"^config/prod/.*").unwrap(), ["config/prod/**"]);
        assert_eq!(
            globs(r"^(dev|prod)/secrets\.ya?ml$").unwrap(),
            [
                "dev/secrets.yaml",
                "dev/secrets.yml",
                "prod/secrets.yaml",
                "prod/secrets.yml"
            ]
        );
        assert_eq!(globs(r"^secrets\.env$").unwrap(), ["/secrets.env"]);
        assert_eq!(globs(r"^env/[^/]*\.env$").unwrap(), ["env/*.env"]);
        assert_eq!(
            globs(r"^secrets.*\.json$").unwrap(),
            ["/secrets*.json", "secrets*/**/*.json"]
        );
    }

    #[test]
    fn underivable_regexes_fall_back() {
        for re in [
            "",
            ".*",
            "^.*$",
            r"\d+\.yaml$",
            "a{2}",
            "(?i)x",
            r"\w",
            "a+b",
        ] {
            assert_eq!(globs(re), None, "{re}");
        }
    }
}

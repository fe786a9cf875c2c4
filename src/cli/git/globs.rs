//! From a creation rule's `path_regex` to `.gitattributes` globs.
//!
//! The regex is parsed by `regex-syntax` (the parser of the `regex` crate,
//! which matches `path_regex` everywhere else). The translation of its
//! syntax tree is hand-written on purpose: crates convert globs to regular
//! expressions (globset, fnmatch-regex), none the other way. Only a small,
//! common subset of regular expressions has an exact glob form; for
//! anything else the caller lists the tracked encrypted files by name.

use regex_syntax::ast::parse::ParserBuilder;
use regex_syntax::ast::{
    AssertionKind, Ast, ClassBracketed, ClassSet, ClassSetItem, GroupKind, Literal, LiteralKind,
    RepetitionKind,
};

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

/// The deepest syntax tree the parser builds (bounds the recursion).
const MAX_NESTING: u32 = 32;

/// Derives gitattributes globs matching what an (unanchored, RE2)
/// `path_regex` matches on paths relative to the config's directory.
/// Handles literals and escapes, `^`, `$`, `\A`, `\z`, `.`, `.*`, `.+`,
/// `[…]` (plain characters and ranges), `[^/]*`, `x?` and groups with `|`
/// (also `(…)?`, named and non-capturing). `None` for anything else
/// (repetition of literals, `\d`, `{n}`, flags, …), for a regex that does
/// not parse and for one that matches every path (empty, `.*`): the caller
/// then lists tracked files instead.
pub(super) fn regex_to_globs(regex: &str) -> Option<Vec<String>> {
    let ast = ParserBuilder::new()
        .nest_limit(MAX_NESTING)
        .build()
        .parse(regex)
        .ok()?;
    let mut globs = Vec::new();
    for seq in alternatives(&ast, 0)? {
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

/// A `^` or `$` (told apart by position in [`anchors`]).
const ANCHOR: Option<Tok> = None;

/// The most groups nested in one another.
const MAX_GROUP_DEPTH: usize = 4;

/// Alternatives of one syntax tree node: each a sequence of tokens.
/// `groups` counts the enclosing groups (at most [`MAX_GROUP_DEPTH`]).
fn alternatives(ast: &Ast, groups: usize) -> Option<Vec<Seq>> {
    let single = |tok: Tok| Some(vec![vec![Some(tok)]]);
    match ast {
        Ast::Empty(_) => Some(vec![Vec::new()]),
        Ast::Literal(lit) => single(Tok::Lit(literal(lit)?)),
        Ast::Dot(_) => single(Tok::Any),
        // Without the `m` flag `^` and `$` match at the ends of the path,
        // as `\A` and `\z` do.
        Ast::Assertion(assertion) => match assertion.kind {
            AssertionKind::StartLine
            | AssertionKind::EndLine
            | AssertionKind::StartText
            | AssertionKind::EndText => Some(vec![vec![ANCHOR]]),
            _ => None,
        },
        Ast::ClassBracketed(class) => single(Tok::Class(class_glob(class)?)),
        Ast::Repetition(rep) => match (&rep.op.kind, rep.ast.as_ref()) {
            (RepetitionKind::ZeroOrMore, Ast::Dot(_)) => single(Tok::AnyStar),
            (RepetitionKind::OneOrMore, Ast::Dot(_)) => {
                Some(vec![vec![Some(Tok::Any), Some(Tok::AnyStar)]])
            }
            (RepetitionKind::ZeroOrMore, Ast::ClassBracketed(class)) if is_not_slash(class) => {
                single(Tok::SegStar)
            }
            (RepetitionKind::ZeroOrOne, inner) => {
                let mut with_empty = alternatives(inner, groups)?;
                with_empty.push(Vec::new());
                Some(with_empty)
            }
            _ => None,
        },
        Ast::Group(group) => {
            let plain = match &group.kind {
                GroupKind::CaptureIndex(_) | GroupKind::CaptureName { .. } => true,
                GroupKind::NonCapturing(flags) => flags.items.is_empty(),
            };
            if !plain || groups >= MAX_GROUP_DEPTH {
                return None;
            }
            alternatives(&group.ast, groups + 1)
        }
        Ast::Alternation(alternation) => {
            let mut out = Vec::new();
            for ast in &alternation.asts {
                out.extend(alternatives(ast, groups)?);
            }
            Some(out)
        }
        Ast::Concat(concat) => {
            let mut current: Vec<Seq> = vec![Vec::new()];
            for ast in &concat.asts {
                let atom = alternatives(ast, groups)?;
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
            Some(current)
        }
        // Flags (`(?i)`), `\d`, `\pL`, …: no glob form.
        _ => None,
    }
}

/// The character of a literal written as itself or escaped with `\`
/// (`\.`, `\/`); `None` for `\x41`, `\t` and the like.
fn literal(lit: &Literal) -> Option<char> {
    match lit.kind {
        LiteralKind::Verbatim | LiteralKind::Meta | LiteralKind::Superfluous => Some(lit.c),
        _ => None,
    }
}

/// `[^/]`.
fn is_not_slash(class: &ClassBracketed) -> bool {
    class.negated && matches!(&class.kind, ClassSet::Item(ClassSetItem::Literal(l)) if l.c == '/')
}

/// A bracket expression in glob syntax (`[^a-z]` → `[!a-z]`). Only
/// characters that mean themselves inside a glob bracket are taken (no
/// `/`, which a gitattributes bracket never matches, nor `!`, `^`, `-`, `[`,
/// `]`, `\`), single or in ranges; `None` for anything else.
fn class_glob(class: &ClassBracketed) -> Option<String> {
    let items = match &class.kind {
        ClassSet::Item(ClassSetItem::Union(union)) => union.items.as_slice(),
        ClassSet::Item(item) => std::slice::from_ref(item),
        ClassSet::BinaryOp(_) => return None,
    };
    let plain = |lit: &Literal| {
        let c = literal(lit)?;
        let special = matches!(c, '/' | '!' | '^' | '-' | '[' | ']' | '\\');
        (!special && !c.is_whitespace()).then_some(c)
    };
    let mut out = String::from(if class.negated { "[!" } else { "[" });
    for item in items {
        match item {
            ClassSetItem::Literal(lit) => out.push(plain(lit)?),
            ClassSetItem::Range(range) => {
                out.push(plain(&range.start)?);
                out.push('-');
                out.push(plain(&range.end)?);
            }
            _ => return None,
        }
    }
    out.push(']');
    Some(out)
}

/// Splits off `^` at the start and `$` at the end; `None` when an anchor
/// stands anywhere else.
fn anchors(seq: Seq) -> Option<(Vec<Tok>, bool, bool)> {
    let mut seq = seq;
    let start = seq.first() == Some(&ANCHOR);
    if start {
        seq.remove(0);
    }
    let end = seq.last() == Some(&ANCHOR);
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

    /// Each supported construct, alone and combined; `None`: no glob form.
    #[test]
    fn derivation_table() {
        let table: &[(&str, Option<&[&str]>)] = &[
            (r"\.ya?ml$", Some(&["*.yaml", "*.yml"])),
            (r"^a/b\.(json|yaml)$", Some(&["a/b.json", "a/b.yaml"])),
            (
                r"^(?:x|y)/.+\.env$",
                Some(&["x/?*.env", "x/?*/**/*.env", "y/?*.env", "y/?*/**/*.env"]),
            ),
            (r"[0-9]\.yaml$", Some(&["*[0-9].yaml"])),
            (r"^[^a]\.yaml$", Some(&["/[!a].yaml"])),
            (r"^a$|^b$", Some(&["/a", "/b"])),
            (r"^a(b)?$", Some(&["/ab", "/a"])),
            (r"^(a|b)?c$", Some(&["/ac", "/bc", "/c"])),
            (r"^x/(a|b)(c|d)$", Some(&["x/ac", "x/ad", "x/bc", "x/bd"])),
            (r"((((a))))", Some(&["*a*", "**/*a*/**"])),
            (r"^\/x$", Some(&["/x"])),
            (r"^a\-b$", Some(&["/a-b"])),
            (r"^a#b$", Some(&["/a\\#b"])),
            (r"^a!b$", Some(&["/a\\!b"])),
            (r"^.$", Some(&["/?"])),
            (r"^..*$", Some(&["/?*", "?*/**"])),
            (r"^a/.*/b$", Some(&["a/*/b", "a/*/**/*/b"])),
            (r"^a[^/]*b$", Some(&["/a*b"])),
            (r"(a|)x$", Some(&["*ax", "*x"])),
            // Parsed by regex-syntax: escapes in classes, named groups,
            // \A and \z, lazy repetition, a lone `}`.
            (r"^[\.]x$", Some(&["/[.]x"])),
            (r"(?P<n>a)\.env$", Some(&["*a.env"])),
            (r"\Ax\z", Some(&["/x"])),
            (r"^a.*?b$", Some(&["/a*b", "a*/**/*b"])),
            (r"^a}$", Some(&["/a}"])),
            // Anchors inside, too deep, too many, or no glob form.
            (r"a^b", None),
            (r"a$b", None),
            (r"(((((a)))))", None),
            (r"a|b|c|d|e|f|g|h|i|j|k|l|m|n|o|p|q", None),
            (r"^a b$", None),
            (r"\x41", None),
            (r"a*", None),
            (r"a{", None),
            (r"^a\.b\b", None),
            (r"^(a|b)*$", None),
            (r"^(a)+$", None),
            (r"(?i:a)\.yaml$", None),
            (r"[a&&b]", None),
            (r"[[:alpha:]]x$", None),
            // Characters a glob bracket reads differently.
            (r"[a-]x$", None),
            (r"[!a]x$", None),
            (r"[/a]x$", None),
            (r"^[]a]$", None),
        ];
        for (re, want) in table {
            let want = want.map(|w| w.iter().map(|g| g.to_string()).collect::<Vec<_>>());
            assert_eq!(globs(re), want, "{re}");
        }
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

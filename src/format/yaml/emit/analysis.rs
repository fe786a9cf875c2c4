//! yaml.v3 `yaml_emitter_analyze_scalar`: which styles can write a scalar.
//!
//! One character scan ([`Scan`]), used by the simple path [`analyze_chars`]
//! for every text; [`super::fast_ascii`] runs the same scan over ASCII
//! text and skips the runs of characters that cannot change it.

use super::fast_ascii;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct ScalarAnalysis {
    /// Only ASCII characters (a column per byte).
    pub(super) ascii: bool,
    pub(super) multiline: bool,
    pub(super) flow_plain_allowed: bool,
    pub(super) block_plain_allowed: bool,
    pub(super) single_quoted_allowed: bool,
    pub(super) block_allowed: bool,
}

/// Whether `c` is a line break for yaml.v3.
pub(super) fn is_break_char(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// yaml.v3 `is_printable` (note: characters outside the BMP are not).
pub(super) fn is_printable(c: char) -> bool {
    let u = c as u32;
    u == 0x0A
        || (0x20..=0x7E).contains(&u)
        || (0xA0..=0xD7FF).contains(&u)
        || ((0xE000..=0xFFFF).contains(&u) && u != 0xFEFF && u != 0xFFFE && u != 0xFFFF)
}

/// yaml.v3 `yaml_emitter_analyze_scalar`: which styles can write `value`.
pub(super) fn analyze_scalar(value: &str) -> ScalarAnalysis {
    match fast_ascii::analyze_ascii(value.as_bytes()) {
        Some(analysis) => ScalarAnalysis {
            ascii: true,
            ..analysis
        },
        None => analyze_chars(value),
    }
}

/// What the character scan of a scalar found.
#[derive(Default)]
pub(super) struct Flags {
    pub(super) block_indicators: bool,
    pub(super) flow_indicators: bool,
    pub(super) line_breaks: bool,
    pub(super) special_characters: bool,
    pub(super) tab_characters: bool,
    pub(super) leading_space: bool,
    pub(super) leading_break: bool,
    pub(super) trailing_space: bool,
    pub(super) trailing_break: bool,
    pub(super) break_space: bool,
    pub(super) space_break: bool,
}

/// The scan of a scalar's characters, one at a time, in order.
pub(super) struct Scan {
    flags: Flags,
    previous_space: bool,
    previous_break: bool,
    preceded_by_whitespace: bool,
}

impl Scan {
    /// A scan of `value` (its start decides the document-marker case).
    pub(super) fn new(value: &[u8]) -> Scan {
        let mut flags = Flags::default();
        if value.starts_with(b"---") || value.starts_with(b"...") {
            flags.block_indicators = true;
            flags.flow_indicators = true;
        }
        Scan {
            flags,
            previous_space: false,
            previous_break: false,
            preceded_by_whitespace: true,
        }
    }

    /// Takes the character `c`; `first` when it starts the value, `next`
    /// the character after it (`None` at the end).
    pub(super) fn char(&mut self, c: char, first: bool, next: Option<char>) {
        let f = &mut self.flags;
        let is_last = next.is_none();
        let followed_by_whitespace = matches!(next, None | Some(' ' | '\t'));
        if first {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => {
                    f.flow_indicators = true;
                    f.block_indicators = true;
                }
                '?' | ':' => {
                    f.flow_indicators = true;
                    if followed_by_whitespace {
                        f.block_indicators = true;
                    }
                }
                '-' if followed_by_whitespace => {
                    f.flow_indicators = true;
                    f.block_indicators = true;
                }
                _ => {}
            }
        } else {
            match c {
                ',' | '?' | '[' | ']' | '{' | '}' => f.flow_indicators = true,
                ':' => {
                    f.flow_indicators = true;
                    if followed_by_whitespace {
                        f.block_indicators = true;
                    }
                }
                '#' if self.preceded_by_whitespace => {
                    f.flow_indicators = true;
                    f.block_indicators = true;
                }
                _ => {}
            }
        }
        if c == '\t' {
            f.tab_characters = true;
        } else if !is_printable(c) {
            f.special_characters = true;
        }
        if c == ' ' {
            if first {
                f.leading_space = true;
            }
            if is_last {
                f.trailing_space = true;
            }
            if self.previous_break {
                f.break_space = true;
            }
            self.previous_space = true;
            self.previous_break = false;
        } else if is_break_char(c) {
            f.line_breaks = true;
            if first {
                f.leading_break = true;
            }
            if is_last {
                f.trailing_break = true;
            }
            if self.previous_space {
                f.space_break = true;
            }
            self.previous_space = false;
            self.previous_break = true;
        } else {
            self.previous_space = false;
            self.previous_break = false;
        }
        self.preceded_by_whitespace = matches!(c, ' ' | '\t' | '\0') || is_break_char(c);
    }

    /// Takes a run of characters that are not the first, none a space,
    /// break, tab, indicator or special character: only the state about
    /// the previous character changes.
    pub(super) fn ordinary_run(&mut self) {
        self.previous_space = false;
        self.previous_break = false;
        self.preceded_by_whitespace = false;
    }

    /// The analysis of the scanned (non-empty) value.
    pub(super) fn finish(self) -> ScalarAnalysis {
        finish_analysis(self.flags)
    }
}

/// The styles allowed by the flags of a (non-empty) scalar.
pub(super) fn finish_analysis(f: Flags) -> ScalarAnalysis {
    let mut a = ScalarAnalysis {
        ascii: false,
        multiline: f.line_breaks,
        flow_plain_allowed: true,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if f.leading_space || f.leading_break || f.trailing_space || f.trailing_break {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
    }
    if f.trailing_space {
        a.block_allowed = false;
    }
    if f.break_space {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if f.space_break || f.tab_characters || f.special_characters {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if f.space_break || f.special_characters {
        a.block_allowed = false;
    }
    if f.line_breaks {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
    }
    if f.flow_indicators {
        a.flow_plain_allowed = false;
    }
    if f.block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

/// The analysis of an empty scalar.
pub(super) const EMPTY: ScalarAnalysis = ScalarAnalysis {
    ascii: false,
    multiline: false,
    flow_plain_allowed: false,
    block_plain_allowed: true,
    single_quoted_allowed: true,
    block_allowed: false,
};

/// The character-by-character analysis (any text): the simple path that
/// [`fast_ascii::analyze_ascii`] must equal.
pub(super) fn analyze_chars(value: &str) -> ScalarAnalysis {
    if value.is_empty() {
        return EMPTY;
    }
    let mut scan = Scan::new(value.as_bytes());
    let mut chars = value.chars().peekable();
    let mut first = true;
    while let Some(c) = chars.next() {
        scan.char(c, first, chars.peek().copied());
        first = false;
    }
    scan.finish()
}

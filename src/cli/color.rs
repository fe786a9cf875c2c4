//! Colour on a terminal: `hint:` lines on standard error and the kind of
//! each `check` finding on standard output. Never when `NO_COLOR` is set
//! (no-color.org) or the stream is not a terminal, unless `CLICOLOR_FORCE`
//! asks for it; `NO_COLOR` wins over `CLICOLOR_FORCE`.

use anstyle::{AnsiColor, Style};
use std::ffi::OsStr;
use std::io::IsTerminal;

/// The `hint:` label.
pub(crate) const HINT: Style = AnsiColor::Cyan.on_default().bold();
/// A finding that fails `check` (plaintext, unreadable file, …).
pub(crate) const FINDING: Style = AnsiColor::Red.on_default().bold();

/// Which stream the text goes to.
#[derive(Clone, Copy)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

/// Whether to colour text written to `stream`.
pub(crate) fn enabled(stream: Stream) -> bool {
    let terminal = match stream {
        Stream::Stdout => std::io::stdout().is_terminal(),
        Stream::Stderr => std::io::stderr().is_terminal(),
    };
    decide(
        std::env::var_os("NO_COLOR").as_deref(),
        std::env::var_os("CLICOLOR_FORCE").as_deref(),
        terminal,
    )
}

/// The rule: `NO_COLOR` (non-empty) turns colour off, `CLICOLOR_FORCE`
/// (non-empty, not `0`) turns it on, else colour on a terminal only.
fn decide(no_color: Option<&OsStr>, force: Option<&OsStr>, terminal: bool) -> bool {
    if no_color.is_some_and(|v| !v.is_empty()) {
        return false;
    }
    if force.is_some_and(|v| !v.is_empty() && v != "0") {
        return true;
    }
    terminal
}

/// `text` in `style` when colour is enabled for `stream`, else as it is.
pub(crate) fn paint(stream: Stream, style: Style, text: &str) -> String {
    if enabled(stream) {
        format!("{}{text}{}", style.render(), style.render_reset())
    } else {
        text.to_string()
    }
}

/// The `hint: …` line for standard error.
pub(crate) fn hint_line(hint: &str) -> String {
    format!("{} {hint}", paint(Stream::Stderr, HINT, "hint:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_wins_then_force_then_the_terminal() {
        let some = |s: &'static str| Some(OsStr::new(s));
        assert!(decide(None, None, true));
        assert!(!decide(None, None, false));
        assert!(!decide(some("1"), None, true));
        assert!(!decide(some("1"), some("1"), true));
        assert!(decide(some(""), None, true), "an empty NO_COLOR is unset");
        assert!(decide(None, some("1"), false));
        assert!(!decide(None, some("0"), false));
        assert!(!decide(None, some(""), false));
    }
}

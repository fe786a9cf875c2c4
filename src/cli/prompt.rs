//! The one yes/no question of `init`, `updatekeys` and `updatekeys -r`
//! (a single key press, on the terminal). The question hides the cursor
//! while it waits; Ctrl+C there shows it again before enseal ends as
//! SIGINT does ([`crate::tty_guard`]).

use crate::error::{Error, Result};
use crate::tty_guard::{guarded, Restore};

/// Asks `question` (`[y/n]` is added) and waits for one key. The caller
/// has made sure standard input and standard error are a terminal.
pub(crate) fn confirm(question: &str) -> Result<bool> {
    guarded(Restore::Cursor, || {
        dialoguer::Confirm::new().with_prompt(question).interact()
    })
    .map_err(|e| Error::Usage(format!("cannot ask for confirmation: {e}")))
}

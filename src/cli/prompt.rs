//! The one yes/no question of `init`, `updatekeys` and `updatekeys -r`
//! (a single key press, on the terminal).
//!
//! The prompt hides the cursor while it waits. Ctrl+C there ends enseal
//! as SIGINT does (the shell sees exit 130), but first shows the cursor
//! again and ends the line: without that the user's shell was left with
//! an invisible cursor and its prompt glued to the question.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use crate::error::{Error, Result};

/// Whether a question is on the screen (the cursor is hidden).
static ASKING: AtomicBool = AtomicBool::new(false);
/// The SIGINT action is installed once and stays: removing a signal-hook
/// action would leave SIGINT ignored, not back to its default.
static INSTALL: Once = Once::new();

/// Shows the cursor again and moves to a new line.
const RESTORE: &[u8] = b"\x1b[?25h\n";

/// Asks `question` (`[y/n]` is added) and waits for one key. The caller
/// has made sure standard input and standard error are a terminal.
pub(crate) fn confirm(question: &str) -> Result<bool> {
    INSTALL.call_once(|| {
        // SAFETY: the action only reads an atomic, calls write(2) and
        // signal-hook's emulate_default_handler, all async-signal-safe.
        let _ = unsafe {
            signal_hook::low_level::register(signal_hook::consts::SIGINT, || {
                if ASKING.load(Ordering::SeqCst) {
                    // SAFETY: write(2) of a static buffer to standard error.
                    libc::write(2, RESTORE.as_ptr().cast(), RESTORE.len());
                }
                let _ =
                    signal_hook::low_level::emulate_default_handler(signal_hook::consts::SIGINT);
            })
        };
    });
    ASKING.store(true, Ordering::SeqCst);
    let answer = dialoguer::Confirm::new().with_prompt(question).interact();
    ASKING.store(false, Ordering::SeqCst);
    answer.map_err(|e| Error::Usage(format!("cannot ask for confirmation: {e}")))
}

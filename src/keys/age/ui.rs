//! Talking to the user for age keys: passphrase prompts on the terminal and
//! the callbacks that age plugins use.

use std::io::{BufRead, Write};
use std::sync::Arc;

use age::secrecy::SecretString;

/// Asks for a passphrase: called with the prompt text, returns the
/// passphrase or why none could be read. Tests substitute their own.
pub type Prompter = Arc<dyn Fn(&str) -> Result<SecretString, String> + Send + Sync>;

/// Reads passphrases from `/dev/tty` without echo, writing the prompt there.
pub fn terminal_prompter() -> Prompter {
    Arc::new(|prompt: &str| {
        // Ctrl+C at the prompt puts echo and line editing back first.
        crate::tty_guard::guarded(crate::tty_guard::Restore::TerminalModes, || {
            rpassword::prompt_password(prompt)
        })
        .map(SecretString::from)
        .map_err(|e| {
            format!(
                "standard input is not a terminal, and /dev/tty is not available: {}",
                io_error_text(&e)
            )
        })
    })
}

/// A prompter that never succeeds (no terminal), for tests and batch use.
pub fn no_terminal_prompter() -> Prompter {
    Arc::new(|_: &str| Err("no terminal is available".to_string()))
}

/// Callbacks handed to the age crate (plugins, SSH key decryption).
#[derive(Clone)]
pub(crate) struct UiCallbacks {
    prompter: Prompter,
}

impl UiCallbacks {
    pub(crate) fn new(prompter: Prompter) -> UiCallbacks {
        UiCallbacks { prompter }
    }
}

impl age::Callbacks for UiCallbacks {
    fn display_message(&self, message: &str) {
        eprintln!("{message}");
    }

    fn confirm(&self, message: &str, yes_string: &str, no_string: Option<&str>) -> Option<bool> {
        let no = no_string.unwrap_or("no");
        let line = ask_tty(&format!("{message} [{yes_string}/{no}]: "))?;
        Some(line.trim() == yes_string || line.trim().eq_ignore_ascii_case("y"))
    }

    fn request_public_string(&self, description: &str) -> Option<String> {
        let line = ask_tty(&format!("{description} "))?;
        Some(line.trim_end_matches(['\r', '\n']).to_string())
    }

    fn request_passphrase(&self, description: &str) -> Option<SecretString> {
        (self.prompter)(&format!("{description} ")).ok()
    }
}

/// A plugin resolution error in words.
pub(crate) fn resolve_error(e: &age::plugin::ResolveError) -> String {
    match e {
        age::plugin::ResolveError::MissingPlugin { binary_name } => {
            format!("age plugin {binary_name} not found on PATH")
        }
        other => strip_isolates(&other.to_string()),
    }
}

/// Removes the Unicode direction isolates that the age crate's localised
/// messages put around arguments.
pub(crate) fn strip_isolates(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '\u{2068}' | '\u{2069}'))
        .collect()
}

/// An I/O error in Go's words (`no such file or directory`), as sops prints.
pub(crate) fn io_error_text(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::NotFound => "no such file or directory".into(),
        ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let text = e.to_string();
            // "Is a directory (os error 21)" → "is a directory"
            let text = match text.find(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
            let mut chars = text.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => text,
            }
        }
    }
}

/// Writes `prompt` to the controlling terminal and reads one line from it
/// (`None` without a terminal).
fn ask_tty(prompt: &str) -> Option<String> {
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    let mut writer = &tty;
    write!(writer, "{prompt}").ok()?;
    writer.flush().ok()?;
    let mut line = String::new();
    std::io::BufReader::new(&tty).read_line(&mut line).ok()?;
    Some(line)
}

//! `enseal git textconv`: the diff driver. Prints the file decrypted for
//! `git diff` / `git log -p`; never prompts and never uses the terminal,
//! and prints the file unchanged (with a note) when it cannot decrypt.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{first_line, stores};
use crate::cli::pipeline::{key_context, load_encrypted};
use crate::error::Error;
use crate::format::FormatKind;
use crate::keys::age::{no_terminal_prompter, AgeEnv, Identities};
use crate::keys::KeyContext;

/// Seconds textconv may spend decrypting (`ENSEAL_TEXTCONV_TIMEOUT`).
const TEXTCONV_TIMEOUT_SECS: u64 = 20;

/// Set when [`detach_from_terminal`] made a new session: the process group
/// then holds only enseal and the commands it started.
static DETACHED: AtomicBool = AtomicBool::new(false);

/// Cuts the process off the terminal: a new session (no controlling
/// terminal, so opening /dev/tty fails, here and in any child such as
/// SOPS_AGE_KEY_CMD), standard input from /dev/null, and no display or tty
/// variables for gpg's pinentry.
fn detach_from_terminal() {
    // SAFETY: plain syscalls on this process's own descriptors, before any
    // thread is started.
    unsafe {
        if libc::setsid() >= 0 {
            DETACHED.store(true, Ordering::SeqCst);
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::close(null);
        }
    }
    for var in ["GPG_TTY", "DISPLAY", "WAYLAND_DISPLAY"] {
        std::env::remove_var(var);
    }
}

/// Writes `bytes` to stdout, quietly on a closed pipe.
fn emit_stdout(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|()| out.flush());
}

/// Runs the diff driver on `file`; always exits 0.
pub(super) fn textconv(file: &Path, config: Option<&str>) -> i32 {
    detach_from_terminal();
    let name = file.display().to_string();
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("enseal git textconv: {name}: cannot read: {e}");
            return 0;
        }
    };
    let timeout = std::env::var("ENSEAL_TEXTCONV_TIMEOUT")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(TEXTCONV_TIMEOUT_SECS);
    // Whoever sets `claimed` first writes the output: the decryption or,
    // when it takes too long (a key service, a key command waiting for
    // input), the watchdog with the file unchanged.
    let claimed = Arc::new(AtomicBool::new(false));
    {
        let claimed = claimed.clone();
        let raw = bytes.clone();
        let name = name.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(timeout));
            if !claimed.swap(true, Ordering::SeqCst) {
                emit_stdout(&raw);
                eprintln!(
                    "enseal git textconv: {name}: no key within {timeout}s (ENSEAL_TEXTCONV_TIMEOUT); shown encrypted"
                );
                if DETACHED.load(Ordering::SeqCst) {
                    // End the key command still running (our own session's
                    // process group), so nothing holds git's pipes open.
                    // SAFETY: signal disposition and kill on our own group.
                    unsafe {
                        libc::signal(libc::SIGTERM, libc::SIG_IGN);
                        libc::kill(0, libc::SIGTERM);
                    }
                }
                std::process::exit(0);
            }
        });
    }
    let result = textconv_decrypt(file, &bytes, config);
    if claimed.swap(true, Ordering::SeqCst) {
        // The watchdog is writing and exits.
        loop {
            std::thread::park();
        }
    }
    match result {
        Ok(plain) => emit_stdout(&zeroize::Zeroizing::new(plain)),
        Err(note) => {
            emit_stdout(&bytes);
            eprintln!("enseal git textconv: {name}: {note}");
        }
    }
    0
}

/// The decrypted file, or the one-line reason it is shown unchanged.
fn textconv_decrypt(
    file: &Path,
    bytes: &[u8],
    config: Option<&str>,
) -> std::result::Result<Vec<u8>, String> {
    let name = file.display().to_string();
    let store = FormatKind::from_path(&name).store(&stores(config));
    let encrypted = match load_encrypted(store.as_ref(), bytes, &name) {
        Ok(e) => e,
        Err(Error::MetadataNotFound(_)) => return Err("not encrypted; shown as is".into()),
        Err(_) => return Err("not a valid encrypted file; shown as is".into()),
    };
    let order = std::env::var("SOPS_DECRYPTION_ORDER").ok();
    let mut keys = key_context(order.as_deref()).map_err(|e| first_line(&e.to_string()))?;
    let identities = Identities::load(&AgeEnv::from_process(), no_terminal_prompter());
    let mut with_ids = KeyContext::with_age_identities(identities);
    with_ids.decryption_order = std::mem::take(&mut keys.decryption_order);
    let decrypted = encrypted
        .decrypt(&mut with_ids, false)
        .map_err(|e| match e {
            Error::RetrieveKey(_) => "no key to decrypt it; shown encrypted".to_string(),
            Error::Mac(_) => "MAC mismatch; shown encrypted".to_string(),
            other => format!("{}; shown encrypted", first_line(&other.to_string())),
        })?;
    store
        .emit_plain(&decrypted.documents)
        .map_err(|e| format!("{}; shown encrypted", first_line(&e.to_string())))
}

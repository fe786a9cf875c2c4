//! Secret hygiene: wiping decrypted values from memory when they are
//! dropped, keeping the process out of core dumps while it holds them, and
//! the list of signals after which no plaintext file may remain.

use crate::tree::{Comment, Item, Map, Value};
use zeroize::Zeroize;

impl Zeroize for Value {
    fn zeroize(&mut self) {
        match self {
            Value::Map(m) => m.zeroize(),
            Value::List(items) => items.iter_mut().for_each(Zeroize::zeroize),
            Value::Str(s) => s.zeroize(),
            Value::Bytes(b) => b.zeroize(),
            Value::Int(i) => i.zeroize(),
            Value::Float(f) => f.zeroize(),
            Value::Bool(b) => b.zeroize(),
            Value::Comment(c) => c.zeroize(),
            Value::Time(_) | Value::Null => {}
        }
    }
}

impl Zeroize for Map {
    fn zeroize(&mut self) {
        self.0.iter_mut().for_each(Zeroize::zeroize);
    }
}

impl Zeroize for Item {
    fn zeroize(&mut self) {
        match self {
            Item::Entry(key, value) => {
                key.zeroize();
                value.zeroize();
            }
            Item::Comment(c) => c.zeroize(),
        }
    }
}

impl Zeroize for Comment {
    fn zeroize(&mut self) {
        self.text.zeroize();
    }
}

/// Marks the process as not dumpable (Linux `PR_SET_DUMPABLE` 0): no core
/// file is written if it crashes while holding decrypted values, and other
/// unprivileged processes of the same user cannot attach to it or read its
/// memory. Programs it starts (`exec-env`, `exec-file`, the editor) are not
/// affected: the flag is reset when they `exec`. Elsewhere the core-size
/// limit of this process is set to zero instead.
pub fn protect_process() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) only changes a flag of this process.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    #[cfg(all(unix, not(target_os = "linux")))]
    // SAFETY: setrlimit with a valid, fully initialised struct.
    unsafe {
        let zero = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &zero);
    }
}

/// True when the process is marked not dumpable (always true off Linux,
/// where [`protect_process`] lowers the core limit instead).
pub fn process_is_protected() -> bool {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_GET_DUMPABLE) reads a flag of this process.
    unsafe {
        libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) == 0
    }
    #[cfg(not(target_os = "linux"))]
    true
}

/// Every signal that ends a process by default and that a process can
/// catch: the ones `edit` and `exec-file` catch so that no plaintext file
/// outlives them (one list, used by both).
///
/// Left out: `SIGKILL` and `SIGSTOP` (cannot be caught; `SIGKILL` leaves at
/// most the private 0700 folder), and the hardware faults `SIGSEGV`,
/// `SIGBUS`, `SIGILL`, `SIGFPE`, which mean enseal itself crashed at an
/// instruction a handler cannot return to. The real-time signals end a
/// process by default too and are included.
#[cfg(unix)]
pub fn terminating_signals() -> Vec<libc::c_int> {
    let mut signals = vec![
        libc::SIGHUP,
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGTRAP,
        libc::SIGABRT,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGPIPE,
        libc::SIGALRM,
        libc::SIGTERM,
        libc::SIGXCPU,
        libc::SIGXFSZ,
        libc::SIGVTALRM,
        libc::SIGPROF,
        libc::SIGIO,
        libc::SIGSYS,
    ];
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        signals.extend([libc::SIGSTKFLT, libc::SIGPWR]);
        signals.extend(libc::SIGRTMIN()..=libc::SIGRTMAX());
    }
    signals
}

/// True for a `SIGPIPE` the process raised on itself by writing to a pipe
/// nobody reads: the write reports the error, as when the signal is ignored
/// (Rust's default), rather than ending the command.
#[cfg(unix)]
pub fn is_own_broken_pipe(signal: libc::c_int, sender: libc::pid_t) -> bool {
    signal == libc::SIGPIPE && u32::try_from(sender).is_ok_and(|pid| pid == std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroize_wipes_every_string_in_the_tree() {
        let mut inner = Map::new();
        inner.push("password", Value::Str("hunter2".into()));
        inner.0.push(Item::Comment(Comment::new(" secret note")));
        let mut doc = Map::new();
        doc.push("db", Value::Map(inner));
        doc.push(
            "list",
            Value::List(vec![Value::Str("token".into()), Value::Int(42)]),
        );
        doc.push("blob", Value::Bytes(vec![1, 2, 3]));
        doc.zeroize();
        let text = format!("{doc:?}");
        for secret in ["hunter2", "secret note", "token", "42", "password"] {
            assert!(!text.contains(secret), "{secret} survived: {text}");
        }
    }

    #[test]
    fn terminating_signals_are_catchable_and_end_a_process_by_default() {
        let signals = terminating_signals();
        for must in [libc::SIGQUIT, libc::SIGUSR1, libc::SIGALRM, libc::SIGTERM] {
            assert!(signals.contains(&must), "{must}");
        }
        for never in [libc::SIGKILL, libc::SIGSTOP, libc::SIGCHLD, libc::SIGWINCH] {
            assert!(!signals.contains(&never), "{never}");
        }
        let mut sorted = signals.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), signals.len(), "duplicates");
    }

    #[test]
    fn only_a_broken_pipe_of_our_own_is_not_an_order_to_stop() {
        let me = std::process::id() as libc::pid_t;
        assert!(is_own_broken_pipe(libc::SIGPIPE, me));
        assert!(!is_own_broken_pipe(libc::SIGPIPE, me + 1));
        assert!(!is_own_broken_pipe(libc::SIGTERM, me));
    }

    #[test]
    fn protect_process_makes_it_undumpable() {
        protect_process();
        assert!(process_is_protected());
    }
}

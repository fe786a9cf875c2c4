//! Ctrl+C while the terminal is in a state enseal put it in: a passphrase
//! read without echo (rpassword turns echo, line editing and ISIG off and,
//! on Ctrl+C, raises SIGINT before it restores them) or a y/n question with
//! the cursor hidden (dialoguer raises SIGINT before it shows the cursor).
//! Without help the user's shell was left with no echo, or no cursor.
//!
//! [`guarded`] runs such a read with a SIGINT handler that first puts the
//! terminal back (the saved local modes of `/dev/tty`, the cursor shown
//! and a new line), then hands the signal to the handler that was there
//! before (usually the default: enseal ends by SIGINT, exit 130 in the
//! shell). The previous handler is back in place afterwards, so SIGINT
//! means later what it meant before.

/// What to put back on Ctrl+C.
#[derive(Clone, Copy)]
pub enum Restore {
    /// The local modes of the controlling terminal (a passphrase read).
    TerminalModes,
    /// The cursor, on standard error (a question that hides it).
    Cursor,
}

/// Runs `read` with the SIGINT handler described in the module docs.
pub fn guarded<T>(restore: Restore, read: impl FnOnce() -> T) -> T {
    #[cfg(unix)]
    {
        let _guard = imp::Guard::install(restore);
        read()
    }
    #[cfg(not(unix))]
    {
        let _ = restore;
        read()
    }
}

#[cfg(unix)]
mod imp {
    use super::Restore;
    use std::os::fd::AsRawFd;
    use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicU8, Ordering};
    use std::sync::Mutex;

    /// The terminal whose modes to restore (-1: none).
    static TTY_FD: AtomicI32 = AtomicI32::new(-1);
    static LFLAG: AtomicU64 = AtomicU64::new(0);
    static VMIN: AtomicU8 = AtomicU8::new(0);
    static VTIME: AtomicU8 = AtomicU8::new(0);
    /// Whether to show the cursor again.
    static CURSOR: AtomicBool = AtomicBool::new(false);
    /// The handler in place before ours: written before ours is installed,
    /// read by ours (in a signal handler, so no lock there).
    static mut PREVIOUS: std::mem::MaybeUninit<libc::sigaction> = std::mem::MaybeUninit::uninit();
    /// One guarded read at a time (the statics above are shared).
    static ONE: Mutex<()> = Mutex::new(());

    const SHOW_CURSOR: &[u8] = b"\x1b[?25h\n";

    pub(super) struct Guard {
        _tty: Option<std::fs::File>,
        _one: std::sync::MutexGuard<'static, ()>,
    }

    impl Guard {
        pub(super) fn install(restore: Restore) -> Guard {
            let one = ONE.lock().unwrap_or_else(|e| e.into_inner());
            let mut tty = None;
            match restore {
                Restore::TerminalModes => {
                    if let Ok(file) = std::fs::OpenOptions::new()
                        .read(true)
                        .write(true)
                        .open("/dev/tty")
                    {
                        let fd = file.as_raw_fd();
                        // SAFETY: tcgetattr fills a termios for an open fd.
                        let mut t: libc::termios = unsafe { std::mem::zeroed() };
                        if unsafe { libc::tcgetattr(fd, &mut t) } == 0 {
                            LFLAG.store(u64::from(t.c_lflag), Ordering::SeqCst);
                            VMIN.store(t.c_cc[libc::VMIN], Ordering::SeqCst);
                            VTIME.store(t.c_cc[libc::VTIME], Ordering::SeqCst);
                            TTY_FD.store(fd, Ordering::SeqCst);
                            tty = Some(file);
                        }
                    }
                }
                Restore::Cursor => CURSOR.store(true, Ordering::SeqCst),
            }
            // SAFETY: PREVIOUS is only written here, under ONE, before our
            // handler is installed; sigaction(2) with valid structures.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_sigint as extern "C" fn(libc::c_int) as usize;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(
                    libc::SIGINT,
                    &action,
                    std::ptr::addr_of_mut!(PREVIOUS).cast(),
                );
            }
            Guard {
                _tty: tty,
                _one: one,
            }
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            // SAFETY: puts back the handler saved in `install`.
            unsafe {
                libc::sigaction(
                    libc::SIGINT,
                    std::ptr::addr_of!(PREVIOUS).cast(),
                    std::ptr::null_mut(),
                );
            }
            TTY_FD.store(-1, Ordering::SeqCst);
            CURSOR.store(false, Ordering::SeqCst);
        }
    }

    /// Async-signal-safe only: atomics, tcgetattr/tcsetattr, write,
    /// sigaction, raise.
    extern "C" fn on_sigint(signal: libc::c_int) {
        // SAFETY: see above; PREVIOUS was written before this handler was
        // installed and is not written while it is.
        unsafe {
            let fd = TTY_FD.load(Ordering::SeqCst);
            if fd >= 0 {
                let mut t: libc::termios = std::mem::zeroed();
                if libc::tcgetattr(fd, &mut t) == 0 {
                    t.c_lflag = LFLAG.load(Ordering::SeqCst) as libc::tcflag_t;
                    t.c_cc[libc::VMIN] = VMIN.load(Ordering::SeqCst);
                    t.c_cc[libc::VTIME] = VTIME.load(Ordering::SeqCst);
                    libc::tcsetattr(fd, libc::TCSANOW, &t);
                }
            }
            if CURSOR.load(Ordering::SeqCst) {
                libc::write(2, SHOW_CURSOR.as_ptr().cast(), SHOW_CURSOR.len());
            }
            // The previous handler takes the signal (it is blocked until
            // this one returns): the default ends enseal by SIGINT.
            libc::sigaction(
                signal,
                std::ptr::addr_of!(PREVIOUS).cast(),
                std::ptr::null_mut(),
            );
            libc::raise(signal);
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn current_sigint_handler() -> usize {
        // SAFETY: sigaction(2) with a null new action only reads.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGINT, std::ptr::null(), &mut action);
            action.sa_sigaction
        }
    }

    #[test]
    fn the_previous_sigint_handler_is_back_afterwards() {
        let before = current_sigint_handler();
        for restore in [Restore::Cursor, Restore::TerminalModes] {
            let during = guarded(restore, current_sigint_handler);
            assert_ne!(during, before, "no handler while reading");
            assert_eq!(current_sigint_handler(), before);
        }
    }
}

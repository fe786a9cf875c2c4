//! What `exec-env` and `exec-file` share: decrypting the file, the command
//! to run (a shell string or an argv), `--user`, and running the child as a
//! correct init wrapper (signals forwarded, exit status propagated).

use std::ffi::{OsStr, OsString};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus};

use super::pipeline::{self, key_context, load_encrypted};

use crate::error::{Error, Result};
use crate::format::Store;
use crate::tree::Map;
use zeroize::Zeroizing;

/// The shell used for the command-string form, as the reference does.
pub(crate) const SHELL: &str = "/bin/sh";

/// The signals forwarded to the child: every terminating signal enseal can
/// catch ([`crate::hygiene::terminating_signals`]: `exec-file` must outlive
/// none of them with its file in place) and `SIGWINCH`.
pub(crate) fn forwarded_signals() -> Vec<i32> {
    let mut signals = crate::hygiene::terminating_signals();
    signals.push(libc::SIGWINCH);
    signals
}

/// The command to run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Program {
    /// One string run through `/bin/sh -c` (the reference's form).
    Shell(OsString),
    /// A program and its arguments, run without a shell.
    Argv(Vec<OsString>),
}

impl Program {
    /// The program from the `COMMAND` positional and the words after `--`.
    /// `None` when neither was given; an error when both were.
    pub(crate) fn from_args(
        command: Option<OsString>,
        argv: Vec<OsString>,
    ) -> Result<Option<Self>> {
        match (command, argv.is_empty()) {
            (Some(_), false) => Err(Error::Usage(
                "error: give the command either as one string or after `--`, not both".into(),
            )),
            (Some(c), true) => Ok(Some(Program::Shell(c))),
            (None, false) => Ok(Some(Program::Argv(argv))),
            (None, true) => Ok(None),
        }
    }

    /// Replaces every `{}` in the command (each argv word, or the shell
    /// string) by `path`.
    pub(crate) fn with_placeholder(&self, path: &Path) -> Program {
        let replace = |s: &OsString| -> OsString {
            use std::os::unix::ffi::{OsStrExt, OsStringExt};
            let bytes = s.as_bytes();
            let with = path.as_os_str().as_bytes();
            let mut out = Vec::with_capacity(bytes.len());
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i..].starts_with(b"{}") {
                    out.extend_from_slice(with);
                    i += 2;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            OsString::from_vec(out)
        };
        match self {
            Program::Shell(s) => Program::Shell(replace(s)),
            Program::Argv(v) => Program::Argv(v.iter().map(replace).collect()),
        }
    }

    /// A `Command` for it (no environment changes yet).
    pub(crate) fn command(&self) -> Command {
        match self {
            Program::Shell(s) => {
                let mut c = Command::new(SHELL);
                c.arg("-c").arg(s);
                c
            }
            Program::Argv(v) => {
                let mut c = Command::new(&v[0]);
                c.args(&v[1..]);
                c
            }
        }
    }

    /// The program name, for messages.
    fn name(&self) -> &OsStr {
        match self {
            Program::Shell(_) => OsStr::new(SHELL),
            Program::Argv(v) => &v[0],
        }
    }

    /// Reports a program that could not be started and returns the exit
    /// code a shell would: 127 when it does not exist, else 126.
    pub(crate) fn start_failed(&self, e: &std::io::Error) -> i32 {
        eprintln!("cannot run {}: {e}", self.name().to_string_lossy());
        if matches!(self, Program::Shell(_)) && e.kind() == std::io::ErrorKind::NotFound {
            eprintln!(
                "hint: images without a shell need the argv form: `enseal exec-env FILE -- program args…`"
            );
        }
        if e.kind() == std::io::ErrorKind::NotFound {
            127
        } else {
            126
        }
    }
}

/// Decrypts `file` with the given input store; returns the plaintext
/// documents, wiped when dropped.
pub(crate) fn decrypt_file(
    file: &str,
    store: &dyn Store,
    decryption_order: Option<&str>,
) -> Result<Zeroizing<Vec<Map>>> {
    let mut keys = key_context(decryption_order)?;
    // As the reference: a file that cannot be read (also a missing one) is
    // exit 2.
    let bytes = std::fs::read(file).map_err(|source| Error::ReadInput {
        path: file.to_string(),
        source,
    })?;
    let encrypted = load_encrypted(store, &bytes, file)?;
    let mut decrypted = pipeline::decrypt(encrypted, &mut keys, false, file)?;
    Ok(Zeroizing::new(std::mem::take(&mut decrypted.documents)))
}

/// A user to run the command as (`--user`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct User {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Home directory.
    pub home: String,
    /// Primary and supplementary groups.
    pub groups: Vec<u32>,
}

impl User {
    /// Looks `name` up in `/etc/passwd` (a number is taken as a uid when no
    /// user has that name) and its groups in `/etc/group`.
    pub(crate) fn lookup(name: &str) -> Result<User> {
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
        let user = Self::lookup_in(name, &passwd, &group)
            .ok_or_else(|| Error::Usage(format!("user: unknown user {name}")))?;
        // SAFETY: geteuid(2) has no preconditions.
        let euid = unsafe { libc::geteuid() };
        if euid != 0 && euid != user.uid {
            return Err(Error::Usage(format!(
                "--user {name}: switching to another user needs root (enseal runs as uid {euid})"
            )));
        }
        Ok(user)
    }

    fn lookup_in(name: &str, passwd: &str, group: &str) -> Option<User> {
        let entries: Vec<Vec<&str>> = passwd
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split(':').collect::<Vec<_>>())
            .filter(|f| f.len() >= 7)
            .collect();
        let fields = entries
            .iter()
            .find(|f| f[0] == name)
            .or_else(|| entries.iter().find(|f| f[2] == name))?;
        let uid = fields[2].parse().ok()?;
        let gid: u32 = fields[3].parse().ok()?;
        let login = fields[0].to_string();
        let mut groups = vec![gid];
        for line in group.lines().filter(|l| !l.starts_with('#')) {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 4 {
                continue;
            }
            let Ok(g) = f[2].parse::<u32>() else { continue };
            if f[3].split(',').any(|m| m == login) && !groups.contains(&g) {
                groups.push(g);
            }
        }
        Some(User {
            name: login,
            uid,
            gid,
            home: fields[5].to_string(),
            groups,
        })
    }

    /// Makes `cmd` switch to this user (groups, gid, uid) before exec.
    pub(crate) fn apply(&self, cmd: &mut Command) {
        let groups: Vec<libc::gid_t> = self.groups.clone();
        let (uid, gid) = (self.uid, self.gid);
        // SAFETY: the closure runs between fork and exec and only makes
        // async-signal-safe system calls on data prepared beforehand.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setgroups(groups.len() as _, groups.as_ptr()) != 0
                    || libc::setgid(gid) != 0
                    || libc::setuid(uid) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }

    /// `HOME`, `USER` and `LOGNAME` of this user.
    pub(crate) fn env(&self) -> [(&'static str, &str); 3] {
        [
            ("HOME", self.home.as_str()),
            ("USER", self.name.as_str()),
            ("LOGNAME", self.name.as_str()),
        ]
    }
}

/// Catches the forwarded signals from now on (so that they no longer end
/// enseal) and passes them to the child once it is known. Install it before
/// creating anything that must be cleaned up.
///
/// The signals are blocked and taken with `sigwaitinfo(2)` by one thread;
/// the child starts with an empty signal mask (the standard library resets
/// it between fork and exec).
pub(crate) struct Forwarder {
    pid: std::sync::Arc<std::sync::atomic::AtomicI32>,
}

impl Forwarder {
    /// Blocks the forwarded signals in the calling thread and in every
    /// thread it starts from now on, without taking them yet: they stay
    /// pending until [`Forwarder::install`] does. Call it before any other
    /// thread exists (key services may leave idle threads behind, and a
    /// signal delivered to a thread that does not block it would end enseal
    /// at once).
    pub(crate) fn block() -> Result<()> {
        let set = forwarded_set();
        // SAFETY: a valid, initialised signal set.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(Error::Usage(format!(
                "cannot block signals: {}",
                std::io::Error::from_raw_os_error(rc)
            )));
        }
        Ok(())
    }

    /// Starts catching the signals. A terminating signal that arrived since
    /// [`Forwarder::block`] (while the file was decrypted) ends enseal now,
    /// as it would have then: nothing has been created yet.
    pub(crate) fn install() -> Result<Forwarder> {
        Self::block()?;
        end_if_signalled_before();
        let set = forwarded_set();
        let pid = std::sync::Arc::new(std::sync::atomic::AtomicI32::new(0));
        let target = pid.clone();
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || forward_loop(&set, &target))
            .map_err(|e| Error::Usage(format!("cannot start the signal thread: {e}")))?;
        Ok(Forwarder { pid })
    }

    /// Makes `cmd` start with the forwarded signals unblocked (a child
    /// inherits the signal mask of the thread that starts it).
    pub(crate) fn prepare(&self, cmd: &mut Command) {
        let set = forwarded_set();
        // SAFETY: runs between fork and exec; pthread_sigmask on a prepared
        // set is async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                let rc = libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
                if rc != 0 {
                    return Err(std::io::Error::from_raw_os_error(rc));
                }
                Ok(())
            });
        }
    }

    /// Forwards every caught signal (also those caught before) to `pid`.
    pub(crate) fn forward_to(&self, pid: u32) {
        self.pid
            .store(pid as i32, std::sync::atomic::Ordering::SeqCst);
    }

    /// Stops forwarding; signals stay caught (and dropped) until enseal exits.
    pub(crate) fn stop(self) {
        self.pid.store(-1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Ends the process by a terminating signal that is pending for it, the
/// way the signal would have ended it (default action). A `SIGPIPE` the
/// process raised on itself is left alone: the write it came from has
/// reported the error already.
fn end_if_signalled_before() {
    // SAFETY: sigpending fills an initialised set; signal, sigaddset and
    // pthread_sigmask get valid arguments.
    unsafe {
        let mut pending = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&mut pending);
        if libc::sigpending(&mut pending) != 0 {
            return;
        }
        for sig in crate::hygiene::terminating_signals() {
            if sig == libc::SIGPIPE || libc::sigismember(&pending, sig) != 1 {
                continue;
            }
            let mut one = std::mem::zeroed::<libc::sigset_t>();
            libc::sigemptyset(&mut one);
            libc::sigaddset(&mut one, sig);
            libc::signal(sig, libc::SIG_DFL);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &one, std::ptr::null_mut());
            // Not reached when the signal is still pending.
            libc::pthread_sigmask(libc::SIG_BLOCK, &one, std::ptr::null_mut());
        }
    }
}

fn forwarded_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set; sigaddset with valid signals.
    unsafe {
        let mut set = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&mut set);
        for sig in forwarded_signals() {
            libc::sigaddset(&mut set, sig);
        }
        set
    }
}

/// The next forwarded signal that did not come from the terminal driver;
/// `None` for one to skip.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn next_signal(set: &libc::sigset_t) -> Option<i32> {
    // SAFETY: a valid set and a zeroed siginfo_t to fill.
    let (sig, code) = unsafe {
        let mut info = std::mem::zeroed::<libc::siginfo_t>();
        let sig = libc::sigwaitinfo(set, &mut info);
        (sig, info.si_code)
    };
    (sig > 0 && code != libc::SI_KERNEL).then_some(sig)
}

/// The next forwarded signal (other systems cannot tell where it came
/// from: every signal is forwarded).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn next_signal(set: &libc::sigset_t) -> Option<i32> {
    let mut sig: libc::c_int = 0;
    // SAFETY: a valid set and an int to fill.
    let rc = unsafe { libc::sigwait(set, &mut sig) };
    (rc == 0 && sig > 0).then_some(sig)
}

/// Takes the blocked signals one by one. A signal caught before the child
/// exists is kept until it does. Signals the terminal sends to the whole
/// foreground process group (Ctrl-C, window size changes: `si_code` is
/// `SI_KERNEL`) reached the child already and are not sent twice.
fn forward_loop(set: &libc::sigset_t, pid: &std::sync::atomic::AtomicI32) {
    let mut pending: Vec<i32> = Vec::new();
    loop {
        let Some(sig) = next_signal(set) else {
            continue;
        };
        pending.push(sig);
        // Wait (briefly, repeatedly) for the child to be started.
        let mut target = pid.load(std::sync::atomic::Ordering::SeqCst);
        while target == 0 {
            std::thread::sleep(std::time::Duration::from_millis(5));
            target = pid.load(std::sync::atomic::Ordering::SeqCst);
        }
        for sig in pending.drain(..) {
            if target > 0 {
                // SAFETY: kill(2) with a valid signal number.
                unsafe {
                    libc::kill(target, sig);
                }
            }
        }
    }
}

/// Waits for the child, forwarding signals; returns its exit code (128+N
/// when it died of signal N). As process 1 (a container's entrypoint),
/// enseal also reaps the orphaned processes the kernel hands it meanwhile.
pub(crate) fn wait_forwarding(mut child: Child, forwarder: Forwarder) -> Result<i32> {
    forwarder.forward_to(child.id());
    let status = if std::process::id() == 1 {
        reap_until(child.id())
    } else {
        child.wait()
    };
    forwarder.stop();
    let status = status.map_err(|e| Error::Usage(format!("cannot wait for the command: {e}")))?;
    Ok(exit_code(status))
}

/// Reaps every child until `pid` has ended; returns its status.
fn reap_until(pid: u32) -> std::io::Result<ExitStatus> {
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: waitpid(2) with a valid pointer.
        let got = unsafe { libc::waitpid(-1, &mut status, 0) };
        if got < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if got as u32 == pid {
            return Ok(ExitStatus::from_raw(status));
        }
    }
}

/// The exit code a wrapper reports for `status`.
pub(crate) fn exit_code(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        (None, None) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
        nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n\
        alice:x:1000:1000::/home/alice:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nusers:x:100:alice,bob\nalice:x:1000:\ndocker:x:999:bob,alice\n";

    #[test]
    fn looks_users_up_by_name_or_uid() {
        let u = User::lookup_in("alice", PASSWD, GROUP).unwrap();
        assert_eq!(
            u,
            User {
                name: "alice".into(),
                uid: 1000,
                gid: 1000,
                home: "/home/alice".into(),
                groups: vec![1000, 100, 999],
            }
        );
        assert_eq!(
            User::lookup_in("65534", PASSWD, GROUP).unwrap().name,
            "nobody"
        );
        assert!(User::lookup_in("mallory", PASSWD, GROUP).is_none());
    }

    #[test]
    fn placeholder_is_replaced_everywhere() {
        let p = Program::Shell("cat {} && wc -c {}".into());
        assert_eq!(
            p.with_placeholder(Path::new("/t/f")),
            Program::Shell("cat /t/f && wc -c /t/f".into())
        );
        let p = Program::Argv(vec!["prog".into(), "--config={}".into(), "{".into()]);
        assert_eq!(
            p.with_placeholder(Path::new("/t/f")),
            Program::Argv(vec!["prog".into(), "--config=/t/f".into(), "{".into()])
        );
    }

    #[test]
    fn both_forms_at_once_are_refused() {
        assert!(Program::from_args(Some("a".into()), vec!["b".into()]).is_err());
        assert_eq!(Program::from_args(None, vec![]).unwrap(), None);
    }
}

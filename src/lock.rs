//! Advisory locks that keep concurrent writers of one file from losing each
//! other's updates.
//!
//! Every command that reads a file, changes it and writes it back (`set`,
//! `unset`, `edit`, `rotate -i`, `updatekeys`, `groups … -i`, `encrypt -i`,
//! `decrypt -i`, the merge driver's output) takes [`lock_for_update`] on the
//! file before reading it and keeps the lock until the new version has been
//! renamed over the path. A second writer waits (at most
//! `ENSEAL_LOCK_TIMEOUT` seconds, 30 by default), then reads the new version.
//!
//! The lock is a `flock(2)` on the file itself, so no lock file is left in
//! the repository. Atomic writes rename a new inode over the path: a writer
//! that waited on the old inode sees that the path now names another one,
//! and locks that instead. `flock` rather than a POSIX record lock because a
//! record lock is dropped as soon as the process closes *any* descriptor of
//! the file (the reads in between do), and open-file-description locks do
//! not say who holds them. The holder's process id comes from `/proc/locks`
//! (Linux); elsewhere the messages say "another process". The locked file
//! is read through the lock's own descriptor ([`FileLock::read`]): where
//! `flock` is emulated with record locks (NFS), closing another descriptor
//! of the file would release it.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{exit, Error, Result};
use crate::fsutil::FileBytes;

/// The environment variable that bounds the wait, in seconds.
pub const TIMEOUT_VAR: &str = "ENSEAL_LOCK_TIMEOUT";
/// The default bound of the wait.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// An exclusive lock on a file, released when dropped (or when the process
/// ends, however it ends).
#[derive(Debug)]
pub struct FileLock {
    file: File,
}

impl FileLock {
    /// The locked file's content, read through the lock's own descriptor.
    /// Where `flock` is emulated with POSIX locks (NFS), opening and closing
    /// the path again would release the lock.
    pub fn read(&self) -> std::io::Result<FileBytes> {
        crate::fsutil::read_open_file(&self.file)
    }
}

/// Reads `path`: through `lock` when there is one (see [`FileLock::read`]).
pub fn read_locked(lock: Option<&FileLock>, path: &Path) -> std::io::Result<FileBytes> {
    match lock {
        Some(lock) => lock.read(),
        None => crate::fsutil::read_file(path),
    }
}

/// Locks `path` for a read-modify-write ([`lock_for_update`]) and reads it
/// through the lock; a read error names the file as `name`.
pub fn lock_and_read(path: &Path, name: &str) -> Result<(Option<FileLock>, FileBytes)> {
    let lock = lock_for_update(path)?;
    let bytes = read_locked(lock.as_ref(), path).map_err(|source| Error::ReadInput {
        path: name.to_string(),
        source,
    })?;
    Ok((lock, bytes))
}

/// How long to wait for another writer: `ENSEAL_LOCK_TIMEOUT` (seconds,
/// fractions allowed, 0: do not wait), else 30 s.
pub fn timeout() -> Result<Duration> {
    let Some(text) = std::env::var(TIMEOUT_VAR).ok().filter(|t| !t.is_empty()) else {
        return Ok(DEFAULT_TIMEOUT);
    };
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0 && *s <= 1e9)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            Error::Usage(format!(
                "invalid {TIMEOUT_VAR} \"{text}\": expected a number of seconds, such as 30 or 0.5"
            ))
        })
}

/// Locks `path` for a read-modify-write, waiting for another writer at most
/// [`timeout`]. `Ok(None)` when there is nothing to lock (the file does not
/// exist or cannot be opened: the read that follows reports why). While it
/// waits it says once on stderr who holds the file.
pub fn lock_for_update(path: &Path) -> Result<Option<FileLock>> {
    lock_with_timeout(path, timeout()?)
}

/// [`lock_for_update`] with an explicit bound.
pub fn lock_with_timeout(path: &Path, limit: Duration) -> Result<Option<FileLock>> {
    let deadline = Instant::now() + limit;
    let mut announced = false;
    let mut misses = 0;
    let mut last_holder = None;
    let mut pause = Duration::from_millis(2);
    loop {
        let Ok(file) = File::open(path) else {
            return Ok(None);
        };
        loop {
            match try_lock(&file) {
                Ok(true) => break,
                Ok(false) => {}
                // No locking on this file system: nothing more to do.
                Err(_) => return Ok(None),
            }
            // No holder listed: it has most likely just let go; look again
            // before saying "another process".
            let found = holder(&file);
            match found {
                Some(_) => {
                    last_holder = found;
                    misses = 0;
                }
                None => misses += 1,
            }
            if Instant::now() >= deadline {
                return Err(timed_out(path, found.or(last_holder), limit));
            }
            if !announced && (found.is_some() || misses >= 3) {
                eprintln!(
                    "waiting for {}, which is writing {}",
                    describe(found),
                    path.display()
                );
                announced = true;
            }
            std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
            pause = (pause * 2).min(Duration::from_millis(50));
        }
        // The holder may have renamed a new version over the path: then the
        // lock is on a file nobody reads any more; lock the new one.
        if same_file(&file, path) {
            return Ok(Some(FileLock { file }));
        }
        if std::fs::symlink_metadata(path).is_err() {
            return Ok(None);
        }
    }
}

fn describe(holder: Option<u32>) -> String {
    match holder {
        Some(pid) => format!("PID {pid}"),
        None => "another process".into(),
    }
}

fn timed_out(path: &Path, holder: Option<u32>, limit: Duration) -> Error {
    Error::Coded(
        exit::COULD_NOT_WRITE_OUTPUT,
        format!(
            "{}: locked by {}, another writer, for more than {} s; the file was not changed: wait for it to finish, or set {TIMEOUT_VAR} to wait longer",
            path.display(),
            describe(holder),
            limit.as_secs_f64()
        ),
    )
}

/// Takes the exclusive lock without waiting: `Ok(false)` when another open
/// file holds it.
#[cfg(unix)]
fn try_lock(file: &File) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    loop {
        // SAFETY: flock(2) on a descriptor we own.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(true);
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EWOULDBLOCK) => return Ok(false),
            Some(libc::EINTR) => continue,
            _ => return Err(err),
        }
    }
}

#[cfg(not(unix))]
fn try_lock(_file: &File) -> std::io::Result<bool> {
    Err(std::io::Error::other("no advisory locks"))
}

/// True when `path` still names the open `file`.
#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, _path: &Path) -> bool {
    true
}

/// The process holding a `flock` on `file`, from `/proc/locks`.
#[cfg(target_os = "linux")]
fn holder(file: &File) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata().ok()?;
    let table = std::fs::read_to_string("/proc/locks").ok()?;
    let dev = meta.dev();
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    holder_in(&table, major, minor, meta.ino())
}

#[cfg(not(target_os = "linux"))]
fn holder(_file: &File) -> Option<u32> {
    None
}

/// The pid of the granted `FLOCK` entry for the inode in a `/proc/locks`
/// table (`1: FLOCK  ADVISORY  WRITE 4242 fe:00:1234 0 EOF`; waiters are
/// marked `->` and skipped). An entry on the same inode number of another
/// device is taken only when none matches the device (overlay file systems
/// report the lower device).
fn holder_in(table: &str, major: u32, minor: u32, ino: u64) -> Option<u32> {
    let mut fallback = None;
    for line in table.lines() {
        let mut fields = line.split_whitespace();
        let Some(_) = fields.next() else { continue };
        let rest: Vec<&str> = fields.collect();
        if rest.first() == Some(&"->") || rest.first() != Some(&"FLOCK") || rest.len() < 5 {
            continue;
        }
        let Ok(pid) = rest[3].parse::<u32>() else {
            continue;
        };
        let mut id = rest[4].split(':');
        let (Some(maj), Some(min), Some(node)) = (id.next(), id.next(), id.next()) else {
            continue;
        };
        if node.parse::<u64>() != Ok(ino) {
            continue;
        }
        let device =
            u32::from_str_radix(maj, 16) == Ok(major) && u32::from_str_radix(min, 16) == Ok(minor);
        if device {
            return Some(pid);
        }
        fallback.get_or_insert(pid);
    }
    fallback
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_is_read_from_the_granted_flock_entry() {
        let table = "1: POSIX  ADVISORY  WRITE 10 fe:00:77 0 EOF\n\
                     2: FLOCK  ADVISORY  WRITE 4242 fe:00:77 0 EOF\n\
                     2: -> FLOCK  ADVISORY  WRITE 5151 fe:00:77 0 EOF\n\
                     3: FLOCK  ADVISORY  WRITE 99 fe:00:78 0 EOF\n";
        assert_eq!(holder_in(table, 0xfe, 0, 77), Some(4242));
        assert_eq!(holder_in(table, 0xfe, 0, 78), Some(99));
        assert_eq!(holder_in(table, 0xfe, 0, 79), None);
        // Same inode on another device: taken only as a fallback.
        assert_eq!(holder_in(table, 0, 0x2f, 77), Some(4242));
    }

    #[test]
    fn a_second_lock_waits_then_names_this_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.yaml");
        std::fs::write(&path, b"a: 1\n").unwrap();
        let held = lock_with_timeout(&path, Duration::ZERO).unwrap();
        assert!(held.is_some());
        let err = lock_with_timeout(&path, Duration::from_millis(20)).unwrap_err();
        assert_eq!(err.exit_code(), exit::COULD_NOT_WRITE_OUTPUT);
        let text = err.to_string();
        #[cfg(target_os = "linux")]
        assert!(
            text.contains(&format!("PID {}", std::process::id())),
            "{text}"
        );
        assert!(!text.contains('\n'), "{text}");
        drop(held);
        assert!(lock_with_timeout(&path, Duration::ZERO).unwrap().is_some());
    }

    #[test]
    fn a_replaced_file_is_locked_anew() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.yaml");
        std::fs::write(&path, b"old\n").unwrap();
        let held = lock_with_timeout(&path, Duration::ZERO).unwrap().unwrap();
        // The holder writes a new version (a new inode) and then unlocks.
        crate::fsutil::write_atomic(&path, b"new\n").unwrap();
        // The path names an unlocked inode now: a new writer gets it at once
        // even while the old inode is still locked.
        let second = lock_with_timeout(&path, Duration::ZERO).unwrap();
        assert!(second.is_some());
        drop(held);
    }

    #[test]
    fn nothing_to_lock_for_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            lock_with_timeout(&dir.path().join("missing"), Duration::ZERO)
                .unwrap()
                .is_none()
        );
    }
}

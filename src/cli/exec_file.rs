//! `enseal exec-file FILE COMMAND`: run a command that reads the decrypted
//! file from a FIFO (default) or a private temporary file.
//!
//! The temporary directory (mode 0700) is made in `$XDG_RUNTIME_DIR`, else
//! `/dev/shm`, else the system temp directory — memory-backed file systems
//! first, so that even `--no-fifo` plaintext normally never reaches a disk.
//! It is removed when the command ends, also when enseal is sent any signal
//! that would end it and can be caught
//! ([`crate::hygiene::terminating_signals`]): those are passed to the
//! command, and enseal cleans up once it has ended.

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use super::args::ExecFileCmd;
use super::exec::{decrypt_file, wait_forwarding, Forwarder, Program, User};
use crate::error::{Error, Result};
use crate::format::{Layouts, StoreOptions};

/// The default name of the FIFO / file.
const DEFAULT_NAME: &str = "tmp-file";

/// Runs the command; returns the exit code enseal should exit with.
pub(crate) fn run(mut cmd: ExecFileCmd) -> Result<i32> {
    let program = Program::from_args(cmd.command.take(), std::mem::take(&mut cmd.argv))?;
    let (Some(file), Some(program)) = (cmd.file.clone(), program) else {
        return Err(Error::Usage("error: missing file to decrypt".into()));
    };
    if let Some(name) = cmd.filename.as_deref() {
        check_local(name)?;
    }
    let user = cmd.user.as_deref().map(User::lookup).transpose()?;
    // From here on no signal may end enseal before the temporary folder is
    // removed: block them before decrypting starts any thread.
    Forwarder::block()?;
    let (in_kind, out_kind) = cmd.types.kinds(&file);
    let options = StoreOptions::default();
    let layouts = Layouts::default();
    let documents = decrypt_file(
        &file,
        in_kind.store_sharing(&options, &layouts).as_ref(),
        cmd.order.decryption_order.as_deref(),
    )?;
    let plaintext = zeroize::Zeroizing::new(
        out_kind
            .store_sharing(&options, &layouts)
            .emit_plain(&documents)
            .map_err(|e| Error::Dump(e.to_string()))?,
    );
    drop(documents);

    if cmd.background {
        super::io::warn("--background is deprecated: enseal returns at once and removes the file when the command ends");
        // The parent returns at once; the forked copy serves the file,
        // waits for the command and removes the file.
        // SAFETY: enseal has no other threads at this point.
        match unsafe { libc::fork() } {
            -1 => {
                return Err(Error::Usage(format!(
                    "cannot start in the background: {}",
                    std::io::Error::last_os_error()
                )))
            }
            0 => {
                let code = match serve(&cmd, &program, user.as_ref(), plaintext) {
                    Ok(code) => code,
                    Err(e) => {
                        eprintln!("{e}");
                        e.exit_code()
                    }
                };
                std::process::exit(code);
            }
            _ => return Ok(0),
        }
    }
    serve(&cmd, &program, user.as_ref(), plaintext)
}

/// Creates the FIFO or file, runs the command, removes the directory.
fn serve(
    cmd: &ExecFileCmd,
    program: &Program,
    user: Option<&User>,
    plaintext: zeroize::Zeroizing<Vec<u8>>,
) -> Result<i32> {
    // Catch the signals before anything needs cleaning up.
    let forwarder = Forwarder::install()?;
    let dir = private_dir(user)?;
    let path = match cmd.filename.as_deref() {
        Some(name) => dir.path().join(name),
        None if cmd.no_fifo => PathBuf::new(),
        None => dir.path().join(DEFAULT_NAME),
    };
    let temp_error = |e: std::io::Error| Error::WriteOutput {
        path: dir.path().display().to_string(),
        source: e,
    };
    if let Some(parent) = path
        .parent()
        .filter(|p| *p != dir.path() && !p.as_os_str().is_empty())
    {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(temp_error)?;
        chown(parent, user).map_err(temp_error)?;
    }
    let path = if cmd.no_fifo {
        let (path, mut f) = if path.as_os_str().is_empty() {
            let named = tempfile::Builder::new()
                .prefix(DEFAULT_NAME)
                .tempfile_in(dir.path())
                .map_err(temp_error)?;
            let (f, p) = named.keep().map_err(|e| temp_error(e.error))?;
            (p, f)
        } else {
            let f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(temp_error)?;
            (path, f)
        };
        f.set_permissions(Permissions::from_mode(0o600))
            .map_err(temp_error)?;
        f.write_all(&plaintext).map_err(temp_error)?;
        drop(f);
        chown(&path, user).map_err(temp_error)?;
        drop(plaintext);
        path
    } else {
        mkfifo(&path).map_err(temp_error)?;
        chown(&path, user).map_err(temp_error)?;
        let fifo = path.clone();
        // Writes the plaintext once, to the first reader. When the command
        // never opens the FIFO, the thread stays blocked until enseal exits.
        std::thread::spawn(move || {
            if let Ok(mut f) = OpenOptions::new().write(true).open(&fifo) {
                let _ = f.write_all(&plaintext);
            }
        });
        path
    };

    let program = program.with_placeholder(&path);
    let mut command = program.command();
    forwarder.prepare(&mut command);
    for name in &cmd.unset {
        command.env_remove(name);
    }
    if let Some(user) = user {
        command.envs(user.env());
        user.apply(&mut command);
    }
    let result = match command.spawn() {
        Ok(child) => wait_forwarding(child, forwarder),
        Err(e) => Ok(program.start_failed(&e)),
    };
    let removed = dir.close();
    let code = result?;
    removed.map_err(|e| Error::Usage(format!("cannot remove the temporary directory: {e}")))?;
    Ok(code)
}

/// `--filename` must stay inside the temporary directory.
fn check_local(name: &str) -> Result<()> {
    let path = Path::new(name);
    let local = !name.is_empty()
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        && path.components().any(|c| matches!(c, Component::Normal(_)))
        && !name.as_bytes().contains(&0);
    if local {
        Ok(())
    } else {
        Err(Error::Usage(
            "The provided filename is not a local path.".into(),
        ))
    }
}

/// A new private directory: `$XDG_RUNTIME_DIR` (not with `--user`: it is
/// private to the current user), else `/dev/shm`, else the temp directory.
fn private_dir(user: Option<&User>) -> Result<tempfile::TempDir> {
    let mut bases: Vec<PathBuf> = Vec::new();
    if user.is_none() {
        if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR").filter(|x| !x.is_empty()) {
            bases.push(x.into());
        }
    }
    bases.push("/dev/shm".into());
    bases.push(std::env::temp_dir());
    let mut last = None;
    for base in bases.iter().filter(|b| b.is_dir()) {
        match tempfile::Builder::new().prefix(".enseal").tempdir_in(base) {
            Ok(dir) => {
                let fix = std::fs::set_permissions(dir.path(), Permissions::from_mode(0o700))
                    .and_then(|()| chown(dir.path(), user));
                match fix {
                    Ok(()) => return Ok(dir),
                    Err(e) => last = Some(e),
                }
            }
            Err(e) => last = Some(e),
        }
    }
    Err(Error::WriteOutput {
        path: "temporary directory".into(),
        source: last.unwrap_or_else(|| std::io::Error::other("no usable directory")),
    })
}

fn chown(path: &Path, user: Option<&User>) -> std::io::Result<()> {
    match user {
        Some(u) => std::os::unix::fs::chown(path, Some(u.uid), Some(u.gid)),
        None => Ok(()),
    }
}

fn mkfifo(path: &Path) -> std::io::Result<()> {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::other("path contains a NUL byte"))?;
    // SAFETY: a valid NUL-terminated path.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filename_must_be_local() {
        assert!(check_local("secrets.yaml").is_ok());
        assert!(check_local("sub/secrets.yaml").is_ok());
        assert!(check_local("./x").is_ok());
        for bad in ["", ".", "/etc/passwd", "../evil", "a/../../b"] {
            assert_eq!(
                check_local(bad).unwrap_err().to_string(),
                "The provided filename is not a local path.",
                "{bad}"
            );
        }
    }
}

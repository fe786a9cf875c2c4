//! No plaintext outlives `edit` or `exec-file` on any signal that would end
//! enseal and can be caught: for each one (the list below is written out
//! here, independent of the code under test), enseal is sent the signal while
//! the editor / command runs; afterwards the private temporary folder is
//! gone, the encrypted file is unchanged and enseal reports 128 + N.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Every signal whose default action ends a process and which can be
/// caught, except the hardware faults (SIGSEGV, SIGBUS, SIGILL, SIGFPE).
fn terminating_signals() -> Vec<(String, i32)> {
    let mut list: Vec<(String, i32)> = [
        ("HUP", libc::SIGHUP),
        ("INT", libc::SIGINT),
        ("QUIT", libc::SIGQUIT),
        ("TRAP", libc::SIGTRAP),
        ("ABRT", libc::SIGABRT),
        ("USR1", libc::SIGUSR1),
        ("USR2", libc::SIGUSR2),
        ("PIPE", libc::SIGPIPE),
        ("ALRM", libc::SIGALRM),
        ("TERM", libc::SIGTERM),
        ("STKFLT", libc::SIGSTKFLT),
        ("XCPU", libc::SIGXCPU),
        ("XFSZ", libc::SIGXFSZ),
        ("VTALRM", libc::SIGVTALRM),
        ("PROF", libc::SIGPROF),
        ("IO", libc::SIGIO),
        ("PWR", libc::SIGPWR),
        ("SYS", libc::SIGSYS),
    ]
    .into_iter()
    .map(|(n, s)| (n.to_string(), s))
    .collect();
    for sig in libc::SIGRTMIN()..=libc::SIGRTMAX() {
        list.push((format!("RTMIN+{}", sig - libc::SIGRTMIN()), sig));
    }
    list
}

struct Box {
    sb: Sandbox,
}

impl Box {
    fn new() -> Box {
        let sb = Sandbox::new();
        std::fs::create_dir_all(sb.root().join("run")).unwrap();
        std::fs::create_dir_all(sb.root().join("bin")).unwrap();
        Box { sb }
    }

    fn runtime(&self) -> PathBuf {
        self.sb.root().join("run")
    }

    fn script(&self, name: &str, body: &str) -> PathBuf {
        let p = self.sb.root().join("bin").join(name);
        std::fs::write(&p, format!("#!/bin/sh\nulimit -c 0\n{body}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    fn enseal(&self) -> Command {
        let mut cmd = self.sb.enseal();
        cmd.env("SOPS_AGE_KEY_FILE", key_file(1))
            .env("XDG_RUNTIME_DIR", self.runtime())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    }

    fn left(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.runtime())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    }
}

fn wait_for(path: &Path, child: &mut Child, what: &str) {
    let start = Instant::now();
    while !path.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{what}: enseal ended before the command started: {status}");
        }
        assert!(start.elapsed() < CHILD_TIMEOUT, "{what}: never started");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_bounded(child: &mut Child, what: &str) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > CHILD_TIMEOUT {
            let _ = child.kill();
            panic!("{what}: enseal did not end");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn send(child: &Child, sig: i32) {
    // SAFETY: kill(2) on our own child with a valid signal number.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, sig) };
    assert_eq!(rc, 0);
}

#[test]
fn edit_removes_its_temp_folder_on_every_terminating_signal() {
    let b = Box::new();
    let file =
        b.sb.copy(&reference("yaml-basic.enc.yaml"), "basic.enc.yaml");
    let before = std::fs::read(&file).unwrap();
    let started = b.sb.root().join("started");
    let editor = b.script(
        "slow-editor",
        &format!(
            "echo \"$1\" > '{s}.tmp'; mv '{s}.tmp' '{s}'; exec sleep 60",
            s = started.display()
        ),
    );
    let mut failures = Vec::new();
    for (name, sig) in terminating_signals() {
        let _ = std::fs::remove_file(&started);
        let mut child = b
            .enseal()
            .env("EDITOR", &editor)
            .arg("edit")
            .arg(&file)
            .spawn()
            .unwrap();
        wait_for(&started, &mut child, &format!("edit SIG{name}"));
        let temp = PathBuf::from(std::fs::read_to_string(&started).unwrap().trim());
        assert!(temp.starts_with(b.runtime()), "{}", temp.display());
        assert!(temp.exists());
        send(&child, sig);
        let status = wait_bounded(&mut child, &format!("edit SIG{name}"));
        let left = b.left();
        if !left.is_empty() {
            failures.push(format!("SIG{name}: {left:?} left ({status})"));
            for dir in left {
                let _ = std::fs::remove_dir_all(dir);
            }
        } else if status.code() != Some(128 + sig) {
            failures.push(format!("SIG{name}: {status}, not exit {}", 128 + sig));
        }
        assert_eq!(std::fs::read(&file).unwrap(), before, "SIG{name}");
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn exec_file_removes_its_temp_folder_on_every_terminating_signal() {
    let b = Box::new();
    let plain = b.sb.write("s.env", "SECRET=hunter2\n");
    let out = run(b
        .sb
        .enseal()
        .args(["encrypt", "--age", &recipient(1)])
        .arg(&plain))
    .ok();
    let file = b.sb.write("s.enc.env", &out.stdout);
    std::fs::remove_file(&plain).unwrap();
    let ready = b.sb.root().join("ready");
    // The command says it is ready, then sleeps: it dies of the forwarded
    // signal, and enseal reports that as 128 + N.
    let command = format!(": > '{}'; exec sleep 60", ready.display());
    let mut failures = Vec::new();
    for (i, (name, sig)) in terminating_signals().into_iter().enumerate() {
        let fifo = i % 4 == 0;
        let _ = std::fs::remove_file(&ready);
        let mut cmd = b.enseal();
        cmd.arg("exec-file");
        if !fifo {
            cmd.arg("--no-fifo");
        }
        let mut child = cmd
            .arg(&file)
            .arg(format!("ulimit -c 0; {command}"))
            .spawn()
            .unwrap();
        wait_for(&ready, &mut child, &format!("exec-file SIG{name}"));
        assert_eq!(b.left().len(), 1, "SIG{name}: no temp folder");
        send(&child, sig);
        let status = wait_bounded(&mut child, &format!("exec-file SIG{name}"));
        let left = b.left();
        if !left.is_empty() {
            failures.push(format!("SIG{name} (fifo={fifo}): {left:?} left ({status})"));
            for dir in left {
                let _ = std::fs::remove_dir_all(dir);
            }
        } else if status.code() != Some(128 + sig) {
            failures.push(format!(
                "SIG{name} (fifo={fifo}): {status}, not exit {}",
                128 + sig
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// A signal that arrives while exec-file is still decrypting (here: while a
/// slow `SOPS_AGE_KEY_CMD` runs) ends enseal as the signal would, before
/// the command starts and before any temporary folder exists; it is not
/// held back and handed to the command later.
#[test]
fn exec_file_signal_while_decrypting_ends_it_before_the_command() {
    let b = Box::new();
    let plain = b.sb.write("s.env", "SECRET=hunter2\n");
    let out = run(b
        .sb
        .enseal()
        .args(["encrypt", "--age", &recipient(1)])
        .arg(&plain))
    .ok();
    let file = b.sb.write("s.enc.env", &out.stdout);
    let asked = b.sb.root().join("asked");
    let ran = b.sb.root().join("ran");
    let key_cmd = b.script(
        "slow-key",
        &format!(
            ": > '{}'; sleep 1; cat '{}'",
            asked.display(),
            key_file(1).display()
        ),
    );
    for (name, sig) in [("USR1", libc::SIGUSR1), ("TERM", libc::SIGTERM)] {
        let _ = std::fs::remove_file(&asked);
        let mut child = b
            .enseal()
            .env_remove("SOPS_AGE_KEY_FILE")
            .env("SOPS_AGE_KEY_CMD", &key_cmd)
            .args(["exec-file", "--no-fifo"])
            .arg(&file)
            .arg(format!(": > '{}'", ran.display()))
            .spawn()
            .unwrap();
        wait_for(&asked, &mut child, &format!("SIG{name} while decrypting"));
        send(&child, sig);
        let status = wait_bounded(&mut child, &format!("SIG{name} while decrypting"));
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(sig), "SIG{name}: {status}");
        }
        assert!(!ran.exists(), "SIG{name}: the command ran");
        assert!(b.left().is_empty(), "SIG{name}: {:?}", b.left());
    }
}

//! `exec-env` and `exec-file`: environment contents, exit status, signal
//! forwarding, the argv form without a shell, cleanup of plaintext, `--user`.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Encrypts `plain` (named `name`, type from the extension) for test key 1
/// with enseal; returns the encrypted file's path.
fn encrypt(sb: &Sandbox, name: &str, plain: &str) -> PathBuf {
    let src = sb.write(&format!("plain-{name}"), plain);
    let out = run(sb
        .enseal()
        .args([
            "encrypt",
            "--age",
            &recipient(1),
            "--filename-override",
            name,
        ])
        .arg(&src))
    .ok();
    sb.write(name, out.stdout)
}

/// enseal in the sandbox with test key 1 available.
fn enseal(sb: &Sandbox) -> Command {
    let mut cmd = sb.enseal();
    cmd.env("SOPS_AGE_KEY_FILE", key_file(1));
    cmd
}

/// The lines `env` printed, sorted (the order of the environment is not
/// significant).
fn env_lines(out: &Out) -> Vec<String> {
    let mut lines: Vec<String> = out.out().lines().map(str::to_string).collect();
    lines.sort();
    lines
}

/// `want`, sorted.
fn sorted(want: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[test]
fn env_contents_for_every_format() {
    let sb = Sandbox::new();
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "s.yaml",
            "A: x\nB: 1.5\nC: true\nD: 1000.0\nE: null\nF: 3\nG: |\n  two\n  lines\n",
            &[
                "A=x", "B=1.5", "C=true", "D=1000.0", "E=<nil>", "F=3", "G=two", "lines", "",
            ],
        ),
        (
            "s.json",
            r#"{"A": "x", "B": 1.5, "C": false, "D": 1000, "E": null}"#,
            &["A=x", "B=1.5", "C=false", "D=1000", "E=<nil>"],
        ),
        (
            "s.env",
            "# comment\nDB_USER=admin\nDB_PASS=p@ss=word\nEMPTY=\n",
            &["DB_USER=admin", "DB_PASS=p@ss=word", "EMPTY="],
        ),
        ("s.bin", "raw secret bytes", &["data=raw secret bytes"]),
    ];
    for (name, plain, want) in cases {
        let file = encrypt(&sb, name, plain);
        let out = run(enseal(&sb)
            .args(["exec-env", "--pristine"])
            .arg(&file)
            .args(["--", "/usr/bin/env"]))
        .ok();
        assert_eq!(env_lines(&out), sorted(want), "{name}");
    }
}

#[test]
fn ini_sections_need_flatten() {
    let sb = Sandbox::new();
    let file = encrypt(&sb, "s.ini", "[db]\nuser = admin\npass = secret\n");
    let out = run(enseal(&sb)
        .args(["exec-env", "--pristine"])
        .arg(&file)
        .args(["--", "/usr/bin/env"]))
    .code_in(&[1]);
    assert!(
        out.err()
            .contains("cannot use complex value in environment; offending key DEFAULT"),
        "{}",
        out.err()
    );
    let out = run(enseal(&sb)
        .args(["exec-env", "--pristine", "--flatten"])
        .arg(&file)
        .args(["--", "/usr/bin/env"]))
    .ok();
    assert_eq!(
        env_lines(&out),
        sorted(&["db_user=admin", "db_pass=secret"])
    );
}

#[test]
fn flatten_nested_yaml_with_separator() {
    let sb = Sandbox::new();
    let file = encrypt(
        &sb,
        "n.yaml",
        "APP:\n  DB:\n    HOST: h\n    PORT: 5432\n  HOSTS:\n    - a\n    - b\nTOP: t\n",
    );
    let out = run(enseal(&sb)
        .args(["exec-env", "--pristine", "--flatten=__"])
        .arg(&file)
        .args(["--", "/usr/bin/env"]))
    .ok();
    assert_eq!(
        env_lines(&out),
        sorted(&[
            "APP__DB__HOST=h",
            "APP__DB__PORT=5432",
            "APP__HOSTS__0=a",
            "APP__HOSTS__1=b",
            "TOP=t"
        ])
    );
}

#[test]
fn invalid_names_are_refused() {
    let sb = Sandbox::new();
    let file = encrypt(&sb, "bad.yaml", "\"A=B\": x\n");
    let out = run(enseal(&sb).arg("exec-env").arg(&file).arg("true")).code_in(&[1]);
    assert!(
        out.err()
            .contains("cannot use keys with '=' in environment: A=B"),
        "{}",
        out.err()
    );
}

#[test]
fn environment_is_inherited_unless_pristine_and_file_wins() {
    let sb = Sandbox::new();
    let file = encrypt(&sb, "s.env", "OVERRIDE=from-file\n");
    let out = run(enseal(&sb)
        .env("OVERRIDE", "from-env")
        .env("KEEP", "kept")
        .arg("exec-env")
        .arg(&file)
        .arg("echo \"$OVERRIDE $KEEP\""))
    .ok();
    assert_eq!(out.out(), "from-file kept\n");
    let out = run(enseal(&sb)
        .env("KEEP", "kept")
        .args(["exec-env", "--pristine"])
        .arg(&file)
        .arg("echo \"$OVERRIDE ${KEEP:-gone}\""))
    .ok();
    assert_eq!(out.out(), "from-file gone\n");
}

#[test]
fn unset_removes_inherited_variables() {
    let sb = Sandbox::new();
    let file = encrypt(&sb, "s.env", "A=1\n");
    for cmd in ["exec-env", "exec-file"] {
        let out = run(enseal(&sb)
            .env("SOPS_AGE_KEY", "not-really-a-key")
            .args([
                cmd,
                "--unset",
                "SOPS_AGE_KEY",
                "--unset",
                "SOPS_AGE_KEY_FILE",
            ])
            .arg(&file)
            .arg("echo \"${SOPS_AGE_KEY:-none} ${SOPS_AGE_KEY_FILE:-none}\""))
        .ok();
        assert_eq!(out.out(), "none none\n", "{cmd}");
    }
}

#[test]
fn exit_status_is_propagated() {
    let sb = Sandbox::new();
    let file = encrypt(&sb, "s.yaml", "A: x\n");
    for (shell, code) in [
        ("exit 0", 0),
        ("exit 1", 1),
        ("exit 42", 42),
        ("kill -KILL $$", 128 + 9),
        ("kill -TERM $$", 128 + 15),
    ] {
        run(enseal(&sb).arg("exec-env").arg(&file).arg(shell)).code_in(&[code]);
        run(enseal(&sb).arg("exec-file").arg(&file).arg(shell)).code_in(&[code]);
        run(enseal(&sb)
            .arg("exec-env")
            .arg(&file)
            .args(["--", "/bin/sh", "-c", shell]))
        .code_in(&[code]);
    }
}

#[test]
fn missing_arguments() {
    let sb = Sandbox::new();
    let file = encrypt(&sb, "s.yaml", "A: x\n");
    let out = run(enseal(&sb).arg("exec-env").arg(&file)).code_in(&[1]);
    assert!(out.err().contains("error: missing file to decrypt"));
    let out = run(enseal(&sb).args(["exec-env", "missing.yaml", "true"])).code_in(&[2]);
    assert!(out.err().contains("missing.yaml"), "{}", out.err());
    let out = run(enseal(&sb).arg("exec-file")).code_in(&[1]);
    assert!(out.err().contains("error: missing file to decrypt"));
    let out = run(enseal(&sb)
        .args(["exec-env", "--same-process", "--background"])
        .arg(&file)
        .arg("true"))
    .code_in(&[8]);
    assert!(out
        .err()
        .contains("Error: The --same-process flag cannot be used with --background"));
}

#[test]
fn argv_form_works_without_a_shell_on_path() {
    let sb = Sandbox::new();
    let file = encrypt(&sb, "s.yaml", "A: x\nB: y\n");
    let empty = sb.root().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let out = run(enseal(&sb)
        .env("PATH", &empty)
        .args(["exec-env", "--pristine"])
        .arg(&file)
        .args(["--", "/usr/bin/env"]))
    .ok();
    assert_eq!(env_lines(&out), sorted(&["A=x", "B=y"]));
    let out = run(enseal(&sb)
        .env("PATH", &empty)
        .args(["exec-file", "--output-type", "json"])
        .arg(&file)
        .args(["--", "/bin/cat", "{}"]))
    .ok();
    assert_eq!(out.out(), "{\n\t\"A\": \"x\",\n\t\"B\": \"y\"\n}\n");
    // Arguments are passed as they are, without shell interpretation.
    let out = run(enseal(&sb)
        .arg("exec-env")
        .arg(&file)
        .args(["--", "/bin/echo", "$A", "a b"]))
    .ok();
    assert_eq!(out.out(), "$A a b\n");
}

#[test]
fn missing_program_exits_127() {
    let sb = Sandbox::new();
    let file = encrypt(&sb, "s.yaml", "A: x\n");
    for cmd in ["exec-env", "exec-file"] {
        let out = run(enseal(&sb)
            .arg(cmd)
            .arg(&file)
            .args(["--", "/no/such/program"]))
        .code_in(&[127]);
        assert!(
            out.err().contains("cannot run /no/such/program"),
            "{}",
            out.err()
        );
    }
    run(enseal(&sb)
        .args(["exec-env", "--same-process"])
        .arg(&file)
        .args(["--", "/no/such/program"]))
    .code_in(&[127]);
    run(enseal(&sb)
        .arg("exec-env")
        .arg(&file)
        .args(["--", "/etc/passwd"]))
    .code_in(&[126]);
}

#[test]
fn same_process_replaces_enseal() {
    let sb = Sandbox::new();
    let file = encrypt(&sb, "s.yaml", "A: x\n");
    let mut cmd = enseal(&sb);
    cmd.args(["exec-env", "--same-process"])
        .arg(&file)
        .arg("echo $$ $A; exit 3")
        .stdout(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{pid} x\n"));
}

/// Waits until `path` exists (the child is ready), at most 20 s.
fn wait_for(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits for `child` at most 20 s; returns its exit code.
fn wait_bounded(child: &mut std::process::Child) -> Option<i32> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("enseal did not end");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A shell command that says it is ready, then waits for SIGTERM and exits 7
/// after writing `got` to `$OUT`.
const TRAP: &str =
    "trap 'kill $! 2>/dev/null; echo got >\"$OUT\"; exit 7' TERM; : >\"$READY\"; sleep 30 & wait";

fn signal_case(sb: &Sandbox, args: &[&str], file: &Path, tag: &str) {
    signal_case_with(sb, args, file, tag, TRAP, libc::SIGTERM);
}

fn signal_case_with(sb: &Sandbox, args: &[&str], file: &Path, tag: &str, script: &str, sig: i32) {
    let out_file = sb.root().join(format!("got-{tag}"));
    let ready = sb.root().join(format!("ready-{tag}"));
    let mut child = enseal(sb)
        .env("OUT", &out_file)
        .env("READY", &ready)
        .args(args)
        .arg(file)
        .arg(script)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&ready);
    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(child.id() as libc::pid_t, sig);
    }
    assert_eq!(wait_bounded(&mut child), Some(7), "{tag}");
    assert_eq!(
        std::fs::read_to_string(&out_file).unwrap(),
        "got\n",
        "{tag}"
    );
}

#[test]
fn sigterm_is_forwarded_and_exit_code_comes_back() {
    let sb = Sandbox::new();
    let file = encrypt(&sb, "s.yaml", "A: x\n");
    signal_case(&sb, &["exec-env"], &file, "env");
    signal_case(&sb, &["exec-file"], &file, "file");
    for (name, sig) in [
        ("INT", libc::SIGINT),
        ("HUP", libc::SIGHUP),
        ("QUIT", libc::SIGQUIT),
        ("USR1", libc::SIGUSR1),
        ("USR2", libc::SIGUSR2),
        ("WINCH", libc::SIGWINCH),
    ] {
        let script = TRAP.replace("TERM", name);
        signal_case_with(&sb, &["exec-env"], &file, name, &script, sig);
    }
}

#[test]
fn child_starts_with_a_clean_signal_mask() {
    let sb = Sandbox::new();
    let file = encrypt(&sb, "s.yaml", "A: x\n");
    for cmd in ["exec-env", "exec-file"] {
        let out = run(enseal(&sb).arg(cmd).arg(&file).args([
            "--",
            "/bin/grep",
            "-E",
            "^Sig(Blk|Ign)",
            "/proc/self/status",
        ]))
        .ok();
        assert!(
            out.out().contains("SigBlk:\t0000000000000000\n"),
            "{cmd}: {}",
            out.out()
        );
        // None of the forwarded signals is ignored.
        let ign = out
            .out()
            .lines()
            .find_map(|l| l.strip_prefix("SigIgn:\t"))
            .map(|h| u64::from_str_radix(h.trim(), 16).unwrap())
            .unwrap();
        for sig in [1, 2, 3, 10, 12, 15, 28] {
            assert_eq!(ign & (1 << (sig - 1)), 0, "{cmd}: signal {sig} ignored");
        }
    }
}

#[test]
fn exec_file_leaves_no_plaintext_behind() {
    let sb = Sandbox::new();
    let file = encrypt(&sb, "s.yaml", "SECRET: hunter2\n");
    let runtime = sb.root().join("runtime");
    std::fs::create_dir_all(&runtime).unwrap();
    let entries = || std::fs::read_dir(&runtime).unwrap().count();
    for fifo in [true, false] {
        let mut base = vec!["exec-file"];
        if !fifo {
            base.push("--no-fifo");
        }
        // Success: the file is where we said, private, and has the plaintext.
        let out = run(enseal(&sb)
            .env("XDG_RUNTIME_DIR", &runtime)
            .args(&base)
            .arg(&file)
            .arg("stat -c '%a %F' {} $(dirname {}); cat {}; echo {}"))
        .ok();
        let text = out.out();
        let lines: Vec<&str> = text.lines().collect();
        let kind = if fifo { "600 fifo" } else { "600 regular file" };
        assert_eq!(lines[0], kind, "{text}");
        assert_eq!(lines[1], "700 directory", "{text}");
        assert_eq!(lines[2], "SECRET: hunter2", "{text}");
        assert!(lines[3].starts_with(runtime.to_str().unwrap()), "{text}");
        assert_eq!(entries(), 0, "success, fifo={fifo}");
        // Failure of the command.
        run(enseal(&sb)
            .env("XDG_RUNTIME_DIR", &runtime)
            .args(&base)
            .arg(&file)
            .arg("cat {} >/dev/null; exit 3"))
        .code_in(&[3]);
        assert_eq!(entries(), 0, "failure, fifo={fifo}");
        // The command never reads the FIFO.
        run(enseal(&sb)
            .env("XDG_RUNTIME_DIR", &runtime)
            .args(&base)
            .arg(&file)
            .arg("exit 0"))
        .ok();
        assert_eq!(entries(), 0, "unread, fifo={fifo}");
        // enseal is sent SIGTERM while the command runs.
        let ready = sb.root().join("ready-cleanup");
        let _ = std::fs::remove_file(&ready);
        let mut child = enseal(&sb)
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("OUT", "/dev/null")
            .env("READY", &ready)
            .args(&base)
            .arg(&file)
            .arg(TRAP)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        wait_for(&ready);
        assert_eq!(entries(), 1);
        // SAFETY: kill(2) on our own child.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
        assert_eq!(wait_bounded(&mut child), Some(7));
        assert_eq!(entries(), 0, "SIGTERM, fifo={fifo}");
    }
}

#[test]
fn exec_file_filename_and_placeholder_in_argv() {
    let sb = Sandbox::new();
    let file = encrypt(&sb, "s.env", "A=1\n");
    let out = run(enseal(&sb)
        .args(["exec-file", "--no-fifo", "--filename", "conf/app.env"])
        .arg(&file)
        .args(["--", "/bin/sh", "-c", "basename {}; cat \"$0\"", "{}"]))
    .ok();
    assert_eq!(out.out(), "app.env\nA=1\n");
    let out = run(enseal(&sb)
        .args(["exec-file", "--filename", "../evil"])
        .arg(&file)
        .arg("true"))
    .code_in(&[1]);
    assert!(out
        .err()
        .contains("The provided filename is not a local path."));
}

#[test]
fn background_returns_at_once() {
    let sb = Sandbox::new();
    let file = encrypt(&sb, "s.yaml", "A: x\n");
    let done = sb.root().join("bg-env");
    let go = sb.root().join("bg-go");
    // The command waits for a file that the test makes only after enseal has
    // returned: enseal returning at all shows that it did not wait for it.
    // Not through `run`: the command keeps the output pipes open.
    let status = enseal(&sb)
        .env("DONE", &done)
        .env("GO", &go)
        .args(["exec-env", "--background"])
        .arg(&file)
        .arg("while [ ! -e \"$GO\" ]; do sleep 0.05; done; echo $A >\"$DONE\"")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(!done.exists());
    std::fs::write(&go, "").unwrap();
    wait_for(&done);
    let runtime = sb.root().join("runtime-bg");
    std::fs::create_dir_all(&runtime).unwrap();
    let done = sb.root().join("bg-file");
    let go = sb.root().join("bg-file-go");
    let status = enseal(&sb)
        .env("DONE", &done)
        .env("GO", &go)
        .env("XDG_RUNTIME_DIR", &runtime)
        .args(["exec-file", "--background"])
        .arg(&file)
        .arg("while [ ! -e \"$GO\" ]; do sleep 0.05; done; cat {} >\"$DONE.tmp\"; mv \"$DONE.tmp\" \"$DONE\"")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(!done.exists());
    std::fs::write(&go, "").unwrap();
    wait_for(&done);
    assert_eq!(std::fs::read_to_string(&done).unwrap(), "A: x\n");
    let start = Instant::now();
    while std::fs::read_dir(&runtime).unwrap().count() > 0 {
        assert!(start.elapsed() < Duration::from_secs(20), "not cleaned up");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn user_nobody_when_root() {
    // SAFETY: getuid(2) has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        unavailable("--user needs root");
        return;
    }
    let sb = Sandbox::new();
    let file = encrypt(&sb, "s.yaml", "A: x\n");
    let out = run(enseal(&sb)
        .args(["exec-env", "--user", "nobody"])
        .arg(&file)
        .args(["--", "/bin/sh", "-c", "echo $(id -u) $USER $LOGNAME $A"]))
    .ok();
    assert_eq!(out.out(), "65534 nobody nobody x\n");
    for extra in [&[][..], &["--no-fifo"][..]] {
        let out = run(enseal(&sb)
            .args(["exec-file", "--user", "nobody"])
            .args(extra)
            .arg(&file)
            .arg("id -u; cat {}"))
        .ok();
        assert_eq!(out.out(), "65534\nA: x\n", "{extra:?}");
    }
    let out = run(enseal(&sb)
        .args(["exec-env", "--user", "no-such-user-here"])
        .arg(&file)
        .arg("true"))
    .code_in(&[1]);
    assert!(out.err().contains("unknown user"), "{}", out.err());
    // Not root: a clear error before anything runs.
    if Path::new("/usr/bin/setpriv").exists() {
        let out = run(Command::new("/usr/bin/setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(enseal_bin())
            .args(["exec-env", "--user", "root", "f.yaml", "true"])
            .current_dir("/"));
        if matches!(out.code, Some(126 | 127)) {
            unavailable("user nobody cannot run the enseal binary here");
        } else {
            let out = out.code_in(&[1]);
            assert!(
                out.err()
                    .contains("--user root: switching to another user needs root"),
                "{}",
                out.err()
            );
        }
    }
}

/// True when `unshare` can make a PID namespace here (root on Linux).
fn can_unshare() -> bool {
    Command::new("unshare")
        .args(["-fp", "--mount-proc", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn as_pid_1_orphans_are_reaped() {
    if !can_unshare() {
        unavailable("unshare -fp (a PID namespace) is not available");
        return;
    }
    let sb = Sandbox::new();
    let file = encrypt(&sb, "s.yaml", "A: x\n");
    let cmd = enseal(&sb);
    let program = cmd.get_program().to_os_string();
    let mut unshare = Command::new("unshare");
    unshare.args(["-fp", "--mount-proc"]).arg(program);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => unshare.env(k, v),
            None => unshare.env_remove(k),
        };
    }
    unshare.current_dir(sb.work());
    let out = run(unshare
        .arg("exec-env")
        .arg(&file)
        .arg("echo $PPID; (sleep 0.1 &); sleep 0.5; ps -eo stat= | grep -c '^Z' ; exit 5"))
    .code_in(&[5]);
    assert_eq!(out.out(), "1\n0\n", "{}", out.err());
}

#[test]
fn exec_file_gives_what_decrypt_prints_for_every_format() {
    let sb = Sandbox::new();
    let cases = [
        ("f.yaml", "a: 1 # c\nb:\n    - x\n"),
        ("f.json", "{\"a\": 1, \"b\": [\"x\"]}"),
        ("f.env", "A=1\nB=two words\n"),
        ("f.ini", "[s]\nk = v\n"),
        ("f.bin", "\u{0}\u{1}binary\n"),
    ];
    for (name, plain) in cases {
        let file = encrypt(&sb, name, plain);
        let want = run(enseal(&sb).arg("decrypt").arg(&file)).ok().stdout;
        for fifo in [true, false] {
            let mut cmd = enseal(&sb);
            cmd.arg("exec-file");
            if !fifo {
                cmd.arg("--no-fifo");
            }
            let got = run(cmd.arg(&file).args(["--", "/bin/cat", "{}"]))
                .ok()
                .stdout;
            assert_eq!(got, want, "{name} fifo={fifo}");
        }
    }
}

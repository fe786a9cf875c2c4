//! The interactive flows as a person meets them: enseal on a
//! pseudo-terminal (stdin, stdout and stderr all the terminal, `TERM` set),
//! keys typed, and the screen and the files checked afterwards — next to
//! the same commands piped. `init`'s and `updatekeys`' one question (y, n,
//! Ctrl+C), `edit` (unchanged file, a parse error's "press Enter", Ctrl+C
//! while the editor runs), the progress bar of `rotate -r`/`decrypt -r`,
//! and the colour of `hint:`. Every wait on the screen has a timeout, so a
//! prompt that hangs fails the test instead of CI.

mod common;

use common::*;
use nix::sys::signal::Signal;
use nix::sys::termios::LocalFlags;
use nix::sys::wait::WaitStatus;
use rexpect::reader::Options;
use rexpect::session::PtySession;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a test waits for one thing to appear on the screen.
const SCREEN_TIMEOUT_MS: u64 = 20_000;

/// The escape sequences a question uses to hide and show the cursor.
const HIDE_CURSOR: &str = "\x1b[?25l";
const SHOW_CURSOR: &str = "\x1b[?25h";

/// enseal on a new pseudo-terminal: the command's three streams are the
/// terminal (the sandbox's commands default to a null stdin).
fn spawn(mut cmd: Command) -> PtySession {
    cmd.stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .env("TERM", "xterm-256color");
    rexpect::session::spawn_with_options(cmd, Options::new().timeout_ms(Some(SCREEN_TIMEOUT_MS)))
        .expect("start enseal on a pseudo-terminal")
}

/// Waits for `needle` on the screen; returns what came before it.
fn expect(p: &mut PtySession, needle: &str) -> String {
    match p.exp_string(needle) {
        Ok(before) => before,
        Err(e) => panic!("waiting for {needle:?} on the terminal: {e}"),
    }
}

/// Types `keys` (sent at once, not left in a buffer).
fn key(p: &mut PtySession, keys: &str) {
    p.send(keys).unwrap();
    p.flush().unwrap();
}

/// Reads the screen to the end, then waits (bounded) for enseal to exit.
fn finish(mut p: PtySession) -> (String, WaitStatus) {
    finish_keep(&mut p)
}

/// [`finish`], keeping the terminal open for a look at its modes.
fn finish_keep(p: &mut PtySession) -> (String, WaitStatus) {
    let rest = p
        .exp_eof()
        .unwrap_or_else(|e| panic!("waiting for enseal to end: {e}"));
    let start = Instant::now();
    loop {
        match p.process().status() {
            Some(WaitStatus::StillAlive) | None => {}
            Some(status) => return (rest, status),
        }
        assert!(
            start.elapsed() < Duration::from_millis(SCREEN_TIMEOUT_MS),
            "enseal closed the terminal but did not exit"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn exited(status: &WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(*code),
        _ => None,
    }
}

fn write_script(sb: &Sandbox, name: &str, body: &str) -> PathBuf {
    let dir = sb.root().join("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// Every file below `dir` with its content (`.git/` left out but its config).
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(base).unwrap().display().to_string();
            if rel.ends_with(".git") {
                out.push((rel, std::fs::read(path.join("config")).unwrap()));
            } else if path.is_dir() {
                walk(&path, base, out);
            } else {
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

// ---------------------------------------------------------------------------
// init
// ---------------------------------------------------------------------------

fn git(sb: &Sandbox, args: &[&str]) {
    let mut cmd = Command::new("git");
    cmd.current_dir(sb.work())
        .env("HOME", sb.home())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args(args);
    run(&mut cmd).ok();
}

/// A git repository with one plaintext `.env`.
fn init_repo() -> Sandbox {
    let sb = Sandbox::new();
    git(&sb, &["init", "-q", "-b", "main"]);
    sb.write(".env", "DB_PASSWORD=hunter2\n");
    sb
}

fn init_on_terminal(sb: &Sandbox) -> PtySession {
    let mut cmd = sb.enseal();
    cmd.arg("init").env("GIT_CONFIG_NOSYSTEM", "1");
    let mut p = spawn(cmd);
    let plan = expect(&mut p, "Apply this plan?");
    assert!(plan.contains("encrypt .env in place"), "{plan}");
    expect(&mut p, HIDE_CURSOR);
    p
}

#[test]
fn init_answer_n_changes_nothing() {
    let sb = init_repo();
    let before = snapshot(sb.root());
    let mut p = init_on_terminal(&sb);
    key(&mut p, "n");
    let (screen, status) = finish(p);
    assert_eq!(exited(&status), Some(1), "{status:?}\n{screen}");
    assert!(screen.contains("nothing changed"), "{screen}");
    assert!(
        screen.contains(SHOW_CURSOR),
        "cursor left hidden: {screen:?}"
    );
    assert_eq!(snapshot(sb.root()), before);
}

#[test]
fn init_answer_y_applies_the_plan() {
    let sb = init_repo();
    let mut p = init_on_terminal(&sb);
    key(&mut p, "y");
    let (screen, status) = finish(p);
    assert_eq!(exited(&status), Some(0), "{status:?}\n{screen}");
    assert!(sb.path(".sops.yaml").is_file(), "{screen}");
    assert!(sb.home().join(".config/sops/age/keys.txt").is_file());
    let env = std::fs::read_to_string(sb.path(".env")).unwrap();
    assert!(!env.contains("hunter2"), "{env}");
    assert!(env.contains("sops_mac="), "{env}");
}

/// Ctrl+C at the question: enseal ends as SIGINT does, nothing changed,
/// and the cursor the question hid is shown again (it used to stay
/// hidden in the user's shell).
#[test]
fn ctrl_c_at_the_init_question_restores_the_cursor_and_changes_nothing() {
    let sb = init_repo();
    let before = snapshot(sb.root());
    let mut p = init_on_terminal(&sb);
    p.send_control('c').unwrap();
    let (screen, status) = finish(p);
    assert!(
        matches!(status, WaitStatus::Signaled(_, Signal::SIGINT, _)),
        "{status:?}\n{screen:?}"
    );
    assert!(
        screen.contains(SHOW_CURSOR),
        "cursor left hidden: {screen:?}"
    );
    assert_eq!(snapshot(sb.root()), before);
}

// ---------------------------------------------------------------------------
// updatekeys
// ---------------------------------------------------------------------------

/// A file encrypted for key 1 and a `.sops.yaml` that wants keys 1 and 2.
fn drifted(sb: &Sandbox, name: &str) -> PathBuf {
    let plain = sb.write("plain.yaml", "a: secret\n");
    let out = run(sb
        .enseal()
        .args(["encrypt", "--age", &recipient(1)])
        .arg(&plain))
    .ok();
    std::fs::remove_file(&plain).unwrap();
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - age: {},{}\n",
            recipient(1),
            recipient(2)
        ),
    );
    sb.write(name, &out.stdout)
}

fn updatekeys_on_terminal(sb: &Sandbox, args: &[&str], question: &str) -> PtySession {
    let mut cmd = sb.enseal();
    cmd.env("SOPS_AGE_KEY_FILE", key_file(1))
        .arg("updatekeys")
        .args(args);
    let mut p = spawn(cmd);
    let diff = expect(&mut p, question);
    assert!(
        diff.contains(&recipient(2)),
        "the change is shown first: {diff}"
    );
    expect(&mut p, HIDE_CURSOR);
    p
}

#[test]
fn updatekeys_y_applies_n_leaves_the_file() {
    let sb = Sandbox::new();
    let file = drifted(&sb, "s.yaml");
    let before = std::fs::read(&file).unwrap();

    let mut p = updatekeys_on_terminal(&sb, &["s.yaml"], "Is this okay?");
    key(&mut p, "n");
    let (screen, status) = finish(p);
    assert_eq!(exited(&status), Some(0), "{status:?}\n{screen}");
    assert!(screen.contains("left unchanged"), "{screen}");
    assert_eq!(std::fs::read(&file).unwrap(), before);

    let mut p = updatekeys_on_terminal(&sb, &["s.yaml"], "Is this okay?");
    key(&mut p, "y");
    let (screen, status) = finish(p);
    assert_eq!(exited(&status), Some(0), "{status:?}\n{screen}");
    let after = std::fs::read_to_string(&file).unwrap();
    assert!(after.contains(&recipient(2)), "{after}");
    // Key 2 alone now opens it.
    let out = run(sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", key_file(2))
        .arg("decrypt")
        .arg(&file))
    .ok();
    assert_eq!(out.out(), "a: secret\n");
}

#[test]
fn updatekeys_piped_without_yes_refuses_with_a_hint() {
    let sb = Sandbox::new();
    let file = drifted(&sb, "s.yaml");
    let before = std::fs::read(&file).unwrap();
    let out = run_stdin(
        sb.enseal()
            .env("SOPS_AGE_KEY_FILE", key_file(1))
            .args(["updatekeys", "s.yaml"]),
        b"y\n",
    );
    assert_eq!(out.code, Some(1), "{}", out.err());
    assert!(out.err().contains("no terminal"), "{}", out.err());
    assert!(out.err().contains("--yes"), "{}", out.err());
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

#[test]
fn updatekeys_r_asks_once_and_ctrl_c_changes_nothing() {
    let sb = Sandbox::new();
    let first = drifted(&sb, "a.yaml");
    let second = sb.copy(&first, "b.yaml");
    let before = [
        std::fs::read(&first).unwrap(),
        std::fs::read(&second).unwrap(),
    ];
    let mut p = updatekeys_on_terminal(&sb, &["-r"], "Apply these changes to 2 file(s)?");
    p.send_control('c').unwrap();
    let (screen, status) = finish(p);
    assert!(
        matches!(status, WaitStatus::Signaled(_, Signal::SIGINT, _)),
        "{status:?}\n{screen:?}"
    );
    assert!(
        screen.contains(SHOW_CURSOR),
        "cursor left hidden: {screen:?}"
    );
    assert_eq!(std::fs::read(&first).unwrap(), before[0]);
    assert_eq!(std::fs::read(&second).unwrap(), before[1]);

    let mut p = updatekeys_on_terminal(&sb, &["-r"], "Apply these changes to 2 file(s)?");
    key(&mut p, "y");
    let (screen, status) = finish(p);
    assert_eq!(exited(&status), Some(0), "{status:?}\n{screen}");
    assert!(screen.contains("2 files: 2 updated"), "{screen}");
    for f in [&first, &second] {
        assert!(std::fs::read_to_string(f).unwrap().contains(&recipient(2)));
    }
}

// ---------------------------------------------------------------------------
// edit
// ---------------------------------------------------------------------------

struct EditBox {
    sb: Sandbox,
    file: PathBuf,
    before: Vec<u8>,
}

impl EditBox {
    fn new() -> EditBox {
        let sb = Sandbox::new();
        std::fs::create_dir_all(sb.root().join("run")).unwrap();
        let file = sb.copy(&reference("yaml-basic.enc.yaml"), "basic.enc.yaml");
        let before = std::fs::read(&file).unwrap();
        EditBox { sb, file, before }
    }

    fn command(&self, editor: &Path) -> Command {
        let mut cmd = self.sb.enseal();
        cmd.env("SOPS_AGE_KEY_FILE", key_file(1))
            .env("EDITOR", editor)
            .env("XDG_RUNTIME_DIR", self.sb.root().join("run"))
            .arg("edit")
            .arg(&self.file);
        cmd
    }

    /// No plaintext left on disk, the encrypted file as it was.
    fn assert_untouched(&self) {
        let left: Vec<_> = std::fs::read_dir(self.sb.root().join("run"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(left.is_empty(), "temporary files left: {left:?}");
        assert_eq!(std::fs::read(&self.file).unwrap(), self.before);
    }
}

#[test]
fn edit_on_a_terminal_unchanged_exits_200() {
    let eb = EditBox::new();
    let editor = write_script(&eb.sb, "look", "test -s \"$1\" && echo \"editing $1\"");
    let mut p = spawn(eb.command(&editor));
    // The editor has the terminal: what it prints is on the screen.
    expect(&mut p, "editing ");
    let (screen, status) = finish(p);
    assert_eq!(exited(&status), Some(200), "{status:?}\n{screen}");
    assert!(
        screen.contains("File has not changed, exiting."),
        "{screen}"
    );
    eb.assert_untouched();
}

/// Content that does not parse: the error with its line, then "press
/// Enter"; Enter opens the editor again (the fix is saved), Ctrl+C there
/// cancels with nothing left behind.
#[test]
fn edit_parse_error_enter_reopens_ctrl_c_cancels() {
    let eb = EditBox::new();
    let flag = eb.sb.root().join("once");
    let editor = write_script(
        &eb.sb,
        "toggle",
        &format!(
            "if [ -e '{f}' ]; then echo 'fixed: ok' > \"$1\"; else touch '{f}'; echo 'a: [' > \"$1\"; fi",
            f = flag.display()
        ),
    );
    let mut p = spawn(eb.command(&editor));
    let error = expect(
        &mut p,
        "Press enter to return to the editor, or Ctrl+C to exit.",
    );
    assert!(error.contains("line 1"), "{error}");
    p.send_control('c').unwrap();
    let (screen, status) = finish(p);
    assert_eq!(exited(&status), Some(130), "{status:?}\n{screen}");
    assert_eq!(
        screen.matches("User canceled operation").count(),
        1,
        "{screen}"
    );
    eb.assert_untouched();

    std::fs::remove_file(&flag).unwrap();
    let mut p = spawn(eb.command(&editor));
    expect(&mut p, "Press enter to return to the editor");
    p.send_line("").unwrap();
    let (screen, status) = finish(p);
    assert_eq!(exited(&status), Some(0), "{status:?}\n{screen}");
    let out = run(eb
        .sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .arg("decrypt")
        .arg(&eb.file))
    .ok();
    assert_eq!(out.out(), "fixed: ok\n");
}

/// Ctrl+C while the editor runs reaches enseal and the editor (the
/// terminal's foreground group): the temporary folder is removed, the file
/// is unchanged, exit 130 (128 + SIGINT), as docs/editing.md says.
#[test]
fn ctrl_c_while_the_editor_runs_leaves_no_plaintext() {
    let eb = EditBox::new();
    let editor = write_script(&eb.sb, "slow", "echo \"editing <$1>\"; exec sleep 60");
    let mut p = spawn(eb.command(&editor));
    let started = Instant::now();
    let before = expect(&mut p, ">");
    let temp = PathBuf::from(before.rsplit("editing <").next().unwrap());
    assert!(temp.starts_with(eb.sb.root().join("run")), "{temp:?}");
    assert!(temp.is_file(), "{temp:?}");
    p.send_control('c').unwrap();
    let (screen, status) = finish(p);
    assert_eq!(exited(&status), Some(130), "{status:?}\n{screen}");
    assert_eq!(
        screen.matches("User canceled operation").count(),
        1,
        "{screen}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the editor ran on"
    );
    eb.assert_untouched();
}

/// The passphrase of [`protected_identity`].
const PASSPHRASE: &str = "correct horse 42";

/// Test key 1 encrypted with [`PASSPHRASE`] (scrypt work factor 10: fast).
fn protected_identity(sb: &Sandbox) -> PathBuf {
    use age::secrecy::SecretString;
    use std::io::Write;
    let mut recipient = age::scrypt::Recipient::new(SecretString::from(PASSPHRASE.to_string()));
    recipient.set_work_factor(10);
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .unwrap();
    let mut armored = Vec::new();
    let armor =
        age::armor::ArmoredWriter::wrap_output(&mut armored, age::armor::Format::AsciiArmor)
            .unwrap();
    let mut writer = encryptor.wrap_output(armor).unwrap();
    writer
        .write_all(&std::fs::read(key_file(1)).unwrap())
        .unwrap();
    writer.finish().unwrap().finish().unwrap();
    let path = sb.root().join("protected.txt");
    std::fs::write(&path, armored).unwrap();
    path
}

/// `edit` started through `sh` with the terminal's echo on (as a shell
/// leaves it), the identity protected by a passphrase.
fn edit_with_passphrase(eb: &EditBox, editor: &Path) -> PtySession {
    let mut cmd = Command::new("/bin/sh");
    let inner = eb.command(editor);
    cmd.env_clear();
    for (k, v) in inner.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd.env("SOPS_AGE_KEY_FILE", protected_identity(&eb.sb))
        .current_dir(eb.sb.work())
        .arg("-c")
        .arg("stty echo && exec \"$0\" \"$@\"")
        .arg(inner.get_program())
        .args(inner.get_args());
    let mut p = spawn(cmd);
    expect(
        &mut p,
        "Enter passphrase for identity 'SOPS_AGE_KEY_FILE': ",
    );
    p
}

/// The terminal's local modes after enseal ended.
fn local_modes(p: &PtySession) -> LocalFlags {
    let tty = p.process().get_file_handle().unwrap();
    nix::sys::termios::tcgetattr(&tty).unwrap().local_flags
}

#[test]
fn edit_asks_the_identity_passphrase_without_echo() {
    let eb = EditBox::new();
    let editor = write_script(&eb.sb, "set", "echo 'word: typed' > \"$1\"");
    let mut p = edit_with_passphrase(&eb, &editor);
    key(&mut p, &format!("{PASSPHRASE}\r"));
    let (screen, status) = finish(p);
    assert_eq!(exited(&status), Some(0), "{status:?}\n{screen}");
    assert!(
        !screen.contains("horse"),
        "the passphrase was echoed: {screen:?}"
    );
    let out = run(eb
        .sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .arg("decrypt")
        .arg(&eb.file))
    .ok();
    assert_eq!(out.out(), "word: typed\n");
}

/// Ctrl+C at the passphrase prompt: enseal ends by SIGINT with nothing
/// changed and the terminal's echo and line editing back on (rpassword
/// alone raised SIGINT with them still off).
#[test]
fn ctrl_c_at_the_passphrase_prompt_gives_the_terminal_back() {
    let eb = EditBox::new();
    let editor = write_script(&eb.sb, "never", "echo 'word: never' > \"$1\"");
    let mut p = edit_with_passphrase(&eb, &editor);
    assert!(
        !local_modes(&p).contains(LocalFlags::ECHO),
        "the prompt reads without echo"
    );
    p.send_control('c').unwrap();
    let (screen, status) = finish_keep(&mut p);
    assert!(
        matches!(status, WaitStatus::Signaled(_, Signal::SIGINT, _)),
        "{status:?}\n{screen:?}"
    );
    let modes = local_modes(&p);
    for flag in [LocalFlags::ECHO, LocalFlags::ICANON, LocalFlags::ISIG] {
        assert!(modes.contains(flag), "{flag:?} left off: {modes:?}");
    }
    eb.assert_untouched();
}

// ---------------------------------------------------------------------------
// -r: progress bar and failures
// ---------------------------------------------------------------------------

/// 40 encrypted files under `secrets/`, two of them for key 2 only (they
/// fail with key 1).
fn many_files(sb: &Sandbox) -> Vec<PathBuf> {
    let plain = sb.write("plain.yaml", "a: secret\n");
    let enc = |r: String| {
        run(sb.enseal().args(["encrypt", "--age", &r]).arg(&plain))
            .ok()
            .stdout
    };
    let (one, two) = (enc(recipient(1)), enc(recipient(2)));
    std::fs::remove_file(&plain).unwrap();
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: ^secrets/\n    age: {}\n",
            recipient(1)
        ),
    );
    (0..40)
        .map(|i| {
            let name = format!("secrets/f{i:02}.yaml");
            sb.write(&name, if i == 7 || i == 31 { &two } else { &one })
        })
        .collect()
}

/// The failures: one line each as they happen, then the summary, then
/// the failed files again, each on a `failed:` line after the summary.
fn assert_failures_reported(text: &str, summary: &str) {
    let summary_at = text
        .find(summary)
        .unwrap_or_else(|| panic!("no {summary:?} in {text}"));
    for name in ["secrets/f07.yaml", "secrets/f31.yaml"] {
        let failed = format!("failed: {name}");
        let at = text
            .find(&failed)
            .unwrap_or_else(|| panic!("{failed} missing: {text}"));
        assert!(at > summary_at, "{failed} before the summary: {text}");
        let error_lines = text
            .lines()
            .filter(|l| l.contains(&format!("{name}: ")))
            .count();
        assert_eq!(error_lines, 1, "{name}: one error line: {text}");
    }
}

#[test]
fn rotate_r_draws_a_progress_bar_on_a_terminal_only() {
    let sb = Sandbox::new();
    let files = many_files(&sb);
    let mut cmd = sb.enseal();
    cmd.env("SOPS_AGE_KEY_FILE", key_file(1))
        .args(["rotate", "-r"]);
    let (screen, status) = finish(spawn(cmd));
    assert_eq!(exited(&status), Some(128), "{status:?}\n{screen}");
    assert!(screen.contains("rotate ["), "no progress bar: {screen:?}");
    assert!(screen.contains("/40"), "no count: {screen:?}");
    let plain = screen.replace('\r', "");
    assert_failures_reported(&plain, "40 files: 38 rotated, 2 failed");
    let rotated = std::fs::read(&files[0]).unwrap();

    // Piped: the same report, no bar and no escape sequence at all.
    let out = run(sb
        .enseal()
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .args(["rotate", "-r"]));
    assert_eq!(out.code, Some(128), "{}", out.err());
    assert!(!out.err().contains("rotate ["), "{}", out.err());
    assert!(!out.err().contains('\x1b'), "{:?}", out.err());
    assert_failures_reported(&out.err(), "40 files: 38 rotated, 2 failed");
    assert_ne!(std::fs::read(&files[0]).unwrap(), rotated, "rotated again");
}

#[test]
fn decrypt_r_bar_goes_to_the_terminal_not_into_the_output() {
    let sb = Sandbox::new();
    many_files(&sb);
    let out_dir = sb.root().join("out");
    let mut cmd = sb.enseal();
    cmd.env("SOPS_AGE_KEY_FILE", key_file(1))
        .args(["decrypt", "-r", "--output-dir"])
        .arg(&out_dir);
    let (screen, status) = finish(spawn(cmd));
    assert_eq!(exited(&status), Some(128), "{status:?}\n{screen}");
    assert!(screen.contains("decrypt ["), "no progress bar: {screen:?}");
    assert_failures_reported(
        &screen.replace('\r', ""),
        "40 files: 38 decrypted, 2 failed",
    );
    let written = std::fs::read_to_string(out_dir.join("secrets/f00.yaml")).unwrap();
    assert_eq!(written, "a: secret\n");
    assert!(!out_dir.join("secrets/f07.yaml").exists());
}

// ---------------------------------------------------------------------------
// colour
// ---------------------------------------------------------------------------

#[test]
fn hint_is_coloured_on_a_terminal_only() {
    let sb = Sandbox::new();
    sb.write("p.yaml", "a: 1\n");
    let decrypt = |no_color: bool| {
        let mut cmd = sb.enseal();
        cmd.args(["decrypt", "p.yaml"]);
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        cmd
    };
    let (screen, status) = finish(spawn(decrypt(false)));
    assert_eq!(exited(&status), Some(1), "{status:?}\n{screen}");
    assert!(
        screen.contains("\x1b[1m\x1b[36mhint:")
            || screen.contains("\x1b[1;36mhint:")
            || screen.contains("\x1b[36;1mhint:"),
        "hint: not coloured: {screen:?}"
    );

    let (screen, _) = finish(spawn(decrypt(true)));
    assert!(screen.contains("hint: "), "{screen:?}");
    assert!(!screen.contains('\x1b'), "NO_COLOR: {screen:?}");

    let out = run(&mut decrypt(false));
    assert!(out.err().contains("\nhint: "), "{:?}", out.err());
    assert!(!out.err().contains('\x1b'), "piped: {:?}", out.err());
}

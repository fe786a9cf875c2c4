//! Helpers shared by the integration tests (`tests/interop.rs`, `tests/cli.rs`).
//!
//! * [`sops_ref`] / [`require_sops`]: the reference sops 3.11.0 binary, found
//!   through `ENSEAL_SOPS_REF` (set by `scripts/test`) or `.tools/bin/sops`.
//!   In CI (`CI` set) a missing reference is a hard failure, never a skip.
//! * [`Sandbox`]: a scratch directory with an empty `home/` and a `work/`
//!   directory (no `.sops.yaml` anywhere above it); [`Sandbox::enseal`] and
//!   [`Sandbox::sops`] build commands that run there with a scrubbed
//!   environment (only `PATH`, `HOME`, `TMPDIR`, `LANG`, and coverage/backtrace
//!   variables are passed through; no `SOPS_*`, no `XDG_*`).
//! * [`run`] / [`run_stdin`]: run a command with a timeout and capture output.
//! * Test keys: [`key_file`], [`recipient`]; fixture cases: [`cases`].
//! * [`rng`]: the seeded generator of the generated tests; [`http_mock`]:
//!   the request side of the loopback HTTP lookalikes.
#![allow(dead_code)]

pub mod http_mock;
pub mod rng;

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long any single child process may run before it is killed.
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(180);

/// The crate root (where `Cargo.toml` is).
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A path below `testdata/`.
pub fn testdata(rel: &str) -> PathBuf {
    crate_dir().join("testdata").join(rel)
}

/// A path below `testdata/reference/`.
pub fn reference(rel: &str) -> PathBuf {
    testdata("reference").join(rel)
}

/// The enseal binary built by cargo for this test run.
pub fn enseal_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_enseal"))
}

/// The reference sops binary: `$ENSEAL_SOPS_REF` if set and non-empty, else
/// `.tools/bin/sops` in the crate directory; `None` when that file does not
/// exist.
pub fn sops_ref() -> Option<PathBuf> {
    let candidate = match std::env::var_os("ENSEAL_SOPS_REF") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => crate_dir().join(".tools").join("bin").join("sops"),
    };
    if candidate.is_file() {
        Some(candidate)
    } else {
        None
    }
}

/// True when running under CI (`CI` set to anything but `""`/`0`/`false`).
pub fn in_ci() -> bool {
    match std::env::var("CI") {
        Ok(v) => !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false")),
        Err(_) => false,
    }
}

/// The reference binary for a test that needs it.
///
/// In CI a missing reference PANICS (never a silent skip). Locally it prints a
/// loud `SKIPPED` note and returns `None`; the caller then returns early.
pub fn require_sops() -> Option<PathBuf> {
    if let Some(p) = sops_ref() {
        return Some(p);
    }
    unavailable(
        "reference sops missing (set ENSEAL_SOPS_REF or run scripts/install-test-deps; \
         scripts/test does both)",
    );
    None
}

/// A tool or capability a test needs is missing: in CI a failure, never a
/// skip; locally a loud `SKIPPED` note (the caller then returns).
pub fn unavailable(what: &str) {
    // The libtest harness names each test's thread after the test.
    let current = std::thread::current();
    let test = current.name().unwrap_or("?");
    let msg = format!("{what} — needed by test `{test}`");
    if in_ci() {
        panic!("{msg}; CI is set, so this is a failure, not a skip");
    }
    // Straight to the stderr handle: libtest captures `eprintln!` of passing
    // tests, and this note must be seen.
    let _ = writeln!(std::io::stderr(), "\n*** SKIPPED: {msg} ***\n");
}

// ---------------------------------------------------------------------------
// Keys and fixture cases
// ---------------------------------------------------------------------------

/// Path of public test key `n` (1 or 2): `testdata/keys/test-age-key[-2].txt`.
pub fn key_file(n: u8) -> PathBuf {
    match n {
        1 => testdata("keys/test-age-key.txt"),
        2 => testdata("keys/test-age-key-2.txt"),
        _ => panic!("no test key {n}"),
    }
}

/// Path of the README demo key.
pub fn demo_key_file() -> PathBuf {
    testdata("demo/demo-age-key.txt")
}

/// The age recipient (public key) of an identity file written by `age-keygen`.
pub fn recipient_of(key: &Path) -> String {
    let text = std::fs::read_to_string(key)
        .unwrap_or_else(|e| panic!("cannot read key file {}: {e}", key.display()));
    text.lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| panic!("no '# public key:' line in {}", key.display()))
}

/// The age recipient of test key `n`.
pub fn recipient(n: u8) -> String {
    recipient_of(&key_file(n))
}

/// The `SECRET-KEY` line of test key `n` (for `SOPS_AGE_KEY`).
pub fn secret_key(n: u8) -> String {
    let text = std::fs::read_to_string(key_file(n)).expect("read key");
    text.lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .expect("secret key line")
        .to_string()
}

/// One line of `testdata/reference/cases.tsv`.
#[derive(Debug, Clone)]
pub struct Case {
    /// Case name; fixtures are `NAME.enc.EXT` and `NAME.dec.EXT`.
    pub name: String,
    /// Plaintext input, relative to `testdata/reference/`.
    pub input: String,
    /// 1 = test key 1; 2 = test keys 1 and 2.
    pub keys: u8,
    /// Argument template (`{R}` recipients, `{IN}` input path).
    pub args: Vec<String>,
}

impl Case {
    /// Extension of the input (and of the fixture files): `yaml`, `json`, `env`, `ini`, `bin`.
    pub fn ext(&self) -> &str {
        self.input.rsplit('.').next().unwrap_or("")
    }
    /// Format family used to group tests: yaml, json, dotenv, ini, binary.
    pub fn format(&self) -> &'static str {
        match self.ext() {
            "yaml" | "yml" => "yaml",
            "json" => "json",
            "env" => "dotenv",
            "ini" => "ini",
            _ => "binary",
        }
    }
    /// Comma-separated recipients for this case.
    pub fn recipients(&self) -> String {
        match self.keys {
            1 => recipient(1),
            _ => format!("{},{}", recipient(1), recipient(2)),
        }
    }
    /// The command line with `{R}` and `{IN}` filled in.
    pub fn argv(&self, input: &Path) -> Vec<String> {
        let r = self.recipients();
        let inp = input.to_string_lossy();
        self.args
            .iter()
            .map(|a| a.replace("{R}", &r).replace("{IN}", &inp))
            .collect()
    }
    /// Plaintext input path.
    pub fn input_path(&self) -> PathBuf {
        reference(&self.input)
    }
    /// Base file name of the input (`basic.yaml`).
    pub fn input_file_name(&self) -> String {
        Path::new(&self.input)
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
    /// Committed reference-encrypted fixture.
    pub fn enc_fixture(&self) -> PathBuf {
        reference(&format!("{}.enc.{}", self.name, self.ext()))
    }
    /// Committed golden plaintext (the reference's decrypt of the fixture).
    pub fn dec_fixture(&self) -> PathBuf {
        reference(&format!("{}.dec.{}", self.name, self.ext()))
    }
    /// True when the case is run in legacy mode (`-e` instead of `encrypt`).
    pub fn legacy(&self) -> bool {
        self.args.iter().any(|a| a == "-e")
    }
}

/// All cases of `testdata/reference/cases.tsv`.
pub fn cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| {
        let path = reference("cases.tsv");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 4, "cases.tsv line {}: want 4 columns", i + 1);
            out.push(Case {
                name: cols[0].to_string(),
                input: cols[1].to_string(),
                keys: cols[2].parse().expect("keys column"),
                args: cols[3].split(' ').map(str::to_string).collect(),
            });
        }
        assert!(!out.is_empty(), "no cases in {}", path.display());
        out
    })
}

/// Cases of one format family (`yaml`, `json`, `dotenv`, `ini`, `binary`).
pub fn cases_of(format: &str) -> Vec<&'static Case> {
    cases().iter().filter(|c| c.format() == format).collect()
}

// ---------------------------------------------------------------------------
// Sandbox and commands
// ---------------------------------------------------------------------------

/// A scratch directory: `home/` (empty `$HOME`) and `work/` (the cwd, with no
/// `.sops.yaml` in it or above it). Removed on drop.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    /// Create a fresh sandbox under the system temp directory.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("enseal-test-")
            .tempdir()
            .expect("create temp dir");
        std::fs::create_dir_all(dir.path().join("home")).expect("mkdir home");
        std::fs::create_dir_all(dir.path().join("work")).expect("mkdir work");
        let sb = Sandbox { dir };
        assert_no_sops_config_above(&sb.work());
        sb
    }
    /// The sandbox root.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    /// The empty `$HOME`.
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }
    /// The working directory.
    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }
    /// A path inside the working directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.work().join(name)
    }
    /// Write a file into the working directory; returns its path.
    pub fn write(&self, name: &str, data: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, data).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }
    /// Copy a file into the working directory under `name`; returns the new path.
    pub fn copy(&self, from: &Path, name: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::copy(from, &p)
            .unwrap_or_else(|e| panic!("copy {} -> {}: {e}", from.display(), p.display()));
        p
    }
    /// `enseal` with a scrubbed environment, cwd = `work/`, HOME = `home/`.
    pub fn enseal(&self) -> Command {
        scrubbed(&enseal_bin(), &self.home(), &self.work())
    }
    /// The reference sops, same environment as [`Sandbox::enseal`].
    pub fn sops(&self, sops: &Path) -> Command {
        scrubbed(sops, &self.home(), &self.work())
    }
}

/// `enseal` with a scrubbed environment in a process-wide scratch HOME/cwd
/// (never written to by the tests). Prefer [`Sandbox::enseal`] when the test
/// writes files.
pub fn enseal() -> Command {
    let (home, work) = shared_dirs();
    scrubbed(&enseal_bin(), home, work)
}

/// The reference sops with the same scrubbed environment as [`enseal`].
pub fn sops(sops: &Path) -> Command {
    let (home, work) = shared_dirs();
    scrubbed(sops, home, work)
}

fn shared_dirs() -> (&'static PathBuf, &'static PathBuf) {
    static DIRS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    let (h, w) = DIRS.get_or_init(|| {
        // A fixed directory per user below the system temp dir: created once,
        // reused by every run, only ever read by the programs under test.
        let base = std::env::temp_dir().join(format!("enseal-test-env-{}", user_tag()));
        let home = base.join("home");
        let work = base.join("work");
        std::fs::create_dir_all(&home).expect("mkdir shared home");
        std::fs::create_dir_all(&work).expect("mkdir shared work");
        assert_no_sops_config_above(&work);
        (home, work)
    });
    (h, w)
}

fn user_tag() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "user".into())
}

/// Panic if a `.sops.yaml` exists in `dir` or any of its ancestors: both
/// tools would pick it up and the tests would no longer be isolated.
pub fn assert_no_sops_config_above(dir: &Path) {
    for d in dir.ancestors() {
        for name in [".sops.yaml", ".sops.yml"] {
            let p = d.join(name);
            assert!(
                !p.exists(),
                "{} exists above the test directory {}; tests need a directory without sops config",
                p.display(),
                dir.display()
            );
        }
    }
}

/// Environment variables passed through to children besides PATH/HOME.
const PASS_THROUGH: &[&str] = &["PATH", "TMPDIR", "LANG", "LC_ALL", "RUST_BACKTRACE"];

/// A command for `bin` with a clean environment: only PATH, TMPDIR, LANG,
/// LC_ALL, RUST_BACKTRACE and code-coverage variables (`LLVM_PROFILE_FILE`,
/// `CARGO_LLVM_COV*`) are kept; HOME is `home`; cwd is `cwd`; stdin is null.
pub fn scrubbed(bin: &Path, home: &Path, cwd: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.env_clear();
    for (k, v) in std::env::vars_os() {
        let ks = k.to_string_lossy();
        if PASS_THROUGH.contains(&ks.as_ref())
            || ks.starts_with("LLVM_PROFILE")
            || ks.starts_with("CARGO_LLVM_COV")
        {
            cmd.env(&k, &v);
        }
    }
    cmd.env("HOME", home);
    cmd.current_dir(cwd);
    cmd.stdin(Stdio::null());
    cmd
}

// ---------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------

/// Result of running a child process.
#[derive(Debug)]
pub struct Out {
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Raw stdout.
    pub stdout: Vec<u8>,
    /// Raw stderr.
    pub stderr: Vec<u8>,
    /// Human-readable command line, for messages.
    pub cmdline: String,
}

impl Out {
    /// stderr as (lossy) text.
    pub fn err(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    /// stdout as (lossy) text.
    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    /// Panic unless the exit code is 0.
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code,
            Some(0),
            "command failed: {}\nexit: {:?}\nstderr:\n{}",
            self.cmdline,
            self.code,
            self.err()
        );
        self
    }
    /// Panic unless the exit code is one of `codes`.
    pub fn code_in(self, codes: &[i32]) -> Self {
        assert!(
            self.code.is_some_and(|c| codes.contains(&c)),
            "command {}: want exit code in {codes:?}, got {:?}\nstderr:\n{}",
            self.cmdline,
            self.code,
            self.err()
        );
        self
    }
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&shell_quote(a));
    }
    s
}

fn shell_quote(a: &OsStr) -> String {
    let s = a.to_string_lossy();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+".contains(c))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Run `cmd` (stdin null) with [`CHILD_TIMEOUT`]; capture stdout/stderr.
pub fn run(cmd: &mut Command) -> Out {
    run_inner(cmd, None)
}

/// Run `cmd` feeding `input` on stdin.
pub fn run_stdin(cmd: &mut Command, input: &[u8]) -> Out {
    run_inner(cmd, Some(input))
}

fn run_inner(cmd: &mut Command, input: Option<&[u8]>) -> Out {
    let cmdline = describe(cmd);
    if input.is_some() {
        cmd.stdin(Stdio::piped());
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmdline}: {e}"));
    let feeder = input.map(|data| {
        let mut stdin = child.stdin.take().expect("stdin");
        let data = data.to_vec();
        std::thread::spawn(move || {
            // The child may exit without reading everything: ignore EPIPE.
            let _ = stdin.write_all(&data);
        })
    });
    let mut so = child.stdout.take().expect("stdout");
    let mut se = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = so.read_to_end(&mut b);
        b
    });
    let t_err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = se.read_to_end(&mut b);
        b
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if start.elapsed() > CHILD_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("timed out after {CHILD_TIMEOUT:?}: {cmdline}");
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("wait for {cmdline}: {e}"),
        }
    };
    if let Some(f) = feeder {
        let _ = f.join();
    }
    Out {
        code: status.code(),
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
        cmdline,
    }
}

// ---------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------

/// Compare bytes; on mismatch return a readable description (first differing
/// line, both texts) instead of panicking, so callers can collect failures.
pub fn diff_bytes(label: &str, want: &[u8], got: &[u8]) -> Result<(), String> {
    if want == got {
        return Ok(());
    }
    let w = String::from_utf8_lossy(want);
    let g = String::from_utf8_lossy(got);
    let mut where_ = String::from("(lengths differ)");
    for (i, (a, b)) in w.lines().zip(g.lines()).enumerate() {
        if a != b {
            where_ = format!(
                "first difference at line {}:\n  want: {a:?}\n  got:  {b:?}",
                i + 1
            );
            break;
        }
    }
    if where_ == "(lengths differ)" {
        where_ = format!(
            "same lines up to the shorter one; want {} bytes ({} lines), got {} bytes ({} lines)",
            want.len(),
            w.lines().count(),
            got.len(),
            g.lines().count()
        );
    }
    const MAX: usize = 4000;
    let clip = |s: &str| -> String {
        if s.len() > MAX {
            let mut end = MAX;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}…[{} more bytes]", &s[..end], s.len() - end)
        } else {
            s.to_string()
        }
    };
    Err(format!(
        "{label}: output differs; {where_}\n--- want ---\n{}\n--- got ---\n{}\n------------",
        clip(&w),
        clip(&g)
    ))
}

/// Panic with all collected failures (one per case) if there are any.
pub fn report(what: &str, total: usize, failures: Vec<String>) {
    if !failures.is_empty() {
        panic!(
            "{what}: {} of {total} cases failed:\n\n{}",
            failures.len(),
            failures.join("\n\n")
        );
    }
    eprintln!("{what}: {total} cases passed");
}

/// Run `f` catching panics, turning them into an `Err` message (so one bad case
/// does not hide the others).
pub fn catch<F: FnOnce() -> Result<(), String> + std::panic::UnwindSafe>(
    name: &str,
    f: F,
) -> Result<(), String> {
    match std::panic::catch_unwind(f) {
        Ok(r) => r.map_err(|e| format!("[{name}] {e}")),
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            Err(format!("[{name}] {msg}"))
        }
    }
}

/// INI: the reference (3.11.0) writes the `[sops]` section in random order
/// (3.13.2 sorts it); sort its lines so files compare equal.
fn sort_ini_metadata(text: &str) -> String {
    let Some(pos) = text.find("\n[sops]\n") else {
        return text.to_string();
    };
    let head = &text[..pos + "\n[sops]\n".len()];
    let mut lines: Vec<&str> = text[head.len()..].lines().collect();
    lines.sort_unstable();
    let mut out = head.to_string();
    for l in lines {
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// Normalise an encrypted file so that two encryptions of the same plaintext
/// with the same options compare equal: every `ENC[...]` value becomes
/// `ENC[type:T]`, age armor blocks become `AGE`, the `lastmodified` timestamp
/// and the `version` number in the metadata become placeholders; the lines of
/// an INI `[sops]` section are sorted; in JSON `int` and `float` are equal.
pub fn normalize_encrypted(text: &str) -> String {
    static RES: OnceLock<[regex::Regex; 4]> = OnceLock::new();
    let [enc, armor, modified, version] = RES.get_or_init(|| {
        [
            regex::Regex::new(
                r"ENC\[AES256_GCM,data:[A-Za-z0-9+/=]*,iv:[A-Za-z0-9+/=]*,tag:[A-Za-z0-9+/=]*,type:([a-z]+)\]",
            )
            .expect("regex"),
            regex::Regex::new(r"(?s)-----BEGIN AGE ENCRYPTED FILE-----.*?-----END AGE ENCRYPTED FILE-----")
                .expect("regex"),
            regex::Regex::new(r#"(lastmodified"?\s*[:=]\s*"?)\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"#)
                .expect("regex"),
            regex::Regex::new(r#"(?m)(^\s*"?(?:sops_)?version"?\s*[:=]\s*"?)\d+\.\d+\.\d+"#).expect("regex"),
        ]
    });
    let sorted = sort_ini_metadata(text);
    let mut t = enc.replace_all(&sorted, "ENC[type:$1]").into_owned();
    if text.trim_start().starts_with('{') {
        // JSON: sops up to 3.13.1 (and the 3.11.0 reference) encrypts every
        // number as `float`; 3.13.2 types integer literals `int`. Both decrypt
        // to the same text, so do not tell them apart.
        t = t
            .replace("ENC[type:int]", "ENC[type:number]")
            .replace("ENC[type:float]", "ENC[type:number]");
    }
    let t = armor.replace_all(&t, "AGE");
    let t = modified.replace_all(&t, "${1}TIME");
    version.replace_all(&t, "${1}X.Y.Z").into_owned()
}

/// Creates `p` (and its parents) with mode 0700, as gpg wants its home.
pub fn private_dir(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(p).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700)).unwrap();
}

/// Copies a gpg home (files and directories, not the agent's sockets) and
/// gives it mode 0700.
pub fn copy_gpg_home(from: &Path, to: &Path) {
    private_dir(to);
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let kind = entry.file_type().unwrap();
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_gpg_home(&entry.path(), &target);
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

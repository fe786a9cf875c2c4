//! `enseal git`: the git integration. `setup` writes `.gitattributes` and
//! the repo-local driver config, `textconv` is the diff driver (decrypts for
//! `git diff` / `git log -p`, never prompts) and `merge` the three-way merge
//! driver (merges decrypted trees, writes only encrypted data).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::io::ConfigContext;
use super::pipeline::{key_context, load_encrypted};
use crate::document::Opened;
use crate::error::{Error, Result};
use crate::format::{FormatKind, Store, StoreOptions};
use crate::keys::age::{no_terminal_prompter, AgeEnv, Identities};
use crate::keys::KeyContext;
use crate::merge::{self, Keeper};
use crate::tree::Value;

/// `enseal git …`.
#[derive(Debug, Args)]
pub(crate) struct GitCmd {
    #[command(subcommand)]
    command: GitCommand,
}

#[derive(Debug, Subcommand)]
enum GitCommand {
    /// Write .gitattributes lines for the files .sops.yaml covers and the
    /// repo-local git config of the diff and merge drivers (idempotent).
    #[command(after_help = SETUP_HELP)]
    Setup(SetupArgs),
    /// Diff driver: print FILE decrypted; never prompts, never uses the
    /// terminal; prints FILE unchanged (and a note) when it cannot decrypt.
    Textconv {
        /// The file git hands over.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Merge driver: enseal git merge %O %A %B %P. Merges the decrypted
    /// values key by key and writes the encrypted result to %A.
    #[command(after_help = MERGE_HELP)]
    Merge {
        /// %O: the common ancestor.
        #[arg(value_name = "BASE")]
        base: PathBuf,
        /// %A: ours; receives the result.
        #[arg(value_name = "OURS")]
        ours: PathBuf,
        /// %B: theirs.
        #[arg(value_name = "THEIRS")]
        theirs: PathBuf,
        /// %P: the path in the repository (chooses the format).
        #[arg(value_name = "PATH")]
        path: Option<String>,
        /// Key types in the order to try them (comma-separated).
        #[arg(long, env = "SOPS_DECRYPTION_ORDER", value_name = "TYPES")]
        decryption_order: Option<String>,
    },
}

#[derive(Debug, Args)]
struct SetupArgs {
    /// Print what would change, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// How git runs enseal (default `enseal`, found on PATH).
    #[arg(long, value_name = "PROGRAM", default_value = "enseal")]
    program: String,
}

const SETUP_HELP: &str = "\
Writes a managed block into the .gitattributes next to .sops.yaml, one line
per glob derived from each creation rule's path_regex (tracked encrypted files
are listed by name when a regex has no glob equivalent), and sets in the
repository's own config (git config --local):
  diff.enseal.textconv     enseal git textconv
  diff.enseal.cachetextconv false
  merge.enseal.name        enseal: merge sops-encrypted files
  merge.enseal.driver      enseal git merge %O %A %B %P
Running it again changes nothing; run it after editing .sops.yaml.";

const MERGE_HELP: &str = "\
Exit 0: merged cleanly. Exit 1: conflicts; the file is written encrypted and
each conflicting value holds both sides:
  <<<<<<< ours / … / ======= / … / >>>>>>> theirs
Resolve with `enseal edit FILE` (replace each such value), then `git add FILE`.";

/// Runs `enseal git …`; returns the exit code.
pub(crate) fn run(cmd: GitCmd, config: Option<&str>) -> Result<i32> {
    match cmd.command {
        GitCommand::Setup(args) => setup(&args, config).map(|()| 0),
        GitCommand::Textconv { file } => Ok(textconv(&file, config)),
        GitCommand::Merge {
            base,
            ours,
            theirs,
            path,
            decryption_order,
        } => merge_driver(
            &base,
            &ours,
            &theirs,
            path.as_deref(),
            decryption_order.as_deref(),
            config,
        ),
    }
}

fn stores(config: Option<&str>) -> StoreOptions {
    ConfigContext::load(config)
        .map(|c| c.stores())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// textconv
// ---------------------------------------------------------------------------

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

fn textconv(file: &Path, config: Option<&str>) -> i32 {
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

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    let mut out: String = line.chars().take(200).collect();
    if out.len() < line.len() {
        out.push('…');
    }
    out
}

// ---------------------------------------------------------------------------
// merge
// ---------------------------------------------------------------------------

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::ReadInput {
        path: path.display().to_string(),
        source,
    })
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::fsutil::write_atomic(path, bytes).map_err(|source| Error::WriteOutput {
        path: path.display().to_string(),
        source,
    })
}

/// Renders a conflicting non-string value in the file's format.
fn render_with(store: &dyn Store, value: &Value) -> String {
    let bytes = match value {
        Value::Map(m) => store.emit_plain(std::slice::from_ref(m)),
        other => store.emit_value(other),
    };
    match bytes {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(_) => format!("({})", value.type_name()),
    }
}

fn merge_driver(
    base_path: &Path,
    ours_path: &Path,
    theirs_path: &Path,
    repo_path: Option<&str>,
    order: Option<&str>,
    config: Option<&str>,
) -> Result<i32> {
    let name = repo_path
        .map(str::to_string)
        .unwrap_or_else(|| ours_path.display().to_string());
    let lock = crate::lock::lock_for_update(ours_path)?;
    let base_bytes = read(base_path)?;
    let ours_bytes = match &lock {
        Some(lock) => lock
            .read()
            .map(|b| b.to_vec())
            .map_err(|source| Error::ReadInput {
                path: ours_path.display().to_string(),
                source,
            })?,
        None => read(ours_path)?,
    };
    let theirs_bytes = read(theirs_path)?;
    // One side unchanged: the other side, byte for byte (no key needed).
    if ours_bytes == theirs_bytes || base_bytes == theirs_bytes {
        return Ok(0);
    }
    if base_bytes == ours_bytes {
        write(ours_path, &theirs_bytes)?;
        return Ok(0);
    }
    let store = FormatKind::from_path(&name).store(&stores(config));
    let plain = |bytes: &[u8]| {
        store
            .parse_encrypted(bytes)
            .is_ok_and(|f| f.metadata.is_none())
    };
    if plain(&ours_bytes) && plain(&theirs_bytes) {
        // Neither side is encrypted: git's own line merge.
        return merge_plain_text(base_path, ours_path, theirs_path, &name);
    }
    let mut keys = key_context(order)?;
    let open = |bytes: &[u8], side: &str, keys: &mut KeyContext| -> Result<Opened> {
        let label = format!("{name} ({side})");
        let doc = load_encrypted(store.as_ref(), bytes, &label)?;
        doc.open(keys, false).map_err(|e| match e {
            Error::RetrieveKey(_) => e,
            other => other.in_file(&label),
        })
    };
    let ours = open(&ours_bytes, "ours", &mut keys)?;
    let theirs = open(&theirs_bytes, "theirs", &mut keys)?;
    let base = if base_bytes.is_empty() {
        None
    } else {
        match open(&base_bytes, "base", &mut keys) {
            Ok(b) => Some(b),
            Err(e) => {
                eprintln!(
                    "warning: {name}: cannot decrypt the common ancestor ({}); merging without it",
                    first_line(&e.to_string())
                );
                None
            }
        }
    };
    for warning in ours.warnings.iter().chain(&theirs.warnings) {
        eprintln!("warning: {name}: {warning}");
    }
    let render = |v: &Value| render_with(store.as_ref(), v);
    let merged = merge::merge_documents(
        base.as_ref().map(|b| b.documents.as_slice()),
        &ours.documents,
        &theirs.documents,
        &render,
    );
    let plan = merge::plan_metadata(
        base.as_ref().map(|b| &b.metadata),
        &ours.metadata,
        &theirs.metadata,
    );
    let out = if plan.fresh_data_key {
        // Theirs changed the master keys or the data key: its data key was
        // made on another branch and is not adopted, and ours' may be held
        // by a recipient theirs removed. A new one, every value re-encrypted.
        let (groups, threshold) = match plan.keeper {
            Keeper::Ours => (&ours.metadata.key_groups, ours.metadata.shamir_threshold),
            Keeper::Theirs => (
                &theirs.metadata.key_groups,
                theirs.metadata.shamir_threshold,
            ),
        };
        let mut like = ours.metadata.clone();
        like.rule = plan.rule.clone();
        like.mac_only_encrypted = plan.mac_only_encrypted;
        let out = crate::document::encrypt_like(merged.documents, groups.clone(), threshold, &like)
            .map_err(|e| e.in_file(&name))?;
        eprintln!(
            "note: {name}: theirs changed the master keys or the data key: the merged file has a new data key (every value encrypted again)"
        );
        out
    } else {
        let mut ours = ours;
        ours.metadata.rule = plan.rule.clone();
        ours.metadata.mac_only_encrypted = plan.mac_only_encrypted;
        ours.reencrypt_always(merged.documents)?
    };
    let bytes = store
        .emit_encrypted(&out.documents, &out.metadata.to_map())
        .map_err(|e| Error::Dump(e.to_string()))?;
    write(ours_path, &bytes)?;
    for conflict in &plan.conflicts {
        eprintln!("CONFLICT (metadata): {name}: {conflict}");
    }
    for path in &merged.conflicts {
        eprintln!("CONFLICT (value): {name}: {path} changed on both sides");
    }
    if merged.conflicts.is_empty() && plan.conflicts.is_empty() {
        return Ok(0);
    }
    if !merged.conflicts.is_empty() {
        eprintln!(
            "hint: resolve with `enseal edit {name}` (each conflicting value shows both sides between <<<<<<< ours and >>>>>>> theirs), then `git add {name}`"
        );
    }
    Ok(1)
}

/// `git merge-file` for files that are not encrypted on either side.
fn merge_plain_text(base: &Path, ours: &Path, theirs: &Path, name: &str) -> Result<i32> {
    eprintln!("note: {name}: not encrypted on either side; merged as text");
    let status = Command::new("git")
        .args(["merge-file", "-L", "ours", "-L", "base", "-L", "theirs"])
        .arg(ours)
        .arg(base)
        .arg(theirs)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| Error::Usage(format!("cannot run git merge-file: {e}")))?;
    Ok(if status.success() { 0 } else { 1 })
}

// ---------------------------------------------------------------------------
// setup
// ---------------------------------------------------------------------------

const BLOCK_BEGIN: &str =
    "# >>> enseal git setup: generated from .sops.yaml; run `enseal git setup` after changing it";
const BLOCK_END: &str = "# <<< enseal git setup";

fn git(args: &[&str], cwd: &Path) -> Result<std::process::Output> {
    Command::new("git")
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Usage(format!("cannot run git: {e}")))
}

fn setup(args: &SetupArgs, config: Option<&str>) -> Result<()> {
    let ctx = ConfigContext::load(config)?;
    let Some(cfg) = ctx.config.as_ref() else {
        return Err(Error::Usage(
            "enseal git setup: no .sops.yaml found in the working directory or above (or give --config)"
                .into(),
        ));
    };
    let config_dir = cfg.config_dir(&ctx.cwd);
    let top = git(&["rev-parse", "--show-toplevel"], &config_dir)?;
    if !top.status.success() {
        return Err(Error::Usage(format!(
            "enseal git setup: {} is not inside a git work tree",
            config_dir.display()
        )));
    }
    let regexes = creation_rule_regexes(&cfg.path)?;
    let mut lines: Vec<String> = Vec::new();
    let mut tracked: Option<Vec<String>> = None;
    for regex in &regexes {
        if let Some(globs) = regex_to_globs(regex) {
            lines.extend(
                globs
                    .into_iter()
                    .map(|g| format!("{g} diff=enseal merge=enseal")),
            );
            continue;
        }
        let files = match &tracked {
            Some(f) => f,
            None => tracked.insert(tracked_files(&config_dir)?),
        };
        let shown = if regex.is_empty() { "(empty)" } else { regex };
        lines.push(format!(
            "# path_regex {shown} has no glob equivalent: tracked encrypted files matching it"
        ));
        let re = regex::Regex::new(regex).ok();
        for file in files {
            if re.as_ref().is_none_or(|re| re.is_match(file))
                && is_encrypted(&config_dir.join(file))
            {
                match glob_escape(file) {
                    Some(p) => lines.push(format!("/{p} diff=enseal merge=enseal")),
                    None => eprintln!(
                        "warning: {file}: names with whitespace cannot be listed in .gitattributes; skipped"
                    ),
                }
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    lines.retain(|l| l.starts_with('#') || seen.insert(l.clone()));

    let attributes = config_dir.join(".gitattributes");
    let current = match std::fs::read_to_string(&attributes) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(Error::ReadInput {
                path: attributes.display().to_string(),
                source,
            })
        }
    };
    let updated = with_block(&current, &lines);
    let mut changed = false;
    if updated != current {
        changed = true;
        if args.dry_run {
            println!("would write {}:", attributes.display());
            for line in std::iter::once(BLOCK_BEGIN)
                .chain(lines.iter().map(String::as_str))
                .chain(std::iter::once(BLOCK_END))
            {
                println!("  {line}");
            }
        } else {
            write(&attributes, updated.as_bytes())?;
            println!("wrote {}", attributes.display());
        }
    }
    let program = shell_word(&args.program);
    let settings = [
        ("diff.enseal.textconv", format!("{program} git textconv")),
        ("diff.enseal.cachetextconv", "false".to_string()),
        (
            "merge.enseal.name",
            "enseal: merge sops-encrypted files".to_string(),
        ),
        (
            "merge.enseal.driver",
            format!("{program} git merge %O %A %B %P"),
        ),
    ];
    for (key, value) in &settings {
        let got = git(&["config", "--local", "--get", key], &config_dir)?;
        let current = String::from_utf8_lossy(&got.stdout);
        if got.status.success() && current.trim_end_matches('\n') == value {
            continue;
        }
        changed = true;
        if args.dry_run {
            println!("would run: git config --local {key} {}", shell_word(value));
            continue;
        }
        let set = git(&["config", "--local", key, value], &config_dir)?;
        if !set.status.success() {
            return Err(Error::Usage(format!(
                "git config --local {key} failed: {}",
                first_line(&String::from_utf8_lossy(&set.stderr))
            )));
        }
        println!("set git config {key}");
    }
    if !changed {
        println!("enseal git setup: nothing to change");
    }
    Ok(())
}

fn shell_word(word: &str) -> String {
    shlex::try_quote(word)
        .map(|w| w.into_owned())
        .unwrap_or_else(|_| word.to_string())
}

/// `.gitattributes` text with the managed block replaced (or appended).
fn with_block(current: &str, lines: &[String]) -> String {
    let mut block = String::new();
    block.push_str(BLOCK_BEGIN);
    block.push('\n');
    for line in lines {
        block.push_str(line);
        block.push('\n');
    }
    block.push_str(BLOCK_END);
    block.push('\n');
    let begin = current.lines().position(|l| l == BLOCK_BEGIN);
    let end = current.lines().position(|l| l == BLOCK_END);
    let all: Vec<&str> = current.lines().collect();
    match (begin, end) {
        (Some(b), Some(e)) if e > b => {
            let mut out = String::new();
            for l in &all[..b] {
                out.push_str(l);
                out.push('\n');
            }
            out.push_str(&block);
            for l in &all[e + 1..] {
                out.push_str(l);
                out.push('\n');
            }
            out
        }
        _ => {
            let mut out = current.to_string();
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&block);
            out
        }
    }
}

/// The `path_regex` of every creation rule, in order (`""` when absent).
fn creation_rule_regexes(config: &Path) -> Result<Vec<String>> {
    let bytes = read(config)?;
    let store = FormatKind::Yaml.store(&StoreOptions::default());
    let docs = store
        .parse_plain(&bytes)
        .map_err(|e| Error::Usage(format!("{}: {e}", config.display())))?;
    let mut out = Vec::new();
    if let Some(Value::List(rules)) = docs.first().and_then(|d| d.get("creation_rules")) {
        for rule in rules {
            if let Value::Map(m) = rule {
                out.push(
                    m.get("path_regex")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                );
            }
        }
    }
    Ok(out)
}

/// Tracked files below `dir`, relative to it.
fn tracked_files(dir: &Path) -> Result<Vec<String>> {
    let out = git(&["ls-files", "-z"], dir)?;
    if !out.status.success() {
        return Err(Error::Usage("git ls-files failed".into()));
    }
    Ok(out
        .stdout
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect())
}

/// True when the file parses with its store and carries sops metadata.
fn is_encrypted(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    let store = FormatKind::from_path(&path.display().to_string()).store(&StoreOptions::default());
    store
        .parse_encrypted(&bytes)
        .is_ok_and(|f| f.metadata.is_some())
}

/// Escapes a literal path for a gitattributes pattern; `None` when it has
/// whitespace (which would end the pattern).
fn glob_escape(text: &str) -> Option<String> {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_whitespace() {
            return None;
        }
        if matches!(c, '*' | '?' | '[' | ']' | '\\' | '!' | '#') {
            out.push('\\');
        }
        out.push(c);
    }
    Some(out)
}

/// A piece of a path regex that has a glob form.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// One literal character.
    Lit(char),
    /// `.`: any one character.
    Any,
    /// `.*`: any string, `/` included.
    AnyStar,
    /// `[^/]*`: any string within one path component.
    SegStar,
    /// `[…]`: a character class, in glob syntax.
    Class(String),
}

/// The most alternatives one regex may expand to.
const MAX_GLOBS: usize = 16;

/// Derives gitattributes globs matching what an (unanchored, RE2)
/// `path_regex` matches on paths relative to the config's directory.
/// Handles literals and escapes, `^`, `$`, `.`, `.*`, `.+`, `[…]`, `[^/]*`,
/// `x?` and groups with `|` (also `(…)?`). `None` for anything else
/// (repetition of literals, `\d`, `{n}`, …) and for a regex that matches
/// every path (empty, `.*`): the caller then lists tracked files instead.
pub(crate) fn regex_to_globs(regex: &str) -> Option<Vec<String>> {
    let chars: Vec<char> = regex.chars().collect();
    let mut pos = 0;
    let alternatives = parse_alternatives(&chars, &mut pos, 0)?;
    if pos != chars.len() {
        return None;
    }
    let mut globs = Vec::new();
    for seq in alternatives {
        let (mut toks, start, end) = anchors(seq)?;
        if !start {
            toks.insert(0, Tok::AnyStar);
        }
        if !end {
            toks.push(Tok::AnyStar);
        }
        toks.dedup_by(|a, b| *a == Tok::AnyStar && *b == Tok::AnyStar);
        if toks.iter().all(|t| *t == Tok::AnyStar) {
            return None;
        }
        for glob in to_globs(&toks)? {
            if !globs.contains(&glob) {
                globs.push(glob);
            }
        }
        if globs.len() > MAX_GLOBS {
            return None;
        }
    }
    Some(globs)
}

/// One alternative: tokens plus `^` / `$` markers (as `None` entries at
/// their positions, checked by [`anchors`]).
type Seq = Vec<Option<Tok>>;

const START: Option<Tok> = None;

/// Parses `a|b|…` up to a `)` (at depth > 0) or the end.
fn parse_alternatives(chars: &[char], pos: &mut usize, depth: usize) -> Option<Vec<Seq>> {
    if depth > 4 {
        return None;
    }
    let mut alternatives: Vec<Seq> = Vec::new();
    let mut current: Vec<Seq> = vec![Vec::new()];
    while *pos < chars.len() {
        let c = chars[*pos];
        // Each step yields the alternatives of one atom.
        let atom: Vec<Seq> = match c {
            '|' => {
                *pos += 1;
                alternatives.append(&mut current);
                current = vec![Vec::new()];
                continue;
            }
            ')' if depth > 0 => break,
            '(' => {
                *pos += 1;
                if chars.get(*pos) == Some(&'?') {
                    if chars.get(*pos + 1) != Some(&':') {
                        return None;
                    }
                    *pos += 2;
                }
                let inner = parse_alternatives(chars, pos, depth + 1)?;
                if chars.get(*pos) != Some(&')') {
                    return None;
                }
                *pos += 1;
                inner
            }
            '^' | '$' => {
                *pos += 1;
                // `^` is a start marker, `$` an end marker: both `None`,
                // told apart by position in [`anchors`].
                vec![vec![START]]
            }
            '.' => {
                *pos += 1;
                match chars.get(*pos) {
                    Some('*') => {
                        *pos += 1;
                        vec![vec![Some(Tok::AnyStar)]]
                    }
                    Some('+') => {
                        *pos += 1;
                        vec![vec![Some(Tok::Any), Some(Tok::AnyStar)]]
                    }
                    _ => vec![vec![Some(Tok::Any)]],
                }
            }
            '[' => {
                let end = chars[*pos..].iter().position(|&c| c == ']')? + *pos;
                let body: String = chars[*pos + 1..end].iter().collect();
                *pos = end + 1;
                if body == "^/" && chars.get(*pos) == Some(&'*') {
                    *pos += 1;
                    vec![vec![Some(Tok::SegStar)]]
                } else if body.is_empty() || body.contains('\\') || body.contains('[') {
                    return None;
                } else {
                    let body = match body.strip_prefix('^') {
                        Some(rest) => format!("!{rest}"),
                        None => body,
                    };
                    vec![vec![Some(Tok::Class(format!("[{body}]")))]]
                }
            }
            '\\' => {
                let next = *chars.get(*pos + 1)?;
                *pos += 2;
                if next.is_ascii_alphanumeric() {
                    return None; // \d, \w, \b, …
                }
                vec![vec![Some(Tok::Lit(next))]]
            }
            '*' | '+' | '{' | '}' | '?' | ']' | ')' => return None,
            c => {
                *pos += 1;
                vec![vec![Some(Tok::Lit(c))]]
            }
        };
        let atom = if chars.get(*pos) == Some(&'?') {
            *pos += 1;
            let mut with_empty = atom;
            with_empty.push(Vec::new());
            with_empty
        } else {
            atom
        };
        if matches!(chars.get(*pos), Some('*' | '+' | '{' | '?')) {
            return None;
        }
        let mut next = Vec::new();
        for prefix in &current {
            for alt in &atom {
                let mut seq = prefix.clone();
                seq.extend(alt.iter().cloned());
                next.push(seq);
            }
        }
        if next.len() > MAX_GLOBS {
            return None;
        }
        current = next;
    }
    alternatives.append(&mut current);
    Some(alternatives)
}

/// Splits off `^` at the start and `$` at the end; `None` when an anchor
/// stands anywhere else.
fn anchors(seq: Seq) -> Option<(Vec<Tok>, bool, bool)> {
    let mut seq = seq;
    let start = seq.first() == Some(&START);
    if start {
        seq.remove(0);
    }
    let end = seq.last() == Some(&START);
    if end {
        seq.pop();
    }
    let toks: Option<Vec<Tok>> = seq.into_iter().collect();
    toks.map(|t| (t, start, end))
}

/// Globs for a token sequence (several when a `.*` may or may not cross a
/// directory boundary).
fn to_globs(toks: &[Tok]) -> Option<Vec<String>> {
    let mut outs: Vec<String> = vec![String::new()];
    for (i, tok) in toks.iter().enumerate() {
        let after_slash = i == 0 || toks[i - 1] == Tok::Lit('/');
        let last = i + 1 == toks.len();
        let pieces: Vec<String> = match tok {
            Tok::Lit(c) if c.is_whitespace() => return None,
            Tok::Lit(c) => vec![glob_escape(&c.to_string())?],
            Tok::Any => vec!["?".into()],
            Tok::SegStar => vec!["*".into()],
            Tok::Class(c) => vec![c.clone()],
            Tok::AnyStar if after_slash && last => vec!["**".into()],
            Tok::AnyStar if after_slash && toks[i + 1] != Tok::Lit('/') => vec!["**/*".into()],
            Tok::AnyStar if last => vec!["*".into(), "*/**".into()],
            Tok::AnyStar => vec!["*".into(), "*/**/*".into()],
        };
        outs = outs
            .iter()
            .flat_map(|o| pieces.iter().map(move |p| format!("{o}{p}")))
            .collect();
    }
    Some(outs.into_iter().map(|g| simplify(&g)).collect())
}

/// `**/*.yaml` → `*.yaml` (a pattern without `/` matches at any depth);
/// a pattern without `/` that must stay at the top gets a leading `/`.
fn simplify(glob: &str) -> String {
    if let Some(rest) = glob.strip_prefix("**/") {
        if !rest.contains('/') {
            return rest.to_string();
        }
        return glob.to_string();
    }
    if !glob.trim_end_matches('/').contains('/') {
        return format!("/{glob}");
    }
    glob.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn globs(re: &str) -> Option<Vec<String>> {
        regex_to_globs(re)
    }

    #[test]
    fn common_path_regexes_become_globs() {
        assert_eq!(globs(r"\.enc\.yaml$").unwrap(), ["*.enc.yaml"]);
        assert_eq!(globs(r".*\.sops\.json$").unwrap(), ["*.sops.json"]);
        assert_eq!(globs(r"^secrets/.*\.yaml$").unwrap(), ["secrets/**/*.yaml"]);
        assert_eq!(
            globs(r"secrets/.*\.yaml$").unwrap(),
            ["**/*secrets/**/*.yaml"]
        );
        assert_eq!(globs(r"^config/prod/.*").unwrap(), ["config/prod/**"]);
        assert_eq!(
            globs(r"^(dev|prod)/secrets\.ya?ml$").unwrap(),
            [
                "dev/secrets.yaml",
                "dev/secrets.yml",
                "prod/secrets.yaml",
                "prod/secrets.yml"
            ]
        );
        assert_eq!(globs(r"^secrets\.env$").unwrap(), ["/secrets.env"]);
        assert_eq!(globs(r"^env/[^/]*\.env$").unwrap(), ["env/*.env"]);
        assert_eq!(
            globs(r"^secrets.*\.json$").unwrap(),
            ["/secrets*.json", "secrets*/**/*.json"]
        );
    }

    #[test]
    fn underivable_regexes_fall_back() {
        for re in [
            "",
            ".*",
            "^.*$",
            r"\d+\.yaml$",
            "a{2}",
            "(?i)x",
            r"\w",
            "a+b",
        ] {
            assert_eq!(globs(re), None, "{re}");
        }
    }

    #[test]
    fn managed_block_is_replaced_not_duplicated() {
        let lines = vec!["*.enc.yaml diff=enseal merge=enseal".to_string()];
        let once = with_block("*.png binary\n", &lines);
        assert!(once.starts_with("*.png binary\n# >>> enseal"));
        assert_eq!(with_block(&once, &lines), once);
        let other = with_block(&once, &["x diff=enseal merge=enseal".to_string()]);
        assert_eq!(other.matches(BLOCK_BEGIN).count(), 1);
        assert!(!other.contains("*.enc.yaml"));
        assert!(other.starts_with("*.png binary\n"));
    }
}

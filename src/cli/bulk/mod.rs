//! Repository-wide commands: finding the files `.sops.yaml` covers,
//! running one job per file on a small thread pool (with a progress bar when
//! stderr is a terminal), and the summary line at the end.
//!
//! Used by `decrypt`, `rotate` and `updatekeys` with several files or
//! `-r`/`--all`, and by `check`.

use std::io::{IsTerminal, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::args::IoArgs;
use super::io::{kinds, store_options, ConfigContext};
use super::pipeline::{key_context, load_encrypted, located};
use crate::config::Config;
use crate::document::EncryptedDocument;
use crate::error::{Error, Result};
use crate::format::{FormatKind, Layouts, Store, StoreOptions};
use crate::keys::{changes, KeyContext};

mod walk;
pub(crate) use walk::walk;

/// How many files a bulk command may process at once.
const MAX_THREADS: usize = 8;

// ---------------------------------------------------------------------------
// Finding files
// ---------------------------------------------------------------------------

/// How a file relates to the creation rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coverage {
    /// No rule matches (or there are no creation rules).
    None,
    /// Only a rule without `path_regex` (a catch-all default) matches.
    CatchAll(usize),
    /// A rule with a `path_regex` matches: the file is meant to be encrypted.
    Rule(usize),
}

/// The creation rule covering `path`. An invalid rule that matching reaches
/// is a config error.
pub(crate) fn coverage(context: &ConfigContext, path: &Path) -> Result<Coverage> {
    let Some(config) = &context.config else {
        return Ok(Coverage::None);
    };
    if is_config_file(config, context, path) {
        return Ok(Coverage::None);
    }
    match config.rule_for_file(path, &context.cwd) {
        Ok(Some(rule)) if rule.path_regex.is_empty() => Ok(Coverage::CatchAll(rule.index)),
        Ok(Some(rule)) => Ok(Coverage::Rule(rule.index)),
        Ok(None) | Err(crate::config::ConfigError::NoMatchingRule { .. }) => Ok(Coverage::None),
        Err(e) => Err(Error::Usage(format!("error loading config: {e}"))),
    }
}

fn is_config_file(config: &Config, context: &ConfigContext, path: &Path) -> bool {
    let abs = |p: &Path| crate::config::clean_path(&crate::config::absolute_path(p, &context.cwd));
    abs(path) == abs(&config.path)
        || path
            .file_name()
            .is_some_and(|n| n == ".sops.yaml" || n == ".sops.yml")
}

/// The raw sops metadata of `bytes` read with the store of `kind`, `None`
/// when the file is not an encrypted file (no metadata, or not parseable).
pub(crate) fn raw_metadata(
    bytes: &[u8],
    kind: FormatKind,
    stores: &StoreOptions,
) -> Option<crate::tree::Map> {
    // Every store keeps its metadata under a key starting with `sops`.
    if !bytes.windows(4).any(|w| w == b"sops") {
        return None;
    }
    kind.store(stores)
        .parse_encrypted(bytes)
        .ok()
        .and_then(|f| f.metadata)
}

/// The files of a `-r`/`--all` run: those under `roots` (default: the
/// directory of `.sops.yaml`, else the working directory) that a creation
/// rule covers (when there is a config) and that hold sops metadata.
pub(crate) fn encrypted_files(
    roots: &[String],
    context: &ConfigContext,
    input_type: Option<&str>,
) -> Result<Vec<PathBuf>> {
    let roots = default_roots(roots, context);
    let stores = context.stores();
    let mut out = Vec::new();
    for path in walk(&roots)? {
        if context.config.is_some() && coverage(context, &path)? == Coverage::None {
            continue;
        }
        let text = path.to_string_lossy();
        let kind = input_type
            .and_then(FormatKind::from_name)
            .unwrap_or_else(|| FormatKind::from_path(&text));
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        if raw_metadata(&bytes, kind, &stores).is_some() {
            out.push(path);
        }
    }
    Ok(out)
}

/// The roots of a tree walk: those given, else the config's directory
/// (relative to the working directory when below it), else `.`.
pub(crate) fn default_roots(roots: &[String], context: &ConfigContext) -> Vec<PathBuf> {
    if !roots.is_empty() {
        return roots.iter().map(PathBuf::from).collect();
    }
    let Some(config) = &context.config else {
        return vec![PathBuf::from(".")];
    };
    let dir = config.config_dir(&context.cwd);
    match dir.strip_prefix(&context.cwd) {
        Ok(rel) if rel.as_os_str().is_empty() => vec![PathBuf::from(".")],
        Ok(rel) => vec![rel.to_path_buf()],
        Err(_) => vec![dir],
    }
}

// ---------------------------------------------------------------------------
// Running jobs
// ---------------------------------------------------------------------------

/// Runs `job` on every file with up to [`MAX_THREADS`] threads (no more
/// than the machine's parallelism), each with its own state from `init`
/// (e.g. a [`KeyContext`], so identities load once per thread). Results
/// come back in the order of `files`. With `progress`, an indicatif bar is
/// drawn when stderr is a terminal; `note` prints a line above it.
pub(crate) fn run_parallel<S, T, I, F>(
    files: &[PathBuf],
    label: &str,
    progress: bool,
    init: I,
    job: F,
) -> Vec<T>
where
    T: Send,
    I: Fn() -> S + Sync,
    F: Fn(&mut S, &Path, &Note) -> T + Sync,
{
    let bar = if progress && std::io::stderr().is_terminal() && files.len() > 1 {
        let bar = indicatif::ProgressBar::new(files.len() as u64);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {wide_msg}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(label.to_string());
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let note = Note { bar: bar.clone() };
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, MAX_THREADS)
        .min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<T>>> = files.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut state = init();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(file) = files.get(i) else { break };
                    note.bar.set_message(file.display().to_string());
                    let result = job(&mut state, file, &note);
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = Some(result);
                    }
                    note.bar.inc(1);
                }
            });
        }
    });
    bar.finish_and_clear();
    results
        .into_iter()
        .filter_map(|m| m.into_inner().ok().flatten())
        .collect()
}

/// [`run_parallel`] with a progress bar, for jobs that open files: each
/// thread gets its own [`KeyContext`] for the `--decryption-order` `order`
/// (which the command checked before: a bad one gives the default here).
fn run_with_keys<T, F>(files: &[PathBuf], label: &str, order: Option<&str>, job: F) -> Vec<T>
where
    T: Send,
    F: Fn(&mut KeyContext, &Path, &Note) -> T + Sync,
{
    run_parallel(
        files,
        label,
        true,
        || key_context(order).unwrap_or_default(),
        job,
    )
}

/// Parses `bytes` (the file `name`) as an encrypted file of `in_kind`; with
/// it, the store that writes it as `out_kind`, keeping the layout it read
/// (TOML).
fn open_encrypted(
    in_kind: FormatKind,
    out_kind: FormatKind,
    options: &StoreOptions,
    bytes: &[u8],
    name: &str,
) -> Result<(EncryptedDocument, Box<dyn Store>)> {
    let layouts = Layouts::default();
    let encrypted = load_encrypted(
        in_kind.store_sharing(options, &layouts).as_ref(),
        bytes,
        name,
    )?;
    Ok((encrypted, out_kind.store_sharing(options, &layouts)))
}

/// Prints lines to stderr without breaking the progress bar.
pub(crate) struct Note {
    bar: indicatif::ProgressBar,
}

impl Note {
    /// Prints one line on stderr (above the bar, if any).
    pub fn line(&self, text: &str) {
        self.bar.suspend(|| eprintln!("{text}"));
    }
}

/// The outcome of one file in a bulk run.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The file was changed (or written, or decrypted).
    Done,
    /// Nothing to change.
    Unchanged,
    /// The file failed (its one-line error was printed when it happened).
    Failed(Failure),
}

/// A failed file of a bulk run, listed again at the end with its hint.
#[derive(Debug)]
pub(crate) struct Failure {
    /// The exit code the single-file command gives for it.
    pub code: i32,
    /// The file.
    pub path: PathBuf,
    /// What the user can do about it, if anything.
    pub hint: Option<String>,
}

/// Prints the summary on stderr and turns the outcomes into the command's
/// result: the exit code of the first failed file in path order (the code
/// the single-file command gives for it), 0 when none failed.
pub(crate) fn summarize(outcomes: &[Outcome], done_word: &str, show_unchanged: bool) -> Result<()> {
    eprint!("{}", summary(outcomes, done_word, show_unchanged));
    let failed: Vec<&Failure> = failures(outcomes).collect();
    match failed.first() {
        None => Ok(()),
        Some(first) => Err(Error::Coded(
            first.code,
            format!("{} of {} files failed", failed.len(), outcomes.len()),
        )),
    }
}

fn failures(outcomes: &[Outcome]) -> impl Iterator<Item = &Failure> {
    outcomes.iter().filter_map(|o| match o {
        Outcome::Failed(f) => Some(f),
        _ => None,
    })
}

/// `N files: X <done>, Y unchanged, Z failed`, then one `failed: PATH` line
/// per failed file (with its hint below it).
fn summary(outcomes: &[Outcome], done_word: &str, show_unchanged: bool) -> String {
    let count = |want: fn(&Outcome) -> bool| outcomes.iter().filter(|o| want(o)).count();
    let done = count(|o| matches!(o, Outcome::Done));
    let unchanged = count(|o| matches!(o, Outcome::Unchanged));
    let failed = count(|o| matches!(o, Outcome::Failed(_)));
    let files = if outcomes.len() == 1 { "file" } else { "files" };
    let mut text = format!("{} {files}: {done} {done_word}", outcomes.len());
    if show_unchanged {
        text.push_str(&format!(", {unchanged} unchanged"));
    }
    text.push_str(&format!(", {failed} failed\n"));
    for failure in failures(outcomes) {
        text.push_str(&format!("failed: {}\n", failure.path.display()));
        if let Some(hint) = &failure.hint {
            text.push_str(&format!("  {}\n", super::color::hint_line(hint)));
        }
    }
    text
}

/// Reports a file's error on stderr in one line, returning its outcome (the
/// hint is printed with the summary).
fn failed(note: &Note, path: &Path, err: Error) -> Outcome {
    let name = path.display().to_string();
    let text = err.to_string();
    let text = if text.contains(&name) {
        text
    } else {
        format!("{name}: {text}")
    };
    // One line per file, whatever the error's own layout.
    note.line(&text.lines().collect::<Vec<_>>().join(" "));
    Outcome::Failed(Failure {
        code: err.exit_code(),
        path: path.to_path_buf(),
        hint: err.hint().map(|h| h.to_string()),
    })
}

// ---------------------------------------------------------------------------
// decrypt
// ---------------------------------------------------------------------------

/// Options of a bulk `decrypt`.
pub(crate) struct DecryptOptions<'a> {
    /// The FILE arguments (roots with `recursive`).
    pub files: &'a [String],
    /// `-r` / `--all`: walk the tree.
    pub recursive: bool,
    /// `--output-dir`: one file per input instead of a YAML stream.
    pub output_dir: Option<&'a str>,
    /// `--input-type`, `--output-type`, `--indent`.
    pub io: &'a IoArgs,
    /// `--ignore-mac`.
    pub ignore_mac: bool,
    /// `--decryption-order`.
    pub decryption_order: Option<&'a str>,
    /// `--config`.
    pub config_path: Option<&'a str>,
}

/// Decrypts many files in one call: to stdout as one YAML stream (each
/// file's documents preceded by a `# file: PATH` comment line), or with
/// `--output-dir` each to `DIR/PATH` in its own format.
pub(crate) fn decrypt(options: &DecryptOptions) -> Result<()> {
    let io = options.io;
    if io.in_place || io.output.is_some() || io.filename_override.is_some() {
        return Err(Error::ConflictingParameters(
            "--in-place, --output and --filename-override take one file: use --output-dir with several files".into(),
        ));
    }
    key_context(options.decryption_order)?;
    let context = ConfigContext::load(options.config_path)?;
    let files = if options.recursive {
        encrypted_files(options.files, &context, io.types.input_type())?
    } else {
        options.files.iter().map(PathBuf::from).collect()
    };
    let stores = context.stores();
    let to_dir = options.output_dir.map(PathBuf::from);
    // Validate the indents once for the stream's output store.
    let stream_kind = io
        .types
        .output_type
        .as_deref()
        .and_then(FormatKind::from_name)
        .unwrap_or(FormatKind::Yaml);
    if to_dir.is_none() {
        if stream_kind != FormatKind::Yaml {
            return Err(Error::ConflictingParameters(format!(
                "several files are decrypted into one YAML stream: --output-type {} needs --output-dir",
                stream_kind.name()
            )));
        }
        store_options(io, stream_kind, stores, false)?;
    }
    let results = run_with_keys(
        &files,
        "decrypt",
        options.decryption_order,
        |keys, path, note| {
            let result = decrypt_one(
                path,
                options,
                stores,
                to_dir.as_deref(),
                stream_kind,
                keys,
                note,
            );
            match result {
                Ok(bytes) => (Outcome::Done, bytes),
                Err(e) => (failed(note, path, e), Vec::new()),
            }
        },
    );
    if to_dir.is_none() {
        let mut stdout = std::io::stdout().lock();
        for (_, bytes) in &results {
            match stdout.write_all(bytes) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => break,
                Err(source) => {
                    return Err(Error::WriteOutput {
                        path: "<stdout>".into(),
                        source,
                    })
                }
            }
        }
        let _ = stdout.flush();
    }
    let outcomes: Vec<Outcome> = results.into_iter().map(|(o, _)| o).collect();
    summarize(&outcomes, "decrypted", false)
}

/// Decrypts one file: returns its part of the stream, or writes it below
/// `to_dir` and returns nothing.
fn decrypt_one(
    path: &Path,
    options: &DecryptOptions,
    stores: StoreOptions,
    to_dir: Option<&Path>,
    stream_kind: FormatKind,
    keys: &mut KeyContext,
    note: &Note,
) -> Result<Vec<u8>> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::FileNotFound(std::path::absolute(path).unwrap_or_else(|_| path.into()))
        } else {
            Error::ReadInput {
                path: name.clone(),
                source: e,
            }
        }
    })?;
    let (in_kind, out_kind) = kinds(options.io, &name);
    let out_kind = if to_dir.is_some() {
        out_kind
    } else {
        stream_kind
    };
    let store_opts = store_options(options.io, out_kind, stores, false)?;
    let (encrypted, out_store) = open_encrypted(in_kind, out_kind, &store_opts, &bytes, &name)?;
    let decrypted = encrypted
        .decrypt(keys, options.ignore_mac)
        .map_err(located(&name))?;
    for warning in &decrypted.warnings {
        note.line(&format!("warning: {name}: {warning}"));
    }
    let plain = out_store
        .emit_plain(&decrypted.documents)
        .map_err(|e| Error::Dump(e.to_string()).in_file(&name))?;
    match to_dir {
        Some(dir) => {
            let target = dir.join(relative_part(path));
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|source| Error::WriteOutput {
                    path: parent.display().to_string(),
                    source,
                })?;
            }
            crate::fsutil::write_atomic(&target, &plain).map_err(|source| Error::WriteOutput {
                path: target.display().to_string(),
                source,
            })?;
            Ok(Vec::new())
        }
        None => {
            let mut out = format!("---\n# file: {name}\n").into_bytes();
            let plain = plain.strip_prefix(b"---\n").unwrap_or(&plain);
            out.extend_from_slice(plain);
            if !out.ends_with(b"\n") {
                out.push(b'\n');
            }
            Ok(out)
        }
    }
}

/// The part of `path` that goes below `--output-dir`: its normal
/// components only (no root, no `..`).
fn relative_part(path: &Path) -> PathBuf {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------
// rotate
// ---------------------------------------------------------------------------

/// Options of a bulk `rotate`.
pub(crate) struct RotateOptions<'a> {
    /// The FILE arguments (roots with `recursive`).
    pub files: &'a [String],
    /// `-r` / `--all`.
    pub recursive: bool,
    /// `--dry-run`: check that every file could be rotated, write nothing.
    pub dry_run: bool,
    /// `--input-type`, `--output-type`, `--indent`.
    pub io: &'a IoArgs,
    /// `--add-*` / `--rm-*`.
    pub change: &'a super::args::ChangeKeyArgs,
    /// `--encryption-context` / `--aws-profile` of `--add-kms` keys.
    pub kms: super::settings::KmsOptions<'a>,
    /// `--decryption-order`.
    pub decryption_order: Option<&'a str>,
    /// `--config`.
    pub config_path: Option<&'a str>,
}

/// Rotates the data key of many files in place (each as `rotate -i FILE`).
pub(crate) fn rotate(options: &RotateOptions) -> Result<()> {
    if options.io.output.is_some() || options.io.filename_override.is_some() {
        return Err(Error::ConflictingParameters(
            "--output and --filename-override take one file: several files are rotated in place"
                .into(),
        ));
    }
    key_context(options.decryption_order)?;
    let context = ConfigContext::load(options.config_path)?;
    let files = if options.recursive {
        encrypted_files(options.files, &context, options.io.types.input_type())?
    } else {
        options.files.iter().map(PathBuf::from).collect()
    };
    let io = IoArgs {
        in_place: true,
        ..options.io.clone()
    };
    let stores = context.stores();
    let outcomes = run_with_keys(
        &files,
        "rotate",
        options.decryption_order,
        |keys, path, note| {
            let name = path.display().to_string();
            let result = if options.dry_run {
                check_recoverable(path, &io, stores, keys)
            } else {
                super::rotate::run(
                    &super::args::resolve::Rotate {
                        file: Some(name),
                        io: io.clone(),
                        change: options.change.clone(),
                        encryption_context: options.kms.context.map(str::to_string),
                        aws_profile: options.kms.aws_profile.map(str::to_string),
                        decryption_order: options.decryption_order.map(str::to_string),
                        preserve_format: false,
                    },
                    options.config_path,
                )
            };
            match result {
                Ok(()) => Outcome::Done,
                Err(e) => failed(note, path, e),
            }
        },
    );
    if options.dry_run {
        for (path, outcome) in files.iter().zip(&outcomes) {
            if matches!(outcome, Outcome::Done) {
                println!("would rotate {}", path.display());
            }
        }
    }
    let word = if options.dry_run {
        "would be rotated"
    } else {
        "rotated"
    };
    summarize(&outcomes, word, false)
}

/// Parses a file and recovers its data key (what `rotate --dry-run` checks).
fn check_recoverable(
    path: &Path,
    io: &IoArgs,
    stores: StoreOptions,
    keys: &mut KeyContext,
) -> Result<()> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| Error::ReadInput {
        path: name.clone(),
        source,
    })?;
    let (in_kind, _) = kinds(io, &name);
    let encrypted = load_encrypted(in_kind.store(&stores).as_ref(), &bytes, &name)?;
    let meta = &encrypted.metadata;
    changes::recover(&meta.key_groups, meta.shamir_threshold, keys)
        .map(drop)
        .map_err(Error::RetrieveKey)
}

// ---------------------------------------------------------------------------
// updatekeys
// ---------------------------------------------------------------------------

/// Options of a bulk `updatekeys`.
pub(crate) struct UpdateOptions<'a> {
    /// The FILE arguments (roots with `recursive`).
    pub files: &'a [String],
    /// `-r` / `--all`.
    pub recursive: bool,
    /// `--dry-run`: show the changes, write nothing.
    pub dry_run: bool,
    /// `--yes`: apply without asking.
    pub yes: bool,
    /// `--input-type`.
    pub input_type: Option<&'a str>,
    /// `--decryption-order`.
    pub decryption_order: Option<&'a str>,
    /// `--config`.
    pub config_path: Option<&'a str>,
}

/// What `updatekeys` would do to one file.
struct Plan {
    /// The changes as `updatekeys` prints them; `None` when up to date.
    diff: Option<String>,
}

/// Brings the keys of many files in line with `.sops.yaml`. The changes are
/// computed for every file first (no key needed) and printed; then, with
/// `--yes` or after one confirmation on a terminal, applied in parallel.
pub(crate) fn updatekeys(options: &UpdateOptions) -> Result<()> {
    key_context(options.decryption_order)?;
    let context = ConfigContext::load(options.config_path)?;
    let Some(config) = &context.config else {
        return Err(Error::Usage("config file not found".into()));
    };
    if !config.has_creation_rules() {
        return Err(Error::Usage(format!(
            "The config file {} does not contain any creation rule",
            config.path.display()
        )));
    }
    let files = if options.recursive {
        encrypted_files(options.files, &context, options.input_type)?
    } else {
        options.files.iter().map(PathBuf::from).collect()
    };
    let plans = run_parallel(
        &files,
        "updatekeys",
        false,
        || (),
        |_, path, _| plan_update(path, config, &context, options.input_type, None),
    );
    let mut outcomes = Vec::with_capacity(files.len());
    let mut to_apply = Vec::new();
    {
        let mut stdout = std::io::stdout().lock();
        for (path, plan) in files.iter().zip(&plans) {
            match plan {
                Ok(Plan { diff: Some(diff) }) => {
                    let _ = write!(stdout, "{}:\n{diff}", path.display());
                    to_apply.push(path.clone());
                    outcomes.push(Outcome::Done);
                }
                Ok(Plan { diff: None }) => outcomes.push(Outcome::Unchanged),
                Err(_) => outcomes.push(Outcome::Failed(Failure {
                    code: 1,
                    path: path.clone(),
                    hint: None,
                })),
            }
        }
        let _ = stdout.flush();
    }
    let quiet = Note {
        bar: indicatif::ProgressBar::hidden(),
    };
    for ((path, plan), outcome) in files.iter().zip(plans).zip(outcomes.iter_mut()) {
        if let Err(e) = plan {
            *outcome = failed(&quiet, path, e);
        }
    }
    if options.dry_run || to_apply.is_empty() {
        let word = if options.dry_run {
            "would be updated"
        } else {
            "updated"
        };
        return summarize(&outcomes, word, true);
    }
    if !options.yes && !confirm(to_apply.len())? {
        eprintln!("no file changed");
        return Ok(());
    }
    let applied = run_with_keys(
        &to_apply,
        "updatekeys",
        options.decryption_order,
        |keys, path, note| match plan_update(path, config, &context, options.input_type, Some(keys))
        {
            Ok(_) => Outcome::Done,
            Err(e) => failed(note, path, e),
        },
    );
    let mut applied = applied.into_iter();
    for (path, outcome) in files.iter().zip(outcomes.iter_mut()) {
        if matches!(outcome, Outcome::Done) && to_apply.contains(path) {
            if let Some(result) = applied.next() {
                *outcome = result;
            }
        }
    }
    summarize(&outcomes, "updated", true)
}

/// Asks once, on the terminal, whether to apply the changes to `count`
/// files. Without a terminal, fails: `--yes` is the way to run unattended.
fn confirm(count: usize) -> Result<bool> {
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(Error::Usage(
            "cannot ask for confirmation: no terminal (use --yes to apply the changes, or --dry-run to only show them)"
                .into(),
        ));
    }
    super::prompt::confirm(&format!("Apply these changes to {count} file(s)?"))
}

/// Compares a file's keys with its creation rule; with `keys`, also
/// applies them and writes the file ([`super::pipeline::apply_key_groups`]: the data
/// key re-wrapped, or a new one when a key is removed).
fn plan_update(
    path: &Path,
    config: &Config,
    context: &ConfigContext,
    input_type: Option<&str>,
    keys: Option<&mut KeyContext>,
) -> Result<Plan> {
    let name = path.display().to_string();
    let new_groups = super::settings::rule_key_groups(config, context, path)?;
    let lock = keys
        .is_some()
        .then(|| crate::lock::lock_for_update(path))
        .transpose()?
        .flatten();
    let bytes =
        crate::lock::read_locked(lock.as_ref(), path).map_err(|source| Error::ReadInput {
            path: name.clone(),
            source,
        })?;
    let io = IoArgs {
        types: super::args::TypeArgs::both(input_type),
        ..Default::default()
    };
    let (in_kind, out_kind) = kinds(&io, &name);
    let store_opts = store_options(&io, out_kind, context.stores(), true)?;
    let (encrypted, out_store) = open_encrypted(in_kind, out_kind, &store_opts, &bytes, &name)?;
    let metadata = &encrypted.metadata;
    let diffs = changes::diff_groups(&metadata.key_groups, &new_groups);
    let threshold = changes::updated_threshold(metadata.shamir_threshold, new_groups.len());
    if !diffs.iter().any(changes::GroupDiff::changes) && threshold == metadata.shamir_threshold {
        return Ok(Plan { diff: None });
    }
    let diff = changes::render_changes(metadata.shamir_threshold, threshold, &diffs);
    let Some(keys) = keys else {
        return Ok(Plan { diff: Some(diff) });
    };
    // The layout is kept when the config asks for it (`stores:`).
    let preserve = super::pipeline::preserve_mode(false, context, in_kind, out_kind)?
        .then_some((in_kind, &bytes[..]));
    let out = super::pipeline::apply_key_groups(
        encrypted,
        new_groups,
        threshold,
        keys,
        out_store.as_ref(),
        &name,
        preserve,
    )
    .map_err(|e| match e {
        Error::RetrieveKey(_) => e.in_file(&name),
        other => other,
    })?;
    crate::fsutil::write_atomic(path, &out).map_err(|source| Error::WriteOutput {
        path: name.clone(),
        source,
    })?;
    Ok(Plan { diff: Some(diff) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_results_keep_the_file_order() {
        let files: Vec<PathBuf> = (0..50).map(|i| PathBuf::from(format!("f{i}"))).collect();
        let out = run_parallel(
            &files,
            "t",
            false,
            || 0usize,
            |n, p, _| {
                *n += 1;
                p.display().to_string()
            },
        );
        let expected: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(out, expected);
    }

    fn failure(code: i32, path: &str, hint: Option<&str>) -> Outcome {
        Outcome::Failed(Failure {
            code,
            path: PathBuf::from(path),
            hint: hint.map(str::to_string),
        })
    }

    #[test]
    fn summary_exit_code_is_the_first_failure() {
        let ok = summarize(&[Outcome::Done, Outcome::Unchanged], "updated", true);
        assert!(ok.is_ok());
        let err = summarize(
            &[
                Outcome::Done,
                failure(128, "a.yaml", None),
                failure(1, "b.yaml", None),
            ],
            "updated",
            true,
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), 128);
    }

    #[test]
    fn summary_lists_the_failed_files_at_the_end_with_their_hints() {
        let outcomes = [
            failure(128, "x/a.yaml", Some("add your key")),
            Outcome::Done,
            failure(1, "x/b.yaml", None),
        ];
        assert_eq!(
            summary(&outcomes, "rotated", false),
            "3 files: 1 rotated, 2 failed\nfailed: x/a.yaml\n  hint: add your key\nfailed: x/b.yaml\n"
        );
        assert_eq!(
            summary(&[Outcome::Unchanged], "updated", true),
            "1 file: 0 updated, 1 unchanged, 0 failed\n"
        );
    }

    #[test]
    fn output_dir_paths_stay_below_the_directory() {
        assert_eq!(
            relative_part(Path::new("../a/./b.yaml")),
            PathBuf::from("a/b.yaml")
        );
        assert_eq!(
            relative_part(Path::new("/etc/x.env")),
            PathBuf::from("etc/x.env")
        );
    }
}

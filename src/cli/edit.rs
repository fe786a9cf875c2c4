//! `enseal edit FILE` (and legacy `enseal FILE`): decrypt to a private
//! temporary file, run the editor, encrypt the result again with the same
//! data key (unchanged values keep their ciphertext). The temporary file is
//! removed on every way out: success, error, editor failure, panic (a drop
//! guard) and every catchable terminating signal (a signal thread; the list
//! is [`crate::hygiene::terminating_signals`]). While another writer holds
//! the file (see [`crate::lock`]) edit says so and waits.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::args::resolve::Edit;
use super::io::{store_options, ConfigContext};
use super::pipeline::{open_file, preserve_mode, write_encrypted, write_file, OpenFile};
use super::settings::new_file_settings;
use crate::document;
use crate::error::{exit, Error, Result};
use crate::format::{FormatKind, Layouts, Store};
use crate::tree::Map;

/// Exit code: the file was saved unchanged.
const FILE_HAS_NOT_BEEN_MODIFIED: i32 = 200;
/// Exit code: no editor, or the editor failed.
const NO_EDITOR_FOUND: i32 = 201;

/// The temporary directory of the running edit, for the signal handler.
static CLEANUP: Mutex<Option<PathBuf>> = Mutex::new(None);
/// The editor's process id while it runs (0: none).
static EDITOR_PID: AtomicI32 = AtomicI32::new(0);
/// The signal that cancels the edit (0: none yet).
static CANCELLED_BY: AtomicI32 = AtomicI32::new(0);

/// Removes the temporary directory (and the temporary file of a write of
/// the result under way) and exits with 128 + `signal`.
fn cancel(signal: i32) -> ! {
    // The signal thread and the main thread (after the editor) may both
    // get here: one cleans up and exits, the other waits for that.
    static CANCELLING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if CANCELLING.swap(true, Ordering::SeqCst) {
        loop {
            std::thread::park();
        }
    }
    if let Ok(slot) = CLEANUP.lock() {
        if let Some(dir) = slot.as_ref() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    crate::fsutil::remove_unfinished_writes();
    eprintln!("User canceled operation");
    std::process::exit(128 + signal);
}

/// A private temporary directory, removed when dropped.
struct TempDir {
    dir: PathBuf,
}

impl TempDir {
    fn create() -> std::io::Result<TempDir> {
        let mut last = None;
        for base in temp_bases() {
            match tempfile::Builder::new()
                .prefix("enseal-edit-")
                .tempdir_in(&base)
            {
                Ok(t) => {
                    let dir = t.keep();
                    set_mode(&dir, 0o700)?;
                    if let Ok(mut slot) = CLEANUP.lock() {
                        *slot = Some(dir.clone());
                    }
                    return Ok(TempDir { dir });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no temporary directory available")))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Ok(mut slot) = CLEANUP.lock() {
            *slot = None;
        }
    }
}

/// Where the plaintext may go, best first: `$XDG_RUNTIME_DIR` (a private
/// tmpfs), `/dev/shm` (memory), the system temporary directory.
fn temp_bases() -> Vec<PathBuf> {
    let mut bases = Vec::new();
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        if dir.is_absolute() && dir.is_dir() {
            bases.push(dir);
        }
    }
    let shm = PathBuf::from("/dev/shm");
    if shm.is_dir() {
        bases.push(shm);
    }
    bases.push(std::env::temp_dir());
    bases
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// Writes the plaintext to a new 0600 file.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// On every terminating signal ([`crate::hygiene::terminating_signals`]):
/// stop the editor, remove the temporary directory, exit with 128 + the
/// signal number. A `SIGPIPE` enseal caused itself (a write to a closed
/// pipe) is not an order to stop: the write reports the error instead.
fn install_signal_cleanup() -> Result<()> {
    use signal_hook::iterator::exfiltrator::WithRawSiginfo;
    use signal_hook::iterator::SignalsInfo;
    let mut signals = SignalsInfo::<WithRawSiginfo>::new(crate::hygiene::terminating_signals())
        .map_err(|e| {
            Error::Usage(format!(
                "cannot catch signals (the edit needs it to remove its temporary file): {e}"
            ))
        })?;
    std::thread::spawn(move || {
        for info in signals.forever() {
            let signal = info.si_signo;
            // SAFETY: the sender field of a siginfo the kernel filled in.
            let sender = unsafe { info.si_pid() };
            if crate::hygiene::is_own_broken_pipe(signal, sender) {
                continue;
            }
            CANCELLED_BY.store(signal, Ordering::SeqCst);
            let pid = EDITOR_PID.load(Ordering::SeqCst);
            if pid > 0 {
                // The edit is cancelled: the editor must not go on writing
                // a file that is about to be removed.
                // SAFETY: kill(2) on the pid of the editor we started.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
            cancel(signal);
        }
    });
    Ok(())
}

/// The editor command: `$SOPS_EDITOR`, else `$EDITOR` (split into words
/// shell-style), else the first of vim, nano, vi found in `PATH`.
fn editor_command() -> Result<Vec<String>> {
    for var in ["SOPS_EDITOR", "EDITOR"] {
        if let Some(value) = std::env::var(var).ok().filter(|v| !v.is_empty()) {
            return match shlex::split(&value) {
                Some(words) if !words.is_empty() => Ok(words),
                _ => Err(Error::Coded(
                    NO_EDITOR_FOUND,
                    format!("invalid ${var}: {value}"),
                )),
            };
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["vim", "nano", "vi"] {
        if std::env::split_paths(&path).any(|dir| is_executable(&dir.join(name))) {
            return Ok(vec![name.to_string()]);
        }
    }
    Err(Error::Coded(
        NO_EDITOR_FOUND,
        "no editor available: sops attempts to use the editor defined in the SOPS_EDITOR or EDITOR environment variables, and if that's not set defaults to any of vim, nano, vi, but none of them could be found".into(),
    ))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

fn run_editor(words: &[String], file: &Path) -> Result<()> {
    let failed = |e: String| Error::Coded(NO_EDITOR_FOUND, format!("Could not run editor: {e}"));
    let mut child = Command::new(&words[0])
        .args(&words[1..])
        .arg(file)
        .spawn()
        .map_err(|e| failed(e.to_string()))?;
    EDITOR_PID.store(i32::try_from(child.id()).unwrap_or(0), Ordering::SeqCst);
    let status = child.wait();
    EDITOR_PID.store(0, Ordering::SeqCst);
    if let Ok(status) = &status {
        await_own_signal(status);
    }
    let signal = CANCELLED_BY.load(Ordering::SeqCst);
    if signal != 0 {
        cancel(signal);
    }
    let status = status.map_err(|e| failed(e.to_string()))?;
    if !status.success() {
        return Err(failed(status.to_string()));
    }
    Ok(())
}

/// Ctrl+C (or Ctrl+\\) on the terminal reaches the editor and enseal
/// together: the editor may be reaped before the signal thread has seen
/// enseal's copy. When the editor died of a signal enseal catches, wait a
/// moment for that thread, so the edit ends as cancelled (128 + N, "User
/// canceled operation") and not, by a race, as an editor failure (201).
fn await_own_signal(status: &std::process::ExitStatus) {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        let Some(signal) = status.signal() else {
            return;
        };
        if !crate::hygiene::terminating_signals().contains(&signal) {
            return;
        }
        let start = std::time::Instant::now();
        while CANCELLED_BY.load(Ordering::SeqCst) == 0
            && start.elapsed() < std::time::Duration::from_millis(500)
        {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
    #[cfg(not(unix))]
    let _ = status;
}

/// After a parse error: on a terminal (or with input on stdin, as sops reads
/// it) wait for Enter and edit again; otherwise give up with the error.
fn ask_to_reopen(message: &str, error: &Error) -> Result<()> {
    let stdin = std::io::stdin();
    eprintln!("{error}");
    eprintln!("{message} Press enter to return to the editor, or Ctrl+C to exit.");
    let mut line = String::new();
    match stdin.lock().read_line(&mut line) {
        Ok(n) if n > 0 => Ok(()),
        _ if stdin.is_terminal() => Err(Error::Usage("User canceled operation".into())),
        _ => Err(Error::Coded(
            exit::COULD_NOT_READ_INPUT,
            "no input to confirm editing again: the file was not changed".into(),
        )),
    }
}

/// `major.minor.patch` of a version string, if it has one.
fn version_triple(version: &str) -> Option<(u64, u64, u64)> {
    let core = version.strip_prefix('v').unwrap_or(version);
    let core = core.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let triple = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(triple)
}

/// The version to record after an edit: the program's when the file's is
/// older (as sops does), else the file's.
fn edited_version(file_version: &str) -> Result<Option<&'static str>> {
    let ours = crate::metadata::FORMAT_VERSION;
    let (Some(theirs), Some(mine)) = (version_triple(file_version), version_triple(ours)) else {
        return Err(Error::Coded(
            202,
            format!(
                "Failed to compare document version \"{file_version}\" with program version \"{ours}\": not a semantic version"
            ),
        ));
    };
    Ok((theirs < mine).then_some(ours))
}

/// The example content of a new file.
fn template(kind: FormatKind, store: &dyn Store) -> Vec<u8> {
    match kind {
        FormatKind::Yaml => b"hello: Welcome to SOPS! Edit this file as you please!\nexample_key: example_value\n# Example comment\nexample_array:\n    - example_value1\n    - example_value2\nexample_number: 1234.56789\nexample_booleans:\n    - true\n    - false\n".to_vec(),
        FormatKind::Json => {
            let yaml = crate::format::yaml::YamlStore::new(&Default::default());
            let text = template(FormatKind::Yaml, &yaml);
            let mut docs = yaml.parse_plain(&text).unwrap_or_default();
            for doc in &mut docs {
                doc.0.retain(|i| matches!(i, crate::tree::Item::Entry(..)));
            }
            store.emit_plain(&docs).unwrap_or_default()
        }
        FormatKind::Dotenv => b"# This is an example file.\nhello=Welcome to SOPS! Edit this file as you please!\nexample_key=example_value\nexample_multiline=foo\\nbar\\nbaz\n".to_vec(),
        FormatKind::Ini => b"; This is an example file.\n[Welcome!]\nhello       = Welcome to SOPS! Edit this file as you please!\nexample_key = example_value\n".to_vec(),
        FormatKind::Binary => b"Welcome to SOPS! Edit this file as you please!".to_vec(),
        FormatKind::Toml => b"hello = \"Welcome to SOPS! Edit this file as you please!\"\nexample_key = \"example_value\"\n# Example comment\nexample_array = [\"example_value1\", \"example_value2\"]\nexample_number = 1234.56789\nexample_booleans = [true, false]\n".to_vec(),
    }
}

/// `enseal edit FILE`.
pub(crate) fn run(args: &Edit, config: Option<&str>) -> Result<()> {
    if Path::new(&args.file).exists() {
        edit_existing(args, config)
    } else {
        edit_new(args, config)
    }
}

/// Runs the editor on `content` in a private temporary file named like the
/// target, until `parse` accepts the result. `Ok(None)`: saved unchanged.
fn edit_loop<T>(
    target: &str,
    content: &[u8],
    mut parse: impl FnMut(&[u8]) -> std::result::Result<T, (Error, &'static str)>,
) -> Result<Option<T>> {
    let words = editor_command()?;
    // Catch the signals before there is anything to clean up.
    install_signal_cleanup()?;
    let temp = TempDir::create().map_err(|source| Error::WriteOutput {
        path: "temporary directory".into(),
        source,
    })?;
    let base = Path::new(target)
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("file"));
    let path = temp.dir.join(base);
    write_private(&path, content).map_err(|source| Error::WriteOutput {
        path: path.display().to_string(),
        source,
    })?;
    let original = Sha256::digest(content);
    loop {
        run_editor(&words, &path)?;
        let edited = Zeroizing::new(std::fs::read(&path).map_err(|source| Error::ReadInput {
            path: path.display().to_string(),
            source,
        })?);
        if Sha256::digest(&*edited) == original {
            return Ok(None);
        }
        match parse(&edited) {
            Ok(v) => return Ok(Some(v)),
            Err((error, message)) => ask_to_reopen(message, &error)?,
        }
    }
}

fn unchanged() -> Error {
    Error::Coded(
        FILE_HAS_NOT_BEEN_MODIFIED,
        "File has not changed, exiting.".into(),
    )
}

const INVALID_SYNTAX: &str = "Could not load tree, probably due to invalid syntax.";

fn edit_existing(args: &Edit, config: Option<&str>) -> Result<()> {
    let file = args.file.as_str();
    let mut open = open_file(file, &args.open, config)?;
    if !args.show_master_keys {
        let context = ConfigContext::load(config)?;
        let (in_kind, out_kind) = args.open.types.kinds(file);
        if preserve_mode(args.preserve_format, &context, in_kind, out_kind)? {
            return edit_preserving(file, &mut open, in_kind);
        }
    }
    let plain = if args.show_master_keys {
        open.out_store
            .emit_encrypted(&open.opened.documents, &open.opened.metadata.to_map())
    } else {
        open.out_store.emit_plain(&open.opened.documents)
    }
    .map_err(|e| Error::Dump(e.to_string()))?;
    let plain = Zeroizing::new(plain);
    let in_store = &open.in_store;
    let out_store = &open.out_store;
    let show = args.show_master_keys;
    let parsed = edit_loop(file, &plain, |bytes| {
        parse_edited(in_store.as_ref(), out_store.as_ref(), bytes, show)
    })?;
    let Some(documents) = parsed else {
        return Err(unchanged());
    };
    if documents == open.opened.documents {
        return Err(unchanged());
    }
    if let Some(version) = edited_version(&open.opened.metadata.version)? {
        open.opened.metadata.version = version.to_string();
    }
    if !open.save(documents)? {
        return Err(unchanged());
    }
    Ok(())
}

/// `edit --preserve-format`: the editor gets the file decrypted in its own
/// layout; the edited text is encrypted in place with the file's data key
/// (unchanged values keep their ciphertext), so its layout is kept too.
fn edit_preserving(file: &str, open: &mut OpenFile, kind: FormatKind) -> Result<()> {
    let preserve_error = |e: crate::preserve::PreserveError, code: i32| Error::Preserve {
        path: file.to_string(),
        message: e.to_string(),
        code,
    };
    let bytes = open.read_raw().map_err(|source| Error::ReadInput {
        path: file.to_string(),
        source,
    })?;
    let encrypted = open
        .in_store
        .parse_encrypted(&bytes)
        .map_err(|e| Error::ParseEncrypted {
            path: file.to_string(),
            message: e.to_string(),
        })?
        .documents;
    let plain = Zeroizing::new(
        crate::preserve::decrypt(kind, &bytes, &encrypted, &open.opened.documents)
            .map_err(|e| preserve_error(e, crate::error::exit::ERROR_DUMPING_TREE))?,
    );
    let in_store = &open.in_store;
    let out_store = &open.out_store;
    let parsed = edit_loop(file, &plain, |edited| {
        parse_edited(in_store.as_ref(), out_store.as_ref(), edited, false)
            .map(|docs| (docs, Zeroizing::new(edited.to_vec())))
    })?;
    let Some((documents, text)) = parsed else {
        return Err(unchanged());
    };
    let documents = crate::preserve::carry(kind, &text, documents)
        .map_err(|e| preserve_error(e, crate::error::exit::COULD_NOT_READ_INPUT))?;
    if let Some(version) = edited_version(&open.opened.metadata.version)? {
        open.opened.metadata.version = version.to_string();
    }
    let new = open
        .opened
        .reencrypt_always(documents.clone())
        .map_err(|e| e.in_file(file))?;
    let out = crate::preserve::encrypt(
        kind,
        &text,
        &documents,
        &new.documents,
        &new.metadata.to_map(),
    )
    .map_err(|e| preserve_error(e, crate::error::exit::COULD_NOT_READ_INPUT))?;
    write_file(&open.path, &out)
}

fn parse_edited(
    in_store: &dyn Store,
    out_store: &dyn Store,
    bytes: &[u8],
    show_master_keys: bool,
) -> std::result::Result<Vec<Map>, (Error, &'static str)> {
    let syntax = |e: crate::format::FormatError| {
        (
            Error::ParsePlain {
                path: "the edited file".into(),
                message: e.to_string(),
            },
            INVALID_SYNTAX,
        )
    };
    let documents = if show_master_keys {
        // The metadata shown is informative: changes to it are ignored.
        in_store.parse_encrypted(bytes).map_err(syntax)?.documents
    } else {
        in_store.parse_plain(bytes).map_err(syntax)?
    };
    if documents.is_empty() {
        return Err((Error::NoDocument, INVALID_SYNTAX));
    }
    if !show_master_keys && out_store.has_metadata_key(&documents[0]) {
        return Err((
            Error::Usage("the edited file has a top-level 'sops' entry".into()),
            "Tree not valid for encryption.",
        ));
    }
    Ok(documents)
}

fn edit_new(args: &Edit, config: Option<&str>) -> Result<()> {
    let file = args.file.as_str();
    let context = ConfigContext::load(config)?;
    let io = args.open.io();
    let mut settings = new_file_settings(Some(file), &io, &args.keys, &args.rules, &context)?;
    let (in_kind, out_kind) = io.types.kinds(file);
    settings.binary = in_kind == FormatKind::Binary;
    let options = store_options(&io, out_kind, context.stores(), true)?;
    let layouts = Layouts::default();
    let in_store = in_kind.store_sharing(&options, &layouts);
    let out_store = out_kind.store_sharing(&options, &layouts);
    let content = template(out_kind, out_store.as_ref());
    let parsed = edit_loop(file, &content, |bytes| {
        parse_edited(in_store.as_ref(), out_store.as_ref(), bytes, false)
    })?;
    let Some(documents) = parsed else {
        return Err(unchanged());
    };
    let encrypted = document::encrypt(documents, settings).map_err(|e| match e {
        Error::GenerateDataKey(m) => Error::Coded(
            exit::COULD_NOT_RETRIEVE_KEY,
            format!("Error encrypting the data key with one or more master keys: {m}"),
        ),
        other => other.in_file(file),
    })?;
    write_encrypted(Path::new(file), out_store.as_ref(), &encrypted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse_in_their_store() {
        for kind in [
            FormatKind::Yaml,
            FormatKind::Json,
            FormatKind::Dotenv,
            FormatKind::Ini,
            FormatKind::Toml,
        ] {
            let store = kind.store(&Default::default());
            let text = template(kind, store.as_ref());
            let docs = store.parse_plain(&text).unwrap();
            assert!(!docs[0].is_empty(), "{kind:?}");
        }
        let json = template(
            FormatKind::Json,
            FormatKind::Json.store(&Default::default()).as_ref(),
        );
        assert!(json.starts_with(b"{\n\t\"hello\": \"Welcome to SOPS!"));
    }

    #[test]
    fn versions_are_raised_never_lowered() {
        assert_eq!(
            edited_version("3.7.3").unwrap(),
            Some(crate::metadata::FORMAT_VERSION)
        );
        assert_eq!(
            edited_version(crate::metadata::FORMAT_VERSION).unwrap(),
            None
        );
        assert_eq!(edited_version("3.13.2").unwrap(), None);
        assert_eq!(edited_version("99.0.0-rc1").unwrap(), None);
        assert_eq!(edited_version("x").unwrap_err().exit_code(), 202);
    }

    #[test]
    fn temp_dir_is_removed_when_a_panic_unwinds() {
        let seen = std::sync::Mutex::new(None);
        let result = std::panic::catch_unwind(|| {
            let t = TempDir::create().unwrap();
            write_private(&t.dir.join("f.yaml"), b"secret").unwrap();
            *seen.lock().unwrap() = Some(t.dir.clone());
            panic!("editor crashed");
        });
        assert!(result.is_err());
        let dir = seen.lock().unwrap().clone().unwrap();
        assert!(!dir.exists(), "{} left", dir.display());
    }

    #[test]
    fn temp_dir_is_private_and_removed() {
        let t = TempDir::create().unwrap();
        let dir = t.dir.clone();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        write_private(&dir.join("f.yaml"), b"x").unwrap();
        drop(t);
        assert!(!dir.exists());
    }
}

//! The git history of an encrypted file, value by value, read without any
//! key.
//!
//! enseal's ciphertexts are stable: a value's `ENC[…]` text changes exactly
//! when its plaintext changes (an unchanged value keeps its ciphertext when
//! the file is re-encrypted). So the commits where a key path's text
//! changed are the commits where its secret changed, and the first commit
//! that holds the text a value has now is when that secret was set.
//!
//! [`read`] runs git twice per file, never through a shell: `git log
//! --follow` for the commits (and the file's name in each), then one `git
//! cat-file --batch` for every version's bytes. Each version is parsed with
//! the file's own format store. The repository is untrusted: its config
//! cannot make these commands run a program (no pager, no fsmonitor, no
//! signature check, no textconv or external diff, no replace objects), and
//! the output read is bounded.
//!
//! A history that cannot be known (git missing, not a repository, a
//! shallow clone, a file never committed) is an [`Unknown`], never a fresh
//! value.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::format::{FormatKind, StoreOptions};
use crate::tree::{Item, Map, Timestamp, Value};
use crate::tree_path::Component;

/// The most bytes read from one git command (the log, or all versions).
pub const MAX_OUTPUT: u64 = 512 * 1024 * 1024;

/// One commit that touched the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The full object name.
    pub hash: String,
    /// The author date, seconds since the Unix epoch.
    pub time: i64,
    /// The author's name.
    pub author: String,
    /// The author's email.
    pub email: String,
}

impl Commit {
    /// The author date in UTC, `YYYY-MM-DD`.
    pub fn date(&self) -> String {
        let t = Timestamp::from_unix(self.time);
        format!("{:04}-{:02}-{:02}", t.year, t.month, t.day)
    }

    /// The first 12 characters of the hash.
    pub fn short(&self) -> &str {
        &self.hash[..self.hash.len().min(12)]
    }
}

/// How a value changed in a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// The key path appeared.
    Added,
    /// Its text (its `ENC[…]` ciphertext) changed.
    Changed,
    /// The key path disappeared (or the file was deleted).
    Removed,
}

impl ChangeKind {
    /// `added`, `changed`, `removed`.
    pub fn name(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Changed => "changed",
            ChangeKind::Removed => "removed",
        }
    }
}

/// One change of one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Index into [`FileHistory::commits`].
    pub commit: usize,
    /// What happened.
    pub kind: ChangeKind,
}

/// Why a history is not known; the text is for a message (`shallow clone`,
/// `not committed to git`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown(pub String);

impl std::fmt::Display for Unknown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The leaves of one version: key path → the value's text (the `ENC[…]`
/// string of an encrypted value). `None`: the file is absent in that
/// commit (deleted).
pub type Leaves = BTreeMap<Vec<Component>, String>;

/// The history of one file, oldest commit first.
#[derive(Debug, Clone, Default)]
pub struct FileHistory {
    /// Every commit that touched the file, oldest first.
    pub commits: Vec<Commit>,
    changes: BTreeMap<Vec<Component>, Vec<Change>>,
    first_seen: HashMap<(Vec<Component>, String), usize>,
}

impl FileHistory {
    /// Builds the history from its versions, oldest first. A version is
    /// `Some(leaves)`, or `None` where the file is absent (deleted). A
    /// version that could not be parsed should be left out by the caller.
    pub fn from_versions(versions: Vec<(Commit, Option<Leaves>)>) -> FileHistory {
        let mut history = FileHistory::default();
        let empty = Leaves::new();
        let mut previous: Option<Leaves> = None;
        for (index, (commit, leaves)) in versions.into_iter().enumerate() {
            history.commits.push(commit);
            let now = leaves.unwrap_or_default();
            let before = previous.as_ref().unwrap_or(&empty);
            for (path, text) in &now {
                let kind = match before.get(path) {
                    None => Some(ChangeKind::Added),
                    Some(old) if old != text => Some(ChangeKind::Changed),
                    Some(_) => None,
                };
                if let Some(kind) = kind {
                    history.record(path, index, kind);
                }
                history
                    .first_seen
                    .entry((path.clone(), text.clone()))
                    .or_insert(index);
            }
            for path in before.keys() {
                if !now.contains_key(path) {
                    history.record(path, index, ChangeKind::Removed);
                }
            }
            previous = Some(now);
        }
        history
    }

    /// Notes that the value at `path` changed (`kind`) in commit `commit`.
    fn record(&mut self, path: &[Component], commit: usize, kind: ChangeKind) {
        self.changes
            .entry(path.to_vec())
            .or_default()
            .push(Change { commit, kind });
    }

    /// The first commit where the value at `path` had the text `text`: when
    /// the secret it holds now was set. `None` when no commit has it (a
    /// change not committed yet).
    pub fn first_seen(&self, path: &[Component], text: &str) -> Option<&Commit> {
        self.first_seen
            .get(&(path.to_vec(), text.to_string()))
            .map(|&i| &self.commits[i])
    }

    /// Every key path that ever existed with its changes, oldest first, in
    /// key path order.
    pub fn changes(&self) -> impl Iterator<Item = (&Vec<Component>, &[Change])> {
        self.changes.iter().map(|(k, v)| (k, v.as_slice()))
    }
}

/// `["a"]["b"][0]`, sops' index path form.
pub fn display_path(path: &[Component]) -> String {
    path.iter().map(ToString::to_string).collect()
}

/// The key path as the plain strings `check` uses for lines (`find_line`).
pub fn path_strings(path: &[Component]) -> Vec<String> {
    path.iter()
        .map(|c| match c {
            Component::Key(k) => k.clone(),
            Component::Index(i) => i.to_string(),
        })
        .collect()
}

/// The leaves of the documents: every scalar with its key path (list
/// elements by index, comments not counted) and its text. Non-string
/// scalars get a text that no string can have.
pub fn leaves(documents: &[Map]) -> Leaves {
    let mut out = Leaves::new();
    let mut path = Vec::new();
    for document in documents {
        walk_map(document, &mut path, &mut out);
    }
    out
}

fn walk_map(map: &Map, path: &mut Vec<Component>, out: &mut Leaves) {
    for item in &map.0 {
        if let Item::Entry(key, value) = item {
            path.push(Component::Key(key.clone()));
            walk_value(value, path, out);
            path.pop();
        }
    }
}

fn walk_value(value: &Value, path: &mut Vec<Component>, out: &mut Leaves) {
    match value {
        Value::Map(m) => walk_map(m, path, out),
        Value::List(items) => {
            let elements = items.iter().filter(|v| !matches!(v, Value::Comment(_)));
            for (i, item) in elements.enumerate() {
                path.push(Component::Index(i));
                walk_value(item, path, out);
                path.pop();
            }
        }
        Value::Comment(_) => {}
        Value::Str(s) => {
            out.insert(path.clone(), s.clone());
        }
        other => {
            let text = match other {
                Value::Int(i) => i.to_string(),
                Value::Float(f) => f.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Time(t) => t.to_string(),
                Value::Null => "null".into(),
                Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
                _ => format!("{other:?}"),
            };
            out.insert(path.clone(), format!("\0{text}"));
        }
    }
}

/// A leaf's text as a person reads it (a non-string scalar without the
/// mark that keeps it apart from strings).
pub fn shown_text(text: &str) -> &str {
    text.strip_prefix('\0').unwrap_or(text)
}

/// Parses one version of a file named `name` (its format from the name).
/// `None` when it does not parse.
pub fn parse_version(name: &str, bytes: &[u8], stores: &StoreOptions) -> Option<Leaves> {
    let kind = FormatKind::from_path(name);
    let parsed = kind.store(stores).parse_encrypted(bytes).ok()?;
    Some(leaves(&parsed.documents))
}

/// One version of a file as git holds it.
#[derive(Debug, Clone)]
pub struct RawVersion {
    /// The commit.
    pub commit: Commit,
    /// The file's path (from the repository root) in that commit.
    pub name: String,
    /// Its bytes; `None` where the file is absent (deleted).
    pub bytes: Option<Vec<u8>>,
}

/// Reads the history of `file` from git (see the module docs).
pub fn read(file: &Path, stores: &StoreOptions) -> Result<FileHistory, Unknown> {
    let mut versions = Vec::new();
    for raw in read_raw(file)? {
        match raw.bytes {
            None => versions.push((raw.commit, None)),
            Some(bytes) => {
                if let Some(leaves) = parse_version(&raw.name, &bytes, stores) {
                    versions.push((raw.commit, Some(leaves)));
                }
            }
        }
    }
    Ok(FileHistory::from_versions(versions))
}

/// Every version of `file` in git, oldest first: one `git log --follow`
/// and one `git cat-file --batch`.
pub fn read_raw(file: &Path) -> Result<Vec<RawVersion>, Unknown> {
    let dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = file
        .file_name()
        .ok_or_else(|| Unknown("not a file".into()))?;
    repository_state(dir)?;
    let mut args: Vec<&std::ffi::OsStr> = [
        "log",
        "--follow",
        "-z",
        "--no-show-signature",
        "--no-textconv",
        "--no-ext-diff",
        "--no-color",
        "--format=%x01%H%x00%at%x00%an%x00%ae%x00",
        "--name-only",
        "--",
    ]
    .iter()
    .map(std::ffi::OsStr::new)
    .collect();
    args.push(name);
    let log = run(dir, &args)?;
    let entries = parse_log(&log)?;
    if entries.is_empty() {
        return Err(Unknown("not committed to git".into()));
    }
    // The file's name in each commit (a merge lists none: the name of the
    // commit before it in the log is kept).
    let mut requests = String::new();
    let mut names = Vec::with_capacity(entries.len());
    let mut current: Option<String> = None;
    for (commit, name) in entries.iter().rev() {
        if let Some(name) = name {
            current = Some(name.clone());
        }
        let Some(name) = &current else {
            return Err(Unknown("git log names no file".into()));
        };
        if name.contains('\n') || name.contains('\r') {
            return Err(Unknown("a file name in the history holds a newline".into()));
        }
        requests.push_str(&format!("{}:{}\n", commit.hash, name));
        names.push(name.clone());
    }
    let blobs = cat_file(dir, requests)?;
    if blobs.len() != names.len() {
        return Err(Unknown("git cat-file answered too few versions".into()));
    }
    Ok(entries
        .into_iter()
        .rev()
        .zip(blobs)
        .zip(names)
        .map(|(((commit, _), bytes), name)| RawVersion {
            commit,
            name,
            bytes,
        })
        .collect())
}

/// Whether `dir` is in a full (not shallow) repository, asked of git once
/// per directory in a process (a repository walk has many files per
/// directory).
fn repository_state(dir: &Path) -> Result<(), Unknown> {
    type Cache = std::sync::Mutex<HashMap<std::path::PathBuf, Result<(), Unknown>>>;
    static CACHE: std::sync::OnceLock<Cache> = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(known) = cache.lock().ok().and_then(|c| c.get(dir).cloned()) {
        return known;
    }
    let state = run(dir, &["rev-parse", "--is-shallow-repository"]).and_then(|out| {
        match String::from_utf8_lossy(&out).trim() {
            "false" => Ok(()),
            "true" => Err(Unknown(
                "shallow clone: fetch the full history with `git fetch --unshallow`".into(),
            )),
            _ => Err(Unknown("not in a git repository".into())),
        }
    });
    if let Ok(mut c) = cache.lock() {
        c.insert(dir.to_path_buf(), state.clone());
    }
    state
}

/// `git` with options that keep a repository's config from running
/// anything, in `dir`.
fn git(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.current_dir(dir)
        .args([
            "--no-pager",
            "--no-replace-objects",
            "--literal-pathspecs",
            "-c",
            "core.fsmonitor=false",
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "log.showSignature=false",
            "-c",
            "diff.external=",
            "-c",
            "core.pager=cat",
            "-c",
            "log.follow=false",
        ])
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("GIT_PAGER", "cat")
        .env_remove("GIT_EXTERNAL_DIFF")
        .stderr(Stdio::null());
    // A git hook runs with GIT_DIR (often `.git`) exported, and without
    // GIT_WORK_TREE git takes the working directory as the top of the work
    // tree. git runs here in the file's directory: keep the meaning the
    // variables have in this process (absolute paths, the work tree named).
    if let (Ok(cwd), Some(git_dir)) = (std::env::current_dir(), std::env::var_os("GIT_DIR")) {
        if !git_dir.is_empty() {
            c.env("GIT_DIR", cwd.join(git_dir));
            let work_tree = std::env::var_os("GIT_WORK_TREE")
                .filter(|w| !w.is_empty())
                .map_or_else(|| cwd.clone(), |w| cwd.join(w));
            c.env("GIT_WORK_TREE", work_tree);
        }
    }
    c
}

/// Runs git and returns its stdout (at most [`MAX_OUTPUT`] bytes).
fn run<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S]) -> Result<Vec<u8>, Unknown> {
    let mut child = git(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Unknown("git is not installed".into()),
            _ => Unknown(format!("cannot run git: {e}")),
        })?;
    let mut out = Vec::new();
    let read = child
        .stdout
        .take()
        .map(|s| s.take(MAX_OUTPUT + 1).read_to_end(&mut out));
    if out.len() as u64 > MAX_OUTPUT {
        let _ = child.kill();
        let _ = child.wait();
        return Err(Unknown("the history is too large to read".into()));
    }
    let status = child
        .wait()
        .map_err(|e| Unknown(format!("git failed: {e}")))?;
    if !matches!(read, Some(Ok(_))) {
        return Err(Unknown("cannot read git's output".into()));
    }
    if !status.success() {
        return Err(Unknown("not in a git repository".into()));
    }
    Ok(out)
}

/// Splits `git log -z --format=%x01%H%x00%at%x00%an%x00%ae%x00
/// --name-only` into commits and the file's name in each, newest first.
fn parse_log(log: &[u8]) -> Result<Vec<(Commit, Option<String>)>, Unknown> {
    let bad = || Unknown("unexpected git log output".into());
    let mut out = Vec::new();
    for record in log.split(|&b| b == 1).filter(|r| !r.is_empty()) {
        let fields: Vec<&[u8]> = record.split(|&b| b == 0).collect();
        if fields.len() < 4 {
            return Err(bad());
        }
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        // Names and emails come from an untrusted repository: no control
        // character (a terminal escape sequence) reaches the output.
        let printable = |b: &[u8]| {
            String::from_utf8_lossy(b)
                .chars()
                .map(|c| if c.is_control() { '\u{fffd}' } else { c })
                .collect::<String>()
        };
        let hash = text(fields[0]);
        if !(hash.len() == 40 || hash.len() == 64) || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let time: i64 = text(fields[1]).trim().parse().map_err(|_| bad())?;
        let name = fields[4..]
            .iter()
            .map(|f| text(f).trim_start_matches('\n').to_string())
            .find(|n| !n.is_empty());
        out.push((
            Commit {
                hash,
                time,
                author: printable(fields[2]),
                email: printable(fields[3]),
            },
            name,
        ));
    }
    Ok(out)
}

/// Runs one `git cat-file --batch` for `requests` (`<commit>:<path>` lines)
/// and returns each object's bytes, `None` for a missing one.
fn cat_file(dir: &Path, requests: String) -> Result<Vec<Option<Vec<u8>>>, Unknown> {
    let mut child = git(dir)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| Unknown(format!("cannot run git: {e}")))?;
    let count = requests.lines().count();
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| Unknown("no stdin".into()))?;
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(requests.as_bytes());
    });
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| Unknown("no stdout".into()))?;
    let result = read_batch(BufReader::new(stdout.take(MAX_OUTPUT + 1)), count);
    if result.is_err() {
        let _ = child.kill();
    }
    let _ = writer.join();
    let _ = child.wait();
    result
}

fn read_batch(mut reader: impl BufRead, count: usize) -> Result<Vec<Option<Vec<u8>>>, Unknown> {
    let bad = || Unknown("unexpected git cat-file output (or the history is too large)".into());
    let mut out = Vec::with_capacity(count);
    let mut total: u64 = 0;
    for _ in 0..count {
        let mut header = String::new();
        reader.read_line(&mut header).map_err(|_| bad())?;
        let header = header.trim_end_matches('\n');
        if header.ends_with(" missing") || header.ends_with(" ambiguous") {
            out.push(None);
            continue;
        }
        let mut parts = header.split(' ');
        let (_, kind, size) = (parts.next(), parts.next(), parts.next());
        let size: u64 = size.and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        total += size;
        if total > MAX_OUTPUT {
            return Err(Unknown("the history is too large to read".into()));
        }
        let mut bytes = vec![0; size as usize];
        reader.read_exact(&mut bytes).map_err(|_| bad())?;
        let mut newline = [0u8; 1];
        reader.read_exact(&mut newline).map_err(|_| bad())?;
        out.push((kind == Some("blob")).then_some(bytes));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(n: i64) -> Commit {
        Commit {
            hash: format!("{n:040x}"),
            time: n * 86_400,
            author: format!("a{n}"),
            email: String::new(),
        }
    }

    fn version(pairs: &[(&str, &str)]) -> Option<Leaves> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| (vec![Component::Key(k.to_string())], v.to_string()))
                .collect(),
        )
    }

    fn key(k: &str) -> Vec<Component> {
        vec![Component::Key(k.into())]
    }

    #[test]
    fn changes_and_first_seen_follow_the_text() {
        let h = FileHistory::from_versions(vec![
            (commit(1), version(&[("a", "x"), ("b", "y")])),
            (commit(2), version(&[("a", "x"), ("b", "z")])),
            (commit(3), version(&[("a", "x")])),
            (commit(4), None),
            (commit(5), version(&[("a", "x"), ("b", "y")])),
        ]);
        assert_eq!(h.first_seen(&key("a"), "x").unwrap().time, 86_400);
        assert_eq!(h.first_seen(&key("b"), "z").unwrap().author, "a2");
        // A reverted value dates from when its secret was first set.
        assert_eq!(h.first_seen(&key("b"), "y").unwrap().author, "a1");
        assert!(h.first_seen(&key("b"), "new").is_none());
        let changes: BTreeMap<_, _> = h.changes().collect();
        let kinds = |k: &str| -> Vec<(usize, ChangeKind)> {
            changes[&key(k)]
                .iter()
                .map(|c| (c.commit, c.kind))
                .collect()
        };
        use ChangeKind::*;
        assert_eq!(kinds("a"), [(0, Added), (3, Removed), (4, Added)]);
        assert_eq!(
            kinds("b"),
            [(0, Added), (1, Changed), (2, Removed), (4, Added)]
        );
    }

    #[test]
    fn leaves_name_list_elements_without_comments() {
        use crate::format::{yaml::YamlStore, Store};
        let docs = YamlStore::new(&StoreOptions::default())
            .parse_plain(b"a:\n  # c\n  - x\n  - 2\nb: {c: null}\n")
            .unwrap();
        let l = leaves(&docs);
        let shown: Vec<String> = l.keys().map(|k| display_path(k)).collect();
        assert_eq!(shown, ["[\"a\"][0]", "[\"a\"][1]", "[\"b\"][\"c\"]"]);
        assert_eq!(l.values().next().unwrap(), "x");
        assert_eq!(path_strings(l.keys().nth(1).unwrap()), ["a", "1"]);
    }

    #[test]
    fn log_output_is_parsed_with_renames_and_merges() {
        let h1 = "a".repeat(40);
        let h2 = "b".repeat(40);
        let log = format!(
            "\x01{h1}\x00100\x00Al Ice\x00a@x\x00\x00\x01{h2}\x0050\x00Bob\x00b@x\x00\nold.yaml\x00"
        );
        let parsed = parse_log(log.as_bytes()).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].0.author, "Al Ice");
        assert_eq!(parsed[0].1, None);
        assert_eq!(parsed[1].0.time, 50);
        assert_eq!(parsed[1].1.as_deref(), Some("old.yaml"));
        assert!(parse_log(b"\x01nothex\x001\x00a\x00b\x00").is_err());
        let evil = format!("\x01{h1}\x001\x00a\x1b[2Jb\x00e\x07\x00");
        let parsed = parse_log(evil.as_bytes()).unwrap();
        assert_eq!(parsed[0].0.author, "a\u{fffd}[2Jb");
        assert_eq!(parsed[0].0.email, "e\u{fffd}");
    }

    #[test]
    fn batch_output_is_split_and_bounded() {
        let out = b"abc blob 3\nxyz\ndef:x missing\n";
        let got = read_batch(&out[..], 2).unwrap();
        assert_eq!(got, vec![Some(b"xyz".to_vec()), None]);
        assert!(read_batch(&b"abc blob 9\nxy"[..], 1).is_err());
    }

    /// A repository with `f.yaml` committed at chosen days by chosen
    /// authors.
    fn git_repo(versions: &[(&str, i64, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str], day: i64, who: &str| {
            let date = format!("@{} +0000", day * 86_400);
            let ok = Command::new("git")
                .current_dir(dir.path())
                .args(args)
                .env("GIT_AUTHOR_DATE", &date)
                .env("GIT_COMMITTER_DATE", &date)
                .env("GIT_AUTHOR_NAME", who)
                .env("GIT_AUTHOR_EMAIL", format!("{who}@example.com"))
                .env("GIT_COMMITTER_NAME", who)
                .env("GIT_COMMITTER_EMAIL", format!("{who}@example.com"))
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("HOME", dir.path())
                .output()
                .unwrap()
                .status
                .success();
            assert!(ok, "git {args:?}");
        };
        git(&["init", "-q", "-b", "main"], 0, "x");
        for (text, day, who) in versions {
            std::fs::write(dir.path().join("f.yaml"), text).unwrap();
            git(&["add", "f.yaml"], *day, who);
            git(&["commit", "-q", "-m", "v"], *day, who);
        }
        dir
    }

    #[test]
    fn a_real_history_dates_each_value() {
        let dir = git_repo(&[
            ("a: x\nb: y\n", 10, "alice"),
            ("a: x\nb: z\n", 20, "bob"),
            ("a: x\n", 30, "carol"),
        ]);
        let h = read(&dir.path().join("f.yaml"), &StoreOptions::default()).unwrap();
        assert_eq!(h.commits.len(), 3);
        let a = h.first_seen(&key("a"), "x").unwrap();
        assert_eq!((a.author.as_str(), a.time), ("alice", 10 * 86_400));
        assert_eq!(h.first_seen(&key("b"), "z").unwrap().author, "bob");
        let b: Vec<ChangeKind> = h
            .changes()
            .find(|(k, _)| **k == key("b"))
            .unwrap()
            .1
            .iter()
            .map(|c| c.kind)
            .collect();
        assert_eq!(
            b,
            [ChangeKind::Added, ChangeKind::Changed, ChangeKind::Removed]
        );
    }

    #[test]
    fn no_repository_or_no_commit_is_unknown() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.yaml"), "a: 1\n").unwrap();
        let err = read(&dir.path().join("f.yaml"), &StoreOptions::default()).unwrap_err();
        assert!(err.0.contains("not in a git repository"), "{err}");
        let repo = git_repo(&[("a: 1\n", 1, "alice")]);
        std::fs::write(repo.path().join("new.yaml"), "a: 1\n").unwrap();
        let err = read(&repo.path().join("new.yaml"), &StoreOptions::default()).unwrap_err();
        assert!(err.0.contains("not committed"), "{err}");
    }

    #[test]
    fn dates_are_utc_days() {
        assert_eq!(commit(0).date(), "1970-01-01");
        let c = Commit {
            time: 1_782_864_000,
            ..commit(0)
        };
        assert_eq!(c.date(), "2026-07-01");
    }
}

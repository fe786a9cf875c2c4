//! `check --scan --history`: scans every file version in a git
//! repository's history, so a secret committed and later removed is still
//! found.
//!
//! The history is read once: `git log --all --raw` lists the blobs each
//! commit adds or changes (each blob is kept with the oldest commit and
//! path that introduced it), then `git cat-file --batch` streams the unique
//! blobs to the scanner. git runs as a subprocess without a shell, with
//! hooks, fsmonitor, signature checks, external diff and textconv drivers
//! and lazy fetches of a partial clone turned off: the repository is not
//! trusted.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use super::scan;

/// Blobs larger than this are skipped (read and discarded).
pub const MAX_BLOB: u64 = 8 * 1024 * 1024;

/// A likely secret in one file version of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryHit {
    /// The commit that introduced this file version (full hash).
    pub commit: String,
    /// The path of the file in that commit.
    pub path: String,
    pub hit: scan::Hit,
}

/// Why the history could not be scanned (one line, no secret).
#[derive(Debug)]
pub struct HistoryError(pub String);

/// A git command for an untrusted repository.
fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(dir)
        .args([
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "core.fsmonitor=false",
            "-c",
            "log.showSignature=false",
            "-c",
            "protocol.allow=never",
            "--no-pager",
        ])
        .env("GIT_NO_LAZY_FETCH", "1")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// The file versions of the history: blob id → (commit, path) of the
/// oldest commit that added it.
fn blobs(dir: &Path) -> Result<Vec<(String, String, String)>, HistoryError> {
    let mut child = git(dir)
        .args([
            "log",
            "--all",
            "--no-renames",
            // Merges too (against their first parent): a conflict
            // resolution can introduce a file version.
            "--diff-merges=first-parent",
            "--raw",
            "--no-abbrev",
            "--no-ext-diff",
            "--no-textconv",
            "--no-show-signature",
            "-z",
            "--format=commit %H",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| HistoryError(format!("cannot run git: {e}")))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut reader = BufReader::new(stdout);
    let mut order: Vec<String> = Vec::new();
    let mut found: HashMap<String, (String, String)> = HashMap::new();
    let mut commit = String::new();
    // After a `:meta` token comes its path: `Some(Some(blob))` to keep,
    // `Some(None)` to skip (deletions, symlinks, submodules).
    let mut path_of: Option<Option<String>> = None;
    let mut token = Vec::new();
    loop {
        token.clear();
        let n = reader
            .read_until(0, &mut token)
            .map_err(|e| HistoryError(format!("reading git log: {e}")))?;
        if n == 0 {
            break;
        }
        if token.last() == Some(&0) {
            token.pop();
        }
        let text = String::from_utf8_lossy(&token);
        let text = text.trim_start_matches('\n');
        if let Some(wanted) = path_of.take() {
            if let Some(blob) = wanted {
                // Log order is newest first: the last commit seen for a
                // blob is the oldest.
                if !found.contains_key(&blob) {
                    order.push(blob.clone());
                }
                found.insert(blob, (commit.clone(), text.to_string()));
            }
        } else if let Some(c) = text.strip_prefix("commit ") {
            commit = c.trim().to_string();
        } else if let Some(meta) = text.strip_prefix(':') {
            // `:oldmode newmode oldblob newblob status`
            let fields: Vec<&str> = meta.split(' ').collect();
            path_of = Some(match fields[..] {
                [_, "100644" | "100755", _, blob, status] if !status.starts_with('D') => {
                    Some(blob.to_string())
                }
                _ => None,
            });
        }
    }
    let status = child
        .wait_with_output()
        .map_err(|e| HistoryError(format!("git log: {e}")))?;
    if !status.status.success() {
        let err = String::from_utf8_lossy(&status.stderr);
        let first = err.lines().next().unwrap_or("failed").trim().to_string();
        return Err(HistoryError(format!("git log: {first}")));
    }
    // Oldest first, so that a secret kept through several versions of a
    // file is reported at the commit that introduced it.
    Ok(order
        .into_iter()
        .rev()
        .filter_map(|blob| {
            let (commit, path) = found.remove(&blob)?;
            Some((blob, commit, path))
        })
        .collect())
}

/// True for a file that sops encrypted (its values are ciphertext).
fn is_encrypted(bytes: &[u8]) -> bool {
    let has_line = |prefix: &[u8]| {
        bytes.starts_with(prefix)
            || memchr::memmem::find_iter(bytes, prefix).any(|at| at > 0 && bytes[at - 1] == b'\n')
    };
    has_line(b"sops:")
        || has_line(b"sops_mac=")
        || has_line(b"[sops]")
        || memchr::memmem::find(bytes, b"\"sops\": {").is_some()
}

/// Scans every file version of the repository containing `dir`. A line
/// that stays the same through later versions of a file is reported once,
/// at the oldest commit.
pub fn scan_history(dir: &Path) -> Result<Vec<HistoryHit>, HistoryError> {
    let blobs = blobs(dir)?;
    if blobs.is_empty() {
        return Ok(Vec::new());
    }
    let mut child = git(dir)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| HistoryError(format!("cannot run git: {e}")))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let ids: Vec<String> = blobs.iter().map(|(b, _, _)| b.clone()).collect();
    // Write the ids on a thread while the answers are read: neither pipe
    // fills up.
    let writer = std::thread::spawn(move || {
        for id in ids {
            if writeln!(stdin, "{id}").is_err() {
                break;
            }
        }
    });
    let mut reader = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut hits = Vec::new();
    let mut seen = HashSet::new();
    let mut header = String::new();
    for (blob, commit, path) in &blobs {
        header.clear();
        reader
            .read_line(&mut header)
            .map_err(|e| HistoryError(format!("reading git cat-file: {e}")))?;
        // `<id> blob <size>`, or `<id> missing`.
        let fields: Vec<&str> = header.split_whitespace().collect();
        let [id, "blob", size] = fields[..] else {
            continue;
        };
        if id != blob {
            return Err(HistoryError("git cat-file answered out of order".into()));
        }
        let size: u64 = size
            .parse()
            .map_err(|_| HistoryError("git cat-file: bad object size".into()))?;
        if size > MAX_BLOB {
            std::io::copy(&mut (&mut reader).take(size + 1), &mut std::io::sink())
                .map_err(|e| HistoryError(format!("reading git cat-file: {e}")))?;
            continue;
        }
        let mut bytes = vec![0u8; size as usize + 1];
        reader
            .read_exact(&mut bytes)
            .map_err(|e| HistoryError(format!("reading git cat-file: {e}")))?;
        bytes.pop();
        if is_encrypted(&bytes) {
            continue;
        }
        let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        for hit in scan::scan(&bytes) {
            // The same line in later versions of the file is the same
            // finding: keep the first (a hash, never the text).
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            (path.as_str(), hit.rule, lines.get(hit.line - 1)).hash(&mut hasher);
            if seen.insert(hasher.finish()) {
                hits.push(HistoryHit {
                    commit: commit.clone(),
                    path: path.clone(),
                    hit,
                });
            }
        }
    }
    drop(reader);
    let _ = writer.join();
    let _ = child.wait();
    Ok(hits)
}

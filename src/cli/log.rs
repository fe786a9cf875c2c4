//! `enseal log FILE [KEYPATH]`: the changes of each value of an encrypted
//! file from its git history (no key needed), newest first; `-r` over a
//! tree; text or JSON.

use std::path::{Path, PathBuf};

use super::args::{LogCmd, OutputFormat};
use super::bulk;
use super::io::ConfigContext;
use super::pipeline;
use crate::document::EncryptedDocument;
use crate::error::{Error, Result};
use crate::format::{FormatKind, StoreOptions};
use crate::history::{self, display_path, shown_text, ChangeKind, FileHistory, Leaves, Unknown};
use crate::keys::KeyContext;
use crate::metadata::Metadata;
use crate::tree_path::{self, Component};

/// A file's history and, with `--decrypt`, each version's plaintext
/// leaves (aligned with the history's commits) or why it did not decrypt.
struct Trail {
    history: FileHistory,
    plain: Option<Vec<std::result::Result<Leaves, String>>>,
}

impl Drop for Trail {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        for leaves in self.plain.iter_mut().flatten().flatten() {
            for text in leaves.values_mut() {
                text.zeroize();
            }
        }
    }
}

/// Reads a file's history; with `keys`, decrypts every version in memory.
fn read_trail(
    path: &Path,
    stores: &StoreOptions,
    keys: Option<&mut KeyContext>,
) -> std::result::Result<Trail, Unknown> {
    let Some(keys) = keys else {
        return history::read(path, stores).map(|history| Trail {
            history,
            plain: None,
        });
    };
    let mut versions = Vec::new();
    let mut plain = Vec::new();
    for raw in history::read_raw(path)? {
        let Some(bytes) = raw.bytes else {
            versions.push((raw.commit, None));
            plain.push(Ok(Leaves::new()));
            continue;
        };
        let kind = FormatKind::from_path(&raw.name);
        let Ok(parsed) = kind.store(stores).parse_encrypted(&bytes) else {
            continue;
        };
        versions.push((raw.commit, Some(history::leaves(&parsed.documents))));
        plain.push(decrypt_version(parsed, keys));
    }
    Ok(Trail {
        history: FileHistory::from_versions(versions),
        plain: Some(plain),
    })
}

/// The plaintext leaves of one version (MAC verified), or the first line
/// of why not.
fn decrypt_version(
    parsed: crate::format::EncryptedFile,
    keys: &mut KeyContext,
) -> std::result::Result<Leaves, String> {
    let raw = parsed
        .metadata
        .ok_or_else(|| "no sops metadata in this version".to_string())?;
    let metadata = Metadata::from_map(&raw).map_err(|e| format!("invalid sops metadata: {e}"))?;
    let decrypted = EncryptedDocument::new(parsed.documents, metadata)
        .decrypt(keys, false)
        .map_err(|e| e.to_string().lines().next().unwrap_or("").to_string())?;
    Ok(history::leaves(&decrypted.documents))
}

/// The old and new plaintexts of a change at commit `index` (old: the
/// version before it).
fn old_new(
    plain: &[std::result::Result<Leaves, String>],
    index: usize,
    key: &[Component],
    kind: ChangeKind,
) -> (Option<String>, Option<String>, Option<String>) {
    let mut error = None;
    let mut get = |i: usize| match &plain[i] {
        Ok(leaves) => leaves.get(key).map(|t| shown_text(t).to_string()),
        Err(e) => {
            error.get_or_insert_with(|| e.clone());
            None
        }
    };
    let old = match kind {
        ChangeKind::Added => None,
        _ if index > 0 => get(index - 1),
        _ => None,
    };
    let new = match kind {
        ChangeKind::Removed => None,
        _ => get(index),
    };
    (old, new, error)
}

/// Runs `log`.
pub(crate) fn run(cmd: &LogCmd, config_path: Option<&str>) -> Result<()> {
    let (paths, filter) = split_args(&cmd.args)?;
    let context = ConfigContext::load_quietly(config_path)?;
    let stores = context.stores();
    let files: Vec<PathBuf> = if cmd.recursive {
        bulk::encrypted_files(&paths, &context, None)?
    } else {
        match paths.as_slice() {
            [one] => vec![PathBuf::from(one)],
            [] => return Err(Error::NoFileSpecified),
            _ => {
                return Err(Error::Usage(
                    "enseal log takes one FILE (and a KEYPATH such as '[\"db\"]'); use -r for several files or a tree".into(),
                ))
            }
        }
    };
    if !cmd.recursive {
        let file = &files[0];
        if !file.is_file() {
            return Err(Error::Advice {
                code: 1,
                message: format!("enseal log: {}: no such file", file.display()),
                hint: "name an encrypted file tracked by git".into(),
            });
        }
    }
    let histories: Vec<std::result::Result<Trail, Unknown>> = if cmd.decrypt {
        let mut keys = pipeline::key_context(None)?;
        files
            .iter()
            .map(|path| read_trail(path, &stores, Some(&mut keys)))
            .collect()
    } else {
        bulk::run_parallel(
            &files,
            "log",
            false,
            || (),
            |_, path, _| read_trail(path, &stores, None),
        )
    };
    if !cmd.recursive {
        if let Err(unknown) = &histories[0] {
            return Err(Error::Advice {
                code: 1,
                message: format!(
                    "enseal log: the history of {} cannot be known: {unknown}",
                    files[0].display()
                ),
                hint: "run it in a full clone of the repository, on a file committed to git".into(),
            });
        }
    }
    match cmd.format {
        OutputFormat::Human => {
            for (i, (file, history)) in files.iter().zip(&histories).enumerate() {
                if i > 0 {
                    println!();
                }
                print!("{}", human(file, history, filter.as_deref()));
            }
        }
        OutputFormat::Json => {
            let files: Vec<serde_json::Value> = files
                .iter()
                .zip(&histories)
                .map(|(file, history)| json(file, history, filter.as_deref()))
                .collect();
            println!("{}", serde_json::json!({ "version": 1, "files": files }));
        }
    }
    Ok(())
}

/// The paths and the key path filter: an argument starting with `[` is the
/// key path (at most one; a file named so can be given as `./[…]`).
fn split_args(args: &[String]) -> Result<(Vec<String>, Option<Vec<Component>>)> {
    let mut paths = Vec::new();
    let mut filter = None;
    for arg in args {
        if !arg.starts_with('[') {
            paths.push(arg.clone());
            continue;
        }
        if filter.is_some() {
            return Err(Error::Usage("enseal log takes at most one KEYPATH".into()));
        }
        let path = tree_path::parse(arg).map_err(|e| {
            Error::Usage(format!(
                "enseal log: invalid KEYPATH {arg}: {e} (write it as '[\"db\"][\"password\"]')"
            ))
        })?;
        filter = Some(path);
    }
    Ok((paths, filter))
}

/// The values of `history` under `filter`, each with its changes newest
/// first.
fn values<'a>(
    history: &'a FileHistory,
    filter: Option<&'a [Component]>,
) -> impl Iterator<Item = (&'a Vec<Component>, &'a [history::Change])> + 'a {
    history
        .changes()
        .filter(move |(path, _)| filter.is_none_or(|f| path.starts_with(f)))
}

fn human(
    file: &Path,
    trail: &std::result::Result<Trail, Unknown>,
    filter: Option<&[Component]>,
) -> String {
    let mut out = format!("{}\n", file.display());
    let (history, plain) = match trail {
        Ok(t) => (&t.history, t.plain.as_deref()),
        Err(unknown) => {
            out.push_str(&format!("  history unknown: {unknown}\n"));
            return out;
        }
    };
    let mut any = false;
    for (path, changes) in values(history, filter) {
        any = true;
        out.push_str(&format!("  {}\n", display_path(path)));
        for change in changes.iter().rev() {
            let c = &history.commits[change.commit];
            out.push_str(&format!(
                "    {}  {}  {:<8} {} <{}>\n",
                c.date(),
                c.short(),
                change.kind.name(),
                c.author,
                c.email
            ));
            if let Some(plain) = plain {
                let (old, new, error) = old_new(plain, change.commit, path, change.kind);
                if let Some(old) = old {
                    out.push_str(&format!("      old: {}\n", one_line(&old)));
                }
                if let Some(new) = new {
                    out.push_str(&format!("      new: {}\n", one_line(&new)));
                }
                if let Some(error) = error {
                    out.push_str(&format!("      (not decrypted: {error})\n"));
                }
            }
        }
    }
    if !any {
        out.push_str("  no values\n");
    }
    out
}

/// A value on one line: control characters (newlines, terminal escapes)
/// escaped as in Rust strings (`\n`, `\u{1b}`), the rest as is.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn json(
    file: &Path,
    trail: &std::result::Result<Trail, Unknown>,
    filter: Option<&[Component]>,
) -> serde_json::Value {
    let path = file.display().to_string();
    let (history, plain) = match trail {
        Ok(t) => (&t.history, t.plain.as_deref()),
        Err(unknown) => {
            return serde_json::json!({ "path": path, "unknown": unknown.0, "values": [] })
        }
    };
    let values: Vec<serde_json::Value> = values(history, filter)
        .map(|(key, changes)| {
            let changes: Vec<serde_json::Value> = changes
                .iter()
                .rev()
                .map(|change| {
                    let c = &history.commits[change.commit];
                    let mut entry = serde_json::json!({
                        "commit": c.hash,
                        "date": c.date(),
                        "time": c.time,
                        "author": c.author,
                        "email": c.email,
                        "change": change.kind.name(),
                    });
                    if let (Some(plain), Some(object)) = (plain, entry.as_object_mut()) {
                        let (old, new, error) = old_new(plain, change.commit, key, change.kind);
                        object.insert("old".into(), old.into());
                        object.insert("new".into(), new.into());
                        object.insert("decrypt_error".into(), error.into());
                    }
                    entry
                })
                .collect();
            serde_json::json!({ "key": display_path(key), "changes": changes })
        })
        .collect();
    serde_json::json!({ "path": path, "unknown": null, "values": values })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_shown_on_one_line_without_escapes() {
        assert_eq!(one_line("a\nb\u{1b}[2J"), "a\\nb\\u{1b}[2J");
        assert_eq!(one_line("pässwörd #!"), "pässwörd #!");
    }

    #[test]
    fn a_bracketed_argument_is_the_key_path() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (paths, filter) = split_args(&args(&["f.yaml", "[\"db\"][0]"])).unwrap();
        assert_eq!(paths, ["f.yaml"]);
        assert_eq!(
            filter.unwrap(),
            [Component::Key("db".into()), Component::Index(0)]
        );
        assert!(split_args(&args(&["[\"a\"]", "[\"b\"]"])).is_err());
        assert!(split_args(&args(&["[db]"])).is_err());
    }
}

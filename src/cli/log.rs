//! `enseal log FILE [KEYPATH]`: the changes of each value of an encrypted
//! file from its git history (no key needed), newest first; `-r` over a
//! tree; text or JSON.

use std::path::{Path, PathBuf};

use super::args::{LogCmd, OutputFormat};
use super::bulk;
use super::io::ConfigContext;
use crate::error::{Error, Result};
use crate::history::{self, display_path, FileHistory, Unknown};
use crate::tree_path::{self, Component};

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
    let histories = bulk::run_parallel(
        &files,
        "log",
        false,
        || (),
        |_, path, _| history::read(path, &stores),
    );
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
    history: &std::result::Result<FileHistory, Unknown>,
    filter: Option<&[Component]>,
) -> String {
    let mut out = format!("{}\n", file.display());
    let history = match history {
        Ok(h) => h,
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
        }
    }
    if !any {
        out.push_str("  no values\n");
    }
    out
}

fn json(
    file: &Path,
    history: &std::result::Result<FileHistory, Unknown>,
    filter: Option<&[Component]>,
) -> serde_json::Value {
    let path = file.display().to_string();
    let history = match history {
        Ok(h) => h,
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
                    serde_json::json!({
                        "commit": c.hash,
                        "date": c.date(),
                        "time": c.time,
                        "author": c.author,
                        "email": c.email,
                        "change": change.kind.name(),
                    })
                })
                .collect();
            serde_json::json!({ "key": display_path(key), "changes": changes })
        })
        .collect();
    serde_json::json!({ "path": path, "unknown": null, "values": values })
}

//! `enseal git setup`: the managed block of `.gitattributes` next to
//! `.sops.yaml` and the repo-local config of the diff and merge drivers.

use std::path::Path;
use std::process::{Command, Stdio};

use super::globs::{glob_escape, regex_to_globs};
use super::{first_line, read, write, SetupArgs};
use crate::cli::io::ConfigContext;
use crate::error::{Error, Result};
use crate::format::{FormatKind, StoreOptions};
use crate::tree::Value;

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

/// Writes `.gitattributes` and the driver config (idempotent; with
/// `--dry-run` prints what would change).
/// The program git's drivers run: `--program`, else `enseal` when `PATH`
/// finds one, else this executable by its absolute path (with a note: a
/// bare `enseal` would make every `git diff` fail).
fn driver_program(given: Option<&str>) -> String {
    if let Some(program) = given {
        return program.to_string();
    }
    if crate::cli::io::find_on_path("enseal").is_some() {
        return "enseal".to_string();
    }
    match std::env::current_exe() {
        Ok(exe) => {
            let exe = exe.display().to_string();
            crate::cli::io::warn(format_args!(
                "enseal is not on PATH: the git drivers run {exe} (move enseal onto PATH and run `enseal git setup` again, or pass --program)"
            ));
            exe
        }
        Err(_) => "enseal".to_string(),
    }
}

pub(super) fn setup(args: &SetupArgs, config: Option<&str>) -> Result<()> {
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
    let program = shell_word(&driver_program(args.program.as_deref()));
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

#[cfg(test)]
mod tests {
    use super::*;

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

//! `enseal check [PATHS]`: checks files against `.sops.yaml` without any
//! private key, for CI and pre-commit. Exit codes: 0 clean, 10 findings,
//! 1 usage or config errors.

use std::path::Path;

use super::args::{CheckCmd, OutputFormat};
use super::bulk::{self, Coverage};
use super::color;
use super::io::ConfigContext;
use crate::check::{self, rotation, scan, Finding, Kind};
use crate::error::{Error, Result};
use crate::format::FormatKind;
use crate::metadata::Metadata;

/// The exit code when there are findings.
pub(crate) const EXIT_FINDINGS: i32 = 10;

/// Runs `check`. Errors other than findings (a missing path, a config that
/// does not load) exit with 1.
pub(crate) fn run(cmd: &CheckCmd, config_path: Option<&str>) -> Result<()> {
    run_checks(cmd, config_path).map_err(|e| match e {
        Error::Coded(EXIT_FINDINGS, _) => e,
        other if other.exit_code() == 1 => other,
        other => Error::Coded(1, other.to_string()),
    })
}

fn run_checks(cmd: &CheckCmd, config_path: Option<&str>) -> Result<()> {
    let context = ConfigContext::load_quietly(config_path)?;
    let Some(config) = &context.config else {
        return Err(Error::Advice {
            code: 1,
            message: format!(
                "enseal check: no {} found in {} or above it",
                crate::config::CONFIG_FILE_NAME,
                context.cwd.display()
            ),
            hint: "create one with creation rules for your secret files, or name it with --config FILE".into(),
        });
    };
    if !config.has_creation_rules() {
        return Err(Error::Advice {
            code: 1,
            message: format!(
                "enseal check: {} has no creation_rules, so nothing says which files must be encrypted",
                config.path.display()
            ),
            hint: "add a creation_rules list with a path_regex for each kind of secret file".into(),
        });
    }
    let config_shown = config
        .path
        .strip_prefix(&context.cwd)
        .unwrap_or(&config.path)
        .display()
        .to_string();
    let config_findings: Vec<Finding> = config
        .unknown_keys
        .iter()
        .map(|unknown| Finding {
            path: config_shown.clone(),
            line: None,
            kind: Kind::Config,
            rule: Some(unknown.at.clone()),
            message: unknown.message(),
            details: None,
        })
        .collect();
    let rotation = rotation_policy(cmd, config, &config_shown)?;
    let roots = bulk::default_roots(&cmd.paths, &context);
    let files = bulk::walk(&roots)?;
    // An invalid creation rule is a config error, reported once.
    for file in &files {
        bulk::coverage(&context, file)?;
    }
    let results = bulk::run_parallel(
        &files,
        "check",
        false,
        || (),
        |_, path, _| check_file(path, &context, cmd.scan, rotation.as_ref()),
    );
    let mut findings: Vec<Finding> = config_findings
        .into_iter()
        .chain(results.into_iter().flatten())
        .collect();
    if cmd.history {
        findings.extend(history_findings(&context.cwd)?);
    }
    match cmd.format {
        OutputFormat::Human => {
            let paint = |kind: &str| color::paint(color::Stream::Stdout, color::FINDING, kind);
            for f in &findings {
                println!("{}", f.human_painted(&paint));
            }
        }
        OutputFormat::Json => println!("{}", check::json_report(&findings, files.len())),
    }
    let summary = check::summary(&findings, files.len());
    if findings.is_empty() {
        eprintln!("{summary}");
        return Ok(());
    }
    Err(Error::Coded(EXIT_FINDINGS, summary))
}

/// The rotation policy and the time to measure ages at: `None` without
/// `rotation:` rules (and without `--rotation`). `ENSEAL_NOW`
/// (`YYYY-MM-DD` or Unix seconds) replaces the clock, for tests.
fn rotation_policy(
    cmd: &CheckCmd,
    config: &crate::config::Config,
    config_shown: &str,
) -> Result<Option<(rotation::Policy, i64)>> {
    let policy = match &config.rotation {
        Some(value) => rotation::Policy::parse(value).map_err(|message| Error::Advice {
            code: 1,
            message: format!("enseal check: {config_shown}: {message}"),
            hint: "see docs/rotation.md for the syntax of rotation:".into(),
        })?,
        None => rotation::Policy::default(),
    };
    if policy.is_empty() {
        if cmd.rotation {
            return Err(Error::Advice {
                code: 1,
                message: format!(
                    "enseal check: --rotation, but {config_shown} has no rotation: rules"
                ),
                hint: "add e.g. `rotation: {default: 365d}` to .sops.yaml (see docs/rotation.md)"
                    .into(),
            });
        }
        return Ok(None);
    }
    let now = match std::env::var("ENSEAL_NOW") {
        Ok(text) if !text.is_empty() => {
            rotation::parse_now(&text).ok_or_else(|| Error::Advice {
                code: 1,
                message: "enseal check: ENSEAL_NOW is neither YYYY-MM-DD nor Unix seconds".into(),
                hint: "unset ENSEAL_NOW (it is meant for tests)".into(),
            })?
        }
        _ => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
    };
    Ok(Some((policy, now)))
}

/// True when the bytes hold what `kind`'s store writes for the metadata: a
/// top-level `sops:` line (YAML), a `"sops"` member (JSON, binary), a
/// `sops_` line (dotenv), a `[sops]` section (INI, TOML). The word alone
/// (`.gitattributes` naming `.sops.yaml`) is not enough.
fn has_metadata_marker(kind: FormatKind, bytes: &[u8]) -> bool {
    let line_starts = |prefix: &[u8]| {
        bytes.starts_with(prefix)
            || memchr::memmem::find_iter(bytes, prefix).any(|at| at > 0 && bytes[at - 1] == b'\n')
    };
    match kind {
        FormatKind::Yaml => line_starts(b"sops:"),
        // An encrypted JSON or binary file is a JSON object: source code or
        // prose that mentions "sops" is not one.
        FormatKind::Json | FormatKind::Binary => {
            let text = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
            text.trim_ascii_start().starts_with(b"{")
                && memchr::memmem::find(bytes, b"\"sops\"").is_some()
        }
        FormatKind::Dotenv => line_starts(b"sops_"),
        FormatKind::Ini | FormatKind::Toml => line_starts(b"[sops]"),
    }
}

/// The findings of one file.
fn check_file(
    path: &Path,
    context: &ConfigContext,
    scan_plain: bool,
    rotation: Option<&(rotation::Policy, i64)>,
) -> Vec<Finding> {
    let name = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return unreadable(&name, format!("cannot read: {e}")),
    };
    let coverage = bulk::coverage(context, path).unwrap_or(Coverage::None);
    let kind = FormatKind::from_path(&name);
    let stores = context.stores();
    // A file that carries what its store writes for the metadata but does
    // not parse (an alias bomb under valid metadata, say) is a finding,
    // never a silent pass.
    let parsed = if has_metadata_marker(kind, &bytes) {
        match kind.store(&stores).parse_encrypted(&bytes) {
            Ok(parsed) => Some(parsed),
            Err(e) => {
                return unreadable(&name, format!("cannot be read, so it was not checked: {e}"))
            }
        }
    } else {
        None
    };
    let Some((parsed, raw)) = parsed.and_then(|mut p| p.metadata.take().map(|raw| (p, raw))) else {
        return plain_findings(&name, &bytes, coverage, scan_plain);
    };
    let mut out: Vec<Finding> = check::metadata_problems(&raw)
        .into_iter()
        .map(|m| finding(&name, None, Kind::Metadata, None, m))
        .collect();
    let Ok(metadata) = Metadata::from_map(&raw) else {
        return out;
    };
    let text = String::from_utf8_lossy(&bytes);
    let rule = metadata.effective_rule();
    for key_path in check::plaintext_values(&parsed.documents, &rule) {
        let shown = check::display_path(&key_path);
        let (field, value) = rule.field();
        out.push(finding(
            &name,
            check::find_line(&text, &key_path),
            Kind::PlaintextValue,
            Some(shown.clone()),
            format!(
                "{shown} is not encrypted but the file's rule ({field}: {value:?}) says it must be (re-encrypt with `enseal edit`)"
            ),
        ));
    }
    if let Some((policy, now)) = rotation {
        out.extend(rotation::findings(
            path,
            &name,
            &text,
            &parsed.documents,
            &stores,
            policy,
            *now,
        ));
    }
    if let (Coverage::Rule(_) | Coverage::CatchAll(_), Some(config)) = (coverage, &context.config) {
        if let Ok(Some(rule)) = config.rule_for_file(path, &context.cwd) {
            for message in check::key_drift(&metadata.key_groups, &rule.key_groups) {
                out.push(finding(
                    &name,
                    None,
                    Kind::KeyDrift,
                    None,
                    format!(
                        "{message} (creation_rules[{}]; fix with `enseal updatekeys -y {name}`)",
                        rule.index
                    ),
                ));
            }
        }
    }
    out
}

/// The findings of a file without sops metadata: unencrypted where a
/// creation rule covers it, else (with `--scan`) its likely secrets.
fn plain_findings(name: &str, bytes: &[u8], coverage: Coverage, scan_plain: bool) -> Vec<Finding> {
    match coverage {
        Coverage::Rule(index) => vec![finding(
            name,
            None,
            Kind::Unencrypted,
            None,
            format!(
                "creation_rules[{index}] covers this file but it is not encrypted (encrypt it with `enseal encrypt -i {name}`)"
            ),
        )],
        _ if scan_plain => scan::scan(bytes)
            .into_iter()
            .map(|hit| {
                finding(
                    name,
                    Some(hit.line),
                    Kind::Secret,
                    Some(hit.rule.to_string()),
                    format!("{} in a file no creation rule encrypts", hit.description),
                )
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The findings of `--scan --history`: likely secrets in every file
/// version of the git history, named `COMMIT:PATH` (short commit).
fn history_findings(cwd: &Path) -> Result<Vec<Finding>> {
    let hits = check::history::scan_history(cwd).map_err(|e| Error::Advice {
        code: 1,
        message: format!(
            "enseal check --history: cannot read the git history of {}: {}",
            cwd.display(),
            e.0
        ),
        hint: "run it inside a git repository, with git installed".into(),
    })?;
    Ok(hits
        .into_iter()
        .map(|h| {
            let short = &h.commit[..h.commit.len().min(12)];
            finding(
                &format!("{short}:{}", h.path),
                Some(h.hit.line),
                Kind::Secret,
                Some(h.hit.rule.to_string()),
                format!(
                    "{} in the history (commit {short}; it stays readable there after removal: rotate it)",
                    h.hit.description
                ),
            )
        })
        .collect())
}

/// The one finding of a file that could not be read or parsed: `message`
/// says which, and that it was not checked.
fn unreadable(name: &str, message: String) -> Vec<Finding> {
    vec![finding(name, None, Kind::Unreadable, None, message)]
}

/// A finding about the file `name`.
fn finding(
    name: &str,
    line: Option<usize>,
    kind: Kind,
    rule: Option<String>,
    message: String,
) -> Finding {
    Finding {
        path: name.to_string(),
        line,
        kind,
        rule,
        message,
        details: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_sops_alone_is_no_metadata_marker() {
        let cases: [(FormatKind, &[u8], bool); 10] = [
            (
                FormatKind::Binary,
                b"# generated from .sops.yaml\n*.enc.yaml diff=enseal\n",
                false,
            ),
            (FormatKind::Yaml, b"x: sops\n", false),
            (FormatKind::Yaml, b"a: 1\nsops:\n    mac: x\n", true),
            (FormatKind::Binary, b"{\"data\": \"x\", \"sops\": {}}", true),
            (FormatKind::Dotenv, b"A=1\nsops_mac=x\n", true),
            (FormatKind::Ini, b"[a]\nk=v\n[sops]\nmac=x\n", true),
            (FormatKind::Ini, b"[a]\nk=[sops]\n", false),
            // Source code or prose that quotes "sops" is no JSON object.
            (
                FormatKind::Binary,
                b"let k = \"sops\"; // {\"sops\": {}}\n",
                false,
            ),
            (FormatKind::Json, b"[\"sops\"]", false),
            (FormatKind::Json, b"\xef\xbb\xbf \n{\"sops\": {}}", true),
        ];
        for (kind, text, marked) in cases {
            assert_eq!(
                has_metadata_marker(kind, text),
                marked,
                "{kind:?}: {}",
                String::from_utf8_lossy(text)
            );
        }
    }
}

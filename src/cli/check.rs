//! `enseal check [PATHS]`: checks files against `.sops.yaml` without any
//! private key, for CI and pre-commit. Exit codes: 0 clean, 10 findings,
//! 1 usage or config errors.

use std::path::Path;

use super::args::{CheckCmd, OutputFormat};
use super::bulk::{self, Coverage};
use super::io::ConfigContext;
use crate::check::{self, scan, Finding, Kind};
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
    let context = ConfigContext::load(config_path)?;
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
        |_, path, _| check_file(path, &context, cmd.scan),
    );
    let findings: Vec<Finding> = results.into_iter().flatten().collect();
    match cmd.format {
        OutputFormat::Human => {
            for f in &findings {
                println!("{}", f.human());
            }
        }
        OutputFormat::Json => println!("{}", check::json_report(&findings, files.len())),
    }
    if findings.is_empty() {
        return Ok(());
    }
    Err(Error::Coded(
        EXIT_FINDINGS,
        format!(
            "enseal check: {} finding(s) in {} file(s)",
            findings.len(),
            files.len()
        ),
    ))
}

/// The findings of one file.
fn check_file(path: &Path, context: &ConfigContext, scan_plain: bool) -> Vec<Finding> {
    let name = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            return vec![finding(
                &name,
                None,
                Kind::Unreadable,
                None,
                format!("cannot read: {e}"),
            )];
        }
    };
    let coverage = bulk::coverage(context, path).unwrap_or(Coverage::None);
    let kind = FormatKind::from_path(&name);
    let stores = context.stores();
    // Every store keeps its metadata under a key starting with `sops`; a
    // file that has one but does not parse (an alias bomb under valid
    // metadata, say) is a finding, never a silent pass.
    let parsed = if memchr::memmem::find(&bytes, b"sops").is_some() {
        match kind.store(&stores).parse_encrypted(&bytes) {
            Ok(parsed) => Some(parsed),
            Err(e) => {
                return vec![finding(
                    &name,
                    None,
                    Kind::Unreadable,
                    None,
                    format!("cannot be read, so it was not checked: {e}"),
                )]
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
    }
}

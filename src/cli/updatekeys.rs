//! `enseal updatekeys FILE…`: bring each file's master keys in line with its
//! creation rule in `.sops.yaml`. When keys are only added (or the Shamir
//! threshold changes), the data key is kept (re-wrapped for the new keys),
//! so values, `mac` and `lastmodified` do not change. When a key is removed,
//! its holder still has the data key: the file gets a new one and every
//! value is encrypted again (sops keeps the data key).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use super::args::resolve::Updatekeys;
use super::args::{IoArgs, TypeArgs};
use super::io::ConfigContext;
use super::pipeline::{apply_key_groups, key_context, lock_encrypted, write_file};
use super::settings::rule_key_groups;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::keys::{changes, KeyContext};
use crate::tree::Timestamp;

/// A log line as Go's standard logger writes it (`2006/01/02 15:04:05 …`,
/// UTC here).
fn log(message: &str) {
    let t = Timestamp::now_utc();
    eprintln!(
        "{:04}/{:02}/{:02} {:02}:{:02}:{:02} {message}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    );
}

/// Runs `updatekeys` on every file; each failure is reported and counted,
/// and the others are still processed.
pub(crate) fn run(options: &Updatekeys, config_path: Option<&str>) -> Result<()> {
    let files = &options.files;
    let context = ConfigContext::load(config_path)?;
    let Some(config) = &context.config else {
        return Err(Error::Usage("config file not found".into()));
    };
    if files.is_empty() {
        return Err(Error::NoFileSpecified);
    }
    let mut keys = key_context(options.decryption_order.as_deref())?;
    if files.len() == 1 {
        return update_file(&files[0], config, &context, options, &mut keys);
    }
    let mut failed = 0;
    for file in files {
        if let Err(e) = update_file(file, config, &context, options, &mut keys) {
            eprintln!("{e}");
            failed += 1;
        }
    }
    if failed > 0 {
        return Err(Error::Usage(format!("failed updating {failed} key(s)")));
    }
    Ok(())
}

fn update_file(
    file: &str,
    config: &Config,
    context: &ConfigContext,
    options: &Updatekeys,
    keys: &mut KeyContext,
) -> Result<()> {
    let path = PathBuf::from(file);
    let abs = crate::config::absolute_path(&path, &context.cwd);
    check_regular_file(&path, &abs)?;
    log(&format!("Syncing keys for file {}", abs.display()));
    if !config.has_creation_rules() {
        return Err(Error::Usage(format!(
            "The config file {} does not contain any creation rule",
            config.path.display()
        )));
    }
    let new_groups = rule_key_groups(config, context, &path)?;
    let io = IoArgs {
        types: TypeArgs::both(options.input_type.as_deref()),
        ..Default::default()
    };
    // Locked until the new version is renamed over the file.
    let locked = lock_encrypted(file, &io, context.stores())?;
    let metadata = &locked.encrypted.metadata;
    let diffs = changes::diff_groups(&metadata.key_groups, &new_groups);
    let threshold = changes::updated_threshold(metadata.shamir_threshold, new_groups.len());
    if !diffs.iter().any(changes::GroupDiff::changes) && threshold == metadata.shamir_threshold {
        log(&format!("File {} already up to date", abs.display()));
        return Ok(());
    }
    print!(
        "{}",
        changes::render_changes(metadata.shamir_threshold, threshold, &diffs)
    );
    if !options.yes && !confirm()? {
        log(&format!("File {} left unchanged", abs.display()));
        return Ok(());
    }
    let removes = changes::removes_a_key(&metadata.key_groups, &new_groups);
    let (in_kind, out_kind) = locked.kinds;
    let preserve =
        super::pipeline::preserve_mode(options.preserve_format, context, in_kind, out_kind)?
            .then_some((in_kind, locked.bytes.as_slice()));
    let out = apply_key_groups(
        locked.encrypted,
        new_groups,
        threshold,
        keys,
        locked.out_store.as_ref(),
        file,
        preserve,
    )?;
    write_file(Path::new(file), &out)?;
    if removes {
        log(&format!(
            "File {}: a key was removed, so the file has a new data key (every value encrypted again)",
            abs.display()
        ));
    }
    log(&format!("File {} synced with new keys", abs.display()));
    Ok(())
}

/// `path` (shown as `abs`) must exist and not be a directory.
fn check_regular_file(path: &Path, abs: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::Usage(format!(
            "stat {}: {}",
            abs.display(),
            if e.kind() == std::io::ErrorKind::NotFound {
                "no such file or directory".to_string()
            } else {
                e.to_string()
            }
        ))
    })?;
    if meta.is_dir() {
        return Err(Error::Usage("can't operate on a directory".into()));
    }
    Ok(())
}

/// Asks `Is this okay?` on the terminal. Without one, fails: `--yes` is
/// the way to run unattended.
fn confirm() -> Result<bool> {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(Error::Usage(
            "cannot ask for confirmation: no terminal (use --yes to apply the changes without asking)"
                .into(),
        ));
    }
    super::prompt::confirm("Is this okay?")
}

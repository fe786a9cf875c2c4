//! `enseal updatekeys FILE…`: bring each file's master keys in line with its
//! creation rule in `.sops.yaml`. When keys are only added (or the Shamir
//! threshold changes), the data key is kept (re-wrapped for the new keys),
//! so values, `mac` and `lastmodified` do not change. When a key is removed,
//! its holder still has the data key: the file gets a new one and every
//! value is encrypted again (sops keeps the data key).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use super::decrypt::key_context;
use super::decrypt::load_encrypted;
use super::io::{kinds, store_options, ConfigContext};
use super::IoArgs;
use crate::config::Config;
use crate::document::EncryptedDocument;
use crate::error::{Error, Result};
use crate::format::Store;
use crate::keys::{self, changes, KeyContext};
use crate::tree::Timestamp;

/// Options of `updatekeys`.
pub(crate) struct Options<'a> {
    /// Skip the confirmation.
    pub yes: bool,
    /// `--input-type`.
    pub input_type: Option<&'a str>,
    /// `--decryption-order`.
    pub decryption_order: Option<&'a str>,
    /// `--config`.
    pub config_path: Option<&'a str>,
}

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
pub(crate) fn run(files: &[String], options: &Options) -> Result<()> {
    let context = ConfigContext::load(options.config_path)?;
    let Some(config) = &context.config else {
        return Err(Error::Usage("config file not found".into()));
    };
    if files.is_empty() {
        return Err(Error::NoFileSpecified);
    }
    let mut keys = key_context(options.decryption_order)?;
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

/// The key groups the creation rule for `path` asks for.
pub(crate) fn rule_key_groups(
    config: &Config,
    context: &ConfigContext,
    path: &Path,
) -> Result<Vec<keys::KeyGroup>> {
    let rule = config
        .rule_for_file(path, &context.cwd)
        .map_err(|e| Error::Usage(format!("error loading config: {e}")))?
        .ok_or_else(|| {
            Error::Usage(format!(
                "The config file {} does not contain any creation rule",
                config.path.display()
            ))
        })?;
    keys::from_specs(&rule.key_groups, &[]).map_err(|e| {
        Error::Key(format!(
            "{e} (config file {}, creation_rules[{}])",
            config.path.display(),
            rule.index
        ))
    })
}

fn update_file(
    file: &str,
    config: &Config,
    context: &ConfigContext,
    options: &Options,
    keys: &mut KeyContext,
) -> Result<()> {
    let path = PathBuf::from(file);
    let abs = crate::config::absolute_path(&path, &context.cwd);
    let meta = std::fs::metadata(&path).map_err(|e| {
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
    log(&format!("Syncing keys for file {}", abs.display()));
    if !config.has_creation_rules() {
        return Err(Error::Usage(format!(
            "The config file {} does not contain any creation rule",
            config.path.display()
        )));
    }
    let new_groups = rule_key_groups(config, context, &path)?;

    // Held until the new version is renamed over the file.
    let (_lock, bytes) = crate::lock::lock_and_read(&path, file)?;
    let io = IoArgs {
        input_type: options.input_type.map(str::to_string),
        output_type: options.input_type.map(str::to_string),
        ..Default::default()
    };
    let (in_kind, out_kind) = kinds(&io, file);
    let store_opts = store_options(&io, out_kind, context.stores(), true)?;
    let in_store = in_kind.store(&store_opts);
    let out_store = out_kind.store(&store_opts);
    let encrypted = load_encrypted(in_store.as_ref(), &bytes, file)?;
    let metadata = &encrypted.metadata;

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
    let removes = changes::removes_a_key(&encrypted.metadata.key_groups, &new_groups);
    let out = apply(
        encrypted,
        new_groups,
        threshold,
        keys,
        out_store.as_ref(),
        file,
    )?;
    crate::fsutil::write_atomic(Path::new(file), &out).map_err(|source| Error::WriteOutput {
        path: file.to_string(),
        source,
    })?;
    if removes {
        log(&format!(
            "File {}: a key was removed, so the file has a new data key (every value encrypted again)",
            abs.display()
        ));
    }
    log(&format!("File {} synced with new keys", abs.display()));
    Ok(())
}

/// The bytes of `encrypted` with `new_groups` (and `threshold`) as its key
/// groups. Keys only added: the data key is recovered and re-wrapped, the
/// values, `mac` and `lastmodified` stay. A key removed (from its group, as
/// the diff shows it): its holder has the data key, so every value is
/// decrypted (MAC verified) and encrypted again under a new one (sops keeps
/// the data key here).
pub(crate) fn apply(
    encrypted: EncryptedDocument,
    new_groups: Vec<keys::KeyGroup>,
    threshold: usize,
    keys: &mut KeyContext,
    out_store: &dyn Store,
    name: &str,
) -> Result<Vec<u8>> {
    let mut groups = new_groups;
    // Check before asking for identities: a rule the data key cannot be
    // wrapped for fails without touching the file.
    changes::check_threshold(groups.len(), threshold).map_err(|e| Error::Key(e).in_file(name))?;
    if changes::removes_a_key(&encrypted.metadata.key_groups, &groups) {
        changes::check_wrappable(&groups).map_err(|e| Error::Key(e).in_file(name))?;
        let rekeyed = encrypted
            .rekey(keys, groups, threshold)
            .map_err(|e| match e {
                Error::RetrieveKey(_) => e,
                other => other.in_file(name),
            })?;
        return out_store
            .emit_encrypted(&rekeyed.documents, &rekeyed.metadata.to_map())
            .map_err(|e| Error::Dump(e.to_string()).in_file(name));
    }
    let mut encrypted = encrypted;
    let metadata = &mut encrypted.metadata;
    let data_key = changes::recover(&metadata.key_groups, metadata.shamir_threshold, keys)
        .map_err(Error::RetrieveKey)?;
    changes::rewrap(&mut groups, threshold, &data_key)
        .map_err(|e| Error::GenerateDataKey(e).in_file(name))?;
    metadata.shamir_threshold = changes::recorded_threshold(groups.len(), threshold);
    metadata.key_groups = groups;
    out_store
        .emit_encrypted(&encrypted.documents, &encrypted.metadata.to_map())
        .map_err(|e| Error::Dump(e.to_string()).in_file(name))
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
    dialoguer::Confirm::new()
        .with_prompt("Is this okay?")
        .interact()
        .map_err(|e| Error::Usage(format!("cannot ask for confirmation: {e}")))
}

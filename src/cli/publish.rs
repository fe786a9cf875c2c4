//! `enseal publish FILE|DIR`: decrypts each file and publishes it to the
//! destination its `.sops.yaml` destination rule names, asking first unless
//! `--yes` (sops 3.13 semantics; Vault KV and, in `publish_encrypted`,
//! GCS destinations so far).

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use super::args::resolve::Publish;
use super::args::IoArgs;
use super::io::{warn, ConfigContext};
use super::pipeline::{self, Source};
use crate::error::{Error, Result};
use crate::publish::{destination_name, to_json, walk, wipe, Destination};

/// `publish`: every file of the argument (a directory only with
/// `--recursive`), stopping at the first failure.
pub(crate) fn run(args: &Publish, config_path: Option<&str>) -> Result<()> {
    let context = ConfigContext::load(config_path)?;
    if context.config.is_none() {
        return Err(Error::Advice {
            code: 1,
            message: "config file not found".into(),
            hint: "publish needs a .sops.yaml with destination_rules (or --config FILE)".into(),
        });
    }
    let root = Path::new(&args.file);
    let metadata = std::fs::metadata(root)
        .map_err(|e| Error::Usage(format!("stat {}: {}", args.file, io_message(&e))))?;
    if metadata.is_dir() && !args.recursive {
        return Err(Error::Usage(
            "can't operate on a directory without --recursive flag.".into(),
        ));
    }
    let files =
        walk(root).map_err(|e| Error::Usage(format!("{}: {}", args.file, io_message(&e))))?;
    for file in files {
        publish_one(args, &context, &file, root)?;
    }
    Ok(())
}

/// Go's wording of the common I/O errors.
fn io_message(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

fn publish_one(args: &Publish, context: &ConfigContext, file: &Path, root: &Path) -> Result<()> {
    let config = context.config.as_ref().expect("checked by run");
    let shown = file.to_string_lossy().into_owned();
    let absolute = context.cwd.join(file);
    let absolute_shown = absolute.to_string_lossy().into_owned();
    let rule = config
        .destination_for(&shown)
        .map_err(|e| Error::Usage(e.to_string()))?;
    let destination = Destination::of_rule(rule)
        .ok_or_else(|| Error::Usage("no destination configured for this file".into()))?;
    if let Some(kind) = destination.unsupported() {
        return Err(Error::Advice {
            code: 1,
            message: format!("{shown}: publishing to {kind} is not supported by enseal yet"),
            hint: "publish to a Vault KV destination (vault_path), or use sops for this rule"
                .into(),
        });
    }
    let name = destination_name(
        file,
        args.recursive.then_some(root),
        args.omit_extensions || rule.omit_extensions,
    );
    #[cfg(feature = "gcp")]
    if let Destination::Gcs { .. } = &destination {
        let path = destination.path(&name);
        return super::publish_encrypted::publish_gcs(
            args,
            context,
            rule,
            &shown,
            &absolute_shown,
            &path,
            &name,
        );
    }
    let Destination::Vault(vault) = &destination else {
        unreachable!("only Vault is supported")
    };

    let mut keys = pipeline::key_context(args.decryption_order.as_deref())?;
    let source = Source::read(context, Some(&shown), &IoArgs::default(), false, false)?;
    let encrypted = source.load_encrypted()?;
    let decrypted = pipeline::decrypt(encrypted, &mut keys, false, source.name())?;
    let data = to_json(&decrypted.documents).map_err(|e| {
        Error::Coded(
            crate::error::exit::ERROR_DUMPING_TREE,
            format!("{shown}: {e}"),
        )
    });
    decrypted.wipe_and_leak();
    let data = data?;
    let mut data_value = serde_json::Value::Object(data);

    if !args.yes && !confirm(&absolute_shown, &destination.path(&name))? {
        wipe(&mut data_value);
        let message = format!("Publication of {absolute_shown} canceled");
        if args.recursive {
            println!("{message}");
            return Ok(());
        }
        return Err(Error::Usage(message));
    }

    let data = data_value.as_object().expect("made from a map");
    let result = vault.publish(data, &name);
    wipe(&mut data_value);
    let published = result.map_err(|e| Error::Usage(format!("{shown}: {e}")))?;
    for warning in &published.warnings {
        warn(warning);
    }
    if published.up_to_date {
        eprintln!("Secret in {} is already up-to-date.", published.secret_path);
    }
    Ok(())
}

/// Asks `uploading FILE to DEST ? (y/n): ` until the answer is `y` or `n`.
/// Without a terminal on standard input (and no `--yes`) there is no one to
/// ask: an error with the fix.
pub(super) fn confirm(file: &str, destination: &str) -> Result<bool> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Error::Advice {
            code: 1,
            message: format!(
                "publishing {file} needs a confirmation, and standard input is not a terminal"
            ),
            hint: "pass --yes to publish without asking".into(),
        });
    }
    let mut lines = stdin.lock().lines();
    loop {
        print!("uploading {file} to {destination} ? (y/n): ");
        let _ = std::io::stdout().flush();
        match lines.next() {
            Some(Ok(line)) if line.trim() == "y" => return Ok(true),
            Some(Ok(line)) if line.trim() == "n" => return Ok(false),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(Error::Usage(format!("cannot read the answer: {e}"))),
            None => return Err(Error::Usage("EOF".into())),
        }
    }
}

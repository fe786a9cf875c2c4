//! `enseal publish FILE|DIR`: decrypts each file and publishes it to the
//! destination its `.sops.yaml` destination rule names, asking first unless
//! `--yes` (sops 3.13 semantics): Vault KV, S3, Google Cloud Storage (in
//! `publish_encrypted`, with what object stores get) and AWS Secrets
//! Manager (an enseal extension).

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
    let rule = config
        .destination_for(&shown)
        .map_err(|e| Error::Usage(e.to_string()))?;
    let destination = Destination::of_rule(rule)
        .ok_or_else(|| Error::Usage("no destination configured for this file".into()))?;
    if let Some(kind) = destination.unsupported() {
        return Err(Error::Advice {
            code: 1,
            message: format!("{shown}: publishing to {kind} is not supported by enseal yet"),
            hint: "install an enseal built with the default features, or use sops for this rule"
                .into(),
        });
    }
    let name = destination_name(
        file,
        args.recursive.then_some(root),
        args.omit_extensions || rule.omit_extensions,
    );
    let one = One {
        args,
        context,
        file,
        shown: &shown,
        name: &name,
        destination: &destination,
    };
    match &destination {
        Destination::Vault(vault) => publish_vault(&one, vault),
        Destination::S3(s3) => publish_s3(&one, rule, s3),
        Destination::SecretsManager(sm) => publish_secrets_manager(&one, rule, sm),
        #[cfg(feature = "gcp")]
        Destination::Gcs { .. } => super::publish_encrypted::publish_gcs(
            args,
            context,
            rule,
            &shown,
            &one.absolute(),
            &destination.path(&name),
            &name,
        ),
        #[cfg(not(feature = "gcp"))]
        Destination::Gcs { .. } => unreachable!("refused above"),
    }
}

/// One file to publish and where.
struct One<'a> {
    args: &'a Publish,
    context: &'a ConfigContext,
    file: &'a Path,
    /// The file as given or walked, for messages and rule matching.
    shown: &'a str,
    /// Its destination name.
    name: &'a str,
    destination: &'a Destination,
}

impl One<'_> {
    /// The file's absolute path, as sops shows it.
    fn absolute(&self) -> String {
        self.context
            .cwd
            .join(self.file)
            .to_string_lossy()
            .into_owned()
    }

    /// The file, read, checked to be encrypted and parsed.
    fn load(&self) -> Result<(Source, crate::document::EncryptedDocument)> {
        let source = Source::read(
            self.context,
            Some(self.shown),
            &IoArgs::default(),
            false,
            false,
        )?;
        let encrypted = source.load_encrypted()?;
        Ok((source, encrypted))
    }

    /// The file, read and decrypted, with its source.
    fn decrypt(&self) -> Result<(Source, crate::document::Decrypted)> {
        let mut keys = pipeline::key_context(self.args.decryption_order.as_deref())?;
        let (source, encrypted) = self.load()?;
        let decrypted = pipeline::decrypt(encrypted, &mut keys, false, source.name())?;
        Ok((source, decrypted))
    }

    /// The decrypted documents as one JSON object (as Vault and Secrets
    /// Manager get them); the plaintext tree is wiped.
    fn decrypted_json(&self) -> Result<serde_json::Value> {
        let (_, decrypted) = self.decrypt()?;
        let data = to_json(&decrypted.documents).map_err(|e| {
            Error::Coded(
                crate::error::exit::ERROR_DUMPING_TREE,
                format!("{}: {e}", self.shown),
            )
        });
        decrypted.wipe_and_leak();
        Ok(serde_json::Value::Object(data?))
    }

    /// Asks before publishing unless `--yes`: `Ok(false)` when the answer
    /// is no and the walk goes on (`--recursive`), an error when it is no
    /// for a single file.
    fn confirmed(&self) -> Result<bool> {
        let absolute = self.absolute();
        if self.args.yes || confirm(&absolute, &self.destination.path(self.name))? {
            return Ok(true);
        }
        let message = format!("Publication of {absolute} canceled");
        if self.args.recursive {
            println!("{message}");
            return Ok(false);
        }
        Err(Error::Usage(message))
    }

    /// An error of the destination, naming the file.
    fn failed(&self, e: String) -> Error {
        Error::Usage(format!("{}: {e}", self.shown))
    }

    /// A destination rule refused before any request, naming the file.
    fn refused(&self, rule: &crate::config::DestinationRule, e: String) -> Error {
        let config = self.context.config.as_ref().expect("checked by run");
        Error::Advice {
            code: 1,
            message: format!("{}: {e}", self.shown),
            hint: format!(
                "fix destination_rules[{}] in {}",
                rule.index,
                crate::error::shown(&config.path.display().to_string())
            ),
        }
    }

    /// Refuses an AWS destination in a build without the `aws` feature,
    /// before the file is read.
    fn aws_available(&self) -> Result<()> {
        crate::publish::aws::available().map_err(|e| Error::Advice {
            code: 1,
            message: format!("{}: {e}", self.shown),
            hint: "install an enseal built with the default features, or use sops for this rule"
                .into(),
        })
    }

    /// A failed AWS call, naming the file.
    fn aws_failed(&self, e: String) -> Error {
        Error::Advice {
            code: 1,
            message: format!("{}: {e}", self.shown),
            hint: "check the AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, ...), AWS_REGION and any AWS_ENDPOINT_URL".into(),
        }
    }
}

fn publish_vault(one: &One, vault: &crate::publish::vault::VaultDestination) -> Result<()> {
    let mut data_value = one.decrypted_json()?;
    let confirmed = one.confirmed();
    if !matches!(confirmed, Ok(true)) {
        wipe(&mut data_value);
        return confirmed.map(|_| ());
    }
    let data = data_value.as_object().expect("made from a map");
    let result = vault.publish(data, one.name);
    wipe(&mut data_value);
    let published = result.map_err(|e| one.failed(e))?;
    for warning in &published.warnings {
        warn(warning);
    }
    if published.up_to_date {
        eprintln!("Secret in {} is already up-to-date.", published.secret_path);
    }
    Ok(())
}

// --- S3 and AWS Secrets Manager ---------------------------------------------

/// S3: the encrypted file, re-encrypted for the rule's `recreation_rule`
/// keys when it names some (`publish_encrypted::encrypted_contents`), never
/// plaintext.
fn publish_s3(
    one: &One,
    rule: &crate::config::DestinationRule,
    s3: &crate::publish::s3::S3Destination,
) -> Result<()> {
    // The bucket and key are checked before the file is even decrypted.
    one.aws_available()?;
    s3.check(one.name).map_err(|e| one.refused(rule, e))?;
    let contents =
        super::publish_encrypted::encrypted_contents(one.args, one.context, rule, one.shown)?;
    if !one.confirmed()? {
        return Ok(());
    }
    s3.upload(&contents, one.name)
        .map_err(|e| one.aws_failed(e))
}

/// AWS Secrets Manager: the decrypted document as JSON (as for Vault), or
/// a binary file's content.
fn publish_secrets_manager(
    one: &One,
    rule: &crate::config::DestinationRule,
    sm: &crate::publish::secretsmanager::SecretsManagerDestination,
) -> Result<()> {
    use crate::publish::secretsmanager::SecretValue;
    use zeroize::Zeroizing;
    one.aws_available()?;
    let secret = sm.check(one.name).map_err(|e| one.refused(rule, e))?;
    let (source, decrypted) = one.decrypt()?;
    let value = if source.in_kind == crate::format::FormatKind::Binary {
        match decrypted.documents.first().and_then(|d| d.get("data")) {
            Some(crate::tree::Value::Str(s)) => SecretValue::Text(Zeroizing::new(s.clone())),
            Some(crate::tree::Value::Bytes(b)) => SecretValue::Binary(Zeroizing::new(b.clone())),
            _ => {
                return Err(Error::Usage(format!(
                    "{}: the binary file has no data",
                    one.shown
                )))
            }
        }
    } else {
        let data = to_json(&decrypted.documents).map_err(|e| {
            Error::Coded(
                crate::error::exit::ERROR_DUMPING_TREE,
                format!("{}: {e}", one.shown),
            )
        })?;
        let mut data = serde_json::Value::Object(data);
        let text = serde_json::to_string(&data).map(Zeroizing::new);
        wipe(&mut data);
        SecretValue::Json(text.map_err(|e| {
            Error::Coded(
                crate::error::exit::ERROR_DUMPING_TREE,
                format!("{}: {e}", one.shown),
            )
        })?)
    };
    decrypted.wipe_and_leak();
    crate::publish::secretsmanager::check_size(&value, &secret).map_err(|e| one.failed(e))?;
    if !one.confirmed()? {
        return Ok(());
    }
    let source_path = one
        .file
        .strip_prefix(&one.context.cwd)
        .unwrap_or(one.file)
        .to_string_lossy()
        .into_owned();
    let published = sm
        .publish(&value, one.name, &source_path)
        .map_err(|e| one.aws_failed(e))?;
    for warning in &published.warnings {
        warn(warning);
    }
    if published.up_to_date {
        eprintln!(
            "Secret {} in AWS Secrets Manager is already up-to-date.",
            published.name
        );
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

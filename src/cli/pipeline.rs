//! The one path a document takes through every command: open (config,
//! input, formats and stores, format-preserving mode, the encrypted
//! document), decrypt, encrypt again, write. Commands are a few calls to
//! this module; they never call each other.

use std::path::{Path, PathBuf};

use super::args::resolve::OpenArgs;
use super::args::IoArgs;
use super::io::{read_input, store_options, warn_all, write_output_chunks, ConfigContext, Input};
use crate::document::{Decrypted, EncryptedDocument, Opened};
use crate::error::{Error, Result};
use crate::format::{FormatError, FormatKind, Layouts, Store, StoreOptions};
use crate::keys::{changes, KeyContext, KeyGroup};
use crate::metadata::Metadata;

/// Names the file `name` in an error of decrypting it; a missing key is
/// left as it is (its message lists the keys tried).
pub(crate) fn located(name: &str) -> impl Fn(Error) -> Error + '_ {
    move |e| match e {
        Error::RetrieveKey(report) => super::key_advice::explain(report, name),
        other => explain_tampered(other, name).in_file(name),
    }
}

/// The end of sops' message for a value whose authentication tag fails.
const TAMPERED: &str = ": Could not decrypt with AES_GCM: cipher: message authentication failed";

/// A value of `name` that does not authenticate, told as one cause and
/// one fix (sops' chain of messages started as `sops`).
fn explain_tampered(e: Error, name: &str) -> Error {
    let Error::DecryptTree(message) = &e else {
        return e;
    };
    let Some(path) = message
        .strip_suffix(TAMPERED)
        .and_then(|m| m.strip_prefix("at "))
    else {
        return e;
    };
    let path = crate::error::shown(path).into_owned();
    let name = crate::error::shown(name).into_owned();
    e.explained(
        format!("{path}: cannot decrypt: the value was changed, or the file was not encrypted with this data key"),
        format!("restore the file from git (git checkout -- {name}), or set the value again: enseal set {name} '{path}' VALUE"),
    )
}

/// A key context with `--decryption-order` / `SOPS_DECRYPTION_ORDER` applied
/// (a type listed twice is refused, exit 112).
pub(crate) fn key_context(order: Option<&str>) -> Result<KeyContext> {
    let mut keys = KeyContext::new();
    if let Some(order) = order.filter(|o| !o.is_empty()) {
        let mut seen: Vec<String> = Vec::new();
        for name in order.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if seen.iter().any(|s| s == name) {
                return Err(Error::DuplicateDecryptionKeyType(name.to_string()));
            }
            seen.push(name.to_string());
        }
        keys.decryption_order = seen;
    }
    Ok(keys)
}

/// Parses an encrypted file and its metadata.
pub(crate) fn load_encrypted(
    store: &dyn Store,
    bytes: &[u8],
    name: &str,
) -> Result<EncryptedDocument> {
    let file = store
        .parse_encrypted(bytes)
        .map_err(|e| Error::ParseEncrypted {
            path: name.to_string(),
            message: e.to_string(),
        })?;
    let raw = file
        .metadata
        .ok_or_else(|| Error::MetadataNotFound(name.to_string()))?;
    let metadata = Metadata::from_map(&raw).map_err(|message| Error::InvalidMetadata {
        path: name.to_string(),
        message,
    })?;
    Ok(EncryptedDocument::new(file.documents, metadata))
}

/// Decrypts `encrypted` (the file `name`), printing its warnings.
pub(crate) fn decrypt(
    encrypted: EncryptedDocument,
    keys: &mut KeyContext,
    ignore_mac: bool,
    name: &str,
) -> Result<Decrypted> {
    let decrypted = encrypted.decrypt(keys, ignore_mac).map_err(located(name))?;
    warn_all(name, &decrypted.warnings);
    Ok(decrypted)
}

/// Encrypted bytes of a document, as its store writes them.
pub(crate) fn emit_encrypted(store: &dyn Store, encrypted: &EncryptedDocument) -> Result<Vec<u8>> {
    store
        .emit_encrypted(&encrypted.documents, &encrypted.metadata.to_map())
        .map_err(|e| Error::Dump(e.to_string()))
}

/// A command's input, read and typed: the file (or stdin), its input and
/// output formats and stores, and whether its layout is kept.
pub(crate) struct Source {
    /// The file or stdin, read.
    pub input: Input,
    /// The format the input is parsed as.
    pub in_kind: FormatKind,
    /// The format the output is written as.
    pub out_kind: FormatKind,
    /// The store of the input format.
    pub in_store: Box<dyn Store>,
    /// The store of the output format.
    pub out_store: Box<dyn Store>,
    /// Format-preserving mode (see [`preserve_mode`]).
    pub preserve: bool,
}

impl Source {
    /// Reads `file` (stdin for none or `-`), picks the formats (flags, else
    /// the path) and the store options (config `stores:`, `--indent`; the
    /// binary JSON indent checked only when `encrypting`), then decides the
    /// format-preserving mode from `preserve_flag` and the config.
    pub fn read(
        context: &ConfigContext,
        file: Option<&str>,
        io: &IoArgs,
        preserve_flag: bool,
        encrypting: bool,
    ) -> Result<Source> {
        let input = read_input(file, io)?;
        let (in_kind, out_kind) = io.types.kinds(&input.type_path);
        let options = store_options(io, out_kind, context.stores(), encrypting)?;
        let preserve = preserve_mode(preserve_flag, context, in_kind, out_kind)?;
        // The output is written in the layout the input was read with.
        let layouts = Layouts::default();
        Ok(Source {
            input,
            in_kind,
            out_kind,
            in_store: in_kind.store_sharing(&options, &layouts),
            out_store: out_kind.store_sharing(&options, &layouts),
            preserve,
        })
    }

    /// The input's name for messages.
    pub fn name(&self) -> &str {
        &self.input.name
    }

    /// The input parsed as an encrypted file.
    pub fn load_encrypted(&self) -> Result<EncryptedDocument> {
        load_encrypted(self.in_store.as_ref(), &self.input.bytes, &self.input.name)
            .map_err(|e| self.explain_wrong_type(e))
    }

    /// A parse error of an input whose content looks like another format:
    /// the hint names the `--input-type` to pass (sops' text as `sops`).
    fn explain_wrong_type(&self, e: Error) -> Error {
        if !matches!(e, Error::ParsePlain { .. } | Error::ParseEncrypted { .. }) {
            return e;
        }
        match guess_kind(&self.input.bytes) {
            Some(guess) if guess != self.in_kind => {
                let message = e.to_string();
                let hint = format!(
                    "the file is read as {} but looks like {}: pass --input-type {}",
                    self.in_kind.name(),
                    guess.name(),
                    guess.name()
                );
                e.explained(message, hint)
            }
            _ => e,
        }
    }

    /// The input parsed as a plaintext file to encrypt, typed for the
    /// output format; a file that already has sops metadata is refused.
    pub fn parse_plain(&self) -> Result<Vec<crate::tree::Map>> {
        let name = &self.input.name;
        let mut documents = self
            .in_store
            .parse_plain(&self.input.bytes)
            .map_err(|e| match e {
                FormatError::NoDocument => Error::NoDocument,
                // sops reads such a file and fails walking it: exit 23.
                FormatError::Unwalkable(message) => Error::EncryptTree(message).in_file(name),
                other => self.explain_wrong_type(Error::ParsePlain {
                    path: name.clone(),
                    message: other.to_string(),
                }),
            })?;
        self.type_for_output(&mut documents);
        if documents
            .first()
            .is_some_and(|d| self.out_store.has_metadata_key(d))
        {
            return Err(Error::AlreadyEncrypted(name.clone()));
        }
        Ok(documents)
    }

    /// TOML values kept as source text get their type when the output is
    /// another format.
    pub fn type_for_output(&self, documents: &mut [crate::tree::Map]) {
        if self.in_kind == FormatKind::Toml && self.out_kind != FormatKind::Toml {
            self.in_store.type_for_other_format(documents);
        }
    }

    /// Writes the result: in place, to `--output`, or to stdout.
    pub fn write(&self, io: &IoArgs, bytes: &[u8]) -> Result<()> {
        write_output_chunks(io, &self.input, &[bytes])
    }

    /// [`Source::write`] of an output made of consecutive chunks.
    pub fn write_chunks(&self, io: &IoArgs, chunks: &[Vec<u8>]) -> Result<()> {
        let refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
        write_output_chunks(io, &self.input, &refs)
    }

    /// A format-preserving error of this input, with exit `code`.
    pub fn preserve_error(
        &self,
        code: i32,
    ) -> impl Fn(crate::preserve::PreserveError) -> Error + '_ {
        move |e| Error::Preserve {
            path: self.input.name.clone(),
            message: e.to_string(),
            code,
        }
    }
}

/// The format a file's content looks like, from its first line that is
/// not blank or a comment: `{` or `[` JSON, `[section]` INI, `KEY=` dotenv,
/// `key:`, `- ` or `---` YAML. `None` when nothing fits.
pub(crate) fn guess_kind(bytes: &[u8]) -> Option<FormatKind> {
    let head = &bytes[..bytes.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))?;
    let is_key_char = |c: char| c.is_ascii_alphanumeric() || "_.-".contains(c);
    if line.starts_with('{') {
        Some(FormatKind::Json)
    } else if line.starts_with('[') {
        let section = line.len() > 2
            && line.ends_with(']')
            && !line[1..line.len() - 1].contains(['"', '[', ']', ',']);
        Some(if section {
            FormatKind::Ini
        } else {
            FormatKind::Json
        })
    } else if line == "---" || line.starts_with("- ") {
        Some(FormatKind::Yaml)
    } else if line
        .split_once('=')
        .is_some_and(|(key, _)| !key.is_empty() && key.chars().all(is_key_char))
    {
        Some(FormatKind::Dotenv)
    } else if line
        .split_once(':')
        .is_some_and(|(key, rest)| !key.is_empty() && (rest.is_empty() || rest.starts_with(' ')))
    {
        Some(FormatKind::Yaml)
    } else {
        None
    }
}

/// Whether to write in format-preserving mode: the flag (refused where the
/// mode does not apply) or the config's `stores.<format>.preserve_format`
/// (ignored where it does not apply).
pub(crate) fn preserve_mode(
    flag: bool,
    context: &ConfigContext,
    in_kind: FormatKind,
    out_kind: FormatKind,
) -> Result<bool> {
    let applies = in_kind == out_kind && crate::preserve::supports(in_kind);
    if in_kind == FormatKind::Toml && out_kind == FormatKind::Toml {
        // The TOML store keeps the layout in every mode.
        return Ok(false);
    }
    if flag && !applies {
        return Err(Error::Usage(
            "--preserve-format needs the same input and output format (yaml, json, dotenv or ini)"
                .into(),
        ));
    }
    Ok(applies && (flag || context.preserve_format(in_kind)))
}

/// The format-preserving bytes of `new` (the same plaintext `plain` as the
/// encrypted file `source`, whose parsed documents are `old`, encrypted
/// again: `rotate`): the file keeps its layout.
pub(crate) fn preserve_rewrite(
    source: &Source,
    old: &[crate::tree::Map],
    plain: &[crate::tree::Map],
    new: &EncryptedDocument,
) -> Result<Vec<u8>> {
    let kept = Kept {
        kind: source.in_kind,
        bytes: &source.input.bytes,
        encrypted: old,
        plain,
    };
    kept.rewrite(plain, new, &source.input.name)
}

/// An encrypted file whose layout is kept (format-preserving mode): its
/// bytes, their parsed documents and their decryption. Every command that
/// writes such a file again (`set`, `unset`, `rotate`, `updatekeys`,
/// `groups`, the merge driver) goes through [`Kept::rewrite`].
pub(crate) struct Kept<'a> {
    /// The format.
    pub kind: FormatKind,
    /// The file as it is.
    pub bytes: &'a [u8],
    /// Its parsed (encrypted) documents.
    pub encrypted: &'a [crate::tree::Map],
    /// Their decryption.
    pub plain: &'a [crate::tree::Map],
}

impl Kept<'_> {
    /// The file holding `plain` (the new plaintext documents; the old ones
    /// when only keys or the data key changed), encrypted as `new`, in the
    /// file's layout: decrypted in place, changed in place
    /// ([`crate::preserve::retext`]), encrypted in place. Every check of
    /// `encrypt --preserve-format` applies; `name` names the file in errors.
    pub fn rewrite(
        &self,
        plain: &[crate::tree::Map],
        new: &EncryptedDocument,
        name: &str,
    ) -> Result<Vec<u8>> {
        let error = |e: crate::preserve::PreserveError| Error::Preserve {
            path: name.to_string(),
            message: e.to_string(),
            code: crate::error::exit::ERROR_DUMPING_TREE,
        };
        let text = zeroize::Zeroizing::new(
            crate::preserve::decrypt(self.kind, self.bytes, self.encrypted, self.plain)
                .map_err(error)?,
        );
        let text = zeroize::Zeroizing::new(
            crate::preserve::retext(self.kind, &text, self.plain, plain).map_err(error)?,
        );
        // The documents as the new text reads (an inline comment of a
        // removed entry now reads as a comment of its own line).
        let read = self
            .kind
            .store(&StoreOptions::default())
            .parse_plain(&text)
            .map_err(|_| {
                error(crate::preserve::PreserveError::Unsupported(
                    "the changed text would not read back".into(),
                ))
            })?;
        crate::preserve::encrypt(
            self.kind,
            &text,
            &read,
            &new.documents,
            &new.metadata.to_map(),
        )
        .map_err(error)
    }
}

/// The bytes of `encrypted` with `new_groups` (and `threshold`) as its key
/// groups. Keys only added: the data key is recovered and re-wrapped, the
/// values, `mac` and `lastmodified` stay. A key removed (from its group, as
/// the diff shows it): its holder has the data key, so every value is
/// decrypted (MAC verified) and encrypted again under a new one (sops keeps
/// the data key here).
///
/// With `preserve` (the file's format and bytes), the file keeps its
/// layout: its values are decrypted (MAC verified) to rebuild it, and the
/// unchanged ones keep their ciphertext.
pub(crate) fn apply_key_groups(
    encrypted: EncryptedDocument,
    new_groups: Vec<KeyGroup>,
    threshold: usize,
    keys: &mut KeyContext,
    out_store: &dyn Store,
    name: &str,
    preserve: Option<(FormatKind, &[u8])>,
) -> Result<Vec<u8>> {
    if let Some((kind, bytes)) = preserve {
        return apply_key_groups_kept(encrypted, new_groups, threshold, keys, kind, bytes, name);
    }
    let groups = new_groups;
    // Check before asking for identities: a rule the data key cannot be
    // wrapped for fails without touching the file.
    changes::check_threshold(groups.len(), threshold).map_err(|e| Error::Key(e).in_file(name))?;
    if changes::removes_a_key(&encrypted.metadata.key_groups, &groups) {
        changes::check_wrappable(&groups).map_err(|e| Error::Key(e).in_file(name))?;
        let rekeyed = encrypted
            .rekey(keys, groups, threshold)
            .map_err(located(name))?;
        return emit_encrypted(out_store, &rekeyed).map_err(|e| e.in_file(name));
    }
    let mut encrypted = encrypted;
    rewrap_groups(&mut encrypted.metadata, groups, threshold, keys, name)?;
    emit_encrypted(out_store, &encrypted).map_err(|e| e.in_file(name))
}

/// Keys only added: the same data key, wrapped for `groups`, which become
/// the metadata's key groups (with the threshold sops records).
fn rewrap_groups(
    metadata: &mut Metadata,
    mut groups: Vec<KeyGroup>,
    threshold: usize,
    keys: &mut KeyContext,
    name: &str,
) -> Result<()> {
    let data_key = changes::recover(&metadata.key_groups, metadata.shamir_threshold, keys)
        .map_err(Error::RetrieveKey)?;
    changes::rewrap(&mut groups, threshold, &data_key)
        .map_err(|e| Error::GenerateDataKey(e).in_file(name))?;
    metadata.shamir_threshold = changes::recorded_threshold(groups.len(), threshold);
    metadata.key_groups = groups;
    Ok(())
}

/// [`apply_key_groups`] of a file whose layout is kept.
fn apply_key_groups_kept(
    encrypted: EncryptedDocument,
    new_groups: Vec<KeyGroup>,
    threshold: usize,
    keys: &mut KeyContext,
    kind: FormatKind,
    bytes: &[u8],
    name: &str,
) -> Result<Vec<u8>> {
    let groups = new_groups;
    changes::check_threshold(groups.len(), threshold).map_err(|e| Error::Key(e).in_file(name))?;
    let removes = changes::removes_a_key(&encrypted.metadata.key_groups, &groups);
    if removes {
        changes::check_wrappable(&groups).map_err(|e| Error::Key(e).in_file(name))?;
    }
    let old_documents = encrypted.documents.clone();
    let old_metadata = encrypted.metadata.clone();
    let opened = encrypted.open(keys, false).map_err(located(name))?;
    warn_all(name, &opened.warnings);
    let plain = &opened.documents;
    let kept = Kept {
        kind,
        bytes,
        encrypted: &old_documents,
        plain,
    };
    let new = if removes {
        crate::document::encrypt_like(plain.clone(), groups, threshold, &old_metadata)
            .map_err(|e| e.in_file(name))?
    } else {
        let mut metadata = old_metadata;
        rewrap_groups(&mut metadata, groups, threshold, keys, name)?;
        EncryptedDocument::new(old_documents.clone(), metadata)
    };
    kept.rewrite(plain, &new, name)
}

/// An encrypted file opened for a change in place.
pub(crate) struct OpenFile {
    /// The file.
    pub path: PathBuf,
    /// Its name for messages.
    pub name: String,
    /// The decrypted content, ready to be encrypted again.
    pub opened: Opened,
    /// The store the file is written with.
    pub out_store: Box<dyn Store>,
    /// The store edited plaintext is parsed with.
    pub in_store: Box<dyn Store>,
    /// Format-preserving mode: the format whose layout is kept.
    pub preserve: Option<FormatKind>,
    /// The lock on the file, held from the read to the write.
    lock: Option<crate::lock::FileLock>,
}

/// An encrypted file locked against other writers (until dropped) and
/// parsed, not decrypted.
pub(crate) struct LockedFile {
    /// The file.
    pub path: PathBuf,
    /// Its content.
    pub encrypted: EncryptedDocument,
    /// The store of its input format.
    pub in_store: Box<dyn Store>,
    /// The store it is written with.
    pub out_store: Box<dyn Store>,
    /// Its bytes as read.
    pub bytes: Vec<u8>,
    /// Its input and output formats.
    pub kinds: (FormatKind, FormatKind),
    lock: Option<crate::lock::FileLock>,
}

/// Locks `file`, reads it (a missing file is exit 2, as sops' `Error
/// reading file`) and parses it with the stores `io` and `stores` give.
pub(crate) fn lock_encrypted(file: &str, io: &IoArgs, stores: StoreOptions) -> Result<LockedFile> {
    let path = PathBuf::from(file);
    let (lock, bytes) = crate::lock::lock_and_read(&path, file)?;
    let (in_kind, out_kind) = io.types.kinds(file);
    let options = store_options(io, out_kind, stores, true)?;
    let layouts = Layouts::default();
    let in_store = in_kind.store_sharing(&options, &layouts);
    let out_store = out_kind.store_sharing(&options, &layouts);
    let encrypted = load_encrypted(in_store.as_ref(), &bytes, file)?;
    Ok(LockedFile {
        path,
        encrypted,
        in_store,
        out_store,
        bytes: bytes.to_vec(),
        kinds: (in_kind, out_kind),
        lock,
    })
}

/// Locks `file` against other writers (until the returned value is
/// dropped), then reads, decrypts and verifies it.
pub(crate) fn open_file(file: &str, args: &OpenArgs, config: Option<&str>) -> Result<OpenFile> {
    let mut keys = key_context(args.decryption_order.as_deref())?;
    let context = ConfigContext::load(config)?;
    let locked = lock_encrypted(file, &args.io(), context.stores())?;
    let (in_kind, out_kind) = locked.kinds;
    let preserve =
        preserve_mode(args.preserve_format, &context, in_kind, out_kind)?.then_some(in_kind);
    let opened = locked
        .encrypted
        .open(&mut keys, args.ignore_mac)
        .map_err(located(file))?;
    warn_all(file, &opened.warnings);
    Ok(OpenFile {
        path: locked.path,
        name: file.to_string(),
        opened,
        out_store: locked.out_store,
        in_store: locked.in_store,
        preserve,
        lock: locked.lock,
    })
}

fn open_bytes(
    store: &dyn Store,
    bytes: &[u8],
    name: &str,
    keys: &mut KeyContext,
    ignore_mac: bool,
) -> Result<Opened> {
    let encrypted = load_encrypted(store, bytes, name)?;
    encrypted.open(keys, ignore_mac).map_err(located(name))
}

/// The existing encrypted file at `path`, decrypted, with its bytes, when it
/// is one and its data key can be recovered (used by `encrypt --output`);
/// `None` otherwise.
pub(crate) fn open_existing(path: &Path, store: &dyn Store) -> Option<(Opened, Vec<u8>)> {
    let bytes = std::fs::read(path).ok()?;
    open_previous(path, store, bytes)
}

/// The version of `path` committed in git (`HEAD`), decrypted, with its
/// bytes, when it is an encrypted file whose data key can be recovered (used
/// by `encrypt --in-place` on a file that was decrypted in place and
/// edited); `None` otherwise (no git, not tracked, not encrypted…).
pub(crate) fn open_committed(path: &Path, store: &dyn Store) -> Option<(Opened, Vec<u8>)> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path.file_name()?.to_str()?;
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .arg("show")
        .arg(format!("HEAD:./{name}"))
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    open_previous(path, store, output.stdout)
}

fn open_previous(path: &Path, store: &dyn Store, bytes: Vec<u8>) -> Option<(Opened, Vec<u8>)> {
    let name = path.display().to_string();
    let mut keys = KeyContext::new();
    let opened = open_bytes(store, &bytes, &name, &mut keys, false).ok()?;
    Some((opened, bytes))
}

impl OpenFile {
    /// The file's bytes, read again (through the lock, which reading the
    /// path anew could release where locks are emulated, as on NFS).
    pub fn read_raw(&self) -> std::io::Result<crate::fsutil::FileBytes> {
        crate::lock::read_locked(self.lock.as_ref(), &self.path)
    }

    /// Encrypts `documents` again and writes the file, even when nothing
    /// changed (new `lastmodified` and MAC; unchanged values keep their
    /// ciphertext).
    pub fn save_always(&mut self, documents: Vec<crate::tree::Map>) -> Result<()> {
        let plain = self.plain_copy(&documents);
        let encrypted = self
            .opened
            .reencrypt_always(documents)
            .map_err(|e| e.in_file(&self.name))?;
        self.write(&plain, &encrypted)
    }

    /// A copy of `documents` when the layout is kept (it needs them).
    fn plain_copy(&self, documents: &[crate::tree::Map]) -> Vec<crate::tree::Map> {
        if self.preserve.is_some() {
            documents.to_vec()
        } else {
            Vec::new()
        }
    }

    /// Writes `encrypted` (the encryption of `plain`): in the file's own
    /// layout in format-preserving mode, else the store's.
    fn write(&self, plain: &[crate::tree::Map], encrypted: &EncryptedDocument) -> Result<()> {
        let Some(kind) = self.preserve else {
            return write_encrypted(&self.path, self.out_store.as_ref(), encrypted);
        };
        let bytes = self.read_raw().map_err(|source| Error::ReadInput {
            path: self.name.clone(),
            source,
        })?;
        let kept = Kept {
            kind,
            bytes: &bytes,
            encrypted: self.opened.encrypted_documents(),
            plain: &self.opened.documents,
        };
        let out = kept.rewrite(plain, encrypted, &self.name)?;
        write_file(&self.path, &out)
    }

    /// Encrypts `documents` again and writes the file, unless nothing
    /// changed. Returns whether the file was written.
    pub fn save(&mut self, documents: Vec<crate::tree::Map>) -> Result<bool> {
        let plain = self.plain_copy(&documents);
        match self
            .opened
            .reencrypt(documents)
            .map_err(|e| e.in_file(&self.name))?
        {
            Some(encrypted) => {
                self.write(&plain, &encrypted)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// Writes an encrypted file atomically.
pub(crate) fn write_encrypted(
    path: &Path,
    store: &dyn Store,
    encrypted: &EncryptedDocument,
) -> Result<()> {
    let bytes = emit_encrypted(store, encrypted)?;
    write_file(path, &bytes)
}

/// Writes `bytes` to `path` atomically.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::fsutil::write_atomic(path, bytes).map_err(|source| Error::WriteOutput {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn content_type_is_guessed_from_the_first_line() {
        use super::guess_kind;
        use crate::format::FormatKind::*;
        let cases: [(&str, Option<crate::format::FormatKind>); 9] = [
            ("# c\na: 1\n", Some(Yaml)),
            ("\n  {\"a\": 1}", Some(Json)),
            ("[1, 2]", Some(Json)),
            ("; c\n[section]\nk = v\n", Some(Ini)),
            ("# c\nKEY=v\n", Some(Dotenv)),
            ("---\na: 1\n", Some(Yaml)),
            ("- a\n", Some(Yaml)),
            ("just words\n", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(guess_kind(text.as_bytes()), want, "{text:?}");
        }
    }

    use super::*;

    #[test]
    fn decryption_order_refuses_a_type_twice() {
        let keys = key_context(Some("age, pgp,,")).unwrap();
        assert_eq!(keys.decryption_order, ["age", "pgp"]);
        let Err(err) = key_context(Some("age,pgp,age")) else {
            panic!("a type listed twice was accepted");
        };
        assert_eq!(err.exit_code(), 112);
        // Empty: the default order.
        assert_eq!(
            key_context(Some("")).unwrap().decryption_order,
            KeyContext::new().decryption_order
        );
    }

    #[test]
    fn missing_keys_are_not_named_after_the_file() {
        let locate = located("f.yaml");
        let kept = locate(Error::RetrieveKey("no key".into()));
        assert!(matches!(kept, Error::RetrieveKey(_)));
        let named = locate(Error::NoDocument);
        assert!(named.to_string().contains("f.yaml"), "{named}");
    }
}

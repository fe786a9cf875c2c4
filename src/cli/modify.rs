//! `enseal set`, `enseal unset` (and legacy `--set`): change one value of an
//! encrypted file in place, with the same data key, so that only the changed
//! value, `lastmodified` and the MAC change in the file.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::decrypt::{key_context, load_encrypted};
use super::io::{kinds, store_options, ConfigContext};
use super::IoArgs;
use crate::document::{EncryptedDocument, Opened};
use crate::error::{exit, Error, Result};
use crate::format::json::JsonStore;
use crate::format::{Store, StoreOptions};
use crate::keys::KeyContext;
use crate::tree::{Item, Value};
use crate::tree_path::{self, Component, EditError};

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
    /// The lock on the file, held from the read to the write.
    lock: Option<crate::lock::FileLock>,
}

/// Type flags and decryption options of a command that changes a file.
#[derive(Debug, Clone, Default)]
pub(crate) struct OpenArgs {
    pub input_type: Option<String>,
    pub output_type: Option<String>,
    pub indent: Option<i64>,
    pub ignore_mac: bool,
    pub decryption_order: Option<String>,
}

impl OpenArgs {
    fn io(&self) -> IoArgs {
        IoArgs {
            input_type: self.input_type.clone(),
            output_type: self.output_type.clone(),
            indent: self.indent,
            ..Default::default()
        }
    }
}

/// Locks `file` against other writers (until the returned value is
/// dropped), then reads, decrypts and verifies it (a missing file is exit 2,
/// as sops' `Error reading file`).
pub(crate) fn open_file(file: &str, args: &OpenArgs, config: Option<&str>) -> Result<OpenFile> {
    let mut keys = key_context(args.decryption_order.as_deref())?;
    let stores = ConfigContext::load(config)?.stores();
    let path = PathBuf::from(file);
    let (lock, bytes) = crate::lock::lock_and_read(&path, file)?;
    let io = args.io();
    let (in_kind, out_kind) = kinds(&io, file);
    let options = store_options(&io, out_kind, stores, true)?;
    let in_store = in_kind.store(&options);
    let out_store = out_kind.store(&options);
    let opened = open_bytes(in_store.as_ref(), &bytes, file, &mut keys, args.ignore_mac)?;
    for warning in &opened.warnings {
        eprintln!("warning: {file}: {warning}");
    }
    Ok(OpenFile {
        path,
        name: file.to_string(),
        opened,
        out_store,
        in_store,
        lock,
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
    encrypted.open(keys, ignore_mac).map_err(|e| match e {
        Error::RetrieveKey(_) => e,
        other => other.in_file(name),
    })
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
        let encrypted = self
            .opened
            .reencrypt_always(documents)
            .map_err(|e| e.in_file(&self.name))?;
        write_encrypted(&self.path, self.out_store.as_ref(), &encrypted)
    }

    /// Encrypts `documents` again and writes the file, unless nothing
    /// changed. Returns whether the file was written.
    pub fn save(&mut self, documents: Vec<crate::tree::Map>) -> Result<bool> {
        match self
            .opened
            .reencrypt(documents)
            .map_err(|e| e.in_file(&self.name))?
        {
            Some(encrypted) => {
                write_encrypted(&self.path, self.out_store.as_ref(), &encrypted)?;
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
    let bytes = store
        .emit_encrypted(&encrypted.documents, &encrypted.metadata.to_map())
        .map_err(|e| Error::Dump(e.to_string()))?;
    crate::fsutil::write_atomic(path, &bytes).map_err(|source| Error::WriteOutput {
        path: path.display().to_string(),
        source,
    })
}

/// Parses a `set` value: JSON; objects keep their member order, a
/// top-level number is a float (as in sops).
pub(crate) fn parse_json_value(text: &str) -> Result<Value> {
    let invalid = || {
        Error::Coded(
            exit::INVALID_SET_FORMAT,
            "Value for --set is not valid JSON".into(),
        )
    };
    // serde_json checks the syntax strictly (no trailing data); the JSON
    // store then builds the tree with sops' number rules and member order.
    serde_json::from_str::<serde_json::Value>(text).map_err(|_| invalid())?;
    let wrapped = format!("{{\"v\":\n{}\n}}", text.trim());
    let store = JsonStore::new(&StoreOptions::default());
    let mut documents = store
        .parse_plain(wrapped.as_bytes())
        .map_err(|_| invalid())?;
    let document = documents.pop().ok_or_else(invalid)?;
    let mut entries = document
        .0
        .into_iter()
        .filter(|i| matches!(i, Item::Entry(..)));
    let value = match (entries.next(), entries.next()) {
        (Some(Item::Entry(k, v)), None) if k == "v" => v,
        _ => return Err(invalid()),
    };
    Ok(match value {
        Value::Int(n) => Value::Float(n as f64),
        other => other,
    })
}

fn parse_index(index: &str, what: &str) -> Result<Vec<Component>> {
    let path = tree_path::parse(index).map_err(|e| {
        Error::Coded(
            exit::INVALID_SET_FORMAT,
            format!("Invalid {what} index format: {e}"),
        )
    })?;
    if path.is_empty() {
        return Err(Error::Coded(
            exit::INVALID_SET_FORMAT,
            format!("Invalid {what} index format: the path is empty"),
        ));
    }
    Ok(path)
}

fn path_error(e: EditError) -> Error {
    match e {
        EditError::Mismatch(m) => Error::Coded(
            exit::INVALID_TREE_PATH_FORMAT,
            format!("the path does not fit the file: {m}"),
        ),
        other => Error::Coded(exit::GENERIC, other.to_string()),
    }
}

/// Options of `set`.
#[derive(Debug, Clone, Default)]
pub(crate) struct SetArgs {
    pub open: OpenArgs,
    pub value_file: bool,
    pub value_stdin: bool,
    /// `--idempotent`: leave the file untouched when the value is already
    /// there (without it the file is written anyway, as sops 3.13 does).
    pub idempotent: bool,
}

/// `enseal set FILE INDEX VALUE`.
pub(crate) fn run_set(positionals: &[String], args: &SetArgs, config: Option<&str>) -> Result<()> {
    if args.value_file && args.value_stdin {
        return Err(Error::Usage(
            "Error: cannot use both --value-file and --value-stdin".into(),
        ));
    }
    let want = if args.value_stdin { 2 } else { 3 };
    if positionals.len() != want {
        return Err(Error::Coded(
            exit::NO_FILE_SPECIFIED,
            if args.value_stdin {
                "Error: file specified, or index and value are missing. Need precisely 2 positional arguments since --value-stdin is used."
            } else {
                "Error: no file specified, or index and value are missing. Need precisely 3 positional arguments."
            }
            .into(),
        ));
    }
    let path = parse_index(&positionals[1], "set")?;
    let text = if args.value_stdin {
        let mut buf = String::new();
        std::io::stdin()
            .read_to_string(&mut buf)
            .map_err(|source| Error::ReadInput {
                path: "<stdin>".into(),
                source,
            })?;
        buf
    } else if args.value_file {
        std::fs::read_to_string(&positionals[2]).map_err(|source| Error::ReadInput {
            path: positionals[2].clone(),
            source,
        })?
    } else {
        positionals[2].clone()
    };
    let value = parse_json_value(&text)?;
    set_value(
        &positionals[0],
        &path,
        value,
        &args.open,
        args.idempotent,
        config,
    )
}

/// Sets one value and writes the file; with `idempotent`, only when it
/// changed (sops 3.13: `set` without `--idempotent` always writes).
pub(crate) fn set_value(
    file: &str,
    path: &[Component],
    value: Value,
    open: &OpenArgs,
    idempotent: bool,
    config: Option<&str>,
) -> Result<()> {
    let mut file = open_file(file, open, config)?;
    let mut documents = file.opened.documents.clone();
    let first = documents.first_mut().ok_or(Error::NoDocument)?;
    let changed = tree_path::set(first, path, value).map_err(path_error)?;
    if file.out_store.has_metadata_key(first) {
        return Err(Error::AlreadyEncrypted(file.name.clone()));
    }
    if changed {
        file.save(documents)?;
    } else if !idempotent {
        file.save_always(documents)?;
    }
    Ok(())
}

/// Legacy `--set 'PATH VALUE'`.
pub(crate) fn run_legacy_set(
    file: &str,
    spec: &str,
    open: &OpenArgs,
    config: Option<&str>,
) -> Result<()> {
    let Some(at) = spec.find("] ") else {
        return Err(Error::Coded(
            exit::INVALID_SET_FORMAT,
            "Invalid --set format".into(),
        ));
    };
    let path = parse_index(spec[..at + 1].trim_end(), "set")?;
    let value = parse_json_value(&spec[at + 2..])?;
    set_value(file, &path, value, open, false, config)
}

/// `enseal unset FILE INDEX`.
pub(crate) fn run_unset(
    positionals: &[String],
    open: &OpenArgs,
    idempotent: bool,
    config: Option<&str>,
) -> Result<()> {
    if positionals.len() != 2 {
        return Err(Error::Coded(
            exit::NO_FILE_SPECIFIED,
            "Error: no file specified, or index is missing".into(),
        ));
    }
    let path = parse_index(&positionals[1], "unset")?;
    let mut file = open_file(&positionals[0], open, config)?;
    let mut documents = file.opened.documents.clone();
    let first = documents.first_mut().ok_or(Error::NoDocument)?;
    match tree_path::unset(first, &path) {
        Ok(()) => {}
        Err(EditError::KeyNotFound(_) | EditError::OutOfBounds(_)) if idempotent => return Ok(()),
        Err(e) => return Err(path_error(e)),
    }
    file.save(documents)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::Map;

    #[test]
    fn json_values_keep_order_and_sops_number_rules() {
        assert_eq!(parse_json_value("5").unwrap(), Value::Float(5.0));
        assert_eq!(parse_json_value("\"x\"").unwrap(), Value::Str("x".into()));
        assert_eq!(parse_json_value("null").unwrap(), Value::Null);
        assert_eq!(parse_json_value(" true ").unwrap(), Value::Bool(true));
        let mut want = Map::new();
        want.push("z", Value::Int(1));
        want.push("a", Value::List(vec![Value::Str("s".into())]));
        assert_eq!(
            parse_json_value(r#"{"z":1,"a":["s"]}"#).unwrap(),
            Value::Map(want)
        );
        for bad in ["", "nope", "1, \"w\": 2", "{", "1}{\"v\":2"] {
            let err = parse_json_value(bad).unwrap_err();
            assert_eq!(err.exit_code(), 7, "{bad:?}");
        }
    }
}

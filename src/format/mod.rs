//! File formats ("stores"): bytes ⇄ documents of the value [`tree`](crate::tree).
//!
//! A store knows nothing of cryptography: it parses a file into documents
//! and, for encrypted files, hands back the raw metadata tree (the `sops`
//! mapping, the `sops_` keys unflattened, or the `[sops]` section) for
//! [`metadata`](crate::metadata) to interpret. Writing is the reverse.

pub mod binary;
pub mod dotenv;
pub mod flatten;
pub mod ini;
pub mod json;
mod swar;
pub mod toml;
pub mod yaml;

use crate::tree::{Map, Value};
pub use toml::Layouts;

/// The kinds of file enseal reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatKind {
    /// YAML (`.yaml`, `.yml`).
    Yaml,
    /// JSON (`.json`).
    Json,
    /// dotenv (`.env`).
    Dotenv,
    /// INI (`.ini`).
    Ini,
    /// Anything else: the whole file is one value.
    Binary,
    /// TOML (`.toml`; an enseal extension, sops treats it as binary).
    Toml,
}

impl FormatKind {
    /// The store for a path, by its extension, as sops chooses it
    /// (case-sensitive suffix test; anything unknown is binary).
    pub fn from_path(path: &str) -> FormatKind {
        if path.ends_with(".yaml") || path.ends_with(".yml") {
            FormatKind::Yaml
        } else if path.ends_with(".json") {
            FormatKind::Json
        } else if path.ends_with(".env") {
            FormatKind::Dotenv
        } else if path.ends_with(".ini") {
            FormatKind::Ini
        } else if path.ends_with(".toml") {
            // Deliberate difference: sops encrypts `.toml` as binary.
            FormatKind::Toml
        } else {
            FormatKind::Binary
        }
    }

    /// The store named by `--input-type` / `--output-type`. Unknown names
    /// give `None` (sops silently falls back to the extension).
    pub fn from_name(name: &str) -> Option<FormatKind> {
        match name {
            "yaml" => Some(FormatKind::Yaml),
            "json" => Some(FormatKind::Json),
            "dotenv" => Some(FormatKind::Dotenv),
            "ini" => Some(FormatKind::Ini),
            "binary" => Some(FormatKind::Binary),
            "toml" => Some(FormatKind::Toml),
            _ => None,
        }
    }

    /// The name sops uses for this store.
    pub fn name(self) -> &'static str {
        match self {
            FormatKind::Yaml => "yaml",
            FormatKind::Json => "json",
            FormatKind::Dotenv => "dotenv",
            FormatKind::Ini => "ini",
            FormatKind::Binary => "binary",
            FormatKind::Toml => "toml",
        }
    }

    /// The store implementation with these output options, remembering the
    /// layouts of what it parses for itself alone.
    pub fn store(self, options: &StoreOptions) -> Box<dyn Store> {
        self.store_sharing(options, &Layouts::default())
    }

    /// [`FormatKind::store`] remembering layouts in `layouts`: a store that
    /// reads a file and another that writes it back, built with the same
    /// handle, keep its layout (TOML; other stores keep none).
    pub fn store_sharing(self, options: &StoreOptions, layouts: &Layouts) -> Box<dyn Store> {
        match self {
            FormatKind::Yaml => Box::new(yaml::YamlStore::new(options)),
            FormatKind::Json => Box::new(json::JsonStore::new(options)),
            FormatKind::Dotenv => Box::new(dotenv::DotenvStore),
            FormatKind::Ini => Box::new(ini::IniStore),
            FormatKind::Binary => Box::new(binary::BinaryStore::new(options)),
            FormatKind::Toml => Box::new(toml::TomlStore::sharing(options, layouts)),
        }
    }
}

/// Output options shared by the stores (`--indent`, `stores:` in `.sops.yaml`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreOptions {
    /// YAML indentation; `None` or `Some(0)` means the default of 4.
    pub yaml_indent: Option<i64>,
    /// JSON indentation; `None` or `Some(-1)` means one tab; 0 means line
    /// breaks without indentation; N means N spaces.
    pub json_indent: Option<i64>,
    /// Indentation of the JSON wrapper of binary files (as `json_indent`).
    pub json_binary_indent: Option<i64>,
}

/// Why a store could not read or write a file. The text is the whole
/// message (with line and column where the parser knows them); the caller
/// adds the file name and chooses the exit code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The input is not valid in this format.
    #[error("{0}")]
    Parse(String),
    /// The input is valid, but holds what sops' tree walk refuses (a
    /// non-string mapping key, an integer beyond int64): sops reads the file
    /// and then fails to encrypt it (exit 23), so enseal fails the same way.
    #[error("{0}")]
    Unwalkable(String),
    /// The input has no document at all (empty YAML stream).
    #[error("File cannot be completely empty, it must contain at least one document")]
    NoDocument,
    /// The tree cannot be written in this format.
    #[error("{0}")]
    Emit(String),
}

/// An encrypted file as a store reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct EncryptedFile {
    /// The documents, with the metadata removed.
    pub documents: Vec<Map>,
    /// The raw metadata tree, `None` when the file has none.
    pub metadata: Option<Map>,
}

/// One file format.
pub trait Store {
    /// Parses a plaintext file into its documents.
    fn parse_plain(&self, input: &[u8]) -> Result<Vec<Map>, FormatError>;

    /// Parses an encrypted file: documents without the metadata, and the
    /// raw metadata tree (`None` when there is none).
    fn parse_encrypted(&self, input: &[u8]) -> Result<EncryptedFile, FormatError>;

    /// Writes plaintext documents.
    fn emit_plain(&self, documents: &[Map]) -> Result<Vec<u8>, FormatError>;

    /// Writes encrypted documents with the metadata tree in this store's place for it.
    fn emit_encrypted(&self, documents: &[Map], metadata: &Map) -> Result<Vec<u8>, FormatError>;

    /// [`Store::emit_plain`] as consecutive chunks of the output: a large
    /// file may be written in parts on separate threads, and joining them
    /// would copy it once more. One chunk unless the store says otherwise.
    fn emit_plain_chunks(&self, documents: &[Map]) -> Result<Vec<Vec<u8>>, FormatError> {
        self.emit_plain(documents).map(|bytes| vec![bytes])
    }

    /// [`Store::emit_encrypted`] as consecutive chunks of the output (see
    /// [`Store::emit_plain_chunks`]).
    fn emit_encrypted_chunks(
        &self,
        documents: &[Map],
        metadata: &Map,
    ) -> Result<Vec<Vec<u8>>, FormatError> {
        self.emit_encrypted(documents, metadata)
            .map(|bytes| vec![bytes])
    }

    /// Writes one value extracted with `--extract` that is not a mapping
    /// and not a string (those are handled by the caller).
    fn emit_value(&self, value: &Value) -> Result<Vec<u8>, FormatError>;

    /// Gives values this store kept in a form only its format has (TOML
    /// source text) their typed value, for writing the documents in another
    /// format. Nothing by default.
    fn type_for_other_format(&self, _documents: &mut [Map]) {}

    /// True when a parsed plaintext document already carries sops metadata
    /// (a top-level `sops` key; dotenv: a `sops_` key; INI: a `sops` section).
    fn has_metadata_key(&self, document: &Map) -> bool {
        document.get("sops").is_some()
    }
}

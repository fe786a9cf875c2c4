//! The one error type of enseal, and its mapping to sops' exit codes.

use std::path::PathBuf;

/// sops' exit codes (docs/spec/cli.md §10).
pub mod exit {
    /// Generic error.
    pub const GENERIC: i32 = 1;
    /// The input file could not be read or parsed (when encrypting).
    pub const COULD_NOT_READ_INPUT: i32 = 2;
    /// The output file could not be written.
    pub const COULD_NOT_WRITE_OUTPUT: i32 = 3;
    /// The tree could not be serialized.
    pub const ERROR_DUMPING_TREE: i32 = 4;
    /// Invalid `set` value or index.
    pub const INVALID_SET_FORMAT: i32 = 7;
    /// Conflicting flags.
    pub const CONFLICTING_PARAMETERS: i32 = 8;
    /// The MAC could not be encrypted.
    pub const ERROR_ENCRYPTING_MAC: i32 = 21;
    /// The tree could not be encrypted.
    pub const ERROR_ENCRYPTING_TREE: i32 = 23;
    /// The tree could not be decrypted.
    pub const ERROR_DECRYPTING_TREE: i32 = 25;
    /// MAC mismatch, missing or undecryptable.
    pub const MAC_MISMATCH: i32 = 51;
    /// An `--extract` / `set` path that does not parse.
    pub const INVALID_TREE_PATH_FORMAT: i32 = 91;
    /// Encrypting an input without any document.
    pub const NEED_AT_LEAST_ONE_DOCUMENT: i32 = 92;
    /// No file argument, or the file does not exist.
    pub const NO_FILE_SPECIFIED: i32 = 100;
    /// A key type listed twice in the decryption order.
    pub const DUPLICATE_DECRYPTION_KEY_TYPE: i32 = 112;
    /// The data key could not be recovered.
    pub const COULD_NOT_RETRIEVE_KEY: i32 = 128;
    /// The file already has sops metadata.
    pub const FILE_ALREADY_ENCRYPTED: i32 = 203;
}

/// Everything that can go wrong, each with the sops exit code it maps to.
///
/// Messages never contain plaintext values, comments or key material: a
/// bad value is named by its key path or its line and column, never shown
/// (tests/parse_error_hygiene.rs and tests/secret_hygiene.rs hold this).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No file argument where one is required.
    #[error("Error: no file specified")]
    NoFileSpecified,
    /// The input file does not exist.
    #[error("Error: cannot operate on non-existent file \"{}\"", .0.display())]
    FileNotFound(PathBuf),
    /// Flags that cannot be used together.
    #[error("Error: {0}")]
    ConflictingParameters(String),
    /// A usage error that sops reports with exit code 1.
    #[error("{0}")]
    Usage(String),
    /// The input could not be read.
    #[error("{path}: cannot read: {source}")]
    ReadInput {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The plaintext input does not parse (when encrypting: exit 2).
    #[error("{path}: Error unmarshalling file: {message}")]
    ParsePlain {
        /// The file.
        path: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The encrypted input does not parse (when decrypting: exit 1).
    #[error("{path}: {message}")]
    ParseEncrypted {
        /// The file.
        path: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// An empty YAML stream given to encrypt.
    #[error("File cannot be completely empty, it must contain at least one document")]
    NoDocument,
    /// The plaintext already has sops metadata.
    #[error("{0}: The file you have provided contains a top-level entry called 'sops', or for flat file formats top-level entries starting with 'sops_'. This is generally due to the file already being encrypted. SOPS uses a top-level entry called 'sops' to store the metadata required to decrypt the file. For this reason, SOPS can not encrypt files that already contain such an entry.")]
    AlreadyEncrypted(String),
    /// A key named `sops` (or `sops_…`) in data to be encrypted that the
    /// store does not count as metadata.
    #[error("{0}")]
    ReservedKey(String),
    /// The file has no sops metadata.
    #[error("{0}: sops metadata not found")]
    MetadataNotFound(String),
    /// The metadata is present but invalid.
    #[error("{path}: invalid sops metadata: {message}")]
    InvalidMetadata {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A value could not be encrypted.
    #[error("Error encrypting tree: Error walking tree: {0}")]
    EncryptTree(String),
    /// A value could not be decrypted.
    #[error("Error decrypting tree: Error walking tree: Could not decrypt value: {0}")]
    DecryptTree(String),
    /// The MAC does not match, is missing, or cannot be decrypted. The
    /// message never shows a MAC: the computed one is an unsalted hash of
    /// the plaintext values (sops prints both).
    #[error("{0}")]
    Mac(String),
    /// The data key could not be wrapped for some master key.
    #[error("Could not generate data key: [{0}]")]
    GenerateDataKey(String),
    /// The data key could not be recovered (the full report).
    #[error("{0}")]
    RetrieveKey(String),
    /// A key, recipient or identity is invalid.
    #[error("{0}")]
    Key(String),
    /// The output could not be serialized.
    #[error("Error dumping file: {0}")]
    Dump(String),
    /// The output could not be written.
    #[error("{path}: cannot write: {source}")]
    WriteOutput {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// An `--extract` path that does not parse.
    #[error("error parsing --extract path: {0}")]
    TreePathFormat(String),
    /// An `--extract` path that does not lead to a value (sops' message,
    /// and a hint naming the keys or indices that exist there).
    #[error("error truncating tree: {0}")]
    TreePath(crate::tree_path::LookupError),
    /// Another error, in the context of a file.
    #[error("{path}: {inner}")]
    InFile {
        /// The file.
        path: String,
        /// The error.
        inner: Box<Error>,
    },
    /// `rotate --add-*/--rm-*` on a file that does not exist.
    #[error("Error: cannot add or remove keys on non-existent file \"{}\", use the `edit` subcommand instead.", .0.display())]
    CannotChangeKeysOfMissingFile(PathBuf),
    /// A duplicate entry in the decryption order.
    #[error("Duplicate decryption key type: {0}")]
    DuplicateDecryptionKeyType(String),
    /// An error with its own message and sops exit code (`edit`, `set`,
    /// `unset`: 7, 91, 200, 201, 202…).
    #[error("{1}")]
    Coded(i32, String),
    /// An error of enseal's own with the exit code and the one fix.
    #[error("{message}")]
    Advice {
        /// The sops exit code.
        code: i32,
        /// What went wrong, one line.
        message: String,
        /// What to do about it, one line.
        hint: String,
    },
    /// An error of sops told in enseal's words: `message` and `hint` as
    /// `enseal`; started as `sops`, the text (and always the exit code) of
    /// `sops_error`.
    #[error("{message}")]
    Explained {
        /// The error as sops reports it (its text and exit code).
        sops_error: Box<Error>,
        /// What went wrong, one line.
        message: String,
        /// What to do about it, one line.
        hint: String,
    },
    /// Format-preserving mode cannot write this file (enseal extension):
    /// the file, then where and why.
    #[error("{path}: cannot keep the layout: {message}")]
    Preserve {
        /// The file.
        path: String,
        /// Position and reason.
        message: String,
        /// The sops exit code (2 when encrypting, 4 when decrypting).
        code: i32,
    },
}

impl Error {
    /// The sops exit code for this error.
    pub fn exit_code(&self) -> i32 {
        use exit::*;
        match self {
            Error::InFile { inner, .. } => inner.exit_code(),
            Error::Explained { sops_error, .. } => sops_error.exit_code(),
            Error::NoFileSpecified | Error::FileNotFound(_) => NO_FILE_SPECIFIED,
            Error::ConflictingParameters(_) => CONFLICTING_PARAMETERS,
            Error::ReadInput { .. } | Error::ParsePlain { .. } => COULD_NOT_READ_INPUT,
            Error::NoDocument => NEED_AT_LEAST_ONE_DOCUMENT,
            Error::AlreadyEncrypted(_) | Error::ReservedKey(_) => FILE_ALREADY_ENCRYPTED,
            Error::EncryptTree(_) => ERROR_ENCRYPTING_TREE,
            Error::DecryptTree(_) => ERROR_DECRYPTING_TREE,
            Error::Mac(_) => MAC_MISMATCH,
            Error::RetrieveKey(_) => COULD_NOT_RETRIEVE_KEY,
            Error::Dump(_) => ERROR_DUMPING_TREE,
            Error::WriteOutput { .. } => COULD_NOT_WRITE_OUTPUT,
            Error::TreePathFormat(_) => INVALID_TREE_PATH_FORMAT,
            Error::DuplicateDecryptionKeyType(_) => DUPLICATE_DECRYPTION_KEY_TYPE,
            Error::Coded(code, _) | Error::Preserve { code, .. } | Error::Advice { code, .. } => {
                *code
            }
            Error::CannotChangeKeysOfMissingFile(_) => 49,
            Error::Usage(_)
            | Error::ParseEncrypted { .. }
            | Error::MetadataNotFound(_)
            | Error::InvalidMetadata { .. }
            | Error::GenerateDataKey(_)
            | Error::Key(_)
            | Error::TreePath(_) => GENERIC,
        }
    }

    /// What the user can do about it, when there is something to say.
    pub fn hint(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Error::InFile { inner, .. } => inner.hint(),
            Error::TreePath(e) => e.hint.as_deref().map(std::borrow::Cow::Borrowed),
            Error::Advice { hint, .. } | Error::Explained { hint, .. } => {
                Some(std::borrow::Cow::Borrowed(hint))
            }
            other => other.fixed_hint().map(std::borrow::Cow::Borrowed),
        }
    }

    /// The hints that do not depend on the error's details.
    fn fixed_hint(&self) -> Option<&'static str> {
        match self {
            Error::ParsePlain { message, .. } | Error::ParseEncrypted { message, .. }
                if message.contains("excessive aliasing") =>
            {
                Some("each alias (*name) is expanded into a full copy of its anchor: alias large or deep anchors less, or write the values out")
            }
            Error::AlreadyEncrypted(_) => Some("to change an encrypted file, use `enseal edit FILE`; if it is plaintext, rename the 'sops' entry"),
            Error::MetadataNotFound(_) => Some("the file is not encrypted (or not in the format its extension says: try --input-type)"),
            Error::Mac(_) => Some("the file was changed outside sops/enseal; if you trust it, decrypt with --ignore-mac"),
            Error::RetrieveKey(_) => Some("make one key of the file usable: an age identity (SOPS_AGE_KEY_FILE=<file>, SOPS_AGE_KEY=<key>, ~/.config/sops/age/keys.txt), the PGP secret key in gpg, VAULT_TOKEN for Vault, or cloud credentials for KMS keys"),
            Error::Preserve { .. } => Some("change the construct named, or run without --preserve-format (and without stores.<format>.preserve_format) to write the reference's layout"),
            Error::NoFileSpecified => Some("give the file to work on, or `-` for standard input"),
            Error::TreePathFormat(_) => Some("paths look like [\"key\"][0][\"nested\"]"),
            Error::GenerateDataKey(_) => Some("check the keys given (--age, --pgp, --kms, --hc-vault-transit, … or the creation rule) and that their key service is reachable"),
            _ => None,
        }
    }
}

impl Error {
    /// The error without the file it was said of (sops' own text).
    pub fn without_file(&self) -> &Error {
        match self {
            Error::InFile { inner, .. } => inner.without_file(),
            Error::Explained { sops_error, .. } => sops_error.without_file(),
            other => other,
        }
    }

    /// This error, said of `path`.
    pub fn in_file(self, path: &str) -> Error {
        Error::InFile {
            path: path.to_string(),
            inner: Box::new(self),
        }
    }
}

impl Error {
    /// This error (sops' text started as `sops`, and its exit code) told as
    /// `message` with `hint` started as `enseal`.
    pub fn explained(self, message: impl Into<String>, hint: impl Into<String>) -> Error {
        Error::Explained {
            sops_error: Box::new(self),
            message: message.into(),
            hint: hint.into(),
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub use crate::shown::shown;

//! The JSON store (docs/spec/format.md §10.2).
//!
//! Reading follows the reference exactly: the text is read as the token
//! stream of Go's `encoding/json` `Decoder.Token`, walked the way sops
//! walks it. Consequences that are kept on purpose:
//!
//! * member order and duplicate keys are preserved;
//! * only the first top-level value is read (trailing text is ignored for
//!   plaintext files);
//! * invalid UTF-8 inside strings becomes U+FFFD (one per invalid byte), lone
//!   UTF-16 surrogates in `\u` escapes too;
//! * a file that ends where a member's value should start is accepted with
//!   the members read so far (a quirk of the reference walk).
//!
//! Numbers: an integer literal (no fraction, no exponent) that fits int64
//! becomes [`Value::Int`]; every other number (including `-0`) becomes
//! [`Value::Float`]. The reference 3.11.0 reads every number as a float and
//! rounds integers beyond 2^53 (`1234567890123456789` →
//! `1234567890123456800`); 3.13.2 keeps every int64, and so does enseal.
//! Up to 2^53 both readings give the same bytes.
//!
//! Error messages are the reference's texts, followed by the position
//! (`at line L, column C`).
//!
//! Writing is Go's `encoding/json` encoding of each member (HTML-safe
//! escaping), re-indented like `json.Indent` (tab by default), with a final
//! newline.
//!
//! `read` holds the token reader and the walk, `write` the encoder.

mod read;
mod write;

use super::{EncryptedFile, FormatError, Store, StoreOptions};
use crate::tree::{Map, Value};
pub(crate) use read::{go_lossy_utf8, parse_document, parse_encrypted_json};
pub(crate) use write::emit_document;
use write::{indent_unit, Encoder};

/// Nesting depth at which reading gives up (Go allows 10000; recursion here
/// must stay within a 2 MiB thread stack in debug builds).
const MAX_DEPTH: usize = 1000;

/// The JSON store.
#[derive(Debug, Clone)]
pub struct JsonStore {
    indent: Option<i64>,
}

impl JsonStore {
    /// A JSON store with these options (`json_indent`).
    pub fn new(options: &StoreOptions) -> Self {
        JsonStore {
            indent: options.json_indent,
        }
    }

    /// A JSON store with this indentation (`None` or −1: a tab; N ≥ 0: N
    /// spaces; below −1 is refused when writing).
    pub fn with_indent(indent: Option<i64>) -> Self {
        JsonStore { indent }
    }
}

impl Store for JsonStore {
    fn parse_plain(&self, input: &[u8]) -> Result<Vec<Map>, FormatError> {
        Ok(vec![parse_document(input)?])
    }

    fn parse_encrypted(&self, input: &[u8]) -> Result<EncryptedFile, FormatError> {
        parse_encrypted_json(input)
    }

    fn emit_plain(&self, documents: &[Map]) -> Result<Vec<u8>, FormatError> {
        let doc = documents
            .first()
            .ok_or_else(|| FormatError::Emit("Error marshaling to json: no document".into()))?;
        emit_document(doc, None, self.indent)
    }

    fn emit_encrypted(&self, documents: &[Map], metadata: &Map) -> Result<Vec<u8>, FormatError> {
        let doc = documents
            .first()
            .ok_or_else(|| FormatError::Emit("Error marshaling to json: no document".into()))?;
        emit_document(doc, Some(metadata), self.indent)
    }

    fn emit_value(&self, value: &Value) -> Result<Vec<u8>, FormatError> {
        let unit = indent_unit(self.indent)?;
        let mut out = Vec::new();
        let mut enc = Encoder {
            out: &mut out,
            unit: &unit,
        };
        enc.value(value, 0).map_err(FormatError::Emit)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests;

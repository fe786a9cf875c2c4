//! Ini store (placeholder, being written).
use super::{EncryptedFile, FormatError, Store};
use crate::tree::{Map, Value};

/// The Ini store.
pub struct IniStore;

impl Store for IniStore {
    fn parse_plain(&self, _input: &[u8]) -> Result<Vec<Map>, FormatError> {
        Err(FormatError::Parse("not implemented yet".into()))
    }
    fn parse_encrypted(&self, _input: &[u8]) -> Result<EncryptedFile, FormatError> {
        Err(FormatError::Parse("not implemented yet".into()))
    }
    fn emit_plain(&self, _documents: &[Map]) -> Result<Vec<u8>, FormatError> {
        Err(FormatError::Emit("not implemented yet".into()))
    }
    fn emit_encrypted(&self, _documents: &[Map], _metadata: &Map) -> Result<Vec<u8>, FormatError> {
        Err(FormatError::Emit("not implemented yet".into()))
    }
    fn emit_value(&self, _value: &Value) -> Result<Vec<u8>, FormatError> {
        Err(FormatError::Emit("not implemented yet".into()))
    }
}

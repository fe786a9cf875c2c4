//! Json store (placeholder, being written).
use super::{EncryptedFile, FormatError, Store, StoreOptions};
use crate::tree::{Map, Value};

/// The Json store.
pub struct JsonStore {
    #[allow(dead_code)]
    indent: usize,
}

impl JsonStore {
    /// A Json store with these options.
    pub fn new(options: &StoreOptions) -> Self {
        let indent = match options.json_indent {
            Some(n) if n > 0 => n as usize,
            _ => 0,
        };
        JsonStore { indent }
    }
}

impl Store for JsonStore {
    fn parse_plain(&self, _input: &[u8]) -> Result<Vec<Map>, FormatError> {
        Err(FormatError::Parse("Json store not implemented yet".into()))
    }
    fn parse_encrypted(&self, _input: &[u8]) -> Result<EncryptedFile, FormatError> {
        Err(FormatError::Parse("Json store not implemented yet".into()))
    }
    fn emit_plain(&self, _documents: &[Map]) -> Result<Vec<u8>, FormatError> {
        Err(FormatError::Emit("Json store not implemented yet".into()))
    }
    fn emit_encrypted(&self, _documents: &[Map], _metadata: &Map) -> Result<Vec<u8>, FormatError> {
        Err(FormatError::Emit("Json store not implemented yet".into()))
    }
    fn emit_value(&self, _value: &Value) -> Result<Vec<u8>, FormatError> {
        Err(FormatError::Emit("Json store not implemented yet".into()))
    }
}

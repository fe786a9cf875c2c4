//! Binary store (placeholder, being written).
use super::{EncryptedFile, FormatError, Store, StoreOptions};
use crate::tree::{Map, Value};

/// The Binary store.
pub struct BinaryStore {
    #[allow(dead_code)]
    indent: usize,
}

impl BinaryStore {
    /// A Binary store with these options.
    pub fn new(options: &StoreOptions) -> Self {
        let indent = match options.json_indent {
            Some(n) if n > 0 => n as usize,
            _ => 0,
        };
        BinaryStore { indent }
    }
}

impl Store for BinaryStore {
    fn parse_plain(&self, _input: &[u8]) -> Result<Vec<Map>, FormatError> {
        Err(FormatError::Parse(
            "Binary store not implemented yet".into(),
        ))
    }
    fn parse_encrypted(&self, _input: &[u8]) -> Result<EncryptedFile, FormatError> {
        Err(FormatError::Parse(
            "Binary store not implemented yet".into(),
        ))
    }
    fn emit_plain(&self, _documents: &[Map]) -> Result<Vec<u8>, FormatError> {
        Err(FormatError::Emit("Binary store not implemented yet".into()))
    }
    fn emit_encrypted(&self, _documents: &[Map], _metadata: &Map) -> Result<Vec<u8>, FormatError> {
        Err(FormatError::Emit("Binary store not implemented yet".into()))
    }
    fn emit_value(&self, _value: &Value) -> Result<Vec<u8>, FormatError> {
        Err(FormatError::Emit("Binary store not implemented yet".into()))
    }
}

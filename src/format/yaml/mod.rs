//! YAML store: reads and writes YAML the way sops 3.11 does (Go YAML v3
//! semantics), so that a decrypted file is byte-identical to sops's output.
//!
//! * Reading ([`parse`]): granit-parser events; scalars resolved with the
//!   yaml.v3 rules ([`resolve`]); aliases expanded; the merge key `<<` kept
//!   as a literal key; comments turned into comment items.
//! * Writing ([`emit`]): yaml.v3's block layout, with the configured
//!   indentation (default 4); every comment on its own line (as 3.11 does).
//!
//! An empty input has no document: `parse_plain` returns `Ok(vec![])` and
//! the caller raises [`FormatError::NoDocument`] when it needs a document.

mod emit;
mod parse;
mod resolve;

use super::{EncryptedFile, FormatError, Store, StoreOptions};
use crate::tree::{Item, Map, Value};

/// The YAML store.
pub struct YamlStore {
    indent: usize,
}

impl YamlStore {
    /// A YAML store with these options (`yaml_indent`: `None`/0 → 4).
    pub fn new(options: &StoreOptions) -> Self {
        let indent = match options.yaml_indent {
            Some(n) if n > 0 => n as usize,
            _ => 4,
        };
        YamlStore { indent }
    }
}

fn to_str(input: &[u8]) -> Result<&str, FormatError> {
    std::str::from_utf8(input)
        .map_err(|e| FormatError::Parse(format!("yaml: invalid UTF-8 at byte {}", e.valid_up_to())))
}

impl Store for YamlStore {
    fn parse_plain(&self, input: &[u8]) -> Result<Vec<Map>, FormatError> {
        let text = to_str(input)?;
        parse::parse_stream(text, true)
    }

    fn parse_encrypted(&self, input: &[u8]) -> Result<EncryptedFile, FormatError> {
        let text = to_str(input)?;
        let mut documents = parse::parse_stream(text, false)?;
        let mut metadata = None;
        for (i, doc) in documents.iter_mut().enumerate() {
            let mut found: Vec<Value> = Vec::new();
            doc.0.retain_mut(|item| match item {
                Item::Entry(k, v) if k == "sops" => {
                    found.push(std::mem::replace(v, Value::Null));
                    false
                }
                _ => true,
            });
            if i == 0 {
                if found.len() > 1 {
                    return Err(FormatError::Parse("Found duplicate sops entry".into()));
                }
                match found.pop() {
                    Some(Value::Map(m)) => metadata = Some(m),
                    Some(Value::Null) | None => {}
                    Some(_) => {
                        return Err(FormatError::Parse(
                            "Found sops entry that is not a mapping".into(),
                        ))
                    }
                }
            }
        }
        Ok(EncryptedFile {
            documents,
            metadata,
        })
    }

    fn emit_plain(&self, documents: &[Map]) -> Result<Vec<u8>, FormatError> {
        let docs: Vec<&Map> = documents.iter().collect();
        Ok(emit::emit_documents(&docs, None, self.indent))
    }

    fn emit_encrypted(&self, documents: &[Map], metadata: &Map) -> Result<Vec<u8>, FormatError> {
        let docs: Vec<&Map> = documents.iter().collect();
        Ok(emit::emit_documents(&docs, Some(metadata), self.indent))
    }

    fn emit_value(&self, value: &Value) -> Result<Vec<u8>, FormatError> {
        Ok(emit::emit_single_value(value))
    }
}

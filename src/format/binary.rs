//! The binary store (docs/spec/format.md §10.5): the whole plaintext is the string
//! value of the key `data`; the encrypted form is a JSON file.

use super::json::{emit_document, parse_encrypted_json};
use super::{EncryptedFile, FormatError, Store, StoreOptions};
use crate::tree::{Item, Map, Value};

/// The hint sops adds to every binary output error.
const NOT_BINARY_HINT: &str =
    "This is likely not an encrypted binary file? If not, use --output-type to select the correct output type.";

/// The binary store.
#[derive(Debug, Clone)]
pub struct BinaryStore {
    indent: Option<i64>,
}

impl BinaryStore {
    /// A binary store with these options (`json_binary_indent` for the
    /// encrypted JSON envelope).
    pub fn new(options: &StoreOptions) -> Self {
        BinaryStore {
            indent: options.json_binary_indent,
        }
    }
}

/// An output error with the reference's wording and hint.
fn emit_error(reason: &str) -> FormatError {
    FormatError::Emit(format!(
        "error emitting binary store: {reason}\n\n{NOT_BINARY_HINT}"
    ))
}

impl Store for BinaryStore {
    fn parse_plain(&self, input: &[u8]) -> Result<Vec<Map>, FormatError> {
        let value = match std::str::from_utf8(input) {
            Ok(s) => Value::Str(s.to_string()),
            Err(_) => Value::Bytes(input.to_vec()),
        };
        let mut map = Map::new();
        map.push("data", value);
        Ok(vec![map])
    }

    fn parse_encrypted(&self, input: &[u8]) -> Result<EncryptedFile, FormatError> {
        parse_encrypted_json(input)
    }

    fn emit_plain(&self, documents: &[Map]) -> Result<Vec<u8>, FormatError> {
        let [doc] = documents else {
            return Err(emit_error("there must be exactly one tree branch"));
        };
        let data = doc.0.iter().find_map(|item| match item {
            Item::Entry(k, v) if k == "data" => Some(v),
            _ => None,
        });
        match data {
            Some(Value::Str(s)) => Ok(s.as_bytes().to_vec()),
            Some(Value::Bytes(b)) => Ok(b.clone()),
            Some(_) => Err(emit_error(
                "'data' key in tree does not have a string value",
            )),
            None => Err(emit_error("no binary data found in tree")),
        }
    }

    fn emit_encrypted(&self, documents: &[Map], metadata: &Map) -> Result<Vec<u8>, FormatError> {
        let doc = documents
            .first()
            .ok_or_else(|| FormatError::Emit("Error marshaling to json: no document".into()))?;
        emit_document(doc, Some(metadata), self.indent)
    }

    fn emit_value(&self, _value: &Value) -> Result<Vec<u8>, FormatError> {
        Err(FormatError::Emit(
            "Binary files are not structured and extracting a single value is not possible".into(),
        ))
    }

    fn has_metadata_key(&self, _document: &Map) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> BinaryStore {
        BinaryStore::new(&StoreOptions::default())
    }

    #[test]
    fn plain_round_trip_keeps_any_bytes() {
        let input = b"hello\x00\xff world\n";
        let docs = store().parse_plain(input).unwrap();
        assert_eq!(docs[0].get("data"), Some(&Value::Bytes(input.to_vec())));
        assert_eq!(store().emit_plain(&docs).unwrap(), input);
        let docs = store().parse_plain(b"text\n").unwrap();
        assert_eq!(docs[0].get("data"), Some(&Value::Str("text\n".into())));
        assert_eq!(store().emit_plain(&docs).unwrap(), b"text\n");
        let docs = store().parse_plain(b"").unwrap();
        assert_eq!(store().emit_plain(&docs).unwrap(), b"");
    }

    #[test]
    fn plain_output_errors() {
        let hint = "\n\nThis is likely not an encrypted binary file? If not, use --output-type to select the correct output type.";
        let mut m = Map::new();
        m.push("other", Value::Str("x".into()));
        assert_eq!(
            store().emit_plain(&[m.clone()]).unwrap_err().to_string(),
            format!("error emitting binary store: no binary data found in tree{hint}")
        );
        assert_eq!(
            store().emit_plain(&[m.clone(), m]).unwrap_err().to_string(),
            format!("error emitting binary store: there must be exactly one tree branch{hint}")
        );
        let mut n = Map::new();
        n.push("data", Value::Int(1));
        assert_eq!(
            store().emit_plain(&[n]).unwrap_err().to_string(),
            format!("error emitting binary store: 'data' key in tree does not have a string value{hint}")
        );
    }

    #[test]
    fn encrypted_envelope_is_json() {
        let mut doc = Map::new();
        doc.push("data", Value::Str("ENC[x]".into()));
        let mut md = Map::new();
        md.push("version", Value::Str("3.11.0".into()));
        let out = store().emit_encrypted(&[doc.clone()], &md).unwrap();
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "{\n\t\"data\": \"ENC[x]\",\n\t\"sops\": {\n\t\t\"version\": \"3.11.0\"\n\t}\n}\n"
        );
        let back = store().parse_encrypted(&out).unwrap();
        assert_eq!(back.documents, vec![doc.clone()]);
        assert_eq!(back.metadata, Some(md.clone()));
        let two = BinaryStore::new(&StoreOptions {
            json_binary_indent: Some(2),
            json_indent: Some(7),
            ..StoreOptions::default()
        });
        assert!(two
            .emit_encrypted(&[doc], &md)
            .unwrap()
            .starts_with(b"{\n  \"data\""));
    }

    #[test]
    fn never_detects_metadata_and_refuses_extract() {
        let mut doc = Map::new();
        doc.push("sops", Value::Map(Map::new()));
        assert!(!store().has_metadata_key(&doc));
        assert_eq!(
            store().emit_value(&Value::Int(1)).unwrap_err().to_string(),
            "Binary files are not structured and extracting a single value is not possible"
        );
    }
}

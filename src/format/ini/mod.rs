//! The INI store (docs/spec/format.md §10.4).
//!
//! sops reads and writes INI with the Go library `gopkg.in/ini.v1` 1.67
//! (non-unique sections allowed, pretty format). This module reproduces the
//! parts of its parser and writer that sops exercises, byte for byte:
//!
//! * the implicit `DEFAULT` section is always the first section, even when
//!   empty; repeated section headers make repeated sections;
//! * `;`/`#` comment lines attach to the next section header or key, and an
//!   inline comment (after `]` or in an unquoted value) is appended to it;
//! * keys end at the first `=` or `:`; values may be quoted with `"""…"""`
//!   (possibly spanning lines), `` `…` ``, or surrounding `"`/`'`;
//! * writing aligns the `=` of a section, quotes values and keys that need
//!   it, writes comments above their header or key as `; text`, and puts a
//!   blank line between sections.
//!
//! In the tree a section is a top-level entry whose value is a mapping: its
//! comment (if any) is the first item, and each key is followed by its
//! comment item (if any). The metadata of an encrypted file is a last
//! `[sops]` section holding the flattened metadata (§9) with newlines in
//! strings escaped as `\n`.
//!
//! `read` holds go-ini's parser, `write` its writer, `text` the text of
//! non-string values (Go's `%v` and `encoding/json`).

mod read;
pub(crate) use read::key_offsets;
mod text;
mod write;

use super::flatten::flatten;
use super::{EncryptedFile, FormatError, Store};
use crate::tree::{Map, Value};
use read::{parse_ini, section_to_metadata, sections_to_tree};
use text::{go_json, value_to_text};
use write::{tree_to_sections, write_ini, OutSection, Quoting};

/// The name of the implicit first section.
const DEFAULT_SECTION: &str = "DEFAULT";

/// The name of the metadata section.
const METADATA_SECTION: &str = "sops";

/// go-ini's message for a line without `=` or `:` (go-ini adds the line,
/// which may hold a secret: enseal names its number instead).
const DELIMITER_NOT_FOUND: &str = "key-value delimiter not found";

/// The INI store.
///
/// Error texts are those of sops 3.11 with `gopkg.in/ini.v1`: parse errors
/// of a plaintext file are prefixed `Could not unmarshal input data: `
/// (those of an encrypted file are go-ini's message alone, as sops prints
/// them), write errors `Error marshaling to ini: `. go-ini's messages quote
/// the offending line, which may hold a secret: enseal's name its line
/// number instead (`key-value delimiter not found (line 2)`).
pub struct IniStore;

impl Store for IniStore {
    fn parse_plain(&self, input: &[u8]) -> Result<Vec<Map>, FormatError> {
        let sections = parse_ini(input)
            .map_err(|e| FormatError::Parse(format!("Could not unmarshal input data: {e}")))?;
        Ok(vec![sections_to_tree(sections)])
    }

    fn parse_encrypted(&self, input: &[u8]) -> Result<EncryptedFile, FormatError> {
        let sections = parse_ini(input).map_err(FormatError::Parse)?;
        let mut metadata_section = None;
        let mut kept = Vec::with_capacity(sections.len());
        for section in sections {
            if section.name == METADATA_SECTION {
                if metadata_section.is_none() {
                    metadata_section = Some(section);
                }
            } else {
                kept.push(section);
            }
        }
        let metadata = match metadata_section {
            Some(section) => Some(section_to_metadata(section)?),
            None => None,
        };
        Ok(EncryptedFile {
            documents: vec![sections_to_tree(kept)],
            metadata,
        })
    }

    fn emit_plain(&self, documents: &[Map]) -> Result<Vec<u8>, FormatError> {
        let sections = tree_to_sections(documents).map_err(marshal_error)?;
        Ok(write_ini(&sections, Quoting::AsGoIni)
            .map_err(marshal_error)?
            .into_bytes())
    }

    fn emit_encrypted(&self, documents: &[Map], metadata: &Map) -> Result<Vec<u8>, FormatError> {
        let mut sections = tree_to_sections(documents).map_err(marshal_error)?;
        let mut meta = OutSection::new(METADATA_SECTION.to_string());
        for (key, value) in flatten(metadata, "") {
            if matches!(value, Value::Null) {
                continue;
            }
            let text = value_to_text(&value);
            let text = match value {
                Value::Str(_) => text.replace('\n', "\\n"),
                _ => text,
            };
            meta.set_key(key, text).map_err(marshal_error)?;
        }
        sections.push(meta);
        Ok(write_ini(&sections, Quoting::ReadsBack)
            .map_err(marshal_error)?
            .into_bytes())
    }

    fn emit_value(&self, value: &Value) -> Result<Vec<u8>, FormatError> {
        let mut out = String::new();
        go_json(value, &mut out)?;
        Ok(out.into_bytes())
    }

    fn has_metadata_key(&self, document: &Map) -> bool {
        document.get(METADATA_SECTION).is_some()
    }
}

fn marshal_error(message: String) -> FormatError {
    FormatError::Emit(format!("Error marshaling to ini: {message}"))
}

#[cfg(test)]
mod tests;

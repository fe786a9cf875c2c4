//! dotenv layout: the reference reads a line as `KEY=VALUE` split at the
//! first `=`, with nothing trimmed or unquoted, so quotes, `export ` (part
//! of the key) and spacing are kept by replacing the text after `=` (the
//! quotes are inside the ciphertext, as in the normal mode). Comments are
//! the lines starting with `#`.

use super::{append_at_end, metadata_range, written_by, Layout, PreserveError, Scan, Slot, Style};
use crate::tree::{Map, Value};

pub(crate) struct DotenvLayout;

impl Layout for DotenvLayout {
    fn scan(&self, text: &str, encrypted: bool) -> Result<Scan, PreserveError> {
        let mut scan = Scan::default();
        let mut pos = 0;
        // Start of the trailing run of `sops_` lines.
        let mut meta_from: Option<usize> = None;
        let mut meta_count = 0;
        let mut values_in_meta = 0;
        for line in text.split('\n') {
            let start = pos;
            pos += line.len() + 1;
            if line.is_empty() {
                continue;
            }
            if let Some(body) = line.strip_prefix('#') {
                meta_from = None;
                scan.comments.push(super::CommentSlot {
                    span: start + 1..start + line.len(),
                    text: body.to_string(),
                    prefix: String::new(),
                    stuck: None,
                });
                continue;
            }
            let Some(eq) = line.find('=') else {
                return Err(super::refused(text, start, "a dotenv line needs `=`"));
            };
            if encrypted && line.starts_with("sops_") {
                meta_count += 1;
                if meta_from.is_none() {
                    meta_from = Some(start);
                    values_in_meta = 0;
                }
                values_in_meta += 1;
                continue;
            }
            meta_from = None;
            scan.values.push(Slot {
                span: start + eq + 1..start + line.len(),
                style: Style::Dotenv,
                keep: false,
            });
        }
        if encrypted && meta_count > 0 {
            match meta_from {
                Some(from) if values_in_meta == meta_count => {
                    scan.metadata.push(metadata_range(text, from, text.len()));
                }
                _ => {
                    return Err(PreserveError::Unsupported(
                        "the sops_ metadata lines are not all at the end of the file".into(),
                    ))
                }
            }
        }
        scan.inserts.push(text.len());
        Ok(scan)
    }

    fn enc_value(&self, _slot: &Slot, enc: &str) -> String {
        enc.to_string()
    }

    fn plain_value(&self, _slot: &Slot, value: &Value) -> Option<String> {
        Some(value.as_str()?.replace('\n', "\\n"))
    }

    fn metadata_text(
        &self,
        text: &str,
        _scan: &Scan,
        metadata: &Map,
    ) -> Result<Vec<(usize, String)>, PreserveError> {
        let block = written_by(&crate::format::dotenv::DotenvStore, &[Map::new()], metadata)?;
        Ok(vec![(text.len(), append_at_end(text, text.len(), &block))])
    }
}

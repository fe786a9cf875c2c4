//! JSON layout: a small tokenizer that records the span of every value.
//!
//! Strings keep their exact escapes only when they are the ones Go's
//! encoder (and serde_json) would write; numbers must be written as the
//! reference prints them. Anything else is refused by the round-trip check.

use super::{refused, scalar_text, written_by, Layout, PreserveError, Scan, Slot, Style};
use crate::format::StoreOptions;
use crate::tree::{Map, Value};

pub(crate) struct JsonLayout;

struct Scanner<'a> {
    text: &'a str,
    pos: usize,
    encrypted: bool,
    scan: Scan,
    /// End of the root object's last member value (or just after `{`).
    last_member_end: usize,
    depth: usize,
}

impl<'a> Scanner<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn ws(&mut self) {
        while self.pos < self.text.len()
            && matches!(self.bytes()[self.pos], b' ' | b'\t' | b'\r' | b'\n')
        {
            self.pos += 1;
        }
    }

    fn err(&self, message: &str) -> PreserveError {
        refused(self.text, self.pos, message)
    }

    fn expect(&mut self, c: u8) -> Result<(), PreserveError> {
        self.ws();
        if self.bytes().get(self.pos) == Some(&c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(&format!("expected '{}'", c as char)))
        }
    }

    fn string(&mut self) -> Result<std::ops::Range<usize>, PreserveError> {
        self.ws();
        let start = self.pos;
        if self.bytes().get(self.pos) != Some(&b'"') {
            return Err(self.err("expected a string"));
        }
        self.pos += 1;
        while let Some(&b) = self.bytes().get(self.pos) {
            self.pos += 1;
            match b {
                b'\\' => self.pos += 1,
                b'"' => return Ok(start..self.pos),
                _ => {}
            }
        }
        Err(self.err("unterminated string"))
    }

    /// One value; `record`: put scalars into the scan.
    fn value(&mut self, record: bool) -> Result<(), PreserveError> {
        self.ws();
        match self.bytes().get(self.pos) {
            Some(b'{') => {
                self.pos += 1;
                self.depth += 1;
                let root = self.depth == 1;
                if root {
                    self.last_member_end = self.pos;
                }
                self.ws();
                if self.bytes().get(self.pos) == Some(&b'}') {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                loop {
                    let before = if root { self.last_member_end } else { 0 };
                    let key = self.string()?;
                    self.expect(b':')?;
                    let is_sops = root && self.encrypted && &self.text[key.clone()] == "\"sops\"";
                    self.value(record && !is_sops)?;
                    if is_sops {
                        self.scan.metadata.push(before..self.pos);
                    }
                    if root {
                        self.last_member_end = self.pos;
                    }
                    self.ws();
                    match self.bytes().get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            break;
                        }
                        _ => return Err(self.err("expected ',' or '}'")),
                    }
                }
                self.depth -= 1;
                Ok(())
            }
            Some(b'[') => {
                self.pos += 1;
                self.depth += 1;
                self.ws();
                if self.bytes().get(self.pos) == Some(&b']') {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                loop {
                    self.value(record)?;
                    self.ws();
                    match self.bytes().get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            break;
                        }
                        _ => return Err(self.err("expected ',' or ']'")),
                    }
                }
                self.depth -= 1;
                Ok(())
            }
            Some(b'"') => {
                let span = self.string()?;
                if record {
                    self.scan.values.push(Slot {
                        span,
                        style: Style::Json,
                        keep: false,
                    });
                }
                Ok(())
            }
            Some(_) => {
                let start = self.pos;
                while let Some(&b) = self.bytes().get(self.pos) {
                    if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n') {
                        break;
                    }
                    self.pos += 1;
                }
                if self.pos == start {
                    return Err(self.err("expected a value"));
                }
                if record {
                    self.scan.values.push(Slot {
                        span: start..self.pos,
                        style: Style::Json,
                        keep: false,
                    });
                }
                Ok(())
            }
            None => Err(self.err("unexpected end of input")),
        }
    }
}

impl Layout for JsonLayout {
    fn scan(&self, text: &str, encrypted: bool) -> Result<Scan, PreserveError> {
        let mut s = Scanner {
            text,
            pos: 0,
            encrypted,
            scan: Scan::default(),
            last_member_end: 0,
            depth: 0,
        };
        s.ws();
        if s.bytes().get(s.pos) != Some(&b'{') {
            return Err(s.err("the top level must be an object"));
        }
        s.value(true)?;
        s.ws();
        if s.pos != text.len() {
            return Err(s.err("text after the top-level object cannot be kept"));
        }
        let last = s.last_member_end;
        let mut scan = s.scan;
        scan.inserts.push(last);
        Ok(scan)
    }

    fn enc_value(&self, _slot: &Slot, enc: &str) -> String {
        format!("\"{enc}\"")
    }

    fn plain_value(&self, _slot: &Slot, value: &Value) -> Option<String> {
        match value {
            Value::Str(s) => serde_json::to_string(s).ok(),
            other => scalar_text(other),
        }
    }

    fn metadata_text(
        &self,
        text: &str,
        scan: &Scan,
        metadata: &Map,
    ) -> Result<Vec<(usize, String)>, PreserveError> {
        let store = crate::format::json::JsonStore::new(&StoreOptions::default());
        let mut doc = Map::new();
        doc.push("x", Value::Null);
        let out = written_by(&store, &[doc], metadata)?;
        // `{\n\t"x": null,\n\t"sops": {…}\n}\n` → `\n\t"sops": {…}`.
        let member = out
            .find("\"sops\"")
            .and_then(|p| out[..p].rfind(',').map(|c| &out[c + 1..]))
            .map(|m| m.trim_end().trim_end_matches('}').trim_end())
            .ok_or_else(|| {
                PreserveError::Unsupported("could not write the JSON metadata".into())
            })?;
        let Some(&at) = scan.inserts.first() else {
            return Ok(Vec::new());
        };
        let empty = text[..at].trim_end().ends_with('{');
        let block = if empty {
            member.to_string()
        } else {
            format!(",{member}")
        };
        Ok(vec![(at, block)])
    }
}

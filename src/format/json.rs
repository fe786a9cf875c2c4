//! The JSON store (format.md §10.2).
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

use super::swar::{has_byte, has_less_than_0x20, skip_plain};
use super::{EncryptedFile, FormatError, Store, StoreOptions};
use crate::gofmt::format_json_float;
use crate::tree::{Comment, Item, Map, Value};

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

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/// Parses a plaintext JSON file into its single document, the way
/// `sops encrypt` reads it.
pub(crate) fn parse_document(input: &[u8]) -> Result<Map, FormatError> {
    let mut dec = Decoder::new(input);
    read_top_object(&mut dec).map_err(|e| {
        FormatError::Parse(format!(
            "Could not unmarshal input data: {}",
            e.render(input)
        ))
    })
}

/// Parses an encrypted JSON file (also the envelope of binary files): the
/// whole input must be one valid JSON value; the `sops` member is the
/// metadata.
pub(crate) fn parse_encrypted_json(input: &[u8]) -> Result<EncryptedFile, FormatError> {
    validate_strict(input).map_err(|e| {
        FormatError::Parse(format!(
            "Error unmarshalling input json: {}",
            e.render(input)
        ))
    })?;
    // The metadata is read first, into a Go struct.
    let first = input.iter().copied().find(|&b| !is_space(b));
    let kind = match first {
        Some(b'{') => None,
        Some(b'n') => {
            return Ok(EncryptedFile {
                documents: vec![Map::new()],
                metadata: None,
            })
        }
        Some(b'[') => Some("array"),
        Some(b'"') => Some("string"),
        Some(b't' | b'f') => Some("bool"),
        _ => Some("number"),
    };
    if let Some(kind) = kind {
        return Err(FormatError::Parse(format!(
            "Error unmarshalling input json: json: cannot unmarshal {kind} into Go value of type stores.SopsFile"
        )));
    }
    let mut document = parse_document(input)?;
    let mut metadata = None;
    let mut bad_type = None;
    document.0.retain_mut(|item| match item {
        Item::Entry(k, v) if k == "sops" => {
            match std::mem::replace(v, Value::Null) {
                Value::Map(m) => metadata = Some(m),
                Value::Null => {}
                other => bad_type = Some(go_json_kind(&other)),
            }
            false
        }
        _ => true,
    });
    if let Some(kind) = bad_type {
        return Err(FormatError::Parse(format!(
            "Error unmarshalling input json: json: cannot unmarshal {kind} into Go struct field SopsFile.sops of type stores.Metadata"
        )));
    }
    Ok(EncryptedFile {
        documents: vec![document],
        metadata,
    })
}

/// The JSON kind name Go's unmarshal errors use.
fn go_json_kind(v: &Value) -> &'static str {
    match v {
        Value::Map(_) => "object",
        Value::List(_) => "array",
        Value::Int(_) | Value::Float(_) => "number",
        Value::Bool(_) => "bool",
        Value::Null => "null",
        _ => "string",
    }
}

/// A reading error: end of input, or a message at a byte offset.
#[derive(Debug)]
enum DecodeError {
    /// The input ended where a token should start (Go's `io.EOF`).
    Eof,
    /// Anything else.
    At(String, usize),
}

impl DecodeError {
    /// The message with its position.
    fn render(&self, input: &[u8]) -> String {
        match self {
            DecodeError::Eof => "EOF".to_string(),
            DecodeError::At(msg, offset) => {
                let (line, column) = line_column(input, *offset);
                format!("{msg} at line {line}, column {column}")
            }
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(input: &[u8], offset: usize) -> (usize, usize) {
    let offset = offset.min(input.len());
    let before = &input[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    // Count characters: every byte that is not a UTF-8 continuation byte.
    let column = before[line_start..]
        .iter()
        .filter(|&&b| (b & 0xC0) != 0x80)
        .count()
        + 1;
    (line, column)
}

/// One token of Go's `Decoder.Token`.
#[derive(Debug)]
enum Token {
    ObjectStart,
    ObjectEnd,
    ArrayStart,
    ArrayEnd,
    /// A string, number, boolean or null.
    Scalar(Value),
}

/// Go's token states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    TopValue,
    ArrayStart,
    ArrayValue,
    ArrayComma,
    ObjectStart,
    ObjectKey,
    ObjectColon,
    ObjectValue,
    ObjectComma,
}

/// A tokenizer with the grammar checks and messages of Go's `Decoder.Token`.
struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
    state: State,
    stack: Vec<State>,
    /// Use the messages of Go's `json.Unmarshal` scanner instead of
    /// `Decoder.Token` where they differ.
    strict: bool,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

impl<'a> Decoder<'a> {
    fn new(input: &'a [u8]) -> Self {
        Decoder {
            input,
            pos: 0,
            state: State::TopValue,
            stack: Vec::new(),
            strict: false,
        }
    }

    /// The next non-space byte, without consuming it.
    fn peek(&mut self) -> Option<u8> {
        while let Some(&b) = self.input.get(self.pos) {
            if !is_space(b) {
                return Some(b);
            }
            self.pos += 1;
        }
        None
    }

    fn value_allowed(&self) -> bool {
        matches!(
            self.state,
            State::TopValue | State::ArrayStart | State::ArrayValue | State::ObjectValue
        )
    }

    fn value_end(&mut self) {
        match self.state {
            State::ArrayStart | State::ArrayValue => self.state = State::ArrayComma,
            State::ObjectValue => self.state = State::ObjectComma,
            _ => {}
        }
    }

    fn token_error(&self, c: u8) -> DecodeError {
        let context = match self.state {
            State::TopValue | State::ArrayStart | State::ArrayValue | State::ObjectValue => {
                " looking for beginning of value"
            }
            State::ArrayComma => " after array element",
            State::ObjectKey => " looking for beginning of object key string",
            State::ObjectColon => " after object key",
            State::ObjectComma => " after object key:value pair",
            State::ObjectStart if self.strict => " looking for beginning of object key string",
            State::ObjectStart => "",
        };
        DecodeError::At(
            format!("invalid character {}{context}", offending_char(c)),
            self.pos,
        )
    }

    fn push(&mut self, next: State) -> Result<(), DecodeError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(DecodeError::At("exceeded max depth".into(), self.pos));
        }
        self.stack.push(self.state);
        self.state = next;
        Ok(())
    }

    fn pop(&mut self) {
        self.state = self.stack.pop().unwrap_or(State::TopValue);
        self.value_end();
    }

    /// Go's `Decoder.Token`.
    fn token(&mut self) -> Result<Token, DecodeError> {
        loop {
            let c = self.peek().ok_or(DecodeError::Eof)?;
            match c {
                b'[' => {
                    if !self.value_allowed() {
                        return Err(self.token_error(c));
                    }
                    self.push(State::ArrayStart)?;
                    self.pos += 1;
                    return Ok(Token::ArrayStart);
                }
                b']' => {
                    if self.state != State::ArrayStart && self.state != State::ArrayComma {
                        return Err(self.token_error(c));
                    }
                    self.pos += 1;
                    self.pop();
                    return Ok(Token::ArrayEnd);
                }
                b'{' => {
                    if !self.value_allowed() {
                        return Err(self.token_error(c));
                    }
                    self.push(State::ObjectStart)?;
                    self.pos += 1;
                    return Ok(Token::ObjectStart);
                }
                b'}' => {
                    if self.state != State::ObjectStart && self.state != State::ObjectComma {
                        return Err(self.token_error(c));
                    }
                    self.pos += 1;
                    self.pop();
                    return Ok(Token::ObjectEnd);
                }
                b':' => {
                    if self.state != State::ObjectColon {
                        return Err(self.token_error(c));
                    }
                    self.pos += 1;
                    self.state = State::ObjectValue;
                }
                b',' => match self.state {
                    State::ArrayComma => {
                        self.pos += 1;
                        self.state = State::ArrayValue;
                    }
                    State::ObjectComma => {
                        self.pos += 1;
                        self.state = State::ObjectKey;
                    }
                    _ => return Err(self.token_error(c)),
                },
                b'"' if matches!(self.state, State::ObjectStart | State::ObjectKey) => {
                    let key = self.read_string()?;
                    self.state = State::ObjectColon;
                    return Ok(Token::Scalar(Value::Str(key)));
                }
                _ => {
                    if !self.value_allowed() {
                        return Err(self.token_error(c));
                    }
                    let value = self.read_scalar();
                    self.value_end();
                    return value.map(Token::Scalar);
                }
            }
        }
    }

    /// Reads a string, number or literal starting at `pos` (Go's scanner
    /// in `stateBeginValue`, then the conversion to a Go value).
    fn read_scalar(&mut self) -> Result<Value, DecodeError> {
        let c = self.input[self.pos];
        match c {
            b'"' => self.read_string().map(Value::Str),
            b'-' | b'0'..=b'9' => self.read_number(),
            b't' => self.read_literal("true", Value::Bool(true)),
            b'f' => self.read_literal("false", Value::Bool(false)),
            b'n' => self.read_literal("null", Value::Null),
            _ => Err(DecodeError::At(
                format!(
                    "invalid character {} looking for beginning of value",
                    offending_char(c)
                ),
                self.pos,
            )),
        }
    }

    fn unexpected_eof(&self) -> DecodeError {
        DecodeError::At("unexpected EOF".into(), self.input.len())
    }

    fn read_literal(&mut self, word: &str, value: Value) -> Result<Value, DecodeError> {
        for (i, expected) in word.bytes().enumerate().skip(1) {
            match self.input.get(self.pos + i) {
                None => return Err(self.unexpected_eof()),
                Some(&b) if b == expected => {}
                Some(&b) => {
                    return Err(DecodeError::At(
                        format!(
                            "invalid character {} in literal {word} (expecting {})",
                            offending_char(b),
                            quote_char(expected)
                        ),
                        self.pos + i,
                    ))
                }
            }
        }
        self.pos += word.len();
        Ok(value)
    }

    fn read_number(&mut self) -> Result<Value, DecodeError> {
        let input = self.input;
        let start = self.pos;
        let mut i = start;
        let at = |i: usize| input.get(i).copied();
        let digit = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_digit());
        let bad = |i: usize, what: &str| -> DecodeError {
            match input.get(i) {
                None => DecodeError::At("unexpected EOF".into(), input.len()),
                Some(&b) => {
                    DecodeError::At(format!("invalid character {} {what}", offending_char(b)), i)
                }
            }
        };
        if at(i) == Some(b'-') {
            i += 1;
        }
        match at(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while digit(at(i)) {
                    i += 1;
                }
            }
            _ => return Err(bad(i, "in numeric literal")),
        }
        let mut integer = true;
        if at(i) == Some(b'.') {
            integer = false;
            i += 1;
            if !digit(at(i)) {
                return Err(bad(i, "after decimal point in numeric literal"));
            }
            while digit(at(i)) {
                i += 1;
            }
        }
        if matches!(at(i), Some(b'e' | b'E')) {
            integer = false;
            i += 1;
            if matches!(at(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !digit(at(i)) {
                return Err(bad(i, "in exponent of numeric literal"));
            }
            while digit(at(i)) {
                i += 1;
            }
        }
        self.pos = i;
        // The slice is ASCII by construction.
        let text = std::str::from_utf8(&input[start..i]).unwrap_or("");
        if integer && text != "-0" {
            if let Ok(n) = text.parse::<i64>() {
                return Ok(Value::Int(n));
            }
        }
        match text.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Value::Float(x)),
            _ => Err(DecodeError::At(
                // Go's message quotes the number; it may be a secret.
                "json: cannot unmarshal number into Go value of type float64".to_string(),
                start,
            )),
        }
    }

    /// Reads a string literal starting at the opening quote at `pos`.
    fn read_string(&mut self) -> Result<String, DecodeError> {
        let input = self.input;
        let start = self.pos + 1;
        let mut i = start;
        let mut simple = true;
        loop {
            // Skip runs of ordinary bytes eight at a time.
            i = skip_plain(input, i, |w| {
                has_byte(w, b'"') | has_byte(w, b'\\') | has_less_than_0x20(w)
            });
            let Some(&b) = input.get(i) else {
                return Err(self.unexpected_eof());
            };
            match b {
                b'"' => break,
                b'\\' => {
                    simple = false;
                    i += 1;
                    let Some(&e) = input.get(i) else {
                        return Err(self.unexpected_eof());
                    };
                    match e {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 1,
                        b'u' => {
                            i += 1;
                            for _ in 0..4 {
                                match input.get(i) {
                                    None => return Err(self.unexpected_eof()),
                                    Some(h) if h.is_ascii_hexdigit() => i += 1,
                                    Some(&h) => {
                                        return Err(DecodeError::At(
                                            format!(
                                                "invalid character {} in \\u hexadecimal character escape",
                                                offending_char(h)
                                            ),
                                            i,
                                        ))
                                    }
                                }
                            }
                        }
                        _ => {
                            return Err(DecodeError::At(
                                format!(
                                    "invalid character {} in string escape code",
                                    offending_char(e)
                                ),
                                i,
                            ))
                        }
                    }
                }
                0..=0x1F => {
                    return Err(DecodeError::At(
                        format!("invalid character {} in string literal", offending_char(b)),
                        i,
                    ))
                }
                _ => i += 1,
            }
        }
        self.pos = i + 1;
        let raw = &input[start..i];
        if simple {
            if let Ok(s) = std::str::from_utf8(raw) {
                return Ok(s.to_string());
            }
        }
        Ok(unquote(raw))
    }
}

/// Decodes the (already validated) content of a string literal like Go's
/// `unquote`: escapes resolved, invalid UTF-8 and lone surrogates replaced
/// by U+FFFD.
fn unquote(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'\\' {
            let e = raw.get(i + 1).copied().unwrap_or(b'\\');
            i += 2;
            match e {
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => {
                    let r = hex4(raw, i).unwrap_or(0xFFFD);
                    i += 4;
                    if (0xD800..0xE000).contains(&r) {
                        let low = if raw.get(i) == Some(&b'\\') && raw.get(i + 1) == Some(&b'u') {
                            hex4(raw, i + 2)
                        } else {
                            None
                        };
                        match low {
                            Some(lo)
                                if (0xD800..0xDC00).contains(&r)
                                    && (0xDC00..0xE000).contains(&lo) =>
                            {
                                let c = 0x10000 + ((r - 0xD800) << 10) + (lo - 0xDC00);
                                out.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
                                i += 6;
                            }
                            _ => out.push('\u{FFFD}'),
                        }
                    } else {
                        out.push(char::from_u32(r).unwrap_or('\u{FFFD}'));
                    }
                }
                other => out.push(other as char),
            }
        } else if b < 0x80 {
            out.push(b as char);
            i += 1;
        } else {
            let (c, len) = decode_rune(&raw[i..]);
            out.push(c);
            i += len;
        }
    }
    out
}

/// Four hex digits at `at` as a code unit.
fn hex4(raw: &[u8], at: usize) -> Option<u32> {
    let digits = raw.get(at..at + 4)?;
    let text = std::str::from_utf8(digits).ok()?;
    u32::from_str_radix(text, 16).ok()
}

/// Go's `utf8.DecodeRune`: one character and its length, or U+FFFD and 1
/// for an invalid byte.
fn decode_rune(bytes: &[u8]) -> (char, usize) {
    let width = match bytes.first() {
        Some(0x00..=0x7F) => 1,
        Some(0xC2..=0xDF) => 2,
        Some(0xE0..=0xEF) => 3,
        Some(0xF0..=0xF4) => 4,
        _ => return ('\u{FFFD}', 1),
    };
    match bytes.get(..width).map(std::str::from_utf8) {
        Some(Ok(s)) => (s.chars().next().unwrap_or('\u{FFFD}'), width),
        _ => ('\u{FFFD}', 1),
    }
}

/// Converts bytes to text like Go converts invalid UTF-8 in JSON: one
/// U+FFFD per invalid byte.
pub(crate) fn go_lossy_utf8(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                return out;
            }
            Err(e) => {
                let valid = e.valid_up_to();
                // The prefix is valid by construction.
                out.push_str(std::str::from_utf8(&rest[..valid]).unwrap_or(""));
                out.push('\u{FFFD}');
                rest = &rest[valid + 1..];
            }
        }
    }
}

/// The byte an error is about, as Go quotes it, when it cannot be a
/// character of a value: JSON's punctuation, quotes, whitespace and
/// control bytes. Any other byte (a letter, a digit, a symbol, a byte of a
/// non-ASCII character) may be a character of a secret written without
/// quotes or inside a string: it is not shown (the message gives the line
/// and column). Go shows every byte.
fn offending_char(c: u8) -> String {
    if matches!(c, b'{' | b'}' | b'[' | b']' | b',' | b':' | b'"' | b'\'')
        || c.is_ascii_whitespace()
        || c.is_ascii_control()
    {
        quote_char(c)
    } else {
        "(not shown)".to_string()
    }
}

/// Go's `quoteChar`: a byte in single quotes, escaped like `strconv.Quote`
/// escapes the character with that code point.
fn quote_char(c: u8) -> String {
    match c {
        b'\'' => r"'\''".to_string(),
        b'"' => "'\"'".to_string(),
        _ => format!("'{}'", go_quote_char(c as char)),
    }
}

/// One character as Go's `strconv.Quote` writes it (without quotes).
fn go_quote_char(c: char) -> String {
    match c {
        '\u{7}' => r"\a".into(),
        '\u{8}' => r"\b".into(),
        '\u{c}' => r"\f".into(),
        '\n' => r"\n".into(),
        '\r' => r"\r".into(),
        '\t' => r"\t".into(),
        '\u{b}' => r"\v".into(),
        '\\' => r"\\".into(),
        c if (c as u32) < 0x20 || c as u32 == 0x7F => format!(r"\x{:02x}", c as u32),
        c if !go_printable(c) && (c as u32) < 0x10000 => format!(r"\u{:04x}", c as u32),
        c if !go_printable(c) => format!(r"\U{:08x}", c as u32),
        c => c.to_string(),
    }
}

/// An approximation of Go's `strconv.IsPrint` (exact for Latin-1).
fn go_printable(c: char) -> bool {
    !(c.is_control()
        || matches!(
            c,
            '\u{A0}' | '\u{AD}' | '\u{2028}' | '\u{2029}' | '\u{FEFF}'
        )
        || (c.is_whitespace() && c != ' '))
}

/// sops's reading of the top level: an object, walked like sops does.
fn read_top_object(dec: &mut Decoder) -> Result<Map, DecodeError> {
    let start = dec.pos;
    match dec.token()? {
        Token::ObjectStart => read_object(dec),
        Token::ArrayStart => Err(DecodeError::At(
            "Expected JSON object start, got delimiter [ instead".into(),
            start,
        )),
        Token::ObjectEnd | Token::ArrayEnd => {
            Err(DecodeError::At("Expected JSON object start".into(), start))
        }
        Token::Scalar(v) => {
            // sops' message shows the value; it may be a secret: only its
            // type is named (`null` is no secret and keeps sops' text).
            let message = match &v {
                Value::Str(_) => "Expected JSON object start, got a value of type string instead",
                Value::Int(_) | Value::Float(_) => {
                    "Expected JSON object start, got a value of type float64 instead"
                }
                Value::Bool(_) => "Expected JSON object start, got a value of type bool instead",
                _ => "Expected JSON object start, got <nil> of type <nil> instead",
            };
            Err(DecodeError::At(message.into(), dec.pos))
        }
    }
}

/// sops's `treeBranchFromJSONDecoder`: members until `}`; the input ending
/// where a value should start ends the object silently.
fn read_object(dec: &mut Decoder) -> Result<Map, DecodeError> {
    let mut map = Map::new();
    loop {
        // sops's `treeItemFromJSONDecoder`.
        let key = match dec.token() {
            Ok(Token::Scalar(Value::Str(k))) => k,
            Ok(Token::ObjectEnd) => return Ok(map),
            Ok(_) | Err(DecodeError::Eof) => {
                return Err(DecodeError::At(
                    "Expected JSON object key, got %!s(<nil>) of type <nil> instead".into(),
                    dec.pos,
                ))
            }
            Err(e) => return Err(e),
        };
        let value = match dec.token() {
            Ok(Token::ArrayStart) => read_array(dec),
            Ok(Token::ObjectStart) => read_object(dec).map(Value::Map),
            Ok(Token::Scalar(v)) => Ok(v),
            Ok(Token::ObjectEnd | Token::ArrayEnd) => Ok(Value::Null),
            Err(e) => Err(e),
        };
        match value {
            Ok(v) => map.push(key, v),
            Err(DecodeError::Eof) => return Ok(map),
            Err(e) => return Err(e),
        }
    }
}

/// sops's `sliceFromJSONDecoder`: elements until `]`.
fn read_array(dec: &mut Decoder) -> Result<Value, DecodeError> {
    let mut items = Vec::new();
    loop {
        match dec.token()? {
            Token::ArrayEnd => return Ok(Value::List(items)),
            Token::ObjectStart => items.push(Value::Map(read_object(dec)?)),
            Token::ArrayStart => items.push(read_array(dec)?),
            Token::Scalar(v) => items.push(v),
            Token::ObjectEnd => items.push(Value::Null),
        }
    }
}

/// Checks that the input is exactly one JSON value (plus white space), with
/// the messages of Go's `json.Unmarshal`.
fn validate_strict(input: &[u8]) -> Result<(), DecodeError> {
    let mut dec = Decoder::new(input);
    dec.strict = true;
    let eof =
        |dec: &Decoder| DecodeError::At("unexpected end of JSON input".into(), dec.input.len());
    let mut depth = 0usize;
    loop {
        match dec.token() {
            Ok(Token::ObjectStart | Token::ArrayStart) => depth += 1,
            Ok(Token::ObjectEnd | Token::ArrayEnd) => depth -= 1,
            Ok(Token::Scalar(_)) => {}
            Err(DecodeError::Eof) => return Err(eof(&dec)),
            Err(DecodeError::At(msg, _)) if msg == "unexpected EOF" => return Err(eof(&dec)),
            // Number range errors are reported later, by the tree reader.
            Err(DecodeError::At(msg, _)) if msg.starts_with("json: cannot unmarshal number") => {}
            Err(e) => return Err(e),
        }
        // A key leaves the state at "expecting a colon": not a complete value.
        if depth == 0 && dec.state == State::TopValue {
            break;
        }
    }
    if let Some(c) = dec.peek() {
        return Err(DecodeError::At(
            format!(
                "invalid character {} after top-level value",
                offending_char(c)
            ),
            dec.pos,
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/// The indentation unit for an `indent` setting.
fn indent_unit(indent: Option<i64>) -> Result<String, FormatError> {
    match indent {
        None | Some(-1) => Ok("\t".to_string()),
        Some(n) if n < -1 => Err(FormatError::Emit(
            "Error marshaling to json: JSON Indentation parameter smaller than -1 is not accepted"
                .into(),
        )),
        Some(n) => Ok(" ".repeat(n as usize)),
    }
}

/// Writes one document (and the metadata as its last member `sops`) with a
/// final newline.
pub(crate) fn emit_document(
    doc: &Map,
    metadata: Option<&Map>,
    indent: Option<i64>,
) -> Result<Vec<u8>, FormatError> {
    let unit = indent_unit(indent)?;
    let mut out = Vec::with_capacity(4096);
    let mut enc = Encoder {
        out: &mut out,
        unit: &unit,
    };
    let sops_member = metadata.map(|m| ("sops", m));
    enc.object(doc, sops_member, 0)
        .map_err(|e| FormatError::Emit(format!("Error marshaling to json: {e}")))?;
    out.push(b'\n');
    Ok(out)
}

/// Writes values the way sops's `encodeValue` + `json.Indent` do.
struct Encoder<'o> {
    out: &'o mut Vec<u8>,
    unit: &'o str,
}

impl Encoder<'_> {
    fn newline(&mut self, depth: usize) {
        self.out.push(b'\n');
        for _ in 0..depth {
            self.out.extend_from_slice(self.unit.as_bytes());
        }
    }

    fn object(
        &mut self,
        map: &Map,
        extra: Option<(&str, &Map)>,
        depth: usize,
    ) -> Result<(), String> {
        let mut first = true;
        self.out.push(b'{');
        let entries = map
            .entries()
            .map(|(k, v)| (k, MemberValue::Value(v)))
            .chain(extra.map(|(k, m)| (k, MemberValue::Map(m))));
        for (key, value) in entries {
            if !first {
                self.out.push(b',');
            }
            first = false;
            self.newline(depth + 1);
            write_string(self.out, key);
            self.out.extend_from_slice(b": ");
            let result = match value {
                MemberValue::Value(v) => self.value(v, depth + 1),
                MemberValue::Map(m) => self.object(m, None, depth + 1),
            };
            result.map_err(|e| format!("Error encoding value : {e}"))?;
        }
        if !first {
            self.newline(depth);
        }
        self.out.push(b'}');
        Ok(())
    }

    fn value(&mut self, value: &Value, depth: usize) -> Result<(), String> {
        match value {
            Value::Map(m) => self.object(m, None, depth)?,
            Value::List(items) => {
                let mut first = true;
                self.out.push(b'[');
                for item in items {
                    if matches!(item, Value::Comment(_)) {
                        continue;
                    }
                    if !first {
                        self.out.push(b',');
                    }
                    first = false;
                    self.newline(depth + 1);
                    self.value(item, depth + 1)?;
                }
                if !first {
                    self.newline(depth);
                }
                self.out.push(b']');
            }
            Value::Str(s) => write_string(self.out, s),
            Value::Bytes(b) => write_bytes_string(self.out, b),
            Value::Int(n) => self.out.extend_from_slice(n.to_string().as_bytes()),
            Value::Float(x) => match format_json_float(*x) {
                Some(text) => self.out.extend_from_slice(text.as_bytes()),
                None => {
                    return Err(format!(
                        "json: unsupported value: {}",
                        crate::gofmt::format_g(*x, false)
                    ))
                }
            },
            Value::Bool(b) => self
                .out
                .extend_from_slice(if *b { b"true" } else { b"false" }),
            Value::Null => self.out.extend_from_slice(b"null"),
            Value::Time(t) => {
                if !(0..=9999).contains(&t.year) {
                    return Err("json: error calling MarshalJSON for type time.Time: Time.MarshalJSON: year outside of range [0,9999]".into());
                }
                write_string(self.out, &t.to_rfc3339_nano());
            }
            Value::Comment(Comment { text, .. }) => {
                // Go marshals the comment struct itself.
                let mut m = Map::new();
                m.push("Value", Value::Str(text.clone()));
                self.object(&m, None, depth)?;
            }
        }
        Ok(())
    }
}

/// A member to write: a tree value or the metadata mapping.
enum MemberValue<'a> {
    Value(&'a Value),
    Map(&'a Map),
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes a JSON string like Go's `encoding/json` (HTML-safe escaping).
fn write_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    write_escaped(out, s);
    out.push(b'"');
}

/// The escaped content of a JSON string, without the quotes.
fn write_escaped(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        i = skip_plain(bytes, i, |w| {
            has_byte(w, b'"')
                | has_byte(w, b'\\')
                | has_less_than_0x20(w)
                | has_byte(w, b'<')
                | has_byte(w, b'>')
                | has_byte(w, b'&')
                | has_byte(w, 0xE2)
        });
        let Some(&b) = bytes.get(i) else {
            break;
        };
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0x08 => Some(b"\\b"),
            0x0C => Some(b"\\f"),
            0..=0x1F | b'<' | b'>' | b'&' => Some(b""),
            // U+2028 and U+2029 (E2 80 A8 / E2 80 A9).
            0xE2 if bytes.get(i + 1) == Some(&0x80)
                && matches!(bytes.get(i + 2), Some(0xA8 | 0xA9)) =>
            {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(if bytes[i + 2] == 0xA8 {
                    b"\\u2028"
                } else {
                    b"\\u2029"
                });
                i += 3;
                start = i;
                continue;
            }
            _ => None,
        };
        match escape {
            None => i += 1,
            Some(text) => {
                out.extend_from_slice(&bytes[start..i]);
                if text.is_empty() {
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[(b >> 4) as usize]);
                    out.push(HEX[(b & 0xF) as usize]);
                } else {
                    out.extend_from_slice(text);
                }
                i += 1;
                start = i;
            }
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Writes a Go string that may hold invalid UTF-8: each invalid byte is
/// written as the escape `\ufffd`, as Go's encoder does.
fn write_bytes_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                write_escaped(out, s);
                break;
            }
            Err(e) => {
                let valid = e.valid_up_to();
                write_escaped(out, std::str::from_utf8(&rest[..valid]).unwrap_or(""));
                out.extend_from_slice(b"\\ufffd");
                rest = &rest[valid + 1..];
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::Timestamp;

    fn store() -> JsonStore {
        JsonStore::new(&StoreOptions::default())
    }

    /// The escaping of `write_escaped` one byte at a time, for comparison
    /// with its word-at-a-time fast path.
    fn escaped_slowly(s: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for c in s.chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                '\u{8}' => out.extend_from_slice(b"\\b"),
                '\u{c}' => out.extend_from_slice(b"\\f"),
                '\u{2028}' => out.extend_from_slice(b"\\u2028"),
                '\u{2029}' => out.extend_from_slice(b"\\u2029"),
                c if (c as u32) < 0x20 || matches!(c, '<' | '>' | '&') => {
                    out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
                }
                c => out.extend_from_slice(c.to_string().as_bytes()),
            }
        }
        out
    }

    #[test]
    fn word_at_a_time_escaping_matches_the_byte_loop() {
        let pieces = [
            "a",
            "bcdefgh",
            "\"",
            "\\",
            "\n",
            "\u{1}",
            "\u{1f}",
            " ",
            "<",
            ">",
            "&",
            "\u{2028}",
            "\u{2029}",
            "\u{2027}",
            "é",
            "€",
            "\u{7f}",
            "\t",
            "\r",
            "\u{8}",
            "\u{c}",
            "xxxxxxxxxxxxxxx",
        ];
        // Every piece at every offset 0..16 in a run of plain bytes.
        for piece in pieces {
            for pad in 0..17 {
                for tail in [0, 3, 9] {
                    let s = format!("{}{piece}{}", "p".repeat(pad), "q".repeat(tail));
                    let mut out = Vec::new();
                    write_escaped(&mut out, &s);
                    assert_eq!(out, escaped_slowly(&s), "{s:?}");
                    // And the reader gives the string back.
                    let quoted = format!("{{\"k\": \"{}\"}}", String::from_utf8(out).unwrap());
                    let map = parse(&quoted);
                    assert_eq!(map.0.len(), 1);
                    match &map.0[0] {
                        Item::Entry(_, Value::Str(back)) => assert_eq!(back, &s),
                        other => panic!("{other:?}"),
                    }
                }
            }
        }
        // Control characters inside a literal are rejected wherever they sit.
        for pad in 0..17 {
            let bad = format!("{{\"k\": \"{}\u{1}x\"}}", "p".repeat(pad));
            assert!(store().parse_plain(bad.as_bytes()).is_err());
        }
    }

    fn parse(input: &str) -> Map {
        let mut docs = store().parse_plain(input.as_bytes()).unwrap();
        assert_eq!(docs.len(), 1);
        docs.remove(0)
    }

    fn round_trip(input: &str) -> String {
        String::from_utf8(store().emit_plain(&[parse(input)]).unwrap()).unwrap()
    }

    fn error(input: &[u8]) -> String {
        store().parse_plain(input).unwrap_err().to_string()
    }

    /// The message without the position suffix.
    fn message(input: &[u8]) -> String {
        let e = error(input);
        match e.rfind(" at line ") {
            Some(p) => e[..p].to_string(),
            None => e,
        }
    }

    #[test]
    fn reads_values_in_order_with_duplicates() {
        let m = parse(r#"{"b":1,"a":[true,null,"x",{"k":-0}],"b":1.5}"#);
        let mut inner = Map::new();
        inner.push("k", Value::Float(-0.0));
        let mut want = Map::new();
        want.push("b", Value::Int(1));
        want.push(
            "a",
            Value::List(vec![
                Value::Bool(true),
                Value::Null,
                Value::Str("x".into()),
                Value::Map(inner),
            ]),
        );
        want.push("b", Value::Float(1.5));
        assert_eq!(m, want);
    }

    #[test]
    fn number_kinds() {
        let m = parse(
            r#"{"a":9007199254740992,"b":9007199254740993,"c":-9007199254740992,"d":1e2,"e":1.0,"f":0,"g":9223372036854775807,"h":9223372036854775808}"#,
        );
        let values: Vec<_> = m.entries().map(|(_, v)| v.clone()).collect();
        assert_eq!(
            values,
            vec![
                Value::Int(9007199254740992),
                // Beyond 2^53 but within int64: exact, as in sops 3.13.2.
                Value::Int(9007199254740993),
                Value::Int(-9007199254740992),
                Value::Float(100.0),
                Value::Float(1.0),
                Value::Int(0),
                Value::Int(i64::MAX),
                Value::Float(9223372036854775808.0),
            ]
        );
    }

    #[test]
    fn writes_tab_indented_with_final_newline() {
        assert_eq!(
            round_trip(r#"{"a":{"b":[1,{}],"c":[]},"d":"x"}"#),
            "{\n\t\"a\": {\n\t\t\"b\": [\n\t\t\t1,\n\t\t\t{}\n\t\t],\n\t\t\"c\": []\n\t},\n\t\"d\": \"x\"\n}\n"
        );
        assert_eq!(round_trip("{}"), "{}\n");
    }

    #[test]
    fn indent_settings() {
        let doc = parse(r#"{"a":[1]}"#);
        let with = |n| {
            String::from_utf8(
                JsonStore::with_indent(Some(n))
                    .emit_plain(std::slice::from_ref(&doc))
                    .unwrap(),
            )
            .unwrap()
        };
        assert_eq!(with(-1), "{\n\t\"a\": [\n\t\t1\n\t]\n}\n");
        assert_eq!(with(0), "{\n\"a\": [\n1\n]\n}\n");
        assert_eq!(with(2), "{\n  \"a\": [\n    1\n  ]\n}\n");
        assert_eq!(
            JsonStore::with_indent(Some(-2))
                .emit_plain(&[doc])
                .unwrap_err()
                .to_string(),
            "Error marshaling to json: JSON Indentation parameter smaller than -1 is not accepted"
        );
    }

    #[test]
    fn go_string_escaping() {
        assert_eq!(
            round_trip("{\"<k>\":\"a&b \\u2028\\u2029 \\u0001\\u001f\\b\\f\\n\\r\\t \\\" \\\\ \\/ \u{7f} é 😀\"}"),
            "{\n\t\"\\u003ck\\u003e\": \"a\\u0026b \\u2028\\u2029 \\u0001\\u001f\\b\\f\\n\\r\\t \\\" \\\\ / \u{7f} é 😀\"\n}\n"
        );
    }

    #[test]
    fn invalid_utf8_and_surrogates_become_replacement_characters() {
        let m = store()
            .parse_plain(
                b"{\"a\":\"x\xffy\xe2\x82z\",\"b\":\"\\ud800\\u0041\\udc00\\ud83d\\ude00\"}",
            )
            .unwrap();
        assert_eq!(
            m[0].get("a"),
            Some(&Value::Str("x\u{FFFD}y\u{FFFD}\u{FFFD}z".into()))
        );
        assert_eq!(
            m[0].get("b"),
            Some(&Value::Str("\u{FFFD}A\u{FFFD}😀".into()))
        );
    }

    #[test]
    fn writes_other_value_types() {
        let mut m = Map::new();
        m.push("bytes", Value::Bytes(b"a\xffb<".to_vec()));
        m.push(
            "time",
            Value::Time(Timestamp::parse_rfc3339("2024-01-01T10:00:00.5+01:00").unwrap()),
        );
        m.0.push(Item::Comment(Comment::new(" skipped")));
        m.push(
            "list",
            Value::List(vec![Value::Comment(Comment::new("x")), Value::Int(-3)]),
        );
        m.push(
            "only_comment",
            Value::List(vec![Value::Comment(Comment::new("x"))]),
        );
        m.push(
            "floats",
            Value::List(vec![
                Value::Float(1e21),
                Value::Float(1e-7),
                Value::Float(0.5),
            ]),
        );
        assert_eq!(
            String::from_utf8(store().emit_plain(&[m]).unwrap()).unwrap(),
            "{\n\t\"bytes\": \"a\\ufffdb\\u003c\",\n\t\"time\": \"2024-01-01T10:00:00.5+01:00\",\n\t\"list\": [\n\t\t-3\n\t],\n\t\"only_comment\": [],\n\t\"floats\": [\n\t\t1e+21,\n\t\t1e-7,\n\t\t0.5\n\t]\n}\n"
        );
    }

    #[test]
    fn non_finite_floats_cannot_be_written() {
        let mut m = Map::new();
        m.push("a", Value::Float(f64::INFINITY));
        assert_eq!(
            store().emit_plain(&[m.clone()]).unwrap_err().to_string(),
            "Error marshaling to json: Error encoding value : json: unsupported value: +Inf"
        );
        let mut outer = Map::new();
        outer.push("o", Value::Map(m));
        outer.push("n", Value::List(vec![Value::Float(f64::NAN)]));
        assert_eq!(
            store().emit_plain(&[outer]).unwrap_err().to_string(),
            "Error marshaling to json: Error encoding value : Error encoding value : json: unsupported value: +Inf"
        );
    }

    #[test]
    fn emit_value_is_indented_without_newline() {
        let s = store();
        assert_eq!(s.emit_value(&Value::Float(1.5)).unwrap(), b"1.5");
        assert_eq!(s.emit_value(&Value::Int(7)).unwrap(), b"7");
        assert_eq!(s.emit_value(&Value::Bool(false)).unwrap(), b"false");
        assert_eq!(s.emit_value(&Value::Null).unwrap(), b"null");
        assert_eq!(
            s.emit_value(&Value::Str("<".into())).unwrap(),
            b"\"\\u003c\""
        );
        assert_eq!(
            s.emit_value(&Value::List(vec![Value::Int(1), Value::List(vec![])]))
                .unwrap(),
            b"[\n\t1,\n\t[]\n]"
        );
    }

    #[test]
    fn reference_quirks_at_end_of_input() {
        // Input ending where a member value should start: members so far.
        assert_eq!(round_trip(r#"{"a":1,"b":"#), "{\n\t\"a\": 1\n}\n");
        assert_eq!(round_trip(r#"{"a""#), "{}\n");
        assert_eq!(round_trip(r#"{"a":[1,2"#), "{}\n");
        assert_eq!(round_trip(r#"{"a":[{"b":"#), "{}\n");
        // Only the first value is read.
        assert_eq!(round_trip("{\"x\":1}\n{"), "{\n\t\"x\": 1\n}\n");
        assert_eq!(round_trip("{\"x\":1} garbage"), "{\n\t\"x\": 1\n}\n");
    }

    #[test]
    fn error_messages_match_the_reference() {
        let key_eof = "Could not unmarshal input data: Expected JSON object key, got %!s(<nil>) of type <nil> instead";
        let cases: &[(&[u8], &str)] = &[
            (b"", "Could not unmarshal input data: EOF"),
            (b" \n ", "Could not unmarshal input data: EOF"),
            (b"[1]", "Could not unmarshal input data: Expected JSON object start, got delimiter [ instead"),
            // sops shows the value here; enseal names its type only.
            (b"1", "Could not unmarshal input data: Expected JSON object start, got a value of type float64 instead"),
            (b"1.5e300", "Could not unmarshal input data: Expected JSON object start, got a value of type float64 instead"),
            (b"\"<\\u0001\xc3\xa9\\u00a0\\u2028\"", "Could not unmarshal input data: Expected JSON object start, got a value of type string instead"),
            (b"true", "Could not unmarshal input data: Expected JSON object start, got a value of type bool instead"),
            (b"null", "Could not unmarshal input data: Expected JSON object start, got <nil> of type <nil> instead"),
            (b"\"a\\u00e9\\n\"", "Could not unmarshal input data: Expected JSON object start, got a value of type string instead"),
            (b"{", key_eof),
            (b"{\"a\":1", key_eof),
            (b"{\"a\":1,", key_eof),
            (b"{\"x\":{\"a\":", key_eof),
            (b"{\"a\":[{\"b\":1", key_eof),
            (b"{\"a\":}", "Could not unmarshal input data: invalid character '}' looking for beginning of value"),
            (b"{\"a\" 1}", "Could not unmarshal input data: invalid character (not shown) after object key"),
            (b"{1:2}", "Could not unmarshal input data: invalid character (not shown)"),
            (b"{]", "Could not unmarshal input data: invalid character ']'"),
            (b"{,}", "Could not unmarshal input data: invalid character ','"),
            (b"{\"a\":1e400}", "Could not unmarshal input data: json: cannot unmarshal number into Go value of type float64"),
            (b"{\"a\":\"\x01\"}", "Could not unmarshal input data: invalid character '\\x01' in string literal"),
            (b"{\"a\":01}", "Could not unmarshal input data: invalid character (not shown) after object key:value pair"),
            (b"{\"a\":[1,]}", "Could not unmarshal input data: invalid character ']' looking for beginning of value"),
            (b"{\"a\":1,}", "Could not unmarshal input data: invalid character '}' looking for beginning of object key string"),
            (b"{\"a\":tru}", "Could not unmarshal input data: invalid character '}' in literal true (expecting 'e')"),
            (b"{\"a\":\"\\x\"}", "Could not unmarshal input data: invalid character (not shown) in string escape code"),
            (b"\xef\xbb\xbf{}", "Could not unmarshal input data: invalid character (not shown) looking for beginning of value"),
            (b"{\"a", "Could not unmarshal input data: unexpected EOF"),
            (b"{\"a\":\"abc", "Could not unmarshal input data: unexpected EOF"),
            (b"{\"a\":-", "Could not unmarshal input data: unexpected EOF"),
            (b"{\"a\":tr", "Could not unmarshal input data: unexpected EOF"),
            (b"{\"a\":1.}", "Could not unmarshal input data: invalid character '}' after decimal point in numeric literal"),
            (b"{\"a\":1e}", "Could not unmarshal input data: invalid character '}' in exponent of numeric literal"),
            (b"{\"a\":-x}", "Could not unmarshal input data: invalid character (not shown) in numeric literal"),
            (b"{\"a\":\"\\u12g4\"}", "Could not unmarshal input data: invalid character (not shown) in \\u hexadecimal character escape"),
            (b"{\"a\":1 \"b\":2}", "Could not unmarshal input data: invalid character '\"' after object key:value pair"),
            (b"{\"a\":[1 2]}", "Could not unmarshal input data: invalid character (not shown) after array element"),
            (b"{\"a\":truex}", "Could not unmarshal input data: invalid character (not shown) after object key:value pair"),
            (b"{\"a\"::1}", "Could not unmarshal input data: invalid character ':' looking for beginning of value"),
            (b"]", "Could not unmarshal input data: invalid character ']' looking for beginning of value"),
            (b"x", "Could not unmarshal input data: invalid character (not shown) looking for beginning of value"),
            (b"{\"a\":\x01}", "Could not unmarshal input data: invalid character '\\x01' looking for beginning of value"),
            (b"{\"a\":\xc3\xa9}", "Could not unmarshal input data: invalid character (not shown) looking for beginning of value"),
            (b"{\"a\":'x'}", "Could not unmarshal input data: invalid character '\\'' looking for beginning of value"),
            (b"{\"a\":{\"b\":[}}", "Could not unmarshal input data: invalid character '}' looking for beginning of value"),
        ];
        for (input, want) in cases {
            assert_eq!(message(input), *want, "{}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn errors_name_line_and_column() {
        assert_eq!(
            error(b" \n  {\"a\": \n  x}"),
            "Could not unmarshal input data: invalid character (not shown) looking for beginning of value at line 3, column 3"
        );
        assert_eq!(
            error("{\"é\":\"a\",\n\"b\" 1}".as_bytes()),
            "Could not unmarshal input data: invalid character (not shown) after object key at line 2, column 5"
        );
    }

    #[test]
    fn encrypted_files_are_read_strictly() {
        let s = store();
        let f = s
            .parse_encrypted(br#"{"a":"ENC[x]","sops":{"version":"3.11.0","shamir_threshold":2}}"#)
            .unwrap();
        let mut md = Map::new();
        md.push("version", Value::Str("3.11.0".into()));
        md.push("shamir_threshold", Value::Int(2));
        assert_eq!(f.metadata, Some(md.clone()));
        let mut doc = Map::new();
        doc.push("a", Value::Str("ENC[x]".into()));
        assert_eq!(f.documents, vec![doc.clone()]);
        assert_eq!(
            String::from_utf8(s.emit_encrypted(&[doc], &md).unwrap()).unwrap(),
            "{\n\t\"a\": \"ENC[x]\",\n\t\"sops\": {\n\t\t\"version\": \"3.11.0\",\n\t\t\"shamir_threshold\": 2\n\t}\n}\n"
        );
        assert_eq!(s.parse_encrypted(br#"{"a":1}"#).unwrap().metadata, None);
        let err = |input: &[u8]| s.parse_encrypted(input).unwrap_err().to_string();
        assert_eq!(
            err(br#"{"a":1} x"#),
            "Error unmarshalling input json: invalid character (not shown) after top-level value at line 1, column 9"
        );
        assert_eq!(
            err(br#"{"a":[1"#),
            "Error unmarshalling input json: unexpected end of JSON input at line 1, column 8"
        );
        assert_eq!(
            err(br#"{"sops":"x"}"#),
            "Error unmarshalling input json: json: cannot unmarshal string into Go struct field SopsFile.sops of type stores.Metadata"
        );
        assert!(s.parse_encrypted(b"{\"a\":1}\n\n").is_ok());
        assert_eq!(
            err(br#"{1:2}"#),
            "Error unmarshalling input json: invalid character (not shown) looking for beginning of object key string at line 1, column 2"
        );
        assert_eq!(
            err(b"[1]"),
            "Error unmarshalling input json: json: cannot unmarshal array into Go value of type stores.SopsFile"
        );
        assert_eq!(s.parse_encrypted(b"null").unwrap().metadata, None);
    }

    #[test]
    fn deep_nesting_is_limited_not_a_crash() {
        let depth = 990;
        let input = format!("{{\"a\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
        let docs = store().parse_plain(input.as_bytes()).unwrap();
        let out = store().emit_plain(&docs).unwrap();
        assert_eq!(store().parse_plain(&out).unwrap(), docs);
        let too_deep = format!("{{\"a\":{}", "[".repeat(MAX_DEPTH + 1));
        assert!(message(too_deep.as_bytes()).ends_with("exceeded max depth"));
    }
}

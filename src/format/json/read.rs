//! Reading: Go's `encoding/json` token stream, walked as sops walks it.

use super::super::swar::{has_byte, has_less_than_0x20, skip_plain};
use super::super::{EncryptedFile, FormatError};
use super::MAX_DEPTH;
use crate::tree::{Item, Map, Value};

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
pub(super) fn go_json_kind(v: &Value) -> &'static str {
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
pub(super) enum DecodeError {
    /// The input ended where a token should start (Go's `io.EOF`).
    Eof,
    /// Anything else.
    At(String, usize),
}

impl DecodeError {
    /// The message with its position.
    pub(super) fn render(&self, input: &[u8]) -> String {
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
pub(super) fn line_column(input: &[u8], offset: usize) -> (usize, usize) {
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
pub(super) enum Token {
    ObjectStart,
    ObjectEnd,
    ArrayStart,
    ArrayEnd,
    /// A string, number, boolean or null.
    Scalar(Value),
}

/// Go's token states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
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
pub(super) struct Decoder<'a> {
    pub(super) input: &'a [u8],
    pub(super) pos: usize,
    pub(super) state: State,
    pub(super) stack: Vec<State>,
    /// Use the messages of Go's `json.Unmarshal` scanner instead of
    /// `Decoder.Token` where they differ.
    pub(super) strict: bool,
}

pub(super) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

impl<'a> Decoder<'a> {
    pub(super) fn new(input: &'a [u8]) -> Self {
        Decoder {
            input,
            pos: 0,
            state: State::TopValue,
            stack: Vec::new(),
            strict: false,
        }
    }

    /// The next non-space byte, without consuming it.
    pub(super) fn peek(&mut self) -> Option<u8> {
        while let Some(&b) = self.input.get(self.pos) {
            if !is_space(b) {
                return Some(b);
            }
            self.pos += 1;
        }
        None
    }

    pub(super) fn value_allowed(&self) -> bool {
        matches!(
            self.state,
            State::TopValue | State::ArrayStart | State::ArrayValue | State::ObjectValue
        )
    }

    pub(super) fn value_end(&mut self) {
        match self.state {
            State::ArrayStart | State::ArrayValue => self.state = State::ArrayComma,
            State::ObjectValue => self.state = State::ObjectComma,
            _ => {}
        }
    }

    pub(super) fn token_error(&self, c: u8) -> DecodeError {
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

    pub(super) fn push(&mut self, next: State) -> Result<(), DecodeError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(DecodeError::At("exceeded max depth".into(), self.pos));
        }
        self.stack.push(self.state);
        self.state = next;
        Ok(())
    }

    pub(super) fn pop(&mut self) {
        self.state = self.stack.pop().unwrap_or(State::TopValue);
        self.value_end();
    }

    /// Go's `Decoder.Token`.
    pub(super) fn token(&mut self) -> Result<Token, DecodeError> {
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
    pub(super) fn read_scalar(&mut self) -> Result<Value, DecodeError> {
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

    pub(super) fn unexpected_eof(&self) -> DecodeError {
        DecodeError::At("unexpected EOF".into(), self.input.len())
    }

    pub(super) fn read_literal(&mut self, word: &str, value: Value) -> Result<Value, DecodeError> {
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

    pub(super) fn read_number(&mut self) -> Result<Value, DecodeError> {
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
    pub(super) fn read_string(&mut self) -> Result<String, DecodeError> {
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
pub(super) fn unquote(raw: &[u8]) -> String {
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
pub(super) fn hex4(raw: &[u8], at: usize) -> Option<u32> {
    let digits = raw.get(at..at + 4)?;
    let text = std::str::from_utf8(digits).ok()?;
    u32::from_str_radix(text, 16).ok()
}

/// Go's `utf8.DecodeRune`: one character and its length, or U+FFFD and 1
/// for an invalid byte.
pub(super) fn decode_rune(bytes: &[u8]) -> (char, usize) {
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
pub(super) fn offending_char(c: u8) -> String {
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
pub(super) fn quote_char(c: u8) -> String {
    match c {
        b'\'' => r"'\''".to_string(),
        b'"' => "'\"'".to_string(),
        _ => format!("'{}'", go_quote_char(c as char)),
    }
}

/// One character as Go's `strconv.Quote` writes it (without quotes).
pub(super) fn go_quote_char(c: char) -> String {
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
pub(super) fn go_printable(c: char) -> bool {
    !(c.is_control()
        || matches!(
            c,
            '\u{A0}' | '\u{AD}' | '\u{2028}' | '\u{2029}' | '\u{FEFF}'
        )
        || (c.is_whitespace() && c != ' '))
}

/// sops's reading of the top level: an object, walked like sops does.
pub(super) fn read_top_object(dec: &mut Decoder) -> Result<Map, DecodeError> {
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
pub(super) fn read_object(dec: &mut Decoder) -> Result<Map, DecodeError> {
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
pub(super) fn read_array(dec: &mut Decoder) -> Result<Value, DecodeError> {
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
pub(super) fn validate_strict(input: &[u8]) -> Result<(), DecodeError> {
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

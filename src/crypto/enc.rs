//! The `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` text form.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::fmt;
use std::str::FromStr;

const PREFIX: &str = "ENC[AES256_GCM,data:";

/// A parsed encrypted value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncValue {
    /// Ciphertext without the tag.
    pub data: Vec<u8>,
    /// The nonce (32 bytes when sops wrote it).
    pub iv: Vec<u8>,
    /// The 16-byte GCM tag.
    pub tag: Vec<u8>,
    /// The type name (`str`, `int`, `float`, `bool`, `time`, `comment`, `bytes`).
    pub type_name: String,
}

/// Why a string is not a valid `ENC[…]` value. Never contains the string
/// itself (it may be a plaintext secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncParseError {
    /// Not of the form `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`.
    #[error("the value does not match sops' data format ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]")]
    Format,
    /// A field is not valid base64.
    #[error("Error base64-decoding {0}")]
    Base64(&'static str),
    /// The tag is not 16 bytes.
    #[error("the tag is {0} bytes long, expected 16")]
    TagLength(usize),
}

/// True when `s` looks like an encrypted value (starts with `ENC[AES256_GCM,`).
pub fn is_encrypted(s: &str) -> bool {
    s.starts_with("ENC[AES256_GCM,")
}

/// The four fields of an `ENC[…]` value as text, borrowed from it: what a
/// decryption needs without an allocation per field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncFields<'a> {
    /// Base64 ciphertext.
    pub data: &'a str,
    /// Base64 nonce.
    pub iv: &'a str,
    /// Base64 tag.
    pub tag: &'a str,
    /// The type name.
    pub type_name: &'a str,
}

/// `rest` up to its first `,` and what follows that comma and `name`.
fn field<'a>(rest: &'a str, name: &str) -> Result<(&'a str, &'a str), EncParseError> {
    // Base64 never contains `,`. A byte loop: the fields are short.
    let comma = rest
        .bytes()
        .position(|b| b == b',')
        .ok_or(EncParseError::Format)?;
    let after = rest[comma + 1..]
        .strip_prefix(name)
        .ok_or(EncParseError::Format)?;
    Ok((&rest[..comma], after))
}

impl<'a> EncFields<'a> {
    /// Splits `s` into its fields; nothing is decoded yet.
    pub fn split(s: &'a str) -> Result<EncFields<'a>, EncParseError> {
        let rest = s.strip_prefix(PREFIX).ok_or(EncParseError::Format)?;
        let (data, rest) = field(rest, "iv:")?;
        let (iv, rest) = field(rest, "tag:")?;
        let (tag, rest) = field(rest, "type:")?;
        let end = rest
            .bytes()
            .rposition(|b| b == b']')
            .ok_or(EncParseError::Format)?;
        let type_name = &rest[..end];
        if data.is_empty() || iv.is_empty() || tag.is_empty() || type_name.is_empty() {
            return Err(EncParseError::Format);
        }
        Ok(EncFields {
            data,
            iv,
            tag,
            type_name,
        })
    }

    /// The decoded ciphertext.
    pub fn decode_data(&self) -> Result<Vec<u8>, EncParseError> {
        decode_field("data", self.data)
    }

    /// The decoded nonce into `buf`, as the used part of it; a valid nonce
    /// longer than `buf` is [`IvDecode::TooLong`] with its length.
    pub fn decode_iv<'b>(&self, buf: &'b mut [u8; 48]) -> Result<&'b [u8], IvDecode> {
        match decode_b64_into(self.iv, buf) {
            Some(n) => Ok(&buf[..n]),
            None => match decode_field("iv", self.iv) {
                Ok(long) => Err(IvDecode::TooLong(long.len())),
                Err(e) => Err(IvDecode::Invalid(e)),
            },
        }
    }

    /// The decoded 16-byte tag; errors as [`EncValue`]'s parser gives them.
    pub fn decode_tag(&self) -> Result<[u8; 16], EncParseError> {
        let mut buf = [0u8; 48];
        let n = match decode_b64_into(self.tag, &mut buf) {
            Some(n) => n,
            // Invalid, or longer than the buffer (then its length is wrong).
            None => {
                return Err(decode_field("tag", self.tag)
                    .map_or_else(|e| e, |long| EncParseError::TagLength(long.len())))
            }
        };
        let mut tag = [0u8; 16];
        if n != 16 {
            return Err(EncParseError::TagLength(n));
        }
        tag.copy_from_slice(&buf[..16]);
        Ok(tag)
    }
}

/// Why [`EncFields::decode_iv`] gave no nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IvDecode {
    /// Not valid base64.
    Invalid(EncParseError),
    /// Valid, but this many bytes: longer than any nonce.
    TooLong(usize),
}

/// Decodes a field: short ones (the usual case) with the table decoder,
/// long ones (binary files) with the base64 crate's bulk decoder. Both
/// accept exactly the same inputs (tested below).
fn decode_field(name: &'static str, text: &str) -> Result<Vec<u8>, EncParseError> {
    if text.len() <= 1024 {
        decode_b64(text)
    } else {
        STANDARD.decode(text).ok()
    }
    .ok_or(EncParseError::Base64(name))
}

impl FromStr for EncValue {
    type Err = EncParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fields = EncFields::split(s)?;
        let tag = decode_field("tag", fields.tag)?;
        if tag.len() != 16 {
            return Err(EncParseError::TagLength(tag.len()));
        }
        Ok(EncValue {
            data: fields.decode_data()?,
            iv: decode_field("iv", fields.iv)?,
            tag,
            type_name: fields.type_name.to_string(),
        })
    }
}

/// Standard base64 value of each byte, or 0xFF.
const B64: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// The decoded length of standard padded base64 `b`, when its length and
/// padding are valid.
fn decoded_len(b: &[u8]) -> Option<usize> {
    if !b.len().is_multiple_of(4) {
        return None;
    }
    let pad = b.iter().rev().take_while(|&&c| c == b'=').count();
    if pad > 2 || (pad > 0 && b.len() < 4) {
        return None;
    }
    Some(b.len() / 4 * 3 - pad)
}

/// Decodes standard base64 with canonical padding and zero trailing bits,
/// exactly as `base64::engine::general_purpose::STANDARD` accepts it, in one
/// exactly sized allocation.
fn decode_b64(text: &str) -> Option<Vec<u8>> {
    let mut out = vec![0u8; decoded_len(text.as_bytes())?];
    decode_b64_into(text, &mut out)?;
    Some(out)
}

/// [`decode_b64`] into the start of `out`; the decoded length, or `None`
/// when the text is not valid or `out` is too short.
fn decode_b64_into(text: &str, out: &mut [u8]) -> Option<usize> {
    let b = text.as_bytes();
    let len = decoded_len(b)?;
    let out = out.get_mut(..len)?;
    let pad = b.len() / 4 * 3 - len;
    let body = b.len() - if pad > 0 { 4 } else { 0 };
    for (quad, dst) in b[..body].chunks_exact(4).zip(out.chunks_exact_mut(3)) {
        let (a, b1, c, d) = (
            B64[quad[0] as usize],
            B64[quad[1] as usize],
            B64[quad[2] as usize],
            B64[quad[3] as usize],
        );
        if (a | b1 | c | d) == 0xFF {
            return None;
        }
        let n = (u32::from(a) << 18) | (u32::from(b1) << 12) | (u32::from(c) << 6) | u32::from(d);
        dst.copy_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    if pad > 0 {
        let last = &b[body..];
        let at = body / 4 * 3;
        let a = B64[last[0] as usize];
        let b1 = B64[last[1] as usize];
        if (a | b1) == 0xFF {
            return None;
        }
        if pad == 2 {
            if b1 & 0x0F != 0 {
                return None;
            }
            out[at] = (a << 2) | (b1 >> 4);
        } else {
            let c = B64[last[2] as usize];
            if c == 0xFF || c & 0x03 != 0 {
                return None;
            }
            let n = (u32::from(a) << 18) | (u32::from(b1) << 12) | (u32::from(c) << 6);
            out[at] = (n >> 16) as u8;
            out[at + 1] = (n >> 8) as u8;
        }
    }
    Some(len)
}

impl EncValue {
    /// The `ENC[…]` text of encrypted parts, without building an `EncValue`.
    pub fn format(data: &[u8], iv: &[u8], tag: &[u8], type_name: &str) -> String {
        let b64 = |n: usize| n.div_ceil(3) * 4;
        let mut out = Vec::with_capacity(
            PREFIX.len() + b64(data.len()) + b64(iv.len()) + b64(tag.len()) + 24,
        );
        out.extend_from_slice(PREFIX.as_bytes());
        encode_base64(data, &mut out);
        out.extend_from_slice(b",iv:");
        encode_base64(iv, &mut out);
        out.extend_from_slice(b",tag:");
        encode_base64(tag, &mut out);
        out.extend_from_slice(b",type:");
        out.extend_from_slice(type_name.as_bytes());
        out.push(b']');
        // ASCII and a `&str`: always UTF-8.
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

/// Appends the standard, padded base64 of `input` to `out`: the same text
/// as `base64::engine::general_purpose::STANDARD`, several times faster on
/// the short fields of `ENC[…]` values (the crate's chunked encoder costs
/// about 24 instructions per byte there).
fn encode_base64(input: &[u8], out: &mut Vec<u8>) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let at = |n: u32, shift: u32| ALPHABET[(n >> shift) as usize & 63];
    out.reserve(input.len().div_ceil(3) * 4);
    let mut chunks = input.chunks_exact(3);
    for c in &mut chunks {
        let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
        out.extend_from_slice(&[at(n, 18), at(n, 12), at(n, 6), at(n, 0)]);
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.extend_from_slice(&[at(n, 18), at(n, 12), b'=', b'=']);
        }
        [a, b] => {
            let n = (u32::from(a) << 16) | (u32::from(b) << 8);
            out.extend_from_slice(&[at(n, 18), at(n, 12), at(n, 6), b'=']);
        }
        _ => {}
    }
}

impl fmt::Display for EncValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&EncValue::format(
            &self.data,
            &self.iv,
            &self.tag,
            &self.type_name,
        ))
    }
}

#[cfg(test)]
mod tests {
    proptest::proptest! {
        #[test]
        fn encoder_matches_the_base64_crate(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let mut ours = b"x".to_vec();
            super::encode_base64(&bytes, &mut ours);
            let want = super::STANDARD.encode(&bytes);
            proptest::prop_assert_eq!(&ours[1..], want.as_bytes());
        }
    }

    use super::*;

    const SAMPLE: &str = "ENC[AES256_GCM,data:hSS8SQ==,iv:aEAzL8WxS8puYE0DsMGygqAevsKv/+2qD8wJQa0KgAk=,tag:yvMAT3AbwMQH7nnAOEFlLA==,type:int]";

    proptest::proptest! {
        #[test]
        fn base64_decoding_matches_the_base64_crate(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
            mutate in proptest::prelude::any::<(u8, u8, bool)>(),
        ) {
            // Valid encodings, and the same with one character replaced
            // (from a set rich in padding and boundary characters).
            let mut text = STANDARD.encode(&bytes);
            proptest::prop_assert_eq!(decode_b64(&text), Some(bytes.clone()));
            if mutate.2 && !text.is_empty() {
                let at = mutate.0 as usize % text.len();
                let set = b"=AQgw/+9aZ_-.\0 ";
                let c = set[mutate.1 as usize % set.len()] as char;
                text.replace_range(at..at + 1, &c.to_string());
            }
            proptest::prop_assert_eq!(decode_b64(&text), STANDARD.decode(&text).ok());
        }
    }

    #[test]
    fn base64_edge_cases_match_the_base64_crate() {
        for text in [
            "",
            "=",
            "==",
            "====",
            "A===",
            "AA==",
            "AB==",
            "AAA=",
            "AAB=",
            "AAAA",
            "AA=A",
            "A",
            "AAAAA",
            "AA==AAAA",
            "Zg==",
            "Zm8=",
            "Zm9v",
            "Zh==",
            "Zm9=",
            "\u{e9}AAA",
        ] {
            assert_eq!(decode_b64(text), STANDARD.decode(text).ok(), "{text:?}");
        }
    }

    #[test]
    fn parses_and_prints_identically() {
        let v: EncValue = SAMPLE.parse().unwrap();
        assert_eq!(v.data.len(), 4);
        assert_eq!(v.iv.len(), 32);
        assert_eq!(v.type_name, "int");
        assert_eq!(v.to_string(), SAMPLE);
    }

    #[test]
    fn rejects_malformed_values_without_echoing_them() {
        assert_eq!("hunter2".parse::<EncValue>(), Err(EncParseError::Format));
        assert_eq!(
            "ENC[AES256_GCM,data:abc".parse::<EncValue>(),
            Err(EncParseError::Format)
        );
        let bad_b64 = SAMPLE.replace("hSS8SQ==", "h!S8SQ==");
        assert_eq!(
            bad_b64.parse::<EncValue>(),
            Err(EncParseError::Base64("data"))
        );
        let short_tag = SAMPLE.replace("yvMAT3AbwMQH7nnAOEFlLA==", "yvMA");
        assert_eq!(
            short_tag.parse::<EncValue>(),
            Err(EncParseError::TagLength(3))
        );
        assert!(!EncParseError::Format.to_string().contains("hunter2"));
    }

    /// The fields decoded one by one, as the batch decryption does.
    fn via_fields(s: &str) -> Option<EncValue> {
        let fields = EncFields::split(s).ok()?;
        let mut iv = [0u8; 48];
        Some(EncValue {
            data: fields.decode_data().ok()?,
            iv: fields.decode_iv(&mut iv).ok()?.to_vec(),
            tag: fields.decode_tag().ok()?.to_vec(),
            type_name: fields.type_name.to_string(),
        })
    }

    #[test]
    fn borrowed_fields_accept_exactly_what_parsing_accepts() {
        let mut cases = vec![SAMPLE.to_string()];
        for at in 0..SAMPLE.len() {
            for c in ["", ",", "]", "=", "A", ":", "!"] {
                let mut t = SAMPLE.to_string();
                t.replace_range(at..at + 1, c);
                cases.push(t);
            }
            cases.push(SAMPLE[..at].to_string());
        }
        let mut accepted = 0;
        for case in &cases {
            let parsed = case.parse::<EncValue>().ok();
            assert_eq!(via_fields(case), parsed, "{case}");
            accepted += usize::from(parsed.is_some());
        }
        assert!(accepted > 10, "only {accepted} variants were valid");
    }

    #[test]
    fn fields_of_a_sample() {
        let f = EncFields::split(SAMPLE).unwrap();
        assert_eq!(f.data, "hSS8SQ==");
        assert_eq!(f.tag, "yvMAT3AbwMQH7nnAOEFlLA==");
        assert_eq!(f.type_name, "int");
        assert_eq!(
            EncFields::split("ENC[AES256_GCM,data:,iv:a,tag:b,type:c]"),
            Err(EncParseError::Format)
        );
    }
}

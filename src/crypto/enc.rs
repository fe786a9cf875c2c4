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

impl FromStr for EncValue {
    type Err = EncParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s.strip_prefix(PREFIX).ok_or(EncParseError::Format)?;
        // Base64 never contains `,`: split at commas (a fast byte search)
        // and check each field's name.
        let field = |rest: &'_ str, name: &str| -> Result<(usize, usize), EncParseError> {
            // `str::find` with a char searches with memchr (word at a time).
            let comma = rest.find(',').ok_or(EncParseError::Format)?;
            if !rest[comma + 1..].starts_with(name) {
                return Err(EncParseError::Format);
            }
            Ok((comma, comma + 1 + name.len()))
        };
        let (end, next) = field(rest, "iv:")?;
        let (data, rest) = (&rest[..end], &rest[next..]);
        let (end, next) = field(rest, "tag:")?;
        let (iv, rest) = (&rest[..end], &rest[next..]);
        let (end, next) = field(rest, "type:")?;
        let (tag, rest) = (&rest[..end], &rest[next..]);
        let end = rest.rfind(']').ok_or(EncParseError::Format)?;
        let type_name = &rest[..end];
        if data.is_empty() || iv.is_empty() || tag.is_empty() || type_name.is_empty() {
            return Err(EncParseError::Format);
        }
        let decode = |field: &'static str, text: &str| {
            STANDARD
                .decode(text)
                .map_err(|_| EncParseError::Base64(field))
        };
        let tag = decode("tag", tag)?;
        if tag.len() != 16 {
            return Err(EncParseError::TagLength(tag.len()));
        }
        Ok(EncValue {
            data: decode("data", data)?,
            iv: decode("iv", iv)?,
            tag,
            type_name: type_name.to_string(),
        })
    }
}

impl EncValue {
    /// The `ENC[…]` text of encrypted parts, without building an `EncValue`.
    pub fn format(data: &[u8], iv: &[u8], tag: &[u8], type_name: &str) -> String {
        let b64 = |n: usize| n.div_ceil(3) * 4;
        let mut out = String::with_capacity(
            PREFIX.len() + b64(data.len()) + b64(iv.len()) + b64(tag.len()) + 24,
        );
        out.push_str(PREFIX);
        STANDARD.encode_string(data, &mut out);
        out.push_str(",iv:");
        STANDARD.encode_string(iv, &mut out);
        out.push_str(",tag:");
        STANDARD.encode_string(tag, &mut out);
        out.push_str(",type:");
        out.push_str(type_name);
        out.push(']');
        out
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
    use super::*;

    const SAMPLE: &str = "ENC[AES256_GCM,data:hSS8SQ==,iv:aEAzL8WxS8puYE0DsMGygqAevsKv/+2qD8wJQa0KgAk=,tag:yvMAT3AbwMQH7nnAOEFlLA==,type:int]";

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
}

//! Sealing and opening one leaf: the only value-level code of the walk.
//! The walk uses it one leaf at a time ([`LeafCipher::Own`]) and the batch
//! for every deferred leaf ([`LeafCipher::Shared`]), so both produce the
//! same values and the same errors.

use zeroize::Zeroizing;

use crate::crypto::cipher::{Cipher, CipherError, Nonces, OpenError};
use crate::crypto::enc::EncFields;
use crate::crypto::plaintext::{self, PlaintextError};
use crate::tree::Value;

/// The cipher a leaf is sealed or opened with.
pub(super) enum LeafCipher<'c> {
    /// The walk's own cipher, one leaf at a time in walk order: it may
    /// remember nonces (edit, rotate, set).
    Own(&'c mut Cipher),
    /// A cipher shared by the batch's threads, each drawing its own fresh
    /// nonces.
    Shared {
        /// The data key's cipher.
        cipher: &'c Cipher,
        /// This thread's nonces.
        nonces: &'c mut Nonces,
    },
}

impl LeafCipher<'_> {
    fn seal(
        &mut self,
        plaintext: &[u8],
        aad: &[u8],
        type_name: &str,
    ) -> Result<String, CipherError> {
        match self {
            LeafCipher::Own(cipher) => cipher.encrypt(plaintext, aad, type_name),
            LeafCipher::Shared { cipher, nonces } => cipher.seal(plaintext, aad, type_name, nonces),
        }
    }

    fn open(
        &mut self,
        fields: &EncFields<'_>,
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        match self {
            LeafCipher::Own(cipher) => cipher.open_remembering(fields, aad),
            LeafCipher::Shared { cipher, .. } => cipher.open(fields, aad),
        }
    }
}

/// Why a leaf did not open. Never contains the value; the walk puts the
/// key path before it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum LeafError {
    /// A selected leaf of an encrypted file that is not a string.
    #[error("expected an encrypted value (a string), but got {0}")]
    NotAString(&'static str),
    /// The `ENC[…]` text is malformed or does not authenticate.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The plaintext is not a value of its declared type.
    #[error(transparent)]
    Plaintext(#[from] PlaintextError),
    /// A comment where only a list may hold one.
    #[error("a comment stored as a mapping value")]
    CommentAsMapValue,
}

/// The `ENC[…]` value of a plaintext leaf, sealed from the leaf's own bytes
/// (no copy of strings, numbers written on the stack); `None` for values
/// that are never encrypted (null, containers).
pub(super) fn seal(
    leaf: &Value,
    aad: &str,
    cipher: &mut LeafCipher<'_>,
) -> Result<Option<Value>, CipherError> {
    plaintext::with_plaintext(leaf, |type_name, bytes| {
        cipher.seal(bytes, aad.as_bytes(), type_name)
    })
    .transpose()
    .map(|sealed| sealed.map(Value::Str))
}

/// The plaintext value of an `ENC[…]` leaf (a comment only `in_list`).
pub(super) fn open(
    leaf: &Value,
    in_list: bool,
    aad: &str,
    cipher: &mut LeafCipher<'_>,
) -> Result<Value, LeafError> {
    let Value::Str(text) = leaf else {
        return Err(LeafError::NotAString(leaf.type_name()));
    };
    let fields = EncFields::split(text).map_err(OpenError::from)?;
    let bytes = cipher.open(&fields, aad.as_bytes())?;
    let value = plaintext::parse_owned(fields.type_name, bytes)?;
    if matches!(value, Value::Comment(_)) && !in_list {
        return Err(LeafError::CommentAsMapValue);
    }
    Ok(value)
}

//! AES-256-GCM as sops uses it: 32-byte random nonce, 16-byte tag,
//! additional data = the value's key path (or `lastmodified` for the MAC).

use aes_gcm::aead::consts::{U12, U32};
use aes_gcm::aead::{Aead, AeadInPlace, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce};
use std::collections::{HashMap, VecDeque};
use zeroize::{Zeroize, Zeroizing};

use super::enc::{EncFields, EncParseError, EncValue, IvDecode};

type Gcm32 = AesGcm<Aes256, U32>;
type Gcm12 = AesGcm<Aes256, U12>;

/// Length of a data key in bytes.
pub const DATA_KEY_LEN: usize = 32;

/// The 256-bit key every value of a file is encrypted with. Wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct DataKey(Zeroizing<[u8; DATA_KEY_LEN]>);

impl DataKey {
    /// A fresh random key from the OS CSPRNG.
    pub fn generate() -> Result<DataKey, getrandom::Error> {
        let mut key = Zeroizing::new([0u8; DATA_KEY_LEN]);
        getrandom::getrandom(key.as_mut())?;
        Ok(DataKey(key))
    }

    /// A key from raw bytes; `None` unless exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<DataKey> {
        let array: [u8; DATA_KEY_LEN] = bytes.try_into().ok()?;
        Some(DataKey(Zeroizing::new(array)))
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; DATA_KEY_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// Why a value could not be decrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    /// GCM authentication failed (wrong key, wrong path, tampered value).
    #[error("Could not decrypt with AES_GCM: cipher: message authentication failed")]
    Authentication,
    /// A nonce length other than 12 or 32 bytes.
    #[error("unsupported IV length {0} (sops writes 32)")]
    IvLength(usize),
    /// The random generator failed.
    #[error("could not read random bytes: {0}")]
    Random(String),
}

/// Why an `ENC[…]` text did not decrypt: its form or the cipher. The
/// messages are those of [`EncValue`]'s parser and [`Cipher::decrypt`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// A field does not decode.
    #[error(transparent)]
    Format(#[from] EncParseError),
    /// The nonce length or the authentication.
    #[error(transparent)]
    Cipher(#[from] CipherError),
}

/// Encrypts and decrypts values with one data key. Builds the AES key
/// schedule once, and draws nonces from a buffered OS random source.
///
/// With [`Cipher::remembering`], every value it decrypts is remembered as
/// (plaintext, additional data, type) → nonce; encrypting the same triple
/// later reuses that nonce, so an unchanged value gets a byte-identical
/// `ENC[…]` text (docs/spec/format.md §3.5). A nonce is only ever reused for the very
/// same plaintext and additional data, which reveals nothing new. The
/// remembered plaintexts are wiped on drop.
pub struct Cipher {
    gcm: Gcm32,
    key: DataKey,
    nonces: Nonces,
    ivs: Option<IvCache>,
}

/// Fresh 32-byte nonces from the OS random source, drawn in batches (one
/// system call per 128 nonces). Each thread that encrypts has its own.
#[derive(Default)]
pub struct Nonces {
    random: Vec<u8>,
}

impl Nonces {
    /// The next fresh nonce.
    pub fn next_iv(&mut self) -> Result<[u8; 32], CipherError> {
        if self.random.len() < 32 {
            self.random.resize(RANDOM_BATCH, 0);
            getrandom::getrandom(&mut self.random)
                .map_err(|e| CipherError::Random(e.to_string()))?;
        }
        let at = self.random.len() - 32;
        let mut iv = [0u8; 32];
        iv.copy_from_slice(&self.random[at..]);
        self.random[at..].zeroize();
        self.random.truncate(at);
        Ok(iv)
    }
}

/// What a remembered nonce is for: (plaintext, additional data, type).
type IvKey = (Vec<u8>, Vec<u8>, String);

/// (plaintext, aad, type) → the nonces seen for it, in walk order.
#[derive(Default)]
struct IvCache(HashMap<IvKey, VecDeque<[u8; 32]>>);

impl Drop for IvCache {
    fn drop(&mut self) {
        for ((mut plain, _, _), _) in self.0.drain() {
            plain.zeroize();
        }
    }
}

const RANDOM_BATCH: usize = 32 * 128;

impl Cipher {
    /// A cipher for this data key.
    pub fn new(key: &DataKey) -> Cipher {
        Cipher {
            gcm: Gcm32::new(key.as_bytes().into()),
            key: key.clone(),
            nonces: Nonces::default(),
            ivs: None,
        }
    }

    /// A cipher for this data key that remembers the nonce of every value
    /// it decrypts and reuses it when the same value is encrypted again.
    pub fn remembering(key: &DataKey) -> Cipher {
        let mut cipher = Cipher::new(key);
        cipher.ivs = Some(IvCache::default());
        cipher
    }

    /// Records that `plaintext` under `aad` and `type_name` was encrypted
    /// with `iv` (only 32-byte nonces, and only when remembering).
    fn remember(&mut self, plaintext: &[u8], aad: &[u8], type_name: &str, iv: &[u8]) {
        let (Some(cache), Ok(iv)) = (self.ivs.as_mut(), <[u8; 32]>::try_from(iv)) else {
            return;
        };
        cache
            .0
            .entry((plaintext.to_vec(), aad.to_vec(), type_name.to_string()))
            .or_default()
            .push_back(iv);
    }

    /// The remembered nonce for this value, if any (each is used once, in
    /// the order seen, so repeated equal values keep their own texts).
    fn recall(&mut self, plaintext: &[u8], aad: &[u8], type_name: &str) -> Option<[u8; 32]> {
        let cache = self.ivs.as_mut()?;
        let mut key = (plaintext.to_vec(), aad.to_vec(), type_name.to_string());
        let found = cache.0.get_mut(&key).and_then(VecDeque::pop_front);
        key.0.zeroize();
        found
    }

    /// Whether this cipher remembers nonces ([`Cipher::remembering`]): its
    /// values must then be encrypted and decrypted one by one, in order.
    pub fn is_remembering(&self) -> bool {
        self.ivs.is_some()
    }

    /// Encrypts with a fresh nonce from `nonces` (no remembered nonce is
    /// looked up): the form several threads can share.
    pub fn seal(
        &self,
        plaintext: &[u8],
        aad: &[u8],
        type_name: &str,
        nonces: &mut Nonces,
    ) -> Result<String, CipherError> {
        let iv = nonces.next_iv()?;
        Ok(self.encrypt_with_iv(plaintext, aad, type_name, iv))
    }

    /// A cipher with the same key for another thread; it remembers no
    /// nonces and draws fresh ones of its own.
    pub fn sibling(&self) -> Cipher {
        Cipher::new(&self.key)
    }

    /// Decrypts the fields of an `ENC[…]` value without remembering its
    /// nonce: the form several threads can share. Fields are checked in
    /// the order of `EncValue`'s parser (tag, data, nonce), then the nonce
    /// length and the tag, so the error is the one
    /// `Cipher::decrypt(&text.parse()?)` gives.
    pub fn open(
        &self,
        fields: &EncFields<'_>,
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        let tag = fields.decode_tag()?;
        let data = fields.decode_data()?;
        let mut iv = [0u8; 48];
        let iv = match fields.decode_iv(&mut iv) {
            Ok(iv) => iv,
            Err(IvDecode::Invalid(e)) => return Err(e.into()),
            Err(IvDecode::TooLong(n)) => return Err(CipherError::IvLength(n).into()),
        };
        Ok(self.decrypt_parts(data, iv, &tag, aad)?)
    }

    /// [`Cipher::open`], remembering the nonce when this cipher is
    /// [remembering](Cipher::remembering).
    pub fn open_remembering(
        &mut self,
        fields: &EncFields<'_>,
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        let plain = self.open(fields, aad)?;
        if self.is_remembering() {
            let mut iv = [0u8; 48];
            if let Ok(iv) = fields.decode_iv(&mut iv) {
                self.remember(&plain, aad, fields.type_name, iv);
            }
        }
        Ok(plain)
    }

    /// Encrypts `plaintext` with a fresh nonce and `aad`, producing the
    /// `ENC[…]` text with the given type name.
    pub fn encrypt(
        &mut self,
        plaintext: &[u8],
        aad: &[u8],
        type_name: &str,
    ) -> Result<String, CipherError> {
        if let Some(iv) = self.recall(plaintext, aad, type_name) {
            return Ok(self.encrypt_with_iv(plaintext, aad, type_name, iv));
        }
        // An integral number that was stored as `float` (JSON files of sops
        // before 3.13.2, `set` of a number) reads back as an int with the
        // same text: keep its old ciphertext and type.
        if type_name == "int" {
            if let Some(iv) = self.recall(plaintext, aad, "float") {
                return Ok(self.encrypt_with_iv(plaintext, aad, "float", iv));
            }
        }
        let iv = self.nonces.next_iv()?;
        Ok(self.encrypt_with_iv(plaintext, aad, type_name, iv))
    }

    /// Encrypts with a given nonce. Callers must never reuse a nonce for a
    /// different plaintext or additional data.
    pub fn encrypt_with_iv(
        &self,
        plaintext: &[u8],
        aad: &[u8],
        type_name: &str,
        iv: [u8; 32],
    ) -> String {
        let nonce = Nonce::<U32>::from_slice(&iv);
        // Short values (nearly all) are sealed in a buffer on the stack.
        let mut short = [0u8; 256];
        let mut long = Vec::new();
        let buffer = match short.get_mut(..plaintext.len()) {
            Some(buffer) => buffer,
            None => {
                long.resize(plaintext.len(), 0);
                &mut long[..]
            }
        };
        buffer.copy_from_slice(plaintext);
        // Encryption with a valid key and nonce length cannot fail (only
        // a plaintext beyond GCM's 64 GiB limit could).
        let tag = self
            .gcm
            .encrypt_in_place_detached(nonce, aad, buffer)
            .unwrap_or_default();
        let out = EncValue::format(buffer, &iv, &tag, type_name);
        buffer.zeroize();
        long.zeroize();
        out
    }

    /// Decrypts like [`Cipher::decrypt`], and remembers the nonce when
    /// this cipher is [remembering](Cipher::remembering).
    pub fn decrypt_remembering(
        &mut self,
        value: &EncValue,
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CipherError> {
        let plain = self.decrypt(value, aad)?;
        self.remember(&plain, aad, &value.type_name, &value.iv);
        Ok(plain)
    }

    fn decrypt_parts(
        &self,
        data: Vec<u8>,
        iv: &[u8],
        tag: &[u8],
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CipherError> {
        let mut buffer = Zeroizing::new(data);
        let tag = aes_gcm::Tag::from_slice(tag);
        let result = match iv.len() {
            32 => self.gcm.decrypt_in_place_detached(
                Nonce::<U32>::from_slice(iv),
                aad,
                &mut buffer,
                tag,
            ),
            12 => Gcm12::new(self.key.as_bytes().into()).decrypt_in_place_detached(
                Nonce::<U12>::from_slice(iv),
                aad,
                &mut buffer,
                tag,
            ),
            n => return Err(CipherError::IvLength(n)),
        };
        result
            .map(|()| buffer)
            .map_err(|_| CipherError::Authentication)
    }

    /// Decrypts a parsed `ENC[…]` value with `aad`.
    pub fn decrypt(&self, value: &EncValue, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, CipherError> {
        let mut sealed = Vec::with_capacity(value.data.len() + value.tag.len());
        sealed.extend_from_slice(&value.data);
        sealed.extend_from_slice(&value.tag);
        let payload = Payload { msg: &sealed, aad };
        let plain = match value.iv.len() {
            32 => self
                .gcm
                .decrypt(Nonce::<U32>::from_slice(&value.iv), payload),
            12 => Gcm12::new(self.key.as_bytes().into())
                .decrypt(Nonce::<U12>::from_slice(&value.iv), payload),
            n => return Err(CipherError::IvLength(n)),
        };
        plain
            .map(Zeroizing::new)
            .map_err(|_| CipherError::Authentication)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_aad_binding() {
        let key = DataKey::generate().unwrap();
        let mut cipher = Cipher::new(&key);
        let text = cipher.encrypt(b"hunter2", b"db:password:", "str").unwrap();
        let parsed: EncValue = text.parse().unwrap();
        assert_eq!(parsed.iv.len(), 32);
        assert_eq!(parsed.tag.len(), 16);
        assert_eq!(parsed.data.len(), 7);
        assert_eq!(
            &**cipher.decrypt(&parsed, b"db:password:").unwrap(),
            b"hunter2"
        );
        assert_eq!(
            cipher.decrypt(&parsed, b"db:other:"),
            Err(CipherError::Authentication)
        );
        let fields = EncFields::split(&text).unwrap();
        assert_eq!(
            &cipher.open(&fields, b"db:password:").unwrap()[..],
            b"hunter2"
        );
        assert_eq!(
            cipher.open(&fields, b"db:other:"),
            Err(OpenError::Cipher(CipherError::Authentication))
        );
    }

    #[test]
    fn remembered_nonces_are_reused_only_for_the_same_value() {
        let key = DataKey::generate().unwrap();
        let mut writer = Cipher::new(&key);
        let a1 = writer.encrypt(b"x", b"k:", "str").unwrap();
        let a2 = writer.encrypt(b"x", b"k:", "str").unwrap();
        let f = writer.encrypt(b"5", b"n:", "float").unwrap();
        let mut cipher = Cipher::remembering(&key);
        for text in [&a1, &a2] {
            let fields = EncFields::split(text).unwrap();
            cipher.open_remembering(&fields, b"k:").unwrap();
        }
        let fields = EncFields::split(&f).unwrap();
        cipher.open_remembering(&fields, b"n:").unwrap();
        // Same value twice: each keeps its own text, in order.
        assert_eq!(cipher.encrypt(b"x", b"k:", "str").unwrap(), a1);
        assert_eq!(cipher.encrypt(b"x", b"k:", "str").unwrap(), a2);
        // Used up: a third one is fresh.
        assert_ne!(cipher.encrypt(b"x", b"k:", "str").unwrap(), a1);
        // Another path or plaintext: fresh.
        assert_ne!(cipher.encrypt(b"x", b"j:", "str").unwrap(), a1);
        // An int with the text of a remembered float keeps the float.
        assert_eq!(cipher.encrypt(b"5", b"n:", "int").unwrap(), f);
    }

    /// `open` reports what parsing and `decrypt` report, for every kind
    /// of broken value (the batch and the walk rely on it).
    #[test]
    fn open_fails_as_parse_then_decrypt() {
        let key = DataKey::generate().unwrap();
        let mut cipher = Cipher::new(&key);
        let good = cipher.encrypt(b"hunter2", b"a:", "str").unwrap();
        let fields = EncFields::split(&good).unwrap();
        let long = "QUFB".repeat(20);
        let cases = [
            (fields.data, fields.iv, "bad!"),
            (fields.data, fields.iv, "QUFB"),
            (fields.data, fields.iv, long.as_str()),
            ("bad!", "bad!", fields.tag),
            (fields.data, "bad!", fields.tag),
            (fields.data, long.as_str(), fields.tag),
            (fields.data, "QUFBQUFBQUFBQUFB", fields.tag),
            (fields.data, "QUFBQUFBQUFBQUFBQUFBQUFB", fields.tag),
            (fields.data, fields.iv, fields.tag),
        ];
        for (i, (data, iv, tag)) in cases.into_iter().enumerate() {
            let text = format!("ENC[AES256_GCM,data:{data},iv:{iv},tag:{tag},type:str]");
            let want = text
                .parse::<EncValue>()
                .map_err(OpenError::from)
                .and_then(|v| cipher.decrypt(&v, b"b:").map_err(OpenError::from));
            let fields = EncFields::split(&text).unwrap();
            let got = cipher.open(&fields, b"b:");
            assert_eq!(got, want, "case {i}");
            assert!(got.is_err(), "case {i}");
        }
    }

    #[test]
    fn fresh_ivs_differ() {
        let key = DataKey::generate().unwrap();
        let mut cipher = Cipher::new(&key);
        let a = cipher.encrypt(b"x", b"k:", "str").unwrap();
        let b = cipher.encrypt(b"x", b"k:", "str").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn decrypts_the_spec_worked_example() {
        // docs/spec/format.md §11: a value sops 3.11 wrote, with its (public test) data key.
        let key_hex = "676f7695e51d1c2b48ab000f54fda237eb99d28ca4d36c2b61a99d0b02253906";
        let key_bytes: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&key_hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let cipher = Cipher::new(&DataKey::from_slice(&key_bytes).unwrap());
        let value: EncValue = "ENC[AES256_GCM,data:lErStyFETw==,iv:w3b5Q7tFkI42D+Jh/r8iQf5B/n2rTqRBaDTSp8EYS4M=,tag:pVuJmQo7f2yA6yA7h5QnpQ==,type:str]".parse().unwrap();
        assert_eq!(
            &**cipher.decrypt(&value, b"db:password:").unwrap(),
            b"hunter2"
        );
    }
}

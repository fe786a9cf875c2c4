//! The hybrid post-quantum age recipient type `mlkem768x25519` (age 1.3,
//! C2SP age specification): recipients `age1pq1…`, identities
//! `AGE-SECRET-KEY-PQ-1…`.
//!
//! The KEM is X-Wing (ML-KEM-768 + X25519 with a SHA3-256 combiner), used
//! through HPKE base mode with HKDF-SHA256 and ChaCha20-Poly1305
//! (suite `0x647a`/`0x0001`/`0x0003`), info `age-encryption.org/mlkem768x25519`
//! and empty associated data. The identity is a 32-byte seed expanded with
//! SHAKE256 into the ML-KEM-768 seed (64 bytes) and the X25519 scalar.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use age_core::format::{FileKey, Stanza, FILE_KEY_BYTES};
use age_core::primitives::{bech32_decode, bech32_encode};
use base64::prelude::{Engine, BASE64_STANDARD_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hkdf::Hkdf;
use ml_kem::kem::Decapsulate;
use ml_kem::{EncapsulateDeterministic, EncodedSizeUser, KemCore, MlKem768};
use sha2::Sha256;
use sha3::digest::{ExtendableOutput, Update, XofReader};
use sha3::{Digest, Sha3_256, Shake256};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, Zeroizing};

/// The stanza tag of the hybrid recipient type.
pub const STANZA_TAG: &str = "mlkem768x25519";
const HPKE_INFO: &[u8] = b"age-encryption.org/mlkem768x25519";
/// `"HPKE" || kem 0x647a (X-Wing) || kdf 0x0001 || aead 0x0003`.
const SUITE_ID: &[u8] = b"HPKE\x64\x7a\x00\x01\x00\x03";
/// The X-Wing combiner label `\./` `/^\`.
const XWING_LABEL: &[u8] = b"\\.//^\\";
const RECIPIENT_HRP: &str = "age1pq";
const IDENTITY_HRP: &str = "age-secret-key-pq-";

const MLKEM_EK_LEN: usize = 1184;
const MLKEM_CT_LEN: usize = 1088;
/// Length of an encoded recipient: ML-KEM-768 key and X25519 point.
const RECIPIENT_LEN: usize = MLKEM_EK_LEN + 32;
/// Length of the encapsulated key (stanza argument).
const ENC_LEN: usize = MLKEM_CT_LEN + 32;

type EncapsulationKey = <MlKem768 as KemCore>::EncapsulationKey;
type DecapsulationKey = <MlKem768 as KemCore>::DecapsulationKey;

/// A hybrid post-quantum recipient (`age1pq1…`).
#[derive(Clone)]
pub struct HybridRecipient {
    ek_pq: EncapsulationKey,
    pk_t: [u8; 32],
}

impl HybridRecipient {
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(RECIPIENT_LEN);
        out.extend_from_slice(&self.ek_pq.as_bytes());
        out.extend_from_slice(&self.pk_t);
        out
    }
}

impl FromStr for HybridRecipient {
    type Err = String;

    /// Parses `age1pq1…`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bytes = decode_bech32(s, RECIPIENT_HRP)
            .map_err(|e| format!("malformed hybrid recipient: {e}"))?;
        if bytes.len() != RECIPIENT_LEN {
            return Err("malformed hybrid recipient: wrong length".into());
        }
        let (pq, t) = bytes.split_at(MLKEM_EK_LEN);
        let encoded = ml_kem::Encoded::<EncapsulationKey>::try_from(pq)
            .map_err(|_| "malformed hybrid recipient: wrong length".to_string())?;
        let mut pk_t = [0u8; 32];
        pk_t.copy_from_slice(t);
        Ok(HybridRecipient {
            ek_pq: EncapsulationKey::from_bytes(&encoded),
            pk_t,
        })
    }
}

impl fmt::Display for HybridRecipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bech32_encode(hrp(RECIPIENT_HRP), &self.to_bytes()))
    }
}

impl fmt::Debug for HybridRecipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl age::Recipient for HybridRecipient {
    fn wrap_file_key(
        &self,
        file_key: &FileKey,
    ) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
        let rng_fail = |_| {
            age::EncryptError::Io(std::io::Error::other(
                "the system random number generator failed",
            ))
        };
        let mut ephemeral = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(&mut ephemeral[..]).map_err(rng_fail)?;
        let mut m = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(&mut m[..]).map_err(rng_fail)?;
        let (enc, body) = self
            .seal(&ephemeral, &m, file_key.expose_secret())
            .ok_or_else(|| {
                age::EncryptError::Io(std::io::Error::other(
                    "hybrid recipient encapsulation failed",
                ))
            })?;
        Ok((
            vec![Stanza {
                tag: STANZA_TAG.to_string(),
                args: vec![BASE64_STANDARD_NO_PAD.encode(enc)],
                body,
            }],
            HashSet::from(["postquantum".to_string()]),
        ))
    }
}

impl HybridRecipient {
    /// Deterministic part of the wrap: X-Wing encapsulation with the given
    /// ephemeral X25519 scalar and ML-KEM randomness, then HPKE seal.
    fn seal(
        &self,
        ephemeral: &[u8; 32],
        m: &[u8; 32],
        plaintext: &[u8],
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        let e = StaticSecret::from(*ephemeral);
        let ct_t = PublicKey::from(&e).to_bytes();
        let ss_t = e.diffie_hellman(&PublicKey::from(self.pk_t));
        if !ss_t.was_contributory() {
            return None;
        }
        let (ct_pq, ss_pq) = self.ek_pq.encapsulate_deterministic(&(*m).into()).ok()?;
        let shared = combine(&ss_pq, ss_t.as_bytes(), &ct_t, &self.pk_t);
        let (key, nonce) = key_schedule(&shared[..]);
        let body = ChaCha20Poly1305::new_from_slice(&key[..])
            .ok()?
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: b"",
                },
            )
            .ok()?;
        let mut enc = Vec::with_capacity(ENC_LEN);
        enc.extend_from_slice(&ct_pq);
        enc.extend_from_slice(&ct_t);
        Some((enc, body))
    }
}

/// A hybrid post-quantum identity (`AGE-SECRET-KEY-PQ-1…`).
pub struct HybridIdentity {
    seed: Zeroizing<[u8; 32]>,
    dk_pq: DecapsulationKey,
    sk_t: StaticSecret,
    pk_t: [u8; 32],
    ek_pq: EncapsulationKey,
}

impl HybridIdentity {
    /// Expands a 32-byte seed into the key pair.
    pub fn from_seed(seed: [u8; 32]) -> HybridIdentity {
        let mut expanded = Zeroizing::new([0u8; 96]);
        let mut shake = Shake256::default();
        shake.update(&seed);
        shake.finalize_xof().read(&mut expanded[..]);
        let mut d = [0u8; 32];
        let mut z = [0u8; 32];
        let mut t = [0u8; 32];
        d.copy_from_slice(&expanded[..32]);
        z.copy_from_slice(&expanded[32..64]);
        t.copy_from_slice(&expanded[64..]);
        let (dk_pq, ek_pq) = MlKem768::generate_deterministic(&d.into(), &z.into());
        d.zeroize();
        z.zeroize();
        let sk_t = StaticSecret::from(t);
        t.zeroize();
        let pk_t = PublicKey::from(&sk_t).to_bytes();
        HybridIdentity {
            seed: Zeroizing::new(seed),
            dk_pq,
            sk_t,
            pk_t,
            ek_pq,
        }
    }

    /// A new random identity.
    pub fn generate() -> Result<HybridIdentity, String> {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).map_err(|e| format!("random number generator: {e}"))?;
        let id = HybridIdentity::from_seed(seed);
        seed.zeroize();
        Ok(id)
    }

    /// The matching recipient.
    pub fn to_public(&self) -> HybridRecipient {
        HybridRecipient {
            ek_pq: self.ek_pq.clone(),
            pk_t: self.pk_t,
        }
    }

    /// The `AGE-SECRET-KEY-PQ-1…` encoding (secret!).
    pub fn to_secret_string(&self) -> Zeroizing<String> {
        Zeroizing::new(bech32_encode(hrp(IDENTITY_HRP), &self.seed[..]).to_uppercase())
    }

    fn open(&self, stanza: &Stanza) -> Result<Option<FileKey>, ()> {
        if stanza.args.len() != 1 {
            return Err(());
        }
        let enc = BASE64_STANDARD_NO_PAD
            .decode(&stanza.args[0])
            .map_err(|_| ())?;
        if enc.len() != ENC_LEN {
            return Err(());
        }
        let (ct_pq, ct_t) = enc.split_at(MLKEM_CT_LEN);
        let ct_pq = ml_kem::Ciphertext::<MlKem768>::try_from(ct_pq).map_err(|_| ())?;
        let ss_pq = self.dk_pq.decapsulate(&ct_pq).map_err(|_| ())?;
        let mut ct_t_arr = [0u8; 32];
        ct_t_arr.copy_from_slice(ct_t);
        let ss_t = self.sk_t.diffie_hellman(&PublicKey::from(ct_t_arr));
        if !ss_t.was_contributory() {
            return Err(());
        }
        let shared = combine(&ss_pq, ss_t.as_bytes(), &ct_t_arr, &self.pk_t);
        let (key, nonce) = key_schedule(&shared[..]);
        if stanza.body.len() != FILE_KEY_BYTES + 16 {
            return Err(());
        }
        let aead = ChaCha20Poly1305::new_from_slice(&key[..]).map_err(|_| ())?;
        match aead.decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &stanza.body,
                aad: b"",
            },
        ) {
            Ok(plain) => {
                let plain = Zeroizing::new(plain);
                Ok(Some(FileKey::init_with_mut(|k| k.copy_from_slice(&plain))))
            }
            // A stanza for another hybrid recipient.
            Err(_) => Ok(None),
        }
    }
}

impl FromStr for HybridIdentity {
    type Err = String;

    /// Parses `AGE-SECRET-KEY-PQ-1…`; errors never contain the key.
    fn from_str(s: &str) -> Result<Self, String> {
        let bytes = Zeroizing::new(
            decode_bech32(s, IDENTITY_HRP)
                .map_err(|e| format!("malformed hybrid secret key: {e}"))?,
        );
        let seed: [u8; 32] = bytes[..]
            .try_into()
            .map_err(|_| "malformed hybrid secret key: wrong length".to_string())?;
        Ok(HybridIdentity::from_seed(seed))
    }
}

impl age::Identity for HybridIdentity {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        if stanza.tag != STANZA_TAG {
            return None;
        }
        match self.open(stanza) {
            Ok(Some(key)) => Some(Ok(key)),
            Ok(None) => None,
            Err(()) => Some(Err(age::DecryptError::InvalidHeader)),
        }
    }
}

fn hrp(s: &str) -> bech32::Hrp {
    // The two HRPs used here are valid constants.
    bech32::Hrp::parse_unchecked(s)
}

fn decode_bech32(s: &str, expected_hrp: &str) -> Result<Vec<u8>, &'static str> {
    bech32_decode(
        s,
        |_| "invalid Bech32 encoding",
        |h| {
            if h.to_lowercase() == expected_hrp {
                Ok(())
            } else {
                Err("unexpected prefix")
            }
        },
        |_, bytes| Ok(bytes.collect()),
    )
}

/// X-Wing combiner: `SHA3-256(ss_M || ss_X || ct_X || pk_X || label)`.
fn combine(ss_pq: &[u8], ss_t: &[u8], ct_t: &[u8], pk_t: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut h = Sha3_256::new();
    Digest::update(&mut h, ss_pq);
    Digest::update(&mut h, ss_t);
    Digest::update(&mut h, ct_t);
    Digest::update(&mut h, pk_t);
    Digest::update(&mut h, XWING_LABEL);
    Zeroizing::new(h.finalize().into())
}

fn labeled_extract(salt: &[u8], label: &[u8], ikm: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut labeled = Zeroizing::new(Vec::new());
    labeled.extend_from_slice(b"HPKE-v1");
    labeled.extend_from_slice(SUITE_ID);
    labeled.extend_from_slice(label);
    labeled.extend_from_slice(ikm);
    let (prk, _) = Hkdf::<Sha256>::extract(Some(salt), &labeled);
    Zeroizing::new(prk.to_vec())
}

fn labeled_expand(prk: &[u8], label: &[u8], info: &[u8], out: &mut [u8]) {
    let mut labeled = Vec::new();
    labeled.extend_from_slice(&(out.len() as u16).to_be_bytes());
    labeled.extend_from_slice(b"HPKE-v1");
    labeled.extend_from_slice(SUITE_ID);
    labeled.extend_from_slice(label);
    labeled.extend_from_slice(info);
    // A SHA-256 PRK is always a valid length and 32/12 bytes are below the limit.
    if let Ok(hk) = Hkdf::<Sha256>::from_prk(prk) {
        let _ = hk.expand(&labeled, out);
    }
}

/// HPKE base-mode key schedule: the AEAD key and the nonce of the first
/// (and only) message.
fn key_schedule(shared: &[u8]) -> (Zeroizing<[u8; 32]>, [u8; 12]) {
    let psk_id_hash = labeled_extract(b"", b"psk_id_hash", b"");
    let info_hash = labeled_extract(b"", b"info_hash", HPKE_INFO);
    let mut context = vec![0u8];
    context.extend_from_slice(&psk_id_hash);
    context.extend_from_slice(&info_hash);
    let secret = labeled_extract(shared, b"secret", b"");
    let mut key = Zeroizing::new([0u8; 32]);
    labeled_expand(&secret, b"key", &context, &mut key[..]);
    let mut nonce = [0u8; 12];
    labeled_expand(&secret, b"base_nonce", &context, &mut nonce);
    (key, nonce)
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::Identity as _;
    use std::io::Read;

    /// Runs one C2SP CCTV age test vector (testdata/age-cctv, 0BSD licence)
    /// with the hybrid identity it names.
    fn run_vector(name: &str) {
        let path = format!("{}/testdata/age-cctv/{name}", env!("CARGO_MANIFEST_DIR"));
        let data = std::fs::read(&path).unwrap();
        let split = data.windows(2).position(|w| w == b"\n\n").unwrap();
        let header = std::str::from_utf8(&data[..split]).unwrap();
        let body = &data[split + 2..];
        let field = |k: &str| {
            header
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{k}: ")))
                .map(str::to_string)
        };
        let expect = field("expect").unwrap();
        let mut identities: Vec<Box<dyn age::Identity>> = Vec::new();
        for line in header.lines() {
            if let Some(text) = line.strip_prefix("identity: ") {
                if text.starts_with("AGE-SECRET-KEY-PQ-") {
                    identities.push(Box::new(text.parse::<HybridIdentity>().unwrap()));
                } else {
                    identities.push(Box::new(text.parse::<age::x25519::Identity>().unwrap()));
                }
            }
        }
        let armored = field("armored").as_deref() == Some("yes");
        let result = (|| -> Result<Vec<u8>, String> {
            let reader: Box<dyn Read> = if armored {
                Box::new(age::armor::ArmoredReader::new(body))
            } else {
                Box::new(body)
            };
            let decryptor = age::Decryptor::new(reader).map_err(|e| e.to_string())?;
            let mut r = decryptor
                .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
                .map_err(|e| e.to_string())?;
            let mut out = Vec::new();
            r.read_to_end(&mut out).map_err(|e| e.to_string())?;
            Ok(out)
        })();
        match expect.as_str() {
            "success" => {
                let out = result.unwrap_or_else(|e| panic!("{name}: {e}"));
                let digest = Sha256::digest(&out);
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                assert_eq!(hex, field("payload").unwrap(), "{name}");
            }
            _ => assert!(result.is_err(), "{name} should fail ({expect})"),
        }
    }

    #[test]
    fn cctv_hybrid_vectors() {
        let dir = format!("{}/testdata/age-cctv", env!("CARGO_MANIFEST_DIR"));
        let mut count = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.contains("hybrid") {
                run_vector(&name);
                count += 1;
            }
        }
        assert_eq!(count, 17);
    }

    /// Interop with typage (the TypeScript age implementation): recipient
    /// derivation from the identity, and decryption of its output.
    #[test]
    fn typage_identity_recipient_and_file() {
        let dir = format!("{}/testdata/age-typage", env!("CARGO_MANIFEST_DIR"));
        let read = |name: &str| std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
        let identity: HybridIdentity = read("identity.txt").trim().parse().unwrap();
        assert_eq!(
            identity.to_public().to_string(),
            read("recipient.txt").trim()
        );
        let file = read("bytes-0-to-31.age");
        let decryptor =
            age::Decryptor::new(age::armor::ArmoredReader::new(file.as_bytes())).unwrap();
        let mut reader = decryptor
            .decrypt(std::iter::once(&identity as &dyn age::Identity))
            .unwrap();
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, (0u8..32).collect::<Vec<_>>());
    }

    #[test]
    fn round_trip_and_encodings() {
        let id = HybridIdentity::generate().unwrap();
        let recipient = id.to_public();
        let text = recipient.to_string();
        assert!(text.starts_with("age1pq1"));
        let parsed: HybridRecipient = text.parse().unwrap();
        assert_eq!(parsed.to_string(), text);
        let secret = id.to_secret_string();
        assert!(secret.starts_with("AGE-SECRET-KEY-PQ-1"));
        let again: HybridIdentity = secret.parse().unwrap();
        assert_eq!(again.to_public().to_string(), text);

        let file_key = FileKey::new(Box::new([9u8; 16]));
        let (stanzas, labels) = age::Recipient::wrap_file_key(&parsed, &file_key).unwrap();
        assert!(labels.contains("postquantum"));
        assert_eq!(stanzas[0].tag, STANZA_TAG);
        let unwrapped = again.unwrap_stanza(&stanzas[0]).unwrap().unwrap();
        assert_eq!(unwrapped.expose_secret(), &[9u8; 16]);
        let other = HybridIdentity::generate().unwrap();
        assert!(other.unwrap_stanza(&stanzas[0]).is_none());
    }

    #[test]
    fn cctv_test_identity_recipient() {
        // The recipient of the CCTV test identity starts as the vectors'
        // generator derives it: ML-KEM key then X25519 point.
        let id: HybridIdentity =
            "AGE-SECRET-KEY-PQ-1HZLGZUPT4ETPKDEV8HSGFDCYZ4E522W0A7PU2LHT8EH9W6YLNC3SW78XKG"
                .parse()
                .unwrap();
        assert_eq!(id.to_public().to_bytes().len(), RECIPIENT_LEN);
        assert!("AGE-SECRET-KEY-1QQQ".parse::<HybridIdentity>().is_err());
        let err = "age1pq1qqqq".parse::<HybridRecipient>().unwrap_err();
        assert!(err.starts_with("malformed hybrid recipient"), "{err}");
    }
}

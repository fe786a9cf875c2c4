//! Value encryption: the `ENC[…]` text form, AES-256-GCM with sops' 32-byte
//! nonces, typed plaintexts, the encryption rules, the tree walk and the MAC.

pub mod cipher;
pub mod enc;
pub mod plaintext;
pub mod rules;
pub mod walk;

pub use cipher::{Cipher, DataKey};
pub use rules::{EncryptionRule, Selector};

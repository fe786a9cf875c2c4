#![no_main]
//! Decryption of arbitrary documents with a fixed data key: the input is
//! parsed as YAML (or JSON when it starts with `{`), every leaf is decrypted;
//! then the plaintext is encrypted and decrypted again, which must give the
//! same tree back.

use enseal::crypto::walk::{Direction, Walk};
use enseal::crypto::{Cipher, DataKey, EncryptionRule, Selector};
use enseal::format::{FormatKind, StoreOptions};
use libfuzzer_sys::fuzz_target;

const KEY: [u8; 32] = *b"enseal-fuzz-fixed-data-key-32byt";

fuzz_target!(|data: &[u8]| {
    let kind = if data.first() == Some(&b'{') {
        FormatKind::Json
    } else {
        FormatKind::Yaml
    };
    let store = kind.store(&StoreOptions::default());
    let Ok(file) = store.parse_encrypted(data) else {
        return;
    };
    let key = DataKey::from_slice(&KEY).expect("32-byte key");
    let selector = Selector::new(&EncryptionRule::default());
    let mut cipher = Cipher::new(&key);
    let decrypt = Walk {
        direction: Direction::Decrypt,
        selector: &selector,
        mac_only_encrypted: data.len() % 2 == 0,
    };
    let mut documents = file.documents.clone();
    let _ = decrypt.run(&mut documents, &mut cipher);

    // Round trip of whatever parsed as plaintext.
    let Ok(plain) = store.parse_plain(data) else {
        return;
    };
    let mut docs = plain.clone();
    let encrypt = Walk {
        direction: Direction::Encrypt,
        selector: &selector,
        mac_only_encrypted: false,
    };
    let Ok(enc_outcome) = encrypt.run(&mut docs, &mut cipher) else {
        return;
    };
    let decrypt = Walk {
        direction: Direction::Decrypt,
        selector: &selector,
        mac_only_encrypted: false,
    };
    let dec_outcome = decrypt
        .run(&mut docs, &mut cipher)
        .unwrap_or_else(|e| panic!("decrypt of what we encrypted failed: {e}"));
    assert_eq!(enc_outcome.mac, dec_outcome.mac, "MAC differs after round trip");
});

#![no_main]
//! The `ENC[…]` parser: never panics; what parses prints back to a string
//! that parses to the same value.

use enseal::crypto::enc::EncValue;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(value) = text.parse::<EncValue>() {
        let printed = value.to_string();
        let again: EncValue = printed
            .parse()
            .unwrap_or_else(|e| panic!("printed value does not parse: {e}"));
        assert_eq!(again, value);
    }
});

#![no_main]
//! Fuzz target `enc_value`: see `common::enc_value`.

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::enc_value(data));

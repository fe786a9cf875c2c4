#![no_main]
//! Fuzz target `decrypt`: see `common::decrypt`.

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::decrypt(data));

#![no_main]
//! Fuzz target `preserve`: see `common::preserve`.

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::preserve(data));

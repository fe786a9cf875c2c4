#![no_main]
//! Fuzz target `format_binary`: see `common::format_binary`.

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::format_binary(data));

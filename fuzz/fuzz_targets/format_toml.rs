#![no_main]
//! Fuzz target `format_toml`: see `common::format_toml`.

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::format_toml(data));

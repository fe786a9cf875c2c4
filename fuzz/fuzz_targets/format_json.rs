#![no_main]
//! Fuzz target `format_json`: see `common::format_json`.

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::format_json(data));

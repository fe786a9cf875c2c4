#![no_main]
//! Fuzz target `format_ini`: see `common::format_ini`.

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::format_ini(data));

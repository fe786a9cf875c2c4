#![no_main]
//! Fuzz target `format_yaml`: see `common::format_yaml`.

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::format_yaml(data));

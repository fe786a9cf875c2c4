#![no_main]
//! Fuzz target `check_scan`: see `common::check_scan`.

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::check_scan(data));

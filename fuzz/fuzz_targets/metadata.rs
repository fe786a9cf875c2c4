#![no_main]
//! Fuzz target `metadata`: see `common::metadata`.

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::metadata(data));

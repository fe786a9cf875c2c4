#![no_main]
//! Fuzz target `tree_path`: see `common::tree_path`.

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::tree_path(data));

#![no_main]
//! Fuzz target `merge`: see `common::merge`.

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::merge(data));

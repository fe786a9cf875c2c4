#![no_main]
//! Fuzz target `sops_config`: see `common::sops_config`.

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::sops_config(data));

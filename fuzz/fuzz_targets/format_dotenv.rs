#![no_main]
//! Fuzz target `format_dotenv`: see `common::format_dotenv`.

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::format_dotenv(data));

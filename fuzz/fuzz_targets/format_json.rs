#![no_main]
//! The json store: parse_plain / parse_encrypted / emit_* on arbitrary bytes.

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::exercise_store(enseal::format::FormatKind::Json, data);
});

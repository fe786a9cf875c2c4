#![no_main]
//! `--extract` / `set` index paths, and the lookup of what parsed.

use enseal::tree::{Map, Value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(path) = enseal::tree_path::parse(text) {
        let mut inner = Map::new();
        inner.push("b", Value::List(vec![Value::Str("x".into()), Value::Int(1)]));
        let mut doc = Map::new();
        doc.push("a", Value::Map(inner));
        doc.push("", Value::Null);
        let _ = enseal::tree_path::lookup(&doc, &path);
        for c in &path {
            let _ = c.to_string();
        }
    }
});

//! Times the YAML store: `yamlbench FILE [plain|enc] [ITER]`.
use enseal::format::{FormatKind, StoreOptions};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = std::fs::read(&args[1]).expect("read");
    let enc = args.get(2).is_some_and(|m| m == "enc");
    let iters: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5);
    let store = FormatKind::Yaml.store(&StoreOptions::default());
    let (mut best_p, mut best_e) = (f64::MAX, f64::MAX);
    for _ in 0..iters {
        let t = Instant::now();
        let out = if enc {
            let f = store.parse_encrypted(&data).expect("parse");
            let p = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let meta = f.metadata.unwrap_or_default();
            let out = store.emit_encrypted(&f.documents, &meta).expect("emit");
            best_e = best_e.min(t.elapsed().as_secs_f64());
            best_p = best_p.min(p);
            out
        } else {
            let d = store.parse_plain(&data).expect("parse");
            let p = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let out = store.emit_plain(&d).expect("emit");
            best_e = best_e.min(t.elapsed().as_secs_f64());
            best_p = best_p.min(p);
            out
        };
        if enc {
            assert_eq!(out, data, "round trip changed the bytes");
        }
    }
    println!(
        "parse {:.1} ms  emit {:.1} ms  total {:.1} ms",
        best_p * 1e3,
        best_e * 1e3,
        (best_p + best_e) * 1e3
    );
}

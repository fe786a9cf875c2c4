#![no_main]
//! `.sops.yaml` decoding and rule lookup.

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("/fuzz/.sops.yaml");
    if let Ok(config) = enseal::config::parse(path, data) {
        let dir = Path::new("/fuzz");
        for file in ["/fuzz/a.yaml", "/fuzz/dev/secrets.env", "/elsewhere/x.json"] {
            let _ = config.rule_for(Path::new(file), dir);
            let _ = config.destination_for(file);
        }
        let _ = config.store_options();
        let _ = config.has_creation_rules();
    }
});

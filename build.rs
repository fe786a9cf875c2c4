//! Links the `enseal` executable as a position-dependent (non-PIE) binary.
//!
//! A PIE executable has its ~40,000 pointer relocations applied by the
//! dynamic loader at every start, which writes (copy-on-write faults) about
//! 170 pages: a third of the run time of `enseal decrypt` on a small file.
//! The reference sops binary is a static, position-dependent executable
//! too. Heap, stack and shared libraries are still placed at random.
//! Set `ENSEAL_PIE=1` when building to keep the default PIE executable.

fn main() {
    println!("cargo:rerun-if-env-changed=ENSEAL_PIE");
    let pie = std::env::var_os("ENSEAL_PIE").is_some_and(|v| v != "0" && !v.is_empty());
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if linux && !pie {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}

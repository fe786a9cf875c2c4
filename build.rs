//! Link settings of the `enseal` executable.
//!
//! enseal parses hostile input, so the executable stays position-independent
//! (PIE, the toolchain default) and keeps address-space layout
//! randomisation of its own code. What PIE costs at start-up is the dynamic
//! loader applying the executable's relative relocations (about 40,000
//! pointers in static data). On GNU/Linux the linker is asked to pack them
//! (`-z pack-relative-relocs`, DT_RELR: glibc 2.36 and binutils 2.38 or
//! later), which shrinks the table the loader walks from about a megabyte to
//! a few kilobytes; linkers that do not know the option ignore it with a
//! warning.
//!
//! `ENSEAL_NO_PIE=1` links a position-dependent executable instead, for
//! start-up measurements only (see docs/benchmarks.md).
//!
//! It also records the commit the binary is built from, for `--version`:
//! `ENSEAL_BUILD_COMMIT` when set (release pipelines, builds from a source
//! archive), else `git rev-parse --short=12 HEAD` when the sources are a git
//! checkout, else nothing.

use std::process::Command;

fn main() {
    commit();
    link();
}

/// Sets `ENSEAL_COMMIT` for the crate (empty when unknown).
fn commit() {
    println!("cargo:rerun-if-env-changed=ENSEAL_BUILD_COMMIT");
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = match std::env::var("ENSEAL_BUILD_COMMIT") {
        Ok(c) => c,
        Err(_) => match git(&["rev-parse", "--short=12", "HEAD"]) {
            Some(hash) => {
                // Rebuild when HEAD moves (a commit, a checkout).
                let mut watched = vec!["HEAD".to_string()];
                watched.extend(git(&["symbolic-ref", "-q", "HEAD"]));
                for name in watched {
                    // (A ref packed into packed-refs has no file of its own.)
                    let path = git(&["rev-parse", "--git-path", &name]);
                    if let Some(path) = path.filter(|p| std::path::Path::new(p).exists()) {
                        println!("cargo:rerun-if-changed={path}");
                    }
                }
                hash
            }
            None => String::new(),
        },
    };
    println!("cargo:rustc-env=ENSEAL_COMMIT={commit}");
}

/// Link arguments (see the module documentation).
fn link() {
    println!("cargo:rerun-if-env-changed=ENSEAL_NO_PIE");
    let no_pie = std::env::var_os("ENSEAL_NO_PIE").is_some_and(|v| v != "0" && !v.is_empty());
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    let gnu = std::env::var("CARGO_CFG_TARGET_ENV").is_ok_and(|env| env == "gnu");
    if linux && no_pie {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    } else if linux && gnu {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

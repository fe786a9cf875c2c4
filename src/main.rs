//! The `enseal` binary: parse arguments, run, exit with sops' exit code.

fn main() {
    std::process::exit(enseal::cli::run(std::env::args_os()));
}

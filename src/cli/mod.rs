//! The command line: sops-compatible subcommands, flags and legacy mode.
//! The only module that touches the terminal.
//!
//! Layers, each depending only on those below it:
//! - [`args`]: the clap flags ([`args::LowArgs`]) and their resolution into
//!   the command that runs ([`args::resolve::HiArgs`]);
//! - the commands (`encrypt`, `decrypt`, `edit`, `modify`, `rotate`,
//!   `groups`, `updatekeys`, `filestatus`, `exec-*`, `check`, `log`, `completion`,
//!   and `bulk` for many files; `git`), which never call each other
//!   except `bulk`, which runs `rotate` per file, and `check` and `log`,
//!   which walk files with `bulk`;
//! - [`pipeline`] (open, decrypt, encrypt again, write a document),
//!   [`settings`] (keys and rules of a new file) and [`io`] (input, stores,
//!   output).

mod args;
mod bulk;
mod check;
mod color;
mod completion;
mod decrypt;
mod edit;
mod encrypt;
mod exec;
mod exec_env;
mod exec_file;
mod filestatus;
mod git;
mod groups;
mod init;
mod io;
mod key_advice;
mod keyservice;
mod log;
mod man;
mod modify;
mod pipeline;
mod prompt;
mod publish;
mod publish_encrypted;
mod rotate;
mod settings;
mod updatekeys;

use clap::{CommandFactory, Parser};

use crate::error::{Error, Result};
use args::resolve::{Command, DecryptMany, HiArgs, RotateMany, Updatekeys};
use args::{normalize_single_dash_flags, LowArgs};

/// Runs the command line and returns the exit code.
pub fn run<I: IntoIterator<Item = std::ffi::OsString>>(args: I) -> i32 {
    let args = normalize_single_dash_flags(args.into_iter().collect());
    let as_sops = invoked_as_sops(args.first());
    io::set_started_as_sops(as_sops);
    if let Some(code) = before_parsing(&args, as_sops) {
        return code;
    }
    let low = match LowArgs::try_parse_from(args) {
        Ok(low) => low,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    // `--verbose`: errors in sops' full words (e.g. every key tried).
    let full = as_sops || low.other.verbose;
    let hi = match HiArgs::from_low(low) {
        Ok(hi) => hi,
        Err(err) => return report(&err, as_sops),
    };
    // Decrypted values may be in memory from here on: no core dumps.
    crate::hygiene::protect_process();
    match dispatch(hi) {
        Ok(()) => 0,
        Err(err) => report_full(&err, as_sops, full),
    }
}

/// What is answered before the command line is parsed: `--version`/`-v`
/// (with `--check-for-updates`), sops' `h` for help, `enseal` alone, and a
/// first word that is a misspelled subcommand (which sops would take for a
/// new file to edit). `None`: parse and run as usual.
fn before_parsing(args: &[std::ffi::OsString], as_sops: bool) -> Option<i32> {
    let words: Vec<&str> = args.iter().skip(1).filter_map(|a| a.to_str()).collect();
    if words.len() != args.len().saturating_sub(1) {
        return None; // a non-UTF-8 argument: a file name, leave it to clap
    }
    const VERSION_FLAGS: [&str; 3] = ["--version", "-v", "-V"];
    const WITH_VERSION: [&str; 2] = ["--check-for-updates", "--disable-version-check"];
    if words.iter().any(|w| VERSION_FLAGS.contains(w))
        && words
            .iter()
            .all(|w| VERSION_FLAGS.contains(w) || WITH_VERSION.contains(w))
    {
        print!("{}", crate::version::version_text(as_sops));
        if words.contains(&"--check-for-updates") {
            eprintln!(
                "enseal never checks the network for updates: see your package manager or the project's releases"
            );
        }
        return Some(0);
    }
    match words.first() {
        Some(&"h") if words.len() == 1 => {
            let _ = LowArgs::command().print_help();
            Some(0)
        }
        None if !as_sops => {
            eprint!("{SHORT_USAGE}");
            Some(crate::error::exit::NO_FILE_SPECIFIED)
        }
        Some(first) => misspelled_command(first).map(|(word, suggestion)| {
            report(
                &Error::Advice {
                    code: 1,
                    message: format!("'{word}' is not a command, and no file of that name exists"),
                    hint: format!("did you mean `{suggestion}`? (to create a new file, give a path such as ./{word})"),
                },
                as_sops,
            )
        }),
        None => None,
    }
}

/// What `enseal` alone prints.
const SHORT_USAGE: &str = "\
enseal: encrypted files that keep their structure, compatible with sops

usage: enseal <COMMAND> [OPTIONS] [FILE]
  enseal init                      set up this repository (identity, .sops.yaml, git)
  enseal encrypt -i FILE           encrypt a file in place
  enseal decrypt FILE              print the plaintext
  enseal edit FILE                 edit in $EDITOR, encrypted again on save
  enseal exec-env FILE -- CMD      run CMD with the values in its environment
  enseal check                     check the repository against .sops.yaml

enseal --help lists every command and flag; docs/ in the repository has the guide.
";

/// `Some((word, subcommand))` when `word` is not a subcommand, not an
/// existing path, and close to a subcommand (`decrpyt` → `decrypt`).
fn misspelled_command(word: &str) -> Option<(String, String)> {
    if word.starts_with('-') || word.len() < 3 || std::path::Path::new(word).exists() {
        return None;
    }
    if word.contains(['/', '.']) {
        return None; // a path or file name: sops' edit of a new file
    }
    // A real subcommand (the usual case) is known without building clap's
    // command, which the parse builds anyway: start-up stays one build.
    if <args::LowCommand as clap::Subcommand>::has_subcommand(word) || word == "help" {
        return None;
    }
    let command = LowArgs::command();
    let names: Vec<String> = command
        .get_subcommands()
        .flat_map(|c| {
            std::iter::once(c.get_name().to_string()).chain(c.get_all_aliases().map(String::from))
        })
        .chain(["help".to_string()])
        .collect();
    if names.iter().any(|n| n == word) {
        return None;
    }
    names
        .iter()
        .map(|n| (n, strsim::damerau_levenshtein(word, n)))
        .filter(|(n, d)| *d <= 2 && *d < n.len() / 2 + 1)
        .min_by_key(|(_, d)| *d)
        .map(|(n, _)| (word.to_string(), n.clone()))
}

/// Whether the program was started under the name `sops` (installed in its
/// place, e.g. a `sops` link to enseal).
fn invoked_as_sops(argv0: Option<&std::ffi::OsString>) -> bool {
    argv0
        .and_then(|a| std::path::Path::new(a).file_stem())
        .is_some_and(|stem| stem == "sops")
}

/// Prints an error and returns its exit code.
///
/// Started as `enseal`, the message names the file and a `hint:` line
/// follows where there is something to do. Started as `sops`, scripts and
/// test suites may compare stderr with sops' own text: the message is
/// sops' (no file name in front), and hints are shown only on a terminal.
fn report(err: &Error, as_sops: bool) -> i32 {
    report_full(err, as_sops, as_sops)
}

/// [`report`], with sops' full text of an error enseal tells in its own
/// words when `full` (`--verbose`), file name and hint as `enseal`.
fn report_full(err: &Error, as_sops: bool, full: bool) -> i32 {
    if as_sops {
        eprintln!("{}", err.without_file());
    } else if let (true, Error::Explained { sops_error, .. }) = (full, err) {
        eprintln!("{sops_error}");
    } else {
        eprintln!("{err}");
    }
    if let Some(hint) = err.hint() {
        if !as_sops || io::show_additions() {
            eprintln!("{}", color::hint_line(&hint));
        }
    }
    err.exit_code()
}

/// Runs the resolved command.
fn dispatch(hi: HiArgs) -> Result<()> {
    let config = hi.config.as_deref();
    crate::keys::use_key_services(hi.key_services);
    if hi.verbose {
        crate::keys::trace::observe(|event| io::verbose(event));
    }
    match hi.command {
        Command::Encrypt(args) => encrypt::run(&args, config),
        Command::Decrypt(args) => decrypt::run(&args, config),
        Command::DecryptMany(args) => decrypt_many(&args, config),
        Command::Filestatus { file, input_type } => {
            filestatus::run(&file, input_type.as_deref(), config)
        }
        Command::Edit(args) => edit::run(&args, config),
        Command::Set(args) => modify::run_set(&args, config),
        Command::Unset(args) => modify::run_unset(&args, config),
        Command::ExecEnv(cmd) => exec_env::run(*cmd).map(exit_unless_zero),
        Command::ExecFile(cmd) => exec_file::run(*cmd).map(exit_unless_zero),
        Command::Rotate(args) => rotate::run(&args, config),
        Command::RotateMany(args) => rotate_many(&args, config),
        Command::Updatekeys(args) => updatekeys::run(&args, config),
        Command::UpdatekeysMany(args) => updatekeys_many(&args, config),
        Command::Groups(cmd) => groups::run(&cmd, config),
        Command::Git(cmd) => git::run(cmd, config).map(exit_unless_zero),
        Command::Completion(shell) => completion::run_completion(shell),
        Command::Man(cmd) => man::run(&cmd.command, cmd.out_dir.as_deref()),
        Command::Check(cmd) => check::run(&cmd, config),
        Command::Log(cmd) => log::run(&cmd, config),
        Command::Init(cmd) => init::run(&cmd),
        Command::Keyservice(cmd) => keyservice::run(&cmd),
        Command::Publish(args) => publish::run(&args, config),
    }
}

/// `decrypt` of several files or a tree.
fn decrypt_many(args: &DecryptMany, config: Option<&str>) -> Result<()> {
    bulk::decrypt(&bulk::DecryptOptions {
        files: &args.files,
        recursive: args.recursive,
        output_dir: args.output_dir.as_deref(),
        io: &args.io,
        ignore_mac: args.ignore_mac,
        decryption_order: args.decryption_order.as_deref(),
        config_path: config,
    })
}

/// `rotate` of several files, a tree, or `--dry-run`.
fn rotate_many(args: &RotateMany, config: Option<&str>) -> Result<()> {
    bulk::rotate(&bulk::RotateOptions {
        files: &args.files,
        recursive: args.recursive,
        dry_run: args.dry_run,
        io: &args.io,
        change: &args.change,
        kms: settings::KmsOptions {
            context: args.encryption_context.as_deref(),
            aws_profile: None,
        },
        decryption_order: args.decryption_order.as_deref(),
        config_path: config,
    })
}

/// `updatekeys` over a tree or `--dry-run`.
fn updatekeys_many(args: &Updatekeys, config: Option<&str>) -> Result<()> {
    bulk::updatekeys(&bulk::UpdateOptions {
        files: &args.files,
        recursive: args.recursive,
        dry_run: args.dry_run,
        yes: args.yes,
        input_type: args.input_type.as_deref(),
        decryption_order: args.decryption_order.as_deref(),
        config_path: config,
    })
}

/// Ends enseal with the exit code of a command it ran, when not 0.
fn exit_unless_zero(code: i32) {
    if code != 0 {
        std::process::exit(code);
    }
}

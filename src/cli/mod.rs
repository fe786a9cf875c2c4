//! The command line: sops-compatible subcommands, flags and legacy mode.
//! The only module that touches the terminal.

mod bulk;
mod check;
mod decrypt;
mod edit;
mod encrypt;
mod exec;
mod exec_env;
mod exec_file;
mod filestatus;
mod groups;
// enseal git / completion / man (issue 8)
mod completion;
mod git;
mod io;
mod keyservice;
mod modify;
mod rotate;
mod updatekeys;

use clap::{Args, CommandFactory, Parser, Subcommand};
use std::io::IsTerminal;

use crate::error::{Error, Result};

/// enseal: encrypted files that keep their structure, compatible with sops.
#[derive(Debug, Parser)]
#[command(
    name = "enseal",
    version,
    about,
    args_conflicts_with_subcommands = false
)]
pub struct Cli {
    /// Legacy mode: decrypt FILE.
    #[arg(short = 'd', long = "decrypt")]
    decrypt: bool,
    /// Legacy mode: encrypt FILE.
    #[arg(short = 'e', long = "encrypt")]
    encrypt: bool,
    /// Legacy mode: set one value, 'PATH VALUE' (e.g. '["a"] "b"').
    #[arg(long = "set", value_name = "PATH VALUE")]
    set: Option<String>,
    /// Legacy edit mode: show the metadata in the editor.
    #[arg(short = 's', long)]
    show_master_keys: bool,
    /// Legacy mode: rotate the data key of FILE.
    #[arg(short = 'r', long = "rotate")]
    rotate: bool,
    /// The .sops.yaml to use instead of searching for one from the working
    /// directory up (accepted before or after the subcommand).
    #[arg(
        long,
        env = "SOPS_CONFIG",
        value_name = "PATH",
        global = true,
        hide_env_values = true
    )]
    config: Option<String>,
    #[command(flatten)]
    io: IoArgs,
    #[command(flatten)]
    keys: KeyArgs,
    #[command(flatten)]
    rules: RuleArgs,
    #[command(flatten)]
    reading: ReadArgs,
    #[command(flatten)]
    ignored: IgnoredGlobalArgs,
    #[command(flatten)]
    change_keys: rotate::ChangeKeyArgs,
    #[command(flatten)]
    key_services: keyservice::KeyServiceArgs,
    #[command(subcommand)]
    command: Option<Command>,
    /// The file (legacy mode).
    #[arg(value_name = "FILE")]
    file: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Encrypt a file (standard input with `-` or no file).
    Encrypt(Box<EncryptCmd>),
    /// Decrypt a file (standard input with `-` or no file).
    Decrypt(Box<DecryptCmd>),
    /// Print whether a file is encrypted: {"encrypted":true|false}.
    Filestatus(FilestatusCmd),
    /// Edit an encrypted file in $SOPS_EDITOR / $EDITOR (creates new files).
    Edit(Box<EditCmd>),
    /// Set one value: FILE INDEX VALUE (VALUE is JSON).
    Set(SetCmd),
    /// Remove one value: FILE INDEX.
    Unset(UnsetCmd),
    /// Run a command with the decrypted values in its environment.
    ExecEnv(ExecEnvCmd),
    /// Run a command with the decrypted file as a FIFO or temporary file.
    ExecFile(ExecFileCmd),
    /// Generate a new data key and re-encrypt every value; add or remove keys.
    Rotate(Box<RotateCmd>),
    /// Update the keys of files to match their creation rule in .sops.yaml.
    Updatekeys(Box<UpdatekeysCmd>),
    /// Add or delete key groups.
    Groups {
        #[command(subcommand)]
        command: Box<groups::GroupsCmd>,
    },
    /// Git integration: diff and merge drivers for encrypted files.
    Git(git::GitCmd),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completion(completion::CompletionCmd),
    /// Print the man page (roff) on standard output.
    Man(completion::ManCmd),
    /// Check files against .sops.yaml without any private key (CI, pre-commit).
    Check(check::CheckCmd),
    /// Serve this machine's keys to sops and enseal (--keyservice) over gRPC.
    Keyservice(keyservice::KeyserviceCmd),
}

/// Repository-wide flags of `decrypt`, `rotate` and `updatekeys`.
#[derive(Debug, Args, Clone, Default)]
struct BulkArgs {
    /// Walk the FILE arguments as directory trees (default: the directory of
    /// .sops.yaml) and take every encrypted file a creation rule covers.
    #[arg(short = 'r', long = "recursive", visible_alias = "all")]
    recursive: bool,
}

/// Type and decryption flags of the commands that change a file in place.
#[derive(Debug, Args, Clone, Default)]
struct ChangeArgs {
    /// Input type: yaml, json, dotenv, ini, binary (default: from the extension).
    #[arg(long, value_name = "TYPE")]
    input_type: Option<String>,
    /// Output type: yaml, json, dotenv, ini, binary (default: from the extension).
    #[arg(long, value_name = "TYPE")]
    output_type: Option<String>,
    /// Do not verify the MAC.
    #[arg(long)]
    ignore_mac: bool,
    /// Key types in the order to try them (comma-separated).
    #[arg(long, env = "SOPS_DECRYPTION_ORDER", value_name = "TYPES")]
    decryption_order: Option<String>,
}

impl ChangeArgs {
    fn open(&self, indent: Option<i64>) -> modify::OpenArgs {
        modify::OpenArgs {
            input_type: self.input_type.clone(),
            output_type: self.output_type.clone(),
            indent,
            ignore_mac: self.ignore_mac,
            decryption_order: self.decryption_order.clone(),
        }
    }
}

#[derive(Debug, Args)]
struct EditCmd {
    #[command(flatten)]
    change: ChangeArgs,
    #[command(flatten)]
    keys: KeyArgs,
    #[command(flatten)]
    rules: RuleArgs,
    /// Show the metadata in the editor (changes to it are ignored).
    #[arg(short = 's', long)]
    show_master_keys: bool,
    /// Edit the file in its own layout and keep it (a file written with
    /// `encrypt --preserve-format`).
    #[arg(long, conflicts_with = "show_master_keys")]
    preserve_format: bool,
    /// The file to edit (created when missing).
    #[arg(value_name = "FILE")]
    file: Option<String>,
}

#[derive(Debug, Args)]
struct SetCmd {
    #[command(flatten)]
    change: ChangeArgs,
    /// VALUE is a file whose content is the value.
    #[arg(long)]
    value_file: bool,
    /// Read the value from standard input (then only FILE INDEX are given).
    #[arg(long)]
    value_stdin: bool,
    /// Accepted for compatibility (unused).
    #[arg(long, value_name = "N", hide = true)]
    shamir_secret_sharing_threshold: Option<usize>,
    /// Do nothing (exit 0) when the value is already set; without it the
    /// file is written anyway (new lastmodified and MAC), as in sops 3.13.
    #[arg(long)]
    idempotent: bool,
    /// FILE INDEX VALUE.
    #[arg(value_name = "ARGS", allow_hyphen_values = true)]
    args: Vec<String>,
}

#[derive(Debug, Args)]
struct UnsetCmd {
    #[command(flatten)]
    change: ChangeArgs,
    /// Accepted for compatibility (unused).
    #[arg(long, value_name = "N", hide = true)]
    shamir_secret_sharing_threshold: Option<usize>,
    /// Exit 0 without writing when the key or index does not exist.
    #[arg(long)]
    idempotent: bool,
    /// FILE INDEX.
    #[arg(value_name = "ARGS")]
    args: Vec<String>,
}

#[derive(Debug, Args)]
struct RotateCmd {
    #[command(flatten)]
    io: IoArgs,
    #[command(flatten)]
    change_keys: rotate::ChangeKeyArgs,
    /// Key types in the order to try them (comma-separated).
    #[arg(long, env = "SOPS_DECRYPTION_ORDER", value_name = "TYPES")]
    decryption_order: Option<String>,
    /// AWS KMS encryption context for the --add-kms keys: `k1:v1,k2:v2`.
    #[arg(long, value_name = "CONTEXT")]
    encryption_context: Option<String>,
    #[command(flatten)]
    bulk: BulkArgs,
    /// Check that every file could be rotated (its data key can be
    /// recovered) and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Keep the file's layout (a file written with `encrypt --preserve-format`).
    #[arg(long)]
    preserve_format: bool,
    /// The file(s) to rotate; several files (or -r) are rotated in place.
    #[arg(value_name = "FILE")]
    files: Vec<String>,
}

#[derive(Debug, Args)]
struct UpdatekeysCmd {
    /// Apply the changes without asking.
    #[arg(short = 'y', long)]
    yes: bool,
    /// Input type: yaml, json, dotenv, ini, binary (default: from the extension).
    #[arg(long, value_name = "TYPE")]
    input_type: Option<String>,
    /// Key types in the order to try them (comma-separated).
    #[arg(long, env = "SOPS_DECRYPTION_ORDER", value_name = "TYPES")]
    decryption_order: Option<String>,
    #[command(flatten)]
    bulk: BulkArgs,
    /// Show the changes for every file and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// The files to update.
    #[arg(value_name = "FILE")]
    files: Vec<String>,
}

/// `exec-env`: `enseal exec-env FILE 'shell command'` or
/// `enseal exec-env FILE -- program args…` (no shell).
#[derive(Debug, Args)]
#[command(after_help = EXEC_ENV_HELP)]
pub(crate) struct ExecEnvCmd {
    /// Start the command and return at once (deprecated).
    #[arg(long)]
    pub background: bool,
    /// Do not pass enseal's own environment to the command.
    #[arg(long)]
    pub pristine: bool,
    /// Run the command as this user (needs root).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Remove this variable from the inherited environment (repeatable),
    /// e.g. `--unset SOPS_AGE_KEY` so that the command never sees the key.
    #[arg(long, value_name = "NAME")]
    pub unset: Vec<String>,
    /// Replace enseal with the command (exec) instead of running it as a child.
    #[arg(long)]
    pub same_process: bool,
    /// Turn nested mappings and lists into variables: `db: {host: x}` gives
    /// `db_host=x`, list items are numbered (`hosts_0`). `--flatten=SEP`
    /// joins the names with SEP instead of `_`.
    #[arg(long, value_name = "SEP", num_args = 0..=1, require_equals = true, default_missing_value = "_")]
    pub flatten: Option<String>,
    /// Key types in the order to try them (comma-separated).
    #[arg(long, env = "SOPS_DECRYPTION_ORDER", value_name = "TYPES")]
    pub decryption_order: Option<String>,
    /// The encrypted file (its type comes from the extension).
    #[arg(value_name = "FILE")]
    pub file: Option<String>,
    /// The command, run with /bin/sh -c.
    #[arg(value_name = "COMMAND")]
    pub command: Option<std::ffi::OsString>,
    /// The program and its arguments, run without a shell.
    #[arg(last = true, value_name = "PROGRAM")]
    pub argv: Vec<std::ffi::OsString>,
}

const EXEC_ENV_HELP: &str = "\
The top-level values of the (first) document become environment variables;
non-string values are written as text (1.5, true, null -> <nil>). Nested
values are refused unless --flatten is given. The exit status is the
command's (128+N when it died of signal N); every signal that would end
enseal and can be caught (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1,
SIGALRM, ...) and SIGWINCH are forwarded to it.

Examples:
  enseal exec-env secrets.enc.env 'echo $DB_PASSWORD'
  enseal exec-env /run/secrets.enc.env -- node server.js";

/// `exec-file`: `{}` in the command is replaced by the file's path.
#[derive(Debug, Args)]
#[command(after_help = EXEC_FILE_HELP)]
pub(crate) struct ExecFileCmd {
    /// Start the command and return at once (deprecated).
    #[arg(long)]
    pub background: bool,
    /// Use a regular temporary file (mode 0600) instead of a FIFO.
    #[arg(long)]
    pub no_fifo: bool,
    /// Run the command as this user (needs root).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Remove this variable from the command's environment (repeatable).
    #[arg(long, value_name = "NAME")]
    pub unset: Vec<String>,
    /// Input type: yaml, json, dotenv, ini, binary (default: from the extension).
    #[arg(long, value_name = "TYPE")]
    pub input_type: Option<String>,
    /// Output type: yaml, json, dotenv, ini, binary (default: from the extension).
    #[arg(long, value_name = "TYPE")]
    pub output_type: Option<String>,
    /// Name of the FIFO/file inside the private temporary directory.
    #[arg(long, value_name = "NAME")]
    pub filename: Option<String>,
    /// Key types in the order to try them (comma-separated).
    #[arg(long, env = "SOPS_DECRYPTION_ORDER", value_name = "TYPES")]
    pub decryption_order: Option<String>,
    /// The encrypted file.
    #[arg(value_name = "FILE")]
    pub file: Option<String>,
    /// The command, run with /bin/sh -c.
    #[arg(value_name = "COMMAND")]
    pub command: Option<std::ffi::OsString>,
    /// The program and its arguments, run without a shell.
    #[arg(last = true, value_name = "PROGRAM")]
    pub argv: Vec<std::ffi::OsString>,
}

const EXEC_FILE_HELP: &str = "\
The decrypted file is served through a FIFO (readable once) or, with
--no-fifo, a temporary file; both live in a new 0700 directory in
$XDG_RUNTIME_DIR, /dev/shm or the temp directory, removed when the command
ends. Exit status and signals as for exec-env.

Examples:
  enseal exec-file secrets.enc.json 'app --config {}'
  enseal exec-file --no-fifo secrets.enc.yaml -- /app/server --config {}";

#[derive(Debug, Args)]
struct EncryptCmd {
    #[command(flatten)]
    io: IoArgs,
    #[command(flatten)]
    keys: KeyArgs,
    #[command(flatten)]
    rules: RuleArgs,
    /// Keep the file's layout: replace only the values (and comments) in
    /// place, add the metadata (also `stores.<format>.preserve_format: true`).
    #[arg(long)]
    preserve_format: bool,
    /// The file to encrypt.
    #[arg(value_name = "FILE")]
    file: Option<String>,
}

#[derive(Debug, Args)]
struct DecryptCmd {
    #[command(flatten)]
    io: IoArgs,
    #[command(flatten)]
    reading: ReadArgs,
    #[command(flatten)]
    bulk: BulkArgs,
    /// With several files: write each decrypted file to DIR/FILE (in its
    /// own format) instead of one YAML stream on stdout.
    #[arg(long, value_name = "DIR")]
    output_dir: Option<String>,
    /// Keep the file's layout: replace only the `ENC[…]` values (and
    /// comments) in place, remove the metadata.
    #[arg(long)]
    preserve_format: bool,
    /// The file(s) to decrypt.
    #[arg(value_name = "FILE")]
    files: Vec<String>,
}

#[derive(Debug, Args)]
struct FilestatusCmd {
    /// Input type: yaml, json, dotenv, ini, binary.
    #[arg(long)]
    input_type: Option<String>,
    /// The file to check.
    #[arg(value_name = "FILE")]
    file: Option<String>,
}

/// Where input comes from and output goes.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct IoArgs {
    /// Write the result back to the file.
    #[arg(short = 'i', long)]
    pub in_place: bool,
    /// Write the result to this file.
    #[arg(long, value_name = "FILE")]
    pub output: Option<String>,
    /// Input type: yaml, json, dotenv, ini, binary (default: from the extension).
    #[arg(long, value_name = "TYPE")]
    pub input_type: Option<String>,
    /// Output type: yaml, json, dotenv, ini, binary (default: from the extension).
    #[arg(long, value_name = "TYPE")]
    pub output_type: Option<String>,
    /// Use this path for type detection and for matching `.sops.yaml` creation rules.
    #[arg(long, value_name = "PATH")]
    pub filename_override: Option<String>,
    /// Output indentation (YAML default 4; JSON default one tab).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub indent: Option<i64>,
}

/// Master keys for a new file.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct KeyArgs {
    /// Comma-separated age recipients.
    #[arg(
        short = 'a',
        long,
        env = "SOPS_AGE_RECIPIENTS",
        hide_env_values = true,
        value_name = "RECIPIENTS"
    )]
    pub age: Option<String>,
    /// Comma-separated AWS KMS key ARNs, each optionally `ARN+ROLE_ARN`.
    #[arg(
        short = 'k',
        long,
        env = "SOPS_KMS_ARN",
        hide_env_values = true,
        value_name = "ARNS"
    )]
    pub kms: Option<String>,
    /// The AWS profile for the --kms keys.
    #[arg(long, value_name = "PROFILE")]
    pub aws_profile: Option<String>,
    /// AWS KMS encryption context for the --kms keys: `k1:v1,k2:v2`.
    #[arg(long, value_name = "CONTEXT")]
    pub encryption_context: Option<String>,
    /// Comma-separated PGP fingerprints (used through gpg).
    #[arg(
        short = 'p',
        long,
        env = "SOPS_PGP_FP",
        hide_env_values = true,
        value_name = "FPS"
    )]
    pub pgp: Option<String>,
    /// Comma-separated GCP KMS resource ids.
    #[arg(
        long,
        env = "SOPS_GCP_KMS_IDS",
        hide_env_values = true,
        value_name = "IDS"
    )]
    pub gcp_kms: Option<String>,
    /// Comma-separated Azure Key Vault key URLs
    /// (https://VAULT/keys/NAME[/VERSION]).
    #[arg(
        long,
        env = "SOPS_AZURE_KEYVAULT_URLS",
        hide_env_values = true,
        value_name = "URLS"
    )]
    pub azure_kv: Option<String>,
    /// Comma-separated Vault transit key URIs
    /// (https://HOST:8200/v1/ENGINE/keys/NAME).
    #[arg(
        long,
        env = "SOPS_VAULT_URIS",
        hide_env_values = true,
        value_name = "URIS"
    )]
    pub hc_vault_transit: Option<String>,
    /// HuaweiCloud KMS key ids (not supported by enseal).
    #[arg(long, env = "SOPS_HUAWEICLOUD_KMS_IDS", hide_env_values = true)]
    pub hckms: Option<String>,
    /// Shamir threshold for several key groups.
    #[arg(long, value_name = "N")]
    pub shamir_secret_sharing_threshold: Option<usize>,
}

/// Which values are encrypted.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct RuleArgs {
    /// Leave values whose key ends with this suffix in clear.
    #[arg(long, value_name = "SUFFIX")]
    pub unencrypted_suffix: Option<String>,
    /// Encrypt only values whose key ends with this suffix.
    #[arg(long, value_name = "SUFFIX")]
    pub encrypted_suffix: Option<String>,
    /// Leave values whose key matches this regex in clear.
    #[arg(long, value_name = "REGEX")]
    pub unencrypted_regex: Option<String>,
    /// Encrypt only values whose key matches this regex.
    #[arg(long, value_name = "REGEX")]
    pub encrypted_regex: Option<String>,
    /// Leave values preceded by a comment matching this regex in clear.
    #[arg(long, value_name = "REGEX")]
    pub unencrypted_comment_regex: Option<String>,
    /// Encrypt only values preceded by a comment matching this regex.
    #[arg(long, value_name = "REGEX")]
    pub encrypted_comment_regex: Option<String>,
    /// Compute the MAC over encrypted values only.
    #[arg(long)]
    pub mac_only_encrypted: bool,
}

/// Options of decryption.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct ReadArgs {
    /// Output only this part of the tree, e.g. '["db"]["password"]'.
    #[arg(long, value_name = "PATH")]
    pub extract: Option<String>,
    /// Do not verify the MAC.
    #[arg(long)]
    pub ignore_mac: bool,
    /// Key types in the order to try them (comma-separated).
    #[arg(long, env = "SOPS_DECRYPTION_ORDER", value_name = "TYPES")]
    pub decryption_order: Option<String>,
}

/// Global sops flags accepted for compatibility that change nothing here.
#[derive(Debug, Args, Clone, Default)]
struct IgnoredGlobalArgs {
    /// Accepted for compatibility (enseal never queries the network for versions).
    #[arg(long, hide = true)]
    disable_version_check: bool,
    /// Accepted for compatibility.
    #[arg(long, hide = true)]
    verbose: bool,
}

/// Runs the command line and returns the exit code.
pub fn run<I: IntoIterator<Item = std::ffi::OsString>>(args: I) -> i32 {
    let args = normalize_single_dash_flags(args.into_iter().collect());
    let as_sops = invoked_as_sops(args.first());
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    // Decrypted values may be in memory from here on: no core dumps.
    crate::hygiene::protect_process();
    match dispatch(cli) {
        Ok(()) => 0,
        Err(err) => report(&err, as_sops),
    }
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
    if as_sops {
        eprintln!("{}", err.without_file());
    } else {
        eprintln!("{err}");
    }
    if let Some(hint) = err.hint() {
        if !as_sops || std::io::stderr().is_terminal() {
            eprintln!("hint: {hint}");
        }
    }
    err.exit_code()
}

fn dispatch(cli: Cli) -> Result<()> {
    let config = cli.config.as_deref();
    keyservice::apply(&cli.key_services)?;
    match cli.command {
        Some(Command::Encrypt(cmd)) => {
            let io = with_globals(cmd.io, &cli.io);
            let mut rules = cmd.rules;
            rules.mac_only_encrypted |= cli.rules.mac_only_encrypted;
            encrypt::run_preserving(
                cmd.file.as_deref(),
                &io,
                &cmd.keys,
                &rules,
                config,
                cmd.preserve_format,
            )
        }
        Some(Command::Decrypt(cmd)) => {
            let io = with_globals(cmd.io, &cli.io);
            if cmd.bulk.recursive || cmd.files.len() > 1 || cmd.output_dir.is_some() {
                if cmd.reading.extract.is_some() {
                    return Err(Error::ConflictingParameters(
                        "--extract takes one file".into(),
                    ));
                }
                let order = cmd
                    .reading
                    .decryption_order
                    .or(cli.reading.decryption_order);
                return bulk::decrypt(&bulk::DecryptOptions {
                    files: &cmd.files,
                    recursive: cmd.bulk.recursive,
                    output_dir: cmd.output_dir.as_deref(),
                    io: &io,
                    ignore_mac: cmd.reading.ignore_mac,
                    decryption_order: order.as_deref(),
                    config_path: config,
                });
            }
            decrypt::run_preserving(
                cmd.files.first().map(String::as_str),
                &io,
                &cmd.reading,
                config,
                cmd.preserve_format,
            )
        }
        Some(Command::Filestatus(cmd)) => {
            filestatus::run(cmd.file.as_deref(), cmd.input_type.as_deref(), config)
        }
        Some(Command::Edit(cmd)) => {
            let file = cmd.file.as_deref().ok_or(Error::NoFileSpecified)?;
            let mut rules = cmd.rules;
            rules.mac_only_encrypted |= cli.rules.mac_only_encrypted;
            let args = edit::EditArgs {
                open: cmd.change.open(cli.io.indent),
                show_master_keys: cmd.show_master_keys,
                preserve_format: cmd.preserve_format,
            };
            edit::run(file, &args, &cmd.keys, &rules, config)
        }
        Some(Command::Set(cmd)) => {
            let args = modify::SetArgs {
                open: cmd.change.open(cli.io.indent),
                value_file: cmd.value_file,
                value_stdin: cmd.value_stdin,
                idempotent: cmd.idempotent,
            };
            modify::run_set(&cmd.args, &args, config)
        }
        Some(Command::Unset(cmd)) => modify::run_unset(
            &cmd.args,
            &cmd.change.open(cli.io.indent),
            cmd.idempotent,
            config,
        ),
        Some(Command::ExecEnv(cmd)) => exec_env::run(cmd).map(exit_unless_zero),
        Some(Command::ExecFile(cmd)) => exec_file::run(cmd).map(exit_unless_zero),
        Some(Command::Rotate(cmd)) => {
            let io = with_globals(cmd.io, &cli.io);
            let order = cmd.decryption_order.or(cli.reading.decryption_order);
            let kms = rotate::KmsOptions {
                context: cmd.encryption_context.as_deref(),
                aws_profile: None,
            };
            if cmd.bulk.recursive || cmd.files.len() > 1 || cmd.dry_run {
                return bulk::rotate(&bulk::RotateOptions {
                    files: &cmd.files,
                    recursive: cmd.bulk.recursive,
                    dry_run: cmd.dry_run,
                    io: &io,
                    change: &cmd.change_keys,
                    kms,
                    decryption_order: order.as_deref(),
                    config_path: config,
                });
            }
            rotate::run_preserving(
                cmd.files.first().map(String::as_str),
                &io,
                &cmd.change_keys,
                &kms,
                order.as_deref(),
                config,
                cmd.preserve_format,
            )
        }
        Some(Command::Updatekeys(cmd)) => {
            let order = cmd.decryption_order.or(cli.reading.decryption_order);
            if cmd.bulk.recursive || cmd.dry_run {
                return bulk::updatekeys(&bulk::UpdateOptions {
                    files: &cmd.files,
                    recursive: cmd.bulk.recursive,
                    dry_run: cmd.dry_run,
                    yes: cmd.yes,
                    input_type: cmd.input_type.as_deref(),
                    decryption_order: order.as_deref(),
                    config_path: config,
                });
            }
            let options = updatekeys::Options {
                yes: cmd.yes,
                input_type: cmd.input_type.as_deref(),
                decryption_order: order.as_deref(),
                config_path: config,
            };
            updatekeys::run(&cmd.files, &options)
        }
        Some(Command::Groups { command }) => groups::run(&command, config),
        Some(Command::Git(cmd)) => git::run(cmd, config).map(exit_unless_zero),
        Some(Command::Completion(cmd)) => completion::run_completion(&cmd),
        Some(Command::Man(_)) => completion::run_man(),
        Some(Command::Check(cmd)) => check::run(&cmd, config),
        Some(Command::Keyservice(cmd)) => keyservice::run(&cmd),
        None => {
            let file = cli.file.as_deref();
            if file.is_none() && (cli.encrypt || cli.decrypt || cli.rotate) {
                return Err(Error::NoFileSpecified);
            }
            if cli.rotate && !cli.encrypt && !cli.decrypt {
                let order = cli.reading.decryption_order.as_deref();
                let kms = rotate::KmsOptions {
                    context: cli.keys.encryption_context.as_deref(),
                    aws_profile: cli.keys.aws_profile.as_deref(),
                };
                return rotate::run(file, &cli.io, &cli.change_keys, &kms, order, config);
            }
            match (cli.encrypt, cli.decrypt) {
                (true, false) => encrypt::run(file, &cli.io, &cli.keys, &cli.rules, config),
                (false, true) => decrypt::run(file, &cli.io, &cli.reading, config),
                (true, true) => Err(Error::Usage(
                    "Error: choose one of --encrypt and --decrypt".into(),
                )),
                (false, false) => {
                    let file = file.ok_or(Error::NoFileSpecified)?;
                    let open = modify::OpenArgs {
                        input_type: cli.io.input_type.clone(),
                        output_type: cli.io.output_type.clone(),
                        indent: cli.io.indent,
                        ignore_mac: cli.reading.ignore_mac,
                        decryption_order: cli.reading.decryption_order.clone(),
                    };
                    match cli.set.as_deref() {
                        Some(spec) => modify::run_legacy_set(file, spec, &open, config),
                        None => {
                            let args = edit::EditArgs {
                                open,
                                show_master_keys: cli.show_master_keys,
                                ..Default::default()
                            };
                            edit::run(file, &args, &cli.keys, &cli.rules, config)
                        }
                    }
                }
            }
        }
    }
}

/// Ends enseal with the exit code of a command it ran, when not 0.
fn exit_unless_zero(code: i32) {
    if code != 0 {
        std::process::exit(code);
    }
}

/// Global flags given before the subcommand (`--indent`) apply to it.
fn with_globals(mut io: IoArgs, global: &IoArgs) -> IoArgs {
    io.indent = io.indent.or(global.indent);
    io
}

/// Go's flag package accepts `-name` for `--name`: rewrite single-dash long
/// flags that enseal knows, before the `--` separator.
fn normalize_single_dash_flags(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    // Building the clap command costs about a third of a tiny decrypt: do
    // it only when an argument looks like a single-dash long flag.
    let mut longs: Option<Vec<String>> = None;
    let mut out = Vec::with_capacity(args.len());
    let mut passthrough = false;
    for (i, arg) in args.into_iter().enumerate() {
        let text = arg.to_string_lossy();
        if i == 0 || passthrough || text == "--" {
            passthrough |= text == "--";
            out.push(arg);
            continue;
        }
        let rewritten = text
            .strip_prefix('-')
            .filter(|rest| !rest.starts_with('-'))
            .and_then(|rest| {
                let name = rest.split('=').next().unwrap_or(rest);
                if name.len() <= 1 {
                    return None;
                }
                let longs = longs.get_or_insert_with(long_flag_names);
                longs.iter().any(|l| l == name).then(|| format!("-{text}"))
            });
        out.push(rewritten.map(Into::into).unwrap_or(arg));
    }
    out
}

/// Every long flag name of the command line and its subcommands.
fn long_flag_names() -> Vec<String> {
    let command = Cli::command();
    let mut longs: Vec<String> = command
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_string))
        .collect();
    for sub in command.get_subcommands() {
        longs.extend(
            sub.get_arguments()
                .filter_map(|a| a.get_long().map(str::to_string)),
        );
    }
    longs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_dash_long_flags_are_accepted() {
        let args =
            ["enseal", "-age", "x", "-d", "-output=f", "--", "-age"].map(std::ffi::OsString::from);
        let out: Vec<String> = normalize_single_dash_flags(args.to_vec())
            .into_iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            out,
            ["enseal", "--age", "x", "-d", "--output=f", "--", "-age"]
        );
    }

    #[test]
    fn clap_definition_is_valid() {
        Cli::command().debug_assert();
    }
}

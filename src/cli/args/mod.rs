//! The command line as clap parses it (the "low" arguments): every flag
//! declared once, shared groups flattened into the commands that take them.
//! [`resolve`] turns these into the checked command that runs.

mod examples;
pub(crate) mod resolve;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use super::git::GitCmd;
use crate::format::FormatKind;

/// The help heading of sops' legacy forms (`-d`, `-e`, `-r`, `--set`, `-s`).
const LEGACY: &str = "Legacy forms (sops FILE, sops -d FILE, …)";

/// enseal: encrypted files that keep their structure, compatible with sops.
#[derive(Debug, Parser)]
#[command(
    name = "enseal",
    version,
    about,
    args_conflicts_with_subcommands = false,
    after_help = examples::TOP
)]
pub struct LowArgs {
    /// The .sops.yaml to use instead of searching for one from the working
    /// directory up (accepted before or after the subcommand).
    #[arg(
        long,
        env = "SOPS_CONFIG",
        value_name = "PATH",
        global = true,
        hide_env_values = true
    )]
    pub config: Option<String>,
    #[command(flatten)]
    pub other: OtherGlobalArgs,
    #[command(flatten)]
    pub io: IoArgs,
    #[command(flatten)]
    pub keys: KeyArgs,
    #[command(flatten)]
    pub rules: RuleArgs,
    #[command(flatten)]
    pub reading: ReadArgs,
    #[command(flatten)]
    pub change_keys: ChangeKeyArgs,
    #[command(flatten)]
    pub key_services: KeyServiceArgs,
    /// Legacy mode: decrypt FILE.
    #[arg(short = 'd', long = "decrypt", help_heading = LEGACY)]
    pub decrypt: bool,
    /// Legacy mode: encrypt FILE.
    #[arg(short = 'e', long = "encrypt", help_heading = LEGACY)]
    pub encrypt: bool,
    /// Legacy mode: set one value, 'PATH VALUE' (e.g. '["a"] "b"').
    #[arg(long = "set", value_name = "PATH VALUE", help_heading = LEGACY)]
    pub set: Option<String>,
    /// Legacy edit mode: show the metadata in the editor.
    #[arg(short = 's', long, help_heading = LEGACY)]
    pub show_master_keys: bool,
    /// Legacy mode: rotate the data key of FILE.
    #[arg(short = 'r', long = "rotate", help_heading = LEGACY)]
    pub rotate: bool,
    #[command(subcommand)]
    pub command: Option<LowCommand>,
    /// The file (legacy mode).
    #[arg(value_name = "FILE", help_heading = LEGACY)]
    pub file: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum LowCommand {
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
        command: Box<GroupsCmd>,
    },
    /// Git integration: diff and merge drivers for encrypted files.
    Git(GitCmd),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completion(CompletionCmd),
    /// Print a man page (roff), or write them all with --out-dir.
    Man(ManCmd),
    /// Check files against .sops.yaml without any private key (CI, pre-commit).
    Check(CheckCmd),
    /// When each value of an encrypted file changed, and who changed it, from
    /// git history (no key needed).
    Log(LogCmd),
    /// Set up a repository: age identity, .sops.yaml, git drivers, pre-commit
    /// hook, and encrypt the plaintext secret files found.
    Init(InitCmd),
    /// Serve this machine's keys to sops and enseal (--keyservice) over gRPC.
    Keyservice(KeyserviceCmd),
    /// Publish a file or directory to the destination its .sops.yaml
    /// destination rule names (Vault KV).
    Publish(PublishCmd),
}

/// Repository-wide flags of `decrypt`, `rotate` and `updatekeys`.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct BulkArgs {
    /// Walk the FILE arguments as directory trees (default: the directory of
    /// .sops.yaml) and take every encrypted file a creation rule covers.
    #[arg(short = 'r', long = "recursive", visible_alias = "all")]
    pub recursive: bool,
}

/// Type and decryption flags of the commands that change a file in place.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct ChangeArgs {
    #[command(flatten)]
    pub types: TypeArgs,
    /// Do not verify the MAC.
    #[arg(long)]
    pub ignore_mac: bool,
    #[command(flatten)]
    pub order: OrderArg,
}

#[derive(Debug, Args)]
#[command(after_help = examples::EDIT)]
pub(crate) struct EditCmd {
    #[command(flatten)]
    pub change: ChangeArgs,
    #[command(flatten)]
    pub keys: KeyArgs,
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Show the metadata in the editor (changes to it are ignored).
    #[arg(short = 's', long)]
    pub show_master_keys: bool,
    /// Edit the file in its own layout and keep it (a file written with
    /// `encrypt --preserve-format`).
    #[arg(long, conflicts_with = "show_master_keys")]
    pub preserve_format: bool,
    /// The file to edit (created when missing).
    #[arg(value_name = "FILE")]
    pub file: Option<String>,
}

#[derive(Debug, Args)]
#[command(after_help = examples::SET)]
pub(crate) struct SetCmd {
    #[command(flatten)]
    pub change: ChangeArgs,
    /// VALUE is a file whose content is the value.
    #[arg(long)]
    pub value_file: bool,
    /// Read the value from standard input (then only FILE INDEX are given).
    #[arg(long)]
    pub value_stdin: bool,
    #[command(flatten)]
    pub _unused: UnusedThresholdArg,
    /// Do nothing (exit 0) when the value is already set; without it the
    /// file is written anyway (new lastmodified and MAC), as in sops 3.13.
    #[arg(long)]
    pub idempotent: bool,
    /// Keep the file's layout (a file written with `encrypt --preserve-format`;
    /// also `stores.<format>.preserve_format: true`).
    #[arg(long)]
    pub preserve_format: bool,
    /// FILE INDEX VALUE.
    #[arg(value_name = "ARGS", allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
#[command(after_help = examples::UNSET)]
pub(crate) struct UnsetCmd {
    #[command(flatten)]
    pub change: ChangeArgs,
    #[command(flatten)]
    pub _unused: UnusedThresholdArg,
    /// Exit 0 without writing when the key or index does not exist.
    #[arg(long)]
    pub idempotent: bool,
    /// Keep the file's layout (a file written with `encrypt --preserve-format`;
    /// also `stores.<format>.preserve_format: true`).
    #[arg(long)]
    pub preserve_format: bool,
    /// FILE INDEX.
    #[arg(value_name = "ARGS")]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
#[command(after_help = examples::ROTATE)]
pub(crate) struct RotateCmd {
    #[command(flatten)]
    pub io: IoArgs,
    #[command(flatten)]
    pub change_keys: ChangeKeyArgs,
    #[command(flatten)]
    pub order: OrderArg,
    /// AWS KMS encryption context for the --add-kms keys: `k1:v1,k2:v2`.
    #[arg(long, value_name = "CONTEXT")]
    pub encryption_context: Option<String>,
    #[command(flatten)]
    pub bulk: BulkArgs,
    /// Check that every file could be rotated (its data key can be
    /// recovered) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep the file's layout (a file written with `encrypt --preserve-format`).
    #[arg(long)]
    pub preserve_format: bool,
    /// The file(s) to rotate; several files (or -r) are rotated in place.
    #[arg(value_name = "FILE")]
    pub files: Vec<String>,
}

#[derive(Debug, Args)]
#[command(after_help = examples::UPDATEKEYS)]
pub(crate) struct UpdatekeysCmd {
    /// Apply the changes without asking.
    #[arg(short = 'y', long)]
    pub yes: bool,
    #[command(flatten)]
    pub input: InputTypeArg,
    #[command(flatten)]
    pub order: OrderArg,
    #[command(flatten)]
    pub bulk: BulkArgs,
    /// Show the changes for every file and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep the file's layout (a file written with `encrypt --preserve-format`;
    /// also `stores.<format>.preserve_format: true`).
    #[arg(long)]
    pub preserve_format: bool,
    /// The files to update.
    #[arg(value_name = "FILE")]
    pub files: Vec<String>,
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
    #[command(flatten)]
    pub order: OrderArg,
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
    #[command(flatten)]
    pub types: TypeArgs,
    /// Name of the FIFO/file inside the private temporary directory.
    #[arg(long, value_name = "NAME")]
    pub filename: Option<String>,
    #[command(flatten)]
    pub order: OrderArg,
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
#[command(after_help = examples::ENCRYPT)]
pub(crate) struct EncryptCmd {
    #[command(flatten)]
    pub io: IoArgs,
    #[command(flatten)]
    pub keys: KeyArgs,
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Keep the file's layout: replace only the values (and comments) in
    /// place, add the metadata (also `stores.<format>.preserve_format: true`).
    #[arg(long)]
    pub preserve_format: bool,
    /// The file to encrypt.
    #[arg(value_name = "FILE")]
    pub file: Option<String>,
}

#[derive(Debug, Args)]
#[command(after_help = examples::DECRYPT)]
pub(crate) struct DecryptCmd {
    #[command(flatten)]
    pub io: IoArgs,
    #[command(flatten)]
    pub reading: ReadArgs,
    #[command(flatten)]
    pub bulk: BulkArgs,
    /// With several files: write each decrypted file to DIR/FILE (in its
    /// own format) instead of one YAML stream on stdout.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<String>,
    /// Keep the file's layout: replace only the `ENC[…]` values (and
    /// comments) in place, remove the metadata.
    #[arg(long)]
    pub preserve_format: bool,
    /// The file(s) to decrypt.
    #[arg(value_name = "FILE")]
    pub files: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct FilestatusCmd {
    /// Input type: yaml, json, dotenv, ini, binary.
    #[arg(long)]
    pub input_type: Option<String>,
    /// The file to check.
    #[arg(value_name = "FILE")]
    pub file: Option<String>,
}

/// Where input comes from and output goes.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Input and output")]
pub(crate) struct IoArgs {
    /// Write the result back to the file.
    #[arg(short = 'i', long)]
    pub in_place: bool,
    /// Write the result to this file.
    #[arg(long, value_name = "FILE")]
    pub output: Option<String>,
    #[command(flatten)]
    pub types: TypeArgs,
    /// Use this path for type detection and for matching `.sops.yaml` creation rules.
    #[arg(long, value_name = "PATH")]
    pub filename_override: Option<String>,
    /// Output indentation (YAML default 4; JSON default one tab).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub indent: Option<i64>,
}

/// Master keys for a new file.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Keys of a new file")]
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
    /// Comma-separated HuaweiCloud KMS key ids (REGION:KEY-UUID).
    #[arg(
        long,
        env = "SOPS_HUAWEICLOUD_KMS_IDS",
        hide_env_values = true,
        value_name = "IDS"
    )]
    pub hckms: Option<String>,
    /// Shamir threshold for several key groups.
    #[arg(long, value_name = "N")]
    pub shamir_secret_sharing_threshold: Option<usize>,
}

/// Which values are encrypted.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Which values are encrypted")]
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
#[command(next_help_heading = "Decryption")]
pub(crate) struct ReadArgs {
    /// Output only this part of the tree, e.g. '["db"]["password"]'.
    #[arg(long, value_name = "PATH")]
    pub extract: Option<String>,
    /// Do not verify the MAC.
    #[arg(long)]
    pub ignore_mac: bool,
    #[command(flatten)]
    pub order: OrderArg,
}

/// Global sops flags: `--disable-version-check` (accepted, changes nothing)
/// and `--verbose`.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct OtherGlobalArgs {
    /// Accepted for compatibility (enseal never queries the network for versions).
    #[arg(long, hide = true)]
    pub disable_version_check: bool,
    /// Show every key-service attempt (key, where, result, time) and
    /// errors in sops' full words, on standard error.
    #[arg(long)]
    pub verbose: bool,
}

/// `--input-type`.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct InputTypeArg {
    /// Input type: yaml, json, dotenv, ini, binary (default: from the extension).
    #[arg(long, value_name = "TYPE")]
    pub input_type: Option<String>,
}

/// `--input-type` and `--output-type`.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct TypeArgs {
    #[command(flatten)]
    pub input: InputTypeArg,
    /// Output type: yaml, json, dotenv, ini, binary (default: from the extension).
    #[arg(long, value_name = "TYPE")]
    pub output_type: Option<String>,
}

impl TypeArgs {
    /// The same type for input and output (`updatekeys --input-type`).
    pub fn both(input_type: Option<&str>) -> TypeArgs {
        TypeArgs {
            input: InputTypeArg {
                input_type: input_type.map(str::to_string),
            },
            output_type: input_type.map(str::to_string),
        }
    }

    /// `--input-type`.
    pub fn input_type(&self) -> Option<&str> {
        self.input.input_type.as_deref()
    }

    /// The input and output formats: each from its flag, else from the path.
    pub fn kinds(&self, type_path: &str) -> (FormatKind, FormatKind) {
        let from_path = FormatKind::from_path(type_path);
        let pick = |flag: Option<&str>| flag.and_then(FormatKind::from_name).unwrap_or(from_path);
        (
            pick(self.input.input_type.as_deref()),
            pick(self.output_type.as_deref()),
        )
    }
}

/// `--decryption-order` (also `SOPS_DECRYPTION_ORDER`).
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct OrderArg {
    /// Key types in the order to try them (comma-separated).
    #[arg(
        long,
        env = "SOPS_DECRYPTION_ORDER",
        value_name = "TYPES",
        hide_env_values = true
    )]
    pub decryption_order: Option<String>,
}

/// The Shamir threshold flag `set` and `unset` accept and ignore.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct UnusedThresholdArg {
    /// Accepted for compatibility (unused).
    #[arg(long, value_name = "N", hide = true)]
    shamir_secret_sharing_threshold: Option<usize>,
}

/// Keys to add to or remove from a file (`rotate`, legacy `-r`).
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Adding and removing keys")]
pub(crate) struct ChangeKeyArgs {
    /// Comma-separated age recipients to add (to the first key group).
    #[arg(long, value_name = "RECIPIENTS")]
    pub add_age: Option<String>,
    /// Comma-separated age recipients to remove (from every key group).
    #[arg(long, value_name = "RECIPIENTS")]
    pub rm_age: Option<String>,
    /// AWS KMS ARNs to add (to the first key group).
    #[arg(long, value_name = "ARNS")]
    pub add_kms: Option<String>,
    /// AWS KMS ARNs to remove.
    #[arg(long, value_name = "ARNS")]
    pub rm_kms: Option<String>,
    /// GCP KMS resource ids to add (to the first key group).
    #[arg(long, value_name = "IDS")]
    pub add_gcp_kms: Option<String>,
    /// GCP KMS resource ids to remove.
    #[arg(long, value_name = "IDS")]
    pub rm_gcp_kms: Option<String>,
    /// HuaweiCloud KMS key ids (REGION:KEY-UUID) to add (to the first key group).
    #[arg(long, value_name = "IDS")]
    pub add_hckms: Option<String>,
    /// HuaweiCloud KMS key ids to remove.
    #[arg(long, value_name = "IDS")]
    pub rm_hckms: Option<String>,
    /// Azure Key Vault key URLs to add (to the first key group).
    #[arg(long, value_name = "URLS")]
    pub add_azure_kv: Option<String>,
    /// Azure Key Vault key URLs to remove.
    #[arg(long, value_name = "URLS")]
    pub rm_azure_kv: Option<String>,
    /// Vault transit key URIs to add (to the first key group).
    #[arg(long, value_name = "URIS")]
    pub add_hc_vault_transit: Option<String>,
    /// Vault transit key URIs to remove.
    #[arg(long, value_name = "URIS")]
    pub rm_hc_vault_transit: Option<String>,
    /// PGP fingerprints to add (to the first key group).
    #[arg(long, value_name = "FPS")]
    pub add_pgp: Option<String>,
    /// PGP fingerprints to remove.
    #[arg(long, value_name = "FPS")]
    pub rm_pgp: Option<String>,
}

/// `groups add` / `groups delete`.
#[derive(Debug, Subcommand)]
pub(crate) enum GroupsCmd {
    /// Add a key group made of the given keys.
    Add(Box<AddArgs>),
    /// Delete the key group at INDEX (0-based); the file gets a new data key.
    Delete(DeleteArgs),
}

/// Flags of `groups add`.
#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// The encrypted file.
    #[arg(short = 'f', long, value_name = "FILE")]
    pub file: Option<String>,
    /// Write the result back to the file instead of standard output.
    #[arg(short = 'i', long)]
    pub in_place: bool,
    /// The Shamir threshold to record (0: keep the file's).
    #[arg(long, value_name = "N")]
    pub shamir_secret_sharing_threshold: Option<usize>,
    /// age recipients of the new group (repeatable, each may be a comma list).
    #[arg(long, value_name = "RECIPIENTS")]
    pub age: Vec<String>,
    /// PGP fingerprints (repeatable, each may be a comma list).
    #[arg(long)]
    pub pgp: Vec<String>,
    /// AWS KMS ARNs, each optionally `ARN+ROLE_ARN` (repeatable).
    #[arg(long)]
    pub kms: Vec<String>,
    /// AWS profile for the --kms keys.
    #[arg(long)]
    pub aws_profile: Option<String>,
    /// GCP KMS resource ids (repeatable).
    #[arg(long)]
    pub gcp_kms: Vec<String>,
    /// HuaweiCloud KMS key ids, REGION:KEY-UUID (repeatable).
    #[arg(long)]
    pub hckms: Vec<String>,
    /// Azure Key Vault key URLs (repeatable).
    #[arg(long)]
    pub azure_kv: Vec<String>,
    /// Vault transit key URIs (repeatable).
    #[arg(long)]
    pub hc_vault_transit: Vec<String>,
    /// AWS KMS encryption context for the --kms keys: `k1:v1,k2:v2`.
    #[arg(long)]
    pub encryption_context: Option<String>,
    /// Keep the file's layout (a file written with `encrypt --preserve-format`;
    /// also `stores.<format>.preserve_format: true`).
    #[arg(long)]
    pub preserve_format: bool,
    /// Refused: `groups add` takes no positional arguments.
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

/// Flags of `groups delete`.
#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    /// The encrypted file.
    #[arg(short = 'f', long, value_name = "FILE")]
    pub file: Option<String>,
    /// Write the result back to the file instead of standard output.
    #[arg(short = 'i', long)]
    pub in_place: bool,
    /// The Shamir threshold to record (0: keep the file's).
    #[arg(long, value_name = "N")]
    pub shamir_secret_sharing_threshold: Option<usize>,
    /// Keep the file's layout (a file written with `encrypt --preserve-format`;
    /// also `stores.<format>.preserve_format: true`).
    #[arg(long)]
    pub preserve_format: bool,
    /// The 0-based index of the group to delete.
    #[arg(value_name = "INDEX")]
    pub index: Vec<String>,
}

/// The shells `enseal completion` writes scripts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CompletionShell {
    /// Bash.
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
    /// Elvish.
    Elvish,
    /// PowerShell.
    Powershell,
}

/// `enseal completion`.
#[derive(Debug, Args)]
#[command(after_help = COMPLETION_HELP)]
pub(crate) struct CompletionCmd {
    /// The shell to write the completion script for.
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

const COMPLETION_HELP: &str = "\
Examples:
  enseal completion bash > ~/.local/share/bash-completion/completions/enseal
  enseal completion zsh > \"${fpath[1]}/_enseal\"
  enseal completion fish > ~/.config/fish/completions/enseal.fish";

/// `enseal man`.
#[derive(Debug, Args)]
#[command(after_help = examples::MAN)]
pub(crate) struct ManCmd {
    /// The command whose page to print (e.g. `encrypt`, `groups add`);
    /// none: enseal(1).
    #[arg(value_name = "COMMAND")]
    pub command: Vec<String>,
    /// Write every page (enseal.1, enseal-encrypt.1, …) into this directory
    /// instead.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub out_dir: Option<std::path::PathBuf>,
}

/// Output formats of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum OutputFormat {
    /// One line per finding: `path:line: kind: message` (check); a value's
    /// changes, newest first (log).
    #[default]
    Human,
    /// One JSON document (schemas in docs/repository.md, docs/audit.md).
    Json,
}

/// `enseal check`.
#[derive(Debug, Args)]
#[command(after_help = CHECK_HELP)]
pub(crate) struct CheckCmd {
    /// Also scan files that no creation rule (with a path_regex) covers for
    /// likely secrets (private keys, cloud and service tokens, passwords in
    /// connection strings, password-like or random password/secret/token
    /// values; see docs/scanner.md).
    #[arg(long)]
    pub scan: bool,
    /// Report encrypted values older than their limit in .sops.yaml's
    /// `rotation:` (from git history; on by default when rules exist).
    /// Without rules, an error.
    #[arg(long)]
    pub rotation: bool,
    /// With --scan: also scan every file version in the git history of the
    /// repository (all branches and tags), so a secret committed and later
    /// removed is found. Findings are named COMMIT:PATH.
    #[arg(long, requires = "scan")]
    pub history: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
    /// Files and directories to check (default: the directory of .sops.yaml,
    /// else the working directory). Directories are walked, skipping .git,
    /// target, node_modules and .gitignore'd paths.
    #[arg(value_name = "PATHS")]
    pub paths: Vec<String>,
}

/// `enseal log`.
#[derive(Debug, Args)]
#[command(after_help = examples::LOG)]
pub(crate) struct LogCmd {
    /// Walk the FILE arguments as directory trees (default: the directory of
    /// .sops.yaml) and take every encrypted file a creation rule covers.
    #[arg(short = 'r', long = "recursive")]
    pub recursive: bool,
    /// Also show each change's old and new values: every version in the
    /// history is decrypted in memory (needs a key; nothing is written).
    #[arg(long)]
    pub decrypt: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
    /// The file (with -r: files and directories), then optionally an index
    /// path (`["db"]["password"]`): only the values at or below it.
    #[arg(value_name = "FILE [KEYPATH]")]
    pub args: Vec<String>,
}

/// `enseal init`.
#[derive(Debug, Args)]
#[command(after_help = INIT_HELP)]
pub(crate) struct InitCmd {
    /// Show what would be done; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Apply the plan without asking.
    #[arg(short = 'y', long)]
    pub yes: bool,
}

const INIT_HELP: &str = "\
Examples:
  enseal init --dry-run     show the plan
  enseal init               show the plan, ask once, apply it
  enseal init --yes         apply without asking (CI, scripts)";

const CHECK_HELP: &str = "\
Findings (kind names are stable):
  unencrypted      a file a creation rule with a path_regex covers is not encrypted
  plaintext-value  a value the file's encryption rule says is encrypted is plaintext
  key-drift        the file's master keys differ from its creation rule
  metadata         invalid sops metadata or a missing MAC
  secret           a likely secret in a plaintext file (--scan)
  unreadable       a file could not be read
  config           .sops.yaml holds a key sops ignores (a misspelling, mostly)
  rotation         an encrypted value is older than its rotation: limit (git history)
  rotation-unknown values have a rotation: limit but no known history (no git,
                   a shallow clone, a file never committed)

A missing .sops.yaml, or one without creation_rules, is an error: nothing
would say which files must be encrypted. The last line (on stderr) sums up:
`12 files checked, no findings`.

No private key is needed or used. A line containing `enseal:allow` is
never reported by --scan.

Exit status: 0 no findings, 10 findings, 1 usage or config error.";

/// Go's flag package accepts `-name` for `--name`: rewrite single-dash long
/// flags that enseal knows, before the `--` separator.
pub(crate) fn normalize_single_dash_flags(
    args: Vec<std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
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
    let command = LowArgs::command();
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
    fn booleans_parse_as_go_does() {
        for yes in ["1", "t", "T", "true", "TRUE", "True"] {
            assert_eq!(parse_go_bool(yes), Ok(true));
        }
        for no in ["0", "f", "F", "false", "FALSE", "False"] {
            assert_eq!(parse_go_bool(no), Ok(false));
        }
        assert!(parse_go_bool("yes").is_err());
    }

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
        LowArgs::command().debug_assert();
    }

    #[test]
    fn decryption_order_is_declared_once() {
        // Every command that takes it gets the same flag (and variable).
        let command = LowArgs::command();
        let mut seen = 0;
        for sub in std::iter::once(&command).chain(command.get_subcommands()) {
            if let Some(arg) = sub
                .get_arguments()
                .find(|a| a.get_long() == Some("decryption-order"))
            {
                assert_eq!(
                    arg.get_env(),
                    Some(std::ffi::OsStr::new("SOPS_DECRYPTION_ORDER"))
                );
                seen += 1;
            }
        }
        assert_eq!(
            seen, 10,
            "top level, decrypt, edit, set, unset, rotate, updatekeys, exec-env, exec-file, publish"
        );
    }
}

/// `enseal publish`.
#[derive(Debug, Args)]
pub(crate) struct PublishCmd {
    /// Publish without asking (required when standard input is not a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Leave the file extension out of the destination name.
    #[arg(long)]
    pub omit_extensions: bool,
    /// Publish every file of a directory, named by its path relative to it.
    #[arg(long)]
    pub recursive: bool,
    /// Accepted for compatibility.
    #[arg(long, hide = true)]
    pub verbose: bool,
    #[command(flatten)]
    pub order: OrderArg,
    /// The file (or, with --recursive, the directory) to publish.
    #[arg(value_name = "FILE")]
    pub file: Option<String>,
}

/// `enseal keyservice`.
#[derive(Debug, Args)]
#[command(after_help = KEYSERVICE_HELP)]
pub(crate) struct KeyserviceCmd {
    /// Network to listen on: unix or tcp (sops' default is tcp).
    #[arg(
        long,
        visible_alias = "net",
        value_name = "NETWORK",
        default_value = "unix"
    )]
    pub network: String,
    /// Address to listen on: a socket path for unix (default
    /// $XDG_RUNTIME_DIR/sops-keyservice.sock, else ./sops-keyservice.sock),
    /// host:port for tcp (default 127.0.0.1:5000).
    #[arg(long, visible_alias = "addr", value_name = "ADDRESS")]
    pub address: Option<String>,
    /// Listen on a tcp address that is not loopback (anyone who can reach
    /// it can then use this machine's keys).
    #[arg(long)]
    pub allow_remote: bool,
    /// Log every request (operation, key, result) on standard error.
    #[arg(long)]
    pub verbose: bool,
}

const KEYSERVICE_HELP: &str = "\
The unix socket is created mode 0600 and only processes of the same user are
served. Use it from sops or enseal with --keyservice unix:///path/to/socket.";

/// The global key service flags (sops' names and variables).
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Key services")]
pub(crate) struct KeyServiceArgs {
    /// A key service to use in addition to the local one:
    /// unix:///path/to/socket or tcp://host:port (repeatable; the variable
    /// takes a comma-separated list).
    #[arg(
        long = "keyservice",
        value_name = "URI",
        env = "SOPS_KEYSERVICE",
        hide_env_values = true,
        value_delimiter = ',',
        global = true
    )]
    pub keyservice: Vec<String>,
    /// Use this machine's keys as well as the --keyservice services
    /// (default true; --enable-local-keyservice=false uses only those).
    #[arg(
        long,
        value_name = "BOOL",
        env = "SOPS_ENABLE_LOCAL_KEYSERVICE",
        hide_env_values = true,
        global = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = parse_go_bool
    )]
    pub enable_local_keyservice: Option<bool>,
}

/// A boolean as Go's strconv.ParseBool reads it (sops' flags and variables).
fn parse_go_bool(text: &str) -> std::result::Result<bool, String> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        other => Err(format!("invalid boolean value {other:?}")),
    }
}

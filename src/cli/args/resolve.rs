//! From the clap arguments ([`LowArgs`]) to the checked command that runs
//! ([`HiArgs`]), before anything runs: global flags merged into the
//! subcommand's in one place, the legacy forms (`-d`, `-e`, `-r`, `--set`,
//! a bare `enseal FILE` = edit) mapped onto the same commands as the
//! subcommands, one file or many decided, positional arguments checked.

use super::{
    ChangeKeyArgs, CheckCmd, CompletionShell, DecryptCmd, EditCmd, EncryptCmd, ExecEnvCmd,
    ExecFileCmd, GitCmd, GroupsCmd, InitCmd, IoArgs, KeyArgs, KeyServiceArgs, KeyserviceCmd,
    LogCmd, LowArgs, LowCommand, ManCmd, OrderArg, PublishCmd, ReadArgs, RotateCmd, RuleArgs,
    SetCmd, TypeArgs, UnsetCmd, UpdatekeysCmd,
};
use crate::error::{exit, Error, Result};
use crate::keys::service::Address;
use crate::keys::KeyServices;
use crate::tree_path::{self, Component};

/// The command line, resolved.
#[derive(Debug)]
pub(crate) struct HiArgs {
    /// `--config` / `SOPS_CONFIG`.
    pub config: Option<String>,
    /// The key services every master key uses (`--keyservice`,
    /// `--enable-local-keyservice`).
    pub key_services: KeyServices,
    /// `--verbose` (global, or `publish`'s own): every key-service attempt
    /// on standard error.
    pub verbose: bool,
    /// What to do.
    pub command: Command,
}

/// A resolved command: every flag it uses, globals merged in.
#[derive(Debug)]
pub(crate) enum Command {
    /// `encrypt`, legacy `-e`.
    Encrypt(Encrypt),
    /// `decrypt` of one file, legacy `-d`.
    Decrypt(Decrypt),
    /// `decrypt` of several files or a tree (`-r`, `--output-dir`).
    DecryptMany(DecryptMany),
    /// `filestatus FILE`.
    Filestatus {
        file: String,
        input_type: Option<String>,
    },
    /// `edit`, legacy bare `enseal FILE`.
    Edit(Edit),
    /// `set`, legacy `--set`.
    Set(Set),
    /// `unset`.
    Unset(Unset),
    /// `exec-env`.
    ExecEnv(Box<ExecEnvCmd>),
    /// `exec-file`.
    ExecFile(Box<ExecFileCmd>),
    /// `rotate` of one file, legacy `-r`.
    Rotate(Rotate),
    /// `rotate` of several files or a tree, or `--dry-run`.
    RotateMany(RotateMany),
    /// `updatekeys` file by file.
    Updatekeys(Updatekeys),
    /// `updatekeys` over a tree or `--dry-run`.
    UpdatekeysMany(Updatekeys),
    /// `groups add|delete`.
    Groups(Box<GroupsCmd>),
    /// `git …`.
    Git(GitCmd),
    /// `completion SHELL`.
    Completion(CompletionShell),
    /// `man`.
    Man(ManCmd),
    /// `check`.
    Check(CheckCmd),
    /// `log`.
    Log(LogCmd),
    /// `init`.
    Init(InitCmd),
    /// `keyservice`.
    Keyservice(KeyserviceCmd),
    /// `publish FILE|DIR`.
    Publish(Publish),
}

/// `publish FILE|DIR`.
#[derive(Debug)]
pub(crate) struct Publish {
    /// The file or directory.
    pub file: String,
    /// `--yes`.
    pub yes: bool,
    /// `--omit-extensions`.
    pub omit_extensions: bool,
    /// `--recursive`.
    pub recursive: bool,
    /// `--decryption-order` / `SOPS_DECRYPTION_ORDER` (or the global flag).
    pub decryption_order: Option<String>,
}

/// `encrypt FILE`.
#[derive(Debug)]
pub(crate) struct Encrypt {
    pub file: Option<String>,
    pub io: IoArgs,
    pub keys: KeyArgs,
    pub rules: RuleArgs,
    pub preserve_format: bool,
}

/// `decrypt FILE`.
#[derive(Debug)]
pub(crate) struct Decrypt {
    pub file: Option<String>,
    pub io: IoArgs,
    pub reading: ReadArgs,
    pub preserve_format: bool,
}

/// `decrypt FILE…` / `decrypt -r`.
#[derive(Debug)]
pub(crate) struct DecryptMany {
    pub files: Vec<String>,
    pub recursive: bool,
    pub output_dir: Option<String>,
    pub io: IoArgs,
    pub ignore_mac: bool,
    pub decryption_order: Option<String>,
}

/// Type and decryption flags of a command that changes a file in place.
#[derive(Debug, Clone, Default)]
pub(crate) struct OpenArgs {
    /// `--input-type` / `--output-type`.
    pub types: TypeArgs,
    /// `--indent`.
    pub indent: Option<i64>,
    /// `--ignore-mac`.
    pub ignore_mac: bool,
    /// `--decryption-order`.
    pub decryption_order: Option<String>,
    /// `--preserve-format`: keep the file's layout.
    pub preserve_format: bool,
}

impl OpenArgs {
    /// The type and indent flags as input/output flags.
    pub fn io(&self) -> IoArgs {
        IoArgs {
            types: self.types.clone(),
            indent: self.indent,
            ..Default::default()
        }
    }
}

/// `edit FILE`.
#[derive(Debug)]
pub(crate) struct Edit {
    pub file: String,
    pub open: OpenArgs,
    pub show_master_keys: bool,
    /// `--preserve-format`: edit the file's own layout and keep it.
    pub preserve_format: bool,
    /// Keys and rules of a new file.
    pub keys: KeyArgs,
    pub rules: RuleArgs,
}

/// Where the value of `set` comes from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SetValue {
    /// The JSON text itself.
    Inline(String),
    /// `--value-file`: a file holding it.
    File(String),
    /// `--value-stdin`.
    Stdin,
}

/// `set FILE INDEX VALUE`.
#[derive(Debug)]
pub(crate) struct Set {
    pub file: String,
    pub path: Vec<Component>,
    pub value: SetValue,
    pub open: OpenArgs,
    /// Leave the file untouched when the value is already there (without
    /// it the file is written anyway, as sops 3.13 does).
    pub idempotent: bool,
}

/// `unset FILE INDEX`.
#[derive(Debug)]
pub(crate) struct Unset {
    pub file: String,
    pub path: Vec<Component>,
    pub open: OpenArgs,
    /// Exit 0 without writing when the key or index does not exist.
    pub idempotent: bool,
}

/// `rotate FILE`.
#[derive(Debug)]
pub(crate) struct Rotate {
    pub file: Option<String>,
    pub io: IoArgs,
    pub change: ChangeKeyArgs,
    /// `--encryption-context` of `--add-kms` keys.
    pub encryption_context: Option<String>,
    /// `--aws-profile` of `--add-kms` keys (legacy mode only).
    pub aws_profile: Option<String>,
    pub decryption_order: Option<String>,
    pub preserve_format: bool,
}

/// `rotate FILE…` / `rotate -r` / `rotate --dry-run`.
#[derive(Debug)]
pub(crate) struct RotateMany {
    pub files: Vec<String>,
    pub recursive: bool,
    pub dry_run: bool,
    pub io: IoArgs,
    pub change: ChangeKeyArgs,
    pub encryption_context: Option<String>,
    pub decryption_order: Option<String>,
}

/// `updatekeys FILE…`.
#[derive(Debug)]
pub(crate) struct Updatekeys {
    pub files: Vec<String>,
    pub recursive: bool,
    pub dry_run: bool,
    pub yes: bool,
    pub input_type: Option<String>,
    pub decryption_order: Option<String>,
    pub preserve_format: bool,
}

/// The flags given before the subcommand that apply to it when it does not
/// set them itself.
struct Globals {
    indent: Option<i64>,
    decryption_order: Option<String>,
    mac_only_encrypted: bool,
}

impl Globals {
    fn io(&self, mut io: IoArgs) -> IoArgs {
        io.indent = io.indent.or(self.indent);
        io
    }

    fn order(&self, order: OrderArg) -> Option<String> {
        order.decryption_order.or(self.decryption_order.clone())
    }

    fn rules(&self, mut rules: RuleArgs) -> RuleArgs {
        rules.mac_only_encrypted |= self.mac_only_encrypted;
        rules
    }

    fn open(&self, change: super::ChangeArgs) -> OpenArgs {
        OpenArgs {
            types: change.types,
            indent: self.indent,
            ignore_mac: change.ignore_mac,
            decryption_order: self.order(change.order),
            preserve_format: false,
        }
    }
}

impl HiArgs {
    /// Checks and resolves the parsed command line.
    pub fn from_low(low: LowArgs) -> Result<HiArgs> {
        let globals = Globals {
            indent: low.io.indent,
            decryption_order: low.reading.order.decryption_order.clone(),
            mac_only_encrypted: low.rules.mac_only_encrypted,
        };
        let config = low.config.clone();
        let key_services = key_services(&low.key_services)?;
        let verbose = low.other.verbose
            || matches!(&low.command, Some(LowCommand::Publish(cmd)) if cmd.verbose);
        let command = match low.command {
            Some(command) => subcommand(command, &globals)?,
            None => legacy(low)?,
        };
        Ok(HiArgs {
            config,
            key_services,
            verbose,
            command,
        })
    }
}

/// The key services the flags select: the local keys unless
/// `--enable-local-keyservice=false`, then each `--keyservice` in order.
fn key_services(args: &KeyServiceArgs) -> Result<KeyServices> {
    let remote = args
        .keyservice
        .iter()
        .map(|uri| Address::parse_uri(uri.trim()))
        .collect::<std::result::Result<Vec<_>, String>>()
        .map_err(Error::Usage)?;
    Ok(KeyServices {
        local: args.enable_local_keyservice.unwrap_or(true),
        remote,
    })
}

fn subcommand(command: LowCommand, globals: &Globals) -> Result<Command> {
    Ok(match command {
        LowCommand::Encrypt(cmd) => encrypt(*cmd, globals),
        LowCommand::Decrypt(cmd) => decrypt(*cmd, globals)?,
        LowCommand::Filestatus(cmd) => Command::Filestatus {
            file: cmd.file.ok_or(Error::NoFileSpecified)?,
            input_type: cmd.input_type,
        },
        LowCommand::Edit(cmd) => edit(*cmd, globals)?,
        LowCommand::Set(cmd) => set(cmd, globals)?,
        LowCommand::Unset(cmd) => unset(cmd, globals)?,
        LowCommand::ExecEnv(mut cmd) => {
            cmd.order.decryption_order = globals.order(cmd.order.clone());
            Command::ExecEnv(Box::new(cmd))
        }
        LowCommand::ExecFile(mut cmd) => {
            cmd.order.decryption_order = globals.order(cmd.order.clone());
            Command::ExecFile(Box::new(cmd))
        }
        LowCommand::Rotate(cmd) => rotate(*cmd, globals),
        LowCommand::Updatekeys(cmd) => updatekeys(*cmd, globals),
        LowCommand::Groups { command } => Command::Groups(command),
        LowCommand::Git(cmd) => Command::Git(cmd),
        LowCommand::Completion(cmd) => Command::Completion(cmd.shell),
        LowCommand::Man(cmd) => Command::Man(cmd),
        LowCommand::Check(cmd) => Command::Check(cmd),
        LowCommand::Log(cmd) => Command::Log(cmd),
        LowCommand::Init(cmd) => Command::Init(cmd),
        LowCommand::Keyservice(cmd) => Command::Keyservice(cmd),
        LowCommand::Publish(cmd) => publish(cmd, globals)?,
    })
}

fn publish(cmd: PublishCmd, globals: &Globals) -> Result<Command> {
    Ok(Command::Publish(Publish {
        file: cmd.file.ok_or(Error::NoFileSpecified)?,
        yes: cmd.yes,
        omit_extensions: cmd.omit_extensions,
        recursive: cmd.recursive,
        decryption_order: globals.order(cmd.order),
    }))
}

fn encrypt(cmd: EncryptCmd, globals: &Globals) -> Command {
    Command::Encrypt(Encrypt {
        file: cmd.file,
        io: globals.io(cmd.io),
        keys: cmd.keys,
        rules: globals.rules(cmd.rules),
        preserve_format: cmd.preserve_format,
    })
}

fn decrypt(cmd: DecryptCmd, globals: &Globals) -> Result<Command> {
    let io = globals.io(cmd.io);
    let mut reading = cmd.reading;
    reading.order.decryption_order = globals.order(reading.order.clone());
    if cmd.bulk.recursive || cmd.files.len() > 1 || cmd.output_dir.is_some() {
        if reading.extract.is_some() {
            return Err(Error::ConflictingParameters(
                "--extract takes one file".into(),
            ));
        }
        return Ok(Command::DecryptMany(DecryptMany {
            files: cmd.files,
            recursive: cmd.bulk.recursive,
            output_dir: cmd.output_dir,
            io,
            ignore_mac: reading.ignore_mac,
            decryption_order: reading.order.decryption_order,
        }));
    }
    Ok(Command::Decrypt(Decrypt {
        file: cmd.files.into_iter().next(),
        io,
        reading,
        preserve_format: cmd.preserve_format,
    }))
}

fn edit(cmd: EditCmd, globals: &Globals) -> Result<Command> {
    Ok(Command::Edit(Edit {
        file: cmd.file.ok_or(Error::NoFileSpecified)?,
        open: globals.open(cmd.change),
        show_master_keys: cmd.show_master_keys,
        preserve_format: cmd.preserve_format,
        keys: cmd.keys,
        rules: globals.rules(cmd.rules),
    }))
}

fn set(cmd: SetCmd, globals: &Globals) -> Result<Command> {
    if cmd.value_file && cmd.value_stdin {
        return Err(Error::Usage(
            "Error: cannot use both --value-file and --value-stdin".into(),
        ));
    }
    let want = if cmd.value_stdin { 2 } else { 3 };
    if cmd.args.len() != want {
        return Err(Error::Coded(
            exit::NO_FILE_SPECIFIED,
            if cmd.value_stdin {
                "Error: file specified, or index and value are missing. Need precisely 2 positional arguments since --value-stdin is used."
            } else {
                "Error: no file specified, or index and value are missing. Need precisely 3 positional arguments."
            }
            .into(),
        ));
    }
    let mut args = cmd.args.into_iter();
    let file = args.next().unwrap_or_default();
    let path = parse_index(&args.next().unwrap_or_default(), "set")?;
    let value = match args.next() {
        None => SetValue::Stdin,
        Some(name) if cmd.value_file => SetValue::File(name),
        Some(text) => SetValue::Inline(text),
    };
    Ok(Command::Set(Set {
        file,
        path,
        value,
        open: OpenArgs {
            preserve_format: cmd.preserve_format,
            ..globals.open(cmd.change)
        },
        idempotent: cmd.idempotent,
    }))
}

fn unset(cmd: UnsetCmd, globals: &Globals) -> Result<Command> {
    let [file, index] = <[String; 2]>::try_from(cmd.args).map_err(|_| {
        Error::Coded(
            exit::NO_FILE_SPECIFIED,
            "Error: no file specified, or index is missing".into(),
        )
    })?;
    Ok(Command::Unset(Unset {
        file,
        path: parse_index(&index, "unset")?,
        open: OpenArgs {
            preserve_format: cmd.preserve_format,
            ..globals.open(cmd.change)
        },
        idempotent: cmd.idempotent,
    }))
}

fn rotate(cmd: RotateCmd, globals: &Globals) -> Command {
    let io = globals.io(cmd.io);
    let decryption_order = globals.order(cmd.order);
    if cmd.bulk.recursive || cmd.files.len() > 1 || cmd.dry_run {
        return Command::RotateMany(RotateMany {
            files: cmd.files,
            recursive: cmd.bulk.recursive,
            dry_run: cmd.dry_run,
            io,
            change: cmd.change_keys,
            encryption_context: cmd.encryption_context,
            decryption_order,
        });
    }
    Command::Rotate(Rotate {
        file: cmd.files.into_iter().next(),
        io,
        change: cmd.change_keys,
        encryption_context: cmd.encryption_context,
        aws_profile: None,
        decryption_order,
        preserve_format: cmd.preserve_format,
    })
}

fn updatekeys(cmd: UpdatekeysCmd, globals: &Globals) -> Command {
    let many = cmd.bulk.recursive || cmd.dry_run;
    let args = Updatekeys {
        files: cmd.files,
        recursive: cmd.bulk.recursive,
        dry_run: cmd.dry_run,
        yes: cmd.yes,
        input_type: cmd.input.input_type,
        decryption_order: globals.order(cmd.order),
        preserve_format: cmd.preserve_format,
    };
    if many {
        Command::UpdatekeysMany(args)
    } else {
        Command::Updatekeys(args)
    }
}

/// The legacy forms: `-e`, `-d`, `-r` FILE, `--set 'PATH VALUE'` FILE, and
/// a bare FILE (edit).
fn legacy(low: LowArgs) -> Result<Command> {
    if low.file.is_none() && (low.encrypt || low.decrypt || low.rotate) {
        return Err(Error::NoFileSpecified);
    }
    match (low.encrypt, low.decrypt, low.rotate) {
        (false, false, true) => Ok(Command::Rotate(Rotate {
            file: low.file,
            io: low.io,
            change: low.change_keys,
            encryption_context: low.keys.encryption_context,
            aws_profile: low.keys.aws_profile,
            decryption_order: low.reading.order.decryption_order,
            preserve_format: false,
        })),
        (true, false, _) => Ok(Command::Encrypt(Encrypt {
            file: low.file,
            io: low.io,
            keys: low.keys,
            rules: low.rules,
            preserve_format: false,
        })),
        (false, true, _) => Ok(Command::Decrypt(Decrypt {
            file: low.file,
            io: low.io,
            reading: low.reading,
            preserve_format: false,
        })),
        (true, true, _) => Err(Error::Usage(
            "Error: choose one of --encrypt and --decrypt".into(),
        )),
        (false, false, false) => legacy_change(low),
    }
}

/// `enseal --set 'PATH VALUE' FILE` and a bare `enseal FILE` (edit).
fn legacy_change(low: LowArgs) -> Result<Command> {
    let file = low.file.ok_or(Error::NoFileSpecified)?;
    let open = OpenArgs {
        types: low.io.types,
        indent: low.io.indent,
        ignore_mac: low.reading.ignore_mac,
        decryption_order: low.reading.order.decryption_order,
        preserve_format: false,
    };
    if let Some(spec) = low.set {
        let (path, value) = legacy_set_spec(&spec)?;
        return Ok(Command::Set(Set {
            file,
            path,
            value: SetValue::Inline(value),
            open,
            idempotent: false,
        }));
    }
    Ok(Command::Edit(Edit {
        file,
        open,
        show_master_keys: low.show_master_keys,
        preserve_format: false,
        keys: low.keys,
        rules: low.rules,
    }))
}

/// Legacy `--set 'PATH VALUE'`: the path and the JSON text of the value.
fn legacy_set_spec(spec: &str) -> Result<(Vec<Component>, String)> {
    let Some(at) = spec.find("] ") else {
        return Err(Error::Coded(
            exit::INVALID_SET_FORMAT,
            "Invalid --set format".into(),
        ));
    };
    let path = parse_index(spec[..at + 1].trim_end(), "set")?;
    Ok((path, spec[at + 2..].to_string()))
}

/// The INDEX of `set` / `unset` (`["a"][0]`), non-empty.
fn parse_index(index: &str, what: &str) -> Result<Vec<Component>> {
    let path = tree_path::parse(index).map_err(|e| {
        Error::Coded(
            exit::INVALID_SET_FORMAT,
            format!("Invalid {what} index format: {e}"),
        )
    })?;
    if path.is_empty() {
        return Err(Error::Coded(
            exit::INVALID_SET_FORMAT,
            format!("Invalid {what} index format: the path is empty"),
        ));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_select_the_key_services() {
        let args = KeyServiceArgs {
            keyservice: vec!["unix:///s".into(), " tcp://127.0.0.1:1".into()],
            enable_local_keyservice: Some(false),
        };
        assert_eq!(
            key_services(&args).unwrap(),
            KeyServices {
                local: false,
                remote: vec![
                    Address::Unix("/s".into()),
                    Address::Tcp("127.0.0.1:1".into())
                ],
            }
        );
        assert_eq!(
            key_services(&KeyServiceArgs::default()).unwrap(),
            KeyServices::default()
        );
        let bad = KeyServiceArgs {
            keyservice: vec!["nope".into()],
            enable_local_keyservice: None,
        };
        assert!(key_services(&bad).is_err());
    }

    use clap::Parser;

    fn resolve(args: &[&str]) -> Result<Command> {
        let low = LowArgs::try_parse_from(std::iter::once("enseal").chain(args.iter().copied()))
            .expect("clap accepts the arguments");
        HiArgs::from_low(low).map(|hi| hi.command)
    }

    #[test]
    fn legacy_forms_map_onto_the_subcommands() {
        assert!(
            matches!(resolve(&["-d", "f.yaml"]), Ok(Command::Decrypt(d)) if d.file.as_deref() == Some("f.yaml"))
        );
        assert!(matches!(
            resolve(&["-e", "f.yaml"]),
            Ok(Command::Encrypt(_))
        ));
        assert!(matches!(resolve(&["-r", "f.yaml"]), Ok(Command::Rotate(_))));
        assert!(matches!(resolve(&["f.yaml"]), Ok(Command::Edit(e)) if e.file == "f.yaml"));
        // -r with -e is an encrypt (as before: sops' flag precedence).
        assert!(matches!(
            resolve(&["-r", "-e", "f.yaml"]),
            Ok(Command::Encrypt(_))
        ));
        let set = resolve(&["--set", r#"["a"] "b""#, "f.yaml"]);
        assert!(
            matches!(&set, Ok(Command::Set(s)) if s.value == SetValue::Inline("\"b\"".into()) && !s.idempotent),
            "{set:?}"
        );
        assert_eq!(resolve(&["-e", "-d", "f"]).unwrap_err().exit_code(), 1);
        for bare in [&["-d"][..], &["-e"], &["-r"], &[]] {
            assert!(
                matches!(resolve(bare), Err(Error::NoFileSpecified)),
                "{bare:?}"
            );
        }
        assert_eq!(resolve(&["--set", "nope", "f"]).unwrap_err().exit_code(), 7);
    }

    #[test]
    fn global_flags_apply_when_the_subcommand_does_not_set_them() {
        let Ok(Command::Encrypt(e)) =
            resolve(&["--indent", "2", "--mac-only-encrypted", "encrypt", "f.yaml"])
        else {
            panic!("not an encrypt");
        };
        assert_eq!(e.io.indent, Some(2));
        assert!(e.rules.mac_only_encrypted);
        let Ok(Command::Rotate(r)) = resolve(&["--indent", "2", "rotate", "--indent", "3", "f"])
        else {
            panic!("not a rotate");
        };
        assert_eq!(r.io.indent, Some(3));
        let Ok(Command::Set(s)) = resolve(&["--indent", "1", "set", "f", r#"["a"]"#, "1"]) else {
            panic!("not a set");
        };
        assert_eq!(s.open.indent, Some(1));
        // --decryption-order before the subcommand: every subcommand that
        // decrypts takes it (the subcommand's own flag wins).
        for args in [
            &["--decryption-order", "pgp", "decrypt", "f"][..],
            &["--decryption-order", "pgp", "edit", "f"],
            &["--decryption-order", "pgp", "rotate", "f"],
            &["--decryption-order", "pgp", "unset", "f", r#"["a"]"#],
        ] {
            let order = match resolve(args) {
                Ok(Command::Decrypt(d)) => d.reading.order.decryption_order,
                Ok(Command::Edit(e)) => e.open.decryption_order,
                Ok(Command::Rotate(r)) => r.decryption_order,
                Ok(Command::Unset(u)) => u.open.decryption_order,
                other => panic!("{args:?}: {other:?}"),
            };
            assert_eq!(order.as_deref(), Some("pgp"), "{args:?}");
        }
        let Ok(Command::Decrypt(d)) = resolve(&[
            "--decryption-order",
            "pgp",
            "decrypt",
            "--decryption-order",
            "age",
            "f",
        ]) else {
            panic!("not a decrypt");
        };
        assert_eq!(d.reading.order.decryption_order.as_deref(), Some("age"));
    }

    #[test]
    fn one_file_or_many_is_decided_before_running() {
        assert!(matches!(
            resolve(&["decrypt", "a", "b"]),
            Ok(Command::DecryptMany(_))
        ));
        assert!(matches!(
            resolve(&["decrypt", "-r"]),
            Ok(Command::DecryptMany(_))
        ));
        assert!(matches!(
            resolve(&["decrypt", "a"]),
            Ok(Command::Decrypt(_))
        ));
        assert!(matches!(
            resolve(&["decrypt", "--extract", r#"["a"]"#, "a", "b"]),
            Err(Error::ConflictingParameters(_))
        ));
        assert!(matches!(
            resolve(&["rotate", "--dry-run", "a"]),
            Ok(Command::RotateMany(_))
        ));
        assert!(matches!(resolve(&["rotate", "a"]), Ok(Command::Rotate(_))));
        assert!(matches!(
            resolve(&["updatekeys", "-r"]),
            Ok(Command::UpdatekeysMany(_))
        ));
        assert!(matches!(
            resolve(&["updatekeys", "a"]),
            Ok(Command::Updatekeys(_))
        ));
    }

    #[test]
    fn set_and_unset_positionals_are_checked() {
        assert_eq!(
            resolve(&["set", "f", r#"["a"]"#]).unwrap_err().exit_code(),
            100
        );
        assert!(matches!(
            resolve(&["set", "--value-stdin", "f", r#"["a"]"#]),
            Ok(Command::Set(s)) if s.value == SetValue::Stdin
        ));
        assert!(matches!(
            resolve(&["set", "--value-file", "f", r#"["a"]"#, "v.json"]),
            Ok(Command::Set(s)) if s.value == SetValue::File("v.json".into())
        ));
        assert_eq!(resolve(&["set", "f", "", "1"]).unwrap_err().exit_code(), 7);
        assert_eq!(resolve(&["unset", "f"]).unwrap_err().exit_code(), 100);
        assert!(matches!(
            resolve(&["unset", "f", r#"["a"]"#]),
            Ok(Command::Unset(_))
        ));
    }
}

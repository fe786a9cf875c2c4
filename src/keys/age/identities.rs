//! Where age identities come from (docs/spec/cli.md §8.5), in the order sops uses:
//!
//! 1. `SOPS_AGE_SSH_PRIVATE_KEY_FILE` (an SSH private key),
//! 2. `SOPS_AGE_SSH_PRIVATE_KEY_CMD` (a command printing one),
//! 3. `~/.ssh/id_ed25519` and `~/.ssh/id_rsa`, if they exist,
//! 4. `SOPS_AGE_KEY` (identities text),
//! 5. `SOPS_AGE_KEY_FILE` (an identities file),
//! 6. `SOPS_AGE_KEY_CMD` (a command printing identities),
//! 7. `<config dir>/sops/age/keys.txt`, if it exists.
//!
//! All of them are combined. A source that fails is reported but does not
//! stop the others. Commands are split shell-style, run without a shell,
//! with `SOPS_AGE_RECIPIENT` set to the recipient of the key being
//! decrypted, so they run once per key. Identities text holds
//! `AGE-SECRET-KEY-1…`, `AGE-SECRET-KEY-PQ-1…` and `AGE-PLUGIN-…` entries
//! (several per line allowed), or is a whole passphrase-encrypted age file.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::str::FromStr;

use age_core::format::{FileKey, Stanza};
use zeroize::Zeroizing;

use super::ssh::{Notes, SshIdentity};
use super::ui::{
    io_error_text, resolve_error, strip_isolates, terminal_prompter, Prompter, UiCallbacks,
};

const SSH_KEY_FILE_VAR: &str = "SOPS_AGE_SSH_PRIVATE_KEY_FILE";
const SSH_KEY_CMD_VAR: &str = "SOPS_AGE_SSH_PRIVATE_KEY_CMD";
const KEY_VAR: &str = "SOPS_AGE_KEY";
const KEY_FILE_VAR: &str = "SOPS_AGE_KEY_FILE";
const KEY_CMD_VAR: &str = "SOPS_AGE_KEY_CMD";

/// The environment that age identity loading reads; tests build their own.
/// A variable that is set (even to the empty string) is `Some`.
#[derive(Clone, Debug, Default)]
pub struct AgeEnv {
    /// `SOPS_AGE_SSH_PRIVATE_KEY_FILE`.
    pub ssh_private_key_file: Option<PathBuf>,
    /// `SOPS_AGE_SSH_PRIVATE_KEY_CMD`.
    pub ssh_private_key_cmd: Option<String>,
    /// `SOPS_AGE_KEY`.
    pub key: Option<Zeroizing<String>>,
    /// `SOPS_AGE_KEY_FILE`.
    pub key_file: Option<PathBuf>,
    /// `SOPS_AGE_KEY_CMD`.
    pub key_cmd: Option<String>,
    /// The home directory (for `~/.ssh/id_ed25519` and `~/.ssh/id_rsa`).
    pub home: Option<PathBuf>,
    /// The default identities file, see [`default_key_file`].
    pub default_key_file: Option<PathBuf>,
}

impl AgeEnv {
    /// Reads the process environment.
    pub fn from_process() -> AgeEnv {
        let var = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
        AgeEnv {
            ssh_private_key_file: std::env::var_os(SSH_KEY_FILE_VAR).map(PathBuf::from),
            ssh_private_key_cmd: var(SSH_KEY_CMD_VAR),
            key: var(KEY_VAR).map(Zeroizing::new),
            key_file: std::env::var_os(KEY_FILE_VAR).map(PathBuf::from),
            key_cmd: var(KEY_CMD_VAR),
            home: std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(PathBuf::from),
            default_key_file: default_key_file(),
        }
    }
}

/// `<config dir>/sops/age/keys.txt`: `$XDG_CONFIG_HOME` if set and absolute,
/// else `$HOME/.config` (macOS: `~/Library/Application Support`).
pub fn default_key_file() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    let base = match xdg {
        Some(p) => p,
        None => {
            let home = PathBuf::from(std::env::var_os("HOME")?);
            if cfg!(target_os = "macos") {
                home.join("Library/Application Support")
            } else {
                home.join(".config")
            }
        }
    };
    Some(base.join("sops").join("age").join("keys.txt"))
}

/// What one source gave.
#[derive(Default)]
struct Source {
    ids: Vec<Box<dyn age::Identity>>,
    errors: Vec<String>,
    /// Set when the source is not configured: the location to list in
    /// "Did not find keys in locations …".
    unused: Option<String>,
    /// Whether an identities text was read from it (decides whether a
    /// missing default file is listed).
    reader: bool,
}

impl Source {
    fn unused(location: &str) -> Source {
        Source {
            unused: Some(location.to_string()),
            ..Source::default()
        }
    }

    fn error(message: String) -> Source {
        Source {
            errors: vec![message],
            ..Source::default()
        }
    }
}

enum DefaultFile {
    /// No home or config directory.
    Unknown,
    Missing(String),
    Found(Source),
}

/// Shared state for parsing identities.
#[derive(Clone)]
struct Context {
    prompter: Prompter,
    notes: Notes,
}

/// The age identities available for decryption, and where they were looked for.
pub struct Identities {
    context: Context,
    extra: Source,
    ssh_file: Source,
    ssh_cmd: Option<String>,
    middle: Vec<Source>,
    key_cmd: Option<String>,
    /// Whether an unset `SOPS_AGE_KEY_CMD` is listed as a location.
    key_cmd_listed: bool,
    default_file: DefaultFile,
}

impl Identities {
    /// No identities at all.
    pub fn empty() -> Identities {
        Identities {
            context: Context {
                prompter: super::ui::no_terminal_prompter(),
                notes: Rc::new(RefCell::new(Vec::new())),
            },
            extra: Source::default(),
            ssh_file: Source::default(),
            ssh_cmd: None,
            middle: Vec::new(),
            key_cmd: None,
            key_cmd_listed: false,
            default_file: DefaultFile::Unknown,
        }
    }

    /// Gathers identities from the process environment (see the module
    /// documentation); passphrases are asked on the terminal. Problems with
    /// single sources are reported when a key cannot be decrypted.
    pub fn from_environment() -> Result<Identities, String> {
        Ok(Identities::load(
            &AgeEnv::from_process(),
            terminal_prompter(),
        ))
    }

    /// Gathers identities from `env`, asking passphrases with `prompter`.
    /// Commands are not run here but for each key to decrypt.
    pub fn load(env: &AgeEnv, prompter: Prompter) -> Identities {
        let context = Context {
            prompter,
            notes: Rc::new(RefCell::new(Vec::new())),
        };
        let ssh_file = match &env.ssh_private_key_file {
            Some(path) => load_ssh_file(path, &context),
            None => Source::unused(SSH_KEY_FILE_VAR),
        };
        let mut middle = Vec::new();
        if let Some(home) = &env.home {
            for name in ["id_ed25519", "id_rsa"] {
                let path = home.join(".ssh").join(name);
                if path.exists() {
                    middle.push(load_ssh_file(&path, &context));
                } else {
                    middle.push(Source::unused(&path.display().to_string()));
                }
            }
        }
        middle.push(match &env.key {
            Some(text) => parse_source(text.as_bytes(), KEY_VAR, KEY_VAR, &context),
            None => Source::unused(KEY_VAR),
        });
        middle.push(match &env.key_file {
            Some(path) => match std::fs::read(path) {
                Ok(data) => {
                    let data = Zeroizing::new(data);
                    parse_source(&data, KEY_FILE_VAR, &path.display().to_string(), &context)
                }
                Err(e) => Source::error(format!(
                    "failed to open {KEY_FILE_VAR} file: open {}: {}",
                    path.display(),
                    io_error_text(&e)
                )),
            },
            None => Source::unused(KEY_FILE_VAR),
        });
        let default_file = match &env.default_key_file {
            None => DefaultFile::Unknown,
            Some(path) => {
                let location = path.display().to_string();
                match std::fs::read(path) {
                    Ok(data) => {
                        let data = Zeroizing::new(data);
                        DefaultFile::Found(parse_source(&data, &location, &location, &context))
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        DefaultFile::Missing(location)
                    }
                    Err(e) => DefaultFile::Found(Source::error(format!(
                        "failed to open file: open {location}: {}",
                        io_error_text(&e)
                    ))),
                }
            }
        };
        Identities {
            context,
            extra: Source::default(),
            ssh_file,
            ssh_cmd: env.ssh_private_key_cmd.clone(),
            middle,
            key_cmd: env.key_cmd.clone(),
            key_cmd_listed: true,
            default_file,
        }
    }

    /// Adds identities from a text (one or more per line, `#` comments),
    /// tried before all others. Errors never contain key material.
    pub fn add_text(&mut self, text: &str, source: &str) -> Result<(), String> {
        let (ids, errors) = parse_identities(text.as_bytes(), source, source, &self.context, true)
            .map_err(|e| format!("failed to parse '{source}' age identities: {e}"))?;
        self.extra.ids.extend(ids);
        self.extra.errors.extend(errors);
        Ok(())
    }

    /// Decrypts the age file `enc` (armored or not) addressed to
    /// `recipient`. On failure the message says what was tried and why
    /// each source could not be used, in sops's words.
    pub fn decrypt(&self, recipient: &str, enc: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
        // The recipient comes from the file: only a valid one is handed to
        // the user's commands (a refusal skips them, other sources still
        // count).
        let checked = check_command_recipient(recipient);
        let refused = |var: &str, why: &String| {
            Source::error(format!(
                "the recipient {:?} is not passed to {var}: {why}",
                recipient
            ))
        };
        let ssh_cmd = self.ssh_cmd.as_ref().map(|cmd| match &checked {
            Ok(()) => self.run_ssh_cmd(cmd, recipient),
            Err(why) => refused(SSH_KEY_CMD_VAR, why),
        });
        let key_cmd = match &self.key_cmd {
            Some(_) if checked.is_err() => refused(KEY_CMD_VAR, checked.as_ref().unwrap_err()),
            Some(cmd) => self.run_key_cmd(cmd, recipient),
            None if self.key_cmd_listed => Source::unused(KEY_CMD_VAR),
            None => Source::default(),
        };
        let any_reader = self.middle.iter().any(|s| s.reader) || key_cmd.reader;
        let missing_default;
        let default = match &self.default_file {
            DefaultFile::Found(source) => Some(source),
            DefaultFile::Missing(path) if !any_reader => {
                missing_default = Source::unused(path);
                Some(&missing_default)
            }
            _ => None,
        };
        let sources: Vec<&Source> = [&self.extra, &self.ssh_file]
            .into_iter()
            .chain(ssh_cmd.as_ref())
            .chain(self.middle.iter())
            .chain(std::iter::once(&key_cmd))
            .chain(default)
            .collect();
        let ids: Vec<&dyn age::Identity> = sources
            .iter()
            .flat_map(|s| s.ids.iter().map(|i| i.as_ref()))
            .collect();
        self.context.notes.borrow_mut().clear();
        let mut message = if ids.is_empty() {
            "failed to load age identities".to_string()
        } else {
            match super::decrypt_with(enc, &ids) {
                Ok(secret) => return Ok(secret),
                Err(e) => format!(
                    "failed to create reader for decrypting sops data key with age: {}",
                    age_error_text(&e, ids.len())
                ),
            }
        };
        let mut errors: Vec<String> = sources.iter().flat_map(|s| s.errors.clone()).collect();
        errors.extend(self.context.notes.borrow().iter().cloned());
        if !errors.is_empty() {
            message.push_str(". Errors while loading age identities: ");
            message.push_str(&errors.join("; "));
        }
        let unused: Vec<&str> = sources.iter().filter_map(|s| s.unused.as_deref()).collect();
        if !unused.is_empty() {
            message.push_str(". Did not find keys in locations ");
            message.push_str(&quoted_list(&unused));
        }
        message.push('.');
        Err(message)
    }

    fn run_ssh_cmd(&self, cmd: &str, recipient: &str) -> Source {
        match run_command(cmd, SSH_KEY_CMD_VAR, recipient) {
            Ok(out) => match SshIdentity::parse(
                &out,
                SSH_KEY_CMD_VAR,
                None,
                self.context.prompter.clone(),
                self.context.notes.clone(),
            ) {
                Ok(id) => Source {
                    ids: vec![Box::new(id)],
                    ..Source::default()
                },
                Err(e) => Source::error(e),
            },
            Err(e) => Source::error(e),
        }
    }

    fn run_key_cmd(&self, cmd: &str, recipient: &str) -> Source {
        match run_command(cmd, KEY_CMD_VAR, recipient) {
            Ok(out) => parse_source(&out, KEY_CMD_VAR, KEY_CMD_VAR, &self.context),
            Err(e) => Source::error(e),
        }
    }
}

fn load_ssh_file(path: &Path, context: &Context) -> Source {
    let location = path.display().to_string();
    let data = match std::fs::read(path) {
        Ok(d) => Zeroizing::new(d),
        Err(e) => {
            return Source::error(format!(
                "failed to open file: open {location}: {}",
                io_error_text(&e)
            ))
        }
    };
    match SshIdentity::parse(
        &data,
        &location,
        Some(path),
        context.prompter.clone(),
        context.notes.clone(),
    ) {
        Ok(id) => Source {
            ids: vec![Box::new(id)],
            ..Source::default()
        },
        Err(e) => Source::error(e),
    }
}

/// Parses an identities text read from `name` (as sops names it in
/// errors); `location` names it in passphrase prompts.
fn parse_source(data: &[u8], name: &str, location: &str, context: &Context) -> Source {
    match parse_identities(data, name, location, context, true) {
        Ok((ids, errors)) => Source {
            ids,
            errors,
            unused: None,
            reader: true,
        },
        Err(e) => Source {
            errors: vec![format!("failed to parse '{name}' age identities: {e}")],
            reader: true,
            ..Source::default()
        },
    }
}

/// Checks a recipient from the file before it goes into a key command's
/// environment as `SOPS_AGE_RECIPIENT`: it must parse as an age recipient
/// (X25519, hybrid, plugin or SSH public key) and be made only of letters,
/// digits, spaces and `@ . _ + = / : -`, without `..` (an SSH key's comment
/// is free text otherwise).
fn check_command_recipient(recipient: &str) -> Result<(), String> {
    super::parse_recipient(recipient).map_err(|_| "not a valid age recipient".to_string())?;
    let plain = recipient
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b" @._+=/:-".contains(&b));
    if !plain || recipient.contains("..") {
        return Err("it holds characters an age recipient does not need".into());
    }
    Ok(())
}

/// Runs a key command: split shell-style, no shell, `SOPS_AGE_RECIPIENT`
/// set; its standard output is returned.
fn run_command(cmd: &str, var: &str, recipient: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    let fail = |why: String| format!("failed to execute command {cmd} from {var}: {why}");
    let words = shlex::split(cmd).ok_or_else(|| fail("unbalanced quotes".into()))?;
    let (program, args) = words
        .split_first()
        .ok_or_else(|| fail("empty command".into()))?;
    let output = Command::new(program)
        .args(args)
        .env("SOPS_AGE_RECIPIENT", recipient)
        .stdin(Stdio::inherit())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| fail(format!("fork/exec {program}: {}", io_error_text(&e))))?;
    let stdout = Zeroizing::new(output.stdout);
    if !output.status.success() {
        return Err(fail(match output.status.code() {
            Some(code) => format!("exit status {code}"),
            None => "killed by a signal".into(),
        }));
    }
    Ok(stdout)
}

/// `'a'`, `'a' and 'b'`, `'a', 'b', and 'c'`.
fn quoted_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    match quoted.len() {
        0 => String::new(),
        1 => quoted[0].clone(),
        2 => format!("{} and {}", quoted[0], quoted[1]),
        n => format!("{}, and {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}

/// The age crate's decryption errors in the words of Go's age, as sops shows them.
fn age_error_text(e: &age::DecryptError, identities: usize) -> String {
    match e {
        age::DecryptError::NoMatchingKeys if identities == 1 => {
            "identity did not match any of the recipients: incorrect identity for recipient block"
                .into()
        }
        age::DecryptError::NoMatchingKeys => "no identity matched any of the recipients".into(),
        age::DecryptError::InvalidHeader => "failed to read header: parsing age header".into(),
        age::DecryptError::PluginResolve(e) => resolve_error(e),
        other => strip_isolates(&other.to_string()),
    }
}

fn is_encrypted_identity_file(data: &[u8]) -> bool {
    let start = data
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(data.len());
    let data = &data[start..];
    data.starts_with(b"age-encryption.org/")
        || data.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----")
}

type Parsed = (Vec<Box<dyn age::Identity>>, Vec<String>);

/// Parses an identities text. A fatal problem is `Err` (sops then ignores
/// the whole source); identities that cannot be used (a plugin not on
/// `PATH`) are skipped with a message in the second list.
fn parse_identities(
    data: &[u8],
    name: &str,
    location: &str,
    context: &Context,
    allow_encrypted: bool,
) -> Result<Parsed, String> {
    if is_encrypted_identity_file(data) {
        if !allow_encrypted {
            return Err("an encrypted identity file inside an encrypted identity file".into());
        }
        let id = EncryptedIdentityFile {
            data: data.to_vec(),
            name: name.to_string(),
            location: location.to_string(),
            context: context.clone(),
            state: RefCell::new(State::Pending),
        };
        return Ok((vec![Box::new(id)], Vec::new()));
    }
    let text = std::str::from_utf8(data).map_err(|_| "invalid UTF-8".to_string())?;
    let mut ids: Vec<Box<dyn age::Identity>> = Vec::new();
    let mut errors = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        for word in line.split_whitespace() {
            if word.starts_with('#') {
                break;
            }
            // Upper case only, as sops (and age) read them: a lowercase key
            // is of no known type.
            if word.starts_with("AGE-SECRET-KEY-PQ-1") {
                let id = age::pq::Identity::from_str(word)
                    .map_err(|_| format!("malformed secret key on line {}", number + 1))?;
                ids.push(Box::new(id));
            } else if word.starts_with("AGE-SECRET-KEY-1") {
                let id = age::x25519::Identity::from_str(word)
                    .map_err(|_| format!("malformed secret key on line {}", number + 1))?;
                ids.push(Box::new(id));
            } else if word.starts_with("AGE-PLUGIN-") {
                let id = age::plugin::Identity::from_str(word)
                    .map_err(|_| format!("malformed plugin identity on line {}", number + 1))?;
                match age::plugin::IdentityPluginV1::new(
                    id.plugin(),
                    std::slice::from_ref(&id),
                    UiCallbacks::new(context.prompter.clone()),
                ) {
                    Ok(plugin) => ids.push(Box::new(plugin)),
                    Err(e) => errors.push(resolve_error(&e)),
                }
            } else {
                return Err("unknown identity type".into());
            }
        }
    }
    Ok((ids, errors))
}

enum State {
    Pending,
    Ready(Vec<Box<dyn age::Identity>>),
    Failed,
}

/// A passphrase-encrypted identities file: decrypted on first use, with
/// the passphrase asked on the terminal.
struct EncryptedIdentityFile {
    data: Vec<u8>,
    /// The source as sops names it in the prompt (`SOPS_AGE_KEY_FILE`, a path).
    name: String,
    /// The file's path where known, for messages.
    location: String,
    context: Context,
    state: RefCell<State>,
}

impl EncryptedIdentityFile {
    fn open(&self) {
        if !matches!(*self.state.borrow(), State::Pending) {
            return;
        }
        let new_state = match self.decrypt() {
            Ok((ids, errors)) => {
                self.context.notes.borrow_mut().extend(errors);
                State::Ready(ids)
            }
            Err(e) => {
                self.context.notes.borrow_mut().push(e);
                State::Failed
            }
        };
        *self.state.borrow_mut() = new_state;
    }

    fn decrypt(&self) -> Result<Parsed, String> {
        let prompt = format!("Enter passphrase for identity '{}': ", self.name);
        let passphrase = (self.context.prompter)(&prompt).map_err(|why| {
            format!(
                "identity file {} is passphrase-protected and its passphrase could not be read: {why}",
                self.location
            )
        })?;
        let mut identity = age::scrypt::Identity::new(passphrase);
        // As Go's age: accept work factors up to 2^22 instead of the
        // crate's estimate of what this machine does in a few seconds.
        identity.set_max_work_factor(22);
        let plain = super::decrypt_with(&self.data, &[&identity]).map_err(|e| match e {
            age::DecryptError::DecryptionFailed
            | age::DecryptError::KeyDecryptionFailed
            | age::DecryptError::NoMatchingKeys => {
                format!("wrong passphrase for identity file {}", self.location)
            }
            other => format!(
                "failed to decrypt identity file {}: {}",
                self.location,
                age_error_text(&other, 1)
            ),
        })?;
        parse_identities(&plain, &self.name, &self.location, &self.context, false)
            .map_err(|e| format!("failed to parse '{}' age identities: {e}", self.location))
    }
}

impl age::Identity for EncryptedIdentityFile {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        self.unwrap_stanzas(std::slice::from_ref(stanza))
    }

    fn unwrap_stanzas(&self, stanzas: &[Stanza]) -> Option<Result<FileKey, age::DecryptError>> {
        self.open();
        match &*self.state.borrow() {
            State::Ready(ids) => ids.iter().find_map(|id| id.unwrap_stanzas(stanzas)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::age::AgeKey;
    use age::secrecy::{ExposeSecret, SecretString};
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    /// Generates a throw-away SSH key pair (test only) and returns the
    /// private key path and the public key line.
    fn ssh_keygen(
        dir: &Path,
        name: &str,
        kind: &str,
        passphrase: &str,
    ) -> Option<(PathBuf, String)> {
        let path = dir.join(name);
        let mut cmd = Command::new("ssh-keygen");
        cmd.args(["-q", "-t", kind, "-N", passphrase, "-C", "test key", "-f"])
            .arg(&path);
        if kind == "rsa" {
            cmd.args(["-b", "2048"]);
        }
        match cmd.status() {
            Ok(s) if s.success() => {}
            _ => {
                eprintln!("ssh-keygen not available; test skipped");
                return None;
            }
        }
        let public = std::fs::read_to_string(path.with_extension("pub")).ok()?;
        Some((path, public.trim().to_string()))
    }

    fn wrapped(recipient: &str) -> AgeKey {
        let mut key = AgeKey::new(recipient).unwrap();
        key.wrap(&[42u8; 32]).unwrap();
        key
    }

    /// A prompter answering `answer` and recording the prompts.
    fn answering(answer: &str, prompts: Arc<Mutex<Vec<String>>>) -> Prompter {
        let answer = answer.to_string();
        Arc::new(move |prompt: &str| {
            prompts.lock().unwrap().push(prompt.to_string());
            Ok(SecretString::from(answer.clone()))
        })
    }

    fn no_tty() -> Prompter {
        super::super::ui::no_terminal_prompter()
    }

    fn x25519_pair() -> (String, String) {
        let id = age::x25519::Identity::generate();
        (
            id.to_public().to_string(),
            id.to_string().expose_secret().to_string(),
        )
    }

    #[test]
    fn ssh_keys_from_file_variable_and_home() {
        let dir = tempfile::tempdir().unwrap();
        let Some((ed, ed_pub)) = ssh_keygen(dir.path(), "ed", "ed25519", "") else {
            return;
        };
        assert!(ed_pub.ends_with(" test key"));
        let key = wrapped(&ed_pub);
        assert_eq!(key.recipient, ed_pub, "stored with its comment");
        let env = AgeEnv {
            ssh_private_key_file: Some(ed.clone()),
            ..AgeEnv::default()
        };
        let ids = Identities::load(&env, no_tty());
        assert_eq!(&**key.unwrap(&ids).unwrap(), &[42u8; 32]);

        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        let Some((_, rsa_pub)) = ssh_keygen(&home.join(".ssh"), "id_rsa", "rsa", "") else {
            return;
        };
        let key = wrapped(&rsa_pub);
        let env = AgeEnv {
            home: Some(home.clone()),
            ..AgeEnv::default()
        };
        let ids = Identities::load(&env, no_tty());
        assert_eq!(&**key.unwrap(&ids).unwrap(), &[42u8; 32]);
        // The ed25519 key is not there: the error lists what was looked at.
        let err = wrapped(&ed_pub).unwrap(&ids).unwrap_err();
        assert_eq!(
            err,
            format!(
                "failed to create reader for decrypting sops data key with age: identity did not match any of the recipients: incorrect identity for recipient block. Did not find keys in locations 'SOPS_AGE_SSH_PRIVATE_KEY_FILE', '{}', 'SOPS_AGE_KEY', 'SOPS_AGE_KEY_FILE', and 'SOPS_AGE_KEY_CMD'.",
                home.join(".ssh/id_ed25519").display()
            )
        );
    }

    #[test]
    fn passphrase_protected_ssh_keys() {
        let dir = tempfile::tempdir().unwrap();
        let Some((path, public)) = ssh_keygen(dir.path(), "pw", "ed25519", "sesame") else {
            return;
        };
        let key = wrapped(&public);
        let env = AgeEnv {
            ssh_private_key_file: Some(path.clone()),
            ..AgeEnv::default()
        };
        let prompts = Arc::new(Mutex::new(Vec::new()));
        let ids = Identities::load(&env, answering("sesame", prompts.clone()));
        assert_eq!(&**key.unwrap(&ids).unwrap(), &[42u8; 32]);
        // Asked once, and not again for a second key.
        assert_eq!(&**key.unwrap(&ids).unwrap(), &[42u8; 32]);
        assert_eq!(
            *prompts.lock().unwrap(),
            vec![format!("Enter passphrase for \"{}\": ", path.display())]
        );

        // Not asked at all for a key addressed to someone else.
        let (r, _) = x25519_pair();
        let prompts = Arc::new(Mutex::new(Vec::new()));
        let ids = Identities::load(&env, answering("sesame", prompts.clone()));
        assert!(wrapped(&r).unwrap(&ids).is_err());
        assert!(prompts.lock().unwrap().is_empty());

        let ids = Identities::load(&env, answering("wrong", prompts.clone()));
        let err = key.unwrap(&ids).unwrap_err();
        assert!(
            err.contains(&format!(
                "Errors while loading age identities: wrong passphrase for SSH key {}.",
                path.display()
            )),
            "{err}"
        );
        let ids = Identities::load(&env, no_tty());
        let err = key.unwrap(&ids).unwrap_err();
        assert!(
            err.contains(&format!(
                "failed to obtain passphrase: could not read passphrase for \"{}\": no terminal is available",
                path.display()
            )),
            "{err}"
        );
        assert!(!err.contains("sesame"));
    }

    #[test]
    fn key_commands_never_get_a_crafted_recipient() {
        let dir = tempfile::tempdir().unwrap();
        let (r, secret) = x25519_pair();
        let marker = dir.path().join("ran");
        let keys = dir.path().join("keys.txt");
        std::fs::write(&keys, format!("{secret}\n")).unwrap();
        let script = format!(
            "sh -c 'echo \"$SOPS_AGE_RECIPIENT\" >> \"$0\"; cat \"$1\"' '{}' '{}'",
            marker.display(),
            keys.display()
        );
        let env = AgeEnv {
            key_cmd: Some(script.clone()),
            ssh_private_key_cmd: Some(script),
            key_file: Some(keys.clone()),
            ..AgeEnv::default()
        };
        let ids = Identities::load(&env, no_tty());
        let good = wrapped(&r);
        for crafted in [
            "../../../etc/passwd".to_string(),
            format!("{r}\nX=1"),
            format!("{r} $(id)"),
            format!("{r}/../x"),
            String::new(),
        ] {
            let key = AgeKey {
                recipient: crafted.clone(),
                enc: good.enc.clone(),
            };
            // The key file still decrypts; the commands are not run.
            assert_eq!(&**key.unwrap(&ids).unwrap(), &[42u8; 32], "{crafted:?}");
            assert!(!marker.exists(), "{crafted:?} reached a command");
            let env = AgeEnv {
                key_file: None,
                ..env.clone()
            };
            let err = key.unwrap(&Identities::load(&env, no_tty())).unwrap_err();
            assert!(err.contains("is not passed to SOPS_AGE_KEY_CMD"), "{err}");
            assert!(
                err.contains("is not passed to SOPS_AGE_SSH_PRIVATE_KEY_CMD"),
                "{err}"
            );
            assert!(!err.contains('\n'), "{err}");
            assert!(!marker.exists(), "{crafted:?} reached a command");
        }
        for fine in [
            r.clone(),
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN alice@example.com".to_string(),
        ] {
            assert_eq!(check_command_recipient(&fine), Ok(()), "{fine}");
        }
        assert!(good.unwrap(&ids).is_ok());
        assert!(marker.exists(), "a valid recipient reaches the command");
    }

    #[test]
    fn key_commands_get_the_recipient() {
        let dir = tempfile::tempdir().unwrap();
        let (r, secret) = x25519_pair();
        let file = dir.path().join("keys.txt");
        std::fs::write(&file, format!("{secret}\n")).unwrap();
        let key = wrapped(&r);
        let cmd = format!(
            "sh -c 'test \"$SOPS_AGE_RECIPIENT\" = {r} && cat \"$0\"' '{}'",
            file.display()
        );
        let env = AgeEnv {
            key_cmd: Some(cmd),
            ..AgeEnv::default()
        };
        let ids = Identities::load(&env, no_tty());
        assert_eq!(&**key.unwrap(&ids).unwrap(), &[42u8; 32]);

        let env = AgeEnv {
            key_cmd: Some("false".into()),
            ..AgeEnv::default()
        };
        let err = key.unwrap(&Identities::load(&env, no_tty())).unwrap_err();
        assert_eq!(
            err,
            "failed to load age identities. Errors while loading age identities: failed to execute command false from SOPS_AGE_KEY_CMD: exit status 1. Did not find keys in locations 'SOPS_AGE_SSH_PRIVATE_KEY_FILE', 'SOPS_AGE_KEY', and 'SOPS_AGE_KEY_FILE'."
        );
        let env = AgeEnv {
            key_cmd: Some("/nonexistent-enseal-cmd arg".into()),
            ..AgeEnv::default()
        };
        let err = key.unwrap(&Identities::load(&env, no_tty())).unwrap_err();
        assert!(
            err.contains("failed to execute command /nonexistent-enseal-cmd arg from SOPS_AGE_KEY_CMD: fork/exec /nonexistent-enseal-cmd: no such file or directory"),
            "{err}"
        );
    }

    #[test]
    fn ssh_key_command() {
        let dir = tempfile::tempdir().unwrap();
        let Some((path, public)) = ssh_keygen(dir.path(), "ed", "ed25519", "") else {
            return;
        };
        let key = wrapped(&public);
        let env = AgeEnv {
            ssh_private_key_cmd: Some(format!("cat '{}'", path.display())),
            ..AgeEnv::default()
        };
        let ids = Identities::load(&env, no_tty());
        assert_eq!(&**key.unwrap(&ids).unwrap(), &[42u8; 32]);
    }

    #[test]
    fn several_identities_per_line_and_sources_combined() {
        let (r1, s1) = x25519_pair();
        let (r2, s2) = x25519_pair();
        let pq = age::pq::Identity::generate();
        let env = AgeEnv {
            key: Some(Zeroizing::new(format!(
                "# comment\n{s1} {} \n\n",
                pq.to_string().expose_secret()
            ))),
            ..AgeEnv::default()
        };
        let mut ids = Identities::load(&env, no_tty());
        ids.add_text(&s2, "extra").unwrap();
        for r in [r1, r2, pq.to_public().to_string()] {
            assert_eq!(&**wrapped(&r).unwrap(&ids).unwrap(), &[42u8; 32]);
        }
        let (r3, _) = x25519_pair();
        assert!(wrapped(&r3)
            .unwrap(&ids)
            .unwrap_err()
            .contains("no identity matched any of the recipients."));
    }

    #[test]
    fn default_file_and_load_errors() {
        let dir = tempfile::tempdir().unwrap();
        let (r, secret) = x25519_pair();
        let default = dir.path().join("keys.txt");
        let missing = dir.path().join("missing.txt");
        let key = wrapped(&r);
        // Missing default file: listed only when no other identities text was read.
        let env = AgeEnv {
            key_file: Some(missing.clone()),
            default_key_file: Some(default.clone()),
            ..AgeEnv::default()
        };
        let err = key.unwrap(&Identities::load(&env, no_tty())).unwrap_err();
        assert_eq!(
            err,
            format!(
                "failed to load age identities. Errors while loading age identities: failed to open SOPS_AGE_KEY_FILE file: open {}: no such file or directory. Did not find keys in locations 'SOPS_AGE_SSH_PRIVATE_KEY_FILE', 'SOPS_AGE_KEY', 'SOPS_AGE_KEY_CMD', and '{}'.",
                missing.display(),
                default.display()
            )
        );
        let env = AgeEnv {
            key: Some(Zeroizing::new("garbage".into())),
            default_key_file: Some(default.clone()),
            ..AgeEnv::default()
        };
        let err = key.unwrap(&Identities::load(&env, no_tty())).unwrap_err();
        assert_eq!(
            err,
            "failed to load age identities. Errors while loading age identities: failed to parse 'SOPS_AGE_KEY' age identities: unknown identity type. Did not find keys in locations 'SOPS_AGE_SSH_PRIVATE_KEY_FILE', 'SOPS_AGE_KEY_FILE', and 'SOPS_AGE_KEY_CMD'."
        );
        // The default file is used together with the others.
        std::fs::write(&default, format!("{secret}\n")).unwrap();
        let ids = Identities::load(&env, no_tty());
        assert_eq!(&**key.unwrap(&ids).unwrap(), &[42u8; 32]);
    }

    #[test]
    fn missing_plugins_are_named() {
        let identity = age_core::primitives::bech32_encode(
            bech32::Hrp::parse_unchecked("age-plugin-enseal-test-missing-"),
            &[7; 32],
        )
        .to_uppercase();
        let (r, _) = x25519_pair();
        let env = AgeEnv {
            key: Some(Zeroizing::new(identity)),
            ..AgeEnv::default()
        };
        let err = wrapped(&r)
            .unwrap(&Identities::load(&env, no_tty()))
            .unwrap_err();
        assert!(
            err.starts_with("failed to load age identities. Errors while loading age identities: age plugin age-plugin-enseal-test-missing not found on PATH."),
            "{err}"
        );
    }

    /// An identities file encrypted with a passphrase (work factor kept low).
    fn encrypted_identity_file(content: &str, passphrase: &str) -> Vec<u8> {
        let mut recipient = age::scrypt::Recipient::new(SecretString::from(passphrase.to_string()));
        recipient.set_work_factor(2);
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .unwrap();
        let mut out = Vec::new();
        let armor =
            age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
                .unwrap();
        let mut w = encryptor.wrap_output(armor).unwrap();
        w.write_all(content.as_bytes()).unwrap();
        w.finish().unwrap().finish().unwrap();
        out
    }

    #[test]
    fn passphrase_encrypted_identity_files() {
        let dir = tempfile::tempdir().unwrap();
        let (r, secret) = x25519_pair();
        let file = dir.path().join("keys.age");
        std::fs::write(&file, encrypted_identity_file(&secret, "open")).unwrap();
        let key = wrapped(&r);
        let env = AgeEnv {
            key_file: Some(file.clone()),
            ..AgeEnv::default()
        };
        let prompts = Arc::new(Mutex::new(Vec::new()));
        let ids = Identities::load(&env, answering("open", prompts.clone()));
        assert_eq!(&**key.unwrap(&ids).unwrap(), &[42u8; 32]);
        assert_eq!(&**key.unwrap(&ids).unwrap(), &[42u8; 32]);
        assert_eq!(
            *prompts.lock().unwrap(),
            vec!["Enter passphrase for identity 'SOPS_AGE_KEY_FILE': ".to_string()]
        );
        let ids = Identities::load(&env, answering("shut", prompts.clone()));
        let err = key.unwrap(&ids).unwrap_err();
        assert!(
            err.contains(&format!(
                "Errors while loading age identities: wrong passphrase for identity file {}.",
                file.display()
            )),
            "{err}"
        );
        let ids = Identities::load(&env, no_tty());
        let err = key.unwrap(&ids).unwrap_err();
        assert!(
            err.contains(&format!(
                "identity file {} is passphrase-protected and its passphrase could not be read: no terminal is available",
                file.display()
            )),
            "{err}"
        );
    }

    #[test]
    fn quoted_lists() {
        assert_eq!(quoted_list(&["a"]), "'a'");
        assert_eq!(quoted_list(&["a", "b"]), "'a' and 'b'");
        assert_eq!(quoted_list(&["a", "b", "c"]), "'a', 'b', and 'c'");
    }
}

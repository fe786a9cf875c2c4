//! Reading the input file or stdin, choosing stores, writing the result.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::args::IoArgs;
use crate::config::{self, Config};
use crate::error::{Error, Result};
use crate::format::{FormatKind, StoreOptions};
use crate::fsutil::FileBytes;

/// The input of a command.
pub(crate) struct Input {
    /// The file on disk, `None` for stdin.
    pub file: Option<PathBuf>,
    /// The name used in messages.
    pub name: String,
    /// The path used for store detection (`--filename-override` or the file).
    pub type_path: String,
    /// The content.
    pub bytes: FileBytes,
    /// With `--in-place`: the lock on the file, held from the read to the
    /// write (see [`crate::lock`]).
    _lock: Option<crate::lock::FileLock>,
}

/// Whether `file` means standard input: none, `-` or `/dev/stdin`.
pub(crate) fn is_stdin(file: Option<&str>) -> bool {
    matches!(file, None | Some("-") | Some("/dev/stdin"))
}

/// Reads the file (or stdin for none, `-` or `/dev/stdin`).
pub(crate) fn read_input(file: Option<&str>, io: &IoArgs) -> Result<Input> {
    if is_stdin(file) {
        if io.in_place {
            return Err(Error::ConflictingParameters(
                "cannot use --in-place when reading from stdin".into(),
            ));
        }
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|source| Error::ReadInput {
                path: "<stdin>".into(),
                source,
            })?;
        return Ok(Input {
            file: None,
            name: "<stdin>".into(),
            type_path: io.filename_override.clone().unwrap_or_default(),
            bytes: FileBytes::Read(bytes),
            _lock: None,
        });
    }
    let path = PathBuf::from(file.unwrap_or_default());
    let lock = if io.in_place {
        crate::lock::lock_for_update(&path)?
    } else {
        None
    };
    let bytes = match crate::lock::read_locked(lock.as_ref(), &path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let abs = std::path::absolute(&path).unwrap_or(path);
            return Err(Error::FileNotFound(abs));
        }
        Err(source) => {
            return Err(Error::ReadInput {
                path: path.display().to_string(),
                source,
            })
        }
    };
    let name = path.display().to_string();
    Ok(Input {
        type_path: io.filename_override.clone().unwrap_or_else(|| name.clone()),
        file: Some(path),
        name,
        bytes,
        _lock: lock,
    })
}

/// Fails with "non-existent file" (exit 100) when `file` names a path that
/// does not exist: sops checks this before it loads the config.
pub(crate) fn check_exists(file: Option<&str>) -> Result<()> {
    if is_stdin(file) {
        return Ok(());
    }
    let path = PathBuf::from(file.unwrap_or_default());
    match std::fs::metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::FileNotFound(
            std::path::absolute(&path).unwrap_or(path),
        )),
        _ => Ok(()),
    }
}

/// The input and output stores: each from its flag, else from the path.
pub(crate) fn kinds(io: &IoArgs, type_path: &str) -> (FormatKind, FormatKind) {
    io.types.kinds(type_path)
}

/// The `.sops.yaml` in effect for a command, and the working directory the
/// config's paths are resolved against.
pub(crate) struct ConfigContext {
    /// The decoded config file, `None` when there is none.
    pub config: Option<Config>,
    /// The working directory (as Go's `os.Getwd` gives it).
    pub cwd: PathBuf,
}

impl ConfigContext {
    /// Finds and loads the config: `explicit` (`--config` / `SOPS_CONFIG`)
    /// when given and non-empty, else a `.sops.yaml` in the working
    /// directory or above it (printing the `.sops.yml` warning when the
    /// search saw one). A config that cannot be read or decoded is an error
    /// (exit 1) for every command, as in sops.
    pub fn load(explicit: Option<&str>) -> Result<ConfigContext> {
        let context = Self::load_quietly(explicit)?;
        if let Some(config) = context.config.as_ref().filter(|_| show_additions()) {
            for unknown in &config.unknown_keys {
                warn(format_args!(
                    "{}: {}",
                    config.path.display(),
                    unknown.message()
                ));
            }
        }
        Ok(context)
    }

    /// [`ConfigContext::load`] without the warnings about keys sops ignores
    /// (`check` reports them as findings).
    pub fn load_quietly(explicit: Option<&str>) -> Result<ConfigContext> {
        let cwd = config::working_dir()
            .map_err(|e| Error::Usage(format!("cannot determine the working directory: {e}")))?;
        let path = match explicit.filter(|p| !p.is_empty()) {
            Some(p) => Some(PathBuf::from(p)),
            None => {
                // From the absolute working directory the search ends at the
                // root instead of walking 100 relative `..` levels.
                let found = config::lookup_config(&cwd);
                if let Some(warning) = &found.warning {
                    warn(warning);
                }
                found.path
            }
        };
        let config = match path {
            Some(p) => Some(config::load(&p).map_err(|e| Error::Usage(e.to_string()))?),
            None => None,
        };
        Ok(ConfigContext { config, cwd })
    }

    /// True when the config asks for format-preserving output for this
    /// store (`stores.<name>.preserve_format: true`).
    pub fn preserve_format(&self, kind: FormatKind) -> bool {
        self.config
            .as_ref()
            .is_some_and(|c| c.preserve_format.iter().any(|n| n == kind.name()))
    }

    /// The store options of the config (`stores:`), defaults without one.
    pub fn stores(&self) -> StoreOptions {
        self.config
            .as_ref()
            .map(Config::store_options)
            .unwrap_or_default()
    }
}

/// Store options: the config's `stores:` with `--indent` on top (it replaces
/// all three indents), validated for the output store: a negative YAML
/// indent, or a JSON indent below -1, is refused (exit 4) wherever it came
/// from. `json_binary` is only checked when `encrypting` (decrypting a
/// binary file writes raw bytes, no JSON).
pub(crate) fn store_options(
    io: &IoArgs,
    output: FormatKind,
    stores: StoreOptions,
    encrypting: bool,
) -> Result<StoreOptions> {
    let options = config::apply_indent(stores, io.indent);
    let negative = |indent: Option<i64>, min: i64| indent.is_some_and(|i| i < min);
    let json_error = || {
        Error::Dump(
            "Error marshaling to json: JSON Indentation parameter smaller than -1 is not accepted"
                .into(),
        )
    };
    match output {
        FormatKind::Yaml if negative(options.yaml_indent, 0) => {
            Err(Error::Dump("YAML Negative indentation not accepted".into()))
        }
        FormatKind::Json if negative(options.json_indent, -1) => Err(json_error()),
        FormatKind::Binary if encrypting && negative(options.json_binary_indent, -1) => {
            Err(json_error())
        }
        _ => Ok(options),
    }
}

/// Checks `--in-place` against `--output`.
pub(crate) fn check_output_flags(io: &IoArgs) -> Result<()> {
    if io.in_place && io.output.is_some() {
        return Err(Error::ConflictingParameters(
            "cannot operate on both --output and --in-place".into(),
        ));
    }
    Ok(())
}

/// Writes the result, made of consecutive chunks: in place, to `--output`,
/// or to stdout. A closed stdout (`enseal decrypt f | head`) ends quietly.
pub(crate) fn write_output_chunks(io: &IoArgs, input: &Input, chunks: &[&[u8]]) -> Result<()> {
    let target: Option<&Path> = if io.in_place {
        input.file.as_deref()
    } else {
        io.output.as_deref().map(Path::new)
    };
    if let Some(path) = target {
        return crate::fsutil::write_atomic_chunks(path, chunks).map_err(|source| {
            Error::WriteOutput {
                path: path.display().to_string(),
                source,
            }
        });
    }
    let mut stdout = std::io::stdout().lock();
    let written = chunks
        .iter()
        .try_for_each(|chunk| stdout.write_all(chunk))
        .and_then(|()| stdout.flush());
    match written {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(source) => Err(Error::WriteOutput {
            path: "<stdout>".into(),
            source,
        }),
    }
}

/// Prints `warning: MESSAGE` on stderr: the one way commands warn.
/// The file `PATH` finds for `name` (absolute directories only, as a
/// shell would search them).
pub(crate) fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Set once at start when the program runs under the name `sops`.
static STARTED_AS_SOPS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Records that the program was started as `sops` (see [`show_additions`]).
pub(crate) fn set_started_as_sops(as_sops: bool) {
    STARTED_AS_SOPS.store(as_sops, std::sync::atomic::Ordering::Relaxed);
}

/// Whether to print what enseal adds to sops' output (warnings sops does not
/// give, hints): always as `enseal`; as `sops` only on a terminal, so that
/// scripts and test suites comparing sops' stderr keep working.
pub(crate) fn show_additions() -> bool {
    !STARTED_AS_SOPS.load(std::sync::atomic::Ordering::Relaxed)
        || std::io::IsTerminal::is_terminal(&std::io::stderr())
}

pub(crate) fn warn(message: impl std::fmt::Display) {
    eprintln!("warning: {message}");
}

/// A `--verbose` line (key-service detail) on standard error.
pub(crate) fn verbose(message: impl std::fmt::Display) {
    eprintln!("[keys] {message}");
}

/// Prints the warnings of decrypting the file `name`.
pub(crate) fn warn_all(name: &str, warnings: &[String]) {
    for warning in warnings {
        warn(format_args!("{name}: {warning}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stores(yaml: i64, json: i64, binary: i64) -> StoreOptions {
        StoreOptions {
            yaml_indent: Some(yaml),
            json_indent: Some(json),
            json_binary_indent: Some(binary),
        }
    }

    #[test]
    fn indent_flag_replaces_config_indents() {
        let io = IoArgs {
            indent: Some(3),
            ..Default::default()
        };
        let got = store_options(&io, FormatKind::Yaml, stores(-1, -5, -5), true).unwrap();
        assert_eq!(got, stores(3, 3, 3));
        let got = store_options(&IoArgs::default(), FormatKind::Yaml, stores(2, 5, 7), true);
        assert_eq!(got.unwrap(), stores(2, 5, 7));
    }

    #[test]
    fn negative_config_indents_are_checked_for_the_output_store_only() {
        let io = IoArgs::default();
        let bad = stores(-1, -2, -2);
        let err = store_options(&io, FormatKind::Yaml, bad, false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Error dumping file: YAML Negative indentation not accepted"
        );
        let err = store_options(&io, FormatKind::Json, bad, false).unwrap_err();
        assert_eq!(err.exit_code(), 4);
        assert!(err.to_string().contains("smaller than -1"));
        assert!(store_options(&io, FormatKind::Dotenv, bad, true).is_ok());
        assert!(store_options(&io, FormatKind::Ini, bad, true).is_ok());
        // Binary output is JSON only when encrypting.
        assert!(store_options(&io, FormatKind::Binary, bad, false).is_ok());
        assert!(store_options(&io, FormatKind::Binary, bad, true).is_err());
        // -1 is valid JSON (one tab), 0 valid YAML.
        assert!(store_options(&io, FormatKind::Json, stores(0, -1, -1), true).is_ok());
        assert!(store_options(&io, FormatKind::Yaml, stores(0, -1, -1), true).is_ok());
    }
}

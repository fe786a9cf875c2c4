//! `enseal git`: the git integration. `setup` writes `.gitattributes` and
//! the repo-local driver config, `textconv` is the diff driver (decrypts for
//! `git diff` / `git log -p`, never prompts) and `merge` the three-way merge
//! driver (merges decrypted trees, writes only encrypted data).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::io::ConfigContext;
use crate::error::{Error, Result};
use crate::format::StoreOptions;

mod globs;
mod merge;
mod setup;
mod textconv;

use merge::merge_driver;
use setup::setup;
use textconv::textconv;

/// `enseal git …`.
#[derive(Debug, Args)]
pub(crate) struct GitCmd {
    #[command(subcommand)]
    command: GitCommand,
}

#[derive(Debug, Subcommand)]
enum GitCommand {
    /// Write .gitattributes lines for the files .sops.yaml covers and the
    /// repo-local git config of the diff and merge drivers (idempotent).
    #[command(after_help = SETUP_HELP)]
    Setup(SetupArgs),
    /// Diff driver: print FILE decrypted; never prompts, never uses the
    /// terminal; prints FILE unchanged (and a note) when it cannot decrypt.
    Textconv {
        /// The file git hands over.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Merge driver: enseal git merge %O %A %B %P. Merges the decrypted
    /// values key by key and writes the encrypted result to %A.
    #[command(after_help = MERGE_HELP)]
    Merge {
        /// %O: the common ancestor.
        #[arg(value_name = "BASE")]
        base: PathBuf,
        /// %A: ours; receives the result.
        #[arg(value_name = "OURS")]
        ours: PathBuf,
        /// %B: theirs.
        #[arg(value_name = "THEIRS")]
        theirs: PathBuf,
        /// %P: the path in the repository (chooses the format).
        #[arg(value_name = "PATH")]
        path: Option<String>,
        /// Key types in the order to try them (comma-separated).
        #[arg(long, env = "SOPS_DECRYPTION_ORDER", value_name = "TYPES")]
        decryption_order: Option<String>,
    },
}

#[derive(Debug, Args)]
struct SetupArgs {
    /// Print what would change, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// How git runs enseal (default: `enseal` when PATH finds it, else the
    /// absolute path of this executable).
    #[arg(long, value_name = "PROGRAM")]
    program: Option<String>,
}

const SETUP_HELP: &str = "\
Writes a managed block into the .gitattributes next to .sops.yaml, one line
per glob derived from each creation rule's path_regex (tracked encrypted files
are listed by name when a regex has no glob equivalent), and sets in the
repository's own config (git config --local):
  diff.enseal.textconv     enseal git textconv
  diff.enseal.cachetextconv false
  merge.enseal.name        enseal: merge sops-encrypted files
  merge.enseal.driver      enseal git merge %O %A %B %P
Running it again changes nothing; run it after editing .sops.yaml.";

const MERGE_HELP: &str = "\
Exit 0: merged cleanly. Exit 1: conflicts; the file is written encrypted and
each conflicting value holds both sides:
  <<<<<<< ours / … / ======= / … / >>>>>>> theirs
Resolve with `enseal edit FILE` (replace each such value), then `git add FILE`.";

/// Runs `enseal git …`; returns the exit code.
pub(crate) fn run(cmd: GitCmd, config: Option<&str>) -> Result<i32> {
    match cmd.command {
        GitCommand::Setup(args) => setup(&args, config).map(|()| 0),
        GitCommand::Textconv { file } => Ok(textconv(&file, config)),
        GitCommand::Merge {
            base,
            ours,
            theirs,
            path,
            decryption_order,
        } => merge_driver(
            &base,
            &ours,
            &theirs,
            path.as_deref(),
            decryption_order.as_deref(),
            config,
        ),
    }
}

/// The store options of the config in effect (defaults without one).
fn stores(config: Option<&str>) -> StoreOptions {
    ConfigContext::load(config)
        .map(|c| c.stores())
        .unwrap_or_default()
}

/// The bytes of `path`; a read error names the file.
fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::ReadInput {
        path: path.display().to_string(),
        source,
    })
}

/// Writes `path` atomically; a write error names the file.
fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::fsutil::write_atomic(path, bytes).map_err(|source| Error::WriteOutput {
        path: path.display().to_string(),
        source,
    })
}

/// The first line of `text`, at most 200 characters.
fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    let mut out: String = line.chars().take(200).collect();
    if out.len() < line.len() {
        out.push('…');
    }
    out
}

//! `enseal completion SHELL` and `enseal man`: generated from the clap
//! definitions, written to standard output.

use std::io::Write;

use clap::{Args, CommandFactory, ValueEnum};
use clap_complete::Shell;

use crate::error::{Error, Result};

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
#[command(after_help = "Example:\n  enseal man > enseal.1 && man -l enseal.1")]
pub(crate) struct ManCmd {}

/// Writes the completion script for `shell` to stdout.
pub(crate) fn run_completion(cmd: &CompletionCmd) -> Result<()> {
    let shell = match cmd.shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
        CompletionShell::Elvish => Shell::Elvish,
        CompletionShell::Powershell => Shell::PowerShell,
    };
    let mut command = super::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "enseal", &mut out);
    write_stdout(&out)
}

/// Writes the man page (roff) to stdout.
pub(crate) fn run_man() -> Result<()> {
    let mut out = Vec::new();
    clap_mangen::Man::new(super::Cli::command())
        .render(&mut out)
        .map_err(|source| Error::WriteOutput {
            path: "<stdout>".into(),
            source,
        })?;
    write_stdout(&out)
}

fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(source) => Err(Error::WriteOutput {
            path: "<stdout>".into(),
            source,
        }),
    }
}

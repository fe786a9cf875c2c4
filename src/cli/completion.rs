//! `enseal completion SHELL`: generated from the clap definitions, written
//! to standard output.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use super::args::{CompletionShell, LowArgs};
use crate::error::{Error, Result};

/// Writes the completion script for `shell` to stdout.
pub(crate) fn run_completion(shell: CompletionShell) -> Result<()> {
    let shell = match shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
        CompletionShell::Elvish => Shell::Elvish,
        CompletionShell::Powershell => Shell::PowerShell,
    };
    let mut command = LowArgs::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "enseal", &mut out);
    write_stdout(&out)
}

/// Writes `bytes` to stdout (a closed pipe is not an error).
pub(super) fn write_stdout(bytes: &[u8]) -> Result<()> {
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

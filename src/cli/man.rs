//! `enseal man`: one man page per command, generated from the clap
//! definitions (name, synopsis, description, options, subcommands) with
//! the sections clap knows nothing of: EXAMPLES (from the command's help),
//! ENVIRONMENT, EXIT STATUS, FILES and SEE ALSO.

use std::path::Path;

use clap::CommandFactory;
use roff::{bold, roman, Roff};

use super::args::LowArgs;
use crate::error::{Error, Result};

/// The variables enseal reads, as `(name, meaning)`.
const ENVIRONMENT: &[(&str, &str)] = &[
    ("SOPS_AGE_KEY_FILE", "age identity file (default $XDG_CONFIG_HOME/sops/age/keys.txt, else ~/.config/sops/age/keys.txt)"),
    ("SOPS_AGE_KEY", "age identities, one per line"),
    ("SOPS_AGE_KEY_CMD", "a command that prints age identities"),
    ("SOPS_AGE_SSH_PRIVATE_KEY_FILE", "an SSH private key used as an age identity"),
    ("SOPS_AGE_RECIPIENTS", "age recipients of new files (as --age)"),
    ("SOPS_PGP_FP", "PGP fingerprints of new files (as --pgp); GNUPGHOME selects the keyring"),
    ("SOPS_KMS_ARN", "AWS KMS keys of new files (as --kms); the usual AWS_* variables give credentials"),
    ("SOPS_GCP_KMS_IDS", "GCP KMS keys of new files (as --gcp-kms)"),
    ("SOPS_AZURE_KEYVAULT_URLS", "Azure Key Vault keys of new files (as --azure-kv)"),
    ("SOPS_VAULT_URIS", "Vault transit keys of new files (as --hc-vault-transit); VAULT_ADDR and VAULT_TOKEN as for vault(1)"),
    ("SOPS_HUAWEICLOUD_KMS_IDS", "HuaweiCloud KMS keys of new files (as --hckms)"),
    ("SOPS_CONFIG", "the .sops.yaml to use (as --config)"),
    ("SOPS_DECRYPTION_ORDER", "key types in the order to try them (as --decryption-order)"),
    ("SOPS_KEYSERVICE", "key services to use, comma-separated (as --keyservice)"),
    ("SOPS_ENABLE_LOCAL_KEYSERVICE", "false: use only the key services (as --enable-local-keyservice)"),
    ("SOPS_EDITOR, EDITOR", "the editor of edit (default vim, else nano, else vi)"),
    ("NO_COLOR", "no colour in hints and check findings; CLICOLOR_FORCE=1 forces colour"),
    ("ENSEAL_CLOUD_TIMEOUT", "seconds one GCP, Azure or HuaweiCloud request may take (default 30)"),
    ("ENSEAL_NOW", "check: the day rotation ages are measured at (YYYY-MM-DD or Unix seconds), for tests"),
];

/// sops' exit codes, as `(code, meaning)`.
const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "success"),
    (
        "1",
        "generic error: metadata not found, key errors, a path that is not there",
    ),
    ("2", "input that cannot be read or parsed when encrypting"),
    ("3", "output that cannot be written"),
    ("4", "output that cannot be serialised"),
    ("7", "a set VALUE that is not JSON"),
    ("8", "conflicting flags"),
    ("10", "check: findings"),
    ("21", "the MAC could not be encrypted"),
    ("23", "encryption failed"),
    (
        "25",
        "a value failed to decrypt (tampered or malformed ENC[...])",
    ),
    ("51", "MAC mismatch, missing or undecryptable"),
    ("91", "a bad --extract or set/unset path"),
    ("92", "empty input"),
    ("100", "no file given, or the file does not exist"),
    ("112", "a key type twice in the decryption order"),
    (
        "128",
        "the data key could not be recovered: no key was able to decrypt it",
    ),
    ("203", "the file is already encrypted"),
];

/// The files enseal reads, as `(path, meaning)`.
const FILES: &[(&str, &str)] = &[
    (".sops.yaml", "creation rules, key groups, stores and destination rules; searched from the working directory up (or --config)"),
    ("~/.config/sops/age/keys.txt", "the default age identity file ($XDG_CONFIG_HOME/sops/age/keys.txt when set)"),
    (".gitattributes, .git/config", "where git setup registers the diff and merge drivers"),
];

/// `enseal man [COMMAND…] [--out-dir DIR]`.
pub(crate) fn run(path: &[String], out_dir: Option<&Path>) -> Result<()> {
    let mut root = LowArgs::command().disable_help_subcommand(true);
    root.build();
    if let Some(dir) = out_dir {
        return write_all(&root, dir);
    }
    let mut command = &root;
    for name in path {
        command = command
            .get_subcommands()
            .find(|c| c.get_name() == name || c.get_all_aliases().any(|a| a == name))
            .ok_or_else(|| {
                Error::Usage(format!(
                    "no man page for '{}': see `enseal man --help`",
                    crate::error::shown(&path.join(" "))
                ))
            })?;
    }
    super::completion::write_stdout(page(command).as_bytes())
}

/// Writes every page (`enseal.1`, `enseal-encrypt.1`, `enseal-groups-add.1`, …)
/// into `dir`.
fn write_all(root: &clap::Command, dir: &Path) -> Result<()> {
    let write_error = |path: &Path, source| Error::WriteOutput {
        path: path.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(|e| write_error(dir, e))?;
    for command in all_commands(root) {
        let file = dir.join(format!("{}.1", page_name(command)));
        crate::fsutil::write_atomic(&file, page(command).as_bytes())
            .map_err(|e| write_error(&file, e))?;
    }
    Ok(())
}

/// The command and every subcommand below it, depth first.
fn all_commands(command: &clap::Command) -> Vec<&clap::Command> {
    let mut out = vec![command];
    for sub in command.get_subcommands().filter(|c| !c.is_hide_set()) {
        out.extend(all_commands(sub));
    }
    out
}

/// `enseal-groups-add` for `enseal groups add` (clap's display name).
fn page_name(command: &clap::Command) -> String {
    command
        .get_display_name()
        .unwrap_or(command.get_name())
        .to_string()
}

/// The whole page of `command` (roff).
fn page(command: &clap::Command) -> String {
    let man = clap_mangen::Man::new(command.clone())
        .title(page_name(command))
        .source(format!("enseal {}", env!("CARGO_PKG_VERSION")))
        .manual("enseal manual");
    let preamble = Roff::new().render();
    let mut parts: Vec<String> = Vec::new();
    let mut render = |f: &dyn Fn(&mut Vec<u8>) -> std::io::Result<()>| {
        let mut buf = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = f(&mut buf);
        parts.push(String::from_utf8_lossy(&buf).into_owned());
    };
    render(&|w| man.render_title(w));
    render(&|w| man.render_name_section(w));
    render(&|w| man.render_synopsis_section(w));
    render(&|w| man.render_description_section(w));
    if command.get_arguments().any(|a| !a.is_hide_set()) {
        render(&|w| man.render_options_section(w));
    }
    if command.get_subcommands().any(|c| !c.is_hide_set()) {
        render(&|w| man.render_subcommands_section(w));
    }
    parts.push(extra_sections(command).render());
    let mut text = String::new();
    for (i, part) in parts.iter().enumerate() {
        match (i, part.strip_prefix(&preamble)) {
            (0, _) | (_, None) => text.push_str(part),
            (_, Some(rest)) => text.push_str(rest),
        }
    }
    text
}

/// NOTES and EXAMPLES from the command's help text (the part from its
/// first `Example` line on is EXAMPLES), then ENVIRONMENT, EXIT STATUS,
/// FILES and SEE ALSO.
fn extra_sections(command: &clap::Command) -> Roff {
    let mut roff = Roff::new();
    let after = command
        .get_after_long_help()
        .or(command.get_after_help())
        .map(|s| s.to_string())
        .unwrap_or_default();
    let lines: Vec<&str> = after.lines().collect();
    let split = lines
        .iter()
        .position(|l| l.starts_with("Example"))
        .unwrap_or(lines.len());
    let (notes, examples) = lines.split_at(split);
    if notes.iter().any(|l| !l.trim().is_empty()) {
        roff.control("SH", ["NOTES"]);
        preformatted(&mut roff, notes);
    }
    roff.control("SH", ["EXAMPLES"]);
    match examples.split_first() {
        Some((_, body)) if !body.is_empty() => preformatted(&mut roff, body),
        _ => {
            let usage = format!("enseal {} --help", page_name(command).replace('-', " "));
            let usage = usage.replacen("enseal enseal", "enseal", 1);
            roff.text([roman("See "), bold(usage.trim().to_string()), roman(".")]);
        }
    }
    table(&mut roff, "ENVIRONMENT", ENVIRONMENT);
    table(&mut roff, "EXIT STATUS", EXIT_STATUS);
    table(&mut roff, "FILES", FILES);
    roff.control("SH", ["SEE ALSO"]);
    roff.text([
        bold("enseal"),
        roman("(1), "),
        bold("sops"),
        roman("(1), "),
        bold("age"),
        roman("(1); the guide in docs/ of the enseal repository"),
    ]);
    roff
}

/// Lines kept as they are (no filling): examples are aligned by hand.
fn preformatted(roff: &mut Roff, lines: &[&str]) {
    roff.control("nf", []);
    for line in lines {
        roff.text([roman(line.to_string())]);
    }
    roff.control("fi", []);
}

/// A section of `.TP` entries: the name in bold, its meaning below.
fn table(roff: &mut Roff, heading: &str, rows: &[(&str, &str)]) {
    roff.control("SH", [heading]);
    for (name, meaning) in rows {
        roff.control("TP", []);
        roff.text([bold(name.to_string())]);
        roff.text([roman(meaning.to_string())]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> clap::Command {
        let mut root = LowArgs::command().disable_help_subcommand(true);
        root.build();
        root
    }

    #[test]
    fn every_command_has_a_page_with_every_section() {
        let root = root();
        let commands = all_commands(&root);
        assert!(commands.len() > 20, "{}", commands.len());
        for command in commands {
            let text = page(command);
            let name = page_name(command);
            assert!(
                text.starts_with(&Roff::new().render()),
                "{name}: one preamble first"
            );
            assert_eq!(
                text.matches(&Roff::new().render()).count(),
                1,
                "{name}: the preamble once"
            );
            assert!(text.contains(&format!(".TH {name} 1")), "{name}");
            for section in [
                "NAME",
                "SYNOPSIS",
                "DESCRIPTION",
                "EXAMPLES",
                "ENVIRONMENT",
                "\"EXIT STATUS\"",
                "FILES",
                "\"SEE ALSO\"",
            ] {
                assert!(
                    text.contains(&format!(".SH {section}")),
                    "{name}: no {section}"
                );
            }
        }
    }

    #[test]
    fn examples_come_from_the_help_and_notes_stay_apart() {
        let root = root();
        let encrypt = root.find_subcommand("encrypt").unwrap();
        let text = page(encrypt);
        let examples = &text[text.find(".SH EXAMPLES").unwrap()..];
        assert!(
            examples.contains("enseal encrypt \\-i secrets/app.yaml"),
            "{examples}"
        );
        assert!(!text.contains(".SH NOTES"));
        let exec_env = root.find_subcommand("exec-env").unwrap();
        let text = page(exec_env);
        let notes = text.find(".SH NOTES").expect("exec-env has notes");
        assert!(notes < text.find(".SH EXAMPLES").unwrap());
    }

    #[test]
    fn exit_codes_are_the_ones_the_error_enum_maps_to() {
        use crate::error::exit;
        for code in [
            exit::GENERIC,
            exit::COULD_NOT_READ_INPUT,
            exit::COULD_NOT_WRITE_OUTPUT,
            exit::ERROR_DUMPING_TREE,
            exit::INVALID_SET_FORMAT,
            exit::CONFLICTING_PARAMETERS,
            exit::ERROR_ENCRYPTING_MAC,
            exit::ERROR_ENCRYPTING_TREE,
            exit::ERROR_DECRYPTING_TREE,
            exit::MAC_MISMATCH,
            exit::INVALID_TREE_PATH_FORMAT,
            exit::NEED_AT_LEAST_ONE_DOCUMENT,
            exit::NO_FILE_SPECIFIED,
            exit::DUPLICATE_DECRYPTION_KEY_TYPE,
            exit::COULD_NOT_RETRIEVE_KEY,
            exit::FILE_ALREADY_ENCRYPTED,
            crate::cli::check::EXIT_FINDINGS,
        ] {
            assert!(
                EXIT_STATUS.iter().any(|(c, _)| *c == code.to_string()),
                "{code} is not documented"
            );
        }
    }
}

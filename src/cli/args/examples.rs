//! The "Examples:" sections of `--help` (and of the man pages), one per
//! command that has everyday forms worth showing.

/// `enseal --help`.
pub(crate) const TOP: &str = "\
Examples:
  enseal init                                  set up a repository (age key, .sops.yaml, git)
  enseal encrypt -i secrets/app.yaml           encrypt in place for the .sops.yaml rule's keys
  enseal secrets/app.yaml                      edit (decrypted in $EDITOR, encrypted on save)
  enseal decrypt --extract '[\"db\"]' secrets/app.yaml
  enseal exec-env secrets/app.env -- ./server  run with the values in the environment
  enseal rotate -r                             new data key for every file of the repository

`enseal help COMMAND` for a command's flags; docs/ for the guide.";

/// `enseal encrypt --help`.
pub(crate) const ENCRYPT: &str = "\
Examples:
  enseal encrypt -i secrets/app.yaml                  in place, keys from .sops.yaml
  enseal encrypt --age age1… app.yaml > app.enc.yaml  keys from the flags
  enseal encrypt --encrypted-regex '^(data|stringData)$' -i k8s/secret.yaml
  cat .env | enseal encrypt --input-type dotenv --filename-override .env";

/// `enseal log --help`.
pub(crate) const LOG: &str = "\
Examples:
  enseal log secrets/app.yaml                         every value's changes, newest first
  enseal log secrets/app.yaml '[\"db\"][\"password\"]'    one value (and those below it)
  enseal log -r --format json                         every encrypted file of the repository
  enseal log --decrypt secrets/app.yaml               with old and new values (needs a key)

No key is needed: a value's ENC[…] text changes exactly when its plaintext
changes, so git history tells when (author date) and by whom. A shallow
clone, a file never committed or no git at all is an error (exit 1);
with -r such files are listed with the reason.";

/// `enseal decrypt --help`.
pub(crate) const DECRYPT: &str = "\
Examples:
  enseal decrypt secrets/app.yaml                  to standard output
  enseal decrypt --extract '[\"db\"][\"password\"]' secrets/app.yaml
  enseal decrypt --output-type json secrets/app.yaml
  enseal decrypt -r --output-dir /run/secrets      every encrypted file of the repository";

/// `enseal edit --help`.
pub(crate) const EDIT: &str = "\
Examples:
  enseal edit secrets/app.yaml           decrypted in $SOPS_EDITOR / $EDITOR, encrypted on save
  EDITOR='code --wait' enseal secrets/app.yaml
  enseal edit secrets/new.yaml           a new file, keys from the .sops.yaml rule";

/// `enseal set --help`.
pub(crate) const SET: &str = "\
Examples:
  enseal set secrets/app.yaml '[\"db\"][\"password\"]' '\"s3cret\"'   VALUE is JSON: quote strings
  enseal set secrets/app.yaml '[\"replicas\"]' 3
  printf '\"%s\"' \"$TOKEN\" | enseal set --value-stdin secrets/app.yaml '[\"token\"]'";

/// `enseal unset --help`.
pub(crate) const UNSET: &str = "\
Example:
  enseal unset secrets/app.yaml '[\"db\"][\"old_password\"]'";

/// `enseal rotate --help`.
pub(crate) const ROTATE: &str = "\
Examples:
  enseal rotate -i secrets/app.yaml                  new data key, every value re-encrypted
  enseal rotate -i --add-age age1… secrets/app.yaml  and a new recipient
  enseal rotate -i --rm-pgp FINGERPRINT secrets/app.yaml
  enseal rotate -r --dry-run                         check every file can be rotated";

/// `enseal updatekeys --help`.
pub(crate) const UPDATEKEYS: &str = "\
Examples:
  enseal updatekeys secrets/app.yaml   show the key changes .sops.yaml asks for, then confirm
  enseal updatekeys -y -r              apply them to every file of the repository";

/// `enseal man --help`.
pub(crate) const MAN: &str = "\
Examples:
  enseal man | man -l -                 enseal(1)
  enseal man encrypt | man -l -         enseal-encrypt(1)
  enseal man --out-dir ~/.local/share/man/man1   every page, for man(1) to find";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::resolve::HiArgs;
    use crate::cli::args::LowArgs;
    use clap::Parser;

    /// The command of an example line: from `enseal` to the comment (two
    /// spaces or more), `None` for prose lines.
    fn command_of(line: &str) -> Option<Vec<String>> {
        let start = line.find("enseal ")?;
        let text = &line[start..];
        let (mut quote, mut end) = (None, text.len());
        for (i, c) in text.char_indices() {
            match (quote, c) {
                (None, '\'' | '"') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, ' ') if text[i..].starts_with("  ") => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let words = shlex::split(&text[..end])?;
        // Up to a redirection or pipe.
        Some(
            words
                .into_iter()
                .take_while(|w| !matches!(w.as_str(), ">" | "|" | "<"))
                .collect(),
        )
    }

    #[test]
    fn every_example_is_a_command_line_enseal_accepts() {
        let all = [
            TOP, ENCRYPT, DECRYPT, EDIT, SET, UNSET, ROTATE, UPDATEKEYS, MAN,
        ];
        let mut checked = 0;
        for text in all {
            for line in text.lines().filter(|l| l.starts_with("  ")) {
                let Some(argv) = command_of(line) else {
                    continue;
                };
                let low = LowArgs::try_parse_from(&argv).unwrap_or_else(|e| panic!("{line}: {e}"));
                if let Err(e) = HiArgs::from_low(low) {
                    panic!("{line}: {e}");
                }
                checked += 1;
            }
        }
        assert!(checked >= 20, "only {checked} examples found");
    }
}

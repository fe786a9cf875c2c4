//! `enseal init`: from plaintext secret files in a git repository to
//! encrypted, committed-ready files in one command and one confirmation.
//!
//! The plan, shown before anything changes:
//! 1. the user's age identity: the existing one (`SOPS_AGE_KEY_FILE`, else
//!    the default `…/sops/age/keys.txt`) or a new one created there (0600 in
//!    a 0700 folder); an existing file is never overwritten;
//! 2. `.sops.yaml` at the repository root with one creation rule for the
//!    secret paths (`secrets/`, `*.enc.*`, `.env` and its usual variants,
//!    plus the `.env.*` files found) and the identity's recipient, unless a
//!    `.sops.yaml` is already there (it is left as it is);
//! 3. `enseal git setup` (diff and merge drivers);
//! 4. the `enseal check` hook in `.pre-commit-config.yaml`, when that file
//!    exists and does not run it yet;
//! 5. `encrypt -i` of every plaintext file the rule covers.
//!
//! Running it again changes nothing. `--dry-run` only shows the plan;
//! `--yes` applies it without asking (needed without a terminal).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::args::InitCmd;
use crate::config::CONFIG_FILE_NAME;
use crate::error::{Error, Result};

/// The usual names of environment files that hold secrets. Other `.env.*`
/// files found in the repository are added by name, except templates.
const ENV_VARIANTS: &str = "local|development|dev|test|staging|production|prod";

/// Suffixes of environment-file templates, which stay plaintext.
const TEMPLATE_SUFFIXES: [&str; 6] = ["example", "sample", "template", "dist", "defaults", "tpl"];

/// Runs `enseal init`.
pub(crate) fn run(cmd: &InitCmd) -> Result<()> {
    let root = repository_root()?;
    let plan = Plan::make(&root)?;
    eprint!("{}", plan.describe(&root));
    if plan.is_empty() {
        eprintln!("Nothing to do: this repository is set up.");
        return Ok(());
    }
    if cmd.dry_run {
        eprintln!("(dry run: nothing changed)");
        return Ok(());
    }
    if !cmd.yes && !confirm()? {
        return Err(Error::Coded(1, "enseal init: nothing changed".into()));
    }
    plan.apply(&root)
}

/// What `init` will do.
#[derive(Debug)]
struct Plan {
    /// The identity file, and whether it must be created.
    identity: PathBuf,
    create_identity: bool,
    /// The recipient of the identity (for a new one: filled in when made).
    recipient: Option<String>,
    /// `.sops.yaml` text to write, when there is none.
    config: Option<String>,
    /// `git setup` has not been run in this clone.
    git_setup: bool,
    /// `.pre-commit-config.yaml` exists and does not run enseal check.
    pre_commit: bool,
    /// Plaintext files the rule covers, relative to the root.
    to_encrypt: Vec<PathBuf>,
    /// Of those, the ones git ignores (they cannot be committed as they are).
    ignored: Vec<PathBuf>,
}

impl Plan {
    fn make(root: &Path) -> Result<Plan> {
        let identity = std::env::var_os("SOPS_AGE_KEY_FILE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(crate::keys::age::default_key_file)
            .ok_or_else(|| Error::Advice {
                code: 1,
                message:
                    "enseal init: cannot tell where your age identity belongs (HOME is not set)"
                        .into(),
                hint: "set SOPS_AGE_KEY_FILE to the identity file to use or create".into(),
            })?;
        let create_identity = !identity.exists();
        let recipient = if create_identity {
            None
        } else {
            Some(recipient_of(&identity)?)
        };
        let config_path = root.join(CONFIG_FILE_NAME);
        let files = repository_files(root)?;
        let extra_env: Vec<String> = files
            .iter()
            .filter_map(|(path, _)| env_variant(path))
            .collect();
        let path_regex = path_regex(&extra_env);
        let config = (!config_path.exists()).then(|| config_text(&path_regex));
        // Files the rule covers: the new rule's, else the existing config's.
        let covers: Box<dyn Fn(&Path) -> bool> = if config.is_some() {
            let re = regex::Regex::new(&path_regex).expect("the default path_regex compiles");
            Box::new(move |p: &Path| re.is_match(&p.to_string_lossy()))
        } else {
            let existing =
                crate::config::load(&config_path).map_err(|e| Error::Usage(e.to_string()))?;
            Box::new(
                move |p: &Path| matches!(existing.rule_for(&root_join(p), Path::new("/")), Ok(Some(rule)) if !rule.path_regex.is_empty()),
            )
        };
        let mut to_encrypt = Vec::new();
        let mut ignored = Vec::new();
        for (path, is_ignored) in &files {
            if !covers(path) || is_template(path) || is_encrypted(&root.join(path)) {
                continue;
            }
            to_encrypt.push(path.clone());
            if *is_ignored {
                ignored.push(path.clone());
            }
        }
        let pre_commit_path = root.join(".pre-commit-config.yaml");
        let pre_commit = std::fs::read_to_string(&pre_commit_path)
            .is_ok_and(|text| !text.contains("enseal check") && !text.contains("enseal-check"));
        Ok(Plan {
            identity,
            create_identity,
            recipient,
            config,
            git_setup: !git_setup_done(root),
            pre_commit,
            to_encrypt,
            ignored,
        })
    }

    fn is_empty(&self) -> bool {
        !self.create_identity
            && self.config.is_none()
            && !self.git_setup
            && !self.pre_commit
            && self.to_encrypt.is_empty()
    }

    fn describe(&self, root: &Path) -> String {
        let mut out = String::from("enseal init:\n");
        match (&self.recipient, self.create_identity) {
            (_, true) => out.push_str(&format!(
                "  - create an age identity in {} (0600)\n",
                self.identity.display()
            )),
            (Some(r), false) => out.push_str(&format!(
                "  - use your age identity {} (recipient {r})\n",
                self.identity.display()
            )),
            (None, false) => {}
        }
        if self.config.is_some() {
            out.push_str(&format!(
                "  - write {} with a rule for secrets/, *.enc.* and .env files\n",
                root.join(CONFIG_FILE_NAME).display()
            ));
        } else {
            out.push_str(&format!("  - keep the existing {CONFIG_FILE_NAME}\n"));
        }
        if self.git_setup {
            out.push_str("  - run `enseal git setup` (plaintext git diff, merge driver)\n");
        }
        if self.pre_commit {
            out.push_str("  - add the `enseal check` hook to .pre-commit-config.yaml\n");
        }
        for path in &self.to_encrypt {
            out.push_str(&format!("  - encrypt {} in place\n", path.display()));
        }
        for path in &self.ignored {
            out.push_str(&format!(
                "    note: git ignores {}: remove it from .gitignore to commit the encrypted file\n",
                path.display()
            ));
        }
        out
    }

    fn apply(mut self, root: &Path) -> Result<()> {
        if self.create_identity {
            self.recipient = Some(create_identity(&self.identity)?);
            eprintln!("created {}", self.identity.display());
        }
        if let Some(template) = &self.config {
            let recipient = self.recipient.as_deref().unwrap_or_default();
            let text = template.replace(RECIPIENT_PLACEHOLDER, recipient);
            let path = root.join(CONFIG_FILE_NAME);
            crate::fsutil::write_atomic(&path, text.as_bytes())
                .map_err(|e| Error::Usage(format!("cannot write {}: {e}", path.display())))?;
            eprintln!("wrote {}", path.display());
        }
        if self.git_setup {
            // git setup names this binary itself when PATH has no enseal.
            run_self(root, &["git", "setup"])?;
        }
        if self.pre_commit {
            add_pre_commit_hook(&root.join(".pre-commit-config.yaml"))?;
            eprintln!("added the enseal check hook to .pre-commit-config.yaml");
        }
        let mut failed = Vec::new();
        for path in &self.to_encrypt {
            let mut args = vec!["encrypt", "-i"];
            let shown = path.to_string_lossy();
            args.push(&shown);
            match run_self(root, &args) {
                Ok(()) => eprintln!("encrypted {shown}"),
                Err(e) => {
                    eprintln!("{shown}: {e}");
                    failed.push(shown.to_string());
                }
            }
        }
        if !failed.is_empty() {
            return Err(Error::Coded(
                1,
                format!("enseal init: could not encrypt {}", failed.join(", ")),
            ));
        }
        eprintln!(
            "Done. Commit with: git add {CONFIG_FILE_NAME} .gitattributes{} && git commit",
            self.to_encrypt
                .iter()
                .map(|p| format!(" {}", p.display()))
                .collect::<String>()
        );
        Ok(())
    }
}

/// Marks where the recipient goes in a config written before the identity
/// exists.
const RECIPIENT_PLACEHOLDER: &str = "@RECIPIENT@";

fn config_text(path_regex: &str) -> String {
    format!(
        "# Written by `enseal init`. sops and enseal read this file.\n\
         # Add your team's age recipients (comma-separated) to give them access,\n\
         # then run `enseal updatekeys -r -y`.\n\
         creation_rules:\n  - path_regex: '{}'\n    age: {RECIPIENT_PLACEHOLDER}\n",
        path_regex.replace('\'', "''")
    )
}

/// The rule's `path_regex`: files in a `secrets/` folder, `*.enc.*`,
/// `*.env` (`.env` included) and `.env`'s usual variants, and the other
/// `.env.*` names found. Kept to a few alternatives without anchors at the
/// start, so that `enseal git setup` can turn it into gitattributes globs.
fn path_regex(extra_env: &[String]) -> String {
    let mut env = format!(r"\.env|\.env\.({ENV_VARIANTS})");
    let mut extra: Vec<&String> = extra_env.iter().collect();
    extra.sort();
    extra.dedup();
    for name in extra {
        env.push('|');
        env.push_str(&regex::escape(name));
    }
    format!(r"(secrets/.*|\.enc\.[^/]*|{env})$")
}

/// A `.env.<x>` file name that the usual variants do not cover and that is
/// not a template.
fn env_variant(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let suffix = name.strip_prefix(".env.")?;
    if suffix.is_empty() || is_template(path) || ENV_VARIANTS.split('|').any(|v| v == suffix) {
        return None;
    }
    Some(name.to_string())
}

fn is_template(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    TEMPLATE_SUFFIXES
        .iter()
        .any(|s| name.ends_with(&format!(".{s}")) || name.contains(&format!(".{s}.")))
}

/// True when the file already holds sops metadata (any format).
fn is_encrypted(path: &Path) -> bool {
    let Ok(text) = std::fs::read(path) else {
        return true; // unreadable: leave it alone
    };
    let text = String::from_utf8_lossy(&text);
    text.contains("sops_mac=")
        || text.contains("\"sops\":")
        || text.lines().any(|l| l == "sops:" || l == "[sops]")
}

fn root_join(p: &Path) -> PathBuf {
    Path::new("/").join(p)
}

/// The top of the git work tree the working directory is in.
fn repository_root() -> Result<PathBuf> {
    let out = Command::new("git")
        .args(["rev-parse", "--show-toplevel"])
        .output()
        .map_err(|e| Error::Advice {
            code: 1,
            message: format!("enseal init: cannot run git: {e}"),
            hint: "install git, or set up by hand: see docs/config.md".into(),
        })?;
    if !out.status.success() {
        return Err(Error::Advice {
            code: 1,
            message: "enseal init: not inside a git repository".into(),
            hint: "run `git init` first (or cd into your repository)".into(),
        });
    }
    Ok(PathBuf::from(
        String::from_utf8_lossy(&out.stdout).trim_end_matches('\n'),
    ))
}

/// Files of the repository (tracked, untracked and ignored, relative to the
/// root), each with whether git ignores it. Ignored files are listed because
/// `.env` usually is ignored: init says so instead of missing it.
fn repository_files(root: &Path) -> Result<Vec<(PathBuf, bool)>> {
    let list = |extra: &[&str]| -> Result<Vec<PathBuf>> {
        let out = Command::new("git")
            .current_dir(root)
            .args(["ls-files", "-z", "--cached", "--others"])
            .args(extra)
            .output()
            .map_err(|e| Error::Usage(format!("enseal init: cannot run git ls-files: {e}")))?;
        Ok(out
            .stdout
            .split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| PathBuf::from(String::from_utf8_lossy(s).into_owned()))
            .collect())
    };
    let visible = list(&["--exclude-standard"])?;
    let mut files: Vec<(PathBuf, bool)> = visible.iter().map(|p| (p.clone(), false)).collect();
    // Ignored environment files, found without descending into ignored
    // folders (node_modules, target).
    let ignored = list(&["--ignored", "--exclude-standard", "--directory"])?;
    for path in ignored {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if name.is_some_and(|n| n == ".env" || n.starts_with(".env.")) && root.join(&path).is_file()
        {
            files.push((path, true));
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// True when this clone already has enseal's git drivers configured.
fn git_setup_done(root: &Path) -> bool {
    Command::new("git")
        .current_dir(root)
        .args(["config", "--local", "--get", "diff.enseal.textconv"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The recipient of the first identity in an identities file.
fn recipient_of(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Advice {
        code: 1,
        message: format!(
            "enseal init: cannot read your age identity {}: {e}",
            path.display()
        ),
        hint: "fix its permissions, or point SOPS_AGE_KEY_FILE at another identity file".into(),
    })?;
    let text = zeroize::Zeroizing::new(text);
    for line in text.lines().map(str::trim) {
        if let Some(public) = line.strip_prefix("# public key: ") {
            return Ok(public.trim().to_string());
        }
        if line.starts_with("AGE-SECRET-KEY-1") {
            if let Ok(identity) = line.parse::<age::x25519::Identity>() {
                return Ok(identity.to_public().to_string());
            }
        }
    }
    Err(Error::Advice {
        code: 1,
        message: format!(
            "enseal init: {} holds no age identity whose recipient can be told",
            path.display()
        ),
        hint: "add an `AGE-SECRET-KEY-1…` line (age-keygen), or point SOPS_AGE_KEY_FILE at another file"
            .into(),
    })
}

/// Creates a new X25519 identity file (0600, its folder 0700) and returns
/// its recipient. Never replaces an existing file.
fn create_identity(path: &Path) -> Result<String> {
    use age::secrecy::ExposeSecret;
    use std::io::Write;
    let fail = |e: std::io::Error| Error::Usage(format!("cannot create {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(dir).map_err(fail)?;
    }
    // X25519, not post-quantum: sops before 3.12 cannot use age1pq1
    // recipients, and the file must open for teammates on the sops binary.
    #[allow(deprecated)]
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(fail)?;
    let created = crate::tree::Timestamp::now_utc().to_rfc3339();
    let secret = identity.to_string();
    let text = zeroize::Zeroizing::new(format!(
        "# created: {created} by enseal init\n# public key: {recipient}\n{}\n",
        secret.expose_secret()
    ));
    file.write_all(text.as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    Ok(recipient)
}

/// Appends a local `enseal check` hook to the repos list.
fn add_pre_commit_hook(path: &Path) -> Result<()> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Usage(format!("cannot read {}: {e}", path.display())))?;
    let hook = "  - repo: local\n    hooks:\n      - id: enseal-check\n        name: enseal check\n        entry: enseal check\n        language: system\n        pass_filenames: false\n";
    let last_top_level = text.lines().rev().find(|l| {
        !l.is_empty() && !l.starts_with(' ') && !l.starts_with('#') && !l.starts_with('-')
    });
    let new_text = match last_top_level {
        Some(l) if l.trim_end() == "repos:" => {
            let mut t = text.clone();
            if !t.ends_with('\n') {
                t.push('\n');
            }
            t.push_str(hook);
            t
        }
        None => format!("{text}repos:\n{hook}"),
        Some(_) => {
            return Err(Error::Advice {
                code: 1,
                message: format!(
                "enseal init: cannot add the hook to {}: `repos:` is not its last top-level key",
                path.display()
            ),
                hint: format!("add this under repos: yourself:\n{hook}"),
            })
        }
    };
    crate::fsutil::write_atomic(path, new_text.as_bytes())
        .map_err(|e| Error::Usage(format!("cannot write {}: {e}", path.display())))
}

/// Runs this enseal binary with `args` in `dir` (git setup, encrypt -i),
/// its output passed through.
fn run_self(dir: &Path, args: &[&str]) -> Result<()> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::Usage(format!("cannot find the enseal executable: {e}")))?;
    let status = Command::new(exe)
        .current_dir(dir)
        .args(args)
        .status()
        .map_err(|e| Error::Usage(format!("cannot run enseal {}: {e}", args.join(" "))))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Coded(
            status.code().unwrap_or(1),
            format!("enseal {} failed", args.join(" ")),
        ))
    }
}

/// One question on the terminal for the whole plan.
fn confirm() -> Result<bool> {
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(Error::Advice {
            code: 1,
            message: "enseal init: cannot ask for confirmation: no terminal".into(),
            hint: "pass --yes to apply the plan, or --dry-run to only show it".into(),
        });
    }
    super::prompt::confirm("Apply this plan?")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Store;

    #[test]
    fn the_default_rule_covers_secret_paths_and_not_templates() {
        let re = regex::Regex::new(&path_regex(&[".env.qa".into()])).unwrap();
        for yes in [
            ".env",
            "app/.env",
            ".env.production",
            ".env.local",
            ".env.qa",
            "secrets/db.yaml",
            "deploy/secrets/x.json",
            "values.enc.yaml",
            "k8s/app.enc.json",
            "prod.env",
        ] {
            assert!(re.is_match(yes), "{yes}");
        }
        for no in [
            ".env.example",
            ".envrc",
            "README.md",
            "secrets",
            "src/main.rs",
            ".env.qa2",
        ] {
            assert!(!re.is_match(no), "{no}");
        }
    }

    #[test]
    fn env_variants_found_are_named_unless_templates_or_usual() {
        assert_eq!(env_variant(Path::new("a/.env.qa")), Some(".env.qa".into()));
        assert_eq!(env_variant(Path::new(".env.production")), None);
        assert_eq!(env_variant(Path::new(".env.example")), None);
        assert_eq!(env_variant(Path::new(".env")), None);
        assert!(is_template(Path::new(".env.sample")));
        assert!(is_template(Path::new("config.example.yaml")));
        assert!(!is_template(Path::new(".env.prod")));
    }

    #[test]
    fn the_config_quotes_the_regex_for_yaml() {
        let text = config_text(&path_regex(&[]));
        let docs = crate::format::yaml::YamlStore::new(&Default::default())
            .parse_plain(text.replace(RECIPIENT_PLACEHOLDER, "age1x").as_bytes())
            .unwrap();
        let config =
            crate::config::Config::from_document(Path::new(".sops.yaml"), &docs[0]).unwrap();
        assert!(config.unknown_keys.is_empty());
        let rule = config
            .rule_for(Path::new("/r/.env"), Path::new("/r"))
            .unwrap()
            .unwrap();
        assert_eq!(rule.key_groups[0].age, ["age1x"]);
    }
}

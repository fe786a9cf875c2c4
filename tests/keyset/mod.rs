//! Throw-away age identities for the key-changing tests (`rotate`,
//! `updatekeys`, `groups`), generated per test in the sandbox.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use age::secrecy::ExposeSecret;

use crate::common::*;

/// Three identities, each in its own key file, and one file with all three.
pub struct KeySet {
    /// `keys/kN.txt`.
    pub files: Vec<PathBuf>,
    /// The recipients, in the same order.
    pub recipients: Vec<String>,
    /// A key file holding all identities.
    pub all: PathBuf,
}

impl KeySet {
    /// Generates three identities below the sandbox root (not in `work/`).
    pub fn new(sb: &Sandbox) -> KeySet {
        let dir = sb.root().join("keys");
        std::fs::create_dir_all(&dir).expect("mkdir keys");
        let mut files = Vec::new();
        let mut recipients = Vec::new();
        let mut all = String::new();
        for n in 1..=3 {
            #[allow(deprecated)] // X25519 identities, as sops files use them
            let id = age::x25519::Identity::generate();
            let public = id.to_public().to_string();
            let text = format!(
                "# public key: {public}\n{}\n",
                id.to_string().expose_secret()
            );
            let path = dir.join(format!("k{n}.txt"));
            std::fs::write(&path, &text).expect("write key");
            all.push_str(&text);
            files.push(path);
            recipients.push(public);
        }
        let all_path = dir.join("all.txt");
        std::fs::write(&all_path, all).expect("write keys");
        KeySet {
            files,
            recipients,
            all: all_path,
        }
    }

    /// Recipient `n` (0-based).
    pub fn r(&self, n: usize) -> &str {
        &self.recipients[n]
    }

    /// A key file holding only the identities `ns` (0-based).
    pub fn only(&self, ns: &[usize]) -> PathBuf {
        let name: String = ns.iter().map(|n| n.to_string()).collect();
        let path = self.all.with_file_name(format!("only-{name}.txt"));
        let text: String = ns
            .iter()
            .map(|&n| std::fs::read_to_string(&self.files[n]).expect("read key"))
            .collect();
        std::fs::write(&path, text).expect("write key");
        path
    }
}

/// `cmd` with `SOPS_AGE_KEY_FILE` set.
pub fn with_keys(mut cmd: Command, key_file: &Path) -> Command {
    cmd.env("SOPS_AGE_KEY_FILE", key_file);
    cmd
}

/// The `ENC[…]` strings of the data (everything before the metadata).
pub fn value_encs(text: &str) -> Vec<String> {
    let data = text.split("\nsops:").next().unwrap_or(text);
    let re = regex::Regex::new(r"ENC\[[^\]]*\]").expect("regex");
    re.find_iter(data).map(|m| m.as_str().to_string()).collect()
}

/// The metadata line starting with `field:` (trimmed), e.g. `mac: ENC[…]`.
pub fn meta_line(text: &str, field: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} line in:\n{text}"))
        .to_string()
}

/// The recipients listed in the metadata, in file order.
pub fn recipients_in(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix("- recipient: "))
        .map(|s| s.trim().to_string())
        .collect()
}

/// The age armor blocks of the metadata.
pub fn armors(text: &str) -> Vec<String> {
    let re = regex::Regex::new(
        r"(?s)-----BEGIN AGE ENCRYPTED FILE-----.*?-----END AGE ENCRYPTED FILE-----",
    )
    .expect("regex");
    re.find_iter(text).map(|m| m.as_str().to_string()).collect()
}

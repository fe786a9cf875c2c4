//! What `--version` prints.
//!
//! Scripts that check `sops --version` parse its first line (`sops 3.11.0`),
//! so when enseal is started under the name `sops` the first line is the sops
//! version whose behaviour enseal follows, with enseal's own version after it
//! in parentheses. Under any other name it names enseal first.

/// enseal's own version (Cargo.toml).
pub const ENSEAL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The sops release whose output and behaviour enseal follows by default.
pub const SOPS_VERSION: &str = "3.11.0";

/// The commit the binary was built from (build.rs), empty when unknown.
pub const COMMIT: &str = env!("ENSEAL_COMMIT");

/// enseal's version with the commit, e.g. `0.1.0 (commit 1a2b3c4d5e6f)`.
pub fn enseal_version() -> String {
    if COMMIT.is_empty() {
        ENSEAL_VERSION.to_string()
    } else {
        format!("{ENSEAL_VERSION} (commit {COMMIT})")
    }
}

/// The whole `--version` text, ending with a newline. `as_sops`: the
/// program was started under the name `sops`.
pub fn version_text(as_sops: bool) -> String {
    if as_sops {
        format!("sops {SOPS_VERSION} (enseal {})\n", enseal_version())
    } else {
        format!(
            "enseal {}\ncompatible with sops {SOPS_VERSION} (files of sops 3.0 to 3.13)\n",
            enseal_version()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn started_as_sops_the_first_line_reads_as_a_sops_version() {
        let text = version_text(true);
        let first = text.lines().next().unwrap();
        let mut words = first.split_whitespace();
        assert_eq!(words.next(), Some("sops"));
        let version = words.next().unwrap();
        let parts: Vec<u32> = version.split('.').map(|p| p.parse().unwrap()).collect();
        assert_eq!(parts.len(), 3, "{first}");
        assert!(
            first.contains(&format!("(enseal {ENSEAL_VERSION}")),
            "{first}"
        );
    }

    #[test]
    fn otherwise_enseal_comes_first_with_the_sops_version_it_follows() {
        let text = version_text(false);
        assert!(
            text.starts_with(&format!("enseal {ENSEAL_VERSION}")),
            "{text}"
        );
        assert!(text.contains(SOPS_VERSION), "{text}");
    }

    #[test]
    fn the_commit_is_shown_when_known() {
        let v = enseal_version();
        if COMMIT.is_empty() {
            assert_eq!(v, ENSEAL_VERSION);
        } else {
            assert!(v.ends_with(&format!("(commit {COMMIT})")), "{v}");
        }
    }
}

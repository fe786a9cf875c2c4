//! Which values are encrypted (docs/spec/format.md §5).

use regex::Regex;

/// The sops field name and value of the one encryption rule of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncryptionRule {
    /// Encrypt unless some path element ends with this suffix.
    UnencryptedSuffix(String),
    /// Encrypt only when some path element ends with this suffix.
    EncryptedSuffix(String),
    /// Encrypt unless some path element matches.
    UnencryptedRegex(String),
    /// Encrypt only when some path element matches.
    EncryptedRegex(String),
    /// Encrypt unless a governing comment matches.
    UnencryptedCommentRegex(String),
    /// Encrypt only when a governing comment matches.
    EncryptedCommentRegex(String),
}

/// The suffix sops records when no rule was configured.
pub const DEFAULT_UNENCRYPTED_SUFFIX: &str = "_unencrypted";

impl Default for EncryptionRule {
    fn default() -> Self {
        EncryptionRule::UnencryptedSuffix(DEFAULT_UNENCRYPTED_SUFFIX.to_string())
    }
}

impl EncryptionRule {
    /// Every metadata field name of a rule, in sops' order.
    pub const FIELDS: [&'static str; 6] = [
        "unencrypted_suffix",
        "encrypted_suffix",
        "unencrypted_regex",
        "encrypted_regex",
        "unencrypted_comment_regex",
        "encrypted_comment_regex",
    ];

    /// The rule for a metadata field name and value.
    pub fn from_field(field: &str, value: String) -> Option<EncryptionRule> {
        Some(match field {
            "unencrypted_suffix" => EncryptionRule::UnencryptedSuffix(value),
            "encrypted_suffix" => EncryptionRule::EncryptedSuffix(value),
            "unencrypted_regex" => EncryptionRule::UnencryptedRegex(value),
            "encrypted_regex" => EncryptionRule::EncryptedRegex(value),
            "unencrypted_comment_regex" => EncryptionRule::UnencryptedCommentRegex(value),
            "encrypted_comment_regex" => EncryptionRule::EncryptedCommentRegex(value),
            _ => return None,
        })
    }

    /// The metadata field name and its value.
    pub fn field(&self) -> (&'static str, &str) {
        match self {
            EncryptionRule::UnencryptedSuffix(v) => ("unencrypted_suffix", v),
            EncryptionRule::EncryptedSuffix(v) => ("encrypted_suffix", v),
            EncryptionRule::UnencryptedRegex(v) => ("unencrypted_regex", v),
            EncryptionRule::EncryptedRegex(v) => ("encrypted_regex", v),
            EncryptionRule::UnencryptedCommentRegex(v) => ("unencrypted_comment_regex", v),
            EncryptionRule::EncryptedCommentRegex(v) => ("encrypted_comment_regex", v),
        }
    }
}

/// A compiled rule that decides, for one leaf, whether it is encrypted.
#[derive(Debug, Clone)]
pub enum Selector {
    /// See [`EncryptionRule::UnencryptedSuffix`].
    UnencryptedSuffix(String),
    /// See [`EncryptionRule::EncryptedSuffix`].
    EncryptedSuffix(String),
    /// An invalid expression never matches, as in sops.
    UnencryptedRegex(Option<Regex>),
    /// See [`EncryptionRule::EncryptedRegex`].
    EncryptedRegex(Option<Regex>),
    /// See [`EncryptionRule::UnencryptedCommentRegex`].
    UnencryptedCommentRegex(Option<Regex>),
    /// See [`EncryptionRule::EncryptedCommentRegex`].
    EncryptedCommentRegex(Option<Regex>),
}

/// `key.ends_with(suffix)`, deciding most keys by their last byte (this
/// runs for every key on the path of every value).
fn has_suffix(key: &str, suffix: &str) -> bool {
    match (key.as_bytes().last(), suffix.as_bytes().last()) {
        (Some(k), Some(s)) if k != s => false,
        _ => key.ends_with(suffix),
    }
}

impl Selector {
    /// Compiles a rule.
    pub fn new(rule: &EncryptionRule) -> Selector {
        let re = |s: &str| Regex::new(s).ok();
        match rule {
            EncryptionRule::UnencryptedSuffix(s) => Selector::UnencryptedSuffix(s.clone()),
            EncryptionRule::EncryptedSuffix(s) => Selector::EncryptedSuffix(s.clone()),
            EncryptionRule::UnencryptedRegex(s) => Selector::UnencryptedRegex(re(s)),
            EncryptionRule::EncryptedRegex(s) => Selector::EncryptedRegex(re(s)),
            EncryptionRule::UnencryptedCommentRegex(s) => Selector::UnencryptedCommentRegex(re(s)),
            EncryptionRule::EncryptedCommentRegex(s) => Selector::EncryptedCommentRegex(re(s)),
        }
    }

    /// Decides for one leaf. `path` holds the ancestors' keys and, for a
    /// value in a mapping, its own key; `comments` is the comment stack
    /// (one list per open container); `is_comment` is true for comments.
    pub fn should_encrypt(
        &self,
        path: &[&str],
        comments: &[Vec<String>],
        is_comment: bool,
    ) -> bool {
        let any_path = |f: &dyn Fn(&str) -> bool| path.iter().any(|p| f(p));
        match self {
            Selector::UnencryptedSuffix(s) => !any_path(&|p| has_suffix(p, s)),
            Selector::EncryptedSuffix(s) => any_path(&|p| has_suffix(p, s)),
            Selector::UnencryptedRegex(re) => {
                !re.as_ref().is_some_and(|re| any_path(&|p| re.is_match(p)))
            }
            Selector::EncryptedRegex(re) => {
                re.as_ref().is_some_and(|re| any_path(&|p| re.is_match(p)))
            }
            Selector::UnencryptedCommentRegex(re) => !re
                .as_ref()
                .is_some_and(|re| comments.iter().flatten().any(|c| re.is_match(c))),
            Selector::EncryptedCommentRegex(re) => {
                let Some(re) = re else { return false };
                let last = comments.len().saturating_sub(1);
                comments.iter().enumerate().any(|(level, list)| {
                    // A comment leaf does not count itself (the last text of the innermost list).
                    let considered = if is_comment && level == last {
                        &list[..list.len().saturating_sub(1)]
                    } else {
                        &list[..]
                    };
                    considered.iter().any(|c| re.is_match(c))
                })
            }
        }
    }

    /// The compiled unencrypted-comment regex, for the writer's guard.
    pub fn unencrypted_comment_regex(&self) -> Option<&Regex> {
        match self {
            Selector::UnencryptedCommentRegex(Some(re)) => Some(re),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_check_equals_ends_with() {
        for key in [
            "",
            "a",
            "d",
            "password",
            "x_unencrypted",
            "_unencrypted",
            "unencrypted",
        ] {
            for suffix in ["", "d", "_unencrypted", "ted"] {
                assert_eq!(
                    has_suffix(key, suffix),
                    key.ends_with(suffix),
                    "{key} {suffix}"
                );
            }
        }
    }

    #[test]
    fn suffix_rules_apply_to_subtrees() {
        let s = Selector::new(&EncryptionRule::default());
        assert!(s.should_encrypt(&["db", "password"], &[], false));
        assert!(!s.should_encrypt(&["db_unencrypted", "password"], &[], false));
        let e = Selector::new(&EncryptionRule::EncryptedSuffix("_secret".into()));
        assert!(e.should_encrypt(&["a_secret", "x"], &[], false));
        assert!(!e.should_encrypt(&[], &[], true));
    }

    #[test]
    fn regex_rules_are_unanchored_and_invalid_never_matches() {
        let r = Selector::new(&EncryptionRule::EncryptedRegex("^pass".into()));
        assert!(r.should_encrypt(&["db", "password"], &[], false));
        assert!(!r.should_encrypt(&["db", "user"], &[], false));
        let bad = Selector::new(&EncryptionRule::UnencryptedRegex("(".into()));
        assert!(bad.should_encrypt(&["x"], &[], false));
    }

    #[test]
    fn encrypted_comment_regex_skips_the_marker_itself() {
        let s = Selector::new(&EncryptionRule::EncryptedCommentRegex("sops:enc".into()));
        let stack = vec![vec![" sops:enc".to_string()]];
        assert!(s.should_encrypt(&["k"], &stack, false));
        assert!(!s.should_encrypt(&[], &stack, true));
        let two = vec![vec![" sops:enc".to_string(), " next".to_string()]];
        assert!(s.should_encrypt(&[], &two, true));
    }
}

//! enseal: a sops-compatible encrypted-file tool.
//!
//! Data flows one way: bytes → [`format`] → [`tree`] + metadata →
//! [`keys`] → data key → [`crypto`] → tree → format → bytes.

pub mod format;
pub mod gofmt;
pub mod tree;

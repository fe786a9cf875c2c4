//! enseal: a sops-compatible encrypted-file tool.
//!
//! Data flows one way: bytes → [`format`] → [`tree`] + metadata →
//! [`keys`] → data key → [`crypto`] → tree → format → bytes.

// Tests make X25519 age identities, the kind sops files use most; the age
// crate deprecates generating them in favour of post-quantum ones.
#![cfg_attr(test, allow(deprecated))]

pub mod check;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod document;
pub mod error;
pub mod format;
pub mod fsutil;
pub mod gofmt;
pub mod history;
pub mod hygiene;
pub mod keys;
pub mod lock;
pub mod merge;
pub mod metadata;
pub mod parallel;
pub mod preserve;
pub mod publish;
mod quoted;
pub mod shown;
mod stack_text;
pub mod tree;
pub mod tree_path;
pub mod tty_guard;
pub mod version;

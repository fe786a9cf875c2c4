//! The sops key service protocol (gRPC): a server that wraps and unwraps
//! data keys with this machine's master keys, and a client that asks such
//! a server. The wire contract is `keyservice.proto` beside this file.
//!
//! Library code only: the server reports [`server::Event`]s and the caller
//! prints them. Nothing of gRPC runs (no runtime, no socket) until a key
//! service is used.

pub mod client;
pub mod convert;
pub mod proto;
pub mod server;
pub mod uri;

pub use uri::Address;

use std::time::Duration;

/// The largest gRPC message either side accepts or sends. A data key is 32
/// bytes; its wrapped form is at most a few KiB (an armored age file with a
/// post-quantum or plugin stanza, a PGP message for a large RSA key).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// The largest data key or Shamir share the server wraps or the client
/// accepts back (a data key is 32 bytes, a share 33).
pub const MAX_SECRET_BYTES: usize = 1024;

/// How long a client waits to connect.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one request may take (a key operation may wait for a KMS, a
/// Vault server or a gpg passphrase prompt).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// A single-threaded tokio runtime for the gRPC side.
fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| format!("cannot start the key service runtime: {e}"))
}

/// The default socket of `enseal keyservice`: `sops-keyservice.sock` in
/// `$XDG_RUNTIME_DIR` (a private per-user directory) when it is set,
/// else in the working directory.
pub fn default_socket_path() -> std::path::PathBuf {
    let name = "sops-keyservice.sock";
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => std::path::Path::new(&dir).join(name),
        _ => std::path::PathBuf::from(name),
    }
}

//! `enseal keyservice` (serve this machine's keys to sops-compatible
//! clients) and the global `--keyservice` / `--enable-local-keyservice`
//! flags (use such a server).

use clap::Args;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::keys::KeyServices;
use crate::keyservice::server::{BoundServer, Event, ServerOptions};
use crate::keyservice::Address;

/// `enseal keyservice`.
#[derive(Debug, Args)]
#[command(after_help = KEYSERVICE_HELP)]
pub(crate) struct KeyserviceCmd {
    /// Network to listen on: unix or tcp (sops' default is tcp).
    #[arg(
        long,
        visible_alias = "net",
        value_name = "NETWORK",
        default_value = "unix"
    )]
    network: String,
    /// Address to listen on: a socket path for unix (default
    /// $XDG_RUNTIME_DIR/sops-keyservice.sock, else ./sops-keyservice.sock),
    /// host:port for tcp (default 127.0.0.1:5000).
    #[arg(long, visible_alias = "addr", value_name = "ADDRESS")]
    address: Option<String>,
    /// Listen on a tcp address that is not loopback (anyone who can reach
    /// it can then use this machine's keys).
    #[arg(long)]
    allow_remote: bool,
    /// Log every request (operation, key, result) on standard error.
    #[arg(long)]
    verbose: bool,
}

const KEYSERVICE_HELP: &str = "\
The unix socket is created mode 0600 and only processes of the same user are
served. Use it from sops or enseal with --keyservice unix:///path/to/socket.";

/// The global key service flags (sops' names and variables).
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct KeyServiceArgs {
    /// A key service to use in addition to the local one:
    /// unix:///path/to/socket or tcp://host:port (repeatable; the variable
    /// takes a comma-separated list).
    #[arg(
        long = "keyservice",
        value_name = "URI",
        env = "SOPS_KEYSERVICE",
        value_delimiter = ',',
        global = true
    )]
    keyservice: Vec<String>,
    /// Use this machine's keys as well as the --keyservice services
    /// (default true; --enable-local-keyservice=false uses only those).
    #[arg(
        long,
        value_name = "BOOL",
        env = "SOPS_ENABLE_LOCAL_KEYSERVICE",
        global = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = parse_go_bool
    )]
    enable_local_keyservice: Option<bool>,
}

/// A boolean as Go's strconv.ParseBool reads it (sops' flags and variables).
fn parse_go_bool(text: &str) -> std::result::Result<bool, String> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        other => Err(format!("invalid boolean value {other:?}")),
    }
}

impl KeyServiceArgs {
    /// The key services these flags select.
    fn services(&self) -> Result<KeyServices> {
        let remote = self
            .keyservice
            .iter()
            .map(|uri| Address::parse_uri(uri.trim()))
            .collect::<std::result::Result<Vec<_>, String>>()
            .map_err(Error::Usage)?;
        Ok(KeyServices {
            local: self.enable_local_keyservice.unwrap_or(true),
            remote,
        })
    }
}

/// Makes the flags' key services the ones every master key uses.
pub(crate) fn apply(args: &KeyServiceArgs) -> Result<()> {
    crate::keys::use_key_services(args.services()?);
    Ok(())
}

/// Runs the key service until SIGINT or SIGTERM.
pub(crate) fn run(cmd: &KeyserviceCmd) -> Result<()> {
    let address = match (cmd.network.as_str(), cmd.address.as_deref()) {
        ("unix", None) => Ok(Address::Unix(crate::keyservice::default_socket_path())),
        (network, None) => Address::from_network(network, "127.0.0.1:5000"),
        (network, Some(address)) => Address::from_network(network, address),
    }
    .map_err(Error::Usage)?;
    let options = ServerOptions {
        address,
        allow_remote: cmd.allow_remote,
    };
    let bound = BoundServer::bind(&options).map_err(Error::Usage)?;
    if let Address::Tcp(host_port) = &options.address {
        if cmd.allow_remote {
            eprintln!(
                "warning: serving tcp://{host_port} without authentication or TLS: anyone who can reach it can use this machine's keys"
            );
        } else {
            eprintln!(
                "warning: every local user can connect to tcp://{host_port}; --network unix serves only you"
            );
        }
    }
    let verbose = cmd.verbose;
    let events = Arc::new(move |event: Event| match event {
        Event::Listening(address) => eprintln!("Listening on {address}"),
        Event::RefusedPeer { uid } => match uid {
            Some(uid) => eprintln!("refused a connection from uid {uid}"),
            None => eprintln!("refused a connection from an unknown user"),
        },
        Event::Request { operation, key, ok } if verbose => {
            let result = if ok { "done" } else { "failed" };
            eprintln!("{operation} with {key}: {result}");
        }
        Event::Request { .. } => {}
    });
    bound
        .serve_until(events, shutdown_signal())
        .map_err(Error::Key)
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_parse_as_go_does() {
        for yes in ["1", "t", "T", "true", "TRUE", "True"] {
            assert_eq!(parse_go_bool(yes), Ok(true));
        }
        for no in ["0", "f", "F", "false", "FALSE", "False"] {
            assert_eq!(parse_go_bool(no), Ok(false));
        }
        assert!(parse_go_bool("yes").is_err());
    }

    #[test]
    fn flags_select_the_key_services() {
        let args = KeyServiceArgs {
            keyservice: vec!["unix:///s".into(), " tcp://127.0.0.1:1".into()],
            enable_local_keyservice: Some(false),
        };
        assert_eq!(
            args.services().unwrap(),
            KeyServices {
                local: false,
                remote: vec![
                    Address::Unix("/s".into()),
                    Address::Tcp("127.0.0.1:1".into())
                ],
            }
        );
        assert_eq!(
            KeyServiceArgs::default().services().unwrap(),
            KeyServices::default()
        );
        let bad = KeyServiceArgs {
            keyservice: vec!["nope".into()],
            enable_local_keyservice: None,
        };
        assert!(bad.services().is_err());
    }
}

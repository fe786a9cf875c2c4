//! `enseal keyservice` (serve this machine's keys to sops-compatible
//! clients) and the global `--keyservice` / `--enable-local-keyservice`
//! flags (use such a server).

use super::args::KeyserviceCmd;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::keys::service::server::{BoundServer, Event, ServerOptions};
use crate::keys::service::Address;

/// Runs the key service until SIGINT or SIGTERM.
pub(crate) fn run(cmd: &KeyserviceCmd) -> Result<()> {
    let address = match (cmd.network.as_str(), cmd.address.as_deref()) {
        ("unix", None) => Ok(Address::Unix(crate::keys::service::default_socket_path())),
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

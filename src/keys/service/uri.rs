//! Key service addresses: the `--keyservice` URIs of clients and the
//! `--network`/`--address` pairs of servers.

use std::fmt;
use std::path::PathBuf;

/// Where a key service listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A unix domain socket.
    Unix(PathBuf),
    /// A TCP `host:port` (a name, an IPv4 address, or `[IPv6]`).
    Tcp(String),
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unix(path) => write!(f, "unix://{}", path.display()),
            Address::Tcp(host_port) => write!(f, "tcp://{host_port}"),
        }
    }
}

impl Address {
    /// Parses a client URI as sops reads `--keyservice`:
    /// `unix:///absolute/path`, `unix:path` (relative or absolute),
    /// `tcp://host:port` (also `tcp4://`, `tcp6://`).
    pub fn parse_uri(uri: &str) -> Result<Address, String> {
        let bad = |why: &str| {
            format!(
                "invalid key service URI {uri:?}: {why} (expected unix:///path/to/socket or tcp://host:port)"
            )
        };
        let (scheme, rest) = uri.split_once(':').ok_or_else(|| bad("no scheme"))?;
        match scheme {
            "unix" => {
                let path = match rest.strip_prefix("//") {
                    // unix://<authority>/<path>: the authority must be empty.
                    Some(after) if after.starts_with('/') => after,
                    Some(_) => return Err(bad("a unix URI takes an absolute path after unix://")),
                    None => rest,
                };
                if path.is_empty() {
                    return Err(bad("no socket path"));
                }
                if path.contains(['?', '#']) {
                    return Err(bad("a socket path takes no query or fragment"));
                }
                Ok(Address::Unix(PathBuf::from(path)))
            }
            "tcp" | "tcp4" | "tcp6" => {
                let host_port = rest
                    .strip_prefix("//")
                    .ok_or_else(|| bad("expected tcp://host:port"))?;
                check_host_port(host_port).map_err(|why| bad(&why))?;
                Ok(Address::Tcp(host_port.to_string()))
            }
            _ => Err(bad("unknown scheme")),
        }
    }

    /// A server address from `--network` and `--address`.
    pub fn from_network(network: &str, address: &str) -> Result<Address, String> {
        match network {
            "unix" => {
                if address.is_empty() {
                    return Err("the unix socket path is empty".into());
                }
                Ok(Address::Unix(PathBuf::from(address)))
            }
            "tcp" | "tcp4" | "tcp6" => {
                check_host_port(address)
                    .map_err(|why| format!("invalid tcp address {address:?}: {why}"))?;
                Ok(Address::Tcp(address.to_string()))
            }
            other => Err(format!(
                "unsupported network {other:?}: use 'unix' or 'tcp'"
            )),
        }
    }

    /// The resolved socket addresses of a TCP address (`host` may be a
    /// name; an empty host means every interface, as in Go).
    pub fn tcp_socket_addrs(host_port: &str) -> Result<Vec<std::net::SocketAddr>, String> {
        use std::net::ToSocketAddrs;
        let spec = match host_port.strip_prefix(':') {
            Some(port) => format!("0.0.0.0:{port}"),
            None => host_port.to_string(),
        };
        spec.to_socket_addrs()
            .map(Iterator::collect)
            .map_err(|e| format!("cannot resolve {host_port:?}: {e}"))
    }
}

/// Checks `host:port`: a port number, and a host without path or user info.
fn check_host_port(host_port: &str) -> Result<(), String> {
    let (host, port) = host_port
        .rsplit_once(':')
        .ok_or_else(|| "missing port".to_string())?;
    if port.parse::<u16>().is_err() {
        return Err(format!("bad port {port:?}"));
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if bare.contains(['/', '@', '?', '#', '[', ']']) || (bare.contains(':') && bare == host) {
        return Err(format!("bad host {host:?}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_uris_parse_as_sops_reads_them() {
        let unix = |p: &str| Ok(Address::Unix(PathBuf::from(p)));
        assert_eq!(
            Address::parse_uri("unix:///run/ks.sock"),
            unix("/run/ks.sock")
        );
        assert_eq!(Address::parse_uri("unix:ks.sock"), unix("ks.sock"));
        assert_eq!(Address::parse_uri("unix:/tmp/a b"), unix("/tmp/a b"));
        assert_eq!(
            Address::parse_uri("tcp://127.0.0.1:5000"),
            Ok(Address::Tcp("127.0.0.1:5000".into()))
        );
        assert_eq!(
            Address::parse_uri("tcp://[::1]:5000"),
            Ok(Address::Tcp("[::1]:5000".into()))
        );
        assert_eq!(
            Address::parse_uri("tcp://keys.example:5000"),
            Ok(Address::Tcp("keys.example:5000".into()))
        );
        for (bad, why) in [
            ("127.0.0.1:5000", "unknown scheme"),
            ("nothing", "no scheme"),
            ("http://h:1", "unknown scheme"),
            ("unix://host/sock", "absolute path"),
            ("unix://", "absolute path"),
            ("unix:", "no socket path"),
            ("unix:///s?x=1", "query"),
            ("tcp://h", "missing port"),
            ("tcp://h:x", "bad port"),
            ("tcp://h:99999", "bad port"),
            ("tcp://u@h:1", "bad host"),
            ("tcp://h/p:1", "bad host"),
            ("tcp://::1:5000", "bad host"),
            ("tcp:h:1", "tcp://host:port"),
        ] {
            let err = Address::parse_uri(bad).unwrap_err();
            assert!(err.contains(why) && err.contains(bad), "{bad}: {err}");
        }
    }

    #[test]
    fn server_addresses_come_from_network_and_address() {
        assert_eq!(
            Address::from_network("unix", "/s").unwrap().to_string(),
            "unix:///s"
        );
        assert_eq!(
            Address::from_network("tcp", "127.0.0.1:5000").unwrap(),
            Address::Tcp("127.0.0.1:5000".into())
        );
        assert!(Address::from_network("udp", "x:1")
            .unwrap_err()
            .contains("unsupported network"));
        assert!(Address::from_network("tcp", "nope").is_err());
        assert!(Address::from_network("unix", "").is_err());
    }

    #[test]
    fn an_empty_host_means_every_interface() {
        let addrs = Address::tcp_socket_addrs(":5000").unwrap();
        assert!(addrs.iter().all(|a| a.ip().is_unspecified()));
        let local = Address::tcp_socket_addrs("127.0.0.1:5000").unwrap();
        assert!(local.iter().all(|a| a.ip().is_loopback()));
    }
}

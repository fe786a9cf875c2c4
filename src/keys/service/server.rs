//! The key service server: answers `Encrypt` and `Decrypt` with enseal's
//! own master-key code, on a unix socket only its owner can use or on a
//! loopback TCP port.
//!
//! The key operations run one at a time on a worker thread (the backends
//! block, and the age identities are loaded once and kept there); the gRPC
//! side runs on a current-thread tokio runtime.

use super::convert::{from_message, KeyError};
use super::proto::{self, DecryptRequest, DecryptResponse, EncryptRequest, EncryptResponse};
use super::uri::Address;
use super::{MAX_MESSAGE_BYTES, MAX_SECRET_BYTES, REQUEST_TIMEOUT};
use crate::keys::{KeyContext, MasterKey};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll};
use tonic::codegen::{http, BoxFuture, Service, StdError};
use tonic::Status;
use zeroize::Zeroizing;

/// What the server reports while it runs (the caller decides what to print).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Listening on this address.
    Listening(String),
    /// A connection from another user's process was closed unanswered.
    RefusedPeer {
        /// The peer's uid (`None` when it could not be read).
        uid: Option<u32>,
    },
    /// A request was answered (`ok`) or failed.
    Request {
        /// `encrypt` or `decrypt`.
        operation: &'static str,
        /// The key as sops names it (type and identifier).
        key: String,
        /// Whether it succeeded.
        ok: bool,
    },
}

/// How to serve.
pub struct ServerOptions {
    /// Where to listen.
    pub address: Address,
    /// Allow a TCP address that is not loopback (anyone who can reach the
    /// port can then use the server's keys).
    pub allow_remote: bool,
}

/// A receiver of [`Event`]s.
pub type EventSink = Arc<dyn Fn(Event) + Send + Sync>;

/// A bound, not yet serving, key service.
pub struct BoundServer {
    listener: Listener,
    address: Address,
    /// The socket file to remove on shutdown.
    socket_file: Option<PathBuf>,
}

enum Listener {
    Unix(std::os::unix::net::UnixListener),
    Tcp(std::net::TcpListener),
}

impl BoundServer {
    /// Binds the address. A unix socket is created with mode 0600 (under a
    /// umask of 0177 while binding); an existing file there is an error.
    /// A TCP address must be loopback unless `allow_remote`.
    pub fn bind(options: &ServerOptions) -> Result<BoundServer, String> {
        match &options.address {
            Address::Unix(path) => {
                let listener = bind_unix(path)?;
                Ok(BoundServer {
                    listener: Listener::Unix(listener),
                    address: options.address.clone(),
                    socket_file: Some(path.clone()),
                })
            }
            Address::Tcp(host_port) => {
                let addrs = Address::tcp_socket_addrs(host_port)?;
                if addrs.is_empty() {
                    return Err(format!("{host_port:?} resolves to no address"));
                }
                if !options.allow_remote && !addrs.iter().all(|a| a.ip().is_loopback()) {
                    return Err(format!(
                        "refusing to listen on tcp://{host_port}: not a loopback address (anyone who can reach it could use this machine's keys)"
                    ));
                }
                let listener = std::net::TcpListener::bind(&addrs[..])
                    .map_err(|e| format!("cannot listen on tcp://{host_port}: {e}"))?;
                listener
                    .set_nonblocking(true)
                    .map_err(|e| format!("cannot listen on tcp://{host_port}: {e}"))?;
                Ok(BoundServer {
                    listener: Listener::Tcp(listener),
                    address: options.address.clone(),
                    socket_file: None,
                })
            }
        }
    }

    /// The address served, with the port the system chose for port 0.
    pub fn local_address(&self) -> String {
        match &self.listener {
            Listener::Tcp(l) => l
                .local_addr()
                .map(|a| format!("tcp://{a}"))
                .unwrap_or_else(|_| self.address.to_string()),
            Listener::Unix(_) => self.address.to_string(),
        }
    }

    /// Serves until `shutdown` completes, then removes the socket file.
    /// [`Event::Listening`] is sent once `shutdown` has been polled.
    pub fn serve_until(
        self,
        events: EventSink,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), String> {
        let runtime = super::runtime()?;
        let worker = Worker::start()?;
        let service = KeyService {
            worker,
            events: events.clone(),
        };
        let socket_file = self.socket_file.clone();
        let listening = self.local_address();
        let result = runtime.block_on(async move {
            // Poll `shutdown` once before announcing the address, so that
            // whatever it sets up (signal handlers) is in place by then.
            let mut shutdown = std::pin::pin!(shutdown);
            let stopped =
                std::future::poll_fn(|cx| Poll::Ready(shutdown.as_mut().poll(cx).is_ready())).await;
            if stopped {
                return Ok(());
            }
            events(Event::Listening(listening));
            let server = tonic::transport::Server::builder()
                .timeout(REQUEST_TIMEOUT)
                .concurrency_limit_per_connection(4)
                .max_concurrent_streams(Some(16))
                .http2_max_header_list_size(Some(16 * 1024));
            match self.listener {
                Listener::Unix(std_listener) => {
                    let listener = tokio::net::UnixListener::from_std(std_listener)
                        .map_err(|e| e.to_string())?;
                    let incoming = same_user_connections(listener, events.clone());
                    server
                        .serve_with_incoming_shutdown(service, incoming, shutdown)
                        .await
                }
                Listener::Tcp(std_listener) => {
                    let listener = tokio::net::TcpListener::from_std(std_listener)
                        .map_err(|e| e.to_string())?;
                    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
                    server
                        .serve_with_incoming_shutdown(service, incoming, shutdown)
                        .await
                }
            }
            .map_err(|e| format!("key service: {e}"))
        });
        if let Some(path) = socket_file {
            let _ = std::fs::remove_file(path);
        }
        result
    }
}

/// Binds a unix socket that only its owner may connect to.
fn bind_unix(path: &Path) -> Result<std::os::unix::net::UnixListener, String> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display();
    if std::fs::symlink_metadata(path).is_ok() {
        return Err(format!(
            "cannot listen on unix://{shown}: the file exists (remove it if no key service is using it)"
        ));
    }
    // SAFETY: umask only swaps the process file-mode mask; restored below.
    let previous = unsafe { libc::umask(0o177) };
    let bound = std::os::unix::net::UnixListener::bind(path);
    // SAFETY: as above.
    unsafe { libc::umask(previous) };
    let listener = bound.map_err(|e| format!("cannot listen on unix://{shown}: {e}"))?;
    let secured = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| listener.set_nonblocking(true));
    if let Err(e) = secured {
        let _ = std::fs::remove_file(path);
        return Err(format!("cannot secure unix://{shown}: {e}"));
    }
    Ok(listener)
}

/// The connections of a unix listener whose peer runs as this process's
/// effective uid; others are closed at once and reported.
fn same_user_connections(
    listener: tokio::net::UnixListener,
    events: EventSink,
) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::UnixStream>> {
    use tokio_stream::StreamExt;
    // SAFETY: geteuid cannot fail and has no preconditions.
    let uid = unsafe { libc::geteuid() };
    tokio_stream::wrappers::UnixListenerStream::new(listener).filter(move |connection| {
        let Ok(stream) = connection else { return true };
        let peer = stream.peer_cred().ok().map(|c| c.uid());
        let allowed = peer_allowed(peer, uid);
        if !allowed {
            events(Event::RefusedPeer { uid: peer });
        }
        allowed
    })
}

/// Whether a peer with uid `peer` may use the service of `owner`.
fn peer_allowed(peer: Option<u32>, owner: u32) -> bool {
    peer == Some(owner)
}

/// One key operation for the worker.
enum Job {
    Encrypt(EncryptRequest),
    Decrypt(DecryptRequest),
}

type Reply = tokio::sync::oneshot::Sender<Result<Zeroizing<Vec<u8>>, Status>>;

/// The thread that runs the key operations, one at a time.
#[derive(Clone)]
struct Worker {
    jobs: mpsc::SyncSender<(Job, Reply)>,
}

impl Worker {
    fn start() -> Result<Worker, String> {
        let (jobs, queue) = mpsc::sync_channel::<(Job, Reply)>(16);
        std::thread::Builder::new()
            .name("keyservice-worker".into())
            .spawn(move || {
                let mut context = KeyContext::new();
                for (job, reply) in queue {
                    let _ = reply.send(run_job(job, &mut context));
                }
            })
            .map_err(|e| format!("cannot start the key service worker: {e}"))?;
        Ok(Worker { jobs })
    }

    async fn run(&self, job: Job) -> Result<Zeroizing<Vec<u8>>, Status> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.jobs.try_send((job, reply)).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => Status::resource_exhausted("key service busy"),
            mpsc::TrySendError::Disconnected(_) => Status::internal("key service worker stopped"),
        })?;
        answer
            .await
            .map_err(|_| Status::internal("key service worker stopped"))?
    }
}

/// Runs one job: the key from the request is checked as a key from a file.
fn run_job(job: Job, context: &mut KeyContext) -> Result<Zeroizing<Vec<u8>>, Status> {
    match job {
        Job::Encrypt(request) => {
            let plaintext = Zeroizing::new(request.plaintext);
            if plaintext.is_empty() || plaintext.len() > MAX_SECRET_BYTES {
                return Err(Status::invalid_argument(format!(
                    "the data key to encrypt must be 1 to {MAX_SECRET_BYTES} bytes long"
                )));
            }
            let mut key = request_key(request.key.as_ref(), String::new())?;
            key.wrap_local(&plaintext).map_err(Status::unknown)?;
            let enc = match &key {
                MasterKey::Age(age) => age.enc.clone(),
                MasterKey::Service(service) => service.field("enc").to_string(),
            };
            Ok(Zeroizing::new(enc.into_bytes()))
        }
        Job::Decrypt(request) => {
            let enc = String::from_utf8(request.ciphertext).map_err(|_| {
                Status::invalid_argument("the encrypted data key is not valid UTF-8")
            })?;
            if enc.is_empty() {
                return Err(Status::invalid_argument("the encrypted data key is empty"));
            }
            let key = request_key(request.key.as_ref(), enc)?;
            key.unwrap_local(context).map_err(Status::unknown)
        }
    }
}

fn request_key(key: Option<&proto::Key>, enc: String) -> Result<MasterKey, Status> {
    from_message(key, enc).map_err(|e| match e {
        // sops' status and text for a request without a key.
        KeyError::Missing => Status::not_found("Must provide a key"),
        KeyError::Invalid(why) => Status::invalid_argument(why),
    })
}

/// The gRPC service: routes `/KeyService/Encrypt` and `/KeyService/Decrypt`.
#[derive(Clone)]
struct KeyService {
    worker: Worker,
    events: EventSink,
}

impl KeyService {
    fn report(&self, operation: &'static str, key: Option<&proto::Key>, ok: bool) {
        let key = from_message(key, String::new())
            .map(|k| k.describe())
            .unwrap_or_else(|_| "an invalid key".into());
        (self.events)(Event::Request {
            operation,
            key: crate::error::shown(&key).into_owned(),
            ok,
        });
    }
}

impl tonic::server::NamedService for KeyService {
    const NAME: &'static str = "KeyService";
}

impl<B> Service<http::Request<B>> for KeyService
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let this = self.clone();
        match request.uri().path() {
            proto::ENCRYPT_PATH => Box::pin(async move {
                let handler = tower::service_fn(move |r: tonic::Request<EncryptRequest>| {
                    let this = this.clone();
                    async move {
                        let request = r.into_inner();
                        let key = request.key.clone();
                        let result = this.worker.run(Job::Encrypt(request)).await;
                        this.report("encrypt", key.as_ref(), result.is_ok());
                        result.map(|ciphertext| {
                            tonic::Response::new(EncryptResponse {
                                ciphertext: ciphertext.to_vec(),
                            })
                        })
                    }
                });
                Ok(grpc().unary(handler, request).await)
            }) as Pin<Box<_>>,
            proto::DECRYPT_PATH => Box::pin(async move {
                let handler = tower::service_fn(move |r: tonic::Request<DecryptRequest>| {
                    let this = this.clone();
                    async move {
                        let request = r.into_inner();
                        let key = request.key.clone();
                        let result = this.worker.run(Job::Decrypt(request)).await;
                        this.report("decrypt", key.as_ref(), result.is_ok());
                        result.map(|plaintext| {
                            tonic::Response::new(DecryptResponse {
                                plaintext: plaintext.to_vec(),
                            })
                        })
                    }
                });
                Ok(grpc().unary(handler, request).await)
            }),
            _ => Box::pin(async move { Ok(Status::unimplemented("unknown method").into_http()) }),
        }
    }
}

/// The gRPC codec of one call, with the message size caps.
fn grpc<M1, M2>() -> tonic::server::Grpc<tonic_prost::ProstCodec<M1, M2>>
where
    M1: prost::Message + Send + 'static,
    M2: prost::Message + Default + Send + 'static,
{
    tonic::server::Grpc::new(tonic_prost::ProstCodec::default())
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_owner_uid_is_served() {
        assert!(peer_allowed(Some(1000), 1000));
        assert!(!peer_allowed(Some(0), 1000));
        assert!(!peer_allowed(Some(1001), 1000));
        assert!(!peer_allowed(None, 1000));
    }

    #[test]
    fn a_unix_socket_is_created_0600_and_never_over_a_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ks.sock");
        let options = ServerOptions {
            address: Address::Unix(path.clone()),
            allow_remote: false,
        };
        let bound = BoundServer::bind(&options).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        drop(bound);
        let err = BoundServer::bind(&options).err().unwrap();
        assert!(err.contains("the file exists"), "{err}");
    }

    #[test]
    fn a_non_loopback_tcp_address_needs_allow_remote() {
        let remote = ServerOptions {
            address: Address::Tcp("0.0.0.0:0".into()),
            allow_remote: false,
        };
        let err = BoundServer::bind(&remote).err().unwrap();
        assert!(err.contains("not a loopback address"), "{err}");
        let loopback = ServerOptions {
            address: Address::Tcp("127.0.0.1:0".into()),
            allow_remote: false,
        };
        let bound = BoundServer::bind(&loopback).unwrap();
        assert!(bound.local_address().starts_with("tcp://127.0.0.1:"));
        let allowed = ServerOptions {
            allow_remote: true,
            ..remote
        };
        assert!(BoundServer::bind(&allowed).is_ok());
    }

    #[test]
    fn requests_are_checked_before_any_key_is_used() {
        let mut context = KeyContext::new();
        let status = run_job(
            Job::Encrypt(EncryptRequest {
                key: None,
                plaintext: vec![0; 32],
            }),
            &mut context,
        )
        .unwrap_err();
        assert_eq!(
            (status.code(), status.message()),
            (tonic::Code::NotFound, "Must provide a key")
        );
        let too_long = run_job(
            Job::Encrypt(EncryptRequest {
                key: None,
                plaintext: vec![0; MAX_SECRET_BYTES + 1],
            }),
            &mut context,
        )
        .unwrap_err();
        assert_eq!(too_long.code(), tonic::Code::InvalidArgument);
        let not_utf8 = run_job(
            Job::Decrypt(DecryptRequest {
                key: None,
                ciphertext: vec![0xff],
            }),
            &mut context,
        )
        .unwrap_err();
        assert_eq!(not_utf8.code(), tonic::Code::InvalidArgument);
        // An hckms key whose region is not a region id: refused before
        // any request is signed or sent.
        let hckms = proto::Key {
            key_type: Some(proto::key::KeyType::HckmsKey(proto::HckmsKey {
                key_id: "attacker.example/x:u".into(),
            })),
        };
        let refused = run_job(
            Job::Decrypt(DecryptRequest {
                key: Some(hckms),
                ciphertext: b"x".to_vec(),
            }),
            &mut context,
        )
        .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unknown);
        assert!(
            refused.message().contains("not a HuaweiCloud region id"),
            "{}",
            refused.message()
        );
    }
}

//! The key service client: wraps and unwraps a data key for a master key
//! through a remote service.
//!
//! Nothing here runs until a key service is used: the tokio runtime and the
//! connections are created on the first call and kept for the process.

use super::convert::to_message;
use super::proto::{self, DecryptRequest, DecryptResponse, EncryptRequest, EncryptResponse};
use super::uri::Address;
use super::{CONNECT_TIMEOUT, MAX_MESSAGE_BYTES, MAX_SECRET_BYTES, REQUEST_TIMEOUT};
use crate::keys::MasterKey;
use std::collections::HashMap;
use std::sync::Mutex;
use tonic::transport::{Channel, Endpoint};
use zeroize::Zeroizing;

/// The runtime and the open channels, by address.
struct Clients {
    runtime: tokio::runtime::Runtime,
    channels: HashMap<String, Channel>,
}

static CLIENTS: Mutex<Option<Clients>> = Mutex::new(None);

/// Asks the service at `address` to wrap `secret` for `key`; returns what
/// the key's `enc` field stores.
pub fn encrypt(address: &Address, key: &MasterKey, secret: &[u8]) -> Result<String, String> {
    let request = EncryptRequest {
        key: Some(to_message(key)?),
        plaintext: secret.to_vec(),
    };
    let response: EncryptResponse = call(address, proto::ENCRYPT_PATH, request)?;
    String::from_utf8(response.ciphertext)
        .map_err(|_| format!("key service {address}: the encrypted data key is not UTF-8"))
}

/// Asks the service at `address` to unwrap `enc` with `key`.
pub fn decrypt(
    address: &Address,
    key: &MasterKey,
    enc: &str,
) -> Result<Zeroizing<Vec<u8>>, String> {
    let request = DecryptRequest {
        key: Some(to_message(key)?),
        ciphertext: enc.as_bytes().to_vec(),
    };
    let response: DecryptResponse = call(address, proto::DECRYPT_PATH, request)?;
    let plaintext = Zeroizing::new(response.plaintext);
    if plaintext.is_empty() || plaintext.len() > MAX_SECRET_BYTES {
        return Err(format!(
            "key service {address}: the data key it returned is {} bytes long",
            plaintext.len()
        ));
    }
    Ok(plaintext)
}

/// One unary call on the (cached) channel to `address`.
fn call<Req, Resp>(address: &Address, path: &'static str, request: Req) -> Result<Resp, String>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    let mut guard = CLIENTS.lock().unwrap_or_else(|e| e.into_inner());
    if guard.is_none() {
        *guard = Some(Clients {
            runtime: super::runtime()?,
            channels: HashMap::new(),
        });
    }
    let clients = guard.as_mut().expect("initialised above");
    let Clients { runtime, channels } = clients;
    let shown = address.to_string();
    runtime.block_on(async {
        let channel = match channels.get(&shown) {
            Some(channel) => channel.clone(),
            None => {
                let channel = connect(address).await?;
                channels.insert(shown.clone(), channel.clone());
                channel
            }
        };
        let mut grpc = tonic::client::Grpc::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        grpc.ready()
            .await
            .map_err(|e| format!("key service {shown}: {e}"))?;
        let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
        let path = tonic::codegen::http::uri::PathAndQuery::from_static(path);
        grpc.unary(tonic::Request::new(request), path, codec)
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| format!("key service {shown}: {}", status.message()))
    })
}

/// Connects to a key service (plain HTTP/2, as sops' clients do).
async fn connect(address: &Address) -> Result<Channel, String> {
    let failed = |e: tonic::transport::Error| {
        use std::error::Error;
        let cause = e.source().map(|s| format!(": {s}")).unwrap_or_default();
        format!("cannot connect to key service {address}: {e}{cause}")
    };
    match address {
        Address::Tcp(host_port) => endpoint(&format!("http://{host_port}"))?
            .connect()
            .await
            .map_err(failed),
        Address::Unix(path) => {
            let path = path.clone();
            // The URI is required by the API but unused: the connector
            // opens the socket.
            endpoint("http://localhost")?
                .connect_with_connector(tower::service_fn(move |_| {
                    let path = path.clone();
                    async move {
                        tokio::net::UnixStream::connect(path)
                            .await
                            .map(hyper_util::rt::TokioIo::new)
                    }
                }))
                .await
                .map_err(failed)
        }
    }
}

fn endpoint(uri: &str) -> Result<Endpoint, String> {
    Ok(Endpoint::from_shared(uri.to_string())
        .map_err(|e| format!("invalid key service address {uri:?}: {e}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT))
}

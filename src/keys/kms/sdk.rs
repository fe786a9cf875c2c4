//! The AWS SDK side of the kms backend (cargo feature `aws`): one
//! current-thread tokio runtime, created on first use, runs the config
//! loading, the optional STS AssumeRole and the KMS call. `publish` to S3
//! and Secrets Manager uses the same runtime ([`run`]), base config
//! ([`base_config`]) and error wording ([`describe_error`]).
//!
//! Every call is bounded: connect and read timeouts, a per-attempt and a
//! per-operation timeout, at most [`MAX_ATTEMPTS`] attempts, and a final
//! guard around the whole call, so that an unreachable endpoint fails within
//! about [`OPERATION_TIMEOUT`] instead of hanging.

use super::{hostname, session_name, KmsKey};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use std::collections::HashMap;
use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;
use zeroize::Zeroizing;

/// TCP + TLS connection set-up limit.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Limit for the first byte of a response after the request was sent.
const READ_TIMEOUT: Duration = Duration::from_secs(8);
/// Limit for one attempt (request and response).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Limit for one operation, retries included.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(20);
/// Guard around everything (config, credentials, AssumeRole, KMS).
const OVERALL_TIMEOUT: Duration = Duration::from_secs(25);
/// Attempts per operation (the first one included).
const MAX_ATTEMPTS: u32 = 3;

/// The runtime, built the first time a kms key is used.
fn runtime() -> Result<&'static tokio::runtime::Runtime, String> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("could not start the AWS runtime: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Runs `fut` on the runtime, failing after [`OVERALL_TIMEOUT`].
pub(crate) fn run<T>(fut: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    runtime()?.block_on(async {
        match tokio::time::timeout(OVERALL_TIMEOUT, fut).await {
            Ok(result) => result,
            Err(_) => Err(format!("timed out after {} s", OVERALL_TIMEOUT.as_secs())),
        }
    })
}

/// The SDK config every AWS call of enseal starts from: the bounded HTTP
/// client (rustls on ring) and timeouts, the retry limit, the standard
/// credential chain (with the shared-config `profile` when not empty), and
/// `region` when given (else the chain's: `AWS_REGION`, the profile…).
/// Endpoint overrides (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`)
/// come from the user's environment, as the SDK reads them.
pub(crate) async fn base_config(region: Option<&str>, profile: &str) -> SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_string()));
    }
    if !profile.is_empty() {
        loader = loader.profile_name(profile);
    }
    loader.load().await
}

/// Loads the SDK config for `key`: region from the ARN, the standard
/// credential chain (with `aws_profile`), then the assumed role if any.
async fn config_for(key: &KmsKey) -> Result<SdkConfig, String> {
    let base = base_config(Some(&key.region), &key.profile).await;
    if key.role.is_empty() {
        return Ok(base);
    }
    let provider = aws_config::sts::AssumeRoleProvider::builder(&key.role)
        .session_name(session_name(&hostname()?))
        .configure(&base)
        .build()
        .await;
    Ok(base
        .into_builder()
        .credentials_provider(aws_sdk_kms::config::SharedCredentialsProvider::new(
            provider,
        ))
        .build())
}

/// The KMS client for `key`.
async fn client_for(key: &KmsKey) -> Result<aws_sdk_kms::Client, String> {
    Ok(aws_sdk_kms::Client::new(&config_for(key).await?))
}

/// The encryption context as the SDK takes it (`None` when empty).
fn context_of(key: &KmsKey) -> Option<HashMap<String, String>> {
    (!key.context.is_empty()).then(|| key.context.iter().cloned().collect())
}

/// Calls KMS `Encrypt`, returning the ciphertext blob.
pub(super) fn encrypt(key: &KmsKey, secret: &[u8]) -> Result<Vec<u8>, String> {
    run(async {
        let client = client_for(key).await?;
        let out = client
            .encrypt()
            .key_id(&key.arn)
            .plaintext(Blob::new(secret.to_vec()))
            .set_encryption_context(context_of(key))
            .send()
            .await
            .map_err(|e| describe(key, &e))?;
        out.ciphertext_blob
            .map(Blob::into_inner)
            .ok_or_else(|| "KMS returned no ciphertext".to_string())
    })
}

/// Calls KMS `Decrypt`, returning the data key (or share).
pub(super) fn decrypt(key: &KmsKey, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
    run(async {
        let client = client_for(key).await?;
        let out = client
            .decrypt()
            .key_id(&key.arn)
            .ciphertext_blob(Blob::new(blob.to_vec()))
            .set_encryption_context(context_of(key))
            .send()
            .await
            .map_err(|e| describe(key, &e))?;
        out.plaintext
            .map(|p| Zeroizing::new(p.into_inner()))
            .ok_or_else(|| "KMS returned no plaintext".to_string())
    })
}

/// One line describing an SDK error of a kms key's call, naming the role
/// when loading the assumed role's credentials failed.
fn describe<E, R>(key: &KmsKey, err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let text = describe_error(err);
    if !key.role.is_empty() && text.contains("loading credentials") {
        format!("failed to assume role '{}': {text}", key.role)
    } else {
        text
    }
}

/// One line describing an SDK error: the service's error code and message
/// (`AccessDeniedException: …`, `InvalidCiphertextException`), or the
/// transport cause (connection refused, timeout, missing credentials).
pub(crate) fn describe_error<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let text = match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            match (e.code(), e.message()) {
                (Some(code), Some(message)) if !message.is_empty() => format!("{code}: {message}"),
                (Some(code), _) => code.to_string(),
                _ => chain(err),
            }
        }
        SdkError::TimeoutError(_) => format!(
            "timed out (no answer within {} s)",
            OPERATION_TIMEOUT.as_secs()
        ),
        _ => chain(err),
    };
    one_line(&text)
}

/// An error and its sources, `: `-separated, each message once (the SDK's
/// own `DisplayErrorContext` also appends a debug dump, too long for a
/// one-line error).
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && parts.last() != Some(&text) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// Collapses whitespace runs (newlines included) into single spaces.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_one_line() {
        assert_eq!(one_line("a\n  b\tc \n"), "a b c");
    }

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);
    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn chains_join_sources_once() {
        let err = Layer(
            "dispatch failure",
            Some(Box::new(Layer(
                "io error",
                Some(Box::new(Layer(
                    "io error",
                    Some(Box::new(Layer("Connection refused", None))),
                ))),
            ))),
        );
        assert_eq!(
            chain(&err),
            "dispatch failure: io error: Connection refused"
        );
    }

    #[test]
    fn the_bounds_fit_together() {
        assert!(CONNECT_TIMEOUT < ATTEMPT_TIMEOUT);
        assert!(ATTEMPT_TIMEOUT < OPERATION_TIMEOUT);
        assert!(OPERATION_TIMEOUT <= OVERALL_TIMEOUT);
        assert!(OVERALL_TIMEOUT <= Duration::from_secs(30));
    }
}

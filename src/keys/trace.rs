//! What `--verbose` shows of the key services: one event per attempt to
//! wrap or unwrap a data key (or share) with one master key, on this
//! machine or at one remote key service. The library only reports events;
//! the command line decides whether and how to print them.
//!
//! An event carries the key's public identifier (recipient, fingerprint,
//! ARN, key URI), where it was tried, the outcome and the time taken:
//! never key material, since errors of the backends never hold any.

use std::sync::OnceLock;
use std::time::Duration;

/// Wrapping (encrypting) or unwrapping (decrypting) a data key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// The data key (or a Shamir share) encrypted for a master key.
    Wrap,
    /// The data key (or a Shamir share) decrypted with a master key.
    Unwrap,
}

/// One attempt with one master key at one key service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEvent {
    /// What was attempted.
    pub operation: Operation,
    /// The key type (`age`, `pgp`, `kms`, …).
    pub key_type: String,
    /// The key's public identifier, as sops names it.
    pub key: String,
    /// `local`, or the remote key service's address (`unix://…`, `tcp://…`).
    pub service: String,
    /// `Ok`, or the one-line reason it failed.
    pub outcome: Result<(), String>,
    /// How long the attempt took.
    pub elapsed: Duration,
}

impl std::fmt::Display for KeyEvent {
    /// `unwrap age age1… at local: ok (3 ms)`, or `…: failed: reason`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let operation = match self.operation {
            Operation::Wrap => "wrap",
            Operation::Unwrap => "unwrap",
        };
        write!(
            f,
            "{operation} {} {} at {}: ",
            self.key_type, self.key, self.service
        )?;
        let ms = self.elapsed.as_secs_f64() * 1000.0;
        match &self.outcome {
            Ok(()) => write!(f, "ok ({ms:.0} ms)"),
            Err(reason) => write!(f, "failed ({ms:.0} ms): {reason}"),
        }
    }
}

type Observer = Box<dyn Fn(&KeyEvent) + Send + Sync>;

static OBSERVER: OnceLock<Observer> = OnceLock::new();

/// Sends every later key event to `observer` (once per process, before any
/// key is used; later calls are ignored).
pub fn observe(observer: impl Fn(&KeyEvent) + Send + Sync + 'static) {
    let _ = OBSERVER.set(Box::new(observer));
}

/// True when someone listens (so that callers skip building events).
pub(crate) fn enabled() -> bool {
    OBSERVER.get().is_some()
}

/// Hands `event` to the observer, if any.
pub(crate) fn emit(event: KeyEvent) {
    if let Some(observer) = OBSERVER.get() {
        observer(&event);
    }
}

/// The key's type and public identifier for later events, `None` when
/// nobody listens (so that nothing is built).
pub(crate) fn who(key: &super::MasterKey) -> Option<(String, String)> {
    enabled().then(|| (key.type_id().to_string(), super::changes::key_string(key)))
}

/// Runs `attempt` and reports it as one event for the key `who` names
/// ([`who`]) at `service`.
pub(crate) fn timed<T>(
    operation: Operation,
    who: &Option<(String, String)>,
    service: &dyn Fn() -> String,
    attempt: impl FnOnce() -> Result<T, String>,
) -> Result<T, String> {
    let Some((key_type, key)) = who else {
        return attempt();
    };
    let start = std::time::Instant::now();
    let result = attempt();
    emit(KeyEvent {
        operation,
        key_type: key_type.clone(),
        key: key.clone(),
        service: service(),
        outcome: result.as_ref().map(|_| ()).map_err(Clone::clone),
        elapsed: start.elapsed(),
    });
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_as_one_line_with_the_outcome() {
        let mut event = KeyEvent {
            operation: Operation::Unwrap,
            key_type: "kms".into(),
            key: "arn:aws:kms:us-east-1:1:key/k".into(),
            service: "tcp://127.0.0.1:5000".into(),
            outcome: Ok(()),
            elapsed: Duration::from_millis(12),
        };
        assert_eq!(
            event.to_string(),
            "unwrap kms arn:aws:kms:us-east-1:1:key/k at tcp://127.0.0.1:5000: ok (12 ms)"
        );
        event.operation = Operation::Wrap;
        event.outcome = Err("AccessDenied".into());
        assert_eq!(
            event.to_string(),
            "wrap kms arn:aws:kms:us-east-1:1:key/k at tcp://127.0.0.1:5000: failed (12 ms): AccessDenied"
        );
    }
}

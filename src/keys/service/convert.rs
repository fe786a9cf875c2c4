//! Master keys to and from the key service's [`Key`] message.
//!
//! A key that arrives in a request is as untrusted as a key read from a
//! file: it becomes the same [`MasterKey`] a file's entry becomes, and the
//! backends apply the same checks to it (Vault allowlist and https,
//! endpoint rules, gpg argument checks, age recipient parsing). It is never
//! recorded as trusted the way a key named on the command line is.

use super::proto::{self, key::KeyType};
use crate::keys::{age::AgeKey, map_of, MasterKey, ServiceKey};
use crate::tree::{Map, Value};

/// The message for a master key (the fields sops sends for its type).
pub fn to_message(key: &MasterKey) -> Result<proto::Key, String> {
    let service = match key {
        MasterKey::Age(age) => {
            return Ok(wrap(KeyType::AgeKey(proto::AgeKey {
                recipient: age.recipient.clone(),
            })))
        }
        MasterKey::Service(service) => service,
    };
    let f = |name: &str| service.field(name).to_string();
    let kind = match service.type_id.as_str() {
        "pgp" => KeyType::PgpKey(proto::PgpKey {
            fingerprint: f("fp"),
        }),
        "kms" => KeyType::KmsKey(proto::KmsKey {
            arn: f("arn"),
            role: f("role"),
            context: match service.fields.get("context") {
                Some(Value::Map(context)) => context
                    .entries()
                    .map(|(k, v)| match v {
                        Value::Str(s) => (k.to_string(), s.clone()),
                        other => (k.to_string(), other.type_name().to_string()),
                    })
                    .collect(),
                _ => Default::default(),
            },
            aws_profile: f("aws_profile"),
        }),
        "gcp_kms" => KeyType::GcpKmsKey(proto::GcpKmsKey {
            resource_id: f("resource_id"),
        }),
        "azure_kv" => KeyType::AzureKeyvaultKey(proto::AzureKeyVaultKey {
            vault_url: f("vault_url"),
            name: f("name"),
            version: f("version"),
        }),
        "hc_vault" => KeyType::VaultKey(proto::VaultKey {
            vault_address: f("vault_address"),
            engine_path: f("engine_path"),
            key_name: f("key_name"),
        }),
        "hckms" => KeyType::HckmsKey(proto::HckmsKey {
            key_id: f("key_id"),
        }),
        other => return Err(format!("key type {other:?} has no key service message")),
    };
    Ok(wrap(kind))
}

fn wrap(kind: KeyType) -> proto::Key {
    proto::Key {
        key_type: Some(kind),
    }
}

/// What went wrong with a request's key: no key at all, or a key the
/// server cannot use.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyError {
    /// The request has no key (gRPC status NOT_FOUND, as sops answers).
    Missing,
    /// A key that fails the checks a file's key gets (INVALID_ARGUMENT).
    Invalid(String),
}

/// The master key of a request, `enc` set to `enc` (empty to encrypt).
/// Checked as a key from a file is: see the module documentation.
pub fn from_message(key: Option<&proto::Key>, enc: String) -> Result<MasterKey, KeyError> {
    let kind = key
        .and_then(|k| k.key_type.as_ref())
        .ok_or(KeyError::Missing)?;
    let s = |v: &str| Value::Str(v.to_string());
    let (type_id, fields): (&str, Vec<(&str, Value)>) = match kind {
        KeyType::AgeKey(age) => {
            let mut key = AgeKey::new(&age.recipient).map_err(KeyError::Invalid)?;
            key.enc = enc;
            return Ok(MasterKey::Age(key));
        }
        KeyType::PgpKey(k) => ("pgp", vec![("fp", s(&k.fingerprint))]),
        KeyType::KmsKey(k) => {
            let mut fields = vec![("arn", s(&k.arn)), ("role", s(&k.role))];
            if !k.context.is_empty() {
                let context = k.context.iter().map(|(k, v)| (k.as_str(), s(v))).collect();
                fields.push(("context", Value::Map(map_of(context))));
            }
            fields.push(("aws_profile", s(&k.aws_profile)));
            ("kms", fields)
        }
        KeyType::GcpKmsKey(k) => ("gcp_kms", vec![("resource_id", s(&k.resource_id))]),
        KeyType::AzureKeyvaultKey(k) => (
            "azure_kv",
            vec![
                ("vault_url", s(&k.vault_url)),
                ("name", s(&k.name)),
                ("version", s(&k.version)),
            ],
        ),
        KeyType::VaultKey(k) => (
            "hc_vault",
            vec![
                ("vault_address", s(&k.vault_address)),
                ("engine_path", s(&k.engine_path)),
                ("key_name", s(&k.key_name)),
            ],
        ),
        KeyType::HckmsKey(k) => ("hckms", vec![("key_id", s(&k.key_id))]),
    };
    let mut fields: Map = map_of(fields);
    fields.push("enc", Value::Str(enc));
    Ok(MasterKey::Service(ServiceKey {
        type_id: type_id.to_string(),
        fields,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::spec::AzureKvSpec;

    fn round_trip(key: MasterKey) -> MasterKey {
        let message = to_message(&key).unwrap();
        from_message(Some(&message), "E".into()).unwrap()
    }

    #[test]
    fn every_key_type_crosses_the_wire_with_its_fields() {
        let context = vec![("b".to_string(), "2".to_string()), ("a".into(), "1".into())];
        let keys: Vec<MasterKey> = vec![
            ServiceKey::kms(
                "arn:aws:kms:r:1:key/k",
                "arn:aws:iam::1:role/r",
                &context,
                "p",
            )
            .into(),
            ServiceKey::pgp("ABCDEF").into(),
            ServiceKey::gcp_kms("projects/p/locations/l/keyRings/r/cryptoKeys/k").into(),
            ServiceKey::azure_kv(&AzureKvSpec {
                vault_url: "https://v.vault.azure.net".into(),
                name: "n".into(),
                version: "1".into(),
            })
            .into(),
            ServiceKey::hc_vault_parts("https://vault.example", "transit", "k").into(),
            ServiceKey::hckms("tr-west-1:0d0466b0-e727-4d9c-b35d-f84bb474a37f")
                .unwrap()
                .into(),
        ];
        for key in keys {
            let back = round_trip(key.clone());
            assert_eq!(
                crate::keys::changes::key_identity(&back),
                crate::keys::changes::key_identity(&key)
            );
            let MasterKey::Service(back) = back else {
                panic!()
            };
            assert_eq!(back.field("enc"), "E");
        }
        let recipient = ::age::x25519::Identity::generate().to_public().to_string();
        let MasterKey::Age(age) = round_trip(MasterKey::Age(AgeKey::new(&recipient).unwrap()))
        else {
            panic!()
        };
        assert_eq!(
            (age.recipient.as_str(), age.enc.as_str()),
            (recipient.as_str(), "E")
        );
    }

    #[test]
    fn bad_and_missing_keys_are_refused() {
        assert_eq!(from_message(None, String::new()), Err(KeyError::Missing));
        assert_eq!(
            from_message(Some(&proto::Key { key_type: None }), String::new()),
            Err(KeyError::Missing)
        );
        let bad_age = wrap(KeyType::AgeKey(proto::AgeKey {
            recipient: "bogus".into(),
        }));
        assert!(matches!(
            from_message(Some(&bad_age), String::new()),
            Err(KeyError::Invalid(_))
        ));
        // An hckms key's id is checked by the backend before any request
        // (its region goes into a host name), not here.
        let hckms = wrap(KeyType::HckmsKey(proto::HckmsKey {
            key_id: "evil.example/x:u".into(),
        }));
        let key = from_message(Some(&hckms), String::new()).unwrap();
        let err = key
            .unwrap_local(&mut crate::keys::KeyContext::new())
            .unwrap_err();
        assert!(err.contains("not a HuaweiCloud region id"), "{err}");
    }
}

//! The key service messages (see `keyservice.proto` beside this file),
//! derived by hand with prost: the tags are the .proto field numbers.

use std::collections::BTreeMap;

/// A master key: exactly one of the kinds of [`key::KeyType`].
#[derive(Clone, PartialEq, prost::Message)]
pub struct Key {
    /// The kind of key and its parameters.
    #[prost(oneof = "key::KeyType", tags = "1, 2, 3, 4, 5, 6, 7")]
    pub key_type: Option<key::KeyType>,
}

/// The kinds of [`Key`].
pub mod key {
    /// One kind of master key, by its .proto field number.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum KeyType {
        /// AWS KMS.
        #[prost(message, tag = "1")]
        KmsKey(super::KmsKey),
        /// OpenPGP through gpg.
        #[prost(message, tag = "2")]
        PgpKey(super::PgpKey),
        /// GCP Cloud KMS.
        #[prost(message, tag = "3")]
        GcpKmsKey(super::GcpKmsKey),
        /// Azure Key Vault.
        #[prost(message, tag = "4")]
        AzureKeyvaultKey(super::AzureKeyVaultKey),
        /// HashiCorp Vault / OpenBao transit.
        #[prost(message, tag = "5")]
        VaultKey(super::VaultKey),
        /// age.
        #[prost(message, tag = "6")]
        AgeKey(super::AgeKey),
        /// HuaweiCloud KMS.
        #[prost(message, tag = "7")]
        HckmsKey(super::HckmsKey),
    }
}

/// An OpenPGP key.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PgpKey {
    /// The key's fingerprint.
    #[prost(string, tag = "1")]
    pub fingerprint: String,
}

/// An AWS KMS key.
#[derive(Clone, PartialEq, prost::Message)]
pub struct KmsKey {
    /// The key ARN.
    #[prost(string, tag = "1")]
    pub arn: String,
    /// The IAM role to assume (may be empty).
    #[prost(string, tag = "2")]
    pub role: String,
    /// The encryption context (sorted, so the encoding is stable).
    #[prost(btree_map = "string, string", tag = "3")]
    pub context: BTreeMap<String, String>,
    /// The AWS credentials profile (may be empty).
    #[prost(string, tag = "4")]
    pub aws_profile: String,
}

/// A GCP Cloud KMS key.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GcpKmsKey {
    /// `projects/…/locations/…/keyRings/…/cryptoKeys/…`.
    #[prost(string, tag = "1")]
    pub resource_id: String,
}

/// A Vault transit key.
#[derive(Clone, PartialEq, prost::Message)]
pub struct VaultKey {
    /// `https://host[:port]`.
    #[prost(string, tag = "1")]
    pub vault_address: String,
    /// The transit engine's mount path.
    #[prost(string, tag = "2")]
    pub engine_path: String,
    /// The key's name.
    #[prost(string, tag = "3")]
    pub key_name: String,
}

/// An Azure Key Vault key.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AzureKeyVaultKey {
    /// `https://<vault>.vault.azure.net`.
    #[prost(string, tag = "1")]
    pub vault_url: String,
    /// The key's name.
    #[prost(string, tag = "2")]
    pub name: String,
    /// The key version (empty: the latest).
    #[prost(string, tag = "3")]
    pub version: String,
}

/// An age recipient.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AgeKey {
    /// `age1…`, an SSH public key, or a plugin recipient.
    #[prost(string, tag = "1")]
    pub recipient: String,
}

/// A HuaweiCloud KMS key.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HckmsKey {
    /// `region:key-uuid`.
    #[prost(string, tag = "1")]
    pub key_id: String,
}

/// Wrap a data key (or Shamir share) for a master key.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EncryptRequest {
    /// The master key.
    #[prost(message, optional, tag = "1")]
    pub key: Option<Key>,
    /// The data key or share.
    #[prost(bytes = "vec", tag = "2")]
    pub plaintext: Vec<u8>,
}

/// The wrapped key.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EncryptResponse {
    /// What a file stores in the key's `enc` field.
    #[prost(bytes = "vec", tag = "1")]
    pub ciphertext: Vec<u8>,
}

/// Unwrap a data key (or Shamir share) with a master key.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DecryptRequest {
    /// The master key.
    #[prost(message, optional, tag = "1")]
    pub key: Option<Key>,
    /// The key's `enc` field.
    #[prost(bytes = "vec", tag = "2")]
    pub ciphertext: Vec<u8>,
}

/// The unwrapped key.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DecryptResponse {
    /// The data key or share.
    #[prost(bytes = "vec", tag = "1")]
    pub plaintext: Vec<u8>,
}

/// The gRPC path of the `Encrypt` method (the .proto has no package).
pub const ENCRYPT_PATH: &str = "/KeyService/Encrypt";
/// The gRPC path of the `Decrypt` method.
pub const DECRYPT_PATH: &str = "/KeyService/Decrypt";

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn age_request() -> EncryptRequest {
        EncryptRequest {
            key: Some(Key {
                key_type: Some(key::KeyType::AgeKey(AgeKey {
                    recipient: "age1x".into(),
                })),
            }),
            plaintext: vec![1, 2, 3],
        }
    }

    /// The bytes worked out by hand from the field numbers of the .proto:
    /// (field << 3) | 2 for every length-delimited field.
    #[test]
    fn an_encrypt_request_has_the_bytes_the_proto_defines() {
        let expected: &[u8] = &[
            0x0a, 0x09, // EncryptRequest.key (1), 9 bytes
            0x32, 0x07, // Key.age_key (6), 7 bytes
            0x0a, 0x05, b'a', b'g', b'e', b'1', b'x', // AgeKey.recipient (1)
            0x12, 0x03, 1, 2, 3, // EncryptRequest.plaintext (2)
        ];
        assert_eq!(age_request().encode_to_vec(), expected);
        assert_eq!(EncryptRequest::decode(expected).unwrap(), age_request());
    }

    #[test]
    fn every_key_kind_has_its_proto_field_number() {
        use key::KeyType::*;
        let kinds = [
            (KmsKey(Default::default()), 1u8),
            (PgpKey(Default::default()), 2),
            (GcpKmsKey(Default::default()), 3),
            (AzureKeyvaultKey(Default::default()), 4),
            (VaultKey(Default::default()), 5),
            (AgeKey(Default::default()), 6),
            (HckmsKey(Default::default()), 7),
        ];
        for (kind, number) in kinds {
            let bytes = Key {
                key_type: Some(kind),
            }
            .encode_to_vec();
            // An empty sub-message: tag byte, length 0.
            assert_eq!(bytes, [(number << 3) | 2, 0]);
        }
    }

    #[test]
    fn kms_fields_and_context_map_have_their_numbers() {
        let mut context = BTreeMap::new();
        context.insert("a".to_string(), "b".to_string());
        let kms = super::KmsKey {
            arn: "r".into(),
            role: "o".into(),
            context,
            aws_profile: "p".into(),
        };
        assert_eq!(
            kms.encode_to_vec(),
            [
                0x0a, 1, b'r', // arn (1)
                0x12, 1, b'o', // role (2)
                0x1a, 6, 0x0a, 1, b'a', 0x12, 1, b'b', // context (3): entry key 1, value 2
                0x22, 1, b'p', // aws_profile (4)
            ]
        );
        let decrypt = DecryptRequest {
            key: None,
            ciphertext: b"c".to_vec(),
        };
        assert_eq!(decrypt.encode_to_vec(), [0x12, 1, b'c']);
        let response = DecryptResponse {
            plaintext: b"k".to_vec(),
        };
        assert_eq!(response.encode_to_vec(), [0x0a, 1, b'k']);
    }
}

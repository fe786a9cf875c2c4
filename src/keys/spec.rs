//! Key descriptions as `.sops.yaml` writes them, before they become master
//! keys: the raw entries of one key group, already split and normalised the
//! way sops does it. `config` produces them, `keys` builds master keys from
//! them; neither needs the other for it.

/// An AWS KMS key as described in the config.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KmsSpec {
    /// The key ARN.
    pub arn: String,
    /// The role ARN to assume, empty for none.
    pub role: String,
    /// The encryption context: `None` for keys of the per-rule `kms` field
    /// (their context comes from `--encryption-context`), `Some` (possibly
    /// empty) for `key_groups` entries, in file order.
    pub context: Option<Vec<(String, String)>>,
    /// The AWS profile, empty for the default.
    pub aws_profile: String,
}

/// An Azure Key Vault key as described in the config.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AzureKvSpec {
    /// `https://<vault host>` (no trailing slash when it came from a URL).
    pub vault_url: String,
    /// The key name.
    pub name: String,
    /// The key version; empty means "the latest, looked up at creation".
    pub version: String,
}

/// The raw keys of one key group, per type, each list in config order,
/// already split and normalised the way sops does it (spaces removed from
/// PGP fingerprints, KMS ARNs and GCP resource ids; age recipients trimmed).
///
/// An age entry may be empty (e.g. `age: [key, ""]`): sops rejects it when
/// parsing the recipient, and so should the caller.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyGroupSpec {
    /// age recipients.
    pub age: Vec<String>,
    /// PGP fingerprints.
    pub pgp: Vec<String>,
    /// AWS KMS keys.
    pub kms: Vec<KmsSpec>,
    /// GCP KMS resource ids.
    pub gcp_kms: Vec<String>,
    /// Azure Key Vault keys.
    pub azure_kv: Vec<AzureKvSpec>,
    /// HashiCorp Vault transit URIs (not validated here).
    pub hc_vault: Vec<String>,
    /// HuaweiCloud KMS `region:key-uuid` ids (not validated here).
    pub hckms: Vec<String>,
}

impl KeyGroupSpec {
    /// True when the group holds no key at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of keys in the group.
    pub fn len(&self) -> usize {
        self.age.len()
            + self.pgp.len()
            + self.kms.len()
            + self.gcp_kms.len()
            + self.azure_kv.len()
            + self.hc_vault.len()
            + self.hckms.len()
    }

    pub(crate) fn append(&mut self, other: KeyGroupSpec) {
        self.age.extend(other.age);
        self.pgp.extend(other.pgp);
        self.kms.extend(other.kms);
        self.gcp_kms.extend(other.gcp_kms);
        self.azure_kv.extend(other.azure_kv);
        self.hc_vault.extend(other.hc_vault);
        self.hckms.extend(other.hckms);
    }

    /// Drops later duplicates of the same type (docs/spec/config.md §3.3).
    pub(crate) fn dedup(&mut self) {
        fn keep_first<T: PartialEq + Clone>(list: &mut Vec<T>) {
            let mut seen: Vec<T> = Vec::with_capacity(list.len());
            list.retain(|item| {
                if seen.contains(item) {
                    false
                } else {
                    seen.push(item.clone());
                    true
                }
            });
        }
        keep_first(&mut self.age);
        keep_first(&mut self.pgp);
        keep_first(&mut self.kms);
        keep_first(&mut self.gcp_kms);
        keep_first(&mut self.azure_kv);
        keep_first(&mut self.hc_vault);
        keep_first(&mut self.hckms);
    }
}

/// A KMS key from a per-rule `kms` entry: spaces removed, `ARN+roleARN`
/// split as [`super::split_kms_role`] does.
pub(crate) fn kms_from_arn(entry: &str, aws_profile: &str) -> KmsSpec {
    let (arn, role) = super::split_kms_role(&entry.replace(' ', ""));
    KmsSpec {
        arn,
        role,
        context: None,
        aws_profile: aws_profile.to_string(),
    }
}

/// Parses `https://<vault>/keys/<name>[/<version>]` (trimmed).
pub(crate) fn azure_from_url(url: &str) -> Option<AzureKvSpec> {
    let rest = url.trim().strip_prefix("https://")?;
    let (host, rest) = rest.split_once('/')?;
    if host.is_empty() {
        return None;
    }
    let rest = rest.strip_prefix("keys/")?;
    let (name, version) = match rest.split_once('/') {
        Some((name, version)) => (name, version),
        None => (rest, ""),
    };
    if name.is_empty() || version.contains('/') {
        return None;
    }
    Some(AzureKvSpec {
        vault_url: format!("https://{host}"),
        name: name.to_string(),
        version: version.to_string(),
    })
}

//! Master keys: what wraps the data key for each recipient, key groups and
//! Shamir secret sharing, and the recovery of the data key from them.

pub mod age;
pub mod azkv;
pub mod changes;
/// HTTP helpers shared by the GCP KMS, Azure Key Vault and HuaweiCloud KMS
/// backends.
#[cfg(any(feature = "gcp", feature = "azure", feature = "huawei"))]
pub(crate) mod cloud_http;
pub mod gcpkms;
pub mod groups;
pub mod hckms;
pub mod kms;
pub mod pgp;
pub mod service;
pub mod shamir;
pub mod spec;
pub mod trace;
pub mod vault;

use crate::tree::{Item, Map, Value};
use spec::{AzureKvSpec, KeyGroupSpec};
use zeroize::Zeroizing;

pub use groups::{recover_data_key, wrap_data_key, KeyGroup};

/// One master key as stored in the metadata.
#[derive(Debug, Clone, PartialEq)]
pub enum MasterKey {
    /// An age recipient.
    Age(age::AgeKey),
    /// A key held by a key service (AWS KMS, PGP through gpg, Vault transit,
    /// GCP KMS, Azure Key Vault, HuaweiCloud KMS, or a type enseal does not
    /// know): its metadata fields, kept verbatim so that rewriting a file
    /// never loses them. The backend modules read and fill the fields.
    Service(ServiceKey),
}

/// A key-service master key: its metadata list and fields, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceKey {
    /// The metadata list it came from (`kms`, `pgp`, `gcp_kms`, …).
    pub type_id: String,
    /// Its fields, in file order.
    pub fields: Map,
}

/// The metadata key-list names, in the order sops 3.11 writes them.
pub const KEY_TYPES: [&str; 7] = [
    "kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "age", "pgp",
];

impl MasterKey {
    /// The key type id (`age`, `pgp`, `kms`, …).
    pub fn type_id(&self) -> &str {
        match self {
            MasterKey::Age(_) => "age",
            MasterKey::Service(o) => &o.type_id,
        }
    }

    /// The key as shown to users: an age recipient, else the type and the
    /// key's string form (ARN, fingerprint, resource id, key URL, …).
    pub fn describe(&self) -> String {
        match self {
            MasterKey::Age(k) => k.recipient.clone(),
            MasterKey::Service(o) => {
                let id = changes::key_string(self);
                if id.is_empty() {
                    o.type_id.clone()
                } else {
                    format!("{} {id}", o.type_id)
                }
            }
        }
    }

    /// True when enseal has a backend that can wrap and unwrap this key.
    pub fn has_backend(&self) -> bool {
        match self {
            MasterKey::Age(_) => true,
            MasterKey::Service(o) => matches!(
                o.type_id.as_str(),
                "kms" | "pgp" | "hc_vault" | "gcp_kms" | "azure_kv" | "hckms"
            ),
        }
    }

    /// Reads a key entry of the metadata list `type_id`.
    pub fn from_map(type_id: &str, map: &Map) -> Result<MasterKey, String> {
        match type_id {
            "age" => age::AgeKey::from_map(map).map(MasterKey::Age),
            other => Ok(MasterKey::Service(ServiceKey {
                type_id: other.to_string(),
                fields: map.clone(),
            })),
        }
    }

    /// The key entry as written in the metadata. Entries of the types
    /// sops 3.11 knows are written in its field order whatever order they
    /// were read in (sops rewrites them from its structs, so a file written
    /// by another version changes the same way under both tools); unknown
    /// fields of those types are dropped, as sops drops them.
    pub fn to_map(&self) -> Map {
        match self {
            MasterKey::Age(k) => k.to_map(),
            MasterKey::Service(o) => o.canonical_fields(),
        }
    }

    /// Wraps (encrypts) the data key or share for this master key, with
    /// the key services in effect ([`use_key_services`]): locally first
    /// when enabled, then each remote service in turn until one succeeds
    /// (sops' order).
    pub fn wrap(&mut self, secret: &[u8]) -> Result<(), String> {
        use trace::{timed, Operation::Wrap};
        let services = key_services();
        let local = || "local".to_string();
        let who = trace::who(self);
        if services.remote.is_empty() {
            if !services.local {
                return Err("no key services provided, cannot update master keys".into());
            }
            return timed(Wrap, &who, &local, || self.wrap_local(secret));
        }
        let mut errors = Vec::new();
        if services.local {
            match timed(Wrap, &who, &local, || self.wrap_local(secret)) {
                Ok(()) => return Ok(()),
                Err(e) => errors.push(e),
            }
        }
        for address in &services.remote {
            let at = || address.to_string();
            match timed(Wrap, &who, &at, || {
                crate::keys::service::client::encrypt(address, self, secret)
            }) {
                Ok(enc) => {
                    self.set_wrapped(enc);
                    return Ok(());
                }
                Err(e) => errors.push(format!(
                    "failed to encrypt new data key with master key {:?}: {e}",
                    changes::key_string(self)
                )),
            }
        }
        Err(errors.join(" "))
    }

    /// Stores a wrapped data key received from a key service.
    fn set_wrapped(&mut self, enc: String) {
        match self {
            MasterKey::Age(k) => k.enc = enc,
            MasterKey::Service(o) => {
                set_field(&mut o.fields, "enc", enc);
                set_field(&mut o.fields, "created_at", created_at_now());
            }
        }
    }

    /// Wraps the data key or share with this machine's backends only.
    pub fn wrap_local(&mut self, secret: &[u8]) -> Result<(), String> {
        match self {
            MasterKey::Age(k) => k.wrap(secret),
            MasterKey::Service(o) => {
                let result = match o.type_id.as_str() {
                    "kms" => kms::wrap(&mut o.fields, secret),
                    "pgp" => pgp::wrap(&mut o.fields, secret),
                    "hc_vault" => vault::wrap(&mut o.fields, secret),
                    "gcp_kms" => gcpkms::wrap(&mut o.fields, secret),
                    "azure_kv" => azkv::wrap(&mut o.fields, secret),
                    "hckms" => hckms::wrap(&mut o.fields, secret),
                    other => Err(unsupported(other)),
                };
                // sops' wording, naming the key for every backend.
                result.map_err(|e| {
                    format!(
                        "failed to encrypt new data key with master key {:?}: {e}",
                        changes::key_string(self)
                    )
                })
            }
        }
    }

    /// Unwraps the data key or share with the key services in effect
    /// ([`use_key_services`]): locally first when enabled, then each remote
    /// service in turn until one succeeds (sops' order).
    pub fn unwrap(&self, context: &mut KeyContext) -> Result<Zeroizing<Vec<u8>>, String> {
        use trace::{timed, Operation::Unwrap};
        let services = key_services();
        let local = || "local".to_string();
        let who = trace::who(self);
        if services.remote.is_empty() {
            if !services.local {
                return Err("no key services provided".into());
            }
            return timed(Unwrap, &who, &local, || self.unwrap_local(context));
        }
        let mut errors = Vec::new();
        if services.local {
            match timed(Unwrap, &who, &local, || self.unwrap_local(context)) {
                Ok(part) => return Ok(part),
                Err(e) => errors.push(e),
            }
        }
        let enc = match self {
            MasterKey::Age(k) => k.enc.as_str(),
            MasterKey::Service(o) => o.field("enc"),
        };
        for address in &services.remote {
            let at = || address.to_string();
            match timed(Unwrap, &who, &at, || {
                crate::keys::service::client::decrypt(address, self, enc)
            }) {
                Ok(part) => return Ok(part),
                Err(e) => errors.push(e),
            }
        }
        Err(errors.join("; "))
    }

    /// Unwraps the data key or share with this machine's backends only.
    pub fn unwrap_local(&self, context: &mut KeyContext) -> Result<Zeroizing<Vec<u8>>, String> {
        match self {
            MasterKey::Age(k) => k.unwrap(context.age_identities()?),
            MasterKey::Service(o) => match o.type_id.as_str() {
                "kms" => kms::unwrap(&o.fields),
                "pgp" => pgp::unwrap(&o.fields),
                "hc_vault" => vault::unwrap(&o.fields),
                "gcp_kms" => gcpkms::unwrap(&o.fields),
                "azure_kv" => azkv::unwrap(&o.fields),
                "hckms" => hckms::unwrap(&o.fields),
                other => Err(unsupported(other)),
            },
        }
    }
}

/// Where data keys are wrapped and unwrapped: on this machine and/or by
/// remote key services (`--keyservice`, `--enable-local-keyservice`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyServices {
    /// Use this machine's keys (sops' "local key service"); tried first.
    pub local: bool,
    /// Remote key services, tried in this order.
    pub remote: Vec<crate::keys::service::Address>,
}

impl Default for KeyServices {
    fn default() -> KeyServices {
        KeyServices {
            local: true,
            remote: Vec::new(),
        }
    }
}

static KEY_SERVICES: std::sync::OnceLock<KeyServices> = std::sync::OnceLock::new();

/// Sets the key services of this process (once, before any key is used;
/// the command line does it). Later calls are ignored.
pub fn use_key_services(services: KeyServices) {
    let _ = KEY_SERVICES.set(services);
}

/// The key services in effect (local only unless set).
pub fn key_services() -> &'static KeyServices {
    static LOCAL_ONLY: std::sync::OnceLock<KeyServices> = std::sync::OnceLock::new();
    KEY_SERVICES
        .get()
        .unwrap_or_else(|| LOCAL_ONLY.get_or_init(KeyServices::default))
}

/// The error for a key type enseal has no backend for.
fn unsupported(type_id: &str) -> String {
    format!("key type {type_id:?} is not supported by enseal")
}

/// The current time as sops writes `created_at` (RFC 3339, UTC, seconds).
pub(crate) fn created_at_now() -> String {
    crate::tree::Timestamp::now_utc().to_rfc3339()
}

/// What decryption may use, loaded on first need only (so that commands
/// that need no key do no work for them).
#[derive(Default)]
pub struct KeyContext {
    age: Option<Result<age::Identities, String>>,
    /// Key types in the order they are tried (`--decryption-order`).
    pub decryption_order: Vec<String>,
}

impl KeyContext {
    /// A context with the default decryption order (`age`, `pgp`).
    pub fn new() -> KeyContext {
        KeyContext {
            age: None,
            decryption_order: vec!["age".into(), "pgp".into()],
        }
    }

    /// A context with these age identities (instead of the environment's).
    pub fn with_age_identities(identities: age::Identities) -> KeyContext {
        KeyContext {
            age: Some(Ok(identities)),
            ..KeyContext::new()
        }
    }

    fn age_identities(&mut self) -> Result<&age::Identities, String> {
        self.age
            .get_or_insert_with(age::Identities::from_environment)
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// Builds the key groups of a creation rule (`.sops.yaml`) from their raw
/// descriptions, one [`KeyGroup`] per spec. `kms_context` is the
/// `--encryption-context` given on the command line: it applies to the KMS
/// keys of a rule's flat `kms` field (key-group entries carry their own).
///
/// All age recipients are checked first (as sops does when it loads the
/// rule), so an invalid or empty one is reported even in a group that also
/// holds keys of another type; an empty entry gives sops' message
/// `failed to parse input, unknown recipient type: ""`. Vault URIs and
/// HuaweiCloud KMS key ids are checked next.
pub fn from_specs(
    groups: &[KeyGroupSpec],
    kms_context: &[(String, String)],
) -> Result<Vec<KeyGroup>, String> {
    let age_groups = check_age_specs(groups)?;
    let mut out = Vec::with_capacity(groups.len());
    for (spec, ages) in groups.iter().zip(age_groups) {
        let mut group: KeyGroup = Vec::with_capacity(spec.len());
        group.extend(spec.pgp.iter().map(|fp| ServiceKey::pgp(fp).into()));
        group.extend(ages.into_iter().map(MasterKey::Age));
        group.extend(spec.kms.iter().map(|k| {
            let context = k.context.as_deref().unwrap_or(kms_context);
            ServiceKey::kms(&k.arn, &k.role, context, &k.aws_profile).into()
        }));
        group.extend(spec.gcp_kms.iter().map(|id| ServiceKey::gcp_kms(id).into()));
        for id in &spec.hckms {
            group.push(ServiceKey::hckms(id)?.into());
        }
        group.extend(spec.azure_kv.iter().map(|k| ServiceKey::azure_kv(k).into()));
        for uri in &spec.hc_vault {
            group.push(ServiceKey::hc_vault(uri)?.into());
        }
        out.push(group);
    }
    Ok(out)
}

impl From<ServiceKey> for MasterKey {
    fn from(key: ServiceKey) -> MasterKey {
        MasterKey::Service(key)
    }
}

impl ServiceKey {
    /// A new key-service entry of `type_id` with `fields` (values in the
    /// order sops 3.11 writes them; `created_at` and `enc` empty until the
    /// key is wrapped).
    fn new(type_id: &str, fields: Vec<(&str, Value)>) -> ServiceKey {
        ServiceKey {
            type_id: type_id.to_string(),
            fields: map_of(fields),
        }
    }

    /// An AWS KMS key: `arn`, `role` (when given), `context` (when not
    /// empty; keys sorted, the last value of a repeated key wins),
    /// `created_at`, `enc`, `aws_profile` (always, as sops 3.11 writes it).
    pub fn kms(
        arn: &str,
        role: &str,
        context: &[(String, String)],
        aws_profile: &str,
    ) -> ServiceKey {
        let mut fields = vec![("arn", Value::Str(arn.to_string()))];
        if !role.is_empty() {
            fields.push(("role", Value::Str(role.to_string())));
        }
        if !context.is_empty() {
            let mut sorted: std::collections::BTreeMap<&str, &str> = Default::default();
            for (k, v) in context {
                sorted.insert(k, v);
            }
            let ctx = map_of(
                sorted
                    .into_iter()
                    .map(|(k, v)| (k, Value::Str(v.to_string())))
                    .collect(),
            );
            fields.push(("context", Value::Map(ctx)));
        }
        fields.push(("created_at", Value::Str(String::new())));
        fields.push(("enc", Value::Str(String::new())));
        fields.push(("aws_profile", Value::Str(aws_profile.to_string())));
        ServiceKey::new("kms", fields)
    }

    /// A PGP key by fingerprint (spaces removed): `created_at`, `enc`, `fp`.
    pub fn pgp(fingerprint: &str) -> ServiceKey {
        ServiceKey::new(
            "pgp",
            vec![
                ("created_at", Value::Str(String::new())),
                ("enc", Value::Str(String::new())),
                ("fp", Value::Str(fingerprint.replace(' ', ""))),
            ],
        )
    }

    /// A GCP KMS key by resource id (spaces removed): `resource_id`,
    /// `created_at`, `enc`.
    pub fn gcp_kms(resource_id: &str) -> ServiceKey {
        ServiceKey::new(
            "gcp_kms",
            vec![
                ("resource_id", Value::Str(resource_id.replace(' ', ""))),
                ("created_at", Value::Str(String::new())),
                ("enc", Value::Str(String::new())),
            ],
        )
    }

    /// A HuaweiCloud KMS key by `region:key-uuid` id (trimmed; checked as
    /// sops checks it, and its region as enseal puts it in a host name):
    /// `key_id`, `created_at`, `enc`.
    pub fn hckms(key_id: &str) -> Result<ServiceKey, String> {
        let key_id = key_id.trim();
        hckms::check_key_id(key_id)?;
        Ok(ServiceKey::new(
            "hckms",
            vec![
                ("key_id", Value::Str(key_id.to_string())),
                ("created_at", Value::Str(String::new())),
                ("enc", Value::Str(String::new())),
            ],
        ))
    }

    /// An Azure Key Vault key: `vault_url`, `name`, `version` (empty: the
    /// backend looks up the latest version when wrapping), `created_at`,
    /// `enc`.
    pub fn azure_kv(spec: &AzureKvSpec) -> ServiceKey {
        ServiceKey::new(
            "azure_kv",
            vec![
                ("vault_url", Value::Str(spec.vault_url.clone())),
                ("name", Value::Str(spec.name.clone())),
                ("version", Value::Str(spec.version.clone())),
                ("created_at", Value::Str(String::new())),
                ("enc", Value::Str(String::new())),
            ],
        )
    }

    /// A Vault transit key from its URI
    /// `<scheme>://<host>[:port]/v1/<engine path>/keys/<name>`:
    /// `vault_address`, `engine_path`, `key_name`, `created_at`, `enc`.
    ///
    /// Only keys the user names (command line, `.sops.yaml`) are made here,
    /// so the address is recorded as trusted ([`vault::trust_address`]).
    pub fn hc_vault(uri: &str) -> Result<ServiceKey, String> {
        let (address, engine, name) = parse_vault_uri(uri)?;
        vault::trust_address(&address);
        Ok(ServiceKey::hc_vault_parts(&address, &engine, &name))
    }

    /// A Vault transit key from its parts.
    pub fn hc_vault_parts(address: &str, engine_path: &str, key_name: &str) -> ServiceKey {
        ServiceKey::new(
            "hc_vault",
            vec![
                ("vault_address", Value::Str(address.to_string())),
                ("engine_path", Value::Str(engine_path.to_string())),
                ("key_name", Value::Str(key_name.to_string())),
                ("created_at", Value::Str(String::new())),
                ("enc", Value::Str(String::new())),
            ],
        )
    }

    /// A string field (empty when absent or not a string).
    pub fn field(&self, name: &str) -> &str {
        field(&self.fields, name)
    }

    /// The fields in the order sops 3.11 writes them (see [`MasterKey::to_map`]).
    fn canonical_fields(&self) -> Map {
        // (field, written even when absent or empty)
        let order: &[(&str, bool)] = match self.type_id.as_str() {
            "kms" => &[
                ("arn", true),
                ("role", false),
                ("context", false),
                ("created_at", true),
                ("enc", true),
                ("aws_profile", true),
            ],
            "pgp" => &[("created_at", true), ("enc", true), ("fp", true)],
            "hc_vault" => &[
                ("vault_address", true),
                ("engine_path", true),
                ("key_name", true),
                ("created_at", true),
                ("enc", true),
            ],
            "gcp_kms" => &[("resource_id", true), ("created_at", true), ("enc", true)],
            "hckms" => &[("key_id", true), ("created_at", true), ("enc", true)],
            "azure_kv" => &[
                ("vault_url", true),
                ("name", true),
                ("version", true),
                ("created_at", true),
                ("enc", true),
            ],
            _ => return self.fields.clone(),
        };
        let mut out = Map::new();
        for &(name, always) in order {
            match self.fields.get(name) {
                Some(Value::Str(s)) if s.is_empty() && !always => {}
                Some(Value::Map(m)) if m.0.is_empty() && !always => {}
                Some(Value::Null) | None if !always => {}
                Some(Value::Null) | None => out.push(name, Value::Str(String::new())),
                Some(value) => out.push(name, value.clone()),
            }
        }
        out
    }
}

/// A string field of a key entry (empty when absent or not a string).
pub(crate) fn field<'m>(fields: &'m Map, name: &str) -> &'m str {
    match fields.get(name) {
        Some(Value::Str(s)) => s,
        _ => "",
    }
}

/// Sets a string field of a key entry, in place when it exists (keeping the
/// field order), else at the end.
pub(crate) fn set_field(fields: &mut Map, name: &str, value: String) {
    match fields.get_mut(name) {
        Some(slot) => *slot = Value::Str(value),
        None => fields.push(name, Value::Str(value)),
    }
}

/// Splits `<scheme>://<host>[:port]/v1/<engine path>/keys/<name>` into the
/// address, the engine path and the key name, as sops does (the segment
/// before the name is not checked; a path before `/v1/` is refused).
pub fn parse_vault_uri(uri: &str) -> Result<(String, String, String), String> {
    const EXAMPLE: &str = "https://vault.example.com:8200/v1/transit/keys/keyName";
    let bad = |why: String| format!("invalid Vault transit URI {uri:?}: {why}");
    let uri_t = uri.trim();
    let Some((scheme, rest)) = uri_t.split_once("://") else {
        return Err(bad(format!(
            "missing scheme in Vault URL (should be like this: {EXAMPLE})"
        )));
    };
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return Err(bad(format!("invalid scheme {scheme:?}")));
    }
    if rest.contains(['?', '#']) {
        return Err(bad("query strings and fragments are not supported".into()));
    }
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if host.is_empty() {
        return Err(bad("missing host".into()));
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let is_version =
        |s: &str| s.len() > 1 && s.starts_with('v') && s[1..].bytes().all(|b| b.is_ascii_digit());
    let n = segments.len();
    if (1..n).any(|i| is_version(segments[i]) && n - i > 3) {
        return Err(bad(format!(
            "running Vault with a prefixed URL is not supported! (Format has to be like {EXAMPLE})"
        )));
    }
    if n < 4 || !is_version(segments[0]) {
        return Err(bad(format!(
            "vault path does not seem to be formatted correctly: (eg. {EXAMPLE})"
        )));
    }
    let name = segments[segments.len() - 1];
    let engine = segments[1..segments.len() - 2].join("/");
    Ok((format!("{scheme}://{host}"), engine, name.to_string()))
}

/// Parses `--encryption-context` (`k1:v1,k2:v2`): every comma part must hold
/// exactly one `:`. Empty input gives an empty context.
pub fn parse_kms_context(text: &str) -> Result<Vec<(String, String)>, String> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|pair| {
            let parts: Vec<&str> = pair.split(':').collect();
            match parts.as_slice() {
                [k, v] => Ok((k.to_string(), v.to_string())),
                _ => Err("Invalid KMS encryption context format".to_string()),
            }
        })
        .collect()
}

/// Comma-list items with every space removed, empty items skipped (KMS
/// ARNs, PGP fingerprints, GCP resource ids).
fn spaceless_items(list: &str) -> impl Iterator<Item = String> + '_ {
    list.split(',')
        .map(|s| s.chars().filter(|c| !c.is_whitespace()).collect::<String>())
        .filter(|s| !s.is_empty())
}

/// Comma-list items trimmed, empty items skipped (Azure URLs, Vault URIs).
fn trimmed_items(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// Splits `ARN+ROLE_ARN` at the first `+arn:aws:iam::` (as sops 3.11
/// does: a role of another partition or service stays part of the ARN).
pub fn split_kms_role(entry: &str) -> (String, String) {
    match entry.find("+arn:aws:iam::") {
        Some(i) if i > 0 => (entry[..i].to_string(), entry[i + 1..].to_string()),
        _ => (entry.to_string(), String::new()),
    }
}

/// AWS KMS keys from a comma list of `ARN` or `ARN+ROLE_ARN` (spaces
/// removed, empty items skipped).
pub fn kms_keys(list: &str, context: &[(String, String)], aws_profile: &str) -> Vec<MasterKey> {
    spaceless_items(list)
        .map(|entry| {
            let (arn, role) = split_kms_role(&entry);
            ServiceKey::kms(&arn, &role, context, aws_profile).into()
        })
        .collect()
}

/// PGP keys from a comma list of fingerprints.
pub fn pgp_keys(list: &str) -> Vec<MasterKey> {
    spaceless_items(list)
        .map(|fp| ServiceKey::pgp(&fp).into())
        .collect()
}

/// GCP KMS keys from a comma list of resource ids.
pub fn gcp_kms_keys(list: &str) -> Vec<MasterKey> {
    spaceless_items(list)
        .map(|id| ServiceKey::gcp_kms(&id).into())
        .collect()
}

/// Azure Key Vault keys from a comma list of
/// `https://<vault>/keys/<name>[/<version>]` URLs.
pub fn azure_kv_keys(list: &str) -> Result<Vec<MasterKey>, String> {
    trimmed_items(list)
        .map(|url| {
            spec::azure_from_url(url)
                .map(|spec| ServiceKey::azure_kv(&spec).into())
                .ok_or_else(|| {
                    format!(
                        "could not parse {url:?} into a valid Azure Key Vault key URL (https://<vault>/keys/<name>[/<version>])"
                    )
                })
        })
        .collect()
}

/// Vault transit keys from a comma list of URIs.
pub fn vault_keys(list: &str) -> Result<Vec<MasterKey>, String> {
    trimmed_items(list)
        .map(|uri| ServiceKey::hc_vault(uri).map(MasterKey::from))
        .collect()
}

/// HuaweiCloud KMS keys from a comma list of `region:key-uuid` ids
/// (items trimmed, empty items skipped, as sops does).
pub fn hckms_keys(list: &str) -> Result<Vec<MasterKey>, String> {
    trimmed_items(list)
        .map(|id| ServiceKey::hckms(id).map(MasterKey::from))
        .collect()
}

/// Parses the age recipients of every group (one list per group), failing
/// on the first invalid one. Used on its own when a creation rule's keys are
/// overridden by flags: sops still parses (and rejects) them.
pub fn check_age_specs(groups: &[KeyGroupSpec]) -> Result<Vec<Vec<age::AgeKey>>, String> {
    groups
        .iter()
        .map(|spec| {
            spec.age
                .iter()
                .map(|r| age::AgeKey::new(r))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect()
}

/// Builds a mapping from `(key, value)` pairs, keeping their order.
pub(crate) fn map_of(pairs: Vec<(&str, Value)>) -> Map {
    Map(pairs
        .into_iter()
        .map(|(k, v)| Item::Entry(k.to_string(), v))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipient() -> String {
        ::age::x25519::Identity::generate().to_public().to_string()
    }

    #[test]
    fn specs_become_one_group_each() {
        let (a, b, c) = (recipient(), recipient(), recipient());
        let specs = vec![
            KeyGroupSpec {
                age: vec![a.clone(), b.clone()],
                ..Default::default()
            },
            KeyGroupSpec {
                age: vec![c.clone()],
                ..Default::default()
            },
        ];
        let groups = from_specs(&specs, &[]).unwrap();
        let described: Vec<Vec<String>> = groups
            .iter()
            .map(|g| g.iter().map(MasterKey::describe).collect())
            .collect();
        assert_eq!(described, vec![vec![a, b], vec![c]]);
        assert!(groups.iter().flatten().all(|k| k.type_id() == "age"));
    }

    #[test]
    fn empty_age_entry_is_refused_like_sops() {
        let specs = vec![KeyGroupSpec {
            age: vec![recipient(), String::new()],
            ..Default::default()
        }];
        assert_eq!(
            from_specs(&specs, &[]).unwrap_err(),
            "failed to parse input, unknown recipient type: \"\""
        );
    }

    fn field_names(key: &ServiceKey) -> Vec<&str> {
        key.fields.entries().map(|(k, _)| k).collect()
    }

    #[test]
    fn new_entries_have_the_reference_field_order() {
        let ctx = vec![("b".to_string(), "2".to_string()), ("a".into(), "1".into())];
        assert_eq!(
            field_names(&ServiceKey::kms("arn:x", "", &[], "")),
            ["arn", "created_at", "enc", "aws_profile"]
        );
        let kms = ServiceKey::kms("arn:x", "arn:role", &ctx, "p");
        assert_eq!(
            field_names(&kms),
            ["arn", "role", "context", "created_at", "enc", "aws_profile"]
        );
        let Some(Value::Map(c)) = kms.fields.get("context") else {
            panic!("no context")
        };
        assert_eq!(c.entries().map(|(k, _)| k).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(
            field_names(&ServiceKey::pgp("AB CD")),
            ["created_at", "enc", "fp"]
        );
        assert_eq!(ServiceKey::pgp("AB CD").field("fp"), "ABCD");
        assert_eq!(
            field_names(&ServiceKey::gcp_kms("projects/p")),
            ["resource_id", "created_at", "enc"]
        );
        assert_eq!(
            field_names(&ServiceKey::hckms("tr-west-1:u").unwrap()),
            ["key_id", "created_at", "enc"]
        );
        assert_eq!(
            field_names(&ServiceKey::azure_kv(&AzureKvSpec::default())),
            ["vault_url", "name", "version", "created_at", "enc"]
        );
        assert_eq!(
            field_names(&ServiceKey::hc_vault("http://h:8200/v1/transit/keys/k").unwrap()),
            [
                "vault_address",
                "engine_path",
                "key_name",
                "created_at",
                "enc"
            ]
        );
    }

    #[test]
    fn vault_uris_parse_like_sops() {
        let ok = |uri: &str| parse_vault_uri(uri).unwrap();
        assert_eq!(
            ok("http://127.0.0.1:8200/v1/transit/keys/sops"),
            (
                "http://127.0.0.1:8200".into(),
                "transit".into(),
                "sops".into()
            )
        );
        assert_eq!(
            ok("https://vault.example.com/v1/team/a/transit/keys/nested/"),
            (
                "https://vault.example.com".into(),
                "team/a/transit".into(),
                "nested".into()
            )
        );
        for (bad, why) in [
            ("vault.example.com/v1/transit/keys/x", "missing scheme"),
            ("127.0.0.1:8200/v1/transit/keys/x", "missing scheme"),
            ("http://h/pre/v1/transit/keys/x", "prefixed URL"),
            ("http://h/v1/transit", "not seem to be formatted"),
            ("http://h/transit/keys/x", "not seem to be formatted"),
            ("http:///v1/transit/keys/x", "missing host"),
            ("http://h/v1/t/keys/x?a=1", "query"),
        ] {
            let err = parse_vault_uri(bad).unwrap_err();
            assert!(err.contains(why) && err.contains(bad), "{bad}: {err}");
        }
    }

    #[test]
    fn flag_lists_become_keys() {
        let ctx = parse_kms_context("a:1,b:2").unwrap();
        let kms = kms_keys(
            " arn:aws:kms:r:1:key/a +arn:aws:iam::1:role/r,,arn:b",
            &ctx,
            "prof",
        );
        assert_eq!(kms.len(), 2);
        let MasterKey::Service(k) = &kms[0] else {
            panic!()
        };
        assert_eq!(k.field("arn"), "arn:aws:kms:r:1:key/a");
        assert_eq!(k.field("role"), "arn:aws:iam::1:role/r");
        assert_eq!(k.field("aws_profile"), "prof");
        assert!(matches!(k.fields.get("context"), Some(Value::Map(_))));
        // Only an IAM role is split off, as in sops 3.11.
        assert_eq!(
            split_kms_role("arn:k+arn:aws:sts::1:role/x"),
            ("arn:k+arn:aws:sts::1:role/x".to_string(), String::new())
        );
        assert_eq!(pgp_keys("AA BB, CC").len(), 2);
        assert_eq!(gcp_kms_keys("").len(), 0);
        let az = azure_kv_keys("https://v.vault.azure.net/keys/k/123").unwrap();
        assert_eq!(
            changes::key_string(&az[0]),
            "https://v.vault.azure.net/keys/k/123"
        );
        assert!(azure_kv_keys("http://v/keys/k")
            .unwrap_err()
            .contains("http://v/keys/k"));
        let v = vault_keys("http://h:1/v1/a/b/keys/k").unwrap();
        assert_eq!(changes::key_string(&v[0]), "http://h:1/v1/a/b/keys/k");
        assert!(vault_keys("nope").is_err());
        assert!(hckms_keys("").unwrap().is_empty());
        let h = hckms_keys(" tr-west-1:k1 ,, ap-southeast-3:k2").unwrap();
        assert_eq!(
            h.iter().map(changes::key_string).collect::<Vec<_>>(),
            ["tr-west-1:k1", "ap-southeast-3:k2"]
        );
        for bad in ["r:u", "nocolon", ":u", "tr-west-1:", "evil.com/x-1:u"] {
            assert!(hckms_keys(bad).unwrap_err().contains(bad), "{bad}");
        }
    }

    #[test]
    fn kms_context_needs_one_colon_per_pair() {
        assert_eq!(parse_kms_context("").unwrap(), vec![]);
        assert_eq!(
            parse_kms_context("a:1,b:").unwrap(),
            vec![("a".into(), "1".into()), ("b".into(), "".into())]
        );
        for bad in ["a", "a:1:2", "a:1,,b:2"] {
            assert_eq!(
                parse_kms_context(bad).unwrap_err(),
                "Invalid KMS encryption context format"
            );
        }
    }

    #[test]
    fn specs_of_every_type_become_keys() {
        let spec = KeyGroupSpec {
            age: vec![recipient()],
            pgp: vec!["ABCDEF".into()],
            kms: vec![
                spec::KmsSpec {
                    arn: "arn:1".into(),
                    ..Default::default()
                },
                spec::KmsSpec {
                    arn: "arn:2".into(),
                    context: Some(vec![]),
                    ..Default::default()
                },
            ],
            gcp_kms: vec!["projects/p".into()],
            azure_kv: vec![AzureKvSpec {
                vault_url: "https://v".into(),
                name: "n".into(),
                version: "1".into(),
            }],
            hc_vault: vec!["http://h/v1/transit/keys/k".into()],
            hckms: vec!["tr-west-1:0d0466b0-e727-4d9c-b35d-f84bb474a37f".into()],
        };
        let ctx = vec![("k".to_string(), "v".to_string())];
        let groups = from_specs(std::slice::from_ref(&spec), &ctx).unwrap();
        let types: Vec<&str> = groups[0].iter().map(MasterKey::type_id).collect();
        assert_eq!(
            types,
            ["pgp", "age", "kms", "kms", "gcp_kms", "hckms", "azure_kv", "hc_vault"]
        );
        // The flag context applies to flat `kms` entries only.
        let has_context = |k: &MasterKey| match k {
            MasterKey::Service(s) => s.fields.get("context").is_some(),
            _ => false,
        };
        assert!(has_context(&groups[0][2]));
        assert!(!has_context(&groups[0][3]));
        let bad_vault = KeyGroupSpec {
            hc_vault: vec!["nope".into()],
            ..Default::default()
        };
        assert!(from_specs(&[bad_vault], &[])
            .unwrap_err()
            .contains("\"nope\""));
        let hckms = KeyGroupSpec {
            hckms: vec!["evil.example/x:u".into()],
            ..Default::default()
        };
        let err = from_specs(&[hckms], &[]).unwrap_err();
        assert!(err.contains("not a HuaweiCloud region id"), "{err}");
    }

    #[test]
    fn bad_age_recipient_wins_over_other_errors() {
        let specs = vec![
            KeyGroupSpec {
                hckms: vec!["r:u".into()],
                ..Default::default()
            },
            KeyGroupSpec {
                age: vec!["bogus".into()],
                ..Default::default()
            },
        ];
        assert_eq!(
            from_specs(&specs, &[]).unwrap_err(),
            "failed to parse input, unknown recipient type: \"bogus\""
        );
    }

    /// One wrapped key of every type, as if a backend had filled it.
    fn wrapped_keys() -> Vec<MasterKey> {
        let ctx = vec![("app".to_string(), "x".to_string())];
        let mut keys: Vec<MasterKey> = vec![
            ServiceKey::kms(
                "arn:aws:kms:us-east-1:1:key/k",
                "arn:aws:iam::1:role/r",
                &ctx,
                "",
            )
            .into(),
            ServiceKey::kms("arn:aws:kms:us-east-1:1:key/k2", "", &[], "prof").into(),
            ServiceKey::gcp_kms("projects/p/locations/l/keyRings/r/cryptoKeys/k").into(),
            ServiceKey::hckms("tr-west-1:0d0466b0-e727-4d9c-b35d-f84bb474a37f")
                .unwrap()
                .into(),
            ServiceKey::azure_kv(&AzureKvSpec {
                vault_url: "https://v.vault.azure.net".into(),
                name: "k".into(),
                version: "0123".into(),
            })
            .into(),
            ServiceKey::hc_vault("http://127.0.0.1:8200/v1/team/a/transit/keys/nested")
                .unwrap()
                .into(),
            // Last: the metadata lists are written in sops' type order.
            ServiceKey::pgp("3EF57F4AB00E4942FF077960FCD762C81B6D6F90").into(),
        ];
        for key in &mut keys {
            let MasterKey::Service(s) = key else { continue };
            let enc = if s.type_id == "pgp" {
                "-----BEGIN PGP MESSAGE-----\n\nhF4D\n=0FhT\n-----END PGP MESSAGE-----".to_string()
            } else {
                format!("vault:v1:{}", s.type_id)
            };
            set_field(&mut s.fields, "enc", enc);
            set_field(&mut s.fields, "created_at", "2026-11-28T03:56:52Z".into());
        }
        keys
    }

    #[test]
    fn every_key_type_round_trips_through_every_format() {
        use crate::format::{FormatKind, StoreOptions};
        use crate::metadata::Metadata;
        let keys = wrapped_keys();
        let one_group = Metadata {
            key_groups: vec![keys.clone()],
            shamir_threshold: 0,
            last_modified: "2026-11-28T03:56:52Z".into(),
            mac: "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]".into(),
            rule: Some(crate::crypto::EncryptionRule::default()),
            mac_only_encrypted: false,
            version: crate::metadata::FORMAT_VERSION.into(),
        };
        let mut two_groups = one_group.clone();
        two_groups.key_groups = vec![keys[..3].to_vec(), keys[3..].to_vec()];
        two_groups.shamir_threshold = 2;
        let mut doc = Map::new();
        doc.push(
            "data",
            Value::Str("ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]".into()),
        );
        for kind in [
            FormatKind::Yaml,
            FormatKind::Json,
            FormatKind::Dotenv,
            FormatKind::Ini,
            FormatKind::Binary,
        ] {
            let store = kind.store(&StoreOptions::default());
            let doc = if kind == FormatKind::Ini {
                let mut section = Map::new();
                section.push("s", Value::Map(doc.clone()));
                section
            } else {
                doc.clone()
            };
            for metadata in [&one_group, &two_groups] {
                let bytes = store
                    .emit_encrypted(std::slice::from_ref(&doc), &metadata.to_map())
                    .unwrap();
                let parsed = store.parse_encrypted(&bytes).unwrap();
                let back = Metadata::from_map(&parsed.metadata.unwrap()).unwrap();
                let strings = |m: &Metadata| -> Vec<Vec<String>> {
                    m.key_groups
                        .iter()
                        .map(|g| g.iter().map(changes::key_string).collect())
                        .collect()
                };
                assert_eq!(strings(&back), strings(metadata), "{kind:?}");
                if matches!(
                    kind,
                    FormatKind::Yaml | FormatKind::Json | FormatKind::Binary
                ) {
                    assert_eq!(&back, metadata, "{kind:?}");
                } else {
                    // Flat formats keep every field, though not the order
                    // of the metadata lists' entries' fields in INI.
                    for (a, b) in back
                        .key_groups
                        .iter()
                        .flatten()
                        .zip(metadata.key_groups.iter().flatten())
                    {
                        let (MasterKey::Service(a), MasterKey::Service(b)) = (a, b) else {
                            continue;
                        };
                        let mut fa: Vec<_> = a.fields.entries().collect();
                        let mut fb: Vec<_> = b.fields.entries().collect();
                        fa.sort_by_key(|(k, _)| *k);
                        fb.sort_by_key(|(k, _)| *k);
                        assert_eq!(fa, fb, "{kind:?}");
                    }
                }
            }
        }
    }
}

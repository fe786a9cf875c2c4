//! AWS KMS master keys (`kms` in the metadata): the data key is wrapped
//! with the KMS `Encrypt` call (optionally after STS AssumeRole) and stored
//! base64 in `enc`.
//!
//! The entry's fields (format.md table 8.3): `arn`, `aws_profile`,
//! `context` (string → string, only if non-empty), `created_at`, `enc`,
//! `role` (only if non-empty). As in sops, the region is taken from the ARN,
//! credentials come from the standard AWS chain (optionally the profile
//! `aws_profile`), a `role` is assumed with the session name
//! `sops@<hostname>`, and the same `KeyId` and `EncryptionContext` are sent
//! to `Encrypt` and `Decrypt`.
//!
//! The entry comes from the file, which is not trusted. The endpoint is
//! derived from the ARN's region (unless the user's environment sets one,
//! e.g. `AWS_ENDPOINT_URL_KMS`), so the ARN is checked strictly before any
//! request ([`check_arn`]): partition `aws` or `aws-<name>`, region made of
//! lowercase letters, digits and `-`, account digits, key id or alias name
//! from AWS's character set. A file can still choose which of the user's
//! own profiles (`aws_profile`) and roles (`role`, an IAM role ARN) are used
//! for the call: both are checked for their form ([`check_role`],
//! [`check_profile`]), and both lead only to AWS's endpoints for that
//! region or to the endpoint the user configured.
//!
//! The AWS SDK lives in the `sdk` submodule, compiled only with the cargo
//! feature `aws`; it is initialised (a current-thread tokio runtime, the
//! config loader) the first time a kms key is wrapped or unwrapped, never
//! at start-up.

use super::set_field;
use crate::tree::{Map, Value};
use base64::Engine as _;
use zeroize::Zeroizing;

#[cfg(feature = "aws")]
pub(crate) mod sdk;

/// AWS's limit on the length of a role session name.
#[cfg_attr(not(feature = "aws"), allow(dead_code))] // used by `sdk`
const SESSION_NAME_LIMIT: usize = 64;

/// A kms entry's fields, as the backend needs them.
#[cfg_attr(not(feature = "aws"), allow(dead_code))] // used by `sdk`
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KmsKey {
    /// The key ARN (or alias ARN) sent as `KeyId`.
    pub arn: String,
    /// The region, from the ARN.
    pub region: String,
    /// A role ARN to assume first (empty: none).
    pub role: String,
    /// A shared-config profile (empty: the default chain).
    pub profile: String,
    /// The encryption context, in file order.
    pub context: Vec<(String, String)>,
}

impl KmsKey {
    /// Reads the fields of a kms entry. Fails when `arn` is missing or is not
    /// a KMS key ARN (sops: `no valid ARN found in '…'`) or when the context
    /// holds a value that is not a string.
    pub(crate) fn from_fields(fields: &Map) -> Result<KmsKey, String> {
        let text = |name: &str| -> Result<String, String> {
            match fields.get(name) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::Str(s)) => Ok(s.clone()),
                Some(other) => Err(format!(
                    "the field {name:?} of a kms key is a {}, expected a string",
                    other.type_name()
                )),
            }
        };
        let arn = text("arn")?;
        if arn.is_empty() {
            return Err("a kms key has no \"arn\"".to_string());
        }
        let region = region_of(&arn)
            .ok_or_else(|| format!("no valid ARN found in '{}'", arn.escape_debug()))?
            .to_string();
        check_arn(&arn)?;
        let mut context = Vec::new();
        match fields.get("context") {
            None | Some(Value::Null) => {}
            Some(Value::Map(map)) => {
                for (k, v) in map.entries() {
                    match v {
                        Value::Str(s) => context.push((k.to_string(), s.clone())),
                        // sops drops nil context values before calling KMS.
                        Value::Null => {}
                        other => {
                            return Err(format!(
                                "the encryption context of kms key {arn} has a {} value for {k:?}, expected a string",
                                other.type_name()
                            ))
                        }
                    }
                }
            }
            Some(other) => {
                return Err(format!(
                    "the encryption context of kms key {arn} is a {}, expected a mapping",
                    other.type_name()
                ))
            }
        }
        let role = text("role")?;
        if !role.is_empty() {
            check_role(&role, &arn)?;
        }
        let profile = text("aws_profile")?;
        if !profile.is_empty() {
            check_profile(&profile, &arn)?;
        }
        Ok(KmsKey {
            role,
            profile,
            arn,
            region,
            context,
        })
    }
}

/// The region of a KMS key ARN, as sops extracts it with
/// `^arn:aws[\w-]*:kms:(.+):[0-9]+:(key|alias)/.+$` (the region group is
/// greedy: the last `:<digits>:key/` or `:<digits>:alias/` ends it).
pub(crate) fn region_of(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:aws")?;
    let partition_end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(rest.len());
    let rest = rest[partition_end..].strip_prefix(":kms:")?;
    // Try the candidate ends from the right, like the greedy group.
    let mut end = rest.len();
    while let Some(colon) = rest[..end].rfind(':') {
        end = colon;
        if colon == 0 {
            break;
        }
        let after = &rest[colon + 1..];
        let Some(digits_end) = after.find(':') else {
            continue;
        };
        let digits = &after[..digits_end];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let resource = &after[digits_end + 1..];
        let id = resource
            .strip_prefix("key/")
            .or_else(|| resource.strip_prefix("alias/"));
        if id.is_some_and(|id| !id.is_empty() && !id.contains('\n')) {
            let region = &rest[..colon];
            return (!region.contains('\n')).then_some(region);
        }
    }
    None
}

/// Whether `partition` is `aws` or `aws-<name>[-<name>…]` (lowercase
/// letters and digits): `aws-cn`, `aws-us-gov`, `aws-iso-b`, …
fn is_partition(partition: &str) -> bool {
    partition
        .strip_prefix("aws")
        .is_some_and(|rest| rest.is_empty() || rest.strip_prefix('-').is_some_and(is_dashed_words))
}

/// Lowercase letters and digits in words joined by single `-`: a region
/// name such as `us-east-1`, which is one DNS label (no `.`).
pub(crate) fn is_dashed_words(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 63
        && text.split('-').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// Whether `text` is 1 to 12 ASCII digits (an AWS account id).
fn is_account(text: &str) -> bool {
    (1..=12).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
}

/// Checks a KMS key ARN strictly (sops only extracts the region with a
/// loose pattern): `arn:<partition>:kms:<region>:<account>:key/<id>` or
/// `…:alias/<name>`. The region becomes part of the endpoint's host name,
/// so a file must not be able to put `.`, `@`, `#`, `/` or `:` into it.
pub(crate) fn check_arn(arn: &str) -> Result<(), String> {
    let refuse = |why: &str| {
        Err(format!(
            "refusing kms key '{}': not a valid AWS KMS key ARN ({why})",
            arn.escape_debug()
        ))
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, partition, _, region, account, resource] = parts[..] else {
        return refuse("expected arn:<partition>:kms:<region>:<account>:key/<id>");
    };
    if !is_partition(partition) {
        return refuse("the partition must be aws or aws-<name>");
    }
    if !is_dashed_words(region) {
        return refuse("the region must be lowercase letters, digits and '-', like us-east-1");
    }
    if !is_account(account) {
        return refuse("the account must be digits");
    }
    let id_ok = |id: &str, extra: &[u8]| {
        (1..=256).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || extra.contains(&b))
    };
    let ok = match resource.split_once('/') {
        Some(("key", id)) => id_ok(id, b""),
        Some(("alias", name)) => id_ok(name, b"/_"),
        _ => false,
    };
    if !ok {
        return refuse("the key id must be letters, digits and '-', an alias name letters, digits and '/', '_', '-'");
    }
    Ok(())
}

/// Checks the `role` of a kms entry: an IAM role ARN,
/// `arn:<partition>:iam::<account>:role/<path and name>` in AWS's character
/// set. It is sent, in the body of an STS `AssumeRole` call to the ARN's
/// region, with the user's credentials.
pub(crate) fn check_role(role: &str, arn: &str) -> Result<(), String> {
    let parts: Vec<&str> = role.splitn(6, ':').collect();
    let ok = match parts[..] {
        ["arn", partition, "iam", "", account, resource] => {
            is_partition(partition)
                && is_account(account)
                && resource.strip_prefix("role/").is_some_and(|name| {
                    (1..=512).contains(&name.len())
                        && name
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_/-".contains(&b))
                })
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "refusing the AWS role '{}' of kms key '{arn}': not an IAM role ARN (arn:aws:iam::<account>:role/<name>)",
            role.escape_debug()
        ))
    }
}

/// Checks the `aws_profile` of a kms entry: a name of the user's shared
/// config (letters, digits and `_ . + @ = , : -`, not starting with `-`).
pub(crate) fn check_profile(profile: &str, arn: &str) -> Result<(), String> {
    let ok = profile.len() <= 128
        && !profile.starts_with('-')
        && profile
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.+@=,:-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "refusing the AWS profile '{}' of kms key '{arn}': a profile name is letters, digits and '_', '.', '+', '@', '=', ',', ':', '-'",
            profile.escape_debug()
        ))
    }
}

/// The STS session name sops uses: `sops@<hostname>` with every character
/// outside its class `[a-zA-Z0-9=,.@-_]` removed, cut to 64 bytes. (In that
/// class `@-_` is the range U+0040…U+005F, so `-` itself is removed:
/// `some-hostname` gives `sops@somehostname`, as in sops.)
#[cfg_attr(not(feature = "aws"), allow(dead_code))] // used by `sdk`
pub(crate) fn session_name(hostname: &str) -> String {
    let kept = |c: char| c.is_ascii_alphanumeric() || matches!(c, '=' | ',' | '.' | '@'..='_');
    let mut name: String = "sops@".to_string();
    name.extend(hostname.chars().filter(|&c| kept(c)));
    name.truncate(SESSION_NAME_LIMIT);
    name
}

/// The host name, as `os.Hostname` gives it.
#[cfg_attr(not(feature = "aws"), allow(dead_code))] // used by `sdk`
pub(crate) fn hostname() -> Result<String, String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most
    // that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return Err(format!(
            "failed to construct STS session name: {}",
            std::io::Error::last_os_error()
        ));
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Ok(String::from_utf8_lossy(&buf[..len]).into_owned())
}

/// Wraps `secret` (a data key or Shamir share) for the key described by
/// `fields`, filling its `enc` and `created_at` fields.
pub fn wrap(fields: &mut Map, secret: &[u8]) -> Result<(), String> {
    let key = KmsKey::from_fields(fields)?;
    // The dispatcher names the key (`failed to encrypt new data key with
    // master key "ARN": …`); the rest is sops' wording.
    let blob = encrypt(&key, secret)
        .map_err(|cause| format!("failed to encrypt sops data key with AWS KMS: {cause}"))?;
    let enc = base64::engine::general_purpose::STANDARD.encode(blob);
    set_field(fields, "enc", enc);
    set_field(fields, "created_at", super::created_at_now());
    Ok(())
}

/// Unwraps the data key or share stored in `fields`.
pub fn unwrap(fields: &Map) -> Result<Zeroizing<Vec<u8>>, String> {
    let key = KmsKey::from_fields(fields)?;
    let blob = match fields.get("enc") {
        Some(Value::Str(s)) if !s.is_empty() => base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .map_err(|e| {
                format!(
                    "error base64-decoding the encrypted data key of AWS KMS key {}: {e}",
                    key.arn
                )
            })?,
        _ => return Err(format!("AWS KMS key {} has no encrypted data key", key.arn)),
    };
    decrypt(&key, &blob).map_err(|cause| {
        format!(
            "failed to decrypt the data key with AWS KMS key {}: {cause}",
            key.arn
        )
    })
}

#[cfg(feature = "aws")]
fn encrypt(key: &KmsKey, secret: &[u8]) -> Result<Vec<u8>, String> {
    sdk::encrypt(key, secret)
}

#[cfg(feature = "aws")]
fn decrypt(key: &KmsKey, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
    sdk::decrypt(key, blob)
}

/// The cause given when enseal was compiled without the `aws` feature.
#[cfg(not(feature = "aws"))]
const NO_AWS: &str =
    "enseal was built without AWS support (rebuild with the cargo feature `aws`, on by default)";

#[cfg(not(feature = "aws"))]
fn encrypt(_key: &KmsKey, _secret: &[u8]) -> Result<Vec<u8>, String> {
    Err(NO_AWS.to_string())
}

#[cfg(not(feature = "aws"))]
fn decrypt(_key: &KmsKey, _blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
    Err(NO_AWS.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::map_of;

    const ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/6ce3bad7-5912-490f-9a9f-2ef0cfeb8ced";

    #[test]
    fn region_from_arn() {
        assert_eq!(region_of(ARN), Some("us-east-1"));
        assert_eq!(
            region_of("arn:aws-us-gov:kms:us-gov-west-1:1:alias/sops"),
            Some("us-gov-west-1")
        );
        // sops' pattern is greedy; such an ARN is then refused by check_arn.
        assert_eq!(
            region_of("arn:aws-cn:kms:cn-north-1:42:key/x:1:key/y"),
            Some("cn-north-1:42:key/x")
        );
        assert!(check_arn("arn:aws-cn:kms:cn-north-1:42:key/x:1:key/y").is_err());
        for bad in [
            "",
            "6ce3bad7-5912-490f-9a9f-2ef0cfeb8ced",
            "alias/sops",
            "arn:aws:kms:us-east-1:123456789012:key/",
            "arn:aws:kms:us-east-1:12a:key/x",
            "arn:aws:kms::123:key/x",
            "arn:aws:iam::123456789012:role/sops",
            "arn:aws:kms:us-east-1:123:secret/x",
            "arn:gcp:kms:us-east-1:123:key/x",
        ] {
            assert_eq!(region_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn arns_that_could_change_the_endpoint_are_refused() {
        for good in [
            ARN,
            "arn:aws:kms:eu-west-3:123456789012:alias/sops",
            "arn:aws-cn:kms:cn-north-1:123456789012:key/mrk-1234abcd",
            "arn:aws-us-gov:kms:us-gov-west-1:1:alias/team/sops_key-1",
            "arn:aws-iso-b:kms:us-isob-east-1:123456789012:key/x",
        ] {
            assert_eq!(check_arn(good), Ok(()), "{good}");
            assert!(KmsKey::from_fields(&map_of(vec![("arn", Value::Str(good.into()))])).is_ok());
        }
        for (bad, why) in [
            ("arn:aws:kms:us-east-1.evil.example:1:key/x", "region"),
            ("arn:aws:kms:us-east-1.evil.example#:1:key/x", "region"),
            ("arn:aws:kms:x@127.0.0.1:8/#:1:key/x", "region"),
            ("arn:aws:kms:evil.example/:1:key/x", "region"),
            ("arn:aws:kms:US-EAST-1:1:key/x", "region"),
            ("arn:aws:kms:us--east-1:1:key/x", "region"),
            ("arn:aws:kms:-us-east-1:1:key/x", "region"),
            ("arn:aws_x:kms:us-east-1:1:key/x", "partition"),
            ("arn:awsé:kms:us-east-1:1:key/x", "partition"),
            ("arn:aws-:kms:us-east-1:1:key/x", "partition"),
            ("arn:aws:kms:us-east-1:1234567890123:key/x", "account"),
            ("arn:aws:kms:us-east-1:12x:key/a:1:alias/a", "account"),
            ("arn:aws:kms:us-east-1:1:key/x:1:key/y", "key id"),
            ("arn:aws:kms:us-east-1:1:key/a?b", "key id"),
            ("arn:aws:kms:us-east-1:1:key/a b", "key id"),
            ("arn:aws:kms:us-east-1:1:key/a/b", "key id"),
            ("arn:aws:kms:us-east-1:1:alias/a#b", "key id"),
        ] {
            let err = check_arn(bad).unwrap_err();
            assert!(
                err.contains(why) && err.starts_with("refusing kms key"),
                "{bad}: {err}"
            );
            let err =
                KmsKey::from_fields(&map_of(vec![("arn", Value::Str(bad.into()))])).unwrap_err();
            assert!(
                err.contains("not a valid AWS KMS key ARN") || err.starts_with("no valid ARN"),
                "{bad}: {err}"
            );
        }
        // Control characters are shown escaped.
        let err = check_arn("arn:aws:kms:us\n-east-1:1:key/x").unwrap_err();
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn roles_and_profiles_are_checked_for_their_form() {
        assert_eq!(
            check_role("arn:aws:iam::123456789012:role/sops", ARN),
            Ok(())
        );
        assert_eq!(
            check_role(
                "arn:aws-cn:iam::123456789012:role/path/to/Role+x=y,z.@_-1",
                ARN
            ),
            Ok(())
        );
        for bad in [
            "arn:aws:iam::123456789012:user/alice",
            "arn:aws:iam:us-east-1:123456789012:role/x",
            "arn:aws:sts::123456789012:role/x",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/x y",
            "arn:aws:iam::123456789012:role/x#@evil",
            "arn:aws:iam::12x:role/x",
            "role/x",
        ] {
            let err = check_role(bad, ARN).unwrap_err();
            assert!(err.starts_with("refusing the AWS role"), "{bad}: {err}");
        }
        for good in [
            "default",
            "prod-admin",
            "AdministratorAccess-123456789012",
            "a.b_c+d@e",
        ] {
            assert_eq!(check_profile(good, ARN), Ok(()), "{good}");
        }
        for bad in [
            "a profile",
            "../x",
            "x/y",
            "-x",
            "default]\n[evil",
            "x\u{0}",
        ] {
            let err = check_profile(bad, ARN).unwrap_err();
            assert!(err.starts_with("refusing the AWS profile"), "{bad}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
        let fields = map_of(vec![
            ("arn", Value::Str(ARN.into())),
            ("aws_profile", Value::Str("../x".into())),
        ]);
        assert!(KmsKey::from_fields(&fields).is_err());
    }

    #[test]
    fn session_name_is_sanitised_like_sops() {
        assert_eq!(session_name("some-hostname"), "sops@somehostname");
        assert_eq!(session_name("42WQm042"), "sops@42WQm042");
        assert_eq!(session_name("a_b.c,d=e@F[G]^"), "sops@a_b.c,d=e@F[G]^");
        assert_eq!(session_name("hé llo/x"), "sops@hllox");
        let long = "a".repeat(100);
        let name = session_name(&long);
        assert_eq!(name.len(), 64);
        assert!(name.starts_with("sops@aaa"));
        assert!(!hostname().unwrap().contains('\0'));
    }

    #[test]
    fn fields_are_read() {
        let mut context = Map::new();
        context.push("Environment", Value::Str("prod".into()));
        context.push("Dropped", Value::Null);
        context.push("App", Value::Str("web".into()));
        let fields = map_of(vec![
            ("arn", Value::Str(ARN.into())),
            (
                "role",
                Value::Str("arn:aws:iam::123456789012:role/sops".into()),
            ),
            ("context", Value::Map(context)),
            ("created_at", Value::Str("2026-01-01T00:00:00Z".into())),
            ("enc", Value::Str("AAAA".into())),
            ("aws_profile", Value::Str("".into())),
        ]);
        let key = KmsKey::from_fields(&fields).unwrap();
        assert_eq!(key.region, "us-east-1");
        assert_eq!(key.role, "arn:aws:iam::123456789012:role/sops");
        assert_eq!(key.profile, "");
        assert_eq!(
            key.context,
            vec![
                ("Environment".to_string(), "prod".to_string()),
                ("App".to_string(), "web".to_string())
            ]
        );
        let minimal = map_of(vec![("arn", Value::Str(ARN.into()))]);
        let key = KmsKey::from_fields(&minimal).unwrap();
        assert!(key.role.is_empty() && key.context.is_empty());
    }

    #[test]
    fn bad_fields_are_refused_with_the_arn() {
        let no_arn = map_of(vec![("enc", Value::Str("AAAA".into()))]);
        assert!(KmsKey::from_fields(&no_arn)
            .unwrap_err()
            .contains("no \"arn\""));
        let bad_arn = map_of(vec![("arn", Value::Str("alias/sops".into()))]);
        assert_eq!(
            KmsKey::from_fields(&bad_arn).unwrap_err(),
            "no valid ARN found in 'alias/sops'"
        );
        let mut context = Map::new();
        context.push("n", Value::Int(3));
        let bad_context = map_of(vec![
            ("arn", Value::Str(ARN.into())),
            ("context", Value::Map(context)),
        ]);
        let err = KmsKey::from_fields(&bad_context).unwrap_err();
        assert!(err.contains(ARN) && err.contains("int"), "{err}");
        let list_context = map_of(vec![
            ("arn", Value::Str(ARN.into())),
            ("context", Value::List(vec![])),
        ]);
        assert!(KmsKey::from_fields(&list_context)
            .unwrap_err()
            .contains("expected a mapping"));
    }

    #[test]
    fn unwrap_checks_enc_before_calling_kms() {
        let missing = map_of(vec![("arn", Value::Str(ARN.into()))]);
        let err = unwrap(&missing).unwrap_err();
        assert!(
            err.contains(ARN) && err.contains("no encrypted data key"),
            "{err}"
        );
        let bad = map_of(vec![
            ("arn", Value::Str(ARN.into())),
            ("enc", Value::Str("not base64!".into())),
        ]);
        let err = unwrap(&bad).unwrap_err();
        assert!(err.contains(ARN) && err.contains("base64"), "{err}");
    }

    #[test]
    fn set_field_replaces_or_appends() {
        let mut fields = map_of(vec![
            ("arn", Value::Str(ARN.into())),
            ("enc", Value::Str("".into())),
        ]);
        set_field(&mut fields, "enc", "X".into());
        set_field(&mut fields, "created_at", "T".into());
        let keys: Vec<&str> = fields.entries().map(|(k, _)| k).collect();
        assert_eq!(keys, ["arn", "enc", "created_at"]);
        assert_eq!(fields.get("enc"), Some(&Value::Str("X".into())));
    }

    #[cfg(not(feature = "aws"))]
    #[test]
    fn without_the_feature_the_error_says_so() {
        let mut fields = map_of(vec![("arn", Value::Str(ARN.into()))]);
        let err = wrap(&mut fields, &[0u8; 32]).unwrap_err();
        assert!(err.contains("without AWS support"), "{err}");
        fields.push("enc", Value::Str("AAAA".into()));
        let err = unwrap(&fields).unwrap_err();
        assert!(
            err.contains(ARN) && err.contains("without AWS support"),
            "{err}"
        );
    }
}

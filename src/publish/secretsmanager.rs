//! Publishing to AWS Secrets Manager (an enseal extension; sops has no such
//! destination): one secret per file, named `secretsmanager_prefix` + the
//! file's destination name, in the rule's `aws_region` (else the region of
//! the AWS environment). Its value is the decrypted document as one JSON
//! object (what a Vault destination gets, [`super::to_json`]), or the
//! content itself for a binary file.
//!
//! A missing secret is created (`CreateSecret`, tagged
//! [`SOURCE_TAG`] = the file's path); an existing one gets a new version
//! (`PutSecretValue`) unless its current value is already the same
//! (`GetSecretValue`), as for Vault.
//!
//! Trust: the prefix and region come from the user's `.sops.yaml`, never
//! from the file. The region is checked ([`super::aws::check_region`]) and
//! the secret name must be in Secrets Manager's character set
//! ([`check_name`]) before any request. Credentials and endpoint come from
//! the standard AWS chain (`AWS_ENDPOINT_URL_SECRETS_MANAGER` /
//! `AWS_ENDPOINT_URL`…).

use zeroize::Zeroizing;

/// The tag naming the file a secret was published from.
pub const SOURCE_TAG: &str = "enseal:source";

/// Secrets Manager's limit on a secret value, in bytes.
pub const VALUE_LIMIT: usize = 65536;

/// Secrets Manager's limit on the length of a secret name.
const NAME_LIMIT: usize = 512;

/// Secrets Manager's limit on the length of a tag value.
const TAG_LIMIT: usize = 256;

/// A Secrets Manager destination: `secretsmanager_prefix` and the optional
/// `aws_region`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretsManagerDestination {
    prefix: String,
    region: String,
}

/// The value of a secret (wiped when dropped).
#[derive(Debug)]
pub enum SecretValue {
    /// The decrypted document as JSON text.
    Json(Zeroizing<String>),
    /// A binary file's content that is UTF-8 text.
    Text(Zeroizing<String>),
    /// A binary file's content that is not UTF-8.
    Binary(Zeroizing<Vec<u8>>),
}

impl SecretValue {
    fn len(&self) -> usize {
        match self {
            SecretValue::Json(s) | SecretValue::Text(s) => s.len(),
            SecretValue::Binary(b) => b.len(),
        }
    }

    /// Whether the secret's current value (`text` or `binary`) is this one:
    /// the same bytes, or for JSON the same JSON value.
    #[cfg_attr(not(feature = "aws"), allow(dead_code))]
    fn same_as(&self, text: Option<&str>, binary: Option<&[u8]>) -> bool {
        match (self, text, binary) {
            (SecretValue::Binary(ours), _, Some(theirs)) => ours.as_slice() == theirs,
            (SecretValue::Text(ours), Some(theirs), _) => ours.as_str() == theirs,
            (SecretValue::Json(ours), Some(theirs), _) => {
                if ours.as_str() == theirs {
                    return true;
                }
                let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).ok();
                let (Some(mut a), Some(mut b)) = (parse(ours), parse(theirs)) else {
                    return false;
                };
                let same = a == b;
                super::wipe(&mut a);
                super::wipe(&mut b);
                same
            }
            _ => false,
        }
    }
}

/// What a publication did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The secret's name.
    pub name: String,
    /// The secret already held this value; nothing was written.
    pub up_to_date: bool,
    /// The secret did not exist and was created.
    pub created: bool,
    /// Messages for the user (the current value could not be read).
    pub warnings: Vec<String>,
}

impl SecretsManagerDestination {
    /// A destination from the rule's fields (checked when publishing).
    pub fn new(prefix: &str, region: &str) -> SecretsManagerDestination {
        SecretsManagerDestination {
            prefix: prefix.to_string(),
            region: region.to_string(),
        }
    }

    /// The secret name of `name`: the prefix and the name.
    pub fn secret_name(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Where `name` goes, for the confirmation question.
    pub fn path(&self, name: &str) -> String {
        let secret = self.secret_name(name);
        if self.region.is_empty() {
            format!("AWS Secrets Manager secret {secret}")
        } else {
            format!("AWS Secrets Manager secret {secret} in {}", self.region)
        }
    }

    /// Checks the region and the secret name of `name`, without any
    /// request; the secret name.
    pub fn check(&self, name: &str) -> Result<String, String> {
        if !self.region.is_empty() {
            super::aws::check_region(&self.region)?;
        }
        let secret = self.secret_name(name);
        check_name(&secret)?;
        Ok(secret)
    }

    /// Writes `value` as the secret of `name` (created with the tag
    /// [`SOURCE_TAG`] = `source`) unless it already holds it. Errors are
    /// one line, never the value.
    pub fn publish(
        &self,
        value: &SecretValue,
        name: &str,
        source: &str,
    ) -> Result<Published, String> {
        let secret = self.check(name)?;
        check_size(value, &secret)?;
        let region = (!self.region.is_empty()).then_some(self.region.as_str());
        sdk::publish(region, &secret, value, &source_tag(source))
            .map_err(|e| format!("publishing to AWS Secrets Manager secret {secret} failed: {e}"))
    }
}

/// Checks that `value` fits in a secret (at most [`VALUE_LIMIT`] bytes).
pub fn check_size(value: &SecretValue, secret: &str) -> Result<(), String> {
    if value.len() > VALUE_LIMIT {
        return Err(format!(
            "the value of secret {secret} would be {} bytes; AWS Secrets Manager holds at most {VALUE_LIMIT}",
            value.len()
        ));
    }
    Ok(())
}

/// Checks a secret name: 1 to 512 characters, ASCII letters, digits and
/// `/ _ + = . @ -` (Secrets Manager's set).
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = (1..=NAME_LIMIT).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "cannot publish to AWS Secrets Manager secret '{}': a secret name is 1 to {NAME_LIMIT} letters, digits and '/', '_', '+', '=', '.', '@', '-' (rename the file, or use --omit-extensions / secretsmanager_prefix)",
            name.escape_debug()
        ))
    }
}

/// The value of the [`SOURCE_TAG`] tag for the file `path`: characters a
/// tag value cannot hold replaced by `_`, at most 256 characters (the end
/// of a longer path is kept).
pub fn source_tag(path: &str) -> String {
    let allowed = |c: char| c.is_alphanumeric() || c == ' ' || "+-=._:/@".contains(c);
    let chars: Vec<char> = path
        .chars()
        .map(|c| if allowed(c) { c } else { '_' })
        .collect();
    let start = chars.len().saturating_sub(TAG_LIMIT);
    chars[start..].iter().collect()
}

#[cfg(feature = "aws")]
mod sdk {
    use super::{Published, SecretValue, SOURCE_TAG};
    use crate::keys::kms::sdk::{base_config, describe_error, run};
    use aws_sdk_secretsmanager::primitives::Blob;
    use aws_sdk_secretsmanager::types::Tag;
    use zeroize::Zeroizing;

    /// Reads the current value, then creates the secret or adds a version.
    pub(super) fn publish(
        region: Option<&str>,
        secret: &str,
        value: &SecretValue,
        tag: &str,
    ) -> Result<Published, String> {
        run(async {
            let config = base_config(region, "").await;
            if config.region().is_none() {
                return Err(super::super::aws::NO_REGION.to_string());
            }
            let client = aws_sdk_secretsmanager::Client::new(&config);
            let mut published = Published {
                name: secret.to_string(),
                up_to_date: false,
                created: false,
                warnings: Vec::new(),
            };
            let mut exists = None;
            match client.get_secret_value().secret_id(secret).send().await {
                Ok(mut current) => {
                    let text = current.secret_string.take().map(Zeroizing::new);
                    let binary = current
                        .secret_binary
                        .take()
                        .map(|b| Zeroizing::new(b.into_inner()));
                    if value.same_as(text.as_deref().map(String::as_str), binary.as_deref().map(Vec::as_slice)) {
                        published.up_to_date = true;
                        return Ok(published);
                    }
                    exists = Some(true);
                }
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_not_found_exception()) =>
                {
                    exists = Some(false);
                }
                Err(e) => published.warnings.push(format!(
                    "Cannot check if the secret {secret} already exists ({}). A new version will be created even if the data has not been changed.",
                    describe_error(&e)
                )),
            }
            if exists != Some(true) {
                let create = client
                    .create_secret()
                    .name(secret)
                    .tags(Tag::builder().key(SOURCE_TAG).value(tag).build());
                let create = match value {
                    SecretValue::Json(s) | SecretValue::Text(s) => create.secret_string(s.as_str()),
                    SecretValue::Binary(b) => create.secret_binary(Blob::new(b.to_vec())),
                };
                match create.send().await {
                    Ok(_) => {
                        published.created = true;
                        return Ok(published);
                    }
                    // Found without a current value, or not readable.
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_resource_exists_exception()) => {}
                    Err(e) => return Err(describe_error(&e)),
                }
            }
            let put = client.put_secret_value().secret_id(secret);
            let put = match value {
                SecretValue::Json(s) | SecretValue::Text(s) => put.secret_string(s.as_str()),
                SecretValue::Binary(b) => put.secret_binary(Blob::new(b.to_vec())),
            };
            put.send().await.map_err(|e| describe_error(&e))?;
            Ok(published)
        })
    }
}

#[cfg(not(feature = "aws"))]
mod sdk {
    use super::{Published, SecretValue};

    pub(super) fn publish(
        _region: Option<&str>,
        _secret: &str,
        _value: &SecretValue,
        _tag: &str,
    ) -> Result<Published, String> {
        Err(super::super::aws::NO_AWS.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        let d = SecretsManagerDestination::new("myapp/", "eu-west-1");
        assert_eq!(d.secret_name("db.yaml"), "myapp/db.yaml");
        assert_eq!(
            d.path("db"),
            "AWS Secrets Manager secret myapp/db in eu-west-1"
        );
        assert_eq!(d.check("sub/db.yaml").unwrap(), "myapp/sub/db.yaml");
        assert!(d
            .check("a b.yaml")
            .unwrap_err()
            .contains("'myapp/a b.yaml'"));
        assert!(SecretsManagerDestination::new("", "").check("").is_err());
        let bad_region = SecretsManagerDestination::new("p/", "us-east-1.evil.example");
        let err = bad_region
            .publish(&SecretValue::Text(Zeroizing::new("x".into())), "f", "f")
            .unwrap_err();
        assert!(err.starts_with("refusing aws_region"), "{err}");
    }

    #[test]
    fn names_outside_the_character_set_are_refused() {
        for good in ["a", "team/app/db.enc.json", "x+y=z@w_v-1", &"a".repeat(512)] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        for bad in ["", "a b", "a#b", "é", "a\nb", "a?b", &"a".repeat(513)] {
            let err = check_name(bad).unwrap_err();
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn tags_keep_the_allowed_characters() {
        assert_eq!(source_tag("secrets/db.enc.yaml"), "secrets/db.enc.yaml");
        assert_eq!(source_tag("a b#c(d).env"), "a b_c_d_.env");
        let long = format!("{}/end.yaml", "d".repeat(300));
        let tag = source_tag(&long);
        assert_eq!(tag.chars().count(), 256);
        assert!(tag.ends_with("/end.yaml"));
    }

    #[test]
    fn values_compare_as_json_or_bytes() {
        let json = SecretValue::Json(Zeroizing::new(r#"{"a":1,"b":"x"}"#.into()));
        assert!(json.same_as(Some(r#"{"a":1,"b":"x"}"#), None));
        assert!(json.same_as(Some("{ \"b\": \"x\", \"a\": 1 }"), None));
        assert!(!json.same_as(Some(r#"{"a":2,"b":"x"}"#), None));
        assert!(!json.same_as(None, Some(b"{}")));
        let text = SecretValue::Text(Zeroizing::new("k=v\n".into()));
        assert!(text.same_as(Some("k=v\n"), None));
        assert!(!text.same_as(Some("k=v"), None));
        let binary = SecretValue::Binary(Zeroizing::new(vec![0xff, 0]));
        assert!(binary.same_as(None, Some(&[0xff, 0])));
        assert!(!binary.same_as(Some("x"), None));
        assert_eq!(binary.len(), 2);
    }

    #[test]
    fn values_above_the_limit_are_refused_before_any_request() {
        let d = SecretsManagerDestination::new("p/", "us-east-1");
        let big = SecretValue::Text(Zeroizing::new("x".repeat(VALUE_LIMIT + 1)));
        let err = d.publish(&big, "f", "f").unwrap_err();
        assert!(err.contains("at most 65536"), "{err}");
    }
}

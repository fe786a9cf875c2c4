//! Publishing to an S3 bucket, as sops' `publish/s3.go` does: the
//! *encrypted* file (re-encrypted for the destination rule's
//! `recreation_rule` keys when it names some, see `cli::publish`) is written
//! with `PutObject` to `s3_bucket` under the key `s3_prefix` + the file's
//! destination name. Plaintext never goes to S3.
//!
//! Trust: the bucket comes from the user's `.sops.yaml`, never from the file
//! being published, and it is checked against S3's bucket naming rules
//! ([`check_bucket`]) before any request, so it cannot make the SDK send the
//! request (and the signed credentials) to another host. Credentials,
//! region and endpoint come from the standard AWS chain (`AWS_REGION`,
//! `AWS_PROFILE`, `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`…); with an
//! endpoint override, path-style addressing is used
//! (`<endpoint>/<bucket>/<key>`), as local S3 servers expect.

/// S3's limit on the length of an object key, in bytes.
const KEY_LIMIT: usize = 1024;

/// An S3 destination: `s3_bucket` and `s3_prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Destination {
    bucket: String,
    prefix: String,
}

impl S3Destination {
    /// A destination from the rule's fields (checked when publishing).
    pub fn new(bucket: &str, prefix: &str) -> S3Destination {
        S3Destination {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        }
    }

    /// Where `name` goes, as sops shows it: `s3://<bucket>/<prefix><name>`.
    pub fn path(&self, name: &str) -> String {
        format!("s3://{}/{}{name}", self.bucket, self.prefix)
    }

    /// The object key of `name`: the prefix and the name, not empty, at most
    /// [`KEY_LIMIT`] bytes.
    pub fn key(&self, name: &str) -> Result<String, String> {
        let key = format!("{}{name}", self.prefix);
        if key.is_empty() {
            return Err("the S3 object key is empty (no s3_prefix and an empty file name)".into());
        }
        if key.len() > KEY_LIMIT {
            return Err(format!(
                "the S3 object key {:?} is longer than {KEY_LIMIT} bytes",
                key.escape_debug().to_string()
            ));
        }
        Ok(key)
    }

    /// Checks the bucket and the key of `name`, without any request.
    pub fn check(&self, name: &str) -> Result<String, String> {
        check_bucket(&self.bucket)?;
        self.key(name)
    }

    /// Uploads `contents` (an encrypted file) as the object of `name`.
    /// Errors are one line.
    pub fn upload(&self, contents: &[u8], name: &str) -> Result<(), String> {
        let key = self.check(name)?;
        put_object(&self.bucket, &key, contents.to_vec())
            .map_err(|e| format!("uploading {} failed: {e}", self.path(name)))
    }
}

/// Checks `bucket` against S3's naming rules for general purpose buckets:
/// 3 to 63 characters, lowercase letters, digits, `.` and `-`, starting and
/// ending with a letter or digit, no `..`, not an IPv4 address, none of
/// the reserved prefixes and suffixes. Such a name cannot add a host, port,
/// user info or path to the request URL.
pub fn check_bucket(bucket: &str) -> Result<(), String> {
    let refuse = |why: &str| {
        Err(format!(
            "refusing s3_bucket '{}': not a valid S3 bucket name ({why})",
            bucket.escape_debug()
        ))
    };
    if !(3..=63).contains(&bucket.len()) {
        return refuse("it must be 3 to 63 characters long");
    }
    if !bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return refuse("only lowercase letters, digits, '.' and '-' are allowed");
    }
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(bucket.as_bytes()[0]) || !alnum(bucket.as_bytes()[bucket.len() - 1]) {
        return refuse("it must start and end with a letter or digit");
    }
    if bucket.contains("..") {
        return refuse("it must not contain '..'");
    }
    if bucket.split('.').count() == 4 && bucket.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return refuse("it must not look like an IP address");
    }
    let reserved_prefix = ["xn--", "sthree-", "amzn-s3-demo-"]
        .into_iter()
        .find(|p| bucket.starts_with(p));
    let reserved_suffix = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"]
        .into_iter()
        .find(|s| bucket.ends_with(s));
    if let Some(reserved) = reserved_prefix.or(reserved_suffix) {
        return refuse(&format!("'{reserved}' is reserved by S3"));
    }
    Ok(())
}

#[cfg(feature = "aws")]
fn put_object(bucket: &str, key: &str, body: Vec<u8>) -> Result<(), String> {
    use crate::keys::kms::sdk::{base_config, describe_error, run};
    run(async {
        let config = base_config(None, "").await;
        if config.region().is_none() {
            return Err(super::aws::NO_REGION.to_string());
        }
        let mut s3 = aws_sdk_s3::config::Builder::from(&config);
        if super::aws::endpoint_override(&config, "S3") {
            s3 = s3.force_path_style(true);
        }
        let client = aws_sdk_s3::Client::from_conf(s3.build());
        client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from(body))
            .send()
            .await
            .map_err(|e| describe_error(&e))?;
        Ok(())
    })
}

#[cfg(not(feature = "aws"))]
fn put_object(_bucket: &str, _key: &str, _body: Vec<u8>) -> Result<(), String> {
    Err(super::aws::NO_AWS.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_bucket_names_pass() {
        for good in [
            "abc",
            "my-bucket",
            "my.bucket.name",
            "a1b2c3",
            "123",
            "1.2.3.4.5",
            &"a".repeat(63),
        ] {
            assert_eq!(check_bucket(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn names_that_could_change_the_request_are_refused() {
        for (bad, why) in [
            ("ab", "3 to 63"),
            (&"a".repeat(64) as &str, "3 to 63"),
            ("evil.example:443", "only lowercase"),
            ("evil.example/x", "only lowercase"),
            ("user@evil.example", "only lowercase"),
            ("b#frag", "only lowercase"),
            ("b?x=1", "only lowercase"),
            ("Bucket", "only lowercase"),
            ("a b", "only lowercase"),
            ("bück", "only lowercase"),
            ("-bucket", "start and end"),
            ("bucket.", "start and end"),
            ("a..b", "'..'"),
            ("192.168.0.1", "IP address"),
            ("xn--bucket", "reserved"),
            ("bucket-s3alias", "reserved"),
        ] {
            let err = check_bucket(bad).unwrap_err();
            assert!(
                err.contains(why) && err.starts_with("refusing s3_bucket"),
                "{bad}: {err}"
            );
        }
        assert!(!check_bucket("a\nb").unwrap_err().contains('\n'));
    }

    #[test]
    fn keys_are_prefix_and_name() {
        let d = S3Destination::new("bucket", "team/app/");
        assert_eq!(d.path("db.yaml"), "s3://bucket/team/app/db.yaml");
        assert_eq!(d.key("sub/db.yaml").unwrap(), "team/app/sub/db.yaml");
        assert!(S3Destination::new("bucket", "").key("").is_err());
        assert!(d.key(&"x".repeat(1100)).unwrap_err().contains("1024"));
        let bad = S3Destination::new("evil.example:80", "");
        assert!(bad.upload(b"x", "f").unwrap_err().contains("refusing"));
    }
}

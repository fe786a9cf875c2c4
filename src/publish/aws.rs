//! What the AWS destinations of `publish` ([`super::s3`],
//! [`super::secretsmanager`]) share: the region check, the endpoint
//! override test, and the messages for a missing region or a build without
//! the `aws` feature. The SDK runtime, base config and error wording are
//! those of the KMS keys (`crate::keys::kms::sdk`).

/// The error when enseal was built without the `aws` feature.
pub(crate) const NO_AWS: &str =
    "enseal was built without AWS support (rebuild with the cargo feature `aws`, on by default)";

/// The error when no region is configured.
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub(crate) const NO_REGION: &str =
    "no AWS region is configured (set AWS_REGION, or region in the AWS profile)";

/// `Err(NO_AWS)` when enseal was built without the `aws` feature.
pub fn available() -> Result<(), &'static str> {
    if cfg!(feature = "aws") {
        Ok(())
    } else {
        Err(NO_AWS)
    }
}

/// Checks an `aws_region` from `.sops.yaml`: lowercase letters and digits
/// in words joined by `-` (`eu-west-1`). It becomes part of the endpoint's
/// host name, so it cannot hold `.`, `/`, `:` or `@`.
pub fn check_region(region: &str) -> Result<(), String> {
    if crate::keys::kms::is_dashed_words(region) {
        Ok(())
    } else {
        Err(format!(
            "refusing aws_region '{}': an AWS region is lowercase letters, digits and '-', like us-east-1",
            region.escape_debug()
        ))
    }
}

/// True when the user's environment or AWS config points `service` (the
/// SDK's service id: `S3`, `SECRETS_MANAGER`) at another endpoint:
/// `AWS_ENDPOINT_URL_<service>` or `AWS_ENDPOINT_URL` (or the profile's
/// `endpoint_url`), unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is true.
#[cfg(feature = "aws")]
pub(crate) fn endpoint_override(config: &aws_config::SdkConfig, service: &str) -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    if std::env::var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"))
    {
        return false;
    }
    set(&format!("AWS_ENDPOINT_URL_{service}")) || config.endpoint_url().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn availability_follows_the_feature() {
        assert_eq!(available().is_ok(), cfg!(feature = "aws"));
        #[cfg(not(feature = "aws"))]
        {
            let s3 = crate::publish::s3::S3Destination::new("bucket", "");
            let err = s3.upload(b"x", "f").unwrap_err();
            assert!(err.contains("without AWS support"), "{err}");
        }
    }

    #[test]
    fn regions_are_one_dns_label() {
        assert_eq!(check_region("us-east-1"), Ok(()));
        assert_eq!(check_region("us-gov-west-1"), Ok(()));
        for bad in [
            "",
            "us-east-1.evil.example",
            "x@h",
            "US-EAST-1",
            "a/b",
            "a:1",
        ] {
            assert!(
                check_region(bad)
                    .unwrap_err()
                    .starts_with("refusing aws_region"),
                "{bad}"
            );
        }
    }
}

//! `enseal encrypt`.

use super::io::{check_output_flags, kinds, read_input, store_options, write_output};
use super::{IoArgs, KeyArgs, RuleArgs};
use crate::crypto::EncryptionRule;
use crate::document::{self, EncryptSettings};
use crate::error::{Error, Result};
use crate::format::{FormatError, FormatKind};
use crate::keys::age::parse_recipient_list;
use crate::keys::MasterKey;

pub(crate) fn run(file: Option<&str>, io: &IoArgs, keys: &KeyArgs, rules: &RuleArgs) -> Result<()> {
    check_output_flags(io)?;
    if matches!(file, None | Some("-") | Some("/dev/stdin"))
        && io.filename_override.is_none()
        && io.input_type.is_none()
    {
        return Err(Error::ConflictingParameters(
            "must specify --filename-override (or --input-type) when reading from stdin".into(),
        ));
    }
    let rule = rule_from_flags(rules)?;
    let key_groups = vec![master_keys(keys)?];
    let input = read_input(file, io)?;
    let (in_kind, out_kind) = kinds(io, &input.type_path);
    let options = store_options(io, out_kind)?;
    let in_store = in_kind.store(&options);
    let out_store = out_kind.store(&options);
    let documents = in_store.parse_plain(&input.bytes).map_err(|e| match e {
        FormatError::NoDocument => Error::NoDocument,
        other => Error::ParsePlain {
            path: input.name.clone(),
            message: other.to_string(),
        },
    })?;
    if documents
        .first()
        .is_some_and(|d| out_store.has_metadata_key(d))
    {
        return Err(Error::AlreadyEncrypted(input.name.clone()));
    }
    let settings = EncryptSettings {
        key_groups,
        shamir_threshold: keys.shamir_secret_sharing_threshold.unwrap_or(0),
        rule,
        mac_only_encrypted: rules.mac_only_encrypted,
        binary: in_kind == FormatKind::Binary,
    };
    let encrypted = document::encrypt(documents, settings).map_err(|e| e.in_file(&input.name))?;
    let bytes = out_store
        .emit_encrypted(&encrypted.documents, &encrypted.metadata.to_map())
        .map_err(|e| Error::Dump(e.to_string()))?;
    write_output(io, &input, &bytes)
}

fn rule_from_flags(rules: &RuleArgs) -> Result<Option<EncryptionRule>> {
    let given: Vec<EncryptionRule> = [
        rules
            .unencrypted_suffix
            .clone()
            .map(EncryptionRule::UnencryptedSuffix),
        rules
            .encrypted_suffix
            .clone()
            .map(EncryptionRule::EncryptedSuffix),
        rules
            .unencrypted_regex
            .clone()
            .map(EncryptionRule::UnencryptedRegex),
        rules
            .encrypted_regex
            .clone()
            .map(EncryptionRule::EncryptedRegex),
        rules
            .unencrypted_comment_regex
            .clone()
            .map(EncryptionRule::UnencryptedCommentRegex),
        rules
            .encrypted_comment_regex
            .clone()
            .map(EncryptionRule::EncryptedCommentRegex),
    ]
    .into_iter()
    .flatten()
    .filter(|r| !r.field().1.is_empty())
    .collect();
    if given.len() > 1 {
        return Err(Error::ConflictingParameters(
            "cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex in the same file".into(),
        ));
    }
    if let Some(re) = given.first().and_then(|r| match r {
        EncryptionRule::UnencryptedRegex(s)
        | EncryptionRule::EncryptedRegex(s)
        | EncryptionRule::UnencryptedCommentRegex(s)
        | EncryptionRule::EncryptedCommentRegex(s) => Some(s),
        _ => None,
    }) {
        if let Err(e) = regex::Regex::new(re) {
            return Err(Error::Usage(format!(
                "invalid regular expression {re:?}: {e}"
            )));
        }
    }
    Ok(given.into_iter().next())
}

fn master_keys(keys: &KeyArgs) -> Result<Vec<MasterKey>> {
    let unsupported = [
        ("--kms / SOPS_KMS_ARN", &keys.kms),
        ("--pgp / SOPS_PGP_FP", &keys.pgp),
        ("--gcp-kms / SOPS_GCP_KMS_IDS", &keys.gcp_kms),
        ("--azure-kv / SOPS_AZURE_KEYVAULT_URLS", &keys.azure_kv),
        (
            "--hc-vault-transit / SOPS_VAULT_URIS",
            &keys.hc_vault_transit,
        ),
        ("--hckms / SOPS_HUAWEICLOUD_KMS_IDS", &keys.hckms),
    ];
    for (name, value) in unsupported {
        if value.as_deref().is_some_and(|v| !v.trim().is_empty()) {
            return Err(Error::Key(format!(
                "{name}: this key type is not supported by enseal yet (only age)"
            )));
        }
    }
    let age = keys.age.as_deref().unwrap_or("");
    let group: Vec<MasterKey> = parse_recipient_list(age)
        .map_err(Error::Key)?
        .into_iter()
        .map(MasterKey::Age)
        .collect();
    if group.is_empty() {
        return Err(Error::Usage(
            "config file not found, or has no creation rules, and no keys provided through command line options".into(),
        ));
    }
    Ok(group)
}

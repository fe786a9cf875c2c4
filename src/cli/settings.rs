//! What a new or changed file gets: its master keys, encryption rule,
//! Shamir threshold and MAC mode, from the flags and the creation rule of
//! `.sops.yaml`; the keys `rotate` adds and removes.

use std::path::Path;

use super::args::{ChangeKeyArgs, IoArgs, KeyArgs, RuleArgs};
use super::io::{is_stdin, ConfigContext};
use crate::config::{Config, CreationRule};
use crate::crypto::EncryptionRule;
use crate::document::EncryptSettings;
use crate::error::{Error, Result};
use crate::keys::age::parse_recipient_list;
use crate::keys::{self, changes, KeyGroup, MasterKey};

/// Keys, rule, threshold and MAC mode of a new file, from the flags and the
/// creation rule of the config (docs/spec/cli.md §4.2).
pub(crate) fn new_file_settings(
    file: Option<&str>,
    io: &IoArgs,
    keys: &KeyArgs,
    rules: &RuleArgs,
    context: &ConfigContext,
) -> Result<EncryptSettings> {
    let creation = creation_rule(context, file, io)?;
    let rule = rule_from_flags(&merged_rules(rules, creation))?;
    let mac_only_encrypted =
        rules.mac_only_encrypted || creation.is_some_and(|r| r.mac_only_encrypted);
    let key_groups = key_groups(keys, context, creation)?;
    let shamir_threshold = keys
        .shamir_secret_sharing_threshold
        .filter(|&n| n != 0)
        .or(creation.map(|r| r.shamir_threshold))
        .unwrap_or(0);
    Ok(EncryptSettings {
        key_groups,
        shamir_threshold,
        rule,
        mac_only_encrypted,
        binary: false,
    })
}

/// The creation rule of the config for the file (`--filename-override`, else
/// the file path). A config with creation rules must have one that matches,
/// even when every key comes from flags (docs/spec/cli.md §4.2). The rule's age
/// recipients are checked here too, as sops does when loading it.
fn creation_rule<'c>(
    context: &'c ConfigContext,
    file: Option<&str>,
    io: &IoArgs,
) -> Result<Option<&'c CreationRule>> {
    let Some(config) = &context.config else {
        return Ok(None);
    };
    let path = io
        .filename_override
        .as_deref()
        .or(file.filter(|f| !is_stdin(Some(f))))
        .unwrap_or("");
    let rule = config
        .rule_for_file(Path::new(path), &context.cwd)
        .map_err(|e| {
            let no_match = matches!(e, crate::config::ConfigError::NoMatchingRule { .. });
            let error = Error::Usage(e.to_string());
            if !no_match {
                return error;
            }
            let message = error.to_string();
            error.explained(
                message,
                format!(
                    "the creation rules of {} do not cover {}: add a rule for it (a last rule without path_regex covers every file), or pass --config /dev/null to use only the keys given as flags",
                    crate::error::shown(&config.path.display().to_string()),
                    crate::error::shown(path),
                ),
            )
        })?;
    if let Some(rule) = rule {
        keys::check_age_specs(&rule.key_groups)
            .map_err(|e| Error::Key(in_rule(e, config, rule)))?;
    }
    Ok(rule)
}

/// `message (config file PATH, creation_rules[N])`.
fn in_rule(message: String, config: &Config, rule: &CreationRule) -> String {
    format!(
        "{message} (config file {}, creation_rules[{}])",
        config.path.display(),
        rule.index
    )
}

/// The rule flags with each unset (or empty) field taken from the creation
/// rule; more than one set field is refused later, as in sops.
fn merged_rules(flags: &RuleArgs, creation: Option<&CreationRule>) -> RuleArgs {
    let mut merged = flags.clone();
    if let Some(rule) = creation.and_then(|r| r.rule.as_ref()) {
        let (slot, value) = match rule {
            EncryptionRule::UnencryptedSuffix(v) => (&mut merged.unencrypted_suffix, v),
            EncryptionRule::EncryptedSuffix(v) => (&mut merged.encrypted_suffix, v),
            EncryptionRule::UnencryptedRegex(v) => (&mut merged.unencrypted_regex, v),
            EncryptionRule::EncryptedRegex(v) => (&mut merged.encrypted_regex, v),
            EncryptionRule::UnencryptedCommentRegex(v) => {
                (&mut merged.unencrypted_comment_regex, v)
            }
            EncryptionRule::EncryptedCommentRegex(v) => (&mut merged.encrypted_comment_regex, v),
        };
        if slot.as_deref().is_none_or(str::is_empty) {
            *slot = Some(value.clone());
        }
    }
    merged
}

/// The key groups of the new file: one group of the keys given by flags
/// (or their environment variables) when there are any, else the creation
/// rule's groups.
fn key_groups(
    keys: &KeyArgs,
    context: &ConfigContext,
    creation: Option<&CreationRule>,
) -> Result<Vec<KeyGroup>> {
    let from_flags = master_keys(keys)?;
    if !from_flags.is_empty() {
        return Ok(vec![from_flags]);
    }
    let kms_context = kms_context(keys.encryption_context.as_deref())?;
    match (creation, &context.config) {
        (Some(rule), Some(config)) => keys::from_specs(&rule.key_groups, &kms_context)
            .map_err(|e| Error::Key(in_rule(e, config, rule))),
        _ => {
            let error = Error::Usage(
                "config file not found, or has no creation rules, and no keys provided through command line options".into(),
            );
            let message = error.to_string();
            Err(error.explained(
                message,
                "pass the keys to encrypt for, e.g. --age <age1… recipient> (or --pgp, --kms, …), or run `enseal init` to create a .sops.yaml with creation rules",
            ))
        }
    }
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
                "invalid regular expression {re:?}: {}",
                crate::config::regex_message(&e)
            )));
        }
    }
    Ok(given.into_iter().next())
}

/// The master keys given by flags (possibly none), in sops' order: kms,
/// gcp_kms, hckms, azure_kv, hc_vault, age, pgp.
fn master_keys(keys: &KeyArgs) -> Result<Vec<MasterKey>> {
    let context = kms_context(keys.encryption_context.as_deref())?;
    let list = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut group = keys::kms_keys(
        &list(&keys.kms),
        &context,
        keys.aws_profile.as_deref().unwrap_or(""),
    );
    group.extend(keys::gcp_kms_keys(&list(&keys.gcp_kms)));
    group.extend(keys::hckms_keys(&list(&keys.hckms)).map_err(Error::Key)?);
    group.extend(keys::azure_kv_keys(&list(&keys.azure_kv)).map_err(Error::Key)?);
    group.extend(keys::vault_keys(&list(&keys.hc_vault_transit)).map_err(Error::Key)?);
    let age = keys.age.as_deref().unwrap_or("");
    group.extend(
        parse_recipient_list(age)
            .map_err(Error::Key)?
            .into_iter()
            .map(MasterKey::Age),
    );
    group.extend(keys::pgp_keys(&list(&keys.pgp)));
    Ok(group)
}

/// The `--encryption-context` of the KMS keys (empty when not given); a
/// malformed one is refused with sops' message and exit code 6.
pub(crate) fn kms_context(text: Option<&str>) -> Result<Vec<(String, String)>> {
    keys::parse_kms_context(text.unwrap_or("")).map_err(|e| Error::Coded(6, e))
}

/// The key groups the creation rule for `path` asks for.
pub(crate) fn rule_key_groups(
    config: &Config,
    context: &ConfigContext,
    path: &Path,
) -> Result<Vec<keys::KeyGroup>> {
    let rule = config
        .rule_for_file(path, &context.cwd)
        .map_err(|e| Error::Usage(format!("error loading config: {e}")))?
        .ok_or_else(|| {
            Error::Usage(format!(
                "The config file {} does not contain any creation rule",
                config.path.display()
            ))
        })?;
    keys::from_specs(&rule.key_groups, &[]).map_err(|e| {
        Error::Key(format!(
            "{e} (config file {}, creation_rules[{}])",
            config.path.display(),
            rule.index
        ))
    })
}

/// The KMS settings of `--add-kms` keys.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct KmsOptions<'a> {
    /// `--encryption-context`.
    pub context: Option<&'a str>,
    /// `--aws-profile` (legacy mode only).
    pub aws_profile: Option<&'a str>,
}

impl ChangeKeyArgs {
    fn lists(&self) -> [&Option<String>; 14] {
        [
            &self.add_age,
            &self.rm_age,
            &self.add_kms,
            &self.rm_kms,
            &self.add_gcp_kms,
            &self.rm_gcp_kms,
            &self.add_hckms,
            &self.rm_hckms,
            &self.add_azure_kv,
            &self.rm_azure_kv,
            &self.add_hc_vault_transit,
            &self.rm_hc_vault_transit,
            &self.add_pgp,
            &self.rm_pgp,
        ]
    }

    /// True when any add/remove flag is given with a non-empty value.
    pub fn any(&self) -> bool {
        self.lists()
            .iter()
            .any(|v| v.as_deref().is_some_and(|s| !s.trim().is_empty()))
    }

    /// The keys to add (in sops' order: kms, gcp_kms, hckms, azure_kv,
    /// hc_vault, age, pgp) and the string forms of the keys to remove (ARN,
    /// fingerprint, resource id, key id, key URL, recipient).
    pub fn parse(&self, kms: &KmsOptions) -> Result<(Vec<MasterKey>, Vec<String>)> {
        let list = |v: &Option<String>| v.clone().unwrap_or_default();
        let context = kms_context(kms.context)?;
        let profile = kms.aws_profile.unwrap_or("");
        let keys_of = |add: bool| -> Result<Vec<MasterKey>> {
            let pick = |a: &Option<String>, r: &Option<String>| list(if add { a } else { r });
            let mut out = keys::kms_keys(&pick(&self.add_kms, &self.rm_kms), &context, profile);
            out.extend(keys::gcp_kms_keys(&pick(
                &self.add_gcp_kms,
                &self.rm_gcp_kms,
            )));
            if add {
                out.extend(keys::hckms_keys(&list(&self.add_hckms)).map_err(Error::Key)?);
            }
            out.extend(
                keys::azure_kv_keys(&pick(&self.add_azure_kv, &self.rm_azure_kv))
                    .map_err(Error::Key)?,
            );
            out.extend(
                keys::vault_keys(&pick(&self.add_hc_vault_transit, &self.rm_hc_vault_transit))
                    .map_err(Error::Key)?,
            );
            out.extend(
                parse_recipient_list(&pick(&self.add_age, &self.rm_age))
                    .map_err(Error::Key)?
                    .into_iter()
                    .map(MasterKey::Age),
            );
            out.extend(keys::pgp_keys(&pick(&self.add_pgp, &self.rm_pgp)));
            Ok(out)
        };
        let add = keys_of(true)?;
        let mut remove: Vec<String> = keys_of(false)?.iter().map(changes::key_string).collect();
        // HuaweiCloud keys are removed by key id, unchecked, so that a key
        // with a region enseal would not call can still be taken out.
        remove.extend(
            list(&self.rm_hckms)
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(String::from),
        );
        Ok((add, remove))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creation(rule: Option<EncryptionRule>) -> CreationRule {
        CreationRule {
            index: 0,
            path_regex: String::new(),
            key_groups: Vec::new(),
            uses_key_groups: false,
            shamir_threshold: 0,
            rule,
            mac_only_encrypted: false,
        }
    }

    #[test]
    fn config_rule_fills_only_unset_fields() {
        let from_config = creation(Some(EncryptionRule::EncryptedRegex("^a".into())));
        // Nothing on the command line: the config's rule.
        let merged = merged_rules(&RuleArgs::default(), Some(&from_config));
        assert_eq!(
            rule_from_flags(&merged).unwrap(),
            Some(EncryptionRule::EncryptedRegex("^a".into()))
        );
        // The same field given (even empty counts as unset): the flag wins.
        for (flag, want) in [("^b", "^b"), ("", "^a")] {
            let flags = RuleArgs {
                encrypted_regex: Some(flag.into()),
                ..Default::default()
            };
            let merged = merged_rules(&flags, Some(&from_config));
            assert_eq!(
                rule_from_flags(&merged).unwrap(),
                Some(EncryptionRule::EncryptedRegex(want.into()))
            );
        }
        // Another field: two rules, refused with exit 8.
        let flags = RuleArgs {
            encrypted_suffix: Some("_x".into()),
            ..Default::default()
        };
        let err = rule_from_flags(&merged_rules(&flags, Some(&from_config))).unwrap_err();
        assert_eq!(err.exit_code(), 8);
        // No rule anywhere: the default is recorded later.
        let merged = merged_rules(&RuleArgs::default(), Some(&creation(None)));
        assert_eq!(rule_from_flags(&merged).unwrap(), None);
    }
}

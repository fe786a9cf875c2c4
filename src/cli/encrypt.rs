//! `enseal encrypt`.

use std::path::Path;

use super::io::{
    check_exists, check_output_flags, chunk_refs, kinds, read_input, store_options, write_output,
    write_output_chunks, ConfigContext,
};
use super::{IoArgs, KeyArgs, RuleArgs};
use crate::config::{Config, CreationRule};
use crate::crypto::EncryptionRule;
use crate::document::{self, EncryptSettings};
use crate::error::{Error, Result};
use crate::format::{FormatError, FormatKind};
use crate::keys::age::parse_recipient_list;
use crate::keys::{self, KeyGroup, MasterKey};

pub(crate) fn run(
    file: Option<&str>,
    io: &IoArgs,
    keys: &KeyArgs,
    rules: &RuleArgs,
    config_path: Option<&str>,
) -> Result<()> {
    run_preserving(file, io, keys, rules, config_path, false)
}

/// `encrypt`, in format-preserving mode when `preserve_flag`
/// (`--preserve-format`) or the config asks for it.
pub(crate) fn run_preserving(
    file: Option<&str>,
    io: &IoArgs,
    keys: &KeyArgs,
    rules: &RuleArgs,
    config_path: Option<&str>,
    preserve_flag: bool,
) -> Result<()> {
    check_output_flags(io)?;
    if matches!(file, None | Some("-") | Some("/dev/stdin"))
        && io.filename_override.is_none()
        && io.input_type.is_none()
    {
        return Err(Error::ConflictingParameters(
            "must specify --filename-override (or --input-type) when reading from stdin".into(),
        ));
    }
    check_exists(file)?;
    let context = ConfigContext::load(config_path)?;
    let settings = new_file_settings(file, io, keys, rules, &context)?;
    let input = read_input(file, io)?;
    let (in_kind, out_kind) = kinds(io, &input.type_path);
    let options = store_options(io, out_kind, context.stores(), true)?;
    let in_store = in_kind.store(&options);
    let out_store = out_kind.store(&options);
    let preserve = preserve_mode(preserve_flag, &context, in_kind, out_kind)?;
    let mut documents = in_store.parse_plain(&input.bytes).map_err(|e| match e {
        FormatError::NoDocument => Error::NoDocument,
        // sops reads such a file and fails walking it: exit 23.
        FormatError::Unwalkable(message) => Error::EncryptTree(message).in_file(&input.name),
        other => Error::ParsePlain {
            path: input.name.clone(),
            message: other.to_string(),
        },
    })?;
    if in_kind == FormatKind::Toml && out_kind != FormatKind::Toml {
        // TOML values kept as source text get their type for other formats.
        crate::format::toml::type_raw_values(&mut documents);
    }
    if documents
        .first()
        .is_some_and(|d| out_store.has_metadata_key(d))
    {
        return Err(Error::AlreadyEncrypted(input.name.clone()));
    }
    let settings = EncryptSettings {
        binary: in_kind == FormatKind::Binary,
        ..settings
    };
    // Onto an existing encrypted `--output` file (or, with `--in-place`,
    // the version of the file committed in git) whose data key we have:
    // keep its data key and metadata, and the ciphertext of every unchanged
    // value; nothing changed → the previous encrypted bytes are kept.
    let previous = if io.in_place {
        input
            .file
            .as_deref()
            .and_then(|p| super::modify::open_committed(p, out_store.as_ref()))
    } else {
        io.output
            .as_deref()
            .and_then(|p| super::modify::open_existing(Path::new(p), out_store.as_ref()))
    };
    // Only when the file would get the same master keys (with their
    // settings), Shamir threshold, rule and MAC mode: flags or a creation
    // rule asking for others mean a new file with a new data key.
    let previous = previous.filter(|(opened, _)| same_settings(&opened.metadata, &settings));
    let plain = if preserve {
        documents.clone()
    } else {
        Vec::new()
    };
    let encrypted = match previous {
        // The layout may have changed even when the values did not.
        Some((mut opened, _)) if preserve => opened
            .reencrypt_always(documents)
            .map_err(|e| e.in_file(&input.name))?,
        Some((mut opened, bytes)) => match opened
            .reencrypt(documents)
            .map_err(|e| e.in_file(&input.name))?
        {
            Some(encrypted) => encrypted,
            None if io.in_place => return write_output(io, &input, &bytes),
            None => return Ok(()),
        },
        None => document::encrypt(documents, settings).map_err(|e| e.in_file(&input.name))?,
    };
    let chunks = if preserve {
        vec![crate::preserve::encrypt(
            in_kind,
            &input.bytes,
            &plain,
            &encrypted.documents,
            &encrypted.metadata.to_map(),
        )
        .map_err(|e| Error::Preserve {
            path: input.name.clone(),
            message: e.to_string(),
            code: crate::error::exit::COULD_NOT_READ_INPUT,
        })?]
    } else {
        out_store
            .emit_encrypted_chunks(&encrypted.documents, &encrypted.metadata.to_map())
            .map_err(|e| Error::Dump(e.to_string()))?
    };
    let written = write_output_chunks(io, &input, &chunk_refs(&chunks));
    // The process ends right after this command: freeing the encrypted tree
    // value by value costs about a tenth of a large encrypt, and it holds
    // only ciphertext (and values the rules left in clear), so let the exit
    // reclaim it.
    std::mem::forget(encrypted);
    std::mem::forget(chunks);
    written
}

/// The format-preserving bytes of `new` (the same plaintext `plain` as the
/// encrypted file `input`, whose parsed documents are `old`, encrypted
/// again: `rotate`): the file keeps its layout.
pub(crate) fn preserve_rewrite(
    kind: FormatKind,
    input: &[u8],
    name: &str,
    old: &[crate::tree::Map],
    plain: &[crate::tree::Map],
    new: &document::EncryptedDocument,
) -> Result<Vec<u8>> {
    let error = |e: crate::preserve::PreserveError| Error::Preserve {
        path: name.to_string(),
        message: e.to_string(),
        code: crate::error::exit::ERROR_DUMPING_TREE,
    };
    let text =
        zeroize::Zeroizing::new(crate::preserve::decrypt(kind, input, old, plain).map_err(error)?);
    crate::preserve::encrypt(kind, &text, plain, &new.documents, &new.metadata.to_map())
        .map_err(error)
}

/// Whether to write in format-preserving mode: the flag (refused where the
/// mode does not apply) or the config's `stores.<format>.preserve_format`
/// (ignored where it does not apply).
pub(crate) fn preserve_mode(
    flag: bool,
    context: &ConfigContext,
    in_kind: FormatKind,
    out_kind: FormatKind,
) -> Result<bool> {
    let applies = in_kind == out_kind && crate::preserve::supports(in_kind);
    if in_kind == FormatKind::Toml && out_kind == FormatKind::Toml {
        // The TOML store keeps the layout in every mode.
        return Ok(false);
    }
    if flag && !applies {
        return Err(Error::Usage(
            "--preserve-format needs the same input and output format (yaml, json, dotenv or ini)"
                .into(),
        ));
    }
    Ok(applies && (flag || context.preserve_format(in_kind)))
}

/// True when a file made with `settings` would have the master keys (per
/// group, with every setting: KMS role, encryption context, profile…),
/// Shamir threshold, encryption rule and MAC mode `metadata` records: only
/// then may its data key be kept. Otherwise the file is made anew, with a
/// new data key and the settings asked for now.
fn same_settings(metadata: &crate::metadata::Metadata, settings: &EncryptSettings) -> bool {
    let rule = if settings.binary {
        None
    } else {
        Some(settings.rule.clone().unwrap_or_default())
    };
    keys::changes::recipient_set(&metadata.key_groups, metadata.shamir_threshold)
        == keys::changes::recipient_set(&settings.key_groups, settings.shamir_threshold)
        && metadata.rule == rule
        && metadata.mac_only_encrypted == (settings.mac_only_encrypted && !settings.binary)
}

/// Keys, rule, threshold and MAC mode of a new file, from the flags and the
/// creation rule of the config (cli.md §4.2).
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
/// even when every key comes from flags (cli.md §4.2). The rule's age
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
        .or(file.filter(|f| !matches!(*f, "-" | "/dev/stdin")))
        .unwrap_or("");
    let rule = config
        .rule_for_file(Path::new(path), &context.cwd)
        .map_err(|e| Error::Usage(e.to_string()))?;
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
        _ => Err(Error::Usage(
            "config file not found, or has no creation rules, and no keys provided through command line options".into(),
        )),
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
/// gcp_kms, hckms (refused), azure_kv, hc_vault, age, pgp.
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

    #[test]
    fn data_key_kept_only_under_the_same_keys_and_settings() {
        let age = |n: usize| -> Vec<MasterKey> {
            (0..n)
                .map(|_| {
                    let r = ::age::x25519::Identity::generate().to_public().to_string();
                    MasterKey::Age(keys::age::AgeKey::new(&r).unwrap())
                })
                .collect()
        };
        let groups: Vec<KeyGroup> = age(3).into_iter().map(|k| vec![k]).collect();
        let settings = EncryptSettings {
            key_groups: groups.clone(),
            shamir_threshold: 2,
            ..Default::default()
        };
        let mut doc = crate::tree::Map::new();
        doc.push("a", crate::tree::Value::Str("x".into()));
        let file = document::encrypt(vec![doc], settings.clone()).unwrap();
        assert!(same_settings(&file.metadata, &settings));
        // Another threshold.
        let three = EncryptSettings {
            shamir_threshold: 3,
            ..settings.clone()
        };
        assert!(!same_settings(&file.metadata, &three));
        // A KMS key with a role or another context than the file's.
        let arn = "arn:aws:kms:us-east-1:111122223333:key/k";
        let kms = |role: &str, ctx: &[(String, String)]| -> MasterKey {
            keys::ServiceKey::kms(arn, role, ctx, "").into()
        };
        let mut with_kms = groups.clone();
        with_kms[0].push(kms("", &[("team".into(), "a".into())]));
        let mut file_kms = file.metadata.clone();
        file_kms.key_groups = with_kms.clone();
        let same = EncryptSettings {
            key_groups: with_kms.clone(),
            ..settings.clone()
        };
        assert!(same_settings(&file_kms, &same));
        for other in [
            kms("arn:aws:iam::1:role/r", &[("team".into(), "a".into())]),
            kms("", &[("team".into(), "b".into())]),
            kms("", &[]),
        ] {
            let mut groups = groups.clone();
            groups[0].push(other);
            let asked = EncryptSettings {
                key_groups: groups,
                ..settings.clone()
            };
            assert!(!same_settings(&file_kms, &asked));
        }
    }
}

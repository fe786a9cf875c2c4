//! Changing the master keys of an existing file: key-set diffs (what
//! `updatekeys` shows), adding and removing keys (`rotate --add-*/--rm-*`),
//! and re-wrapping the data key for a new set of key groups.

use super::groups::effective_threshold;
use super::{recover_data_key, wrap_data_key, KeyContext, KeyGroup, MasterKey};
use crate::crypto::DataKey;
use crate::tree::Value;

/// The difference between one key group of a file and its new version.
/// Keys are compared by their string form ([`key_string`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupDiff {
    /// Keys in both, in the order of the new group.
    pub common: Vec<String>,
    /// Keys only in the new group, in its order.
    pub added: Vec<String>,
    /// Keys only in the old group, in its order.
    pub removed: Vec<String>,
}

impl GroupDiff {
    /// True when the group gains or loses a key.
    pub fn changes(&self) -> bool {
        !self.added.is_empty() || !self.removed.is_empty()
    }
}

/// A key's string form as sops prints and compares it: the age recipient,
/// PGP fingerprint, KMS ARN, GCP resource id, Azure
/// `<vault_url>/keys/<name>/<version>`, Vault
/// `<address>/v1/<engine_path>/keys/<key_name>`, HuaweiCloud key id.
///
/// The fields come from the file, which is not trusted: control characters
/// are escaped (`\u{1b}`), so that printing a key (the failure report,
/// `updatekeys`' diff) cannot send terminal escape sequences.
pub fn key_string(key: &MasterKey) -> String {
    crate::error::shown(&raw_key_string(key)).into_owned()
}

fn raw_key_string(key: &MasterKey) -> String {
    let MasterKey::Service(other) = key else {
        return key.describe();
    };
    let field = |name: &str| other.field(name).to_string();
    match other.type_id.as_str() {
        "pgp" => field("fp"),
        "kms" => field("arn"),
        "gcp_kms" => field("resource_id"),
        "azure_kv" => format!(
            "{}/keys/{}/{}",
            field("vault_url"),
            field("name"),
            field("version")
        ),
        "hc_vault" => format!(
            "{}/v1/{}/keys/{}",
            field("vault_address"),
            field("engine_path"),
            field("key_name")
        ),
        "hckms" => field("key_id"),
        _ => ["arn", "fp", "resource_id", "key_id", "key_name", "name"]
            .iter()
            .map(|f| field(f))
            .find(|v| !v.is_empty())
            .unwrap_or_default(),
    }
}

/// What identifies a master key when deciding whether a data key may be
/// kept: its type and every field but the wrapped key (`enc`) and its
/// creation time, empty fields left out and mappings (a KMS encryption
/// context) in key order. Two keys with the same identity reach the same
/// holder with the same settings (ARN, role, context, profile…).
pub fn key_identity(key: &MasterKey) -> String {
    fn canonical(value: &Value) -> String {
        match value {
            Value::Map(map) => {
                let mut entries: Vec<String> = map
                    .entries()
                    .map(|(k, v)| format!("{k:?}:{}", canonical(v)))
                    .collect();
                entries.sort();
                format!("{{{}}}", entries.join(","))
            }
            Value::List(items) => {
                let items: Vec<String> = items.iter().map(canonical).collect();
                format!("[{}]", items.join(","))
            }
            other => format!("{other:?}"),
        }
    }
    match key {
        MasterKey::Age(k) => format!("age {}", k.recipient),
        MasterKey::Service(s) => {
            let mut fields: Vec<String> = s
                .fields
                .entries()
                .filter(|(k, v)| {
                    !matches!(*k, "enc" | "created_at")
                        && !matches!(v, Value::Str(text) if text.is_empty())
                        && !matches!(v, Value::Null)
                })
                .map(|(k, v)| format!("{k}={}", canonical(v)))
                .collect();
            fields.sort();
            format!("{} {}", s.type_id, fields.join(","))
        }
    }
}

/// The recipients of a file, for comparing two files: per group (in group
/// order) the sorted identities of its keys, and the Shamir threshold in
/// effect (0 for a single group, where it means nothing).
pub fn recipient_set(groups: &[KeyGroup], threshold: usize) -> (Vec<Vec<String>>, usize) {
    let ids = groups
        .iter()
        .map(|g| {
            let mut ids: Vec<String> = g.iter().map(key_identity).collect();
            ids.sort();
            ids
        })
        .collect();
    let threshold = if groups.len() > 1 {
        effective_threshold(groups.len(), threshold)
    } else {
        0
    };
    (ids, threshold)
}

/// True when going from `old` to `new` key groups takes a key away from a
/// group (as `updatekeys` shows it, `--- key`), or drops a group: the holder
/// of that key keeps the old data key, so the new file needs a new one.
pub fn removes_a_key(old: &[KeyGroup], new: &[KeyGroup]) -> bool {
    diff_groups(old, new).iter().any(|d| !d.removed.is_empty())
}

/// Compares key groups position by position (as sops does): one diff per
/// index up to the longer of the two lists.
pub fn diff_groups(old: &[KeyGroup], new: &[KeyGroup]) -> Vec<GroupDiff> {
    let empty: KeyGroup = Vec::new();
    (0..old.len().max(new.len()))
        .map(|i| {
            let ours: Vec<String> = old
                .get(i)
                .unwrap_or(&empty)
                .iter()
                .map(key_string)
                .collect();
            let theirs: Vec<String> = new
                .get(i)
                .unwrap_or(&empty)
                .iter()
                .map(key_string)
                .collect();
            let mut diff = GroupDiff::default();
            for key in &theirs {
                if ours.contains(key) {
                    diff.common.push(key.clone());
                } else {
                    diff.added.push(key.clone());
                }
            }
            diff.removed = ours.into_iter().filter(|k| !theirs.contains(k)).collect();
            diff
        })
        .collect()
}

/// The Shamir threshold `updatekeys` gives a file: its own, lowered to the
/// number of new groups when it exceeds it.
pub fn updated_threshold(file_threshold: usize, new_groups: usize) -> usize {
    file_threshold.min(new_groups)
}

/// The text `updatekeys` prints before asking (sops' layout, without
/// colours): threshold changes, then `Group N` (1-based) with unchanged keys
/// indented by four spaces, `+++ key` for added and `--- key` for removed.
pub fn render_changes(old_threshold: usize, new_threshold: usize, diffs: &[GroupDiff]) -> String {
    let mut out = String::from("The following changes will be made to the file's groups:\n");
    if old_threshold != new_threshold {
        out.push_str(&format!("+++ shamir_threshold: {new_threshold}\n"));
        out.push_str(&format!("--- shamir_threshold: {old_threshold}\n"));
    } else if new_threshold != 0 {
        out.push_str(&format!("shamir_threshold: {new_threshold}\n"));
    }
    for (i, diff) in diffs.iter().enumerate() {
        out.push_str(&format!("Group {}\n", i + 1));
        for key in &diff.common {
            out.push_str(&format!("    {key}\n"));
        }
        for key in &diff.added {
            out.push_str(&format!("+++ {key}\n"));
        }
        for key in &diff.removed {
            out.push_str(&format!("--- {key}\n"));
        }
    }
    out
}

/// Appends `keys` to the first group (creating it when there is none), as
/// `rotate --add-*` does. A key already present is added again, as in sops.
pub fn add_to_first_group(groups: &mut Vec<KeyGroup>, keys: Vec<MasterKey>) {
    if keys.is_empty() {
        return;
    }
    match groups.first_mut() {
        Some(first) => first.extend(keys),
        None => groups.push(keys),
    }
}

/// Removes every key whose string form is in `remove` from every group, as
/// `rotate --rm-*` does. Keys that are not in the file are ignored.
pub fn remove_keys(groups: &mut [KeyGroup], remove: &[String]) {
    for group in groups.iter_mut() {
        group.retain(|k| !remove.contains(&key_string(k)));
    }
}

/// Fails when a group holds a key enseal cannot wrap a data key for (a type
/// without a backend, such as HuaweiCloud KMS): rewriting the file would
/// leave that key unusable.
pub fn check_wrappable(groups: &[KeyGroup]) -> Result<(), String> {
    let others: Vec<String> = groups
        .iter()
        .flatten()
        .filter(|k| !k.has_backend())
        .map(MasterKey::describe)
        .collect();
    if others.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "cannot wrap the data key for {}: this key type is not supported by enseal",
            others.join(", ")
        ))
    }
}

/// Checks that `threshold` can be met by `groups` key groups (several
/// groups need a Shamir threshold of at least 2 and at most the number of
/// groups; 0 means all groups).
pub fn check_threshold(groups: usize, threshold: usize) -> Result<(), String> {
    if groups > 1 {
        let t = effective_threshold(groups, threshold);
        if t < 2 {
            return Err(format!(
                "a Shamir threshold of {t} cannot be used with {groups} key groups: it must be at least 2"
            ));
        }
        if t > groups {
            return Err(format!(
                "Shamir threshold is {t}, but we only have {groups} key groups"
            ));
        }
    } else if groups == 1 && threshold > 1 {
        return Err(format!(
            "Shamir threshold is {threshold}, but we only have 1 key groups"
        ));
    }
    Ok(())
}

/// The threshold recorded for a file with `groups` groups after its data
/// key was wrapped with `threshold`: 0 becomes the number of groups when
/// there are several (as sops records it); a single group keeps it as is.
pub fn recorded_threshold(groups: usize, threshold: usize) -> usize {
    if groups > 1 {
        effective_threshold(groups, threshold)
    } else {
        threshold
    }
}

/// Recovers the data key from the current groups.
pub fn recover(
    groups: &[KeyGroup],
    threshold: usize,
    keys: &mut KeyContext,
) -> Result<DataKey, String> {
    recover_data_key(groups, threshold, keys)
}

/// Wraps `data_key` for every key of `groups` (split with Shamir when there
/// are several groups), after checking that this is possible. Every key's
/// previous wrapped value is replaced.
pub fn rewrap(groups: &mut [KeyGroup], threshold: usize, data_key: &DataKey) -> Result<(), String> {
    if groups.is_empty() {
        return Err("no key groups left: a file needs at least one key".into());
    }
    if let Some(i) = groups.iter().position(Vec::is_empty) {
        return Err(format!(
            "key group {i} would have no keys left: a group needs at least one key"
        ));
    }
    check_wrappable(groups)?;
    check_threshold(groups.len(), threshold)?;
    wrap_data_key(groups, data_key, threshold)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::age::AgeKey;
    use crate::keys::ServiceKey;
    use crate::tree::Map;

    fn age() -> MasterKey {
        let r = ::age::x25519::Identity::generate().to_public().to_string();
        MasterKey::Age(AgeKey::new(&r).unwrap())
    }

    fn kms(arn: &str) -> MasterKey {
        let mut fields = Map::new();
        fields.push("arn", Value::Str(arn.into()));
        MasterKey::Service(ServiceKey {
            type_id: "kms".into(),
            fields,
        })
    }

    #[test]
    fn diff_is_per_position_in_new_order() {
        let (a, b, c) = (age(), age(), age());
        let old = vec![vec![a.clone(), b.clone()]];
        let new = vec![vec![c.clone(), a.clone()], vec![b.clone()]];
        let diffs = diff_groups(&old, &new);
        assert_eq!(diffs.len(), 2);
        assert_eq!(diffs[0].common, vec![a.describe()]);
        assert_eq!(diffs[0].added, vec![c.describe()]);
        assert_eq!(diffs[0].removed, vec![b.describe()]);
        assert_eq!(diffs[1].added, vec![b.describe()]);
        assert!(diffs[1].removed.is_empty());
        assert!(diffs.iter().all(GroupDiff::changes));
        let same = diff_groups(&old, &old);
        assert!(!same.iter().any(GroupDiff::changes));
    }

    #[test]
    fn rendering_matches_sops_layout() {
        let diffs = vec![
            GroupDiff {
                common: vec!["k1".into()],
                added: vec!["k2".into()],
                removed: vec!["k3".into()],
            },
            GroupDiff {
                common: vec![],
                added: vec![],
                removed: vec!["k4".into()],
            },
        ];
        assert_eq!(
            render_changes(2, 1, &diffs),
            "The following changes will be made to the file's groups:\n\
             +++ shamir_threshold: 1\n--- shamir_threshold: 2\n\
             Group 1\n    k1\n+++ k2\n--- k3\nGroup 2\n--- k4\n"
        );
        assert_eq!(
            render_changes(2, 2, &diffs[1..]),
            "The following changes will be made to the file's groups:\n\
             shamir_threshold: 2\nGroup 1\n--- k4\n"
        );
        assert_eq!(
            render_changes(0, 0, &[]),
            "The following changes will be made to the file's groups:\n"
        );
    }

    #[test]
    fn string_forms_of_other_keys() {
        assert_eq!(key_string(&kms("arn:aws:kms:x")), "arn:aws:kms:x");
        let mut fields = Map::new();
        for (k, v) in [
            ("vault_address", "https://v:8200"),
            ("engine_path", "sops/x"),
            ("key_name", "k"),
        ] {
            fields.push(k, Value::Str(v.into()));
        }
        let vault = MasterKey::Service(ServiceKey {
            type_id: "hc_vault".into(),
            fields,
        });
        assert_eq!(key_string(&vault), "https://v:8200/v1/sops/x/keys/k");
        // Control characters from a crafted file are shown escaped.
        assert_eq!(
            key_string(&kms("arn:aws:kms:x\u{1b}[2J\n")),
            "arn:aws:kms:x\\u{1b}[2J\\n"
        );
        let a = age();
        assert_eq!(key_string(&a), a.describe());
        let diffs = diff_groups(&[vec![a.clone(), kms("arn:1")]], &[vec![a.clone()]]);
        assert_eq!(diffs[0].removed, vec!["arn:1".to_string()]);
    }

    #[test]
    fn add_and_remove() {
        let (a, b, c) = (age(), age(), age());
        let mut groups = vec![vec![a.clone()], vec![b.clone()]];
        add_to_first_group(&mut groups, vec![c.clone()]);
        assert_eq!(groups[0], vec![a.clone(), c.clone()]);
        remove_keys(&mut groups, &[a.describe(), "age1unknown".into()]);
        assert_eq!(groups, vec![vec![c.clone()], vec![b.clone()]]);
        let mut none: Vec<KeyGroup> = Vec::new();
        add_to_first_group(&mut none, vec![a.clone()]);
        assert_eq!(none, vec![vec![a]]);
    }

    #[test]
    fn thresholds() {
        assert_eq!(updated_threshold(2, 1), 1);
        assert_eq!(updated_threshold(0, 3), 0);
        assert_eq!(recorded_threshold(3, 0), 3);
        assert_eq!(recorded_threshold(1, 1), 1);
        assert!(check_threshold(2, 0).is_ok());
        assert!(check_threshold(3, 2).is_ok());
        assert!(check_threshold(1, 0).is_ok());
        assert!(check_threshold(2, 1).unwrap_err().contains("at least 2"));
        assert_eq!(
            check_threshold(1, 2).unwrap_err(),
            "Shamir threshold is 2, but we only have 1 key groups"
        );
        assert!(check_threshold(2, 3).is_err());
    }

    #[test]
    fn rewrap_refuses_other_keys_and_empty_groups() {
        let key = DataKey::generate().unwrap();
        let mut future = Map::new();
        future.push("key_id", Value::Str("region:uuid".into()));
        let future = MasterKey::Service(ServiceKey {
            type_id: "future_kms".into(),
            fields: future,
        });
        let mut groups = vec![vec![age(), future]];
        let err = rewrap(&mut groups, 0, &key).unwrap_err();
        assert!(err.contains("future_kms region:uuid"), "{err}");
        let mut groups = vec![vec![age()], vec![]];
        assert!(rewrap(&mut groups, 0, &key)
            .unwrap_err()
            .contains("group 1"));
        assert!(rewrap(&mut [], 0, &key).is_err());
    }

    #[test]
    fn rewrapped_key_is_recovered_with_shamir() {
        let ids: Vec<::age::x25519::Identity> = (0..3)
            .map(|_| ::age::x25519::Identity::generate())
            .collect();
        let mut groups: Vec<KeyGroup> = ids
            .iter()
            .map(|i| {
                vec![MasterKey::Age(
                    AgeKey::new(&i.to_public().to_string()).unwrap(),
                )]
            })
            .collect();
        let key = DataKey::generate().unwrap();
        rewrap(&mut groups, 2, &key).unwrap();
        use ::age::secrecy::ExposeSecret;
        let mut identities = crate::keys::age::Identities::empty();
        for id in &ids[1..] {
            identities
                .add_text(id.to_string().expose_secret(), "test")
                .unwrap();
        }
        let mut context = KeyContext::new();
        context.age = Some(Ok(identities));
        let got = recover(&groups, 2, &mut context).unwrap();
        assert_eq!(got.as_bytes(), key.as_bytes());
    }

    #[test]
    fn identity_covers_kms_role_and_context_not_the_wrapped_key() {
        let ctx = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let arn = "arn:aws:kms:us-east-1:111122223333:key/k";
        let plain: MasterKey = ServiceKey::kms(arn, "", &[], "").into();
        let mut wrapped = plain.clone();
        if let MasterKey::Service(s) = &mut wrapped {
            *s.fields.get_mut("enc").unwrap() = Value::Str("wrapped".into());
            *s.fields.get_mut("created_at").unwrap() = Value::Str("2024".into());
        }
        assert_eq!(key_identity(&plain), key_identity(&wrapped));
        let role: MasterKey = ServiceKey::kms(arn, "arn:aws:iam::1:role/r", &[], "").into();
        assert_ne!(key_identity(&plain), key_identity(&role));
        let c1: MasterKey = ServiceKey::kms(arn, "", &ctx(&[("a", "1"), ("b", "2")]), "").into();
        let c2: MasterKey = ServiceKey::kms(arn, "", &ctx(&[("b", "2"), ("a", "1")]), "").into();
        let c3: MasterKey = ServiceKey::kms(arn, "", &ctx(&[("a", "1")]), "").into();
        assert_eq!(key_identity(&c1), key_identity(&c2));
        assert_ne!(key_identity(&c1), key_identity(&c3));
        assert_ne!(key_identity(&plain), key_identity(&c3));
        let profile: MasterKey = ServiceKey::kms(arn, "", &[], "dev").into();
        assert_ne!(key_identity(&plain), key_identity(&profile));
    }

    #[test]
    fn recipient_sets_compare_thresholds_only_with_several_groups() {
        let (a, b) = (age(), age());
        let one = vec![vec![a.clone(), b.clone()]];
        let reordered = vec![vec![b.clone(), a.clone()]];
        assert_eq!(recipient_set(&one, 0), recipient_set(&reordered, 1));
        let two = vec![vec![a.clone()], vec![b.clone()]];
        assert_eq!(recipient_set(&two, 0), recipient_set(&two, 2));
        let three = vec![vec![a.clone()], vec![b.clone()], vec![age()]];
        assert_ne!(recipient_set(&three, 2), recipient_set(&three, 3));
        assert_ne!(recipient_set(&one, 0), recipient_set(&two, 0));
    }

    #[test]
    fn removal_is_any_key_leaving_its_group() {
        let (a, b, c) = (age(), age(), age());
        let old = vec![vec![a.clone(), b.clone()]];
        assert!(!removes_a_key(
            &old,
            &[vec![a.clone(), b.clone(), c.clone()]]
        ));
        assert!(!removes_a_key(
            &old,
            &[vec![a.clone(), b.clone()], vec![c.clone()]]
        ));
        assert!(removes_a_key(&old, &[vec![a.clone()]]));
        // A key moved to another group, or a group dropped.
        assert!(removes_a_key(&old, &[vec![a.clone()], vec![b.clone()]]));
        let groups = vec![vec![a.clone()], vec![b.clone()]];
        assert!(removes_a_key(&groups, &[vec![a.clone()]]));
    }
}

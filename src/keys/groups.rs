//! Key groups: wrapping the data key for every master key (split with
//! Shamir when there are several groups) and recovering it (docs/spec/format.md §7).

use super::shamir;
use super::{KeyContext, MasterKey};
use crate::crypto::DataKey;
use zeroize::Zeroizing;

/// One key group: any of its keys yields the group's part.
pub type KeyGroup = Vec<MasterKey>;

/// The effective Shamir threshold: 0 means "all groups".
pub fn effective_threshold(groups: usize, threshold: usize) -> usize {
    if threshold == 0 {
        groups
    } else {
        threshold
    }
}

/// Wraps `key` for every master key. With two or more groups the key is
/// split first, one share per group. Every key must succeed; the errors of
/// all failing keys are returned together.
pub fn wrap_data_key(
    groups: &mut [KeyGroup],
    key: &DataKey,
    threshold: usize,
) -> Result<(), String> {
    if groups.is_empty() {
        return Err("no key groups provided".into());
    }
    if groups.iter().any(Vec::is_empty) {
        return Err("empty key group provided".into());
    }
    let parts: Vec<Zeroizing<Vec<u8>>> = if groups.len() == 1 {
        vec![Zeroizing::new(key.as_bytes().to_vec())]
    } else {
        let t = effective_threshold(groups.len(), threshold);
        shamir::split(key.as_bytes(), groups.len(), t)
            .map_err(|e| format!("could not split data key into parts for Shamir: {e}"))?
    };
    let mut errors = Vec::new();
    for (group, part) in groups.iter_mut().zip(&parts) {
        for master in group.iter_mut() {
            if let Err(e) = master.wrap(part) {
                errors.push(e);
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join(" "))
    }
}

/// Recovers the data key. On failure returns the report sops prints (one
/// block per group, one line per key tried with the reason).
pub fn recover_data_key(
    groups: &[KeyGroup],
    threshold: usize,
    context: &mut KeyContext,
) -> Result<DataKey, String> {
    let mut parts: Vec<Zeroizing<Vec<u8>>> = Vec::new();
    let mut report = vec![
        "Failed to get the data key required to decrypt the SOPS file.".to_string(),
        String::new(),
    ];
    let needed = if groups.len() > 1 {
        effective_threshold(groups.len(), threshold)
    } else {
        1
    };
    for (index, group) in groups.iter().enumerate() {
        let mut failures = Vec::new();
        let mut found = None;
        for master in ordered(group, &context.decryption_order.clone()) {
            match master.unwrap(context) {
                Ok(part) => {
                    found = Some(part);
                    break;
                }
                // The key as sops names it (recipient, fingerprint, ARN,
                // key URI), then the one-line cause.
                Err(e) => failures.push(format!(
                    "  {}: FAILED\n    - | {}",
                    super::changes::key_string(master),
                    e
                )),
            }
        }
        match found {
            Some(part) => {
                report.push(format!("Group {index}: SUCCESS"));
                parts.push(part);
                if groups.len() == 1 || parts.len() >= needed {
                    break;
                }
            }
            None => {
                report.push(format!("Group {index}: FAILED"));
                report.extend(failures);
            }
        }
        report.push(String::new());
    }
    if parts.len() >= needed && !parts.is_empty() {
        let secret = if groups.len() == 1 {
            parts.swap_remove(0)
        } else {
            let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
            shamir::combine(&refs)
                .map_err(|e| format!("could not combine the Shamir shares: {e}"))?
        };
        return DataKey::from_slice(&secret).ok_or_else(|| {
            format!(
                "the recovered data key is {} bytes long, expected 32",
                secret.len()
            )
        });
    }
    if groups.len() > 1 {
        report.push(format!(
            "Recovery failed because the file was encrypted with a Shamir threshold of {needed}, but only {} part(s) were successfully recovered, one for each successful key group. In order for SOPS to recover the file, at least {needed} groups have to be successful. In order for a group to be successful, decryption has to succeed with any of the keys in that key group.",
            parts.len()
        ));
    } else {
        report.push("Recovery failed because no master key was able to decrypt the file. In order for SOPS to recover the file, at least one key has to be successful, but none were.".to_string());
    }
    Err(report.join("\n"))
}

/// The keys of a group in decryption order: stable by the position of their
/// type in `order`, unlisted types last.
fn ordered<'g>(group: &'g [MasterKey], order: &[String]) -> Vec<&'g MasterKey> {
    let mut keys: Vec<&MasterKey> = group.iter().collect();
    keys.sort_by_key(|k| {
        order
            .iter()
            .position(|t| t == k.type_id())
            .unwrap_or(order.len())
    });
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::age::AgeKey;

    #[test]
    fn keys_are_tried_in_decryption_order_stable_and_unlisted_last() {
        let other = |t: &str, id: &str| match t {
            "pgp" => MasterKey::from(crate::keys::ServiceKey::pgp(id)),
            _ => crate::keys::ServiceKey::kms(id, "", &[], "").into(),
        };
        let recipient = ::age::x25519::Identity::generate().to_public().to_string();
        let group = vec![
            other("kms", "k1"),
            other("pgp", "p1"),
            MasterKey::Age(AgeKey::new(&recipient).unwrap()),
            other("kms", "k2"),
        ];
        let names = |order: &[&str]| -> Vec<String> {
            let order: Vec<String> = order.iter().map(|s| s.to_string()).collect();
            ordered(&group, &order)
                .iter()
                .map(|k| k.describe())
                .collect()
        };
        assert_eq!(
            names(&["age", "pgp"]),
            [
                recipient.clone(),
                "pgp p1".into(),
                "kms k1".into(),
                "kms k2".into()
            ]
        );
        assert_eq!(
            names(&["kms"]),
            [
                "kms k1".to_string(),
                "kms k2".into(),
                "pgp p1".into(),
                recipient.clone()
            ]
        );
    }

    #[test]
    fn empty_groups_are_refused() {
        let key = DataKey::generate().unwrap();
        assert_eq!(
            wrap_data_key(&mut [], &key, 0).unwrap_err(),
            "no key groups provided"
        );
        assert_eq!(
            wrap_data_key(&mut [vec![]], &key, 0).unwrap_err(),
            "empty key group provided"
        );
    }

    #[test]
    fn failure_report_lists_groups_and_keys() {
        let recipient = ::age::x25519::Identity::generate().to_public().to_string();
        let mut groups = vec![vec![MasterKey::Age(AgeKey::new(&recipient).unwrap())]];
        let key = DataKey::generate().unwrap();
        wrap_data_key(&mut groups, &key, 0).unwrap();
        let mut context = KeyContext::new();
        // No identities configured in this context.
        context.age = Some(Ok(crate::keys::age::Identities::empty()));
        let report = recover_data_key(&groups, 0, &mut context).unwrap_err();
        assert!(report.contains("Group 0: FAILED"), "{report}");
        assert!(report.contains(&recipient));
    }
}

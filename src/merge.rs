//! Three-way merge of decrypted sops trees, the core of the
//! `enseal git merge` driver. No terminal and no file I/O here: the caller
//! decrypts base, ours and theirs, merges with [`merge_documents`], picks
//! the metadata with [`plan_metadata`] and encrypts the result.
//!
//! Rules, applied to every value (recursively into mappings):
//! * both sides equal → that value; one side unchanged from base → the
//!   other side (a removal counts as a change);
//! * both sides mappings (without duplicate keys) → merged key by key;
//!   keys added on theirs are placed after the key that precedes them there;
//!   comments are kept unless one side removed them, and added ones are kept;
//! * anything else (same key changed differently, a list changed on both
//!   sides, changed on one side and removed on the other) is a conflict: the
//!   value becomes a string with both sides between git-style markers
//!   ([`MARKER_OURS`], [`MARKER_SEPARATOR`], [`MARKER_THEIRS`]).

use crate::crypto::EncryptionRule;
use crate::metadata::Metadata;
use crate::tree::{Comment, Item, Map, Value};

/// First line of a conflicting value.
pub const MARKER_OURS: &str = "<<<<<<< ours";
/// The line between the two sides of a conflicting value.
pub const MARKER_SEPARATOR: &str = "=======";
/// Last line of a conflicting value.
pub const MARKER_THEIRS: &str = ">>>>>>> theirs";
/// Shown for a side that removed the value.
pub const REMOVED: &str = "(removed)";

/// The merged documents and where they conflict.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    /// The merged documents; conflicting values hold both sides between markers.
    pub documents: Vec<Map>,
    /// The paths of the conflicting values (`["db"]["password"]`, in sops'
    /// `--extract` syntax; `(documents)` when the document lists conflict).
    pub conflicts: Vec<String>,
}

/// Merges three versions of a file's documents. `base` is `None` when there
/// is no common ancestor (both sides added the file). `render` writes a
/// non-string value of a conflict as text (the file's own format).
pub fn merge_documents(
    base: Option<&[Map]>,
    ours: &[Map],
    theirs: &[Map],
    render: &dyn Fn(&Value) -> String,
) -> Merged {
    let mut merger = Merger {
        render,
        conflicts: Vec::new(),
    };
    let same_count = ours.len() == theirs.len() && base.is_none_or(|b| b.len() == ours.len());
    let documents = if ours == theirs || base == Some(theirs) {
        ours.to_vec()
    } else if base == Some(ours) {
        theirs.to_vec()
    } else if same_count {
        let multi = ours.len() > 1;
        (0..ours.len())
            .map(|i| {
                let prefix = if multi {
                    format!("(document {i})")
                } else {
                    String::new()
                };
                merger.map(base.map(|b| &b[i]), &ours[i], &theirs[i], &prefix)
            })
            .collect()
    } else {
        merger.conflicts.push("(documents)".to_string());
        ours.to_vec()
    };
    Merged {
        documents,
        conflicts: merger.conflicts,
    }
}

struct Merger<'a> {
    render: &'a dyn Fn(&Value) -> String,
    conflicts: Vec<String>,
}

/// What identifies an item of a mapping across the three versions.
#[derive(PartialEq)]
enum Ident<'a> {
    Key(&'a str),
    Comment(&'a Comment),
}

fn ident(item: &Item) -> Ident<'_> {
    match item {
        Item::Entry(k, _) => Ident::Key(k),
        Item::Comment(c) => Ident::Comment(c),
    }
}

fn has_comment(map: &Map, comment: &Comment) -> bool {
    map.0
        .iter()
        .any(|i| matches!(i, Item::Comment(c) if c == comment))
}

fn has_duplicate_keys(map: &Map) -> bool {
    let keys: Vec<&str> = map.entries().map(|(k, _)| k).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    sorted.dedup();
    sorted.len() != keys.len()
}

/// `["a"]["b"]`, sops' path syntax; list indexes are never reached.
fn child_path(prefix: &str, key: &str) -> String {
    let escaped = key.replace('\\', "\\\\").replace('"', "\\\"");
    format!("{prefix}[\"{escaped}\"]")
}

impl Merger<'_> {
    fn value(
        &mut self,
        base: Option<&Value>,
        ours: Option<&Value>,
        theirs: Option<&Value>,
        path: &str,
    ) -> Option<Value> {
        if ours == theirs || base == theirs {
            return ours.cloned();
        }
        if base == ours {
            return theirs.cloned();
        }
        if let (Some(Value::Map(o)), Some(Value::Map(t))) = (ours, theirs) {
            let b = match base {
                Some(Value::Map(b)) => Some(b),
                _ => None,
            };
            if !has_duplicate_keys(o)
                && !has_duplicate_keys(t)
                && !b.is_some_and(has_duplicate_keys)
            {
                return Some(Value::Map(self.map(b, o, t, path)));
            }
        }
        self.conflicts.push(path.to_string());
        Some(self.conflict_value(ours, theirs))
    }

    fn map(&mut self, base: Option<&Map>, ours: &Map, theirs: &Map, path: &str) -> Map {
        if ours == theirs || base == Some(theirs) {
            return ours.clone();
        }
        if base == Some(ours) {
            return theirs.clone();
        }
        if has_duplicate_keys(ours)
            || has_duplicate_keys(theirs)
            || base.is_some_and(has_duplicate_keys)
        {
            // Keys cannot be matched up: the mapping is one value.
            self.conflicts.push(if path.is_empty() {
                "(document)".to_string()
            } else {
                path.to_string()
            });
            return ours.clone();
        }
        let empty = Map::new();
        let base = base.unwrap_or(&empty);
        let mut out: Vec<Item> = Vec::with_capacity(ours.0.len());
        for item in &ours.0 {
            match item {
                Item::Entry(k, v) => {
                    let merged =
                        self.value(base.get(k), Some(v), theirs.get(k), &child_path(path, k));
                    if let Some(v) = merged {
                        out.push(Item::Entry(k.clone(), v));
                    }
                }
                Item::Comment(c) => {
                    // Removed on theirs: gone; otherwise kept.
                    if !has_comment(base, c) || has_comment(theirs, c) {
                        out.push(item.clone());
                    }
                }
            }
        }
        for (i, item) in theirs.0.iter().enumerate() {
            let addition = match item {
                Item::Entry(k, v) if ours.get(k).is_none() => self
                    .value(base.get(k), None, Some(v), &child_path(path, k))
                    .map(|v| Item::Entry(k.clone(), v)),
                Item::Comment(c) if !has_comment(ours, c) && !has_comment(base, c) => {
                    Some(item.clone())
                }
                _ => None,
            };
            let Some(addition) = addition else { continue };
            // After the nearest preceding item of theirs that is in the
            // result, else before the nearest following one, else last.
            let find = |other: &Item| out.iter().position(|o| ident(o) == ident(other));
            let at = theirs.0[..i]
                .iter()
                .rev()
                .find_map(find)
                .map(|p| p + 1)
                .or_else(|| theirs.0[i + 1..].iter().find_map(find))
                .unwrap_or(out.len());
            out.insert(at, addition);
        }
        Map(out)
    }

    fn conflict_value(&self, ours: Option<&Value>, theirs: Option<&Value>) -> Value {
        let side = |v: Option<&Value>| match v {
            None => REMOVED.to_string(),
            Some(Value::Str(s)) => s.clone(),
            Some(other) => (self.render)(other).trim_end().to_string(),
        };
        Value::Str(format!(
            "{MARKER_OURS}\n{}\n{MARKER_SEPARATOR}\n{}\n{MARKER_THEIRS}",
            side(ours),
            side(theirs)
        ))
    }
}

/// True when a string holds an unresolved conflict written by the merge.
pub fn is_conflict_marker(text: &str) -> bool {
    text.starts_with(MARKER_OURS)
        && text.contains(MARKER_SEPARATOR)
        && text.ends_with(MARKER_THEIRS)
}

/// Whose key groups (recipients and Shamir threshold) the merged file is
/// encrypted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keeper {
    /// Ours (the default).
    Ours,
    /// Theirs: only theirs changed the recipients.
    Theirs,
}

/// How the metadata of the merged file is chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct MetadataPlan {
    /// Whose key groups and Shamir threshold are used.
    pub keeper: Keeper,
    /// True when the merged file gets a new data key (wrapped for the
    /// keeper's key groups, every value encrypted again); false when ours'
    /// data key is kept. Always true when the keeper is theirs: a data key
    /// from another branch is never adopted.
    pub fresh_data_key: bool,
    /// The encryption rule to record.
    pub rule: Option<EncryptionRule>,
    /// `mac_only_encrypted` to record.
    pub mac_only_encrypted: bool,
    /// Conflicts in the metadata (both sides changed it differently).
    pub conflicts: Vec<String>,
}

fn key_set(m: &Metadata) -> (Vec<Vec<String>>, usize) {
    crate::keys::changes::recipient_set(&m.key_groups, m.shamir_threshold)
}

/// Decides which keys the merged file gets. The raw key groups (with the
/// wrapped data keys) tell whether a side changed the keys or the data key
/// since base; the key identities tell whether the recipients differ.
///
/// Data key: ours' is kept unless theirs changed the master keys or the
/// data key since base, in which case the merged file gets a fresh one
/// (theirs' data key was made on another branch, by whoever made it: it is
/// never adopted; ours' may be held by a recipient theirs removed, or be
/// the one theirs rotated away). Without a base (both sides added the
/// file), ours' data key is kept. Recipients: a change on one side is kept;
/// changes on both sides, differently, are a conflict (ours kept).
pub fn plan_metadata(base: Option<&Metadata>, ours: &Metadata, theirs: &Metadata) -> MetadataPlan {
    let raw = |m: &Metadata| (m.key_groups.clone(), m.shamir_threshold);
    let mut conflicts = Vec::new();
    let theirs_changed_keys = base.is_some_and(|b| raw(b) != raw(theirs));
    let fresh_data_key = theirs_changed_keys && raw(ours) != raw(theirs);
    let keeper = if key_set(ours) == key_set(theirs) {
        Keeper::Ours
    } else if base.is_some_and(|b| key_set(b) == key_set(ours)) {
        Keeper::Theirs
    } else if base.is_some_and(|b| key_set(b) == key_set(theirs)) {
        Keeper::Ours
    } else {
        conflicts.push(
            "master keys changed on both sides: kept ours; check them with `enseal groups` / `enseal updatekeys`"
                .to_string(),
        );
        Keeper::Ours
    };
    debug_assert!(keeper == Keeper::Ours || fresh_data_key);
    let rule = |m: &Metadata| (m.rule.clone(), m.mac_only_encrypted);
    let (r, mac_only_encrypted) = if rule(ours) == rule(theirs) {
        rule(ours)
    } else if base.is_some_and(|b| rule(b) == rule(ours)) {
        rule(theirs)
    } else if base.is_some_and(|b| rule(b) == rule(theirs)) {
        rule(ours)
    } else {
        conflicts.push("the encryption rule changed on both sides: kept ours".to_string());
        rule(ours)
    };
    MetadataPlan {
        keeper,
        fresh_data_key,
        rule: r,
        mac_only_encrypted,
        conflicts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::MasterKey;

    fn render(v: &Value) -> String {
        format!("{v:?}")
    }

    fn map(pairs: &[(&str, Value)]) -> Map {
        let mut m = Map::new();
        for (k, v) in pairs {
            m.push(*k, v.clone());
        }
        m
    }

    fn s(text: &str) -> Value {
        Value::Str(text.into())
    }

    fn merge(base: Option<Map>, ours: Map, theirs: Map) -> Merged {
        let base = base.map(|b| vec![b]);
        merge_documents(base.as_deref(), &[ours], &[theirs], &render)
    }

    fn keys(m: &Map) -> Vec<&str> {
        m.entries().map(|(k, _)| k).collect()
    }

    #[test]
    fn different_keys_merge_cleanly() {
        let base = map(&[("a", s("1")), ("b", s("2")), ("c", s("3")), ("d", s("4"))]);
        // ours: change a, remove c, add x at the end
        let ours = map(&[("a", s("A")), ("b", s("2")), ("d", s("4")), ("x", s("X"))]);
        // theirs: change b, remove d, add y after a
        let theirs = map(&[("a", s("1")), ("y", s("Y")), ("b", s("B")), ("c", s("3"))]);
        let m = merge(Some(base), ours, theirs);
        assert!(m.conflicts.is_empty());
        let doc = &m.documents[0];
        assert_eq!(keys(doc), ["a", "y", "b", "x"]);
        assert_eq!(doc.get("a"), Some(&s("A")));
        assert_eq!(doc.get("b"), Some(&s("B")));
        assert_eq!(doc.get("y"), Some(&s("Y")));
    }

    #[test]
    fn nested_maps_merge_and_lists_are_whole_values() {
        let inner = |u: &str, p: &str| Value::Map(map(&[("user", s(u)), ("pass", s(p))]));
        let list = |xs: &[&str]| Value::List(xs.iter().map(|x| s(x)).collect());
        let base = map(&[("db", inner("u", "p")), ("l", list(&["1"]))]);
        let ours = map(&[("db", inner("U", "p")), ("l", list(&["1", "2"]))]);
        let theirs = map(&[("db", inner("u", "P")), ("l", list(&["1"]))]);
        let m = merge(Some(base.clone()), ours, theirs);
        assert!(m.conflicts.is_empty());
        assert_eq!(m.documents[0].get("db"), Some(&inner("U", "P")));
        assert_eq!(m.documents[0].get("l"), Some(&list(&["1", "2"])));
        // Lists changed on both sides: a conflict.
        let ours = map(&[("db", inner("u", "p")), ("l", list(&["1", "2"]))]);
        let theirs = map(&[("db", inner("u", "p")), ("l", list(&["0", "1"]))]);
        let m = merge(Some(base), ours, theirs);
        assert_eq!(m.conflicts, [r#"["l"]"#]);
    }

    #[test]
    fn same_key_changed_differently_conflicts_with_both_sides() {
        let base = map(&[("k", s("old")), ("n", Value::Int(1))]);
        let ours = map(&[("k", s("mine")), ("n", Value::Int(2))]);
        let theirs = map(&[("k", s("yours")), ("n", Value::Int(2))]);
        let m = merge(Some(base), ours, theirs);
        assert_eq!(m.conflicts, [r#"["k"]"#]);
        let Some(Value::Str(text)) = m.documents[0].get("k") else {
            panic!("not a string")
        };
        assert_eq!(text, "<<<<<<< ours\nmine\n=======\nyours\n>>>>>>> theirs");
        assert!(is_conflict_marker(text));
        assert_eq!(m.documents[0].get("n"), Some(&Value::Int(2)));
    }

    #[test]
    fn removed_on_one_side_changed_on_the_other_conflicts() {
        let base = map(&[("k", s("old")), ("z", s("z"))]);
        let ours = map(&[("z", s("z"))]);
        let theirs = map(&[("k", s("new")), ("z", s("z"))]);
        let m = merge(Some(base), ours, theirs);
        assert_eq!(m.conflicts, [r#"["k"]"#]);
        let Some(Value::Str(text)) = m.documents[0].get("k") else {
            panic!()
        };
        assert!(text.contains("(removed)\n=======\nnew"));
    }

    #[test]
    fn added_on_both_sides() {
        let base = map(&[("a", s("1"))]);
        let same = merge(
            Some(base.clone()),
            map(&[("a", s("1")), ("n", s("v"))]),
            map(&[("a", s("1")), ("n", s("v"))]),
        );
        assert!(same.conflicts.is_empty());
        let diff = merge(
            Some(base),
            map(&[("a", s("1")), ("n", s("v"))]),
            map(&[("a", s("1")), ("n", s("w"))]),
        );
        assert_eq!(diff.conflicts.len(), 1);
        // No base: different keys still merge.
        let nobase = merge(None, map(&[("a", s("1"))]), map(&[("b", s("2"))]));
        assert!(nobase.conflicts.is_empty());
        assert_eq!(keys(&nobase.documents[0]), ["a", "b"]);
    }

    #[test]
    fn comments_follow_their_side() {
        let c = |t: &str| Item::Comment(Comment::new(t));
        let e = |k: &str| Item::Entry(k.into(), s(k));
        let base = Map(vec![c(" one"), e("a"), c(" two"), e("b")]);
        let ours = Map(vec![c(" one"), e("a"), c(" two"), e("b"), c(" mine")]);
        let theirs = Map(vec![e("a"), c(" two"), c(" theirs"), e("b")]);
        let m = merge(Some(base), ours, theirs);
        assert!(m.conflicts.is_empty());
        assert_eq!(
            m.documents[0],
            Map(vec![e("a"), c(" two"), c(" theirs"), e("b"), c(" mine")])
        );
    }

    #[test]
    fn document_count_mismatch_keeps_ours_and_conflicts() {
        let a = map(&[("a", s("1"))]);
        let b = map(&[("b", s("1"))]);
        let m = merge_documents(
            Some(std::slice::from_ref(&a)),
            &[a.clone(), b.clone()],
            std::slice::from_ref(&b),
            &render,
        );
        assert_eq!(m.conflicts, ["(documents)"]);
        assert_eq!(m.documents, [a, b]);
    }

    fn meta(recipients: &[&str], enc: &str) -> Metadata {
        let group = recipients
            .iter()
            .map(|r| {
                let mut k = crate::keys::age::AgeKey::new(r).unwrap();
                k.enc = format!("{enc}{r}");
                MasterKey::Age(k)
            })
            .collect();
        Metadata {
            key_groups: vec![group],
            shamir_threshold: 0,
            last_modified: "2024-01-01T00:00:00Z".into(),
            mac: String::new(),
            rule: None,
            mac_only_encrypted: false,
            version: "3.11.0".into(),
        }
    }

    #[test]
    fn metadata_changes_on_one_side_are_kept() {
        let r1 = ::age::x25519::Identity::generate().to_public().to_string();
        let r2 = ::age::x25519::Identity::generate().to_public().to_string();
        let r3 = ::age::x25519::Identity::generate().to_public().to_string();
        let base = meta(&[&r1], "k0");
        let added = meta(&[&r1, &r2], "k0");
        // Theirs added a recipient: theirs' recipients, a fresh data key.
        let plan = plan_metadata(Some(&base), &base, &added);
        assert_eq!(plan.keeper, Keeper::Theirs);
        assert!(plan.fresh_data_key);
        assert!(plan.conflicts.is_empty());
        // Ours did: ours' data key is kept.
        let plan = plan_metadata(Some(&base), &added, &base);
        assert_eq!(plan.keeper, Keeper::Ours);
        assert!(!plan.fresh_data_key);
        // Both changed the recipients differently: a conflict, ours' keys,
        // and a fresh data key (theirs changed it).
        let other = meta(&[&r1, &r3], "k1");
        let plan = plan_metadata(Some(&base), &added, &other);
        assert_eq!(plan.keeper, Keeper::Ours);
        assert!(plan.fresh_data_key);
        assert_eq!(plan.conflicts.len(), 1);
        // Rule changed on theirs only.
        let mut ruled = base.clone();
        ruled.rule = Some(EncryptionRule::default());
        ruled.mac_only_encrypted = true;
        let plan = plan_metadata(Some(&base), &base, &ruled);
        assert_eq!(plan.rule, Some(EncryptionRule::default()));
        assert!(plan.mac_only_encrypted);
        assert!(!plan.fresh_data_key);
    }

    #[test]
    fn a_data_key_from_theirs_is_never_adopted() {
        let r1 = ::age::x25519::Identity::generate().to_public().to_string();
        let base = meta(&[&r1], "k0");
        // Theirs re-created the file (or rotated) for the same recipient:
        // ours' recipients, and a data key neither side made before.
        let recreated = meta(&[&r1], "attacker");
        let plan = plan_metadata(Some(&base), &base, &recreated);
        assert_eq!(plan.keeper, Keeper::Ours);
        assert!(plan.fresh_data_key);
        // Both rotated: theirs changed it too.
        let ours = meta(&[&r1], "k1");
        assert!(plan_metadata(Some(&base), &ours, &recreated).fresh_data_key);
        // Ours rotated only: ours' (own) data key stays.
        assert!(!plan_metadata(Some(&base), &ours, &base).fresh_data_key);
        // Both sides hold the same keys: ours' data key.
        assert!(!plan_metadata(Some(&base), &recreated, &recreated).fresh_data_key);
        // No common ancestor: ours' data key.
        let plan = plan_metadata(None, &ours, &recreated);
        assert_eq!(plan.keeper, Keeper::Ours);
        assert!(!plan.fresh_data_key);
        // A Shamir threshold changed on theirs: theirs' groups, fresh key.
        let mut threshold = base.clone();
        threshold.key_groups.push(base.key_groups[0].clone());
        threshold.shamir_threshold = 2;
        let mut two = threshold.clone();
        two.shamir_threshold = 1;
        let plan = plan_metadata(Some(&two), &two, &threshold);
        assert_eq!(plan.keeper, Keeper::Theirs);
        assert!(plan.fresh_data_key);
    }
}

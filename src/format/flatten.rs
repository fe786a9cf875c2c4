//! Flattening of the nested metadata tree into `key = scalar` pairs for the
//! flat formats (dotenv, INI), and back (docs/spec/format.md §9).
//!
//! `sops: {age: [{recipient: r}]}` with prefix `sops_` becomes
//! `sops_age__list_0__map_recipient = r`.

use super::FormatError;
use crate::tree::{Item, Map, Value};

const MAP_SEP: &str = "__map_";
const LIST_SEP: &str = "__list_";

/// Flattens `metadata` into pairs whose keys start with `prefix`, sorted by
/// key (the order sops writes them in). Empty lists and mappings emit nothing.
pub fn flatten(metadata: &Map, prefix: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (key, value) in metadata.entries() {
        flatten_value(&format!("{prefix}{key}"), value, &mut out);
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn flatten_value(path: &str, value: &Value, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Map(map) => {
            for (key, v) in map.entries() {
                flatten_value(&format!("{path}{MAP_SEP}{key}"), v, out);
            }
        }
        Value::List(items) => {
            let elements = items.iter().filter(|v| !matches!(v, Value::Comment(_)));
            for (i, v) in elements.enumerate() {
                flatten_value(&format!("{path}{LIST_SEP}{i}"), v, out);
            }
        }
        Value::Comment(_) => {}
        scalar => out.push((path.to_string(), scalar.clone())),
    }
}

/// A node being rebuilt by [`unflatten`].
enum Node {
    Leaf(Value),
    Map(Vec<(String, Node)>),
    List(Vec<(usize, Node)>),
}

enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// Rebuilds the nested metadata from flattened pairs (their prefix already
/// stripped). Mappings come back with sorted keys.
pub fn unflatten(pairs: &[(String, Value)]) -> Result<Map, FormatError> {
    let mut root: Vec<(String, Node)> = Vec::new();
    for (key, value) in pairs {
        let steps = split_path(key)?;
        let (first, rest) = match steps.split_first() {
            Some((Step::Key(k), rest)) => (*k, rest),
            _ => return Err(mismatch(key)),
        };
        insert_key(&mut root, first, rest, value.clone(), key)?;
    }
    build_map(root)
}

fn split_path(key: &str) -> Result<Vec<Step<'_>>, FormatError> {
    let mut steps = Vec::new();
    let mut rest = key;
    let mut kind_is_list = false;
    loop {
        let next_map = rest.find(MAP_SEP);
        let next_list = rest.find(LIST_SEP);
        let (cut, sep_len, next_is_list) = match (next_map, next_list) {
            (Some(m), Some(l)) if l < m => (l, LIST_SEP.len(), true),
            (Some(m), _) => (m, MAP_SEP.len(), false),
            (None, Some(l)) => (l, LIST_SEP.len(), true),
            (None, None) => (rest.len(), 0, false),
        };
        let token = &rest[..cut];
        if kind_is_list {
            let index = token.parse::<usize>().map_err(|_| {
                FormatError::Parse(format!("Invalid list index in metadata key {key:?}"))
            })?;
            steps.push(Step::Index(index));
        } else {
            steps.push(Step::Key(token));
        }
        if sep_len == 0 {
            return Ok(steps);
        }
        rest = &rest[cut + sep_len..];
        kind_is_list = next_is_list;
    }
}

fn mismatch(key: &str) -> FormatError {
    FormatError::Parse(format!("Type mismatch in metadata key {key:?}"))
}

fn insert_key(
    entries: &mut Vec<(String, Node)>,
    key: &str,
    rest: &[Step<'_>],
    value: Value,
    full: &str,
) -> Result<(), FormatError> {
    let position = entries.iter().position(|(k, _)| k == key);
    match (position, rest.first()) {
        (Some(_), None) => Err(FormatError::Parse(format!(
            "Duplicate value in metadata key {full:?}"
        ))),
        (None, None) => {
            entries.push((key.to_string(), Node::Leaf(value)));
            Ok(())
        }
        (Some(i), Some(_)) => insert_into(&mut entries[i].1, rest, value, full),
        (None, Some(step)) => {
            let mut node = match step {
                Step::Key(_) => Node::Map(Vec::new()),
                Step::Index(_) => Node::List(Vec::new()),
            };
            insert_into(&mut node, rest, value, full)?;
            entries.push((key.to_string(), node));
            Ok(())
        }
    }
}

fn insert_into(
    node: &mut Node,
    steps: &[Step<'_>],
    value: Value,
    full: &str,
) -> Result<(), FormatError> {
    let (step, rest) = match steps.split_first() {
        Some(split) => split,
        None => {
            return Err(FormatError::Parse(format!(
                "Duplicate value in metadata key {full:?}"
            )))
        }
    };
    match (node, step) {
        (Node::Map(entries), Step::Key(k)) => insert_key(entries, k, rest, value, full),
        (Node::List(elements), Step::Index(i)) => {
            let position = elements.iter().position(|(j, _)| j == i);
            match (position, rest.first()) {
                (Some(_), None) => Err(FormatError::Parse(format!(
                    "Duplicate value in metadata key {full:?}"
                ))),
                (None, None) => {
                    elements.push((*i, Node::Leaf(value)));
                    Ok(())
                }
                (Some(p), Some(_)) => insert_into(&mut elements[p].1, rest, value, full),
                (None, Some(next)) => {
                    let mut child = match next {
                        Step::Key(_) => Node::Map(Vec::new()),
                        Step::Index(_) => Node::List(Vec::new()),
                    };
                    insert_into(&mut child, rest, value, full)?;
                    elements.push((*i, child));
                    Ok(())
                }
            }
        }
        _ => Err(mismatch(full)),
    }
}

fn build_map(mut entries: Vec<(String, Node)>) -> Result<Map, FormatError> {
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut map = Map::new();
    for (key, node) in entries {
        map.0.push(Item::Entry(key, build(node)?));
    }
    Ok(map)
}

fn build(node: Node) -> Result<Value, FormatError> {
    match node {
        Node::Leaf(v) => Ok(v),
        Node::Map(entries) => Ok(Value::Map(build_map(entries)?)),
        Node::List(mut elements) => {
            elements.sort_by_key(|(i, _)| *i);
            if elements.iter().enumerate().any(|(want, (i, _))| want != *i) {
                return Err(FormatError::Parse("Incomplete list in metadata".into()));
            }
            elements
                .into_iter()
                .map(|(_, n)| build(n))
                .collect::<Result<_, _>>()
                .map(Value::List)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Map {
        let mut age = Map::new();
        age.push("recipient", Value::Str("age1abc".into()));
        age.push("enc", Value::Str("line1\nline2\n".into()));
        let mut meta = Map::new();
        meta.push("age", Value::List(vec![Value::Map(age)]));
        meta.push("lastmodified", Value::Str("2026-11-27T23:27:27Z".into()));
        meta.push("kms", Value::List(vec![]));
        meta.push("mac_only_encrypted", Value::Bool(true));
        meta
    }

    #[test]
    fn flatten_names_paths_like_sops() {
        let pairs = flatten(&sample(), "sops_");
        let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "sops_age__list_0__map_enc",
                "sops_age__list_0__map_recipient",
                "sops_lastmodified",
                "sops_mac_only_encrypted"
            ]
        );
    }

    #[test]
    fn unflatten_inverts_flatten_with_sorted_keys() {
        let pairs: Vec<(String, Value)> = flatten(&sample(), "").into_iter().collect();
        let map = unflatten(&pairs).unwrap();
        let age = match map.get("age") {
            Some(Value::List(l)) => l,
            other => panic!("{other:?}"),
        };
        let entry = match &age[0] {
            Value::Map(m) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(entry.get("recipient"), Some(&Value::Str("age1abc".into())));
        assert_eq!(map.get("mac_only_encrypted"), Some(&Value::Bool(true)));
    }

    #[test]
    fn unflatten_reports_conflicts() {
        let dup = vec![
            ("a".to_string(), Value::Null),
            ("a".to_string(), Value::Null),
        ];
        assert!(unflatten(&dup).is_err());
        let mixed = vec![
            ("a".to_string(), Value::Null),
            ("a__map_b".to_string(), Value::Null),
        ];
        assert!(unflatten(&mixed).is_err());
        let gap = vec![("a__list_1".to_string(), Value::Null)];
        assert!(unflatten(&gap).is_err());
    }
}

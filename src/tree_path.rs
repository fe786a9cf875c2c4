//! sops' index paths (`["a"][0]["b"]`) used by `--extract`, `set` and `unset`.

use crate::tree::{Item, Map, Value};

/// One component of an index path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Component {
    /// A mapping key.
    Key(String),
    /// A list index (comments count as elements, as in sops).
    Index(usize),
}

impl std::fmt::Display for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Component::Key(k) => write!(f, "[{k:?}]"),
            Component::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// Parses a path: split at every `[`, ignore empty pieces, every piece ends
/// with `]`; quoted pieces are keys, others decimal indices.
pub fn parse(path: &str) -> Result<Vec<Component>, String> {
    let mut out = Vec::new();
    for piece in path.split('[').filter(|p| !p.is_empty()) {
        let inner = piece
            .strip_suffix(']')
            .ok_or_else(|| format!("component {piece} doesn't end with ]"))?;
        if inner.starts_with('"') || inner.starts_with('\'') {
            if inner.len() < 2 {
                return Err(format!("component [{inner}] has an unterminated quote"));
            }
            // Drop the opening quote (one byte) and the last character,
            // whatever it is (a multi-byte one must not split a UTF-8
            // sequence; found by fuzzing).
            let mut key = inner[1..].chars();
            key.next_back();
            out.push(Component::Key(key.as_str().to_string()));
        } else {
            let index = inner.parse::<usize>().map_err(|_| {
                format!("component [{inner}] is neither a quoted key nor a list index")
            })?;
            out.push(Component::Index(index));
        }
    }
    Ok(out)
}

/// Finds the value at `path` in a document.
pub fn lookup<'a>(document: &'a Map, path: &[Component]) -> Result<&'a Value, String> {
    let mut current: Option<&Value> = None;
    for component in path {
        let next = match (current, component) {
            (None, Component::Key(k)) => document.get(k),
            (Some(Value::Map(m)), Component::Key(k)) => m.get(k),
            (None, Component::Index(_)) | (Some(Value::Map(_)), Component::Index(_)) => {
                return Err(format!(
                    "component {component} is integer, but tree part is not a slice"
                ))
            }
            (Some(Value::List(items)), Component::Index(i)) => match items.get(*i) {
                Some(v) => Some(v),
                None => return Err(format!("component {component} accesses out of bounds")),
            },
            (Some(Value::List(_)), Component::Key(_)) => {
                return Err(format!(
                    "component {component} is a key, but tree part is a list"
                ))
            }
            (Some(other), _) => {
                return Err(format!(
                    "component {component} cannot be looked up in a {}",
                    other.type_name()
                ))
            }
        };
        current = Some(next.ok_or_else(|| format!("component {component} not found"))?);
    }
    current.ok_or_else(|| "empty path".to_string())
}

/// The mapping items of `map` with key `key` (for callers that need all).
pub fn count_entries(map: &Map, key: &str) -> usize {
    map.0
        .iter()
        .filter(|i| matches!(i, Item::Entry(k, _) if k == key))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sops_paths() {
        assert_eq!(
            parse(r#"["a"][0]['b']"#).unwrap(),
            [
                Component::Key("a".into()),
                Component::Index(0),
                Component::Key("b".into())
            ]
        );
        assert!(parse(r#"["a""#).unwrap_err().contains("doesn't end with ]"));
        assert!(parse("[x]").is_err());
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn looks_up_and_reports_like_sops() {
        let mut inner = Map::new();
        inner.push("k", Value::Str("v".into()));
        let mut doc = Map::new();
        doc.push("a", Value::List(vec![Value::Map(inner)]));
        assert_eq!(
            lookup(&doc, &parse(r#"["a"][0]["k"]"#).unwrap()),
            Ok(&Value::Str("v".into()))
        );
        assert_eq!(
            lookup(&doc, &parse(r#"["nope"]"#).unwrap()).unwrap_err(),
            "component [\"nope\"] not found"
        );
        assert!(lookup(&doc, &parse(r#"["a"][5]"#).unwrap())
            .unwrap_err()
            .contains("out of bounds"));
        assert!(lookup(&doc, &parse("[0]").unwrap())
            .unwrap_err()
            .contains("not a slice"));
    }

    #[test]
    fn multibyte_last_character_does_not_split_utf8() {
        assert_eq!(
            parse("[\"'ba\u{75e}]").unwrap(),
            vec![Component::Key("'ba".into())]
        );
    }
}

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

/// Why `set` or `unset` could not follow a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditError {
    /// The path does not fit the tree (a key applied to a list, an index
    /// applied to a mapping, an empty path): sops crashes or silently does
    /// nothing here.
    Mismatch(String),
    /// `unset`: no such key (`Key not found: <key>`).
    KeyNotFound(String),
    /// `unset`: index past the end (`Index <n> out of bounds`).
    OutOfBounds(usize),
    /// `unset`: the path goes through a scalar.
    Unsupported(String),
}

impl std::fmt::Display for EditError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EditError::Mismatch(m) | EditError::Unsupported(m) => f.write_str(m),
            EditError::KeyNotFound(k) => write!(f, "Key not found: {k}"),
            EditError::OutOfBounds(i) => write!(f, "Index {i} out of bounds"),
        }
    }
}

/// The structure that holds `value` at `path` (used for missing parts).
fn build(path: &[Component], value: Value) -> Value {
    path.iter()
        .rev()
        .fold(value, |inner, component| match component {
            Component::Key(k) => {
                let mut map = Map::new();
                map.push(k.clone(), inner);
                Value::Map(map)
            }
            Component::Index(_) => Value::List(vec![inner]),
        })
}

fn mismatch(done: &[Component], component: &Component, found: &str) -> EditError {
    let at: String = done.iter().map(ToString::to_string).collect();
    let at = if at.is_empty() {
        "the top level".to_string()
    } else {
        at
    };
    let what = match component {
        Component::Key(_) => "is a key",
        Component::Index(_) => "is a list index",
    };
    EditError::Mismatch(format!(
        "component {component} {what}, but the value at {at} is a {found}"
    ))
}

/// Sets the value at `path` in a document as sops does: a missing key is
/// appended to its mapping (with the missing intermediate mappings and
/// one-element lists built from the rest of the path), an index at or past
/// the end of a list appends, a scalar in the middle of the path is
/// replaced. Returns whether the document changed. Where sops crashes or
/// silently ignores the component (a key applied to a list, an index
/// applied to a mapping) this is an error.
pub fn set(document: &mut Map, path: &[Component], value: Value) -> Result<bool, EditError> {
    let Some((first, _)) = path.split_first() else {
        return Err(EditError::Mismatch("the path is empty".into()));
    };
    let Component::Key(key) = first else {
        return Err(mismatch(&[], first, "map"));
    };
    match document.get_mut(key) {
        Some(slot) => set_in(slot, path, 1, value),
        None => {
            document.push(key.clone(), build(&path[1..], value));
            Ok(true)
        }
    }
}

fn set_in(
    slot: &mut Value,
    path: &[Component],
    at: usize,
    value: Value,
) -> Result<bool, EditError> {
    let Some(component) = path.get(at) else {
        let changed = *slot != value;
        *slot = value;
        return Ok(changed);
    };
    match (&mut *slot, component) {
        (Value::Map(map), Component::Key(k)) => match map.get_mut(k) {
            Some(next) => set_in(next, path, at + 1, value),
            None => {
                map.push(k.clone(), build(&path[at + 1..], value));
                Ok(true)
            }
        },
        (Value::List(items), Component::Index(i)) => {
            if *i < items.len() {
                set_in(&mut items[*i], path, at + 1, value)
            } else {
                items.push(build(&path[at + 1..], value));
                Ok(true)
            }
        }
        (Value::Map(_), Component::Index(_)) => Err(mismatch(&path[..at], component, "map")),
        (Value::List(_), Component::Key(_)) => Err(mismatch(&path[..at], component, "list")),
        (_, _) => {
            *slot = build(&path[at..], value);
            Ok(true)
        }
    }
}

/// Removes the value at `path` (the first entry with the key, or the list
/// element; comments count as list elements).
pub fn unset(document: &mut Map, path: &[Component]) -> Result<(), EditError> {
    let Some((last, parents)) = path.split_last() else {
        return Err(EditError::Mismatch("the path is empty".into()));
    };
    let mut current: Option<&mut Value> = None;
    for (n, component) in parents.iter().enumerate() {
        let next = match (current, component) {
            (None, Component::Key(k)) => document.get_mut(k),
            (Some(Value::Map(m)), Component::Key(k)) => m.get_mut(k),
            (Some(Value::List(items)), Component::Index(i)) => {
                Some(items.get_mut(*i).ok_or(EditError::OutOfBounds(*i))?)
            }
            (None, Component::Index(_)) => return Err(mismatch(&[], component, "map")),
            (Some(Value::Map(_)), Component::Index(_)) => {
                return Err(mismatch(&path[..n], component, "map"))
            }
            (Some(Value::List(_)), Component::Key(_)) => {
                return Err(mismatch(&path[..n], component, "list"))
            }
            (Some(other), _) => return Err(unsupported(other, component)),
        };
        current = Some(next.ok_or_else(|| EditError::KeyNotFound(key_text(component)))?);
    }
    match (current, last) {
        (None, Component::Key(k)) => remove_first(document, k),
        (Some(Value::Map(m)), Component::Key(k)) => remove_first(m, k),
        (Some(Value::List(items)), Component::Index(i)) => {
            if *i >= items.len() {
                return Err(EditError::OutOfBounds(*i));
            }
            items.remove(*i);
            Ok(())
        }
        (None, Component::Index(_)) => Err(mismatch(&[], last, "map")),
        (Some(Value::Map(_)), Component::Index(_)) => Err(mismatch(parents, last, "map")),
        (Some(Value::List(_)), Component::Key(_)) => Err(mismatch(parents, last, "list")),
        (Some(other), _) => Err(unsupported(other, last)),
    }
}

fn key_text(component: &Component) -> String {
    match component {
        Component::Key(k) => k.clone(),
        Component::Index(i) => i.to_string(),
    }
}

fn unsupported(value: &Value, component: &Component) -> EditError {
    EditError::Unsupported(format!(
        "Unsupported type: {} for item '{}'",
        value.type_name(),
        key_text(component)
    ))
}

fn remove_first(map: &mut Map, key: &str) -> Result<(), EditError> {
    let at = map
        .0
        .iter()
        .position(|i| matches!(i, Item::Entry(k, _) if k == key))
        .ok_or_else(|| EditError::KeyNotFound(key.to_string()))?;
    map.0.remove(at);
    Ok(())
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

    fn doc() -> Map {
        let mut doc = Map::new();
        doc.push("a", Value::Int(1));
        doc.push(
            "l",
            Value::List(vec![Value::Str("x".into()), Value::Str("y".into())]),
        );
        doc
    }

    #[test]
    fn set_creates_appends_and_replaces() {
        let mut d = doc();
        assert_eq!(
            set(&mut d, &parse(r#"["a"]"#).unwrap(), Value::Int(1)),
            Ok(false)
        );
        assert_eq!(
            set(&mut d, &parse(r#"["a"]"#).unwrap(), Value::Int(2)),
            Ok(true)
        );
        assert_eq!(d.get("a"), Some(&Value::Int(2)));
        set(
            &mut d,
            &parse(r#"["c"]["d"][3]"#).unwrap(),
            Value::Bool(true),
        )
        .unwrap();
        let mut inner = Map::new();
        inner.push("d", Value::List(vec![Value::Bool(true)]));
        assert_eq!(d.get("c"), Some(&Value::Map(inner)));
        set(&mut d, &parse(r#"["l"][9]"#).unwrap(), Value::Null).unwrap();
        set(&mut d, &parse(r#"["l"][0]"#).unwrap(), Value::Int(0)).unwrap();
        assert_eq!(
            d.get("l"),
            Some(&Value::List(vec![
                Value::Int(0),
                Value::Str("y".into()),
                Value::Null
            ]))
        );
        // A scalar in the middle is replaced.
        set(&mut d, &parse(r#"["a"][0]"#).unwrap(), Value::Int(5)).unwrap();
        assert_eq!(d.get("a"), Some(&Value::List(vec![Value::Int(5)])));
        // Where sops crashes or ignores the component: an error.
        assert!(matches!(
            set(&mut d, &parse(r#"["l"]["k"]"#).unwrap(), Value::Null),
            Err(EditError::Mismatch(_))
        ));
        assert!(matches!(
            set(&mut d, &parse(r#"["c"][0]"#).unwrap(), Value::Null),
            Err(EditError::Mismatch(_))
        ));
        assert!(set(&mut d, &[], Value::Null).is_err());
    }

    #[test]
    fn unset_removes_and_reports_like_sops() {
        let mut d = doc();
        unset(&mut d, &parse(r#"["l"][0]"#).unwrap()).unwrap();
        assert_eq!(d.get("l"), Some(&Value::List(vec![Value::Str("y".into())])));
        assert_eq!(
            unset(&mut d, &parse(r#"["l"][4]"#).unwrap())
                .unwrap_err()
                .to_string(),
            "Index 4 out of bounds"
        );
        assert_eq!(
            unset(&mut d, &parse(r#"["nope"]"#).unwrap())
                .unwrap_err()
                .to_string(),
            "Key not found: nope"
        );
        assert_eq!(
            unset(&mut d, &parse(r#"["a"]["b"]"#).unwrap())
                .unwrap_err()
                .to_string(),
            "Unsupported type: int for item 'b'"
        );
        unset(&mut d, &parse(r#"["a"]"#).unwrap()).unwrap();
        assert_eq!(d.get("a"), None);
    }
}

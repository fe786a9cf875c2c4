//! sops' index paths (`["a"][0]["b"]`) used by `--extract`, `set` and `unset`.

use crate::tree::{Item, Map, Value};

/// One component of an index path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

/// Why `--extract` could not follow a path: sops' own message where sops
/// reports the same failure, and a hint that names what exists where the
/// path failed (keys and list indices, never a value or a comment's text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupError {
    /// The message, after sops' `error truncating tree: ` prefix.
    pub message: String,
    /// What the user can use instead.
    pub hint: Option<String>,
}

impl std::fmt::Display for LookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LookupError {}

/// At most this many keys or index ranges are named in a hint.
const HINT_ITEMS: usize = 20;
/// Longer keys are cut in a hint (the hint stays one short line).
const HINT_KEY_CHARS: usize = 40;

/// Where a lookup stands: the document itself or a value inside it.
#[derive(Clone, Copy)]
enum Node<'a> {
    Document(&'a Map),
    Value(&'a Value),
}

/// Finds the value at `path` in a document, as sops' `--extract` does where
/// that is well defined: keys select mapping entries (the first of
/// duplicates), indices select list items, and comments count as list items
/// (so `["list"][1]` is the same item for sops and enseal).
///
/// Refused, where sops prints something that is not the file's data: an
/// index on a mapping (sops prints its internal entry record: `key:`/`value:`
/// in YAML, `"Key"`/`"Value"` in JSON, a null for an INI section, a
/// comment's text as a value) and an index that lands on a comment (sops
/// prints the comment's text as if it were a value). Where sops crashes (a
/// key on a list or a scalar), this is an error too. A missing key, an
/// index out of bounds and an index on a scalar keep sops' message.
pub fn lookup<'a>(document: &'a Map, path: &[Component]) -> Result<&'a Value, LookupError> {
    let mut node = Node::Document(document);
    for (n, component) in path.iter().enumerate() {
        let at = &path[..n];
        let next = match node {
            Node::Document(map) | Node::Value(Value::Map(map)) => in_map(map, at, component)?,
            Node::Value(Value::List(items)) => in_list(items, at, component)?,
            Node::Value(scalar) => return Err(below_scalar(scalar, at, component)),
        };
        node = Node::Value(next);
    }
    match node {
        Node::Value(value) => Ok(value),
        Node::Document(_) => Err(LookupError {
            message: "empty path".into(),
            hint: None,
        }),
    }
}

/// One step into the mapping at `at`.
fn in_map<'a>(
    map: &'a Map,
    at: &[Component],
    component: &Component,
) -> Result<&'a Value, LookupError> {
    match component {
        Component::Key(k) => map.get(k).ok_or_else(|| LookupError {
            message: format!("component ['{}'] not found", one_line(k)),
            hint: Some(keys_hint(at, map)),
        }),
        Component::Index(i) => Err(LookupError {
            message: format!(
                "component [{i}] is a list index, but the value at {} is a mapping",
                location(at)
            ),
            hint: Some(keys_hint(at, map)),
        }),
    }
}

/// One step into the list at `at`.
fn in_list<'a>(
    items: &'a [Value],
    at: &[Component],
    component: &Component,
) -> Result<&'a Value, LookupError> {
    let refuse = |message: String| LookupError {
        message,
        hint: Some(list_hint(at, items)),
    };
    match component {
        Component::Index(i) => match items.get(*i) {
            Some(Value::Comment(_)) => Err(refuse(format!(
                "component [{i}] is a comment in the list at {}, not a value",
                location(at)
            ))),
            Some(item) => Ok(item),
            None => Err(refuse(format!("component [{i}] accesses out of bounds"))),
        },
        Component::Key(k) => Err(refuse(format!(
            "component ['{}'] is a key, but the value at {} is a list",
            one_line(k),
            location(at)
        ))),
    }
}

/// A step below the scalar at `at`: sops' message for an index, and for a
/// key (where sops crashes) one in the same words.
fn below_scalar(scalar: &Value, at: &[Component], component: &Component) -> LookupError {
    let message = match component {
        Component::Index(i) => {
            format!("component [{i}] is integer, but tree part is not a slice")
        }
        Component::Key(k) => format!(
            "component ['{}'] is a key, but the value at {} is a {}",
            one_line(k),
            location(at),
            scalar.type_name()
        ),
    };
    LookupError {
        message,
        hint: Some(format!(
            "the value at {} is a {}, so the path must end there",
            location(at),
            scalar.type_name()
        )),
    }
}

/// A key as sops writes it in its messages (`['%s']`), with control
/// characters escaped so that the message stays on one line.
fn one_line(text: &str) -> String {
    crate::shown::shown(text).into_owned()
}

/// A path prefix as the user writes it, or "the top level".
fn location(at: &[Component]) -> String {
    if at.is_empty() {
        "the top level".to_string()
    } else {
        at.iter().map(ToString::to_string).collect()
    }
}

/// A key as a path component, cut to [`HINT_KEY_CHARS`] characters.
fn key_component(key: &str) -> String {
    let mut shown: String = key.chars().take(HINT_KEY_CHARS).collect();
    if shown.len() < key.len() {
        shown.push('…');
    }
    Component::Key(shown).to_string()
}

/// Names the keys of a mapping (up to [`HINT_ITEMS`]).
fn keys_hint(at: &[Component], map: &Map) -> String {
    let keys: Vec<&str> = map.entries().map(|(k, _)| k).collect();
    let Some(first) = keys.first() else {
        return format!("the mapping at {} is empty", location(at));
    };
    let mut shown: Vec<String> = keys
        .iter()
        .take(HINT_ITEMS)
        .map(|k| key_component(k))
        .collect();
    if keys.len() > HINT_ITEMS {
        shown.push(format!("… ({} keys in all)", keys.len()));
    }
    format!(
        "the keys at {} are {}; use a key, e.g. {}{}",
        location(at),
        shown.join(", "),
        location_prefix(at),
        key_component(first)
    )
}

/// The path prefix to build an example from (nothing at the top level).
fn location_prefix(at: &[Component]) -> String {
    at.iter().map(ToString::to_string).collect()
}

/// Names the index ranges of a list and, when it holds comments, the
/// indices of its values (comments count as items, as in sops).
fn list_hint(at: &[Component], items: &[Value]) -> String {
    if items.is_empty() {
        return format!("the list at {} is empty", location(at));
    }
    let mut hint = match items.len() {
        1 => format!("the list at {} has 1 item, [0]", location(at)),
        n => format!(
            "the list at {} has {n} items, [0] to [{}]",
            location(at),
            n - 1
        ),
    };
    if items.iter().any(|v| matches!(v, Value::Comment(_))) {
        let values: Vec<usize> = items
            .iter()
            .enumerate()
            .filter(|(_, v)| !matches!(v, Value::Comment(_)))
            .map(|(i, _)| i)
            .collect();
        if values.is_empty() {
            hint.push_str(", all of them comments");
        } else {
            hint.push_str("; comments count as items, as in sops: its values are at ");
            hint.push_str(&index_ranges(&values));
        }
    }
    hint
}

/// `[1], [3] to [5]`: ascending indices as runs (up to [`HINT_ITEMS`]).
fn index_ranges(indices: &[usize]) -> String {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &i in indices {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == i => *end = i,
            _ => runs.push((i, i)),
        }
    }
    let mut shown: Vec<String> = runs
        .iter()
        .take(HINT_ITEMS)
        .map(|&(start, end)| {
            if start == end {
                format!("[{start}]")
            } else {
                format!("[{start}] to [{end}]")
            }
        })
        .collect();
    if runs.len() > HINT_ITEMS {
        shown.push("…".into());
    }
    shown.join(", ")
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
    use crate::tree::Comment;

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

    fn failure(doc: &Map, path: &str) -> LookupError {
        lookup(doc, &parse(path).unwrap()).unwrap_err()
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
        // sops' own text (`['%s']`), with the keys that exist in the hint.
        let e = failure(&doc, r#"["a"][0]["nope"]"#);
        assert_eq!(e.to_string(), "component ['nope'] not found");
        assert_eq!(
            e.hint.as_deref(),
            Some(r#"the keys at ["a"][0] are ["k"]; use a key, e.g. ["a"][0]["k"]"#)
        );
        assert_eq!(
            failure(&doc, r#"["nope"]"#).hint.as_deref(),
            Some(r#"the keys at the top level are ["a"]; use a key, e.g. ["a"]"#)
        );
        let e = failure(&doc, r#"["a"][5]"#);
        assert_eq!(e.to_string(), "component [5] accesses out of bounds");
        assert_eq!(
            e.hint.as_deref(),
            Some(r#"the list at ["a"] has 1 item, [0]"#)
        );
        let e = failure(&doc, r#"["a"][0]["k"][0]"#);
        assert_eq!(
            e.to_string(),
            "component [0] is integer, but tree part is not a slice"
        );
        assert_eq!(
            e.hint.as_deref(),
            Some(r#"the value at ["a"][0]["k"] is a string, so the path must end there"#)
        );
    }

    #[test]
    fn an_index_on_a_mapping_is_refused_with_its_keys() {
        let mut doc = Map::new();
        doc.0.push(Item::Comment(Comment::new(" not a key")));
        doc.push("x", Value::Int(1));
        doc.push("y", Value::Str("secret-y".into()));
        for (path, at) in [("[0]", "the top level"), ("[1]", "the top level")] {
            let e = failure(&doc, path);
            assert_eq!(
                e.to_string(),
                format!("component {path} is a list index, but the value at {at} is a mapping")
            );
            assert_eq!(
                e.hint.as_deref(),
                Some(r#"the keys at the top level are ["x"], ["y"]; use a key, e.g. ["x"]"#)
            );
        }
        let mut outer = Map::new();
        outer.push("m", Value::Map(Map::new()));
        let e = failure(&outer, r#"["m"][0]"#);
        assert_eq!(
            e.to_string(),
            r#"component [0] is a list index, but the value at ["m"] is a mapping"#
        );
        assert_eq!(e.hint.as_deref(), Some(r#"the mapping at ["m"] is empty"#));
    }

    #[test]
    fn comments_count_as_list_items_but_are_not_values() {
        let comment = || Value::Comment(Comment::new(" secret comment text"));
        let mut doc = Map::new();
        doc.push(
            "l",
            Value::List(vec![
                comment(),
                Value::Str("one".into()),
                comment(),
                Value::Str("two".into()),
                Value::Null,
            ]),
        );
        doc.push("c", Value::List(vec![comment()]));
        // The index counts comments, as in sops: [1] is "one", [4] is null.
        assert_eq!(
            lookup(&doc, &parse(r#"["l"][1]"#).unwrap()),
            Ok(&Value::Str("one".into()))
        );
        assert_eq!(
            lookup(&doc, &parse(r#"["l"][4]"#).unwrap()),
            Ok(&Value::Null)
        );
        let hint = r#"the list at ["l"] has 5 items, [0] to [4]; comments count as items, as in sops: its values are at [1], [3] to [4]"#;
        for i in [0, 2] {
            let e = failure(&doc, &format!(r#"["l"][{i}]"#));
            assert_eq!(
                e.to_string(),
                format!(r#"component [{i}] is a comment in the list at ["l"], not a value"#)
            );
            assert_eq!(e.hint.as_deref(), Some(hint));
        }
        // A path through a comment stops at the comment.
        assert!(failure(&doc, r#"["l"][0]["k"]"#)
            .to_string()
            .contains("is a comment"));
        assert_eq!(failure(&doc, r#"["l"][9]"#).hint.as_deref(), Some(hint));
        assert_eq!(
            failure(&doc, r#"["c"][0]"#).hint.as_deref(),
            Some(r#"the list at ["c"] has 1 item, [0], all of them comments"#)
        );
        let e = failure(&doc, r#"["l"]["k"]"#);
        assert_eq!(
            e.to_string(),
            r#"component ['k'] is a key, but the value at ["l"] is a list"#
        );
        for path in [r#"["l"][0]"#, r#"["c"][0]"#, r#"["l"]["k"]"#] {
            let e = failure(&doc, path);
            let shown = format!("{e} {}", e.hint.as_deref().unwrap_or_default());
            assert!(!shown.contains("secret"), "{path}: {shown}");
        }
    }

    #[test]
    fn hints_are_bounded_one_line_and_name_no_value() {
        let mut doc = Map::new();
        for i in 0..100 {
            doc.push(format!("key{i}"), Value::Str(format!("value{i}")));
        }
        doc.push("x".repeat(10_000), Value::Null);
        doc.push("line\nbreak", Value::Null);
        let e = failure(&doc, r#"["nope"]"#);
        let hint = e.hint.unwrap();
        assert!(hint.contains(r#"["key19"], … (102 keys in all)"#), "{hint}");
        assert!(!hint.contains("key20\""), "{hint}");
        assert!(!hint.contains("value"), "{hint}");
        let mut long = Map::new();
        long.push("x".repeat(10_000), Value::Null);
        long.push("line\nbreak", Value::Null);
        let hint = failure(&long, r#"["nope"]"#).hint.unwrap();
        assert!(hint.len() < 200, "{hint}");
        assert!(!hint.contains('\n'), "{hint}");
        assert!(
            hint.contains(&format!(r#"["{}…"]"#, "x".repeat(40))),
            "{hint}"
        );
        let e = failure(&long, "[\"a\\tb\nc\"]");
        assert_eq!(e.to_string(), r"component ['a\tb\nc'] not found");
        let items: Vec<Value> = (0..200)
            .map(|i| {
                if i % 2 == 0 {
                    Value::Comment(Comment::new("c"))
                } else {
                    Value::Int(i)
                }
            })
            .collect();
        let mut doc = Map::new();
        doc.push("l", Value::List(items));
        let hint = failure(&doc, r#"["l"][0]"#).hint.unwrap();
        assert!(hint.ends_with("[37], [39], …"), "{hint}");
        assert!(hint.len() < 300, "{hint}");
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

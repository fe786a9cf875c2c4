//! `enseal set`, `enseal unset` (and legacy `--set`): change one value of an
//! encrypted file in place, with the same data key, so that only the changed
//! value, `lastmodified` and the MAC change in the file.

use std::io::Read;

use super::args::resolve::{Set, SetValue, Unset};
use super::pipeline::open_file;
use crate::error::{exit, Error, Result};
use crate::format::json::JsonStore;
use crate::format::{Store, StoreOptions};
use crate::tree::{Item, Value};
use crate::tree_path::{self, EditError};

/// Parses a `set` value: JSON; objects keep their member order, a
/// top-level number is a float (as in sops).
pub(crate) fn parse_json_value(text: &str) -> Result<Value> {
    // The value is not shown: it may be a secret.
    let invalid = || {
        Error::Coded(
            exit::INVALID_SET_FORMAT,
            "Value for --set is not valid JSON".into(),
        )
        .explained(
            "the VALUE is not valid JSON (a string needs double quotes inside the shell's quotes)",
            "quote a string for the shell and for JSON: enseal set FILE '[\"key\"]' '\"newpass\"'",
        )
    };
    // serde_json checks the syntax strictly (no trailing data); the JSON
    // store then builds the tree with sops' number rules and member order.
    serde_json::from_str::<serde_json::Value>(text).map_err(|_| invalid())?;
    let wrapped = format!("{{\"v\":\n{}\n}}", text.trim());
    let store = JsonStore::new(&StoreOptions::default());
    let mut documents = store
        .parse_plain(wrapped.as_bytes())
        .map_err(|_| invalid())?;
    let document = documents.pop().ok_or_else(invalid)?;
    let mut entries = document
        .0
        .into_iter()
        .filter(|i| matches!(i, Item::Entry(..)));
    let value = match (entries.next(), entries.next()) {
        (Some(Item::Entry(k, v)), None) if k == "v" => v,
        _ => return Err(invalid()),
    };
    Ok(match value {
        Value::Int(n) => Value::Float(n as f64),
        other => other,
    })
}

fn path_error(e: EditError) -> Error {
    match e {
        EditError::Mismatch(m) => Error::Coded(
            exit::INVALID_TREE_PATH_FORMAT,
            format!("the path does not fit the file: {m}"),
        ),
        other => Error::Coded(exit::GENERIC, other.to_string()),
    }
}

/// `enseal set FILE INDEX VALUE` (and legacy `--set`): sets one value and
/// writes the file; with `--idempotent`, only when it changed (sops 3.13:
/// `set` without `--idempotent` always writes).
pub(crate) fn run_set(args: &Set, config: Option<&str>) -> Result<()> {
    let text = match &args.value {
        SetValue::Inline(text) => text.clone(),
        SetValue::File(name) => {
            std::fs::read_to_string(name).map_err(|source| Error::ReadInput {
                path: name.clone(),
                source,
            })?
        }
        SetValue::Stdin => {
            let mut buf = String::new();
            std::io::stdin()
                .read_to_string(&mut buf)
                .map_err(|source| Error::ReadInput {
                    path: "<stdin>".into(),
                    source,
                })?;
            buf
        }
    };
    let value = parse_json_value(&text)?;
    let mut file = open_file(&args.file, &args.open, config)?;
    let mut documents = file.opened.documents.clone();
    let first = documents.first_mut().ok_or(Error::NoDocument)?;
    let changed = tree_path::set(first, &args.path, value).map_err(path_error)?;
    if file.out_store.has_metadata_key(first) {
        return Err(Error::AlreadyEncrypted(file.name.clone()));
    }
    if changed {
        file.save(documents)?;
    } else if !args.idempotent {
        file.save_always(documents)?;
    }
    Ok(())
}

/// `enseal unset FILE INDEX`.
pub(crate) fn run_unset(args: &Unset, config: Option<&str>) -> Result<()> {
    let mut file = open_file(&args.file, &args.open, config)?;
    let mut documents = file.opened.documents.clone();
    let first = documents.first_mut().ok_or(Error::NoDocument)?;
    match tree_path::unset(first, &args.path) {
        Ok(()) => {}
        Err(EditError::KeyNotFound(_) | EditError::OutOfBounds(_)) if args.idempotent => {
            return Ok(())
        }
        Err(e) => return Err(path_error(e)),
    }
    file.save(documents)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::Map;

    #[test]
    fn json_values_keep_order_and_sops_number_rules() {
        assert_eq!(parse_json_value("5").unwrap(), Value::Float(5.0));
        assert_eq!(parse_json_value("\"x\"").unwrap(), Value::Str("x".into()));
        assert_eq!(parse_json_value("null").unwrap(), Value::Null);
        assert_eq!(parse_json_value(" true ").unwrap(), Value::Bool(true));
        let mut want = Map::new();
        want.push("z", Value::Int(1));
        want.push("a", Value::List(vec![Value::Str("s".into())]));
        assert_eq!(
            parse_json_value(r#"{"z":1,"a":["s"]}"#).unwrap(),
            Value::Map(want)
        );
        for bad in ["", "nope", "1, \"w\": 2", "{", "1}{\"v\":2"] {
            let err = parse_json_value(bad).unwrap_err();
            assert_eq!(err.exit_code(), 7, "{bad:?}");
        }
    }
}

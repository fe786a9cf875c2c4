//! Bounds on what reading may cost (alias copies, depth) and the checks of
//! the first document sops makes (duplicate keys), with Go's type names.

use std::collections::HashMap;

use super::go_quote;
use crate::tree::{Item, Value};

/// Bytes counted for every node of a copied value, whatever its content
/// (about what a tree node and its allocation cost in memory), so that
/// copies of empty values are not free.
pub(crate) const NODE_BYTES: usize = 64;

/// Copies allowed to any stream, however small.
pub(crate) const COPY_BUDGET_MIN: usize = 16 << 20;

/// Copies allowed per byte of input, for large streams.
pub(crate) const COPY_BUDGET_PER_INPUT_BYTE: usize = 16;

/// How many bytes (by [`value_bytes`]) alias expansion and anchor
/// recording may copy while reading `input_len` bytes of YAML:
/// max(16 MiB, 16 × input). What aliases add to the tree is then at most
/// proportional to the input, whatever the input (the tree itself is
/// proportional to the input without aliases), and no real file with
/// anchors (`<<: *defaults` in compose or Kubernetes files) comes near it.
pub(crate) fn copy_budget(input_len: usize) -> usize {
    COPY_BUDGET_MIN.max(input_len.saturating_mul(COPY_BUDGET_PER_INPUT_BYTE))
}

/// How deep alias expansion may nest the tree (collections from the root,
/// the document's mapping included). Without aliases the parser's own
/// limits (255 flow and 255 block levels) keep a tree shallower than this;
/// aliases of anchors that hold aliases could otherwise stack depths
/// without bound (a 15 KB file nesting 7,500 levels), which every
/// recursive step after reading (copy, drop, encryption, writing) pays for
/// in stack.
pub(crate) const MAX_TREE_DEPTH: usize = 512;

/// The number of nested collections in a value (0 for a scalar).
pub(crate) fn value_depth(v: &Value) -> usize {
    match v {
        Value::Map(m) => {
            1 + m
                .0
                .iter()
                .map(|i| match i {
                    Item::Entry(_, v) => value_depth(v),
                    Item::Comment(_) => 0,
                })
                .max()
                .unwrap_or(0)
        }
        Value::List(l) => 1 + l.iter().map(value_depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// The size of a value as alias expansion counts it: [`NODE_BYTES`] per
/// node plus the bytes of its keys, strings and comments.
pub(crate) fn value_bytes(v: &Value) -> usize {
    NODE_BYTES
        + match v {
            Value::Map(m) => {
                m.0.iter()
                    .map(|i| match i {
                        Item::Entry(k, v) => k.len() + value_bytes(v),
                        Item::Comment(c) => NODE_BYTES + c.text.len(),
                    })
                    .sum::<usize>()
            }
            Value::List(l) => l.iter().map(value_bytes).sum::<usize>(),
            Value::Str(s) => s.len(),
            Value::Bytes(b) => b.len(),
            Value::Comment(c) => c.text.len(),
            Value::Int(_) | Value::Float(_) | Value::Bool(_) | Value::Time(_) | Value::Null => 0,
        }
}

pub(super) fn scalar_kind(v: &Value) -> &'static str {
    match v {
        Value::Int(_) => "int",
        Value::Float(_) => "float",
        Value::Bool(_) => "bool",
        Value::Time(_) => "timestamp",
        Value::Null => "null",
        _ => "str",
    }
}

pub(super) fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Int(_) => "int",
        Value::Float(_) => "float64",
        Value::Bool(_) => "bool",
        Value::Time(_) => "time.Time",
        Value::Null => "<nil>",
        Value::Bytes(_) => "string",
        _ => v.type_name(),
    }
}

/// Runs the duplicate-key check of the first document (yaml.v3 reports every
/// later key equal to an earlier one, in order).
pub(crate) fn duplicate_key_errors(keys: &[(&str, usize)]) -> Vec<String> {
    if keys.len() < 2 {
        return Vec::new();
    }
    let distinct = if keys.len() <= 16 {
        // Small mappings (nearly all): compare pairs, no hashing.
        keys.iter()
            .enumerate()
            .all(|(i, (k, _))| keys[..i].iter().all(|(other, _)| other != k))
    } else {
        let mut seen = std::collections::HashSet::with_capacity(keys.len());
        keys.iter().all(|(k, _)| seen.insert(*k))
    };
    if distinct {
        return Vec::new();
    }
    let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, (k, _)) in keys.iter().enumerate() {
        groups.entry(k).or_default().push(i);
    }
    // yaml.v3 reports every pair: n copies of a key make n(n-1)/2 lines.
    let pairs: usize = groups.values().map(|g| g.len() * (g.len() - 1) / 2).sum();
    let mut errs = Vec::new();
    'keys: for (i, (k, line)) in keys.iter().enumerate() {
        let g = &groups[k];
        if g.len() < 2 {
            continue;
        }
        for &j in g.iter().filter(|&&j| j > i) {
            if errs.len() == MAX_DUPLICATE_REPORTS {
                break 'keys;
            }
            errs.push(format!(
                "line {}: mapping key {} already defined at line {}",
                keys[j].1,
                go_quote(k),
                line
            ));
        }
    }
    if pairs > errs.len() {
        errs.push(format!(
            "and {} more mapping keys already defined",
            pairs - errs.len()
        ));
    }
    errs
}

/// Most duplicate-key lines reported for one mapping (the first ones in
/// yaml.v3's order, then a count): the pairs grow with the square of the
/// copies of a key, and 3,000 lines of `k: 1` would otherwise make 4.5
/// million lines and a gigabyte of messages.
pub(crate) const MAX_DUPLICATE_REPORTS: usize = 20;

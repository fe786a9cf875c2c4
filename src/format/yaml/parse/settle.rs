//! Comments after the last entry of a nested collection, moved to where a
//! reader of the written file finds them.

use super::parse_stream;
use crate::tree::{Item, Map, Value};

/// Moves comments that follow the last entry of a collection whose value is
/// itself a block collection to where a reader of the written file finds
/// them, so that they are encrypted under the path decryption uses.
///
/// yaml.v3 writes such comments as the foot of the last key or item and,
/// reading the file back, gives them to the nested collection: sops
/// encrypts them under the outer path and looks for them under the inner
/// one, so neither tool can decrypt them again (a GitHub workflow's
/// commented-out `#schedule:` after `branches: [- master]`). Here the
/// documents are written (with a `sops` entry, as an encrypted file is) and
/// read back; the comments of the reread documents are adopted when their
/// data is unchanged. Documents without such comments are returned as they
/// are, without writing anything.
pub(crate) fn settle_trailing_comments(docs: Vec<Map>, indent: usize) -> Vec<Map> {
    if !docs.iter().any(map_has_unsettled_comments) {
        return docs;
    }
    let sops = Map(vec![Item::Entry("version".into(), Value::Str("0".into()))]);
    let mut text = super::super::emit::emit_documents(&docs, Some(&sops), indent);
    let reread = std::str::from_utf8(&text)
        .ok()
        .and_then(|t| parse_stream(t, false).ok());
    zeroize::Zeroize::zeroize(&mut text);
    let Some(mut reread) = reread else {
        return docs;
    };
    for doc in &mut reread {
        let at = doc
            .0
            .iter()
            .rposition(|i| matches!(i, Item::Entry(k, _) if k == "sops"));
        match at {
            Some(at) => {
                doc.0.remove(at);
            }
            None => return docs,
        }
    }
    // Adopted only when the data is the same and no comment was lost on
    // the way (the emitter may write a comment where yaml.v3, and so the
    // reread, finds nothing to attach it to).
    let same = reread.len() == docs.len()
        && reread
            .iter()
            .zip(&docs)
            .all(|(a, b)| same_map_without_comments(a, b) && map_comments(a) == map_comments(b));
    if same {
        reread
    } else {
        docs
    }
}

/// A non-empty block mapping or sequence.
fn is_nested_collection(v: &Value) -> bool {
    match v {
        Value::Map(m) => m.0.iter().any(|i| matches!(i, Item::Entry(..))),
        Value::List(l) => l.iter().any(|v| !matches!(v, Value::Comment(_))),
        _ => false,
    }
}

/// Whether a comment follows the last entry of `map` (or of a collection
/// inside) and that entry's value is a nested collection.
fn map_has_unsettled_comments(map: &Map) -> bool {
    let last = map.0.iter().rposition(|i| matches!(i, Item::Entry(..)));
    if let Some(Item::Entry(_, v)) = last.map(|at| &map.0[at]) {
        if last.is_some_and(|at| at + 1 < map.0.len()) && is_nested_collection(v) {
            return true;
        }
    }
    map.0.iter().any(|i| match i {
        Item::Entry(_, v) => value_has_unsettled_comments(v),
        Item::Comment(_) => false,
    })
}

fn value_has_unsettled_comments(v: &Value) -> bool {
    match v {
        Value::Map(m) => map_has_unsettled_comments(m),
        Value::List(l) => {
            let last = l.iter().rposition(|v| !matches!(v, Value::Comment(_)));
            if let Some(at) = last {
                if at + 1 < l.len() && is_nested_collection(&l[at]) {
                    return true;
                }
            }
            l.iter().any(value_has_unsettled_comments)
        }
        _ => false,
    }
}

/// How many comments `map` holds, at any depth.
fn map_comments(map: &Map) -> usize {
    map.0
        .iter()
        .map(|i| match i {
            Item::Comment(_) => 1,
            Item::Entry(_, v) => value_comments(v),
        })
        .sum()
}

fn value_comments(v: &Value) -> usize {
    match v {
        Value::Comment(_) => 1,
        Value::Map(m) => map_comments(m),
        Value::List(l) => l.iter().map(value_comments).sum(),
        _ => 0,
    }
}

/// The entries of `m`, comments left out.
fn entries_of(m: &Map) -> Vec<(&String, &Value)> {
    m.0.iter()
        .filter_map(|i| match i {
            Item::Entry(k, v) => Some((k, v)),
            Item::Comment(_) => None,
        })
        .collect()
}

/// Equality of two mappings with their comments left out.
fn same_map_without_comments(a: &Map, b: &Map) -> bool {
    let (ea, eb) = (entries_of(a), entries_of(b));
    ea.len() == eb.len()
        && ea
            .iter()
            .zip(&eb)
            .all(|((ka, va), (kb, vb))| ka == kb && same_value_without_comments(va, vb))
}

fn same_value_without_comments(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Map(a), Value::Map(b)) => same_map_without_comments(a, b),
        (Value::List(a), Value::List(b)) => {
            let mut ia = a.iter().filter(|v| !matches!(v, Value::Comment(_)));
            let mut ib = b.iter().filter(|v| !matches!(v, Value::Comment(_)));
            loop {
                match (ia.next(), ib.next()) {
                    (None, None) => return true,
                    (Some(x), Some(y)) if same_value_without_comments(x, y) => {}
                    _ => return false,
                }
            }
        }
        (Value::Float(x), Value::Float(y)) => {
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod settle_tests {
    use super::{parse_stream, settle_trailing_comments};
    use crate::tree::{Comment, Item, Map, Value};

    fn settled(src: &str) -> Vec<Map> {
        settle_trailing_comments(parse_stream(src, true).unwrap(), 4)
    }

    #[test]
    fn a_comment_after_a_nested_list_moves_into_the_list_item() {
        let docs = settled("a:\n  b:\n    - c: d\n  # one\n");
        let Some(Value::Map(a)) = docs[0].get("a") else {
            panic!("no mapping a: {docs:?}")
        };
        assert_eq!(a.0.len(), 1, "the comment stayed in a: {a:?}");
        let Some(Value::List(b)) = a.get("b") else {
            panic!("no list b: {a:?}")
        };
        let Value::Map(item) = &b[0] else {
            panic!("no item mapping: {b:?}")
        };
        assert_eq!(item.0.last(), Some(&Item::Comment(Comment::new(" one"))));
    }

    #[test]
    fn a_comment_after_a_scalar_list_moves_into_the_list() {
        let docs = settled("a:\n  b:\n    - c\n  # one\nz: 1\n");
        let Some(Value::Map(a)) = docs[0].get("a") else {
            panic!("no mapping a: {docs:?}")
        };
        assert_eq!(
            a.get("b"),
            Some(&Value::List(vec![
                Value::Str("c".into()),
                Value::Comment(Comment::new(" one"))
            ]))
        );
    }

    #[test]
    fn comments_are_never_lost_on_the_way() {
        // The last item is a flow collection: the written comment has
        // nothing to attach to when read back, so the documents stay as
        // they were read (found by the differential harness's neighbour,
        // `- [a]` then `# c` at the end of a document).
        for src in [
            "k5:\n- [a]\n# c\n",
            "k5:\n- [a]\n# c\n---\nk6: 1\n",
            "k5:\n  - [a]\n  # c\n---\nk6: 1\n",
            "k5:\n- {a: 1}\n# c\n---\nk6: 1\n",
        ] {
            let parsed = parse_stream(src, true).unwrap();
            let settled = settle_trailing_comments(parsed.clone(), 4);
            let count = |docs: &[Map]| docs.iter().map(super::map_comments).sum::<usize>();
            assert_eq!(count(&settled), 1, "{src}: {settled:?}");
            assert_eq!(count(&parsed), 1, "{src}: {parsed:?}");
        }
    }

    #[test]
    fn documents_without_such_comments_are_unchanged() {
        for src in [
            "a:\n  b:\n    - c\n  d: 1\n  # after a scalar\n",
            "a:\n  # head\n  b: [1, 2]\n",
            "a: 1\n# end\n",
        ] {
            let parsed = parse_stream(src, true).unwrap();
            assert_eq!(settle_trailing_comments(parsed.clone(), 4), parsed, "{src}");
        }
    }
}

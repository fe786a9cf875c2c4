//! Large single-document YAML files are read and written in two halves on
//! two threads, split between two top-level entries.
//!
//! A split is only made where it cannot change the result: reading, at a
//! top-level key whose previous line is content (no comment or blank line
//! can then belong to either side), with both halves taken by the fast
//! scanner and no top-level key in both halves; writing, between two
//! top-level entries (no comment item between them). Anything else is
//! read or written whole. The tests compare split and whole results at
//! every possible split point of the fixtures.

use super::{emit, parse};
use crate::parallel;
use crate::tree::{Item, Map, Value};
use zeroize::Zeroize;

/// Inputs and outputs smaller than this are handled on one thread.
const PARALLEL_MIN_BYTES: usize = 256 * 1024;

/// The line starts of `text` where a read may be split: a top-level key
/// after a content line.
fn parse_split_points(text: &str) -> impl Iterator<Item = usize> + '_ {
    let b = text.as_bytes();
    let mut line_start = 0usize;
    let mut previous_is_content = false;
    std::iter::from_fn(move || {
        while line_start < b.len() {
            let start = line_start;
            let end = match b[start..].iter().position(|&c| c == b'\n') {
                Some(n) => start + n,
                None => b.len(),
            };
            line_start = end + 1;
            let line = &b[start..end];
            let first = line.iter().position(|&c| c != b' ');
            let is_content = first.is_some_and(|i| line[i] != b'#');
            let candidate = previous_is_content
                && !matches!(
                    line.first(),
                    None | Some(b' ' | b'#' | b'-' | b'.' | b'\t' | b'\r' | b'%')
                );
            previous_is_content = is_content;
            if candidate {
                return Some(start);
            }
        }
        None
    })
}

/// The split point closest to the middle, if both sides get at least a
/// fifth of the input.
fn parse_split(text: &str) -> Option<usize> {
    let mid = text.len() / 2;
    let best = parse_split_points(text).min_by_key(|&p| p.abs_diff(mid))?;
    let smaller = best.min(text.len() - best);
    (smaller >= text.len() / 5).then_some(best)
}

/// Reads `text` split at `at`; `None` when either half is not for the fast
/// scanner, or a top-level key is in both halves.
fn parse_at(text: &str, at: usize, first_doc_checks: bool) -> Option<Vec<Map>> {
    let (head, tail) = text.split_at(at);
    let (a, b) = parallel::join(
        || parse::parse_fast(head, first_doc_checks),
        || parse::parse_fast(tail, first_doc_checks),
    );
    // A half read in vain is wiped (it holds the plaintext of the file).
    let wipe = |docs: Option<Vec<Map>>| docs.into_iter().flatten().for_each(|mut d| d.zeroize());
    let (mut a, b) = match (a, b) {
        (Some(a), Some(b)) if a.len() == 1 && b.len() == 1 => (a, b),
        (a, b) => {
            wipe(a);
            wipe(b);
            return None;
        }
    };
    let mut tail_doc = b.into_iter().next()?;
    let head_doc = a.first_mut()?;
    let head_keys: std::collections::HashSet<&str> = head_doc
        .0
        .iter()
        .filter_map(|item| match item {
            Item::Entry(k, _) => Some(k.as_str()),
            Item::Comment(_) => None,
        })
        .collect();
    let repeated = tail_doc
        .0
        .iter()
        .any(|item| matches!(item, Item::Entry(k, _) if head_keys.contains(k.as_str())));
    if repeated {
        tail_doc.zeroize();
        wipe(Some(a));
        return None;
    }
    head_doc.0.append(&mut tail_doc.0);
    Some(a)
}

/// Reads a YAML stream, in two halves on two threads when it is large.
pub(crate) fn parse_stream(
    text: &str,
    first_doc_checks: bool,
) -> Result<Vec<Map>, super::FormatError> {
    if text.len() >= PARALLEL_MIN_BYTES && parallel::has_second_core() {
        if let Some(docs) = parse_split(text).and_then(|at| parse_at(text, at, first_doc_checks)) {
            return Ok(docs);
        }
    }
    parse::parse_stream(text, first_doc_checks)
}

/// How deep [`weight`] looks to choose a split: below, a collection counts
/// as its length times a typical item (reading every node of a large tree
/// costs milliseconds; the split only needs proportions).
const SPLIT_DEPTH: usize = 3;

/// Bytes assumed for an item below [`SPLIT_DEPTH`].
const TYPICAL_ITEM: usize = 48;

/// Roughly how many bytes `value` takes when written, looking `depth`
/// levels down.
fn weight(value: &Value, depth: usize) -> usize {
    match value {
        Value::Str(s) => s.len() + 8,
        Value::Bytes(b) => b.len() * 4 / 3 + 8,
        Value::Map(m) if depth == 0 => m.0.len() * TYPICAL_ITEM,
        Value::List(items) if depth == 0 => items.len() * TYPICAL_ITEM,
        Value::Map(m) => m.0.iter().map(|item| item_weight(item, depth - 1)).sum(),
        Value::List(items) => items.iter().map(|v| weight(v, depth - 1) + 8).sum(),
        _ => 16,
    }
}

/// Roughly how many bytes a mapping item takes when written.
fn item_weight(item: &Item, depth: usize) -> usize {
    match item {
        Item::Entry(k, v) => k.len() + 8 + weight(v, depth),
        Item::Comment(c) => c.text.len() + 8,
    }
}

/// Room for writing `items`: their whole weight and a quarter more (the
/// weights leave out indentation).
fn capacity(items: &[Item]) -> usize {
    let weight: usize = items.iter().map(|item| item_weight(item, usize::MAX)).sum();
    weight + weight / 4
}

/// Where to split the top-level `items` for writing: an index between two
/// entries near the middle by weight, with a fifth of the weight on each
/// side at least.
fn emit_split(items: &[Item]) -> Option<usize> {
    let weights: Vec<usize> = items.iter().map(|i| item_weight(i, SPLIT_DEPTH)).collect();
    if weights.iter().sum::<usize>() < PARALLEL_MIN_BYTES {
        return None;
    }
    parallel::balanced_split(&weights, |k| {
        matches!(items[k - 1], Item::Entry(..)) && matches!(items[k], Item::Entry(..))
    })
}

/// Writes one document as two chunks, split before `items[k]`, on two
/// threads, each sized from its half's weight.
fn emit_at(items: &[Item], k: usize, extra: Option<&Map>, indent: usize) -> Vec<Vec<u8>> {
    let (head, tail) = items.split_at(k);
    let target = emit::Target::of(extra);
    let (a, b) = parallel::join(
        || emit::emit_items(head, None, target, indent, capacity(head)),
        || emit::emit_items(tail, extra, target, indent, capacity(tail)),
    );
    vec![a, b]
}

/// Writes documents as consecutive chunks of the output: a large single
/// document in two halves, written on two threads.
pub(crate) fn emit_documents(docs: &[Map], extra: Option<&Map>, indent: usize) -> Vec<Vec<u8>> {
    if let [doc] = docs {
        // The size first: asking for the core count reads cgroup files.
        let split = emit_split(&doc.0).filter(|_| parallel::has_second_core());
        if let Some(k) = split {
            return emit_at(&doc.0, k, extra, indent);
        }
    }
    vec![emit::emit_documents(docs, extra, indent)]
}

/// The chunks of an output as one buffer; the chunks are wiped (they may
/// hold decrypted text).
pub(crate) fn join_chunks(mut chunks: Vec<Vec<u8>>) -> Vec<u8> {
    if chunks.len() == 1 {
        return chunks.pop().unwrap_or_default();
    }
    let out = chunks.concat();
    chunks.zeroize();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every fixture YAML file of the repository (plain and encrypted).
    fn fixtures() -> Vec<(String, String)> {
        let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata"));
        super::super::yaml_files(root)
            .into_iter()
            .map(|(path, text)| (path.display().to_string(), text))
            .collect()
    }

    /// A generated document with comments, lists, literals and nesting
    /// around many top-level keys.
    fn generated() -> String {
        let mut s = String::from("# head comment\n\nfirst: 1\n");
        for i in 0..40 {
            match i % 8 {
                0 => s.push_str(&format!(
                    "k{i}:\n    a: x{i}\n    b:\n        - 1\n        - two\n"
                )),
                1 => s.push_str(&format!("k{i}: |\n    line {i}\n    more\n")),
                2 => s.push_str(&format!("# above k{i}\nk{i}: v # inline\n")),
                3 => s.push_str(&format!("k{i}:\n    - a: 1\n      b: 2\n    # foot\n")),
                4 => s.push_str(&format!("\nk{i}: \"quoted {i}\"\n")),
                5 => s.push_str(&format!("k{i}:\nk{i}x: 1.5\n")),
                6 => s.push_str(&format!(
                    "k{i}:\n    nested:\n        deep: true\n    # trailing\n\n"
                )),
                _ => s.push_str(&format!("k{i}: |-\n    strip {i}\n")),
            }
        }
        s.push_str("last: end\n# final\n");
        s
    }

    #[test]
    fn split_reads_equal_whole_reads_at_every_split_point() {
        let mut cases = fixtures();
        cases.push(("generated".into(), generated()));
        let mut compared = 0;
        for (name, text) in &cases {
            for checks in [true, false] {
                let whole = parse::parse_stream(text, checks);
                for at in parse_split_points(text).collect::<Vec<_>>() {
                    if let Some(split) = parse_at(text, at, checks) {
                        // Debug text: NaN equals itself there.
                        assert_eq!(
                            format!("{:?}", Ok::<_, &super::super::FormatError>(&split)),
                            format!("{:?}", whole.as_ref()),
                            "{name}: split read at byte {at} differs"
                        );
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 100, "only {compared} split reads compared");
    }

    #[test]
    fn split_writes_equal_whole_writes_at_every_split_point() {
        let mut cases = fixtures();
        cases.push(("generated".into(), generated()));
        let mut metadata = Map::new();
        metadata.push("lastmodified", Value::Str("2026-11-28T00:00:00Z".into()));
        metadata.push(
            "mac",
            Value::Str("ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]".into()),
        );
        let mut compared = 0;
        for (name, text) in &cases {
            let Ok(docs) = parse::parse_stream(text, false) else {
                continue;
            };
            let [doc] = &docs[..] else { continue };
            for extra in [None, Some(&metadata)] {
                for indent in [2, 4] {
                    let whole = emit::emit_documents(&docs, extra, indent);
                    for k in 1..doc.0.len() {
                        if !matches!(doc.0[k - 1], Item::Entry(..))
                            || !matches!(doc.0[k], Item::Entry(..))
                        {
                            continue;
                        }
                        let split = emit_at(&doc.0, k, extra, indent).concat();
                        assert!(
                            split == whole,
                            "{name}: split write before item {k} differs:\n{}\n---\n{}",
                            String::from_utf8_lossy(&split),
                            String::from_utf8_lossy(&whole)
                        );
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 100, "only {compared} split writes compared");
    }

    #[test]
    fn split_points_are_top_level_keys_after_content() {
        let text = "a: 1\n# c\nb: 2\n\nc: 3\nd:\n    e: 1\nf: 2\n";
        let points: Vec<&str> = parse_split_points(text).map(|p| &text[p..p + 2]).collect();
        assert_eq!(points, ["d:", "f:"]);
    }

    #[test]
    fn a_key_repeated_across_halves_is_read_whole() {
        let text = "a: 1\nb: 2\na: 3\n";
        assert!(parse_at(text, 5, true).is_none());
        assert!(parse::parse_stream(text, true).is_err());
    }

    #[test]
    fn small_or_lopsided_inputs_are_not_split() {
        assert_eq!(parse_split("a: 1\nb: 2\n"), Some(5));
        let long = format!("a: {}\nb: 1\n", "x".repeat(1000));
        assert_eq!(parse_split(&long), None);
        let mut items = Map::new();
        items.push("a", Value::Str("x".repeat(10)));
        items.push("b", Value::Str("y".repeat(10)));
        assert_eq!(emit_split(&items.0), None);
    }

    #[test]
    fn a_large_document_is_written_as_two_chunks_equal_to_the_whole() {
        let mut doc = Map::new();
        for i in 0..4000 {
            doc.push(
                format!("key{i}"),
                Value::Str(format!("value {i} {}", "x".repeat(80))),
            );
        }
        let docs = [doc];
        let whole = emit::emit_documents(&docs, None, 4);
        let chunks = emit_documents(&docs, None, 4);
        if parallel::has_second_core() {
            assert_eq!(chunks.len(), 2);
            assert!(chunks.iter().all(|c| c.len() > whole.len() / 5));
        }
        assert_eq!(join_chunks(chunks), whole);
    }
}

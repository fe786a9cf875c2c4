//! YAML store: reads and writes YAML the way sops 3.11 does (Go YAML v3
//! semantics), so that a decrypted file is byte-identical to sops's output.
//!
//! * Reading ([`parse`]): granit-parser events; scalars resolved with the
//!   yaml.v3 rules ([`resolve`]); aliases expanded; the merge key `<<` kept
//!   as a literal key; comments turned into comment items.
//! * Writing ([`emit`]): yaml.v3's block layout, with the configured
//!   indentation (default 4); every comment on its own line (as 3.11 does).
//!
//! An empty input has no document: `parse_plain` returns `Ok(vec![])` and
//! the caller raises [`FormatError::NoDocument`] when it needs a document.

mod emit;
mod line_separators;
mod parse;
mod resolve;
mod scan;
mod split;
mod tab_rules;
mod v3_rules;

use super::{EncryptedFile, FormatError, Store, StoreOptions};

/// True for a tag that is neither a core schema tag (`!!str`, …) nor the
/// non-specific `!`: a local or application tag (`!Ref`, `!vault`), which
/// sops reads through (the value stays a string, a collection as it is).
pub(crate) fn is_other_tag(handle: &str, suffix: &str) -> bool {
    matches!(
        resolve::ScalarTag::from_parts(handle, suffix),
        resolve::ScalarTag::Other
    )
}
use crate::tree::{Item, Map, Value};

/// The YAML store.
pub struct YamlStore {
    indent: usize,
}

impl YamlStore {
    /// A YAML store with these options (`yaml_indent`: `None`/0 → 4).
    pub fn new(options: &StoreOptions) -> Self {
        let indent = match options.yaml_indent {
            Some(n) if n > 0 => n as usize,
            _ => 4,
        };
        YamlStore { indent }
    }
}

/// Every `.yaml`/`.yml` file under `root` with its text, in path order
/// (for tests that compare readers and writers on real files).
#[cfg(test)]
pub(crate) fn yaml_files(root: &std::path::Path) -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for path in entries.flatten().map(|e| e.path()) {
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    out.push((path, text));
                }
            }
        }
    }
    out.sort();
    out
}

fn to_str(input: &[u8]) -> Result<&str, FormatError> {
    std::str::from_utf8(input)
        .map_err(|e| FormatError::Parse(format!("yaml: invalid UTF-8 at byte {}", e.valid_up_to())))
}

impl Store for YamlStore {
    fn parse_plain(&self, input: &[u8]) -> Result<Vec<Map>, FormatError> {
        let text = to_str(input)?;
        let docs = split::parse_stream(text, true)?;
        Ok(parse::settle_trailing_comments(docs, self.indent))
    }

    fn parse_encrypted(&self, input: &[u8]) -> Result<EncryptedFile, FormatError> {
        let text = to_str(input)?;
        split_metadata(split::parse_stream(text, false)?)
    }

    fn emit_plain(&self, documents: &[Map]) -> Result<Vec<u8>, FormatError> {
        self.emit_plain_chunks(documents).map(split::join_chunks)
    }

    fn emit_encrypted(&self, documents: &[Map], metadata: &Map) -> Result<Vec<u8>, FormatError> {
        self.emit_encrypted_chunks(documents, metadata)
            .map(split::join_chunks)
    }

    fn emit_plain_chunks(&self, documents: &[Map]) -> Result<Vec<Vec<u8>>, FormatError> {
        Ok(split::emit_documents(documents, None, self.indent))
    }

    fn emit_encrypted_chunks(
        &self,
        documents: &[Map],
        metadata: &Map,
    ) -> Result<Vec<Vec<u8>>, FormatError> {
        Ok(split::emit_documents(
            documents,
            Some(metadata),
            self.indent,
        ))
    }

    fn emit_value(&self, value: &Value) -> Result<Vec<u8>, FormatError> {
        Ok(emit::emit_single_value(value))
    }
}

/// The metadata of an encrypted YAML file, as [`Store::parse_encrypted`]
/// gives it (the same value; the same errors but those of copying aliases),
/// without copying the aliases outside it, as sops 3.11 reads only the
/// metadata first: `filestatus` needs nothing else, and a file whose data
/// is an alias bomb costs no more than its size to look at.
pub fn parse_encrypted_metadata(input: &[u8]) -> Result<Option<Map>, FormatError> {
    let text = to_str(input)?;
    let documents = match parse::parse_metadata_only(text)? {
        Some(documents) => documents,
        // The metadata aliases an anchor that holds an alias: read whole.
        None => split::parse_stream(text, false)?,
    };
    Ok(split_metadata(documents)?.metadata)
}

/// Takes the `sops` entries out of the documents; the first document's is
/// the metadata.
fn split_metadata(mut documents: Vec<Map>) -> Result<EncryptedFile, FormatError> {
    let mut metadata = None;
    for (i, doc) in documents.iter_mut().enumerate() {
        let mut found: Vec<Value> = Vec::new();
        doc.0.retain_mut(|item| match item {
            Item::Entry(k, v) if k == "sops" => {
                found.push(std::mem::replace(v, Value::Null));
                false
            }
            _ => true,
        });
        if i == 0 {
            if found.len() > 1 {
                return Err(FormatError::Parse("Found duplicate sops entry".into()));
            }
            match found.pop() {
                Some(Value::Map(m)) => metadata = Some(m),
                Some(Value::Null) | None => {}
                Some(_) => {
                    return Err(FormatError::Parse(
                        "Found sops entry that is not a mapping".into(),
                    ))
                }
            }
        }
    }
    Ok(EncryptedFile {
        documents,
        metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::Comment;

    fn store() -> YamlStore {
        YamlStore::new(&StoreOptions::default())
    }

    fn parse_err(input: &str) -> String {
        store()
            .parse_plain(input.as_bytes())
            .unwrap_err()
            .to_string()
    }

    fn round_trip(input: &str) -> String {
        let s = store();
        let docs = s.parse_plain(input.as_bytes()).unwrap();
        String::from_utf8(s.emit_plain(&docs).unwrap()).unwrap()
    }

    #[test]
    fn empty_and_comment_only_inputs() {
        assert_eq!(store().parse_plain(b"").unwrap(), Vec::<Map>::new());
        assert_eq!(parse_err("# only\n"), "EOF");
        assert_eq!(parse_err("\n\n"), "EOF");
        assert_eq!(round_trip("---\n"), "{}\n");
    }

    #[test]
    fn duplicate_keys_found_in_small_and_large_mappings() {
        for n in [3, 16, 17, 40] {
            let mut text: String = (0..n).map(|i| format!("k{i}: {i}\n")).collect();
            assert!(store().parse_plain(text.as_bytes()).is_ok(), "{n} keys");
            text.push_str("k1: again\n");
            assert_eq!(
                parse_err(&text),
                format!(
                    "yaml: unmarshal errors:\n  line {}: mapping key \"k1\" already defined at line 2",
                    n + 1
                ),
                "{n} keys"
            );
        }
    }

    #[test]
    fn duplicate_key_reports_are_bounded() {
        let limit = parse::MAX_DUPLICATE_REPORTS;
        let lines = |copies: usize| {
            let err = parse_err(&"k: 1\n".repeat(copies));
            err.lines().skip(1).map(str::to_string).collect::<Vec<_>>()
        };
        // yaml.v3's order: each key, then every later copy of it.
        let pairs = |copies: usize, most: usize| {
            (1..=copies)
                .flat_map(|i| (i + 1..=copies).map(move |j| (i, j)))
                .take(most)
                .map(|(i, j)| format!("  line {j}: mapping key \"k\" already defined at line {i}"))
                .collect::<Vec<_>>()
        };
        // 6 copies: 15 pairs, all reported.
        assert_eq!(lines(6), pairs(6, usize::MAX));
        // 7 copies: 21 pairs, one more than the limit.
        let mut want = pairs(7, limit);
        want.push("  and 1 more mapping keys already defined".into());
        assert_eq!(lines(7), want);
        // 3,000 copies: 4,498,500 pairs, still 20 lines and a count.
        let many = lines(3000);
        assert_eq!(many[..limit], pairs(3000, limit));
        assert_eq!(
            many[limit..],
            [format!(
                "  and {} more mapping keys already defined",
                3000 * 2999 / 2 - limit
            )]
        );
    }

    #[test]
    fn structural_errors() {
        // Comments, a nested flow mapping and a quoted key between the two
        // (the reference reports the same).
        assert_eq!(
            parse_err("a: 1\n# c\nb:\n  x: 1\n  x2: {p: 1, q: 2}\n\"a\": 3\n"),
            "yaml: unmarshal errors:\n  line 6: mapping key \"a\" already defined at line 1"
        );
        assert_eq!(
            parse_err("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n"),
            "yaml: unmarshal errors:\n  line 5: mapping key \"a\" already defined at line 1"
        );
        assert_eq!(
            parse_err("a: 1\nb:\n  c: 1\n  c: 2\n"),
            "yaml: unmarshal errors:\n  line 4: mapping key \"c\" already defined at line 3"
        );
        assert_eq!(
            parse_err("- a\n- b\n"),
            "yaml: unmarshal errors:\n  line 1: cannot unmarshal !!seq into map[string]interface {}"
        );
        // yaml.v3 quotes the scalar (`abc`); it may be a secret.
        assert_eq!(
            parse_err("abc\n"),
            "yaml: unmarshal errors:\n  line 1: cannot unmarshal !!str into map[string]interface {}"
        );
        // The same for a tag that does not fit the value, and an integer
        // too large: the value is never shown.
        assert_eq!(
            parse_err("a: !!int pin-1234\n"),
            "yaml: cannot decode !!str as a !!int (line 1, column 10)"
        );
        assert_eq!(
            parse_err("a: 18446744073709551615\n"),
            "integer does not fit in a signed 64-bit integer (sops: Cannot walk value, unknown type: uint64) (line 1, column 4)"
        );
        assert_eq!(
            parse_err("a: 1\n---\n- x\n"),
            "Error unmarshaling input YAML: YAML documents that are sequences are not supported"
        );
        assert_eq!(
            parse_err("a: 1\n---\nx\n"),
            "Error unmarshaling input YAML: YAML documents that are values are not supported"
        );
        assert!(parse_err("1: one\n").contains("non-string key (type int)"));
        assert!(parse_err("a: [\n").starts_with("yaml: line "));
        assert!(parse_err("a: 18446744073709551615\n").contains("uint64"));
        assert_eq!(
            parse_err("a: &x 1\nm:\n  <<: *x\n"),
            "yaml: map merge requires map or sequence of maps as the value"
        );
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let prev = i - 1;
            src.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        assert!(parse_err(&src).contains("excessive aliasing"));
        let docs = store().parse_plain(b"a: &x {k: v}\nb: *x\n").unwrap();
        assert_eq!(docs[0].get("a"), docs[0].get("b"));
    }

    /// `a` anchors a scalar of `len` bytes; `l` holds `aliases` aliases of it.
    fn scalar_aliases(len: usize, aliases: usize) -> String {
        let mut text = format!("a: &a {}\nl: [", "x".repeat(len));
        text.push_str(&vec!["*a"; aliases].join(", "));
        text.push_str("]\n");
        text
    }

    /// Bytes one copy of the anchored scalar costs (its value and raw text).
    fn scalar_copy_bytes(len: usize) -> usize {
        parse::value_bytes(&Value::Str("x".repeat(len))) + len
    }

    /// Accepts `scalar_aliases(len, k)` while its copies (the anchor and k
    /// aliases) fit the budget, and refuses the first k that does not, at
    /// the alias that would pass it; returns that k.
    fn first_refused_alias_count(len: usize, from: usize) -> usize {
        let per_copy = scalar_copy_bytes(len);
        for k in from.. {
            let text = scalar_aliases(len, k);
            let fits = (k + 1) * per_copy <= parse::copy_budget(text.len());
            match store().parse_plain(text.as_bytes()) {
                Ok(docs) => {
                    assert!(fits, "{k} aliases accepted over the budget");
                    match docs[0].get("l") {
                        Some(Value::List(l)) => assert_eq!(l.len(), k),
                        other => panic!("{other:?}"),
                    }
                }
                Err(e) => {
                    assert!(!fits, "{k} aliases refused within the budget: {e}");
                    let e = e.to_string();
                    // The alias that passes the budget: the k-th in `l`.
                    let column = "l: [".len() + 4 * (k - 1) + 1;
                    assert_eq!(
                        e,
                        format!("yaml: document contains excessive aliasing (line 2, column {column}): anchors and aliases would copy more than {} MiB", parse::copy_budget(text.len()) >> 20)
                    );
                    return k;
                }
            }
        }
        unreachable!()
    }

    #[test]
    fn alias_copies_are_bounded_by_size_near_the_edge() {
        // Small input: the fixed 16 MiB budget.
        let len = 16 * 1024;
        let per_copy = scalar_copy_bytes(len);
        let limit = (16 << 20) / per_copy;
        let k = first_refused_alias_count(len, limit - 3);
        assert_eq!(k, limit, "the anchor and k - 1 aliases fit, k do not");
        // Large input: the budget grows with it (16 bytes per input byte).
        let len = 3 << 20;
        assert!(parse::copy_budget(scalar_aliases(len, 8).len()) > 16 << 20);
        let k = first_refused_alias_count(len, 1);
        assert_eq!(k, 8, "16 × input holds the anchor and 7 aliases");
    }

    /// Anchors `a` (200 levels) and `b` (200 levels around `*a`), then `c`:
    /// `*b` inside `outer` more levels, at 1 + outer + 400 levels in all.
    fn nested_aliases(outer: usize) -> String {
        let wrap = |n: usize, inner: &str| format!("{}{inner}{}", "[".repeat(n), "]".repeat(n));
        format!(
            "a: &a {}\nb: &b {}\nc: {}\n",
            wrap(200, "x"),
            wrap(200, "*a"),
            wrap(outer, "*b")
        )
    }

    #[test]
    fn alias_expansion_is_bounded_in_depth_near_the_edge() {
        let limit = parse::MAX_TREE_DEPTH;
        let outer = limit - 401;
        let docs = store()
            .parse_plain(nested_aliases(outer).as_bytes())
            .unwrap();
        let depth = |v: &Value| parse::value_depth(v);
        assert_eq!(depth(docs[0].get("c").unwrap()) + 1, limit);
        let err = parse_err(&nested_aliases(outer + 1));
        assert_eq!(
            err,
            format!("yaml: document contains excessive aliasing (line 3, column {}): aliases would nest values deeper than {limit} levels", "c: ".len() + outer + 2)
        );
        // Without aliases the parser's own nesting limits come first.
        assert!(
            parse_err(&format!("a: {}{}\n", "[".repeat(limit), "]".repeat(limit)))
                .contains("recursion limit")
        );
    }

    #[test]
    fn copy_budget_is_the_larger_of_16_mib_and_16_times_the_input() {
        assert_eq!(parse::copy_budget(0), 16 << 20);
        assert_eq!(parse::copy_budget(1 << 20), 16 << 20);
        assert_eq!(parse::copy_budget(2 << 20), 32 << 20);
        assert_eq!(parse::copy_budget(usize::MAX), usize::MAX);
    }

    #[test]
    fn small_files_with_large_copies_are_refused() {
        // A 60 KB scalar aliased 300 times (18 MB): fewer than 10,000 nodes.
        let err = parse_err(&scalar_aliases(60_000, 300));
        assert!(
            err.starts_with("yaml: document contains excessive aliasing (line 2, column "),
            "{err}"
        );
        // Collections: a 1,000-entry mapping merged 300 times.
        let mut text = String::from("defaults: &d\n");
        for i in 0..1000 {
            text.push_str(&format!("  key{i}: value{i}\n"));
        }
        for i in 0..300 {
            text.push_str(&format!("s{i}:\n  <<: *d\n"));
        }
        assert!(parse_err(&text).contains("excessive aliasing"));
        // Anchors nested in anchors, without any alias: each level records
        // a copy of everything below it.
        let mut text = String::from("a: ");
        for i in 0..200 {
            text.push_str(&format!("&n{i} ["));
        }
        text.push_str(&vec!["x"; 5000].join(", "));
        text.push_str(&"]".repeat(200));
        text.push('\n');
        assert!(parse_err(&text).contains("excessive aliasing"));
        // What real files do stays accepted: defaults merged a few times.
        let docs = store()
            .parse_plain(b"x: &d {restart: always, env: {A: 1}}\nweb:\n  <<: *d\n  image: n\ndb:\n  <<: [*d, {b: 2}]\n")
            .unwrap();
        assert_eq!(
            docs[0].get("web"),
            Some(&Value::Map(Map(vec![
                Item::Entry("<<".into(), docs[0].get("x").unwrap().clone()),
                Item::Entry("image".into(), Value::Str("n".into())),
            ])))
        );
    }

    #[test]
    fn metadata_only_read_equals_the_whole_read() {
        let bomb = {
            let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
            for i in 1..9 {
                let p = format!("*a{}", i - 1);
                src.push_str(&format!("a{i}: &a{i} [{}]\n", vec![p; 10].join(", ")));
            }
            src
        };
        let meta = "sops:\n    mac: ENC[m]\n    version: 3.11.0\n";
        let inputs = [
            "a: 1\n".to_string(),
            format!("a: ENC[x]\n{meta}"),
            format!("d: &d {{k: v}}\nm: *d\n{meta}"),
            // Aliases in the metadata, of anchors in the data.
            "v: &v 3.11.0\nd: &d {mac: ENC[m], version: *v}\nsops: *d\n".into(),
            "v: &v 3.11.0\nsops:\n    mac: ENC[m]\n    version: *v\n".into(),
            // An anchor holding an alias, aliased in the metadata: read whole.
            "v: &v {mac: ENC[m]}\nd: &d {x: *v, version: \"3\"}\nsops: *d\n".into(),
            "s: &k sops\n*k : {version: \"1\", mac: m}\n".into(),
            format!("{meta}---\nb: *x\n"),
            "sops: {}\nx: 1\nsops: {}\n".into(),
            "sops: 1\n".into(),
            "a: [\n".into(),
        ];
        for input in inputs {
            let whole = store()
                .parse_encrypted(input.as_bytes())
                .map(|f| f.metadata)
                .map_err(|e| e.to_string());
            let only = parse_encrypted_metadata(input.as_bytes()).map_err(|e| e.to_string());
            assert_eq!(only, whole, "{input}");
        }
        // Data the whole read refuses as an alias bomb is not copied.
        assert!(parse_err(&bomb).contains("excessive aliasing"));
        assert_eq!(parse_encrypted_metadata(bomb.as_bytes()), Ok(None));
        let with_meta = format!("{bomb}{meta}");
        let found = parse_encrypted_metadata(with_meta.as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(found.get("version"), Some(&Value::Str("3.11.0".into())));
        // An alias bomb inside the metadata is still refused.
        let in_meta = format!(
            "sops:\n{}",
            bomb.lines()
                .map(|l| format!("    {l}\n"))
                .collect::<String>()
        );
        assert!(parse_encrypted_metadata(in_meta.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("excessive aliasing"));
    }

    #[test]
    fn duplicates_only_checked_in_first_document() {
        assert!(store().parse_plain(b"a: 1\n---\nb: 1\nb: 2\n").is_ok());
    }

    #[test]
    fn comments_become_items() {
        let docs = store()
            .parse_plain(b"# head\na: 1 # line\nl:\n  - x\n  # foot\n")
            .unwrap();
        let m = &docs[0];
        assert_eq!(m.0[0], Item::Comment(Comment::new(" head")));
        assert!(matches!(&m.0[1], Item::Comment(c) if c.text == " line" && c.inline));
        assert_eq!(m.0[2], Item::Entry("a".into(), Value::Int(1)));
        match m.get("l") {
            Some(Value::List(l)) => {
                assert_eq!(l[0], Value::Str("x".into()));
                assert_eq!(l[1], Value::Comment(Comment::new(" foot")));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parse_encrypted_extracts_metadata() {
        let input =
            b"a: ENC[x]\nsops:\n    version: 3.11.0\n---\nb: 1\nsops:\n    version: 3.11.0\n";
        let f = store().parse_encrypted(input).unwrap();
        assert_eq!(f.documents.len(), 2);
        assert!(f.documents.iter().all(|d| d.get("sops").is_none()));
        let meta = f.metadata.unwrap();
        assert_eq!(meta.get("version"), Some(&Value::Str("3.11.0".into())));
        let out = store().emit_encrypted(&f.documents, &meta).unwrap();
        assert_eq!(out, input.to_vec());
        assert!(store()
            .parse_encrypted(b"a: 1\n")
            .unwrap()
            .metadata
            .is_none());
        assert_eq!(
            store()
                .parse_encrypted(b"sops: 1\n")
                .unwrap_err()
                .to_string(),
            "Found sops entry that is not a mapping"
        );
        assert_eq!(
            store()
                .parse_encrypted(b"sops: {}\nx: 1\nsops: {}\n")
                .unwrap_err()
                .to_string(),
            "Found duplicate sops entry"
        );
    }

    #[test]
    fn encrypted_comments_in_sequences_and_mappings() {
        let mut m = Map::new();
        m.0.push(Item::Comment(Comment::new(
            "ENC[AES256_GCM,data:x,type:comment]",
        )));
        m.push(
            "l",
            Value::List(vec![
                Value::Str("ENC[AES256_GCM,data:a,type:str]".into()),
                Value::Str("ENC[AES256_GCM,data:b,type:comment]".into()),
            ]),
        );
        let out = String::from_utf8(store().emit_plain(&[m]).unwrap()).unwrap();
        assert_eq!(
            out,
            "#ENC[AES256_GCM,data:x,type:comment]\nl:\n    - ENC[AES256_GCM,data:a,type:str]\n    - ENC[AES256_GCM,data:b,type:comment]\n"
        );
    }

    #[test]
    fn indentation_option_and_values() {
        let s = YamlStore::new(&StoreOptions {
            yaml_indent: Some(2),
            ..StoreOptions::default()
        });
        let docs = s.parse_plain(b"a:\n    b: [1]\n").unwrap();
        assert_eq!(s.emit_plain(&docs).unwrap(), b"a:\n  b:\n    - 1\n");
        assert_eq!(store().emit_value(&Value::Float(2.5)).unwrap(), b"2.5\n");
        assert_eq!(
            store()
                .emit_value(&Value::List(vec![Value::Str("appended".into())]))
                .unwrap(),
            b"- appended\n"
        );
    }

    #[test]
    fn metadata_layout() {
        let mut age = Map::new();
        age.push("recipient", Value::Str("age1xyz".into()));
        age.push(
            "enc",
            Value::Str(
                "-----BEGIN AGE ENCRYPTED FILE-----\nabc\n-----END AGE ENCRYPTED FILE-----\n"
                    .into(),
            ),
        );
        let mut meta = Map::new();
        meta.push("age", Value::List(vec![Value::Map(age)]));
        meta.push("lastmodified", Value::Str("2026-11-27T23:39:06Z".into()));
        meta.push(
            "pgp_enc",
            Value::Str("-----BEGIN PGP MESSAGE-----\n\nx\n-----END PGP MESSAGE-----".into()),
        );
        meta.push("version", Value::Str("3.11.0".into()));
        let mut doc = Map::new();
        doc.push("k", Value::Str("ENC[x]".into()));
        let out = String::from_utf8(store().emit_encrypted(&[doc], &meta).unwrap()).unwrap();
        assert_eq!(
            out,
            "k: ENC[x]\nsops:\n    age:\n        - recipient: age1xyz\n          enc: |\n            -----BEGIN AGE ENCRYPTED FILE-----\n            abc\n            -----END AGE ENCRYPTED FILE-----\n    lastmodified: \"2026-11-27T23:39:06Z\"\n    pgp_enc: |-\n        -----BEGIN PGP MESSAGE-----\n\n        x\n        -----END PGP MESSAGE-----\n    version: 3.11.0\n"
        );
    }
}

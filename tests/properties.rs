//! Property tests (proptest) in the normal test suite: the cipher, the
//! `ENC[…]` syntax, Shamir secret sharing, and whole-document encryption
//! round trips through the YAML and JSON stores.

use enseal::crypto::enc::EncValue;
use enseal::crypto::{Cipher, DataKey, EncryptionRule};
use enseal::document::{self, EncryptSettings, EncryptedDocument};
use enseal::format::{FormatKind, StoreOptions};
use enseal::keys::age::{AgeKey, Identities};
use enseal::keys::shamir;
use enseal::keys::{KeyContext, MasterKey};
use enseal::metadata::Metadata;
use enseal::tree::{Item, Map, Value};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 64,
        ..ProptestConfig::default()
    }
}

/// sops' pattern needs at least one character of data (`data:(.+)`).
#[test]
fn empty_data_does_not_parse() {
    let key = DataKey::generate().unwrap();
    let text = Cipher::new(&key).encrypt(b"", b"a:", "str").unwrap();
    assert!(text.starts_with("ENC[AES256_GCM,data:,iv:"), "{text}");
    assert!(text.parse::<EncValue>().is_err());
}

proptest! {
    #![proptest_config(config())]

    /// Any plaintext, AAD and type name: encrypt, parse the `ENC[…]` text,
    /// decrypt → the same plaintext; the text parses back to what it says.
    /// (Empty values are never encrypted, by sops or enseal: an `ENC[…]`
    /// with empty data does not parse, see `empty_data_does_not_parse`.)
    #[test]
    fn cipher_round_trip(
        plain in proptest::collection::vec(any::<u8>(), 1..300),
        aad in "[a-z0-9:_]{0,40}",
        type_name in prop::sample::select(vec!["str", "int", "float", "bool", "bytes", "comment"]),
    ) {
        let key = DataKey::generate().unwrap();
        let mut cipher = Cipher::new(&key);
        let text = cipher.encrypt(&plain, aad.as_bytes(), type_name).unwrap();
        let value: EncValue = text.parse().unwrap();
        prop_assert_eq!(&value.type_name, type_name);
        prop_assert_eq!(value.iv.len(), 32);
        prop_assert_eq!(value.tag.len(), 16);
        let back = cipher.decrypt(&value, aad.as_bytes()).unwrap();
        prop_assert_eq!(&back[..], &plain[..]);
        prop_assert_eq!(EncValue::format(&value.data, &value.iv, &value.tag, type_name), text);
    }

    /// A different AAD, or any flipped ciphertext bit, fails authentication.
    #[test]
    fn cipher_detects_tampering(
        plain in proptest::collection::vec(any::<u8>(), 1..100),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let key = DataKey::generate().unwrap();
        let mut cipher = Cipher::new(&key);
        let text = cipher.encrypt(&plain, b"a:", "str").unwrap();
        let mut value: EncValue = text.parse().unwrap();
        prop_assert!(cipher.decrypt(&value, b"b:").is_err());
        let i = flip.index(value.data.len());
        value.data[i] ^= 1 << bit;
        prop_assert!(cipher.decrypt(&value, b"a:").is_err());
    }

    /// Any threshold-sized subset of the shares gives the secret back; one
    /// share fewer does not.
    #[test]
    fn shamir_threshold_subsets(
        secret in proptest::collection::vec(any::<u8>(), 1..64),
        parts in 2usize..7,
        threshold_seed in any::<prop::sample::Index>(),
        pick in any::<prop::sample::Index>(),
    ) {
        let threshold = 2 + threshold_seed.index(parts - 1);
        let shares = shamir::split(&secret, parts, threshold).unwrap();
        prop_assert_eq!(shares.len(), parts);
        // A rotating window of `threshold` shares starting at `start`.
        let start = pick.index(parts);
        let chosen: Vec<&[u8]> = (0..threshold).map(|k| &shares[(start + k) % parts][..]).collect();
        prop_assert_eq!(&shamir::combine(&chosen).unwrap()[..], &secret[..]);
        if threshold > 2 {
            let fewer = &chosen[..threshold - 1];
            let got = shamir::combine(fewer).map(|s| s.to_vec()).unwrap_or_default();
            prop_assert_ne!(got, secret);
        }
    }
}

// ---------------------------------------------------------------------
// Document generators.
//
// What they cover (issue #16): keys in arbitrary order (never sorted, with
// keys whose byte, UTF-16 and case-folded orders differ), the whole i64
// range with its boundaries, floats in every form Go writes them (exponent
// forms, shortest digits, negative zero, subnormals, extremes; NaN and
// infinities in YAML only, as sops, since JSON cannot hold them), unicode
// and multi-line strings, strings that look like other YAML scalars,
// empty maps and lists at every depth, and `_unencrypted` subtrees (clear
// text inside encrypted files). Nothing is left out: raw LS and PS, the
// last exclusion, read back since yaml/line_separators.rs (regression tests
// `yaml_line_separator_*`). `generators_cover_issue_16` fails if the
// generators stop producing any of the above.
// ---------------------------------------------------------------------

/// The store a document is generated for: each gets only what it can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Yaml,
    Json,
}

impl Kind {
    fn format(self) -> FormatKind {
        match self {
            Kind::Yaml => FormatKind::Yaml,
            Kind::Json => FormatKind::Json,
        }
    }
}

const TWO_53: i64 = 1 << 53;

/// Every i64, weighted towards the boundaries where stores and readers
/// differ: i64::MIN/MAX, ±2^53 (where float64 readers lose digits), 0, -1.
fn int_value() -> impl Strategy<Value = i64> {
    prop_oneof![
        prop::sample::select(vec![
            i64::MIN,
            i64::MIN + 1,
            i64::MAX,
            i64::MAX - 1,
            0,
            -1,
            1,
            i64::from(i32::MIN),
            i64::from(i32::MAX),
            i64::from(u32::MAX),
            -TWO_53,
            TWO_53,
        ]),
        // ±2^53 and its neighbours.
        (prop::sample::select(vec![TWO_53, -TWO_53]), -3i64..=3).prop_map(|(b, d)| b + d),
        any::<i64>(),
        any::<i32>().prop_map(i64::from),
    ]
}

/// Finite floats that exercise every layout of Go's `strconv.FormatFloat`
/// ('f', 'g' and encoding/json's switch to exponents below 1e-6 and from
/// 1e21 on) and shortest-digit printing; `non_finite` adds NaN and ±Inf.
fn float_value(non_finite: bool) -> impl Strategy<Value = f64> {
    use prop::num::f64 as f;
    let edges = vec![
        0.0,
        -0.0,
        5e-324,  // smallest subnormal
        -5e-324, // and its negative
        2.225_073_858_507_201e-308,
        f64::MIN_POSITIVE,
        f64::EPSILON,
        f64::MAX,
        f64::MIN,
        1e21, // encoding/json: first exponent form
        -1e21,
        1e20,
        999_999_999_999_999_900_000.0,
        1e-6, // encoding/json: last positional form
        1e-7, // encoding/json: `1e-7`; 'g': `1e-07`
        1e6,  // 'g': first exponent form (`1e+06`)
        999_999.0,
        123_456.5,
        1e-4,
        1e-5, // 'g': first negative exponent form
        0.1,
        0.1 + 0.2, // 0.30000000000000004: 17 significant digits
        1.0 / 3.0,
        9_007_199_254_740_992.0, // 2^53
        9_007_199_254_740_994.0,
        9_223_372_036_854_775_808.0,  // 2^63: one beyond i64
        -9_223_372_036_854_775_808.0, // -2^63: i64::MIN exactly
        1e23,
        1e300,
        -1e-300,
        1.5,
        -2.0,
        100.0,
    ];
    let finite = prop_oneof![
        3 => prop::sample::select(edges),
        1 => prop::sample::select(vec![0.0, -0.0, 5e-324, -5e-324]),
        // Any bit pattern that is finite: normal, subnormal and zero, either sign.
        2 => f::NORMAL | f::SUBNORMAL | f::ZERO | f::POSITIVE | f::NEGATIVE,
        // Short decimals at every magnitude: `d.ddd × 10^e`, as people write them.
        3 => (-99_999i64..=99_999, -330i32..=310)
            .prop_map(|(m, e)| format!("{m}e{e}").parse::<f64>().unwrap())
            .prop_filter("finite", |x| x.is_finite()),
        // Integral values, which the writers print without a fraction.
        1 => any::<i32>().prop_map(f64::from),
        1 => (1u64..1 << 53, 0i32..40).prop_map(|(m, e)| m as f64 * 10f64.powi(e)),
    ];
    if non_finite {
        prop_oneof![
            8 => finite,
            1 => prop::sample::select(vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY]),
        ]
        .boxed()
    } else {
        finite.boxed()
    }
}

/// Pieces of text that stores have to escape, quote or keep apart.
fn text_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[ -~]{1,6}",
        // Whitespace and line breaks in every spelling.
        2 => prop::sample::select(vec![" ", "  ", "\t", "\n", "\r\n", "\r", "\n\n", " \n", "\t\n"])
            .prop_map(str::to_string),
        // Control characters, C0 and C1, DEL, NEL, LS, PS.
        1 => prop_oneof![
            (0u32..0x20),
            (0x7fu32..0xa0),
            Just(0x2028u32),
            Just(0x2029u32),
        ]
        .prop_map(|c| char::from_u32(c).unwrap().to_string()),
        // Unicode: non-BMP, combining marks, RTL text and marks, BOM, ZWJ,
        // noncharacters, neighbours of the surrogate range.
        2 => prop::sample::select(vec![
            "\u{1F600}", "\u{10FFFF}", "\u{10000}", "\u{1D11E}",
            "e\u{301}", "\u{308}", "a\u{20DD}", "\u{5D0}\u{5D1}", "\u{627}\u{644}",
            "\u{202E}", "\u{200F}", "\u{200E}", "\u{FEFF}", "\u{200D}", "\u{FFFE}",
            "\u{FFFF}", "\u{FFFD}", "\u{D7FF}", "\u{E000}", "日本", "ß", "€", "\u{A0}",
            "\u{3000}",
        ])
        .prop_map(str::to_string),
        // Characters YAML gives a meaning to.
        2 => prop::sample::select(vec![
            ": ", " #", "#", "- ", "---", "...", "'", "\"", "\\", "{", "}", "[", "]",
            ",", "&a", "*a", "!", "|", ">", "%", "@", "`", "?", "<<",
        ])
        .prop_map(str::to_string),
        1 => any::<char>().prop_map(String::from),
    ]
}

/// Strings that YAML would read as another type unless quoted.
const LOOKALIKES: &[&str] = &[
    "",
    "true",
    "False",
    "TRUE",
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "~",
    "null",
    "Null",
    "0",
    "-0",
    "+1",
    "007",
    "08",
    "0x1F",
    "0o17",
    "0b101",
    "1_000",
    "1e3",
    "1E+3",
    ".5",
    "-.5",
    ".inf",
    "-.Inf",
    ".nan",
    "NaN",
    "Infinity",
    "1:20",
    "2001-12-14",
    "2001-12-14T21:59:43.10-05:00",
    "2001-12-14 21:59:43.10 -5",
    "9223372036854775808",
    "-9223372036854775809",
    "<<",
    "=",
    "-",
    "? ",
    "--- x",
    "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]",
];

fn string_value(kind: Kind) -> impl Strategy<Value = String> {
    let text = prop_oneof![
        2 => "[ -~]{0,20}",
        1 => prop::sample::select(LOOKALIKES).prop_map(str::to_string),
        4 => proptest::collection::vec(text_piece(), 0..8).prop_map(|p| p.concat()),
        // Multi-line text: leading and trailing blanks, indented lines,
        // LF, CRLF or CR breaks, any number of final line breaks.
        2 => (
            prop::sample::select(vec!["", " ", "  ", "\t", "\n", " \t"]),
            proptest::collection::vec("[ \t]{0,2}[ -~]{0,10}[ \t]{0,2}", 1..5),
            prop::sample::select(vec!["\n", "\r\n", "\r"]),
            prop::sample::select(vec!["", "\n", "\n\n", "\r\n", " ", "\t", " \n"]),
        )
            .prop_map(|(lead, lines, brk, tail)| format!("{lead}{}{tail}", lines.join(brk))),
    ];
    let _ = kind;
    text.boxed()
}

/// Keys: simple identifiers, keys whose orders disagree (bytes vs UTF-16:
/// U+FF61 sorts before U+1F600 in UTF-8 and after it in UTF-16; case;
/// digits), and arbitrary strings.
fn key(kind: Kind) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z][a-z0-9_]{0,8}",
        2 => prop::sample::select(vec![
            "a", "B", "Z", "_", "10", "9", "a.b", "A", "é", "e\u{301}", "key with space",
            "-", "1", "true", "null", "~", "<<", "sopsx", "Sops", "ENC", "a:b", "#", "[",
            "\u{FEFF}k", "x_unencrypted", "_unencrypted",
        ])
        .prop_map(str::to_string),
        // U+E000 and above sort after the non-BMP keys in UTF-8 and before
        // them in UTF-16.
        2 => prop::sample::select(vec![
            "\u{E000}", "\u{FF61}", "\u{FFFD}", "\u{FB01}x", "\u{10000}", "\u{1F600}",
            "\u{1F600}a", "\u{10FFFF}",
        ])
        .prop_map(str::to_string),
        2 => string_value(kind),
    ]
}

fn scalar(kind: Kind) -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => string_value(kind).prop_map(Value::Str),
        2 => int_value().prop_map(Value::Int),
        1 => any::<bool>().prop_map(Value::Bool),
        2 => float_value(kind == Kind::Yaml).prop_map(Value::Float),
        1 => Just(Value::Null),
    ]
}

/// Entries in the order generated (never sorted); a repeated key keeps its
/// first entry. `top` leaves out `sops`, the metadata's key.
fn map_of(
    kind: Kind,
    value: impl Strategy<Value = Value>,
    size: std::ops::Range<usize>,
    top: bool,
) -> impl Strategy<Value = Map> {
    proptest::collection::vec((key(kind), value), size).prop_map(move |entries| {
        let mut map = Map::new();
        for (k, v) in entries {
            if (top && k == "sops") || map.get(&k).is_some() {
                continue;
            }
            map.push(k, v);
        }
        map
    })
}

fn tree(kind: Kind) -> impl Strategy<Value = Map> {
    let value = scalar(kind).prop_recursive(5, 32, 4, move |inner| {
        prop_oneof![
            // Empty collections at every depth.
            1 => Just(Value::List(Vec::new())),
            1 => Just(Value::Map(Map::new())),
            3 => proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::List),
            3 => map_of(kind, inner, 0..5, false).prop_map(Value::Map),
        ]
    });
    map_of(kind, value, 0..7, true)
}

/// Documents and the store they are for.
fn document() -> impl Strategy<Value = (Kind, Map)> {
    prop_oneof![Just(Kind::Yaml), Just(Kind::Json)].prop_flat_map(|kind| (Just(kind), tree(kind)))
}

/// What a plaintext file of `kind` reads back as, for a tree written to it.
/// Only floats change, and exactly as in sops, because Go's writers drop the
/// fraction of an integral float and the readers then see an integer:
/// * YAML (yaml.v3, `'g'` shortest): an integral float below 1e6 in
///   magnitude is written `123456` / `-0` and read as an int (`-0` as 0);
///   from 1e6 on it is written `1e+06` and stays a float.
/// * JSON (encoding/json): an integral float below 1e21 is written without
///   fraction or exponent, in its shortest digits padded with zeros
///   (3.240292082185781e16 is
///   written `32402920821857810`); that text reads as an int when it fits
///   int64 and is not `-0` (enseal, like sops 3.13, keeps `-0` and larger
///   ones as floats). The int may differ from the float's exact value but
///   converts back to the same float.
fn as_read_back(kind: Kind, value: &Value) -> Value {
    read_back(kind, value, false)
}

/// [`as_read_back`] for the clear text of an encrypted file, where the YAML
/// writer spells negative zero `-0.0` (so that the MAC verifies) and it
/// reads back as itself.
fn as_read_back_from_encrypted_file(kind: Kind, value: &Value) -> Value {
    read_back(kind, value, true)
}

fn read_back(kind: Kind, value: &Value, encrypted_file: bool) -> Value {
    match value {
        Value::Map(m) => {
            let mut out = Map::new();
            for (k, v) in m.entries() {
                out.push(k, read_back(kind, v, encrypted_file));
            }
            Value::Map(out)
        }
        Value::List(l) => Value::List(
            l.iter()
                .map(|v| read_back(kind, v, encrypted_file))
                .collect(),
        ),
        Value::Float(x)
            if encrypted_file && kind == Kind::Yaml && *x == 0.0 && x.is_sign_negative() =>
        {
            value.clone()
        }
        Value::Float(x) if x.is_finite() && x.fract() == 0.0 => {
            let spelled = match kind {
                Kind::Yaml if x.abs() < 1e6 => Some(*x as i64),
                Kind::Yaml => None,
                // Rust's `{}` prints the shortest digits positionally, as Go's 'f'.
                Kind::Json if x.abs() < 1e21 && !(*x == 0.0 && x.is_sign_negative()) => {
                    format!("{x}").parse::<i64>().ok()
                }
                Kind::Json => None,
            };
            spelled.map_or_else(|| value.clone(), Value::Int)
        }
        other => other.clone(),
    }
}

fn map_as_read_back(kind: Kind, map: &Map) -> Map {
    let mut out = Map::new();
    for (k, v) in map.entries() {
        out.push(k, as_read_back(kind, v));
    }
    out
}

/// Tree equality that tells floats apart by bits (`-0` is not `0`) and
/// treats every NaN as equal to NaN.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => {
            (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits()
        }
        (Value::Map(x), Value::Map(y)) => same_map(x, y),
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_value(x, y))
        }
        _ => a == b,
    }
}

fn same_map(a: &Map, b: &Map) -> bool {
    a.0.len() == b.0.len()
        && a.0.iter().zip(&b.0).all(|(x, y)| match (x, y) {
            (Item::Entry(kx, vx), Item::Entry(ky, vy)) => kx == ky && same_value(vx, vy),
            _ => x == y,
        })
}

/// True for a key whose subtree the default rule leaves in clear text.
fn is_clear(key: &str) -> bool {
    key.ends_with(enseal::crypto::rules::DEFAULT_UNENCRYPTED_SUFFIX)
}

/// What decrypting gives for `map`: the tree itself, except that subtrees
/// under `_unencrypted` keys were stored as plaintext and read back as such.
fn as_decrypted(kind: Kind, map: &Map) -> Map {
    let mut out = Map::new();
    for (k, v) in map.entries() {
        let v = if is_clear(k) {
            as_read_back_from_encrypted_file(kind, v)
        } else {
            value_as_decrypted(kind, v)
        };
        out.push(k, v);
    }
    out
}

fn value_as_decrypted(kind: Kind, value: &Value) -> Value {
    match value {
        Value::Map(m) => Value::Map(as_decrypted(kind, m)),
        Value::List(l) => Value::List(l.iter().map(|v| value_as_decrypted(kind, v)).collect()),
        other => other.clone(),
    }
}

/// Checks that every leaf of a stored (still encrypted) tree outside
/// `_unencrypted` subtrees is an `ENC[…]` string, or empty, or null.
fn leaves_encrypted(value: &Value, path: &str) -> Result<(), String> {
    match value {
        Value::Map(m) => m
            .entries()
            .filter(|(k, _)| !is_clear(k))
            .try_for_each(|(k, v)| leaves_encrypted(v, &format!("{path}[{k:?}]"))),
        Value::List(l) => l
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| leaves_encrypted(v, &format!("{path}[{i}]"))),
        Value::Null => Ok(()),
        Value::Str(s) if s.is_empty() || s.starts_with("ENC[AES256_GCM,data:") => Ok(()),
        other => Err(format!("{path} stored unencrypted: {other:?}")),
    }
}

/// The public test key `testdata/keys/test-age-key.txt`.
fn test_identity() -> (String, Identities) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/keys/test-age-key.txt"
    ))
    .unwrap();
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .trim()
        .to_string();
    let mut ids = Identities::empty();
    ids.add_text(&text, "test key").unwrap();
    (recipient, ids)
}

/// Cases per document property: 256, or `PROPTEST_CASES` for longer runs.
fn document_config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// Encrypts `doc` for the test key, writes it with `kind`'s store, reads it
/// back and decrypts it.
fn encrypted_round_trip(kind: Kind, doc: &Map) -> Result<(String, Map), TestCaseError> {
    let (recipient, ids) = test_identity();
    let store = kind.format().store(&StoreOptions::default());
    let settings = EncryptSettings {
        key_groups: vec![vec![MasterKey::Age(AgeKey::new(&recipient).unwrap())]],
        shamir_threshold: 0,
        rule: Some(EncryptionRule::default()),
        mac_only_encrypted: false,
        binary: false,
    };
    let encrypted = document::encrypt(vec![doc.clone()], settings).unwrap();
    let bytes = store
        .emit_encrypted(&encrypted.documents, &encrypted.metadata.to_map())
        .map_err(|e| TestCaseError::fail(format!("emit_encrypted: {e}")))?;
    let text = String::from_utf8(bytes.clone()).unwrap();
    let file = store
        .parse_encrypted(&bytes)
        .map_err(|e| TestCaseError::fail(format!("parse_encrypted: {e}\n{text}")))?;
    for stored in &file.documents {
        leaves_encrypted(&Value::Map(stored.clone()), "")
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
    }
    let metadata = Metadata::from_map(&file.metadata.unwrap()).unwrap();
    let back = EncryptedDocument::new(file.documents, metadata);
    let mut keys = KeyContext::with_age_identities(ids);
    let mut decrypted = back
        .decrypt(&mut keys, false)
        .map_err(|e| TestCaseError::fail(format!("decrypt: {e}\n{text}")))?;
    prop_assert_eq!(decrypted.documents.len(), 1);
    Ok((text, decrypted.documents.remove(0)))
}

/// Writes `doc` as a plaintext file of `kind` and reads it back.
fn plain_round_trip(kind: Kind, doc: &Map) -> Result<(String, Map), TestCaseError> {
    let store = kind.format().store(&StoreOptions::default());
    let plain = store
        .emit_plain(std::slice::from_ref(doc))
        .map_err(|e| TestCaseError::fail(format!("emit_plain: {e}")))?;
    let text = String::from_utf8_lossy(&plain).into_owned();
    let mut parsed = store
        .parse_plain(&plain)
        .map_err(|e| TestCaseError::fail(format!("parse_plain: {e}\n{text}")))?;
    prop_assert_eq!(parsed.len(), 1, "{}", text);
    Ok((text, parsed.remove(0)))
}

proptest! {
    #![proptest_config(document_config())]

    /// emit → parse of a plaintext file gives the same tree, up to sops'
    /// own reading of integral floats (`as_read_back`).
    #[test]
    fn plain_document_round_trip((kind, doc) in document()) {
        let (text, back) = plain_round_trip(kind, &doc)?;
        let want = map_as_read_back(kind, &doc);
        prop_assert!(same_map(&back, &want), "wrote\n{}\nread {:?}\nwant {:?}", text, back, want);
    }

    /// encrypt → emit → parse → decrypt gives the same tree, for YAML and
    /// JSON (encrypted floats keep their type: the plaintext says `float`;
    /// `_unencrypted` subtrees read back as plaintext does), the MAC
    /// verifies, and every leaf the rule encrypts was stored as `ENC[…]`.
    #[test]
    fn document_round_trip((kind, doc) in document()) {
        let (text, back) = encrypted_round_trip(kind, &doc)?;
        let want = as_decrypted(kind, &doc);
        prop_assert!(same_map(&back, &want), "wrote\n{}\nread {:?}\nwant {:?}", text, back, want);
    }
}

// ---------------------------------------------------------------------
// Cases the document generators found or must keep finding.
// ---------------------------------------------------------------------

/// `{outer: {key: value}}`.
fn nested(outer: &str, key: &str, value: Value) -> Map {
    let mut inner = Map::new();
    inner.push(key, value);
    let mut doc = Map::new();
    doc.push(outer, Value::Map(inner));
    doc
}

/// Asserts that `doc` survives both YAML round trips (a finding that once
/// made a generator leave something out).
fn assert_survives(doc: &Map) {
    for (name, round_trip) in [
        ("plain", plain_round_trip(Kind::Yaml, doc)),
        ("encrypted", encrypted_round_trip(Kind::Yaml, doc)),
    ] {
        match round_trip {
            Ok((_, back)) => assert!(
                same_map(&back, doc),
                "{name}: {doc:?} read back as {back:?}"
            ),
            Err(e) => panic!("{name}: {doc:?}: {e}"),
        }
    }
}

/// Found by `plain_document_round_trip` and `document_round_trip` while
/// enseal read raw LS and PS as content (yaml.v3 writes them as breaks).
#[test]
fn yaml_line_separator_in_key_reads_back() {
    let doc = nested("a", "\u{2028}a", Value::Str(String::new()));
    assert_survives(&doc);
}

/// Found by `plain_document_round_trip` (see above).
#[test]
fn yaml_line_separator_after_newline_reads_back() {
    let mut doc = Map::new();
    doc.push("a", Value::Str("\n\u{2028}".to_string()));
    assert_survives(&doc);
    let mut doc = Map::new();
    doc.push(
        "b",
        Value::Str("x \u{2029}\n\u{2028}  y\u{2028}".to_string()),
    );
    assert_survives(&doc);
    // As a key in a sequence item: a `? |2-` block whose content starts
    // with `|` after a separator line.
    let mut item = Map::new();
    item.push("\n\u{2028}|", Value::Str(String::new()));
    let mut doc = Map::new();
    doc.push("a", Value::List(vec![Value::Map(item)]));
    assert_survives(&doc);
}

/// What one generated value shows, for [`generators_cover_issue_16`].
fn features(
    value: &Value,
    depth: usize,
    kind: Kind,
    seen: &mut std::collections::BTreeSet<String>,
) {
    let mut note = |f: &str| {
        seen.insert(format!("{kind:?}:{f}"));
    };
    match value {
        Value::Map(m) if m.is_empty() => note(&format!("empty-map@{}", depth.min(3))),
        Value::List(l) if l.is_empty() => note(&format!("empty-list@{}", depth.min(3))),
        Value::Map(m) => map_features(m, depth, kind, seen),
        Value::List(l) => l.iter().for_each(|v| features(v, depth + 1, kind, seen)),
        Value::Int(i) => match *i {
            i64::MIN => note("i64::MIN"),
            i64::MAX => note("i64::MAX"),
            0 => note("int 0"),
            -1 => note("int -1"),
            i if i.unsigned_abs().abs_diff(1 << 53) <= 3 => note("int ±2^53"),
            _ => {}
        },
        Value::Float(x) => {
            let a = x.abs();
            if x.is_nan() {
                note("NaN");
            } else if x.is_infinite() {
                note("±Inf");
            } else if *x == 0.0 && x.is_sign_negative() {
                note("-0");
            } else if a != 0.0 && a < f64::MIN_POSITIVE {
                note("subnormal");
            } else if a >= 1e21 {
                note("float >= 1e21");
            } else if a != 0.0 && a < 1e-6 {
                note("float < 1e-6");
            } else if a >= 1e6 && x.fract() == 0.0 {
                note("integral float >= 1e6");
            } else if x.fract() == 0.0 {
                note("integral float < 1e6");
            } else if format!("{x:e}").len() >= 20 {
                note("17 significant digits");
            }
        }
        Value::Str(s) => {
            for (f, hit) in [
                ("non-BMP", s.chars().any(|c| c > '\u{FFFF}')),
                (
                    "combining mark",
                    s.chars()
                        .any(|c| ('\u{300}'..='\u{36F}').contains(&c) || c == '\u{20DD}'),
                ),
                (
                    "RTL",
                    s.chars()
                        .any(|c| ('\u{590}'..='\u{6FF}').contains(&c) || c == '\u{202E}'),
                ),
                ("U+FEFF", s.contains('\u{FEFF}')),
                (
                    "C0 control",
                    s.chars().any(|c| c < ' ' && !"\t\n\r".contains(c)),
                ),
                ("CRLF", s.contains("\r\n")),
                ("trailing newline", s.len() > 1 && s.ends_with('\n')),
                ("leading space", s.starts_with(' ')),
                ("tab", s.contains('\t')),
                ("multi-line", s.trim_end().contains('\n')),
                (
                    "YAML lookalike",
                    ["true", "~", "1e3", "0x1F", "2001-12-14"].contains(&s.as_str()),
                ),
            ] {
                if hit {
                    note(f);
                }
            }
        }
        _ => {}
    }
}

fn map_features(
    map: &Map,
    depth: usize,
    kind: Kind,
    seen: &mut std::collections::BTreeSet<String>,
) {
    let keys: Vec<&str> = map.entries().map(|(k, _)| k).collect();
    if keys.windows(2).any(|w| w[0] > w[1]) {
        seen.insert(format!("{kind:?}:unsorted keys"));
    }
    // Keys whose UTF-8 (byte) order and UTF-16 order disagree.
    let utf16 = |s: &str| s.encode_utf16().collect::<Vec<_>>();
    if keys
        .windows(2)
        .any(|w| (w[0] < w[1]) != (utf16(w[0]) < utf16(w[1])))
    {
        seen.insert(format!("{kind:?}:keys ordered differently as UTF-16"));
    }
    for (_, v) in map.entries() {
        features(v, depth + 1, kind, seen);
    }
}

/// The document generator produces what issue #16 asks for, in both
/// stores, within the 512 documents a default run of the two document
/// properties generates; and never NaN
/// or infinities in JSON (sops' JSON cannot hold them).
#[test]
fn generators_cover_issue_16() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = document();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..512 {
        let (kind, doc) = strategy.new_tree(&mut runner).unwrap().current();
        if doc.is_empty() {
            seen.insert(format!("{kind:?}:empty document"));
        }
        map_features(&doc, 0, kind, &mut seen);
    }
    let mut missing = Vec::new();
    for kind in [Kind::Yaml, Kind::Json] {
        let mut want = vec![
            "unsorted keys",
            "keys ordered differently as UTF-16",
            "empty document",
            "i64::MIN",
            "i64::MAX",
            "int 0",
            "int -1",
            "int ±2^53",
            "-0",
            "subnormal",
            "float >= 1e21",
            "float < 1e-6",
            "integral float >= 1e6",
            "integral float < 1e6",
            "17 significant digits",
            "non-BMP",
            "combining mark",
            "RTL",
            "U+FEFF",
            "C0 control",
            "CRLF",
            "trailing newline",
            "leading space",
            "tab",
            "multi-line",
            "YAML lookalike",
            "empty-map@1",
            "empty-map@2",
            "empty-map@3",
            "empty-list@1",
            "empty-list@2",
            "empty-list@3",
        ];
        if kind == Kind::Yaml {
            want.extend(["NaN", "±Inf"]);
        }
        missing.extend(
            want.into_iter()
                .map(|f| format!("{kind:?}:{f}"))
                .filter(|f| !seen.contains(f)),
        );
    }
    assert!(missing.is_empty(), "never generated: {missing:?}");
    for f in ["Json:NaN", "Json:±Inf"] {
        assert!(!seen.contains(f), "generated {f}");
    }
}

/// Found by `document_round_trip`: a clear-text negative zero was written
/// `-0` (as sops 3.11.0 writes it), which reads back as the int 0, so the
/// MAC over the float's text failed (exit 51; sops fails on its own file
/// alike). The encrypted-file writer spells it `-0.0`; decrypted output
/// keeps sops' `-0`.
#[test]
fn yaml_clear_text_negative_zero_reads_back_and_verifies() {
    let mut doc = Map::new();
    doc.push("x_unencrypted", Value::Float(-0.0));
    let (text, back) = encrypted_round_trip(Kind::Yaml, &doc).unwrap();
    assert!(text.contains("x_unencrypted: -0.0\n"), "{text}");
    assert!(same_map(&back, &as_decrypted(Kind::Yaml, &doc)), "{back:?}");
}

/// The same value encrypted decrypts with its sign (the plaintext says
/// `float` and `-0`), and in JSON clear text `-0` stays a float.
#[test]
fn negative_zero_survives_where_it_can() {
    let mut doc = Map::new();
    doc.push("x", Value::Float(-0.0));
    let (_, back) = encrypted_round_trip(Kind::Yaml, &doc).unwrap();
    assert!(same_map(&back, &doc), "{back:?}");
    let mut doc = Map::new();
    doc.push("x_unencrypted", Value::Float(-0.0));
    let (text, back) = encrypted_round_trip(Kind::Json, &doc).unwrap();
    assert!(text.contains("\"x_unencrypted\": -0,"), "{text}");
    assert!(same_map(&back, &doc), "{back:?}");
}

/// Found while modelling the plain round trip: encoding/json writes an
/// integral float in its shortest digits padded with zeros, so the int it
/// reads back as (enseal, like sops 3.13, keeps int64) is not the float's
/// exact value, though it converts back to the same float.
#[test]
fn json_integral_float_reads_back_as_the_int_it_spells() {
    let x = 32_402_920_821_857_808.0_f64;
    let mut doc = Map::new();
    doc.push("a", Value::Float(x));
    let (text, back) = plain_round_trip(Kind::Json, &doc).unwrap();
    assert!(text.contains("\"a\": 32402920821857810"), "{text}");
    assert_eq!(back.get("a"), Some(&Value::Int(32_402_920_821_857_810)));
    assert_eq!(32_402_920_821_857_810_i64 as f64, x);
    assert!(same_map(&back, &map_as_read_back(Kind::Json, &doc)));
}

//! No plaintext in parser errors, found generatively: for every format,
//! invalid documents are built from a grammar of malformations around a
//! planted secret (random per case) in values and comments, read with the
//! library's stores (plaintext and encrypted readers), and the error's
//! `Display` and `Debug` are searched for the secret. A sample of the same
//! documents goes through `enseal encrypt` (normal and format-preserving
//! mode) and its stdout and stderr are searched the same way.
//!
//! Keys and section names are not secret (they stay readable in the
//! encrypted file), so the secret is only ever planted where a value or a
//! comment is.

mod common;

use common::*;
use enseal::format::{FormatKind, StoreOptions};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// A planted secret: `hunter2SECRET` and a random tail. A message leaks it
/// when it holds any of the three parts (so that one edit inside the
/// secret, which splits it in two, does not hide a leak).
#[derive(Debug, Clone)]
struct Secret {
    tail: String,
}

impl Secret {
    fn text(&self) -> String {
        format!("hunter2SECRET{}", self.tail)
    }

    /// The part of `output` that gives the secret away, if any.
    fn found_in(&self, output: &str) -> Option<String> {
        ["hunter2", "SECRET", self.tail.as_str()]
            .into_iter()
            .find(|part| output.contains(part))
            .map(String::from)
    }
}

fn secret() -> impl Strategy<Value = Secret> {
    "[a-z0-9]{10}".prop_map(|tail| Secret { tail })
}

/// Characters that break documents of every format when put in the wrong place.
const BREAKERS: &[char] = &[
    '[', ']', '{', '}', ':', ',', '-', '?', '*', '&', '!', '|', '>', '\'', '"', '%', '@', '`',
    '\t', '#', ';', '=', '\\', '\n', ' ', '.',
];

/// One edit of a document: at a position (as a fraction of its length),
/// insert a breaker, delete a character, or cut the document there.
#[derive(Debug, Clone)]
enum Edit {
    Insert(u16, usize),
    Delete(u16),
    Cut(u16),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (any::<u16>(), 0..BREAKERS.len()).prop_map(|(at, c)| Edit::Insert(at, c)),
        2 => any::<u16>().prop_map(Edit::Delete),
        1 => any::<u16>().prop_map(Edit::Cut),
    ]
}

fn apply(text: &str, edit: &Edit) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = |f: u16| (f as usize * chars.len()) / (u16::MAX as usize + 1);
    let mut out = chars.clone();
    match *edit {
        Edit::Insert(f, c) => out.insert(at(f), BREAKERS[c]),
        Edit::Delete(f) if !out.is_empty() => {
            out.remove(at(f));
        }
        Edit::Delete(_) => {}
        Edit::Cut(f) => out.truncate(at(f)),
    }
    out.into_iter().collect()
}

/// Valid documents of each format with the secret `S` in values and comments.
fn bases(kind: FormatKind, s: &str) -> Vec<String> {
    match kind {
        FormatKind::Yaml => vec![
            format!("user: alice\npassword: {s}\n# {s}\napi:\n    token: \"{s}\" # {s}\nlist:\n    - {s}\n    - '{s}'\n"),
            format!("a: |\n    {s}\n    more\nb: >-\n    {s}\nc: {{x: {s}, y: [{s}, 1]}}\n"),
            format!("anchor: &x {s}\ncopy: *x\nmerged:\n    <<: {{k: {s}}}\n"),
        ],
        FormatKind::Json => vec![
            format!("{{\n    \"user\": \"alice\",\n    \"password\": \"{s}\",\n    \"api\": {{\"token\": \"{s}\"}},\n    \"list\": [\"{s}\", 1, true, null]\n}}\n"),
        ],
        FormatKind::Dotenv => vec![
            format!("USER=alice\n# {s}\nPASSWORD={s}\nTOKEN={s}\n"),
        ],
        FormatKind::Ini => vec![
            format!("; {s}\n[database]\nuser = alice\npassword = {s} ; {s}\n\n[api]\ntoken = \"{s}\"\nlong = \"\"\"{s}\nmore\"\"\"\n"),
        ],
        FormatKind::Toml => vec![
            format!("# {s}\nuser = \"alice\"\npassword = \"{s}\" # {s}\n\n[api]\ntoken = '{s}'\nlist = [\"{s}\", 1]\nml = \"\"\"\n{s}\n\"\"\"\ninline = {{ k = \"{s}\" }}\n"),
        ],
        FormatKind::Binary => vec![
            format!("{{\n\t\"data\": \"{s}\",\n\t\"sops\": {{\"mac\": \"{s}\"}}\n}}"),
        ],
    }
}

/// Hand-written malformations of each format, with the secret `S` where a
/// value or a comment is. Numbers use `N`, a secret made of digits.
fn templates(kind: FormatKind, s: &str, n: &str) -> Vec<String> {
    match kind {
        FormatKind::Yaml => vec![
            format!("a: !!int {s}\n"),
            format!("a: !!float {s}\n"),
            format!("a: !!bool {s}\n"),
            format!("a: !!null {s}\n"),
            format!("a: !!timestamp {s}\n"),
            format!("a: !!int \"{s}\"\n"),
            format!("list:\n    - !!bool {s}\n"),
            format!("a: {n}\n"),
            format!("a: [1, {n}]\n"),
            format!("{s}\n"),
            format!("\"{s}\"\n"),
            format!("--- {s}\n"),
            format!("- {s}\n"),
            format!("a: {s}\n b: 1\n"),
            format!("a: [{s}\n"),
            format!("a: {{b: {s}\n"),
            format!("a: \"{s}\n"),
            format!("a: '{s}\n"),
            format!("a: \"{s}\\q\"\n"),
            format!("a: {s}: b\n"),
            format!("a: {s}\n  - x\n"),
            format!("# {s}\na: 1\n- b\n"),
            format!("a: 1 # {s}\n\tb: 2\n"),
            format!("a: &x {s}\nb: *y\n"),
            format!("a: {s}\na: {s}\n"),
            format!("a: @{s}\n"),
            format!("a: `{s}\n"),
            format!("a: !!binary {s}!\n"),
            format!("a: |\n    {s}\n  b: c\n"),
            format!("a: {s}\n%YAML 1.1\n"),
            format!("a: {s}\n...\nb\n"),
            format!("a: !<{s}> x\n"),
            format!("a: !{s}!x y\n"),
            format!("a:\n    <<: {s}\n"),
            format!("? [{s}]\n: x\n"),
            format!("? {{k: {s}}}\n: x\n"),
            format!("[{s}, x]: 1\n"),
        ],
        FormatKind::Json => vec![
            format!("\"{s}\""),
            format!("{n}"),
            format!("{{\"a\": {s}}}"),
            format!("{{\"a\": \"{s}}}"),
            format!("{{\"a\": \"{s}\\q\"}}"),
            format!("{{\"a\": \"{s}\"\n\"b\": 1}}"),
            format!("{{\"a\": \"{s}\", }}"),
            format!("{{\"a\": [\"{s}\", ]}}"),
            format!("{{\"a\": 1{n}e999}}"),
            format!("{{\"a\": -{n}e999}}"),
            format!("{{\"a\": \"{s}\"}} \"{s}\""),
            format!("{{\"a\": \"{s}\"}}{{"),
            format!("[\"{s}\"]"),
            format!("{{\"a\": \"{s}\u{1}\"}}"),
            format!("{{\"sops\": \"{s}\"}}"),
            format!("{{\"sops\": [\"{s}\"]}}"),
        ],
        FormatKind::Dotenv => vec![
            format!("PASSWORD {s}\n"),
            format!("A=1\nPASSWORD {s}\n"),
            format!("{s}\n"),
            format!("# {s}\nBAD LINE {s}\n"),
            format!("A=1\n   {s}\n"),
            format!("A=1\nexport TOKEN:{s}\n"),
        ],
        FormatKind::Ini => vec![
            format!("[s]\nPASSWORD {s}\n"),
            format!("PASSWORD {s}\n"),
            format!("[s]\n={s}\n"),
            format!("[s]\n: {s}\n"),
            format!("[s]\n\"PASSWORD {s}\n"),
            format!("[s]\n\"PASSWORD\" {s}\n"),
            format!("[s]\n`KEY {s}\n"),
            format!("[s]\nk = \"\"\"{s}\nmore {s}\n"),
            format!("[s ; {s}\nk = v\n"),
            format!("[sec # {s}\n"),
            format!("[]\nk = {s}\n"),
            format!("; {s}\n[s]\nbad line\n"),
            format!("[s]\nk = {s} \\\nPASSWORD {s}\n"),
        ],
        FormatKind::Toml => vec![
            format!("a = \"{s}\n"),
            format!("a = {s}\n"),
            format!("a = '{s}\n"),
            format!("a = \"\"\"{s}\n"),
            format!("a = '''{s}\n"),
            format!("a = [\"{s}\"\n"),
            format!("a = {{ b = \"{s}\"\n"),
            format!("a = {{ b = {s} }}\n"),
            format!("a = \"{s}\"\na = \"{s}\"\n"),
            format!("a = \"{s}\\q\"\n"),
            format!("a = \"{s}\" # {s}\n[\n"),
            format!("a = \"{s}\" \"{s}\"\n"),
            format!("a = 1{s}\n"),
            format!("a = {n}{n}\n"),
            format!("a = 2024-13-01{s}\n"),
            format!("a = \"{s}\u{1}\"\n"),
            format!("# {s}\u{1}\na = 1\n"),
            format!("a = [1, \"{s}\"]\na.b = 1\n"),
            format!("[a]\nb = \"{s}\"\n[a]\n"),
        ],
        FormatKind::Binary => vec![
            format!("{{\"data\": \"{s}"),
            format!("{{\"data\": {s}}}"),
            format!("\"{s}\""),
            format!("{{\"data\": \"{s}\", \"sops\": \"{s}\"}}"),
        ],
    }
}

const KINDS: [FormatKind; 6] = [
    FormatKind::Yaml,
    FormatKind::Json,
    FormatKind::Dotenv,
    FormatKind::Ini,
    FormatKind::Toml,
    FormatKind::Binary,
];

/// A secret number that is a signed-64-bit overflow for YAML (an unsigned
/// integer), and a float overflow in JSON and TOML with an exponent.
fn number() -> impl Strategy<Value = String> {
    (9_223_372_036_854_775_808u64..=u64::MAX).prop_map(|n| n.to_string())
}

/// One invalid (or at least suspicious) document of `kind` with its secret.
fn case(kind: FormatKind) -> impl Strategy<Value = (String, Secret, String)> {
    (
        secret(),
        number(),
        any::<prop::sample::Index>(),
        any::<bool>(),
        prop::collection::vec(edit(), 0..=2),
    )
        .prop_map(move |(secret, n, pick, from_base, edits)| {
            let s = secret.text();
            let mut docs = templates(kind, &s, &n);
            if from_base || edits.is_empty() {
                docs.extend(bases(kind, &s));
            }
            let mut doc = pick.get(&docs).clone();
            for e in &edits {
                doc = apply(&doc, e);
            }
            (doc, secret, n)
        })
}

/// Reads `doc` as plaintext and as an encrypted file: every error's
/// `Display` and `Debug` must be free of the secret (and the number).
fn check_library(
    kind: FormatKind,
    doc: &str,
    secret: &Secret,
    n: &str,
) -> Result<(), TestCaseError> {
    let store = kind.store(&StoreOptions::default());
    let errors = [
        store.parse_plain(doc.as_bytes()).err(),
        store.parse_encrypted(doc.as_bytes()).err(),
    ];
    for error in errors.into_iter().flatten() {
        let shown = format!("{error}\n{error:?}");
        if let Some(part) = secret.found_in(&shown) {
            return Err(TestCaseError::fail(format!(
                "{} error holds {part:?} of the planted secret\ninput: {doc:?}\nerror: {shown}",
                kind.name()
            )));
        }
        prop_assert!(
            !shown.contains(n),
            "{} error holds the planted number {}\ninput: {:?}\nerror: {}",
            kind.name(),
            n,
            doc,
            shown
        );
    }
    Ok(())
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// Every hand-written malformation, read by the library (no randomness
/// beyond the secret: each template is checked once).
#[test]
fn every_malformation_template_keeps_the_secret_out_of_the_library_error() {
    let secret = Secret {
        tail: "q7w8e9r0t1".into(),
    };
    let n = "18446744073709551615";
    let mut failures = Vec::new();
    let mut errors = 0;
    for kind in KINDS {
        for doc in templates(kind, &secret.text(), n) {
            let store = kind.store(&StoreOptions::default());
            let plain = store.parse_plain(doc.as_bytes()).err();
            let encrypted = store.parse_encrypted(doc.as_bytes()).err();
            for error in [plain, encrypted].into_iter().flatten() {
                errors += 1;
                let shown = format!("{error} {error:?}");
                if secret.found_in(&shown).is_some() || shown.contains(n) {
                    failures.push(format!("{}: {doc:?}\n    -> {error}", kind.name()));
                }
            }
        }
    }
    // The templates must really be errors, or this test checks nothing.
    assert!(errors > 100, "only {errors} errors from the templates");
    assert!(
        failures.is_empty(),
        "{} errors show the planted secret:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Random malformations (templates and edits of valid documents) of every
/// format, read by the library.
#[test]
fn random_malformations_keep_the_secret_out_of_the_library_error() {
    for kind in KINDS {
        let errors = std::cell::Cell::new(0u32);
        runner(400)
            .run(&case(kind), |(doc, secret, n)| {
                let store = kind.store(&StoreOptions::default());
                if store.parse_plain(doc.as_bytes()).is_err()
                    || store.parse_encrypted(doc.as_bytes()).is_err()
                {
                    errors.set(errors.get() + 1);
                }
                check_library(kind, &doc, &secret, &n)
            })
            .unwrap_or_else(|e| panic!("{e}"));
        // Most generated documents must be invalid, or the test is weak.
        let errors = errors.get();
        if kind != FormatKind::Binary {
            assert!(
                errors > 100,
                "{}: only {errors} of 400 documents failed",
                kind.name()
            );
        }
    }
}

fn extension(kind: FormatKind) -> &'static str {
    match kind {
        FormatKind::Yaml => "yaml",
        FormatKind::Json => "json",
        FormatKind::Dotenv => "env",
        FormatKind::Ini => "ini",
        FormatKind::Toml => "toml",
        FormatKind::Binary => "bin",
    }
}

/// A sample of the random malformations through `enseal encrypt`, in the
/// normal and the format-preserving mode: no part of the secret in stdout
/// or stderr, and never a panic.
#[test]
fn random_malformations_keep_the_secret_out_of_encrypt_output() {
    let sb = Sandbox::new();
    let recipient = recipient(1);
    let failed_runs = std::cell::Cell::new(0u32);
    for kind in [
        FormatKind::Yaml,
        FormatKind::Json,
        FormatKind::Dotenv,
        FormatKind::Ini,
        FormatKind::Toml,
    ] {
        runner(12)
            .run(
                &(case(kind), any::<bool>()),
                |((doc, secret, n), preserve)| {
                    let file = sb.write(&format!("in.{}", extension(kind)), &doc);
                    let mut cmd = sb.enseal();
                    cmd.args(["encrypt", "--age", &recipient]);
                    if preserve {
                        cmd.arg("--preserve-format");
                    }
                    let out = run(cmd.arg(&file));
                    if out.code == Some(0) {
                        return Ok(());
                    }
                    failed_runs.set(failed_runs.get() + 1);
                    let all = format!("{}{}", out.out(), out.err());
                    prop_assert!(!all.contains("panicked"), "panic on {:?}:\n{}", doc, all);
                    if let Some(part) = secret.found_in(&all) {
                        return Err(TestCaseError::fail(format!(
                        "encrypt output holds {part:?} of the secret\ninput: {doc:?}\noutput: {all}"
                    )));
                    }
                    prop_assert!(!all.contains(&n), "number shown for {:?}:\n{}", doc, all);
                    Ok(())
                },
            )
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let failed_runs = failed_runs.get();
    assert!(failed_runs > 20, "only {failed_runs} runs failed");
}

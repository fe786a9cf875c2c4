//! Every golden that is said to be the reference's output is re-derived here
//! with the reference sops 3.11.0, and any difference fails the test:
//!
//! * `testdata/{yaml,json,dotenv,ini}/NAME.expected.EXT` must equal the
//!   reference's `sops decrypt (sops encrypt NAME.EXT)`;
//! * `testdata/reference/NAME.enc.EXT` must be files the reference wrote
//!   (`version: 3.11.0`) that it decrypts, MAC verified, to `NAME.dec.EXT`;
//! * `testdata/reference/extract/NAME.out` must equal the reference's
//!   `sops decrypt --extract PATH`;
//! * the encrypted layout fixtures of `testdata/encrypted-fixtures/recipes.tsv`
//!   must be files the reference wrote (`version: 3.11.0`) for the public test
//!   keys that it decrypts, MAC verified, to what it gives for its own
//!   `decrypt (encrypt input)` with the recipe, with the same layout as a fresh
//!   encryption and the metadata settings the recipe lists.
//!
//! `scripts/regen-goldens` writes all of them. In CI a missing reference is a
//! failure (see `require_sops`).

mod common;

use common::*;
use enseal::format::{FormatKind, StoreOptions};
use enseal::tree::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The plaintext inputs of one golden folder, each with its expected output.
fn golden_pairs(dir: &str) -> Vec<(PathBuf, PathBuf)> {
    let dir = testdata(dir);
    let mut pairs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            let (stem, ext) = name.rsplit_once('.')?;
            if stem.ends_with(".expected") || name == "README.md" {
                return None;
            }
            let expected = dir.join(format!("{stem}.expected.{ext}"));
            Some((p, expected))
        })
        .collect();
    pairs.sort();
    pairs
}

/// The reference's `decrypt (encrypt input)`, the input keeping its own name
/// (the reference picks the store from the extension).
fn reference_round_trip(sops: &Path, input: &Path) -> Result<Vec<u8>, String> {
    let sb = Sandbox::new();
    let name = input.file_name().unwrap().to_str().unwrap();
    let local = sb.copy(input, name);
    let enc = run(sb
        .sops(sops)
        .args(["encrypt", "--age", &recipient(1)])
        .arg(&local));
    if enc.code != Some(0) {
        return Err(format!("sops encrypt: exit {:?}: {}", enc.code, enc.err()));
    }
    let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
    let enc_path = sb.write(&format!("enc.{ext}"), &enc.stdout);
    let dec = run(sb
        .sops(sops)
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .arg("decrypt")
        .arg(&enc_path));
    if dec.code != Some(0) {
        return Err(format!("sops decrypt: exit {:?}: {}", dec.code, dec.err()));
    }
    Ok(dec.stdout)
}

#[test]
fn expected_goldens_are_the_references_round_trips() {
    let Some(sops) = require_sops() else { return };
    let mut failures = Vec::new();
    let mut total = 0;
    for dir in ["yaml", "json", "dotenv", "ini"] {
        let pairs = golden_pairs(dir);
        assert!(
            pairs.len() >= 10,
            "testdata/{dir}: only {} pairs",
            pairs.len()
        );
        for (input, expected) in pairs {
            total += 1;
            let label = input
                .strip_prefix(crate_dir())
                .unwrap()
                .display()
                .to_string();
            let r = catch(&label, || {
                let want =
                    std::fs::read(&expected).map_err(|e| format!("{}: {e}", expected.display()))?;
                let got = reference_round_trip(&sops, &input)?;
                diff_bytes("reference decrypt(encrypt(input))", &want, &got)
            });
            if let Err(e) = r {
                failures.push(e);
            }
        }
    }
    assert!(total >= 100, "only {total} golden pairs");
    report(
        "golden pairs re-derived with the reference",
        total,
        failures,
    );
}

#[test]
fn reference_fixtures_decrypt_to_their_goldens_with_the_reference() {
    let Some(sops) = require_sops() else { return };
    let mut failures = Vec::new();
    for case in cases() {
        let r = catch(&case.name, || {
            let enc = std::fs::read_to_string(case.enc_fixture())
                .map_err(|e| format!("{}: {e}", case.enc_fixture().display()))?;
            if !enc.contains("3.11.0") {
                return Err("the fixture does not carry the reference's version 3.11.0".into());
            }
            let want = std::fs::read(case.dec_fixture()).map_err(|e| e.to_string())?;
            let out = run(sops_with_key(&sops).arg("decrypt").arg(case.enc_fixture()));
            if out.code != Some(0) {
                return Err(format!("sops decrypt: exit {:?}: {}", out.code, out.err()));
            }
            diff_bytes("sops decrypt", &want, &out.stdout)
        });
        if let Err(e) = r {
            failures.push(e);
        }
    }
    report("reference fixtures", cases().len(), failures);
}

#[test]
fn extract_goldens_are_the_references_output() {
    let Some(sops) = require_sops() else { return };
    let table = std::fs::read_to_string(reference("extracts.tsv")).expect("extracts.tsv");
    let mut failures = Vec::new();
    let mut total = 0;
    for line in table.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 3, "extracts.tsv: bad line {line:?}");
        let (name, case, path) = (cols[0], cols[1], cols[2]);
        total += 1;
        let case = cases()
            .iter()
            .find(|c| c.name == case)
            .unwrap_or_else(|| panic!("extracts.tsv: unknown case {case}"));
        let r = catch(name, || {
            let want = std::fs::read(reference(&format!("extract/{name}.out")))
                .map_err(|e| e.to_string())?;
            let out = run(sops_with_key(&sops)
                .args(["decrypt", "--extract", path])
                .arg(case.enc_fixture()));
            if out.code != Some(0) {
                return Err(format!("sops: exit {:?}: {}", out.code, out.err()));
            }
            diff_bytes(&format!("sops --extract '{path}'"), &want, &out.stdout)
        });
        if let Err(e) = r {
            failures.push(e);
        }
    }
    assert!(total > 0, "extracts.tsv is empty");
    report("extract goldens", total, failures);
}

fn sops_with_key(sops: &Path) -> std::process::Command {
    let mut cmd = common::sops(sops);
    cmd.env("SOPS_AGE_KEY_FILE", key_file(1));
    cmd
}

/// One line of `testdata/encrypted-fixtures/recipes.tsv`.
struct Recipe {
    /// The fixture, relative to the repository root.
    output: String,
    /// Its plaintext input, relative to the repository root.
    input: String,
    /// A `.sops.yaml` template given as `--config`, if any.
    config: Option<String>,
    /// The reference command line, with placeholders.
    args: Vec<String>,
    /// The metadata settings the fixture must carry, sorted.
    metadata: Vec<(String, String)>,
}

/// The metadata keys that record how a file was encrypted; a fixture carries
/// exactly the ones its recipe lists.
const SETTINGS: [&str; 8] = [
    "shamir_threshold",
    "encrypted_regex",
    "unencrypted_regex",
    "encrypted_suffix",
    "unencrypted_suffix",
    "encrypted_comment_regex",
    "unencrypted_comment_regex",
    "mac_only_encrypted",
];

const RECIPES: &str = "encrypted-fixtures/recipes.tsv";

/// The folders whose every file is an encrypted layout fixture.
const ENCRYPTED_DIRS: [&str; 5] = [
    "yaml-enc",
    "json/encrypted",
    "dotenv/encrypted",
    "ini/encrypted",
    "binary",
];

fn recipes() -> Vec<Recipe> {
    let text = std::fs::read_to_string(testdata(RECIPES)).expect("recipes.tsv");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 5, "{RECIPES}: bad line {line:?}");
            let mut metadata: Vec<(String, String)> = cols[4]
                .split(' ')
                .map(|kv| {
                    let (k, v) = kv
                        .split_once('=')
                        .unwrap_or_else(|| panic!("{RECIPES}: bad metadata {kv:?}"));
                    (k.to_string(), v.to_string())
                })
                .collect();
            metadata.sort();
            Recipe {
                output: cols[0].to_string(),
                input: cols[1].to_string(),
                config: (cols[2] != "-").then(|| cols[2].to_string()),
                args: cols[3].split(' ').map(str::to_string).collect(),
                metadata,
            }
        })
        .collect()
}

/// `text` with `{R1}` `{R2}` `{R3}` replaced by the recipients of test keys
/// 1 and 2 and of the demo key.
fn with_recipients(text: &str) -> String {
    text.replace("{R1}", &recipient(1))
        .replace("{R2}", &recipient(2))
        .replace("{R3}", &recipient_of(&demo_key_file()))
}

/// A key file in `sb` with the three keys (a file with two key groups needs
/// a key of each).
fn all_keys(sb: &Sandbox) -> PathBuf {
    let mut keys = Vec::new();
    for path in [key_file(1), key_file(2), demo_key_file()] {
        keys.extend(std::fs::read(&path).expect("read key file"));
    }
    let path = sb.root().join("all-keys.txt");
    std::fs::write(&path, keys).expect("write key file");
    path
}

/// The reference's `sops decrypt` of `file` with all three keys.
fn reference_decrypt(sops: &Path, sb: &Sandbox, file: &Path) -> Result<Vec<u8>, String> {
    let out = run(sb
        .sops(sops)
        .env("SOPS_AGE_KEY_FILE", all_keys(sb))
        .arg("decrypt")
        .arg(file));
    if out.code != Some(0) {
        return Err(format!(
            "sops decrypt {}: exit {:?}: {}",
            file.display(),
            out.code,
            out.err()
        ));
    }
    Ok(out.stdout)
}

/// A fresh encryption of the recipe's input by the reference, in `sb`.
fn reference_encrypt(sops: &Path, sb: &Sandbox, recipe: &Recipe) -> Result<PathBuf, String> {
    let input = crate_dir().join(&recipe.input);
    let name = input.file_name().unwrap().to_str().unwrap().to_string();
    sb.copy(&input, &name);
    let config = sb.root().join("config.yaml");
    if let Some(template) = &recipe.config {
        let text = std::fs::read_to_string(crate_dir().join(template))
            .map_err(|e| format!("{template}: {e}"))?;
        std::fs::write(&config, with_recipients(&text)).expect("write config");
    }
    let argv: Vec<String> = recipe
        .args
        .iter()
        .map(|a| {
            with_recipients(a)
                .replace("{IN}", &name)
                .replace("{CONFIG}", config.to_str().unwrap())
        })
        .collect();
    let out = run(sb.sops(sops).args(&argv));
    if out.code != Some(0) {
        return Err(format!("sops {argv:?}: exit {:?}: {}", out.code, out.err()));
    }
    let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
    Ok(sb.write(&format!("fresh.{ext}"), &out.stdout))
}

/// [`normalize_encrypted`] that also keeps the length of every encrypted
/// value (the length of its plaintext).
fn layout(text: &str) -> String {
    static ENC: OnceLock<regex::Regex> = OnceLock::new();
    let enc = ENC.get_or_init(|| {
        regex::Regex::new(r"ENC\[AES256_GCM,data:([A-Za-z0-9+/=]*),iv:[A-Za-z0-9+/=]*,tag:[A-Za-z0-9+/=]*,type:([a-z]+)\]")
            .expect("regex")
    });
    let sized = enc.replace_all(text, |c: &regex::Captures| {
        format!("ENC[length:{},type:{}]", c[1].len(), &c[2])
    });
    normalize_encrypted(&sized)
}

/// A metadata value as the recipe table writes it.
fn setting_text(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => b.to_string(),
        other => format!("{other:?}"),
    }
}

/// The number of entries of the list `key` of `map` (0 when absent).
fn list_len(map: &Map, key: &str) -> usize {
    match map.get(key) {
        Some(Value::List(items)) => items.len(),
        _ => 0,
    }
}

/// The settings of `meta` in the recipe table's terms: `age` (recipients per
/// key group, `|`-separated) and every [`SETTINGS`] key present.
fn metadata_settings(meta: &Map) -> Vec<(String, String)> {
    let age = match meta.get("key_groups") {
        Some(Value::List(groups)) => groups
            .iter()
            .map(|g| match g {
                Value::Map(group) => list_len(group, "age").to_string(),
                other => format!("{other:?}"),
            })
            .collect::<Vec<_>>()
            .join("|"),
        _ => list_len(meta, "age").to_string(),
    };
    let mut settings = vec![("age".to_string(), age)];
    for key in SETTINGS {
        if let Some(v) = meta.get(key) {
            settings.push((key.to_string(), setting_text(v)));
        }
    }
    settings.sort();
    settings
}

fn check_recipe(sops: &Path, recipe: &Recipe) -> Result<(), String> {
    let fixture = crate_dir().join(&recipe.output);
    let committed = std::fs::read(&fixture).map_err(|e| format!("{}: {e}", fixture.display()))?;
    let store = FormatKind::from_path(&recipe.output).store(&StoreOptions::default());
    let meta = store
        .parse_encrypted(&committed)
        .map_err(|e| format!("parse: {e}"))?
        .metadata
        .ok_or("no sops metadata")?;
    if meta.get("version").and_then(Value::as_str) != Some("3.11.0") {
        return Err(format!(
            "the fixture does not carry the reference's version 3.11.0: {:?}",
            meta.get("version")
        ));
    }
    let settings = metadata_settings(&meta);
    if settings != recipe.metadata {
        return Err(format!(
            "metadata settings {settings:?}, the recipe says {:?}",
            recipe.metadata
        ));
    }

    let sb = Sandbox::new();
    let got = reference_decrypt(sops, &sb, &fixture)?;
    let fresh = reference_encrypt(sops, &sb, recipe)?;
    let want = reference_decrypt(sops, &sb, &fresh)?;
    diff_bytes(
        "reference decrypt (fixture) vs decrypt (encrypt (input))",
        &want,
        &got,
    )?;
    let fresh_text = std::fs::read(&fresh).expect("read fresh encryption");
    diff_bytes(
        "layout of the fixture vs a fresh encryption",
        layout(&String::from_utf8_lossy(&fresh_text)).as_bytes(),
        layout(&String::from_utf8_lossy(&committed)).as_bytes(),
    )
}

#[test]
fn encrypted_fixtures_are_the_references_for_their_recipes() {
    let Some(sops) = require_sops() else { return };
    let recipes = recipes();
    let mut failures = Vec::new();
    for recipe in &recipes {
        if let Err(e) = catch(&recipe.output, || check_recipe(&sops, recipe)) {
            failures.push(e);
        }
    }
    assert!(recipes.len() >= 21, "only {} recipes", recipes.len());
    report("encrypted layout fixtures", recipes.len(), failures);
}

/// Every file of the encrypted layout folders has exactly one recipe, so no
/// fixture escapes the check above.
#[test]
fn every_encrypted_fixture_has_a_recipe() {
    let recipes = recipes();
    let mut outputs: Vec<&str> = recipes.iter().map(|r| r.output.as_str()).collect();
    outputs.sort_unstable();
    let before = outputs.len();
    outputs.dedup();
    assert_eq!(outputs.len(), before, "{RECIPES}: an output listed twice");
    let mut files = Vec::new();
    for dir in ENCRYPTED_DIRS {
        for entry in std::fs::read_dir(testdata(dir)).expect(dir) {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(crate_dir()).unwrap();
            files.push(rel.to_str().unwrap().to_string());
        }
    }
    files.sort();
    assert_eq!(
        outputs, files,
        "{RECIPES} vs the files of {ENCRYPTED_DIRS:?}"
    );
}

//! The bad-input catalogue: hundreds of malformed or hostile inputs run
//! through the real CLI. Every case must end with one of the exit codes
//! docs/spec/cli.md §10 documents for it (never a panic, abort or crash, never a
//! hang: each run is bounded in time and address space), print a short
//! error on stderr, and never echo a planted plaintext secret.
//!
//! The valid encrypted files the cases start from are made at run time by
//! `enseal encrypt` with public test key 1, then truncated, forged or
//! tampered with programmatically.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{enseal_bin, key_file, recipient, scrubbed, Sandbox};

/// A secret that appears in every plaintext and must never show on stderr.
const SECRET: &str = "PLANTED-s3cr3t-7f1e9c";

/// How long one run may take.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Address-space limit of each run (KiB): 2 GiB.
const MEMORY_KIB: u64 = 2 * 1024 * 1024;

/// Most lines an error report may have.
const MAX_STDERR_LINES: usize = 4;

/// Most lines of the data-key recovery report (one key group, one key).
const MAX_KEY_REPORT_LINES: usize = 10;

/// What a case runs.
#[derive(Clone)]
enum Cmd {
    /// `enseal decrypt FILE` with test key 1 available.
    Decrypt,
    /// `enseal decrypt --extract PATH FILE`.
    Extract(String),
    /// `enseal encrypt --age R FILE`.
    Encrypt,
    /// `enseal encrypt FILE` with this `.sops.yaml` in the working directory.
    EncryptWithConfig(Vec<u8>),
    /// `enseal rotate FILE` with test key 1 available.
    Rotate,
    /// `enseal filestatus FILE`.
    Filestatus,
}

struct Case {
    name: String,
    /// File name (its extension picks the store).
    file: String,
    data: Vec<u8>,
    cmd: Cmd,
    /// The exit codes allowed.
    codes: &'static [i32],
}

/// Exit codes of a damaged encrypted file being decrypted: unreadable or
/// invalid (1), undecryptable value (25), MAC problem (51), no usable key (128).
const DECRYPT_FAIL: &[i32] = &[1, 25, 51, 128];
/// Metadata damage that sops 3.11 lets pass (the file still decrypts).
const DECRYPT_LENIENT: &[i32] = &[0, 1, 25, 51, 128];
/// Metadata edits the reference accepts (so may we).
const SOPS_ACCEPTS: &[&str] = &[
    "version old",
    "age recipient is a number",
    "age recipient garbage",
    "shamir_threshold negative",
    "shamir_threshold larger than groups",
    "key_groups empty groups",
];
/// A plaintext that does not parse when encrypting (2); a stream without a
/// document (92).
const ENCRYPT_FAIL: &[i32] = &[2, 92];
/// A hostile but possibly valid plaintext: encrypting may succeed.
const ENCRYPT_ANY: &[i32] = &[0, 2, 23, 92];
/// Config errors are generic (1).
const CONFIG_FAIL: &[i32] = &[1];

// ---------------------------------------------------------------------------
// Plaintexts and their encryptions
// ---------------------------------------------------------------------------

fn plain_yaml() -> String {
    format!(
        "# top comment\napi_key: {SECRET}-yaml\nnested:\n    password: \"{SECRET}-pw\"\n    port: 5432\n    ratio: 0.25\n    on: true\nlist:\n    - {SECRET}-item\n    - 42\nplain_unencrypted: visible\n"
    )
}

fn plain_json() -> String {
    format!(
        "{{\n\t\"api_key\": \"{SECRET}-json\",\n\t\"nested\": {{\n\t\t\"password\": \"{SECRET}-pw\",\n\t\t\"port\": 5432,\n\t\t\"on\": true\n\t}},\n\t\"list\": [\"{SECRET}-item\", 1.5, null]\n}}\n"
    )
}

fn plain_env() -> String {
    format!("# comment\nAPI_KEY={SECRET}-env\nPASSWORD={SECRET}-pw\nPORT=5432\n")
}

fn plain_ini() -> String {
    format!("[database]\npassword = {SECRET}-ini\nport = 5432\n\n[api]\nkey = {SECRET}-key\n")
}

fn plain_bin() -> String {
    format!("binary blob with {SECRET}-bin\n\u{1}\u{2}\u{3}")
}

/// `enseal encrypt` of `plain` (extension `ext`) for test key 1.
fn encrypt_fixture(ext: &str, plain: &str) -> Vec<u8> {
    let sb = Sandbox::new();
    let name = format!("fixture.{ext}");
    let path = sb.write(&name, plain);
    let out = common::run(sb.enseal().args([
        "encrypt",
        "--age",
        &recipient(1),
        path.to_str().expect("utf-8 path"),
    ]))
    .ok();
    out.stdout
}

struct Fixtures {
    yaml: String,
    json: String,
    env: String,
    ini: String,
    bin: String,
}

fn fixtures() -> Fixtures {
    let text = |b: Vec<u8>| String::from_utf8(b).expect("encrypted files are UTF-8");
    Fixtures {
        yaml: text(encrypt_fixture("yaml", &plain_yaml())),
        json: text(encrypt_fixture("json", &plain_json())),
        env: text(encrypt_fixture("env", &plain_env())),
        ini: text(encrypt_fixture("ini", &plain_ini())),
        bin: text(encrypt_fixture("bin", &plain_bin())),
    }
}

// ---------------------------------------------------------------------------
// Case generators
// ---------------------------------------------------------------------------

struct Table(Vec<Case>);

impl Table {
    fn add(
        &mut self,
        name: impl Into<String>,
        file: &str,
        data: impl Into<Vec<u8>>,
        cmd: Cmd,
        codes: &'static [i32],
    ) {
        self.0.push(Case {
            name: name.into(),
            file: file.to_string(),
            data: data.into(),
            cmd,
            codes,
        });
    }
    fn decrypt(
        &mut self,
        name: impl Into<String>,
        file: &str,
        data: impl Into<Vec<u8>>,
        codes: &'static [i32],
    ) {
        self.add(name, file, data, Cmd::Decrypt, codes);
    }
    fn encrypt(
        &mut self,
        name: impl Into<String>,
        file: &str,
        data: impl Into<Vec<u8>>,
        codes: &'static [i32],
    ) {
        self.add(name, file, data, Cmd::Encrypt, codes);
    }
}

/// Truncations of a valid encrypted file at `n` offsets spread over it
/// (skipping cuts that only drop trailing whitespace, which leave a valid file).
fn truncations(t: &mut Table, label: &str, file: &str, text: &str, n: usize) {
    let bytes = text.as_bytes();
    let mut offsets: Vec<usize> = (0..n).map(|i| i * bytes.len() / n).collect();
    // Cuts right inside the metadata and right before the end.
    if let Some(p) = text.find("sops") {
        offsets.extend([p, p + 3]);
    }
    offsets.push(bytes.len().saturating_sub(2));
    offsets.sort_unstable();
    offsets.dedup();
    for off in offsets {
        if bytes[off..].iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        t.decrypt(
            format!("truncated {label} at {off}"),
            file,
            &bytes[..off],
            DECRYPT_FAIL,
        );
    }
}

/// Replace the first occurrence of `from` (which must exist) with `to`.
fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "fixture lacks {from:?}");
    text.replacen(from, to, 1)
}

/// The first `ENC[…]` value of a file.
fn first_enc(text: &str) -> &str {
    let start = text.find("ENC[AES256_GCM").expect("an ENC value");
    let end = start + text[start..].find(']').expect("closing bracket") + 1;
    &text[start..end]
}

/// The first `ENC[…]` value that comes after `marker`.
fn enc_after<'a>(text: &'a str, marker: &str) -> &'a str {
    let at = text.find(marker).expect("marker");
    first_enc(&text[at..])
}

fn b64(n: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(vec![0x5au8; n])
}

/// Forged `ENC[…]` strings put in place of a real value.
fn forged_values() -> Vec<(String, String)> {
    let good_iv = b64(32);
    let good_tag = b64(16);
    let data = b64(8);
    let mut v: Vec<(String, String)> = vec![
        ("empty fields".into(), "ENC[AES256_GCM,data:,iv:,tag:,type:str]".into()),
        ("no fields".into(), "ENC[AES256_GCM,]".into()),
        ("no closing bracket".into(), format!("ENC[AES256_GCM,data:{data},iv:{good_iv},tag:{good_tag},type:str")),
        ("other cipher".into(), format!("ENC[CHACHA20,data:{data},iv:{good_iv},tag:{good_tag},type:str]")),
        ("fields reordered".into(), format!("ENC[AES256_GCM,iv:{good_iv},data:{data},tag:{good_tag},type:str]")),
        ("missing type".into(), format!("ENC[AES256_GCM,data:{data},iv:{good_iv},tag:{good_tag}]")),
        ("unknown type".into(), format!("ENC[AES256_GCM,data:{data},iv:{good_iv},tag:{good_tag},type:evil]")),
        ("empty type".into(), format!("ENC[AES256_GCM,data:{data},iv:{good_iv},tag:{good_tag},type:]")),
        ("comment type on a value".into(), format!("ENC[AES256_GCM,data:{data},iv:{good_iv},tag:{good_tag},type:comment]")),
        ("extra field".into(), format!("ENC[AES256_GCM,data:{data},iv:{good_iv},tag:{good_tag},type:str,x:y]")),
        ("bad base64 data".into(), format!("ENC[AES256_GCM,data:!!!!,iv:{good_iv},tag:{good_tag},type:str]")),
        ("bad base64 iv".into(), format!("ENC[AES256_GCM,data:{data},iv:@@@@,tag:{good_tag},type:str]")),
        ("bad base64 tag".into(), format!("ENC[AES256_GCM,data:{data},iv:{good_iv},tag:%%%%,type:str]")),
        ("base64 bad padding".into(), format!("ENC[AES256_GCM,data:QUJD=,iv:{good_iv},tag:{good_tag},type:str]")),
        ("base64 url alphabet".into(), format!("ENC[AES256_GCM,data:ab-_,iv:{good_iv},tag:{good_tag},type:str]")),
        ("base64 with spaces".into(), format!("ENC[AES256_GCM,data:QU JD,iv:{good_iv},tag:{good_tag},type:str]")),
        ("huge data".into(), format!("ENC[AES256_GCM,data:{},iv:{good_iv},tag:{good_tag},type:str]", b64(1 << 20))),
        ("nested ENC".into(), format!("ENC[AES256_GCM,data:ENC[AES256_GCM,data:{data}],iv:{good_iv},tag:{good_tag},type:str]")),
    ];
    for n in [0usize, 1, 12, 16, 31, 33, 64, 4096] {
        v.push((
            format!("iv of {n} bytes"),
            format!(
                "ENC[AES256_GCM,data:{data},iv:{},tag:{good_tag},type:str]",
                b64(n)
            ),
        ));
    }
    for n in [0usize, 1, 15, 17, 32] {
        v.push((
            format!("tag of {n} bytes"),
            format!(
                "ENC[AES256_GCM,data:{data},iv:{good_iv},tag:{},type:str]",
                b64(n)
            ),
        ));
    }
    v
}

/// Changes to the YAML metadata: (name, from, to).
fn yaml_metadata_edits(enc: &str) -> Vec<(String, String)> {
    let sops_at = enc.find("\nsops:\n").expect("sops key") + 1;
    let (doc, meta) = enc.split_at(sops_at);
    let line_of = |field: &str| -> String {
        let at = meta
            .find(&format!("    {field}:"))
            .unwrap_or_else(|| panic!("no {field}"));
        let end = at + meta[at..].find('\n').expect("eol");
        meta[at..end].to_string()
    };
    let mut out = Vec::new();
    let mut edit = |name: &str, from: &str, to: &str| {
        out.push((
            format!("metadata: {name}"),
            format!("{doc}{}", replace_once(meta, from, to)),
        ));
    };
    let mac = line_of("mac");
    let lm = line_of("lastmodified");
    let version = line_of("version");
    edit("mac is a number", &mac, "    mac: 5");
    edit("mac is a list", &mac, "    mac: [1, 2]");
    edit("mac is a map", &mac, "    mac: {a: b}");
    edit("mac empty", &mac, "    mac: \"\"");
    edit("mac not ENC", &mac, "    mac: hello");
    edit(
        "mac bad base64",
        &mac,
        "    mac: ENC[AES256_GCM,data:***,iv:***,tag:***,type:str]",
    );
    edit("lastmodified is a number", &lm, "    lastmodified: 123");
    edit("lastmodified garbage", &lm, "    lastmodified: yesterday");
    edit(
        "lastmodified year 99999",
        &lm,
        "    lastmodified: \"99999-01-01T00:00:00Z\"",
    );
    edit("lastmodified is a list", &lm, "    lastmodified: []");
    edit(
        "lastmodified changed",
        &lm,
        "    lastmodified: \"2001-01-01T00:00:00Z\"",
    );
    edit("version is a bool", &version, "    version: true");
    edit("version old", &version, "    version: 1.0.0");
    edit("version garbage", &version, "    version: x.y.z");
    edit(
        "version huge",
        &version,
        "    version: 99999999999999999999999.0.0",
    );
    edit("version is a map", &version, "    version: {a: 1}");
    edit(
        "age is a string",
        "    age:\n",
        "    age: nope\n    age_was:\n",
    );
    edit(
        "age is a number",
        "    age:\n",
        "    age: 7\n    age_was:\n",
    );
    edit(
        "age recipient is a number",
        "recipient: age1",
        "recipient: 5\n          x_was: age1",
    );
    edit(
        "age recipient garbage",
        "recipient: age1",
        "recipient: notakey\n          x_was: age1",
    );
    edit(
        "age enc is a list",
        "enc: |",
        "enc: [1]\n          x_was: |",
    );
    edit(
        "age armor damaged",
        "-----BEGIN AGE ENCRYPTED FILE-----",
        "-----BEGIN AGE ENCRYPTED FILE-----\n            AAAA",
    );
    edit(
        "age armor end missing",
        "-----END AGE ENCRYPTED FILE-----",
        "",
    );
    edit(
        "shamir_threshold string",
        "\n    lastmodified",
        "\n    shamir_threshold: two\n    lastmodified",
    );
    edit(
        "shamir_threshold negative",
        "\n    lastmodified",
        "\n    shamir_threshold: -1\n    lastmodified",
    );
    edit(
        "shamir_threshold huge",
        "\n    lastmodified",
        "\n    shamir_threshold: 99999999999999999999999\n    lastmodified",
    );
    edit(
        "shamir_threshold larger than groups",
        "\n    lastmodified",
        "\n    shamir_threshold: 5\n    lastmodified",
    );
    edit(
        "key_groups is a number",
        "\n    lastmodified",
        "\n    key_groups: 5\n    lastmodified",
    );
    edit(
        "key_groups list of strings",
        "\n    lastmodified",
        "\n    key_groups: [a, b]\n    lastmodified",
    );
    edit(
        "key_groups empty groups",
        "\n    lastmodified",
        "\n    key_groups: [{}, {}]\n    lastmodified",
    );
    edit(
        "two encryption rules",
        "\n    lastmodified",
        "\n    encrypted_regex: x\n    encrypted_suffix: y\n    lastmodified",
    );
    edit(
        "encrypted_regex invalid",
        "\n    lastmodified",
        "\n    encrypted_regex: \"[\"\n    lastmodified",
    );
    edit(
        "unencrypted_regex invalid",
        "unencrypted_suffix: _unencrypted",
        "unencrypted_regex: \"(?P<\"",
    );
    edit(
        "unencrypted_suffix is a number",
        "unencrypted_suffix: _unencrypted",
        "unencrypted_suffix: 5",
    );
    edit(
        "mac_only_encrypted string",
        "\n    lastmodified",
        "\n    mac_only_encrypted: maybe\n    lastmodified",
    );
    edit("unknown key type", "\n    lastmodified", "\n    pgp:\n        - fp: 0000\n          created_at: x\n          enc: x\n    lastmodified");
    out.push((
        "metadata: sops is null".into(),
        format!("{doc}sops: null\n"),
    ));
    out.push((
        "metadata: sops is a list".into(),
        format!("{doc}sops: [1, 2]\n"),
    ));
    out.push((
        "metadata: sops is a string".into(),
        format!("{doc}sops: {SECRET}\n"),
    ));
    out.push((
        "metadata: sops is empty map".into(),
        format!("{doc}sops: {{}}\n"),
    ));
    out.push(("metadata: missing".into(), doc.to_string()));
    out.push(("metadata: twice".into(), format!("{doc}{meta}{meta}")));
    out
}

fn build_table(f: &Fixtures) -> Table {
    let mut t = Table(Vec::new());

    // 1. Truncated encrypted files of every format.
    truncations(&mut t, "yaml", "t.yaml", &f.yaml, 30);
    truncations(&mut t, "json", "t.json", &f.json, 30);
    truncations(&mut t, "dotenv", "t.env", &f.env, 20);
    truncations(&mut t, "ini", "t.ini", &f.ini, 20);
    truncations(&mut t, "binary", "t.bin", &f.bin, 12);

    // 2. Truncated plaintexts given to encrypt (some prefixes are valid).
    for (ext, plain) in [
        ("yaml", plain_yaml()),
        ("json", plain_json()),
        ("env", plain_env()),
        ("ini", plain_ini()),
    ] {
        for i in 1..8 {
            let cut = i * plain.len() / 8;
            t.encrypt(
                format!("truncated plaintext {ext} at {cut}"),
                &format!("p.{ext}"),
                &plain.as_bytes()[..cut],
                ENCRYPT_ANY,
            );
        }
    }

    // 3. Wrong types and values in the metadata.
    for (name, text) in yaml_metadata_edits(&f.yaml) {
        let codes = if SOPS_ACCEPTS.iter().any(|n| name.ends_with(n)) {
            DECRYPT_LENIENT
        } else {
            DECRYPT_FAIL
        };
        t.decrypt(name, "m.yaml", text, codes);
    }
    let json_edits = [
        ("\"mac\": \"", "\"mac\": 5, \"mac_was\": \""),
        (
            "\"lastmodified\": \"",
            "\"lastmodified\": [], \"lm_was\": \"",
        ),
        ("\"version\": \"", "\"version\": null, \"version_was\": \""),
        ("\"age\": [", "\"age\": 1, \"age_was\": ["),
        ("\"recipient\": \"", "\"recipient\": {}, \"r_was\": \""),
        ("\"sops\": {", "\"sops\": [], \"sops_was\": {"),
    ];
    for (from, to) in json_edits {
        t.decrypt(
            format!("json metadata: {to}"),
            "m.json",
            replace_once(&f.json, from, to),
            DECRYPT_FAIL,
        );
    }
    t.decrypt(
        "dotenv metadata: version garbage",
        "m.env",
        replace_once(&f.env, "sops_version=", "sops_version=x"),
        DECRYPT_FAIL,
    );
    t.decrypt(
        "dotenv metadata: mac garbage",
        "m.env",
        replace_once(&f.env, "sops_mac=", "sops_mac=x"),
        DECRYPT_FAIL,
    );
    t.decrypt(
        "dotenv metadata: age index gap",
        "m.env",
        f.env
            .replace("sops_age__list_0__map_", "sops_age__list_7__map_"),
        DECRYPT_FAIL,
    );
    t.decrypt(
        "ini metadata: mac garbage",
        "m.ini",
        replace_once(&f.ini, "mac", "mac = x\nmac_was"),
        DECRYPT_FAIL,
    );
    t.decrypt(
        "ini metadata: lastmodified garbage",
        "m.ini",
        replace_once(&f.ini, "lastmodified", "lastmodified = x\nlm_was"),
        DECRYPT_FAIL,
    );

    // 4. Forged ENC fields, in a YAML value, a JSON value, a dotenv value and the MAC.
    let yaml_value = enc_after(&f.yaml, "api_key").to_string();
    let json_value = enc_after(&f.json, "api_key").to_string();
    let env_value = enc_after(&f.env, "API_KEY").to_string();
    let mac_value = enc_after(&f.yaml, "mac:").to_string();
    for (name, forged) in forged_values() {
        t.decrypt(
            format!("forged yaml value: {name}"),
            "f.yaml",
            replace_once(&f.yaml, &yaml_value, &forged),
            DECRYPT_FAIL,
        );
        t.decrypt(
            format!("forged json value: {name}"),
            "f.json",
            replace_once(&f.json, &json_value, &forged),
            DECRYPT_FAIL,
        );
    }
    for (name, forged) in forged_values().into_iter().step_by(3) {
        t.decrypt(
            format!("forged dotenv value: {name}"),
            "f.env",
            replace_once(&f.env, &env_value, &forged),
            DECRYPT_FAIL,
        );
        t.decrypt(
            format!("forged mac: {name}"),
            "f.yaml",
            replace_once(&f.yaml, &mac_value, &forged),
            DECRYPT_FAIL,
        );
    }
    // Values moved between keys (the AAD no longer matches).
    let pw = enc_after(&f.yaml, "password").to_string();
    let swapped = f
        .yaml
        .replacen(&yaml_value, "@@A@@", 1)
        .replacen(&pw, &yaml_value, 1)
        .replacen("@@A@@", &pw, 1);
    t.decrypt(
        "values swapped between keys",
        "s.yaml",
        swapped,
        DECRYPT_FAIL,
    );
    // One ciphertext byte flipped, in a value and in the MAC.
    for (name, value) in [("value", &yaml_value), ("mac", &mac_value)] {
        let data_at = value.find("data:").expect("data") + 5;
        let mut flipped = value.clone().into_bytes();
        flipped[data_at] = if flipped[data_at] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).expect("ascii");
        t.decrypt(
            format!("flipped ciphertext in {name}"),
            "x.yaml",
            replace_once(&f.yaml, value, &flipped),
            DECRYPT_FAIL,
        );
    }
    // A plaintext value added to an encrypted file (MAC mismatch).
    t.decrypt(
        "plaintext value added",
        "a.yaml",
        format!("added: {SECRET}\n{}", f.yaml),
        &[25, 51],
    );

    // 5. Huge numbers.
    for (i, n) in [
        "99999999999999999999999999999999999999",
        "-99999999999999999999999999999999999999",
        "1e999999",
        "-1e999999",
        "0x7fffffffffffffffffffffff",
        "1.7976931348623157e309",
        "0.0000000000000000000000000000000000000000000000000000000000000000001e-400",
        &"9".repeat(100_000),
    ]
    .iter()
    .enumerate()
    {
        t.encrypt(
            format!("huge number #{i} in yaml"),
            "n.yaml",
            format!("n: {n}\ns: {SECRET}\n"),
            ENCRYPT_ANY,
        );
        t.encrypt(
            format!("huge number #{i} in json"),
            "n.json",
            format!("{{\"n\": {n}, \"s\": \"{SECRET}\"}}"),
            ENCRYPT_ANY,
        );
    }
    t.decrypt(
        "huge number as metadata threshold (json)",
        "n.json",
        replace_once(
            &f.json,
            "\"lastmodified\"",
            "\"shamir_threshold\": 1e400, \"lastmodified\"",
        ),
        DECRYPT_FAIL,
    );

    // 6. Deep nesting: must be refused with an error, not a stack overflow.
    for depth in [1_000usize, 10_000, 100_000] {
        let d = depth;
        t.encrypt(
            format!("yaml flow sequences {d} deep"),
            "d.yaml",
            format!("a: {}{SECRET}{}\n", "[".repeat(d), "]".repeat(d)),
            ENCRYPT_ANY,
        );
        t.encrypt(
            format!("yaml flow mappings {d} deep"),
            "d.yaml",
            format!("{}{SECRET}{}\n", "{a: ".repeat(d), "}".repeat(d)),
            ENCRYPT_ANY,
        );
        t.encrypt(
            format!("yaml block sequences {d} deep"),
            "d.yaml",
            format!("a:\n{}{SECRET}\n", "- ".repeat(d)),
            ENCRYPT_ANY,
        );
        t.encrypt(
            format!("json arrays {d} deep"),
            "d.json",
            format!("{{\"a\": {}\"{SECRET}\"{}}}", "[".repeat(d), "]".repeat(d)),
            ENCRYPT_ANY,
        );
        t.encrypt(
            format!("json objects {d} deep"),
            "d.json",
            format!("{}\"{SECRET}\"{}", "{\"a\": ".repeat(d), "}".repeat(d)),
            ENCRYPT_ANY,
        );
        t.encrypt(
            format!("json unclosed {d} deep"),
            "d.json",
            format!("{{\"s\": \"{SECRET}\", \"a\": {}", "[".repeat(d)),
            ENCRYPT_FAIL,
        );
        t.decrypt(
            format!("yaml encrypted file with {d} deep document"),
            "d.yaml",
            format!(
                "a: {}1{}\n{}",
                "[".repeat(d),
                "]".repeat(d),
                &f.yaml[f.yaml.find("\nsops:").expect("sops") + 1..]
            ),
            DECRYPT_FAIL,
        );
        t.decrypt(
            format!("json encrypted file with {d} deep document"),
            "d.json",
            replace_once(
                &f.json,
                "{",
                &format!("{{\"deep\": {}1{},", "[".repeat(d), "]".repeat(d)),
            ),
            DECRYPT_FAIL,
        );
    }

    // 7. Very long lines and keys.
    let long = "x".repeat(4 << 20);
    t.encrypt(
        "yaml 4 MiB value",
        "l.yaml",
        format!("k: {SECRET}{long}\n"),
        &[0],
    );
    t.encrypt(
        "yaml 4 MiB key",
        "l.yaml",
        format!("{long}: {SECRET}\n"),
        ENCRYPT_ANY,
    );
    t.encrypt(
        "json 4 MiB value",
        "l.json",
        format!("{{\"k\": \"{SECRET}{long}\"}}"),
        &[0],
    );
    t.encrypt(
        "dotenv 4 MiB value",
        "l.env",
        format!("K={SECRET}{long}\n"),
        &[0],
    );
    t.encrypt(
        "ini 4 MiB line without =",
        "l.ini",
        format!("[s]\nk = {SECRET}\n{long}\n"),
        ENCRYPT_ANY,
    );
    t.decrypt(
        "yaml 4 MiB garbage line before metadata",
        "l.yaml",
        format!("{long}\n{}", f.yaml),
        DECRYPT_FAIL,
    );
    t.decrypt(
        "4 MiB single line, no metadata",
        "l.json",
        format!("[\"{long}\"]"),
        DECRYPT_FAIL,
    );

    // 8. Invalid UTF-8 and odd encodings.
    for (ext, plain) in [
        ("yaml", plain_yaml()),
        ("json", plain_json()),
        ("env", plain_env()),
        ("ini", plain_ini()),
    ] {
        let mut bad = plain.clone().into_bytes();
        let at = bad.len() / 2;
        bad.splice(at..at, [0xff, 0xfe, 0xc3]);
        t.encrypt(
            format!("invalid utf-8 in {ext}"),
            &format!("u.{ext}"),
            bad,
            ENCRYPT_ANY,
        );
        let mut utf16 = vec![0xff, 0xfe];
        for unit in plain.encode_utf16() {
            utf16.extend(unit.to_le_bytes());
        }
        t.encrypt(
            format!("utf-16 {ext}"),
            &format!("u.{ext}"),
            utf16,
            ENCRYPT_ANY,
        );
        t.encrypt(
            format!("NUL bytes in {ext}"),
            &format!("u.{ext}"),
            plain.replace('\n', "\n\0"),
            ENCRYPT_ANY,
        );
    }
    for (ext, enc) in [
        ("yaml", &f.yaml),
        ("json", &f.json),
        ("env", &f.env),
        ("ini", &f.ini),
    ] {
        let mut bad = enc.clone().into_bytes();
        let at = bad.len() / 3;
        bad.splice(at..at, [0xc3, 0x28, 0xff]);
        t.decrypt(
            format!("invalid utf-8 in encrypted {ext}"),
            &format!("u.{ext}"),
            bad,
            DECRYPT_FAIL,
        );
    }

    // 9. Duplicate keys.
    t.encrypt(
        "yaml duplicate keys",
        "k.yaml",
        format!("a: {SECRET}\na: 2\n"),
        ENCRYPT_ANY,
    );
    t.encrypt(
        "yaml duplicate nested keys",
        "k.yaml",
        format!("m:\n  a: {SECRET}\n  a: 2\n"),
        ENCRYPT_ANY,
    );
    t.encrypt(
        "json duplicate keys",
        "k.json",
        format!("{{\"a\": \"{SECRET}\", \"a\": 2}}"),
        ENCRYPT_ANY,
    );
    t.encrypt(
        "dotenv duplicate keys",
        "k.env",
        format!("A={SECRET}\nA=2\n"),
        ENCRYPT_ANY,
    );
    t.encrypt(
        "ini duplicate keys",
        "k.ini",
        format!("[s]\na = {SECRET}\na = 2\n"),
        ENCRYPT_ANY,
    );
    t.encrypt(
        "ini duplicate sections",
        "k.ini",
        format!("[s]\na = {SECRET}\n[s]\nb = 2\n"),
        ENCRYPT_ANY,
    );
    t.decrypt(
        "yaml duplicate sops keys",
        "k.yaml",
        format!("{}sops: {{}}\n", f.yaml),
        DECRYPT_FAIL,
    );
    t.decrypt(
        "json duplicate sops keys",
        "k.json",
        replace_once(&f.json, "{", "{\"sops\": 1,"),
        DECRYPT_FAIL,
    );

    // 10. YAML alias bombs.
    let mut bomb = String::from(
        "a: &a [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n",
    );
    for i in 1..12u8 {
        let prev = (b'a' + i - 1) as char;
        let cur = (b'a' + i) as char;
        bomb.push_str(&format!("{cur}: &{cur} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
    }
    t.encrypt(
        "yaml billion laughs",
        "b.yaml",
        format!("{bomb}s: {SECRET}\n"),
        ENCRYPT_ANY,
    );
    t.decrypt(
        "yaml billion laughs in an encrypted file",
        "b.yaml",
        format!("{bomb}{}", f.yaml),
        DECRYPT_FAIL,
    );
    t.encrypt(
        "yaml undefined alias",
        "b.yaml",
        format!("a: *nothing\ns: {SECRET}\n"),
        ENCRYPT_FAIL,
    );
    t.encrypt(
        "yaml self-referencing alias",
        "b.yaml",
        format!("a: &x [*x]\ns: {SECRET}\n"),
        ENCRYPT_ANY,
    );
    t.encrypt(
        "yaml merge key bomb",
        "b.yaml",
        format!("{bomb}z:\n  <<: *l\ns: {SECRET}\n"),
        ENCRYPT_ANY,
    );

    // 11. `.sops.yaml` with bad regexes and bad shapes.
    let r = recipient(1);
    let configs: Vec<(&str, String)> = vec![
        ("path_regex unclosed class", format!("creation_rules:\n  - path_regex: \"[a-\"\n    age: {r}\n")),
        ("path_regex unclosed group", format!("creation_rules:\n  - path_regex: \"(a\"\n    age: {r}\n")),
        ("path_regex bad repetition", format!("creation_rules:\n  - path_regex: \"*\"\n    age: {r}\n")),
        ("path_regex huge repetition", format!("creation_rules:\n  - path_regex: \"a{{99999999}}\"\n    age: {r}\n")),
        ("path_regex is a list", format!("creation_rules:\n  - path_regex: [a]\n    age: {r}\n")),
        ("encrypted_regex invalid", format!("creation_rules:\n  - age: {r}\n    encrypted_regex: \"(?<\"\n")),
        ("unencrypted_regex invalid", format!("creation_rules:\n  - age: {r}\n    unencrypted_regex: \"[\"\n")),
        ("encrypted_comment_regex invalid", format!("creation_rules:\n  - age: {r}\n    encrypted_comment_regex: \"\\\\\"\n")),
        ("two encryption rules", format!("creation_rules:\n  - age: {r}\n    encrypted_regex: a\n    unencrypted_suffix: b\n")),
        ("creation_rules is a number", "creation_rules: 5\n".to_string()),
        ("creation_rules is a string", "creation_rules: abc\n".to_string()),
        ("rule is a list", "creation_rules:\n  - [1, 2]\n".to_string()),
        ("age recipient garbage", "creation_rules:\n  - age: not-a-recipient\n".to_string()),
        ("age recipient is a map", "creation_rules:\n  - age: {a: b}\n".to_string()),
        ("key_groups is a string", "creation_rules:\n  - key_groups: nope\n".to_string()),
        ("shamir_threshold string", format!("creation_rules:\n  - age: {r}\n    shamir_threshold: lots\n")),
        ("stores indent string", format!("stores:\n  yaml:\n    indent: wide\ncreation_rules:\n  - age: {r}\n")),
        ("config not YAML", format!("creation_rules: [\n  {SECRET}\n")),
        ("config invalid utf-8", "creation_rules:\n  - age: \u{fffd}\n".replace('\u{fffd}', "\u{0}")),
        ("config alias bomb", format!("{bomb}creation_rules:\n  - age: {r}\n")),
        ("config 100000 deep", format!("creation_rules: {}{}\n", "[".repeat(100_000), "]".repeat(100_000))),
    ];
    for (name, cfg) in configs {
        t.add(
            format!("config: {name}"),
            "c.yaml",
            format!("k: {SECRET}\n"),
            Cmd::EncryptWithConfig(cfg.into_bytes()),
            CONFIG_FAIL,
        );
    }

    // 12. Bad extract paths ("[" has no component: the whole file).
    t.add(
        "extract [",
        "e.yaml",
        f.yaml.clone(),
        Cmd::Extract("[".into()),
        &[0],
    );
    for p in [
        "[\"a\"",
        "[a]",
        "[\"]",
        "[-1]",
        "[99999999999999999999999]",
        "x",
        "[\"nested\"][\"password\"]x",
        &"[0]".repeat(30_000),
    ] {
        let name = format!(
            "extract {}",
            if p.len() > 40 { "very long path" } else { p }
        );
        t.add(
            name,
            "e.yaml",
            f.yaml.clone(),
            Cmd::Extract(p.to_string()),
            &[1, 91],
        );
    }

    // 13. Empty, garbage and mislabelled files.
    for ext in ["yaml", "json", "env", "ini", "bin"] {
        t.decrypt(
            format!("empty .{ext}"),
            &format!("e.{ext}"),
            "",
            DECRYPT_FAIL,
        );
        t.decrypt(
            format!("random bytes as .{ext}"),
            &format!("r.{ext}"),
            pseudo_random(4096, ext.len() as u64),
            DECRYPT_FAIL,
        );
        t.decrypt(
            format!("NUL bytes as .{ext}"),
            &format!("z.{ext}"),
            vec![0u8; 1024],
            DECRYPT_FAIL,
        );
    }
    t.decrypt("json file named .yaml", "j.yaml", f.json.clone(), &[0, 1]);
    t.decrypt(
        "yaml file named .json",
        "y.json",
        f.yaml.clone(),
        DECRYPT_FAIL,
    );
    t.decrypt(
        "dotenv file named .ini",
        "d.ini",
        f.env.clone(),
        DECRYPT_FAIL,
    );
    t.decrypt("ini file named .env", "i.env", f.ini.clone(), DECRYPT_FAIL);
    t.encrypt(
        "plaintext with top-level sops key",
        "s.yaml",
        format!("sops: {SECRET}\n"),
        &[1, 2, 203],
    );
    t.encrypt(
        "dotenv line without =",
        "s.env",
        format!("A={SECRET}\njust words\n"),
        ENCRYPT_FAIL,
    );
    t.encrypt(
        "json top-level array",
        "s.json",
        format!("[\"{SECRET}\"]"),
        ENCRYPT_ANY,
    );
    t.encrypt(
        "json trailing garbage",
        "s.json",
        format!("{{\"a\": \"{SECRET}\"}} trailing"),
        ENCRYPT_ANY,
    );
    t.encrypt(
        "yaml tab indentation",
        "s.yaml",
        format!("a:\n\tb: {SECRET}\n"),
        ENCRYPT_FAIL,
    );
    t.encrypt(
        "yaml unknown tag",
        "s.yaml",
        format!("a: !!evil {SECRET}\n"),
        ENCRYPT_ANY,
    );
    t.encrypt(
        "yaml empty stream",
        "s.yaml",
        "# only a comment\n",
        ENCRYPT_FAIL,
    );

    // 14. The same damaged files through `rotate` (which decrypts first) and
    // `filestatus` (which only looks for the metadata).
    let damaged: Vec<(String, String, Vec<u8>)> =
        t.0.iter()
            .filter(|c| matches!(c.cmd, Cmd::Decrypt) && c.codes == DECRYPT_FAIL)
            .step_by(4)
            .map(|c| (c.name.clone(), c.file.clone(), c.data.clone()))
            .collect();
    for (name, file, data) in damaged {
        t.add(
            format!("rotate: {name}"),
            &file,
            data.clone(),
            Cmd::Rotate,
            DECRYPT_FAIL,
        );
        t.add(
            format!("filestatus: {name}"),
            &file,
            data,
            Cmd::Filestatus,
            &[0, 1],
        );
    }

    t
}

/// Deterministic pseudo-random bytes (xorshift).
fn pseudo_random(n: usize, seed: u64) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ seed;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------

struct Outcome {
    code: Option<i32>,
    stderr: String,
    elapsed: Duration,
}

fn run_case(case: &Case) -> Outcome {
    let sb = Sandbox::new();
    let path = sb.write(&case.file, &case.data);
    let path = path.to_str().expect("utf-8 path").to_string();
    let mut args: Vec<String> = Vec::new();
    match &case.cmd {
        Cmd::Decrypt => args.extend(["decrypt".into(), path]),
        Cmd::Extract(p) => args.extend(["decrypt".into(), "--extract".into(), p.clone(), path]),
        Cmd::Encrypt => args.extend(["encrypt".into(), "--age".into(), recipient(1), path]),
        Cmd::EncryptWithConfig(cfg) => {
            sb.write(".sops.yaml", cfg);
            args.extend(["encrypt".into(), path]);
        }
        Cmd::Rotate => args.extend(["rotate".into(), path]),
        Cmd::Filestatus => args.extend(["filestatus".into(), path]),
    }
    // Bound the address space with the shell's ulimit, then exec enseal.
    let mut cmd: Command = scrubbed(Path::new("/bin/sh"), &sb.home(), &sb.work());
    cmd.arg("-c")
        .arg(format!(
            "ulimit -v {MEMORY_KIB} || exit 99; exec \"$0\" \"$@\""
        ))
        .arg(enseal_bin())
        .args(&args)
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn enseal");
    let mut stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stderr.read_to_end(&mut b);
        b
    });
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break Some(st);
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    let err = String::from_utf8_lossy(&reader.join().unwrap_or_default()).into_owned();
    Outcome {
        code: status.and_then(|s| s.code()),
        stderr: if status.is_none() {
            format!("TIMEOUT after {TIMEOUT:?}\n{err}")
        } else {
            err
        },
        elapsed,
    }
}

fn check(case: &Case, out: &Outcome) -> Result<(), String> {
    let clip = |s: &str| -> String {
        let s: String = s.chars().take(600).collect();
        s
    };
    let Some(code) = out.code else {
        return Err(format!(
            "killed by a signal or timed out (crash/abort/hang); stderr:\n{}",
            clip(&out.stderr)
        ));
    };
    if [101, 134, 139].contains(&code) {
        return Err(format!(
            "exit {code} (panic/abort/segfault); stderr:\n{}",
            clip(&out.stderr)
        ));
    }
    if !case.codes.contains(&code) {
        return Err(format!(
            "exit {code}, want one of {:?}; stderr:\n{}",
            case.codes,
            clip(&out.stderr)
        ));
    }
    if code != 0 {
        if out.stderr.trim().is_empty() {
            return Err(format!("exit {code} with an empty stderr"));
        }
        // The key-recovery report (exit 128) lists every group and key, as
        // sops does; everything else is one line and perhaps a hint.
        let max = if code == 128 {
            MAX_KEY_REPORT_LINES
        } else {
            MAX_STDERR_LINES
        };
        let lines = out.stderr.lines().count();
        if lines > max {
            return Err(format!(
                "stderr has {lines} lines (max {max}):\n{}",
                clip(&out.stderr)
            ));
        }
    }
    if out.stderr.contains(SECRET) {
        return Err(format!(
            "stderr shows the planted secret:\n{}",
            clip(&out.stderr)
        ));
    }
    Ok(())
}

#[test]
fn bad_input_catalogue() {
    let f = fixtures();
    let table = build_table(&f);
    let total = table.0.len();
    assert!(total >= 200, "only {total} cases");
    let cases = table.0;
    // ENSEAL_BAD_INPUT_DUMP=DIR: also write every case's input there (to
    // compare with the reference by hand).
    if let Some(dir) = std::env::var_os("ENSEAL_BAD_INPUT_DUMP") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("mkdir dump");
        let mut index = String::new();
        for (i, c) in cases.iter().enumerate() {
            let name = format!("{i:03}-{}", c.file);
            std::fs::write(dir.join(&name), &c.data).expect("dump");
            let cmd = match &c.cmd {
                Cmd::Decrypt => "decrypt".to_string(),
                Cmd::Extract(p) if p.len() < 100 => format!("extract\t{p}"),
                Cmd::Extract(_) => "extract-long".to_string(),
                Cmd::Encrypt => "encrypt".to_string(),
                Cmd::Rotate => "rotate".to_string(),
                Cmd::Filestatus => "filestatus".to_string(),
                Cmd::EncryptWithConfig(cfg) => {
                    std::fs::write(dir.join(format!("{i:03}.sops.yaml")), cfg).expect("dump");
                    "config".to_string()
                }
            };
            index.push_str(&format!("{name}\t{:?}\t{}\t{cmd}\n", c.codes, c.name));
        }
        std::fs::write(dir.join("index.tsv"), index).expect("dump");
    }
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let slowest = Mutex::new((Duration::ZERO, String::new()));
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 8);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(case) = cases.get(i) else { break };
                let out = run_case(case);
                {
                    let mut sl = slowest.lock().expect("lock");
                    if out.elapsed > sl.0 {
                        *sl = (out.elapsed, case.name.clone());
                    }
                }
                if let Err(e) = check(case, &out) {
                    failures
                        .lock()
                        .expect("lock")
                        .push(format!("[{}] {e}", case.name));
                }
            });
        }
    });
    let (t, name) = slowest.into_inner().expect("lock");
    eprintln!("slowest case: {name} ({t:?})");
    let mut failures = failures.into_inner().expect("lock");
    failures.sort();
    common::report("bad-input catalogue", total, failures);
}

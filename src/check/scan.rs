//! A compact scanner for likely secrets in plaintext files (`check --scan`):
//! token shapes with fixed prefixes (few false positives), private key
//! headers, connection strings with a password, and assignments to
//! password-like names (`password:`, `DB_PASS=`, `"passphrase":`) or
//! secret-like names (`client_secret`, `api_key`, `token`) whose value
//! looks like a password or a generated secret.
//!
//! All rules are matched at once with a [`RegexSet`]; a rule's own regex
//! runs only on the lines the set says it matches. Lines are scanned in
//! windows of at most [`WINDOW`] bytes, so hostile input (one huge line,
//! many assignments on a line) costs time linear in its size.
//!
//! A line containing `enseal:allow` is never reported.
//! Measured recall and false-positive rate: docs/scanner.md.

use std::sync::OnceLock;

use regex::{Regex, RegexSet, RegexSetBuilder};

/// How a rule's match is confirmed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    /// The match alone is enough.
    Shape,
    /// The match must not be a documented example (`…EXAMPLE`).
    NotExample,
    /// Capture group 1 must look generated ([`looks_random`]).
    Random,
    /// Capture group 1 is a URL's password: not a placeholder.
    UrlPassword,
    /// A `name = value` assignment: the name decides which test the
    /// value must pass ([`assignment_is_secret`]).
    Assignment,
}

/// One scanner rule.
struct Rule {
    /// Stable id shown in findings.
    id: &'static str,
    /// What it finds, for messages.
    description: &'static str,
    pattern: &'static str,
    check: Check,
}

const RULES: &[Rule] = &[
    Rule {
        id: "private-key",
        description: "a private key (PEM header)",
        // The header ends its line (or a JSON string continues with `\n`):
        // a header quoted in source code is not a key.
        pattern: r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----(?:\\n|\s*$)",
        check: Check::Shape,
    },
    Rule {
        id: "private-key",
        description: "a private key (PuTTY key file)",
        pattern: r"^PuTTY-User-Key-File-[23]: ",
        check: Check::Shape,
    },
    Rule {
        id: "age-secret-key",
        description: "an age secret key",
        pattern: r"AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}",
        check: Check::Shape,
    },
    Rule {
        id: "aws-access-key-id",
        description: "an AWS access key id",
        pattern: r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b",
        check: Check::NotExample,
    },
    Rule {
        id: "aws-secret-access-key",
        description: "an AWS secret access key",
        pattern: r#"(?i)(?:aws_?)?secret_?access_?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+=]{40})(?:[^A-Za-z0-9/+=]|$)"#,
        check: Check::Random,
    },
    Rule {
        id: "github-token",
        description: "a GitHub token",
        pattern: r"\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})\b",
        check: Check::Shape,
    },
    Rule {
        id: "gitlab-token",
        description: "a GitLab token",
        pattern: r"\bgl(?:pat|dt|rt|ptt)-[A-Za-z0-9_\-]{20,}",
        check: Check::Shape,
    },
    Rule {
        id: "slack-token",
        description: "a Slack token",
        pattern: r"\bxox[abposr]-[0-9]{6,}-[A-Za-z0-9-]{6,}",
        check: Check::Shape,
    },
    Rule {
        id: "slack-webhook",
        description: "a Slack webhook URL",
        pattern: r"https://hooks\.slack\.com/services/T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{20,}",
        check: Check::Shape,
    },
    Rule {
        id: "stripe-key",
        description: "a Stripe live key",
        pattern: r"\b(?:sk|rk)_live_[A-Za-z0-9]{24,}",
        check: Check::Shape,
    },
    Rule {
        id: "google-api-key",
        description: "a Google API key",
        pattern: r"\bAIza[0-9A-Za-z_\-]{35}(?:[^0-9A-Za-z_\-]|$)",
        check: Check::Shape,
    },
    Rule {
        id: "sendgrid-key",
        description: "a SendGrid API key",
        pattern: r"\bSG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}(?:[^A-Za-z0-9_\-]|$)",
        check: Check::Shape,
    },
    Rule {
        id: "twilio-key",
        description: "a Twilio API key",
        pattern: r"\bSK[0-9a-fA-F]{32}\b",
        check: Check::Shape,
    },
    Rule {
        id: "npm-token",
        description: "an npm access token",
        pattern: r"\bnpm_[A-Za-z0-9]{36}\b",
        check: Check::Shape,
    },
    Rule {
        id: "pypi-token",
        description: "a PyPI API token",
        pattern: r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,}",
        check: Check::Shape,
    },
    Rule {
        id: "jwt",
        description: "a JSON Web Token",
        pattern: r"\beyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{16,}",
        check: Check::Shape,
    },
    Rule {
        id: "azure-storage-key",
        description: "an Azure storage account key",
        // 64 bytes in base64, standing alone (not the tail of `sha512-…`).
        pattern: r#"(?:^|[\s"'=:;,])([A-Za-z0-9+/]{86}==)(?:[^A-Za-z0-9+/=]|$)"#,
        check: Check::Random,
    },
    Rule {
        id: "azure-connection-string",
        description: "an Azure connection string with a key",
        pattern: r"(?i)\b(?:AccountKey|SharedAccessKey|SharedAccessSignature)=([A-Za-z0-9+/%]{20,}=*)",
        check: Check::Random,
    },
    Rule {
        id: "connection-string-password",
        description: "a connection string with a password",
        pattern: r#"\b[A-Za-z][A-Za-z0-9+.\-]{1,20}://[^\s:/@?#"'<>]{0,64}:([^\s/@"'<>]{1,128})@"#,
        check: Check::UrlPassword,
    },
    Rule {
        id: "generic-secret",
        description: "a secret-looking value assigned to a password/secret/token/api key",
        pattern: concat!(
            r#"(?i)([A-Za-z0-9_.\-]*(?:"#,
            // The keywords of name_kind.
            r"pass(?:word|wd|phrase)?|pwd|secret|token|credentials?|(?:api|access|secret|private|auth|account|storage|signing|encryption|master|app)[_\-]?key",
            r#"))["'\]]?[ \t]*(?::=|=>|:|=)[ \t]*"#
        ),
        check: Check::Assignment,
    },
];

/// At most this many bytes of a line are matched at once; longer lines
/// are scanned in overlapping windows.
pub const WINDOW: usize = 16 * 1024;
/// Lines longer than this are scanned on their first `MAX_LINE` bytes.
const MAX_LINE: usize = 1024 * 1024;
/// Assigned values longer than this are cut.
const MAX_VALUE: usize = 512;

/// A likely secret on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// 1-based line.
    pub line: usize,
    /// The rule id.
    pub rule: &'static str,
    /// What was found (never the value).
    pub description: &'static str,
}

struct Compiled {
    set: RegexSet,
    each: Vec<Regex>,
}

fn compiled() -> &'static Compiled {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let patterns: Vec<&str> = RULES.iter().map(|r| r.pattern).collect();
        Compiled {
            // A larger lazy-DFA cache: the counted repetitions of the
            // rules make many states, and a thrashing cache falls back
            // to a slower engine.
            set: RegexSetBuilder::new(&patterns)
                .dfa_size_limit(32 << 20)
                .build()
                .expect("scanner rules compile"),
            each: patterns
                .iter()
                .map(|p| Regex::new(p).expect("scanner rule compiles"))
                .collect(),
        }
    })
}

/// Scans text, at most one hit per line (the first rule that matches).
/// Binary content (a NUL byte) is not scanned.
pub fn scan(bytes: &[u8]) -> Vec<Hit> {
    if bytes.iter().take(8192).any(|&b| b == 0) {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(bytes);
    let mut hits = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.contains("enseal:allow") {
            continue;
        }
        if let Some(rule) = windows(line).find_map(scan_window) {
            hits.push(Hit {
                line: n + 1,
                rule: rule.id,
                description: rule.description,
            });
        }
    }
    hits
}

/// The windows of a line: the line itself when short, else overlapping
/// windows of [`WINDOW`] bytes (cut on character boundaries) covering its
/// first [`MAX_LINE`] bytes.
fn windows(line: &str) -> impl Iterator<Item = &str> {
    let len = line.len().min(MAX_LINE);
    let step = WINDOW - 1024;
    let count = if len <= WINDOW {
        1
    } else {
        (len - WINDOW).div_ceil(step) + 1
    };
    (0..count).map(move |i| {
        let start = floor_char(line, i * step);
        let end = floor_char(line, (i * step + WINDOW).min(len));
        &line[start..end]
    })
}

fn floor_char(s: &str, mut at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The first rule that reports this text, if any.
fn scan_window(text: &str) -> Option<&'static Rule> {
    let compiled = compiled();
    let matches = compiled.set.matches(text);
    if !matches.matched_any() {
        return None;
    }
    matches
        .iter()
        .map(|i| (i, &RULES[i]))
        .find_map(|(i, rule)| {
            let re = &compiled.each[i];
            let confirmed = match rule.check {
                Check::Shape => true,
                Check::NotExample => re.find_iter(text).any(|m| !m.as_str().contains("EXAMPLE")),
                // Keys in base64 may start with `/`, which looks_random takes
                // for a path.
                Check::Random => re.captures_iter(text).any(|c| {
                    c.get(1)
                        .is_some_and(|v| looks_random(v.as_str().trim_start_matches(['/', '+'])))
                }),
                Check::UrlPassword => re
                    .captures_iter(text)
                    .any(|c| c.get(1).is_some_and(|v| url_password_is_secret(v.as_str()))),
                Check::Assignment => re.captures_iter(text).any(|c| {
                    let (Some(name), Some(whole)) = (c.get(1), c.get(0)) else {
                        return false;
                    };
                    assignment_is_secret(name.as_str(), &text[whole.end()..])
                }),
            };
            confirmed.then_some(rule)
        })
}

/// How a name asks its value to be judged.
#[derive(Debug, PartialEq, Eq)]
enum NameKind {
    Password,
    Secret,
}

/// The words of a name: split at `_`, `-`, `.` and lower-to-upper case
/// changes, in lower case (`dbPassword` → `db`, `password`).
fn name_words(name: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if matches!(c, '_' | '-' | '.') {
            words.extend((!current.is_empty()).then(|| std::mem::take(&mut current)));
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower {
            words.push(std::mem::take(&mut current));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        current.push(c.to_ascii_lowercase());
    }
    words.extend((!current.is_empty()).then_some(current));
    words
}

/// The kind of a name whose last word is a password or secret keyword
/// (`db_password`, `dbPassword`, `PASSWD`, `apiKey`; not `compass`,
/// `csrftoken`, `password_hash`).
fn name_kind(name: &str) -> Option<NameKind> {
    let words = name_words(name);
    let last = words.last()?.as_str();
    if matches!(last, "pass" | "pwd")
        || ["password", "passwd", "passphrase"]
            .iter()
            .any(|w| last.ends_with(w))
    {
        return Some(NameKind::Password);
    }
    const KEY_OWNERS: [&str; 11] = [
        "api",
        "access",
        "secret",
        "private",
        "auth",
        "account",
        "storage",
        "signing",
        "encryption",
        "master",
        "app",
    ];
    let before_last = words.len().checked_sub(2).map(|i| words[i].as_str());
    let secret = matches!(last, "secret" | "token" | "credential" | "credentials")
        || (last == "key" && before_last.is_some_and(|w| KEY_OWNERS.contains(&w)))
        || KEY_OWNERS
            .iter()
            .any(|o| last.strip_prefix(o) == Some("key"));
    secret.then_some(NameKind::Secret)
}

/// True when the value after `name =` is a secret for that name.
fn assignment_is_secret(name: &str, rest: &str) -> bool {
    let Some(kind) = name_kind(name) else {
        return false;
    };
    let Some(value) = assigned_value(rest) else {
        return false;
    };
    match kind {
        NameKind::Password => looks_like_password(value),
        NameKind::Secret => looks_random(value),
    }
}

/// The value at the start of `rest`: the content of a quoted string, or an
/// unquoted word (without a trailing `,` or `;`). `None` for code (an
/// unquoted value holding quotes, brackets or calls) and for YAML block
/// scalars.
fn assigned_value(rest: &str) -> Option<&str> {
    let mut end = rest.len().min(MAX_VALUE);
    while !rest.is_char_boundary(end) {
        end -= 1;
    }
    let rest = &rest[..end];
    let first = rest.chars().next()?;
    if matches!(first, '"' | '\'' | '`') {
        let body = &rest[1..];
        let mut escaped = false;
        for (i, c) in body.char_indices() {
            if escaped {
                escaped = false;
            } else if c == '\\' && first == '"' {
                escaped = true;
            } else if c == first {
                return Some(&body[..i]);
            }
        }
        return Some(body);
    }
    let word = rest.split(char::is_whitespace).next().unwrap_or_default();
    // A YAML or dotenv text inside a source string ends its line with an
    // escape: `"user: bob\npassword: hunter2\nport: 1"`.
    let word = ["\\n", "\\r", "\\t"]
        .iter()
        .filter_map(|e| word.find(e))
        .min()
        .map_or(word, |at| &word[..at]);
    let word = word.trim_end_matches([',', ';']);
    if word.contains(['"', '\'', '`', '(', '[', '{']) {
        return None;
    }
    Some(word)
}

/// Substrings that mark a template, a reference or a placeholder.
const PLACEHOLDERS: [&str; 24] = [
    "${",
    "{{",
    "<",
    "enc[",
    "changeme",
    "change_me",
    "example",
    "xxxx",
    "****",
    "placeholder",
    "redacted",
    "dummy",
    "secretref",
    "process.env",
    "demo",
    "sample",
    "fake",
    "replace",
    "your_",
    "your-",
    "here",
    "password",
    "%(",
    "$(",
];

fn has_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    PLACEHOLDERS.iter().any(|p| lower.contains(p))
}

/// True for a value that reads like a password: at least 8 characters,
/// no placeholder, and three of lower case, upper case, digits and
/// punctuation (other than `-_./`, which names and paths use) — or
/// [`looks_random`].
pub fn looks_like_password(value: &str) -> bool {
    if value.len() < 8 || value.len() > 128 || has_placeholder(value) {
        return false;
    }
    if value.starts_with(['$', '%', '/', '~', '*', '&', '!', '@'])
        || value.starts_with("./")
        || value.contains("://")
        || value.chars().any(char::is_whitespace)
    {
        return false;
    }
    let lower = value.bytes().any(|b| b.is_ascii_lowercase());
    let upper = value.bytes().any(|b| b.is_ascii_uppercase());
    let digit = value.bytes().any(|b| b.is_ascii_digit());
    let punct = value
        .bytes()
        .any(|b| b.is_ascii_punctuation() && !matches!(b, b'-' | b'_' | b'.' | b'/'));
    let classes = [lower, upper, digit, punct].iter().filter(|&&c| c).count();
    classes >= 3 || looks_random(value)
}

/// True for a URL's password that is not a placeholder or a reference.
fn url_password_is_secret(password: &str) -> bool {
    password.len() >= 4
        && !password.bytes().all(|b| b.is_ascii_digit())
        && !password.starts_with(['$', '%', '{', '*'])
        && !has_placeholder(password)
        && !matches!(
            password.to_ascii_lowercase().as_str(),
            "pass" | "secret" | "passwd" | "pwd" | "token" | "user" | "guest"
        )
}

/// True for values that look generated rather than written: no template or
/// placeholder syntax, letters and digits mixed, and a Shannon entropy of at
/// least 3.5 bits per character.
pub fn looks_random(value: &str) -> bool {
    if value.len() < 12 || has_placeholder(value) {
        return false;
    }
    let has_digit = value.chars().any(|c| c.is_ascii_digit());
    let has_alpha = value.chars().any(|c| c.is_ascii_alphabetic());
    if !has_alpha || !(has_digit || mixed_case_at_random(value)) {
        return false;
    }
    // Dotted identifiers, references and paths are names, not secrets.
    if value.contains('(')
        || value.starts_with(['/', '$'])
        || value.starts_with("./")
        || value.chars().any(char::is_whitespace)
    {
        return false;
    }
    // Resource paths (`projects/p-123/secrets/oauth/versions/4`): half
    // their segments or more are lower-case words.
    let segments: Vec<&str> = value.split('/').collect();
    let wordy = segments
        .iter()
        .filter(|s| {
            s.len() >= 3
                && s.bytes().any(|b| b.is_ascii_lowercase())
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        })
        .count();
    if segments.len() >= 3 && wordy * 2 >= segments.len() {
        return false;
    }
    // Typed-in sequences (`1234`, `abcd`) are rare in generated values.
    let bytes = value.as_bytes();
    if bytes
        .windows(4)
        .any(|w| w.windows(2).all(|p| p[1] == p[0].wrapping_add(1)))
    {
        return false;
    }
    entropy(value) >= 3.5
}

/// True for long letter-only values whose case changes often, as in
/// generated tokens (`dyjJNlhyYjoxcSAYYrDu…`) and unlike identifiers
/// (`getSecretValueFromManager`).
fn mixed_case_at_random(value: &str) -> bool {
    let letters: Vec<bool> = value
        .chars()
        .filter(|c| c.is_ascii_alphabetic())
        .map(|c| c.is_ascii_uppercase())
        .collect();
    let changes = letters.windows(2).filter(|w| w[0] != w[1]).count();
    value.len() >= 24 && changes * 3 >= value.len()
}

/// Shannon entropy in bits per character.
fn entropy(value: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    let mut n = 0usize;
    for c in value.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    counts
        .values()
        .map(|&k| {
            let p = k as f64 / n as f64;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<&'static str> {
        scan(text.as_bytes()).into_iter().map(|h| h.rule).collect()
    }

    #[test]
    fn known_token_shapes_are_found() {
        // Test strings are assembled so that this file itself does not
        // hold scanner matches.
        let aws = format!("key = {}{}", "AKIA", "Z7QW3ERTY5UIOPAS");
        assert_eq!(rules(&aws), ["aws-access-key-id"]);
        let pem = format!("-----BEGIN {}PRIVATE KEY-----", "OPENSSH ");
        assert_eq!(rules(&pem), ["private-key"]);
        let json = format!("\"k\": \"-----BEGIN {}PRIVATE KEY-----\\nMIIE\"", "");
        assert_eq!(rules(&json), ["private-key"]);
        let code = format!("let begin = \"-----BEGIN {}PRIVATE KEY-----\";", "RSA ");
        assert!(rules(&code).is_empty());
        let gh = format!("token: {}_{}", "ghp", "a".repeat(18) + &"B7".repeat(9));
        assert_eq!(rules(&gh), ["github-token"]);
        let gl = format!("{}-{}", "glpat", "x1Y2z3W4v5U6t7S8r9Q0");
        assert_eq!(rules(&gl), ["gitlab-token"]);
        let slack = format!("{}-{}-{}", "xoxb", "1234567890", "AbCdEfGhIj");
        assert_eq!(rules(&slack), ["slack-token"]);
    }

    #[test]
    fn generic_assignments_need_a_random_value() {
        assert_eq!(
            rules(&format!("db_password = {}", "q8Vt2xL0pZr7Kw3N")),
            ["generic-secret"]
        );
        assert_eq!(
            rules(&format!("\"apiKey\": \"{}\"", "9fK2mQx7Lp0vRt4Z")),
            ["generic-secret"]
        );
        assert!(rules("password = changeme12345").is_empty());
        assert!(rules("password: ${DB_PASSWORD}").is_empty());
        assert!(rules("secret_name: my-application-secret").is_empty());
        assert!(rules("token: aaaaaaaaaaaaaaaa1").is_empty());
        assert!(rules("api_token: tok_ABCDEF123456").is_empty());
        assert!(rules("token: tok_demo_0123456789abcdef").is_empty());
        assert!(rules("password = q8Vt2xL0pZr7Kw3N # enseal:allow").is_empty());
    }

    #[test]
    fn binary_content_is_not_scanned() {
        let mut bytes = b"\0\0".to_vec();
        bytes.extend_from_slice(format!("{}{}", "AKIA", "Z7QW3ERTY5UIOPAS").as_bytes());
        assert!(scan(&bytes).is_empty());
    }

    #[test]
    fn names_are_split_into_words() {
        assert_eq!(name_words("dbPassword"), ["db", "password"]);
        assert_eq!(name_words("AWS_SECRET_KEY"), ["aws", "secret", "key"]);
        assert_eq!(name_kind("dbPassword"), Some(NameKind::Password));
        assert_eq!(name_kind("admin-pass"), Some(NameKind::Password));
        assert_eq!(name_kind("encryptionKey"), Some(NameKind::Secret));
        assert_eq!(name_kind("APIKEY"), Some(NameKind::Secret));
        assert_eq!(name_kind("compass"), None);
        assert_eq!(name_kind("csrftoken"), None);
        assert_eq!(name_kind("cache_key"), None);
    }

    #[test]
    fn passwords_with_punctuation_and_urls_are_found() {
        let pw = format!("{}#mQ2${}", "Xk9", "vL8pZ3wR");
        assert_eq!(rules(&format!("password: {pw}")), ["generic-secret"]);
        assert_eq!(rules(&format!("DB_PASS=\"{pw}!\"")), ["generic-secret"]);
        assert_eq!(
            rules(&format!(
                "  \"a\": 1, \"adminPassword\": \"{pw}\", \"b\": 2"
            )),
            ["generic-secret"]
        );
        assert!(rules("password: hunter2").is_empty());
        assert!(rules("password = os.environ[\"DB_PASSWORD\"]").is_empty());
        assert!(rules("password: !vault |").is_empty());
        assert!(rules(r#"let t = "user: bob\npassword: hunter2\nport: 1\n";"#).is_empty());
        let url = format!("postgres://app:{}@db:5432/app", "q8Vt2x;L0pZr");
        assert_eq!(rules(&url), ["connection-string-password"]);
        assert!(rules("postgres://app:${DB_PASSWORD}@db:5432/app").is_empty());
        assert!(rules("https://git@github.com/org/repo.git").is_empty());
        assert!(rules("https://api.example.com:8443/v1?x=a@b").is_empty());
    }

    #[test]
    fn long_lines_are_scanned_in_bounded_windows() {
        // A token far into a long line is found, also across a window edge.
        for at in [WINDOW * 3, WINDOW - 20, 2 * (WINDOW - 1024) + 3] {
            let line = format!("{}{}{}", "a".repeat(at), " AKIA", "Z7QW3ERTY5UIOPAS x");
            assert_eq!(rules(&line), ["aws-access-key-id"], "at {at}");
        }
        // Hostile input: a long line of assignments and unclosed quotes
        // stays fast (linear in the input, values cut at MAX_VALUE).
        let hostile = "password=\"a".repeat(400_000);
        let started = std::time::Instant::now();
        assert!(rules(&hostile).is_empty());
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn arbitrary_text_never_panics() {
        // Pieces that exercise quotes, escapes, multi-byte characters at
        // window edges, URLs and assignments.
        let pieces = [
            "password=",
            "\"",
            "'",
            "`",
            "\\",
            "\\n",
            "é",
            "🔑",
            "AKIA",
            " ",
            "://",
            ":",
            "@",
            "token: ",
            "x",
            "Q7",
            "#",
            "=",
            "{",
            "(",
            "/",
            "\t",
            "dbPass",
            "==",
        ];
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for round in 0..40 {
            let len = if round % 8 == 0 { 9000 } else { 200 };
            let mut text = String::new();
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push_str(pieces[(state % pieces.len() as u64) as usize]);
            }
            let lines = text.lines().count();
            for hit in scan(text.as_bytes()) {
                assert!(hit.line >= 1 && hit.line <= lines);
            }
        }
    }
}

//! A compact scanner for likely secrets in plaintext files (`check --scan`):
//! token shapes with fixed prefixes (few false positives), private key
//! headers, and `password=`/`secret:` assignments whose value looks random.
//!
//! A line containing `enseal:allow` is never reported.

use std::sync::OnceLock;

use regex::Regex;

/// One scanner rule.
struct Rule {
    /// Stable id shown in findings.
    id: &'static str,
    /// What it finds, for messages.
    description: &'static str,
    pattern: &'static str,
    /// For assignments: the capture group holding the value, which must
    /// look random ([`looks_random`]).
    value_group: Option<usize>,
}

const RULES: &[Rule] = &[
    Rule {
        id: "private-key",
        description: "a private key (PEM header)",
        // The header ends its line (or a JSON string continues with `\n`):
        // a header quoted in source code is not a key.
        pattern: r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----(?:\\n|\s*$)",
        value_group: None,
    },
    Rule {
        id: "age-secret-key",
        description: "an age secret key",
        pattern: r"AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}",
        value_group: None,
    },
    Rule {
        id: "aws-access-key-id",
        description: "an AWS access key id",
        pattern: r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b",
        value_group: None,
    },
    Rule {
        id: "aws-secret-access-key",
        description: "an AWS secret access key",
        pattern: r#"(?i)aws_?secret_?access_?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+=]{40})\b"#,
        value_group: Some(1),
    },
    Rule {
        id: "github-token",
        description: "a GitHub token",
        pattern: r"\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})\b",
        value_group: None,
    },
    Rule {
        id: "gitlab-token",
        description: "a GitLab token",
        pattern: r"\bgl(?:pat|dt|rt|ptt)-[A-Za-z0-9_\-]{20,}",
        value_group: None,
    },
    Rule {
        id: "slack-token",
        description: "a Slack token",
        pattern: r"\bxox[abposr]-[0-9]{6,}-[A-Za-z0-9-]{6,}",
        value_group: None,
    },
    Rule {
        id: "slack-webhook",
        description: "a Slack webhook URL",
        pattern: r"https://hooks\.slack\.com/services/T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{20,}",
        value_group: None,
    },
    Rule {
        id: "stripe-key",
        description: "a Stripe live key",
        pattern: r"\b(?:sk|rk)_live_[A-Za-z0-9]{24,}",
        value_group: None,
    },
    Rule {
        id: "google-api-key",
        description: "a Google API key",
        pattern: r"\bAIza[0-9A-Za-z_\-]{35}\b",
        value_group: None,
    },
    Rule {
        id: "generic-secret",
        description: "a secret-looking value assigned to a password/secret/token/api key",
        pattern: r#"(?i)(?:^|[\s{,"'])[A-Za-z0-9_.\-]*(?:password|passwd|pwd|secret|token|api_?key|access_?key|private_?key|client_?secret)["']?\s*(?::|=|:=|=>)\s*["']?([^\s"'#,;]{12,})"#,
        value_group: Some(1),
    },
];

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

fn compiled() -> &'static [(usize, Regex)] {
    static COMPILED: OnceLock<Vec<(usize, Regex)>> = OnceLock::new();
    COMPILED.get_or_init(|| {
        RULES
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Regex::new(r.pattern).ok().map(|re| (i, re)))
            .collect()
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
        if line.contains("enseal:allow") || line.len() > 4096 {
            continue;
        }
        for (i, re) in compiled() {
            let rule = &RULES[*i];
            let matched = match rule.value_group {
                None => re.is_match(line),
                Some(group) => re.captures_iter(line).any(|c| {
                    c.get(group)
                        .is_some_and(|v| looks_random(v.as_str()) || rule.id != "generic-secret")
                }),
            };
            if matched {
                hits.push(Hit {
                    line: n + 1,
                    rule: rule.id,
                    description: rule.description,
                });
                break;
            }
        }
    }
    hits
}

/// True for values that look generated rather than written: no template or
/// placeholder syntax, letters and digits mixed, and a Shannon entropy of at
/// least 3.5 bits per character.
pub fn looks_random(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    const PLACEHOLDERS: [&str; 15] = [
        "${",
        "{{",
        "<",
        "enc[",
        "changeme",
        "example",
        "xxxx",
        "placeholder",
        "redacted",
        "dummy",
        "secretref",
        "process.env",
        "demo",
        "sample",
        "fake",
    ];
    if PLACEHOLDERS.iter().any(|p| lower.contains(p)) {
        return false;
    }
    let has_digit = value.chars().any(|c| c.is_ascii_digit());
    let has_alpha = value.chars().any(|c| c.is_ascii_alphabetic());
    if !has_digit || !has_alpha {
        return false;
    }
    // Dotted identifiers and paths are names, not secrets.
    if value.contains('(') || value.starts_with('/') || value.starts_with("./") {
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
}

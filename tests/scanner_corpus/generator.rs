//! A seeded, reproducible corpus for `check --scan`: files in YAML, JSON,
//! dotenv, INI, TOML and source formats, holding planted secrets of many
//! kinds (each labelled with its file and lines) among clean lines that
//! include look-alikes (hashes, UUIDs, lock-file integrity hashes, base64
//! images, placeholders, documented example keys, versions, URLs without
//! passwords).
//!
//! Token prefixes are assembled at run time so that this file does not
//! itself hold scanner matches.

use super::common::rng::Rng;

const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const DIGITS: &str = "0123456789";
const HEX: &str = "0123456789abcdef";
const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const BECH32: &str = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L";
const PUNCT: &str = "!#$%&*+-=?@^_~.,;:|";

/// The formats files are written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
    Dotenv,
    Ini,
    Toml,
    Python,
    JavaScript,
    Go,
    Shell,
}

pub const FORMATS: [Format; 9] = [
    Format::Yaml,
    Format::Json,
    Format::Dotenv,
    Format::Ini,
    Format::Toml,
    Format::Python,
    Format::JavaScript,
    Format::Go,
    Format::Shell,
];

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
            Format::Dotenv => "env",
            Format::Ini => "ini",
            Format::Toml => "toml",
            Format::Python => "py",
            Format::JavaScript => "js",
            Format::Go => "go",
            Format::Shell => "sh",
        }
    }
}

/// The kinds of planted secrets.
pub const KINDS: &[&str] = &[
    "aws-access-key-id",
    "aws-secret-access-key",
    "gcp-service-account-key",
    "azure-storage-connection-string",
    "azure-storage-key",
    "github-token",
    "gitlab-token",
    "slack-token",
    "slack-webhook",
    "stripe-key",
    "sendgrid-key",
    "twilio-key",
    "npm-token",
    "pypi-token",
    "google-api-key",
    "pem-rsa-private-key",
    "pem-ec-private-key",
    "openssh-private-key",
    "age-secret-key",
    "database-url",
    "amqp-url",
    "redis-url",
    "jwt",
    "generic-high-entropy",
    "password-with-punctuation",
];

/// One planted secret: lines `first..=last` (1-based) of `file`.
#[derive(Debug, Clone)]
pub struct Label {
    pub file: String,
    pub first: usize,
    pub last: usize,
    pub kind: &'static str,
}

/// One generated file.
pub struct File {
    pub name: String,
    pub text: String,
}

pub struct Corpus {
    pub files: Vec<File>,
    pub labels: Vec<Label>,
}

/// A secret to place: a name suggestion and a value (single line), or a
/// block of lines (PEM keys).
enum Secret {
    Value { name: String, value: String },
    Block { name: String, lines: Vec<String> },
}

fn snake_to_camel(name: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for c in name.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.push(c.to_ascii_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The key name as written in a format's usual style.
fn styled(format: Format, name: &str) -> String {
    match format {
        Format::Dotenv | Format::Shell => name.to_ascii_uppercase(),
        Format::JavaScript | Format::Go => snake_to_camel(name),
        Format::Python => name.to_string(),
        _ => name.to_string(),
    }
}

/// A single-line assignment of `value` to `name` in `format`.
fn assign(rng: &mut Rng, format: Format, name: &str, value: &str) -> String {
    let key = styled(format, name);
    match format {
        Format::Yaml => {
            let plain = value
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
                && !value.contains(": ")
                && !value.contains(" #");
            if plain && rng.percent(50) {
                format!("  {key}: {value}")
            } else if rng.percent(50) && !value.contains('\'') {
                format!("  {key}: '{value}'")
            } else {
                format!("  {key}: \"{value}\"")
            }
        }
        Format::Json => format!("  \"{key}\": \"{value}\","),
        Format::Dotenv => {
            if rng.percent(50) {
                format!("{key}={value}")
            } else {
                format!("{key}=\"{value}\"")
            }
        }
        Format::Ini => format!("{key} = {value}"),
        Format::Toml => format!("{key} = \"{value}\""),
        Format::Python => format!("{} = \"{value}\"", key.to_ascii_uppercase()),
        Format::JavaScript => {
            if rng.percent(50) {
                format!("const {key} = '{value}';")
            } else {
                format!("  {key}: \"{value}\",")
            }
        }
        Format::Go => {
            if rng.percent(50) {
                format!("\t{key} := \"{value}\"")
            } else {
                format!("\tconst {key} = \"{value}\"")
            }
        }
        Format::Shell => {
            if rng.percent(50) {
                format!("export {key}='{value}'")
            } else {
                format!("{key}=\"{value}\"")
            }
        }
    }
}

/// A multi-line block assigned to `name`.
fn block(format: Format, name: &str, lines: &[String]) -> Vec<String> {
    let key = styled(format, name);
    match format {
        Format::Yaml => {
            let mut out = vec![format!("  {key}: |")];
            out.extend(lines.iter().map(|l| format!("    {l}")));
            out
        }
        Format::Json | Format::JavaScript | Format::Go => {
            let joined = lines.join("\\n");
            vec![match format {
                Format::Json => format!("  \"{key}\": \"{joined}\\n\","),
                Format::JavaScript => format!("const {key} = \"{joined}\\n\";"),
                _ => format!("\t{key} := \"{joined}\\n\""),
            }]
        }
        Format::Dotenv | Format::Shell | Format::Toml | Format::Ini => {
            let mut out = Vec::new();
            match format {
                Format::Toml => out.push(format!("{key} = \"\"\"")),
                Format::Ini => out.push(format!("[{key}]")),
                _ => out.push(format!("{}=\"", key.to_ascii_uppercase())),
            }
            out.extend(lines.iter().cloned());
            match format {
                Format::Toml => out.push("\"\"\"".into()),
                Format::Ini => {}
                _ => out.push("\"".into()),
            }
            out
        }
        Format::Python => {
            let mut out = vec![format!("{} = \"\"\"", key.to_ascii_uppercase())];
            out.extend(lines.iter().cloned());
            out.push("\"\"\"".into());
            out
        }
    }
}

fn pem(rng: &mut Rng, label: &str, body_lines: usize) -> Vec<String> {
    let mut lines = vec![format!("-----BEGIN {label}-----")];
    for i in 0..body_lines {
        let len = if i + 1 == body_lines {
            20 + rng.below(40)
        } else {
            64
        };
        lines.push(rng.string(B64, len));
    }
    lines.push(format!("-----END {label}-----"));
    lines
}

/// A password as users and generators write them: letters, digits and
/// punctuation, sometimes ending in `!`.
fn password(rng: &mut Rng) -> String {
    let len = 10 + rng.below(10);
    let all = format!("{UPPER}{LOWER}{DIGITS}{PUNCT}");
    let mut p: Vec<char> = rng.string(&all, len).chars().collect();
    // At least one of each class, at random places.
    for class in [UPPER, LOWER, DIGITS, PUNCT] {
        let at = rng.below(p.len());
        p[at] = rng.string(class, 1).chars().next().unwrap();
    }
    if !p[0].is_ascii_alphanumeric() {
        p[0] = rng.string(LOWER, 1).chars().next().unwrap();
    }
    let mut s: String = p.into_iter().collect();
    if rng.percent(25) {
        s.push('!');
    }
    s
}

fn planted(rng: &mut Rng, kind: &str) -> Secret {
    let v = |name: &str, value: String| Secret::Value {
        name: name.to_string(),
        value,
    };
    let b32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    match kind {
        "aws-access-key-id" => {
            let prefix = rng.pick(&["AK", "AS"]);
            let prefix = format!("{prefix}IA");
            v(
                rng.pick(&["aws_access_key_id", "access_key", "aws_key"]),
                format!("{prefix}{}", rng.string(b32, 16)),
            )
        }
        "aws-secret-access-key" => v(
            rng.pick(&[
                "aws_secret_access_key",
                "secret_access_key",
                "aws_secret_key",
            ]),
            rng.string(B64, 40),
        ),
        "gcp-service-account-key" => {
            let body = pem(rng, "PRIVATE KEY", 26);
            Secret::Block {
                name: "private_key".into(),
                lines: body,
            }
        }
        "azure-storage-connection-string" => {
            let account = format!("st{}", rng.string(LOWER, 8));
            let key = format!("{}==", rng.string(B64, 86));
            let value = if rng.percent(70) {
                format!(
                    "DefaultEndpointsProtocol=https;AccountName={account};AccountKey={key};EndpointSuffix=core.windows.net"
                )
            } else {
                format!(
                    "Endpoint=sb://{account}.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={}=",
                    rng.string(B64, 43)
                )
            };
            v(
                rng.pick(&["storage_connection_string", "azure_connection", "conn"]),
                value,
            )
        }
        "azure-storage-key" => v(
            rng.pick(&["azure_storage_key", "storage_account_key", "account_key"]),
            format!("{}==", rng.string(B64, 86)),
        ),
        "github-token" => {
            let value = if rng.percent(80) {
                let p = rng.pick(&["p", "o", "u", "s", "r"]);
                format!("gh{p}_{}", rng.string(ALNUM, 36))
            } else {
                format!("github_{}_{}", "pat", rng.string(&format!("{ALNUM}_"), 82))
            };
            v(
                rng.pick(&["github_token", "gh_auth", "ci_credential"]),
                value,
            )
        }
        "gitlab-token" => v(
            rng.pick(&["gitlab_token", "ci_job_auth", "registry_credential"]),
            format!("gl{}-{}", "pat", rng.string(&format!("{ALNUM}_-"), 20)),
        ),
        "slack-token" => {
            let p = rng.pick(&["b", "p", "a"]);
            v(
                rng.pick(&["slack_token", "bot", "slack"]),
                format!(
                    "xox{p}-{}-{}-{}",
                    rng.string(DIGITS, 12),
                    rng.string(DIGITS, 13),
                    rng.string(ALNUM, 24)
                ),
            )
        }
        "slack-webhook" => v(
            rng.pick(&["webhook_url", "slack_webhook", "notify"]),
            format!(
                "https://hooks.{}.com/services/T{}/B{}/{}",
                "slack",
                rng.string(&format!("{UPPER}{DIGITS}"), 8),
                rng.string(&format!("{UPPER}{DIGITS}"), 10),
                rng.string(ALNUM, 24)
            ),
        ),
        "stripe-key" => {
            let p = rng.pick(&["sk", "rk"]);
            v(
                rng.pick(&["stripe_key", "payments", "stripe_secret"]),
                format!("{p}_{}_{}", "live", rng.string_var(ALNUM, 24, 75)),
            )
        }
        "sendgrid-key" => v(
            rng.pick(&["sendgrid_api_key", "mail_credential", "sendgrid"]),
            format!(
                "{}.{}.{}",
                "SG",
                rng.string(B64URL, 22),
                rng.string(B64URL, 43)
            ),
        ),
        "twilio-key" => v(
            rng.pick(&["twilio_api_key", "twilio_sid_key", "sms_credential"]),
            format!("{}{}", "SK", rng.string(HEX, 32)),
        ),
        "npm-token" => v(
            rng.pick(&["npm_token", "registry_auth", "npm"]),
            format!("{}_{}", "npm", rng.string(ALNUM, 36)),
        ),
        "pypi-token" => v(
            rng.pick(&["pypi_token", "twine_password", "publish_credential"]),
            format!(
                "{}-AgEIcHlwaS5vcmc{}",
                "pypi",
                rng.string_var(B64URL, 60, 100)
            ),
        ),
        "google-api-key" => v(
            rng.pick(&["google_api_key", "maps_key", "firebase"]),
            format!("{}{}", "AIza", rng.string(B64URL, 35)),
        ),
        "pem-rsa-private-key" => Secret::Block {
            name: rng.pick(&["tls_key", "private_key", "signing"]).to_string(),
            lines: pem(rng, "RSA PRIVATE KEY", 25),
        },
        "pem-ec-private-key" => Secret::Block {
            name: rng
                .pick(&["ec_key", "jwt_signing", "server_key"])
                .to_string(),
            lines: pem(rng, "EC PRIVATE KEY", 3),
        },
        "openssh-private-key" => Secret::Block {
            name: rng
                .pick(&["ssh_key", "deploy_key", "id_ed25519"])
                .to_string(),
            lines: pem(rng, "OPENSSH PRIVATE KEY", 7),
        },
        "age-secret-key" => v(
            rng.pick(&["age_key", "sops_age_key", "identity"]),
            format!("{}-SECRET-KEY-1{}", "AGE", rng.string(BECH32, 58)),
        ),
        "database-url" => {
            let scheme = rng.pick(&[
                "postgres",
                "postgresql",
                "mysql",
                "mongodb+srv",
                "mongodb",
                "mssql",
            ]);
            let user = rng.pick(&["app", "admin", "svc_orders", "root"]);
            let host = rng.pick(&["db.internal", "10.0.3.12", "pg.prod.example.net"]);
            let pass = if rng.percent(50) {
                password(rng)
                    .replace(['@', '/', ':', '#', '?'], "")
                    .replace('%', "%25")
            } else {
                rng.string_var(ALNUM, 16, 16)
            };
            v(
                rng.pick(&["database_url", "dsn", "db"]),
                format!("{scheme}://{user}:{pass}@{host}:5432/app"),
            )
        }
        "amqp-url" => v(
            rng.pick(&["amqp_url", "broker_url", "celery_broker"]),
            format!(
                "amqp{}://{}:{}@rabbit.internal:5672/vhost",
                if rng.percent(50) { "s" } else { "" },
                rng.pick(&["guest_worker", "app", "celery"]),
                rng.string(ALNUM, 20)
            ),
        ),
        "redis-url" => {
            let pass = rng.string(ALNUM, 24);
            let value = if rng.percent(50) {
                format!("redis://:{pass}@cache.internal:6379/0")
            } else {
                format!("rediss://default:{pass}@cache.internal:6380")
            };
            v(rng.pick(&["redis_url", "cache", "session_store"]), value)
        }
        "jwt" => {
            let header = rng.pick(&[
                "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
                "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ",
            ]);
            v(
                rng.pick(&["bearer", "id_token", "session"]),
                format!(
                    "{header}.eyJ{}.{}",
                    rng.string_var(B64URL, 40, 80),
                    rng.string(B64URL, 43)
                ),
            )
        }
        "generic-high-entropy" => {
            let value = match rng.below(3) {
                0 => rng.string(HEX, 64),
                1 => rng.string_var(ALNUM, 32, 16),
                _ => rng.string(B64, 44),
            };
            v(
                rng.pick(&[
                    "client_secret",
                    "secret_key",
                    "api_key",
                    "auth_token",
                    "webhook_secret",
                    "signing_secret",
                    "encryption_key",
                    "access_token",
                    "twilio_auth_token",
                ]),
                value,
            )
        }
        "password-with-punctuation" => v(
            rng.pick(&[
                "password",
                "db_password",
                "admin_pass",
                "passwd",
                "smtp_password",
                "pwd",
                "root_password",
                "passphrase",
            ]),
            password(rng),
        ),
        other => panic!("unknown kind {other}"),
    }
}

/// Lines that must not be reported: ordinary configuration and code, and
/// look-alikes of secrets.
fn clean_line(rng: &mut Rng, format: Format) -> String {
    let uuid = |rng: &mut Rng| {
        format!(
            "{}-{}-4{}-a{}-{}",
            rng.string(HEX, 8),
            rng.string(HEX, 4),
            rng.string(HEX, 3),
            rng.string(HEX, 3),
            rng.string(HEX, 12)
        )
    };
    // Look-alikes as (name, value) pairs, written in the file's format.
    let pair: (String, String) = match rng.below(48) {
        0 => ("commit".into(), rng.string(HEX, 40)),
        1 => ("sha".into(), rng.string(HEX, 40)),
        2 => ("revision".into(), rng.string(HEX, 40)),
        3 => (
            "image".into(),
            format!("registry.example.com/app@sha256:{}", rng.string(HEX, 64)),
        ),
        4 => ("request_id".into(), uuid(rng)),
        5 => ("tenant_id".into(), uuid(rng)),
        6 => (
            "integrity".into(),
            format!("sha512-{}==", rng.string(B64, 86)),
        ),
        7 => ("integrity".into(), format!("sha1-{}=", rng.string(B64, 27))),
        8 => (
            "logo".into(),
            format!("data:image/png;base64,iVBORw0KGgo{}", rng.string(B64, 120)),
        ),
        9 => ("password".into(), "changeme".into()),
        10 => ("api_key".into(), "<your-api-key>".into()),
        11 => ("token".into(), "${GITHUB_TOKEN}".into()),
        12 => ("secret".into(), "xxxxxxxxxxxxxxxxxxxx".into()),
        13 => (
            "aws_access_key_id".into(),
            format!("{}IOSFODNN7EXAMPLE", "AKIA"),
        ),
        14 => (
            "aws_secret_access_key".into(),
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        ),
        15 => (
            "version".into(),
            format!(
                "{}.{}.{}-rc.{}+build.{}",
                rng.below(10),
                rng.below(30),
                rng.below(99),
                rng.below(9),
                rng.below(999)
            ),
        ),
        16 => (
            "repository".into(),
            format!("https://git@github.com/org/{}.git", rng.string(LOWER, 8)),
        ),
        17 => (
            "database_url".into(),
            "postgres://app@db.internal:5432/app".into(),
        ),
        18 => (
            "database_url".into(),
            "postgres://app:${DB_PASSWORD}@db:5432/app".into(),
        ),
        19 => ("redis_url".into(), "redis://localhost:6379/0".into()),
        20 => (
            "endpoint".into(),
            format!(
                "https://api.example.com:8443/v{}/items?page=2",
                rng.below(4)
            ),
        ),
        21 => ("password".into(), "{{ vault_db_password }}".into()),
        22 => ("password_file".into(), "/run/secrets/db_password".into()),
        23 => (
            "token_endpoint".into(),
            "https://oauth2.example.com/token".into(),
        ),
        24 => (
            "max_tokens".into(),
            format!("{}", 256 * (1 + rng.below(16))),
        ),
        25 => (
            "password_min_length".into(),
            format!("{}", 8 + rng.below(8)),
        ),
        26 => ("secret_name".into(), "prod/orders/db-credentials".into()),
        27 => ("checksum".into(), rng.string(HEX, 64)),
        28 => ("etag".into(), format!("W/{}", rng.string(HEX, 32))),
        29 => ("password".into(), "".into()),
        30 => ("client_secret".into(), "your-client-secret-here".into()),
        31 => ("api_token".into(), "REPLACE_ME".into()),
        32 => (
            "public_key".into(),
            format!(
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{} deploy@ci",
                rng.string(B64, 43)
            ),
        ),
        33 => ("color".into(), format!("#{}", rng.string(HEX, 6))),
        34 => (
            "ca_bundle".into(),
            format!(
                "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t{}",
                rng.string(B64, 200)
            ),
        ),
        35 => ("session_cookie_name".into(), "__Host-session".into()),
        36 => ("trace_id".into(), rng.string(HEX, 32)),
        37 => (
            "build".into(),
            format!("{}-{}", rng.below(99999), rng.string(HEX, 7)),
        ),
        38 => (
            "node_version".into(),
            format!("v{}.{}.{}", 16 + rng.below(6), rng.below(20), rng.below(10)),
        ),
        39 => ("password".into(), "${DB_PASSWORD}".into()),
        40 => ("secret".into(), "<secret>".into()),
        41 => ("token".into(), "****************".into()),
        42 => (
            "password_hash".into(),
            format!("$2b$12${}", rng.string(B64, 53)),
        ),
        43 => ("auth_method".into(), "token".into()),
        44 => ("secret_ref".into(), "secretRef: db-credentials".into()),
        45 => (
            "cache_key".into(),
            format!("v{}-{}", rng.below(9), rng.string(HEX, 16)),
        ),
        46 => ("object_id".into(), rng.string(HEX, 24)),
        _ => (
            "docs".into(),
            format!(
                "https://docs.example.com/guide/{}#section-{}",
                rng.string(LOWER, 6),
                rng.below(9)
            ),
        ),
    };
    // Half the lines are plain configuration or code.
    if rng.percent(55) {
        return filler(rng, format);
    }
    // Harder look-alikes: references, templates and labels under
    // password and token names.
    if rng.percent(20) {
        let tricky: (&str, &str) = match rng.below(16) {
            0 => ("password", "${{ secrets.DB_PASSWORD }}"),
            1 => ("password", "$(DB_PASSWORD)"),
            2 => ("password", "%{db_password}"),
            3 => ("password", "********"),
            4 => ("password_regex", "^(?=.*[A-Z])(?=.*[0-9]).{8,}$"),
            5 => ("password", "Mot de passe"),
            6 => ("password_label", "Password:"),
            7 => ("password", "Must contain 1 upper-case letter & 1 digit!"),
            8 => ("token_type", "Bearer"),
            9 => ("token_ttl", "1h30m"),
            10 => ("secret", "true"),
            11 => ("pwd", "/home/deploy/app-2"),
            12 => ("api_key_header", "X-Api-Key"),
            13 => ("password", "vault:secret/data/db#password"),
            14 => (
                "secret",
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbC123",
            ),
            _ => (
                "client_secret",
                "projects/my-project-123/secrets/oauth/versions/4",
            ),
        };
        return assign(rng, format, tricky.0, tricky.1);
    }
    assign(rng, format, &pair.0, &pair.1)
}

/// Ordinary lines: plain settings, code and comments.
fn filler(rng: &mut Rng, format: Format) -> String {
    let word = |rng: &mut Rng| {
        rng.pick(&[
            "server",
            "replicas",
            "timeout",
            "region",
            "name",
            "enabled",
            "port",
            "retries",
            "log_level",
            "queue",
            "bucket",
            "workers",
            "user",
            "owner",
            "path",
            "mode",
        ])
        .to_string()
    };
    let value = |rng: &mut Rng| match rng.below(6) {
        0 => format!("{}", rng.below(10000)),
        1 => rng
            .pick(&["true", "false", "info", "debug", "eu-west-1", "us-east-2"])
            .to_string(),
        2 => format!(
            "{}-{}",
            rng.pick(&["api", "worker", "web"]),
            rng.string(LOWER, 5)
        ),
        3 => format!("/var/lib/{}/data", rng.string(LOWER, 6)),
        4 => format!("{}s", rng.below(120)),
        _ => rng
            .pick(&["orders", "payments", "default", "primary"])
            .to_string(),
    };
    let code: &[&str] = match format {
        Format::Python => &[
            "    password = getpass.getpass(\"Password: \")",
            "    api_key = var.api_key",
            "def handler(event, context):",
            "    password = os.environ[\"DB_PASSWORD\"]",
            "    token = request.headers.get(\"Authorization\")",
            "    api_key = settings.API_KEY",
            "    secret = get_secret(\"prod/orders\")",
            "    return {\"statusCode\": 200}",
            "import os",
            "    if password == confirm_password:",
            "# TODO: rotate the token every 90 days",
            "    self.password = password",
        ],
        Format::JavaScript => &[
            "const token = req.headers.authorization;",
            "const password = process.env.DB_PASSWORD;",
            "module.exports = { handler };",
            "  if (!apiKey) throw new Error('missing api key');",
            "const secret = await client.getSecretValue({ SecretId: name });",
            "  password: config.get('db.password'),",
            "// the token expires after one hour",
            "import { createHash } from 'crypto';",
        ],
        Format::Go => &[
            "\tpassword := r.FormValue(\"password\")",
            "\ttoken := os.Getenv(\"GITHUB_TOKEN\")",
            "\tpassword := cfg.Database.Password",
            "\tif err != nil {",
            "\t\treturn nil, fmt.Errorf(\"load secret: %w\", err)",
            "\t}",
            "func main() {",
            "\tapiKey := flag.String(\"api-key\", \"\", \"the API key\")",
            "\tsecret, err := sm.GetSecretValue(ctx, input)",
        ],
        Format::Shell => &[
            "set -euo pipefail",
            "PASSWORD=\"$(cat /run/secrets/db_password)\"",
            "TOKEN=$(vault kv get -field=token secret/ci)",
            "if [ -z \"${API_KEY:-}\" ]; then",
            "  echo \"missing API_KEY\" >&2",
            "fi",
            "export AWS_PROFILE=prod",
            "curl -fsS -H \"Authorization: Bearer $TOKEN\" \"$URL\"",
        ],
        _ => &[],
    };
    if !code.is_empty() && rng.percent(50) {
        return rng.pick(code).to_string();
    }
    let comment = match format {
        Format::Json => None,
        Format::Go | Format::JavaScript => Some("//"),
        Format::Ini => Some(";"),
        _ => Some("#"),
    };
    if let Some(c) = comment {
        if rng.percent(15) {
            return format!(
                "{c} {}",
                rng.pick(&[
                    "set the password in the vault, not here",
                    "token rotation happens nightly",
                    "see docs/secrets.md for the api key",
                    "example: password: hunter2",
                    "secret values come from the environment",
                ])
            );
        }
    }
    let (k, v) = (word(rng), value(rng));
    assign(rng, format, &k, &v)
}

/// Generates `files_per_format` files of each format with about
/// `lines_per_file` lines and `secrets_per_file` planted secrets.
pub fn generate(
    seed: u64,
    files_per_format: usize,
    lines_per_file: usize,
    secrets_per_file: usize,
) -> Corpus {
    let mut rng = Rng::new(seed);
    let mut files = Vec::new();
    let mut labels = Vec::new();
    let mut next_kind = 0usize;
    for format in FORMATS {
        for n in 0..files_per_format {
            let name = format!("f{n:03}.{}", format.extension());
            let mut lines: Vec<String> = Vec::new();
            if format == Format::Json {
                lines.push("{".into());
            }
            if format == Format::Ini {
                lines.push("[main]".into());
            }
            // Where secrets go, sorted.
            let mut slots: Vec<usize> = (0..secrets_per_file)
                .map(|_| rng.below(lines_per_file))
                .collect();
            slots.sort_unstable();
            let mut slot = 0;
            for i in 0..lines_per_file {
                while slot < slots.len() && slots[slot] == i {
                    slot += 1;
                    // Kinds in turn so that each is planted about equally.
                    let kind = KINDS[next_kind % KINDS.len()];
                    next_kind += 1;
                    let new_lines = match planted(&mut rng, kind) {
                        Secret::Value { name, value } => {
                            vec![assign(&mut rng, format, &name, &value)]
                        }
                        Secret::Block { name, lines } => block(format, &name, &lines),
                    };
                    let first = lines.len() + 1;
                    lines.extend(new_lines);
                    labels.push(Label {
                        file: name.clone(),
                        first,
                        last: lines.len(),
                        kind,
                    });
                    if format == Format::Ini
                        && matches!(lines.last(), Some(l) if l.starts_with("-----END"))
                    {
                        lines.push("[main]".into());
                    }
                }
                lines.push(clean_line(&mut rng, format));
            }
            if format == Format::Json {
                lines.push("  \"end\": true".into());
                lines.push("}".into());
            }
            let mut text = lines.join("\n");
            text.push('\n');
            files.push(File { name, text });
        }
    }
    Corpus { files, labels }
}

//! AWS KMS master keys against the local moto server (KMS + STS), both ways
//! with the reference sops.
//!
//! Needs `ENSEAL_TEST_AWS_ENDPOINT`, `ENSEAL_TEST_KMS_ARN` and
//! `ENSEAL_TEST_KMS_ARN2` (`eval "$(scripts/test-servers env)"`; scripts/test
//! sets them). Missing in CI → failure; locally → skipped with a note.
//! Every child gets dummy credentials, no IMDS, no shared config files and
//! an endpoint on 127.0.0.1 (see [`Aws::apply`]).

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The moto endpoint and two key ARNs.
struct Aws {
    endpoint: String,
    arn: String,
    arn2: String,
}

const ROLE: &str = "arn:aws:iam::123456789012:role/sops-ci";

impl Aws {
    /// The test server settings, or `None` (locally) with a note.
    fn get() -> Option<Aws> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        match (
            var("ENSEAL_TEST_AWS_ENDPOINT"),
            var("ENSEAL_TEST_KMS_ARN"),
            var("ENSEAL_TEST_KMS_ARN2"),
        ) {
            (Some(endpoint), Some(arn), Some(arn2)) => Some(Aws {
                endpoint,
                arn,
                arn2,
            }),
            _ => {
                let msg = "ENSEAL_TEST_AWS_ENDPOINT / ENSEAL_TEST_KMS_ARN / ENSEAL_TEST_KMS_ARN2 not set \
                           (run `eval \"$(scripts/test-servers env)\"` or scripts/test)";
                unavailable(msg);
                None
            }
        }
    }

    /// The AWS settings every child needs, with `endpoint` as the endpoint.
    fn apply_endpoint<'c>(cmd: &'c mut Command, endpoint: &str) -> &'c mut Command {
        cmd.env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    }

    /// The AWS settings for the moto server.
    fn apply<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        Aws::apply_endpoint(cmd, &self.endpoint)
    }
}

/// Plaintext inputs per format.
const INPUTS: &[(&str, &str)] = &[
    (
        "yaml",
        "db:\n    user: admin\n    password: hunter2\nlist:\n    - 1\n    - two\n",
    ),
    (
        "json",
        "{\n\t\"db\": {\n\t\t\"user\": \"admin\",\n\t\t\"password\": \"hunter2\"\n\t},\n\t\"n\": 3\n}\n",
    ),
    ("env", "USER=admin\nPASSWORD=hunter2\n"),
];

/// `sops encrypt <extra> file` with the reference; returns the encrypted text.
fn sops_encrypt(sb: &Sandbox, aws: &Aws, sops: &Path, name: &str, extra: &[&str]) -> String {
    let out = run(aws
        .apply(&mut sb.sops(sops))
        .arg("encrypt")
        .args(extra)
        .arg(name))
    .ok();
    out.out()
}

/// A port on 127.0.0.1 with nothing listening (bound, then released).
fn unused_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[test]
fn reference_encrypts_enseal_decrypts() {
    let (Some(aws), Some(sops)) = (Aws::get(), require_sops()) else {
        return;
    };
    for (ext, plain) in INPUTS {
        let sb = Sandbox::new();
        let name = format!("secret.{ext}");
        sb.write(&name, plain);
        // Two KMS keys: enseal must be able to use either.
        let keys = format!("{},{}", aws.arn, aws.arn2);
        let enc = sops_encrypt(&sb, &aws, &sops, &name, &["--kms", &keys]);
        assert!(enc.contains(&aws.arn) && enc.contains(&aws.arn2), "{enc}");
        sb.write(&name, &enc);
        let out = run(aws.apply(&mut sb.enseal()).args(["decrypt", &name])).ok();
        assert_eq!(out.out(), *plain, "{ext}");
    }
}

#[test]
fn encryption_context_and_role() {
    let (Some(aws), Some(sops)) = (Aws::get(), require_sops()) else {
        return;
    };
    let sb = Sandbox::new();
    let plain = "a: secret\n";
    sb.write("ctx.yaml", plain);
    let with_role = format!("{}+{ROLE}", aws.arn);
    let enc = sops_encrypt(
        &sb,
        &aws,
        &sops,
        "ctx.yaml",
        &[
            "--kms",
            &with_role,
            "--encryption-context",
            "app:web,env:prod",
        ],
    );
    assert!(enc.contains(&format!("role: {ROLE}")), "{enc}");
    assert!(
        enc.contains("env: prod") && enc.contains("app: web"),
        "{enc}"
    );
    sb.write("ctx.yaml", &enc);
    let out = run(aws.apply(&mut sb.enseal()).args(["decrypt", "ctx.yaml"])).ok();
    assert_eq!(out.out(), plain);

    // The context is part of the ciphertext: changing it in the metadata
    // makes KMS refuse, and the error names the key and the cause.
    sb.write("ctx.yaml", enc.replace("env: prod", "env: dev"));
    let start = Instant::now();
    let out = run(aws.apply(&mut sb.enseal()).args(["decrypt", "ctx.yaml"]));
    assert_ne!(out.code, Some(0), "tampered context decrypted");
    let err = out.err();
    assert!(err.contains(&aws.arn), "{err}");
    assert!(err.contains("InvalidCiphertextException"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(30), "{err}");
    // The reference agrees that the tampered file cannot be decrypted.
    let reference = run(aws.apply(&mut sb.sops(&sops)).args(["decrypt", "ctx.yaml"]));
    assert_ne!(reference.code, Some(0));
    assert_eq!(
        out.code,
        reference.code,
        "exit codes differ\n{err}\n{}",
        reference.err()
    );
}

#[test]
fn down_endpoint_fails_in_bounded_time_and_age_still_works() {
    let (Some(aws), Some(sops)) = (Aws::get(), require_sops()) else {
        return;
    };
    let sb = Sandbox::new();
    let plain = "token: abc\n";
    sb.write("mixed.yaml", plain);
    let enc = sops_encrypt(
        &sb,
        &aws,
        &sops,
        "mixed.yaml",
        &["--kms", &aws.arn, "--age", &recipient(1)],
    );
    sb.write("mixed.yaml", &enc);
    let down = format!("http://127.0.0.1:{}", unused_port());

    // KMS first: it fails quickly, then the age key decrypts.
    let start = Instant::now();
    let out = run(Aws::apply_endpoint(&mut sb.enseal(), &down)
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .args(["decrypt", "--decryption-order", "kms,age", "mixed.yaml"]))
    .ok();
    assert_eq!(out.out(), plain);
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );

    // No age key: the error names the ARN and the cause, within bounds.
    let start = Instant::now();
    let out = run(Aws::apply_endpoint(&mut sb.enseal(), &down).args(["decrypt", "mixed.yaml"]));
    let elapsed = start.elapsed();
    assert_ne!(out.code, Some(0));
    let err = out.err();
    assert!(err.contains(&aws.arn), "{err}");
    assert!(
        err.to_lowercase().contains("connection refused") || err.to_lowercase().contains("connect"),
        "{err}"
    );
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}\n{err}");
    let line = err
        .lines()
        .find(|l| l.contains(&aws.arn) && l.contains("failed"))
        .unwrap_or_else(|| panic!("no line naming the ARN\n{err}"));
    assert!(line.len() < 1000, "{line}");

    // An endpoint that accepts connections but never answers: a timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_url = format!("http://{}", silent.local_addr().expect("addr"));
    let start = Instant::now();
    let out =
        run(Aws::apply_endpoint(&mut sb.enseal(), &silent_url).args(["decrypt", "mixed.yaml"]));
    let elapsed = start.elapsed();
    drop(silent);
    assert_ne!(out.code, Some(0));
    let err = out.err();
    assert!(err.contains(&aws.arn) && err.contains("timed out"), "{err}");
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}\n{err}");
}

#[test]
fn missing_credentials_are_reported() {
    let (Some(aws), Some(sops)) = (Aws::get(), require_sops()) else {
        return;
    };
    let sb = Sandbox::new();
    sb.write("s.yaml", "a: 1\n");
    let enc = sops_encrypt(&sb, &aws, &sops, "s.yaml", &["--kms", &aws.arn]);
    sb.write("s.yaml", &enc);
    let start = Instant::now();
    let out = run(sb
        .enseal()
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", &aws.endpoint)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .args(["decrypt", "s.yaml"]));
    assert_ne!(out.code, Some(0));
    let err = out.err();
    assert!(err.contains(&aws.arn), "{err}");
    assert!(err.to_lowercase().contains("credentials"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(30), "{err}");
}

/// enseal writes kms entries that the reference decrypts (needs the
/// `--kms` / `--encryption-context` plumbing of the CLI).
#[test]
fn enseal_encrypts_reference_decrypts() {
    let (Some(aws), Some(sops)) = (Aws::get(), require_sops()) else {
        return;
    };
    for (ext, plain) in INPUTS {
        let sb = Sandbox::new();
        let name = format!("secret.{ext}");
        sb.write(&name, plain);
        let with_role = format!("{}+{ROLE}", aws.arn);
        let keys = format!("{with_role},{}", aws.arn2);
        let out = run(aws.apply(&mut sb.enseal()).args([
            "encrypt",
            "--kms",
            &keys,
            "--encryption-context",
            "team:core",
            &name,
        ]))
        .ok();
        let enc = out.out();
        assert!(enc.contains(&aws.arn) && enc.contains(ROLE), "{enc}");
        sb.write(&name, &enc);
        let back = run(aws.apply(&mut sb.sops(&sops)).args(["decrypt", &name])).ok();
        assert_eq!(back.out(), *plain, "{ext}");
        let back = run(aws.apply(&mut sb.enseal()).args(["decrypt", &name])).ok();
        assert_eq!(back.out(), *plain, "{ext}");
    }
}

/// Decrypting an age-only file never initialises the AWS SDK: with
/// `AWS_CONFIG_FILE` a FIFO nobody writes to, any attempt to load the AWS
/// config would block (checked by hand: a kms file then hangs); the age
/// file still decrypts at once.
#[test]
fn age_only_files_do_not_touch_aws() {
    let Some(sops) = require_sops() else {
        return;
    };
    let sb = Sandbox::new();
    sb.write("age.yaml", "a: b\n");
    let out = run(sb
        .sops(&sops)
        .args(["encrypt", "--age", &recipient(1), "age.yaml"]))
    .ok();
    sb.write("age.yaml", out.out());
    let fifo = sb.root().join("aws-config-fifo");
    let status = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(status.success());
    let start = Instant::now();
    let out = run(Aws::apply_endpoint(&mut sb.enseal(), "http://127.0.0.1:9")
        .env("AWS_CONFIG_FILE", &fifo)
        .env("AWS_SHARED_CREDENTIALS_FILE", &fifo)
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .args(["decrypt", "age.yaml"]))
    .ok();
    assert_eq!(out.out(), "a: b\n");
    assert!(start.elapsed() < Duration::from_secs(10));
}

/// `.sops.yaml` kms keys (flat with a role, and a key group with its own
/// context), then `rotate --add-kms` and `updatekeys`, checked with the
/// reference.
#[test]
fn sops_yaml_rotate_and_updatekeys() {
    let (Some(aws), Some(sops)) = (Aws::get(), require_sops()) else {
        return;
    };
    let sb = Sandbox::new();
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: flat\n    kms: {}+{ROLE}\n  - path_regex: grouped\n    key_groups:\n      - kms:\n          - arn: {}\n            context:\n              team: core\n        age:\n          - {}\n",
            aws.arn,
            aws.arn2,
            recipient(1)
        ),
    );
    sb.write("flat.yaml", "x: one\n");
    sb.write("grouped.yaml", "z: two\n");
    for name in ["flat.yaml", "grouped.yaml"] {
        run(aws.apply(&mut sb.enseal()).args(["encrypt", "-i", name])).ok();
    }
    let grouped = std::fs::read_to_string(sb.path("grouped.yaml")).expect("read");
    assert!(
        grouped.contains("team: core") && grouped.contains(&aws.arn2),
        "{grouped}"
    );
    let out = run(aws
        .apply(&mut sb.sops(&sops))
        .args(["decrypt", "grouped.yaml"]))
    .ok();
    assert_eq!(out.out(), "z: two\n");

    // rotate --add-kms: both keys work for the reference.
    run(aws
        .apply(&mut sb.enseal())
        .args(["rotate", "-i", "--add-kms", &aws.arn2, "flat.yaml"]))
    .ok();
    let flat = std::fs::read_to_string(sb.path("flat.yaml")).expect("read");
    assert_eq!(flat.matches("- arn: arn:aws:kms:").count(), 2, "{flat}");
    assert!(flat.contains(&format!("role: {ROLE}")), "{flat}");
    let out = run(aws
        .apply(&mut sb.sops(&sops))
        .args(["decrypt", "flat.yaml"]))
    .ok();
    assert_eq!(out.out(), "x: one\n");

    // updatekeys back to the rule's single key.
    run(aws
        .apply(&mut sb.enseal())
        .args(["updatekeys", "-y", "flat.yaml"]))
    .ok();
    let flat = std::fs::read_to_string(sb.path("flat.yaml")).expect("read");
    assert_eq!(flat.matches("- arn: arn:aws:kms:").count(), 1, "{flat}");
    let out = run(aws
        .apply(&mut sb.sops(&sops))
        .args(["decrypt", "flat.yaml"]))
    .ok();
    assert_eq!(out.out(), "x: one\n");
}

/// `AWS_ENDPOINT_URL_KMS` and `AWS_ENDPOINT_URL_STS` win over
/// `AWS_ENDPOINT_URL` (here a closed port): a key with a role decrypts only
/// when both service endpoints are used.
#[test]
fn service_specific_endpoints() {
    let (Some(aws), Some(sops)) = (Aws::get(), require_sops()) else {
        return;
    };
    let sb = Sandbox::new();
    sb.write("r.yaml", "k: v\n");
    let with_role = format!("{}+{ROLE}", aws.arn);
    let enc = sops_encrypt(&sb, &aws, &sops, "r.yaml", &["--kms", &with_role]);
    sb.write("r.yaml", enc);
    let down = format!("http://127.0.0.1:{}", unused_port());
    let out = run(Aws::apply_endpoint(&mut sb.enseal(), &down)
        .env("AWS_ENDPOINT_URL_KMS", &aws.endpoint)
        .env("AWS_ENDPOINT_URL_STS", &aws.endpoint)
        .args(["decrypt", "r.yaml"]))
    .ok();
    assert_eq!(out.out(), "k: v\n");
    // Without the STS one, the role cannot be assumed.
    let out = run(Aws::apply_endpoint(&mut sb.enseal(), &down)
        .env("AWS_ENDPOINT_URL_KMS", &aws.endpoint)
        .args(["decrypt", "r.yaml"]));
    assert_ne!(out.code, Some(0));
    let err = out.err();
    assert!(
        err.contains(&format!("failed to assume role '{ROLE}'")),
        "{err}"
    );
}

/// A TLS relay to the moto server: `python3 relay.py CERT KEY HOST PORT`
/// listens on a free 127.0.0.1 port, prints it, and forwards each TLS
/// connection in plain text to HOST:PORT.
const TLS_RELAY: &str = r#"
import socket, ssl, sys, threading
cert, key, host, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(20)
print(ls.getsockname()[1], flush=True)
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except Exception:
        pass
    finally:
        try:
            b.shutdown(socket.SHUT_WR)
        except Exception:
            pass
def handle(c):
    try:
        s = ctx.wrap_socket(c, server_side=True)
    except Exception:
        return
    u = socket.create_connection((host, port))
    threading.Thread(target=pipe, args=(s, u), daemon=True).start()
    pipe(u, s)
while True:
    c, _ = ls.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
"#;

/// Kills the relay when the test ends.
struct Relay(std::process::Child);

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The SDK's TLS (rustls on ring) against an HTTPS endpoint: trusted through
/// `SSL_CERT_FILE` it works; with only the system roots the error names the
/// certificate problem. Needs `openssl` and `python3` (a failure under CI
/// without them).
#[test]
fn https_endpoint_with_a_private_ca() {
    let (Some(aws), Some(sops)) = (Aws::get(), require_sops()) else {
        return;
    };
    let have = |prog: &str, arg: &str| {
        Command::new(prog)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !have("openssl", "version") || !have("python3", "--version") {
        unavailable("openssl and python3 (scripts/install-test-deps installs them)");
        return;
    }
    let sb = Sandbox::new();
    let dir = sb.root().to_path_buf();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=enseal test CA",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write ext");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    std::fs::write(dir.join("relay.py"), TLS_RELAY).expect("write relay");
    let upstream = aws
        .endpoint
        .strip_prefix("http://")
        .expect("moto endpoint is http://");
    let (host, port) = upstream
        .trim_end_matches('/')
        .rsplit_once(':')
        .expect("host:port");
    let mut child = Command::new("python3")
        .args(["relay.py", "leaf.pem", "leaf.key", host, port])
        .current_dir(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start relay");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("relay port");
    let _relay = Relay(child);
    let https = format!("https://localhost:{}", line.trim());

    sb.write("t.yaml", "tls: ok\n");
    let with_role = format!("{}+{ROLE}", aws.arn);
    let enc = sops_encrypt(&sb, &aws, &sops, "t.yaml", &["--kms", &with_role]);
    sb.write("t.yaml", enc);
    let out = run(Aws::apply_endpoint(&mut sb.enseal(), &https)
        .env("SSL_CERT_FILE", dir.join("ca.pem"))
        .args(["decrypt", "t.yaml"]))
    .ok();
    assert_eq!(out.out(), "tls: ok\n");
    let out = run(Aws::apply_endpoint(&mut sb.enseal(), &https).args(["decrypt", "t.yaml"]));
    assert_ne!(out.code, Some(0));
    let err = out.err();
    assert!(
        err.contains(&aws.arn) && err.contains("invalid peer certificate"),
        "{err}"
    );
}

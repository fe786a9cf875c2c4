//! Mixed key groups against the real local servers: age + AWS KMS (moto) +
//! PGP (gpg), one group each, Shamir threshold 2, in both directions with
//! the reference sops; every pair of groups decrypts, one group alone does
//! not.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const PLAIN: &str = "a: 1\nb: secret\nlist:\n    - x\n    - 2.5\nc_unencrypted: clear\n";

struct Env {
    sb: Sandbox,
    sops: PathBuf,
    gpg: PathBuf,
    fpr: String,
    kms_arn: String,
    aws_endpoint: String,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .args(["--kill", "gpg-agent"])
            .env("GNUPGHOME", &self.gpg)
            .output();
    }
}

/// The servers and the reference, or `None` with a note (a failure in CI).
fn setup() -> Option<Env> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (Some(home), Some(fpr), Some(kms_arn), Some(aws_endpoint)) = (
        var("ENSEAL_TEST_GNUPGHOME"),
        var("ENSEAL_TEST_PGP_FPR"),
        var("ENSEAL_TEST_KMS_ARN"),
        var("ENSEAL_TEST_AWS_ENDPOINT"),
    ) else {
        let msg =
            "the local key servers are not set up (run `eval \"$(scripts/test-servers env)\"`)";
        unavailable(msg);
        return None;
    };
    let sops = require_sops()?;
    let sb = Sandbox::new();
    let gpg = sb.root().join("gnupg");
    copy_gpg_home(Path::new(&home), &gpg);
    Some(Env {
        sb,
        sops,
        gpg,
        fpr,
        kms_arn,
        aws_endpoint,
    })
}

/// Which groups' credentials a command gets.
#[derive(Clone, Copy, Debug)]
struct Creds {
    age: bool,
    kms: bool,
    pgp: bool,
}

const ALL: Creds = Creds {
    age: true,
    kms: true,
    pgp: true,
};

impl Env {
    fn with(&self, mut cmd: Command, creds: Creds) -> Command {
        if creds.age {
            cmd.env("SOPS_AGE_KEY_FILE", key_file(1));
        }
        if creds.pgp {
            cmd.env("GNUPGHOME", &self.gpg);
        } else {
            let empty = self.sb.root().join("empty-gnupg");
            private_dir(&empty);
            cmd.env("GNUPGHOME", &empty);
        }
        // Moto accepts any credentials: "no KMS" is a closed loopback port.
        let endpoint = if creds.kms {
            self.aws_endpoint.clone()
        } else {
            "http://127.0.0.1:9".to_string()
        };
        cmd.env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
        cmd
    }
}

#[test]
fn shamir_groups_of_age_kms_and_pgp_both_ways() {
    let Some(env) = setup() else { return };
    env.sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: ['{}']\n      - kms:\n          - arn: {}\n            context:\n              team: infra\n      - pgp: ['{}']\n",
            recipient(1),
            env.kms_arn,
            env.fpr
        ),
    );
    let input = env.sb.write("plain.yaml", PLAIN);
    let by_us = run(env.with(env.sb.enseal(), ALL).arg("encrypt").arg(&input)).ok();
    let by_ref = run(env
        .with(env.sb.sops(&env.sops), ALL)
        .arg("encrypt")
        .arg(&input))
    .ok();
    let pairs = [
        Creds {
            age: true,
            kms: true,
            pgp: false,
        },
        Creds {
            age: true,
            kms: false,
            pgp: true,
        },
        Creds {
            age: false,
            kms: true,
            pgp: true,
        },
    ];
    for (who, out) in [("enseal", &by_us), ("sops", &by_ref)] {
        let text = out.out();
        assert!(text.contains("shamir_threshold: 2"), "{who}: {text}");
        assert!(text.contains(&env.kms_arn), "{who}: {text}");
        assert!(text.contains("team: infra"), "{who}: {text}");
        let file = env.sb.write(&format!("{who}.enc.yaml"), &out.stdout);
        for creds in pairs {
            let mine = run(env.with(env.sb.enseal(), creds).arg("decrypt").arg(&file)).ok();
            assert_eq!(mine.out(), PLAIN, "{who} file, enseal, {creds:?}");
            let theirs = run(env
                .with(env.sb.sops(&env.sops), creds)
                .arg("decrypt")
                .arg(&file))
            .ok();
            assert_eq!(theirs.out(), PLAIN, "{who} file, sops, {creds:?}");
        }
        let only_kms = Creds {
            age: false,
            kms: true,
            pgp: false,
        };
        let out = run(env
            .with(env.sb.enseal(), only_kms)
            .arg("decrypt")
            .arg(&file))
        .code_in(&[128]);
        assert!(out.err().contains("Shamir threshold of 2"), "{}", out.err());
    }
}

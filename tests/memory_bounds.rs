//! Parsing is bounded in memory and time whatever the input: crafted files
//! (alias bombs, large aliased values, merge keys, deep nesting) run
//! through the real binary with its data segment limited to
//! [`MEMORY_LIMIT`] must end in a clean refusal (the sops exit code, one
//! error line and at most a hint), never an abort, a crash or a signal.
//! `filestatus` reads only what it needs: data it never looks at cannot
//! make it fail.

mod common;

use std::os::unix::process::CommandExt;
use std::process::Command;

use common::{key_file, recipient, run, Out, Sandbox};

/// Data-segment limit of every run (heap and anonymous mappings).
const MEMORY_LIMIT: u64 = 512 << 20;

/// CPU-time limit of every run: a safety net that turns a runaway into a
/// signal (a failure below), not a timing assertion.
const CPU_SECONDS: u64 = 120;

/// `cmd` with the memory and CPU limits applied in the child.
fn limited(mut cmd: Command) -> Command {
    // SAFETY: only async-signal-safe calls (setrlimit) between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let set = |resource, limit: u64| {
                let rl = libc::rlimit {
                    rlim_cur: limit as libc::rlim_t,
                    rlim_max: limit as libc::rlim_t,
                };
                if libc::setrlimit(resource, &rl) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            };
            set(libc::RLIMIT_DATA, MEMORY_LIMIT)?;
            set(libc::RLIMIT_CPU, CPU_SECONDS)
        });
    }
    cmd
}

/// Runs `enseal ARGS` in `sb` under the limits, with test key 1 available.
fn enseal(sb: &Sandbox, args: &[&str]) -> Out {
    let mut cmd = sb.enseal();
    cmd.args(args).env("SOPS_AGE_KEY_FILE", key_file(1));
    run(&mut limited(cmd))
}

/// Asserts a clean refusal: exit `code` (not a signal), an error line that
/// names `file` and contains `needle`, and nothing else but a hint.
fn assert_refused(out: &Out, code: i32, file: &str, needle: &str) {
    let err = out.err();
    assert_eq!(
        out.code,
        Some(code),
        "{}: want exit {code}, stderr:\n{err}",
        out.cmdline
    );
    let lines: Vec<&str> = err.lines().collect();
    assert!(!lines.is_empty(), "{}: no error message", out.cmdline);
    assert!(
        lines[0].contains(file) && lines[0].contains(needle),
        "{}: first line should name {file} and say {needle:?}:\n{err}",
        out.cmdline
    );
    assert!(
        lines.len() == 1 || (lines.len() == 2 && lines[1].starts_with("hint: ")),
        "{}: one error line and at most a hint:\n{err}",
        out.cmdline
    );
}

/// Asserts `filestatus` printed this verdict and exited 0.
fn assert_status(out: &Out, encrypted: bool) {
    assert_eq!(
        (out.code, out.out()),
        (Some(0), format!("{{\"encrypted\":{encrypted}}}\n")),
        "{}: stderr:\n{}",
        out.cmdline,
        out.err()
    );
}

/// The classic billion laughs: nine levels of ten aliases (10^9 leaves).
fn billion_laughs() -> String {
    let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let prev = format!("*a{}", i - 1);
        src.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
    }
    src
}

/// About 100 KB: a 50 KB scalar aliased 9,000 times (450 MB expanded, far
/// below any node count limit).
fn aliased_scalar() -> String {
    format!(
        "a: &a {}\nl: [{}]\n",
        "x".repeat(50_000),
        vec!["*a"; 9_000].join(", ")
    )
}

/// A 2,000-key defaults block merged (`<<: *d`) 2,000 times (4M entries).
fn merged_defaults() -> String {
    let mut src = String::from("defaults: &d\n");
    for i in 0..2_000 {
        src.push_str(&format!("  key{i}: value{i}\n"));
    }
    for i in 0..2_000 {
        src.push_str(&format!("s{i}:\n  <<: *d\n"));
    }
    src
}

/// A small encrypted YAML file made by enseal, as text.
fn encrypted_yaml(sb: &Sandbox) -> String {
    sb.write("small.yaml", "secret: value\n");
    let out = enseal(sb, &["encrypt", "--age", &recipient(1), "small.yaml"]).ok();
    out.out()
}

#[test]
fn billion_laughs_is_refused_early() {
    let sb = Sandbox::new();
    sb.write("laughs.yaml", billion_laughs());
    let out = enseal(&sb, &["encrypt", "--age", &recipient(1), "laughs.yaml"]);
    assert_refused(
        &out,
        2,
        "laughs.yaml",
        "excessive aliasing (line 6, column 10)",
    );
    assert!(out.err().contains("\nhint: "), "{}", out.err());
    // No metadata: decrypt says so, as sops does, after reading it whole.
    let out = enseal(&sb, &["decrypt", "laughs.yaml"]);
    assert_refused(&out, 1, "laughs.yaml", "excessive aliasing");
    // filestatus does not copy the data's aliases (sops 3.11 says the same).
    assert_status(&enseal(&sb, &["filestatus", "laughs.yaml"]), false);
}

#[test]
fn large_aliased_values_in_a_small_file_are_refused() {
    let sb = Sandbox::new();
    let text = aliased_scalar();
    assert!(text.len() < 100_000);
    sb.write("amplified.yaml", &text);
    let out = enseal(&sb, &["encrypt", "--age", &recipient(1), "amplified.yaml"]);
    assert_refused(
        &out,
        2,
        "amplified.yaml",
        "excessive aliasing (line 2, column ",
    );
    let out = enseal(&sb, &["decrypt", "amplified.yaml"]);
    assert_refused(&out, 1, "amplified.yaml", "excessive aliasing");
    assert_status(&enseal(&sb, &["filestatus", "amplified.yaml"]), false);
}

/// Anchors that hold aliases of anchors, 250 levels each: a 15 KB file
/// whose tree would nest 7,500 levels deep.
fn stacked_depths() -> String {
    let wrap = |inner: &str| format!("{}{inner}{}", "[".repeat(250), "]".repeat(250));
    let mut src = format!("a0: &a0 {}\n", wrap("x"));
    for k in 1..30 {
        src.push_str(&format!("a{k}: &a{k} {}\n", wrap(&format!("*a{}", k - 1))));
    }
    src
}

#[test]
fn aliases_cannot_nest_values_without_bound() {
    let sb = Sandbox::new();
    sb.write("deep-aliases.yaml", stacked_depths());
    let out = enseal(
        &sb,
        &["encrypt", "--age", &recipient(1), "deep-aliases.yaml"],
    );
    assert_refused(
        &out,
        2,
        "deep-aliases.yaml",
        "excessive aliasing (line 3, column 259): aliases would nest values deeper than 512 levels",
    );
    let out = enseal(&sb, &["decrypt", "deep-aliases.yaml"]);
    assert_refused(&out, 1, "deep-aliases.yaml", "deeper than 512 levels");
    assert_status(&enseal(&sb, &["filestatus", "deep-aliases.yaml"]), false);
}

#[test]
fn duplicate_key_reports_are_bounded() {
    let sb = Sandbox::new();
    // 15 KB: 3,000 copies of a key, 4.5 million pairs yaml.v3 would report.
    sb.write("dups.yaml", "k: 1\n".repeat(3000));
    let out = enseal(&sb, &["encrypt", "--age", &recipient(1), "dups.yaml"]);
    let err = out.err();
    assert_eq!(out.code, Some(2), "{err}");
    assert!(err.starts_with("dups.yaml: "), "{err}");
    assert!(
        err.contains("\n  and 4498480 more mapping keys already defined"),
        "{err}"
    );
    assert!(err.lines().count() <= 25, "{} lines", err.lines().count());
}

#[test]
fn merge_keys_are_bounded_like_any_alias() {
    let sb = Sandbox::new();
    sb.write("merged.yaml", merged_defaults());
    let out = enseal(&sb, &["encrypt", "--age", &recipient(1), "merged.yaml"]);
    assert_refused(&out, 2, "merged.yaml", "excessive aliasing");
    assert_status(&enseal(&sb, &["filestatus", "merged.yaml"]), false);
}

#[test]
fn an_encrypted_file_with_an_alias_bomb_in_its_data() {
    let sb = Sandbox::new();
    // The metadata first, the bomb after it (as a crafted branch could).
    let text = format!("{}{}", encrypted_yaml(&sb), aliased_scalar());
    sb.write("crafted.yaml", &text);
    assert_status(&enseal(&sb, &["filestatus", "crafted.yaml"]), true);
    let out = enseal(&sb, &["decrypt", "crafted.yaml"]);
    assert_refused(&out, 1, "crafted.yaml", "excessive aliasing");
    // `check` (CI) ends with a verdict, not killed for memory: the data
    // that cannot be read is a finding (exit 10), never a silent pass.
    sb.write(
        ".sops.yaml",
        format!("creation_rules:\n  - age: {}\n", recipient(1)),
    );
    let out = enseal(&sb, &["check", "crafted.yaml"]);
    assert_eq!(out.code, Some(10), "check: {}", out.err());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("excessive aliasing"),
        "check: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn legitimate_anchors_still_work_under_the_limits() {
    let sb = Sandbox::new();
    let text = "x-defaults: &defaults\n  restart: always\n  env: {LOG: info}\nservices:\n  web:\n    <<: *defaults\n    image: nginx\n  db:\n    <<: [*defaults, {extra: 1}]\n    image: postgres\nlist:\n  - &item {name: a}\n  - *item\n";
    sb.write("compose.yaml", text);
    let out = enseal(&sb, &["encrypt", "--age", &recipient(1), "compose.yaml"]).ok();
    sb.write("compose.enc.yaml", out.stdout);
    assert_status(&enseal(&sb, &["filestatus", "compose.enc.yaml"]), true);
    let out = enseal(&sb, &["decrypt", "compose.enc.yaml"]).ok();
    // Aliases are expanded (as sops does): each copy is written out.
    assert_eq!(out.out().matches("restart: always").count(), 3);
    assert_eq!(out.out().matches("name: a").count(), 2);
}

/// Deeply nested inputs of every structured format: refused cleanly (a
/// depth limit), never a stack overflow.
#[test]
fn deep_nesting_is_refused_cleanly() {
    let depth = 100_000;
    let cases: Vec<(&str, String)> = vec![
        (
            "flow.yaml",
            format!("a: {}{}\n", "[".repeat(depth), "]".repeat(depth)),
        ),
        (
            "block.yaml",
            (0..10_000)
                .map(|i| format!("{}k:\n", " ".repeat(i)))
                .collect::<String>()
                + &" ".repeat(10_000)
                + "k: v\n",
        ),
        ("seq.yaml", format!("a:\n{}x\n", "- ".repeat(depth))),
        (
            "deep.json",
            format!("{{\"a\": {}{}}}", "[".repeat(depth), "]".repeat(depth)),
        ),
        (
            "objects.json",
            format!("{}1{}", "{\"a\": ".repeat(depth), "}".repeat(depth)),
        ),
        (
            "arrays.toml",
            format!("a = {}{}\n", "[".repeat(depth), "]".repeat(depth)),
        ),
        (
            "inline.toml",
            format!("a = {}1{}\n", "{b = ".repeat(depth), "}".repeat(depth)),
        ),
        (
            "dotted.toml",
            format!("{} = 1\n", vec!["a"; depth].join(".")),
        ),
        (
            "header.toml",
            format!("[{}]\nx = 1\n", vec!["a"; depth].join(".")),
        ),
    ];
    let sb = Sandbox::new();
    for (name, text) in &cases {
        sb.write(name, text);
        let out = enseal(&sb, &["encrypt", "--age", &recipient(1), name]);
        assert_refused(&out, 2, name, "");
        let out = enseal(&sb, &["decrypt", name]);
        assert_refused(&out, 1, name, "");
        let out = enseal(&sb, &["filestatus", name]);
        assert_refused(&out, 1, name, "");
    }
}

/// dotenv and INI read line by line: a large file of many entries is read
/// in memory proportional to it.
#[test]
fn dotenv_and_ini_are_linear() {
    let sb = Sandbox::new();
    let lines = 20_000;
    let env: String = (0..lines).map(|i| format!("K{i}=v{i}\n")).collect();
    let ini: String = (0..lines / 10)
        .map(|i| {
            format!(
                "[s{i}]\n{}",
                (0..9).map(|j| format!("k{j} = v\n")).collect::<String>()
            )
        })
        .collect();
    sb.write("big.env", env);
    sb.write("big.ini", ini);
    for name in ["big.env", "big.ini"] {
        let out = enseal(&sb, &["encrypt", "--age", &recipient(1), name]).ok();
        sb.write(&format!("enc-{name}"), out.stdout);
        assert_status(&enseal(&sb, &["filestatus", &format!("enc-{name}")]), true);
    }
}

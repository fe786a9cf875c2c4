//! YAML comments after the last item of a nested collection (issue #16,
//! "Comments are lost"): sops 3.11 encrypts them under the path of the
//! enclosing mapping and, reading its file back, finds them in the nested
//! collection, so neither sops nor enseal can decrypt them again. enseal
//! encrypts them where a reader finds them (see `settle_trailing_comments`
//! in src/format/yaml/parse.rs); both tools must decrypt every comment.

mod common;

use common::*;

/// A GitHub workflow: commented-out keys after a list that ends a mapping.
const WORKFLOW: &str = "\
name: CI
on:
  push:
    branches:
      - master
    # Run once a week
    #schedule:
    #  - cron: '0 0 * * 0'
jobs:
  build:
    steps:
      - uses: actions/checkout@v4
      - run: cargo test
      # after the last step
    # belongs to build
";

/// The smallest shape the reference itself cannot decrypt.
const MINIMAL: &str = "a:\n  b:\n    - c: d\n  # one\n";

/// Lists nested in lists, the comment at the outer mapping's column.
const NESTED_LISTS: &str = "x:\n  y:\n    - - 1\n      - 2\n  # two\n  # three\n";

const DOCUMENTS: &[(&str, &str)] = &[
    ("workflow", WORKFLOW),
    ("minimal", MINIMAL),
    ("nested_lists", NESTED_LISTS),
];

/// The text of every own-line comment, in order.
fn comment_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix('#'))
        .map(str::to_owned)
        .collect()
}

/// The lines that are not comments.
fn data_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(str::to_owned)
        .collect()
}

fn encrypt(sb: &Sandbox, mut cmd: std::process::Command, name: &str, plain: &str) -> Out {
    let input = sb.write(name, plain);
    run(cmd
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .args(["encrypt", "--age", &recipient(1)])
        .arg(input))
    .ok()
}

fn decrypt(sb: &Sandbox, mut cmd: std::process::Command, name: &str, enc: &[u8]) -> Out {
    let p = sb.write(name, enc);
    run(cmd
        .env("SOPS_AGE_KEY_FILE", key_file(1))
        .arg("decrypt")
        .arg(p))
    .ok()
}

#[test]
fn enseal_encrypted_trailing_comments_decrypt_in_both_tools() {
    let Some(sops) = require_sops() else {
        return;
    };
    for (name, plain) in DOCUMENTS {
        let sb = Sandbox::new();
        let enc = encrypt(&sb, sb.enseal(), &format!("{name}.yaml"), plain);
        let by_ref = decrypt(
            &sb,
            sb.sops(&sops),
            &format!("{name}.enc.yaml"),
            &enc.stdout,
        );
        let by_us = decrypt(&sb, sb.enseal(), &format!("{name}.enc.yaml"), &enc.stdout);
        for (who, out) in [("reference", &by_ref), ("enseal", &by_us)] {
            let text = out.out();
            assert!(
                !text.contains("ENC["),
                "[{name}] {who} decrypt left a comment encrypted:\n{text}\nstderr: {}",
                out.err()
            );
            assert_eq!(
                comment_lines(&text),
                comment_lines(plain),
                "[{name}] {who} decrypt lost or changed a comment:\n{text}"
            );
        }
        assert!(
            !by_us.err().contains("could not be decrypted"),
            "[{name}] enseal warned: {}",
            by_us.err()
        );
        assert_eq!(
            by_us.out(),
            by_ref.out(),
            "[{name}] enseal and the reference decrypt enseal's file differently"
        );
    }
}

#[test]
fn settled_comments_leave_the_data_as_the_reference_writes_it() {
    let Some(sops) = require_sops() else {
        return;
    };
    for (name, plain) in DOCUMENTS {
        let sb = Sandbox::new();
        let ours = encrypt(&sb, sb.enseal(), &format!("{name}.yaml"), plain);
        let theirs = encrypt(&sb, sb.sops(&sops), &format!("{name}.yaml"), plain);
        let ours = decrypt(&sb, sb.sops(&sops), "ours.enc.yaml", &ours.stdout);
        let theirs = decrypt(&sb, sb.sops(&sops), "theirs.enc.yaml", &theirs.stdout);
        assert_eq!(
            data_lines(&ours.out()),
            data_lines(&theirs.out()),
            "[{name}] the data differs from the reference's own round trip"
        );
    }
}

/// The reference's own file stays undecryptable there: enseal keeps the
/// comment as it is and says so, as the reference does.
#[test]
fn reference_files_with_misplaced_comments_are_kept_with_a_warning() {
    let Some(sops) = require_sops() else {
        return;
    };
    let sb = Sandbox::new();
    let enc = encrypt(&sb, sb.sops(&sops), "minimal.yaml", MINIMAL);
    let by_us = decrypt(&sb, sb.enseal(), "ref.enc.yaml", &enc.stdout);
    let text = by_us.out();
    assert!(
        text.contains("#ENC[AES256_GCM,") && text.contains("type:comment]"),
        "the undecryptable comment is not kept as it is:\n{text}"
    );
    assert!(
        by_us
            .err()
            .contains(r#"a comment at ["a"]["b"] could not be decrypted and is kept as it is"#),
        "no warning: {}",
        by_us.err()
    );
}

/// Comments at the end of a document (before `---`, `...` or the end of the
/// input) after the last item of a sequence, right after a `---` in a CR LF
/// file, and at the end of an input without a final line break, where
/// yaml.v3 places them by rules of its own: each case as sops writes it.
const DOCUMENT_END_CASES: &[&str] = &[
    "k5:\n- a\n# c\n",
    "k5:\n- a\n# c\n---\nk6: 1\n",
    "k5:\n- a\n  # c\n---\nk6: 1\n",
    "k5:\n- a\n- b\n# c\n# d\n---\nk6: 1\n",
    "k0: 1\nk5:\n- a\n# c\n---\nk6: 1\n",
    "k5:\n- a\n# c\n...\n",
    "k5:\n- [a]\n# c\n",
    "k5:\n- [a]\n# c\n---\nk6: 1\n",
    "k5:\n  - [a]\n  # c\n---\nk6: 1\n",
    "k5:\n- {a: 1}\n# c\n---\nk6: 1\n",
    "k5:\n- |\n  x\n# c\n---\nk6: 1\n",
    "k5:\n- a\n# c\n\n# d\n---\nk6: 1\n",
    "k5:\n- a: 1\n  # c\n---\nk6: 1\n",
    "k5:\n- a: 1\n# c\n---\nk6: 1\n",
    "a:\n  k5:\n  - x\n  # c\n---\nk6: 1\n",
    "k5:\n  - a\n  # c\n---\nk6: 1\n",
    "k5:\n- a\n# c\n---\nk6: 1\n# e\n---\nk7:\n- b\n  # f\n---\nk8: 2\n",
    // CR LF: the comment line right after `---` ends the previous document.
    "a: 1\r\n---\r\n# c\r\nb: 2\r\n",
    "a: 1\r\n---\r\n# c\r\n# d\r\nb: 2\r\n",
    "a: 1\r\n---\r\n\r\n# c\r\nb: 2\r\n",
    "---\r\n# c\r\nb: 2\r\n",
    "a: 1\r\n---\r\n  # c\r\nb: 2\r\n",
    "a:\r\n- x\r\n---\r\n# c\r\nb: 2\r\n",
    "a:\r\n  b: 1\r\n---\r\n# c\r\nd: 2\r\n",
    "a: 1\n---\n# c\nb: 2\n",
    // No line break after the last comment: the block right below the
    // content goes to the innermost collection when it is a mapping.
    "k:\n- m: A\n# c",
    "k:\n- m: |\n    A\n# c",
    "a:\n  b: >-\n    A\n# c",
    "a:\n  b: |-\n    A\n# c\n# d",
    "a:\n  b: 1\n# c\n\n# d",
    "a:\n  b: 1\n\n# c",
    "a:\n  b:\n    c: 1\n  # x\n# c",
    "a:\n  b: 1\n# c\n---\nz: 1\n# d",
    "k:\n- a\n# c",
    "k9:\n  - '\t'\n# c",
    // CR LF: the comment line right below an indentless sequence's last
    // item, before the next key, is the sequence's foot.
    "k20:\r\n- a\r\n# x\r\nk21: b\r\n",
    "k20:\r\n- a\r\n# x\r\n# y\r\nk21: b\r\n",
    "k20:\r\n- a: 1\r\n# x\r\nk21: b\r\n",
    "k20:\r\n- a\r\n- b\r\n# x\r\nk21: b\r\n",
    "a:\r\n  k20:\r\n  - a\r\n  # x\r\n  k21: b\r\n",
    "k20:\r\n  - a\r\n# x\r\nk21: b\r\n",
    "k20:\r\n- a\r\n\r\n# x\r\nk21: b\r\n",
    "a:\n  - x\n# c",
];

#[test]
fn comments_at_a_document_end_are_where_the_reference_puts_them() {
    let Some(sops) = require_sops() else {
        return;
    };
    for (i, plain) in DOCUMENT_END_CASES.iter().enumerate() {
        let sb = Sandbox::new();
        let name = format!("end{i}.yaml");
        let ours = encrypt(&sb, sb.enseal(), &name, plain);
        let theirs = encrypt(&sb, sb.sops(&sops), &name, plain);
        let expected = decrypt(&sb, sb.sops(&sops), "theirs.enc.yaml", &theirs.stdout).out();
        assert_eq!(
            comment_lines(&expected).len(),
            comment_lines(plain).len(),
            "{plain:?}: the reference itself lost a comment"
        );
        assert!(
            !expected.contains("ENC["),
            "{plain:?}: the reference cannot decrypt its own comment (a case for settle_trailing_comments, not this list)"
        );
        let ours_by_ref = decrypt(&sb, sb.sops(&sops), "ours.enc.yaml", &ours.stdout).out();
        assert_eq!(
            ours_by_ref, expected,
            "{plain:?}: enseal's file, decrypted by sops"
        );
        let theirs_by_us = decrypt(&sb, sb.enseal(), "theirs.enc.yaml", &theirs.stdout).out();
        assert_eq!(
            theirs_by_us, expected,
            "{plain:?}: sops' file, decrypted by enseal"
        );
    }
}

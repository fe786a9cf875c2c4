//! Finding the files of a repository-wide command: the regular files below
//! the given roots that git would not ignore.
//!
//! The walk and the ignore rules are the `ignore` crate's (ripgrep's), set
//! up to answer "would git ignore this file?":
//!
//! - Inside a git work tree (a `.git` directory or file in the root or one
//!   of its ancestors): `.gitignore` files from the top of the work tree
//!   down (also those above a root that is a subdirectory),
//!   `.git/info/exclude` and the global excludes file (`core.excludesFile`,
//!   else `$XDG_CONFIG_HOME/git/ignore` / `~/.config/git/ignore`). A nested
//!   repository (a directory with its own `.git`) starts afresh: the outer
//!   `.gitignore` rules stop at its top, as they do for git.
//! - Outside a work tree: the `.gitignore` files at and below the root only
//!   (nothing above it, no global excludes), as before the `ignore` crate.
//!
//! Not read, unlike ripgrep: `.ignore`, `.rgignore`. Hidden files are
//! walked. `.git`, `target` and `node_modules` are never entered, ignored
//! or not. Symbolic links are never followed below a root (a root that is
//! a link is taken to what it points at), so a walk stays inside the tree.

use std::path::{Component, Path, PathBuf};

use ignore::WalkBuilder;

use crate::error::{Error, Result};

/// Directories never entered by a tree walk.
const SKIPPED_DIRS: [&str; 3] = [".git", "target", "node_modules"];

/// Every regular file under `roots`: files are taken as given (ignored or
/// not), directories walked without following symbolic links, skipping
/// `.git`, `target`, `node_modules` and what git would ignore (see the
/// module doc). Sorted, without duplicates; paths keep the form of the
/// root they came from (`./` removed).
pub(crate) fn walk(roots: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for root in roots {
        let meta = std::fs::metadata(root).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::FileNotFound(std::path::absolute(root).unwrap_or_else(|_| root.clone()))
            } else {
                Error::ReadInput {
                    path: root.display().to_string(),
                    source: e,
                }
            }
        })?;
        if meta.is_dir() {
            walk_dir(root, &mut out);
        } else {
            out.push(tidy(root));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The files below the directory `root` (unreadable directories and
/// unparseable ignore lines are passed over, as git does).
fn walk_dir(root: &Path, out: &mut Vec<PathBuf>) {
    let in_work_tree = inside_git_work_tree(root);
    let mut builder = WalkBuilder::new(root);
    builder
        .standard_filters(false)
        .git_ignore(true)
        .require_git(in_work_tree)
        .parents(in_work_tree)
        .git_exclude(in_work_tree)
        .git_global(in_work_tree)
        .follow_links(false)
        .filter_entry(|entry| {
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            !(is_dir && SKIPPED_DIRS.iter().any(|s| entry.file_name() == *s))
        });
    for entry in builder.build().flatten() {
        if entry.file_type().is_some_and(|t| t.is_file()) {
            out.push(tidy(entry.path()));
        }
    }
}

/// True when `dir` or one of its ancestors holds `.git` (a directory, or
/// the file of a linked work tree or submodule).
fn inside_git_work_tree(dir: &Path) -> bool {
    dir.canonicalize()
        .is_ok_and(|abs| abs.ancestors().any(|d| d.join(".git").exists()))
}

/// `./a/b` → `a/b`.
fn tidy(path: &Path) -> PathBuf {
    let mut components = path.components().peekable();
    while components.peek() == Some(&Component::CurDir) {
        components.next();
    }
    let tidy: PathBuf = components.collect();
    if tidy.as_os_str().is_empty() {
        path.to_path_buf()
    } else {
        tidy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One walk: the files of a tree (a `.gitignore` and `.git/info/exclude`
    /// are files like any other), the directory walked (relative to the
    /// tree) and the files expected back (relative to the tree).
    struct Case {
        name: &'static str,
        files: &'static [(&'static str, &'static str)],
        root: &'static str,
        expected: &'static [&'static str],
    }

    /// Builds each case's tree in a fresh directory and walks it; returns
    /// a line per case whose result differs.
    /// With `work_tree`, each tree gets a `.git` directory first.
    fn mismatches(cases: &[Case], work_tree: bool) -> Vec<String> {
        let mut out = Vec::new();
        for case in cases {
            let dir = tempfile::tempdir().unwrap();
            let tree = dir.path();
            let git: &[(&str, &str)] = if work_tree { &[GIT] } else { &[] };
            for (path, text) in git.iter().chain(case.files) {
                let p = tree.join(path);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, text).unwrap();
            }
            let found: Vec<String> = walk(&[tree.join(case.root)])
                .unwrap()
                .iter()
                .filter(|p| p.file_name().is_some_and(|n| n != ".gitignore"))
                .map(|p| p.strip_prefix(tree).unwrap().display().to_string())
                .collect();
            if found != case.expected {
                out.push(format!(
                    "{}: expected {:?}, found {:?}",
                    case.name, case.expected, found
                ));
            }
        }
        out
    }

    /// Marks a tree as a git work tree.
    const GIT: (&str, &str) = (".git/HEAD", "ref: refs/heads/main\n");

    /// Rules the hand-written engine had as well, outside and inside a
    /// work tree.
    const GITIGNORE_CASES: &[Case] = &[
        Case {
            name: "unanchored name glob at any depth",
            files: &[
                (".gitignore", "*.log\n"),
                ("a/b/x.log", ""),
                ("a/b/x.yaml", ""),
            ],
            root: "",
            expected: &["a/b/x.yaml"],
        },
        Case {
            name: "leading slash anchors to the .gitignore's directory",
            files: &[
                (".gitignore", "/build\n"),
                ("build/x", ""),
                ("a/build/x", ""),
            ],
            root: "",
            expected: &["a/build/x"],
        },
        Case {
            name: "trailing slash matches directories only",
            files: &[(".gitignore", "out/\n"), ("a/out/x", ""), ("b/out", "")],
            root: "",
            expected: &["b/out"],
        },
        Case {
            name: "a slash in the middle anchors",
            files: &[
                (".gitignore", "docs/*.md\n"),
                ("docs/x.md", ""),
                ("a/docs/x.md", ""),
            ],
            root: "",
            expected: &["a/docs/x.md"],
        },
        Case {
            name: "leading **/ matches at any depth",
            files: &[
                (".gitignore", "**/cache\n"),
                ("a/b/cache/x", ""),
                ("a/b/x", ""),
            ],
            root: "",
            expected: &["a/b/x"],
        },
        Case {
            name: "a/**/b matches zero or more directories",
            files: &[
                (".gitignore", "a/**/b\n"),
                ("a/b", ""),
                ("a/x/y/b", ""),
                ("a/x/c", ""),
            ],
            root: "",
            expected: &["a/x/c"],
        },
        Case {
            name: "negation re-includes; the last match wins",
            files: &[
                (".gitignore", "*.env\n!keep.env\n"),
                ("x.env", ""),
                ("keep.env", ""),
            ],
            root: "",
            expected: &["keep.env"],
        },
        Case {
            name: "negation cannot re-include below an ignored directory",
            files: &[
                (".gitignore", "dir/\n!dir/keep\n"),
                ("dir/keep", ""),
                ("x", ""),
            ],
            root: "",
            expected: &["x"],
        },
        Case {
            name: "dir/** ignores the contents, so negation re-includes",
            files: &[
                (".gitignore", "dir/**\n!dir/keep\n"),
                ("dir/keep", ""),
                ("dir/x", ""),
            ],
            root: "",
            expected: &["dir/keep"],
        },
        Case {
            name: "comments, blank lines and classes",
            files: &[
                (".gitignore", "# c\n\nsecret[0-9].txt\n"),
                ("secret1.txt", ""),
                ("secretx.txt", ""),
            ],
            root: "",
            expected: &["secretx.txt"],
        },
        Case {
            name: "nested .gitignore applies below its directory only",
            files: &[
                ("sub/.gitignore", "*.log\n"),
                ("sub/d/x.log", ""),
                ("x.log", ""),
            ],
            root: "",
            expected: &["x.log"],
        },
        Case {
            name: "nested negation overrides the parent",
            files: &[
                (".gitignore", "*.env\n"),
                ("sub/.gitignore", "!keep.env\n"),
                ("keep.env", ""),
                ("sub/keep.env", ""),
            ],
            root: "",
            expected: &["sub/keep.env"],
        },
        Case {
            name: "nested anchored pattern is relative to its directory",
            files: &[
                ("sub/.gitignore", "/x.yaml\n"),
                ("sub/x.yaml", ""),
                ("sub/d/x.yaml", ""),
                ("x.yaml", ""),
            ],
            root: "",
            expected: &["sub/d/x.yaml", "x.yaml"],
        },
        Case {
            name: "target and node_modules are skipped without a .gitignore",
            files: &[
                ("target/x", ""),
                ("node_modules/x", ""),
                ("a/target/x", ""),
                ("targets/x", ""),
            ],
            root: "",
            expected: &["targets/x"],
        },
        Case {
            name: "hidden files are walked",
            files: &[(".env", ""), (".config/x.yaml", "")],
            root: "",
            expected: &[".config/x.yaml", ".env"],
        },
        Case {
            name: "a .ignore file is not git's and is not read",
            files: &[(".ignore", "x\n"), ("x", "")],
            root: "",
            expected: &[".ignore", "x"],
        },
    ];

    #[test]
    fn gitignore_rules_outside_a_work_tree() {
        let bad = mismatches(GITIGNORE_CASES, false);
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    #[test]
    fn gitignore_rules_inside_a_work_tree() {
        let bad = mismatches(GITIGNORE_CASES, true);
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    /// Where the walk follows git and the hand-written engine did not.
    #[test]
    fn git_rules_the_old_engine_missed() {
        let cases = [
            Case {
                name: "a backslash escapes a glob character",
                files: &[(".gitignore", "\\*.yaml\n"), ("*.yaml", ""), ("a.yaml", "")],
                root: "",
                expected: &["a.yaml"],
            },
            Case {
                name: "in a work tree, .gitignore above the root applies",
                files: &[
                    GIT,
                    (".gitignore", "*.log\n"),
                    ("sub/x.log", ""),
                    ("sub/x.yaml", ""),
                ],
                root: "sub",
                expected: &["sub/x.yaml"],
            },
            Case {
                name: "in a work tree, .git/info/exclude applies",
                files: &[
                    GIT,
                    (".git/info/exclude", "*.tmp\n"),
                    ("x.tmp", ""),
                    ("x.yaml", ""),
                ],
                root: "",
                expected: &["x.yaml"],
            },
            Case {
                name: "a nested repository is not governed by the outer .gitignore",
                files: &[
                    GIT,
                    (".gitignore", "*.yaml\n"),
                    ("inner/.git/HEAD", ""),
                    ("inner/x.yaml", ""),
                    ("x.yaml", ""),
                ],
                root: "",
                expected: &["inner/x.yaml"],
            },
        ];
        let bad = mismatches(&cases, false);
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    #[test]
    fn outside_a_work_tree_nothing_above_the_root_applies() {
        let cases = [Case {
            name: "no .git: the parent's .gitignore is not read",
            files: &[(".gitignore", "*.log\n"), ("sub/x.log", "")],
            root: "sub",
            expected: &["sub/x.log"],
        }];
        let bad = mismatches(&cases, false);
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    #[test]
    fn walk_skips_git_target_and_ignored_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in [
            "a.yaml",
            "sub/b.json",
            ".git/config",
            "target/x.yaml",
            "ignored/c.yaml",
            "sub/d.log",
        ] {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        std::fs::write(root.join(".gitignore"), "ignored/\n").unwrap();
        std::fs::write(root.join("sub/.gitignore"), "*.log\n").unwrap();
        let found: Vec<String> = walk(&[root.to_path_buf()])
            .unwrap()
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().display().to_string())
            .collect();
        assert_eq!(
            found,
            [".gitignore", "a.yaml", "sub/.gitignore", "sub/b.json"]
        );
    }

    #[test]
    fn given_files_are_kept_even_when_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join(".gitignore"), "*.log\n").unwrap();
        std::fs::write(root.join("x.log"), "").unwrap();
        let found = walk(&[root.join("x.log"), root.join("x.log")]).unwrap();
        assert_eq!(found, [root.join("x.log")]);
    }

    #[test]
    fn dot_slash_is_removed_and_order_is_sorted() {
        assert_eq!(tidy(Path::new("./a/b")), Path::new("a/b"));
        assert_eq!(tidy(Path::new(".")), Path::new("."));
        assert_eq!(tidy(Path::new("a/./b")), Path::new("a/b"));
    }

    #[cfg(unix)]
    #[test]
    fn symbolic_links_below_a_root_are_not_followed() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.yaml"), "").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("a.yaml"), "").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("linked-dir")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.yaml"), root.join("linked.yaml"))
            .unwrap();
        let found = walk(std::slice::from_ref(&root)).unwrap();
        assert_eq!(found, [root.join("a.yaml")]);
        // A root that is a link is walked where it points.
        let link_root = dir.path().join("link-root");
        std::os::unix::fs::symlink(&root, &link_root).unwrap();
        let found = walk(std::slice::from_ref(&link_root)).unwrap();
        assert_eq!(found, [link_root.join("a.yaml")]);
    }
}

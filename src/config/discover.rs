//! Finding `.sops.yaml` and the Go path emulation it needs: the search
//! from the working directory upwards, `filepath.Clean`, and `os.Getwd`'s
//! view of the working directory.

use std::path::{Component, Path, PathBuf};

use super::{ALTERNATE_CONFIG_NAME, CONFIG_FILE_NAME};

/// How many directories the search visits (the start directory included).
const MAX_DEPTH: usize = 100;

/// The result of searching for a config file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigLookup {
    /// The `.sops.yaml` found, if any.
    pub path: Option<PathBuf>,
    /// The warning to log (once) when a `.sops.yml` was seen on the way.
    pub warning: Option<String>,
}

/// Searches for `.sops.yaml` in `start_dir` (normally the working directory)
/// and its ancestors, 100 directories at most; the first hit wins. A
/// `.sops.yml` is never used, but the first one seen produces a warning.
///
/// An absolute `start_dir` yields absolute paths; a relative one yields
/// paths like `../../.sops.yaml`, as in the reference.
pub fn lookup_config(start_dir: &Path) -> ConfigLookup {
    let mut dir = if start_dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else if start_dir.is_absolute() {
        clean_path(start_dir)
    } else {
        start_dir.to_path_buf()
    };
    let mut alternate: Option<PathBuf> = None;
    for _ in 0..MAX_DEPTH {
        let candidate = join_clean(&dir, CONFIG_FILE_NAME);
        if std::fs::metadata(&candidate).is_ok() {
            let warning = alternate.map(|alt| {
                format!(
                    "ignoring {:?} when searching for config file; the config file must be called {:?}; using {:?} instead",
                    alt.display().to_string(),
                    CONFIG_FILE_NAME,
                    candidate.display().to_string()
                )
            });
            return ConfigLookup {
                path: Some(candidate),
                warning,
            };
        }
        if alternate.is_none() {
            let alt = join_clean(&dir, ALTERNATE_CONFIG_NAME);
            if std::fs::metadata(&alt).is_ok() {
                alternate = Some(alt);
            }
        }
        if dir.is_absolute() {
            match dir.parent() {
                Some(parent) => dir = parent.to_path_buf(),
                None => break, // the root has been checked
            }
        } else {
            dir = dir.join("..");
        }
    }
    ConfigLookup {
        path: None,
        warning: alternate.map(|alt| {
            format!(
                "ignoring {:?} when searching for config file; the config file must be called {:?}",
                alt.display().to_string(),
                CONFIG_FILE_NAME
            )
        }),
    }
}

/// The config file to use: `explicit` (from `--config` or `SOPS_CONFIG`,
/// returned as is, without checking that it exists) or the result of
/// [`lookup_config`] from `start_dir`. Callers that want the `.sops.yml`
/// warning use [`lookup_config`] directly.
pub fn find_config(explicit: Option<&Path>, start_dir: &Path) -> Option<PathBuf> {
    match explicit {
        Some(path) => Some(path.to_path_buf()),
        None => lookup_config(start_dir).path,
    }
}

fn join_clean(dir: &Path, name: &str) -> PathBuf {
    clean_path(&dir.join(name))
}

/// Lexical path cleaning like Go's `filepath.Clean`: drops `.` components,
/// resolves `..` against the preceding component (`/..` is `/`), and gives
/// `.` for an empty result. Symbolic links are not resolved.
pub fn clean_path(path: &Path) -> PathBuf {
    let mut parts: Vec<Component> = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match parts.last() {
                Some(Component::Normal(_)) => {
                    parts.pop();
                }
                Some(Component::RootDir) | Some(Component::Prefix(_)) => {}
                _ => parts.push(component),
            },
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        return PathBuf::from(".");
    }
    parts.iter().collect()
}

/// `path` made absolute against `cwd` (when relative) and cleaned.
pub fn absolute_path(path: &Path, cwd: &Path) -> PathBuf {
    if path.is_absolute() {
        clean_path(path)
    } else {
        clean_path(&cwd.join(path))
    }
}

/// The working directory the way Go's `os.Getwd` reports it: `$PWD` when it
/// is absolute and names the same directory as `.` (so a path through a
/// symbolic link is kept, as in sops), else the resolved directory.
pub fn working_dir() -> std::io::Result<PathBuf> {
    let resolved = std::env::current_dir()?;
    if let Some(pwd) = std::env::var_os("PWD").map(PathBuf::from) {
        if pwd.is_absolute() && same_dir(&pwd, &resolved) {
            return Ok(pwd);
        }
    }
    Ok(resolved)
}

#[cfg(unix)]
pub(super) fn same_dir(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
pub(super) fn same_dir(a: &Path, b: &Path) -> bool {
    a == b
}

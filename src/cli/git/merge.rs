//! `enseal git merge`: the three-way merge driver. Merges the decrypted
//! trees key by key and writes only encrypted data to %A.

use std::path::Path;
use std::process::{Command, Stdio};

use super::{first_line, read, stores, write};
use crate::cli::pipeline::{key_context, load_encrypted};
use crate::document::Opened;
use crate::error::{Error, Result};
use crate::format::{FormatKind, Store};
use crate::keys::KeyContext;
use crate::merge::{self, Keeper};
use crate::tree::Value;

/// Renders a conflicting non-string value in the file's format.
fn render_with(store: &dyn Store, value: &Value) -> String {
    let bytes = match value {
        Value::Map(m) => store.emit_plain(std::slice::from_ref(m)),
        other => store.emit_value(other),
    };
    match bytes {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(_) => format!("({})", value.type_name()),
    }
}

/// Runs the merge driver (`%O %A %B %P`); 0 when merged cleanly, 1 on
/// conflicts.
pub(super) fn merge_driver(
    base_path: &Path,
    ours_path: &Path,
    theirs_path: &Path,
    repo_path: Option<&str>,
    order: Option<&str>,
    config: Option<&str>,
) -> Result<i32> {
    let name = repo_path
        .map(str::to_string)
        .unwrap_or_else(|| ours_path.display().to_string());
    let lock = crate::lock::lock_for_update(ours_path)?;
    let base_bytes = read(base_path)?;
    let ours_bytes = match &lock {
        Some(lock) => lock
            .read()
            .map(|b| b.to_vec())
            .map_err(|source| Error::ReadInput {
                path: ours_path.display().to_string(),
                source,
            })?,
        None => read(ours_path)?,
    };
    let theirs_bytes = read(theirs_path)?;
    // One side unchanged: the other side, byte for byte (no key needed).
    if ours_bytes == theirs_bytes || base_bytes == theirs_bytes {
        return Ok(0);
    }
    if base_bytes == ours_bytes {
        write(ours_path, &theirs_bytes)?;
        return Ok(0);
    }
    let kind = FormatKind::from_path(&name);
    let store = kind.store(&stores(config));
    // The layout of ours is kept when the config asks for it (`stores:`).
    let preserve = crate::cli::io::ConfigContext::load(config)
        .ok()
        .and_then(|c| crate::cli::pipeline::preserve_mode(false, &c, kind, kind).ok())
        .unwrap_or(false);
    let plain = |bytes: &[u8]| {
        store
            .parse_encrypted(bytes)
            .is_ok_and(|f| f.metadata.is_none())
    };
    if plain(&ours_bytes) && plain(&theirs_bytes) {
        // Neither side is encrypted: git's own line merge.
        return merge_plain_text(base_path, ours_path, theirs_path, &name);
    }
    let mut keys = key_context(order)?;
    let open = |bytes: &[u8], side: &str, keys: &mut KeyContext| -> Result<Opened> {
        let label = format!("{name} ({side})");
        let doc = load_encrypted(store.as_ref(), bytes, &label)?;
        doc.open(keys, false)
            .map_err(crate::cli::pipeline::located(&label))
    };
    let ours = open(&ours_bytes, "ours", &mut keys)?;
    let theirs = open(&theirs_bytes, "theirs", &mut keys)?;
    let base = if base_bytes.is_empty() {
        None
    } else {
        match open(&base_bytes, "base", &mut keys) {
            Ok(b) => Some(b),
            Err(e) => {
                eprintln!(
                    "warning: {name}: cannot decrypt the common ancestor ({}); merging without it",
                    first_line(&e.to_string())
                );
                None
            }
        }
    };
    for warning in ours.warnings.iter().chain(&theirs.warnings) {
        crate::cli::io::warn(format_args!("{name}: {warning}"));
    }
    let render = |v: &Value| render_with(store.as_ref(), v);
    let merged = merge::merge_documents(
        base.as_ref().map(|b| b.documents.as_slice()),
        &ours.documents,
        &theirs.documents,
        &render,
    );
    let plan = merge::plan_metadata(
        base.as_ref().map(|b| &b.metadata),
        &ours.metadata,
        &theirs.metadata,
    );
    // What a kept layout is rebuilt from: ours as it is.
    let ours_kept = preserve.then(|| (ours.encrypted_documents().to_vec(), ours.documents.clone()));
    let merged_plain = if preserve {
        merged.documents.clone()
    } else {
        Vec::new()
    };
    let out = if plan.fresh_data_key {
        // Theirs changed the master keys or the data key: its data key was
        // made on another branch and is not adopted, and ours' may be held
        // by a recipient theirs removed. A new one, every value re-encrypted.
        let (groups, threshold) = match plan.keeper {
            Keeper::Ours => (&ours.metadata.key_groups, ours.metadata.shamir_threshold),
            Keeper::Theirs => (
                &theirs.metadata.key_groups,
                theirs.metadata.shamir_threshold,
            ),
        };
        let mut like = ours.metadata.clone();
        like.rule = plan.rule.clone();
        like.mac_only_encrypted = plan.mac_only_encrypted;
        let out = crate::document::encrypt_like(merged.documents, groups.clone(), threshold, &like)
            .map_err(|e| e.in_file(&name))?;
        eprintln!(
            "note: {name}: theirs changed the master keys or the data key: the merged file has a new data key (every value encrypted again)"
        );
        out
    } else {
        let mut ours = ours;
        ours.metadata.rule = plan.rule.clone();
        ours.metadata.mac_only_encrypted = plan.mac_only_encrypted;
        ours.reencrypt_always(merged.documents)?
    };
    let kept = ours_kept.and_then(|(encrypted, plain)| {
        let kept = crate::cli::pipeline::Kept {
            kind,
            bytes: &ours_bytes,
            encrypted: &encrypted,
            plain: &plain,
        };
        // A merge that cannot be written in ours' layout is not lost: it
        // is written in the normal layout, with a warning.
        kept.rewrite(&merged_plain, &out, &name)
            .map_err(|e| {
                crate::cli::io::warn(format_args!(
                    "{name}: the merge is written in the normal layout: {}",
                    first_line(&e.to_string())
                ))
            })
            .ok()
    });
    let bytes = match kept {
        Some(bytes) => bytes,
        None => store
            .emit_encrypted(&out.documents, &out.metadata.to_map())
            .map_err(|e| Error::Dump(e.to_string()))?,
    };
    write(ours_path, &bytes)?;
    for conflict in &plan.conflicts {
        eprintln!("CONFLICT (metadata): {name}: {conflict}");
    }
    for path in &merged.conflicts {
        eprintln!("CONFLICT (value): {name}: {path} changed on both sides");
    }
    if merged.conflicts.is_empty() && plan.conflicts.is_empty() {
        return Ok(0);
    }
    if !merged.conflicts.is_empty() {
        eprintln!(
            "hint: resolve with `enseal edit {name}` (each conflicting value shows both sides between <<<<<<< ours and >>>>>>> theirs), then `git add {name}`"
        );
    }
    Ok(1)
}

/// `git merge-file` for files that are not encrypted on either side.
fn merge_plain_text(base: &Path, ours: &Path, theirs: &Path, name: &str) -> Result<i32> {
    eprintln!("note: {name}: not encrypted on either side; merged as text");
    let status = Command::new("git")
        .args(["merge-file", "-L", "ours", "-L", "base", "-L", "theirs"])
        .arg(ours)
        .arg(base)
        .arg(theirs)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| Error::Usage(format!("cannot run git merge-file: {e}")))?;
    Ok(if status.success() { 0 } else { 1 })
}

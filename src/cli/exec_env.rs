//! `enseal exec-env FILE COMMAND`: run a command with the decrypted values
//! in its environment. No decrypted byte is written to disk.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::CommandExt;

use super::args::ExecEnvCmd;
use super::exec::{decrypt_file, wait_forwarding, Forwarder, Program, User};
use crate::error::{Error, Result};
use crate::format::dotenv::scalar_text;
use crate::format::{FormatKind, StoreOptions};
use crate::tree::{Map, Value};

/// Runs the command; returns the exit code enseal should exit with.
pub(crate) fn run(cmd: ExecEnvCmd) -> Result<i32> {
    let program = Program::from_args(cmd.command, cmd.argv)?;
    let (Some(file), Some(program)) = (cmd.file, program) else {
        return Err(Error::Usage("error: missing file to decrypt".into()));
    };
    if cmd.same_process && cmd.background {
        return Err(Error::ConflictingParameters(
            "The --same-process flag cannot be used with --background".into(),
        ));
    }
    let user = cmd.user.as_deref().map(User::lookup).transpose()?;
    let store = FormatKind::from_path(&file).store(&StoreOptions::default());
    let documents = decrypt_file(&file, store.as_ref(), cmd.order.decryption_order.as_deref())?;
    let empty = Map::new();
    let vars = env_vars(documents.first().unwrap_or(&empty), cmd.flatten.as_deref())?;
    drop(documents);

    let mut command = program.command();
    if cmd.pristine {
        command.env_clear();
    }
    for name in &cmd.unset {
        command.env_remove(name);
    }
    if let Some(user) = &user {
        command.envs(user.env());
        user.apply(&mut command);
    }
    command.envs(vars);

    if cmd.same_process {
        let err = command.exec();
        return Ok(program.start_failed(&err));
    }
    if cmd.background {
        super::io::warn("--background is deprecated: the command keeps running after enseal exits");
        return Ok(match command.spawn() {
            Ok(_) => 0,
            Err(e) => program.start_failed(&e),
        });
    }
    let forwarder = Forwarder::install()?;
    forwarder.prepare(&mut command);
    match command.spawn() {
        Ok(child) => wait_forwarding(child, forwarder),
        Err(e) => Ok(program.start_failed(&e)),
    }
}

/// The environment variables of a document: its top-level entries, or with
/// `flatten` (the separator) every leaf of nested mappings and lists, named
/// by its path joined with the separator (list items by their index).
pub(crate) fn env_vars(doc: &Map, flatten: Option<&str>) -> Result<Vec<(OsString, OsString)>> {
    let mut out: Vec<(OsString, OsString)> = Vec::new();
    for (key, value) in doc.entries() {
        match flatten {
            None => push_var(&mut out, key, value, key, false)?,
            Some(sep) => flatten_into(&mut out, key.to_string(), value, sep)?,
        }
    }
    Ok(out)
}

fn flatten_into(
    out: &mut Vec<(OsString, OsString)>,
    name: String,
    value: &Value,
    sep: &str,
) -> Result<()> {
    match value {
        Value::Map(m) => {
            for (k, v) in m.entries() {
                flatten_into(out, format!("{name}{sep}{k}"), v, sep)?;
            }
            Ok(())
        }
        Value::List(items) => {
            let mut index = 0;
            for item in items {
                if matches!(item, Value::Comment(_)) {
                    continue;
                }
                flatten_into(out, format!("{name}{sep}{index}"), item, sep)?;
                index += 1;
            }
            Ok(())
        }
        leaf => push_var(out, &name, leaf, &name, true),
    }
}

fn push_var(
    out: &mut Vec<(OsString, OsString)>,
    name: &str,
    value: &Value,
    key: &str,
    unique: bool,
) -> Result<()> {
    if name.is_empty() {
        return Err(Error::Usage(
            "cannot use an empty key as an environment variable name".into(),
        ));
    }
    if name.contains('=') {
        return Err(Error::Usage(format!(
            "cannot use keys with '=' in environment: {name}"
        )));
    }
    if name.contains('\0') {
        return Err(Error::Usage(format!(
            "cannot use keys with NUL bytes in environment: {}",
            name.escape_default()
        )));
    }
    let bytes = match value {
        Value::Bytes(b) => b.clone(),
        other => scalar_text(other)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "cannot use complex value in environment; offending key {key}\n\
                     hint: --flatten turns nested values into NAME_CHILD variables"
                ))
            })?
            .into_bytes(),
    };
    if bytes.contains(&0) {
        return Err(Error::Usage(format!(
            "the value of {name} contains a NUL byte, which environment variables cannot hold"
        )));
    }
    if unique
        && out
            .iter()
            .any(|(n, _)| n.as_encoded_bytes() == name.as_bytes())
    {
        return Err(Error::Usage(format!(
            "flattening gives the variable {name} twice; rename one of the keys"
        )));
    }
    out.push((OsString::from(name), OsString::from_vec(bytes)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Map {
        let mut inner = Map::new();
        inner.push("host", Value::Str("db".into()));
        inner.push("port", Value::Int(5432));
        let mut m = Map::new();
        m.push("S", Value::Str("a\nb".into()));
        m.push("F", Value::Float(1000.0));
        m.push("N", Value::Null);
        m.push("B", Value::Bool(true));
        m.push("db", Value::Map(inner));
        m.push(
            "list",
            Value::List(vec![Value::Str("x".into()), Value::Float(1.5)]),
        );
        m
    }

    fn text(vars: &[(OsString, OsString)]) -> Vec<String> {
        vars.iter()
            .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
            .collect()
    }

    #[test]
    fn top_level_scalars_as_text() {
        let mut m = doc();
        m.remove("db");
        m.remove("list");
        assert_eq!(
            text(&env_vars(&m, None).unwrap()),
            ["S=a\nb", "F=1000.0", "N=<nil>", "B=true"]
        );
    }

    #[test]
    fn complex_values_are_refused_without_flatten() {
        let err = env_vars(&doc(), None).unwrap_err().to_string();
        assert!(
            err.starts_with("cannot use complex value in environment; offending key db"),
            "{err}"
        );
    }

    #[test]
    fn flatten_joins_paths() {
        assert_eq!(
            text(&env_vars(&doc(), Some("_")).unwrap()),
            [
                "S=a\nb",
                "F=1000.0",
                "N=<nil>",
                "B=true",
                "db_host=db",
                "db_port=5432",
                "list_0=x",
                "list_1=1.5"
            ]
        );
        let mut m = Map::new();
        m.push("a_b", Value::Str("1".into()));
        let mut inner = Map::new();
        inner.push("b", Value::Str("2".into()));
        m.push("a", Value::Map(inner));
        let err = env_vars(&m, Some("_")).unwrap_err().to_string();
        assert!(err.contains("a_b twice"), "{err}");
        assert!(env_vars(&m, Some("__")).is_ok());
    }

    #[test]
    fn bad_names_are_refused() {
        let mut m = Map::new();
        m.push("A=B", Value::Str("x".into()));
        assert_eq!(
            env_vars(&m, None).unwrap_err().to_string(),
            "cannot use keys with '=' in environment: A=B"
        );
        let mut m = Map::new();
        m.push("", Value::Str("x".into()));
        assert!(env_vars(&m, None).is_err());
        let mut m = Map::new();
        m.push("A", Value::Str("x\0y".into()));
        assert!(env_vars(&m, None).is_err());
    }
}

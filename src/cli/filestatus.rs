//! `enseal filestatus`: `{"encrypted":true}` when the file has sops
//! metadata with a version and a MAC.

use super::args::{InputTypeArg, IoArgs, TypeArgs};
use super::io::{read_input, ConfigContext};
use crate::error::{Error, Result};
use crate::format::FormatKind;

pub(crate) fn run(file: &str, input_type: Option<&str>, config_path: Option<&str>) -> Result<()> {
    // Only parsing happens here: the config's indents are not checked.
    let stores = ConfigContext::load(config_path)?.stores();
    let io = IoArgs {
        types: TypeArgs {
            input: InputTypeArg {
                input_type: input_type.map(str::to_string),
            },
            ..Default::default()
        },
        ..Default::default()
    };
    // sops ends with exit 1 when the file cannot be read (missing,
    // unreadable), not with the 100 of the other commands.
    let input = read_input(Some(file), &io).map_err(|e| {
        Error::Usage(format!(
            "cannot check file status: cannot load encrypted file: {e}"
        ))
    })?;
    let (kind, _) = io.types.kinds(&input.type_path);
    // YAML: only the metadata is read in full (aliases in the data are not
    // copied), so a crafted file costs no more than its size here (in
    // `check`, textconv and the merge driver too).
    let metadata = match kind {
        FormatKind::Yaml => crate::format::yaml::parse_encrypted_metadata(&input.bytes),
        _ => kind
            .store(&stores)
            .parse_encrypted(&input.bytes)
            .map(|parsed| parsed.metadata),
    }
    .map_err(|e| {
        Error::Usage(format!(
            "cannot check file status: cannot load encrypted file: {}: {e}",
            input.name
        ))
    })?;
    let text = |k: &str| {
        metadata
            .as_ref()
            .and_then(|m| m.get(k))
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let encrypted = !text("version").is_empty() && !text("mac").is_empty();
    println!("{{\"encrypted\":{encrypted}}}");
    Ok(())
}

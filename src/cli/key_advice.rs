//! The data key of a file could not be recovered: instead of sops' report
//! (a block per key), one line saying which age identities were found and
//! where (public keys only), which recipients the file has, and the one
//! action that helps. Cases it cannot tell apart keep sops' report;
//! `--verbose` and a start as `sops` always show the report.

use std::str::FromStr;

use crate::error::{shown, Error};
use crate::keys::age::{default_key_file, AgeEnv};

/// What the age identity sources of this process hold (never a secret).
#[derive(Default)]
struct Found {
    /// Public keys of the secret keys found, with where they came from.
    keys: Vec<(String, String)>,
    /// A public key (recipient) where a secret key belongs, and where.
    public_in_identities: Option<(String, String)>,
    /// Something this summary cannot judge (SSH keys, plugins, commands,
    /// passphrase-protected or malformed files).
    unclear: bool,
    /// Where identities were looked for.
    looked: Vec<String>,
}

/// `report` (sops' text, exit 128) told as one cause and one fix for the
/// file `name`, when the file's keys are age recipients only and the
/// cause is clear; else the report unchanged.
pub(crate) fn explain(report: String, name: &str) -> Error {
    let error = Error::RetrieveKey(report);
    let Error::RetrieveKey(report) = &error else {
        unreachable!()
    };
    let groups = report.lines().filter(|l| l.starts_with("Group ")).count();
    let recipients: Vec<&str> = report
        .lines()
        .filter_map(|l| l.strip_prefix("  ")?.strip_suffix(": FAILED"))
        .collect();
    if groups != 1 || recipients.is_empty() || !recipients.iter().all(|r| r.starts_with("age1")) {
        return error;
    }
    // Through key services the cause is the service's (unreachable,
    // refused): the full report names it.
    let services = crate::keys::key_services();
    if !services.remote.is_empty() || !services.local {
        return error;
    }
    let found = find_identities(&AgeEnv::from_process());
    if found.unclear {
        return error;
    }
    let name = shown(name).into_owned();
    let listed = list(&recipients);
    let verbose = "(--verbose before the command shows each key tried)";
    if let Some((public, place)) = &found.public_in_identities {
        let message = format!(
            "{name}: cannot decrypt: {place} holds {public}, a public key (recipient), not an identity"
        );
        return error.explained(
            message,
            format!("this is a public key (recipient); the identity file needs the secret key AGE-SECRET-KEY-1… (age-keygen writes it; age-keygen -y KEYFILE prints its public key) {verbose}"),
        );
    }
    if found.keys.is_empty() {
        let message = format!(
            "{name}: cannot decrypt: no age identity found (looked in {}); the file's recipients: {listed}",
            found.looked.join(", ")
        );
        let default = default_key_file()
            .map(|p| shown(&p.display().to_string()).into_owned())
            .unwrap_or_else(|| "~/.config/sops/age/keys.txt".into());
        return error.explained(
            message,
            format!("set SOPS_AGE_KEY_FILE=<your key file> or put your key in {default} {verbose}"),
        );
    }
    if found
        .keys
        .iter()
        .any(|(k, _)| recipients.contains(&k.as_str()))
    {
        return error; // a recipient's key is here: something else failed
    }
    let yours: Vec<String> = found
        .keys
        .iter()
        .map(|(k, place)| format!("{k} ({place})"))
        .collect();
    let message = if yours.len() == 1 {
        format!(
            "{name}: cannot decrypt: your age key {} is not a recipient of this file; its recipients: {listed}",
            yours[0]
        )
    } else {
        format!(
            "{name}: cannot decrypt: none of your age keys {} is a recipient of this file; its recipients: {listed}",
            yours.join(", ")
        )
    };
    let hint = format!(
        "someone who can decrypt it runs `enseal rotate -i --add-age {} {name}` {verbose}",
        found.keys[0].0
    );
    error.explained(message, hint)
}

/// At most three recipients, then how many more.
fn list(recipients: &[&str]) -> String {
    let mut text = recipients
        .iter()
        .take(3)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if recipients.len() > 3 {
        text.push_str(&format!(" and {} more", recipients.len() - 3));
    }
    text
}

/// Reads the age identity sources the way decryption does, keeping only
/// public keys.
fn find_identities(env: &AgeEnv) -> Found {
    let mut found = Found::default();
    if env.ssh_private_key_file.is_some()
        || env.ssh_private_key_cmd.is_some()
        || env.key_cmd.is_some()
    {
        found.unclear = true;
        return found;
    }
    if let Some(home) = &env.home {
        if ["id_ed25519", "id_rsa"]
            .iter()
            .any(|n| home.join(".ssh").join(n).exists())
        {
            found.unclear = true;
            return found;
        }
    }
    found.looked.push("SOPS_AGE_KEY".into());
    if let Some(text) = &env.key {
        scan(text.as_bytes(), "SOPS_AGE_KEY", &mut found);
    }
    found.looked.push("SOPS_AGE_KEY_FILE".into());
    if let Some(path) = &env.key_file {
        let place = format!("SOPS_AGE_KEY_FILE={}", shown(&path.display().to_string()));
        match std::fs::read(path) {
            Ok(data) => scan(&zeroize::Zeroizing::new(data), &place, &mut found),
            Err(_) => found.unclear = true,
        }
    }
    if let Some(path) = &env.default_key_file {
        let place = shown(&path.display().to_string()).into_owned();
        found.looked.push(place.clone());
        match std::fs::read(path) {
            Ok(data) => scan(&zeroize::Zeroizing::new(data), &place, &mut found),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(_) => found.unclear = true,
        }
    }
    found
}

/// Adds what one identities text holds: public keys of its X25519 secret
/// keys, a public key in its place, or `unclear` for anything else.
#[allow(deprecated)] // X25519 recipients: the keys sops files have
fn scan(data: &[u8], place: &str, found: &mut Found) {
    let Ok(text) = std::str::from_utf8(data) else {
        found.unclear = true;
        return;
    };
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        for word in line.split_whitespace() {
            if word.starts_with('#') {
                break;
            }
            if word.starts_with("AGE-SECRET-KEY-1") {
                match age::x25519::Identity::from_str(word) {
                    Ok(id) => found.keys.push((id.to_public().to_string(), place.into())),
                    Err(_) => found.unclear = true,
                }
            } else if word.starts_with("age1") && age::x25519::Recipient::from_str(word).is_ok() {
                found
                    .public_in_identities
                    .get_or_insert_with(|| (word.to_string(), place.to_string()));
            } else {
                found.unclear = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_texts_give_public_keys_only() {
        let id = age::x25519::Identity::generate();
        let public = id.to_public().to_string();
        let secret = {
            use age::secrecy::ExposeSecret;
            id.to_string().expose_secret().to_string()
        };
        let mut found = Found::default();
        scan(format!("# c\n{secret}\n").as_bytes(), "here", &mut found);
        assert_eq!(found.keys, [(public.clone(), "here".to_string())]);
        assert!(!found.unclear && found.public_in_identities.is_none());
        let mut found = Found::default();
        scan(format!("{public}\n").as_bytes(), "there", &mut found);
        assert_eq!(found.public_in_identities, Some((public, "there".into())));
        let mut found = Found::default();
        scan(b"AGE-PLUGIN-YUBIKEY-1XYZ\n", "p", &mut found);
        assert!(found.unclear);
    }

    #[test]
    fn other_key_types_keep_the_report() {
        let report = "Failed\n\nGroup 0: FAILED\n  arn:aws:kms:x: FAILED\n    - | no\n".to_string();
        assert!(matches!(explain(report, "f.yaml"), Error::RetrieveKey(_)));
    }
}

use super::discover::same_dir;
use super::*;
use crate::format::json::JsonStore;
use crate::tree::Item;

const R1: &str = "age1lzd99uklcjnc0e7d860axevet2cz99ce9pq6tzuzd05l5nr28ams36nvun";
const R2: &str = "age1afnrdrkyvy0sl5e08t9ffs4c7g5e5npc8luf7hjc77syewg5gajsls4r90";
const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000";
const ROLE: &str = "arn:aws:iam::111122223333:role/sops";

/// A config document written as JSON (same tree as the YAML would give).
fn doc(json: &str) -> Map {
    let mut docs = JsonStore::new(&StoreOptions::default())
        .parse_plain(json.as_bytes())
        .expect("test JSON");
    docs.remove(0)
}

fn config(json: &str) -> Config {
    Config::from_document(Path::new("/proj/.sops.yaml"), &doc(json)).expect("config")
}

fn config_err(json: &str) -> ConfigError {
    Config::from_document(Path::new("/proj/.sops.yaml"), &doc(json)).expect_err("error")
}

/// The rule for `/proj/<rel>` (config in /proj).
fn rule<'c>(c: &'c Config, rel: &str) -> Result<&'c CreationRule, ConfigError> {
    c.rule_for(&Path::new("/proj").join(rel), Path::new("/proj"))
        .map(|r| r.expect("has creation rules"))
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

// --- discovery --------------------------------------------------------

#[test]
fn explicit_config_is_used_without_search() {
    let dir = tempfile::tempdir().unwrap();
    let explicit = Path::new("/nonexistent/custom.yaml");
    assert_eq!(
        find_config(Some(explicit), dir.path()),
        Some(explicit.to_path_buf())
    );
}

#[test]
fn search_goes_up_and_first_hit_wins() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let deeper = root.join("sub/deeper");
    std::fs::create_dir_all(&deeper).unwrap();
    std::fs::write(root.join(".sops.yaml"), "").unwrap();
    assert_eq!(find_config(None, &deeper), Some(root.join(".sops.yaml")));
    std::fs::write(root.join("sub/.sops.yaml"), "").unwrap();
    assert_eq!(
        find_config(None, &deeper),
        Some(root.join("sub/.sops.yaml"))
    );
    assert_eq!(
        find_config(None, &root.join("sub")),
        Some(root.join("sub/.sops.yaml"))
    );
}

#[test]
fn sops_yml_is_ignored_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let sub = root.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(sub.join(".sops.yml"), "").unwrap();
    let alone = lookup_config(&sub);
    // Nothing above the temp dir is expected to have a .sops.yaml.
    if alone.path.is_none() {
        assert_eq!(
                alone.warning.unwrap(),
                format!(
                    "ignoring {:?} when searching for config file; the config file must be called \".sops.yaml\"",
                    sub.join(".sops.yml").display().to_string()
                )
            );
    }
    std::fs::write(root.join(".sops.yaml"), "").unwrap();
    let found = lookup_config(&sub);
    assert_eq!(found.path, Some(root.join(".sops.yaml")));
    assert_eq!(
            found.warning.unwrap(),
            format!(
                "ignoring {:?} when searching for config file; the config file must be called \".sops.yaml\"; using {:?} instead",
                sub.join(".sops.yml").display().to_string(),
                root.join(".sops.yaml").display().to_string()
            )
        );
}

#[test]
fn start_dir_with_dot_dot_is_cleaned_first() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("a/b/c")).unwrap();
    std::fs::write(root.join("a/.sops.yaml"), "").unwrap();
    // Lexically `a/b/c/..` is `a/b`, whose parent holds the config.
    let start = root.join("a/b/c/..");
    assert_eq!(find_config(None, &start), Some(root.join("a/.sops.yaml")));
    let start = root.join("a/b/c/../.");
    assert_eq!(find_config(None, &start), Some(root.join("a/.sops.yaml")));
}

#[test]
fn clean_path_is_lexical() {
    assert_eq!(clean_path(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
    assert_eq!(clean_path(Path::new("/../x")), PathBuf::from("/x"));
    assert_eq!(clean_path(Path::new("../x/..")), PathBuf::from(".."));
    assert_eq!(clean_path(Path::new("a/..")), PathBuf::from("."));
    assert_eq!(
        absolute_path(Path::new("../s.yaml"), Path::new("/p/q")),
        PathBuf::from("/p/s.yaml")
    );
}

// --- key fields ---------------------------------------------------------

#[test]
fn comma_string_with_spaces_and_empty_entries() {
    let c = config(&format!(
        r#"{{"creation_rules": [{{"age": " {R1} ,\n {R2}, ,", "pgp": "AB CD, EF01,"}}]}}"#
    ));
    let r = rule(&c, "x.yaml").unwrap();
    assert!(!r.uses_key_groups);
    assert_eq!(r.key_groups.len(), 1);
    assert_eq!(r.key_groups[0].age, strings(&[R1, R2]));
    assert_eq!(r.key_groups[0].pgp, strings(&["ABCD", "EF01"]));
}

#[test]
fn list_items_may_hold_commas_and_empty_items_are_kept() {
    let c = config(&format!(
        r#"{{"creation_rules": [
                {{"path_regex": "a", "age": ["{R1}, {R2}", "{R1}"]}},
                {{"path_regex": "b", "age": ["{R1}", ""]}},
                {{"path_regex": "c", "age": [""]}},
                {{"path_regex": "d", "age": ""}}
            ]}}"#
    ));
    // No de-duplication outside key_groups (the reference keeps both).
    assert_eq!(
        rule(&c, "a").unwrap().key_groups[0].age,
        strings(&[R1, R2, R1])
    );
    // An empty item after a non-empty one reaches the recipient parser.
    assert_eq!(rule(&c, "b").unwrap().key_groups[0].age, strings(&[R1, ""]));
    assert!(rule(&c, "c").unwrap().key_groups[0].is_empty());
    assert!(rule(&c, "d").unwrap().key_groups[0].is_empty());
}

#[test]
fn rule_without_keys_has_one_empty_group() {
    let c = config(r#"{"creation_rules": [{}]}"#);
    let r = rule(&c, "x").unwrap();
    assert_eq!(r.key_groups, vec![KeyGroupSpec::default()]);
    assert_eq!(r.shamir_threshold, 0);
    assert_eq!(r.rule, None);
    assert!(!r.mac_only_encrypted);
    let c = config(r#"{"creation_rules": [null]}"#);
    assert_eq!(
        rule(&c, "x").unwrap().key_groups,
        vec![KeyGroupSpec::default()]
    );
}

#[test]
fn flat_kms_with_role_and_profile_and_other_types() {
    let c = config(&format!(
        r#"{{"creation_rules": [{{
                "kms": "{ARN}+{ROLE}, {ARN}",
                "aws_profile": "prod",
                "gcp_kms": ["projects/p/locations/l/keyRings/r/cryptoKeys/k", " projects/q "],
                "azure_keyvault": "https://v.vault.azure.net/keys/k/ver1, https://w.vault.azure.net/keys/n",
                "hc_vault_transit_uri": ["https://vault:8200/v1/transit/keys/k", ""],
                "hckms": ["eu-west-0:1234, ", " ap-1:5678"]
            }}]}}"#
    ));
    let g = &rule(&c, "x").unwrap().key_groups[0];
    assert_eq!(
        g.kms,
        vec![
            KmsSpec {
                arn: ARN.into(),
                role: ROLE.into(),
                context: None,
                aws_profile: "prod".into()
            },
            KmsSpec {
                arn: ARN.into(),
                role: String::new(),
                context: None,
                aws_profile: "prod".into()
            },
        ]
    );
    assert_eq!(
        g.gcp_kms,
        strings(&[
            "projects/p/locations/l/keyRings/r/cryptoKeys/k",
            "projects/q"
        ])
    );
    assert_eq!(
        g.azure_kv,
        vec![
            AzureKvSpec {
                vault_url: "https://v.vault.azure.net".into(),
                name: "k".into(),
                version: "ver1".into()
            },
            AzureKvSpec {
                vault_url: "https://w.vault.azure.net".into(),
                name: "n".into(),
                version: String::new()
            },
        ]
    );
    assert_eq!(
        g.hc_vault,
        strings(&["https://vault:8200/v1/transit/keys/k"])
    );
    assert_eq!(g.hckms, strings(&["eu-west-0:1234", "ap-1:5678"]));
    assert!(g.age.is_empty() && g.pgp.is_empty());
    assert_eq!(g.len(), 9);
}

#[test]
fn bad_azure_url_fails_only_the_selected_rule() {
    let c = config(
        r#"{"creation_rules": [
                {"path_regex": "bad", "azure_keyvault": "http://v/keys/k"},
                {"age": "x"}
            ]}"#,
    );
    assert!(rule(&c, "ok").is_ok());
    let e = rule(&c, "bad").unwrap_err();
    assert_eq!(
            e.to_string(),
            "could not parse \"http://v/keys/k\" into a valid Azure Key Vault MasterKey [] (config file /proj/.sops.yaml, creation_rules[0].azure_keyvault)"
        );
}

#[test]
fn key_field_of_wrong_type_fails_only_the_selected_rule() {
    let c = config(
        r#"{"creation_rules": [
                {"path_regex": "int", "age": 5},
                {"path_regex": "list", "pgp": ["A", 7]},
                {"path_regex": "map", "kms": {"a": "b"}},
                {"path_regex": "grouped", "age": 5, "key_groups": [{"pgp": ["A"]}]},
                {"age": "x"}
            ]}"#,
    );
    assert!(rule(&c, "other").is_ok());
    assert_eq!(
        rule(&c, "int").unwrap_err(),
        ConfigError::InvalidKey {
            path: "/proj/.sops.yaml".into(),
            at: "creation_rules[0].age".into(),
            message: "invalid age key configuration: expected string, []string, or nil, got int"
                .into(),
        }
    );
    assert_eq!(
            rule(&c, "list").unwrap_err().to_string(),
            "invalid pgp key configuration: expected string in list, got int (config file /proj/.sops.yaml, creation_rules[1].pgp)"
        );
    assert!(rule(&c, "map")
            .unwrap_err()
            .to_string()
            .starts_with("invalid kms key configuration: expected string, []string, or nil, got map[string]interface {}"));
    // With key_groups the per-type fields are not even looked at.
    assert_eq!(
        rule(&c, "grouped").unwrap().key_groups[0].pgp,
        strings(&["A"])
    );
}

// --- key groups -----------------------------------------------------------

#[test]
fn key_groups_with_shamir_threshold() {
    let c = config(&format!(
        r#"{{"creation_rules": [{{
                "path_regex": "^secrets/shared/",
                "shamir_threshold": 2,
                "age": "{R2}",
                "key_groups": [
                    {{"age": ["{R1}"]}},
                    {{"age": ["{R2}, {R1}", ""], "pgp": ["FBC7 B9E2"]}},
                    {{"kms": [{{"arn": "{ARN}", "role": "{ROLE}", "context": {{"Environment": "production", "n": 1}}, "aws_profile": "prod"}}, {{"arn": "{ARN}"}}]}},
                    {{"gcp_kms": [{{"resource_id": "projects/p"}}], "azure_keyvault": [{{"vaultUrl": "https://v", "key": "k", "version": ""}}],
                      "hc_vault": ["https://vault/v1/t/keys/k"], "hckms": [{{"key_id": "r:u"}}]}}
                ]
            }}]}}"#
    ));
    let r = rule(&c, "secrets/shared/a.yaml").unwrap();
    assert!(r.uses_key_groups);
    assert_eq!(r.shamir_threshold, 2);
    assert_eq!(r.key_groups.len(), 4);
    // The flat `age` is ignored when key_groups is non-empty.
    assert_eq!(r.key_groups[0].age, strings(&[R1]));
    assert_eq!(r.key_groups[0].len(), 1);
    assert_eq!(r.key_groups[1].age, strings(&[R2, R1]));
    assert_eq!(r.key_groups[1].pgp, strings(&["FBC7B9E2"]));
    assert_eq!(
        r.key_groups[2].kms,
        vec![
            KmsSpec {
                arn: ARN.into(),
                role: ROLE.into(),
                context: Some(vec![
                    ("Environment".into(), "production".into()),
                    ("n".into(), "1".into())
                ]),
                aws_profile: "prod".into(),
            },
            KmsSpec {
                arn: ARN.into(),
                context: Some(vec![]),
                ..KmsSpec::default()
            },
        ]
    );
    let g = &r.key_groups[3];
    assert_eq!(g.gcp_kms, strings(&["projects/p"]));
    assert_eq!(
        g.azure_kv,
        vec![AzureKvSpec {
            vault_url: "https://v".into(),
            name: "k".into(),
            version: String::new()
        }]
    );
    assert_eq!(g.hc_vault, strings(&["https://vault/v1/t/keys/k"]));
    assert_eq!(g.hckms, strings(&["r:u"]));
}

#[test]
fn empty_key_groups_list_falls_back_to_flat_keys() {
    let c = config(&format!(
        r#"{{"creation_rules": [{{"age": "{R1}", "key_groups": []}}]}}"#
    ));
    let r = rule(&c, "x").unwrap();
    assert!(!r.uses_key_groups);
    assert_eq!(r.key_groups[0].age, strings(&[R1]));
    let c = config(&format!(
        r#"{{"creation_rules": [{{"age": "{R1}", "key_groups": [{{}}]}}]}}"#
    ));
    assert_eq!(
        rule(&c, "x").unwrap().key_groups,
        vec![KeyGroupSpec::default()]
    );
}

#[test]
fn merge_comes_first_and_duplicates_are_removed() {
    let c = config(&format!(
        r#"{{"creation_rules": [{{"key_groups": [{{
                "age": ["{R2}", "{R1}"],
                "pgp": ["AA", "A A", "BB"],
                "merge": [
                    {{"age": ["{R1}"], "merge": [{{"pgp": ["BB"]}}]}},
                    {{"kms": [{{"arn": "{ARN}"}}], "age": ["{R1}"]}}
                ],
                "kms": [{{"arn": "{ARN}"}}, {{"arn": "{ARN}", "role": "{ROLE}"}}]
            }}]}}]}}"#
    ));
    let g = &rule(&c, "x").unwrap().key_groups[0];
    assert_eq!(g.age, strings(&[R1, R2]));
    assert_eq!(g.pgp, strings(&["BB", "AA"]));
    assert_eq!(g.kms.len(), 2);
    assert_eq!(g.kms[1].role, ROLE);
}

// --- matching --------------------------------------------------------------

#[test]
fn path_regex_is_unanchored_and_matched_relative_to_the_config_dir() {
    let c = config(
        r#"{"creation_rules": [
                {"path_regex": "^sub/", "pgp": "SUB"},
                {"path_regex": "\\.dev\\.yaml$", "pgp": "DEV"},
                {"path_regex": "prod", "pgp": "PROD"},
                {"path_regex": "", "pgp": "ALL"}
            ]}"#,
    );
    let fp = |r: Result<&CreationRule, ConfigError>| r.unwrap().key_groups[0].pgp[0].clone();
    assert_eq!(fp(rule(&c, "sub/deeper/c.yaml")), "SUB");
    assert_eq!(fp(rule(&c, "sub/x.dev.yaml")), "SUB"); // first match wins
    assert_eq!(fp(rule(&c, "a.dev.yaml")), "DEV");
    assert_eq!(fp(rule(&c, "a.dev.yaml.bak")), "ALL");
    assert_eq!(fp(rule(&c, "x/production/s.yaml")), "PROD");
    assert_eq!(fp(rule(&c, "other.yaml")), "ALL");
    // Outside the config dir the absolute path is matched: `^sub/` fails.
    let outside = c
        .rule_for(Path::new("/elsewhere/sub/a.yaml"), Path::new("/proj"))
        .unwrap()
        .unwrap();
    assert_eq!(outside.key_groups[0].pgp[0], "ALL");
    // A sibling directory sharing the prefix is not "below" the config dir.
    let sibling = c
        .rule_for(Path::new("/project/sub/a.yaml"), Path::new("/proj"))
        .unwrap()
        .unwrap();
    assert_eq!(sibling.index, 3);
    // Paths are cleaned before matching.
    let cleaned = c
        .rule_for(Path::new("/proj/x/../sub/./a.yaml"), Path::new("/proj/."))
        .unwrap()
        .unwrap();
    assert_eq!(cleaned.index, 0);
}

#[test]
fn rule_for_file_resolves_relative_paths() {
    let c = Config::from_document(
        Path::new("../.sops.yaml"),
        &doc(r#"{"creation_rules": [{"path_regex": "^sub/deeper/c\\.yaml$", "pgp": "X"}]}"#),
    )
    .unwrap();
    let cwd = Path::new("/proj/sub");
    assert_eq!(c.config_dir(cwd), PathBuf::from("/proj"));
    assert_eq!(
        c.rule_for_file(Path::new("deeper/c.yaml"), cwd)
            .unwrap()
            .unwrap()
            .index,
        0
    );
    assert!(c.rule_for_file(Path::new("c.yaml"), cwd).is_err());
    let bare = Config::from_document(
        Path::new(".sops.yaml"),
        &doc(r#"{"creation_rules": [{"path_regex": "^a$"}]}"#),
    )
    .unwrap();
    assert_eq!(bare.config_dir(Path::new("/w")), PathBuf::from("/w"));
    assert!(bare.rule_for_file(Path::new("a"), Path::new("/w")).is_ok());
}

#[test]
fn no_matching_rule_and_no_rules() {
    let c = config(r#"{"creation_rules": [{"path_regex": "^x$"}]}"#);
    let e = rule(&c, "y").unwrap_err();
    assert_eq!(
        e,
        ConfigError::NoMatchingRule {
            path: "/proj/.sops.yaml".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "error loading config: no matching creation rules found (config file /proj/.sops.yaml)"
    );
    let c = config(r#"{"creation_rules": []}"#);
    assert!(c.has_creation_rules());
    assert!(matches!(
        rule(&c, "y"),
        Err(ConfigError::NoMatchingRule { .. })
    ));
    for json in [
        r#"{}"#,
        r#"{"creation_rules": null}"#,
        r#"{"destination_rules": []}"#,
    ] {
        let c = config(json);
        assert!(!c.has_creation_rules());
        assert_eq!(
            c.rule_for(Path::new("/proj/a"), Path::new("/proj")),
            Ok(None)
        );
    }
}

/// Every config error is one line naming the file (and the field when
/// there is one): bad YAML, duplicate keys (yaml.v3 lists them on
/// several lines), wrong types, bad regular expressions of every
/// field (the regex crate draws a multi-line caret diagram) and keys.
#[test]
fn every_config_error_is_one_line() {
    let age = format!("age: {R1}");
    let cases: Vec<(String, &str)> = vec![
        (
            format!("creation_rules:\n  - path_regex: \"([\"\n    {age}\n"),
            "creation_rules[0].path_regex",
        ),
        (
            format!("creation_rules:\n  - path_regex: \"a{{99999999}}\"\n    {age}\n"),
            "creation_rules[0].path_regex",
        ),
        (
            format!("creation_rules:\n  - path_regex: \"\\\\p{{Nope}}\"\n    {age}\n"),
            "creation_rules[0].path_regex",
        ),
        (
            format!("creation_rules:\n  - encrypted_regex: \"([\"\n    {age}\n"),
            "creation_rules[0].encrypted_regex",
        ),
        (
            format!("creation_rules:\n  - unencrypted_regex: \"(?P<\"\n    {age}\n"),
            "creation_rules[0].unencrypted_regex",
        ),
        (
            format!("creation_rules:\n  - encrypted_comment_regex: \"x{{2,1}}\"\n    {age}\n"),
            "creation_rules[0].encrypted_comment_regex",
        ),
        (
            format!("creation_rules:\n  - unencrypted_comment_regex: \")\"\n    {age}\n"),
            "creation_rules[0].unencrypted_comment_regex",
        ),
        (format!("creation_rules:\n  - {age}\n    {age}\n"), ""),
        (
            format!("creation_rules:\n  - {age}\n    mac_only_encrypted: maybe\n"),
            "creation_rules[0].mac_only_encrypted",
        ),
        (
            format!("creation_rules:\n  - {age}\n    shamir_threshold: -1\n"),
            "creation_rules[0].shamir_threshold",
        ),
        ("creation_rules:\n  - age: [\n".to_string(), ""),
        (
            "creation_rules:\n  - azure_keyvault: \"not a url\"\n".to_string(),
            "creation_rules[0].azure_keyvault",
        ),
        (
            "stores:\n  yaml:\n    indent: abc\n".to_string(),
            "stores.yaml.indent",
        ),
    ];
    let path = Path::new("/proj/.sops.yaml");
    for (text, at) in cases {
        let error = match parse(path, text.as_bytes()) {
            Err(e) => e,
            Ok(c) => rule(&c, "a.yaml").expect_err(&text).clone(),
        };
        let shown = error.to_string();
        assert!(!shown.contains('\n'), "{text:?}: several lines:\n{shown}");
        assert!(
            shown.contains("config file /proj/.sops.yaml"),
            "{text:?}: {shown}"
        );
        assert!(shown.contains(at), "{text:?}: {at} not named: {shown}");
        if at.ends_with("_regex") {
            assert!(shown.contains("; hint: "), "{text:?}: no hint: {shown}");
        }
    }
}

#[test]
fn invalid_regex_fails_only_when_reached() {
    let c = config(
        r#"{"creation_rules": [{"path_regex": "^a"}, {"path_regex": "["}, {"path_regex": ""}]}"#,
    );
    assert_eq!(rule(&c, "a.yaml").unwrap().index, 0);
    let e = rule(&c, "b.yaml").unwrap_err();
    assert!(matches!(e, ConfigError::BadRegex { .. }));
    let text = e.to_string();
    assert_eq!(
            text,
            format!("can not compile regexp: error parsing regexp: unclosed character class (config file /proj/.sops.yaml, creation_rules[1].path_regex); hint: {REGEX_HINT}")
        );
}

// --- encryption rules --------------------------------------------------------

#[test]
fn encryption_rule_fields() {
    let c = config(
        r#"{"creation_rules": [
                {"path_regex": "^two", "encrypted_regex": "^data$", "unencrypted_suffix": "_u"},
                {"path_regex": "^empty", "encrypted_regex": "", "unencrypted_suffix": "", "encrypted_comment_regex": "sops"},
                {"path_regex": "^num", "unencrypted_suffix": 123, "mac_only_encrypted": true},
                {"path_regex": "^none"}
            ]}"#,
    );
    let e = rule(&c, "two").unwrap_err();
    assert_eq!(
            e.to_string(),
            "error loading config: cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex for the same rule (config file /proj/.sops.yaml, creation_rules[0])"
        );
    assert_eq!(
        rule(&c, "empty").unwrap().rule,
        Some(EncryptionRule::EncryptedCommentRegex("sops".into()))
    );
    let num = rule(&c, "num").unwrap();
    assert_eq!(
        num.rule,
        Some(EncryptionRule::UnencryptedSuffix("123".into()))
    );
    assert!(num.mac_only_encrypted);
    assert_eq!(rule(&c, "none").unwrap().rule, None);
}

// --- whole-file (unmarshal) errors ----------------------------------------------

#[test]
fn typed_fields_of_the_wrong_type_fail_the_whole_file() {
    let cases = [
        (
            r#"{"creation_rules": [{"path_regex": "^z", "hckms": "x"}]}"#,
            "creation_rules[0].hckms",
            "cannot unmarshal !!str into []string",
        ),
        (
            r#"{"creation_rules": [{"shamir_threshold": "2"}]}"#,
            "creation_rules[0].shamir_threshold",
            "cannot unmarshal !!str into int",
        ),
        (
            r#"{"creation_rules": [{"mac_only_encrypted": "true"}]}"#,
            "creation_rules[0].mac_only_encrypted",
            "cannot unmarshal !!str into bool",
        ),
        (
            r#"{"creation_rules": [{"key_groups": [{"age": "x"}]}]}"#,
            "creation_rules[0].key_groups[0].age",
            "cannot unmarshal !!str into []string",
        ),
        (
            r#"{"creation_rules": [{"key_groups": [{"kms": ["arn"]}]}]}"#,
            "creation_rules[0].key_groups[0].kms[0]",
            "cannot unmarshal !!str into config.kmsKey",
        ),
        (
            r#"{"creation_rules": [{"path_regex": ["a"]}]}"#,
            "creation_rules[0].path_regex",
            "cannot unmarshal !!seq into string",
        ),
        (
            r#"{"creation_rules": {"a": 1}}"#,
            "creation_rules",
            "cannot unmarshal !!map into []config.creationRule",
        ),
        (
            r#"{"creation_rules": ["x"]}"#,
            "creation_rules[0]",
            "cannot unmarshal !!str into config.creationRule",
        ),
        (
            r#"{"stores": {"dotenv": 5}}"#,
            "stores.dotenv",
            "cannot unmarshal !!int into config.DotenvStoreConfig",
        ),
        (
            r#"{"stores": {"yaml": {"indent": "2"}}}"#,
            "stores.yaml.indent",
            "cannot unmarshal !!str into int",
        ),
        (
            r#"{"creation_rules": [{"shamir_threshold": -1}]}"#,
            "creation_rules[0].shamir_threshold",
            "shamir_threshold must not be negative, got -1",
        ),
    ];
    for (json, at, message) in cases {
        let e = config_err(json);
        assert_eq!(
            e,
            ConfigError::Unmarshal {
                path: "/proj/.sops.yaml".into(),
                at: at.into(),
                message: message.into()
            },
            "{json}"
        );
    }
    assert_eq!(
            config_err(r#"{"stores": {"json": {"indent": true}}}"#).to_string(),
            "error loading config: Could not unmarshal config file: cannot unmarshal !!bool into int (config file /proj/.sops.yaml, stores.json.indent)"
        );
}

#[test]
fn duplicate_keys_are_rejected() {
    let mut m = Map::new();
    m.push("creation_rules", Value::Null);
    m.push("creation_rules", Value::Null);
    let e = Config::from_document(Path::new("c.yaml"), &m).unwrap_err();
    assert_eq!(
            e.to_string(),
            "error loading config: Could not unmarshal config file: mapping key \"creation_rules\" already defined (config file c.yaml)"
        );
}

#[test]
fn comments_in_the_tree_are_ignored() {
    let mut rule_map = Map::new();
    rule_map
        .0
        .push(Item::Comment(crate::tree::Comment::new(" note")));
    rule_map.push(
        "age",
        Value::List(vec![
            Value::Comment(crate::tree::Comment::new(" first")),
            Value::Str(R1.into()),
        ]),
    );
    let mut m = Map::new();
    m.push("creation_rules", Value::List(vec![Value::Map(rule_map)]));
    let c = Config::from_document(Path::new("/proj/.sops.yaml"), &m).unwrap();
    assert_eq!(rule(&c, "x").unwrap().key_groups[0].age, strings(&[R1]));
}

// --- stores ----------------------------------------------------------------

#[test]
fn store_options() {
    let c = config(
        r#"{"stores": {"yaml": {"indent": 2}, "json": {"indent": 0}, "json_binary": {"indent": 3}, "dotenv": {}, "ini": null}}"#,
    );
    assert_eq!(
        c.store_options(),
        StoreOptions {
            yaml_indent: Some(2),
            json_indent: Some(0),
            json_binary_indent: Some(3)
        }
    );
    assert_eq!(config(r#"{}"#).store_options(), StoreOptions::default());
    assert_eq!(
        config(r#"{"stores": {"json": {}}}"#).store_options(),
        StoreOptions::default()
    );
    assert_eq!(
        config(r#"{"stores": null}"#).store_options(),
        StoreOptions::default()
    );
}

#[test]
fn indent_flag_overrides_all_three() {
    let c = config(r#"{"stores": {"yaml": {"indent": 2}, "json": {"indent": 3}}}"#);
    assert_eq!(apply_indent(c.store_options(), None), c.store_options());
    assert_eq!(
        apply_indent(c.store_options(), Some(6)),
        StoreOptions {
            yaml_indent: Some(6),
            json_indent: Some(6),
            json_binary_indent: Some(6)
        }
    );
}

#[test]
fn working_dir_is_a_directory() {
    let wd = working_dir().unwrap();
    assert!(wd.is_absolute());
    assert!(same_dir(&wd, &std::env::current_dir().unwrap()));
}

// --- destination rules -------------------------------------------------------

#[test]
fn destination_rules() {
    let c = config(&format!(
        r#"{{"destination_rules": [
                {{"path_regex": "[", "s3_bucket": "never"}},
                {{"path_regex": "^both/", "s3_bucket": "b", "vault_path": "p"}},
                {{"path_regex": "^s3/", "s3_bucket": "bucket", "s3_prefix": "pre/", "omit_extensions": true,
                  "recreation_rule": {{"age": "{R1}", "encrypted_regex": "^data$"}}}},
                {{"path_regex": "", "vault_path": "kv", "vault_kv_version": 1, "vault_address": "https://v"}}
            ]}}"#
    ));
    let s3 = c.destination_for("s3/a.yaml").unwrap();
    assert_eq!(
        (s3.index, s3.s3_bucket.as_str(), s3.s3_prefix.as_str()),
        (2, "bucket", "pre/")
    );
    assert!(s3.omit_extensions);
    let re = s3.recreation_rule().unwrap();
    assert_eq!(re.key_groups[0].age, strings(&[R1]));
    assert_eq!(
        re.rule,
        Some(EncryptionRule::EncryptedRegex("^data$".into()))
    );
    let vault = c.destination_for("other").unwrap();
    assert_eq!((vault.index, vault.vault_kv_version), (3, 1));
    assert_eq!(
            c.destination_for("both/x").unwrap_err().to_string(),
            "error loading config: more than one destinations were found in a single destination rule, you can only use one per rule (config file /proj/.sops.yaml, destination_rules[1])"
        );
    let sm = config(
        r#"{"destination_rules": [
                {"path_regex": "^a", "secretsmanager_prefix": "app/", "aws_region": "eu-west-1"},
                {"path_regex": "^b", "secretsmanager_prefix": null},
                {"path_regex": "^c", "secretsmanager_prefix": "", "vault_path": "v"},
                {"path_regex": "^d", "vault_path": "v"}
            ]}"#,
    );
    let a = sm.destination_for("a").unwrap();
    assert_eq!(
        (a.secretsmanager_prefix.as_deref(), a.aws_region.as_str()),
        (Some("app/"), "eu-west-1")
    );
    assert_eq!(
        sm.destination_for("b")
            .unwrap()
            .secretsmanager_prefix
            .as_deref(),
        Some("")
    );
    assert!(matches!(
        sm.destination_for("c"),
        Err(ConfigError::MultipleDestinations { .. })
    ));
    assert_eq!(sm.destination_for("d").unwrap().secretsmanager_prefix, None);
    let none = config(r#"{"destination_rules": [{"path_regex": "^x"}]}"#);
    assert_eq!(
            none.destination_for("y").unwrap_err().to_string(),
            "error loading config: no matching destination found in config (config file /proj/.sops.yaml)"
        );
}

// --- loading -------------------------------------------------------------------

#[test]
fn load_reports_unreadable_files() {
    let e = load(Path::new("/nonexistent/.sops.yaml")).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }));
    assert!(e.to_string().starts_with("could not read config file: "));
    assert!(e
        .to_string()
        .ends_with("(config file /nonexistent/.sops.yaml)"));
}

// --- YAML input ------------------------------------------------------------------

fn yaml(text: &str) -> Result<Config, ConfigError> {
    parse(Path::new("/proj/.sops.yaml"), text.as_bytes())
}

#[test]
fn spec_example_from_yaml() {
    let text = format!(
        r#"creation_rules:
  # first match wins
  - path_regex: \.dev\.yaml$
    age: >-
      {R1},
      {R2}
    encrypted_regex: ^(data|stringData)$
  - path_regex: ^secrets/shared/
    shamir_threshold: 2
    key_groups:
      - age: [{R1}]
      - age: [{R2}]
        pgp: [FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4]
      - kms:
          - arn: {ARN}
            role: {ROLE}
            context: {{Environment: production}}
            aws_profile: prod
  - pgp: FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4   # catch-all
stores:
  yaml: {{indent: 2}}
  json: {{indent: 4}}
"#
    );
    let c = yaml(&text).unwrap();
    let dev = rule(&c, "app/x.dev.yaml").unwrap();
    assert_eq!(dev.key_groups[0].age, strings(&[R1, R2]));
    assert_eq!(
        dev.rule,
        Some(EncryptionRule::EncryptedRegex("^(data|stringData)$".into()))
    );
    let shared = rule(&c, "secrets/shared/db.yaml").unwrap();
    assert_eq!((shared.index, shared.shamir_threshold), (1, 2));
    assert_eq!(shared.key_groups.len(), 3);
    assert_eq!(
        shared.key_groups[2].kms[0].context,
        Some(vec![("Environment".into(), "production".into())])
    );
    let other = rule(&c, "secrets/other.yaml").unwrap();
    assert_eq!(
        other.key_groups[0].pgp,
        strings(&["FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"])
    );
    assert_eq!(
        c.store_options(),
        StoreOptions {
            yaml_indent: Some(2),
            json_indent: Some(4),
            json_binary_indent: None
        }
    );
}

#[test]
fn anchors_aliases_and_merge_keys() {
    let text = format!(
        r#"x-base: &base
  age: {R1}
  encrypted_regex: ^data$
x-group: &group
  pgp: [AA]
creation_rules:
  - <<: *base
    path_regex: ^one/
    encrypted_regex: ^spec$
  - path_regex: ^two/
    key_groups:
      - merge: [*group]
        age: [{R2}]
      - *group
  - <<: [*base, {{age: {R2}, mac_only_encrypted: true}}]
"#
    );
    let c = yaml(&text).unwrap();
    let one = rule(&c, "one/a").unwrap();
    assert_eq!(one.key_groups[0].age, strings(&[R1]));
    // Explicit keys win over merged ones.
    assert_eq!(
        one.rule,
        Some(EncryptionRule::EncryptedRegex("^spec$".into()))
    );
    let two = rule(&c, "two/a").unwrap();
    assert_eq!(two.key_groups[0].pgp, strings(&["AA"]));
    assert_eq!(two.key_groups[0].age, strings(&[R2]));
    assert_eq!(two.key_groups[1].pgp, strings(&["AA"]));
    // Earlier merge sources win over later ones.
    let three = rule(&c, "three").unwrap();
    assert_eq!(three.key_groups[0].age, strings(&[R1]));
    assert!(three.mac_only_encrypted);
    // The store itself rejects a bad merge value in YAML input …
    let bad = yaml("creation_rules:\n  - <<: 5\n").unwrap_err();
    assert!(bad
        .to_string()
        .contains("map merge requires map or sequence of maps as the value"));
    // … and so does the decoder for trees from elsewhere.
    let mut rule_map = Map::new();
    rule_map.push("<<", Value::Int(5));
    let mut m = Map::new();
    m.push("creation_rules", Value::List(vec![Value::Map(rule_map)]));
    assert_eq!(
            Config::from_document(Path::new("/proj/.sops.yaml"), &m)
                .unwrap_err()
                .to_string(),
            "error loading config: Could not unmarshal config file: map merge requires map or sequence of maps as the value (config file /proj/.sops.yaml, creation_rules[0])"
        );
}

#[test]
fn empty_and_odd_yaml_files() {
    for text in ["", "\n", "# nothing here\n", "---\n"] {
        let c = yaml(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert!(!c.has_creation_rules(), "{text:?}");
        assert_eq!(c.store_options(), StoreOptions::default());
    }
    // Only the first document counts.
    let c = yaml("creation_rules: []\n---\nstores: {yaml: {indent: 2}}\n").unwrap();
    assert!(c.has_creation_rules());
    assert_eq!(c.store_options(), StoreOptions::default());
    // Unknown keys are ignored.
    let c = yaml("hc_vault_uris: x\ncreation_rules:\n  - foo: bar\n").unwrap();
    assert!(rule(&c, "a").is_ok());
    for text in ["[1, 2]\n", "creation_rules: [\n", "a: b: c\n"] {
        let e = yaml(text).unwrap_err();
        assert!(
            matches!(e, ConfigError::Unmarshal { .. }),
            "{text:?}: {e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("error loading config: Could not unmarshal config file: "),
            "{e}"
        );
    }
}

#[test]
fn load_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".sops.yaml");
    std::fs::write(
        &path,
        format!("creation_rules:\n  - path_regex: ^sub/\n    age: {R1}\n"),
    )
    .unwrap();
    let c = load(&path).unwrap();
    assert_eq!(c.path, path);
    let sub = dir.path().join("sub");
    let found = c
        .rule_for_file(Path::new("deeper/c.yaml"), &sub)
        .unwrap()
        .unwrap();
    assert_eq!(found.key_groups[0].age, strings(&[R1]));
    assert!(matches!(
        c.rule_for_file(Path::new("c.yaml"), dir.path()),
        Err(ConfigError::NoMatchingRule { .. })
    ));
}

use super::super::cloud_http::mock::{self, Mock, Request};
use super::super::cloud_http::MapEnv;
use super::imp;
use crate::tree::{Map, Value};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;

fn key_fields(vault: &str, name: &str, version: &str) -> Map {
    let mut m = Map::new();
    m.push("vault_url", Value::Str(vault.into()));
    m.push("name", Value::Str(name.into()));
    m.push("version", Value::Str(version.into()));
    m
}

/// Azure AD and Key Vault lookalike on one server. The token endpoint
/// hands out `vault-token`; key operations need it.
fn azure_answer(r: &Request) -> (u16, String) {
    if r.target == "/tenant-1/oauth2/v2.0/token" {
        return (
            200,
            json!({"token_type": "Bearer", "expires_in": 3599, "access_token": "vault-token"})
                .to_string(),
        );
    }
    vault_answer(r, "vault-token")
}

fn vault_answer(r: &Request, token: &str) -> (u16, String) {
    if r.header("authorization") != Some(&format!("Bearer {token}")) {
        return (
            401,
            json!({"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}}).to_string(),
        );
    }
    let (path, query) = r.target.split_once('?').unwrap();
    assert_eq!(query, "api-version=7.4");
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (r.method.as_str(), parts.as_slice()) {
        ("GET", ["keys", name]) => (
            200,
            json!({"key": {"kid": format!("https://v.vault.azure.net/keys/{name}/0123abcd"), "kty": "RSA"}})
                .to_string(),
        ),
        ("POST", ["keys", name, version, op]) => {
            let body = r.json();
            assert_eq!(body["alg"], "RSA-OAEP-256");
            let value = URL_SAFE_NO_PAD.decode(body["value"].as_str().unwrap()).unwrap();
            let key = format!("{name}/{version}");
            let kid = format!("https://v.vault.azure.net/keys/{key}");
            match *op {
                "encrypt" => (
                    200,
                    json!({"kid": kid, "value": URL_SAFE_NO_PAD.encode(mock::seal(&key, &value))})
                        .to_string(),
                ),
                "decrypt" => match mock::open(&key, &value) {
                    Some(pt) => (200, json!({"kid": kid, "value": URL_SAFE_NO_PAD.encode(pt)}).to_string()),
                    None => (400, json!({"error": {"code": "BadParameter", "message": "The parameter is incorrect."}}).to_string()),
                },
                _ => (404, "{}".into()),
            }
        }
        _ => (404, "{}".into()),
    }
}

/// `host:port` of a loopback URL, as listed in the allowed hosts.
fn authority(url: &str) -> &str {
    url.trim_start_matches("http://")
}

fn secret_env(server: &Mock) -> MapEnv {
    MapEnv::of(&[
        ("AZURE_TENANT_ID", "tenant-1"),
        ("AZURE_CLIENT_ID", "client-1"),
        ("AZURE_CLIENT_SECRET", "s3cret+/="),
        ("AZURE_AUTHORITY_HOST", &server.url),
        (imp::ALLOWED_HOSTS_VAR, authority(&server.url)),
    ])
}

#[test]
fn client_secret_round_trip_and_request_shapes() {
    let server = Mock::start(azure_answer);
    let env = secret_env(&server);
    let secret = [0x42u8; 32];
    let mut fields = key_fields(&server.url, "sops-key", "v1");
    imp::wrap(&env, &mut fields, &secret).unwrap();
    let keys: Vec<&str> = fields.entries().map(|(k, _)| k).collect();
    assert_eq!(keys, ["vault_url", "name", "version", "created_at", "enc"]);
    let enc = fields.get("enc").unwrap().as_str().unwrap().to_string();
    assert!(!enc.contains('=') && !enc.contains('+') && !enc.contains('/'));
    assert_eq!(
        URL_SAFE_NO_PAD.decode(&enc).unwrap(),
        mock::seal("sops-key/v1", &secret)
    );
    assert_eq!(*imp::unwrap(&env, &fields).unwrap(), secret);

    let reqs = server.requests();
    let token = &reqs[0];
    assert_eq!(token.method, "POST");
    assert_eq!(token.target, "/tenant-1/oauth2/v2.0/token");
    assert_eq!(
        token.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        token.form(),
        [
            ("grant_type".to_string(), "client_credentials".to_string()),
            ("client_id".into(), "client-1".into()),
            ("scope".into(), "https://vault.azure.net/.default".into()),
            ("client_secret".into(), "s3cret+/=".into()),
        ]
    );
    assert_eq!(reqs[1].target, "/keys/sops-key/v1/encrypt?api-version=7.4");
    assert_eq!(reqs[1].header("content-type"), Some("application/json"));
    assert_eq!(
        reqs[1].json(),
        json!({"alg": "RSA-OAEP-256", "value": URL_SAFE_NO_PAD.encode(secret)})
    );
    // The token is cached for the decrypt call.
    assert_eq!(reqs[2].target, "/keys/sops-key/v1/decrypt?api-version=7.4");
    assert_eq!(reqs[2].json(), json!({"alg": "RSA-OAEP-256", "value": enc}));
    assert_eq!(reqs.len(), 3);
}

#[test]
fn missing_version_is_resolved_and_stored() {
    let server = Mock::start(azure_answer);
    let env = secret_env(&server);
    let mut fields = key_fields(&format!("{}/", server.url), "k2", "");
    imp::wrap(&env, &mut fields, &[1, 2, 3]).unwrap();
    assert_eq!(fields.get("version"), Some(&Value::Str("0123abcd".into())));
    assert_eq!(
        fields.get("vault_url"),
        Some(&Value::Str(server.url.clone()))
    );
    assert_eq!(*imp::unwrap(&env, &fields).unwrap(), [1, 2, 3]);
    assert_eq!(
        imp::latest_version(&env, &server.url, "k2").unwrap(),
        "0123abcd"
    );
    let targets: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
    assert!(
        targets.contains(&"/keys/k2?api-version=7.4".to_string()),
        "{targets:?}"
    );
}

#[test]
fn workload_identity_sends_the_federated_token() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "eyJfederated.token.sig\n").unwrap();
    let server = Mock::start(|r| {
        if r.target.ends_with("/oauth2/v2.0/token") {
            assert_eq!(
                r.form(),
                [
                    ("grant_type".to_string(), "client_credentials".to_string()),
                    ("client_id".into(), "client-2".into()),
                    ("scope".into(), "https://vault.azure.net/.default".into()),
                    (
                        "client_assertion_type".into(),
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into()
                    ),
                    ("client_assertion".into(), "eyJfederated.token.sig".into()),
                ]
            );
            return (
                200,
                json!({"access_token": "wi-token", "expires_in": 3599}).to_string(),
            );
        }
        vault_answer(r, "wi-token")
    });
    let env = MapEnv::of(&[
        ("AZURE_TENANT_ID", "tenant-2"),
        ("AZURE_CLIENT_ID", "client-2"),
        ("AZURE_FEDERATED_TOKEN_FILE", file.to_str().unwrap()),
        ("AZURE_AUTHORITY_HOST", &server.url),
        (imp::ALLOWED_HOSTS_VAR, authority(&server.url)),
    ]);
    let mut fields = key_fields(&server.url, "k", "v");
    imp::wrap(&env, &mut fields, &[8; 16]).unwrap();
    assert_eq!(*imp::unwrap(&env, &fields).unwrap(), [8; 16]);
}

#[test]
fn managed_identity_only_when_enabled() {
    let server = Mock::start(|r| {
        if r.target.starts_with("/metadata/identity/oauth2/token") {
            assert_eq!(r.method, "GET");
            assert_eq!(r.header("metadata"), Some("true"));
            assert_eq!(
                r.target,
                "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net"
            );
            return (
                200,
                json!({"access_token": "mi-token", "expires_in": "3599"}).to_string(),
            );
        }
        vault_answer(r, "mi-token")
    });
    let base = [
        ("AZURE_POD_IDENTITY_AUTHORITY_HOST", server.url.as_str()),
        (imp::ALLOWED_HOSTS_VAR, authority(&server.url)),
    ];
    let mut fields = key_fields(&server.url, "k", "v");
    let err = imp::wrap(&MapEnv::of(&base), &mut fields, &[1]).unwrap_err();
    assert!(err.contains("no Azure credentials found"), "{err}");
    assert!(server.requests().is_empty(), "nothing was probed");
    let mut on = base.to_vec();
    on.push(("ENSEAL_AZURE_MANAGED_IDENTITY", "1"));
    imp::wrap(&MapEnv::of(&on), &mut fields, &[1]).unwrap();
    assert_eq!(*imp::unwrap(&MapEnv::of(&on), &fields).unwrap(), [1]);
}

#[test]
fn errors_name_the_key_url_and_the_cause() {
    // Token endpoint refuses the secret.
    let server = Mock::start(|_| {
        (401, json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1\r\nCorrelation ID: 2"}).to_string())
    });
    let err = imp::wrap(
        &secret_env(&server),
        &mut key_fields(&server.url, "k", "v"),
        &[1],
    )
    .unwrap_err();
    assert_eq!(
        err,
        format!("failed to get Azure token credential to encrypt data: token request to {}/tenant-1/oauth2/v2.0/token failed: HTTP 401: invalid_client: AADSTS7000215: Invalid client secret provided.", server.url)
    );
    // The vault refuses the operation.
    let server = Mock::start(|r| {
        if r.target.contains("oauth2") {
            return azure_answer(r);
        }
        (403, json!({"error": {"code": "Forbidden", "message": "The user, group or application does not have keys encrypt permission on key vault 'v'."}}).to_string())
    });
    let secret = [0x77u8; 32];
    let err = imp::wrap(
        &secret_env(&server),
        &mut key_fields(&server.url, "k", "v"),
        &secret,
    )
    .unwrap_err();
    assert_eq!(
        err,
        format!("failed to encrypt sops data key with Azure Key Vault key '{}/keys/k/v': HTTP 403: Forbidden: The user, group or application does not have keys encrypt permission on key vault 'v'.", server.url)
    );
    assert!(!err.contains(&URL_SAFE_NO_PAD.encode(secret)));
    // Server error, timeout, refused connection.
    let server = Mock::start(|r| {
        if r.target.contains("oauth2") {
            return azure_answer(r);
        }
        if r.target.contains("/slow/") {
            std::thread::sleep(std::time::Duration::from_secs(3));
        }
        (500, "upstream failure".into())
    });
    let mut env = secret_env(&server);
    env.0.insert("ENSEAL_CLOUD_TIMEOUT".into(), "0.5".into());
    let err = imp::wrap(&env, &mut key_fields(&server.url, "k", "v"), &[1]).unwrap_err();
    assert!(
        err.ends_with("/keys/k/v': HTTP 500: upstream failure"),
        "{err}"
    );
    let err = imp::wrap(&env, &mut key_fields(&server.url, "slow", "v"), &[1]).unwrap_err();

    assert!(err.ends_with("/keys/slow/v': request timed out"), "{err}");
    let closed = mock::closed_port_url();
    env.0
        .insert(imp::ALLOWED_HOSTS_VAR.into(), authority(&closed).into());
    let err = imp::unwrap(&env, &{
        let mut f = key_fields(&closed, "k", "v");
        f.push("enc", Value::Str("AAAA".into()));
        f
    })
    .unwrap_err();
    assert!(
        err.starts_with(&format!("failed to decrypt sops data key with Azure Key Vault key '{closed}/keys/k/v': connection")),
        "{err}"
    );
}

#[test]
fn plain_http_vault_is_refused_off_loopback() {
    let err = imp::wrap(
        &MapEnv::of(&[]),
        &mut key_fields("http://v.vault.azure.net", "k", "v"),
        &[1],
    )
    .unwrap_err();
    assert!(err.contains("refusing plain http"), "{err}");
    let err = imp::unwrap(
        &MapEnv::of(&[]),
        &key_fields("https://v.vault.azure.net", "k", "v"),
    )
    .unwrap_err();
    // Empty enc: nothing to decrypt, but credentials come first.
    assert!(err.contains("no Azure credentials found"), "{err}");
}

#[test]
fn scopes_follow_the_cloud() {
    for (url, scope) in [
        ("https://v.vault.azure.net", "https://vault.azure.net"),
        ("https://V.Vault.Azure.Net:443", "https://vault.azure.net"),
        ("https://v.vault.azure.cn", "https://vault.azure.cn"),
        (
            "https://v.vault.usgovcloudapi.net",
            "https://vault.usgovcloudapi.net",
        ),
        (
            "https://v.vault.microsoftazure.de",
            "https://vault.microsoftazure.de",
        ),
        (
            "https://h.managedhsm.azure.net",
            "https://managedhsm.azure.net",
        ),
        (
            "https://h.managedhsm.azure.cn",
            "https://managedhsm.azure.cn",
        ),
        (
            "https://h.managedhsm.usgovcloudapi.net",
            "https://managedhsm.usgovcloudapi.net",
        ),
    ] {
        let got = imp::vault_scope(&MapEnv::of(&[]), url).unwrap();
        assert_eq!(got.resource, scope, "{url}");
    }
}

/// Hosts outside the Key Vault domains, lookalikes and tricks are
/// refused in one line naming the host and the variable; nothing is
/// asked of the token endpoint.
#[test]
fn vaults_outside_key_vault_domains_are_refused() {
    for (url, host) in [
        ("https://evil.example", "evil.example"),
        ("https://vault.azure.net", "vault.azure.net"),
        ("https://a.b.vault.azure.net", "a.b.vault.azure.net"),
        (
            "https://v.vault.azure.net.evil.example",
            "v.vault.azure.net.evil.example",
        ),
        ("https://vvault.azure.net", "vvault.azure.net"),
        ("https://v.vault.azure.com", "v.vault.azure.com"),
        ("https://127.0.0.1:8443", "127.0.0.1:8443"),
        ("http://127.0.0.1:8200", "127.0.0.1:8200"),
        ("http://localhost", "localhost"),
    ] {
        let err = imp::vault_scope(&MapEnv::of(&[]), url).err().unwrap();
        assert_eq!(
            err,
            format!("refusing to send an Azure token to {host:?}: it is not a Key Vault host (<vault>.vault.azure.net or another Azure cloud's Key Vault or Managed HSM domain, over https); to trust it, list it in ENSEAL_AZURE_KV_ALLOWED_HOSTS"),
            "{url}"
        );
    }
    for url in [
        "https://v.vault.azure.net@127.0.0.1:9",
        "https://v.vault.azure.net/extra",
        "https://v.vault.azure.net?x=1",
        "https://v.vault.azure.net#frag",
        "https://v.vault.azure.net%2f@evil.example",
        "https://v.vault.azure.net:abc",
        " https://v.vault.azure.net",
        "v.vault.azure.net",
    ] {
        let err = imp::vault_scope(&MapEnv::of(&[]), url).err().unwrap();
        assert!(
            err.starts_with(&format!("invalid Azure Key Vault URL {url:?}: ")),
            "{err}"
        );
    }
    // Plain http off loopback is refused even when listed.
    let listed = MapEnv::of(&[(imp::ALLOWED_HOSTS_VAR, "v.vault.azure.net,kv.corp.example")]);
    for url in ["http://v.vault.azure.net", "http://kv.corp.example"] {
        let err = imp::vault_scope(&listed, url).err().unwrap();
        assert!(err.starts_with("refusing plain http"), "{err}");
    }
    // A refused entry costs no token request: the token endpoint is a
    // recording mock that must see nothing.
    let server = Mock::start(azure_answer);
    let mut no_list = secret_env(&server);
    no_list.0.remove(imp::ALLOWED_HOSTS_VAR);
    let mut fields = key_fields(&server.url, "k", "v");
    fields.push("enc", Value::Str("AAAA".into()));
    let err = imp::unwrap(&no_list, &fields).unwrap_err();
    assert!(
        err.contains(&format!("{:?}", authority(&server.url)))
            && err.contains(imp::ALLOWED_HOSTS_VAR),
        "{err}"
    );
    assert!(!err.contains('\n'));
    let err = imp::wrap(&no_list, &mut fields, &[1]).unwrap_err();
    assert!(err.contains(imp::ALLOWED_HOSTS_VAR), "{err}");
    let err = imp::latest_version(&no_list, &server.url, "k").unwrap_err();
    assert!(err.contains(imp::ALLOWED_HOSTS_VAR), "{err}");
    assert!(server.requests().is_empty(), "{:?}", server.requests());
}

#[test]
fn allowed_hosts_opt_in() {
    let list = MapEnv::of(&[(
        imp::ALLOWED_HOSTS_VAR,
        " kv.corp.example , 127.0.0.1:8200,*.vault.local.azurestack.external,[::1]:9 ,",
    )]);
    for url in [
        "https://kv.corp.example",
        "https://KV.corp.example:8443",
        "http://127.0.0.1:8200",
        "https://127.0.0.1:8200",
        "https://v1.vault.local.azurestack.external",
        "http://[::1]:9",
    ] {
        let scope = imp::vault_scope(&list, url).unwrap();
        // Listed hosts outside the Azure domains get the public audience.
        assert_eq!(scope.resource, "https://vault.azure.net", "{url}");
    }
    for url in [
        "http://127.0.0.1:8201",
        "https://x.kv.corp.example",
        "https://vault.local.azurestack.external",
        "https://evil-vault.local.azurestack.external.example",
        "http://[::1]:10",
        "http://localhost:8200",
    ] {
        let err = imp::vault_scope(&list, url).err().unwrap();
        assert!(err.contains(imp::ALLOWED_HOSTS_VAR), "{url}: {err}");
    }
    // A listed Key Vault host keeps its cloud's audience.
    let cn = MapEnv::of(&[(imp::ALLOWED_HOSTS_VAR, "127.0.0.1")]);
    assert_eq!(
        imp::vault_scope(&cn, "https://v.vault.azure.cn")
            .unwrap()
            .resource,
        "https://vault.azure.cn"
    );
    for bad in [
        "https://kv.example",
        "kv.example/x",
        "user@kv",
        "*.[::1]",
        "kv:0",
        "*",
    ] {
        let err = imp::allowed_hosts(&MapEnv::of(&[(imp::ALLOWED_HOSTS_VAR, bad)]))
            .err()
            .unwrap();
        assert!(
            err.starts_with(&format!(
                "ENSEAL_AZURE_KV_ALLOWED_HOSTS: {bad:?} is not host[:port]"
            )),
            "{err}"
        );
    }
}

/// Key names and versions from the file cannot reshape the request path.
#[test]
fn key_names_and_versions_are_object_names() {
    let server = Mock::start(azure_answer);
    let env = secret_env(&server);
    for (name, version) in [
        ("..", "v"),
        ("k", ".."),
        ("k/../../other", "v"),
        ("k", "v?api-version=1"),
        ("k", "v#x"),
        ("k%2F..", "v"),
        ("k:", "v"),
        ("k@evil", "v"),
        ("k k", "v"),
        ("k", "v/decrypt"),
    ] {
        let mut fields = key_fields(&server.url, name, version);
        fields.push("enc", Value::Str("AAAA".into()));
        let err = imp::unwrap(&env, &fields).unwrap_err();
        assert!(err.starts_with("invalid Azure Key Vault key "), "{err}");
    }
    assert!(server.requests().is_empty(), "{:?}", server.requests());
    // A version the vault reports is checked the same way.
    let odd = Mock::start(|r| {
        if r.target.contains("oauth2") {
            return azure_answer(r);
        }
        (
            200,
            json!({"key": {"kid": "https://v.vault.azure.net/keys/k/..%2F..%2Fx"}}).to_string(),
        )
    });
    let err = imp::latest_version(&secret_env(&odd), &odd.url, "k").unwrap_err();
    assert!(
        err.ends_with("the response has no key.kid with a version"),
        "{err}"
    );
}

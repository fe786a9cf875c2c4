//! The sops key service: enseal as the server with the reference sops as
//! the client, the reference as the server with enseal as the client, the
//! server's socket permissions and peer check, the refusal of a
//! non-loopback tcp address, and Vault keys through the service (checked
//! against the server's own allowlist).
//!
//! Needs the reference sops (`ENSEAL_SOPS_REF`); the Vault test needs the
//! local servers (`eval "$(scripts/test-servers env)"`) and the peer test
//! root (to run a client as another uid). Missing: a failure in CI, a
//! printed skip locally.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::{Duration, Instant};

const PLAIN: &str = "a: secret\nlist:\n    - x\n";

/// A running key service, stopped with SIGTERM when dropped.
struct Server {
    child: Child,
    stderr: Option<BufReader<ChildStderr>>,
}

impl Server {
    /// Starts `cmd` (stderr piped) and waits for `ready`.
    fn start(mut cmd: Command, ready: impl Fn(&str) -> bool) -> (Server, String) {
        cmd.stderr(Stdio::piped()).stdout(Stdio::null());
        let mut child = cmd.spawn().expect("start the key service");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            let n = stderr.read_line(&mut line).unwrap_or(0);
            if n == 0 {
                let _ = child.wait();
                panic!("the key service exited before it was ready:\n{seen}");
            }
            seen.push_str(&line);
            if ready(&line) {
                break;
            }
        }
        (
            Server {
                child,
                stderr: Some(stderr),
            },
            seen,
        )
    }

    /// Stops the server (SIGTERM) and returns the rest of its stderr.
    fn stop(mut self) -> String {
        self.terminate();
        let mut rest = String::new();
        if let Some(mut stderr) = self.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut stderr, &mut rest);
        }
        let _ = self.child.wait();
        rest
    }

    fn terminate(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.terminate();
        let _ = self.child.wait();
    }
}

/// `enseal keyservice` on a unix socket, with an age identity (test key 1)
/// in its environment only.
fn enseal_server(sb: &Sandbox, socket: &Path) -> Server {
    let mut cmd = sb.enseal();
    cmd.args(["keyservice", "--network", "unix", "--address"])
        .arg(socket)
        .arg("--verbose")
        .env("SOPS_AGE_KEY_FILE", key_file(1));
    Server::start(cmd, |line| line.starts_with("Listening on")).0
}

fn uri(socket: &Path) -> String {
    format!("unix://{}", socket.display())
}

/// A file encrypted for test key 1 by the reference, without the service.
fn encrypted_for_key_1(sb: &Sandbox, sops: &Path) -> PathBuf {
    let plain = sb.write("plain.yaml", PLAIN);
    let out = run(sb
        .sops(sops)
        .args(["encrypt", "--age", &recipient(1)])
        .arg(&plain))
    .ok();
    sb.write("enc.yaml", out.stdout)
}

#[test]
fn sops_decrypts_and_encrypts_through_an_enseal_key_service() {
    let Some(sops) = require_sops() else { return };
    let sb = Sandbox::new();
    let encrypted = encrypted_for_key_1(&sb, &sops);
    let socket = sb.root().join("ks.sock");
    let server = enseal_server(&sb, &socket);
    // Without the service the client has no key at all.
    let alone = run(sb.sops(&sops).arg("decrypt").arg(&encrypted));
    assert_ne!(alone.code, Some(0), "the client must hold no identity");
    let decrypted = run(sb
        .sops(&sops)
        .args(["decrypt", "--keyservice", &uri(&socket)])
        .arg("--enable-local-keyservice=false")
        .arg(&encrypted))
    .ok();
    assert_eq!(decrypted.out(), PLAIN);
    let plain = sb.write("new.yaml", PLAIN);
    let encrypted_remotely = run(sb
        .sops(&sops)
        .args(["encrypt", "--keyservice", &uri(&socket)])
        .args(["--enable-local-keyservice=false", "--age", &recipient(1)])
        .arg(&plain))
    .ok();
    let file = sb.write("remote.enc.yaml", encrypted_remotely.stdout);
    let local = run(sb
        .enseal()
        .arg("decrypt")
        .arg(&file)
        .env("SOPS_AGE_KEY_FILE", key_file(1)))
    .ok();
    assert_eq!(local.out(), PLAIN);
    let log = server.stop();
    assert!(
        log.contains(&format!("decrypt with {}: done", recipient(1)))
            && log.contains(&format!("encrypt with {}: done", recipient(1))),
        "{log}"
    );
    assert!(!socket.exists(), "the socket is removed on SIGTERM");
}

#[test]
fn verbose_shows_each_attempt_local_then_remote_and_no_secret() {
    let sb = Sandbox::new();
    let plain = sb.write("plain.yaml", PLAIN);
    let out = run(sb
        .enseal()
        .args(["--verbose", "encrypt", "--age", &recipient(1)])
        .arg(&plain))
    .ok();
    let wrapped = format!("[keys] wrap age {} at local: ok (", recipient(1));
    assert!(out.err().contains(&wrapped), "{}", out.err());
    let encrypted = sb.write("enc.yaml", out.stdout);
    let socket = sb.root().join("ks.sock");
    let server = enseal_server(&sb, &socket);
    // The client holds key 2 (no match), the service key 1.
    let decrypted = run(sb
        .enseal()
        .args(["--verbose", "decrypt", "--keyservice", &uri(&socket)])
        .arg(&encrypted)
        .env("SOPS_AGE_KEY_FILE", key_file(2)))
    .ok();
    // Without --verbose: nothing about keys.
    let quiet = run(sb
        .enseal()
        .args(["decrypt", "--keyservice", &uri(&socket)])
        .arg(&encrypted)
        .env("SOPS_AGE_KEY_FILE", key_file(2)))
    .ok();
    server.stop();
    assert_eq!(decrypted.out(), PLAIN);
    let err = decrypted.err();
    let local = format!("[keys] unwrap age {} at local: failed (", recipient(1));
    let remote = format!(
        "[keys] unwrap age {} at {}: ok (",
        recipient(1),
        uri(&socket)
    );
    let (Some(l), Some(r)) = (err.find(&local), err.find(&remote)) else {
        panic!("expected both attempts in:\n{err}");
    };
    assert!(l < r, "local is tried first:\n{err}");
    for secret in [secret_key(1), secret_key(2), "secret\n".to_string()] {
        assert!(
            !err.contains(&secret),
            "a secret in --verbose output:\n{err}"
        );
    }
    assert!(!quiet.err().contains("[keys]"), "{}", quiet.err());
}

#[test]
fn enseal_decrypts_and_encrypts_through_a_sops_key_service() {
    let Some(sops) = require_sops() else { return };
    let sb = Sandbox::new();
    let encrypted = encrypted_for_key_1(&sb, &sops);
    let socket = sb.root().join("sops.sock");
    let mut cmd = sb.sops(&sops);
    cmd.args(["keyservice", "--network", "unix", "--address"])
        .arg(&socket)
        .env("SOPS_AGE_KEY_FILE", key_file(1));
    cmd.stderr(Stdio::null()).stdout(Stdio::null());
    let mut child = cmd.spawn().expect("start sops keyservice");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "sops keyservice did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let alone = run(sb.enseal().arg("decrypt").arg(&encrypted));
    assert_ne!(alone.code, Some(0), "the client must hold no identity");
    let decrypted = run(sb
        .enseal()
        .args(["decrypt", "--keyservice", &uri(&socket)])
        .arg("--enable-local-keyservice=false")
        .arg(&encrypted));
    let plain = sb.write("new.yaml", PLAIN);
    let encrypted_remotely = run(sb
        .enseal()
        .args(["encrypt", "--keyservice", &uri(&socket)])
        .args(["--enable-local-keyservice=false", "--age", &recipient(1)])
        .arg(&plain));
    // The variable form of the same options.
    let via_env = run(sb
        .enseal()
        .arg("decrypt")
        .arg(&encrypted)
        .env("SOPS_KEYSERVICE", uri(&socket))
        .env("SOPS_ENABLE_LOCAL_KEYSERVICE", "false"));
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let _ = child.wait();
    assert_eq!(decrypted.ok().out(), PLAIN);
    assert_eq!(via_env.ok().out(), PLAIN);
    let file = sb.write("remote.enc.yaml", encrypted_remotely.ok().stdout);
    let local = run(sb
        .sops(&sops)
        .arg("decrypt")
        .arg(&file)
        .env("SOPS_AGE_KEY_FILE", key_file(1)))
    .ok();
    assert_eq!(local.out(), PLAIN);
}

#[test]
fn enseal_serves_enseal_over_loopback_tcp() {
    let sb = Sandbox::new();
    let mut cmd = sb.enseal();
    cmd.args(["keyservice", "--network", "tcp", "--address", "127.0.0.1:0"])
        .env("SOPS_AGE_KEY_FILE", key_file(1));
    let (server, seen) = Server::start(cmd, |line| line.starts_with("Listening on"));
    assert!(
        seen.contains("warning: every local user can connect"),
        "{seen}"
    );
    let address = seen
        .lines()
        .find_map(|l| l.strip_prefix("Listening on "))
        .unwrap()
        .trim()
        .to_string();
    let plain = sb.write("plain.yaml", PLAIN);
    let encrypted = run(sb
        .enseal()
        .args(["encrypt", "--keyservice", &address])
        .args(["--enable-local-keyservice=false", "--age", &recipient(1)])
        .arg(&plain))
    .ok();
    let file = sb.write("enc.yaml", encrypted.stdout);
    let decrypted = run(sb
        .enseal()
        .args(["decrypt", "--keyservice", &address])
        .arg("--enable-local-keyservice=false")
        .arg(&file))
    .ok();
    assert_eq!(decrypted.out(), PLAIN);
    drop(server);
    // With the service gone the same command fails, naming it.
    let gone = run(sb
        .enseal()
        .args(["decrypt", "--keyservice", &address])
        .arg("--enable-local-keyservice=false")
        .arg(&file));
    assert_eq!(gone.code, Some(128), "{}", gone.err());
    assert!(
        gone.err().contains("cannot connect to key service"),
        "{}",
        gone.err()
    );
}

#[test]
fn the_socket_is_private_to_its_owner() {
    let sb = Sandbox::new();
    let socket = sb.root().join("ks.sock");
    let server = enseal_server(&sb, &socket);
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "socket mode {mode:o}");
    drop(server);
    // A file already at the address is never replaced.
    std::fs::write(&socket, "not a socket").unwrap();
    let out = run(sb
        .enseal()
        .args(["keyservice", "--network", "unix", "--address"])
        .arg(&socket));
    assert_eq!(out.code, Some(1));
    assert!(out.err().contains("the file exists"), "{}", out.err());
    assert_eq!(std::fs::read_to_string(&socket).unwrap(), "not a socket");
}

#[test]
fn a_non_loopback_tcp_address_needs_allow_remote() {
    let sb = Sandbox::new();
    let out = run(sb
        .enseal()
        .args(["keyservice", "--network", "tcp", "--address", "0.0.0.0:0"]));
    assert_eq!(out.code, Some(1));
    assert!(
        out.err().contains("not a loopback address"),
        "{}",
        out.err()
    );
    let mut cmd = sb.enseal();
    cmd.args(["keyservice", "--network", "tcp", "--address", "0.0.0.0:0"])
        .arg("--allow-remote");
    let (server, seen) = Server::start(cmd, |line| line.starts_with("Listening on"));
    assert!(seen.contains("without authentication or TLS"), "{seen}");
    drop(server);
}

#[test]
fn another_users_connection_is_refused() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        unavailable("root, to run a client under another uid");
        return;
    }
    let sb = Sandbox::new();
    // Let the other user reach the socket file; the mode of the socket
    // itself is then opened too, so that only the peer check is left.
    let dir = sb.root().join("shared");
    std::fs::create_dir(&dir).unwrap();
    for d in [sb.root(), dir.as_path()] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o711)).unwrap();
    }
    let socket = dir.join("ks.sock");
    let server = enseal_server(&sb, &socket);
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let encrypted = {
        let plain = sb.write("plain.yaml", PLAIN);
        run(sb
            .enseal()
            .args(["encrypt", "--age", &recipient(1)])
            .arg(&plain))
        .ok()
        .stdout
    };
    let mut client = scrubbed(&enseal_bin(), Path::new("/nonexistent"), Path::new("/"));
    std::os::unix::process::CommandExt::uid(&mut client, 65534);
    std::os::unix::process::CommandExt::gid(&mut client, 65534);
    client.args([
        "decrypt",
        "--input-type",
        "yaml",
        "--keyservice",
        &uri(&socket),
    ]);
    client.arg("--enable-local-keyservice=false");
    let out = run_stdin(&mut client, &encrypted);
    assert_eq!(out.code, Some(128), "{}", out.err());
    assert!(!out.out().contains("secret"));
    let log = server.stop();
    assert!(log.contains("refused a connection from uid 65534"), "{log}");
    assert!(!log.contains("decrypt with"), "{log}");
}

/// The local Vault's coordinates, or `None` (failure in CI).
fn vault() -> Option<(String, String)> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (
        var("ENSEAL_TEST_VAULT_ADDR"),
        var("ENSEAL_TEST_VAULT_TOKEN"),
    ) {
        (Some(addr), Some(token)) => Some((addr, token)),
        _ => {
            unavailable("the local Vault (eval \"$(scripts/test-servers env)\")");
            None
        }
    }
}

#[test]
fn vault_keys_through_the_service_follow_the_servers_allowlist() {
    let Some(sops) = require_sops() else { return };
    let Some((vault_addr, token)) = vault() else {
        return;
    };
    let key_uri = format!("{vault_addr}/v1/transit/keys/sops");
    let sb = Sandbox::new();
    let plain = sb.write("plain.yaml", PLAIN);
    let encrypt = |socket: &Path| {
        run(sb
            .sops(&sops)
            .args(["encrypt", "--keyservice", &uri(socket)])
            .args([
                "--enable-local-keyservice=false",
                "--hc-vault-transit",
                &key_uri,
            ])
            .arg(&plain))
    };
    // A server that was not told about this Vault: the address comes only
    // from the request, as untrusted as one from a file.
    let untrusting = sb.root().join("untrusting.sock");
    let mut cmd = sb.enseal();
    cmd.args(["keyservice", "--network", "unix", "--address"])
        .arg(&untrusting)
        .env("VAULT_TOKEN", &token);
    let (server, _) = Server::start(cmd, |line| line.starts_with("Listening on"));
    let refused = encrypt(&untrusting);
    drop(server);
    assert_ne!(refused.code, Some(0));
    assert!(
        refused.err().contains("Allowlist does not allow"),
        "{}",
        refused.err()
    );
    // The same server with VAULT_ADDR set: the client holds no token.
    let trusting = sb.root().join("trusting.sock");
    let mut cmd = sb.enseal();
    cmd.args(["keyservice", "--network", "unix", "--address"])
        .arg(&trusting)
        .env("VAULT_TOKEN", &token)
        .env("VAULT_ADDR", &vault_addr);
    let (server, _) = Server::start(cmd, |line| line.starts_with("Listening on"));
    let encrypted = encrypt(&trusting).ok();
    let file = sb.write("enc.yaml", encrypted.stdout);
    let decrypted = run(sb
        .sops(&sops)
        .args(["decrypt", "--keyservice", &uri(&trusting)])
        .arg("--enable-local-keyservice=false")
        .arg(&file))
    .ok();
    drop(server);
    assert_eq!(decrypted.out(), PLAIN);
    let local = run(sb
        .enseal()
        .arg("decrypt")
        .arg(&file)
        .env("VAULT_TOKEN", &token)
        .env("VAULT_ADDR", &vault_addr))
    .ok();
    assert_eq!(local.out(), PLAIN);
}

#[test]
fn pgp_keys_through_the_service_use_the_servers_keyring() {
    let Some(sops) = require_sops() else { return };
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (Some(gnupghome), Some(fpr)) = (var("ENSEAL_TEST_GNUPGHOME"), var("ENSEAL_TEST_PGP_FPR"))
    else {
        unavailable("the test gpg home (eval \"$(scripts/test-servers env)\")");
        return;
    };
    let sb = Sandbox::new();
    // The client's own keyring is empty.
    let empty_home = sb.root().join("gnupg-empty");
    std::fs::create_dir(&empty_home).unwrap();
    std::fs::set_permissions(&empty_home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let socket = sb.root().join("ks.sock");
    let mut cmd = sb.enseal();
    cmd.args(["keyservice", "--network", "unix", "--address"])
        .arg(&socket)
        .env("GNUPGHOME", &gnupghome);
    let (server, _) = Server::start(cmd, |line| line.starts_with("Listening on"));
    let plain = sb.write("plain.yaml", PLAIN);
    let encrypted = run(sb
        .sops(&sops)
        .args(["encrypt", "--keyservice", &uri(&socket)])
        .args(["--enable-local-keyservice=false", "--pgp", &fpr])
        .arg(&plain)
        .env("GNUPGHOME", &empty_home))
    .ok();
    let file = sb.write("enc.yaml", encrypted.stdout);
    let alone = run(sb
        .enseal()
        .arg("decrypt")
        .arg(&file)
        .env("GNUPGHOME", &empty_home));
    assert_ne!(
        alone.code,
        Some(0),
        "the client's keyring must not hold the key"
    );
    let decrypted = run(sb
        .enseal()
        .args(["decrypt", "--keyservice", &uri(&socket)])
        .arg("--enable-local-keyservice=false")
        .arg(&file)
        .env("GNUPGHOME", &empty_home))
    .ok();
    drop(server);
    assert_eq!(decrypted.out(), PLAIN);
    let local = run(sb
        .sops(&sops)
        .arg("decrypt")
        .arg(&file)
        .env("GNUPGHOME", &gnupghome))
    .ok();
    assert_eq!(local.out(), PLAIN);
}

//! The binary as an operator meets it: what a start prints, what it creates on disk,
//! and the errors that must stop it. `cargo test -p server --test cli`.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

fn server() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "server=warn");
    cmd
}

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "jwt-refresh-cli-{}",
        server::refresh_token::generate()[..12].replace(['-', '_'], "x")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts `serve` on a free port, waits until it prints its URL, returns its output so
/// far and kills it.
fn start_and_stop(mut cmd: Command) -> (bool, String) {
    let mut child = cmd
        .arg("serve")
        .env("ADDR", "127.0.0.1:0")
        .env("STATIC_DIR", "/nonexistent")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = [0u8; 4096];
        let mut out = String::new();
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.push_str(&String::from_utf8_lossy(&buf[..n]));
            if out.contains("Serving on") {
                break;
            }
        }
        out
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !reader.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    let stdout = reader.join().unwrap();
    let served = stdout.contains("Serving on");
    (served, stdout + &String::from_utf8_lossy(&output.stderr))
}

#[test]
fn a_production_start_creates_no_demo_users_and_prints_no_password() {
    let dir = scratch_dir();
    let mut cmd = server();
    cmd.env(
        "DATABASE_URL",
        format!("sqlite://{}/db.sqlite?mode=rwc", dir.display()),
    );
    let (served, output) = start_and_stop(cmd);
    assert!(served, "{output}");
    assert!(!output.contains("demo"), "{output}");
    assert!(!output.contains("alice"), "{output}");

    let mut cmd = server();
    cmd.env(
        "DATABASE_URL",
        format!("sqlite://{}/db.sqlite?mode=rwc", dir.display()),
    )
    .env("DEMO_USERS", "true");
    let (served, output) = start_and_stop(cmd);
    assert!(served && output.contains("alice /"), "opted in: {output}");
}

#[cfg(unix)]
#[test]
fn the_database_and_its_key_are_owner_only_and_the_keys_are_encrypted() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch_dir().join("data");
    let mut cmd = server();
    cmd.env(
        "DATABASE_URL",
        format!("sqlite://{}/db.sqlite?mode=rwc", dir.display()),
    );
    let (served, output) = start_and_stop(cmd);
    assert!(served, "{output}");
    assert!(
        output.contains("secret.key"),
        "says where the key is: {output}"
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    for file in ["db.sqlite", "db.sqlite-wal", "db.sqlite-shm", "secret.key"] {
        let path = dir.join(file);
        if path.exists() || file == "db.sqlite" || file == "secret.key" {
            assert_eq!(mode(&path), 0o600, "{file}");
        }
    }
    // The database alone holds no usable key: every stored secret is sealed.
    let url = format!("sqlite://{}/db.sqlite", dir.display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = server::store::Store::connect(&url).await.unwrap();
        let keys = store.signing_keys().await.unwrap();
        assert!(!keys.is_empty());
        for key in keys {
            assert!(server::secrets::Kek::is_sealed(&key.secret), "{}", key.kid);
        }
        let hmac = store
            .secret_or_insert("refresh_hmac_key", "never used")
            .await
            .unwrap();
        assert!(server::secrets::Kek::is_sealed(&hmac));
    });
}

#[test]
fn a_wrong_or_missing_key_stops_the_start_with_a_clear_error() {
    let dir = scratch_dir();
    let url = format!("sqlite://{}/db.sqlite?mode=rwc", dir.display());
    let key = dir.join("mine.key");
    std::fs::write(&key, [7u8; 32]).unwrap();
    let mut cmd = server();
    cmd.env("DATABASE_URL", &url).env("SECRET_KEY_FILE", &key);
    let (served, output) = start_and_stop(cmd);
    assert!(served, "{output}");

    // Another key: a clear error, never a new key.
    let other = dir.join("other.key");
    std::fs::write(&other, [8u8; 32]).unwrap();
    let output = server()
        .args(["serve"])
        .env("DATABASE_URL", &url)
        .env("SECRET_KEY_FILE", &other)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SECRET_KEY_FILE"), "{stderr}");

    // A key file that is too short.
    std::fs::write(&other, b"short").unwrap();
    let output = server()
        .args(["serve"])
        .env("DATABASE_URL", &url)
        .env("SECRET_KEY_FILE", &other)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("at least 32"));

    // PostgreSQL without any key: refused before it connects.
    let output = server()
        .args(["serve"])
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("SECRET_KEY_FILE"));
}

/// Peak resident memory of process `pid`, in KiB (`VmHWM` in /proc).
#[cfg(target_os = "linux")]
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// 200 concurrent password checks once took the server to 4.3 GB: each Argon2 hash
/// holds 19 MiB. With the bounded pool, at most `HASH_CONCURRENCY` run, `HASH_QUEUE`
/// wait, the rest get 503 at once, and memory stays flat.
#[cfg(target_os = "linux")]
#[test]
fn two_hundred_concurrent_sign_ins_keep_memory_bounded() {
    const LIMIT_MIB: u64 = 160;
    let dir = scratch_dir();
    let url = format!("sqlite://{}/db.sqlite?mode=rwc", dir.display());
    let add = server()
        .args(["user", "add", "bob", "--password-stdin"])
        .env("DATABASE_URL", &url)
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(b"bob-passphrase")?;
            child.wait()
        })
        .unwrap();
    assert!(add.success());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = server()
        .arg("serve")
        .env("DATABASE_URL", &url)
        .env("ADDR", format!("127.0.0.1:{port}"))
        .env("STATIC_DIR", "/nonexistent")
        .env("HASH_CONCURRENCY", "2")
        .env("HASH_QUEUE", "16")
        // Only the hashing pool may say no here.
        .env("LOGIN_PER_IP", "100000")
        .env("LOGIN_PER_USER_IP", "100000")
        .env("LOGIN_PER_USER", "100000")
        .env("MAX_CONNECTIONS_PER_IP", "0")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let statuses = runtime.block_on(async {
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if http.get(format!("{base}/healthz")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let attempts = (0..200).map(|_| {
            http.post(format!("{base}/api/auth/login"))
                .json(&serde_json::json!({"username": "bob", "password": "guess-guess-guess"}))
                .send()
        });
        futures::future::join_all(attempts).await
    });
    let peak_mib = peak_rss_kib(child.id()) / 1024;
    let _ = child.kill();
    let _ = child.wait();
    let mut unauthorized = 0;
    let mut busy = 0;
    for status in statuses {
        match status.unwrap().status().as_u16() {
            401 => unauthorized += 1,
            503 => busy += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(unauthorized + busy, 200);
    assert!(busy > 0, "the queue never filled");
    assert!(
        unauthorized >= 18,
        "every admitted check ran: {unauthorized}"
    );
    assert!(peak_mib < LIMIT_MIB, "peak RSS {peak_mib} MiB");
    eprintln!(
        "200 concurrent sign-ins: {unauthorized} checked, {busy} refused, peak RSS {peak_mib} MiB"
    );
}

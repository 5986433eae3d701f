//! The example end to end: a real server in this process (with a clock the test moves),
//! the `native` binary as a child process, and the user's part in the browser (sign in,
//! Allow, follow the redirect) played over HTTP exactly as the consent page does it.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Output, Stdio},
    sync::Arc,
    time::Duration,
};

use reqwest::{StatusCode, Url};
use server::{AppState, Engine, clock::ManualClock, config::Config, secrets::Kek, store::Store};
use wire::{
    TokenResponse,
    oauth::{AuthorizeResponse, OAuthErrorBody, OAuthErrorCode},
};

async fn spawn_server(dir: &Path) -> (String, ManualClock, AppState) {
    let mut config = Config::defaults();
    config.static_dir = dir.join("no-spa");
    let clock = ManualClock::new();
    let database = format!("sqlite://{}?mode=rwc", dir.join("server.db").display());
    let store = Store::connect(&database).await.unwrap();
    let kek = Kek::from_material(&[7u8; 32]).unwrap();
    let state: AppState = Arc::new(
        Engine::new(config, store, kek, Arc::new(clock.clone()))
            .await
            .unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(server::serve(state.clone(), listener));
    (url, clock, state)
}

/// Runs a finished command off the runtime, which also serves the server.
async fn run(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_in_the_browser_then_whoami_refreshes_and_logout_revokes() {
    let dir = std::env::temp_dir().join(format!(
        "native-example-{}",
        server::refresh_token::generate()[..12].replace('-', "_")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (url, clock, state) = spawn_server(&dir).await;
    state
        .create_user("bob", "bob-passphrase", &["user".into()])
        .await
        .unwrap();
    let client = state
        .register_client("Native example", &["http://127.0.0.1/callback".into()])
        .await
        .unwrap();
    let token_file = dir.join("config").join("tokens.json");
    let native = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_native"));
        command
            .args(args)
            .env("NATIVE_SERVER", &url)
            .env("NATIVE_TOKEN_FILE", &token_file)
            .env_remove("BROWSER");
        command
    };
    let http = reqwest::Client::new();

    // `login` prints the authorization URL and waits for the browser.
    let mut login = native(&["login", "--client-id", &client.id, "--no-browser"]);
    let mut child = login.stdout(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (url_tx, url_rx) = std::sync::mpsc::channel();
    let output = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if line.trim_start().starts_with("http") {
                let _ = url_tx.send(line.trim().to_owned());
            }
            seen.push(line);
        }
        seen.join("\n")
    });
    let authorization =
        tokio::task::spawn_blocking(move || url_rx.recv_timeout(Duration::from_secs(30)).unwrap())
            .await
            .unwrap();
    let authorization = Url::parse(&authorization).unwrap();
    assert_eq!(authorization.path(), "/oauth/authorize");
    let mut request: serde_json::Map<String, serde_json::Value> = authorization
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned().into()))
        .collect();
    assert_eq!(request["code_challenge_method"], "S256");
    assert!(
        request["redirect_uri"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );

    // The user's part: sign in, Allow, and the browser follows the redirect.
    let signed_in: TokenResponse = http
        .post(format!("{url}/api/auth/login"))
        .json(&serde_json::json!({"username": "bob", "password": "bob-passphrase"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    request.insert("approve".into(), true.into());
    let answer: AuthorizeResponse = http
        .post(format!("{url}/api/oauth/authorize"))
        .bearer_auth(&signed_in.access_token)
        .json(&request)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let page = http.get(&answer.redirect_to).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("You can close this tab")
    );
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    let printed = output.join().unwrap();
    assert!(status.success(), "login failed: {printed}");
    assert!(printed.contains("Signed in."), "{printed}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the token file is for its owner only");
    }
    let saved = |field: &str| {
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&token_file).unwrap()).unwrap();
        json[field].as_str().unwrap().to_owned()
    };

    let whoami = run(native(&["whoami"])).await;
    assert!(whoami.status.success(), "{}", text(&whoami.stderr));
    assert!(text(&whoami.stdout).contains("Signed in as bob"));
    let first_refresh_token = saved("refresh_token");

    // On the server's clock the access token is now dead; on the app's it is not. The
    // server's `token_expired` makes the app refresh, save the rotated token and retry.
    clock.advance(Duration::from_secs(16 * 60));
    let whoami = run(native(&["whoami"])).await;
    assert!(whoami.status.success(), "{}", text(&whoami.stderr));
    assert!(text(&whoami.stdout).contains("Signed in as bob"));
    let rotated = saved("refresh_token");
    assert_ne!(rotated, first_refresh_token);

    // `logout` revokes the grant at the server and forgets the file.
    let logout = run(native(&["logout"])).await;
    assert!(logout.status.success(), "{}", text(&logout.stderr));
    assert!(!token_file.exists());
    let response = http
        .post(format!("{url}/api/oauth/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rotated.as_str()),
            ("client_id", client.id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let body: OAuthErrorBody = response.json().await.unwrap();
    assert_eq!(body.error, OAuthErrorCode::InvalidGrant);
    let whoami = run(native(&["whoami"])).await;
    assert!(!whoami.status.success());
    assert!(text(&whoami.stderr).contains("not signed in"));

    let _ = std::fs::remove_dir_all(&dir);
}

//! Several instances on one PostgreSQL database and one Redis, as an operator runs them:
//! three `server` processes, and a client that talks to whichever it likes.
//!
//! They need the machine's PostgreSQL and Redis, so they are `#[ignore]`d in a plain
//! `cargo test`; `scripts/test.sh` runs them with
//! `TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test TEST_REDIS_URL=redis://127.0.0.1:6379
//! cargo test -p server --test cluster -- --ignored`.

mod machine;

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use reqwest::{StatusCode, header};
use wire::{ErrorBody, ErrorCode, REFRESH_COOKIE, TokenResponse};

use machine::{env_url, fresh_postgres, random, refresh_cookie, server_cli};

const PASSWORD: &str = "cluster-test-passphrase";

struct Cluster {
    urls: Vec<String>,
    children: Vec<Option<Child>>,
    env: Vec<(String, String)>,
    http: reqwest::Client,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Cluster {
    /// `n` instances on a fresh database, sharing Redis (under a fresh key prefix) and
    /// the key-encryption key, with user `bob` and `extra` settings.
    async fn start(n: usize, extra: &[(&str, &str)]) -> Self {
        let mut env: Vec<(String, String)> = vec![
            ("DATABASE_URL".into(), fresh_postgres("cluster").await),
            ("REDIS_URL".into(), env_url("TEST_REDIS_URL")),
            ("REDIS_PREFIX".into(), format!("test-{}:", random(10))),
            ("SECRET_KEY".into(), server::refresh_token::generate()),
            ("STATIC_DIR".into(), "/nonexistent".into()),
            ("RUST_LOG".into(), "server=warn".into()),
        ];
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let mut cluster = Self {
            urls: Vec::new(),
            children: Vec::new(),
            env,
            http: reqwest::Client::builder()
                .user_agent("cluster-test/1.0")
                .build()
                .unwrap(),
        };
        cluster.run(&["user", "add", "bob", "--password-stdin"], Some(PASSWORD));
        for _ in 0..n {
            let (child, url) = cluster.spawn();
            cluster.children.push(Some(child));
            cluster.urls.push(url);
        }
        cluster
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Runs a CLI command against the cluster's database; returns its stdout.
    fn run(&self, args: &[&str], stdin: Option<&str>) -> String {
        server_cli(&self.env, args, stdin.unwrap_or_default())
    }

    /// Starts one instance on a free port; returns it and its URL.
    fn spawn(&self) -> (Child, String) {
        let mut child = self
            .command()
            .arg("serve")
            .env("ADDR", "127.0.0.1:0")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines.next().expect("the server printed its URL").unwrap();
            if let Some(url) = line.strip_prefix("Serving on ") {
                break url.to_owned();
            }
        };
        // Keep draining its stdout so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        (child, url)
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.children[i].take() {
            // SIGKILL: no graceful shutdown, no chance to finish anything.
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    async fn login(&self, i: usize, password: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/api/auth/login", self.urls[i]))
            .json(&serde_json::json!({"username": "bob", "password": password}))
            .send()
            .await
            .unwrap()
    }

    async fn signed_in(&self, i: usize) -> (TokenResponse, String) {
        let response = self.login(i, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);
        let cookie = refresh_cookie(&response).unwrap();
        (response.json().await.unwrap(), cookie)
    }

    async fn refresh(&self, i: usize, cookie: &str) -> reqwest::Result<reqwest::Response> {
        self.http
            .post(format!("{}/api/auth/refresh", self.urls[i]))
            .header(header::COOKIE, format!("{REFRESH_COOKIE}={cookie}"))
            .header("X-Requested-With", "fetch")
            .send()
            .await
    }

    async fn me(&self, i: usize, token: &str) -> StatusCode {
        self.http
            .get(format!("{}/api/me", self.urls[i]))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
    }
}

async fn error_code(response: reqwest::Response) -> ErrorCode {
    response.json::<ErrorBody>().await.unwrap().error
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test.sh runs it"]
async fn a_token_from_one_instance_works_on_every_other() {
    let cluster = Cluster::start(3, &[]).await;
    let (tokens, _) = cluster.signed_in(0).await;
    for i in 0..3 {
        assert_eq!(cluster.me(i, &tokens.access_token).await, StatusCode::OK);
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test.sh runs it"]
async fn fifty_concurrent_refreshes_over_three_instances_yield_one_successor() {
    let cluster = Cluster::start(3, &[]).await;
    let (_, cookie) = cluster.signed_in(0).await;
    let attempts = (0..50).map(|i| cluster.refresh(i % 3, &cookie));
    let mut successors = std::collections::HashSet::new();
    for response in futures::future::join_all(attempts).await {
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        successors.insert(refresh_cookie(&response).unwrap());
    }
    assert_eq!(successors.len(), 1, "{successors:?}");
    let next = successors.into_iter().next().unwrap();
    assert_eq!(
        cluster.refresh(2, &next).await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test.sh runs it"]
async fn a_session_revoked_on_one_instance_is_refused_by_the_others_within_a_second() {
    let cluster = Cluster::start(3, &[]).await;
    let (phone, phone_cookie) = cluster.signed_in(1).await;
    let (laptop, _) = cluster.signed_in(0).await;
    // Every instance has seen the phone's token work (and could have cached it).
    for i in 0..3 {
        assert_eq!(cluster.me(i, &phone.access_token).await, StatusCode::OK);
    }
    let revoked = cluster
        .http
        .delete(format!(
            "{}/api/auth/sessions/{}",
            cluster.urls[0], phone.session.id
        ))
        .bearer_auth(&laptop.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let start = Instant::now();
    for i in [1, 2] {
        loop {
            let status = cluster.me(i, &phone.access_token).await;
            if status == StatusCode::UNAUTHORIZED {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(1),
                "instance {i} still accepts the revoked session's token"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // The refresh token is refused everywhere too.
    for i in 0..3 {
        let response = cluster.refresh(i, &phone_cookie).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(error_code(response).await, ErrorCode::SessionRevoked);
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test.sh runs it"]
async fn guesses_spread_over_three_instances_meet_one_limit() {
    let cluster = Cluster::start(3, &[("LOGIN_PER_USER_IP", "5")]).await;
    let mut refused_at = None;
    for attempt in 1..=15 {
        let status = cluster
            .login(attempt % 3, "wrong-wrong-wrong")
            .await
            .status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            refused_at = Some(attempt);
            break;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // One instance refuses the 6th attempt; three sharing Redis must too, not the 16th.
    assert_eq!(refused_at, Some(6));
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test.sh runs it"]
async fn a_key_rotation_under_traffic_signs_nobody_out() {
    // Many sign-ins from one address: only the keys are under test here.
    let limits = [("LOGIN_PER_IP", "100000"), ("LOGIN_PER_USER_IP", "100000")];
    let cluster = Arc::new(Cluster::start(3, &limits).await);
    let unauthorized = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(6);
    let workers: Vec<_> = (0..3)
        .map(|w| {
            let (cluster, unauthorized, requests) =
                (cluster.clone(), unauthorized.clone(), requests.clone());
            tokio::spawn(async move {
                let mut kids = std::collections::HashSet::new();
                let mut n = w;
                while Instant::now() < deadline {
                    // Sign in on one instance, use the token on the other two.
                    let (tokens, _) = cluster.signed_in(n % 3).await;
                    kids.insert(kid_of(&tokens.access_token));
                    for i in 1..3 {
                        requests.fetch_add(1, Ordering::Relaxed);
                        if cluster.me((n + i) % 3, &tokens.access_token).await
                            == StatusCode::UNAUTHORIZED
                        {
                            unauthorized.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    n += 1;
                }
                kids
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let said = cluster.run(&["keys", "rotate", "--activate-in", "2s"], None);
    assert!(said.contains("signs from"), "{said}");
    let mut kids = std::collections::HashSet::new();
    for worker in workers {
        kids.extend(worker.await.unwrap());
    }
    assert_eq!(unauthorized.load(Ordering::Relaxed), 0);
    assert!(requests.load(Ordering::Relaxed) > 20);
    assert_eq!(
        kids.len(),
        2,
        "tokens were signed by the old key, then the new one"
    );
}

fn kid_of(token: &str) -> String {
    use base64::Engine;
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.split('.').next().unwrap())
        .unwrap();
    serde_json::from_slice::<serde_json::Value>(&header).unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis: scripts/test.sh runs it"]
async fn killing_an_instance_mid_traffic_loses_no_session_and_breaks_no_chain() {
    let mut cluster = Cluster::start(3, &[]).await;
    let mut chains = Vec::new();
    for i in 0..9 {
        chains.push(cluster.signed_in(i % 3).await.1);
    }
    let live = |killed: bool| -> Vec<usize> { if killed { vec![0, 2] } else { vec![0, 1, 2] } };
    for round in 0..12 {
        let killed = round >= 4;
        if round == 4 {
            // Mid-traffic: requests to instance 1 are in flight as it dies.
            let in_flight: Vec<_> = chains
                .iter()
                .map(|cookie| {
                    let request = cluster
                        .http
                        .post(format!("{}/api/auth/refresh", cluster.urls[1]))
                        .header(header::COOKIE, format!("{REFRESH_COOKIE}={cookie}"))
                        .header("X-Requested-With", "fetch");
                    tokio::spawn(request.send())
                })
                .collect();
            tokio::time::sleep(Duration::from_millis(2)).await;
            cluster.kill(1);
            for (chain, answer) in chains
                .iter_mut()
                .zip(futures::future::join_all(in_flight).await)
            {
                if let Ok(Ok(response)) = answer
                    && response.status() == StatusCode::OK
                {
                    *chain = refresh_cookie(&response).unwrap();
                }
                // A lost answer: the client retries the same cookie elsewhere below,
                // and the grace period gives it the same successor.
            }
        }
        for (c, chain) in chains.iter_mut().enumerate() {
            let nodes = live(killed);
            let node = nodes[(c + round) % nodes.len()];
            let response = cluster.refresh(node, chain).await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::OK,
                "round {round}, chain {c}"
            );
            *chain = refresh_cookie(&response).unwrap();
        }
    }
}

/// A TCP forwarder to Redis that the test can cut, as a network partition would.
struct Cuttable {
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Cuttable {
    async fn to_redis() -> Self {
        let target = env_url("TEST_REDIS_URL")
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("redis://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let mut pipes = tokio::task::JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                pipes.spawn(async move {
                    if let Ok(mut redis) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut redis).await;
                    }
                });
            }
        });
        Self { url, task }
    }

    /// Drops the listener and every forwarded connection.
    fn cut(&self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs PostgreSQL and Redis: scripts/test.sh runs it"]
async fn when_redis_is_gone_refresh_fails_open_and_sign_in_keeps_local_limits() {
    let redis = Cuttable::to_redis().await;
    let cluster = Cluster::start(
        1,
        &[
            ("REDIS_URL", redis.url.as_str()),
            ("LOGIN_PER_USER_IP", "5"),
        ],
    )
    .await;
    let (_, mut cookie) = cluster.signed_in(0).await;
    redis.cut();
    // Refresh: a user's lifeline goes on, answered within the Redis timeout.
    for _ in 0..3 {
        let started = Instant::now();
        let response = cluster.refresh(0, &cookie).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(started.elapsed() < Duration::from_secs(2));
        cookie = refresh_cookie(&response).unwrap();
    }
    // Sign-in: this instance's own buckets still stop guessing.
    let mut refused_at = None;
    for attempt in 1..=10 {
        let status = cluster.login(0, "wrong-wrong-wrong").await.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            refused_at = Some(attempt);
            break;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert!(refused_at.is_some_and(|n| n <= 6), "{refused_at:?}");
}

//! Load generator for a running server on this machine.
//!
//! ```text
//! LOAD_PASSWORD=... cargo run --release -p server --example load -- \
//!     --url http://127.0.0.1:3000 --requests 2000 --concurrency 16
//! ```
//!
//! Scenarios, each bounded by `--requests` and by `--max-seconds`:
//!
//! * `me`: `GET /api/me` with one bearer token, `--concurrency` requests in flight;
//! * `refresh`: every virtual client logs in once, then rotates its own refresh cookie
//!   (`POST /api/auth/refresh`) again and again, always presenting the newest one;
//! * `login`: `POST /api/auth/login` (Argon2id-bound).
//!
//! Prints requests/s, p50/p90/p99 latency and the non-2xx count per scenario. The
//! server's rate limits (login 10/min per user, refresh 60/min per session, ...) will
//! answer most of this with 429 unless raised: `scripts/bench.sh` starts a server with
//! generous limits. Only loopback targets are accepted.

use std::{
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use reqwest::{StatusCode, Url, header};
use wire::{REFRESH_COOKIE, REQUESTED_WITH_HEADER};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Me,
    Refresh,
    Login,
}

/// Load generator for a server on this machine (loopback only).
#[derive(Debug, Parser)]
struct Args {
    /// Base URL of the server; its host must be 127.0.0.0/8, localhost or [::1].
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    url: String,
    /// User to sign in as.
    #[arg(long, default_value = "alice")]
    username: String,
    /// That user's password.
    #[arg(long, env = "LOAD_PASSWORD", hide_env_values = true)]
    password: String,
    /// Requests per scenario (the setup logins of `refresh` not counted).
    #[arg(long, default_value_t = 2000)]
    requests: u64,
    /// Requests of the `login` scenario, if not `--requests` (each costs an Argon2id hash).
    #[arg(long)]
    login_requests: Option<u64>,
    /// Requests in flight at once (virtual clients).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Paces the `refresh` scenario at this many requests a second in all (open loop,
    /// spread over the virtual clients) instead of as fast as they answer.
    #[arg(long)]
    rate: Option<f64>,
    /// Sign-ins a second to run beside the `refresh` scenario (a login storm), reported
    /// on a line of their own.
    #[arg(long, default_value_t = 0.0)]
    background_logins: f64,
    /// A scenario stops after this long even if requests remain.
    #[arg(long, default_value_t = 60)]
    max_seconds: u64,
    /// Scenarios to run, in order (comma-separated).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "me,refresh,login"
    )]
    scenarios: Vec<Scenario>,
}

/// Refuses anything but a loopback host, so this cannot be aimed at someone else.
fn loopback_url(raw: &str) -> anyhow::Result<Url> {
    let url = Url::parse(raw).with_context(|| format!("not a URL: {raw}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!("only http(s) URLs: {raw}");
    }
    let host = url.host_str().context("the URL has no host")?;
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    let ok = match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => v6.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    };
    if !ok {
        bail!("refusing {host}: only loopback hosts (127.0.0.0/8, localhost, [::1])");
    }
    Ok(url)
}

/// Latencies and outcomes of one worker (merged per scenario).
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    non_2xx: u64,
    errors: u64,
    statuses: std::collections::BTreeMap<u16, u64>,
}

impl Tally {
    fn record(&mut self, started: Instant, outcome: &reqwest::Result<StatusCode>) {
        self.latencies.push(started.elapsed());
        match outcome {
            Ok(status) if status.is_success() => {}
            Ok(status) => {
                self.non_2xx += 1;
                *self.statuses.entry(status.as_u16()).or_default() += 1;
            }
            Err(_) => self.errors += 1,
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.non_2xx += other.non_2xx;
        self.errors += other.errors;
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
    }
}

/// Hands out request tickets until `total` are taken or the deadline passes.
struct Budget {
    taken: AtomicU64,
    total: u64,
    deadline: Instant,
}

impl Budget {
    fn new(total: u64, max: Duration) -> Arc<Self> {
        Arc::new(Self {
            taken: AtomicU64::new(0),
            total,
            deadline: Instant::now() + max,
        })
    }

    fn take(&self) -> bool {
        Instant::now() < self.deadline && self.taken.fetch_add(1, Ordering::Relaxed) < self.total
    }
}

#[derive(Clone)]
struct Target {
    http: reqwest::Client,
    base: Url,
    username: String,
    password: String,
}

/// A signed-in virtual client: its access token and current refresh cookie.
struct Session {
    access_token: String,
    cookie: String,
}

/// The value of the `refresh_token` cookie a response sets, if any.
fn refresh_cookie(response: &reqwest::Response) -> Option<String> {
    let prefix = format!("{REFRESH_COOKIE}=");
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&prefix))
        .map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
        .filter(|value| !value.is_empty())
}

impl Target {
    fn endpoint(&self, path: &str) -> Url {
        self.base.join(path).expect("a valid path")
    }

    async fn post_login(&self) -> reqwest::Result<reqwest::Response> {
        self.http
            .post(self.endpoint("/api/auth/login"))
            .json(&serde_json::json!({
                "username": self.username,
                "password": self.password,
                "remember_me": false,
            }))
            .send()
            .await
    }

    async fn login(&self) -> anyhow::Result<Session> {
        let response = self.post_login().await?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            bail!("login as {} failed: {status} {body}", self.username);
        }
        let cookie = refresh_cookie(&response).context("login set no refresh cookie")?;
        // Only the token: the Node.js peer of scripts/bench.sh answers with less than we do.
        #[derive(serde::Deserialize)]
        struct Body {
            access_token: String,
        }
        let body: Body = response.json().await?;
        Ok(Session {
            access_token: body.access_token,
            cookie,
        })
    }

    async fn me(&self, token: &str) -> reqwest::Result<StatusCode> {
        let response = self
            .http
            .get(self.endpoint("/api/me"))
            .bearer_auth(token)
            .send()
            .await?;
        let status = response.status();
        response.bytes().await?;
        Ok(status)
    }

    /// One rotation; on success `cookie` becomes the successor.
    async fn refresh(&self, cookie: &mut String) -> reqwest::Result<StatusCode> {
        let response = self
            .http
            .post(self.endpoint("/api/auth/refresh"))
            .header(header::COOKIE, format!("{REFRESH_COOKIE}={cookie}"))
            .header(REQUESTED_WITH_HEADER, "fetch")
            .send()
            .await?;
        let status = response.status();
        if let Some(next) = refresh_cookie(&response).filter(|_| status.is_success()) {
            *cookie = next;
        }
        response.bytes().await?;
        Ok(status)
    }

    async fn login_once(&self) -> reqwest::Result<StatusCode> {
        let response = self.post_login().await?;
        let status = response.status();
        response.bytes().await?;
        Ok(status)
    }
}

async fn run_me(
    target: &Target,
    total: u64,
    max: Duration,
    concurrency: usize,
) -> anyhow::Result<(Tally, Duration)> {
    // Setup, not measured: one access token shared by every virtual client.
    let token = Arc::new(target.login().await?.access_token);
    let started = Instant::now();
    let budget = Budget::new(total, max);
    let workers = (0..concurrency).map(|_| {
        let (target, budget, token) = (target.clone(), budget.clone(), token.clone());
        tokio::spawn(async move {
            let mut tally = Tally::default();
            while budget.take() {
                let started = Instant::now();
                let outcome = target.me(&token).await;
                tally.record(started, &outcome);
            }
            tally
        })
    });
    let tally = collect(workers).await?;
    Ok((tally, started.elapsed()))
}

/// A ticker for virtual client `index` of `workers` sharing `rate` requests a second.
/// The clients' ticks are spread evenly over the period: started together, all of
/// them would send at the same instant, a burst of `workers` every period instead of
/// a steady rate.
fn pacer(rate: Option<f64>, index: usize, workers: usize) -> Option<tokio::time::Interval> {
    let rate = rate?;
    let period = Duration::from_secs_f64(workers as f64 / rate.max(0.001));
    let offset = period.mul_f64(index as f64 / workers as f64);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    Some(tick)
}

async fn run_refresh(
    target: &Target,
    total: u64,
    max: Duration,
    concurrency: usize,
    rate: Option<f64>,
) -> anyhow::Result<(Tally, Duration)> {
    // Setup, not measured: one session per virtual client.
    let mut sessions = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        sessions.push(target.login().await?);
    }
    let started = Instant::now();
    let budget = Budget::new(total, max);
    let workers = sessions.into_iter().enumerate().map(|(index, session)| {
        let (target, budget) = (target.clone(), budget.clone());
        tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut cookie = session.cookie;
            let mut pace = pacer(rate, index, concurrency);
            while budget.take() {
                if let Some(tick) = pace.as_mut() {
                    tick.tick().await;
                }
                let started = Instant::now();
                let outcome = target.refresh(&mut cookie).await;
                tally.record(started, &outcome);
                // A broken chain (revoked, reused, expired) needs a new session.
                if matches!(outcome, Ok(StatusCode::UNAUTHORIZED)) {
                    match target.login().await {
                        Ok(fresh) => cookie = fresh.cookie,
                        Err(_) => break,
                    }
                }
            }
            tally
        })
    });
    let tally = collect(workers).await?;
    Ok((tally, started.elapsed()))
}

async fn run_login(
    target: &Target,
    budget: Arc<Budget>,
    concurrency: usize,
) -> anyhow::Result<Tally> {
    let workers = (0..concurrency).map(|_| {
        let (target, budget) = (target.clone(), budget.clone());
        tokio::spawn(async move {
            let mut tally = Tally::default();
            while budget.take() {
                let started = Instant::now();
                let outcome = target.login_once().await;
                tally.record(started, &outcome);
            }
            tally
        })
    });
    collect(workers).await
}

/// Sign-ins at `per_second`, each on its own task (open loop), until `stop`.
async fn login_storm(
    target: Target,
    per_second: f64,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> anyhow::Result<(Tally, Duration)> {
    let started = Instant::now();
    let mut tick = pacer(Some(per_second), 0, 1).expect("a rate");
    let mut tasks = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let sent = Instant::now();
            let outcome = target.login_once().await;
            tally.record(sent, &outcome);
            tally
        }));
    }
    let tally = collect(tasks.into_iter()).await?;
    Ok((tally, started.elapsed()))
}

async fn collect(
    workers: impl Iterator<Item = tokio::task::JoinHandle<Tally>>,
) -> anyhow::Result<Tally> {
    let handles: Vec<_> = workers.collect();
    let mut total = Tally::default();
    for handle in handles {
        total.merge(handle.await?);
    }
    Ok(total)
}

/// Nearest-rank percentile of sorted latencies, in milliseconds.
fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

fn report(name: &str, mut tally: Tally, elapsed: Duration) {
    tally.latencies.sort_unstable();
    let n = tally.latencies.len();
    let rps = n as f64 / elapsed.as_secs_f64();
    println!(
        "| {name:<8} | {n:>6} | {secs:>7.2} | {rps:>9.1} | {p50:>8.2} | {p90:>8.2} | {p99:>8.2} | {non:>7} | {err:>6} |",
        secs = elapsed.as_secs_f64(),
        p50 = percentile(&tally.latencies, 50.0),
        p90 = percentile(&tally.latencies, 90.0),
        p99 = percentile(&tally.latencies, 99.0),
        non = tally.non_2xx,
        err = tally.errors,
    );
    if !tally.statuses.is_empty() {
        eprintln!("  {name}: non-2xx by status: {:?}", tally.statuses);
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let base = loopback_url(&args.url)?;
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let http = reqwest::Client::builder()
        .user_agent("jwt-refresh-load/1.0")
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let target = Target {
        http,
        base,
        username: args.username.clone(),
        password: args.password.clone(),
    };
    let max = Duration::from_secs(args.max_seconds);
    println!(
        "target {} as {}, concurrency {}, at most {}s per scenario",
        target.base, target.username, args.concurrency, args.max_seconds
    );
    println!(
        "| scenario | reqs   | secs    | req/s     | p50 ms   | p90 ms   | p99 ms   | non-2xx | errors |"
    );
    println!(
        "|----------|-------:|--------:|----------:|---------:|---------:|---------:|--------:|-------:|"
    );
    for scenario in &args.scenarios {
        match scenario {
            Scenario::Me => {
                let (tally, elapsed) =
                    run_me(&target, args.requests, max, args.concurrency).await?;
                report("me", tally, elapsed);
            }
            Scenario::Refresh => {
                // A login storm beside it, if asked: one sign-in every 1/N s until the
                // refreshes are done.
                let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let storm = (args.background_logins > 0.0).then(|| {
                    tokio::spawn(login_storm(
                        target.clone(),
                        args.background_logins,
                        stop.clone(),
                    ))
                });
                let (tally, elapsed) =
                    run_refresh(&target, args.requests, max, args.concurrency, args.rate).await?;
                report("refresh", tally, elapsed);
                if let Some(storm) = storm {
                    stop.store(true, Ordering::Relaxed);
                    let (tally, elapsed) = storm.await??;
                    report("login+", tally, elapsed);
                }
            }
            Scenario::Login => {
                let budget = Budget::new(args.login_requests.unwrap_or(args.requests), max);
                let started = Instant::now();
                let tally = run_login(&target, budget, args.concurrency).await?;
                report("login", tally, started.elapsed());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_are_accepted() {
        for ok in [
            "http://127.0.0.1:3000",
            "http://127.1.2.3",
            "http://localhost:8080/",
            "http://[::1]:3000",
        ] {
            assert!(loopback_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1",
            "http://example.com",
            "http://localhost.example.com",
            "http://[::2]",
            "ftp://127.0.0.1",
            "http://0.0.0.0:3000",
        ] {
            assert!(loopback_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let sorted: Vec<_> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&sorted, 50.0), 50.0);
        assert_eq!(percentile(&sorted, 99.0), 99.0);
    }
}

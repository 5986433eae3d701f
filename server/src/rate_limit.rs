//! Rate limits: GCRA buckets, in this process or shared by every instance in Redis.
//!
//! Each limit is a bucket of `count` requests that refills `count` per `period`
//! (GCRA: one request every `period / count`, up to `count` at once; so at most twice
//! `count` in any window of one `period`). A refusal says when the next request fits
//! (`Retry-After`). The same arithmetic runs in memory ([`Local`]) and, with
//! `--redis-url`, atomically in a Lua script on Redis's clock, so N instances share one
//! budget instead of giving an attacker N.
//!
//! When Redis does not answer within [`REDIS_TIMEOUT`]: refresh limits fail open (a
//! refresh is a signed-in user's lifeline, and it is already bound to one session and
//! rotation); sign-in and password limits fall back to this instance's own buckets,
//! which still bound guessing (to N× the budget across N instances) instead of dropping
//! the limit or locking everyone out.
//!
//! The sign-in policy (see `docs/SECURITY.md`, ASVS 2.2.1):
//! - per IP address, 30 a minute (`LOGIN_PER_IP`);
//! - per username and IP address, 10 a minute (`LOGIN_PER_USER_IP`);
//! - per username, a budget of *failed* attempts from browsers not known to be the
//!   owner's, 50 an hour (`LOGIN_PER_USER`; at most 100 in any hour); a success gives
//!   its attempt back;
//! - a browser that signed in as that user before carries a device cookie and is held
//!   to its own bucket, 10 a minute (`LOGIN_PER_DEVICE`), untouched by the budget
//!   above: an attacker who spends the account's budget does not lock its owner out.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use crate::{config::Config, error::Error};

/// How long a Redis round trip may take before the fallback applies.
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(150);

/// What a rate limit is keyed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    LoginPerIp,
    LoginPerUserIp,
    /// Failed sign-ins per username from unknown browsers.
    LoginPerUser,
    LoginPerDevice,
    PasswordPerUser,
    RefreshPerIp,
    RefreshPerSession,
}

impl Limit {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginPerIp => "login_per_ip",
            Self::LoginPerUserIp => "login_per_user_ip",
            Self::LoginPerUser => "login_per_user",
            Self::LoginPerDevice => "login_per_device",
            Self::PasswordPerUser => "password_per_user",
            Self::RefreshPerIp => "refresh_per_ip",
            Self::RefreshPerSession => "refresh_per_session",
        }
    }

    /// Whether a Redis failure lets the request through (refresh) instead of falling
    /// back to this instance's buckets (sign-in and passwords).
    fn fails_open(self) -> bool {
        matches!(self, Self::RefreshPerIp | Self::RefreshPerSession)
    }
}

/// `count` requests per `period`, up to `count` at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub count: u32,
    pub period: Duration,
}

impl Quota {
    fn per_minute(count: u32) -> Self {
        Self {
            count: count.max(1),
            period: Duration::from_secs(60),
        }
    }

    fn per_hour(count: u32) -> Self {
        Self {
            count: count.max(1),
            period: Duration::from_secs(3600),
        }
    }

    /// Milliseconds between two requests at the sustained rate.
    fn emission_ms(self) -> i64 {
        (self.period.as_millis() as i64 / i64::from(self.count)).max(1)
    }

    /// How far ahead of now the bucket may run: `count - 1` emissions (a full burst).
    fn tolerance_ms(self) -> i64 {
        self.emission_ms() * (i64::from(self.count) - 1)
    }
}

/// One GCRA step on a bucket whose theoretical arrival time is `tat`: the new `tat`
/// if the request fits, else how many ms until it would.
fn gcra(tat: Option<i64>, now_ms: i64, quota: Quota) -> Result<i64, i64> {
    let tat = tat.unwrap_or(now_ms).max(now_ms);
    let ahead = tat - now_ms;
    if ahead > quota.tolerance_ms() {
        Err(ahead - quota.tolerance_ms())
    } else {
        Ok(tat + quota.emission_ms())
    }
}

/// Buckets in this process's memory.
#[derive(Debug, Default)]
pub struct Local {
    tats: Mutex<HashMap<(Limit, String), i64>>,
}

impl Local {
    fn take(&self, limit: Limit, key: &str, quota: Quota, now_ms: i64) -> Result<(), i64> {
        let mut tats = self.tats.lock().expect("rate limit lock");
        let slot = (limit, key.to_owned());
        let next = gcra(tats.get(&slot).copied(), now_ms, quota)?;
        tats.insert(slot, next);
        Ok(())
    }

    fn refund(&self, limit: Limit, key: &str, quota: Quota, now_ms: i64) {
        let mut tats = self.tats.lock().expect("rate limit lock");
        if let Some(tat) = tats.get_mut(&(limit, key.to_owned())) {
            *tat = (*tat - quota.emission_ms()).max(now_ms);
        }
    }

    /// Forgets full buckets, so memory follows the active clients.
    fn shrink(&self, now_ms: i64) {
        self.tats
            .lock()
            .expect("rate limit lock")
            .retain(|_, tat| *tat > now_ms);
    }
}

/// GCRA on Redis, on Redis's clock (`TIME`), so instances agree whatever their own
/// clocks say. Returns 0 when the request fits, else the wait in ms.
const GCRA_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local emission = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if ARGV[3] == 'refund' then
  local back = tat - emission
  if back > now then
    redis.call('SET', KEYS[1], back, 'PX', back - now)
  else
    redis.call('DEL', KEYS[1])
  end
  return 0
end
if tat - now > tolerance then
  return tat - now - tolerance
end
local next = tat + emission
redis.call('SET', KEYS[1], next, 'PX', next - now)
return 0
"#;

/// Buckets in Redis.
struct Shared {
    connection: redis::aio::ConnectionManager,
    script: redis::Script,
    prefix: String,
}

impl Shared {
    async fn run(&self, limit: Limit, key: &str, quota: Quota, mode: &str) -> Result<i64, String> {
        let mut connection = self.connection.clone();
        let mut invocation = self.script.prepare_invoke();
        invocation
            .key(format!("{}{}:{key}", self.prefix, limit.as_str()))
            .arg(quota.emission_ms())
            .arg(quota.tolerance_ms())
            .arg(mode);
        let call = invocation.invoke_async::<i64>(&mut connection);
        match tokio::time::timeout(REDIS_TIMEOUT, call).await {
            Ok(Ok(wait)) => Ok(wait),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {REDIS_TIMEOUT:?}")),
        }
    }
}

/// Every limit of the server, with its quotas, in memory or in Redis.
pub struct Limits {
    quotas: HashMap<Limit, Quota>,
    local: Local,
    shared: Option<Shared>,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits")
            .field("shared", &self.shared.is_some())
            .finish_non_exhaustive()
    }
}

impl Limits {
    /// In-memory limits (one instance).
    pub fn new(config: &Config) -> Self {
        let quotas = HashMap::from([
            (Limit::LoginPerIp, Quota::per_minute(config.login_per_ip)),
            (
                Limit::LoginPerUserIp,
                Quota::per_minute(config.login_per_user_ip),
            ),
            (Limit::LoginPerUser, Quota::per_hour(config.login_per_user)),
            (
                Limit::LoginPerDevice,
                Quota::per_minute(config.login_per_device),
            ),
            (
                Limit::PasswordPerUser,
                Quota::per_hour(config.password_changes_per_user),
            ),
            (
                Limit::RefreshPerIp,
                Quota::per_minute(config.refresh_per_ip),
            ),
            (
                Limit::RefreshPerSession,
                Quota::per_minute(config.refresh_per_session),
            ),
        ]);
        Self {
            quotas,
            local: Local::default(),
            shared: None,
        }
    }

    /// Limits shared through the Redis at `url`, keys under `prefix`. Fails when Redis
    /// cannot be reached now: an operator who asked for shared limits must not get
    /// per-instance ones without noticing.
    pub async fn with_redis(config: &Config, url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let manager = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(2));
        let connection = tokio::time::timeout(
            Duration::from_secs(5),
            client.get_connection_manager_with_config(manager),
        )
        .await
        .map_err(|_| anyhow::anyhow!("Redis did not answer within 5 s"))?
        .map_err(|e| anyhow::anyhow!("cannot reach Redis for the rate limits: {e}"))?;
        Ok(Self {
            shared: Some(Shared {
                connection,
                script: redis::Script::new(GCRA_LUA),
                prefix: prefix.to_owned(),
            }),
            ..Self::new(config)
        })
    }

    /// Whether Redis answers (for `/readyz`); `None` without Redis.
    pub async fn redis_ok(&self) -> Option<bool> {
        let shared = self.shared.as_ref()?;
        let mut connection = shared.connection.clone();
        let command = redis::cmd("PING");
        let ping = command.query_async::<String>(&mut connection);
        Some(matches!(
            tokio::time::timeout(REDIS_TIMEOUT, ping).await,
            Ok(Ok(_))
        ))
    }

    fn quota(&self, limit: Limit) -> Quota {
        self.quotas[&limit]
    }

    /// Takes one request from `limit`'s bucket for `key`; on refusal, the error says
    /// when to retry.
    pub async fn take(&self, limit: Limit, key: &str, now_ms: i64) -> Result<(), Error> {
        let quota = self.quota(limit);
        let waited = match &self.shared {
            None => self.local.take(limit, key, quota, now_ms),
            Some(shared) => match shared.run(limit, key, quota, "take").await {
                Ok(0) => Ok(()),
                Ok(wait) => Err(wait),
                Err(e) if limit.fails_open() => {
                    tracing::warn!(error = %e, limit = limit.as_str(), "Redis unavailable: limit not applied");
                    Ok(())
                }
                Err(e) => {
                    tracing::warn!(error = %e, limit = limit.as_str(), "Redis unavailable: this instance's own limit applies");
                    self.local.take(limit, key, quota, now_ms)
                }
            },
        };
        waited.map_err(|wait_ms| Error::RateLimited {
            retry_after: (wait_ms as u64).div_ceil(1000).max(1),
        })
    }

    /// Gives back one request taken from `limit`'s bucket for `key` (a sign-in that
    /// turned out to be the owner's).
    pub async fn refund(&self, limit: Limit, key: &str, now_ms: i64) {
        let quota = self.quota(limit);
        if let Some(shared) = &self.shared
            && shared.run(limit, key, quota, "refund").await.is_ok()
        {
            return;
        }
        self.local.refund(limit, key, quota, now_ms);
    }

    /// Forgets full in-memory buckets (Redis expires its own).
    pub fn shrink(&self, now_ms: i64) {
        self.local.shrink(now_ms);
    }
}

/// Refusals, counted for the audit log: the first refusal of a (limit, key) in a window
/// is written at once, the rest only as one summary with their count when the window
/// closes. A client hammering a limit costs one row a minute, not one per request.
#[derive(Debug)]
pub struct Refusals {
    window_ms: i64,
    /// (limit, key) -> (window start, refusals in the window)
    seen: Mutex<HashMap<(Limit, String), (i64, u64)>>,
}

/// The most (limit, key) pairs counted at once; beyond it a flood of distinct keys is
/// counted in the log, not in memory.
const MAX_TRACKED: usize = 10_000;

/// Refusals of one (limit, key) in a window that has closed.
#[derive(Debug, PartialEq, Eq)]
pub struct RefusalSummary {
    pub limit: Limit,
    pub key: String,
    pub count: u64,
}

impl Refusals {
    pub fn new(window: Duration) -> Self {
        Self {
            window_ms: window.as_millis() as i64,
            seen: Mutex::default(),
        }
    }

    /// Counts a refusal; `true` when it is the first of its window (audit it now).
    pub fn record(&self, limit: Limit, key: &str, now_ms: i64) -> bool {
        let mut seen = self.seen.lock().expect("refusal lock");
        if let Some((start, count)) = seen.get_mut(&(limit, key.to_owned())) {
            if now_ms - *start < self.window_ms {
                *count += 1;
                return false;
            }
            // A window that closed without a flush: start the next one.
            (*start, *count) = (now_ms, 1);
            return true;
        }
        if seen.len() >= MAX_TRACKED {
            tracing::warn!(
                limit = limit.as_str(),
                "too many refused clients to audit each"
            );
            return false;
        }
        seen.insert((limit, key.to_owned()), (now_ms, 1));
        true
    }

    /// Closes the windows that have ended; returns those with refusals after the first.
    pub fn drain(&self, now_ms: i64) -> Vec<RefusalSummary> {
        let mut seen = self.seen.lock().expect("refusal lock");
        let mut closed = Vec::new();
        seen.retain(|(limit, key), (start, count)| {
            if now_ms - *start < self.window_ms {
                return true;
            }
            if *count > 1 {
                closed.push(RefusalSummary {
                    limit: *limit,
                    key: key.clone(),
                    count: *count - 1,
                });
            }
            false
        });
        closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_audited_once_per_window_with_a_count() {
        let refusals = Refusals::new(Duration::from_secs(60));
        assert!(refusals.record(Limit::LoginPerIp, "ip", 0));
        for t in 1..1000 {
            assert!(!refusals.record(Limit::LoginPerIp, "ip", t));
        }
        assert!(refusals.record(Limit::LoginPerIp, "other", 10));
        assert!(
            refusals.drain(59_999).is_empty(),
            "the window is still open"
        );
        let closed = refusals.drain(60_010);
        assert_eq!(
            closed,
            vec![RefusalSummary {
                limit: Limit::LoginPerIp,
                key: "ip".into(),
                count: 999
            }]
        );
        // A new window starts with an audited refusal again.
        assert!(refusals.record(Limit::LoginPerIp, "ip", 60_020));
    }

    fn limits(adjust: impl FnOnce(&mut Config)) -> Limits {
        let mut config = Config::defaults();
        adjust(&mut config);
        Limits::new(&config)
    }

    #[tokio::test]
    async fn a_bucket_allows_a_burst_then_one_per_emission_and_says_when() {
        let limits = limits(|c| c.login_per_ip = 3);
        let t = 1_000_000;
        for _ in 0..3 {
            assert!(limits.take(Limit::LoginPerIp, "ip", t).await.is_ok());
        }
        match limits.take(Limit::LoginPerIp, "ip", t).await {
            Err(Error::RateLimited { retry_after }) => assert_eq!(retry_after, 20),
            other => panic!("{other:?}"),
        }
        // Other keys and other limits have their own buckets.
        assert!(limits.take(Limit::LoginPerIp, "other", t).await.is_ok());
        assert!(limits.take(Limit::LoginPerUserIp, "ip", t).await.is_ok());
        // One emission (20 s) later, exactly one more fits.
        assert!(
            limits
                .take(Limit::LoginPerIp, "ip", t + 20_000)
                .await
                .is_ok()
        );
        assert!(
            limits
                .take(Limit::LoginPerIp, "ip", t + 20_000)
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_refund_gives_one_request_back() {
        let limits = limits(|c| c.login_per_user = 2);
        let t = 5_000_000;
        limits.take(Limit::LoginPerUser, "bob", t).await.unwrap();
        limits.take(Limit::LoginPerUser, "bob", t).await.unwrap();
        assert!(limits.take(Limit::LoginPerUser, "bob", t).await.is_err());
        limits.refund(Limit::LoginPerUser, "bob", t).await;
        assert!(limits.take(Limit::LoginPerUser, "bob", t).await.is_ok());
    }

    #[tokio::test]
    async fn the_hourly_budget_never_allows_more_than_twice_its_count_in_an_hour() {
        let limits = limits(|c| c.login_per_user = 50);
        let start = 9_000_000;
        let mut allowed = 0;
        // One attempt a second for an hour.
        for s in 0..3600 {
            if limits
                .take(Limit::LoginPerUser, "victim", start + s * 1000)
                .await
                .is_ok()
            {
                allowed += 1;
            }
        }
        assert!((99..=100).contains(&allowed), "{allowed}");
    }

    #[test]
    fn shrink_forgets_full_buckets_only() {
        let local = Local::default();
        let quota = Quota::per_minute(2);
        local.take(Limit::LoginPerIp, "a", quota, 0).unwrap();
        local.shrink(10_000);
        assert_eq!(local.tats.lock().unwrap().len(), 1);
        local.shrink(60_000);
        assert!(local.tats.lock().unwrap().is_empty());
    }
}

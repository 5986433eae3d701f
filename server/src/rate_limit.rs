//! Rate limits (GCRA, in memory per instance, via `governor`): login per IP and per
//! username, refresh per IP and per session. A refused request gets 429
//! `rate_limited` with `Retry-After`.

use std::{hash::Hash, num::NonZeroU32, time::Duration};

use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};

use crate::{config::Config, error::Error};

/// What a rate limit is keyed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    LoginPerIp,
    LoginPerUser,
    RefreshPerIp,
    RefreshPerSession,
}

impl Limit {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginPerIp => "login_per_ip",
            Self::LoginPerUser => "login_per_user",
            Self::RefreshPerIp => "refresh_per_ip",
            Self::RefreshPerSession => "refresh_per_session",
        }
    }
}

pub struct Limits {
    login_ip: DefaultKeyedRateLimiter<String>,
    login_user: DefaultKeyedRateLimiter<String>,
    refresh_ip: DefaultKeyedRateLimiter<String>,
    refresh_session: DefaultKeyedRateLimiter<String>,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Limits")
    }
}

/// `n` per minute, all of which may come at once.
fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n.max(1)).expect("at least 1"))
}

fn check<K: Hash + Eq + Clone>(limiter: &DefaultKeyedRateLimiter<K>, key: &K) -> Result<(), u64> {
    limiter.check_key(key).map_err(|not_until| {
        let wait: Duration = not_until.wait_time_from(DefaultClock::default().now());
        wait.as_secs() + 1
    })
}

impl Limits {
    pub fn new(config: &Config) -> Self {
        Self {
            login_ip: RateLimiter::keyed(per_minute(config.login_per_ip)),
            login_user: RateLimiter::keyed(per_minute(config.login_per_user)),
            refresh_ip: RateLimiter::keyed(per_minute(config.refresh_per_ip)),
            refresh_session: RateLimiter::keyed(per_minute(config.refresh_per_session)),
        }
    }

    /// Takes one token of `limit` for `key`; on refusal, the error says when to retry.
    pub fn take(&self, limit: Limit, key: &str) -> Result<(), (Limit, Error)> {
        let limiter = match limit {
            Limit::LoginPerIp => &self.login_ip,
            Limit::LoginPerUser => &self.login_user,
            Limit::RefreshPerIp => &self.refresh_ip,
            Limit::RefreshPerSession => &self.refresh_session,
        };
        check(limiter, &key.to_owned())
            .map_err(|retry_after| (limit, Error::RateLimited { retry_after }))
    }

    /// Forgets keys whose buckets are full again, so memory follows active clients.
    pub fn shrink(&self) {
        for limiter in [
            &self.login_ip,
            &self.login_user,
            &self.refresh_ip,
            &self.refresh_session,
        ] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_refuses_once_spent_and_says_when_to_retry() {
        let mut config = Config::defaults();
        config.login_per_user = 3;
        let limits = Limits::new(&config);
        for _ in 0..3 {
            assert!(limits.take(Limit::LoginPerUser, "alice").is_ok());
        }
        match limits.take(Limit::LoginPerUser, "alice") {
            Err((Limit::LoginPerUser, Error::RateLimited { retry_after })) => {
                assert!((1..=21).contains(&retry_after), "{retry_after}");
            }
            other => panic!("{other:?}"),
        }
        // Other keys have their own bucket.
        assert!(limits.take(Limit::LoginPerUser, "bob").is_ok());
    }
}

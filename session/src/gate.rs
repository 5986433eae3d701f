//! The browser-wide "not before" gate in front of `POST /refresh`.
//!
//! Every caller goes through it: the timer, a page's API call that found its token stale,
//! activity, "Stay signed in", the start-up restore, in every tab. After a failure that
//! may pass (the network, a 5xx, a 429) the gate closes for a backoff that doubles (with
//! jitter, never sooner than the server's `Retry-After`); after [`BREAKER_THRESHOLD`]
//! failures in a row the breaker opens for at least [`BREAKER_COOLDOWN_MS`]. A success
//! opens it again. The state lives in `localStorage` (a time and a count, nothing secret),
//! so it is shared by the tabs and survives a reload in the middle of an outage.

/// After this many failures in a row the breaker opens.
pub const BREAKER_THRESHOLD: u32 = 5;
/// How long an open breaker keeps the gate shut (at least).
pub const BREAKER_COOLDOWN_MS: f64 = 30_000.0;
/// Longest backoff between two tries.
pub const MAX_BACKOFF_MS: f64 = 60_000.0;
/// Up to this share is added to each backoff at random, so that browsers that failed
/// together do not come back together.
pub const JITTER_SHARE: f64 = 0.25;
/// A gate further in the future than this is a wall clock that was set back: ignored.
pub const MAX_CLOSED_MS: f64 = 600_000.0;

const STORAGE_KEY: &str = "auth-refresh-gate";

/// Closed until `until_ms` (wall clock), after `failures` failures in a row.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Gate {
    pub until_ms: f64,
    pub failures: u32,
    /// The server asked for the wait (`Retry-After`): coming back online does not open it.
    pub server_said: bool,
}

impl Gate {
    /// When the gate opens, if it is shut at `now_ms`.
    pub fn closed_until(&self, now_ms: f64) -> Option<f64> {
        let shut = self.until_ms > now_ms && self.until_ms - now_ms <= MAX_CLOSED_MS;
        shut.then_some(self.until_ms)
    }

    /// The gate after one more failure at `now_ms`; `unit` is uniform in `[0, 1)`.
    pub fn after_failure(self, now_ms: f64, retry_after_secs: Option<u64>, unit: f64) -> Self {
        let failures = self.failures.saturating_add(1);
        Self {
            until_ms: now_ms + backoff_ms(failures, retry_after_secs, unit),
            failures,
            server_said: retry_after_secs.is_some(),
        }
    }
}

/// Wait after failure number `failures` (1-based): 1 s, 2 s, 4 s … capped at a minute,
/// plus up to a quarter at random; at least the server's `Retry-After`; at least the
/// breaker's cool-down once it is open.
pub fn backoff_ms(failures: u32, retry_after_secs: Option<u64>, unit: f64) -> f64 {
    let exp = failures.saturating_sub(1).min(16);
    let base = (1_000.0 * f64::from(1u32 << exp)).min(MAX_BACKOFF_MS);
    let mut wait = base * (1.0 + JITTER_SHARE * unit.clamp(0.0, 1.0));
    if let Some(secs) = retry_after_secs {
        wait = wait.max(secs as f64 * 1_000.0);
    }
    if failures >= BREAKER_THRESHOLD {
        wait = wait.max(BREAKER_COOLDOWN_MS);
    }
    wait
}

/// `until,failures,server_said` — plain text, nothing secret.
pub fn encode(gate: &Gate) -> String {
    format!(
        "{},{},{}",
        gate.until_ms as i64,
        gate.failures,
        u8::from(gate.server_said)
    )
}

pub fn decode(text: &str) -> Option<Gate> {
    let mut parts = text.split(',');
    let until_ms = parts.next()?.parse::<i64>().ok()? as f64;
    let failures = parts.next()?.parse().ok()?;
    let server_said = parts.next()? == "1";
    Some(Gate {
        until_ms,
        failures,
        server_said,
    })
}

/// The gate as the browser has it now.
pub fn load() -> Gate {
    crate::storage::get(STORAGE_KEY)
        .as_deref()
        .and_then(decode)
        .unwrap_or_default()
}

pub fn save(gate: &Gate) {
    crate::storage::set(STORAGE_KEY, &encode(gate));
}

/// Opens the gate (after a success, or when the network is back).
pub fn clear() {
    crate::storage::remove(STORAGE_KEY);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_upward_jitter_up_to_a_minute() {
        assert_eq!(backoff_ms(1, None, 0.0), 1_000.0);
        assert_eq!(backoff_ms(1, None, 1.0), 1_250.0);
        assert_eq!(backoff_ms(2, None, 0.0), 2_000.0);
        assert_eq!(backoff_ms(4, None, 0.0), 8_000.0);
        assert_eq!(backoff_ms(u32::MAX, None, 0.0), 60_000.0);
    }

    #[test]
    fn retry_after_and_the_breaker_set_a_floor() {
        assert_eq!(backoff_ms(1, Some(10), 0.5), 10_000.0);
        assert_eq!(backoff_ms(5, None, 0.0), BREAKER_COOLDOWN_MS);
        assert_eq!(backoff_ms(7, None, 0.0), 60_000.0);
    }

    #[test]
    fn twenty_seconds_of_outage_cost_at_most_six_tries() {
        // Worst case: the least jitter, so the shortest waits.
        let (mut gate, mut now, mut tries) = (Gate::default(), 0.0, 0);
        while now <= 20_000.0 {
            tries += 1;
            gate = gate.after_failure(now, None, 0.0);
            now = gate.until_ms;
        }
        assert!(tries <= 6, "{tries} tries");
    }

    #[test]
    fn the_gate_is_shut_until_its_time_and_ignores_absurd_futures() {
        let gate = Gate::default().after_failure(1_000.0, Some(10), 0.0);
        assert_eq!(gate.closed_until(1_000.0), Some(11_000.0));
        assert_eq!(gate.closed_until(11_000.0), None);
        assert!(gate.server_said);
        let far = Gate {
            until_ms: 10_000_000.0,
            failures: 1,
            server_said: false,
        };
        assert_eq!(far.closed_until(0.0), None);
    }

    #[test]
    fn the_gate_round_trips_as_text() {
        let gate = Gate {
            until_ms: 1_700_000_000_123.0,
            failures: 3,
            server_said: true,
        };
        assert_eq!(decode(&encode(&gate)), Some(gate));
        assert_eq!(decode("nonsense"), None);
        assert_eq!(decode(""), None);
    }
}

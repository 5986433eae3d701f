//! Timing arithmetic: when to refresh, when to warn, how long to wait.
//!
//! Pure functions on plain numbers (milliseconds unless named otherwise): no web-sys, no
//! clock reads, so they are unit-tested natively and the browser-facing code stays thin.

/// The refresh margin never exceeds this, however long the token lives.
pub const MAX_MARGIN_MS: f64 = 60_000.0;
/// Share of the token's lifetime kept as margin when the lifetime is short.
pub const MARGIN_SHARE: f64 = 0.2;
/// Up to this share of the margin is added as random jitter, so tabs and devices that got
/// their tokens at the same moment do not all refresh in the same millisecond.
pub const JITTER_SHARE: f64 = 0.1;
/// Share of the margin a tab that *adopted* a token from another tab keeps: it refreshes
/// later than the tab that fetched the token, so that tab normally refreshes first and
/// hands the next token over, and this one only steps in if it did not.
pub const FOLLOWER_MARGIN_SHARE: f64 = 0.5;
/// The "Stay signed in?" warning comes at most this long before the session's end...
pub const MAX_WARNING_LEAD_MS: f64 = 120_000.0;
/// ...and at most this share of the idle window before it, so short test sessions are
/// not all warning.
pub const WARNING_LEAD_SHARE: f64 = 1.0 / 3.0;
/// A locally computed end is confirmed with the server this long after it: the server's
/// clock has whole seconds, ours is placed on it to within half a second.
pub const END_CHECK_DELAY_MS: f64 = 600.0;
/// Grace period assumed until the server has stated its own.
pub const DEFAULT_GRACE_SECS: u64 = 10;

/// How long before expiry a token counts as stale: `min(60 s, 20 % of its lifetime)`.
pub fn refresh_margin_ms(ttl_ms: f64) -> f64 {
    (ttl_ms * MARGIN_SHARE).clamp(0.0, MAX_MARGIN_MS)
}

/// Random jitter for one schedule; `unit` is a uniform random number in `[0, 1)`.
pub fn jitter_ms(margin_ms: f64, unit: f64) -> f64 {
    margin_ms * JITTER_SHARE * unit.clamp(0.0, 1.0)
}

/// Delay from receipt of a token to its proactive refresh: lifetime − margin − jitter.
pub fn refresh_delay_ms(ttl_ms: f64, unit: f64) -> f64 {
    let margin = refresh_margin_ms(ttl_ms);
    (ttl_ms - margin - jitter_ms(margin, unit)).max(0.0)
}

/// Delay from receipt to the proactive refresh of a token adopted from another tab.
pub fn follower_refresh_delay_ms(ttl_ms: f64, unit: f64) -> f64 {
    let margin = refresh_margin_ms(ttl_ms) * FOLLOWER_MARGIN_SHARE;
    (ttl_ms - margin - jitter_ms(margin, unit)).max(0.0)
}

/// Time since a token arrived, from two clocks read at receipt and now.
///
/// The monotonic clock (`performance.now()`) ignores changes to the wall clock but stops
/// while the machine sleeps; the wall clock (`Date.now()`) runs through sleep but can be
/// set. Taking the larger delta is right after sleep and at worst refreshes early when the
/// clock jumps forward. It never trusts a token longer than the monotonic clock does.
pub fn elapsed_ms(monotonic_delta_ms: f64, wall_delta_ms: f64) -> f64 {
    monotonic_delta_ms.max(wall_delta_ms).max(0.0)
}

/// Whether a token received `elapsed_ms` ago is inside its refresh margin.
pub fn needs_refresh(ttl_ms: f64, elapsed_ms: f64) -> bool {
    elapsed_ms >= ttl_ms - refresh_margin_ms(ttl_ms)
}

/// Which end of the session an access token's expiry was cut to, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cap {
    /// The token ends at the idle end: only a refresh that reports activity moves it.
    Idle,
    /// The token ends at the absolute end: nothing moves it.
    Absolute,
}

/// The server caps `exp` at the session's ends; a token whose `expires_at` reached one of
/// them cannot be outlived by refreshing (except the idle end, by an active user).
pub fn cap(expires_at: i64, idle_end: i64, absolute_end: i64) -> Option<Cap> {
    if expires_at >= absolute_end {
        Some(Cap::Absolute)
    } else if expires_at >= idle_end {
        Some(Cap::Idle)
    } else {
        None
    }
}

/// Whether a refresh can give a token that lives longer than the one held: never at the
/// absolute end, at the idle end only for an active user. Refreshing anyway is what made
/// the old client loop in the last second of a session.
pub fn refresh_helps(cap: Option<Cap>, active: bool) -> bool {
    match cap {
        None => true,
        Some(Cap::Idle) => active,
        Some(Cap::Absolute) => false,
    }
}

/// How long before the session's end the warning appears, given the idle window (the
/// idle lifetime the server grants after activity).
pub fn warning_lead_ms(idle_window_ms: f64) -> f64 {
    if idle_window_ms <= 0.0 {
        return MAX_WARNING_LEAD_MS;
    }
    (idle_window_ms * WARNING_LEAD_SHARE).min(MAX_WARNING_LEAD_MS)
}

/// What the session-end dialog offers, if it shows at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionWarning {
    /// The idle end is near: activity (or "Stay signed in") slides it.
    StaySignedIn,
    /// The absolute end is near: nothing can extend it, only a new sign-in.
    MustSignInAgain,
}

/// Whether to warn about the session's end, given now and both ends on one clock (ms).
///
/// The absolute end wins whenever it is within the lead, even if the idle end comes first:
/// staying signed in would buy at most the few seconds until the absolute end.
pub fn session_warning(
    now_ms: f64,
    idle_end_ms: f64,
    absolute_end_ms: f64,
    lead_ms: f64,
) -> Option<SessionWarning> {
    if absolute_end_ms - now_ms <= lead_ms {
        Some(SessionWarning::MustSignInAgain)
    } else if idle_end_ms - now_ms <= lead_ms {
        Some(SessionWarning::StaySignedIn)
    } else {
        None
    }
}

/// Longest wait for another tab's refresh lock: well inside the server's grace period,
/// so a tab that then refreshes with the old cookie still gets the same successor.
pub fn lock_wait_ms(grace_secs: u64) -> f64 {
    (grace_secs_or_default(grace_secs) * 1_000.0 * 0.5).clamp(1_000.0, 10_000.0)
}

/// A refresh request is aborted after this: short enough that the retry that follows
/// (after the first, one-second backoff) still lands inside the grace period.
pub fn request_timeout_ms(grace_secs: u64) -> f64 {
    (grace_secs_or_default(grace_secs) * 1_000.0 * 0.3).clamp(1_000.0, 5_000.0)
}

fn grace_secs_or_default(grace_secs: u64) -> f64 {
    if grace_secs == 0 {
        DEFAULT_GRACE_SECS as f64
    } else {
        grace_secs as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_is_a_fifth_of_short_lifetimes_and_at_most_a_minute() {
        assert_eq!(refresh_margin_ms(10_000.0), 2_000.0);
        assert_eq!(refresh_margin_ms(300_000.0), 60_000.0);
        assert_eq!(refresh_margin_ms(0.0), 0.0);
    }

    #[test]
    fn delay_lands_between_margin_and_margin_plus_jitter_before_expiry() {
        assert_eq!(refresh_delay_ms(900_000.0, 0.0), 840_000.0);
        assert_eq!(refresh_delay_ms(900_000.0, 1.0), 834_000.0);
        assert_eq!(refresh_delay_ms(10_000.0, 1.0), 7_800.0);
        assert_eq!(refresh_delay_ms(0.0, 0.5), 0.0);
        assert_eq!(jitter_ms(2_000.0, 7.0), 200.0);
    }

    #[test]
    fn followers_refresh_after_the_tab_that_fetched_the_token() {
        assert_eq!(follower_refresh_delay_ms(10_000.0, 0.0), 9_000.0);
        assert!(follower_refresh_delay_ms(10_000.0, 1.0) > refresh_delay_ms(10_000.0, 0.0));
    }

    #[test]
    fn elapsed_trusts_the_clock_that_saw_more_time() {
        assert_eq!(elapsed_ms(1_000.0, 3_600_000.0), 3_600_000.0);
        assert_eq!(elapsed_ms(5_000.0, -3_595_000.0), 5_000.0);
        assert_eq!(elapsed_ms(-1.0, -1.0), 0.0);
        assert!(!needs_refresh(10_000.0, 7_999.0));
        assert!(needs_refresh(10_000.0, 8_000.0));
    }

    #[test]
    fn a_token_cut_to_a_session_end_is_not_refreshed_unless_that_can_help() {
        assert_eq!(cap(100, 200, 300), None);
        assert_eq!(cap(200, 200, 300), Some(Cap::Idle));
        assert_eq!(cap(300, 300, 300), Some(Cap::Absolute));
        assert_eq!(cap(300, 400, 300), Some(Cap::Absolute));
        assert!(refresh_helps(None, false));
        assert!(!refresh_helps(Some(Cap::Idle), false));
        assert!(refresh_helps(Some(Cap::Idle), true));
        assert!(!refresh_helps(Some(Cap::Absolute), true));
    }

    #[test]
    fn the_warning_leads_by_two_minutes_or_a_third_of_a_short_idle_window() {
        assert_eq!(warning_lead_ms(1_800_000.0), 120_000.0);
        assert_eq!(warning_lead_ms(24_000.0), 8_000.0);
        assert_eq!(warning_lead_ms(0.0), 120_000.0);
        let lead = 120_000.0;
        let min = 60_000.0;
        assert_eq!(session_warning(0.0, 30.0 * min, 720.0 * min, lead), None);
        assert_eq!(
            session_warning(0.0, 2.0 * min, 720.0 * min, lead),
            Some(SessionWarning::StaySignedIn)
        );
        assert_eq!(
            session_warning(0.0, 60_000.0, 90_000.0, lead),
            Some(SessionWarning::MustSignInAgain)
        );
        assert_eq!(session_warning(0.0, 9_000.0, 720.0 * min, 8_000.0), None);
    }

    #[test]
    fn waits_stay_well_inside_the_grace_period() {
        assert_eq!(lock_wait_ms(10), 5_000.0);
        assert_eq!(lock_wait_ms(8), 4_000.0);
        assert_eq!(lock_wait_ms(0), 5_000.0);
        assert_eq!(request_timeout_ms(10), 3_000.0);
        assert_eq!(request_timeout_ms(8), 2_400.0);
        assert_eq!(request_timeout_ms(1), 1_000.0);
        // Timeout, then the first retry (1 s backoff, up to 25 % jitter), inside grace.
        for grace in [2, 5, 8, 10, 30] {
            let worst = request_timeout_ms(grace) + 1_250.0 + request_timeout_ms(grace);
            assert!(worst < grace as f64 * 1_000.0 || grace < 5, "grace {grace}");
        }
    }
}

//! Timing arithmetic for the token manager and the session countdown.
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
/// After this many background refresh failures in a row the breaker opens: no more timed
/// retries until the page is used again or comes back (focus, visibility, online).
pub const BREAKER_THRESHOLD: u32 = 5;
/// Longest wait between two background retries.
pub const MAX_BACKOFF_MS: f64 = 60_000.0;

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

/// Time since a token arrived, from two clocks read at receipt and now.
///
/// The monotonic clock (`performance.now()`) ignores changes to the wall clock, but in some
/// browsers it stops while the machine sleeps; the wall clock (`Date.now()`) keeps running
/// through sleep but can be set back or forward. A constant skew of the wall clock cancels
/// out of a difference, so taking the larger of the two deltas is right after sleep and,
/// at worst, refreshes early when the clock jumps forward. It never trusts a token longer
/// than the monotonic clock does.
pub fn elapsed_ms(monotonic_delta_ms: f64, wall_delta_ms: f64) -> f64 {
    monotonic_delta_ms.max(wall_delta_ms).max(0.0)
}

/// Whether a token received `elapsed_ms` ago must be refreshed before it is used.
pub fn needs_refresh(ttl_ms: f64, elapsed_ms: f64) -> bool {
    elapsed_ms >= ttl_ms - refresh_margin_ms(ttl_ms)
}

/// Wait before background retry number `failures` (1-based): 1 s, 2 s, 4 s … capped at a
/// minute, and never sooner than the server's `Retry-After`.
pub fn backoff_ms(failures: u32, retry_after_secs: Option<u64>) -> f64 {
    let exp = failures.saturating_sub(1).min(16);
    let backoff = (1_000.0 * f64::from(1u32 << exp)).min(MAX_BACKOFF_MS);
    let server = retry_after_secs.map_or(0.0, |s| s as f64 * 1_000.0);
    backoff.max(server)
}

/// Offset of the server's clock from ours: `server_time − local_time` at receipt.
/// Without a usable `Date` header the clocks are assumed to agree.
pub fn clock_offset_ms(server_date_ms: Option<f64>, local_now_ms: f64) -> f64 {
    match server_date_ms {
        Some(server) if server.is_finite() => server - local_now_ms,
        _ => 0.0,
    }
}

/// A server timestamp (Unix seconds) placed on the local wall clock.
pub fn local_time_ms(server_unix_secs: i64, offset_ms: f64) -> f64 {
    server_unix_secs as f64 * 1_000.0 - offset_ms
}

/// Countdown text for a remaining duration: `m:ss`, or `h:mm:ss` from one hour; never
/// negative.
pub fn format_countdown(remaining_ms: f64) -> String {
    // Round up so the display reaches 0:00 exactly when the time is over.
    let total = (remaining_ms / 1_000.0).ceil().max(0.0) as u64;
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// How long before the session's end the "Stay signed in?" dialog appears.
pub const SESSION_WARNING_MS: f64 = 120_000.0;

/// What the session-end dialog offers, if it shows at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionWarning {
    /// The idle end is near: a refresh slides it, so "Stay signed in" helps.
    StaySignedIn,
    /// The absolute end is near: nothing can extend it, only a new sign-in.
    MustSignInAgain,
}

/// Whether to warn about the session's end, given now and both ends on one clock (ms).
///
/// The absolute end wins whenever it is within the warning window, even if the idle end
/// comes first: staying signed in would buy at most the few seconds until the absolute
/// end, so offering it would be a false promise.
pub fn session_warning(
    now_ms: f64,
    idle_end_ms: f64,
    absolute_end_ms: f64,
) -> Option<SessionWarning> {
    if absolute_end_ms - now_ms <= SESSION_WARNING_MS {
        Some(SessionWarning::MustSignInAgain)
    } else if idle_end_ms - now_ms <= SESSION_WARNING_MS {
        Some(SessionWarning::StaySignedIn)
    } else {
        None
    }
}

/// Text for the dialog's live region: coarse steps (whole minutes, then tens of
/// seconds), so a screen reader speaks a few times rather than every second.
pub fn announce_remaining(remaining_ms: f64) -> String {
    let secs = (remaining_ms / 1_000.0).ceil().max(0.0) as u64;
    match secs {
        0 => "Your session has ended.".to_owned(),
        1..=10 => "Your session ends in a few seconds.".to_owned(),
        11..=60 => format!("Your session ends in {} seconds.", secs.div_ceil(10) * 10),
        _ => {
            let minutes = secs.div_ceil(60);
            format!("Your session ends in {minutes} minutes.")
        }
    }
}

/// Share of the margin a tab that *adopted* a token from another tab keeps: it refreshes
/// later than the tab that fetched the token, so that tab normally refreshes first and
/// hands the next token over, and this one only steps in if it did not (a throttled or
/// hung tab).
pub const FOLLOWER_MARGIN_SHARE: f64 = 0.5;

/// Delay from receipt to the proactive refresh of a token adopted from another tab.
pub fn follower_refresh_delay_ms(ttl_ms: f64, unit: f64) -> f64 {
    let margin = refresh_margin_ms(ttl_ms) * FOLLOWER_MARGIN_SHARE;
    (ttl_ms - margin - jitter_ms(margin, unit)).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_is_a_fifth_of_short_lifetimes_and_at_most_a_minute() {
        assert_eq!(refresh_margin_ms(10_000.0), 2_000.0);
        assert_eq!(refresh_margin_ms(300_000.0), 60_000.0);
        assert_eq!(refresh_margin_ms(900_000.0), 60_000.0);
        assert_eq!(refresh_margin_ms(0.0), 0.0);
    }

    #[test]
    fn jitter_stays_within_a_tenth_of_the_margin() {
        assert_eq!(jitter_ms(2_000.0, 0.0), 0.0);
        assert!(jitter_ms(2_000.0, 0.999) < 200.0);
        assert_eq!(jitter_ms(2_000.0, 7.0), 200.0);
        assert_eq!(jitter_ms(2_000.0, -1.0), 0.0);
    }

    #[test]
    fn delay_lands_between_margin_and_margin_plus_jitter_before_expiry() {
        // 15 min token: refresh between 14:00 and 13:54.
        assert_eq!(refresh_delay_ms(900_000.0, 0.0), 840_000.0);
        assert_eq!(refresh_delay_ms(900_000.0, 1.0), 834_000.0);
        // 10 s token: margin 2 s, jitter up to 0.2 s.
        assert_eq!(refresh_delay_ms(10_000.0, 0.0), 8_000.0);
        assert_eq!(refresh_delay_ms(10_000.0, 1.0), 7_800.0);
        assert_eq!(refresh_delay_ms(0.0, 0.5), 0.0);
    }

    #[test]
    fn elapsed_trusts_the_clock_that_saw_more_time() {
        // Monotonic clock paused during sleep; the wall clock did not.
        assert_eq!(elapsed_ms(1_000.0, 3_600_000.0), 3_600_000.0);
        // Wall clock set back by an hour: monotonic wins.
        assert_eq!(elapsed_ms(5_000.0, -3_595_000.0), 5_000.0);
        assert_eq!(elapsed_ms(-1.0, -1.0), 0.0);
    }

    #[test]
    fn tokens_are_stale_once_inside_the_margin() {
        assert!(!needs_refresh(10_000.0, 7_999.0));
        assert!(needs_refresh(10_000.0, 8_000.0));
        assert!(needs_refresh(10_000.0, 20_000.0));
        assert!(!needs_refresh(900_000.0, 839_999.0));
        assert!(needs_refresh(900_000.0, 840_000.0));
    }

    #[test]
    fn backoff_doubles_up_to_a_minute_and_respects_retry_after() {
        assert_eq!(backoff_ms(1, None), 1_000.0);
        assert_eq!(backoff_ms(2, None), 2_000.0);
        assert_eq!(backoff_ms(4, None), 8_000.0);
        assert_eq!(backoff_ms(7, None), 60_000.0);
        assert_eq!(backoff_ms(u32::MAX, None), 60_000.0);
        assert_eq!(backoff_ms(1, Some(30)), 30_000.0);
        assert_eq!(backoff_ms(0, None), 1_000.0);
    }

    #[test]
    fn server_times_move_onto_the_local_clock() {
        // Our clock is five minutes fast.
        let offset = clock_offset_ms(Some(1_000_000.0), 1_300_000.0);
        assert_eq!(offset, -300_000.0);
        assert_eq!(local_time_ms(2_000, offset), 2_300_000.0);
        assert_eq!(clock_offset_ms(None, 5.0), 0.0);
        assert_eq!(clock_offset_ms(Some(f64::NAN), 5.0), 0.0);
    }

    #[test]
    fn countdown_formats_minutes_and_hours() {
        assert_eq!(format_countdown(272_000.0), "4:32");
        assert_eq!(format_countdown(271_001.0), "4:32");
        assert_eq!(format_countdown(5_000.0), "0:05");
        assert_eq!(format_countdown(-10.0), "0:00");
        assert_eq!(format_countdown(3_600_000.0), "1:00:00");
        assert_eq!(format_countdown(43_199_000.0), "11:59:59");
    }
    #[test]
    fn session_warning_appears_two_minutes_before_the_first_end() {
        let min = 60_000.0;
        // Both ends far away.
        assert_eq!(session_warning(0.0, 30.0 * min, 720.0 * min), None);
        assert_eq!(session_warning(0.0, 2.0 * min + 1.0, 720.0 * min), None);
        // Idle end near: a refresh helps.
        assert_eq!(
            session_warning(0.0, 2.0 * min, 720.0 * min),
            Some(SessionWarning::StaySignedIn)
        );
        assert_eq!(
            session_warning(0.0, 10_000.0, 720.0 * min),
            Some(SessionWarning::StaySignedIn)
        );
        // Absolute end near: only a new sign-in helps, whichever end comes first.
        assert_eq!(
            session_warning(0.0, 30.0 * min, 90_000.0),
            Some(SessionWarning::MustSignInAgain)
        );
        assert_eq!(
            session_warning(0.0, 60_000.0, 90_000.0),
            Some(SessionWarning::MustSignInAgain)
        );
        // Past the end it still says so (the next refresh signs out).
        assert_eq!(
            session_warning(10.0 * min, 5.0 * min, 720.0 * min),
            Some(SessionWarning::StaySignedIn)
        );
        assert_eq!(
            session_warning(10.0 * min, 30.0 * min, 5.0 * min),
            Some(SessionWarning::MustSignInAgain)
        );
        // Works on any clock origin (local wall-clock milliseconds).
        let now = 1_700_000_000_000.0;
        assert_eq!(
            session_warning(now, now + 119_000.0, now + 3_600_000.0),
            Some(SessionWarning::StaySignedIn)
        );
    }

    #[test]
    fn announcements_change_in_coarse_steps() {
        assert_eq!(
            announce_remaining(120_000.0),
            "Your session ends in 2 minutes."
        );
        assert_eq!(
            announce_remaining(61_000.0),
            "Your session ends in 2 minutes."
        );
        assert_eq!(
            announce_remaining(60_000.0),
            "Your session ends in 60 seconds."
        );
        assert_eq!(
            announce_remaining(41_000.0),
            "Your session ends in 50 seconds."
        );
        assert_eq!(
            announce_remaining(11_000.0),
            "Your session ends in 20 seconds."
        );
        assert_eq!(
            announce_remaining(10_000.0),
            "Your session ends in a few seconds."
        );
        assert_eq!(announce_remaining(0.0), "Your session has ended.");
        assert_eq!(announce_remaining(-5.0), "Your session has ended.");
    }

    #[test]
    fn followers_refresh_after_the_tab_that_fetched_the_token() {
        // 10 s token: the fetching tab refreshes at 7.8–8 s, a follower at 8.9–9 s.
        assert_eq!(follower_refresh_delay_ms(10_000.0, 0.0), 9_000.0);
        assert_eq!(follower_refresh_delay_ms(10_000.0, 1.0), 8_900.0);
        assert!(follower_refresh_delay_ms(10_000.0, 1.0) > refresh_delay_ms(10_000.0, 0.0));
        assert!(follower_refresh_delay_ms(3_000.0, 0.5) < 3_000.0);
        assert_eq!(follower_refresh_delay_ms(0.0, 0.5), 0.0);
    }
}

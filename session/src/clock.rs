//! The server's clock, as this tab can know it.
//!
//! Session ends are server times. The tab places "server now" on its monotonic clock
//! (`performance.now()`), anchored at the last answer that said the server's time, so a
//! wall clock that is set (by the user, by NTP) moves nothing. The monotonic clock stops
//! while the machine sleeps; a tick that sees the wall clock run ahead of it asks the
//! server again ([`drift_ms`]), and the server's answer re-anchors.

/// A jump between the wall and monotonic clocks larger than this is sleep or a clock change.
pub const JUMP_THRESHOLD_MS: f64 = 2_000.0;

/// "Server time `server_ms` was monotonic time `mono_ms` here."
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ServerClock {
    pub server_ms: f64,
    pub mono_ms: f64,
}

impl ServerClock {
    /// Anchors at a response read at `mono_ms` / `wall_ms` that carried `server_secs` (or a
    /// `Date` header in ms). The server's clock has whole seconds, so the truth is in the
    /// second that follows: its middle halves the error. Without any, the local wall clock
    /// stands in.
    pub fn anchor(server_ms: Option<f64>, wall_ms: f64, mono_ms: f64) -> Self {
        let server_ms = match server_ms {
            Some(ms) if ms.is_finite() => ms + 500.0,
            _ => wall_ms,
        };
        Self { server_ms, mono_ms }
    }

    /// Server time at monotonic time `mono_now_ms`.
    pub fn now(&self, mono_now_ms: f64) -> f64 {
        self.server_ms + (mono_now_ms - self.mono_ms)
    }

    /// Server time minus local wall time, at a moment read on both local clocks.
    pub fn offset_ms(&self, mono_now_ms: f64, wall_now_ms: f64) -> f64 {
        self.now(mono_now_ms) - wall_now_ms
    }
}

/// How much further the wall clock moved than the monotonic clock between two readings:
/// positive after sleep or a jump forward, negative after the clock was set back.
pub fn drift_ms(mono_before: f64, wall_before: f64, mono_now: f64, wall_now: f64) -> f64 {
    (wall_now - wall_before) - (mono_now - mono_before)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_time_runs_on_the_monotonic_clock() {
        let clock = ServerClock::anchor(Some(1_000_000.0), 5.0, 100.0);
        assert_eq!(clock.now(100.0), 1_000_500.0);
        assert_eq!(clock.now(1_100.0), 1_001_500.0);
        // The wall clock says nothing once anchored.
        assert_eq!(clock.offset_ms(1_100.0, 1_000.0), 1_000_500.0);
        let local = ServerClock::anchor(None, 42.0, 0.0);
        assert_eq!(local.now(8.0), 50.0);
    }

    #[test]
    fn drift_tells_a_clock_change_or_sleep_from_normal_ticks() {
        assert_eq!(drift_ms(0.0, 0.0, 1_000.0, 1_003.0), 3.0);
        assert!(drift_ms(0.0, 0.0, 1_000.0, 3_601_000.0) > JUMP_THRESHOLD_MS);
        assert!(drift_ms(0.0, 0.0, 1_000.0, -3_599_000.0) < -JUMP_THRESHOLD_MS);
    }
}

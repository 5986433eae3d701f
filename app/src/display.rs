//! Turning data into short text: ids, times, countdowns (device names come from the
//! server: `wire::text`).
//!
//! Pure string work is tested natively; only [`local_date_time`] needs the browser.

/// The first 8 characters of an id: enough to tell sessions apart in a table.
pub fn short_id(id: &str) -> String {
    id.chars().take(8).collect()
}

/// "just now", "5 min ago", "3 h ago", "2 days ago" for a past moment.
pub fn time_ago(elapsed_secs: i64) -> String {
    match elapsed_secs {
        ..60 => "just now".into(),
        60..3_600 => format!("{} min ago", elapsed_secs / 60),
        3_600..86_400 => format!("{} h ago", elapsed_secs / 3_600),
        86_400..172_800 => "yesterday".into(),
        _ => format!("{} days ago", elapsed_secs / 86_400),
    }
}

/// A Unix time in milliseconds as local `YYYY-MM-DD HH:MM:SS`, and as ISO 8601 for
/// `<time datetime>`.
pub fn local_date_time(unix_ms: f64) -> (String, String) {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(unix_ms));
    let text = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        date.get_full_year(),
        date.get_month() + 1,
        date.get_date(),
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds()
    );
    (text, String::from(date.to_iso_string()))
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn ids_shorten_on_character_boundaries() {
        assert_eq!(short_id("0123456789abcdef"), "01234567");
        assert_eq!(short_id("abc"), "abc");
    }

    #[test]
    fn time_ago_reads_naturally() {
        assert_eq!(time_ago(-5), "just now");
        assert_eq!(time_ago(59), "just now");
        assert_eq!(time_ago(60), "1 min ago");
        assert_eq!(time_ago(3_599), "59 min ago");
        assert_eq!(time_ago(7_200), "2 h ago");
        assert_eq!(time_ago(90_000), "yesterday");
        assert_eq!(time_ago(3 * 86_400), "3 days ago");
    }
}

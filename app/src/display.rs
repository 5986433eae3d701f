//! Turning data into short text: User-Agents, ids, times, countdowns.
//!
//! Pure string work is tested natively; only [`local_date_time`] needs the browser.

/// `Chrome 139 on Linux` from a full User-Agent; the table shows this and keeps the
/// whole string for a tooltip. Unknown agents fall back to their first product token.
pub fn short_user_agent(ua: &str) -> String {
    let ua = ua.trim();
    if ua.is_empty() {
        return "Unknown device".into();
    }
    let browser = browser(ua);
    match (browser, platform(ua)) {
        (Some(b), Some(p)) => format!("{b} on {p}"),
        (Some(b), None) => b,
        (None, Some(p)) => format!("Browser on {p}"),
        (None, None) => {
            let first = ua.split_whitespace().next().unwrap_or(ua);
            ellipsize(first, 32)
        }
    }
}

/// Browser name and major version, most specific token first (Edge and Opera also say
/// "Chrome", Chrome also says "Safari").
fn browser(ua: &str) -> Option<String> {
    const TOKENS: [(&str, &str); 10] = [
        ("Edg/", "Edge"),
        ("EdgA/", "Edge"),
        ("OPR/", "Opera"),
        ("SamsungBrowser/", "Samsung Internet"),
        ("Firefox/", "Firefox"),
        ("FxiOS/", "Firefox"),
        ("HeadlessChrome/", "Headless Chrome"),
        ("CriOS/", "Chrome"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
    ];
    for (token, name) in TOKENS {
        if let Some(version) = version_after(ua, token) {
            return Some(with_version(name, version));
        }
    }
    if ua.contains("Safari/") {
        return Some(match version_after(ua, "Version/") {
            Some(version) => with_version("Safari", version),
            None => "Safari".into(),
        });
    }
    // Command-line clients and libraries: `curl/8.5.0` → `curl 8`.
    for token in [
        "curl/",
        "Wget/",
        "python-requests/",
        "okhttp/",
        "node-fetch/",
    ] {
        if let Some(version) = version_after(ua, token) {
            return Some(with_version(token.trim_end_matches('/'), version));
        }
    }
    None
}

fn platform(ua: &str) -> Option<&'static str> {
    const PLATFORMS: [(&str, &str); 9] = [
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("CrOS", "ChromeOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Macintosh", "macOS"),
        ("Linux", "Linux"),
        ("X11", "Unix"),
    ];
    PLATFORMS
        .into_iter()
        .find(|(token, _)| ua.contains(token))
        .map(|(_, name)| name)
}

/// The major version right after `token`, if `token` occurs.
fn version_after<'a>(ua: &'a str, token: &str) -> Option<&'a str> {
    let start = ua.find(token)? + token.len();
    let rest = &ua[start..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

fn with_version(name: &str, major: &str) -> String {
    if major.is_empty() {
        name.into()
    } else {
        format!("{name} {major}")
    }
}

/// At most `max` characters, with `…` when cut.
pub fn ellipsize(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.into();
    }
    let kept: String = s.chars().take(max.saturating_sub(1)).collect();
    format!("{kept}…")
}

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
    fn common_browsers_shorten_to_name_version_and_platform() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/139.0.0.0 Safari/537.36",
                "Headless Chrome 139 on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87",
                "Edge 126 on Windows",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:127.0) Gecko/20100101 Firefox/127.0",
                "Firefox 127 on macOS",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                "Safari 17 on iPhone",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.122 Mobile Safari/537.36",
                "Chrome 126 on Android",
            ),
            ("curl/8.5.0", "curl 8"),
        ];
        for (ua, want) in cases {
            assert_eq!(short_user_agent(ua), want, "{ua}");
        }
    }

    #[test]
    fn unknown_agents_fall_back_to_their_first_token() {
        assert_eq!(short_user_agent(""), "Unknown device");
        assert_eq!(short_user_agent("  "), "Unknown device");
        assert_eq!(short_user_agent("MyTool/1.2 (+https://x)"), "MyTool/1.2");
        let long = "a".repeat(50);
        assert_eq!(short_user_agent(&long).chars().count(), 32);
    }

    #[test]
    fn ids_and_text_shorten_on_character_boundaries() {
        assert_eq!(short_id("0123456789abcdef"), "01234567");
        assert_eq!(short_id("abc"), "abc");
        assert_eq!(ellipsize("héllo wörld", 6), "héllo…");
        assert_eq!(ellipsize("short", 6), "short");
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

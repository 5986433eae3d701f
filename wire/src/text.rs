//! Short text for people: the device name the API sends beside a User-Agent
//! (`device_name` in the session list and the audit log, so every client shows the same
//! and none carries the parsing: the WASM client's first visit is the smaller for it),
//! and the shortening both sides use.

/// `Chrome 139 on Linux` from a full User-Agent: what the session list and the audit
/// log send as `device_name`, beside the whole string. Unknown agents fall back to
/// their first product token.
pub fn device_name(ua: &str) -> String {
    let ua = ua.trim();
    if ua.is_empty() {
        return "Unknown device".into();
    }
    let name = match (browser(ua), platform(ua)) {
        (Some(b), Some(p)) => format!("{b} on {p}"),
        (Some(b), None) => b,
        (None, Some(p)) => format!("Browser on {p}"),
        (None, None) => {
            let first = ua.split_whitespace().next().unwrap_or(ua);
            ellipsize(first, 32)
        }
    };
    // Short whatever a client sends (a version of a thousand digits, say).
    ellipsize(&name, MAX_NAME)
}

/// The longest name: `Headless Chrome 139 on ChromeOS` is 31.
const MAX_NAME: usize = 40;

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

#[cfg(test)]
mod tests {
    use super::*;

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
            assert_eq!(device_name(ua), want, "{ua}");
        }
    }

    #[test]
    fn unknown_agents_fall_back_to_their_first_token() {
        assert_eq!(device_name(""), "Unknown device");
        assert_eq!(device_name("  "), "Unknown device");
        assert_eq!(device_name("MyTool/1.2 (+https://x)"), "MyTool/1.2");
        let long = "a".repeat(50);
        assert_eq!(device_name(&long).chars().count(), 32);
    }

    #[test]
    fn any_user_agent_gives_a_name_without_panicking() {
        // The server names whatever a client sends: tokens at the very end, multi-byte
        // characters where digits are expected, a long run of them.
        let long = "é".repeat(40);
        let digits = format!("Chrome/{} (X11; Linux)", "9".repeat(100));
        for ua in [
            "Chrome/",
            "Chrome/é1",
            "Chrome/1é",
            "Edg/٣",
            "é Firefox/",
            &long,
            &digits,
        ] {
            let name = device_name(ua);
            assert!(
                !name.is_empty() && name.chars().count() <= MAX_NAME,
                "{ua}: {name}"
            );
        }
        assert_eq!(device_name("Chrome/"), "Chrome");
    }

    #[test]
    fn text_shortens_on_character_boundaries() {
        assert_eq!(ellipsize("héllo wörld", 6), "héllo…");
        assert_eq!(ellipsize("short", 6), "short");
    }
}

//! Where to send the user after signing in, and how to ask for it.
//!
//! Pure string handling, tested natively. The `next` parameter comes from the URL, so
//! anyone can craft it: only same-origin paths are followed, never another site.

/// Where a user lands when there is no (acceptable) `next`.
pub const HOME_PATH: &str = "/";

/// The path to go to after sign-in: `next` when it is a local path, else home.
///
/// A local path starts with exactly one `/`. `//evil.example` and `/\evil.example` are
/// protocol-relative URLs to browsers (backslashes count as slashes), and control
/// characters are stripped by URL parsers, so all of these are refused.
pub fn safe_next(next: Option<&str>) -> &str {
    next.filter(|path| is_local(path)).unwrap_or(HOME_PATH)
}

/// A path of this origin, and nothing a browser could read as another site.
fn is_local(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path.chars().any(char::is_control)
}

/// The login URL that returns to `path` (path, query and hash of the current page).
pub fn login_url(login_path: &str, path: &str) -> String {
    format!("{login_path}?next={}", encode_component(path))
}

/// Goes to `url`, a local path, without loading a page: a new history entry, or in
/// place of the current one with `replace` (a redirect, which Back skips). Then it tells
/// the app's router the way the Back button does, with a `popstate` event, so a router
/// that takes its location from the browser on `popstate` follows (this repository's
/// app's does; so does `leptos_router` for routes that load synchronously, though its
/// own record of Back is not told). Anything but a local path is refused: this is
/// no way off the site.
pub fn go(url: &str, replace: bool) {
    if !is_local(url) {
        leptos::logging::warn!("not a local path, not followed: {url}");
        return;
    }
    let window = leptos::prelude::window();
    let null = wasm_bindgen::JsValue::NULL;
    let moved = window.history().and_then(|history| {
        if replace {
            history.replace_state_with_url(&null, "", Some(url))
        } else {
            history.push_state_with_url(&null, "", Some(url))
        }
    });
    match moved.and_then(|()| web_sys::Event::new("popstate")) {
        Ok(event) => {
            let _ = window.dispatch_event(&event);
        }
        // No history to edit (a sandboxed frame): the browser loads the page.
        Err(_) if replace => {
            let _ = window.location().replace(url);
        }
        Err(_) => {
            let _ = window.location().assign(url);
        }
    }
}

/// `encodeURIComponent`, without calling into JavaScript.
fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for byte in s.bytes() {
        match byte {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'~'
            | b'*'
            | b'\''
            | b'('
            | b')' => out.push(char::from(byte)),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_are_followed() {
        assert_eq!(safe_next(Some("/")), "/");
        assert_eq!(
            safe_next(Some("/sessions?page=2#top")),
            "/sessions?page=2#top"
        );
    }

    #[test]
    fn anything_that_could_leave_the_site_goes_home() {
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "evil",
            "",
            "/\t/evil.example",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn go_refuses_anything_that_could_leave_the_site() {
        // Refused before the browser is touched: natively, a call that got past the check
        // would panic on the missing `window`.
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "javascript:alert(1)",
            "",
        ] {
            go(bad, false);
            go(bad, true);
        }
    }

    #[test]
    fn login_url_encodes_the_return_path() {
        assert_eq!(login_url("/login", "/"), "/login?next=%2F");
        assert_eq!(
            login_url("/login", "/a b?x=1&y=ü"),
            "/login?next=%2Fa%20b%3Fx%3D1%26y%3D%C3%BC"
        );
    }
}

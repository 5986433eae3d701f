//! What this crate keeps outside memory: a few non-secret flags in `localStorage`, and
//! the server's non-secret session hint cookie, read only.
//!
//! Never a token: the access token lives in memory, the refresh token in an HttpOnly
//! cookie that scripts cannot read.

use wasm_bindgen::JsCast;

/// Set while a logout could not reach the server; sent before anything else next time.
const PENDING_LOGOUT_KEY: &str = "auth-pending-logout";

fn local_storage() -> Option<web_sys::Storage> {
    // Access can throw (privacy settings, sandboxed frames): treat that as "no storage".
    web_sys::window()?.local_storage().ok().flatten()
}

pub(crate) fn get(key: &str) -> Option<String> {
    local_storage()?.get_item(key).ok().flatten()
}

pub(crate) fn set(key: &str, value: &str) {
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(key, value);
    }
}

pub(crate) fn remove(key: &str) {
    if let Some(storage) = local_storage() {
        let _ = storage.remove_item(key);
    }
}

/// A logout the server has not heard of yet (remembered with no secret: the cookie
/// itself is what the logout will present).
pub(crate) fn pending_logout() -> bool {
    get(PENDING_LOGOUT_KEY).is_some()
}

pub(crate) fn set_pending_logout(pending: bool) {
    if pending {
        set(PENDING_LOGOUT_KEY, "1");
    } else {
        remove(PENDING_LOGOUT_KEY);
    }
}

/// Whether the server's hint cookie ([`wire::SESSION_HINT_COOKIE`]) says a refresh cookie
/// may exist. It lives exactly as long as the refresh cookie, so without it a restore
/// would only earn a 401.
pub(crate) fn has_session_hint() -> bool {
    let cookies = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.dyn_into::<web_sys::HtmlDocument>().ok())
        .and_then(|d| d.cookie().ok())
        .unwrap_or_default();
    cookie_is_set(&cookies, wire::SESSION_HINT_COOKIE)
}

/// Whether `document.cookie` text has `name` with a non-empty value.
pub(crate) fn cookie_is_set(cookies: &str, name: &str) -> bool {
    cookies.split(';').any(|pair| {
        let mut parts = pair.trim().splitn(2, '=');
        parts.next() == Some(name) && parts.next().is_some_and(|v| !v.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::cookie_is_set;

    #[test]
    fn the_hint_cookie_is_found_among_others() {
        assert!(cookie_is_set("theme=dark; has_session=1", "has_session"));
        assert!(cookie_is_set("has_session=1", "has_session"));
        assert!(!cookie_is_set("has_session=", "has_session"));
        assert!(!cookie_is_set("not_has_session=1", "has_session"));
        assert!(!cookie_is_set("", "has_session"));
    }
}

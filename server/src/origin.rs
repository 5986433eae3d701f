//! Cross-site request forgery guards for the routes a cookie authenticates.
//!
//! `SameSite=Strict` keeps the refresh cookie off requests from *other sites*, but a
//! sibling subdomain is the same site: its pages can make the browser post to
//! `/api/auth/logout` with the cookie attached. The routes the cookie authenticates
//! (refresh, logout) therefore also require:
//!
//! - the `X-Requested-With` header, which a form or a simple cross-origin request
//!   cannot carry (a script on another origin would need a CORS preflight we never
//!   grant);
//! - an `Origin`, when the browser sends one (browsers do on every POST), that is this
//!   server's own origin or one of `--allowed-origins`.
//!
//! A request without `Origin` (a native client, curl) passes the second check: it has
//! no ambient cookie to abuse unless it holds one already.
//!
//! Sign-in, which sets the cookie, takes a JSON body (a form cannot send one, and a
//! cross-origin script needs a preflight) and gets the `Origin` check alone
//! ([`check_origin`]): a forged sign-in would put the victim in the attacker's account.

use axum::http::{HeaderMap, header};
use wire::REQUESTED_WITH_HEADER;

use crate::{config::Config, error::Error};

/// Checks both guards for a cookie-authenticated state change.
pub fn check(headers: &HeaderMap, config: &Config) -> Result<(), Error> {
    if !headers.contains_key(REQUESTED_WITH_HEADER) {
        return Err(Error::BadRequest(format!(
            "This request must carry the {REQUESTED_WITH_HEADER} header."
        )));
    }
    check_origin(headers, config)
}

/// Checks that a browser's `Origin`, if any, is ours or an allowed one.
pub fn check_origin(headers: &HeaderMap, config: &Config) -> Result<(), Error> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().map_err(|_| Error::CrossOrigin)?;
    if config
        .allowed_origins
        .iter()
        .any(|o| o.trim_end_matches('/') == origin)
    {
        return Ok(());
    }
    // Same origin: the Origin's host (and port) is the host the request was sent to.
    // Behind a proxy that rewrites Host, the proxy's X-Forwarded-Host says what the
    // browser used, but only when we are told to believe proxies.
    let behind_proxy = config.proxy_hops() > 0 || !config.trusted_proxies.is_empty();
    let host = behind_proxy
        .then(|| headers.get("x-forwarded-host"))
        .flatten()
        .or_else(|| headers.get(header::HOST))
        .and_then(|h| h.to_str().ok());
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    match (origin_host, host) {
        (Some(origin_host), Some(host)) if origin_host.eq_ignore_ascii_case(host) => Ok(()),
        _ => Err(Error::CrossOrigin),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn same_origin_and_listed_origins_pass_and_others_do_not() {
        let mut config = Config::defaults();
        let xrw = ("x-requested-with", "fetch");
        let ok = |h: &[(&'static str, &'static str)], c: &Config| check(&headers(h), c).is_ok();
        assert!(ok(
            &[
                xrw,
                ("host", "app.example.com"),
                ("origin", "https://app.example.com")
            ],
            &config
        ));
        assert!(ok(
            &[
                xrw,
                ("host", "127.0.0.1:3000"),
                ("origin", "http://127.0.0.1:3000")
            ],
            &config
        ));
        // No Origin: not a browser's cross-site request.
        assert!(ok(&[xrw, ("host", "app.example.com")], &config));
        // A sibling subdomain, another port, `null`.
        for origin in [
            "https://evil.example.com",
            "https://app.example.com:8443",
            "null",
        ] {
            let h = [xrw, ("host", "app.example.com"), ("origin", origin)];
            assert!(
                matches!(check(&headers(&h), &config), Err(Error::CrossOrigin)),
                "{origin}"
            );
        }
        // No X-Requested-With: refused whatever the origin.
        assert!(!ok(
            &[
                ("host", "app.example.com"),
                ("origin", "https://app.example.com")
            ],
            &config
        ));
        // The SPA on Netlify, the API elsewhere: listed.
        config.allowed_origins = vec!["https://site.netlify.app".into()];
        assert!(ok(
            &[
                xrw,
                ("host", "api.internal"),
                ("origin", "https://site.netlify.app")
            ],
            &config
        ));
        // X-Forwarded-Host counts only behind a configured proxy.
        let h = [
            xrw,
            ("host", "api.internal"),
            ("x-forwarded-host", "app.example.com"),
            ("origin", "https://app.example.com"),
        ];
        assert!(!ok(&h, &config));
        config.proxy_hops = 1;
        assert!(ok(&h, &config));
    }
}

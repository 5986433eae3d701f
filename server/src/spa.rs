//! Serves the built SPA: files from `static_dir`, `index.html` for client routes, and
//! the security headers every response carries.
//!
//! Delivery: the build writes `.br` and `.gz` beside every asset
//! (`scripts/precompress.mjs`, a Trunk hook), served by `Accept-Encoding`; hashed assets
//! (named `name-<hex hash>.ext` by Trunk for the CSS and by scripts/build-wasm.mjs for
//! the WASM modules and their JS) are cached for a year as `immutable`,
//! `index.html` (and every client route, which is `index.html`) is revalidated each time,
//! so a deploy is seen at the next load.

use std::path::Path;

use axum::{
    Router,
    extract::Request,
    http::{HeaderName, HeaderValue, header},
    middleware::{self, Next},
    response::Response,
};
use tower_http::{
    services::{ServeDir, ServeFile},
    set_header::SetResponseHeaderLayer,
};

/// `script-src 'wasm-unsafe-eval'` lets the WASM compile; nothing inline runs.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The SPA as a fallback service: unknown paths get `index.html`.
pub fn fallback<S: Clone + Send + Sync + 'static>(dir: &Path) -> Router<S> {
    let index = ServeFile::new(dir.join("index.html"))
        .precompressed_br()
        .precompressed_gzip();
    let files = ServeDir::new(dir)
        .precompressed_br()
        .precompressed_gzip()
        .fallback(index);
    Router::new()
        .fallback_service(files)
        .layer(middleware::from_fn(cache_headers))
}

/// A year, `immutable`: the name changes whenever the content does.
pub const CACHE_HASHED: &str = "public, max-age=31536000, immutable";
/// Revalidate every time: the page that names the current hashed assets.
pub const CACHE_PAGE: &str = "no-cache";
/// Unhashed static files (favicon, robots.txt): a day.
pub const CACHE_OTHER: &str = "public, max-age=86400";

/// `Cache-Control` for a successful SPA response to `path` of type `content_type`.
pub fn cache_control(path: &str, content_type: Option<&str>) -> &'static str {
    let html = content_type.is_some_and(|t| t.starts_with("text/html"));
    let name = path.rsplit('/').next().unwrap_or_default();
    if html || name.is_empty() || !name.contains('.') {
        // `index.html` itself, or a client route answered with it (also a missing
        // hashed file, which must not be cached as if it were the asset).
        CACHE_PAGE
    } else if is_hashed(name) {
        CACHE_HASHED
    } else {
        CACHE_OTHER
    }
}

/// `app-3f2a…9c_bg.wasm`, `split_page_sessions-3f2a…9c.wasm`, `main-0123456789abcdef.css`:
/// a 64-bit hash in hex after a `-`, before the extension (and an optional `_bg`).
/// scripts/build-wasm.mjs writes 16 digits; Trunk (the CSS) drops leading zeros, so one
/// build in 16 has 15; fewer than 10 would take 28 zero bits.
fn is_hashed(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or_default();
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(_, hash)| {
        (10..=16).contains(&hash.len()) && hash.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

async fn cache_headers(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    if response.status().is_success() {
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let value = cache_control(&path, content_type);
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    }
    response
}

/// `Strict-Transport-Security` when `--hsts` is on: two years, subdomains included.
pub const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Security headers for every response (API included: they cost nothing there), and
/// HSTS when the server is reached over HTTPS (`hsts`).
pub fn security_headers<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    hsts: bool,
) -> Router<S> {
    let mut headers: Vec<(HeaderName, &'static str)> = vec![
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    if hsts {
        headers.push((header::STRICT_TRANSPORT_SECURITY, HSTS));
    }
    headers.into_iter().fold(router, |r, (name, value)| {
        r.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_assets_are_immutable_and_the_page_is_revalidated() {
        let wasm = "/app-0123456789abcdef_bg.wasm";
        assert_eq!(cache_control(wasm, Some("application/wasm")), CACHE_HASHED);
        assert_eq!(
            cache_control("/main-89abcdef01234567.css", Some("text/css")),
            CACHE_HASHED
        );
        // What scripts/build-wasm.mjs writes: the boot module, the chunk loader, chunks.
        for name in [
            "/boot-0123456789abcdef.js",
            "/lazy-0123456789abcdef.js",
            "/split_page_sessions-0123456789abcdef.wasm",
            "/chunk_12-0123456789abcdef.wasm",
        ] {
            let kind = if name.ends_with(".js") {
                "text/javascript"
            } else {
                "application/wasm"
            };
            assert_eq!(cache_control(name, Some(kind)), CACHE_HASHED, "{name}");
        }
        // Trunk drops the hash's leading zeros: 15 digits, as one build in 16 has.
        assert_eq!(
            cache_control("/app-8f49f6d54260d68.js", Some("text/javascript")),
            CACHE_HASHED
        );
        assert_eq!(cache_control("/", Some("text/html")), CACHE_PAGE);
        assert_eq!(cache_control("/index.html", Some("text/html")), CACHE_PAGE);
        assert_eq!(cache_control("/sessions", Some("text/html")), CACHE_PAGE);
        // A missing asset answered with index.html is not cached as the asset.
        assert_eq!(
            cache_control(wasm, Some("text/html; charset=utf-8")),
            CACHE_PAGE
        );
        assert_eq!(
            cache_control("/favicon.svg", Some("image/svg+xml")),
            CACHE_OTHER
        );
        assert_eq!(cache_control("/app-123.js", None), CACHE_OTHER);
    }

    /// Netlify and Vercel serve the SPA without this server: their headers must say
    /// the same as ours.
    #[test]
    fn static_hosts_send_the_same_csp() {
        for file in ["netlify.toml", "vercel.json"] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join(file);
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                text.contains(CONTENT_SECURITY_POLICY),
                "{file} has another CSP"
            );
        }
    }
}

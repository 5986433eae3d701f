//! Serves the built SPA: files from `static_dir`, `index.html` for client routes, and
//! the security headers every response carries.

use std::path::Path;

use axum::{
    Router,
    http::{HeaderName, HeaderValue, header},
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
    let index = ServeFile::new(dir.join("index.html"));
    Router::new().fallback_service(ServeDir::new(dir).fallback(index))
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
    use super::CONTENT_SECURITY_POLICY;

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

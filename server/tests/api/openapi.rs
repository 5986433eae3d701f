//! The OpenAPI document against the router actually served: every route `server::app`
//! serves is in `GET /api/openapi.json` with the same methods, and the document lists
//! nothing the router does not serve.

use std::collections::BTreeSet;

use axum::{
    Router,
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use reqwest::header::CONTENT_TYPE;
use tower::ServiceExt;

use crate::helpers::spawn_app;

/// Served on purpose without a description: the JSON 404 for unknown API paths, which
/// is no endpoint. (The SPA is the router's fallback, not a route.)
const UNDOCUMENTED: [(&str, &str); 1] = [("ANY", "/api/{*rest}")];

#[tokio::test]
async fn the_document_describes_every_route_the_router_serves_and_nothing_else() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(format!("{}/api/openapi.json", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    let document: serde_json::Value = response.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let documented: BTreeSet<(String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect();

    let mut served = served_routes(server::app(app.state.clone())).await;
    for (method, path) in UNDOCUMENTED {
        assert!(
            served.remove(&(method.to_owned(), path.to_owned())),
            "{method} {path} is no longer served: drop it from UNDOCUMENTED"
        );
    }
    let missing: Vec<_> = served.difference(&documented).collect();
    let phantom: Vec<_> = documented.difference(&served).collect();
    assert!(
        missing.is_empty() && phantom.is_empty(),
        "served but not documented (register it with `routes!` and a `#[utoipa::path]`): \
         {missing:?}; documented but not served: {phantom:?}"
    );
}

/// Every `(method, path)` the router routes, `ANY` for a route that takes every method.
async fn served_routes(router: Router) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for path in served_paths(&router) {
        for method in methods_at(&router, &path).await {
            routes.insert((method, path.clone()));
        }
    }
    routes
}

/// The path patterns the router matches. axum offers no way to list them (on purpose:
/// tokio-rs/axum#2515), but its `Debug` prints each as `RouteId(n): "/path"`; only the
/// routes proper, before the fallback's section. Should axum print them otherwise, this
/// finds none and says so.
fn served_paths(router: &Router) -> Vec<String> {
    let debug = format!("{router:?}");
    let routes = debug.split("fallback_router").next().unwrap_or_default();
    let paths: Vec<String> = routes
        .split("RouteId(")
        .skip(1)
        .filter_map(|entry| {
            let (id, rest) = entry.split_once(')')?;
            id.chars().all(|c| c.is_ascii_digit()).then_some(())?;
            let path = rest.strip_prefix(": \"")?;
            Some(path.split('"').next()?.to_owned())
        })
        .collect();
    assert!(
        paths.iter().any(|p| p == "/healthz"),
        "could not read the routes from the router's Debug output (axum changed it?): {debug}"
    );
    paths
}

/// The methods served at `path`, from the `Allow` header of the 405 that a method no
/// route uses gets (`HEAD` left out where axum adds it to `GET`); `ANY` if that method
/// is served too.
async fn methods_at(router: &Router, path: &str) -> Vec<String> {
    // Any value will do for `{id}` and `{*rest}`: the pattern matches it.
    let uri: String = path
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "x"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    let request = Request::builder()
        .method(Method::from_bytes(b"PROBE").unwrap())
        .uri(&uri)
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    if response.status() != StatusCode::METHOD_NOT_ALLOWED {
        return vec!["ANY".to_owned()];
    }
    let allow = response.headers()[header::ALLOW].to_str().unwrap();
    let methods: Vec<String> = allow.split(',').map(|m| m.trim().to_owned()).collect();
    let has_get = methods.iter().any(|m| m == "GET");
    methods
        .into_iter()
        .filter(|m| !(has_get && m == "HEAD"))
        .collect()
}

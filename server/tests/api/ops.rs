//! What operators rely on: the health probe of the container image.

use crate::helpers::spawn_app;

#[tokio::test]
async fn healthcheck_probe_passes_on_a_live_server_and_fails_without_one() {
    let app = spawn_app().await;
    let addr = app.url.trim_start_matches("http://").parse().unwrap();
    server::healthcheck::probe(addr).await.unwrap();

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    assert!(server::healthcheck::probe(addr).await.is_err());
}

//! The connection limits a public server needs: slow clients are dropped, a half-sent
//! request times out, one address cannot take every connection, and every API answer
//! says `no-store`.

use std::time::{Duration, Instant};

use reqwest::{StatusCode, header};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

use crate::helpers::*;

fn addr(app: &TestApp) -> std::net::SocketAddr {
    app.url.trim_start_matches("http://").parse().unwrap()
}

/// Waits until the server closes `stream` (or `limit` passes); returns how long it took
/// and what the server sent before closing.
async fn until_closed(stream: &mut TcpStream, limit: Duration) -> (Option<Duration>, String) {
    let start = Instant::now();
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(limit.saturating_sub(start.elapsed()), stream.read(&mut buf))
            .await
        {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return (Some(start.elapsed()), String::from_utf8_lossy(&seen).into());
            }
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => return (None, String::from_utf8_lossy(&seen).into()),
        }
    }
}

#[tokio::test]
async fn a_client_that_trickles_its_headers_is_dropped_within_the_header_timeout() {
    let app = spawn_app_with(|c| c.header_timeout = Duration::from_secs(2)).await;
    let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
    let trickle = async {
        for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa" {
            if stream.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(20), trickle).await;
    let (closed, _) = until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(
        closed.is_some(),
        "a trickling client still holds its connection"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = spawn_app_with(|c| c.header_timeout = Duration::from_secs(2)).await;
    let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (closed, answer) = until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(closed.is_some(), "an idle keep-alive connection stays open");
}

#[tokio::test]
async fn a_half_sent_body_gets_408_at_the_request_timeout() {
    let app = spawn_app_with(|c| c.request_timeout = Duration::from_secs(2)).await;
    let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
    stream
        .write_all(
            b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"username\":",
        )
        .await
        .unwrap();
    let (closed, answer) = until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        closed.is_some(),
        "the connection of a timed-out request stays open"
    );
}

#[tokio::test]
async fn one_address_cannot_take_every_connection() {
    let app = spawn_app_with(|c| c.max_connections_per_ip = 5).await;
    let from = |ip: &str| {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(format!("{ip}:0").parse().unwrap()).unwrap();
        socket.connect(addr(&app))
    };
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(from("127.0.0.1").await.unwrap());
    }
    // The sixth from the same address is closed at once, unanswered.
    let mut sixth = from("127.0.0.1").await.unwrap();
    let _ = sixth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let (closed, answer) = until_closed(&mut sixth, Duration::from_secs(5)).await;
    assert!(closed.is_some() && answer.is_empty(), "{answer}");
    // Everyone else is still served.
    let other = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let health = other
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    // A place freed is a place to use again.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = from("127.0.0.1").await.unwrap();
    again
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (_, answer) = until_closed(&mut again, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn api_answers_are_never_cached_and_hsts_is_there_when_asked_for() {
    let app = spawn_app().await;
    let login = app.post_login(ALICE, false).await;
    assert_eq!(login.headers()[header::CACHE_CONTROL], "no-store");
    let me = app.get("/api/me", "nonsense").await;
    assert_eq!(me.headers()[header::CACHE_CONTROL], "no-store");
    assert!(
        login
            .headers()
            .get(header::STRICT_TRANSPORT_SECURITY)
            .is_none()
    );

    let tls = spawn_app_with(|c| c.hsts = true).await;
    let response = tls.post_login(ALICE, false).await;
    assert_eq!(
        response.headers()[header::STRICT_TRANSPORT_SECURITY],
        "max-age=63072000; includeSubDomains"
    );
}

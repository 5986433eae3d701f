//! Accepting connections: caps in all and per IP, the header timeout that drops slow
//! clients, and graceful shutdown.
//!
//! `axum::serve` sets no timer on hyper, so hyper's header-read timeout never runs and
//! a client that trickles header bytes holds its connection (and a file descriptor)
//! forever. This loop is `axum::serve` with the limits a public server needs:
//!
//! - a client must send a request's headers within `--header-timeout`; the same timer
//!   closes a keep-alive connection that stays idle that long;
//! - a whole request, body included, gets `--request-timeout` (a layer in
//!   [`crate::app`], so it holds for embedders too) and then 408;
//! - at most `--max-connections` open connections, and `--max-connections-per-ip` from
//!   one address (peers in `--trusted-proxies` exempt): more are closed at once, so one
//!   client cannot use up the process's file descriptors.
//!
//! HTTP/1.1 only: browsers speak it to this server directly or through a proxy that
//! terminates TLS, and it keeps the attack surface small.

use std::{
    collections::HashMap,
    future::Future,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, extract::ConnectInfo, http::Request};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::config::Config;

/// How many connections are open, in all and per peer address.
#[derive(Debug)]
pub struct Connections {
    max: usize,
    max_per_ip: usize,
    exempt: Vec<ipnet::IpNet>,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct Admitted {
    connections: Arc<Connections>,
    ip: IpAddr,
}

impl Connections {
    pub fn new(config: &Config) -> Arc<Self> {
        Arc::new(Self {
            max: config.max_connections.max(1),
            max_per_ip: config.max_connections_per_ip,
            exempt: config.trusted_proxies.clone(),
            open: Mutex::default(),
        })
    }

    /// A place for a connection from `ip`, if there is one.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Admitted> {
        let mut open = self.open.lock().expect("connection count lock");
        let (total, per_ip) = &mut *open;
        if *total >= self.max {
            return None;
        }
        let capped = self.max_per_ip > 0 && !self.exempt.iter().any(|net| net.contains(&ip));
        let mine = per_ip.entry(ip).or_default();
        if capped && *mine >= self.max_per_ip {
            return None;
        }
        *mine += 1;
        *total += 1;
        Some(Admitted {
            connections: self.clone(),
            ip,
        })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.connections.open.lock().expect("connection count lock");
        let (total, per_ip) = &mut *open;
        *total -= 1;
        if let Some(n) = per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets open requests
/// finish (for up to 10 s).
pub async fn serve(
    router: Router,
    listener: TcpListener,
    config: &Config,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let connections = Connections::new(config);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .max_buf_size(64 * 1024);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, most likely: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(admitted) = connections.admit(peer.ip()) else {
            tracing::debug!(%peer, "connection refused: too many open");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = tower::service_fn(move |mut request: Request<Incoming>| {
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(peer));
            router.clone().oneshot(request)
        });
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(admitted);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(10)) => {
            tracing::warn!("open connections did not finish within 10 s of shutdown");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_hold_in_all_and_per_ip_and_trusted_proxies_are_exempt() {
        let mut config = Config::defaults();
        config.max_connections = 4;
        config.max_connections_per_ip = 2;
        config.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
        let connections = Connections::new(&config);
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let a = connections.admit(client).unwrap();
        let _b = connections.admit(client).unwrap();
        assert!(connections.admit(client).is_none(), "per IP");
        drop(a);
        let _c = connections.admit(client).unwrap();
        let _d = connections.admit(proxy).unwrap();
        let _e = connections.admit(proxy).unwrap();
        assert!(connections.admit(proxy).is_none(), "in all");
    }
}

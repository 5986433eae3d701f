//! `server healthcheck`: the container's health probe. The runtime image has no shell and
//! no curl, so the binary asks its own running server: `GET /healthz` over loopback, exit
//! status 0 on `200`. Twenty lines of HTTP/1.1 rather than an HTTP client in the binary.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    time::Duration,
};

use anyhow::{Context, bail};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// A health check that hangs is a failed one.
const TIMEOUT: Duration = Duration::from_secs(3);

/// Asks the server listening on `addr` (`0.0.0.0:3000` means this host) for `/healthz`.
pub async fn probe(addr: SocketAddr) -> anyhow::Result<()> {
    tokio::time::timeout(TIMEOUT, ask(loopback(addr)))
        .await
        .context("no answer from /healthz in time")?
}

async fn ask(addr: SocketAddr) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("nothing listens on {addr}"))?;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).await?;
    let status = String::from_utf8_lossy(&head[..n]);
    let status = status.lines().next().unwrap_or_default();
    if status.split(' ').nth(1) != Some("200") {
        bail!("/healthz answered {status:?}");
    }
    Ok(())
}

/// A wildcard listen address is reached through loopback.
fn loopback(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_addresses_are_probed_on_loopback() {
        assert_eq!(
            loopback("0.0.0.0:3000".parse().unwrap()),
            "127.0.0.1:3000".parse().unwrap()
        );
        assert_eq!(
            loopback("[::]:3000".parse().unwrap()),
            "[::1]:3000".parse().unwrap()
        );
        assert_eq!(
            loopback("10.1.2.3:80".parse().unwrap()),
            "10.1.2.3:80".parse().unwrap()
        );
    }
}

//! Which address is the client's, behind reverse proxies.
//!
//! `X-Forwarded-For` is a list each proxy appends to: `client, proxy1, proxy2`, and the
//! TCP peer is the last proxy. Everything left of what *our* proxies appended was
//! written by whoever sent the request, so the leftmost entry is attacker-chosen (taking
//! it let random values dodge the per-IP login limit and forge the audit log). The
//! client is found from the right instead:
//!
//! - with `--trusted-proxies` (CIDRs): the peer must be one of them for the header to
//!   count at all; walking from the right, the first address that is not a trusted
//!   proxy is the client;
//! - with `--proxy-hops N` (proxies whose addresses are not known, e.g. a platform's
//!   edge): the client is the address `N` hops from the peer, i.e. the N-th entry from
//!   the right; only sound when the server cannot be reached around the proxies;
//! - otherwise the peer itself.

use std::net::IpAddr;

use ipnet::IpNet;

/// The client address for a request from `peer` carrying `forwarded_for` (every
/// `X-Forwarded-For` value, in order).
pub fn client_ip(peer: IpAddr, forwarded_for: &[&str], trusted: &[IpNet], hops: usize) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    // Right to left: what each hop before the peer wrote.
    let mut chain = forwarded_for
        .iter()
        .rev()
        .flat_map(|value| value.rsplit(','))
        .map(|entry| entry.trim().parse::<IpAddr>().ok());
    if !trusted.is_empty() {
        let mut client = peer;
        for hop in chain {
            match hop {
                Some(ip) if is_trusted(&client) => client = ip,
                // Either an untrusted address (the client) or garbage written by a
                // trusted proxy's client: stop at the last address we can vouch for.
                _ => break,
            }
        }
        // A chain of nothing but trusted proxies: the leftmost is all we know.
        return client;
    }
    if hops > 0 {
        // The entry `hops` to the left of the peer; when the chain is shorter (the
        // request skipped a proxy) or garbled there, the peer is all we can vouch for.
        return chain.nth(hops - 1).flatten().unwrap_or(peer);
    }
    peer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn without_proxies_the_header_is_ignored() {
        let peer = ip("198.51.100.9");
        assert_eq!(client_ip(peer, &["203.0.113.7"], &[], 0), peer);
    }

    #[test]
    fn hop_count_takes_the_entry_our_proxy_appended_not_the_leftmost() {
        let peer = ip("10.0.0.2");
        // The client sent "1.1.1.1" itself; our one proxy appended the real address.
        let xff = ["1.1.1.1, 203.0.113.7"];
        assert_eq!(client_ip(peer, &xff, &[], 1), ip("203.0.113.7"));
        assert_eq!(client_ip(peer, &xff, &[], 2), ip("1.1.1.1"));
        // Fewer entries than hops, or garbage where the client should be: the peer.
        assert_eq!(client_ip(peer, &[], &[], 1), peer);
        assert_eq!(client_ip(peer, &["nonsense"], &[], 1), peer);
        // Several header lines count as one list.
        assert_eq!(
            client_ip(peer, &["1.1.1.1", "203.0.113.7"], &[], 1),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn trusted_proxies_are_skipped_from_the_right() {
        let trusted = nets(&["10.0.0.0/8", "2001:db8::/32"]);
        let peer = ip("10.0.0.2");
        let xff = ["6.6.6.6, 203.0.113.7, 10.0.0.5"];
        assert_eq!(client_ip(peer, &xff, &trusted, 0), ip("203.0.113.7"));
        // An untrusted peer's header means nothing.
        assert_eq!(
            client_ip(ip("198.51.100.9"), &xff, &trusted, 0),
            ip("198.51.100.9")
        );
        // Only proxies: the leftmost of them.
        assert_eq!(client_ip(peer, &["10.0.0.7"], &trusted, 0), ip("10.0.0.7"));
        // Garbage left of our proxies: the last address we can vouch for.
        assert_eq!(
            client_ip(peer, &["junk, 10.0.0.5"], &trusted, 0),
            ip("10.0.0.5")
        );
        // IPv6 too.
        let v6 = ip("2001:db8::1");
        assert_eq!(
            client_ip(v6, &["2001:4860::8888"], &trusted, 0),
            ip("2001:4860::8888")
        );
    }
}

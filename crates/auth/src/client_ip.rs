//! The client's IP address, for rate limits and the session's `ipAddress`.
//!
//! Upstream takes `X-Forwarded-For` from any peer (a client can claim any address and so
//! escape its rate limit). We believe the header only when the TCP peer is a configured
//! trusted proxy, and then take the right-most address that is not itself a trusted proxy:
//! the first hop no proxy of ours vouches for.

use std::net::{IpAddr, Ipv6Addr};

use actix_web::http::header::HeaderMap;
use ipnet::IpNet;

/// `peer` is the TCP peer; `None` only for non-TCP listeners.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = normalize(peer?);
    if !is_trusted(peer, trusted) {
        return Some(peer);
    }
    // Every X-Forwarded-For header, in order, as one list of hops (left = farthest).
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut nearest = peer;
    for hop in hops.iter().rev() {
        // A hop that is not an address was not written by a proxy we trust: stop at the
        // last address we could vouch for.
        let Ok(ip) = hop.parse::<IpAddr>().map(normalize) else {
            return Some(nearest);
        };
        if !is_trusted(ip, trusted) {
            return Some(ip);
        }
        nearest = ip;
    }
    Some(nearest)
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

/// `::ffff:1.2.3.4` is `1.2.3.4`.
fn normalize(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The rate-limit identity of an address: IPv6 clients get a /64 each (as upstream), since
/// one host usually owns a whole /64 and could otherwise rotate addresses freely.
pub fn rate_limit_identity(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let masked = u128::from(v6) & (u128::MAX << 64);
            format!("{}/64", Ipv6Addr::from(masked))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in xff {
            map.append(
                HeaderName::from_static("x-forwarded-for"),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_header_counts_only_behind_a_trusted_proxy() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let spoofed = headers(&["1.2.3.4"]);
        // Direct client: its own address, whatever it claims.
        assert_eq!(
            client_ip(Some(ip("203.0.113.9")), &spoofed, &trusted),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            client_ip(Some(ip("203.0.113.9")), &spoofed, &[]),
            Some(ip("203.0.113.9"))
        );
        // Behind our proxies: the right-most untrusted hop.
        let chain = headers(&["6.6.6.6, 198.51.100.7", "10.1.1.1"]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.2")), &chain, &trusted),
            Some(ip("198.51.100.7"))
        );
        // Only proxies in the chain: the farthest one.
        assert_eq!(
            client_ip(Some(ip("10.0.0.2")), &headers(&["10.9.9.9"]), &trusted),
            Some(ip("10.9.9.9"))
        );
        // Garbage in the chain stops at the last address we vouch for.
        assert_eq!(
            client_ip(
                Some(ip("10.0.0.2")),
                &headers(&["1.1.1.1, nonsense, 10.3.3.3"]),
                &trusted
            ),
            Some(ip("10.3.3.3"))
        );
        // No header: the proxy itself.
        assert_eq!(
            client_ip(Some(ip("10.0.0.2")), &headers(&[]), &trusted),
            Some(ip("10.0.0.2"))
        );
    }

    #[test]
    fn addresses_are_normalised() {
        assert_eq!(
            client_ip(Some(ip("::ffff:192.0.2.1")), &headers(&[]), &[]),
            Some(ip("192.0.2.1"))
        );
        assert_eq!(
            rate_limit_identity(ip("2001:db8:1:2:3:4:5:6")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(rate_limit_identity(ip("192.0.2.1")), "192.0.2.1");
    }
}

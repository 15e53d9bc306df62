//! A lease as a CNI result: one IPv4 address, the first router as its
//! gateway, routes from option 121 when present (RFC 3442: it replaces
//! option 33 and the router), else option 33 and a default route via the
//! router; DNS servers and domain as they came (Go drops them).

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};

use pkg::types::{CniResult, Dns, IpConfig, Route};

use crate::lease::Lease;

const SCOPE_LINK: u32 = 253;

pub fn to_result(lease: &Lease, priority: u32) -> CniResult {
    let address = IpNet::V4(
        Ipv4Net::new(lease.address, lease.prefix_len).unwrap_or_else(|_| {
            // from_ack checked the prefix; a stored lease edited by hand is
            // read as a host address rather than refused.
            Ipv4Net::from(lease.address)
        }),
    );
    let gateway = lease.routers.first().copied().map(IpAddr::V4);
    let mut routes = Vec::new();
    if !lease.classless_routes.is_empty() {
        for (dst, gw) in &lease.classless_routes {
            let mut r = Route::new(IpNet::V4(*dst), Some(IpAddr::V4(*gw)));
            if gw.is_unspecified() {
                r.gw = None;
                r.scope = Some(SCOPE_LINK);
            }
            routes.push(r);
        }
    } else {
        for (dst, gw) in &lease.static_routes {
            routes.push(Route::new(classful(*dst), Some(IpAddr::V4(*gw))));
        }
        if let Some(gw) = gateway {
            routes.push(Route::new(IpNet::V4(Ipv4Net::default()), Some(gw)));
        }
    }
    for r in &mut routes {
        r.priority = priority;
    }
    CniResult {
        ips: vec![IpConfig {
            interface: None,
            address,
            gateway,
        }],
        routes,
        dns: Dns {
            nameservers: lease.dns_servers.iter().map(|s| s.to_string()).collect(),
            domain: lease.domain.clone(),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Option 33 names destinations by their class (RFC 2132 §5.8).
fn classful(dst: std::net::Ipv4Addr) -> IpNet {
    let len = match dst.octets()[0] {
        0..=127 => 8,
        128..=191 => 16,
        _ => 24,
    };
    IpNet::V4(Ipv4Net::new(dst, len).map_or(Ipv4Net::from(dst), |n| n.trunc()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn lease() -> Lease {
        Lease {
            address: Ipv4Addr::new(10, 1, 2, 3),
            prefix_len: 24,
            server: Ipv4Addr::new(10, 1, 2, 1),
            routers: vec![Ipv4Addr::new(10, 1, 2, 1), Ipv4Addr::new(10, 1, 2, 254)],
            static_routes: vec![(Ipv4Addr::new(172, 16, 0, 0), Ipv4Addr::new(10, 1, 2, 9))],
            classless_routes: vec![],
            dns_servers: vec![Ipv4Addr::new(10, 1, 2, 53)],
            domain: "example.test".into(),
            lease_secs: 120,
            renew_secs: 60,
            rebind_secs: 105,
            acquired: 0,
        }
    }

    fn routes(r: &CniResult) -> Vec<String> {
        r.routes
            .iter()
            .map(|r| format!("{} {:?} {} {:?}", r.dst, r.gw, r.priority, r.scope))
            .collect()
    }

    #[test]
    fn routes_by_rfc_3442() {
        let plain = to_result(&lease(), 0);
        assert_eq!(plain.ips[0].address.to_string(), "10.1.2.3/24");
        assert_eq!(plain.ips[0].gateway, Some("10.1.2.1".parse().unwrap()));
        assert_eq!(
            routes(&plain),
            [
                "172.16.0.0/16 Some(10.1.2.9) 0 None",
                "0.0.0.0/0 Some(10.1.2.1) 0 None"
            ]
        );
        assert_eq!(plain.dns.nameservers, ["10.1.2.53"]);
        assert_eq!(plain.dns.domain, "example.test");

        let mut l = lease();
        l.classless_routes = vec![
            (
                "192.168.7.0/24".parse().unwrap(),
                Ipv4Addr::new(10, 1, 2, 7),
            ),
            ("10.9.0.0/16".parse().unwrap(), Ipv4Addr::UNSPECIFIED),
        ];
        let classless = to_result(&l, 100);
        assert_eq!(
            routes(&classless),
            [
                "192.168.7.0/24 Some(10.1.2.7) 100 None",
                "10.9.0.0/16 None 100 Some(253)"
            ]
        );
        // the gateway stays the router's even when 121 sets the routes
        assert_eq!(classless.ips[0].gateway, Some("10.1.2.1".parse().unwrap()));

        let mut none = lease();
        none.routers.clear();
        none.static_routes.clear();
        assert!(to_result(&none, 5).routes.is_empty());
    }

    #[test]
    fn classful_destinations() {
        for (dst, want) in [
            ("10.2.3.4", "10.0.0.0/8"),
            ("172.16.9.1", "172.16.0.0/16"),
            ("192.168.1.7", "192.168.1.0/24"),
        ] {
            assert_eq!(classful(dst.parse().unwrap()).to_string(), want);
        }
    }
}

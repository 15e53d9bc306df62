//! IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) in configurations.
//!
//! Go's `To4()` reads them as IPv4, so the suite does too, everywhere a
//! config names an address: a mapped address becomes its IPv4 form, and a
//! mapped prefix of /96 or longer the IPv4 prefix 96 bits shorter
//! (`::ffff:10.0.0.0/120` is `10.0.0.0/24`). A shorter mapped prefix covers
//! addresses that are not IPv4 at all and is refused: it has no consistent
//! reading. This keeps one address from being allocated, routed or
//! firewalled under two names.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::error::{Error, Result};
use crate::types::Route;

/// The IPv4 form of a mapped address; other addresses unchanged.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The IPv4 form of a mapped prefix, keeping the address as written (for
/// an interface address such as `::ffff:10.0.0.5/120`). `field` names the
/// value in the error.
pub fn canonical_net(net: IpNet, field: &str) -> Result<IpNet> {
    let IpNet::V6(n) = net else { return Ok(net) };
    let Some(v4) = n.addr().to_ipv4_mapped() else {
        return Ok(net);
    };
    let mapped_range = n.prefix_len() >= 96;
    mapped_range
        .then(|| IpNet::new(IpAddr::V4(v4), n.prefix_len() - 96).ok())
        .flatten()
        .ok_or_else(|| {
            Error::invalid_config(
                format!(
                    "invalid {field} {net}: an IPv4-mapped IPv6 prefix shorter than /96 is neither IPv4 nor IPv6"
                ),
                format!("write IPv4 prefixes in IPv4 form, such as {v4}/24"),
            )
        })
}

/// A route with its destination and gateway in canonical form.
pub fn canonical_route(r: &Route, field: &str) -> Result<Route> {
    // rtm_scope is a byte: the kernel cannot hold more, and the plugin
    // that applies the route would refuse it only after making its link.
    if let Some(scope) = r.scope.filter(|s| *s > u32::from(u8::MAX)) {
        return Err(Error::invalid_config(
            format!("{field} {} has an invalid scope {scope}", r.dst),
            "a route's scope is 0 to 255",
        ));
    }
    Ok(Route {
        dst: canonical_net(r.dst, &format!("{field} dst"))?,
        gw: r.gw.map(canonical_ip),
        ..r.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_forms_become_ipv4() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let net = |s: &str| s.parse::<IpNet>().unwrap();
        assert_eq!(canonical_ip(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
        assert_eq!(canonical_ip(ip("fd00::1")), ip("fd00::1"));
        assert_eq!(canonical_ip(ip("::1")), ip("::1"));
        for (from, to) in [
            ("::ffff:10.0.0.0/120", "10.0.0.0/24"),
            ("::ffff:10.0.0.5/120", "10.0.0.5/24"),
            ("::ffff:0.0.0.0/96", "0.0.0.0/0"),
            ("::ffff:10.0.0.1/128", "10.0.0.1/32"),
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("fd00::/64", "fd00::/64"),
        ] {
            assert_eq!(canonical_net(net(from), "x").unwrap(), net(to), "{from}");
        }
        let e = canonical_net(net("::ffff:10.0.0.1/24"), "address").unwrap_err();
        assert_eq!(e.code(), 7);
        assert!(e.msg().contains("::ffff:10.0.0.1/24"), "{}", e.msg());
        let r: Route = serde_json::from_value(
            serde_json::json!({"dst": "::ffff:0.0.0.0/96", "gw": "::ffff:10.0.0.254"}),
        )
        .unwrap();
        let c = canonical_route(&r, "route").unwrap();
        assert_eq!((c.dst, c.gw), (net("0.0.0.0/0"), Some(ip("10.0.0.254"))));
    }

    #[test]
    fn route_scope_fits_a_byte() {
        for (scope, ok) in [
            (0, true),
            (253, true),
            (255, true),
            (256, false),
            (300, false),
        ] {
            let r: Route =
                serde_json::from_value(serde_json::json!({"dst": "10.0.0.0/8", "scope": scope}))
                    .unwrap();
            match canonical_route(&r, "route") {
                Ok(c) => assert!(ok && c.scope == Some(scope), "{scope}"),
                Err(e) => {
                    assert!(!ok, "{scope}");
                    assert_eq!(e.code(), 7);
                    assert_eq!(
                        e.msg(),
                        format!("route 10.0.0.0/8 has an invalid scope {scope}")
                    );
                }
            }
        }
    }
}

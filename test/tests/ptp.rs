//! ptp, executed as a runtime would: real veths, addresses, routes and
//! masquerade rules in scratch namespaces, for every spec version that
//! applies; interop with Debian's Go ptp.

use std::net::{IpAddr, SocketAddr};

use integration::*;
use ipnet::IpNet;
use pkg::netlink::Link;
use serde_json::{Value, json};

const SUBNET: &str = "10.77.0.0/24";
const GW: &str = "10.77.0.1";

/// The network `ptpnet` on 10.77.0.0/24, whose host routes are ptp's.
fn net() -> Fixture {
    Fixture::new("ptp", "ptpnet")
        .ipam_ranges(json!([[{"subnet": SUBNET}]]))
        .host_routes_to(&["10.77.", "fd00:77:"])
}

/// `extra` on the dual-stack network, with IPAM default routes.
fn dual_stack(net: &Fixture, v: Version, extra: Value) -> Value {
    let mut c = net.conf(v, extra);
    c["ipam"] = net.host_local(json!([[{"subnet": SUBNET}], [{"subnet": "fd00:77::/64"}]]));
    c["ipam"]["routes"] = json!([{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]);
    c
}

fn cidr(s: &str) -> IpNet {
    s.parse().unwrap()
}

/// The point-to-point layout of one container address: in the container
/// the address with its prefix, a link route to the gateway, the subnet via
/// the gateway and no connected route; on the host end the gateway as a
/// host address and a host route to the container.
fn assert_ptp_layout(net: &Fixture, ctr: &TestNs, hv: &Link, addr: IpNet, gw: IpAddr) {
    let v4 = addr.addr().is_ipv4();
    let mut cnl = ctr.netlink();
    let eth0 = link_in(ctr, "eth0").expect("eth0 in the container");
    assert_eq!(eth0.kind.as_deref(), Some("veth"));
    assert!(eth0.is_up());
    assert_eq!(eth0.parent, Some(hv.index), "eth0's peer is the host end");
    let addrs = cnl.addr_list(Some(eth0.index), Some(v4)).unwrap();
    assert!(
        addrs.iter().any(|a| a.address == addr),
        "{addr} on eth0: {addrs:?}"
    );
    let routes = cnl.route_list(v4, Some(eth0.index)).unwrap();
    let gw_net = IpNet::from(gw);
    let to_gw = routes
        .iter()
        .find(|r| r.dst == gw_net && r.gw.is_none())
        .unwrap_or_else(|| panic!("no route to {gw_net}: {routes:?}"));
    assert_eq!(to_gw.src, Some(addr.addr()));
    if v4 {
        assert_eq!(to_gw.scope, 253, "link scope");
    }
    let via = routes
        .iter()
        .find(|r| r.dst == addr.trunc() && r.gw == Some(gw))
        .unwrap_or_else(|| panic!("no subnet route via {gw}: {routes:?}"));
    assert_eq!(via.src, Some(addr.addr()));
    assert!(
        !routes
            .iter()
            .any(|r| r.dst == addr.trunc() && r.gw.is_none()),
        "the connected route is gone: {routes:?}"
    );
    let mut hnl = net.host.netlink();
    let haddrs = hnl.addr_list(Some(hv.index), Some(v4)).unwrap();
    let gw_addr = haddrs
        .iter()
        .find(|a| a.address == gw_net)
        .unwrap_or_else(|| panic!("gateway {gw_net} on {}: {haddrs:?}", hv.name));
    if !v4 {
        assert!(
            gw_addr.flags.contains(pkg::netlink::AddrFlags::Nodad),
            "{gw_addr:?}"
        );
    }
    let hroutes = hnl.route_list(v4, Some(hv.index)).unwrap();
    let host_route = hroutes
        .iter()
        .find(|r| r.dst == IpNet::from(addr.addr()))
        .unwrap_or_else(|| panic!("host route to {addr}: {hroutes:?}"));
    if v4 {
        assert_eq!(host_route.scope, 254, "host scope");
    }
}

/// The host end of the veth a result names first.
fn host_end(net: &Fixture, r: &Value) -> Link {
    net.host_link(r["interfaces"][0]["name"].as_str().unwrap())
        .unwrap()
}

// Documentation/conformance.md items 17, 18 and 22: the result in each version's shape, real kernel
// state behind it, CHECK passes, DEL twice
#[test]
fn conformance_18_add_check_del_every_version() {
    require_root!();
    let net = net();
    net.add_check_del_every_version(|v, ctr, a| {
        let r = &a.result;
        let hv = assert_one_host_veth(&net);
        assert!(hv.is_up());
        let ip = a.ip(0);
        assert_ptp_layout(
            &net,
            ctr,
            &hv,
            IpNet::new(ip, 24).unwrap(),
            GW.parse().unwrap(),
        );
        let eth0 = link_in(ctr, "eth0").unwrap();
        match v {
            Version::V0_1_0 | Version::V0_2_0 => {
                assert_eq!(r["ip4"]["gateway"], GW);
                assert_eq!(r["ip4"]["ip"], format!("{ip}/24"));
                assert!(r.get("interfaces").is_none());
            }
            _ => {
                assert_eq!(
                    r["interfaces"],
                    json!([
                        {"name": hv.name, "mac": hv.mac_string()},
                        {"name": "eth0", "mac": eth0.mac_string(), "sandbox": ctr.path_str()},
                    ])
                );
                assert_eq!(r["ips"][0]["interface"], 1);
                assert_eq!(r["ips"][0]["gateway"], GW);
                assert_eq!(r["ips"][0].get("version").is_some(), v < Version::V1_0_0);
                assert!(r.get("routes").is_none(), "{r}");
            }
        }
    });
}

#[test]
fn container_and_host_reach_each_other() {
    require_root!();
    let net = net();
    let ctr = TestNs::new("ctr");
    let a = net.add(&ctr, "reach", &net.conf(Version::V1_1_0, json!({})));
    let ip = a.ip(0);
    let gw: IpAddr = GW.parse().unwrap();
    let peer = tcp_probe(
        &net.host,
        SocketAddr::new(gw, 7101),
        &ctr,
        SocketAddr::new(gw, 7101),
    )
    .unwrap();
    assert_eq!(peer.ip(), ip, "the container reaches the gateway");
    let peer = tcp_probe(
        &ctr,
        SocketAddr::new(ip, 7102),
        &net.host,
        SocketAddr::new(ip, 7102),
    )
    .unwrap();
    assert_eq!(
        peer.ip(),
        gw,
        "the host reaches the container from the gateway"
    );
    a.del();
    net.assert_no_leftovers("reach");
}

#[test]
fn two_containers_reach_each_other_through_the_host() {
    require_root!();
    let net = net();
    let (a, b) = (TestNs::new("a"), TestNs::new("b"));
    let c = net.conf(Version::V1_0_0, json!({}));
    let ra = net.add(&a, "ca", &c);
    let rb = net.add(&b, "cb", &c);
    let (ipa, ipb) = (ra.ip(0), rb.ip(0));
    // Same subnet, yet the path goes through the gateway on the host.
    let via = a.netlink().route_get(ipb).unwrap();
    assert_eq!(via.gw, Some(GW.parse().unwrap()), "{via:?}");
    let peer = tcp_probe(
        &b,
        SocketAddr::new(ipb, 7103),
        &a,
        SocketAddr::new(ipb, 7103),
    )
    .unwrap();
    assert_eq!(peer.ip(), ipa);
    // Both host ends carry the same gateway address.
    for name in net.host_veths() {
        let hv = net.host_link(&name).unwrap();
        let addrs = net
            .host
            .netlink()
            .addr_list(Some(hv.index), Some(true))
            .unwrap();
        assert_eq!(addrs[0].address, cidr(&format!("{GW}/32")), "{name}");
    }
    ra.del();
    rb.del();
    net.assert_no_leftovers("two containers");
}

#[test]
fn masquerade_reaches_outside_on_both_backends() {
    require_root!();
    assert_masquerade_on_both_backends(
        net,
        |net, backend| {
            dual_stack(
                net,
                Version::V1_0_0,
                json!({"ipMasq": true, "ipMasqBackend": backend}),
            )
        },
        ("192.168.251", "fd00:251"),
        7104,
        |net, r| {
            assert_eq!(
                r["routes"],
                json!([{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]),
                "{r}"
            );
            assert_eq!(
                sysctl_in(&net.host, "/proc/sys/net/ipv6/conf/all/forwarding"),
                "1"
            );
        },
    );
}

/// IPv6 on a ptp link is usable the moment ADD returns: DAD is off on the
/// container end and the host's gateway address is `nodad`.
#[test]
fn dual_stack_without_dad_wait() {
    require_root!();
    let net = net();
    let ctr = TestNs::new("ctr");
    let a = net.add(&ctr, "ds", &dual_stack(&net, Version::V1_1_0, json!({})));
    let hv = host_end(&net, &a.result);
    let v6 = a.ip(1);
    assert!(v6.is_ipv6(), "{}", a.result);
    assert_ptp_layout(
        &net,
        &ctr,
        &hv,
        IpNet::new(v6, 64).unwrap(),
        "fd00:77::1".parse().unwrap(),
    );
    assert_eq!(
        sysctl_in(&ctr, "/proc/sys/net/ipv6/conf/eth0/accept_dad"),
        "0"
    );
    let eth0 = link_in(&ctr, "eth0").unwrap();
    let tentative: Vec<_> = ctr
        .netlink()
        .addr_list(Some(eth0.index), Some(false))
        .unwrap()
        .into_iter()
        .filter(|a| a.is_global_unicast() && a.is_tentative())
        .collect();
    assert!(tentative.is_empty(), "{tentative:?}");
    let gw: IpAddr = "fd00:77::1".parse().unwrap();
    let peer = tcp_probe(
        &net.host,
        SocketAddr::new(gw, 7106),
        &ctr,
        SocketAddr::new(gw, 7106),
    )
    .unwrap();
    assert_eq!(peer.ip(), v6);
    a.check_ok();
    a.del();
    net.assert_no_leftovers("dual stack");
}

#[test]
fn mtu_and_dns_keys() {
    require_root!();
    let net = net();
    let ctr = TestNs::new("ctr");
    let c = net.conf(
        Version::V1_0_0,
        json!({"mtu": 1400, "dns": {"nameservers": ["10.77.0.53"], "search": ["svc"]}}),
    );
    let a = net.add(&ctr, "keys", &c);
    assert_eq!(link_in(&ctr, "eth0").unwrap().mtu, 1400);
    assert_eq!(host_end(&net, &a.result).mtu, 1400);
    assert_eq!(
        a.result["dns"],
        json!({"nameservers": ["10.77.0.53"], "search": ["svc"]})
    );
    assert!(!net.nat_rules().contains("CNI-"), "no ipMasq, no rules");
    a.del();
    net.assert_no_leftovers("keys");
}

// Documentation/conformance.md item 25: CHECK fails when a resource from prevResult is gone
#[test]
fn conformance_25_check_fails_after_manual_removal() {
    require_root!();
    let net = net();
    for what in [
        "address",
        "gateway route",
        "subnet route",
        "ipam route",
        "host route",
        "host address",
        "veth",
    ] {
        let ctr = TestNs::new("ctr");
        let mut c = net.conf(Version::V1_0_0, json!({}));
        c["ipam"]["routes"] = json!([{"dst": "0.0.0.0/0"}]);
        let a = net.add(&ctr, "chk", &c);
        a.check_ok();
        let addr = a.result["ips"][0]["address"].as_str().unwrap();
        let ip = a.ip(0).to_string();
        let hv = a.result["interfaces"][0]["name"].as_str().unwrap();
        match what {
            "address" => {
                ctr.ip(&["addr", "del", addr, "dev", "eth0"]);
            }
            "gateway route" => {
                ctr.ip(&["route", "del", GW, "dev", "eth0"]);
            }
            "subnet route" => {
                ctr.ip(&["route", "del", SUBNET, "dev", "eth0"]);
            }
            "ipam route" => {
                ctr.ip(&["route", "del", "default"]);
            }
            "host route" => {
                net.host.ip(&["route", "del", &ip, "dev", hv]);
            }
            "host address" => {
                net.host
                    .ip(&["addr", "del", &format!("{GW}/32"), "dev", hv]);
            }
            _ => {
                net.host.ip(&["link", "del", hv]);
            }
        }
        let (code, msg) = a.check().expect_spec_error();
        assert_eq!(code, 999, "{what}: {msg}");
        eprintln!("{what}: {msg}");
        a.del();
    }
    net.assert_no_leftovers("check");
}

// Documentation/conformance.md item 23: DEL with an empty CNI_NETNS still releases IPAM and rules
#[test]
fn conformance_23_del_without_netns_releases_everything() {
    require_root!();
    assert_del_without_netns_releases_everything(
        &net(),
        json!({"ipMasq": true, "ipMasqBackend": "iptables"}),
    );
}

// Documentation/conformance.md item 19: the ifname already exists; and other bad input, with
// nothing left behind
#[test]
fn conformance_19_bad_input_leaves_nothing_behind() {
    require_root!();
    let net = net();
    let v = Version::V1_0_0;
    let no_ipam = {
        let mut c = net.conf(v, json!({}));
        c.as_object_mut().unwrap().remove("ipam");
        c
    };
    let cases: Vec<(Value, u64, &str)> = vec![
        (no_ipam, 7, "IPAM config missing 'ipam' key"),
        (
            net.conf(v, json!({"ipam": {}})),
            7,
            "IPAM config missing 'type' key",
        ),
        (net.conf(v, json!({"mtu": -1})), 7, "invalid mtu -1"),
        (net.conf(v, json!({"mtu": 70000})), 7, "invalid mtu 70000"),
        (net.conf(v, json!({"mtu": "big"})), 6, "network config"),
        (
            net.conf(v, json!({"ipMasq": true, "ipMasqBackend": "pf"})),
            7,
            "unknown ipmasq backend \"pf\"",
        ),
        (
            net.conf(v, json!({"ipam": {"type": "no-such-ipam"}})),
            7,
            "failed to find plugin \"no-such-ipam\"",
        ),
    ];
    for (c, code, msg) in cases {
        let what = c.to_string();
        net.assert_add_refused(&c, "", code, msg, &what);
        assert!(net.host_veths().is_empty(), "{what}: no veth left");
    }
    net.assert_add_refused_for_taken_ifname_and_missing_netns(&net.conf(v, json!({})));
    net.assert_no_leftovers("bad input");
}

// Documentation/conformance.md items 27 and 24: a failure after IPAM ADD releases the address, and
// every later step rolls back what it made; DEL after a failed ADD succeeds
#[test]
fn conformance_27_rollback_on_failure_at_each_step() {
    require_root!();
    let net = net();
    let v = Version::V1_0_0;
    let ctr = TestNs::new("rb");
    let assert_rolled_back = |what: &str| {
        assert!(net.host_veths().is_empty(), "{what}: veth left");
        assert!(link_in(&ctr, "eth0").is_none(), "{what}: eth0 left");
        assert!(net.reservations().is_empty(), "{what}: reservation left");
        assert!(net.host_routes().is_empty(), "{what}: host route left");
        assert!(!net.nat_rules().contains("CNI-"), "{what}: rules left");
    };
    // IPAM gives an address without a gateway
    let c = net.conf(
        v,
        json!({"ipam": {"type": "static", "addresses": [{"address": "10.77.0.50/24"}]}}),
    );
    let (code, msg) = net.call("ADD", &ctr, "nogw").run(&c).expect_spec_error();
    assert_eq!(code, 7, "{msg}");
    assert!(
        msg.contains("IPAM returned no gateway for 10.77.0.50/24"),
        "{msg}"
    );
    assert_rolled_back("no gateway");
    // a route from IPAM that cannot be added (unreachable next hop)
    let c = net.conf(
        v,
        json!({"ipam": {"type": "static",
                        "addresses": [{"address": "10.77.0.50/24", "gateway": GW}],
                        "routes": [{"dst": "192.0.2.0/24", "gw": "203.0.113.1"}]}}),
    );
    let (_, msg) = net
        .call("ADD", &ctr, "badroute")
        .run(&c)
        .expect_spec_error();
    assert!(msg.contains("failed to add route"), "{msg}");
    assert_rolled_back("bad route");
    // host-local: the host end refuses IPv6 (disabled for new links in
    // this host), after the container side is complete
    let off = net
        .host
        .cmd("sysctl", &["-w", "net.ipv6.conf.default.disable_ipv6=1"])
        .status()
        .unwrap();
    assert!(off.success());
    let c = dual_stack(&net, v, json!({}));
    let (_, msg) = net.call("ADD", &ctr, "hostv6").run(&c).expect_spec_error();
    assert!(
        msg.contains("failed to add gateway address fd00:77::1"),
        "{msg}"
    );
    assert_rolled_back("host address");
    net.call("DEL", &ctr, "hostv6").run(&c).expect_success();
    net.host
        .cmd("sysctl", &["-w", "net.ipv6.conf.default.disable_ipv6=0"])
        .status()
        .unwrap();
    // the masquerade transaction fails: the nftables table holds a
    // `postrouting` chain of another type
    if has_tool("nft") {
        net.host.cmd("nft", &["add table inet cni_plugins_masquerade; add chain inet cni_plugins_masquerade postrouting { type filter hook postrouting priority 0 ; }"]).status().unwrap();
        let c = net.conf(v, json!({"ipMasq": true, "ipMasqBackend": "nftables"}));
        let (_, msg) = net.call("ADD", &ctr, "masq").run(&c).expect_spec_error();
        assert!(msg.contains("masquerade"), "{msg}");
        assert_rolled_back("masquerade");
        net.call("DEL", &ctr, "masq").run(&c).expect_success();
        net.host
            .cmd("nft", &["delete table inet cni_plugins_masquerade"])
            .status()
            .unwrap();
    } else {
        skip::because("the failing nftables masquerade: nft not installed");
    }
    // the range is exhausted by another container
    let tiny = net.conf(
        v,
        json!({"ipam": net.host_local(json!([[{"subnet": "10.77.0.0/30"}]]))}),
    );
    let holder_ns = TestNs::new("hold");
    let holder = net.add(&holder_ns, "holder", &tiny);
    let (_, msg) = net.call("ADD", &ctr, "full").run(&tiny).expect_spec_error();
    assert!(msg.contains("no IP addresses available"), "{msg}");
    assert_eq!(net.host_veths().len(), 1, "only the holder's veth");
    holder.del();
    net.assert_no_leftovers("rollback");
}

#[test]
fn concurrent_adds_and_dels() {
    require_root!();
    assert_concurrent_adds_and_dels(&net(), 12, true);
}

// Documentation/conformance.md items 28 and 30: GC removes masquerade state and reservations of stale
// attachments; STATUS is the IPAM plugin's
#[test]
fn conformance_30_gc_removes_stale_attachments() {
    require_root!();
    let net = net();
    let c = net.conf(
        Version::V1_1_0,
        json!({"ipMasq": true, "ipMasqBackend": "iptables"}),
    );
    assert_gc_keeps_only_valid_masquerade(&net, &c, || {
        let status = |conf: &Value| net.network_call("STATUS").run(conf);
        status(&c).expect_success();
        // STATUS reports what IPAM reports: a full range is code 50.
        let full = net.conf(
            Version::V1_1_0,
            json!({"ipam": net.host_local(json!([[{"subnet": "10.77.0.0/30"}]]))}),
        );
        let (code, msg) = status(&full).expect_spec_error();
        assert_eq!(code, 50, "{msg}");
        // without IPAM there is nothing to ask
        let mut no_ipam = c.clone();
        no_ipam.as_object_mut().unwrap().remove("ipam");
        assert_eq!(status(&no_ipam).expect_spec_error().0, 7);
        // an empty valid list collects everything
        net.network_call("GC").run(&c).expect_success();
        assert!(!net.nat_rules().contains("CNI-"));
        assert!(net.reservations().is_empty());
    });
}

#[test]
fn interop_with_go_ptp() {
    require_root!();
    let Some(go) = require_go("ptp", &["host-local"]) else {
        return;
    };
    let net = net();
    // Debian's Go plugins stop at 1.0.0 and masquerade with iptables only.
    let c = net.conf(Version::V1_0_0, json!({"ipMasq": true}));
    net.assert_interop_both_ways(
        &go,
        &c,
        true,
        |ctr, r| {
            assert!(net.nat_rules().contains("CNI-"));
            let hv = host_end(&net, r);
            let ip = IpNet::new(ip_of(r, 0), 24).unwrap();
            assert_ptp_layout(&net, ctr, &hv, ip, GW.parse().unwrap());
        },
        |what, ctr| {
            assert!(link_in(ctr, "eth0").is_none(), "{what}");
            net.assert_no_leftovers(what);
        },
    );
}

// Documentation/conformance.md items 1, 2 and 13: VERSION lists every version; GC and STATUS are
// refused below 1.1.0
#[test]
fn conformance_02_versions_and_gates() {
    assert_every_version_and_gc_status_gates("ptp");
}

//! ptp, executed as a runtime would: real veths, addresses, routes and
//! masquerade rules in scratch namespaces, for every spec version that
//! applies; interop with Debian's Go ptp.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use integration::*;
use ipnet::IpNet;
use pkg::netlink::{Link, LinkId, RouteSpec};
use serde_json::{Value, json};

const SUBNET: &str = "10.77.0.0/24";
const GW: &str = "10.77.0.1";

struct Net {
    host: TestNs,
    dir: tempfile::TempDir,
}

impl Net {
    fn new() -> Net {
        Net {
            host: TestNs::new("host"),
            dir: tempdir(),
        }
    }

    fn ipam(&self, ranges: Value) -> Value {
        json!({"type": "host-local", "dataDir": self.dir.path(), "ranges": ranges})
    }

    fn conf(&self, v: Version, extra: Value) -> Value {
        let mut c = json!({
            "cniVersion": v.as_str(),
            "name": "ptpnet",
            "type": "ptp",
            "ipam": self.ipam(json!([[{"subnet": SUBNET}]])),
        });
        for (k, val) in extra.as_object().cloned().unwrap_or_default() {
            c[k] = val;
        }
        c
    }

    fn dual_stack(&self, v: Version, extra: Value) -> Value {
        let mut c = self.conf(v, extra);
        c["ipam"] = self.ipam(json!([[{"subnet": SUBNET}], [{"subnet": "fd00:77::/64"}]]));
        c["ipam"]["routes"] = json!([{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]);
        c
    }

    fn call(&self, cmd: &str, ctr: &TestNs, cid: &str) -> Call {
        Call::new(plugin_path("ptp"), cmd)
            .cid(cid)
            .netns(ctr)
            .in_host(&self.host)
    }

    fn netdir(&self) -> PathBuf {
        self.dir.path().join("ptpnet")
    }

    fn link(&self, name: &str) -> Option<Link> {
        self.host.netlink().link_find(LinkId::Name(name)).unwrap()
    }

    fn host_veths(&self) -> Vec<String> {
        self.host
            .netlink()
            .link_list()
            .unwrap()
            .into_iter()
            .filter(|l| l.kind.as_deref() == Some("veth") && l.name.starts_with("veth"))
            .map(|l| l.name)
            .collect()
    }

    fn nat_rules(&self) -> String {
        output_in(&self.host, "iptables", &["-t", "nat", "-S"])
            + &output_in(&self.host, "ip6tables", &["-t", "nat", "-S"])
    }

    fn nft_ruleset(&self) -> String {
        output_in(&self.host, "nft", &["list", "ruleset"])
    }

    /// Main-table host routes into the ptp subnets (they live on the host
    /// veths).
    fn host_routes(&self) -> Vec<RouteSpec> {
        let mut nl = self.host.netlink();
        let mut all = nl.route_list(true, None).unwrap();
        all.extend(nl.route_list(false, None).unwrap());
        all.into_iter()
            .filter(|r| {
                let s = r.dst.to_string();
                if r.table != Some(254) {
                    return false;
                }
                s.starts_with("10.77.") || s.starts_with("fd00:77:")
            })
            .collect()
    }

    /// Nothing of an attachment is left: no veth, host route, rule or
    /// reservation. (A deleted namespace takes its veths with it,
    /// asynchronously.)
    fn assert_clean(&self, what: &str) {
        for _ in 0..50 {
            if self.host_veths().is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(
            self.host_veths().is_empty(),
            "{what}: veths left: {:?}",
            self.host_veths()
        );
        assert!(
            self.host_routes().is_empty(),
            "{what}: host routes left: {:?}",
            self.host_routes()
        );
        assert!(
            !self.nat_rules().contains("CNI-"),
            "{what}: iptables chains left:\n{}",
            self.nat_rules()
        );
        assert!(
            !self.nft_ruleset().contains("masquerade") || !self.nft_ruleset().contains("saddr"),
            "{what}: nft masquerade rules left:\n{}",
            self.nft_ruleset()
        );
        let res = reservation_files(&self.netdir());
        assert!(res.is_empty(), "{what}: reservations left: {res:?}");
    }
}

fn ip_of(r: &Value, i: usize) -> IpAddr {
    let s = r["ips"][i]["address"]
        .as_str()
        .or_else(|| r["ip4"]["ip"].as_str())
        .unwrap();
    s.split('/').next().unwrap().parse().unwrap()
}

fn cidr(s: &str) -> IpNet {
    s.parse().unwrap()
}

/// The point-to-point layout of one container address: in the container
/// the address with its prefix, a link route to the gateway, the subnet via
/// the gateway and no connected route; on the host end the gateway as a
/// host address and a host route to the container.
fn assert_ptp_layout(net: &Net, ctr: &TestNs, hv: &Link, addr: IpNet, gw: IpAddr) {
    let v4 = addr.addr().is_ipv4();
    let mut cnl = ctr.netlink();
    let eth0 = cnl.link_get(LinkId::Name("eth0")).unwrap();
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

// checklist 17, 18 and 22: the result in each version's shape, real kernel
// state behind it, CHECK passes, DEL twice
#[test]
fn conformance_18_add_check_del_every_version() {
    require_root!();
    let net = Net::new();
    for v in Version::ALL {
        let ctr = TestNs::new("ctr");
        let cid = format!("c-{}", v.as_str().replace('.', "-"));
        let c = net.conf(v, json!({}));
        let r = net.call("ADD", &ctr, &cid).run(&c).ok();
        assert_eq!(r["cniVersion"], v.as_str());
        let veths = net.host_veths();
        assert_eq!(veths.len(), 1, "{veths:?}");
        let hv = net.link(&veths[0]).unwrap();
        assert!(
            hv.name.starts_with("veth") && hv.name.len() == 12,
            "{}",
            hv.name
        );
        assert!(hv.is_up());
        let ip = ip_of(&r, 0);
        assert_ptp_layout(
            &net,
            &ctr,
            &hv,
            IpNet::new(ip, 24).unwrap(),
            GW.parse().unwrap(),
        );
        assert_eq!(
            sysctl_in(
                &net.host,
                &format!("/proc/sys/net/ipv6/conf/{}/accept_ra", hv.name)
            ),
            "0"
        );
        assert_eq!(sysctl_in(&net.host, "/proc/sys/net/ipv4/ip_forward"), "1");
        let eth0 = ctr.netlink().link_get(LinkId::Name("eth0")).unwrap();
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
        if v.has_check() {
            let mut cc = c.clone();
            cc["prevResult"] = r.clone();
            let out = net.call("CHECK", &ctr, &cid).run(&cc);
            out.ok();
            assert!(out.stdout.is_empty(), "CHECK prints nothing");
        }
        net.call("DEL", &ctr, &cid).run(&c).ok();
        net.call("DEL", &ctr, &cid).run(&c).ok();
        assert!(
            ctr.netlink()
                .link_find(LinkId::Name("eth0"))
                .unwrap()
                .is_none()
        );
        net.assert_clean(v.as_str());
    }
}

#[test]
fn container_and_host_reach_each_other() {
    require_root!();
    let net = Net::new();
    let ctr = TestNs::new("ctr");
    let c = net.conf(Version::V1_1_0, json!({}));
    let r = net.call("ADD", &ctr, "reach").run(&c).ok();
    let ip = ip_of(&r, 0);
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
    net.call("DEL", &ctr, "reach").run(&c).ok();
    net.assert_clean("reach");
}

#[test]
fn two_containers_reach_each_other_through_the_host() {
    require_root!();
    let net = Net::new();
    let (a, b) = (TestNs::new("a"), TestNs::new("b"));
    let c = net.conf(Version::V1_0_0, json!({}));
    let ra = net.call("ADD", &a, "ca").run(&c).ok();
    let rb = net.call("ADD", &b, "cb").run(&c).ok();
    let (ipa, ipb) = (ip_of(&ra, 0), ip_of(&rb, 0));
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
        let hv = net.link(&name).unwrap();
        let addrs = net
            .host
            .netlink()
            .addr_list(Some(hv.index), Some(true))
            .unwrap();
        assert_eq!(addrs[0].address, cidr(&format!("{GW}/32")), "{name}");
    }
    net.call("DEL", &a, "ca").run(&c).ok();
    net.call("DEL", &b, "cb").run(&c).ok();
    net.assert_clean("two containers");
}

/// A third namespace acting as the outside world, routed through the host.
fn outside(net: &Net) -> TestNs {
    let out = TestNs::new("out");
    let (h, o) = (
        format!("ph{}", std::process::id() % 100000),
        format!("po{}", std::process::id() % 100000),
    );
    net.host.veth_to(
        &h,
        &["192.168.251.1/24", "fd00:251::1/64"],
        &out,
        &o,
        &["192.168.251.2/24", "fd00:251::2/64"],
    );
    out
}

#[test]
fn masquerade_reaches_outside_on_both_backends() {
    require_root!();
    for backend in ["iptables", "nftables"] {
        let tool = if backend == "iptables" {
            "iptables"
        } else {
            "nft"
        };
        if !has_tool(tool) {
            eprintln!("skipped {backend}: {tool} not installed");
            continue;
        }
        let net = Net::new();
        let out = outside(&net);
        let ctr = TestNs::new("ctr");
        let c = net.dual_stack(
            Version::V1_0_0,
            json!({"ipMasq": true, "ipMasqBackend": backend}),
        );
        let r = net.call("ADD", &ctr, "masq").run(&c).ok();
        assert_eq!(
            r["routes"],
            json!([{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]),
            "{r}"
        );
        assert_eq!(
            sysctl_in(&net.host, "/proc/sys/net/ipv6/conf/all/forwarding"),
            "1"
        );
        let v4: SocketAddr = "192.168.251.2:7104".parse().unwrap();
        let peer = tcp_probe(&out, v4, &ctr, v4).unwrap_or_else(|e| panic!("{backend}: {e}"));
        assert_eq!(
            peer.ip().to_string(),
            "192.168.251.1",
            "{backend}: masqueraded to the host address"
        );
        let v6: SocketAddr = "[fd00:251::2]:7105".parse().unwrap();
        let peer = tcp_probe(&out, v6, &ctr, v6).unwrap_or_else(|e| panic!("{backend} v6: {e}"));
        assert_eq!(
            peer.ip().to_string(),
            "fd00:251::1",
            "{backend}: IPv6 masqueraded"
        );
        // checklist 23: DEL after the netns is gone still removes the rules
        let path = ctr.path_str();
        drop(ctr);
        net.call("DEL", &TestNs::new("unused"), "masq")
            .netns_path(&path)
            .run(&c)
            .ok();
        net.assert_clean(backend);
    }
}

/// IPv6 on a ptp link is usable the moment ADD returns: DAD is off on the
/// container end and the host's gateway address is `nodad`.
#[test]
fn dual_stack_without_dad_wait() {
    require_root!();
    let net = Net::new();
    let ctr = TestNs::new("ctr");
    let c = net.dual_stack(Version::V1_1_0, json!({}));
    let r = net.call("ADD", &ctr, "ds").run(&c).ok();
    let hv = net
        .link(r["interfaces"][0]["name"].as_str().unwrap())
        .unwrap();
    let v6 = ip_of(&r, 1);
    assert!(v6.is_ipv6(), "{r}");
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
    let mut cnl = ctr.netlink();
    let eth0 = cnl.link_get(LinkId::Name("eth0")).unwrap();
    let tentative: Vec<_> = cnl
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
    let mut cc = c.clone();
    cc["prevResult"] = r;
    net.call("CHECK", &ctr, "ds").run(&cc).ok();
    net.call("DEL", &ctr, "ds").run(&c).ok();
    net.assert_clean("dual stack");
}

#[test]
fn mtu_and_dns_keys() {
    require_root!();
    let net = Net::new();
    let ctr = TestNs::new("ctr");
    let c = net.conf(
        Version::V1_0_0,
        json!({"mtu": 1400, "dns": {"nameservers": ["10.77.0.53"], "search": ["svc"]}}),
    );
    let r = net.call("ADD", &ctr, "keys").run(&c).ok();
    assert_eq!(
        ctr.netlink().link_get(LinkId::Name("eth0")).unwrap().mtu,
        1400
    );
    let hv = net
        .link(r["interfaces"][0]["name"].as_str().unwrap())
        .unwrap();
    assert_eq!(hv.mtu, 1400);
    assert_eq!(
        r["dns"],
        json!({"nameservers": ["10.77.0.53"], "search": ["svc"]})
    );
    assert!(!net.nat_rules().contains("CNI-"), "no ipMasq, no rules");
    net.call("DEL", &ctr, "keys").run(&c).ok();
    net.assert_clean("keys");
}

// checklist 25: CHECK fails when a resource from prevResult is gone
#[test]
fn conformance_25_check_fails_after_manual_removal() {
    require_root!();
    let net = Net::new();
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
        let r = net.call("ADD", &ctr, "chk").run(&c).ok();
        let mut cc = c.clone();
        cc["prevResult"] = r.clone();
        net.call("CHECK", &ctr, "chk").run(&cc).ok();
        let addr = r["ips"][0]["address"].as_str().unwrap();
        let ip = addr.split('/').next().unwrap();
        let hv = r["interfaces"][0]["name"].as_str().unwrap();
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
                net.host.ip(&["route", "del", ip, "dev", hv]);
            }
            "host address" => {
                net.host
                    .ip(&["addr", "del", &format!("{GW}/32"), "dev", hv]);
            }
            _ => {
                net.host.ip(&["link", "del", hv]);
            }
        }
        let (code, msg) = net.call("CHECK", &ctr, "chk").run(&cc).err();
        assert_eq!(code, 999, "{what}: {msg}");
        eprintln!("{what}: {msg}");
        net.call("DEL", &ctr, "chk").run(&c).ok();
    }
    net.assert_clean("check");
}

// checklist 23: DEL with an empty CNI_NETNS still releases IPAM and rules
#[test]
fn conformance_23_del_without_netns_releases_everything() {
    require_root!();
    let net = Net::new();
    let ctr = TestNs::new("ctr");
    let c = net.conf(
        Version::V1_0_0,
        json!({"ipMasq": true, "ipMasqBackend": "iptables"}),
    );
    net.call("ADD", &ctr, "nons").run(&c).ok();
    assert!(net.nat_rules().contains("CNI-"));
    net.call("DEL", &ctr, "nons").netns_path("").run(&c).ok();
    assert!(!net.nat_rules().contains("CNI-"), "{}", net.nat_rules());
    assert!(reservation_files(&net.netdir()).is_empty());
    // The veth and the host routes go with the namespace.
    drop(ctr);
    net.assert_clean("netns-less DEL");
}

// checklist 19: the ifname already exists; and other bad input, with
// nothing left behind
#[test]
fn conformance_19_bad_input_leaves_nothing_behind() {
    require_root!();
    let net = Net::new();
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
        let ctr = TestNs::new("bad");
        let (got, got_msg) = net.call("ADD", &ctr, "bad").run(&c).err();
        assert_eq!(got, code, "{c}: {got_msg}");
        assert!(got_msg.contains(msg), "{c}: {got_msg}");
        assert!(net.host_veths().is_empty(), "{c}: no veth left");
        assert!(
            ctr.netlink()
                .link_find(LinkId::Name("eth0"))
                .unwrap()
                .is_none(),
            "{c}"
        );
        assert!(reservation_files(&net.netdir()).is_empty(), "{c}");
    }
    let ctr = TestNs::new("busy");
    ctr.ip(&[
        "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p",
    ]);
    let (code, msg) = net
        .call("ADD", &ctr, "dup")
        .run(&net.conf(v, json!({})))
        .err();
    assert_eq!(code, 999);
    assert!(
        msg.contains("interface eth0 already exists in container netns"),
        "{msg}"
    );
    let (code, _) = net
        .call("ADD", &ctr, "gone")
        .netns_path("/run/netns/does-not-exist")
        .run(&net.conf(v, json!({})))
        .err();
    assert_eq!(code, 8);
    net.assert_clean("bad input");
}

// checklist 27 and 24: a failure after IPAM ADD releases the address, and
// every later step rolls back what it made; DEL after a failed ADD succeeds
#[test]
fn conformance_27_rollback_on_failure_at_each_step() {
    require_root!();
    let net = Net::new();
    let v = Version::V1_0_0;
    let ctr = TestNs::new("rb");
    let assert_rolled_back = |what: &str| {
        assert!(net.host_veths().is_empty(), "{what}: veth left");
        assert!(
            ctr.netlink()
                .link_find(LinkId::Name("eth0"))
                .unwrap()
                .is_none(),
            "{what}: eth0 left"
        );
        assert!(
            reservation_files(&net.netdir()).is_empty(),
            "{what}: reservation left"
        );
        assert!(net.host_routes().is_empty(), "{what}: host route left");
        assert!(!net.nat_rules().contains("CNI-"), "{what}: rules left");
    };
    // IPAM gives an address without a gateway
    let c = net.conf(
        v,
        json!({"ipam": {"type": "static", "addresses": [{"address": "10.77.0.50/24"}]}}),
    );
    let (code, msg) = net.call("ADD", &ctr, "nogw").run(&c).err();
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
    let (_, msg) = net.call("ADD", &ctr, "badroute").run(&c).err();
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
    let c = net.dual_stack(v, json!({}));
    let (_, msg) = net.call("ADD", &ctr, "hostv6").run(&c).err();
    assert!(
        msg.contains("failed to add gateway address fd00:77::1"),
        "{msg}"
    );
    assert_rolled_back("host address");
    net.call("DEL", &ctr, "hostv6").run(&c).ok();
    net.host
        .cmd("sysctl", &["-w", "net.ipv6.conf.default.disable_ipv6=0"])
        .status()
        .unwrap();
    // the masquerade transaction fails: the nftables table holds a
    // `postrouting` chain of another type
    if has_tool("nft") {
        net.host.cmd("nft", &["add table inet cni_plugins_masquerade; add chain inet cni_plugins_masquerade postrouting { type filter hook postrouting priority 0 ; }"]).status().unwrap();
        let c = net.conf(v, json!({"ipMasq": true, "ipMasqBackend": "nftables"}));
        let (_, msg) = net.call("ADD", &ctr, "masq").run(&c).err();
        assert!(msg.contains("masquerade"), "{msg}");
        assert_rolled_back("masquerade");
        net.call("DEL", &ctr, "masq").run(&c).ok();
        net.host
            .cmd("nft", &["delete table inet cni_plugins_masquerade"])
            .status()
            .unwrap();
    }
    // the range is exhausted by another container
    let tiny = net.conf(
        v,
        json!({"ipam": {"type": "host-local", "dataDir": net.dir.path(),
                        "ranges": [[{"subnet": "10.77.0.0/30"}]]}}),
    );
    let holder = TestNs::new("hold");
    net.call("ADD", &holder, "holder").run(&tiny).ok();
    let (_, msg) = net.call("ADD", &ctr, "full").run(&tiny).err();
    assert!(msg.contains("no IP addresses available"), "{msg}");
    assert_eq!(net.host_veths().len(), 1, "only the holder's veth");
    net.call("DEL", &holder, "holder").run(&tiny).ok();
    net.assert_clean("rollback");
}

#[test]
fn concurrent_adds_and_dels() {
    require_root!();
    let net = Net::new();
    let ctrs: Vec<TestNs> = (0..12).map(|_| TestNs::new("par")).collect();
    let c = net.conf(
        Version::V1_0_0,
        json!({"ipMasq": true, "ipMasqBackend": "iptables"}),
    );
    let ips: Vec<IpAddr> = std::thread::scope(|s| {
        let hs: Vec<_> = ctrs
            .iter()
            .enumerate()
            .map(|(i, ctr)| {
                let call = net.call("ADD", ctr, &format!("par{i}"));
                let c = c.clone();
                s.spawn(move || ip_of(&call.run(&c).ok(), 0))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let unique: std::collections::HashSet<_> = ips.iter().collect();
    assert_eq!(unique.len(), ctrs.len());
    assert_eq!(net.host_veths().len(), ctrs.len());
    assert_eq!(net.host_routes().len(), ctrs.len(), "one host route each");
    std::thread::scope(|s| {
        for (i, ctr) in ctrs.iter().enumerate() {
            let call = net.call("DEL", ctr, &format!("par{i}"));
            let c = c.clone();
            s.spawn(move || call.run(&c).ok());
        }
    });
    net.assert_clean("concurrent");
}

// checklist 28 and 30: GC removes masquerade state and reservations of stale
// attachments; STATUS is the IPAM plugin's
#[test]
fn conformance_30_gc_removes_stale_attachments() {
    require_root!();
    let net = Net::new();
    let (a, b) = (TestNs::new("a"), TestNs::new("b"));
    let c = net.conf(
        Version::V1_1_0,
        json!({"ipMasq": true, "ipMasqBackend": "iptables"}),
    );
    net.call("ADD", &a, "keep").run(&c).ok();
    net.call("ADD", &b, "stale").run(&c).ok();
    let mut g = c.clone();
    g["cni.dev/valid-attachments"] = json!([{"containerID": "keep", "ifname": "eth0"}]);
    let gc = |conf: &Value| {
        Call::new(plugin_path("ptp"), "GC")
            .cid("")
            .ifname("")
            .in_host(&net.host)
            .run(conf)
    };
    gc(&g).ok();
    let rules = net.nat_rules();
    assert!(rules.contains("id: \\\"keep\\\""), "{rules}");
    assert!(!rules.contains("stale"), "{rules}");
    let live = |net: &Net| {
        reservation_files(&net.netdir())
            .into_iter()
            .filter(|f| !f.starts_with('.'))
            .count()
    };
    assert_eq!(live(&net), 1);
    let status = |conf: &Value| {
        Call::new(plugin_path("ptp"), "STATUS")
            .cid("")
            .ifname("")
            .in_host(&net.host)
            .run(conf)
    };
    status(&c).ok();
    // STATUS reports what IPAM reports: a full range is code 50.
    let full = net.conf(
        Version::V1_1_0,
        json!({"ipam": {"type": "host-local", "dataDir": net.dir.path(),
                        "ranges": [[{"subnet": "10.77.0.0/30"}]]}}),
    );
    let (code, msg) = status(&full).err();
    assert_eq!(code, 50, "{msg}");
    // without IPAM there is nothing to ask
    let mut no_ipam = c.clone();
    no_ipam.as_object_mut().unwrap().remove("ipam");
    assert_eq!(status(&no_ipam).err().0, 7);
    // an empty valid list collects everything
    gc(&c).ok();
    assert!(!net.nat_rules().contains("CNI-"));
    assert!(reservation_files(&net.netdir()).is_empty());
    net.call("DEL", &a, "keep").run(&c).ok();
    net.call("DEL", &b, "stale").run(&c).ok();
    net.assert_clean("gc");
}

fn go_ptp() -> Option<PathBuf> {
    let p = go_plugin("ptp");
    if p.is_none() || go_plugin("host-local").is_none() {
        eprintln!("skipped: Go plugins not installed at {GO_PLUGIN_DIR}");
        return None;
    }
    p
}

#[test]
fn interop_with_go_ptp() {
    require_root!();
    let Some(go) = go_ptp() else { return };
    let net = Net::new();
    // Debian's Go plugins stop at 1.0.0 and masquerade with iptables only.
    let c = net.conf(Version::V1_0_0, json!({"ipMasq": true}));
    let go_call = |cmd: &str, ctr: &TestNs, cid: &str| {
        let mut call = Call::new(go.clone(), cmd)
            .cid(cid)
            .netns(ctr)
            .in_host(&net.host);
        call.path = GO_PLUGIN_DIR.to_string();
        call
    };
    // Go ADD; our CHECK and DEL
    let ctr = TestNs::new("go1");
    let r = go_call("ADD", &ctr, "goadd").run(&c).ok();
    assert!(net.nat_rules().contains("CNI-"));
    let hv = net
        .link(r["interfaces"][0]["name"].as_str().unwrap())
        .unwrap();
    assert_ptp_layout(
        &net,
        &ctr,
        &hv,
        IpNet::new(ip_of(&r, 0), 24).unwrap(),
        GW.parse().unwrap(),
    );
    let mut cc = c.clone();
    cc["prevResult"] = r;
    net.call("CHECK", &ctr, "goadd").run(&cc).ok();
    net.call("DEL", &ctr, "goadd").run(&c).ok();
    assert!(
        ctr.netlink()
            .link_find(LinkId::Name("eth0"))
            .unwrap()
            .is_none()
    );
    net.assert_clean("go add, rust del");
    // our ADD; Go's CHECK and DEL
    let ctr = TestNs::new("go2");
    let r = net.call("ADD", &ctr, "rsadd").run(&c).ok();
    let mut cc = c.clone();
    cc["prevResult"] = r;
    go_call("CHECK", &ctr, "rsadd").run(&cc).ok();
    go_call("DEL", &ctr, "rsadd").run(&c).ok();
    net.assert_clean("rust add, go del");
}

// checklist 1, 2 and 13: VERSION lists every version; GC and STATUS are
// refused below 1.1.0
#[test]
fn conformance_02_versions_and_gates() {
    let out = Call::new(plugin_path("ptp"), "VERSION").run_raw(b"");
    let all: Vec<&str> = Version::ALL.iter().map(|v| v.as_str()).collect();
    assert_eq!(
        out.ok(),
        json!({"cniVersion": "1.1.0", "supportedVersions": all})
    );
    for cmd in ["GC", "STATUS"] {
        let (code, msg) = Call::new(plugin_path("ptp"), cmd)
            .cid("")
            .ifname("")
            .run(&json!({"cniVersion": "1.0.0", "name": "n", "type": "ptp"}))
            .err();
        assert_eq!(code, 1, "{cmd}: {msg}");
    }
}

//! bridge, executed as a runtime would: real veths, bridges, addresses,
//! routes and firewall rules in scratch namespaces, for every spec version
//! that applies; interop with Debian's Go bridge.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use integration::*;
use pkg::netlink::LinkId;
use serde_json::{Value, json};

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

    fn conf(&self, v: Version, extra: Value) -> Value {
        let mut c = json!({
            "cniVersion": v.as_str(),
            "name": "brnet",
            "type": "bridge",
            "bridge": "cnibr0",
            "isGateway": true,
            "ipam": {
                "type": "host-local",
                "dataDir": self.dir.path(),
                "ranges": [[{"subnet": "10.99.0.0/24"}]],
            },
        });
        for (k, val) in extra.as_object().cloned().unwrap_or_default() {
            c[k] = val;
        }
        c
    }

    fn call(&self, cmd: &str, ctr: &TestNs, cid: &str) -> Call {
        Call::new(plugin_path("bridge"), cmd)
            .cid(cid)
            .netns(ctr)
            .in_host(&self.host)
    }

    fn netdir(&self) -> PathBuf {
        self.dir.path().join("brnet")
    }

    fn link(&self, name: &str) -> Option<pkg::netlink::Link> {
        self.host.netlink().link_find(LinkId::Name(name)).unwrap()
    }

    /// veths left in the fake host (the bridge itself stays by design).
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

    /// Nothing of an attachment is left: no veth, no rule, no reservation.
    /// (A deleted namespace takes its veths with it, asynchronously.)
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

fn ip_of(r: &Value) -> IpAddr {
    let s = r["ips"][0]["address"]
        .as_str()
        .or_else(|| r["ip4"]["ip"].as_str())
        .unwrap();
    s.split('/').next().unwrap().parse().unwrap()
}

#[test]
fn add_check_del_every_version() {
    require_root!();
    let net = Net::new();
    for v in Version::ALL {
        let ctr = TestNs::new("ctr");
        let cid = format!("c-{}", v.as_str().replace('.', "-"));
        let c = net.conf(v, json!({}));
        let r = net.call("ADD", &ctr, &cid).run(&c).ok();
        assert_eq!(r["cniVersion"], v.as_str());
        // kernel state
        let br = net.link("cnibr0").expect("bridge exists");
        assert_eq!(br.kind.as_deref(), Some("bridge"));
        let mut cnl = ctr.netlink();
        let eth0 = cnl.link_get(LinkId::Name("eth0")).unwrap();
        assert!(eth0.is_up());
        let addrs = cnl.addr_list(Some(eth0.index), Some(true)).unwrap();
        assert_eq!(addrs.len(), 1);
        assert_eq!(addrs[0].address.addr(), ip_of(&r));
        let veths = net.host_veths();
        assert_eq!(veths.len(), 1, "{veths:?}");
        let hv = net.link(&veths[0]).unwrap();
        assert!(
            hv.name.starts_with("veth") && hv.name.len() == 12,
            "{}",
            hv.name
        );
        assert_eq!(hv.master, Some(br.index));
        assert_eq!(
            sysctl_in(
                &net.host,
                &format!("/proc/sys/net/ipv6/conf/{}/accept_ra", hv.name)
            ),
            "0"
        );
        assert_eq!(
            sysctl_in(&net.host, "/proc/sys/net/ipv6/conf/cnibr0/accept_ra"),
            "0"
        );
        assert_eq!(
            sysctl_in(&ctr, "/proc/sys/net/ipv6/conf/eth0/accept_dad"),
            "0"
        );
        assert_eq!(
            sysctl_in(&ctr, "/proc/sys/net/ipv4/conf/eth0/arp_notify"),
            "1"
        );
        assert_eq!(sysctl_in(&net.host, "/proc/sys/net/ipv4/ip_forward"), "1");
        let bradds = net
            .host
            .netlink()
            .addr_list(Some(br.index), Some(true))
            .unwrap();
        assert_eq!(bradds[0].address.to_string(), "10.99.0.1/24");
        // result shape, as Go prints it
        match v {
            Version::V0_1_0 | Version::V0_2_0 => {
                assert_eq!(r["ip4"]["gateway"], "10.99.0.1");
                assert!(r.get("interfaces").is_none());
            }
            _ => {
                let ifs = r["interfaces"].as_array().unwrap();
                assert_eq!(ifs.len(), 3);
                assert_eq!(ifs[0], json!({"name": "cnibr0", "mac": br.mac_string()}));
                assert_eq!(ifs[1], json!({"name": hv.name, "mac": hv.mac_string()}));
                assert_eq!(
                    ifs[2],
                    json!({"name": "eth0", "mac": eth0.mac_string(), "sandbox": ctr.path_str()})
                );
                assert_eq!(r["ips"][0]["interface"], 2);
                assert_eq!(r["ips"][0]["gateway"], "10.99.0.1");
                assert_eq!(r["ips"][0].get("version").is_some(), v < Version::V1_0_0);
            }
        }
        if v.has_check() {
            let mut cc = c.clone();
            cc["prevResult"] = r.clone();
            net.call("CHECK", &ctr, &cid).run(&cc).ok();
        }
        // checklist 22: DEL twice
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
fn containers_reach_each_other_and_the_gateway() {
    require_root!();
    let net = Net::new();
    let (a, b) = (TestNs::new("a"), TestNs::new("b"));
    let c = net.conf(Version::V1_0_0, json!({}));
    let ra = net.call("ADD", &a, "ca").run(&c).ok();
    let rb = net.call("ADD", &b, "cb").run(&c).ok();
    let (ipa, ipb) = (ip_of(&ra), ip_of(&rb));
    let peer = tcp_probe(
        &b,
        SocketAddr::new(ipb, 7001),
        &a,
        SocketAddr::new(ipb, 7001),
    )
    .unwrap();
    assert_eq!(peer.ip(), ipa, "a reaches b directly over the bridge");
    let gw: IpAddr = "10.99.0.1".parse().unwrap();
    let peer = tcp_probe(
        &net.host,
        SocketAddr::new(gw, 7002),
        &b,
        SocketAddr::new(gw, 7002),
    )
    .unwrap();
    assert_eq!(peer.ip(), ipb, "b reaches the gateway");
    net.call("DEL", &a, "ca").run(&c).ok();
    net.call("DEL", &b, "cb").run(&c).ok();
    net.assert_clean("after two containers");
}

/// A third namespace acting as the outside world, routed through the host.
fn outside(net: &Net) -> TestNs {
    let out = TestNs::new("out");
    let (h, o) = (
        format!("vh{}", std::process::id() % 100000),
        format!("vo{}", std::process::id() % 100000),
    );
    net.host.veth_to(
        &h,
        &["192.168.250.1/24", "fd00:250::1/64"],
        &out,
        &o,
        &["192.168.250.2/24", "fd00:250::2/64"],
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
        let c = net.conf(
            Version::V1_0_0,
            json!({"isDefaultGateway": true, "ipMasq": true, "ipMasqBackend": backend,
                   "ipam": {"type": "host-local", "dataDir": net.dir.path(),
                            "ranges": [[{"subnet": "10.99.0.0/24"}], [{"subnet": "fd00:99::/64"}]]}}),
        );
        let r = net.call("ADD", &ctr, "masq").run(&c).ok();
        let v4: SocketAddr = "192.168.250.2:7003".parse().unwrap();
        let peer = tcp_probe(&out, v4, &ctr, v4).unwrap_or_else(|e| panic!("{backend}: {e}"));
        assert_eq!(
            peer.ip().to_string(),
            "192.168.250.1",
            "{backend}: masqueraded to the host address"
        );
        let v6: SocketAddr = "[fd00:250::2]:7004".parse().unwrap();
        let peer = tcp_probe(&out, v6, &ctr, v6).unwrap_or_else(|e| panic!("{backend} v6: {e}"));
        assert_eq!(
            peer.ip().to_string(),
            "fd00:250::1",
            "{backend}: IPv6 masqueraded"
        );
        assert_eq!(r["routes"].as_array().unwrap().len(), 2, "{r}");
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

#[test]
fn dual_stack_and_default_gateway() {
    require_root!();
    let net = Net::new();
    let ctr = TestNs::new("ctr");
    let c = net.conf(
        Version::V1_1_0,
        json!({"isDefaultGateway": true,
               "ipam": {"type": "host-local", "dataDir": net.dir.path(),
                        "ranges": [[{"subnet": "10.99.0.0/24"}], [{"subnet": "fd00:99::/64"}]]}}),
    );
    let r = net.call("ADD", &ctr, "ds").run(&c).ok();
    assert!(
        r["ips"][1]["address"]
            .as_str()
            .unwrap()
            .starts_with("fd00:99::"),
        "{r}"
    );
    assert_eq!(
        r["routes"],
        json!([{"dst": "0.0.0.0/0", "gw": "10.99.0.1"}, {"dst": "::/0", "gw": "fd00:99::1"}])
    );
    let routes = output_in(&ctr, "ip", &["-6", "route"]);
    assert!(routes.contains("default via fd00:99::1"), "{routes}");
    let routes = output_in(&ctr, "ip", &["route"]);
    assert!(routes.contains("default via 10.99.0.1"), "{routes}");
    assert_eq!(
        sysctl_in(&net.host, "/proc/sys/net/ipv6/conf/all/forwarding"),
        "1"
    );
    let mut cc = c.clone();
    cc["prevResult"] = r;
    net.call("CHECK", &ctr, "ds").run(&cc).ok();
    net.call("DEL", &ctr, "ds").run(&c).ok();
    net.assert_clean("dual stack");
}

// checklist 25: CHECK fails when a resource from prevResult is gone
#[test]
fn conformance_25_check_fails_after_manual_removal() {
    require_root!();
    let net = Net::new();
    for what in ["address", "veth", "route"] {
        let ctr = TestNs::new("ctr");
        let c = net.conf(Version::V1_0_0, json!({"isDefaultGateway": true}));
        let r = net.call("ADD", &ctr, what).run(&c).ok();
        let mut cc = c.clone();
        cc["prevResult"] = r.clone();
        net.call("CHECK", &ctr, what).run(&cc).ok();
        match what {
            "address" => {
                ctr.ip(&[
                    "addr",
                    "del",
                    r["ips"][0]["address"].as_str().unwrap(),
                    "dev",
                    "eth0",
                ]);
            }
            "veth" => {
                net.host
                    .ip(&["link", "del", r["interfaces"][1]["name"].as_str().unwrap()]);
            }
            _ => {
                ctr.ip(&["route", "del", "default"]);
            }
        }
        let (_, msg) = net.call("CHECK", &ctr, what).run(&cc).err();
        eprintln!("{what}: {msg}");
        net.call("DEL", &ctr, what).run(&c).ok();
    }
    net.assert_clean("check");
}

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
    // empty CNI_NETNS: the runtime lost it
    net.call("DEL", &ctr, "nons").netns_path("").run(&c).ok();
    assert!(!net.nat_rules().contains("CNI-"), "{}", net.nat_rules());
    assert!(reservation_files(&net.netdir()).is_empty());
    // the veth goes with the namespace
    drop(ctr);
    net.assert_clean("netns-less DEL");
}

#[test]
fn thirty_concurrent_adds_on_a_new_bridge() {
    require_root!();
    let net = Net::new();
    let ctrs: Vec<TestNs> = (0..30).map(|_| TestNs::new("par")).collect();
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
                s.spawn(move || ip_of(&call.run(&c).ok()))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let unique: std::collections::HashSet<_> = ips.iter().collect();
    assert_eq!(unique.len(), 30);
    assert_eq!(net.host_veths().len(), 30);
    std::thread::scope(|s| {
        for (i, ctr) in ctrs.iter().enumerate() {
            let call = net.call("DEL", ctr, &format!("par{i}"));
            let c = c.clone();
            s.spawn(move || call.run(&c).ok());
        }
    });
    net.assert_clean("concurrent");
}

#[test]
fn each_config_key() {
    require_root!();
    let net = Net::new();
    let v = Version::V1_0_0;
    let run = |extra: Value, cid: &str, check: &dyn Fn(&TestNs, &Value)| {
        let ctr = TestNs::new("key");
        let c = net.conf(v, extra);
        let r = net.call("ADD", &ctr, cid).run(&c).ok();
        check(&ctr, &r);
        net.call("DEL", &ctr, cid).run(&c).ok();
    };
    // mtu on both veth ends and on a new bridge
    run(json!({"bridge": "brmtu", "mtu": 1400}), "mtu", &|ctr, r| {
        assert_eq!(
            ctr.netlink().link_get(LinkId::Name("eth0")).unwrap().mtu,
            1400
        );
        let hv = net
            .link(r["interfaces"][1]["name"].as_str().unwrap())
            .unwrap();
        assert_eq!(hv.mtu, 1400);
        assert_eq!(net.link("brmtu").unwrap().mtu, 1400);
    });
    // hairpinMode and portIsolation on the bridge port
    run(
        json!({"hairpinMode": true, "portIsolation": true}),
        "hp",
        &|_, r| {
            let name = r["interfaces"][1]["name"].as_str().unwrap();
            let d = output_in(&net.host, "ip", &["-d", "link", "show", name]);
            assert!(d.contains("hairpin on"), "{d}");
            assert!(d.contains("isolated on"), "{d}");
        },
    );
    // promiscMode on the bridge
    run(
        json!({"bridge": "brpromisc", "promiscMode": true}),
        "pr",
        &|_, _| {
            assert!(net.link("brpromisc").unwrap().is_promisc());
        },
    );
    // enabledad keeps DAD on in the container
    run(json!({"enabledad": true}), "dad", &|ctr, _| {
        assert_eq!(
            sysctl_in(ctr, "/proc/sys/net/ipv6/conf/eth0/accept_dad"),
            "1"
        );
    });
    // MAC precedence: CNI_ARGS < args.cni < runtimeConfig
    for (extra, args, want) in [
        (
            json!({}),
            "IgnoreUnknown=1;MAC=0e:00:00:00:00:01",
            "0e:00:00:00:00:01",
        ),
        (
            json!({"args": {"cni": {"mac": "0e:00:00:00:00:02"}}}),
            "IgnoreUnknown=1;MAC=0e:00:00:00:00:01",
            "0e:00:00:00:00:02",
        ),
        (
            json!({"args": {"cni": {"mac": "0e:00:00:00:00:02"}}, "runtimeConfig": {"mac": "0e:00:00:00:00:03"}}),
            "IgnoreUnknown=1;MAC=0e:00:00:00:00:01",
            "0e:00:00:00:00:03",
        ),
    ] {
        let ctr = TestNs::new("mac");
        let c = net.conf(v, extra);
        let r = net.call("ADD", &ctr, "mac").cni_args(args).run(&c).ok();
        assert_eq!(r["interfaces"][2]["mac"], want);
        assert_eq!(
            ctr.netlink()
                .link_get(LinkId::Name("eth0"))
                .unwrap()
                .mac_string(),
            want
        );
        net.call("DEL", &ctr, "mac").run(&c).ok();
    }
    // dns in the config replaces IPAM's
    run(
        json!({"dns": {"nameservers": ["1.1.1.1"]}}),
        "dns",
        &|_, r| {
            assert_eq!(r["dns"], json!({"nameservers": ["1.1.1.1"]}));
        },
    );
    // L2 mode: no IPAM, the interface is up without addresses
    run(json!({"ipam": {}, "isGateway": false}), "l2", &|ctr, r| {
        assert!(r.get("ips").is_none(), "{r}");
        let mut nl = ctr.netlink();
        let eth0 = nl.link_get(LinkId::Name("eth0")).unwrap();
        assert!(eth0.is_up());
        assert!(
            nl.addr_list(Some(eth0.index), Some(true))
                .unwrap()
                .is_empty()
        );
    });
    // disableContainerInterface leaves it down
    run(
        json!({"ipam": {}, "isGateway": false, "disableContainerInterface": true}),
        "dci",
        &|ctr, _| {
            assert!(
                !ctr.netlink()
                    .link_get(LinkId::Name("eth0"))
                    .unwrap()
                    .is_up()
            );
        },
    );
    // macspoofchk: nft bridge rules for the attachment, removed by DEL
    if has_tool("nft") {
        run(json!({"macspoofchk": true}), "spoof", &|_, r| {
            let rules = output_in(&net.host, "nft", &["list", "table", "bridge", "nat"]);
            assert!(rules.contains("cni-br-iface-spoof-eth0"), "{rules}");
            assert!(
                rules.contains(r["interfaces"][2]["mac"].as_str().unwrap()),
                "{rules}"
            );
        });
        let rules = output_in(&net.host, "nft", &["list", "table", "bridge", "nat"]);
        assert!(!rules.contains("cni-br-iface-spoof-eth0"), "{rules}");
    }
    // forceAddress replaces a conflicting address on the bridge
    net.host.ip(&["link", "add", "brforce", "type", "bridge"]);
    net.host
        .ip(&["addr", "add", "10.98.0.1/16", "dev", "brforce"]);
    run(
        json!({"bridge": "brforce", "forceAddress": true}),
        "force",
        &|_, _| {
            let a = output_in(&net.host, "ip", &["-4", "addr", "show", "brforce"]);
            assert!(
                a.contains("10.99.0.1/24") && !a.contains("10.98.0.1"),
                "{a}"
            );
        },
    );
    net.assert_clean("config keys");
}

#[test]
fn bad_input_leaves_nothing_behind() {
    require_root!();
    let net = Net::new();
    let v = Version::V1_0_0;
    net.host.ip(&[
        "link", "add", "notabr", "type", "veth", "peer", "name", "notabr-p",
    ]);
    net.host.ip(&["link", "add", "brbusy", "type", "bridge"]);
    net.host
        .ip(&["addr", "add", "10.98.0.1/24", "dev", "brbusy"]);
    let before = net.host_veths();
    let cases: Vec<(Value, u64, &str)> = vec![
        (json!({"vlan": 5000}), 7, "invalid VLAN ID 5000"),
        (json!({"vlan": -1}), 7, "invalid VLAN ID -1"),
        (json!({"vlanTrunk": [{"minID": 10}]}), 7, "maxID is missing"),
        (
            json!({"hairpinMode": true, "promiscMode": true}),
            7,
            "cannot set hairpin mode and promiscuous mode",
        ),
        (
            json!({"disableContainerInterface": true}),
            7,
            "cannot use IPAM when disableContainerInterface",
        ),
        (
            json!({"bridge": "notabr"}),
            999,
            "\"notabr\" already exists but is not a bridge",
        ),
        (
            json!({"bridge": "brbusy"}),
            999,
            "\"brbusy\" already has an IP address different from 10.99.0.1/24",
        ),
        (json!({"ipMasq": true, "ipMasqBackend": "pf"}), 7, "pf"),
        (
            json!({"runtimeConfig": {"mac": "zz"}}),
            7,
            "invalid MAC address",
        ),
        (
            json!({"ipam": {"type": "no-such-ipam"}}),
            7,
            "failed to find plugin \"no-such-ipam\"",
        ),
    ];
    for (extra, code, msg) in cases {
        let ctr = TestNs::new("bad");
        let (got, got_msg) = net
            .call("ADD", &ctr, "bad")
            .run(&net.conf(v, extra.clone()))
            .err();
        assert_eq!(got, code, "{extra}: {got_msg}");
        assert!(got_msg.contains(msg), "{extra}: {got_msg}");
        assert_eq!(net.host_veths(), before, "{extra}: no veth left");
        assert!(
            ctr.netlink()
                .link_find(LinkId::Name("eth0"))
                .unwrap()
                .is_none(),
            "{extra}"
        );
        assert!(reservation_files(&net.netdir()).is_empty(), "{extra}");
    }
    // an ifname already present in the container
    let ctr = TestNs::new("busy");
    ctr.ip(&[
        "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p",
    ]);
    let (_, msg) = net
        .call("ADD", &ctr, "dup")
        .run(&net.conf(v, json!({})))
        .err();
    assert!(
        msg.contains("eth0 already exists in container netns"),
        "{msg}"
    );
    assert_eq!(net.host_veths(), before);
    // a missing netns
    let (code, _) = net
        .call("ADD", &ctr, "gone")
        .netns_path("/run/netns/does-not-exist")
        .run(&net.conf(v, json!({})))
        .err();
    assert_eq!(code, 8);
    assert!(reservation_files(&net.netdir()).is_empty());
}

/// Failures after resources exist roll back everything this ADD made.
#[test]
fn rollback_on_failure_at_each_step() {
    require_root!();
    let net = Net::new();
    let v = Version::V1_0_0;
    // IPAM fails (range exhausted by another container)
    let tiny = json!({"ipam": {"type": "host-local", "dataDir": net.dir.path(), "ranges": [[{"subnet": "10.99.0.0/30"}]]}});
    let holder = TestNs::new("hold");
    net.call("ADD", &holder, "holder")
        .run(&net.conf(v, tiny.clone()))
        .ok();
    let ctr = TestNs::new("rb");
    net.call("ADD", &ctr, "rb1")
        .run(&net.conf(v, tiny.clone()))
        .err();
    assert_eq!(net.host_veths().len(), 1, "only the holder's veth");
    net.call("DEL", &holder, "holder")
        .run(&net.conf(v, tiny))
        .ok();
    // a route that cannot be added (static IPAM with an unreachable next hop)
    let bad_route = json!({"ipam": {"type": "static", "addresses": [{"address": "10.99.0.50/24"}],
                                    "routes": [{"dst": "192.0.2.0/24", "gw": "203.0.113.1"}]}});
    let (_, msg) = net
        .call("ADD", &ctr, "rb2")
        .run(&net.conf(v, bad_route))
        .err();
    assert!(msg.contains("failed to add route"), "{msg}");
    assert!(
        ctr.netlink()
            .link_find(LinkId::Name("eth0"))
            .unwrap()
            .is_none()
    );
    // masquerade fails: the backend's tool cannot be run
    let c = net.conf(v, json!({"ipMasq": true, "ipMasqBackend": "iptables"}));
    let out = net
        .call("ADD", &ctr, "rb3")
        .env("PATH", "/nonexistent")
        .run(&c);
    out.err();
    assert!(
        ctr.netlink()
            .link_find(LinkId::Name("eth0"))
            .unwrap()
            .is_none()
    );
    // spoof-check fails the same way
    let c = net.conf(v, json!({"macspoofchk": true}));
    net.call("ADD", &ctr, "rb4")
        .env("PATH", "/nonexistent")
        .run(&c)
        .err();
    net.assert_clean("rollback");
}

#[test]
fn vlan_filtering_is_applied_or_refused_clearly() {
    require_root!();
    let net = Net::new();
    let probe = TestNs::new("probe");
    let supported = probe
        .cmd(
            "ip",
            &[
                "link",
                "add",
                "vfprobe",
                "type",
                "bridge",
                "vlan_filtering",
                "1",
            ],
        )
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let ctr = TestNs::new("vlan");
    let c = net.conf(Version::V1_0_0, json!({"bridge": "brvlan", "vlan": 100}));
    let out = net.call("ADD", &ctr, "vlan").run(&c);
    if supported {
        out.ok();
        let vlans = output_in(&net.host, "bridge", &["vlan", "show"]);
        assert!(vlans.contains("100"), "{vlans}");
        net.call("DEL", &ctr, "vlan").run(&c).ok();
    } else {
        eprintln!("note: this kernel has no bridge VLAN filtering; checking the error instead");
        let (_, msg) = out.err();
        assert!(
            msg.contains("VLAN filtering") && msg.contains("brvlan"),
            "{msg}"
        );
    }
    net.assert_clean("vlan");
}

// checklist 30-ish for bridge: GC removes masquerade state and reservations of stale attachments
#[test]
fn gc_removes_stale_attachments() {
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
    Call::new(plugin_path("bridge"), "GC")
        .cid("")
        .ifname("")
        .in_host(&net.host)
        .run(&g)
        .ok();
    let rules = net.nat_rules();
    assert!(rules.contains("id: \\\"keep\\\""), "{rules}");
    assert!(!rules.contains("stale"), "{rules}");
    assert_eq!(
        reservation_files(&net.netdir())
            .iter()
            .filter(|f| !f.starts_with('.'))
            .count(),
        1
    );
    // STATUS delegates to IPAM
    Call::new(plugin_path("bridge"), "STATUS")
        .cid("")
        .ifname("")
        .in_host(&net.host)
        .run(&c)
        .ok();
    net.call("DEL", &a, "keep").run(&c).ok();
    net.call("DEL", &b, "stale").run(&c).ok();
    net.assert_clean("gc");
}

fn go_bridge() -> Option<PathBuf> {
    let p = go_plugin("bridge");
    if p.is_none() || go_plugin("host-local").is_none() {
        eprintln!("skipped: Go plugins not installed at {GO_PLUGIN_DIR}");
        return None;
    }
    p
}

/// A CNI_PATH where `host-local` is Go's, for the Go bridge to delegate to.
fn go_path() -> String {
    GO_PLUGIN_DIR.to_string()
}

#[test]
fn interop_with_go_bridge() {
    require_root!();
    let Some(go) = go_bridge() else { return };
    let net = Net::new();
    let v = Version::V1_0_0;
    let c = net.conf(v, json!({"ipMasq": true, "isDefaultGateway": true}));
    // Go ADD, our DEL
    let ctr = TestNs::new("go1");
    let mut call = Call::new(go.clone(), "ADD")
        .cid("goadd")
        .netns(&ctr)
        .in_host(&net.host);
    call.path = go_path();
    call.run(&c).ok();
    assert!(net.nat_rules().contains("CNI-"));
    net.call("DEL", &ctr, "goadd").run(&c).ok();
    assert!(
        ctr.netlink()
            .link_find(LinkId::Name("eth0"))
            .unwrap()
            .is_none()
    );
    net.assert_clean("go add, rust del");
    // our ADD, Go DEL
    let ctr = TestNs::new("go2");
    net.call("ADD", &ctr, "rsadd").run(&c).ok();
    let mut call = Call::new(go, "DEL")
        .cid("rsadd")
        .netns(&ctr)
        .in_host(&net.host);
    call.path = go_path();
    call.run(&c).ok();
    net.assert_clean("rust add, go del");
}

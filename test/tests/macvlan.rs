//! macvlan, executed as a runtime would, in scratch namespaces. The master
//! is one end of a veth pair inside the fake host (this kernel has no dummy
//! links); both ends are up so the master has carrier. Interop with
//! Debian's Go macvlan.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use integration::*;
use pkg::netlink::macvlan::{self, Mode};
use pkg::netlink::{Link, LinkId};
use serde_json::{Value, json};

const MASTER: &str = "mvm0";

struct Net {
    host: TestNs,
    dir: tempfile::TempDir,
}

impl Net {
    /// A fake host with the master `mvm0` (peer `mvm0p`), both up.
    fn new() -> Net {
        let net = Net {
            host: TestNs::new("host"),
            dir: tempdir(),
        };
        add_master(&net.host, MASTER);
        net
    }

    fn ipam(&self, subnet: &str) -> Value {
        json!({"type": "host-local", "dataDir": self.dir.path(), "ranges": [[{"subnet": subnet}]]})
    }

    fn conf(&self, v: Version, extra: Value) -> Value {
        let mut c = json!({
            "cniVersion": v.as_str(),
            "name": "mvnet",
            "type": "macvlan",
            "master": MASTER,
            "ipam": self.ipam("10.78.0.0/24"),
        });
        for (k, val) in extra.as_object().cloned().unwrap_or_default() {
            c[k] = val;
        }
        c
    }

    fn call(&self, cmd: &str, ctr: &TestNs, cid: &str) -> Call {
        Call::new(plugin_path("macvlan"), cmd)
            .cid(cid)
            .netns(ctr)
            .in_host(&self.host)
    }

    fn netdir(&self) -> PathBuf {
        self.dir.path().join("mvnet")
    }

    fn master(&self) -> Link {
        self.host.netlink().link_get(LinkId::Name(MASTER)).unwrap()
    }

    /// The host's links, by name (a temporary macvlan left behind would
    /// show up here, or in the container).
    fn host_links(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .host
            .netlink()
            .link_list()
            .unwrap()
            .into_iter()
            .map(|l| l.name)
            .collect();
        names.sort();
        names
    }

    fn reservations(&self) -> Vec<String> {
        reservation_files(&self.netdir())
            .into_iter()
            .filter(|f| !f.starts_with('.'))
            .collect()
    }

    fn assert_clean(&self, what: &str, ctrs: &[&TestNs]) {
        for ctr in ctrs {
            assert_eq!(
                ctr_links(ctr),
                vec!["lo".to_string()],
                "{what}: links left in {}",
                ctr.name
            );
        }
        let res = reservation_files(&self.netdir());
        assert!(res.is_empty(), "{what}: reservations left: {res:?}");
    }
}

fn add_master(ns: &TestNs, name: &str) {
    let peer = format!("{name}p");
    ns.ip(&["link", "add", name, "type", "veth", "peer", "name", &peer]);
    ns.ip(&["link", "set", name, "up"]);
    ns.ip(&["link", "set", &peer, "up"]);
}

fn ctr_links(ctr: &TestNs) -> Vec<String> {
    let mut names: Vec<String> = ctr
        .netlink()
        .link_list()
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    names.sort();
    names
}

fn eth0(ctr: &TestNs) -> Link {
    ctr.netlink().link_get(LinkId::Name("eth0")).unwrap()
}

fn ip_of(r: &Value) -> IpAddr {
    let s = r["ips"][0]["address"]
        .as_str()
        .or_else(|| r["ip4"]["ip"].as_str())
        .unwrap();
    s.split('/').next().unwrap().parse().unwrap()
}

// checklist 17, 18 and 22: the result in each version's shape, the macvlan
// in the kernel, CHECK passes, DEL twice. The host has an `eth0` of its
// own, which the temporary name keeps out of the way.
#[test]
fn conformance_18_add_check_del_every_version() {
    require_root!();
    let net = Net::new();
    net.host.ip(&[
        "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p",
    ]);
    let host_before = net.host_links();
    for v in Version::ALL {
        let ctr = TestNs::new("ctr");
        let cid = format!("c-{}", v.as_str().replace('.', "-"));
        let c = net.conf(v, json!({}));
        let r = net.call("ADD", &ctr, &cid).run(&c).ok();
        assert_eq!(r["cniVersion"], v.as_str());
        let link = eth0(&ctr);
        assert_eq!(link.kind.as_deref(), Some("macvlan"));
        assert_eq!(macvlan::mode_of(&link), Some(Mode::Bridge));
        assert_eq!(link.parent, Some(net.master().index));
        assert!(link.is_up());
        assert_eq!(link.mtu, net.master().mtu);
        let addrs = ctr
            .netlink()
            .addr_list(Some(link.index), Some(true))
            .unwrap();
        assert_eq!(addrs.len(), 1);
        assert_eq!(addrs[0].address.addr(), ip_of(&r));
        assert_eq!(addrs[0].address.prefix_len(), 24);
        assert_eq!(
            sysctl_in(&ctr, "/proc/sys/net/ipv4/conf/eth0/arp_notify"),
            "1"
        );
        assert_eq!(
            sysctl_in(&ctr, "/proc/sys/net/ipv6/conf/eth0/ndisc_notify"),
            "1"
        );
        assert_eq!(net.host_links(), host_before, "nothing new in the host");
        assert_eq!(ctr_links(&ctr), ["eth0", "lo"], "no temporary name left");
        match v {
            Version::V0_1_0 | Version::V0_2_0 => {
                assert_eq!(r["ip4"]["gateway"], "10.78.0.1");
                assert!(r.get("interfaces").is_none());
            }
            _ => {
                assert_eq!(
                    r["interfaces"],
                    json!([{"name": "eth0", "mac": link.mac_string(), "sandbox": ctr.path_str()}])
                );
                assert_eq!(r["ips"][0]["interface"], 0);
                assert_eq!(r["ips"][0]["gateway"], "10.78.0.1");
                assert_eq!(r["ips"][0].get("version").is_some(), v < Version::V1_0_0);
            }
        }
        if v.has_check() {
            let mut cc = c.clone();
            cc["prevResult"] = r.clone();
            let out = net.call("CHECK", &ctr, &cid).run(&cc);
            out.ok();
            assert!(out.stdout.is_empty());
        }
        net.call("DEL", &ctr, &cid).run(&c).ok();
        net.call("DEL", &ctr, &cid).run(&c).ok();
        net.assert_clean(v.as_str(), &[&ctr]);
    }
    assert_eq!(net.host_links(), host_before);
}

#[test]
fn bridge_mode_containers_reach_each_other() {
    require_root!();
    let net = Net::new();
    let (a, b) = (TestNs::new("a"), TestNs::new("b"));
    let c = net.conf(Version::V1_1_0, json!({"mode": "bridge"}));
    let ra = net.call("ADD", &a, "ca").run(&c).ok();
    let rb = net.call("ADD", &b, "cb").run(&c).ok();
    let (ipa, ipb) = (ip_of(&ra), ip_of(&rb));
    let peer = tcp_probe(
        &b,
        SocketAddr::new(ipb, 7201),
        &a,
        SocketAddr::new(ipb, 7201),
    )
    .unwrap();
    assert_eq!(peer.ip(), ipa);
    net.call("DEL", &a, "ca").run(&c).ok();
    net.call("DEL", &b, "cb").run(&c).ok();
    net.assert_clean("bridge mode", &[&a, &b]);
}

/// private: macvlans on one master cannot talk to each other. vepa sends
/// everything out of the master, and the master's peer here does not
/// reflect frames, so the result is the same.
#[test]
fn private_and_vepa_modes_isolate_containers() {
    require_root!();
    for mode in [Mode::Private, Mode::Vepa] {
        let net = Net::new();
        let (a, b) = (TestNs::new("a"), TestNs::new("b"));
        let c = net.conf(Version::V1_0_0, json!({"mode": mode.as_str()}));
        let _ra = net.call("ADD", &a, "ca").run(&c).ok();
        let rb = net.call("ADD", &b, "cb").run(&c).ok();
        assert_eq!(macvlan::mode_of(&eth0(&a)), Some(mode));
        let ipb = ip_of(&rb);
        let probe = tcp_probe(
            &b,
            SocketAddr::new(ipb, 7202),
            &a,
            SocketAddr::new(ipb, 7202),
        );
        assert!(probe.is_err(), "{}: a reached b: {probe:?}", mode.as_str());
        let mut cc = c.clone();
        cc["prevResult"] = rb;
        net.call("CHECK", &b, "cb").run(&cc).ok();
        net.call("DEL", &a, "ca").run(&c).ok();
        net.call("DEL", &b, "cb").run(&c).ok();
        net.assert_clean(mode.as_str(), &[&a, &b]);
    }
}

/// No IPAM: the interface is up with no address, and frames flow (shown by
/// giving both ends an address by hand).
#[test]
fn l2_mode_without_ipam() {
    require_root!();
    let net = Net::new();
    let (a, b) = (TestNs::new("a"), TestNs::new("b"));
    for v in Version::ALL {
        let c = net.conf(v, json!({"ipam": {}}));
        if v < Version::V0_3_0 {
            // A 0.1.0/0.2.0 result cannot express an interface without
            // addresses: refused before anything is created.
            let (code, msg) = net.call("ADD", &a, "l2").run(&c).err();
            assert_eq!(code, 7, "{msg}");
            assert!(msg.contains("no valid IP addresses"), "{msg}");
            net.assert_clean(v.as_str(), &[&a]);
            continue;
        }
        let r = net.call("ADD", &a, "l2").run(&c).ok();
        assert!(r.get("ips").is_none() && r.get("ip4").is_none(), "{r}");
        let link = eth0(&a);
        assert!(link.is_up());
        assert!(
            a.netlink()
                .addr_list(Some(link.index), Some(true))
                .unwrap()
                .is_empty()
        );
        if v.has_check() {
            let mut cc = c.clone();
            cc["prevResult"] = r;
            net.call("CHECK", &a, "l2").run(&cc).ok();
        }
        net.call("DEL", &a, "l2").run(&c).ok();
        net.assert_clean(v.as_str(), &[&a]);
    }
    let c = net.conf(Version::V1_0_0, json!({"ipam": {}}));
    net.call("ADD", &a, "a").run(&c).ok();
    net.call("ADD", &b, "b").run(&c).ok();
    a.ip(&["addr", "add", "192.168.78.1/24", "dev", "eth0"]);
    b.ip(&["addr", "add", "192.168.78.2/24", "dev", "eth0"]);
    let target: SocketAddr = "192.168.78.2:7203".parse().unwrap();
    let peer = tcp_probe(&b, target, &a, target).unwrap();
    assert_eq!(peer.ip().to_string(), "192.168.78.1");
    net.call("DEL", &a, "a").run(&c).ok();
    net.call("DEL", &b, "b").run(&c).ok();
    net.assert_clean("l2", &[&a, &b]);
}

/// MAC precedence, lowest to highest: `mac`, `CNI_ARGS` `MAC=`,
/// `args.cni.mac`, `runtimeConfig.mac`.
#[test]
fn mac_request_honoured() {
    require_root!();
    let net = Net::new();
    let cases = [
        (json!({"mac": "0e:00:00:00:00:01"}), "", "0e:00:00:00:00:01"),
        (
            json!({"mac": "0e:00:00:00:00:01"}),
            "IgnoreUnknown=1;MAC=0e:00:00:00:00:02",
            "0e:00:00:00:00:02",
        ),
        (
            json!({"mac": "0e:00:00:00:00:01", "args": {"cni": {"mac": "0e:00:00:00:00:03"}}}),
            "IgnoreUnknown=1;MAC=0e:00:00:00:00:02",
            "0e:00:00:00:00:03",
        ),
        (
            json!({"mac": "0e:00:00:00:00:01", "args": {"cni": {"mac": "0e:00:00:00:00:03"}},
                   "runtimeConfig": {"mac": "0E-00-00-00-00-04"}}),
            "IgnoreUnknown=1;MAC=0e:00:00:00:00:02",
            "0e:00:00:00:00:04",
        ),
    ];
    let ctr = TestNs::new("mac");
    for (extra, args, want) in cases {
        let c = net.conf(Version::V1_0_0, extra.clone());
        let r = net.call("ADD", &ctr, "mac").cni_args(args).run(&c).ok();
        assert_eq!(r["interfaces"][0]["mac"], want, "{extra} {args}");
        assert_eq!(eth0(&ctr).mac_string(), want);
        let mut cc = c.clone();
        cc["prevResult"] = r;
        net.call("CHECK", &ctr, "mac").cni_args(args).run(&cc).ok();
        net.call("DEL", &ctr, "mac").cni_args(args).run(&c).ok();
    }
    net.assert_clean("mac", &[&ctr]);
}

/// The master lives in the container netns; with no `master` the
/// container's default route names it.
#[test]
fn link_in_container() {
    require_root!();
    let net = Net::new();
    let ctr = TestNs::new("lic");
    add_master(&ctr, "inm0");
    let host_before = net.host_links();
    for (extra, what) in [
        (json!({"linkInContainer": true, "master": "inm0"}), "named"),
        (
            json!({"linkInContainer": true, "master": "", "ipam": {}}),
            "default route",
        ),
    ] {
        if what == "default route" {
            ctr.ip(&["addr", "add", "192.168.79.2/24", "dev", "inm0"]);
            ctr.ip(&["route", "add", "default", "via", "192.168.79.1"]);
        }
        let c = net.conf(Version::V1_1_0, extra);
        let r = net.call("ADD", &ctr, "lic").run(&c).ok();
        let link = eth0(&ctr);
        let master = ctr.netlink().link_get(LinkId::Name("inm0")).unwrap();
        assert_eq!(link.kind.as_deref(), Some("macvlan"), "{what}");
        assert_eq!(link.parent, Some(master.index), "{what}");
        assert_eq!(link.link_netnsid, None, "{what}: same netns as its master");
        assert_eq!(net.host_links(), host_before, "{what}");
        let mut cc = c.clone();
        cc["prevResult"] = r;
        net.call("CHECK", &ctr, "lic").run(&cc).ok();
        net.call("DEL", &ctr, "lic").run(&c).ok();
        assert!(
            ctr.netlink()
                .link_find(LinkId::Name("eth0"))
                .unwrap()
                .is_none()
        );
    }
    assert!(net.reservations().is_empty());
}

/// Without `master`, the host's default route picks it; without a default
/// route that is a clear error.
#[test]
fn master_defaults_to_the_default_route_interface() {
    require_root!();
    let net = Net::new();
    let ctr = TestNs::new("dflt");
    let c = net.conf(Version::V1_0_0, json!({"master": ""}));
    let (code, msg) = net.call("ADD", &ctr, "d").run(&c).err();
    assert_eq!(
        (code, msg.as_str()),
        (7, "no default route interface found")
    );
    add_master(&net.host, "uplink0");
    net.host
        .ip(&["addr", "add", "192.168.80.2/24", "dev", "uplink0"]);
    net.host
        .ip(&["route", "add", "default", "via", "192.168.80.1"]);
    let r = net.call("ADD", &ctr, "d").run(&c).ok();
    let uplink = net
        .host
        .netlink()
        .link_get(LinkId::Name("uplink0"))
        .unwrap();
    assert_eq!(eth0(&ctr).parent, Some(uplink.index));
    let mut cc = c.clone();
    cc["prevResult"] = r;
    net.call("CHECK", &ctr, "d").run(&cc).ok();
    net.call("DEL", &ctr, "d").run(&c).ok();
    net.assert_clean("default master", &[&ctr]);
}

#[test]
fn each_config_key() {
    require_root!();
    let net = Net::new();
    let ctr = TestNs::new("keys");
    let run = |extra: Value, check: &dyn Fn(&Link, &Value)| {
        let c = net.conf(Version::V1_1_0, extra);
        let r = net.call("ADD", &ctr, "keys").run(&c).ok();
        check(&eth0(&ctr), &r);
        let mut cc = c.clone();
        cc["prevResult"] = r;
        net.call("CHECK", &ctr, "keys").run(&cc).ok();
        net.call("DEL", &ctr, "keys").run(&c).ok();
    };
    run(json!({"mtu": 1400}), &|l, _| assert_eq!(l.mtu, 1400));
    run(json!({"mtu": 1500}), &|l, _| assert_eq!(l.mtu, 1500));
    run(json!({"mode": "passthru"}), &|l, _| {
        assert_eq!(macvlan::mode_of(l), Some(Mode::Passthru))
    });
    run(json!({"bcqueuelen": 123}), &|l, _| {
        assert_eq!(macvlan::bc_queue_len_of(l), Some(123))
    });
    run(
        json!({"dns": {"nameservers": ["10.78.0.53"], "domain": "example"}}),
        &|_, r| {
            assert_eq!(
                r["dns"],
                json!({"nameservers": ["10.78.0.53"], "domain": "example"})
            )
        },
    );
    // dual stack with IPAM routes; DAD runs (a shared segment), so ADD
    // returns once the address is no longer tentative
    run(
        json!({"ipam": {"type": "host-local", "dataDir": net.dir.path(),
                        "ranges": [[{"subnet": "10.78.0.0/24"}], [{"subnet": "fd00:78::/64"}]],
                        "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]}}),
        &|l, r| {
            assert_eq!(r["ips"][1]["interface"], 0, "{r}");
            let v6 = ctr.netlink().addr_list(Some(l.index), Some(false)).unwrap();
            assert!(
                v6.iter()
                    .any(|a| a.is_global_unicast() && !a.is_tentative()),
                "{v6:?}"
            );
            let routes = output_in(&ctr, "ip", &["-6", "route"]);
            assert!(routes.contains("default via fd00:78::1"), "{routes}");
        },
    );
    net.assert_clean("keys", &[&ctr]);
}

// checklist 19: the ifname already exists; and other bad input, with nothing
// left behind
#[test]
fn conformance_19_bad_input_leaves_nothing_behind() {
    require_root!();
    let net = Net::new();
    let v = Version::V1_0_0;
    let host_before = net.host_links();
    let cases: Vec<(Value, &str, u64, &str)> = vec![
        (json!({"mode": "l2"}), "", 7, "unknown macvlan mode: \"l2\""),
        (
            json!({"mtu": 9000}),
            "",
            7,
            "invalid MTU 9000, must be [0, master MTU(1500)]",
        ),
        (
            json!({"mtu": -1}),
            "",
            7,
            "invalid MTU -1, must be [0, master MTU(1500)]",
        ),
        (
            json!({"master": "nosuch0"}),
            "",
            7,
            "failed to lookup master \"nosuch0\"",
        ),
        (
            json!({"master": "much-too-long-name"}),
            "",
            7,
            "invalid master name",
        ),
        (json!({"mac": "zz"}), "", 7, "invalid MAC address \"zz\""),
        (
            json!({"runtimeConfig": {"mac": "01:00:5e:00:00:01"}}),
            "",
            7,
            "invalid MAC address",
        ),
        (json!({}), "FOO=1", 4, "ARGS: unknown args"),
        (json!({"bcqueuelen": -1}), "", 7, "invalid bcqueuelen -1"),
        (json!({"master": 5}), "", 6, "network config"),
        (
            json!({"ipam": {"type": "no-such-ipam"}}),
            "",
            7,
            "failed to find plugin \"no-such-ipam\"",
        ),
    ];
    for (extra, args, code, msg) in cases {
        let ctr = TestNs::new("bad");
        let (got, got_msg) = net
            .call("ADD", &ctr, "bad")
            .cni_args(args)
            .run(&net.conf(v, extra.clone()))
            .err();
        assert_eq!(got, code, "{extra}: {got_msg}");
        assert!(got_msg.contains(msg), "{extra}: {got_msg}");
        assert_eq!(net.host_links(), host_before, "{extra}");
        net.assert_clean(&extra.to_string(), &[&ctr]);
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
    assert_eq!(ctr_links(&ctr), ["eth0", "eth0p", "lo"]);
    let (code, _) = net
        .call("ADD", &ctr, "gone")
        .netns_path("/run/netns/does-not-exist")
        .run(&net.conf(v, json!({})))
        .err();
    assert_eq!(code, 8);
    assert!(net.reservations().is_empty());
    assert_eq!(net.host_links(), host_before);
}

// checklist 27 and 24: failures after the link exists remove it and give
// the address back; DEL after a failed ADD succeeds
#[test]
fn conformance_27_rollback_after_the_link_exists() {
    require_root!();
    let net = Net::new();
    let v = Version::V1_0_0;
    let ctr = TestNs::new("rb");
    // the range is exhausted by another container
    let tiny = net.conf(v, json!({"ipam": net.ipam("10.78.0.0/30")}));
    let holder = TestNs::new("hold");
    net.call("ADD", &holder, "holder").run(&tiny).ok();
    let (_, msg) = net.call("ADD", &ctr, "full").run(&tiny).err();
    assert!(msg.contains("no IP addresses available"), "{msg}");
    assert_eq!(ctr_links(&ctr), ["lo"]);
    assert_eq!(net.reservations().len(), 1, "the holder's address stays");
    net.call("DEL", &ctr, "full").run(&tiny).ok();
    net.call("DEL", &holder, "holder").run(&tiny).ok();
    // a route from IPAM that cannot be added
    let c = net.conf(
        v,
        json!({"ipam": {"type": "static", "addresses": [{"address": "10.78.0.50/24"}],
                        "routes": [{"dst": "192.0.2.0/24", "gw": "203.0.113.1"}]}}),
    );
    let (_, msg) = net.call("ADD", &ctr, "route").run(&c).err();
    assert!(msg.contains("failed to add route"), "{msg}");
    assert_eq!(ctr_links(&ctr), ["lo"]);
    // the kernel refuses the link: passthru allows one macvlan per master
    let pt = net.conf(v, json!({"mode": "passthru", "ipam": {}}));
    let other = TestNs::new("pt");
    net.call("ADD", &other, "pt1").run(&pt).ok();
    let (code, msg) = net.call("ADD", &ctr, "pt2").run(&pt).err();
    assert_eq!(code, 999);
    assert!(
        msg.contains("failed to create macvlan on master mvm0 for eth0 (passthru mode takes"),
        "{msg}"
    );
    assert_eq!(ctr_links(&ctr), ["lo"]);
    net.call("DEL", &other, "pt1").run(&pt).ok();
    // IPv6 DAD finds a duplicate: the master's peer already holds the address
    net.host
        .ip(&["addr", "add", "fd00:78::2/64", "dev", "mvm0p", "nodad"]);
    let c = net.conf(
        v,
        json!({"ipam": {"type": "static",
                        "addresses": [{"address": "fd00:78::2/64", "gateway": "fd00:78::1"}]}}),
    );
    let (_, msg) = net.call("ADD", &ctr, "dad").run(&c).err();
    assert!(msg.contains("DADFAILED"), "{msg}");
    assert_eq!(ctr_links(&ctr), ["lo"]);
    net.assert_clean("rollback", &[&ctr, &holder, &other]);
}

// checklist 23: DEL releases IPAM with the netns empty or gone, and never
// needs the master
#[test]
fn conformance_23_del_without_netns_or_master() {
    require_root!();
    let net = Net::new();
    let c = net.conf(Version::V1_0_0, json!({}));
    // CNI_NETNS empty
    let ctr = TestNs::new("a");
    net.call("ADD", &ctr, "a").run(&c).ok();
    net.call("DEL", &ctr, "a").netns_path("").run(&c).ok();
    assert!(net.reservations().is_empty());
    net.call("DEL", &ctr, "a").run(&c).ok();
    // the netns is gone
    let ctr = TestNs::new("b");
    net.call("ADD", &ctr, "b").run(&c).ok();
    let path = ctr.path_str();
    drop(ctr);
    net.call("DEL", &TestNs::new("unused"), "b")
        .netns_path(&path)
        .run(&c)
        .ok();
    assert!(net.reservations().is_empty());
    // the master is gone (and took the macvlan with it), and with no
    // `master` and no default route DEL still needs no lookup
    let ctr = TestNs::new("c");
    net.call("ADD", &ctr, "c").run(&c).ok();
    net.host.ip(&["link", "del", MASTER]);
    net.call("DEL", &ctr, "c").run(&c).ok();
    let mut no_master = c.clone();
    no_master["master"] = json!("");
    net.call("DEL", &ctr, "c").run(&no_master).ok();
    net.assert_clean("netns-less DEL", &[&ctr]);
}

// checklist 25: CHECK fails when what ADD made has changed
#[test]
fn conformance_25_check_fails_after_changes() {
    require_root!();
    let net = Net::new();
    for what in ["mode", "address", "route", "mac", "master", "not macvlan"] {
        let ctr = TestNs::new("chk");
        let mut c = net.conf(Version::V1_0_0, json!({}));
        c["ipam"]["routes"] = json!([{"dst": "0.0.0.0/0"}]);
        let r = net.call("ADD", &ctr, "chk").run(&c).ok();
        let mut cc = c.clone();
        cc["prevResult"] = r.clone();
        net.call("CHECK", &ctr, "chk").run(&cc).ok();
        match what {
            "mode" => cc["mode"] = json!("private"),
            "address" => {
                ctr.ip(&[
                    "addr",
                    "del",
                    r["ips"][0]["address"].as_str().unwrap(),
                    "dev",
                    "eth0",
                ]);
            }
            "route" => {
                ctr.ip(&["route", "del", "default"]);
            }
            "mac" => cc["prevResult"]["interfaces"][0]["mac"] = json!("0e:00:00:00:00:99"),
            "master" => {
                add_master(&net.host, "other0");
                cc["master"] = json!("other0");
            }
            _ => {
                ctr.ip(&["link", "del", "eth0"]);
                ctr.ip(&[
                    "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p",
                ]);
            }
        }
        let (code, msg) = net.call("CHECK", &ctr, "chk").run(&cc).err();
        assert_eq!(code, 999, "{what}: {msg}");
        eprintln!("{what}: {msg}");
        net.call("DEL", &ctr, "chk").run(&c).ok();
        net.assert_clean(what, &[&ctr]);
    }
}

// checklist 28: GC and STATUS go to the IPAM plugin
#[test]
fn conformance_28_gc_and_status_delegate_to_ipam() {
    require_root!();
    let net = Net::new();
    let (a, b) = (TestNs::new("a"), TestNs::new("b"));
    let c = net.conf(Version::V1_1_0, json!({}));
    net.call("ADD", &a, "keep").run(&c).ok();
    net.call("ADD", &b, "stale").run(&c).ok();
    let plugin = |cmd: &str| {
        Call::new(plugin_path("macvlan"), cmd)
            .cid("")
            .ifname("")
            .in_host(&net.host)
    };
    let mut g = c.clone();
    g["cni.dev/valid-attachments"] = json!([{"containerID": "keep", "ifname": "eth0"}]);
    plugin("GC").run(&g).ok();
    assert_eq!(net.reservations().len(), 1);
    plugin("STATUS").run(&c).ok();
    // "keep" holds 10.78.0.2, the only address of this /30 in the same store
    let full = net.conf(Version::V1_1_0, json!({"ipam": net.ipam("10.78.0.0/30")}));
    assert_eq!(plugin("STATUS").run(&full).err().0, 50);
    // without IPAM there is nothing to collect or ask
    let l2 = net.conf(Version::V1_1_0, json!({"ipam": {}}));
    plugin("GC").run(&l2).ok();
    plugin("STATUS").run(&l2).ok();
    net.call("DEL", &a, "keep").run(&c).ok();
    net.call("DEL", &b, "stale").run(&c).ok();
    net.assert_clean("gc", &[&a, &b]);
}

fn go_macvlan() -> Option<PathBuf> {
    let p = go_plugin("macvlan");
    if p.is_none() || go_plugin("host-local").is_none() {
        eprintln!("skipped: Go plugins not installed at {GO_PLUGIN_DIR}");
        return None;
    }
    p
}

#[test]
fn interop_with_go_macvlan() {
    require_root!();
    let Some(go) = go_macvlan() else { return };
    let net = Net::new();
    let c = net.conf(Version::V1_0_0, json!({"mode": "bridge"}));
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
    assert_eq!(eth0(&ctr).parent, Some(net.master().index));
    let mut cc = c.clone();
    cc["prevResult"] = r;
    net.call("CHECK", &ctr, "goadd").run(&cc).ok();
    net.call("DEL", &ctr, "goadd").run(&c).ok();
    net.assert_clean("go add, rust del", &[&ctr]);
    // our ADD; Go's CHECK and DEL
    let ctr = TestNs::new("go2");
    let r = net.call("ADD", &ctr, "rsadd").run(&c).ok();
    let mut cc = c.clone();
    cc["prevResult"] = r;
    go_call("CHECK", &ctr, "rsadd").run(&cc).ok();
    go_call("DEL", &ctr, "rsadd").run(&c).ok();
    net.assert_clean("rust add, go del", &[&ctr]);
}

// checklist 1, 2 and 13: VERSION lists every version; GC and STATUS are
// refused below 1.1.0
#[test]
fn conformance_02_versions_and_gates() {
    let out = Call::new(plugin_path("macvlan"), "VERSION").run_raw(b"");
    let all: Vec<&str> = Version::ALL.iter().map(|v| v.as_str()).collect();
    assert_eq!(
        out.ok(),
        json!({"cniVersion": "1.1.0", "supportedVersions": all})
    );
    for cmd in ["GC", "STATUS"] {
        let (code, msg) = Call::new(plugin_path("macvlan"), cmd)
            .cid("")
            .ifname("")
            .run(&json!({"cniVersion": "1.0.0", "name": "n", "type": "macvlan"}))
            .err();
        assert_eq!(code, 1, "{cmd}: {msg}");
    }
}

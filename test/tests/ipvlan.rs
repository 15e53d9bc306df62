//! ipvlan, executed as a runtime would, in scratch namespaces. The master
//! is one end of a veth pair inside the fake host (`ipm0`, peer `ipm0p`),
//! both up. Every test but the last two needs a kernel with ipvlan (the VM
//! stage of test_linux.sh runs them where the machine's kernel has none);
//! the refusal of a kernel without it is tested where that is the case.
//! Interop with Debian's Go ipvlan.

use std::net::SocketAddr;

use integration::*;
use ipvlan::link::{self as ipv, Mode};
use pkg::netlink::Link;
use serde_json::{Value, json};

const MASTER: &str = "ipm0";

/// The network `ipvnet` on 10.83.0.0/24, on the master `ipm0`.
fn net() -> Fixture {
    let net = Fixture::new("ipvlan", "ipvnet").keys(json!({"master": MASTER}));
    let net = net.ipam_ranges(json!([[{"subnet": "10.83.0.0/24"}]]));
    add_master(&net.host, MASTER);
    net
}

fn master(net: &Fixture) -> Link {
    net.host_link(MASTER).expect("the master")
}

fn eth0(ctr: &TestNs) -> Link {
    link_in(ctr, "eth0").expect("eth0 in the container")
}

// Documentation/conformance.md items 17, 18 and 22: the result in each
// version's shape, the ipvlan in the kernel, CHECK passes, DEL twice. The
// host has an `eth0` of its own, which does not get in the way.
#[test]
fn conformance_18_add_check_del_every_version() {
    require_root!();
    require_kernel!("ipvlan");
    let net = net();
    net.host.ip(&[
        "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p",
    ]);
    let host_before = link_names(&net.host);
    net.add_check_del_every_version(|v, ctr, a| {
        let r = &a.result;
        let link = eth0(ctr);
        assert_eq!(link.kind.as_deref(), Some("ipvlan"));
        assert_eq!(ipv::mode_of(&link), Some(Mode::L2));
        assert_eq!(link.parent, Some(master(&net).index));
        assert!(link.link_netnsid.is_some(), "the master is in the host");
        assert!(link.is_up());
        assert_eq!(link.mtu, master(&net).mtu);
        assert_eq!(link.mac, master(&net).mac, "an ipvlan has its master's MAC");
        let addrs = ctr
            .netlink()
            .addr_list(Some(link.index), Some(true))
            .unwrap();
        assert_eq!(addrs.len(), 1);
        assert_eq!(addrs[0].address.addr(), a.ip(0));
        for p in [
            "/proc/sys/net/ipv4/conf/eth0/arp_notify",
            "/proc/sys/net/ipv6/conf/eth0/ndisc_notify",
        ] {
            assert_eq!(sysctl_in(ctr, p), "1", "{p}");
        }
        assert_eq!(
            link_names(&net.host),
            host_before,
            "nothing new in the host"
        );
        assert_eq!(link_names(ctr), ["eth0", "lo"], "no temporary name left");
        assert_one_link_result(r, v, &link, ctr, "10.83.0.1");
    });
    assert_eq!(link_names(&net.host), host_before);
}

/// Two containers on one master reach each other in each mode (the mode
/// belongs to the master in the kernel: each mode gets a master of its
/// own).
#[test]
fn containers_on_one_master_reach_each_other() {
    require_root!();
    require_kernel!("ipvlan");
    let net = net();
    for (mode, m, port) in [(Mode::L2, MASTER, 7501), (Mode::L3, "ipl3", 7502)] {
        if m != MASTER {
            add_master(&net.host, m);
        }
        let (a, b) = (TestNs::new("a"), TestNs::new("b"));
        let c = net.conf(Version::V1_1_0, json!({"master": m, "mode": mode.as_str()}));
        let ra = net.add(&a, "a", &c);
        let rb = net.add(&b, "b", &c);
        assert_eq!(ipv::mode_of(&eth0(&a)), Some(mode));
        let target = SocketAddr::new(rb.ip(0), port);
        let peer = tcp_probe(&b, target, &a, target).unwrap();
        assert_eq!(peer.ip(), ra.ip(0), "{}", mode.as_str());
        ra.check_ok();
        rb.check_ok();
        ra.del();
        rb.del();
        assert_clean(&net, mode.as_str(), &[&a, &b]);
    }
    // l3s: the kernel accepts and reports it
    let ctr = TestNs::new("l3s");
    add_master(&net.host, "ipl3s");
    let a = net.add(
        &ctr,
        "l3s",
        &net.conf(Version::V1_1_0, json!({"master": "ipl3s", "mode": "l3s"})),
    );
    assert_eq!(ipv::mode_of(&eth0(&ctr)), Some(Mode::L3s));
    a.check_ok();
    a.del();
    assert_clean(&net, "l3s", &[&ctr]);
}

/// Chained without `master`: the one interface of prevResult is the
/// master; without `ipam.type`, prevResult's addresses are configured and
/// no IPAM plugin runs (DEL needs none either).
#[test]
fn chained_master_and_addresses_from_prev_result() {
    require_root!();
    require_kernel!("ipvlan");
    let net = net();
    let ctr = TestNs::new("chain");
    let prev = |interfaces: Value, ips: Value| {
        json!({"cniVersion": "1.1.0", "interfaces": interfaces, "ips": ips,
               "routes": [{"dst": "192.0.2.0/24"}], "dns": {"nameservers": ["10.83.9.9"]}})
    };
    let one = json!([{"name": MASTER}]);
    // master from prevResult, addresses from IPAM
    let mut c = net.conf(Version::V1_1_0, json!({"master": ""}));
    c["prevResult"] = prev(one.clone(), json!([]));
    let a = net.add(&ctr, "ch1", &c);
    assert_eq!(eth0(&ctr).parent, Some(master(&net).index));
    assert_eq!(net.held().len(), 1);
    a.del();
    assert_clean(&net, "chained master", &[&ctr]);
    // master and addresses from prevResult
    let mut c = net.conf(Version::V1_1_0, json!({"master": "", "ipam": {}}));
    c["prevResult"] = prev(
        one,
        json!([{"interface": 0, "address": "10.83.7.2/24", "gateway": "10.83.7.1"}]),
    );
    let a = net.add(&ctr, "ch2", &c);
    assert!(net.reservations().is_empty(), "no IPAM ran");
    assert_eq!(
        a.result,
        json!({"cniVersion": "1.1.0",
               "interfaces": [{"name": "eth0", "mac": eth0(&ctr).mac_string(), "sandbox": ctr.path_str()}],
               "ips": [{"interface": 0, "address": "10.83.7.2/24", "gateway": "10.83.7.1"}],
               "routes": [{"dst": "192.0.2.0/24"}]})
    );
    let routes = output_in(&ctr, "ip", &["route"]);
    assert!(
        routes.contains("192.0.2.0/24 via 10.83.7.1 dev eth0"),
        "{routes}"
    );
    a.check_ok();
    a.del();
    assert_clean(&net, "addresses from prevResult", &[&ctr]);
    // prevResult without a single named interface
    for interfaces in [
        json!([]),
        json!([{"name": "a"}, {"name": "b"}]),
        json!([{"name": ""}]),
    ] {
        let mut c = net.conf(Version::V1_1_0, json!({"master": ""}));
        c["prevResult"] = prev(interfaces.clone(), json!([]));
        let ctr = net.assert_add_refused(
            &c,
            "",
            7,
            "chained master failure. PrevResult lacks a single named interface",
            &interfaces.to_string(),
        );
        assert_clean(&net, "chained master failure", &[&ctr]);
    }
}

/// The master lives in the container netns; with no `master` the
/// container's default route names it.
#[test]
fn link_in_container() {
    require_root!();
    require_kernel!("ipvlan");
    let net = net();
    let ctr = TestNs::new("lic");
    let inner = add_master(&ctr, "inm0");
    let host_before = link_names(&net.host);
    for (extra, what) in [
        (json!({"linkInContainer": true, "master": "inm0"}), "named"),
        (
            json!({"linkInContainer": true, "master": ""}),
            "default route",
        ),
    ] {
        if what == "default route" {
            ctr.ip(&["addr", "add", "192.168.83.2/24", "dev", "inm0"]);
            ctr.ip(&["route", "add", "default", "via", "192.168.83.1"]);
        }
        let a = net.add(&ctr, "lic", &net.conf(Version::V1_1_0, extra));
        let link = eth0(&ctr);
        assert_eq!(link.kind.as_deref(), Some("ipvlan"), "{what}");
        assert_eq!(link.parent, Some(inner.index), "{what}");
        assert_eq!(link.link_netnsid, None, "{what}: same netns as its master");
        assert_eq!(link_names(&net.host), host_before, "{what}");
        a.check_ok();
        a.del();
        assert!(link_in(&ctr, "eth0").is_none());
    }
    assert!(net.held().is_empty());
}

/// Without `master` (and not chained), the host's default route picks it;
/// without a default route that is a clear error.
#[test]
fn master_defaults_to_the_default_route_interface() {
    require_root!();
    require_kernel!("ipvlan");
    let net = net();
    let ctr = TestNs::new("dflt");
    let c = net.conf(Version::V1_0_0, json!({"master": ""}));
    let (code, msg) = net.call("ADD", &ctr, "d").run(&c).expect_spec_error();
    assert_eq!(
        (code, msg.as_str()),
        (7, "no default route interface found")
    );
    let uplink = add_master(&net.host, "uplink0");
    net.host
        .ip(&["addr", "add", "192.168.84.2/24", "dev", "uplink0"]);
    net.host
        .ip(&["route", "add", "default", "via", "192.168.84.1"]);
    let a = net.add(&ctr, "d", &c);
    assert_eq!(eth0(&ctr).parent, Some(uplink.index));
    a.check_ok();
    a.del();
    assert_clean(&net, "default master", &[&ctr]);
}

#[test]
fn each_config_key() {
    require_root!();
    require_kernel!("ipvlan");
    let net = net();
    let ctr = TestNs::new("keys");
    let run = |extra: Value, check: &dyn Fn(&Link, &Value)| {
        let a = net.add(&ctr, "keys", &net.conf(Version::V1_1_0, extra));
        check(&eth0(&ctr), &a.result);
        a.check_ok();
        a.del();
    };
    run(json!({"mtu": 1400}), &|l, _| assert_eq!(l.mtu, 1400));
    run(
        json!({"dns": {"nameservers": ["10.83.0.53"], "domain": "example"}}),
        &|_, r| {
            assert_eq!(
                r["dns"],
                json!({"nameservers": ["10.83.0.53"], "domain": "example"})
            )
        },
    );
    // dual stack with IPAM routes; DAD runs (a shared segment), so ADD
    // returns once the address is no longer tentative
    let mut dual =
        net.host_local(json!([[{"subnet": "10.83.0.0/24"}], [{"subnet": "fd00:83::/64"}]]));
    dual["routes"] = json!([{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]);
    run(json!({ "ipam": dual }), &|l, r| {
        assert_eq!(r["ips"][1]["interface"], 0, "{r}");
        let v6 = ctr.netlink().addr_list(Some(l.index), Some(false)).unwrap();
        assert!(
            v6.iter()
                .any(|a| a.is_global_unicast() && !a.is_tentative()),
            "{v6:?}"
        );
        let routes = output_in(&ctr, "ip", &["-6", "route"]);
        assert!(routes.contains("default via fd00:83::1"), "{routes}");
    });
    assert_clean(&net, "keys", &[&ctr]);
}

// Documentation/conformance.md item 19: the ifname already exists; and
// other bad input, with nothing left behind
#[test]
fn conformance_19_bad_input_leaves_nothing_behind() {
    require_root!();
    require_kernel!("ipvlan");
    let net = net();
    let v = Version::V1_0_0;
    let cases: Vec<(Value, u64, &str)> = vec![
        (
            json!({"mode": "bridge"}),
            7,
            "unknown ipvlan mode: \"bridge\"",
        ),
        (json!({"mode": "L3"}), 7, "unknown ipvlan mode: \"L3\""),
        (
            json!({"mtu": 9000}),
            7,
            "invalid MTU 9000, must be [0, master MTU(1500)]",
        ),
        (json!({"mtu": -1}), 7, "invalid MTU -1"),
        (
            json!({"master": "nosuch0"}),
            7,
            "failed to lookup master \"nosuch0\": no such interface in the host netns",
        ),
        (json!({"master": ""}), 7, "no default route interface found"),
        (
            json!({"master": "much-too-long-name"}),
            7,
            "invalid master name",
        ),
        (json!({"master": 5}), 6, "network config"),
        (
            json!({"ipam": {}}),
            7,
            "ipvlan interface requires an IPAM configuration",
        ),
        (
            json!({"ipam": {"type": "no-such-ipam"}}),
            7,
            "failed to find plugin \"no-such-ipam\"",
        ),
    ];
    let cases = cases
        .into_iter()
        .map(|(extra, code, msg)| (extra, "", code, msg));
    assert_each_refused_leaving_nothing(&net, v, cases);
    assert_taken_ifname_and_missing_netns_refused(&net, &net.conf(v, json!({})));
}

// Documentation/conformance.md items 27 and 24: failures after the link
// exists remove it and give the address back; DEL after a failed ADD
// succeeds
#[test]
fn conformance_27_rollback_after_the_link_exists() {
    require_root!();
    require_kernel!("ipvlan");
    let net = net();
    let v = Version::V1_0_0;
    let ctr = TestNs::new("rb");
    // IPAM fails: the range is exhausted by another container
    let tiny = net.conf(
        v,
        json!({"ipam": net.host_local(json!([[{"subnet": "10.83.0.0/30"}]]))}),
    );
    let holder_ns = assert_add_refused_when_the_range_is_full(&net, &ctr, &tiny, &tiny);
    // a route from IPAM that cannot be added
    let c = net.conf(
        v,
        json!({"ipam": {"type": "static", "addresses": [{"address": "10.83.0.50/24"}],
                        "routes": [{"dst": "192.0.2.0/24", "gw": "203.0.113.1"}]}}),
    );
    assert_add_refused_when_a_route_fails(&net, &ctr, &c);
    // IPv6 DAD finds a duplicate: the master's peer already holds the
    // address
    net.host
        .ip(&["addr", "add", "fd00:83::2/64", "dev", "ipm0p", "nodad"]);
    assert_add_refused_for_a_duplicate_address(&net, &ctr, v, "fd00:83::2/64", "fd00:83::1");
    assert_clean(&net, "rollback", &[&ctr, &holder_ns]);
}

// Documentation/conformance.md item 23: DEL releases IPAM with the netns
// empty or gone, and needs neither the master nor a default route (Go's
// DEL resolves the master and fails without one)
#[test]
fn conformance_23_del_without_netns_master_or_default_route() {
    require_root!();
    require_kernel!("ipvlan");
    let net = net();
    let c = net.conf(Version::V1_0_0, json!({}));
    let ctr = TestNs::new("a");
    let a = net.add(&ctr, "a", &c);
    net.call("DEL", &ctr, "a")
        .netns_path("")
        .run(&c)
        .expect_success();
    assert!(net.held().is_empty());
    a.del();
    let ctr = TestNs::new("b");
    let b = net.add(&ctr, "b", &c);
    drop(ctr);
    b.del();
    assert!(net.held().is_empty());
    let ctr = TestNs::new("c");
    let c_att = net.add(&ctr, "c", &c);
    net.host.ip(&["link", "del", MASTER]);
    c_att.del();
    let mut no_master = c.clone();
    no_master["master"] = json!("");
    net.call("DEL", &ctr, "c").run(&no_master).expect_success();
    assert_clean(&net, "netns-less DEL", &[&ctr]);
}

/// DEL also removes a link a killed ADD left under the temporary name.
#[test]
fn del_removes_a_link_left_under_the_temporary_name() {
    require_root!();
    let net = net();
    assert_del_removes_a_link_left_under_the_temporary_name(
        &net,
        &net.conf(Version::V1_0_0, json!({})),
    );
}

// Documentation/conformance.md item 25: CHECK fails when what ADD made has
// changed
#[test]
fn conformance_25_check_fails_after_changes() {
    require_root!();
    require_kernel!("ipvlan");
    let net = net();
    let cases = [
        (
            "mode",
            "container ipvlan mode l2 does not match expected value: l3",
        ),
        ("address", "not found on eth0"),
        ("route", "expected route 0.0.0.0/0"),
        ("mac", "MAC 0e:00:00:00:00:99 doesn't match"),
        ("master", "container interface eth0 is not on master other0"),
        ("not ipvlan", "container interface eth0 is not an ipvlan"),
    ];
    for (what, want) in cases {
        let ctr = TestNs::new("chk");
        let mut c = net.conf(Version::V1_0_0, json!({}));
        c["ipam"]["routes"] = json!([{"dst": "0.0.0.0/0"}]);
        let a = net.add(&ctr, "chk", &c);
        a.check_ok();
        let mut cc = with_prev(&c, &a.result);
        match what {
            "mode" => cc["mode"] = json!("l3"),
            "address" => {
                let cidr = a.cidr(0).to_string();
                ctr.ip(&["addr", "del", &cidr, "dev", "eth0"]);
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
        let (code, msg) = net.call("CHECK", &ctr, "chk").run(&cc).expect_spec_error();
        assert_eq!(code, 999, "{what}: {msg}");
        assert!(msg.contains(want), "{what}: {msg}");
        a.del();
        assert_clean(&net, what, &[&ctr]);
    }
}

// Documentation/conformance.md item 28: GC and STATUS go to the IPAM
// plugin, when there is one
#[test]
fn conformance_28_gc_and_status_delegate_to_ipam() {
    require_root!();
    require_kernel!("ipvlan");
    let net = net();
    let c = net.conf(Version::V1_1_0, json!({}));
    let full = net.conf(
        Version::V1_1_0,
        json!({"ipam": net.host_local(json!([[{"subnet": "10.83.0.0/30"}]]))}),
    );
    assert_gc_and_status_delegate_to_ipam(&net, &c, &c, &full);
    // chained without IPAM: nothing to collect or ask
    let chained = net.conf(Version::V1_1_0, json!({"ipam": {}}));
    net.network_call("GC").run(&chained).expect_success();
    net.network_call("STATUS").run(&chained).expect_success();
}

#[test]
fn interop_with_go_ipvlan() {
    require_root!();
    require_kernel!("ipvlan");
    let Some(go) = require_go("ipvlan", &["host-local"]) else {
        return;
    };
    let net = net();
    let c = net.conf(Version::V1_0_0, json!({"mode": "l2"}));
    net.assert_interop_both_ways(
        &go,
        &c,
        true,
        |ctr, _| assert_eq!(eth0(ctr).parent, Some(master(&net).index)),
        |what, ctr| assert_clean(&net, what, &[ctr]),
    );
}

/// Where the kernel has no ipvlan (this project's development VM), ADD
/// says so and leaves nothing.
#[test]
fn add_without_kernel_support_names_the_module() {
    require_root!();
    let net = net();
    assert_add_refused_without_kernel_feature(
        &net,
        "ipvlan",
        &net.conf(Version::V1_0_0, json!({})),
        "failed to create ipvlan on master ipm0 for eth0: the kernel has no ipvlan support (module ipvlan)",
    );
}

// Documentation/conformance.md items 1, 2 and 13: VERSION lists every
// version; GC and STATUS are refused below 1.1.0
#[test]
fn conformance_02_versions_and_gates() {
    assert_every_version_and_gc_status_gates("ipvlan");
}

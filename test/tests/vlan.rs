//! vlan, executed as a runtime would, in scratch namespaces. The master is
//! one end of a veth pair inside the fake host (`vlm0`, peer `vlm0p`),
//! both up. Every test but the last two needs a kernel with 802.1Q (the
//! VM stage of test_linux.sh runs them where the machine's kernel has
//! none); the refusal of a kernel without it is tested where that is the
//! case. Interop with Debian's Go vlan.

use std::net::SocketAddr;

use integration::*;
use pkg::netlink::Link;
use serde_json::{Value, json};

const MASTER: &str = "vlm0";

/// The network `vlnet` on 10.82.0.0/24: VLAN 100 on the master `vlm0`.
fn net() -> Fixture {
    let net = Fixture::new("vlan", "vlnet").keys(json!({"master": MASTER, "vlanId": 100}));
    let net = net.ipam_ranges(json!([[{"subnet": "10.82.0.0/24"}]]));
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
// version's shape, the vlan in the kernel, CHECK passes, DEL twice. The
// host has an `eth0` of its own, which does not get in the way.
#[test]
fn conformance_18_add_check_del_every_version() {
    require_root!();
    require_kernel!("vlan");
    let net = net();
    net.host.ip(&[
        "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p",
    ]);
    let host_before = link_names(&net.host);
    net.add_check_del_every_version(|v, ctr, a| {
        let r = &a.result;
        let link = eth0(ctr);
        assert_eq!(link.kind.as_deref(), Some("vlan"));
        assert_eq!(vlan::link::id_of(&link), Some(100));
        assert_eq!(link.parent, Some(master(&net).index));
        assert!(link.link_netnsid.is_some(), "the master is in the host");
        assert!(link.is_up());
        assert_eq!(link.mtu, master(&net).mtu);
        let addrs = ctr
            .netlink()
            .addr_list(Some(link.index), Some(true))
            .unwrap();
        assert_eq!(addrs.len(), 1);
        assert_eq!(addrs[0].address.addr(), a.ip(0));
        assert_eq!(
            link_names(&net.host),
            host_before,
            "nothing new in the host"
        );
        assert_eq!(link_names(ctr), ["eth0", "lo"], "no temporary name left");
        assert_one_link_result(r, v, &link, ctr, "10.82.0.1");
    });
    assert_eq!(link_names(&net.host), host_before);
}

/// Two vlans with different ids on one master; a second link with an id
/// the master already carries is refused, leaving nothing. Traffic: the
/// master's peer carries VLANs 100 and 200 of two more containers; only
/// containers of the same id reach each other.
#[test]
fn two_vlans_on_one_master_and_traffic() {
    require_root!();
    require_kernel!("vlan");
    let net = net();
    let ctrs: Vec<TestNs> = (0..4).map(|_| TestNs::new("vl")).collect();
    let conf =
        |master: &str, id: u16| net.conf(Version::V1_1_0, json!({"master": master, "vlanId": id}));
    let a = net.add(&ctrs[0], "a", &conf(MASTER, 100));
    let b = net.add(&ctrs[1], "b", &conf(MASTER, 200));
    assert_eq!(vlan::link::id_of(&eth0(&ctrs[1])), Some(200));
    assert_eq!(eth0(&ctrs[0]).parent, eth0(&ctrs[1]).parent);
    let dup = TestNs::new("dup");
    let (code, msg) = net
        .call("ADD", &dup, "dup")
        .run(&conf(MASTER, 100))
        .expect_spec_error();
    assert_eq!(code, 999, "{msg}");
    assert!(
        msg.contains("failed to create vlan 100 on master vlm0 for eth0 (a master carries one vlan link per id"),
        "{msg}"
    );
    assert_eq!(link_names(&dup), ["lo"]);
    assert_eq!(net.held().len(), 2);
    let peer = format!("{MASTER}p");
    let c = net.add(&ctrs[2], "c", &conf(&peer, 100));
    let d = net.add(&ctrs[3], "d", &conf(&peer, 200));
    for (from, to, att, port, reach) in [
        (&ctrs[0], &ctrs[2], &c, 7401, true),
        (&ctrs[1], &ctrs[3], &d, 7402, true),
        (&ctrs[0], &ctrs[3], &d, 7403, false),
    ] {
        let target = SocketAddr::new(att.ip(0), port);
        let probe = tcp_probe(to, target, from, target);
        assert_eq!(
            probe.is_ok(),
            reach,
            "{} -> {}: {probe:?}",
            from.name,
            to.name
        );
    }
    for att in [&a, &b, &c, &d] {
        att.check_ok();
        att.del();
    }
    let all: Vec<&TestNs> = ctrs.iter().chain([&dup]).collect();
    assert_clean(&net, "two vlans", &all);
}

/// The master lives in the container netns, and so does the vlan.
#[test]
fn link_in_container() {
    require_root!();
    require_kernel!("vlan");
    let net = net();
    let ctr = TestNs::new("lic");
    let inner = add_master(&ctr, "inm0");
    let host_before = link_names(&net.host);
    let c = net.conf(
        Version::V1_1_0,
        json!({"linkInContainer": true, "master": "inm0", "vlanId": 7}),
    );
    let a = net.add(&ctr, "lic", &c);
    let link = eth0(&ctr);
    assert_eq!(link.kind.as_deref(), Some("vlan"));
    assert_eq!(link.parent, Some(inner.index));
    assert_eq!(link.link_netnsid, None, "same netns as its master");
    assert_eq!(link_names(&net.host), host_before);
    a.check_ok();
    // the same name in the host is no master of the container's
    let mut wrong = c.clone();
    wrong["linkInContainer"] = json!(false);
    let (code, msg) = net
        .call("ADD", &TestNs::new("lic2"), "lic2")
        .run(&wrong)
        .expect_spec_error();
    assert_eq!(code, 7, "{msg}");
    assert!(
        msg.contains("failed to lookup master \"inm0\": no such interface in the host netns"),
        "{msg}"
    );
    a.del();
    assert!(link_in(&ctr, "eth0").is_none());
    assert!(net.held().is_empty());
}

#[test]
fn each_config_key() {
    require_root!();
    require_kernel!("vlan");
    let net = net();
    let ctr = TestNs::new("keys");
    let run = |extra: Value, check: &dyn Fn(&Link, &Value)| {
        let a = net.add(&ctr, "keys", &net.conf(Version::V1_1_0, extra));
        check(&eth0(&ctr), &a.result);
        a.check_ok();
        a.del();
    };
    run(json!({"mtu": 1400}), &|l, _| assert_eq!(l.mtu, 1400));
    run(json!({"mtu": 1500}), &|l, _| assert_eq!(l.mtu, 1500));
    run(json!({"vlanId": 0}), &|l, _| {
        assert_eq!(vlan::link::id_of(l), Some(0))
    });
    run(json!({"VlanID": 4094}), &|l, _| {
        assert_eq!(vlan::link::id_of(l), Some(4094))
    });
    run(
        json!({"dns": {"nameservers": ["10.82.0.53"], "domain": "example"}}),
        &|_, r| {
            assert_eq!(
                r["dns"],
                json!({"nameservers": ["10.82.0.53"], "domain": "example"})
            )
        },
    );
    assert_clean(&net, "keys", &[&ctr]);
}

// Documentation/conformance.md item 19: the ifname already exists; and
// other bad input, with nothing left behind
#[test]
fn conformance_19_bad_input_leaves_nothing_behind() {
    require_root!();
    require_kernel!("vlan");
    let net = net();
    let v = Version::V1_0_0;
    let cases: Vec<(Value, u64, &str)> = vec![
        (
            json!({"vlanId": 5000}),
            7,
            "invalid VLAN ID 5000 (must be between 0 and 4094 inclusive)",
        ),
        (json!({"vlanId": 4095}), 7, "invalid VLAN ID 4095"),
        (json!({"vlanId": -1}), 7, "invalid VLAN ID -1"),
        (json!({"vlanId": "100"}), 6, "network config"),
        (json!({"master": null}), 7, "\"master\" field is required"),
        (json!({"master": ""}), 7, "\"master\" field is required"),
        (
            json!({"master": "nosuch0"}),
            7,
            "failed to lookup master \"nosuch0\": no such interface in the host netns",
        ),
        (
            json!({"master": "much-too-long-name"}),
            7,
            "invalid master name",
        ),
        (
            json!({"mtu": 9000}),
            7,
            "invalid MTU 9000, must be [0, master MTU(1500)]",
        ),
        (json!({"mtu": -1}), 7, "invalid MTU -1"),
        (
            json!({"ipam": {}}),
            7,
            "vlan interface requires an IPAM configuration",
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
    require_kernel!("vlan");
    let net = net();
    let v = Version::V1_0_0;
    let ctr = TestNs::new("rb");
    // IPAM fails: the range is exhausted by another container
    let tiny = net.conf(
        v,
        json!({"ipam": net.host_local(json!([[{"subnet": "10.82.0.0/30"}]]))}),
    );
    let holder_ns =
        assert_add_refused_when_the_range_is_full(&net, &ctr, &tiny, &with_vlan(&tiny, 101));
    // a route from IPAM that cannot be added
    let c = net.conf(
        v,
        json!({"ipam": {"type": "static", "addresses": [{"address": "10.82.0.50/24"}],
                        "routes": [{"dst": "192.0.2.0/24", "gw": "203.0.113.1"}]}}),
    );
    assert_add_refused_when_a_route_fails(&net, &ctr, &c);
    // IPv6 DAD finds a duplicate: VLAN 100 on the master's peer already
    // holds the address
    let peer = format!("{MASTER}p");
    net.host.ip(&[
        "link", "add", "link", &peer, "name", "vp100", "type", "vlan", "id", "100",
    ]);
    net.host
        .ip(&["addr", "add", "fd00:82::2/64", "dev", "vp100", "nodad"]);
    net.host.ip(&["link", "set", "vp100", "up"]);
    assert_add_refused_for_a_duplicate_address(&net, &ctr, v, "fd00:82::2/64", "fd00:82::1");
    assert_clean(&net, "rollback", &[&ctr, &holder_ns]);
}

fn with_vlan(conf: &Value, id: u16) -> Value {
    let mut c = conf.clone();
    c["vlanId"] = json!(id);
    c
}

// Documentation/conformance.md item 23: DEL releases IPAM with the netns
// empty or gone, and with the master gone
#[test]
fn conformance_23_del_without_netns_or_master() {
    require_root!();
    require_kernel!("vlan");
    let net = net();
    let c = net.conf(Version::V1_0_0, json!({}));
    // CNI_NETNS empty
    let ctr = TestNs::new("a");
    let a = net.add(&ctr, "a", &c);
    net.call("DEL", &ctr, "a")
        .netns_path("")
        .run(&c)
        .expect_success();
    assert!(net.held().is_empty());
    a.del();
    // the netns is gone (the kernel removes its vlan in the background:
    // the next one takes another id)
    let ctr = TestNs::new("b");
    let b = net.add(&ctr, "b", &with_vlan(&c, 101));
    drop(ctr);
    b.del();
    assert!(net.held().is_empty());
    // the master is gone (and took the vlan with it): Go's DEL fails
    // looking it up and keeps the address; so would a config that no
    // longer validates
    let ctr = TestNs::new("c");
    let c_att = net.add(&ctr, "c", &with_vlan(&c, 102));
    net.host.ip(&["link", "del", MASTER]);
    c_att.del();
    let mut invalid = c.clone();
    invalid["vlanId"] = json!(5000);
    net.call("DEL", &ctr, "c").run(&invalid).expect_success();
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
    require_kernel!("vlan");
    let net = net();
    let cases = [
        (
            "vlan id",
            "container vlan id 100 does not match expected value: 101",
        ),
        (
            "mtu",
            "container interface eth0 MTU 1500 does not match expected value: 1400",
        ),
        ("address", "not found on eth0"),
        ("route", "expected route 0.0.0.0/0"),
        ("mac", "MAC 0e:00:00:00:00:99 doesn't match"),
        ("master", "container interface eth0 is not on master other0"),
        ("no master", "failed to lookup master \"nosuch0\""),
        ("not vlan", "container interface eth0 is not a vlan"),
    ];
    for (what, want) in cases {
        let ctr = TestNs::new("chk");
        let mut c = net.conf(Version::V1_0_0, json!({}));
        c["ipam"]["routes"] = json!([{"dst": "0.0.0.0/0"}]);
        let a = net.add(&ctr, "chk", &c);
        a.check_ok();
        let mut cc = with_prev(&c, &a.result);
        match what {
            "vlan id" => cc["vlanId"] = json!(101),
            "mtu" => cc["mtu"] = json!(1400),
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
            "no master" => cc["master"] = json!("nosuch0"),
            _ => {
                ctr.ip(&["link", "del", "eth0"]);
                ctr.ip(&[
                    "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p",
                ]);
            }
        }
        let (_, msg) = net.call("CHECK", &ctr, "chk").run(&cc).expect_spec_error();
        assert!(msg.contains(want), "{what}: {msg}");
        a.del();
        assert_clean(&net, what, &[&ctr]);
    }
}

// Documentation/conformance.md item 28: GC and STATUS go to the IPAM
// plugin; STATUS of a config that cannot serve an ADD says why
#[test]
fn conformance_28_gc_and_status_delegate_to_ipam() {
    require_root!();
    require_kernel!("vlan");
    let net = net();
    let c = net.conf(Version::V1_1_0, json!({}));
    let full = net.conf(
        Version::V1_1_0,
        json!({"ipam": net.host_local(json!([[{"subnet": "10.82.0.0/30"}]]))}),
    );
    // two vlans of one ID cannot share the master
    assert_gc_and_status_delegate_to_ipam(&net, &c, &with_vlan(&c, 200), &full);
    let bad = with_vlan(&c, 5000);
    assert_eq!(
        net.network_call("STATUS").run(&bad).expect_spec_error().0,
        7
    );
}

#[test]
fn interop_with_go_vlan() {
    require_root!();
    require_kernel!("vlan");
    let Some(go) = require_go("vlan", &["host-local"]) else {
        return;
    };
    let net = net();
    let c = net.conf(Version::V1_0_0, json!({}));
    net.assert_interop_both_ways(
        &go,
        &c,
        true,
        |ctr, _| {
            assert_eq!(eth0(ctr).parent, Some(master(&net).index));
            assert_eq!(vlan::link::id_of(&eth0(ctr)), Some(100));
        },
        |what, ctr| assert_clean(&net, what, &[ctr]),
    );
}

/// Where the kernel has no 802.1Q (this project's development VM), ADD
/// says so and leaves nothing.
#[test]
fn add_without_kernel_support_names_the_module() {
    require_root!();
    let net = net();
    assert_add_refused_without_kernel_feature(
        &net,
        "vlan",
        &net.conf(Version::V1_0_0, json!({})),
        "failed to create vlan 100 on master vlm0 for eth0: the kernel has no vlan support (module 8021q)",
    );
}

// Documentation/conformance.md items 1, 2 and 13: VERSION lists every
// version; GC and STATUS are refused below 1.1.0
#[test]
fn conformance_02_versions_and_gates() {
    assert_every_version_and_gc_status_gates("vlan");
}

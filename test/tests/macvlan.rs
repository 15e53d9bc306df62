//! macvlan, executed as a runtime would, in scratch namespaces. The master
//! is one end of a veth pair inside the fake host (this kernel has no dummy
//! links); both ends are up so the master has carrier. Interop with
//! Debian's Go macvlan.

use std::net::SocketAddr;

use integration::*;
use macvlan::link::{self as mv, Mode};
use pkg::netlink::Link;
use serde_json::{Value, json};

const MASTER: &str = "mvm0";

/// The network `mvnet` on 10.78.0.0/24, in a fake host with the master
/// `mvm0` (peer `mvm0p`), both up.
fn net() -> Fixture {
    let net = Fixture::new("macvlan", "mvnet").keys(json!({"master": MASTER}));
    let net = net.ipam_ranges(json!([[{"subnet": "10.78.0.0/24"}]]));
    add_master(&net.host, MASTER);
    net
}

/// An `ipam` key over one subnet, in the fixture's store.
fn ipam(net: &Fixture, subnet: &str) -> Value {
    json!({"ipam": net.host_local(json!([[{"subnet": subnet}]]))})
}

fn master(net: &Fixture) -> Link {
    net.host_link(MASTER).expect("the master")
}

fn eth0(ctr: &TestNs) -> Link {
    link_in(ctr, "eth0").expect("eth0 in the container")
}

// Documentation/conformance.md items 17, 18 and 22: the result in each version's shape, the macvlan
// in the kernel, CHECK passes, DEL twice. The host has an `eth0` of its
// own, which the temporary name keeps out of the way.
#[test]
fn conformance_18_add_check_del_every_version() {
    require_root!();
    let net = net();
    net.host.ip(&[
        "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p",
    ]);
    let host_before = link_names(&net.host);
    net.add_check_del_every_version(|v, ctr, a| {
        let r = &a.result;
        let link = eth0(ctr);
        assert_eq!(link.kind.as_deref(), Some("macvlan"));
        assert_eq!(mv::mode_of(&link), Some(Mode::Bridge));
        assert_eq!(link.parent, Some(master(&net).index));
        assert!(link.is_up());
        assert_eq!(link.mtu, master(&net).mtu);
        let addrs = ctr
            .netlink()
            .addr_list(Some(link.index), Some(true))
            .unwrap();
        assert_eq!(addrs.len(), 1);
        assert_eq!(addrs[0].address.addr(), a.ip(0));
        assert_eq!(addrs[0].address.prefix_len(), 24);
        assert_eq!(
            sysctl_in(ctr, "/proc/sys/net/ipv4/conf/eth0/arp_notify"),
            "1"
        );
        assert_eq!(
            sysctl_in(ctr, "/proc/sys/net/ipv6/conf/eth0/ndisc_notify"),
            "1"
        );
        assert_eq!(
            link_names(&net.host),
            host_before,
            "nothing new in the host"
        );
        assert_eq!(link_names(ctr), ["eth0", "lo"], "no temporary name left");
        assert_one_link_result(r, v, &link, ctr, "10.78.0.1");
    });
    assert_eq!(link_names(&net.host), host_before);
}

#[test]
fn bridge_mode_containers_reach_each_other() {
    require_root!();
    let net = net();
    let (a, b) = (TestNs::new("a"), TestNs::new("b"));
    let c = net.conf(Version::V1_1_0, json!({"mode": "bridge"}));
    let ra = net.add(&a, "ca", &c);
    let rb = net.add(&b, "cb", &c);
    let (ipa, ipb) = (ra.ip(0), rb.ip(0));
    let peer = tcp_probe(
        &b,
        SocketAddr::new(ipb, 7201),
        &a,
        SocketAddr::new(ipb, 7201),
    )
    .unwrap();
    assert_eq!(peer.ip(), ipa);
    ra.del();
    rb.del();
    assert_clean(&net, "bridge mode", &[&a, &b]);
}

/// private: macvlans on one master cannot talk to each other. vepa sends
/// everything out of the master, and the master's peer here does not
/// reflect frames, so the result is the same.
#[test]
fn private_and_vepa_modes_isolate_containers() {
    require_root!();
    for mode in [Mode::Private, Mode::Vepa] {
        let net = net();
        let (a, b) = (TestNs::new("a"), TestNs::new("b"));
        let c = net.conf(Version::V1_0_0, json!({"mode": mode.as_str()}));
        let ra = net.add(&a, "ca", &c);
        let rb = net.add(&b, "cb", &c);
        assert_eq!(mv::mode_of(&eth0(&a)), Some(mode));
        let ipb = rb.ip(0);
        let probe = tcp_probe(
            &b,
            SocketAddr::new(ipb, 7202),
            &a,
            SocketAddr::new(ipb, 7202),
        );
        assert!(probe.is_err(), "{}: a reached b: {probe:?}", mode.as_str());
        rb.check().expect_success();
        ra.del();
        rb.del();
        assert_clean(&net, mode.as_str(), &[&a, &b]);
    }
}

/// No IPAM: the interface is up with no address, and frames flow (shown by
/// giving both ends an address by hand).
#[test]
fn l2_mode_without_ipam() {
    require_root!();
    let net = net();
    let (a, b) = (TestNs::new("a"), TestNs::new("b"));
    for v in Version::ALL {
        let c = net.conf(v, json!({"ipam": {}}));
        if v < Version::V0_3_0 {
            // A 0.1.0/0.2.0 result cannot express an interface without
            // addresses: refused before anything is created.
            let (code, msg) = net.call("ADD", &a, "l2").run(&c).expect_spec_error();
            assert_eq!(code, 7, "{msg}");
            assert!(msg.contains("no valid IP addresses"), "{msg}");
            assert_clean(&net, v.as_str(), &[&a]);
            continue;
        }
        let l2 = net.add(&a, "l2", &c);
        let r = &l2.result;
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
            l2.check().expect_success();
        }
        l2.del();
        assert_clean(&net, v.as_str(), &[&a]);
    }
    let c = net.conf(Version::V1_0_0, json!({"ipam": {}}));
    let ra = net.add(&a, "a", &c);
    let rb = net.add(&b, "b", &c);
    a.ip(&["addr", "add", "192.168.78.1/24", "dev", "eth0"]);
    b.ip(&["addr", "add", "192.168.78.2/24", "dev", "eth0"]);
    let target: SocketAddr = "192.168.78.2:7203".parse().unwrap();
    let peer = tcp_probe(&b, target, &a, target).unwrap();
    assert_eq!(peer.ip().to_string(), "192.168.78.1");
    ra.del();
    rb.del();
    assert_clean(&net, "l2", &[&a, &b]);
}

/// MAC precedence, lowest to highest: `mac`, `CNI_ARGS` `MAC=`,
/// `args.cni.mac`, `runtimeConfig.mac`.
#[test]
fn mac_request_honoured() {
    require_root!();
    let net = net();
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
        let call = net.call("ADD", &ctr, "mac").cni_args(args);
        let a = Attachment::add(call, &net.conf(Version::V1_0_0, extra.clone()));
        assert_eq!(a.result["interfaces"][0]["mac"], want, "{extra} {args}");
        assert_eq!(eth0(&ctr).mac_string(), want);
        a.check().expect_success();
        a.del();
    }
    assert_clean(&net, "mac", &[&ctr]);
}

/// The master lives in the container netns; with no `master` the
/// container's default route names it.
#[test]
fn link_in_container() {
    require_root!();
    let net = net();
    let ctr = TestNs::new("lic");
    add_master(&ctr, "inm0");
    let host_before = link_names(&net.host);
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
        let a = net.add(&ctr, "lic", &net.conf(Version::V1_1_0, extra));
        let link = eth0(&ctr);
        let master = link_in(&ctr, "inm0").unwrap();
        assert_eq!(link.kind.as_deref(), Some("macvlan"), "{what}");
        assert_eq!(link.parent, Some(master.index), "{what}");
        assert_eq!(link.link_netnsid, None, "{what}: same netns as its master");
        assert_eq!(link_names(&net.host), host_before, "{what}");
        a.check().expect_success();
        a.del();
        assert!(link_in(&ctr, "eth0").is_none());
    }
    assert!(net.held().is_empty());
}

/// Without `master`, the host's default route picks it; without a default
/// route that is a clear error.
#[test]
fn master_defaults_to_the_default_route_interface() {
    require_root!();
    let net = net();
    let ctr = TestNs::new("dflt");
    let c = net.conf(Version::V1_0_0, json!({"master": ""}));
    let (code, msg) = net.call("ADD", &ctr, "d").run(&c).expect_spec_error();
    assert_eq!(
        (code, msg.as_str()),
        (7, "no default route interface found")
    );
    add_master(&net.host, "uplink0");
    net.host
        .ip(&["addr", "add", "192.168.80.2/24", "dev", "uplink0"]);
    net.host
        .ip(&["route", "add", "default", "via", "192.168.80.1"]);
    let a = net.add(&ctr, "d", &c);
    let uplink = net.host_link("uplink0").unwrap();
    assert_eq!(eth0(&ctr).parent, Some(uplink.index));
    a.check().expect_success();
    a.del();
    assert_clean(&net, "default master", &[&ctr]);
}

#[test]
fn each_config_key() {
    require_root!();
    let net = net();
    let ctr = TestNs::new("keys");
    let run = |extra: Value, check: &dyn Fn(&Link, &Value)| {
        let a = net.add(&ctr, "keys", &net.conf(Version::V1_1_0, extra));
        check(&eth0(&ctr), &a.result);
        a.check().expect_success();
        a.del();
    };
    run(json!({"mtu": 1400}), &|l, _| assert_eq!(l.mtu, 1400));
    run(json!({"mtu": 1500}), &|l, _| assert_eq!(l.mtu, 1500));
    run(json!({"mode": "passthru"}), &|l, _| {
        assert_eq!(mv::mode_of(l), Some(Mode::Passthru))
    });
    run(json!({"bcqueuelen": 123}), &|l, _| {
        assert_eq!(mv::bc_queue_len_of(l), Some(123))
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
    let mut dual =
        net.host_local(json!([[{"subnet": "10.78.0.0/24"}], [{"subnet": "fd00:78::/64"}]]));
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
        assert!(routes.contains("default via fd00:78::1"), "{routes}");
    });
    assert_clean(&net, "keys", &[&ctr]);
}

// Documentation/conformance.md item 19: the ifname already exists; and other bad input, with nothing
// left behind
#[test]
fn conformance_19_bad_input_leaves_nothing_behind() {
    require_root!();
    let net = net();
    let v = Version::V1_0_0;
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
    assert_each_refused_leaving_nothing(&net, v, cases);
    assert_taken_ifname_and_missing_netns_refused(&net, &net.conf(v, json!({})));
}

// Documentation/conformance.md items 27 and 24: failures after the link exists remove it and give
// the address back; DEL after a failed ADD succeeds
#[test]
fn conformance_27_rollback_after_the_link_exists() {
    require_root!();
    let net = net();
    let v = Version::V1_0_0;
    let ctr = TestNs::new("rb");
    // the range is exhausted by another container
    let tiny = net.conf(v, ipam(&net, "10.78.0.0/30"));
    let holder_ns = assert_add_refused_when_the_range_is_full(&net, &ctr, &tiny, &tiny);
    // a route from IPAM that cannot be added
    let c = net.conf(
        v,
        json!({"ipam": {"type": "static", "addresses": [{"address": "10.78.0.50/24"}],
                        "routes": [{"dst": "192.0.2.0/24", "gw": "203.0.113.1"}]}}),
    );
    assert_add_refused_when_a_route_fails(&net, &ctr, &c);
    // the kernel refuses the link: passthru allows one macvlan per master
    let pt = net.conf(v, json!({"mode": "passthru", "ipam": {}}));
    let other = TestNs::new("pt");
    let first = net.add(&other, "pt1", &pt);
    let (code, msg) = net.call("ADD", &ctr, "pt2").run(&pt).expect_spec_error();
    assert_eq!(code, 999);
    assert!(
        msg.contains("failed to create macvlan on master mvm0 for eth0 (passthru mode takes"),
        "{msg}"
    );
    assert_eq!(link_names(&ctr), ["lo"]);
    first.del();
    // IPv6 DAD finds a duplicate: the master's peer already holds the address
    net.host
        .ip(&["addr", "add", "fd00:78::2/64", "dev", "mvm0p", "nodad"]);
    assert_add_refused_for_a_duplicate_address(&net, &ctr, v, "fd00:78::2/64", "fd00:78::1");
    assert_clean(&net, "rollback", &[&ctr, &holder_ns, &other]);
}

// Documentation/conformance.md item 23: DEL releases IPAM with the netns empty or gone, and never
// needs the master
#[test]
fn conformance_23_del_without_netns_or_master() {
    require_root!();
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
    // the netns is gone
    let ctr = TestNs::new("b");
    let b = net.add(&ctr, "b", &c);
    drop(ctr);
    b.del();
    assert!(net.held().is_empty());
    // the master is gone (and took the macvlan with it), and with no
    // `master` and no default route DEL still needs no lookup
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

// Documentation/conformance.md item 25: CHECK fails when what ADD made has changed
#[test]
fn conformance_25_check_fails_after_changes() {
    require_root!();
    let net = net();
    for what in ["mode", "address", "route", "mac", "master", "not macvlan"] {
        let ctr = TestNs::new("chk");
        let mut c = net.conf(Version::V1_0_0, json!({}));
        c["ipam"]["routes"] = json!([{"dst": "0.0.0.0/0"}]);
        let a = net.add(&ctr, "chk", &c);
        a.check().expect_success();
        let mut cc = with_prev(&c, &a.result);
        match what {
            "mode" => cc["mode"] = json!("private"),
            "address" => {
                ctr.ip(&[
                    "addr",
                    "del",
                    a.result["ips"][0]["address"].as_str().unwrap(),
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
        let (code, msg) = net.call("CHECK", &ctr, "chk").run(&cc).expect_spec_error();
        assert_eq!(code, 999, "{what}: {msg}");
        eprintln!("{what}: {msg}");
        a.del();
        assert_clean(&net, what, &[&ctr]);
    }
}

// Documentation/conformance.md item 28: GC and STATUS go to the IPAM plugin
#[test]
fn conformance_28_gc_and_status_delegate_to_ipam() {
    require_root!();
    let net = net();
    let c = net.conf(Version::V1_1_0, json!({}));
    // "keep" holds 10.78.0.2, the only address of this /30 in the same store
    let full = net.conf(Version::V1_1_0, ipam(&net, "10.78.0.0/30"));
    assert_gc_and_status_delegate_to_ipam(&net, &c, &c, &full);
    // without IPAM there is nothing to collect or ask
    let l2 = net.conf(Version::V1_1_0, json!({"ipam": {}}));
    net.network_call("GC").run(&l2).expect_success();
    net.network_call("STATUS").run(&l2).expect_success();
}

#[test]
fn interop_with_go_macvlan() {
    require_root!();
    let Some(go) = require_go("macvlan", &["host-local"]) else {
        return;
    };
    let net = net();
    let c = net.conf(Version::V1_0_0, json!({"mode": "bridge"}));
    net.assert_interop_both_ways(
        &go,
        &c,
        true,
        |ctr, _| assert_eq!(eth0(ctr).parent, Some(master(&net).index)),
        |what, ctr| assert_clean(&net, what, &[ctr]),
    );
}

// Documentation/conformance.md items 1, 2 and 13: VERSION lists every version; GC and STATUS are
// refused below 1.1.0
#[test]
fn conformance_02_versions_and_gates() {
    assert_every_version_and_gc_status_gates("macvlan");
}

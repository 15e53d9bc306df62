//! dummy, executed as a runtime would, in scratch namespaces. Every test
//! but the last two needs a kernel with dummy links (the VM stage of
//! test_linux.sh runs them where the machine's kernel has none); the
//! refusal of a kernel without them is tested where that is the case.

use std::net::SocketAddr;

use integration::*;
use pkg::netlink::Link;
use serde_json::{Value, json};

/// The network `dmnet` on 10.81.0.0/24 with a route to 10.181.0.0/16.
fn net() -> Fixture {
    let net = Fixture::new("dummy", "dmnet");
    let ipam = ipam_with_routes(&net, "10.81.0.0/24", json!([{"dst": "10.181.0.0/16"}]));
    net.keys(json!({ "ipam": ipam }))
}

fn eth0(ctr: &TestNs) -> Link {
    link_in(ctr, "eth0").expect("eth0 in the container")
}

// Documentation/conformance.md items 17, 18 and 22: the result in each
// version's shape, the dummy in the kernel with its address and route,
// CHECK passes, DEL twice. The host has an `eth0` of its own.
#[test]
fn conformance_18_add_check_del_every_version() {
    require_root!();
    require_kernel!("dummy");
    let net = net();
    net.host.ip(&[
        "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p",
    ]);
    let host_before = link_names(&net.host);
    net.add_check_del_every_version(|v, ctr, a| {
        let r = &a.result;
        let link = eth0(ctr);
        assert_eq!(link.kind.as_deref(), Some("dummy"));
        assert!(link.is_up());
        let addrs = ctr
            .netlink()
            .addr_list(Some(link.index), Some(true))
            .unwrap();
        assert_eq!(addrs.len(), 1);
        assert_eq!(addrs[0].address.addr(), a.ip(0));
        assert_eq!(addrs[0].address.prefix_len(), 24);
        let routes = output_in(ctr, "ip", &["route"]);
        assert!(
            routes.contains("10.181.0.0/16 via 10.81.0.1 dev eth0"),
            "{routes}"
        );
        assert_eq!(link_names(&net.host), host_before, "nothing in the host");
        assert_eq!(link_names(ctr), ["eth0", "lo"]);
        assert_one_link_result(r, v, &link, ctr, "10.81.0.1");
        if !matches!(v, Version::V0_1_0 | Version::V0_2_0) {
            assert_eq!(r["routes"], json!([{"dst": "10.181.0.0/16"}]));
        }
    });
    assert_eq!(link_names(&net.host), host_before);
}

/// Dual stack: a dummy does no DAD (it is NOARP), so the IPv6 address is
/// usable when ADD returns; traffic to the addresses stays in the
/// container.
#[test]
fn dual_stack_addresses_are_usable_at_once() {
    require_root!();
    require_kernel!("dummy");
    let net = net();
    let ctr = TestNs::new("dual");
    let mut ipam =
        net.host_local(json!([[{"subnet": "10.81.0.0/24"}], [{"subnet": "fd00:81::/64"}]]));
    ipam["routes"] = json!([{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]);
    let a = net.add(
        &ctr,
        "dual",
        &net.conf(Version::V1_1_0, json!({ "ipam": ipam })),
    );
    assert_eq!(a.result["ips"][1]["interface"], 0);
    let v6 = ctr
        .netlink()
        .addr_list(Some(eth0(&ctr).index), Some(false))
        .unwrap();
    assert!(
        v6.iter()
            .any(|x| x.is_global_unicast() && !x.is_tentative()),
        "{v6:?}"
    );
    for ip in [a.ip(0), a.ip(1)] {
        let target = SocketAddr::new(ip, 7301);
        tcp_probe(&ctr, target, &ctr, target).unwrap();
    }
    a.check_ok();
    a.del();
    assert_clean(&net, "dual stack", &[&ctr]);
}

// Documentation/conformance.md item 19: bad input, and the ifname
// already taken, with nothing left behind
#[test]
fn conformance_19_bad_input_leaves_nothing_behind() {
    require_root!();
    require_kernel!("dummy");
    let net = net();
    let v = Version::V1_0_0;
    let cases: Vec<(Value, u64, &str)> = vec![
        (
            json!({"ipam": null}),
            7,
            "dummy interface requires an IPAM configuration",
        ),
        (
            json!({"ipam": {}}),
            7,
            "dummy interface requires an IPAM configuration",
        ),
        (
            json!({"ipam": {"type": "no-such-ipam"}}),
            7,
            "failed to find plugin \"no-such-ipam\"",
        ),
        (json!({"ipam": {"type": 5}}), 6, "network config"),
    ];
    let cases = cases
        .into_iter()
        .map(|(extra, code, msg)| (extra, "", code, msg));
    assert_each_refused_leaving_nothing(&net, v, cases);
    assert_taken_ifname_and_missing_netns_refused(&net, &net.conf(v, json!({})));
}

// Documentation/conformance.md items 27 and 24: failures after the dummy
// exists remove it and give the address back; DEL after a failed ADD
// succeeds
#[test]
fn conformance_27_rollback_after_the_link_exists() {
    require_root!();
    require_kernel!("dummy");
    let net = net();
    let v = Version::V1_0_0;
    let ctr = TestNs::new("rb");
    // IPAM fails: the range is exhausted by another container
    let tiny = net.conf(
        v,
        json!({"ipam": net.host_local(json!([[{"subnet": "10.81.0.0/30"}]]))}),
    );
    let holder_ns = assert_add_refused_when_the_range_is_full(&net, &ctr, &tiny, &tiny);
    // IPAM succeeds, then a route cannot be added: the address goes back
    let c = net.conf(
        v,
        json!({"ipam": {"type": "host-local", "dataDir": net.dir.path(),
                        "ranges": [[{"subnet": "10.81.0.0/24"}]],
                        "routes": [{"dst": "192.0.2.0/24", "gw": "203.0.113.1"}]}}),
    );
    assert_add_refused_when_a_route_fails(&net, &ctr, &c);
    assert_clean(&net, "rollback", &[&ctr, &holder_ns]);
    net.call("DEL", &ctr, "route").run(&c).expect_success();
}

// Documentation/conformance.md item 23: DEL releases IPAM with the netns
// empty or gone
#[test]
fn conformance_23_del_without_netns() {
    require_root!();
    require_kernel!("dummy");
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
    b.del();
    assert!(net.held().is_empty());
}

// Documentation/conformance.md item 25: CHECK fails when what ADD made has
// changed
#[test]
fn conformance_25_check_fails_after_changes() {
    require_root!();
    require_kernel!("dummy");
    let net = net();
    let cases = [
        ("down", "interface eth0 is down"),
        ("address", "not found on eth0"),
        ("route", "expected route 10.181.0.0/16"),
        ("mac", "MAC 0e:00:00:00:00:99 doesn't match"),
        ("not dummy", "container interface eth0 is not a dummy"),
        ("gone", "not found in"),
    ];
    for (what, want) in cases {
        let ctr = TestNs::new("chk");
        let c = net.conf(Version::V1_0_0, json!({}));
        let a = net.add(&ctr, "chk", &c);
        a.check_ok();
        let mut cc = with_prev(&c, &a.result);
        match what {
            "down" => {
                ctr.ip(&["link", "set", "eth0", "down"]);
            }
            "address" => {
                let cidr = a.cidr(0).to_string();
                ctr.ip(&["addr", "del", &cidr, "dev", "eth0"]);
            }
            "route" => {
                ctr.ip(&["route", "del", "10.181.0.0/16"]);
            }
            "mac" => cc["prevResult"]["interfaces"][0]["mac"] = json!("0e:00:00:00:00:99"),
            "not dummy" => {
                ctr.ip(&["link", "del", "eth0"]);
                ctr.ip(&[
                    "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p",
                ]);
            }
            _ => {
                ctr.ip(&["link", "del", "eth0"]);
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
// plugin; STATUS of a config without IPAM says it cannot serve an ADD
#[test]
fn conformance_28_gc_and_status_delegate_to_ipam() {
    require_root!();
    require_kernel!("dummy");
    let net = net();
    let c = net.conf(Version::V1_1_0, json!({}));
    let full = net.conf(
        Version::V1_1_0,
        json!({"ipam": net.host_local(json!([[{"subnet": "10.81.0.0/30"}]]))}),
    );
    assert_gc_and_status_delegate_to_ipam(&net, &c, &c, &full);
    let none = net.conf(Version::V1_1_0, json!({"ipam": {}}));
    let (code, msg) = net.network_call("STATUS").run(&none).expect_spec_error();
    assert_eq!(
        (code, msg.as_str()),
        (7, "dummy interface requires an IPAM configuration")
    );
    net.network_call("GC").run(&none).expect_success();
}

/// Where the kernel has no dummy links (this project's development VM),
/// ADD says so and leaves nothing.
#[test]
fn add_without_kernel_support_names_the_module() {
    require_root!();
    let net = net();
    assert_add_refused_without_kernel_feature(
        &net,
        "dummy",
        &net.conf(Version::V1_0_0, json!({})),
        "failed to create dummy eth0: the kernel has no dummy support (module dummy)",
    );
}

// Documentation/conformance.md items 1, 2 and 13: VERSION lists every
// version; GC and STATUS are refused below 1.1.0
#[test]
fn conformance_02_versions_and_gates() {
    assert_every_version_and_gc_status_gates("dummy");
}

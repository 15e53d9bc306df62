//! tap, executed as a runtime would, in scratch namespaces: the tap in the
//! container with its settings as the kernel reports them, every key, the
//! refusals, rollback, DEL without a netns, CHECK, GC and STATUS.
//! Debian's Go plugins (bookworm's 1.1.1) have no tap, so there is no
//! round trip with Go here.

use integration::*;
use pkg::netlink::Link;
use serde_json::{Value, json};
use tap::tun::{self, TunInfo};

/// The network `tapnet` on 10.83.0.0/24 with a route to 10.183.0.0/16.
fn net() -> Fixture {
    let net = Fixture::new("tap", "tapnet");
    let ipam = ipam_with_routes(&net, "10.83.0.0/24", json!([{"dst": "10.183.0.0/16"}]));
    net.keys(json!({ "ipam": ipam }))
}

fn eth0(ctr: &TestNs) -> Link {
    link_in(ctr, "eth0").expect("eth0 in the container")
}

fn info(ctr: &TestNs) -> TunInfo {
    tun::info(&eth0(ctr)).expect("eth0 is a tun device")
}

// Documentation/conformance.md items 17, 18 and 22: the result in each
// version's shape, the tap in the kernel with its address and route,
// CHECK passes, DEL twice. The host has an `eth0` of its own.
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
        assert_eq!(link.kind.as_deref(), Some("tun"));
        assert!(link.is_up());
        let i = info(ctr);
        assert!(i.tap && i.persist, "{i:?}");
        assert_eq!((i.owner, i.group, i.multi_queue), (None, None, false));
        let addrs = ctr
            .netlink()
            .addr_list(Some(link.index), Some(true))
            .unwrap();
        assert_eq!(addrs.len(), 1);
        assert_eq!(addrs[0].address.addr(), a.ip(0));
        let routes = output_in(ctr, "ip", &["route"]);
        assert!(
            routes.contains("10.183.0.0/16 via 10.83.0.1 dev eth0"),
            "{routes}"
        );
        assert_eq!(
            sysctl_in(ctr, "/proc/sys/net/ipv4/conf/eth0/arp_notify"),
            "1"
        );
        assert_eq!(link_names(&net.host), host_before, "nothing in the host");
        assert_eq!(link_names(ctr), ["eth0", "lo"]);
        assert_one_link_result(r, v, &link, ctr, "10.83.0.1");
        if !matches!(v, Version::V0_1_0 | Version::V0_2_0) {
            assert_eq!(r["routes"], json!([{"dst": "10.183.0.0/16"}]));
        }
    });
    assert_eq!(link_names(&net.host), host_before);
}

/// Every key at once, without IPAM (L2): MAC (CNI_ARGS and runtimeConfig
/// over the config's), MTU, multi-queue, owner, group, and a bridge in
/// the container; the config's dns is the result's.
#[test]
fn every_key_l2_on_a_bridge() {
    require_root!();
    let net = net();
    for v in versions_from(Version::V0_3_0) {
        let ctr = TestNs::new("keys");
        ctr.ip(&["link", "add", "br0", "type", "bridge"]);
        let c = net.conf(
            v,
            json!({"ipam": {}, "mac": "0e:00:00:00:83:01", "mtu": 9000,
                   "multiQueue": true, "owner": 1234, "group": 4321, "bridge": "br0",
                   "runtimeConfig": {"mac": "0e:00:00:00:83:03"},
                   "dns": {"nameservers": ["10.83.0.53"]}}),
        );
        let a = Attachment::add(
            net.call("ADD", &ctr, "keys")
                .cni_args("IgnoreUnknown=1;MAC=0e:00:00:00:83:02"),
            &c,
        );
        let link = eth0(&ctr);
        assert_eq!(link.mac_string(), "0e:00:00:00:83:03");
        assert_eq!(link.mtu, 9000);
        assert!(link.is_up());
        assert_eq!(link.master, Some(link_in(&ctr, "br0").unwrap().index));
        let i = info(&ctr);
        assert_eq!(
            (i.tap, i.owner, i.group, i.multi_queue, i.persist),
            (true, Some(1234), Some(4321), true, true)
        );
        assert_eq!(
            a.result["interfaces"],
            json!([{"name": "eth0", "mac": "0e:00:00:00:83:03", "sandbox": ctr.path_str()}])
        );
        assert!(a.result.get("ips").is_none_or(|ips| ips == &json!([])));
        assert_eq!(a.result["dns"]["nameservers"], json!(["10.83.0.53"]));
        if v.has_check() {
            a.check_ok();
        }
        a.del();
        a.del();
        assert_eq!(link_names(&ctr), ["br0", "lo"], "{v}: the bridge stays");
        assert!(net.held().is_empty());
    }
}

/// Owner alone, and group alone: the other stays unset.
#[test]
fn owner_or_group_alone() {
    require_root!();
    let net = net();
    for (keys, want) in [
        (json!({"owner": 0}), (Some(0), None)),
        (json!({"group": 100}), (None, Some(100))),
    ] {
        let ctr = TestNs::new("own");
        let a = net.add(&ctr, "own", &net.conf(Version::V1_1_0, keys.clone()));
        let i = info(&ctr);
        assert_eq!((i.owner, i.group), want, "{keys}");
        a.check_ok();
        a.del();
        assert_clean(&net, "owner", &[&ctr]);
    }
}

/// A VM runtime attaches to the tap the plugin made (TUNSETIFF on its
/// name, as QEMU does): the tap gets carrier, and it outlives the runtime's
/// descriptor.
#[test]
fn a_vm_runtime_attaches_to_the_tap() {
    require_root!();
    let net = net();
    let ctr = TestNs::new("open");
    let a = net.add(
        &ctr,
        "open",
        &net.conf(Version::V1_1_0, json!({"owner": 0})),
    );
    let attached = ctr
        .open()
        .run(|| {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/net/tun")
                .unwrap();
            let mut req = [0u8; 40];
            req[..4].copy_from_slice(b"eth0");
            let flags = (libc::IFF_TAP | libc::IFF_NO_PI) as u16;
            req[16..18].copy_from_slice(&flags.to_ne_bytes());
            use std::os::fd::AsRawFd;
            // SAFETY: TUNSETIFF reads and writes a 40-byte struct ifreq.
            let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, req.as_mut_ptr()) };
            Ok((rc, file))
        })
        .unwrap();
    assert_eq!(attached.0, 0, "{}", std::io::Error::last_os_error());
    let shown = ctr.ip(&["link", "show", "eth0"]);
    assert!(shown.contains("LOWER_UP"), "{shown}");
    drop(attached);
    assert!(
        link_in(&ctr, "eth0").is_some(),
        "the tap outlives its opener"
    );
    a.check_ok();
    a.del();
    assert_clean(&net, "attached tap", &[&ctr]);
}

// Documentation/conformance.md item 19: bad input, a bridge that is not
// one, and the ifname already taken, with nothing left behind
#[test]
fn conformance_19_bad_input_leaves_nothing_behind() {
    require_root!();
    let net = net();
    let v = Version::V1_0_0;
    let cases: Vec<(Value, &str, u64, &str)> = vec![
        (json!({"mtu": 67}), "", 7, "invalid MTU 67"),
        (json!({"mtu": 65522}), "", 7, "invalid MTU 65522"),
        (json!({"owner": -1}), "", 7, "invalid owner -1"),
        (
            json!({"owner": "nobody"}),
            "",
            7,
            "invalid owner \"nobody\"",
        ),
        (
            json!({"group": 4294967295u64}),
            "",
            7,
            "invalid group 4294967295",
        ),
        (
            json!({"mac": "01:00:5e:00:00:01"}),
            "",
            7,
            "invalid MAC address",
        ),
        (json!({}), "MAC=zz", 7, "invalid MAC address \"zz\""),
        (
            json!({"bridge": "a/b"}),
            "",
            7,
            "invalid bridge name \"a/b\"",
        ),
        (
            json!({"bridge": "nosuchbr"}),
            "",
            999,
            "failed to get bridge nosuchbr: no such interface in the container",
        ),
        (
            json!({"bridge": "lo"}),
            "",
            999,
            "failed to get bridge lo: it is a link of unknown type, not a bridge",
        ),
        (
            json!({"selinuxContext": "system_u:system_r:container_t:s0"}),
            "",
            999,
            "SELinux is not enabled on this host",
        ),
        (
            json!({"ipam": {"type": "no-such-ipam"}}),
            "",
            7,
            "failed to find plugin \"no-such-ipam\"",
        ),
        (json!({"multiQueue": 1}), "", 6, "network config"),
    ];
    // where SELinux is enabled, a context is taken, not refused
    let selinux = std::path::Path::new("/sys/fs/selinux/enforce").exists();
    let cases = cases
        .into_iter()
        .filter(|(extra, ..)| !(selinux && extra.get("selinuxContext").is_some()));
    assert_each_refused_leaving_nothing(&net, v, cases);
    // L2 in a version whose result must carry an address
    let ctr = net.assert_add_refused(
        &net.conf(Version::V0_2_0, json!({"ipam": {}})),
        "",
        7,
        "cannot convert result to version 0.2.0",
        "L2 in 0.2.0",
    );
    assert_clean(&net, "L2 in 0.2.0", &[&ctr]);
    assert_taken_ifname_and_missing_netns_refused(&net, &net.conf(v, json!({})));
}

// Documentation/conformance.md items 27 and 24: failures after the tap
// exists remove it and give the address back; DEL after a failed ADD
// succeeds
#[test]
fn conformance_27_rollback_after_the_tap_exists() {
    require_root!();
    let net = net();
    let v = Version::V1_0_0;
    let ctr = TestNs::new("rb");
    // IPAM fails: the range is exhausted by another container
    let tiny = net.conf(
        v,
        json!({"ipam": net.host_local(json!([[{"subnet": "10.83.0.0/30"}]]))}),
    );
    let holder_ns = assert_add_refused_when_the_range_is_full(&net, &ctr, &tiny, &tiny);
    // IPAM succeeds, then a route cannot be added: the address goes back
    let c = net.conf(
        v,
        json!({"ipam": {"type": "host-local", "dataDir": net.dir.path(),
                        "ranges": [[{"subnet": "10.83.0.0/24"}]],
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

/// DEL reads nothing of the config but the IPAM type: a config ADD would
/// refuse (a bad MAC in CNI_ARGS, an owner out of range) does not keep the
/// address.
#[test]
fn del_ignores_what_add_would_refuse() {
    require_root!();
    let net = net();
    let ctr = TestNs::new("lenient");
    let a = net.add(&ctr, "len", &net.conf(Version::V1_0_0, json!({})));
    let bad = net.conf(Version::V1_0_0, json!({"owner": "nobody", "mtu": 1}));
    net.call("DEL", &ctr, "len")
        .cni_args("MAC=zz")
        .run(&bad)
        .expect_success();
    assert_clean(&net, "lenient DEL", &[&ctr]);
    a.del();
}

// Documentation/conformance.md item 25: CHECK fails when what ADD made has
// changed
#[test]
fn conformance_25_check_fails_after_changes() {
    require_root!();
    let net = net();
    let cases = [
        ("address", "not found on eth0"),
        ("route", "expected route 10.183.0.0/16"),
        ("mac", "MAC 0e:00:00:00:00:99 doesn't match"),
        ("not tun", "container interface eth0 is not a tun"),
        ("owner", "tap eth0 owner is none, configured 7"),
        ("bridge", "tap eth0 is not a port of bridge br0"),
        ("gone", "not found in"),
    ];
    for (what, want) in cases {
        let ctr = TestNs::new("chk");
        ctr.ip(&["link", "add", "br0", "type", "bridge"]);
        let c = net.conf(Version::V1_0_0, json!({"bridge": "br0"}));
        let a = net.add(&ctr, "chk", &c);
        a.check_ok();
        let mut cc = with_prev(&c, &a.result);
        match what {
            "address" => {
                let cidr = a.cidr(0).to_string();
                ctr.ip(&["addr", "del", &cidr, "dev", "eth0"]);
            }
            "route" => {
                ctr.ip(&["route", "del", "10.183.0.0/16"]);
            }
            "mac" => cc["prevResult"]["interfaces"][0]["mac"] = json!("0e:00:00:00:00:99"),
            "not tun" => {
                ctr.ip(&["link", "del", "eth0"]);
                ctr.ip(&[
                    "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p",
                ]);
            }
            "owner" => cc["owner"] = json!(7),
            "bridge" => {
                ctr.ip(&["link", "set", "eth0", "nomaster"]);
            }
            _ => {
                ctr.ip(&["link", "del", "eth0"]);
            }
        }
        let (code, msg) = net.call("CHECK", &ctr, "chk").run(&cc).expect_spec_error();
        assert_eq!(code, 999, "{what}: {msg}");
        assert!(msg.contains(want), "{what}: {msg}");
        a.del();
        assert_eq!(link_names(&ctr), ["br0", "lo"], "{what}");
        assert!(net.held().is_empty(), "{what}");
    }
}

// Documentation/conformance.md item 28: GC and STATUS go to the IPAM
// plugin when there is one
#[test]
fn conformance_28_gc_and_status_delegate_to_ipam() {
    require_root!();
    let net = net();
    let c = net.conf(Version::V1_1_0, json!({}));
    let full = net.conf(
        Version::V1_1_0,
        json!({"ipam": net.host_local(json!([[{"subnet": "10.83.0.0/30"}]]))}),
    );
    assert_gc_and_status_delegate_to_ipam(&net, &c, &c, &full);
    let l2 = net.conf(Version::V1_1_0, json!({"ipam": {}}));
    net.network_call("GC").run(&l2).expect_success();
    net.network_call("STATUS").run(&l2).expect_success();
}

// Documentation/conformance.md items 1, 2 and 13: VERSION lists every
// version; GC and STATUS are refused below 1.1.0
#[test]
fn conformance_02_versions_and_gates() {
    assert_every_version_and_gc_status_gates("tap");
}

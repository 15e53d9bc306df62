//! host-device, executed as a runtime would, in scratch namespaces: a veth
//! end of the fake host stands in for the device (a PCI NIC is tested in
//! the VM, test/tests/host_device_pci.rs). The device in the container
//! and back on the host under its name, MTU and state, the selectors, the
//! refusals, rollback, DEL after the netns is gone or after the kernel
//! returned the device, CHECK, GC and STATUS, and Debian's Go plugin both
//! ways.

use std::path::PathBuf;

use integration::*;
use pkg::netlink::Link;
use serde_json::{Value, json};

/// The network `hdnet` on 10.84.0.0/24 with a route to 10.184.0.0/16,
/// records in the fixture's directory.
fn net() -> Fixture {
    let net = Fixture::new("host-device", "hdnet");
    let ipam = ipam_with_routes(&net, "10.84.0.0/24", json!([{"dst": "10.184.0.0/16"}]));
    let records = net.dir.path().join("records");
    net.keys(json!({ "ipam": ipam, "dataDir": records }))
}

/// A device `name` on the fake host: a veth end (its peer `<name>p`
/// stays), MTU 1400, up.
fn device(net: &Fixture, name: &str) -> Link {
    let peer = format!("{name}p");
    net.host
        .ip(&["link", "add", name, "type", "veth", "peer", "name", &peer]);
    net.host.ip(&["link", "set", name, "mtu", "1400", "up"]);
    net.host_link(name).expect("the device")
}

fn record(net: &Fixture, cid: &str) -> PathBuf {
    net.dir
        .path()
        .join("records")
        .join(format!("{cid}_eth0.json"))
}

/// `dev` is on the fake host as it was: name, MAC, MTU 1400, up, no alias.
#[track_caller]
fn assert_home(net: &Fixture, dev: &Link, what: &str) {
    let l = net
        .host_link(&dev.name)
        .unwrap_or_else(|| panic!("{what}: {} not back on the host", dev.name));
    assert_eq!(l.mac, dev.mac, "{what}");
    assert_eq!(l.mtu, 1400, "{what}");
    assert!(l.is_up(), "{what}: down");
    assert_eq!(l.alias, "", "{what}: alias left");
}

// Documentation/conformance.md items 17, 18 and 22: the result in each
// version's shape, the device in the container under eth0 with its MAC,
// address and route, CHECK passes, DEL puts it back, twice.
#[test]
fn conformance_18_add_check_del_every_version() {
    require_root!();
    let net = net();
    let dev = device(&net, "hd0");
    for v in Version::ALL {
        let ctr = TestNs::new("ctr");
        let cid = format!("c-{}", v.as_str().replace('.', "-"));
        let c = net.conf(v, json!({"device": "hd0"}));
        let a = net.add(&ctr, &cid, &c);
        let r = &a.result;
        assert_eq!(r["cniVersion"], v.as_str());
        assert!(net.host_link("hd0").is_none(), "{v}: still on the host");
        let eth0 = link_in(&ctr, "eth0").expect("eth0");
        assert_eq!(eth0.mac, dev.mac, "{v}");
        assert_eq!(
            eth0.alias, "hd0",
            "{v}: the alias names the host name (Go's)"
        );
        assert!(eth0.is_up());
        let routes = output_in(&ctr, "ip", &["route"]);
        assert!(
            routes.contains("10.184.0.0/16 via 10.84.0.1 dev eth0"),
            "{routes}"
        );
        assert!(record(&net, &cid).exists(), "{v}: no record");
        match v {
            Version::V0_1_0 | Version::V0_2_0 => {
                assert_eq!(r["ip4"]["gateway"], "10.84.0.1");
            }
            _ => {
                assert_eq!(
                    r["interfaces"],
                    json!([{"name": "eth0", "mac": dev.mac_string(), "sandbox": ctr.path_str()}])
                );
                assert_eq!(r["ips"][0]["interface"], 0);
                assert_eq!(r["routes"], json!([{"dst": "10.184.0.0/16"}]));
            }
        }
        if v.has_check() {
            a.check_ok();
        }
        a.del();
        assert_home(&net, &dev, v.as_str());
        a.del();
        assert_home(&net, &dev, v.as_str());
        assert_eq!(link_names(&ctr), ["lo"], "{v}");
        assert!(!record(&net, &cid).exists(), "{v}: record left");
        net.assert_no_leftovers(v.as_str());
    }
}

/// `hwaddr` and `runtimeConfig.deviceID`-less selection by MAC, without
/// IPAM (L2): the device keeps its MAC; a device that was down comes back
/// down, with its MTU.
#[test]
fn by_hwaddr_without_ipam() {
    require_root!();
    let net = net();
    let dev = device(&net, "hd1");
    net.host.ip(&["link", "set", "hd1", "down", "mtu", "1300"]);
    for v in versions_from(Version::V0_3_0) {
        let ctr = TestNs::new("mac");
        let c = net.conf(
            v,
            json!({"ipam": {}, "hwaddr": dev.mac_string(),
                   "dns": {"nameservers": ["10.84.0.53"]}}),
        );
        let a = net.add(&ctr, "mac", &c);
        assert_eq!(
            a.result["interfaces"],
            json!([{"name": "eth0", "mac": dev.mac_string(), "sandbox": ctr.path_str()}])
        );
        assert_eq!(a.result["dns"]["nameservers"], json!(["10.84.0.53"]));
        assert!(link_in(&ctr, "eth0").unwrap().is_up());
        if v.has_check() {
            a.check_ok();
        }
        a.del();
        let l = net.host_link("hd1").expect("hd1 back");
        assert_eq!((l.mtu, l.is_up(), l.alias.as_str()), (1300, false, ""));
        assert_eq!(link_names(&ctr), ["lo"]);
    }
}

// Documentation/conformance.md item 19: bad selectors and devices are
// spec errors, and nothing moves
#[test]
fn conformance_19_bad_selectors_and_devices() {
    require_root!();
    let net = net();
    device(&net, "hd2");
    net.host.ip(&["link", "add", "br9", "type", "bridge"]);
    device(&net, "hd3");
    net.host.ip(&["link", "set", "hd3", "master", "br9"]);
    let v = Version::V1_0_0;
    let cases = [
        (
            json!({}),
            7,
            r#"specify either "device", "hwaddr", "kernelpath" or "pciBusID""#,
        ),
        (
            json!({"device": "hd2", "hwaddr": "02:00:00:00:00:01"}),
            7,
            "more than one device selector given: device, hwaddr",
        ),
        (
            json!({"device": "hd2", "runtimeConfig": {"deviceID": "0000:00:03.0"}}),
            7,
            "more than one device selector given: device, runtimeConfig.deviceID",
        ),
        (
            json!({"device": "nosuch0"}),
            999,
            "failed to find host device: no interface named nosuch0 on the host",
        ),
        (
            json!({"hwaddr": "02:00:00:00:00:7f"}),
            999,
            "failed to find host device: no interface has MAC 02:00:00:00:00:7f",
        ),
        (
            json!({"pciBusID": "0000:7f:1f.7"}),
            999,
            "failed to find host device: PCI device 0000:7f:1f.7 does not exist",
        ),
        (
            json!({"runtimeConfig": {"deviceID": "nosuch.sf.9"}}),
            999,
            "runtime config DeviceID nosuch.sf.9 not found or unsupported",
        ),
        (
            json!({"kernelpath": "/sys/class/net/hd2"}),
            7,
            "must be absolute and begin with /sys/devices/",
        ),
        (json!({"pciBusID": "../../x"}), 7, "invalid pciBusID"),
        (
            json!({"device": "hd3"}),
            7,
            "host device hd3 is in use: it is a port of br9",
        ),
        (
            json!({"device": "lo"}),
            7,
            "host device lo is the loopback interface",
        ),
    ];
    let before = link_names(&net.host);
    for (keys, code, msg) in cases {
        let ctr =
            net.assert_add_refused(&net.conf(v, keys.clone()), "", code, msg, &keys.to_string());
        assert_eq!(link_names(&ctr), ["lo"], "{keys}");
        assert_eq!(link_names(&net.host), before, "{keys}");
    }
    let taken = net.conf(v, json!({"device": "hd2"}));
    let ctr = net.assert_add_refused_for_taken_ifname_and_missing_netns(&taken);
    assert!(link_in(&ctr, "hd2").is_none());
    // the runtime's DEL after the refusal leaves the container's own eth0
    // (Go's fails: "alias is not set")
    net.call("DEL", &ctr, "dup").run(&taken).expect_success();
    assert_eq!(link_names(&ctr), ["eth0", "eth0p", "lo"]);
    assert_eq!(link_names(&net.host), before);
    assert!(files_under(&net.dir.path().join("records")).is_empty());
}

// Documentation/conformance.md items 27 and 24: a failure after the move
// puts the device back under its name and gives the address back; DEL
// after a failed ADD succeeds
#[test]
fn conformance_27_rollback_returns_the_device() {
    require_root!();
    let net = net();
    let dev = device(&net, "hd4");
    let v = Version::V1_0_0;
    let ctr = TestNs::new("rb");
    // IPAM fails: the range is exhausted by another container's address
    let tiny = net.conf(
        v,
        json!({"device": "hd4",
               "ipam": net.host_local(json!([[{"subnet": "10.84.1.0/30"}]]))}),
    );
    let holder = TestNs::new("hold");
    let hold_dev = device(&net, "hd5");
    let mut hold_conf = tiny.clone();
    hold_conf["device"] = json!("hd5");
    let h = net.add(&holder, "holder", &hold_conf);
    let (_, msg) = net.call("ADD", &ctr, "full").run(&tiny).expect_spec_error();
    assert!(msg.contains("no IP addresses available"), "{msg}");
    assert_home(&net, &dev, "ipam failure");
    assert_eq!(link_names(&ctr), ["lo"]);
    net.call("DEL", &ctr, "full").run(&tiny).expect_success();
    assert_home(&net, &dev, "DEL after the failure");
    h.del();
    assert_home(&net, &hold_dev, "holder");
    // IPAM succeeds, then a route cannot be added
    let c = net.conf(
        v,
        json!({"device": "hd4",
               "ipam": {"type": "host-local", "dataDir": net.dir.path(),
                        "ranges": [[{"subnet": "10.84.2.0/24"}]],
                        "routes": [{"dst": "192.0.2.0/24", "gw": "203.0.113.1"}]}}),
    );
    let (_, msg) = net.call("ADD", &ctr, "route").run(&c).expect_spec_error();
    assert!(msg.contains("failed to add route"), "{msg}");
    assert_home(&net, &dev, "route failure");
    assert_eq!(link_names(&ctr), ["lo"]);
    assert!(net.held().is_empty());
    assert!(files_under(&net.dir.path().join("records")).is_empty());
    net.call("DEL", &ctr, "route").run(&c).expect_success();
}

// Documentation/conformance.md item 23: DEL releases IPAM with the netns
// empty or gone (Go fails then and keeps the address); a second DEL
// succeeds (Go's fails with `failed to find "eth0"`)
#[test]
fn conformance_23_del_without_netns() {
    require_root!();
    let net = net();
    let dev = device(&net, "hd6");
    let c = net.conf(Version::V1_0_0, json!({"device": "hd6"}));
    let ctr = TestNs::new("a");
    let a = net.add(&ctr, "a", &c);
    net.call("DEL", &ctr, "a")
        .netns_path("")
        .run(&c)
        .expect_success();
    assert!(net.held().is_empty());
    a.del();
    assert_home(&net, &dev, "DEL after DEL without netns");
    // a veth end dies with its netns (a physical device comes back: the
    // VM test); DEL releases the address and forgets the device
    let ctr = TestNs::new("b");
    let b = net.add(&ctr, "b", &c);
    drop(ctr);
    b.del();
    b.del();
    assert!(net.held().is_empty());
    assert!(!record(&net, "b").exists());
}

/// What the kernel does to a physical device when its netns is destroyed
/// (it comes back to the host under the name it had inside, with its
/// alias), done by hand to the veth end: DEL finds it by its record and
/// restores its name, MTU and state, with or without the netns.
#[test]
fn del_finds_a_device_the_kernel_returned() {
    require_root!();
    let net = net();
    let dev = device(&net, "hd7");
    let c = net.conf(Version::V1_1_0, json!({"device": "hd7"}));
    for netns_gone in [false, true] {
        let ctr = TestNs::new("ret");
        let a = net.add(&ctr, "ret", &c);
        let host = net.host.path_str();
        ctr.ip(&["link", "set", "eth0", "mtu", "1280", "netns", &host]);
        let back = net.host_link("eth0").expect("eth0 on the host");
        assert_eq!(back.alias, "hd7");
        if netns_gone {
            drop(ctr);
        }
        a.del();
        assert_home(&net, &dev, &format!("netns gone: {netns_gone}"));
        assert!(net.host_link("eth0").is_none());
        a.del();
        assert!(net.held().is_empty());
    }
}

/// A device the kernel returned from a container whose DEL has not run
/// belongs to that attachment: another ADD refuses it, by name or MAC.
#[test]
fn a_returned_device_is_in_use_until_its_del() {
    require_root!();
    let net = net();
    let dev = device(&net, "hd8");
    let c = net.conf(Version::V1_1_0, json!({"device": "hd8"}));
    let ctr = TestNs::new("own");
    let a = net.add(&ctr, "own", &c);
    ctr.ip(&["link", "set", "eth0", "netns", &net.host.path_str()]);
    drop(ctr);
    let other = net.conf(Version::V1_1_0, json!({"hwaddr": dev.mac_string()}));
    let ctr2 = TestNs::new("other");
    let (code, msg) = net
        .call("ADD", &ctr2, "other")
        .run(&other)
        .expect_spec_error();
    assert_eq!(code, 7, "{msg}");
    assert!(
        msg.contains(
            "host device eth0 (originally hd8) is in use: it belongs to attachment own_eth0"
        ),
        "{msg}"
    );
    assert_eq!(link_names(&ctr2), ["lo"]);
    a.del();
    assert_home(&net, &dev, "after the owner's DEL");
    let b = net.add(&ctr2, "other", &other);
    b.del();
    assert_home(&net, &dev, "after the second attachment");
}

// Documentation/conformance.md item 25: CHECK fails when what ADD made has
// changed
#[test]
fn conformance_25_check_fails_after_changes() {
    require_root!();
    let net = net();
    let dev = device(&net, "hd9");
    let cases = [
        ("address", "not found on eth0"),
        ("route", "expected route 10.184.0.0/16"),
        ("mac", "MAC 0e:00:00:00:00:99 doesn't match"),
        ("gone", "container interface eth0 from prevResult not found"),
    ];
    for (what, want) in cases {
        let ctr = TestNs::new("chk");
        let c = net.conf(Version::V1_0_0, json!({"device": "hd9"}));
        let a = net.add(&ctr, "chk", &c);
        a.check_ok();
        let mut cc = with_prev(&c, &a.result);
        match what {
            "address" => {
                let cidr = a.cidr(0).to_string();
                ctr.ip(&["addr", "del", &cidr, "dev", "eth0"]);
            }
            "route" => {
                ctr.ip(&["route", "del", "10.184.0.0/16"]);
            }
            "mac" => cc["prevResult"]["interfaces"][0]["mac"] = json!("0e:00:00:00:00:99"),
            _ => {
                ctr.ip(&["link", "set", "eth0", "name", "eth5"]);
            }
        }
        let (code, msg) = net.call("CHECK", &ctr, "chk").run(&cc).expect_spec_error();
        assert_eq!(code, 999, "{what}: {msg}");
        assert!(msg.contains(want), "{what}: {msg}");
        if what == "gone" {
            ctr.ip(&["link", "set", "eth5", "name", "eth0"]);
        }
        a.del();
        assert_home(&net, &dev, what);
    }
}

// Documentation/conformance.md item 28: GC and STATUS go to the IPAM
// plugin, when there is one
#[test]
fn conformance_28_gc_and_status_delegate_to_ipam() {
    require_root!();
    let net = net();
    let (da, db) = (device(&net, "hda"), device(&net, "hdb"));
    let (a, b) = (TestNs::new("a"), TestNs::new("b"));
    let keep = net.add(
        &a,
        "keep",
        &net.conf(Version::V1_1_0, json!({"device": "hda"})),
    );
    let stale = net.add(
        &b,
        "stale",
        &net.conf(Version::V1_1_0, json!({"device": "hdb"})),
    );
    let mut g = net.conf(Version::V1_1_0, json!({"device": "hda"}));
    g["cni.dev/valid-attachments"] = json!([{"containerID": "keep", "ifname": "eth0"}]);
    net.network_call("GC").run(&g).expect_success();
    assert_eq!(net.held().len(), 1);
    let c = net.conf(Version::V1_1_0, json!({"device": "hda"}));
    net.network_call("STATUS").run(&c).expect_success();
    let none = net.conf(Version::V1_1_0, json!({"device": "hda", "ipam": {}}));
    net.network_call("STATUS").run(&none).expect_success();
    net.network_call("GC").run(&none).expect_success();
    keep.del();
    stale.del();
    assert_home(&net, &da, "a");
    assert_home(&net, &db, "b");
}

/// Debian's Go host-device and ours on one attachment, both ways: Go's
/// ADD leaves no record, and our DEL returns the device by its alias;
/// Go's DEL returns a device our ADD moved (left down, as Go does, and
/// with its alias: Debian's 1.1.1 does not clear it).
#[test]
fn interop_with_go() {
    require_root!();
    let Some(go) = require_go("host-device", &["host-local"]) else {
        return;
    };
    let net = net();
    let dev = device(&net, "hdg");
    // no routes: Go's CHECK looks for a route without its gateway
    let ipam = net.host_local(json!([[{"subnet": "10.84.3.0/24"}]]));
    let conf: Value = net.conf(Version::V1_0_0, json!({"device": "hdg", "ipam": ipam}));
    net.assert_interop_both_ways(
        &go,
        &conf,
        true,
        |ctr, r| {
            assert_eq!(r["interfaces"][0]["mac"], dev.mac_string());
            assert_eq!(link_in(ctr, "eth0").unwrap().alias, "hdg");
        },
        |what, ctr| {
            assert_eq!(link_names(ctr), ["lo"], "{what}");
            let l = net
                .host_link("hdg")
                .unwrap_or_else(|| panic!("{what}: hdg not back"));
            assert_eq!(l.mac, dev.mac, "{what}");
            // Debian's Go (1.1.1) leaves the alias on the device it returns
            if what.starts_with("go add") {
                assert_eq!(l.alias, "", "{what}");
            }
            assert!(net.held().is_empty(), "{what}");
            net.host.ip(&["link", "set", "hdg", "up", "alias", ""]);
        },
    );
}

// Documentation/conformance.md items 1, 2 and 13: VERSION lists every
// version; GC and STATUS are refused below 1.1.0
#[test]
fn conformance_02_versions_and_gates() {
    assert_every_version_and_gc_status_gates("host-device");
}

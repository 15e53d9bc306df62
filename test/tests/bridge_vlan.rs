//! bridge's VLAN keys (`vlan`, `vlanTrunk`, `preserveDefaultVlan`) on a
//! kernel with bridge VLAN filtering (the VM stage runs these): the VLAN
//! tables read back with `bridge vlan show`, and traffic between
//! containers that the VLANs must let through or keep apart.
//!
//! Where Go's behaviour is subtle it is asserted as Go has it: the
//! bridge's own default VLAN is never touched; a VID in both `vlan` and
//! `vlanTrunk` ends up tagged (the trunk's add comes last and the kernel
//! keeps the flags of the last add).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use integration::*;
use serde_json::{Value, json};

/// A VLAN of a port as `bridge vlan show` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Vid {
    vid: u16,
    pvid: bool,
    untagged: bool,
}

const fn access(vid: u16) -> Vid {
    Vid {
        vid,
        pvid: true,
        untagged: true,
    }
}

const fn tagged(vid: u16) -> Vid {
    Vid {
        vid,
        pvid: false,
        untagged: false,
    }
}

/// Every port's (and bridge's) VLANs in `ns`, from `bridge -j vlan show`,
/// ranges expanded.
fn vlan_table(ns: &TestNs) -> BTreeMap<String, Vec<Vid>> {
    let out = output_in(ns, "bridge", &["-j", "vlan", "show"]);
    let parsed: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    let mut table = BTreeMap::new();
    for dev in parsed.as_array().unwrap() {
        let name = dev["ifname"].as_str().unwrap().to_string();
        let mut vids = Vec::new();
        for v in dev["vlans"].as_array().unwrap() {
            let flags: Vec<&str> = v["flags"]
                .as_array()
                .map(|f| f.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let first = v["vlan"].as_u64().unwrap();
            let last = v["vlanEnd"].as_u64().unwrap_or(first);
            for vid in first..=last {
                vids.push(Vid {
                    vid: vid as u16,
                    pvid: flags.contains(&"PVID"),
                    untagged: flags.contains(&"Egress Untagged"),
                });
            }
        }
        vids.sort();
        table.insert(name, vids);
    }
    table
}

/// The VLANs of `dev` in `ns` (none when it has no entry).
fn vlans_of(ns: &TestNs, dev: &str) -> Vec<Vid> {
    vlan_table(ns).remove(dev).unwrap_or_default()
}

/// The host end of an attachment's veth (result interface 1).
fn port(a: &Attachment) -> String {
    a.result["interfaces"][1]["name"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A network on `bridge` with host-local addresses from 10.66.0.0/24.
fn net(bridge: &str) -> Fixture {
    Fixture::new("bridge", "vlannet")
        .keys(json!({"bridge": bridge}))
        .ipam_ranges(json!([[{"subnet": "10.66.0.0/24"}]]))
}

/// Whether `from` can open a TCP connection to `ip` (port `port`) in `to`.
fn reaches(to: &TestNs, ip: IpAddr, port: u16, from: &TestNs) -> bool {
    let at = SocketAddr::new(ip, port);
    tcp_probe(to, at, from, at).is_ok()
}

/// The `<bridge>.<vlan>` gateway of an access VLAN, and its bridge port:
/// shared by every container on the VLAN, never removed by DEL.
fn remove_vlan_gateway(net: &Fixture, name: &str) {
    net.host.ip(&["link", "del", name]);
}

#[test]
fn access_port_with_a_vlan_gateway() {
    require_root!();
    require_kernel!("bridge-vlan");
    require_tools!("bridge");
    for (preserve, bridge) in [(false, "brv0"), (true, "brv1")] {
        let net = net(bridge).keys(json!({"isGateway": true, "vlan": 100}));
        let ctr = TestNs::new("acc");
        let c = net.conf(Version::V1_1_0, json!({"preserveDefaultVlan": preserve}));
        let a = net.add(&ctr, "acc1", &c);
        let gw_if = format!("{bridge}.100");
        assert_eq!(
            a.result["interfaces"][3]["name"],
            gw_if.as_str(),
            "{preserve}"
        );
        let details = net.host.ip(&["-d", "link", "show", bridge]);
        assert!(details.contains("vlan_filtering 1"), "{details}");

        let want = if preserve {
            // VID 1 stays egress-untagged, its PVID taken by the access VLAN
            vec![
                Vid {
                    vid: 1,
                    pvid: false,
                    untagged: true,
                },
                access(100),
            ]
        } else {
            vec![access(100)]
        };
        assert_eq!(vlans_of(&net.host, &port(&a)), want, "{preserve}: port");
        // The gateway's bridge port, the peer of <bridge>.100, the same.
        let gw_link = net.host_link(&gw_if).expect("the vlan gateway");
        assert_eq!(gw_link.kind.as_deref(), Some("veth"));
        let peer = net
            .host
            .netlink()
            .link_list()
            .unwrap()
            .into_iter()
            .find(|l| Some(l.index) == gw_link.parent)
            .expect("the gateway's peer");
        assert_eq!(peer.master, net.host_link(bridge).map(|b| b.index));
        assert_eq!(vlans_of(&net.host, &peer.name), want, "{preserve}: gw");
        // Go never changes the bridge's own VLANs.
        assert_eq!(vlans_of(&net.host, bridge), [access(1)], "{preserve}");
        let addrs = net.host.ip(&["-4", "addr", "show", "dev", &gw_if]);
        assert!(addrs.contains("10.66.0.1/24"), "{addrs}");

        let gw: IpAddr = "10.66.0.1".parse().unwrap();
        assert!(reaches(&net.host, gw, 7101, &ctr), "{preserve}: gateway");
        a.check_ok();
        a.del();
        assert!(!vlan_table(&net.host).contains_key(&port(&a)));
        remove_vlan_gateway(&net, &gw_if);
        net.assert_no_leftovers(bridge);
    }
}

#[test]
fn containers_on_other_vlans_cannot_reach_each_other() {
    require_root!();
    require_kernel!("bridge-vlan");
    let net = net("brv2");
    let v = Version::V1_0_0;
    let ctrs: Vec<TestNs> = (0..3).map(|_| TestNs::new("sep")).collect();
    let on = |i: usize, vlan: u16| {
        net.add(
            &ctrs[i],
            &format!("sep{i}"),
            &net.conf(v, json!({"vlan": vlan})),
        )
    };
    let all = [on(0, 100), on(1, 100), on(2, 200)];
    let ip = |i: usize| all[i].ip(0);
    assert!(reaches(&ctrs[1], ip(1), 7111, &ctrs[0]), "same vlan");
    assert!(reaches(&ctrs[0], ip(0), 7112, &ctrs[1]), "same vlan, back");
    assert!(!reaches(&ctrs[0], ip(0), 7113, &ctrs[2]), "vlan 200 to 100");
    assert!(!reaches(&ctrs[1], ip(1), 7114, &ctrs[2]), "vlan 200 to 100");
    assert!(!reaches(&ctrs[2], ip(2), 7115, &ctrs[0]), "vlan 100 to 200");
    for a in all {
        a.del();
    }
    net.assert_no_leftovers("vlans");
}

#[test]
fn trunk_ports() {
    require_root!();
    require_kernel!("bridge-vlan");
    require_tools!("bridge");
    let net = net("brv3").keys(json!({"ipam": {}}));
    let v = Version::V1_0_0;
    let cases: Vec<(Value, Vec<Vid>)> = vec![
        // a trunk without `vlan`: VID 1 is its native (untagged) VLAN
        (
            json!({"vlanTrunk": [{"id": 101}, {"minID": 200, "maxID": 203}]}),
            [access(1), tagged(101)]
                .into_iter()
                .chain((200..=203).map(tagged))
                .collect(),
        ),
        // `vlan` sets the native VLAN of the trunk
        (
            json!({"vlan": 50, "vlanTrunk": [{"id": 60}, {"id": 61}]}),
            vec![access(50), tagged(60), tagged(61)],
        ),
        // a VID in both: the trunk's tagged add comes last (Go's order)
        (
            json!({"vlan": 50, "vlanTrunk": [{"id": 50}, {"id": 60}]}),
            vec![tagged(50), tagged(60)],
        ),
        // VID 1 in the trunk: native all the same
        (
            json!({"vlanTrunk": [{"id": 1}, {"id": 7}]}),
            vec![access(1), tagged(7)],
        ),
        // the default VLAN kept is the native one anyway
        (
            json!({"vlanTrunk": [{"id": 7}], "preserveDefaultVlan": true}),
            vec![access(1), tagged(7)],
        ),
    ];
    for (extra, want) in cases {
        let ctr = TestNs::new("trunk");
        let a = net.add(&ctr, "trunk", &net.conf(v, extra.clone()));
        assert_eq!(vlans_of(&net.host, &port(&a)), want, "{extra}");
        assert_eq!(vlans_of(&net.host, "brv3"), [access(1)], "{extra}");
        a.del();
    }
    net.assert_no_leftovers("trunks");
}

#[test]
fn a_trunk_port_carries_tagged_traffic() {
    require_root!();
    require_kernel!("bridge-vlan", "vlan");
    let net = net("brv4");
    let v = Version::V1_0_0;
    let (trunk, acc) = (TestNs::new("trunk"), TestNs::new("acc"));
    let t = net.add(
        &trunk,
        "trunk",
        &net.conf(v, json!({"vlanTrunk": [{"id": 100}]})),
    );
    let a = net.add(&acc, "acc", &net.conf(v, json!({"vlan": 100})));
    // VLAN 100 as the trunk container sees it: a tagged sub-interface,
    // in a subnet of its own
    trunk.ip(&[
        "link", "add", "link", "eth0", "name", "eth0.100", "type", "vlan", "id", "100",
    ]);
    trunk.ip(&["addr", "add", "10.67.0.3/24", "dev", "eth0.100"]);
    trunk.ip(&["link", "set", "eth0.100", "up"]);
    acc.ip(&["addr", "add", "10.67.0.4/24", "dev", "eth0"]);
    let tagged_peer: IpAddr = "10.67.0.4".parse().unwrap();
    assert!(
        reaches(&acc, tagged_peer, 7121, &trunk),
        "tagged 100 to access 100"
    );
    // untagged from the trunk is its native VLAN 1, not 100
    assert!(
        !reaches(&acc, a.ip(0), 7122, &trunk),
        "native to access 100"
    );
    a.del();
    t.del();
    net.assert_no_leftovers("trunk traffic");
}

#[test]
fn every_default_vlan_of_the_port_goes_unless_preserved() {
    require_root!();
    require_kernel!("bridge-vlan");
    require_tools!("bridge");
    // A bridge made by the operator, whose new ports get VID 10, not 1.
    let net = net("brv5").keys(json!({"ipam": {}, "vlan": 100}));
    net.host.ip(&[
        "link",
        "add",
        "brv5",
        "type",
        "bridge",
        "vlan_filtering",
        "1",
        "vlan_default_pvid",
        "10",
    ]);
    let v = Version::V1_0_0;
    // A neighbour trunking every VLAN, which the plugin's VLAN listing
    // (ranges, for every port) reads too.
    let wide = TestNs::new("wide");
    let everything = json!({"vlan": 0, "vlanTrunk": [{"minID": 2, "maxID": 4094}]});
    let all = net.add(&wide, "wide", &net.conf(v, everything));
    let vids = vlans_of(&net.host, &port(&all));
    assert_eq!(vids.len(), 4094);
    assert_eq!(vids[0], access(1));
    assert_eq!(vids[4093], tagged(4094));
    for (preserve, want) in [
        (false, vec![access(100)]),
        (
            true,
            vec![
                Vid {
                    vid: 10,
                    pvid: false,
                    untagged: true,
                },
                access(100),
            ],
        ),
    ] {
        let ctr = TestNs::new("pvid");
        let c = net.conf(v, json!({"preserveDefaultVlan": preserve}));
        let a = net.add(&ctr, "pvid", &c);
        assert_eq!(vlans_of(&net.host, &port(&a)), want, "{preserve}");
        a.del();
    }
    all.del();
    net.assert_no_leftovers("default pvid");
}

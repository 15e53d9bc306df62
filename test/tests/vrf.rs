//! vrf, executed as a runtime would: chained after a veth made here with
//! `ip` (with IPv6 addresses the kernel drops on enslave, and routes of
//! every kind) or after our ptp plugin, for every spec version from 0.3.1;
//! VRFs, masters, addresses and routes read back from the kernel.
//!
//! Most tests need a kernel with VRF support (`require_kernel!("vrf")`:
//! the VM stage runs them); the refusals that come before any change, and
//! ADD's error on a kernel without VRF support, run anywhere.

use integration::*;
use pkg::netlink::{Link, RouteSpec};
use serde_json::{Value, json};

const HOST_VETH: &str = "hv0";

/// A fake host and a container joined by a veth `eth0`, addressed and
/// routed as a main plugin (or an operator) leaves it: IPv4 with a
/// default route, a link-scope route and a route via it (ptp's pattern),
/// and IPv6 (no `keep_addr_on_down`: the kernel drops the address on
/// enslave) with a default route and a route with a metric; and a route
/// per family with the address as its source.
struct Env {
    fx: Fixture,
    ctr: TestNs,
}

impl Env {
    fn new() -> Env {
        let fx =
            Fixture::in_host(TestNs::new("vhost"), "vrf", "vrfnet").keys(json!({"vrfname": "red"}));
        let ctr = TestNs::new("vctr");
        veth_into(&fx.host, HOST_VETH, &ctr, "eth0");
        let steps = [
            "addr add 10.77.0.2/24 dev eth0",
            "-6 addr add fd77::2/64 dev eth0 nodad",
            "route add default via 10.77.0.1 dev eth0",
            "route add 10.9.9.9/32 dev eth0 scope link",
            "route add 10.8.0.0/16 via 10.9.9.9 dev eth0",
            "-6 route add default via fd77::1 dev eth0",
            "-6 route add fd78::/64 via fd77::1 dev eth0 metric 50",
            // the addresses as sources (Go's test): the IPv6 one is valid
            // only once the address is back
            "route add 10.10.10.0/24 via 10.77.0.1 dev eth0 src 10.77.0.2",
            "-6 route add 1111:dddd::/80 via fd77::1 dev eth0 src fd77::2",
        ];
        for step in steps {
            ctr.ip(&step.split(' ').collect::<Vec<_>>());
        }
        Env { fx, ctr }
    }

    /// A second veth `name` into the container, with an address.
    fn second(&self, name: &str, host_end: &str, cidr: &str) {
        veth_into(&self.fx.host, host_end, &self.ctr, name);
        self.ctr.ip(&["addr", "add", cidr, "dev", name]);
    }

    /// What the main plugin returned for `ifname`, in `v`'s shape.
    fn prev(&self, v: Version, ifname: &str) -> Value {
        let host = End {
            name: HOST_VETH,
            mac: "",
            sandbox: "",
        };
        let mac = self.link(ifname).mac_string();
        let ctr = End {
            name: ifname,
            mac: &mac,
            sandbox: &self.ctr.path_str(),
        };
        veth_result(v, host, ctr, "10.77.0.2/24", Some("10.77.0.1"))
    }

    fn conf(&self, v: Version, ifname: &str, extra: Value) -> Value {
        with_prev(&self.fx.conf(v, extra), &self.prev(v, ifname))
    }

    fn call(&self, cmd: &str, ifname: &str) -> Call {
        self.fx.call(cmd, &self.ctr, "vrf1").ifname(ifname)
    }

    fn link(&self, name: &str) -> Link {
        link_in(&self.ctr, name).unwrap_or_else(|| panic!("no {name} in the container"))
    }

    /// The VRF `name`'s table, if the link exists (and is a VRF).
    fn vrf_table(&self, name: &str) -> Option<u32> {
        let link = link_in(&self.ctr, name)?;
        assert_eq!(link.kind.as_deref(), Some("vrf"), "{name}");
        let details = self.ctr.ip(&["-d", "link", "show", name]);
        let table = details
            .split_whitespace()
            .skip_while(|w| *w != "table")
            .nth(1)
            .unwrap_or_else(|| panic!("no table in {details}"));
        Some(table.parse().unwrap())
    }

    /// The name of `ifname`'s master, if it has one.
    fn master_of(&self, ifname: &str) -> Option<String> {
        let m = self.link(ifname).master?;
        let links = self.ctr.netlink().link_list().unwrap();
        links.into_iter().find(|l| l.index == m).map(|l| l.name)
    }

    /// `ifname`'s routes in `table`, both families.
    fn routes(&self, ifname: &str, table: u32) -> Vec<RouteSpec> {
        let index = self.link(ifname).index;
        let mut nl = self.ctr.netlink();
        let mut all = nl.route_list(true, Some(index)).unwrap();
        all.extend(nl.route_list(false, Some(index)).unwrap());
        all.retain(|r| r.table == Some(table));
        all
    }

    fn has_route(&self, ifname: &str, table: u32, dst: &str, gw: Option<&str>) -> bool {
        let dst: ipnet::IpNet = dst.parse().unwrap();
        let gw = gw.map(|g| g.parse().unwrap());
        self.routes(ifname, table)
            .iter()
            .any(|r| r.dst == dst && r.gw == gw)
    }

    fn v6_addresses(&self, ifname: &str) -> String {
        self.ctr
            .ip(&["-6", "addr", "show", "dev", ifname, "scope", "global"])
    }

    /// eth0's addressing as `Env::new` made it, in the main table, and
    /// no master.
    fn assert_eth0_outside(&self, what: &str) {
        assert_eq!(self.master_of("eth0"), None, "{what}: master");
        assert!(
            self.v6_addresses("eth0").contains("fd77::2/64"),
            "{what}: {}",
            self.v6_addresses("eth0")
        );
        for (dst, gw) in EXPECTED_ROUTES {
            assert!(
                self.has_route("eth0", 254, dst, *gw),
                "{what}: {dst} via {gw:?} not in main: {:?}",
                self.routes("eth0", 254)
            );
        }
    }

    /// eth0 in VRF `vrf` with table `table`: its IPv6 address kept, every
    /// route of `Env::new` in that table and none left in main.
    fn assert_eth0_in(&self, vrf: &str, table: u32, what: &str) {
        assert_eq!(self.master_of("eth0").as_deref(), Some(vrf), "{what}");
        assert_eq!(self.vrf_table(vrf), Some(table), "{what}");
        assert!(self.link(vrf).is_up(), "{what}: {vrf} is down");
        assert!(
            self.v6_addresses("eth0").contains("fd77::2/64"),
            "{what}: the IPv6 address is gone: {}",
            self.v6_addresses("eth0")
        );
        for (dst, gw) in EXPECTED_ROUTES.iter().chain(KERNEL_ROUTES) {
            assert!(
                self.has_route("eth0", table, dst, *gw),
                "{what}: {dst} via {gw:?} not in table {table}: {:?}",
                self.routes("eth0", table)
            );
        }
        let main = self.routes("eth0", 254);
        assert!(main.is_empty(), "{what}: left in main: {main:?}");
        // As an operator would look.
        let shown = self.ctr.ip(&["-6", "route", "show", "vrf", vrf]);
        assert!(shown.contains("fd78::/64 via fd77::1 dev eth0"), "{shown}");
        assert!(shown.contains("default via fd77::1 dev eth0"), "{shown}");
        let shown = self.ctr.ip(&["route", "show", "vrf", vrf]);
        assert!(
            shown.contains("10.8.0.0/16 via 10.9.9.9 dev eth0"),
            "{shown}"
        );
    }
}

/// The routes `Env::new` adds (destination, gateway).
const EXPECTED_ROUTES: &[(&str, Option<&str>)] = &[
    ("0.0.0.0/0", Some("10.77.0.1")),
    ("10.9.9.9/32", None),
    ("10.8.0.0/16", Some("10.9.9.9")),
    ("::/0", Some("fd77::1")),
    ("fd78::/64", Some("fd77::1")),
    ("10.10.10.0/24", Some("10.77.0.1")),
    ("1111:dddd::/80", Some("fd77::1")),
];

/// The routes the kernel makes for eth0's addresses.
const KERNEL_ROUTES: &[(&str, Option<&str>)] = &[("10.77.0.0/24", None), ("fd77::/64", None)];

fn vrf_links(ctr: &TestNs) -> Vec<String> {
    ctr.netlink()
        .link_list()
        .unwrap()
        .into_iter()
        .filter(|l| l.kind.as_deref() == Some("vrf"))
        .map(|l| l.name)
        .collect()
}

#[test]
fn add_check_del_every_version() {
    require_root!();
    require_kernel!("vrf");
    for v in versions_from(Version::V0_3_1) {
        let env = Env::new();
        let c = env.conf(v, "eth0", json!({}));
        let r = env.call("ADD", "eth0").run(&c).expect_success();
        // Documentation/conformance.md item 20: prevResult is the result
        assert_eq!(r, env.prev(v, "eth0"), "{v}");
        // table 0: the first free one
        env.assert_eth0_in("red", 1, v.as_str());
        if v.has_check() {
            let out = env.call("CHECK", "eth0").run(&with_prev(&c, &r));
            assert_eq!(out.expect_success(), Value::Null, "{v}: CHECK prints");
        }
        // Documentation/conformance.md item 22: DEL twice
        env.call("DEL", "eth0").run(&c).expect_success();
        assert_eq!(env.master_of("eth0"), None, "{v}");
        assert!(vrf_links(&env.ctr).is_empty(), "{v}: the VRF is left");
        env.call("DEL", "eth0").run(&c).expect_success();
    }
}

#[test]
fn versions_before_0_3_1_are_refused() {
    require_root!();
    let out = Call::new(plugin_path("vrf"), "VERSION").run_raw(b"");
    assert_eq!(
        out.expect_success()["supportedVersions"],
        json!(["0.3.1", "0.4.0", "1.0.0", "1.1.0"])
    );
    let env = Env::new();
    for v in [Version::V0_1_0, Version::V0_2_0, Version::V0_3_0] {
        let (code, msg) = env
            .call("ADD", "eth0")
            .run(&env.conf(v, "eth0", json!({})))
            .expect_spec_error();
        assert_eq!(code, 1, "{v}: {msg}");
    }
    assert_eq!(env.master_of("eth0"), None);
    // GC and STATUS: nothing to do
    for cmd in ["GC", "STATUS"] {
        env.fx
            .network_call(cmd)
            .run(&env.fx.conf(Version::V1_1_0, json!({})))
            .expect_success();
    }
}

#[test]
fn two_interfaces_share_the_vrf_until_the_last_leaves() {
    require_root!();
    require_kernel!("vrf");
    let env = Env::new();
    env.second("net2", "hv2", "10.79.0.2/24");
    let v = Version::V1_1_0;
    let c0 = env.conf(v, "eth0", json!({}));
    let c2 = env.conf(v, "net2", json!({}));
    env.call("ADD", "eth0").run(&c0).expect_success();
    env.call("ADD", "net2").run(&c2).expect_success();
    assert_eq!(vrf_links(&env.ctr), ["red"]);
    assert_eq!(env.master_of("net2").as_deref(), Some("red"));
    assert!(env.has_route("net2", 1, "10.79.0.0/24", None));
    env.assert_eth0_in("red", 1, "two interfaces");
    // eth0's very address on another interface, in another VRF
    env.second("net3", "hv3", "10.77.0.2/24");
    let c3 = env.conf(v, "net3", json!({"vrfname": "blue"}));
    env.call("ADD", "net3").run(&c3).expect_success();
    assert_eq!(env.vrf_table("blue"), Some(2));
    assert!(env.has_route("net3", 2, "10.77.0.0/24", None));
    env.assert_eth0_in("red", 1, "the same address in another vrf");
    env.call("DEL", "net3").run(&c3).expect_success();
    assert_eq!(vrf_links(&env.ctr), ["red"], "blue goes with net3");
    env.call("DEL", "eth0").run(&c0).expect_success();
    assert_eq!(vrf_links(&env.ctr), ["red"], "net2 is still in it");
    assert_eq!(env.master_of("net2").as_deref(), Some("red"));
    env.call("DEL", "net2").run(&c2).expect_success();
    assert!(vrf_links(&env.ctr).is_empty());
}

#[test]
fn table_zero_picks_the_first_table_no_vrf_uses() {
    require_root!();
    require_kernel!("vrf");
    let env = Env::new();
    for (name, table) in [("blue", "1"), ("green", "3")] {
        env.ctr
            .ip(&["link", "add", name, "type", "vrf", "table", table]);
    }
    env.second("net2", "hv2", "10.79.0.2/24");
    let v = Version::V1_0_0;
    let c = env.conf(v, "eth0", json!({}));
    env.call("ADD", "eth0").run(&c).expect_success();
    env.assert_eth0_in("red", 2, "auto table");
    let c2 = env.conf(v, "net2", json!({"vrfname": "pink", "table": 0}));
    env.call("ADD", "net2").run(&c2).expect_success();
    assert_eq!(env.vrf_table("pink"), Some(4));
    env.call("DEL", "net2").run(&c2).expect_success();
    env.call("DEL", "eth0").run(&c).expect_success();
    let mut left = vrf_links(&env.ctr);
    left.sort();
    assert_eq!(left, ["blue", "green"], "VRFs of others stay");
}

#[test]
fn explicit_table_and_a_conflicting_one() {
    require_root!();
    require_kernel!("vrf");
    let env = Env::new();
    env.second("net2", "hv2", "10.79.0.2/24");
    let v = Version::V1_0_0;
    let c = env.conf(v, "eth0", json!({"table": 1000}));
    let r = env.call("ADD", "eth0").run(&c).expect_success();
    env.assert_eth0_in("red", 1000, "table 1000");
    env.call("CHECK", "eth0")
        .run(&with_prev(&c, &r))
        .expect_success();
    // The same VRF with another table: refused, naming both, nothing done.
    let other = env.conf(v, "net2", json!({"table": 2000}));
    let (code, msg) = env.call("ADD", "net2").run(&other).expect_spec_error();
    assert_eq!(code, 999, "{msg}");
    assert!(
        msg.contains("VRF red already exists with routing table 1000, not the configured 2000"),
        "{msg}"
    );
    assert_eq!(env.master_of("net2"), None);
    assert_eq!(env.vrf_table("red"), Some(1000));
    // CHECK with another table fails too; without a table it passes.
    let mut check = with_prev(&c, &r);
    check["table"] = json!(2000);
    let (_, msg) = env.call("CHECK", "eth0").run(&check).expect_spec_error();
    assert!(msg.contains("routing table 1000"), "{msg}");
    check["table"] = json!(0);
    env.call("CHECK", "eth0").run(&check).expect_success();
    // CHECK of an interface that is not in the VRF
    let (_, msg) = env
        .call("CHECK", "net2")
        .run(&with_prev(&env.conf(v, "net2", json!({})), &r))
        .expect_spec_error();
    assert!(
        msg.contains("failed to find net2 associated to vrf red"),
        "{msg}"
    );
    env.call("DEL", "eth0").run(&c).expect_success();
    assert!(vrf_links(&env.ctr).is_empty());
}

#[test]
fn chained_after_ptp_every_version() {
    require_root!();
    require_kernel!("vrf");
    let net = Fixture::in_host(TestNs::new("vhost"), "vrf", "vrfptp")
        .keys(json!({"vrfname": "red", "table": 10}))
        .host_routes_to(&["10.78.", "fd78:"]);
    let ptp = |v: Version| {
        let ranges = json!([[{"subnet": "10.78.0.0/24"}], [{"subnet": "fd78::/64"}]]);
        let mut ipam = net.host_local(ranges);
        ipam["routes"] = json!([{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]);
        net.conf_of("ptp", v, json!({"ipam": ipam}))
    };
    for v in versions_from(Version::V0_3_1) {
        let ctr = TestNs::new("vctr");
        let main = net.add_of("ptp", &ctr, "p1", &ptp(v));
        let a = net.add(
            &ctr,
            "p1",
            &with_prev(&net.conf(v, json!({})), &main.result),
        );
        assert_eq!(a.result, main.result, "{v}");
        let eth0 = link_in(&ctr, "eth0").unwrap();
        let mut nl = ctr.netlink();
        let mut routes = nl.route_list(true, Some(eth0.index)).unwrap();
        routes.extend(nl.route_list(false, Some(eth0.index)).unwrap());
        assert!(
            routes.iter().all(|r| r.table != Some(254)),
            "{v}: left in main: {routes:?}"
        );
        for dst in ["0.0.0.0/0", "::/0", "10.78.0.0/24", "10.78.0.1/32"] {
            let dst: ipnet::IpNet = dst.parse().unwrap();
            assert!(
                routes.iter().any(|r| r.dst == dst && r.table == Some(10)),
                "{v}: {dst} not in table 10: {routes:?}"
            );
        }
        // ptp's design kept: the subnet only through the host, never on-link
        for subnet in ["10.78.0.0/24", "fd78::/64"] {
            let subnet: ipnet::IpNet = subnet.parse().unwrap();
            let onlink: Vec<_> = routes
                .iter()
                .filter(|r| r.dst == subnet && r.gw.is_none())
                .collect();
            assert!(onlink.is_empty(), "{v}: {onlink:?}");
        }
        let v6 = output_in(&ctr, "ip", &["-6", "addr", "show", "dev", "eth0"]);
        assert!(v6.contains("fd78::"), "{v}: {v6}");
        if v.has_check() {
            // the whole chain checks out with the routes in the VRF
            main.check().expect_success();
            a.check().expect_success();
        }
        // a runtime's DEL of the chain: in reverse
        a.del();
        assert!(link_in(&ctr, "red").is_none(), "{v}");
        main.del();
        a.del();
        net.assert_no_leftovers(v.as_str());
    }
}

// Documentation/conformance.md item 23: DEL with nothing to go on
#[test]
fn conformance_23_del_with_the_interface_the_vrf_or_the_netns_gone() {
    require_root!();
    require_kernel!("vrf");
    let env = Env::new();
    let c = env.conf(Version::V1_0_0, "eth0", json!({}));
    env.call("ADD", "eth0").run(&c).expect_success();
    // The main plugin's DEL ran first (or the link went some other way):
    // the VRF is left empty and goes (Go fails here and stops the chain's
    // DEL, leaking the main plugin's link).
    env.ctr.ip(&["link", "del", "eth0"]);
    env.call("DEL", "eth0").run(&c).expect_success();
    assert!(vrf_links(&env.ctr).is_empty());
    // No VRF at all
    env.call("DEL", "eth0").run(&c).expect_success();
    // No netns
    env.call("DEL", "eth0")
        .netns_path("/run/netns/gone")
        .run(&c)
        .expect_success();
    // An interface in another master is left alone.
    env.second("net2", "hv2", "10.79.0.2/24");
    env.ctr
        .ip(&["link", "add", "red", "type", "vrf", "table", "5"]);
    env.ctr
        .ip(&["link", "add", "blue", "type", "vrf", "table", "6"]);
    env.ctr.ip(&["link", "set", "net2", "master", "blue"]);
    env.call("DEL", "net2").run(&c).expect_success();
    assert_eq!(env.master_of("net2").as_deref(), Some("blue"));
    assert_eq!(vrf_links(&env.ctr), ["blue"], "the empty red goes");
}

#[test]
fn a_failed_add_releases_the_interface_and_removes_its_vrf() {
    require_root!();
    require_kernel!("vrf");
    for vrf_existed in [false, true] {
        let what = if vrf_existed {
            "existing VRF"
        } else {
            "new VRF"
        };
        let env = Env::new();
        // A route whose source address is outside the VRF: the kernel
        // refuses it in the VRF's table, after eth0 was enslaved.
        env.ctr
            .ip(&["-6", "addr", "add", "fd99::9/128", "dev", "lo"]);
        env.ctr.ip(&[
            "-6",
            "route",
            "add",
            "fd88::/64",
            "via",
            "fd77::1",
            "dev",
            "eth0",
            "src",
            "fd99::9",
        ]);
        if vrf_existed {
            env.ctr
                .ip(&["link", "add", "red", "type", "vrf", "table", "7"]);
        }
        let c = env.conf(Version::V1_0_0, "eth0", json!({}));
        let (code, msg) = env.call("ADD", "eth0").run(&c).expect_spec_error();
        assert_eq!(code, 999, "{what}: {msg}");
        assert!(
            msg.contains("could not move route fd88::/64") && msg.contains("VRF red"),
            "{what}: {msg}"
        );
        env.assert_eth0_outside(what);
        assert!(
            env.has_route("eth0", 254, "fd88::/64", Some("fd77::1")),
            "{what}: {:?}",
            env.routes("eth0", 254)
        );
        let left = vrf_links(&env.ctr);
        if vrf_existed {
            assert_eq!(left, ["red"], "{what}");
        } else {
            assert!(left.is_empty(), "{what}: {left:?}");
        }
    }
}

#[test]
fn bad_input_is_refused_before_any_change() {
    require_root!();
    let env = Env::new();
    env.ctr.ip(&["link", "add", "br0", "type", "bridge"]);
    env.second("net2", "hv2", "10.79.0.2/24");
    env.ctr.ip(&["link", "set", "net2", "master", "br0"]);
    // a link named like the VRF that is not one
    env.second("notvrf", "hv3", "10.80.0.2/24");
    let v = Version::V1_0_0;
    let cases: Vec<(Value, &str, u64, &str)> = vec![
        (
            json!({"vrfname": ""}),
            "eth0",
            7,
            "configuration is expected to have a valid vrf name",
        ),
        (json!({"vrfname": "x/y"}), "eth0", 7, "invalid vrfname"),
        (json!({"table": 254}), "eth0", 7, "invalid table 254"),
        (json!({"table": -1}), "eth0", 7, "invalid table -1"),
        (json!({"table": "1"}), "eth0", 6, ""),
        (json!({}), "eth9", 999, "could not get link by name eth9"),
        (
            json!({}),
            "net2",
            999,
            "interface net2 has already a master set: br0",
        ),
        (
            json!({"vrfname": "notvrf"}),
            "eth0",
            999,
            "notvrf exists but is not a vrf (it is a veth)",
        ),
    ];
    for (extra, ifname, code, msg) in cases {
        let mut c = env.conf(v, "eth0", extra.clone());
        c["prevResult"]["interfaces"][1]["name"] = json!(ifname);
        let (got, got_msg) = env.call("ADD", ifname).run(&c).expect_spec_error();
        assert_eq!(got, code, "{extra} {ifname}: {got_msg}");
        assert!(got_msg.contains(msg), "{extra} {ifname}: {got_msg}");
    }
    // without prevResult
    let (code, msg) = env
        .call("ADD", "eth0")
        .run(&env.fx.conf(v, json!({})))
        .expect_spec_error();
    assert_eq!(code, 7, "{msg}");
    assert!(
        msg.contains("missing prevResult from earlier plugin"),
        "{msg}"
    );
    env.assert_eth0_outside("after refusals");
    assert_eq!(env.master_of("net2").as_deref(), Some("br0"));
    assert!(vrf_links(&env.ctr).is_empty());
    // DEL of a config that could never have been added: nothing to do
    for extra in [
        json!({"vrfname": ""}),
        json!({"vrfname": "x/y"}),
        json!({"vrfname": "notvrf"}),
    ] {
        env.call("DEL", "eth0")
            .run(&env.fx.conf(v, extra))
            .expect_success();
    }
    assert!(link_in(&env.ctr, "notvrf").is_some());
}

#[test]
fn without_vrf_support_add_fails_naming_it() {
    require_root!();
    if missing_kernel_feature("vrf").is_none() {
        eprintln!("note: this kernel has VRF support; the other tests cover ADD");
        return;
    }
    let env = Env::new();
    let before = env.ctr.ip(&["-d", "link"]);
    let (code, msg) = env
        .call("ADD", "eth0")
        .run(&env.conf(Version::V1_0_0, "eth0", json!({})))
        .expect_spec_error();
    assert_eq!(code, 999, "{msg}");
    assert!(
        msg.contains("could not add VRF red: the kernel has no vrf support"),
        "{msg}"
    );
    assert_eq!(env.ctr.ip(&["-d", "link"]), before, "links changed");
    env.assert_eth0_outside("no vrf support");
}

#[test]
fn interop_with_go_vrf() {
    require_root!();
    require_kernel!("vrf");
    let Some(go) = require_go("vrf", &[]) else {
        return;
    };
    let v = Version::V1_0_0;
    // Go's ADD, then our CHECK and DEL
    let env = Env::new();
    let go_call = |env: &Env, cmd: &str| runtime_call(&go, cmd, "vrf1", &env.ctr, &env.fx.host);
    let c = env.conf(v, "eth0", json!({}));
    let r = go_call(&env, "ADD").run(&c).expect_success();
    assert_eq!(env.master_of("eth0").as_deref(), Some("red"));
    env.call("CHECK", "eth0")
        .run(&with_prev(&c, &r))
        .expect_success();
    env.call("DEL", "eth0").run(&c).expect_success();
    assert_eq!(env.master_of("eth0"), None);
    assert!(vrf_links(&env.ctr).is_empty());
    // our ADD, then Go's CHECK and DEL
    let env = Env::new();
    let c = env.conf(v, "eth0", json!({"table": 42}));
    let r = env.call("ADD", "eth0").run(&c).expect_success();
    go_call(&env, "CHECK")
        .run(&with_prev(&c, &r))
        .expect_success();
    go_call(&env, "DEL").run(&c).expect_success();
    assert_eq!(env.master_of("eth0"), None);
    assert!(vrf_links(&env.ctr).is_empty());
}

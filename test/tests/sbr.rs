//! sbr, executed as a runtime would, in scratch namespaces: chained after
//! bridge in every spec version, the choice of a free table (free in every
//! table and family), dual stack, a configured table, DEL without
//! prevResult and after the interface or the namespace is gone, rollback,
//! refusals, CHECK, and round trips with Debian's Go sbr.

use integration::state::Snapshot;
use integration::*;
use serde_json::{Value, json};

fn net() -> Fixture {
    Fixture::new("sbr", "sbrnet")
}

fn bridge(net: &Fixture, v: Version) -> Value {
    let mut ipam = net.host_local(json!([[{"subnet": "10.84.0.0/24"}]]));
    ipam["routes"] = json!([{"dst": "0.0.0.0/0"}]);
    net.conf_of(
        "bridge",
        v,
        json!({"bridge": "sbr0", "isGateway": true, "ipam": ipam}),
    )
}

/// The rules that are not the kernel's defaults, both families, one line
/// each without the priority.
fn rules(ctr: &TestNs) -> Vec<String> {
    let mut out = Vec::new();
    for fam in ["-4", "-6"] {
        for l in output_in(ctr, "ip", &[fam, "rule"]).lines() {
            let rule = l.split_once(":\t").map_or(l, |(_, r)| r).trim().to_string();
            if !rule.starts_with("from all lookup") {
                out.push(rule);
            }
        }
    }
    out
}

/// The routes of table `t`, both families.
fn table(ctr: &TestNs, t: &str) -> String {
    output_in(ctr, "ip", &["-4", "route", "show", "table", t])
        + &output_in(ctr, "ip", &["-6", "route", "show", "table", t])
}

/// A container interface made by hand: `ifname` in `ctr`, a veth to the
/// fixture's host, with `addrs` and a default route via `.1` of the first
/// (and `::1` of an IPv6 one).
fn iface(net: &Fixture, ctr: &TestNs, ifname: &str, addrs: &[&str]) {
    let peer = format!("h{}", ctr.name.len() + ifname.len() + addrs.len());
    let peer = format!("{peer}{}", rand_suffix());
    ctr.veth_to(ifname, addrs, &net.host, &peer, &[]);
    for a in addrs {
        let net: ipnet::IpNet = a.parse().unwrap();
        let gw = match net.network() {
            std::net::IpAddr::V4(n) => std::net::IpAddr::V4((u32::from(n) + 1).into()),
            std::net::IpAddr::V6(n) => std::net::IpAddr::V6((u128::from(n) + 1).into()),
        };
        let fam = if net.addr().is_ipv4() { "-4" } else { "-6" };
        if output_in(ctr, "ip", &[fam, "route", "show", "default"]).is_empty() {
            ctr.ip(&[
                fam,
                "route",
                "add",
                "default",
                "via",
                &gw.to_string(),
                "dev",
                ifname,
            ]);
        }
    }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}x{}",
        std::process::id() % 10000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A 1.0.0 prevResult giving `ifname` in `ctr` the addresses `ips`
/// (address, gateway).
fn prev(ctr: &TestNs, ifname: &str, ips: &[(&str, &str)]) -> Value {
    let ips: Vec<Value> = ips
        .iter()
        .map(|(a, gw)| json!({"interface": 0, "address": a, "gateway": gw}))
        .collect();
    json!({"cniVersion": "1.0.0",
           "interfaces": [{"name": ifname, "sandbox": ctr.path_str()}],
           "ips": ips})
}

/// sbr's config with `prev` and `keys`.
fn sbr(net: &Fixture, prev: &Value, keys: Value) -> Value {
    with_prev(&net.conf(Version::V1_0_0, keys), prev)
}

// Documentation/conformance.md items 17, 20, 22 and 23: chained after
// bridge in every version; the result is prevResult; a table of its own;
// CHECK; DEL twice, after the interface is gone and with the namespace
// gone (the path is not created)
#[test]
fn conformance_20_chained_after_bridge_every_version() {
    require_root!();
    let net = net();
    for v in Version::ALL {
        let ctr = TestNs::new("ctr");
        let br = net.add_of("bridge", &ctr, "s1", &bridge(&net, v));
        let c = with_prev(&net.conf(v, json!({})), &br.result);
        let a = Attachment::add(net.call("ADD", &ctr, "s1"), &c);
        assert_eq!(a.result, br.result, "{v}");
        let ip = address_of(&br.result, true).to_string();
        assert_eq!(rules(&ctr), [format!("from {ip} lookup 100")], "{v}");
        let t = table(&ctr, "100");
        assert!(t.contains("default via 10.84.0.1 dev eth0"), "{v}: {t}");
        // a copy of the kernel's subnet route (it keeps `proto kernel`,
        // as Go's copy does)
        let subnet = t.lines().find(|l| l.starts_with("10.84.0.0/24 dev eth0"));
        assert!(
            subnet.is_some_and(|l| l.contains(&format!("scope link src {ip}"))),
            "{v}: {t}"
        );
        let main = output_in(&ctr, "ip", &["-4", "route", "show", "dev", "eth0"]);
        assert_eq!(main, "", "{v}: the main table keeps no route of eth0");
        if v.has_check() {
            a.check_ok();
        }
        // DEL as a runtime sends it: no prevResult
        let plain = net.conf(v, json!({}));
        net.call("DEL", &ctr, "s1").run(&plain).expect_success();
        assert!(rules(&ctr).is_empty(), "{v}: {:?}", rules(&ctr));
        assert_eq!(table(&ctr, "100"), "", "{v}");
        a.del();
        br.del();
        a.del();
        let path = ctr.path.clone();
        drop(ctr);
        a.del();
        assert!(!path.exists(), "{v}: DEL created {}", path.display());
        net.call_at("DEL", "/run/netns/cnit-never-made", "s1")
            .run(&a.conf)
            .expect_success();
        assert!(!std::path::Path::new("/run/netns/cnit-never-made").exists());
        net.assert_no_leftovers(v.as_str());
    }
}

/// The first free table is free in every table listing and both
/// families: a route of another table (100), an IPv6-only route (101) and
/// a rule (102) each make a table used. DEL leaves them alone.
#[test]
fn a_table_used_anywhere_is_not_picked() {
    require_root!();
    let net = net();
    let ctr = TestNs::new("used");
    iface(&net, &ctr, "eth0", &["10.84.1.2/24"]);
    ctr.ip(&[
        "route",
        "add",
        "198.51.100.0/24",
        "dev",
        "lo",
        "table",
        "100",
    ]);
    ctr.ip(&[
        "-6",
        "route",
        "add",
        "2001:db8::/64",
        "dev",
        "lo",
        "table",
        "101",
    ]);
    ctr.ip(&["rule", "add", "from", "192.0.2.9", "lookup", "102"]);
    let before_100 = table(&ctr, "100");
    let c = sbr(
        &net,
        &prev(&ctr, "eth0", &[("10.84.1.2/24", "10.84.1.1")]),
        json!({}),
    );
    let a = net.add(&ctr, "used", &c);
    let r = rules(&ctr);
    assert!(
        r.contains(&"from 10.84.1.2 lookup 103".to_string()),
        "{r:?}"
    );
    assert_eq!(
        table(&ctr, "100"),
        before_100,
        "nothing added beside others"
    );
    a.check_ok();
    a.del();
    assert_eq!(rules(&ctr), ["from 192.0.2.9 lookup 102"]);
    assert_eq!(table(&ctr, "100"), before_100);
    assert!(table(&ctr, "101").contains("2001:db8::/64"));
    assert_eq!(table(&ctr, "103"), "");
}

/// Two addresses, one per family: a table each, the default route of each
/// family via its gateway, the main table without routes of the link.
#[test]
fn dual_stack_gets_a_table_per_address() {
    require_root!();
    let net = net();
    let ctr = TestNs::new("dual");
    iface(&net, &ctr, "eth0", &["10.84.2.2/24", "fd00:84:2::2/64"]);
    let p = prev(
        &ctr,
        "eth0",
        &[
            ("10.84.2.2/24", "10.84.2.1"),
            ("fd00:84:2::2/64", "fd00:84:2::1"),
        ],
    );
    let a = net.add(&ctr, "dual", &sbr(&net, &p, json!({})));
    assert_eq!(
        rules(&ctr),
        ["from 10.84.2.2 lookup 100", "from fd00:84:2::2 lookup 101"]
    );
    assert!(table(&ctr, "100").contains("default via 10.84.2.1 dev eth0"));
    let t6 = table(&ctr, "101");
    assert!(t6.contains("default via fd00:84:2::1 dev eth0"), "{t6}");
    assert!(t6.contains("fd00:84:2::/64 dev eth0"), "{t6}");
    assert!(!table(&ctr, "100").contains("fd00"), "one family per table");
    for fam in ["-4", "-6"] {
        let main = output_in(&ctr, "ip", &[fam, "route", "show", "dev", "eth0"]);
        assert_eq!(main, "", "{fam}");
    }
    a.check_ok();
    a.del();
    assert!(rules(&ctr).is_empty());
    assert_eq!(table(&ctr, "100") + &table(&ctr, "101"), "");
}

/// `gateways` replaces the result's gateway of its family (IPv4 here,
/// IPv6 keeps the result's); `addSourceHints` keeps the subnet routes in
/// the main table, with the address as their source.
#[test]
fn static_gateway_and_source_hints() {
    require_root!();
    let net = net();
    let ctr = TestNs::new("hints");
    iface(&net, &ctr, "eth0", &["10.84.3.2/24", "fd00:84:3::2/64"]);
    let p = prev(
        &ctr,
        "eth0",
        &[
            ("10.84.3.2/24", "10.84.3.1"),
            ("fd00:84:3::2/64", "fd00:84:3::1"),
        ],
    );
    let c = sbr(
        &net,
        &p,
        json!({"gateways": ["10.84.3.254"], "addSourceHints": true}),
    );
    let a = net.add(&ctr, "hints", &c);
    let t = table(&ctr, "100");
    assert!(t.contains("default via 10.84.3.254 dev eth0"), "{t}");
    let main = output_in(&ctr, "ip", &["-4", "route", "show", "dev", "eth0"]);
    assert!(
        main.contains("10.84.3.0/24 scope link src 10.84.3.2"),
        "{main}"
    );
    assert!(!main.contains("default"), "{main}");
    let main6 = output_in(&ctr, "ip", &["-6", "route", "show", "dev", "eth0"]);
    assert!(
        main6.contains("fd00:84:3::/64 src fd00:84:3::2 metric 1024"),
        "{main6}"
    );
    assert!(!main6.contains("default"), "{main6}");
    assert!(table(&ctr, "101").contains("default via fd00:84:3::1 dev eth0"));
    a.check_ok();
    a.del();
    assert!(rules(&ctr).is_empty());
}

/// With `table`, only the rules: to that table, no route moved. DEL
/// removes them also once the interface is gone.
#[test]
fn configured_table_only_adds_rules() {
    require_root!();
    let net = net();
    let ctr = TestNs::new("fixed");
    iface(&net, &ctr, "eth0", &["10.84.4.2/24"]);
    let main_before = output_in(&ctr, "ip", &["route"]);
    let p = prev(&ctr, "eth0", &[("10.84.4.2/24", "10.84.4.1")]);
    let c = sbr(&net, &p, json!({"table": 500}));
    let a = net.add(&ctr, "fixed", &c);
    assert_eq!(rules(&ctr), ["from 10.84.4.2 lookup 500"]);
    assert_eq!(output_in(&ctr, "ip", &["route"]), main_before);
    assert_eq!(table(&ctr, "500"), "");
    a.check_ok();
    let mut other = c.clone();
    other["table"] = json!(501);
    let (_, msg) = net
        .call("CHECK", &ctr, "fixed")
        .run(&other)
        .expect_spec_error();
    assert!(msg.contains("no rule from 10.84.4.2 lookup 501"), "{msg}");
    ctr.ip(&["link", "del", "eth0"]);
    a.del();
    assert!(rules(&ctr).is_empty());
    a.del();
}

/// Two interfaces with sbr: the DEL of one whose interface is gone removes
/// only its rule (its table is empty and no interface holds its address),
/// never the other's.
#[test]
fn del_after_the_interface_is_gone_keeps_the_others() {
    require_root!();
    let net = net();
    let ctr = TestNs::new("two");
    iface(&net, &ctr, "eth0", &["10.84.5.2/24"]);
    iface(&net, &ctr, "net1", &["10.84.6.2/24"]);
    let c0 = sbr(
        &net,
        &prev(&ctr, "eth0", &[("10.84.5.2/24", "10.84.5.1")]),
        json!({}),
    );
    let c1 = sbr(
        &net,
        &prev(&ctr, "net1", &[("10.84.6.2/24", "10.84.6.1")]),
        json!({}),
    );
    // both at once: the lock keeps them from picking the same table
    let (a0, a1) = std::thread::scope(|s| {
        let h0 = s.spawn(|| net.add(&ctr, "two", &c0));
        let h1 = s.spawn(|| Attachment::add(net.call("ADD", &ctr, "two").ifname("net1"), &c1));
        (h0.join().unwrap(), h1.join().unwrap())
    });
    let mut r = rules(&ctr);
    r.sort();
    assert!(
        r == ["from 10.84.5.2 lookup 100", "from 10.84.6.2 lookup 101"]
            || r == ["from 10.84.5.2 lookup 101", "from 10.84.6.2 lookup 100"],
        "{r:?}"
    );
    ctr.ip(&["link", "del", "net1"]);
    a1.del();
    let r = rules(&ctr);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].starts_with("from 10.84.5.2 lookup"), "{r:?}");
    a0.check_ok();
    a1.del();
    a0.del();
    assert!(rules(&ctr).is_empty());
}

/// The lock is an flock on the namespace file itself, which Go's sbr
/// takes too (it opens the path): while another holds it, ADD waits, and
/// it creates nothing at the path.
#[test]
fn add_waits_for_the_lock_on_the_netns_file() {
    require_root!();
    use std::os::fd::AsRawFd;
    let net = net();
    let ctr = TestNs::new("lock");
    iface(&net, &ctr, "eth0", &["10.84.12.2/24"]);
    let c = sbr(
        &net,
        &prev(&ctr, "eth0", &[("10.84.12.2/24", "10.84.12.1")]),
        json!({}),
    );
    let held = std::fs::File::open(&ctr.path).unwrap();
    // SAFETY: flock on a descriptor this test owns.
    assert_eq!(unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX) }, 0);
    let mut child = net
        .call("ADD", &ctr, "lock")
        .spawn(c.to_string().as_bytes());
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "ADD ran under another's lock"
    );
    assert!(rules(&ctr).is_empty());
    drop(held);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(rules(&ctr), ["from 10.84.12.2 lookup 100"]);
    net.call("DEL", &ctr, "lock").run(&c).expect_success();
    assert!(rules(&ctr).is_empty());
}

// Documentation/conformance.md items 19 and 27: refusals change nothing;
// a failure after the first rule undoes everything
#[test]
fn conformance_19_refusals_and_rollback_leave_the_namespace_as_it_was() {
    require_root!();
    let net = net();
    let ctr = TestNs::new("bad");
    iface(&net, &ctr, "eth0", &["10.84.7.2/24", "fd00:84:7::2/64"]);
    let p = prev(
        &ctr,
        "eth0",
        &[
            ("10.84.7.2/24", "10.84.7.1"),
            ("fd00:84:7::2/64", "fd00:84:7::1"),
        ],
    );
    let before = Snapshot::of(&ctr);
    let other = prev(&ctr, "net9", &[("10.84.8.2/24", "10.84.8.1")]);
    let cases: Vec<(Value, u64, &str)> = vec![
        (sbr(&net, &p, json!({"table": -1})), 7, "invalid table -1"),
        (sbr(&net, &p, json!({"table": 0})), 7, "invalid table 0"),
        (sbr(&net, &p, json!({"table": "100"})), 6, "network config"),
        (
            sbr(
                &net,
                &p,
                json!({"gateways": ["10.0.0.1", "fd00::1", "10.0.0.2"]}),
            ),
            7,
            "gateways list cannot contain more than 2 entries",
        ),
        (
            sbr(&net, &p, json!({"gateways": ["10.0.0.1", "10.0.0.2"]})),
            7,
            "gateways list contains multiple IPv4 addresses",
        ),
        (
            sbr(&net, &p, json!({"gateways": ["nope"]})),
            7,
            "invalid static gateway IP address: \"nope\"",
        ),
        (
            net.conf(Version::V1_0_0, json!({})),
            7,
            "this plugin must be called as chained plugin",
        ),
        (
            sbr(&net, &other, json!({})),
            7,
            "no IP addresses supplied on interface: eth0",
        ),
        // the IPv6 default route cannot be added: the IPv4 rule, table
        // and the main table's routes are put back
        (
            sbr(&net, &p, json!({"gateways": ["2001:db8:99::1"]})),
            999,
            "failed to add default route to 2001:db8:99::1 for fd00:84:7::2 on eth0",
        ),
    ];
    for (c, code, msg) in cases {
        let (got, got_msg) = net.call("ADD", &ctr, "bad").run(&c).expect_spec_error();
        assert_eq!(got, code, "{msg}: {got_msg}");
        assert!(got_msg.contains(msg), "{msg}: {got_msg}");
        if let Some(d) = before.diff(&Snapshot::of(&ctr)) {
            panic!("{msg}: the namespace changed:\n{d}");
        }
        net.call("DEL", &ctr, "bad").run(&c).expect_success();
    }
    let (code, msg) = net
        .call("ADD", &ctr, "bad")
        .ifname("net7")
        .run(&sbr(
            &net,
            &prev(&ctr, "net7", &[("10.84.9.2/24", "10.84.9.1")]),
            json!({}),
        ))
        .expect_spec_error();
    assert_eq!(code, 999, "{msg}");
    assert!(msg.contains("cannot find network interface net7"), "{msg}");
}

// Documentation/conformance.md item 25: CHECK fails when what ADD made has
// changed
#[test]
fn conformance_25_check_fails_after_changes() {
    require_root!();
    let net = net();
    let cases = [
        (
            "rule",
            "no rule from 10.84.10.2 to a table of its own for eth0",
        ),
        (
            "default",
            "table 100 of 10.84.10.2 has no default route via 10.84.10.1",
        ),
        ("table", "table 100 of 10.84.10.2 has no route by eth0"),
        ("gone", "container interface eth0 not found"),
    ];
    for (what, want) in cases {
        let ctr = TestNs::new("chk");
        iface(&net, &ctr, "eth0", &["10.84.10.2/24"]);
        let c = sbr(
            &net,
            &prev(&ctr, "eth0", &[("10.84.10.2/24", "10.84.10.1")]),
            json!({}),
        );
        let a = net.add(&ctr, "chk", &c);
        a.check_ok();
        match what {
            "rule" => {
                ctr.ip(&["rule", "del", "from", "10.84.10.2", "lookup", "100"]);
            }
            "default" => {
                ctr.ip(&["route", "del", "default", "table", "100"]);
            }
            "table" => {
                ctr.ip(&["route", "flush", "table", "100"]);
            }
            _ => {
                ctr.ip(&["link", "del", "eth0"]);
            }
        }
        let (code, msg) = a.check().expect_spec_error();
        assert_eq!(code, 999, "{what}: {msg}");
        assert!(msg.contains(want), "{what}: {msg}");
        a.del();
        assert!(rules(&ctr).is_empty(), "{what}");
    }
}

/// Go's ADD, our CHECK and DEL; our ADD, Go's DEL: the same rules and
/// tables either way.
#[test]
fn interop_with_go_sbr() {
    require_root!();
    let Some(go) = require_go("sbr", &[]) else {
        return;
    };
    let net = net();
    for go_adds in [true, false] {
        let ctr = TestNs::new("go");
        iface(&net, &ctr, "eth0", &["10.84.11.2/24"]);
        let c = sbr(
            &net,
            &prev(&ctr, "eth0", &[("10.84.11.2/24", "10.84.11.1")]),
            json!({}),
        );
        let (add, del) = if go_adds {
            (
                net.go_call(&go, "ADD", &ctr, "go"),
                net.call("DEL", &ctr, "go"),
            )
        } else {
            (
                net.call("ADD", &ctr, "go"),
                net.go_call(&go, "DEL", &ctr, "go"),
            )
        };
        add.run(&c).expect_success();
        assert_eq!(
            rules(&ctr),
            ["from 10.84.11.2 lookup 100"],
            "go adds: {go_adds}"
        );
        assert!(table(&ctr, "100").contains("default via 10.84.11.1 dev eth0"));
        if go_adds {
            net.call("CHECK", &ctr, "go").run(&c).expect_success();
        }
        del.run(&net.conf(Version::V1_0_0, json!({})))
            .expect_success();
        assert!(
            rules(&ctr).is_empty(),
            "go adds: {go_adds}: {:?}",
            rules(&ctr)
        );
    }
}

// Documentation/conformance.md items 1, 2, 13 and 28: VERSION lists every
// version; GC and STATUS are refused below 1.1.0, and succeed from it
// (sbr keeps nothing outside the container)
#[test]
fn conformance_02_versions_and_gates() {
    assert_every_version_and_gc_status_gates("sbr");
    require_root!();
    let net = net();
    let c = net.conf(Version::V1_1_0, json!({}));
    net.network_call("GC").run(&c).expect_success();
    net.network_call("STATUS").run(&c).expect_success();
}

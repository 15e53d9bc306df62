//! firewall, chained after our bridge as a runtime would: the filter-table
//! layout, traffic through a FORWARD chain whose policy is DROP, the admin
//! chain, ingress policies between containers and bridges, DEL without
//! prevResult or netns, CHECK after tampering, GC, bad input, exec counts,
//! and interop with Debian's Go firewall (spec 0.4.0 to 1.0.0).

use std::path::Path;

use integration::*;
use serde_json::{Value, json};

const CLIENT_V4: &str = "192.168.252.2";
const CLIENT_V6: &str = "fd00:252::2";

/// Needs root and the iptables tools; see `require_root!`.
macro_rules! require_iptables {
    () => {
        require_root!();
        require_tools!("iptables", "ip6tables");
    };
}

/// A fake host, a client namespace routed through it, and bridge networks
/// (`fwnet`, `fwnet1`, ...) in its store, chained into the firewall.
struct Env {
    fx: Fixture,
    client: TestNs,
}

impl Env {
    fn new() -> Env {
        let fx = Fixture::in_host(TestNs::new("fwhost"), "firewall", "fwnet");
        let client = outside(&fx.host, "192.168.252", "fd00:252");
        Env { fx, client }
    }

    /// Network `n` (0, 1, ...): bridge `cnifw<n>`, 10.67+n.0.0/24 and
    /// fd00:67+n::/64 when `dual`.
    fn bridge_conf(&self, v: Version, n: u8, dual: bool) -> Value {
        let mut ranges = vec![json!([{"subnet": format!("10.{}.0.0/24", 67 + n)}])];
        if dual {
            ranges.push(json!([{"subnet": format!("fd00:{}::/64", 67 + n)}]));
        }
        let mut c = self.fx.conf_of(
            "bridge",
            v,
            json!({"bridge": format!("cnifw{n}"), "isDefaultGateway": true,
                   "ipam": self.fx.host_local(json!(ranges))}),
        );
        c["name"] = json!(net_name(n));
        c
    }

    /// Our bridge's ADD; its result is the firewall's prevResult.
    fn add_container(&self, ctr: &TestNs, cid: &str, conf: &Value) -> Attachment {
        self.fx.add_of("bridge", ctr, cid, conf)
    }

    fn call(&self, cmd: &str, ctr: &TestNs, cid: &str) -> Call {
        self.fx.call(cmd, ctr, cid)
    }

    fn filter(&self) -> String {
        self.fx.filter_rules()
    }

    fn iptables(&self, args: &[&str]) {
        for tool in ["iptables", "ip6tables"] {
            let ok = self.fx.host.cmd(tool, args).status().unwrap().success();
            assert!(ok, "{tool} {args:?}");
        }
    }
}

fn net_name(n: u8) -> String {
    if n == 0 {
        "fwnet".into()
    } else {
        format!("fwnet{n}")
    }
}

fn fw_conf(v: Version, n: u8, extra: Value, prev: Option<&Value>) -> Value {
    let mut c = json!({"cniVersion": v.as_str(), "name": net_name(n), "type": "firewall"});
    merge(&mut c, extra);
    match prev {
        Some(p) => with_prev(&c, p),
        None => c,
    }
}

fn addr(prev: &Value, v4: bool) -> String {
    address_of(prev, v4).to_string()
}

/// The per-IP accept rules of `ip` (as `iptables -S` prints them).
fn accept_rules(ip: &str) -> [String; 2] {
    let len = if ip.contains(':') { 128 } else { 32 };
    [
        format!(
            "-A CNI-FORWARD -d {ip}/{len} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
        ),
        format!("-A CNI-FORWARD -s {ip}/{len} -j ACCEPT"),
    ]
}

fn has_accept_rules(env: &Env, ip: &str) -> bool {
    let rules = env.filter();
    accept_rules(ip)
        .iter()
        .all(|r| rules.lines().any(|l| l == r))
}

fn has_any_accept_rule(env: &Env, ip: &str) -> bool {
    let rules = env.filter();
    accept_rules(ip)
        .iter()
        .any(|r| rules.lines().any(|l| l == r))
}

// Documentation/conformance.md items 20, 22, 25: result passed on, DEL twice, silent CHECK
#[test]
fn conformance_20_add_check_del_every_version() {
    require_iptables!();
    let env = Env::new();
    for v in versions_from(Version::V0_4_0) {
        let ctr = TestNs::new("fwv");
        let cid = format!("fw-{}", v.as_str().replace('.', "-"));
        let bconf = env.bridge_conf(v, 0, true);
        let br = env.add_container(&ctr, &cid, &bconf);
        let prev = &br.result;
        let conf = fw_conf(v, 0, json!({}), Some(prev));
        let out = env.call("ADD", &ctr, &cid).run(&conf).expect_success();
        assert_eq!(&out, prev, "{v}");
        let (ip4, ip6) = (addr(prev, true), addr(prev, false));
        assert!(
            has_accept_rules(&env, &ip4) && has_accept_rules(&env, &ip6),
            "{v}:\n{}",
            env.filter()
        );
        let rules = env.filter();
        for want in [
            "-A FORWARD -m comment --comment \"CNI firewall plugin rules\" -j CNI-FORWARD",
            "-A CNI-FORWARD -m comment --comment \"CNI firewall plugin admin overrides\" -j CNI-ADMIN",
        ] {
            assert_eq!(
                rules.lines().filter(|l| *l == want).count(),
                2,
                "{want} once per family:\n{rules}"
            );
        }
        assert_eq!(
            env.call("CHECK", &ctr, &cid).run(&conf).expect_success(),
            Value::Null
        );
        env.call("DEL", &ctr, &cid).run(&conf).expect_success();
        env.call("DEL", &ctr, &cid).run(&conf).expect_success();
        assert!(
            !has_any_accept_rule(&env, &ip4) && !has_any_accept_rule(&env, &ip6),
            "{v}:\n{}",
            env.filter()
        );
        assert!(
            !env.filter().contains(&cid),
            "{v}: marker left:\n{}",
            env.filter()
        );
        br.del();
    }
    // the shared chains stay, as with Go
    assert!(env.filter().contains("-N CNI-FORWARD"));
}

// Documentation/conformance.md item 11: versions below 0.4.0 are refused, as Go's firewall does
#[test]
fn conformance_11_versions_before_0_4_0_are_refused() {
    require_root!();
    let out = Call::new(plugin_path("firewall"), "VERSION")
        .run_raw(b"")
        .expect_success();
    assert_eq!(out["supportedVersions"], json!(["0.4.0", "1.0.0", "1.1.0"]));
    let env = Env::new();
    let ctr = TestNs::new("fwold");
    for v in ["0.3.1", "0.2.0"] {
        let conf = json!({"cniVersion": v, "name": "fwnet", "type": "firewall"});
        let (code, msg) = env.call("ADD", &ctr, "old").run(&conf).expect_spec_error();
        assert_eq!(
            (code, msg.as_str()),
            (1, "incompatible CNI versions"),
            "{v}"
        );
    }
}

/// With FORWARD's policy DROP, only the plugin's rules let the container
/// talk out (and the answers back in); new connections from outside stay
/// blocked; after DEL the container is cut off again.
#[test]
fn forwarded_traffic_follows_the_rules() {
    require_iptables!();
    let env = Env::new();
    let v = Version::V1_0_0;
    let bconf = env.bridge_conf(v, 0, true);
    let ctr = TestNs::new("fwtraf");
    let br = env.add_container(&ctr, "traf", &bconf);
    let prev = &br.result;
    env.iptables(&["-w", "-P", "FORWARD", "DROP"]);
    env.fx.wait_dad("cnifw0");
    let (v4, v6) = (sock(CLIENT_V4, 7100), sock(CLIENT_V6, 7101));
    assert!(
        tcp_probe(&env.client, v4, &ctr, v4).is_err(),
        "blocked before ADD"
    );
    let conf = fw_conf(v, 0, json!({}), Some(prev));
    env.call("ADD", &ctr, "traf").run(&conf).expect_success();
    let peer = tcp_probe(&env.client, v4, &ctr, v4).unwrap();
    assert_eq!(peer.ip().to_string(), addr(prev, true));
    let peer = tcp_probe(&env.client, v6, &ctr, v6).unwrap();
    assert_eq!(peer.ip().to_string(), addr(prev, false));
    // a new connection from outside to the container is not accepted
    let inward = sock(&addr(prev, true), 7102);
    assert!(tcp_probe(&ctr, sock("0.0.0.0", 7102), &env.client, inward).is_err());
    // the admin chain comes first: a DROP there wins
    env.iptables(&["-w", "-A", "CNI-ADMIN", "-j", "DROP"]);
    assert!(
        tcp_probe(&env.client, v4, &ctr, v4).is_err(),
        "admin override"
    );
    env.iptables(&["-w", "-F", "CNI-ADMIN"]);
    tcp_probe(&env.client, v4, &ctr, v4).unwrap();
    env.call("DEL", &ctr, "traf")
        .run(&fw_conf(v, 0, json!({}), None))
        .expect_success();
    assert!(
        tcp_probe(&env.client, v4, &ctr, v4).is_err(),
        "blocked after DEL"
    );
    br.del();
}

#[test]
fn admin_chain_name() {
    require_iptables!();
    let env = Env::new();
    let v = Version::V1_0_0;
    let bconf = env.bridge_conf(v, 0, false);
    let ctr = TestNs::new("fwadm");
    let br = env.add_container(&ctr, "adm", &bconf);
    let prev = &br.result;
    let conf = fw_conf(
        v,
        0,
        json!({"iptablesAdminChainName": "MY-ADMIN", "backend": "iptables"}),
        Some(prev),
    );
    env.call("ADD", &ctr, "adm").run(&conf).expect_success();
    let rules = env.filter();
    assert!(rules.contains("-N MY-ADMIN"), "{rules}");
    assert!(rules.contains("-A CNI-FORWARD -m comment --comment \"CNI firewall plugin admin overrides\" -j MY-ADMIN"), "{rules}");
    env.call("CHECK", &ctr, "adm").run(&conf).expect_success();
    // CHECK against the default name notices the missing jump
    let (_, msg) = env
        .call("CHECK", &ctr, "adm")
        .run(&fw_conf(v, 0, json!({}), Some(prev)))
        .expect_spec_error();
    assert!(msg.contains("CNI-ADMIN"), "{msg}");
    env.call("DEL", &ctr, "adm").run(&conf).expect_success();
    br.del();
}

/// Ingress policies between two bridges and within one.
#[test]
fn ingress_policies_same_bridge_and_isolated() {
    require_iptables!();
    let br_nf = Path::new("/proc/sys/net/bridge/bridge-nf-call-iptables").exists();
    if !br_nf {
        skip::because(
            "traffic within a bridge: no br_netfilter, so it bypasses iptables; only the rules are checked",
        );
    }
    for policy in ["same-bridge", "isolated"] {
        let env = Env::new();
        let v = Version::V1_0_0;
        let (c0, c1) = (env.bridge_conf(v, 0, false), env.bridge_conf(v, 1, false));
        let (a1, a2, b) = (TestNs::new("fwa1"), TestNs::new("fwa2"), TestNs::new("fwb"));
        let bridges = [
            env.add_container(&a1, "a1", &c0),
            env.add_container(&a2, "a2", &c0),
            env.add_container(&b, "b", &c1),
        ];
        let [pa1, pa2, pb] = bridges.each_ref().map(|a| a.result.clone());
        // before: everything reaches everything
        let to = |p: &Value, port| sock(&addr(p, true), port);
        tcp_probe(&a1, to(&pa1, 7200), &b, to(&pa1, 7200)).unwrap();
        let ingress = json!({"ingressPolicy": policy});
        env.call("ADD", &a1, "a1")
            .run(&fw_conf(v, 0, ingress.clone(), Some(&pa1)))
            .expect_success();
        env.call("ADD", &a2, "a2")
            .run(&fw_conf(v, 0, ingress.clone(), Some(&pa2)))
            .expect_success();
        env.call("ADD", &b, "b")
            .run(&fw_conf(v, 1, ingress.clone(), Some(&pb)))
            .expect_success();
        let rules = env.filter();
        let forward: Vec<&str> = rules
            .lines()
            .filter(|l| l.starts_with("-A FORWARD"))
            .collect();
        assert!(
            forward[0].ends_with("-j CNI-ISOLATION-STAGE-1"),
            "{policy}: stage 1 first:\n{rules}"
        );
        assert!(
            rules.contains("-A CNI-ISOLATION-STAGE-1 -i cnifw0 ! -o cnifw0"),
            "{rules}"
        );
        assert!(
            rules.contains("-A CNI-ISOLATION-STAGE-2 -o cnifw1 -m comment"),
            "{rules}"
        );
        assert_eq!(
            rules.contains("-i cnifw0 -o cnifw0"),
            policy == "isolated",
            "{rules}"
        );
        env.call("CHECK", &a1, "a1")
            .run(&fw_conf(v, 0, ingress.clone(), Some(&pa1)))
            .expect_success();
        // across bridges: blocked both ways
        assert!(
            tcp_probe(&a1, to(&pa1, 7201), &b, to(&pa1, 7201)).is_err(),
            "{policy}: b -> a1"
        );
        assert!(
            tcp_probe(&b, to(&pb, 7202), &a1, to(&pb, 7202)).is_err(),
            "{policy}: a1 -> b"
        );
        // the host itself is not forwarded traffic
        tcp_probe(&a1, to(&pa1, 7203), &env.fx.host, to(&pa1, 7203)).unwrap();
        if br_nf {
            let same = tcp_probe(&a1, to(&pa1, 7204), &a2, to(&pa1, 7204));
            assert_eq!(
                same.is_ok(),
                policy == "same-bridge",
                "{policy}: a2 -> a1: {same:?}"
            );
        }
        // DEL leaves the per-bridge rules (other containers may need them)
        env.call("DEL", &a1, "a1")
            .run(&fw_conf(v, 0, ingress.clone(), None))
            .expect_success();
        assert!(env.filter().contains("-i cnifw0 ! -o cnifw0"));
        for br in &bridges {
            br.del();
        }
    }
}

// Documentation/conformance.md item 23: DEL without prevResult, and with the netns gone
#[test]
fn conformance_23_del_without_prev_result_or_netns() {
    require_iptables!();
    let env = Env::new();
    let v = Version::V1_0_0;
    let bconf = env.bridge_conf(v, 0, true);
    let ctr = TestNs::new("fwdel");
    let br = env.add_container(&ctr, "gone", &bconf);
    let prev = &br.result;
    env.call("ADD", &ctr, "gone")
        .run(&fw_conf(v, 0, json!({}), Some(prev)))
        .expect_success();
    let (ip4, ip6) = (addr(prev, true), addr(prev, false));
    assert!(has_accept_rules(&env, &ip4));
    let del = env.call("DEL", &ctr, "gone");
    br.del();
    drop(ctr);
    del.run(&fw_conf(v, 0, json!({}), None)).expect_success();
    assert!(
        !has_any_accept_rule(&env, &ip4) && !has_any_accept_rule(&env, &ip6),
        "{}",
        env.filter()
    );
    del.netns_path("")
        .run(&fw_conf(v, 0, json!({}), None))
        .expect_success();
}

// Documentation/conformance.md item 25: CHECK fails when a rule it made is gone
#[test]
fn conformance_25_check_fails_after_tampering() {
    require_iptables!();
    let env = Env::new();
    let v = Version::V1_1_0;
    let bconf = env.bridge_conf(v, 0, false);
    let ctr = TestNs::new("fwchk");
    let br = env.add_container(&ctr, "chk", &bconf);
    let prev = &br.result;
    let conf = fw_conf(v, 0, json!({}), Some(prev));
    env.call("ADD", &ctr, "chk").run(&conf).expect_success();
    let ip = format!("{}/32", addr(prev, true));
    for (tamper, want) in [
        (
            vec!["-w", "-D", "CNI-FORWARD", "-s", &ip, "-j", "ACCEPT"],
            "-s",
        ),
        (
            vec![
                "-w",
                "-D",
                "FORWARD",
                "-m",
                "comment",
                "--comment",
                "CNI firewall plugin rules",
                "-j",
                "CNI-FORWARD",
            ],
            "FORWARD",
        ),
    ] {
        env.call("CHECK", &ctr, "chk").run(&conf).expect_success();
        assert!(
            env.fx
                .host
                .cmd("iptables", &tamper)
                .status()
                .unwrap()
                .success()
        );
        let (code, msg) = env
            .call("CHECK", &ctr, "chk")
            .run(&conf)
            .expect_spec_error();
        assert_eq!(code, 999, "{msg}");
        assert!(msg.starts_with("expected") && msg.contains(want), "{msg}");
        // a repeated ADD repairs
        env.call("ADD", &ctr, "chk").run(&conf).expect_success();
    }
    // CHECK without prevResult
    let (code, msg) = env
        .call("CHECK", &ctr, "chk")
        .run(&fw_conf(v, 0, json!({}), None))
        .expect_spec_error();
    assert_eq!(
        (code, msg.as_str()),
        (7, "missing prevResult from earlier plugin")
    );
    env.call("DEL", &ctr, "chk").run(&conf).expect_success();
    br.del();
}

// Documentation/conformance.md item 30: GC removes rules of attachments not in the valid list
#[test]
fn conformance_30_gc_removes_stale_attachments() {
    require_iptables!();
    let env = Env::new();
    let v = Version::V1_1_0;
    let bconf = env.bridge_conf(v, 0, false);
    let (a, b) = (TestNs::new("fwgca"), TestNs::new("fwgcb"));
    let keep = env.add_container(&a, "keep", &bconf);
    let stale = env.add_container(&b, "stale", &bconf);
    let (pa, pb) = (&keep.result, &stale.result);
    for (ns, cid, p) in [(&a, "keep", pa), (&b, "stale", pb)] {
        env.call("ADD", ns, cid)
            .run(&fw_conf(v, 0, json!({}), Some(p)))
            .expect_success();
    }
    let gc = |name: &str, valid: Value| {
        let g = json!({"cniVersion": "1.1.0", "name": name, "type": "firewall", "cni.dev/valid-attachments": valid});
        env.fx.network_call("GC").run(&g).expect_success();
    };
    gc("othernet", json!([]));
    assert!(has_accept_rules(&env, &addr(pa, true)) && has_accept_rules(&env, &addr(pb, true)));
    gc("fwnet", json!([{"containerID": "keep", "ifname": "eth0"}]));
    assert!(has_accept_rules(&env, &addr(pa, true)));
    assert!(
        !has_any_accept_rule(&env, &addr(pb, true)),
        "{}",
        env.filter()
    );
    gc("fwnet", json!([]));
    assert!(!has_any_accept_rule(&env, &addr(pa, true)));
    keep.del();
    stale.del();
}

#[test]
fn bad_input_is_refused_and_leaves_nothing() {
    require_iptables!();
    let env = Env::new();
    let v = Version::V1_0_0;
    let bconf = env.bridge_conf(v, 0, false);
    let ctr = TestNs::new("fwbad");
    let br = env.add_container(&ctr, "bad", &bconf);
    let prev = &br.result;
    let mut no_ifaces = prev.clone();
    no_ifaces.as_object_mut().unwrap().remove("interfaces");
    for ip in no_ifaces["ips"].as_array_mut().unwrap() {
        ip.as_object_mut().unwrap().remove("interface");
    }
    let cases: Vec<(Value, u64, &str)> = vec![
        (
            fw_conf(v, 0, json!({}), None),
            7,
            "missing prevResult from earlier plugin",
        ),
        (
            fw_conf(v, 0, json!({"ingressPolicy": "closed"}), Some(prev)),
            7,
            "unknown ingress policy: \"closed\"",
        ),
        (
            fw_conf(v, 0, json!({"backend": "nftables"}), Some(prev)),
            7,
            "unknown backend \"nftables\"",
        ),
        (
            fw_conf(v, 0, json!({"backend": "firewalld"}), Some(prev)),
            999,
            "firewalld backend was requested but firewalld is not running",
        ),
        (
            fw_conf(
                v,
                0,
                json!({"backend": "iptables", "firewalldZone": "public"}),
                Some(prev),
            ),
            7,
            "iptables backend was requested but configuration contains firewalld-specific options [firewalldZone]",
        ),
        (
            fw_conf(
                v,
                0,
                json!({"iptablesAdminChainName": "FORWARD"}),
                Some(prev),
            ),
            7,
            "iptablesAdminChainName",
        ),
        (
            fw_conf(v, 0, json!({"iptablesAdminChainName": "a b"}), Some(prev)),
            7,
            "invalid iptables chain name",
        ),
        (
            fw_conf(
                v,
                0,
                json!({"ingressPolicy": "same-bridge"}),
                Some(&no_ifaces),
            ),
            7,
            "interface needs to be set for ingress policy \"same-bridge\"",
        ),
    ];
    for (conf, code, msg) in cases {
        let (got, got_msg) = env.call("ADD", &ctr, "bad").run(&conf).expect_spec_error();
        assert_eq!(got, code, "{conf}: {got_msg}");
        assert!(got_msg.contains(msg), "{conf}: {got_msg}");
        assert!(
            !env.filter().contains("CNI-"),
            "{conf}: nothing half-applied:\n{}",
            env.filter()
        );
    }
    // firewalld is looked up on the system bus; here it is not running,
    // so the default backend is iptables
    env.call("ADD", &ctr, "bad")
        .run(&fw_conf(v, 0, json!({"backend": ""}), Some(prev)))
        .expect_success();
    assert!(has_accept_rules(&env, &addr(prev, true)));
    // DEL of a config that would not validate still cleans up
    env.call("DEL", &ctr, "bad")
        .run(&fw_conf(
            v,
            0,
            json!({"ingressPolicy": "closed", "iptablesAdminChainName": "a b"}),
            None,
        ))
        .expect_success();
    assert!(!has_any_accept_rule(&env, &addr(prev, true)));
    br.del();
}

/// How many times ADD and DEL run iptables: with iptables-nft, only the
/// first ADD (iptables makes the filter table); with iptables-legacy, a
/// listing and a restore per family.
#[test]
fn exec_counts_per_add_and_del() {
    require_iptables!();
    let log = ExecLog::new();
    let path = log.path();
    let take = || log.take().len();
    for dual in [false, true] {
        let env = Env::new();
        let v = Version::V1_0_0;
        let bconf = env.bridge_conf(v, 0, dual);
        let ctr = TestNs::new("fwexec");
        let br = env.add_container(&ctr, "exec", &bconf);
        let prev = &br.result;
        let conf = fw_conf(v, 0, json!({}), Some(prev));
        take();
        env.call("ADD", &ctr, "exec")
            .env("PATH", &path)
            .run(&conf)
            .expect_success();
        let first = take();
        env.call("ADD", &ctr, "exec2")
            .env("PATH", &path)
            .run(&conf)
            .expect_success();
        let add = take();
        env.call("DEL", &ctr, "exec2")
            .env("PATH", &path)
            .run(&fw_conf(v, 0, json!({}), None))
            .expect_success();
        let del = take();
        let families = if dual { 2 } else { 1 };
        eprintln!(
            "firewall {}: first ADD {first} execs, ADD {add} execs, DEL {del} execs",
            if dual { "dual-stack" } else { "IPv4" }
        );
        if log.iptables_nft() {
            // iptables makes the filter table (a restore per family); then
            // everything goes over netlink.
            assert_eq!((first, add, del), (families, 0, 0));
        } else {
            // a listing and a restore per family; DEL lists both families
            assert_eq!(
                (first, add, del),
                (2 * families, 2 * families, 2 + families)
            );
        }
        env.call("DEL", &ctr, "exec")
            .run(&fw_conf(v, 0, json!({}), None))
            .expect_success();
        take();
        if let Some(go) = go_plugin("firewall") {
            let c = env.fx.go_call(&go, "ADD", &ctr, "exec").env("PATH", &path);
            c.run(&conf).expect_success();
            let go_add = take();
            c.command("DEL").run(&conf).expect_success();
            eprintln!(
                "for comparison, Go 1.1.1 firewall: ADD {go_add} execs, DEL {} execs",
                take()
            );
        }
        br.del();
    }
}

/// Debian's Go firewall 1.1.1 on the same rules, both directions, with
/// same-bridge isolation.
#[test]
fn interop_with_go_firewall() {
    require_iptables!();
    let Some(go) = require_go("firewall", &[]) else {
        return;
    };
    let env = Env::new();
    let v = Version::V1_0_0;
    let bconf = env.bridge_conf(v, 0, true);
    let ctr = TestNs::new("fwgo");
    let br = env.add_container(&ctr, "goctr", &bconf);
    let prev = &br.result;
    let conf = fw_conf(v, 0, json!({"ingressPolicy": "same-bridge"}), Some(prev));
    let go_call = |cmd: &str| env.fx.go_call(&go, cmd, &ctr, "goctr");
    let (ip4, ip6) = (addr(prev, true), addr(prev, false));
    // Go ADD → our CHECK and DEL
    go_call("ADD").run(&conf).expect_success();
    let go_rules = env.filter();
    env.call("CHECK", &ctr, "goctr").run(&conf).expect_success();
    env.call("DEL", &ctr, "goctr").run(&conf).expect_success();
    assert!(
        !has_any_accept_rule(&env, &ip4) && !has_any_accept_rule(&env, &ip6),
        "{}",
        env.filter()
    );
    // ours ADD: Go's layout plus our marker chain; Go's CHECK and DEL accept it
    env.call("ADD", &ctr, "goctr").run(&conf).expect_success();
    let now = env.filter();
    let mut ours: Vec<&str> = env_lines(&now)
        .into_iter()
        .filter(|l| !l.contains("CNI-FW-ATTACHMENTS"))
        .collect();
    let mut theirs = env_lines(&go_rules);
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs, "our layout is Go's");
    go_call("CHECK").run(&conf).expect_success();
    go_call("DEL").run(&conf).expect_success();
    assert!(
        !has_any_accept_rule(&env, &ip4) && !has_any_accept_rule(&env, &ip6),
        "{}",
        env.filter()
    );
    // Go leaves our markers (they match no packet); our GC or DEL removes them
    assert!(env.filter().contains("-A CNI-FW-ATTACHMENTS"));
    env.call("DEL", &ctr, "goctr")
        .run(&fw_conf(v, 0, json!({}), None))
        .expect_success();
    assert!(
        !env.filter().contains("-A CNI-FW-ATTACHMENTS"),
        "{}",
        env.filter()
    );
    // Go's DEL without prevResult leaks; ours removes Go-made rules when
    // prevResult names them
    go_call("ADD").run(&conf).expect_success();
    go_call("DEL")
        .run(&fw_conf(v, 0, json!({}), None))
        .expect_success();
    assert!(has_accept_rules(&env, &ip4), "Go leaks without prevResult");
    env.call("DEL", &ctr, "goctr").run(&conf).expect_success();
    assert!(!has_any_accept_rule(&env, &ip4));
    br.del();
}

fn env_lines(rules: &str) -> Vec<&str> {
    rules.lines().filter(|l| !l.starts_with("-P ")).collect()
}

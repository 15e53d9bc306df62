//! firewall, chained after our bridge as a runtime would: the filter-table
//! layout, traffic through a FORWARD chain whose policy is DROP, the admin
//! chain, ingress policies between containers and bridges, DEL without
//! prevResult or netns, CHECK after tampering, GC, bad input, exec counts,
//! and interop with Debian's Go firewall (spec 0.4.0 to 1.0.0).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use integration::*;
use serde_json::{Value, json};

const CLIENT_V4: &str = "192.168.252.2";
const CLIENT_V6: &str = "fd00:252::2";

/// Skips (with the reason) unless the iptables tools are installed.
macro_rules! require_iptables {
    () => {
        require_root!();
        if !has_tool("iptables") || !has_tool("ip6tables") {
            eprintln!("skipped: iptables/ip6tables not installed");
            return;
        }
    };
}

/// A fake host, a client namespace routed through it, and bridge networks.
struct Env {
    host: TestNs,
    client: TestNs,
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let host = TestNs::new("fwhost");
        let client = TestNs::new("fwcli");
        let (h, c) = ("vfwh0", "vfwc0");
        host.veth_to(
            h,
            &["192.168.252.1/24", "fd00:252::1/64"],
            &client,
            c,
            &[&format!("{CLIENT_V4}/24"), &format!("{CLIENT_V6}/64")],
        );
        client.ip(&["route", "add", "default", "via", "192.168.252.1"]);
        client.ip(&["-6", "route", "add", "default", "via", "fd00:252::1"]);
        Env {
            host,
            client,
            dir: tempdir(),
        }
    }

    /// Network `n` (0, 1, ...): bridge `cnifw<n>`, 10.67+n.0.0/24 and
    /// fd00:67+n::/64 when `dual`.
    fn bridge_conf(&self, v: Version, n: u8, dual: bool) -> Value {
        let mut ranges = vec![json!([{"subnet": format!("10.{}.0.0/24", 67 + n)}])];
        if dual {
            ranges.push(json!([{"subnet": format!("fd00:{}::/64", 67 + n)}]));
        }
        json!({
            "cniVersion": v.as_str(), "name": net_name(n), "type": "bridge", "bridge": format!("cnifw{n}"),
            "isDefaultGateway": true,
            "ipam": {"type": "host-local", "dataDir": self.dir.path(), "ranges": ranges},
        })
    }

    fn add_container(&self, ctr: &TestNs, cid: &str, conf: &Value) -> Value {
        Call::new(plugin_path("bridge"), "ADD")
            .cid(cid)
            .netns(ctr)
            .in_host(&self.host)
            .run(conf)
            .ok()
    }

    fn del_container(&self, ctr: &TestNs, cid: &str, conf: &Value) {
        Call::new(plugin_path("bridge"), "DEL")
            .cid(cid)
            .netns(ctr)
            .in_host(&self.host)
            .run(conf)
            .ok();
    }

    fn call(&self, cmd: &str, ctr: &TestNs, cid: &str) -> Call {
        Call::new(plugin_path("firewall"), cmd)
            .cid(cid)
            .netns(ctr)
            .in_host(&self.host)
    }

    fn filter(&self) -> String {
        output_in(&self.host, "iptables", &["-w", "-S"])
            + &output_in(&self.host, "ip6tables", &["-w", "-S"])
    }

    fn iptables(&self, args: &[&str]) {
        for tool in ["iptables", "ip6tables"] {
            let ok = self.host.cmd(tool, args).status().unwrap().success();
            assert!(ok, "{tool} {args:?}");
        }
    }

    /// The bridge's IPv6 gateway address finishes DAD asynchronously;
    /// IPv6 probes wait for it (bounded) so they test the firewall, not DAD.
    fn wait_ipv6_gateway(&self, bridge: &str) {
        for _ in 0..100 {
            let tentative = output_in(
                &self.host,
                "ip",
                &["-6", "addr", "show", "dev", bridge, "tentative"],
            );
            if tentative.trim().is_empty() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
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
    for (k, val) in extra.as_object().cloned().unwrap_or_default() {
        c[k] = val;
    }
    if let Some(p) = prev {
        c["prevResult"] = p.clone();
    }
    c
}

fn addr(prev: &Value, v4: bool) -> String {
    prev["ips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ip| {
            ip["address"]
                .as_str()
                .unwrap()
                .split('/')
                .next()
                .unwrap()
                .to_string()
        })
        .find(|a| a.contains('.') == v4)
        .unwrap()
}

fn sa(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), port)
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

// checklist 20, 22, 25: result passed on, DEL twice, silent CHECK
#[test]
fn conformance_20_add_check_del_every_version() {
    require_iptables!();
    let env = Env::new();
    for v in versions_from(Version::V0_4_0) {
        let ctr = TestNs::new("fwv");
        let cid = format!("fw-{}", v.as_str().replace('.', "-"));
        let bconf = env.bridge_conf(v, 0, true);
        let prev = env.add_container(&ctr, &cid, &bconf);
        let conf = fw_conf(v, 0, json!({}), Some(&prev));
        let out = env.call("ADD", &ctr, &cid).run(&conf).ok();
        assert_eq!(out, prev, "{v}");
        let (ip4, ip6) = (addr(&prev, true), addr(&prev, false));
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
        assert_eq!(env.call("CHECK", &ctr, &cid).run(&conf).ok(), Value::Null);
        env.call("DEL", &ctr, &cid).run(&conf).ok();
        env.call("DEL", &ctr, &cid).run(&conf).ok();
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
        env.del_container(&ctr, &cid, &bconf);
    }
    // the shared chains stay, as with Go
    assert!(env.filter().contains("-N CNI-FORWARD"));
}

// checklist 11: versions below 0.4.0 are refused, as Go's firewall does
#[test]
fn conformance_11_versions_before_0_4_0_are_refused() {
    require_root!();
    let out = Call::new(plugin_path("firewall"), "VERSION")
        .run_raw(b"")
        .ok();
    assert_eq!(out["supportedVersions"], json!(["0.4.0", "1.0.0", "1.1.0"]));
    let env = Env::new();
    let ctr = TestNs::new("fwold");
    for v in ["0.3.1", "0.2.0"] {
        let conf = json!({"cniVersion": v, "name": "fwnet", "type": "firewall"});
        let (code, msg) = env.call("ADD", &ctr, "old").run(&conf).err();
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
    let prev = env.add_container(&ctr, "traf", &bconf);
    env.iptables(&["-w", "-P", "FORWARD", "DROP"]);
    env.wait_ipv6_gateway("cnifw0");
    let (v4, v6) = (sa(CLIENT_V4, 7100), sa(CLIENT_V6, 7101));
    assert!(
        tcp_probe(&env.client, v4, &ctr, v4).is_err(),
        "blocked before ADD"
    );
    let conf = fw_conf(v, 0, json!({}), Some(&prev));
    env.call("ADD", &ctr, "traf").run(&conf).ok();
    let peer = tcp_probe(&env.client, v4, &ctr, v4).unwrap();
    assert_eq!(peer.ip().to_string(), addr(&prev, true));
    let peer = tcp_probe(&env.client, v6, &ctr, v6).unwrap();
    assert_eq!(peer.ip().to_string(), addr(&prev, false));
    // a new connection from outside to the container is not accepted
    let inward = sa(&addr(&prev, true), 7102);
    assert!(tcp_probe(&ctr, sa("0.0.0.0", 7102), &env.client, inward).is_err());
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
        .ok();
    assert!(
        tcp_probe(&env.client, v4, &ctr, v4).is_err(),
        "blocked after DEL"
    );
    env.del_container(&ctr, "traf", &bconf);
}

#[test]
fn admin_chain_name() {
    require_iptables!();
    let env = Env::new();
    let v = Version::V1_0_0;
    let bconf = env.bridge_conf(v, 0, false);
    let ctr = TestNs::new("fwadm");
    let prev = env.add_container(&ctr, "adm", &bconf);
    let conf = fw_conf(
        v,
        0,
        json!({"iptablesAdminChainName": "MY-ADMIN", "backend": "iptables"}),
        Some(&prev),
    );
    env.call("ADD", &ctr, "adm").run(&conf).ok();
    let rules = env.filter();
    assert!(rules.contains("-N MY-ADMIN"), "{rules}");
    assert!(rules.contains("-A CNI-FORWARD -m comment --comment \"CNI firewall plugin admin overrides\" -j MY-ADMIN"), "{rules}");
    env.call("CHECK", &ctr, "adm").run(&conf).ok();
    // CHECK against the default name notices the missing jump
    let (_, msg) = env
        .call("CHECK", &ctr, "adm")
        .run(&fw_conf(v, 0, json!({}), Some(&prev)))
        .err();
    assert!(msg.contains("CNI-ADMIN"), "{msg}");
    env.call("DEL", &ctr, "adm").run(&conf).ok();
    env.del_container(&ctr, "adm", &bconf);
}

/// Ingress policies between two bridges and within one.
#[test]
fn ingress_policies_same_bridge_and_isolated() {
    require_iptables!();
    if !Path::new("/proc/sys/net/bridge/bridge-nf-call-iptables").exists() {
        eprintln!(
            "note: no br_netfilter: traffic within a bridge bypasses iptables; only rules are checked"
        );
    }
    let br_nf = Path::new("/proc/sys/net/bridge/bridge-nf-call-iptables").exists();
    for policy in ["same-bridge", "isolated"] {
        let env = Env::new();
        let v = Version::V1_0_0;
        let (c0, c1) = (env.bridge_conf(v, 0, false), env.bridge_conf(v, 1, false));
        let (a1, a2, b) = (TestNs::new("fwa1"), TestNs::new("fwa2"), TestNs::new("fwb"));
        let pa1 = env.add_container(&a1, "a1", &c0);
        let pa2 = env.add_container(&a2, "a2", &c0);
        let pb = env.add_container(&b, "b", &c1);
        // before: everything reaches everything
        let to = |p: &Value, port| sa(&addr(p, true), port);
        tcp_probe(&a1, to(&pa1, 7200), &b, to(&pa1, 7200)).unwrap();
        let ingress = json!({"ingressPolicy": policy});
        env.call("ADD", &a1, "a1")
            .run(&fw_conf(v, 0, ingress.clone(), Some(&pa1)))
            .ok();
        env.call("ADD", &a2, "a2")
            .run(&fw_conf(v, 0, ingress.clone(), Some(&pa2)))
            .ok();
        env.call("ADD", &b, "b")
            .run(&fw_conf(v, 1, ingress.clone(), Some(&pb)))
            .ok();
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
            .ok();
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
        tcp_probe(&a1, to(&pa1, 7203), &env.host, to(&pa1, 7203)).unwrap();
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
            .ok();
        assert!(env.filter().contains("-i cnifw0 ! -o cnifw0"));
        for (ns, cid, conf) in [(&a1, "a1", &c0), (&a2, "a2", &c0), (&b, "b", &c1)] {
            env.del_container(ns, cid, conf);
        }
    }
}

// checklist 23: DEL without prevResult, and with the netns gone
#[test]
fn conformance_23_del_without_prev_result_or_netns() {
    require_iptables!();
    let env = Env::new();
    let v = Version::V1_0_0;
    let bconf = env.bridge_conf(v, 0, true);
    let ctr = TestNs::new("fwdel");
    let prev = env.add_container(&ctr, "gone", &bconf);
    env.call("ADD", &ctr, "gone")
        .run(&fw_conf(v, 0, json!({}), Some(&prev)))
        .ok();
    let (ip4, ip6) = (addr(&prev, true), addr(&prev, false));
    assert!(has_accept_rules(&env, &ip4));
    let path = ctr.path_str();
    env.del_container(&ctr, "gone", &bconf);
    drop(ctr);
    Call::new(plugin_path("firewall"), "DEL")
        .cid("gone")
        .netns_path(&path)
        .in_host(&env.host)
        .run(&fw_conf(v, 0, json!({}), None))
        .ok();
    assert!(
        !has_any_accept_rule(&env, &ip4) && !has_any_accept_rule(&env, &ip6),
        "{}",
        env.filter()
    );
    Call::new(plugin_path("firewall"), "DEL")
        .cid("gone")
        .in_host(&env.host)
        .run(&fw_conf(v, 0, json!({}), None))
        .ok();
}

// checklist 25: CHECK fails when a rule it made is gone
#[test]
fn conformance_25_check_fails_after_tampering() {
    require_iptables!();
    let env = Env::new();
    let v = Version::V1_1_0;
    let bconf = env.bridge_conf(v, 0, false);
    let ctr = TestNs::new("fwchk");
    let prev = env.add_container(&ctr, "chk", &bconf);
    let conf = fw_conf(v, 0, json!({}), Some(&prev));
    env.call("ADD", &ctr, "chk").run(&conf).ok();
    let ip = format!("{}/32", addr(&prev, true));
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
        env.call("CHECK", &ctr, "chk").run(&conf).ok();
        assert!(
            env.host
                .cmd("iptables", &tamper)
                .status()
                .unwrap()
                .success()
        );
        let (code, msg) = env.call("CHECK", &ctr, "chk").run(&conf).err();
        assert_eq!(code, 999, "{msg}");
        assert!(msg.starts_with("expected") && msg.contains(want), "{msg}");
        // a repeated ADD repairs
        env.call("ADD", &ctr, "chk").run(&conf).ok();
    }
    // CHECK without prevResult
    let (code, msg) = env
        .call("CHECK", &ctr, "chk")
        .run(&fw_conf(v, 0, json!({}), None))
        .err();
    assert_eq!(
        (code, msg.as_str()),
        (7, "missing prevResult from earlier plugin")
    );
    env.call("DEL", &ctr, "chk").run(&conf).ok();
    env.del_container(&ctr, "chk", &bconf);
}

// checklist 30: GC removes rules of attachments not in the valid list
#[test]
fn conformance_30_gc_removes_stale_attachments() {
    require_iptables!();
    let env = Env::new();
    let v = Version::V1_1_0;
    let bconf = env.bridge_conf(v, 0, false);
    let (a, b) = (TestNs::new("fwgca"), TestNs::new("fwgcb"));
    let pa = env.add_container(&a, "keep", &bconf);
    let pb = env.add_container(&b, "stale", &bconf);
    for (ns, cid, p) in [(&a, "keep", &pa), (&b, "stale", &pb)] {
        env.call("ADD", ns, cid)
            .run(&fw_conf(v, 0, json!({}), Some(p)))
            .ok();
    }
    let gc = |name: &str, valid: Value| {
        let g = json!({"cniVersion": "1.1.0", "name": name, "type": "firewall", "cni.dev/valid-attachments": valid});
        Call::new(plugin_path("firewall"), "GC")
            .cid("")
            .ifname("")
            .in_host(&env.host)
            .run(&g)
            .ok();
    };
    gc("othernet", json!([]));
    assert!(has_accept_rules(&env, &addr(&pa, true)) && has_accept_rules(&env, &addr(&pb, true)));
    gc("fwnet", json!([{"containerID": "keep", "ifname": "eth0"}]));
    assert!(has_accept_rules(&env, &addr(&pa, true)));
    assert!(
        !has_any_accept_rule(&env, &addr(&pb, true)),
        "{}",
        env.filter()
    );
    gc("fwnet", json!([]));
    assert!(!has_any_accept_rule(&env, &addr(&pa, true)));
    env.del_container(&a, "keep", &bconf);
    env.del_container(&b, "stale", &bconf);
}

#[test]
fn bad_input_is_refused_and_leaves_nothing() {
    require_iptables!();
    let env = Env::new();
    let v = Version::V1_0_0;
    let bconf = env.bridge_conf(v, 0, false);
    let ctr = TestNs::new("fwbad");
    let prev = env.add_container(&ctr, "bad", &bconf);
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
            fw_conf(v, 0, json!({"ingressPolicy": "closed"}), Some(&prev)),
            7,
            "unknown ingress policy: \"closed\"",
        ),
        (
            fw_conf(v, 0, json!({"backend": "nftables"}), Some(&prev)),
            7,
            "unknown backend \"nftables\"",
        ),
        (
            fw_conf(v, 0, json!({"backend": "firewalld"}), Some(&prev)),
            999,
            "firewalld backend was requested but firewalld is not running",
        ),
        (
            fw_conf(
                v,
                0,
                json!({"backend": "iptables", "firewalldZone": "public"}),
                Some(&prev),
            ),
            7,
            "iptables backend was requested but configuration contains firewalld-specific options [firewalldZone]",
        ),
        (
            fw_conf(
                v,
                0,
                json!({"iptablesAdminChainName": "FORWARD"}),
                Some(&prev),
            ),
            7,
            "iptablesAdminChainName",
        ),
        (
            fw_conf(v, 0, json!({"iptablesAdminChainName": "a b"}), Some(&prev)),
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
        let (got, got_msg) = env.call("ADD", &ctr, "bad").run(&conf).err();
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
        .run(&fw_conf(v, 0, json!({"backend": ""}), Some(&prev)))
        .ok();
    assert!(has_accept_rules(&env, &addr(&prev, true)));
    // DEL of a config that would not validate still cleans up
    env.call("DEL", &ctr, "bad")
        .run(&fw_conf(
            v,
            0,
            json!({"ingressPolicy": "closed", "iptablesAdminChainName": "a b"}),
            None,
        ))
        .ok();
    assert!(!has_any_accept_rule(&env, &addr(&prev, true)));
    env.del_container(&ctr, "bad", &bconf);
}

/// How many times ADD and DEL run iptables: with iptables-nft, only the
/// first ADD (iptables makes the filter table); with iptables-legacy, a
/// listing and a restore per family.
#[test]
fn exec_counts_per_add_and_del() {
    require_iptables!();
    let log = tempdir();
    // One logging script named as the host's multi-call binary, the tools
    // linked to it as installed, so that the plugin tells iptables-nft from
    // iptables-legacy as it does on the host.
    let real = std::fs::canonicalize("/usr/sbin/iptables").unwrap();
    let multi = log.path().join(real.file_name().unwrap());
    let script = format!(
        "#!/bin/sh\ntool=$(basename \"$0\")\necho $tool >> {}\nexec /usr/sbin/$tool \"$@\"\n",
        log.path().join("log").display()
    );
    std::fs::write(&multi, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&multi, std::fs::Permissions::from_mode(0o755)).unwrap();
    for tool in [
        "iptables",
        "ip6tables",
        "iptables-restore",
        "ip6tables-restore",
    ] {
        std::os::unix::fs::symlink(&multi, log.path().join(tool)).unwrap();
    }
    let nft = real.to_string_lossy().contains("nft");
    let path = format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", log.path().display());
    let take = || {
        let f = log.path().join("log");
        let n = std::fs::read_to_string(&f)
            .unwrap_or_default()
            .lines()
            .count();
        let _ = std::fs::remove_file(&f);
        n
    };
    for dual in [false, true] {
        let env = Env::new();
        let v = Version::V1_0_0;
        let bconf = env.bridge_conf(v, 0, dual);
        let ctr = TestNs::new("fwexec");
        let prev = env.add_container(&ctr, "exec", &bconf);
        let conf = fw_conf(v, 0, json!({}), Some(&prev));
        take();
        env.call("ADD", &ctr, "exec")
            .env("PATH", &path)
            .run(&conf)
            .ok();
        let first = take();
        env.call("ADD", &ctr, "exec2")
            .env("PATH", &path)
            .run(&conf)
            .ok();
        let add = take();
        env.call("DEL", &ctr, "exec2")
            .env("PATH", &path)
            .run(&fw_conf(v, 0, json!({}), None))
            .ok();
        let del = take();
        let families = if dual { 2 } else { 1 };
        eprintln!(
            "firewall {}: first ADD {first} execs, ADD {add} execs, DEL {del} execs",
            if dual { "dual-stack" } else { "IPv4" }
        );
        if nft {
            assert_eq!((first, add, del), (families, 0, 0));
        } else {
            assert_eq!(
                (first, add, del),
                (2 * families, 2 * families, 2 + families)
            );
        }
        env.call("DEL", &ctr, "exec")
            .run(&fw_conf(v, 0, json!({}), None))
            .ok();
        take();
        if let Some(go) = go_plugin("firewall") {
            let mut c = Call::new(go, "ADD")
                .cid("exec")
                .netns(&ctr)
                .in_host(&env.host)
                .env("PATH", &path);
            c.path = GO_PLUGIN_DIR.into();
            c.run(&conf).ok();
            let go_add = take();
            c.command("DEL").run(&conf).ok();
            eprintln!(
                "for comparison, Go 1.1.1 firewall: ADD {go_add} execs, DEL {} execs",
                take()
            );
        }
        env.del_container(&ctr, "exec", &bconf);
    }
}

fn go_firewall() -> Option<PathBuf> {
    let p = go_plugin("firewall");
    if p.is_none() {
        eprintln!("skipped: Go firewall not installed at {GO_PLUGIN_DIR}");
    }
    p
}

/// Debian's Go firewall 1.1.1 on the same rules, both directions, with
/// same-bridge isolation.
#[test]
fn interop_with_go_firewall() {
    require_iptables!();
    let Some(go) = go_firewall() else { return };
    let env = Env::new();
    let v = Version::V1_0_0;
    let bconf = env.bridge_conf(v, 0, true);
    let ctr = TestNs::new("fwgo");
    let prev = env.add_container(&ctr, "goctr", &bconf);
    let conf = fw_conf(v, 0, json!({"ingressPolicy": "same-bridge"}), Some(&prev));
    let go_call = |cmd: &str| {
        let mut c = Call::new(go.clone(), cmd)
            .cid("goctr")
            .netns(&ctr)
            .in_host(&env.host);
        c.path = GO_PLUGIN_DIR.into();
        c
    };
    let (ip4, ip6) = (addr(&prev, true), addr(&prev, false));
    // Go ADD → our CHECK and DEL
    go_call("ADD").run(&conf).ok();
    let go_rules = env.filter();
    env.call("CHECK", &ctr, "goctr").run(&conf).ok();
    env.call("DEL", &ctr, "goctr").run(&conf).ok();
    assert!(
        !has_any_accept_rule(&env, &ip4) && !has_any_accept_rule(&env, &ip6),
        "{}",
        env.filter()
    );
    // ours ADD: Go's layout plus our marker chain; Go's CHECK and DEL accept it
    env.call("ADD", &ctr, "goctr").run(&conf).ok();
    let now = env.filter();
    let mut ours: Vec<&str> = env_lines(&now)
        .into_iter()
        .filter(|l| !l.contains("CNI-FW-ATTACHMENTS"))
        .collect();
    let mut theirs = env_lines(&go_rules);
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs, "our layout is Go's");
    go_call("CHECK").run(&conf).ok();
    go_call("DEL").run(&conf).ok();
    assert!(
        !has_any_accept_rule(&env, &ip4) && !has_any_accept_rule(&env, &ip6),
        "{}",
        env.filter()
    );
    // Go leaves our markers (they match no packet); our GC or DEL removes them
    assert!(env.filter().contains("-A CNI-FW-ATTACHMENTS"));
    env.call("DEL", &ctr, "goctr")
        .run(&fw_conf(v, 0, json!({}), None))
        .ok();
    assert!(
        !env.filter().contains("-A CNI-FW-ATTACHMENTS"),
        "{}",
        env.filter()
    );
    // Go's DEL without prevResult leaks; ours removes Go-made rules when
    // prevResult names them
    go_call("ADD").run(&conf).ok();
    go_call("DEL").run(&fw_conf(v, 0, json!({}), None)).ok();
    assert!(has_accept_rules(&env, &ip4), "Go leaks without prevResult");
    env.call("DEL", &ctr, "goctr").run(&conf).ok();
    assert!(!has_any_accept_rule(&env, &ip4));
    env.del_container(&ctr, "goctr", &bconf);
}

fn env_lines(rules: &str) -> Vec<&str> {
    rules.lines().filter(|l| !l.starts_with("-P ")).collect()
}

//! The host protections behind past CVEs of the Go plugins, shown on the
//! running system:
//! - CVE-2020-10749: every host-side interface the suite creates (bridge,
//!   the host ends of bridge and ptp veths, bandwidth's IFB) has
//!   `accept_ra=0`, so a container cannot steer the host with router
//!   advertisements;
//! - CVE-2025-67499: portmap DNATs only traffic addressed to the node
//!   itself, on both backends, in the rules and in traffic: a packet routed
//!   *through* the fake host to another machine's mapped port reaches that
//!   machine, not the container.
//!
//! That no plugin acts on its own namespace is in `hostile.rs`.

use std::net::{IpAddr, SocketAddr};

use integration::*;
use serde_json::{Value, json};

fn accept_ra(host: &TestNs, ifname: &str) -> String {
    sysctl_in(host, &format!("/proc/sys/net/ipv6/conf/{ifname}/accept_ra"))
}

fn add(plugin: &str, host: &TestNs, ctr: &TestNs, conf: &Value) -> Value {
    Call::new(plugin_path(plugin), "ADD")
        .netns(ctr)
        .in_host(host)
        .run(conf)
        .expect_success()
}

fn del(plugin: &str, host: &TestNs, ctr: &TestNs, conf: &Value) {
    Call::new(plugin_path(plugin), "DEL")
        .netns(ctr)
        .in_host(host)
        .run(conf)
        .expect_success();
}

/// The host-side interfaces (no sandbox) a result lists.
fn host_interfaces(result: &Value) -> Vec<String> {
    result["interfaces"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["sandbox"].as_str().unwrap_or("").is_empty())
        .filter_map(|i| i["name"].as_str().map(String::from))
        .collect()
}

#[test]
fn host_side_interfaces_accept_no_router_advertisements() {
    require_root!();
    let host = TestNs::new("rahost");
    let dir = tempdir();
    // control: in this namespace a new interface does accept RAs
    host.ip(&[
        "link", "add", "ractl0", "type", "veth", "peer", "name", "ractl1",
    ]);
    assert_eq!(accept_ra(&host, "ractl0"), "1", "control interface");
    let ipam = json!({"type": "host-local", "dataDir": dir.path(),
                      "ranges": [[{"subnet": "10.97.0.0/24"}], [{"subnet": "fd00:97::/64"}]]});
    let bridge = json!({"cniVersion": "1.0.0", "name": "ranet", "type": "bridge",
                        "bridge": "rabr0", "isGateway": true, "ipam": ipam});
    let mut ptp = json!({"cniVersion": "1.0.0", "name": "raptp", "type": "ptp", "ipam": ipam});
    ptp["ipam"]["ranges"] = json!([[{"subnet": "10.96.0.0/24"}], [{"subnet": "fd00:96::/64"}]]);
    let c1 = TestNs::new("ractr");
    let c2 = TestNs::new("ractr");
    let r1 = add("bridge", &host, &c1, &bridge);
    let r2 = add("ptp", &host, &c2, &ptp);
    let mut bw = json!({"cniVersion": "1.0.0", "name": "ranet", "type": "bandwidth",
                        "egressRate": 1000000, "egressBurst": 100000, "prevResult": r1});
    let r3 = add("bandwidth", &host, &c1, &bw);
    let mut checked = Vec::new();
    for (what, r) in [("bridge", &r1), ("ptp", &r2), ("bandwidth", &r3)] {
        for ifname in host_interfaces(r) {
            assert_eq!(
                accept_ra(&host, &ifname),
                "0",
                "{what}: {ifname} accepts RAs"
            );
            checked.push(ifname);
        }
    }
    // bridge, its veth's host end, ptp's host end, the IFB (bandwidth lists
    // the bridge's interfaces again)
    assert!(checked.contains(&"rabr0".to_string()), "{checked:?}");
    assert!(checked.iter().any(|i| i.starts_with("bwp")), "{checked:?}");
    assert!(checked.len() >= 4, "{checked:?}");
    bw["prevResult"] = r1.clone();
    del("bandwidth", &host, &c1, &bw);
    del("ptp", &host, &c2, &ptp);
    del("bridge", &host, &c1, &bridge);
}

const CLIENT_NET: (&str, &str) = ("192.168.250.1", "192.168.250.2");
const FAR_NET: (&str, &str) = ("192.168.249.1", "192.168.249.2");

/// A namespace joined to `host` by a veth: `host_ip` on the host end,
/// `ip` on its own, default route via the host.
fn attach(host: &TestNs, role: &str, (host_ip, ip): (&str, &str)) -> TestNs {
    let ns = TestNs::new(role);
    let h = format!("v{role}");
    host.ip(&[
        "link", "add", &h, "type", "veth", "peer", "name", "eth0", "netns", &ns.name,
    ]);
    host.ip(&["addr", "add", &format!("{host_ip}/24"), "dev", &h]);
    host.ip(&["link", "set", &h, "up"]);
    ns.ip(&["addr", "add", &format!("{ip}/24"), "dev", "eth0"]);
    ns.ip(&["link", "set", "eth0", "up"]);
    ns.ip(&["route", "add", "default", "via", host_ip]);
    ns
}

fn sa(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), port)
}

/// A DNAT of every packet to port 8080, whatever its destination: the
/// rule the vulnerable nftables portmap made.
fn plant_unguarded_dnat(host: &TestNs, to: IpAddr) {
    let dnat = format!("{to}:80");
    for args in [
        &["add", "table", "ip", "unguarded"][..],
        &["add chain ip unguarded pre { type nat hook prerouting priority -101 ; }"],
        &[
            "add",
            "rule",
            "ip",
            "unguarded",
            "pre",
            "tcp",
            "dport",
            "8080",
            "dnat",
            "to",
            &dnat,
        ],
    ] {
        let out = host.cmd("nft", args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn portmap_dnats_only_traffic_addressed_to_the_node() {
    require_root!();
    for backend in ["iptables", "nftables"] {
        if !has_tool(if backend == "iptables" {
            "iptables"
        } else {
            "nft"
        }) {
            eprintln!("skipped {backend}: not installed");
            continue;
        }
        let host = TestNs::new("pmghost");
        let dir = tempdir();
        let client = attach(&host, "pmgcli", CLIENT_NET);
        let far = attach(&host, "pmgfar", FAR_NET);
        host.open()
            .run(|| pkg::sysctl::write("/proc/sys/net/ipv4/ip_forward".as_ref(), "1"))
            .unwrap();
        let ctr = TestNs::new("pmgctr");
        let bridge = json!({"cniVersion": "1.0.0", "name": "pmgnet", "type": "bridge",
            "bridge": "pmgbr0", "isDefaultGateway": true,
            "ipam": {"type": "host-local", "dataDir": dir.path(), "ranges": [[{"subnet": "10.95.0.0/24"}]]}});
        let prev = add("bridge", &host, &ctr, &bridge);
        let ctr_ip: IpAddr = prev["ips"][0]["address"]
            .as_str()
            .and_then(|a| a.split('/').next())
            .and_then(|a| a.parse().ok())
            .unwrap();
        let pm = json!({"cniVersion": "1.0.0", "name": "pmgnet", "type": "portmap",
            "backend": backend, "prevResult": prev,
            "runtimeConfig": {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]}});
        add("portmap", &host, &ctr, &pm);

        // the guard is in the rules
        if backend == "iptables" {
            let nat = output_in(&host, "iptables", &["-w", "-t", "nat", "-S"]);
            for chain in ["PREROUTING", "OUTPUT"] {
                let jump = format!("-A {chain} -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT");
                assert!(
                    nat.contains(&jump),
                    "{backend}: no guarded jump in {chain}:\n{nat}"
                );
            }
            assert!(
                nat.lines()
                    .filter(|l| l.contains("-j CNI-HOSTPORT-DNAT"))
                    .all(|l| l.contains("--dst-type LOCAL")),
                "{backend}: an unguarded jump:\n{nat}"
            );
        } else {
            let rules = output_in(&host, "nft", &["list", "ruleset"]);
            let jumps: Vec<&str> = rules
                .lines()
                .filter(|l| l.contains("jump hostports_all"))
                .collect();
            assert!(jumps.len() >= 2, "{backend}:\n{rules}");
            assert!(
                jumps.iter().all(|l| l.contains("fib daddr type local")),
                "{backend}: an unguarded jump:\n{rules}"
            );
        }

        // to the node: DNATed to the container
        let peer = tcp_probe(&ctr, sa("0.0.0.0", 80), &client, sa(CLIENT_NET.0, 8080))
            .unwrap_or_else(|e| panic!("{backend}: mapped port of the node: {e}"));
        assert_eq!(peer.ip().to_string(), CLIENT_NET.1, "{backend}");
        // through the node, to another machine's port 8080: not DNATed
        let peer = tcp_probe(&far, sa("0.0.0.0", 8080), &client, sa(FAR_NET.1, 8080))
            .unwrap_or_else(|e| panic!("{backend}: traffic through the node was diverted: {e}"));
        assert_eq!(peer.ip().to_string(), CLIENT_NET.1, "{backend}");

        // The probe does see the vulnerable behaviour: with an unguarded
        // DNAT in place, the same connection lands in the container.
        plant_unguarded_dnat(&host, ctr_ip);
        let peer = tcp_probe(&ctr, sa("0.0.0.0", 80), &client, sa(FAR_NET.1, 8080))
            .unwrap_or_else(|e| panic!("{backend}: control DNAT not effective: {e}"));
        assert_eq!(peer.ip().to_string(), CLIENT_NET.1, "{backend}");
        host.cmd("nft", &["delete", "table", "ip", "unguarded"])
            .status()
            .unwrap();

        del("portmap", &host, &ctr, &pm);
        del("bridge", &host, &ctr, &bridge);
        drop(far);
        drop(client);
    }
}

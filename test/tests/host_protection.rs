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

use std::net::IpAddr;

use integration::*;
use serde_json::{Value, json};

fn accept_ra(host: &TestNs, ifname: &str) -> String {
    sysctl_in(host, &format!("/proc/sys/net/ipv6/conf/{ifname}/accept_ra"))
}

const CID: &str = "c0ffee";

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
    let fx = Fixture::in_host(TestNs::new("rahost"), "bridge", "ranet");
    let host = &fx.host;
    // control: in this namespace a new interface does accept RAs
    host.ip(&[
        "link", "add", "ractl0", "type", "veth", "peer", "name", "ractl1",
    ]);
    assert_eq!(accept_ra(host, "ractl0"), "1", "control interface");
    let v = Version::V1_0_0;
    let ipam = fx.host_local(json!([[{"subnet": "10.97.0.0/24"}], [{"subnet": "fd00:97::/64"}]]));
    let bridge = fx.conf(
        v,
        json!({"bridge": "rabr0", "isGateway": true, "ipam": ipam}),
    );
    let ipam = fx.host_local(json!([[{"subnet": "10.96.0.0/24"}], [{"subnet": "fd00:96::/64"}]]));
    let mut ptp = fx.conf_of("ptp", v, json!({ "ipam": ipam }));
    ptp["name"] = json!("raptp");
    let c1 = TestNs::new("ractr");
    let c2 = TestNs::new("ractr");
    let r1 = fx.add(&c1, CID, &bridge);
    let r2 = fx.add_of("ptp", &c2, CID, &ptp);
    let bw = fx.conf_of(
        "bandwidth",
        v,
        json!({"egressRate": 1000000, "egressBurst": 100000}),
    );
    let r3 = fx.add_of("bandwidth", &c1, CID, &with_prev(&bw, &r1.result));
    let mut checked = Vec::new();
    for (what, r) in [("bridge", &r1), ("ptp", &r2), ("bandwidth", &r3)] {
        for ifname in host_interfaces(&r.result) {
            assert_eq!(
                accept_ra(host, &ifname),
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
    r3.del();
    r2.del();
    r1.del();
}

/// The host's and the client's addresses on the client network.
const CLIENT_NET: (&str, &str) = ("192.168.250.1", "192.168.250.2");
/// The host's and another machine's addresses on a network beyond.
const FAR_NET: (&str, &str) = ("192.168.249.1", "192.168.249.2");

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
    // the control DNAT is an nftables rule, whatever the backend
    require_tools!("nft");
    for backend in backends() {
        let fx = Fixture::in_host(TestNs::new("pmghost"), "portmap", "pmgnet");
        let host = &fx.host;
        let client = outside(host, "192.168.250", "fd00:250");
        let far = outside(host, "192.168.249", "fd00:249");
        host.open()
            .run(|| pkg::sysctl::write("/proc/sys/net/ipv4/ip_forward".as_ref(), "1"))
            .unwrap();
        let ctr = TestNs::new("pmgctr");
        let v = Version::V1_0_0;
        let bridge = fx.conf_of(
            "bridge",
            v,
            json!({"bridge": "pmgbr0", "isDefaultGateway": true,
                   "ipam": fx.host_local(json!([[{"subnet": "10.95.0.0/24"}]]))}),
        );
        let br = fx.add_of("bridge", &ctr, CID, &bridge);
        let ctr_ip = br.ip(0);
        let pm = fx.conf(
            v,
            json!({"backend": backend,
                "runtimeConfig": {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]}}),
        );
        let pm = fx.add(&ctr, CID, &with_prev(&pm, &br.result));

        // the guard is in the rules
        if backend == "iptables" {
            let nat = output_in(host, "iptables", &["-w", "-t", "nat", "-S"]);
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
            let rules = output_in(host, "nft", &["list", "ruleset"]);
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
        let peer = tcp_probe(&ctr, sock("0.0.0.0", 80), &client, sock(CLIENT_NET.0, 8080))
            .unwrap_or_else(|e| panic!("{backend}: mapped port of the node: {e}"));
        assert_eq!(peer.ip().to_string(), CLIENT_NET.1, "{backend}");
        // through the node, to another machine's port 8080: not DNATed
        let peer = tcp_probe(&far, sock("0.0.0.0", 8080), &client, sock(FAR_NET.1, 8080))
            .unwrap_or_else(|e| panic!("{backend}: traffic through the node was diverted: {e}"));
        assert_eq!(peer.ip().to_string(), CLIENT_NET.1, "{backend}");

        // The probe does see the vulnerable behaviour: with an unguarded
        // DNAT in place, the same connection lands in the container.
        plant_unguarded_dnat(host, ctr_ip);
        let peer = tcp_probe(&ctr, sock("0.0.0.0", 80), &client, sock(FAR_NET.1, 8080))
            .unwrap_or_else(|e| panic!("{backend}: control DNAT not effective: {e}"));
        assert_eq!(peer.ip().to_string(), CLIENT_NET.1, "{backend}");
        host.cmd("nft", &["delete", "table", "ip", "unguarded"])
            .status()
            .unwrap();

        pm.del();
        br.del();
        drop(far);
        drop(client);
    }
}

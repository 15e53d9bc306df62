//! portmap, chained after our bridge as a runtime would: rules on both
//! backends, traffic to TCP and UDP servers in the container (from the
//! host, from 127.0.0.1, from a client namespace routed through the host,
//! and from the container itself), DEL without prevResult or netns, CHECK
//! after tampering, GC, stale UDP conntrack entries, bad input, exec counts,
//! and interop with Debian's Go portmap (iptables only, spec ≤ 1.0.0).

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

use integration::*;
use serde_json::{Value, json};

const HOST_OUT_V4: &str = "192.168.251.1";
const CLIENT_V4: &str = "192.168.251.2";
const HOST_OUT_V6: &str = "fd00:251::1";
const CLIENT_V6: &str = "fd00:251::2";
const GATEWAY: &str = "10.66.0.1";

/// A fake host with a bridge network chained into portmap, and a client
/// namespace routed through the host ("outside").
struct Env {
    fx: Fixture,
    client: TestNs,
}

impl Env {
    fn new() -> Env {
        let fx = Fixture::in_host(TestNs::new("pmhost"), "portmap", "pmnet");
        let client = outside(&fx.host, "192.168.251", "fd00:251");
        Env { fx, client }
    }

    fn bridge_conf(&self, v: Version) -> Value {
        let ranges = json!([[{"subnet": "10.66.0.0/24"}], [{"subnet": "fd00:66::/64"}]]);
        self.fx.conf_of(
            "bridge",
            v,
            json!({"bridge": "cnipm0", "isDefaultGateway": true, "hairpinMode": true,
                   "ipam": self.fx.host_local(ranges)}),
        )
    }

    fn bridge_conf_v4(&self, v: Version) -> Value {
        let mut c = self.bridge_conf(v);
        c["ipam"]["ranges"] = json!([[{"subnet": "10.66.0.0/24"}]]);
        c
    }

    /// Our bridge's ADD; its result is the prevResult portmap gets.
    fn add_container(&self, ctr: &TestNs, cid: &str, conf: &Value) -> Attachment {
        self.fx.add_of("bridge", ctr, cid, conf)
    }

    /// The bridge's IPv6 gateway address finishes DAD asynchronously;
    /// IPv6 probes wait for it (bounded) so they test portmap, not DAD.
    fn wait_ipv6_gateway(&self) {
        self.fx.wait_dad("cnipm0");
    }

    fn call(&self, cmd: &str, ctr: &TestNs, cid: &str) -> Call {
        self.fx.call(cmd, ctr, cid)
    }

    fn nat(&self) -> String {
        self.fx.nat_rules()
    }

    fn nft(&self) -> String {
        self.fx.nft_ruleset()
    }

    /// Whether any rule of container `cid` is in the fake host.
    fn has_rules(&self, cid: &str) -> bool {
        self.nat().contains(&format!("id: \\\"{cid}\\\""))
            || self.nft().contains(&format!("comment \"{cid}\""))
    }
}

/// portmap's config: `extra` on top, `prev` as prevResult when given.
fn pm_conf(
    v: Version,
    backend: Option<&str>,
    mappings: Value,
    extra: Value,
    prev: Option<&Value>,
) -> Value {
    let mut c = json!({
        "cniVersion": v.as_str(), "name": "pmnet", "type": "portmap",
        "capabilities": {"portMappings": true},
        "runtimeConfig": {"portMappings": mappings},
    });
    if let Some(b) = backend {
        c["backend"] = json!(b);
    }
    merge(&mut c, extra);
    match prev {
        Some(p) => with_prev(&c, p),
        None => c,
    }
}

fn web() -> Value {
    json!([{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
           {"hostPort": 8053, "containerPort": 53, "protocol": "udp"}])
}

/// A UDP socket bound inside `ns`.
fn udp_socket(ns: &TestNs, bind: SocketAddr) -> UdpSocket {
    let s = ns
        .open()
        .run(move || {
            bind_when_free(bind, UdpSocket::bind)
                .map_err(|e| pkg::Error::io(format!("bind {bind}"), e))
        })
        .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s
}

/// Sends a datagram from `client` to `target`, where a server bound at
/// `bind` inside `server` answers; returns the source the server saw.
fn udp_probe(
    server: &TestNs,
    bind: SocketAddr,
    client: &UdpSocket,
    target: SocketAddr,
) -> Result<SocketAddr, String> {
    let srv = udp_socket(server, bind);
    client.send_to(b"ping", target).map_err(|e| e.to_string())?;
    let mut buf = [0u8; 16];
    let (_, peer) = srv
        .recv_from(&mut buf)
        .map_err(|e| format!("server got nothing: {e}"))?;
    srv.send_to(b"pong", peer).map_err(|e| e.to_string())?;
    let (n, _) = client
        .recv_from(&mut buf)
        .map_err(|e| format!("no answer: {e}"))?;
    assert_eq!(&buf[..n], b"pong");
    Ok(peer)
}

// Documentation/conformance.md item 20: the chained result is prevResult; 22: DEL twice
#[test]
fn conformance_20_add_check_del_every_version_both_backends() {
    require_root!();
    for backend in backends() {
        let env = Env::new();
        for v in Version::ALL {
            let ctr = TestNs::new("pmv");
            let cid = format!("pm-{}", v.as_str().replace('.', "-"));
            let bconf = env.bridge_conf_v4(v);
            let br = env.add_container(&ctr, &cid, &bconf);
            let prev = &br.result;
            let conf = pm_conf(v, Some(backend), web(), json!({}), Some(prev));
            let out = env.call("ADD", &ctr, &cid).run(&conf).expect_success();
            assert_eq!(&out, prev, "{backend} {v}: portmap passes prevResult on");
            assert!(env.has_rules(&cid), "{backend} {v}: rules after ADD");
            if v.has_check() {
                // Documentation/conformance.md item 25: CHECK is silent on success (IPv4-only container)
                let out = env.call("CHECK", &ctr, &cid).run(&conf);
                assert_eq!(out.expect_success(), Value::Null, "{backend} {v}");
            }
            let del = pm_conf(v, Some(backend), web(), json!({}), None);
            env.call("DEL", &ctr, &cid).run(&del).expect_success();
            env.call("DEL", &ctr, &cid).run(&del).expect_success();
            assert!(
                !env.has_rules(&cid),
                "{backend} {v}: rules left:\n{}{}",
                env.nat(),
                env.nft()
            );
            br.del();
        }
    }
}

#[test]
fn traffic_reaches_tcp_and_udp_servers_on_both_backends() {
    require_root!();
    for backend in backends() {
        let env = Env::new();
        let ctr = TestNs::new("pmweb");
        let bconf = env.bridge_conf(Version::V1_0_0);
        let br = env.add_container(&ctr, "web", &bconf);
        let prev = &br.result;
        let conf = pm_conf(Version::V1_0_0, Some(backend), web(), json!({}), Some(prev));
        env.call("ADD", &ctr, "web").run(&conf).expect_success();
        let gw: IpAddr = GATEWAY.parse().unwrap();
        let any4 = sock("0.0.0.0", 80);
        // from a client routed through the host: DNAT only, source kept
        let peer = tcp_probe(&ctr, any4, &env.client, sock(HOST_OUT_V4, 8080))
            .unwrap_or_else(|e| panic!("{backend}: {e}"));
        assert_eq!(peer.ip().to_string(), CLIENT_V4, "{backend}");
        env.wait_ipv6_gateway();
        let peer = tcp_probe(&ctr, sock("::", 80), &env.client, sock(HOST_OUT_V6, 8080))
            .unwrap_or_else(|e| panic!("{backend} v6: {e}"));
        assert_eq!(peer.ip().to_string(), CLIENT_V6, "{backend}");
        // from the host itself, to one of its addresses
        let peer = tcp_probe(&ctr, any4, &env.fx.host, sock(HOST_OUT_V4, 8080))
            .unwrap_or_else(|e| panic!("{backend}: {e}"));
        assert!(
            peer.ip() == gw || peer.ip().to_string() == HOST_OUT_V4,
            "{backend}: {peer}"
        );
        // to 127.0.0.1 in the host: route_localnet and masquerade
        let peer = tcp_probe(&ctr, any4, &env.fx.host, sock("127.0.0.1", 8080))
            .unwrap_or_else(|e| panic!("{backend} localhost: {e}"));
        assert_eq!(peer.ip(), gw, "{backend}: localhost traffic is masqueraded");
        assert_eq!(
            sysctl_in(
                &env.fx.host,
                "/proc/sys/net/ipv4/conf/cnipm0/route_localnet"
            ),
            "1"
        );
        // hairpin: the container reaches its own published port
        let peer = tcp_probe(&ctr, any4, &ctr, sock(HOST_OUT_V4, 8080))
            .unwrap_or_else(|e| panic!("{backend} hairpin: {e}"));
        assert_eq!(peer.ip(), gw, "{backend}: hairpin traffic is masqueraded");
        // UDP, from the client and from the host
        let cli = udp_socket(&env.client, sock("0.0.0.0", 0));
        let peer = udp_probe(&ctr, sock("0.0.0.0", 53), &cli, sock(HOST_OUT_V4, 8053))
            .unwrap_or_else(|e| panic!("{backend} udp: {e}"));
        assert_eq!(peer.ip().to_string(), CLIENT_V4);
        let cli6 = udp_socket(&env.client, sock("::", 0));
        let peer = udp_probe(&ctr, sock("::", 53), &cli6, sock(HOST_OUT_V6, 8053))
            .unwrap_or_else(|e| panic!("{backend} udp6: {e}"));
        assert_eq!(peer.ip().to_string(), CLIENT_V6);
        let hcli = udp_socket(&env.fx.host, sock("0.0.0.0", 0));
        udp_probe(&ctr, sock("0.0.0.0", 53), &hcli, sock(GATEWAY, 8053))
            .unwrap_or_else(|e| panic!("{backend} udp from host: {e}"));
        // a port that is not mapped stays the host's
        assert!(
            tcp_probe(
                &ctr,
                sock("0.0.0.0", 81),
                &env.client,
                sock(HOST_OUT_V4, 8081)
            )
            .is_err()
        );
        // CHECK of a dual-stack container
        env.call("CHECK", &ctr, "web").run(&conf).expect_success();
        // DEL: traffic stops
        env.call("DEL", &ctr, "web").run(&conf).expect_success();
        assert!(
            tcp_probe(&ctr, any4, &env.client, sock(HOST_OUT_V4, 8080)).is_err(),
            "{backend}: DNAT gone"
        );
        assert!(!env.has_rules("web"));
        br.del();
    }
}

#[test]
fn each_config_key_on_both_backends() {
    require_root!();
    for backend in backends() {
        let env = Env::new();
        let v = Version::V1_0_0;
        let bconf = env.bridge_conf_v4(v);
        let ctr = TestNs::new("pmkey");
        let br = env.add_container(&ctr, "key", &bconf);
        let prev = &br.result;
        let ip = address_of(prev, true);
        let run = |mappings: Value, extra: Value, check: &dyn Fn(&str)| {
            let conf = pm_conf(v, Some(backend), mappings, extra.clone(), Some(prev));
            env.call("ADD", &ctr, "key").run(&conf).expect_success();
            env.call("CHECK", &ctr, "key").run(&conf).expect_success();
            let rules = if backend == "iptables" {
                env.nat()
            } else {
                env.nft()
            };
            check(&rules);
            env.call("DEL", &ctr, "key").run(&conf).expect_success();
            assert!(!env.has_rules("key"), "{backend} {extra}");
        };
        // snat: false → no masquerade rules for the container
        run(web(), json!({"snat": false}), &|r| {
            assert!(
                !r.contains("CNI-HOSTPORT-SETMARK") && !r.contains(&format!("saddr {ip}")),
                "{backend}: {r}"
            );
        });
        // masqAll: every source, no separate localhost rule
        run(web(), json!({"masqAll": true}), &|r| {
            if backend == "iptables" {
                assert!(
                    r.contains("-p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK"),
                    "{r}"
                );
                assert!(!r.contains("-s 127.0.0.1/32"), "{r}");
            } else {
                assert!(
                    r.contains(&format!("ip saddr 0.0.0.0/0 ip daddr {ip} masquerade")),
                    "{r}"
                );
                assert!(!r.contains("127.0.0.1"), "{r}");
            }
        });
        // capitalised keys, as containerd sends them; hostIP narrows
        run(
            json!([{"HostPort": 8081, "ContainerPort": 80, "Protocol": "TCP", "HostIP": HOST_OUT_V4}]),
            json!({}),
            &|r| {
                assert!(r.contains("8081"), "{r}");
                assert!(r.contains(HOST_OUT_V4), "{r}");
            },
        );
        let conf = pm_conf(
            v,
            Some(backend),
            json!([{"hostPort": 8082, "containerPort": 80, "protocol": "tcp", "hostIP": HOST_OUT_V4}]),
            json!({}),
            Some(prev),
        );
        env.call("ADD", &ctr, "key").run(&conf).expect_success();
        tcp_probe(
            &ctr,
            sock("0.0.0.0", 80),
            &env.client,
            sock(HOST_OUT_V4, 8082),
        )
        .unwrap_or_else(|e| panic!("{backend}: {e}"));
        assert!(
            tcp_probe(&ctr, sock("0.0.0.0", 80), &env.fx.host, sock(GATEWAY, 8082)).is_err(),
            "{backend}: other host address not mapped"
        );
        env.call("DEL", &ctr, "key").run(&conf).expect_success();
        // conditions, written for the backend in use: only the client's
        // subnet is forwarded
        let cond = if backend == "iptables" {
            json!({"conditionsV4": ["-s", "192.168.251.0/24"]})
        } else {
            json!({"conditionsV4": ["ip", "saddr", "192.168.251.0/24"]})
        };
        run(web(), cond.clone(), &|r| {
            assert!(r.contains("192.168.251.0/24"), "{r}")
        });
        let conf = pm_conf(v, Some(backend), web(), cond, Some(prev));
        env.call("ADD", &ctr, "key").run(&conf).expect_success();
        tcp_probe(
            &ctr,
            sock("0.0.0.0", 80),
            &env.client,
            sock(HOST_OUT_V4, 8080),
        )
        .unwrap_or_else(|e| panic!("{backend} cond: {e}"));
        assert!(
            tcp_probe(
                &ctr,
                sock("0.0.0.0", 80),
                &env.fx.host,
                sock("127.0.0.1", 8080)
            )
            .is_err(),
            "{backend}: condition excludes localhost"
        );
        env.call("DEL", &ctr, "key").run(&conf).expect_success();
        if backend == "iptables" {
            // markMasqBit
            run(web(), json!({"markMasqBit": 5}), &|r| {
                assert!(r.contains("--set-xmark 0x20/0x20"), "{r}")
            });
            // externalSetMarkChain: the chain is the caller's
            env.fx
                .host
                .cmd("iptables", &["-w", "-t", "nat", "-N", "KUBE-MARK-MASQ"])
                .status()
                .unwrap();
            run(
                web(),
                json!({"externalSetMarkChain": "KUBE-MARK-MASQ"}),
                &|r| {
                    assert!(r.contains("-j KUBE-MARK-MASQ"), "{r}");
                },
            );
        }
        br.del();
    }
}

// Documentation/conformance.md item 23: DEL without prevResult, and with the netns gone
#[test]
fn conformance_23_del_without_prev_result_or_netns() {
    require_root!();
    for backend in backends() {
        let env = Env::new();
        let v = Version::V1_0_0;
        let bconf = env.bridge_conf(v);
        let ctr = TestNs::new("pmdel");
        let br = env.add_container(&ctr, "gone", &bconf);
        let prev = &br.result;
        env.call("ADD", &ctr, "gone")
            .run(&pm_conf(v, Some(backend), web(), json!({}), Some(prev)))
            .expect_success();
        assert!(env.has_rules("gone"));
        let del = env.call("DEL", &ctr, "gone");
        br.del();
        drop(ctr);
        // no prevResult, no backend key, netns path gone
        let conf = pm_conf(v, None, web(), json!({}), None);
        del.run(&conf).expect_success();
        assert!(
            !env.has_rules("gone"),
            "{backend}:\n{}{}",
            env.nat(),
            env.nft()
        );
        // and with CNI_NETNS empty
        del.netns_path("").run(&conf).expect_success();
    }
}

// Documentation/conformance.md item 25: CHECK fails when a rule it made is missing
#[test]
fn conformance_25_check_fails_after_tampering() {
    require_root!();
    for backend in backends() {
        let env = Env::new();
        let v = Version::V1_1_0;
        let bconf = env.bridge_conf_v4(v);
        let ctr = TestNs::new("pmchk");
        let br = env.add_container(&ctr, "chk", &bconf);
        let prev = &br.result;
        let conf = pm_conf(v, Some(backend), web(), json!({}), Some(prev));
        env.call("ADD", &ctr, "chk").run(&conf).expect_success();
        env.call("CHECK", &ctr, "chk").run(&conf).expect_success();
        if backend == "iptables" {
            let nat = env.nat();
            let chain = nat
                .lines()
                .find_map(|l| l.strip_prefix("-N CNI-DN-"))
                .map(|c| format!("CNI-DN-{c}"))
                .unwrap();
            env.fx
                .host
                .cmd("iptables", &["-w", "-t", "nat", "-D", &chain, "3"])
                .status()
                .unwrap();
        } else {
            env.fx
                .host
                .cmd(
                    "nft",
                    &["flush", "chain", "ip", "cni_hostport", "hostports"],
                )
                .status()
                .unwrap();
        }
        let (code, msg) = env
            .call("CHECK", &ctr, "chk")
            .run(&conf)
            .expect_spec_error();
        assert_eq!(code, 999, "{backend}: {msg}");
        eprintln!("{backend}: {msg}");
        // a CHECK without prevResult is refused
        let (code, msg) = env
            .call("CHECK", &ctr, "chk")
            .run(&pm_conf(v, Some(backend), web(), json!({}), None))
            .expect_spec_error();
        assert_eq!((code, msg.as_str()), (7, "required prevResult missing"));
        env.call("DEL", &ctr, "chk").run(&conf).expect_success();
        br.del();
    }
}

// Documentation/conformance.md item 30: GC removes rules of attachments not in the valid list
#[test]
fn conformance_30_gc_removes_stale_attachments() {
    require_root!();
    for backend in backends() {
        let env = Env::new();
        let v = Version::V1_1_0;
        let bconf = env.bridge_conf_v4(v);
        let (a, b) = (TestNs::new("pmgca"), TestNs::new("pmgcb"));
        let bridges = [(&a, "keep", 8080), (&b, "stale", 9090)].map(|(ns, cid, port)| {
            let br = env.add_container(ns, cid, &bconf);
            let m = json!([{"hostPort": port, "containerPort": 80, "protocol": "tcp"}]);
            env.call("ADD", ns, cid)
                .run(&pm_conf(v, Some(backend), m, json!({}), Some(&br.result)))
                .expect_success();
            br
        });
        let gc = |valid: Value, name: &str| {
            let g = json!({"cniVersion": "1.1.0", "name": name, "type": "portmap", "cni.dev/valid-attachments": valid});
            env.fx.network_call("GC").run(&g).expect_success();
        };
        // another network's GC leaves this one alone
        gc(json!([]), "othernet");
        assert!(env.has_rules("keep") && env.has_rules("stale"));
        gc(json!([{"containerID": "keep", "ifname": "eth0"}]), "pmnet");
        assert!(env.has_rules("keep"), "{backend}");
        assert!(
            !env.has_rules("stale"),
            "{backend}:\n{}{}",
            env.nat(),
            env.nft()
        );
        tcp_probe(
            &a,
            sock("0.0.0.0", 80),
            &env.client,
            sock(HOST_OUT_V4, 8080),
        )
        .unwrap_or_else(|e| panic!("{backend}: {e}"));
        gc(json!([]), "pmnet");
        assert!(!env.has_rules("keep"));
        for br in &bridges {
            br.del();
        }
    }
}

#[test]
fn stale_udp_conntrack_entries_are_flushed() {
    require_root!();
    for backend in backends() {
        let env = Env::new();
        let v = Version::V1_0_0;
        let bconf = env.bridge_conf_v4(v);
        let (a, b) = (TestNs::new("pmcta"), TestNs::new("pmctb"));
        // a first container makes the host track connections
        let br_a = env.add_container(&a, "cta", &bconf);
        let m = json!([{"hostPort": 9000, "containerPort": 53, "protocol": "udp"}]);
        env.call("ADD", &a, "cta")
            .run(&pm_conf(v, Some(backend), m, json!({}), Some(&br_a.result)))
            .expect_success();
        // A client talks to a port nobody maps yet: the host answers
        // "unreachable" and conntrack remembers the flow.
        let cli = udp_socket(&env.client, sock(CLIENT_V4, 40053));
        cli.send_to(b"early", sock(HOST_OUT_V4, 9053)).unwrap();
        let br_b = env.add_container(&b, "ctb", &bconf);
        let m = json!([{"hostPort": 9053, "containerPort": 53, "protocol": "udp"}]);
        let conf_b = pm_conf(v, Some(backend), m, json!({}), Some(&br_b.result));
        env.call("ADD", &b, "ctb").run(&conf_b).expect_success();
        // the same flow now reaches the new container
        let peer = udp_probe(&b, sock("0.0.0.0", 53), &cli, sock(HOST_OUT_V4, 9053))
            .unwrap_or_else(|e| panic!("{backend}: stale flow not flushed: {e}"));
        assert_eq!(peer, sock(CLIENT_V4, 40053));
        // after DEL the flow is flushed again rather than still DNATed
        env.call("DEL", &b, "ctb").run(&conf_b).expect_success();
        assert!(
            udp_probe(&b, sock("0.0.0.0", 53), &cli, sock(HOST_OUT_V4, 9053)).is_err(),
            "{backend}: DNAT outlived DEL"
        );
        br_a.del();
        br_b.del();
    }
}

#[test]
fn bad_input_is_refused_and_leaves_nothing() {
    require_root!();
    let env = Env::new();
    let v = Version::V1_0_0;
    let bconf = env.bridge_conf_v4(v);
    let ctr = TestNs::new("pmbad");
    let br = env.add_container(&ctr, "bad", &bconf);
    let prev = &br.result;
    let port = |hp: i64, cp: i64, proto: &str| json!([{"hostPort": hp, "containerPort": cp, "protocol": proto}]);
    let cases: Vec<(Value, u64, &str)> = vec![
        (
            pm_conf(v, None, web(), json!({}), None),
            7,
            "must be called as chained plugin",
        ),
        (
            pm_conf(v, None, port(0, 80, "tcp"), json!({}), Some(prev)),
            7,
            "invalid host port number 0",
        ),
        (
            pm_conf(v, None, port(70000, 80, "tcp"), json!({}), Some(prev)),
            7,
            "invalid host port number 70000",
        ),
        (
            pm_conf(v, None, port(80, 0, "tcp"), json!({}), Some(prev)),
            7,
            "invalid container port number 0",
        ),
        (
            pm_conf(v, None, port(80, 80, "icmp"), json!({}), Some(prev)),
            7,
            "unknown protocol \"icmp\"",
        ),
        (
            pm_conf(v, Some("pf"), web(), json!({}), Some(prev)),
            7,
            "unknown backend \"pf\"",
        ),
        (
            pm_conf(
                v,
                Some("nftables"),
                web(),
                json!({"externalSetMarkChain": "X"}),
                Some(prev),
            ),
            7,
            "nftables backend was requested but configuration contains iptables-specific options [externalSetMarkChain]",
        ),
        (
            pm_conf(
                v,
                Some("iptables"),
                web(),
                json!({"conditionsV4": ["ip", "saddr", "1.2.3.4"]}),
                Some(prev),
            ),
            7,
            "iptables backend was requested but configuration contains nftables-specific options [conditionsV4]",
        ),
        (
            pm_conf(v, None, web(), json!({"markMasqBit": 32}), Some(prev)),
            7,
            "invalid markMasqBit 32",
        ),
        (
            pm_conf(
                v,
                None,
                web(),
                json!({"markMasqBit": 1, "externalSetMarkChain": "X"}),
                Some(prev),
            ),
            7,
            "cannot specify externalSetMarkChain and markMasqBit",
        ),
        (
            pm_conf(
                v,
                None,
                json!([{"hostPort": "80", "containerPort": 80}]),
                json!({}),
                Some(prev),
            ),
            6,
            "",
        ),
    ];
    for (conf, code, msg) in cases {
        let (got, got_msg) = env.call("ADD", &ctr, "bad").run(&conf).expect_spec_error();
        assert_eq!(got, code, "{conf}: {got_msg}");
        assert!(got_msg.contains(msg), "{conf}: {got_msg}");
        assert!(!env.has_rules("bad"), "{conf}");
        assert!(
            !env.nat().contains("CNI-") && !env.nft().contains("cni_hostport"),
            "{conf}: nothing half-applied"
        );
    }
    // a failure inside the batch rolls back: iptables rejects a bogus
    // condition after our chain was planned
    let conf = pm_conf(
        v,
        Some("iptables"),
        web(),
        json!({"conditionsV4": ["--no-such-option"]}),
        Some(prev),
    );
    let (code, msg) = env.call("ADD", &ctr, "bad").run(&conf).expect_spec_error();
    assert_eq!(code, 999, "{msg}");
    assert!(
        !env.has_rules("bad") && !env.nat().contains("CNI-DN-"),
        "{}",
        env.nat()
    );
    // DEL of a config that would not validate still cleans up
    let good = pm_conf(v, Some("iptables"), web(), json!({}), Some(prev));
    env.call("ADD", &ctr, "bad").run(&good).expect_success();
    let mut broken = pm_conf(v, Some("iptables"), web(), json!({"markMasqBit": 99}), None);
    broken["runtimeConfig"]["portMappings"][1]["hostPort"] = json!(0);
    env.call("DEL", &ctr, "bad").run(&broken).expect_success();
    assert!(!env.has_rules("bad"), "{}", env.nat());
    br.del();
}

/// No mappings: no firewall work at all, on ADD and DEL (plugins#510).
#[test]
fn no_mappings_means_no_firewall_work() {
    require_root!();
    let env = Env::new();
    let log = ExecLog::new();
    let v = Version::V1_0_0;
    let bconf = env.bridge_conf_v4(v);
    let ctr = TestNs::new("pmnone");
    let br = env.add_container(&ctr, "none", &bconf);
    let prev = &br.result;
    log.take();
    let conf = pm_conf(v, None, json!([]), json!({}), Some(prev));
    let out = env
        .call("ADD", &ctr, "none")
        .env("PATH", &log.path())
        .run(&conf)
        .expect_success();
    assert_eq!(&out, prev);
    env.call("CHECK", &ctr, "none")
        .env("PATH", &log.path())
        .run(&conf)
        .expect_success();
    env.call("DEL", &ctr, "none")
        .env("PATH", &log.path())
        .run(&conf)
        .expect_success();
    assert_eq!(log.take(), Vec::<String>::new());
    br.del();
}

/// How many times ADD and DEL run iptables or nft, per backend.
#[test]
fn exec_counts_per_add_and_del() {
    require_root!();
    for backend in backends() {
        for dual in [false, true] {
            let env = Env::new();
            let log = ExecLog::new();
            let v = Version::V1_0_0;
            let bconf = if dual {
                env.bridge_conf(v)
            } else {
                env.bridge_conf_v4(v)
            };
            let ctr = TestNs::new("pmexec");
            let br = env.add_container(&ctr, "exec", &bconf);
            let prev = &br.result;
            log.take();
            let conf = pm_conf(v, Some(backend), web(), json!({}), Some(prev));
            env.call("ADD", &ctr, "exec")
                .env("PATH", &log.path())
                .run(&conf)
                .expect_success();
            let add = log.take();
            env.call("DEL", &ctr, "exec")
                .env("PATH", &log.path())
                .run(&conf)
                .expect_success();
            let del = log.take();
            let auto = pm_conf(v, None, web(), json!({}), Some(prev));
            env.call("ADD", &ctr, "exec")
                .env("PATH", &log.path())
                .run(&auto)
                .expect_success();
            let add_auto = log.take();
            env.call("DEL", &ctr, "exec")
                .env("PATH", &log.path())
                .run(&auto)
                .expect_success();
            log.take();
            eprintln!(
                "{backend} {}: ADD {} execs {add:?}; DEL {} execs {del:?}; ADD with detection {} execs",
                if dual { "dual-stack" } else { "IPv4" },
                add.len(),
                del.len(),
                add_auto.len()
            );
            let families = if dual { 2 } else { 1 };
            if log.iptables_nft() {
                // Over netlink, but iptables makes the built-in chains of
                // its nat table that do not exist yet (PREROUTING and
                // OUTPUT: the bridge's masquerade made POSTROUTING), one
                // restore per family; nftables needs no tool at all.
                let want = if backend == "iptables" { families } else { 0 };
                assert_eq!(add.len(), want, "{add:?}");
                assert_eq!(del.len(), 0, "{del:?}");
            } else {
                match backend {
                    // a listing and a restore per family
                    "iptables" => assert_eq!(add.len(), 2 * families, "{add:?}"),
                    _ => assert_eq!(add.len(), 0, "{add:?}"),
                }
                // DEL looks at both backends and families: an iptables
                // listing per family, plus a restore per family that holds
                // rules
                assert_eq!(
                    del.len(),
                    2 + if backend == "iptables" { families } else { 0 },
                    "{del:?}"
                );
            }
            if backend == "iptables"
                && let Some(go) = go_plugin("portmap")
            {
                let c = env
                    .fx
                    .go_call(&go, "ADD", &ctr, "exec")
                    .env("PATH", &log.path());
                c.run(&conf).expect_success();
                let go_add = log.take().len();
                c.command("DEL").run(&conf).expect_success();
                eprintln!(
                    "for comparison, Go 1.1.1 portmap: ADD {go_add} execs, DEL {} execs",
                    log.take().len()
                );
            }
            br.del();
        }
    }
}

// Documentation/conformance.md item 37: concurrent ADDs for different containers are safe
#[test]
fn conformance_37_concurrent_adds_and_dels() {
    require_root!();
    for backend in backends() {
        let env = Env::new();
        let v = Version::V1_0_0;
        let bconf = env.bridge_conf_v4(v);
        let ctrs: Vec<TestNs> = (0..8).map(|_| TestNs::new("pmpar")).collect();
        let bridges: Vec<Attachment> = ctrs
            .iter()
            .enumerate()
            .map(|(i, c)| env.add_container(c, &format!("par{i}"), &bconf))
            .collect();
        std::thread::scope(|s| {
            for (i, ctr) in ctrs.iter().enumerate() {
                let m = json!([{"hostPort": 7000 + i, "containerPort": 80, "protocol": "tcp"}]);
                let conf = pm_conf(v, Some(backend), m, json!({}), Some(&bridges[i].result));
                let call = env.call("ADD", ctr, &format!("par{i}"));
                s.spawn(move || call.run(&conf).expect_success());
            }
        });
        for (i, ctr) in ctrs.iter().enumerate() {
            assert!(env.has_rules(&format!("par{i}")), "{backend} par{i}");
            let port = 7000 + i as u16;
            tcp_probe(
                ctr,
                sock("0.0.0.0", 80),
                &env.client,
                sock(HOST_OUT_V4, port),
            )
            .unwrap_or_else(|e| panic!("{backend} par{i}: {e}"));
        }
        std::thread::scope(|s| {
            for (i, ctr) in ctrs.iter().enumerate() {
                let m = json!([{"hostPort": 7000 + i, "containerPort": 80, "protocol": "tcp"}]);
                let conf = pm_conf(v, Some(backend), m, json!({}), None);
                let call = env.call("DEL", ctr, &format!("par{i}"));
                s.spawn(move || call.run(&conf).expect_success());
            }
        });
        for (i, br) in bridges.iter().enumerate() {
            assert!(!env.has_rules(&format!("par{i}")), "{backend} par{i}");
            br.del();
        }
    }
}

/// Debian's Go portmap 1.1.1 (iptables only, spec ≤ 1.0.0) on the same rules.
#[test]
fn interop_with_go_portmap() {
    require_root!();
    let Some(go) = require_go("portmap", &[]) else {
        return;
    };
    let env = Env::new();
    let v = Version::V1_0_0;
    let bconf = env.bridge_conf(v);
    let ctr = TestNs::new("pmgo");
    let br = env.add_container(&ctr, "goctr", &bconf);
    let prev = &br.result;
    let conf = pm_conf(v, None, web(), json!({}), Some(prev));
    let go_call = |cmd: &str| env.fx.go_call(&go, cmd, &ctr, "goctr");
    // Go ADD: ours sees the same rules (CHECK) and removes them (DEL)
    go_call("ADD").run(&conf).expect_success();
    let go_rules = env.nat();
    assert!(env.has_rules("goctr"), "{go_rules}");
    tcp_probe(
        &ctr,
        sock("0.0.0.0", 80),
        &env.client,
        sock(HOST_OUT_V4, 8080),
    )
    .unwrap();
    env.call("CHECK", &ctr, "goctr").run(&conf).expect_success();
    env.call("DEL", &ctr, "goctr")
        .run(&pm_conf(v, None, web(), json!({}), None))
        .expect_success();
    assert!(
        !env.has_rules("goctr") && !env.nat().contains("CNI-DN-"),
        "{}",
        env.nat()
    );
    // ours ADD: the same layout as Go's, and Go's DEL removes it. (Go
    // 1.1.1's CHECK is not run: it looks for the IPv4 rules in ip6tables
    // too and fails even on its own rules.)
    env.call("ADD", &ctr, "goctr").run(&conf).expect_success();
    let mut ours: Vec<String> = env.nat().lines().map(String::from).collect();
    let mut theirs: Vec<String> = go_rules.lines().map(String::from).collect();
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs, "our layout is Go's");
    go_call("DEL").run(&conf).expect_success();
    assert!(
        !env.has_rules("goctr") && !env.nat().contains("CNI-DN-"),
        "{}",
        env.nat()
    );
    br.del();

    let ctr = TestNs::new("pmgo4");
    let bconf = env.bridge_conf_v4(v);
    let br = env.add_container(&ctr, "goctr", &bconf);
    let prev = &br.result;
    let conf = pm_conf(v, None, web(), json!({}), Some(prev));
    let go_call = |cmd: &str| env.fx.go_call(&go, cmd, &ctr, "goctr");
    // IPv4 only: Go's CHECK fails on its own rules, ours passes
    env.call("ADD", &ctr, "goctr").run(&conf).expect_success();
    go_call("DEL").run(&conf).expect_success();
    assert!(!env.has_rules("goctr"), "{}", env.nat());
    go_call("ADD").run(&conf).expect_success();
    let (_, msg) = go_call("CHECK").run(&conf).expect_spec_error();
    assert!(msg.contains("could not check ipv6 dnat"), "{msg}");
    env.call("CHECK", &ctr, "goctr").run(&conf).expect_success();
    env.call("DEL", &ctr, "goctr").run(&conf).expect_success();
    assert!(!env.has_rules("goctr"), "{}", env.nat());
    br.del();
}

/// What podman does when a later plugin of the chain fails ADD
/// (fixtures/podman-captured/podman-add-failure): DEL of every plugin,
/// in reverse, without prevResult, but with the port mappings. Nothing of
/// portmap's or firewall's may be left.
#[test]
fn podman_failed_add_cleanup_without_prev_result() {
    require_root!();
    for backend in backends() {
        let env = Env::new();
        let v = Version::V0_4_0;
        let bconf = env.bridge_conf(v);
        let ctr = TestNs::new("pmpod");
        let cid = "c018792f780e4ee670c89b103b78e51367d3abad81dc4190c7ee12e106de6ce7";
        let br = env.add_container(&ctr, cid, &bconf);
        let prev = &br.result;
        let pm = |prev: Option<&Value>| pm_conf(v, Some(backend), web(), json!({}), prev);
        let fw = |prev: Option<&Value>| {
            let c = env.fx.conf_of("firewall", v, json!({"backend": ""}));
            prev.map_or_else(|| c.clone(), |p| with_prev(&c, p))
        };
        let out = env
            .call("ADD", &ctr, cid)
            .run(&pm(Some(prev)))
            .expect_success();
        env.fx
            .call_of("firewall", "ADD", &ctr, cid)
            .run(&fw(Some(&out)))
            .expect_success();
        assert!(env.has_rules(cid));
        let filter = || env.fx.filter_rules();
        let ip4 = address_of(prev, true).to_string();
        assert!(filter().contains(&ip4));
        // tuning failed: DEL in reverse order, no prevResult
        env.fx
            .call_of("firewall", "DEL", &ctr, cid)
            .run(&fw(None))
            .expect_success();
        env.call("DEL", &ctr, cid).run(&pm(None)).expect_success();
        br.del();
        assert!(
            !env.has_rules(cid),
            "{backend}:\n{}{}",
            env.nat(),
            env.nft()
        );
        let left = filter();
        assert!(
            !left.contains(&ip4),
            "{backend}: firewall rules left:\n{left}"
        );
    }
}

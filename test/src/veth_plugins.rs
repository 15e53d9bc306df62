//! What the two main plugins with a host veth and masquerade (bridge,
//! ptp) must both do, checked the same way for each: the host end of the
//! veth, traffic masqueraded to an outside network, concurrent ADDs, DEL
//! without a netns, GC of the masquerade state of stale attachments.

use std::collections::HashSet;

use pkg::netlink::Link;
use serde_json::{Value, json};

use crate::{
    Fixture, TestNs, Version, backends, del_all_at_once, outside, sock, sysctl_in, tcp_probe,
};

/// The one veth the plugin made in the fake host: named `veth` and 8 hex
/// digits, accepting no router advertisements, with forwarding on.
pub fn assert_one_host_veth(fx: &Fixture) -> Link {
    let veths = fx.host_veths();
    assert_eq!(veths.len(), 1, "{veths:?}");
    let hv = fx.host_link(&veths[0]).expect("the host veth");
    assert!(
        hv.name.starts_with("veth") && hv.name.len() == 12,
        "{}",
        hv.name
    );
    assert_eq!(
        sysctl_in(
            &fx.host,
            &format!("/proc/sys/net/ipv6/conf/{}/accept_ra", hv.name)
        ),
        "0"
    );
    assert_eq!(sysctl_in(&fx.host, "/proc/sys/net/ipv4/ip_forward"), "1");
    hv
}

/// `n` containers attached at once with iptables masquerade get distinct
/// addresses, a veth each (and a host route each when the plugin makes
/// them), and are all detached at once.
pub fn assert_concurrent_adds_and_dels(fx: &Fixture, n: usize, host_routes: bool) {
    let ctrs: Vec<TestNs> = (0..n).map(|_| TestNs::new("par")).collect();
    let c = fx.conf(
        Version::V1_0_0,
        json!({"ipMasq": true, "ipMasqBackend": "iptables"}),
    );
    let all = fx.add_all_at_once(&ctrs, "par", &c);
    let unique: HashSet<_> = all.iter().map(|a| a.ip(0)).collect();
    assert_eq!(unique.len(), n);
    assert_eq!(fx.host_veths().len(), n);
    if host_routes {
        assert_eq!(fx.host_routes().len(), n, "one host route each");
    }
    del_all_at_once(&all);
    fx.assert_no_leftovers("concurrent");
}

/// For each installed firewall backend, on a fresh fixture from `fx`: an
/// attachment with `conf(fixture, backend)` reaches an outside network
/// (`prefixes`, see [`outside`]) masqueraded, on ports
/// `port` and `port + 1`; `check` looks at its result; and DEL after the
/// netns is gone removes everything (Documentation/conformance.md item 23).
pub fn assert_masquerade_on_both_backends(
    fx: impl Fn() -> Fixture,
    conf: impl Fn(&Fixture, &str) -> Value,
    prefixes: (&str, &str),
    port: u16,
    check: impl Fn(&Fixture, &Value),
) {
    for backend in backends() {
        let fx = fx();
        let out = outside(&fx.host, prefixes.0, prefixes.1);
        let ctr = TestNs::new("ctr");
        let a = fx.add(&ctr, "masq", &conf(&fx, backend));
        check(&fx, &a.result);
        assert_masqueraded(&out, &ctr, prefixes, port, backend);
        drop(ctr);
        a.del();
        fx.assert_no_leftovers(backend);
    }
}

/// `ctr` reaches the [`outside`] namespace `out` on both
/// families (ports `port` and `port + 1`), and `out` sees the fake host's
/// addresses `<v4>.1` and `<v6>::1`: the traffic was masqueraded.
pub fn assert_masqueraded(
    out: &TestNs,
    ctr: &TestNs,
    (v4, v6): (&str, &str),
    port: u16,
    what: &str,
) {
    let target = sock(&format!("{v4}.2"), port);
    let peer = tcp_probe(out, target, ctr, target).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(
        peer.ip().to_string(),
        format!("{v4}.1"),
        "{what}: masqueraded to the host address"
    );
    let target = sock(&format!("{v6}::2"), port + 1);
    let peer = tcp_probe(out, target, ctr, target).unwrap_or_else(|e| panic!("{what} v6: {e}"));
    assert_eq!(
        peer.ip().to_string(),
        format!("{v6}::1"),
        "{what}: IPv6 masqueraded"
    );
}

/// Documentation/conformance.md item 23: DEL with an empty `CNI_NETNS` (the runtime lost it) still
/// releases the address and removes the masquerade rules of an attachment
/// made with `extra` (which asks for iptables masquerade); the veth goes
/// with the namespace.
pub fn assert_del_without_netns_releases_everything(fx: &Fixture, extra: Value) {
    let ctr = TestNs::new("ctr");
    let c = fx.conf(Version::V1_0_0, extra);
    fx.add(&ctr, "nons", &c);
    assert!(fx.nat_rules().contains("CNI-"));
    fx.call("DEL", &ctr, "nons")
        .netns_path("")
        .run(&c)
        .expect_success();
    assert!(!fx.nat_rules().contains("CNI-"), "{}", fx.nat_rules());
    assert!(fx.reservations().is_empty());
    drop(ctr);
    fx.assert_no_leftovers("netns-less DEL");
}

/// Attachments `keep` and `stale` with `conf` (iptables masquerade); a
/// GC whose valid list names only `keep` removes the rules and the address
/// of `stale`; `then` runs next, and DEL of both leaves nothing.
pub fn assert_gc_keeps_only_valid_masquerade(fx: &Fixture, conf: &Value, then: impl Fn()) {
    let (a, b) = (TestNs::new("a"), TestNs::new("b"));
    let keep = fx.add(&a, "keep", conf);
    let stale = fx.add(&b, "stale", conf);
    let mut g = conf.clone();
    g["cni.dev/valid-attachments"] = json!([{"containerID": "keep", "ifname": "eth0"}]);
    fx.network_call("GC").run(&g).expect_success();
    let rules = fx.nat_rules();
    assert!(rules.contains("id: \\\"keep\\\""), "{rules}");
    assert!(!rules.contains("stale"), "{rules}");
    assert_eq!(fx.held().len(), 1, "{:?}", fx.held());
    then();
    keep.del();
    stale.del();
    fx.assert_no_leftovers("gc");
}

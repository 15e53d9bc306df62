//! What the two main plugins with a veth and masquerade (bridge, ptp) must
//! both do, checked the same way for each: traffic masqueraded to an
//! outside network, DEL without a netns, GC of the masquerade state of
//! stale attachments.

use serde_json::{Value, json};

use crate::{Attachment, Fixture, TestNs, Version, sock, tcp_probe};

/// `ctr` reaches the [`outside`](crate::outside) namespace `out` on both
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

/// checklist 23: DEL with an empty `CNI_NETNS` (the runtime lost it) still
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

/// Attachments `keep` (in `a`) and `stale` (in `b`) with `conf` (iptables
/// masquerade); a GC whose valid list names only `keep` removes the rules
/// and the address of `stale`. Returns both attachments.
pub fn assert_gc_keeps_only_valid_masquerade(
    fx: &Fixture,
    conf: &Value,
    a: &TestNs,
    b: &TestNs,
) -> (Attachment, Attachment) {
    let keep = fx.add(a, "keep", conf);
    let stale = fx.add(b, "stale", conf);
    let mut g = conf.clone();
    g["cni.dev/valid-attachments"] = json!([{"containerID": "keep", "ifname": "eth0"}]);
    fx.network_call("GC").run(&g).expect_success();
    let rules = fx.nat_rules();
    assert!(rules.contains("id: \\\"keep\\\""), "{rules}");
    assert!(!rules.contains("stale"), "{rules}");
    assert_eq!(fx.held().len(), 1, "{:?}", fx.held());
    (keep, stale)
}

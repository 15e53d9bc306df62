//! Checks the plugins that make one link in the container share (macvlan,
//! ipvlan and vlan on a master, dummy on nothing): the master a test gives
//! them, "nothing left" after a DEL or a refused ADD, and the refusal of a
//! kernel that lacks the link type.

use pkg::netlink::Link;
use serde_json::{Value, json};

use crate::{Fixture, TestNs, Version, link_in, link_names, missing_kernel_feature};

/// A master for links in `ns`: one end of a veth pair named `name` (its
/// peer `<name>p`), both up so the master has carrier. A veth rather than
/// a dummy: it carries frames to its peer, and the host has no dummy
/// module.
pub fn add_master(ns: &TestNs, name: &str) -> Link {
    let peer = format!("{name}p");
    ns.ip(&["link", "add", name, "type", "veth", "peer", "name", &peer]);
    ns.ip(&["link", "set", name, "up"]);
    ns.ip(&["link", "set", &peer, "up"]);
    link_in(ns, name).expect("the master just made")
}

/// Only `lo` is left in each container, and no reservation in the
/// fixture's store.
pub fn assert_clean(net: &Fixture, what: &str, ctrs: &[&TestNs]) {
    for ctr in ctrs {
        assert_eq!(
            link_names(ctr),
            vec!["lo".to_string()],
            "{what}: links left in {}",
            ctr.name
        );
    }
    let res = net.reservations();
    assert!(res.is_empty(), "{what}: reservations left: {res:?}");
}

/// On a kernel without `feature` (see `pkg::testkit::KERNEL_FEATURES`):
/// ADD of `conf` fails with code 999 and a message containing `msg` (which
/// names what is missing), leaving no link in the container or the fake
/// host and no reservation, and DEL then succeeds. Returns false, doing
/// nothing, on a kernel that has the feature (where the plugin's other
/// tests run instead).
pub fn assert_add_refused_without_kernel_feature(
    net: &Fixture,
    feature: &str,
    conf: &Value,
    msg: &str,
) -> bool {
    let Some(reason) = missing_kernel_feature(feature) else {
        eprintln!("this kernel has {feature}: its refusal cannot be tested here");
        return false;
    };
    eprintln!("{reason}");
    let host_before = link_names(&net.host);
    let ctr = TestNs::new("nokernel");
    let out = net.call("ADD", &ctr, "nokernel").run(conf);
    let (code, got) = out.expect_spec_error();
    assert_eq!(code, 999, "{got}");
    assert!(got.contains(msg), "{got}");
    let details = out.json()["details"].to_string();
    assert!(details.contains("Unknown device type"), "{details}");
    assert_eq!(
        link_names(&net.host),
        host_before,
        "a link left in the host"
    );
    assert_clean(net, "ADD without kernel support", &[&ctr]);
    net.call("DEL", &ctr, "nokernel").run(conf).expect_success();
    assert_clean(net, "DEL after it", &[&ctr]);
    true
}

/// A plugin killed between creating its link under the temporary name
/// (`pkg::attach::temp_name`, used where the host has a link named
/// `CNI_IFNAME` on older kernels) and renaming it left that link in the
/// container: DEL of `conf` removes it. The link here is a veth (any kind
/// will do), so the test runs on any kernel.
pub fn assert_del_removes_a_link_left_under_the_temporary_name(net: &Fixture, conf: &Value) {
    let ctr = TestNs::new("tmpname");
    let tmp = pkg::attach::temp_name("killed", "eth0");
    ctr.ip(&["link", "add", &tmp, "type", "veth", "peer", "name", "tmpp"]);
    net.call("DEL", &ctr, "killed").run(conf).expect_success();
    assert_clean(net, "DEL after a kill before the rename", &[&ctr]);
}

/// The `ipam` key of a fixture over one subnet, with `routes`.
pub fn ipam_with_routes(net: &Fixture, subnet: &str, routes: Value) -> Value {
    let mut ipam = net.host_local(json!([[{ "subnet": subnet }]]));
    ipam["routes"] = routes;
    ipam
}

/// Each ADD of `cases` (keys over the fixture's config in version `v`,
/// `CNI_ARGS`, code, text the message contains) is refused so, leaving no
/// link in the container or the fake host and no reservation.
pub fn assert_each_refused_leaving_nothing<'a>(
    net: &Fixture,
    v: Version,
    cases: impl IntoIterator<Item = (Value, &'a str, u64, &'a str)>,
) {
    let host_before = link_names(&net.host);
    for (extra, cni_args, code, msg) in cases {
        let what = format!("{extra} {cni_args}");
        let ctr = net.assert_add_refused(&net.conf(v, extra), cni_args, code, msg, &what);
        assert_eq!(link_names(&net.host), host_before, "{what}");
        assert_clean(net, &what, &[&ctr]);
    }
}

/// ADD of `conf` under a `CNI_IFNAME` the container already has, and into
/// a netns path that does not exist, is refused: the container keeps its
/// own `eth0`, nothing is reserved and the fake host is unchanged.
pub fn assert_taken_ifname_and_missing_netns_refused(net: &Fixture, conf: &Value) {
    let host_before = link_names(&net.host);
    let ctr = net.assert_add_refused_for_taken_ifname_and_missing_netns(conf);
    assert_eq!(link_names(&ctr), ["eth0", "eth0p", "lo"]);
    assert!(net.held().is_empty());
    assert_eq!(link_names(&net.host), host_before);
}

/// Documentation/conformance.md item 28 for a plugin over host-local:
/// two attachments (`conf` and `second`), a GC that lists only the first
/// keeps its reservation and frees the other's, STATUS of `conf` passes
/// and STATUS of `exhausted` (a range whose one address the kept
/// attachment holds) is code 50. Everything is removed afterwards.
pub fn assert_gc_and_status_delegate_to_ipam(
    net: &Fixture,
    conf: &Value,
    second: &Value,
    exhausted: &Value,
) {
    let (a, b) = (TestNs::new("a"), TestNs::new("b"));
    let keep = net.add(&a, "keep", conf);
    let stale = net.add(&b, "stale", second);
    let mut gc = conf.clone();
    gc["cni.dev/valid-attachments"] = json!([{"containerID": "keep", "ifname": "eth0"}]);
    net.network_call("GC").run(&gc).expect_success();
    assert_eq!(net.held().len(), 1);
    net.network_call("STATUS").run(conf).expect_success();
    assert_eq!(
        net.network_call("STATUS")
            .run(exhausted)
            .expect_spec_error()
            .0,
        50
    );
    keep.del();
    stale.del();
    assert_clean(net, "gc", &[&a, &b]);
}

/// Documentation/conformance.md items 27 and 24, IPAM failing: another
/// container (in the namespace returned, which the caller checks at the
/// end) takes the one address of `holder_conf`'s range, ADD of `conf`
/// into `ctr` over the same range fails with "no IP addresses available",
/// leaving only `lo` and the holder's reservation, and DEL then succeeds.
pub fn assert_add_refused_when_the_range_is_full(
    net: &Fixture,
    ctr: &TestNs,
    holder_conf: &Value,
    conf: &Value,
) -> TestNs {
    let holder_ns = TestNs::new("hold");
    let holder = net.add(&holder_ns, "holder", holder_conf);
    let (_, msg) = net.call("ADD", ctr, "full").run(conf).expect_spec_error();
    assert!(msg.contains("no IP addresses available"), "{msg}");
    assert_eq!(link_names(ctr), ["lo"]);
    assert_eq!(net.held().len(), 1, "the holder's address stays");
    net.call("DEL", ctr, "full").run(conf).expect_success();
    holder.del();
    holder_ns
}

/// ADD of `conf`, whose IPAM result has a route the kernel refuses (a
/// next hop on no subnet of the link), fails and leaves only `lo` in
/// `ctr`.
pub fn assert_add_refused_when_a_route_fails(net: &Fixture, ctr: &TestNs, conf: &Value) {
    let (_, msg) = net.call("ADD", ctr, "route").run(conf).expect_spec_error();
    assert!(msg.contains("failed to add route"), "{msg}");
    assert_eq!(link_names(ctr), ["lo"]);
}

/// ADD with the static IPv6 `address` (and `gateway`), which a link on
/// the other side of the master already holds, fails on duplicate address
/// detection and leaves only `lo` in `ctr`.
pub fn assert_add_refused_for_a_duplicate_address(
    net: &Fixture,
    ctr: &TestNs,
    v: Version,
    address: &str,
    gateway: &str,
) {
    let conf = net.conf(
        v,
        json!({"ipam": {"type": "static",
                        "addresses": [{"address": address, "gateway": gateway}]}}),
    );
    let (_, msg) = net.call("ADD", ctr, "dad").run(&conf).expect_spec_error();
    assert!(msg.contains("DADFAILED"), "{msg}");
    assert_eq!(link_names(ctr), ["lo"]);
}

/// The result of a plugin that made one link, `link` (`eth0` in `ctr`),
/// with one address from a range whose gateway is `gateway`, in `v`'s
/// shape: 0.1.0 and 0.2.0 carry `ip4` and no interfaces; later versions
/// list the link and point the address at it, with the gateway, and mark
/// the address's `version` only before 1.0.0.
pub fn assert_one_link_result(r: &Value, v: Version, link: &Link, ctr: &TestNs, gateway: &str) {
    if matches!(v, Version::V0_1_0 | Version::V0_2_0) {
        assert_eq!(r["ip4"]["gateway"], gateway);
        assert!(r.get("interfaces").is_none());
        return;
    }
    assert_eq!(
        r["interfaces"],
        json!([{"name": "eth0", "mac": link.mac_string(), "sandbox": ctr.path_str()}])
    );
    assert_eq!(r["ips"][0]["interface"], 0);
    assert_eq!(r["ips"][0]["gateway"], gateway);
    assert_eq!(r["ips"][0].get("version").is_some(), v < Version::V1_0_0);
}

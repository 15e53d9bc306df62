//! Checks the plugins that make one link in the container share (macvlan,
//! ipvlan and vlan on a master, dummy on nothing): the master a test gives
//! them, "nothing left" after a DEL or a refused ADD, and the refusal of a
//! kernel that lacks the link type.

use pkg::netlink::Link;
use serde_json::{Value, json};

use crate::{Fixture, TestNs, link_in, link_names, missing_kernel_feature};

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

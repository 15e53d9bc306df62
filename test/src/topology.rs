//! Links between test namespaces as a test sets them up (a veth as a main
//! plugin leaves it, an outside network routed through the fake host), and
//! the links of a namespace read back.

use std::net::SocketAddr;

use pkg::netlink::{Link, LinkId};

use crate::TestNs;

/// The link `name` in `ns`, if there is one.
pub fn link_in(ns: &TestNs, name: &str) -> Option<Link> {
    ns.netlink()
        .link_find(LinkId::Name(name))
        .expect("look up a link")
}

/// Whether the link `name` in `ns` is up (it must exist).
pub fn is_up(ns: &TestNs, name: &str) -> bool {
    link_in(ns, name)
        .unwrap_or_else(|| panic!("no {name} in {}", ns.name))
        .is_up()
}

/// The names of every link in `ns`, sorted.
pub fn link_names(ns: &TestNs) -> Vec<String> {
    let mut names: Vec<String> = ns
        .netlink()
        .link_list()
        .expect("list links")
        .into_iter()
        .map(|l| l.name)
        .collect();
    names.sort();
    names
}

/// The names of the veths in `ns`.
pub fn veths_in(ns: &TestNs) -> Vec<String> {
    ns.netlink()
        .link_list()
        .expect("list links")
        .into_iter()
        .filter(|l| l.kind.as_deref() == Some("veth"))
        .map(|l| l.name)
        .collect()
}

/// A veth from `host` (`host_end`) into `ctr` (`ifname`), both ends up: what
/// a main plugin leaves for a chained one.
pub fn veth_into(host: &TestNs, host_end: &str, ctr: &TestNs, ifname: &str) {
    host.ip(&[
        "link", "add", host_end, "type", "veth", "peer", "name", ifname, "netns", &ctr.name,
    ]);
    host.ip(&["link", "set", host_end, "up"]);
    ctr.ip(&["link", "set", ifname, "up"]);
}

/// A namespace outside the fake host, joined to it by a veth (in the
/// host `vout<n>`, `n` the last number of `v4`; `eth0` outside):
/// `<v4>.1/24` and `<v6>::1/64` on the host's end, `.2` and `::2` on the
/// outside end, whose default routes go through the host.
pub fn outside(host: &TestNs, v4: &str, v6: &str) -> TestNs {
    let out = TestNs::new("out");
    let n = v4.rsplit('.').next().unwrap_or_default();
    host.veth_to(
        &format!("vout{n}"),
        &[&format!("{v4}.1/24"), &format!("{v6}::1/64")],
        &out,
        "eth0",
        &[&format!("{v4}.2/24"), &format!("{v6}::2/64")],
    );
    out.ip(&["route", "add", "default", "via", &format!("{v4}.1")]);
    out.ip(&["-6", "route", "add", "default", "via", &format!("{v6}::1")]);
    out
}

/// `ip:port` as a socket address.
pub fn sock(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(
        ip.parse()
            .unwrap_or_else(|e| panic!("{ip:?} is not an address: {e}")),
        port,
    )
}

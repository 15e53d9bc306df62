//! The order of IPAM DEL and the removal of the container's link. An IPAM
//! plugin other than host-local and static may need the link for its DEL
//! (dhcp sends its DHCPRELEASE from it): the main plugins finish its DEL
//! before the link goes. host-local and static never need it, so their
//! DEL runs while the kernel deletes the link.
//!
//! Each case wraps the real host-local in a script that, on DEL, waits a
//! moment and then records whether `CNI_IFNAME` is still in the
//! container: named `needs-link` it must find the link; named
//! `host-local` it must not (the link went while it waited).

use std::path::{Path, PathBuf};

use integration::*;
use serde_json::{Value, json};

/// A wrapper of the real host-local named `name` in `dir`/bin, logging
/// `present` or `gone` to `dir`/log on each DEL after `delay` seconds.
fn wrapper(dir: &Path, name: &str, delay: &str) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("log");
    write_executable(
        &bin.join(name),
        &format!(
            "#!/bin/sh\n\
             if [ \"$CNI_COMMAND\" = DEL ]; then\n\
               sleep {delay}\n\
               if nsenter --net=\"$CNI_NETNS\" ip link show dev \"$CNI_IFNAME\" >/dev/null 2>&1; \
             then echo present; else echo gone; fi >> {log}\n\
             fi\n\
             exec {real}\n",
            log = log.display(),
            real = plugin_path("host-local").display()
        ),
    );
    bin
}

fn logged(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("log")).unwrap_or_default()
}

/// ADD then DEL of `conf` (the fixture's plugin) with its IPAM run through
/// a wrapper named `ipam_type`; what the wrapper saw at DEL.
fn seen_at_del(net: &Fixture, mut conf: Value, ipam_type: &str, delay: &str) -> String {
    let dir = tempdir();
    let bin = wrapper(dir.path(), ipam_type, delay);
    conf["ipam"]["type"] = json!(ipam_type);
    let path = format!("{}:{}", bin.display(), bin_dir().display());
    let ctr = TestNs::new("ord");
    let mut add = net.call("ADD", &ctr, "ord");
    add.path = path.clone();
    add.run(&conf).expect_success();
    let mut del = net.call("DEL", &ctr, "ord");
    del.path = path;
    del.run(&conf).expect_success();
    assert_eq!(link_names(&ctr), ["lo"], "{} left a link", conf["type"]);
    assert!(net.held().is_empty(), "{} left a reservation", conf["type"]);
    logged(dir.path()).trim().to_string()
}

/// Both orders for the fixture's plugin with `keys`.
fn assert_both_orders(net: &Fixture, keys: Value) {
    let conf = net.conf(Version::V1_0_0, keys);
    assert_eq!(
        seen_at_del(net, conf.clone(), "needs-link", "0"),
        "present",
        "{}: an IPAM plugin that may need the link ran after it went",
        conf["type"]
    );
    assert_eq!(
        seen_at_del(net, conf.clone(), "host-local", "1"),
        "gone",
        "{}: host-local's DEL no longer overlaps with the link's removal",
        conf["type"]
    );
}

fn ipam(net: &Fixture, subnet: &str) -> Value {
    json!({"ipam": net.host_local(json!([[{"subnet": subnet}]]))})
}

#[test]
fn bridge() {
    require_root!();
    let net = Fixture::new("bridge", "ordbr");
    let mut keys = ipam(&net, "10.121.0.0/24");
    keys["bridge"] = json!("ordbr0");
    assert_both_orders(&net, keys);
}

#[test]
fn ptp() {
    require_root!();
    let net = Fixture::new("ptp", "ordptp");
    let keys = ipam(&net, "10.122.0.0/24");
    assert_both_orders(&net, keys);
}

#[test]
fn macvlan() {
    require_root!();
    let net = Fixture::new("macvlan", "ordmv");
    add_master(&net.host, "ordm0");
    let mut keys = ipam(&net, "10.123.0.0/24");
    keys["master"] = json!("ordm0");
    assert_both_orders(&net, keys);
}

#[test]
fn tap() {
    require_root!();
    let net = Fixture::new("tap", "ordtap");
    let keys = ipam(&net, "10.124.0.0/24");
    assert_both_orders(&net, keys);
}

#[test]
fn host_device() {
    require_root!();
    let net = Fixture::new("host-device", "ordhd");
    add_master(&net.host, "ordd0");
    let mut keys = ipam(&net, "10.125.0.0/24");
    keys["device"] = json!("ordd0");
    keys["dataDir"] = json!(net.dir.path().join("records"));
    assert_both_orders(&net, keys);
}

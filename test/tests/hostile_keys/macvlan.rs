//! macvlan's keys (Documentation/macvlan.md).

use super::*;

/// Every row of the table.
pub fn rows() -> Vec<Row> {
    let mut rows = common_rows(false);
    rows.extend(ifname_rows("master", "master"));
    rows.push(row(
        "master",
        json!("nosuch0"),
        7,
        &["failed to lookup master \"nosuch0\""],
    ));
    rows.extend(strings("mode"));
    for v in ["l2", "source", "BRIDGE", "bridge\n", "vepa\u{0}"] {
        rows.push(row("mode", json!(v), 7, &["unknown macvlan mode"]).named());
    }
    rows.extend(ints("mtu"));
    for (v, msg) in [
        (-1, "invalid MTU -1, must be [0, master MTU(1500)]"),
        (1501, "invalid MTU 1501, must be [0, master MTU(1500)]"),
        (67, "invalid MTU 67, must be 0 or at least 68"),
        (4_294_967_296_i64, "invalid MTU 4294967296"),
    ] {
        rows.push(row("mtu", json!(v), 7, &[msg]));
    }
    rows.extend(mac_rows("mac"));
    rows.extend(mac_rows("args.cni.mac"));
    rows.extend(mac_rows("runtimeConfig.mac"));
    rows.extend([
        env("MAC=zz", 7, &["invalid MAC address \"zz\""]),
        env("MAC=00:00:00:00:00:00", 7, &["invalid MAC address"]),
        env("FOO=1", 4, &["ARGS: unknown args"]),
    ]);
    rows.extend(bools("linkInContainer"));
    rows.extend(ints("bcqueuelen"));
    for v in [-1, 4_294_967_296_i64] {
        rows.push(row(
            "bcqueuelen",
            json!(v),
            7,
            &[&format!("invalid bcqueuelen {v}")],
        ));
    }
    rows.extend(dns_rows("dns"));
    rows.extend(objects("ipam"));
    rows
}

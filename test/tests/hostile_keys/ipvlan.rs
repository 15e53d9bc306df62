//! ipvlan's keys (Documentation/ipvlan.md). Every row is refused before
//! the ipvlan is made, so the table needs no ipvlan support.

use super::*;

/// Every row of the table.
pub fn rows() -> Vec<Row> {
    // ipvlan reads prevResult on ADD: the chained master and addresses
    let mut rows = common_rows(true);
    rows.extend(ifname_rows("master", "master"));
    rows.extend([
        row(
            "master",
            json!("nosuch0"),
            7,
            &["failed to lookup master \"nosuch0\""],
        ),
        // the fake host has no default route to take the master from
        row(
            "master",
            json!(""),
            7,
            &["no default route interface found"],
        ),
        row(
            "prevResult",
            json!({"cniVersion": "1.0.0", "interfaces": [{"name": "a"}, {"name": "b"}]}),
            7,
            &["chained master failure"],
        )
        .with("master", json!(null)),
        row(
            "prevResult",
            json!({"cniVersion": "1.0.0", "interfaces": [{"name": "a/b"}]}),
            7,
            &["invalid master name \"a/b\" in prevResult"],
        )
        .with("master", json!(null)),
    ]);
    rows.extend(strings("mode"));
    for v in ["bridge", "L2", "l2\n", "l3\u{0}"] {
        rows.push(row("mode", json!(v), 7, &["unknown ipvlan mode"]).named());
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
    rows.extend(bools("linkInContainer"));
    rows.push(row(
        "linkInContainer",
        json!(true),
        7,
        &["failed to lookup master \"hmst0\": no such interface in the container netns"],
    ));
    rows.extend(dns_rows("dns"));
    rows.extend(objects("ipam"));
    let ipam = "ipvlan interface requires an IPAM configuration";
    rows.extend([
        row("ipam", json!(null), 7, &[ipam]),
        row("ipam.type", json!(""), 7, &[ipam]),
        row("ipam.type", json!("/bin/sh"), 7, &["invalid plugin name"]),
    ]);
    rows
}

//! vlan's keys (Documentation/vlan.md). Every row is refused before the
//! VLAN link is made, so the table needs no 802.1Q support.

use super::*;

/// Every row of the table.
pub fn rows() -> Vec<Row> {
    let mut rows = common_rows(false);
    rows.extend(ifname_rows("master", "master"));
    let required = "\"master\" field is required";
    rows.extend([
        row("master", json!(null), 7, &[required]),
        row("master", json!(""), 7, &[required]),
        row(
            "master",
            json!("nosuch0"),
            7,
            &["failed to lookup master \"nosuch0\""],
        ),
    ]);
    rows.extend(ints("vlanId"));
    for v in [-1, 4095, 5000, 65536, 4_294_967_296_i64] {
        rows.push(row(
            "vlanId",
            json!(v),
            7,
            &[&format!(
                "invalid VLAN ID {v} (must be between 0 and 4094 inclusive)"
            )],
        ));
    }
    rows.extend(ints("mtu"));
    for (v, msg) in [
        (-1, "invalid MTU -1, must be [0, master MTU(1500)]"),
        (1501, "invalid MTU 1501, must be [0, master MTU(1500)]"),
        (4_294_967_296_i64, "invalid MTU 4294967296"),
    ] {
        rows.push(row("mtu", json!(v), 7, &[msg]));
    }
    rows.extend(bools("linkInContainer"));
    // the master is looked up in the container, which has no hmst0
    rows.push(row(
        "linkInContainer",
        json!(true),
        7,
        &["failed to lookup master \"hmst0\": no such interface in the container netns"],
    ));
    rows.extend(dns_rows("dns"));
    rows.extend(objects("ipam"));
    let ipam = "vlan interface requires an IPAM configuration";
    rows.extend([
        row("ipam", json!(null), 7, &[ipam]),
        row("ipam.type", json!(""), 7, &[ipam]),
        row("ipam.type", json!("/bin/sh"), 7, &["invalid plugin name"]),
    ]);
    rows
}

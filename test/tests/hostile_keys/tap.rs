//! tap's keys (Documentation/tap.md).

use super::*;

/// Every row of the table.
pub fn rows() -> Vec<Row> {
    let mut rows = common_rows(false);
    rows.extend(mac_rows("mac"));
    rows.extend(mac_rows("runtimeConfig.mac"));
    rows.extend([
        env("MAC=zz", 7, &["invalid MAC address \"zz\""]),
        env("MAC=00:00:00:00:00:00", 7, &["invalid MAC address"]),
        env("FOO=1", 4, &["ARGS: unknown args"]),
    ]);
    rows.extend(ints("mtu"));
    for v in [-1, 1, 67, 65522, 4_294_967_296_i64] {
        rows.push(row(
            "mtu",
            json!(v),
            7,
            &[&format!(
                "invalid MTU {v}, must be 0 or between 68 and 65521"
            )],
        ));
    }
    rows.extend(bools("multiQueue"));
    for (key, what) in [("owner", "user"), ("group", "group")] {
        for v in [
            json!("1000"),
            json!("nobody"),
            json!(-1),
            json!(4_294_967_295_u64),
            json!(1.5),
            json!(true),
            json!([1]),
            json!({}),
        ] {
            rows.push(row(
                key,
                v.clone(),
                7,
                &[
                    &format!("invalid {key} {v}"),
                    &format!("must be a numeric {what} ID"),
                ],
            ));
        }
    }
    rows.extend(strings("selinuxContext"));
    for v in CONTROLS {
        rows.push(row("selinuxContext", json!(v), 7, &["invalid selinuxContext"]).named());
    }
    rows.extend(ifname_rows("bridge", "bridge"));
    rows.push(row(
        "bridge",
        json!("nosuchbr0"),
        999,
        &["failed to get bridge nosuchbr0: no such interface in the container"],
    ));
    rows.push(row(
        "bridge",
        json!("eth0"),
        999,
        &["failed to get bridge eth0: it is a veth, not a bridge"],
    ));
    rows.extend(dns_rows("dns"));
    rows.extend(objects("ipam"));
    rows
}

//! ptp's keys (Documentation/ptp.md).

use super::*;

/// Every row of the table.
pub fn rows() -> Vec<Row> {
    let mut rows = common_rows(false);
    rows.extend(bools("ipMasq"));
    rows.extend(strings("ipMasqBackend"));
    for v in ["pf", "iptables\n"] {
        rows.push(
            row("ipMasqBackend", json!(v), 7, &["unknown ipmasq backend"])
                .named()
                .with("ipMasq", json!(true)),
        );
    }
    rows.extend(ints("mtu"));
    for v in [-1, 67, 65536, 4_294_967_296_i64] {
        rows.push(row(
            "mtu",
            json!(v),
            7,
            &[&format!("invalid mtu {v}"), "a veth takes 68 to 65535"],
        ));
    }
    rows.extend(dns_rows("dns"));
    rows.extend(objects("ipam"));
    rows.extend([
        row("ipam", json!(null), 7, &["IPAM config missing 'ipam' key"]),
        row(
            "ipam.type",
            json!(""),
            7,
            &["IPAM config missing 'type' key"],
        ),
        row("ipam.type", json!("/bin/sh"), 7, &["invalid plugin name"]),
    ]);
    rows
}

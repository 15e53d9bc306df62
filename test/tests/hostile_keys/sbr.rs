//! sbr's keys (Documentation/sbr.md).

use super::*;

/// Every row of the table.
pub fn rows() -> Vec<Row> {
    let mut rows = common_rows(true);
    rows.push(row(
        "prevResult",
        Value::Null,
        7,
        &["this plugin must be called as chained plugin"],
    ));
    rows.push(row(
        "prevResult",
        json!({"cniVersion": "1.0.0", "interfaces": [{"name": "net5"}],
               "ips": [{"address": "10.99.0.5/24", "interface": 0}]}),
        7,
        &["no IP addresses supplied on interface: eth0"],
    ));
    rows.extend(ints("table"));
    for v in [-1, 0, 4_294_967_296_i64] {
        rows.push(row(
            "table",
            json!(v),
            7,
            &[&format!(
                "invalid table {v}: must be between 1 and 4294967295"
            )],
        ));
    }
    rows.extend(lists("gateways"));
    rows.push(row("gateways", json!([5]), 6, &[PARSE]));
    for v in ["x", "10.99.0.1/24", "10.99.0.1\n", "10.99.0.1\u{0}", ""] {
        rows.push(row(
            "gateways",
            json!([v]),
            7,
            &[&format!("invalid static gateway IP address: {v:?}")],
        ));
    }
    rows.extend([
        row(
            "gateways",
            json!(["10.99.0.1", "fd00::1", "10.99.0.2"]),
            7,
            &["gateways list cannot contain more than 2 entries (one IPv4, one IPv6)"],
        ),
        row(
            "gateways",
            json!(["10.99.0.1", "10.99.0.2"]),
            7,
            &["gateways list contains multiple IPv4 addresses: 10.99.0.1 and 10.99.0.2"],
        ),
        row(
            "gateways",
            json!(["fd00::1", "fd00::2"]),
            7,
            &["gateways list contains multiple IPv6 addresses: fd00::1 and fd00::2"],
        ),
    ]);
    rows.extend(bools("addSourceHints"));
    rows
}

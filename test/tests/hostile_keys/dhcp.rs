//! dhcp's keys (Documentation/dhcp.md). Every row is refused by the plugin
//! before it dials the daemon (none runs in the lab).

use super::*;

/// Every row of the table.
pub fn rows() -> Vec<Row> {
    let mut rows = common_rows(false);
    rows.extend(objects("ipam"));
    rows.extend(strings("ipam.daemonSocketPath"));
    rows.extend(lists("ipam.request"));
    rows.extend(lists("ipam.provide"));
    rows.extend(ints("ipam.priority"));
    let unknown = "can not parse option";
    for (v, code, msg) in [
        (json!([5]), 6, PARSE),
        (json!([{"option": 5}]), 6, PARSE),
        (json!([{"skipDefault": "yes"}]), 6, PARSE),
        (json!([{"option": "no-such-option"}]), 7, unknown),
        (json!([{"option": "256"}]), 7, unknown),
        (json!([{"option": "-1"}]), 7, unknown),
        (json!([{"option": "routers\n"}]), 7, unknown),
        (json!([{"option": "1\u{0}"}]), 7, unknown),
    ] {
        rows.push(row("ipam.request", v, code, &[msg]));
    }
    let long = "x".repeat(256);
    for (v, code, msg) in [
        (json!([5]), 6, PARSE),
        (json!([{"option": "host-name", "value": 5}]), 6, PARSE),
        (json!([{"option": "host-name", "fromArg": ["K"]}]), 6, PARSE),
        (json!([{"option": "x", "value": "v"}]), 7, unknown),
        (json!([{"value": "v"}]), 7, unknown),
        (
            json!([{"option": "host-name", "value": long}]),
            7,
            "value too long for option \"host-name\"",
        ),
    ] {
        rows.push(row("ipam.provide", v, code, &[msg]));
    }
    for v in [json!(-1), json!(4_294_967_296u64)] {
        rows.push(row("ipam.priority", v, 7, &["invalid ipam.priority"]));
    }
    rows.push(
        env(
            &format!("IgnoreUnknown=1;K8S_POD_NAME={long}"),
            7,
            &["from CNI_ARGS \"K8S_POD_NAME\""],
        )
        .with(
            "ipam.provide",
            json!([{"option": "host-name", "fromArg": "K8S_POD_NAME"}]),
        ),
    );
    rows
}

//! static's keys (Documentation/static.md).

use super::*;

/// Every row of the table.
pub fn rows() -> Vec<Row> {
    let mut rows = common_rows(false);
    rows.extend(lists("ipam.addresses"));
    let cidr = "the 'address' field is expected to be in CIDR notation";
    for (v, code, msg) in [
        (json!([5]), 6, PARSE),
        (json!([{"address": 5}]), 6, PARSE),
        (json!([{}]), 7, cidr),
        (json!([{"address": "10.99.1.5"}]), 7, cidr),
        (json!([{"address": "10.99.1.5/33"}]), 7, cidr),
        (json!([{"address": "10.99.1.5/24\n"}]), 7, cidr),
        (json!([{"address": " 10.99.1.5/24"}]), 7, cidr),
        (json!([{"address": "10.99.1.5/24\u{0}"}]), 7, cidr),
        (
            json!([{"address": "10.99.1.5/24", "gateway": "x"}]),
            7,
            "invalid gateway address \"x\"",
        ),
        (
            json!([{"address": "10.99.1.5/24", "gateway": "10.99.1.1\n"}]),
            7,
            "invalid gateway address",
        ),
    ] {
        rows.push(row("ipam.addresses", v, code, &[msg]));
    }
    rows.extend(route_rows("ipam.routes"));
    rows.extend(dns_rows("ipam.dns"));
    for key in ["args.cni.ips", "runtimeConfig.ips"] {
        rows.extend(lists(key));
        for v in ["x", "10.99.1.5", "10.99.1.5/24\n", "10.99.1.5/24\u{0}"] {
            rows.push(row(
                key,
                json!([v]),
                7,
                &["an entry in the 'ips' field is NOT in CIDR notation"],
            ));
        }
    }
    rows.extend([
        env("IP=x", 4, &["invalid CIDR \"x\" in CNI_ARGS IP"]),
        env("IP=10.99.1.5", 4, &["in CNI_ARGS IP"]),
        env("IP=10.99.1.5/24\u{1b}", 4, &["in CNI_ARGS IP"]),
        env(
            "IP=10.99.1.9/24;GATEWAY=x",
            4,
            &["invalid gateway address \"x\""],
        ),
        env("FOO=1", 4, &["ARGS: unknown args"]),
    ]);
    rows.extend(objects("ipam"));
    rows
}

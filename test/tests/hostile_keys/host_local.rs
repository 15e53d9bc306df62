//! host-local's keys (Documentation/host-local.md).

use super::*;

/// Rows for the `ranges` of host-local, under `key` (`ipam.ranges` or
/// `runtimeConfig.ipRanges`).
fn range_rows(key: &'static str) -> Vec<Row> {
    let mut rows = lists(key);
    let range = |extra: Value| {
        let mut r = json!({"subnet": "10.99.0.0/24"});
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            r[k] = v;
        }
        json!([[r]])
    };
    for (v, code, msg) in [
        (json!([5]), 6, PARSE),
        (json!([[5]]), 6, PARSE),
        (json!([[{"subnet": 5}]]), 6, PARSE),
        (
            json!([[{"subnet": "10.99.0.0/33"}]]),
            7,
            "invalid subnet \"10.99.0.0/33\"",
        ),
        (json!([[{"subnet": "10.99.0.0/24\n"}]]), 7, "invalid subnet"),
        (
            json!([[{"subnet": "10.99.0.0/24\u{0}"}]]),
            7,
            "invalid subnet",
        ),
        (
            json!([[{"subnet": "10.99.0.1/24"}]]),
            7,
            "has host bits set",
        ),
        (
            json!([[{"subnet": "10.99.0.0/31"}]]),
            7,
            "too small to allocate from",
        ),
        (
            range(json!({"rangeStart": "10.98.0.5"})),
            7,
            "rangeStart 10.98.0.5 not in network",
        ),
        (
            range(json!({"rangeEnd": "10.99.1.5"})),
            7,
            "rangeEnd 10.99.1.5 not in network",
        ),
        (
            range(json!({"rangeStart": "10.99.0.50", "rangeEnd": "10.99.0.10"})),
            7,
            "is before rangeStart",
        ),
        (
            range(json!({"rangeStart": "010.99.0.5"})),
            7,
            "invalid rangeStart",
        ),
        (range(json!({"rangeEnd": "x"})), 7, "invalid rangeEnd \"x\""),
        (
            range(json!({"gateway": "10.99.0.1\u{1b}"})),
            7,
            "invalid gateway",
        ),
        (range(json!({"gateway": 5})), 6, PARSE),
        (
            json!([[{"subnet": "10.99.0.0/24"}, {"subnet": "fd00::/64"}]]),
            7,
            "mixed address families",
        ),
    ] {
        rows.push(row(key, v, code, &[msg]));
    }
    rows
}

/// Every row of the table.
pub fn rows() -> Vec<Row> {
    let mut rows = common_rows(false);
    rows.extend(range_rows("ipam.ranges"));
    rows.push(row(
        "ipam.ranges",
        json!([]),
        7,
        &["no IP ranges specified"],
    ));
    rows.push(row(
        "ipam.ranges",
        json!([[{"subnet": "10.99.0.0/24"}], [{"subnet": "10.99.0.0/25"}]]),
        7,
        &["range set 0 overlaps with 1"],
    ));
    rows.extend(range_rows("runtimeConfig.ipRanges"));
    // the old single-range form, read only when `subnet` is set
    let old = |key: &'static str, v: Value, code: u64, msg: &str| {
        row(key, v, code, &[msg])
            .with("ipam.ranges", json!(null))
            .with("ipam.subnet", json!("10.99.0.0/24"))
    };
    for key in [
        "ipam.subnet",
        "ipam.rangeStart",
        "ipam.rangeEnd",
        "ipam.gateway",
    ] {
        rows.push(old(key, json!(5), 6, PARSE));
        rows.push(old(key, json!("x\ny"), 7, "\"x\\ny\""));
    }
    rows.push(old(
        "ipam.subnet",
        json!("10.99.0.0/33"),
        7,
        "invalid subnet",
    ));
    rows.extend(route_rows("ipam.routes"));
    rows.extend(strings("ipam.dataDir"));
    let long_name = format!("/tmp/{}", "x".repeat(256));
    let long_path = "/x".repeat(2048);
    for (v, why) in [
        ("relative", "it must be an absolute path"),
        ("/tmp/../etc", "it must be an absolute path"),
        ("/tmp/a\nb", "it contains control characters"),
        ("/tmp/a\u{0}b", "it contains control characters"),
        (long_name.as_str(), "a component is 256 bytes long"),
        (long_path.as_str(), "it is 4096 bytes long"),
    ] {
        rows.push(row(
            "ipam.dataDir",
            json!(v),
            7,
            &["invalid ipam.dataDir", why],
        ));
    }
    rows.extend(strings("ipam.resolvConf"));
    for v in [
        "/nonexistent/resolv.conf",
        "/dev/zero",
        "/etc/resolv.conf\u{0}",
    ] {
        rows.push(row(
            "ipam.resolvConf",
            json!(v),
            5,
            &["failed to read resolvConf"],
        ));
    }
    for key in ["args.cni.ips", "runtimeConfig.ips"] {
        rows.extend(lists(key));
        rows.push(row(key, json!([5]), 6, &[PARSE]));
        for v in ["x", "10.99.0.7\u{0}", "10.99.0.7/33", "10.99.0.7 10.99.0.8"] {
            rows.push(row(key, json!([v]), 7, &["cannot understand ip"]));
        }
    }
    rows.extend([
        env("IP=x", 4, &["ARGS: error parsing value of pair \"IP=x\""]),
        env("IP=10.99.0.7,10.99.0.8", 4, &["ARGS: error parsing value"]),
        env("IP=10.99.0.7\u{1b}", 4, &["ARGS: error parsing value"]),
        env("FOO=1", 4, &["ARGS: unknown args"]),
    ]);
    rows.extend(objects("ipam"));
    rows
}

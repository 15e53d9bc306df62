//! bandwidth's keys (Documentation/bandwidth.md).

use super::*;

/// Every row of the table.
pub fn rows() -> Vec<Row> {
    let mut rows = common_rows(true);
    for key in ["ingressRate", "ingressBurst", "egressRate", "egressBurst"] {
        for v in [json!("1"), json!(1.5), json!(true), json!(-1), json!(1e30)] {
            rows.push(row(
                key,
                v,
                7,
                &[&format!("{key} must be a non-negative integer")],
            ));
        }
    }
    for key in ["ingressBurst", "egressBurst"] {
        rows.push(row(
            key,
            json!(34_359_738_368_i64),
            7,
            &[&format!("{key} 34359738368 is too large")],
        ));
    }
    rows.push(row(
        "ingressRate",
        json!(0),
        7,
        &["if ingressBurst is set, ingressRate must also be set"],
    ));
    rows.push(row(
        "egressBurst",
        json!(0),
        7,
        &["if egressRate is set, egressBurst must also be set"],
    ));
    // the capability, read when none of the four is at the top level
    let capability = |v: Value, msg: &str| {
        let mut r = row("runtimeConfig.bandwidth", v, 7, &[msg]);
        for key in ["ingressRate", "ingressBurst", "egressRate", "egressBurst"] {
            r = r.with(key, json!(null));
        }
        r
    };
    rows.extend(objects("runtimeConfig.bandwidth").into_iter().map(|mut r| {
        for key in ["ingressRate", "ingressBurst", "egressRate", "egressBurst"] {
            r = r.with(key, json!(null));
        }
        r
    }));
    for (v, msg) in [
        (
            json!({"ingressRate": -1, "ingressBurst": 1}),
            "runtimeConfig.bandwidth.ingressRate must be a non-negative integer",
        ),
        (
            json!({"egressRate": "1", "egressBurst": 1}),
            "runtimeConfig.bandwidth.egressRate must be a non-negative integer",
        ),
        (
            json!({"ingressRate": 1000, "ingressBurst": 34_359_738_368_i64}),
            "runtimeConfig.bandwidth.ingressBurst 34359738368 is too large",
        ),
        (
            json!({"egressRate": 1000}),
            "if runtimeConfig.bandwidth.egressRate is set, runtimeConfig.bandwidth.egressBurst must also be set",
        ),
    ] {
        rows.push(capability(v, msg));
    }
    rows.extend(objects("runtimeConfig"));
    rows
}

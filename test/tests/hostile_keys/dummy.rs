//! dummy's keys (Documentation/dummy.md): `ipam` only. Every row is
//! refused before the dummy is made, so the table needs no dummy support.

use super::*;

/// Every row of the table.
pub fn rows() -> Vec<Row> {
    let mut rows = common_rows(false);
    rows.extend(objects("ipam"));
    let required = "dummy interface requires an IPAM configuration";
    rows.extend([
        row("ipam", json!(null), 7, &[required]),
        row("ipam", json!({}), 7, &[required]),
        row("ipam.type", json!(""), 7, &[required]),
        row("ipam.type", json!(5), 6, &[PARSE]),
        row("ipam.type", json!("/bin/sh"), 7, &["invalid plugin name"]),
        row(
            "ipam.type",
            json!("no-such-ipam"),
            7,
            &["failed to find plugin \"no-such-ipam\""],
        ),
    ]);
    rows
}

//! vrf's keys (Documentation/vrf.md). Every row is refused before the VRF
//! is looked up, so the table needs no VRF support.

use super::*;

/// Every row of the table.
pub fn rows() -> Vec<Row> {
    let mut rows = common_rows(true);
    rows.push(row(
        "prevResult",
        json!(null),
        7,
        &["missing prevResult from earlier plugin"],
    ));
    rows.extend(strings("vrfname"));
    let required = "configuration is expected to have a valid vrf name";
    rows.extend([
        row("vrfname", json!(null), 7, &[required]),
        row("vrfname", json!(""), 7, &[required]),
    ]);
    for (v, why) in [
        ("much-too-long-name", "interface name is too long"),
        ("ééééééééé", "interface name is too long"),
        (
            "a/b",
            "interface name contains / or : or whitespace characters",
        ),
        (
            "a b",
            "interface name contains / or : or whitespace characters",
        ),
        ("..", "interface name is . or .."),
        (
            "a\nb",
            "interface name contains / or : or whitespace characters",
        ),
        ("a\u{0}b", "interface name contains control characters"),
        ("\u{1b}[0m", "interface name contains control characters"),
    ] {
        rows.push(row("vrfname", json!(v), 7, &["invalid vrfname", why]).named());
    }
    rows.extend(ints("table"));
    for v in [-1, 4_294_967_296_i64] {
        rows.push(row(
            "table",
            json!(v),
            7,
            &[&format!(
                "invalid table {v} (must be between 0 and 4294967295; 0 picks a free one)"
            )],
        ));
    }
    for v in [253, 254, 255] {
        rows.push(row(
            "table",
            json!(v),
            7,
            &[&format!(
                "invalid table {v}: tables 253, 254 and 255 are the kernel's default, main and local tables"
            )],
        ));
    }
    rows
}

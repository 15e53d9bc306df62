//! firewall's keys (Documentation/firewall.md).

use super::*;

/// Every row of the table.
pub fn rows() -> Vec<Row> {
    let mut rows = common_rows(true);
    rows.extend(strings("backend"));
    for v in ["nft", "iptables\n", "firewalld\u{0}"] {
        rows.push(row("backend", json!(v), 7, &["unknown backend"]).named());
    }
    rows.extend(strings("iptablesAdminChainName"));
    let long = "X".repeat(29);
    for v in ["-X", "a b", "\"X\"", "é", long.as_str()]
        .into_iter()
        .chain(CONTROLS)
    {
        rows.push(
            row(
                "iptablesAdminChainName",
                json!(v),
                7,
                &["iptablesAdminChainName: invalid iptables chain name"],
            )
            .named(),
        );
    }
    for v in ["FORWARD", "CNI-FORWARD"] {
        rows.push(row(
            "iptablesAdminChainName",
            json!(v),
            7,
            &["is a chain the firewall plugin already uses"],
        ));
    }
    rows.extend(strings("firewalldZone"));
    rows.push(row(
        "firewalldZone",
        json!("public"),
        7,
        &["iptables backend was requested but configuration contains firewalld-specific options"],
    ));
    for v in ["a b"].into_iter().chain(CONTROLS) {
        rows.push(
            row("firewalldZone", json!(v), 7, &["invalid firewalldZone"])
                .named()
                .with("backend", json!("")),
        );
    }
    rows.extend(strings("ingressPolicy"));
    for v in ["closed", "open\n", "isolated\u{0}"] {
        rows.push(row("ingressPolicy", json!(v), 7, &["unknown ingress policy"]).named());
    }
    rows
}

//! portmap's keys (Documentation/portmap.md).

use super::*;

/// Every row of the table.
pub fn rows() -> Vec<Row> {
    let mut rows = common_rows(true);
    rows.extend(strings("backend"));
    for v in ["pf", "iptables\n", "nftables\u{0}"] {
        rows.push(row("backend", json!(v), 7, &["unknown backend"]).named());
    }
    rows.extend(bools("snat"));
    rows.extend(bools("masqAll"));
    rows.extend(ints("markMasqBit"));
    for v in [-1, 32, 4_294_967_296_i64] {
        rows.push(row(
            "markMasqBit",
            json!(v),
            7,
            &[&format!("invalid markMasqBit {v}")],
        ));
    }
    rows.push(
        row(
            "markMasqBit",
            json!(14),
            7,
            &["cannot specify externalSetMarkChain and markMasqBit"],
        )
        .with("externalSetMarkChain", json!("KUBE-MARK-MASQ")),
    );
    rows.extend(strings("externalSetMarkChain"));
    let long = "X".repeat(29);
    for v in ["", "-X", "!X", "a b", "\"X\"", "é", long.as_str()]
        .into_iter()
        .chain(CONTROLS)
    {
        rows.push(
            row(
                "externalSetMarkChain",
                json!(v),
                7,
                &["externalSetMarkChain: invalid iptables chain name"],
            )
            .named(),
        );
    }
    for key in ["conditionsV4", "conditionsV6"] {
        rows.extend(lists(key));
        rows.push(row(key, json!([5]), 6, &[PARSE]));
        for v in ["1.2.3.4\n-A FORWARD -j ACCEPT", "a\rb", "a\u{0}b"] {
            rows.push(row(key, json!(["-s", v]), 7, &[key]));
        }
    }
    rows.extend(objects("runtimeConfig"));
    rows.extend(lists("runtimeConfig.portMappings"));
    let mapping = |extra: Value| {
        let mut m = json!({"hostPort": 8080, "containerPort": 80, "protocol": "tcp"});
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            m[k] = v;
        }
        json!([m])
    };
    for (v, code, msg) in [
        (json!([5]), 6, PARSE),
        (mapping(json!({"hostPort": "8080"})), 6, PARSE),
        (mapping(json!({"containerPort": 80.5})), 6, PARSE),
        (mapping(json!({"protocol": 6})), 6, PARSE),
        (mapping(json!({"hostIP": 5})), 6, PARSE),
        (
            mapping(json!({"hostPort": 0})),
            7,
            "invalid host port number 0",
        ),
        (
            mapping(json!({"hostPort": 65536})),
            7,
            "invalid host port number 65536",
        ),
        (
            mapping(json!({"hostPort": -1})),
            7,
            "invalid host port number -1",
        ),
        (
            mapping(json!({"containerPort": 0})),
            7,
            "invalid container port number 0",
        ),
        (
            mapping(json!({"containerPort": 4_294_967_297_i64})),
            7,
            "invalid container port number 4294967297",
        ),
        (
            mapping(json!({"protocol": "icmp"})),
            7,
            "unknown protocol \"icmp\"",
        ),
        (
            mapping(json!({"protocol": "tcp\n"})),
            7,
            "unknown protocol \"tcp\\n\"",
        ),
        (
            mapping(json!({"protocol": "udp\u{0}"})),
            7,
            "unknown protocol",
        ),
        (mapping(json!({"hostIP": "x"})), 7, "invalid hostIP \"x\""),
        (
            mapping(json!({"hostIP": "10.0.0.1\n"})),
            7,
            "invalid hostIP",
        ),
        (
            mapping(json!({"hostIP": "10.0.0.1/24"})),
            7,
            "invalid hostIP",
        ),
    ] {
        rows.push(row("runtimeConfig.portMappings", v, code, &[msg]));
    }
    rows
}

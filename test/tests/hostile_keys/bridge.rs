//! bridge's keys (Documentation/bridge.md).

use super::*;

/// Every row of the table.
pub fn rows() -> Vec<Row> {
    let mut rows = common_rows(false);
    rows.extend(ifname_rows("bridge", "bridge"));
    for key in [
        "isGateway",
        "isDefaultGateway",
        "forceAddress",
        "ipMasq",
        "hairpinMode",
        "promiscMode",
        "portIsolation",
        "preserveDefaultVlan",
        "macspoofchk",
        "enabledad",
        "disableContainerInterface",
    ] {
        rows.extend(bools(key));
    }
    rows.push(
        row(
            "promiscMode",
            json!(true),
            7,
            &["cannot set hairpin mode and promiscuous mode at the same time"],
        )
        .with("hairpinMode", json!(true)),
    );
    rows.push(row(
        "disableContainerInterface",
        json!(true),
        7,
        &["cannot use IPAM when disableContainerInterface flag is set"],
    ));
    rows.extend(strings("ipMasqBackend"));
    for v in ["pf", "iptables\n", "nftables\u{0}"] {
        rows.push(
            row("ipMasqBackend", json!(v), 7, &["unknown ipmasq backend"])
                .named()
                .with("ipMasq", json!(true)),
        );
    }
    rows.extend(ints("mtu"));
    for v in [-1, 67, 65536, 4_294_967_296_i64] {
        rows.push(row("mtu", json!(v), 7, &[&format!("invalid mtu {v}")]));
    }
    rows.extend(ints("vlan"));
    for v in [-1, 4095, 65536] {
        rows.push(row("vlan", json!(v), 7, &[&format!("invalid VLAN ID {v}")]));
    }
    rows.extend(lists("vlanTrunk"));
    for (v, msg) in [
        (json!([5]), PARSE),
        (json!([{"id": "5"}]), PARSE),
        (json!([{"id": 0}]), "incorrect trunk id parameter"),
        (json!([{"id": 4095}]), "incorrect trunk id parameter"),
        (
            json!([{"minID": 0, "maxID": 3}]),
            "incorrect trunk minID parameter",
        ),
        (
            json!([{"minID": 1, "maxID": 4095}]),
            "incorrect trunk maxID parameter",
        ),
        (
            json!([{"minID": 5, "maxID": 3}]),
            "minID is greater than maxID in trunk parameter",
        ),
        (json!([{"minID": 5}]), "maxID is missing"),
        (json!([{"maxID": 5}]), "minID is missing"),
    ] {
        let code = if msg == PARSE { 6 } else { 7 };
        rows.push(row("vlanTrunk", v, code, &[msg]));
    }
    rows.extend(mac_rows("args.cni.mac"));
    rows.extend(mac_rows("runtimeConfig.mac"));
    rows.extend(objects("args"));
    rows.extend(objects("runtimeConfig"));
    rows.extend([
        env("MAC=zz", 7, &["invalid MAC address \"zz\""]),
        env("MAC=01:00:5e:00:00:01", 7, &["invalid MAC address"]),
        env("FOO=1", 4, &["ARGS: unknown args"]),
        env("MAC", 4, &["ARGS: invalid pair"]),
    ]);
    rows.extend(dns_rows("dns"));
    rows.extend(objects("ipam"));
    rows.extend(strings("ipam.type"));
    rows.push(row("ipam.type", json!("../x"), 7, &["invalid plugin name"]));
    rows
}

//! tuning's keys (Documentation/tuning.md).

use super::*;

/// Every row of the table.
pub fn rows() -> Vec<Row> {
    let mut rows = common_rows(true);
    rows.extend(objects("sysctl"));
    rows.extend(objects("args.cni.sysctl"));
    let page = "1".repeat(4096);
    for key in ["sysctl", "args.cni.sysctl"] {
        for (k, v, msg) in [
            (
                "net.core.somaxconn",
                json!(5),
                "the value must be a string, got 5",
            ),
            (
                "net.core.somaxconn",
                json!("1\nwhatever"),
                "a newline ends what the kernel reads",
            ),
            (
                "net.core.somaxconn",
                json!("1\u{0}"),
                "a NUL ends what the kernel reads",
            ),
            (
                "net.core.somaxconn",
                json!("1\r"),
                "control characters other than tab",
            ),
            (
                "net.core.somaxconn",
                json!(""),
                "an empty write leaves the sysctl as it is",
            ),
            (
                "net.core.somaxconn",
                json!(page),
                "the kernel reads at most",
            ),
            (
                "net.core.somaxconn",
                json!("17 18"),
                "holds 1 number: the kernel would ignore the rest",
            ),
            (
                "net.core.somaxconn",
                json!("010"),
                "would not read \"010\" as written",
            ),
            (
                "net.core.somaxconn",
                json!("0x10"),
                "would not read \"0x10\" as written",
            ),
            ("net.ipv4.tcp_rmem", json!("4096"), "holds 3 numbers"),
            (
                "net.ipv4.conf.IFNAME.arp_notify",
                json!("1 2"),
                "holds 1 number",
            ),
            (
                "kernel.panic",
                json!("1"),
                "invalid sysctl key \"kernel.panic\"",
            ),
            (
                "net.core.no_such_knob",
                json!("1"),
                "there is no sysctl /proc/sys/net/core/no_such_knob",
            ),
            ("net.ipv4.conf", json!("1"), "is a directory of sysctls"),
            (
                "net.ipv4.tcp_available_congestion_control",
                json!("reno"),
                "is read-only",
            ),
        ] {
            rows.push(row(key, json!({ k: v }), 7, &[msg]).with("sysctl", json!({})));
        }
    }
    for key in ["mac", "args.cni.mac", "runtimeConfig.mac"] {
        rows.extend(strings(key));
        for (v, msg) in [
            ("zz", "invalid MAC address \"zz\""),
            ("0e:00:00:00:00:01\n", "invalid MAC address"),
            ("0e:00:00:00:00:0\u{0}", "invalid MAC address"),
            // Go's 8- and 20-octet forms parse, but eth0 holds 6 octets
            (
                "0e:00:00:00:00:00:00:01",
                "it has 8 octets, and the addresses of eth0 have 6",
            ),
            (
                "0e:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:01",
                "it has 20 octets, and the addresses of eth0 have 6",
            ),
            (
                "01:00:5e:00:00:01",
                "a multicast address cannot be an interface's address",
            ),
            (
                "00:00:00:00:00:00",
                "the all-zero address cannot be an interface's address",
            ),
        ] {
            rows.push(row(key, json!(v), 7, &[msg]));
        }
    }
    rows.extend([
        env("MAC=zz", 7, &["invalid MAC address \"zz\""]),
        env("MAC=0e:00:00:00:00:00:00:01", 7, &["it has 8 octets"]),
        env("FOO=1", 4, &["ARGS: unknown args"]),
    ]);
    for key in [
        "promisc",
        "allmulti",
        "args.cni.promisc",
        "args.cni.allmulti",
    ] {
        rows.extend(bools(key));
    }
    for key in ["mtu", "args.cni.mtu"] {
        rows.extend(ints(key));
        for (v, msg) in [
            (-1, "mtu must be between 1 and 4294967295"),
            (4_294_967_296_i64, "mtu must be between 1 and 4294967295"),
            (67, "eth0 takes 68 to 65535"),
            (65536, "eth0 takes 68 to 65535"),
        ] {
            rows.push(row(key, json!(v), 7, &[&format!("invalid mtu {v}"), msg]));
        }
    }
    for key in ["txQLen", "args.cni.txQLen"] {
        rows.extend(ints(key));
        for v in [-1, 4_294_967_296_i64] {
            rows.push(row(
                key,
                json!(v),
                7,
                &[&format!("invalid txQLen {v}"), "between 0 and 4294967295"],
            ));
        }
    }
    rows.extend(strings("dataDir"));
    for (v, why) in [
        ("relative", "it must be an absolute path"),
        ("/run/cni/../tuning", "it must be an absolute path"),
        ("/tmp/a\nb", "it contains control characters"),
    ] {
        rows.push(row("dataDir", json!(v), 7, &["invalid dataDir", why]));
    }
    rows.extend(objects("args"));
    rows.extend(objects("args.cni"));
    rows.extend(objects("runtimeConfig"));
    rows
}

//! host-device's keys (Documentation/host-device.md): one selector among
//! `device`, `hwaddr`, `kernelpath`, `pciBusID` and
//! `runtimeConfig.deviceID`, then `dataDir`, `dns` and `ipam`. The Lab's
//! configuration selects `device`; a row on another selector removes it.

use super::*;

/// Every row of the table.
pub fn rows() -> Vec<Row> {
    let mut rows = common_rows(false);
    rows.extend(ifname_rows("device", "device"));
    let one_of = "specify either \"device\", \"hwaddr\", \"kernelpath\" or \"pciBusID\"";
    rows.extend([
        row("device", json!(""), 7, &[one_of]),
        row("device", json!(null), 7, &[one_of]),
        row(
            "device",
            json!("nosuch0"),
            999,
            &["failed to find host device: no interface named nosuch0 on the host"],
        ),
        row(
            "device",
            json!("lo"),
            7,
            &["host device lo is the loopback interface"],
        ),
        row(
            "hwaddr",
            json!("02:00:00:00:00:01"),
            7,
            &["more than one device selector given: device, hwaddr"],
        ),
        row(
            "runtimeConfig.deviceID",
            json!("0000:00:03.0"),
            7,
            &["more than one device selector given: device, runtimeConfig.deviceID"],
        ),
    ]);
    let alone = |r: Row| r.with("device", json!(null));
    rows.extend(mac_rows("hwaddr").into_iter().map(alone));
    rows.extend(strings("kernelpath").into_iter().map(alone));
    for v in [
        "devices/pci0000:00",
        "/sys/class/net/eth0",
        "/sys/devices/../../etc",
        "/sys/devices/a\nb",
    ] {
        rows.push(alone(row(
            "kernelpath",
            json!(v),
            7,
            &["must be absolute and begin with /sys/devices/"],
        )));
    }
    for key in ["pciBusID", "runtimeConfig.deviceID"] {
        rows.extend(strings(key).into_iter().map(alone));
        for v in ["../../etc", "a/b", "..", "0000:00:03.0\n", "\u{1b}[0m"] {
            rows.push(alone(
                row(key, json!(v), 7, &[&format!("invalid {key}")]).named(),
            ));
        }
    }
    rows.extend(objects("runtimeConfig"));
    rows.extend(strings("dataDir"));
    for (v, why) in [
        ("relative", "it must be an absolute path"),
        ("/run/cni/../hd", "it must be an absolute path"),
        ("/tmp/a\nb", "it contains control characters"),
    ] {
        rows.push(row("dataDir", json!(v), 7, &["invalid dataDir", why]));
    }
    rows.extend(dns_rows("dns"));
    rows.extend(objects("ipam"));
    rows
}

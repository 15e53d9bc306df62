//! Malformed values for every configuration key of every plugin, one table
//! per plugin. A row sets one key of the plugin's valid configuration
//! (`Lab::conf`, test/src/hostile.rs) to a value its JSON type admits but
//! the plugin must refuse: another JSON type, a number out of range, a
//! control character, a string longer than the kernel keeps. Each row is an
//! ADD executed as a runtime would (bounded: `hostile::run_bounded`) that
//! must end in the row's spec error, naming the key or the value; after
//! the whole table the fake host, the container and the state directories
//! must be exactly as before (`Lab::snapshot`).
//!
//! The codes, as everywhere in the suite (Documentation/conventions.md):
//! - 6, `failed to parse network config`: a JSON type the key cannot hold,
//!   and a number that does not fit a route's u32 fields (they are decoded
//!   as the kernel holds them);
//! - 7: a value of the right type that is out of range, or that the kernel
//!   would not take as given (bandwidth's four numbers and tuning's sysctl
//!   values are 7 for a wrong type too: they name the key);
//! - 4: `CNI_ARGS` that does not parse; 1: a `cniVersion` the plugin does
//!   not speak.
//!
//! A plugin that accepts a row's value has a bug: fix the plugin, never
//! drop the row.
//!
//! Adding a plugin, in the commit that adds it:
//! 1. give it a valid configuration in `Lab::conf` (test/src/hostile.rs)
//!    and its name in `hostile::PLUGINS`;
//! 2. write its table in `hostile_keys/<plugin>.rs`: `pub fn rows()`,
//!    starting from `common_rows(..)`, then one group of rows per key of
//!    the plugin's Documentation page. The wrong JSON types come from
//!    `bools`, `ints`, `strings`, `lists` and `objects`; interface names,
//!    MACs, DNS and routes have their groups here (`ifname_rows`,
//!    `mac_rows`, `dns_rows`, `route_rows`); out-of-range and
//!    control-character values are written out with the error text they
//!    must give;
//! 3. declare the module, add it to `TABLES` and add
//!    `#[test] fn <plugin>_keys()` calling `table_of`, after
//!    `require_kernel!` when a row needs a kernel feature (the table then
//!    runs in the VM stage of test_linux.sh). The rows of ipvlan, vlan,
//!    dummy and vrf are all refused before the link or VRF is made, so
//!    their tables run on any kernel.

use integration::hostile::*;
use integration::*;
use serde_json::{Value, json};

mod bandwidth;
mod bridge;
mod dhcp;
mod dummy;
mod firewall;
mod host_device;
mod host_local;
mod ipvlan;
mod loopback;
mod macvlan;
mod portmap;
mod ptp;
mod sbr;
mod static_ipam;
mod tap;
mod tuning;
mod vlan;
mod vrf;

/// One malformed input and the spec error it must give.
struct Row {
    /// Members set before `key` (`null` removes one), for a key that is
    /// read only with them (`ipMasqBackend` needs `ipMasq`).
    with: Vec<(&'static str, Value)>,
    /// A dotted path into the configuration (array indexes as numbers:
    /// `ipam.ranges.0.0.subnet`), or `CNI_ARGS` for the environment.
    key: &'static str,
    value: Value,
    code: u64,
    /// Texts the error's `msg` and `details` must contain.
    needles: Vec<String>,
}

impl Row {
    fn with(mut self, key: &'static str, value: Value) -> Row {
        self.with.push((key, value));
        self
    }

    /// The value as the plugin's message prints it (Rust's `{:?}`), as a
    /// needle too.
    fn named(mut self) -> Row {
        if let Value::String(s) = &self.value {
            self.needles.push(format!("{s:?}"));
        }
        self
    }
}

fn row(key: &'static str, value: Value, code: u64, needles: &[&str]) -> Row {
    Row {
        with: Vec::new(),
        key,
        value,
        code,
        needles: needles.iter().map(|n| n.to_string()).collect(),
    }
}

/// `CNI_ARGS` set to `args`.
fn env(args: &str, code: u64, needles: &[&str]) -> Row {
    row("CNI_ARGS", json!(args), code, needles)
}

const PARSE: &str = "failed to parse network config";

fn wrong_types(key: &'static str, values: [Value; 3]) -> Vec<Row> {
    values
        .into_iter()
        .map(|v| row(key, v, 6, &[PARSE]))
        .collect()
}

fn bools(key: &'static str) -> Vec<Row> {
    wrong_types(key, [json!("true"), json!(1), json!({})])
}

fn ints(key: &'static str) -> Vec<Row> {
    wrong_types(key, [json!("1"), json!(1.5), json!(true)])
}

fn strings(key: &'static str) -> Vec<Row> {
    wrong_types(key, [json!(5), json!(true), json!(["x"])])
}

fn lists(key: &'static str) -> Vec<Row> {
    wrong_types(key, [json!("x"), json!(5), json!({})])
}

fn objects(key: &'static str) -> Vec<Row> {
    wrong_types(key, [json!("x"), json!(5), json!([])])
}

/// Control characters in a string: a newline, a NUL (where the kernel
/// would end the string) and a terminal escape.
const CONTROLS: [&str; 3] = ["a\nb", "a\u{0}b", "\u{1b}[0m"];

/// Keys every plugin reads through skel, and `prevResult` for the
/// plugins that read it on ADD.
fn common_rows(chained: bool) -> Vec<Row> {
    let mut rows = vec![
        row("cniVersion", json!(5), 6, &["cniVersion must be a string"]),
        row(
            "cniVersion",
            json!("9.9.9"),
            1,
            &["incompatible CNI versions"],
        ),
        row("cniVersion", json!("1.0.0\n"), 1, &["\"1.0.0\\n\""]),
        row("name", json!(5), 6, &["name must be a string"]),
        row(
            "name",
            json!("a\nb"),
            7,
            &["invalid characters found in network name"],
        ),
    ];
    rows.extend(strings("type"));
    if chained {
        rows.extend([
            row("prevResult", json!(5), 6, &["failed to parse prevResult"]),
            row(
                "prevResult",
                json!({"cniVersion": "1.0.0", "interfaces": 5}),
                6,
                &["failed to parse prevResult"],
            ),
            row(
                "prevResult",
                json!({"cniVersion": "1.0.0", "ips": [{"address": "10.99.0.5"}]}),
                6,
                &["failed to parse prevResult"],
            ),
        ]);
    }
    rows
}

/// An interface name a config gives (`bridge`, `master`): the kernel keeps
/// at most 15 bytes and would end it at a NUL.
fn ifname_rows(key: &'static str, what: &str) -> Vec<Row> {
    let mut rows = strings(key);
    let prefix = format!("invalid {what} name");
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
        rows.push(row(key, json!(v), 7, &[&prefix, why]).named());
    }
    rows
}

/// A MAC address from any of its sources.
fn mac_rows(key: &'static str) -> Vec<Row> {
    let mut rows = strings(key);
    for v in [
        "zz",
        "0e:00:00:00:00",
        "0e:00:00:00:00:01:02",
        "0e:00:00:00:00:01\n",
        "0e:00:00:00:00:0\u{0}",
        "01:00:5e:00:00:01",
        "00:00:00:00:00:00",
    ] {
        rows.push(row(key, json!(v), 7, &["invalid MAC address"]).named());
    }
    rows
}

fn dns_rows(key: &'static str) -> Vec<Row> {
    let mut rows = objects(key);
    let values = [
        json!({"nameservers": "10.0.0.53"}),
        json!({"nameservers": [5]}),
        json!({"domain": ["x"]}),
        json!({"search": "x"}),
        json!({"options": {}}),
    ];
    rows.extend(values.into_iter().map(|v| row(key, v, 6, &[PARSE])));
    for (field, value) in [
        ("nameservers", json!(["10.0.0.53\nnameserver 10.6.6.6"])),
        ("nameservers", json!(["10.0.0.53 10.6.6.6"])),
        ("domain", json!("example.org\n")),
        ("domain", json!("a\u{0}b")),
        ("search", json!(["a.org", "\u{1b}[0m"])),
        ("options", json!(["ndots:5\r"])),
    ] {
        rows.push(row(
            key,
            json!({ field: value }),
            7,
            &["invalid", field, "no whitespace or control characters"],
        ));
    }
    rows
}

/// Run every row as an ADD of `plugin` in a fresh `Lab`; nothing may
/// change.
fn table(plugin: &str, rows: Vec<Row>) {
    let lab = Lab::new();
    let before = lab.snapshot();
    for r in &rows {
        let mut conf = lab.conf(plugin);
        for (k, v) in &r.with {
            set(&mut conf, k, v.clone());
        }
        let mut call = lab.call(plugin, "ADD");
        if r.key == "CNI_ARGS" {
            call = call.cni_args(r.value.as_str().unwrap_or_default());
        } else {
            set(&mut conf, r.key, r.value.clone());
        }
        let out = run_bounded(&call, conf.to_string().as_bytes(), &[]);
        let needles: Vec<&str> = r.needles.iter().map(String::as_str).collect();
        let what = format!("{plugin} {} = {} (with {:?})", r.key, r.value, r.with);
        assert_spec_error(&out, r.code, &needles, &what);
    }
    before.assert_same(
        &lab.snapshot(),
        &format!("after {} malformed {plugin} values", rows.len()),
    );
    eprintln!("{plugin}: {} malformed values refused", rows.len());
}

/// Set the member at a dotted `path`, creating objects on the way; `null`
/// removes it.
fn set(conf: &mut Value, path: &str, value: Value) {
    let (parents, last) = match path.rsplit_once('.') {
        Some((p, l)) => (p.split('.').collect::<Vec<_>>(), l),
        None => (Vec::new(), path),
    };
    let mut at = conf;
    for p in parents {
        at = match p.parse::<usize>() {
            Ok(i) if at.is_array() => &mut at[i],
            _ => {
                if at.get(p).is_none() {
                    at[p] = json!({});
                }
                &mut at[p]
            }
        };
    }
    match (last.parse::<usize>(), value) {
        (Ok(i), v) if at.is_array() => at[i] = v,
        (_, Value::Null) => {
            if let Some(o) = at.as_object_mut() {
                o.remove(last);
            }
        }
        (_, v) => at[last] = v,
    }
}

/// A route list (`ipam.routes`): the numbers are the kernel's u32s and
/// its one-byte scope.
fn route_rows(key: &'static str) -> Vec<Row> {
    let mut rows = lists(key);
    let route = |extra: Value| {
        let mut r = json!({"dst": "10.50.0.0/16"});
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            r[k] = v;
        }
        json!([r])
    };
    for (v, code, msg) in [
        (json!([5]), 6, PARSE),
        (json!([{}]), 6, "missing field `dst`"),
        (route(json!({"dst": "10.50.0.0/33"})), 6, PARSE),
        (route(json!({"dst": "10.50.0.0/16\n"})), 6, PARSE),
        (route(json!({"gw": "x"})), 6, "invalid IP address \"x\""),
        (route(json!({"gw": "10.99.0.1\u{0}"})), 6, PARSE),
        (route(json!({"mtu": -1})), 6, "expected u32"),
        (
            route(json!({"advmss": 4_294_967_296_i64})),
            6,
            "expected u32",
        ),
        (route(json!({"priority": "1"})), 6, PARSE),
        (route(json!({"table": 1.5})), 6, PARSE),
        (route(json!({"scope": 256})), 7, "has an invalid scope 256"),
        (route(json!({"scope": -1})), 6, "expected u32"),
    ] {
        rows.push(row(key, v, code, &[msg]));
    }
    rows
}

/// A plugin's rows.
type Table = fn() -> Vec<Row>;

/// Every plugin's table; `hostile::PLUGINS` must all be here.
const TABLES: [(&str, Table); 18] = [
    ("bridge", bridge::rows),
    ("ptp", ptp::rows),
    ("macvlan", macvlan::rows),
    ("ipvlan", ipvlan::rows),
    ("vlan", vlan::rows),
    ("dummy", dummy::rows),
    ("loopback", loopback::rows),
    ("host-local", host_local::rows),
    ("static", static_ipam::rows),
    ("dhcp", dhcp::rows),
    ("portmap", portmap::rows),
    ("firewall", firewall::rows),
    ("bandwidth", bandwidth::rows),
    ("tuning", tuning::rows),
    ("vrf", vrf::rows),
    ("tap", tap::rows),
    ("sbr", sbr::rows),
    ("host-device", host_device::rows),
];

fn table_of(plugin: &str) {
    let (_, rows) = TABLES
        .iter()
        .find(|(p, _)| *p == plugin)
        .unwrap_or_else(|| panic!("no table for {plugin}"));
    table(plugin, rows());
}

#[test]
fn every_plugin_has_a_table() {
    for p in PLUGINS {
        assert!(
            TABLES.iter().any(|(t, _)| *t == p),
            "no table of malformed values for {p}"
        );
    }
}

#[test]
fn bridge_keys() {
    require_root!();
    table_of("bridge");
}

#[test]
fn ptp_keys() {
    require_root!();
    table_of("ptp");
}

#[test]
fn macvlan_keys() {
    require_root!();
    table_of("macvlan");
}

#[test]
fn tap_keys() {
    require_root!();
    table_of("tap");
}

#[test]
fn sbr_keys() {
    require_root!();
    table_of("sbr");
}

#[test]
fn host_device_keys() {
    require_root!();
    table_of("host-device");
}

#[test]
fn loopback_keys() {
    require_root!();
    table_of("loopback");
}

#[test]
fn dhcp_keys() {
    require_root!();
    table_of("dhcp");
}

#[test]
fn host_local_keys() {
    require_root!();
    table_of("host-local");
}

#[test]
fn static_keys() {
    require_root!();
    table_of("static");
}

#[test]
fn portmap_keys() {
    require_root!();
    table_of("portmap");
}

#[test]
fn firewall_keys() {
    require_root!();
    table_of("firewall");
}

#[test]
fn bandwidth_keys() {
    require_root!();
    table_of("bandwidth");
}

#[test]
fn tuning_keys() {
    require_root!();
    table_of("tuning");
}

#[test]
fn ipvlan_keys() {
    require_root!();
    table_of("ipvlan");
}

#[test]
fn vlan_keys() {
    require_root!();
    table_of("vlan");
}

#[test]
fn dummy_keys() {
    require_root!();
    table_of("dummy");
}

#[test]
fn vrf_keys() {
    require_root!();
    table_of("vrf");
}

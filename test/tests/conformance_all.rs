//! The skeleton's contract, checked on every plugin binary the suite
//! ships (conformance.rs goes deeper on the plugins that need no config
//! beyond their own): VERSION, no command, unknown command, bad container
//! ID, bad interface name, garbage and oversized-nesting stdin, and a
//! config version the plugin does not support. Each refusal is spec error
//! JSON with the expected code and changes nothing in the fake host.

use integration::*;
use serde_json::{Value, json};

const PLUGINS: [&str; 19] = [
    "bridge",
    "ptp",
    "macvlan",
    "ipvlan",
    "vlan",
    "dummy",
    "tap",
    "host-device",
    "loopback",
    "host-local",
    "static",
    "dhcp",
    "portmap",
    "firewall",
    "tuning",
    "bandwidth",
    "vrf",
    "sbr",
    "sample",
];
const ALL_VERSIONS: [&str; 7] = [
    "0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0",
];

fn version_of(plugin: &str) -> Vec<String> {
    let out = Call::new(plugin_path(plugin), "VERSION").run_raw(b"");
    let j = out.expect_success();
    assert_eq!(j["cniVersion"], "1.1.0", "{plugin}: {j}");
    j["supportedVersions"]
        .as_array()
        .unwrap_or_else(|| panic!("{plugin}: no supportedVersions: {j}"))
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect()
}

/// A config every plugin accepts far enough to reach the checks under
/// test (they all happen before any plugin-specific work).
fn conf(plugin: &str, version: &str) -> Value {
    json!({"cniVersion": version, "name": "allnet", "type": plugin,
        "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.79.0.0/24"}]]}})
}

/// The fake host's links, addresses and routes, to prove nothing changed.
fn host_state(host: &TestNs) -> String {
    let mut s = host.ip(&["-o", "link"]);
    s += &host.ip(&["-o", "addr"]);
    s += &host.ip(&["-o", "route"]);
    s
}

#[test]
fn every_plugin_answers_version() {
    for plugin in PLUGINS {
        let versions = version_of(plugin);
        assert!(!versions.is_empty(), "{plugin}");
        // known versions only, in spec order, no duplicates
        let mut last = None;
        for v in &versions {
            let pos = ALL_VERSIONS
                .iter()
                .position(|k| k == v)
                .unwrap_or_else(|| panic!("{plugin}: unknown version {v}"));
            assert!(last < Some(pos), "{plugin}: {versions:?} out of order");
            last = Some(pos);
        }
        assert!(
            versions.iter().any(|v| v == "1.0.0"),
            "{plugin}: podman 4 and containerd write 1.0.0 configs"
        );
    }
}

#[test]
fn every_plugin_refuses_bad_calls_with_spec_errors() {
    require_root!();
    for plugin in PLUGINS {
        let fx = Fixture::new(plugin, "allnet");
        let ctr = TestNs::new("ctr");
        let before = host_state(&fx.host);
        let call = |cmd: &str| fx.call(cmd, &ctr, "allc");
        let good = conf(plugin, "1.0.0");
        let cases: Vec<(String, Call, Vec<u8>, u64)> = vec![
            ("no command".into(), call(""), good.to_string().into(), 4),
            (
                "unknown command".into(),
                call("ADDX"),
                good.to_string().into(),
                4,
            ),
            (
                "bad container id".into(),
                call("ADD").cid("../../etc"),
                good.to_string().into(),
                4,
            ),
            (
                "16-byte ifname".into(),
                call("ADD").ifname("abcdefghijklmnop"),
                good.to_string().into(),
                4,
            ),
            (
                "ifname with /".into(),
                call("ADD").ifname("a/b"),
                good.to_string().into(),
                4,
            ),
            (
                "garbage stdin".into(),
                call("ADD"),
                b"{not json".to_vec(),
                6,
            ),
            ("empty stdin".into(), call("ADD"), Vec::new(), 6),
            (
                "deep nesting".into(),
                call("ADD"),
                "[".repeat(100_000).into_bytes(),
                6,
            ),
            (
                "unsupported version".into(),
                call("ADD"),
                conf(plugin, "9.9.9").to_string().into(),
                1,
            ),
        ];
        for (what, c, stdin, want) in cases {
            let out = c.run_raw(&stdin);
            let what = format!("{plugin}: {what}");
            assert_ne!(out.code, 0, "{what}: {out:?}");
            let j: Value = serde_json::from_str(&out.stdout)
                .unwrap_or_else(|e| panic!("{what}: stdout is not spec JSON ({e}): {out:?}"));
            assert_eq!(j["code"], want, "{what}: {j}");
            assert!(
                j["msg"].as_str().is_some_and(|m| !m.is_empty()),
                "{what}: {j}"
            );
            assert!(!out.stderr.contains("panicked"), "{what}: {}", out.stderr);
        }
        assert_eq!(
            host_state(&fx.host),
            before,
            "{plugin}: a refused call changed the host"
        );
    }
}

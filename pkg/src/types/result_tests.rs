//! Conversion tests for `types::result`: every version pair, the spec's
//! worked examples and results recorded from the Go plugins.

use serde_json::{Value, json};

use super::result::CniResult;
use super::version::{Family, Version};

fn full_v110() -> Value {
    json!({
        "cniVersion": "1.1.0",
        "interfaces": [
            {"name": "cni-br0", "mac": "0e:00:00:00:00:01", "mtu": 1500},
            {"name": "veth1a2b3c4d", "mac": "0e:00:00:00:00:02", "mtu": 1500},
            {"name": "eth0", "mac": "0e:00:00:00:00:07", "mtu": 1500, "sandbox": "/run/netns/c1"},
            {"name": "vhu0", "socketPath": "/var/run/vhost/vhu0.sock", "pciID": "0000:3b:00.2"}
        ],
        "ips": [{"interface": 2, "address": "172.30.0.7/24", "gateway": "172.30.0.1"}],
        "routes": [
            {"dst": "0.0.0.0/0", "gw": "172.30.0.1", "priority": 100},
            {"dst": "10.99.0.0/16", "gw": "172.30.0.254", "mtu": 1400, "advmss": 1360, "table": 100, "scope": 0}
        ],
        "dns": {"nameservers": ["172.30.0.1"], "domain": "lab.internal", "options": ["ndots:2"]}
    })
}

fn dual_stack_v040() -> Value {
    json!({
        "cniVersion": "0.4.0",
        "interfaces": [
            {"name": "cni-br0", "mac": "0e:00:00:00:00:01"},
            {"name": "veth1a2b3c4d", "mac": "0e:00:00:00:00:02"},
            {"name": "eth0", "mac": "0e:00:00:00:00:07", "sandbox": "/run/netns/c1"}
        ],
        "ips": [
            {"version": "4", "interface": 2, "address": "172.30.0.7/24", "gateway": "172.30.0.1"},
            {"version": "6", "interface": 2, "address": "fd00:30::7/64", "gateway": "fd00:30::1"}
        ],
        "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}],
        "dns": {}
    })
}

fn parse(v: &Value) -> CniResult {
    CniResult::from_value(v, "").unwrap()
}

#[test]
fn round_trip_in_own_version() {
    // A result re-emitted in its own version is unchanged.
    let cases = [
        full_v110(),
        dual_stack_v040(),
        json!({"cniVersion": "0.2.0",
               "ip4": {"ip": "172.30.0.7/24", "gateway": "172.30.0.1",
                       "routes": [{"dst": "0.0.0.0/0"}, {"dst": "192.168.50.0/24", "gw": "172.30.0.254"}]},
               "ip6": {"ip": "fd00:30::7/64", "gateway": "fd00:30::1"},
               "dns": {"nameservers": ["172.30.0.1"], "search": ["lab.internal"]}}),
        json!({"cniVersion": "1.0.0",
               "interfaces": [{"name": "eth0", "mac": "0e:00:00:00:00:07", "sandbox": "/run/netns/c1"}],
               "ips": [{"interface": 0, "address": "172.30.0.7/24", "gateway": "172.30.0.1"}],
               "routes": [{"dst": "0.0.0.0/0", "gw": "172.30.0.1"}],
               "dns": {"nameservers": ["172.30.0.1"]}}),
    ];
    for v in cases {
        let r = parse(&v);
        let version = Version::from_exact(v["cniVersion"].as_str().unwrap()).unwrap();
        assert_eq!(r.to_value(version).unwrap(), v);
    }
}

// Documentation/conformance.md item 66: 1.1.0 → 0.4.0 adds version and drops interface extras
#[test]
fn conformance_66_down_to_040() {
    let got = parse(&full_v110()).to_value(Version::V0_4_0).unwrap();
    let want = json!({
        "cniVersion": "0.4.0",
        "interfaces": [
            {"name": "cni-br0", "mac": "0e:00:00:00:00:01"},
            {"name": "veth1a2b3c4d", "mac": "0e:00:00:00:00:02"},
            {"name": "eth0", "mac": "0e:00:00:00:00:07", "sandbox": "/run/netns/c1"},
            {"name": "vhu0"}
        ],
        "ips": [{"version": "4", "interface": 2, "address": "172.30.0.7/24", "gateway": "172.30.0.1"}],
        "routes": [
            {"dst": "0.0.0.0/0", "gw": "172.30.0.1", "priority": 100},
            {"dst": "10.99.0.0/16", "gw": "172.30.0.254", "mtu": 1400, "advmss": 1360, "table": 100, "scope": 0}
        ],
        "dns": {"nameservers": ["172.30.0.1"], "domain": "lab.internal", "options": ["ndots:2"]}
    });
    assert_eq!(got, want);
}

// Documentation/conformance.md item 66: the worked example of Documentation/spec-notes.md §3.6 (1.1.0 → 0.2.0)
#[test]
fn conformance_66_down_to_020() {
    let got = parse(&full_v110()).to_value(Version::V0_2_0).unwrap();
    let want = json!({
        "cniVersion": "0.2.0",
        "ip4": {"ip": "172.30.0.7/24", "gateway": "172.30.0.1",
                "routes": [{"dst": "0.0.0.0/0", "gw": "172.30.0.1"},
                           {"dst": "10.99.0.0/16", "gw": "172.30.0.254"}]},
        "dns": {"nameservers": ["172.30.0.1"], "domain": "lab.internal", "options": ["ndots:2"]}
    });
    assert_eq!(got, want);
}

// Documentation/conformance.md item 66: 0.4.0 → 0.2.0 keeps the first address of each family and
// family-matching routes; no address at all is an error
#[test]
fn conformance_66_040_to_020_and_failure() {
    let mut v = dual_stack_v040();
    v["ips"]
        .as_array_mut()
        .unwrap()
        .push(json!({"version": "4", "address": "172.30.0.8/24"}));
    let got = parse(&v).to_value(Version::V0_2_0).unwrap();
    assert_eq!(
        got,
        json!({"cniVersion": "0.2.0",
               "ip4": {"ip": "172.30.0.7/24", "gateway": "172.30.0.1", "routes": [{"dst": "0.0.0.0/0"}]},
               "ip6": {"ip": "fd00:30::7/64", "gateway": "fd00:30::1", "routes": [{"dst": "::/0"}]},
               "dns": {}})
    );
    let empty = parse(&json!({"cniVersion": "1.0.0", "interfaces": [{"name": "lo"}]}));
    let err = empty.to_value(Version::V0_1_0).unwrap_err();
    assert!(err.msg().contains("no valid IP addresses"), "{err}");
}

// Documentation/conformance.md item 66: 0.2.0 → 1.1.0 gives ips and top-level routes, no interfaces
#[test]
fn conformance_66_up_from_020() {
    let v = json!({"cniVersion": "0.2.0",
        "ip4": {"ip": "10.1.0.5/16", "gateway": "10.1.0.1", "routes": [{"dst": "0.0.0.0/0"}]},
        "ip6": {"ip": "fd00::5/64", "routes": [{"dst": "::/0", "gw": "fd00::1"}]}});
    let got = parse(&v).to_value(Version::V1_1_0).unwrap();
    assert_eq!(
        got,
        json!({"cniVersion": "1.1.0",
               "ips": [{"address": "10.1.0.5/16", "gateway": "10.1.0.1"}, {"address": "fd00::5/64"}],
               "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0", "gw": "fd00::1"}]})
    );
}

// Documentation/conformance.md items 18, 66: every version pair converts, in the target's shape
#[test]
fn every_version_pair() {
    for from in Version::ALL {
        let src = parse(&dual_stack_v040()).to_value(from).unwrap();
        let r = CniResult::from_value(&src, "").unwrap();
        assert_eq!(r.cni_version, from.as_str());
        for to in Version::ALL {
            let out = r.to_value(to).unwrap();
            assert_eq!(out["cniVersion"], to.as_str(), "{from} -> {to}");
            match to.family() {
                Family::Legacy => {
                    assert_eq!(out["ip4"]["ip"], "172.30.0.7/24");
                    assert_eq!(out["ip6"]["ip"], "fd00:30::7/64");
                    assert!(out.get("ips").is_none());
                }
                Family::V04 => {
                    assert_eq!(out["ips"][0]["version"], "4");
                    assert_eq!(out["ips"][1]["version"], "6");
                    assert_eq!(out["dns"], json!({}));
                }
                Family::V1 => {
                    assert!(out["ips"][0].get("version").is_none());
                    assert!(out.get("dns").is_none(), "1.x omits empty dns");
                }
            }
            // Converting back up keeps the addresses.
            let back = CniResult::from_value(&out, "").unwrap();
            assert_eq!(back.ips.len(), 2, "{from} -> {to}");
        }
    }
}

#[test]
fn parsing_rules() {
    // 0.3.0 `ip` alias
    let r =
        parse(&json!({"cniVersion": "0.3.0", "ip": [{"version": "4", "address": "10.0.0.2/24"}]}));
    assert_eq!(r.ips.len(), 1);
    // missing cniVersion takes the default
    let r = CniResult::from_value(&json!({"ips": [{"address": "10.0.0.2/24"}]}), "1.0.0").unwrap();
    assert_eq!(r.cni_version, "1.0.0");
    // legacy with no version at all is 0.1.0
    let r = parse(&json!({"ip4": {"ip": "10.0.0.2/24"}}));
    assert_eq!(r.cni_version, "0.1.0");
    // keys case-insensitive, unknown keys ignored, empty gateway is none
    let r = parse(
        &json!({"CNIVersion": "1.0.0", "IPs": [{"Address": "10.0.0.2/24", "gateway": "", "x": 1}], "extra": true}),
    );
    assert_eq!(r.ips[0].gateway, None);
    // host bits are kept
    assert_eq!(r.ips[0].address.to_string(), "10.0.0.2/24");
    // a negative interface index is kept
    let r = parse(
        &json!({"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.2/24", "interface": -1}]}),
    );
    assert_eq!(r.ips[0].interface, Some(-1));
    // IPv4-mapped IPv6 counts as IPv4, as in Go
    let r = parse(&json!({"cniVersion": "1.0.0", "ips": [{"address": "::ffff:10.0.0.2/120"}]}));
    assert_eq!(
        r.to_value(Version::V0_4_0).unwrap()["ips"][0]["version"],
        "4"
    );

    for bad in [
        json!({"cniVersion": "9.9.9"}),
        json!({"cniVersion": 1}),
        json!({"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.2"}]}),
        json!({"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.2/24", "gateway": "x"}]}),
        json!({"cniVersion": "0.4.0", "routes": [{"gw": "10.0.0.1"}]}),
        json!([]),
    ] {
        let e = CniResult::from_value(&bad, "").unwrap_err();
        assert_eq!(e.code(), 6, "{bad}: {e}");
    }
}

// Documentation/conformance.md item 67: 1.x never emits null and omits empty optional fields
#[test]
fn conformance_67_no_nulls() {
    let r = parse(
        &json!({"cniVersion": "1.1.0", "interfaces": [{"name": "eth0"}],
                          "ips": [{"address": "10.0.0.2/24", "interface": 0}],
                          "routes": [{"dst": "0.0.0.0/0", "table": 0}]}),
    );
    let out = serde_json::to_string(&r.to_value(Version::V1_1_0).unwrap()).unwrap();
    assert!(!out.contains("null"), "{out}");
    assert_eq!(
        out,
        r#"{"cniVersion":"1.1.0","interfaces":[{"name":"eth0"}],"ips":[{"interface":0,"address":"10.0.0.2/24"}],"routes":[{"dst":"0.0.0.0/0","table":0}]}"#
    );
}

/// Every ADD result Go plugins printed for podman survives parse → print
/// in its own version (0.4.0 results exactly; 1.0.0 ones minus the empty
/// `dns` that newer Go libraries also omit).
#[test]
fn podman_fixture_results_round_trip() {
    let root = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../test/fixtures/podman-captured"
    );
    let mut seen = 0;
    for dir in std::fs::read_dir(root).unwrap().flatten() {
        if !dir.path().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let name = f.file_name().to_string_lossy().to_string();
            if !name.ends_with("-ADD.json") {
                continue;
            }
            let rec: Value = serde_json::from_slice(&std::fs::read(f.path()).unwrap()).unwrap();
            let out = &rec["stdout"];
            if rec["exit_code"] != 0 || !out.is_object() || out.get("code").is_some() {
                continue;
            }
            let r = CniResult::from_value(out, "").unwrap();
            let version = Version::from_exact(out["cniVersion"].as_str().unwrap()).unwrap();
            let mut want = out.clone();
            if version.family() == Family::V1 && want["dns"] == json!({}) {
                want.as_object_mut().unwrap().remove("dns");
            }
            assert_eq!(r.to_value(version).unwrap(), want, "{name}");
            seen += 1;
        }
    }
    assert!(seen > 0);
}

#[test]
fn dns_values_are_single_words() {
    use super::result::Dns;
    let ok = Dns {
        nameservers: vec!["10.0.0.53".into(), "fe80::1%eth0".into()],
        domain: "example.org".into(),
        search: vec!["a.example.org".into()],
        options: vec!["ndots:5".into()],
    };
    ok.check("dns").unwrap();
    Dns::default().check("dns").unwrap();
    let cases: [(Dns, &str); 4] = [
        (
            Dns {
                nameservers: vec!["10.0.0.53".into(), "8.8.8.8\nnameserver 10.6.6.6".into()],
                ..Default::default()
            },
            "invalid ipam.dns.nameservers[1] \"8.8.8.8\\nnameserver 10.6.6.6\"",
        ),
        (
            Dns {
                domain: "a b".into(),
                ..Default::default()
            },
            "invalid ipam.dns.domain \"a b\"",
        ),
        (
            Dns {
                search: vec!["x\u{1b}[0m".into()],
                ..Default::default()
            },
            "invalid ipam.dns.search[0] \"x\\u{1b}[0m\"",
        ),
        (
            Dns {
                options: vec!["ndots:5\r".into()],
                ..Default::default()
            },
            "invalid ipam.dns.options[0] \"ndots:5\\r\"",
        ),
    ];
    for (dns, msg) in cases {
        let e = dns.check("ipam.dns").unwrap_err();
        assert_eq!((e.code(), e.msg().as_str()), (7, msg));
    }
}

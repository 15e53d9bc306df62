//! static IPAM, executed as a runtime would, for every spec version
//! (Documentation/static.md). static needs no real netns, but skel requires
//! `CNI_NETNS` for ADD/CHECK, so each test passes a scratch container
//! namespace and runs the plugin inside a scratch "host" namespace.

use integration::*;
use serde_json::{Value, json};

/// The container ID of every call (no state is kept under it).
const CID: &str = "c0ffee";

fn net() -> Fixture {
    Fixture::new("static", "static-net")
}

fn conf(v: Version, ipam: Value) -> Value {
    json!({"cniVersion": v.as_str(), "name": "static-net", "type": "static", "ipam": ipam})
}

fn dns() -> Value {
    json!({"nameservers": ["8.8.8.8", "2001:4860:4860::8888"], "domain": "example.com",
           "search": ["example.com", "corp.example.com"], "options": ["ndots:2"]})
}

/// One v4 and one v6 address, each with a gateway, routes of both
/// families, and dns.
fn full_ipam() -> Value {
    json!({
        "type": "static",
        "addresses": [
            {"address": "10.10.0.1/24", "gateway": "10.10.0.254"},
            {"address": "2001:db8:1::1/64", "gateway": "2001:db8:1::254"}
        ],
        "routes": [
            {"dst": "0.0.0.0/0"},
            {"dst": "192.168.0.0/16", "gw": "10.10.5.1"},
            {"dst": "2001:db8:ffff::/48", "gw": "2001:db8:1::254"}
        ],
        "dns": dns()
    })
}

fn is_legacy(v: Version) -> bool {
    v < Version::V0_3_0
}

/// The addresses of a result in any version's shape, as
/// (address, gateway) pairs in result order (ip4 before ip6 for 0.1/0.2).
fn ips_of(r: &Value) -> Vec<(String, Option<String>)> {
    let entry = |e: &Value, key: &str| {
        (
            e[key]
                .as_str()
                .unwrap_or_else(|| panic!("no {key} in {e}"))
                .to_string(),
            e["gateway"].as_str().map(str::to_string),
        )
    };
    if r.get("ips").is_some() {
        r["ips"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| entry(e, "address"))
            .collect()
    } else {
        ["ip4", "ip6"]
            .iter()
            .filter_map(|k| r.get(*k))
            .map(|e| entry(e, "ip"))
            .collect()
    }
}

fn pairs(list: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
    list.iter()
        .map(|(a, g)| (a.to_string(), g.map(str::to_string)))
        .collect()
}

// Documentation/conformance.md items 17/18/29: the configured addresses, gateways, routes and dns
// in exactly the request version's shape, without `interfaces` and
// without `ips[].interface`.
#[test]
fn add_returns_config_in_every_version_shape() {
    require_root!();
    let fx = net();
    let ctr = TestNs::new("ctr");
    for v in Version::ALL {
        let r = fx
            .call("ADD", &ctr, CID)
            .run(&conf(v, full_ipam()))
            .expect_success();
        let want = if is_legacy(v) {
            json!({
                "cniVersion": v.as_str(),
                "ip4": {"ip": "10.10.0.1/24", "gateway": "10.10.0.254",
                        "routes": [{"dst": "0.0.0.0/0"}, {"dst": "192.168.0.0/16", "gw": "10.10.5.1"}]},
                "ip6": {"ip": "2001:db8:1::1/64", "gateway": "2001:db8:1::254",
                        "routes": [{"dst": "2001:db8:ffff::/48", "gw": "2001:db8:1::254"}]},
                "dns": dns()
            })
        } else {
            let mut ips = json!([
                {"address": "10.10.0.1/24", "gateway": "10.10.0.254"},
                {"address": "2001:db8:1::1/64", "gateway": "2001:db8:1::254"}
            ]);
            if v < Version::V1_0_0 {
                ips[0]["version"] = json!("4");
                ips[1]["version"] = json!("6");
            }
            json!({
                "cniVersion": v.as_str(),
                "ips": ips,
                "routes": full_ipam()["routes"].clone(),
                "dns": dns()
            })
        };
        assert_eq!(r, want, "{v}");
        // Documentation/conformance.md item 29, spelled out
        assert!(
            r.get("interfaces").is_none(),
            "{v}: IPAM result has interfaces: {r}"
        );
        for ip in r["ips"].as_array().into_iter().flatten() {
            assert!(
                ip.get("interface").is_none(),
                "{v}: IPAM result has ips[].interface: {r}"
            );
        }
    }
}

#[test]
fn add_single_family_and_no_gateway() {
    require_root!();
    let fx = net();
    let ctr = TestNs::new("ctr");
    for v in Version::ALL {
        let ipam = json!({"type": "static", "addresses": [{"address": "2001:db8:9::9/64"}]});
        let r = fx
            .call("ADD", &ctr, CID)
            .run(&conf(v, ipam))
            .expect_success();
        assert_eq!(r["cniVersion"], v.as_str());
        assert_eq!(ips_of(&r), pairs(&[("2001:db8:9::9/64", None)]), "{v}: {r}");
        if is_legacy(v) {
            assert!(r.get("ip4").is_none(), "{v}: {r}");
            assert!(r["ip6"].get("gateway").is_none(), "{v}: {r}");
        } else {
            assert!(r["ips"][0].get("gateway").is_none(), "{v}: {r}");
            assert!(r.get("routes").is_none(), "{v}: no routes configured: {r}");
        }
    }
}

// CNI_ARGS IP= (comma-separated CIDRs) is appended to the configured list;
// GATEWAY= goes to every address from IP= whose subnet contains it.
#[test]
fn cni_args_ip_appended_and_gateway_attached() {
    require_root!();
    let fx = net();
    let ctr = TestNs::new("ctr");
    let ipam = json!({"type": "static", "addresses": [{"address": "10.10.0.1/24", "gateway": "10.10.0.254"}]});
    for v in versions_from(Version::V0_3_0) {
        let r = fx
            .call("ADD", &ctr, CID)
            .cni_args("IP=10.20.0.5/24,2001:db8:2::5/64;GATEWAY=10.20.0.1,2001:db8:2::1")
            .run(&conf(v, ipam.clone()))
            .expect_success();
        assert_eq!(
            ips_of(&r),
            pairs(&[
                ("10.10.0.1/24", Some("10.10.0.254")),
                ("10.20.0.5/24", Some("10.20.0.1")),
                ("2001:db8:2::5/64", Some("2001:db8:2::1")),
            ]),
            "{v}: {r}"
        );
        if v < Version::V1_0_0 {
            let fams: Vec<&Value> = r["ips"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| &i["version"])
                .collect();
            assert_eq!(fams, [&json!("4"), &json!("4"), &json!("6")], "{v}: {r}");
        }
    }

    let v = Version::V1_0_0;
    let configured = ("10.10.0.1/24", Some("10.10.0.254"));
    // (what, CNI_ARGS, ipam, the addresses and gateways of the result)
    type Case<'a> = (&'a str, &'a str, Value, Vec<(&'a str, Option<&'a str>)>);
    let cases: [Case; 6] = [
        (
            "spaces around the list items are trimmed, as Go does",
            "IP= 10.20.0.5/24 , 10.30.0.5/16",
            ipam.clone(),
            vec![configured, ("10.20.0.5/24", None), ("10.30.0.5/16", None)],
        ),
        (
            "as in Go, GATEWAY= applies only to addresses from IP=: a configured address keeps its own gateway",
            "GATEWAY=10.10.0.253",
            ipam.clone(),
            vec![configured],
        ),
        (
            "a GATEWAY in no address's subnet changes nothing and is no error",
            "GATEWAY=172.16.0.1",
            ipam.clone(),
            vec![configured],
        ),
        (
            "CNI_ARGS alone, with no configured addresses",
            "IP=10.20.0.5/24;GATEWAY=10.20.0.1",
            json!({"type": "static"}),
            vec![("10.20.0.5/24", Some("10.20.0.1"))],
        ),
        (
            "IgnoreUnknown lets a runtime's extra keys through (Documentation/conformance.md item 33)",
            "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=pod;IP=10.20.0.5/24",
            ipam.clone(),
            vec![configured, ("10.20.0.5/24", None)],
        ),
        (
            "IgnoreUnknown=true, and an unknown key",
            "IgnoreUnknown=true;FOO=bar",
            ipam.clone(),
            vec![configured],
        ),
    ];
    for (what, args, ipam, want) in cases {
        let r = fx
            .call("ADD", &ctr, CID)
            .cni_args(args)
            .run(&conf(v, ipam))
            .expect_success();
        assert_eq!(ips_of(&r), pairs(&want), "{what}: {r}");
    }
}

// `args.cni.ips` replaces the configured list (and what CNI_ARGS added);
// `runtimeConfig.ips` replaces it again. Routes and dns stay.
#[test]
fn args_then_runtime_config_replace_addresses() {
    require_root!();
    let fx = net();
    let ctr = TestNs::new("ctr");
    for v in versions_from(Version::V0_3_0) {
        let mut c = conf(v, full_ipam());
        c["args"] = json!({"cni": {"ips": ["10.40.0.5/24", "2001:db8:4::5/64"]}});
        let r = fx
            .call("ADD", &ctr, CID)
            .cni_args("IP=10.20.0.5/24;GATEWAY=10.20.0.1")
            .run(&c)
            .expect_success();
        assert_eq!(
            ips_of(&r),
            pairs(&[("10.40.0.5/24", None), ("2001:db8:4::5/64", None)]),
            "{v}: {r}"
        );
        assert_eq!(r["routes"], full_ipam()["routes"], "{v}: routes kept");
        assert_eq!(r["dns"], dns(), "{v}: dns kept");

        c["runtimeConfig"] = json!({"ips": ["10.50.0.5/16"]});
        let r = fx
            .call("ADD", &ctr, CID)
            .cni_args("IP=10.20.0.5/24")
            .run(&c)
            .expect_success();
        assert_eq!(ips_of(&r), pairs(&[("10.50.0.5/16", None)]), "{v}: {r}");
        assert_eq!(r["routes"], full_ipam()["routes"], "{v}: routes kept");

        // runtimeConfig alone also replaces the configured list
        let mut c = conf(v, full_ipam());
        c["runtimeConfig"] = json!({"ips": ["10.60.0.5/24"]});
        let r = fx.call("ADD", &ctr, CID).run(&c).expect_success();
        assert_eq!(ips_of(&r), pairs(&[("10.60.0.5/24", None)]), "{v}: {r}");

        // empty lists replace nothing
        let mut c = conf(v, full_ipam());
        c["args"] = json!({"cni": {"ips": []}});
        c["runtimeConfig"] = json!({"ips": []});
        let r = fx.call("ADD", &ctr, CID).run(&c).expect_success();
        assert_eq!(
            ips_of(&r),
            pairs(&[
                ("10.10.0.1/24", Some("10.10.0.254")),
                ("2001:db8:1::1/64", Some("2001:db8:1::254"))
            ]),
            "{v}: {r}"
        );
    }
}

// Documentation/conformance.md items 34/35: Go decodes keys case-insensitively, so capitalised keys
// (as Go-default struct field names) work.
#[test]
fn conformance_34_capitalised_keys() {
    require_root!();
    let fx = net();
    let ctr = TestNs::new("ctr");
    for v in versions_from(Version::V0_3_0) {
        let caps = json!({
            "cniVersion": v.as_str(),
            "name": "static-net",
            "type": "static",
            "IPAM": {
                "Type": "static",
                "Addresses": [
                    {"Address": "10.10.0.1/24", "Gateway": "10.10.0.254"},
                    {"ADDRESS": "2001:db8:1::1/64", "GATEWAY": "2001:db8:1::254"}
                ],
                "Routes": [
                    {"Dst": "0.0.0.0/0"},
                    {"DST": "192.168.0.0/16", "GW": "10.10.5.1"},
                    {"dst": "2001:db8:ffff::/48", "Gw": "2001:db8:1::254"}
                ],
                "DNS": {"Nameservers": ["8.8.8.8", "2001:4860:4860::8888"], "Domain": "example.com",
                        "Search": ["example.com", "corp.example.com"], "Options": ["ndots:2"]}
            }
        });
        let want = fx
            .call("ADD", &ctr, CID)
            .run(&conf(v, full_ipam()))
            .expect_success();
        let got = fx.call("ADD", &ctr, CID).run(&caps).expect_success();
        assert_eq!(got, want, "{v}");

        // runtimeConfig.ips and args.cni.ips with Go-default capitalisation
        let mut c = conf(v, full_ipam());
        c["Args"] = json!({"CNI": {"IPs": ["10.40.0.5/24"]}});
        let r = fx.call("ADD", &ctr, CID).run(&c).expect_success();
        assert_eq!(ips_of(&r), pairs(&[("10.40.0.5/24", None)]), "{v}: {r}");
        c["RuntimeConfig"] = json!({"IPs": ["10.50.0.5/24"]});
        let r = fx.call("ADD", &ctr, CID).run(&c).expect_success();
        assert_eq!(ips_of(&r), pairs(&[("10.50.0.5/24", None)]), "{v}: {r}");
    }
}

// 0.1.0/0.2.0 results hold at most one address per family.
#[test]
fn more_than_one_address_per_family() {
    require_root!();
    let fx = net();
    let ctr = TestNs::new("ctr");
    let two_v4 = json!({"type": "static", "addresses": [{"address": "10.10.0.1/24"}, {"address": "10.11.0.1/24"}]});
    let two_v6 = json!({"type": "static", "addresses": [{"address": "2001:db8:1::1/64"}, {"address": "2001:db8:2::1/64"}]});
    let one_each = json!({"type": "static", "addresses": [{"address": "10.10.0.1/24"}, {"address": "2001:db8:1::1/64"}]});
    let two_each = json!({"type": "static", "addresses": [
        {"address": "10.10.0.1/24"}, {"address": "2001:db8:1::1/64"},
        {"address": "10.11.0.1/24"}, {"address": "2001:db8:2::1/64"}]});
    for v in [Version::V0_1_0, Version::V0_2_0] {
        for ipam in [&two_v4, &two_v6, &two_each] {
            let out = fx.call("ADD", &ctr, CID).run(&conf(v, ipam.clone()));
            let (code, msg) = out.expect_spec_error();
            assert_eq!(code, 7, "{v}: {msg}");
            assert!(
                msg.contains("does not support more than 1 address per family"),
                "{v}: {msg}"
            );
            assert_eq!(
                out.json()["cniVersion"],
                v.as_str(),
                "{v}: error labelled with the request version"
            );
        }
        // a second v4 through CNI_ARGS counts too
        let (code, msg) = fx
            .call("ADD", &ctr, CID)
            .cni_args("IP=10.20.0.5/24")
            .run(&conf(v, one_each.clone()))
            .expect_spec_error();
        assert_eq!(code, 7, "{v}: {msg}");
        let r = fx
            .call("ADD", &ctr, CID)
            .run(&conf(v, one_each.clone()))
            .expect_success();
        assert_eq!(
            ips_of(&r),
            pairs(&[("10.10.0.1/24", None), ("2001:db8:1::1/64", None)]),
            "{v}"
        );
    }
    for v in versions_from(Version::V0_3_0) {
        let r = fx
            .call("ADD", &ctr, CID)
            .run(&conf(v, two_each.clone()))
            .expect_success();
        assert_eq!(
            ips_of(&r),
            pairs(&[
                ("10.10.0.1/24", None),
                ("2001:db8:1::1/64", None),
                ("10.11.0.1/24", None),
                ("2001:db8:2::1/64", None)
            ]),
            "{v}: {r}"
        );
        fx.call("ADD", &ctr, CID)
            .run(&conf(v, two_v4.clone()))
            .expect_success();
        fx.call("ADD", &ctr, CID)
            .run(&conf(v, two_v6.clone()))
            .expect_success();
    }
}

/// A failed run: JSON error on stdout with the request's version, `code`.
fn fails_with(out: &Outcome, code: u64, version: &str, what: &str) -> String {
    let (got, msg) = out.expect_spec_error();
    assert_eq!(got, code, "{what}: {msg}");
    assert_eq!(
        out.json()["cniVersion"],
        version,
        "{what}: error's cniVersion"
    );
    msg
}

#[test]
fn bad_inputs_and_their_codes() {
    require_root!();
    let fx = net();
    let ctr = TestNs::new("ctr");
    for v in [Version::V0_2_0, Version::V0_4_0, Version::V1_1_0] {
        let vs = v.as_str();
        let run = |c: &Value| fx.call("ADD", &ctr, CID).run(c);

        // missing `ipam` key, or a null one
        let mut c = conf(v, json!(null));
        let msg = fails_with(&run(&c), 7, vs, "ipam: null");
        assert_eq!(msg, "IPAM config missing 'ipam' key");
        c.as_object_mut().unwrap().remove("ipam");
        let msg = fails_with(&run(&c), 7, vs, "no ipam");
        assert_eq!(msg, "IPAM config missing 'ipam' key");

        // address not in CIDR notation
        for bad in ["10.10.0.1", "10.10.0.1/33", "garbage", ""] {
            let c = conf(
                v,
                json!({"type": "static", "addresses": [{"address": bad}]}),
            );
            let msg = fails_with(&run(&c), 7, vs, bad);
            assert!(msg.contains("CIDR notation"), "{bad:?}: {msg}");
        }

        // invalid gateway
        for bad in ["10.10.0.x", "10.10.0.0/24", "fe80::zz"] {
            let c = conf(
                v,
                json!({"type": "static", "addresses": [{"address": "10.10.0.1/24", "gateway": bad}]}),
            );
            let msg = fails_with(&run(&c), 7, vs, bad);
            assert!(msg.contains("gateway"), "{bad:?}: {msg}");
        }

        let ok = conf(
            v,
            json!({"type": "static", "addresses": [{"address": "10.10.0.1/24"}]}),
        );

        // CNI_ARGS: unknown key without IgnoreUnknown; pair without exactly one `=`
        for args in [
            "FOO=bar",
            "IP=10.20.0.5/24;K8S_POD_NAME=pod",
            "IgnoreUnknown=0;FOO=bar",
            "IP",
            "IP=a=b",
        ] {
            let out = fx.call("ADD", &ctr, CID).cni_args(args).run(&ok);
            fails_with(&out, 4, vs, args);
        }
        // CNI_ARGS IP not a CIDR, GATEWAY not an IP: CNI_ARGS errors are code 4
        for args in [
            "IP=10.20.0.5",
            "IP=10.20.0.5/24,nonsense",
            "IP=nonsense/24",
            "GATEWAY=10.20.0.x",
        ] {
            let out = fx.call("ADD", &ctr, CID).cni_args(args).run(&ok);
            fails_with(&out, 4, vs, args);
        }

        // args.cni.ips / runtimeConfig.ips entries must be CIDRs too
        let mut c = ok.clone();
        c["args"] = json!({"cni": {"ips": ["10.40.0.5"]}});
        fails_with(&run(&c), 7, vs, "args.cni.ips");
        let mut c = ok.clone();
        c["runtimeConfig"] = json!({"ips": ["10.50.0.5"]});
        fails_with(&run(&c), 7, vs, "runtimeConfig.ips");

        // a wrongly typed key is a decoding failure
        let c = conf(v, json!({"type": "static", "addresses": "10.10.0.1/24"}));
        fails_with(&run(&c), 6, vs, "addresses as a string");
    }

    // malformed JSON: the version is not known yet, so the error is labelled 1.1.0
    for bad in [
        &b"{\"cniVersion\":\"1.0.0\",\"name\":"[..],
        b"not json",
        b"",
    ] {
        let out = fx.call("ADD", &ctr, CID).run_raw(bad);
        let msg = fails_with(&out, 6, "1.1.0", &String::from_utf8_lossy(bad));
        assert!(msg.starts_with("error unmarshall network config"), "{msg}");
    }
}

// CHECK (>= 0.4.0): every configured address found in prevResult must carry
// the configured gateway.
#[test]
fn check_against_prev_result() {
    require_root!();
    let fx = net();
    let ctr = TestNs::new("ctr");
    for v in versions_from(Version::V0_4_0) {
        let prev = fx
            .call("ADD", &ctr, CID)
            .run(&conf(v, full_ipam()))
            .expect_success();

        let mut c = conf(v, full_ipam());
        c["prevResult"] = prev.clone();
        let out = fx.call("CHECK", &ctr, CID).run(&c);
        assert_eq!(
            out.expect_success(),
            Value::Null,
            "{v}: CHECK prints nothing on success"
        );

        // a prevResult in which a main plugin filled `interfaces` and
        // `ips[].interface` still matches (the normal chained case)
        let mut chained = prev.clone();
        chained["interfaces"] =
            json!([{"name": "eth0", "mac": "0e:00:00:00:00:01", "sandbox": ctr.path_str()}]);
        chained["ips"][0]["interface"] = json!(0);
        chained["ips"][1]["interface"] = json!(0);
        let mut c = conf(v, full_ipam());
        c["prevResult"] = chained;
        fx.call("CHECK", &ctr, CID).run(&c).expect_success();

        // the configured v4 gateway differs from prevResult's
        let mut wrong = prev.clone();
        wrong["ips"][0]["gateway"] = json!("10.10.0.253");
        let mut c = conf(v, full_ipam());
        c["prevResult"] = wrong;
        let (_, msg) = fx.call("CHECK", &ctr, CID).run(&c).expect_spec_error();
        assert!(msg.to_lowercase().contains("failed to match"), "{v}: {msg}");
        assert!(msg.contains("10.10.0.1"), "{v}: names the address: {msg}");

        // ... or the v6 one
        let mut wrong = prev.clone();
        wrong["ips"][1]["gateway"] = json!("2001:db8:1::253");
        let mut c = conf(v, full_ipam());
        c["prevResult"] = wrong;
        let (_, msg) = fx.call("CHECK", &ctr, CID).run(&c).expect_spec_error();
        assert!(
            msg.contains("2001:db8:1::1"),
            "{v}: names the address: {msg}"
        );

        // a configured gateway, none in prevResult
        let mut wrong = prev.clone();
        wrong["ips"][0].as_object_mut().unwrap().remove("gateway");
        let mut c = conf(v, full_ipam());
        c["prevResult"] = wrong;
        fx.call("CHECK", &ctr, CID).run(&c).expect_spec_error();

        // no gateway configured: prevResult's gateway is not compared
        let ipam = json!({"type": "static", "addresses": [{"address": "10.10.0.1/24"}]});
        let mut c = conf(v, ipam);
        c["prevResult"] = prev.clone();
        fx.call("CHECK", &ctr, CID).run(&c).expect_success();

        // CHECK sees the same CNI_ARGS as ADD: GATEWAY= does not touch the
        // configured addresses, so the check still passes
        let mut c = conf(v, full_ipam());
        c["prevResult"] = prev.clone();
        fx.call("CHECK", &ctr, CID)
            .cni_args("GATEWAY=10.10.0.253")
            .run(&c)
            .expect_success();

        // Documentation/conformance.md item 21: a prevResult without cniVersion is read as the
        // request's version, and still checked
        let mut bare = prev.clone();
        bare.as_object_mut().unwrap().remove("cniVersion");
        let mut c = conf(v, full_ipam());
        c["prevResult"] = bare.clone();
        fx.call("CHECK", &ctr, CID).run(&c).expect_success();
        bare["ips"][0]["gateway"] = json!("10.10.0.253");
        c["prevResult"] = bare;
        fx.call("CHECK", &ctr, CID).run(&c).expect_spec_error();

        // a prevResult in an older version's shape, declared as such
        let older = fx
            .call("ADD", &ctr, CID)
            .run(&conf(Version::V0_3_1, full_ipam()))
            .expect_success();
        let mut c = conf(v, full_ipam());
        c["prevResult"] = older;
        fx.call("CHECK", &ctr, CID).run(&c).expect_success();

        // CHECK without prevResult fails
        let out = fx.call("CHECK", &ctr, CID).run(&conf(v, full_ipam()));
        let (code, msg) = out.expect_spec_error();
        assert!(msg.contains("prevResult"), "{v}: {msg}");
        assert_ne!(code, 0, "{v}");

        // CHECK loads the config as ADD does: a bad config fails
        let mut c = conf(
            v,
            json!({"type": "static", "addresses": [{"address": "10.10.0.1"}]}),
        );
        c["prevResult"] = prev.clone();
        assert_eq!(
            fx.call("CHECK", &ctr, CID).run(&c).expect_spec_error().0,
            7,
            "{v}"
        );
    }
}

// Documentation/conformance.md items 22/23: DEL has nothing to undo and always succeeds, twice in a
// row, with no netns or a vanished one, with or without prevResult.
#[test]
fn conformance_22_23_del_twice_without_netns() {
    require_root!();
    let fx = net();
    let gone = TestNs::new("gone");
    let gone_path = gone.path_str();
    drop(gone);
    for v in Version::ALL {
        let ctr = TestNs::new("ctr");
        let r = fx
            .call("ADD", &ctr, CID)
            .run(&conf(v, full_ipam()))
            .expect_success();
        let mut with_prev = conf(v, full_ipam());
        if v >= Version::V0_4_0 {
            with_prev["prevResult"] = r;
        }
        for c in [&conf(v, full_ipam()), &with_prev] {
            for _ in 0..2 {
                assert_eq!(
                    fx.call("DEL", &ctr, CID).run(c).expect_success(),
                    Value::Null,
                    "{v}: DEL prints nothing"
                );
            }
            for netns in ["", gone_path.as_str()] {
                for _ in 0..2 {
                    fx.call("DEL", &ctr, CID)
                        .netns_path(netns)
                        .run(c)
                        .expect_success();
                }
            }
        }
    }
}

// Documentation/conformance.md item 32: no GC/STATUS logic, so both succeed at 1.1.0 with no
// attachment parameters.
#[test]
fn conformance_32_gc_status_succeed() {
    require_root!();
    let fx = net();
    for cmd in ["GC", "STATUS"] {
        let mut c = conf(Version::V1_1_0, full_ipam());
        let out = fx.network_call(cmd).run(&c);
        assert_eq!(out.expect_success(), Value::Null, "{cmd}");
        c["cni.dev/valid-attachments"] = json!([{"containerID": "c0ffee", "ifname": "eth0"}]);
        c["cni.dev/attachments"] = c["cni.dev/valid-attachments"].clone();
        fx.network_call(cmd).run(&c).expect_success();
        // and below 1.1.0 the version gate refuses them
        let (code, msg) = fx
            .network_call(cmd)
            .run(&conf(Version::V1_0_0, full_ipam()))
            .expect_spec_error();
        assert_eq!(
            (code, msg),
            (1, format!("config version does not allow {cmd}"))
        );
    }
}

// The canonical text form of addresses is printed, as Go's net.IP does.
#[test]
fn addresses_printed_in_canonical_form() {
    require_root!();
    let fx = net();
    let ctr = TestNs::new("ctr");
    let ipam = json!({"type": "static", "addresses": [
        {"address": "2001:0db8:0001:0000::0001/64", "gateway": "2001:db8:1:0::00fe"}]});
    let r = fx
        .call("ADD", &ctr, CID)
        .run(&conf(Version::V1_0_0, ipam))
        .expect_success();
    assert_eq!(
        ips_of(&r),
        pairs(&[("2001:db8:1::1/64", Some("2001:db8:1::fe"))]),
        "{r}"
    );
}

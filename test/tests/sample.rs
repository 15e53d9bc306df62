//! The template plugin, chained after bridge as a runtime would run it.

use integration::*;
use serde_json::{Value, json};

/// The network `samplenet`: the plugin's keys, after a bridge whose
/// addresses host-local stores in the fixture's directory.
fn net() -> Fixture {
    Fixture::new("sample", "samplenet")
        .keys(json!({"aliasPrefix": "pod", "searchDomain": "svc.example"}))
}

fn bridge(net: &Fixture, v: Version) -> Value {
    net.conf_of(
        "bridge",
        v,
        json!({"bridge": "smpl0", "isGateway": true,
               "ipam": net.host_local(json!([[{"subnet": "10.97.0.0/24"}]]))}),
    )
}

#[test]
fn chained_after_bridge_every_version() {
    require_root!();
    let net = net();
    for v in versions_from(Version::V0_3_0) {
        let ctr = TestNs::new("ctr");
        let br = net.add_of("bridge", &ctr, "s1", &bridge(&net, v));
        let a = net.add(&ctr, "s1", &with_prev(&net.conf(v, json!({})), &br.result));
        // Documentation/conformance.md item 20: the result is prevResult, with our change only
        let mut want = br.result.clone();
        want["dns"] = json!({"search": ["svc.example"]});
        assert_eq!(a.result, want, "{v}");
        assert_eq!(link_in(&ctr, "eth0").unwrap().alias, "pod:samplenet");
        if v.has_check() {
            a.check().expect_success();
            ctr.ip(&["link", "set", "eth0", "alias", "tampered"]);
            let (_, msg) = a.check().expect_spec_error();
            assert!(msg.contains("expected \"pod:samplenet\""), "{msg}");
        }
        a.del();
        assert_eq!(link_in(&ctr, "eth0").unwrap().alias, "");
        a.del();
        br.del();
        // DEL after the interface and the namespace are gone
        a.del();
        a.call
            .clone()
            .command("DEL")
            .netns_path("/run/netns/gone")
            .run(&a.conf)
            .expect_success();
    }
}

#[test]
fn bad_config_and_args() {
    require_root!();
    let net = net();
    let ctr = TestNs::new("ctr");
    let base = net.conf(Version::V1_0_0, json!({}));
    let prev =
        json!({"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "sandbox": ctr.path_str()}]});
    let cases: Vec<(Value, &str, u64, &str)> = vec![
        (
            json!({"searchDomain": "not a domain"}),
            "",
            7,
            "invalid searchDomain",
        ),
        (json!({"aliasPrefix": ""}), "", 7, "invalid aliasPrefix"),
        (
            json!({"searchDomain": 5}),
            "",
            6,
            "failed to parse network config",
        ),
        (
            json!({}),
            "SAMPLE_DOMAIN=ok.example;K8S_POD_NAME=x",
            4,
            "ARGS: unknown args",
        ),
        (
            json!({"args": {"cni": {"searchDomain": "bad domain"}}}),
            "",
            7,
            "invalid searchDomain",
        ),
    ];
    for (extra, cni_args, code, msg) in cases {
        let c = with_prev(&net.conf(Version::V1_0_0, extra.clone()), &prev);
        let out = net.call("ADD", &ctr, "c0ffee").cni_args(cni_args).run(&c);
        let (got, got_msg) = out.expect_spec_error();
        assert_eq!(got, code, "{extra}: {got_msg}");
        assert!(got_msg.contains(msg), "{got_msg}");
    }
    // without prevResult
    let (code, _) = net
        .call("ADD", &ctr, "c0ffee")
        .run(&base)
        .expect_spec_error();
    assert_eq!(code, 7);
    // args.cni overrides CNI_ARGS, which overrides the config
    ctr.ip(&[
        "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p",
    ]);
    let mut c = with_prev(&base, &prev);
    c["args"] = json!({"cni": {"searchDomain": "from.args"}});
    let r = net
        .call("ADD", &ctr, "c0ffee")
        .cni_args("IgnoreUnknown=1;SAMPLE_DOMAIN=from.env")
        .run(&c)
        .expect_success();
    assert_eq!(r["dns"]["search"], json!(["from.args"]));
}

//! The template plugin, chained after bridge as a runtime would run it.

use integration::*;
use pkg::netlink::LinkId;
use serde_json::{Value, json};

fn chain(dir: &std::path::Path, v: Version) -> (Value, Value) {
    let bridge = json!({"cniVersion": v.as_str(), "name": "samplenet", "type": "bridge", "bridge": "smpl0",
        "isGateway": true,
        "ipam": {"type": "host-local", "dataDir": dir, "ranges": [[{"subnet": "10.97.0.0/24"}]]}});
    let sample = json!({"cniVersion": v.as_str(), "name": "samplenet", "type": "sample",
        "aliasPrefix": "pod", "searchDomain": "svc.example"});
    (bridge, sample)
}

#[test]
fn chained_after_bridge_every_version() {
    require_root!();
    let host = TestNs::new("host");
    let dir = tempdir();
    for v in versions_from(Version::V0_3_0) {
        let ctr = TestNs::new("ctr");
        let call = |plugin: &str, cmd: &str| {
            Call::new(plugin_path(plugin), cmd)
                .cid("s1")
                .netns(&ctr)
                .in_host(&host)
        };
        let (bridge, mut sample) = chain(dir.path(), v);
        let prev = call("bridge", "ADD").run(&bridge).expect_success();
        sample["prevResult"] = prev.clone();
        let r = call("sample", "ADD").run(&sample).expect_success();
        // checklist 20: the result is prevResult, with our change only
        let mut want = prev.clone();
        want["dns"] = json!({"search": ["svc.example"]});
        assert_eq!(r, want, "{v}");
        let link = ctr.netlink().link_get(LinkId::Name("eth0")).unwrap();
        assert_eq!(link.alias, "pod:samplenet");
        if v.has_check() {
            sample["prevResult"] = r.clone();
            call("sample", "CHECK").run(&sample).expect_success();
            ctr.ip(&["link", "set", "eth0", "alias", "tampered"]);
            let (_, msg) = call("sample", "CHECK").run(&sample).expect_spec_error();
            assert!(msg.contains("expected \"pod:samplenet\""), "{msg}");
        }
        call("sample", "DEL").run(&sample).expect_success();
        assert_eq!(
            ctr.netlink().link_get(LinkId::Name("eth0")).unwrap().alias,
            ""
        );
        call("sample", "DEL").run(&sample).expect_success();
        call("bridge", "DEL").run(&bridge).expect_success();
        // DEL after the interface and the namespace are gone
        call("sample", "DEL").run(&sample).expect_success();
        call("sample", "DEL")
            .netns_path("/run/netns/gone")
            .run(&sample)
            .expect_success();
    }
}

#[test]
fn bad_config_and_args() {
    require_root!();
    let host = TestNs::new("host");
    let ctr = TestNs::new("ctr");
    let dir = tempdir();
    let (_, base) = chain(dir.path(), Version::V1_0_0);
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
        let mut c = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c["prevResult"] = prev.clone();
        let out = Call::new(plugin_path("sample"), "ADD")
            .netns(&ctr)
            .in_host(&host)
            .cni_args(cni_args)
            .run(&c);
        let (got, got_msg) = out.expect_spec_error();
        assert_eq!(got, code, "{extra}: {got_msg}");
        assert!(got_msg.contains(msg), "{got_msg}");
    }
    // without prevResult
    let (code, _) = Call::new(plugin_path("sample"), "ADD")
        .netns(&ctr)
        .in_host(&host)
        .run(&base)
        .expect_spec_error();
    assert_eq!(code, 7);
    // args.cni overrides CNI_ARGS, which overrides the config
    ctr.ip(&[
        "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p",
    ]);
    let mut c = base.clone();
    c["prevResult"] = prev;
    c["args"] = json!({"cni": {"searchDomain": "from.args"}});
    let r = Call::new(plugin_path("sample"), "ADD")
        .netns(&ctr)
        .in_host(&host)
        .cni_args("IgnoreUnknown=1;SAMPLE_DOMAIN=from.env")
        .run(&c)
        .expect_success();
    assert_eq!(r["dns"]["search"], json!(["from.args"]));
}

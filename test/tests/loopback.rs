//! loopback, executed as a runtime would, for every spec version.

use integration::*;
use serde_json::{Value, json};

const CID: &str = "c0ffee";

fn net() -> Fixture {
    Fixture::new("loopback", "lo-net")
}

fn conf(v: Version) -> Value {
    json!({"cniVersion": v.as_str(), "name": "lo-net", "type": "loopback"})
}

#[test]
fn add_check_del_every_version() {
    require_root!();
    let fx = net();
    for v in Version::ALL {
        let ctr = TestNs::new("ctr");
        ctr.ip(&["link", "set", "lo", "down"]);
        let call = |cmd: &str| fx.call(cmd, &ctr, CID);
        let r = call("ADD").run(&conf(v)).expect_success();
        assert!(is_up(&ctr, "lo"), "{v}: lo is up");
        assert_eq!(r["cniVersion"], v.as_str());
        match v {
            Version::V0_1_0 | Version::V0_2_0 => assert_eq!(r["ip4"]["ip"], "127.0.0.1/8", "{r}"),
            _ => {
                assert_eq!(
                    r["interfaces"][0],
                    json!({"name": "lo", "mac": "00:00:00:00:00:00", "sandbox": ctr.path_str()})
                );
                assert_eq!(r["ips"][0]["address"], "127.0.0.1/8");
                assert_eq!(r["ips"][0]["interface"], 0);
                if v < Version::V1_0_0 {
                    assert_eq!(r["ips"][0]["version"], "4");
                }
                if let Some(v6) = r["ips"].get(1) {
                    assert_eq!(v6["address"], "::1/128");
                }
            }
        }
        if v.has_check() {
            call("CHECK").run(&with_prev(&conf(v), &r)).expect_success();
        }
        // Documentation/conformance.md item 22: DEL twice
        call("DEL").run(&conf(v)).expect_success();
        assert!(!is_up(&ctr, "lo"), "{v}: lo is down after DEL");
        call("DEL").run(&conf(v)).expect_success();
        if v.has_check() {
            let (_, msg) = call("CHECK")
                .run(&with_prev(&conf(v), &r))
                .expect_spec_error();
            assert_eq!(msg, "loopback interface is down");
        }
    }
}

// Documentation/conformance.md item 20: a chained loopback prints prevResult unchanged
#[test]
fn conformance_20_passes_prev_result_through() {
    require_root!();
    let fx = net();
    let ctr = TestNs::new("ctr");
    for v in versions_from(Version::V0_3_0) {
        let prev = json!({"cniVersion": v.as_str(),
            "interfaces": [{"name": "eth0", "mac": "0e:00:00:00:00:07", "sandbox": ctr.path_str()}],
            "ips": [{"address": "10.1.0.5/24", "gateway": "10.1.0.1", "interface": 0}],
            "routes": [{"dst": "0.0.0.0/0"}],
            "dns": {"nameservers": ["10.1.0.1"]}});
        let mut prev = prev;
        if v < Version::V1_0_0 {
            prev["ips"][0]["version"] = json!("4");
        }
        let mut c = conf(v);
        c["prevResult"] = prev.clone();
        let r = fx.call("ADD", &ctr, CID).run(&c).expect_success();
        assert_eq!(r, prev, "{v}");
        // Documentation/conformance.md item 21: a prevResult without cniVersion is read as the request's
        prev.as_object_mut().unwrap().remove("cniVersion");
        c["prevResult"] = prev;
        let r = fx.call("ADD", &ctr, CID).run(&c).expect_success();
        assert_eq!(r["cniVersion"], v.as_str());
        assert_eq!(r["ips"][0]["address"], "10.1.0.5/24");
    }
}

// Documentation/conformance.md item 23: DEL of a vanished or empty netns succeeds
#[test]
fn conformance_23_del_without_netns() {
    require_root!();
    let fx = net();
    let gone = TestNs::new("gone");
    let path = gone.path_str();
    drop(gone);
    for netns in [path.as_str(), ""] {
        fx.call_at("DEL", netns, CID)
            .run(&conf(Version::V1_0_0))
            .expect_success();
    }
    // ADD on a vanished netns is an invalid-netns error
    let (code, msg) = fx
        .call_at("ADD", &path, CID)
        .run(&conf(Version::V1_0_0))
        .expect_spec_error();
    assert_eq!(code, 8, "{msg}");
    assert!(msg.contains("does not exist"), "{msg}");
}

// Documentation/conformance.md item 36: never touch the plugin's own namespace (the loopback incident)
#[test]
fn conformance_36_refuses_own_netns() {
    require_root!();
    let fx = net();
    for cmd in ["ADD", "DEL"] {
        let (code, _) = fx
            .call(cmd, &fx.host, CID)
            .run(&conf(Version::V1_0_0))
            .expect_spec_error();
        assert_eq!(code, 8);
        assert!(
            is_up(&fx.host, "lo"),
            "{cmd} must not have set the host's lo down"
        );
    }
}

// Documentation/conformance.md item 32: no GC/STATUS logic, so both succeed after the version gate
#[test]
fn conformance_32_gc_status_succeed() {
    require_root!();
    for cmd in ["GC", "STATUS"] {
        net()
            .network_call(cmd)
            .run(&conf(Version::V1_1_0))
            .expect_success();
    }
}

#[test]
fn a_path_that_is_not_a_netns_is_refused() {
    require_root!();
    let fx = net();
    let (code, msg) = fx
        .call_at("ADD", "/tmp", CID)
        .run(&conf(Version::V1_0_0))
        .expect_spec_error();
    assert_eq!(code, 8);
    assert!(msg.contains("not a network namespace"), "{msg}");
}

//! host-local, executed as a runtime (or a main plugin delegating to it)
//! would, for every spec version; concurrency; GC/STATUS; and interop with
//! Debian's Go host-local on one data directory.

use std::collections::HashSet;
use std::path::Path;

use integration::*;
use serde_json::{Value, json};

fn conf(v: Version, data_dir: &Path, ipam_extra: Value) -> Value {
    let mut ipam = json!({
        "type": "host-local",
        "dataDir": data_dir,
        "ranges": [[{"subnet": "10.77.0.0/24"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
    });
    merge(&mut ipam, ipam_extra);
    json!({"cniVersion": v.as_str(), "name": "hl-net", "type": "bridge", "ipam": ipam})
}

/// A fake host and container for host-local's network `hl-net`.
struct Env {
    fx: Fixture,
    ctr: TestNs,
}

impl Env {
    fn new() -> Env {
        Env {
            fx: Fixture::new("host-local", "hl-net"),
            ctr: TestNs::new("ctr"),
        }
    }
    fn call(&self, cmd: &str, cid: &str) -> Call {
        self.fx.call(cmd, &self.ctr, cid)
    }
    fn call_with(&self, plugin: std::path::PathBuf, cmd: &str, cid: &str) -> Call {
        runtime_call(plugin, cmd, cid, &self.ctr, &self.fx.host)
    }
}

#[test]
fn add_check_del_every_version() {
    require_root!();
    let e = Env::new();
    for v in Version::ALL {
        let c = conf(v, e.fx.dir.path(), json!({}));
        let cid = format!("ctr-{}", v.as_str().replace('.', "-"));
        let r = e.call("ADD", &cid).run(&c).expect_success();
        assert_eq!(r["cniVersion"], v.as_str());
        // Documentation/conformance.md item 29: IPAM results carry no interfaces
        assert!(r.get("interfaces").is_none(), "{r}");
        let addr = addresses(&r)[0].clone();
        let ip = addr.split('/').next().unwrap();
        assert!(addr.ends_with("/24"), "{addr}");
        match v {
            Version::V0_1_0 | Version::V0_2_0 => {
                assert_eq!(r["ip4"]["gateway"], "10.77.0.1");
                assert_eq!(r["ip4"]["routes"], json!([{"dst": "0.0.0.0/0"}]));
            }
            _ => {
                assert_eq!(r["ips"][0]["gateway"], "10.77.0.1");
                assert!(r["ips"][0].get("interface").is_none());
                assert_eq!(r["ips"][0].get("version").is_some(), v < Version::V1_0_0);
                assert_eq!(r["routes"], json!([{"dst": "0.0.0.0/0"}]));
            }
        }
        assert_eq!(
            std::fs::read(e.fx.netdir().join(ip)).unwrap(),
            format!("{cid}\r\neth0").as_bytes(),
            "Go's file format"
        );
        if v.has_check() {
            e.call("CHECK", &cid).run(&c).expect_success();
        }
        // Documentation/conformance.md items 22, 23: DEL twice, and without a netns
        e.call("DEL", &cid).netns_path("").run(&c).expect_success();
        e.call("DEL", &cid).run(&c).expect_success();
        assert!(!e.fx.netdir().join(ip).exists());
        if v.has_check() {
            let (_, msg) = e.call("CHECK", &cid).run(&c).expect_spec_error();
            assert!(msg.contains("failed to find an address"), "{msg}");
        }
    }
    assert!(e.fx.reservations().is_empty());
}

#[test]
fn dual_stack_and_the_one_address_per_family_rule() {
    require_root!();
    let e = Env::new();
    let two_v4 = json!({"ranges": [[{"subnet": "10.77.0.0/24"}], [{"subnet": "10.78.0.0/24"}]]});
    let dual = json!({"ranges": [[{"subnet": "10.77.0.0/24"}], [{"subnet": "fd00:77::/64"}]]});
    for v in Version::ALL {
        let r = e
            .call("ADD", "dual")
            .run(&conf(v, e.fx.dir.path(), dual.clone()))
            .expect_success();
        let addrs = addresses(&r);
        assert_eq!(addrs.len(), 2, "{v}: {r}");
        assert!(addrs[1].starts_with("fd00:77::"), "{addrs:?}");
        e.call("DEL", "dual")
            .run(&conf(v, e.fx.dir.path(), dual.clone()))
            .expect_success();
        let out = e
            .call("ADD", "two")
            .run(&conf(v, e.fx.dir.path(), two_v4.clone()));
        if v.has_multiple_ips() {
            assert_eq!(addresses(&out.expect_success()).len(), 2);
            e.call("DEL", "two")
                .run(&conf(v, e.fx.dir.path(), two_v4.clone()))
                .expect_success();
        } else {
            let (code, msg) = out.expect_spec_error();
            assert_eq!(code, 7);
            assert!(
                msg.contains("does not support more than 1 address per family"),
                "{msg}"
            );
        }
    }
    assert!(e.fx.reservations().is_empty());
}

#[test]
fn round_robin_and_legacy_keys_and_ranges() {
    require_root!();
    let e = Env::new();
    let v = Version::V1_0_0;
    // legacy top-level keys, prepended as range set 0
    let legacy = json!({"subnet": "10.79.0.0/29", "rangeStart": "10.79.0.3", "rangeEnd": "10.79.0.5", "gateway": "10.79.0.1", "ranges": []});
    let c = conf(v, e.fx.dir.path(), legacy);
    let mut got = Vec::new();
    for i in 0..3 {
        got.push(addresses(&e.call("ADD", &format!("c{i}")).run(&c).expect_success())[0].clone());
    }
    assert_eq!(got, ["10.79.0.3/29", "10.79.0.4/29", "10.79.0.5/29"]);
    // exhausted: an error, and nothing else reserved
    let (code, msg) = e.call("ADD", "c9").run(&c).expect_spec_error();
    assert_eq!(code, 999);
    assert!(
        msg.contains("no IP addresses available in range set: 10.79.0.3-10.79.0.5"),
        "{msg}"
    );
    // round robin continues after the last reserved, not from the start
    e.call("DEL", "c0").run(&c).expect_success();
    e.call("DEL", "c1").run(&c).expect_success();
    let next = addresses(&e.call("ADD", "c3").run(&c).expect_success())[0].clone();
    assert_eq!(next, "10.79.0.3/29");
    let files = e.fx.reservations();
    assert_eq!(
        files.iter().filter(|f| !f.starts_with('.')).count(),
        2,
        "{files:?}"
    );
}

// Documentation/conformance.md item 34: capability payloads with Go-default capitalised keys
#[test]
fn conformance_34_requested_addresses_and_capitalised_capabilities() {
    require_root!();
    let e = Env::new();
    let v = Version::V1_0_0;
    let dual = json!({"ranges": [[{"subnet": "10.77.0.0/24"}], [{"subnet": "fd00:77::/64"}]]});
    let base = conf(v, e.fx.dir.path(), dual);
    // CNI_ARGS IP= (podman --ip), with IgnoreUnknown for the K8S keys
    let r = e
        .call("ADD", "a")
        .cni_args("IgnoreUnknown=1;K8S_POD_NAME=x;IP=10.77.0.50")
        .run(&base)
        .expect_success();
    assert_eq!(addresses(&r)[0], "10.77.0.50/24");
    // args.cni.ips and runtimeConfig.ips (capitalised keys too), both families
    let mut c = base.clone();
    c["args"] = json!({"cni": {"ips": ["10.77.0.60"]}});
    c["RuntimeConfig"] = json!({"IPs": ["fd00:77::60/64"]});
    let r = e.call("ADD", "b").run(&c).expect_success();
    assert_eq!(addresses(&r), ["10.77.0.60/24", "fd00:77::60/64"]);
    // taken, gateway, outside every range: errors, nothing left reserved
    let before = e.fx.reservations();
    for (ip, want) in [
        (
            "10.77.0.50",
            "requested IP address 10.77.0.50 is not available",
        ),
        ("10.77.0.1", "requested ip 10.77.0.1 is subnet's gateway"),
        (
            "192.168.99.9",
            "failed to allocate all requested IPs: 192.168.99.9",
        ),
    ] {
        let (code, msg) = e
            .call("ADD", "c")
            .cni_args(&format!("IP={ip}"))
            .run(&base)
            .expect_spec_error();
        assert_eq!(code, 999, "{ip}");
        assert!(msg.contains(want), "{ip}: {msg}");
        assert_eq!(e.fx.reservations(), before, "{ip}: nothing reserved");
    }
    // malformed CNI_ARGS
    let (code, _) = e
        .call("ADD", "c")
        .cni_args("K8S_POD_NAME=x")
        .run(&base)
        .expect_spec_error();
    assert_eq!(code, 4);
    let (code, _) = e
        .call("ADD", "c")
        .cni_args("IP=bogus")
        .run(&base)
        .expect_spec_error();
    assert_eq!(code, 4);
    // ipRanges capability is prepended (containerd's capitalised keys)
    let mut c = base.clone();
    c["runtimeConfig"] =
        json!({"ipRanges": [[{"Subnet": "10.88.0.0/24", "RangeStart": "10.88.0.10"}]]});
    let r = e.call("ADD", "d").run(&c).expect_success();
    assert_eq!(addresses(&r)[0], "10.88.0.10/24");
    assert_eq!(addresses(&r).len(), 3);
}

#[test]
fn bad_configs() {
    require_root!();
    let e = Env::new();
    let v = Version::V1_0_0;
    let cases: Vec<(Value, u64, &str)> = vec![
        (
            json!({"cniVersion": "1.0.0", "name": "hl-net"}),
            7,
            "IPAM config missing 'ipam' key",
        ),
        (
            conf(v, e.fx.dir.path(), json!({"ranges": []})),
            7,
            "no IP ranges specified",
        ),
        (
            conf(
                v,
                e.fx.dir.path(),
                json!({"ranges": [[{"subnet": "10.77.0.5/24"}]]}),
            ),
            7,
            "has host bits set",
        ),
        (
            conf(
                v,
                e.fx.dir.path(),
                json!({"ranges": [[{"subnet": "10.77.0.0/31"}]]}),
            ),
            7,
            "too small to allocate from",
        ),
        (
            conf(
                v,
                e.fx.dir.path(),
                json!({"ranges": [[{"subnet": "10.77.0.0/24"}], [{"subnet": "10.77.0.0/25"}]]}),
            ),
            7,
            "range set 0 overlaps with 1",
        ),
        (
            conf(
                v,
                e.fx.dir.path(),
                json!({"ranges": [[{"subnet": "10.77.0.0/24"}, {"subnet": "fd00::/64"}]]}),
            ),
            7,
            "mixed address families",
        ),
        (
            conf(
                v,
                e.fx.dir.path(),
                json!({"ranges": [[{"subnet": "10.77.0.0/24", "rangeStart": "10.78.0.1"}]]}),
            ),
            7,
            "rangeStart 10.78.0.1 not in network",
        ),
        (
            conf(v, e.fx.dir.path(), json!({"ranges": "10.77.0.0/24"})),
            6,
            "failed to parse network config",
        ),
        (
            conf(
                v,
                e.fx.dir.path(),
                json!({"resolvConf": "/nonexistent/resolv.conf"}),
            ),
            5,
            "failed to read resolvConf /nonexistent/resolv.conf",
        ),
    ];
    for (c, code, msg) in cases {
        let (got_code, got_msg) = e.call("ADD", "x").run(&c).expect_spec_error();
        assert_eq!(got_code, code, "{c}: {got_msg}");
        assert!(got_msg.contains(msg), "{got_msg} should contain {msg}");
    }
    assert!(e.fx.reservations().is_empty());
    // malformed JSON and an unknown version
    let (code, _) = e
        .call("ADD", "x")
        .run_raw(b"{\"name\":")
        .expect_spec_error();
    assert_eq!(code, 6);
    let mut c = conf(v, e.fx.dir.path(), json!({}));
    c["cniVersion"] = json!("2.0.0");
    assert_eq!(e.call("ADD", "x").run(&c).expect_spec_error().0, 1);
}

#[test]
fn resolv_conf_becomes_dns() {
    require_root!();
    let e = Env::new();
    let rc = e.fx.dir.path().join("resolv.conf");
    std::fs::write(
        &rc,
        "nameserver 10.0.0.53\nsearch a.example b.example\noptions ndots:2\ndomain example\n",
    )
    .unwrap();
    let r = e
        .call("ADD", "dns")
        .run(&conf(
            Version::V1_0_0,
            e.fx.dir.path(),
            json!({"resolvConf": rc}),
        ))
        .expect_success();
    assert_eq!(
        r["dns"],
        json!({"nameservers": ["10.0.0.53"], "domain": "example", "search": ["a.example", "b.example"], "options": ["ndots:2"]})
    );
}

// Documentation/conformance.md item 37: 50 concurrent ADDs, 50 distinct addresses
#[test]
fn conformance_37_concurrent_adds_get_distinct_addresses() {
    require_root!();
    let e = Env::new();
    let c = conf(Version::V1_0_0, e.fx.dir.path(), json!({}));
    let results: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let call = e.call("ADD", &format!("par-{i}"));
                let c = c.clone();
                s.spawn(move || addresses(&call.run(&c).expect_success())[0].clone())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let unique: HashSet<&String> = results.iter().collect();
    assert_eq!(unique.len(), 50, "{results:?}");
    // and 50 concurrent DELs leave nothing
    std::thread::scope(|s| {
        for i in 0..50 {
            let call = e.call("DEL", &format!("par-{i}"));
            let c = c.clone();
            s.spawn(move || call.run(&c).expect_success());
        }
    });
    assert!(e.fx.reservations().is_empty());
}

// Documentation/conformance.md item 30: GC removes only attachments missing from the valid list
#[test]
fn conformance_30_gc() {
    require_root!();
    let e = Env::new();
    let c = conf(Version::V1_1_0, e.fx.dir.path(), json!({}));
    for cid in ["keep", "drop1", "drop2"] {
        e.call("ADD", cid).run(&c).expect_success();
    }
    let gc = |key: &str, list: Value| {
        let mut g = c.clone();
        g[key] = list;
        e.fx.network_call("GC").run(&g)
    };
    gc("cni.dev/valid-attachments", json!([{"containerID": "keep", "ifname": "eth0"}, {"containerID": "drop1", "ifname": "eth1"}])).expect_success();
    let left: Vec<String> =
        e.fx.reservations()
            .into_iter()
            .filter(|f| !f.starts_with('.'))
            .collect();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(
        std::fs::read(e.fx.netdir().join(&left[0])).unwrap(),
        b"keep\r\neth0"
    );
    // the legacy key works too; an empty list releases everything
    gc(
        "cni.dev/attachments",
        json!([{"containerID": "keep", "ifname": "eth0"}]),
    )
    .expect_success();
    assert_eq!(
        e.fx.reservations()
            .iter()
            .filter(|f| !f.starts_with('.'))
            .count(),
        1
    );
    gc("cni.dev/valid-attachments", json!([])).expect_success();
    assert!(e.fx.reservations().is_empty());
    // GC needs 1.1.0
    let mut old = c.clone();
    old["cniVersion"] = json!("1.0.0");
    let (code, _) = e.fx.network_call("GC").run(&old).expect_spec_error();
    assert_eq!(code, 1);
}

// Documentation/conformance.md item 31: STATUS is 0 when ready, 50 when the pool is exhausted or the store unusable
#[test]
fn conformance_31_status() {
    require_root!();
    let e = Env::new();
    let c = conf(
        Version::V1_1_0,
        e.fx.dir.path(),
        json!({"ranges": [[{"subnet": "10.77.0.0/30"}]]}),
    );
    let status = |c: &Value| e.fx.network_call("STATUS").run(c);
    status(&c).expect_success();
    e.call("ADD", "only").run(&c).expect_success();
    let (code, msg) = status(&c).expect_spec_error();
    assert_eq!((code, msg.as_str()), (50, "address pool exhausted"));
    // a data dir that cannot be created
    let file = e.fx.dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let bad = conf(Version::V1_1_0, &file, json!({}));
    let (code, _) = status(&bad).expect_spec_error();
    assert_eq!(code, 50);
}

/// Go host-local from Debian (1.1.1) speaks up to 1.0.0.
fn go_host_local() -> Option<std::path::PathBuf> {
    require_go("host-local", &[])
}

#[test]
fn interop_go_allocates_rust_releases() {
    require_root!();
    let Some(go) = go_host_local() else { return };
    let e = Env::new();
    for v in [Version::V0_3_1, Version::V0_4_0, Version::V1_0_0] {
        let dual = json!({"ranges": [[{"subnet": "10.77.0.0/24"}], [{"subnet": "fd00:77::/64"}]]});
        let c = conf(v, e.fx.dir.path(), dual);
        let go_ips = addresses(
            &e.call_with(go.clone(), "ADD", "go-ctr")
                .run(&c)
                .expect_success(),
        );
        // ours sees Go's reservation: no duplicate, CHECK finds it
        let ours = addresses(&e.call("ADD", "rs-ctr").run(&c).expect_success());
        assert!(
            go_ips.iter().all(|ip| !ours.contains(ip)),
            "{go_ips:?} vs {ours:?}"
        );
        if v.has_check() {
            e.call("CHECK", "go-ctr").run(&c).expect_success();
        }
        // ours releases Go's, Go releases ours
        e.call("DEL", "go-ctr").run(&c).expect_success();
        e.call_with(go.clone(), "DEL", "rs-ctr")
            .run(&c)
            .expect_success();
        assert!(
            e.fx.reservations().is_empty(),
            "{v}: {:?}",
            files_under(&e.fx.netdir())
        );
    }
}

#[test]
fn interop_alternating_allocations_never_collide() {
    require_root!();
    let Some(go) = go_host_local() else { return };
    let e = Env::new();
    let c = conf(
        Version::V1_0_0,
        e.fx.dir.path(),
        json!({"ranges": [[{"subnet": "10.77.0.0/28"}]]}),
    );
    // 13 usable addresses (.2-.14): fill them alternating Go and Rust
    let mut seen = HashSet::new();
    for i in 0..13 {
        let plugin = if i % 2 == 0 {
            go.clone()
        } else {
            plugin_path("host-local")
        };
        let ip = addresses(
            &e.call_with(plugin, "ADD", &format!("c{i}"))
                .run(&c)
                .expect_success(),
        )[0]
        .clone();
        assert!(seen.insert(ip.clone()), "{ip} handed out twice");
    }
    // both see the range as full
    assert_eq!(e.call("ADD", "x").run(&c).expect_spec_error().0, 999);
    assert_ne!(e.call_with(go.clone(), "ADD", "y").run(&c).code, 0);
    // release in the opposite pairing
    for i in 0..13 {
        let plugin = if i % 2 == 1 {
            go.clone()
        } else {
            plugin_path("host-local")
        };
        e.call_with(plugin, "DEL", &format!("c{i}"))
            .run(&c)
            .expect_success();
    }
    assert!(
        e.fx.reservations().is_empty(),
        "{:?}",
        files_under(&e.fx.netdir())
    );
    // Go's DEL of a Rust reservation, then Rust reusing the address
    let ip = addresses(&e.call("ADD", "r1").run(&c).expect_success())[0].clone();
    e.call_with(go.clone(), "DEL", "r1")
        .run(&c)
        .expect_success();
    let again = addresses(
        &e.call("ADD", "r2")
            .cni_args(&format!("IP={}", ip.split('/').next().unwrap()))
            .run(&c)
            .expect_success(),
    );
    assert_eq!(again[0], ip);
}

/// Our DEL keeps the released file and index directory as spares under
/// `.attachments/.spare/`; Go, which matches every file under the network
/// directory by content, must not take them for the attachment.
#[test]
fn interop_go_ignores_spares() {
    require_root!();
    let Some(go) = go_host_local() else { return };
    let e = Env::new();
    let c = conf(
        Version::V1_0_0,
        e.fx.dir.path(),
        json!({"ranges": [[{"subnet": "10.77.0.0/28"}]]}),
    );
    let go_call = |cmd: &str, cid: &str| e.call_with(go.clone(), cmd, cid).run(&c);
    e.call("ADD", "c1").run(&c).expect_success();
    e.call("DEL", "c1").run(&c).expect_success();
    let spare = e.fx.netdir().join(".attachments/.spare");
    assert!(spare.join("f0").is_file() && spare.join("d0").is_dir());
    assert_ne!(
        go_call("CHECK", "c1").code,
        0,
        "Go finds a released attachment"
    );
    // a spare reused by ours, and released by Go
    let ip = addresses(&e.call("ADD", "c2").run(&c).expect_success());
    assert!(!spare.join("f0").exists());
    go_call("CHECK", "c2").expect_success();
    let go_ip = addresses(&go_call("ADD", "g1").expect_success());
    assert_ne!(ip, go_ip);
    go_call("DEL", "c2").expect_success();
    e.call("DEL", "g1").run(&c).expect_success();
    assert!(
        e.fx.reservations().is_empty(),
        "{:?}",
        files_under(&e.fx.netdir())
    );
    assert_ne!(go_call("CHECK", "g1").code, 0);
}

#[test]
fn duplicate_add_is_refused_like_go() {
    require_root!();
    let e = Env::new();
    let c = conf(Version::V1_0_0, e.fx.dir.path(), json!({}));
    let ip = addresses(&e.call("ADD", "dup").run(&c).expect_success())[0].clone();
    let (code, msg) = e.call("ADD", "dup").run(&c).expect_spec_error();
    assert_eq!(code, 999);
    assert!(msg.contains("duplicate allocation is not allowed"), "{msg}");
    assert!(msg.contains(ip.split('/').next().unwrap()));
    // a different interface of the same container is a different attachment
    e.call("ADD", "dup").ifname("net1").run(&c).expect_success();
}

// Documentation/conformance.md item 24: DEL after a failed ADD succeeds and leaves nothing
#[test]
fn conformance_24_del_after_failed_add() {
    require_root!();
    let e = Env::new();
    let c = conf(
        Version::V1_0_0,
        e.fx.dir.path(),
        json!({"ranges": [[{"subnet": "10.77.0.0/24"}], [{"subnet": "fd00:77::/64"}]]}),
    );
    e.call("ADD", "holder")
        .cni_args("IP=fd00:77::9")
        .run(&c)
        .expect_success();
    // range set 0 succeeds, range set 1 cannot give the requested address
    let (code, msg) = e
        .call("ADD", "victim")
        .cni_args("IP=fd00:77::9")
        .run(&c)
        .expect_spec_error();
    assert_eq!(code, 999);
    assert!(msg.starts_with("failed to allocate for range 1"), "{msg}");
    e.call("DEL", "victim").run(&c).expect_success();
    e.call("DEL", "holder").run(&c).expect_success();
    assert!(
        e.fx.reservations().is_empty(),
        "{:?}",
        files_under(&e.fx.netdir())
    );
}

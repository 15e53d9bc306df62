//! tuning, executed as a runtime would: chained after a veth attachment
//! (made here with `ip`, or by our bridge plugin), for every spec version;
//! link attributes and sysctls read back from the kernel, the backup file
//! compared with Go's format, and interop with Debian's Go tuning.

use std::path::{Path, PathBuf};

use integration::*;
use pkg::netlink::Link;
use serde_json::{Value, json};

const HOST_VETH: &str = "hveth0";
const ORIG_MAC: &str = "0e:00:00:00:00:11";

/// A fake host and a container joined by a veth, as a main plugin leaves
/// them, and a dataDir for the backups.
struct Env {
    fx: Fixture,
    ctr: TestNs,
    ifname: String,
}

impl Env {
    fn new() -> Env {
        Env::with_ifname("eth0")
    }

    fn with_ifname(ifname: &str) -> Env {
        let fx = Fixture::in_host(TestNs::new("thost"), "tuning", "tunnet");
        let data_dir = json!({"dataDir": fx.dir.path()});
        let fx = fx.keys(data_dir);
        let ctr = TestNs::new("tctr");
        veth_into(&fx.host, HOST_VETH, &ctr, ifname);
        ctr.ip(&["link", "set", ifname, "address", ORIG_MAC]);
        Env {
            fx,
            ctr,
            ifname: ifname.into(),
        }
    }

    /// What the main plugin returned, in `v`'s shape.
    fn prev(&self, v: Version) -> Value {
        let host = End {
            name: HOST_VETH,
            mac: &self.host_link().mac_string(),
            sandbox: "",
        };
        let ctr = End {
            name: &self.ifname,
            mac: ORIG_MAC,
            sandbox: &self.ctr.path_str(),
        };
        veth_result(v, host, ctr, "10.77.0.2/24", Some("10.77.0.1"))
    }

    fn conf(&self, v: Version, extra: Value) -> Value {
        with_prev(&self.fx.conf(v, extra), &self.prev(v))
    }

    fn call(&self, cmd: &str) -> Call {
        self.call_with(plugin_path("tuning"), cmd)
    }

    fn call_with(&self, plugin: PathBuf, cmd: &str) -> Call {
        runtime_call(plugin, cmd, "tune1", &self.ctr, &self.fx.host).ifname(&self.ifname)
    }

    fn link(&self) -> Link {
        link_in(&self.ctr, &self.ifname).expect("the container's interface")
    }

    fn host_link(&self) -> Link {
        self.fx.host_link(HOST_VETH).expect("the host end")
    }

    fn backup(&self) -> PathBuf {
        self.fx
            .dir
            .path()
            .join(format!("tune1_{}.json", self.ifname))
    }

    fn sysctl(&self, path: &str) -> String {
        sysctl_in(&self.ctr, path)
    }

    /// The interface is as `Env::new` made it.
    fn assert_pristine(&self, what: &str) {
        let l = self.link();
        assert_eq!(l.mac_string(), ORIG_MAC, "{what}: mac");
        assert_eq!(l.mtu, 1500, "{what}: mtu");
        assert!(!l.is_promisc(), "{what}: promisc");
        assert!(!l.is_allmulti(), "{what}: allmulti");
        assert_eq!(l.txqlen(), 1000, "{what}: txqlen");
        assert_eq!(self.host_link().mtu, 1500, "{what}: host mtu");
        assert!(!self.backup().exists(), "{what}: backup left");
    }
}

fn all_keys() -> Value {
    json!({
        "mac": "0e:00:00:00:00:22",
        "promisc": true,
        "mtu": 1400,
        "txQLen": 2000,
        "allmulti": true,
        "sysctl": {
            "net.ipv4.conf.IFNAME.arp_notify": "1",
            "net/ipv4/conf/IFNAME/arp_ignore": "2",
            "net.core.somaxconn": "1234",
        },
    })
}

#[test]
fn every_key_every_version() {
    require_root!();
    for v in Version::ALL {
        let env = Env::new();
        assert_eq!(env.sysctl("/proc/sys/net/core/somaxconn"), "4096");
        let c = env.conf(v, all_keys());
        let r = env.call("ADD").run(&c).expect_success();
        assert_eq!(r["cniVersion"], v.as_str());

        // Documentation/conformance.md item 20: prevResult out, with the new MAC
        let mut want = env.prev(v);
        if v >= Version::V0_3_0 {
            want["interfaces"][1]["mac"] = json!("0e:00:00:00:00:22");
        }
        if v >= Version::V1_1_0 {
            want["interfaces"][0]["mtu"] = json!(1400);
            want["interfaces"][1]["mtu"] = json!(1400);
        }
        assert_eq!(r, want, "{v}");

        let l = env.link();
        assert_eq!(l.mac_string(), "0e:00:00:00:00:22", "{v}");
        assert!(l.is_promisc(), "{v}");
        assert_eq!(l.mtu, 1400, "{v}");
        assert_eq!(l.txqlen(), 2000, "{v}");
        assert!(l.is_allmulti(), "{v}");
        // pain point 13: the host end follows the MTU
        assert_eq!(env.host_link().mtu, 1400, "{v}");
        assert_eq!(env.sysctl("/proc/sys/net/ipv4/conf/eth0/arp_notify"), "1");
        assert_eq!(env.sysctl("/proc/sys/net/ipv4/conf/eth0/arp_ignore"), "2");
        assert_eq!(env.sysctl("/proc/sys/net/core/somaxconn"), "1234");

        // the backup is Go's configToRestore, one-space indented, 0600
        let text = std::fs::read_to_string(env.backup()).unwrap();
        let host_index = env.host_link().index;
        assert_eq!(
            text,
            format!(
                "{{\n \"mac\": \"{ORIG_MAC}\",\n \"promisc\": false,\n \"mtu\": 1500,\n \"allmulti\": false,\n \"txQLen\": 1000,\n \"hostPeer\": {{\n  \"name\": \"{HOST_VETH}\",\n  \"index\": {host_index},\n  \"mtu\": 1500\n }}\n}}"
            ),
            "{v}"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.backup())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        if v.has_check() {
            let out = env.call("CHECK").run(&with_prev(&c, &r));
            assert_eq!(
                out.expect_success(),
                Value::Null,
                "{v}: CHECK prints nothing"
            );
        }
        // Documentation/conformance.md item 22: DEL twice
        env.call("DEL").run(&c).expect_success();
        env.assert_pristine(&format!("{v} after DEL"));
        env.call("DEL").run(&c).expect_success();
        // sysctls die with the namespace; Go does not restore them either
        assert_eq!(env.sysctl("/proc/sys/net/core/somaxconn"), "1234");
    }
}

// Documentation/conformance.md item 20: a chained plugin with nothing to do returns prevResult
#[test]
fn conformance_20_nothing_configured_passes_prev_result_through() {
    require_root!();
    let env = Env::new();
    for v in Version::ALL {
        let c = env.conf(v, json!({}));
        let r = env.call("ADD").run(&c).expect_success();
        assert_eq!(r, env.prev(v), "{v}");
        assert!(!env.backup().exists());
        env.call("DEL").run(&c).expect_success();
    }
}

#[test]
fn args_cni_runtime_config_and_cni_args() {
    require_root!();
    let env = Env::new();
    let v = Version::V1_0_0;
    // CNI_ARGS MAC, overridden by runtimeConfig.mac, overridden by args.cni.mac
    let c = env.conf(
        v,
        json!({
            "mac": "0e:00:00:00:00:01",
            "mtu": 1450,
            "sysctl": {"net.core.somaxconn": "100"},
            "runtimeConfig": {"mac": "0e:00:00:00:00:03"},
            "args": {"cni": {"mac": "0e:00:00:00:00:04", "mtu": 1300, "promisc": true,
                "allmulti": false, "txQLen": 0,
                "sysctl": {"net/core/somaxconn": "200", "net.ipv4.conf.IFNAME.arp_notify": "1"}}},
        }),
    );
    let r = env
        .call("ADD")
        .cni_args("IgnoreUnknown=1;K8S_POD_NAME=p;MAC=0e:00:00:00:00:02")
        .run(&c)
        .expect_success();
    assert_eq!(r["interfaces"][1]["mac"], "0e:00:00:00:00:04");
    let l = env.link();
    assert_eq!(l.mac_string(), "0e:00:00:00:00:04");
    assert_eq!(l.mtu, 1300);
    assert!(l.is_promisc());
    assert!(!l.is_allmulti());
    assert_eq!(l.txqlen(), 0);
    assert_eq!(env.sysctl("/proc/sys/net/core/somaxconn"), "200");
    assert_eq!(env.sysctl("/proc/sys/net/ipv4/conf/eth0/arp_notify"), "1");
    let cc = with_prev(&c, &r);
    env.call("CHECK")
        .cni_args("IgnoreUnknown=1;K8S_POD_NAME=p;MAC=0e:00:00:00:00:02")
        .run(&cc)
        .expect_success();
    env.call("DEL").run(&c).expect_success();
    env.assert_pristine("after DEL");

    // capability payload alone, capitalised as Go runtimes send it
    let c = env.conf(v, json!({"RuntimeConfig": {"Mac": "0e:00:00:00:00:05"}}));
    env.call("ADD").run(&c).expect_success();
    assert_eq!(env.link().mac_string(), "0e:00:00:00:00:05");
    env.call("DEL").run(&c).expect_success();
    env.assert_pristine("after capability DEL");

    // an unknown CNI_ARGS key without IgnoreUnknown is refused (Go's rule)
    let (code, msg) = env
        .call("ADD")
        .cni_args("FOO=bar")
        .run(&env.conf(v, json!({"mtu": 1400})))
        .expect_spec_error();
    assert_eq!(code, 4, "{msg}");
    env.assert_pristine("after refused CNI_ARGS");
}

// Documentation/conformance.md item 25: CHECK fails once the kernel state differs from the config
#[test]
fn conformance_25_check_fails_after_tampering() {
    require_root!();
    let env = Env::new();
    let v = Version::V1_1_0;
    let c = env.conf(v, all_keys());
    let r = env.call("ADD").run(&c).expect_success();
    let cc = with_prev(&c, &r);
    env.call("CHECK").run(&cc).expect_success();
    let cases: [(&[&str], &[&str], &str); 5] = [
        (
            &["link", "set", "eth0", "mtu", "1500"],
            &["link", "set", "eth0", "mtu", "1400"],
            "MTU of eth0 is 1500, configured 1400",
        ),
        (
            &["link", "set", "eth0", "address", "0e:00:00:00:00:99"],
            &["link", "set", "eth0", "address", "0e:00:00:00:00:22"],
            "MAC address of eth0 is 0e:00:00:00:00:99, configured 0e:00:00:00:00:22",
        ),
        (
            &["link", "set", "eth0", "promisc", "off"],
            &["link", "set", "eth0", "promisc", "on"],
            "promiscuous mode of eth0 is off, configured on",
        ),
        (
            &["link", "set", "eth0", "allmulticast", "off"],
            &["link", "set", "eth0", "allmulticast", "on"],
            "all-multicast mode of eth0 is off, configured on",
        ),
        (
            &["link", "set", "eth0", "txqueuelen", "5"],
            &["link", "set", "eth0", "txqueuelen", "2000"],
            "transmit queue length of eth0 is 5, configured 2000",
        ),
    ];
    for (tamper, repair, want) in cases {
        env.ctr.ip(tamper);
        let (code, msg) = env.call("CHECK").run(&cc).expect_spec_error();
        assert_eq!(code, 999, "{msg}");
        assert!(msg.contains(want), "{msg}");
        env.ctr.ip(repair);
        env.call("CHECK").run(&cc).expect_success();
    }
    // a sysctl
    env.ctr
        .cmd(
            "sh",
            &["-c", "echo 0 > /proc/sys/net/ipv4/conf/eth0/arp_notify"],
        )
        .status()
        .unwrap();
    let (_, msg) = env.call("CHECK").run(&cc).expect_spec_error();
    assert!(
        msg.contains("sysctl net.ipv4.conf.IFNAME.arp_notify (/proc/sys/net/ipv4/conf/eth0/arp_notify) is \"0\", configured \"1\""),
        "{msg}"
    );
    env.ctr
        .cmd(
            "sh",
            &["-c", "echo 1 > /proc/sys/net/ipv4/conf/eth0/arp_notify"],
        )
        .status()
        .unwrap();
    env.call("CHECK").run(&cc).expect_success();
    // the interface gone
    env.ctr.ip(&["link", "del", "eth0"]);
    let (_, msg) = env.call("CHECK").run(&cc).expect_spec_error();
    assert!(msg.contains("cannot find container link eth0"), "{msg}");
    // without prevResult
    let mut np = c.clone();
    np.as_object_mut().unwrap().remove("prevResult");
    let (code, msg) = env.call("CHECK").run(&np).expect_spec_error();
    assert_eq!((code, msg.as_str()), (7, "required prevResult missing"));
    env.call("DEL").run(&c).expect_success();
    assert!(!env.backup().exists());
}

// Documentation/conformance.md item 23: DEL without netns or prevResult still succeeds and cleans up
#[test]
fn conformance_23_del_without_netns_or_prev_result() {
    require_root!();
    let env = Env::new();
    let v = Version::V0_4_0;
    let c = env.conf(v, json!({"mtu": 1400}));
    let mut bare = c.clone();
    bare.as_object_mut().unwrap().remove("prevResult");
    // restore needs only the backup: no prevResult
    env.call("ADD").run(&c).expect_success();
    env.call("DEL").run(&bare).expect_success();
    env.assert_pristine("DEL without prevResult");
    // no CNI_NETNS: nothing to restore, and nothing left behind
    env.call("ADD").run(&c).expect_success();
    assert!(env.backup().exists());
    env.call("DEL").netns_path("").run(&bare).expect_success();
    assert!(!env.backup().exists());
    // a netns that is gone
    env.call("ADD").run(&c).expect_success();
    env.call("DEL")
        .netns_path("/run/netns/cnit-gone-tuning")
        .run(&bare)
        .expect_success();
    assert!(!env.backup().exists());
    // an interface that is gone
    env.call("ADD").run(&c).expect_success();
    env.ctr.ip(&["link", "del", "eth0"]);
    env.call("DEL").run(&bare).expect_success();
    assert!(!env.backup().exists());
    // a corrupt backup does not block DEL
    std::fs::write(env.backup(), "{garbage").unwrap();
    let out = env.call("DEL").run(&bare);
    out.expect_success();
    assert!(out.stderr.contains("warning"), "{}", out.stderr);
    assert!(!env.backup().exists());
}

#[test]
fn bad_input_changes_nothing() {
    require_root!();
    let env = Env::new();
    let v = Version::V1_0_0;
    let some = json!({"mac": "0e:00:00:00:00:22", "mtu": 1400, "promisc": true});
    let with = |extra: Value| {
        let mut e = some.clone();
        for (k, val) in extra.as_object().cloned().unwrap_or_default() {
            e[k] = val;
        }
        env.conf(v, e)
    };
    let mut no_prev = env.conf(v, some.clone());
    no_prev.as_object_mut().unwrap().remove("prevResult");
    let cases: Vec<(Value, u64, &str)> = vec![
        (no_prev, 7, "required prevResult missing"),
        (
            with(json!({"sysctl": {"kernel.panic": "1"}})),
            7,
            "invalid sysctl key \"kernel.panic\"",
        ),
        (
            with(json!({"sysctl": {"net/../kernel/panic": "1"}})),
            7,
            "invalid sysctl key \"net/../kernel/panic\"",
        ),
        (
            with(json!({"sysctl": {"net.//.kernel.panic": "1"}})),
            7,
            "invalid sysctl key",
        ),
        (
            with(json!({"sysctl": {"net.core.somaxconn": 5}})),
            7,
            "sysctl net.core.somaxconn: the value must be a string, got 5",
        ),
        (
            with(json!({"mac": "0e:00:00:00:00"})),
            7,
            "invalid MAC address \"0e:00:00:00:00\"",
        ),
        (with(json!({"mtu": -1})), 7, "invalid mtu -1"),
        (with(json!({"txQLen": -1})), 7, "invalid txQLen -1"),
        // what the kernel would change silently (Go accepts them all)
        (
            with(json!({"sysctl": {"net.core.somaxconn": "1\nwhatever"}})),
            7,
            "invalid value \"1\\nwhatever\" for sysctl net.core.somaxconn",
        ),
        (
            with(json!({"mac": "0e:00:00:00:00:22:00:00:00:00:00:00:00:00:00:00:00:00:00:01"})),
            7,
            "invalid MAC address \"0e:00:00:00:00:22:00:00:00:00:00:00:00:00:00:00:00:00:00:01\" for eth0",
        ),
        (
            with(json!({"mac": "01:00:5e:00:00:01"})),
            7,
            "invalid MAC address \"01:00:5e:00:00:01\" for eth0",
        ),
        (with(json!({"mtu": 70000})), 7, "invalid mtu 70000"),
        (with(json!({"mtu": 67})), 7, "invalid mtu 67"),
        (
            with(json!({"sysctl": {"net.core.somaxconn": "77 78"}})),
            7,
            "invalid value \"77 78\" for sysctl net.core.somaxconn",
        ),
        (
            with(json!({"sysctl": {"net.core.somaxconn": "010"}})),
            7,
            "invalid value \"010\" for sysctl net.core.somaxconn",
        ),
        (
            with(json!({"sysctl": {"net.ipv4.tcp_rmem": "4096"}})),
            7,
            "invalid value \"4096\" for sysctl net.ipv4.tcp_rmem",
        ),
        (
            with(
                json!({"sysctl": {"net.core.somaxconn": "77", "net.ipv4.conf.IFNAME.no_such_knob": "1"}}),
            ),
            7,
            "invalid sysctl key \"net.ipv4.conf.IFNAME.no_such_knob\"",
        ),
        (
            with(json!({"sysctl": {"net.ipv4.tcp_available_congestion_control": "reno"}})),
            7,
            "invalid sysctl key \"net.ipv4.tcp_available_congestion_control\"",
        ),
        (
            with(json!({"promisc": "yes"})),
            6,
            "failed to parse network config",
        ),
    ];
    for (c, code, msg) in cases {
        let (got_code, got) = env.call("ADD").run(&c).expect_spec_error();
        assert_eq!(got_code, code, "{got}");
        assert!(got.starts_with(msg), "{got}");
        env.assert_pristine(msg);
        assert_eq!(env.sysctl("/proc/sys/net/core/somaxconn"), "4096");
    }
    // duplicate keys only show in the raw text
    let raw = env.conf(v, json!({})).to_string().replacen(
        '{',
        r#"{"sysctl": {"net.core.somaxconn": "1", "net.core.somaxconn": "2"},"#,
        1,
    );
    let (code, msg) = env.call("ADD").run_raw(raw.as_bytes()).expect_spec_error();
    assert_eq!(
        (code, msg.as_str()),
        (7, "duplicated sysctl keys are not allowed")
    );

    // failures half-way: everything changed so far is put back
    let half_way = [
        // the kernel refuses the last sysctl (somaxconn is at least 0)
        // after the link attributes and the first sysctl were changed
        json!({"sysctl": {"net.ipv4.conf.IFNAME.arp_notify": "1", "net.core.somaxconn": "-1"}}),
    ];
    for extra in half_way {
        let c = with(extra.clone());
        let (code, msg) = env.call("ADD").run(&c).expect_spec_error();
        assert_eq!(code, 999, "{msg}");
        assert!(
            msg.contains("failed to set sysctl net.core.somaxconn to \"-1\""),
            "{msg}"
        );
        env.assert_pristine(&extra.to_string());
        assert_eq!(
            env.sysctl("/proc/sys/net/core/somaxconn"),
            "4096",
            "{extra}"
        );
        assert_eq!(
            env.sysctl("/proc/sys/net/ipv4/conf/eth0/arp_notify"),
            "0",
            "{extra}"
        );
        // and DEL after the failed ADD succeeds (Documentation/conformance.md item 24)
        env.call("DEL").run(&c).expect_success();
    }
}

/// 10,000 keys in one ADD (issue 21): every one written, CHECK passes,
/// DEL restores the link. How the cost grows with the number of keys is
/// the benchmark's business (`cni-bench --only tuning-sysctls`), not a
/// test's.
#[test]
fn ten_thousand_sysctls() {
    require_root!();
    let env = Env::new();
    // about 250 sysctls per veth pair
    for i in 0..42 {
        env.ctr.ip(&[
            "link",
            "add",
            &format!("ma{i}"),
            "type",
            "veth",
            "peer",
            "name",
            &format!("mb{i}"),
        ]);
    }
    let before = link_sysctls(&env.ctr).unwrap();
    assert!(before.len() >= 10_000, "only {} sysctls", before.len());
    // the current values, but every arp_notify turned on: something changes
    let want: Vec<(String, String)> = before[..10_000]
        .iter()
        .map(|(k, v)| {
            let v = if k.ends_with("/arp_notify") { "1" } else { v };
            (k.clone(), v.to_string())
        })
        .collect();
    let flipped = before[..10_000]
        .iter()
        .filter(|(k, v)| k.ends_with("/arp_notify") && v != "1")
        .count();
    assert!(flipped >= 40, "{flipped} arp_notify keys");
    let map: serde_json::Map<String, Value> =
        want.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let v = Version::V1_0_0;
    let c = env.conf(v, json!({"promisc": true, "txQLen": 2000, "sysctl": map}));

    let r = env.call("ADD").run(&c).expect_success();
    assert!(env.link().is_promisc());
    assert_eq!(env.link().txqlen(), 2000);
    // every key reads back as set (runs of whitespace as one, as CHECK)
    let fold = |v: &str| v.split_whitespace().collect::<Vec<_>>().join(" ");
    let now: std::collections::HashMap<String, String> =
        link_sysctls(&env.ctr).unwrap().into_iter().collect();
    for (k, v) in &want {
        assert_eq!(now.get(k).map(|x| fold(x)), Some(fold(v)), "{k}");
    }
    env.call("CHECK").run(&with_prev(&c, &r)).expect_success();

    env.call("DEL").run(&c).expect_success();
    env.assert_pristine("after DEL");
    // sysctls are not put back (Go neither): they go with the namespace;
    // the others were written with the values they had
    let after = link_sysctls(&env.ctr).unwrap();
    assert_eq!(before.len(), after.len());
    let changed: Vec<&String> = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| b != a)
        .map(|(b, _)| &b.0)
        .collect();
    assert_eq!(changed.len(), flipped, "{changed:?}");
    assert!(
        changed.iter().all(|k| k.ends_with("/arp_notify")),
        "{changed:?}"
    );
}

#[test]
fn a_second_add_keeps_the_original_backup() {
    require_root!();
    let env = Env::new();
    let v = Version::V1_0_0;
    env.call("ADD")
        .run(&env.conf(v, json!({"mtu": 1400})))
        .expect_success();
    env.call("ADD")
        .run(&env.conf(v, json!({"mtu": 1300, "mac": "0e:00:00:00:00:33"})))
        .expect_success();
    assert_eq!(env.link().mtu, 1300);
    env.call("DEL")
        .run(&env.conf(v, json!({})))
        .expect_success();
    env.assert_pristine("after two ADDs and a DEL");
}

#[test]
fn dotted_interface_names() {
    require_root!();
    let env = Env::with_ifname("eth0.100");
    let v = Version::V1_0_0;
    let c = env.conf(
        v,
        json!({"sysctl": {
            "net.ipv4.conf.IFNAME.arp_notify": "1",
            "net/ipv4/conf/eth0.100/arp_ignore": "1",
            "net.ipv4.conf.eth0/100.arp_announce": "2",
        }}),
    );
    let r = env.call("ADD").run(&c).expect_success();
    for (leaf, want) in [
        ("arp_notify", "1"),
        ("arp_ignore", "1"),
        ("arp_announce", "2"),
    ] {
        assert_eq!(
            env.sysctl(&format!("/proc/sys/net/ipv4/conf/eth0.100/{leaf}")),
            want,
            "{leaf}"
        );
    }
    let cc = with_prev(&c, &r);
    env.call("CHECK").run(&cc).expect_success();
    env.call("DEL").run(&c).expect_success();
}

/// A wrapper running `plugin` in a private mount namespace whose /etc is an
/// overlay holding `allowlist`: the real /etc is never touched.
fn with_allowlist(dir: &Path, plugin: &Path, allowlist: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let list = dir.join("allowlist.conf");
    std::fs::write(&list, allowlist).unwrap();
    for d in ["up", "work"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let script = dir.join("plugin-with-allowlist");
    let inner = format!(
        "mount -t overlay overlay -o lowerdir=/etc,upperdir={d}/up,workdir={d}/work /etc && mkdir -p /etc/cni/tuning && cp {list} /etc/cni/tuning/allowlist.conf && exec {plugin}",
        d = dir.display(),
        list = list.display(),
        plugin = plugin.display()
    );
    write_executable(
        &script,
        &format!("#!/bin/sh\nexec unshare -m --propagation private sh -c '{inner}'\n"),
    );
    script
}

#[test]
fn allowlist_is_honoured() {
    require_root!();
    require_tools!("unshare");
    let env = Env::new();
    let v = Version::V1_0_0;
    let scratch = tempdir();
    let list = "^net\\.ipv4\\.conf\\.IFNAME\\.[a-z_]*$\n\n^net\\.core\\.somaxconn$\n";
    // (Debian's Go 1.1.1 predates the allowlist: only ours is run.)
    let wrapped = with_allowlist(scratch.path(), &plugin_path("tuning"), list);
    let ok = env.conf(
        v,
        json!({"sysctl": {"net.ipv4.conf.IFNAME.arp_notify": "1", "net.core.somaxconn": "99"}}),
    );
    env.call_with(wrapped.clone(), "ADD")
        .run(&ok)
        .expect_success();
    assert_eq!(env.sysctl("/proc/sys/net/core/somaxconn"), "99");
    let forward = env.sysctl("/proc/sys/net/ipv4/ip_forward");
    let flipped = if forward == "1" { "0" } else { "1" };
    let refused = env.conf(
        v,
        json!({"mtu": 1400, "sysctl": {"net.ipv4.ip_forward": flipped}}),
    );
    let (code, msg) = env
        .call_with(wrapped, "ADD")
        .run(&refused)
        .expect_spec_error();
    assert_eq!(
        (code, msg.as_str()),
        (
            7,
            "sysctl net.ipv4.ip_forward is not allowed by /etc/cni/tuning/allowlist.conf"
        )
    );
    assert_eq!(env.sysctl("/proc/sys/net/ipv4/ip_forward"), forward);
    assert_eq!(env.link().mtu, 1500);
    assert!(!Path::new("/etc/cni/tuning/allowlist.conf").exists());
}

#[test]
fn chained_after_bridge() {
    require_root!();
    let fx = Fixture::in_host(TestNs::new("tbhost"), "tuning", "tbnet");
    let ctr = TestNs::new("tbctr");
    for v in versions_from(Version::V0_3_0) {
        let bridge = fx.conf_of(
            "bridge",
            v,
            json!({"bridge": "tbr0", "isGateway": true,
                "ipam": {"type": "host-local", "dataDir": fx.dir.path().join("ipam"),
                         "ranges": [[{"subnet": "10.78.0.0/24"}]]}}),
        );
        let br = fx.add_of("bridge", &ctr, "tb1", &bridge);
        let tuning = fx.conf(
            v,
            json!({"dataDir": fx.dir.path().join("tuning"), "mtu": 1400,
                   "sysctl": {"net.ipv4.conf.IFNAME.arp_notify": "0"}}),
        );
        let tuning = with_prev(&tuning, &br.result);
        let a = fx.add(&ctr, "tb1", &tuning);
        let host_veth = a.result["interfaces"][1]["name"].as_str().unwrap();
        let hv = fx.host_link(host_veth).unwrap();
        assert_eq!(hv.mtu, 1400, "{v}: the bridge port follows");
        assert_eq!(link_in(&ctr, "eth0").unwrap().mtu, 1400);
        assert_eq!(
            sysctl_in(&ctr, "/proc/sys/net/ipv4/conf/eth0/arp_notify"),
            "0"
        );
        if v.has_check() {
            a.check().expect_success();
            // the bridge's CHECK with the chain's final result
            br.call
                .clone()
                .command("CHECK")
                .run(&with_prev(&bridge, &a.result))
                .expect_success();
        }
        a.del();
        assert_eq!(fx.host_link(host_veth).unwrap().mtu, 1500);
        br.del();
    }
}

#[test]
fn gc_and_status_are_no_ops() {
    require_root!();
    let env = Env::new();
    let c = json!({"cniVersion": "1.1.0", "name": "tunnet", "type": "tuning",
        "cni.dev/valid-attachments": []});
    env.fx.network_call("GC").run(&c).expect_success();
    env.fx.network_call("STATUS").run(&c).expect_success();
}

#[test]
fn interop_with_go_tuning() {
    require_root!();
    let Some(go) = require_go("tuning", &[]) else {
        return;
    };
    // Go 1.1.1 knows neither txQLen nor the host end, and its CHECK does
    // not substitute IFNAME: the key names the interface itself
    let v = Version::V1_0_0;
    let keys = json!({"mac": "0e:00:00:00:00:22", "promisc": true, "mtu": 1400,
        "allmulti": true, "sysctl": {"net.ipv4.conf.eth0.arp_notify": "1"}});

    // Go ADD, our CHECK and DEL
    let env = Env::new();
    let c = env.conf(v, keys.clone());
    let r = env.call_with(go.clone(), "ADD").run(&c).expect_success();
    assert_eq!(env.link().mtu, 1400);
    let cc = with_prev(&c, &r);
    env.call("CHECK").run(&cc).expect_success();
    env.call("DEL").run(&c).expect_success();
    env.assert_pristine("go add, rust del");

    // our ADD, Go's CHECK and DEL
    let env = Env::new();
    let c = env.conf(v, keys);
    let r = env.call("ADD").run(&c).expect_success();
    let cc = with_prev(&c, &r);
    env.call_with(go.clone(), "CHECK").run(&cc).expect_success();
    env.call_with(go, "DEL").run(&c).expect_success();
    let l = env.link();
    assert_eq!(l.mac_string(), ORIG_MAC);
    assert_eq!(l.mtu, 1500);
    assert!(!l.is_promisc());
    assert!(!l.is_allmulti());
    assert!(!env.backup().exists(), "go removed our backup");
}

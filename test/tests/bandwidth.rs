//! bandwidth, executed as a runtime would: chained after a veth attachment
//! (made here with `ip`, or by our bridge plugin), for every spec version
//! it supports (0.3.0 up); the shaping is checked in the qdisc parameters
//! the kernel reports (netlink and `tc -j`), never by timing traffic; GC of
//! stale IFBs; interop with Debian's Go bandwidth on the same devices.

use std::path::PathBuf;

use bandwidth::tc::{INGRESS_HANDLE, ROOT, Tbf, Tc, tick_in_usec};
use integration::*;
use pkg::netlink::Link;
use serde_json::{Value, json};

const NET: &str = "bwnet";

/// A fake host for the network `bwnet`.
fn net() -> Fixture {
    Fixture::in_host(TestNs::new("bhost"), "bandwidth", NET)
}

/// A container joined to the fake host by a veth whose host end is `veth`.
struct Env<'f> {
    fx: &'f Fixture,
    ctr: TestNs,
    veth: String,
}

impl<'f> Env<'f> {
    fn new(fx: &'f Fixture, veth: &str) -> Env<'f> {
        let ctr = TestNs::new("bctr");
        veth_into(&fx.host, veth, &ctr, "eth0");
        Env {
            fx,
            ctr,
            veth: veth.into(),
        }
    }

    fn prev(&self, v: Version) -> Value {
        let host = End {
            name: &self.veth,
            mac: &self.host_link(&self.veth).unwrap().mac_string(),
            sandbox: "",
        };
        let ctr = End {
            name: "eth0",
            mac: &self.ctr_link().mac_string(),
            sandbox: &self.ctr.path_str(),
        };
        veth_result(v, host, ctr, "10.79.0.2/24", None)
    }

    fn conf(&self, v: Version, extra: Value) -> Value {
        with_prev(&self.fx.conf(v, extra), &self.prev(v))
    }

    fn call(&self, cmd: &str, cid: &str) -> Call {
        self.fx.call(cmd, &self.ctr, cid)
    }

    fn call_with(&self, plugin: PathBuf, cmd: &str, cid: &str) -> Call {
        runtime_call(plugin, cmd, cid, &self.ctr, &self.fx.host)
    }

    fn ctr_link(&self) -> Link {
        link_in(&self.ctr, "eth0").expect("eth0 in the container")
    }

    fn host_link(&self, name: &str) -> Option<Link> {
        self.fx.host_link(name)
    }

    /// (parent, handle, kind, tbf) of the qdiscs of `dev` other than the
    /// device's default.
    fn qdiscs(&self, dev: &str) -> Vec<(u32, u32, String, Option<Tbf>)> {
        let index = self.host_link(dev).unwrap().index;
        tc_socket(&self.fx.host)
            .qdisc_list(Some(index))
            .unwrap()
            .into_iter()
            .filter(|q| q.handle != 0)
            .map(|q| (q.parent, q.handle, q.kind, q.tbf))
            .collect()
    }

    fn ifbs(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .fx
            .host
            .netlink()
            .link_list()
            .unwrap()
            .into_iter()
            .filter(|l| l.kind.as_deref() == Some("ifb"))
            .map(|l| l.name)
            .collect();
        v.sort();
        v
    }

    fn redirects(&self, dev: &str) -> Vec<u32> {
        let index = self.host_link(dev).unwrap().index;
        tc_socket(&self.fx.host).ingress_redirects(index).unwrap()
    }

    /// No qdisc of ours on the veth, no IFB.
    fn assert_clean(&self, what: &str) {
        assert_eq!(self.qdiscs(&self.veth), vec![], "{what}: veth qdiscs");
        assert_eq!(self.ifbs(), Vec::<String>::new(), "{what}: ifbs");
    }
}

/// Go's bwp + 12 hex digits of sha512(network + container ID).
fn ifb_name(network: &str, cid: &str) -> String {
    format!(
        "bwp{}",
        pkg::firewall::names::hash_hex(&format!("{network}{cid}"), 12)
    )
}

fn limits() -> Value {
    json!({"ingressRate": 1_000_000, "ingressBurst": 80_000,
        "egressRate": 2_000_000, "egressBurst": 160_000})
}

/// A traffic-control socket in `ns`.
fn tc_socket(ns: &TestNs) -> Tc {
    ns.open().run(Tc::new).unwrap()
}

fn tbf(rate: u64, burst: u64) -> Tbf {
    Tbf::from_bits(rate, burst, tick_in_usec())
}

#[test]
fn shapes_both_directions_every_version() {
    require_root!();
    // the kernel's 64 ns ticks: the numbers below are Go's for it
    assert_eq!(tick_in_usec(), 15.625);
    let ingress = Tbf {
        rate: 125_000,
        limit: 13_125,
        buffer: 1_250_000,
    };
    let egress = Tbf {
        rate: 250_000,
        limit: 26_250,
        buffer: 1_250_000,
    };
    for v in versions_from(Version::V0_3_0) {
        let fx = net();
        let env = Env::new(&fx, "hveth0");
        let c = env.conf(v, limits());
        let r = env.call("ADD", "bw1").run(&c).expect_success();
        let name = ifb_name(NET, "bw1");
        let ifb = env.host_link(&name).expect("ifb exists");

        // Documentation/conformance.md item 20: prevResult plus the IFB, {name, mac}
        let mut want = env.prev(v);
        want["interfaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": name, "mac": ifb.mac_string()}));
        assert_eq!(r, want, "{v}");

        // traffic to the container: tbf 1: at the root of the host veth
        let veth_q = env.qdiscs(&env.veth);
        assert!(
            veth_q.contains(&(ROOT, 0x1_0000, "tbf".into(), Some(ingress))),
            "{v}: {veth_q:?}"
        );
        // traffic from it: ingress qdisc ffff: redirecting to the IFB ...
        assert!(
            veth_q
                .iter()
                .any(|q| q.1 == INGRESS_HANDLE && q.2 == "ingress"),
            "{v}: {veth_q:?}"
        );
        assert_eq!(env.redirects(&env.veth), vec![ifb.index], "{v}");
        // ... shaped there
        assert_eq!(
            env.qdiscs(&name),
            vec![(ROOT, 0x1_0000, "tbf".into(), Some(egress))],
            "{v}"
        );
        // the IFB as Go makes it: up, the veth's MTU, no transmit queue
        assert!(ifb.is_up(), "{v}");
        assert_eq!(ifb.mtu, env.host_link(&env.veth).unwrap().mtu);
        assert_eq!(ifb.txqlen(), 0, "{v}");
        assert_eq!(
            ifb.alias,
            format!("cni-bandwidth network={NET} containerID=bw1")
        );

        // the same numbers as tc reports them
        let tc = output_in(
            &env.fx.host,
            "tc",
            &["-j", "qdisc", "show", "dev", &env.veth],
        );
        let tc: Value = serde_json::from_str(&tc).unwrap();
        let root = tc
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["kind"] == "tbf")
            .unwrap();
        assert_eq!(root["options"]["rate"], 125_000, "{tc}");
        assert_eq!(root["options"]["burst"], 10_000, "{tc}");

        if v.has_check() {
            let cc = with_prev(&c, &r);
            assert_eq!(
                env.call("CHECK", "bw1").run(&cc).expect_success(),
                Value::Null
            );
        }
        // Documentation/conformance.md item 22: DEL twice
        env.call("DEL", "bw1").run(&c).expect_success();
        // with prevResult, the veth's qdiscs go too: no redirect to a
        // deleted device
        env.assert_clean(&format!("{v} after DEL"));
        env.call("DEL", "bw1").run(&c).expect_success();
    }
}

#[test]
fn one_direction_only() {
    require_root!();
    let fx = net();
    let env = Env::new(&fx, "hveth0");
    let v = Version::V1_0_0;
    let c = env.conf(v, json!({"ingressRate": 8_000, "ingressBurst": 16_000}));
    let r = env.call("ADD", "in1").run(&c).expect_success();
    assert_eq!(r, env.prev(v), "no IFB in the result");
    assert_eq!(
        env.qdiscs(&env.veth),
        vec![(ROOT, 0x1_0000, "tbf".into(), Some(tbf(8_000, 16_000)))]
    );
    assert!(env.ifbs().is_empty());
    env.call("DEL", "in1").run(&c).expect_success();

    let fx = net();
    let env = Env::new(&fx, "hveth0");
    let c = env.conf(v, json!({"egressRate": 8_000, "egressBurst": 16_000}));
    let r = env.call("ADD", "eg1").run(&c).expect_success();
    assert_eq!(r["interfaces"].as_array().unwrap().len(), 3);
    let veth_q = env.qdiscs(&env.veth);
    assert_eq!(veth_q.len(), 1, "{veth_q:?}");
    assert_eq!(veth_q[0].2, "ingress");
    assert_eq!(env.ifbs(), vec![ifb_name(NET, "eg1")]);
    env.call("DEL", "eg1").run(&c).expect_success();
    assert!(env.ifbs().is_empty());
}

// Documentation/conformance.md item 34: the capability with Go-default capitalised keys; the
// top-level keys win when any is present
#[test]
fn conformance_34_capability_and_precedence() {
    require_root!();
    let v = Version::V0_4_0;
    let fx = net();
    let env = Env::new(&fx, "hveth0");
    let c = env.conf(
        v,
        json!({"capabilities": {"bandwidth": true}, "runtimeConfig": {"bandwidth": {
            "IngressRate": 16_000, "IngressBurst": 32_000, "EgressRate": 24_000, "EgressBurst": 48_000}}}),
    );
    env.call("ADD", "cap1").run(&c).expect_success();
    assert!(env.qdiscs(&env.veth).contains(&(
        ROOT,
        0x1_0000,
        "tbf".into(),
        Some(tbf(16_000, 32_000))
    )));
    assert_eq!(
        env.qdiscs(&ifb_name(NET, "cap1"))[0].3,
        Some(tbf(24_000, 48_000))
    );
    env.call("DEL", "cap1").run(&c).expect_success();
    env.assert_clean("capability");

    let fx = net();
    let env = Env::new(&fx, "hveth0");
    let c = env.conf(
        v,
        json!({"ingressRate": 40_000, "ingressBurst": 8_000,
            "runtimeConfig": {"bandwidth": {"egressRate": 24_000, "egressBurst": 48_000}}}),
    );
    env.call("ADD", "cap2").run(&c).expect_success();
    assert!(env.ifbs().is_empty(), "the capability was ignored");
    assert_eq!(env.qdiscs(&env.veth)[0].3, Some(tbf(40_000, 8_000)));
    env.call("DEL", "cap2").run(&c).expect_success();
}

// Documentation/conformance.md item 20: nothing to shape, prevResult through unchanged
#[test]
fn conformance_20_no_limits_passes_prev_result_through() {
    require_root!();
    let fx = net();
    let env = Env::new(&fx, "hveth0");
    for v in versions_from(Version::V0_3_0) {
        for extra in [
            json!({}),
            json!({"ingressRate": 0, "egressBurst": 0}),
            json!({"runtimeConfig": {"bandwidth": {}}}),
        ] {
            let c = env.conf(v, extra);
            assert_eq!(
                env.call("ADD", "nop").run(&c).expect_success(),
                env.prev(v),
                "{v}"
            );
            env.assert_clean("no limits");
            if v.has_check() {
                env.call("CHECK", "nop").run(&c).expect_success();
            }
            env.call("DEL", "nop").run(&c).expect_success();
        }
    }
    // versions before 0.3.0 are refused, as by Go
    let (code, _) = env
        .call("ADD", "old")
        .run(&json!({"cniVersion": "0.2.0", "name": NET, "type": "bandwidth"}))
        .expect_spec_error();
    assert_eq!(code, 1);
}

// Documentation/conformance.md item 25: CHECK compares the qdisc parameters and finds what is gone
#[test]
fn conformance_25_check_fails_after_tampering() {
    require_root!();
    let fx = net();
    let env = Env::new(&fx, "hveth0");
    let v = Version::V1_1_0;
    let c = env.conf(v, limits());
    let r = env.call("ADD", "chk").run(&c).expect_success();
    let cc = with_prev(&c, &r);
    env.call("CHECK", "chk").run(&cc).expect_success();
    let name = ifb_name(NET, "chk");

    // another rate on the veth
    let tc = |args: &[&str]| {
        let out = env.fx.host.cmd("tc", args).output().unwrap();
        assert!(out.status.success(), "tc {args:?}: {:?}", out);
    };
    tc(&[
        "qdisc", "change", "dev", "hveth0", "root", "handle", "1:", "tbf", "rate", "2mbit",
        "burst", "10000", "latency", "25ms",
    ]);
    let (code, msg) = env.call("CHECK", "chk").run(&cc).expect_spec_error();
    assert_eq!(code, 999);
    assert!(
        msg.starts_with(
            "rate (bytes/s) of the tbf qdisc of hveth0 doesn't match: 250000, configured 125000"
        ),
        "{msg}"
    );
    tc(&["qdisc", "del", "dev", "hveth0", "root"]);
    let (_, msg) = env.call("CHECK", "chk").run(&cc).expect_spec_error();
    assert_eq!(msg, "failed to find the tbf qdisc of hveth0");
    // put it back as Go would compute it, and CHECK passes again
    let want = tbf(1_000_000, 80_000);
    tc_socket(&env.fx.host)
        .qdisc_add_tbf(env.host_link("hveth0").unwrap().index, &want)
        .unwrap();
    env.call("CHECK", "chk").run(&cc).expect_success();

    // the redirect gone
    tc(&["qdisc", "del", "dev", "hveth0", "ingress"]);
    let (_, msg) = env.call("CHECK", "chk").run(&cc).expect_spec_error();
    assert!(
        msg.contains(&format!("no ingress filter of hveth0 redirects to {name}")),
        "{msg}"
    );
    // the IFB gone
    env.fx.host.ip(&["link", "del", &name]);
    let (_, msg) = env.call("CHECK", "chk").run(&cc).expect_spec_error();
    assert_eq!(msg, format!("ifb device {name} not found"));
    // without prevResult
    let mut np = c.clone();
    np.as_object_mut().unwrap().remove("prevResult");
    let (code, msg) = env.call("CHECK", "chk").run(&np).expect_spec_error();
    assert_eq!(
        (code, msg.as_str()),
        (7, "must be called as a chained plugin")
    );
    env.call("DEL", "chk").run(&c).expect_success();
}

// Documentation/conformance.md item 23: DEL needs neither the netns nor prevResult
#[test]
fn conformance_23_del_without_netns_or_prev_result() {
    require_root!();
    let fx = net();
    let env = Env::new(&fx, "hveth0");
    let v = Version::V1_0_0;
    let c = env.conf(v, limits());
    let mut bare = json!({"cniVersion": v.as_str(), "name": NET, "type": "bandwidth"});
    env.call("ADD", "d1").run(&c).expect_success();
    assert_eq!(env.ifbs(), vec![ifb_name(NET, "d1")]);
    env.call("DEL", "d1")
        .netns_path("")
        .run(&bare)
        .expect_success();
    assert!(env.ifbs().is_empty());
    // what is on the veth goes with the veth; without prevResult DEL
    // does not know which one it is
    assert_eq!(env.qdiscs("hveth0").len(), 2);
    let env = Env::new(&fx, "hveth1");
    let c = env.conf(v, limits());
    env.call("ADD", "d2").run(&c).expect_success();
    bare["ingressRate"] = json!(5); // invalid, but DEL must not care
    env.call("DEL", "d2")
        .netns_path("/run/netns/cnit-gone-bandwidth")
        .run(&bare)
        .expect_success();
    assert!(env.ifbs().is_empty());
    // DEL of an attachment that was never added
    env.call("DEL", "never").run(&bare).expect_success();
}

#[test]
fn bad_input_changes_nothing() {
    require_root!();
    let fx = net();
    let env = Env::new(&fx, "hveth0");
    let v = Version::V1_0_0;
    let mut no_prev = env.conf(v, limits());
    no_prev.as_object_mut().unwrap().remove("prevResult");
    let cases: Vec<(Value, u64, &str)> = vec![
        (no_prev, 7, "must be called as chained plugin"),
        (
            env.conf(v, json!({"ingressRate": 1000})),
            7,
            "if ingressRate is set, ingressBurst must also be set",
        ),
        (
            env.conf(v, json!({"egressBurst": 1000})),
            7,
            "if egressBurst is set, egressRate must also be set",
        ),
        (
            env.conf(
                v,
                json!({"runtimeConfig": {"bandwidth": {"egressRate": 1000, "egressBurst": 40_000_000_000u64}}}),
            ),
            7,
            "runtimeConfig.bandwidth.egressBurst 40000000000 is too large: burst cannot be more than 4GB",
        ),
        (
            env.conf(v, json!({"ingressRate": 4, "ingressBurst": 1000})),
            7,
            "ingressRate 4 is too small",
        ),
        (
            env.conf(v, json!({"ingressRate": -4, "ingressBurst": 1000})),
            7,
            "ingressRate must be a non-negative integer, got -4",
        ),
        (
            env.conf(v, json!({"ingressRate": "fast", "ingressBurst": 1000})),
            7,
            "ingressRate must be a non-negative integer",
        ),
    ];
    for (c, code, msg) in cases {
        let (got_code, got) = env.call("ADD", "bad").run(&c).expect_spec_error();
        assert_eq!(got_code, code, "{got}");
        assert!(got.starts_with(msg), "{got}");
        env.assert_clean(msg);
    }

    // prevResult without the host end
    let mut c = env.conf(v, limits());
    c["prevResult"]["interfaces"]
        .as_array_mut()
        .unwrap()
        .remove(0);
    let (code, msg) = env.call("ADD", "bad").run(&c).expect_spec_error();
    assert_eq!(
        (code, msg.as_str()),
        (999, "no veth peer of container interface found in host ns")
    );
    env.assert_clean("no host interface in prevResult");

    // a veth whose peer is in another namespace, not the host
    let elsewhere = TestNs::new("belse");
    let ctr = TestNs::new("bctr2");
    elsewhere.ip(&[
        "link", "add", "p0", "type", "veth", "peer", "name", "eth0", "netns", &ctr.name,
    ]);
    let (code, msg) = env
        .fx
        .call("ADD", &ctr, "bad")
        .run(&env.conf(v, limits()))
        .expect_spec_error();
    assert_eq!(code, 999);
    assert!(msg.starts_with("veth peer with index "), "{msg}");
    assert!(msg.ends_with(" is not in host ns"), "{msg}");
    env.assert_clean("peer elsewhere");

    // failure half-way: the veth already has an ingress qdisc of someone
    // else's; the tbf and the IFB this ADD made are removed again, and
    // the foreign qdisc stays
    env.fx.host.ip(&["link", "set", "hveth0", "up"]);
    let out = env
        .fx
        .host
        .cmd("tc", &["qdisc", "add", "dev", "hveth0", "ingress"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let (code, msg) = env
        .call("ADD", "half")
        .run(&env.conf(v, limits()))
        .expect_spec_error();
    assert_eq!(code, 999);
    assert!(msg.contains("hveth0 already has an ingress qdisc"), "{msg}");
    let q = env.qdiscs("hveth0");
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0].2, "ingress");
    assert!(env.ifbs().is_empty());
    // Documentation/conformance.md item 24: DEL after the failed ADD
    env.call("DEL", "half")
        .run(&env.conf(v, limits()))
        .expect_success();
}

#[test]
fn gc_removes_stale_ifbs_only() {
    require_root!();
    let v = Version::V1_1_0;
    let fx = net();
    // three attachments in one fake host: valid, stale, and one of another
    // network
    let keep = Env::new(&fx, "hv1");
    let stale = Env::new(&fx, "hv2");
    let other = Env::new(&fx, "hv3");
    let add = |e: &Env, net: &str, cid: &str| {
        let mut c = e.conf(v, limits());
        c["name"] = json!(net);
        e.call("ADD", cid).run(&c).expect_success();
    };
    add(&keep, NET, "keep");
    add(&stale, NET, "stale");
    add(&other, "othernet", "other");
    let gc = json!({"cniVersion": "1.1.0", "name": NET, "type": "bandwidth",
        "cni.dev/valid-attachments": [{"containerID": "keep", "ifname": "eth0"}]});
    let run_gc = |c: &Value| fx.network_call("GC").run(c).expect_success();
    run_gc(&gc);
    let mut want = vec![ifb_name(NET, "keep"), ifb_name("othernet", "other")];
    want.sort();
    assert_eq!(keep.ifbs(), want);
    // the stale attachment's veth no longer redirects to a missing device
    assert!(stale.redirects("hv2").is_empty());
    assert_eq!(keep.redirects("hv1").len(), 1);

    // Go's IFBs carry no alias: one whose veth is gone is collected, one
    // still fed by its veth is not
    if let Some(go) = require_go("bandwidth", &[]) {
        let gone = Env::new(&fx, "gv1");
        let alive = Env::new(&fx, "gv2");
        for (e, cid) in [(&gone, "gv1"), (&alive, "gv2")] {
            // Debian's Go plugin speaks up to 1.0.0
            e.call_with(go.clone(), "ADD", cid)
                .run(&e.conf(Version::V1_0_0, limits()))
                .expect_success();
        }
        assert!(
            gone.host_link(&ifb_name(NET, "gv1"))
                .unwrap()
                .alias
                .is_empty()
        );
        fx.host.ip(&["link", "del", "gv1"]);
        run_gc(&gc);
        let mut want = vec![
            ifb_name(NET, "keep"),
            ifb_name("othernet", "other"),
            ifb_name(NET, "gv2"),
        ];
        want.sort();
        assert_eq!(keep.ifbs(), want);
    }

    // no valid list at all: every IFB of this network goes
    let all = json!({"cniVersion": "1.1.0", "name": NET, "type": "bandwidth"});
    run_gc(&all);
    assert!(!keep.ifbs().contains(&ifb_name(NET, "keep")));
    assert!(keep.ifbs().contains(&ifb_name("othernet", "other")));
    // a host without any IFB
    net().network_call("GC").run(&all).expect_success();
}

#[test]
fn chained_after_bridge() {
    require_root!();
    let fx = Fixture::in_host(TestNs::new("bbhost"), "bandwidth", "bbnet");
    let ctr = TestNs::new("bbctr");
    for v in versions_from(Version::V0_3_0) {
        let bridge = fx.conf_of(
            "bridge",
            v,
            json!({"bridge": "bbr0", "isGateway": true,
                   "ipam": fx.host_local(json!([[{"subnet": "10.80.0.0/24"}]]))}),
        );
        let br = fx.add_of("bridge", &ctr, "bb1", &bridge);
        let bw = fx.conf(
            v,
            json!({"capabilities": {"bandwidth": true},
                "runtimeConfig": {"bandwidth": {"ingressRate": 10_000_000, "ingressBurst": 100_000,
                    "egressRate": 10_000_000, "egressBurst": 100_000}}}),
        );
        let a = fx.add(&ctr, "bb1", &with_prev(&bw, &br.result));
        let ifs = a.result["interfaces"].as_array().unwrap();
        assert_eq!(ifs.len(), 4, "{v}");
        assert_eq!(ifs[3]["name"], ifb_name("bbnet", "bb1"));
        if v.has_check() {
            a.check().expect_success();
        }
        a.del();
        br.del();
        assert!(
            !output_in(&fx.host, "ip", &["-o", "link", "show", "type", "ifb"]).contains("bwp"),
            "{v}"
        );
    }
}

#[test]
fn interop_with_go_bandwidth() {
    require_root!();
    let Some(go) = require_go("bandwidth", &[]) else {
        return;
    };
    let v = Version::V1_0_0;
    // Go ADD: same IFB name and qdisc parameters; our CHECK passes; our
    // DEL removes it
    let fx = net();
    let env = Env::new(&fx, "hveth0");
    let c = env.conf(v, limits());
    let r = env
        .call_with(go.clone(), "ADD", "go1")
        .run(&c)
        .expect_success();
    let name = ifb_name(NET, "go1");
    assert_eq!(r["interfaces"][2]["name"], name);
    let go_veth = env.qdiscs(&env.veth);
    let go_ifb = env.qdiscs(&name);
    let cc = with_prev(&c, &r);
    env.call("CHECK", "go1").run(&cc).expect_success();
    env.call("DEL", "go1").run(&c).expect_success();
    assert!(env.ifbs().is_empty());

    // our ADD: the kernel holds what Go asked for; Go's CHECK passes; Go's
    // DEL removes the IFB
    let fx = net();
    let env = Env::new(&fx, "hveth0");
    let c = env.conf(v, limits());
    let r = env.call("ADD", "go1").run(&c).expect_success();
    assert_eq!(env.qdiscs(&env.veth), go_veth);
    assert_eq!(env.qdiscs(&name), go_ifb);
    let cc = with_prev(&c, &r);
    env.call_with(go.clone(), "CHECK", "go1")
        .run(&cc)
        .expect_success();
    env.call_with(go, "DEL", "go1").run(&c).expect_success();
    assert!(env.ifbs().is_empty());
}

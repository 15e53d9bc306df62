//! The network fixture the plugin tests share: a fake host namespace and a
//! scratch directory for the plugin's state, the plugin's configuration,
//! calls made the way a runtime makes them, the attachments they create,
//! and the checks that nothing of them is left behind.
//!
//! ```no_run
//! use integration::*;
//! use serde_json::json;
//!
//! let fx = Fixture::new("bridge", "brnet").keys(json!({"bridge": "cnibr0"}));
//! let fx = fx.ipam_ranges(json!([[{"subnet": "10.99.0.0/24"}]]));
//! let ctr = TestNs::new("ctr");
//! let a = fx.add(&ctr, "c1", &fx.conf(Version::V1_1_0, json!({})));
//! a.check_ok();
//! a.del();
//! fx.assert_no_leftovers("after DEL");
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use pkg::netlink::{Link, RouteSpec};
use serde_json::{Value, json};

use crate::{
    Attachment, Call, GO_PLUGIN_DIR, TestNs, Version, link_in, link_names, output_in, plugin_path,
    reservation_files, tempdir, veths_in,
};

/// A fake host and a state directory for one network of one plugin.
pub struct Fixture {
    pub host: TestNs,
    /// The scratch directory: host-local's `dataDir` and anything else the
    /// plugin or the test writes.
    pub dir: tempfile::TempDir,
    pub plugin: String,
    pub network: String,
    /// Keys every configuration of the fixture carries.
    keys: Value,
    /// Address prefixes of the host routes the plugin makes (ptp's).
    route_prefixes: Vec<String>,
}

impl Fixture {
    /// A new fake host (`cnit-host-...`) and state directory.
    pub fn new(plugin: &str, network: &str) -> Fixture {
        Fixture::in_host(TestNs::new("host"), plugin, network)
    }

    /// The fixture on a fake host made by the caller (named for its test).
    pub fn in_host(host: TestNs, plugin: &str, network: &str) -> Fixture {
        Fixture {
            host,
            dir: tempdir(),
            plugin: plugin.into(),
            network: network.into(),
            keys: json!({}),
            route_prefixes: Vec::new(),
        }
    }

    /// Add `keys` (top level) to every configuration of the fixture.
    pub fn keys(mut self, keys: Value) -> Fixture {
        merge(&mut self.keys, keys);
        self
    }

    /// Every configuration gets host-local IPAM over `ranges`, storing in
    /// the fixture's directory.
    pub fn ipam_ranges(self, ranges: Value) -> Fixture {
        let ipam = self.host_local(ranges);
        self.keys(json!({ "ipam": ipam }))
    }

    /// The host routes into addresses starting with one of `prefixes` are
    /// the plugin's: [`Fixture::assert_no_leftovers`] checks they are gone.
    pub fn host_routes_to(mut self, prefixes: &[&str]) -> Fixture {
        self.route_prefixes = prefixes.iter().map(|p| p.to_string()).collect();
        self
    }

    /// A host-local `ipam` section over `ranges` in the fixture's directory.
    pub fn host_local(&self, ranges: Value) -> Value {
        json!({"type": "host-local", "dataDir": self.dir.path(), "ranges": ranges})
    }

    /// The plugin's configuration for version `v`: the fixture's keys, then
    /// `extra` on top (top-level keys replace).
    pub fn conf(&self, v: Version, extra: Value) -> Value {
        let mut keys = self.keys.clone();
        merge(&mut keys, extra);
        self.conf_of(&self.plugin, v, keys)
    }

    /// The configuration of another plugin on the same network (the main
    /// plugin of a chain): only `keys`, not the fixture's.
    pub fn conf_of(&self, plugin: &str, v: Version, keys: Value) -> Value {
        let mut c = json!({"cniVersion": v.as_str(), "name": self.network, "type": plugin});
        merge(&mut c, keys);
        c
    }

    /// The plugin run for container `cid` in `ctr`, as a runtime in the fake
    /// host would run it.
    pub fn call(&self, cmd: &str, ctr: &TestNs, cid: &str) -> Call {
        self.call_of(&self.plugin, cmd, ctr, cid)
    }

    /// The plugin run for container `cid` with `CNI_NETNS` set to
    /// `netns` (a path that is gone, or not a namespace, or empty).
    pub fn call_at(&self, cmd: &str, netns: &str, cid: &str) -> Call {
        Call::new(plugin_path(&self.plugin), cmd)
            .cid(cid)
            .netns_path(netns)
            .in_host(&self.host)
    }

    /// Another of our plugins, run the same way.
    pub fn call_of(&self, plugin: &str, cmd: &str, ctr: &TestNs, cid: &str) -> Call {
        runtime_call(plugin_path(plugin), cmd, cid, ctr, &self.host)
    }

    /// One of Debian's Go plugins, run the same way, finding its own
    /// delegates (IPAM) in their directory.
    pub fn go_call(&self, go: &Path, cmd: &str, ctr: &TestNs, cid: &str) -> Call {
        let mut call = runtime_call(go, cmd, cid, ctr, &self.host);
        call.path = GO_PLUGIN_DIR.into();
        call
    }

    /// GC or STATUS of the plugin: no container, in the fake host.
    pub fn network_call(&self, cmd: &str) -> Call {
        Call::new(plugin_path(&self.plugin), cmd)
            .cid("")
            .ifname("")
            .in_host(&self.host)
    }

    /// ADD of the plugin, which must succeed.
    pub fn add(&self, ctr: &TestNs, cid: &str, conf: &Value) -> Attachment {
        Attachment::add(self.call("ADD", ctr, cid), conf)
    }

    /// ADD of another of our plugins (the main plugin of a chain).
    pub fn add_of(&self, plugin: &str, ctr: &TestNs, cid: &str, conf: &Value) -> Attachment {
        Attachment::add(self.call_of(plugin, "ADD", ctr, cid), conf)
    }

    /// Documentation/conformance.md items 17, 18 and 22, for every spec version: ADD in a new
    /// container answers in the request's version, `check` looks at what
    /// it made, CHECK passes silently (from 0.4.0), DEL twice succeeds and
    /// leaves the container with `lo` only and nothing behind.
    pub fn add_check_del_every_version(&self, check: impl Fn(Version, &TestNs, &Attachment)) {
        for v in Version::ALL {
            let ctr = TestNs::new("ctr");
            let cid = format!("c-{}", v.as_str().replace('.', "-"));
            let a = self.add(&ctr, &cid, &self.conf(v, json!({})));
            assert_eq!(a.result["cniVersion"], v.as_str());
            check(v, &ctr, &a);
            if v.has_check() {
                a.check_ok();
            }
            a.del();
            a.del();
            assert_eq!(link_names(&ctr), ["lo"], "{v}: links left");
            self.assert_no_leftovers(v.as_str());
        }
    }

    /// Interop with Debian's Go plugin `go` on one attachment of `conf`:
    /// Go's ADD, then our CHECK (when `check`) and DEL; our ADD, then Go's
    /// CHECK (when `check`) and DEL. `after_go_add` looks at what Go's ADD
    /// made; `clean(what, container)` runs after each DEL.
    pub fn assert_interop_both_ways(
        &self,
        go: &Path,
        conf: &Value,
        check: bool,
        after_go_add: impl Fn(&TestNs, &Value),
        clean: impl Fn(&str, &TestNs),
    ) {
        let ctr = TestNs::new("go1");
        let theirs = Attachment::add(self.go_call(go, "ADD", &ctr, "goadd"), conf);
        after_go_add(&ctr, &theirs.result);
        let ours = Attachment {
            call: self.call("ADD", &ctr, "goadd"),
            ..theirs
        };
        if check {
            ours.check_ok();
        }
        ours.del();
        clean("go add, rust del", &ctr);
        let ctr = TestNs::new("go2");
        let ours = self.add(&ctr, "rsadd", conf);
        let theirs = Attachment {
            call: self.go_call(go, "ADD", &ctr, "rsadd"),
            ..ours
        };
        if check {
            theirs.check().expect_success();
        }
        theirs.del();
        clean("rust add, go del", &ctr);
    }

    /// ADDs of the plugin for every container in `ctrs` at once (container
    /// IDs `<prefix><index>`), each of which must succeed.
    pub fn add_all_at_once(&self, ctrs: &[TestNs], prefix: &str, conf: &Value) -> Vec<Attachment> {
        std::thread::scope(|s| {
            let handles: Vec<_> = ctrs
                .iter()
                .enumerate()
                .map(|(i, ctr)| {
                    let call = self.call("ADD", ctr, &format!("{prefix}{i}"));
                    s.spawn(move || Attachment::add(call, conf))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("ADD thread"))
                .collect()
        })
    }

    /// The network's directory in the host-local store.
    pub fn netdir(&self) -> PathBuf {
        self.dir.path().join(&self.network)
    }

    /// Every reservation file of the network, index entries included.
    pub fn reservations(&self) -> Vec<String> {
        reservation_files(&self.netdir())
    }

    /// The addresses held (reservations outside the index).
    pub fn held(&self) -> Vec<String> {
        self.reservations()
            .into_iter()
            .filter(|f| !f.starts_with('.'))
            .collect()
    }

    pub fn host_link(&self, name: &str) -> Option<Link> {
        link_in(&self.host, name)
    }

    /// The veths plugins made in the fake host (named `veth...`; a veth
    /// of the test's own, to an outside namespace, is not one).
    pub fn host_veths(&self) -> Vec<String> {
        veths_in(&self.host)
            .into_iter()
            .filter(|n| n.starts_with("veth"))
            .collect()
    }

    /// Main-table host routes into the prefixes of
    /// [`Fixture::host_routes_to`].
    pub fn host_routes(&self) -> Vec<RouteSpec> {
        if self.route_prefixes.is_empty() {
            return Vec::new();
        }
        let mut nl = self.host.netlink();
        let mut all = nl.route_list(true, None).expect("list IPv4 routes");
        all.extend(nl.route_list(false, None).expect("list IPv6 routes"));
        all.into_iter()
            .filter(|r| {
                let dst = r.dst.to_string();
                r.table == Some(254) && self.route_prefixes.iter().any(|p| dst.starts_with(p))
            })
            .collect()
    }

    /// The NAT tables of both families, as `iptables -S` prints them.
    pub fn nat_rules(&self) -> String {
        output_in(&self.host, "iptables", &["-w", "-t", "nat", "-S"])
            + &output_in(&self.host, "ip6tables", &["-w", "-t", "nat", "-S"])
    }

    /// The filter tables of both families, as `iptables -S` prints them.
    pub fn filter_rules(&self) -> String {
        output_in(&self.host, "iptables", &["-w", "-S"])
            + &output_in(&self.host, "ip6tables", &["-w", "-S"])
    }

    pub fn nft_ruleset(&self) -> String {
        output_in(&self.host, "nft", &["list", "ruleset"])
    }

    /// No veth, host route, masquerade rule or reservation of any
    /// attachment is left. A deleted namespace takes its veths with it,
    /// asynchronously: this waits (bounded) for that first.
    pub fn assert_no_leftovers(&self, what: &str) {
        for _ in 0..50 {
            if self.host_veths().is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            self.host_veths().is_empty(),
            "{what}: veths left: {:?}",
            self.host_veths()
        );
        assert!(
            self.host_routes().is_empty(),
            "{what}: host routes left: {:?}",
            self.host_routes()
        );
        assert!(
            !self.nat_rules().contains("CNI-"),
            "{what}: iptables chains left:\n{}",
            self.nat_rules()
        );
        let nft = self.nft_ruleset();
        assert!(
            !nft.contains("masquerade") || !nft.contains("saddr"),
            "{what}: nft masquerade rules left:\n{nft}"
        );
        let res = self.reservations();
        assert!(res.is_empty(), "{what}: reservations left: {res:?}");
    }

    /// ADD of `conf` in a new container must fail with `code` and a
    /// message containing `msg`, leaving no interface `eth0` in the
    /// container and no reservation; returns the container.
    pub fn assert_add_refused(
        &self,
        conf: &Value,
        cni_args: &str,
        code: u64,
        msg: &str,
        what: &str,
    ) -> TestNs {
        let ctr = TestNs::new("bad");
        let (got, got_msg) = self
            .call("ADD", &ctr, "bad")
            .cni_args(cni_args)
            .run(conf)
            .expect_spec_error();
        assert_eq!(got, code, "{what}: {got_msg}");
        assert!(got_msg.contains(msg), "{what}: {got_msg}");
        assert!(link_in(&ctr, "eth0").is_none(), "{what}: eth0 left");
        let res = self.reservations();
        assert!(res.is_empty(), "{what}: reservations left: {res:?}");
        ctr
    }

    /// Documentation/conformance.md item 19: ADD into a container that already has the interface
    /// fails (999), and so does ADD into a netns that does not exist (8);
    /// returns the container with its own `eth0`.
    pub fn assert_add_refused_for_taken_ifname_and_missing_netns(&self, conf: &Value) -> TestNs {
        let ctr = TestNs::new("busy");
        ctr.ip(&[
            "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p",
        ]);
        let (code, msg) = self.call("ADD", &ctr, "dup").run(conf).expect_spec_error();
        assert_eq!(code, 999, "{msg}");
        assert!(
            msg.contains("interface eth0 already exists in container netns"),
            "{msg}"
        );
        let (code, msg) = self
            .call("ADD", &ctr, "gone")
            .netns_path("/run/netns/does-not-exist")
            .run(conf)
            .expect_spec_error();
        assert_eq!(code, 8, "{msg}");
        ctr
    }

    /// IPv6 addresses of `dev` in the fake host finish DAD asynchronously:
    /// wait (bounded) for that, so a probe tests the plugin, not DAD.
    pub fn wait_dad(&self, dev: &str) {
        for _ in 0..100 {
            let tentative = output_in(
                &self.host,
                "ip",
                &["-6", "addr", "show", "dev", dev, "tentative"],
            );
            if tentative.trim().is_empty() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Documentation/conformance.md items 1, 2 and 13: `plugin`'s VERSION lists every spec version; GC
/// and STATUS are refused below 1.1.0.
pub fn assert_every_version_and_gc_status_gates(plugin: &str) {
    let out = Call::new(plugin_path(plugin), "VERSION").run_raw(b"");
    let all: Vec<&str> = Version::ALL.iter().map(|v| v.as_str()).collect();
    assert_eq!(
        out.expect_success(),
        json!({"cniVersion": "1.1.0", "supportedVersions": all})
    );
    for cmd in ["GC", "STATUS"] {
        let (code, msg) = Call::new(plugin_path(plugin), cmd)
            .cid("")
            .ifname("")
            .run(&json!({"cniVersion": "1.0.0", "name": "n", "type": plugin}))
            .expect_spec_error();
        assert_eq!(code, 1, "{cmd}: {msg}");
    }
}

/// `plugin` run as a runtime in `host` runs it for container `cid` in
/// `ctr`: clean environment, `CNI_PATH` the plugin's directory.
pub fn runtime_call(
    plugin: impl Into<PathBuf>,
    cmd: &str,
    cid: &str,
    ctr: &TestNs,
    host: &TestNs,
) -> Call {
    Call::new(plugin, cmd).cid(cid).netns(ctr).in_host(host)
}

/// The top-level keys of `extra` set in `conf` (replacing what is there).
pub fn merge(conf: &mut Value, extra: Value) {
    if let Value::Object(extra) = extra {
        for (k, v) in extra {
            conf[k] = v;
        }
    }
}

//! The plugin-side conformance checklist (Documentation/conformance.md), exercised against
//! every built plugin binary (loopback, host-local, static) the way a
//! runtime runs it: in a scratch "host" namespace, with `CNI_*` variables
//! and the request configuration on stdin. Test names cite the item.
//!
//! host-local always gets a fresh temporary `ipam.dataDir`.

use std::io::{Read, Write};
use std::net::IpAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use integration::*;
use ipnet::IpNet;
use serde_json::{Value, json};

const PLUGINS: [&str; 3] = ["loopback", "host-local", "static"];
const IPAM_PLUGINS: [&str; 2] = ["host-local", "static"];
const ALL_VERSIONS: [&str; 7] = [
    "0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0",
];
const NET: &str = "conf-net";
/// How long a plugin may take for a run that must not block.
const PROMPT: Duration = Duration::from_secs(10);
/// Well-known codes (Documentation/spec-notes.md §4.2, plus Go's 8).
const WELL_KNOWN: [u64; 12] = [1, 2, 3, 4, 5, 6, 7, 8, 11, 50, 51, 999];

fn version_line() -> String {
    format!(
        "CNI protocol versions supported: {}",
        ALL_VERSIONS.join(", ")
    )
}

fn supported_details(config_version: &str) -> String {
    let quoted: Vec<String> = ALL_VERSIONS.iter().map(|v| format!("{v:?}")).collect();
    format!(
        "config is {config_version:?}, plugin supports [{}]",
        quoted.join(" ")
    )
}

/// The container ID of every call.
const CID: &str = "c0ffee";

fn lo_is_up(ns: &TestNs) -> bool {
    is_up(ns, "lo")
}

/// One plugin under test: the network fixture (whose directory holds
/// everything host-local may write: `<dir>/data` is the dataDir, so escapes
/// from the dataDir are visible too) and a container.
struct Fx {
    net: Fixture,
    ctr: TestNs,
}

impl Fx {
    fn new(plugin: &'static str) -> Fx {
        Fx {
            net: Fixture::new(plugin, NET),
            ctr: TestNs::new("ctr"),
        }
    }

    fn plugin(&self) -> &str {
        &self.net.plugin
    }

    fn tmp(&self) -> &Path {
        self.net.dir.path()
    }

    /// A valid request configuration for `v` (`None`: no `cniVersion` key).
    fn conf_opt(&self, v: Option<&str>) -> Value {
        conf_for(self.plugin(), v, self.tmp())
    }

    fn conf(&self, v: &str) -> Value {
        self.conf_opt(Some(v))
    }

    /// A runtime's invocation: all `CNI_*` set, run in the fake host.
    fn call(&self, cmd: &str) -> Call {
        self.net.call(cmd, &self.ctr, CID)
    }

    fn reservations(&self) -> Vec<String> {
        reservation_files(&self.tmp().join("data").join(NET))
    }

    /// Everything under the temp dir (data dir and any escape from it).
    fn written(&self) -> Vec<String> {
        let mut all = files_under(self.tmp());
        // directories too: an empty network dir is also a trace
        if let Ok(rd) = std::fs::read_dir(self.tmp()) {
            all.extend(
                rd.flatten()
                    .map(|e| format!("{}/", e.file_name().to_string_lossy())),
            );
        }
        all.sort();
        all.dedup();
        all
    }

    /// The handler-visible state a successful ADD would change.
    fn state(&self) -> String {
        match self.plugin() {
            "loopback" => format!("lo up: {}", lo_is_up(&self.ctr)),
            "host-local" => format!("{:?}", self.written()),
            _ => String::new(),
        }
    }
}

/// A valid request configuration of `plugin` for `v` (`None`: no
/// `cniVersion` key); host-local's dataDir is `<tmp>/data`.
fn conf_for(plugin: &str, v: Option<&str>, tmp: &Path) -> Value {
    let mut c = match plugin {
        "loopback" => json!({"name": NET, "type": "loopback"}),
        "host-local" => json!({"name": NET, "type": "host-local", "ipam": {
            "type": "host-local",
            "dataDir": tmp.join("data").display().to_string(),
            "ranges": [[{"subnet": "10.77.0.0/24"}], [{"subnet": "fd00:77::/64"}]],
            "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]
        }}),
        "static" => json!({"name": NET, "type": "static", "ipam": {
            "type": "static",
            "addresses": [
                {"address": "10.78.0.5/24", "gateway": "10.78.0.1"},
                {"address": "fd00:78::5/64", "gateway": "fd00:78::1"}
            ],
            "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0", "gw": "fd00:78::1"}],
            "dns": {"nameservers": ["10.78.0.1"], "search": ["example.org"]}
        }}),
        other => panic!("no config for {other}"),
    };
    if let Some(v) = v {
        c["cniVersion"] = json!(v);
    }
    c
}

/// Checklist 15: a failure is exactly one JSON object on stdout, with
/// `code`, a non-empty `msg`, `cniVersion`, and `details` only when
/// non-empty; the exit status is non-zero. Returns (code, msg, object).
fn spec_error(out: &Outcome, what: &str) -> (u64, String, Value) {
    assert_ne!(
        out.code, 0,
        "{what}: a failure must exit non-zero; stdout: {}",
        out.stdout
    );
    let j: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: error on stdout is not one JSON document ({e}): {:?}\nstderr: {}",
            out.stdout, out.stderr
        )
    });
    let obj = j
        .as_object()
        .unwrap_or_else(|| panic!("{what}: error is not a JSON object: {j}"));
    for k in obj.keys() {
        assert!(
            ["cniVersion", "code", "msg", "details"].contains(&k.as_str()),
            "{what}: unexpected key {k:?} in {j}"
        );
    }
    let code = j["code"]
        .as_u64()
        .unwrap_or_else(|| panic!("{what}: no numeric code in {j}"));
    let msg = j["msg"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no msg in {j}"))
        .to_string();
    assert!(!msg.is_empty(), "{what}: empty msg in {j}");
    let version = j["cniVersion"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no cniVersion in {j}"));
    assert!(!version.is_empty(), "{what}: empty cniVersion in {j}");
    if let Some(d) = obj.get("details") {
        let d = d
            .as_str()
            .unwrap_or_else(|| panic!("{what}: details is not a string in {j}"));
        assert!(!d.is_empty(), "{what}: empty details must be omitted: {j}");
    }
    (code, msg, j)
}

/// A failure with exactly this code and message.
fn expect_error(out: &Outcome, code: u64, msg: &str, what: &str) -> Value {
    let (got_code, got_msg, j) = spec_error(out, what);
    assert_eq!((got_code, got_msg.as_str()), (code, msg), "{what}: {j}");
    j
}

/// Run `plugin` with exactly `env` (nothing inherited), `stdin` written and
/// then closed, inside `host` when given.
fn run_env(plugin: &str, env: &[(&str, &str)], host: Option<&TestNs>, stdin: &[u8]) -> Outcome {
    let mut cmd = raw_command(plugin, env, host);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {plugin}: {e}"));
    if let Some(mut w) = child.stdin.take() {
        let _ = w.write_all(stdin);
    }
    let out = child.wait_with_output().expect("wait for plugin");
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn raw_command(plugin: &str, env: &[(&str, &str)], host: Option<&TestNs>) -> Command {
    let mut cmd = Command::new(plugin_path(plugin));
    cmd.env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(h) = host {
        enter_on_exec(&mut cmd, &h.open());
    }
    cmd
}

/// Run `plugin` with exactly `env` and a stdin that is never closed (like
/// a terminal, or a runtime that forgets to close it), after writing
/// `written` into it. The plugin must exit on its own within `PROMPT`.
fn run_stdin_open(plugin: &str, env: &[(&str, &str)], written: &[u8]) -> Outcome {
    let mut child = raw_command(plugin, env, None)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {plugin}: {e}"));
    let mut stdin = child.stdin.take().expect("stdin pipe");
    if !written.is_empty() {
        let _ = stdin.write_all(written);
        let _ = stdin.flush();
    }
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if start.elapsed() > PROMPT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{plugin} with {env:?} did not exit within {PROMPT:?} while its stdin stayed open: it must not read stdin"
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    drop(stdin);
    Outcome {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr,
    }
}

enum Shape {
    Legacy,
    V04,
    V1,
}

fn shape_of(v: &str) -> Shape {
    match v {
        "0.1.0" | "0.2.0" => Shape::Legacy,
        "0.3.0" | "0.3.1" | "0.4.0" => Shape::V04,
        _ => Shape::V1,
    }
}

fn keys_within(v: &Value, allowed: &[&str], what: &str) {
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("{what}: not an object: {v}"));
    for k in obj.keys() {
        assert!(
            allowed.contains(&k.as_str()),
            "{what}: key {k:?} does not belong here: {v}"
        );
    }
}

fn parse_net(v: &Value, what: &str) -> IpNet {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{what}: not a CIDR: {v}"))
}

fn parse_ip(v: &Value, what: &str) -> IpAddr {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{what}: not an IP: {v}"))
}

fn check_routes(routes: &Value, want_v4: Option<bool>, allowed: &[&str], what: &str) {
    for r in routes
        .as_array()
        .unwrap_or_else(|| panic!("{what}: routes not a list: {routes}"))
    {
        keys_within(r, allowed, what);
        let dst = parse_net(&r["dst"], what);
        if let Some(v4) = want_v4 {
            assert_eq!(
                dst.addr().is_ipv4(),
                v4,
                "{what}: route {r} under the wrong family"
            );
        }
        if let Some(gw) = r.get("gw") {
            parse_ip(gw, what);
        }
    }
}

/// Checklist 17/18: `r` is a result in exactly the shape of version `v`.
fn assert_result_shape(r: &Value, v: &str, what: &str) {
    assert_eq!(
        r["cniVersion"], v,
        "{what}: result cniVersion is the request's: {r}"
    );
    if let Some(dns) = r.get("dns") {
        keys_within(dns, &["nameservers", "domain", "search", "options"], what);
    }
    let route_keys: &[&str] = if v == "1.1.0" {
        &["dst", "gw", "mtu", "advmss", "priority", "table", "scope"]
    } else {
        &["dst", "gw"]
    };
    match shape_of(v) {
        Shape::Legacy => {
            keys_within(r, &["cniVersion", "ip4", "ip6", "dns"], what);
            assert!(
                r.get("ip4").is_some() || r.get("ip6").is_some(),
                "{what}: no ip4/ip6: {r}"
            );
            for (key, v4) in [("ip4", true), ("ip6", false)] {
                let Some(ip) = r.get(key) else { continue };
                keys_within(ip, &["ip", "gateway", "routes"], what);
                assert_eq!(
                    parse_net(&ip["ip"], what).addr().is_ipv4(),
                    v4,
                    "{what}: {key}: {r}"
                );
                if let Some(gw) = ip.get("gateway") {
                    assert_eq!(
                        parse_ip(gw, what).is_ipv4(),
                        v4,
                        "{what}: {key} gateway: {r}"
                    );
                }
                if let Some(routes) = ip.get("routes") {
                    check_routes(routes, Some(v4), &["dst", "gw"], what);
                }
            }
        }
        Shape::V04 | Shape::V1 => {
            keys_within(
                r,
                &["cniVersion", "interfaces", "ips", "routes", "dns"],
                what,
            );
            let v04 = matches!(shape_of(v), Shape::V04);
            let iface_keys: &[&str] = if v04 {
                &["name", "mac", "sandbox"]
            } else if v == "1.0.0" {
                &["name", "mac", "mtu", "sandbox"]
            } else {
                &["name", "mac", "mtu", "sandbox", "socketPath", "pciID"]
            };
            let n_ifaces = r.get("interfaces").map_or(0, |i| {
                let list = i
                    .as_array()
                    .unwrap_or_else(|| panic!("{what}: interfaces not a list: {r}"));
                for iface in list {
                    keys_within(iface, iface_keys, what);
                    assert!(
                        iface["name"].is_string(),
                        "{what}: interface without name: {r}"
                    );
                }
                list.len()
            });
            let ip_keys: &[&str] = if v04 {
                &["version", "interface", "address", "gateway"]
            } else {
                &["interface", "address", "gateway"]
            };
            for ip in r.get("ips").and_then(Value::as_array).into_iter().flatten() {
                keys_within(ip, ip_keys, what);
                let addr = parse_net(&ip["address"], what);
                if v04 {
                    let fam = if addr.addr().is_ipv4() { "4" } else { "6" };
                    assert_eq!(ip["version"], fam, "{what}: ips[].version: {r}");
                } else {
                    assert!(
                        ip.get("version").is_none(),
                        "{what}: 1.x ips carry no version: {r}"
                    );
                }
                if let Some(gw) = ip.get("gateway") {
                    assert_eq!(
                        parse_ip(gw, what).is_ipv4(),
                        addr.addr().is_ipv4(),
                        "{what}: gateway family: {r}"
                    );
                }
                if let Some(i) = ip.get("interface") {
                    let i = i
                        .as_i64()
                        .unwrap_or_else(|| panic!("{what}: interface index not a number: {r}"));
                    assert!(
                        i >= 0 && (i as usize) < n_ifaces,
                        "{what}: interface index {i} out of range: {r}"
                    );
                }
            }
            if let Some(routes) = r.get("routes") {
                check_routes(routes, None, route_keys, what);
            }
        }
    }
}

/// The addresses of a result in any shape, as strings.
fn addresses(r: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for k in ["ip4", "ip6"] {
        if let Some(ip) = r.get(k) {
            out.push(ip["ip"].as_str().unwrap().to_string());
        }
    }
    for ip in r.get("ips").and_then(Value::as_array).into_iter().flatten() {
        out.push(ip["address"].as_str().unwrap().to_string());
    }
    out
}

/// Deterministic, non-JSON bytes.
fn garbage(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = Vec::with_capacity(len);
    out.push(0xff); // never valid UTF-8 or JSON
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push((x >> 24) as u8);
    }
    out
}

// ---------------------------------------------------------------------------

// 1: VERSION with only CNI_COMMAND set and a stdin that is never closed (or
// empty, or full of garbage) prints the compact version info and exits 0
// without reading stdin.
#[test]
fn conformance_01_version_without_stdin() {
    let want = json!({"cniVersion": "1.1.0", "supportedVersions": ALL_VERSIONS}).to_string();
    for plugin in PLUGINS {
        let only_command = [("CNI_COMMAND", "VERSION")];
        for written in [&b""[..], b"{\"cniVersion\":\"0.4.0\"}", b"garbage {{{"] {
            let what = format!(
                "{plugin} VERSION, stdin left open after {:?}",
                String::from_utf8_lossy(written)
            );
            let out = run_stdin_open(plugin, &only_command, written);
            assert_eq!(out.code, 0, "{what}: {out:?}");
            assert_eq!(
                out.stdout.trim_end(),
                want,
                "{what}: compact JSON, cniVersion 1.1.0"
            );
            assert!(out.stdout.ends_with('\n'), "{what}: newline-terminated");
        }
        // an empty, closed stdin
        let out = run_env(plugin, &only_command, None, b"");
        assert_eq!(
            (out.code, out.stdout.trim_end()),
            (0, want.as_str()),
            "{plugin}: {out:?}"
        );
        // a runtime's full, mostly empty environment and the libcni stdin
        let env = [
            ("CNI_COMMAND", "VERSION"),
            ("CNI_CONTAINERID", ""),
            ("CNI_NETNS", ""),
            ("CNI_IFNAME", ""),
            ("CNI_ARGS", ""),
            ("CNI_PATH", ""),
        ];
        let out = run_env(plugin, &env, None, br#"{"cniVersion":"0.3.1"}"#);
        assert_eq!(
            (out.code, out.stdout.trim_end()),
            (0, want.as_str()),
            "{plugin}: {out:?}"
        );
        // variables VERSION does not need are not validated
        let env = [
            ("CNI_COMMAND", "VERSION"),
            ("CNI_CONTAINERID", "a%b"),
            ("CNI_NETNS", "/nonexistent"),
            ("CNI_IFNAME", "bad/name.is.way.too.long"),
            ("CNI_ARGS", "FOO"),
        ];
        let out = run_stdin_open(plugin, &env, b"");
        assert_eq!(
            (out.code, out.stdout.trim_end()),
            (0, want.as_str()),
            "{plugin}: {out:?}"
        );
    }
}

// 2: supportedVersions lists all seven versions, once each.
#[test]
fn conformance_02_supported_versions() {
    for plugin in PLUGINS {
        let out = run_env(plugin, &[("CNI_COMMAND", "VERSION")], None, b"");
        let j = out.expect_success();
        let list: Vec<&str> = j["supportedVersions"]
            .as_array()
            .unwrap_or_else(|| panic!("{plugin}: no supportedVersions: {j}"))
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(list, ALL_VERSIONS, "{plugin}");
        assert_eq!(
            j.as_object().unwrap().len(),
            2,
            "{plugin}: only cniVersion and supportedVersions: {j}"
        );
    }
}

// 3: CNI_COMMAND unset: about text and the version line on stderr; this
// project also prints a code-4 error on stdout and exits non-zero. A human
// at a terminal never closes stdin, so it must not be read.
#[test]
fn conformance_03_no_command_prints_about() {
    for plugin in PLUGINS {
        let runtime_env = [
            ("CNI_COMMAND", ""),
            ("CNI_CONTAINERID", "c0ffee"),
            ("CNI_NETNS", "/run/netns/nowhere"),
            ("CNI_IFNAME", "eth0"),
            ("CNI_PATH", "/nowhere"),
        ];
        for env in [&[][..], &runtime_env[..]] {
            let what = format!("{plugin} with {env:?}");
            let out = run_stdin_open(plugin, env, b"");
            let lines: Vec<&str> = out.stderr.lines().collect();
            let about = lines
                .iter()
                .position(|l| l.starts_with("CNI ") && l.contains(plugin) && l.contains("plugin"))
                .unwrap_or_else(|| panic!("{what}: no about line on stderr: {:?}", out.stderr));
            let versions = lines
                .iter()
                .position(|l| *l == version_line())
                .unwrap_or_else(|| {
                    panic!(
                        "{what}: no {:?} on stderr: {:?}",
                        version_line(),
                        out.stderr
                    )
                });
            assert!(
                about < versions,
                "{what}: about line first: {:?}",
                out.stderr
            );
            let (code, msg, _) = spec_error(&out, &what);
            assert_eq!(code, 4, "{what}: {msg}");
            assert!(msg.contains("CNI_COMMAND"), "{what}: {msg}");
        }
    }
}

// 4: an unknown CNI_COMMAND is code 4 and runs nothing.
#[test]
fn conformance_04_unknown_command() {
    require_root!();
    for plugin in PLUGINS {
        let fx = Fx::new(plugin);
        let before = fx.state();
        for cmd in ["FOO", "add", "Add", "ADD ", "VERSIONS", "DELETE", "gc"] {
            let out = fx.call(cmd).run(&fx.conf("1.1.0"));
            expect_error(
                &out,
                4,
                &format!("unknown CNI_COMMAND: {cmd}"),
                &format!("{plugin} {cmd:?}"),
            );
            // with nothing else set either
            let out = run_env(plugin, &[("CNI_COMMAND", cmd)], Some(&fx.net.host), b"");
            expect_error(
                &out,
                4,
                &format!("unknown CNI_COMMAND: {cmd}"),
                &format!("{plugin} {cmd:?} bare"),
            );
        }
        assert_eq!(
            fx.state(),
            before,
            "{plugin}: an unknown command changed something"
        );
    }
}

// 5: the missing required variables are reported together, in Go's order.
#[test]
fn conformance_05_missing_env_reported_together() {
    require_root!();
    for plugin in PLUGINS {
        let fx = Fx::new(plugin);
        let before = fx.state();
        let conf = fx.conf("1.1.0").to_string();
        let stdin = conf.as_bytes();

        // set but empty, as libcni does
        let mut call = fx.call("ADD").netns_path("").ifname("");
        call.path = String::new();
        let out = call.run(&fx.conf("1.1.0"));
        expect_error(
            &out,
            4,
            "required env variables [CNI_NETNS,CNI_IFNAME,CNI_PATH] missing",
            &format!("{plugin} ADD, empty vars"),
        );

        // not set at all
        let out = run_env(
            plugin,
            &[("CNI_COMMAND", "ADD"), ("CNI_CONTAINERID", "c0ffee")],
            Some(&fx.net.host),
            stdin,
        );
        expect_error(
            &out,
            4,
            "required env variables [CNI_NETNS,CNI_IFNAME,CNI_PATH] missing",
            &format!("{plugin} ADD, unset vars"),
        );

        let cases: [(&str, &str); 5] = [
            ("ADD", "[CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH]"),
            ("CHECK", "[CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH]"),
            ("DEL", "[CNI_CONTAINERID,CNI_IFNAME,CNI_PATH]"),
            ("GC", "[CNI_PATH]"),
            ("STATUS", "[CNI_PATH]"),
        ];
        for (cmd, list) in cases {
            let out = run_env(plugin, &[("CNI_COMMAND", cmd)], Some(&fx.net.host), stdin);
            expect_error(
                &out,
                4,
                &format!("required env variables {list} missing"),
                &format!("{plugin} {cmd}"),
            );
        }

        // only CNI_PATH missing
        let mut call = fx.call("DEL");
        call.path = String::new();
        let out = call.run(&fx.conf("1.1.0"));
        expect_error(
            &out,
            4,
            "required env variables [CNI_PATH] missing",
            &format!("{plugin} DEL"),
        );

        assert_eq!(
            fx.state(),
            before,
            "{plugin}: a refused call changed something"
        );
    }
}

// 6: DEL does not need CNI_NETNS (empty or unset), and still releases what
// it can.
#[test]
fn conformance_06_del_without_netns() {
    require_root!();
    for plugin in PLUGINS {
        let fx = Fx::new(plugin);
        for v in ALL_VERSIONS {
            let what = format!("{plugin} {v}");
            fx.call("ADD").run(&fx.conf(v)).expect_success();
            let out = fx.call("DEL").netns_path("").run(&fx.conf(v));
            assert_eq!(
                out.expect_success(),
                Value::Null,
                "{what}: DEL prints nothing"
            );
            match plugin {
                // without a netns loopback has nothing to set down
                "loopback" => assert!(
                    lo_is_up(&fx.ctr),
                    "{what}: DEL without netns touched the container"
                ),
                "host-local" => {
                    assert_eq!(fx.reservations(), Vec::<String>::new(), "{what}: released")
                }
                _ => {}
            }
        }
        // CNI_NETNS not in the environment at all
        fx.call("ADD").run(&fx.conf("1.0.0")).expect_success();
        let conf = fx.conf("1.0.0").to_string();
        let bin = bin_dir().display().to_string();
        let env = [
            ("CNI_COMMAND", "DEL"),
            ("CNI_CONTAINERID", "c0ffee"),
            ("CNI_IFNAME", "eth0"),
            ("CNI_PATH", bin.as_str()),
        ];
        run_env(plugin, &env, Some(&fx.net.host), conf.as_bytes()).expect_success();
        if plugin == "host-local" {
            assert_eq!(
                fx.reservations(),
                Vec::<String>::new(),
                "{plugin}: released"
            );
        }
    }
}

// 7: GC and STATUS need only CNI_COMMAND and CNI_PATH; the attachment
// variables are neither required nor validated for them.
#[test]
fn conformance_07_gc_status_need_only_command_and_path() {
    require_root!();
    let bin = bin_dir().display().to_string();
    for plugin in PLUGINS {
        let fx = Fx::new(plugin);
        let mut conf = fx.conf("1.1.0");
        for cmd in ["GC", "STATUS"] {
            let what = format!("{plugin} {cmd}");
            let stdin = conf.to_string();
            let out = run_env(
                plugin,
                &[("CNI_COMMAND", cmd), ("CNI_PATH", bin.as_str())],
                Some(&fx.net.host),
                stdin.as_bytes(),
            );
            assert_eq!(
                out.expect_success(),
                Value::Null,
                "{what}: prints nothing on success"
            );

            // junk in variables GC/STATUS do not use is ignored
            let env = [
                ("CNI_COMMAND", cmd),
                ("CNI_PATH", bin.as_str()),
                ("CNI_CONTAINERID", "a%b"),
                ("CNI_IFNAME", "bad/name.is.way.too.long"),
                ("CNI_NETNS", "/nonexistent/netns"),
            ];
            run_env(plugin, &env, Some(&fx.net.host), stdin.as_bytes()).expect_success();

            // with a runtime's empty attachment variables
            fx.call(cmd)
                .cid("")
                .ifname("")
                .netns_path("")
                .run(&conf)
                .expect_success();
        }
        // GC with the attachment lists libcni sends
        conf["cni.dev/valid-attachments"] = json!([{"containerID": "c0ffee", "ifname": "eth0"}]);
        conf["cni.dev/attachments"] = conf["cni.dev/valid-attachments"].clone();
        let stdin = conf.to_string();
        run_env(
            plugin,
            &[("CNI_COMMAND", "GC"), ("CNI_PATH", bin.as_str())],
            Some(&fx.net.host),
            stdin.as_bytes(),
        )
        .expect_success();
    }
}

// 8: a container ID outside `^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$` is code 4 with
// the ID as details, for ADD, CHECK and DEL.
#[test]
fn conformance_08_bad_container_id() {
    require_root!();
    for plugin in PLUGINS {
        let fx = Fx::new(plugin);
        if plugin == "loopback" {
            fx.ctr.ip(&["link", "set", "lo", "down"]);
        }
        let before = fx.state();
        for cmd in ["ADD", "CHECK", "DEL"] {
            for id in [
                "a%b",
                "-abc",
                ".abc",
                "_abc",
                "a/b",
                "../../etc",
                "a b",
                "é",
            ] {
                let what = format!("{plugin} {cmd} {id:?}");
                let out = fx.call(cmd).cid(id).run(&fx.conf("1.1.0"));
                let j = expect_error(&out, 4, "invalid characters in containerID", &what);
                assert_eq!(j["details"], id, "{what}: details name the ID");
            }
            let out = fx.call(cmd).cid("").run(&fx.conf("1.1.0"));
            expect_error(
                &out,
                4,
                "required env variables [CNI_CONTAINERID] missing",
                &format!("{plugin} {cmd} empty"),
            );
        }
        assert_eq!(
            fx.state(),
            before,
            "{plugin}: a refused call changed something"
        );
        // every allowed character class is accepted
        for id in [
            "a",
            "0",
            "A_b.c-9",
            "c018792f780e4ee670c89b103b78e51367d3abad81dc4190c7ee12e106de6ce7",
        ] {
            fx.call("ADD")
                .cid(id)
                .run(&fx.conf("1.1.0"))
                .expect_success();
            fx.call("DEL")
                .cid(id)
                .run(&fx.conf("1.1.0"))
                .expect_success();
        }
    }
}

// 9: interface names: at most 15 bytes, not `.`/`..`, no `/`, `:` or
// whitespace (code 4, each with its message); 15 bytes is fine.
#[test]
fn conformance_09_interface_name_rules() {
    require_root!();
    let too_long = "interface name is too long";
    let dots = "interface name is . or ..";
    let chars = "interface name contains / or : or whitespace characters";
    let bad: [(&str, &str); 12] = [
        ("1234567890123456", too_long),
        ("eth0-is-too-long", too_long),
        ("éééééééé", too_long), // 8 characters, 16 bytes: the limit is in bytes
        (".", dots),
        ("..", dots),
        ("a/b", chars),
        ("/", chars),
        ("a:b", chars),
        ("a b", chars),
        ("a\tb", chars),
        ("eth0\n", chars),
        (" eth0", chars),
    ];
    let good = [
        "123456789012345",
        "ééééééé1",
        "e",
        "eth0.100",
        "net-1_a",
        "...",
        ".a",
    ];
    for plugin in PLUGINS {
        let fx = Fx::new(plugin);
        let before = fx.state();
        for cmd in ["ADD", "CHECK", "DEL"] {
            for (name, msg) in bad {
                let what = format!("{plugin} {cmd} {name:?}");
                let out = fx.call(cmd).ifname(name).run(&fx.conf("1.1.0"));
                let j = expect_error(&out, 4, msg, &what);
                if msg == too_long {
                    assert_eq!(
                        j["details"], "interface name should be less than 16 characters",
                        "{what}"
                    );
                }
            }
        }
        assert_eq!(
            fx.state(),
            before,
            "{plugin}: a refused call changed something"
        );
        for name in good {
            assert!(name.len() <= 15, "{name:?}");
            let what = format!("{plugin} {name:?}");
            let r = fx.call("ADD").ifname(name).run(&fx.conf("1.1.0"));
            assert_eq!(r.code, 0, "{what}: {r:?}");
            fx.call("DEL")
                .ifname(name)
                .run(&fx.conf("1.1.0"))
                .expect_success();
        }
    }
}

// 10: stdin that is not a JSON object is code 6 (also 1 MiB of garbage, and
// nothing is written); a missing or empty name is code 7 `missing network
// name`; a name outside the charset is code 7 with the name as details.
#[test]
fn conformance_10_bad_stdin_and_network_name() {
    require_root!();
    let big = garbage(1 << 20);
    let mut big_json_like = b"{\"cniVersion\":\"1.0.0\",\"name\":\"".to_vec();
    big_json_like.resize(1 << 20, b'a');
    for plugin in PLUGINS {
        let fx = Fx::new(plugin);
        let before = fx.state();
        let inputs: [(&str, &[u8]); 9] = [
            ("empty", b""),
            ("text", b"not json"),
            ("truncated", br#"{"cniVersion":"1.0.0","name":"#),
            ("array", b"[1,2]"),
            ("string", b"\"conf-net\""),
            ("number", b"42"),
            (
                "trailing garbage",
                br#"{"cniVersion":"1.0.0","name":"conf-net"} x"#,
            ),
            ("1 MiB garbage", &big),
            ("1 MiB unterminated", &big_json_like),
        ];
        for cmd in ["ADD", "DEL", "CHECK"] {
            for (label, stdin) in inputs {
                let what = format!("{plugin} {cmd} {label}");
                let start = Instant::now();
                let out = fx.call(cmd).run_raw(stdin);
                assert!(
                    start.elapsed() < PROMPT,
                    "{what}: took {:?}",
                    start.elapsed()
                );
                let (code, msg, _) = spec_error(&out, &what);
                assert_eq!(code, 6, "{what}: {msg}");
                assert!(
                    msg.starts_with("error unmarshall network config"),
                    "{what}: {msg}"
                );
            }
        }
        assert_eq!(
            fx.state(),
            before,
            "{plugin}: undecodable stdin changed something"
        );
        assert_eq!(
            fx.written(),
            Vec::<String>::new(),
            "{plugin}: nothing written"
        );

        for cmd in ["ADD", "DEL", "CHECK", "GC", "STATUS"] {
            let call = || {
                let c = fx.call(cmd);
                if matches!(cmd, "GC" | "STATUS") {
                    c.cid("").ifname("")
                } else {
                    c
                }
            };
            for name in [None, Some(json!("")), Some(Value::Null)] {
                let mut c = fx.conf("1.1.0");
                match name {
                    None => {
                        c.as_object_mut().unwrap().remove("name");
                    }
                    Some(n) => c["name"] = n,
                }
                let what = format!("{plugin} {cmd} name {:?}", c.get("name"));
                let j = expect_error(&call().run(&c), 7, "missing network name", &what);
                assert!(j.get("details").is_none(), "{what}: no details: {j}");
            }
            for name in [
                "te%st",
                "../escape",
                "a/b",
                "-net",
                ".hidden",
                "net work",
                "é",
            ] {
                let mut c = fx.conf("1.1.0");
                c["name"] = json!(name);
                let what = format!("{plugin} {cmd} name {name:?}");
                let j = expect_error(
                    &call().run(&c),
                    7,
                    "invalid characters found in network name",
                    &what,
                );
                assert_eq!(j["details"], name, "{what}");
            }
            // a name of the wrong type is a decoding failure
            let mut c = fx.conf("1.1.0");
            c["name"] = json!(7);
            let (code, _, _) = spec_error(&call().run(&c), &format!("{plugin} {cmd} numeric name"));
            assert_eq!(code, 6, "{plugin} {cmd} numeric name");
        }
        assert_eq!(
            fx.state(),
            before,
            "{plugin}: a refused config changed something"
        );
        assert_eq!(
            fx.written(),
            Vec::<String>::new(),
            "{plugin}: nothing written, no escape from dataDir"
        );
    }
}

// 11: ADD/DEL with a cniVersion not exactly in supportedVersions: code 1
// `incompatible CNI versions`, details naming both, and no handler runs.
#[test]
fn conformance_11_incompatible_version_runs_no_handler() {
    require_root!();
    let bad = [
        "1.2.0", "0.5.0", "2.0.0", "1.0", "1", "0.4", "v1.0.0", "abc", "1.1.0 ", "1.1.0.0",
    ];
    for plugin in PLUGINS {
        let fx = Fx::new(plugin);
        let refused_in_every_bad_version = |cmd: &str| {
            let before = fx.state();
            for v in bad {
                let what = format!("{plugin} {cmd} {v:?}");
                let j = expect_error(
                    &fx.call(cmd).run(&fx.conf(v)),
                    1,
                    "incompatible CNI versions",
                    &what,
                );
                assert_eq!(j["details"], supported_details(v), "{what}");
            }
            assert_eq!(
                fx.state(),
                before,
                "{plugin}: {cmd} with an unsupported version ran the handler"
            );
        };
        // ADD: nothing may be configured
        if plugin == "loopback" {
            fx.ctr.ip(&["link", "set", "lo", "down"]);
        }
        refused_in_every_bad_version("ADD");
        // DEL: nothing may be released
        fx.call("ADD").run(&fx.conf("1.0.0")).expect_success();
        if plugin == "host-local" {
            assert!(
                !fx.reservations().is_empty(),
                "{plugin}: ADD reserved addresses"
            );
        }
        refused_in_every_bad_version("DEL");
        fx.call("DEL").run(&fx.conf("1.0.0")).expect_success();
    }
}

// 12: a config without cniVersion (or with an empty or null one) is 0.1.0.
#[test]
fn conformance_12_missing_cni_version_is_0_1_0() {
    require_root!();
    for plugin in PLUGINS {
        let fx = Fx::new(plugin);
        for version in [None, Some(json!("")), Some(Value::Null)] {
            let mut c = fx.conf_opt(None);
            if let Some(v) = version.clone() {
                c["cniVersion"] = v;
            }
            let what = format!("{plugin} cniVersion {version:?}");
            let r = fx.call("ADD").run(&c).expect_success();
            assert_result_shape(&r, "0.1.0", &what);
            assert!(r.get("ip4").is_some(), "{what}: 0.1.0 result has ip4: {r}");
            fx.call("DEL").run(&c).expect_success();

            for (cmd, msg) in [
                ("CHECK", "config version does not allow CHECK"),
                ("GC", "config version does not allow GC"),
                ("STATUS", "config version does not allow STATUS"),
            ] {
                let j = expect_error(&fx.call(cmd).run(&c), 1, msg, &format!("{what} {cmd}"));
                assert_eq!(
                    j["cniVersion"], "0.1.0",
                    "{what} {cmd}: error in the request's version"
                );
            }
        }
    }
}

// 13: CHECK needs >= 0.4.0, GC and STATUS >= 1.1.0 (code 1), checked
// before the handler runs; then the plugin must support a version >= the
// config's, then the exact match.
#[test]
fn conformance_13_check_gc_status_version_gates() {
    require_root!();
    for plugin in PLUGINS {
        let fx = Fx::new(plugin);
        // state a handler would see or change: loopback's lo down makes its
        // CHECK fail with 999; host-local's GC without an attachment list
        // would release everything
        fx.call("ADD").run(&fx.conf("1.0.0")).expect_success();
        if plugin == "loopback" {
            fx.ctr.ip(&["link", "set", "lo", "down"]);
        }
        let before = fx.state();
        for v in ["0.1.0", "0.2.0", "0.3.0", "0.3.1"] {
            let mut c = fx.conf(v);
            c["prevResult"] =
                json!({"cniVersion": v, "ips": [{"version": "4", "address": "10.78.0.5/24"}]});
            let j = expect_error(
                &fx.call("CHECK").run(&c),
                1,
                "config version does not allow CHECK",
                &format!("{plugin} CHECK {v}"),
            );
            assert_eq!(j["cniVersion"], v);
        }
        for v in ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0"] {
            for cmd in ["GC", "STATUS"] {
                let out = fx.call(cmd).cid("").ifname("").run(&fx.conf(v));
                expect_error(
                    &out,
                    1,
                    &format!("config version does not allow {cmd}"),
                    &format!("{plugin} {cmd} {v}"),
                );
            }
        }
        // newer than anything the plugin supports
        for v in ["1.2.0", "2.0.0", "1.1.1"] {
            for cmd in ["CHECK", "GC", "STATUS"] {
                let out = fx.call(cmd).run(&fx.conf(v));
                expect_error(
                    &out,
                    1,
                    &format!("plugin version does not allow {cmd}"),
                    &format!("{plugin} {cmd} {v}"),
                );
            }
        }
        // recent enough, but not an exact supported string
        for (cmd, v) in [
            ("CHECK", "0.4"),
            ("CHECK", "1"),
            ("GC", "1.1"),
            ("STATUS", "1.1"),
        ] {
            let j = expect_error(
                &fx.call(cmd).run(&fx.conf(v)),
                1,
                "incompatible CNI versions",
                &format!("{plugin} {cmd} {v}"),
            );
            assert_eq!(j["details"], supported_details(v));
        }
        assert_eq!(
            fx.state(),
            before,
            "{plugin}: a gated command ran its handler"
        );
    }
}

// 14: an unparseable cniVersion on CHECK/GC/STATUS is code 6; a
// non-string one is code 6 for every command.
#[test]
fn conformance_14_unparseable_version() {
    require_root!();
    for plugin in PLUGINS {
        let fx = Fx::new(plugin);
        let before = fx.state();
        for v in ["abc", "1.2.3.4", "1.0.x", "-1", "1..0", "v1.1.0"] {
            for cmd in ["CHECK", "GC", "STATUS"] {
                let what = format!("{plugin} {cmd} {v:?}");
                let (code, msg, _) = spec_error(&fx.call(cmd).run(&fx.conf(v)), &what);
                assert_eq!(code, 6, "{what}: {msg}");
            }
        }
        for v in [
            json!(1.0),
            json!(1),
            json!(["1.0.0"]),
            json!({"v": "1.0.0"}),
            json!(true),
        ] {
            for cmd in ["ADD", "DEL", "CHECK", "GC", "STATUS"] {
                let mut c = fx.conf("1.0.0");
                c["cniVersion"] = v.clone();
                let what = format!("{plugin} {cmd} cniVersion {v}");
                let (code, msg, _) = spec_error(&fx.call(cmd).run(&c), &what);
                assert_eq!(code, 6, "{what}: {msg}");
            }
        }
        assert_eq!(
            fx.state(),
            before,
            "{plugin}: a refused call changed something"
        );
    }
}

// 15: every error is a JSON object on stdout with code, msg, cniVersion
// (the request's once known) and non-empty details when present; exit
// status non-zero. (spec_error checks the shape everywhere in this file.)
#[test]
fn conformance_15_errors_are_json_on_stdout() {
    require_root!();
    for plugin in PLUGINS {
        let fx = Fx::new(plugin);
        // before stdin is read the version is unknown: the current one
        for (label, call) in [
            ("unknown command", fx.call("NOPE")),
            ("bad container id", fx.call("ADD").cid("a%b")),
            ("bad ifname", fx.call("DEL").ifname("a:b")),
            ("missing netns", fx.call("CHECK").netns_path("")),
        ] {
            let (_, _, j) = spec_error(&call.run(&fx.conf("0.4.0")), &format!("{plugin} {label}"));
            assert_eq!(j["cniVersion"], "1.1.0", "{plugin} {label}: {j}");
        }
        let (_, _, j) = spec_error(&fx.call("ADD").run_raw(b"{"), &format!("{plugin} bad json"));
        assert_eq!(j["cniVersion"], "1.1.0", "{plugin} bad json: {j}");

        // plugin errors after the version is known carry that version
        for v in ["0.2.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] {
            let mut c = fx.conf(v);
            match plugin {
                // an undecodable prevResult
                "loopback" => {
                    c["prevResult"] =
                        json!({"cniVersion": v, "ips": "not a list", "ip4": "not an object"})
                }
                "host-local" => c["ipam"]["ranges"] = json!([[{"subnet": "10.77.0.1/24"}]]),
                _ => c["ipam"]["addresses"][0]["address"] = json!("10.78.0.5"),
            }
            let what = format!("{plugin} {v} bad config");
            let (code, _, j) = spec_error(&fx.call("ADD").run(&c), &what);
            assert_ne!(code, 0, "{what}");
            assert_eq!(j["cniVersion"], v, "{what}: {j}");
        }
        let what = format!("{plugin} CHECK gate");
        let (_, _, j) = spec_error(&fx.call("CHECK").run(&fx.conf("0.3.0")), &what);
        assert_eq!(j["cniVersion"], "0.3.0", "{what}: {j}");

        // stdout carries only the error; nothing before or after it
        let out = fx.call("ADD").cid("a%b").run(&fx.conf("1.0.0"));
        let mut docs = serde_json::Deserializer::from_str(&out.stdout).into_iter::<Value>();
        assert!(
            docs.next().is_some_and(|d| d.is_ok()),
            "{plugin}: {:?}",
            out.stdout
        );
        assert!(
            docs.next().is_none(),
            "{plugin}: one JSON document only: {:?}",
            out.stdout
        );
    }
}

// 16: untyped internal failures are code 999 (or a more specific
// well-known code), never exit 0.
#[test]
fn conformance_16_internal_failures_are_999() {
    require_root!();
    let internal = |out: &Outcome, what: &str| -> (u64, String) {
        let (code, msg, _) = spec_error(out, what);
        assert!(
            WELL_KNOWN.contains(&code),
            "{what}: code {code} is neither 999 nor a well-known code: {msg}"
        );
        (code, msg)
    };

    // loopback: a non-loopback address on lo; CHECK of a downed lo
    let fx = Fx::new("loopback");
    fx.ctr.ip(&["addr", "add", "10.9.9.9/8", "dev", "lo"]);
    let (code, msg) = internal(
        &fx.call("ADD").run(&fx.conf("1.0.0")),
        "loopback foreign address",
    );
    assert_eq!(code, 999, "{msg}");
    assert!(
        msg.contains("non-loopback address") && msg.contains("10.9.9.9"),
        "{msg}"
    );
    fx.ctr.ip(&["addr", "del", "10.9.9.9/8", "dev", "lo"]);
    fx.ctr.ip(&["link", "set", "lo", "down"]);
    let (code, msg) = internal(&fx.call("CHECK").run(&fx.conf("1.0.0")), "loopback CHECK");
    assert_eq!((code, msg.as_str()), (999, "loopback interface is down"));

    // host-local: an unusable dataDir; CHECK with nothing reserved
    let fx = Fx::new("host-local");
    std::fs::write(fx.tmp().join("file"), b"").unwrap();
    let mut c = fx.conf("1.0.0");
    c["ipam"]["dataDir"] = json!(fx.tmp().join("file/sub").display().to_string());
    internal(&fx.call("ADD").run(&c), "host-local dataDir under a file");
    internal(
        &fx.call("CHECK").run(&fx.conf("1.0.0")),
        "host-local CHECK nothing reserved",
    );

    // static: no address to put in a 0.2.0 result; CHECK mismatch
    let fx = Fx::new("static");
    let mut c = fx.conf("0.2.0");
    c["ipam"]["addresses"] = json!([]);
    let (code, msg) = internal(&fx.call("ADD").run(&c), "static 0.2.0 without addresses");
    assert_eq!(code, 999, "{msg}");
    let mut c = fx.conf("1.0.0");
    c["prevResult"] = json!({"cniVersion": "1.0.0", "ips": [{"address": "10.78.0.5/24", "gateway": "10.78.0.99"}]});
    internal(&fx.call("CHECK").run(&c), "static CHECK gateway mismatch");
}

fn expected_addresses(fx: &Fx, r: &Value, what: &str) {
    let addrs = addresses(r);
    match fx.plugin() {
        "loopback" => assert_eq!(
            addrs.first().map(String::as_str),
            Some("127.0.0.1/8"),
            "{what}: {r}"
        ),
        "host-local" => {
            assert_eq!(addrs.len(), 2, "{what}: one address per range set: {r}");
            let v4: IpNet = addrs[0].parse().unwrap();
            let v6: IpNet = addrs[1].parse().unwrap();
            assert!(
                "10.77.0.0/24"
                    .parse::<IpNet>()
                    .unwrap()
                    .contains(&v4.addr()),
                "{what}: {r}"
            );
            assert!(
                "fd00:77::/64"
                    .parse::<IpNet>()
                    .unwrap()
                    .contains(&v6.addr()),
                "{what}: {r}"
            );
        }
        _ => assert_eq!(addrs, ["10.78.0.5/24", "fd00:78::5/64"], "{what}: {r}"),
    }
}

// 17: ADD prints valid JSON (one document) with cniVersion = the request's,
// for every version the plugin lists.
#[test]
fn conformance_17_add_output_in_request_version() {
    require_root!();
    for plugin in PLUGINS {
        let fx = Fx::new(plugin);
        for v in ALL_VERSIONS {
            let what = format!("{plugin} ADD {v}");
            let out = fx.call("ADD").run(&fx.conf(v));
            let r = out.expect_success();
            let mut docs = serde_json::Deserializer::from_str(&out.stdout).into_iter::<Value>();
            assert!(docs.next().is_some_and(|d| d.is_ok()), "{what}");
            assert!(
                docs.next().is_none(),
                "{what}: one JSON document only: {:?}",
                out.stdout
            );
            assert_eq!(r["cniVersion"], v, "{what}: {r}");
            expected_addresses(&fx, &r, &what);
            fx.call("DEL").run(&fx.conf(v)).expect_success();
        }
    }
}

// 18: 0.1.0/0.2.0 results are ip4/ip6; 0.3.x/0.4.0 have `ips` with
// `version`; 1.x `ips` without it.
#[test]
fn conformance_18_add_result_shape_per_version() {
    require_root!();
    for plugin in PLUGINS {
        let fx = Fx::new(plugin);
        for v in ALL_VERSIONS {
            let what = format!("{plugin} ADD {v}");
            let r = fx.call("ADD").run(&fx.conf(v)).expect_success();
            assert_result_shape(&r, v, &what);
            match shape_of(v) {
                Shape::Legacy => {
                    assert!(r.get("ip4").is_some(), "{what}: {r}");
                    if plugin != "loopback" {
                        assert!(r.get("ip6").is_some(), "{what}: {r}");
                        // routes go under their family
                        assert_eq!(r["ip4"]["routes"][0]["dst"], "0.0.0.0/0", "{what}: {r}");
                        assert_eq!(r["ip6"]["routes"][0]["dst"], "::/0", "{what}: {r}");
                    }
                }
                Shape::V04 | Shape::V1 => {
                    assert!(
                        r["ips"].as_array().is_some_and(|a| !a.is_empty()),
                        "{what}: {r}"
                    );
                    if plugin != "loopback" {
                        assert_eq!(r["routes"].as_array().map(Vec::len), Some(2), "{what}: {r}");
                    }
                }
            }
            if plugin == "static" {
                let gw: Vec<&Value> = match shape_of(v) {
                    Shape::Legacy => vec![&r["ip4"]["gateway"], &r["ip6"]["gateway"]],
                    _ => vec![&r["ips"][0]["gateway"], &r["ips"][1]["gateway"]],
                };
                assert_eq!(
                    gw,
                    [&json!("10.78.0.1"), &json!("fd00:78::1")],
                    "{what}: {r}"
                );
                assert_eq!(r["dns"]["nameservers"], json!(["10.78.0.1"]), "{what}: {r}");
            }
            if plugin == "host-local" {
                let gw: Vec<&Value> = match shape_of(v) {
                    Shape::Legacy => vec![&r["ip4"]["gateway"], &r["ip6"]["gateway"]],
                    _ => vec![&r["ips"][0]["gateway"], &r["ips"][1]["gateway"]],
                };
                assert_eq!(
                    gw,
                    [&json!("10.77.0.1"), &json!("fd00:77::1")],
                    "{what}: {r}"
                );
            }
            fx.call("DEL").run(&fx.conf(v)).expect_success();
        }
    }
}

// 22: DEL twice in a row succeeds both times.
#[test]
fn conformance_22_del_twice() {
    require_root!();
    for plugin in PLUGINS {
        let fx = Fx::new(plugin);
        for v in ALL_VERSIONS {
            let what = format!("{plugin} {v}");
            let r = fx.call("ADD").run(&fx.conf(v)).expect_success();
            let mut c = fx.conf(v);
            if v >= "0.4.0" {
                c["prevResult"] = r;
            }
            for n in 1..=2 {
                let out = fx.call("DEL").run(&c);
                assert_eq!(out.expect_success(), Value::Null, "{what}: DEL #{n}");
            }
            match plugin {
                "loopback" => assert!(!lo_is_up(&fx.ctr), "{what}: lo down"),
                "host-local" => assert_eq!(fx.reservations(), Vec::<String>::new(), "{what}"),
                _ => {}
            }
        }
    }
}

// 23: DEL succeeds when the netns is gone and without prevResult, still
// releasing IPAM state.
#[test]
fn conformance_23_del_vanished_netns() {
    require_root!();
    for plugin in PLUGINS {
        for v in ["0.2.0", "0.4.0", "1.1.0"] {
            let Fx { net, ctr } = Fx::new(plugin);
            let conf = conf_for(plugin, Some(v), net.dir.path());
            let add = Attachment::add(net.call("ADD", &ctr, CID), &conf);
            let path = ctr.path_str();
            drop(ctr);
            assert!(!Path::new(&path).exists(), "{path} still exists");
            let mut prev = conf.clone();
            if v >= "0.4.0" {
                prev = with_prev(&conf, &add.result);
            }
            for c in [&conf, &prev, &conf] {
                net.call_at("DEL", &path, CID).run(c).expect_success();
            }
            if plugin == "host-local" {
                let left = reservation_files(&net.dir.path().join("data").join(NET));
                assert_eq!(left, Vec::<String>::new(), "{plugin} {v}: released");
            }
        }
    }
}

// 25: CHECK prints nothing on success and fails when what the plugin set up
// is gone.
#[test]
fn conformance_25_check_silent_on_success() {
    require_root!();
    for plugin in PLUGINS {
        let fx = Fx::new(plugin);
        for v in ["0.4.0", "1.0.0", "1.1.0"] {
            let what = format!("{plugin} {v}");
            let r = fx.call("ADD").run(&fx.conf(v)).expect_success();
            let mut c = fx.conf(v);
            c["prevResult"] = r;
            let out = fx.call("CHECK").run(&c);
            assert_eq!((out.code, out.stdout.as_str()), (0, ""), "{what}: {out:?}");
            fx.call("DEL").run(&c).expect_success();
            match plugin {
                // DEL set lo down / released the reservation
                "loopback" | "host-local" => {
                    spec_error(&fx.call("CHECK").run(&c), &format!("{what} after DEL"));
                }
                _ => {
                    let mut wrong = c.clone();
                    wrong["prevResult"]["ips"][0]["gateway"] = json!("10.78.0.2");
                    spec_error(
                        &fx.call("CHECK").run(&wrong),
                        &format!("{what} wrong gateway"),
                    );
                }
            }
        }
    }
}

// 29: IPAM plugins return no `interfaces` and no `ips[].interface`.
#[test]
fn conformance_29_ipam_results_have_no_interfaces() {
    require_root!();
    for plugin in IPAM_PLUGINS {
        let fx = Fx::new(plugin);
        for v in ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] {
            let what = format!("{plugin} {v}");
            let r = fx.call("ADD").run(&fx.conf(v)).expect_success();
            assert!(r.get("interfaces").is_none(), "{what}: {r}");
            let ips = r["ips"].as_array().unwrap_or_else(|| panic!("{what}: {r}"));
            assert!(!ips.is_empty(), "{what}: {r}");
            for ip in ips {
                assert!(ip.get("interface").is_none(), "{what}: {r}");
            }
            fx.call("DEL").run(&fx.conf(v)).expect_success();
        }
    }
}

// 32: GC and STATUS succeed at 1.1.0 (loopback and static have no logic for
// them; host-local's pool is free).
#[test]
fn conformance_32_gc_status_succeed() {
    require_root!();
    for plugin in PLUGINS {
        let fx = Fx::new(plugin);
        for cmd in ["GC", "STATUS"] {
            let out = fx
                .call(cmd)
                .cid("")
                .ifname("")
                .netns_path("")
                .run(&fx.conf("1.1.0"));
            assert_eq!(
                (out.code, out.stdout.as_str()),
                (0, ""),
                "{plugin} {cmd}: {out:?}"
            );
        }
    }
}

// 33: CNI_ARGS: unknown keys fail unless IgnoreUnknown is 1/true; a pair
// needs exactly one `=`; IP is recognised. loopback reads no CNI_ARGS (as Go).
#[test]
fn conformance_33_cni_args() {
    require_root!();
    for plugin in IPAM_PLUGINS {
        let fx = Fx::new(plugin);
        let ip = if plugin == "static" {
            "10.78.0.50/24"
        } else {
            "10.77.0.50"
        };
        for args in [
            "FOO=bar",
            "IgnoreUnknown=0;FOO=bar",
            "IgnoreUnknown=false;K8S_POD_NAME=p",
            "IP",
            "IP=a=b",
            "=x",
            "IgnoreUnknown=maybe",
        ] {
            let what = format!("{plugin} CNI_ARGS {args:?}");
            let (code, msg, _) =
                spec_error(&fx.call("ADD").cni_args(args).run(&fx.conf("1.0.0")), &what);
            assert_eq!(code, 4, "{what}: {msg}");
        }
        assert_eq!(fx.reservations(), Vec::<String>::new(), "{plugin}");
        for args in [
            "IgnoreUnknown=1;FOO=bar".to_string(),
            "IgnoreUnknown=true;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_INFRA_CONTAINER_ID=c0ffee".to_string(),
            "FOO=bar;IgnoreUnknown=TRUE".to_string(),
            format!("IP={ip}"),
            format!("IgnoreUnknown=1;K8S_POD_NAME=p;IP={ip}"),
        ] {
            let what = format!("{plugin} CNI_ARGS {args:?}");
            let r = fx.call("ADD").cni_args(&args).run(&fx.conf("1.0.0")).expect_success();
            if args.contains("IP=") {
                let want = if plugin == "static" { ip.to_string() } else { format!("{ip}/24") };
                assert!(addresses(&r).contains(&want), "{what}: {r}");
            }
            fx.call("DEL").cni_args(&args).run(&fx.conf("1.0.0")).expect_success();
        }
    }
    let fx = Fx::new("loopback");
    fx.call("ADD")
        .cni_args("FOO=bar;junk")
        .run(&fx.conf("1.0.0"))
        .expect_success();
}

// 34: capability payloads in runtimeConfig with Go-default capitalised keys.
#[test]
fn conformance_34_capitalised_runtime_config() {
    require_root!();
    for plugin in IPAM_PLUGINS {
        let fx = Fx::new(plugin);
        let ip = if plugin == "static" {
            "10.78.0.60/24"
        } else {
            "10.77.0.60"
        };
        for (rc, ips) in [
            ("runtimeConfig", "ips"),
            ("RuntimeConfig", "IPs"),
            ("runtimeConfig", "Ips"),
        ] {
            let mut c = fx.conf("1.0.0");
            c["capabilities"] = json!({"ips": true});
            c[rc] = json!({ips: [ip]});
            let what = format!("{plugin} {rc}.{ips}");
            let r = fx.call("ADD").run(&c).expect_success();
            let want = if plugin == "static" {
                ip.to_string()
            } else {
                format!("{ip}/24")
            };
            assert!(addresses(&r).contains(&want), "{what}: {r}");
            fx.call("DEL").run(&c).expect_success();
        }
    }
}

// 35: `capabilities`, unknown keys, and unknown content under `args` (and
// unknown capabilities in runtimeConfig) are ignored.
#[test]
fn conformance_35_tolerates_unknown_keys() {
    require_root!();
    for plugin in PLUGINS {
        let fx = Fx::new(plugin);
        for v in ALL_VERSIONS {
            let what = format!("{plugin} {v}");
            let plain = fx.call("ADD").run(&fx.conf(v)).expect_success();
            fx.call("DEL").run(&fx.conf(v)).expect_success();
            let mut c = fx.conf(v);
            c["capabilities"] = json!({"portMappings": true, "bandwidth": true, "mac": false});
            c["runtimeConfig"] = json!({"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}],
                                        "bandwidth": {"ingressRate": 1000}, "futureThing": {"x": [1, 2]}});
            c["args"] = json!({"cni": {"someFutureKey": "x", "labels": [{"key": "a", "value": "b"}]},
                               "k8s": {"pod": "p"}});
            c["someUnknownKey"] = json!({"nested": [1, 2, {"deep": null}]});
            c["anotherOne"] = json!(42);
            if plugin != "loopback" {
                c["ipam"]["unknownIpamKey"] = json!("ignored");
            }
            let r = fx.call("ADD").run(&c).expect_success();
            assert_result_shape(&r, v, &what);
            if plugin != "host-local" {
                assert_eq!(r, plain, "{what}: unknown keys change nothing");
            } else {
                assert_eq!(addresses(&r).len(), addresses(&plain).len(), "{what}: {r}");
            }
            if v >= "0.4.0" {
                let mut chk = c.clone();
                chk["prevResult"] = r;
                fx.call("CHECK").run(&chk).expect_success();
            }
            fx.call("DEL").run(&c).expect_success();
        }
    }
}

// 36: ADD/DEL with CNI_NETNS = the plugin's own namespace is code 8 before
// anything is done, unless CNI_NETNS_OVERRIDE is set.
#[test]
fn conformance_36_refuses_own_netns() {
    require_root!();
    for plugin in IPAM_PLUGINS {
        let fx = Fx::new(plugin);
        for cmd in ["ADD", "DEL"] {
            let out = fx.call(cmd).netns(&fx.net.host).run(&fx.conf("1.0.0"));
            expect_error(
                &out,
                8,
                "plugin's netns and netns from CNI_NETNS should not be the same",
                &format!("{plugin} {cmd}"),
            );
        }
        assert_eq!(
            fx.reservations(),
            Vec::<String>::new(),
            "{plugin}: nothing reserved"
        );
        for val in ["1", "true", "TRUE"] {
            fx.call("ADD")
                .netns(&fx.net.host)
                .env("CNI_NETNS_OVERRIDE", val)
                .run(&fx.conf("1.0.0"))
                .expect_success();
            fx.call("DEL")
                .netns(&fx.net.host)
                .env("CNI_NETNS_OVERRIDE", val)
                .run(&fx.conf("1.0.0"))
                .expect_success();
        }
    }
}

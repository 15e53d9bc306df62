//! Support for the adversarial tests (`tests/hostile*.rs`,
//! `tests/host_protection.rs`): run a plugin with bounded time and memory,
//! check that it answered with a spec error, and snapshot everything a
//! plugin could change on the fake host, to compare before and after.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pkg::testkit::{Call, Netns, Outcome, TestNs, enter_on_exec};

/// The address space a plugin gets (`RLIMIT_AS`): far above what any real
/// call needs, far below what unbounded buffering of hostile input takes.
pub const MEMORY_LIMIT: u64 = 256 << 20;
/// A plugin that has not answered by then is taken to hang.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Run `call` with `stdin`, under [`MEMORY_LIMIT`], killing it (and
/// failing the test) if it has not exited by [`DEADLINE`]. `wrapper` is a
/// command line the plugin is run through (`unshare ...`), if any.
pub fn run_bounded(call: &Call, stdin: &[u8], wrapper: &[&str]) -> Outcome {
    run_bounded_in(call, stdin, wrapper, None)
}

/// [`run_bounded`] in the working directory `cwd` (where a relative path
/// in the config would land).
pub fn run_bounded_in(call: &Call, stdin: &[u8], wrapper: &[&str], cwd: Option<&Path>) -> Outcome {
    let mut cmd = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(&call.plugin);
            c
        }
        None => Command::new(&call.plugin),
    };
    cmd.env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into()),
        )
        .env("CNI_COMMAND", &call.command)
        .env("CNI_CONTAINERID", &call.container_id)
        .env("CNI_NETNS", &call.netns)
        .env("CNI_IFNAME", &call.ifname)
        .env("CNI_ARGS", &call.args)
        .env("CNI_PATH", &call.path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    for (k, v) in &call.extra_env {
        cmd.env(k, v);
    }
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    if let Some(host) = &call.host {
        enter_on_exec(&mut cmd, &Netns::open(host).expect("open host netns"));
    }
    // SAFETY: setrlimit is async-signal-safe and affects only the child.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: MEMORY_LIMIT,
                rlim_max: MEMORY_LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", call.plugin.display()));
    let pid = child.id() as i32;
    let (mut input, mut out, mut err) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take());
    std::thread::scope(|s| {
        s.spawn(move || {
            if let Some(w) = input.as_mut() {
                // The plugin may stop reading (a cap): EPIPE is expected.
                let _ = w.write_all(stdin);
            }
            drop(input);
        });
        let stdout = s.spawn(move || {
            let mut buf = Vec::new();
            if let Some(r) = out.as_mut() {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        });
        let stderr = s.spawn(move || {
            let mut buf = Vec::new();
            if let Some(r) = err.as_mut() {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        });
        let start = Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().expect("wait for plugin") {
                break st;
            }
            if start.elapsed() > DEADLINE {
                // SAFETY: killpg on the group the plugin leads.
                unsafe { libc::killpg(pid, libc::SIGKILL) };
                let _ = child.wait();
                panic!(
                    "{} {} did not answer within {DEADLINE:?}",
                    call.plugin.display(),
                    call.command
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let stdout = stdout.join().unwrap_or_default();
        let stderr = stderr.join().unwrap_or_default();
        use std::os::unix::process::ExitStatusExt;
        assert!(
            status.signal().is_none(),
            "{} {} was killed by signal {:?} (memory limit {} MiB?)\nstderr: {}",
            call.plugin.display(),
            call.command,
            status.signal(),
            MEMORY_LIMIT >> 20,
            String::from_utf8_lossy(&stderr)
        );
        Outcome {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    })
}

/// Assert `out` is a spec error with `code` whose `msg` and `details`
/// together contain every one of `needles`; `what` labels failures.
pub fn assert_spec_error(out: &Outcome, code: u64, needles: &[&str], what: &str) {
    assert_ne!(out.code, 0, "{what}: succeeded: {}", out.stdout);
    let j: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: stdout is not JSON ({e}): {:?}\nstderr: {}",
            out.stdout, out.stderr
        )
    });
    let text = format!(
        "{} {}",
        j["msg"].as_str().unwrap_or_default(),
        j["details"].as_str().unwrap_or_default()
    );
    assert_eq!(j["code"].as_u64(), Some(code), "{what}: {j}");
    assert!(j["cniVersion"].is_string(), "{what}: no cniVersion: {j}");
    for n in needles {
        assert!(text.contains(n), "{what}: error does not name {n:?}: {j}");
    }
    assert!(!out.stderr.contains("panicked"), "{what}: {}", out.stderr);
}

/// Everything of a namespace a plugin could change: links, addresses,
/// routes and rules, qdiscs, iptables (4 tables, both families), the nft
/// ruleset, and the forwarding and RA sysctls of every interface.
#[derive(Debug, PartialEq, Eq)]
pub struct NsSnapshot(BTreeMap<String, String>);

impl NsSnapshot {
    pub fn take(ns: &TestNs) -> NsSnapshot {
        let mut m = BTreeMap::new();
        let mut put = |key: String, program: &str, args: &[&str]| {
            let out = ns.cmd(program, args).output();
            let text = match out {
                Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
                Err(_) => String::new(),
            };
            m.insert(key, text);
        };
        put("link".into(), "ip", &["-d", "link", "show"]);
        put("addr".into(), "ip", &["addr", "show"]);
        put(
            "route4".into(),
            "ip",
            &["-4", "route", "show", "table", "all"],
        );
        put(
            "route6".into(),
            "ip",
            &["-6", "route", "show", "table", "all"],
        );
        put("rule4".into(), "ip", &["-4", "rule", "show"]);
        put("rule6".into(), "ip", &["-6", "rule", "show"]);
        put("qdisc".into(), "tc", &["qdisc", "show"]);
        put("nft".into(), "nft", &["list", "ruleset"]);
        for tool in ["iptables", "ip6tables"] {
            for table in ["filter", "nat", "mangle", "raw"] {
                put(format!("{tool}-{table}"), tool, &["-w", "-t", table, "-S"]);
            }
        }
        let sysctls = ns
            .open()
            .run(|| Ok(net_sysctls()))
            .expect("read sysctls in the namespace");
        m.insert("sysctl".into(), sysctls);
        NsSnapshot(m)
    }

    /// Panic with the differing parts if `self` and `after` differ.
    pub fn assert_same(&self, after: &NsSnapshot, what: &str) {
        let diff: Vec<String> = self
            .0
            .iter()
            .filter(|(k, v)| after.0.get(*k) != Some(v))
            .map(|(k, v)| {
                format!(
                    "--- {k} before:\n{v}\n--- {k} after:\n{}",
                    after.0.get(k).map(String::as_str).unwrap_or("")
                )
            })
            .collect();
        assert!(
            diff.is_empty(),
            "{what}: the namespace changed:\n{}",
            diff.join("\n")
        );
    }
}

/// Forwarding and router-advertisement sysctls of the calling thread's
/// namespace.
fn net_sysctls() -> String {
    let mut out = String::new();
    let mut read = |p: &str| {
        let v = std::fs::read_to_string(p).unwrap_or_default();
        out += &format!("{p}={}\n", v.trim());
    };
    read("/proc/sys/net/ipv4/ip_forward");
    for (family, leaves) in [
        (
            "ipv4",
            &["forwarding", "route_localnet", "proxy_arp", "rp_filter"][..],
        ),
        ("ipv6", &["forwarding", "accept_ra", "disable_ipv6"][..]),
    ] {
        let dir = format!("/proc/sys/net/{family}/conf");
        let mut ifs: Vec<String> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        ifs.sort();
        for i in ifs {
            for leaf in leaves {
                read(&format!("{dir}/{i}/{leaf}"));
            }
        }
    }
    out
}

/// Every entry under `dir` (not following symlinks): type, mode, and the
/// content of files or the target of symlinks.
pub fn tree_snapshot(dir: &Path) -> BTreeMap<String, String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap_or(&p).display().to_string();
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            let mode = meta.mode();
            let desc = if meta.file_type().is_symlink() {
                format!(
                    "symlink -> {}",
                    std::fs::read_link(&p)
                        .map(|t| t.display().to_string())
                        .unwrap_or_default()
                )
            } else if meta.is_dir() {
                walk(base, &p, out);
                format!("dir {mode:o}")
            } else if meta.is_file() {
                let content = std::fs::read(&p).unwrap_or_default();
                format!("file {mode:o} {:?}", String::from_utf8_lossy(&content))
            } else {
                format!("special {mode:o}")
            };
            out.insert(rel, desc);
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Wait (bounded) until the kernel has finished configuring new links:
/// IPv6 link-local addresses appear and leave DAD a moment after a link
/// comes up, and a snapshot taken before that would differ from one taken
/// after for reasons of its own.
pub fn settle(ns: &TestNs) {
    let state = || {
        let out = |args: &[&str]| {
            ns.cmd("ip", args)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
        };
        out(&["addr", "show"]) + &out(&["-6", "route", "show", "table", "all"])
    };
    let mut last = state();
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(100));
        let now = state();
        if now == last && !now.contains("tentative") {
            return;
        }
        last = now;
    }
}

/// The plugins of the suite, main, IPAM and meta.
pub const PLUGINS: [&str; 18] = [
    "bridge",
    "ptp",
    "macvlan",
    "ipvlan",
    "vlan",
    "dummy",
    "tap",
    "host-device",
    "host-local",
    "static",
    "dhcp",
    "tuning",
    "portmap",
    "bandwidth",
    "firewall",
    "loopback",
    "vrf",
    "sbr",
];

/// A fake host and container, and a temporary directory holding every
/// state directory (`data/`) and the files an attack might aim at
/// (`outside/`).
pub struct Lab {
    pub host: TestNs,
    pub ctr: TestNs,
    pub root: tempfile::TempDir,
}

/// The master of macvlan, ipvlan and vlan in the fake host.
pub const MASTER: &str = "hmst0";
/// The device host-device moves: a veth end in the fake host.
pub const DEVICE: &str = "hdev0";
pub const NETWORK: &str = "hnet";
pub const CID: &str = "hcid";

impl Lab {
    pub fn new() -> Lab {
        let host = TestNs::new("hhost");
        let ctr = TestNs::new("hctr");
        host.ip(&[
            "link", "add", MASTER, "type", "veth", "peer", "name", "hmst1",
        ]);
        host.ip(&["link", "set", MASTER, "up"]);
        host.ip(&[
            "link", "add", DEVICE, "type", "veth", "peer", "name", "hdev1",
        ]);
        // the container's interface for chained plugins
        host.ip(&[
            "link", "add", "hveth0", "type", "veth", "peer", "name", "eth0", "netns", &ctr.name,
        ]);
        host.ip(&["link", "set", "hveth0", "up"]);
        ctr.ip(&["link", "set", "eth0", "up"]);
        ctr.ip(&["addr", "add", "10.99.0.5/24", "dev", "eth0"]);
        let root = tempfile::Builder::new()
            .prefix("cni-hostile-")
            .tempdir()
            .expect("tempdir");
        std::fs::create_dir_all(root.path().join("data")).expect("mkdir data");
        std::fs::create_dir_all(root.path().join("outside/vdir")).expect("mkdir outside");
        std::fs::write(root.path().join("outside/victim"), "precious").expect("write victim");
        std::fs::write(root.path().join("outside/vdir/10.99.0.2"), "precious")
            .expect("write victim");
        settle(&host);
        settle(&ctr);
        Lab { host, ctr, root }
    }

    pub fn data(&self) -> std::path::PathBuf {
        self.root.path().join("data")
    }

    pub fn outside(&self) -> std::path::PathBuf {
        self.root.path().join("outside")
    }

    /// What a chained plugin gets from the attachment before it.
    pub fn prev_result(&self) -> serde_json::Value {
        serde_json::json!({
            "cniVersion": "1.0.0",
            "interfaces": [
                {"name": "hveth0"},
                {"name": "eth0", "sandbox": self.ctr.path_str()}
            ],
            "ips": [{"address": "10.99.0.5/24", "interface": 1, "gateway": "10.99.0.1"}]
        })
    }

    pub fn host_local_ipam(&self) -> serde_json::Value {
        serde_json::json!({
            "type": "host-local",
            "dataDir": self.data(),
            "ranges": [[{"subnet": "10.99.0.0/24"}]]
        })
    }

    /// A valid configuration of `plugin`: each adversarial case changes
    /// one thing in it.
    pub fn conf(&self, plugin: &str) -> serde_json::Value {
        use serde_json::json;
        let mut c = json!({"cniVersion": "1.0.0", "name": NETWORK, "type": plugin});
        let extra = match plugin {
            "bridge" => json!({"bridge": "hbr0", "ipam": self.host_local_ipam()}),
            "ptp" => json!({"ipam": self.host_local_ipam()}),
            "macvlan" | "ipvlan" => json!({"master": MASTER, "ipam": self.host_local_ipam()}),
            "vlan" => json!({"master": MASTER, "vlanId": 100, "ipam": self.host_local_ipam()}),
            "dummy" | "tap" => json!({"ipam": self.host_local_ipam()}),
            "host-device" => json!({
                "device": DEVICE, "dataDir": self.data().join("host-device"),
                "ipam": self.host_local_ipam()
            }),
            "host-local" => json!({"ipam": self.host_local_ipam()}),
            "static" => {
                json!({"ipam": {"type": "static", "addresses": [{"address": "10.99.1.5/24"}]}})
            }
            // No daemon listens there: every ADD ends before dialing it or
            // at the dial (code 11).
            "dhcp" => json!({
                "ipam": {"type": "dhcp", "daemonSocketPath": self.data().join("dhcp.sock")}
            }),
            "tuning" => json!({
                "dataDir": self.data().join("tuning"), "mtu": 1400,
                "sysctl": {"net.ipv4.conf.IFNAME.arp_notify": "1"},
                "prevResult": self.prev_result()
            }),
            "portmap" => json!({
                "backend": "iptables",
                "runtimeConfig": {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]},
                "prevResult": self.prev_result()
            }),
            "bandwidth" => json!({
                "ingressRate": 1000000, "ingressBurst": 100000,
                "egressRate": 1000000, "egressBurst": 100000,
                "prevResult": self.prev_result()
            }),
            "firewall" => json!({"backend": "iptables", "prevResult": self.prev_result()}),
            "vrf" => json!({"vrfname": "hvrf", "prevResult": self.prev_result()}),
            "sbr" => json!({"prevResult": self.prev_result()}),
            _ => json!({}),
        };
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            c[k] = v;
        }
        c
    }

    /// A call as a runtime makes it. Main plugins create `net1` (free in
    /// the container, so nothing stops them early but the case itself);
    /// chained ones work on `eth0`, which exists.
    pub fn call(&self, plugin: &str, command: &str) -> Call {
        let bin = crate::plugin_path(plugin);
        let main = [
            "bridge",
            "ptp",
            "macvlan",
            "ipvlan",
            "vlan",
            "dummy",
            "tap",
            "host-device",
        ];
        let ifname = if main.contains(&plugin) {
            "net1"
        } else {
            "eth0"
        };
        Call::new(bin, command)
            .cid(CID)
            .ifname(ifname)
            .netns(&self.ctr)
            .in_host(&self.host)
    }

    pub fn snapshot(&self) -> LabSnapshot {
        LabSnapshot {
            host: NsSnapshot::take(&self.host),
            ctr: NsSnapshot::take(&self.ctr),
            files: tree_snapshot(self.root.path()),
        }
    }
}

impl Default for Lab {
    fn default() -> Self {
        Lab::new()
    }
}

/// The fake host, the container and the temporary files at one moment.
pub struct LabSnapshot {
    pub host: NsSnapshot,
    pub ctr: NsSnapshot,
    pub files: BTreeMap<String, String>,
}

impl LabSnapshot {
    pub fn assert_same(&self, after: &LabSnapshot, what: &str) {
        self.host
            .assert_same(&after.host, &format!("{what} (fake host)"));
        self.ctr
            .assert_same(&after.ctr, &format!("{what} (container)"));
        let changed: Vec<String> = self
            .files
            .iter()
            .filter(|(k, v)| after.files.get(*k) != Some(v))
            .map(|(k, v)| format!("{k}: {v} -> {:?}", after.files.get(k)))
            .chain(
                after
                    .files
                    .iter()
                    .filter(|(k, _)| !self.files.contains_key(*k))
                    .map(|(k, v)| format!("{k}: new {v}")),
            )
            .collect();
        assert!(changed.is_empty(), "{what}: files changed: {changed:#?}");
    }
}

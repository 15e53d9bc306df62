//! Test support for plugin authors (feature `testkit`): throwaway network
//! namespaces (a fake "host" and "containers"), running a plugin binary
//! inside the fake host the way a runtime does, and reading kernel state
//! back.
//!
//! Every [`TestNs`] has a unique name and is deleted on drop, so tests run
//! in parallel and never touch the machine's own network. Tests need root
//! (or `CAP_SYS_ADMIN` + `CAP_NET_ADMIN`) and `ip` from iproute2; start each
//! with [`require_root!`](crate::require_root) (and
//! [`require_tools!`](crate::require_tools) for other programs): without
//! them the test skips with the reason, or fails with it when
//! `CNI_TESTS_REQUIRE_PRIV` is set (see [`skip`]).
//!
//! ```no_run
//! use pkg::testkit::{Call, TestNs};
//!
//! let host = TestNs::new("host");
//! let ctr = TestNs::new("ctr");
//! let conf = serde_json::json!({"cniVersion": "1.1.0", "name": "n", "type": "loopback"});
//! let result = Call::new("target/debug/loopback", "ADD")
//!     .netns(&ctr)
//!     .in_host(&host)
//!     .run(&conf)
//!     .expect_success();
//! assert_eq!(result["interfaces"][0]["name"], "lo");
//! Call::new("target/debug/loopback", "DEL").netns(&ctr).in_host(&host).run(&conf).expect_success();
//! ```

// Test support: a panic is how it reports a failure to the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsString;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

pub use crate::ns::Netns;
pub use crate::types::Version;

pub use crate::skip;

/// Return from the calling test unless it can create namespaces: skipped
/// with the reason, or failed with it under `CNI_TESTS_REQUIRE_PRIV`.
#[macro_export]
macro_rules! require_root {
    () => {
        if let Some(reason) = $crate::testkit::missing_privilege() {
            return $crate::skip::because(reason);
        }
    };
}

/// Return from the calling test unless every program named is in `PATH`:
/// skipped with the reason, or failed with it under `CNI_TESTS_REQUIRE_PRIV`.
#[macro_export]
macro_rules! require_tools {
    ($($tool:expr),+ $(,)?) => {
        if let Some(reason) = $crate::testkit::missing_tools(&[$($tool),+]) {
            return $crate::skip::because(reason);
        }
    };
}

/// Return from the calling test unless this kernel has every feature
/// named ([`KERNEL_FEATURES`]): skipped with the reason, or failed with it
/// under `CNI_TESTS_REQUIRE_PRIV` unless the VM stage covers the feature
/// (see [`skip::kernel`]). Call it after [`require_root!`](crate::require_root).
#[macro_export]
macro_rules! require_kernel {
    ($($feature:expr),+ $(,)?) => {
        for feature in [$($feature),+] {
            if let Some(reason) = $crate::testkit::missing_kernel_feature(feature) {
                return $crate::skip::kernel(feature, reason);
            }
        }
    };
}

/// Kernel features some tests need and some kernels lack (this project's
/// development VM has none of them; Debian's kernels have them all), with
/// the `ip` commands that show whether a kernel has one. `pci-nic` is not
/// made but found: the test VM's NIC ([`test_nic`]), which only the VM has.
pub const KERNEL_FEATURES: &[(&str, &[&[&str]])] = &[
    ("pci-nic", &[]),
    ("dummy", &[&["link", "add", "kp0", "type", "dummy"]]),
    (
        "vlan",
        &[
            VETH_PROBE,
            &[
                "link", "add", "link", "kp0", "name", "kp2", "type", "vlan", "id", "2",
            ],
        ],
    ),
    (
        "ipvlan",
        &[
            VETH_PROBE,
            &[
                "link", "add", "link", "kp0", "name", "kp2", "type", "ipvlan", "mode", "l2",
            ],
        ],
    ),
    (
        "vrf",
        &[&["link", "add", "kp0", "type", "vrf", "table", "10"]],
    ),
    (
        "bridge-vlan",
        &[&[
            "link",
            "add",
            "kp0",
            "type",
            "bridge",
            "vlan_filtering",
            "1",
        ]],
    ),
];

const VETH_PROBE: &[&str] = &["link", "add", "kp0", "type", "veth", "peer", "name", "kp1"];

/// Why this kernel cannot run tests that need `feature`, if it cannot:
/// probed once per process by making the links in a throwaway namespace.
pub fn missing_kernel_feature(feature: &str) -> Option<String> {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static PROBED: Mutex<Option<HashMap<String, Option<String>>>> = Mutex::new(None);
    let mut probed = PROBED.lock().unwrap_or_else(|e| e.into_inner());
    let cache = probed.get_or_insert_with(HashMap::new);
    if let Some(answer) = cache.get(feature) {
        return answer.clone();
    }
    let answer = probe_kernel(feature);
    cache.insert(feature.to_string(), answer.clone());
    answer
}

fn probe_kernel(feature: &str) -> Option<String> {
    let Some((_, steps)) = KERNEL_FEATURES.iter().find(|(f, _)| *f == feature) else {
        panic!("unknown kernel feature {feature:?}: see KERNEL_FEATURES");
    };
    if feature == "pci-nic" {
        return test_nic().err();
    }
    let ns = TestNs::new("probe");
    for step in *steps {
        let out = ns.cmd("ip", step).output().expect("run ip");
        if !out.status.success() {
            let release = nix::sys::utsname::uname()
                .map(|u| u.release().to_string_lossy().into_owned())
                .unwrap_or_default();
            return Some(format!(
                "kernel {release} has no {feature} support (`ip {}`: {})",
                step.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    None
}

/// The MAC of the test VM's NIC (test/vm/run.sh), locally administered:
/// no machine's own NIC has it, so a test that moves this NIC cannot take
/// a host's network away.
pub const TEST_NIC_MAC: &str = "0e:c0:ff:ee:00:01";

/// The test VM's NIC: a virtio-net PCI function on a qemu hub with
/// nothing else on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestNic {
    /// Its interface in the root namespace.
    pub name: String,
    /// Its PCI address (`pciBusID`).
    pub pci: String,
    /// The directory whose `net/` holds the interface (`kernelpath`).
    pub kernelpath: String,
}

/// The test VM's NIC, found in sysfs by [`TEST_NIC_MAC`] among the
/// interfaces of the root namespace, or why there is none.
pub fn test_nic() -> Result<TestNic, String> {
    let missing = |why: String| Err(format!("no pci-nic support: {why}"));
    let Ok(entries) = std::fs::read_dir("/sys/class/net") else {
        return missing("no /sys/class/net".into());
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        let mac = std::fs::read_to_string(dir.join("address")).unwrap_or_default();
        if mac.trim() != TEST_NIC_MAC {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(device) = std::fs::canonicalize(dir.join("device")) else {
            return missing(format!("{name} has the test NIC's MAC but no device"));
        };
        // /sys/devices/pci0000:00/0000:00:03.0/virtio0: the PCI function
        // is the device itself or, for virtio, its parent
        let pci = [device.as_path(), device.parent().unwrap_or(&device)]
            .into_iter()
            .find(|d| d.join("vendor").exists() && d.join("class").exists())
            .and_then(|d| d.file_name())
            .map(|n| n.to_string_lossy().into_owned());
        let Some(pci) = pci else {
            return missing(format!("{name} is not on a PCI bus ({})", device.display()));
        };
        return Ok(TestNic {
            name,
            pci,
            kernelpath: device.to_string_lossy().into_owned(),
        });
    }
    missing(format!(
        "no interface with MAC {TEST_NIC_MAC} (the test VM's NIC, test/vm/run.sh)"
    ))
}

/// Why namespaces cannot be created here, if they cannot.
pub fn missing_privilege() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("needs root to create network namespaces".into());
    }
    if which("ip").is_none() {
        return Some("needs iproute2 (`ip`)".into());
    }
    None
}

/// Which of `tools` are not in `PATH`, as a reason to skip.
pub fn missing_tools(tools: &[&str]) -> Option<String> {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| which(t).is_none())
        .collect();
    (!missing.is_empty()).then(|| format!("needs {} (not installed)", missing.join(", ")))
}

fn which(cmd: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(cmd))
            .find(|p| p.is_file())
    })
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A named network namespace (`/run/netns/<name>`), deleted on drop.
pub struct TestNs {
    pub name: String,
    pub path: PathBuf,
}

impl TestNs {
    pub fn new(role: &str) -> TestNs {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("cnit-{role}-{}-{n}", std::process::id());
        let status = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .expect("run ip netns add");
        assert!(status.success(), "ip netns add {name} failed");
        let path = PathBuf::from(format!("/run/netns/{name}"));
        let ns = TestNs { name, path };
        // lo up, as in a real namespace a runtime made
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    pub fn path_str(&self) -> String {
        self.path.display().to_string()
    }

    pub fn open(&self) -> Netns {
        Netns::open(&self.path).expect("open test netns")
    }

    /// `ip <args>` inside this namespace; panics on failure.
    pub fn ip(&self, args: &[&str]) -> String {
        let out = self.cmd("ip", args).output().expect("run ip");
        assert!(
            out.status.success(),
            "ip {} in {}: {}",
            args.join(" "),
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A command that will run inside this namespace.
    pub fn cmd(&self, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Command {
        let mut c = Command::new(program);
        c.args(args);
        enter_on_exec(&mut c, &self.open());
        c
    }

    /// A veth pair from this namespace (`name`, with `addrs`) to `peer`
    /// (`peer_name`, with `peer_addrs`), both ends up. Addresses are CIDRs;
    /// IPv6 ones skip DAD, so they are usable at once.
    pub fn veth_to(
        &self,
        name: &str,
        addrs: &[&str],
        peer: &TestNs,
        peer_name: &str,
        peer_addrs: &[&str],
    ) {
        self.ip(&[
            "link", "add", name, "type", "veth", "peer", "name", peer_name, "netns", &peer.name,
        ]);
        for (ns, dev, list) in [(self, name, addrs), (peer, peer_name, peer_addrs)] {
            for a in list {
                let mut args = vec!["addr", "add", a, "dev", dev];
                if a.contains(':') {
                    args.push("nodad");
                }
                ns.ip(&args);
            }
            ns.ip(&["link", "set", dev, "up"]);
        }
    }

    pub fn netlink(&self) -> crate::netlink::Netlink {
        crate::netlink::Netlink::in_netns(&self.open()).expect("netlink socket in test netns")
    }
}

impl Drop for TestNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Make `cmd` enter `ns` in the child between fork and exec.
pub fn enter_on_exec(cmd: &mut Command, ns: &Netns) {
    let fd = ns.as_fd().try_clone_to_owned().expect("dup netns fd");
    // SAFETY: setns is async-signal-safe and touches only the child.
    unsafe {
        cmd.pre_exec(move || {
            nix::sched::setns(&fd, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(std::io::Error::from)
        });
    }
}

/// What a plugin run returned.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "plugin stdout is not JSON ({e}): {:?}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }

    /// Assert that the plugin succeeded; returns its stdout parsed (Null
    /// when empty).
    pub fn expect_success(&self) -> Value {
        assert_eq!(
            self.code, 0,
            "plugin failed: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        if self.stdout.trim().is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }

    /// Assert that the plugin failed with a spec error; returns (code, msg).
    pub fn expect_spec_error(&self) -> (u64, String) {
        assert_ne!(
            self.code, 0,
            "plugin unexpectedly succeeded: {}",
            self.stdout
        );
        let j = self.json();
        let code = j["code"]
            .as_u64()
            .unwrap_or_else(|| panic!("no code in error: {j}"));
        assert!(j["msg"].is_string(), "no msg in error: {j}");
        (code, j["msg"].as_str().unwrap_or_default().to_string())
    }
}

/// One plugin invocation, built like a runtime would.
#[derive(Clone)]
pub struct Call {
    pub plugin: PathBuf,
    pub command: String,
    pub container_id: String,
    pub netns: String,
    pub ifname: String,
    pub args: String,
    pub path: String,
    pub extra_env: Vec<(String, String)>,
    /// Run inside this namespace (the fake host).
    pub host: Option<PathBuf>,
}

impl Call {
    /// A call of `plugin` with `CNI_PATH` set to the plugin's directory.
    pub fn new(plugin: impl Into<PathBuf>, command: &str) -> Call {
        let plugin: PathBuf = plugin.into();
        Call {
            command: command.into(),
            container_id: "c0ffee".into(),
            netns: String::new(),
            ifname: "eth0".into(),
            args: String::new(),
            path: plugin
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            extra_env: Vec::new(),
            host: None,
            plugin,
        }
    }

    pub fn cid(mut self, id: &str) -> Call {
        self.container_id = id.into();
        self
    }
    pub fn netns(mut self, ns: &TestNs) -> Call {
        self.netns = ns.path_str();
        self
    }
    pub fn netns_path(mut self, p: &str) -> Call {
        self.netns = p.into();
        self
    }
    pub fn ifname(mut self, i: &str) -> Call {
        self.ifname = i.into();
        self
    }
    pub fn cni_args(mut self, a: &str) -> Call {
        self.args = a.into();
        self
    }
    pub fn in_host(mut self, host: &TestNs) -> Call {
        self.host = Some(host.path.clone());
        self
    }
    pub fn env(mut self, k: &str, v: &str) -> Call {
        self.extra_env.push((k.into(), v.into()));
        self
    }
    pub fn command(mut self, c: &str) -> Call {
        self.command = c.into();
        self
    }

    pub fn run(&self, stdin: &Value) -> Outcome {
        self.run_raw(stdin.to_string().as_bytes())
    }

    pub fn run_raw(&self, stdin: &[u8]) -> Outcome {
        let child = self.spawn(stdin);
        let out = child.wait_with_output().expect("wait for plugin");
        Outcome {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Start the plugin with `stdin` written and closed, without waiting:
    /// for tests that kill it part way. The plugin leads a process group
    /// of its own (its pid is the group id), so a test can also find what
    /// the plugin started.
    pub fn spawn(&self, stdin: &[u8]) -> std::process::Child {
        let mut cmd = Command::new(&self.plugin);
        cmd.env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH")
                    .unwrap_or_else(|| OsString::from("/usr/sbin:/usr/bin:/sbin:/bin")),
            )
            .env("CNI_COMMAND", &self.command)
            .env("CNI_CONTAINERID", &self.container_id)
            .env("CNI_NETNS", &self.netns)
            .env("CNI_IFNAME", &self.ifname)
            .env("CNI_ARGS", &self.args)
            .env("CNI_PATH", &self.path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        if let Some(host) = &self.host {
            enter_on_exec(&mut cmd, &Netns::open(host).expect("open host netns"));
        }
        cmd.process_group(0);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.plugin.display()));
        if let Some(mut w) = child.stdin.take() {
            let _ = w.write_all(stdin);
        }
        child
    }
}

/// A fresh temporary directory for `dataDir` and the like.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cni-test-")
        .tempdir()
        .expect("tempdir")
}

/// Versions from `min` up.
pub fn versions_from(min: Version) -> impl Iterator<Item = Version> {
    Version::ALL.into_iter().filter(move |v| *v >= min)
}

/// `bind(addr)`, tried again for up to 5 s while the address is in use.
/// A socket a test closed lives on in every child that another test
/// thread forked and has not yet exec'd (the descriptor closes at exec),
/// so a probe reusing a port right after the last one can find it busy;
/// slow machines (the test VM, Documentation/test-vm.md) see that often.
pub fn bind_when_free<T>(
    addr: std::net::SocketAddr,
    bind: impl Fn(std::net::SocketAddr) -> std::io::Result<T>,
) -> std::io::Result<T> {
    use std::time::{Duration, Instant};
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match bind(addr) {
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

/// Open a TCP listener on `bind` inside `server`, connect to `target` from
/// inside `client`, and return the peer address the server saw (after
/// masquerade, the host's address rather than the container's).
pub fn tcp_probe(
    server: &TestNs,
    bind: std::net::SocketAddr,
    client: &TestNs,
    target: std::net::SocketAddr,
) -> Result<std::net::SocketAddr, String> {
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;
    let listener = server
        .open()
        .run(move || {
            bind_when_free(bind, TcpListener::bind)
                .map_err(|e| crate::Error::io(format!("bind {bind}"), e))
        })
        .map_err(|e| e.to_string())?;
    listener.set_nonblocking(false).map_err(|e| e.to_string())?;
    let accept = std::thread::spawn(move || listener.accept().map(|(_, peer)| peer));
    let connected = client.open().run(move || {
        TcpStream::connect_timeout(&target, Duration::from_secs(3))
            .map_err(|e| crate::Error::io(format!("connect {target}"), e))
    });
    match connected {
        Ok(_stream) => accept
            .join()
            .map_err(|_| "accept thread panicked".to_string())?
            .map_err(|e| e.to_string()),
        Err(e) => {
            // unblock the accept thread
            let _ = server.open().run(move || {
                let _ = TcpStream::connect_timeout(&bind, Duration::from_millis(200));
                Ok(())
            });
            let _ = accept.join();
            Err(e.to_string())
        }
    }
}

/// Read a sysctl (a `/proc/sys/...` path) as seen inside `ns`.
pub fn sysctl_in(ns: &TestNs, path: &str) -> String {
    let out = ns.cmd("cat", &[path]).output().expect("run cat");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A command's stdout inside `ns` ("" if the command is missing or fails).
pub fn output_in(ns: &TestNs, program: &str, args: &[&str]) -> String {
    match ns.cmd(program, args).output() {
        Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
        Err(_) => String::new(),
    }
}

pub fn has_tool(name: &str) -> bool {
    which(name).is_some()
}

//! Resource faults during ADD: a full or read-only `dataDir`, a netns that
//! vanished before or during ADD, missing `iptables`/`nft`, and an IPAM
//! plugin that crashes or hangs. Each failing ADD must print a spec error
//! that says what went wrong, leave nothing behind (no veth, no address,
//! no firewall rule, no reservation), and the DEL a runtime sends next must
//! succeed (or, where it cannot do its job, say why and succeed once the
//! fault is gone).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use integration::kill::become_subreaper;
use integration::state::{Snapshot, store_problems};
use integration::*;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use serde_json::{Value, json};

/// A tmpfs of `size` mounted on a fresh temp dir, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn new(size: &str) -> Tmpfs {
        let dir = tempdir();
        mount(
            Some("tmpfs"),
            dir.path(),
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some(format!("size={size},mode=0755").as_str()),
        )
        .expect("mount tmpfs");
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fill it up: write until the file system says no.
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.path().join("filler")).expect("create filler");
        let block = vec![0u8; 4096];
        loop {
            match f.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc_enospc()) => break,
                Err(e) => panic!("filling tmpfs: {e}"),
            }
        }
        let _ = f.sync_all();
    }

    fn remount(&self, read_only: bool) {
        let mut flags = MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
        if read_only {
            flags |= MsFlags::MS_RDONLY;
        }
        mount(
            None::<&str>,
            self.path(),
            Some("tmpfs"),
            flags,
            None::<&str>,
        )
        .expect("remount tmpfs");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = umount2(self.path(), MntFlags::MNT_DETACH);
    }
}

fn libc_enospc() -> i32 {
    nix::errno::Errno::ENOSPC as i32
}

/// A fake host and a container, with a bridge network `fnet` whose store
/// is wherever the test puts it (the fixture's directory is scratch).
struct Env {
    fx: Fixture,
    ctr: TestNs,
}

impl Env {
    fn new(tag: &str) -> Env {
        Env {
            fx: Fixture::in_host(TestNs::new(&format!("f{tag}h")), "bridge", "fnet"),
            ctr: TestNs::new(&format!("f{tag}c")),
        }
    }

    fn bridge(&self, data_dir: &Path, masq: Option<&str>) -> Value {
        let mut c = self.fx.conf(
            Version::V1_1_0,
            json!({"bridge": "cnifault0", "isGateway": true,
                   "ipam": {"type": "host-local", "dataDir": data_dir,
                            "ranges": [[{"subnet": "10.98.0.0/24"}]]}}),
        );
        if let Some(b) = masq {
            merge(&mut c, json!({"ipMasq": true, "ipMasqBackend": b}));
        }
        c
    }

    fn call(&self, plugin: &str, cmd: &str, cid: &str) -> Call {
        self.fx.call_of(plugin, cmd, &self.ctr, cid)
    }

    /// `plugin` (a wrapper script) run for container `c1` as a runtime
    /// would run it.
    fn call_wrapped(&self, plugin: &Path, cmd: &str) -> Call {
        runtime_call(plugin, cmd, "c1", &self.ctr, &self.fx.host)
    }

    /// Create the bridge (and the shared firewall chains) once, so the
    /// baseline holds what the network keeps between containers.
    fn warm_up(&self, masq: Option<&str>) -> Snapshot {
        let dir = self.fx.dir.path().join("warmup");
        let c = self.bridge(&dir, masq);
        self.call("bridge", "ADD", "warmup")
            .run(&c)
            .expect_success();
        self.call("bridge", "DEL", "warmup")
            .run(&c)
            .expect_success();
        Snapshot::of(&self.fx.host)
    }

    /// The host as in `before` and the container empty; the kernel
    /// removes the links of a deleted netns asynchronously, so this waits
    /// (bounded) for that.
    fn assert_clean(&self, before: &Snapshot, what: &str) {
        let start = Instant::now();
        loop {
            let diff = before.diff(&Snapshot::of(&self.fx.host));
            match diff {
                None => break,
                Some(d) if start.elapsed() > Duration::from_secs(10) => {
                    panic!("{what}: the host is not as before:\n{d}")
                }
                Some(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        if self.ctr.path.exists() {
            let links = Snapshot::of(&self.ctr).link_names().clone();
            assert_eq!(links.len(), 1, "{what}: container links {links:?}");
        }
    }
}

fn assert_no_reservations(data_dir: &Path, what: &str) {
    let held = reservation_files(&data_dir.join("fnet"));
    assert!(held.is_empty(), "{what}: reservations left: {held:?}");
    let (problems, _) = store_problems(&data_dir.join("fnet"));
    assert!(problems.is_empty(), "{what}: {problems:?}");
}

#[test]
fn full_data_dir() {
    require_root!();
    let env = Env::new("full");
    let before = env.warm_up(None);
    let fs = Tmpfs::new("256k");
    let data = fs.path().join("data");
    let c = env.bridge(&data, None);
    // One container gets in while there is room.
    env.call("bridge", "ADD", "early").run(&c).expect_success();
    fs.fill();
    let (code, msg) = env
        .call("bridge", "ADD", "late")
        .ifname("eth1")
        .run(&c)
        .expect_spec_error();
    assert_eq!(code, 999, "{msg}");
    assert!(
        msg.contains(&data.join("fnet").display().to_string())
            && msg.to_lowercase().contains("no space left on device"),
        "{msg}"
    );
    // The DELs a runtime sends: for the failed ADD, then for the early one;
    // releasing needs no space.
    env.call("bridge", "DEL", "late")
        .ifname("eth1")
        .run(&c)
        .expect_success();
    env.call("bridge", "DEL", "early").run(&c).expect_success();
    env.assert_clean(&before, "full dataDir");
    assert_no_reservations(&data, "full dataDir");
}

#[test]
fn full_data_dir_before_first_use() {
    require_root!();
    let env = Env::new("full0");
    let before = env.warm_up(None);
    let fs = Tmpfs::new("64k");
    fs.fill();
    let c = env.bridge(fs.path(), None);
    let (code, msg) = env.call("bridge", "ADD", "c1").run(&c).expect_spec_error();
    assert_eq!(code, 999, "{msg}");
    assert!(
        msg.to_lowercase().contains("no space left on device"),
        "{msg}"
    );
    env.call("bridge", "DEL", "c1").run(&c).expect_success();
    env.assert_clean(&before, "full dataDir before first use");
    assert_no_reservations(fs.path(), "full dataDir before first use");
}

#[test]
fn read_only_data_dir() {
    require_root!();
    let env = Env::new("ro");
    let before = env.warm_up(None);
    let fs = Tmpfs::new("1m");
    let c = env.bridge(fs.path(), None);
    env.call("bridge", "ADD", "early").run(&c).expect_success();
    fs.remount(true);
    let (code, msg) = env
        .call("bridge", "ADD", "late")
        .ifname("eth1")
        .run(&c)
        .expect_spec_error();
    assert_eq!(code, 999, "{msg}");
    assert!(
        msg.contains(&fs.path().join("fnet").display().to_string())
            && msg.to_lowercase().contains("read-only file system"),
        "{msg}"
    );
    // Nothing to release: DEL succeeds on a read-only store.
    env.call("bridge", "DEL", "late")
        .ifname("eth1")
        .run(&c)
        .expect_success();
    // A reservation cannot be released: DEL says so, but removes the rest.
    let (_, msg) = env
        .call("bridge", "DEL", "early")
        .run(&c)
        .expect_spec_error();
    assert!(
        msg.to_lowercase().contains("read-only file system"),
        "{msg}"
    );
    assert!(
        Snapshot::of(&env.ctr).link_names().len() == 1,
        "DEL kept the container's interface"
    );
    fs.remount(false);
    env.call("bridge", "DEL", "early").run(&c).expect_success();
    env.assert_clean(&before, "read-only dataDir");
    assert_no_reservations(fs.path(), "read-only dataDir");
}

#[test]
fn netns_gone_before_add() {
    require_root!();
    let env = Env::new("nsg");
    let before = env.warm_up(Some(default_backend()));
    let data = env.fx.dir.path().join("data");
    let c = env.bridge(&data, Some(default_backend()));
    let gone = TestNs::new("fgone");
    let path = gone.path_str();
    drop(gone);
    let call = env.call("bridge", "ADD", "c1").netns_path(&path);
    let (code, msg) = call.run(&c).expect_spec_error();
    assert_eq!(code, 8, "{msg}");
    assert_eq!(msg, format!("netns {path} does not exist"));
    env.call("bridge", "DEL", "c1")
        .netns_path(&path)
        .run(&c)
        .expect_success();
    env.assert_clean(&before, "netns gone before ADD");
    assert_no_reservations(&data, "netns gone before ADD");
}

/// An IPAM plugin in its own `CNI_PATH` directory: `body` is a shell
/// script, with `$REAL` the real host-local.
fn fake_ipam(dir: &Path, body: &str) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let p = bin.join("fake-ipam");
    write_executable(
        &p,
        &format!(
            "#!/bin/sh\nREAL={}\n{body}\n",
            plugin_path("host-local").display()
        ),
    );
    bin
}

/// `call` with `CNI_PATH` = the fake IPAM's directory, then the plugins'.
fn with_fake_path(call: Call, fake_bin: &Path) -> Call {
    let mut call = call;
    call.path = format!("{}:{}", fake_bin.display(), bin_dir().display());
    call
}

fn default_backend() -> &'static str {
    if has_tool("iptables") {
        "iptables"
    } else {
        "nftables"
    }
}

#[test]
fn netns_deleted_during_add() {
    require_root!();
    let env = Env::new("nsd");
    let before = env.warm_up(Some(default_backend()));
    let data = env.fx.dir.path().join("data");
    let victim = TestNs::new("fvict");
    // The IPAM step runs after the veth exists: delete the netns there.
    let fake = fake_ipam(
        env.fx.dir.path(),
        &format!(
            "[ \"$CNI_COMMAND\" = ADD ] && ip netns del {}\nexec \"$REAL\"",
            victim.name
        ),
    );
    let mut c = env.bridge(&data, Some(default_backend()));
    c["ipam"]["type"] = json!("fake-ipam");
    let path = victim.path_str();
    let add = with_fake_path(env.call("bridge", "ADD", "c1").netns_path(&path), &fake);
    // The plugin holds the namespace open, so the ADD itself may succeed
    // or fail; either way the DEL must leave nothing.
    let out = add.run(&c);
    eprintln!(
        "ADD into a netns deleted mid-way: exit {}: {}",
        out.code, out.stdout
    );
    if out.code != 0 {
        assert!(
            out.json()["code"].is_u64(),
            "not a spec error: {}",
            out.stdout
        );
    }
    with_fake_path(env.call("bridge", "DEL", "c1").netns_path(&path), &fake)
        .run(&c)
        .expect_success();
    // The script deleted it already.
    std::mem::forget(victim);
    env.assert_clean(&before, "netns deleted during ADD");
    assert_no_reservations(&data, "netns deleted during ADD");
}

/// A wrapper running `plugin` in a private mount namespace in which the
/// sbin directories are empty: no iptables, no nft.
fn without_firewall_tools(dir: &Path, plugin: &str) -> PathBuf {
    let p = dir.join(format!("{plugin}-without-tools"));
    write_executable(
        &p,
        &format!(
            "#!/bin/sh\nexec unshare --mount --propagation private sh -c \
             'mount -t tmpfs none /usr/sbin && mount -t tmpfs none /usr/local/sbin && exec \"$0\"' {}\n",
            plugin_path(plugin).display()
        ),
    );
    p
}

#[test]
fn firewall_tools_missing() {
    require_root!();
    require_tools!("unshare");
    let env = Env::new("nofw");
    let data = env.fx.dir.path().join("data");
    for backend in ["iptables", "nftables"] {
        // nftables: a first attachment leaves the tables and base chains
        // (as Go's does); what the test attaches must leave nothing more.
        let before = env.warm_up((backend == "nftables").then_some(backend));
        let c = env.bridge(&data, Some(backend));
        let wrapped = without_firewall_tools(env.fx.dir.path(), "bridge");
        let call = |cmd: &str| {
            let mut call = env.call_wrapped(&wrapped, cmd);
            call.path = bin_dir().display().to_string();
            call
        };
        // nftables rules go over netlink: no tool is needed. iptables
        // makes its own nat table and built-in chains, which this host
        // does not have yet: the plugin needs iptables-restore for that.
        let missing_tool = (backend == "iptables").then_some("iptables-restore");
        match missing_tool {
            Some(tool) => {
                let (code, msg) = call("ADD").run(&c).expect_spec_error();
                assert_eq!(code, 999, "{backend}: {msg}");
                assert!(
                    msg.contains(&format!("{tool} not found in PATH")),
                    "{backend}: {msg}"
                );
            }
            None => {
                call("ADD").run(&c).expect_success();
            }
        }
        call("DEL").run(&c).expect_success();
        env.assert_clean(&before, &format!("{backend} missing"));
        assert_no_reservations(&data, &format!("{backend} missing"));

        // portmap: the same, with a synthetic prevResult.
        let pm = env.fx.conf_of(
            "portmap",
            Version::V1_1_0,
            json!({"backend": backend,
                "runtimeConfig": {"portMappings": [{"hostPort": 18081, "containerPort": 80}]},
                "prevResult": {"cniVersion": "1.1.0",
                               "interfaces": [{"name": "eth0", "sandbox": env.ctr.path_str()}],
                               "ips": [{"address": "10.98.0.9/24", "interface": 0}]}}),
        );
        let wrapped = without_firewall_tools(env.fx.dir.path(), "portmap");
        let pcall = |cmd: &str| env.call_wrapped(&wrapped, cmd);
        // nftables: the first ADD leaves portmap's tables and base chains
        // (as Go's does).
        let settled = missing_tool.is_none().then(|| {
            pcall("ADD").run(&pm).expect_success();
            pcall("DEL").run(&pm).expect_success();
            Snapshot::of(&env.fx.host)
        });
        match missing_tool {
            Some(tool) => {
                let (code, msg) = pcall("ADD").run(&pm).expect_spec_error();
                assert_eq!(code, 999, "portmap {backend}: {msg}");
                assert!(
                    msg.contains(&format!("{tool} not found in PATH")),
                    "portmap {backend}: {msg}"
                );
            }
            None => {
                pcall("ADD").run(&pm).expect_success();
            }
        }
        pcall("DEL").run(&pm).expect_success();
        let before = settled.as_ref().unwrap_or(&before);
        env.assert_clean(before, &format!("portmap, {backend} missing"));
    }
}

/// A PATH without the sbin directories is what many runtimes give
/// plugins: the tools are still found.
#[test]
fn firewall_tools_outside_path() {
    require_root!();
    let env = Env::new("path");
    let data = env.fx.dir.path().join("data");
    let backend = default_backend();
    let before = env.warm_up(Some(backend));
    let c = env.bridge(&data, Some(backend));
    env.call("bridge", "ADD", "c1")
        .env("PATH", "/nonexistent")
        .run(&c)
        .expect_success();
    env.call("bridge", "DEL", "c1")
        .env("PATH", "/nonexistent")
        .run(&c)
        .expect_success();
    env.assert_clean(&before, "PATH without sbin");
}

#[test]
fn ipam_crashes() {
    require_root!();
    let env = Env::new("ipc");
    let data = env.fx.dir.path().join("data");
    let backend = default_backend();
    let before = env.warm_up(Some(backend));
    // (script, expected message fragment): dies before doing anything,
    // dies after allocating (its reservation must not stay), prints
    // garbage.
    let cases = [
        ("kill -9 $$", "killed by signal 9"),
        (
            "if [ \"$CNI_COMMAND\" = ADD ]; then \"$REAL\" >/dev/null; kill -9 $$; fi; exec \"$REAL\"",
            "killed by signal 9",
        ),
        (
            "if [ \"$CNI_COMMAND\" = ADD ]; then echo '{\"ips\": [garbage'; exit 0; fi; exec \"$REAL\"",
            "failed to parse the result of ipam plugin fake-ipam",
        ),
        (
            "if [ \"$CNI_COMMAND\" = ADD ]; then echo oops >&2; exit 3; fi; exec \"$REAL\"",
            "\"oops\": exit status 3",
        ),
    ];
    for (i, (script, want)) in cases.iter().enumerate() {
        let fake = fake_ipam(&env.fx.dir.path().join(format!("case{i}")), script);
        let mut c = env.bridge(&data, Some(backend));
        c["ipam"]["type"] = json!("fake-ipam");
        let (code, msg) = with_fake_path(env.call("bridge", "ADD", "c1"), &fake)
            .run(&c)
            .expect_spec_error();
        assert!(code == 999 || code == 6, "case {i}: code {code}: {msg}");
        assert!(
            msg.contains("fake-ipam") && msg.contains(want),
            "case {i}: {msg}"
        );
        env.assert_clean(
            &before,
            &format!("IPAM crash case {i}, after the failed ADD"),
        );
        assert_no_reservations(&data, &format!("IPAM crash case {i}, after the failed ADD"));
        // The runtime's DEL (with a working IPAM) finds nothing to do.
        env.call("bridge", "DEL", "c1")
            .run(&env.bridge(&data, Some(backend)))
            .expect_success();
        env.assert_clean(&before, &format!("IPAM crash case {i}, after DEL"));
    }
}

/// An IPAM plugin that never answers: the plugin waits for it (there is
/// no deadline in the protocol; the runtime's applies). When the runtime
/// kills the plugin, the IPAM plugin must die with it, and DEL cleans up.
#[test]
fn ipam_hangs() {
    require_root!();
    become_subreaper();
    let env = Env::new("iph");
    let data = env.fx.dir.path().join("data");
    let backend = default_backend();
    let before = env.warm_up(Some(backend));
    let started = env.fx.dir.path().join("ipam-started");
    let fake = fake_ipam(
        env.fx.dir.path(),
        &format!(
            "if [ \"$CNI_COMMAND\" = ADD ]; then \"$REAL\" >/dev/null; touch {}; exec sleep 600; fi; exec \"$REAL\"",
            started.display()
        ),
    );
    let mut c = env.bridge(&data, Some(backend));
    c["ipam"]["type"] = json!("fake-ipam");
    let add = with_fake_path(env.call("bridge", "ADD", "c1"), &fake);
    // Kill the plugin once the IPAM plugin is stuck, as a deadline would.
    let mut child = add.spawn(c.to_string().as_bytes());
    let start = Instant::now();
    while !started.exists() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(started.exists(), "the fake IPAM plugin never ran");
    let pgid = child.id() as i32;
    child.kill().expect("kill plugin");
    child.wait().expect("wait plugin");
    // Everything the plugin started must be gone: reap its group.
    let leftovers = wait_group_empty(pgid, Duration::from_secs(10));
    assert!(
        leftovers.is_empty(),
        "the hanging IPAM plugin outlived the plugin that ran it: {leftovers:?}"
    );
    with_fake_path(env.call("bridge", "DEL", "c1"), &fake)
        .run(&c)
        .expect_success();
    env.assert_clean(&before, "hanging IPAM");
    assert_no_reservations(&data, "hanging IPAM");
}

/// Reap the group's processes until none is left or `limit` passes;
/// returns the command lines of the ones still there (then killed).
fn wait_group_empty(pgid: i32, limit: Duration) -> Vec<String> {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    use nix::unistd::Pid;
    let start = Instant::now();
    loop {
        match waitpid(Pid::from_raw(-pgid), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) if start.elapsed() < limit => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(WaitStatus::StillAlive) => {
                let left = group_members(pgid);
                let _ = nix::sys::signal::killpg(Pid::from_raw(pgid), nix::sys::signal::SIGKILL);
                while waitpid(Pid::from_raw(-pgid), None).is_ok() {}
                return left;
            }
            Ok(_) => {}
            Err(_) => return Vec::new(),
        }
    }
}

fn group_members(pgid: i32) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...
        let Some(after) = stat.rsplit_once(") ").map(|(_, a)| a) else {
            continue;
        };
        let fields: Vec<&str> = after.split_whitespace().collect();
        if fields.get(2).and_then(|g| g.parse::<i32>().ok()) == Some(pgid) {
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            out.push(String::from_utf8_lossy(&cmd).replace('\0', " "));
        }
    }
    out
}

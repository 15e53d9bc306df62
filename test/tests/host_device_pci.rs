//! host-device on a real PCI NIC, which only the test VM has (feature
//! `pci-nic`: a virtio-net function on a qemu hub with nothing else on it,
//! test/vm/run.sh). What a veth end cannot show: when the container netns
//! is destroyed, the kernel returns a physical device to the root
//! namespace under the name it had inside, and the DEL that follows must
//! find it, restore its name and MTU and release its address. The kernel
//! returns it to the root namespace, not to a test's fake host: the
//! plugin runs in the VM's root namespace here (the VM's network is this
//! NIC alone), which no test on a real machine may do. The tests share the
//! NIC, one at a time.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use integration::kill::{Rng, become_subreaper, run_and_kill, seed};
use integration::*;
use pkg::netlink::{Link, LinkId, Netlink};
use serde_json::{Value, json};

/// One NIC for the tests of this file, which run in parallel.
static NIC: Mutex<()> = Mutex::new(());

/// The NIC in the root namespace, if it is there.
fn root_link(name: &str) -> Option<Link> {
    Netlink::new()
        .expect("netlink")
        .link_find(LinkId::Name(name))
        .expect("list links")
}

fn conf(dir: &Path, key: &str, value: &str) -> Value {
    json!({
        "cniVersion": "1.1.0", "name": "pcinet", "type": "host-device",
        key: value,
        "dataDir": dir.join("records"),
        "ipam": {"type": "host-local", "dataDir": dir,
                 "ranges": [[{"subnet": "10.85.0.0/24"}]]}
    })
}

/// ADD by `pciBusID` and by `kernelpath` (the virtio device's directory),
/// CHECK, the netns destroyed, DEL at once (it waits for the kernel to
/// bring the NIC back), a second DEL: the NIC is back under its own name
/// with its MTU and state, and the address is free.
#[test]
fn pci_nic_comes_back_after_the_netns_is_destroyed() {
    require_root!();
    require_kernel!("pci-nic");
    let _nic = NIC.lock().unwrap_or_else(|e| e.into_inner());
    let nic = test_nic().expect("the test NIC");
    let ip = |args: &[&str]| {
        let out = std::process::Command::new("ip")
            .args(args)
            .output()
            .expect("run ip");
        assert!(out.status.success(), "ip {args:?}: {out:?}");
    };
    ip(&["link", "set", &nic.name, "mtu", "1400", "up"]);
    let before = root_link(&nic.name).expect("the NIC");
    for (key, value) in [("pciBusID", &nic.pci), ("kernelpath", &nic.kernelpath)] {
        let dir = tempdir();
        let conf = conf(dir.path(), key, value);
        let ctr = TestNs::new("pci");
        // net1: the kernel returns the NIC under that name, not its own
        let call = Call::new(plugin_path("host-device"), "ADD")
            .cid("pci")
            .ifname("net1")
            .netns(&ctr);
        let a = Attachment::add(call, &conf);
        assert_eq!(
            a.result["interfaces"],
            json!([{"name": "net1", "mac": TEST_NIC_MAC, "sandbox": ctr.path_str()}]),
            "{key}"
        );
        assert!(
            root_link(&nic.name).is_none(),
            "{key}: still in the root namespace"
        );
        let inside = link_in(&ctr, "net1").expect("net1 in the container");
        assert_eq!(inside.mac_string(), TEST_NIC_MAC);
        let addrs = output_in(&ctr, "ip", &["-4", "addr", "show", "net1"]);
        assert!(addrs.contains("10.85.0.2/24"), "{key}: {addrs}");
        a.check_ok();
        let store = dir.path().join("pcinet");
        assert!(store.join("10.85.0.2").exists(), "{key}: no reservation");
        drop(ctr);
        a.del();
        let back = root_link(&nic.name)
            .unwrap_or_else(|| panic!("{key}: {} not back in the root namespace", nic.name));
        assert_eq!(back.mac_string(), TEST_NIC_MAC, "{key}");
        assert_eq!(back.mtu, before.mtu, "{key}");
        assert!(back.is_up(), "{key}: it was up before");
        assert_eq!(back.alias, "", "{key}");
        assert!(root_link("net1").is_none(), "{key}: net1 left");
        assert!(
            !store.join("10.85.0.2").exists(),
            "{key}: the address is still held"
        );
        a.del();
        assert!(root_link(&nic.name).is_some(), "{key}");
        assert!(
            files_under(&dir.path().join("records")).is_empty(),
            "{key}: records left"
        );
    }
    ip(&["link", "set", &nic.name, "down"]);
}

/// The netns destroyed while another process still holds it: the kernel
/// keeps the NIC inside until that process exits. DEL waits its few
/// seconds, releases the address, succeeds and marks the record; once the
/// NIC is back in the root namespace (as `net1`), the next command of the
/// plugin, here a GC, restores its name and removes the record.
#[test]
fn pci_nic_back_after_its_del_is_restored_by_the_next_command() {
    require_root!();
    require_kernel!("pci-nic");
    let _nic = NIC.lock().unwrap_or_else(|e| e.into_inner());
    let nic = test_nic().expect("the test NIC");
    let dir = tempdir();
    let conf = conf(dir.path(), "pciBusID", &nic.pci);
    let ctr = TestNs::new("held");
    let call = Call::new(plugin_path("host-device"), "ADD")
        .cid("held")
        .ifname("net1")
        .netns(&ctr);
    let a = Attachment::add(call, &conf);
    let mut holder = ctr.cmd("sleep", &["600"]).spawn().expect("start sleep");
    drop(ctr);
    a.del();
    assert!(root_link(&nic.name).is_none(), "the holder keeps the NIC");
    assert!(
        !dir.path().join("pcinet/10.85.0.2").exists(),
        "address held"
    );
    let records = files_under(&dir.path().join("records"));
    assert_eq!(records.len(), 1, "{records:?}");
    let _ = holder.kill();
    let _ = holder.wait();
    let deadline = Instant::now() + Duration::from_secs(30);
    while root_link("net1").is_none() {
        assert!(
            Instant::now() < deadline,
            "the kernel did not return the NIC"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut gc = conf.clone();
    gc["cni.dev/valid-attachments"] = json!([]);
    Call::new(plugin_path("host-device"), "GC")
        .cid("")
        .ifname("")
        .run(&gc)
        .expect_success();
    let back = root_link(&nic.name).expect("the NIC under its own name");
    assert_eq!(back.mac_string(), TEST_NIC_MAC);
    assert_eq!(back.alias, "");
    assert!(root_link("net1").is_none());
    assert!(files_under(&dir.path().join("records")).is_empty());
}

/// The NIC moved and returned by hand (the kernel's move, without a netns
/// to destroy), then a DEL whose netns still exists: by `pciBusID` as a
/// device plugin's `runtimeConfig.deviceID`.
#[test]
fn pci_nic_by_device_id_round_trip() {
    require_root!();
    require_kernel!("pci-nic");
    let _nic = NIC.lock().unwrap_or_else(|e| e.into_inner());
    let nic = test_nic().expect("the test NIC");
    let dir = tempdir();
    let mut conf = conf(dir.path(), "device", "");
    conf.as_object_mut().unwrap().remove("device");
    conf["runtimeConfig"] = json!({"deviceID": nic.pci});
    let ctr = TestNs::new("pcid");
    let call = Call::new(plugin_path("host-device"), "ADD")
        .cid("pcid")
        .ifname("eth0")
        .netns(&ctr);
    let a = Attachment::add(call, &conf);
    assert_eq!(a.result["interfaces"][0]["mac"], TEST_NIC_MAC);
    a.check_ok();
    a.del();
    assert!(root_link(&nic.name).is_some());
    assert_eq!(link_names(&ctr), ["lo"]);
    assert!(!dir.path().join("pcinet/10.85.0.2").exists());
}

/// ADDs killed in `pci_nic_survives_a_killed_add_and_a_destroyed_netns`:
/// about a second each under TCG.
const KILLS: usize = 12;

/// ADDs killed at random moments (uniform over a whole ADD), each followed
/// by the container netns being destroyed and then the runtime's DEL: the
/// NIC is never lost, wherever the kill left it (on the host untouched, or
/// in the netns the kernel then dismantles), and the address is free.
#[test]
fn pci_nic_survives_a_killed_add_and_a_destroyed_netns() {
    require_root!();
    require_kernel!("pci-nic");
    let _nic = NIC.lock().unwrap_or_else(|e| e.into_inner());
    let nic = test_nic().expect("the test NIC");
    become_subreaper();
    let ip = |args: &[&str]| {
        let out = std::process::Command::new("ip")
            .args(args)
            .output()
            .expect("run ip");
        assert!(out.status.success(), "ip {args:?}: {out:?}");
    };
    ip(&["link", "set", &nic.name, "mtu", "1400", "up"]);
    let dir = tempdir();
    let conf = conf(dir.path(), "pciBusID", &nic.pci);
    let add = |ctr: &TestNs, cid: &str| {
        Call::new(plugin_path("host-device"), "ADD")
            .cid(cid)
            .ifname("net1")
            .netns(ctr)
    };
    // the first ADD loads what the others find cached: the median of the
    // next three is a typical one
    let mut took: Vec<Duration> = (0..4)
        .map(|_| {
            let ctr = TestNs::new("pciw");
            let started = Instant::now();
            let a = Attachment::add(add(&ctr, "warm"), &conf);
            let took = started.elapsed();
            a.del();
            took
        })
        .skip(1)
        .collect();
    took.sort();
    let window = took[1];
    let seed = seed("CNI_CRASH_SEED", "pci_nic_survives_a_killed_add");
    let mut rng = Rng::new(seed);
    let mut killed = 0;
    for i in 0..KILLS {
        let ctr = TestNs::new("pcik");
        let cid = format!("kill-{i}");
        let call = add(&ctr, &cid);
        let delay = rng.duration(window);
        let what = format!("iteration {i} (seed {seed}, killed after {delay:?})");
        let run = run_and_kill(&call, conf.to_string().as_bytes(), delay);
        killed += usize::from(run.was_killed());
        run.reap(Duration::from_secs(20));
        drop(ctr);
        call.clone().command("DEL").run(&conf).expect_success();
        let back =
            root_link(&nic.name).unwrap_or_else(|| panic!("{what}: {} is not back", nic.name));
        assert_eq!(back.mac_string(), TEST_NIC_MAC, "{what}");
        assert_eq!(
            (back.mtu, back.is_up(), back.alias.as_str()),
            (1400, true, ""),
            "{what}"
        );
        assert!(root_link("net1").is_none(), "{what}: net1 left");
        let held = files_under(&dir.path().join("pcinet"))
            .into_iter()
            .filter(|f| f.parse::<std::net::IpAddr>().is_ok())
            .collect::<Vec<_>>();
        assert!(held.is_empty(), "{what}: addresses held: {held:?}");
        assert!(
            files_under(&dir.path().join("records")).is_empty(),
            "{what}: records left"
        );
    }
    eprintln!("{killed} of {KILLS} ADDs killed (window {window:?})");
    ip(&["link", "set", &nic.name, "down"]);
}

//! Crash consistency: the plugins that change the host (bridge, ptp,
//! macvlan, host-local, portmap, firewall, bandwidth) are SIGKILLed at
//! random moments of their ADD (a runtime's deadline does exactly that), then
//! sent the DEL a runtime would send. After each kill the host-local store
//! must hold no empty or half-written file; after the DEL the fake host and
//! the container must be exactly as before (links, addresses, routes, ip
//! rules, qdiscs, iptables and nftables rules) and the store must hold no
//! reservation. The host-local case also allocates with our host-local and
//! Debian's Go one in every store a kill left behind.
//!
//! Kill points are uniform over a typical uninterrupted ADD (the median
//! of three, plus a tenth), drawn from a seeded PRNG: `CNI_CRASH_SEED`
//! repeats a run, `CNI_CRASH_ITERS` (default 30) sets the ADDs per plugin
//! and variant (each sweep prints how many were really killed). See
//! Documentation/reliability.md for the figures of a large run.

use std::path::Path;
use std::time::{Duration, Instant};

use integration::kill::{Rng, become_subreaper, env_usize, run_and_kill, seed};
use integration::state::{Snapshot, store_problems};
use integration::*;
use serde_json::{Value, json};

/// Generous: what a killed plugin started must be gone by then.
const REAP_LIMIT: Duration = Duration::from_secs(20);

fn iterations() -> usize {
    env_usize("CNI_CRASH_ITERS", 30)
}

/// The masquerade/port-mapping backends whose tools are installed.
fn backends() -> Vec<&'static str> {
    [("iptables", "iptables"), ("nftables", "nft")]
        .into_iter()
        .filter(|(b, tool)| {
            let there = has_tool(tool);
            if !there {
                eprintln!("skipped {b}: {tool} not installed");
            }
            there
        })
        .map(|(b, _)| b)
        .collect()
}

/// One ADD to be killed and the DELs that follow it, in order.
struct Step {
    add: (Call, Value),
    dels: Vec<(Call, Value)>,
}

/// A plugin (and variant) under test.
struct Case<'a> {
    name: String,
    host: &'a TestNs,
    ctr: &'a TestNs,
    /// host-local's `dataDir`, when the plugin allocates.
    data_dir: Option<&'a Path>,
    /// Runs before each iteration's ADD (e.g. the main plugin of a chain
    /// whose meta plugin is killed); returns the step for container `cid`.
    step: Box<dyn Fn(&str) -> Step + 'a>,
    /// Called after each kill, before the DEL, with the iteration number.
    after_kill: Box<dyn Fn(usize) + 'a>,
}

/// Run a step uninterrupted; returns how long its ADD took.
fn run_step_fully(s: &Step) -> Duration {
    let (call, conf) = &s.add;
    let t = Instant::now();
    call.run(conf).expect_success();
    let took = t.elapsed();
    for (call, conf) in &s.dels {
        call.run(conf).expect_success();
    }
    took
}

/// Warm up (so that shared state such as a bridge exists), take the
/// baseline, then kill ADD `iterations()` times; returns how many of the
/// runs were really killed.
fn sweep(case: &Case<'_>) -> usize {
    become_subreaper();
    let seed = seed("CNI_CRASH_SEED", &case.name);
    let mut rng = Rng::new(seed);
    // The first run creates what the network shares (a bridge, chains);
    // the median of the next three is a typical ADD.
    run_step_fully(&(case.step)("warmup"));
    let mut took: Vec<Duration> = (0..3)
        .map(|_| run_step_fully(&(case.step)("warmup")))
        .collect();
    took.sort();
    let window = took[1] + took[1] / 10;
    let host_before = Snapshot::of(case.host);
    let ctr_before = Snapshot::links_of(case.ctr);
    let iters = iterations();
    let started = Instant::now();
    let mut killed = 0;
    for i in 0..iters {
        let cid = format!("crash-{i}");
        let step = (case.step)(&cid);
        let delay = rng.duration(window);
        let what = format!(
            "{} iteration {i} (seed {seed}, killed after {delay:?})",
            case.name
        );
        let run = run_and_kill(&step.add.0, step.add.1.to_string().as_bytes(), delay);
        if run.was_killed() {
            killed += 1;
        }
        if let Some(dir) = case.data_dir {
            let (problems, _) = store_problems(dir);
            assert!(
                problems.is_empty(),
                "{what}: store after the kill: {problems:#?}"
            );
        }
        (case.after_kill)(i);
        for (call, conf) in &step.dels {
            let out = call.run(conf);
            assert_eq!(
                out.code, 0,
                "{what}: DEL failed: {}\nstderr: {}",
                out.stdout, out.stderr
            );
        }
        run.reap(REAP_LIMIT);
        if let Some(diff) = host_before.diff(&Snapshot::of(case.host)) {
            panic!("{what}: the host changed:\n{diff}");
        }
        if let Some(diff) = ctr_before.diff(&Snapshot::links_of(case.ctr)) {
            panic!("{what}: the container changed:\n{diff}");
        }
        if let Some(dir) = case.data_dir {
            let (problems, temps) = store_problems(dir);
            assert!(
                problems.is_empty(),
                "{what}: store after DEL: {problems:#?}"
            );
            assert_eq!(
                temps,
                0,
                "{what}: temporary files left: {:?}",
                files_under(dir)
            );
            let held: Vec<String> = std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .flat_map(|net| reservation_files(&net.path()))
                .collect();
            assert!(held.is_empty(), "{what}: reservations left: {held:?}");
        }
    }
    eprintln!(
        "{}: {killed} of {iters} ADDs killed (window {window:?}), {:.1?} for the sweep",
        case.name,
        started.elapsed()
    );
    killed
}

fn ipam(dir: &Path, subnet: &str) -> Value {
    json!({"type": "host-local", "dataDir": dir, "ranges": [[{"subnet": subnet}]]})
}

fn call(plugin: &str, cmd: &str, cid: &str, host: &TestNs, ctr: &TestNs) -> Call {
    Call::new(plugin_path(plugin), cmd)
        .cid(cid)
        .netns(ctr)
        .in_host(host)
}

/// ADD then DEL with the same config and no prevResult, as a runtime
/// without a cached result does after a failed ADD.
fn simple_step(plugin: &'static str, conf: Value, host: &TestNs, ctr: &TestNs, cid: &str) -> Step {
    Step {
        add: (call(plugin, "ADD", cid, host, ctr), conf.clone()),
        dels: vec![(call(plugin, "DEL", cid, host, ctr), conf)],
    }
}

fn no_op(_: usize) {}

#[test]
fn bridge_killed_during_add() {
    require_root!();
    let host = TestNs::new("crbrh");
    let ctr = TestNs::new("crbrc");
    let dir = tempdir();
    for backend in backends() {
        let conf = json!({
            "cniVersion": "1.1.0", "name": "crbr", "type": "bridge", "bridge": "cnicr0",
            "isGateway": true, "ipMasq": true, "ipMasqBackend": backend, "hairpinMode": true,
            "macspoofchk": true,
            "ipam": {"type": "host-local", "dataDir": dir.path(),
                     "ranges": [[{"subnet": "10.91.0.0/24"}], [{"subnet": "fd00:91::/64"}]]},
        });
        sweep(&Case {
            name: format!("bridge ({backend})"),
            host: &host,
            ctr: &ctr,
            data_dir: Some(dir.path()),
            step: Box::new(|cid| simple_step("bridge", conf.clone(), &host, &ctr, cid)),
            after_kill: Box::new(no_op),
        });
    }
}

#[test]
fn ptp_killed_during_add() {
    require_root!();
    let host = TestNs::new("crpth");
    let ctr = TestNs::new("crptc");
    let dir = tempdir();
    for backend in backends() {
        let conf = json!({
            "cniVersion": "1.1.0", "name": "crptp", "type": "ptp",
            "ipMasq": true, "ipMasqBackend": backend,
            "ipam": ipam(dir.path(), "10.92.0.0/24"),
        });
        sweep(&Case {
            name: format!("ptp ({backend})"),
            host: &host,
            ctr: &ctr,
            data_dir: Some(dir.path()),
            step: Box::new(|cid| simple_step("ptp", conf.clone(), &host, &ctr, cid)),
            after_kill: Box::new(no_op),
        });
    }
}

#[test]
fn macvlan_killed_during_add() {
    require_root!();
    let host = TestNs::new("crmvh");
    let ctr = TestNs::new("crmvc");
    let dir = tempdir();
    // The kernel here has no dummy links: a veth end is the master.
    host.ip(&[
        "link",
        "add",
        "crmaster0",
        "type",
        "veth",
        "peer",
        "name",
        "crmaster1",
    ]);
    host.ip(&["link", "set", "crmaster0", "up"]);
    host.ip(&["link", "set", "crmaster1", "up"]);
    let conf = json!({
        "cniVersion": "1.1.0", "name": "crmv", "type": "macvlan",
        "master": "crmaster0", "mode": "bridge",
        "ipam": ipam(dir.path(), "10.93.0.0/24"),
    });
    sweep(&Case {
        name: "macvlan".into(),
        host: &host,
        ctr: &ctr,
        data_dir: Some(dir.path()),
        step: Box::new(|cid| simple_step("macvlan", conf.clone(), &host, &ctr, cid)),
        after_kill: Box::new(no_op),
    });
}

/// Allocate once with our host-local and once with Go's in the store a
/// kill left, check they got distinct addresses that nobody else holds,
/// and release both.
fn allocate_with_both(dir: &Path, conf: &Value, host: &TestNs, ctr: &TestNs, i: usize) {
    let netdir = dir.join("crhl");
    let held_before = reservation_files(&netdir);
    let mut got = Vec::new();
    let mut plugins = vec![("ours", plugin_path("host-local"))];
    plugins.extend(go_plugin("host-local").map(|p| ("go", p)));
    let mut conf = conf.clone();
    // Debian's Go host-local (1.1.1) speaks up to 1.0.0.
    conf["cniVersion"] = json!("1.0.0");
    for (who, plugin) in &plugins {
        let out = Call::new(plugin, "ADD")
            .cid(&format!("probe-{who}-{i}"))
            .netns(ctr)
            .in_host(host)
            .run(&conf);
        assert_eq!(
            out.code, 0,
            "iteration {i}: {who} host-local cannot allocate in the store a kill left: {}",
            out.stdout
        );
        let ip = out.json()["ips"][0]["address"]
            .as_str()
            .unwrap_or_default()
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        assert!(
            !held_before.iter().any(|f| f.ends_with(&ip)) && !got.contains(&ip),
            "iteration {i}: {who} host-local handed out {ip}, already held ({held_before:?}, {got:?})"
        );
        got.push(ip);
    }
    for (who, plugin) in &plugins {
        Call::new(plugin, "DEL")
            .cid(&format!("probe-{who}-{i}"))
            .netns(ctr)
            .in_host(host)
            .run(&conf)
            .expect_success();
    }
}

#[test]
fn host_local_killed_during_add() {
    require_root!();
    let host = TestNs::new("crhlh");
    let ctr = TestNs::new("crhlc");
    let dir = tempdir();
    if go_plugin("host-local").is_none() {
        eprintln!(
            "note: Go host-local not installed at {GO_PLUGIN_DIR}: only ours allocates after each kill"
        );
    }
    // Dual-stack, so a kill can fall between the two reservations.
    let conf = json!({
        "cniVersion": "1.1.0", "name": "crhl", "type": "host-local",
        "ipam": {"type": "host-local", "dataDir": dir.path(),
                 "ranges": [[{"subnet": "10.94.0.0/24"}], [{"subnet": "fd00:94::/64"}]]},
    });
    let plain = conf;
    sweep(&Case {
        name: "host-local".into(),
        host: &host,
        ctr: &ctr,
        data_dir: Some(dir.path()),
        step: Box::new(|cid| simple_step("host-local", plain.clone(), &host, &ctr, cid)),
        after_kill: Box::new(|i| allocate_with_both(dir.path(), &plain, &host, &ctr, i)),
    });
}

/// A host link carrying the subnet of the synthetic prevResult, so that
/// portmap finds the route to the container (and sets route_localnet).
fn portmap_host(host: &TestNs) {
    host.ip(&[
        "link", "add", "crpm0", "type", "veth", "peer", "name", "crpm1",
    ]);
    host.ip(&["addr", "add", "10.95.0.1/24", "dev", "crpm0"]);
    host.ip(&["addr", "add", "fd00:95::1/64", "dev", "crpm0", "nodad"]);
    host.ip(&["link", "set", "crpm0", "up"]);
    host.ip(&["link", "set", "crpm1", "up"]);
}

#[test]
fn portmap_killed_during_add() {
    require_root!();
    let host = TestNs::new("crpmh");
    let ctr = TestNs::new("crpmc");
    portmap_host(&host);
    let prev = json!({
        "cniVersion": "1.1.0",
        "interfaces": [{"name": "eth0", "sandbox": ctr.path_str()}],
        "ips": [{"address": "10.95.0.2/24", "interface": 0},
                {"address": "fd00:95::2/64", "interface": 0}],
    });
    for backend in backends() {
        let base = json!({
            "cniVersion": "1.1.0", "name": "crpm", "type": "portmap", "backend": backend,
            "capabilities": {"portMappings": true},
            "runtimeConfig": {"portMappings": [
                {"hostPort": 18080, "containerPort": 80, "protocol": "tcp"},
                {"hostPort": 18053, "containerPort": 53, "protocol": "udp"},
                {"hostPort": 18443, "containerPort": 443, "protocol": "tcp", "hostIP": "10.95.0.1"},
            ]},
        });
        let mut add = base.clone();
        add["prevResult"] = prev.clone();
        let counter = std::cell::Cell::new(0usize);
        sweep(&Case {
            name: format!("portmap ({backend})"),
            host: &host,
            ctr: &ctr,
            data_dir: None,
            step: Box::new(|cid| {
                // Alternate: a runtime with the result cached (prevResult)
                // and one without (the ADD failed, nothing was cached).
                let n = counter.get();
                counter.set(n + 1);
                let del = if n.is_multiple_of(2) {
                    base.clone()
                } else {
                    add.clone()
                };
                Step {
                    add: (call("portmap", "ADD", cid, &host, &ctr), add.clone()),
                    dels: vec![(call("portmap", "DEL", cid, &host, &ctr), del)],
                }
            }),
            after_kill: Box::new(no_op),
        });
    }
}

/// The firewall plugin (iptables backend) with a synthetic prevResult.
#[test]
fn firewall_killed_during_add() {
    require_root!();
    if !has_tool("iptables") {
        eprintln!("skipped: iptables not installed");
        return;
    }
    let host = TestNs::new("crfwh");
    let ctr = TestNs::new("crfwc");
    let conf = json!({
        "cniVersion": "1.1.0", "name": "crfw", "type": "firewall", "backend": "iptables",
        "prevResult": {
            "cniVersion": "1.1.0",
            "interfaces": [{"name": "eth0", "sandbox": ctr.path_str()}],
            "ips": [{"address": "10.99.0.2/24", "interface": 0},
                    {"address": "fd00:99::2/64", "interface": 0}],
        },
    });
    let mut del = conf.clone();
    if let Some(o) = del.as_object_mut() {
        o.remove("prevResult");
    }
    sweep(&Case {
        name: "firewall (iptables)".into(),
        host: &host,
        ctr: &ctr,
        data_dir: None,
        step: Box::new(|cid| Step {
            add: (call("firewall", "ADD", cid, &host, &ctr), conf.clone()),
            dels: vec![(call("firewall", "DEL", cid, &host, &ctr), del.clone())],
        }),
        after_kill: Box::new(no_op),
    });
}

/// bandwidth after a bridge ADD that completed: the kill hits bandwidth,
/// then the chain is deleted in reverse (bandwidth without prevResult,
/// since the failed ADD cached none, then bridge).
#[test]
fn bandwidth_killed_during_add() {
    require_root!();
    let host = TestNs::new("crbwh");
    let ctr = TestNs::new("crbwc");
    let dir = tempdir();
    let bridge = json!({
        "cniVersion": "1.1.0", "name": "crbw", "type": "bridge", "bridge": "cnicrbw0",
        "isGateway": true, "ipam": ipam(dir.path(), "10.96.0.0/24"),
    });
    let limits = json!({
        "cniVersion": "1.1.0", "name": "crbw", "type": "bandwidth",
        "ingressRate": 1_000_000, "ingressBurst": 80_000,
        "egressRate": 1_000_000, "egressBurst": 80_000,
    });
    sweep(&Case {
        name: "bandwidth".into(),
        host: &host,
        ctr: &ctr,
        data_dir: Some(dir.path()),
        step: Box::new(|cid| {
            let prev = call("bridge", "ADD", cid, &host, &ctr)
                .run(&bridge)
                .expect_success();
            let mut add = limits.clone();
            add["prevResult"] = prev;
            Step {
                add: (call("bandwidth", "ADD", cid, &host, &ctr), add),
                dels: vec![
                    (call("bandwidth", "DEL", cid, &host, &ctr), limits.clone()),
                    (call("bridge", "DEL", cid, &host, &ctr), bridge.clone()),
                ],
            }
        }),
        after_kill: Box::new(no_op),
    });
}

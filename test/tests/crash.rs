//! Crash consistency: the plugins that change the host (bridge, ptp,
//! macvlan, host-local, portmap, firewall, bandwidth, host-device; and tap
//! and sbr, which change only the container) are SIGKILLed at
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

/// One ADD to be killed and the DELs that follow it, in order.
struct Step {
    add: (Call, Value),
    dels: Vec<(Call, Value)>,
}

/// A plugin (and variant) under test.
struct Case<'a> {
    name: String,
    fx: &'a Fixture,
    ctr: &'a TestNs,
    /// Whether the plugin allocates (in the fixture's directory).
    allocates: bool,
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
    let host_before = Snapshot::of(&case.fx.host);
    let data_dir = case.allocates.then(|| case.fx.dir.path());
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
        if let Some(dir) = data_dir {
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
        if let Some(diff) = host_before.diff(&Snapshot::of(&case.fx.host)) {
            panic!("{what}: the host changed:\n{diff}");
        }
        if let Some(diff) = ctr_before.diff(&Snapshot::links_of(case.ctr)) {
            panic!("{what}: the container changed:\n{diff}");
        }
        if let Some(dir) = data_dir {
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

/// ADD then DEL with the same config and no prevResult, as a runtime
/// without a cached result does after a failed ADD.
fn simple_step(fx: &Fixture, conf: &Value, ctr: &TestNs, cid: &str) -> Step {
    Step {
        add: (fx.call("ADD", ctr, cid), conf.clone()),
        dels: vec![(fx.call("DEL", ctr, cid), conf.clone())],
    }
}

fn no_op(_: usize) {}

/// The plugin's network `network` on a fake host `<tag>h`, and a
/// container `<tag>c`.
fn setup(tag: &str, plugin: &str, network: &str) -> (Fixture, TestNs) {
    let fx = Fixture::in_host(TestNs::new(&format!("{tag}h")), plugin, network);
    (fx, TestNs::new(&format!("{tag}c")))
}

/// A sweep of `fx`'s plugin, ADD and DEL with `conf`.
fn sweep_simple(name: String, fx: &Fixture, ctr: &TestNs, conf: &Value) {
    sweep(&Case {
        name,
        fx,
        ctr,
        allocates: true,
        step: Box::new(|cid| simple_step(fx, conf, ctr, cid)),
        after_kill: Box::new(no_op),
    });
}

#[test]
fn bridge_killed_during_add() {
    require_root!();
    let (fx, ctr) = setup("crbr", "bridge", "crbr");
    for backend in backends() {
        let conf = fx.conf(
            Version::V1_1_0,
            json!({"bridge": "cnicr0", "isGateway": true, "ipMasq": true,
                "ipMasqBackend": backend, "hairpinMode": true, "macspoofchk": true,
                "ipam": fx.host_local(json!([[{"subnet": "10.91.0.0/24"}], [{"subnet": "fd00:91::/64"}]]))}),
        );
        sweep_simple(format!("bridge ({backend})"), &fx, &ctr, &conf);
    }
}

#[test]
fn ptp_killed_during_add() {
    require_root!();
    let (fx, ctr) = setup("crpt", "ptp", "crptp");
    for backend in backends() {
        let conf = fx.conf(
            Version::V1_1_0,
            json!({"ipMasq": true, "ipMasqBackend": backend,
                   "ipam": fx.host_local(json!([[{"subnet": "10.92.0.0/24"}]]))}),
        );
        sweep_simple(format!("ptp ({backend})"), &fx, &ctr, &conf);
    }
}

#[test]
fn macvlan_killed_during_add() {
    require_root!();
    let (fx, ctr) = setup("crmv", "macvlan", "crmv");
    // The kernel here has no dummy links: a veth end is the master.
    fx.host.ip(&[
        "link",
        "add",
        "crmaster0",
        "type",
        "veth",
        "peer",
        "name",
        "crmaster1",
    ]);
    fx.host.ip(&["link", "set", "crmaster0", "up"]);
    fx.host.ip(&["link", "set", "crmaster1", "up"]);
    let conf = fx.conf(
        Version::V1_1_0,
        json!({"master": "crmaster0", "mode": "bridge",
               "ipam": fx.host_local(json!([[{"subnet": "10.93.0.0/24"}]]))}),
    );
    sweep_simple("macvlan".into(), &fx, &ctr, &conf);
}

/// Allocate once with our host-local and once with Go's (when there is
/// one) in the store a kill left, check they got distinct addresses that
/// nobody else holds, and release both.
fn allocate_with_both(fx: &Fixture, go: Option<&Path>, conf: &Value, ctr: &TestNs, i: usize) {
    let held_before = fx.reservations();
    let mut got = Vec::new();
    let mut plugins = vec![("ours", plugin_path("host-local"))];
    plugins.extend(go.map(|p| ("go", p.to_path_buf())));
    let mut conf = conf.clone();
    // Debian's Go host-local (1.1.1) speaks up to 1.0.0.
    conf["cniVersion"] = json!("1.0.0");
    let call = |plugin: &Path, cmd: &str, who: &str| {
        runtime_call(plugin, cmd, &format!("probe-{who}-{i}"), ctr, &fx.host)
    };
    for (who, plugin) in &plugins {
        let out = call(plugin, "ADD", who).run(&conf);
        assert_eq!(
            out.code, 0,
            "iteration {i}: {who} host-local cannot allocate in the store a kill left: {}",
            out.stdout
        );
        let ip = ip_of(&out.json(), 0).to_string();
        assert!(
            !held_before.iter().any(|f| f.ends_with(&ip)) && !got.contains(&ip),
            "iteration {i}: {who} host-local handed out {ip}, already held ({held_before:?}, {got:?})"
        );
        got.push(ip);
    }
    for (who, plugin) in &plugins {
        call(plugin, "DEL", who).run(&conf).expect_success();
    }
}

#[test]
fn host_local_killed_during_add() {
    require_root!();
    let (fx, ctr) = setup("crhl", "host-local", "crhl");
    // after each kill Go's host-local allocates too, when it is installed
    let go = require_go("host-local", &[]);
    // Dual-stack, so a kill can fall between the two reservations.
    let conf = fx.conf(
        Version::V1_1_0,
        json!({"ipam": fx.host_local(json!([[{"subnet": "10.94.0.0/24"}], [{"subnet": "fd00:94::/64"}]]))}),
    );
    sweep(&Case {
        name: "host-local".into(),
        fx: &fx,
        ctr: &ctr,
        allocates: true,
        step: Box::new(|cid| simple_step(&fx, &conf, &ctr, cid)),
        after_kill: Box::new(|i| allocate_with_both(&fx, go.as_deref(), &conf, &ctr, i)),
    });
}

/// host-local's DEL killed at random moments: it keeps the released files
/// and index directories as spares, so a kill can fall between renaming a
/// reservation into the pool and zeroing it. After each kill the store
/// must hold no half-written file, ours and Go's host-local must allocate
/// without a collision, the DEL retried must release everything, and no
/// file may still carry the attachment's content (Go's DEL and CHECK match
/// files by content anywhere under the network directory).
#[test]
fn host_local_killed_during_del() {
    require_root!();
    become_subreaper();
    let (fx, ctr) = setup("crhd", "host-local", "crhd");
    let go = require_go("host-local", &[]);
    let conf = fx.conf(
        Version::V1_1_0,
        json!({"ipam": fx.host_local(json!([[{"subnet": "10.96.0.0/24"}], [{"subnet": "fd00:96::/64"}]]))}),
    );
    let seed = seed("CNI_CRASH_SEED", "host-local-del");
    let mut rng = Rng::new(seed);
    // Warm-up cycles fill the pool; the median of three DELs is a typical one.
    let mut took: Vec<Duration> = (0..3)
        .map(|_| {
            run_step_fully(&simple_step(&fx, &conf, &ctr, "warmup"));
            fx.call("ADD", &ctr, "warmup").run(&conf).expect_success();
            let t = Instant::now();
            fx.call("DEL", &ctr, "warmup").run(&conf).expect_success();
            t.elapsed()
        })
        .collect();
    took.sort();
    let window = took[1] + took[1] / 10;
    let dir = fx.dir.path();
    let iters = iterations();
    let mut killed = 0;
    for i in 0..iters {
        let cid = format!("crash-del-{i}");
        let what = format!("host-local DEL iteration {i} (seed {seed})");
        fx.call("ADD", &ctr, &cid).run(&conf).expect_success();
        let del = fx.call("DEL", &ctr, &cid);
        let run = run_and_kill(&del, conf.to_string().as_bytes(), rng.duration(window));
        if run.was_killed() {
            killed += 1;
        }
        run.reap(REAP_LIMIT);
        let (problems, _) = store_problems(dir);
        assert!(
            problems.is_empty(),
            "{what}: store after the kill: {problems:#?}"
        );
        allocate_with_both(&fx, go.as_deref(), &conf, &ctr, i);
        let out = del.run(&conf);
        assert_eq!(out.code, 0, "{what}: DEL failed: {}", out.stdout);
        let (problems, temps) = store_problems(dir);
        assert!(problems.is_empty() && temps == 0, "{what}: {problems:#?}");
        assert!(
            fx.reservations().is_empty(),
            "{what}: {:?}",
            files_under(dir)
        );
        let content = format!("{cid}\r\neth0");
        let carrying: Vec<String> = files_under(dir)
            .into_iter()
            .filter(|f| {
                std::fs::read(dir.join(f))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).trim() == content)
            })
            .collect();
        assert!(carrying.is_empty(), "{what}: {carrying:?} still name {cid}");
    }
    eprintln!("host-local DEL: {killed} of {iters} killed (window {window:?})");
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

/// A result whose addresses (on `eth0` in `ctr`) are `10.<n>.0.2/24` and
/// `fd00:<n>::2/64`, for a chained plugin.
fn synthetic_prev(ctr: &TestNs, n: u8) -> Value {
    json!({
        "cniVersion": "1.1.0",
        "interfaces": [{"name": "eth0", "sandbox": ctr.path_str()}],
        "ips": [{"address": format!("10.{n}.0.2/24"), "interface": 0},
                {"address": format!("fd00:{n}::2/64"), "interface": 0}],
    })
}

#[test]
fn portmap_killed_during_add() {
    require_root!();
    let (fx, ctr) = setup("crpm", "portmap", "crpm");
    portmap_host(&fx.host);
    let prev = synthetic_prev(&ctr, 95);
    for backend in backends() {
        let base = fx.conf(
            Version::V1_1_0,
            json!({"backend": backend, "capabilities": {"portMappings": true},
            "runtimeConfig": {"portMappings": [
                {"hostPort": 18080, "containerPort": 80, "protocol": "tcp"},
                {"hostPort": 18053, "containerPort": 53, "protocol": "udp"},
                {"hostPort": 18443, "containerPort": 443, "protocol": "tcp", "hostIP": "10.95.0.1"},
            ]}}),
        );
        let add = with_prev(&base, &prev);
        let counter = std::cell::Cell::new(0usize);
        sweep(&Case {
            name: format!("portmap ({backend})"),
            fx: &fx,
            ctr: &ctr,
            allocates: false,
            step: Box::new(|cid| {
                // Alternate: a runtime with the result cached (prevResult)
                // and one without (the ADD failed, nothing was cached).
                let n = counter.get();
                counter.set(n + 1);
                let del = if n.is_multiple_of(2) { &base } else { &add };
                Step {
                    add: (fx.call("ADD", &ctr, cid), add.clone()),
                    dels: vec![(fx.call("DEL", &ctr, cid), del.clone())],
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
    require_tools!("iptables");
    let (fx, ctr) = setup("crfw", "firewall", "crfw");
    let del = fx.conf(Version::V1_1_0, json!({"backend": "iptables"}));
    let add = with_prev(&del, &synthetic_prev(&ctr, 99));
    sweep(&Case {
        name: "firewall (iptables)".into(),
        fx: &fx,
        ctr: &ctr,
        allocates: false,
        step: Box::new(|cid| Step {
            add: (fx.call("ADD", &ctr, cid), add.clone()),
            dels: vec![(fx.call("DEL", &ctr, cid), del.clone())],
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
    let (fx, ctr) = setup("crbw", "bandwidth", "crbw");
    let bridge = fx.conf_of(
        "bridge",
        Version::V1_1_0,
        json!({"bridge": "cnicrbw0", "isGateway": true,
               "ipam": fx.host_local(json!([[{"subnet": "10.96.0.0/24"}]]))}),
    );
    let limits = fx.conf(
        Version::V1_1_0,
        json!({"ingressRate": 1_000_000, "ingressBurst": 80_000,
               "egressRate": 1_000_000, "egressBurst": 80_000}),
    );
    sweep(&Case {
        name: "bandwidth".into(),
        fx: &fx,
        ctr: &ctr,
        allocates: true,
        step: Box::new(|cid| {
            let br = fx.add_of("bridge", &ctr, cid, &bridge);
            Step {
                add: (fx.call("ADD", &ctr, cid), with_prev(&limits, &br.result)),
                dels: vec![
                    (fx.call("DEL", &ctr, cid), limits.clone()),
                    (fx.call_of("bridge", "DEL", &ctr, cid), bridge.clone()),
                ],
            }
        }),
        after_kill: Box::new(no_op),
    });
}

#[test]
fn tap_killed_during_add() {
    require_root!();
    let (fx, ctr) = setup("crtp", "tap", "crtap");
    ctr.ip(&["link", "add", "crbr0", "type", "bridge"]);
    let conf = fx.conf(
        Version::V1_1_0,
        json!({"owner": 0, "multiQueue": true, "bridge": "crbr0",
               "ipam": fx.host_local(json!([[{"subnet": "10.97.0.0/24"}]]))}),
    );
    sweep_simple("tap".into(), &fx, &ctr, &conf);
}

/// host-device moving a veth end of the fake host (records in a
/// directory of their own, beside the store). After each kill the device
/// is on the host (under its name, or its alias naming it), or in the
/// container under `eth0` with a record that names it: never anywhere a
/// DEL after the netns is destroyed would not find it. After the DEL it
/// is back as it was (the host snapshot: name, MTU, state, alias) and no
/// record is left.
#[test]
fn host_device_killed_during_add() {
    require_root!();
    let (fx, ctr) = setup("crhd", "host-device", "crhd");
    fx.host.ip(&[
        "link", "add", "crhd0", "type", "veth", "peer", "name", "crhd1",
    ]);
    fx.host.ip(&["link", "set", "crhd0", "mtu", "1400", "up"]);
    let mac = link_in(&fx.host, "crhd0").expect("crhd0").mac;
    let records = tempdir();
    let conf = fx.conf(
        Version::V1_1_0,
        json!({"device": "crhd0", "dataDir": records.path(),
               "ipam": fx.host_local(json!([[{"subnet": "10.96.0.0/24"}]]))}),
    );
    let where_is = |i: usize| {
        let what = format!("host-device iteration {i} after the kill");
        let on_host = link_names(&fx.host)
            .into_iter()
            .filter_map(|n| link_in(&fx.host, &n))
            .find(|l| l.mac == mac);
        match on_host {
            Some(l) => assert!(
                l.name == "crhd0" || l.alias == "crhd0",
                "{what}: on the host as {} (alias {:?})",
                l.name,
                l.alias
            ),
            None => {
                let inside = link_in(&ctr, "eth0").unwrap_or_else(|| {
                    panic!("{what}: neither on the host nor eth0 in the container")
                });
                assert_eq!(inside.mac, mac, "{what}");
                let rec = records.path().join(format!("crash-{i}_eth0.json"));
                let text = std::fs::read_to_string(&rec)
                    .unwrap_or_else(|e| panic!("{what}: in the container without a record: {e}"));
                assert!(text.contains("\"name\":\"crhd0\""), "{what}: {text}");
            }
        }
    };
    sweep(&Case {
        name: "host-device".into(),
        fx: &fx,
        ctr: &ctr,
        allocates: true,
        step: Box::new(|cid| simple_step(&fx, &conf, &ctr, cid)),
        after_kill: Box::new(where_is),
    });
    let left = files_under(records.path());
    assert!(left.is_empty(), "records left: {left:?}");
}

/// The rules of `ctr` that are not the kernel's defaults.
fn extra_rules(ctr: &TestNs) -> Vec<String> {
    ["-4", "-6"]
        .iter()
        .flat_map(|fam| {
            output_in(ctr, "ip", &[fam, "rule"])
                .lines()
                .filter(|l| !l.contains("from all lookup"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// sbr after a bridge ADD that completed: the kill hits sbr, then the
/// chain is deleted in reverse (sbr without prevResult, then bridge). sbr
/// changes only the container's rules and routes, which go with the
/// interface but for the rules: none may be left before the next ADD.
#[test]
fn sbr_killed_during_add() {
    require_root!();
    let (fx, ctr) = setup("crsb", "sbr", "crsbr");
    let mut ipam =
        fx.host_local(json!([[{"subnet": "10.98.0.0/24"}], [{"subnet": "fd00:98::/64"}]]));
    ipam["routes"] = json!([{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]);
    let bridge = fx.conf_of(
        "bridge",
        Version::V1_1_0,
        json!({"bridge": "cnicrsb0", "isGateway": true, "ipam": ipam}),
    );
    let sbr = fx.conf(Version::V1_1_0, json!({}));
    sweep(&Case {
        name: "sbr".into(),
        fx: &fx,
        ctr: &ctr,
        allocates: true,
        step: Box::new(|cid| {
            let left = extra_rules(&ctr);
            assert!(left.is_empty(), "before {cid}: rules left: {left:?}");
            let br = fx.add_of("bridge", &ctr, cid, &bridge);
            Step {
                add: (fx.call("ADD", &ctr, cid), with_prev(&sbr, &br.result)),
                dels: vec![
                    (fx.call("DEL", &ctr, cid), sbr.clone()),
                    (fx.call_of("bridge", "DEL", &ctr, cid), bridge.clone()),
                ],
            }
        }),
        after_kill: Box::new(no_op),
    });
    let left = extra_rules(&ctr);
    assert!(left.is_empty(), "rules left: {left:?}");
}

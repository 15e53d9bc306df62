//! Concurrency: 8 runtime threads share one bridge network (a conflist
//! chain bridge with ipMasq and host-local, then portmap) and do a random
//! mix of ADD, CHECK, DEL and GC through libcni, as a runtime would, with
//! the plugins executed in a fake host netns. Throughout: no address is
//! held by two live attachments, every CHECK of a live attachment passes,
//! every DEL and GC succeeds. At the end, after every attachment is
//! deleted and a final GC: no veth, no reservation, no cache entry, and
//! the host's links, addresses, routes and firewall rules exactly as before.
//!
//! `CNI_CONCURRENCY_OPS` (default 200) sets the operations per backend,
//! `CNI_CONCURRENCY_SEED` repeats a run. See Documentation/reliability.md.

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use integration::kill::{Rng, env_usize, seed};
use integration::state::{Snapshot, store_problems};
use integration::*;
use libcni::{CniConfig, DefaultExec, Exec, GcAttachment, NetworkConfigList, RuntimeConf};
use serde_json::{Value, json};

const THREADS: usize = 8;
const SLOTS_PER_THREAD: usize = 2;

/// Runs every plugin inside the fake host, as if the runtime lived there.
struct InHost {
    host: Netns,
}

impl Exec for InHost {
    fn exec_plugin(
        &self,
        plugin: &Path,
        stdin: &[u8],
        env: &[(OsString, OsString)],
    ) -> libcni::Result<Vec<u8>> {
        self.host.run(|| {
            DefaultExec {
                timeout: None,
                quiet: true,
            }
            .exec_plugin(plugin, stdin, env)
        })
    }
}

/// What the runtime knows: attachments whose ADD started and whose DEL has
/// not finished (GC must spare them), and the addresses of live ones.
#[derive(Default)]
struct Registry {
    known: BTreeSet<(String, String)>,
    /// address -> container ID
    live_ips: HashMap<String, String>,
}

struct Counts {
    add: AtomicUsize,
    check: AtomicUsize,
    del: AtomicUsize,
    gc: AtomicUsize,
}

fn conflist(backend: &str, data_dir: &Path) -> Value {
    json!({
        "cniVersion": "1.1.0",
        "name": "ccnet",
        "plugins": [
            {"type": "bridge", "bridge": "cnicc0", "isGateway": true,
             "ipMasq": true, "ipMasqBackend": backend,
             "ipam": {"type": "host-local", "dataDir": data_dir,
                      "ranges": [[{"subnet": "10.97.0.0/24"}]]}},
            {"type": "portmap", "backend": backend, "capabilities": {"portMappings": true}},
        ],
    })
}

fn addresses(result: &libcni::CniResult) -> Vec<String> {
    result
        .ips
        .iter()
        .map(|i| i.address.addr().to_string())
        .collect()
}

fn run_mix(backend: &str) {
    let seed = seed("CNI_CONCURRENCY_SEED", &format!("concurrency ({backend})"));
    let ops = env_usize("CNI_CONCURRENCY_OPS", 200);
    let host = TestNs::new("cchost");
    let ctrs: Vec<TestNs> = (0..THREADS * SLOTS_PER_THREAD)
        .map(|_| TestNs::new("ccctr"))
        .collect();
    let dir = tempdir();
    let data_dir = dir.path().join("data");
    let cache_dir = dir.path().join("cache");
    let list = NetworkConfigList::from_bytes(conflist(backend, &data_dir).to_string().as_bytes())
        .expect("conflist");
    let cni = CniConfig::new(vec![
        plugin_path("bridge").parent().map(PathBuf::from).unwrap(),
    ])
    .with_cache_dir(&cache_dir)
    .with_exec(Arc::new(InHost { host: host.open() }));
    let rt = |slot: usize, cid: &str| {
        let mut rt = RuntimeConf::new(cid, ctrs[slot].path_str(), "eth0");
        rt.capability_args.insert(
            "portMappings".into(),
            json!([{"hostPort": 21000 + slot, "containerPort": 80, "protocol": "tcp"}]),
        );
        rt
    };

    cold_start(&cni, &list, &rt, backend, &host);

    // Warm up so that the bridge and the shared chains exist, then take
    // the baseline.
    let warm = rt(0, "warmup");
    cni.add_network_list(&list, &warm).expect("warm-up ADD");
    cni.del_network_list(&list, &warm).expect("warm-up DEL");
    let before = Snapshot::of(&host);

    let registry = Mutex::new(Registry::default());
    // ADD holds it shared, GC exclusively: a GC must not run between an
    // ADD's start and the runtime knowing about the attachment.
    let gc_gate = RwLock::new(());
    let counts = Counts {
        add: AtomicUsize::new(0),
        check: AtomicUsize::new(0),
        del: AtomicUsize::new(0),
        gc: AtomicUsize::new(0),
    };
    let remaining = AtomicUsize::new(ops);
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (cni, list, registry, gc_gate, counts, remaining, rt) =
                (&cni, &list, &registry, &gc_gate, &counts, &remaining, &rt);
            s.spawn(move || {
                let mut rng = Rng::new(seed ^ (t as u64).wrapping_mul(0x9e37_79b9));
                // per slot: the container ID attached there, if any
                let mut attached: Vec<Option<String>> = vec![None; SLOTS_PER_THREAD];
                let mut generation = 0;
                while remaining
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
                {
                    let k = rng.below(SLOTS_PER_THREAD as u64) as usize;
                    let slot = t * SLOTS_PER_THREAD + k;
                    let dice = rng.below(100);
                    match attached[k].clone() {
                        None if dice < 90 => {
                            generation += 1;
                            let cid = format!("cc-{t}-{k}-{generation}");
                            let _gate = gc_gate.read().unwrap();
                            registry
                                .lock()
                                .unwrap()
                                .known
                                .insert((cid.clone(), "eth0".into()));
                            let r = cni
                                .add_network_list(list, &rt(slot, &cid))
                                .unwrap_or_else(|e| panic!("ADD {cid}: {e}"));
                            let mut reg = registry.lock().unwrap();
                            for ip in addresses(&r) {
                                if let Some(other) = reg.live_ips.insert(ip.clone(), cid.clone()) {
                                    panic!("{ip} given to {cid} while {other} holds it");
                                }
                            }
                            drop(reg);
                            attached[k] = Some(cid);
                            counts.add.fetch_add(1, Ordering::Relaxed);
                        }
                        None => {
                            // DEL of something never added (or long gone)
                            let cid = format!("cc-{t}-{k}-never");
                            cni.del_network_list(list, &rt(slot, &cid))
                                .unwrap_or_else(|e| panic!("DEL of unknown {cid}: {e}"));
                            counts.del.fetch_add(1, Ordering::Relaxed);
                        }
                        Some(cid) if dice < 40 => {
                            cni.check_network_list(list, &rt(slot, &cid))
                                .unwrap_or_else(|e| panic!("CHECK {cid}: {e}"));
                            counts.check.fetch_add(1, Ordering::Relaxed);
                        }
                        Some(cid) if dice < 85 => {
                            registry.lock().unwrap().live_ips.retain(|_, c| *c != cid);
                            cni.del_network_list(list, &rt(slot, &cid))
                                .unwrap_or_else(|e| panic!("DEL {cid}: {e}"));
                            registry
                                .lock()
                                .unwrap()
                                .known
                                .remove(&(cid.clone(), "eth0".into()));
                            attached[k] = None;
                            counts.del.fetch_add(1, Ordering::Relaxed);
                        }
                        Some(_) => {
                            let _gate = gc_gate.write().unwrap();
                            let valid: Vec<GcAttachment> = registry
                                .lock()
                                .unwrap()
                                .known
                                .iter()
                                .map(|(c, i)| GcAttachment {
                                    container_id: c.clone(),
                                    ifname: i.clone(),
                                })
                                .collect();
                            cni.gc_network_list(list, Some(&valid))
                                .unwrap_or_else(|e| panic!("GC: {e}"));
                            counts.gc.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                // leave nothing attached
                for (k, cid) in attached.iter().enumerate() {
                    if let Some(cid) = cid {
                        registry.lock().unwrap().live_ips.retain(|_, c| c != cid);
                        cni.del_network_list(list, &rt(t * SLOTS_PER_THREAD + k, cid))
                            .unwrap_or_else(|e| panic!("final DEL {cid}: {e}"));
                    }
                }
            });
        }
    });
    let elapsed = started.elapsed();
    cni.gc_network_list(&list, Some(&[])).expect("final GC");
    eprintln!(
        "concurrency ({backend}): {ops} operations on {THREADS} threads in {elapsed:.1?}: \
         {} ADD, {} CHECK, {} DEL, {} GC",
        counts.add.load(Ordering::Relaxed),
        counts.check.load(Ordering::Relaxed),
        counts.del.load(Ordering::Relaxed),
        counts.gc.load(Ordering::Relaxed),
    );

    if let Some(diff) = before.diff(&Snapshot::of(&host)) {
        panic!("{backend}: the host is not as before:\n{diff}");
    }
    for ctr in &ctrs {
        let links = Snapshot::of(ctr).link_names().clone();
        assert_eq!(
            links,
            BTreeSet::from(["lo".to_string()]),
            "{backend}: {} kept links",
            ctr.name
        );
    }
    let net = data_dir.join("ccnet");
    assert!(
        reservation_files(&net).is_empty(),
        "{backend}: reservations left: {:?}",
        reservation_files(&net)
    );
    let (problems, temps) = store_problems(&data_dir);
    assert!(
        problems.is_empty() && temps == 0,
        "{problems:?}, {temps} temporary files"
    );
    assert!(
        files_under(&cache_dir.join("results")).is_empty(),
        "{backend}: cache entries left: {:?}",
        files_under(&cache_dir)
    );
}

/// The first ADDs on a fresh host all race to create the bridge, its
/// gateway address and the shared chains: one per thread at once, then
/// every one must pass CHECK, and no shared rule may exist twice.
fn cold_start(
    cni: &CniConfig,
    list: &NetworkConfigList,
    rt: &(dyn Fn(usize, &str) -> RuntimeConf + Sync),
    backend: &str,
    host: &TestNs,
) {
    let barrier = std::sync::Barrier::new(THREADS);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let barrier = &barrier;
            s.spawn(move || {
                let cid = format!("cold-{t}");
                let rt = rt(t * SLOTS_PER_THREAD, &cid);
                barrier.wait();
                cni.add_network_list(list, &rt)
                    .unwrap_or_else(|e| panic!("{backend}: cold ADD {cid}: {e}"));
            });
        }
    });
    for t in 0..THREADS {
        let cid = format!("cold-{t}");
        cni.check_network_list(list, &rt(t * SLOTS_PER_THREAD, &cid))
            .unwrap_or_else(|e| panic!("{backend}: CHECK after a cold start {cid}: {e}"));
    }
    for tool in ["iptables-save", "ip6tables-save"] {
        let text = output_in(host, tool, &[]);
        let mut seen = std::collections::HashSet::new();
        for line in text.lines().filter(|l| l.starts_with("-A ")) {
            assert!(seen.insert(line), "{backend}: {tool}: rule twice: {line}");
        }
    }
    for t in 0..THREADS {
        let cid = format!("cold-{t}");
        cni.del_network_list(list, &rt(t * SLOTS_PER_THREAD, &cid))
            .unwrap_or_else(|e| panic!("{backend}: DEL after a cold start {cid}: {e}"));
    }
}

#[test]
fn mixed_operations_iptables() {
    require_root!();
    require_tools!("iptables");
    run_mix("iptables");
}

#[test]
fn mixed_operations_nftables() {
    require_root!();
    require_tools!("nft");
    run_mix("nftables");
}

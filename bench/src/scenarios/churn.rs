//! Scenario 3: parallel churn. W workers share C containers on one bridge
//! with ipMasq on (backend detected, iptables here); each worker takes the
//! next container, ADDs it and DELs it. The implementations cannot run at
//! the same time without disturbing each other, so they take turns, in an
//! alternating order per repetition. ops/s counts every successful ADD and
//! every successful DEL (2·C operations per round).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::Res;
use crate::attach::{Attach, HostSetup, PluginAttach};
use crate::impls::{Impl, skip_reason};
use crate::measure::Sample;
use crate::netconf::{self, Masq};
use crate::options::Options;
use crate::results::{Latency, Section};
use crate::scenarios::sequential::{WARM_INDEX, order};
use crate::stats::median;
use crate::testbed::{self, Container};

pub const ID: &str = "churn";

#[derive(Default)]
struct Round {
    adds: Vec<Sample>,
    dels: Vec<Sample>,
    failures: usize,
    first_failure: Option<String>,
    ops_per_s: f64,
}

pub fn run(ours: &Impl, theirs: &Impl, o: &Options) -> Section {
    let title = format!(
        "parallel churn: {} workers, {} containers ADD then DEL each, one bridge, {} ({} reps)",
        o.churn_workers,
        o.churn_containers,
        Masq::Detected.describe(),
        o.reps
    );
    if let Some(reason) = skip_reason(&[ours, theirs], &["bridge", "host-local"]) {
        return Section::skipped(ID, title, reason);
    }
    let mut sec = Section::new(ID, title);
    sec.note("ops/s = (successful ADDs + successful DELs) / elapsed wall time of the round");
    let imps = [ours, theirs];
    let mut rounds: Vec<Vec<Round>> = vec![Vec::new(), Vec::new()];
    'reps: for rep in 0..o.reps {
        for k in order(rep, imps.len()) {
            match round(imps[k], o) {
                Ok(r) => {
                    crate::progress(format!(
                        "churn: {} repetition {}/{}: {:.1} ops/s",
                        imps[k].label,
                        rep + 1,
                        o.reps,
                        r.ops_per_s
                    ));
                    rounds[k].push(r);
                }
                Err(e) => {
                    sec.error = Some(format!("{} repetition {}: {e}", imps[k].label, rep + 1));
                    break 'reps;
                }
            }
            testbed::settle(o.settle);
        }
    }
    for (k, imp) in imps.iter().enumerate() {
        let rs = &rounds[k];
        if rs.is_empty() {
            continue;
        }
        let rates: Vec<f64> = rs.iter().map(|r| r.ops_per_s).collect();
        sec.scalar("ops/s", imp.label, median(&rates), "ops/s");
        let failures: usize = rs.iter().map(|r| r.failures).sum();
        sec.scalar("failed ops", imp.label, failures as f64, "");
        if let Some(f) = rs.iter().find_map(|r| r.first_failure.clone()) {
            sec.note(format!("{}: first failure: {f}", imp.label));
        }
        let list: Vec<String> = rates.iter().map(|r| format!("{r:.1}")).collect();
        sec.note(format!(
            "{} ops/s per repetition: {}",
            imp.label,
            list.join(", ")
        ));
    }
    for (op, pick) in [
        ("ADD", (|r: &Round| &r.adds) as fn(&Round) -> &Vec<Sample>),
        ("DEL", |r: &Round| &r.dels),
    ] {
        for (k, imp) in imps.iter().enumerate() {
            let all: Vec<Sample> = rounds[k].iter().flat_map(|r| pick(r).clone()).collect();
            if !all.is_empty() {
                sec.latencies.push(Latency::of(op, imp.label, &all));
            }
        }
    }
    sec
}

fn round(imp: &Impl, o: &Options) -> Res<Round> {
    let a = PluginAttach::new(imp, "bridge", HostSetup::Plain, |d| {
        netconf::bridge(d, Masq::Detected)
    })?;
    let warm = Container::new("warm", WARM_INDEX)?;
    a.add(&warm)?;
    a.del(&warm)?;
    let ctrs = Container::many("churn", 0, o.churn_containers)?;
    let next = AtomicUsize::new(0);
    let out = Mutex::new(Round::default());
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..o.churn_workers {
            s.spawn(|| {
                while let Some(c) = ctrs.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let add = a.add(c);
                    // DEL even after a failed ADD: that is what a runtime does.
                    let del = a.del(c);
                    let Ok(mut r) = out.lock() else { return };
                    for (res, is_add) in [(add, true), (del, false)] {
                        match res {
                            Ok(s) if is_add => r.adds.push(s),
                            Ok(s) => r.dels.push(s),
                            Err(e) => {
                                r.failures += 1;
                                r.first_failure.get_or_insert(e);
                            }
                        }
                    }
                }
            });
        }
    });
    let elapsed = start.elapsed().as_secs_f64();
    let mut r = out
        .into_inner()
        .map_err(|_| "a churn worker panicked".to_string())?;
    let ok = (r.adds.len() + r.dels.len()) as f64;
    r.ops_per_s = if elapsed > 0.0 { ok / elapsed } else { 0.0 };
    crate::interrupt::check()?;
    Ok(r)
}

//! Scenario 5: host-local on its own, A allocations (ADD, never DEL) in a
//! /16, interleaved between the implementations, each with its own
//! `dataDir`. The figure of merit is how the p50 of the last W allocations
//! compares with that of the first W: an allocator that walks its store
//! on every call slows down as the store fills.

use crate::Res;
use crate::attach::{Attach, HostSetup, PluginAttach};
use crate::impls::{Impl, skip_reason};
use crate::measure::Sample;
use crate::netconf;
use crate::options::Options;
use crate::results::{Latency, Section};
use crate::scenarios::sequential::order;
use crate::stats::ratio;
use crate::testbed::{self, Container};

pub const ID: &str = "host-local";
pub const FIRST: &str = "ADD first";
pub const LAST: &str = "ADD last";

pub fn run(ours: &Impl, theirs: &Impl, o: &Options) -> Section {
    let title = format!(
        "host-local alone: {} allocations in a /16, first vs last {}",
        o.hl_allocs, o.hl_window
    );
    if let Some(reason) = skip_reason(&[ours, theirs], &["host-local"]) {
        return Section::skipped(ID, title, reason);
    }
    let mut sec = Section::new(ID, title);
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(), Vec::new()];
    if let Err(e) = allocate(&[ours, theirs], o, &mut samples) {
        sec.error = Some(e);
    }
    testbed::settle(o.settle);
    for (op, first) in [(FIRST, true), (LAST, false)] {
        for (k, imp) in [ours, theirs].iter().enumerate() {
            let s = &samples[k];
            if s.len() < o.hl_allocs {
                continue;
            }
            let window = if first {
                &s[..o.hl_window]
            } else {
                &s[s.len() - o.hl_window..]
            };
            sec.latencies.push(Latency::of(op, imp.label, window));
        }
    }
    for imp in [ours, theirs] {
        let p50 = |op| sec.latency(op, imp.label).map(|l| l.wall.p50);
        if let (Some(f), Some(l)) = (p50(FIRST), p50(LAST))
            && let Some(r) = ratio(l, f)
        {
            sec.scalar("last/first", imp.label, r, "x");
        }
    }
    sec.note(
        "CNI_NETNS is a scratch namespace (host-local does not enter it); \
         the plugin runs in its own fake host",
    );
    sec
}

fn allocate(imps: &[&Impl], o: &Options, samples: &mut [Vec<Sample>]) -> Res<()> {
    let mut attaches = Vec::new();
    for imp in imps {
        attaches.push(PluginAttach::new(
            imp,
            "host-local",
            HostSetup::Plain,
            netconf::host_local_alone,
        )?);
    }
    let ctr = testbed::new_ns("bc")?;
    for i in 0..o.hl_allocs {
        if i > 0 && i % 1000 == 0 {
            crate::progress(format!("host-local: {i}/{} allocations", o.hl_allocs));
        }
        for k in order(i, attaches.len()) {
            let c = Container::in_ns(&ctr, format!("hl-{i}"), i);
            samples[k].push(attaches[k].add(&c)?);
        }
    }
    Ok(())
}

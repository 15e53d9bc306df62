//! Scenario 4: does the cost of one attachment grow with the number of
//! containers already on the bridge (ipMasq on, backend detected)? Each
//! implementation gets its own fake host, filled by itself (untimed) to
//! S attached containers; then I probes, each an ADD and a DEL of one more
//! container, interleaved between the implementations; then the hosts are
//! filled up to L and the probes repeat. The true floor (`true_floor.rs`)
//! and the iproute2 floor (`floor.rs`) run alongside, each in a fake host
//! filled the same way, which shows how much of the growth is the kernel's
//! own (a bridge with many ports floods
//! every new port's IPv6 neighbour and multicast traffic to all of them);
//! so does the floor with Go's settings, which shows how much more of it
//! the reference plugin's settings ask of the kernel.

use std::collections::BTreeMap;

use crate::Res;
use crate::attach::{Attach, HostSetup, PluginAttach};
use crate::floor::{self, FloorAttach};
use crate::impls::{Impl, skip_reason};
use crate::measure::Sample;
use crate::netconf::{self, Masq};
use crate::options::Options;
use crate::results::{Latency, Section};
use crate::scenarios::sequential::{WARM_INDEX, order};
use crate::stats::ratio;
use crate::testbed::{self, Container};
use crate::true_floor::{self, TrueFloorAttach};

pub const ID: &str = "scale";

pub fn add_op(level: usize) -> String {
    format!("ADD @{level}")
}

pub fn del_op(level: usize) -> String {
    format!("DEL @{level}")
}

/// (implementation, operation at a level) → samples.
type Samples = BTreeMap<(String, String), Vec<Sample>>;

pub fn run(ours: &Impl, theirs: &Impl, o: &Options) -> Section {
    let title = format!(
        "scale: ADD/DEL of one more container with {} vs {} attached, {} ({} probes each)",
        o.scale_small,
        o.scale_large,
        Masq::Detected.describe(),
        o.scale_iters
    );
    if let Some(reason) = skip_reason(&[ours, theirs], &["bridge", "host-local"]) {
        return Section::skipped(ID, title, reason);
    }
    let mut sec = Section::new(ID, title);
    if let Some(why) = true_floor::unavailable(o.floor_bin.as_deref()) {
        sec.note(why);
    }
    let mut samples = Samples::new();
    if let Err(e) = measure(ours, theirs, o, &mut samples) {
        sec.error = Some(e);
    }
    testbed::settle(o.settle);
    let levels = [o.scale_small, o.scale_large];
    let labels = [
        ours.label,
        theirs.label,
        true_floor::LABEL,
        true_floor::GO_LABEL,
        floor::LABEL,
    ];
    for level in levels {
        for op in [add_op(level), del_op(level)] {
            for label in labels {
                if let Some(s) = samples.get(&(label.to_string(), op.clone())) {
                    sec.latencies.push(Latency::of(&op, label, s));
                }
            }
        }
    }
    for label in labels {
        for (name, small, large) in [
            ("ADD growth", add_op(levels[0]), add_op(levels[1])),
            ("DEL growth", del_op(levels[0]), del_op(levels[1])),
        ] {
            let p50 = |op: &str| sec.latency(op, label).map(|l| l.wall.p50);
            if let (Some(s), Some(l)) = (p50(&small), p50(&large))
                && let Some(r) = ratio(l, s)
            {
                sec.scalar(name, label, r, "x");
            }
        }
    }
    sec.note(format!(
        "growth = p50 wall with {} attached / p50 wall with {} attached",
        o.scale_large, o.scale_small
    ));
    // The figures table compares ours with theirs only: the floors' own
    // growth goes in a note.
    for label in [true_floor::LABEL, true_floor::GO_LABEL, floor::LABEL] {
        let grown: Vec<String> = ["ADD growth", "DEL growth"]
            .iter()
            .filter_map(|name| {
                let x = sec
                    .scalars
                    .iter()
                    .find(|x| x.name == *name && x.imp == label)?;
                Some(format!("{name} {:.2}x", x.value))
            })
            .collect();
        if !grown.is_empty() {
            sec.note(format!("{label}: {}", grown.join(", ")));
        }
    }
    sec
}

fn measure(ours: &Impl, theirs: &Impl, o: &Options, samples: &mut Samples) -> Res<()> {
    let mut attaches: Vec<Box<dyn Attach>> = Vec::new();
    let mut probes = Vec::new();
    for imp in [ours, theirs] {
        let a = PluginAttach::new(imp, "bridge", HostSetup::Plain, |d| {
            netconf::bridge(d, Masq::Detected)
        })?;
        let warm = Container::new("warm", WARM_INDEX)?;
        a.add(&warm)?;
        a.del(&warm)?;
        attaches.push(Box::new(a));
        probes.push(testbed::new_ns("bp")?);
    }
    if let Some(p) = o.floor_bin.as_deref().filter(|p| p.is_file()) {
        attaches.push(Box::new(TrueFloorAttach::new(p)?));
        probes.push(testbed::new_ns("bp")?);
        attaches.push(Box::new(TrueFloorAttach::with_go_settings(p)?));
        probes.push(testbed::new_ns("bp")?);
    }
    attaches.push(Box::new(FloorAttach::new()?));
    probes.push(testbed::new_ns("bp")?);
    let mut attached: Vec<Vec<Container>> = attaches.iter().map(|_| Vec::new()).collect();
    for level in [o.scale_small, o.scale_large] {
        // Fill up, alternating so that both hosts grow together.
        let have = attached[0].len();
        for i in have..level {
            for k in order(i, attaches.len()) {
                let c = Container::new(&format!("pre-{}", attaches[k].label()), i)?;
                attaches[k].add(&c)?;
                attached[k].push(c);
            }
        }
        crate::progress(format!("scale: {level} attached on each side, probing"));
        for it in 0..o.scale_iters {
            let ks: Vec<usize> = order(it, attaches.len()).collect();
            let probe =
                |k: usize| Container::in_ns(&probes[k], format!("probe-{level}-{it}"), level + it);
            for &k in &ks {
                let s = attaches[k].add(&probe(k))?;
                let key = (attaches[k].label().to_string(), add_op(level));
                samples.entry(key).or_default().push(s);
            }
            for &k in &ks {
                let s = attaches[k].del(&probe(k))?;
                let key = (attaches[k].label().to_string(), del_op(level));
                samples.entry(key).or_default().push(s);
            }
        }
    }
    Ok(())
}

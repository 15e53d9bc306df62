//! Issue 21: does tuning's `sysctl` map cost time linear in its number of
//! keys? One scratch container holds `eth0` (what the main plugin left,
//! named in `prevResult`) and enough veth pairs for L real per-link
//! sysctls (`integration::link_sysctls`, about 120 per link); the map
//! names the first S or L of them, link by link, with the values they
//! hold, so every write is the kernel's real work, changes nothing, and is
//! the same for both implementations. Each repetition runs, for each size,
//! an ADD and its DEL per implementation (rotated order), so that every ADD
//! starts from the same state; both are timed. The figure of merit is the
//! ADD p50 of L keys over that of S (DEL writes no sysctl: it only parses
//! the map).

use integration::{TestNs, link_sysctls};

use crate::Res;
use crate::attach::{Attach, HostSetup, PluginAttach};
use crate::impls::{Impl, skip_reason};
use crate::measure::Sample;
use crate::netconf;
use crate::options::Options;
use crate::results::{Latency, Section};
use crate::scenarios::sequential::{WARM_INDEX, order};
use crate::stats::ratio;
use crate::testbed::{self, Container};

pub const ID: &str = "tuning-sysctls";
pub const WALL_GROWTH: &str = "ADD wall large/small";
pub const CPU_GROWTH: &str = "ADD cpu large/small";

const ETH0_MAC: &str = "0e:00:00:00:00:11";

pub fn add_op(keys: usize) -> String {
    format!("ADD {keys} keys")
}

fn del_op(keys: usize) -> String {
    format!("DEL {keys} keys")
}

/// Samples of one size and implementation.
#[derive(Clone, Default)]
struct Pair {
    add: Vec<Sample>,
    del: Vec<Sample>,
}

pub fn run(ours: &Impl, theirs: &Impl, o: &Options) -> Section {
    let title = format!(
        "tuning: ADD with {} vs {} real per-link sysctls ({} reps)",
        o.tuning_small, o.tuning_large, o.tuning_reps
    );
    if let Some(reason) = skip_reason(&[ours, theirs], &["tuning"]) {
        return Section::skipped(ID, title, reason);
    }
    let mut sec = Section::new(ID, title);
    let sizes = [o.tuning_small, o.tuning_large];
    // samples[size][implementation]
    let mut samples = vec![vec![Pair::default(); 2]; 2];
    if let Err(e) = measure(&[ours, theirs], &sizes, o.tuning_reps, &mut samples) {
        sec.error = Some(e);
    }
    testbed::settle(o.settle);
    for del in [false, true] {
        for (i, &n) in sizes.iter().enumerate() {
            for (k, imp) in [ours, theirs].iter().enumerate() {
                let p = &samples[i][k];
                let (op, got) = match del {
                    false => (add_op(n), &p.add),
                    true => (del_op(n), &p.del),
                };
                if !got.is_empty() {
                    sec.latencies.push(Latency::of(&op, imp.label, got));
                }
            }
        }
    }
    for imp in [ours, theirs] {
        let at = |n| sec.latency(&add_op(n), imp.label);
        if let (Some(s), Some(l)) = (at(sizes[0]), at(sizes[1])) {
            let (wall, cpu) = (ratio(l.wall.p50, s.wall.p50), ratio(l.cpu.p50, s.cpu.p50));
            for (name, r) in [(WALL_GROWTH, wall), (CPU_GROWTH, cpu)] {
                if let Some(r) = r {
                    sec.scalar(name, imp.label, r, "x");
                }
            }
        }
    }
    sec.note(format!(
        "large/small = p50 with {} keys / p50 with {}; each key written with \
         the value it holds; a linear cost gives a little under {:.0}x (the \
         start of the process is paid once)",
        sizes[1],
        sizes[0],
        sizes[1] as f64 / sizes[0] as f64
    ));
    sec
}

fn measure(imps: &[&Impl], sizes: &[usize; 2], reps: usize, samples: &mut [Vec<Pair>]) -> Res<()> {
    let ctr = container(sizes[1])?;
    let keys =
        link_sysctls(&ctr).map_err(|e| format!("read the sysctls of {}: {}", ctr.name, e.msg()))?;
    let netns = ctr.path_str();
    // attaches[size][implementation]
    let mut attaches = Vec::new();
    for &n in sizes {
        let map = keys
            .get(..n)
            .ok_or_else(|| format!("{} has {} sysctls, fewer than {n}", ctr.name, keys.len()))?;
        let mut row = Vec::new();
        for imp in imps {
            let a = PluginAttach::new(imp, "tuning", HostSetup::Plain, |d| {
                netconf::tuning(d, &netns, ETH0_MAC, map)
            })?;
            let warm = Container::in_ns(&ctr, format!("warm-{}", imp.label), WARM_INDEX);
            a.add(&warm)?;
            a.del(&warm)?;
            row.push(a);
        }
        attaches.push(row);
    }
    for rep in 0..reps {
        for (i, row) in attaches.iter().enumerate() {
            for k in order(rep + i, row.len()) {
                let c = Container::in_ns(&ctr, format!("tune-{rep}-{i}"), rep);
                samples[i][k].add.push(row[k].add(&c)?);
                samples[i][k].del.push(row[k].del(&c)?);
            }
        }
        crate::progress(format!(
            "tuning-sysctls: repetition {}/{reps} done",
            rep + 1
        ));
    }
    Ok(())
}

/// A container with `eth0` and veth pairs until it has `keys` per-link
/// sysctls.
fn container(keys: usize) -> Res<TestNs> {
    let ctr = testbed::new_ns("bc")?;
    testbed::ip(
        &ctr,
        &[
            "link", "add", "eth0", "address", ETH0_MAC, "type", "veth", "peer", "name", "eth0p",
        ],
    )?;
    let mut pairs = 0;
    while pairs <= keys / 10 + 10 {
        let have = link_sysctls(&ctr)
            .map_err(|e| format!("read the sysctls of {}: {}", ctr.name, e.msg()))?
            .len();
        if have >= keys {
            return Ok(ctr);
        }
        // about 250 keys per pair; one more for good measure
        for _ in 0..(keys - have) / 250 + 1 {
            let (a, b) = (format!("ma{pairs}"), format!("mb{pairs}"));
            testbed::ip(
                &ctr,
                &["link", "add", &a, "type", "veth", "peer", "name", &b],
            )?;
            pairs += 1;
        }
    }
    Err(format!(
        "{pairs} veth pairs in {} and still fewer than {keys} sysctls",
        ctr.name
    ))
}

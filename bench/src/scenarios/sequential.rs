//! Scenario 1 (and the floors of scenario 2): sequential ADD of N containers,
//! then DEL of each, for every implementation in the same run. Iteration i
//! runs the implementations in a rotated order (ours, theirs / theirs,
//! ours / ...) so that drifting machine load hits all of them alike. Each
//! repetition starts from fresh fake hosts and containers; one untimed
//! warm-up ADD+DEL per implementation comes first (the bridge is created,
//! modules and caches are hot).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::Res;
use crate::attach::{Attach, HostSetup, PluginAttach};
use crate::floor::FloorAttach;
use crate::impls::{Impl, skip_reason};
use crate::measure::Sample;
use crate::netconf::{self, Masq};
use crate::options::Options;
use crate::results::{Latency, Section};
use crate::testbed::{self, Container};
use crate::true_floor::{self, TrueFloorAttach};

/// The warm-up container's index (outside every range a scenario uses).
pub const WARM_INDEX: usize = 59_999;

/// One sequential scenario.
pub struct Variant {
    pub id: &'static str,
    pub title: &'static str,
    pub plugin: &'static str,
    /// Plugins that must be usable in both implementations.
    pub needs: &'static [&'static str],
    pub setup: HostSetup,
    pub conf: fn(&Path) -> Value,
    /// Compare with the iproute2 floor as well (every bridge variant runs
    /// the true floor).
    pub floor: bool,
    /// Container `lo` starts down (loopback's ADD has work to do).
    pub lo_down: bool,
    /// The masquerade backend asked for, to compare with what was used.
    pub masq: Masq,
}

/// The variants of the option `--only <scenario>`.
pub fn variants(scenario: &str) -> Vec<Variant> {
    let bridge = |id, title, masq: Masq, conf: fn(&Path) -> Value| Variant {
        id,
        title,
        plugin: "bridge",
        needs: &["bridge", "host-local"],
        setup: HostSetup::Plain,
        conf,
        floor: masq == Masq::Off,
        lo_down: false,
        masq,
    };
    match scenario {
        "bridge" => vec![
            bridge(
                "bridge/off",
                "bridge + host-local, ipMasq off",
                Masq::Off,
                |d| netconf::bridge(d, Masq::Off),
            ),
            bridge(
                "bridge/iptables",
                "bridge + host-local, ipMasq on, ipMasqBackend iptables",
                Masq::Iptables,
                |d| netconf::bridge(d, Masq::Iptables),
            ),
            bridge(
                "bridge/nftables",
                "bridge + host-local, ipMasq on, ipMasqBackend nftables",
                Masq::Nftables,
                |d| netconf::bridge(d, Masq::Nftables),
            ),
        ],
        "ptp" => vec![Variant {
            id: "ptp",
            title: "ptp + host-local",
            plugin: "ptp",
            needs: &["ptp", "host-local"],
            setup: HostSetup::Plain,
            conf: netconf::ptp,
            floor: false,
            lo_down: false,
            masq: Masq::Off,
        }],
        "macvlan" => vec![Variant {
            id: "macvlan",
            title: "macvlan + host-local (master: a veth in the fake host)",
            plugin: "macvlan",
            needs: &["macvlan", "host-local"],
            setup: HostSetup::MacvlanMaster,
            conf: netconf::macvlan,
            floor: false,
            lo_down: false,
            masq: Masq::Off,
        }],
        "loopback" => vec![Variant {
            id: "loopback",
            title: "loopback",
            plugin: "loopback",
            needs: &["loopback"],
            setup: HostSetup::Plain,
            conf: |_| netconf::loopback(),
            floor: false,
            lo_down: true,
            masq: Masq::Off,
        }],
        _ => Vec::new(),
    }
}

/// Iteration `i`'s order over `k` implementations: the rows of a
/// balanced Latin square (Williams design), cycled. Every implementation
/// runs at every position equally often, and also right after every other
/// one equally often: an operation leaves the kernel work behind (IPv6
/// and link-state work on the new interfaces, the ARP flood) that the next
/// one waits for, and a plain rotation would always put the same
/// implementation after the same other one (ours after the iproute2 floor,
/// in the scale scenario), charging one of them the other's aftermath.
/// For an even `k` that takes `k` rows; for an odd `k`, the `k` rows and
/// their mirror images.
pub fn order(i: usize, k: usize) -> impl Iterator<Item = usize> {
    let rows = if k.is_multiple_of(2) { k } else { 2 * k };
    let r = i % rows.max(1);
    (0..k).map(move |j| {
        // Mirrored rows (odd k only) read their row backwards.
        let (shift, pos) = if r < k { (r, j) } else { (r - k, k - 1 - j) };
        // The first row: 0, 1, k-1, 2, k-2, ...
        let first = if pos == 0 {
            0
        } else if !pos.is_multiple_of(2) {
            pos.div_ceil(2)
        } else {
            k - pos / 2
        };
        (first + shift) % k
    })
}

/// Samples per (implementation, operation), and the implementations in
/// the order they were first seen.
#[derive(Default)]
struct Collected {
    samples: BTreeMap<(String, &'static str), Vec<Sample>>,
    labels: Vec<String>,
}

pub fn run(v: &Variant, ours: &Impl, theirs: &Impl, o: &Options) -> Section {
    let title = format!(
        "{} ({} containers x {} reps, ADD all then DEL all)",
        v.title, o.containers, o.reps
    );
    if let Some(reason) = skip_reason(&[ours, theirs], v.needs) {
        return Section::skipped(v.id, title, reason);
    }
    let mut sec = Section::new(v.id, title);
    let true_floor = v.plugin == "bridge";
    if true_floor && let Some(why) = true_floor::unavailable(o.floor_bin.as_deref()) {
        sec.note(why);
    }
    let mut got = Collected::default();
    for rep in 0..o.reps {
        if let Err(e) = one_rep(v, [ours, theirs], o, rep, &mut sec, &mut got) {
            sec.error = Some(format!("repetition {}: {e}", rep + 1));
            break;
        }
        crate::progress(format!("{}: repetition {}/{} done", v.id, rep + 1, o.reps));
        testbed::settle(o.settle);
    }
    for op in ["ADD", "DEL"] {
        for l in &got.labels {
            if let Some(s) = got.samples.get(&(l.clone(), op)) {
                sec.latencies.push(Latency::of(op, l, s));
            }
        }
    }
    sec
}

fn one_rep(
    v: &Variant,
    imps: [&Impl; 2],
    o: &Options,
    rep: usize,
    sec: &mut Section,
    got: &mut Collected,
) -> Res<()> {
    let mut attaches: Vec<Box<dyn Attach>> = Vec::new();
    for imp in imps {
        attaches.push(Box::new(PluginAttach::new(imp, v.plugin, v.setup, v.conf)?));
    }
    if v.plugin == "bridge"
        && let Some(p) = o.floor_bin.as_deref().filter(|p| p.is_file())
    {
        attaches.push(Box::new(TrueFloorAttach::new(p)?));
        if v.floor {
            attaches.push(Box::new(TrueFloorAttach::with_go_settings(p)?));
        }
    }
    if v.floor {
        attaches.push(Box::new(FloorAttach::new()?));
    }
    if got.labels.is_empty() {
        got.labels
            .extend(attaches.iter().map(|a| a.label().to_string()));
    }
    let mut used = Vec::new();
    for a in &attaches {
        let warm = Container::new(&format!("warm-{}", a.label()), WARM_INDEX)?;
        if v.lo_down {
            warm.lo_down()?;
        }
        a.add(&warm)?;
        // (the floors have no masquerade to look for)
        if v.masq != Masq::Off && a.label() != true_floor::LABEL {
            used.push((a.label().to_string(), a.masq_backend_in_use()));
        }
        a.del(&warm)?;
    }
    if rep == 0 {
        note_backends(v.masq, &used, sec);
    }
    // rows[i][k]: container i of implementation k.
    let mut rows: Vec<Vec<Container>> = Vec::new();
    for i in 0..o.containers {
        let mut row = Vec::new();
        for a in &attaches {
            let c = Container::new(&format!("c-{}", a.label()), i)?;
            if v.lo_down {
                c.lo_down()?;
            }
            row.push(c);
        }
        rows.push(row);
    }
    for (op, is_add) in [("ADD", true), ("DEL", false)] {
        for (i, row) in rows.iter().enumerate() {
            for k in order(i, attaches.len()) {
                let (a, c) = (&attaches[k], &row[k]);
                let s = if is_add { a.add(c)? } else { a.del(c)? };
                got.samples
                    .entry((a.label().to_string(), op))
                    .or_default()
                    .push(s);
            }
        }
    }
    Ok(())
}

/// Say which masquerade backend each implementation really used, and
/// call out a mismatch with the one that was asked for.
fn note_backends(asked: Masq, used: &[(String, Option<String>)], sec: &mut Section) {
    if used.is_empty() {
        return;
    }
    let found: Vec<String> = used
        .iter()
        .map(|(l, u)| format!("{l}={}", u.as_deref().unwrap_or("?")))
        .collect();
    sec.note(format!(
        "masquerade state found in the fake host after ADD: {}",
        found.join(", ")
    ));
    let want = match asked {
        Masq::Iptables => "iptables",
        Masq::Nftables => "nftables",
        Masq::Off | Masq::Detected => return,
    };
    for (l, u) in used {
        if u.as_deref() != Some(want) {
            sec.note(format!(
                "{l} did not use the {want} backend it was asked for (it has none and \
                 ignores ipMasqBackend): this line compares different backends"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::order;
    use std::collections::BTreeSet;

    #[test]
    fn order_is_a_balanced_latin_square() {
        for k in 1..=6usize {
            let rows = if k.is_multiple_of(2) { k } else { 2 * k };
            let mut at = vec![vec![0usize; k]; k];
            let mut after = vec![vec![0usize; k]; k];
            for i in 0..rows {
                let row: Vec<usize> = order(i, k).collect();
                let distinct: BTreeSet<usize> = row.iter().copied().collect();
                assert_eq!(distinct.len(), k, "k={k} row {i}: {row:?}");
                for (pos, &x) in row.iter().enumerate() {
                    at[x][pos] += 1;
                }
                for w in row.windows(2) {
                    after[w[0]][w[1]] += 1;
                }
            }
            let per_position = rows / k;
            assert!(
                at.iter().flatten().all(|&n| n == per_position),
                "k={k}: {at:?}"
            );
            let per_pair = if k == 1 { 0 } else { rows / k };
            for (a, row) in after.iter().enumerate() {
                for (b, &n) in row.iter().enumerate() {
                    let want = if a == b { 0 } else { per_pair };
                    assert_eq!(n, want, "k={k}: {b} after {a}");
                }
            }
        }
    }
}

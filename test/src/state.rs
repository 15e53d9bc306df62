//! What a test namespace holds (links, addresses, routes, rules, qdiscs,
//! firewall rules), as text that can be compared before and after, and the
//! integrity of a host-local store on disk. Used by the reliability tests
//! to prove that nothing was left behind.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::{TestNs, files_under, has_tool, output_in, skip};

/// The state of one namespace, by section; volatile details (flags,
/// counters, lifetimes) are left out so that only real leftovers differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub sections: BTreeMap<&'static str, BTreeSet<String>>,
}

impl Snapshot {
    pub fn of(ns: &TestNs) -> Snapshot {
        let mut sections = BTreeMap::new();
        sections.insert("links", links(ns));
        sections.insert("addresses", addresses(ns));
        let mut routes = BTreeSet::new();
        for fam in ["-4", "-6"] {
            routes.extend(
                output_in(ns, "ip", &[fam, "-o", "route", "show", "table", "all"])
                    .lines()
                    .filter(|l| !derived_route(l))
                    .map(route_line),
            );
        }
        sections.insert("routes", routes);
        let mut rules = BTreeSet::new();
        for fam in ["-4", "-6"] {
            rules.extend(output_in(ns, "ip", &[fam, "rule"]).lines().map(squash));
        }
        sections.insert("rules", rules);
        if compared("tc") {
            sections.insert(
                "qdiscs",
                output_in(ns, "tc", &["qdisc", "show"])
                    .lines()
                    .map(qdisc_line)
                    .collect(),
            );
        }
        for tool in ["iptables-save", "ip6tables-save"] {
            if compared(tool) && !iptables_is_nft() {
                let text = output_in(ns, tool, &[]);
                let key = if tool == "iptables-save" {
                    "iptables"
                } else {
                    "ip6tables"
                };
                sections.insert(key, text.lines().filter_map(iptables_line).collect());
            }
        }
        if compared("nft") {
            sections.insert(
                "nft",
                output_in(ns, "nft", &["list", "ruleset"])
                    .lines()
                    .map(nft_line)
                    .filter(|l| !l.is_empty())
                    .collect(),
            );
        }
        Snapshot { sections }
    }

    /// Only the links: enough for a container namespace, where every
    /// address and route goes with its link.
    pub fn links_of(ns: &TestNs) -> Snapshot {
        Snapshot {
            sections: BTreeMap::from([("links", links(ns))]),
        }
    }

    /// What `later` has that `self` has not, and the reverse; `None` when
    /// they are the same.
    pub fn diff(&self, later: &Snapshot) -> Option<String> {
        let mut out = String::new();
        for (name, before) in &self.sections {
            let empty = BTreeSet::new();
            let after = later.sections.get(name).unwrap_or(&empty);
            for extra in after.difference(before) {
                out += &format!("  + {name}: {extra}\n");
            }
            for gone in before.difference(after) {
                out += &format!("  - {name}: {gone}\n");
            }
        }
        (!out.is_empty()).then_some(out)
    }

    /// The links present, as `name (kind)`.
    pub fn link_names(&self) -> &BTreeSet<String> {
        &self.sections["links"]
    }
}

/// Whether `tool` is there to read its section of a snapshot; a missing
/// one is reported once (see `pkg::skip`): the snapshots would not see
/// leftovers of its kind.
fn compared(tool: &'static str) -> bool {
    let there = has_tool(tool);
    if !there {
        skip::once(
            tool,
            format!("{tool} not installed: namespace snapshots leave its section out"),
        );
    }
    there
}

/// Link names (and kinds), read over netlink: cheaper than running `ip`.
fn links(ns: &TestNs) -> BTreeSet<String> {
    ns.netlink()
        .link_list()
        .expect("list links")
        .into_iter()
        .map(|l| match l.kind {
            Some(kind) => format!("{} ({kind})", l.name),
            None => l.name,
        })
        .collect()
}

/// `dev address/prefix` of every address but the IPv6 link-local ones,
/// which the kernel adds on its own, some time after a link first comes up.
fn addresses(ns: &TestNs) -> BTreeSet<String> {
    let mut nl = ns.netlink();
    let names: std::collections::HashMap<u32, String> = nl
        .link_list()
        .expect("list links")
        .into_iter()
        .map(|l| (l.index, l.name))
        .collect();
    nl.addr_list(None, None)
        .expect("list addresses")
        .into_iter()
        .filter(
            |a| !matches!(a.address.addr(), std::net::IpAddr::V6(v6) if v6.is_unicast_link_local()),
        )
        .map(|a| {
            let dev = names
                .get(&a.index)
                .cloned()
                .unwrap_or_else(|| a.index.to_string());
            format!("{dev} {}", a.address)
        })
        .collect()
}

/// With iptables on nf_tables (Debian's default), `nft list ruleset` shows
/// its rules too and the `*-save` tools add nothing.
fn iptables_is_nft() -> bool {
    static IS_NFT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *IS_NFT.get_or_init(|| {
        has_tool("nft")
            && std::process::Command::new("iptables")
                .arg("--version")
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).contains("nf_tables"))
                .unwrap_or(false)
    })
}

/// Routes the kernel derives from addresses and links (the local table,
/// IPv6 link-local): they come and go with carrier changes, which arrive
/// late, and a leftover address or link shows in its own section.
fn derived_route(line: &str) -> bool {
    line.contains("table local") || line.contains("fe80::")
}

fn squash(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Carrier changes of a bridge whose last port went away arrive late and
/// only flip flags; they are not leftovers.
fn route_line(line: &str) -> String {
    line.split_whitespace()
        .filter(|t| !matches!(*t, "linkdown" | "dead"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `qdisc <kind> <handle> dev <dev>`: parameters and statistics dropped.
fn qdisc_line(line: &str) -> String {
    line.split_whitespace()
        .take(5)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Rules and chain names, without comments and packet counters.
fn iptables_line(line: &str) -> Option<String> {
    if line.starts_with('#') {
        return None;
    }
    let line = match line.strip_prefix(':') {
        // ":CHAIN POLICY [packets:bytes]"
        Some(rest) => format!(":{}", rest.split(" [").next().unwrap_or(rest)),
        None => line.to_string(),
    };
    Some(squash(&line))
}

/// A ruleset line with `packets N bytes M` counters removed.
fn nft_line(line: &str) -> String {
    let mut out = Vec::new();
    let mut tokens = line.split_whitespace().peekable();
    while let Some(t) = tokens.next() {
        if matches!(t, "packets" | "bytes")
            && tokens.peek().is_some_and(|n| n.parse::<u64>().is_ok())
        {
            tokens.next();
            continue;
        }
        out.push(t);
    }
    out.join(" ")
}

/// Every file under a host-local `dataDir` that is not what the store
/// promises: a reservation (or index entry) must name its owner,
/// `last_reserved_ip.N` an address, `.attachments/.synced` a fingerprint
/// (`.attachments/.last-N` is a scratch file, `.attachments/.spare/*`
/// spare inodes).
/// Temporary `.tmp-*` files are where writes happen before they become
/// visible: they may exist while (or after) a writer died, and are counted
/// in the second value; the next store operation removes them.
pub fn store_problems(data_dir: &Path) -> (Vec<String>, usize) {
    let mut problems = Vec::new();
    let mut temps = 0;
    for rel in files_under(data_dir) {
        let path = data_dir.join(&rel);
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if name.starts_with(".tmp-") {
            temps += 1;
            continue;
        }
        // `lock`, and the scratch copy of `last_reserved_ip.N` in the index
        // (`.attachments/.last-N`, the previous value after an exchange or
        // the next one being written): neither is read as data.
        // Nor are the spares of `.attachments/.spare/`.
        if name == "lock"
            || (name.starts_with(".last-") && rel.contains(".attachments/"))
            || rel.contains(".attachments/.spare/")
        {
            continue;
        }
        let content = match std::fs::read(&path) {
            Ok(c) => c,
            // removed between listing and reading: a release in progress
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                problems.push(format!("{rel}: unreadable: {e}"));
                continue;
            }
        };
        let text = String::from_utf8_lossy(&content);
        let ok = if name.parse::<std::net::IpAddr>().is_ok() {
            let mut parts = text.split("\r\n");
            let id = parts.next().unwrap_or_default();
            let ifname = parts.next();
            !id.trim().is_empty() && ifname.is_none_or(|i| !i.is_empty()) && parts.next().is_none()
        } else if name.starts_with("last_reserved_ip.") {
            text.trim().parse::<std::net::IpAddr>().is_ok()
        } else if name == ".synced" {
            // A whole mark (padded with newlines when it got shorter), or
            // one voided in place by a writer killed mid-change.
            (text.starts_with("v1 ") || text.starts_with("x1 ")) && text.ends_with('\n')
        } else {
            problems.push(format!("{rel}: unexpected file ({} bytes)", content.len()));
            continue;
        };
        if !ok {
            problems.push(format!("{rel}: empty or half-written: {text:?}"));
        }
    }
    (problems, temps)
}

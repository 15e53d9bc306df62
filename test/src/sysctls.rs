//! The sysctls of a namespace's links, thousands of real keys for tuning's
//! `sysctl` map: its integration test and the benchmark's `tuning-sysctls`
//! scenario write them back with the values they hold.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use pkg::ns::Netns;

use crate::TestNs;

/// Every sysctl of one link in `ns` (`net/ipv4/conf/<link>/…`,
/// `net/ipv6/conf/…`, `net/ipv4/neigh/…`, `net/ipv6/neigh/…`) that can be
/// read and written, as a key relative to `/proc/sys` with its value
/// (without the trailing newline). `all` and `default` are left out: a
/// write to them is not one link's. Ordered by link, so that the first
/// keys of the list have the same mix of kinds as the whole.
pub fn link_sysctls(ns: &TestNs) -> pkg::Result<Vec<(String, String)>> {
    let netns = Netns::open(&ns.path).map_err(|e| e.to_error())?;
    let mut out = netns.run(|| {
        let mut out = Vec::new();
        for dir in ["ipv4/conf", "ipv6/conf", "ipv4/neigh", "ipv6/neigh"] {
            walk(&Path::new("/proc/sys/net").join(dir), &mut out);
        }
        Ok(out)
    })?;
    out.retain(|(k, _)| link_of(k).is_some_and(|l| l != "all" && l != "default"));
    out.sort_by(|a, b| (link_of(&a.0), &a.0).cmp(&(link_of(&b.0), &b.0)));
    Ok(out)
}

/// `ma0` in `net/ipv4/conf/ma0/arp_notify`.
fn link_of(key: &str) -> Option<&str> {
    key.split('/').nth(3)
}

fn walk(dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for p in rd.flatten().map(|e| e.path()) {
        if p.is_dir() {
            walk(&p, out);
            continue;
        }
        let rw = std::fs::metadata(&p).is_ok_and(|m| m.permissions().mode() & 0o600 == 0o600);
        if let (true, Ok(v), Ok(key)) = (
            rw,
            std::fs::read_to_string(&p),
            p.strip_prefix("/proc/sys/"),
        ) {
            out.push((
                key.display().to_string(),
                v.trim_end_matches('\n').to_string(),
            ));
        }
    }
}

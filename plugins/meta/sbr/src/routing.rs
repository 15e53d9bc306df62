//! What ADD, CHECK and DEL share: the addresses of `CNI_IFNAME` in the
//! previous result, the lock that serialises sbr in one namespace, the
//! tables in use, and the routes of a link.

use std::net::IpAddr;
use std::os::fd::AsRawFd;

use nix::errno::Errno;

use pkg::netlink::{Netlink, RouteSpec};
use pkg::ns::Netns;
use pkg::skel::CmdArgs;
use pkg::types::{CniResult, IpConfig};
use pkg::{Context, Error, Result};

use crate::rule::Rule;

/// The first table sbr gives an address, as Go.
pub const FIRST_TABLE: u32 = 100;
/// The main routing table.
pub const MAIN_TABLE: u32 = 254;
/// The kernel's own tables (default, main, local), never picked.
const RESERVED_TABLES: [u32; 3] = [253, 254, 255];
pub const SCOPE_LINK: u8 = 253;

/// `prevResult`, which ADD and CHECK require.
pub fn prev_result(args: &CmdArgs) -> Result<CniResult> {
    args.conf.parse_prev_result()?.ok_or_else(|| {
        // Go's words.
        Error::invalid_config(
            "this plugin must be called as chained plugin",
            "sbr needs the result of the plugin that made the interface (prevResult)",
        )
    })
}

/// The result's addresses of `CNI_IFNAME`: those whose interface is that
/// one, or not given, or not in the list (Go's reading).
pub fn addresses_of<'r>(args: &CmdArgs, result: &'r CniResult) -> Result<Vec<&'r IpConfig>> {
    let ips: Vec<&IpConfig> = result
        .ips
        .iter()
        .filter(|ip| {
            result
                .interface_of(ip)
                .is_none_or(|i| i.name == args.ifname)
        })
        .collect();
    if ips.is_empty() {
        // Go's words, lower case.
        return Err(Error::invalid_config(
            format!("no IP addresses supplied on interface: {}", args.ifname),
            "prevResult gives this interface no address to route by",
        ));
    }
    Ok(ips)
}

/// Holds an exclusive lock on the netns file for as long as the process
/// runs (skel keeps the file open): two sbr plugins in one namespace do
/// not pick the same table. The lock is on the namespace's inode, as Go's
/// (which opens the path), so ours and Go's exclude each other too; the
/// path itself is never opened or created.
pub fn lock(ns: &Netns) -> Result<()> {
    loop {
        // SAFETY: flock takes a descriptor the Netns keeps open and
        // touches no memory.
        let rc = unsafe { libc::flock(ns.as_raw_fd(), libc::LOCK_EX) };
        if rc == 0 {
            return Ok(());
        }
        match Errno::last() {
            Errno::EINTR => continue,
            e => {
                return Err(Error::kernel(
                    format!("lock netns {}", ns.path().display()),
                    e,
                ));
            }
        }
    }
}

/// Every route of both families in every table.
pub fn all_routes(nl: &mut Netlink) -> Result<Vec<RouteSpec>> {
    let mut all = nl
        .route_list(true, None)
        .context("failed to list all routes")?;
    all.extend(
        nl.route_list(false, None)
            .context("failed to list all routes")?,
    );
    Ok(all)
}

/// The tables a rule or a route uses, in any family.
pub fn tables_in_use(rules: &[Rule], routes: &[RouteSpec]) -> Vec<u32> {
    let mut used: Vec<u32> = rules
        .iter()
        .map(|r| r.table)
        .chain(routes.iter().filter_map(|r| r.table))
        .collect();
    used.sort_unstable();
    used.dedup();
    used
}

/// The first table from `from` that nothing uses and that is not one of
/// the kernel's.
pub fn free_table(used: &[u32], from: u32) -> Result<u32> {
    (from..=u32::MAX)
        .find(|t| !used.contains(t) && !RESERVED_TABLES.contains(t))
        .ok_or_else(|| Error::internal("failed to find a free routing table"))
}

/// Whether `route` of the main table goes into `ip`'s table: one of its
/// family whose source or gateway is in `ip`'s subnet, or that has
/// neither (a route of the link itself).
pub fn belongs_to(route: &RouteSpec, ip: &IpConfig) -> bool {
    let net = ip.address;
    let same_family = route.dst.addr().is_ipv4() == net.addr().is_ipv4();
    let within = |a: Option<IpAddr>| a.is_some_and(|a| net.contains(&a));
    same_family
        && (within(route.src) || within(route.gw) || (route.src.is_none() && route.gw.is_none()))
}

/// Whether the kernel refused because the object is there already.
pub fn exists(e: &Error) -> bool {
    e.is_errno(Errno::EEXIST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_tables() {
        let cases: [(&[u32], u32, u32); 6] = [
            (&[], 100, 100),
            (&[100], 100, 101),
            (&[100, 101, 103], 100, 102),
            (&[254, 255], 100, 100),
            (&[100], 101, 101),
            (&(100..=252).collect::<Vec<_>>(), 100, 256),
        ];
        for (used, from, want) in cases {
            assert_eq!(free_table(used, from).unwrap(), want, "{used:?} {from}");
        }
    }

    #[test]
    fn routes_of_an_address() {
        let ip = IpConfig {
            interface: Some(0),
            address: "10.0.0.2/24".parse().unwrap(),
            gateway: None,
        };
        let route = |dst: &str, gw: Option<&str>, src: Option<&str>| RouteSpec {
            gw: gw.map(|g| g.parse().unwrap()),
            src: src.map(|s| s.parse().unwrap()),
            ..RouteSpec::new(dst.parse().unwrap())
        };
        let cases = [
            (route("0.0.0.0/0", Some("10.0.0.1"), None), true),
            (route("10.0.0.0/24", None, Some("10.0.0.2")), true),
            (route("192.168.0.0/16", None, None), true),
            (route("0.0.0.0/0", Some("10.1.0.1"), None), false),
            (route("10.0.0.0/24", None, Some("10.9.0.2")), false),
            (route("fe80::/64", None, None), false),
        ];
        for (r, want) in cases {
            assert_eq!(belongs_to(&r, &ip), want, "{}", r.describe());
        }
    }
}

//! Moving the container interface into a VRF (or out again) without losing
//! its addressing. A master change takes an up interface down and up
//! again: the kernel flushes its routes, re-makes the routes of its
//! addresses in the new master's table, and drops its IPv6 addresses
//! unless `keep_addr_on_down` is set. So the IPv6 addresses and the routes
//! are saved before, the dropped addresses added again after (waiting
//! until each one is usable in the new table), and the saved routes put
//! into the new table. A route the kernel makes again that the
//! main plugin had removed (ptp removes the connected subnet route, so
//! that the whole subnet goes through the host) is removed again: Go
//! leaves it, which changes how the container reaches its neighbours.

use std::time::{Duration, Instant};

use ipnet::IpNet;

use pkg::netlink::{Addr, AddrFlags, Link, LinkId, Netlink, RouteSpec};
use pkg::{Context, Error, Result};

/// The main routing table, where the routes of an interface outside any
/// VRF are.
pub const MAIN_TABLE: u32 = 254;
/// Where the kernel puts the local routes of an interface outside any VRF.
pub const LOCAL_TABLE: u32 = 255;

const SCOPE_LINK: u8 = 253;

/// The flags of an address that can be given when adding it.
const SETTABLE_FLAGS: AddrFlags = AddrFlags::Nodad
    .union(AddrFlags::Optimistic)
    .union(AddrFlags::Homeaddress)
    .union(AddrFlags::Managetempaddr)
    .union(AddrFlags::Noprefixroute)
    .union(AddrFlags::Mcautojoin);

/// The wait for the IPv6 addresses: as long as bridge's and ptp's for DAD.
const USABLE_LIMIT: Duration = Duration::from_secs(5);
const FIRST_PAUSE: Duration = Duration::from_millis(10);
const MAX_PAUSE: Duration = Duration::from_millis(200);

/// What a master change may take from an interface.
#[derive(Debug, Clone)]
pub struct Addressing {
    /// Global-scope IPv6 addresses.
    pub v6: Vec<Addr>,
    /// Its main-table routes of universe and link scope that the kernel
    /// did not make for an address (it makes those again itself), link
    /// scope first: the gateways of the others are reached through them.
    pub routes: Vec<RouteSpec>,
    /// The destinations of the routes the kernel had made for it (in the
    /// main and local tables).
    pub kernel_made: Vec<IpNet>,
}

/// The addressing of `link`, outside any VRF, before a master change.
pub fn save(nl: &mut Netlink, link: &Link) -> Result<Addressing> {
    let name = &link.name;
    let v6 = nl
        .addr_list(Some(link.index), Some(false))
        .with_context(|| format!("failed getting global ipv6 addresses of {name}"))?
        .into_iter()
        .filter(|a| a.scope == 0)
        .collect();
    let (mut routes, mut kernel_made) = (Vec::new(), Vec::new());
    for r in link_routes(nl, link)? {
        if r.is_kernel_made() {
            if matches!(r.table, Some(MAIN_TABLE) | Some(LOCAL_TABLE)) {
                kernel_made.push(r.dst);
            }
        } else if r.table == Some(MAIN_TABLE) && (r.scope == 0 || r.scope == SCOPE_LINK) {
            routes.push(r);
        }
    }
    routes.sort_by_key(|r| std::cmp::Reverse(r.scope));
    Ok(Addressing {
        v6,
        routes,
        kernel_made,
    })
}

fn link_routes(nl: &mut Netlink, link: &Link) -> Result<Vec<RouteSpec>> {
    let mut all = Vec::new();
    for v4 in [true, false] {
        all.extend(
            nl.route_list(v4, Some(link.index))
                .with_context(|| format!("failed getting the routes of {}", link.name))?,
        );
    }
    Ok(all)
}

/// Where an interface's addressing goes after a master change.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The VRF's name, or `None` for no master.
    pub vrf: Option<&'a str>,
    /// The master's index (`None`: no master).
    pub master: Option<u32>,
    /// The table its routes go to.
    pub table: u32,
    /// The table the kernel puts its local routes in.
    pub local_table: u32,
}

impl Target<'_> {
    /// Out of any VRF: the main and local tables.
    pub fn no_master() -> Target<'static> {
        Target {
            vrf: None,
            master: None,
            table: MAIN_TABLE,
            local_table: LOCAL_TABLE,
        }
    }

    fn describe(&self) -> String {
        match self.vrf {
            Some(v) => format!("VRF {v} (table {})", self.table),
            None => "the main table".into(),
        }
    }
}

/// Set `link`'s master to `to.master`; then put back the IPv6 addresses
/// the kernel dropped and move `saved`'s routes into `to.table`.
pub fn set_master(nl: &mut Netlink, link: &Link, saved: &Addressing, to: Target<'_>) -> Result<()> {
    let name = &link.name;
    nl.link_set_master(LinkId::Index(link.index), to.master)
        .with_context(|| match to.vrf {
            Some(v) => format!("could not set vrf {v} as master of {name}"),
            None => format!("could not release {name} from its vrf"),
        })?;
    restore_addresses(nl, link, saved, to)?;
    for r in link_routes(nl, link)? {
        // Subnet routes only: a host route is an address's local or
        // broadcast route, which the address needs.
        let remade = r.is_kernel_made()
            && r.table == Some(to.table)
            && r.dst.prefix_len() < r.dst.max_prefix_len()
            && !saved.kernel_made.contains(&r.dst);
        if !remade {
            continue;
        }
        match nl.route_del(&r) {
            Err(e) if !e.is_not_found() => {
                return Err(e.context(format!(
                    "could not remove route {} of {name}, which it did not have before",
                    r.describe()
                )));
            }
            _ => {}
        }
    }
    for r in &saved.routes {
        let mut moved = r.clone();
        moved.table = Some(to.table);
        nl.route_replace(&moved).with_context(|| {
            format!(
                "could not move route {} of {name} to {}",
                r.describe(),
                to.describe()
            )
        })?;
        // An interface that was down kept its routes where they were.
        if r.table != moved.table {
            match nl.route_del(r) {
                Err(e) if !e.is_not_found() => {
                    return Err(e.context(format!(
                        "could not remove route {} of {name} from the main table",
                        r.describe()
                    )));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn restore_addresses(
    nl: &mut Netlink,
    link: &Link,
    saved: &Addressing,
    to: Target<'_>,
) -> Result<()> {
    if saved.v6.is_empty() {
        return Ok(());
    }
    let name = &link.name;
    let now = nl
        .addr_list(Some(link.index), Some(false))
        .with_context(|| format!("failed getting global ipv6 addresses of {name}"))?;
    for a in &saved.v6 {
        if now.iter().any(|n| n.address == a.address) {
            continue;
        }
        match nl.addr_add(link.index, a.address, a.flags & SETTABLE_FLAGS) {
            Err(e) if !e.is_errno(nix::errno::Errno::EEXIST) => {
                return Err(e.context(format!(
                    "could not restore address {} to {name} in {}",
                    a.address,
                    to.describe()
                )));
            }
            _ => {}
        }
    }
    wait_usable(nl, link, saved, to.local_table)
}

/// Until every saved IPv6 address is usable again: no longer tentative
/// (an address the kernel kept goes through DAD again when the link comes
/// back up, one added again goes through it unless `nodad`) and with its
/// local route in `table`. A route with the address as its source is
/// refused until then. Bounded; Go waits 2.55 s, for the local routes of
/// the addresses it added again only.
fn wait_usable(nl: &mut Netlink, link: &Link, saved: &Addressing, table: u32) -> Result<()> {
    let start = Instant::now();
    let mut pause = FIRST_PAUSE;
    loop {
        let addrs = nl.addr_list(Some(link.index), Some(false))?;
        let routes = nl.route_list(false, None)?;
        let mut waiting = None;
        for a in &saved.v6 {
            let ip = a.address.addr();
            let now = addrs.iter().find(|n| n.address.addr() == ip);
            if now.is_some_and(Addr::dad_failed) {
                return Err(Error::internal(format!(
                    "duplicate address detection failed for {ip} on {}",
                    link.name
                )));
            }
            let local = routes
                .iter()
                .any(|r| r.dst == IpNet::from(ip) && r.table == Some(table));
            if now.is_none_or(Addr::is_tentative) || !local {
                waiting = Some(ip);
            }
        }
        let Some(ip) = waiting else {
            return Ok(());
        };
        if start.elapsed() >= USABLE_LIMIT {
            return Err(Error::internal(format!(
                "{ip} on {} is not usable after {} s (still tentative, or its local route is not in table {table})",
                link.name,
                USABLE_LIMIT.as_secs()
            )));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

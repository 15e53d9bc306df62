//! VRF devices in the container's namespace: finding one by name (with its
//! table), creating one, its members, and the choice of a free table.

use netlink_packet_route::link::{InfoData, InfoVrf, LinkAttribute, LinkInfo};
use nix::errno::Errno;
use rtnetlink::LinkVrf;

use pkg::netlink::{Link, LinkId, Netlink};
use pkg::{Context, Error, Result};

use crate::config::RESERVED_TABLES;

/// A VRF device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vrf {
    pub index: u32,
    pub name: String,
    pub table: u32,
}

impl Vrf {
    /// The VRF `link` is, if it is one.
    pub fn of(link: &Link) -> Option<Vrf> {
        if link.kind.as_deref() != Some("vrf") {
            return None;
        }
        let table = link.message.attributes.iter().find_map(|a| match a {
            LinkAttribute::LinkInfo(infos) => infos.iter().find_map(|i| match i {
                LinkInfo::Data(InfoData::Vrf(data)) => data.iter().find_map(|d| match d {
                    InfoVrf::TableId(t) => Some(*t),
                    _ => None,
                }),
                _ => None,
            }),
            _ => None,
        })?;
        Some(Vrf {
            index: link.index,
            name: link.name.clone(),
            table,
        })
    }
}

/// The VRF called `name`; `None` when there is no link of that name, an
/// error when the link is something else.
pub fn find(nl: &mut Netlink, name: &str) -> Result<Option<Vrf>> {
    let Some(link) = nl.link_find(LinkId::Name(name))? else {
        return Ok(None);
    };
    match Vrf::of(&link) {
        Some(v) => Ok(Some(v)),
        None => Err(Error::internal(format!(
            "{name} exists but is not a vrf (it is a {})",
            link.kind.as_deref().unwrap_or("link of unknown type")
        ))),
    }
}

/// `ip link add <name> type vrf table <table>`. A kernel without VRF
/// support (CONFIG_NET_VRF) refuses the link kind with EOPNOTSUPP, which is
/// said in words; EEXIST (a parallel ADD made it) is left to the caller.
pub fn create(nl: &mut Netlink, name: &str, table: u32) -> Result<()> {
    let msg = LinkVrf::new(name, table).build();
    nl.link_add(msg, &format!("{name} (vrf table {table})"))
        .map_err(|e| {
            if e.is_errno(Errno::EOPNOTSUPP) {
                e.context(format!(
                    "could not add VRF {name}: the kernel has no vrf support (CONFIG_NET_VRF)"
                ))
            } else {
                e
            }
        })
}

/// The links enslaved to the VRF.
pub fn members(nl: &mut Netlink, vrf: &Vrf) -> Result<Vec<Link>> {
    Ok(nl
        .link_list()
        .with_context(|| format!("failed to list the interfaces of VRF {}", vrf.name))?
        .into_iter()
        .filter(|l| l.master == Some(vrf.index))
        .collect())
}

/// The tables of every VRF in the namespace.
pub fn tables_in_use(nl: &mut Netlink) -> Result<Vec<u32>> {
    Ok(nl
        .link_list()
        .context("failed to list the links of the container")?
        .iter()
        .filter_map(Vrf::of)
        .map(|v| v.table)
        .collect())
}

/// The first table from 1 up that no VRF uses (Go's choice), skipping the
/// kernel's own tables.
pub fn free_table(used: &[u32]) -> Result<u32> {
    (1..=u32::MAX)
        .find(|t| !used.contains(t) && !RESERVED_TABLES.contains(t))
        .ok_or_else(|| Error::internal("failed to find an available routing table for the VRF"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_tables() {
        let cases: [(&[u32], u32); 6] = [
            (&[], 1),
            (&[1], 2),
            (&[2, 3], 1),
            (&[1, 2, 4], 3),
            (&[1000, 1, 2], 3),
            (&(1..=252).collect::<Vec<_>>(), 256),
        ];
        for (used, want) in cases {
            assert_eq!(free_table(used).unwrap(), want, "{used:?}");
        }
    }
}

//! vrf ADD, inside the container's namespace: find the VRF or create it
//! (table as configured, or the first free one) and set it up, then
//! enslave `CNI_IFNAME` to it keeping its IPv6 addresses and routes
//! (`master.rs`). The result is prevResult. Everything that can be
//! refused (no such interface, one that already has a master, a VRF with
//! another table, a name taken by another kind of link) is refused before
//! the first change; after it, a failure releases the interface again,
//! with its addressing back in the main table, and deletes a VRF this ADD
//! created.

use nix::errno::Errno;

use pkg::netlink::{LinkId, Netlink};
use pkg::ns::Netns;
use pkg::rollback::Rollback;
use pkg::skel::CmdArgs;
use pkg::types::CniResult;
use pkg::{Context, Error, Result};

use crate::config::VrfConf;
use crate::master::{self, Target};
use crate::vrf::{self, Vrf};

pub fn add(args: &CmdArgs) -> Result<CniResult> {
    let conf = VrfConf::load(args)?;
    let result = prev_result(args)?;
    let ns = args.netns()?;
    let mut ctr = Netlink::in_netns(ns)?;
    let ifname = args.ifname.as_str();
    let link = ctr
        .link_get(LinkId::Name(ifname))
        .with_context(|| format!("could not get link by name {ifname} in {}", args.netns_path))?;
    if let Some(m) = link.master {
        let master = ctr
            .link_find(LinkId::Index(m))?
            .map_or_else(|| format!("index {m}"), |l| l.name);
        return Err(Error::internal(format!(
            "interface {ifname} has already a master set: {master}"
        )));
    }
    let existing = vrf::find(&mut ctr, &conf.name)?;
    if let Some(v) = &existing {
        refuse_other_table(v, &conf)?;
    }

    let mut undo = Rollback::new();
    let vrf = match existing {
        Some(v) => v,
        None => create(&mut ctr, ns, &conf, &mut undo)?,
    };
    ctr.link_set_up(LinkId::Index(vrf.index))
        .with_context(|| format!("could not set link up for VRF {}", vrf.name))?;

    let saved = master::save(&mut ctr, &link)?;
    let (before, kept) = (link.clone(), saved.clone());
    undo.push(
        format!("interface {ifname} in VRF {}", vrf.name),
        move || {
            let mut nl = Netlink::in_netns(ns)?;
            master::set_master(&mut nl, &before, &kept, Target::no_master())
        },
    );
    let into = Target {
        vrf: Some(&vrf.name),
        master: Some(vrf.index),
        table: vrf.table,
        local_table: vrf.table,
    };
    master::set_master(&mut ctr, &link, &saved, into)?;
    undo.commit();
    Ok(result)
}

/// `prevResult`, which ADD and CHECK require (Go's message, code 7).
pub fn prev_result(args: &CmdArgs) -> Result<CniResult> {
    args.conf
        .parse_prev_result()?
        .ok_or_else(|| Error::invalid_config("missing prevResult from earlier plugin", ""))
}

/// A configured table must be the existing VRF's.
pub fn refuse_other_table(v: &Vrf, conf: &VrfConf) -> Result<()> {
    match conf.table {
        Some(t) if t != v.table => Err(Error::internal(format!(
            "VRF {} already exists with routing table {}, not the configured {t}",
            v.name, v.table
        ))),
        _ => Ok(()),
    }
}

/// A new VRF, recorded for the rollback. A parallel ADD may create it
/// first: then it is that one, if its table fits.
fn create<'a>(
    ctr: &mut Netlink,
    ns: &'a Netns,
    conf: &VrfConf,
    undo: &mut Rollback<'a>,
) -> Result<Vrf> {
    let name = conf.name.clone();
    let table = match conf.table {
        Some(t) => t,
        None => vrf::free_table(&vrf::tables_in_use(ctr)?)?,
    };
    match vrf::create(ctr, &name, table) {
        Ok(()) => {
            let doomed = name.clone();
            undo.push(format!("VRF {name}"), move || {
                let mut nl = Netlink::in_netns(ns)?;
                match vrf::find(&mut nl, &doomed)? {
                    Some(v) if vrf::members(&mut nl, &v)?.is_empty() => {
                        nl.link_del(LinkId::Index(v.index))
                    }
                    _ => Ok(()),
                }
            });
        }
        Err(e) if e.is_errno(Errno::EEXIST) => {}
        Err(e) => return Err(e),
    }
    let v = vrf::find(ctr, &name)?.ok_or_else(|| {
        Error::internal(format!("VRF {name} disappeared right after it was created"))
    })?;
    refuse_other_table(&v, conf)?;
    Ok(v)
}

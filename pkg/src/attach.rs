//! One attachment of a container to a network, for the plugins that make
//! or change the container's interface (bridge, ptp, macvlan, ipvlan,
//! vlan, dummy, tuning).
//! [`Attachment`] is what an ADD passes around: the request, the open
//! container netns, a netlink socket in it and one in the host netns, and
//! the [`Rollback`] of the changes made so far. The functions below are
//! the steps their DEL, CHECK and GC share.

use std::cell::{Cell, OnceCell};
use std::os::fd::{AsRawFd, OwnedFd};

#[cfg(feature = "firewall")]
use ipnet::IpNet;
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use nix::errno::Errno;

use crate::error::{Error, Result};
#[cfg(feature = "firewall")]
use crate::firewall::{Backend, masq};
use crate::netlink::{Link, LinkId, Netlink, VethSpec, kind_of};
use crate::ns::{Later, Netns};
use crate::rollback::Rollback;
use crate::skel::CmdArgs;
use crate::sysctl::{self, Family};
#[cfg(feature = "firewall")]
use crate::types::GcAttachment;
use crate::types::{CniResult, Interface};
use crate::{iface, ipam};

/// One attachment being added.
pub struct Attachment<'a> {
    pub args: &'a CmdArgs,
    /// `CNI_NETNS`, opened by skel.
    pub ns: &'a Netns,
    /// A socket in the container netns.
    pub ctr: Netlink,
    /// The container's `/proc/sys/net/ipv6/conf`, opened on the thread
    /// that made `ctr` after handing `ctr` back (`ctr_ipv6_conf_later`)
    /// and taken from it when first needed
    /// ([`set_ipv6_conf`](Attachment::set_ipv6_conf)).
    ctr_ipv6_conf: OnceCell<Option<OwnedFd>>,
    ctr_ipv6_conf_later: Cell<Option<Later<Option<OwnedFd>>>>,
    /// A socket in the plugin's (the host's) netns.
    pub host: Netlink,
    /// What this ADD changed; undone when the attachment is dropped
    /// without [`commit`](Attachment::commit).
    pub undo: Rollback<'a>,
}

impl<'a> Attachment<'a> {
    /// The start of an ADD that has validated its config: the netns and
    /// the two sockets, nothing changed yet.
    pub fn open(args: &'a CmdArgs) -> Result<Attachment<'a>> {
        Attachment::open_in(args, false)
    }

    /// [`open`](Attachment::open) for a plugin that will write IPv6
    /// settings of its container interface
    /// ([`set_ipv6_conf`](Attachment::set_ipv6_conf)): the container's
    /// `/proc/sys/net/ipv6/conf` is opened on the same trip into the
    /// namespace as the socket, while the ADD goes on. Only then: with
    /// many namespaces on the node, resolving that path costs about a
    /// millisecond.
    pub fn open_with_ipv6_conf(args: &'a CmdArgs) -> Result<Attachment<'a>> {
        Attachment::open_in(args, true)
    }

    fn open_in(args: &'a CmdArgs, ipv6_conf: bool) -> Result<Attachment<'a>> {
        let ns = args.netns()?;
        let (ctr, later) = if ipv6_conf {
            let (ctr, later) = ns.run_then(Netlink::new, sysctl::open_ipv6_conf)?;
            (ctr, Some(later))
        } else {
            (ns.run(Netlink::new)?, None)
        };
        Ok(Attachment {
            args,
            ns,
            ctr,
            ctr_ipv6_conf: OnceCell::new(),
            ctr_ipv6_conf_later: Cell::new(later),
            host: Netlink::new()?,
            undo: Rollback::new(),
        })
    }

    /// Writes the IPv6 setting `leaf` of `CNI_IFNAME` in the container
    /// (`/proc/sys/net/ipv6/conf/<ifname>/<leaf>`, which has no netlink
    /// equivalent): from this thread through the directory
    /// [`open_with_ipv6_conf`](Attachment::open_with_ipv6_conf) opened,
    /// else from a thread in the namespace.
    pub fn set_ipv6_conf(&self, leaf: &str, value: &str) -> Result<()> {
        let ifname = &self.args.ifname;
        let conf = self.ctr_ipv6_conf.get_or_init(|| {
            self.ctr_ipv6_conf_later
                .take()
                .and_then(|later| later.wait().ok())
                .flatten()
        });
        match conf {
            Some(conf) => sysctl::write_conf_in(conf, ifname, leaf, value),
            None => self
                .ns
                .run(|| sysctl::write(&sysctl::conf_path(Family::V6, ifname, leaf)?, value)),
        }
    }

    /// Refuses a `CNI_IFNAME` that already exists in the container, with
    /// EEXIST, before anything is created.
    pub fn refuse_existing(&mut self) -> Result<()> {
        if self
            .ctr
            .link_find(LinkId::Name(&self.args.ifname))?
            .is_some()
        {
            return Err(Error::kernel(
                format!(
                    "interface {} already exists in container netns {}",
                    self.args.ifname, self.args.netns_path
                ),
                Errno::EEXIST,
            ));
        }
        Ok(())
    }

    /// A veth pair, up on the host side: `CNI_IFNAME` in the container,
    /// the host end under a fresh random name, recorded for rollback. The
    /// host end accepts no router advertisement from the container
    /// (CVE-2020-10749). `mtu` 0 is the kernel's default; `master` is the
    /// bridge to enslave the host end to.
    pub fn add_veth(
        &mut self,
        mtu: u32,
        peer_mac: Option<[u8; 6]>,
        master: Option<u32>,
    ) -> Result<Link> {
        let spec = VethSpec {
            host_name: "",
            peer_name: &self.args.ifname,
            peer_ns: self.ns,
            mtu,
            peer_mac,
            master,
            host_up: true,
        };
        let veth = self.host.veth_add_random(&spec)?;
        let name = veth.name.clone();
        self.undo.push(format!("veth {name}"), move || {
            Netlink::new()?.link_del(LinkId::Name(&name))
        });
        if let Ok(p) = sysctl::conf_path(Family::V6, &veth.name, "accept_ra") {
            let _ = sysctl::ensure(&p, "0");
        }
        Ok(veth)
    }

    /// Creates `CNI_IFNAME` in the container from `msg`, a link message
    /// built (with rtnetlink's builders) under that name, in one request:
    /// over the container's socket when `in_container` (a dummy, or a link
    /// whose master lives there), else over the host's with the container
    /// netns as the target (IFLA_NET_NS_FD). The kernel registers the link
    /// in the container, so a plugin killed at any point leaves nothing or
    /// a link DEL finds by `CNI_IFNAME` (Go creates every link under a
    /// random temporary name and renames it, and a kill in between strands
    /// a link DEL never finds). But older kernels (Debian bookworm's 6.1
    /// among them) also look the new name up in the sending socket's
    /// namespace and refuse with EEXIST when the host has a link of that
    /// name: then the link is created under [`temp_name`] and renamed in
    /// the container, and DEL removes a link a kill left under that name.
    /// `what` describes the link for errors. Its removal is recorded for
    /// rollback; it is returned as the container sees it.
    pub fn add_link(
        &mut self,
        mut msg: LinkMessage,
        in_container: bool,
        what: &str,
    ) -> Result<Link> {
        let kind = kind_of(&msg).unwrap_or_else(|| "link".into());
        let (ns, ifname) = (self.ns, &self.args.ifname);
        if in_container {
            self.ctr.link_add(msg, what)?;
        } else {
            msg.attributes
                .push(LinkAttribute::NetNsFd(self.ns.as_raw_fd()));
            match self.host.link_add(msg.clone(), what) {
                Err(e)
                    if e.is_errno(Errno::EEXIST)
                        && self.host.link_find(LinkId::Name(ifname))?.is_some() =>
                {
                    return self.add_link_renamed(msg, &kind, what);
                }
                other => other?,
            }
        }
        self.undo.push(format!("the {kind} {ifname}"), move || {
            Netlink::in_netns(ns)?.link_del(LinkId::Name(ifname))
        });
        self.ctr.link_get(LinkId::Name(ifname))
    }

    /// [`add_link`](Attachment::add_link) from the host when the host has a
    /// link named `CNI_IFNAME`: created as [`temp_name`], then renamed in
    /// the container (links are created down, so the rename is allowed).
    fn add_link_renamed(&mut self, mut msg: LinkMessage, kind: &str, what: &str) -> Result<Link> {
        let (ns, ifname) = (self.ns, &self.args.ifname);
        let tmp = temp_name(&self.args.container_id, ifname);
        msg.attributes
            .retain(|a| !matches!(a, LinkAttribute::IfName(_)));
        msg.attributes.push(LinkAttribute::IfName(tmp.clone()));
        self.host
            .link_add(msg, &format!("{what}, as {tmp} (the host has a {ifname})"))?;
        let gone = tmp.clone();
        self.undo.push(format!("the {kind} {tmp}"), move || {
            Netlink::in_netns(ns)?.link_del(LinkId::Name(&gone))
        });
        let index = self.ctr.link_get(LinkId::Name(&tmp))?.index;
        self.ctr.link_set_name(index, ifname)?;
        self.undo.push(format!("the {kind} {ifname}"), move || {
            Netlink::in_netns(ns)?.link_del(LinkId::Index(index))
        });
        self.ctr.link_get(LinkId::Index(index))
    }

    /// `result` (from IPAM, or a previous plugin) for an attachment whose
    /// only interface is `link`, the container's `CNI_IFNAME`: it becomes
    /// the result's one interface, every address is put on it, the link
    /// comes up and the routes are added (`iface::configure`, waiting up
    /// to `settle` for IPv6 DAD).
    pub fn configure_sole(
        &mut self,
        link: &Link,
        mut result: CniResult,
        settle: Option<std::time::Duration>,
    ) -> Result<CniResult> {
        result.interfaces = vec![self.container_iface(link)];
        for ip in &mut result.ips {
            ip.interface = Some(0);
        }
        let ifname = &self.args.ifname;
        iface::configure_index(&mut self.ctr, self.ns, ifname, link.index, &result, settle)?;
        Ok(result)
    }

    /// Masquerades traffic from the result's addresses, recorded for
    /// rollback before the rules are made (a half-made set is removed too).
    #[cfg(feature = "firewall")]
    pub fn masquerade(&mut self, backend: Backend, result: &CniResult) -> Result<()> {
        let args = self.args;
        let nets: Vec<IpNet> = result.ips.iter().map(|ip| ip.address).collect();
        self.undo.push("masquerade rules", move || {
            masq::teardown(&args.conf.name, &args.ifname, &args.container_id)
        });
        masq::setup(
            backend,
            &args.conf.name,
            &args.ifname,
            &args.container_id,
            &nets,
        )
    }

    /// The IPAM ADD's result, which must hold an address.
    pub fn finish_ipam(&mut self) -> Result<CniResult> {
        let result = self.undo.finish_ipam()?;
        if result.ips.is_empty() {
            return Err(Error::internal("IPAM plugin returned missing IP config"));
        }
        Ok(result)
    }

    /// The result's entry for `link`, the container's interface.
    pub fn container_iface(&self, link: &Link) -> Interface {
        Interface {
            sandbox: self.args.netns_path.clone(),
            ..host_iface(link)
        }
    }

    /// The ADD succeeded: keep every change.
    pub fn commit(mut self) {
        self.undo.commit();
    }
}

/// The name [`Attachment::add_link`] gives a link it cannot create under
/// `ifname` (the container's `CNI_IFNAME`): `cni` and 12 hex digits of a
/// hash of the container ID and `ifname`, so that DEL, which has both,
/// finds a link a killed ADD left under it. FNV-1a, which no version or
/// build of the plugin can compute differently.
pub fn temp_name(container_id: &str, ifname: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in container_id.bytes().chain([0]).chain(ifname.bytes()) {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("cni{:012x}", hash & 0xffff_ffff_ffff)
}

/// The result's entry for `link`, an interface of the host.
pub fn host_iface(link: &Link) -> Interface {
    Interface {
        name: link.name.clone(),
        mac: link.mac_string(),
        ..Default::default()
    }
}

/// DEL of an attachment whose host-side state is keyed by container ID and
/// interface name, so that it works with the netns gone or `CNI_NETNS`
/// empty: best effort, every step attempted, errors reported together.
/// Deleting a link waits in the kernel for RCU grace periods, and so does
/// closing the netfilter socket after deleting rules: IPAM DEL (`ipam`)
/// and the masquerade teardown (`masq`) are started first, then the
/// container's link goes, then `rules` (the plugin's other host rules)
/// run; the waits overlap instead of adding up. An IPAM plugin that may
/// need the link for its DEL finishes before the link goes
/// ([`ipam::del_before_link`]).
#[cfg(feature = "firewall")]
pub fn del(
    args: &CmdArgs,
    ipam: bool,
    masq: bool,
    rules: impl FnOnce() -> Result<()>,
) -> Result<()> {
    let ipam = ipam.then(|| ipam::del_before_link(args));
    let masq =
        masq.then(|| masq::teardown_deferred(&args.conf.name, &args.ifname, &args.container_id));
    let mut errors = Vec::new();
    if let Err(e) = iface::del_container_link(args) {
        errors.push(e);
    }
    if let Some(Err(e)) = ipam.map(ipam::DelBeforeLink::finish) {
        errors.push(e);
    }
    if let Err(e) = rules() {
        errors.push(e);
    }
    // Dropping the teardown's socket waits for the rules to be freed.
    if let Some(Err(e)) = masq {
        errors.push(e);
    }
    Error::from_list(errors)
}

/// DEL of an attachment whose only state outside the container is the
/// IPAM reservation (macvlan, ipvlan, vlan, dummy): IPAM DEL when the
/// config names an IPAM plugin, and `CNI_IFNAME` (and a link a killed ADD
/// left under [`temp_name`]) removed from the netns if both are still
/// there. Nothing is looked up (no master, no default
/// route), so nothing that is gone can keep the address from being
/// released. Both steps are attempted; host-local and static IPAM run
/// while the kernel deletes the link (which waits for RCU grace periods),
/// any other IPAM finishes before the link goes
/// ([`ipam::del_before_link`]); the IPAM error comes first.
pub fn del_link_and_ipam(args: &CmdArgs) -> Result<()> {
    let ipam = args
        .conf
        .ipam_type()
        .is_some()
        .then(|| ipam::del_before_link(args));
    let mut errors = Vec::new();
    let tmp = temp_name(&args.container_id, &args.ifname);
    if let Err(e) = iface::del_container_links(args, &[&args.ifname, &tmp]) {
        errors.push(e);
    }
    if let Some(Err(e)) = ipam.map(ipam::DelBeforeLink::finish) {
        errors.insert(0, e);
    }
    Error::from_list(errors)
}

/// GC (spec 1.1.0) of the masquerade rules (`masq`), the plugin's other
/// rules (`rules`) and IPAM (`ipam`) of attachments the runtime no longer
/// lists; every step attempted, errors reported together.
#[cfg(feature = "firewall")]
pub fn gc(
    args: &CmdArgs,
    masq: bool,
    ipam: bool,
    rules: impl FnOnce(&[GcAttachment]) -> Result<()>,
) -> Result<()> {
    // No list at all: no attachment is valid (Documentation/spec-notes.md §1.8).
    let valid = args.conf.gc_valid_attachments().unwrap_or_default();
    let mut errors = Vec::new();
    if masq && let Err(e) = masq::gc(&args.conf.name, valid) {
        errors.push(e);
    }
    if let Err(e) = rules(valid) {
        errors.push(e);
    }
    if ipam && let Err(e) = ipam::gc(args) {
        errors.push(e);
    }
    Error::from_list(errors)
}

/// CHECK: the entry of `CNI_IFNAME` in `CNI_NETNS` among the result's
/// interfaces.
pub fn container_entry<'r>(args: &CmdArgs, result: &'r CniResult) -> Result<&'r Interface> {
    result
        .interfaces
        .iter()
        .find(|i| i.name == args.ifname && i.sandbox == args.netns_path)
        .ok_or_else(|| {
            Error::internal(format!(
                "container interface {} with sandbox {} missing from prevResult",
                args.ifname, args.netns_path
            ))
        })
}

/// CHECK: `CNI_IFNAME` in the container, a link of `kind`.
pub fn container_link(ctr: &mut Netlink, args: &CmdArgs, kind: &str) -> Result<Link> {
    let link = ctr.link_find(LinkId::Name(&args.ifname))?.ok_or_else(|| {
        Error::internal(format!(
            "container interface {} from prevResult not found in {}",
            args.ifname, args.netns_path
        ))
    })?;
    if link.kind.as_deref() != Some(kind) {
        let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        return Err(Error::internal(format!(
            "container interface {} is not {article} {kind}",
            args.ifname
        )));
    }
    Ok(link)
}

/// CHECK: the link has the MAC its result entry records, if any; `what`
/// names the entry in the error ("interface", "bridge", ..).
pub fn check_mac(what: &str, entry: &Interface, link: &Link) -> Result<()> {
    if !entry.mac.is_empty() && entry.mac != link.mac_string() {
        return Err(Error::internal(format!(
            "{what} {} MAC {} doesn't match: {} found",
            entry.name,
            entry.mac,
            link.mac_string()
        )));
    }
    Ok(())
}

/// CHECK: every address the result gives `ifname` is on `link`.
pub fn check_addresses(
    nl: &mut Netlink,
    ifname: &str,
    link: &Link,
    result: &CniResult,
) -> Result<()> {
    let have = nl.addr_list(Some(link.index), None)?;
    for ip in &result.ips {
        let ours = result.interface_of(ip).is_some_and(|i| i.name == ifname);
        if ours && !have.iter().any(|a| a.address == ip.address) {
            return Err(Error::internal(format!(
                "address {} not found on {ifname}",
                ip.address
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_stable_valid_and_distinct() {
        let a = temp_name("c1", "eth0");
        assert_eq!(a, temp_name("c1", "eth0"));
        assert_eq!(a.len(), 15);
        assert!(a.starts_with("cni"));
        crate::validate::interface_name(&a).unwrap();
        for (id, ifname) in [("c2", "eth0"), ("c1", "eth1"), ("c1e", "th0"), ("", "")] {
            assert_ne!(a, temp_name(id, ifname), "{id} {ifname}");
        }
        // fixed for good: a DEL of another build must find what ADD left
        assert_eq!(a, "cni02b3bfe94942");
    }
}

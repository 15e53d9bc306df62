//! bandwidth ADD: a TBF on the host end of the veth for traffic to the
//! container; for traffic from it, an IFB device, an ingress qdisc on the
//! host end whose filter redirects everything to the IFB, and a TBF on the
//! IFB. The configuration and the host end are checked before the first
//! change; every change is then recorded in `Undo`, so that a failure at
//! any step leaves the host as it was.

use nix::errno::Errno;

use pkg::netlink::{Link, LinkId, Netlink};
use pkg::skel::CmdArgs;
use pkg::sysctl::{self, Family};
use pkg::types::{CniResult, Interface};
use pkg::{Error, Result};

use crate::config::Limits;
use crate::host;
use crate::tc::{self, INGRESS_HANDLE, INGRESS_PARENT, ROOT, TBF_HANDLE, Tc};

/// What this ADD created, removed in reverse on failure.
#[derive(Default)]
struct Undo {
    /// Host veth index carrying our root TBF.
    root_tbf: Option<u32>,
    /// Our IFB device (its qdisc goes with it).
    ifb: Option<String>,
    /// Host veth index carrying our ingress qdisc (its filter goes with it).
    ingress: Option<u32>,
}

impl Undo {
    fn run(&self, host: &mut Netlink, tc: &mut Tc) {
        let warn = |what: String, e: Error| {
            if !e.is_not_found() {
                eprintln!("warning: rolling back {what} after a failed ADD: {e}");
            }
        };
        if let Some(index) = self.ingress
            && let Err(e) = tc.qdisc_del(index, INGRESS_PARENT, INGRESS_HANDLE)
        {
            warn(format!("the ingress qdisc of link index {index}"), e);
        }
        if let Some(name) = &self.ifb
            && let Err(e) = host.link_del(LinkId::Name(name))
        {
            warn(format!("ifb device {name}"), e);
        }
        if let Some(index) = self.root_tbf
            && let Err(e) = tc.qdisc_del(index, ROOT, TBF_HANDLE)
        {
            warn(format!("the tbf qdisc of link index {index}"), e);
        }
    }
}

pub fn add(args: &CmdArgs) -> Result<CniResult> {
    let limits = Limits::load(args)?;
    let mut result = args.conf.parse_prev_result()?.ok_or_else(|| {
        Error::invalid_config(
            "must be called as chained plugin",
            "bandwidth needs prevResult: the result of the plugin that created the veth",
        )
    })?;
    if limits.is_empty() {
        return Ok(result);
    }
    let ns = args.netns()?;
    let mut host = Netlink::new()?;
    let veth = host::host_interface(&mut host, ns, &args.ifname, &result)?;
    let mut tc = Tc::new()?;
    let mut undo = Undo::default();
    let mut sockets = Sockets {
        host: &mut host,
        tc: &mut tc,
    };
    match shape(args, &limits, &mut sockets, &veth, &mut result, &mut undo) {
        Ok(()) => Ok(result),
        Err(e) => {
            undo.run(&mut host, &mut tc);
            Err(e)
        }
    }
}

/// The host's link and traffic-control sockets.
struct Sockets<'a> {
    host: &'a mut Netlink,
    tc: &'a mut Tc,
}

fn shape(
    args: &CmdArgs,
    limits: &Limits,
    sockets: &mut Sockets<'_>,
    veth: &Link,
    result: &mut CniResult,
    undo: &mut Undo,
) -> Result<()> {
    let Sockets { host, tc } = sockets;
    let tick = tc::tick_in_usec();
    let taken = |e: Error, what: &str| {
        if e.is_errno(Errno::EEXIST) {
            e.context(format!(
                "{} already has {what} (is the attachment shaped twice?)",
                veth.name
            ))
        } else {
            e.context(format!("failed to shape traffic on {}", veth.name))
        }
    };
    if let Some(ingress) = limits.ingress {
        tc.qdisc_add_tbf(veth.index, &ingress.tbf(tick))
            .map_err(|e| taken(e, "a root qdisc"))?;
        undo.root_tbf = Some(veth.index);
    }
    if let Some(egress) = limits.egress {
        let name = host::ifb_name(&args.conf.name, &args.container_id);
        host.link_add(tc::ifb_message(&name, veth.mtu), &format!("{name} (ifb)")).map_err(|e| {
            if e.is_errno(Errno::EEXIST) {
                e.context(format!(
                    "ifb device {name} of container {} on network {} already exists (an earlier ADD was not deleted)",
                    args.container_id, args.conf.name
                ))
            } else {
                e.context(format!("failed to create ifb device {name}"))
            }
        })?;
        undo.ifb = Some(name.clone());
        if let Some(alias) = host::ifb_alias(&args.conf.name, &args.container_id)
            && let Err(e) = host.link_set_alias(LinkId::Name(&name), &alias)
        {
            // Only GC's attribution needs it.
            eprintln!("warning: {e}");
        }
        let ifb = host.link_get(LinkId::Name(&name))?;
        // CVE-2020-10749 hardening: like every host-side interface the
        // suite creates, the IFB accepts no router advertisement. It carries
        // the container's traffic, so it is set before the device comes up.
        if let Ok(p) = sysctl::conf_path(Family::V6, &name, "accept_ra") {
            let _ = sysctl::ensure(&p, "0");
        }
        host.link_set_up(LinkId::Index(ifb.index))
            .map_err(|e| e.context(format!("failed to set ifb device {name} up")))?;
        tc.qdisc_add_ingress(veth.index)
            .map_err(|e| taken(e, "an ingress qdisc"))?;
        undo.ingress = Some(veth.index);
        tc.filter_add_redirect(veth.index, ifb.index)
            .map_err(|e| e.context(format!("failed to redirect {} to {name}", veth.name)))?;
        tc.qdisc_add_tbf(ifb.index, &egress.tbf(tick))
            .map_err(|e| e.context(format!("failed to shape traffic on {name}")))?;
        result.interfaces.push(Interface {
            name,
            mac: ifb.mac_string(),
            ..Default::default()
        });
    }
    Ok(())
}

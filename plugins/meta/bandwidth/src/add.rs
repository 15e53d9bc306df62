//! bandwidth ADD: a TBF on the host end of the veth for traffic to the
//! container; for traffic from it, an IFB device, an ingress qdisc on the
//! host end whose filter redirects everything to the IFB, and a TBF on the
//! IFB. The configuration and the host end are checked before the first
//! change; every change is then recorded in a `Rollback`, so that a
//! failure at any step leaves the host as it was.

use nix::errno::Errno;

use pkg::netlink::{Link, LinkId, Netlink};
use pkg::rollback::Rollback;
use pkg::skel::CmdArgs;
use pkg::sysctl::{self, Family};
use pkg::types::{CniResult, Interface};
use pkg::{Error, Result};

use crate::config::Limits;
use crate::host;
use crate::tc::{self, INGRESS_HANDLE, INGRESS_PARENT, ROOT, TBF_HANDLE, Tc};

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
    let mut undo = Rollback::new();
    shape(
        args,
        &limits,
        &mut host,
        &mut tc,
        &veth,
        &mut result,
        &mut undo,
    )?;
    undo.commit();
    Ok(result)
}

fn shape(
    args: &CmdArgs,
    limits: &Limits,
    host: &mut Netlink,
    tc: &mut Tc,
    veth: &Link,
    result: &mut CniResult,
    undo: &mut Rollback<'_>,
) -> Result<()> {
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
        let index = veth.index;
        undo.push(format!("the tbf qdisc of link index {index}"), move || {
            Tc::new()?.qdisc_del(index, ROOT, TBF_HANDLE)
        });
    }
    if let Some(egress) = limits.egress {
        let name = host::ifb_name(&args.conf.name, &args.container_id);
        let ifb_link = tc::ifb_message(&name, veth.mtu);
        host.link_add(ifb_link, &format!("{name} (ifb)")).map_err(|e| {
            if e.is_errno(Errno::EEXIST) {
                e.context(format!(
                    "ifb device {name} of container {} on network {} already exists (an earlier ADD was not deleted)",
                    args.container_id, args.conf.name
                ))
            } else {
                e.context(format!("failed to create ifb device {name}"))
            }
        })?;
        let ifb = name.clone();
        undo.push(format!("ifb device {name}"), move || {
            Netlink::new()?.link_del(LinkId::Name(&ifb))
        });
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
        let index = veth.index;
        undo.push(
            format!("the ingress qdisc of link index {index}"),
            move || Tc::new()?.qdisc_del(index, INGRESS_PARENT, INGRESS_HANDLE),
        );
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

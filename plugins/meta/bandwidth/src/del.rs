//! bandwidth DEL: remove the IFB device, found by its name alone (network
//! and container ID), so neither the netns nor prevResult is needed; its
//! TBF goes with it. The qdiscs on the host end of the veth go with the
//! veth, which the main plugin deletes next. When prevResult is there, they
//! are removed here as well (beyond Go), so that a veth that outlives the
//! attachment neither sends the container's traffic to a deleted IFB nor
//! stays shaped: only a host veth's ingress qdisc that redirects to this
//! IFB, and a root TBF with exactly the configured parameters.

use pkg::netlink::{Link, LinkId, Netlink};
use pkg::skel::CmdArgs;
use pkg::{Error, Result};

use crate::config::Limits;
use crate::host;
use crate::tc::{self, INGRESS_HANDLE, INGRESS_PARENT, ROOT, TBF_HANDLE, Tc};

pub fn del(args: &CmdArgs) -> Result<()> {
    let name = host::ifb_name(&args.conf.name, &args.container_id);
    let mut nl = Netlink::new()?;
    let ifb = match nl.link_find(LinkId::Name(&name))? {
        Some(l) if host::is_bandwidth_ifb(&l) => Some(l),
        Some(l) => {
            eprintln!(
                "warning: {name} is a {} link, not the ifb device of this attachment: leaving it alone",
                l.kind.as_deref().unwrap_or("unknown")
            );
            None
        }
        None => None,
    };
    let mut errors = Vec::new();
    match Tc::new() {
        Ok(mut tc) => unshape_host_veths(args, &mut nl, &mut tc, ifb.as_ref(), &mut errors),
        Err(e) => errors.push(e),
    }
    if let Some(ifb) = ifb
        && let Err(e) = nl.link_del(LinkId::Index(ifb.index))
        && !e.is_not_found()
    {
        errors.push(e.context(format!("failed to delete ifb device {name}")));
    }
    Error::from_list(errors)
}

/// Best effort on what prevResult names: a DEL with a prevResult or a
/// config that no longer parses still removes the IFB.
fn unshape_host_veths(
    args: &CmdArgs,
    nl: &mut Netlink,
    tc: &mut Tc,
    ifb: Option<&Link>,
    errors: &mut Vec<Error>,
) {
    let Ok(Some(prev)) = args.conf.parse_prev_result() else {
        return;
    };
    let ingress = Limits::load(args)
        .ok()
        .and_then(|l| l.ingress)
        .map(|s| s.tbf(tc::tick_in_usec()));
    for entry in prev.interfaces.iter().filter(|i| i.sandbox.is_empty()) {
        let Ok(Some(veth)) = nl.link_find(LinkId::Name(&entry.name)) else {
            continue;
        };
        if veth.kind.as_deref() != Some("veth") {
            continue;
        }
        let redirected = ifb.is_some_and(|i| {
            tc.ingress_redirects(veth.index)
                .is_ok_and(|t| t.contains(&i.index))
        });
        let shaped = ingress.is_some_and(|want| root_tbf(tc, veth.index) == Some(want));
        let remove = [
            (redirected, INGRESS_PARENT, INGRESS_HANDLE, "ingress qdisc"),
            (shaped, ROOT, TBF_HANDLE, "tbf qdisc"),
        ];
        for (_, parent, handle, what) in remove.into_iter().filter(|r| r.0) {
            if let Err(e) = tc.qdisc_del(veth.index, parent, handle)
                && !e.is_not_found()
            {
                errors.push(e.context(format!("failed to remove the {what} of {}", veth.name)));
            }
        }
    }
}

fn root_tbf(tc: &mut Tc, index: u32) -> Option<tc::Tbf> {
    tc.qdisc_list(Some(index))
        .ok()?
        .into_iter()
        .find(|q| q.parent == ROOT && q.handle == TBF_HANDLE)
        .and_then(|q| q.tbf)
}

//! bandwidth CHECK: the qdiscs ADD made still carry the configured
//! parameters (compared as Go compares them: rate, limit and buffer of the
//! root TBF), and, beyond Go, the host end still redirects to the IFB.

use pkg::netlink::{LinkId, Netlink};

use crate::tc::{self, ROOT, Tbf, Tc};
use pkg::skel::CmdArgs;
use pkg::{Error, Result};

use crate::config::Limits;
use crate::host;

pub fn check(args: &CmdArgs) -> Result<()> {
    let limits = Limits::load(args)?;
    let result = args.conf.parse_prev_result()?.ok_or_else(|| {
        Error::invalid_config(
            "must be called as a chained plugin",
            "bandwidth CHECK needs prevResult",
        )
    })?;
    let ns = args.netns()?;
    let mut host = Netlink::new()?;
    let veth = host::host_interface(&mut host, ns, &args.ifname, &result)?;
    let mut tc = Tc::new()?;
    let tick = tc::tick_in_usec();
    if let Some(ingress) = limits.ingress {
        check_tbf(&mut tc, veth.index, &veth.name, &ingress.tbf(tick))?;
    }
    if let Some(egress) = limits.egress {
        let name = host::ifb_name(&args.conf.name, &args.container_id);
        let ifb = host
            .link_find(LinkId::Name(&name))?
            .ok_or_else(|| Error::internal(format!("ifb device {name} not found")))?;
        check_tbf(&mut tc, ifb.index, &name, &egress.tbf(tick))?;
        if !tc.ingress_redirects(veth.index)?.contains(&ifb.index) {
            return Err(Error::internal(format!(
                "traffic from the container is not redirected: no ingress filter of {} redirects to {name}",
                veth.name
            )));
        }
    }
    Ok(())
}

fn check_tbf(tc: &mut Tc, index: u32, name: &str, want: &Tbf) -> Result<()> {
    let got = tc
        .qdisc_list(Some(index))?
        .into_iter()
        .find(|q| q.parent == ROOT)
        .and_then(|q| q.tbf)
        .ok_or_else(|| Error::internal(format!("failed to find the tbf qdisc of {name}")))?;
    let mismatch = |what: &str, got: u64, want: u64| {
        Err(Error::internal(format!(
            "{what} of the tbf qdisc of {name} doesn't match: {got}, configured {want}"
        )))
    };
    if got.rate != want.rate {
        return mismatch("rate (bytes/s)", got.rate, want.rate);
    }
    if got.limit != want.limit {
        return mismatch("limit (bytes)", got.limit.into(), want.limit.into());
    }
    if got.buffer != want.buffer {
        return mismatch("buffer (ticks)", got.buffer.into(), want.buffer.into());
    }
    Ok(())
}

//! firewall ADD: open forwarding for the container's addresses and apply
//! the ingress policy. A failure removes what this ADD added.

use pkg::firewall::Attachment;
use pkg::skel::CmdArgs;
use pkg::types::CniResult;
use pkg::{Error, Result};

use crate::config::{Backend, FirewallConf, result_ips, source};
use crate::{firewalld, iptables};

pub fn add(args: &CmdArgs) -> Result<CniResult> {
    let conf = FirewallConf::load(args)?;
    let prev = args
        .conf
        .parse_prev_result()?
        .ok_or_else(|| Error::invalid_config("missing prevResult from earlier plugin", ""))?;
    let ingress = conf.ingress(&prev)?;
    let ips = result_ips(&prev);
    if ips.is_empty() {
        return Ok(prev);
    }
    let att = Attachment {
        network: &args.conf.name,
        container_id: &args.container_id,
        ifname: &args.ifname,
    };
    match conf.backend()? {
        Backend::Iptables => {
            if let Err(e) = iptables::setup(&att, &ips, &conf.admin_chain, ingress) {
                if let Err(undo) = iptables::teardown(&att, &ips) {
                    eprintln!("warning: rolling back firewall rules after a failed ADD: {undo}");
                }
                return Err(e);
            }
        }
        Backend::Firewalld => {
            let mut added = Vec::new();
            let done = ips.iter().try_for_each(|ip| {
                firewalld::add_source(&conf.zone, &source(ip))?;
                added.push(source(ip));
                Ok(())
            });
            // The ingress policy is iptables even with firewalld, as in Go.
            let done = done.and_then(|()| match ingress {
                Some(i) => iptables::setup_isolation(&ips, i),
                None => Ok(()),
            });
            if let Err(e) = done {
                for s in added {
                    if let Err(undo) = firewalld::remove_source(&conf.zone, &s) {
                        eprintln!(
                            "warning: rolling back firewalld source after a failed ADD: {undo}"
                        );
                    }
                }
                return Err(e);
            }
        }
    }
    Ok(prev)
}

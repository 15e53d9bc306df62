//! firewall ADD: open forwarding for the container's addresses and apply
//! the ingress policy. A failure removes what this ADD added.

use pkg::Result;
use pkg::firewall::Attachment;
use pkg::rollback::Rollback;
use pkg::skel::CmdArgs;
use pkg::types::CniResult;

use crate::config::{Backend, FirewallConf, prev_result, result_ips, source};
use crate::{firewalld, iptables};

pub fn add(args: &CmdArgs) -> Result<CniResult> {
    let conf = FirewallConf::load(args)?;
    let prev = prev_result(args)?;
    let ingress = conf.ingress(&prev)?;
    let ips = result_ips(&prev);
    if ips.is_empty() {
        return Ok(prev);
    }
    let att = Attachment::of(args);
    let mut undo = Rollback::new();
    match conf.backend()? {
        Backend::Iptables => {
            undo.push("firewall rules", || iptables::teardown(&att, &ips));
            iptables::setup(&att, &ips, &conf.admin_chain, ingress)?;
        }
        Backend::Firewalld => {
            for ip in &ips {
                firewalld::add_source(&conf.zone, &source(ip))?;
                let zone = &conf.zone;
                undo.push("firewalld source", move || {
                    firewalld::remove_source(zone, &source(ip))
                });
            }
            // The ingress policy is iptables even with firewalld, as in Go.
            if let Some(i) = ingress {
                iptables::setup_isolation(&ips, i)?;
            }
        }
    }
    undo.commit();
    Ok(prev)
}

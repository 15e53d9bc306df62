//! firewall CHECK: the chains, jumps and per-IP rules (or firewalld zone
//! sources) of `prevResult`'s addresses, and the isolation rules, are there.
//! Unlike Go, CHECK never creates a missing chain.

use pkg::skel::CmdArgs;
use pkg::{Error, Result};

use crate::config::{Backend, FirewallConf, prev_result, result_ips, source};
use crate::{firewalld, iptables};

pub fn check(args: &CmdArgs) -> Result<()> {
    let conf = FirewallConf::load(args)?;
    let prev = prev_result(args)?;
    let ingress = conf.ingress(&prev)?;
    let ips = result_ips(&prev);
    match conf.backend()? {
        Backend::Iptables => iptables::check(&ips, &conf.admin_chain, ingress),
        Backend::Firewalld => {
            for ip in &ips {
                if !firewalld::query_source(&conf.zone, &source(ip))? {
                    return Err(Error::internal(format!(
                        "failed to find the address {} in {} zone",
                        source(ip),
                        conf.zone
                    )));
                }
            }
            match ingress {
                Some(i) => iptables::check_isolation(&ips, i),
                None => Ok(()),
            }
        }
    }
}

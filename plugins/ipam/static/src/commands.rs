//! ADD, DEL and CHECK of static. It keeps no state: DEL has nothing to undo.

use pkg::skel::CmdArgs;
use pkg::types::{CniResult, IpConfig};
use pkg::{Error, Result};

use crate::config;

pub fn add(args: &CmdArgs) -> Result<CniResult> {
    let cfg = config::load(args)?;
    Ok(CniResult {
        ips: cfg
            .addresses
            .iter()
            .map(|a| IpConfig {
                interface: None,
                address: a.address,
                gateway: a.gateway,
            })
            .collect(),
        routes: cfg.routes,
        dns: cfg.dns,
        ..Default::default()
    })
}

pub fn del(_args: &CmdArgs) -> Result<()> {
    Ok(())
}

/// As Go: every configured address that appears in `prevResult` must
/// carry the configured gateway.
pub fn check(args: &CmdArgs) -> Result<()> {
    let prev = args.prev_result()?;
    let cfg = config::load(args)?;
    for want in &cfg.addresses {
        if let Some(got) = prev
            .ips
            .iter()
            .find(|ip| ip.address.addr() == want.address.addr())
            && want.gateway.is_some()
            && want.gateway != got.gateway
        {
            return Err(Error::internal(format!(
                "static: failed to match address {} on interface {}: gateway is {}, want {}",
                got.address.addr(),
                args.ifname,
                got.gateway.map_or("none".to_string(), |g| g.to_string()),
                want.gateway.map_or("none".to_string(), |g| g.to_string()),
            )));
        }
    }
    Ok(())
}

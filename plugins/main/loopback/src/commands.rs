//! ADD, DEL and CHECK of loopback. No GC or STATUS: nothing to collect or
//! report, so skel's default success applies.

use ipnet::IpNet;

use pkg::skel::CmdArgs;
use pkg::types::{CniResult, Interface, IpConfig};
use pkg::{Error, Result};

use crate::lo;

pub fn add(args: &CmdArgs) -> Result<CniResult> {
    // Parse first: a bad prevResult must fail before anything changes.
    let prev = args.conf.parse_prev_result()?;
    let ns = args.netns()?;
    let addrs = ns.run(|| {
        lo::set_up(true)?;
        lo::addresses()
    })?;
    if let Some(bad) = addrs.iter().find(|a| !a.addr().is_loopback()) {
        return Err(Error::internal(format!(
            "loopback interface found with non-loopback address {:?}",
            bad.addr().to_string()
        )));
    }
    // Chained after another plugin, loopback passes its result through.
    if let Some(prev) = prev {
        return Ok(prev);
    }
    let first =
        |v4: bool| -> Option<IpNet> { addrs.iter().copied().find(|a| a.addr().is_ipv4() == v4) };
    let mut result = CniResult {
        interfaces: vec![Interface {
            name: "lo".into(),
            mac: "00:00:00:00:00:00".into(),
            sandbox: args.netns_path.clone(),
            ..Default::default()
        }],
        ..Default::default()
    };
    for address in [first(true), first(false)].into_iter().flatten() {
        result.ips.push(IpConfig {
            interface: Some(0),
            address,
            gateway: None,
        });
    }
    Ok(result)
}

pub fn del(args: &CmdArgs) -> Result<()> {
    // DEL of a namespace that is already gone is done.
    let Some(ns) = args.netns_if_exists()? else {
        return Ok(());
    };
    match ns.run(|| lo::set_up(false)) {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

pub fn check(args: &CmdArgs) -> Result<()> {
    if !args.netns()?.run(lo::is_up)? {
        return Err(Error::internal("loopback interface is down"));
    }
    Ok(())
}

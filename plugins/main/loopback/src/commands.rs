//! ADD, DEL and CHECK of loopback. No GC or STATUS: nothing to collect or
//! report, so skel's default success applies.

use ipnet::IpNet;

use pkg::netlink::{LinkId, Netlink};
use pkg::skel::{CmdArgs, Plugin};
use pkg::types::{CniResult, Interface, IpConfig};
use pkg::{Error, Result};

const LO: LinkId<'static> = LinkId::Name("lo");

pub struct Loopback;

impl Plugin for Loopback {
    fn add(&self, args: &CmdArgs) -> Result<CniResult> {
        // Parse first: a bad prevResult must fail before anything changes.
        let prev = args.conf.parse_prev_result()?;
        let ns = args.netns()?;
        let mut nl = Netlink::in_netns(ns)?;
        nl.link_set_up(LO)?;
        let lo = nl.link_get(LO)?;
        let addrs = nl.addr_list(Some(lo.index), None)?;
        if let Some(bad) = addrs.iter().find(|a| !a.address.addr().is_loopback()) {
            return Err(Error::internal(format!(
                "loopback interface found with non-loopback address {:?}",
                bad.address.addr().to_string()
            )));
        }
        // Chained after another plugin, loopback passes its result through.
        if let Some(prev) = prev {
            return Ok(prev);
        }
        let first = |v4: bool| -> Option<IpNet> {
            addrs
                .iter()
                .map(|a| a.address)
                .find(|a| a.addr().is_ipv4() == v4)
        };
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

    fn del(&self, args: &CmdArgs) -> Result<()> {
        // DEL of a namespace that is already gone is done.
        let Some(ns) = args.netns_if_exists()? else {
            return Ok(());
        };
        let mut nl = Netlink::in_netns(ns)?;
        match nl.link_set_down(LO) {
            Err(e) if e.is_not_found() => Ok(()),
            other => other,
        }
    }

    fn check(&self, args: &CmdArgs) -> Result<()> {
        let mut nl = Netlink::in_netns(args.netns()?)?;
        if !nl.link_get(LO)?.is_up() {
            return Err(Error::internal("loopback interface is down"));
        }
        Ok(())
    }
}

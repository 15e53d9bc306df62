//! sbr CHECK (Go's does nothing): `CNI_IFNAME` exists and each of its
//! addresses in prevResult has its rule, to the configured table or to a
//! table from 100; without `table`, that table routes by the interface and
//! holds the default route via the gateway when there is one.

use pkg::netlink::{LinkId, Netlink};
use pkg::skel::CmdArgs;
use pkg::{Context, Error, Result};

use crate::config::SbrConf;
use crate::routing::{self, FIRST_TABLE};
use crate::rule::Rules;

pub fn check(args: &CmdArgs) -> Result<()> {
    let conf = SbrConf::from_value(&args.config)?;
    let result = routing::prev_result(args)?;
    let ips = routing::addresses_of(args, &result)?;
    let ns = args.netns()?;
    let mut ctr = Netlink::in_netns(ns)?;
    let ifname = args.ifname.as_str();
    let link = ctr.link_find(LinkId::Name(ifname))?.ok_or_else(|| {
        Error::internal(format!(
            "container interface {ifname} not found in {}",
            args.netns_path
        ))
    })?;
    let rules = Rules::in_netns(ns)?
        .list()
        .context("failed to list all rules")?;
    let routes = routing::all_routes(&mut ctr)?;
    for ip in ips {
        let addr = ip.address.addr();
        let rule = rules.iter().find(|r| {
            r.source() == Some(addr) && conf.table.map_or(r.table >= FIRST_TABLE, |t| r.table == t)
        });
        let Some(rule) = rule else {
            return Err(Error::internal(match conf.table {
                Some(t) => format!("no rule from {addr} lookup {t} for {ifname}"),
                None => format!("no rule from {addr} to a table of its own for {ifname}"),
            }));
        };
        if conf.table.is_some() {
            continue;
        }
        let table = rule.table;
        let mine: Vec<_> = routes
            .iter()
            .filter(|r| r.table == Some(table) && r.oif == Some(link.index))
            .collect();
        if mine.is_empty() {
            return Err(Error::internal(format!(
                "table {table} of {addr} has no route by {ifname}"
            )));
        }
        if let Some(gw) = conf.gateway_for(addr, ip.gateway)
            && !mine
                .iter()
                .any(|r| r.dst.prefix_len() == 0 && r.gw == Some(gw))
        {
            return Err(Error::internal(format!(
                "table {table} of {addr} has no default route via {gw}"
            )));
        }
    }
    Ok(())
}

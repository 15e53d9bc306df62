//! sbr ADD, inside the container's namespace and under its lock: for each
//! address of `CNI_IFNAME` in prevResult, a rule
//! `from <address> lookup <table>`. With `table` set that is all.
//! Otherwise each address gets its own table, the first one from 100 that
//! no rule and no route in any table uses (Go looks at the main table
//! only, and adds beside another owner's routes), with a default route via
//! the gateway and the interface's routes of that address; then the
//! interface's routes leave the main table (with `addSourceHints`, only
//! those that are not subnet routes, the subnet routes getting the address
//! as source hint). Every change is recorded, and a failure undoes them
//! all: the rules, the routes added and the main table's routes as they
//! were. The result is prevResult.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use pkg::netlink::{LinkId, Netlink, RouteSpec};
use pkg::ns::Netns;
use pkg::rollback::Rollback;
use pkg::skel::CmdArgs;
use pkg::types::{CniResult, IpConfig};
use pkg::{Context, Result};

use crate::config::SbrConf;
use crate::routing::{self, FIRST_TABLE, MAIN_TABLE, SCOPE_LINK};
use crate::rule::Rules;

/// The metric the kernel gives an IPv6 route added without one.
const IP6_RT_PRIO_USER: u32 = 1024;

pub fn add(args: &CmdArgs) -> Result<CniResult> {
    let conf = SbrConf::from_value(&args.config)?;
    let result = routing::prev_result(args)?;
    let ips = routing::addresses_of(args, &result)?;
    let ns = args.netns()?;
    routing::lock(ns)?;
    let mut ctx = Ctx {
        ns,
        ctr: Netlink::in_netns(ns)?,
        rules: Rules::in_netns(ns)?,
        undo: Rollback::new(),
    };
    let ifname = args.ifname.as_str();
    let link = ctx.ctr.link_get(LinkId::Name(ifname)).with_context(|| {
        format!(
            "cannot find network interface {ifname} in {}",
            args.netns_path
        )
    })?;
    match conf.table {
        Some(table) => {
            for ip in &ips {
                ctx.add_rule(ip, table)?;
            }
        }
        None => ctx.route_by_source(&conf, &ips, link.index, ifname)?,
    }
    ctx.undo.commit();
    Ok(result)
}

/// One ADD's sockets in the container and its rollback.
struct Ctx<'a> {
    ns: &'a Netns,
    ctr: Netlink,
    rules: Rules,
    undo: Rollback<'a>,
}

impl<'a> Ctx<'a> {
    /// The rule for `ip`. The very same rule made by an earlier ADD (a
    /// retried one) is left as it is and not undone.
    fn add_rule(&mut self, ip: &IpConfig, table: u32) -> Result<()> {
        let addr = ip.address.addr();
        match self.rules.add(addr, table) {
            Err(e) if routing::exists(&e) => return Ok(()),
            other => {
                other.with_context(|| format!("failed to add rule from {addr} lookup {table}"))?
            }
        }
        let ns = self.ns;
        self.undo
            .push(format!("rule from {addr} lookup {table}"), move || {
                Rules::in_netns(ns)?.del_from(addr, table)
            });
        Ok(())
    }

    /// A route added to a table of ours, recorded.
    fn add_route(&mut self, route: RouteSpec, replace: bool) -> Result<()> {
        let done = if replace {
            self.ctr.route_replace(&route)
        } else {
            self.ctr.route_add(&route)
        };
        done.with_context(|| format!("failed to add route {}", route.describe()))?;
        let ns = self.ns;
        self.undo
            .push(format!("route {}", route.describe()), move || {
                Netlink::in_netns(ns)?.route_del(&route)
            });
        Ok(())
    }

    /// A route of the main table removed, recorded to be put back.
    fn del_main_route(&mut self, route: RouteSpec) -> Result<()> {
        match self.ctr.route_del(&route) {
            Err(e) if e.is_not_found() => return Ok(()),
            other => other.with_context(|| {
                format!(
                    "failed to delete route {} from the main table",
                    route.describe()
                )
            })?,
        }
        let ns = self.ns;
        self.undo
            .push(format!("main route {}", route.describe()), move || {
                Netlink::in_netns(ns)?.route_replace(&route)
            });
        Ok(())
    }

    fn route_by_source(
        &mut self,
        conf: &SbrConf,
        ips: &[&IpConfig],
        index: u32,
        ifname: &str,
    ) -> Result<()> {
        let rules = self.rules.list().context("failed to list all rules")?;
        let all = routing::all_routes(&mut self.ctr)?;
        let mut used = routing::tables_in_use(&rules, &all);
        let main: Vec<RouteSpec> = all
            .into_iter()
            .filter(|r| r.table == Some(MAIN_TABLE) && r.oif == Some(index))
            .collect();
        let mut table = routing::free_table(&used, FIRST_TABLE)?;
        for ip in ips {
            self.add_rule(ip, table)?;
            let addr = ip.address.addr();
            let gateway = conf.gateway_for(addr, ip.gateway);
            if let Some(gw) = gateway {
                let any = if addr.is_ipv4() {
                    IpNet::V4(Ipv4Net::default())
                } else {
                    IpNet::V6(Ipv6Net::default())
                };
                let mut default = RouteSpec::new(any);
                default.gw = Some(gw);
                default.oif = Some(index);
                default.table = Some(table);
                self.add_route(default, false).map_err(|e| {
                    e.context(format!(
                        "failed to add default route to {gw} for {addr} on {ifname}"
                    ))
                })?;
            }
            // The table's default route is the gateway's: a default route
            // of the main table does not replace it (Go's copy does, so a
            // configured gateway loses to the result's).
            let copied = main
                .iter()
                .filter(|r| routing::belongs_to(r, ip))
                .filter(|r| gateway.is_none() || r.dst.prefix_len() != 0);
            for r in copied {
                let mut copy = r.clone();
                copy.table = Some(table);
                self.add_route(copy, true)?;
            }
            used.push(table);
            table = routing::free_table(&used, table)?;
        }
        if conf.add_source_hints {
            for ip in ips {
                let mut subnet = RouteSpec::new(ip.address.trunc());
                subnet.oif = Some(index);
                subnet.src = Some(ip.address.addr());
                subnet.scope = SCOPE_LINK;
                subnet.table = Some(MAIN_TABLE);
                let was = main.iter().find(|r| r.dst == subnet.dst).cloned();
                self.ctr.route_replace(&subnet).with_context(|| {
                    format!(
                        "failed to add source hint {} to the main table",
                        subnet.describe()
                    )
                })?;
                // An IPv4 route of the same destination and metric is
                // replaced; an IPv6 one gets the kernel's metric for routes
                // given none and stands beside the kernel's own.
                let mut ours = subnet.clone();
                if !ip.address.addr().is_ipv4() {
                    ours.priority = IP6_RT_PRIO_USER;
                }
                let ns = self.ns;
                self.undo
                    .push(format!("main route {}", subnet.describe()), move || {
                        let mut nl = Netlink::in_netns(ns)?;
                        match was {
                            Some(r) if r.dst.addr().is_ipv4() => nl.route_replace(&r),
                            _ => nl.route_del(&ours),
                        }
                    });
            }
            for r in main.into_iter().filter(|r| r.scope != SCOPE_LINK) {
                self.del_main_route(r)?;
            }
        } else {
            for r in main {
                self.del_main_route(r)?;
            }
        }
        Ok(())
    }
}

//! tuning CHECK: every configured sysctl and link attribute still has its
//! configured value. Promiscuous mode is checked both ways, as in Go (not
//! configured means off). Sysctl values are compared with runs of
//! whitespace folded, since the kernel prints multi-value sysctls with tabs
//! (`net.ipv4.tcp_rmem`), and `IFNAME` is substituted (Go's CHECK forgets).

use pkg::netlink::{LinkId, Netlink, format_mac};
use pkg::skel::CmdArgs;
use pkg::{Error, Result, sysctl};

use crate::config::TuningConf;

pub fn check(args: &CmdArgs) -> Result<()> {
    let conf = TuningConf::load(args, false)?;
    args.prev_result()?;
    let ns = args.netns()?;

    let ifname = args.ifname.as_str();
    let mut ctr = Netlink::in_netns(ns)?;
    let link = ctr
        .link_find(LinkId::Name(ifname))?
        .ok_or_else(|| Error::internal(format!("cannot find container link {ifname}")))?;
    let sysctls = conf.sysctls.clone();
    ns.run(move || {
        for s in &sysctls {
            let current = sysctl::read(&s.path)?;
            if fold(&current) != fold(&s.value) {
                return Err(Error::internal(format!(
                    "sysctl {} ({}) is {current:?}, configured {:?}",
                    s.key,
                    s.path.display(),
                    s.value
                )));
            }
        }
        Ok(())
    })?;

    let differs = |what: &str, configured: String, current: String| {
        Err(Error::internal(format!(
            "{what} of {ifname} is {current}, configured {configured}"
        )))
    };
    if let Some(mac) = &conf.mac
        && *mac != link.mac
    {
        return differs("MAC address", format_mac(mac), link.mac_string());
    }
    if conf.promisc != link.is_promisc() {
        return differs(
            "promiscuous mode",
            on_off(conf.promisc),
            on_off(link.is_promisc()),
        );
    }
    if let Some(mtu) = conf.mtu
        && mtu != link.mtu
    {
        return differs("MTU", mtu.to_string(), link.mtu.to_string());
    }
    if let Some(on) = conf.allmulti
        && on != link.is_allmulti()
    {
        return differs("all-multicast mode", on_off(on), on_off(link.is_allmulti()));
    }
    if let Some(len) = conf.txqlen
        && len != link.txqlen()
    {
        return differs(
            "transmit queue length",
            len.to_string(),
            link.txqlen().to_string(),
        );
    }
    // ADD made the host end follow the MTU; Go's ADD did not, so a
    // difference is only worth a warning.
    if let Some(mtu) = conf.mtu
        && let Ok(mut host) = Netlink::new()
        && let Ok(Some(peer)) = host.veth_peer_of(&link, ns)
        && peer.mtu != mtu
    {
        eprintln!(
            "warning: {ifname} has MTU {mtu} but its host end {} has {}",
            peer.name, peer.mtu
        );
    }
    Ok(())
}

fn fold(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn on_off(on: bool) -> String {
    if on { "on" } else { "off" }.to_string()
}

//! What bandwidth shapes in the host namespace: the host end of the
//! container's veth, found as Go finds it, and the IFB device named after
//! the network and container, byte for byte as Go names it so that either
//! implementation deletes the other's.

use pkg::firewall::names::hash_hex;
use pkg::netlink::{Link, LinkId, MAX_ALIAS_LEN, Netlink};
use pkg::ns::Netns;
use pkg::types::CniResult;
use pkg::{Error, Result};

const IFB_PREFIX: &str = "bwp";
/// Go's `maxIfbDeviceLength`.
const IFB_NAME_LEN: usize = 15;
const ALIAS_TAG: &str = "cni-bandwidth";

const VETH_ONLY: &str = "bandwidth shapes veth attachments (bridge, ptp): the container interface's peer must be in the plugin's namespace and listed in prevResult";

/// `bwp` + the first 12 hex digits of sha512(network + containerID).
pub fn ifb_name(network: &str, container_id: &str) -> String {
    format!(
        "{IFB_PREFIX}{}",
        hash_hex(
            &format!("{network}{container_id}"),
            IFB_NAME_LEN - IFB_PREFIX.len()
        )
    )
}

/// Whether a link looks like an IFB this plugin (Go's or ours) made.
pub fn is_bandwidth_ifb(link: &Link) -> bool {
    link.kind.as_deref() == Some("ifb")
        && link.name.len() == IFB_NAME_LEN
        && link.name.strip_prefix(IFB_PREFIX).is_some_and(|h| {
            h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// The alias our IFBs carry, so that GC can tell which network one belongs
/// to (the name is a one-way hash). Network names and container IDs cannot
/// contain spaces or `=`. None if even the network alone does not fit.
pub fn ifb_alias(network: &str, container_id: &str) -> Option<String> {
    let full = format!("{ALIAS_TAG} network={network} containerID={container_id}");
    if full.len() <= MAX_ALIAS_LEN {
        return Some(full);
    }
    let short = format!("{ALIAS_TAG} network={network}");
    (short.len() <= MAX_ALIAS_LEN).then_some(short)
}

/// The network named by an alias `ifb_alias` wrote.
pub fn alias_network(alias: &str) -> Option<&str> {
    let mut words = alias.split(' ');
    if words.next() != Some(ALIAS_TAG) {
        return None;
    }
    words.find_map(|w| w.strip_prefix("network="))
}

/// The host end of the container's veth, with Go's rules and messages: the
/// container interface's peer must be in this namespace and be a host
/// interface (no sandbox) of prevResult.
pub fn host_interface(
    host: &mut Netlink,
    ns: &Netns,
    ifname: &str,
    result: &CniResult,
) -> Result<Link> {
    if result.interfaces.is_empty() {
        return Err(Error::invalid_config(
            "no interfaces provided in prevResult",
            VETH_ONLY,
        ));
    }
    let ctr = Netlink::in_netns(ns)?
        .link_find(LinkId::Name(ifname))?
        .ok_or_else(|| {
            Error::internal(format!(
                "container interface {ifname} has no veth peer: it does not exist in {}",
                ns.path().display()
            ))
        })?;
    let peer_index = match (ctr.kind.as_deref(), ctr.parent) {
        (Some("veth"), Some(i)) if i > 0 => i,
        (kind, _) => {
            return Err(Error::new(
                pkg::error::code::INTERNAL,
                format!(
                    "container interface {ifname} has no veth peer: it is a {} link",
                    kind.unwrap_or("non-veth")
                ),
                VETH_ONLY,
            ));
        }
    };
    let peer = host.veth_peer_of(&ctr, ns)?.ok_or_else(|| {
        Error::new(
            pkg::error::code::INTERNAL,
            format!("veth peer with index {peer_index} is not in host ns"),
            VETH_ONLY,
        )
    })?;
    if !result
        .interfaces
        .iter()
        .any(|i| i.sandbox.is_empty() && i.name == peer.name)
    {
        return Err(Error::new(
            pkg::error::code::INTERNAL,
            "no veth peer of container interface found in host ns",
            format!(
                "the peer of {ifname} is {}, which prevResult does not list as a host interface",
                peer.name
            ),
        ));
    }
    Ok(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_go() {
        // From Debian's Go bandwidth plugin: network "mynet", container "abc".
        assert_eq!(ifb_name("mynet", "abc"), "bwpe88f49d94512");
        let n = ifb_name("n", "c0ffee");
        assert_eq!(n.len(), 15);
        assert!(n.starts_with("bwp"));
    }

    #[test]
    fn aliases() {
        let a = ifb_alias("mynet", "abc").unwrap();
        assert_eq!(a, "cni-bandwidth network=mynet containerID=abc");
        assert_eq!(alias_network(&a), Some("mynet"));
        let long_id = "c".repeat(250);
        let a = ifb_alias("mynet", &long_id).unwrap();
        assert_eq!(a, "cni-bandwidth network=mynet");
        assert_eq!(alias_network(&a), Some("mynet"));
        assert_eq!(ifb_alias(&"n".repeat(300), "abc"), None);
        for foreign in ["", "mynet", "cni-bandwidthx network=a", "cni-bandwidth"] {
            assert_eq!(alias_network(foreign), None, "{foreign}");
        }
    }
}

//! Netlink: the suite's one transport ([`socket::Socket`], with
//! attributes in [`nla`] and nfnetlink messages in [`nfgen`]; feature
//! `netlink-transport`), and on it a small synchronous rtnetlink client
//! (feature `netlink`): one blocking socket per network namespace,
//! `ip`-style verbs (`link.rs`, `addr.rs`, `route.rs`), messages built
//! with netlink-packet-route types and rtnetlink's pure message builders
//! ([`rt`] chooses which). A socket stays bound to the namespace it was
//! created in, so the container side is reached by creating its socket on
//! a thread inside the container netns (`Netlink::in_netns`) and then
//! using it from anywhere.

pub mod nfgen;
pub mod nla;
pub mod socket;

pub use socket::Socket;

#[cfg(feature = "netlink")]
mod addr;
#[cfg(feature = "netlink")]
mod attrs;
#[cfg(feature = "netlink")]
mod bridge;
#[cfg(feature = "netlink")]
mod link;
#[cfg(feature = "netlink")]
pub mod netconf;
#[cfg(feature = "netlink")]
mod route;
#[cfg(feature = "netlink")]
pub mod rt;
#[cfg(feature = "netlink")]
mod veth;

#[cfg(feature = "netlink")]
pub use addr::{Addr, AddrFlags};
#[cfg(feature = "netlink")]
pub use attrs::{IPV4_DEVCONF_ARP_NOTIFY, MAX_ALIAS_LEN};
#[cfg(feature = "netlink")]
pub use bridge::BridgeVlan;
#[cfg(feature = "netlink")]
pub use link::{Link, LinkEvents, LinkId, format_mac, kind_of, module_of};
#[cfg(feature = "netlink")]
pub use netlink_packet_route::link::State as OperState;
pub use netlink_sys::protocols::NETLINK_ROUTE;
#[cfg(feature = "netlink")]
pub use route::RouteSpec;
#[cfg(feature = "netlink")]
pub use veth::{VethSpec, random_hex, random_veth_name};

#[cfg(feature = "netlink")]
use netlink_packet_route::RouteNetlinkMessage;

#[cfg(feature = "netlink")]
use crate::error::Result;
#[cfg(feature = "netlink")]
use crate::ns::Netns;

/// An rtnetlink socket: links, addresses, routes, in the namespace it was
/// created in.
#[cfg(feature = "netlink")]
pub struct Netlink {
    socket: Socket<rt::Rt>,
}

#[cfg(feature = "netlink")]
impl Netlink {
    /// A socket in the calling thread's network namespace.
    pub fn new() -> Result<Netlink> {
        Ok(Netlink {
            socket: Socket::open(NETLINK_ROUTE)?,
        })
    }

    /// A socket bound to `ns`, created on a short-lived thread inside it.
    pub fn in_netns(ns: &Netns) -> Result<Netlink> {
        ns.run(Netlink::new)
    }

    /// Send a request that the kernel acknowledges; collect any replies.
    pub(crate) fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
        op: impl Fn() -> String,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        let replies = self.socket.request(rt::Rt(msg), flags, op)?;
        Ok(replies.into_iter().map(|r| r.0).collect())
    }

    /// Dump request with a filter the kernel applies (see
    /// [`Socket::dump_filtered`]).
    pub(crate) fn dump_filtered(
        &mut self,
        msg: RouteNetlinkMessage,
        op: impl Fn() -> String,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        let replies = self.socket.dump_filtered(|| rt::Rt(msg.clone()), op)?;
        Ok(replies.into_iter().map(|r| r.0).collect())
    }

    /// Dump request, read to its end (see [`Socket::dump`]).
    pub(crate) fn dump(
        &mut self,
        msg: RouteNetlinkMessage,
        op: impl Fn() -> String,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        let replies = self.socket.dump(|| rt::Rt(msg.clone()), op)?;
        Ok(replies.into_iter().map(|r| r.0).collect())
    }
}

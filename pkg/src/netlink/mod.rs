//! A small synchronous rtnetlink client: one blocking socket per network
//! namespace, `ip`-style verbs on top (`link.rs`, `addr.rs`, `route.rs`).
//!
//! Messages are built with netlink-packet-route types (and rtnetlink's pure
//! message builders) and carried by the one transport of the suite,
//! [`socket::Socket`], which nf_tables and ctnetlink use too
//! ([`nfgen`]). A socket stays bound to the namespace it was created in, so
//! the container side is reached by creating its socket on a thread inside
//! the container netns (`Netlink::in_netns`) and then using it from
//! anywhere.

mod addr;
mod attrs;
mod bridge;
mod link;
pub mod macvlan;
pub mod nfgen;
pub mod nla;
mod route;
pub mod rt;
pub mod socket;
mod veth;

pub use addr::{Addr, AddrFlags};
pub use attrs::{IPV4_DEVCONF_ARP_NOTIFY, MAX_ALIAS_LEN};
pub use link::{Link, LinkId, format_mac};
pub use netlink_packet_route::link::State as OperState;
pub use route::RouteSpec;
pub use socket::Socket;
pub use veth::{VethSpec, random_hex, random_veth_name};

use netlink_packet_route::RouteNetlinkMessage;
pub use netlink_sys::protocols::NETLINK_ROUTE;

use crate::error::Result;
use crate::ns::Netns;

/// An rtnetlink socket: links, addresses, routes, in the namespace it was
/// created in.
pub struct Netlink {
    socket: Socket<rt::Rt>,
}

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

//! veth pairs, created in one request with the peer placed straight into
//! the other namespace (no create-then-move window).

use std::os::fd::AsRawFd;

use netlink_packet_route::link::{InfoData, InfoVeth, LinkAttribute};
use nix::errno::Errno;
use rtnetlink::{LinkMessageBuilder, LinkUnspec, LinkVeth};

use super::{Link, LinkId, Netlink};
use crate::error::{Error, Result};
use crate::ns::Netns;

/// What to create: `host_name` in this socket's namespace, `peer_name` in
/// `peer_ns`.
pub struct VethSpec<'a> {
    pub host_name: &'a str,
    pub peer_name: &'a str,
    pub peer_ns: &'a Netns,
    /// 0 = kernel default.
    pub mtu: u32,
    pub peer_mac: Option<[u8; 6]>,
    /// Enslave the host end to this bridge at creation.
    pub master: Option<u32>,
    /// Bring the host end up at creation.
    pub host_up: bool,
}

/// `veth` followed by 8 random hex digits, as Go names host ends.
pub fn random_veth_name() -> Result<String> {
    Ok(format!("veth{}", random_hex(4)?))
}

/// `2 * bytes` random hex digits from the kernel's CSPRNG.
pub fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    let mut filled = 0;
    while filled < bytes {
        // SAFETY: writes at most `bytes - filled` bytes into our buffer.
        let n = unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), bytes - filled, 0) };
        if n < 0 {
            let e = Errno::last();
            if e == Errno::EINTR {
                continue;
            }
            return Err(Error::kernel("getrandom", e));
        }
        filled += n as usize;
    }
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

impl Netlink {
    /// `ip link add <host> [mtu] [master] type veth peer name <peer> netns <ns> [address]`.
    pub fn veth_add(&mut self, spec: &VethSpec<'_>) -> Result<()> {
        self.veth_create(spec).map(drop)
    }

    /// [`veth_add`](Netlink::veth_add), returning the host end when the
    /// kernel echoes it (see [`Netlink::link_add_echo`]).
    fn veth_create(&mut self, spec: &VethSpec<'_>) -> Result<Option<Link>> {
        let mut peer = one_queue(
            LinkUnspec::new_with_name(spec.peer_name).setns_by_fd(spec.peer_ns.as_raw_fd()),
        );
        if spec.mtu != 0 {
            peer = peer.mtu(spec.mtu);
        }
        if let Some(mac) = spec.peer_mac {
            peer = peer.address(mac.to_vec());
        }
        let mut host = one_queue(LinkVeth::new(spec.host_name, spec.peer_name))
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())));
        if spec.mtu != 0 {
            host = host.mtu(spec.mtu);
        }
        if let Some(m) = spec.master {
            host = host.controller(m);
        }
        if spec.host_up {
            host = host.up();
        }
        self.link_add_echo(
            host.build(),
            &format!("{} (veth, peer {})", spec.host_name, spec.peer_name),
        )
    }

    /// Create a veth pair whose host end gets a fresh random name, retrying
    /// on the (unlikely) name clash. The caller checks beforehand that
    /// `peer_name` is free in the peer namespace. Returns the host link.
    pub fn veth_add_random(&mut self, spec: &VethSpec<'_>) -> Result<Link> {
        let mut last = None;
        for _ in 0..10 {
            let name = random_veth_name()?;
            let attempt = VethSpec {
                host_name: &name,
                ..*spec
            };
            match self.veth_create(&attempt) {
                Ok(Some(link)) => return Ok(link),
                Ok(None) => return self.link_get(LinkId::Name(&name)),
                Err(e) if e.is_errno(Errno::EEXIST) => {
                    // Only a clash on our random name is worth retrying.
                    if self.link_find(LinkId::Name(&name))?.is_none() {
                        return Err(e);
                    }
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::internal("could not pick a free veth name")))
    }
}

/// One queue each way, said outright. Without it the kernel (5.13 and
/// later) gives a veth end a queue per possible CPU, then cuts the queues
/// in use down to one, and cutting waits for an RCU grace period under
/// rtnl, once per end: every netlink request on the node waits with it.
/// The queues in use are the same either way; only `ethtool -L` can no
/// longer add more.
fn one_queue<T>(b: LinkMessageBuilder<T>) -> LinkMessageBuilder<T> {
    b.append_extra_attribute(LinkAttribute::NumTxQueues(1))
        .append_extra_attribute(LinkAttribute::NumRxQueues(1))
}

impl Clone for VethSpec<'_> {
    fn clone(&self) -> Self {
        *self
    }
}
impl Copy for VethSpec<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let n = random_veth_name().unwrap();
        assert_eq!(n.len(), 12);
        assert!(n.starts_with("veth"));
        assert!(n[4..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(random_hex(6).unwrap(), random_hex(6).unwrap());
    }

    // Both ends get one queue each way, whichever namespace they are in
    // (one allocated, so one in use).
    #[cfg(feature = "testkit")]
    #[test]
    fn both_ends_have_one_queue_each_way() {
        crate::require_root!();
        let host = crate::testkit::TestNs::new("veth-queues-host");
        let ctr = crate::testkit::TestNs::new("veth-queues-ctr");
        let peer_ns = ctr.open();
        let link = host
            .netlink()
            .veth_add_random(&VethSpec {
                host_name: "",
                peer_name: "eth0",
                peer_ns: &peer_ns,
                mtu: 0,
                peer_mac: None,
                master: None,
                host_up: true,
            })
            .unwrap();
        for (ns, name) in [(&host, link.name.as_str()), (&ctr, "eth0")] {
            let details = ns.ip(&["-d", "link", "show", name]);
            assert!(
                details.contains("numtxqueues 1 numrxqueues 1"),
                "{name}: {details}"
            );
        }
    }
}

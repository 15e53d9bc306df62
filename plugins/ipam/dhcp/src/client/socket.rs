//! The sockets of one exchange, made inside the container's netns on a
//! short-lived thread (`Netns::run`) and used from the lease's own thread:
//! a socket stays in the namespace it was created in.
//!
//! Sending is a UDP socket on port 68 bound to the interface, which can
//! broadcast before the interface has an address. Receiving is a packet
//! socket on the interface: a server's answer to a client without an
//! address goes to the offered address (dnsmasq does so unless the
//! broadcast flag is set), which the kernel's IP layer would drop.

use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType, SockaddrIn, sockopt};
use nix::sys::time::TimeVal;

use pkg::netlink::{LinkId, Netlink};
use pkg::ns::Netns;
use pkg::{Context, Error, Result};

pub const CLIENT_PORT: u16 = 68;
pub const SERVER_PORT: u16 = 67;
const ETH_P_IP: u16 = 0x0800;

pub struct Sockets {
    udp: UdpSocket,
    packet: OwnedFd,
    pub mac: Vec<u8>,
}

impl Sockets {
    /// Sockets on `ifname` in `ns`; for a new lease the link is brought
    /// up first, as Go does (a renewal leaves it as it is).
    pub fn open(ns: &Netns, ifname: &str, bring_up: bool) -> Result<Sockets> {
        let mut nl = Netlink::in_netns(ns)?;
        let link = nl.link_get(LinkId::Name(ifname))?;
        if bring_up && !link.is_up() {
            nl.link_set_up(LinkId::Index(link.index))?;
        }
        let index = link.index;
        let (udp, packet) = ns.run(|| Ok((udp_socket(ifname)?, packet_socket(index)?)))?;
        Ok(Sockets {
            udp,
            packet,
            mac: link.mac,
        })
    }

    pub fn send(&self, msg: &[u8], to: Ipv4Addr) -> Result<()> {
        self.udp
            .send_to(msg, SocketAddrV4::new(to, SERVER_PORT))
            .map(|_| ())
            .map_err(|e| Error::io(format!("send a DHCP message to {to}"), e))
    }

    /// The next IPv4 packet on the interface, or `None` at `deadline`.
    pub fn recv(&self, buf: &mut [u8], deadline: Instant) -> Result<Option<usize>> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            // A zero timeout would mean "wait forever".
            let left = left.max(Duration::from_millis(1));
            socket::setsockopt(
                &self.packet,
                sockopt::ReceiveTimeout,
                &TimeVal::from(left_timespec(left)),
            )
            .map_err(|e| Error::kernel("set a receive timeout", e))?;
            match socket::recv(self.packet.as_raw_fd(), buf, MsgFlags::empty()) {
                Ok(n) => return Ok(Some(n)),
                Err(Errno::EAGAIN | Errno::EINTR) => continue,
                Err(e) => return Err(Error::kernel("receive on the DHCP packet socket", e)),
            }
        }
    }
}

fn left_timespec(d: Duration) -> libc::timeval {
    // (The field types, not their names: libc deprecates the aliases on
    // musl ahead of their change to 64 bits.)
    libc::timeval {
        tv_sec: d.as_secs() as _,
        tv_usec: d.subsec_micros() as _,
    }
}

fn udp_socket(ifname: &str) -> Result<UdpSocket> {
    let fd = socket::socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| Error::kernel("create a UDP socket", e))?;
    // Every lease of the netns binds port 68, each on its own interface.
    socket::setsockopt(&fd, sockopt::ReuseAddr, &true)
        .and_then(|_| socket::setsockopt(&fd, sockopt::Broadcast, &true))
        .and_then(|_| socket::setsockopt(&fd, sockopt::BindToDevice, &OsString::from(ifname)))
        .map_err(|e| Error::kernel(format!("set up the DHCP socket on {ifname}"), e))?;
    socket::bind(fd.as_raw_fd(), &SockaddrIn::new(0, 0, 0, 0, CLIENT_PORT))
        .map_err(|e| Error::kernel(format!("bind 0.0.0.0:{CLIENT_PORT} on {ifname}"), e))?;
    Ok(UdpSocket::from(fd))
}

fn packet_socket(ifindex: u32) -> Result<OwnedFd> {
    let proto = ETH_P_IP.to_be();
    // SAFETY: plain socket(2) call; the result is checked before use.
    let raw = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            i32::from(proto),
        )
    };
    if raw < 0 {
        return Err(Error::kernel("create a packet socket", Errno::last()));
    }
    // SAFETY: `raw` is a descriptor we just created and own alone.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto;
    sll.sll_ifindex = ifindex as i32;
    // SAFETY: `sll` is a valid sockaddr_ll and the length is its size.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&raw const sll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if rc < 0 {
        return Err(Error::kernel("bind the packet socket", Errno::last()));
    }
    Ok(fd)
}

/// Wait until `ifname` exists in `ns`, for at most `wait`: the main
/// plugins start IPAM while they make the interface.
pub fn wait_for_link(ns: &Netns, ifname: &str, wait: Duration) -> Result<()> {
    let deadline = Instant::now() + wait;
    let mut nl = Netlink::in_netns(ns)?;
    loop {
        if nl.link_find(LinkId::Name(ifname))?.is_some() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::kernel(
                format!("error looking up {ifname:?}"),
                Errno::ENODEV,
            ))
            .context(format!("in netns {}", ns.path().display()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

//! `lo` without a netlink library: its flags through SIOCGIFFLAGS and
//! SIOCSIFFLAGS on a datagram socket, its addresses through getifaddrs(3).
//! That keeps netlink-packet-route, half of a plugin's code, out of this
//! binary. Everything resolves against the calling thread's network
//! namespace: callers run these inside `Netns::run`.

use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use ipnet::IpNet;
use nix::errno::Errno;
use nix::ifaddrs::getifaddrs;

use pkg::{Error, Result};

const LO: &[u8] = b"lo";

/// Bring `lo` up or down.
pub fn set_up(up: bool) -> Result<()> {
    let what = if up {
        "set link lo up"
    } else {
        "set link lo down"
    };
    let sock = socket().map_err(|e| Error::kernel(what, e))?;
    let mut req = request();
    ioctl(&sock, libc::SIOCGIFFLAGS as libc::Ioctl, &mut req)
        .map_err(|e| Error::kernel(what, e))?;
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    let want = if up {
        flags | libc::IFF_UP as libc::c_short
    } else {
        flags & !(libc::IFF_UP as libc::c_short)
    };
    if want == flags {
        return Ok(());
    }
    req.ifr_ifru.ifru_flags = want;
    ioctl(&sock, libc::SIOCSIFFLAGS as libc::Ioctl, &mut req).map_err(|e| Error::kernel(what, e))
}

pub fn is_up() -> Result<bool> {
    let what = "get link lo";
    let sock = socket().map_err(|e| Error::kernel(what, e))?;
    let mut req = request();
    ioctl(&sock, libc::SIOCGIFFLAGS as libc::Ioctl, &mut req)
        .map_err(|e| Error::kernel(what, e))?;
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    Ok(flags & libc::IFF_UP as libc::c_short != 0)
}

/// The addresses on `lo`, with their prefix lengths, IPv4 first as the
/// kernel lists them.
pub fn addresses() -> Result<Vec<IpNet>> {
    let list = getifaddrs().map_err(|e| Error::kernel("list addresses of lo", e))?;
    let mut out = Vec::new();
    for ifa in list.filter(|i| i.interface_name.as_bytes() == LO) {
        let (Some(addr), Some(mask)) = (ifa.address, ifa.netmask) else {
            continue;
        };
        let (ip, prefix) =
            if let (Some(a), Some(m)) = (addr.as_sockaddr_in(), mask.as_sockaddr_in()) {
                (IpAddr::V4(a.ip()), m.ip().to_bits().count_ones())
            } else if let (Some(a), Some(m)) = (addr.as_sockaddr_in6(), mask.as_sockaddr_in6()) {
                (IpAddr::V6(a.ip()), m.ip().to_bits().count_ones())
            } else {
                continue;
            };
        if let Ok(net) = IpNet::new(ip, prefix as u8) {
            out.push(net);
        }
    }
    Ok(out)
}

fn socket() -> std::result::Result<OwnedFd, Errno> {
    // SAFETY: plain socket(2); the descriptor is owned from here on.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn request() -> libc::ifreq {
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(LO) {
        *dst = *src as libc::c_char;
    }
    req
}

fn ioctl(sock: &OwnedFd, op: libc::Ioctl, req: &mut libc::ifreq) -> std::result::Result<(), Errno> {
    // SAFETY: SIOC[GS]IFFLAGS read and write one ifreq, which we own.
    let r = unsafe { libc::ioctl(sock.as_raw_fd(), op, req as *mut libc::ifreq) };
    if r < 0 { Err(Errno::last()) } else { Ok(()) }
}

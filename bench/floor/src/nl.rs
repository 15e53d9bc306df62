//! The few rtnetlink bytes the floor sends, written by hand.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::Res;

/// `VETH_INFO_PEER` (linux/veth.h; not in libc).
pub const VETH_INFO_PEER: u16 = 1;

/// `IFLA_INET_CONF` (linux/if_link.h): a link's IPv4 settings array,
/// inside `IFLA_AF_SPEC` / `AF_INET`.
pub const IFLA_INET_CONF: u16 = 1;
/// `IPV4_DEVCONF_ARP_NOTIFY` (linux/ip.h): index of `arp_notify` in it.
pub const IPV4_DEVCONF_ARP_NOTIFY: u16 = 22;

const RT_TABLE_MAIN: u8 = 254;
const RTPROT_BOOT: u8 = 3;
const RTN_UNICAST: u8 = 1;

/// One request: header, fixed part, attributes.
pub struct Msg {
    buf: Vec<u8>,
}

fn align(n: usize) -> usize {
    (n + 3) & !3
}

impl Msg {
    pub fn new(kind: u16, flags: i32) -> Msg {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set on send
        buf.extend_from_slice(&kind.to_ne_bytes());
        let flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK | flags) as u16;
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // sequence, set on send
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port: the kernel's
        Msg { buf }
    }

    /// `struct ifinfomsg` with `flags` set and changed.
    pub fn ifinfo(&mut self, index: i32, flags: u32) {
        self.buf
            .extend_from_slice(&[libc::AF_UNSPEC as u8, 0, 0, 0]);
        self.buf.extend_from_slice(&index.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
    }

    /// `struct ifaddrmsg`, IPv4, universe scope.
    pub fn ifaddr(&mut self, prefix_len: u8, index: u32) {
        self.buf
            .extend_from_slice(&[libc::AF_INET as u8, prefix_len, 0, 0]);
        self.buf.extend_from_slice(&index.to_ne_bytes());
    }

    /// `struct rtmsg` of an IPv4 default route in the main table.
    pub fn rtmsg(&mut self) {
        self.buf.extend_from_slice(&[
            libc::AF_INET as u8,
            0,
            0,
            0,
            RT_TABLE_MAIN,
            RTPROT_BOOT,
            0,
            RTN_UNICAST,
        ]);
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
    }

    pub fn attr(&mut self, kind: u16, data: &[u8]) {
        let len = 4 + data.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.buf.resize(align(self.buf.len()), 0);
    }

    pub fn attr_u32(&mut self, kind: u16, v: u32) {
        self.attr(kind, &v.to_ne_bytes());
    }

    pub fn attr_str(&mut self, kind: u16, s: &str) {
        let mut b = s.as_bytes().to_vec();
        b.push(0);
        self.attr(kind, &b);
    }

    /// Start a nested attribute; [`Msg::end`] closes it.
    pub fn nest(&mut self, kind: u16) -> usize {
        let at = self.buf.len();
        self.attr(kind | libc::NLA_F_NESTED as u16, &[]);
        at
    }

    pub fn end(&mut self, at: usize) {
        let len = (self.buf.len() - at) as u16;
        self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }
}

pub struct Socket {
    fd: OwnedFd,
}

impl Socket {
    /// A route socket in the calling thread's network namespace.
    pub fn open() -> Res<Socket> {
        // SAFETY: plain socket(2); the result is checked before use.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(format!(
                "netlink socket: {}",
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Socket { fd })
    }

    /// Send `msgs` in one datagram and wait for every acknowledgement.
    pub fn request(&self, msgs: &[Msg]) -> Res<()> {
        let mut out = Vec::with_capacity(512);
        for (seq, m) in msgs.iter().enumerate() {
            let start = out.len();
            out.extend_from_slice(&m.buf);
            let len = m.buf.len() as u32;
            out[start..start + 4].copy_from_slice(&len.to_ne_bytes());
            out[start + 8..start + 12].copy_from_slice(&(seq as u32 + 1).to_ne_bytes());
        }
        let fd = self.fd.as_raw_fd();
        // SAFETY: `out` is valid for `out.len()` bytes during the call.
        let sent = unsafe { libc::send(fd, out.as_ptr().cast(), out.len(), 0) };
        if sent < 0 {
            return Err(format!("send: {}", std::io::Error::last_os_error()));
        }
        let mut acked = 0;
        let mut buf = vec![0u8; 8192];
        while acked < msgs.len() {
            // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
            let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                return Err(format!("recv: {}", std::io::Error::last_os_error()));
            }
            let mut at = 0;
            let n = n as usize;
            while at + 20 <= n {
                let word = |i: usize| {
                    let mut b = [0u8; 4];
                    b.copy_from_slice(&buf[i..i + 4]);
                    b
                };
                let len = u32::from_ne_bytes(word(at)) as usize;
                let kind = u16::from_ne_bytes([buf[at + 4], buf[at + 5]]);
                if kind == libc::NLMSG_ERROR as u16 {
                    let errno = i32::from_ne_bytes(word(at + 16));
                    if errno != 0 {
                        return Err(std::io::Error::from_raw_os_error(-errno).to_string());
                    }
                    acked += 1;
                }
                if len < 16 {
                    break;
                }
                at += align(len);
            }
        }
        Ok(())
    }
}

/// Move the calling thread into the network namespace `ns`.
pub fn enter(ns: &OwnedFd) -> Res<()> {
    // SAFETY: setns(2) on an open namespace file; only this thread moves.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(format!("setns: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

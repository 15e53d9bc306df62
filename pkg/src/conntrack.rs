//! Netfilter conntrack over netlink (`NETLINK_NETFILTER`, ctnetlink): list
//! entries and delete those of one protocol bound for given destination
//! ports. portmap uses it so that UDP flows started before a hostPort
//! mapping existed (or towards a container that is gone) do not keep
//! hitting the old destination until they time out (plugins#123, #1190).
//!
//! Messages are small and fixed, so they are built by hand: a dump
//! (`IPCTNL_MSG_CT_GET` with `NLM_F_DUMP`), filtered here, then one
//! `IPCTNL_MSG_CT_DELETE` per match carrying the entry's original tuple,
//! zone and ID exactly as the kernel reported them. The ID makes the delete
//! refuse (ENOENT, ignored) an entry that was replaced in between. No
//! `conntrack` binary is needed; Debian does not install one by default.
//!
//! Everything resolves against the calling thread's network namespace.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_NETFILTER};
use nix::errno::Errno;

use crate::error::{Error, Result};

pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_SCTP: u8 = 132;

const NFNL_SUBSYS_CTNETLINK: u16 = 1;
const IPCTNL_MSG_CT_GET: u16 = 1;
const IPCTNL_MSG_CT_DELETE: u16 = 2;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;

const CTA_TUPLE_ORIG: u16 = 1;
const CTA_ID: u16 = 12;
const CTA_ZONE: u16 = 18;
const CTA_TUPLE_IP: u16 = 1;
const CTA_TUPLE_PROTO: u16 = 2;
const CTA_IP_V4_SRC: u16 = 1;
const CTA_IP_V4_DST: u16 = 2;
const CTA_IP_V6_SRC: u16 = 3;
const CTA_IP_V6_DST: u16 = 4;
const CTA_PROTO_NUM: u16 = 1;
const CTA_PROTO_SRC_PORT: u16 = 2;
const CTA_PROTO_DST_PORT: u16 = 3;
/// The type bits of an attribute, without NLA_F_NESTED / NLA_F_NET_BYTEORDER.
const NLA_TYPE_MASK: u16 = 0x3fff;

const HEADER_LEN: usize = 16;
const NFGEN_LEN: usize = 4;
const RECV_BUF: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    fn af(self) -> u8 {
        match self {
            Family::V4 => libc::AF_INET as u8,
            Family::V6 => libc::AF_INET6 as u8,
        }
    }
}

/// The original-direction tuple of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub proto: u8,
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    pub src_port: u16,
    pub dst_port: u16,
    /// The raw attributes a delete request needs: tuple, zone, ID.
    key: Vec<u8>,
}

/// Every entry of `family`.
pub fn list(family: Family) -> Result<Vec<Entry>> {
    Conn::new()?.dump(family)
}

/// Deletes the entries of `family` whose original direction is protocol
/// `proto` to one of `ports`; returns how many were deleted. An entry that
/// vanished in between is not an error.
pub fn delete_by_dst_port(family: Family, proto: u8, ports: &[u16]) -> Result<usize> {
    if ports.is_empty() {
        return Ok(0);
    }
    let mut conn = Conn::new()?;
    let stale: Vec<Entry> = conn
        .dump(family)?
        .into_iter()
        .filter(|e| e.proto == proto && ports.contains(&e.dst_port))
        .collect();
    let mut deleted = 0;
    for entry in &stale {
        match conn.delete(family, entry) {
            Ok(()) => deleted += 1,
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(deleted)
}

struct Conn {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl Conn {
    fn new() -> Result<Conn> {
        let io = |op: &'static str| move |e| Error::io(op, e);
        let mut socket =
            Socket::new(NETLINK_NETFILTER).map_err(io("open netfilter netlink socket"))?;
        socket
            .bind_auto()
            .map_err(io("bind netfilter netlink socket"))?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(io("connect netfilter netlink socket"))?;
        Ok(Conn {
            socket,
            seq: 0,
            buf: Vec::with_capacity(RECV_BUF),
        })
    }

    fn send(&mut self, kind: u16, flags: u16, family: Family, attrs: &[u8]) -> Result<u32> {
        self.seq = self.seq.wrapping_add(1);
        let len = HEADER_LEN + NFGEN_LEN + attrs.len();
        let mut msg = Vec::with_capacity(len);
        msg.extend_from_slice(&(len as u32).to_ne_bytes());
        msg.extend_from_slice(&((NFNL_SUBSYS_CTNETLINK << 8) | kind).to_ne_bytes());
        msg.extend_from_slice(&flags.to_ne_bytes());
        msg.extend_from_slice(&self.seq.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        // nfgenmsg: family, NFNETLINK_V0, res_id (big endian) 0
        msg.extend_from_slice(&[family.af(), 0, 0, 0]);
        msg.extend_from_slice(attrs);
        self.socket
            .send(&msg, 0)
            .map_err(|e| Error::io("send conntrack request", e))?;
        Ok(self.seq)
    }

    /// Reads the answers to `seq` until DONE or the ACK; returns the
    /// payloads (after the nfgenmsg) of the data messages.
    fn receive(&mut self, seq: u32, op: &str) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        loop {
            self.buf.clear();
            let n = loop {
                match self.socket.recv(&mut self.buf, libc::MSG_TRUNC) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(Error::io(format!("{op}: reading netlink reply"), e)),
                }
            };
            if n > self.buf.len() {
                return Err(Error::internal(format!(
                    "{op}: netlink reply larger than the receive buffer"
                )));
            }
            let mut rest = &self.buf[..n];
            while rest.len() >= HEADER_LEN {
                let len = u32_ne(&rest[0..4]) as usize;
                if len < HEADER_LEN || len > rest.len() {
                    return Err(Error::internal(format!("{op}: malformed netlink reply")));
                }
                let kind = u16_ne(&rest[4..6]);
                let msg_seq = u32_ne(&rest[8..12]);
                let body = &rest[HEADER_LEN..len];
                rest = &rest[align(len).min(rest.len())..];
                if msg_seq != seq {
                    continue;
                }
                match kind {
                    NLMSG_DONE => return Ok(out),
                    NLMSG_ERROR => {
                        let code = body.get(0..4).map(i32_ne).unwrap_or(0);
                        if code == 0 {
                            return Ok(out);
                        }
                        return Err(Error::kernel(op, Errno::from_raw(code.abs())));
                    }
                    _ => {
                        if let Some(payload) = body.get(NFGEN_LEN..) {
                            out.push(payload.to_vec());
                        }
                    }
                }
            }
        }
    }

    fn dump(&mut self, family: Family) -> Result<Vec<Entry>> {
        let seq = self.send(IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, family, &[])?;
        let op = "dump conntrack table";
        Ok(self
            .receive(seq, op)?
            .iter()
            .filter_map(|m| parse_entry(m))
            .collect())
    }

    fn delete(&mut self, family: Family, entry: &Entry) -> Result<()> {
        let seq = self.send(
            IPCTNL_MSG_CT_DELETE,
            NLM_F_REQUEST | NLM_F_ACK,
            family,
            &entry.key,
        )?;
        let op = format!(
            "delete conntrack entry proto {} dport {}",
            entry.proto, entry.dst_port
        );
        self.receive(seq, &op).map(drop)
    }
}

fn align(n: usize) -> usize {
    (n + 3) & !3
}

fn u16_ne(b: &[u8]) -> u16 {
    u16::from_ne_bytes([b[0], b[1]])
}

fn u32_ne(b: &[u8]) -> u32 {
    u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

fn i32_ne(b: &[u8]) -> i32 {
    i32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

/// Netlink attributes of `data`: (type without flags, whole attribute
/// including header and padding, value).
fn attrs(data: &[u8]) -> impl Iterator<Item = (u16, &[u8], &[u8])> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.len() < 4 {
            return None;
        }
        let len = usize::from(u16_ne(&rest[0..2]));
        if len < 4 || len > rest.len() {
            return None;
        }
        let kind = u16_ne(&rest[2..4]) & NLA_TYPE_MASK;
        let whole = &rest[..align(len).min(rest.len())];
        let value = &rest[4..len];
        rest = &rest[whole.len()..];
        Some((kind, whole, value))
    })
}

fn parse_entry(payload: &[u8]) -> Option<Entry> {
    let mut key = Vec::new();
    let mut entry = Entry {
        proto: 0,
        src: None,
        dst: None,
        src_port: 0,
        dst_port: 0,
        key: Vec::new(),
    };
    let mut has_tuple = false;
    for (kind, whole, value) in attrs(payload) {
        match kind {
            CTA_TUPLE_ORIG => {
                has_tuple = true;
                key.extend_from_slice(whole);
                parse_tuple(value, &mut entry);
            }
            CTA_ZONE | CTA_ID => key.extend_from_slice(whole),
            _ => {}
        }
    }
    entry.key = key;
    has_tuple.then_some(entry)
}

fn parse_tuple(tuple: &[u8], entry: &mut Entry) {
    for (kind, _, value) in attrs(tuple) {
        match kind {
            CTA_TUPLE_IP => {
                for (k, _, v) in attrs(value) {
                    let ip = match (k, v.len()) {
                        (CTA_IP_V4_SRC | CTA_IP_V4_DST, 4) => {
                            IpAddr::V4(Ipv4Addr::new(v[0], v[1], v[2], v[3]))
                        }
                        (CTA_IP_V6_SRC | CTA_IP_V6_DST, 16) => {
                            let mut b = [0u8; 16];
                            b.copy_from_slice(v);
                            IpAddr::V6(Ipv6Addr::from(b))
                        }
                        _ => continue,
                    };
                    if matches!(k, CTA_IP_V4_SRC | CTA_IP_V6_SRC) {
                        entry.src = Some(ip);
                    } else {
                        entry.dst = Some(ip);
                    }
                }
            }
            CTA_TUPLE_PROTO => {
                for (k, _, v) in attrs(value) {
                    match (k, v.len()) {
                        (CTA_PROTO_NUM, 1) => entry.proto = v[0],
                        (CTA_PROTO_SRC_PORT, 2) => {
                            entry.src_port = u16::from_be_bytes([v[0], v[1]])
                        }
                        (CTA_PROTO_DST_PORT, 2) => {
                            entry.dst_port = u16::from_be_bytes([v[0], v[1]])
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
        a.extend_from_slice(&kind.to_ne_bytes());
        a.extend_from_slice(value);
        while a.len() % 4 != 0 {
            a.push(0);
        }
        a
    }

    #[test]
    fn parses_an_entry_and_keeps_its_key() {
        let ip = [
            attr(CTA_IP_V4_SRC, &[10, 0, 0, 1]),
            attr(CTA_IP_V4_DST, &[10, 0, 0, 2]),
        ]
        .concat();
        let proto = [
            attr(CTA_PROTO_NUM, &[17]),
            attr(CTA_PROTO_SRC_PORT, &4000u16.to_be_bytes()),
            attr(CTA_PROTO_DST_PORT, &53u16.to_be_bytes()),
        ]
        .concat();
        let tuple = attr(
            CTA_TUPLE_ORIG | 0x8000,
            &[
                attr(CTA_TUPLE_IP | 0x8000, &ip),
                attr(CTA_TUPLE_PROTO | 0x8000, &proto),
            ]
            .concat(),
        );
        let id = attr(CTA_ID, &7u32.to_be_bytes());
        let status = attr(3, &0u32.to_be_bytes());
        let payload = [tuple.clone(), status, id.clone()].concat();
        let e = parse_entry(&payload).unwrap();
        assert_eq!(e.proto, 17);
        assert_eq!(e.src, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(e.dst, Some("10.0.0.2".parse().unwrap()));
        assert_eq!((e.src_port, e.dst_port), (4000, 53));
        assert_eq!(e.key, [tuple, id].concat());
        // truncated or foreign data never panics
        for cut in 0..payload.len() {
            let _ = parse_entry(&payload[..cut]);
        }
        assert!(parse_entry(&attr(3, &[0; 4])).is_none());
    }

    /// A UDP flow on loopback in a fresh netns is found and deleted by its
    /// destination port; another port is left alone.
    #[test]
    fn deletes_udp_entries_by_destination_port() {
        if !crate::firewall::test_fresh_netns(&["nft"]) {
            return;
        }
        // Any hook that needs conntrack turns tracking on in this netns.
        crate::firewall::test_run(&["nft", "add table ip ct_test"]);
        crate::firewall::test_run(&[
            "nft",
            "add chain ip ct_test out { type filter hook output priority 0 ; }",
        ]);
        crate::firewall::test_run(&["nft", "add rule ip ct_test out ct state new accept"]);
        crate::firewall::test_run(&["ip", "link", "set", "lo", "up"]);
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for port in [40001u16, 40002] {
            sock.send_to(b"x", ("127.0.0.1", port)).unwrap();
        }
        let udp = |port: u16| {
            list(Family::V4)
                .unwrap()
                .iter()
                .filter(|e| e.proto == IPPROTO_UDP && e.dst_port == port)
                .count()
        };
        assert_eq!(udp(40001), 1);
        assert_eq!(
            delete_by_dst_port(Family::V4, IPPROTO_UDP, &[40001]).unwrap(),
            1
        );
        assert_eq!(udp(40001), 0);
        assert_eq!(udp(40002), 1);
        assert_eq!(
            delete_by_dst_port(Family::V4, IPPROTO_TCP, &[40002]).unwrap(),
            0
        );
        assert_eq!(
            delete_by_dst_port(Family::V6, IPPROTO_UDP, &[40002]).unwrap(),
            0
        );
        assert_eq!(udp(40002), 1);
    }
}

//! Netfilter conntrack over netlink (`NETLINK_NETFILTER`, ctnetlink): list
//! entries and delete those of one protocol bound for given destination
//! ports. portmap uses it so that UDP flows started before a hostPort
//! mapping existed (or towards a container that is gone) do not keep
//! hitting the old destination until they time out (plugins#123, #1190).
//!
//! Messages are small and fixed, so they are encoded here and carried by
//! the suite's netlink transport (`pkg::netlink::Socket`): a dump
//! (`IPCTNL_MSG_CT_GET` with `NLM_F_DUMP`), filtered here, then one
//! `IPCTNL_MSG_CT_DELETE` per match carrying the entry's original tuple,
//! zone and ID exactly as the kernel reported them. The ID makes the delete
//! refuse (ENOENT, ignored) an entry that was replaced in between. No
//! `conntrack` binary is needed; Debian does not install one by default.
//!
//! Everything resolves against the calling thread's network namespace.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pkg::Result;
use pkg::netlink::Socket;
use pkg::netlink::nfgen::{self, Attrs, NfMessage, SUBSYS_CTNETLINK};

pub const IPPROTO_UDP: u8 = 17;

const IPCTNL_MSG_CT_GET: u8 = 1;
const IPCTNL_MSG_CT_DELETE: u8 = 2;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    fn af(self) -> u8 {
        match self {
            Family::V4 => nix::libc::AF_INET as u8,
            Family::V6 => nix::libc::AF_INET6 as u8,
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
#[cfg(test)]
fn list(family: Family) -> Result<Vec<Entry>> {
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
    socket: Socket<NfMessage>,
}

impl Conn {
    fn new() -> Result<Conn> {
        Ok(Conn {
            socket: nfgen::socket()?,
        })
    }

    fn dump(&mut self, family: Family) -> Result<Vec<Entry>> {
        let msg = || {
            NfMessage::new(
                SUBSYS_CTNETLINK,
                IPCTNL_MSG_CT_GET,
                family.af(),
                Attrs::new(),
            )
        };
        Ok(self
            .socket
            .dump(msg, || "dump conntrack table".to_string())?
            .iter()
            .filter_map(|m| parse_entry(&m.attrs))
            .collect())
    }

    fn delete(&mut self, family: Family, entry: &Entry) -> Result<()> {
        let msg = NfMessage::new(
            SUBSYS_CTNETLINK,
            IPCTNL_MSG_CT_DELETE,
            family.af(),
            Attrs(entry.key.clone()),
        );
        self.socket
            .request(msg, 0, || {
                format!(
                    "delete conntrack entry proto {} dport {}",
                    entry.proto, entry.dst_port
                )
            })
            .map(drop)
    }
}

fn parse_entry(payload: &[u8]) -> Option<Entry> {
    let mut key = Attrs::new();
    let mut entry = Entry {
        proto: 0,
        src: None,
        dst: None,
        src_port: 0,
        dst_port: 0,
        key: Vec::new(),
    };
    let mut has_tuple = false;
    for (kind, value) in nfgen::attrs(payload) {
        match kind {
            CTA_TUPLE_ORIG => {
                has_tuple = true;
                key.put_nested(kind, value);
                parse_tuple(value, &mut entry);
            }
            CTA_ZONE | CTA_ID => {
                key.put(kind, value);
            }
            _ => {}
        }
    }
    entry.key = key.into_bytes();
    has_tuple.then_some(entry)
}

fn parse_tuple(tuple: &[u8], entry: &mut Entry) {
    for (kind, value) in nfgen::attrs(tuple) {
        match kind {
            CTA_TUPLE_IP => {
                for (k, v) in nfgen::attrs(value) {
                    let ip = match k {
                        CTA_IP_V4_SRC | CTA_IP_V4_DST => match <[u8; 4]>::try_from(v) {
                            Ok(b) => IpAddr::V4(Ipv4Addr::from(b)),
                            Err(_) => continue,
                        },
                        CTA_IP_V6_SRC | CTA_IP_V6_DST => match <[u8; 16]>::try_from(v) {
                            Ok(b) => IpAddr::V6(Ipv6Addr::from(b)),
                            Err(_) => continue,
                        },
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
                for (k, v) in nfgen::attrs(value) {
                    let port = <[u8; 2]>::try_from(v).map(u16::from_be_bytes);
                    match (k, v, port) {
                        (CTA_PROTO_NUM, [p], _) => entry.proto = *p,
                        (CTA_PROTO_SRC_PORT, _, Ok(p)) => entry.src_port = p,
                        (CTA_PROTO_DST_PORT, _, Ok(p)) => entry.dst_port = p,
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
        if !pkg::firewall::testing::fresh_netns(&["nft"]) {
            return;
        }
        // Any hook that needs conntrack turns tracking on in this netns.
        pkg::firewall::testing::run(&["nft", "add table ip ct_test"]);
        pkg::firewall::testing::run(&[
            "nft",
            "add chain ip ct_test out { type filter hook output priority 0 ; }",
        ]);
        pkg::firewall::testing::run(&["nft", "add rule ip ct_test out ct state new accept"]);
        pkg::firewall::testing::run(&["ip", "link", "set", "lo", "up"]);
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
        assert_eq!(delete_by_dst_port(Family::V4, 6, &[40002]).unwrap(), 0);
        assert_eq!(
            delete_by_dst_port(Family::V6, IPPROTO_UDP, &[40002]).unwrap(),
            0
        );
        assert_eq!(udp(40002), 1);
    }
}

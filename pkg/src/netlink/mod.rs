//! A small synchronous rtnetlink client: one blocking socket per network
//! namespace, `ip`-style verbs on top (`link.rs`, `addr.rs`, `route.rs`).
//!
//! Messages are built with netlink-packet-route types (and rtnetlink's pure
//! message builders); this module only sends them and reads the answer. A
//! socket stays bound to the namespace it was created in, so the container
//! side is reached by creating its socket on a thread inside the container
//! netns (`Netlink::in_netns`) and then using it from anywhere.

mod addr;
mod attrs;
mod bridge;
mod link;
pub mod macvlan;
mod route;
pub mod tc;
mod veth;

pub use addr::{Addr, AddrFlags};
pub use attrs::{IPV4_DEVCONF_ARP_NOTIFY, MAX_ALIAS_LEN};
pub use link::{Link, LinkId, format_mac};
pub use netlink_packet_route::link::State as OperState;
pub use route::RouteSpec;
pub use veth::{VethSpec, random_hex, random_veth_name};

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NetlinkBuffer, NetlinkHeader,
    NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
use nix::errno::Errno;

use crate::error::{Error, Result};
use crate::ns::Netns;

/// How many times a dump the kernel marked interrupted is retried.
const DUMP_RETRIES: usize = 10;
const RECV_BUF: usize = 64 * 1024;
/// nlmsgerr extended-ack attribute carrying the kernel's message.
const NLMSGERR_ATTR_MSG: u16 = 1;

pub struct Netlink {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl Netlink {
    /// A socket in the calling thread's network namespace.
    pub fn new() -> Result<Netlink> {
        let io = |op: &str| {
            let op = op.to_string();
            move |e| Error::io(op, e)
        };
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(io("open netlink socket"))?;
        socket.bind_auto().map_err(io("bind netlink socket"))?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(io("connect netlink socket"))?;
        // Best effort: older kernels lack these, and they only improve
        // error messages and dump filtering.
        let _ = socket.set_ext_ack(true);
        let _ = socket.set_cap_ack(true);
        Ok(Netlink {
            socket,
            seq: 0,
            buf: Vec::with_capacity(RECV_BUF),
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
        let seq = self.send(msg, NLM_F_REQUEST | NLM_F_ACK | flags, &op)?;
        match self.receive(seq, false) {
            Ok((replies, _)) => Ok(replies),
            Err(e) => Err(with_op(e, op)),
        }
    }

    /// Dump request; retried while the kernel reports the dump was
    /// interrupted by a concurrent change (NLM_F_DUMP_INTR).
    pub(crate) fn dump(
        &mut self,
        msg: RouteNetlinkMessage,
        op: impl Fn() -> String,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        for _ in 0..DUMP_RETRIES {
            let seq = self.send(msg.clone(), NLM_F_REQUEST | NLM_F_DUMP, &op)?;
            let (replies, interrupted) = self.receive(seq, true).map_err(|e| with_op(e, &op))?;
            if !interrupted {
                return Ok(replies);
            }
        }
        Err(Error::new(
            crate::error::code::TRY_AGAIN_LATER,
            format!(
                "{}: dump kept being interrupted by concurrent changes",
                op()
            ),
            "",
        ))
    }

    fn send(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
        op: &dyn Fn() -> String,
    ) -> Result<u32> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
        packet.finalize();
        let mut bytes = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut bytes);
        self.socket
            .send(&bytes, 0)
            .map_err(|e| Error::io(format!("{}: sending netlink request", op()), e))?;
        Ok(self.seq)
    }

    /// Read replies for `seq` until the ACK (requests) or DONE (dumps).
    fn receive(&mut self, seq: u32, dump: bool) -> Result<(Vec<RouteNetlinkMessage>, bool)> {
        let mut replies = Vec::new();
        let mut interrupted = false;
        loop {
            self.buf.clear();
            let n = loop {
                match self.socket.recv(&mut self.buf, libc::MSG_TRUNC) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(Error::io("reading netlink reply", e)),
                }
            };
            if n > self.buf.len() {
                return Err(Error::internal(
                    "netlink reply larger than the receive buffer",
                ));
            }
            let mut offset = 0;
            while offset < n {
                let bytes = &self.buf[offset..n];
                let len = NetlinkBuffer::new_checked(bytes)
                    .map_err(|e| Error::internal(format!("malformed netlink reply: {e}")))?
                    .length() as usize;
                if len == 0 || len > bytes.len() {
                    return Err(Error::internal("malformed netlink reply length"));
                }
                offset += (len + 3) & !3;
                let packet = match NetlinkMessage::<RouteNetlinkMessage>::deserialize(&bytes[..len])
                {
                    Ok(p) => p,
                    // One object we cannot decode must not hide the others.
                    Err(e) if dump => {
                        eprintln!("warning: skipping undecodable netlink message: {e}");
                        continue;
                    }
                    Err(e) => {
                        return Err(Error::internal(format!("undecodable netlink reply: {e}")));
                    }
                };
                if packet.header.sequence_number != seq {
                    continue;
                }
                if packet.header.flags & NLM_F_DUMP_INTR != 0 {
                    interrupted = true;
                }
                match packet.payload {
                    NetlinkPayload::Done(_) => return Ok((replies, interrupted)),
                    NetlinkPayload::Error(err) => match err.code {
                        None => return Ok((replies, interrupted)),
                        Some(code) => {
                            let errno = Errno::from_raw(code.get().abs());
                            let detail = extack_message(&err.header).unwrap_or_default();
                            let op = if detail.is_empty() {
                                String::new()
                            } else {
                                format!("kernel says {detail:?}")
                            };
                            return Err(Error::Kernel { op, errno });
                        }
                    },
                    NetlinkPayload::InnerMessage(m) => replies.push(m),
                    _ => {}
                }
            }
        }
    }
}

/// Put the description of the operation in front of a kernel error.
fn with_op(e: Error, op: impl Fn() -> String) -> Error {
    match e {
        Error::Kernel { op: inner, errno } => Error::Kernel {
            op: if inner.is_empty() {
                op()
            } else {
                format!("{} ({inner})", op())
            },
            errno,
        },
        other => other.context(op()),
    }
}

/// The payload of an NLMSG_ERROR with NETLINK_CAP_ACK: the original 16-byte
/// header, then attributes; the message attribute is a C string.
fn extack_message(payload: &[u8]) -> Option<String> {
    let mut rest = payload.get(16..)?;
    while rest.len() >= 4 {
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        let kind = u16::from_ne_bytes([rest[2], rest[3]]) & 0x3fff;
        if len < 4 || len > rest.len() {
            return None;
        }
        if kind == NLMSGERR_ATTR_MSG {
            let text = &rest[4..len];
            let end = text.iter().position(|b| *b == 0).unwrap_or(text.len());
            return Some(String::from_utf8_lossy(&text[..end]).into_owned());
        }
        rest = rest.get((len + 3) & !3..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extack_parsing() {
        let mut p = vec![0u8; 16];
        let msg = b"Invalid MTU\0";
        let len = (4 + msg.len()) as u16;
        p.extend_from_slice(&len.to_ne_bytes());
        p.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
        p.extend_from_slice(msg);
        assert_eq!(extack_message(&p).as_deref(), Some("Invalid MTU"));
        assert_eq!(extack_message(&p[..10]), None);
        assert_eq!(extack_message(&[0u8; 16]), None);
    }

    #[test]
    fn op_is_prefixed() {
        let e = with_op(
            Error::Kernel {
                op: String::new(),
                errno: Errno::EEXIST,
            },
            || "add link veth0".into(),
        );
        assert_eq!(e.to_string(), "add link veth0: file exists (EEXIST)");
        assert!(e.is_errno(Errno::EEXIST));
    }
}

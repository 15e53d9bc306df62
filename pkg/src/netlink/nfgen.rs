//! nfnetlink messages (`NETLINK_NETFILTER`: nf_tables, ctnetlink) for the
//! transport in `super::socket`: the subsystem and message type, the
//! `nfgenmsg` (family, resource id) and the attributes, kept encoded. The
//! codecs on top (nf_tables in `crate::firewall`, ctnetlink in the
//! portmap plugin) build and read the attributes with [`Attrs`] and
//! [`attrs`] (`super::nla`).
//!
//! netlink-packet-netfilter encodes these families too, but it decodes
//! every attribute of every listed rule into owned trees and lacks the
//! expressions the plugins' rules are made of (counter, nat, masq, fib,
//! and the xtables match and target that iptables-nft stores); what the
//! plugins read of a rule is three attributes, and what they write is a
//! handful of fixed shapes, so the codecs stay small and hand-written.

use netlink_packet_core::{DecodeError, NetlinkDeserializable, NetlinkHeader, NetlinkSerializable};

pub use super::nla::{Attrs, attrs, be_u32, be_u64, find};

/// A socket for nfnetlink in the calling thread's network namespace.
pub fn socket() -> crate::error::Result<super::Socket<NfMessage>> {
    super::Socket::open(netlink_sys::protocols::NETLINK_NETFILTER)
}

/// `NFNL_SUBSYS_*`.
pub const SUBSYS_NONE: u8 = 0;
pub const SUBSYS_CTNETLINK: u8 = 1;
pub const SUBSYS_NFTABLES: u8 = 10;
/// `NFNL_MSG_BATCH_BEGIN` / `_END`, in subsystem NONE.
const BATCH_BEGIN: u8 = 0x10;
const BATCH_END: u8 = 0x11;

/// One nfnetlink message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NfMessage {
    pub subsys: u8,
    pub kind: u8,
    /// nfgenmsg's family (`NFPROTO_*`, or `AF_*` for ctnetlink).
    pub family: u8,
    /// nfgenmsg's resource id, host order (sent big endian).
    pub res_id: u16,
    /// The attributes, encoded.
    pub attrs: Vec<u8>,
}

impl NfMessage {
    pub fn new(subsys: u8, kind: u8, family: u8, attrs: Attrs) -> NfMessage {
        NfMessage {
            subsys,
            kind,
            family,
            res_id: 0,
            attrs: attrs.0,
        }
    }

    /// The markers that open and close an nf_tables transaction.
    pub fn batch_begin() -> NfMessage {
        NfMessage {
            subsys: SUBSYS_NONE,
            kind: BATCH_BEGIN,
            family: 0,
            res_id: u16::from(SUBSYS_NFTABLES),
            attrs: Vec::new(),
        }
    }

    pub fn batch_end() -> NfMessage {
        NfMessage {
            kind: BATCH_END,
            ..NfMessage::batch_begin()
        }
    }
}

impl NetlinkSerializable for NfMessage {
    fn message_type(&self) -> u16 {
        (u16::from(self.subsys) << 8) | u16::from(self.kind)
    }

    fn buffer_len(&self) -> usize {
        4 + self.attrs.len()
    }

    fn serialize(&self, buffer: &mut [u8]) {
        // NFNETLINK_V0
        buffer[0] = self.family;
        buffer[1] = 0;
        buffer[2..4].copy_from_slice(&self.res_id.to_be_bytes());
        buffer[4..].copy_from_slice(&self.attrs);
    }
}

impl NetlinkDeserializable for NfMessage {
    type Error = DecodeError;

    fn deserialize(header: &NetlinkHeader, payload: &[u8]) -> Result<Self, Self::Error> {
        let [family, _version, r0, r1, attrs @ ..] = payload else {
            return Err(DecodeError::buffer_too_small(payload.len(), 4));
        };
        Ok(NfMessage {
            subsys: (header.message_type >> 8) as u8,
            kind: header.message_type as u8,
            family: *family,
            res_id: u16::from_be_bytes([*r0, *r1]),
            attrs: attrs.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{NetlinkMessage, NetlinkPayload};

    #[test]
    fn messages_round_trip() {
        let mut a = Attrs::new();
        a.put_str(1, "nat");
        let mut m = NetlinkMessage::new(
            NetlinkHeader::default(),
            NetlinkPayload::InnerMessage(NfMessage::new(SUBSYS_NFTABLES, 4, 2, a)),
        );
        m.finalize();
        let mut bytes = vec![0u8; m.buffer_len()];
        m.serialize(&mut bytes);
        assert_eq!(u16::from_ne_bytes([bytes[4], bytes[5]]), (10 << 8) | 4);
        assert_eq!(bytes[16], 2);
        let back = NetlinkMessage::<NfMessage>::deserialize(&bytes).unwrap();
        let NetlinkPayload::InnerMessage(back) = back.payload else {
            panic!("not a message")
        };
        assert_eq!((back.subsys, back.kind, back.family), (10, 4, 2));
        assert_eq!(find(&back.attrs, 1), Some(&b"nat\0"[..]));
        let begin = NfMessage::batch_begin();
        assert_eq!(begin.message_type(), 0x10);
        let mut buf = vec![0u8; begin.buffer_len()];
        begin.serialize(&mut buf);
        assert_eq!(buf, [0, 0, 0, 10]);
    }
}

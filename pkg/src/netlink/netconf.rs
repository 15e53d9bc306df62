//! RTM_GETNETCONF: a namespace's IP forwarding switch read over netlink.
//! The same switch is `/proc/sys/net/ipv4/ip_forward` (IPv4) or
//! `/proc/sys/net/ipv6/conf/all/forwarding` (IPv6), but resolving a path
//! below `/proc/sys/net` compares against the entry of every network
//! namespace that ever looked there (a millisecond with a thousand
//! containers); this request costs the same with one or a thousand.
//! netlink-packet-route has no type for it: the message is a one-byte
//! family (padded to 4) and attributes.

use netlink_packet_core::{DecodeError, NetlinkDeserializable, NetlinkHeader, NetlinkSerializable};

use super::nla::{Attrs, find};
use crate::error::Result;
use crate::sysctl::Family;

const RTM_NEWNETCONF: u16 = 80;
const RTM_GETNETCONF: u16 = 82;
const NETCONFA_IFINDEX: u16 = 1;
const NETCONFA_FORWARDING: u16 = 2;
/// The `all` settings of the namespace.
const NETCONFA_IFINDEX_ALL: i32 = -1;

/// A request for, or an answer with, one netconf entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Netconf {
    /// `AF_INET` or `AF_INET6`.
    family: u8,
    attrs: Vec<u8>,
}

impl NetlinkSerializable for Netconf {
    fn message_type(&self) -> u16 {
        RTM_GETNETCONF
    }

    fn buffer_len(&self) -> usize {
        4 + self.attrs.len()
    }

    fn serialize(&self, buffer: &mut [u8]) {
        buffer[..4].copy_from_slice(&[self.family, 0, 0, 0]);
        buffer[4..].copy_from_slice(&self.attrs);
    }
}

impl NetlinkDeserializable for Netconf {
    type Error = DecodeError;

    fn deserialize(header: &NetlinkHeader, payload: &[u8]) -> Result<Self, Self::Error> {
        if header.message_type != RTM_NEWNETCONF {
            return Err(DecodeError::from(format!(
                "unexpected netconf message type {}",
                header.message_type
            )));
        }
        let (Some(family), Some(attrs)) = (payload.first(), payload.get(4..)) else {
            return Err(DecodeError::buffer_too_small(payload.len(), 4));
        };
        Ok(Netconf {
            family: *family,
            attrs: attrs.to_vec(),
        })
    }
}

/// Whether forwarding of `family` is on in the calling thread's
/// namespace; `None` when the kernel does not say (no IPv6, or a kernel
/// before 4.x without the request).
pub fn forwarding(family: Family) -> Result<Option<bool>> {
    let family = match family {
        Family::V4 => libc::AF_INET as u8,
        Family::V6 => libc::AF_INET6 as u8,
    };
    let mut attrs = Attrs::new();
    attrs.put(NETCONFA_IFINDEX, &NETCONFA_IFINDEX_ALL.to_ne_bytes());
    let mut socket = super::Socket::<Netconf>::open(super::NETLINK_ROUTE)?;
    let request = Netconf {
        family,
        attrs: attrs.into_bytes(),
    };
    let Ok(replies) = socket.request(request, 0, || "read the forwarding setting".into()) else {
        return Ok(None);
    };
    Ok(replies
        .iter()
        .filter(|r| r.family == family)
        .find_map(|r| find(&r.attrs, NETCONFA_FORWARDING))
        .and_then(|v| <[u8; 4]>::try_from(v).ok())
        .map(|v| u32::from_ne_bytes(v) != 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_layout_and_answer() {
        let mut a = Attrs::new();
        a.put(NETCONFA_IFINDEX, &NETCONFA_IFINDEX_ALL.to_ne_bytes());
        let req = Netconf {
            family: 2,
            attrs: a.into_bytes(),
        };
        let mut buf = vec![0u8; req.buffer_len()];
        req.serialize(&mut buf);
        assert_eq!(buf, [2, 0, 0, 0, 8, 0, 1, 0, 0xff, 0xff, 0xff, 0xff]);

        let mut answer = Attrs::new();
        answer
            .put(NETCONFA_IFINDEX, &NETCONFA_IFINDEX_ALL.to_ne_bytes())
            .put(NETCONFA_FORWARDING, &1u32.to_ne_bytes());
        let mut payload = vec![10, 0, 0, 0];
        payload.extend(answer.into_bytes());
        let mut header = NetlinkHeader::default();
        header.message_type = RTM_NEWNETCONF;
        let back = Netconf::deserialize(&header, &payload).unwrap();
        assert_eq!(back.family, 10);
        assert_eq!(
            find(&back.attrs, NETCONFA_FORWARDING),
            Some(&[1u8, 0, 0, 0][..])
        );
        // Short or foreign messages are errors, never panics.
        assert!(Netconf::deserialize(&header, &[10]).is_err());
        let mut other = NetlinkHeader::default();
        other.message_type = 16;
        assert!(Netconf::deserialize(&other, &payload).is_err());
    }

    // The answer agrees with the file, in a namespace of the test's own
    // where the switch is flipped both ways.
    #[cfg(feature = "testkit")]
    #[test]
    fn agrees_with_proc_sys() {
        crate::require_root!();
        let ns = crate::testkit::TestNs::new("netconf");
        let netns = ns.open();
        for value in ["1", "0"] {
            let v = value.to_string();
            let seen = netns
                .run(move || {
                    std::fs::write("/proc/sys/net/ipv4/ip_forward", &v)
                        .map_err(|e| crate::Error::io("write ip_forward", e))?;
                    forwarding(Family::V4)
                })
                .unwrap();
            assert_eq!(seen, Some(value == "1"));
        }
    }
}

//! Reading a server's reply off the wire: an IPv4 packet from the packet
//! socket, its UDP datagram to port 68, and the DHCP message in it, which
//! must answer our transaction. Anything else is refused with a reason the
//! lease logs; nothing here may panic on what the network sends (fuzzed by
//! fuzz/fuzz_targets/dhcp_reply.rs).

use dhcproto::v4::{Message, MessageType, Opcode};
use dhcproto::{Decodable, Decoder};

use super::sanitize::sanitize;
use super::socket::{CLIENT_PORT, SERVER_PORT};

const UDP: u8 = 17;

/// Why a packet is not our reply. `NotDhcp` is traffic to be skipped
/// quietly; the others are worth a log line.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    NotDhcp,
    Malformed(String),
    NotOurs,
}

/// The DHCP message of `packet` (an IPv4 packet) if it answers
/// transaction `xid` for hardware address `mac`, with its message type.
pub fn parse(packet: &[u8], xid: u32, mac: &[u8]) -> Result<(Message, MessageType), Refused> {
    let payload = udp_payload(packet)?;
    let clean = sanitize(payload).map_err(Refused::Malformed)?;
    let msg = Message::decode(&mut Decoder::new(&clean))
        .map_err(|e| Refused::Malformed(format!("undecodable DHCP message: {e}")))?;
    if msg.opcode() != Opcode::BootReply || msg.xid() != xid {
        return Err(Refused::NotOurs);
    }
    if !msg.chaddr().starts_with(mac) {
        return Err(Refused::NotOurs);
    }
    let kind = msg
        .opts()
        .msg_type()
        .ok_or_else(|| Refused::Malformed("reply without a message type".into()))?;
    Ok((msg, kind))
}

/// The UDP payload of an IPv4 packet from port 67 to port 68.
fn udp_payload(p: &[u8]) -> Result<&[u8], Refused> {
    let (&vihl, _) = p.split_first().ok_or(Refused::NotDhcp)?;
    if vihl >> 4 != 4 {
        return Err(Refused::NotDhcp);
    }
    let ihl = usize::from(vihl & 0x0f) * 4;
    if ihl < 20 || p.len() < ihl + 8 {
        return Err(Refused::NotDhcp);
    }
    if p[9] != UDP {
        return Err(Refused::NotDhcp);
    }
    // Fragments carry no UDP header of their own; a DHCP reply fits one packet.
    let frag = u16::from_be_bytes([p[6], p[7]]);
    if frag & 0x3fff != 0 {
        return Err(Refused::NotDhcp);
    }
    let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
    let end = total.min(p.len());
    let udp = p.get(ihl..end).ok_or(Refused::NotDhcp)?;
    if udp.len() < 8 {
        return Err(Refused::NotDhcp);
    }
    let src = u16::from_be_bytes([udp[0], udp[1]]);
    let dst = u16::from_be_bytes([udp[2], udp[3]]);
    if src != SERVER_PORT || dst != CLIENT_PORT {
        return Err(Refused::NotDhcp);
    }
    let len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
    if len < 8 || len > udp.len() {
        return Err(Refused::Malformed(format!(
            "UDP length {len} does not fit the {} bytes received",
            udp.len()
        )));
    }
    Ok(&udp[8..len])
}

#[cfg(test)]
mod tests {
    use super::*;
    use dhcproto::Encodable;
    use dhcproto::v4::DhcpOption;
    use std::net::Ipv4Addr;

    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

    fn reply(xid: u32, op: Opcode, kind: Option<MessageType>) -> Vec<u8> {
        let mut m = Message::new_with_id(
            xid,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::new(10, 0, 0, 5),
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            &MAC,
        );
        m.set_opcode(op);
        if let Some(k) = kind {
            m.opts_mut().insert(DhcpOption::MessageType(k));
        }
        m.to_vec().unwrap()
    }

    fn ip_udp(payload: &[u8], sport: u16, dport: u16) -> Vec<u8> {
        let total = 28 + payload.len();
        let mut p = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, UDP, 0, 0, 10, 0, 0, 1, 10, 0, 0, 5,
        ];
        p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn accepts_only_our_replies() {
        let offer = reply(7, Opcode::BootReply, Some(MessageType::Offer));
        let (m, k) = parse(&ip_udp(&offer, 67, 68), 7, &MAC).unwrap();
        assert_eq!(
            (m.yiaddr(), k),
            (Ipv4Addr::new(10, 0, 0, 5), MessageType::Offer)
        );

        let mut truncated_udp = ip_udp(&offer, 67, 68);
        truncated_udp[24..26].copy_from_slice(&9999u16.to_be_bytes());
        let cases: Vec<(Vec<u8>, u32, Refused)> = vec![
            (ip_udp(&offer, 67, 68), 8, Refused::NotOurs),
            (
                ip_udp(
                    &reply(7, Opcode::BootRequest, Some(MessageType::Discover)),
                    67,
                    68,
                ),
                7,
                Refused::NotOurs,
            ),
            (ip_udp(&offer, 53, 68), 7, Refused::NotDhcp),
            (ip_udp(&offer, 67, 69), 7, Refused::NotDhcp),
            (vec![], 7, Refused::NotDhcp),
            (vec![0x60; 40], 7, Refused::NotDhcp),
            (ip_udp(&offer, 67, 68)[..27].to_vec(), 7, Refused::NotDhcp),
        ];
        for (packet, xid, want) in cases {
            assert_eq!(parse(&packet, xid, &MAC).unwrap_err(), want);
        }
        assert!(matches!(
            parse(&truncated_udp, 7, &MAC),
            Err(Refused::Malformed(_))
        ));
        let untyped = reply(7, Opcode::BootReply, None);
        assert!(matches!(
            parse(&ip_udp(&untyped, 67, 68), 7, &MAC),
            Err(Refused::Malformed(_))
        ));
        assert!(matches!(
            parse(&ip_udp(&[1, 2, 3], 67, 68), 7, &MAC),
            Err(Refused::Malformed(_))
        ));
        let other_mac = [2, 0, 0, 0, 0, 2];
        assert_eq!(
            parse(&ip_udp(&offer, 67, 68), 7, &other_mac).unwrap_err(),
            Refused::NotOurs
        );
    }
}

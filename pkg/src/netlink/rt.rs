//! The rtnetlink messages the suite's link, address, route and netns-id
//! verbs send and read, as the transport's message type. Each message is
//! encoded and decoded by netlink-packet-route's own type for it; what this
//! adds is the choice: `RouteNetlinkMessage`'s codec covers the whole
//! family, and linking it puts the parsers and emitters of every kind the
//! plugins never see (tc filters and actions, neighbours, rules, ...) in
//! every binary. Traffic control has its codec in the plugin that uses it.

use netlink_packet_core::{
    DecodeError, Emitable, NetlinkDeserializable, NetlinkHeader, NetlinkSerializable, NlasIterator,
    Parseable, ParseableParametrized,
};
use netlink_packet_route::AddressFamily;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::{LinkAttribute, LinkHeader, LinkMessage};
use netlink_packet_route::nsid::NsidMessage;
use netlink_packet_route::route::RouteMessage;

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const RTM_SETLINK: u16 = 19;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_GETADDR: u16 = 22;
const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
const RTM_GETROUTE: u16 = 26;
const RTM_NEWNSID: u16 = 88;
const RTM_GETNSID: u16 = 90;

/// A link, address, route or netns-id message.
#[derive(Debug, Clone)]
pub struct Rt(pub RouteNetlinkMessage);

/// The inner message of a kind this codec carries.
enum Inner<'a> {
    Link(&'a LinkMessage),
    Address(&'a AddressMessage),
    Route(&'a RouteMessage),
    Nsid(&'a NsidMessage),
    /// A kind it does not carry: never built by this suite.
    None,
}

impl Rt {
    fn inner(&self) -> (u16, Inner<'_>) {
        use RouteNetlinkMessage as M;
        match &self.0 {
            M::NewLink(m) => (RTM_NEWLINK, Inner::Link(m)),
            M::DelLink(m) => (RTM_DELLINK, Inner::Link(m)),
            M::GetLink(m) => (RTM_GETLINK, Inner::Link(m)),
            M::SetLink(m) => (RTM_SETLINK, Inner::Link(m)),
            M::NewAddress(m) => (RTM_NEWADDR, Inner::Address(m)),
            M::DelAddress(m) => (RTM_DELADDR, Inner::Address(m)),
            M::GetAddress(m) => (RTM_GETADDR, Inner::Address(m)),
            M::NewRoute(m) => (RTM_NEWROUTE, Inner::Route(m)),
            M::DelRoute(m) => (RTM_DELROUTE, Inner::Route(m)),
            M::GetRoute(m) => (RTM_GETROUTE, Inner::Route(m)),
            M::NewNsId(m) => (RTM_NEWNSID, Inner::Nsid(m)),
            M::GetNsId(m) => (RTM_GETNSID, Inner::Nsid(m)),
            _ => (0, Inner::None),
        }
    }
}

impl NetlinkSerializable for Rt {
    fn message_type(&self) -> u16 {
        self.inner().0
    }

    fn buffer_len(&self) -> usize {
        match self.inner().1 {
            Inner::Link(m) => m.buffer_len(),
            Inner::Address(m) => m.buffer_len(),
            Inner::Route(m) => m.buffer_len(),
            Inner::Nsid(m) => m.buffer_len(),
            Inner::None => 0,
        }
    }

    fn serialize(&self, buffer: &mut [u8]) {
        match self.inner().1 {
            Inner::Link(m) => m.emit(buffer),
            Inner::Address(m) => m.emit(buffer),
            Inner::Route(m) => m.emit(buffer),
            Inner::Nsid(m) => m.emit(buffer),
            Inner::None => {}
        }
    }
}

impl NetlinkDeserializable for Rt {
    type Error = DecodeError;

    fn deserialize(header: &NetlinkHeader, payload: &[u8]) -> Result<Rt, DecodeError> {
        use RouteNetlinkMessage as M;
        Ok(Rt(match header.message_type {
            RTM_NEWLINK => M::NewLink(parse_link(payload)?),
            // Only as a notification (`LinkEvents`): a link went away.
            RTM_DELLINK => M::DelLink(parse_link(payload)?),
            RTM_NEWADDR => M::NewAddress(AddressMessage::parse(payload)?),
            RTM_NEWROUTE => M::NewRoute(RouteMessage::parse(payload)?),
            RTM_NEWNSID => M::NewNsId(NsidMessage::parse(payload)?),
            other => {
                return Err(DecodeError::from(format!(
                    "unexpected rtnetlink message type {other}"
                )));
            }
        }))
    }
}

/// The link attributes the suite reads (`Link` and its accessors, the
/// plugins' checks): IFLA_ADDRESS, IFNAME, MTU, LINK, MASTER, TXQLEN,
/// OPERSTATE, LINKINFO, IFALIAS, LINK_NETNSID, MIN_MTU, MAX_MTU. The
/// others (counters, every protocol's settings, XDP, alternative names,
/// ...) are most of a link's description, and decoding all of them into
/// netlink-packet-route's types was a fifth of a bridge ADD's
/// instructions. A plugin that starts reading another attribute adds it
/// here.
const LINK_ATTRS_READ: [u16; 12] = [1, 3, 4, 5, 10, 13, 16, 18, 20, 37, 50, 51];
/// IFLA_AF_SPEC: read in the bridge family's answers only (VLANs).
const IFLA_AF_SPEC: u16 = 26;
/// The size of `struct ifinfomsg`.
const LINK_HEADER_LEN: usize = 16;

/// A link message with the attributes of [`LINK_ATTRS_READ`] decoded and
/// the rest skipped unread.
fn parse_link(payload: &[u8]) -> Result<LinkMessage, DecodeError> {
    let header = LinkHeader::parse(payload)?;
    let family = header.interface_family;
    let mut msg = LinkMessage::default();
    msg.header = header;
    let Some(attrs) = payload.get(LINK_HEADER_LEN..) else {
        return Ok(msg);
    };
    for nla in NlasIterator::new(attrs) {
        let nla = nla?;
        let kind = nla.kind();
        if LINK_ATTRS_READ.contains(&kind)
            || (kind == IFLA_AF_SPEC && family == AddressFamily::Bridge)
        {
            msg.attributes
                .push(LinkAttribute::parse_with_param(&nla, family)?);
        }
    }
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_route::link::State;

    fn emitted(msg: &LinkMessage) -> Vec<u8> {
        let mut buf = vec![0u8; msg.buffer_len()];
        msg.emit(&mut buf);
        buf
    }

    // What the suite reads survives the decoding, in order; the rest is
    // left out; a truncated message is an error, never a panic.
    #[test]
    fn links_keep_the_attributes_read() {
        let mut msg = LinkMessage::default();
        msg.header.index = 7;
        msg.attributes = vec![
            LinkAttribute::IfName("veth0".into()),
            LinkAttribute::Group(3),
            LinkAttribute::Mtu(1450),
            LinkAttribute::NumTxQueues(2),
            LinkAttribute::TxQueueLen(1000),
            LinkAttribute::OperState(State::Up),
            LinkAttribute::Address(vec![2, 0, 0, 0, 0, 1]),
            LinkAttribute::Promiscuity(1),
            LinkAttribute::Controller(4),
            LinkAttribute::LinkNetNsId(0),
            LinkAttribute::MinMtu(68),
            LinkAttribute::MaxMtu(65535),
        ];
        let bytes = emitted(&msg);
        let back = parse_link(&bytes).unwrap();
        assert_eq!(back.header.index, 7);
        let mut kept = msg.attributes.clone();
        kept.retain(|a| {
            !matches!(
                a,
                LinkAttribute::Group(_)
                    | LinkAttribute::NumTxQueues(_)
                    | LinkAttribute::Promiscuity(_)
            )
        });
        assert_eq!(back.attributes, kept);
        assert_eq!(
            LinkMessage::parse(&bytes).unwrap().attributes,
            msg.attributes
        );
        for cut in 0..bytes.len() {
            let _ = parse_link(&bytes[..cut]);
        }
        assert!(parse_link(&bytes[..8]).is_err());
    }
}

//! The rtnetlink messages the suite's link, address, route and netns-id
//! verbs send and read, as the transport's message type. Each message is
//! encoded and decoded by netlink-packet-route's own type for it; what this
//! adds is the choice: `RouteNetlinkMessage`'s codec covers the whole
//! family, and linking it puts the parsers and emitters of every kind the
//! plugins never see (tc filters and actions, neighbours, rules, ...) in
//! every binary. Traffic control has its codec in the plugin that uses it.

use netlink_packet_core::{
    DecodeError, Emitable, NetlinkDeserializable, NetlinkHeader, NetlinkSerializable, Parseable,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::LinkMessage;
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
            RTM_NEWLINK => M::NewLink(LinkMessage::parse(payload)?),
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

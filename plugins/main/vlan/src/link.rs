//! vlan links: the message of `ip link add ... link <master> type vlan id
//! <id>` (which `pkg::attach::Attachment::add_link` sends straight into the
//! container netns) and reading a vlan's id back.

use netlink_packet_route::link::{InfoData, InfoVlan, LinkMessage};
use rtnetlink::LinkVlan;

use pkg::netlink::Link;

/// `ip link add <name> link <master> [mtu <mtu>] type vlan id <id>`
/// (protocol 802.1Q, the kernel's default), and its description for
/// errors. `master` is an index in the master's namespace; `mtu` 0 is the
/// master's. The link is created down.
pub fn message(name: &str, master: u32, id: u16, mtu: u32) -> (LinkMessage, String) {
    let mut b = LinkVlan::new(name, master, id);
    if mtu != 0 {
        b = b.mtu(mtu);
    }
    let what = format!("{name} (vlan, id {id}, master index {master})");
    (b.build(), what)
}

/// The VLAN id of a vlan link (`None` for other kinds).
pub fn id_of(link: &Link) -> Option<u16> {
    match link.info_data() {
        Some(InfoData::Vlan(infos)) => infos.iter().find_map(|i| match i {
            InfoVlan::Id(id) => Some(*id),
            _ => None,
        }),
        _ => None,
    }
}

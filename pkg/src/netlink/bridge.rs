//! Bridges and bridge ports: the `ip link ... type bridge`, `bridge link`
//! and `bridge vlan` verbs.

use netlink_packet_route::AddressFamily;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{
    AfSpecBridge, BridgeVlanInfo, BridgeVlanInfoFlags, InfoBridgePort, InfoPortData, InfoPortKind,
    LinkAttribute, LinkExtentMask, LinkMessage,
};
use rtnetlink::{LinkBridge, LinkUnspec};

use super::Netlink;
use crate::error::Result;

/// One VLAN of a bridge port, or of the bridge itself (`bridge vlan show`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BridgeVlan {
    pub vid: u16,
    /// Untagged frames coming in are put in this VLAN.
    pub pvid: bool,
    /// Frames of this VLAN leave untagged.
    pub untagged: bool,
}

impl Netlink {
    /// `ip link add <name> [mtu] type bridge [vlan_filtering 1]`.
    pub fn bridge_add(&mut self, name: &str, mtu: u32, vlan_filtering: bool) -> Result<()> {
        let mut b = LinkBridge::new(name);
        if mtu != 0 {
            b = b.mtu(mtu);
        }
        if vlan_filtering {
            b = b.vlan_filtering(true);
        }
        self.link_add(b.build(), &format!("{name} (bridge)"))
    }

    /// `ip link set <bridge> type bridge vlan_filtering 1`.
    pub fn bridge_set_vlan_filtering(&mut self, index: u32) -> Result<()> {
        let msg = LinkBridge::new("")
            .index(index)
            .vlan_filtering(true)
            .build();
        // an empty name attribute would rename; keep only index + linkinfo
        let mut msg = msg;
        msg.attributes
            .retain(|a| !matches!(a, LinkAttribute::IfName(_)));
        self.request(RouteNetlinkMessage::NewLink(msg), 0, || {
            format!("enable vlan_filtering on bridge index {index}")
        })
        .map(drop)
    }

    /// `ip link set <port> type bridge_slave hairpin <on|off> isolated <on|off>`.
    pub fn bridge_port_set(&mut self, index: u32, hairpin: bool, isolated: bool) -> Result<()> {
        let msg = LinkUnspec::new_with_index(index)
            .set_port_kind(InfoPortKind::Bridge)
            .set_port_data(InfoPortData::BridgePort(vec![
                InfoBridgePort::HairpinMode(hairpin),
                InfoBridgePort::Isolated(isolated),
            ]))
            .build();
        self.request(RouteNetlinkMessage::NewLink(msg), 0, || {
            format!("set bridge port index {index} hairpin {hairpin} isolated {isolated}")
        })
        .map(drop)
    }

    /// `bridge vlan add dev <port> vid <vid> [pvid] [untagged]`.
    pub fn bridge_vlan_add(
        &mut self,
        index: u32,
        vid: u16,
        pvid: bool,
        untagged: bool,
    ) -> Result<()> {
        let mut flags = BridgeVlanInfoFlags::empty();
        if pvid {
            flags |= BridgeVlanInfoFlags::Pvid;
        }
        if untagged {
            flags |= BridgeVlanInfoFlags::Untagged;
        }
        let msg = vlan_message(index, vid, flags);
        self.request(RouteNetlinkMessage::SetLink(msg), 0, || {
            format!("add vlan {vid} to bridge port index {index}")
        })
        .map(drop)
    }

    /// `bridge vlan show dev <index>`: the VLANs of a bridge port, or of
    /// the bridge itself; empty for a link with none. Asked for in ranges,
    /// as `bridge` asks: the dump covers every port of the namespace, and a
    /// port trunking thousands of VLANs is then a few entries, not one per
    /// VID.
    pub fn bridge_vlan_list(&mut self, index: u32) -> Result<Vec<BridgeVlan>> {
        let mut req = LinkMessage::default();
        req.header.interface_family = AddressFamily::Bridge;
        req.attributes.push(LinkAttribute::ExtMask(vec![
            LinkExtentMask::BrvlanCompressed,
        ]));
        let replies = self.dump(RouteNetlinkMessage::GetLink(req), || {
            format!("list vlans of link index {index}")
        })?;
        let mut infos = Vec::new();
        for reply in replies {
            let RouteNetlinkMessage::NewLink(m) = reply else {
                continue;
            };
            if m.header.index != index {
                continue;
            }
            for attr in m.attributes {
                if let LinkAttribute::AfSpecBridge(spec) = attr {
                    infos.extend(spec.into_iter().filter_map(|e| match e {
                        AfSpecBridge::VlanInfo(info) => Some(info),
                        _ => None,
                    }));
                }
            }
        }
        Ok(expand_ranges(&infos))
    }

    /// `bridge vlan del dev <port> vid <vid>`.
    pub fn bridge_vlan_del(&mut self, index: u32, vid: u16) -> Result<()> {
        let msg = vlan_message(index, vid, BridgeVlanInfoFlags::empty());
        self.request(RouteNetlinkMessage::DelLink(msg), 0, || {
            format!("delete vlan {vid} from bridge port index {index}")
        })
        .map(drop)
    }
}

fn vlan_message(
    index: u32,
    vid: u16,
    flags: BridgeVlanInfoFlags,
) -> netlink_packet_route::link::LinkMessage {
    let mut msg = LinkUnspec::new_with_index(index).build();
    msg.header.interface_family = AddressFamily::Bridge;
    msg.attributes
        .push(LinkAttribute::AfSpecBridge(vec![AfSpecBridge::VlanInfo(
            BridgeVlanInfo { flags, vid },
        )]));
    msg
}

/// VLAN entries with ranges (a RANGE_BEGIN entry, then a RANGE_END one
/// carrying the range's flags) as one entry per VID.
fn expand_ranges(infos: &[BridgeVlanInfo]) -> Vec<BridgeVlan> {
    let mut out = Vec::new();
    let mut begin = None;
    for info in infos {
        if info.flags.contains(BridgeVlanInfoFlags::RangeBegin) {
            begin = Some(info.vid);
            continue;
        }
        let first = begin.take().unwrap_or(info.vid).min(info.vid);
        out.extend((first..=info.vid).map(|vid| BridgeVlan {
            vid,
            pvid: info.flags.contains(BridgeVlanInfoFlags::Pvid),
            untagged: info.flags.contains(BridgeVlanInfoFlags::Untagged),
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_expanded() {
        let info = |vid: u16, flags: BridgeVlanInfoFlags| BridgeVlanInfo { flags, vid };
        let v = |vid: u16, pvid: bool, untagged: bool| BridgeVlan {
            vid,
            pvid,
            untagged,
        };
        use BridgeVlanInfoFlags as F;
        let cases = [
            (vec![], vec![]),
            (vec![info(1, F::Pvid | F::Untagged)], vec![v(1, true, true)]),
            (
                vec![
                    info(1, F::Pvid | F::Untagged),
                    info(10, F::RangeBegin),
                    info(12, F::RangeEnd),
                    info(20, F::RangeBegin | F::Untagged),
                    info(21, F::RangeEnd | F::Untagged),
                    info(30, F::empty()),
                ],
                vec![
                    v(1, true, true),
                    v(10, false, false),
                    v(11, false, false),
                    v(12, false, false),
                    v(20, false, true),
                    v(21, false, true),
                    v(30, false, false),
                ],
            ),
        ];
        for (infos, want) in cases {
            assert_eq!(expand_ranges(&infos), want, "{infos:?}");
        }
    }
}

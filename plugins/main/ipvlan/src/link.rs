//! ipvlan links: the message of `ip link add ... link <master> type ipvlan
//! mode <mode>` (which `pkg::attach::Attachment::add_link` sends straight
//! into the container netns) and reading an ipvlan's mode back.

use netlink_packet_route::link::{InfoData, InfoIpVlan, IpVlanMode, LinkMessage};
use rtnetlink::LinkIpVlan;

use pkg::netlink::Link;

/// The ipvlan modes: L2 switches frames between the ipvlans of a master
/// by MAC (they all have the master's), L3 routes packets by address and
/// L3S is L3 through the host's netfilter hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    L2,
    L3,
    L3s,
}

impl Mode {
    /// A config's `mode`: empty means `l2`, as in Go.
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "" | "l2" => Some(Mode::L2),
            "l3" => Some(Mode::L3),
            "l3s" => Some(Mode::L3s),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::L2 => "l2",
            Mode::L3 => "l3",
            Mode::L3s => "l3s",
        }
    }

    fn to_kernel(self) -> IpVlanMode {
        match self {
            Mode::L2 => IpVlanMode::L2,
            Mode::L3 => IpVlanMode::L3,
            Mode::L3s => IpVlanMode::L3S,
        }
    }

    fn from_kernel(m: IpVlanMode) -> Option<Mode> {
        match m {
            IpVlanMode::L2 => Some(Mode::L2),
            IpVlanMode::L3 => Some(Mode::L3),
            IpVlanMode::L3S => Some(Mode::L3s),
            _ => None,
        }
    }
}

/// `ip link add <name> link <master> [mtu <mtu>] type ipvlan mode
/// <mode>`, and its description for errors. `master` is an index in the
/// master's namespace; `mtu` 0 is the master's. The link is created down.
pub fn message(name: &str, master: u32, mode: Mode, mtu: u32) -> (LinkMessage, String) {
    let mut b = LinkIpVlan::new(name, master, mode.to_kernel());
    if mtu != 0 {
        b = b.mtu(mtu);
    }
    let what = format!(
        "{name} (ipvlan, mode {}, master index {master})",
        mode.as_str()
    );
    (b.build(), what)
}

/// The mode of an ipvlan link (`None` for other kinds or unknown modes).
pub fn mode_of(link: &Link) -> Option<Mode> {
    match link.info_data() {
        Some(InfoData::IpVlan(infos)) => infos.iter().find_map(|i| match i {
            InfoIpVlan::Mode(m) => Mode::from_kernel(*m),
            _ => None,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        for (s, m) in [
            ("", Mode::L2),
            ("l2", Mode::L2),
            ("l3", Mode::L3),
            ("l3s", Mode::L3s),
        ] {
            assert_eq!(Mode::parse(s), Some(m), "{s:?}");
            assert_eq!(Mode::from_kernel(m.to_kernel()), Some(m));
        }
        for bad in ["L2", "l3S", "bridge", "l4", " l2"] {
            assert_eq!(Mode::parse(bad), None, "{bad}");
        }
        assert_eq!(Mode::from_kernel(IpVlanMode::Other(9)), None);
        assert_eq!(Mode::L3s.as_str(), "l3s");
    }
}

//! macvlan links: the message of `ip link add ... link <master> type
//! macvlan` (which `pkg::attach::Attachment::add_link` sends straight into
//! the container netns) and reading a macvlan's settings back.

use netlink_packet_route::link::{InfoData, InfoMacVlan, LinkMessage, MacVlanMode};
use rtnetlink::LinkMacVlan;

use pkg::netlink::Link;

/// The macvlan modes a CNI config can ask for, plus `source` for reading
/// back links made by something else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Private,
    Vepa,
    Bridge,
    Passthru,
    Source,
}

impl Mode {
    /// A config's `mode`: empty means `bridge`, as in Go. `source` needs a
    /// MAC list CNI has no key for, so it is not accepted.
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "" | "bridge" => Some(Mode::Bridge),
            "private" => Some(Mode::Private),
            "vepa" => Some(Mode::Vepa),
            "passthru" => Some(Mode::Passthru),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Private => "private",
            Mode::Vepa => "vepa",
            Mode::Bridge => "bridge",
            Mode::Passthru => "passthru",
            Mode::Source => "source",
        }
    }

    fn to_kernel(self) -> MacVlanMode {
        match self {
            Mode::Private => MacVlanMode::Private,
            Mode::Vepa => MacVlanMode::Vepa,
            Mode::Bridge => MacVlanMode::Bridge,
            Mode::Passthru => MacVlanMode::Passthrough,
            Mode::Source => MacVlanMode::Source,
        }
    }

    fn from_kernel(m: MacVlanMode) -> Option<Mode> {
        Some(match m {
            MacVlanMode::Private => Mode::Private,
            MacVlanMode::Vepa => Mode::Vepa,
            MacVlanMode::Bridge => Mode::Bridge,
            MacVlanMode::Passthrough => Mode::Passthru,
            MacVlanMode::Source => Mode::Source,
            _ => return None,
        })
    }
}

/// What to create. `master` is an index in the master's namespace.
#[derive(Debug, Clone, Copy)]
pub struct MacvlanSpec {
    pub master: u32,
    pub mode: Mode,
    /// 0 = the master's MTU.
    pub mtu: u32,
    pub mac: Option<[u8; 6]>,
    /// IFLA_MACVLAN_BC_QUEUE_LEN; `None` = kernel default.
    pub bc_queue_len: Option<u32>,
}

/// `ip link add <name> link <master> [mtu] [address] type macvlan mode
/// <mode> [bcqueuelen]`, and its description for errors. The link is
/// created down.
pub fn message(name: &str, spec: &MacvlanSpec) -> (LinkMessage, String) {
    let mut b = LinkMacVlan::new(name, spec.master, spec.mode.to_kernel());
    if let Some(len) = spec.bc_queue_len {
        b = b.append_info_data(InfoMacVlan::BcQueueLen(len));
    }
    if spec.mtu != 0 {
        b = b.mtu(spec.mtu);
    }
    if let Some(mac) = spec.mac {
        b = b.address(mac.to_vec());
    }
    let what = format!(
        "{name} (macvlan, mode {}, master index {})",
        spec.mode.as_str(),
        spec.master
    );
    (b.build(), what)
}

fn macvlan_info(link: &Link) -> impl Iterator<Item = &InfoMacVlan> {
    match link.info_data() {
        Some(InfoData::MacVlan(data)) => data.as_slice(),
        _ => &[],
    }
    .iter()
}

/// The mode of a macvlan link (`None` for other kinds or unknown modes).
pub fn mode_of(link: &Link) -> Option<Mode> {
    macvlan_info(link).find_map(|i| match i {
        InfoMacVlan::Mode(m) => Mode::from_kernel(*m),
        _ => None,
    })
}

/// The broadcast queue length a macvlan asked for (kernel ≥ 5.11).
pub fn bc_queue_len_of(link: &Link) -> Option<u32> {
    macvlan_info(link).find_map(|i| match i {
        InfoMacVlan::BcQueueLen(n) => Some(*n),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        for (s, m) in [
            ("", Mode::Bridge),
            ("bridge", Mode::Bridge),
            ("private", Mode::Private),
            ("vepa", Mode::Vepa),
            ("passthru", Mode::Passthru),
        ] {
            assert_eq!(Mode::parse(s), Some(m), "{s:?}");
            assert_eq!(Mode::from_kernel(m.to_kernel()), Some(m));
        }
        for bad in ["Bridge", "source", "passthrough", "l2"] {
            assert_eq!(Mode::parse(bad), None, "{bad}");
        }
        assert_eq!(Mode::Passthru.as_str(), "passthru");
    }
}

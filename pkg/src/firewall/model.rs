//! The one description of firewall state that every layout (masquerade,
//! port mappings, the firewall plugin's forwarding rules, the MAC spoof
//! check) writes its wishes in, and every backend reads it into and
//! applies it from: tables, chains, and rules made of matches, an action
//! and a comment. A rule is told apart from others by its chain, comment
//! and action target (its key) and compared as a whole by value, however
//! the backend listed it.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use super::nft::dialect::{Codec, IPTABLES, NFT};

/// An nf_tables family, which is also how iptables-nft files its tables
/// (`ip nat` is `iptables -t nat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Ip,
    Ip6,
    Inet,
    Bridge,
}

impl Family {
    /// Of an address or network.
    pub fn of(net: &IpNet) -> Family {
        Family::of_addr(net.addr())
    }

    pub fn of_addr(ip: IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::Ip,
            IpAddr::V6(_) => Family::Ip6,
        }
    }

    /// The nfgenmsg family (`NFPROTO_*`).
    pub fn nfproto(self) -> u8 {
        match self {
            Family::Inet => 1,
            Family::Ip => 2,
            Family::Bridge => 7,
            Family::Ip6 => 10,
        }
    }

    /// As nft spells it.
    pub fn name(self) -> &'static str {
        match self {
            Family::Ip => "ip",
            Family::Ip6 => "ip6",
            Family::Inet => "inet",
            Family::Bridge => "bridge",
        }
    }
}

/// Who writes a table's rules, which decides how a rule is encoded: by
/// iptables (iptables-nft stores its matches and targets as nf_tables
/// expressions and xtables extensions; legacy iptables keeps them apart
/// from nf_tables) or by nft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    Iptables,
    Nft,
}

#[derive(Clone, Copy)]
pub struct Table {
    pub family: Family,
    pub name: &'static str,
    pub dialect: Dialect,
    /// How its rules become nf_tables expressions and back. Reached only
    /// through the tables a plugin names, so that a plugin with iptables
    /// tables alone does not link nft's encoding, and the reverse.
    pub(crate) codec: &'static Codec,
}

impl PartialEq for Table {
    fn eq(&self, other: &Table) -> bool {
        (self.family, self.name, self.dialect) == (other.family, other.name, other.dialect)
    }
}

impl Eq for Table {}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.family.name(), self.name)
    }
}

impl Table {
    /// An iptables table (`nat`, `filter`) of `family` (`Ip` or `Ip6`).
    pub const fn iptables(family: Family, name: &'static str) -> Table {
        Table {
            family,
            name,
            dialect: Dialect::Iptables,
            codec: &IPTABLES,
        }
    }

    pub const fn nft(family: Family, name: &'static str) -> Table {
        Table {
            family,
            name,
            dialect: Dialect::Nft,
            codec: &NFT,
        }
    }

    /// `iptables`/`ip6tables` for an iptables table.
    pub fn tool(&self) -> &'static str {
        match self.family {
            Family::Ip6 => "ip6tables",
            _ => "iptables",
        }
    }

    /// How messages name it: `iptables table nat`, `nftables table inet t`.
    pub fn describe(&self) -> String {
        match self.dialect {
            Dialect::Iptables => format!("{} table {}", self.tool(), self.name),
            Dialect::Nft => format!("nftables table {} {}", self.family.name(), self.name),
        }
    }
}

/// Where a base chain hooks in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    Prerouting,
    Input,
    Forward,
    Output,
    Postrouting,
}

impl Hook {
    /// `NF_INET_*` (the bridge family numbers its hooks the same).
    pub fn number(self) -> u32 {
        match self {
            Hook::Prerouting => 0,
            Hook::Input => 1,
            Hook::Forward => 2,
            Hook::Output => 3,
            Hook::Postrouting => 4,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Hook::Prerouting => "prerouting",
            Hook::Input => "input",
            Hook::Forward => "forward",
            Hook::Output => "output",
            Hook::Postrouting => "postrouting",
        }
    }
}

/// What a base chain is: `type <kind> hook <hook> priority <priority>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BaseChain {
    /// `nat` or `filter`.
    pub kind: &'static str,
    pub hook: Hook,
    pub priority: i32,
    /// Say `policy accept` (the kernel's default either way).
    pub accept_policy: bool,
}

/// A chain as a layout declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub name: String,
    pub base: Option<BaseChain>,
    pub comment: Option<&'static str>,
}

impl Chain {
    pub fn regular(name: impl Into<String>) -> Chain {
        Chain {
            name: name.into(),
            base: None,
            comment: None,
        }
    }
}

/// IP protocols the rules match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Sctp,
    Tcp,
    Udp,
}

impl Protocol {
    /// `tcp`, `udp` or `sctp` in any case.
    pub fn parse(s: &str) -> Option<Protocol> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Some(Protocol::Tcp),
            "udp" => Some(Protocol::Udp),
            "sctp" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }

    pub fn number(self) -> u8 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
        }
    }

    pub fn from_number(n: u8) -> Option<Protocol> {
        match n {
            6 => Some(Protocol::Tcp),
            17 => Some(Protocol::Udp),
            132 => Some(Protocol::Sctp),
            _ => None,
        }
    }
}

/// conntrack states (`--ctstate`, `ct state`), as the kernel's bits.
pub mod ct {
    pub const ESTABLISHED: u16 = 1 << 1;
    pub const RELATED: u16 = 1 << 2;
}

/// One condition of a rule. In the iptables dialect the first five are
/// iptables' own fields (`-s -d -i -o -p`) and the rest its `-m`
/// extensions, in order; in the nft dialect they are statements in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// Source address within the network (`[!] -s`, `ip saddr [!=]`).
    Src { negate: bool, net: IpNet },
    /// Destination address within the network.
    Dst { negate: bool, net: IpNet },
    /// Incoming interface (`[!] -i`, `iifname [!=]`).
    InIface { negate: bool, name: String },
    /// Outgoing interface.
    OutIface { negate: bool, name: String },
    /// `-p <proto>`; in the nft dialect implied by [`Match::Dport`].
    Proto(Protocol),
    /// `-m <proto> --dport N`, `<proto> dport N`.
    Dport(Protocol, u16),
    /// `-m multiport --dports a,b` (at most 15).
    Dports(Vec<u16>),
    /// `-m addrtype --dst-type LOCAL`.
    DstLocal,
    /// `fib daddr type local`.
    FibDaddrLocal,
    /// `-m conntrack --ctstate` with these [`ct`] bits.
    CtState(u16),
    /// `-m mark --mark value/mask`.
    Mark { value: u32, mask: u32 },
    /// `ether saddr` (bridge family).
    EtherSrc([u8; 6]),
    /// Words in the tool's own syntax, from the operator (portmap's
    /// `conditionsV4`/`V6`): only the tool can apply them.
    Raw(Vec<String>),
    /// Something listed that no layout of ours writes.
    Unknown(String),
}

/// What a rule does when it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing (a marker rule).
    None,
    Accept,
    Drop,
    Return,
    Jump(String),
    Goto(String),
    Masquerade,
    /// `-j DNAT --to-destination`, `dnat to`.
    Dnat(SocketAddr),
    /// `-j MARK --set-xmark value/mask`.
    SetMark {
        value: u32,
        mask: u32,
    },
    /// Listed, not one of ours.
    Unknown(String),
}

impl Action {
    /// The chain a jump or goto names.
    pub fn target_chain(&self) -> Option<&str> {
        match self {
            Action::Jump(c) | Action::Goto(c) => Some(c),
            _ => None,
        }
    }
}

/// How a listed rule is found again to delete it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Handle {
    /// Not listed: a rule a layout wants.
    #[default]
    None,
    /// The nf_tables rule handle.
    Nft(u64),
    /// The words `iptables -S` printed after `-A <chain>`, for `-D`.
    Args(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub chain: String,
    pub matches: Vec<Match>,
    pub action: Action,
    pub comment: Option<String>,
    pub handle: Handle,
}

impl Rule {
    pub fn new(chain: impl Into<String>, matches: Vec<Match>, action: Action) -> Rule {
        Rule {
            chain: chain.into(),
            matches,
            action,
            comment: None,
            handle: Handle::None,
        }
    }

    pub fn with_comment(mut self, comment: impl Into<String>) -> Rule {
        self.comment = Some(comment.into());
        self
    }

    /// Same chain, conditions, action and comment, however listed. The
    /// conditions all have to hold, so their order does not count (the
    /// tools write some in an order of their own).
    pub fn same_as(&self, other: &Rule) -> bool {
        self.chain == other.chain
            && self.action == other.action
            && self.comment == other.comment
            && self.matches.len() == other.matches.len()
            && self.matches.iter().all(|m| {
                let count = |list: &[Match]| list.iter().filter(|x| *x == m).count();
                count(&self.matches) == count(&other.matches)
            })
    }

    /// The chain its action jumps or goes to.
    pub fn target_chain(&self) -> Option<&str> {
        self.action.target_chain()
    }

    /// Whether every part of it is one the model decodes: nothing
    /// [`Match::Unknown`], [`Match::Raw`] or [`Action::Unknown`].
    pub fn is_known(&self) -> bool {
        !matches!(self.action, Action::Unknown(_))
            && !self
                .matches
                .iter()
                .any(|m| matches!(m, Match::Unknown(_) | Match::Raw(_)))
    }

    pub fn has_raw(&self) -> bool {
        self.matches.iter().any(|m| matches!(m, Match::Raw(_)))
    }

    /// The source network of a `Src` match that is not negated.
    pub fn src(&self) -> Option<IpNet> {
        self.matches.iter().find_map(|m| match m {
            Match::Src { negate: false, net } => Some(*net),
            _ => None,
        })
    }

    /// Every address it names (matches and DNAT destination).
    pub fn mentions(&self, ip: IpAddr) -> bool {
        let in_match = self.matches.iter().any(|m| match m {
            Match::Src { net, .. } | Match::Dst { net, .. } => net.addr() == ip,
            _ => false,
        });
        in_match || matches!(self.action, Action::Dnat(to) if to.ip() == ip)
    }
}

/// The address as a /32 or /128 network.
pub fn host(ip: IpAddr) -> IpNet {
    IpNet::from(ip)
}

/// Multicast of the family: what masquerade leaves alone.
pub fn multicast(family: Family) -> IpNet {
    match family {
        Family::Ip6 => IpNet::V6(ipnet::Ipv6Net::new_assert(
            [0xff00, 0, 0, 0, 0, 0, 0, 0].into(),
            8,
        )),
        _ => IpNet::V4(ipnet::Ipv4Net::new_assert([224, 0, 0, 0].into(), 4)),
    }
}

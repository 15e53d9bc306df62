//! A [`Rule`] as the expressions its table's writer would have made of it,
//! and back: iptables-nft for iptables tables (its fields first: `-i -o -p
//! -s -d`, then the `-m` extensions with the comment first, a counter, the
//! target), nft for nft tables (the statements in order, the comment as
//! user data). Rules made here are therefore, in the kernel, the rules the
//! tools make, and the tools list and delete them as their own.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use super::expr::{Expr, Verdict, base, meta};
use super::xt;
use crate::firewall::model::{Action, Dialect, Family, Match, Protocol, Rule, Table};

/// libnftnl's user-data TLV carrying a rule comment.
const UDATA_RULE_COMMENT: u8 = 0;
/// nft's length of an interface name compare (IFNAMSIZ).
const IFNAMSIZ: usize = 16;
/// `RTN_LOCAL`, what `fib daddr type` loads for a local address.
const RTN_LOCAL: u32 = 2;

/// A rule as the kernel holds it: its expressions and its user data.
pub type Encoded = (Vec<Expr>, Option<Vec<u8>>);

/// A dialect's way between rules and expressions (see `Table::codec`).
pub struct Codec {
    /// The expressions and user data of a rule; None when it holds what
    /// only the tool can write (raw conditions, a comment too long).
    encode: fn(Family, &Rule) -> Option<Encoded>,
    /// The rule these expressions and user data make.
    decode: fn(Family, &[Expr], Option<&[u8]>) -> Rule,
}

/// iptables-nft's: the comment is an xtables match.
pub static IPTABLES: Codec = Codec {
    encode: |family, rule| Some((iptables(family, rule)?, None)),
    decode: |family, exprs, _| from_iptables(family, exprs),
};

/// nft's: the comment is user data.
pub static NFT: Codec = Codec {
    encode: |family, rule| {
        let udata = match &rule.comment {
            Some(c) => Some(comment_udata(c)?),
            None => None,
        };
        Some((nft(family, rule)?, udata))
    },
    decode: |family, exprs, udata| {
        let mut rule = from_nft(family, exprs);
        rule.comment = udata.and_then(udata_comment);
        rule
    },
};

/// The expressions and user data of `rule` in `table`; None when it holds
/// what only the tool can write (raw conditions, a comment too long).
pub fn encode(table: Table, rule: &Rule) -> Option<Encoded> {
    (table.codec.encode)(table.family, rule)
}

/// The rule of `chain` these expressions and user data make in `table`.
pub fn decode(table: Table, chain: &str, exprs: &[Expr], udata: Option<&[u8]>) -> Rule {
    let mut rule = (table.codec.decode)(table.family, exprs, udata);
    rule.chain = chain.to_string();
    rule
}

fn iptables(family: Family, rule: &Rule) -> Option<Vec<Expr>> {
    let mut out = Vec::new();
    // iptables-nft writes its fixed fields in this order, whatever the
    // order on the command line.
    for m in &rule.matches {
        if let Match::InIface { negate, name } = m {
            out.extend(iface(meta::IIFNAME, *negate, name, false));
        }
    }
    for m in &rule.matches {
        if let Match::OutIface { negate, name } = m {
            out.extend(iface(meta::OIFNAME, *negate, name, false));
        }
    }
    for m in &rule.matches {
        if let Match::Proto(p) = m {
            out.extend(l4proto(*p));
        }
    }
    for m in &rule.matches {
        if let Match::Src { negate, net } = m {
            out.extend(addr(true, *net, *negate, Dialect::Iptables));
        }
    }
    for m in &rule.matches {
        if let Match::Dst { negate, net } = m {
            out.extend(addr(false, *net, *negate, Dialect::Iptables));
        }
    }
    if let Some(c) = &rule.comment {
        out.push(xt::comment(c)?);
    }
    for m in &rule.matches {
        match m {
            Match::InIface { .. }
            | Match::OutIface { .. }
            | Match::Proto(_)
            | Match::Src { .. }
            | Match::Dst { .. } => {}
            Match::Dport(Protocol::Sctp, port) => out.push(xt::sctp_dport(*port)),
            Match::Dport(_, port) => out.extend(dport(*port)),
            Match::Dports(ports) => out.push(xt::multiport(ports)?),
            Match::DstLocal => out.push(xt::dst_local()),
            Match::CtState(states) => out.push(xt::ctstate(*states)),
            Match::Mark { value, mask } => {
                out.push(Expr::Meta { key: meta::MARK });
                if *mask != u32::MAX {
                    out.push(Expr::Mask(mask.to_ne_bytes().to_vec()));
                }
                out.push(Expr::Cmp {
                    negate: false,
                    data: value.to_ne_bytes().to_vec(),
                });
            }
            Match::FibDaddrLocal | Match::EtherSrc(_) | Match::Raw(_) | Match::Unknown(_) => {
                return None;
            }
        }
    }
    out.push(Expr::Counter);
    let v6 = family == Family::Ip6;
    match &rule.action {
        Action::None => {}
        Action::Masquerade => out.push(xt::masquerade(v6)),
        Action::Dnat(to) => out.push(xt::dnat(*to)),
        Action::SetMark { value, mask } => out.push(xt::set_mark(*value, *mask)),
        Action::Goto(_) | Action::Unknown(_) => return None,
        verdict => out.push(Expr::Verdict(to_verdict(verdict)?)),
    }
    Some(out)
}

fn nft(family: Family, rule: &Rule) -> Option<Vec<Expr>> {
    let mut out = Vec::new();
    // In an inet table, `ip`/`ip6` matches imply `meta nfproto`, which
    // nft writes once, before the first of them.
    let mut proto_said = family != Family::Inet;
    for m in &rule.matches {
        match m {
            Match::Src { negate, net } | Match::Dst { negate, net } => {
                if !proto_said {
                    out.push(Expr::Meta { key: meta::NFPROTO });
                    out.push(Expr::Cmp {
                        negate: false,
                        data: vec![Family::of(net).nfproto()],
                    });
                    proto_said = true;
                }
                let src = matches!(m, Match::Src { .. });
                out.extend(addr(src, *net, *negate, Dialect::Nft));
            }
            Match::InIface { negate, name } => {
                out.extend(iface(meta::IIFNAME, *negate, name, true))
            }
            Match::OutIface { negate, name } => {
                out.extend(iface(meta::OIFNAME, *negate, name, true))
            }
            Match::Dport(p, port) => {
                out.extend(l4proto(*p));
                out.extend(dport(*port));
            }
            Match::FibDaddrLocal => {
                out.push(Expr::FibDaddrType);
                out.push(Expr::Cmp {
                    negate: false,
                    data: RTN_LOCAL.to_ne_bytes().to_vec(),
                });
            }
            Match::EtherSrc(mac) => {
                out.push(Expr::Payload {
                    base: base::LINK,
                    offset: 6,
                    len: 6,
                });
                out.push(Expr::Cmp {
                    negate: false,
                    data: mac.to_vec(),
                });
            }
            Match::Proto(_)
            | Match::Dports(_)
            | Match::DstLocal
            | Match::CtState(_)
            | Match::Mark { .. }
            | Match::Raw(_)
            | Match::Unknown(_) => return None,
        }
    }
    match &rule.action {
        Action::None => {}
        Action::Masquerade => out.push(Expr::Masq),
        Action::Dnat(to) => {
            out.push(Expr::Value {
                reg: super::expr::REG_1,
                data: ip_bytes(to.ip()),
            });
            out.push(Expr::Value {
                reg: super::expr::REG_2,
                data: to.port().to_be_bytes().to_vec(),
            });
            out.push(Expr::Dnat {
                family: Family::of_addr(to.ip()).nfproto(),
            });
        }
        Action::SetMark { .. } | Action::Unknown(_) => return None,
        verdict => out.push(Expr::Verdict(to_verdict(verdict)?)),
    }
    Some(out)
}

fn to_verdict(a: &Action) -> Option<Verdict> {
    Some(match a {
        Action::Accept => Verdict::Accept,
        Action::Drop => Verdict::Drop,
        Action::Return => Verdict::Return,
        Action::Jump(c) => Verdict::Jump(c.clone()),
        Action::Goto(c) => Verdict::Goto(c.clone()),
        _ => return None,
    })
}

fn l4proto(p: Protocol) -> [Expr; 2] {
    [
        Expr::Meta { key: meta::L4PROTO },
        Expr::Cmp {
            negate: false,
            data: vec![p.number()],
        },
    ]
}

fn dport(port: u16) -> [Expr; 2] {
    [
        Expr::Payload {
            base: base::TRANSPORT,
            offset: 2,
            len: 2,
        },
        Expr::Cmp {
            negate: false,
            data: port.to_be_bytes().to_vec(),
        },
    ]
}

/// An interface name compare: iptables compares the name and its NUL,
/// nft the whole IFNAMSIZ field.
fn iface(key: u32, negate: bool, name: &str, padded: bool) -> [Expr; 2] {
    let mut data = name.as_bytes().to_vec();
    data.push(0);
    if padded && data.len() < IFNAMSIZ {
        data.resize(IFNAMSIZ, 0);
    }
    [Expr::Meta { key }, Expr::Cmp { negate, data }]
}

/// Source (`src`) or destination address in `net`, as the tools encode
/// it: a byte-aligned prefix loads and compares only its bytes, any other
/// loads the whole address and masks it. /0: iptables leaves the match
/// out, nft masks everything away.
fn addr(src: bool, net: IpNet, negate: bool, dialect: Dialect) -> Vec<Expr> {
    let net = net.trunc();
    let (offset, bytes): (u32, Vec<u8>) = match (net, src) {
        (IpNet::V4(n), true) => (12, n.addr().octets().to_vec()),
        (IpNet::V4(n), false) => (16, n.addr().octets().to_vec()),
        (IpNet::V6(n), true) => (8, n.addr().octets().to_vec()),
        (IpNet::V6(n), false) => (24, n.addr().octets().to_vec()),
    };
    let prefix = usize::from(net.prefix_len());
    if prefix == 0 && dialect == Dialect::Iptables {
        return Vec::new();
    }
    if prefix > 0 && prefix % 8 == 0 {
        let len = prefix / 8;
        return vec![
            Expr::Payload {
                base: base::NETWORK,
                offset,
                len: len as u32,
            },
            Expr::Cmp {
                negate,
                data: bytes[..len].to_vec(),
            },
        ];
    }
    let mask: Vec<u8> = (0..bytes.len())
        .map(|i| {
            let bits = prefix.saturating_sub(i * 8).min(8);
            (0xffu16 << (8 - bits)) as u8
        })
        .collect();
    vec![
        Expr::Payload {
            base: base::NETWORK,
            offset,
            len: bytes.len() as u32,
        },
        Expr::Mask(mask),
        Expr::Cmp {
            negate,
            data: bytes,
        },
    ]
}

fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// A rule comment as nft stores it (user data, NUL-terminated).
pub fn comment_udata(comment: &str) -> Option<Vec<u8>> {
    let len = u8::try_from(comment.len() + 1).ok()?;
    let mut v = vec![UDATA_RULE_COMMENT, len];
    v.extend_from_slice(comment.as_bytes());
    v.push(0);
    Some(v)
}

/// The comment among libnftnl's user-data TLVs (type, length, value).
pub fn udata_comment(mut data: &[u8]) -> Option<String> {
    while data.len() >= 2 {
        let (kind, len) = (data[0], usize::from(data[1]));
        let value = data.get(2..2 + len)?;
        if kind == UDATA_RULE_COMMENT {
            let end = value.iter().position(|c| *c == 0).unwrap_or(value.len());
            return String::from_utf8(value[..end].to_vec()).ok();
        }
        data = &data[2 + len..];
    }
    None
}

/// Reads expressions back into matches. Each recogniser takes what it
/// knows from the front; an expression none knows becomes an `Unknown`
/// match (so that the rule never equals one of ours) and reading goes on,
/// so that the rule's action is still seen (a foreign rule that jumps to
/// one of our chains must be found by its target).
struct Reader<'a> {
    rest: &'a [Expr],
    family: Family,
    rule: Rule,
}

impl<'a> Reader<'a> {
    fn new(family: Family, exprs: &'a [Expr]) -> Reader<'a> {
        Reader {
            rest: exprs,
            family,
            rule: Rule::new("", Vec::new(), Action::None),
        }
    }

    fn take(&mut self, n: usize) {
        self.rest = &self.rest[n.min(self.rest.len())..];
    }

    fn unknown(&mut self, what: String) {
        self.rule.matches.push(Match::Unknown(what));
        self.take(1);
    }

    /// `payload network` [+ `bitwise`] + `cmp`: an address match.
    fn address(&mut self) -> Option<Match> {
        let (offset, len, mask, negate, data) = match self.rest {
            [
                Expr::Payload {
                    base: base::NETWORK,
                    offset,
                    len,
                },
                Expr::Mask(mask),
                Expr::Cmp { negate, data },
                ..,
            ] => (*offset, *len, Some(mask), *negate, data),
            [
                Expr::Payload {
                    base: base::NETWORK,
                    offset,
                    len,
                },
                Expr::Cmp { negate, data },
                ..,
            ] => (*offset, *len, None, *negate, data),
            _ => return None,
        };
        let (src, v6) = match (offset, self.family) {
            (12, Family::Ip | Family::Inet) if len <= 4 => (true, false),
            (16, Family::Ip | Family::Inet) if len <= 4 => (false, false),
            (8, Family::Ip6 | Family::Inet) if len <= 16 => (true, true),
            (24, Family::Ip6 | Family::Inet) if len <= 16 => (false, true),
            _ => return None,
        };
        let width = if v6 { 16 } else { 4 };
        let mut full = data.clone();
        full.resize(width, 0);
        let prefix = match mask {
            Some(m) if m.len() == width => {
                let ones: u32 = m.iter().map(|b| b.count_ones()).sum();
                // A contiguous mask only.
                let contiguous = m.iter().all(|b| b.leading_ones() == b.count_ones())
                    && m.windows(2).all(|w| w[1] == 0 || w[0] == 0xff);
                if !contiguous {
                    return None;
                }
                ones as u8
            }
            Some(_) => return None,
            None if data.len() == len as usize => (len * 8) as u8,
            None => return None,
        };
        let ip = if v6 {
            IpAddr::from(<[u8; 16]>::try_from(full.as_slice()).ok()?)
        } else {
            IpAddr::from(<[u8; 4]>::try_from(full.as_slice()).ok()?)
        };
        let net = IpNet::new(ip, prefix).ok()?;
        self.take(if mask.is_some() { 3 } else { 2 });
        Some(if src {
            Match::Src { negate, net }
        } else {
            Match::Dst { negate, net }
        })
    }

    /// `meta iifname|oifname` + `cmp`.
    fn iface(&mut self) -> Option<Match> {
        let [Expr::Meta { key }, Expr::Cmp { negate, data }, ..] = self.rest else {
            return None;
        };
        let end = data.iter().position(|b| *b == 0)?;
        let name = String::from_utf8(data[..end].to_vec()).ok()?;
        let negate = *negate;
        let m = match *key {
            meta::IIFNAME => Match::InIface { negate, name },
            meta::OIFNAME => Match::OutIface { negate, name },
            _ => return None,
        };
        self.take(2);
        Some(m)
    }

    /// `meta l4proto` + `cmp eq`.
    fn l4proto(&mut self) -> Option<Protocol> {
        let [
            Expr::Meta { key: meta::L4PROTO },
            Expr::Cmp {
                negate: false,
                data,
            },
            ..,
        ] = self.rest
        else {
            return None;
        };
        let p = Protocol::from_number(*data.first().filter(|_| data.len() == 1)?)?;
        self.take(2);
        Some(p)
    }

    /// `payload transport + 2` (2 bytes) + `cmp eq`.
    fn dport(&mut self) -> Option<u16> {
        let [
            Expr::Payload {
                base: base::TRANSPORT,
                offset: 2,
                len: 2,
            },
            Expr::Cmp {
                negate: false,
                data,
            },
            ..,
        ] = self.rest
        else {
            return None;
        };
        let port = u16::from_be_bytes(<[u8; 2]>::try_from(data.as_slice()).ok()?);
        self.take(2);
        Some(port)
    }

    fn verdict(&mut self) -> Option<Action> {
        let [Expr::Verdict(v)] = self.rest else {
            return None;
        };
        self.take(1);
        Some(match v {
            Verdict::Accept => Action::Accept,
            Verdict::Drop => Action::Drop,
            Verdict::Return => Action::Return,
            Verdict::Jump(c) => Action::Jump(c.clone()),
            Verdict::Goto(c) => Action::Goto(c.clone()),
        })
    }
}

fn from_iptables(family: Family, exprs: &[Expr]) -> Rule {
    let mut r = Reader::new(family, exprs);
    let mut proto = None;
    while let Some(first) = r.rest.first() {
        if let Some(m) = r.iface() {
            r.rule.matches.push(m);
        } else if let Some(p) = r.l4proto() {
            proto = Some(p);
            r.rule.matches.push(Match::Proto(p));
        } else if let Some(m) = r.address() {
            r.rule.matches.push(m);
        } else if let Some(port) = r.dport() {
            match proto {
                Some(p) => r.rule.matches.push(Match::Dport(p, port)),
                None => r.unknown("port without protocol".into()),
            }
        } else if let [
            Expr::Meta { key: meta::MARK },
            Expr::Mask(mask),
            Expr::Cmp {
                negate: false,
                data,
            },
            ..,
        ] = r.rest
        {
            match (word(mask), word(data)) {
                (Some(mask), Some(value)) => {
                    r.rule.matches.push(Match::Mark { value, mask });
                    r.take(3);
                }
                _ => r.unknown("mark".into()),
            }
        } else if let [
            Expr::Meta { key: meta::MARK },
            Expr::Cmp {
                negate: false,
                data,
            },
            ..,
        ] = r.rest
        {
            match word(data) {
                Some(value) => {
                    r.rule.matches.push(Match::Mark {
                        value,
                        mask: u32::MAX,
                    });
                    r.take(2);
                }
                None => r.unknown("mark".into()),
            }
        } else if let Some(action) = r.verdict() {
            r.rule.action = action;
        } else {
            match first {
                Expr::Counter => r.take(1),
                Expr::Xt {
                    target: false,
                    name,
                    rev,
                    info,
                } => {
                    let m = match (name.as_str(), rev) {
                        ("comment", 0) if r.rule.comment.is_none() => {
                            r.rule.comment = xt::parse_comment(info);
                            r.rule.comment.is_some().then_some(None)
                        }
                        ("multiport", 1) => {
                            xt::parse_multiport(info).map(|p| Some(Match::Dports(p)))
                        }
                        ("sctp", 0) if proto == Some(Protocol::Sctp) => xt::parse_sctp_dport(info)
                            .map(|p| Some(Match::Dport(Protocol::Sctp, p))),
                        ("addrtype", 1) if xt::is_dst_local(info) => Some(Some(Match::DstLocal)),
                        ("conntrack", 3) => {
                            xt::parse_ctstate(info).map(|s| Some(Match::CtState(s)))
                        }
                        _ => None,
                    };
                    match m {
                        Some(m) => {
                            r.rule.matches.extend(m);
                            r.take(1);
                        }
                        None => r.unknown(format!("-m {name}")),
                    }
                }
                Expr::Xt {
                    target: true,
                    name,
                    rev,
                    info,
                } if r.rest.len() == 1 => {
                    let v6 = family == Family::Ip6;
                    let action = match (name.as_str(), rev) {
                        ("MASQUERADE", 0) if xt::is_masquerade(info, v6) => {
                            Some(Action::Masquerade)
                        }
                        ("DNAT", 2) => xt::parse_dnat(info, v6).map(Action::Dnat),
                        ("MARK", 2) => xt::parse_set_mark(info)
                            .map(|(value, mask)| Action::SetMark { value, mask }),
                        _ => None,
                    };
                    r.rule.action = action.unwrap_or_else(|| Action::Unknown(name.clone()));
                    r.take(1);
                }
                other => {
                    let what = other.name().to_string();
                    r.unknown(what);
                }
            }
        }
    }
    r.rule
}

fn from_nft(family: Family, exprs: &[Expr]) -> Rule {
    let mut r = Reader::new(family, exprs);
    while let Some(first) = r.rest.first() {
        if let Some(m) = r.iface() {
            r.rule.matches.push(m);
        } else if let Some(m) = r.address() {
            r.rule.matches.push(m);
        } else if let Some(p) = r.l4proto() {
            match r.dport() {
                Some(port) => r.rule.matches.push(Match::Dport(p, port)),
                None => r.unknown("l4proto".into()),
            }
        } else if let Some(action) = r.verdict() {
            r.rule.action = action;
        } else {
            match r.rest {
                // `meta nfproto` is implied by the address matches.
                [
                    Expr::Meta { key: meta::NFPROTO },
                    Expr::Cmp { negate: false, .. },
                    ..,
                ] if family == Family::Inet => r.take(2),
                [
                    Expr::FibDaddrType,
                    Expr::Cmp {
                        negate: false,
                        data,
                    },
                    ..,
                ] if word(data) == Some(RTN_LOCAL) => {
                    r.rule.matches.push(Match::FibDaddrLocal);
                    r.take(2);
                }
                [
                    Expr::Payload {
                        base: base::LINK,
                        offset: 6,
                        len: 6,
                    },
                    Expr::Cmp {
                        negate: false,
                        data,
                    },
                    ..,
                ] if data.len() == 6 => {
                    let mut mac = [0u8; 6];
                    mac.copy_from_slice(data);
                    r.rule.matches.push(Match::EtherSrc(mac));
                    r.take(2);
                }
                [Expr::Masq] => {
                    r.rule.action = Action::Masquerade;
                    r.take(1);
                }
                [
                    Expr::Value { reg: 1, data: addr },
                    Expr::Value { reg: 2, data: port },
                    Expr::Dnat { .. },
                ] => {
                    let ip = match addr.len() {
                        4 => <[u8; 4]>::try_from(addr.as_slice()).ok().map(IpAddr::from),
                        16 => <[u8; 16]>::try_from(addr.as_slice()).ok().map(IpAddr::from),
                        _ => None,
                    };
                    let port = <[u8; 2]>::try_from(port.as_slice())
                        .ok()
                        .map(u16::from_be_bytes);
                    match (ip, port) {
                        (Some(ip), Some(port)) => {
                            r.rule.action = Action::Dnat(SocketAddr::new(ip, port));
                            r.take(3);
                        }
                        _ => r.unknown("dnat".into()),
                    }
                }
                [Expr::Counter, ..] => r.take(1),
                _ => {
                    let what = first.name().to_string();
                    r.unknown(what);
                }
            }
        }
    }
    r.rule
}

/// A register-sized value in host order.
fn word(data: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(data.try_into().ok()?))
}

#[cfg(test)]
#[path = "dialect_tests.rs"]
mod tests;

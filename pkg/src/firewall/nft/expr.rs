//! nf_tables rule expressions: the few kinds the plugins' rules are made
//! of, encoded as the kernel takes them and decoded from its dumps. Which
//! expressions make up which rule is `super::dialect`'s business.

use crate::netlink::nla::{Attrs, attrs, be_u32, find};
use crate::netlink::socket::cstr;

const NFTA_LIST_ELEM: u16 = 1;
const NFTA_EXPR_NAME: u16 = 1;
const NFTA_EXPR_DATA: u16 = 2;
const NFTA_DATA_VALUE: u16 = 1;
const NFTA_DATA_VERDICT: u16 = 2;
const NFTA_VERDICT_CODE: u16 = 1;
const NFTA_VERDICT_CHAIN: u16 = 2;

/// The register the plugins' rules load into (16-byte register 1).
pub const REG_1: u32 = 1;
pub const REG_2: u32 = 2;
const REG_VERDICT: u32 = 0;
/// `NFTA_FIB_F_DADDR`.
const FIB_F_DADDR: u32 = 1 << 1;

/// `NFT_META_*` keys.
pub mod meta {
    pub const MARK: u32 = 3;
    pub const IIFNAME: u32 = 6;
    pub const OIFNAME: u32 = 7;
    pub const NFPROTO: u32 = 15;
    pub const L4PROTO: u32 = 16;
}

/// `NFT_PAYLOAD_*_HEADER` bases.
pub mod base {
    pub const LINK: u32 = 0;
    pub const NETWORK: u32 = 1;
    pub const TRANSPORT: u32 = 2;
}

/// A verdict of an `immediate` expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Drop,
    Return,
    Jump(String),
    Goto(String),
}

impl Verdict {
    fn code(&self) -> i32 {
        match self {
            Verdict::Drop => 0,
            Verdict::Accept => 1,
            Verdict::Jump(_) => -3,
            Verdict::Goto(_) => -4,
            Verdict::Return => -5,
        }
    }

    fn decode(code: i32, chain: Option<String>) -> Option<Verdict> {
        Some(match (code, chain) {
            (0, _) => Verdict::Drop,
            (1, _) => Verdict::Accept,
            (-5, _) => Verdict::Return,
            (-3, Some(c)) => Verdict::Jump(c),
            (-4, Some(c)) => Verdict::Goto(c),
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// `meta load <key> => reg 1`
    Meta {
        key: u32,
    },
    /// `payload load <len>b @ <base> header + <offset> => reg 1`
    Payload {
        base: u32,
        offset: u32,
        len: u32,
    },
    /// `bitwise reg 1 = (reg 1 & mask) ^ 0`
    Mask(Vec<u8>),
    /// `cmp eq|neq reg 1 <data>`
    Cmp {
        negate: bool,
        data: Vec<u8>,
    },
    Verdict(Verdict),
    /// `immediate reg <n> <data>`
    Value {
        reg: u32,
        data: Vec<u8>,
    },
    Counter,
    Masq,
    /// `nat dnat <family> addr_min reg 1 addr_max reg 1 proto_min reg 2
    /// proto_max reg 2 flags 0x3`
    Dnat {
        family: u8,
    },
    /// `fib daddr type => reg 1`
    FibDaddrType,
    /// An xtables match or target with its revision and binary info
    /// (iptables-nft).
    Xt {
        target: bool,
        name: String,
        rev: u32,
        info: Vec<u8>,
    },
    /// Anything else, by name.
    Other(String),
}

impl Expr {
    pub fn xt_match(name: &str, rev: u32, info: Vec<u8>) -> Expr {
        Expr::Xt {
            target: false,
            name: name.into(),
            rev,
            info,
        }
    }

    pub fn xt_target(name: &str, rev: u32, info: Vec<u8>) -> Expr {
        Expr::Xt {
            target: true,
            name: name.into(),
            rev,
            info,
        }
    }

    /// The expression's kind, as nft names it, for messages.
    pub fn name(&self) -> &str {
        match self {
            Expr::Meta { .. } => "meta",
            Expr::Payload { .. } => "payload",
            Expr::Mask(_) => "bitwise",
            Expr::Cmp { .. } => "cmp",
            Expr::Verdict(_) | Expr::Value { .. } => "immediate",
            Expr::Counter => "counter",
            Expr::Masq => "masq",
            Expr::Dnat { .. } => "nat",
            Expr::FibDaddrType => "fib",
            Expr::Xt { name, .. } | Expr::Other(name) => name,
        }
    }

    fn encode(&self, list: &mut Attrs) {
        let mut data = Attrs::new();
        let name = match self {
            Expr::Meta { key } => {
                data.put_u32_be(1, REG_1).put_u32_be(2, *key); // DREG, KEY
                "meta"
            }
            Expr::Payload { base, offset, len } => {
                data.put_u32_be(1, REG_1) // DREG
                    .put_u32_be(2, *base)
                    .put_u32_be(3, *offset)
                    .put_u32_be(4, *len);
                "payload"
            }
            Expr::Mask(mask) => {
                data.put_u32_be(1, REG_1) // SREG
                    .put_u32_be(2, REG_1) // DREG
                    .put_u32_be(3, mask.len() as u32);
                put_value(&mut data, 4, mask);
                put_value(&mut data, 5, &vec![0u8; mask.len()]);
                "bitwise"
            }
            Expr::Cmp {
                negate,
                data: value,
            } => {
                data.put_u32_be(1, REG_1).put_u32_be(2, u32::from(*negate)); // SREG, OP
                put_value(&mut data, 3, value);
                "cmp"
            }
            Expr::Verdict(v) => {
                data.put_u32_be(1, REG_VERDICT);
                data.nest(2, |imm| {
                    imm.nest(NFTA_DATA_VERDICT, |verdict| {
                        verdict.put(NFTA_VERDICT_CODE, &v.code().to_be_bytes());
                        if let Verdict::Jump(c) | Verdict::Goto(c) = v {
                            verdict.put_str(NFTA_VERDICT_CHAIN, c);
                        }
                    });
                });
                "immediate"
            }
            Expr::Value { reg, data: value } => {
                data.put_u32_be(1, *reg);
                put_value(&mut data, 2, value);
                "immediate"
            }
            Expr::Counter => {
                data.put_u64_be(1, 0).put_u64_be(2, 0); // BYTES, PACKETS
                "counter"
            }
            Expr::Masq => "masq",
            Expr::Dnat { family } => {
                data.put_u32_be(1, 1) // TYPE: NFT_NAT_DNAT
                    .put_u32_be(2, u32::from(*family))
                    .put_u32_be(3, REG_1) // REG_ADDR_MIN
                    .put_u32_be(4, REG_1) // REG_ADDR_MAX
                    .put_u32_be(5, REG_2) // REG_PROTO_MIN
                    .put_u32_be(6, REG_2) // REG_PROTO_MAX
                    .put_u32_be(7, 3); // FLAGS: MAP_IPS | PROTO_SPECIFIED
                "nat"
            }
            Expr::FibDaddrType => {
                data.put_u32_be(1, REG_1) // DREG
                    .put_u32_be(2, 3) // RESULT: NFT_FIB_RESULT_ADDRTYPE
                    .put_u32_be(3, FIB_F_DADDR); // FLAGS
                "fib"
            }
            Expr::Xt {
                name, rev, info, ..
            } => {
                data.put_str(1, name).put_u32_be(2, *rev).put(3, info);
                if let Expr::Xt { target: true, .. } = self {
                    "target"
                } else {
                    "match"
                }
            }
            Expr::Other(name) => name.as_str(),
        };
        list.nest(NFTA_LIST_ELEM, |elem| {
            elem.put_str(NFTA_EXPR_NAME, name);
            if !data.0.is_empty() {
                elem.nest(NFTA_EXPR_DATA, |d| d.0.extend_from_slice(&data.0));
            }
        });
    }

    /// One element of a dumped expression list; `Other` for whatever is
    /// not one of the shapes above (another register, flags, ...).
    fn decode(elem: &[u8]) -> Expr {
        let name = find(elem, NFTA_EXPR_NAME).map(cstr).unwrap_or("");
        let data = find(elem, NFTA_EXPR_DATA).unwrap_or_default();
        let u32_of = |kind| find(data, kind).and_then(be_u32);
        let value_of = |kind| find(data, kind).and_then(|v| find(v, NFTA_DATA_VALUE));
        let other = || Expr::Other(name.to_string());
        match name {
            "meta" if u32_of(1) == Some(REG_1) => match u32_of(2) {
                Some(key) => Expr::Meta { key },
                None => other(),
            },
            "payload" if u32_of(1) == Some(REG_1) => match (u32_of(2), u32_of(3), u32_of(4)) {
                (Some(base), Some(offset), Some(len)) => Expr::Payload { base, offset, len },
                _ => other(),
            },
            "bitwise" => match (value_of(4), value_of(5)) {
                (Some(mask), Some(xor))
                    if u32_of(1) == Some(REG_1)
                        && u32_of(2) == Some(REG_1)
                        && xor.iter().all(|b| *b == 0) =>
                {
                    Expr::Mask(mask.to_vec())
                }
                _ => other(),
            },
            "cmp" => match (u32_of(1), u32_of(2), value_of(3)) {
                (Some(REG_1), Some(op @ (0 | 1)), Some(v)) => Expr::Cmp {
                    negate: op == 1,
                    data: v.to_vec(),
                },
                _ => other(),
            },
            "immediate" => {
                let imm = find(data, 2).unwrap_or_default();
                match u32_of(1) {
                    Some(REG_VERDICT) => {
                        let verdict = find(imm, NFTA_DATA_VERDICT).unwrap_or_default();
                        let code = find(verdict, NFTA_VERDICT_CODE).and_then(be_u32);
                        let chain = find(verdict, NFTA_VERDICT_CHAIN).map(|c| cstr(c).to_string());
                        code.and_then(|c| Verdict::decode(c as i32, chain))
                            .map_or_else(other, Expr::Verdict)
                    }
                    Some(reg) => match find(imm, NFTA_DATA_VALUE) {
                        Some(v) => Expr::Value {
                            reg,
                            data: v.to_vec(),
                        },
                        None => other(),
                    },
                    None => other(),
                }
            }
            "counter" => Expr::Counter,
            "masq" if data.is_empty() => Expr::Masq,
            "nat" => {
                let want = [
                    (1, 1),
                    (3, REG_1),
                    (4, REG_1),
                    (5, REG_2),
                    (6, REG_2),
                    (7, 3),
                ];
                match u32_of(2) {
                    Some(f) if want.iter().all(|(k, v)| u32_of(*k) == Some(*v)) => {
                        Expr::Dnat { family: f as u8 }
                    }
                    _ => other(),
                }
            }
            "fib"
                if (u32_of(1), u32_of(2), u32_of(3))
                    == (Some(REG_1), Some(3), Some(FIB_F_DADDR)) =>
            {
                Expr::FibDaddrType
            }
            "match" | "target" => {
                let xt_name = find(data, 1).map(cstr).unwrap_or("").to_string();
                match (u32_of(2), find(data, 3)) {
                    (Some(rev), Some(info)) => Expr::Xt {
                        target: name == "target",
                        name: xt_name,
                        rev,
                        info: info.to_vec(),
                    },
                    _ => other(),
                }
            }
            _ => other(),
        }
    }
}

/// The NFTA_RULE_EXPRESSIONS payload of a rule.
pub fn encode_list(exprs: &[Expr]) -> Vec<u8> {
    let mut list = Attrs::new();
    for e in exprs {
        e.encode(&mut list);
    }
    list.into_bytes()
}

/// The expressions of a dumped NFTA_RULE_EXPRESSIONS payload.
pub fn decode_list(list: &[u8]) -> Vec<Expr> {
    attrs(list)
        .filter(|(k, _)| *k == NFTA_LIST_ELEM)
        .map(|(_, e)| Expr::decode(e))
        .collect()
}

/// An `nft_data` value: a nested NFTA_DATA_VALUE.
fn put_value(attrs: &mut Attrs, kind: u16, value: &[u8]) {
    attrs.nest(kind, |inner| {
        inner.put(NFTA_DATA_VALUE, value);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_round_trips() {
        let exprs = vec![
            Expr::Meta { key: meta::L4PROTO },
            Expr::Cmp {
                negate: false,
                data: vec![6],
            },
            Expr::Payload {
                base: base::NETWORK,
                offset: 16,
                len: 4,
            },
            Expr::Mask(vec![0xff, 0xff, 0xf0, 0]),
            Expr::Cmp {
                negate: true,
                data: vec![10, 88, 16, 0],
            },
            Expr::FibDaddrType,
            Expr::Value {
                reg: REG_1,
                data: vec![10, 0, 0, 2],
            },
            Expr::Value {
                reg: REG_2,
                data: vec![0, 80],
            },
            Expr::Dnat { family: 2 },
            Expr::Counter,
            Expr::Masq,
            Expr::xt_match("comment", 0, b"hi\0\0".to_vec()),
            Expr::xt_target("MARK", 2, vec![0, 0, 0x20, 0, 0, 0, 0x20, 0]),
            Expr::Verdict(Verdict::Accept),
            Expr::Verdict(Verdict::Drop),
            Expr::Verdict(Verdict::Return),
            Expr::Verdict(Verdict::Jump("CNI-x".into())),
            Expr::Verdict(Verdict::Goto("masq_checks".into())),
        ];
        let bytes = encode_list(&exprs);
        assert_eq!(decode_list(&bytes), exprs);
        // truncated data never panics
        for cut in 0..bytes.len() {
            let _ = decode_list(&bytes[..cut]);
        }
    }

    #[test]
    fn other_shapes_stay_other() {
        let mut list = Attrs::new();
        list.nest(NFTA_LIST_ELEM, |e| {
            e.put_str(NFTA_EXPR_NAME, "limit");
        });
        list.nest(NFTA_LIST_ELEM, |e| {
            e.put_str(NFTA_EXPR_NAME, "meta");
            e.nest(NFTA_EXPR_DATA, |d| {
                d.put_u32_be(1, 8).put_u32_be(2, meta::MARK); // another register
            });
        });
        assert_eq!(
            decode_list(&list.into_bytes()),
            [Expr::Other("limit".into()), Expr::Other("meta".into())]
        );
    }
}

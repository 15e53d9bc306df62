//! nf_tables rule expressions, encoded as `nft` and iptables-nft encode
//! them, for the few rules the plugins add over netlink: masquerade rules
//! (`ip saddr A ip daddr != N masquerade`) and iptables-nft's masquerade
//! chains (`-s/-d`, `-m comment`, `-j ACCEPT|MASQUERADE|<chain>`). Because
//! the kernel holds exactly what the tools would have sent, `nft list` and
//! `iptables -S` print them as they print their own, and Go's teardown
//! (which parses and compares them) finds them.

use ipnet::IpNet;

use crate::netlink::nfgen::Attrs;

const NFTA_LIST_ELEM: u16 = 1;
const NFTA_EXPR_NAME: u16 = 1;
const NFTA_EXPR_DATA: u16 = 2;
const NFTA_DATA_VALUE: u16 = 1;
const NFTA_DATA_VERDICT: u16 = 2;
const NFTA_VERDICT_CODE: u16 = 1;
const NFTA_VERDICT_CHAIN: u16 = 2;

const NFT_REG_VERDICT: u32 = 0;
const NFT_REG_1: u32 = 1;
const NFT_META_NFPROTO: u32 = 15;
const NFT_PAYLOAD_NETWORK_HEADER: u32 = 1;

/// libnftnl's user-data TLV carrying a rule comment.
const NFTNL_UDATA_RULE_COMMENT: u8 = 0;
/// iptables' `XT_MAX_COMMENT_LEN`, the size of `struct xt_comment_info`.
pub(crate) const XT_COMMENT_LEN: usize = 256;

/// A verdict of an `immediate` expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Accept,
    Jump(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expr {
    /// `meta load nfproto => reg 1`
    NfProto,
    /// `payload load <len>b @ network header + <offset> => reg 1`
    Payload {
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
    Immediate(Verdict),
    /// An xtables match or target with its binary info (iptables-nft).
    Xt {
        target: bool,
        name: &'static str,
        info: Vec<u8>,
    },
    Counter,
    Masq,
}

impl Expr {
    /// `-m comment --comment <c>`; None when too long for iptables.
    pub(crate) fn xt_comment(comment: &str) -> Option<Expr> {
        if comment.len() >= XT_COMMENT_LEN || comment.contains('\0') {
            return None;
        }
        let mut info = comment.as_bytes().to_vec();
        info.resize(XT_COMMENT_LEN, 0);
        Some(Expr::Xt {
            target: false,
            name: "comment",
            info,
        })
    }

    /// `-j MASQUERADE` without options: `struct
    /// nf_nat_ipv4_multi_range_compat` with one empty range (v4), `struct
    /// nf_nat_range` (v6), each padded to 8 bytes as the kernel checks.
    pub(crate) fn xt_masquerade(v6: bool) -> Expr {
        let info = if v6 {
            vec![0u8; 40]
        } else {
            let mut info = vec![0u8; 24];
            info[..4].copy_from_slice(&1u32.to_ne_bytes());
            info
        };
        Expr::Xt {
            target: true,
            name: "MASQUERADE",
            info,
        }
    }

    fn encode(&self, list: &mut Attrs) {
        let mut data = Attrs::new();
        let name = match self {
            Expr::NfProto => {
                data.put_u32_be(1, NFT_REG_1); // NFTA_META_DREG
                data.put_u32_be(2, NFT_META_NFPROTO); // NFTA_META_KEY
                "meta"
            }
            Expr::Payload { offset, len } => {
                data.put_u32_be(1, NFT_REG_1) // NFTA_PAYLOAD_DREG
                    .put_u32_be(2, NFT_PAYLOAD_NETWORK_HEADER) // BASE
                    .put_u32_be(3, *offset) // OFFSET
                    .put_u32_be(4, *len); // LEN
                "payload"
            }
            Expr::Mask(mask) => {
                data.put_u32_be(1, NFT_REG_1) // NFTA_BITWISE_SREG
                    .put_u32_be(2, NFT_REG_1) // DREG
                    .put_u32_be(3, mask.len() as u32); // LEN
                put_value(&mut data, 4, mask); // MASK
                put_value(&mut data, 5, &vec![0u8; mask.len()]); // XOR
                "bitwise"
            }
            Expr::Cmp {
                negate,
                data: value,
            } => {
                data.put_u32_be(1, NFT_REG_1) // NFTA_CMP_SREG
                    .put_u32_be(2, u32::from(*negate)); // NFT_CMP_EQ / NEQ
                put_value(&mut data, 3, value); // NFTA_CMP_DATA
                "cmp"
            }
            Expr::Immediate(v) => {
                data.put_u32_be(1, NFT_REG_VERDICT); // NFTA_IMMEDIATE_DREG
                let (code, chain): (i32, Option<&str>) = match v {
                    Verdict::Accept => (1, None),
                    Verdict::Jump(c) => (-3, Some(c)),
                };
                data.nest(2, |imm| {
                    // NFTA_IMMEDIATE_DATA
                    imm.nest(NFTA_DATA_VERDICT, |verdict| {
                        verdict.put(NFTA_VERDICT_CODE, &code.to_be_bytes());
                        if let Some(c) = chain {
                            verdict.put_str(NFTA_VERDICT_CHAIN, c);
                        }
                    });
                });
                "immediate"
            }
            Expr::Xt { target, name, info } => {
                data.put_str(1, name) // NFTA_{MATCH,TARGET}_NAME
                    .put_u32_be(2, 0) // _REV
                    .put(3, info); // _INFO
                if *target { "target" } else { "match" }
            }
            Expr::Counter => {
                data.put_u64_be(1, 0) // NFTA_COUNTER_BYTES
                    .put_u64_be(2, 0); // PACKETS
                "counter"
            }
            Expr::Masq => "masq",
        };
        list.nest(NFTA_LIST_ELEM, |elem| {
            elem.put_str(NFTA_EXPR_NAME, name);
            if !data.0.is_empty() {
                elem.put(NFTA_EXPR_DATA | netlink_packet_core::NLA_F_NESTED, &data.0);
            }
        });
    }
}

/// The NFTA_RULE_EXPRESSIONS payload of a rule.
pub(crate) fn encode_list(exprs: &[Expr]) -> Vec<u8> {
    let mut list = Attrs::new();
    for e in exprs {
        e.encode(&mut list);
    }
    list.into_bytes()
}

/// A rule comment as nft stores it (user data, NUL-terminated).
pub(crate) fn comment_udata(comment: &str) -> Option<Vec<u8>> {
    let len = u8::try_from(comment.len() + 1).ok()?;
    let mut v = vec![NFTNL_UDATA_RULE_COMMENT, len];
    v.extend_from_slice(comment.as_bytes());
    v.push(0);
    Some(v)
}

/// `meta nfproto ipv4|ipv6`: what `ip`/`ip6` matches imply in an `inet`
/// table.
pub(crate) fn nfproto(v6: bool) -> [Expr; 2] {
    [
        Expr::NfProto,
        Expr::Cmp {
            negate: false,
            data: vec![if v6 { 10 } else { 2 }],
        },
    ]
}

/// Source (`src`) or destination address in `net`, negated or not, as the
/// tools encode it: a byte-aligned prefix loads and compares only its
/// bytes, any other loads the whole address and masks it. None for /0,
/// which the tools leave out altogether.
pub(crate) fn addr_match(src: bool, net: IpNet, negate: bool) -> Option<Vec<Expr>> {
    let (offset, bytes): (u32, Vec<u8>) = match (net.trunc(), src) {
        (IpNet::V4(n), true) => (12, n.addr().octets().to_vec()),
        (IpNet::V4(n), false) => (16, n.addr().octets().to_vec()),
        (IpNet::V6(n), true) => (8, n.addr().octets().to_vec()),
        (IpNet::V6(n), false) => (24, n.addr().octets().to_vec()),
    };
    let prefix = usize::from(net.prefix_len());
    if prefix == 0 {
        return None;
    }
    if prefix % 8 == 0 {
        let len = prefix / 8;
        return Some(vec![
            Expr::Payload {
                offset,
                len: len as u32,
            },
            Expr::Cmp {
                negate,
                data: bytes[..len].to_vec(),
            },
        ]);
    }
    let mask: Vec<u8> = (0..bytes.len())
        .map(|i| {
            let bits = prefix.saturating_sub(i * 8).min(8);
            (0xffu16 << (8 - bits)) as u8
        })
        .collect();
    Some(vec![
        Expr::Payload {
            offset,
            len: bytes.len() as u32,
        },
        Expr::Mask(mask),
        Expr::Cmp {
            negate,
            data: bytes,
        },
    ])
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

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn prefixes_like_the_tools() {
        // byte-aligned: only the prefix bytes
        assert_eq!(
            addr_match(false, net("10.88.0.0/16"), true).unwrap(),
            [
                Expr::Payload { offset: 16, len: 2 },
                Expr::Cmp {
                    negate: true,
                    data: vec![10, 88]
                }
            ]
        );
        assert_eq!(
            addr_match(true, net("10.88.1.7/32"), false).unwrap()[0],
            Expr::Payload { offset: 12, len: 4 }
        );
        // otherwise the whole address, masked (224.0.0.0/4, 10.88.16.0/20)
        let m = addr_match(false, net("224.0.0.0/4"), true).unwrap();
        assert_eq!(m[1], Expr::Mask(vec![0xf0, 0, 0, 0]));
        let m = addr_match(false, net("10.88.17.9/20"), false).unwrap();
        assert_eq!(m[1], Expr::Mask(vec![0xff, 0xff, 0xf0, 0]));
        assert_eq!(
            m[2],
            Expr::Cmp {
                negate: false,
                data: vec![10, 88, 16, 0]
            }
        );
        let m = addr_match(false, net("fd00::/65"), false).unwrap();
        assert_eq!(
            m[0],
            Expr::Payload {
                offset: 24,
                len: 16
            }
        );
        assert_eq!(
            m[1],
            Expr::Mask(vec![
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0
            ])
        );
        assert_eq!(
            addr_match(true, net("fd00::5/128"), false).unwrap()[0],
            Expr::Payload { offset: 8, len: 16 }
        );
        assert!(addr_match(true, net("0.0.0.0/0"), false).is_none());
    }

    #[test]
    fn comments() {
        assert_eq!(comment_udata("ab").unwrap(), [0, 3, b'a', b'b', 0]);
        assert!(comment_udata(&"x".repeat(300)).is_none());
        let Some(Expr::Xt { info, .. }) = Expr::xt_comment("hi") else {
            panic!()
        };
        assert_eq!(info.len(), XT_COMMENT_LEN);
        assert_eq!(&info[..3], b"hi\0");
        assert!(Expr::xt_comment(&"x".repeat(256)).is_none());
    }
}

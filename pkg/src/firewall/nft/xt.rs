//! The xtables extensions iptables-nft stores as `match`/`target`
//! expressions with the extension's binary info, laid out as the kernel's
//! uapi structs (padded to 8 bytes, `XT_ALIGN`). No crate encodes these:
//! they exist only so that a rule made here is, in the kernel, the rule
//! `iptables` would have made, which `iptables -S` prints and `iptables -D`
//! (Go's teardown) finds. The tests compare them with the tool's own.

use std::net::{IpAddr, SocketAddr};

use super::expr::Expr;

/// `XT_MAX_COMMENT_LEN`, the size of `struct xt_comment_info`.
pub const COMMENT_LEN: usize = 256;
/// `XT_MULTI_PORTS`.
pub const MULTIPORT_MAX: usize = 15;
/// `XT_ADDRTYPE_LOCAL` (1 << RTN_LOCAL).
const ADDRTYPE_LOCAL: u16 = 1 << 2;
/// `XT_MULTIPORT_DESTINATION`.
const MULTIPORT_DESTINATION: u8 = 1;
/// `XT_CONNTRACK_STATE`.
const CONNTRACK_STATE: u16 = 1 << 0;
/// `XT_SCTP_DEST_PORTS`.
const SCTP_DEST_PORTS: u32 = 0x02;
/// `NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED`.
const NAT_MAP_IPS_AND_PROTO: u32 = 3;

/// `-m comment --comment <c>`; None when too long for iptables.
pub fn comment(c: &str) -> Option<Expr> {
    if c.len() >= COMMENT_LEN || c.contains('\0') {
        return None;
    }
    let mut info = c.as_bytes().to_vec();
    info.resize(COMMENT_LEN, 0);
    Some(Expr::xt_match("comment", 0, info))
}

pub fn parse_comment(info: &[u8]) -> Option<String> {
    let end = info.iter().position(|b| *b == 0)?;
    String::from_utf8(info[..end].to_vec()).ok()
}

/// `-m multiport --dports a,b,...`: `struct xt_multiport_v1` (flags,
/// count, ports[15], pflags[15], invert).
pub fn multiport(ports: &[u16]) -> Option<Expr> {
    if ports.is_empty() || ports.len() > MULTIPORT_MAX {
        return None;
    }
    let mut info = vec![0u8; 48];
    info[0] = MULTIPORT_DESTINATION;
    info[1] = ports.len() as u8;
    for (i, p) in ports.iter().enumerate() {
        info[2 + 2 * i..4 + 2 * i].copy_from_slice(&p.to_ne_bytes());
    }
    Some(Expr::xt_match("multiport", 1, info))
}

pub fn parse_multiport(info: &[u8]) -> Option<Vec<u16>> {
    let (flags, count) = (*info.first()?, usize::from(*info.get(1)?));
    // Ranges (pflags) and inversion are none of ours.
    let plain = info.get(32..48)?.iter().all(|b| *b == 0);
    if flags != MULTIPORT_DESTINATION || count > MULTIPORT_MAX || !plain {
        return None;
    }
    (0..count)
        .map(|i| {
            let b = info.get(2 + 2 * i..4 + 2 * i)?;
            Some(u16::from_ne_bytes([b[0], b[1]]))
        })
        .collect()
}

/// `-m addrtype --dst-type LOCAL`: `struct xt_addrtype_info_v1` (source,
/// dest, flags).
pub fn dst_local() -> Expr {
    let mut info = vec![0u8; 8];
    info[2..4].copy_from_slice(&ADDRTYPE_LOCAL.to_ne_bytes());
    Expr::xt_match("addrtype", 1, info)
}

pub fn is_dst_local(info: &[u8]) -> bool {
    let mut want = [0u8; 8];
    want[2..4].copy_from_slice(&ADDRTYPE_LOCAL.to_ne_bytes());
    info == want
}

/// `-m conntrack --ctstate <states>`: `struct xt_conntrack_mtinfo3`, with
/// only `match_flags` (offset 146) and `state_mask` (offset 150) set.
pub fn ctstate(states: u16) -> Expr {
    let mut info = vec![0u8; 168];
    info[146..148].copy_from_slice(&CONNTRACK_STATE.to_ne_bytes());
    info[150..152].copy_from_slice(&states.to_ne_bytes());
    Expr::xt_match("conntrack", 3, info)
}

pub fn parse_ctstate(info: &[u8]) -> Option<u16> {
    if info.len() != 168 {
        return None;
    }
    let field = |at: usize| u16::from_ne_bytes([info[at], info[at + 1]]);
    let rest_zero = info
        .iter()
        .enumerate()
        .all(|(i, b)| matches!(i, 146..148 | 150..152) || *b == 0);
    (field(146) == CONNTRACK_STATE && rest_zero).then(|| field(150))
}

/// `-m sctp --dport N`: `struct xt_sctp_info` (dpts[2], spts[2],
/// chunkmap[64], chunk_match_type, flag_info[4], flag_count, flags,
/// invflags), as iptables fills it: the destination range, no chunk
/// flags (each flag slot's chunk type 0xff). iptables-nft writes tcp and
/// udp ports as native payload matches, but sctp only this way.
pub fn sctp_dport(port: u16) -> Expr {
    let mut info = vec![0u8; 296];
    info[0..2].copy_from_slice(&port.to_ne_bytes());
    info[2..4].copy_from_slice(&port.to_ne_bytes());
    for slot in 0..4 {
        info[268 + 3 * slot] = 0xff;
    }
    info[284..288].copy_from_slice(&SCTP_DEST_PORTS.to_ne_bytes());
    Expr::xt_match("sctp", 0, info)
}

pub fn parse_sctp_dport(info: &[u8]) -> Option<u16> {
    let port = u16::from_ne_bytes([*info.first()?, *info.get(1)?]);
    (Expr::xt_match("sctp", 0, info.to_vec()) == sctp_dport(port)).then_some(port)
}

/// `-j MASQUERADE` without options: `struct
/// nf_nat_ipv4_multi_range_compat` with one empty range (v4), `struct
/// nf_nat_range` (v6).
pub fn masquerade(v6: bool) -> Expr {
    let info = if v6 {
        vec![0u8; 40]
    } else {
        let mut info = vec![0u8; 24];
        info[..4].copy_from_slice(&1u32.to_ne_bytes());
        info
    };
    Expr::xt_target("MASQUERADE", 0, info)
}

pub fn is_masquerade(info: &[u8], v6: bool) -> bool {
    let Expr::Xt { info: want, .. } = masquerade(v6) else {
        return false;
    };
    info == want
}

/// `-j DNAT --to-destination ip:port`: `struct nf_nat_range2` (flags,
/// min_addr, max_addr, min_proto, max_proto, base_proto).
pub fn dnat(to: SocketAddr) -> Expr {
    let mut info = vec![0u8; 48];
    info[..4].copy_from_slice(&NAT_MAP_IPS_AND_PROTO.to_ne_bytes());
    let addr = addr_bytes(to.ip());
    info[4..4 + addr.len()].copy_from_slice(&addr);
    info[20..20 + addr.len()].copy_from_slice(&addr);
    info[36..38].copy_from_slice(&to.port().to_be_bytes());
    info[38..40].copy_from_slice(&to.port().to_be_bytes());
    Expr::xt_target("DNAT", 2, info)
}

pub fn parse_dnat(info: &[u8], v6: bool) -> Option<SocketAddr> {
    if info.len() != 48 || info[..4] != NAT_MAP_IPS_AND_PROTO.to_ne_bytes() {
        return None;
    }
    let ip = if v6 {
        IpAddr::from(<[u8; 16]>::try_from(&info[4..20]).ok()?)
    } else {
        IpAddr::from(<[u8; 4]>::try_from(&info[4..8]).ok()?)
    };
    let to = SocketAddr::new(ip, u16::from_be_bytes([info[36], info[37]]));
    (dnat(to) == Expr::xt_target("DNAT", 2, info.to_vec())).then_some(to)
}

/// `-j MARK --set-xmark value/mask`: `struct xt_mark_tginfo2`.
pub fn set_mark(value: u32, mask: u32) -> Expr {
    let mut info = value.to_ne_bytes().to_vec();
    info.extend_from_slice(&mask.to_ne_bytes());
    Expr::xt_target("MARK", 2, info)
}

pub fn parse_set_mark(info: &[u8]) -> Option<(u32, u32)> {
    let v: [u8; 8] = info.try_into().ok()?;
    Some((
        u32::from_ne_bytes([v[0], v[1], v[2], v[3]]),
        u32::from_ne_bytes([v[4], v[5], v[6], v[7]]),
    ))
}

fn addr_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(e: Expr) -> Vec<u8> {
        match e {
            Expr::Xt { info, .. } => info,
            other => panic!("not xt: {other:?}"),
        }
    }

    #[test]
    fn round_trips() {
        assert_eq!(
            parse_comment(&info(comment("hi").unwrap())).as_deref(),
            Some("hi")
        );
        assert!(comment(&"x".repeat(256)).is_none());
        assert_eq!(
            parse_multiport(&info(multiport(&[8080, 8081]).unwrap())),
            Some(vec![8080, 8081])
        );
        assert!(multiport(&[1; 16]).is_none());
        assert!(is_dst_local(&info(dst_local())));
        let states =
            super::super::super::model::ct::RELATED | super::super::super::model::ct::ESTABLISHED;
        assert_eq!(parse_ctstate(&info(ctstate(states))), Some(states));
        let to: SocketAddr = "10.0.0.2:80".parse().unwrap();
        assert_eq!(parse_dnat(&info(dnat(to)), false), Some(to));
        let to6: SocketAddr = "[2001:db8::2]:80".parse().unwrap();
        assert_eq!(parse_dnat(&info(dnat(to6)), true), Some(to6));
        assert_eq!(
            parse_set_mark(&info(set_mark(0x2000, 0x2000))),
            Some((0x2000, 0x2000))
        );
        assert!(is_masquerade(&info(masquerade(false)), false));
        assert!(!is_masquerade(&info(masquerade(true)), false));
        for bad in [&[][..], &[1, 2, 3][..]] {
            assert!(parse_multiport(bad).is_none());
            assert!(parse_ctstate(bad).is_none());
            assert!(parse_dnat(bad, false).is_none());
            assert!(parse_set_mark(bad).is_none());
        }
    }
}

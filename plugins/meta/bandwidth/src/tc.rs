//! Traffic control: the `tc qdisc`, `tc filter` and `ip link add type ifb`
//! verbs the bandwidth plugin needs, and Go's token bucket arithmetic
//! (plugins/meta/bandwidth), so that both implementations ask the kernel
//! for the same parameters and each can CHECK qdiscs the other made.
//!
//! Messages go over the suite's netlink transport (`pkg::netlink::Socket`)
//! with a codec of their own ([`TcMsg`]: netlink-packet-route's `TcMessage`
//! for qdiscs and filters), so that only this plugin links the tc parsers.
//! netlink-packet-route has no TBF types: its options are encoded and
//! decoded here (`struct tc_tbf_qopt`, `linux/pkt_sched.h`).

use netlink_packet_core::{
    DecodeError, DefaultNla, Emitable, NLM_F_CREATE, NLM_F_EXCL, NetlinkDeserializable,
    NetlinkHeader, NetlinkSerializable, Nla, NlaBuffer, NlasIterator, Parseable,
};
use netlink_packet_route::link::{InfoKind, LinkMessage};
use netlink_packet_route::tc::{
    TcAction, TcActionAttribute, TcActionMirror, TcActionMirrorOption, TcActionOption,
    TcActionType, TcAttribute, TcFilterU32, TcFilterU32Option, TcHandle, TcHeader, TcMessage,
    TcMirror, TcMirrorActionType, TcOption, TcU32Key, TcU32Selector, TcU32SelectorFlags,
};
use rtnetlink::{LinkMessageBuilder, LinkUnspec};

use pkg::Result;
use pkg::netlink::Socket;

const RTM_NEWQDISC: u16 = 36;
const RTM_DELQDISC: u16 = 37;
const RTM_GETQDISC: u16 = 38;
const RTM_NEWTFILTER: u16 = 44;
const RTM_GETTFILTER: u16 = 46;

/// A qdisc or filter message, by its rtnetlink type.
#[derive(Debug, Clone)]
pub struct TcMsg(u16, TcMessage);

impl NetlinkSerializable for TcMsg {
    fn message_type(&self) -> u16 {
        self.0
    }
    fn buffer_len(&self) -> usize {
        self.1.buffer_len()
    }
    fn serialize(&self, buffer: &mut [u8]) {
        self.1.emit(buffer)
    }
}

impl NetlinkDeserializable for TcMsg {
    type Error = DecodeError;
    fn deserialize(
        header: &NetlinkHeader,
        payload: &[u8],
    ) -> std::result::Result<Self, Self::Error> {
        Ok(TcMsg(header.message_type, TcMessage::parse(payload)?))
    }
}

/// A traffic-control socket in the namespace it was created in.
pub struct Tc {
    socket: Socket<TcMsg>,
}

/// TC_H_ROOT: the root of a device's egress qdisc tree.
pub const ROOT: u32 = 0xFFFF_FFFF;
/// TC_H_INGRESS: where the ingress qdisc hangs.
pub const INGRESS_PARENT: u32 = 0xFFFF_FFF1;
/// `ffff:`, the ingress qdisc's handle and its filters' parent.
pub const INGRESS_HANDLE: u32 = 0xFFFF_0000;
/// `1:`, the handle Go gives its TBF qdiscs.
pub const TBF_HANDLE: u32 = 0x0001_0000;

const TBF_KIND: &str = "tbf";
const INGRESS_KIND: &str = "ingress";
const TCA_OPTIONS: u16 = 2;
const TCA_TBF_PARMS: u16 = 1;
const TCA_TBF_RATE64: u16 = 4;
/// sizeof(struct tc_tbf_qopt): two 12-byte tc_ratespecs, limit, buffer, mtu.
const TBF_QOPT_LEN: usize = 36;
const TC_LINKLAYER_ETHERNET: u8 = 1;
const ETH_P_ALL: u16 = 0x0003;
/// Go's `latencyInMillis`: how long a packet may wait in the bucket.
const LATENCY_MS: f64 = 25.0;
const TIME_UNITS_PER_SEC: f64 = 1_000_000.0;
/// What /proc/net/psched gives on every kernel since 2.6.31 (64 ns ticks).
const DEFAULT_TICK_IN_USEC: f64 = 15.625;

/// A token bucket as the kernel stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tbf {
    /// Bytes per second.
    pub rate: u64,
    /// Bytes that may be queued.
    pub limit: u32,
    /// Bucket size in psched ticks (the time `burst` bytes take at `rate`).
    pub buffer: u32,
}

impl Tbf {
    /// Go's parameters for a rate in bits per second and a burst in bits:
    /// rate/8 bytes per second, a buffer of burst/8 bytes at that rate in
    /// ticks, and a limit of 25 ms worth of rate plus the burst. The float
    /// steps and conversions follow Go's order so that the results are
    /// bit-identical. `rate_bits` must be at least 8.
    pub fn from_bits(rate_bits: u64, burst_bits: u64, tick_in_usec: f64) -> Tbf {
        let rate = rate_bits / 8;
        // Callers validate burst/8 < 2^32 (Go's "burst cannot be more than 4GB").
        let burst = (burst_bits / 8) as u32;
        let time = go_u32(f64::from(burst) * TIME_UNITS_PER_SEC / rate as f64);
        let buffer = go_u32(f64::from(time) * tick_in_usec);
        let latency = TIME_UNITS_PER_SEC * (LATENCY_MS / 1000.0);
        let limit = go_u32(rate as f64 * latency / TIME_UNITS_PER_SEC).wrapping_add(burst);
        Tbf {
            rate,
            limit,
            buffer,
        }
    }

    fn encode(&self) -> Vec<TcOption> {
        let mut qopt = [0u8; TBF_QOPT_LEN];
        // struct tc_ratespec rate: cell_log, linklayer, overhead, cell_align, mpu, rate.
        qopt[1] = TC_LINKLAYER_ETHERNET;
        let rate32 = u32::try_from(self.rate).unwrap_or(u32::MAX);
        qopt[8..12].copy_from_slice(&rate32.to_ne_bytes());
        // peakrate (12..24) stays zero: no peak rate.
        qopt[24..28].copy_from_slice(&self.limit.to_ne_bytes());
        qopt[28..32].copy_from_slice(&self.buffer.to_ne_bytes());
        let mut opts = vec![TcOption::Other(DefaultNla::new(
            TCA_TBF_PARMS,
            qopt.to_vec(),
        ))];
        if self.rate > u64::from(u32::MAX) {
            opts.push(TcOption::Other(DefaultNla::new(
                TCA_TBF_RATE64,
                self.rate.to_ne_bytes().to_vec(),
            )));
        }
        opts
    }

    /// From the nested TCA_OPTIONS payload of a dumped tbf qdisc.
    fn decode(nested: &[u8]) -> Option<Tbf> {
        let mut tbf = None;
        let mut rate64 = None;
        for nla in NlasIterator::new(nested) {
            let nla: NlaBuffer<&[u8]> = nla.ok()?;
            let v = nla.value();
            match nla.kind() {
                TCA_TBF_PARMS if v.len() >= TBF_QOPT_LEN => {
                    let u = |o: usize| u32::from_ne_bytes([v[o], v[o + 1], v[o + 2], v[o + 3]]);
                    tbf = Some(Tbf {
                        rate: u64::from(u(8)),
                        limit: u(24),
                        buffer: u(28),
                    });
                }
                TCA_TBF_RATE64 if v.len() >= 8 => {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(&v[..8]);
                    rate64 = Some(u64::from_ne_bytes(b));
                }
                _ => {}
            }
        }
        let mut tbf = tbf?;
        if let Some(r) = rate64 {
            tbf.rate = r;
        }
        Some(tbf)
    }
}

/// Go's float64 to uint32 conversion on amd64: through int64, keeping the
/// low 32 bits; NaN, infinities and values beyond int64 give 0.
fn go_u32(x: f64) -> u32 {
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if !(-TWO_POW_63..TWO_POW_63).contains(&x) {
        return 0;
    }
    x as i64 as u32
}

/// psched ticks per microsecond (Go's misnamed `TickInUsec`), read from
/// /proc/net/psched the way iproute2 and Go's netlink library read it.
pub fn tick_in_usec() -> f64 {
    std::fs::read_to_string("/proc/net/psched")
        .ok()
        .and_then(|s| parse_psched(&s))
        .unwrap_or(DEFAULT_TICK_IN_USEC)
}

fn parse_psched(s: &str) -> Option<f64> {
    let vals: Vec<u64> = s
        .split_whitespace()
        .take(4)
        .map(|p| u64::from_str_radix(p, 16).ok())
        .collect::<Option<_>>()?;
    if vals.len() < 3 || vals[1] == 0 {
        return None;
    }
    let (mut t2us, us2t, clock_res) = (vals[0] as f64, vals[1] as f64, vals[2] as f64);
    // Kernels with a nanosecond clock advertise t2us = 1000 for old
    // iproute2 binaries; it really is us2t.
    if vals[2] == 1_000_000_000 {
        t2us = us2t;
    }
    let clock_factor = clock_res / TIME_UNITS_PER_SEC;
    let tick = t2us / us2t * clock_factor;
    (tick.is_finite() && tick > 0.0).then_some(tick)
}

/// One qdisc as `tc qdisc show` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qdisc {
    pub index: u32,
    pub handle: u32,
    pub parent: u32,
    pub kind: String,
    /// The parameters, for a tbf qdisc.
    pub tbf: Option<Tbf>,
}

fn handle(h: u32) -> TcHandle {
    TcHandle::from(h)
}

fn header(index: u32, parent: u32, handle_: u32) -> TcHeader {
    TcHeader {
        index: index as i32,
        parent: handle(parent),
        handle: handle(handle_),
        ..Default::default()
    }
}

/// The IFB device `ip link add <name> mtu <mtu> txqueuelen 0 type ifb`
/// makes, down: the caller sets it up once it is configured (its
/// `accept_ra`, above all). The queue length is 0 as Go's plugin leaves it
/// (plugins PR #1097): the TBF on the device sets its own limit.
pub fn ifb_message(name: &str, mtu: u32) -> LinkMessage {
    let mut b = LinkMessageBuilder::<LinkUnspec>::new_with_info_kind(InfoKind::Ifb)
        .name(name)
        .txqueuelen(0);
    if mtu != 0 {
        b = b.mtu(mtu);
    }
    b.build()
}

impl Tc {
    /// A socket in the calling thread's network namespace.
    pub fn new() -> Result<Tc> {
        Ok(Tc {
            socket: Socket::open(pkg::netlink::NETLINK_ROUTE)?,
        })
    }

    /// `tc qdisc show [dev <index>]`.
    pub fn qdisc_list(&mut self, index: Option<u32>) -> Result<Vec<Qdisc>> {
        let msg = TcMessage::with_index(index.map_or(0, |i| i as i32));
        let replies = self.socket.dump(
            || TcMsg(RTM_GETQDISC, msg.clone()),
            || match index {
                Some(i) => format!("list qdiscs of link index {i}"),
                None => "list qdiscs".into(),
            },
        )?;
        Ok(replies
            .into_iter()
            .filter_map(|m| (m.0 == RTM_NEWQDISC).then_some(m.1))
            .map(|q| {
                let mut kind = String::new();
                let mut tbf = None;
                for attr in &q.attributes {
                    match attr {
                        TcAttribute::Kind(k) => kind = k.clone(),
                        TcAttribute::Options(opts) => {
                            for o in opts {
                                if let TcOption::Other(nla) = o
                                    && nla.kind() == TCA_OPTIONS
                                {
                                    let mut value = vec![0u8; nla.value_len()];
                                    nla.emit_value(&mut value);
                                    tbf = Tbf::decode(&value);
                                }
                            }
                        }
                        _ => {}
                    }
                }
                Qdisc {
                    index: q.header.index as u32,
                    handle: u32::from(q.header.handle),
                    parent: u32::from(q.header.parent),
                    tbf: if kind == TBF_KIND { tbf } else { None },
                    kind,
                }
            })
            .filter(|q| index.is_none_or(|i| q.index == i))
            .collect())
    }

    /// `tc qdisc add dev <index> root handle 1: tbf ...`; EEXIST when the
    /// device already has a root qdisc of its own.
    pub fn qdisc_add_tbf(&mut self, index: u32, tbf: &Tbf) -> Result<()> {
        let msg = TcMessage::from_parts(
            header(index, ROOT, TBF_HANDLE),
            vec![
                TcAttribute::Kind(TBF_KIND.into()),
                TcAttribute::Options(tbf.encode()),
            ],
        );
        self.socket
            .request(TcMsg(RTM_NEWQDISC, msg), NLM_F_CREATE | NLM_F_EXCL, || {
                format!(
                    "add tbf qdisc (rate {} bytes/s, limit {}, buffer {}) to link index {index}",
                    tbf.rate, tbf.limit, tbf.buffer
                )
            })
            .map(drop)
    }

    /// `tc qdisc add dev <index> handle ffff: ingress`.
    pub fn qdisc_add_ingress(&mut self, index: u32) -> Result<()> {
        let msg = TcMessage::from_parts(
            header(index, INGRESS_PARENT, INGRESS_HANDLE),
            vec![TcAttribute::Kind(INGRESS_KIND.into())],
        );
        self.socket
            .request(TcMsg(RTM_NEWQDISC, msg), NLM_F_CREATE | NLM_F_EXCL, || {
                format!("add ingress qdisc to link index {index}")
            })
            .map(drop)
    }

    /// `tc qdisc del dev <index> parent <parent> handle <handle>`; the
    /// device falls back to its default qdisc.
    pub fn qdisc_del(&mut self, index: u32, parent: u32, handle_: u32) -> Result<()> {
        let msg = TcMessage::from_parts(header(index, parent, handle_), vec![]);
        self.socket
            .request(TcMsg(RTM_DELQDISC, msg), 0, || {
                format!(
                    "delete qdisc {} (parent {}) of link index {index}",
                    handle(handle_),
                    handle(parent)
                )
            })
            .map(drop)
    }

    /// `tc filter add dev <index> parent ffff: protocol all prio 1 u32
    /// match u32 0 0 flowid 1:1 action mirred egress redirect dev <target>`:
    /// everything arriving on `index` leaves through `target` instead.
    pub fn filter_add_redirect(&mut self, index: u32, target: u32) -> Result<()> {
        let mut sel = TcU32Selector::default();
        sel.flags = TcU32SelectorFlags::Terminal;
        sel.nkeys = 1;
        sel.keys = vec![TcU32Key::default()];
        let mut mirror = TcMirror::default();
        mirror.generic.action = TcActionType::Stolen;
        mirror.eaction = TcMirrorActionType::EgressRedir;
        mirror.ifindex = target;
        let mut action = TcAction::default();
        action.attributes = vec![
            TcActionAttribute::Kind(TcActionMirror::KIND.into()),
            TcActionAttribute::Options(vec![TcActionOption::Mirror(TcActionMirrorOption::Parms(
                mirror,
            ))]),
        ];
        let mut hdr = header(index, INGRESS_HANDLE, 0);
        // tcm_info: priority in the high half, protocol (network order) low.
        hdr.info = (1u32 << 16) | u32::from(ETH_P_ALL.to_be());
        let msg = TcMessage::from_parts(
            hdr,
            vec![
                TcAttribute::Kind(TcFilterU32::KIND.into()),
                TcAttribute::Options(vec![
                    TcOption::U32(TcFilterU32Option::ClassId(handle(0x0001_0001))),
                    TcOption::U32(TcFilterU32Option::Selector(sel)),
                    TcOption::U32(TcFilterU32Option::Action(vec![action])),
                ]),
            ],
        );
        self.socket
            .request(
                TcMsg(RTM_NEWTFILTER, msg),
                NLM_F_CREATE | NLM_F_EXCL,
                || format!("add redirect filter from link index {index} to link index {target}"),
            )
            .map(drop)
    }

    /// The devices that ingress filters of `index` redirect to (mirred
    /// egress redirect actions), from `tc filter show dev <index> ingress`.
    /// Empty when the device has no ingress qdisc.
    pub fn ingress_redirects(&mut self, index: u32) -> Result<Vec<u32>> {
        let msg = TcMessage::from_parts(header(index, INGRESS_HANDLE, 0), vec![]);
        let replies = self.socket.dump(
            || TcMsg(RTM_GETTFILTER, msg.clone()),
            || format!("list ingress filters of link index {index}"),
        )?;
        let mut targets = Vec::new();
        for reply in replies {
            let TcMsg(RTM_NEWTFILTER, f) = reply else {
                continue;
            };
            for attr in f.attributes {
                let TcAttribute::Options(opts) = attr else {
                    continue;
                };
                for opt in opts {
                    let TcOption::U32(TcFilterU32Option::Action(actions)) = opt else {
                        continue;
                    };
                    for action in actions {
                        for a in action.attributes {
                            let TcActionAttribute::Options(aopts) = a else {
                                continue;
                            };
                            for ao in aopts {
                                if let TcActionOption::Mirror(TcActionMirrorOption::Parms(m)) = ao
                                    && m.eaction == TcMirrorActionType::EgressRedir
                                    && !targets.contains(&m.ifindex)
                                {
                                    targets.push(m.ifindex);
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok(targets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tbf_parameters_match_go() {
        // (rate bits/s, burst bits) -> (rate bytes/s, limit bytes, buffer
        // ticks), computed with Go's formulas and a 15.625 µs tick; the
        // first row is also what Debian's Go bandwidth plugin put in the
        // kernel for this configuration.
        let cases = [
            ((1_000_000, 80_000), (125_000, 13_125, 1_250_000)),
            ((2_000_000, 160_000), (250_000, 26_250, 1_250_000)),
            ((8, 8), (1, 1, 15_625_000)),
            (
                (100_000_000_000, 1_000_000),
                (12_500_000_000, 312_625_000, 156),
            ),
            // containerd's burst for a pod annotation (MaxUint32 bits): the
            // buffer in ticks wraps in Go, and here alike
            (
                (1_000_000, 4_294_967_295),
                (125_000, 536_874_036, 2_684_354_435),
            ),
            // beyond validation: Go's wrap-arounds, kept bit for bit
            ((1_000, 34_359_738_360), (125, 2, 2_684_229_560)),
        ];
        for ((rate, burst), (want_rate, want_limit, want_buffer)) in cases {
            let t = Tbf::from_bits(rate, burst, 15.625);
            assert_eq!(
                t,
                Tbf {
                    rate: want_rate,
                    limit: want_limit,
                    buffer: want_buffer
                },
                "rate {rate} burst {burst}"
            );
        }
    }

    #[test]
    fn tbf_options_round_trip() {
        for t in [
            Tbf {
                rate: 125_000,
                limit: 13_125,
                buffer: 1_250_000,
            },
            Tbf {
                rate: 12_500_000_000,
                limit: 1,
                buffer: 2,
            },
        ] {
            let mut nested = Vec::new();
            for o in t.encode() {
                let TcOption::Other(nla) = o else {
                    panic!("tbf options are raw attributes")
                };
                let len = 4 + nla.value_len();
                nested.extend_from_slice(&(len as u16).to_ne_bytes());
                nested.extend_from_slice(&nla.kind().to_ne_bytes());
                let mut v = vec![0u8; nla.value_len()];
                nla.emit_value(&mut v);
                nested.extend_from_slice(&v);
                while !nested.len().is_multiple_of(4) {
                    nested.push(0);
                }
            }
            assert_eq!(Tbf::decode(&nested), Some(t));
        }
        assert_eq!(Tbf::decode(&[]), None);
    }

    #[test]
    fn psched_parsing() {
        let cases = [
            ("000003e8 00000040 000f4240 3b9aca00\n", Some(15.625)),
            ("000003e8 00000040 3b9aca00 3b9aca00\n", Some(1000.0)),
            ("00000001 00000001 000f4240 00000064\n", Some(1.0)),
            ("garbage", None),
            ("000003e8 00000000 000f4240 3b9aca00", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_psched(text), want, "{text:?}");
        }
    }

    #[test]
    fn go_float_conversion() {
        let cases = [
            (0.0, 0),
            (1.9, 1),
            (4_294_967_296.0, 0),
            (4_294_967_297.5, 1),
            (f64::INFINITY, 0),
            (f64::NAN, 0),
            (1e30, 0),
        ];
        for (x, want) in cases {
            assert_eq!(go_u32(x), want, "{x}");
        }
    }
}

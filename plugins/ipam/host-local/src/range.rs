//! Ranges and range sets with Go's canonicalisation rules, and the
//! round-robin iterator over a range set.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use serde::Deserialize;

use pkg::{Error, Result};

/// A range as written in the config (`ranges`, legacy top-level keys, or the
/// `ipRanges` capability). Strings, so that bad values get our messages.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RangeConf {
    pub subnet: String,
    pub range_start: String,
    pub range_end: String,
    pub gateway: String,
}

/// A canonical range: `start..=end` inside `subnet`, gateway never handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub subnet: IpNet,
    pub start: IpAddr,
    pub end: IpAddr,
    pub gateway: IpAddr,
}

/// Alternatives for one address; each range set yields one IP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeSet(pub Vec<Range>);

pub fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn from_u128(v: u128, v4: bool) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::from(v as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(v))
    }
}

/// IPv4-mapped IPv6 becomes IPv4, as Go's `To4()` does.
pub use pkg::types::mapped::canonical_ip;

/// `addr` or `addr/prefix` (the prefix is dropped), as Go's `ip.ParseIP`:
/// surrounding whitespace trimmed, a prefix that fits the family.
pub fn parse_ip_or_cidr(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    match s.parse::<IpNet>() {
        Ok(net) => Some(canonical_ip(net.addr())),
        Err(_) => s.parse().ok().map(canonical_ip),
    }
}

fn parse_ip(field: &str, s: &str) -> Result<IpAddr> {
    s.parse()
        .map(canonical_ip)
        .map_err(|_| Error::invalid_config(format!("invalid {field} {s:?}: not an IP address"), ""))
}

impl RangeConf {
    /// Go's `Range.Canonicalize`.
    pub fn canonicalize(&self) -> Result<Range> {
        if self.subnet.is_empty() {
            return Err(Error::invalid_config("range has no subnet", ""));
        }
        let subnet: IpNet = self.subnet.parse().map_err(|_| {
            Error::invalid_config(format!("invalid subnet {:?}: not a CIDR", self.subnet), "")
        })?;
        let subnet = pkg::types::mapped::canonical_net(subnet, "subnet")?;
        if subnet.prefix_len() > subnet.max_prefix_len() - 2 {
            return Err(Error::invalid_config(
                format!("network {subnet} too small to allocate from"),
                "",
            ));
        }
        if subnet.addr() != subnet.network() {
            return Err(Error::invalid_config(
                format!(
                    "network {subnet} has host bits set: for a prefix length of {} the network address is {}",
                    subnet.prefix_len(),
                    subnet.network()
                ),
                "",
            ));
        }
        let v4 = subnet.addr().is_ipv4();
        let net = to_u128(subnet.network());
        let first = from_u128(net + 1, v4);
        let gateway = if self.gateway.is_empty() {
            first
        } else {
            parse_ip("gateway", &self.gateway)?
        };
        let mut r = Range {
            subnet,
            start: first,
            end: last_ip(subnet),
            gateway,
        };
        // Go checks only that the bounds are in the subnet (so the network
        // and broadcast addresses are accepted) and that end is not before start.
        if !self.range_start.is_empty() {
            let start = parse_ip("rangeStart", &self.range_start)?;
            if start.is_ipv4() != subnet.addr().is_ipv4() || !subnet.contains(&start) {
                return Err(Error::invalid_config(
                    format!("rangeStart {start} not in network {subnet}"),
                    "",
                ));
            }
            r.start = start;
        }
        if !self.range_end.is_empty() {
            let end = parse_ip("rangeEnd", &self.range_end)?;
            if end.is_ipv4() != subnet.addr().is_ipv4() || !subnet.contains(&end) {
                return Err(Error::invalid_config(
                    format!("rangeEnd {end} not in network {subnet}"),
                    "",
                ));
            }
            if to_u128(end) < to_u128(r.start) {
                return Err(Error::invalid_config(
                    format!(
                        "rangeEnd {end} is before rangeStart {} in network {subnet}",
                        r.start
                    ),
                    "",
                ));
            }
            r.end = end;
        }
        Ok(r)
    }
}

/// v4: the address before broadcast; v6: the last address.
fn last_ip(subnet: IpNet) -> IpAddr {
    let v4 = subnet.addr().is_ipv4();
    let b = to_u128(subnet.broadcast());
    from_u128(if v4 { b - 1 } else { b }, v4)
}

impl Range {
    pub fn is_v4(&self) -> bool {
        self.subnet.addr().is_ipv4()
    }

    /// In the subnet and within start..=end.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical_ip(ip);
        if ip.is_ipv4() != self.is_v4() || !self.subnet.contains(&ip) {
            return false;
        }
        let v = to_u128(ip);
        v >= to_u128(self.start) && v <= to_u128(self.end)
    }

    fn overlaps(&self, other: &Range) -> bool {
        self.is_v4() == other.is_v4()
            && (self.contains(other.start)
                || self.contains(other.end)
                || other.contains(self.start)
                || other.contains(self.end))
    }

    /// How many addresses this range can hand out.
    pub fn capacity(&self) -> u128 {
        let n = to_u128(self.end) - to_u128(self.start) + 1;
        if self.contains(self.gateway) {
            n - 1
        } else {
            n
        }
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

impl RangeSet {
    /// Go's `RangeSet.Canonicalize`.
    pub fn canonicalize(confs: &[RangeConf]) -> Result<RangeSet> {
        if confs.is_empty() {
            return Err(Error::invalid_config("empty range set", ""));
        }
        let mut ranges = Vec::with_capacity(confs.len());
        for c in confs {
            let r = c.canonicalize()?;
            if ranges
                .first()
                .is_some_and(|f: &Range| f.is_v4() != r.is_v4())
            {
                return Err(Error::invalid_config("mixed address families", ""));
            }
            ranges.push(r);
        }
        for (i, a) in ranges.iter().enumerate() {
            for b in &ranges[i + 1..] {
                if a.overlaps(b) {
                    return Err(Error::invalid_config(
                        format!("subnets {a} and {b} overlap"),
                        "",
                    ));
                }
            }
        }
        Ok(RangeSet(ranges))
    }

    pub fn is_v4(&self) -> bool {
        self.0[0].is_v4()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.range_for(ip).is_some()
    }

    pub fn range_for(&self, ip: IpAddr) -> Option<&Range> {
        self.0.iter().find(|r| r.contains(ip))
    }

    pub fn overlaps(&self, other: &RangeSet) -> bool {
        self.0.iter().any(|a| other.0.iter().any(|b| a.overlaps(b)))
    }

    pub fn capacity(&self) -> u128 {
        self.0
            .iter()
            .map(Range::capacity)
            .fold(0u128, u128::saturating_add)
    }

    /// Candidates in Go's round-robin order: from `last + 1` (when `last` is
    /// in the set) or the first range's start, wrapping across ranges,
    /// skipping gateways, ending with `last` itself.
    pub fn iter_from(&self, last: Option<IpAddr>) -> RangeIter<'_> {
        let start = last
            .map(canonical_ip)
            .and_then(|l| self.0.iter().position(|r| r.contains(l)).map(|i| (i, l)));
        match start {
            Some((idx, last)) => RangeIter {
                set: self,
                idx,
                cur: Some(to_u128(last)),
                start: None,
                done: false,
            },
            None => RangeIter {
                set: self,
                idx: 0,
                cur: None,
                start: None,
                done: false,
            },
        }
    }
}

impl fmt::Display for RangeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|r| r.to_string()).collect();
        f.write_str(&parts.join(","))
    }
}

/// Yields (address with the subnet's prefix, gateway).
pub struct RangeIter<'a> {
    set: &'a RangeSet,
    idx: usize,
    cur: Option<u128>,
    start: Option<u128>,
    done: bool,
}

impl Iterator for RangeIter<'_> {
    type Item = (IpNet, IpAddr);

    fn next(&mut self) -> Option<(IpNet, IpAddr)> {
        loop {
            if self.done {
                return None;
            }
            let r = &self.set.0[self.idx];
            let v4 = r.is_v4();
            let next = match self.cur {
                None => {
                    let s = to_u128(r.start);
                    self.start = Some(s);
                    s
                }
                Some(cur) if cur == to_u128(r.end) => {
                    self.idx = (self.idx + 1) % self.set.0.len();
                    to_u128(self.set.0[self.idx].start)
                }
                Some(cur) => cur + 1,
            };
            let first_step = self.cur.is_none();
            self.cur = Some(next);
            if !first_step {
                match self.start {
                    None => self.start = Some(next),
                    Some(s) if s == next => {
                        self.done = true;
                        return None;
                    }
                    Some(_) => {}
                }
            }
            let r = &self.set.0[self.idx];
            let ip = from_u128(next, v4);
            if ip == r.gateway {
                continue;
            }
            let net = IpNet::new(ip, r.subnet.prefix_len()).ok()?;
            return Some((net, r.gateway));
        }
    }
}

#[cfg(test)]
#[path = "range_tests.rs"]
mod tests;

//! Netlink attributes: [`Attrs`] encodes them, [`attrs`] walks them. Both
//! sit on netlink-packet-core's attribute types, so that alignment,
//! padding and bounds are checked in one place for every message family
//! the suite encodes by hand (nf_tables, ctnetlink, and the rtnetlink
//! attributes netlink-packet-route has no type for).

use netlink_packet_core::{Emitable, NLA_F_NESTED, Nla, NlasIterator};

/// Attributes being encoded.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Attrs(pub Vec<u8>);

/// One attribute borrowed for emission through netlink-packet-core.
struct Raw<'a> {
    kind: u16,
    value: &'a [u8],
}

impl Nla for Raw<'_> {
    fn value_len(&self) -> usize {
        self.value.len()
    }
    fn kind(&self) -> u16 {
        self.kind
    }
    fn emit_value(&self, buffer: &mut [u8]) {
        buffer.copy_from_slice(self.value);
    }
}

impl Attrs {
    pub fn new() -> Attrs {
        Attrs::default()
    }

    pub fn put(&mut self, kind: u16, value: &[u8]) -> &mut Attrs {
        let nla = Raw { kind, value };
        let start = self.0.len();
        self.0.resize(start + nla.buffer_len(), 0);
        nla.emit(&mut self.0[start..]);
        self
    }

    /// A string, NUL-terminated as the kernel expects.
    pub fn put_str(&mut self, kind: u16, s: &str) -> &mut Attrs {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        self.put(kind, &v)
    }

    pub fn put_u32_be(&mut self, kind: u16, v: u32) -> &mut Attrs {
        self.put(kind, &v.to_be_bytes())
    }

    pub fn put_u64_be(&mut self, kind: u16, v: u64) -> &mut Attrs {
        self.put(kind, &v.to_be_bytes())
    }

    /// A nested attribute whose attributes are already encoded.
    pub fn put_nested(&mut self, kind: u16, encoded: &[u8]) -> &mut Attrs {
        self.put(kind | NLA_F_NESTED, encoded)
    }

    /// A nested attribute holding the attributes `inner` encodes.
    pub fn nest(&mut self, kind: u16, inner: impl FnOnce(&mut Attrs)) -> &mut Attrs {
        let mut nested = Attrs::new();
        inner(&mut nested);
        self.put(kind | NLA_F_NESTED, &nested.0)
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

/// The attributes of `data`: (type without flags, value). Stops at the
/// first malformed one.
pub fn attrs(data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    NlasIterator::new(data).map_while(|nla| {
        let nla = nla.ok()?;
        let (kind, len) = (nla.kind(), usize::from(nla.length()));
        // new_checked vouched for 4 <= len <= the buffer's length.
        nla.into_inner().get(4..len).map(|v| (kind, v))
    })
}

/// The value of the first attribute of type `kind` in `data`.
pub fn find(data: &[u8], kind: u16) -> Option<&[u8]> {
    attrs(data).find(|(k, _)| *k == kind).map(|(_, v)| v)
}

/// A big-endian u32 attribute value.
pub fn be_u32(v: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(v.try_into().ok()?))
}

/// A big-endian u64 attribute value.
pub fn be_u64(v: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(v.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_round_trip() {
        let mut a = Attrs::new();
        a.put_str(1, "nat").put_u32_be(2, 7).nest(3, |n| {
            n.put(1, &[1, 2, 3]);
        });
        let bytes = a.into_bytes();
        assert_eq!(bytes.len() % 4, 0);
        let got: Vec<(u16, Vec<u8>)> = attrs(&bytes).map(|(k, v)| (k, v.to_vec())).collect();
        assert_eq!(got[0], (1, b"nat\0".to_vec()));
        assert_eq!(be_u32(&got[1].1), Some(7));
        assert_eq!(got[2].0, 3, "flags are masked off");
        assert_eq!(find(&got[2].1, 1), Some(&[1u8, 2, 3][..]));
        // truncated data never panics and never yields a torn attribute
        for cut in 0..bytes.len() {
            for (_, v) in attrs(&bytes[..cut]) {
                assert!(v.len() <= cut);
            }
        }
    }
}

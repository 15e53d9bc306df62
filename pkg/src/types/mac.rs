//! MAC addresses as configurations give them (`mac` of bridge's, macvlan's
//! and tap's configs, `MAC=` in `CNI_ARGS`, `runtimeConfig.mac`).

use crate::error::{Error, Result};

/// Six hex octets separated by `:` or `-`. A multicast or all-zero address
/// is refused here: the kernel refuses it too, but with an errno
/// (EADDRNOTAVAIL) that reads as "not found".
pub fn parse_mac(s: &str) -> Result<[u8; 6]> {
    let bad = |why: &str| Error::invalid_config(format!("invalid MAC address {s:?}"), why);
    let sep = if s.contains('-') { '-' } else { ':' };
    let parts: Vec<&str> = s.split(sep).collect();
    if parts.len() != 6 {
        return Err(bad("expected six hex octets such as 0e:00:00:00:aa:01"));
    }
    let mut mac = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        if p.len() != 2 {
            return Err(bad("expected six hex octets such as 0e:00:00:00:aa:01"));
        }
        mac[i] = u8::from_str_radix(p, 16)
            .map_err(|_| bad("expected six hex octets such as 0e:00:00:00:aa:01"))?;
    }
    if mac[0] & 1 == 1 {
        return Err(bad("a multicast address cannot be an interface's address"));
    }
    if mac == [0; 6] {
        return Err(bad("the all-zero address cannot be an interface's address"));
    }
    Ok(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs() {
        assert_eq!(
            parse_mac("0e:00:00:00:aa:01").unwrap(),
            [0x0e, 0, 0, 0, 0xaa, 1]
        );
        assert_eq!(
            parse_mac("0E-00-00-00-AA-01").unwrap(),
            [0x0e, 0, 0, 0, 0xaa, 1]
        );
        let bad = [
            ("", "six hex octets"),
            ("0e:00:00:00:aa", "six hex octets"),
            ("0e:00:00:00:aa:zz", "six hex octets"),
            ("0e:00:00:00:aa:001", "six hex octets"),
            ("0e-00:00:00:aa:01", "six hex octets"),
            ("01:00:5e:00:00:01", "multicast"),
            ("ff:ff:ff:ff:ff:ff", "multicast"),
            ("00:00:00:00:00:00", "all-zero"),
        ];
        for (s, why) in bad {
            let e = parse_mac(s).unwrap_err();
            assert_eq!(e.code(), 7, "{s}");
            assert_eq!(e.msg(), format!("invalid MAC address {s:?}"));
            assert!(e.details().contains(why), "{s}: {}", e.details());
        }
    }
}

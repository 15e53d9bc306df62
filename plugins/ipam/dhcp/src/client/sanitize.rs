//! A reply's DHCP message reduced to what the lease reads, before the
//! `dhcproto` decoder sees it: that decoder asserts on some malformed
//! options (client FQDN shorter than 3 bytes, for one) and `chaddr()`
//! slices by the message's own `hlen`, so a hostile server could make the
//! daemon panic. Here the fixed header is checked, options of the same
//! code are joined (RFC 3396), and only the options a lease is made of
//! are kept, each with a length its type allows.

use crate::options::{
    CLASSLESS_ROUTES, DNS_SERVERS, DOMAIN_NAME, LEASE_TIME, REBINDING_TIME, RENEWAL_TIME, ROUTERS,
    STATIC_ROUTES, SUBNET_MASK,
};

/// The BOOTP header and the magic cookie.
const HEADER: usize = 240;
const COOKIE: [u8; 4] = [99, 130, 83, 99];
const MESSAGE_TYPE: u8 = 53;
const SERVER_ID: u8 = 54;
const PAD: u8 = 0;
const END: u8 = 255;

/// Whether `value` is a well-formed value of option `code`; `None` for an
/// option the lease does not read.
fn fits(code: u8, value: &[u8]) -> Option<bool> {
    let n = value.len();
    Some(match code {
        SUBNET_MASK | SERVER_ID | LEASE_TIME | RENEWAL_TIME | REBINDING_TIME => n == 4,
        MESSAGE_TYPE => n == 1,
        ROUTERS | DNS_SERVERS => n >= 4 && n.is_multiple_of(4),
        STATIC_ROUTES => n >= 8 && n.is_multiple_of(8),
        DOMAIN_NAME => n >= 1 && std::str::from_utf8(value).is_ok(),
        CLASSLESS_ROUTES => n >= 5,
        _ => return None,
    })
}

/// The message with only well-formed options a lease reads, or why it is
/// not a DHCP message at all.
pub fn sanitize(msg: &[u8]) -> Result<Vec<u8>, String> {
    if msg.len() < HEADER {
        return Err(format!("{} bytes, shorter than a DHCP message", msg.len()));
    }
    if msg[2] > 16 {
        return Err(format!("hardware address length {} over 16", msg[2]));
    }
    if msg[236..HEADER] != COOKIE {
        return Err("no DHCP magic cookie".into());
    }
    // (code, joined value) in order of first appearance
    let mut opts: Vec<(u8, Vec<u8>)> = Vec::new();
    let mut rest = &msg[HEADER..];
    while let Some((&code, tail)) = rest.split_first() {
        match code {
            PAD => {
                rest = tail;
                continue;
            }
            END => break,
            _ => {}
        }
        let Some((&len, tail)) = tail.split_first() else {
            return Err(format!("option {code} without a length"));
        };
        let Some(value) = tail.get(..usize::from(len)) else {
            return Err(format!(
                "option {code} of {len} bytes runs past the message"
            ));
        };
        rest = &tail[usize::from(len)..];
        match opts.iter_mut().find(|(c, _)| *c == code) {
            Some((_, v)) => v.extend_from_slice(value),
            None => opts.push((code, value.to_vec())),
        }
    }
    let mut out = msg[..HEADER].to_vec();
    for (code, value) in opts {
        if fits(code, &value) != Some(true) {
            continue;
        }
        for chunk in value.chunks(255) {
            out.push(code);
            out.push(chunk.len() as u8);
            out.extend_from_slice(chunk);
        }
    }
    out.push(END);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(opts: &[u8]) -> Vec<u8> {
        let mut m = vec![0u8; HEADER];
        m[0] = 2;
        m[2] = 6;
        m[236..].copy_from_slice(&COOKIE);
        m.extend_from_slice(opts);
        m
    }

    #[test]
    fn keeps_what_the_lease_reads() {
        let opts = [
            53, 1, 5, // ack
            81, 1, 0, // client FQDN too short: dropped
            1, 4, 255, 255, 255, 0, // mask
            3, 3, 1, 2, 3, // routers not a multiple of 4: dropped
            121, 3, 24, 10, 1, // classless routes, split in two (RFC 3396)
            121, 5, 2, 10, 0, 0, 1, // joined: 10.1.2.0/24 via 10.0.0.1
            0, 0, // pads
            15, 2, 0xff, 0xfe, // domain not UTF-8: dropped
            255, 1, 2, 3,
        ];
        let out = sanitize(&msg(&opts)).unwrap();
        assert_eq!(
            &out[HEADER..],
            [
                53, 1, 5, 1, 4, 255, 255, 255, 0, 121, 8, 24, 10, 1, 2, 10, 0, 0, 1, 255
            ]
        );
    }

    #[test]
    fn refuses_what_is_no_dhcp_message() {
        let mut long_hw = msg(&[255]);
        long_hw[2] = 17;
        let mut no_cookie = msg(&[255]);
        no_cookie[239] = 0;
        for bad in [
            vec![0u8; 100],
            long_hw,
            no_cookie,
            msg(&[53]),
            msg(&[53, 4, 1]),
        ] {
            assert!(sanitize(&bad).is_err());
        }
        // long values are cut into options of 255 bytes
        let mut dns = vec![6, 0];
        let servers: Vec<u8> = (0..=255u8).cycle().take(260).collect();
        dns[1] = 255;
        dns.extend_from_slice(&servers[..255]);
        dns.extend_from_slice(&[6, 5]);
        dns.extend_from_slice(&servers[255..]);
        let out = sanitize(&msg(&dns)).unwrap();
        assert_eq!(out.len(), HEADER + 2 + 255 + 2 + 5 + 1);
    }
}

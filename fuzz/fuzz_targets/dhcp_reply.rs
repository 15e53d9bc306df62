//! The dhcp daemon's reading of what the network sends: an IPv4 packet
//! taken as a server's reply (IP and UDP headers, the DHCP message and its
//! options), then the lease and the CNI result made of it. Bytes 0-3 are
//! the transaction ID expected, 4-9 the client's MAC, the rest the packet.
//! Any panic is a bug: a hostile server must only ever be ignored.
#![no_main]

use dhcp::client::reply;
use dhcp::lease::Lease;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 10 {
        return;
    }
    let (head, packet) = data.split_at(10);
    let xid = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    let mac = &head[4..10];
    let Ok((msg, _kind)) = reply::parse(packet, xid, mac) else {
        return;
    };
    if let Ok(lease) = Lease::from_ack(&msg, u64::MAX / 2) {
        let _ = lease.expires_at();
        let r = dhcp::result::to_result(&lease, 100);
        serde_json::to_string(&r).expect("result serialises");
        serde_json::to_string(&lease).expect("lease serialises");
    }
});

//! host-local's resolv.conf parser.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let dns = host_local::dns::parse(&text);
    serde_json::to_string(&dns).expect("dns serialises");
});

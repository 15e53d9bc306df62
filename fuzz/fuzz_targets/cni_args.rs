//! `CNI_ARGS` parsing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pkg::types::CniArgs;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(args) = CniArgs::parse(s, &["IP", "MAC", "GATEWAY"]) {
        for (k, _) in args.pairs() {
            assert!(["IP", "MAC", "GATEWAY"].contains(&k.as_str()));
        }
        let _ = args.get_ip("IP");
    }
});

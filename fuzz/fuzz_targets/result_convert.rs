//! Result parsing and conversion between every pair of versions.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pkg::types::{CniResult, Version};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let Ok(result) = CniResult::from_value(&value, "") else { return };
    for v in Version::ALL {
        if let Ok(out) = result.to_value(v) {
            let back = CniResult::from_value(&out, "").expect("our own output parses");
            // Converting again into the same version is stable.
            assert_eq!(back.to_value(v).expect("second conversion"), out);
        }
    }
});

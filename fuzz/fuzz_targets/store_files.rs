//! The host-local store reading whatever it finds on disk: a reservation
//! file and a last_reserved_ip file with arbitrary content.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pkg::store::disk::Store;

fuzz_target!(|data: &[u8]| {
    let (a, b) = data.split_at(data.len() / 2);
    let Ok(dir) = tempfile::tempdir() else { return };
    let net = dir.path().join("n");
    if std::fs::create_dir_all(&net).is_err() {
        return;
    }
    let _ = std::fs::write(net.join("10.0.0.5"), a);
    let _ = std::fs::write(net.join("last_reserved_ip.0"), b);
    let Ok(mut store) = Store::open(dir.path(), "n") else { return };
    let _ = store.last_reserved(0);
    let _ = store.get_by_id("c1", "eth0");
    let _ = store.find_by_id("c1", "eth0");
    let _ = store.reserve("c2", "eth0", "10.0.0.6".parse().expect("literal"), 0);
    let _ = store.release_by_id("c1", "eth0");
    let _ = store.gc(&[("c2".to_string(), "eth0".to_string())]);
    let left = store.reservations().expect("listing works");
    assert!(left.iter().all(|(_, owner)| owner.as_ref().is_some_and(|o| o.id == "c2")), "{left:?}");
});

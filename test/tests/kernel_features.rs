//! The kernel feature gate (`require_kernel!`): every feature the tests
//! name can be probed here, and the probe leaves nothing behind. A missing
//! feature goes through the gate itself: skipped on the host while the VM
//! stage covers it (`CNI_TESTS_IN_VM`), a failure in the VM, whose kernel
//! must have them all.

use integration::*;

#[test]
fn kernel_features_are_probed_in_a_throwaway_namespace() {
    require_root!();
    let before = std::fs::read_dir("/run/netns")
        .map(|d| d.count())
        .unwrap_or(0);
    let mut missing = Vec::new();
    for (feature, _) in KERNEL_FEATURES {
        let answer = missing_kernel_feature(feature);
        eprintln!("{feature}: {}", answer.as_deref().unwrap_or("present"));
        if let Some(reason) = &answer {
            assert!(reason.contains(feature), "{reason}");
            missing.push((*feature, reason.clone()));
        }
        assert_eq!(missing_kernel_feature(feature), answer, "asked twice");
    }
    let after = std::fs::read_dir("/run/netns")
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(after <= before, "a probe namespace was left in /run/netns");
    for (feature, reason) in missing {
        skip::kernel(feature, reason);
    }
}

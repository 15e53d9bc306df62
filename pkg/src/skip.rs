//! Whether a test that cannot run here skips or fails (tests and the
//! `testkit` feature only).
//!
//! Privileged tests need root, and some need a tool (`iptables`, `nft`,
//! `unshare`) or Debian's Go plugins; without them they print
//! `skipped: <reason>` and return, so that `cargo test` stays usable on a
//! workstation. A run that must prove something (CI, `test_linux.sh` as
//! root) sets `CNI_TESTS_REQUIRE_PRIV=1`, and then every such skip is a
//! test failure that gives the reason: a green run has tested everything.

use std::fmt::Display;

/// The environment variable that turns skips into failures.
pub const REQUIRE_VAR: &str = "CNI_TESTS_REQUIRE_PRIV";

/// Whether `CNI_TESTS_REQUIRE_PRIV` is set to anything but empty or `0`.
pub fn forbidden() -> bool {
    forbidden_by(std::env::var_os(REQUIRE_VAR).as_deref())
}

fn forbidden_by(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "0")
}

/// The calling test (or the part of it that needs what is missing) does not
/// run, because of `reason`: prints `skipped: <reason>`, or panics with the
/// reason when skipping is [`forbidden`]. The caller returns (or moves on
/// to its next case) afterwards.
#[track_caller]
pub fn because(reason: impl Display) {
    if forbidden() {
        panic!("{reason} ({REQUIRE_VAR} is set: this test must not skip)");
    }
    eprintln!("skipped: {reason}");
}

/// The environment variable naming the kernel features (as in
/// `testkit::KERNEL_FEATURES`, comma-separated) whose tests the VM stage
/// of `test_linux.sh` runs on a kernel that has them.
pub const IN_VM_VAR: &str = "CNI_TESTS_IN_VM";

/// A test that needs a kernel `feature` this kernel lacks (`reason`):
/// skipped when [`IN_VM_VAR`] names the feature, because the VM stage runs
/// it, even where skips are otherwise forbidden; else as [`because`].
#[track_caller]
pub fn kernel(feature: &str, reason: impl Display) {
    if covered_by(std::env::var(IN_VM_VAR).ok().as_deref(), feature) {
        eprintln!("skipped: {reason} (the VM stage runs this test)");
        return;
    }
    because(reason);
}

fn covered_by(list: Option<&str>, feature: &str) -> bool {
    list.is_some_and(|l| l.split(',').any(|f| f.trim() == feature))
}

/// [`because`] once per process for `key`: for checks repeated many times
/// in one test binary (a snapshot that leaves a tool's section out).
#[track_caller]
pub fn once(key: &'static str, reason: impl Display) {
    static SEEN: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let first = match SEEN.lock() {
        Ok(mut seen) if !seen.contains(&key) => {
            seen.push(key);
            true
        }
        Ok(_) => false,
        Err(_) => true,
    };
    if first || forbidden() {
        because(reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vm_stage_covers_the_features_it_names() {
        let cases: [(Option<&str>, &str, bool); 5] = [
            (None, "vlan", false),
            (Some(""), "vlan", false),
            (Some("vlan"), "vlan", true),
            (Some("dummy, vlan,vrf"), "vlan", true),
            (Some("vlanx,ipvlan"), "vlan", false),
        ];
        for (list, feature, want) in cases {
            assert_eq!(covered_by(list, feature), want, "{list:?} {feature}");
        }
    }

    #[test]
    fn only_a_value_other_than_empty_or_0_forbids_skipping() {
        let cases: [(Option<&str>, bool); 5] = [
            (None, false),
            (Some(""), false),
            (Some("0"), false),
            (Some("1"), true),
            (Some("yes"), true),
        ];
        for (value, want) in cases {
            assert_eq!(
                forbidden_by(value.map(std::ffi::OsStr::new)),
                want,
                "{value:?}"
            );
        }
    }
}

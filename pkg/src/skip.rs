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

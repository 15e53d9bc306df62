//! CNI spec versions and Go's version-string rules.

use std::cmp::Ordering;
use std::fmt;

use crate::error::{Error, Result};

/// The spec versions this suite speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    V0_1_0,
    V0_2_0,
    V0_3_0,
    V0_3_1,
    V0_4_0,
    V1_0_0,
    V1_1_0,
}

/// The three result shapes: {0.1.0, 0.2.0}, {0.3.0, 0.3.1, 0.4.0}, {1.0.0, 1.1.0}.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `ip4`/`ip6` objects.
    Legacy,
    /// `interfaces`/`ips` with `ips[].version`.
    V04,
    /// `ips` without `version`; interface and route extras.
    V1,
}

impl Version {
    pub const ALL: [Version; 7] = [
        Version::V0_1_0,
        Version::V0_2_0,
        Version::V0_3_0,
        Version::V0_3_1,
        Version::V0_4_0,
        Version::V1_0_0,
        Version::V1_1_0,
    ];

    /// The version this library implements, reported by VERSION.
    pub const CURRENT: Version = Version::V1_1_0;

    pub fn as_str(self) -> &'static str {
        match self {
            Version::V0_1_0 => "0.1.0",
            Version::V0_2_0 => "0.2.0",
            Version::V0_3_0 => "0.3.0",
            Version::V0_3_1 => "0.3.1",
            Version::V0_4_0 => "0.4.0",
            Version::V1_0_0 => "1.0.0",
            Version::V1_1_0 => "1.1.0",
        }
    }

    /// Exact string match against the known versions; an empty string means
    /// 0.1.0, as in Go.
    pub fn from_exact(s: &str) -> Option<Version> {
        if s.is_empty() {
            return Some(Version::V0_1_0);
        }
        Version::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn family(self) -> Family {
        match self {
            Version::V0_1_0 | Version::V0_2_0 => Family::Legacy,
            Version::V0_3_0 | Version::V0_3_1 | Version::V0_4_0 => Family::V04,
            Version::V1_0_0 | Version::V1_1_0 => Family::V1,
        }
    }

    /// CHECK and `prevResult` on DEL exist from 0.4.0.
    pub fn has_check(self) -> bool {
        self >= Version::V0_4_0
    }

    /// GC and STATUS exist from 1.1.0.
    pub fn has_gc_status(self) -> bool {
        self >= Version::V1_1_0
    }

    /// Results can carry several addresses of a family from 0.3.0.
    pub fn has_multiple_ips(self) -> bool {
        self >= Version::V0_3_0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Go's `version.ParseVersion`: 1 to 3 dot-separated non-negative integers,
/// missing parts are 0, the empty string is 0.1.0.
pub fn parse_semver(s: &str) -> Result<(u64, u64, u64)> {
    if s.is_empty() {
        return Ok((0, 1, 0));
    }
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() > 3 {
        return Err(Error::decode(
            format!("invalid version {s:?}: too many parts"),
            "",
        ));
    }
    let mut nums = [0u64; 3];
    for (i, p) in parts.iter().enumerate() {
        nums[i] = p.parse::<u64>().map_err(|_| {
            Error::decode(
                format!("invalid version {s:?}: part {p:?} is not a non-negative integer"),
                "",
            )
        })?;
    }
    Ok((nums[0], nums[1], nums[2]))
}

/// Compare two version strings numerically.
pub fn cmp_versions(a: &str, b: &str) -> Result<Ordering> {
    Ok(parse_semver(a)?.cmp(&parse_semver(b)?))
}

/// `a >= b` on version strings.
pub fn greater_or_equal(a: &str, b: &str) -> Result<bool> {
    Ok(cmp_versions(a, b)? != Ordering::Less)
}

/// The version strings every plugin of this suite supports.
pub fn all_version_strings() -> Vec<&'static str> {
    Version::ALL.iter().map(|v| v.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_semver_table() {
        let ok = [
            ("", (0, 1, 0)),
            ("1", (1, 0, 0)),
            ("0.4", (0, 4, 0)),
            ("1.1.0", (1, 1, 0)),
            ("10.20.30", (10, 20, 30)),
        ];
        for (s, want) in ok {
            assert_eq!(parse_semver(s).unwrap(), want, "{s}");
        }
        for bad in ["abc", "1.0.f", "1.2.3.4", "1..0", "-1.0.0", " 1.0.0"] {
            let e = parse_semver(bad).unwrap_err();
            assert_eq!(e.code(), 6, "{bad}");
        }
    }

    #[test]
    fn ordering_and_gates() {
        assert!(greater_or_equal("1.1.0", "0.4.0").unwrap());
        assert!(!greater_or_equal("0.3.1", "0.4.0").unwrap());
        assert!(greater_or_equal("0.10.0", "0.4.0").unwrap());
        assert!(Version::V0_4_0.has_check());
        assert!(!Version::V0_3_1.has_check());
        assert!(Version::V1_1_0.has_gc_status());
        assert!(!Version::V1_0_0.has_gc_status());
    }

    #[test]
    fn exact_lookup() {
        assert_eq!(Version::from_exact(""), Some(Version::V0_1_0));
        assert_eq!(Version::from_exact("0.3.1"), Some(Version::V0_3_1));
        assert_eq!(Version::from_exact("1.1"), None);
        assert_eq!(Version::from_exact("1.2.0"), None);
        assert_eq!(all_version_strings().len(), 7);
        for v in Version::ALL {
            assert_eq!(Version::from_exact(v.as_str()), Some(v));
        }
    }
}

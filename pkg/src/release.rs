//! The suite's release: its version and the commit it was built from, for
//! the about text of every plugin and `cnitool --version`.
//!
//! The version is the workspace's. The commit comes from the environment
//! variable `CNI_PLUGINS_COMMIT` at compile time, which `build_linux.sh`
//! sets from git (a source tree without `.git`, or a plain `cargo build`,
//! gives "unknown"), so the commit never enters a debug build's
//! fingerprint and a new commit rebuilds only the release binaries.

/// The suite's version (the workspace's `version`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The commit the binaries were built from (12 hex digits), or "unknown".
pub const COMMIT: &str = match option_env!("CNI_PLUGINS_COMMIT") {
    Some(commit) if !commit.is_empty() => commit,
    _ => "unknown",
};

/// `v0.1.0 (Rust, commit 0123456789ab)`: what follows a program's name
/// when it says what it is, in the shape of Go's "CNI bridge plugin
/// v1.9.0".
pub fn describe() -> String {
    format!("v{VERSION} (Rust, commit {COMMIT})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_names_version_and_commit() {
        let text = describe();
        assert!(text.starts_with(&format!("v{VERSION} ")), "{text}");
        assert!(text.ends_with(&format!("commit {COMMIT})")), "{text}");
        assert!(!COMMIT.is_empty());
    }
}

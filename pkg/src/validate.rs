//! Identifier rules (Documentation/spec-notes.md §2.5). They also keep these values safe to
//! use in file names: host-local builds `<dataDir>/<network>`. And the rule
//! for the directories configs name (`dataDir`).

use crate::error::{Error, Result, code};

/// `^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`, shared by container IDs and network names.
fn id_chars_ok(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphanumeric() => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

pub fn container_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::new(
            code::UNKNOWN_CONTAINER,
            "missing containerID",
            "",
        ));
    }
    if !id_chars_ok(id) {
        return Err(Error::invalid_env("invalid characters in containerID", id));
    }
    Ok(())
}

pub fn network_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid_config("missing network name", ""));
    }
    if !id_chars_ok(name) {
        return Err(Error::invalid_config(
            "invalid characters found in network name",
            name,
        ));
    }
    Ok(())
}

/// The kernel's rule, measured in bytes.
pub fn interface_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid_env("interface name is empty", ""));
    }
    if name.len() > 15 {
        return Err(Error::invalid_env(
            "interface name is too long",
            "interface name should be less than 16 characters",
        ));
    }
    if name == "." || name == ".." {
        return Err(Error::invalid_env("interface name is . or ..", ""));
    }
    if name
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace())
    {
        return Err(Error::invalid_env(
            "interface name contains / or : or whitespace characters",
            "",
        ));
    }
    // The kernel would end the name at a NUL (the link made or looked up
    // is another one); other control characters it keeps, and they turn
    // every listing of links into a terminal's escape sequence.
    if name.chars().any(char::is_control) {
        return Err(Error::invalid_env(
            "interface name contains control characters",
            "",
        ));
    }
    Ok(())
}

/// Longest path the kernel takes (PATH_MAX, with its terminating NUL).
const PATH_MAX: usize = 4096;
/// Longest file name the kernel takes (NAME_MAX).
const NAME_MAX: usize = 255;

/// A state directory named by a config (`dataDir`): absolute, so that it
/// does not depend on the runtime's working directory, and without `.` or
/// `..`, so that it is where it reads (Go accepts both). A symlink on the
/// way is followed: that is the host's own layout. No control characters
/// (a NUL would end the path the kernel sees) and no name or path longer
/// than the kernel takes, so that a bad one is refused before anything is
/// created rather than half-way.
pub fn data_dir(key: &str, dir: &str) -> Result<()> {
    use std::path::{Component, Path};
    let path = Path::new(dir);
    let bad = !path.is_absolute()
        || dir.split('/').any(|c| c == "." || c == "..")
        || path
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::CurDir));
    let why = if bad {
        "it must be an absolute path without . or .. components".to_string()
    } else if dir.chars().any(char::is_control) {
        "it contains control characters".to_string()
    } else if dir.len() >= PATH_MAX {
        format!(
            "it is {} bytes long, and a path has at most {}",
            dir.len(),
            PATH_MAX - 1
        )
    } else if let Some(name) = dir.split('/').find(|c| c.len() > NAME_MAX) {
        format!(
            "a component is {} bytes long, and a file name has at most {NAME_MAX}",
            name.len()
        )
    } else {
        return Ok(());
    };
    Err(Error::invalid_config(
        format!("invalid {key} {}: {why}", shown_path(dir)),
        "",
    ))
}

/// A path for a message: quoted, and cut after 64 characters.
fn shown_path(dir: &str) -> String {
    match dir.char_indices().nth(64) {
        Some((at, _)) => format!("{:?}... ({} bytes)", &dir[..at], dir.len()),
        None => format!("{dir:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names() {
        let cases: [(&str, bool); 12] = [
            ("a", true),
            ("0", true),
            ("abc-123_x.y", true),
            (
                "c018792f780e4ee670c89b103b78e51367d3abad81dc4190c7ee12e106de6ce7",
                true,
            ),
            ("", false),
            ("-a", false),
            ("_a", false),
            (".a", false),
            ("a%b", false),
            ("a/b", false),
            ("a b", false),
            ("é", false),
        ];
        for (s, ok) in cases {
            assert_eq!(container_id(s).is_ok(), ok, "{s:?}");
            assert_eq!(network_name(s).is_ok(), ok, "{s:?}");
        }
        assert_eq!(container_id("").unwrap_err().code(), 3);
        let e = container_id("a%b").unwrap_err();
        assert_eq!(
            (e.code(), e.msg().as_str(), e.details().as_str()),
            (4, "invalid characters in containerID", "a%b")
        );
        let e = network_name("te%st").unwrap_err();
        assert_eq!((e.code(), e.details().as_str()), (7, "te%st"));
    }

    #[test]
    fn data_dirs() {
        for ok in ["/var/lib/cni/networks", "/run/cni/", "/a.b/..c/d.."] {
            assert!(data_dir("dataDir", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "rel",
            "./x",
            "/a/../b",
            "/a/./b",
            "/a/..",
            "a/b",
            "/a\0b",
            "/a\nb",
            "/a\u{1b}b",
        ] {
            let e = data_dir("dataDir", bad).unwrap_err();
            assert_eq!(e.code(), 7, "{bad}");
            assert!(e.msg().contains(&format!("{bad:?}")), "{}", e.msg());
        }
        let long_name = format!("/var/{}", "x".repeat(256));
        let long_path = "/x".repeat(2048);
        assert!(data_dir("dataDir", &format!("/var/{}", "x".repeat(255))).is_ok());
        for (bad, why) in [
            (long_name, "a component is 256 bytes long"),
            (long_path, "it is 4096 bytes long"),
        ] {
            let e = data_dir("dataDir", &bad).unwrap_err();
            assert_eq!(e.code(), 7);
            assert!(e.msg().contains(why), "{}", e.msg());
            assert!(e.msg().len() < 200, "{}", e.msg());
        }
    }

    // Documentation/conformance.md item 9: interface name rules
    #[test]
    fn conformance_09_interface_names() {
        let cases = [
            ("eth0", None),
            ("123456789012345", None),
            ("1234567890123456", Some("interface name is too long")),
            ("", Some("interface name is empty")),
            (".", Some("interface name is . or ..")),
            ("..", Some("interface name is . or ..")),
            (
                "a/b",
                Some("interface name contains / or : or whitespace characters"),
            ),
            (
                "a:b",
                Some("interface name contains / or : or whitespace characters"),
            ),
            (
                "a b",
                Some("interface name contains / or : or whitespace characters"),
            ),
            (
                "a\tb",
                Some("interface name contains / or : or whitespace characters"),
            ),
            (
                "a\u{2003}b",
                Some("interface name contains / or : or whitespace characters"),
            ),
            ("ééééééééé", Some("interface name is too long")), // 18 bytes
            ("a\0b", Some("interface name contains control characters")),
            (
                "\u{1b}[0m",
                Some("interface name contains control characters"),
            ),
            (
                "a\u{85}b",
                Some("interface name contains / or : or whitespace characters"),
            ),
        ];
        for (name, want) in cases {
            match (interface_name(name), want) {
                (Ok(()), None) => {}
                (Err(e), Some(msg)) => {
                    assert_eq!(e.code(), 4);
                    assert_eq!(e.msg(), msg, "{name:?}");
                }
                (got, want) => panic!("{name:?}: got {got:?}, want {want:?}"),
            }
        }
    }
}

//! Upstream cnitool's container ID: `cnitool-` + the first 10 bytes of
//! SHA-512 of the absolute netns path, in lowercase hex.

use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha512};

use pkg::{Error, Result};

pub fn container_id(netns: &str) -> String {
    let digest = Sha512::digest(netns.as_bytes());
    let hex: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
    format!("cnitool-{hex}")
}

/// Go's `filepath.Abs`: joined to the working directory and cleaned
/// lexically (symlinks are not resolved).
pub fn absolute(p: &Path) -> Result<PathBuf> {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| Error::io("get working directory", e))?
            .join(p)
    };
    let mut out = PathBuf::from("/");
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Documentation/conformance.md item 68 (ID part): the derivation of upstream cnitool
    #[test]
    fn conformance_68_container_id_from_netns() {
        // `printf %s <path> | sha512sum | cut -c1-20`
        let cases = [
            ("/run/netns/x", "cnitool-55e2cecc95014b0f7fc4"),
            ("/var/run/netns/testing", "cnitool-77383ca0a0715733ca6f"),
        ];
        for (netns, want) in cases {
            assert_eq!(container_id(netns), want, "{netns}");
        }
        assert_ne!(container_id("/run/netns/a"), container_id("/run/netns/b"));
    }

    #[test]
    fn absolute_paths_are_cleaned() {
        let cwd = std::env::current_dir().unwrap();
        let cases = [
            ("/run/netns/x", PathBuf::from("/run/netns/x")),
            ("/run//netns/./x/", PathBuf::from("/run/netns/x")),
            ("/run/netns/../x", PathBuf::from("/run/x")),
            ("/..", PathBuf::from("/")),
            ("x", cwd.join("x")),
        ];
        for (input, want) in cases {
            assert_eq!(absolute(Path::new(input)).unwrap(), want, "{input}");
        }
    }
}

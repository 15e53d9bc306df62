//! sysctls under `/proc/sys/net`. These resolve against the calling
//! thread's network namespace, so container sysctls are written from inside
//! `Netns::run`.
//!
//! Interface names go into paths verbatim (`/proc/sys/net/ipv4/conf/eth0.100/...`):
//! building the path from a dotted key would split a VLAN name in two.

use std::cell::{Cell, RefCell};
use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use nix::fcntl::{OFlag, open, openat};
use nix::sys::stat::Mode;

use crate::error::{Error, Result};

const ROOT: &str = "/proc/sys";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    fn dir(self) -> &'static str {
        match self {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        }
    }
}

/// `/proc/sys/net/<ipv4|ipv6>/conf/<ifname>/<leaf>`.
pub fn conf_path(family: Family, ifname: &str, leaf: &str) -> Result<PathBuf> {
    check_components(ifname, leaf)?;
    Ok(PathBuf::from(format!(
        "{ROOT}/net/{}/conf/{ifname}/{leaf}",
        family.dir()
    )))
}

fn check_components(ifname: &str, leaf: &str) -> Result<()> {
    for part in [ifname, leaf] {
        if part.is_empty()
            || part == "."
            || part == ".."
            || part.contains('/')
            || part.contains('\0')
        {
            return Err(Error::invalid_config(
                format!("invalid sysctl path component {part:?}"),
                "",
            ));
        }
    }
    Ok(())
}

/// The calling thread's namespace's `/proc/sys/net/ipv6/conf`, opened
/// (`O_PATH`) to write the settings of that namespace's interfaces later
/// from any thread ([`write_conf_in`]): below a namespace's own directory,
/// names resolve to that namespace's entries whichever thread looks them
/// up. A plugin opens the container's once, with its netlink socket, so
/// that writing the new interface's IPv6 settings needs no second trip
/// into the namespace. `None` without IPv6.
pub fn open_ipv6_conf() -> Option<OwnedFd> {
    open(
        format!("{ROOT}/net/ipv6/conf").as_str(),
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()
}

/// Writes `value` to `<ifname>/<leaf>` below `conf`, a directory from
/// [`open_ipv6_conf`].
pub fn write_conf_in(conf: &OwnedFd, ifname: &str, leaf: &str, value: &str) -> Result<()> {
    check_components(ifname, leaf)?;
    let rel = format!("{ifname}/{leaf}");
    let shown = PathBuf::from(format!("{ROOT}/net/ipv6/conf/{rel}"));
    let f = openat(
        conf,
        rel.as_str(),
        OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map(fs::File::from)
    .map_err(|e| {
        Error::io(
            format!("write {value:?} to sysctl {}", shown.display()),
            io::Error::from(e),
        )
    })?;
    write_file(&f, &shown, value)
}

/// A sysctl key (`net.ipv4.ip_forward` or `net/ipv4/ip_forward`) as a path,
/// with Go's rule: if a `.` comes before the first `/`, dots and slashes
/// swap roles. The result must stay under `/proc/sys/net/`.
pub fn key_path(key: &str) -> Result<PathBuf> {
    let first_dot = key.find('.');
    let first_slash = key.find('/');
    let normalised: String = match (first_dot, first_slash) {
        (Some(d), Some(s)) if d < s => swap_dots_slashes(key),
        (Some(_), None) => swap_dots_slashes(key),
        _ => key.to_string(),
    };
    let path = PathBuf::from(format!("{ROOT}/{normalised}"));
    check_under_net(&path, key)?;
    Ok(path)
}

fn swap_dots_slashes(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '.' => '/',
            '/' => '.',
            c => c,
        })
        .collect()
}

fn check_under_net(path: &Path, key: &str) -> Result<()> {
    // `components()` drops an inner `.`: look at the text too.
    let bad = path
        .components()
        .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
        || path
            .to_string_lossy()
            .split('/')
            .any(|c| c == "." || c == "..")
        || path
            .strip_prefix(format!("{ROOT}/net"))
            .map_or(true, |rest| rest.as_os_str().is_empty())
        || path.as_os_str().to_string_lossy().contains('\0');
    if bad {
        return Err(Error::invalid_config(
            format!("invalid sysctl key {key:?}"),
            "sysctls must name a file under /proc/sys/net/",
        ));
    }
    Ok(())
}

thread_local! {
    /// Directories `/proc/sys/net/<dir>` this thread opened, by `<dir>`.
    static NET_DIRS: RefCell<Vec<(String, OwnedFd)>> = const { RefCell::new(Vec::new()) };
    /// Set by [`crate::ns::Netns::run`] on the thread it made, after
    /// entering the namespace: that thread stays there until it exits.
    static PINNED: Cell<bool> = const { Cell::new(false) };
}

/// Marks the calling thread as one that no longer changes its network
/// namespace (see [`open_file`]).
pub(crate) fn pin_thread() {
    PINNED.set(true);
}

/// Whether the calling thread stays in its network namespace: the main
/// thread, which never enters another one (`Netns::run` spawns a thread
/// for that), or a thread `Netns::run` made.
fn pinned() -> bool {
    PINNED.get() || nix::unistd::gettid() == nix::unistd::getpid()
}

/// Opens a sysctl file. Below `/proc/sys/net/<dir>` (`ipv4`, `ipv6`, ...)
/// the path is resolved from that directory, opened once per thread:
/// every network namespace whose `/proc/sys/net/ipv6` was ever looked up
/// has an `ipv6` entry there, all under the same parent with the same name
/// and hash, and each lookup compares against every one of them under a
/// global lock (half a millisecond with 1000 containers, three times per
/// bridge ADD before). The entries below are the namespace's own. Lookups
/// resolve against the calling thread's namespace, so only threads that
/// cannot have changed it since they opened the directory keep one
/// ([`pinned`]); checking the namespace on every call would cost more
/// than the lookup saves when there are few namespaces.
fn open_file(path: &Path, flags: OFlag) -> io::Result<fs::File> {
    let flags = flags | OFlag::O_CLOEXEC;
    let mut below = path
        .strip_prefix(format!("{ROOT}/net"))
        .ok()
        .map(|r| r.components());
    let dir = below.as_mut().and_then(|c| match c.next() {
        Some(Component::Normal(d)) => d.to_str(),
        _ => None,
    });
    let rest = below
        .map(|c| c.as_path())
        .filter(|r| !r.as_os_str().is_empty());
    if let (Some(dir), Some(rest)) = (dir, rest)
        && pinned()
    {
        let opened = NET_DIRS.with_borrow_mut(|dirs| {
            if !dirs.iter().any(|(name, _)| name == dir) {
                let fd = open(
                    format!("{ROOT}/net/{dir}").as_str(),
                    OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .ok()?;
                dirs.push((dir.to_string(), fd));
            }
            let (_, fd) = dirs.iter().find(|(name, _)| name == dir)?;
            Some(openat(fd, rest, flags, Mode::empty()))
        });
        if let Some(fd) = opened {
            return fd.map(fs::File::from).map_err(io::Error::from);
        }
    }
    open(path, flags, Mode::empty())
        .map(fs::File::from)
        .map_err(io::Error::from)
}

/// Read a sysctl, without the trailing newline.
pub fn read(path: &Path) -> Result<String> {
    use std::io::Read;
    let mut s = String::new();
    open_file(path, OFlag::O_RDONLY)
        .and_then(|mut f| f.read_to_string(&mut s))
        .map(|_| s.trim_end_matches('\n').to_string())
        .map_err(|e| Error::io(format!("read sysctl {}", path.display()), e))
}

/// Write a sysctl in one write(2). The kernel may take less than it was
/// given (a numeric sysctl stops after the numbers it holds) and say so
/// only in the count: that is an error, not a retry, because a second
/// write at an offset is ignored (`kernel.sysctl_writes_strict`).
pub fn write(path: &Path, value: &str) -> Result<()> {
    let f = open_file(path, OFlag::O_WRONLY)
        .map_err(|e| Error::io(format!("write {value:?} to sysctl {}", path.display()), e))?;
    write_file(&f, path, value)
}

/// [`write()`] through a file already open for writing (at offset 0, so a
/// file just read from works too).
pub fn write_file(f: &fs::File, path: &Path, value: &str) -> Result<()> {
    use std::os::unix::fs::FileExt;
    let op = || format!("write {value:?} to sysctl {}", path.display());
    let n = f
        .write_at(value.as_bytes(), 0)
        .map_err(|e| Error::io(op(), e))?;
    if n < value.len() {
        return Err(Error::invalid_config(
            op(),
            format!(
                "the kernel took {n} of its {} bytes and would drop the rest",
                value.len()
            ),
        ));
    }
    Ok(())
}

/// Write only if the value differs: saves a write (and a kernel-side
/// action) on the common path, and works where the file is read-only but
/// already right.
pub fn ensure(path: &Path, value: &str) -> Result<()> {
    use std::io::Read;
    use std::os::unix::fs::FileExt;
    // One open for the read and the write: resolving a /proc/sys path is
    // the expensive part when many namespaces exist.
    let Ok(mut f) = open_file(path, OFlag::O_RDWR) else {
        // Read-only (a read-only /proc/sys, a file without write
        // permission) or missing: fine if it already holds the value.
        return match read(path) {
            Ok(current) if current.trim() == value => Ok(()),
            _ => write(path, value),
        };
    };
    let mut current = String::new();
    if f.read_to_string(&mut current).is_ok() && current.trim() == value {
        return Ok(());
    }
    f.write_all_at(value.as_bytes(), 0)
        .map_err(|e| Error::io(format!("write {value:?} to sysctl {}", path.display()), e))
}

/// Turns IP forwarding of `family` on in the calling thread's namespace
/// (`ip_forward`, or IPv6's `conf/all/forwarding`), as a gateway plugin
/// must. It is read over netlink first ([`crate::netlink::netconf`]): on
/// every ADD but a node's first it is already on, and no `/proc/sys/net`
/// path is resolved.
#[cfg(feature = "netlink")]
pub fn ensure_forwarding(family: Family) -> Result<()> {
    if crate::netlink::netconf::forwarding(family)? == Some(true) {
        return Ok(());
    }
    let path = match family {
        Family::V4 => "/proc/sys/net/ipv4/ip_forward",
        Family::V6 => "/proc/sys/net/ipv6/conf/all/forwarding",
    };
    ensure(Path::new(path), "1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths() {
        let ok = [
            ("net.ipv4.ip_forward", "/proc/sys/net/ipv4/ip_forward"),
            ("net/ipv4/ip_forward", "/proc/sys/net/ipv4/ip_forward"),
            (
                "net/ipv4/conf/eth0.100/arp_notify",
                "/proc/sys/net/ipv4/conf/eth0.100/arp_notify",
            ),
            (
                "net.ipv4.conf.eth0/100.arp_notify",
                "/proc/sys/net/ipv4/conf/eth0.100/arp_notify",
            ),
        ];
        for (key, want) in ok {
            assert_eq!(key_path(key).unwrap(), PathBuf::from(want), "{key}");
        }
        for bad in [
            "kernel.panic",
            "net/../kernel/panic",
            "/etc/passwd",
            "net",
            "netx/a",
            "net/ipv4/./ip_forward",
            "net.ipv4.conf.IFNAME/../../../../kernel/panic",
        ] {
            assert_eq!(key_path(bad).unwrap_err().code(), 7, "{bad}");
        }
    }

    #[test]
    fn reads_below_net_like_a_path() {
        let keys = [
            "/proc/sys/net/ipv4/ip_forward",
            "/proc/sys/net/core/somaxconn",
        ];
        let check = || {
            for key in keys {
                let want = fs::read_to_string(key).unwrap();
                for _ in 0..2 {
                    assert_eq!(read(Path::new(key)).unwrap(), want.trim_end(), "{key}");
                }
            }
            assert!(read(Path::new("/proc/sys/net/ipv4/no_such_sysctl")).is_err());
            Ok(())
        };
        // A test thread resolves whole paths; a Netns::run thread keeps
        // the directories.
        check().unwrap();
        crate::ns::Netns::current().unwrap().run(check).unwrap();
    }

    /// A thread that may change its namespace keeps no directory: after
    /// a move, a link only the first namespace has is missing.
    #[test]
    fn unpinned_threads_follow_their_namespace() {
        let Some(link) = fs::read_dir("/proc/sys/net/ipv4/conf")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .find(|n| !matches!(n.as_str(), "all" | "default" | "lo"))
        else {
            return crate::skip::because("no link but lo here");
        };
        let path = conf_path(Family::V4, &link, "forwarding").unwrap();
        std::thread::spawn(move || {
            assert!(!pinned());
            assert!(read(&path).is_ok());
            if let Err(e) = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET) {
                return crate::skip::because(format!("cannot unshare the network namespace: {e}"));
            }
            assert!(
                read(&path).is_err(),
                "{} read in a new netns",
                path.display()
            );
        })
        .join()
        .unwrap();
    }

    // Written from this thread through the directory a thread in the
    // namespace opened: the namespace's interface changes, not ours.
    #[cfg(feature = "testkit")]
    #[test]
    fn conf_written_through_the_namespace_directory() {
        crate::require_root!();
        let ns = crate::testkit::TestNs::new("sysctl-conf");
        ns.ip(&["link", "add", "tc0", "type", "veth", "peer", "name", "tc1"]);
        // As Attachment opens it: after a first result, on the same thread.
        let (first, later) = ns.open().run_then(|| Ok(7), open_ipv6_conf).unwrap();
        assert_eq!(first, 7);
        let conf = later.wait().unwrap().unwrap();
        let read = || {
            let out = ns
                .cmd("cat", &["/proc/sys/net/ipv6/conf/tc0/accept_dad"])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        assert_eq!(read(), "1");
        write_conf_in(&conf, "tc0", "accept_dad", "0").unwrap();
        assert_eq!(read(), "0");
        assert!(write_conf_in(&conf, "missing0", "accept_dad", "0").is_err());
        for bad in ["", "..", "a/b"] {
            assert!(write_conf_in(&conf, bad, "accept_dad", "0").is_err());
            assert!(write_conf_in(&conf, "tc0", bad, "0").is_err());
        }
    }

    #[test]
    fn conf_paths() {
        assert_eq!(
            conf_path(Family::V6, "eth0.100", "accept_ra").unwrap(),
            PathBuf::from("/proc/sys/net/ipv6/conf/eth0.100/accept_ra")
        );
        for bad in ["", ".", "..", "a/b"] {
            assert!(conf_path(Family::V4, bad, "x").is_err());
        }
    }
}

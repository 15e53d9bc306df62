//! Network namespaces. This is the only module that calls `setns`, and it
//! only does so on a thread it spawned for the purpose, which exits
//! afterwards: no thread is ever left (or reused) in a foreign namespace.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::sched::{CloneFlags, setns};
use nix::sys::statfs::{PROC_SUPER_MAGIC, fstatfs};

use crate::error::{Error, Result};

/// nsfs; not exported by every libc version.
const NSFS_MAGIC: i64 = 0x6e73_6673;

/// An open network namespace.
#[derive(Debug)]
pub struct Netns {
    file: File,
    path: PathBuf,
}

/// Why `CNI_NETNS` could not be used.
#[derive(Debug)]
pub enum NetnsError {
    /// The path does not exist: for DEL, the namespace is already gone.
    NotExist(PathBuf),
    /// The path exists but is not a network namespace.
    NotNetns(PathBuf),
    Other(PathBuf, io::Error),
}

impl NetnsError {
    pub fn is_not_exist(&self) -> bool {
        matches!(self, NetnsError::NotExist(_))
    }

    /// As a spec error (code 8, invalid network namespace).
    pub fn to_error(&self) -> Error {
        match self {
            NetnsError::NotExist(p) => {
                Error::invalid_netns(format!("netns {} does not exist", p.display()), "")
            }
            NetnsError::NotNetns(p) => Error::invalid_netns(
                format!("{} is not a network namespace", p.display()),
                "expected a file on nsfs or procfs, such as /run/netns/<name> or /proc/<pid>/ns/net",
            ),
            NetnsError::Other(p, e) => Error::invalid_netns(
                format!("failed to open netns {}", p.display()),
                e.to_string(),
            ),
        }
    }
}

impl From<NetnsError> for Error {
    fn from(e: NetnsError) -> Error {
        e.to_error()
    }
}

impl Netns {
    /// Open a netns path and check it is one (nsfs or procfs magic).
    pub fn open(path: impl AsRef<Path>) -> std::result::Result<Netns, NetnsError> {
        let path = path.as_ref().to_path_buf();
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(NetnsError::NotExist(path));
            }
            Err(e) => return Err(NetnsError::Other(path, e)),
        };
        let magic = match fstatfs(&file) {
            Ok(s) => s.filesystem_type(),
            Err(e) => return Err(NetnsError::Other(path, e.into())),
        };
        if magic.0 as i64 != NSFS_MAGIC && magic != PROC_SUPER_MAGIC {
            return Err(NetnsError::NotNetns(path));
        }
        Ok(Netns { file, path })
    }

    /// The calling thread's own network namespace.
    pub fn current() -> Result<Netns> {
        Netns::open("/proc/thread-self/ns/net")
            .map_err(|e| e.to_error().context("opening the plugin's own netns"))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Same namespace, compared by device and inode as Go does.
    pub fn same_as(&self, other: &Netns) -> Result<bool> {
        let a = self
            .file
            .metadata()
            .map_err(|e| Error::io("stat netns", e))?;
        let b = other
            .file
            .metadata()
            .map_err(|e| Error::io("stat netns", e))?;
        Ok(a.dev() == b.dev() && a.ino() == b.ino())
    }

    /// Run `f` on a new thread that has entered this namespace. The thread
    /// exits when `f` returns, so the namespace switch cannot leak.
    pub fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send,
        F: FnOnce() -> Result<T> + Send,
    {
        let fd = self.file.as_fd();
        std::thread::scope(|s| {
            let handle = s.spawn(move || {
                setns(fd, CloneFlags::CLONE_NEWNET).map_err(|e| {
                    Error::kernel(format!("enter netns {}", self.path.display()), e)
                })?;
                f()
            });
            handle.join().unwrap_or_else(|_| {
                Err(Error::internal(
                    "panic while working in a network namespace",
                ))
            })
        })
    }
}

impl AsRawFd for Netns {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

impl AsFd for Netns {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_paths() {
        assert!(
            Netns::open("/nonexistent/netns")
                .unwrap_err()
                .is_not_exist()
        );
        assert!(matches!(
            Netns::open("/etc/hostname"),
            Err(NetnsError::NotNetns(_)) | Err(NetnsError::NotExist(_))
        ));
        assert!(matches!(Netns::open("/tmp"), Err(NetnsError::NotNetns(_))));
        let e = Netns::open("/tmp").unwrap_err().to_error();
        assert_eq!(e.code(), 8);
    }

    #[test]
    fn current_equals_itself_and_run_returns_values() {
        let a = Netns::current().unwrap();
        let b = Netns::open("/proc/self/ns/net").unwrap();
        assert!(a.same_as(&b).unwrap());
        // Entering our own namespace is allowed without privileges only when
        // we are root; skip the run check otherwise.
        if nix::unistd::geteuid().is_root() {
            assert_eq!(a.run(|| Ok(42)).unwrap(), 42);
            let e = a
                .run(|| -> Result<()> { Err(Error::internal("boom")) })
                .unwrap_err();
            assert_eq!(e.to_string(), "boom");
        }
    }
}

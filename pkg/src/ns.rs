//! Network namespaces. This is the only module that calls `setns`, and it
//! only does so on a thread it spawned for the purpose, which exits
//! afterwards: no thread is ever left (or reused) in a foreign namespace.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sched::{CloneFlags, setns};
use nix::sys::stat::{Mode, SFlag, fstat};
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
    /// Open a netns path and check it is one. The path is first looked at
    /// without being opened (`O_PATH`): opening a FIFO would block forever
    /// and opening a device can have effects of its own (a watchdog starts
    /// counting), so only a regular file (what nsfs and procfs namespace
    /// files are) is opened, and then that very inode, not the path again.
    pub fn open(path: impl AsRef<Path>) -> std::result::Result<Netns, NetnsError> {
        let path = path.as_ref().to_path_buf();
        let probe = match nix::fcntl::open(&path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Err(NetnsError::NotExist(path)),
            Err(e) => return Err(NetnsError::Other(path, e.into())),
        };
        match fstat(&probe) {
            Ok(st) if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG => {}
            Ok(_) => return Err(NetnsError::NotNetns(path)),
            Err(e) => return Err(NetnsError::Other(path, e.into())),
        }
        let file = match File::open(format!("/proc/self/fd/{}", probe.as_raw_fd())) {
            Ok(f) => f,
            Err(e) => return Err(NetnsError::Other(path, e)),
        };
        let magic = match fstatfs(&file) {
            Ok(s) => s.filesystem_type(),
            Err(e) => return Err(NetnsError::Other(path, e.into())),
        };
        let is_net = match ns_type(&file) {
            Some(t) => t == libc::CLONE_NEWNET,
            // Kernels before 4.11 cannot say; before 3.19 namespace files
            // were on procfs, like any other file there.
            None => {
                magic.0 as i64 == NSFS_MAGIC || (magic == PROC_SUPER_MAGIC && procfs_namespaces())
            }
        };
        if !is_net || (magic.0 as i64 != NSFS_MAGIC && magic != PROC_SUPER_MAGIC) {
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

    /// The same namespace on a second descriptor (`dup`), for a thread
    /// that must own one.
    pub fn try_clone(&self) -> Result<Netns> {
        let file = self
            .file
            .try_clone()
            .map_err(|e| Error::io(format!("open netns {}", self.path.display()), e))?;
        Ok(Netns {
            file,
            path: self.path.clone(),
        })
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

    /// Whether this is the calling thread's own namespace (by device and
    /// inode, as [`same_as`](Netns::same_as)), from one `stat` of the
    /// thread's namespace link.
    pub fn is_current(&self) -> Result<bool> {
        let own = std::fs::metadata("/proc/thread-self/ns/net")
            .map_err(|e| Error::io("stat the plugin's own netns", e))?;
        let this = self
            .file
            .metadata()
            .map_err(|e| Error::io("stat netns", e))?;
        Ok((own.dev(), own.ino()) == (this.dev(), this.ino()))
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
                enter(fd, &self.path)?;
                f()
            });
            handle.join().unwrap_or_else(|_| Err(panicked()))
        })
    }
}

/// A namespace thread's work ended without a result.
fn panicked() -> Error {
    Error::internal("panic while working in a network namespace")
}

/// Moves the calling thread, one that exits when its work is done, into
/// the namespace `fd` (opened from `path`) for good.
fn enter(fd: BorrowedFd<'_>, path: &Path) -> Result<()> {
    setns(fd, CloneFlags::CLONE_NEWNET)
        .map_err(|e| Error::kernel(format!("enter netns {}", path.display()), e))?;
    crate::sysctl::pin_thread();
    Ok(())
}

/// The rest of the work of [`Netns::run_then`], still under way on its
/// thread.
pub struct Later<T> {
    handle: std::thread::JoinHandle<Option<T>>,
}

impl<T> Later<T> {
    /// Waits for the thread and returns what it made.
    pub fn wait(self) -> Result<T> {
        self.handle.join().ok().flatten().ok_or_else(panicked)
    }
}

impl Netns {
    /// [`run`](Netns::run) for work of which only a first part is needed
    /// now: `first` runs on a new thread that has entered this namespace,
    /// and its result comes back as soon as it is ready; the thread then
    /// goes on with `then`, which [`Later::wait`] waits for, and exits.
    /// The caller carries on meanwhile (a path below `/proc/sys/net`
    /// resolved in a new namespace costs a millisecond on a node with a
    /// thousand of them).
    pub fn run_then<A, B, F, G>(&self, first: F, then: G) -> Result<(A, Later<B>)>
    where
        A: Send + 'static,
        B: Send + 'static,
        F: FnOnce() -> Result<A> + Send + 'static,
        G: FnOnce() -> B + Send + 'static,
    {
        // The thread may outlive this borrow: it owns a copy of the fd.
        let ns = self.try_clone()?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let handle = std::thread::Builder::new()
            .spawn(move || {
                let entered = enter(ns.as_fd(), &ns.path);
                drop(ns);
                let a = entered.and_then(|()| first());
                let go_on = a.is_ok();
                // The caller may be gone already; then `then` is moot.
                if tx.send(a).is_err() || !go_on {
                    return None;
                }
                Some(then())
            })
            .map_err(|e| Error::io("start a thread for a network namespace", e))?;
        let a = rx.recv().map_err(|_| panicked())??;
        Ok((a, Later { handle }))
    }
}

/// `NS_GET_NSTYPE`: which kind of namespace a file is, if the kernel says.
fn ns_type(file: &File) -> Option<i32> {
    const NS_GET_NSTYPE: libc::c_ulong = 0xb703; // _IO(0xb7, 0x3)
    // SAFETY: the ioctl takes no argument and only reads the descriptor.
    let t = unsafe { libc::ioctl(file.as_raw_fd(), NS_GET_NSTYPE as _) };
    (t >= 0).then_some(t)
}

/// Whether this kernel puts namespace files on procfs (before 3.19).
fn procfs_namespaces() -> bool {
    File::open("/proc/thread-self/ns/net")
        .ok()
        .and_then(|f| fstatfs(&f).ok())
        .is_some_and(|s| s.filesystem_type() == PROC_SUPER_MAGIC)
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
        // procfs files that are not namespaces, namespaces of another
        // kind, devices: none is a network namespace.
        for p in [
            "/proc/self/status",
            "/proc/self/ns/mnt",
            "/proc/self/ns/uts",
            "/dev/null",
        ] {
            assert!(
                matches!(Netns::open(p), Err(NetnsError::NotNetns(_))),
                "{p}"
            );
        }
    }

    // Both parts run in the namespace; a failing first part is the
    // call's error and the second never runs.
    #[cfg(feature = "testkit")]
    #[test]
    fn run_then_works_in_the_namespace_and_hands_back_both_parts() {
        crate::require_root!();
        let scratch = crate::testkit::TestNs::new("ns-run-then");
        let ns = scratch.open();
        let inode = |p: &str| std::fs::metadata(p).unwrap().ino();
        let want = ns.file.metadata().unwrap().ino();
        let (first, later) = ns
            .run_then(
                move || Ok(inode("/proc/thread-self/ns/net")),
                move || inode("/proc/thread-self/ns/net"),
            )
            .unwrap();
        assert_eq!((first, later.wait().unwrap()), (want, want));
        assert_ne!(inode("/proc/thread-self/ns/net"), want);

        let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = ran.clone();
        let e = ns
            .run_then(
                || -> Result<()> { Err(Error::internal("boom")) },
                move || flag.store(true, std::sync::atomic::Ordering::SeqCst),
            )
            .err()
            .unwrap();
        assert_eq!(e.to_string(), "boom");
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("fifo");
        nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600)).unwrap();
        // Opening it for reading would wait for a writer forever.
        assert!(matches!(Netns::open(&fifo), Err(NetnsError::NotNetns(_))));
    }

    #[test]
    fn current_equals_itself_and_run_returns_values() {
        let a = Netns::current().unwrap();
        let b = Netns::open("/proc/self/ns/net").unwrap();
        assert!(a.same_as(&b).unwrap());
        assert!(a.is_current().unwrap() && b.is_current().unwrap());
        // Entering a namespace, even our own, needs CAP_SYS_ADMIN.
        if !nix::unistd::geteuid().is_root() {
            crate::skip::because("needs root to enter a namespace: the run check");
        } else {
            assert_eq!(a.run(|| Ok(42)).unwrap(), 42);
            let e = a
                .run(|| -> Result<()> { Err(Error::internal("boom")) })
                .unwrap_err();
            assert_eq!(e.to_string(), "boom");
        }
    }
}

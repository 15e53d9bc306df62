//! host-local's reservation store, byte-compatible with Go's `backend/disk`
//! so a node can switch between the two with no address lost or handed out
//! twice:
//!
//! - `<dataDir>/<network>/` holds one file per reserved IP, named by the IP
//!   (Go's text form), containing `<containerID>\r\n<ifname>`, mode 0600;
//!   very old files hold only the container ID;
//! - `last_reserved_ip.<N>` holds the last IP handed out from range set N;
//! - `lock` is locked with a blocking exclusive flock by every writer.
//!
//! On top of that, and invisible to Go, an index makes lookups by
//! attachment O(1): `.attachments/<sha256(id\r\nifname)>/<ip>` is a hard link
//! to the reservation file. Go's release deletes every file whose content
//! matches the attachment, so it removes the index entry together with the
//! reservation. Reservations Go creates are not indexed; they are adopted
//! by a scan whenever a `last_reserved_ip.*` file changed behind our back
//! (Go rewrites one on every allocation), which `.attachments/.synced`
//! records.
//!
//! Released inodes are kept for reuse in `.attachments/.spare/`: a
//! released reservation file becomes the spare `f<n>`, its content zeroed
//! (Go's DEL and CHECK match every file under the network directory by
//! content, and must not take a spare for its last owner), and an
//! attachment's emptied index directory the spare `d<n>`; at most
//! 64 of each, the rest are deleted. A reservation is written
//! into a spare and renamed to its address with `RENAME_NOREPLACE`, an
//! index directory is a spare renamed to the key. The names never parse as
//! addresses, so Go's lookups by name ignore them.
//!
//! Safety: every path is resolved with `*at` calls relative to the network
//! directory with `O_NOFOLLOW`, so a symlink planted in the store cannot
//! redirect a write; a spare is written only when it is a regular file
//! with no other name. A reservation becomes visible only complete
//! (written to a spare, an unnamed `O_TMPFILE`, or a temporary file where
//! the file system has none, then renamed or hard-linked into place), so a
//! failed or interrupted write never leaves an empty reservation behind.
//! A writer killed while a spare holds an attachment's content (written,
//! not yet renamed into place; or released, not yet zeroed) leaves the
//! sync mark void, and the next opener's scan deletes every spare.
//!
//! Cost: a store is a few dozen system calls per operation, none of them a
//! path walk from `/` but the first. The network and index directories are
//! opened once per [`Store`], the pool listed once; the change detection
//! is computed once when the store is opened and kept up to date with our
//! own writes (the lock keeps everyone else out until we are done); a
//! candidate address is taken when renaming or linking the reservation to
//! its name fails with `EEXIST`, with no stat before; and the sync mark and
//! `last_reserved_ip.N` are rewritten in place (the latter in a spare
//! swapped in atomically). With spares in the pool, an allocation and a
//! release create and delete no inode at all: on an ext4 without a journal
//! every new inode costs a scan past the ones deleted in the last minute
//! (six while their inode-table block is dirty), which under pod churn was
//! a quarter to a third of a bridge ADD's CPU.

use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, FileExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat, renameat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, fstatat, mkdirat};
use nix::unistd::{UnlinkatFlags, linkat, unlinkat};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub const DEFAULT_DATA_DIR: &str = "/var/lib/cni/networks";
const LOCK_FILE: &str = "lock";
const LAST_RESERVED_PREFIX: &str = "last_reserved_ip.";
const INDEX_DIR: &str = ".attachments";
const SYNC_MARK: &str = ".synced";
const TMP_PREFIX: &str = ".tmp-";
/// In the index directory: the next content of `last_reserved_ip.<N>`.
const SPARE_PREFIX: &str = ".last-";
/// In the index directory: spare inodes, files `f<n>` and directories
/// `d<n>` (names that never parse as an address).
const POOL_DIR: &str = ".spare";
/// Spares of each kind kept; a release beyond that deletes as usual.
const POOL_MAX: usize = 64;
/// How many `last_reserved_ip.N` files the change detection looks at.
const FINGERPRINT_RANGE_SETS: usize = 16;
/// Go's separator between container ID and interface name.
const LINE_BREAK: &str = "\r\n";
/// A reservation file is a few dozen bytes; anything much larger is not one.
const MAX_FILE: u64 = 4096;

/// Set once `O_TMPFILE` (or linking one into place) turned out not to work
/// here: reservations are then written to named temporary files.
static NO_TMPFILE: AtomicBool = AtomicBool::new(false);
/// Set once `linkat(AT_EMPTY_PATH)` was refused (it needs
/// `CAP_DAC_READ_SEARCH`): unnamed files are then linked through
/// `/proc/self/fd`.
static LINK_VIA_PROC: AtomicBool = AtomicBool::new(false);

/// Set once `renameat2(RENAME_NOREPLACE)` was refused (a file system
/// without it): spares are then neither taken nor kept.
static NO_POOL: AtomicBool = AtomicBool::new(false);

/// Who holds a reservation, as written in its file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Owner {
    pub id: String,
    /// `None` for legacy files that hold only the container ID.
    pub ifname: Option<String>,
}

impl Owner {
    fn parse(content: &str) -> Option<Owner> {
        let content = content.trim();
        if content.is_empty() {
            return None;
        }
        Some(match content.split_once(LINE_BREAK) {
            Some((id, ifname)) => Owner {
                id: id.trim().to_string(),
                ifname: Some(ifname.to_string()),
            },
            None => Owner {
                id: content.to_string(),
                ifname: None,
            },
        })
    }
}

/// The content Go writes, and the index key derived from it.
fn file_content(id: &str, ifname: &str) -> String {
    format!("{}{LINE_BREAK}{ifname}", id.trim())
}

fn index_key(id: &str, ifname: Option<&str>) -> String {
    let content = match ifname {
        Some(i) => file_content(id, i),
        None => id.trim().to_string(),
    };
    let digest = Sha256::digest(content.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The file name Go uses for an IP.
pub fn ip_file_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        v4 => v4.to_string(),
    }
}

/// A `last_reserved_ip.N` file as the change detection sees it.
struct LastReserved {
    ino: u64,
    ctime: (i64, i64),
    content: String,
}

/// A reservation's content, written but not yet linked to a name.
enum Pending {
    /// An `O_TMPFILE`: nothing to clean up if we die.
    Unnamed(File),
    /// A temporary file in the network directory.
    Named(String),
    /// A spare file `f<n>` of the pool, holding `len` bytes.
    Spare { file: File, n: u32, len: usize },
}

/// The pool of spare inodes, listed once per [`Store`]: numbers of the
/// files and directories it holds, ascending.
struct Pool {
    dir: OwnedFd,
    files: Vec<u32>,
    dirs: Vec<u32>,
}

impl Pool {
    fn list(dir: OwnedFd) -> std::result::Result<Pool, Errno> {
        let number = |name: &str, prefix: char| {
            let n: u32 = name.strip_prefix(prefix)?.parse().ok()?;
            (format!("{prefix}{n}") == name).then_some(n)
        };
        let mut pool = Pool {
            files: Vec::new(),
            dirs: Vec::new(),
            dir,
        };
        for (name, kind) in dir_entries(&pool.dir)?.0 {
            match kind {
                Some(Kind::File) => pool.files.extend(number(&name, 'f')),
                Some(Kind::Dir) => pool.dirs.extend(number(&name, 'd')),
                _ => {}
            }
        }
        pool.files.sort_unstable();
        pool.dirs.sort_unstable();
        Ok(pool)
    }

    /// A number after every one in `taken`, for a spare being added.
    fn next(taken: &[u32]) -> u32 {
        taken.last().map_or(0, |n| n.saturating_add(1))
    }
}

/// One network's store, locked for as long as the value lives.
pub struct Store {
    dir: OwnedFd,
    path: PathBuf,
    /// Holds the flock; released after `drop` has written the sync mark.
    _lock: File,
    /// The index directory, once opened (or made) without following a
    /// symlink.
    index: Option<OwnedFd>,
    /// The sync mark, when it is a regular file of ours to rewrite in place.
    mark: Option<File>,
    /// Bytes in the mark file (a shorter mark is padded, not truncated).
    mark_len: usize,
    /// The mark on disk matches the store as it is now.
    mark_current: bool,
    /// The mark on disk can match nothing (empty, or voided).
    mark_void: bool,
    /// A change started and has not finished: no mark is written for it,
    /// so the next opener scans.
    changing: bool,
    /// An operation failed part way through a change: no mark is written
    /// by this store at all (a later operation finishing does not make the
    /// index complete again).
    unfinished: bool,
    /// The network directory's identity and times are read again when the
    /// mark is written; these are the `last_reserved_ip.N` files.
    last: Vec<Option<LastReserved>>,
    /// The content and file of the next reservation, kept across the
    /// candidates an allocation tries.
    pending: Option<(String, Pending)>,
    /// The pool of spare inodes, once looked for (`None` inside when
    /// there is none).
    pool: Option<Option<Pool>>,
    tmp_counter: u32,
    /// Set while a scan runs, so that a damaged index found during one
    /// does not start another.
    scanning: bool,
}

impl Store {
    /// Open (creating if needed) `<data_dir>/<network>` and take its lock,
    /// waiting for other holders (Go or Rust) to finish.
    pub fn open(data_dir: &Path, network: &str) -> Result<Store> {
        crate::validate::network_name(network)?;
        let path = data_dir.join(network);
        // Only the last component must not be a symlink, as when opening it
        // relative to the data directory; anything but success takes the
        // long way, which creates what is missing and names what is wrong.
        let dir = match openat(nix::fcntl::AT_FDCWD, &path, DIR_FLAGS, Mode::empty()) {
            Ok(d) => d,
            Err(_) => open_network_dir(data_dir, network, &path)?,
        };
        let lock_fd = openat(
            &dir,
            LOCK_FILE,
            OFlag::O_RDONLY | OFlag::O_CREAT | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(|e| {
            Error::kernel(
                format!("open lock file {}", path.join(LOCK_FILE).display()),
                e,
            )
        })?;
        let lock = File::from(lock_fd);
        lock.lock()
            .map_err(|e| Error::io(format!("lock {}", path.join(LOCK_FILE).display()), e))?;
        let mut store = Store {
            dir,
            path,
            _lock: lock,
            index: None,
            mark: None,
            mark_len: 0,
            mark_current: false,
            mark_void: false,
            changing: false,
            unfinished: false,
            last: Vec::new(),
            pending: None,
            pool: None,
            tmp_counter: 0,
            scanning: false,
        };
        store.sync()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reserve `ip` for the attachment. `Ok(false)` if it is taken.
    pub fn reserve(
        &mut self,
        id: &str,
        ifname: &str,
        ip: IpAddr,
        range_set: usize,
    ) -> Result<bool> {
        let name = ip_file_name(ip);
        self.begin();
        self.drop_mark();
        // Everyone holds the lock, so a name that exists now stays taken:
        // linking fails with EEXIST, and the file is kept for the next
        // candidate.
        let placed = match self.link_reservation(&file_content(id, ifname), &name) {
            Ok(()) => true,
            Err(Errno::EEXIST) => false,
            Err(e) => {
                return Err(Error::kernel(
                    format!("reserve {}", self.path.join(&name).display()),
                    e,
                ));
            }
        };
        if placed {
            // A spare is now the reservation itself; a temporary file is
            // let go.
            if let Some((_, p)) = self.pending.take()
                && !matches!(p, Pending::Spare { .. })
            {
                self.discard(p);
            }
            if let Err(e) = self.index_add(&index_key(id, Some(ifname)), &name) {
                self.unlink_quiet(&name);
                return Err(e);
            }
            self.write_last_reserved(range_set, &name)?;
        }
        self.changing = false;
        Ok(placed)
    }

    /// The last IP handed out from range set `range_set`, if recorded.
    pub fn last_reserved(&self, range_set: usize) -> Option<IpAddr> {
        let content = match self.last.get(range_set) {
            Some(seen) => seen.as_ref()?.content.clone(),
            None => read_small_at(&self.dir, &format!("{LAST_RESERVED_PREFIX}{range_set}"), -1)
                .ok()??,
        };
        content.trim().parse().ok()
    }

    /// Undo one reservation (when a multi-range ADD fails half way).
    pub fn release(&mut self, ip: IpAddr) -> Result<()> {
        let name = ip_file_name(ip);
        self.begin();
        self.drop_mark();
        let content = read_small_at(&self.dir, &name, -1)
            .map_err(|e| Error::kernel(format!("open {}", self.path.join(&name).display()), e))?;
        if let Some(owner) = content.as_deref().and_then(Owner::parse) {
            self.unindex(&index_key(&owner.id, owner.ifname.as_deref()), &name);
        }
        self.retire(&name)?;
        self.changing = false;
        Ok(())
    }

    /// The IPs held by the attachment.
    pub fn get_by_id(&mut self, id: &str, ifname: &str) -> Result<Vec<IpAddr>> {
        Ok(self
            .index_entries(&index_key(id, Some(ifname)))?
            .live
            .into_iter()
            .filter_map(|name| name.parse().ok())
            .collect())
    }

    /// Whether the attachment (or, for legacy files, the container) holds
    /// anything: host-local's CHECK.
    pub fn find_by_id(&mut self, id: &str, ifname: &str) -> Result<bool> {
        if !self
            .index_entries(&index_key(id, Some(ifname)))?
            .live
            .is_empty()
        {
            return Ok(true);
        }
        Ok(!self.index_entries(&index_key(id, None))?.live.is_empty())
    }

    /// Release everything the attachment holds; like Go, legacy id-only
    /// files are released only when nothing matched id and ifname.
    pub fn release_by_id(&mut self, id: &str, ifname: &str) -> Result<Vec<IpAddr>> {
        self.begin();
        let mut released = self.release_key(&index_key(id, Some(ifname)))?;
        if released.is_empty() {
            released = self.release_key(&index_key(id, None))?;
        }
        self.changing = false;
        Ok(released)
    }

    /// Release every reservation whose owner is not in `valid`; legacy
    /// files are kept when their container ID is valid. Unreadable, empty or
    /// garbage reservation files are released too.
    pub fn gc(&mut self, valid: &[(String, String)]) -> Result<Vec<IpAddr>> {
        let keep: HashSet<(&str, &str)> =
            valid.iter().map(|(i, f)| (i.trim(), f.as_str())).collect();
        let keep_ids: HashSet<&str> = valid.iter().map(|(i, _)| i.trim()).collect();
        self.begin();
        let mut released = Vec::new();
        let mut errors = Vec::new();
        for (name, owner) in self.reservations()? {
            let alive = match &owner {
                Some(Owner {
                    id,
                    ifname: Some(ifname),
                }) => keep.contains(&(id.as_str(), ifname.as_str())),
                Some(Owner { id, ifname: None }) => keep_ids.contains(id.as_str()),
                None => false,
            };
            if alive {
                continue;
            }
            self.drop_mark();
            if let Some(o) = &owner {
                self.unindex(&index_key(&o.id, o.ifname.as_deref()), &name);
            }
            match self.retire(&name) {
                Ok(()) => released.extend(name.parse::<IpAddr>().ok()),
                Err(e) => errors.push(e),
            }
        }
        self.prune_index()?;
        Error::from_list(errors)?;
        self.changing = false;
        Ok(released)
    }

    /// Every reservation file: its IP text and its owner (`None` when the
    /// file is empty or unreadable).
    pub fn reservations(&self) -> Result<Vec<(String, Option<Owner>)>> {
        let mut out = Vec::new();
        for (name, _) in self.list(&self.dir, ".", |n, t| {
            t == Some(Kind::File) && n.parse::<IpAddr>().is_ok()
        })? {
            let owner = read_small_at(&self.dir, &name, -1)
                .ok()
                .flatten()
                .as_deref()
                .and_then(Owner::parse);
            out.push((name, owner));
        }
        Ok(out)
    }

    // ---- reservations ----

    /// Link a file holding `content` to `name` in the network directory.
    fn link_reservation(&mut self, content: &str, name: &str) -> std::result::Result<(), Errno> {
        if self.pending.as_ref().is_some_and(|(c, _)| c != content)
            && let Some((_, p)) = self.pending.take()
        {
            self.discard(p);
        }
        for _ in 0..3 {
            if self.pending.is_none() {
                let p = self.write_pending(content)?;
                self.pending = Some((content.to_string(), p));
            }
            let Some((_, p)) = &self.pending else {
                continue;
            };
            match self.link_pending(p, name) {
                // An unnamed file that cannot be linked here: again with a
                // named one.
                Err(Errno::EOPNOTSUPP) if matches!(p, Pending::Unnamed(_)) => {
                    NO_TMPFILE.store(true, Ordering::Relaxed);
                    self.pending = None;
                }
                // No RENAME_NOREPLACE here: no pool either.
                Err(Errno::EINVAL | Errno::ENOSYS) if matches!(p, Pending::Spare { .. }) => {
                    NO_POOL.store(true, Ordering::Relaxed);
                    if let Some((_, p)) = self.pending.take() {
                        self.discard(p);
                    }
                }
                other => return other,
            }
        }
        Err(Errno::EOPNOTSUPP)
    }

    /// The reservation's content in a file of its own, not yet visible: a
    /// spare of the pool written over in place, else a new file.
    fn write_pending(&mut self, content: &str) -> std::result::Result<Pending, Errno> {
        while let Some((file, n, old_len)) = self.take_spare() {
            // Truncating waits for the file's writeback, if any: only
            // when the old content was longer.
            let written = file.write_all_at(content.as_bytes(), 0).and_then(|()| {
                if old_len > content.len() {
                    file.set_len(content.len() as u64)
                } else {
                    Ok(())
                }
            });
            if written.is_ok() {
                return Ok(Pending::Spare {
                    file,
                    n,
                    len: content.len(),
                });
            }
            // A spare that cannot be written goes (holding who knows what);
            // the next one may do.
            self.drop_spare(n);
        }
        if !NO_TMPFILE.load(Ordering::Relaxed) {
            match openat(
                &self.dir,
                ".",
                OFlag::O_TMPFILE | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            ) {
                Ok(fd) => {
                    let mut f = File::from(fd);
                    f.write_all(content.as_bytes()).map_err(io_errno)?;
                    return Ok(Pending::Unnamed(f));
                }
                // No O_TMPFILE on this kernel or file system.
                Err(Errno::EOPNOTSUPP | Errno::EISDIR | Errno::EINVAL) => {
                    NO_TMPFILE.store(true, Ordering::Relaxed);
                }
                Err(e) => return Err(e),
            }
        }
        self.write_tmp(content).map(Pending::Named)
    }

    /// Give the pending file the name `name` in the network directory:
    /// `EEXIST` if the name is taken.
    fn link_pending(&self, p: &Pending, name: &str) -> std::result::Result<(), Errno> {
        let to = self.dir.as_fd();
        match p {
            Pending::Named(tmp) => linkat(&self.dir, tmp.as_str(), to, name, AtFlags::empty()),
            Pending::Spare { n, .. } => match &self.pool {
                Some(Some(pool)) => rename_at(
                    &pool.dir,
                    &format!("f{n}"),
                    &self.dir,
                    name,
                    libc::RENAME_NOREPLACE,
                ),
                _ => Err(Errno::ENOENT),
            },
            Pending::Unnamed(f) => {
                if !LINK_VIA_PROC.load(Ordering::Relaxed) {
                    match linkat(f, "", to, name, AtFlags::AT_EMPTY_PATH) {
                        // Without CAP_DAC_READ_SEARCH.
                        Err(Errno::ENOENT | Errno::EPERM) => {
                            LINK_VIA_PROC.store(true, Ordering::Relaxed);
                        }
                        other => return other,
                    }
                }
                let proc = format!("/proc/self/fd/{}", f.as_raw_fd());
                match linkat(
                    nix::fcntl::AT_FDCWD,
                    proc.as_str(),
                    to,
                    name,
                    AtFlags::AT_SYMLINK_FOLLOW,
                ) {
                    // No /proc: a named temporary file will do.
                    Err(Errno::ENOENT) => Err(Errno::EOPNOTSUPP),
                    other => other,
                }
            }
        }
    }

    /// Let go of a pending file that did not become a reservation. A
    /// spare goes back to the pool with its content zeroed, so that Go's
    /// release and CHECK, which match every file under the network
    /// directory by content, never take it for the attachment's; when
    /// that fails it is removed, and failing that the next opener scans
    /// (which empties the pool).
    fn discard(&mut self, p: Pending) {
        match p {
            Pending::Unnamed(_) => {}
            Pending::Named(tmp) => self.unlink_quiet(&tmp),
            Pending::Spare { file, n, len } => {
                let Some(Some(pool)) = &mut self.pool else {
                    return;
                };
                if file.write_all_at(&vec![0; len], 0).is_ok() {
                    let at = pool.files.partition_point(|m| *m < n);
                    pool.files.insert(at, n);
                } else {
                    self.drop_spare(n);
                }
            }
        }
    }

    /// Remove the spare file `f<n>` of the pool; when that fails, it may
    /// hold an attachment's content, and the next opener's scan empties
    /// the pool.
    fn drop_spare(&mut self, n: u32) {
        if let Some(Some(pool)) = &self.pool
            && unlinkat(
                &pool.dir,
                format!("f{n}").as_str(),
                UnlinkatFlags::NoRemoveDir,
            )
            .is_err()
        {
            self.unfinished = true;
        }
    }

    // ---- pool ----

    /// The pool, listed on first use; with `create`, made when missing (or
    /// remade when something else, a planted symlink above all, holds its
    /// name).
    fn pool(&mut self, create: bool) -> Option<&mut Pool> {
        if NO_POOL.load(Ordering::Relaxed) {
            return None;
        }
        let list = match &self.pool {
            None => true,
            Some(None) => create,
            Some(Some(_)) => false,
        };
        if list {
            if create {
                self.ensure_index().ok();
            }
            let dir = self
                .index
                .as_ref()
                .and_then(|index| match open_dir_at(index, POOL_DIR) {
                    Ok(d) => Some(d),
                    Err(_) if create => ensure_dir_at(index, POOL_DIR).ok(),
                    Err(_) => None,
                });
            self.pool = Some(dir.and_then(|d| Pool::list(d).ok()));
        }
        self.pool.as_mut().and_then(Option::as_mut)
    }

    /// A spare file of the pool, open for writing, with its length; spares
    /// that are not plain files of their own are removed.
    fn take_spare(&mut self) -> Option<(File, u32, usize)> {
        let pool = self.pool(false)?;
        while let Some(n) = pool.files.pop() {
            let name = format!("f{n}");
            if let Some((file, len)) = open_own_file(&pool.dir, &name) {
                return Some((file, n, len));
            }
            let _ = unlinkat(&pool.dir, name.as_str(), UnlinkatFlags::NoRemoveDir);
        }
        None
    }

    /// Release the reservation `name`, whose index entry is already gone:
    /// its file becomes a spare of the pool (zeroed, see [`Store::discard`])
    /// when it is a plain file of its own and the pool has room, else it
    /// is removed.
    fn retire(&mut self, name: &str) -> Result<()> {
        let Some(mut n) = self
            .pool(true)
            .filter(|p| p.files.len() < POOL_MAX)
            .map(|p| Pool::next(&p.files))
        else {
            return self.unlink(name);
        };
        let Some((file, len)) = open_own_file(&self.dir, name) else {
            return self.unlink(name);
        };
        // A name not listed as ours (something planted) is skipped.
        for _ in 0..4 {
            let Some(Some(pool)) = &self.pool else { break };
            match rename_at(
                &self.dir,
                name,
                &pool.dir,
                &format!("f{n}"),
                libc::RENAME_NOREPLACE,
            ) {
                Ok(()) => {
                    self.discard(Pending::Spare { file, n, len });
                    return Ok(());
                }
                Err(Errno::EEXIST) => n = n.saturating_add(1),
                Err(Errno::EINVAL | Errno::ENOSYS) => {
                    NO_POOL.store(true, Ordering::Relaxed);
                    break;
                }
                Err(_) => break,
            }
        }
        self.unlink(name)
    }

    /// The index directory of `key`, open: a spare directory of the pool
    /// renamed into place when there is one, else made.
    fn key_dir(&mut self, key: &str) -> std::result::Result<OwnedFd, Errno> {
        if let Some(n) = self.pool(false).and_then(|p| p.dirs.pop())
            && let (Some(Some(pool)), Some(index)) = (&mut self.pool, &self.index)
        {
            // Whatever was renamed into place is opened without following
            // a symlink; when the attachment's directory exists already,
            // the spare stays.
            match rename_at(
                &pool.dir,
                &format!("d{n}"),
                index,
                key,
                libc::RENAME_NOREPLACE,
            ) {
                Ok(()) => {
                    if let Ok(d) = open_dir_at(index, key) {
                        return Ok(d);
                    }
                }
                Err(Errno::EEXIST) => pool.dirs.push(n),
                Err(_) => {}
            }
        }
        let index = self.index.as_ref().ok_or(Errno::ENOENT)?;
        ensure_dir_at(index, key)
    }

    /// Put the empty index directory of `key` into the pool when it has
    /// room, else remove it.
    fn retire_key_dir(&mut self, key: &str) {
        let room = self.pool(true).is_some_and(|p| p.dirs.len() < POOL_MAX);
        if room && let (Some(Some(pool)), Some(index)) = (&mut self.pool, &self.index) {
            let n = Pool::next(&pool.dirs);
            if rename_at(
                index,
                key,
                &pool.dir,
                &format!("d{n}"),
                libc::RENAME_NOREPLACE,
            )
            .is_ok()
            {
                pool.dirs.push(n);
                return;
            }
        }
        if let Some(index) = &self.index {
            let _ = unlinkat(index, key, UnlinkatFlags::RemoveDir);
        }
    }

    /// Empty the pool: after a writer died or failed, a spare may hold an
    /// attachment's content (written before the rename that would have
    /// made it a reservation, or not yet zeroed after the one that
    /// released it).
    fn drain_pool(&mut self) {
        self.pool = None;
        if matches!(self.pending, Some((_, Pending::Spare { .. }))) {
            self.pending = None;
        }
        let Some(dir) = self
            .index
            .as_ref()
            .and_then(|index| open_dir_at(index, POOL_DIR).ok())
        else {
            return;
        };
        for (name, kind) in dir_entries(&dir).map(|e| e.0).unwrap_or_default() {
            let flag = if kind == Some(Kind::Dir) {
                UnlinkatFlags::RemoveDir
            } else {
                UnlinkatFlags::NoRemoveDir
            };
            let _ = unlinkat(&dir, name.as_str(), flag);
        }
    }

    // ---- index ----

    /// Open the index directory once; make it when missing, and remake it
    /// when something else (a planted symlink above all) holds its name:
    /// the index holds nothing that a scan cannot rebuild.
    fn ensure_index(&mut self) -> Result<()> {
        if self.index.is_none() {
            let fd = ensure_dir_at(&self.dir, INDEX_DIR).map_err(|e| {
                Error::kernel(format!("create {}", self.path.join(INDEX_DIR).display()), e)
            })?;
            self.index = Some(fd);
        }
        Ok(())
    }

    /// The index directory, after `ensure_index`.
    fn index_fd(&self) -> Result<&OwnedFd> {
        self.index
            .as_ref()
            .ok_or_else(|| Error::internal("host-local store: index directory not open"))
    }

    /// Index the reservation `name` under `key`: a hard link to it.
    fn index_add(&mut self, key: &str, name: &str) -> Result<()> {
        let key_path = self.path.join(INDEX_DIR).join(key);
        let fail = |e| Error::kernel(format!("index {}", key_path.join(name).display()), e);
        self.ensure_index()?;
        let key_dir = self.key_dir(key).map_err(fail)?;
        let link = || linkat(&self.dir, name, &key_dir, name, AtFlags::empty());
        match link() {
            // A stale entry for this IP (its file was removed by hand) is
            // replaced.
            Err(Errno::EEXIST) => {
                let _ = unlinkat(&key_dir, name, UnlinkatFlags::NoRemoveDir);
                link().map_err(fail)
            }
            other => other.map_err(fail),
        }
    }

    /// Remove `name`'s entry under `key`, and the key's directory when
    /// that was its last.
    fn unindex(&self, key: &str, name: &str) {
        let Some(index) = &self.index else { return };
        if let Ok(key_dir) = open_dir_at(index, key) {
            let _ = unlinkat(&key_dir, name, UnlinkatFlags::NoRemoveDir);
        }
        let _ = unlinkat(index, key, UnlinkatFlags::RemoveDir);
    }

    /// Live index entries of `key` (IP texts), with the key's directory
    /// when it exists. Entries whose reservation file is gone or was
    /// replaced are dropped.
    fn index_entries(&mut self, key: &str) -> Result<IndexEntries> {
        let none = || IndexEntries {
            dir: None,
            live: Vec::new(),
            only: false,
        };
        let Some(index) = &self.index else {
            return Ok(none());
        };
        let key_dir = match open_dir_at(index, key) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(none()),
            // Not a directory (a planted symlink or file): nothing indexed
            // there; remove it so that the key can be indexed again.
            // The reservations it stood for are found again by a scan.
            Err(Errno::ELOOP | Errno::ENOTDIR) => {
                let _ = unlinkat(index, key, UnlinkatFlags::NoRemoveDir);
                if self.scanning {
                    return Ok(none());
                }
                self.scanning = true;
                let scanned = self.scan();
                self.scanning = false;
                scanned?;
                return self.index_entries(key);
            }
            Err(e) => {
                return Err(Error::kernel(
                    format!(
                        "read directory {}",
                        self.path.join(INDEX_DIR).join(key).display()
                    ),
                    e,
                ));
            }
        };
        let (names, mut only) = dir_entries(&key_dir).map_err(|e| {
            Error::kernel(
                format!(
                    "read directory {}",
                    self.path.join(INDEX_DIR).join(key).display()
                ),
                e,
            )
        })?;
        let mut live = Vec::new();
        for (name, _) in names {
            let same = match (stat_file(&key_dir, &name), stat_file(&self.dir, &name)) {
                (Some(a), Some(b)) => a.st_ino == b.st_ino && a.st_dev == b.st_dev,
                _ => false,
            };
            if same {
                live.push(name);
            } else if unlinkat(&key_dir, name.as_str(), UnlinkatFlags::NoRemoveDir).is_err() {
                only = false;
            }
        }
        if live.is_empty() {
            let _ = unlinkat(index, key, UnlinkatFlags::RemoveDir);
        }
        Ok(IndexEntries {
            dir: Some(key_dir),
            live,
            only,
        })
    }

    fn release_key(&mut self, key: &str) -> Result<Vec<IpAddr>> {
        let mut released = Vec::new();
        let mut errors = Vec::new();
        let IndexEntries {
            dir: key_dir,
            live,
            mut only,
        } = self.index_entries(key)?;
        let Some(key_dir) = key_dir else {
            return Ok(released);
        };
        if live.is_empty() {
            return Ok(released);
        }
        self.drop_mark();
        for name in live {
            // The index entry first, so that the reservation has no other
            // name when it becomes a spare (a writer dying in between
            // leaves a reservation the next opener's scan adopts again).
            if unlinkat(&key_dir, name.as_str(), UnlinkatFlags::NoRemoveDir).is_err() {
                only = false;
            }
            match self.retire(&name) {
                Ok(()) => released.extend(name.parse::<IpAddr>().ok()),
                Err(e) => errors.push(e),
            }
        }
        // Into the pool only when nothing is left in it; else it goes
        // only once empty.
        if only {
            self.retire_key_dir(key);
        } else if let Some(index) = &self.index {
            let _ = unlinkat(index, key, UnlinkatFlags::RemoveDir);
        }
        Error::from_list(errors)?;
        Ok(released)
    }

    /// Make the index complete if something else (Go's host-local, a crash)
    /// changed the store since we last left it.
    fn sync(&mut self) -> Result<()> {
        let mark = self.fingerprint()?;
        // A planted symlink or file at the index directory is not opened
        // here: the scan replaces it.
        self.index = open_dir_at(&self.dir, INDEX_DIR).ok();
        let on_disk = self.open_mark();
        self.mark_void = on_disk.trim().is_empty() || on_disk.starts_with('x');
        if !self.mark_void && on_disk.trim_end() == mark.trim_end() {
            self.mark_current = true;
            return Ok(());
        }
        self.scan()
    }

    /// Open the sync mark to compare it now and rewrite it in place later;
    /// its content, empty when there is none. A mark that is not a plain
    /// file of its own (a hard link, a directory) is only read.
    fn open_mark(&mut self) -> String {
        let Some(index) = &self.index else {
            return String::new();
        };
        let readable = |flags: OFlag| {
            let fd = openat(
                index,
                SYNC_MARK,
                flags | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            )
            .ok()?;
            let st = fstat(&fd).ok().filter(is_regular)?;
            let content = read_fd(&fd, st.st_size).ok()?;
            let ours = st.st_nlink == 1 && st.st_size <= MAX_FILE as i64;
            Some((File::from(fd), ours.then_some(st.st_size as usize), content))
        };
        match readable(OFlag::O_RDWR) {
            Some((f, Some(len), content)) => {
                self.mark_len = len;
                self.mark = Some(f);
                content
            }
            Some((_, None, content)) => content,
            None => readable(OFlag::O_RDONLY).map(|r| r.2).unwrap_or_default(),
        }
    }

    /// Adopt every reservation without an index entry, drop leftovers of
    /// interrupted writes and empty index directories.
    fn scan(&mut self) -> Result<()> {
        self.mark_current = false;
        // A planted symlink or file at the index directory is replaced
        // before it is listed; when that fails (a read-only disk) there is
        // no index to list.
        let _ = self.ensure_index();
        // Every writer holds the lock, so a temporary file now is a
        // leftover of a writer that died; so may be a spare holding an
        // attachment's content.
        self.drain_pool();
        for (name, _) in self.list(&self.dir, ".", |n, _| n.starts_with(TMP_PREFIX))? {
            self.unlink_quiet(&name);
        }
        if let Some(index) = &self.index {
            for (name, _) in self.list(index, ".", |n, _| n.starts_with(TMP_PREFIX))? {
                let _ = unlinkat(index, name.as_str(), UnlinkatFlags::NoRemoveDir);
            }
        }
        for (name, owner) in self.reservations()? {
            let Some(st) = stat_file(&self.dir, &name) else {
                continue;
            };
            let Some(owner) = owner else { continue };
            if st.st_nlink >= 2 {
                continue;
            }
            let key = index_key(&owner.id, owner.ifname.as_deref());
            self.index_add(&key, &name)?;
        }
        self.prune_index()
    }

    fn prune_index(&mut self) -> Result<()> {
        let Some(index) = &self.index else {
            return Ok(());
        };
        let dirs = self.list(index, ".", |n, t| t == Some(Kind::Dir) && n.len() == 64)?;
        for (key, _) in dirs {
            self.index_entries(&key)?;
        }
        Ok(())
    }

    /// What changes when anyone else touches the store: the directory's
    /// timestamps (any file created or removed) and the `last_reserved_ip.N`
    /// files, which Go rewrites on every allocation. Probing a fixed number
    /// of range-set indexes keeps this O(1) in the number of reservations.
    /// The files are read when the store is opened and then kept up to
    /// date by our own writes (nobody else writes while we hold the lock).
    fn fingerprint(&mut self) -> Result<String> {
        let st = fstat(&self.dir)
            .map_err(|e| Error::kernel(format!("stat {}", self.path.display()), e))?;
        if self.last.is_empty() {
            self.last = (0..FINGERPRINT_RANGE_SETS)
                .map(|n| {
                    let name = format!("{LAST_RESERVED_PREFIX}{n}");
                    let st = stat_file(&self.dir, &name)?;
                    let content = read_small_at(&self.dir, &name, st.st_size)
                        .ok()
                        .flatten()
                        .unwrap_or_default();
                    Some(LastReserved {
                        ino: st.st_ino,
                        ctime: (st.st_ctime, st.st_ctime_nsec),
                        content,
                    })
                })
                .collect();
        }
        let mut mark = format!(
            "v1 {} {}.{} {}.{}\n",
            st.st_ino, st.st_mtime, st.st_mtime_nsec, st.st_ctime, st.st_ctime_nsec
        );
        for (n, last) in self.last.iter().enumerate() {
            if let Some(l) = last {
                mark += &format!(
                    "{n} {} {}.{} {}\n",
                    l.ino,
                    l.ctime.0,
                    l.ctime.1,
                    l.content.trim()
                );
            }
        }
        Ok(mark)
    }

    /// At the start of an operation that may change the store: one before
    /// it that began a change and never finished it failed part way.
    fn begin(&mut self) {
        if self.changing {
            self.unfinished = true;
        }
    }

    /// Void the sync mark before the first change of an operation, so
    /// that a writer dying part way always leaves the store to be scanned
    /// (and its temporary files removed) by the next one. Without this, a
    /// change landing in the same timestamp tick as the previous mark (file
    /// times are only as fine as the kernel's clock tick on many kernels)
    /// would go unnoticed. One byte written over the mark's first does it
    /// without a new inode; when that fails the mark is removed.
    fn drop_mark(&mut self) {
        self.changing = true;
        self.mark_current = false;
        if self.mark_void {
            return;
        }
        self.mark_void = true;
        let voided = match &self.mark {
            Some(f) => f.write_all_at(b"x", 0).is_ok(),
            None => false,
        };
        if !voided {
            self.mark = None;
            if let Some(index) = &self.index {
                let _ = unlinkat(index, SYNC_MARK, UnlinkatFlags::NoRemoveDir);
            }
        }
    }

    /// Record that the index is complete, when the store is let go after
    /// operations that all finished. The mark lives inside the index
    /// directory, so writing it does not itself change the fingerprint; it
    /// is written over in place, padded to the old length rather than
    /// truncated (a torn mark only fails to match, which costs one rescan).
    /// The mark only saves the next opener a scan, so failing to write it
    /// (a full or read-only disk) is not an error: the mark is then absent
    /// or void and the next opener scans.
    fn write_mark(&mut self) {
        // Before the fingerprint: creating it changes the network directory.
        let written = self.ensure_index().and_then(|()| {
            let mut mark = self.fingerprint()?.into_bytes();
            if mark.len() < self.mark_len {
                mark.resize(self.mark_len, b'\n');
            }
            let target = self.path.join(INDEX_DIR).join(SYNC_MARK);
            let file = match self.mark.take() {
                Some(f) => f,
                // None yet (or not a plain file of ours): made whole under
                // another name and renamed into place, so that no reader
                // ever finds an empty mark.
                None => {
                    self.tmp_counter += 1;
                    let index = self.index_fd()?;
                    let fail = |e| Error::kernel(format!("write {}", target.display()), e);
                    let (tmp, file) = write_tmp_in(index, self.tmp_counter, &mark).map_err(fail)?;
                    if let Err(e) = renameat(index, tmp.as_str(), index, SYNC_MARK) {
                        let _ = unlinkat(index, tmp.as_str(), UnlinkatFlags::NoRemoveDir);
                        return Err(fail(e));
                    }
                    self.mark_len = mark.len();
                    self.mark = Some(file);
                    return Ok(());
                }
            };
            file.write_all_at(&mark, 0)
                .map_err(|e| Error::io(format!("write {}", target.display()), e))?;
            self.mark_len = mark.len();
            self.mark = Some(file);
            Ok(())
        });
        match written {
            Ok(()) => {
                self.mark_current = true;
                self.mark_void = false;
            }
            Err(e) => {
                eprintln!("warning: host-local store index mark not written: {e}");
                self.drop_mark();
            }
        }
    }

    /// Replace `last_reserved_ip.<N>` atomically, as a temporary file and a
    /// rename would, but without creating and deleting an inode per call
    /// (on ext4 each new inode costs a scan past the recently deleted ones,
    /// the largest CPU cost of an allocation under churn): the content goes
    /// into a spare file in the index directory, which is then exchanged
    /// with the target (`RENAME_EXCHANGE`), so the old file becomes the next
    /// spare. The spare is written over in place and truncated only when
    /// the new address is shorter: truncating a file whose data is still
    /// being written back waits for that I/O (0.15 to 6.5 ms per call here).
    fn write_last_reserved(&mut self, range_set: usize, name: &str) -> Result<()> {
        let target = format!("{LAST_RESERVED_PREFIX}{range_set}");
        let spare = format!("{SPARE_PREFIX}{range_set}");
        let spare_path = self.path.join(INDEX_DIR).join(&spare);
        let target_path = self.path.join(&target);
        self.ensure_index()?;
        let index = self.index_fd()?;
        let file = write_spare(index, &spare, name)
            .map_err(|e| Error::kernel(format!("write {}", spare_path.display()), e))?;
        let err = |e| Error::kernel(format!("write {}", target_path.display()), e);
        match exchange_at(index, &spare, &self.dir, &target) {
            Ok(()) => {}
            // No target yet, or a file system that cannot exchange: a
            // plain rename (which replaces a planted symlink itself
            // instead of following it).
            Err(Errno::ENOENT | Errno::EINVAL | Errno::ENOSYS) => {
                renameat(index, spare.as_str(), &self.dir, target.as_str()).map_err(err)?
            }
            Err(e) => return Err(err(e)),
        }
        if let Some(slot) = self.last.get_mut(range_set) {
            // The rename changed the file's ctime.
            *slot = fstat(&file).ok().map(|st| LastReserved {
                ino: st.st_ino,
                ctime: (st.st_ctime, st.st_ctime_nsec),
                content: name.to_string(),
            });
        }
        Ok(())
    }

    // ---- files ----

    fn write_tmp(&mut self, content: &str) -> std::result::Result<String, Errno> {
        self.tmp_counter += 1;
        write_tmp_in(&self.dir, self.tmp_counter, content.as_bytes()).map(|(name, _)| name)
    }

    fn unlink(&self, name: &str) -> Result<()> {
        match unlinkat(&self.dir, name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(Error::kernel(
                format!("remove {}", self.path.join(name).display()),
                e,
            )),
        }
    }

    fn unlink_quiet(&self, name: &str) {
        let _ = unlinkat(&self.dir, name, UnlinkatFlags::NoRemoveDir);
    }

    /// Names in directory `sub` of `parent` that pass `filter`.
    fn list<Fd: AsFd>(
        &self,
        parent: &Fd,
        sub: &str,
        filter: impl Fn(&str, Option<Kind>) -> bool,
    ) -> Result<Vec<(String, Option<Kind>)>> {
        let fail = |e| Error::kernel(format!("read directory {}", self.path.display()), e);
        // A descriptor of its own: reading a directory moves its offset.
        let dir = open_dir_at(parent, sub).map_err(fail)?;
        Ok(dir_entries(&dir)
            .map_err(fail)?
            .0
            .into_iter()
            .filter(|(n, k)| filter(n, *k))
            .collect())
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some((_, p)) = self.pending.take() {
            self.discard(p);
        }
        if !self.changing && !self.unfinished && !self.mark_current {
            self.write_mark();
        }
    }
}

/// A directory's entries and whether that is all of them.
type DirEntries = (Vec<(String, Option<Kind>)>, bool);

/// What [`Store::index_entries`] found under a key.
struct IndexEntries {
    /// The key's directory, when it exists.
    dir: Option<OwnedFd>,
    /// Names of the reservations indexed there.
    live: Vec<String>,
    /// Nothing else is left in the directory.
    only: bool,
}

/// What a directory entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    Other,
}

const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// The first open of a network's store, or one that found something
/// wrong: make the data and network directories as needed.
fn open_network_dir(data_dir: &Path, network: &str, path: &Path) -> Result<OwnedFd> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(data_dir)
        .map_err(|e| Error::io(format!("create data dir {}", data_dir.display()), e))?;
    let root = nix::fcntl::open(
        data_dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::kernel(format!("open data dir {}", data_dir.display()), e))?;
    match open_dir_at(&root, network) {
        Ok(d) => Ok(d),
        Err(Errno::ENOENT) => {
            match mkdirat(&root, network, Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(Error::kernel(format!("create {}", path.display()), e)),
            }
            open_dir_at(&root, network)
                .map_err(|e| Error::kernel(format!("open {}", path.display()), e))
        }
        Err(e) => Err(Error::kernel(
            format!("open {} (a directory, not a symlink)", path.display()),
            e,
        )),
    }
}

fn open_dir_at<Fd: AsFd>(parent: &Fd, name: &str) -> std::result::Result<OwnedFd, Errno> {
    openat(parent, name, DIR_FLAGS, Mode::empty())
}

/// Open directory `name` of `parent`, making it when missing; anything
/// else found there (a planted symlink above all) is removed rather than
/// followed.
fn ensure_dir_at<Fd: AsFd>(parent: &Fd, name: &str) -> std::result::Result<OwnedFd, Errno> {
    match mkdirat(parent, name, Mode::from_bits_truncate(0o700)) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(e),
    }
    match open_dir_at(parent, name) {
        Err(Errno::ELOOP | Errno::ENOTDIR) => {
            unlinkat(parent, name, UnlinkatFlags::NoRemoveDir)?;
            mkdirat(parent, name, Mode::from_bits_truncate(0o700))?;
            open_dir_at(parent, name)
        }
        other => other,
    }
}

/// A new temporary file in `dir` holding `content`: its name and the file,
/// open for writing.
fn write_tmp_in(
    dir: &OwnedFd,
    counter: u32,
    content: &[u8],
) -> std::result::Result<(String, File), Errno> {
    let name = format!("{TMP_PREFIX}{}-{counter}", std::process::id());
    let fd = openat(
        dir,
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )?;
    let mut file = File::from(fd);
    if let Err(e) = file.write_all(content) {
        let _ = unlinkat(dir, name.as_str(), UnlinkatFlags::NoRemoveDir);
        return Err(io_errno(e));
    }
    Ok((name, file))
}

fn is_regular(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFREG
}

/// A regular file with no other name, of a reservation's size: one that
/// may be written over in place.
fn is_own_file(st: &FileStat) -> bool {
    is_regular(st) && st.st_nlink == 1 && st.st_size >= 0 && st.st_size <= MAX_FILE as i64
}

/// `name` in `dir` opened for writing over in place, with its length, when
/// it is such a file (a symlink is not followed).
fn open_own_file<Fd: AsFd>(dir: &Fd, name: &str) -> Option<(File, usize)> {
    let fd = openat(
        dir,
        name,
        OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let st = fstat(&fd).ok().filter(is_own_file)?;
    Some((File::from(fd), st.st_size as usize))
}

/// The status of a regular file `name` of `parent`, not following a symlink.
fn stat_file<Fd: AsFd>(parent: &Fd, name: &str) -> Option<FileStat> {
    fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW)
        .ok()
        .filter(is_regular)
}

/// Read a small file `name` of `parent` (of `size` bytes when known, else
/// -1); `Ok(None)` if it does not exist.
fn read_small_at<Fd: AsFd>(
    parent: &Fd,
    name: &str,
    size: i64,
) -> std::result::Result<Option<String>, Errno> {
    let fd = match openat(
        parent,
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(e),
    };
    read_fd(&fd, size).map(Some)
}

/// Up to `MAX_FILE` bytes of a file. With its size known (`size` ≥ 0; the
/// lock keeps it from changing), reading stops there, saving the read that
/// would return nothing.
fn read_fd<Fd: AsFd>(fd: &Fd, size: i64) -> std::result::Result<String, Errno> {
    let cap = MAX_FILE as usize;
    let want = usize::try_from(size).map_or(cap, |s| s.min(cap));
    let mut buf = vec![0u8; if size < 0 { 64 } else { want.max(1) }];
    let mut len = 0;
    loop {
        if len == buf.len() {
            if size >= 0 || buf.len() >= cap {
                break;
            }
            buf.resize((buf.len() * 4).min(cap), 0);
        }
        let n = nix::unistd::read(fd, &mut buf[len..])?;
        if n == 0 {
            break;
        }
        len += n;
        if size >= 0 && len >= want {
            break;
        }
    }
    buf.truncate(len);
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Fill the spare `name` of `index` with `content`, reusing its inode;
/// whatever else holds the name (a symlink exchanged in from a planted
/// target, a hard link) is replaced by a new file rather than written
/// through. The file is returned open.
fn write_spare(index: &OwnedFd, name: &str, content: &str) -> std::result::Result<File, Errno> {
    let open = |extra: OFlag| {
        openat(
            index,
            name,
            OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | extra,
            Mode::from_bits_truncate(0o600),
        )
    };
    let reused = open(OFlag::empty()).ok().and_then(|fd| {
        let st = fstat(&fd)
            .ok()
            .filter(|st| is_regular(st) && st.st_nlink == 1)?;
        Some((File::from(fd), st.st_size))
    });
    let (file, old_len) = match reused {
        Some(r) => r,
        None => {
            let _ = unlinkat(index, name, UnlinkatFlags::NoRemoveDir);
            (File::from(open(OFlag::O_CREAT | OFlag::O_EXCL)?), 0)
        }
    };
    file.write_all_at(content.as_bytes(), 0).map_err(io_errno)?;
    if old_len > content.len() as i64 {
        file.set_len(content.len() as u64).map_err(io_errno)?;
    }
    Ok(file)
}

/// The entries of an open directory (without `.` and `..`), with their
/// kind; names that are not UTF-8 are left out (no store file has one),
/// which the second value, false then, tells.
/// `getdents64` directly: `opendir` would add a `fstat` and, when done, a
/// seek back to the start.
fn dir_entries(dir: &OwnedFd) -> std::result::Result<DirEntries, Errno> {
    let mut out = Vec::new();
    let mut all = true;
    let mut buf = vec![0u8; 8192];
    loop {
        // SAFETY: a valid descriptor and a buffer of the length passed.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir.as_raw_fd(),
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        if n < 0 {
            return Err(Errno::last());
        }
        let n = n as usize;
        if n == 0 {
            return Ok((out, all));
        }
        let mut at = 0;
        // struct linux_dirent64: u64 ino, i64 off, u16 reclen, u8 type, name
        while at + 19 <= n {
            let reclen = u16::from_ne_bytes([buf[at + 16], buf[at + 17]]) as usize;
            if reclen == 0 || at + reclen > n {
                return Err(Errno::EIO);
            }
            let d_type = buf[at + 18];
            let raw = &buf[at + 19..at + reclen];
            let raw = &raw[..raw.iter().position(|b| *b == 0).unwrap_or(raw.len())];
            at += reclen;
            let Ok(name) = std::str::from_utf8(raw) else {
                all = false;
                continue;
            };
            if name == "." || name == ".." {
                continue;
            }
            let kind = match d_type {
                libc::DT_REG => Some(Kind::File),
                libc::DT_DIR => Some(Kind::Dir),
                // Some file systems report no type in the directory entry.
                libc::DT_UNKNOWN => {
                    fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)
                        .ok()
                        .map(|st| {
                            match SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) {
                                SFlag::S_IFREG => Kind::File,
                                SFlag::S_IFDIR => Kind::Dir,
                                _ => Kind::Other,
                            }
                        })
                }
                _ => Some(Kind::Other),
            };
            out.push((name.to_string(), kind));
        }
    }
}

/// `renameat2(RENAME_EXCHANGE)`: both names must exist and swap
/// atomically.
fn exchange_at<A: AsFd + ?Sized, B: AsFd>(
    a_dir: &A,
    a: &str,
    b_dir: &B,
    b: &str,
) -> std::result::Result<(), Errno> {
    rename_at(a_dir, a, b_dir, b, libc::RENAME_EXCHANGE)
}

/// `renameat2` with `flags`. A raw syscall because nix offers it on glibc
/// only.
fn rename_at<A: AsFd + ?Sized, B: AsFd + ?Sized>(
    a_dir: &A,
    a: &str,
    b_dir: &B,
    b: &str,
    flags: libc::c_uint,
) -> std::result::Result<(), Errno> {
    let a = std::ffi::CString::new(a).map_err(|_| Errno::EINVAL)?;
    let b = std::ffi::CString::new(b).map_err(|_| Errno::EINVAL)?;
    // SAFETY: two NUL-terminated paths that outlive the call, valid fds.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            a_dir.as_fd().as_raw_fd(),
            a.as_ptr(),
            b_dir.as_fd().as_raw_fd(),
            b.as_ptr(),
            flags,
        )
    };
    if r == 0 { Ok(()) } else { Err(Errno::last()) }
}

fn io_errno(e: std::io::Error) -> Errno {
    e.raw_os_error().map_or(Errno::EIO, Errno::from_raw)
}

#[cfg(test)]
#[path = "disk_tests.rs"]
mod tests;

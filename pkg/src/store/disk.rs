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
//! Safety: every path is resolved with `*at` calls relative to the network
//! directory with `O_NOFOLLOW`, so a symlink planted in the store cannot
//! redirect a write; a reservation becomes visible only complete (written
//! to a temporary file, then hard-linked into place), so a failed or
//! interrupted write never leaves an empty reservation behind.

use std::collections::HashSet;
use std::ffi::CStr;
use std::fs::File;
use std::io::{Read, Write};
use std::net::IpAddr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat, renameat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstatat, mkdirat};
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
/// How many `last_reserved_ip.N` files the change detection looks at.
const FINGERPRINT_RANGE_SETS: usize = 16;
/// Go's separator between container ID and interface name.
const LINE_BREAK: &str = "\r\n";
/// A reservation file is a few dozen bytes; anything much larger is not one.
const MAX_FILE: u64 = 4096;

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

/// One network's store, locked for as long as the value lives.
pub struct Store {
    dir: OwnedFd,
    path: PathBuf,
    /// Holds the flock; released on drop.
    _lock: File,
    tmp_counter: u32,
    /// The sync mark was removed for this operation's changes.
    mark_dropped: bool,
    /// Set while a scan runs, so that a damaged index found during one
    /// does not start another.
    scanning: bool,
}

impl Store {
    /// Open (creating if needed) `<data_dir>/<network>` and take its lock,
    /// waiting for other holders (Go or Rust) to finish.
    pub fn open(data_dir: &Path, network: &str) -> Result<Store> {
        crate::validate::network_name(network)?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(data_dir)
            .map_err(|e| Error::io(format!("create data dir {}", data_dir.display()), e))?;
        let root = open_dir_path(data_dir)?;
        let path = data_dir.join(network);
        let dir = match open_dir_at(&root, network) {
            Ok(d) => d,
            Err(Errno::ENOENT) => {
                match mkdirat(&root, network, Mode::from_bits_truncate(0o755)) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(Error::kernel(format!("create {}", path.display()), e)),
                }
                open_dir_at(&root, network)
                    .map_err(|e| Error::kernel(format!("open {}", path.display()), e))?
            }
            Err(e) => {
                return Err(Error::kernel(
                    format!("open {} (a directory, not a symlink)", path.display()),
                    e,
                ));
            }
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
            tmp_counter: 0,
            mark_dropped: false,
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
        // Everyone holds the lock, so a name that exists now stays taken.
        if fstatat(&self.dir, name.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW).is_ok() {
            return Ok(false);
        }
        self.drop_mark();
        let tmp = self.write_tmp(&file_content(id, ifname))?;
        let placed = match linkat(
            &self.dir,
            tmp.as_str(),
            &self.dir,
            name.as_str(),
            AtFlags::empty(),
        ) {
            Ok(()) => true,
            Err(Errno::EEXIST) => false,
            Err(e) => {
                self.unlink_quiet(&tmp);
                return Err(Error::kernel(
                    format!("reserve {}", self.path.join(&name).display()),
                    e,
                ));
            }
        };
        if placed {
            let indexed = self.index_add(&tmp, &index_key(id, Some(ifname)), &name);
            self.unlink_quiet(&tmp);
            if let Err(e) = indexed {
                self.unlink_quiet(&name);
                return Err(e);
            }
            self.write_last_reserved(range_set, &name)?;
        } else {
            self.unlink_quiet(&tmp);
        }
        self.write_mark()?;
        Ok(placed)
    }

    /// The last IP handed out from range set `range_set`, if recorded.
    pub fn last_reserved(&self, range_set: usize) -> Option<IpAddr> {
        let content = self
            .read_small(&format!("{LAST_RESERVED_PREFIX}{range_set}"))
            .ok()??;
        content.trim().parse().ok()
    }

    /// Undo one reservation (when a multi-range ADD fails half way).
    pub fn release(&mut self, ip: IpAddr) -> Result<()> {
        let name = ip_file_name(ip);
        self.drop_mark();
        if let Some(owner) = self.read_small(&name)?.as_deref().and_then(Owner::parse) {
            let key = index_key(&owner.id, owner.ifname.as_deref());
            let _ = self.unlink_at(
                &format!("{INDEX_DIR}/{key}/{name}"),
                UnlinkatFlags::NoRemoveDir,
            );
            let _ = self.unlink_at(&format!("{INDEX_DIR}/{key}"), UnlinkatFlags::RemoveDir);
        }
        self.unlink(&name)?;
        self.write_mark()
    }

    /// The IPs held by the attachment.
    pub fn get_by_id(&mut self, id: &str, ifname: &str) -> Result<Vec<IpAddr>> {
        Ok(self
            .index_entries(&index_key(id, Some(ifname)))?
            .into_iter()
            .filter_map(|(name, _)| name.parse().ok())
            .collect())
    }

    /// Whether the attachment (or, for legacy files, the container) holds
    /// anything: host-local's CHECK.
    pub fn find_by_id(&mut self, id: &str, ifname: &str) -> Result<bool> {
        if !self.index_entries(&index_key(id, Some(ifname)))?.is_empty() {
            return Ok(true);
        }
        Ok(!self.index_entries(&index_key(id, None))?.is_empty())
    }

    /// Release everything the attachment holds; like Go, legacy id-only
    /// files are released only when nothing matched id and ifname.
    pub fn release_by_id(&mut self, id: &str, ifname: &str) -> Result<Vec<IpAddr>> {
        let mut released = self.release_key(&index_key(id, Some(ifname)))?;
        if released.is_empty() {
            released = self.release_key(&index_key(id, None))?;
        }
        if !released.is_empty() {
            self.write_mark()?;
        }
        Ok(released)
    }

    /// Release every reservation whose owner is not in `valid`; legacy
    /// files are kept when their container ID is valid. Unreadable, empty or
    /// garbage reservation files are released too.
    pub fn gc(&mut self, valid: &[(String, String)]) -> Result<Vec<IpAddr>> {
        let keep: HashSet<(&str, &str)> =
            valid.iter().map(|(i, f)| (i.trim(), f.as_str())).collect();
        let keep_ids: HashSet<&str> = valid.iter().map(|(i, _)| i.trim()).collect();
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
                let key = index_key(&o.id, o.ifname.as_deref());
                let _ = self.unlink_at(
                    &format!("{INDEX_DIR}/{key}/{name}"),
                    UnlinkatFlags::NoRemoveDir,
                );
                let _ = self.unlink_at(&format!("{INDEX_DIR}/{key}"), UnlinkatFlags::RemoveDir);
            }
            match self.unlink(&name) {
                Ok(()) => released.extend(name.parse::<IpAddr>().ok()),
                Err(e) => errors.push(e),
            }
        }
        self.prune_index()?;
        self.write_mark()?;
        Error::from_list(errors)?;
        Ok(released)
    }

    /// Every reservation file: its IP text and its owner (`None` when the
    /// file is empty or unreadable).
    pub fn reservations(&self) -> Result<Vec<(String, Option<Owner>)>> {
        let mut out = Vec::new();
        for (name, _) in self.list(".", |n, t| {
            t == Some(nix::dir::Type::File) && n.parse::<IpAddr>().is_ok()
        })? {
            let owner = self
                .read_small(&name)
                .ok()
                .flatten()
                .as_deref()
                .and_then(Owner::parse);
            out.push((name, owner));
        }
        Ok(out)
    }

    // ---- index ----

    fn index_add(&mut self, tmp: &str, key: &str, name: &str) -> Result<()> {
        self.ensure_index_dir()?;
        let key_dir = format!("{INDEX_DIR}/{key}");
        self.ensure_dir(&key_dir)?;
        let entry = format!("{key_dir}/{name}");
        // A stale entry for this IP (its file was removed by hand) is replaced.
        let _ = self.unlink_at(&entry, UnlinkatFlags::NoRemoveDir);
        let (to, to_name) = self
            .at(&entry)
            .map_err(|e| Error::kernel(format!("index {}", self.path.join(&entry).display()), e))?;
        linkat(&self.dir, tmp, &to, to_name, AtFlags::empty())
            .map_err(|e| Error::kernel(format!("index {}", self.path.join(&entry).display()), e))
    }

    /// Live index entries of `key`: (ip text, inode). Entries whose
    /// reservation file is gone or was replaced are dropped.
    fn index_entries(&mut self, key: &str) -> Result<Vec<(String, u64)>> {
        let key_dir = format!("{INDEX_DIR}/{key}");
        let names = match self.list(&key_dir, |_, _| true) {
            Ok(n) => n,
            Err(e) if e.is_errno(Errno::ENOENT) => return Ok(Vec::new()),
            // Not a directory (a planted symlink or file): nothing indexed
            // there; remove it so that the key can be indexed again.
            // The reservations it stood for are found again by a scan.
            Err(e) if e.is_errno(Errno::ELOOP) || e.is_errno(Errno::ENOTDIR) => {
                let _ = self.unlink_at(&key_dir, UnlinkatFlags::NoRemoveDir);
                if self.scanning {
                    return Ok(Vec::new());
                }
                self.scanning = true;
                let scanned = self.scan();
                self.scanning = false;
                scanned?;
                return self.index_entries(key);
            }
            Err(e) => return Err(e),
        };
        let mut live = Vec::new();
        for (name, _) in names {
            let entry = format!("{key_dir}/{name}");
            let same = match (self.stat(&entry), self.stat(&name)) {
                (Some(a), Some(b)) => a.st_ino == b.st_ino && a.st_dev == b.st_dev,
                _ => false,
            };
            if same {
                let ino = self.stat(&name).map(|s| s.st_ino).unwrap_or_default();
                live.push((name, ino));
            } else {
                let _ = self.unlink_at(&entry, UnlinkatFlags::NoRemoveDir);
            }
        }
        if live.is_empty() {
            let _ = self.unlink_at(&key_dir, UnlinkatFlags::RemoveDir);
        }
        Ok(live)
    }

    fn release_key(&mut self, key: &str) -> Result<Vec<IpAddr>> {
        let mut released = Vec::new();
        let mut errors = Vec::new();
        let entries = self.index_entries(key)?;
        if !entries.is_empty() {
            self.drop_mark();
        }
        for (name, _) in entries {
            match self.unlink(&name) {
                Ok(()) => released.extend(name.parse::<IpAddr>().ok()),
                Err(e) => errors.push(e),
            }
            let _ = self.unlink_at(
                &format!("{INDEX_DIR}/{key}/{name}"),
                UnlinkatFlags::NoRemoveDir,
            );
        }
        let _ = self.unlink_at(&format!("{INDEX_DIR}/{key}"), UnlinkatFlags::RemoveDir);
        Error::from_list(errors)?;
        Ok(released)
    }

    /// Make the index complete if something else (Go's host-local, a crash)
    /// changed the store since we last left it.
    fn sync(&mut self) -> Result<()> {
        let mark = self.fingerprint()?;
        if self
            .read_small(&format!("{INDEX_DIR}/{SYNC_MARK}"))
            .ok()
            .flatten()
            .as_deref()
            == Some(mark.as_str())
        {
            return Ok(());
        }
        self.scan()?;
        self.write_mark()
    }

    /// Adopt every reservation without an index entry, drop leftovers of
    /// interrupted writes and empty index directories.
    fn scan(&mut self) -> Result<()> {
        // A planted symlink or file at the index directory is replaced
        // before it is listed; when that fails (a read-only disk) the
        // listing below refuses to follow it anyway.
        let _ = self.ensure_index_dir();
        // Every writer holds the lock, so a temporary file now is a
        // leftover of a writer that died.
        for (name, _) in self.list(".", |n, _| n.starts_with(TMP_PREFIX))? {
            self.unlink_quiet(&name);
        }
        match self.list(INDEX_DIR, |n, _| n.starts_with(TMP_PREFIX)) {
            Ok(names) => {
                for (name, _) in names {
                    self.unlink_quiet(&format!("{INDEX_DIR}/{name}"));
                }
            }
            Err(e) if e.is_errno(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        for (name, owner) in self.reservations()? {
            let Some(st) = self.stat(&name) else { continue };
            let Some(owner) = owner else { continue };
            if st.st_nlink >= 2 {
                continue;
            }
            let key = index_key(&owner.id, owner.ifname.as_deref());
            self.index_add(&name, &key, &name)?;
        }
        self.prune_index()
    }

    fn prune_index(&mut self) -> Result<()> {
        let dirs = match self.list(INDEX_DIR, |n, t| {
            t == Some(nix::dir::Type::Directory) && n.len() == 64
        }) {
            Ok(d) => d,
            Err(e) if e.is_errno(Errno::ENOENT) => return Ok(()),
            Err(e) => return Err(e),
        };
        for (key, _) in dirs {
            self.index_entries(&key)?;
        }
        Ok(())
    }

    /// What changes when anyone else touches the store: the directory's
    /// timestamps (any file created or removed) and the `last_reserved_ip.N`
    /// files, which Go rewrites on every allocation. Probing a fixed number
    /// of range-set indexes keeps this O(1) in the number of reservations.
    fn fingerprint(&self) -> Result<String> {
        let st = fstatat(&self.dir, ".", AtFlags::empty())
            .map_err(|e| Error::kernel(format!("stat {}", self.path.display()), e))?;
        let mut mark = format!(
            "v1 {} {}.{} {}.{}\n",
            st.st_ino, st.st_mtime, st.st_mtime_nsec, st.st_ctime, st.st_ctime_nsec
        );
        for n in 0..FINGERPRINT_RANGE_SETS {
            let name = format!("{LAST_RESERVED_PREFIX}{n}");
            if let Some(st) = self.stat(&name) {
                let content = self.read_small(&name).ok().flatten().unwrap_or_default();
                mark += &format!(
                    "{n} {} {}.{} {}\n",
                    st.st_ino,
                    st.st_ctime,
                    st.st_ctime_nsec,
                    content.trim()
                );
            }
        }
        Ok(mark)
    }

    /// Remove the sync mark before the first change of an operation, so
    /// that a writer dying part way always leaves the store to be scanned
    /// (and its temporary files removed) by the next one. Without this, a
    /// change landing in the same timestamp tick as the previous mark (file
    /// times are only as fine as the kernel's clock tick on many kernels)
    /// would go unnoticed.
    fn drop_mark(&mut self) {
        if !self.mark_dropped {
            self.mark_dropped = true;
            let _ = unlinkat(
                &self.dir,
                format!("{INDEX_DIR}/{SYNC_MARK}").as_str(),
                UnlinkatFlags::NoRemoveDir,
            );
        }
    }

    /// Record that the index is complete. Called after our own last change
    /// to the network directory in an operation; the temporary file is made
    /// inside the index directory so that writing it does not itself change
    /// the fingerprint. The mark only saves the next opener a scan, so
    /// failing to write it (a full or read-only disk) is not an error: the
    /// mark is then absent and the next opener scans.
    fn write_mark(&mut self) -> Result<()> {
        // Before the fingerprint: creating it changes the network directory.
        let index_dir = self.ensure_index_dir();
        let mark = self.fingerprint()?;
        let target = format!("{INDEX_DIR}/{SYNC_MARK}");
        if !self.mark_dropped
            && self.read_small(&target).ok().flatten().as_deref() == Some(mark.as_str())
        {
            return Ok(());
        }
        let written = index_dir.and_then(|()| {
            let tmp = self.write_tmp_in(INDEX_DIR, &mark)?;
            let renamed = self.at(&tmp).and_then(|(from, from_name)| {
                let (to, to_name) = self.at(&target)?;
                renameat(&from, from_name, &to, to_name)
            });
            renamed.map_err(|e| {
                self.unlink_quiet(&tmp);
                Error::kernel(format!("write {}", self.path.join(&target).display()), e)
            })
        });
        if let Err(e) = written {
            eprintln!("warning: host-local store index mark not written: {e}");
            let _ = self.unlink_at(&target, UnlinkatFlags::NoRemoveDir);
        }
        self.mark_dropped = false;
        Ok(())
    }

    fn ensure_index_dir(&self) -> Result<()> {
        self.ensure_dir(INDEX_DIR)
    }

    /// Make `rel` a directory of ours. Anything else found there (a
    /// planted symlink above all) is removed rather than followed: the
    /// index holds nothing that a scan cannot rebuild.
    fn ensure_dir(&self, rel: &str) -> Result<()> {
        let fail = |e| Error::kernel(format!("create {}", self.path.join(rel).display()), e);
        let (parent, name) = self.at(rel).map_err(fail)?;
        match mkdirat(&parent, name, Mode::from_bits_truncate(0o700)) {
            Ok(()) => return Ok(()),
            Err(Errno::EEXIST) => {}
            Err(e) => return Err(fail(e)),
        }
        let st = fstatat(&parent, name, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(fail)?;
        if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR {
            return Ok(());
        }
        unlinkat(&parent, name, UnlinkatFlags::NoRemoveDir).map_err(fail)?;
        mkdirat(&parent, name, Mode::from_bits_truncate(0o700)).map_err(fail)
    }

    /// Replace `last_reserved_ip.<N>` atomically, as a temporary file and a
    /// rename would, but without creating and deleting an inode per call
    /// (on ext4 each new inode costs a scan past the recently deleted ones,
    /// the largest CPU cost of an allocation under churn): the content goes
    /// into a spare file in the index directory, which is then exchanged
    /// with the target (`RENAME_EXCHANGE`), so the old file becomes the next
    /// spare. Writing the spare truncated makes ext4 start writing its data
    /// back when it is closed, before the exchange, the same protection
    /// against an empty file after a crash that ext4 gives a rename over an
    /// existing file.
    fn write_last_reserved(&mut self, range_set: usize, name: &str) -> Result<()> {
        self.ensure_index_dir()?;
        let target = format!("{LAST_RESERVED_PREFIX}{range_set}");
        let spare = format!("{INDEX_DIR}/{SPARE_PREFIX}{range_set}");
        self.write_spare(&spare, name)?;
        let err = |e| Error::kernel(format!("write {}", self.path.join(&target).display()), e);
        match exchange_at(&self.dir, &spare, &target) {
            Ok(()) => Ok(()),
            // No target yet, or a file system that cannot exchange: a
            // plain rename (which replaces a planted symlink itself
            // instead of following it).
            Err(Errno::ENOENT | Errno::EINVAL | Errno::ENOSYS) => {
                renameat(&self.dir, spare.as_str(), &self.dir, target.as_str()).map_err(err)
            }
            Err(e) => Err(err(e)),
        }
    }

    /// Fill the spare with `content`, reusing its inode; whatever else
    /// holds the name (a symlink exchanged in from a planted target, a hard
    /// link) is replaced by a new file rather than written through.
    fn write_spare(&self, spare: &str, content: &str) -> Result<()> {
        let open = |extra: OFlag| {
            openat(
                &self.dir,
                spare,
                OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | extra,
                Mode::from_bits_truncate(0o600),
            )
        };
        let reusable = |fd: &OwnedFd| {
            nix::sys::stat::fstat(fd).is_ok_and(|st| {
                SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFREG
                    && st.st_nlink == 1
            })
        };
        let file = match open(OFlag::empty()) {
            Ok(fd) if reusable(&fd) => File::from(fd),
            _ => {
                self.unlink_quiet(spare);
                File::from(open(OFlag::O_CREAT | OFlag::O_EXCL).map_err(|e| {
                    Error::kernel(format!("create {}", self.path.join(spare).display()), e)
                })?)
            }
        };
        // Truncated first, then written: see write_last_reserved.
        file.set_len(0)
            .and_then(|()| (&file).write_all(content.as_bytes()))
            .map_err(|e| Error::io(format!("write {}", self.path.join(spare).display()), e))
    }

    // ---- files ----

    fn write_tmp(&mut self, content: &str) -> Result<String> {
        self.write_tmp_in(".", content)
    }

    fn write_tmp_in(&mut self, sub: &str, content: &str) -> Result<String> {
        self.tmp_counter += 1;
        let base = format!("{TMP_PREFIX}{}-{}", std::process::id(), self.tmp_counter);
        let name = if sub == "." {
            base
        } else {
            format!("{sub}/{base}")
        };
        let fd = self
            .at(&name)
            .and_then(|(parent, leaf)| {
                openat(
                    &parent,
                    leaf,
                    OFlag::O_WRONLY
                        | OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )
            })
            .map_err(|e| Error::kernel(format!("create {}", self.path.join(&name).display()), e))?;
        let mut f = File::from(fd);
        if let Err(e) = f.write_all(content.as_bytes()) {
            self.unlink_quiet(&name);
            return Err(Error::io(
                format!("write {}", self.path.join(&name).display()),
                e,
            ));
        }
        Ok(name)
    }

    /// Read a small regular file; `Ok(None)` if it does not exist.
    fn read_small(&self, name: &str) -> Result<Option<String>> {
        let fd = match self.at(name).and_then(|(parent, leaf)| {
            openat(
                &parent,
                leaf,
                OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
                Mode::empty(),
            )
        }) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(None),
            Err(e) => {
                return Err(Error::kernel(
                    format!("open {}", self.path.join(name).display()),
                    e,
                ));
            }
        };
        let mut buf = String::new();
        File::from(fd)
            .take(MAX_FILE)
            .read_to_string(&mut buf)
            .map_err(|e| Error::io(format!("read {}", self.path.join(name).display()), e))?;
        Ok(Some(buf))
    }

    fn stat(&self, name: &str) -> Option<FileStat> {
        let (parent, leaf) = self.at(name).ok()?;
        fstatat(&parent, leaf, AtFlags::AT_SYMLINK_NOFOLLOW)
            .ok()
            .filter(|st| {
                SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFREG
            })
    }

    fn unlink(&self, name: &str) -> Result<()> {
        match self.unlink_at(name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(Error::kernel(
                format!("remove {}", self.path.join(name).display()),
                e,
            )),
        }
    }

    fn unlink_quiet(&self, name: &str) {
        let _ = self.unlink_at(name, UnlinkatFlags::NoRemoveDir);
    }

    fn unlink_at(&self, rel: &str, flags: UnlinkatFlags) -> std::result::Result<(), Errno> {
        let (parent, leaf) = self.at(rel)?;
        unlinkat(&parent, leaf, flags)
    }

    /// The directory that holds `rel`'s last component, reached from the
    /// network directory without following a symlink at any step (the
    /// `*at` calls only refuse to follow the last one), and that component.
    fn at<'r>(&self, rel: &'r str) -> std::result::Result<(Parent<'_>, &'r str), Errno> {
        let Some((dirs, leaf)) = rel.rsplit_once('/') else {
            return Ok((Parent::Root(&self.dir), rel));
        };
        let mut parent = Parent::Root(&self.dir);
        for part in dirs.split('/').filter(|p| *p != "." && !p.is_empty()) {
            let next = openat(
                &parent,
                part,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?;
            parent = Parent::Sub(next);
        }
        Ok((parent, leaf))
    }

    /// Names in a subdirectory of the store that pass `filter`.
    fn list(
        &self,
        sub: &str,
        filter: impl Fn(&str, Option<nix::dir::Type>) -> bool,
    ) -> Result<Vec<(String, Option<nix::dir::Type>)>> {
        let mut dir = self
            .at(sub)
            .and_then(|(parent, leaf)| {
                Dir::openat(
                    &parent,
                    leaf,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
            })
            .map_err(|e| {
                Error::kernel(
                    format!("read directory {}", self.path.join(sub).display()),
                    e,
                )
            })?;
        let mut out = Vec::new();
        for entry in dir.iter() {
            let entry = entry.map_err(|e| {
                Error::kernel(
                    format!("read directory {}", self.path.join(sub).display()),
                    e,
                )
            })?;
            let Some(name) = utf8(entry.file_name()) else {
                continue;
            };
            if name == "." || name == ".." {
                continue;
            }
            // Some file systems report no type in the directory entry.
            let kind = entry.file_type().or_else(|| self.entry_type(sub, name));
            if filter(name, kind) {
                out.push((name.to_string(), kind));
            }
        }
        Ok(out)
    }
}

impl Store {
    fn entry_type(&self, sub: &str, name: &str) -> Option<nix::dir::Type> {
        let rel = format!("{sub}/{name}");
        let (parent, leaf) = self.at(&rel).ok()?;
        let st = fstatat(&parent, leaf, AtFlags::AT_SYMLINK_NOFOLLOW).ok()?;
        match SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) {
            SFlag::S_IFREG => Some(nix::dir::Type::File),
            SFlag::S_IFDIR => Some(nix::dir::Type::Directory),
            SFlag::S_IFLNK => Some(nix::dir::Type::Symlink),
            _ => None,
        }
    }
}

/// A directory descriptor: the network directory's, or one opened below it.
enum Parent<'a> {
    Root(&'a OwnedFd),
    Sub(OwnedFd),
}

impl AsFd for Parent<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Parent::Root(fd) => fd.as_fd(),
            Parent::Sub(fd) => fd.as_fd(),
        }
    }
}

/// `renameat2(RENAME_EXCHANGE)` of two names in `dir`: both must exist and
/// swap atomically. A raw syscall because nix offers it on glibc only.
fn exchange_at(dir: &OwnedFd, a: &str, b: &str) -> std::result::Result<(), Errno> {
    use std::os::fd::AsRawFd;
    let a = std::ffi::CString::new(a).map_err(|_| Errno::EINVAL)?;
    let b = std::ffi::CString::new(b).map_err(|_| Errno::EINVAL)?;
    let fd = dir.as_raw_fd();
    // SAFETY: two NUL-terminated paths that outlive the call, a valid fd.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            fd,
            a.as_ptr(),
            fd,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 { Ok(()) } else { Err(Errno::last()) }
}

fn utf8(c: &CStr) -> Option<&str> {
    c.to_str().ok()
}

fn open_dir_path(path: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::kernel(format!("open data dir {}", path.display()), e))
}

fn open_dir_at<Fd: AsFd>(root: &Fd, name: &str) -> std::result::Result<OwnedFd, Errno> {
    openat(
        root,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

#[cfg(test)]
#[path = "disk_tests.rs"]
mod tests;

//! The daemon's socket: the one systemd passes (socket activation,
//! `LISTEN_FDS=1` for this process), else one bound at the socket path,
//! readable by root alone (0600) or by a chosen group too (0660).

use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Group, chown};

use pkg::{Error, Result};

const SD_LISTEN_FDS_START: RawFd = 3;

pub struct Listener {
    pub listener: UnixListener,
    /// The path we bound, removed on exit; `None` under socket activation
    /// (systemd owns that socket).
    pub bound: Option<PathBuf>,
}

pub fn listen(path: &Path, group: Option<&str>) -> Result<Listener> {
    if let Some(l) = activated()? {
        return Ok(Listener {
            listener: l,
            bound: None,
        });
    }
    let gid = group.map(gid_of).transpose()?;
    if let Some(dir) = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(if gid.is_some() { 0o750 } else { 0o700 })
            .create(dir)
            .map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
        if let Some(g) = gid {
            chown(dir, None, Some(g))
                .map_err(|e| Error::kernel(format!("chown {}", dir.display()), e))?;
        }
    }
    remove_stale(path)?;
    // Bound aside, given its mode, then moved into place: the path the
    // plugins dial never has another mode (and no process-wide umask is
    // changed).
    let aside = path.with_extension(format!("{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&aside);
    let listener = UnixListener::bind(&aside)
        .map_err(|e| Error::io(format!("listen on {}", aside.display()), e))?;
    let placed = restrict(&aside, gid).and_then(|()| {
        std::fs::rename(&aside, path).map_err(|e| {
            Error::io(
                format!("rename {} to {}", aside.display(), path.display()),
                e,
            )
        })
    });
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&aside);
        return Err(e);
    }
    Ok(Listener {
        listener,
        bound: Some(path.to_path_buf()),
    })
}

/// 0600, or 0660 with group `gid`.
fn restrict(path: &Path, gid: Option<Gid>) -> Result<()> {
    if let Some(g) = gid {
        chown(path, None, Some(g))
            .map_err(|e| Error::kernel(format!("chown {}", path.display()), e))?;
    }
    let mode = if gid.is_some() { 0o660 } else { 0o600 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(format!("chmod {}", path.display()), e))
}

/// The socket systemd passed, if it passed one to this process.
fn activated() -> Result<Option<UnixListener>> {
    let Ok(fds) = std::env::var("LISTEN_FDS") else {
        return Ok(None);
    };
    if let Ok(pid) = std::env::var("LISTEN_PID")
        && pid.parse::<u32>().ok() != Some(std::process::id())
    {
        return Ok(None);
    }
    // SAFETY: single-threaded at start-up; nothing else reads these.
    unsafe {
        std::env::remove_var("LISTEN_FDS");
        std::env::remove_var("LISTEN_PID");
        std::env::remove_var("LISTEN_FDNAMES");
    }
    match fds.as_str() {
        "0" => Ok(None),
        "1" => {
            let fd = SD_LISTEN_FDS_START;
            nix::fcntl::fcntl(
                // SAFETY: fd 3 is the socket systemd passed; it stays open.
                unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) },
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            )
            .map_err(|e| Error::kernel("LISTEN_FDS=1 but fd 3 is not open", e))?;
            // SAFETY: systemd handed fd 3 to this process to own.
            Ok(Some(unsafe { UnixListener::from_raw_fd(fd) }))
        }
        n => Err(Error::internal(format!(
            "too many ({n}) fds passed through socket activation: the daemon takes one"
        ))),
    }
}

/// A socket file left by a daemon that died is removed; one a daemon
/// still answers on is not taken over.
fn remove_stale(path: &Path) -> Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !meta.file_type().is_socket() {
        return Err(Error::internal(format!(
            "{} exists and is not a socket",
            path.display()
        )));
    }
    if UnixStream::connect(path).is_ok() {
        return Err(Error::internal(format!(
            "another DHCP daemon is listening on {}",
            path.display()
        )));
    }
    std::fs::remove_file(path)
        .map_err(|e| Error::io(format!("remove the stale {}", path.display()), e))
}

fn gid_of(group: &str) -> Result<Gid> {
    if let Ok(n) = group.parse::<u32>() {
        return Ok(Gid::from_raw(n));
    }
    match Group::from_name(group) {
        Ok(Some(g)) => Ok(g.gid),
        Ok(None) => Err(Error::invalid_config(
            format!("no group {group:?}"),
            "-socketgroup takes a group name or number",
        )),
        Err(e) => Err(Error::kernel(format!("look up group {group:?}"), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_root_only_and_replaces_only_stale_sockets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/dhcp.sock");
        let first = listen(&path, None).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        let e = listen(&path, None).err().unwrap();
        assert!(e.msg().contains("another DHCP daemon"), "{e}");
        drop(first);
        // the file of a daemon that is gone is taken over
        let _second = listen(&path, None).unwrap();
        let file = dir.path().join("plain");
        std::fs::write(&file, b"").unwrap();
        assert!(
            listen(&file, None)
                .err()
                .unwrap()
                .msg()
                .contains("not a socket")
        );
        // nothing left aside
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["dhcp.sock"]);
    }
}

//! `<dataDir>/<containerID>_<ifname>.json`: what a device was on the host
//! before ADD moved it (name, MAC, MTU, up), written before the move so
//! that a DEL finds the device and restores it even when the container
//! netns is gone (the kernel returns a physical device to the root
//! namespace under the name it had inside) or the ADD was killed. The
//! device carries its original name too, in its alias (as Go's does), so
//! that a device moved by Go's plugin, of which there is no record, goes
//! back as well while its netns lives.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use pkg::netlink::Link;
use pkg::types::decode;
use pkg::{Error, Result};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Record {
    /// The device's name on the host.
    pub name: String,
    pub mac: String,
    pub mtu: u32,
    pub up: bool,
    /// A device without a link kind (a NIC's driver, not veth, macvlan,
    /// ...): the kernel returns it to the root namespace when its netns
    /// is destroyed, where a virtual one is deleted.
    pub physical: bool,
    /// DEL ran but the device had not come back from the destroyed netns
    /// (something else still held it): the record stays until a later
    /// command finds the device on the host (`returned::restore`).
    pub deleted: bool,
}

impl Record {
    pub fn of(link: &Link) -> Record {
        Record {
            name: link.name.clone(),
            mac: link.mac_string(),
            mtu: link.mtu,
            up: link.is_up(),
            physical: link.kind.is_none(),
            deleted: false,
        }
    }

    /// Whether `link`, on the host, is this device: its MAC, and either its
    /// own name or the alias ADD gave it (a device the kernel returned from
    /// a destroyed netns keeps the name it had inside).
    pub fn is(&self, link: &Link) -> bool {
        link.mac_string() == self.mac && (link.name == self.name || link.alias == self.name)
    }
}

/// A record holds four short fields; anything bigger was not written here.
const MAX_RECORD: u64 = 16 << 10;

/// `<dataDir>/<containerID>_<ifname>.json`. Both parts passed skel's
/// validation, so neither holds a `/`.
pub fn path(data_dir: &Path, container_id: &str, ifname: &str) -> PathBuf {
    data_dir.join(format!("{container_id}_{ifname}.json"))
}

/// The record at `path`, if any. A symlink or non-file planted there is
/// refused, not followed.
pub fn read(path: &Path) -> Result<Option<Record>> {
    let bytes = pkg::files::read_bounded(path, MAX_RECORD, pkg::files::Symlinks::Refuse)
        .map_err(|e| Error::io(format!("read host-device record {}", path.display()), e))?;
    bytes
        .map(|b| decode::from_slice(&b, &format!("host-device record {}", path.display())))
        .transpose()
}

/// Writes `record` to `path` (mode 0600) through a temporary file and a
/// rename, so that a reader never sees half a record.
pub fn write(path: &Path, record: &Record) -> Result<()> {
    let dir = path.parent().ok_or_else(|| {
        Error::internal(format!("record path {} has no directory", path.display()))
    })?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(format!("create directory {}", dir.display()), e))?;
    let bytes = serde_json::to_vec(record)
        .map_err(|e| Error::internal(format!("encode host-device record: {e}")))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let create = || {
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&tmp)
    };
    let result = (|| {
        let mut f = match create() {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                fs::remove_file(&tmp)?;
                create()?
            }
            other => other?,
        };
        f.write_all(&bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io(format!("write host-device record {}", path.display()), e)
    })
}

/// Removes the record at `path`, and the temporary files of writes a kill
/// interrupted; one that is gone is fine.
pub fn remove(path: &Path) -> Result<()> {
    if let (Some(dir), Some(name)) = (path.parent(), path.file_name()) {
        let prefix = format!(".{}.", name.to_string_lossy());
        for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
            let n = entry.file_name();
            let n = n.to_string_lossy();
            if n.starts_with(&prefix) && n.ends_with(".tmp") {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(
            format!("remove host-device record {}", path.display()),
            e,
        )),
        _ => Ok(()),
    }
}

/// Every record in `data_dir`, with its path; unreadable ones left out.
pub fn all(data_dir: &Path) -> Vec<(PathBuf, Record)> {
    let Ok(entries) = fs::read_dir(data_dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| Some((p.clone(), read(&p).ok()??)))
        .collect()
}

/// The record of another attachment (not `own`, a record path) that
/// `link`, a device on the host, belongs to: one the kernel returned from
/// a destroyed netns, whose DEL has not run yet. Its file name, and the
/// record.
pub fn owner_of(data_dir: &Path, own: &Path, link: &Link) -> Option<(String, Record)> {
    if link.alias.is_empty() {
        return None;
    }
    all(data_dir)
        .into_iter()
        .filter(|(p, r)| p != own && !r.deleted)
        .find_map(|(p, r)| {
            let file = p.file_stem()?.to_string_lossy().into_owned();
            (r.is(link) && link.name != r.name).then_some((file, r))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_remove() {
        let t = tempfile::tempdir().unwrap();
        let p = path(&t.path().join("sub"), "c1", "eth0");
        assert_eq!(read(&p).unwrap(), None);
        let r = Record {
            name: "ens3".into(),
            mac: "02:00:00:00:00:01".into(),
            mtu: 9000,
            up: true,
            physical: true,
            deleted: false,
        };
        write(&p, &r).unwrap();
        assert_eq!(read(&p).unwrap(), Some(r.clone()));
        write(&p, &Record { mtu: 1500, ..r }).unwrap();
        assert_eq!(read(&p).unwrap().unwrap().mtu, 1500);
        remove(&p).unwrap();
        remove(&p).unwrap();
        assert_eq!(read(&p).unwrap(), None);
        let planted = path(t.path(), "c2", "eth0");
        std::os::unix::fs::symlink("/etc/hostname", &planted).unwrap();
        assert!(read(&planted).is_err());
    }
}

//! The record of a container interface's attributes before tuning changed
//! them, restored on DEL: `<dataDir>/<containerID>_<ifname>.json` in Go's
//! format (`configToRestore`: only the attributes that were changed,
//! one-space indented), so that a backup written by either implementation
//! is restored by the other. `hostPeer` is ours; Go ignores it.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use serde::{Deserialize, Serialize};

use pkg::netlink::{Link, LinkId, Netlink};
use pkg::types::decode;
use pkg::{Context, Error, Result};

use crate::config::{TuningConf, parse_hw_addr};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Backup {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mac: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promisc: Option<bool>,
    #[serde(skip_serializing_if = "is_zero")]
    pub mtu: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allmulti: Option<bool>,
    #[serde(rename = "txQLen", skip_serializing_if = "Option::is_none")]
    pub txqlen: Option<u32>,
    /// The MTU of the host end of the veth, which ADD changed along.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_peer: Option<HostPeer>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HostPeer {
    pub name: String,
    pub index: u32,
    pub mtu: u32,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

impl Backup {
    /// The current values of the attributes `conf` is about to change.
    pub fn of(link: &Link, conf: &TuningConf) -> Backup {
        Backup {
            mac: if conf.mac.is_some() {
                link.mac_string()
            } else {
                String::new()
            },
            promisc: conf.promisc.then(|| link.is_promisc()),
            mtu: if conf.mtu.is_some() { link.mtu } else { 0 },
            allmulti: conf.allmulti.map(|_| link.is_allmulti()),
            txqlen: conf.txqlen.map(|_| link.txqlen()),
            host_peer: None,
        }
    }

    /// Fill in what `older` lacks from `self`: a second ADD without a DEL
    /// in between must not record its own changes as the originals.
    pub fn under(self, older: Backup) -> Backup {
        Backup {
            mac: if older.mac.is_empty() {
                self.mac
            } else {
                older.mac
            },
            promisc: older.promisc.or(self.promisc),
            mtu: if older.mtu == 0 { self.mtu } else { older.mtu },
            allmulti: older.allmulti.or(self.allmulti),
            txqlen: older.txqlen.or(self.txqlen),
            host_peer: older.host_peer.or(self.host_peer),
        }
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b" ");
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
        self.serialize(&mut ser)
            .map_err(|e| Error::internal(format!("encode tuning backup: {e}")))?;
        Ok(buf)
    }

    /// Go's reader is lenient (case-insensitive keys, unknown ones ignored)
    /// and so is this one.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Backup> {
        decode::from_slice(bytes, &format!("tuning backup {}", path.display()))
    }

    /// Put the container interface back, in Go's order; every attribute is
    /// attempted and the failures returned.
    pub fn restore(&self, ctr: &mut Netlink, ifname: &str) -> Vec<Error> {
        let id = LinkId::Name(ifname);
        let mut errors = Vec::new();
        if self.mtu != 0
            && let Err(e) = ctr.link_set_mtu(id, self.mtu)
        {
            errors.push(e.context("failed to restore MTU"));
        }
        if !self.mac.is_empty() {
            match parse_hw_addr(&self.mac) {
                Some(mac) => {
                    if let Err(e) = ctr.link_set_mac(id, &mac) {
                        errors.push(e.context("failed to restore MAC address"));
                    }
                }
                None => errors.push(Error::internal(format!(
                    "failed to restore MAC address: invalid address {:?} in the backup",
                    self.mac
                ))),
            }
        }
        if let Some(on) = self.promisc
            && let Err(e) = ctr.link_set_promisc(id, on)
        {
            errors.push(e.context("failed to restore promiscuous mode"));
        }
        if let Some(on) = self.allmulti
            && let Err(e) = ctr.link_set_allmulti(id, on)
        {
            errors.push(e.context("failed to restore all-multicast mode"));
        }
        if let Some(len) = self.txqlen
            && let Err(e) = ctr.link_set_txqlen(id, len)
        {
            errors.push(e.context("failed to restore transmit queue length"));
        }
        errors
    }

    /// The host end's MTU, if it is still the same link; a veth that is
    /// already gone needs nothing.
    pub fn restore_host_peer(&self, host: &mut Netlink) -> Result<()> {
        let Some(peer) = &self.host_peer else {
            return Ok(());
        };
        match host.link_find(LinkId::Index(peer.index))? {
            Some(l) if l.name == peer.name => host
                .link_set_mtu(LinkId::Index(peer.index), peer.mtu)
                .with_context(|| {
                    format!("failed to restore the MTU of host interface {}", peer.name)
                }),
            _ => Ok(()),
        }
    }
}

/// A backup holds five attributes; anything bigger was not written by
/// tuning.
const MAX_BACKUP: u64 = 64 << 10;

/// The backup at `path`, if any. A symlink, FIFO or other non-file planted
/// there is refused, not followed.
pub fn read(path: &Path) -> Result<Option<Vec<u8>>> {
    pkg::files::read_bounded(path, MAX_BACKUP, pkg::files::Symlinks::Refuse)
        .map_err(|e| Error::io(format!("read tuning backup {}", path.display()), e))
}

/// Write `bytes` to `path` (mode 0600) through a temporary file and a
/// rename, so that a reader never sees half a backup. The temporary file is
/// created new (a symlink planted under its name is removed, not written
/// through) and the rename replaces whatever sits at `path` itself.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().ok_or_else(|| {
        Error::internal(format!("backup path {} has no directory", path.display()))
    })?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(format!("create backup directory {}", dir.display()), e))?;
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
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io(format!("write tuning backup {}", path.display()), e)
    })
}

/// Remove the backup; one that is already gone is fine.
pub fn remove(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(
            format!("remove tuning backup {}", path.display()),
            e,
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_format_both_ways() {
        // What Go's tuning writes (json.MarshalIndent with one space).
        let go = "{\n \"mac\": \"0e:00:00:00:00:01\",\n \"promisc\": false,\n \"mtu\": 1500,\n \"allmulti\": false,\n \"txQLen\": 1000\n}";
        let b = Backup::from_bytes(go.as_bytes(), Path::new("x")).unwrap();
        assert_eq!(
            b,
            Backup {
                mac: "0e:00:00:00:00:01".into(),
                promisc: Some(false),
                mtu: 1500,
                allmulti: Some(false),
                txqlen: Some(1000),
                host_peer: None,
            }
        );
        assert_eq!(String::from_utf8(b.to_bytes().unwrap()).unwrap(), go);
        let only_mtu = Backup {
            mtu: 9000,
            ..Default::default()
        };
        assert_eq!(
            String::from_utf8(only_mtu.to_bytes().unwrap()).unwrap(),
            "{\n \"mtu\": 9000\n}"
        );
        // Go 1.1.1 has no txQLen and may spell keys in any case
        let b = Backup::from_bytes(b"{\"MTU\": 1400, \"Promisc\": true}", Path::new("x")).unwrap();
        assert_eq!((b.mtu, b.promisc, b.txqlen), (1400, Some(true), None));
        assert!(Backup::from_bytes(b"{\"mtu\": \"x\"}", Path::new("x")).is_err());
        assert!(Backup::from_bytes(b"garbage", Path::new("x")).is_err());
    }

    #[test]
    fn older_values_win() {
        let first = Backup {
            mtu: 1500,
            promisc: Some(false),
            ..Default::default()
        };
        let second = Backup {
            mtu: 1400,
            mac: "0e:00:00:00:00:09".into(),
            ..Default::default()
        };
        let merged = second.under(first);
        assert_eq!(merged.mtu, 1500);
        assert_eq!(merged.promisc, Some(false));
        assert_eq!(merged.mac, "0e:00:00:00:00:09");
    }

    #[test]
    fn files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/c1_eth0.json");
        assert_eq!(read(&path).unwrap(), None);
        write(&path, b"{}").unwrap();
        assert_eq!(read(&path).unwrap(), Some(b"{}".to_vec()));
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
        remove(&path).unwrap();
        remove(&path).unwrap();
    }

    #[test]
    fn planted_files_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        let path = dir.path().join("c1_eth0.json");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        let e = read(&path).unwrap_err();
        assert!(e.to_string().contains("symlink"), "{e}");
        // the temporary file's name, planted too
        let tmp = dir
            .path()
            .join(format!(".c1_eth0.json.{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&victim, &tmp).unwrap();
        write(&path, b"{}").unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert_eq!(read(&path).unwrap(), Some(b"{}".to_vec()));
        assert!(!tmp.exists());
    }
}

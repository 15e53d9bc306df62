//! The daemon's leases on disk: one JSON file in the state directory,
//! replaced whole (written aside, synced, renamed) on every change, so
//! that a restarted daemon holds and renews every attachment's address.
//! At node scale (tens of leases) rewriting the file is cheap.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use pkg::{Error, Result};

use crate::lease::Lease;
use crate::options::Options;
use crate::rpc::Key;

const FILE: &str = "leases.json";

/// One attachment's lease and what is needed to keep it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub key: Key,
    /// The container's netns as the plugin sent it (before `-hostprefix`).
    pub netns: String,
    pub options: Options,
    pub lease: Lease,
}

pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The store in `dir`, made (0700) when missing.
    pub fn open(dir: &Path) -> Result<Store> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::io(format!("create the state directory {}", dir.display()), e))?;
        Ok(Store {
            dir: dir.to_path_buf(),
        })
    }

    /// Every stored record; a file that does not parse is reported and
    /// set aside (renamed `.bad`) rather than stopping the daemon.
    pub fn load(&self) -> Vec<Record> {
        let path = self.dir.join(FILE);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
            Err(e) => {
                eprintln!(
                    "cannot read {}: {e}; starting without leases",
                    path.display()
                );
                return Vec::new();
            }
        };
        match serde_json::from_slice(&bytes) {
            Ok(records) => records,
            Err(e) => {
                eprintln!(
                    "{} does not parse ({e}); moved aside as {FILE}.bad",
                    path.display()
                );
                let _ = fs::rename(&path, self.dir.join(format!("{FILE}.bad")));
                Vec::new()
            }
        }
    }

    pub fn save(&self, records: &[Record]) -> Result<()> {
        let path = self.dir.join(FILE);
        let tmp = self.dir.join(format!(".{FILE}.tmp"));
        let write = || -> std::io::Result<()> {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&serde_json::to_vec_pretty(records).map_err(std::io::Error::other)?)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)
        };
        write().map_err(|e| Error::io(format!("write {}", path.display()), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn record(id: &str) -> Record {
        Record {
            key: Key {
                container_id: id.into(),
                network: "n".into(),
                ifname: "eth0".into(),
            },
            netns: "/run/netns/x".into(),
            options: Options {
                request: vec![1, 3],
                provide: vec![(12, b"h".to_vec())],
            },
            lease: Lease {
                address: Ipv4Addr::new(10, 0, 0, 9),
                prefix_len: 24,
                server: Ipv4Addr::new(10, 0, 0, 1),
                routers: vec![],
                static_routes: vec![],
                classless_routes: vec![],
                dns_servers: vec![],
                domain: String::new(),
                lease_secs: 120,
                renew_secs: 60,
                rebind_secs: 105,
                acquired: 5,
            },
        }
    }

    #[test]
    fn keeps_records_across_opens() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let s = Store::open(&state).unwrap();
        assert!(s.load().is_empty());
        s.save(&[record("a"), record("b")]).unwrap();
        assert_eq!(
            Store::open(&state).unwrap().load(),
            [record("a"), record("b")]
        );
        s.save(&[]).unwrap();
        assert!(s.load().is_empty());
    }

    #[test]
    fn sets_a_corrupt_file_aside() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        fs::write(dir.path().join(FILE), b"{not json").unwrap();
        assert!(s.load().is_empty());
        assert!(dir.path().join("leases.json.bad").exists());
    }
}

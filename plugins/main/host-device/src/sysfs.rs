//! What sysfs says about a device chosen by `kernelpath`, `pciBusID` or
//! `deviceID`: the name of its network interface, or that a userspace
//! driver (DPDK) holds it and there is no interface to move. The root is a
//! parameter so that the unit tests decide against a fake tree.

use std::fs;
use std::path::{Path, PathBuf};

use pkg::{Error, Result};

use crate::config::Selector;

/// The drivers that bind a PCI function for a userspace data plane: the
/// kernel has no network interface for it (Go's list).
pub const USERSPACE_DRIVERS: [&str; 3] = ["vfio-pci", "uio_pci_generic", "igb_uio"];

/// What a selector names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A kernel network interface of the host, by name (or, for `hwaddr`,
    /// by MAC: netlink finds it).
    Netdev(String),
    HwAddr([u8; 6]),
    /// A PCI function bound to a userspace driver: nothing to move, and
    /// IPAM's addresses are only reported (Go's DPDK mode).
    Userspace {
        pci: String,
        driver: String,
    },
}

/// A sysfs tree: `/sys` for the plugin, a temporary directory in tests.
#[derive(Debug, Clone)]
pub struct Sysfs {
    root: PathBuf,
}

impl Sysfs {
    pub fn system() -> Sysfs {
        Sysfs::at("/sys")
    }

    pub fn at(root: impl Into<PathBuf>) -> Sysfs {
        Sysfs { root: root.into() }
    }

    fn pci(&self, id: &str) -> PathBuf {
        self.root.join("bus/pci/devices").join(id)
    }

    fn aux(&self, id: &str) -> PathBuf {
        self.root.join("bus/auxiliary/devices").join(id)
    }

    /// The target of `sel`; errors name the device and say why the plugin
    /// cannot act on it.
    pub fn resolve(&self, sel: &Selector) -> Result<Target> {
        match sel {
            Selector::Device(name) => Ok(Target::Netdev(name.clone())),
            Selector::HwAddr(mac) => Ok(Target::HwAddr(*mac)),
            Selector::KernelPath(path) => {
                let rel = path.strip_prefix("/sys/").unwrap_or(path);
                let dir = self.root.join(rel);
                if !dir.is_dir() {
                    return Err(not_found(format!(
                        "kernel device path {path} does not exist"
                    )));
                }
                first_netdev(&dir.join("net"))
                    .map(Target::Netdev)
                    .ok_or_else(|| not_found(format!("no network interface under {path}/net")))
            }
            Selector::PciBusId(id) => self.pci_target(id),
            Selector::DeviceId(id) => {
                if self.pci(id).exists() {
                    self.pci_target(id)
                } else if self.aux(id).exists() {
                    first_netdev(&self.aux(id).join("net"))
                        .map(Target::Netdev)
                        .ok_or_else(|| {
                            not_found(format!(
                                "auxiliary device {id} has no network interface (its driver exposes none)"
                            ))
                        })
                } else {
                    Err(not_found(format!(
                        "runtime config DeviceID {id} not found or unsupported"
                    )))
                }
            }
        }
    }

    /// A PCI function: its interface (directly under `net/`, or under a
    /// virtio device's `net/`), or the userspace driver holding it.
    fn pci_target(&self, id: &str) -> Result<Target> {
        let dir = self.pci(id);
        if !dir.exists() {
            return Err(not_found(format!("PCI device {id} does not exist")));
        }
        let driver = fs::read_link(dir.join("driver"))
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
        if let Some(d) = &driver
            && USERSPACE_DRIVERS.contains(&d.as_str())
        {
            return Ok(Target::Userspace {
                pci: id.to_string(),
                driver: d.clone(),
            });
        }
        if let Some(name) = first_netdev(&dir.join("net")) {
            return Ok(Target::Netdev(name));
        }
        let virtio = sorted_entries(&dir)
            .into_iter()
            .filter(|n| n.starts_with("virtio"))
            .find_map(|n| first_netdev(&dir.join(n).join("net")));
        if let Some(name) = virtio {
            return Ok(Target::Netdev(name));
        }
        Err(not_found(match driver {
            None => format!("PCI device {id} has no driver bound, so no network interface"),
            Some(d) => format!(
                "PCI device {id} (driver {d}) has no network interface: the driver is not a network driver, or its interface is in another network namespace"
            ),
        }))
    }
}

fn not_found(msg: String) -> Error {
    Error::internal(format!("failed to find host device: {msg}"))
}

fn sorted_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The first interface under a `net/` directory, in name order (Go reads
/// the directory sorted and takes the first).
fn first_netdev(net: &Path) -> Option<String> {
    sorted_entries(net).into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A fake /sys: a virtio NIC, a NIC with its own net/, one bound to
    /// vfio-pci, one with no driver, one bound to a non-network driver, an
    /// auxiliary device with an interface and one without.
    fn tree() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        let mk = |p: &str| fs::create_dir_all(r.join(p)).unwrap();
        let drv = |dev: &str, name: &str| {
            mk(&format!("bus/pci/drivers/{name}"));
            symlink(
                r.join(format!("bus/pci/drivers/{name}")),
                r.join(format!("bus/pci/devices/{dev}/driver")),
            )
            .unwrap();
        };
        mk("devices/pci0000:00/0000:00:03.0/virtio0/net/eth0");
        mk("bus/pci/devices");
        symlink(
            r.join("devices/pci0000:00/0000:00:03.0"),
            r.join("bus/pci/devices/0000:00:03.0"),
        )
        .unwrap();
        drv("0000:00:03.0", "virtio-pci");
        for (dev, net) in [
            ("0000:3b:00.1", Some("ens1f1")),
            ("0000:3b:02.0", None),
            ("0000:3b:02.1", None),
            ("0000:3b:02.2", None),
        ] {
            mk(&format!("bus/pci/devices/{dev}"));
            if let Some(n) = net {
                mk(&format!("bus/pci/devices/{dev}/net/{n}"));
                mk(&format!("bus/pci/devices/{dev}/net/{n}z"));
            }
        }
        drv("0000:3b:00.1", "ice");
        drv("0000:3b:02.0", "vfio-pci");
        drv("0000:3b:02.2", "nvme");
        mk("bus/auxiliary/devices/mlx5_core.sf.2/net/enp3s0f0s2");
        mk("bus/auxiliary/devices/mlx5_core.rdma.0");
        t
    }

    #[test]
    fn decisions_against_a_fake_tree() {
        let t = tree();
        let sys = Sysfs::at(t.path());
        let net = |n: &str| Ok(Target::Netdev(n.into()));
        let cases: Vec<(Selector, std::result::Result<Target, &str>)> = vec![
            (Selector::PciBusId("0000:00:03.0".into()), net("eth0")),
            (Selector::PciBusId("0000:3b:00.1".into()), net("ens1f1")),
            (
                Selector::PciBusId("0000:3b:02.0".into()),
                Ok(Target::Userspace {
                    pci: "0000:3b:02.0".into(),
                    driver: "vfio-pci".into(),
                }),
            ),
            (
                Selector::PciBusId("0000:3b:02.1".into()),
                Err("has no driver bound"),
            ),
            (
                Selector::PciBusId("0000:3b:02.2".into()),
                Err("(driver nvme) has no network interface"),
            ),
            (
                Selector::PciBusId("0000:99:00.0".into()),
                Err("PCI device 0000:99:00.0 does not exist"),
            ),
            (Selector::DeviceId("0000:3b:00.1".into()), net("ens1f1")),
            (
                Selector::DeviceId("0000:3b:02.0".into()),
                Ok(Target::Userspace {
                    pci: "0000:3b:02.0".into(),
                    driver: "vfio-pci".into(),
                }),
            ),
            (
                Selector::DeviceId("mlx5_core.sf.2".into()),
                net("enp3s0f0s2"),
            ),
            (
                Selector::DeviceId("mlx5_core.rdma.0".into()),
                Err("auxiliary device mlx5_core.rdma.0 has no network interface"),
            ),
            (
                Selector::DeviceId("nothing.0".into()),
                Err("runtime config DeviceID nothing.0 not found or unsupported"),
            ),
            (
                Selector::KernelPath("/sys/devices/pci0000:00/0000:00:03.0/virtio0".into()),
                net("eth0"),
            ),
            (
                Selector::KernelPath("/sys/devices/pci0000:00/0000:00:03.0".into()),
                Err("no network interface under /sys/devices/pci0000:00/0000:00:03.0/net"),
            ),
            (
                Selector::KernelPath("/sys/devices/pci0000:00/0000:00:09.0".into()),
                Err("does not exist"),
            ),
            (Selector::Device("eth9".into()), net("eth9")),
            (
                Selector::HwAddr([2, 0, 0, 0, 0, 1]),
                Ok(Target::HwAddr([2, 0, 0, 0, 0, 1])),
            ),
        ];
        for (sel, want) in cases {
            let got = sys.resolve(&sel);
            match (want, got) {
                (Ok(w), Ok(g)) => assert_eq!(g, w, "{sel:?}"),
                (Err(w), Err(e)) => {
                    assert!(e.msg().starts_with("failed to find host device: "), "{e:?}");
                    assert!(e.msg().contains(w), "{sel:?}: {e:?}");
                }
                (w, g) => panic!("{sel:?}: wanted {w:?}, got {g:?}"),
            }
        }
    }
}

//! host-device's configuration: decoded and validated before anything is
//! touched. The selector is only checked for form here; sysfs and the
//! kernel are asked later (ADD, CHECK).

use std::path::PathBuf;

use serde::Deserialize;

use pkg::skel::CmdArgs;
use pkg::types::{Dns, decode, parse_mac};
use pkg::{Error, Result};

/// Where the records of moved devices live unless `dataDir` says
/// otherwise: a tmpfs, since after a reboot every device is back on the
/// host under its own name and there is nothing to restore.
pub const DEFAULT_DATA_DIR: &str = "/run/cni/host-device";

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Raw {
    device: String,
    hwaddr: String,
    kernelpath: String,
    #[serde(rename = "pciBusID")]
    pci_bus_id: String,
    data_dir: String,
    dns: Dns,
    runtime_config: RuntimeRaw,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct RuntimeRaw {
    #[serde(rename = "deviceID")]
    device_id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct DataDirRaw {
    data_dir: String,
}

/// How the device is chosen: exactly one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// `device`: its name on the host.
    Device(String),
    /// `hwaddr`: its MAC.
    HwAddr([u8; 6]),
    /// `kernelpath`: its directory under `/sys/devices/`.
    KernelPath(String),
    /// `pciBusID`: the PCI address of the function.
    PciBusId(String),
    /// `runtimeConfig.deviceID`: a PCI address or an auxiliary device.
    DeviceId(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostDeviceConf {
    pub selector: Selector,
    pub data_dir: PathBuf,
    pub dns: Dns,
    pub layer3: bool,
}

const ONE_OF: &str = r#"specify exactly one of "device", "hwaddr", "kernelpath", "pciBusID" or runtimeConfig "deviceID""#;

impl HostDeviceConf {
    /// Everything that needs no kernel: for ADD and CHECK.
    pub fn load(args: &CmdArgs) -> Result<HostDeviceConf> {
        let raw: Raw = decode::decode(&args.config, "network config")?;
        let given: Vec<(&str, &String)> = [
            ("device", &raw.device),
            ("hwaddr", &raw.hwaddr),
            ("kernelpath", &raw.kernelpath),
            ("pciBusID", &raw.pci_bus_id),
            ("runtimeConfig.deviceID", &raw.runtime_config.device_id),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
        let selector = match given.as_slice() {
            [] => {
                return Err(Error::invalid_config(
                    r#"specify either "device", "hwaddr", "kernelpath" or "pciBusID""#,
                    ONE_OF,
                ));
            }
            [(key, value)] => selector(key, value)?,
            more => {
                let keys: Vec<&str> = more.iter().map(|(k, _)| *k).collect();
                return Err(Error::invalid_config(
                    format!("more than one device selector given: {}", keys.join(", ")),
                    ONE_OF,
                ));
            }
        };
        raw.dns.check("dns")?;
        Ok(HostDeviceConf {
            selector,
            data_dir: checked_data_dir(&raw.data_dir)?,
            dns: raw.dns,
            layer3: args.conf.ipam_type().is_some(),
        })
    }
}

/// For DEL, which reads nothing else of the config: where records are.
pub fn data_dir(args: &CmdArgs) -> Result<PathBuf> {
    let raw: DataDirRaw = decode::decode(&args.config, "network config")?;
    checked_data_dir(&raw.data_dir)
}

fn checked_data_dir(dir: &str) -> Result<PathBuf> {
    if dir.is_empty() {
        return Ok(PathBuf::from(DEFAULT_DATA_DIR));
    }
    pkg::validate::data_dir("dataDir", dir)?;
    Ok(PathBuf::from(dir))
}

fn selector(key: &str, value: &str) -> Result<Selector> {
    match key {
        "device" => {
            pkg::validate::interface_name(value).map_err(|e| {
                Error::invalid_config(
                    format!("invalid device name {value:?}: {}", e.msg()),
                    e.details(),
                )
            })?;
            Ok(Selector::Device(value.to_string()))
        }
        "hwaddr" => Ok(Selector::HwAddr(parse_mac(value)?)),
        "kernelpath" => {
            let bad = !value.starts_with("/sys/devices/")
                || value.split('/').any(|c| c == "." || c == "..")
                || value.chars().any(char::is_control);
            if bad {
                return Err(Error::invalid_config(
                    format!(
                        "kernel device path {value:?} must be absolute and begin with /sys/devices/"
                    ),
                    "the path of the device's directory, without . or .. components",
                ));
            }
            Ok(Selector::KernelPath(value.to_string()))
        }
        "pciBusID" => {
            sysfs_name(key, value)?;
            Ok(Selector::PciBusId(value.to_string()))
        }
        _ => {
            sysfs_name(key, value)?;
            Ok(Selector::DeviceId(value.to_string()))
        }
    }
}

/// A PCI address or auxiliary device name is one entry of a sysfs
/// directory: no `/`, not `.` or `..`, nothing a shell or log would
/// mangle.
fn sysfs_name(key: &str, value: &str) -> Result<()> {
    let ok = value.len() <= 255
        && value != "."
        && value != ".."
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_config(
            format!("invalid {key} {value:?}"),
            "a PCI address such as 0000:00:03.0, or an auxiliary device such as mlx5_core.sf.2",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pkg::skel::{Command, NetnsArg};
    use pkg::types::{NetConf, Version};
    use serde_json::{Value, json};

    fn load(keys: Value) -> Result<HostDeviceConf> {
        let mut config = json!({"cniVersion": "1.0.0", "name": "hd", "type": "host-device"});
        for (k, v) in keys.as_object().unwrap() {
            config[k] = v.clone();
        }
        let args = CmdArgs {
            command: Command::Add,
            container_id: "c1".into(),
            netns_path: String::new(),
            netns: NetnsArg::Unset,
            ifname: "eth0".into(),
            args: String::new(),
            path: String::new(),
            conf: NetConf::from_value(&config).unwrap(),
            stdin: config.to_string().into_bytes(),
            config,
            version: Version::V1_0_0,
            env: Vec::new(),
        };
        HostDeviceConf::load(&args)
    }

    #[test]
    fn selectors() {
        let cases = [
            (json!({"device": "eth5"}), Selector::Device("eth5".into())),
            (
                json!({"hwaddr": "02:00:00:00:00:01"}),
                Selector::HwAddr([2, 0, 0, 0, 0, 1]),
            ),
            (
                json!({"kernelpath": "/sys/devices/pci0000:00/0000:00:03.0/virtio0"}),
                Selector::KernelPath("/sys/devices/pci0000:00/0000:00:03.0/virtio0".into()),
            ),
            (
                json!({"pciBusID": "0000:00:03.0"}),
                Selector::PciBusId("0000:00:03.0".into()),
            ),
            (
                json!({"runtimeConfig": {"deviceID": "mlx5_core.sf.2"}}),
                Selector::DeviceId("mlx5_core.sf.2".into()),
            ),
            // Go's key matching: case folded
            (json!({"Device": "eth5"}), Selector::Device("eth5".into())),
        ];
        for (keys, want) in cases {
            let c = load(keys.clone()).unwrap_or_else(|e| panic!("{keys}: {e:?}"));
            assert_eq!(c.selector, want, "{keys}");
            assert_eq!(c.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
            assert!(!c.layer3);
        }
    }

    #[test]
    fn refusals() {
        let cases = [
            (json!({}), r#"specify either "device""#),
            (json!({"device": ""}), r#"specify either "device""#),
            (
                json!({"device": "eth5", "pciBusID": "0000:00:03.0"}),
                "more than one device selector given: device, pciBusID",
            ),
            (
                json!({"hwaddr": "02:00:00:00:00:01", "runtimeConfig": {"deviceID": "0000:00:03.0"}}),
                "more than one device selector given: hwaddr, runtimeConfig.deviceID",
            ),
            (json!({"device": "a/b"}), "invalid device name"),
            (json!({"device": "sixteen-chars-xx"}), "invalid device name"),
            (json!({"hwaddr": "nope"}), "MAC"),
            (json!({"kernelpath": "devices/x"}), "must be absolute"),
            (
                json!({"kernelpath": "/sys/class/net/eth0"}),
                "must be absolute",
            ),
            (
                json!({"kernelpath": "/sys/devices/../../etc"}),
                "must be absolute",
            ),
            (json!({"pciBusID": "../../../etc"}), "invalid pciBusID"),
            (json!({"pciBusID": ".."}), "invalid pciBusID"),
            (
                json!({"runtimeConfig": {"deviceID": "a/b"}}),
                "invalid runtimeConfig.deviceID",
            ),
            (json!({"device": "eth5", "dataDir": "rel"}), "dataDir"),
            (json!({"device": 5}), "failed to parse network config"),
        ];
        for (keys, want) in cases {
            let e = load(keys.clone()).expect_err(&keys.to_string());
            assert!(
                format!("{} {}", e.msg(), e.details()).contains(want),
                "{keys}: {e:?}"
            );
            assert!(matches!(e.code(), 6 | 7), "{keys}: {e:?}");
        }
    }

    #[test]
    fn data_dir_and_ipam() {
        let c = load(json!({"device": "eth5", "dataDir": "/tmp/hd", "ipam": {"type": "static"}}))
            .unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/tmp/hd"));
        assert!(c.layer3);
    }
}

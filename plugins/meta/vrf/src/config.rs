//! vrf's configuration: the VRF's name (`vrfname`, required) and its
//! routing table (`table`, 0 or absent: the first free one), validated
//! before anything is touched.

use serde::Deserialize;
use serde_json::Value;

use pkg::skel::CmdArgs;
use pkg::types::decode;
use pkg::{Error, Result};

/// Routing tables the kernel reserves (default, main, local): a VRF on
/// one of them would take over the namespace's own routing.
pub const RESERVED_TABLES: [u32; 3] = [253, 254, 255];

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Raw {
    vrfname: String,
    table: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrfConf {
    pub name: String,
    /// `None`: an existing VRF keeps its table, a new one gets the first
    /// table no other VRF of the namespace uses.
    pub table: Option<u32>,
}

impl VrfConf {
    /// For ADD and CHECK: everything validated.
    pub fn load(args: &CmdArgs) -> Result<VrfConf> {
        VrfConf::from_value(&args.config)
    }

    pub fn from_value(config: &Value) -> Result<VrfConf> {
        let raw: Raw = decode::decode(config, "network config")?;
        if raw.vrfname.is_empty() {
            // Go's words.
            return Err(Error::invalid_config(
                "configuration is expected to have a valid vrf name",
                "",
            ));
        }
        pkg::validate::interface_name(&raw.vrfname).map_err(|e| {
            Error::invalid_config(
                format!("invalid vrfname {:?}: {}", raw.vrfname, e.msg()),
                e.details(),
            )
        })?;
        let table = u32::try_from(raw.table).map_err(|_| {
            Error::invalid_config(
                format!(
                    "invalid table {} (must be between 0 and {}; 0 picks a free one)",
                    raw.table,
                    u32::MAX
                ),
                "",
            )
        })?;
        if RESERVED_TABLES.contains(&table) {
            return Err(Error::invalid_config(
                format!(
                    "invalid table {table}: tables 253, 254 and 255 are the kernel's default, main and local tables"
                ),
                "",
            ));
        }
        Ok(VrfConf {
            name: raw.vrfname,
            table: (table != 0).then_some(table),
        })
    }

    /// For DEL: the VRF's name, or `None` when no VRF of that name can
    /// exist (empty or not an interface name), so that there is nothing
    /// to release. Nothing else may stop a DEL.
    pub fn name_for_del(args: &CmdArgs) -> Result<Option<String>> {
        let raw: Raw = decode::decode(&args.config, "network config")?;
        Ok(pkg::validate::interface_name(&raw.vrfname)
            .ok()
            .map(|()| raw.vrfname))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn valid() {
        let cases = [
            (json!({"vrfname": "red"}), "red", None),
            (json!({"vrfname": "red", "table": 0}), "red", None),
            (json!({"vrfname": "red", "table": 100}), "red", Some(100)),
            (json!({"VRFName": "blue", "Table": 7}), "blue", Some(7)),
            (json!({"vrfname": "red", "table": null}), "red", None),
            (
                json!({"vrfname": "red", "table": 4294967295u64}),
                "red",
                Some(u32::MAX),
            ),
            (json!({"vrfname": "red", "table": 252}), "red", Some(252)),
            (json!({"vrfname": "red", "table": 256}), "red", Some(256)),
        ];
        for (config, name, table) in cases {
            let c = VrfConf::from_value(&config).unwrap();
            assert_eq!(
                c,
                VrfConf {
                    name: name.into(),
                    table
                },
                "{config}"
            );
        }
    }

    #[test]
    fn invalid() {
        let cases = [
            (
                json!({}),
                7,
                "configuration is expected to have a valid vrf name",
            ),
            (
                json!({"vrfname": ""}),
                7,
                "configuration is expected to have a valid vrf name",
            ),
            (
                json!({"vrfname": "a-name-too-long-for-linux"}),
                7,
                "invalid vrfname",
            ),
            (json!({"vrfname": "a/b"}), 7, "invalid vrfname"),
            (
                json!({"vrfname": "red", "table": -1}),
                7,
                "invalid table -1",
            ),
            (
                json!({"vrfname": "red", "table": 4294967296u64}),
                7,
                "invalid table 4294967296",
            ),
            (
                json!({"vrfname": "red", "table": 254}),
                7,
                "invalid table 254",
            ),
            (
                json!({"vrfname": "red", "table": 255}),
                7,
                "invalid table 255",
            ),
            (
                json!({"vrfname": "red", "table": 253}),
                7,
                "invalid table 253",
            ),
            (json!({"vrfname": "red", "table": "10"}), 6, ""),
            (json!({"vrfname": "red", "table": 1.5}), 6, ""),
            (json!({"vrfname": 5}), 6, ""),
        ];
        for (config, code, msg) in cases {
            let e = VrfConf::from_value(&config).unwrap_err();
            assert_eq!(e.code(), code, "{config}: {e}");
            assert!(e.msg().contains(msg), "{config}: {e}");
        }
    }
}

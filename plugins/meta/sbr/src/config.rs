//! sbr's configuration: a fixed routing table (`table`), static gateways
//! (`gateways`, at most one per family) and `addSourceHints`, validated
//! before anything is touched (Go checks the gateways only once it has
//! started changing the namespace).

use std::net::IpAddr;

use serde::Deserialize;
use serde_json::Value;

use pkg::types::decode;
use pkg::{Error, Result};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Raw {
    table: Option<i64>,
    gateways: Vec<String>,
    add_source_hints: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SbrConf {
    /// Set: only the rules, to this table, and no route moved. Unset: a
    /// table per address, the first free one from 100.
    pub table: Option<u32>,
    /// The gateway of the default route in an address's table, per family,
    /// instead of the address's own gateway.
    pub gateway_v4: Option<IpAddr>,
    pub gateway_v6: Option<IpAddr>,
    /// Keep the subnet routes in the main table with the address as their
    /// source hint, and remove only the others.
    pub add_source_hints: bool,
}

impl SbrConf {
    pub fn from_value(config: &Value) -> Result<SbrConf> {
        let raw: Raw = decode::decode(config, "network config")?;
        let table = match raw.table {
            None => None,
            Some(t) if t > 0 && t <= i64::from(u32::MAX) => Some(t as u32),
            Some(t) => {
                return Err(Error::invalid_config(
                    format!("invalid table {t}: must be between 1 and {}", u32::MAX),
                    "leave \"table\" out to give each address the first free table from 100",
                ));
            }
        };
        if raw.gateways.len() > 2 {
            // Go's words.
            return Err(Error::invalid_config(
                "gateways list cannot contain more than 2 entries (one IPv4, one IPv6)",
                "",
            ));
        }
        let mut conf = SbrConf {
            table,
            add_source_hints: raw.add_source_hints,
            ..SbrConf::default()
        };
        for gw in &raw.gateways {
            let ip: IpAddr = gw.parse().map_err(|_| {
                Error::invalid_config(format!("invalid static gateway IP address: {gw:?}"), "")
            })?;
            let (slot, family) = match ip {
                IpAddr::V4(_) => (&mut conf.gateway_v4, "IPv4"),
                IpAddr::V6(_) => (&mut conf.gateway_v6, "IPv6"),
            };
            if let Some(first) = slot {
                return Err(Error::invalid_config(
                    format!("gateways list contains multiple {family} addresses: {first} and {ip}"),
                    "",
                ));
            }
            *slot = Some(ip);
        }
        Ok(conf)
    }

    /// For DEL: the table if the config gives a valid one. Nothing else
    /// of the config matters to DEL, and nothing in it may stop one.
    pub fn table_for_del(config: &Value) -> Option<u32> {
        SbrConf::from_value(config).ok().and_then(|c| c.table)
    }

    /// The gateway for the default route of `ip`'s table: the configured
    /// one of its family, else the result's.
    pub fn gateway_for(&self, ip: IpAddr, result_gw: Option<IpAddr>) -> Option<IpAddr> {
        match ip {
            IpAddr::V4(_) => self.gateway_v4,
            IpAddr::V6(_) => self.gateway_v6,
        }
        .or(result_gw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn valid() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let cases = [
            (json!({}), SbrConf::default()),
            (
                json!({"table": 100}),
                SbrConf {
                    table: Some(100),
                    ..SbrConf::default()
                },
            ),
            (
                json!({"Table": 4294967295u64, "addSourceHints": true}),
                SbrConf {
                    table: Some(u32::MAX),
                    add_source_hints: true,
                    ..SbrConf::default()
                },
            ),
            (
                json!({"table": null, "gateways": ["fd00::1", "10.0.0.1"]}),
                SbrConf {
                    gateway_v4: ip("10.0.0.1"),
                    gateway_v6: ip("fd00::1"),
                    ..SbrConf::default()
                },
            ),
        ];
        for (config, want) in cases {
            assert_eq!(SbrConf::from_value(&config).unwrap(), want, "{config}");
        }
        let c = SbrConf::from_value(&json!({"gateways": ["10.0.0.254"]})).unwrap();
        assert_eq!(
            c.gateway_for("10.0.0.2".parse().unwrap(), ip("10.0.0.1")),
            ip("10.0.0.254")
        );
        assert_eq!(
            c.gateway_for("fd00::2".parse().unwrap(), ip("fd00::1")),
            ip("fd00::1")
        );
        assert_eq!(c.gateway_for("fd00::2".parse().unwrap(), None), None);
    }

    #[test]
    fn invalid() {
        let cases = [
            (
                json!({"table": -1}),
                7,
                "invalid table -1: must be between 1 and 4294967295",
            ),
            (json!({"table": 0}), 7, "invalid table 0"),
            (
                json!({"table": 4294967296u64}),
                7,
                "invalid table 4294967296",
            ),
            (json!({"table": "100"}), 6, "network config"),
            (json!({"table": 1.5}), 6, "network config"),
            (
                json!({"gateways": ["10.0.0.1", "fd00::1", "10.0.0.2"]}),
                7,
                "gateways list cannot contain more than 2 entries",
            ),
            (
                json!({"gateways": ["10.0.0.1", "10.0.0.2"]}),
                7,
                "gateways list contains multiple IPv4 addresses: 10.0.0.1 and 10.0.0.2",
            ),
            (
                json!({"gateways": ["fd00::1", "fd00::2"]}),
                7,
                "multiple IPv6 addresses",
            ),
            (
                json!({"gateways": ["10.0.0.1/24"]}),
                7,
                "invalid static gateway IP address: \"10.0.0.1/24\"",
            ),
            (json!({"gateways": "10.0.0.1"}), 6, "network config"),
            (json!({"addSourceHints": "yes"}), 6, "network config"),
        ];
        for (config, code, msg) in cases {
            let e = SbrConf::from_value(&config).unwrap_err();
            assert_eq!(e.code(), code, "{config}: {e}");
            assert!(e.msg().contains(msg), "{config}: {e}");
        }
        assert_eq!(SbrConf::table_for_del(&json!({"table": -1})), None);
        assert_eq!(SbrConf::table_for_del(&json!({"table": 7})), Some(7));
    }
}

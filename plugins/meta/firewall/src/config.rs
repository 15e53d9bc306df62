//! firewall's configuration (Documentation/firewall.md), validated before
//! anything is touched.

use ipnet::IpNet;
use serde::Deserialize;

use pkg::skel::CmdArgs;
use pkg::types::{CniResult, decode};
use pkg::{Error, Result};

use crate::firewalld;
use crate::layout::{DEFAULT_ADMIN_CHAIN, Ingress, IngressPolicy, validate_admin_chain};

const DEFAULT_ZONE: &str = "trusted";

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Raw {
    backend: String,
    iptables_admin_chain_name: String,
    firewalld_zone: String,
    ingress_policy: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Iptables,
    Firewalld,
}

#[derive(Debug)]
pub struct FirewallConf {
    requested: Option<Backend>,
    pub admin_chain: String,
    pub zone: String,
    pub ingress: IngressPolicy,
}

impl FirewallConf {
    /// For ADD and CHECK: everything validated.
    pub fn load(args: &CmdArgs) -> Result<FirewallConf> {
        FirewallConf::validated(decode::decode(&args.config, "network config")?)
    }

    fn validated(raw: Raw) -> Result<FirewallConf> {
        let requested = match raw.backend.as_str() {
            "" => None,
            "iptables" => Some(Backend::Iptables),
            "firewalld" => Some(Backend::Firewalld),
            other => {
                return Err(Error::invalid_config(
                    format!("unknown backend {other:?}"),
                    "backend must be \"iptables\" or \"firewalld\" (or empty to detect)",
                ));
            }
        };
        let wrong = match requested {
            Some(Backend::Iptables) if !raw.firewalld_zone.is_empty() => {
                Some(("iptables", "firewalld", "firewalldZone"))
            }
            Some(Backend::Firewalld) if !raw.iptables_admin_chain_name.is_empty() => {
                Some(("firewalld", "iptables", "iptablesAdminChainName"))
            }
            _ => None,
        };
        if let Some((asked, other, key)) = wrong {
            return Err(Error::invalid_config(
                format!(
                    "{asked} backend was requested but configuration contains {other}-specific options [{key}]"
                ),
                "",
            ));
        }
        let ingress = IngressPolicy::parse(&raw.ingress_policy).ok_or_else(|| {
            Error::invalid_config(
                format!("unknown ingress policy: {:?}", raw.ingress_policy),
                "ingressPolicy must be \"open\", \"same-bridge\" or \"isolated\"",
            )
        })?;
        let mut c = FirewallConf::from_raw(raw, requested, ingress);
        validate_admin_chain(&c.admin_chain).map_err(|e| e.context("iptablesAdminChainName"))?;
        c.zone = c.zone.trim().to_string();
        if c.zone
            .chars()
            .any(|ch| ch.is_control() || ch.is_whitespace())
        {
            return Err(Error::invalid_config(
                format!("invalid firewalldZone {:?}", c.zone),
                "a firewalld zone name has no whitespace or control characters",
            ));
        }
        Ok(c)
    }

    /// For DEL and GC: a config that no longer validates must not keep
    /// rules alive.
    pub fn load_lenient(args: &CmdArgs) -> Result<FirewallConf> {
        let raw: Raw = decode::decode(&args.config, "network config")?;
        let requested = match raw.backend.as_str() {
            "firewalld" => Some(Backend::Firewalld),
            "iptables" => Some(Backend::Iptables),
            _ => None,
        };
        let ingress = IngressPolicy::parse(&raw.ingress_policy).unwrap_or(IngressPolicy::Open);
        Ok(FirewallConf::from_raw(raw, requested, ingress))
    }

    fn from_raw(raw: Raw, requested: Option<Backend>, ingress: IngressPolicy) -> FirewallConf {
        let or = |s: String, d: &str| if s.is_empty() { d.to_string() } else { s };
        FirewallConf {
            requested,
            admin_chain: or(raw.iptables_admin_chain_name, DEFAULT_ADMIN_CHAIN),
            zone: or(raw.firewalld_zone, DEFAULT_ZONE),
            ingress,
        }
    }

    /// The configured backend, or firewalld when it owns its D-Bus name
    /// (as Go decides), else iptables.
    pub fn backend(&self) -> Result<Backend> {
        match self.requested {
            Some(Backend::Firewalld) if !firewalld::is_running() => Err(Error::internal(
                "firewalld backend was requested but firewalld is not running (nothing owns org.fedoraproject.FirewallD1 on the D-Bus system bus); start firewalld or set \"backend\": \"iptables\"",
            )),
            Some(b) => Ok(b),
            None if firewalld::is_running() => Ok(Backend::Firewalld),
            None => Ok(Backend::Iptables),
        }
    }

    /// The backend DEL cleans: never an error, firewalld only if it runs.
    pub fn backend_for_cleanup(&self) -> Backend {
        match self.requested {
            Some(Backend::Iptables) => Backend::Iptables,
            _ if firewalld::is_running() => Backend::Firewalld,
            _ => Backend::Iptables,
        }
    }

    /// The ingress isolation to apply: the bridge is the first interface
    /// of `prevResult`, as in Go.
    pub fn ingress<'a>(&self, prev: &'a CniResult) -> Result<Option<Ingress<'a>>> {
        if self.ingress == IngressPolicy::Open {
            return Ok(None);
        }
        let Some(first) = prev.interfaces.first() else {
            return Err(Error::invalid_config(
                format!(
                    "interface needs to be set for ingress policy {:?}, make sure to chain \"firewall\" plugin with \"bridge\"",
                    self.ingress.as_str()
                ),
                "",
            ));
        };
        pkg::validate::interface_name(&first.name).map_err(|e| {
            Error::invalid_config(
                format!(
                    "invalid bridge name {:?} in prevResult: {}",
                    first.name,
                    e.msg()
                ),
                e.details(),
            )
        })?;
        Ok(Some(Ingress {
            policy: self.ingress,
            bridge: &first.name,
        }))
    }
}

/// `prevResult`, which ADD and CHECK require (Go's message, code 7).
pub fn prev_result(args: &CmdArgs) -> Result<CniResult> {
    args.conf
        .parse_prev_result()?
        .ok_or_else(|| Error::invalid_config("missing prevResult from earlier plugin", ""))
}

/// Every address of `prevResult`, whatever its interface (Go's choice).
pub fn result_ips(prev: &CniResult) -> Vec<IpNet> {
    prev.ips.iter().map(|ip| ip.address).collect()
}

/// firewalld sources are host addresses, as Go's `ipString` writes them.
pub fn source(ip: &IpNet) -> String {
    IpNet::from(ip.addr()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load(v: serde_json::Value) -> Result<FirewallConf> {
        FirewallConf::validated(decode::decode(&v, "x").unwrap())
    }

    #[test]
    fn bad_input() {
        for (c, want) in [
            (json!({"backend": "nft"}), "unknown backend \"nft\""),
            (
                json!({"ingressPolicy": "closed"}),
                "unknown ingress policy: \"closed\"",
            ),
            (
                json!({"backend": "iptables", "firewalldZone": "public"}),
                "iptables backend was requested but configuration contains firewalld-specific options [firewalldZone]",
            ),
            (
                json!({"backend": "firewalld", "iptablesAdminChainName": "X"}),
                "firewalld backend was requested but configuration contains iptables-specific options [iptablesAdminChainName]",
            ),
            (
                json!({"iptablesAdminChainName": "CNI-FORWARD"}),
                "iptablesAdminChainName: iptablesAdminChainName \"CNI-FORWARD\" is a chain",
            ),
            (
                json!({"iptablesAdminChainName": "has space"}),
                "iptablesAdminChainName: invalid iptables chain name",
            ),
            (
                json!({"firewalldZone": "public\ntrusted"}),
                "invalid firewalldZone \"public\\ntrusted\"",
            ),
            (
                json!({"firewalldZone": "a b"}),
                "invalid firewalldZone \"a b\"",
            ),
        ] {
            let err = load(c.clone()).unwrap_err();
            assert_eq!(err.code(), 7, "{c}");
            assert!(err.msg().starts_with(want), "{c}: {}", err.msg());
        }
    }

    #[test]
    fn defaults() {
        let c = load(json!({})).unwrap();
        assert_eq!(c.admin_chain, "CNI-ADMIN");
        assert_eq!(c.zone, "trusted");
        assert_eq!(c.ingress, IngressPolicy::Open);
        assert_eq!(c.requested, None);
        let c = load(json!({"IptablesAdminChainName": "X", "ingresspolicy": "isolated"})).unwrap();
        assert_eq!(c.admin_chain, "X");
        assert_eq!(c.ingress, IngressPolicy::Isolated);
    }

    #[test]
    fn ingress_needs_a_bridge() {
        let c = load(json!({"ingressPolicy": "same-bridge"})).unwrap();
        let err = c.ingress(&CniResult::default()).unwrap_err();
        assert_eq!(
            err.msg(),
            "interface needs to be set for ingress policy \"same-bridge\", make sure to chain \"firewall\" plugin with \"bridge\""
        );
        let prev = CniResult::from_value(
            &json!({"cniVersion": "1.0.0", "interfaces": [{"name": "cni0"}]}),
            "1.0.0",
        )
        .unwrap();
        assert_eq!(c.ingress(&prev).unwrap().unwrap().bridge, "cni0");
        let open = load(json!({})).unwrap();
        assert!(open.ingress(&CniResult::default()).unwrap().is_none());
    }

    #[test]
    fn sources() {
        assert_eq!(source(&"10.0.0.5/24".parse().unwrap()), "10.0.0.5/32");
        assert_eq!(source(&"fd00::5/64".parse().unwrap()), "fd00::5/128");
    }
}

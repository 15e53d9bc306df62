//! portmap's configuration (Documentation/portmap.md), validated before anything is
//! touched: the options, the backend and `runtimeConfig.portMappings`.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;

use crate::mappings::{DEFAULT_MARK_BIT, Options, PortMapping, Protocol};
use pkg::firewall::names::validate_chain_name;
use pkg::firewall::{self, Backend};
use pkg::skel::CmdArgs;
use pkg::types::{CniResult, decode};
use pkg::{Error, Result};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Raw {
    backend: Option<String>,
    snat: Option<bool>,
    masq_all: bool,
    mark_masq_bit: Option<i64>,
    external_set_mark_chain: Option<String>,
    conditions_v4: Option<Vec<String>>,
    conditions_v6: Option<Vec<String>>,
    runtime_config: RuntimeRaw,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct RuntimeRaw {
    port_mappings: Vec<MappingRaw>,
}

/// containerd sends `HostPort`, `ContainerPort`, ...: the decoder matches
/// keys case-insensitively, as Go does.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct MappingRaw {
    host_port: i64,
    container_port: i64,
    protocol: String,
    #[serde(rename = "hostIP")]
    host_ip: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Requested {
    Auto,
    Explicit(Backend),
}

#[derive(Debug)]
pub struct PortmapConf {
    pub opts: Options,
    pub mappings: Vec<PortMapping>,
    requested: Requested,
}

impl PortmapConf {
    /// For ADD and CHECK: everything validated.
    pub fn load(args: &CmdArgs) -> Result<PortmapConf> {
        let raw: Raw = decode::decode(&args.config, "network config")?;
        let mut mappings = Vec::new();
        for (i, m) in raw.runtime_config.port_mappings.iter().enumerate() {
            mappings.push(parse_mapping(i, m)?);
        }
        let requested = requested_backend(&raw)?;
        Ok(PortmapConf {
            opts: options(&raw)?,
            mappings,
            requested,
        })
    }

    /// For DEL: what teardown needs, from a config that may no longer
    /// validate; a bad entry must not keep the others' state alive.
    pub fn load_lenient(args: &CmdArgs) -> Result<PortmapConf> {
        let raw: Raw = decode::decode(&args.config, "network config")?;
        let mappings = raw
            .runtime_config
            .port_mappings
            .iter()
            .enumerate()
            .filter_map(|(i, m)| match parse_mapping(i, m) {
                Ok(m) => Some(m),
                Err(e) => {
                    eprintln!("warning: ignoring a port mapping on DEL: {}", e.msg());
                    None
                }
            })
            .collect();
        Ok(PortmapConf {
            opts: Options::default(),
            mappings,
            requested: Requested::Auto,
        })
    }

    /// The configured backend, or the detected one. Detection may run a
    /// probe, so it waits until there is something to do.
    pub fn backend(&self) -> Result<Backend> {
        match self.requested {
            Requested::Explicit(b) => Ok(b),
            Requested::Auto => firewall::select_backend(None),
        }
    }

    /// UDP host ports, whose stale conntrack entries must go.
    pub fn udp_ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self
            .mappings
            .iter()
            .filter(|m| m.protocol == Protocol::Udp)
            .map(|m| m.host_port)
            .collect();
        ports.sort_unstable();
        ports.dedup();
        ports
    }
}

fn parse_mapping(i: usize, m: &MappingRaw) -> Result<PortMapping> {
    let port = |what: &str, v: i64| {
        u16::try_from(v).ok().filter(|p| *p != 0).ok_or_else(|| {
            Error::invalid_config(
                format!("invalid {what} port number {v} in portMappings[{i}]"),
                "ports must be 1 to 65535",
            )
        })
    };
    let host_port = port("host", m.host_port)?;
    let container_port = port("container", m.container_port)?;
    // An empty protocol never worked with Go (iptables rejects `-p ""`);
    // tcp is what every runtime means by it.
    let protocol = if m.protocol.is_empty() {
        Protocol::Tcp
    } else {
        Protocol::parse(&m.protocol).ok_or_else(|| {
            Error::invalid_config(
                format!("unknown protocol {:?} in portMappings[{i}]", m.protocol),
                "protocol must be tcp, udp or sctp",
            )
        })?
    };
    let host_ip = if m.host_ip.is_empty() {
        None
    } else {
        let ip: IpAddr = m.host_ip.parse().map_err(|_| {
            Error::invalid_config(
                format!("invalid hostIP {:?} in portMappings[{i}]", m.host_ip),
                "",
            )
        })?;
        // Go's To4(): an IPv4-mapped address is IPv4.
        Some(match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        })
    };
    Ok(PortMapping {
        host_port,
        container_port,
        protocol,
        host_ip,
    })
}

fn options(raw: &Raw) -> Result<Options> {
    if raw.mark_masq_bit.is_some() && raw.external_set_mark_chain.is_some() {
        return Err(Error::invalid_config(
            "cannot specify externalSetMarkChain and markMasqBit",
            "",
        ));
    }
    let bit = raw.mark_masq_bit.unwrap_or(i64::from(DEFAULT_MARK_BIT));
    let mark_masq_bit = u8::try_from(bit).ok().filter(|b| *b <= 31).ok_or_else(|| {
        Error::invalid_config(
            format!("invalid markMasqBit {bit}"),
            "markMasqBit must be between 0 and 31",
        )
    })?;
    if let Some(chain) = &raw.external_set_mark_chain {
        validate_chain_name(chain).map_err(|e| e.context("externalSetMarkChain"))?;
    }
    for (key, conds) in [
        ("conditionsV4", &raw.conditions_v4),
        ("conditionsV6", &raw.conditions_v6),
    ] {
        if let Some(bad) = conds
            .iter()
            .flatten()
            .find(|c| c.contains(['\n', '\r', '\0']))
        {
            return Err(Error::invalid_config(
                format!("{key} entry {bad:?} contains a line break"),
                "",
            ));
        }
    }
    Ok(Options {
        snat: raw.snat.unwrap_or(true),
        masq_all: raw.masq_all,
        mark_masq_bit,
        external_set_mark_chain: raw.external_set_mark_chain.clone(),
        conditions_v4: raw.conditions_v4.clone().unwrap_or_default(),
        conditions_v6: raw.conditions_v6.clone().unwrap_or_default(),
    })
}

/// Which backend conditions are written for: iptables words start with
/// `-` (or `!`), nftables expressions never do.
fn conditions_backend(conds: &Option<Vec<String>>) -> Option<Backend> {
    let first = conds.as_ref()?.first().filter(|c| !c.is_empty())?;
    Some(if first.starts_with(['-', '!']) {
        Backend::Iptables
    } else {
        Backend::Nftables
    })
}

fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Iptables => "iptables",
        Backend::Nftables => "nftables",
    }
}

fn requested_backend(raw: &Raw) -> Result<Requested> {
    let explicit = match raw.backend.as_deref() {
        None | Some("") => None,
        Some("iptables") => Some(Backend::Iptables),
        Some("nftables") => Some(Backend::Nftables),
        Some(other) => {
            return Err(Error::invalid_config(
                format!("unknown backend {other:?}"),
                "backend must be \"iptables\" or \"nftables\"",
            ));
        }
    };
    let mut specific: Vec<(Backend, &str)> = Vec::new();
    if raw.external_set_mark_chain.is_some() {
        specific.push((Backend::Iptables, "externalSetMarkChain"));
    }
    for (key, conds) in [
        ("conditionsV4", &raw.conditions_v4),
        ("conditionsV6", &raw.conditions_v6),
    ] {
        if let Some(b) = conditions_backend(conds) {
            specific.push((b, key));
        }
    }
    let keys = |b: Backend| -> Vec<&str> {
        specific
            .iter()
            .filter(|(x, _)| *x == b)
            .map(|(_, k)| *k)
            .collect()
    };
    let for_ipt = keys(Backend::Iptables);
    let for_nft = keys(Backend::Nftables);
    match explicit {
        Some(b) => {
            let other = match b {
                Backend::Iptables => Backend::Nftables,
                Backend::Nftables => Backend::Iptables,
            };
            let wrong = keys(other);
            if !wrong.is_empty() {
                return Err(Error::invalid_config(
                    format!(
                        "{} backend was requested but configuration contains {}-specific options [{}]",
                        backend_name(b),
                        backend_name(other),
                        wrong.join(" ")
                    ),
                    "",
                ));
            }
            Ok(Requested::Explicit(b))
        }
        None => match (for_ipt.is_empty(), for_nft.is_empty()) {
            (true, true) => Ok(Requested::Auto),
            (false, true) => Ok(Requested::Explicit(Backend::Iptables)),
            (true, false) => Ok(Requested::Explicit(Backend::Nftables)),
            (false, false) => Err(Error::invalid_config(
                format!(
                    "configuration contains iptables-specific options [{}] and nftables-specific options [{}]",
                    for_ipt.join(" "),
                    for_nft.join(" ")
                ),
                "set \"backend\" and keep only that backend's options",
            )),
        },
    }
}

/// Go's container address selection: the first IPv4 and the first IPv6
/// address whose `interface` is unset, out of range, or the sandbox
/// interface named `ifname`. Host-side addresses are skipped.
pub fn container_ips(result: &CniResult, ifname: &str) -> Vec<IpNet> {
    let mut v4 = None;
    let mut v6 = None;
    for ip in &result.ips {
        let is_v4 = ip.is_v4();
        if (is_v4 && v4.is_some()) || (!is_v4 && v6.is_some()) {
            continue;
        }
        if let Some(iface) = result.interface_of(ip)
            && (iface.name != ifname || iface.sandbox.is_empty())
        {
            continue;
        }
        let addr = match ip.address {
            // An IPv4-mapped address counts as IPv4 (Go's To4).
            IpNet::V6(n) => match n.addr().to_ipv4_mapped() {
                Some(a) => IpNet::new(IpAddr::V4(a), n.prefix_len().saturating_sub(96))
                    .unwrap_or(ip.address),
                None => ip.address,
            },
            a => a,
        };
        if is_v4 {
            v4 = Some(addr);
        } else {
            v6 = Some(addr);
        }
    }
    v4.into_iter().chain(v6).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(v: serde_json::Value) -> Raw {
        decode::decode(&v, "network config").unwrap()
    }

    #[test]
    fn mappings_with_any_key_case() {
        let r = raw(json!({"runtimeConfig": {"portMappings": [
            {"HostPort": 8080, "ContainerPort": 80, "Protocol": "TCP", "HostIP": ""},
            {"hostPort": 53, "containerPort": 53, "protocol": "udp", "hostIP": "::ffff:10.0.0.1"},
            {"hostPort": 1, "containerPort": 65535, "protocol": "", "hostip": "fd00::1"}
        ]}}));
        let m: Vec<PortMapping> = r
            .runtime_config
            .port_mappings
            .iter()
            .enumerate()
            .map(|(i, m)| parse_mapping(i, m).unwrap())
            .collect();
        assert_eq!(m[0].protocol, Protocol::Tcp);
        assert_eq!((m[0].host_port, m[0].container_port), (8080, 80));
        assert_eq!(m[1].host_ip, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(m[2].protocol, Protocol::Tcp);
        assert_eq!(m[2].host_ip, Some("fd00::1".parse().unwrap()));
    }

    #[test]
    fn bad_mappings() {
        let cases = [
            (
                json!({"hostPort": 0, "containerPort": 80}),
                "invalid host port number 0 in portMappings[0]",
            ),
            (
                json!({"hostPort": 65536, "containerPort": 80}),
                "invalid host port number 65536",
            ),
            (
                json!({"hostPort": 80, "containerPort": -1}),
                "invalid container port number -1",
            ),
            (
                json!({"hostPort": 80, "containerPort": 80, "protocol": "icmp"}),
                "unknown protocol \"icmp\"",
            ),
            (
                json!({"hostPort": 80, "containerPort": 80, "hostIP": "1.2.3"}),
                "invalid hostIP \"1.2.3\"",
            ),
        ];
        for (m, want) in cases {
            let r: MappingRaw = decode::decode(&m, "x").unwrap();
            let err = parse_mapping(0, &r).unwrap_err();
            assert_eq!(err.code(), 7);
            assert!(err.msg().contains(want), "{m}: {}", err.msg());
        }
    }

    #[test]
    fn options_and_backends() {
        let o = options(&raw(json!({}))).unwrap();
        assert!(o.snat && !o.masq_all);
        assert_eq!(o.mark_masq_bit, 13);
        let o = options(&raw(
            json!({"snat": false, "masqAll": true, "markMasqBit": 0}),
        ))
        .unwrap();
        assert!(!o.snat && o.masq_all);
        assert_eq!(o.mark_masq_bit, 0);
        for (c, want) in [
            (json!({"markMasqBit": 32}), "invalid markMasqBit 32"),
            (json!({"markMasqBit": -1}), "invalid markMasqBit -1"),
            (
                json!({"markMasqBit": 3, "externalSetMarkChain": "X"}),
                "cannot specify externalSetMarkChain and markMasqBit",
            ),
            (
                json!({"externalSetMarkChain": "a b"}),
                "externalSetMarkChain: invalid iptables chain name",
            ),
            (json!({"conditionsV4": ["-s", "1.2.3.4\n"]}), "line break"),
        ] {
            let err = options(&raw(c.clone())).unwrap_err();
            assert_eq!(err.code(), 7);
            assert!(err.msg().contains(want), "{c}: {}", err.msg());
        }

        let req = |c| requested_backend(&raw(c));
        assert_eq!(req(json!({})).unwrap(), Requested::Auto);
        assert_eq!(req(json!({"backend": ""})).unwrap(), Requested::Auto);
        assert_eq!(
            req(json!({"backend": "nftables"})).unwrap(),
            Requested::Explicit(Backend::Nftables)
        );
        assert_eq!(
            req(json!({"conditionsV4": ["ip", "saddr", "1.2.3.4"]})).unwrap(),
            Requested::Explicit(Backend::Nftables)
        );
        assert_eq!(
            req(json!({"conditionsV6": ["!", "-s", "::1"]})).unwrap(),
            Requested::Explicit(Backend::Iptables)
        );
        assert_eq!(
            req(json!({"externalSetMarkChain": "KUBE-MARK-MASQ"})).unwrap(),
            Requested::Explicit(Backend::Iptables)
        );
        assert_eq!(req(json!({"conditionsV4": [""]})).unwrap(), Requested::Auto);
        for (c, want) in [
            (json!({"backend": "pf"}), "unknown backend \"pf\""),
            (
                json!({"backend": "iptables", "conditionsV4": ["aaa", "bbbb"], "conditionsV6": ["ccc"]}),
                "iptables backend was requested but configuration contains nftables-specific options [conditionsV4 conditionsV6]",
            ),
            (
                json!({"backend": "nftables", "externalSetMarkChain": "KUBE-MARK-MASQ", "conditionsV4": ["-a", "b"], "conditionsV6": ["-c", "d"]}),
                "nftables backend was requested but configuration contains iptables-specific options [externalSetMarkChain conditionsV4 conditionsV6]",
            ),
            (
                json!({"conditionsV4": ["-a"], "conditionsV6": ["ip6", "saddr", "::1"]}),
                "configuration contains iptables-specific options [conditionsV4] and nftables-specific options [conditionsV6]",
            ),
        ] {
            let err = req(c.clone()).unwrap_err();
            assert_eq!(err.code(), 7);
            assert_eq!(err.msg(), want, "{c}");
        }
    }

    #[test]
    fn container_ip_selection_like_go() {
        let r = CniResult::from_value(
            &json!({"cniVersion": "1.0.0",
                "interfaces": [{"name": "br0"}, {"name": "veth1"}, {"name": "eth0", "sandbox": "/run/netns/x"}, {"name": "eth1", "sandbox": "/run/netns/x"}],
                "ips": [
                    {"address": "10.0.0.1/24", "interface": 0},
                    {"address": "10.1.0.9/24", "interface": 3},
                    {"address": "10.0.0.5/24", "interface": 2},
                    {"address": "10.0.0.6/24", "interface": 2},
                    {"address": "fd00::5/64"},
                ]}),
            "1.0.0",
        )
        .unwrap();
        let ips = container_ips(&r, "eth0");
        assert_eq!(
            ips,
            [
                "10.0.0.5/24".parse::<IpNet>().unwrap(),
                "fd00::5/64".parse().unwrap()
            ]
        );
        assert_eq!(
            container_ips(&r, "eth1")[0],
            "10.1.0.9/24".parse::<IpNet>().unwrap()
        );
        let empty = CniResult::default();
        assert!(container_ips(&empty, "eth0").is_empty());
    }
}

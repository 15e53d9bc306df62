//! The canonical result (the 1.1.0 shape) and its conversion to and from
//! every spec version (Documentation/spec-notes.md §3).

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::decode;
use super::version::{Family, Version};
use crate::error::{Error, Result};

/// `dns` of configs and results.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Dns {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub search: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

impl Dns {
    pub fn is_empty(&self) -> bool {
        self.nameservers.is_empty()
            && self.domain.is_empty()
            && self.search.is_empty()
            && self.options.is_empty()
    }

    /// For a `dns` a config gives (`key` names it, e.g. `ipam.dns`): each
    /// value becomes one word of a resolv.conf line the runtime writes, so
    /// whitespace or a control character would make it several words, or
    /// another line (`"8.8.8.8\nnameserver 10.6.6.6"`). Go accepts them.
    pub fn check(&self, key: &str) -> Result<()> {
        let lists = [
            ("nameservers", &self.nameservers),
            ("search", &self.search),
            ("options", &self.options),
        ];
        let items = lists
            .iter()
            .flat_map(|(name, list)| {
                list.iter()
                    .enumerate()
                    .map(move |(i, v)| (format!("{key}.{name}[{i}]"), v))
            })
            .chain(std::iter::once((format!("{key}.domain"), &self.domain)));
        for (at, value) in items {
            if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(Error::invalid_config(
                    format!("invalid {at} {value:?}"),
                    "a DNS value is one word of resolv.conf: no whitespace or control characters",
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Interface {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mac: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub mtu: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sandbox: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub socket_path: String,
    #[serde(rename = "pciID", skip_serializing_if = "String::is_empty")]
    pub pci_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpConfig {
    /// Index into `interfaces`; signed because some plugins send -1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<i32>,
    /// Address with prefix, host bits kept (`10.1.2.3/24`).
    pub address: IpNet,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_ip")]
    pub gateway: Option<IpAddr>,
}

impl IpConfig {
    pub fn is_v4(&self) -> bool {
        is_v4_ip(self.address.addr())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    pub dst: IpNet,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_ip")]
    pub gw: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mtu: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub advmss: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub priority: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<u32>,
}

impl Route {
    pub fn new(dst: IpNet, gw: Option<IpAddr>) -> Route {
        Route {
            dst,
            gw,
            mtu: 0,
            advmss: 0,
            priority: 0,
            table: None,
            scope: None,
        }
    }
}

/// The canonical result: the 1.1.0 shape. `cni_version` records the
/// version it was parsed from or is meant for.
///
/// Parse whatever version a plugin printed, print in the version asked for:
///
/// ```
/// use pkg::types::{CniResult, Version};
/// use serde_json::json;
///
/// let ipam = json!({"cniVersion": "0.4.0",
///     "ips": [{"version": "4", "address": "10.1.0.5/24", "gateway": "10.1.0.1"}],
///     "dns": {}});
/// let r = CniResult::from_value(&ipam, "")?;
/// assert_eq!(r.to_value(Version::V1_1_0)?,
///     json!({"cniVersion": "1.1.0", "ips": [{"address": "10.1.0.5/24", "gateway": "10.1.0.1"}]}));
/// assert_eq!(r.to_value(Version::V0_2_0)?["ip4"]["ip"], "10.1.0.5/24");
/// # Ok::<(), pkg::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CniResult {
    pub cni_version: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<Interface>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<IpConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    #[serde(skip_serializing_if = "Dns::is_empty")]
    pub dns: Dns,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

/// Go's `To4() != nil`: IPv4, including IPv4-mapped IPv6.
pub fn is_v4_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(_) => true,
        IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some(),
    }
}

/// Optional IP strings: absent, `null` and `""` all mean none (Go's `net.IP`).
pub(crate) mod opt_ip {
    use std::net::IpAddr;

    use serde::{Deserialize, Deserializer, Serializer, de};

    pub fn serialize<S: Serializer>(ip: &Option<IpAddr>, s: S) -> Result<S::Ok, S::Error> {
        match ip {
            Some(ip) => s.collect_str(ip),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<IpAddr>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) if s.is_empty() => Ok(None),
            Some(s) => s
                .parse()
                .map(Some)
                .map_err(|_| de::Error::custom(format!("invalid IP address {s:?}"))),
        }
    }
}

// ---- the 0.3.0/0.3.1/0.4.0 shape ----

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResultV04 {
    #[serde(default)]
    cni_version: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    interfaces: Vec<InterfaceV04>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    ips: Vec<IpConfigV04>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    routes: Vec<Route>,
    #[serde(default)]
    dns: Dns,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InterfaceV04 {
    #[serde(default)]
    name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    mac: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    sandbox: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IpConfigV04 {
    #[serde(default)]
    version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    interface: Option<i32>,
    address: IpNet,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_ip")]
    gateway: Option<IpAddr>,
}

// ---- the 0.1.0/0.2.0 shape ----

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResultV02 {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    cni_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ip4: Option<IpConfigV02>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ip6: Option<IpConfigV02>,
    #[serde(default)]
    dns: Dns,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IpConfigV02 {
    ip: IpNet,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_ip")]
    gateway: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    routes: Vec<Route>,
}

impl CniResult {
    /// The interface entry `ip.interface` names, if it names one.
    pub fn interface_of(&self, ip: &IpConfig) -> Option<&Interface> {
        ip.interface
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| self.interfaces.get(i))
    }

    /// Parse a result in whatever version it declares; `default_version`
    /// applies when it declares none (Documentation/spec-notes.md §3.7, §7.3 step 5).
    pub fn from_value(value: &Value, default_version: &str) -> Result<CniResult> {
        let obj = value.as_object().ok_or_else(|| {
            Error::decode("failed to parse result", "result is not a JSON object")
        })?;
        let declared = match decode::get_ci(obj, "cniVersion") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::String(_)) | Some(Value::Null) | None => default_version.to_string(),
            Some(other) => {
                return Err(Error::decode(
                    "failed to parse result",
                    format!("cniVersion must be a string, got {other}"),
                ));
            }
        };
        let version = Version::from_exact(&declared).ok_or_else(|| {
            Error::decode(format!("unsupported CNI result version {declared:?}"), "")
        })?;
        let mut result = match version.family() {
            Family::V1 => decode::decode::<CniResult>(value, "result")?,
            Family::V04 => {
                let mut v = value.clone();
                // The 0.3.0 text named the list `ip`.
                if let Some(o) = v.as_object_mut()
                    && decode::get_ci(o, "ips").is_none()
                    && let Some(ip) = o.remove("ip")
                {
                    o.insert("ips".into(), ip);
                }
                from_v04(decode::decode::<ResultV04>(&v, "result")?)
            }
            Family::Legacy => from_v02(decode::decode::<ResultV02>(value, "result")?),
        };
        result.cni_version = version.as_str().to_string();
        Ok(result)
    }

    /// Encode in the shape of `version`, with `cniVersion` set to it.
    /// Going down to 0.1.0/0.2.0 fails when no address survives.
    pub fn to_value(&self, version: Version) -> Result<Value> {
        let json = match version.family() {
            Family::V1 => {
                let mut r = self.clone();
                r.cni_version = version.as_str().to_string();
                serde_json::to_value(r)
            }
            Family::V04 => serde_json::to_value(to_v04(self, version)),
            Family::Legacy => serde_json::to_value(to_v02(self, version)?),
        };
        json.map_err(|e| Error::internal(format!("encoding result: {e}")))
    }

    /// The result as a consumer of `version` would see it: converted down
    /// and back up, losing what `version` cannot express.
    pub fn convert(&self, version: Version) -> Result<CniResult> {
        CniResult::from_value(&self.to_value(version)?, version.as_str())
    }
}

fn from_v04(r: ResultV04) -> CniResult {
    CniResult {
        cni_version: r.cni_version,
        interfaces: r
            .interfaces
            .into_iter()
            .map(|i| Interface {
                name: i.name,
                mac: i.mac,
                sandbox: i.sandbox,
                ..Default::default()
            })
            .collect(),
        ips: r
            .ips
            .into_iter()
            .map(|ip| IpConfig {
                interface: ip.interface,
                address: ip.address,
                gateway: ip.gateway,
            })
            .collect(),
        routes: r.routes,
        dns: r.dns,
    }
}

fn to_v04(r: &CniResult, version: Version) -> ResultV04 {
    ResultV04 {
        cni_version: version.as_str().to_string(),
        interfaces: r
            .interfaces
            .iter()
            .map(|i| InterfaceV04 {
                name: i.name.clone(),
                mac: i.mac.clone(),
                sandbox: i.sandbox.clone(),
            })
            .collect(),
        ips: r
            .ips
            .iter()
            .map(|ip| IpConfigV04 {
                version: if ip.is_v4() { "4" } else { "6" }.to_string(),
                interface: ip.interface,
                address: ip.address,
                gateway: ip.gateway,
            })
            .collect(),
        // Go shares the route type, so 1.1.0 route extras survive.
        routes: r.routes.clone(),
        dns: r.dns.clone(),
    }
}

fn from_v02(r: ResultV02) -> CniResult {
    let mut out = CniResult {
        cni_version: r.cni_version,
        dns: r.dns,
        ..Default::default()
    };
    for ip in [r.ip4, r.ip6].into_iter().flatten() {
        out.ips.push(IpConfig {
            interface: None,
            address: ip.ip,
            gateway: ip.gateway,
        });
        out.routes.extend(ip.routes);
    }
    out
}

fn to_v02(r: &CniResult, version: Version) -> Result<ResultV02> {
    let pick = |want_v4: bool| -> Option<IpConfigV02> {
        let ip = r.ips.iter().find(|ip| ip.is_v4() == want_v4)?;
        let routes = r
            .routes
            .iter()
            .filter(|rt| is_v4_ip(rt.dst.addr()) == want_v4)
            .map(|rt| Route::new(rt.dst, rt.gw))
            .collect();
        Some(IpConfigV02 {
            ip: ip.address,
            gateway: ip.gateway,
            routes,
        })
    };
    let (ip4, ip6) = (pick(true), pick(false));
    if ip4.is_none() && ip6.is_none() {
        return Err(Error::internal(format!(
            "cannot convert result to version {version}: no valid IP addresses"
        )));
    }
    Ok(ResultV02 {
        cni_version: version.as_str().to_string(),
        ip4,
        ip6,
        dns: r.dns.clone(),
    })
}

//! DHCP option names and the options a lease asks for (`ipam.request`) and
//! sends (`ipam.provide`). Go knows six names and any number 0-255; the
//! names of the options this plugin reads from a lease are accepted too.

use serde::{Deserialize, Serialize};

use pkg::{Error, Result};

use crate::config::{ProvideRaw, RequestRaw};

pub const SUBNET_MASK: u8 = 1;
pub const ROUTERS: u8 = 3;
pub const DNS_SERVERS: u8 = 6;
pub const HOST_NAME: u8 = 12;
pub const DOMAIN_NAME: u8 = 15;
pub const STATIC_ROUTES: u8 = 33;
pub const LEASE_TIME: u8 = 51;
pub const RENEWAL_TIME: u8 = 58;
pub const REBINDING_TIME: u8 = 59;
pub const CLIENT_ID: u8 = 61;
pub const CLASSLESS_ROUTES: u8 = 121;

/// dhcp-options(5) names: Go's six first, then those a lease is read for.
const NAMES: &[(&str, u8)] = &[
    ("dhcp-client-identifier", CLIENT_ID),
    ("subnet-mask", SUBNET_MASK),
    ("routers", ROUTERS),
    ("host-name", HOST_NAME),
    ("user-class", 77),
    ("vendor-class-identifier", 60),
    ("domain-name-servers", DNS_SERVERS),
    ("domain-name", DOMAIN_NAME),
    ("static-routes", STATIC_ROUTES),
    ("dhcp-lease-time", LEASE_TIME),
    ("dhcp-renewal-time", RENEWAL_TIME),
    ("dhcp-rebinding-time", REBINDING_TIME),
    ("classless-static-routes", CLASSLESS_ROUTES),
];

/// Asked for unless an entry of `request` has `skipDefault`: what the
/// result is made of (Go asks for routers and the mask alone and so gets
/// no routes from 121 from servers that send only what is asked).
pub const DEFAULT_REQUEST: &[u8] = &[
    SUBNET_MASK,
    ROUTERS,
    CLASSLESS_ROUTES,
    STATIC_ROUTES,
    DNS_SERVERS,
    DOMAIN_NAME,
    LEASE_TIME,
    RENEWAL_TIME,
    REBINDING_TIME,
];

/// What a lease sends besides the client identifier and the message's own
/// options: resolved from the config, ready for the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    /// The parameter request list (option 55), in order, without repeats.
    pub request: Vec<u8>,
    /// Options sent as they are: (code, value).
    pub provide: Vec<(u8, Vec<u8>)>,
}

/// An option by name or number, as Go's parseOptionName.
pub fn code(name: &str) -> Result<u8> {
    if let Some((_, c)) = NAMES.iter().find(|(n, _)| *n == name) {
        return Ok(*c);
    }
    name.parse::<u8>().map_err(|_| {
        Error::invalid_config(
            format!("can not parse option {name:?}"),
            format!(
                "an option is a number from 0 to 255 or one of {}",
                NAMES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            ),
        )
    })
}

/// `request` and `provide` as the wire needs them; `cni_args` is
/// `CNI_ARGS`, read leniently as Go does for `fromArg`.
pub fn resolve(request: &[RequestRaw], provide: &[ProvideRaw], cni_args: &str) -> Result<Options> {
    let mut out = Options::default();
    let mut skip_default = false;
    for r in request {
        skip_default |= r.skip_default;
        if r.option.is_empty() {
            continue;
        }
        let c = code(&r.option)?;
        if !out.request.contains(&c) {
            out.request.push(c);
        }
    }
    if !skip_default {
        for c in DEFAULT_REQUEST {
            if !out.request.contains(c) {
                out.request.push(*c);
            }
        }
    }
    for p in provide {
        let c = code(&p.option)?;
        if !p.value.is_empty() {
            out.provide.push((c, value(&p.option, &p.value, "")?));
        }
        if let Some(v) = arg(cni_args, &p.from_arg) {
            out.provide.push((c, value(&p.option, v, &p.from_arg)?));
        }
    }
    Ok(out)
}

fn value(option: &str, v: &str, from_arg: &str) -> Result<Vec<u8>> {
    if v.len() > 255 {
        let from = if from_arg.is_empty() {
            String::new()
        } else {
            format!(" from CNI_ARGS {from_arg:?}")
        };
        return Err(Error::invalid_config(
            format!("value too long for option {option:?}{from}"),
            "an option's value is at most 255 bytes",
        ));
    }
    Ok(v.as_bytes().to_vec())
}

/// `key`'s value in `CNI_ARGS` (`K=V;K=V`), the last one winning.
fn arg<'a>(cni_args: &'a str, key: &str) -> Option<&'a str> {
    cni_args
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| *k == key)
        .map(|(_, v)| v)
        .next_back()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(option: &str, skip_default: bool) -> RequestRaw {
        RequestRaw {
            option: option.into(),
            skip_default,
        }
    }

    fn prov(option: &str, value: &str, from_arg: &str) -> ProvideRaw {
        ProvideRaw {
            option: option.into(),
            value: value.into(),
            from_arg: from_arg.into(),
        }
    }

    #[test]
    fn option_codes() {
        for (name, want) in [
            ("host-name", Some(12)),
            ("dhcp-client-identifier", Some(61)),
            ("classless-static-routes", Some(121)),
            ("0", Some(0)),
            ("255", Some(255)),
            ("256", None),
            ("-1", None),
            ("bogus-option", None),
            ("", None),
        ] {
            assert_eq!(code(name).ok(), want, "{name}");
        }
        assert_eq!(code("bogus").unwrap_err().code(), 7);
    }

    #[test]
    fn request_lists() {
        let cases: Vec<(Vec<RequestRaw>, Vec<u8>)> = vec![
            (vec![], DEFAULT_REQUEST.to_vec()),
            (vec![req("", true)], vec![]),
            (vec![req("routers", true), req("42", false)], vec![3, 42]),
            (
                vec![req("200", false), req("200", false)],
                [&[200u8][..], DEFAULT_REQUEST].concat(),
            ),
            (
                vec![req("subnet-mask", false)],
                [&[1u8, 3, 121][..], &DEFAULT_REQUEST[3..]].concat(),
            ),
        ];
        for (request, want) in cases {
            assert_eq!(resolve(&request, &[], "").unwrap().request, want);
        }
    }

    #[test]
    fn provided_values() {
        let args = "K8S_POD_NAME=web-1;IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;bad";
        let o = resolve(
            &[],
            &[
                prov("host-name", "", "K8S_POD_NAME"),
                prov("60", "vendor", ""),
                prov("77", "", "MISSING"),
            ],
            args,
        )
        .unwrap();
        assert_eq!(
            o.provide,
            vec![(12, b"web-1".to_vec()), (60, b"vendor".to_vec())]
        );
        let long = "x".repeat(256);
        for p in [prov("host-name", &long, ""), prov("no-such", "v", "")] {
            assert_eq!(resolve(&[], &[p], "").unwrap_err().code(), 7);
        }
        let e = resolve(&[], &[prov("12", "", "K")], &format!("K={long}")).unwrap_err();
        assert!(e.msg().contains("from CNI_ARGS"), "{e}");
    }
}

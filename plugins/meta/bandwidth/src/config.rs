//! bandwidth's configuration: the four limits, from the top level of the
//! config or from the `bandwidth` capability (`runtimeConfig.bandwidth`),
//! validated as Go validates them before anything is changed.

use serde::Deserialize;
use serde_json::Value;

use crate::tc::Tbf;
use pkg::skel::CmdArgs;
use pkg::types::decode;
use pkg::{Error, Result};

/// The four keys, as found; numbers are checked by hand so that a bad one
/// is named in a code 7 error rather than a serde message.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Entry {
    ingress_rate: Option<Value>,
    ingress_burst: Option<Value>,
    egress_rate: Option<Value>,
    egress_burst: Option<Value>,
}

impl Entry {
    fn is_present(&self) -> bool {
        self.ingress_rate.is_some()
            || self.ingress_burst.is_some()
            || self.egress_rate.is_some()
            || self.egress_burst.is_some()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Raw {
    ingress_rate: Option<Value>,
    ingress_burst: Option<Value>,
    egress_rate: Option<Value>,
    egress_burst: Option<Value>,
    runtime_config: RuntimeConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RuntimeConfig {
    bandwidth: Option<Entry>,
}

/// One direction's limit: a rate in bits per second and a burst in bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub rate: u64,
    pub burst: u64,
}

impl Shape {
    /// The kernel parameters, computed as Go computes them.
    pub fn tbf(&self, tick_in_usec: f64) -> Tbf {
        Tbf::from_bits(self.rate, self.burst, tick_in_usec)
    }
}

/// What to shape; `None` leaves that direction alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    /// Traffic to the container (TBF on the host end of the veth).
    pub ingress: Option<Shape>,
    /// Traffic from the container (TBF on the IFB).
    pub egress: Option<Shape>,
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        self.ingress.is_none() && self.egress.is_none()
    }

    /// For ADD and CHECK. The top-level keys win: the capability is read
    /// only when none of the four is at the top level (as Go, where any of
    /// them allocates the embedded entry).
    pub fn load(args: &CmdArgs) -> Result<Limits> {
        Limits::from_config(&args.config)
    }

    fn from_config(config: &Value) -> Result<Limits> {
        let raw: Raw = decode::decode(config, "network config")?;
        let top = Entry {
            ingress_rate: raw.ingress_rate,
            ingress_burst: raw.ingress_burst,
            egress_rate: raw.egress_rate,
            egress_burst: raw.egress_burst,
        };
        if top.is_present() {
            return from_entry(&top, "");
        }
        match &raw.runtime_config.bandwidth {
            Some(entry) => from_entry(entry, "runtimeConfig.bandwidth."),
            None => Ok(Limits::default()),
        }
    }
}

fn from_entry(e: &Entry, prefix: &str) -> Result<Limits> {
    let ingress = shape(
        number(&e.ingress_rate, prefix, "ingressRate")?,
        number(&e.ingress_burst, prefix, "ingressBurst")?,
        prefix,
        "ingress",
    )?;
    let egress = shape(
        number(&e.egress_rate, prefix, "egressRate")?,
        number(&e.egress_burst, prefix, "egressBurst")?,
        prefix,
        "egress",
    )?;
    Ok(Limits { ingress, egress })
}

fn number(v: &Option<Value>, prefix: &str, key: &str) -> Result<u64> {
    match v {
        None => Ok(0),
        Some(v) => v.as_u64().ok_or_else(|| {
            Error::invalid_config(
                format!("{prefix}{key} must be a non-negative integer, got {v}"),
                "rates are in bits per second, bursts in bits",
            )
        }),
    }
}

/// Go's `validateRateAndBurst`, plus the lower bounds below which the
/// kernel refuses the qdisc (Go finds out only half-way through ADD).
fn shape(rate: u64, burst: u64, prefix: &str, dir: &str) -> Result<Option<Shape>> {
    let bad = |msg: String| Err(Error::invalid_config(msg, ""));
    match (rate, burst) {
        (0, 0) => return Ok(None),
        (_, 0) => {
            return bad(format!(
                "if {prefix}{dir}Rate is set, {prefix}{dir}Burst must also be set"
            ));
        }
        (0, _) => {
            return bad(format!(
                "if {prefix}{dir}Burst is set, {prefix}{dir}Rate must also be set"
            ));
        }
        _ => {}
    }
    if burst / 8 >= u64::from(u32::MAX) {
        return bad(format!(
            "{prefix}{dir}Burst {burst} is too large: burst cannot be more than 4GB"
        ));
    }
    if rate < 8 {
        return bad(format!(
            "{prefix}{dir}Rate {rate} is too small: the kernel shapes whole bytes, so at least 8 bits per second"
        ));
    }
    if burst < 8 {
        return bad(format!(
            "{prefix}{dir}Burst {burst} is too small: at least 8 bits (one byte)"
        ));
    }
    Ok(Some(Shape { rate, burst }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load(v: Value) -> Result<Limits> {
        Limits::from_config(&v)
    }

    fn s(rate: u64, burst: u64) -> Option<Shape> {
        Some(Shape { rate, burst })
    }

    #[test]
    fn sources_and_precedence() {
        let cases = [
            (json!({}), Limits::default()),
            (
                json!({"ingressRate": 8000, "ingressBurst": 800}),
                Limits {
                    ingress: s(8000, 800),
                    egress: None,
                },
            ),
            (
                json!({"runtimeConfig": {"bandwidth": {"egressRate": 16, "egressBurst": 8}}}),
                Limits {
                    ingress: None,
                    egress: s(16, 8),
                },
            ),
            // containerd sends Go-default capitalised keys
            (
                json!({"runtimeConfig": {"bandWidth": {"IngressRate": 1000, "IngressBurst": 100,
                    "EgressRate": 2000, "EgressBurst": 200}}}),
                Limits {
                    ingress: s(1000, 100),
                    egress: s(2000, 200),
                },
            ),
            // any top-level key wins, even a zero one
            (
                json!({"ingressRate": 0, "runtimeConfig": {"bandwidth": {"egressRate": 16, "egressBurst": 8}}}),
                Limits::default(),
            ),
            (
                json!({"egressRate": 1000, "egressBurst": 100,
                    "runtimeConfig": {"bandwidth": {"ingressRate": 16, "ingressBurst": 8}}}),
                Limits {
                    ingress: None,
                    egress: s(1000, 100),
                },
            ),
            // null is absent
            (
                json!({"ingressRate": null, "runtimeConfig": {"bandwidth": {"egressRate": 16, "egressBurst": 8}}}),
                Limits {
                    ingress: None,
                    egress: s(16, 8),
                },
            ),
            (
                json!({"runtimeConfig": {"bandwidth": {}}}),
                Limits::default(),
            ),
            // containerd 1.6's CRI for the annotations 1M and 2M (captured
            // by test/e2e/containerd.sh): its fixed burst, MaxUint32 bits
            (
                json!({"capabilities": {"bandwidth": true}, "cniVersion": "1.0.0",
                    "name": "k8s-pod-network", "type": "bandwidth",
                    "runtimeConfig": {"bandwidth": {"IngressRate": 1000000,
                    "IngressBurst": 4294967295u64, "EgressRate": 2000000,
                    "EgressBurst": 4294967295u64}}}),
                Limits {
                    ingress: s(1_000_000, 4_294_967_295),
                    egress: s(2_000_000, 4_294_967_295),
                },
            ),
        ];
        for (conf, want) in cases {
            assert_eq!(load(conf.clone()).unwrap(), want, "{conf}");
        }
    }

    #[test]
    fn validation() {
        let cases = [
            (
                json!({"ingressRate": 1000}),
                "if ingressRate is set, ingressBurst must also be set",
            ),
            (
                json!({"egressBurst": 1000}),
                "if egressBurst is set, egressRate must also be set",
            ),
            (
                json!({"runtimeConfig": {"bandwidth": {"ingressRate": 1000}}}),
                "if runtimeConfig.bandwidth.ingressRate is set, runtimeConfig.bandwidth.ingressBurst must also be set",
            ),
            (
                json!({"egressRate": 1000, "egressBurst": 34_359_738_360u64}),
                "egressBurst 34359738360 is too large: burst cannot be more than 4GB",
            ),
            (
                json!({"ingressRate": 7, "ingressBurst": 800}),
                "ingressRate 7 is too small: the kernel shapes whole bytes, so at least 8 bits per second",
            ),
            (
                json!({"ingressRate": 800, "ingressBurst": 4}),
                "ingressBurst 4 is too small: at least 8 bits (one byte)",
            ),
            (
                json!({"ingressRate": -1, "ingressBurst": 4}),
                "ingressRate must be a non-negative integer, got -1",
            ),
            (
                json!({"ingressRate": "1000", "ingressBurst": 4}),
                "ingressRate must be a non-negative integer, got \"1000\"",
            ),
            (
                json!({"ingressRate": 1.5e3, "ingressBurst": 4}),
                "ingressRate must be a non-negative integer, got 1500.0",
            ),
        ];
        for (conf, msg) in cases {
            let e = load(conf.clone()).unwrap_err();
            assert_eq!(e.msg(), msg, "{conf}");
            assert_eq!(e.code(), 7, "{conf}");
        }
        // the largest burst Go accepts
        let max = (u64::from(u32::MAX) - 1) * 8 + 7;
        assert!(load(json!({"egressRate": 1000, "egressBurst": max})).is_ok());
        assert!(load(json!({"egressRate": 1000, "egressBurst": max + 1})).is_err());
    }
}

//! The plugin's own keys, read with Go's case-insensitive matching, and
//! validated before anything changes.

use serde::Deserialize;

use pkg::skel::CmdArgs;
use pkg::types::{CniArgs, decode};
use pkg::{Error, Result};

/// The most an alias may hold (IFALIASZ - 1).
const MAX_ALIAS: usize = 255;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Raw {
    /// Prefix of the interface alias; the network name follows it.
    alias_prefix: Option<String>,
    /// A DNS search domain to add to the result.
    search_domain: String,
    args: ArgsRaw,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ArgsRaw {
    cni: CniRaw,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct CniRaw {
    search_domain: String,
}

#[derive(Debug)]
pub struct SampleConf {
    /// The alias put on the container interface.
    pub alias: String,
    pub search_domain: Option<String>,
}

impl SampleConf {
    /// `searchDomain` comes from the config, overridden by `CNI_ARGS`
    /// `SAMPLE_DOMAIN=`, overridden by `args.cni.searchDomain` (the
    /// convention: `args` wins over `CNI_ARGS`).
    pub fn load(args: &CmdArgs) -> Result<SampleConf> {
        let raw: Raw = decode::decode(&args.config, "network config")?;
        let prefix = raw.alias_prefix.unwrap_or_else(|| "cni".to_string());
        if prefix.is_empty() || prefix.chars().any(char::is_control) {
            return Err(Error::invalid_config(
                format!("invalid aliasPrefix {prefix:?}: must be non-empty printable text"),
                "",
            ));
        }
        let alias = format!("{prefix}:{}", args.conf.name);
        if alias.len() > MAX_ALIAS {
            return Err(Error::invalid_config(
                format!(
                    "invalid aliasPrefix: the alias {alias:?} is longer than {MAX_ALIAS} bytes"
                ),
                "",
            ));
        }
        let mut domain = raw.search_domain;
        let env = CniArgs::parse(&args.args, &["SAMPLE_DOMAIN"])?;
        if let Some(d) = env.get("SAMPLE_DOMAIN").filter(|d| !d.is_empty()) {
            domain = d.to_string();
        }
        if !raw.args.cni.search_domain.is_empty() {
            domain = raw.args.cni.search_domain;
        }
        if !domain.is_empty() && !valid_domain(&domain) {
            return Err(Error::invalid_config(
                format!("invalid searchDomain {domain:?}: not a DNS name"),
                "",
            ));
        }
        Ok(SampleConf {
            alias,
            search_domain: (!domain.is_empty()).then_some(domain),
        })
    }
}

/// Letters, digits and hyphens in dot-separated labels of 1 to 63 bytes.
fn valid_domain(d: &str) -> bool {
    d.len() <= 253
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains() {
        for ok in ["example.com", "a", "svc.cluster.local", "x-1.y"] {
            assert!(valid_domain(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "a..b",
            "-a.b",
            "a-.b",
            "a b",
            "a/b",
            &"x".repeat(64),
        ] {
            assert!(!valid_domain(bad), "{bad}");
        }
    }
}

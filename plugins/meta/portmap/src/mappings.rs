//! Host port mappings, in Go's two layouts so that either implementation
//! tears down what the other made: iptables `nat` chains (`CNI-HOSTPORT-*`,
//! a `CNI-DN-<hash>` chain per network and container; `iptables.rs`) or the
//! nftables tables `ip`/`ip6 cni_hostport` (`nftables.rs`). See
//! Documentation/portmap.md.
//!
//! Each call plans from the current state and applies its change in one
//! transaction (see `pkg::firewall::converge`). Teardown works from names
//! alone (network, container ID, interface), so DEL needs neither
//! `prevResult` nor netns.

use std::collections::HashSet;
use std::net::IpAddr;

use ipnet::IpNet;

pub use pkg::firewall::Attachment;
use pkg::firewall::Backend;
pub use pkg::firewall::model::Protocol;
use pkg::types::GcAttachment;
use pkg::{Error, Result};

use crate::{iptables, nftables};

/// The default `markMasqBit`: Kubernetes uses 14 and 15, Calico 20 to 31.
pub const DEFAULT_MARK_BIT: u8 = 13;

/// One validated entry of `runtimeConfig.portMappings`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Protocol,
    /// `hostIP`; IPv4-mapped IPv6 addresses already turned into IPv4.
    pub host_ip: Option<IpAddr>,
}

impl PortMapping {
    /// For a container address of family `v4`: None when the mapping does
    /// not apply (its hostIP is of the other family), else the destination
    /// to match (None: any local address, as for `0.0.0.0` and `::`).
    pub fn destination(&self, v4: bool) -> Option<Option<IpAddr>> {
        match self.host_ip {
            None => Some(None),
            Some(ip) if ip.is_ipv4() != v4 => None,
            Some(ip) if ip.is_unspecified() => Some(None),
            Some(ip) => Some(Some(ip)),
        }
    }
}

/// The plugin's options that shape the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Masquerade hairpin and localhost traffic (`snat`, default true).
    pub snat: bool,
    /// Masquerade traffic from any source to the mapped ports (`masqAll`).
    pub masq_all: bool,
    /// iptables only: the mark bit that asks for masquerade.
    pub mark_masq_bit: u8,
    /// iptables only: an existing chain that sets the masquerade mark.
    pub external_set_mark_chain: Option<String>,
    /// Extra match arguments (iptables words or nftables tokens).
    pub conditions_v4: Vec<String>,
    pub conditions_v6: Vec<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            snat: true,
            masq_all: false,
            mark_masq_bit: DEFAULT_MARK_BIT,
            external_set_mark_chain: None,
            conditions_v4: Vec::new(),
            conditions_v6: Vec::new(),
        }
    }
}

impl Options {
    pub fn conditions(&self, v4: bool) -> &[String] {
        if v4 {
            &self.conditions_v4
        } else {
            &self.conditions_v6
        }
    }
}

/// Forward `mappings` to the container addresses `ips` (at most one per
/// family, with prefix). Idempotent: a repeated call replaces this
/// attachment's rules. On error, some families may be set up; the caller
/// undoes with [`teardown`].
pub fn setup(
    backend: Backend,
    att: &Attachment<'_>,
    ips: &[IpNet],
    mappings: &[PortMapping],
    opts: &Options,
) -> Result<()> {
    if ips.is_empty() || mappings.is_empty() {
        return Ok(());
    }
    check_names(att)?;
    match backend {
        Backend::Iptables => ips
            .iter()
            .try_for_each(|ip| iptables::setup(att, *ip, mappings, opts)),
        Backend::Nftables => nftables::setup(att, ips, mappings, opts),
    }
}

/// Whether the rules [`setup`] makes are all there.
pub fn check(
    backend: Backend,
    att: &Attachment<'_>,
    ips: &[IpNet],
    mappings: &[PortMapping],
    opts: &Options,
) -> Result<()> {
    if mappings.is_empty() {
        return Ok(());
    }
    match backend {
        Backend::Iptables => ips
            .iter()
            .try_for_each(|ip| iptables::check(att, *ip, mappings, opts)),
        Backend::Nftables => ips
            .iter()
            .try_for_each(|ip| nftables::check(att, *ip, mappings, opts)),
    }
}

/// Removes what [`setup`] (ours or Go's) made for this attachment, on both
/// backends and families. `known_ips` (from `prevResult`, may be empty)
/// narrows the nftables rules, whose comment is only the container ID, to
/// this attachment's. Anything already gone, tools included, counts as
/// removed.
pub fn teardown(att: &Attachment<'_>, known_ips: &[IpNet]) -> Result<()> {
    let errors = [iptables::teardown(att), nftables::teardown(att, known_ips)];
    Error::from_list(errors.into_iter().filter_map(Result::err).collect())
}

/// Removes port mappings of attachments of `network` not in `valid`.
/// iptables chains are found by their entry rule's comment (network and
/// container ID); nftables rules by the attachment markers this suite adds,
/// so rules made by Go's nftables backend are left to DEL.
pub fn gc(network: &str, valid: &[GcAttachment]) -> Result<()> {
    let ids: HashSet<&str> = valid.iter().map(|a| a.container_id.as_str()).collect();
    let errors = [iptables::gc(network, &ids), nftables::gc(network, valid)];
    Error::from_list(errors.into_iter().filter_map(Result::err).collect())
}

/// Names end up inside rule comments; skel's rules already exclude
/// anything that could break out of them, this keeps it so for callers
/// other than skel.
fn check_names(att: &Attachment<'_>) -> Result<()> {
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    };
    if ok(att.network) && ok(att.container_id) {
        Ok(())
    } else {
        Err(Error::invalid_config(
            format!(
                "network name {:?} or container ID {:?} has characters port mapping rules cannot carry",
                att.network, att.container_id
            ),
            "",
        ))
    }
}

#[cfg(test)]
#[path = "mappings_tests.rs"]
mod tests;

//! What a test needs from the machine beyond root (firewall tools,
//! Debian's Go plugins), and what it does without: each missing piece goes
//! through [`pkg::skip::because`], so it is a skip with the reason, or a
//! failure under `CNI_TESTS_REQUIRE_PRIV`.

use std::path::PathBuf;

use crate::{GO_PLUGIN_DIR, go_plugin, has_tool, skip};

/// The firewall backends (`iptables`, `nftables`) whose tools are
/// installed; each missing one is reported.
#[track_caller]
pub fn backends() -> Vec<&'static str> {
    let mut found = Vec::new();
    for (backend, tool) in [("iptables", "iptables"), ("nftables", "nft")] {
        if has_tool(tool) {
            found.push(backend);
        } else {
            skip::because(format!("the {backend} backend: {tool} not installed"));
        }
    }
    found
}

/// Debian's Go `name` when it and the plugins it delegates to (`also`)
/// are installed; otherwise reported, and `None`.
#[track_caller]
pub fn require_go(name: &str, also: &[&str]) -> Option<PathBuf> {
    let go = go_plugin(name);
    let missing: Vec<&str> = std::iter::once(name)
        .chain(also.iter().copied())
        .filter(|p| go_plugin(p).is_none())
        .collect();
    if !missing.is_empty() {
        skip::because(format!(
            "Debian's Go {} not installed at {GO_PLUGIN_DIR} (apt-get install containernetworking-plugins)",
            missing.join(", ")
        ));
        return None;
    }
    go
}

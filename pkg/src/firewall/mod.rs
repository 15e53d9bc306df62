//! Firewall state the plugins own, and the only module that runs
//! `iptables` or `nft` or speaks nf_tables.
//!
//! One model ([`model`]): a layout (masquerade here; port mappings, the
//! firewall plugin's forwarding rules and the MAC spoof check in their
//! plugins) describes the tables, chains and rules it wants, each rule
//! keyed by chain, comment and target; it plans a change ([`plan::Op`]s)
//! from the current state ([`plan::State`]), and [`converge::converge`]
//! has a backend apply it in one transaction: nf_tables over netlink for
//! nft's tables and iptables-nft's (`nft`), the iptables tools for
//! iptables-legacy and for rules in the tool's own syntax (`ipt`,
//! `nftext`). The layouts are Go's, byte for byte in the kernel, so that
//! either implementation cleans up after the other. See
//! Documentation/firewall-rules.md.

pub mod converge;
mod exec;
mod ipt;
pub mod masq;
pub mod model;
pub mod names;
mod natmemo;
pub(crate) mod nft;
mod nftext;
pub mod plan;
#[cfg(any(test, feature = "testkit"))]
pub mod testing;

use crate::error::{Error, Result};

/// `rule` in iptables' words (what follows `-A <chain>`), for messages.
pub fn iptables_words(rule: &model::Rule) -> String {
    ipt::words(rule)
}

/// Which attachment rules belong to: what the runtime passes as the
/// network name, `CNI_CONTAINERID` and `CNI_IFNAME`.
#[derive(Debug, Clone, Copy)]
pub struct Attachment<'a> {
    pub network: &'a str,
    pub container_id: &'a str,
    pub ifname: &'a str,
}

impl<'a> Attachment<'a> {
    /// The attachment a request is about.
    pub fn of(args: &'a crate::skel::CmdArgs) -> Self {
        Attachment {
            network: &args.conf.name,
            container_id: &args.container_id,
            ifname: &args.ifname,
        }
    }
}

/// Where masquerade rules live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Iptables,
    Nftables,
}

/// `ipMasqBackend` from the config: "iptables", "nftables", or None to
/// detect (iptables unless only nftables works, as Go does).
pub fn select_backend(configured: Option<&str>) -> Result<Backend> {
    match configured {
        Some("iptables") => Ok(Backend::Iptables),
        Some("nftables") => Ok(Backend::Nftables),
        Some(other) => Err(Error::invalid_config(
            format!("unknown ipmasq backend {other:?}"),
            "ipMasqBackend must be \"iptables\" or \"nftables\"",
        )),
        None => Ok(detect(
            exec::find_tool("iptables").is_some(),
            exec::find_tool("nft").is_some(),
            iptables_works,
            nft_works,
        )),
    }
}

/// Binary presence decides when only one tool is installed, so no probe
/// (and no capability) is needed then. With both, the probes only break
/// the tie in favour of nftables when iptables is unusable and nft is not;
/// a probe that fails for want of privileges leaves iptables, like Go.
fn detect(
    has_iptables: bool,
    has_nft: bool,
    iptables_works: impl FnOnce() -> bool,
    nft_works: impl FnOnce() -> bool,
) -> Backend {
    match (has_iptables, has_nft) {
        (false, true) => Backend::Nftables,
        (true, true) if !iptables_works() && nft_works() => Backend::Nftables,
        _ => Backend::Iptables,
    }
}

/// Whether nft can change rules here, as `knftables` checks it.
fn nft_works() -> bool {
    exec::run(
        "nft",
        &["--check", "add", "table", "inet", "cni_plugins_masquerade"],
        None,
    )
    .is_ok()
}

/// Whether iptables can read the nat table, which is what masquerade needs
/// (iptables-nft refuses a nat table that nft-native tools own). Answered
/// over netlink when that proves it ([`nat_readable_over_netlink`]), else
/// by the tool: a process per ADD, whose listing of POSTROUTING holds a
/// jump per container on the node.
fn iptables_works() -> bool {
    nat_readable_over_netlink().is_some()
        || exec::run("iptables", &["-w", "-t", "nat", "-S", "POSTROUTING"], None).is_ok()
}

/// `Some` when netlink shows that iptables-nft can read the nat table:
/// there is none yet (iptables would make it), or POSTROUTING exists and
/// each of its rules decodes as iptables writes it. `None` (ask the tool)
/// for anything else: iptables-legacy, no netfilter netlink here, or a
/// rule ours does not know, which may be one that nft-native tools wrote
/// and iptables cannot read. The rule set unchanged since a listing said
/// so ([`natmemo`]) needs no listing.
fn nat_readable_over_netlink() -> Option<()> {
    let nat = masq::ipt::table(model::Family::Ip);
    if !ipt::uses_nftables(nat) {
        return None;
    }
    let mut session = nft::Session::open().ok()?;
    let before = natmemo::Point::now(&mut session);
    if before.as_ref().is_some_and(natmemo::proves) {
        natmemo::keep_session(session);
        return Some(());
    }
    let state: &mut dyn plan::State = &mut session;
    if state.table_exists(nat).ok()? {
        if !state.chain_exists(nat, masq::ipt::POSTROUTING).ok()? {
            return None;
        }
        let rules = state.rules(nat, masq::ipt::POSTROUTING).ok()?;
        if !rules.iter().all(model::Rule::is_known) {
            return None;
        }
    }
    if let Some(at) = before {
        natmemo::listed_readable(at, &mut session);
    }
    natmemo::keep_session(session);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_backends() {
        assert_eq!(select_backend(Some("iptables")).unwrap(), Backend::Iptables);
        assert_eq!(select_backend(Some("nftables")).unwrap(), Backend::Nftables);
        for bad in ["", "IPTABLES", "nft", "bpf"] {
            let err = select_backend(Some(bad)).unwrap_err();
            assert_eq!(err.code(), 7);
            assert!(err.msg().contains(&format!("{bad:?}")), "{}", err.msg());
        }
    }

    /// (iptables installed, nft installed, iptables probe, nft probe, answer);
    /// a None probe must not run.
    type DetectCase = (bool, bool, Option<bool>, Option<bool>, Backend);

    #[test]
    fn detection() {
        let never = || -> bool { panic!("probe must not run") };
        let cases: [DetectCase; 7] = [
            (true, false, None, None, Backend::Iptables),
            (false, true, None, None, Backend::Nftables),
            (false, false, None, None, Backend::Iptables),
            (true, true, Some(true), None, Backend::Iptables),
            (true, true, Some(false), Some(true), Backend::Nftables),
            // Neither probe works (no CAP_NET_ADMIN): binaries decide, as in Go.
            (true, true, Some(false), Some(false), Backend::Iptables),
            (true, false, Some(false), None, Backend::Iptables),
        ];
        for (ipt, nft, ipt_ok, nft_ok, want) in cases {
            let got = detect(
                ipt,
                nft,
                || ipt_ok.unwrap_or_else(never),
                || nft_ok.unwrap_or_else(never),
            );
            assert_eq!(got, want, "{ipt} {nft} {ipt_ok:?} {nft_ok:?}");
        }
    }

    #[test]
    fn detects_by_binary_alone() {
        let _no_iptables = exec::hide_tools(&["iptables"]);
        let nft = exec::find_tool("nft").is_some();
        let want = if nft {
            Backend::Nftables
        } else {
            Backend::Iptables
        };
        assert_eq!(select_backend(None).unwrap(), want);
        let _no_nft = exec::hide_tools(&["nft"]);
        assert_eq!(select_backend(None).unwrap(), Backend::Iptables);
    }

    #[test]
    fn detects_on_this_host() {
        if !testing::fresh_netns(&[]) {
            return;
        }
        let want = if exec::find_tool("iptables").is_some() || exec::find_tool("nft").is_none() {
            Backend::Iptables
        } else {
            Backend::Nftables
        };
        assert_eq!(select_backend(None).unwrap(), want);
    }
}

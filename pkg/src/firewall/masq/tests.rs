//! Privileged end-to-end tests of masquerade, each in a fresh netns.

use super::*;
use crate::firewall::exec::exec_count;
use crate::firewall::names::{format_chain_name, format_comment};
use crate::firewall::testing::{current_netns, fresh_netns, join_netns, nat_rules, ruleset, run};

const NET: &str = "mynet";

fn nets(list: &[&str]) -> Vec<IpNet> {
    list.iter().map(|s| s.parse().unwrap()).collect()
}

fn att(id: &str, ifname: &str) -> GcAttachment {
    GcAttachment {
        container_id: id.into(),
        ifname: ifname.into(),
    }
}

/// Whether iptables and ip6tables are iptables-nft, whose rules teardown
/// finds over netlink without running them.
fn ipt_nft() -> bool {
    crate::firewall::ipt::uses_nftables(ipt::table(Family::Ip))
        && crate::firewall::ipt::uses_nftables(ipt::table(Family::Ip6))
}

/// Runs `f` and returns how many tools it started.
fn execs(f: impl FnOnce()) -> usize {
    let before = exec_count();
    f();
    exec_count() - before
}

/// Our comment as `iptables -S` prints it.
fn printed_comment(id: &str) -> String {
    format!("\"name: \\\"{NET}\\\" id: \\\"{id}\\\"\"")
}

/// The `-S` lines of Go's layout for one container and CIDR.
fn go_lines(id: &str, cidr: &str) -> Vec<String> {
    let chain = format_chain_name(NET, id);
    let c = printed_comment(id);
    let net: IpNet = cidr.parse().unwrap();
    let (mcast, host_len) = match net {
        IpNet::V4(_) => ("224.0.0.0/4", 32),
        IpNet::V6(_) => ("ff00::/8", 128),
    };
    vec![
        format!("-N {chain}"),
        format!(
            "-A POSTROUTING -s {}/{host_len} -m comment --comment {c} -j {chain}",
            net.addr()
        ),
        format!(
            "-A {chain} -d {} -m comment --comment {c} -j ACCEPT",
            net.trunc()
        ),
        format!("-A {chain} ! -d {mcast} -m comment --comment {c} -j MASQUERADE"),
    ]
}

fn masq_rules() -> Vec<String> {
    ruleset()
        .lines()
        .filter(|l| l.contains("masquerade comment"))
        .map(|l| l.trim().to_string())
        .collect()
}

#[test]
fn iptables_lifecycle_dual_stack() {
    if !fresh_netns(&[
        "iptables",
        "ip6tables",
        "iptables-restore",
        "ip6tables-restore",
    ]) {
        return;
    }
    let ips = nets(&["10.88.0.5/16", "fd00:88::5/64"]);
    let n = execs(|| setup(Backend::Iptables, NET, "eth0", "c1", &ips).unwrap());
    let want = if ipt_nft() { 2 } else { 4 };
    assert_eq!(n, want, "a new chain: one restore per family, no listing");
    assert_eq!(nat_rules("iptables"), go_lines("c1", "10.88.0.5/16"));
    assert_eq!(nat_rules("ip6tables"), go_lines("c1", "fd00:88::5/64"));

    let n = execs(|| setup(Backend::Iptables, NET, "eth0", "c1", &ips).unwrap());
    let want = if ipt_nft() { 0 } else { 2 };
    assert_eq!(
        n, want,
        "a repeated setup only lists, over netlink where it can"
    );
    assert_eq!(nat_rules("iptables"), go_lines("c1", "10.88.0.5/16"));
    assert_eq!(nat_rules("ip6tables"), go_lines("c1", "fd00:88::5/64"));

    let n = execs(|| teardown(NET, "eth0", "c1").unwrap());
    let want = if ipt_nft() { 0 } else { 4 };
    assert_eq!(n, want, "iptables-nft: found and deleted over netlink");
    assert!(nat_rules("iptables").is_empty());
    assert!(nat_rules("ip6tables").is_empty());
}

#[test]
fn nftables_lifecycle_dual_stack() {
    if !fresh_netns(&["nft", "iptables", "ip6tables"]) {
        return;
    }
    let ips = nets(&["10.88.0.5/16", "fd00:88::5/64"]);
    let n = execs(|| setup(Backend::Nftables, NET, "eth0", "c1", &ips).unwrap());
    assert_eq!(n, 0, "one transaction over netlink");
    let comment = nft::comment_for_instance(NET, "eth0", "c1");
    let want = [
        format!("ip saddr 10.88.0.5 ip daddr != 10.88.0.0/16 masquerade comment \"{comment}\""),
        format!("ip6 saddr fd00:88::5 ip6 daddr != fd00:88::/64 masquerade comment \"{comment}\""),
    ];
    assert_eq!(masq_rules(), want);
    let text = ruleset();
    for line in [
        "comment \"Masquerading for plugins from github.com/containernetworking/plugins\"",
        "comment \"Masquerade traffic from certain IPs to any (non-multicast) IP outside their subnet\"",
        "type nat hook postrouting priority srcnat; policy accept;",
        "ip daddr 224.0.0.0/4 return",
        "ip6 daddr ff00::/8 return",
        "goto masq_checks",
    ] {
        assert_eq!(text.matches(line).count(), 1, "{line} in {text}");
    }

    let n = execs(|| setup(Backend::Nftables, NET, "eth0", "c1", &ips).unwrap());
    assert_eq!(n, 0, "with the base chains in place: netlink only");
    assert_eq!(ruleset().matches("goto masq_checks").count(), 1);
    // A second ADD without DEL (which the spec forbids) does not look for
    // the first one's rules; teardown removes both sets.
    let twice: Vec<String> = want.iter().chain(&want).cloned().collect();
    assert_eq!(masq_rules(), twice);
    teardown(NET, "eth0", "c1").unwrap();
    assert!(masq_rules().is_empty());
    setup(Backend::Nftables, NET, "eth0", "c1", &ips).unwrap();
    assert_eq!(masq_rules(), want);

    // Same container on another ifname is another attachment.
    setup(
        Backend::Nftables,
        NET,
        "eth1",
        "c1",
        &nets(&["10.99.0.5/24"]),
    )
    .unwrap();
    let n = execs(|| teardown(NET, "eth0", "c1").unwrap());
    let want = if ipt_nft() { 0 } else { 2 };
    assert_eq!(n, want, "found and deleted over netlink");
    let left = masq_rules();
    assert_eq!(left.len(), 1);
    assert!(left[0].contains("if: eth1, id: c1"), "{left:?}");
    teardown(NET, "eth1", "c1").unwrap();
    assert!(masq_rules().is_empty());
    assert!(nat_rules("iptables").is_empty());
}

#[test]
fn teardown_when_nothing_exists() {
    if !fresh_netns(&["nft", "iptables", "ip6tables"]) {
        return;
    }
    let n = execs(|| teardown(NET, "eth0", "nothing").unwrap());
    let want = if ipt_nft() { 0 } else { 2 };
    assert_eq!(n, want, "the kernel says there is nothing");
    // A table without our chain or rules is also nothing.
    run(&["nft", "add", "table", "inet", "cni_plugins_masquerade"]);
    teardown(NET, "eth0", "nothing").unwrap();
    gc(NET, &[]).unwrap();
    assert!(nat_rules("iptables").is_empty());
}

/// Teardown first looks for the jumps right after the chain's rules, where
/// setup puts them: a jump elsewhere (Go's old `-s <subnet>` form, added
/// later) must go too, and the neighbours' jumps, made in between, stay.
#[test]
fn teardown_finds_jumps_away_from_the_chain() {
    if !fresh_netns(&["iptables", "iptables-restore"]) {
        return;
    }
    for id in ["a", "b", "c"] {
        let ip = format!("10.88.0.{}/16", 5 + id.as_bytes()[0] - b'a');
        setup(Backend::Iptables, NET, "eth0", id, &nets(&[&ip])).unwrap();
    }
    let chain = format_chain_name(NET, "b");
    let comment = format_comment(NET, "b");
    run(&[
        "iptables",
        "-w",
        "-t",
        "nat",
        "-A",
        "POSTROUTING",
        "-s",
        "10.88.0.0/16",
        "-m",
        "comment",
        "--comment",
        &comment,
        "-j",
        &chain,
    ]);
    teardown(NET, "eth0", "b").unwrap();
    let left = nat_rules("iptables");
    assert!(!left.iter().any(|l| l.contains(&chain)), "{left:?}");
    let mut want = go_lines("a", "10.88.0.5/16");
    want.extend(go_lines("c", "10.88.0.7/16"));
    want.sort();
    let mut left = left;
    left.sort();
    assert_eq!(left, want);
    teardown(NET, "eth0", "a").unwrap();
    teardown(NET, "eth0", "c").unwrap();
    assert!(nat_rules("iptables").is_empty());
}

#[test]
fn teardown_leaves_other_attachments() {
    if !fresh_netns(&[
        "nft",
        "iptables",
        "ip6tables",
        "iptables-restore",
        "ip6tables-restore",
    ]) {
        return;
    }
    setup(
        Backend::Iptables,
        NET,
        "eth0",
        "a",
        &nets(&["10.88.0.5/16"]),
    )
    .unwrap();
    setup(
        Backend::Iptables,
        NET,
        "eth0",
        "b",
        &nets(&["10.88.0.6/16"]),
    )
    .unwrap();
    setup(
        Backend::Nftables,
        NET,
        "eth0",
        "a",
        &nets(&["10.88.0.5/16"]),
    )
    .unwrap();
    setup(
        Backend::Nftables,
        NET,
        "eth0",
        "b",
        &nets(&["10.88.0.6/16"]),
    )
    .unwrap();
    teardown(NET, "eth0", "a").unwrap();
    assert_eq!(nat_rules("iptables"), go_lines("b", "10.88.0.6/16"));
    let left = masq_rules();
    assert_eq!(left.len(), 1);
    assert!(left[0].contains("id: b"), "{left:?}");
}

#[test]
fn gc_keeps_valid_and_removes_stale() {
    if !fresh_netns(&[
        "nft",
        "iptables",
        "ip6tables",
        "iptables-restore",
        "ip6tables-restore",
    ]) {
        return;
    }
    for (id, ip) in [
        ("a", "10.88.0.1/16"),
        ("b", "10.88.0.2/16"),
        ("c", "fd00::3/64"),
    ] {
        setup(Backend::Iptables, NET, "eth0", id, &nets(&[ip])).unwrap();
    }
    setup(
        Backend::Iptables,
        "othernet",
        "eth0",
        "b",
        &nets(&["10.77.0.2/16"]),
    )
    .unwrap();
    for (id, ifname, ip) in [
        ("a", "eth0", "10.88.0.1/16"),
        ("a", "eth1", "10.99.0.1/16"),
        ("b", "eth0", "10.88.0.2/16"),
    ] {
        setup(Backend::Nftables, NET, ifname, id, &nets(&[ip])).unwrap();
    }
    setup(
        Backend::Nftables,
        "othernet",
        "eth0",
        "b",
        &nets(&["10.77.0.2/16"]),
    )
    .unwrap();

    gc(NET, &[att("a", "eth0"), att("c", "eth9")]).unwrap();

    let v4 = nat_rules("iptables");
    let mut want = go_lines("a", "10.88.0.1/16");
    let other = go_lines_for("othernet", "b", "10.77.0.2/16");
    assert!(want.iter().chain(&other).all(|l| v4.contains(l)), "{v4:?}");
    want.extend(other);
    assert_eq!(v4.len(), want.len(), "{v4:?}");
    assert_eq!(nat_rules("ip6tables"), go_lines("c", "fd00::3/64"));

    let left = masq_rules();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(
        left.iter()
            .any(|l| l.contains("net: mynet, if: eth0, id: a"))
    );
    assert!(
        left.iter()
            .any(|l| l.contains("net: othernet, if: eth0, id: b"))
    );

    gc(NET, &[]).unwrap();
    assert_eq!(nat_rules("iptables").len(), 4);
    assert!(nat_rules("ip6tables").is_empty());
    assert_eq!(masq_rules().len(), 1);
}

fn go_lines_for(net: &str, id: &str, cidr: &str) -> Vec<String> {
    let chain = format_chain_name(net, id);
    let c = format!("\"name: \\\"{net}\\\" id: \\\"{id}\\\"\"");
    let n: IpNet = cidr.parse().unwrap();
    vec![
        format!("-N {chain}"),
        format!(
            "-A POSTROUTING -s {}/32 -m comment --comment {c} -j {chain}",
            n.addr()
        ),
        format!(
            "-A {chain} -d {} -m comment --comment {c} -j ACCEPT",
            n.trunc()
        ),
        format!("-A {chain} ! -d 224.0.0.0/4 -m comment --comment {c} -j MASQUERADE"),
    ]
}

fn concurrent_setups(backend: Backend) {
    let ns = current_netns();
    std::thread::scope(|s| {
        for i in 0..10 {
            let ns = &ns;
            s.spawn(move || {
                join_netns(ns);
                let ips = nets(&[
                    &format!("10.88.0.{}/16", i + 10),
                    &format!("fd00::{}/64", i + 10),
                ]);
                setup(backend, NET, "eth0", &format!("ctr{i}"), &ips).unwrap();
            });
        }
    });
}

#[test]
fn concurrent_setup_iptables() {
    if !fresh_netns(&[
        "iptables",
        "ip6tables",
        "iptables-restore",
        "ip6tables-restore",
    ]) {
        return;
    }
    concurrent_setups(Backend::Iptables);
    for (tool, mask) in [("iptables", "/32"), ("ip6tables", "/128")] {
        let rules = nat_rules(tool);
        assert_eq!(rules.len(), 40, "{tool}: {rules:?}");
        for i in 0..10 {
            let chain = format_chain_name(NET, &format!("ctr{i}"));
            let jumps = rules
                .iter()
                .filter(|l| l.starts_with("-A POSTROUTING") && l.ends_with(&chain));
            assert_eq!(jumps.count(), 1);
            assert!(
                rules
                    .iter()
                    .any(|l| l.contains(&format!("{}{mask}", i + 10)) && l.ends_with(&chain))
            );
        }
    }
}

#[test]
fn concurrent_setup_nftables() {
    if !fresh_netns(&["nft"]) {
        return;
    }
    concurrent_setups(Backend::Nftables);
    let rules = masq_rules();
    assert_eq!(rules.len(), 20, "{rules:?}");
    for i in 0..10 {
        assert_eq!(
            rules
                .iter()
                .filter(|l| l.ends_with(&format!("id: ctr{i}\"")))
                .count(),
            2
        );
    }
    assert_eq!(ruleset().matches("goto masq_checks").count(), 1);
}

/// Go 1.1.1's bridge made these with go-iptables, one exec per step.
fn go_setup(tool: &str, id: &str, cidr: &str, mcast: &str) {
    let chain = format_chain_name(NET, id);
    let comment = format_comment(NET, id);
    let ip = cidr.split('/').next().unwrap();
    run(&[tool, "-t", "nat", "-N", &chain]);
    run(&[
        tool,
        "-t",
        "nat",
        "-A",
        &chain,
        "-d",
        cidr,
        "-j",
        "ACCEPT",
        "-m",
        "comment",
        "--comment",
        &comment,
    ]);
    run(&[
        tool,
        "-t",
        "nat",
        "-A",
        &chain,
        "!",
        "-d",
        mcast,
        "-j",
        "MASQUERADE",
        "-m",
        "comment",
        "--comment",
        &comment,
    ]);
    run(&[
        tool,
        "-t",
        "nat",
        "-A",
        "POSTROUTING",
        "-s",
        ip,
        "-j",
        &chain,
        "-m",
        "comment",
        "--comment",
        &comment,
    ]);
}

#[test]
fn interop_removes_go_made_rules() {
    if !fresh_netns(&[
        "nft",
        "iptables",
        "ip6tables",
        "iptables-restore",
        "ip6tables-restore",
    ]) {
        return;
    }
    go_setup("iptables", "goctr", "10.88.0.5/16", "224.0.0.0/4");
    go_setup("ip6tables", "goctr", "fd00::5/64", "ff00::/8");
    // The form Go used before it stopped adding the mask to -s.
    let chain = format_chain_name(NET, "goctr");
    run(&[
        "iptables",
        "-t",
        "nat",
        "-A",
        "POSTROUTING",
        "-s",
        "10.88.0.5/16",
        "-j",
        &chain,
        "-m",
        "comment",
        "--comment",
        &format_comment(NET, "goctr"),
    ]);
    assert_eq!(nat_rules("iptables").len(), 5);
    // Ours sees Go's rules as already there.
    let ips = nets(&["10.88.0.5/16", "fd00::5/64"]);
    let n = execs(|| setup(Backend::Iptables, NET, "eth0", "goctr", &ips).unwrap());
    assert_eq!(n, if ipt_nft() { 0 } else { 2 }, "nothing to add");

    teardown(NET, "eth0", "goctr").unwrap();
    assert!(nat_rules("iptables").is_empty());
    assert!(nat_rules("ip6tables").is_empty());
}

#[test]
fn interop_go_teardown_removes_our_rules() {
    if !fresh_netns(&[
        "iptables",
        "ip6tables",
        "iptables-restore",
        "ip6tables-restore",
    ]) {
        return;
    }
    // The first chain goes in by restore (no nat table yet), later ones
    // over netlink: both must be what Go's iptables calls make.
    let ips = nets(&["10.88.0.5/16", "fd00::5/64"]);
    setup(Backend::Iptables, NET, "eth0", "first", &ips).unwrap();
    let n = execs(|| setup(Backend::Iptables, NET, "eth0", "rsctr", &ips).unwrap());
    if ipt_nft() {
        assert_eq!(n, 0, "with the nat table in place, no tool runs");
    }
    go_setup("iptables", "goctr", "10.88.0.5/16", "224.0.0.0/4");
    go_setup("ip6tables", "goctr", "fd00::5/64", "ff00::/8");
    if ipt_nft() {
        // Same expressions as the ones iptables made (the comment lives in
        // the match's info, which -S shows).
        for fam in ["ip", "ip6"] {
            let exprs = |chain: &str| -> Vec<String> {
                run(&["nft", "--debug=netlink", "list", "chain", fam, "nat", chain])
                    .lines()
                    .filter(|l| l.trim_start().starts_with('['))
                    .map(String::from)
                    .collect()
            };
            let ours = exprs(&format_chain_name(NET, "rsctr"));
            assert!(!ours.is_empty());
            assert_eq!(ours, exprs(&format_chain_name(NET, "goctr")), "{fam}");
        }
    }
    for (tool, cidr) in [("iptables", "10.88.0.5/16"), ("ip6tables", "fd00::5/64")] {
        let listed = nat_rules(tool);
        for line in go_lines("rsctr", cidr) {
            assert!(listed.contains(&line), "{line} in {listed:?}");
        }
    }
    let chain = format_chain_name(NET, "rsctr");
    let comment = format_comment(NET, "rsctr");
    // Go's TeardownIPMasq, step by step.
    for (tool, ip) in [("iptables", "10.88.0.5"), ("ip6tables", "fd00::5")] {
        run(&[
            tool,
            "-t",
            "nat",
            "-D",
            "POSTROUTING",
            "-s",
            ip,
            "-j",
            &chain,
            "-m",
            "comment",
            "--comment",
            &comment,
        ]);
        run(&[tool, "-t", "nat", "-F", &chain]);
        run(&[tool, "-t", "nat", "-X", &chain]);
        assert!(!nat_rules(tool).iter().any(|l| l.contains("rsctr")));
    }
}

#[test]
fn interop_removes_knftables_made_rules() {
    if !fresh_netns(&["nft"]) {
        return;
    }
    // What Go's knftables backend writes to nft for one container.
    let comment = nft::comment_for_instance(NET, "eth0", "goctr");
    let script = format!(
        "add table inet cni_plugins_masquerade {{ comment \"Masquerading for plugins from github.com/containernetworking/plugins\" ; }}
add chain inet cni_plugins_masquerade masq_checks {{ comment \"Masquerade traffic from certain IPs to any (non-multicast) IP outside their subnet\" ; }}
add chain inet cni_plugins_masquerade postrouting {{ type nat hook postrouting priority 100 ; }}
flush chain inet cni_plugins_masquerade postrouting
add rule inet cni_plugins_masquerade postrouting ip daddr == 224.0.0.0/4  return
add rule inet cni_plugins_masquerade postrouting ip6 daddr == ff00::/8  return
add rule inet cni_plugins_masquerade postrouting goto masq_checks
add rule inet cni_plugins_masquerade masq_checks ip saddr == 10.88.0.5 ip daddr != 10.88.0.0/16 masquerade comment \"{comment}\"
"
    );
    crate::firewall::exec::run("nft", &["-f", "-"], Some(&script)).unwrap();
    // Ours takes Go's base chain as it is.
    setup(
        Backend::Nftables,
        NET,
        "eth0",
        "ourctr",
        &nets(&["10.88.0.6/16"]),
    )
    .unwrap();
    assert_eq!(masq_rules().len(), 2);
    assert_eq!(ruleset().matches("goto masq_checks").count(), 1);
    teardown(NET, "eth0", "goctr").unwrap();
    let left = masq_rules();
    assert_eq!(left.len(), 1);
    assert!(left[0].contains("id: ourctr"), "{left:?}");
    teardown(NET, "eth0", "ourctr").unwrap();
    assert!(masq_rules().is_empty());
}

#[test]
fn setup_without_ips_does_nothing() {
    let n = execs(|| setup(Backend::Iptables, NET, "eth0", "c", &[]).unwrap());
    assert_eq!(n, 0);
}

#[test]
fn missing_tools() {
    // Nothing can run, but the kernel is asked directly: a netns of its own.
    if !fresh_netns(&[]) {
        return;
    }
    let _hidden = crate::firewall::exec::hide_tools(&[
        "iptables",
        "ip6tables",
        "nft",
        "iptables-restore",
        "ip6tables-restore",
    ]);
    let chain = format_chain_name(NET, "c1");
    // iptables makes its own nat table and POSTROUTING: without it,
    // iptables masquerade cannot start.
    let err = setup(
        Backend::Iptables,
        NET,
        "eth0",
        "c1",
        &nets(&["10.88.0.5/16"]),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&chain) && msg.contains("iptables-restore not found"),
        "{msg}"
    );
    // nftables masquerade needs no tool at all.
    setup(Backend::Nftables, NET, "eth0", "c1", &nets(&["fd00::5/64"])).unwrap();
    let n = execs(|| {
        teardown(NET, "eth0", "c1").unwrap();
        gc(NET, &[]).unwrap();
    });
    assert_eq!(n, 0, "nothing to run");
}

#[test]
fn unusable_iptables_nat_table() {
    if !fresh_netns(&["nft", "iptables", "ip6tables"]) || !ipt_nft() {
        return;
    }
    // An nft-native rule iptables-nft cannot show makes the nat table
    // "incompatible" for iptables (upstream #519, #461). Over netlink the
    // rules are set up, found and removed all the same.
    crate::firewall::exec::run(
        "nft",
        &["-f", "-"],
        Some(
            "add table ip nat
add chain ip nat POSTROUTING { type nat hook postrouting priority 100 ; }
add rule ip nat POSTROUTING meta l4proto tcp ct state new counter
",
        ),
    )
    .unwrap();
    let ips = nets(&["10.88.0.5/16"]);
    setup(Backend::Iptables, NET, "eth0", "c1", &ips).unwrap();
    setup(Backend::Iptables, NET, "eth0", "c1", &ips).unwrap();
    let chain = format_chain_name(NET, "c1");
    assert!(ruleset().contains(&chain));
    assert_eq!(
        crate::firewall::select_backend(None).unwrap(),
        Backend::Nftables
    );
    setup(Backend::Nftables, NET, "eth0", "c1", &ips).unwrap();
    teardown(NET, "eth0", "c1").unwrap();
    gc(NET, &[]).unwrap();
    assert!(masq_rules().is_empty());
    let left = ruleset();
    assert!(
        !left.contains(&chain),
        "teardown removes the chain too: {left}"
    );
    assert!(left.contains("ct state new"), "the foreign rule stays");
}

#[test]
fn detection_reads_an_iptables_nft_nat_table_without_the_tool() {
    if !fresh_netns(&["nft", "iptables", "ip6tables"]) || !ipt_nft() {
        return;
    }
    let detect = || crate::firewall::select_backend(None).unwrap();
    // No nat table yet, then our masquerade's chain and jump in it, then a
    // rule of the operator's that iptables wrote: all read over netlink,
    // and no process runs however many containers the node has.
    assert_eq!(execs(|| assert_eq!(detect(), Backend::Iptables)), 0);
    setup(
        Backend::Iptables,
        NET,
        "eth0",
        "c1",
        &nets(&["10.88.0.5/16"]),
    )
    .unwrap();
    assert_eq!(execs(|| assert_eq!(detect(), Backend::Iptables)), 0);
    let append = |rule: &[&str]| {
        let head = ["iptables", "-w", "-t", "nat", "-A", "POSTROUTING"];
        run(&[&head[..], rule].concat());
    };
    append(&["-o", "lo", "-j", "RETURN"]);
    assert_eq!(execs(|| assert_eq!(detect(), Backend::Iptables)), 0);
    // A rule the model does not know: the tool decides (it can read this
    // one, an xt match iptables wrote).
    append(&["-m", "limit", "--limit", "5/s", "-j", "RETURN"]);
    assert!(execs(|| assert_eq!(detect(), Backend::Iptables)) > 0);
}

#[test]
fn the_readable_nat_memo_lasts_until_another_process_commits() {
    use crate::firewall::natmemo::{self, Point};
    if !fresh_netns(&["nft", "iptables", "ip6tables"]) || !ipt_nft() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    natmemo::use_path(dir.path().join("memo"));
    let now = || Point::now(&mut crate::firewall::nft::Session::open().unwrap()).unwrap();
    let detect = || crate::firewall::select_backend(None).unwrap();
    let dual = nets(&["10.88.0.5/16", "fd00::5/64"]);
    // The first container's setup has iptables make the tables: a tool's
    // commits carry nothing.
    setup(Backend::Iptables, NET, "eth0", "c0", &dual).unwrap();
    assert_eq!(natmemo::read(), None);
    // A listing, then a setup's two commits (one per family), then a
    // teardown's: the memo follows each, and a detection then lists
    // nothing and runs nothing.
    assert_eq!(detect(), Backend::Iptables);
    setup(Backend::Iptables, NET, "eth0", "c1", &dual).unwrap();
    assert_eq!(natmemo::read(), Some(now()));
    assert_eq!(execs(|| assert_eq!(detect(), Backend::Iptables)), 0);
    teardown(NET, "eth0", "c1").unwrap();
    assert_eq!(natmemo::read(), Some(now()));
    // Another namespace reads the same file as a miss.
    let here = now();
    let elsewhere = std::thread::spawn(move || {
        fresh_netns(&[]).then(|| Point::now(&mut crate::firewall::nft::Session::open().unwrap()))
    })
    .join()
    .unwrap();
    if let Some(Some(there)) = elsewhere {
        assert_ne!(there, here);
    }
    // nft writes a rule iptables cannot read: the memo no longer holds,
    // and the detection finds the rule and picks nftables.
    run(&[
        "nft",
        "add",
        "rule",
        "ip",
        "nat",
        "POSTROUTING",
        "ct",
        "state",
        "established",
        "counter",
    ]);
    assert_ne!(natmemo::read(), Some(now()));
    assert_eq!(detect(), Backend::Nftables);
}

//! Golden plans on Go's layout and ours, and privileged round trips with
//! the real tools, each in a fresh netns.

use pkg::firewall::testing::{
    FakeState, current_netns, exec_count, fresh_netns, join_netns, plan_lines, run,
};

use super::*;
use crate::layout::DEFAULT_ADMIN_CHAIN;

const ATT: Attachment<'static> = Attachment {
    network: "mynet",
    container_id: "c1",
    ifname: "eth0",
};

const MARKER: &str = r#"-A CNI-FW-ATTACHMENTS -s 10.88.0.5/32 -m comment --comment "name: \"mynet\" id: \"c1\" if: \"eth0\"" -j RETURN"#;

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn v4(listing: &str) -> FakeState {
    FakeState::iptables(table(Family::Ip), listing)
}

fn same_bridge(bridge: &str) -> Option<Ingress<'_>> {
    Some(Ingress {
        policy: IngressPolicy::SameBridge,
        bridge,
    })
}

fn isolated(bridge: &str) -> Option<Ingress<'_>> {
    Some(Ingress {
        policy: IngressPolicy::Isolated,
        bridge,
    })
}

#[test]
fn policies_and_admin_chains() {
    for (s, p) in [
        ("", IngressPolicy::Open),
        ("open", IngressPolicy::Open),
        ("same-bridge", IngressPolicy::SameBridge),
        ("isolated", IngressPolicy::Isolated),
    ] {
        assert_eq!(IngressPolicy::parse(s), Some(p));
    }
    for bad in ["Open", "same_bridge", "x"] {
        assert_eq!(IngressPolicy::parse(bad), None);
    }
    validate_admin_chain("MY-ADMIN").unwrap();
    for bad in ["", "a b", "FORWARD", "CNI-FORWARD", "CNI-ISOLATION-STAGE-2"] {
        assert_eq!(validate_admin_chain(bad).unwrap_err().code(), 7, "{bad:?}");
    }
}

#[test]
fn marker_comments_round_trip() {
    let c = marker_comment(&Attachment {
        ifname: "e\"th0",
        ..ATT
    });
    assert_eq!(c, r#"name: "mynet" id: "c1" if: "e\"th0""#);
    assert_eq!(
        parse_marker(&c),
        Some(("mynet".into(), "c1".into(), "e\"th0".into()))
    );
    assert_eq!(parse_marker(r#"name: "mynet" id: "c1""#), None);
    assert_eq!(parse_marker("CNI firewall plugin rules"), None);
}

/// What Go's firewall 1.1.1 leaves for a dual-stack container with
/// same-bridge isolation, as `iptables -S` prints it (IPv4 part).
const GO_LISTING: &str = r#"-P INPUT ACCEPT
-P FORWARD ACCEPT
-P OUTPUT ACCEPT
-N CNI-ADMIN
-N CNI-FORWARD
-N CNI-ISOLATION-STAGE-1
-N CNI-ISOLATION-STAGE-2
-A FORWARD -m comment --comment "CNI firewall plugin rules (ingressPolicy: same-bridge)" -j CNI-ISOLATION-STAGE-1
-A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD
-A CNI-FORWARD -m comment --comment "CNI firewall plugin admin overrides" -j CNI-ADMIN
-A CNI-FORWARD -d 10.88.0.5/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A CNI-FORWARD -s 10.88.0.5/32 -j ACCEPT
-A CNI-ISOLATION-STAGE-1 -i cni0 ! -o cni0 -m comment --comment "CNI firewall plugin rules (ingressPolicy: same-bridge)" -j CNI-ISOLATION-STAGE-2
-A CNI-ISOLATION-STAGE-1 -m comment --comment "CNI firewall plugin rules (ingressPolicy: same-bridge)" -j RETURN
-A CNI-ISOLATION-STAGE-2 -o cni0 -m comment --comment "CNI firewall plugin rules (ingressPolicy: same-bridge)" -j DROP
-A CNI-ISOLATION-STAGE-2 -m comment --comment "CNI firewall plugin rules (ingressPolicy: same-bridge)" -j RETURN
"#;

fn setup_lines(
    state: &mut FakeState,
    ips: &[IpNet],
    admin: &str,
    ingress: Option<Ingress<'_>>,
) -> Vec<String> {
    plan_lines(&plan_setup(state, Family::Ip, &ATT, ips, admin, ingress).unwrap())
}

fn check_msg(listing: &str, ips: &[IpNet], admin: &str, ingress: Option<Ingress<'_>>) -> String {
    match check_rules(&mut v4(listing), Family::Ip, ips, admin, ingress) {
        Ok(()) => String::new(),
        Err(e) => e.to_string(),
    }
}

fn remove_lines(listing: &str, known: &[IpNet], doomed: impl Fn(&str) -> bool) -> Vec<String> {
    plan_lines(&plan_remove(&mut v4(listing), Family::Ip, known, doomed).unwrap())
}

#[test]
fn plans_against_gos_layout() {
    let ips = [net("10.88.0.5/16")];
    let same = same_bridge("cni0");
    assert_eq!(check_msg(GO_LISTING, &ips, DEFAULT_ADMIN_CHAIN, same), "");
    // On Go's state, ours only adds its marker.
    assert_eq!(
        setup_lines(&mut v4(GO_LISTING), &ips, DEFAULT_ADMIN_CHAIN, same),
        ["-N CNI-FW-ATTACHMENTS", MARKER]
    );
    // isolated rules carry their own comment, and drop within the bridge
    assert_eq!(
        check_msg(GO_LISTING, &ips, DEFAULT_ADMIN_CHAIN, isolated("cni0")),
        r#"expected CNI-ISOLATION-STAGE-1 rule `-A CNI-ISOLATION-STAGE-1 -i cni0 ! -o cni0 -m comment --comment "CNI firewall plugin rules (ingressPolicy: isolated)" -j CNI-ISOLATION-STAGE-2` not found"#
    );
    let lines = setup_lines(
        &mut v4(GO_LISTING),
        &ips,
        DEFAULT_ADMIN_CHAIN,
        isolated("cni0"),
    );
    assert!(lines.contains(
        &r#"-I CNI-ISOLATION-STAGE-1 1 -i cni0 -o cni0 -m comment --comment "CNI firewall plugin rules (ingressPolicy: isolated)" -j DROP"#.to_string()
    ), "{lines:?}");
    // Without markers and prevResult nothing is known; with prevResult
    // Go's rules go.
    assert!(remove_lines(GO_LISTING, &[], |_| true).is_empty());
    assert_eq!(
        remove_lines(GO_LISTING, &ips, |_| false),
        [
            "-D CNI-FORWARD -d 10.88.0.5/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            "-D CNI-FORWARD -s 10.88.0.5/32 -j ACCEPT",
        ]
    );
    // another attachment's marker on the same address keeps the rules
    let shared = format!(
        "{GO_LISTING}-N CNI-FW-ATTACHMENTS\n-A CNI-FW-ATTACHMENTS -s 10.88.0.5/32 -m comment --comment \"name: \\\"other\\\" id: \\\"c9\\\" if: \\\"eth0\\\"\" -j RETURN\n"
    );
    assert!(remove_lines(&shared, &ips, |_| false).is_empty());
}

#[test]
fn plans_from_scratch() {
    let ips = [net("10.88.0.5/16"), net("10.88.0.5/16")];
    let lines = setup_lines(&mut FakeState::default(), &ips, "MY-ADMIN", None);
    assert_eq!(
        lines,
        [
            "-N CNI-FORWARD",
            "-N MY-ADMIN",
            "-N CNI-FW-ATTACHMENTS",
            r#"-I FORWARD 1 -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD"#,
            r#"-I CNI-FORWARD 1 -m comment --comment "CNI firewall plugin admin overrides" -j MY-ADMIN"#,
            "-A CNI-FORWARD -d 10.88.0.5/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            "-A CNI-FORWARD -s 10.88.0.5/32 -j ACCEPT",
            MARKER,
            MARKER,
        ]
    );
    let lines = setup_lines(
        &mut FakeState::default(),
        &ips[..1],
        "MY-ADMIN",
        isolated("br0"),
    );
    let isolation = [
        r#"-I FORWARD 1 -m comment --comment "CNI firewall plugin rules (ingressPolicy: same-bridge)" -j CNI-ISOLATION-STAGE-1"#,
        r#"-I CNI-ISOLATION-STAGE-1 1 -i br0 ! -o br0 -m comment --comment "CNI firewall plugin rules (ingressPolicy: isolated)" -j CNI-ISOLATION-STAGE-2"#,
        r#"-I CNI-ISOLATION-STAGE-1 1 -i br0 -o br0 -m comment --comment "CNI firewall plugin rules (ingressPolicy: isolated)" -j DROP"#,
        r#"-A CNI-ISOLATION-STAGE-1 -m comment --comment "CNI firewall plugin rules (ingressPolicy: same-bridge)" -j RETURN"#,
        r#"-I CNI-ISOLATION-STAGE-2 1 -o br0 -m comment --comment "CNI firewall plugin rules (ingressPolicy: isolated)" -j DROP"#,
        r#"-A CNI-ISOLATION-STAGE-2 -m comment --comment "CNI firewall plugin rules (ingressPolicy: same-bridge)" -j RETURN"#,
    ];
    assert_eq!(
        lines[..5],
        [
            "-N CNI-FORWARD",
            "-N MY-ADMIN",
            "-N CNI-FW-ATTACHMENTS",
            "-N CNI-ISOLATION-STAGE-1",
            "-N CNI-ISOLATION-STAGE-2"
        ]
    );
    assert_eq!(lines[9..15], isolation, "{lines:#?}");
    assert_eq!(lines.len(), 16, "{lines:#?}");
}

#[test]
fn markers_follow_the_addresses() {
    let other = MARKER.replace("10.88.0.5", "10.88.0.9");
    let foreign = MARKER.replace("c1", "c2");
    let listing = [
        "-N CNI-FORWARD",
        "-N CNI-ADMIN",
        "-N CNI-FW-ATTACHMENTS",
        r#"-A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD"#,
        r#"-A CNI-FORWARD -m comment --comment "CNI firewall plugin admin overrides" -j CNI-ADMIN"#,
        "-A CNI-FORWARD -d 10.88.0.5/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "-A CNI-FORWARD -s 10.88.0.5/32 -j ACCEPT",
        MARKER,
        MARKER,
        &other,
        &foreign,
    ]
    .join("\n");
    // A duplicate and a marker of an address the attachment no longer has
    // go; another attachment's stays.
    assert_eq!(
        setup_lines(
            &mut v4(&listing),
            &[net("10.88.0.5/16")],
            DEFAULT_ADMIN_CHAIN,
            None
        ),
        [
            MARKER.replacen("-A", "-D", 1),
            other.replacen("-A", "-D", 1)
        ]
    );
    // DEL: its markers and the rules of their addresses that no other
    // marker names (10.88.0.5 is c2's too).
    assert_eq!(
        remove_lines(&listing, &[], |c| c == marker_comment(&ATT)),
        [
            MARKER.replacen("-A", "-D", 1),
            MARKER.replacen("-A", "-D", 1),
            other.replacen("-A", "-D", 1),
        ]
    );
    // GC of everything in mynet
    let lines = remove_lines(&listing, &[], |c| {
        parse_marker(c).is_some_and(|(n, _, _)| n == "mynet")
    });
    assert_eq!(lines.len(), 6, "{lines:#?}");
    assert_eq!(
        lines[4..],
        [
            "-D CNI-FORWARD -d 10.88.0.5/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            "-D CNI-FORWARD -s 10.88.0.5/32 -j ACCEPT",
        ]
    );
}

#[test]
fn check_messages() {
    let ips = [net("10.88.0.5/16")];
    assert_eq!(
        check_msg("", &ips, DEFAULT_ADMIN_CHAIN, None),
        "chain CNI-FORWARD not found in iptables table filter"
    );
    assert_eq!(
        check_msg(GO_LISTING, &ips, "MY-ADMIN", None),
        "chain MY-ADMIN not found in iptables table filter"
    );
    let no_jump = GO_LISTING.replace(
        "-A FORWARD -m comment --comment \"CNI firewall plugin rules\" -j CNI-FORWARD\n",
        "",
    );
    assert_eq!(
        check_msg(&no_jump, &ips, DEFAULT_ADMIN_CHAIN, None),
        r#"expected FORWARD rule `-A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD` not found"#
    );
    assert_eq!(
        check_msg(
            GO_LISTING,
            &[net("10.88.0.6/16")],
            DEFAULT_ADMIN_CHAIN,
            None
        ),
        "expected CNI-FORWARD rule `-A CNI-FORWARD -d 10.88.0.6/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT` not found"
    );
    assert_eq!(
        check_msg(GO_LISTING, &ips, DEFAULT_ADMIN_CHAIN, same_bridge("cni1")),
        r#"expected CNI-ISOLATION-STAGE-1 rule `-A CNI-ISOLATION-STAGE-1 -i cni1 ! -o cni1 -m comment --comment "CNI firewall plugin rules (ingressPolicy: same-bridge)" -j CNI-ISOLATION-STAGE-2` not found"#
    );
}

fn filter_rules(tool: &str) -> Vec<String> {
    run(&[tool, "-w", "-S"])
        .lines()
        .filter(|l| !l.starts_with("-P "))
        .map(String::from)
        .collect()
}

/// Whether iptables and ip6tables are iptables-nft, whose tables are
/// changed over netlink once they exist.
fn ipt_nft() -> bool {
    ["iptables", "ip6tables"]
        .iter()
        .all(|tool| run(&[tool, "--version"]).contains("nf_tables"))
}

/// Runs `f` and returns how many tools it started.
fn execs(f: impl FnOnce()) -> usize {
    let before = exec_count();
    f();
    exec_count() - before
}

const TOOLS: [&str; 4] = [
    "iptables",
    "ip6tables",
    "iptables-restore",
    "ip6tables-restore",
];

/// Against the real tools in a fresh netns: setup, check, tamper, DEL
/// without prevResult, GC.
#[test]
fn real_iptables_round_trip() {
    if !fresh_netns(&TOOLS) {
        return;
    }
    let nft = ipt_nft();
    let ips = [net("10.88.0.5/16"), net("fd00:88::5/64")];
    let ingress = isolated("cni0");
    let n = execs(|| setup(&ATT, &ips, DEFAULT_ADMIN_CHAIN, ingress).unwrap());
    let want = if nft { 2 } else { 4 };
    assert_eq!(n, want, "iptables makes the tables: a restore per family");
    let n = execs(|| check(&ips, DEFAULT_ADMIN_CHAIN, ingress).unwrap());
    assert_eq!(n, if nft { 0 } else { 2 });
    let v4 = filter_rules("iptables");
    let forward: Vec<&String> = v4.iter().filter(|l| l.starts_with("-A FORWARD")).collect();
    assert_eq!(
        forward,
        [
            r#"-A FORWARD -m comment --comment "CNI firewall plugin rules (ingressPolicy: same-bridge)" -j CNI-ISOLATION-STAGE-1"#,
            r#"-A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD"#,
        ],
        "{v4:#?}"
    );
    // idempotent
    let n = execs(|| setup(&ATT, &ips, DEFAULT_ADMIN_CHAIN, ingress).unwrap());
    assert_eq!(n, if nft { 0 } else { 2 }, "nothing to add");
    assert_eq!(filter_rules("iptables"), v4);
    // a second attachment on another address
    let other = Attachment {
        container_id: "c2",
        ..ATT
    };
    let n = execs(|| setup(&other, &[net("10.88.0.6/16")], DEFAULT_ADMIN_CHAIN, None).unwrap());
    assert_eq!(n, if nft { 0 } else { 2 }, "over netlink with iptables-nft");
    // tampering is noticed
    run(&[
        "iptables",
        "-D",
        "CNI-FORWARD",
        "-s",
        "10.88.0.5/32",
        "-j",
        "ACCEPT",
    ]);
    let err = check(&ips, DEFAULT_ADMIN_CHAIN, ingress).unwrap_err();
    assert_eq!(
        err.to_string(),
        "expected CNI-FORWARD rule `-A CNI-FORWARD -s 10.88.0.5/32 -j ACCEPT` not found"
    );
    // DEL without prevResult finds the addresses by marker
    let n = execs(|| teardown(&ATT, &[]).unwrap());
    assert_eq!(n, if nft { 0 } else { 4 });
    for tool in ["iptables", "ip6tables"] {
        let rules = filter_rules(tool).join("\n");
        assert!(
            !rules.contains("10.88.0.5") && !rules.contains("fd00:88::5"),
            "{rules}"
        );
        assert!(!rules.contains("id: \\\"c1\\\""), "{rules}");
    }
    assert!(filter_rules("iptables").join("\n").contains("10.88.0.6"));
    teardown(&ATT, &[]).unwrap();
    // GC removes what is not valid
    gc("mynet", &[]).unwrap();
    let rules = filter_rules("iptables").join("\n");
    assert!(!rules.contains("10.88.0.6"), "{rules}");
    // isolation stays, as in Go
    assert!(rules.contains("-i cni0 -o cni0"), "{rules}");
}

/// The exact `iptables -S` of a full lifecycle, both families.
#[test]
fn listings_after_each_step() {
    if !fresh_netns(&TOOLS) {
        return;
    }
    let ips = [net("10.88.0.5/16"), net("fd00:88::5/64")];
    setup(&ATT, &ips, DEFAULT_ADMIN_CHAIN, same_bridge("cni0")).unwrap();
    let want = |ip: &str, len: u8| {
        let c = r#""CNI firewall plugin rules (ingressPolicy: same-bridge)""#;
        vec![
            "-N CNI-ADMIN".to_string(),
            "-N CNI-FORWARD".into(),
            "-N CNI-FW-ATTACHMENTS".into(),
            "-N CNI-ISOLATION-STAGE-1".into(),
            "-N CNI-ISOLATION-STAGE-2".into(),
            format!("-A FORWARD -m comment --comment {c} -j CNI-ISOLATION-STAGE-1"),
            r#"-A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD"#.into(),
            r#"-A CNI-FORWARD -m comment --comment "CNI firewall plugin admin overrides" -j CNI-ADMIN"#.into(),
            format!("-A CNI-FORWARD -d {ip}/{len} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
            format!("-A CNI-FORWARD -s {ip}/{len} -j ACCEPT"),
            format!(r#"-A CNI-FW-ATTACHMENTS -s {ip}/{len} -m comment --comment "name: \"mynet\" id: \"c1\" if: \"eth0\"" -j RETURN"#),
            format!("-A CNI-ISOLATION-STAGE-1 -i cni0 ! -o cni0 -m comment --comment {c} -j CNI-ISOLATION-STAGE-2"),
            format!("-A CNI-ISOLATION-STAGE-1 -m comment --comment {c} -j RETURN"),
            format!("-A CNI-ISOLATION-STAGE-2 -o cni0 -m comment --comment {c} -j DROP"),
            format!("-A CNI-ISOLATION-STAGE-2 -m comment --comment {c} -j RETURN"),
        ]
    };
    assert_eq!(filter_rules("iptables"), want("10.88.0.5", 32));
    assert_eq!(filter_rules("ip6tables"), want("fd00:88::5", 128));
    teardown(&ATT, &ips).unwrap();
    for (tool, ip, len) in [
        ("iptables", "10.88.0.5", 32),
        ("ip6tables", "fd00:88::5", 128),
    ] {
        let mut left = want(ip, len);
        left.retain(|l| !l.contains(ip));
        assert_eq!(filter_rules(tool), left, "{tool}");
    }
}

#[test]
fn isolation_alone_for_firewalld() {
    if !fresh_netns(&TOOLS) {
        return;
    }
    let ips = [net("10.88.0.5/16")];
    let ingress = Ingress {
        policy: IngressPolicy::SameBridge,
        bridge: "cni0",
    };
    setup_isolation(&ips, ingress).unwrap();
    setup_isolation(&ips, ingress).unwrap();
    check_isolation(&ips, ingress).unwrap();
    let rules = filter_rules("iptables");
    assert_eq!(rules.len(), 7, "{rules:#?}");
    assert!(!rules.join("\n").contains("CNI-FORWARD"), "{rules:#?}");
    assert!(filter_rules("ip6tables").is_empty(), "IPv4 only");
    let err = check_isolation(
        &ips,
        Ingress {
            policy: IngressPolicy::Isolated,
            ..ingress
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("ingressPolicy: isolated"), "{err}");
}

/// Parallel ADDs of different containers in one namespace share the jumps:
/// exactly one of each, whoever makes the chains.
#[test]
fn concurrent_setups() {
    if !fresh_netns(&TOOLS) {
        return;
    }
    let ns = current_netns();
    std::thread::scope(|s| {
        for i in 0..8 {
            let ns = &ns;
            s.spawn(move || {
                join_netns(ns);
                let id = format!("ctr{i}");
                let att = Attachment {
                    container_id: &id,
                    ..ATT
                };
                let ips = [
                    net(&format!("10.88.0.{}/16", i + 10)),
                    net(&format!("fd00::{}/64", i + 10)),
                ];
                setup(&att, &ips, DEFAULT_ADMIN_CHAIN, same_bridge("cni0")).unwrap();
            });
        }
    });
    for tool in ["iptables", "ip6tables"] {
        let rules = filter_rules(tool);
        assert_eq!(rules.len(), 5 + 2 + 1 + 8 * 3 + 4, "{tool}: {rules:#?}");
        for jump in ["-j CNI-FORWARD", "-j CNI-ADMIN", "-j CNI-ISOLATION-STAGE-1"] {
            assert_eq!(
                rules.iter().filter(|l| l.ends_with(jump)).count(),
                1,
                "{tool} {jump}: {rules:#?}"
            );
        }
    }
    gc("mynet", &[]).unwrap();
    assert_eq!(filter_rules("iptables").len(), 5 + 2 + 1 + 4);
}

#[test]
fn cleanup_of_nothing() {
    if !fresh_netns(&TOOLS) {
        return;
    }
    let n = execs(|| {
        teardown(&ATT, &[net("10.88.0.5/16")]).unwrap();
        gc("mynet", &[]).unwrap();
    });
    assert_eq!(n, if ipt_nft() { 0 } else { 4 });
    let err = check(&[net("10.88.0.5/16")], DEFAULT_ADMIN_CHAIN, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "chain CNI-FORWARD not found in iptables table filter"
    );
}

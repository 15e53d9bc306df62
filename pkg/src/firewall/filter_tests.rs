use super::*;
use crate::firewall::exec;
use crate::firewall::testing::{fresh_netns, run};

const ATT: Attachment<'static> = Attachment {
    network: "mynet",
    container_id: "c1",
    ifname: "eth0",
};

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

#[test]
fn policies_and_chain_names() {
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
    validate_chain_name("CNI-ADMIN").unwrap();
    validate_chain_name(&"A".repeat(28)).unwrap();
    for bad in ["", "-j", "!x", "a b", "a\"b", &"A".repeat(29)] {
        assert_eq!(validate_chain_name(bad).unwrap_err().code(), 7, "{bad:?}");
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

#[test]
fn plans_against_gos_layout() {
    let table = NatTable::parse(GO_LISTING);
    let ips = [net("10.88.0.5/16")];
    let same = Some(Ingress {
        policy: IngressPolicy::SameBridge,
        bridge: "cni0",
    });
    check_table(&table, &ips, DEFAULT_ADMIN_CHAIN, same).unwrap();
    // On Go's state, ours only adds its marker.
    let lines = plan_setup(&table, &ATT, &ips, DEFAULT_ADMIN_CHAIN, same);
    assert_eq!(
        lines,
        [
            "-N CNI-FW-ATTACHMENTS".to_string(),
            r#"-A CNI-FW-ATTACHMENTS -s 10.88.0.5/32 -m comment --comment "name: \"mynet\" id: \"c1\" if: \"eth0\"" -j RETURN"#.to_string(),
        ]
    );
    // isolated adds the intra-bridge drop
    let isolated = Some(Ingress {
        policy: IngressPolicy::Isolated,
        bridge: "cni0",
    });
    assert!(check_table(&table, &ips, DEFAULT_ADMIN_CHAIN, isolated).is_err());
    let lines = plan_setup(&table, &ATT, &ips, DEFAULT_ADMIN_CHAIN, isolated);
    assert!(lines.contains(
        &r#"-I CNI-ISOLATION-STAGE-1 1 -i cni0 -o cni0 -m comment --comment "CNI firewall plugin rules (ingressPolicy: isolated)" -j DROP"#.to_string()
    ), "{lines:?}");
    // Without markers and prevResult nothing is known; with prevResult
    // Go's rules go.
    assert!(plan_remove(&table, &[], |_| true).is_empty());
    assert_eq!(
        plan_remove(&table, &ips, |_| false),
        [
            "-D CNI-FORWARD -d 10.88.0.5/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            "-D CNI-FORWARD -s 10.88.0.5/32 -j ACCEPT",
        ]
    );
    // another attachment's marker on the same address keeps the rules
    let shared = format!(
        "{GO_LISTING}-N CNI-FW-ATTACHMENTS\n-A CNI-FW-ATTACHMENTS -s 10.88.0.5/32 -m comment --comment \"name: \\\"other\\\" id: \\\"c9\\\" if: \\\"eth0\\\"\" -j RETURN\n"
    );
    assert!(plan_remove(&NatTable::parse(&shared), &ips, |_| false).is_empty());
}

#[test]
fn plans_from_scratch() {
    let ips = [net("10.88.0.5/16"), net("10.88.0.5/16")];
    let lines = plan_setup(&NatTable::default(), &ATT, &ips, "MY-ADMIN", None);
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
            r#"-A CNI-FW-ATTACHMENTS -s 10.88.0.5/32 -m comment --comment "name: \"mynet\" id: \"c1\" if: \"eth0\"" -j RETURN"#,
            r#"-A CNI-FW-ATTACHMENTS -s 10.88.0.5/32 -m comment --comment "name: \"mynet\" id: \"c1\" if: \"eth0\"" -j RETURN"#,
        ]
    );
}

fn filter_rules(tool: &str) -> Vec<String> {
    run(&[tool, "-w", "-S"])
        .lines()
        .filter(|l| !l.starts_with("-P "))
        .map(String::from)
        .collect()
}

/// Against the real tools in a fresh netns: setup, check, tamper, DEL
/// without prevResult, GC; one list and one restore per family.
#[test]
fn real_iptables_round_trip() {
    if !fresh_netns(&[
        "iptables",
        "ip6tables",
        "iptables-restore",
        "ip6tables-restore",
    ]) {
        return;
    }
    let ips = [net("10.88.0.5/16"), net("fd00:88::5/64")];
    let ingress = Some(Ingress {
        policy: IngressPolicy::Isolated,
        bridge: "cni0",
    });
    let before = exec::exec_count();
    setup(&ATT, &ips, DEFAULT_ADMIN_CHAIN, ingress).unwrap();
    assert_eq!(exec::exec_count() - before, 4, "list + restore per family");
    check(&ips, DEFAULT_ADMIN_CHAIN, ingress).unwrap();
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
    setup(&ATT, &ips, DEFAULT_ADMIN_CHAIN, ingress).unwrap();
    assert_eq!(filter_rules("iptables"), v4);
    // a second attachment on another address
    let other = Attachment {
        container_id: "c2",
        ..ATT
    };
    setup(&other, &[net("10.88.0.6/16")], DEFAULT_ADMIN_CHAIN, None).unwrap();
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
    assert!(
        err.to_string().contains("-s 10.88.0.5/32 -j ACCEPT"),
        "{err}"
    );
    // DEL without prevResult finds the addresses by marker
    let before = exec::exec_count();
    teardown(&ATT, &[]).unwrap();
    assert_eq!(exec::exec_count() - before, 4);
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

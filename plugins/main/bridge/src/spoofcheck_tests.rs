//! Golden plans and privileged tests (fresh netns each) for the spoof
//! check.

use pkg::firewall::model::Handle;
use pkg::firewall::testing::{
    FakeState, current_netns, fresh_netns, join_netns, plan_lines, ruleset, run,
};

use super::*;

const MAC: &str = "0a:58:0a:58:00:05";

fn att(id: &str, ifname: &str) -> GcAttachment {
    GcAttachment {
        container_id: id.into(),
        ifname: ifname.into(),
    }
}

#[test]
fn setup_plan_golden() {
    let mut state = FakeState::default();
    let mut stale = Rule::new(
        BASE_CHAIN,
        Vec::new(),
        Action::Jump("cni-br-iface-c1-eth0".into()),
    );
    stale.handle = Handle::Nft(4);
    state.nft.push((TABLE, vec![stale]));
    let mac = parse_mac(MAC).unwrap();
    let ops = plan_setup(&mut state, &Names::of("c1", "eth0"), "veth1234", mac).unwrap();
    let want = [
        "add table bridge nat",
        "add chain bridge nat PREROUTING { type filter hook prerouting priority -300 ; policy accept ; }",
        "add chain bridge nat cni-br-iface-c1-eth0",
        "add chain bridge nat cni-br-iface-c1-eth0-mac",
        "flush chain bridge nat cni-br-iface-c1-eth0",
        "flush chain bridge nat cni-br-iface-c1-eth0-mac",
        "delete rule bridge nat PREROUTING handle 4",
        "add rule bridge nat PREROUTING iifname \"veth1234\" jump cni-br-iface-c1-eth0 comment \"macspoofchk-c1-eth0\"",
        "add rule bridge nat cni-br-iface-c1-eth0 jump cni-br-iface-c1-eth0-mac comment \"macspoofchk-c1-eth0\"",
        "add rule bridge nat cni-br-iface-c1-eth0-mac ether saddr 0a:58:0a:58:00:05 return comment \"macspoofchk-c1-eth0\"",
        "add rule bridge nat cni-br-iface-c1-eth0-mac drop comment \"macspoofchk-c1-eth0\"",
    ];
    assert_eq!(plan_lines(&ops), want);
}

/// Entry rules and chains of attachments a-eth0 (veth "va"), b-eth0 (veth
/// "vb"), c-x-mac (veth "vc", an ifname ending in -mac) and orphan chains
/// of d-eth0.
fn sample() -> (Vec<Rule>, Vec<String>) {
    let mut chains = vec!["PREROUTING".to_string()];
    let mut entries = Vec::new();
    for (i, (ref_id, veth)) in [("a-eth0", "va"), ("b-eth0", "vb"), ("c-x-mac", "vc")]
        .into_iter()
        .enumerate()
    {
        chains.push(format!("cni-br-iface-{ref_id}"));
        chains.push(format!("cni-br-iface-{ref_id}-mac"));
        let mut r = Rule::new(
            BASE_CHAIN,
            vec![Match::InIface {
                negate: false,
                name: veth.into(),
            }],
            Action::Jump(format!("cni-br-iface-{ref_id}")),
        )
        .with_comment(format!("macspoofchk-{ref_id}"));
        r.handle = Handle::Nft(i as u64 + 3);
        entries.push(r);
    }
    chains.push("cni-br-iface-d-eth0-mac".into());
    (entries, chains)
}

fn deleted_chains(ops: &[Op]) -> Vec<String> {
    ops.iter()
        .filter_map(|o| match o {
            Op::DelChain { chain, .. } => Some(chain.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn gc_plans() {
    let (entries, chains) = sample();
    let alive = |v: &str| v == "vb";
    // a: not valid, veth gone -> removed. b: veth alive -> kept.
    // c: valid -> kept. d: orphan chain -> removed.
    let keep = HashSet::from(["c-x-mac".to_string()]);
    let ops = gc_ops(&entries, &chains, &keep, alive);
    assert_eq!(
        deleted_chains(&ops),
        [
            "cni-br-iface-a-eth0",
            "cni-br-iface-a-eth0-mac",
            "cni-br-iface-d-eth0-mac"
        ]
    );
    let rules: Vec<&Rule> = ops
        .iter()
        .filter_map(|o| match o {
            Op::Delete { rule, .. } => Some(rule),
            _ => None,
        })
        .collect();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].handle, Handle::Nft(3));

    let everything = gc_ops(&entries, &chains, &HashSet::new(), |_| false);
    assert_eq!(deleted_chains(&everything).len(), 7);
    assert!(gc_ops(&[], &[], &HashSet::new(), |_| false).is_empty());
}

#[test]
fn rejects_bad_mac() {
    for mac in [
        "",
        "0a:58:0a:58:00",
        "0a:58:0a:58:00:zz",
        "0a-58-0a-58-00-05",
        "0a:58:0a:58:00:05:06",
    ] {
        let err = setup("c1", "eth0", "veth1", mac).unwrap_err();
        assert_eq!(err.code(), 7, "{mac}");
        assert!(err.msg().contains("invalid mac address"));
    }
    assert!(parse_mac("0A:58:0a:58:00:05").is_some());
    assert!(parse_mac("0a:58:0a:58:00:+5").is_none());
}

fn our_lines() -> Vec<String> {
    ruleset()
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| l.contains("macspoofchk-") || l.starts_with("chain cni-br-iface-"))
        .collect()
}

#[test]
fn lifecycle() {
    if !fresh_netns(&["nft"]) {
        return;
    }
    setup("c1", "eth0", "veth1234", MAC).unwrap();
    let want = [
        "iifname \"veth1234\" jump cni-br-iface-c1-eth0 comment \"macspoofchk-c1-eth0\"",
        "chain cni-br-iface-c1-eth0 {",
        "jump cni-br-iface-c1-eth0-mac comment \"macspoofchk-c1-eth0\"",
        "chain cni-br-iface-c1-eth0-mac {",
        "ether saddr 0a:58:0a:58:00:05 return comment \"macspoofchk-c1-eth0\"",
        "drop comment \"macspoofchk-c1-eth0\"",
    ];
    assert_eq!(our_lines(), want);
    assert!(ruleset().contains("type filter hook prerouting priority dstnat; policy accept;"));

    setup("c1", "eth0", "veth1234", MAC).unwrap();
    assert_eq!(our_lines(), want, "setup twice is idempotent");

    teardown("c1", "eth0").unwrap();
    assert!(our_lines().is_empty());
    let text = ruleset();
    assert!(
        text.contains("table bridge nat") && text.contains("chain PREROUTING"),
        "{text}"
    );

    teardown("c1", "eth0").unwrap();
}

#[test]
fn teardown_when_nothing_exists() {
    if !fresh_netns(&["nft"]) {
        return;
    }
    teardown("none", "eth0").unwrap();
    gc(&[]).unwrap();
    assert!(ruleset().trim().is_empty());
}

#[test]
fn odd_ifnames_and_neighbours() {
    if !fresh_netns(&["nft"]) {
        return;
    }
    setup("c1", "e@th%0", "veth1", MAC).unwrap();
    setup("c2", "eth0", "veth2", "0a:58:0a:58:00:06").unwrap();
    teardown("c1", "e@th%0").unwrap();
    let left = our_lines();
    assert_eq!(left.len(), 6, "{left:?}");
    assert!(left.iter().all(|l| !l.contains("c1-")), "{left:?}");
}

/// Go's pkg/link: two transactions, the first declaring, the second filling.
#[test]
fn interop_removes_go_made_rules() {
    if !fresh_netns(&["nft"]) {
        return;
    }
    let declare = "add table bridge nat
add chain bridge nat PREROUTING { type filter hook prerouting priority -300 ; policy accept ; }
add chain bridge nat cni-br-iface-goctr-eth0
add chain bridge nat cni-br-iface-goctr-eth0-mac
";
    let fill = "flush chain bridge nat cni-br-iface-goctr-eth0
flush chain bridge nat cni-br-iface-goctr-eth0-mac
add rule bridge nat PREROUTING iifname == \"vethgo\" jump cni-br-iface-goctr-eth0 comment \"macspoofchk-goctr-eth0\"
add rule bridge nat cni-br-iface-goctr-eth0 jump cni-br-iface-goctr-eth0-mac comment \"macspoofchk-goctr-eth0\"
add rule bridge nat cni-br-iface-goctr-eth0-mac ether saddr == 0a:58:0a:58:00:09 return comment \"macspoofchk-goctr-eth0\"
add rule bridge nat cni-br-iface-goctr-eth0-mac drop comment \"macspoofchk-goctr-eth0\"
";
    for script in [declare, fill] {
        run(&["nft", script]);
    }
    assert_eq!(our_lines().len(), 6);
    teardown("goctr", "eth0").unwrap();
    assert!(our_lines().is_empty());
}

#[test]
fn gc_removes_only_dead_or_unreachable() {
    if !fresh_netns(&["nft", "ip"]) {
        return;
    }
    run(&[
        "ip",
        "link",
        "add",
        "vethalive",
        "type",
        "veth",
        "peer",
        "name",
        "vethalivep",
    ]);
    setup("alive", "eth0", "vethalive", MAC).unwrap();
    setup("dead", "eth0", "vethdead", MAC).unwrap();
    setup("valid", "eth0", "vethgone", MAC).unwrap();
    gc(&[att("valid", "eth0")]).unwrap();
    let left = our_lines();
    assert_eq!(left.len(), 12, "{left:?}");
    assert!(left.iter().all(|l| !l.contains("dead")), "{left:?}");
    gc(&[]).unwrap();
    let left = our_lines();
    assert_eq!(left.len(), 6, "the live veth keeps its chains: {left:?}");
    assert!(left.iter().all(|l| l.contains("alive")));
}

#[test]
fn concurrent_setup() {
    if !fresh_netns(&["nft"]) {
        return;
    }
    let ns = current_netns();
    std::thread::scope(|s| {
        for i in 0..10 {
            let ns = &ns;
            s.spawn(move || {
                join_netns(ns);
                setup(&format!("ctr{i}"), "eth0", &format!("veth{i}"), MAC).unwrap();
            });
        }
    });
    assert_eq!(our_lines().len(), 60);
    assert_eq!(ruleset().matches("chain PREROUTING").count(), 1);
}

#[test]
fn no_nft_needed() {
    if !fresh_netns(&[]) {
        return;
    }
    // Over netlink: nothing runs, so a host without nft works too.
    setup("c1", "eth0", "veth1", MAC).unwrap();
    teardown("c1", "eth0").unwrap();
    gc(&[]).unwrap();
}

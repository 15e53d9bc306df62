//! Golden JSON and privileged tests (fresh netns each) for the spoof check.

use super::*;
use crate::firewall::exec::exec_count;
use crate::firewall::testutil::{current_netns, fresh_netns, join_netns, ruleset, run};

const MAC: &str = "0a:58:0a:58:00:05";

fn att(id: &str, ifname: &str) -> GcAttachment {
    GcAttachment {
        container_id: id.into(),
        ifname: ifname.into(),
    }
}

#[test]
fn setup_commands_golden() {
    let cmds = setup_commands(&Names::of("c1", "eth0"), "veth1234", MAC, &[4]);
    let got: Vec<String> = cmds.iter().map(Value::to_string).collect();
    let want = [
        r#"{"add":{"table":{"family":"bridge","name":"nat"}}}"#,
        r#"{"add":{"chain":{"family":"bridge","table":"nat","name":"PREROUTING","type":"filter","hook":"prerouting","prio":-300,"policy":"accept"}}}"#,
        r#"{"add":{"chain":{"family":"bridge","table":"nat","name":"cni-br-iface-c1-eth0"}}}"#,
        r#"{"add":{"chain":{"family":"bridge","table":"nat","name":"cni-br-iface-c1-eth0-mac"}}}"#,
        r#"{"flush":{"chain":{"family":"bridge","table":"nat","name":"cni-br-iface-c1-eth0"}}}"#,
        r#"{"flush":{"chain":{"family":"bridge","table":"nat","name":"cni-br-iface-c1-eth0-mac"}}}"#,
        r#"{"delete":{"rule":{"family":"bridge","table":"nat","chain":"PREROUTING","handle":4}}}"#,
        r#"{"add":{"rule":{"family":"bridge","table":"nat","chain":"PREROUTING","comment":"macspoofchk-c1-eth0","expr":[{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"veth1234"}},{"jump":{"target":"cni-br-iface-c1-eth0"}}]}}}"#,
        r#"{"add":{"rule":{"family":"bridge","table":"nat","chain":"cni-br-iface-c1-eth0","comment":"macspoofchk-c1-eth0","expr":[{"jump":{"target":"cni-br-iface-c1-eth0-mac"}}]}}}"#,
        r#"{"add":{"rule":{"family":"bridge","table":"nat","chain":"cni-br-iface-c1-eth0-mac","comment":"macspoofchk-c1-eth0","expr":[{"match":{"op":"==","left":{"payload":{"protocol":"ether","field":"saddr"}},"right":"0a:58:0a:58:00:05"}},{"return":null}]}}}"#,
        r#"{"add":{"rule":{"family":"bridge","table":"nat","chain":"cni-br-iface-c1-eth0-mac","comment":"macspoofchk-c1-eth0","expr":[{"drop":null}]}}}"#,
    ];
    assert_eq!(got, want);
}

/// A listing with attachments a-eth0 (veth "va"), b-eth0 (veth "vb"),
/// c-x-mac (veth "vc", an ifname ending in -mac) and orphan chains of d-eth0.
fn sample_listing() -> Listing {
    let mut items = vec![json!({"chain": {"name": "PREROUTING"}})];
    for (ref_id, veth) in [("a-eth0", "va"), ("b-eth0", "vb"), ("c-x-mac", "vc")] {
        items.push(json!({"chain": {"name": format!("cni-br-iface-{ref_id}")}}));
        items.push(json!({"chain": {"name": format!("cni-br-iface-{ref_id}-mac")}}));
        items.push(
            json!({"rule": {"chain": "PREROUTING", "handle": items.len(),
            "comment": format!("macspoofchk-{ref_id}"),
            "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": veth}},
                     {"jump": {"target": format!("cni-br-iface-{ref_id}")}}]}}),
        );
    }
    items.push(json!({"chain": {"name": "cni-br-iface-d-eth0-mac"}}));
    Listing::parse(&json!({ "nftables": items }).to_string()).unwrap()
}

fn deleted_chains(cmds: &[Value]) -> Vec<String> {
    cmds.iter()
        .filter_map(|c| {
            c.get("delete")?
                .get("chain")?
                .get("name")?
                .as_str()
                .map(String::from)
        })
        .collect()
}

#[test]
fn gc_plans() {
    let listing = sample_listing();
    let alive = |v: &str| v == "vb";
    // a: not valid, veth gone -> removed. b: veth alive -> kept.
    // c: valid -> kept. d: orphan chain -> removed.
    let keep = HashSet::from(["c-x-mac".to_string()]);
    let cmds = gc_commands(&listing, &keep, alive);
    assert_eq!(
        deleted_chains(&cmds),
        [
            "cni-br-iface-a-eth0",
            "cni-br-iface-a-eth0-mac",
            "cni-br-iface-d-eth0-mac"
        ]
    );
    let rules: Vec<&Value> = cmds
        .iter()
        .filter_map(|c| c.get("delete")?.get("rule"))
        .collect();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["handle"], 3);

    let everything = gc_commands(&listing, &HashSet::new(), |_| false);
    assert_eq!(deleted_chains(&everything).len(), 7);
    assert!(gc_commands(&Listing::default(), &HashSet::new(), |_| false).is_empty());
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
    assert!(is_mac("0A:58:0a:58:00:05"));
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
    let before = exec_count();
    setup("c1", "eth0", "veth1234", MAC).unwrap();
    assert_eq!(exec_count() - before, 2, "one listing, one transaction");
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

    let before = exec_count();
    teardown("c1", "eth0").unwrap();
    assert_eq!(exec_count() - before, 2, "one listing, one transaction");
    assert!(our_lines().is_empty());
    let text = ruleset();
    assert!(
        text.contains("table bridge nat") && text.contains("chain PREROUTING"),
        "{text}"
    );

    let before = exec_count();
    teardown("c1", "eth0").unwrap();
    assert_eq!(exec_count() - before, 1, "nothing to remove: listing only");
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
        crate::firewall::exec::run("nft", &["-f", "-"], Some(script)).unwrap();
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
fn missing_nft() {
    let _hidden = crate::firewall::exec::hide_tools(&["nft"]);
    let msg = setup("c1", "eth0", "veth1", MAC).unwrap_err().to_string();
    assert!(
        msg.contains("cni-br-iface-c1-eth0") && msg.contains("nft not found"),
        "{msg}"
    );
    teardown("c1", "eth0").unwrap();
    gc(&[]).unwrap();
}

//! The netlink backend against the tools, in fresh namespaces: what the
//! tools make is read back into the model, and what we make of the same
//! model is, in the kernel, byte for byte what the tools made.

use super::*;
use crate::firewall::model::{Action, Family, Hook, Match, Protocol, ct};
use crate::firewall::testing::{fresh_netns, run};

/// The expressions and user data of every rule of a chain, as dumped.
fn raw(
    session: &mut Session,
    table: Table,
    chain: &str,
) -> Vec<(Vec<expr::Expr>, Option<Vec<u8>>)> {
    let mut attrs = Attrs::new();
    attrs
        .put_str(NFTA_RULE_TABLE, table.name)
        .put_str(NFTA_RULE_CHAIN, chain);
    let family = table.family.nfproto();
    let msg = || NfMessage::new(SUBSYS_NFTABLES, NFT_MSG_GETRULE, family, attrs.clone());
    session
        .socket
        .dump(msg, || "dump".into())
        .unwrap()
        .iter()
        .map(|m| {
            (
                expr::decode_list(nfgen::find(&m.attrs, NFTA_RULE_EXPRESSIONS).unwrap()),
                nfgen::find(&m.attrs, NFTA_RULE_USERDATA).map(<[u8]>::to_vec),
            )
        })
        .collect()
}

/// Each `(command, rule)`: the tool's command makes the rule; reading it
/// back gives `rule`; writing `rule` gives the same kernel rule.
fn check_against_tool(table: Table, chain: &str, cases: &[(Vec<&str>, Rule)]) {
    let mut s = Session::open().unwrap();
    for (argv, _) in cases {
        run(argv);
    }
    let made = s.rules(table, chain).unwrap();
    assert_eq!(made.len(), cases.len());
    for ((argv, want), got) in cases.iter().zip(&made) {
        assert!(got.same_as(want), "{argv:?}:\n got {got:?}\nwant {want:?}");
    }
    let ops: Vec<Op> = cases
        .iter()
        .map(|(_, rule)| Op::Append {
            table,
            rule: rule.clone(),
        })
        .collect();
    for op in &ops {
        if let Err(e) = s.apply(&[op]) {
            panic!("{op:?}: {e}");
        }
    }
    let all = raw(&mut s, table, chain);
    let (theirs, ours) = all.split_at(cases.len());
    for (((argv, _), t), o) in cases.iter().zip(theirs).zip(ours) {
        assert_eq!(t, o, "{argv:?}");
    }
}

fn net(s: &str) -> ipnet::IpNet {
    s.parse().unwrap()
}

#[test]
fn iptables_rules_like_iptables() {
    if !fresh_netns(&["iptables", "ip6tables"]) || !ipt_is_nft() {
        return;
    }
    let nat = Table::iptables(Family::Ip, "nat");
    run(&["iptables", "-t", "nat", "-N", "T"]);
    run(&["iptables", "-t", "nat", "-N", "C"]);
    let ipt = |rest: &'static str| -> Vec<&'static str> {
        let mut v = vec!["iptables", "-w", "-t", "nat", "-A", "C"];
        v.extend(rest.split(' '));
        v
    };
    let rule = |matches: Vec<Match>, action: Action| Rule::new("C", matches, action);
    check_against_tool(
        nat,
        "C",
        &[
            (
                ipt("-s 10.88.0.5/32 -m comment --comment c1 -j T"),
                rule(
                    vec![Match::Src {
                        negate: false,
                        net: net("10.88.0.5/32"),
                    }],
                    Action::Jump("T".into()),
                )
                .with_comment("c1"),
            ),
            (
                ipt("! -d 224.0.0.0/4 -m comment --comment c1 -j MASQUERADE"),
                rule(
                    vec![Match::Dst {
                        negate: true,
                        net: net("224.0.0.0/4"),
                    }],
                    Action::Masquerade,
                )
                .with_comment("c1"),
            ),
            (
                ipt("-d 10.88.0.0/16 -j ACCEPT"),
                rule(
                    vec![Match::Dst {
                        negate: false,
                        net: net("10.88.0.0/16"),
                    }],
                    Action::Accept,
                ),
            ),
            (
                ipt("-s 10.0.0.0/24 -p tcp -m tcp --dport 8080 -j T"),
                rule(
                    vec![
                        Match::Src {
                            negate: false,
                            net: net("10.0.0.0/24"),
                        },
                        Match::Proto(Protocol::Tcp),
                        Match::Dport(Protocol::Tcp, 8080),
                    ],
                    Action::Jump("T".into()),
                ),
            ),
            (
                ipt(
                    "-d 192.168.0.2/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.0.0.2:80",
                ),
                rule(
                    vec![
                        Match::Dst {
                            negate: false,
                            net: net("192.168.0.2/32"),
                        },
                        Match::Proto(Protocol::Udp),
                        Match::Dport(Protocol::Udp, 53),
                    ],
                    Action::Dnat("10.0.0.2:80".parse().unwrap()),
                ),
            ),
            (
                ipt("-p sctp -m comment --comment x -m multiport --dports 1,2,3 -j T"),
                rule(
                    vec![Match::Proto(Protocol::Sctp), Match::Dports(vec![1, 2, 3])],
                    Action::Jump("T".into()),
                )
                .with_comment("x"),
            ),
            (
                ipt("-p sctp -m sctp --dport 8132 -j ACCEPT"),
                rule(
                    vec![
                        Match::Proto(Protocol::Sctp),
                        Match::Dport(Protocol::Sctp, 8132),
                    ],
                    Action::Accept,
                ),
            ),
            (
                ipt("-m addrtype --dst-type LOCAL -j T"),
                rule(vec![Match::DstLocal], Action::Jump("T".into())),
            ),
            (
                ipt("-m mark --mark 0x2000/0x2000 -j MASQUERADE"),
                rule(
                    vec![Match::Mark {
                        value: 0x2000,
                        mask: 0x2000,
                    }],
                    Action::Masquerade,
                ),
            ),
            (
                ipt("-m comment --comment m -j MARK --set-xmark 0x2000/0x2000"),
                rule(
                    Vec::new(),
                    Action::SetMark {
                        value: 0x2000,
                        mask: 0x2000,
                    },
                )
                .with_comment("m"),
            ),
            (
                ipt("-s 10.9.0.0/20 -j RETURN"),
                rule(
                    vec![Match::Src {
                        negate: false,
                        net: net("10.9.0.0/20"),
                    }],
                    Action::Return,
                ),
            ),
        ],
    );

    let filter = Table::iptables(Family::Ip, "filter");
    run(&["iptables", "-t", "filter", "-N", "F"]);
    let ipt = |rest: &'static str| -> Vec<&'static str> {
        let mut v = vec!["iptables", "-w", "-t", "filter", "-A", "F"];
        v.extend(rest.split(' '));
        v
    };
    let rule = |matches: Vec<Match>, action: Action| Rule::new("F", matches, action);
    check_against_tool(
        filter,
        "F",
        &[
            (
                ipt("-d 10.88.0.5/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
                rule(
                    vec![
                        Match::Dst {
                            negate: false,
                            net: net("10.88.0.5/32"),
                        },
                        Match::CtState(ct::RELATED | ct::ESTABLISHED),
                    ],
                    Action::Accept,
                ),
            ),
            (
                ipt("-i br0 ! -o br0 -m comment --comment p -j DROP"),
                rule(
                    vec![
                        Match::InIface {
                            negate: false,
                            name: "br0".into(),
                        },
                        Match::OutIface {
                            negate: true,
                            name: "br0".into(),
                        },
                    ],
                    Action::Drop,
                )
                .with_comment("p"),
            ),
            (
                ipt("-m comment --comment r -j RETURN"),
                rule(Vec::new(), Action::Return).with_comment("r"),
            ),
        ],
    );

    let nat6 = Table::iptables(Family::Ip6, "nat");
    run(&["ip6tables", "-t", "nat", "-N", "C"]);
    let ipt6 = |rest: &'static str| -> Vec<&'static str> {
        let mut v = vec!["ip6tables", "-w", "-t", "nat", "-A", "C"];
        v.extend(rest.split(' '));
        v
    };
    let rule = |matches: Vec<Match>, action: Action| Rule::new("C", matches, action);
    check_against_tool(
        nat6,
        "C",
        &[
            (
                ipt6("! -d ff00::/8 -m comment --comment c -j MASQUERADE"),
                rule(
                    vec![Match::Dst {
                        negate: true,
                        net: net("ff00::/8"),
                    }],
                    Action::Masquerade,
                )
                .with_comment("c"),
            ),
            (
                ipt6(
                    "-d fd00::/65 -p tcp -m tcp --dport 80 -j DNAT --to-destination [2001:db8::2]:8080",
                ),
                rule(
                    vec![
                        Match::Dst {
                            negate: false,
                            net: net("fd00::/65"),
                        },
                        Match::Proto(Protocol::Tcp),
                        Match::Dport(Protocol::Tcp, 80),
                    ],
                    Action::Dnat("[2001:db8::2]:8080".parse().unwrap()),
                ),
            ),
        ],
    );
}

#[test]
fn nft_rules_like_nft() {
    if !fresh_netns(&["nft"]) {
        return;
    }
    run(&[
        "nft",
        "add table ip t; add chain ip t c; add chain ip t j; \
         add table inet m; add chain inet m c; add chain inet m j; \
         add table bridge b; add chain bridge b c; add chain bridge b j",
    ]);
    let nft = |cmd: &'static str| vec!["nft", cmd];
    let ip = Table::nft(Family::Ip, "t");
    let rule = |matches: Vec<Match>, action: Action| Rule::new("c", matches, action);
    check_against_tool(
        ip,
        "c",
        &[
            (
                nft(
                    "add rule ip t c ip daddr 192.168.0.2 tcp dport 8083 dnat to 10.0.0.2:83 comment \"cid\"",
                ),
                rule(
                    vec![
                        Match::Dst {
                            negate: false,
                            net: net("192.168.0.2/32"),
                        },
                        Match::Dport(Protocol::Tcp, 8083),
                    ],
                    Action::Dnat("10.0.0.2:83".parse().unwrap()),
                )
                .with_comment("cid"),
            ),
            (
                nft("add rule ip t c fib daddr type local jump j"),
                rule(vec![Match::FibDaddrLocal], Action::Jump("j".into())),
            ),
            (
                nft(
                    "add rule ip t c ip saddr 0.0.0.0/0 ip daddr 10.0.0.2 masquerade comment \"cid\"",
                ),
                rule(
                    vec![
                        Match::Src {
                            negate: false,
                            net: net("0.0.0.0/0"),
                        },
                        Match::Dst {
                            negate: false,
                            net: net("10.0.0.2/32"),
                        },
                    ],
                    Action::Masquerade,
                )
                .with_comment("cid"),
            ),
            (
                nft("add rule ip t c ip daddr 10.0.0.2 comment \"marker\""),
                rule(
                    vec![Match::Dst {
                        negate: false,
                        net: net("10.0.0.2/32"),
                    }],
                    Action::None,
                )
                .with_comment("marker"),
            ),
            (
                nft("add rule ip t c sctp dport 8084 dnat to 10.0.0.2:84"),
                rule(
                    vec![Match::Dport(Protocol::Sctp, 8084)],
                    Action::Dnat("10.0.0.2:84".parse().unwrap()),
                ),
            ),
        ],
    );
    let inet = Table::nft(Family::Inet, "m");
    check_against_tool(
        inet,
        "c",
        &[
            (
                nft(
                    "add rule inet m c ip saddr 10.88.0.5 ip daddr != 10.88.0.0/16 masquerade comment \"x\"",
                ),
                rule(
                    vec![
                        Match::Src {
                            negate: false,
                            net: net("10.88.0.5/32"),
                        },
                        Match::Dst {
                            negate: true,
                            net: net("10.88.0.0/16"),
                        },
                    ],
                    Action::Masquerade,
                )
                .with_comment("x"),
            ),
            (
                nft("add rule inet m c ip6 saddr fd00::5 ip6 daddr != fd00::/64 masquerade"),
                rule(
                    vec![
                        Match::Src {
                            negate: false,
                            net: net("fd00::5/128"),
                        },
                        Match::Dst {
                            negate: true,
                            net: net("fd00::/64"),
                        },
                    ],
                    Action::Masquerade,
                ),
            ),
            (
                nft("add rule inet m c ip daddr 224.0.0.0/4 return"),
                rule(
                    vec![Match::Dst {
                        negate: false,
                        net: net("224.0.0.0/4"),
                    }],
                    Action::Return,
                ),
            ),
            (
                nft("add rule inet m c goto j"),
                rule(Vec::new(), Action::Goto("j".into())),
            ),
        ],
    );
    let bridge = Table::nft(Family::Bridge, "b");
    check_against_tool(
        bridge,
        "c",
        &[
            (
                nft(
                    "add rule bridge b c iifname \"veth43cdf513\" jump j comment \"macspoofchk-c2-eth0\"",
                ),
                rule(
                    vec![Match::InIface {
                        negate: false,
                        name: "veth43cdf513".into(),
                    }],
                    Action::Jump("j".into()),
                )
                .with_comment("macspoofchk-c2-eth0"),
            ),
            (
                nft("add rule bridge b c ether saddr 62:ba:df:88:67:22 return"),
                rule(
                    vec![Match::EtherSrc([0x62, 0xba, 0xdf, 0x88, 0x67, 0x22])],
                    Action::Return,
                ),
            ),
            (
                nft("add rule bridge b c drop"),
                rule(Vec::new(), Action::Drop),
            ),
        ],
    );
}

/// Tables and chains declared over netlink list in nft exactly as nft's
/// own declarations.
#[test]
fn tables_and_chains_like_nft() {
    if !fresh_netns(&["nft"]) {
        return;
    }
    let t = Table::nft(Family::Inet, "cni_test");
    let declare = [
        Op::AddTable {
            table: t,
            comment: Some("a table"),
        },
        Op::AddChain {
            table: t,
            chain: Chain {
                name: "plain".into(),
                base: None,
                comment: Some("a chain"),
            },
        },
        Op::AddChain {
            table: t,
            chain: Chain {
                name: "post".into(),
                base: Some(BaseChain {
                    kind: "nat",
                    hook: Hook::Postrouting,
                    priority: 100,
                    accept_policy: false,
                }),
                comment: None,
            },
        },
        Op::AddChain {
            table: t,
            chain: Chain {
                name: "pre".into(),
                base: Some(BaseChain {
                    kind: "filter",
                    hook: Hook::Prerouting,
                    priority: -300,
                    accept_policy: true,
                }),
                comment: None,
            },
        },
    ];
    let mut s = Session::open().unwrap();
    s.apply(&declare.iter().collect::<Vec<_>>()).unwrap();
    let ours = run(&["nft", "list", "ruleset"]);
    run(&["nft", "flush", "ruleset"]);
    run(&[
        "nft",
        "add table inet cni_test { comment \"a table\" ; }; \
         add chain inet cni_test plain { comment \"a chain\" ; }; \
         add chain inet cni_test post { type nat hook postrouting priority 100 ; }; \
         add chain inet cni_test pre { type filter hook prerouting priority -300 ; policy accept ; }",
    ]);
    assert_eq!(ours, run(&["nft", "list", "ruleset"]));
    // Declaring again changes nothing.
    s.apply(&declare.iter().collect::<Vec<_>>()).unwrap();
    assert_eq!(ours, run(&["nft", "list", "ruleset"]));
    assert!(s.table_exists(t).unwrap());
    assert!(s.chain_exists(t, "pre").unwrap());
    assert!(!s.chain_exists(t, "nope").unwrap());
    let mut chains = s.chains(t).unwrap();
    chains.sort();
    assert_eq!(chains, ["plain", "post", "pre"]);
}

/// A refused transaction changes nothing and names the failing step.
#[test]
fn transactions_are_all_or_nothing() {
    if !fresh_netns(&["nft"]) {
        return;
    }
    run(&[
        "nft",
        "add table inet t; add chain inet t c; add rule inet t c accept comment \"keep\"",
    ]);
    let t = Table::nft(Family::Inet, "t");
    let mut s = Session::open().unwrap();
    let kept = s.rules(t, "c").unwrap();
    assert_eq!(kept.len(), 1);
    let bad = [
        Op::Delete {
            table: t,
            rule: kept[0].clone(),
        },
        Op::DelChain {
            table: t,
            chain: "nope".into(),
        },
    ];
    let err = s.apply(&bad.iter().collect::<Vec<_>>()).unwrap_err();
    assert!(
        err.to_string().contains("delete chain inet t nope"),
        "{err}"
    );
    assert_eq!(s.rules(t, "c").unwrap(), kept);
    assert!(s.rules(t, "absent").unwrap().is_empty());
    assert!(
        s.rules(Table::nft(Family::Ip, "none"), "c")
            .unwrap()
            .is_empty()
    );
}

fn ipt_is_nft() -> bool {
    crate::firewall::ipt::uses_nftables(Table::iptables(Family::Ip, "nat"))
}

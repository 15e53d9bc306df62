use super::*;
use crate::firewall::model::{Action, Family, Match, Protocol, Rule, Table};

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

/// Every shape the layouts write decodes back to itself.
#[test]
fn layouts_rules_round_trip() {
    let ipt = Table::iptables(Family::Ip, "nat");
    let inet = Table::nft(Family::Inet, "t");
    let ip = Table::nft(Family::Ip, "t");
    let cases = [
        (
            ipt,
            Rule::new(
                "C",
                vec![
                    Match::InIface {
                        negate: false,
                        name: "br0".into(),
                    },
                    Match::Proto(Protocol::Tcp),
                    Match::Src {
                        negate: false,
                        net: net("10.0.0.0/24"),
                    },
                    Match::Dport(Protocol::Tcp, 80),
                    Match::Dports(vec![1, 2]),
                ],
                Action::Dnat("10.0.0.2:8080".parse().unwrap()),
            )
            .with_comment("c"),
        ),
        (
            ipt,
            Rule::new(
                "C",
                vec![Match::Mark {
                    value: 1,
                    mask: u32::MAX,
                }],
                Action::Accept,
            ),
        ),
        (
            inet,
            Rule::new(
                "c",
                vec![
                    Match::Src {
                        negate: false,
                        net: net("10.0.0.2/32"),
                    },
                    Match::Dst {
                        negate: true,
                        net: net("10.0.0.0/8"),
                    },
                ],
                Action::Masquerade,
            )
            .with_comment("x"),
        ),
        (
            ip,
            Rule::new("c", vec![Match::FibDaddrLocal], Action::Jump("j".into())),
        ),
    ];
    for (table, rule) in cases {
        let (exprs, udata) = encode(table, &rule).unwrap();
        let back = decode(table, &rule.chain, &exprs, udata.as_deref());
        assert!(back.same_as(&rule), "{rule:?}\n{back:?}");
    }
}

#[test]
fn what_only_the_tool_can_write() {
    let ipt = Table::iptables(Family::Ip, "nat");
    let raw = Rule::new("C", vec![Match::Raw(vec!["-a".into()])], Action::Accept);
    assert!(encode(ipt, &raw).is_none());
    let long = Rule::new("C", Vec::new(), Action::Accept).with_comment("x".repeat(300));
    assert!(encode(ipt, &long).is_none());
    assert!(encode(Table::nft(Family::Ip, "t"), &long).is_none());
}

#[test]
fn foreign_rules_are_unknown() {
    let t = Table::iptables(Family::Ip, "filter");
    let r = decode(t, "C", &[Expr::Other("limit".into()), Expr::Counter], None);
    assert!(matches!(r.matches.as_slice(), [Match::Unknown(_)]));
    let r = decode(t, "C", &[Expr::xt_match("set", 1, vec![0; 8])], None);
    assert!(matches!(r.matches.as_slice(), [Match::Unknown(_)]));
}

#[test]
fn user_data_comment() {
    let mut data = vec![9, 2, 0xaa, 0xbb];
    data.extend_from_slice(&[UDATA_RULE_COMMENT, 4, b'a', b'b', b'c', 0]);
    assert_eq!(udata_comment(&data).as_deref(), Some("abc"));
    assert_eq!(udata_comment(&[0, 9, b'x']), None, "truncated");
    assert_eq!(udata_comment(&[]), None);
    assert_eq!(comment_udata("ab").unwrap(), [0, 3, b'a', b'b', 0]);
}

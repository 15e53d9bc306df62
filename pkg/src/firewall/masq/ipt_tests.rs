//! Golden restore batches for the iptables masquerade plans.

use super::*;
use crate::firewall::ipt::quote;
use crate::firewall::testing::{FakeState, plan_lines};

const CHAIN: &str = "CNI-70a29d9dc18bc4d652ea5d59";
const COMMENT: &str = r#"name: "mynet" id: "abc123""#;
const Q: &str = r#""name: \"mynet\" id: \"abc123\"""#;

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

fn with_q(text: &str) -> Vec<String> {
    lines(&text.replace("$Q", Q).replace("$C", CHAIN))
}

#[test]
fn chain_and_comment_names() {
    assert_eq!(format_chain_name("mynet", "abc123"), CHAIN);
    assert_eq!(format_comment("mynet", "abc123"), COMMENT);
}

/// (name, `-S` listing, family, container CIDRs, expected batch lines)
type SetupCase<'a> = (&'a str, &'a str, Family, Vec<IpNet>, Vec<String>);

fn state(family: Family, listing: &str) -> FakeState {
    FakeState::iptables(table(family), listing)
}

#[test]
fn setup_plans() {
    let go_made = with_q(
        r#"
        -N $C
        -A POSTROUTING -s 10.88.0.5/32 -m comment --comment $Q -j $C
        -A $C -d 10.88.0.0/16 -m comment --comment $Q -j ACCEPT
        -A $C ! -d 224.0.0.0/4 -m comment --comment $Q -j MASQUERADE
    "#,
    )
    .join("\n");
    let empty_chain = format!("-N {CHAIN}");
    let cases: Vec<SetupCase> = vec![
        (
            "fresh v4",
            "",
            Family::Ip,
            vec![net("10.88.0.5/16")],
            with_q(
                r#"
                -N $C
                -A $C -d 10.88.0.0/16 -m comment --comment $Q -j ACCEPT
                -A $C ! -d 224.0.0.0/4 -m comment --comment $Q -j MASQUERADE
                -A POSTROUTING -s 10.88.0.5/32 -m comment --comment $Q -j $C
            "#,
            ),
        ),
        (
            "fresh v6",
            "",
            Family::Ip6,
            vec![net("fd00:88::5/64")],
            with_q(
                r#"
                -N $C
                -A $C -d fd00:88::/64 -m comment --comment $Q -j ACCEPT
                -A $C ! -d ff00::/8 -m comment --comment $Q -j MASQUERADE
                -A POSTROUTING -s fd00:88::5/128 -m comment --comment $Q -j $C
            "#,
            ),
        ),
        (
            "already there (Go-made)",
            &go_made,
            Family::Ip,
            vec![net("10.88.0.5/16")],
            vec![],
        ),
        (
            "second cidr joins",
            &go_made,
            Family::Ip,
            vec![net("10.88.0.5/16"), net("10.99.0.7/24")],
            with_q(
                r#"
                -I $C 1 -d 10.99.0.0/24 -m comment --comment $Q -j ACCEPT
                -A POSTROUTING -s 10.99.0.7/32 -m comment --comment $Q -j $C
            "#,
            ),
        ),
        (
            "chain left empty",
            &empty_chain,
            Family::Ip,
            vec![net("10.88.0.5/16"), net("10.88.0.6/16")],
            with_q(
                r#"
                -A $C -d 10.88.0.0/16 -m comment --comment $Q -j ACCEPT
                -A $C ! -d 224.0.0.0/4 -m comment --comment $Q -j MASQUERADE
                -A POSTROUTING -s 10.88.0.5/32 -m comment --comment $Q -j $C
                -A POSTROUTING -s 10.88.0.6/32 -m comment --comment $Q -j $C
            "#,
            ),
        ),
    ];
    for (name, listing, family, nets, want) in cases {
        let ops = plan_setup(
            &mut state(family, listing),
            family,
            "mynet",
            "abc123",
            &nets,
        )
        .unwrap();
        assert_eq!(plan_lines(&ops), want, "{name}");
    }
}

#[test]
fn teardown_plans() {
    let listing = with_q(
        r#"
        -N $C
        -N CNI-other
        -A POSTROUTING -s 10.88.0.5/32 -m comment --comment $Q -j $C
        -A POSTROUTING -s 10.88.0.0/16 -m comment --comment $Q -j $C
        -A POSTROUTING -s 10.88.0.9/32 -j CNI-other
        -A $C -d 10.88.0.0/16 -m comment --comment $Q -j ACCEPT
    "#,
    )
    .join("\n");
    // The tools cannot look up by handle: a guess lists all the same.
    for guess in [false, true] {
        let ops = plan_teardown(
            &mut state(Family::Ip, &listing),
            Family::Ip,
            "mynet",
            "abc123",
            guess,
        )
        .unwrap();
        assert_eq!(
            plan_lines(&ops),
            with_q(
                r#"
                -D POSTROUTING -s 10.88.0.5/32 -m comment --comment $Q -j $C
                -D POSTROUTING -s 10.88.0.0/16 -m comment --comment $Q -j $C
                -F $C
                -X $C
            "#
            ),
            "guess {guess}"
        );
        let none = plan_teardown(
            &mut state(Family::Ip, ""),
            Family::Ip,
            "mynet",
            "abc123",
            guess,
        )
        .unwrap();
        assert!(none.is_empty());
    }
}

#[test]
fn gc_plans() {
    let a = format_chain_name("mynet", "a");
    let b = format_chain_name("mynet", "b");
    let other = format_chain_name("othernet", "a");
    let dn = format!("CNI-DN-{}", &a[4..25]);
    let listing = [
        format!("-N {a}"),
        format!("-N {b}"),
        format!("-N {other}"),
        format!("-N {dn}"),
        format!(
            "-A POSTROUTING -s 10.0.0.1/32 -m comment --comment {} -j {a}",
            quote(&format_comment("mynet", "a"))
        ),
        format!(
            "-A POSTROUTING -s 10.0.0.2/32 -m comment --comment {} -j {b}",
            quote(&format_comment("mynet", "b"))
        ),
        format!(
            "-A {b} -d 10.0.0.0/8 -m comment --comment {} -j ACCEPT",
            quote(&format_comment("mynet", "b"))
        ),
        format!(
            "-A {other} -d 10.0.0.0/8 -m comment --comment {} -j ACCEPT",
            quote(&format_comment("othernet", "a"))
        ),
        format!(
            "-A {dn} -p tcp -m comment --comment {} -j DNAT",
            quote(&format_comment("mynet", "b"))
        ),
    ]
    .join("\n");
    let gc = |keep: &[&str]| {
        let keep: HashSet<&str> = keep.iter().copied().collect();
        plan_lines(&plan_gc(&mut state(Family::Ip, &listing), Family::Ip, "mynet", &keep).unwrap())
    };
    assert_eq!(
        gc(&["a"]),
        [
            format!(
                "-D POSTROUTING -s 10.0.0.2/32 -m comment --comment {} -j {b}",
                quote(&format_comment("mynet", "b"))
            ),
            format!("-F {b}"),
            format!("-X {b}"),
        ]
    );
    let everything = gc(&[]);
    assert_eq!(everything.iter().filter(|l| l.starts_with("-X")).count(), 2);
    assert!(gc(&["a", "b"]).is_empty());
}

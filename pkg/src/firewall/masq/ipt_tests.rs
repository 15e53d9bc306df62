//! Golden restore batches for the iptables masquerade plans.

use super::*;

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
            Family::V4,
            vec![net("10.88.0.5/16")],
            with_q(
                r#"
                :$C - [0:0]
                -A $C -d 10.88.0.0/16 -m comment --comment $Q -j ACCEPT
                -A $C ! -d 224.0.0.0/4 -m comment --comment $Q -j MASQUERADE
                -A POSTROUTING -s 10.88.0.5/32 -m comment --comment $Q -j $C
            "#,
            ),
        ),
        (
            "fresh v6",
            "",
            Family::V6,
            vec![net("fd00:88::5/64")],
            with_q(
                r#"
                :$C - [0:0]
                -A $C -d fd00:88::/64 -m comment --comment $Q -j ACCEPT
                -A $C ! -d ff00::/8 -m comment --comment $Q -j MASQUERADE
                -A POSTROUTING -s fd00:88::5/128 -m comment --comment $Q -j $C
            "#,
            ),
        ),
        (
            "already there (Go-made)",
            &go_made,
            Family::V4,
            vec![net("10.88.0.5/16")],
            vec![],
        ),
        (
            "second cidr joins",
            &go_made,
            Family::V4,
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
            Family::V4,
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
        let table = NatTable::parse(listing);
        assert_eq!(
            plan_setup(&table, family, CHAIN, COMMENT, &nets),
            want,
            "{name}"
        );
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
    let table = NatTable::parse(&listing);
    assert_eq!(
        plan_teardown(&table, CHAIN),
        with_q(
            r#"
            -D POSTROUTING -s 10.88.0.5/32 -m comment --comment $Q -j $C
            -D POSTROUTING -s 10.88.0.0/16 -m comment --comment $Q -j $C
            -F $C
            -X $C
        "#
        )
    );
    assert!(plan_teardown(&NatTable::parse(""), CHAIN).is_empty());
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
            iptables::quote(&format_comment("mynet", "a"))
        ),
        format!(
            "-A POSTROUTING -s 10.0.0.2/32 -m comment --comment {} -j {b}",
            iptables::quote(&format_comment("mynet", "b"))
        ),
        format!(
            "-A {b} -d 10.0.0.0/8 -m comment --comment {} -j ACCEPT",
            iptables::quote(&format_comment("mynet", "b"))
        ),
        format!(
            "-A {other} -d 10.0.0.0/8 -m comment --comment {} -j ACCEPT",
            iptables::quote(&format_comment("othernet", "a"))
        ),
        format!(
            "-A {dn} -p tcp -m comment --comment {} -j DNAT",
            iptables::quote(&format_comment("mynet", "b"))
        ),
    ]
    .join("\n");
    let table = NatTable::parse(&listing);
    let plan = plan_gc(&table, "mynet", &HashSet::from(["a"]));
    assert_eq!(
        plan,
        [
            format!(
                "-D POSTROUTING -s 10.0.0.2/32 -m comment --comment {} -j {b}",
                iptables::quote(&format_comment("mynet", "b"))
            ),
            format!("-F {b}"),
            format!("-X {b}"),
        ]
    );
    let everything = plan_gc(&table, "mynet", &HashSet::new());
    assert_eq!(everything.iter().filter(|l| l.starts_with("-X")).count(), 2);
    assert!(plan_gc(&table, "mynet", &HashSet::from(["a", "b"])).is_empty());
}

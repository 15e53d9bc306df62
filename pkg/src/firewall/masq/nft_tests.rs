//! Golden nft scripts and comments for the nftables masquerade backend.

use super::*;
use crate::firewall::testing::{FakeState, plan_lines};

#[test]
fn comments_match_go() {
    // Hashes from `printf '%s' mynet | sha512sum` and `printf '%s' eth0:abc123 | sha512sum`.
    let cases = [
        (
            "mynet",
            "eth0",
            "abc123",
            "d23676b4f2d9fe04-ebce0e3dd4dafae3, net: mynet, if: eth0, id: abc123",
        ),
        (
            r#"my"net"#,
            "eth0",
            "abc123",
            ", net: mynet, if: eth0, id: abc123",
        ),
    ];
    for (net, ifname, id, want) in cases {
        let got = comment_for_instance(net, ifname, id);
        if want.starts_with(',') {
            assert!(got.ends_with(want), "{got}");
        } else {
            assert_eq!(got, want);
        }
        assert!(got.starts_with(&hash_for_instance(net, ifname, id)));
    }
    let long = comment_for_instance("mynet", "eth0", &"c".repeat(200));
    assert_eq!(long.len(), 128);
    assert_eq!(hash_for_network("mynet"), "d23676b4f2d9fe04");
}

fn masq_rule(handle: u64, comment: &str) -> Rule {
    let mut r = Rule::new(CHAIN, Vec::new(), Action::Masquerade).with_comment(comment);
    r.handle = crate::firewall::model::Handle::Nft(handle);
    r
}

#[test]
fn setup_is_gos_transaction() {
    let ips: Vec<IpNet> = vec![
        "10.88.0.5/16".parse().unwrap(),
        "fd00:88::5/64".parse().unwrap(),
    ];
    let prefix = hash_for_instance("n", "eth0", "c");
    let comment = comment_for_instance("n", "eth0", "c");
    let mut state = FakeState::default();
    state.nft.push((
        TABLE,
        vec![
            masq_rule(7, &comment),
            masq_rule(8, "other, net: x"),
            masq_rule(9, &format!("{prefix}, older")),
        ],
    ));
    let got = plan_lines(&plan_setup(&mut state, "n", "eth0", "c", &ips).unwrap()).join("\n");
    let want = format!(
        r#"add table inet cni_plugins_masquerade {{ comment "Masquerading for plugins from github.com/containernetworking/plugins" ; }}
add chain inet cni_plugins_masquerade masq_checks {{ comment "Masquerade traffic from certain IPs to any (non-multicast) IP outside their subnet" ; }}
add chain inet cni_plugins_masquerade postrouting {{ type nat hook postrouting priority 100 ; }}
flush chain inet cni_plugins_masquerade postrouting
add rule inet cni_plugins_masquerade postrouting ip daddr 224.0.0.0/4 return
add rule inet cni_plugins_masquerade postrouting ip6 daddr ff00::/8 return
add rule inet cni_plugins_masquerade postrouting goto masq_checks
add rule inet cni_plugins_masquerade masq_checks ip saddr 10.88.0.5 ip daddr != 10.88.0.0/16 masquerade comment "{comment}"
add rule inet cni_plugins_masquerade masq_checks ip6 saddr fd00:88::5 ip6 daddr != fd00:88::/64 masquerade comment "{comment}""#
    );
    assert_eq!(got, want);
    assert_eq!(state.listed, [POSTROUTING], "masq_checks is not listed");
    // With the base in place, only this attachment's rules; earlier ones
    // (7 and 9) are not looked for.
    state.nft.push((
        TABLE,
        vec![Rule::new(
            POSTROUTING,
            Vec::new(),
            Action::Goto(CHAIN.into()),
        )],
    ));
    let got = plan_lines(&plan_setup(&mut state, "n", "eth0", "c", &ips[..1]).unwrap());
    assert_eq!(
        got,
        [format!(
            "add rule inet cni_plugins_masquerade masq_checks ip saddr 10.88.0.5 ip daddr != 10.88.0.0/16 masquerade comment \"{comment}\""
        )]
    );
}

#[test]
fn picks_rules_by_comment_prefix() {
    let mut state = FakeState::default();
    state.nft.push((
        TABLE,
        vec![
            masq_rule(3, "aaaa-1111, net: x"),
            masq_rule(4, "aaaa-2222, net: x"),
            masq_rule(5, "bbbb-1111, net: y"),
            Rule::new(CHAIN, Vec::new(), Action::Masquerade),
        ],
    ));
    let mut handles = |pick: &dyn Fn(&str) -> bool| -> Vec<String> {
        plan_lines(&own_rules(&mut state, pick).unwrap())
    };
    assert_eq!(handles(&|c| c.starts_with("aaaa-")).len(), 2);
    assert_eq!(
        handles(&|c| c.starts_with("aaaa-2222")),
        ["delete rule inet cni_plugins_masquerade masq_checks handle 4"]
    );
}

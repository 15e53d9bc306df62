//! Golden nft scripts and comments for the nftables masquerade backend.

use super::*;

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

#[test]
fn setup_script_is_gos_transaction() {
    let ips: Vec<IpNet> = vec![
        "10.88.0.5/16".parse().unwrap(),
        "fd00:88::5/64".parse().unwrap(),
    ];
    let got = setup_script(&[7, 9], &ips, "H, net: n, if: eth0, id: c", true);
    let want = r#"add table inet cni_plugins_masquerade { comment "Masquerading for plugins from github.com/containernetworking/plugins" ; }
add chain inet cni_plugins_masquerade masq_checks { comment "Masquerade traffic from certain IPs to any (non-multicast) IP outside their subnet" ; }
add chain inet cni_plugins_masquerade postrouting { type nat hook postrouting priority srcnat ; }
flush chain inet cni_plugins_masquerade postrouting
add rule inet cni_plugins_masquerade postrouting ip daddr 224.0.0.0/4 return
add rule inet cni_plugins_masquerade postrouting ip6 daddr ff00::/8 return
add rule inet cni_plugins_masquerade postrouting goto masq_checks
delete rule inet cni_plugins_masquerade masq_checks handle 7
delete rule inet cni_plugins_masquerade masq_checks handle 9
add rule inet cni_plugins_masquerade masq_checks ip saddr 10.88.0.5 ip daddr != 10.88.0.0/16 masquerade comment "H, net: n, if: eth0, id: c"
add rule inet cni_plugins_masquerade masq_checks ip6 saddr fd00:88::5 ip6 daddr != fd00:88::/64 masquerade comment "H, net: n, if: eth0, id: c"
"#;
    assert_eq!(got, want);
    assert_eq!(delete_script(&[]), "");
    // With the base in place, only this attachment's rules.
    let got = setup_script(&[3], &ips[..1], "H", false);
    let want = r#"delete rule inet cni_plugins_masquerade masq_checks handle 3
add rule inet cni_plugins_masquerade masq_checks ip saddr 10.88.0.5 ip daddr != 10.88.0.0/16 masquerade comment "H"
"#;
    assert_eq!(got, want);
}

#[test]
fn picks_rules_by_comment_prefix() {
    let json = r#"{"nftables": [
      {"chain": {"family": "inet", "table": "cni_plugins_masquerade", "name": "masq_checks"}},
      {"rule": {"chain": "masq_checks", "handle": 3, "comment": "aaaa-1111, net: x"}},
      {"rule": {"chain": "masq_checks", "handle": 4, "comment": "aaaa-2222, net: x"}},
      {"rule": {"chain": "masq_checks", "handle": 5, "comment": "bbbb-1111, net: y"}},
      {"rule": {"chain": "masq_checks", "handle": 6}}]}"#;
    let listing = Listing::parse(json).unwrap();
    assert_eq!(handles(Some(&listing), |c| c.starts_with("aaaa-")), [3, 4]);
    assert_eq!(handles(Some(&listing), |c| c.starts_with("aaaa-2222")), [4]);
    assert!(handles(None, |_| true).is_empty());
}

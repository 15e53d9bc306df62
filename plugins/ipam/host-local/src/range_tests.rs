use super::*;

fn rc(subnet: &str, start: &str, end: &str, gw: &str) -> RangeConf {
    RangeConf {
        subnet: subnet.into(),
        range_start: start.into(),
        range_end: end.into(),
        gateway: gw.into(),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn canonicalize_table() {
    struct Case {
        conf: RangeConf,
        want: std::result::Result<(&'static str, &'static str, &'static str), &'static str>,
    }
    let cases = [
        Case {
            conf: rc("10.1.2.0/24", "", "", ""),
            want: Ok(("10.1.2.1", "10.1.2.254", "10.1.2.1")),
        },
        Case {
            conf: rc("10.1.2.0/24", "10.1.2.10", "10.1.2.20", "10.1.2.254"),
            want: Ok(("10.1.2.10", "10.1.2.20", "10.1.2.254")),
        },
        Case {
            conf: rc("10.1.2.0/30", "", "", ""),
            want: Ok(("10.1.2.1", "10.1.2.2", "10.1.2.1")),
        },
        Case {
            conf: rc("fd00::/120", "", "", ""),
            want: Ok(("fd00::1", "fd00::ff", "fd00::1")),
        },
        Case {
            conf: rc("10.1.2.0/31", "", "", ""),
            want: Err("network 10.1.2.0/31 too small to allocate from"),
        },
        Case {
            conf: rc("10.1.2.0/32", "", "", ""),
            want: Err("network 10.1.2.0/32 too small to allocate from"),
        },
        Case {
            conf: rc("fd00::/127", "", "", ""),
            want: Err("network fd00::/127 too small to allocate from"),
        },
        Case {
            conf: rc("10.1.2.5/24", "", "", ""),
            want: Err(
                "network 10.1.2.5/24 has host bits set: for a prefix length of 24 the network address is 10.1.2.0",
            ),
        },
        Case {
            conf: rc("10.1.2.0/24", "10.1.3.1", "", ""),
            want: Err("rangeStart 10.1.3.1 not in network 10.1.2.0/24"),
        },
        Case {
            conf: rc("10.1.2.0/24", "", "10.1.3.1", ""),
            want: Err("rangeEnd 10.1.3.1 not in network 10.1.2.0/24"),
        },
        Case {
            conf: rc("10.1.2.0/24", "10.1.2.50", "10.1.2.40", ""),
            want: Err("rangeEnd 10.1.2.40 is before rangeStart 10.1.2.50 in network 10.1.2.0/24"),
        },
        Case {
            // Go accepts the network and broadcast addresses as bounds
            conf: rc("10.1.2.0/24", "10.1.2.0", "10.1.2.255", ""),
            want: Ok(("10.1.2.0", "10.1.2.255", "10.1.2.1")),
        },
        Case {
            conf: rc("nonsense", "", "", ""),
            want: Err("invalid subnet \"nonsense\": not a CIDR"),
        },
        Case {
            conf: rc("10.1.2.0/24", "", "", "x"),
            want: Err("invalid gateway \"x\": not an IP address"),
        },
        Case {
            conf: rc("", "", "", ""),
            want: Err("range has no subnet"),
        },
    ];
    for c in cases {
        match (c.conf.canonicalize(), c.want) {
            (Ok(r), Ok((s, e, g))) => {
                assert_eq!(
                    (r.start, r.end, r.gateway),
                    (ip(s), ip(e), ip(g)),
                    "{:?}",
                    c.conf
                );
            }
            (Err(err), Err(msg)) => {
                assert_eq!(err.msg(), msg);
                assert_eq!(err.code(), 7);
            }
            (got, want) => panic!("{:?}: got {got:?} want {want:?}", c.conf),
        }
    }
}

#[test]
fn range_sets() {
    let e = RangeSet::canonicalize(&[rc("10.0.0.0/24", "", "", ""), rc("fd00::/64", "", "", "")])
        .unwrap_err();
    assert_eq!(e.msg(), "mixed address families");
    let e = RangeSet::canonicalize(&[rc("10.0.0.0/24", "", "", ""), rc("10.0.0.0/25", "", "", "")])
        .unwrap_err();
    assert_eq!(
        e.msg(),
        "subnets 10.0.0.1-10.0.0.254 and 10.0.0.1-10.0.0.126 overlap"
    );
    assert_eq!(
        RangeSet::canonicalize(&[]).unwrap_err().msg(),
        "empty range set"
    );
    let ok = RangeSet::canonicalize(&[
        rc("10.0.0.0/24", "10.0.0.1", "10.0.0.100", ""),
        rc("10.0.0.0/24", "10.0.0.101", "10.0.0.200", "10.0.0.1"),
    ])
    .unwrap();
    assert_eq!(ok.to_string(), "10.0.0.1-10.0.0.100,10.0.0.101-10.0.0.200");
    assert!(ok.contains(ip("10.0.0.150")));
    assert!(!ok.contains(ip("10.0.0.250")));
    assert!(ok.contains(ip("::ffff:10.0.0.5")));
    assert_eq!(ok.capacity(), 199);
}

fn collect(set: &RangeSet, last: Option<&str>) -> Vec<String> {
    set.iter_from(last.map(ip))
        .map(|(n, _)| n.to_string())
        .collect()
}

#[test]
fn iteration_is_go_round_robin() {
    let set = RangeSet::canonicalize(&[rc("10.0.0.0/29", "", "", "")]).unwrap();
    // .1 is the gateway; .2 to .6
    assert_eq!(
        collect(&set, None),
        [
            "10.0.0.2/29",
            "10.0.0.3/29",
            "10.0.0.4/29",
            "10.0.0.5/29",
            "10.0.0.6/29"
        ]
    );
    assert_eq!(
        collect(&set, Some("10.0.0.4")),
        [
            "10.0.0.5/29",
            "10.0.0.6/29",
            "10.0.0.2/29",
            "10.0.0.3/29",
            "10.0.0.4/29"
        ]
    );
    assert_eq!(
        collect(&set, Some("10.0.0.6")),
        [
            "10.0.0.2/29",
            "10.0.0.3/29",
            "10.0.0.4/29",
            "10.0.0.5/29",
            "10.0.0.6/29"
        ]
    );
    // a last IP outside the set restarts from the beginning
    assert_eq!(collect(&set, Some("192.168.0.1")).len(), 5);
    // multiple ranges wrap into each other, gateways skipped in each
    let set =
        RangeSet::canonicalize(&[rc("10.0.0.0/30", "", "", ""), rc("10.0.1.0/30", "", "", "")])
            .unwrap();
    assert_eq!(collect(&set, None), ["10.0.0.2/30", "10.0.1.2/30"]);
    assert_eq!(
        collect(&set, Some("10.0.0.2")),
        ["10.0.1.2/30", "10.0.0.2/30"]
    );
    // a range holding only its gateway yields nothing and terminates
    let set = RangeSet::canonicalize(&[rc("10.0.0.0/30", "10.0.0.1", "10.0.0.1", "")]).unwrap();
    assert!(collect(&set, None).is_empty());
    // IPv6 at the top of the space does not overflow
    let set = RangeSet::canonicalize(&[rc(
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124",
        "",
        "",
        "",
    )])
    .unwrap();
    assert_eq!(collect(&set, None).len(), 14);
}

#[test]
fn ip_or_cidr() {
    assert_eq!(parse_ip_or_cidr("10.0.0.5"), Some(ip("10.0.0.5")));
    assert_eq!(parse_ip_or_cidr("10.0.0.5/24"), Some(ip("10.0.0.5")));
    assert_eq!(parse_ip_or_cidr("fd00::5/64"), Some(ip("fd00::5")));
    assert_eq!(parse_ip_or_cidr("10.0.0.5/x"), None);
    assert_eq!(parse_ip_or_cidr("bogus"), None);
    // the prefix must fit the family (Go's net.ParseCIDR)
    assert_eq!(parse_ip_or_cidr("10.0.0.5/33"), None);
    assert_eq!(parse_ip_or_cidr("fd00::5/129"), None);
    assert_eq!(parse_ip_or_cidr(" 10.0.0.5\n"), Some(ip("10.0.0.5")));
}

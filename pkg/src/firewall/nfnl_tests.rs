use super::*;
use crate::firewall::testutil::{fresh_netns, run};

#[test]
fn user_data_comment() {
    // libnftnl TLVs: type, length, value (the comment NUL-terminated).
    let mut data = vec![9, 2, 0xaa, 0xbb];
    data.extend_from_slice(&[NFTNL_UDATA_RULE_COMMENT, 4, b'a', b'b', b'c', 0]);
    assert_eq!(udata_comment(&data).as_deref(), Some("abc"));
    assert_eq!(udata_comment(&[0, 9, b'x']), None, "truncated");
    assert_eq!(udata_comment(&[]), None);
}

#[test]
fn steps_are_well_formed() {
    let (msg, flags) = encode_op(&Op::NewChain {
        family: IPV4,
        table: "nat".into(),
        chain: "CNI-x".into(),
    });
    assert_eq!(
        (msg.subsys, msg.kind, msg.family),
        (10, NFT_MSG_NEWCHAIN, IPV4)
    );
    assert_eq!(flags, NLM_F_CREATE | NLM_F_EXCL);
    let got: Vec<(u16, &str)> = nfgen::attrs(&msg.attrs)
        .map(|(k, v)| (k, cstr(v)))
        .collect();
    assert_eq!(got, [(NFTA_CHAIN_TABLE, "nat"), (NFTA_CHAIN_NAME, "CNI-x")]);
}

/// Rules made by `nft`, read and deleted over netlink.
#[test]
fn lists_and_deletes_rules_made_by_nft() {
    if !fresh_netns(&["nft"]) {
        return;
    }
    let mut nl = Nft::new().unwrap();
    assert!(!nl.table_exists(INET, "t").unwrap());
    assert!(!nl.chain_exists(INET, "t", "c").unwrap());
    assert!(nl.rules(INET, "t", "c").unwrap().is_empty());
    run(&[
        "nft",
        "add table inet t; add chain inet t target; add chain inet t c; \
         add rule inet t c ip saddr 10.0.0.1 accept comment \"first\"; \
         add rule inet t c jump target; \
         add rule inet t c goto target comment \"third\"",
    ]);
    assert!(nl.table_exists(INET, "t").unwrap());
    assert!(nl.chain_exists(INET, "t", "c").unwrap());
    assert!(!nl.chain_exists(INET, "t", "nope").unwrap());
    assert!(!nl.table_exists(IPV4, "t").unwrap(), "families are apart");
    let rules = nl.rules(INET, "t", "c").unwrap();
    let seen: Vec<(Option<&str>, Option<&str>)> = rules
        .iter()
        .map(|r| (r.comment.as_deref(), r.jump.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [
            (Some("first"), None),
            (None, Some("target")),
            (Some("third"), Some("target"))
        ]
    );
    let listed = run(&["nft", "-a", "list", "chain", "inet", "t", "c"]);
    for r in &rules {
        assert!(
            listed.contains(&format!("# handle {}", r.handle)),
            "{listed}"
        );
    }

    // Jumps, then the target chain, in one transaction.
    let (fam, t) = (INET, "t".to_string());
    let mut ops: Vec<Op> = rules[1..]
        .iter()
        .map(|r| Op::DelRule {
            family: fam,
            table: t.clone(),
            chain: "c".into(),
            handle: r.handle,
        })
        .collect();
    ops.push(Op::Flush {
        family: fam,
        table: t.clone(),
        chain: "target".into(),
    });
    ops.push(Op::DelChain {
        family: fam,
        table: t.clone(),
        chain: "target".into(),
    });
    nl.commit(&ops).unwrap();
    assert!(!nl.chain_exists(INET, "t", "target").unwrap());
    let left = nl.rules(INET, "t", "c").unwrap();
    assert_eq!(left, rules[..1]);

    // A refused transaction changes nothing and names the failing step.
    let bad = [
        Op::DelRule {
            family: fam,
            table: t.clone(),
            chain: "c".into(),
            handle: rules[0].handle,
        },
        Op::DelChain {
            family: fam,
            table: t.clone(),
            chain: "nope".into(),
        },
    ];
    let err = nl.commit(&bad).unwrap_err();
    assert!(
        err.to_string().contains("delete chain inet t nope"),
        "{err}"
    );
    assert_eq!(nl.rules(INET, "t", "c").unwrap(), rules[..1]);
}

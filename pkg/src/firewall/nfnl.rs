//! nf_tables over netlink (`NETLINK_NETFILTER`): whether a table or chain
//! exists, the rules of one chain with their handle, comment and jump
//! target, and one transaction of deletions and additions (chains, and
//! rules whose expressions [`super::nfexpr`] encodes exactly as the tools
//! do). Doing this in-process saves the `nft`/`iptables` processes (1–2 ms
//! of CPU each, and a listing that grows with every container) that ADD
//! and DEL used to spend. iptables-nft keeps its tables in nf_tables too
//! (`ip nat`, `ip6 nat`), so this reads and changes its chains as well.
//! What is rare (creating a table and its base chains) stays with the
//! tools, which own the syntax.
//!
//! Everything resolves against the calling thread's network namespace.
//!
//! Deleting a rule makes the kernel free it after an RCU grace period, and
//! closing a netfilter socket waits for pending frees (tens of ms on a busy
//! VM). Callers that have other slow work keep the [`Nft`] alive across it
//! so the two waits overlap.

use netlink_sys::protocols::NETLINK_NETFILTER;
use nix::errno::Errno;

use crate::error::{Error, Result};
use crate::netlink::Socket;
use crate::netlink::nfgen::{self, Attrs, NfMessage, SUBSYS_NFTABLES};
use crate::netlink::socket::cstr;

/// nfgenmsg families.
pub(crate) const INET: u8 = 1;
pub(crate) const IPV4: u8 = 2;
pub(crate) const IPV6: u8 = 10;

const NFT_MSG_GETTABLE: u8 = 1;
const NFT_MSG_NEWCHAIN: u8 = 3;
const NFT_MSG_GETCHAIN: u8 = 4;
const NFT_MSG_DELCHAIN: u8 = 5;
const NFT_MSG_NEWRULE: u8 = 6;
const NFT_MSG_GETRULE: u8 = 7;
const NFT_MSG_DELRULE: u8 = 8;

const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_APPEND: u16 = 0x800;

const NFTA_TABLE_NAME: u16 = 1;
const NFTA_CHAIN_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_RULE_TABLE: u16 = 1;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_RULE_HANDLE: u16 = 3;
const NFTA_RULE_EXPRESSIONS: u16 = 4;
const NFTA_RULE_USERDATA: u16 = 7;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_EXPR_NAME: u16 = 1;
const NFTA_EXPR_DATA: u16 = 2;
const NFTA_IMMEDIATE_DATA: u16 = 2;
const NFTA_DATA_VERDICT: u16 = 2;
const NFTA_VERDICT_CODE: u16 = 1;
const NFTA_VERDICT_CHAIN: u16 = 2;
const NFT_JUMP: i32 = -3;
const NFT_GOTO: i32 = -4;
/// libnftnl's user-data TLV carrying a rule comment.
const NFTNL_UDATA_RULE_COMMENT: u8 = 0;

/// One rule of a chain, as far as deciding whether it is ours goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    pub handle: u64,
    pub comment: Option<String>,
    /// The chain a `jump`/`goto` verdict of the rule names.
    pub jump: Option<String>,
}

/// A change in a [`Nft::commit`] transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    DelRule {
        family: u8,
        table: String,
        chain: String,
        handle: u64,
    },
    /// Delete every rule of the chain.
    Flush {
        family: u8,
        table: String,
        chain: String,
    },
    /// Delete the (empty, unreferenced) chain.
    DelChain {
        family: u8,
        table: String,
        chain: String,
    },
    /// Create a regular chain; fails if it exists.
    NewChain {
        family: u8,
        table: String,
        chain: String,
    },
    /// Append a rule: its encoded expressions ([`super::nfexpr`]) and
    /// user data (the comment, for nft).
    NewRule {
        family: u8,
        table: String,
        chain: String,
        exprs: Vec<u8>,
        udata: Option<Vec<u8>>,
    },
}

pub(crate) struct Nft {
    socket: Socket<NfMessage>,
}

impl Nft {
    pub(crate) fn new() -> Result<Nft> {
        Ok(Nft {
            socket: Socket::open(NETLINK_NETFILTER)?,
        })
    }

    pub(crate) fn table_exists(&mut self, family: u8, table: &str) -> Result<bool> {
        let mut attrs = Attrs::new();
        attrs.put_str(NFTA_TABLE_NAME, table);
        let op = || format!("look up nftables table {} {table}", family_name(family));
        self.exists(NFT_MSG_GETTABLE, family, attrs, op)
    }

    pub(crate) fn chain_exists(&mut self, family: u8, table: &str, chain: &str) -> Result<bool> {
        let mut attrs = Attrs::new();
        attrs
            .put_str(NFTA_CHAIN_TABLE, table)
            .put_str(NFTA_CHAIN_NAME, chain);
        let op = || {
            format!(
                "look up nftables chain {} {table} {chain}",
                family_name(family)
            )
        };
        self.exists(NFT_MSG_GETCHAIN, family, attrs, op)
    }

    /// A request answered by one object or ENOENT.
    fn exists(
        &mut self,
        kind: u8,
        family: u8,
        attrs: Attrs,
        op: impl Fn() -> String,
    ) -> Result<bool> {
        let msg = NfMessage::new(SUBSYS_NFTABLES, kind, family, attrs);
        match self.socket.request(msg, 0, op) {
            Ok(_) => Ok(true),
            Err(e) if absent(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The rules of a chain, in order; none when the table or chain does
    /// not exist.
    pub(crate) fn rules(&mut self, family: u8, table: &str, chain: &str) -> Result<Vec<Rule>> {
        let mut attrs = Attrs::new();
        attrs
            .put_str(NFTA_RULE_TABLE, table)
            .put_str(NFTA_RULE_CHAIN, chain);
        let op = || {
            format!(
                "list nftables chain {} {table} {chain}",
                family_name(family)
            )
        };
        let msg = || NfMessage::new(SUBSYS_NFTABLES, NFT_MSG_GETRULE, family, attrs.clone());
        match self.socket.dump(msg, op) {
            Ok(replies) => Ok(replies
                .iter()
                .filter_map(|m| parse_rule(&m.attrs))
                .collect()),
            Err(e) if absent(&e) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Apply `ops` as one transaction: all or nothing.
    pub(crate) fn commit(&mut self, ops: &[Op]) -> Result<()> {
        if ops.is_empty() {
            return Ok(());
        }
        let mut msgs = Vec::with_capacity(ops.len() + 2);
        msgs.push((NfMessage::batch_begin(), 0));
        msgs.extend(ops.iter().map(encode_op));
        if let Some((_, flags)) = msgs.last_mut() {
            *flags |= netlink_packet_core::NLM_F_ACK;
        }
        msgs.push((NfMessage::batch_end(), 0));
        // Message i + 1 is ops[i]; an error blamed on a marker is the
        // transaction's.
        self.socket
            .transaction(msgs, |i| match i.checked_sub(1).and_then(|i| ops.get(i)) {
                Some(o) => describe(o),
                None => "nftables transaction".to_string(),
            })
    }
}

/// The nf_tables message of one transaction step, with its header flags.
fn encode_op(o: &Op) -> (NfMessage, u16) {
    let mut attrs = Attrs::new();
    let (kind, family, flags) = match o {
        Op::DelRule {
            family,
            table,
            chain,
            handle,
        } => {
            attrs
                .put_str(NFTA_RULE_TABLE, table)
                .put_str(NFTA_RULE_CHAIN, chain)
                .put_u64_be(NFTA_RULE_HANDLE, *handle);
            (NFT_MSG_DELRULE, *family, 0)
        }
        Op::Flush {
            family,
            table,
            chain,
        } => {
            attrs
                .put_str(NFTA_RULE_TABLE, table)
                .put_str(NFTA_RULE_CHAIN, chain);
            (NFT_MSG_DELRULE, *family, 0)
        }
        Op::DelChain {
            family,
            table,
            chain,
        } => {
            attrs
                .put_str(NFTA_CHAIN_TABLE, table)
                .put_str(NFTA_CHAIN_NAME, chain);
            (NFT_MSG_DELCHAIN, *family, 0)
        }
        Op::NewChain {
            family,
            table,
            chain,
        } => {
            attrs
                .put_str(NFTA_CHAIN_TABLE, table)
                .put_str(NFTA_CHAIN_NAME, chain);
            (NFT_MSG_NEWCHAIN, *family, NLM_F_CREATE | NLM_F_EXCL)
        }
        Op::NewRule {
            family,
            table,
            chain,
            exprs,
            udata,
        } => {
            attrs
                .put_str(NFTA_RULE_TABLE, table)
                .put_str(NFTA_RULE_CHAIN, chain)
                .put(
                    NFTA_RULE_EXPRESSIONS | netlink_packet_core::NLA_F_NESTED,
                    exprs,
                );
            if let Some(u) = udata {
                attrs.put(NFTA_RULE_USERDATA, u);
            }
            (NFT_MSG_NEWRULE, *family, NLM_F_CREATE | NLM_F_APPEND)
        }
    };
    (NfMessage::new(SUBSYS_NFTABLES, kind, family, attrs), flags)
}

/// The table, chain or rule is not there, or nf_tables is not available
/// for the family at all: either way there is nothing of ours in it.
fn absent(e: &Error) -> bool {
    matches!(
        e.errno(),
        Some(Errno::ENOENT | Errno::EAFNOSUPPORT | Errno::EOPNOTSUPP | Errno::EPROTONOSUPPORT)
    )
}

fn describe(o: &Op) -> String {
    match o {
        Op::DelRule {
            family,
            table,
            chain,
            handle,
        } => format!(
            "delete rule {} {table} {chain} handle {handle}",
            family_name(*family)
        ),
        Op::Flush {
            family,
            table,
            chain,
        } => format!("flush chain {} {table} {chain}", family_name(*family)),
        Op::DelChain {
            family,
            table,
            chain,
        } => format!("delete chain {} {table} {chain}", family_name(*family)),
        Op::NewChain {
            family,
            table,
            chain,
        } => format!("add chain {} {table} {chain}", family_name(*family)),
        Op::NewRule {
            family,
            table,
            chain,
            ..
        } => format!("add rule {} {table} {chain}", family_name(*family)),
    }
}

fn family_name(family: u8) -> &'static str {
    match family {
        INET => "inet",
        IPV4 => "ip",
        IPV6 => "ip6",
        _ => "unknown",
    }
}

fn parse_rule(payload: &[u8]) -> Option<Rule> {
    let handle = nfgen::find(payload, NFTA_RULE_HANDLE).and_then(nfgen::be_u64)?;
    let jump = nfgen::find(payload, NFTA_RULE_EXPRESSIONS).and_then(|exprs| {
        nfgen::attrs(exprs)
            .filter(|(k, _)| *k == NFTA_LIST_ELEM)
            .find_map(|(_, e)| verdict_chain(e))
    });
    Some(Rule {
        handle,
        comment: nfgen::find(payload, NFTA_RULE_USERDATA).and_then(udata_comment),
        jump,
    })
}

/// The chain of an `immediate` expression's jump or goto verdict.
fn verdict_chain(expr: &[u8]) -> Option<String> {
    if cstr(nfgen::find(expr, NFTA_EXPR_NAME)?) != "immediate" {
        return None;
    }
    let data = nfgen::find(expr, NFTA_EXPR_DATA)?;
    let imm = nfgen::find(data, NFTA_IMMEDIATE_DATA)?;
    let verdict = nfgen::find(imm, NFTA_DATA_VERDICT)?;
    let code = nfgen::find(verdict, NFTA_VERDICT_CODE).and_then(nfgen::be_u32)? as i32;
    if code != NFT_JUMP && code != NFT_GOTO {
        return None;
    }
    Some(cstr(nfgen::find(verdict, NFTA_VERDICT_CHAIN)?).to_string())
}

/// The comment among libnftnl's user-data TLVs (type, length, value).
fn udata_comment(mut data: &[u8]) -> Option<String> {
    while data.len() >= 2 {
        let (kind, len) = (data[0], usize::from(data[1]));
        let value = data.get(2..2 + len)?;
        if kind == NFTNL_UDATA_RULE_COMMENT {
            return Some(cstr(value).to_string());
        }
        data = &data[2 + len..];
    }
    None
}

#[cfg(test)]
#[path = "nfnl_tests.rs"]
mod tests;

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

use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_NETFILTER};
use nix::errno::Errno;

use crate::error::{Error, Result};

/// nfgenmsg families.
pub(crate) const INET: u8 = 1;
pub(crate) const IPV4: u8 = 2;
pub(crate) const IPV6: u8 = 10;

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_GETTABLE: u16 = 1;
const NFT_MSG_NEWCHAIN: u16 = 3;
const NFT_MSG_GETCHAIN: u16 = 4;
const NFT_MSG_DELCHAIN: u16 = 5;
const NFT_MSG_NEWRULE: u16 = 6;
const NFT_MSG_GETRULE: u16 = 7;
const NFT_MSG_DELRULE: u16 = 8;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP_INTR: u16 = 0x10;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_APPEND: u16 = 0x800;
const NLA_F_NESTED: u16 = 0x8000;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;

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

const NLA_TYPE_MASK: u16 = 0x3fff;
const HEADER_LEN: usize = 16;
const NFGEN_LEN: usize = 4;
const RECV_BUF: usize = 64 * 1024;
const DUMP_RETRIES: usize = 10;

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
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl Nft {
    pub(crate) fn new() -> Result<Nft> {
        let io = |op: &'static str| move |e| Error::io(op, e);
        let mut socket =
            Socket::new(NETLINK_NETFILTER).map_err(io("open netfilter netlink socket"))?;
        socket
            .bind_auto()
            .map_err(io("bind netfilter netlink socket"))?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(io("connect netfilter netlink socket"))?;
        Ok(Nft {
            socket,
            seq: 0,
            buf: Vec::with_capacity(RECV_BUF),
        })
    }

    pub(crate) fn table_exists(&mut self, family: u8, table: &str) -> Result<bool> {
        let mut attrs = Vec::new();
        put_str(&mut attrs, NFTA_TABLE_NAME, table);
        let op = || format!("look up nftables table {} {table}", family_name(family));
        self.exists(NFT_MSG_GETTABLE, family, &attrs, op)
    }

    pub(crate) fn chain_exists(&mut self, family: u8, table: &str, chain: &str) -> Result<bool> {
        let mut attrs = Vec::new();
        put_str(&mut attrs, NFTA_CHAIN_TABLE, table);
        put_str(&mut attrs, NFTA_CHAIN_NAME, chain);
        let op = || {
            format!(
                "look up nftables chain {} {table} {chain}",
                family_name(family)
            )
        };
        self.exists(NFT_MSG_GETCHAIN, family, &attrs, op)
    }

    /// A request answered by one object or ENOENT.
    fn exists(
        &mut self,
        kind: u16,
        family: u8,
        attrs: &[u8],
        op: impl Fn() -> String,
    ) -> Result<bool> {
        let mut msg = Vec::new();
        let seq = self.next_seq();
        put_msg(
            &mut msg,
            kind,
            NLM_F_REQUEST | NLM_F_ACK,
            seq,
            family,
            attrs,
        );
        self.send(&msg, &op)?;
        match self.receive(seq, &op) {
            Ok(_) => Ok(true),
            Err(e) if absent(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The rules of a chain, in order; none when the table or chain does
    /// not exist.
    pub(crate) fn rules(&mut self, family: u8, table: &str, chain: &str) -> Result<Vec<Rule>> {
        let mut attrs = Vec::new();
        put_str(&mut attrs, NFTA_RULE_TABLE, table);
        put_str(&mut attrs, NFTA_RULE_CHAIN, chain);
        let op = || {
            format!(
                "list nftables chain {} {table} {chain}",
                family_name(family)
            )
        };
        for _ in 0..DUMP_RETRIES {
            let mut msg = Vec::new();
            let seq = self.next_seq();
            put_msg(
                &mut msg,
                NFT_MSG_GETRULE,
                NLM_F_REQUEST | NLM_F_DUMP,
                seq,
                family,
                &attrs,
            );
            self.send(&msg, &op)?;
            let (payloads, interrupted) = match self.receive(seq, &op) {
                Ok(r) => r,
                Err(e) if absent(&e) => return Ok(Vec::new()),
                Err(e) => return Err(e),
            };
            if !interrupted {
                return Ok(payloads.iter().filter_map(|p| parse_rule(p)).collect());
            }
        }
        Err(Error::new(
            crate::error::code::TRY_AGAIN_LATER,
            format!(
                "{}: dump kept being interrupted by concurrent changes",
                op()
            ),
            "",
        ))
    }

    /// Apply `ops` as one transaction: all or nothing.
    pub(crate) fn commit(&mut self, ops: &[Op]) -> Result<()> {
        if ops.is_empty() {
            return Ok(());
        }
        let op = || "nftables transaction".to_string();
        let mut batch = Vec::new();
        let res_id = NFNL_SUBSYS_NFTABLES.to_be_bytes();
        let begin = self.next_seq();
        put_batch_marker(&mut batch, NFNL_MSG_BATCH_BEGIN, begin, res_id);
        let mut seqs = Vec::with_capacity(ops.len());
        for o in ops {
            let seq = self.next_seq();
            seqs.push(seq);
            let mut attrs = Vec::new();
            let mut flags = NLM_F_REQUEST | NLM_F_ACK;
            let (kind, family) = match o {
                Op::DelRule {
                    family,
                    table,
                    chain,
                    handle,
                } => {
                    put_str(&mut attrs, NFTA_RULE_TABLE, table);
                    put_str(&mut attrs, NFTA_RULE_CHAIN, chain);
                    put_attr(&mut attrs, NFTA_RULE_HANDLE, &handle.to_be_bytes());
                    (NFT_MSG_DELRULE, *family)
                }
                Op::Flush {
                    family,
                    table,
                    chain,
                } => {
                    put_str(&mut attrs, NFTA_RULE_TABLE, table);
                    put_str(&mut attrs, NFTA_RULE_CHAIN, chain);
                    (NFT_MSG_DELRULE, *family)
                }
                Op::DelChain {
                    family,
                    table,
                    chain,
                } => {
                    put_str(&mut attrs, NFTA_CHAIN_TABLE, table);
                    put_str(&mut attrs, NFTA_CHAIN_NAME, chain);
                    (NFT_MSG_DELCHAIN, *family)
                }
                Op::NewChain {
                    family,
                    table,
                    chain,
                } => {
                    put_str(&mut attrs, NFTA_CHAIN_TABLE, table);
                    put_str(&mut attrs, NFTA_CHAIN_NAME, chain);
                    flags |= NLM_F_CREATE | NLM_F_EXCL;
                    (NFT_MSG_NEWCHAIN, *family)
                }
                Op::NewRule {
                    family,
                    table,
                    chain,
                    exprs,
                    udata,
                } => {
                    put_str(&mut attrs, NFTA_RULE_TABLE, table);
                    put_str(&mut attrs, NFTA_RULE_CHAIN, chain);
                    put_nested(&mut attrs, NFTA_RULE_EXPRESSIONS, exprs);
                    if let Some(u) = udata {
                        put_attr(&mut attrs, NFTA_RULE_USERDATA, u);
                    }
                    flags |= NLM_F_CREATE | NLM_F_APPEND;
                    (NFT_MSG_NEWRULE, *family)
                }
            };
            put_msg(&mut batch, kind, flags, seq, family, &attrs);
        }
        let end = self.next_seq();
        put_batch_marker(&mut batch, NFNL_MSG_BATCH_END, end, res_id);
        self.send(&batch, &op)?;
        // The kernel answers every message that asked for an ACK, errors
        // included, once the whole batch has been processed; the first
        // error says why the transaction was refused.
        let mut first_err = None;
        for (seq, o) in seqs.iter().zip(ops) {
            if let Err(e) = self.receive(*seq, &op)
                && first_err.is_none()
            {
                first_err = Some(with_op(e, &describe(o)));
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    fn send(&mut self, msg: &[u8], op: &dyn Fn() -> String) -> Result<()> {
        self.socket
            .send(msg, 0)
            .map(drop)
            .map_err(|e| Error::io(format!("{}: sending netlink request", op()), e))
    }

    /// Reads the answers to `seq` until DONE or the ACK: the payloads (after
    /// the nfgenmsg) of the data messages, and whether a dump was
    /// interrupted by a concurrent change.
    fn receive(&mut self, seq: u32, op: &dyn Fn() -> String) -> Result<(Vec<Vec<u8>>, bool)> {
        let mut out = Vec::new();
        let mut interrupted = false;
        loop {
            self.buf.clear();
            let n = loop {
                match self.socket.recv(&mut self.buf, libc::MSG_TRUNC) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        return Err(Error::io(format!("{}: reading netlink reply", op()), e));
                    }
                }
            };
            if n > self.buf.len() {
                return Err(Error::internal(format!(
                    "{}: netlink reply larger than the receive buffer",
                    op()
                )));
            }
            let mut rest = &self.buf[..n];
            while rest.len() >= HEADER_LEN {
                let len = u32_ne(&rest[0..4]) as usize;
                if len < HEADER_LEN || len > rest.len() {
                    return Err(Error::internal(format!(
                        "{}: malformed netlink reply",
                        op()
                    )));
                }
                let kind = u16_ne(&rest[4..6]);
                let flags = u16_ne(&rest[6..8]);
                let msg_seq = u32_ne(&rest[8..12]);
                let body = &rest[HEADER_LEN..len];
                rest = &rest[align(len).min(rest.len())..];
                if msg_seq != seq {
                    continue;
                }
                if flags & NLM_F_DUMP_INTR != 0 {
                    interrupted = true;
                }
                match kind {
                    NLMSG_DONE => return Ok((out, interrupted)),
                    NLMSG_ERROR => {
                        let code = body.get(0..4).map(i32_ne).unwrap_or(0);
                        if code == 0 {
                            return Ok((out, interrupted));
                        }
                        return Err(Error::kernel(op(), Errno::from_raw(code.abs())));
                    }
                    _ => {
                        if let Some(payload) = body.get(NFGEN_LEN..) {
                            out.push(payload.to_vec());
                        }
                    }
                }
            }
        }
    }
}

/// The table, chain or rule is not there, or nf_tables is not available
/// for the family at all: either way there is nothing of ours in it.
fn absent(e: &Error) -> bool {
    matches!(
        e.errno(),
        Some(Errno::ENOENT | Errno::EAFNOSUPPORT | Errno::EOPNOTSUPP | Errno::EPROTONOSUPPORT)
    )
}

fn with_op(e: Error, what: &str) -> Error {
    match e {
        Error::Kernel { errno, .. } => Error::kernel(what.to_string(), errno),
        other => other.context(what.to_string()),
    }
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
    let mut rule = Rule {
        handle: 0,
        comment: None,
        jump: None,
    };
    let mut has_handle = false;
    for (kind, value) in attrs(payload) {
        match kind {
            NFTA_RULE_HANDLE if value.len() == 8 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(value);
                rule.handle = u64::from_be_bytes(b);
                has_handle = true;
            }
            NFTA_RULE_USERDATA => rule.comment = udata_comment(value),
            NFTA_RULE_EXPRESSIONS => {
                for (k, elem) in attrs(value) {
                    if k == NFTA_LIST_ELEM && rule.jump.is_none() {
                        rule.jump = verdict_chain(elem);
                    }
                }
            }
            _ => {}
        }
    }
    has_handle.then_some(rule)
}

/// The chain of an `immediate` expression's jump or goto verdict.
fn verdict_chain(expr: &[u8]) -> Option<String> {
    let name = attrs(expr).find(|(k, _)| *k == NFTA_EXPR_NAME)?.1;
    if cstr(name) != "immediate" {
        return None;
    }
    let data = attrs(expr).find(|(k, _)| *k == NFTA_EXPR_DATA)?.1;
    let imm = attrs(data).find(|(k, _)| *k == NFTA_IMMEDIATE_DATA)?.1;
    let verdict = attrs(imm).find(|(k, _)| *k == NFTA_DATA_VERDICT)?.1;
    let code = attrs(verdict)
        .find(|(k, v)| *k == NFTA_VERDICT_CODE && v.len() == 4)
        .map(|(_, v)| i32::from_be_bytes([v[0], v[1], v[2], v[3]]))?;
    if code != NFT_JUMP && code != NFT_GOTO {
        return None;
    }
    let chain = attrs(verdict).find(|(k, _)| *k == NFTA_VERDICT_CHAIN)?.1;
    Some(cstr(chain).to_string())
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

/// A NUL-terminated (or not) string attribute; invalid UTF-8 reads as
/// empty, which matches none of our names.
fn cstr(b: &[u8]) -> &str {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    std::str::from_utf8(&b[..end]).unwrap_or("")
}

fn put_msg(buf: &mut Vec<u8>, kind: u16, flags: u16, seq: u32, family: u8, attrs: &[u8]) {
    let len = HEADER_LEN + NFGEN_LEN + attrs.len();
    buf.extend_from_slice(&(len as u32).to_ne_bytes());
    buf.extend_from_slice(&((NFNL_SUBSYS_NFTABLES << 8) | kind).to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
    // nfgenmsg: family, NFNETLINK_V0, res_id 0
    buf.extend_from_slice(&[family, 0, 0, 0]);
    buf.extend_from_slice(attrs);
}

fn put_batch_marker(buf: &mut Vec<u8>, kind: u16, seq: u32, res_id: [u8; 2]) {
    let len = HEADER_LEN + NFGEN_LEN;
    buf.extend_from_slice(&(len as u32).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
    // AF_UNSPEC, NFNETLINK_V0, res_id = the subsystem (big endian)
    buf.extend_from_slice(&[0, 0, res_id[0], res_id[1]]);
}

pub(crate) fn put_attr(buf: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = 4 + value.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(value);
    buf.resize(buf.len() + (align(len) - len), 0);
}

/// A nested attribute holding the already encoded `inner` attributes.
pub(crate) fn put_nested(buf: &mut Vec<u8>, kind: u16, inner: &[u8]) {
    put_attr(buf, kind | NLA_F_NESTED, inner);
}

pub(crate) fn put_str(buf: &mut Vec<u8>, kind: u16, s: &str) {
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    put_attr(buf, kind, &v);
}

fn align(n: usize) -> usize {
    (n + 3) & !3
}

fn u16_ne(b: &[u8]) -> u16 {
    u16::from_ne_bytes([b[0], b[1]])
}

fn u32_ne(b: &[u8]) -> u32 {
    u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

fn i32_ne(b: &[u8]) -> i32 {
    i32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

/// Netlink attributes of `data`: (type without flags, value).
fn attrs(data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.len() < 4 {
            return None;
        }
        let len = usize::from(u16_ne(&rest[0..2]));
        if len < 4 || len > rest.len() {
            return None;
        }
        let kind = u16_ne(&rest[2..4]) & NLA_TYPE_MASK;
        let value = &rest[4..len];
        rest = &rest[align(len).min(rest.len())..];
        Some((kind, value))
    })
}

#[cfg(test)]
#[path = "nfnl_tests.rs"]
mod tests;

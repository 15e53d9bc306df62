//! The netlink backend: nf_tables over `NETLINK_NETFILTER`, for nft's
//! tables and for iptables-nft's (which keeps `iptables -t nat` in
//! nf_tables as `ip nat`). It lists a chain at a time, decodes rules into
//! [`super::model`] values (`dialect`), and applies a plan as one
//! transaction, without running a tool: a process costs 1–2 ms of CPU,
//! and a tool's listing grows with every container on the node.
//!
//! Everything resolves against the calling thread's network namespace.
//!
//! Deleting a rule makes the kernel free it after an RCU grace period, and
//! closing a netfilter socket waits for pending frees (tens of ms on a busy
//! VM). Callers that have other slow work keep the [`Session`] alive
//! across it so the two waits overlap.

pub(crate) mod dialect;
pub(super) mod expr;
pub(super) mod xt;

use netlink_packet_core::{NLA_F_NESTED, NLM_F_ACK};
use nix::errno::Errno;

use super::model::{BaseChain, Chain, Dialect, Handle, Match, Rule, Table};
use super::plan::{Op, State, commented};
use crate::error::{Error, Result};
use crate::netlink::Socket;
use crate::netlink::nfgen::{self, Attrs, NfMessage, SUBSYS_NFTABLES};
use crate::netlink::socket::cstr;

const NFT_MSG_NEWTABLE: u8 = 0;
const NFT_MSG_GETTABLE: u8 = 1;
const NFT_MSG_NEWCHAIN: u8 = 3;
const NFT_MSG_GETCHAIN: u8 = 4;
const NFT_MSG_DELCHAIN: u8 = 5;
const NFT_MSG_NEWRULE: u8 = 6;
const NFT_MSG_GETRULE: u8 = 7;
const NFT_MSG_DELRULE: u8 = 8;
const NFT_MSG_NEWGEN: u8 = 15;
const NFT_MSG_GETGEN: u8 = 16;

const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_APPEND: u16 = 0x800;

const NFTA_TABLE_NAME: u16 = 1;
const NFTA_TABLE_USERDATA: u16 = 6;
const NFTA_CHAIN_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_CHAIN_HOOK: u16 = 4;
const NFTA_CHAIN_POLICY: u16 = 5;
const NFTA_CHAIN_TYPE: u16 = 7;
const NFTA_CHAIN_USERDATA: u16 = 12;
const NFTA_HOOK_HOOKNUM: u16 = 1;
const NFTA_HOOK_PRIORITY: u16 = 2;
const NFTA_RULE_TABLE: u16 = 1;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_RULE_HANDLE: u16 = 3;
const NFTA_RULE_EXPRESSIONS: u16 = 4;
const NFTA_RULE_COMPAT: u16 = 5;
const NFTA_RULE_USERDATA: u16 = 7;
const NFTA_RULE_COMPAT_PROTO: u16 = 1;
const NFTA_RULE_COMPAT_FLAGS: u16 = 2;
const NFTA_GEN_ID: u16 = 1;
/// libnftnl's user-data TLVs of tables and chains carrying a comment.
const UDATA_COMMENT: u8 = 0;

thread_local! {
    /// Transactions this thread committed over netlink, per namespace
    /// cookie: with a namespace's generation before and after them, they
    /// tell whether anyone else committed there in between
    /// (`super::natmemo`).
    static COMMITS: std::cell::RefCell<Vec<(u64, u32)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// How many transactions this thread has committed ([`Session::apply`]) in
/// the namespace with this cookie.
pub fn commits_in(cookie: u64) -> u32 {
    COMMITS.with(|c| {
        c.borrow()
            .iter()
            .find(|(k, _)| *k == cookie)
            .map_or(0, |(_, n)| *n)
    })
}

fn count_commit(cookie: u64) {
    COMMITS.with(|c| {
        let mut c = c.borrow_mut();
        match c.iter_mut().find(|(k, _)| *k == cookie) {
            Some((_, n)) => *n = n.wrapping_add(1),
            None => c.push((cookie, 1)),
        }
    });
}

/// One netfilter socket and what it has listed so far.
pub struct Session {
    socket: Socket<NfMessage>,
    /// Chains listed so far (a plan asks for a few).
    rules: Vec<(Table, String, Vec<Rule>)>,
    chains: Vec<(Table, String, bool)>,
}

impl Session {
    pub fn open() -> Result<Session> {
        Ok(Session {
            socket: nfgen::socket()?,
            rules: Vec::new(),
            chains: Vec::new(),
        })
    }

    /// Forgets what was listed (before planning again).
    pub fn refresh(&mut self) {
        self.rules.clear();
        self.chains.clear();
    }

    /// Applies `ops` as one transaction: all or nothing. An op this
    /// backend cannot express (a rule with raw conditions) is refused
    /// before anything is sent.
    pub fn apply(&mut self, ops: &[&Op]) -> Result<()> {
        if ops.is_empty() {
            return Ok(());
        }
        let mut msgs = Vec::with_capacity(ops.len() + 2);
        msgs.push((NfMessage::batch_begin(), 0));
        for op in ops {
            msgs.push(encode_op(op).ok_or_else(|| {
                Error::internal(format!("{}: cannot be written over netlink", op.describe()))
            })?);
        }
        if let Some((_, flags)) = msgs.last_mut() {
            *flags |= NLM_F_ACK;
        }
        msgs.push((NfMessage::batch_end(), 0));
        // Message i + 1 is ops[i]; an error blamed on a marker is the
        // transaction's.
        let result =
            self.socket
                .transaction(msgs, |i| match i.checked_sub(1).and_then(|i| ops.get(i)) {
                    Some(o) => o.describe(),
                    None => "nftables transaction".to_string(),
                });
        self.refresh();
        if result.is_ok()
            && let Some(cookie) = self.netns_cookie()
        {
            count_commit(cookie);
        }
        result
    }

    /// The namespace's rule-set generation, which every committed
    /// transaction (anyone's, any table) advances by one.
    pub fn generation(&mut self) -> Result<u32> {
        let msg = NfMessage::new(SUBSYS_NFTABLES, NFT_MSG_GETGEN, 0, Attrs::new());
        let replies = self
            .socket
            .request(msg, 0, || "read the nf_tables generation".to_string())?;
        replies
            .iter()
            .filter(|m| m.kind == NFT_MSG_NEWGEN)
            .find_map(|m| nfgen::find(&m.attrs, NFTA_GEN_ID).and_then(nfgen::be_u32))
            .ok_or_else(|| Error::internal("the kernel's nf_tables generation reply has no id"))
    }

    /// See [`Socket::netns_cookie`].
    pub fn netns_cookie(&self) -> Option<u64> {
        self.socket.netns_cookie()
    }

    fn exists(
        &mut self,
        kind: u8,
        table: Table,
        attrs: Attrs,
        op: impl Fn() -> String,
    ) -> Result<bool> {
        let msg = NfMessage::new(SUBSYS_NFTABLES, kind, table.family.nfproto(), attrs);
        match self.socket.request(msg, 0, op) {
            Ok(_) => Ok(true),
            Err(e) if absent(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Dumps rules of `table` (of one chain when given).
    fn dump_rules(&mut self, table: Table, chain: Option<&str>) -> Result<Vec<Rule>> {
        Ok(self
            .dump_raw(table, chain)?
            .iter()
            .filter_map(|m| decode_rule(table, &m.attrs))
            .collect())
    }

    /// The kernel's messages of [`Session::dump_rules`], undecoded.
    fn dump_raw(&mut self, table: Table, chain: Option<&str>) -> Result<Vec<NfMessage>> {
        let mut attrs = Attrs::new();
        attrs.put_str(NFTA_RULE_TABLE, table.name);
        if let Some(c) = chain {
            attrs.put_str(NFTA_RULE_CHAIN, c);
        }
        let op = || match chain {
            Some(c) => format!("list chain {} {} {c}", table.family.name(), table.name),
            None => format!("list table {} {}", table.family.name(), table.name),
        };
        let family = table.family.nfproto();
        let msg = || NfMessage::new(SUBSYS_NFTABLES, NFT_MSG_GETRULE, family, attrs.clone());
        match self.socket.dump(msg, op) {
            Err(e) if absent(&e) => Ok(Vec::new()),
            other => other,
        }
    }
}

impl State for Session {
    fn table_exists(&mut self, table: Table) -> Result<bool> {
        let mut attrs = Attrs::new();
        attrs.put_str(NFTA_TABLE_NAME, table.name);
        self.exists(NFT_MSG_GETTABLE, table, attrs, || {
            format!("look up table {} {}", table.family.name(), table.name)
        })
    }

    fn chain_exists(&mut self, table: Table, chain: &str) -> Result<bool> {
        if let Some((.., known)) = self
            .chains
            .iter()
            .find(|(t, c, _)| *t == table && c == chain)
        {
            return Ok(*known);
        }
        let mut attrs = Attrs::new();
        attrs
            .put_str(NFTA_CHAIN_TABLE, table.name)
            .put_str(NFTA_CHAIN_NAME, chain);
        let exists = self.exists(NFT_MSG_GETCHAIN, table, attrs, || {
            format!(
                "look up chain {} {} {chain}",
                table.family.name(),
                table.name
            )
        })?;
        self.chains.push((table, chain.to_string(), exists));
        Ok(exists)
    }

    fn rules(&mut self, table: Table, chain: &str) -> Result<Vec<Rule>> {
        if let Some((.., rules)) = self
            .rules
            .iter()
            .find(|(t, c, _)| *t == table && c == chain)
        {
            return Ok(rules.clone());
        }
        let rules = self.dump_rules(table, Some(chain))?;
        self.rules.push((table, chain.to_string(), rules.clone()));
        Ok(rules)
    }

    fn chains(&mut self, table: Table) -> Result<Vec<String>> {
        let mut attrs = Attrs::new();
        attrs.put_str(NFTA_CHAIN_TABLE, table.name);
        let family = table.family.nfproto();
        let msg = || NfMessage::new(SUBSYS_NFTABLES, NFT_MSG_GETCHAIN, family, attrs.clone());
        let op = || format!("list chains of {} {}", table.family.name(), table.name);
        let replies = match self.socket.dump(msg, op) {
            Ok(r) => r,
            Err(e) if absent(&e) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        // The kernel dumps the chains of every table of the family.
        Ok(replies
            .iter()
            .filter(|m| nfgen::find(&m.attrs, NFTA_CHAIN_TABLE).map(cstr) == Some(table.name))
            .filter_map(|m| nfgen::find(&m.attrs, NFTA_CHAIN_NAME).map(|n| cstr(n).to_string()))
            .collect())
    }

    fn all_rules(&mut self, table: Table) -> Result<Vec<Rule>> {
        self.dump_rules(table, None)
    }

    fn rules_commented(
        &mut self,
        table: Table,
        chain: &str,
        pick: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<Rule>> {
        // iptables-nft keeps the comment in an expression.
        if table.dialect != Dialect::Nft {
            return Ok(commented(self.rules(table, chain)?, pick));
        }
        Ok(self
            .dump_raw(table, Some(chain))?
            .iter()
            .filter(|m| {
                nfgen::find(&m.attrs, NFTA_RULE_USERDATA)
                    .and_then(dialect::udata_comment)
                    .is_some_and(|c| pick(&c))
            })
            .filter_map(|m| decode_rule(table, &m.attrs))
            .collect())
    }

    fn rule_at(&mut self, table: Table, chain: &str, handle: u64) -> Result<Option<Option<Rule>>> {
        let mut attrs = Attrs::new();
        attrs
            .put_str(NFTA_RULE_TABLE, table.name)
            .put_str(NFTA_RULE_CHAIN, chain)
            .put_u64_be(NFTA_RULE_HANDLE, handle);
        let msg = NfMessage::new(
            SUBSYS_NFTABLES,
            NFT_MSG_GETRULE,
            table.family.nfproto(),
            attrs,
        );
        let op = || {
            format!(
                "look up rule {handle} of chain {} {} {chain}",
                table.family.name(),
                table.name
            )
        };
        match self.socket.request(msg, 0, op) {
            Ok(replies) => Ok(Some(
                replies.iter().find_map(|m| decode_rule(table, &m.attrs)),
            )),
            Err(e) if absent(&e) => Ok(Some(None)),
            Err(e) => Err(e),
        }
    }
}

/// The table, chain or rule is not there, or nf_tables is not available
/// for the family at all: either way there is nothing of ours in it.
pub(super) fn absent(e: &Error) -> bool {
    matches!(
        e.errno(),
        Some(Errno::ENOENT | Errno::EAFNOSUPPORT | Errno::EOPNOTSUPP | Errno::EPROTONOSUPPORT)
    )
}

fn decode_rule(table: Table, payload: &[u8]) -> Option<Rule> {
    let handle = nfgen::find(payload, NFTA_RULE_HANDLE).and_then(nfgen::be_u64)?;
    let chain = cstr(nfgen::find(payload, NFTA_RULE_CHAIN)?);
    let exprs = expr::decode_list(nfgen::find(payload, NFTA_RULE_EXPRESSIONS).unwrap_or_default());
    let udata = nfgen::find(payload, NFTA_RULE_USERDATA);
    let mut rule = dialect::decode(table, chain, &exprs, udata);
    rule.handle = Handle::Nft(handle);
    Some(rule)
}

/// A table or chain comment as nft stores it.
fn comment_udata(comment: &str) -> Option<Vec<u8>> {
    let len = u8::try_from(comment.len() + 1).ok()?;
    let mut v = vec![UDATA_COMMENT, len];
    v.extend_from_slice(comment.as_bytes());
    v.push(0);
    Some(v)
}

/// The nf_tables message of one step, with its header flags; None for a
/// step netlink cannot express.
fn encode_op(op: &Op) -> Option<(NfMessage, u16)> {
    let table = op.table();
    let mut attrs = Attrs::new();
    let (kind, flags) = match op {
        Op::AddTable { comment, .. } => {
            attrs.put_str(NFTA_TABLE_NAME, table.name);
            if let Some(c) = comment {
                attrs.put(NFTA_TABLE_USERDATA, &comment_udata(c)?);
            }
            (NFT_MSG_NEWTABLE, NLM_F_CREATE)
        }
        Op::AddChain { chain, .. } => {
            chain_attrs(&mut attrs, table, chain)?;
            (NFT_MSG_NEWCHAIN, NLM_F_CREATE)
        }
        Op::NewChain { chain, .. } => {
            attrs
                .put_str(NFTA_CHAIN_TABLE, table.name)
                .put_str(NFTA_CHAIN_NAME, chain);
            (NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_EXCL)
        }
        Op::FlushChain { chain, .. } => {
            attrs
                .put_str(NFTA_RULE_TABLE, table.name)
                .put_str(NFTA_RULE_CHAIN, chain);
            (NFT_MSG_DELRULE, 0)
        }
        Op::DelChain { chain, .. } => {
            attrs
                .put_str(NFTA_CHAIN_TABLE, table.name)
                .put_str(NFTA_CHAIN_NAME, chain);
            (NFT_MSG_DELCHAIN, 0)
        }
        Op::Append { rule, .. } | Op::Insert { rule, .. } => {
            let (exprs, udata) = dialect::encode(table, rule)?;
            attrs
                .put_str(NFTA_RULE_TABLE, table.name)
                .put_str(NFTA_RULE_CHAIN, &rule.chain)
                .put(
                    NFTA_RULE_EXPRESSIONS | NLA_F_NESTED,
                    &expr::encode_list(&exprs),
                );
            if let Some(u) = udata {
                attrs.put(NFTA_RULE_USERDATA, &u);
            }
            if table.dialect == Dialect::Iptables {
                // What the xtables extensions take for the rule's `-p`
                // (multiport refuses to load without one), as iptables
                // sends it; the kernel keeps nothing of it.
                let proto = rule.matches.iter().find_map(|m| match m {
                    Match::Proto(p) => Some(u32::from(p.number())),
                    _ => None,
                });
                attrs.nest(NFTA_RULE_COMPAT, |c| {
                    c.put_u32_be(NFTA_RULE_COMPAT_PROTO, proto.unwrap_or(0))
                        .put_u32_be(NFTA_RULE_COMPAT_FLAGS, 0);
                });
            }
            // Without APPEND (and a position) the kernel puts it first.
            let append = if matches!(op, Op::Append { .. }) {
                NLM_F_APPEND
            } else {
                0
            };
            (NFT_MSG_NEWRULE, NLM_F_CREATE | append)
        }
        Op::Delete { rule, .. } => {
            let Handle::Nft(handle) = rule.handle else {
                return None;
            };
            attrs
                .put_str(NFTA_RULE_TABLE, table.name)
                .put_str(NFTA_RULE_CHAIN, &rule.chain)
                .put_u64_be(NFTA_RULE_HANDLE, handle);
            (NFT_MSG_DELRULE, 0)
        }
    };
    Some((
        NfMessage::new(SUBSYS_NFTABLES, kind, table.family.nfproto(), attrs),
        flags,
    ))
}

fn chain_attrs(attrs: &mut Attrs, table: Table, chain: &Chain) -> Option<()> {
    attrs
        .put_str(NFTA_CHAIN_TABLE, table.name)
        .put_str(NFTA_CHAIN_NAME, &chain.name);
    if let Some(BaseChain {
        kind,
        hook,
        priority,
        accept_policy,
    }) = chain.base
    {
        // iptables' own base chains are its to make.
        if table.dialect == Dialect::Iptables {
            return None;
        }
        attrs.nest(NFTA_CHAIN_HOOK, |h| {
            h.put_u32_be(NFTA_HOOK_HOOKNUM, hook.number())
                .put(NFTA_HOOK_PRIORITY, &priority.to_be_bytes());
        });
        if accept_policy {
            attrs.put_u32_be(NFTA_CHAIN_POLICY, 1);
        }
        attrs.put_str(NFTA_CHAIN_TYPE, kind);
    }
    if let Some(c) = chain.comment {
        attrs.put(NFTA_CHAIN_USERDATA, &comment_udata(c)?);
    }
    Some(())
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

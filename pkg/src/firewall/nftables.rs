//! nftables through the `nft` binary: `nft -j list ...` to find rule
//! handles, and one `nft -f -` transaction per change.

use serde_json::Value;

use super::exec::{self, ExecError};

const NFT: &str = "nft";

/// One rule of a listing.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct NftRule {
    pub chain: String,
    pub handle: u64,
    pub comment: Option<String>,
    pub expr: Value,
}

impl NftRule {
    /// The chain this rule jumps or goes to, if any.
    pub(super) fn jump_target(&self) -> Option<&str> {
        self.statements().find_map(|s| {
            ["jump", "goto"]
                .iter()
                .find_map(|v| s.get(*v)?.get("target")?.as_str())
        })
    }

    /// The right-hand side of `iifname == "..."`, if the rule matches one.
    pub(super) fn iifname(&self) -> Option<&str> {
        self.statements().find_map(|s| {
            let m = s.get("match")?;
            let key = m.get("left")?.get("meta")?.get("key")?.as_str()?;
            (key == "iifname").then(|| m.get("right")?.as_str())?
        })
    }

    fn statements(&self) -> impl Iterator<Item = &Value> {
        self.expr.as_array().into_iter().flatten()
    }
}

/// Chains and rules of a `nft -j list` answer.
#[derive(Debug, Default)]
pub(super) struct Listing {
    pub chains: Vec<String>,
    pub rules: Vec<NftRule>,
}

impl Listing {
    pub(super) fn has_chain(&self, name: &str) -> bool {
        self.chains.iter().any(|c| c == name)
    }

    pub(super) fn parse(json: &str) -> Result<Listing, String> {
        let doc: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let items = doc
            .get("nftables")
            .and_then(Value::as_array)
            .ok_or("no \"nftables\" array")?;
        let mut listing = Listing::default();
        for item in items {
            if let Some(chain) = item.get("chain") {
                let name = chain
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or("chain without name")?;
                listing.chains.push(name.to_string());
            } else if let Some(rule) = item.get("rule") {
                listing.rules.push(NftRule {
                    chain: rule
                        .get("chain")
                        .and_then(Value::as_str)
                        .ok_or("rule without chain")?
                        .to_string(),
                    handle: rule
                        .get("handle")
                        .and_then(Value::as_u64)
                        .ok_or("rule without handle")?,
                    comment: rule
                        .get("comment")
                        .and_then(Value::as_str)
                        .map(String::from),
                    expr: rule.get("expr").cloned().unwrap_or(Value::Null),
                });
            }
        }
        Ok(listing)
    }
}

/// `nft -j list <what>`; None when the table or chain does not exist.
pub(super) fn list(what: &[&str]) -> Result<Option<Listing>, ExecError> {
    let mut args = vec!["-j", "list"];
    args.extend_from_slice(what);
    match exec::run(NFT, &args, None) {
        Ok(out) => Listing::parse(&out)
            .map(Some)
            .map_err(|detail| ExecError::BadOutput {
                tool: NFT.into(),
                detail,
            }),
        Err(e) if e.is_absent() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Runs a script in the nft text syntax as one transaction.
pub(super) fn apply(script: &str) -> Result<(), ExecError> {
    exec::run(NFT, &["-f", "-"], Some(script)).map(|_| ())
}

/// Runs JSON commands as one transaction; JSON needs no quoting rules for
/// names that the text syntax would reject.
pub(super) fn apply_json(commands: Vec<Value>) -> Result<(), ExecError> {
    let doc = serde_json::json!({ "nftables": commands });
    exec::run(NFT, &["-j", "-f", "-"], Some(&doc.to_string())).map(|_| ())
}

/// Whether nft can change rules here, as `knftables` checks it.
pub(super) fn works() -> bool {
    exec::run(
        NFT,
        &["--check", "add", "table", "inet", "cni_plugins_masquerade"],
        None,
    )
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_listing() {
        let json = r#"{"nftables": [{"metainfo": {"version": "1.0.6"}},
          {"table": {"family": "bridge", "name": "nat", "handle": 1}},
          {"chain": {"family": "bridge", "table": "nat", "name": "PREROUTING", "handle": 1}},
          {"chain": {"family": "bridge", "table": "nat", "name": "cni-br-iface-c1-eth0", "handle": 2}},
          {"rule": {"family": "bridge", "table": "nat", "chain": "PREROUTING", "handle": 5,
            "comment": "macspoofchk-c1-eth0", "expr": [
              {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "veth1"}},
              {"jump": {"target": "cni-br-iface-c1-eth0"}}]}},
          {"rule": {"family": "bridge", "table": "nat", "chain": "cni-br-iface-c1-eth0", "handle": 6,
            "expr": [{"drop": null}]}}]}"#;
        let l = Listing::parse(json).unwrap();
        assert_eq!(l.chains, ["PREROUTING", "cni-br-iface-c1-eth0"]);
        assert_eq!(l.rules.len(), 2);
        assert_eq!(l.rules[0].handle, 5);
        assert_eq!(l.rules[0].comment.as_deref(), Some("macspoofchk-c1-eth0"));
        assert_eq!(l.rules[0].jump_target(), Some("cni-br-iface-c1-eth0"));
        assert_eq!(l.rules[0].iifname(), Some("veth1"));
        assert_eq!(l.rules[1].jump_target(), None);
        assert_eq!(l.rules[1].iifname(), None);
        assert!(l.has_chain("PREROUTING"));
        assert!(Listing::parse("{}").is_err());
        assert!(Listing::parse("not json").is_err());
    }
}

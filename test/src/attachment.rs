//! What one successful ADD made, kept for the CHECK and DEL a runtime
//! sends later with the same call and configuration.

use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::Value;

use crate::{Call, Outcome, addresses, ip_of};

/// What one successful ADD created, for the CHECK and DEL a runtime sends
/// later with the same call and configuration.
pub struct Attachment {
    /// The ADD call (the command is replaced for CHECK and DEL).
    pub call: Call,
    pub conf: Value,
    pub result: Value,
}

impl Attachment {
    /// Run `call` (an ADD) with `conf`; it must succeed.
    pub fn add(call: Call, conf: &Value) -> Attachment {
        let result = call.run(conf).expect_success();
        Attachment {
            call,
            conf: conf.clone(),
            result,
        }
    }

    /// CHECK with the ADD result as prevResult.
    pub fn check(&self) -> Outcome {
        self.call
            .clone()
            .command("CHECK")
            .run(&with_prev(&self.conf, &self.result))
    }

    /// CHECK must succeed, printing nothing (Documentation/conformance.md item 25).
    pub fn check_ok(&self) {
        let out = self.check();
        out.expect_success();
        assert!(out.stdout.is_empty(), "CHECK printed {:?}", out.stdout);
    }

    /// DEL with the ADD's configuration (no prevResult); must succeed. The
    /// container's netns path is the ADD's, whether or not it still exists.
    pub fn del(&self) {
        self.call
            .clone()
            .command("DEL")
            .run(&self.conf)
            .expect_success();
    }

    /// The `i`-th address of the result, without its prefix length.
    pub fn ip(&self, i: usize) -> IpAddr {
        ip_of(&self.result, i)
    }

    /// The `i`-th address of the result with its prefix length.
    pub fn cidr(&self, i: usize) -> IpNet {
        addresses(&self.result)[i]
            .parse()
            .expect("a CIDR in the result")
    }
}

/// DELs of every attachment at once; each must succeed.
pub fn del_all_at_once(attachments: &[Attachment]) {
    std::thread::scope(|s| {
        for a in attachments {
            s.spawn(move || a.del());
        }
    });
}

/// `conf` with `prev` as its prevResult.
pub fn with_prev(conf: &Value, prev: &Value) -> Value {
    let mut c = conf.clone();
    c["prevResult"] = prev.clone();
    c
}

//! Scratch namespaces: a fake host per implementation and the containers.
//! They come from the integration tests' `TestNs` (named `cnit-<role>-…`,
//! removed on drop, so `test_linux.sh`'s leftover check covers them too).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use integration::TestNs;

use crate::{Res, interrupt};

/// A new scratch namespace with `lo` up. `TestNs` panics when `ip netns
/// add` fails; that becomes an error here.
pub fn new_ns(role: &str) -> Res<TestNs> {
    interrupt::check()?;
    catch_unwind(AssertUnwindSafe(|| TestNs::new(role)))
        .map_err(|p| format!("create netns ({role}): {}", panic_text(&p)))
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}

/// `ip <args>` inside `ns`.
pub fn ip(ns: &TestNs, args: &[&str]) -> Res<String> {
    let out = ns
        .cmd("ip", args)
        .output()
        .map_err(|e| format!("run ip {}: {e}", args.join(" ")))?;
    if !out.status.success() {
        return Err(format!(
            "ip {} in {}: {}",
            args.join(" "),
            ns.name,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A command's stdout inside `ns`, "" when it fails or is missing.
pub fn output(ns: &TestNs, program: &str, args: &[&str]) -> String {
    integration::output_in(ns, program, args)
}

/// One container: its ID and namespace. The namespace is either owned
/// (removed with the container) or borrowed from a longer-lived probe.
pub struct Container {
    pub id: String,
    pub index: usize,
    pub netns_path: String,
    pub netns_name: String,
    _owned: Option<TestNs>,
}

impl Container {
    pub fn new(prefix: &str, index: usize) -> Res<Container> {
        let ns = new_ns("bc")?;
        Ok(Container {
            id: format!("{prefix}-{index}"),
            index,
            netns_path: ns.path_str(),
            netns_name: ns.name.clone(),
            _owned: Some(ns),
        })
    }

    /// A container in `ns`, which outlives it.
    pub fn in_ns(ns: &TestNs, id: String, index: usize) -> Container {
        Container {
            id,
            index,
            netns_path: ns.path_str(),
            netns_name: ns.name.clone(),
            _owned: None,
        }
    }

    /// `count` containers with fresh namespaces, indices `from..from+count`.
    pub fn many(prefix: &str, from: usize, count: usize) -> Res<Vec<Container>> {
        (from..from + count)
            .map(|i| Container::new(prefix, i))
            .collect()
    }

    /// Turn `lo` off again (for loopback's ADD to have work to do).
    pub fn lo_down(&self) -> Res<()> {
        match &self._owned {
            Some(ns) => ip(ns, &["link", "set", "lo", "down"]).map(|_| ()),
            None => Ok(()),
        }
    }
}

/// Namespaces with links are torn down by the kernel asynchronously
/// (cleanup_net); give it time so that the next scenario does not pay.
pub fn settle(d: Duration) {
    std::thread::sleep(d);
}

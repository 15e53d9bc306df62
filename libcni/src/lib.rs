//! The runtime side of CNI, compatible with Go's `libcni` (Documentation/spec-notes.md §7):
//! load network configurations, find and run plugin chains, keep the
//! result cache that podman, containerd and CRI-O read and write on the
//! same node, and probe plugin versions. `cnitool` is built on it.
//!
//! | module | what it holds |
//! |---|---|
//! | [`conf`] | parsing conflists and plugin objects, loading them from a directory, version selection |
//! | [`runtime`] | [`RuntimeConf`] and the request each plugin receives |
//! | [`exec`] | the [`Exec`] seam, the plugin environment, decoding ADD results |
//! | [`cache`] | the `cniCacheV1` result cache and cached attachments |
//! | [`version`] | VERSION probing |
//! | [`api`] | [`CniConfig`]: ADD/CHECK/DEL/GC/STATUS of networks, validation |
//! | [`gojson`] | JSON and base64 written byte-for-byte as Go writes them |
//!
//! ```no_run
//! use libcni::{CniConfig, RuntimeConf, conf};
//! # fn main() -> libcni::Result<()> {
//! let net = conf::load_conf_list("/etc/cni/net.d".as_ref(), "mynet")?;
//! let cni = CniConfig::new(vec!["/opt/cni/bin".into()]);
//! let rt = RuntimeConf::new("c0ffee", "/run/netns/c0ffee", "eth0");
//! let result = cni.add_network_list(&net, &rt)?;
//! println!("{}", libcni::result_json(&result)?);
//! cni.del_network_list(&net, &rt)?;
//! # Ok(())
//! # }
//! ```

pub mod api;
pub mod cache;
pub mod conf;
pub mod exec;
pub mod gojson;
pub mod runtime;
pub mod version;

pub use api::{CniConfig, result_json};
pub use cache::{CacheEntry, DEFAULT_CACHE_DIR, NetworkAttachment, ResultCache};
pub use conf::{DEFAULT_NET_DIR, NetworkConfigList, PluginConfig};
pub use exec::{DefaultExec, Exec};
pub use pkg::types::{CniResult, GcAttachment, Version};
pub use pkg::{Error, Result};
pub use runtime::{RuntimeConf, parse_cni_args};
pub use version::PluginVersionInfo;

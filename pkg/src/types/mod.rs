//! Spec data types: pure data and conversion, no kernel, files or processes.

pub mod args;
pub mod conf;
pub mod decode;
pub mod mac;
pub mod mapped;
pub mod parse;
pub mod result;
pub mod version;

pub use args::CniArgs;
pub use conf::{ConfArgs, GcAttachment, IpamConf, NetConf};
pub use mac::parse_mac;
pub use result::{CniResult, Dns, Interface, IpConfig, Route, is_v4_ip};
pub use version::Version;

#[cfg(test)]
#[path = "result_tests.rs"]
mod result_tests;

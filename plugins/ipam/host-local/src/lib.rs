//! host-local IPAM as a library: the binary in `main.rs` runs it through
//! `pkg::skel`; the fuzz targets call the parsers directly.

pub mod allocator;
pub mod commands;
pub mod config;
pub mod dns;
pub mod range;

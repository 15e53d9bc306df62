//! The DHCP client of the daemon: per exchange, sockets made in the
//! container's netns ([`socket`]), the conversations ([`exchange`]) and
//! the reading of replies ([`reply`]).

pub mod exchange;
pub mod reply;
pub mod sanitize;
pub mod socket;

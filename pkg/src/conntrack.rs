//! Netfilter conntrack over netlink (owned by the portmap work).

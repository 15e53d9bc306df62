//! macvlan links (owned by the ptp/macvlan work).

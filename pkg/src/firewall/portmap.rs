//! Port mappings of the `portmap` plugin (owned by the portmap work).

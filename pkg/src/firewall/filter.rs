//! Filter-table rules of the `firewall` plugin (owned by the firewall work).

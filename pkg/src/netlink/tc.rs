//! Traffic control: qdiscs and filters (owned by the bandwidth work).

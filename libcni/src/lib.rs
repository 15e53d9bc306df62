//! Runtime-side CNI library.

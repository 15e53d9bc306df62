//! The global allocator of plugin binaries built against musl (feature
//! `plugin-alloc`). musl's allocator gives every freed buffer of a few KiB
//! back to the kernel at once, so parsing one netlink answer costs an
//! `mmap`, a page fault and an `munmap` per growing buffer, and each
//! `munmap` in a process with a namespace thread sends TLB-flush IPIs.
//! dlmalloc keeps freed memory for reuse, which is what a process that
//! lives a few milliseconds wants. glibc's allocator already does.

#[global_allocator]
static GLOBAL: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

//! The memory allocator of every Shangji process (services, tests and benches link the
//! platform, so they all get it).
//!
//! mimalloc rather than glibc's malloc: a profile of dedup's CheckDuplicate spent about a
//! fifth of its CPU in glibc's malloc and free (chunk unlinking and consolidation), the
//! short-lived strings and rows of each request freed on threads other than the one that
//! allocated them. mimalloc's per-thread free lists make those cheap.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

//! The allocator around data loads: a fixed mmap threshold before a load, and the freed
//! memory handed back to the system after one.
//!
//! Building a table allocates several times what the table keeps (the parsed files, the
//! merge's working sets, the index builders). glibc's allocator returns freed memory to the
//! system only from the top of its heap, so temporaries that sat below long-lived allocations
//! stay resident: [`release_free_memory`] asks it to give back every whole free page once a
//! table is in place (at the start and after each reload).
//!
//! glibc also raises its mmap threshold each time it frees a block it had mapped on its own,
//! up to the size of that block: after the load frees the inflated 1.1 MB registry, every
//! block below that size comes from the heap, where the kept table's large lists then sit
//! wherever the load's leftovers leave room (RSS at rest varied by 4 MiB from start to start).
//! [`fix_mmap_threshold`] pins the threshold at glibc's default of 128 KiB, which also turns
//! the raising off: large blocks keep their own mappings and go back whole when freed.
//!
//! This module holds the crate's only `unsafe` blocks: calls into the C library that take no
//! pointer and may run on any thread at any time.

/// glibc's default mmap threshold, the one [`fix_mmap_threshold`] keeps.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 128 * 1024;

/// Pins glibc's mmap threshold (`mallopt(M_MMAP_THRESHOLD)`, see the module docs); nothing on
/// other C libraries.
#[allow(unsafe_code)]
pub(crate) fn fix_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` takes no pointer and only changes a setting of the allocator, under
    // its lock; blocks allocated before keep working either way.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

/// Returns the allocator's free pages to the system (glibc's `malloc_trim(0)`); nothing on
/// other C libraries, whose allocators decide for themselves.
#[allow(unsafe_code)]
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` takes no pointer; it walks the allocator's own free lists under
    // the allocator's locks, so calling it while other threads allocate is allowed.
    unsafe {
        libc::malloc_trim(0);
    }
}

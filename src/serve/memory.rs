//! Handing the memory freed by a data load back to the system.
//!
//! Building a table allocates several times what the table keeps (the parsed files, the
//! merge's working sets, the index builders). glibc's allocator returns freed memory to the
//! system only from the top of its heap, so the temporaries that sat below the table's
//! long-lived allocations stay resident: about 6 MiB after a start with the built-in data.
//! [`release_free_memory`] asks the allocator to give back every whole free page once a
//! table is in place (at the start and after each reload); nothing else changes.
//!
//! This module holds the crate's only `unsafe` block: a call into the C library that takes
//! no pointer and may run on any thread at any time.

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

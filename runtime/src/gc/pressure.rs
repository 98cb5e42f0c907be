//! Memory pressure: a collection when the Rust heap memory that GC objects
//! own (the buffers of their `Vec`s and `String`s) has grown, not only
//! when the GC heap is full.
//!
//! mmtk triggers collections by the size of its own spaces. An object
//! with drop glue usually owns memory on the malloc heap that mmtk does
//! not see — a Lox instance is 64 bytes on the GC heap and a 200-byte
//! field table beside it — so with the GC heap's trigger alone, garbage
//! owning three times the heap's size in malloc memory piles up before
//! each collection. RPython's counterpart is `rgc.add_memory_pressure`
//! (incminimark counts raw memory owned by GC objects towards the next
//! major collection); clox counts every `reallocate` in `bytesAllocated`.
//!
//! Here: every `CHECK_EVERY` allocations of objects with drop glue, the
//! mutator reads the malloc heap's bytes in use (glibc's `mallinfo2`); if
//! they passed 1.25 times what was in use after the last full collection
//! (and by at least `MIN_GROWTH`), it runs a full collection before allocating (full,
//! because on StickyImmix the memory often belongs to objects that died
//! old).

use std::cell::Cell;

/// Allocations with drop glue between two looks at the malloc heap.
const CHECK_EVERY: u32 = 16384;
/// Growth of the malloc heap below which no collection is asked for.
const MIN_GROWTH: usize = 4 << 20;

thread_local! {
    static COUNTDOWN: Cell<u32> = const { Cell::new(CHECK_EVERY) };
    /// Malloc bytes in use after the last full collection, and the number
    /// of the last collection seen.
    static BASELINE: Cell<(usize, u64)> = const { Cell::new((0, 0)) };
}

/// Called by the mutator before it allocates an object with drop glue:
/// whether a collection is due for the malloc memory such objects own.
#[inline]
pub(super) fn collection_due() -> bool {
    COUNTDOWN.with(|c| {
        let n = c.get() - 1;
        if n > 0 {
            c.set(n);
            return false;
        }
        c.set(CHECK_EVERY);
        malloc_grew()
    })
}

#[cold]
fn malloc_grew() -> bool {
    let in_use = malloc_in_use();
    let collections = super::heap::stats().collections;
    let full = super::weak::last_was_full();
    BASELINE.with(|b| {
        let (base, seen) = b.get();
        if seen != collections {
            // The first look since a collection. Only a full one gives a
            // new baseline: young collections leave the memory of old
            // garbage in place, and following them would ratchet the
            // baseline up with it.
            b.set((if full { in_use } else { base }, collections));
            if full {
                return false;
            }
        }
        in_use > (base + base / 4).max(base + MIN_GROWTH)
    })
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn malloc_in_use() -> usize {
    // SAFETY: mallinfo2 has no preconditions.
    unsafe { libc::mallinfo2() }.uordblks
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn malloc_in_use() -> usize {
    0
}

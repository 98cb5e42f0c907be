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
//! mutator reads the malloc heap's bytes in use; if
//! they passed 1.25 times what was in use after the last full collection
//! (and by at least `MIN_GROWTH`), it runs a collection before allocating:
//! with generations (StickyImmix) a young one first, which frees the
//! memory of the objects that died young, and a full one only if the
//! malloc heap is still above the mark after it (the memory then belongs
//! to objects that died old, or to live ones); without generations a full
//! one. Always full, binary_trees.lox ran 81 full collections, every one
//! of them from here, and spent a third of its time tracing the long-lived
//! tree again and again.
//!
//! The bytes in use come from [`CountingAllocator`] when the VM installed
//! it as its `#[global_allocator]` (a relaxed atomic add per allocation
//! and free), else from glibc's `mallinfo2`. mallinfo2 walks every free
//! chunk of the malloc heap: on binary_trees.lox, whose field vectors
//! fragment it, the walks took 15% of the run.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

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
        in_use > mark(base)
    })
}

/// The malloc bytes in use above which a collection is due, given what
/// was in use after the last full one.
fn mark(base: usize) -> usize {
    (base + base / 4).max(base + MIN_GROWTH)
}

/// Whether the malloc heap is still above the mark (after a young
/// collection the check asked for: then a full one is due).
pub(super) fn still_above_mark() -> bool {
    let in_use = malloc_in_use();
    BASELINE.with(|b| in_use > mark(b.get().0))
}

/// A global allocator that counts the bytes it has handed out and not
/// yet got back, for the memory-pressure check. A VM installs it with
///
/// ```ignore
/// #[global_allocator]
/// static ALLOCATOR: metatrace::gc::CountingAllocator = metatrace::gc::CountingAllocator;
/// ```
///
/// Without it, the check asks glibc (`mallinfo2`), which is slow on a
/// fragmented heap, or, elsewhere, never finds pressure.
pub struct CountingAllocator;

static COUNTED_IN_USE: AtomicUsize = AtomicUsize::new(0);
static COUNTING: AtomicBool = AtomicBool::new(false);

impl CountingAllocator {
    /// The bytes allocated through it and not yet freed.
    pub fn in_use() -> usize {
        COUNTED_IN_USE.load(Ordering::Relaxed)
    }

    fn counted(size: usize) {
        COUNTED_IN_USE.fetch_add(size, Ordering::Relaxed);
        if !COUNTING.load(Ordering::Relaxed) {
            COUNTING.store(true, Ordering::Relaxed);
        }
    }
}

// SAFETY: every method forwards to `System` with the same arguments; the
// counting has no effect on the memory handed out.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            Self::counted(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            Self::counted(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        COUNTED_IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            COUNTED_IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
            Self::counted(new_size);
        }
        p
    }
}

pub(super) fn malloc_in_use() -> usize {
    if COUNTING.load(Ordering::Relaxed) {
        return CountingAllocator::in_use();
    }
    mallinfo_in_use()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn mallinfo_in_use() -> usize {
    // SAFETY: mallinfo2 has no preconditions.
    unsafe { libc::mallinfo2() }.uordblks
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn mallinfo_in_use() -> usize {
    0
}

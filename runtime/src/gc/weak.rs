//! What a collection does once marking is complete: weak tables are
//! swept and the drop glue of dead objects runs.
//!
//! Weak tables are containers outside the GC heap whose entries do not
//! keep their objects alive — an interner of strings, a cache keyed by
//! object. Every registered table is *swept*: it drops the entries whose
//! objects died and rewrites the ones whose objects moved. Objects with
//! drop glue (a `Vec` or `String` field) are kept in a list; those found
//! dead have their drop glue run right there, so that the memory they own
//! on the Rust heap is freed with them, in the same collection.
//!
//! RPython's counterparts: weakref support in rpython/memory/gc/
//! incminimark.py (`invalidate_young_weakrefs`/`invalidate_old_weakrefs`,
//! run after marking) and rlib/rweakref.py's `RWeakValueDictionary`;
//! the light finalizers of incminimark (`deal_with_objects_with_destructors`
//! for objects whose destructor only frees raw memory, run during the
//! collection). clox does the same for its string table with
//! `tableRemoveWhite`, between marking and sweeping. In mmtk's terms this
//! is `Scanning::process_weak_refs` (the `VMRefClosure` stage, once the
//! transitive closure is complete).
//!
//! Why not mmtk's finalization (`add_finalizer`): it *resurrects* every
//! dead finalizable object so that the mutator can run its drop glue
//! later, which keeps a whole generation of garbage one more collection —
//! a fixed heap filled with short-lived objects that own a `Vec` then runs
//! out of memory — and makes a resurrected object look alive to a weak
//! table that would hand it out after its drop glue ran.
//!
//! The drop glue thus runs on a GC thread while the mutator is parked:
//! `Drop` impls of GC types must not follow `Gc`s (other dead objects may
//! already be dropped) nor allocate on the GC heap; freeing Rust memory is
//! what drop glue is for. A dropped object gets the `DROPPED` header bit
//! until its memory is reused: a stale stack word may still find it (with
//! MarkSweep's lazy sweeping), and scanning must then not read its fields.
//!
//! Usage: a table implements [`Sweep`] and lives in a [`WeakRoot`] (boxed
//! and registered, like [`Root`](super::Root)); its sweep runs on a GC
//! thread, so it must not allocate on the GC heap or take locks the
//! mutator may hold.

use super::object::{descr_of, header, Gc, DROPPED};
use mmtk::util::{Address, ObjectReference};
use std::sync::Mutex;

/// A table of weak entries: after marking, it keeps the entries whose
/// objects survive (at their possibly new address) and drops the others.
pub trait Sweep {
    /// Drops dead entries and updates moved ones; `alive.of(gc)` says what
    /// becomes of each object. Runs on a GC thread, the mutator parked.
    fn sweep(&mut self, alive: &Alive);
}

/// The liveness answer during a sweep.
pub struct Alive {
    _private: (),
}

impl Alive {
    /// `gc` at its address after this collection if it survives; `None`
    /// if it died.
    pub fn of<T>(&self, gc: Gc<T>) -> Option<Gc<T>> {
        survivor(gc.as_ptr() as usize).map(|a| unsafe { Gc::from_raw(a as *const T) })
    }
}

/// The address after this collection of the object at `addr`, if it
/// survives.
fn survivor(addr: usize) -> Option<usize> {
    let obj = ObjectReference::from_raw_address(unsafe { Address::from_usize(addr) })?;
    if !obj.is_reachable() {
        return None;
    }
    Some(
        obj.get_forwarded_object()
            .unwrap_or(obj)
            .to_raw_address()
            .as_usize(),
    )
}

/// A registered table: its address and how to sweep it.
struct Entry {
    table: *mut u8,
    sweep: unsafe fn(*mut u8, &Alive),
}

// Read by GC threads only while the mutator that owns the tables is parked.
unsafe impl Send for Entry {}

static TABLES: Mutex<Vec<Option<Entry>>> = Mutex::new(Vec::new());

/// The objects with drop glue not yet found dead, by address; the first
/// `old` of them survived a collection (a nursery collection leaves those
/// alone).
struct Droppable {
    objects: Vec<usize>,
    old: usize,
}

static DROPPABLE: Mutex<Droppable> = Mutex::new(Droppable {
    objects: Vec::new(),
    old: 0,
});

/// Whether the last collection was a full one (not StickyImmix's young
/// collection). mmtk's `last_collection_was_exhaustive` says more than
/// that: a full StickyImmix or Immix collection without defragmentation
/// is not "exhaustive".
static LAST_WAS_FULL: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub(super) fn last_was_full() -> bool {
    LAST_WAS_FULL.load(std::sync::atomic::Ordering::Relaxed)
}

/// Registers a new object whose type has drop glue (`heap::allocate`).
#[inline]
pub(super) fn add_droppable(value: usize) {
    DROPPABLE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .objects
        .push(value);
}

unsafe fn sweep_erased<T: Sweep>(table: *mut u8, alive: &Alive) {
    (*(table as *mut T)).sweep(alive)
}

/// A value kept on the Rust heap and swept after every collection for as
/// long as it lives: the weak counterpart of [`Root`](super::Root). Derefs
/// to the value. Do not hold a borrow of it across an allocation (a
/// collection would sweep the table under the borrow).
pub struct WeakRoot<T: Sweep> {
    index: usize,
    // A raw pointer, not a `Box`: the GC thread writes the table through
    // it while the mutator's borrows of the `WeakRoot` itself are live.
    value: *mut T,
}

impl<T: Sweep> WeakRoot<T> {
    /// Moves `value` to the heap and registers it.
    pub fn new(value: T) -> WeakRoot<T> {
        let value = Box::into_raw(Box::new(value));
        let entry = Entry {
            table: value as *mut u8,
            sweep: sweep_erased::<T>,
        };
        let mut tables = TABLES.lock().unwrap_or_else(|e| e.into_inner());
        let index = match tables.iter().position(Option::is_none) {
            Some(i) => {
                tables[i] = Some(entry);
                i
            }
            None => {
                tables.push(Some(entry));
                tables.len() - 1
            }
        };
        WeakRoot { index, value }
    }
}

impl<T: Sweep> std::ops::Deref for WeakRoot<T> {
    type Target = T;
    fn deref(&self) -> &T {
        unsafe { &*self.value }
    }
}

impl<T: Sweep> std::ops::DerefMut for WeakRoot<T> {
    fn deref_mut(&mut self) -> &mut T {
        unsafe { &mut *self.value }
    }
}

impl<T: Sweep> Drop for WeakRoot<T> {
    fn drop(&mut self) {
        // Unregistered first, then freed.
        TABLES.lock().unwrap_or_else(|e| e.into_inner())[self.index] = None;
        drop(unsafe { Box::from_raw(self.value) });
    }
}

/// After marking (`Scanning::process_weak_refs`): sweeps every registered
/// table, then runs the drop glue of the objects with drop glue that died.
/// `nursery`: only the young objects were collected.
pub(super) fn after_marking(nursery: bool) {
    LAST_WAS_FULL.store(!nursery, std::sync::atomic::Ordering::Relaxed);
    if !nursery {
        super::heap::FULL_COLLECTIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    let alive = Alive { _private: () };
    let tables = TABLES.lock().unwrap_or_else(|e| e.into_inner());
    for e in tables.iter().flatten() {
        unsafe { (e.sweep)(e.table, &alive) };
    }
    drop(tables);
    let mut droppable = DROPPABLE.lock().unwrap_or_else(|e| e.into_inner());
    let Droppable { objects, old } = &mut *droppable;
    let mut kept = if nursery { *old } else { 0 };
    for i in kept..objects.len() {
        let value = objects[i];
        match survivor(value) {
            Some(moved) => {
                objects[kept] = moved;
                kept += 1;
            }
            None => unsafe { run_drop_glue(value) },
        }
    }
    objects.truncate(kept);
    *old = kept;
}

/// Runs the drop glue of the dead object at `value` and marks it dropped.
unsafe fn run_drop_glue(value: usize) {
    let header = header(value);
    if *header & DROPPED == 0 {
        *header |= DROPPED;
        if let Some(drop) = descr_of(value).drop {
            drop(value as *mut u8);
        }
    }
}

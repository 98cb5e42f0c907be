//! `GcCell<T>`: interior mutability for fields that hold `Gc`s, with the
//! write barrier the generational plan needs.
//!
//! StickyImmix collects the young objects alone most of the time; a young
//! object that only an old object points to must be found all the same,
//! so every store of a `Gc` into an old object has to be remembered. mmtk's
//! `ObjectBarrier` remembers the *object* (a log-bit test, a rare slow
//! call that logs it); RPython's incminimark does the same
//! (`write_barrier`, `GCFLAG_TRACK_YOUNG_PTRS`, rpython/memory/gc/
//! incminimark.py). Both need the stored-into object. Native Rust code
//! writing `obj.field.set(v)` has the cell, not the object, so this
//! barrier remembers the *cell*: a `logged` flag in the cell (the log-bit
//! test), and on the first store since the last collection the cell's
//! address and scanning function go into the remembered set (the rare
//! slow call). At the next collection the remembered cells' slots are
//! roots. Cells outside the GC heap are not logged: they are either roots
//! themselves (scanned every time) or not traced at all.
//!
//! A cell inside a young object (one allocated since the last collection)
//! is logged at its first write but not remembered: the young object is
//! traced anyway if it is reachable. The collection that keeps such an
//! object clears the flag as it traces it (`Trace for GcCell`), on the
//! object's final copy: from then on the object is old and its next write
//! must be remembered. Remembered cells are cleared by the mutator just
//! before it parks (`before_collection`). A cell that is mutably borrowed
//! across a collection stays logged and is remembered: the holder of the
//! `RefMut` may store into it afterwards without passing the barrier
//! again (the `RefMut` on the stack pins its object, so the remembered
//! address stays right).

use super::object::{ScanFn, Trace};
use std::cell::{Cell, UnsafeCell};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Whether the plan needs the barrier (set when the heap is created).
static BARRIER: AtomicBool = AtomicBool::new(false);

pub(super) fn set_barrier(on: bool) {
    BARRIER.store(on, Ordering::Relaxed);
}

/// The remembered cells: (address of the cell, scanning function of the
/// cell). Appended to by the mutator's slow path, read by the GC threads
/// while the mutator is parked.
struct Remembered(Vec<(usize, ScanFn)>);
static REMEMBERED: Mutex<Remembered> = Mutex::new(Remembered(Vec::new()));
/// Cells of young objects that a collection found logged and mutably
/// borrowed (it kept them logged): remembered from the next collection on.
/// Appended to by GC threads, emptied by the mutator before it parks.
static BORROWED_YOUNG: Mutex<Vec<(usize, ScanFn)>> = Mutex::new(Vec::new());

/// Borrow state: 0 free, > 0 shared borrows, -1 mutably borrowed.
const WRITING: isize = -1;

/// A mutable location inside a GC object (or anywhere) that may hold
/// `Gc`s: `get`/`set`/`replace` for `Copy` values, `borrow`/`borrow_mut`
/// (checked like `RefCell`) for others, such as a `Vec<Value>` the object
/// owns. Every way to write passes the write barrier.
#[repr(C)] // `borrow` and `logged` at the same offsets for every T (see before_collection)
pub struct GcCell<T> {
    borrow: Cell<isize>,
    logged: Cell<bool>,
    value: UnsafeCell<T>,
}

impl<T> GcCell<T> {
    /// Where the borrow flag is, for traced code (the glue's field descrs;
    /// `jitcodegen`'s `GCCELL_BORROW`).
    pub const BORROW_OFFSET: usize = std::mem::offset_of!(GcCell<T>, borrow);
    /// Where the `logged` flag is (`GCCELL_LOGGED`).
    pub const LOGGED_OFFSET: usize = std::mem::offset_of!(GcCell<T>, logged);
    /// Where the value is (`GCCELL_VALUE`).
    pub const VALUE_OFFSET: usize = std::mem::offset_of!(GcCell<T>, value);
}

impl<T: Trace> GcCell<T> {
    /// A cell holding `value`.
    pub const fn new(value: T) -> GcCell<T> {
        GcCell {
            borrow: Cell::new(0),
            logged: Cell::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// The write barrier: remembers this cell once between collections
    /// when the plan is generational and the cell is on the GC heap.
    #[inline]
    pub fn write_barrier(&self) {
        if BARRIER.load(Ordering::Relaxed) && !self.logged.get() {
            self.remember();
        }
    }

    #[cold]
    fn remember(&self) {
        let addr = self as *const Self as usize;
        if !super::heap::in_heap_range(addr) {
            return;
        }
        self.logged.set(true);
        // SAFETY: a cell in the heap's range is in a live object, whose
        // chunk is mapped.
        if unsafe { super::lookup::in_young_object(addr) } {
            return;
        }
        let mut r = REMEMBERED.lock().unwrap_or_else(|e| e.into_inner());
        r.0.push((addr, scan_cell::<T>));
    }

    /// A copy of the value.
    #[inline]
    pub fn get(&self) -> T
    where
        T: Copy,
    {
        assert!(
            self.borrow.get() != WRITING,
            "GcCell already mutably borrowed"
        );
        unsafe { *self.value.get() }
    }

    /// Stores `value` (through the barrier).
    #[inline]
    pub fn set(&self, value: T) {
        drop(self.replace(value));
    }

    /// Stores `value` (through the barrier) and returns the old value.
    #[inline]
    pub fn replace(&self, value: T) -> T {
        assert!(self.borrow.get() == 0, "GcCell already borrowed");
        self.write_barrier();
        unsafe { std::mem::replace(&mut *self.value.get(), value) }
    }

    /// A shared borrow; panics if mutably borrowed.
    pub fn borrow(&self) -> GcRef<'_, T> {
        let b = self.borrow.get();
        assert!(b != WRITING, "GcCell already mutably borrowed");
        self.borrow.set(b + 1);
        GcRef { cell: self }
    }

    /// A mutable borrow (through the barrier); panics if borrowed.
    pub fn borrow_mut(&self) -> GcRefMut<'_, T> {
        assert!(self.borrow.get() == 0, "GcCell already borrowed");
        self.write_barrier();
        self.borrow.set(WRITING);
        GcRefMut { cell: self }
    }
}

unsafe fn scan_cell<T: Trace>(cell: *const u8, visit: &mut dyn FnMut(*mut usize)) {
    let cell = &*(cell as *const GcCell<T>);
    (*cell.value.get()).trace(visit)
}

unsafe impl<T: Trace> Trace for GcCell<T> {
    fn trace(&self, visit: &mut dyn FnMut(*mut usize)) {
        // Called by the collector, the mutator parked, on the final copy
        // of an object it keeps. A cell still logged now is a young
        // object's (remembered ones were cleared before the collection,
        // unless borrowed): the object is old from now on.
        if self.logged.get() {
            if self.borrow.get() == WRITING {
                let addr = self as *const Self as usize;
                BORROWED_YOUNG
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((addr, scan_cell::<T>));
            } else {
                self.logged.set(false);
            }
        }
        // No borrow is being used while the mutator is parked.
        unsafe { (*self.value.get()).trace(visit) }
    }
}

impl<T: Trace + Default> Default for GcCell<T> {
    fn default() -> Self {
        GcCell::new(T::default())
    }
}

impl<T: Trace + std::fmt::Debug> std::fmt::Debug for GcCell<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.borrow.get() == WRITING {
            f.write_str("GcCell(<borrowed>)")
        } else {
            write!(f, "GcCell({:?})", unsafe { &*self.value.get() })
        }
    }
}

/// A shared borrow of a [`GcCell`].
pub struct GcRef<'a, T> {
    cell: &'a GcCell<T>,
}

impl<T> std::ops::Deref for GcRef<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        unsafe { &*self.cell.value.get() }
    }
}

impl<T> Drop for GcRef<'_, T> {
    fn drop(&mut self) {
        self.cell.borrow.set(self.cell.borrow.get() - 1);
    }
}

/// A mutable borrow of a [`GcCell`].
pub struct GcRefMut<'a, T> {
    cell: &'a GcCell<T>,
}

impl<T> std::ops::Deref for GcRefMut<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        unsafe { &*self.cell.value.get() }
    }
}

impl<T> std::ops::DerefMut for GcRefMut<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        unsafe { &mut *self.cell.value.get() }
    }
}

impl<T> Drop for GcRefMut<'_, T> {
    fn drop(&mut self) {
        self.cell.borrow.set(0);
    }
}

/// Settles the remembered set before a collection, on the mutator's
/// thread: clears the `logged` flag of every remembered cell except those
/// mutably borrowed now (they stay remembered for the next collection),
/// and keeps the list for the root scan of this collection.
pub(super) fn before_collection() {
    let mut r = REMEMBERED.lock().unwrap_or_else(|e| e.into_inner());
    // Young cells the last collection kept logged because they were
    // borrowed: written through their `RefMut` since, maybe.
    r.0.append(&mut BORROWED_YOUNG.lock().unwrap_or_else(|e| e.into_inner()));
    // Entries from the previous collection that were kept only because
    // they were borrowed then and are still logged now are still listed
    // once: `logged` guarded against a second push.
    for &(addr, _) in &r.0 {
        let flags = unsafe { &*(addr as *const GcCell<()>) };
        if flags.borrow.get() != WRITING {
            flags.logged.set(false);
        }
    }
    r.0.sort_unstable_by_key(|e| e.0);
    r.0.dedup_by_key(|e| e.0);
}

/// Calls `visit` with every slot of every remembered cell, then forgets
/// the cells that are no longer logged (called by a GC thread while the
/// mutator is parked).
pub(super) fn visit_remembered(visit: &mut dyn FnMut(*mut usize)) {
    let mut r = REMEMBERED.lock().unwrap_or_else(|e| e.into_inner());
    for &(addr, scan) in &r.0 {
        unsafe { scan(addr as *const u8, visit) };
    }
    r.0.retain(|&(addr, _)| unsafe { (*(addr as *const GcCell<()>)).logged.get() });
}

/// How many cells are remembered now (for tests).
pub fn remembered_count() -> usize {
    REMEMBERED.lock().unwrap_or_else(|e| e.into_inner()).0.len()
}

//! Precise roots: values outside the GC heap whose `Gc`s must be seen and
//! may be updated by the collector — the reds of every active portal
//! invocation (registered by the portal's prologue, DESIGN §8), a VM's
//! globals, and anything that keeps `Gc`s in Rust heap memory (a
//! `Vec<Value>` stack: the `Vec`'s buffer is not on the native stack, so
//! the conservative scan does not see into it).
//!
//! RPython's counterpart is the shadow stack of
//! rpython/memory/gctransform/shadowstack.py (push the GC pointers a
//! function keeps across a call, pop them on return) and the static roots
//! of gctypelayout.py; here a root is any value with a scanning function,
//! so a whole `Vec<Value>` is one root.

use super::object::{ScanFn, Trace};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// A registered root: where the value is and how to find its slots.
#[derive(Clone, Copy)]
struct Entry {
    value: *const u8,
    scan: ScanFn,
}

// The entries are only read by GC threads while the mutator that owns
// them is parked.
unsafe impl Send for Entry {}

struct Slab {
    entries: Vec<Option<Entry>>,
    free: Vec<usize>,
}

static ROOTS: Mutex<Slab> = Mutex::new(Slab {
    entries: Vec::new(),
    free: Vec::new(),
});

unsafe fn scan_erased<T: Trace>(obj: *const u8, visit: &mut dyn FnMut(*mut usize)) {
    (*(obj as *const T)).trace(visit)
}

/// Registers the value at `value` as a root until the returned handle is
/// dropped. This is what a portal's prologue calls for each red.
///
/// # Safety
/// `value` must stay valid (not moved, not freed) until the handle is
/// dropped, and hold a `T` whenever a collection can happen.
pub unsafe fn register<T: Trace>(value: *const T) -> RootHandle {
    register_raw(value as *const u8, scan_erased::<T>)
}

/// [`register`] with an explicit scanning function (generated glue).
///
/// # Safety
/// As for [`register`], and `scan` must be a correct scanning function for
/// what `value` holds.
pub unsafe fn register_raw(value: *const u8, scan: ScanFn) -> RootHandle {
    let mut roots = ROOTS.lock().unwrap_or_else(|e| e.into_inner());
    let entry = Some(Entry { value, scan });
    let index = match roots.free.pop() {
        Some(i) => {
            roots.entries[i] = entry;
            i
        }
        None => {
            roots.entries.push(entry);
            roots.entries.len() - 1
        }
    };
    RootHandle { index }
}

/// Keeps a root registered; unregisters it when dropped.
#[must_use = "the root is unregistered when the handle is dropped"]
pub struct RootHandle {
    index: usize,
}

impl Drop for RootHandle {
    fn drop(&mut self) {
        let mut roots = ROOTS.lock().unwrap_or_else(|e| e.into_inner());
        roots.entries[self.index] = None;
        roots.free.push(self.index);
    }
}

/// A value kept on the Rust heap and registered as a root for as long as
/// it lives: `Root::new(Vec::<Value>::new())` is a VM stack whose `Gc`s
/// the collector sees and keeps. Derefs to the value.
pub struct Root<T: Trace> {
    // Declared first so that it is dropped first: the root is unregistered
    // before its value is freed.
    _handle: RootHandle,
    // Boxed so that the registered address does not move with the Root.
    value: Box<T>,
}

impl<T: Trace> Root<T> {
    /// Moves `value` to the heap and registers it.
    pub fn new(value: T) -> Root<T> {
        let value = Box::new(value);
        let handle = unsafe { register(&*value as *const T) };
        Root {
            _handle: handle,
            value,
        }
    }
}

impl<T: Trace> std::ops::Deref for Root<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: Trace> std::ops::DerefMut for Root<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

/// Calls `visit` with every slot of every registered root.
pub(super) fn visit_slots(visit: &mut dyn FnMut(*mut usize)) {
    let roots = ROOTS.lock().unwrap_or_else(|e| e.into_inner());
    for e in roots.entries.iter().flatten() {
        unsafe { (e.scan)(e.value, visit) };
    }
}

/// The number of registered roots (for tests).
pub fn count() -> usize {
    let roots = ROOTS.lock().unwrap_or_else(|e| e.into_inner());
    roots.entries.iter().flatten().count()
}

/// Words in Rust heap memory that may hold `Gc`s among other things and
/// are scanned conservatively, like the native stack (the objects they
/// point into are kept and pinned): the blackhole's and the tracer's
/// register files, which live in `Vec`s, and the `Gc` constants of
/// compiled traces. The owner updates the range whenever its buffer moves
/// or its length changes (two relaxed stores; the collector reads them
/// while the mutator is parked).
pub struct ConservativeRoot {
    range: Box<[std::sync::atomic::AtomicUsize; 2]>,
}

struct RangePtr(*const [std::sync::atomic::AtomicUsize; 2]);
// Read by GC threads only while the mutator that owns the range is parked.
unsafe impl Send for RangePtr {}

static CONSERVATIVE: Mutex<Vec<RangePtr>> = Mutex::new(Vec::new());

impl ConservativeRoot {
    /// A registered range, empty until [`set`](Self::set).
    pub fn new() -> ConservativeRoot {
        let range = Box::new([
            std::sync::atomic::AtomicUsize::new(0),
            std::sync::atomic::AtomicUsize::new(0),
        ]);
        let mut all = CONSERVATIVE.lock().unwrap_or_else(|e| e.into_inner());
        all.push(RangePtr(&*range));
        ConservativeRoot { range }
    }

    /// The words to scan: `len` words from `ptr`.
    #[inline]
    pub fn set(&self, ptr: *const usize, len: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        self.range[0].store(ptr as usize, Relaxed);
        self.range[1].store(len, Relaxed);
    }
}

impl Default for ConservativeRoot {
    fn default() -> Self {
        ConservativeRoot::new()
    }
}

impl Drop for ConservativeRoot {
    fn drop(&mut self) {
        let mut all = CONSERVATIVE.lock().unwrap_or_else(|e| e.into_inner());
        let me: *const [std::sync::atomic::AtomicUsize; 2] = &*self.range;
        all.retain(|r| !std::ptr::eq(r.0, me));
    }
}

/// Object addresses kept alive and unmoved while compiled code embeds
/// them: the `Gc` constants of live traces (machine code cannot be
/// updated if an object moves), with how many times each is pinned.
static PINNED_FOR_CODE: Mutex<BTreeMap<usize, u32>> = Mutex::new(BTreeMap::new());

/// Keeps the object `addr` points into (if it is one) alive and pinned
/// until as many [`unpin_for_code`] as calls of this one.
pub fn pin_for_code(addr: usize) {
    if !super::heap::in_heap_range(addr) {
        return;
    }
    let mut all = PINNED_FOR_CODE.lock().unwrap_or_else(|e| e.into_inner());
    *all.entry(addr).or_insert(0) += 1;
}

/// Undoes one [`pin_for_code`] of `addr` (a trace embedding it was
/// retired).
pub fn unpin_for_code(addr: usize) {
    let mut all = PINNED_FOR_CODE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = all.get_mut(&addr) {
        *n -= 1;
        if *n == 0 {
            all.remove(&addr);
        }
    }
}

/// Calls `visit` with every word of the conservative ranges and every
/// address pinned for code.
pub(super) fn visit_conservative_words(visit: &mut dyn FnMut(usize)) {
    use std::sync::atomic::Ordering::Relaxed;
    let all = CONSERVATIVE.lock().unwrap_or_else(|e| e.into_inner());
    for r in all.iter() {
        let range = unsafe { &*r.0 };
        let (ptr, len) = (range[0].load(Relaxed), range[1].load(Relaxed));
        for i in 0..len {
            visit(unsafe { (ptr as *const usize).add(i).read_volatile() });
        }
    }
    drop(all);
    let pinned = PINNED_FOR_CODE.lock().unwrap_or_else(|e| e.into_inner());
    pinned.keys().for_each(|&a| visit(a));
}

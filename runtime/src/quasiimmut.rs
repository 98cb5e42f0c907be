//! Quasi-immutable fields: [`QuasiImmut<T>`], a field that traces read as
//! a constant and that is still allowed to change, rarely. RPython's
//! `_immutable_fields_ = ['x?']` (rpython/jit/metainterp/quasiimmut.py,
//! the `QUASIIMMUT_FIELD` / `GUARD_NOT_INVALIDATED` operations); LuaJIT
//! has no counterpart (it specialises on table shapes and guards them).
//!
//! How it works:
//! - A trace that reads a `QuasiImmut` whose address is a trace constant
//!   gets the value as a constant. The tracer records the dependency here
//!   ([`watch`]: the field's address -> the trace's invalid flag) and puts
//!   a `guard_not_invalidated` into the trace, a test of that flag.
//! - `set` writes the value, then tests the field's own `watched` word;
//!   only when a trace ever read it as a constant does it call
//!   [`invalidate`], which raises the flags of every trace that depends
//!   on it and forgets them. The same happens whether `set` runs
//!   natively, in the blackhole or in machine code (the translator lowers
//!   it to the store, the test and the rare call of
//!   `QuasiImmut::invalidate_dependents`).
//! - An invalidated trace is not entered again (its green key goes back to
//!   counting, `jit/warmstate.rs`) and code already inside it leaves at its
//!   next `guard_not_invalidated`, which never gets a bridge.
//!
//! The flags are one byte each, made once per traced loop or bridge that
//! depends on something, and never freed (compiled traces are not freed
//! either yet).

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// The types a [`QuasiImmut`] may hold: plain scalars, one register of
/// the trace each, and no `Gc` (a store into one would need the write
/// barrier). A compound binding is made quasi-immutable through a version
/// number, as PyPy's module dicts do (targets/lox's globals).
pub trait QuasiImmutValue: Copy + sealed::Sealed {}

mod sealed {
    pub trait Sealed {}
}

macro_rules! quasi_immut_values {
    ($($t:ty),*) => { $( impl sealed::Sealed for $t {} impl QuasiImmutValue for $t {} )* };
}
quasi_immut_values!(bool, char, u8, u16, u32, u64, usize, i8, i16, i32, i64, isize, f64);

/// A field that traces read as a constant (when they know the address of
/// the field), and whose every write invalidates the traces that did: for
/// values that change seldom, such as a class's method-table version or
/// the version of a module's globals. Like `Cell`, it is read with `get`
/// and written with `set` through a shared reference.
#[repr(C)] // `watched` first: at offset 0 whatever `T` is (the tracer sets it)
pub struct QuasiImmut<T> {
    /// Not 0 once a trace read the field as a constant (until the write
    /// that invalidates it).
    watched: Cell<usize>,
    value: Cell<T>,
}

impl<T: QuasiImmutValue> QuasiImmut<T> {
    /// Where `watched` is (the glue's field descrs: `QUASIIMMUT_WATCHED`).
    pub const WATCHED_OFFSET: usize = std::mem::offset_of!(QuasiImmut<T>, watched);
    /// Where the value is (`QUASIIMMUT_VALUE`).
    pub const VALUE_OFFSET: usize = std::mem::offset_of!(QuasiImmut<T>, value);

    pub const fn new(value: T) -> QuasiImmut<T> {
        QuasiImmut {
            watched: Cell::new(0),
            value: Cell::new(value),
        }
    }

    #[inline]
    pub fn get(&self) -> T {
        self.value.get()
    }

    /// Stores `value`; the traces that read the field as a constant are
    /// invalidated (a test of `watched`, and a rare call when it is set).
    #[inline]
    pub fn set(&self, value: T) {
        self.value.set(value);
        if self.watched.get() != 0 {
            self.invalidate_dependents();
        }
    }

    /// The rare half of `set`: invalidates every trace that depends on
    /// this field.
    #[cold]
    #[inline(never)]
    pub fn invalidate_dependents(&self) {
        invalidate(self as *const Self as usize);
    }
}

impl<T: QuasiImmutValue + Default> Default for QuasiImmut<T> {
    fn default() -> Self {
        QuasiImmut::new(T::default())
    }
}

impl<T: QuasiImmutValue + std::fmt::Debug> std::fmt::Debug for QuasiImmut<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("QuasiImmut").field(&self.get()).finish()
    }
}

// Scalars without `Gc`s: nothing for the collector.
unsafe impl<T> crate::gc::Trace for QuasiImmut<T> {
    fn trace(&self, _visit: &mut dyn FnMut(*mut usize)) {}
}

/// The invalid flag of a trace being recorded (and, once compiled, of the
/// trace): false while valid. Its address is the constant operand of the
/// trace's `guard_not_invalidated`s.
pub type InvalidFlag = &'static AtomicBool;

/// Field address -> the flags of the traces that read it as a constant.
static DEPENDENTS: Mutex<Option<HashMap<usize, Vec<InvalidFlag>>>> = Mutex::new(None);

fn with_dependents<R>(f: impl FnOnce(&mut HashMap<usize, Vec<InvalidFlag>>) -> R) -> R {
    let mut d = DEPENDENTS.lock().unwrap_or_else(|e| e.into_inner());
    f(d.get_or_insert_with(HashMap::new))
}

/// Traces invalidated, in the process and on this thread (the summary's
/// `invalidations`).
static INVALIDATED: AtomicU64 = AtomicU64::new(0);
thread_local! {
    static THREAD_INVALIDATED: Cell<u64> = const { Cell::new(0) };
}

/// Traces invalidated so far: in the process, on this thread.
pub fn invalidations() -> (u64, u64) {
    let here = THREAD_INVALIDATED.try_with(|n| n.get()).unwrap_or(0);
    (INVALIDATED.load(Ordering::Relaxed), here)
}

/// A fresh flag for a trace that is about to depend on a field.
pub fn new_flag() -> InvalidFlag {
    Box::leak(Box::new(AtomicBool::new(false)))
}

/// The trace of `flag` depends on the `QuasiImmut` at `addr` (its
/// `watched` word is at offset 0 for every `T`): a later write raises the
/// flag.
///
/// # Safety
/// `addr` is the address of a live `QuasiImmut`.
pub unsafe fn watch(addr: usize, flag: InvalidFlag) {
    with_dependents(|d| {
        let flags = d.entry(addr).or_default();
        if !flags.iter().any(|f| std::ptr::eq(*f, flag)) {
            flags.push(flag);
        }
    });
    (*(addr as *const Cell<usize>)).set(1);
}

/// The `QuasiImmut` at `addr` was written: every trace that read it as a
/// constant is invalid from now on (counted in `invalidations`), and
/// nothing watches it any more.
pub fn invalidate(addr: usize) {
    let flags = with_dependents(|d| d.remove(&addr)).unwrap_or_default();
    for flag in flags {
        if !flag.swap(true, Ordering::Relaxed) {
            INVALIDATED.fetch_add(1, Ordering::Relaxed);
            let _ = THREAD_INVALIDATED.try_with(|n| n.set(n.get() + 1));
        }
    }
    // Safety: called by `QuasiImmut::set` on itself.
    unsafe { (*(addr as *const Cell<usize>)).set(0) };
}

/// The flag at `flag_addr` (the operand of a `guard_not_invalidated`).
pub fn flag_at(flag_addr: usize) -> InvalidFlag {
    // Safety: flags are made by `new_flag` and never freed.
    unsafe { &*(flag_addr as *const AtomicBool) }
}

/// Whether the trace whose flag is at `flag_addr` was invalidated.
pub fn is_invalid(flag_addr: usize) -> bool {
    flag_at(flag_addr).load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_invalidates_watchers_once() {
        let q = QuasiImmut::new(5usize);
        let (a, b) = (new_flag(), new_flag());
        q.set(6); // nobody watches: nothing happens
        unsafe {
            watch(&q as *const _ as usize, a);
            watch(&q as *const _ as usize, b);
        }
        assert!(!a.load(Ordering::Relaxed));
        q.set(7);
        assert!(a.load(Ordering::Relaxed) && b.load(Ordering::Relaxed));
        assert_eq!(q.get(), 7);
        assert_eq!(q.watched.get(), 0, "forgotten after the invalidation");
        assert_eq!(QuasiImmut::<u8>::WATCHED_OFFSET, 0);
        assert_eq!(QuasiImmut::<f64>::WATCHED_OFFSET, 0);
    }
}

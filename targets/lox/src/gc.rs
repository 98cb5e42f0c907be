//! A STAND-IN for `metatrace::Gc` and `metatrace::GcCell`, to be deleted
//! when they land on main: then `use crate::gc::{Gc, GcCell};` becomes
//! `use metatrace::{Gc, GcCell};` in the modules that name them, and
//! nothing else changes.
//!
//! The API is the one DESIGN.md §7 gives and the `gc-core` branch
//! implements: `Gc<T>` is a `Copy` pointer, `Deref<Target = T>`,
//! `Gc::new(value)`, `Gc::ptr_eq(a, b)`; objects are mutated through
//! `GcCell<T>` (`get`/`set`/`replace` for `Copy` values,
//! `borrow`/`borrow_mut` for others, such as the `Table` an instance owns).
//! The real `GcCell` passes the generational plan's write barrier on every
//! store; this one is a `RefCell`.
//!
//! What the stand-in does not do: collect. `Gc::new` leaks the object
//! (`Box::leak`), so nothing is ever freed and memory grows with every
//! allocation the Lox program makes (binary_trees.lox reaches 1.7 GB).
//! That is why the `--gc` options are accepted and ignored for now.
//!
//! Nothing here is traced code: this module plays the part of the runtime
//! library, and the translator will know the real `Gc` and `GcCell` as
//! builtins.

use std::cell::{Ref, RefCell, RefMut};
use std::fmt;
use std::ops::Deref;

/// A pointer to an object that lives until the process exits (see the
/// module doc): `Copy`, compared by address.
pub struct Gc<T: 'static> {
    ptr: &'static T,
}

impl<T: 'static> Gc<T> {
    /// Allocates `value` (and never frees it).
    pub fn new(value: T) -> Gc<T> {
        Gc {
            ptr: Box::leak(Box::new(value)),
        }
    }

    /// Whether `a` and `b` point to the same object.
    pub fn ptr_eq(a: Gc<T>, b: Gc<T>) -> bool {
        std::ptr::eq(a.ptr, b.ptr)
    }
}

impl<T: 'static> Clone for Gc<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: 'static> Copy for Gc<T> {}

impl<T: 'static> Deref for Gc<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.ptr
    }
}

impl<T: 'static> PartialEq for Gc<T> {
    fn eq(&self, other: &Self) -> bool {
        Gc::ptr_eq(*self, *other)
    }
}

impl<T: 'static> Eq for Gc<T> {}

/// By address, as the real `Gc` prints: following the pointer could
/// recurse forever around a cycle.
impl<T: 'static> fmt::Debug for Gc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Gc({:p})", self.ptr)
    }
}

/// A mutable location inside an object: the real one passes the write
/// barrier on every store and is checked like a `RefCell`.
pub struct GcCell<T> {
    value: RefCell<T>,
}

impl<T> GcCell<T> {
    /// A cell holding `value`.
    pub fn new(value: T) -> GcCell<T> {
        GcCell {
            value: RefCell::new(value),
        }
    }

    /// A copy of the value.
    pub fn get(&self) -> T
    where
        T: Copy,
    {
        *self.value.borrow()
    }

    /// Stores `value`.
    pub fn set(&self, value: T) {
        *self.value.borrow_mut() = value;
    }

    /// Stores `value` and returns the old value.
    #[allow(dead_code)] // part of the API this module stands in for
    pub fn replace(&self, value: T) -> T {
        self.value.replace(value)
    }

    /// A shared borrow; panics if mutably borrowed.
    pub fn borrow(&self) -> Ref<'_, T> {
        self.value.borrow()
    }

    /// A mutable borrow; panics if borrowed.
    pub fn borrow_mut(&self) -> RefMut<'_, T> {
        self.value.borrow_mut()
    }
}

impl<T: fmt::Debug> fmt::Debug for GcCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GcCell({:?})", self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_compare_by_address() {
        let a = Gc::new(1);
        let b = Gc::new(1);
        let c = a;
        assert!(Gc::ptr_eq(a, c));
        assert!(!Gc::ptr_eq(a, b));
        assert_eq!(*a + *b, 2);
    }

    #[test]
    fn cells_mutate_in_place() {
        let cell = Gc::new(GcCell::new(vec![1]));
        cell.borrow_mut().push(2);
        assert_eq!(*cell.borrow(), vec![1, 2]);
        let n = Gc::new(GcCell::new(3));
        n.set(4);
        assert_eq!(n.replace(5), 4);
        assert_eq!(n.get(), 5);
    }
}

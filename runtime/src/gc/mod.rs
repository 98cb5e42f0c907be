//! The garbage-collected heap (DESIGN §8, docs/gc.md): `Gc<T>` pointers to
//! objects that a collector built on mmtk-core frees when they become
//! unreachable, cycles included.
//!
//! RPython's counterpart is rpython/memory/: the GCs in gc/ (incminimark,
//! the default of PyPy), the GC header and type tables in gctypelayout.py,
//! and gctransform/, which inserts allocations, write barriers and root
//! pushes into the translated program. Here the collector is mmtk's; this
//! module is the binding and the Rust-level API:
//!
//! - [`object`]: the object layout (an 8-byte header with a type id), the
//!   type descriptors ([`TypeDescr`], [`GcType`], [`Trace`],
//!   [`gc_type!`](crate::gc_type)) and [`Gc`];
//! - [`cell`]: [`GcCell`], interior mutability with the write barrier;
//! - [`roots`]: precise roots ([`Root`], [`roots::register`]);
//! - `pressure`: collections for the malloc memory GC objects own;
//! - `stack`: the conservative scan of the mutator's stack;
//! - `lookup`: the object an address points into, and whether it is young;
//! - [`weak`]: weak tables ([`WeakRoot`], [`Sweep`]), swept after marking;
//! - [`heap`]: creating the heap, allocating, [`collect`], [`stats`];
//! - [`options`]: `--gc plan=...,heap=...,stress`;
//! - `binding`, `collection`, `scanning`: the mmtk traits (`VMBinding`,
//!   `ObjectModel`, `ActivePlan`, `ReferenceGlue`; `Collection`;
//!   `Scanning`).
//!
//! Threads: one mutator, the thread that allocates first; collections run
//! on mmtk's worker threads while the mutator is parked inside the
//! allocation that triggered them.

mod binding;
pub mod cell;
mod collection;
pub mod heap;
pub mod inline;
mod lookup;
pub mod object;
pub mod options;
mod pressure;
pub mod roots;
mod scanning;
mod stack;
pub mod weak;

/// Whether `addr` is inside a GC object (none when there is no heap):
/// then it is no item of a Vec's buffer, which the global allocator
/// gives (alias analysis: `alias::vec_data_apart_from_gc_heap`).
pub fn in_gc_object(addr: usize) -> bool {
    heap::heap().is_some() && lookup::object_containing(addr).is_some()
}

pub use cell::{GcCell, GcRef, GcRefMut};
pub use heap::{collect, collect_young, configure, stats, HeapStats};
pub use object::{Gc, GcType, ScanFn, Trace, TypeDescr};
pub use options::{GcOptions, GcPlan};
pub use pressure::CountingAllocator;
pub use roots::{ConservativeRoot, Root};
pub use weak::{Alive, Sweep, WeakRoot};

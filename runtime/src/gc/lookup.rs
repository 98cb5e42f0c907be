//! Which object an address points into, and whether that object is young:
//! the questions the conservative root scan asks for every word it reads
//! and the write barrier asks at the first write to a cell.
//!
//! mmtk answers the first with `find_object_from_internal_pointer` (the
//! valid-object bit of the nearest object start at or below the address,
//! then the object's size) and the second with its global log bit; both go
//! through its generic side-metadata accessors, a mapping check and the
//! space's table, which made up a fifth of binary_trees.lox's run time
//! (docs/gc.md, "Costs"). Here both tables are read directly: one
//! bit per 8 bytes of heap, bit `(a >> 3) & 7` of byte `base + (a >> 6)`,
//! so the 64 bits of the word at `base + (a >> 9) * 8` cover the 512
//! aligned bytes around `a`. The nearest object start within them is a
//! `leading_zeros`; only when there is none (an object that starts more
//! than 504 bytes below `a`, or no object at all) is mmtk asked, so the
//! answers are the same. The valid-object table's layout is the one the
//! JIT's inline allocation writes (`inline.rs`); the log bit table's is
//! checked against mmtk's spec when the heap is created (`find_tables`).
//!
//! Boehm's collector answers the first question with `GC_base` over its
//! block headers; RPython's collectors never need to, their roots being
//! precise.

use super::binding::Vm;
use super::object::{descr_of, HEADER_BYTES};
use mmtk::util::metadata::side_metadata::SideMetadataSpec;
use mmtk::util::{Address, ObjectReference};
use mmtk::vm::ObjectModel;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The valid-object bit table's start (0 before the heap exists).
static VO_BASE: AtomicUsize = AtomicUsize::new(0);
/// The global log bit table's start (0 when its layout is not the one
/// read here: then mmtk is asked).
static LOG_BASE: AtomicUsize = AtomicUsize::new(0);

fn log_bit_spec() -> &'static SideMetadataSpec {
    <Vm as mmtk::vm::VMBinding>::VMObjectModel::GLOBAL_LOG_BIT_SPEC
        .as_spec()
        .extract_side_spec()
}

/// Records where the tables are (when the heap is created).
pub(super) fn find_tables() {
    let vo = mmtk::util::metadata::vo_bit::vo_bit_side_metadata_addr().as_usize();
    VO_BASE.store(vo, Ordering::Relaxed);
    let log = log_bit_spec();
    // One bit per 8 bytes at a fixed address, as the valid-object bits.
    if log.log_num_of_bits == 0
        && log.log_bytes_in_region == 3
        && log.uses_contiguous_side_metadata()
    {
        LOG_BASE.store(log.get_starting_address().as_usize(), Ordering::Relaxed);
    }
}

/// The 64 bits of `table` that cover the 512 aligned bytes around `addr`.
///
/// # Safety
/// The table must be mapped for `addr` (its chunk is mapped).
#[inline]
unsafe fn table_word(table: usize, addr: usize) -> u64 {
    ((table + ((addr >> 9) << 3)) as *const u64).read_volatile()
}

/// The nearest object start (value address) at or below `addr` within the
/// 512 aligned bytes around it, if the table says where; `None` sends the
/// caller to mmtk's longer search.
///
/// # Safety
/// As [`table_word`].
#[inline]
unsafe fn nearest_start(addr: usize) -> Option<usize> {
    let vo = VO_BASE.load(Ordering::Relaxed);
    if vo == 0 {
        return None;
    }
    let below = table_word(vo, addr) & (u64::MAX >> (63 - ((addr >> 3) & 63)));
    (below != 0).then(|| (addr & !511) + ((63 - below.leading_zeros() as usize) << 3))
}

/// The object `addr` points into (its value part), if any.
///
/// # Safety
/// `addr` must be in the heap's range, in a mapped chunk.
#[inline]
pub(super) unsafe fn object_containing_mapped(addr: usize) -> Option<ObjectReference> {
    if let Some(start) = nearest_start(addr) {
        let end = start - HEADER_BYTES + descr_of(start).object_bytes();
        return (addr < end)
            .then(|| ObjectReference::from_raw_address_unchecked(Address::from_usize(start)));
    }
    let max = super::object::max_object_bytes();
    mmtk::memory_manager::find_object_from_internal_pointer(Address::from_usize(addr), max)
}

/// The object an address points into, if it points into a GC object (its
/// value part): the conservative scan's question for every word.
pub(super) fn object_containing(addr: usize) -> Option<ObjectReference> {
    // SAFETY: the address is only compared and looked up in mmtk's map.
    if !super::heap::in_heap_range(addr) || !unsafe { Address::from_usize(addr) }.is_mapped() {
        return None;
    }
    unsafe { object_containing_mapped(addr) }
}

/// The start of the object a live object's interior address is in: the
/// nearest valid-object bit at or below it is that object's (objects do
/// not overlap), so unlike [`object_containing_mapped`] the object's size
/// need not be read.
///
/// # Safety
/// `addr` must be inside a live object (not its header).
#[inline]
unsafe fn start_of_live_object(addr: usize) -> Option<ObjectReference> {
    match nearest_start(addr) {
        Some(start) => Some(ObjectReference::from_raw_address_unchecked(
            Address::from_usize(start),
        )),
        None => object_containing_mapped(addr),
    }
}

/// Whether `addr` is inside an object allocated since the last collection
/// (StickyImmix's young objects: their global log bit is clear, while
/// the objects a collection kept have it set, "unlogged", for mmtk's own
/// object barrier, which this binding does not use). False when unsure.
///
/// # Safety
/// `addr` must be inside a live object of the heap (a cell of it).
pub(super) unsafe fn in_young_object(addr: usize) -> bool {
    let Some(obj) = start_of_live_object(addr) else {
        return false;
    };
    let a = obj.to_raw_address().as_usize();
    match LOG_BASE.load(Ordering::Relaxed) {
        0 => !<Vm as mmtk::vm::VMBinding>::VMObjectModel::GLOBAL_LOG_BIT_SPEC
            .is_unlogged::<Vm>(obj, Ordering::Relaxed),
        log => table_word(log, a) >> ((a >> 3) & 63) & 1 == 0,
    }
}
